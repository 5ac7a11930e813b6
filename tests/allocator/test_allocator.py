"""The allocator on cases the Kubernetes table does not cover.

Each case states the rule it checks. Builders keep them close to the manifests they
stand for.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest

from builders import (
    allocated_claim,
    claim,
    device,
    device_class,
    distinct_attribute,
    first_available,
    match_attribute,
    node,
    request,
    slice_with_devices,
    subrequest,
)
from dra_core import (
    AllocationCancelled,
    AllocationInputError,
    AllocationTimeout,
    CELRuntimeError,
    InvalidPoolsError,
)
from dra_core.allocator import Allocator, SearchBudgetExceeded, engine_names, get_engine
from dra_core.allocator import allocate as _allocate
from dra_core.features import Features


def allocate(**kwargs: Any) -> Any:
    """dra_core.allocate, with every allocation checked by the validator (when present)."""
    results = _allocate(**kwargs)
    if results:
        check_with_validator(results, **kwargs)
    return results


def check_with_validator(results: Any, **kwargs: Any) -> None:
    try:
        from dra_core.allocator.validator import validate_allocation
    except ImportError:
        return
    from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice

    features = kwargs.get("features")
    violations = validate_allocation(
        results=results,
        node=Node.model_validate(kwargs["node"]),
        claims=[ResourceClaim.model_validate(c) for c in kwargs["claims"]],
        slices=[ResourceSlice.model_validate(s) for s in kwargs["slices"]],
        classes=[DeviceClass.model_validate(c) for c in kwargs["classes"]],
        allocated_claims=[
            ResourceClaim.model_validate(c) for c in kwargs.get("allocated_claims", ())
        ],
        features=features if isinstance(features, Features) else None,
    )
    assert not violations, violations


def devices_of(results: Any) -> list[list[str]]:
    return [[r.device for r in res.devices.results] for res in results]


def gpus(n: int, **attrs_per: Any) -> list[dict[str, Any]]:
    return [
        device(f"gpu-{i}", attributes={k: v[i] for k, v in attrs_per.items()}) for i in range(n)
    ]


# --- constraints ------------------------------------------------------------------


def test_distinct_attribute_is_pairwise_over_all_devices_of_a_request() -> None:
    # Kubernetes 1.36 remembers one value per request, so a,b,a passes there; every
    # device must be distinct from every other one.
    devs = gpus(4, numa=[0, 1, 0, 2])
    results = allocate(
        node=node(),
        claims=[claim("c", request(count=3), constraints=[distinct_attribute("driver-a/numa")])],
        slices=[slice_with_devices("s", *devs)],
        classes=[device_class()],
    )
    assert results is not None
    assert devices_of(results) == [["gpu-0", "gpu-1", "gpu-3"]]


def test_match_attribute_spans_requests_and_backtracks() -> None:
    devs = gpus(4, root=["a", "b", "b", "b"])
    results = allocate(
        node=node(),
        claims=[
            claim(
                "c",
                request("r0", count=1),
                request("r1", count=2),
                constraints=[match_attribute("driver-a/root")],
            )
        ],
        slices=[slice_with_devices("s", *devs)],
        classes=[device_class()],
    )
    assert results is not None
    # gpu-0 (a) leaves no other "a" for r1; gpu-1 (b) leaves gpu-2 and gpu-3.
    assert devices_of(results) == [["gpu-1", "gpu-2", "gpu-3"]]
    assert [r.request for r in results[0].devices.results] == ["r0", "r1", "r1"]


def test_match_attribute_scoped_to_a_subrequest() -> None:
    devs = gpus(3, root=["a", "b", "b"])
    results = allocate(
        node=node(),
        claims=[
            claim(
                "c",
                first_available("r0", subrequest("big", count=2), subrequest("small", count=1)),
                constraints=[match_attribute("driver-a/root", "r0/big")],
            )
        ],
        slices=[slice_with_devices("s", *devs)],
        classes=[device_class()],
    )
    assert results is not None
    assert devices_of(results) == [["gpu-1", "gpu-2"]]
    assert {r.request for r in results[0].devices.results} == {"r0/big"}


# --- selectors are evaluated lazily, as in Kubernetes ---------------------------------

BAD_SELECTOR = 'device.attributes["driver-a"].model == "x"'


def test_cel_error_on_a_later_device_is_not_reached() -> None:
    devs = [device("gpu-0", attributes={"model": "x"}), device("gpu-1")]
    results = allocate(
        node=node(),
        claims=[claim("c", request(selectors=(BAD_SELECTOR,)))],
        slices=[slice_with_devices("s", *devs)],
        classes=[device_class()],
    )
    assert results is not None
    assert devices_of(results) == [["gpu-0"]]


def test_cel_error_is_raised_with_the_kubernetes_prefix_when_reached() -> None:
    devs = [device("gpu-0")]
    with pytest.raises(CELRuntimeError) as info:
        allocate(
            node=node(),
            claims=[claim("c", request(selectors=(BAD_SELECTOR,)))],
            slices=[slice_with_devices("s", *devs)],
            classes=[device_class()],
        )
    assert str(info.value).startswith("claim default/c: selector #0: CEL runtime error")


def test_cel_error_on_a_device_in_use_is_never_evaluated() -> None:
    devs = [device("gpu-0"), device("gpu-1", attributes={"model": "x"})]
    results = allocate(
        node=node(),
        claims=[claim("c", request(selectors=(BAD_SELECTOR,)))],
        slices=[slice_with_devices("s", *devs)],
        classes=[device_class()],
        allocated_claims=[allocated_claim(("driver-a", "pool-1", "gpu-0"))],
    )
    assert results is not None
    assert devices_of(results) == [["gpu-1"]]


# --- counters -------------------------------------------------------------------------


def _counter_slices(driver: str) -> list[dict[str, Any]]:
    counters = slice_with_devices(
        f"{driver}-counters",
        driver=driver,
        pool="pool-1",
        node_name="node-1",
        slice_count=2,
        sharedCounters=[{"name": "gpu", "counters": {"memory": {"value": "8Gi"}}}],
    )
    counters["spec"].pop("devices")
    parts = slice_with_devices(
        f"{driver}-parts",
        *[
            device(
                f"part-{i}",
                consumesCounters=[{"counterSet": "gpu", "counters": {"memory": {"value": "8Gi"}}}],
            )
            for i in range(2)
        ],
        driver=driver,
        pool="pool-1",
        slice_count=2,
    )
    return [counters, parts]


def test_counters_of_two_drivers_with_the_same_pool_name_are_separate() -> None:
    # Kubernetes 1.36 keys counters by pool name only; dra-core by driver and pool.
    results = allocate(
        node=node(),
        claims=[claim("a", request(class_name="a")), claim("b", request(class_name="b"))],
        slices=_counter_slices("driver-a") + _counter_slices("driver-b"),
        classes=[
            device_class("a", 'device.driver == "driver-a"'),
            device_class("b", 'device.driver == "driver-b"'),
        ],
    )
    assert results is not None
    assert [r.devices.results[0].driver for r in results] == ["driver-a", "driver-b"]


def test_counters_used_up_by_an_allocated_device() -> None:
    results = allocate(
        node=node(),
        claims=[claim("a")],
        slices=_counter_slices("driver-a"),
        classes=[device_class()],
        allocated_claims=[allocated_claim(("driver-a", "pool-1", "part-0"))],
    )
    assert results is None


# --- consumable capacity ------------------------------------------------------------------


def _shared_nic(policy: dict[str, Any]) -> dict[str, Any]:
    return device(
        "nic-0",
        allowMultipleAllocations=True,
        capacity={"bandwidth": {"value": "10Gi", "requestPolicy": policy}},
    )


@pytest.mark.parametrize(
    ("policy", "asked", "consumed"),
    [
        ({"validRange": {"min": "1Gi", "step": "1Gi"}}, "1536Mi", "2Gi"),
        ({"validRange": {"min": "2Gi"}}, "1Gi", "2Gi"),
        ({"validValues": ["1Gi", "4Gi", "8Gi"]}, "3Gi", "4Gi"),
        ({"default": "3Gi", "validRange": {"min": "1Gi"}}, None, "3Gi"),
    ],
)
def test_capacity_request_is_rounded_by_the_policy(
    policy: dict[str, Any], asked: str | None, consumed: str
) -> None:
    req = request(capacity={"bandwidth": asked} if asked else None)
    results = allocate(
        node=node(),
        claims=[claim("c", req)],
        slices=[slice_with_devices("s", _shared_nic(policy))],
        classes=[device_class()],
    )
    assert results is not None
    result = results[0].devices.results[0]
    assert result.share_id
    assert str(result.consumed_capacity["bandwidth"]) == consumed


def test_shares_of_one_device_fit_its_capacity_together() -> None:
    policy = {"validRange": {"min": "1Gi", "step": "1Gi"}}
    claims = [claim(f"c{i}", request(capacity={"bandwidth": "4Gi"})) for i in range(3)]
    args: dict[str, Any] = dict(
        node=node(),
        slices=[slice_with_devices("s", _shared_nic(policy))],
        classes=[device_class()],
    )
    assert allocate(claims=claims[:2], **args) is not None
    assert allocate(claims=claims, **args) is None


def test_share_ids_are_deterministic_and_seedable() -> None:
    args: dict[str, Any] = dict(
        node=node(),
        claims=[claim("c", request())],
        slices=[slice_with_devices("s", _shared_nic({"validRange": {"min": "1Gi"}}))],
        classes=[device_class()],
    )
    first = allocate(**args)
    again = allocate(**args)
    seeded = allocate(share_id_seed="other", **args)
    assert first is not None and again is not None and seeded is not None
    share = first[0].devices.results[0].share_id
    assert share == again[0].devices.results[0].share_id
    assert share != seeded[0].devices.results[0].share_id


# --- node selection and node selectors in results ---------------------------------------


def test_network_attached_devices_combine_their_node_selectors() -> None:
    def selector(key: str, value: str) -> dict[str, Any]:
        return {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}]}
            ]
        }

    slices = [
        slice_with_devices(
            "s1", device("a"), pool="p1", node_name=None, nodeSelector=selector("zone", "z1")
        ),
        slice_with_devices(
            "s2", device("b"), pool="p2", node_name=None, nodeSelector=selector("rack", "r1")
        ),
    ]
    results = allocate(
        node=node(zone="z1", rack="r1"),
        claims=[claim("c", request(count=2))],
        slices=slices,
        classes=[device_class()],
    )
    assert results is not None
    selector_out = results[0].model_dump(by_alias=True, exclude_none=True)["nodeSelector"]
    keys = [e["key"] for e in selector_out["nodeSelectorTerms"][0]["matchExpressions"]]
    assert keys == ["zone", "rack"]
    assert (
        allocate(
            node=node(zone="z2", rack="r1"),
            claims=[claim("c", request(count=2))],
            slices=slices,
            classes=[device_class()],
        )
        is None
    )


def test_one_allocator_serves_many_nodes() -> None:
    allocator = Allocator(
        slices=[
            slice_with_devices("s1", device("a"), node_name="node-1"),
            slice_with_devices("s2", device("b"), pool="pool-2", node_name="node-2"),
        ],
        classes=[device_class()],
    )
    for name, expected in (("node-1", "a"), ("node-2", "b")):
        results = allocator.allocate(node(name), [claim("c")])
        assert results is not None
        assert devices_of(results) == [[expected]]
    assert allocator.allocate(node("node-3"), [claim("c")]) is None


# --- limits: timeout, cancellation, effort budget -----------------------------------------


def _hard_case() -> dict[str, Any]:
    # 12 devices in 6 matching pairs and 7 claims that each want a matching pair:
    # it does not fit, and a search has to try every way of handing out the pairs.
    devs = gpus(12, v=[i // 2 for i in range(12)])
    claims = [
        claim(f"c{i}", request(count=2), constraints=[match_attribute("driver-a/v")])
        for i in range(7)
    ]
    return dict(
        node=node(),
        claims=claims,
        slices=[slice_with_devices("s", *devs)],
        classes=[device_class()],
    )


def test_timeout_raises_a_timeout_error_not_does_not_fit() -> None:
    with pytest.raises(AllocationTimeout):
        allocate(timeout=0.0, **_hard_case())


def test_cancellation_raises_cancelled() -> None:
    case = _hard_case()
    allocator = Allocator(slices=case["slices"], classes=case["classes"])
    event = threading.Event()
    event.set()
    with pytest.raises(AllocationCancelled):
        allocator.allocate(case["node"], case["claims"], cancel=event)


def test_effort_budget_raises_its_own_error() -> None:
    case = _hard_case()
    allocator = Allocator(slices=case["slices"], classes=case["classes"])
    with pytest.raises(SearchBudgetExceeded):
        allocator.allocate(case["node"], case["claims"], engine="search", options={"max_steps": 50})


def test_counting_settles_an_impossible_request_without_search() -> None:
    case = _hard_case()
    case["claims"] = [claim("c", request(count=13))]
    allocator = Allocator(slices=case["slices"], classes=case["classes"])
    # One step is enough: the answer comes from counting candidates.
    assert allocator.allocate(case["node"], case["claims"], options={"max_steps": 1}) is None


# --- facade contract -----------------------------------------------------------------------


def test_inputs_are_not_mutated() -> None:
    case = _hard_case()
    case["claims"] = case["claims"][:2]
    pristine = copy.deepcopy(case)
    allocate(**case)
    assert case == pristine


def test_unknown_engine_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="search"):
        get_engine("no-such-engine")
    assert "search" in engine_names()


def test_unknown_class_error_is_located() -> None:
    with pytest.raises(AllocationInputError) as info:
        allocate(
            node=node(),
            claims=[claim("c", request(class_name="nope"))],
            slices=[],
            classes=[],
        )
    assert info.value.claim == "default/c"
    assert info.value.request == "req-0"
    assert "could not retrieve device class nope" in str(info.value)


def test_features_off_match_a_cluster_without_the_gate() -> None:
    with pytest.raises(AllocationInputError, match="DRAPrioritizedList feature is disabled"):
        allocate(
            node=node(),
            claims=[claim("c", first_available("r", subrequest("s")))],
            slices=[slice_with_devices("s", device("a"))],
            classes=[device_class()],
            features=Features(prioritized_list=False),
        )


def test_claim_config_naming_two_requests_appears_once() -> None:
    # Kubernetes 1.36 repeats such a config once per request it names.
    cfg = {"requests": ["r0", "r1"], "opaque": {"driver": "driver-a", "parameters": {"x": 1}}}
    results = allocate(
        node=node(),
        claims=[claim("c", request("r0"), request("r1"), config=[cfg])],
        slices=[slice_with_devices("s", device("a"), device("b"))],
        classes=[device_class()],
    )
    assert results is not None
    configs = results[0].devices.config
    assert [(c.source, c.requests) for c in configs] == [("FromClaim", ["r0", "r1"])]


def test_class_config_is_scoped_to_the_requests_of_that_class() -> None:
    results = allocate(
        node=node(),
        claims=[claim("c", request("r0"), request("r1", class_name="b"), request("r2"))],
        slices=[slice_with_devices("s", device("a"), device("b"), device("c"))],
        classes=[device_class(config=[{"k": "a"}]), device_class("b", config=[{"k": "b"}])],
    )
    assert results is not None
    configs = results[0].devices.config
    assert [(c.source, c.requests) for c in configs] == [
        ("FromClass", ["r0", "r2"]),
        ("FromClass", ["r1"]),
    ]


# --- more rules, each in one small case ------------------------------------------------------


def _shared_partition(name: str, memory: str) -> dict[str, Any]:
    return device(
        name,
        capacity={"memory": memory},
        allowMultipleAllocations=True,
        consumesCounters=[{"counterSet": "cs", "counters": {"memory": {"value": memory}}}],
    )


def test_shareable_partitions_pay_their_counters_once() -> None:
    # 8Gi of counters; device-1 (4Gi) is shared by req-0; req-1 prefers >= 6Gi
    # (device-2 would need 4+6 > 8) and falls back to >= 4Gi: device-1 is full
    # (its capacity is used by req-0), so device-3.
    parts = slice_with_devices(
        "slice-1",
        _shared_partition("device-1", "4Gi"),
        _shared_partition("device-2", "6Gi"),
        _shared_partition("device-3", "4Gi"),
        slice_count=2,
    )
    counters = slice_with_devices(
        "slice-2",
        slice_count=2,
        sharedCounters=[{"name": "cs", "counters": {"memory": {"value": "8Gi"}}}],
    )
    counters["spec"].pop("devices")

    def at_least(q: str) -> tuple[str, ...]:
        return (f'device.capacity["driver-a"].memory.compareTo(quantity("{q}")) >= 0',)

    results = allocate(
        node=node(),
        claims=[
            claim(
                "c",
                request("req-0"),
                first_available(
                    "req-1",
                    subrequest("big", selectors=at_least("6Gi")),
                    subrequest("small", selectors=at_least("4Gi")),
                ),
            )
        ],
        slices=[parts, counters],
        classes=[device_class("class-a", "device.allowMultipleAllocations == true")],
    )
    assert results is not None
    got = [
        (r.request, r.device, str(r.consumed_capacity["memory"]))
        for r in results[0].devices.results
    ]
    assert got == [("req-0", "device-1", "4Gi"), ("req-1/small", "device-3", "4Gi")]


def test_first_subrequest_over_the_claim_limit_falls_back() -> None:
    results = allocate(
        node=node(),
        claims=[
            claim(
                "c",
                first_available("r", subrequest("many", count=500), subrequest("one", count=1)),
            )
        ],
        slices=[slice_with_devices("s", device("a"))],
        classes=[device_class()],
    )
    assert results is not None
    assert [r.request for r in results[0].devices.results] == ["r/one"]


def test_admin_access_claims_may_share_a_device() -> None:
    claims = [claim(f"c{i}", request(admin_access=True)) for i in range(2)]
    results = allocate(
        node=node(),
        claims=claims,
        slices=[slice_with_devices("s", device("a"))],
        classes=[device_class()],
        allocated_claims=[allocated_claim(("driver-a", "pool-1", "a"))],
    )
    assert results is not None
    assert [[(r.device, r.admin_access) for r in res.devices.results] for res in results] == [
        [("a", True)],
        [("a", True)],
    ]


def test_untolerated_taints_hide_devices_and_none_effect_does_not() -> None:
    taint = [{"key": "k", "value": "v", "effect": "NoSchedule"}]
    harmless = [{"key": "k", "value": "v", "effect": "None"}]
    args: dict[str, Any] = dict(
        node=node(),
        slices=[slice_with_devices("s", device("a", taints=taint), device("b", taints=harmless))],
        classes=[device_class()],
    )
    results = allocate(claims=[claim("c")], **args)
    assert results is not None and devices_of(results) == [["b"]]
    assert allocate(claims=[claim("c", request(count=2))], **args) is None
    tolerate = [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}]
    results = allocate(claims=[claim("c", request(count=2, tolerations=tolerate))], **args)
    assert results is not None and devices_of(results) == [["a", "b"]]


def test_incomplete_pool_is_never_used_and_fails_all_mode() -> None:
    args: dict[str, Any] = dict(
        node=node(),
        slices=[slice_with_devices("s", device("a"), slice_count=2)],
        classes=[device_class()],
    )
    assert allocate(claims=[claim("c")], **args) is None
    with pytest.raises(AllocationInputError, match="is currently being updated"):
        allocate(claims=[claim("c", request(mode="All"))], **args)


def test_invalid_pool_is_an_error_only_when_nothing_fits() -> None:
    bad = slice_with_devices("bad", device("x"), device("x"), pool="bad")
    good = slice_with_devices("good", device("y"), pool="good")
    args: dict[str, Any] = dict(node=node(), classes=[device_class()])
    results = allocate(claims=[claim("c")], slices=[bad, good], **args)
    assert results is not None and devices_of(results) == [["y"]]
    with pytest.raises(InvalidPoolsError, match="invalid resource pools were encountered") as info:
        allocate(claims=[claim("c")], slices=[bad], **args)
    assert info.value.pools == {"driver-a/bad": "duplicate device name x"}


def test_no_claims_allocate_to_an_empty_list() -> None:
    assert allocate(node=node(), claims=[], slices=[], classes=[]) == []


def test_cancellation_is_noticed_while_selectors_are_evaluated() -> None:
    calls = 0

    def cancelled() -> bool:
        nonlocal calls
        calls += 1
        return calls > 1  # the check before building passes, the next one stops

    allocator = Allocator(
        slices=[slice_with_devices("s", *(device(f"d{i}") for i in range(130)))],
        classes=[device_class("class-a", 'device.driver == "driver-a"')],
    )
    with pytest.raises(AllocationCancelled):
        allocator.allocate(node(), [claim("c")], cancel=cancelled)
    assert calls == 2


def test_a_shared_device_in_use_does_not_pay_its_counters_twice() -> None:
    # The device's counters are used up by its existing share; another share of
    # the same device needs no more. (Kubernetes 1.36 charges them again when the
    # existing share recorded no consumed capacity.)
    part = device(
        "part",
        allowMultipleAllocations=True,
        consumesCounters=[{"counterSet": "cs", "counters": {"mem": {"value": "4"}}}],
    )
    counters = slice_with_devices(
        "counters",
        slice_count=2,
        sharedCounters=[{"name": "cs", "counters": {"mem": {"value": "4"}}}],
    )
    counters["spec"].pop("devices")
    in_use = allocated_claim(("driver-a", "pool-1", "part"))
    in_use["status"]["allocation"]["devices"]["results"][0]["shareID"] = "existing"
    results = allocate(
        node=node(),
        claims=[claim("c")],
        slices=[slice_with_devices("parts", part, slice_count=2), counters],
        classes=[device_class()],
        allocated_claims=[in_use],
    )
    assert results is not None
    assert devices_of(results) == [["part"]]
