"""place_gang and explain_gang: group constraints, policies, pinned members, errors."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from gang_helpers import check_placement, snapshot

from dra_core.cluster import Cluster
from dra_core.cluster._gang import GANG_POLICIES, GangPlacement, explain_gang, place_gang
from dra_core.errors import AllocationCancelled, AllocationInputError, AllocationTimeout

DRIVER = "gpu.example.com"


def gpu_class() -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": "gpu"},
        "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{DRIVER}"'}}]},
    }


def gpu_node(name: str, gpus: int, *, rack: str = "r0", clique: str = "a") -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"rack": rack}}},
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": f"{name}-gpus"},
            "spec": {
                "driver": DRIVER,
                "nodeName": name,
                "pool": {"name": name, "generation": 1, "resourceSliceCount": 1},
                "devices": [
                    {"name": f"gpu-{d}", "attributes": {"clique": {"string": clique}}}
                    for d in range(gpus)
                ],
            },
        },
    ]


def in_use(node: str, device: str) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": f"in-use-{node}-{device}", "namespace": "default"},
        "spec": {"devices": {"requests": [{"name": "r", "exactly": {"deviceClassName": "gpu"}}]}},
        "status": {
            "allocation": {
                "devices": {
                    "results": [{"request": "r", "driver": DRIVER, "pool": node, "device": device}]
                },
                "nodeSelector": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": [node]}
                            ]
                        }
                    ]
                },
            }
        },
    }


def gpus(name: str, count: int = 1, class_name: str = "gpu") -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "devices": {
                "requests": [
                    {"name": "gpus", "exactly": {"deviceClassName": class_name, "count": count}}
                ]
            }
        },
    }


def gang(members: int, count: int = 1) -> list[list[dict[str, Any]]]:
    return [[gpus(f"pod-{m}-gpus", count)] for m in range(members)]


def test_same_rack_uses_the_rack_with_room() -> None:
    cluster = Cluster(
        [
            gpu_class(),
            *gpu_node("a-0", 2, rack="r0"),
            *gpu_node("b-0", 2, rack="r1"),
            *gpu_node("b-1", 2, rack="r1"),
        ]
    )
    members = gang(3, 1)
    placement = place_gang(cluster, members, same_node_label="rack")
    assert placement is not None
    assert placement.label_value == "r1"
    assert set(placement.nodes) <= {"b-0", "b-1"}
    check_placement(cluster, members, placement, same_node_label="rack")


def test_same_rack_explains_which_rack_is_best() -> None:
    cluster = Cluster([gpu_class(), *gpu_node("a-0", 2, rack="r0"), *gpu_node("b-0", 2, rack="r1")])
    members = gang(3, 1)
    before = snapshot(cluster)
    assert place_gang(cluster, members, same_node_label="rack") is None
    assert snapshot(cluster) == before
    explanation = explain_gang(cluster, members, same_node_label="rack")
    assert not explanation.fits and explanation.placeable == 2
    text = explanation.describe()
    assert "same value of node label rack" in text
    assert "holds 2 of 3 members" in text
    assert "without that constraint 3 would fit" in text
    # Without the label the gang fits.
    assert place_gang(cluster, members) is not None


def test_nodes_without_the_label_are_not_used() -> None:
    node = gpu_node("n-0", 4)
    del node[0]["metadata"]["labels"]["rack"]
    cluster = Cluster([gpu_class(), *node])
    assert place_gang(cluster, gang(2), same_node_label="rack") is None
    assert place_gang(cluster, gang(2)) is not None


def test_same_device_attribute_across_nodes() -> None:
    cluster = Cluster(
        [
            gpu_class(),
            *gpu_node("n-0", 2, clique="a"),
            *gpu_node("n-1", 2, clique="b"),
            *gpu_node("n-2", 2, clique="b"),
        ]
    )
    members = gang(2, 2)
    placement = place_gang(
        cluster, members, same_device_attribute=f"{DRIVER}/clique", policy="spread"
    )
    assert placement is not None
    assert placement.attribute_value == "b"
    assert set(placement.nodes) == {"n-1", "n-2"}
    check_placement(cluster, members, placement)
    # Three members of two GPUs: no clique has room.
    three = gang(3, 2)
    assert place_gang(cluster, three, same_device_attribute=f"{DRIVER}/clique") is None
    text = explain_gang(cluster, three, same_device_attribute=f"{DRIVER}/clique").describe()
    assert "same value of attribute gpu.example.com/clique" in text
    assert place_gang(cluster, three) is not None


def test_pack_uses_fewest_nodes_and_spread_the_most() -> None:
    cluster = Cluster([gpu_class(), *gpu_node("n-0", 2), *gpu_node("n-1", 2)])
    members = gang(2)
    packed = place_gang(cluster, members)
    assert packed is not None and packed.policy == "pack"
    assert packed.nodes[0] == packed.nodes[1]
    spread = place_gang(cluster, members, policy="spread")
    assert spread is not None
    assert spread.nodes[0] != spread.nodes[1]
    for placement in (packed, spread):
        check_placement(cluster, members, placement)


def test_pack_prefers_nodes_in_use_and_spread_idle_ones() -> None:
    cluster = Cluster(
        [gpu_class(), *gpu_node("idle", 2), *gpu_node("busy", 3), in_use("busy", "gpu-0")]
    )
    assert place_gang(cluster, gang(2)).nodes == ("busy", "busy")  # type: ignore[union-attr]
    assert place_gang(cluster, gang(1), policy="spread").nodes == ("idle",)  # type: ignore[union-attr]


def test_a_member_with_an_allocated_claim_goes_where_its_devices_are() -> None:
    cluster = Cluster([gpu_class(), *gpu_node("n-0", 2), *gpu_node("n-1", 2)])
    pinned = in_use("n-1", "gpu-1")
    members = [[gpus("pod-0-gpus")], [pinned, gpus("pod-1-gpus")]]
    placement = place_gang(cluster, members, policy="spread")
    assert placement is not None
    assert placement.nodes[1] == "n-1"
    allocation = placement.allocations[1]
    assert allocation is not None
    assert allocation[0] == cluster_allocation(pinned)
    assert allocation[1].devices.results[0].device == "gpu-0"  # gpu-1 is the pinned claim's


def cluster_allocation(claim: dict[str, Any]) -> Any:
    import dra_core

    return dra_core.load(claim)[0].status.allocation


def test_pools_shared_by_nodes_are_not_used_twice() -> None:
    # One network device that every node sees: only one member can have it.
    network = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": "fabric"},
        "spec": {
            "driver": DRIVER,
            "allNodes": True,
            "pool": {"name": "fabric", "generation": 1, "resourceSliceCount": 1},
            "devices": [{"name": "nic-0", "attributes": {"clique": {"string": "net"}}}],
        },
    }
    net = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": "nic"},
        "spec": {
            "selectors": [{"cel": {"expression": f'device.attributes["{DRIVER}"].clique == "net"'}}]
        },
    }
    cluster = Cluster([gpu_class(), net, network, *gpu_node("n-0", 0), *gpu_node("n-1", 0)])
    members = [[gpus(f"pod-{m}-nic", 1, "nic")] for m in range(2)]
    before = snapshot(cluster)
    assert place_gang(cluster, members, policy="spread") is None
    assert snapshot(cluster) == before
    one = place_gang(cluster, members, min_count=1, policy="spread")
    assert one is not None and one.placed == 1
    check_placement(cluster, members, one, min_count=1)


def test_cluster_is_unchanged_when_the_gang_fits_too() -> None:
    cluster = Cluster([gpu_class(), *gpu_node("n-0", 4), in_use("n-0", "gpu-2")])
    before = snapshot(cluster)
    placement = place_gang(cluster, gang(3))
    assert placement is not None
    assert snapshot(cluster) == before
    assert cluster.filter([gpus("other", 3)]).feasible == ("n-0",)


def test_empty_gang_and_min_count_zero() -> None:
    cluster = Cluster([gpu_class(), *gpu_node("n-0", 1)])
    empty = place_gang(cluster, [])
    assert isinstance(empty, GangPlacement) and empty.nodes == () and empty.placed == 0
    none = place_gang(cluster, gang(2, 2), min_count=0)
    assert none is not None and none.nodes == (None, None)


def test_errors() -> None:
    cluster = Cluster([gpu_class(), *gpu_node("n-0", 2)])
    with pytest.raises(ValueError, match="unknown gang policy"):
        place_gang(cluster, gang(1), policy="first-fit")
    with pytest.raises(ValueError, match="min_count"):
        place_gang(cluster, gang(1), min_count=2)
    with pytest.raises(ValueError, match="fully qualified"):
        place_gang(cluster, gang(1), same_device_attribute="clique")
    with pytest.raises(AllocationInputError, match="device class missing"):
        place_gang(cluster, [[gpus("c", 1, "missing")]])
    with pytest.raises(AllocationTimeout):
        place_gang(cluster, gang(1), timeout=0)
    flag = threading.Event()
    flag.set()
    with pytest.raises(AllocationCancelled):
        place_gang(cluster, gang(1), cancel=flag)
    assert GANG_POLICIES == ("pack", "spread")


def test_a_member_that_fits_nowhere_is_named_with_the_filter_message() -> None:
    cluster = Cluster([gpu_class(), *gpu_node("n-0", 2), *gpu_node("n-1", 2)])
    members = [[gpus("small")], [gpus("big", 3)]]
    explanation = explain_gang(cluster, members)
    assert not explanation.fits
    assert explanation.left_out == (1,)
    assert (
        "member 1 cannot be placed on any node: "
        "0/2 nodes are available: 2 cannot allocate all claims." in explanation.reasons
    )
    fits = explain_gang(cluster, members, min_count=1)
    assert fits.fits and fits.placeable == 1


def test_device_attribute_that_no_free_device_has() -> None:
    # Found by the property test: every device in use, so no value of the attribute is
    # left to try; the gang does not fit and the explanation still says why.
    cluster = Cluster([gpu_class(), *gpu_node("n-0", 1), in_use("n-0", "gpu-0")])
    attribute = f"{DRIVER}/clique"
    assert place_gang(cluster, gang(1), same_device_attribute=attribute) is None
    explanation = explain_gang(cluster, gang(1), same_device_attribute=attribute)
    assert not explanation.fits
    assert explanation.reasons[0].startswith("member 0 cannot be placed on any node")
    empty = place_gang(cluster, gang(1), same_device_attribute=attribute, min_count=0)
    assert empty is not None and empty.attribute_value is None


def test_devices_run_out() -> None:
    cluster = Cluster([gpu_class(), *gpu_node("n-0", 2, rack="r0"), *gpu_node("n-1", 2, rack="r1")])
    members = gang(3, 2)
    explanation = explain_gang(cluster, members, same_node_label="rack")
    assert explanation.placeable == 1 and explanation.left_out == (1, 2)
    assert explanation.reasons == (
        "all members must be on nodes with the same value of node label rack: the best value "
        "('r0') holds 1 of 3 members; without that constraint 2 would fit",
        "member 2 cannot be placed together with members 0, 1: the 2 node(s) where such a member "
        "fits hold at most 1 of them each (on node n-0, 2 of them need more devices than its "
        "free devices)",
    )


def partitioned_node(name: str, gpus: int) -> list[dict[str, Any]]:
    """Each GPU: a whole device or two halves, through its own counter set."""
    pool = {"name": name, "generation": 1, "resourceSliceCount": 2}
    devices = []
    for g in range(gpus):
        for part, widgets in (("whole", 2), ("half-0", 1), ("half-1", 1)):
            devices.append(
                {
                    "name": f"gpu-{g}-{part}",
                    "attributes": {"size": {"string": part.split("-")[0]}},
                    "consumesCounters": [
                        {"counterSet": f"gpu-{g}", "counters": {"w": {"value": str(widgets)}}}
                    ],
                }
            )
    return [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}},
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": f"{name}-counters"},
            "spec": {
                "driver": DRIVER,
                "nodeName": name,
                "pool": pool,
                "sharedCounters": [
                    {"name": f"gpu-{g}", "counters": {"w": {"value": "2"}}} for g in range(gpus)
                ],
            },
        },
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": f"{name}-devices"},
            "spec": {"driver": DRIVER, "nodeName": name, "pool": pool, "devices": devices},
        },
    ]


def half(name: str) -> dict[str, Any]:
    claim = gpus(name)
    claim["spec"]["devices"]["requests"][0]["exactly"]["selectors"] = [
        {"cel": {"expression": f'device.attributes["{DRIVER}"].size == "half"'}}
    ]
    return claim


def test_pack_fills_a_partly_used_gpu_first() -> None:
    # gpu-1 has one half in use: packing puts the new half next to it and keeps gpu-0
    # whole (first fit, Kubernetes' order, would split gpu-0).
    cluster = Cluster([gpu_class(), *partitioned_node("n-0", 2), in_use("n-0", "gpu-1-half-0")])
    members = [[half("pod-0-half")]]
    packed = place_gang(cluster, members)
    assert packed is not None and packed.allocations[0] is not None
    assert packed.allocations[0][0].devices.results[0].device == "gpu-1-half-1"
    check_placement(cluster, members, packed)
    first_fit = cluster.filter([half("pod-0-half")]).allocation("n-0")
    assert first_fit[0].devices.results[0].device == "gpu-0-half-0"


def test_members_sharing_a_claim_go_to_one_node_and_share_its_devices() -> None:
    # A pod group's claim (KEP-5729): one GPU for both pods, plus one GPU each.
    cluster = Cluster([gpu_class(), *gpu_node("n-0", 2), *gpu_node("n-1", 3)])
    shared = gpus("group-gpu")
    members = [[shared, gpus("pod-0-gpu")], [shared, gpus("pod-1-gpu")]]
    placement = place_gang(cluster, members, policy="spread")
    assert placement is not None
    assert placement.nodes == ("n-1", "n-1")  # n-0 has two GPUs, the pair needs three
    first, second = placement.allocations
    assert first is not None and second is not None
    assert first[0] == second[0]  # the same allocation of the shared claim
    devices = {r.devices.results[0].device for r in (*first, second[1])}
    assert len(devices) == 3
    claims = placement.allocated_claims()
    assert [c.metadata.name for c in claims] == ["group-gpu", "pod-0-gpu", "pod-1-gpu"]
    check_placement(cluster, members, placement)
    # Three pods around one claim need four GPUs on one node: no node has them.
    three = [*members, [shared, gpus("pod-2-gpu")]]
    assert place_gang(cluster, three) is None
    # Two of them fit: the claim is allocated once, the third pod is left out (as
    # kube-scheduler would leave it Pending next to the two that share the claim).
    two_of_three = place_gang(cluster, three, min_count=2)
    assert two_of_three is not None
    assert two_of_three.nodes == ("n-1", "n-1", None)
    check_placement(cluster, three, two_of_three, min_count=2)


class OnePodPerNode:
    """A NodeFit: room for one pod per node (``pods`` allocatable 1), nothing else."""

    def member_key(self, member: int) -> Any:
        return None

    def node_key(self, node: str) -> Any:
        return None

    def reasons(self, node: str, members: Any) -> list[str]:
        return ["Too many pods"] if len(members) > 1 else []


@pytest.mark.parametrize("shared_pool", [False, True], ids=["node-local", "pool-shared-by-nodes"])
def test_node_fit_is_checked_for_the_members_of_a_node_together(shared_pool: bool) -> None:
    objects = [gpu_class(), *gpu_node("n-0", 2), *gpu_node("n-1", 2)]
    if shared_pool:  # the master's answer, or the exact search: both must honour it
        objects.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": "fabric"},
                "spec": {
                    "driver": DRIVER,
                    "allNodes": True,
                    "pool": {"name": "fabric", "generation": 1, "resourceSliceCount": 1},
                    "devices": [{"name": "nic-0"}],
                },
            }
        )
    cluster = Cluster(objects)
    members = gang(2)
    placement = place_gang(cluster, members, node_fit=OnePodPerNode())
    assert placement is not None and sorted(placement.nodes) == ["n-0", "n-1"]  # type: ignore[type-var]
    check_placement(cluster, members, placement)
    assert place_gang(cluster, gang(3), node_fit=OnePodPerNode()) is None
    why = explain_gang(cluster, gang(3), node_fit=OnePodPerNode())
    assert not why.fits and why.placeable == 2
    assert why.reasons
    if not shared_pool:  # the master's explanation names what runs out on a full node
        assert any("Too many pods" in r for r in why.reasons)
    # The Cluster's methods take it too (the entry point).
    assert cluster.place_gang(gang(3), node_fit=OnePodPerNode()) is None
    assert cluster.explain_gang(gang(3), node_fit=OnePodPerNode()).placeable == 2
