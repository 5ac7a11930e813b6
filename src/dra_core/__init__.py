"""dra-core: Kubernetes Dynamic Resource Allocation as a pure-Python library.

This module is the public facade: it only re-exports. Everything else is private
until someone outside needs it.
"""

from dra_core.allocator import Allocator, allocate
from dra_core.allocator.cpsat import ScoredAllocation, allocate_scored
from dra_core.allocator.explain import Explanation, explain
from dra_core.api import Quantity
from dra_core.cel import CelDevice, SelectorProgram, compile_selector
from dra_core.cluster import Cluster, FilterView
from dra_core.cluster._capacity import (
    CapacityAmount,
    CapacityReport,
    CapacityRow,
    Demand,
    DemandAlternative,
    DemandClaim,
    DemandRequest,
    HowMany,
    demand,
)
from dra_core.cluster._gang import (
    GangExplanation,
    GangPlacement,
    GangPolicy,
    explain_gang,
    gang_policy_for_pod,
    place_gang,
    read_gang_policies,
)
from dra_core.errors import (
    AllocationAborted,
    AllocationCancelled,
    AllocationInputError,
    AllocationTimeout,
    CELCompileError,
    CELError,
    CELRuntimeError,
    ClusterError,
    DraCoreError,
    InputError,
    InvalidPoolsError,
    ManifestError,
    ManifestValidationError,
    ObjectNotFoundError,
    QuantityError,
    ReservationError,
    StaleViewError,
)
from dra_core.extender import (
    Extender,
    ExtenderArgs,
    ExtenderBindingArgs,
    ExtenderBindingResult,
    ExtenderFilterResult,
    ExtenderPreemptionArgs,
    ExtenderPreemptionResult,
    HostPriority,
    HostPriorityList,
    MetaPod,
    MetaVictims,
    Victims,
)
from dra_core.features import Features
from dra_core.io import dump_json, dump_yaml, load, load_report
from dra_core.sim import Simulator
from dra_core.state import AllocatedState, DeviceID, SharedDeviceID
from dra_core.taintrules import apply_taint_rules

__version__ = "0.1.0"

__all__ = [
    "AllocatedState",
    "AllocationAborted",
    "AllocationCancelled",
    "AllocationInputError",
    "AllocationTimeout",
    "Allocator",
    "CELCompileError",
    "CELError",
    "CELRuntimeError",
    "CapacityAmount",
    "CapacityReport",
    "CapacityRow",
    "CelDevice",
    "Cluster",
    "ClusterError",
    "Demand",
    "DemandAlternative",
    "DemandClaim",
    "DemandRequest",
    "DeviceID",
    "DraCoreError",
    "Explanation",
    "Extender",
    "ExtenderArgs",
    "ExtenderBindingArgs",
    "ExtenderBindingResult",
    "ExtenderFilterResult",
    "ExtenderPreemptionArgs",
    "ExtenderPreemptionResult",
    "Features",
    "FilterView",
    "GangExplanation",
    "GangPlacement",
    "GangPolicy",
    "HostPriority",
    "HostPriorityList",
    "HowMany",
    "InputError",
    "InvalidPoolsError",
    "ManifestError",
    "ManifestValidationError",
    "MetaPod",
    "MetaVictims",
    "ObjectNotFoundError",
    "Quantity",
    "QuantityError",
    "ReservationError",
    "ScoredAllocation",
    "SelectorProgram",
    "SharedDeviceID",
    "Simulator",
    "StaleViewError",
    "Victims",
    "__version__",
    "allocate",
    "allocate_scored",
    "apply_taint_rules",
    "compile_selector",
    "demand",
    "dump_json",
    "dump_yaml",
    "explain",
    "explain_gang",
    "gang_policy_for_pod",
    "load",
    "load_report",
    "place_gang",
    "read_gang_policies",
]
