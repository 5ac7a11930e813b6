"""dra-core: Kubernetes Dynamic Resource Allocation as a pure-Python library.

This module is the public facade: it only re-exports. Everything else is private
until someone outside needs it.

Start-up: what an allocation needs (the allocator, the models, CEL, the errors and the
state types) is imported with the package; the rest (CP-SAT and ``explain``, the
Cluster, capacity and gangs, manifest loading, the simulator and the extender) is
imported on first access of one of its names (PEP 562, :func:`__getattr__` below), so
that ``import dra_core`` does not pay for stacks a process may never use. Every name of
``__all__`` is importable either way (``from dra_core import Simulator``); type checkers
read the ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from dra_core.allocator import Allocator, allocate
from dra_core.api import Quantity
from dra_core.cel import CelDevice, SelectorProgram, compile_selector
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
from dra_core.features import Features
from dra_core.state import AllocatedState, DeviceID, SharedDeviceID

if TYPE_CHECKING:
    from dra_core.allocator.cpsat import ScoredAllocation, allocate_scored
    from dra_core.allocator.explain import Explanation, explain
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
    from dra_core.io import dump_json, dump_yaml, load, load_report
    from dra_core.sim import Simulator
    from dra_core.taintrules import apply_taint_rules

# The names imported on first access: module -> names. Keep in step with the
# TYPE_CHECKING imports above (tests/test_lazy_imports.py checks that every name of
# __all__ resolves, and that the modules below are not imported by ``import dra_core``).
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "dra_core.allocator.cpsat": ("ScoredAllocation", "allocate_scored"),
    "dra_core.allocator.explain": ("Explanation", "explain"),
    "dra_core.cluster": ("Cluster", "FilterView"),
    "dra_core.cluster._capacity": (
        "CapacityAmount",
        "CapacityReport",
        "CapacityRow",
        "Demand",
        "DemandAlternative",
        "DemandClaim",
        "DemandRequest",
        "HowMany",
        "demand",
    ),
    "dra_core.cluster._gang": (
        "GangExplanation",
        "GangPlacement",
        "GangPolicy",
        "explain_gang",
        "gang_policy_for_pod",
        "place_gang",
        "read_gang_policies",
    ),
    "dra_core.extender": (
        "Extender",
        "ExtenderArgs",
        "ExtenderBindingArgs",
        "ExtenderBindingResult",
        "ExtenderFilterResult",
        "ExtenderPreemptionArgs",
        "ExtenderPreemptionResult",
        "HostPriority",
        "HostPriorityList",
        "MetaPod",
        "MetaVictims",
        "Victims",
    ),
    "dra_core.io": ("dump_json", "dump_yaml", "load", "load_report"),
    "dra_core.sim": ("Simulator",),
    "dra_core.taintrules": ("apply_taint_rules",),
}
_LAZY: dict[str, str] = {name: module for module, names in _LAZY_MODULES.items() for name in names}
# Submodules that ``import dra_core`` used to import, still reachable as attributes
# (``dra_core.sim.Simulator`` after a plain ``import dra_core``).
_SUBMODULES = frozenset({"cluster", "extender", "io", "sim", "taintrules"})


def _load_lazy(name: str) -> object:
    """Import the module that defines ``name``, remember the name here, return it."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")  # sets the attribute
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain module attribute
    return value


if not TYPE_CHECKING:
    # Only at run time: for a type checker, a module __getattr__ would make every
    # misspelt name an attribute. It sees the TYPE_CHECKING imports instead.
    def __getattr__(name: str) -> object:
        """Resolve a lazily imported name of the facade (PEP 562)."""
        return _load_lazy(name)


def __dir__() -> list[str]:
    """Return the module's attributes, the names not imported yet included."""
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


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
