"""The Cluster's contract: events, bad input, reserve/unreserve, views, forks, threads."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest

import dra_core
from dra_core import (
    AllocationCancelled,
    AllocationInputError,
    CELCompileError,
    Cluster,
    ManifestError,
    ObjectNotFoundError,
    ReservationError,
    StaleViewError,
)
from dra_core.cluster import CANNOT_ALLOCATE, CLAIM_NOT_ON_NODE
from strategies import (
    CLUSTER_DRIVER,
    cluster_claim,
    cluster_classes,
    cluster_node,
    cluster_taint_rule,
)

ONE_GPU = {"devices": {"requests": [{"name": "r", "exactly": {"deviceClassName": "gpu"}}]}}


def gpu_slice(node: str, devices: int = 1, *, name: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": name or f"{node}-gpus"},
        "spec": {
            "driver": CLUSTER_DRIVER,
            "nodeName": node,
            "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
            "devices": [
                {"name": f"gpu-{i}", "attributes": {"model": {"string": "A"}}}
                for i in range(devices)
            ],
        },
    }


def two_nodes() -> Cluster:
    return Cluster(
        [
            cluster_node("node-0"),
            cluster_node("node-1"),
            *cluster_classes(),
            gpu_slice("node-0"),
            gpu_slice("node-1", 2),
        ]
    )


def _state(cluster: Cluster) -> Any:
    return (
        [dra_core.dump_json(o, indent=None) for o in cluster.objects()],
        sorted(map(str, cluster.allocated_state.devices_in_use())),
    )


def test_filter_reserve_unreserve_and_the_message() -> None:
    cluster = two_nodes()
    claim = cluster_claim("a", ONE_GPU)
    view = cluster.filter([claim])
    assert view.feasible == ("node-0", "node-1")
    assert view.message() == "2/2 nodes are available."
    allocated = cluster.reserve([claim], "node-0")
    assert allocated[0].status.allocation.devices.results[0].device == "gpu-0"
    assert cluster.get("ResourceClaim", "a", "default") == allocated[0]
    view = cluster.filter([cluster_claim("b", ONE_GPU)])
    assert view.feasible == ("node-1",)
    assert view.reasons == {"node-0": CANNOT_ALLOCATE}
    assert view.message() == "1/2 nodes are available: 1 cannot allocate all claims."
    cluster.unreserve(allocated)
    assert cluster.get("ResourceClaim", "a", "default") is None  # reserve added it
    assert cluster.filter([claim]).feasible == ("node-0", "node-1")


def test_an_allocated_claim_fits_only_where_its_devices_are() -> None:
    cluster = two_nodes()
    [allocated] = cluster.reserve([cluster_claim("shared", ONE_GPU)], "node-1")
    view = cluster.filter([allocated])
    assert view.feasible == ("node-1",)
    assert view.reasons == {"node-0": CLAIM_NOT_ON_NODE}
    assert view.unresolvable == frozenset({"node-0"})
    assert view.allocation("node-1") == [allocated.status.allocation]


def test_input_no_node_can_fix_is_raised_once() -> None:
    cluster = two_nodes()
    unknown = {"devices": {"requests": [{"name": "r", "exactly": {"deviceClassName": "nope"}}]}}
    not_found = r'deviceclass\.resource\.k8s\.io "nope" not found'
    with pytest.raises(AllocationInputError, match=not_found):
        cluster.filter([cluster_claim("a", unknown)])
    bad_cel = copy.deepcopy(ONE_GPU)
    bad_cel["devices"]["requests"][0]["exactly"]["selectors"] = [{"cel": {"expression": "1 +"}}]
    with pytest.raises(CELCompileError, match="claim default/a: selector #0"):
        cluster.filter([cluster_claim("a", bad_cel)])


def test_errors_of_one_node_are_its_reason() -> None:
    cluster = two_nodes()
    # node-1's pool becomes invalid: two slices of it publish gpu-0.
    cluster.apply(
        {
            **gpu_slice("node-1", 1, name="node-1-dup"),
            "spec": {
                **gpu_slice("node-1")["spec"],
                "pool": {"name": "node-1", "generation": 1, "resourceSliceCount": 2},
            },
        },
        {
            **gpu_slice("node-1", 1),
            "spec": {
                **gpu_slice("node-1")["spec"],
                "pool": {"name": "node-1", "generation": 1, "resourceSliceCount": 2},
            },
        },
    )
    cluster.reserve([cluster_claim("x", ONE_GPU)], "node-0")
    view = cluster.filter([cluster_claim("a", ONE_GPU)])
    assert view.feasible == ()
    assert view.reasons["node-0"] == CANNOT_ALLOCATE
    assert "invalid resource pools were encountered" in view.reasons["node-1"]
    assert "duplicate device name gpu-0" in view.reasons["node-1"]
    assert "node-1" in view.unresolvable


def test_bad_objects_leave_the_cluster_unchanged() -> None:
    cluster = two_nodes()
    before = _state(cluster)
    broken = gpu_slice("node-0", name="broken")
    broken["spec"]["devices"][0]["name"] = "Not A DNS Label!"
    with pytest.raises(ManifestError):
        cluster.apply(gpu_slice("node-2"), broken)  # the good one is not applied either
    with pytest.raises(ManifestError, match="a Cluster holds"):
        cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})
    with pytest.raises(ObjectNotFoundError, match="ResourceSlice nope not found"):
        cluster.delete(gpu_slice("node-0"), kind="ResourceSlice", name="nope")
    assert cluster.get("ResourceSlice", "node-0-gpus") is not None
    with pytest.raises(ObjectNotFoundError):
        cluster.unreserve([cluster_claim("never", ONE_GPU)])
    assert _state(cluster) == before


def test_reserving_twice_or_where_it_no_longer_fits_is_an_error() -> None:
    cluster = two_nodes()
    [allocated] = cluster.reserve([cluster_claim("a", ONE_GPU)], "node-0")
    before = _state(cluster)
    with pytest.raises(ReservationError, match="allocated already"):
        cluster.reserve([allocated], "node-0")
    with pytest.raises(ReservationError, match="allocated already"):
        cluster.reserve([cluster_claim("a", ONE_GPU)], "node-1")  # stored allocated
    with pytest.raises(ReservationError, match="cannot allocate all claims on node node-0"):
        cluster.reserve([cluster_claim("b", ONE_GPU)], "node-0")
    with pytest.raises(ReservationError, match='node "node-9" not found'):
        cluster.reserve([cluster_claim("b", ONE_GPU)], "node-9")
    assert _state(cluster) == before


def test_a_view_read_after_a_change_is_stale() -> None:
    cluster = two_nodes()
    claim = cluster_claim("a", ONE_GPU)
    view = cluster.filter([claim])
    cluster.apply(cluster_node("node-2"))
    with pytest.raises(StaleViewError):
        view.allocation("node-0")
    with pytest.raises(KeyError):
        cluster.filter([claim]).allocation("node-9")


def test_unknown_node_names_are_reasons() -> None:
    view = two_nodes().filter([cluster_claim("a", ONE_GPU)], nodes=["node-1", "ghost"])
    assert view.feasible == ("node-1",)
    assert view.reasons == {"ghost": 'node "ghost" not found'}


def test_taint_rules_are_applied_and_undone() -> None:
    cluster = two_nodes()
    claim = cluster_claim("a", ONE_GPU)
    cluster.apply(cluster_taint_rule("rule", "node-0"))
    assert cluster.filter([claim]).feasible == ("node-1",)
    tolerating = copy.deepcopy(ONE_GPU)
    tolerating["devices"]["requests"][0]["exactly"]["tolerations"] = [
        {"key": "k", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert cluster.filter([cluster_claim("t", tolerating)]).feasible == ("node-0", "node-1")
    cluster.delete(kind="DeviceTaintRule", name="rule")
    assert cluster.filter([claim]).feasible == ("node-0", "node-1")


def test_forks_do_not_see_each_other() -> None:
    cluster = two_nodes()
    fork = cluster.fork()
    fork.reserve([cluster_claim("a", ONE_GPU)], "node-0")
    cluster.apply(gpu_slice("node-0", 3))
    assert cluster.filter([cluster_claim("b", ONE_GPU)]).feasible == ("node-0", "node-1")
    assert fork.filter([cluster_claim("b", ONE_GPU)]).feasible == ("node-1",)
    assert len(fork.get("ResourceSlice", "node-0-gpus").spec.devices) == 1
    assert cluster.get("ResourceClaim", "a", "default") is None


def test_filter_honours_cancel() -> None:
    cluster = two_nodes()
    flag = threading.Event()
    flag.set()
    with pytest.raises(AllocationCancelled):
        cluster.filter([cluster_claim("a", ONE_GPU)], cancel=flag)


def test_readers_and_one_writer_in_threads() -> None:
    cluster = two_nodes()
    claim = cluster_claim("r", ONE_GPU)
    seen: list[tuple[str, ...]] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(50):
                seen.append(cluster.filter([claim]).feasible)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    def write() -> None:
        for i in range(50):
            held = cluster.reserve([cluster_claim(f"w{i}", ONE_GPU)], "node-0")
            cluster.unreserve(held)

    threads = [threading.Thread(target=read) for _ in range(3)] + [threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # Every answer is one of the two states the writer moves between, never a mix.
    assert set(seen) <= {("node-0", "node-1"), ("node-1",)}
    assert cluster.filter([claim]).feasible == ("node-0", "node-1")


def test_inputs_are_not_mutated() -> None:
    objects = [cluster_node("node-0"), *cluster_classes(), gpu_slice("node-0")]
    claim = cluster_claim("a", ONE_GPU)
    pristine = copy.deepcopy((objects, claim))
    cluster = Cluster(objects)
    cluster.filter([claim])
    cluster.reserve([claim], "node-0")
    assert (objects, claim) == pristine


def _two_model_slice(node: str) -> dict[str, Any]:
    slice_doc = gpu_slice(node, 2)
    slice_doc["spec"]["devices"][0]["attributes"] = {"model": {"string": "A"}, "root": {"int": 0}}
    slice_doc["spec"]["devices"][1]["attributes"] = {"model": {"string": "B"}, "root": {"int": 1}}
    return slice_doc


def _held(cluster: Cluster, node: str, device: str) -> None:
    claim = cluster_claim(f"held-{node}", ONE_GPU)
    claim["status"] = {
        "allocation": {
            "devices": {
                "results": [
                    {"request": "r", "driver": CLUSTER_DRIVER, "pool": node, "device": device}
                ]
            }
        }
    }
    cluster.apply(claim)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # gpu-a selects model A: free on node-1 only.
        ({"devices": {"requests": [{"name": "r", "exactly": {"deviceClassName": "gpu-a"}}]}}, 1),
        # any GPU: one is free on both nodes.
        (ONE_GPU, 2),
        # two devices on the same root: never (roots differ), whatever is free.
        (
            {
                "devices": {
                    "requests": [
                        {"name": "r", "exactly": {"deviceClassName": "gpu"}},
                        {"name": "s", "exactly": {"deviceClassName": "gpu"}},
                    ],
                    "constraints": [{"matchAttribute": f"{CLUSTER_DRIVER}/root"}],
                }
            },
            0,
        ),
    ],
)
def test_nodes_alike_but_for_which_device_is_in_use(spec: dict[str, Any], expected: int) -> None:
    # Equal slices; node-0 uses its model A device, node-1 its model B device. Whatever the
    # cache already knows, each node's answer is its own.
    cluster = Cluster([cluster_node("node-0"), cluster_node("node-1"), *cluster_classes()])
    cluster.apply(_two_model_slice("node-0"), _two_model_slice("node-1"))
    _held(cluster, "node-0", "gpu-0")
    _held(cluster, "node-1", "gpu-1")
    for _ in range(2):  # cold, then from the memo
        view = cluster.filter([cluster_claim("a", spec)])
        assert len(view.feasible) == expected
        if expected == 1:
            assert view.feasible == ("node-1",)


def test_constraints_tell_devices_apart_by_attribute() -> None:
    # Three equal-looking devices but for their root; node-0 uses the root-1 device, node-1
    # a root-0 one. Two devices on one root fit on node-0 only.
    def three(node: str) -> dict[str, Any]:
        doc = gpu_slice(node, 3)
        for i, root in enumerate([0, 0, 1]):
            doc["spec"]["devices"][i]["attributes"] = {"root": {"int": root}}
        return doc

    cluster = Cluster([cluster_node("node-0"), cluster_node("node-1"), *cluster_classes()])
    cluster.apply(three("node-0"), three("node-1"))
    _held(cluster, "node-0", "gpu-2")
    _held(cluster, "node-1", "gpu-0")
    pair = {
        "devices": {
            "requests": [
                {"name": "r", "exactly": {"deviceClassName": "gpu"}},
                {"name": "s", "exactly": {"deviceClassName": "gpu"}},
            ],
            "constraints": [{"matchAttribute": f"{CLUSTER_DRIVER}/root"}],
        }
    }
    for _ in range(2):
        assert cluster.filter([cluster_claim("a", pair)]).feasible == ("node-0",)


def test_accounting_methods_answer_as_the_capacity_module() -> None:
    from dra_core.cluster._capacity import capacity, how_many

    cluster = two_nodes()
    cluster.reserve([cluster_claim("a", ONE_GPU)], "node-1")
    assert cluster.capacity() == capacity(cluster)
    assert [(r.node, r.key, r.free) for r in cluster.capacity().rows] == [
        ("node-0", "gpu", 1),
        ("node-0", "gpu-a", 1),
        ("node-1", "gpu", 1),
        ("node-1", "gpu-a", 1),
    ]
    pod_claims = [cluster_claim("p", ONE_GPU)]
    assert cluster.how_many(pod_claims).count == how_many(cluster, pod_claims).count == 2
    before = _state(cluster)
    cluster.how_many(pod_claims, policy="max")
    assert _state(cluster) == before
