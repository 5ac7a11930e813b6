import dra_core


def test_all_is_sorted_and_unique() -> None:
    names = [n for n in dra_core.__all__ if n != "__version__"]
    assert names == sorted(names)
    assert len(set(dra_core.__all__)) == len(dra_core.__all__)


def test_every_export_exists_and_is_documented() -> None:
    for name in dra_core.__all__:
        member = getattr(dra_core, name)
        if name != "__version__":
            assert member.__doc__, f"{name} has no docstring"


def test_features_roundtrip() -> None:
    f = dra_core.Features.from_mapping({"adminAccess": False, "DRADeviceTaints": False})
    assert not f.admin_access and not f.device_taints and f.prioritized_list
    assert dra_core.Features.from_mapping(f.to_mapping()) == f


# The public API, as a snapshot: adding or removing a name is a deliberate change that
# updates this list in the same commit.
PUBLIC_API = [
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


def test_public_api_snapshot() -> None:
    assert dra_core.__all__ == PUBLIC_API


def test_errors_subclass_the_builtins_they_are() -> None:
    assert issubclass(dra_core.InputError, ValueError)
    assert issubclass(dra_core.AllocationTimeout, TimeoutError)
    assert not issubclass(dra_core.AllocationAborted, dra_core.InputError)
