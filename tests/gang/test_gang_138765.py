"""kubernetes/kubernetes#138765: a gang that fits only with half a GPU each.

One physical GPU is published as a partitionable device: one ``whole`` device that uses
both widgets of a shared counter, or two ``half`` devices that use one each. Each pod's
claim prefers the whole GPU and accepts half of one (``firstAvailable``). kube-scheduler
places the gang's pods one by one: the first pod takes the whole GPU, the second finds
nothing and the gang stays below ``minCount`` (the reproducer of kubernetes#140097 has the
same shape). Placed jointly, each pod gets one half.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from gang_helpers import check_placement, snapshot

from builders import HALF_GPU_DRIVER as DRIVER
from builders import half_gpu_objects, whole_or_half_spec
from dra_core.cluster import Cluster
from dra_core.cluster._gang import explain_gang, place_gang
from dra_core.errors import ReservationError


def scenario() -> list[dict[str, Any]]:
    return half_gpu_objects()


def pod_claim(pod: int) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": f"pod-{pod}-gpu", "namespace": "default"},
        "spec": whole_or_half_spec(),
    }


def test_one_by_one_fails_like_kube_scheduler() -> None:
    cluster = Cluster(scenario())
    # Pod 0 alone: the whole GPU (its first choice), as kube-scheduler would allocate it.
    view = cluster.filter([pod_claim(0)])
    assert view.feasible == ("node-1",)
    assert view.allocation("node-1")[0].devices.results[0].device == "whole"
    cluster.reserve([pod_claim(0)], "node-1")
    # Pod 1 then finds nothing: the gang stays below minCount.
    assert cluster.filter([pod_claim(1)]).message() == (
        "0/1 nodes are available: 1 cannot allocate all claims."
    )
    with pytest.raises(ReservationError):
        cluster.reserve([pod_claim(1)], "node-1")


def test_place_gang_gives_each_pod_half_a_gpu() -> None:
    cluster = Cluster(scenario())
    members = [[pod_claim(0)], [pod_claim(1)]]
    inputs = copy.deepcopy(members)
    before = snapshot(cluster)
    placement = place_gang(cluster, members)
    assert placement is not None
    assert members == inputs  # inputs are not mutated
    assert snapshot(cluster) == before  # placing does not change the cluster
    assert placement.nodes == ("node-1", "node-1")
    devices = sorted(a[0].devices.results[0].device for a in placement.allocations if a)
    assert devices == ["half-0", "half-1"]
    for allocation in placement.allocations:
        assert allocation is not None
        assert allocation[0].devices.results[0].request == "gpu/half"
    check_placement(cluster, members, placement)


def test_committing_the_placement_makes_both_devices_busy() -> None:
    cluster = Cluster(scenario())
    placement = place_gang(cluster, [[pod_claim(0)], [pod_claim(1)]])
    assert placement is not None
    cluster.apply(*placement.allocated_claims())
    assert {str(d) for d in cluster.allocated_state.allocated_devices} == {
        f"{DRIVER}/node-1/half-0",
        f"{DRIVER}/node-1/half-1",
    }
    # Nothing is left for a third pod.
    assert cluster.filter([pod_claim(2)]).feasible == ()


def test_reserving_per_node_instead_of_per_pod_also_commits_it() -> None:
    cluster = Cluster(scenario())
    placement = place_gang(cluster, [[pod_claim(0)], [pod_claim(1)]])
    assert placement is not None
    # One reserve per node with all its members' claims: a joint allocation again.
    reserved = cluster.reserve([pod_claim(0), pod_claim(1)], "node-1")
    assert sorted(c.status.allocation.devices.results[0].device for c in reserved) == [
        "half-0",
        "half-1",
    ]


def test_a_third_pod_does_not_fit_and_is_explained() -> None:
    cluster = Cluster(scenario())
    members = [[pod_claim(i)] for i in range(3)]
    before = snapshot(cluster)
    assert place_gang(cluster, members) is None
    assert snapshot(cluster) == before
    explanation = explain_gang(cluster, members)
    assert not explanation.fits
    assert explanation.placeable == 2
    assert explanation.left_out == (2,)
    text = explanation.describe()
    assert "member 2 cannot be placed together with members 0, 1" in text
    assert "counter set gpu-0 of pool gpu.example.com/node-1" in text


def test_min_count_two_of_three_places_two() -> None:
    cluster = Cluster(scenario())
    members = [[pod_claim(i)] for i in range(3)]
    placement = place_gang(cluster, members, min_count=2)
    assert placement is not None
    assert placement.nodes == ("node-1", "node-1", None)
    assert placement.allocations[2] is None
    check_placement(cluster, members, placement, min_count=2)


def test_the_cluster_methods_answer_as_the_functions() -> None:
    from dra_core.cluster._gang import explain_gang

    cluster = Cluster(scenario())
    members = [[pod_claim(0)], [pod_claim(1)]]
    by_method = cluster.place_gang(members)
    by_function = place_gang(cluster, members)
    assert by_method is not None and by_function is not None
    assert by_method.nodes == by_function.nodes
    assert by_method.allocations == by_function.allocations
    three = [[pod_claim(i)] for i in range(3)]
    assert cluster.place_gang(three) is None
    assert cluster.explain_gang(three) == explain_gang(cluster, three)
