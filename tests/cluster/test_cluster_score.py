"""Cluster.score: the policies' scores of the nodes where a pod's claims fit.

Every score is checked against its definition, :func:`allocate_scored` run on that node
alone against the same objects; the hand-made clusters are built so that each policy
prefers a different node.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from builders import (
    DRIVER,
    allocated_claim,
    claim,
    device,
    device_class,
    node,
    request,
    slice_with_devices,
)
from dra_core.allocator import Allocator
from dra_core.allocator.cpsat import allocate_scored
from dra_core.cluster import SCORE_POLICIES, Cluster, NodeScores
from dra_core.cluster import _score as score_module

SIZE_1 = f'device.attributes["{DRIVER}"].size == 1'


def kind(kind_name: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The builder's dict as a manifest of ``kind_name`` (what a Cluster reads)."""
    api = "v1" if kind_name == "Node" else "resource.k8s.io/v1"
    return {"apiVersion": api, "kind": kind_name, **obj}


def a_node(name: str) -> dict[str, Any]:
    return kind("Node", node(name))


def a_class(name: str = "class-a") -> dict[str, Any]:
    return kind("DeviceClass", device_class(name))


def gpus(node_name: str, *memories: str) -> dict[str, Any]:
    """A node's slice of GPUs with the given memory sizes."""
    devs = [device(f"gpu-{i}", capacity={"memory": m}) for i, m in enumerate(memories)]
    return kind(
        "ResourceSlice",
        slice_with_devices(f"{node_name}-gpus", *devs, pool=node_name, node_name=node_name),
    )


def partitioned(node_name: str) -> list[dict[str, Any]]:
    """Two GPUs with a counter set of 4 each, as one 4-slice and two 1-slice partitions."""
    counters = [{"name": f"gpu-{g}", "counters": {"slices": {"value": "4"}}} for g in range(2)]
    devs = [
        device(
            f"gpu-{g}-{part}",
            attributes={"size": size, "gpu": g},
            consumesCounters=[
                {"counterSet": f"gpu-{g}", "counters": {"slices": {"value": str(size)}}}
            ],
        )
        for g in range(2)
        for part, size in (("big", 4), ("a", 1), ("b", 1))
    ]
    return [
        kind(
            "ResourceSlice",
            slice_with_devices(
                f"{node_name}-devices", *devs, pool=node_name, node_name=node_name, slice_count=2
            ),
        ),
        kind(
            "ResourceSlice",
            slice_with_devices(
                f"{node_name}-counters",
                pool=node_name,
                node_name=node_name,
                slice_count=2,
                sharedCounters=counters,
            ),
        ),
    ]


def memory_cluster() -> list[dict[str, Any]]:
    # best-fit: "mixed" has a device smaller than its largest; the others do not.
    return [
        a_class(),
        *(a_node(n) for n in ("large", "mixed", "small", "bare")),
        gpus("large", "80Gi", "80Gi"),
        gpus("mixed", "80Gi", "40Gi"),
        gpus("small", "40Gi", "40Gi"),
    ]


def partition_cluster() -> list[dict[str, Any]]:
    # "used" has a partition of each GPU in use, "idle" none: pack prefers the first,
    # spread the second.
    return [
        a_class(),
        a_node("idle"),
        a_node("used"),
        *partitioned("idle"),
        *partitioned("used"),
        in_use((DRIVER, "used", "gpu-0-a"), (DRIVER, "used", "gpu-1-a")),
    ]


def in_use(*devices: tuple[str, str, str]) -> dict[str, Any]:
    """An allocated claim (valid: its results name its requests) holding ``devices``."""
    held = kind("ResourceClaim", allocated_claim(*devices))
    held["spec"] = claim("in-use", *(request(f"r{i}") for i in range(len(devices))))["spec"]
    return held


def definition(
    objects: list[dict[str, Any]], node_name: str, claims: list[Any], policy: str
) -> Any:
    """The policy's score of one node, from allocate_scored alone."""
    kinds: dict[str, list[dict[str, Any]]] = {}
    for o in objects:
        kinds.setdefault(o["kind"], []).append(o)
    allocator = Allocator(
        slices=kinds["ResourceSlice"],
        classes=kinds["DeviceClass"],
        allocated_claims=kinds.get("ResourceClaim", []),
    )
    return allocate_scored(allocator, node(node_name), claims, policy=policy).score


CASES = [
    pytest.param(
        memory_cluster, [claim("c", request("r"))], "best-fit",
        {"large": 0, "mixed": 10, "small": 0, "bare": 0}, id="best-fit-smaller-than-largest",
    ),
    pytest.param(
        partition_cluster, [claim("c", request("r", selectors=(SIZE_1,)))], "pack",
        {"idle": 0, "used": 10}, id="pack-the-gpu-in-use",
    ),
    pytest.param(
        partition_cluster, [claim("c", request("r", selectors=(SIZE_1,)))], "spread",
        {"idle": 10, "used": 0}, id="spread-the-idle-gpu",
    ),
    pytest.param(
        partition_cluster, [claim("c", request("r", selectors=(SIZE_1,)))], "best-fit",
        {"idle": 10, "used": 10}, id="best-fit-equal-partitions",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("make", "claims", "policy", "expected"), CASES)
def test_scores_are_the_policy_s_on_each_node(
    make: Any, claims: list[Any], policy: str, expected: dict[str, int]
) -> None:
    objects = make()
    cluster = Cluster(objects)
    pristine = copy.deepcopy(claims)
    version = cluster.version
    scores = cluster.score(claims, policy=policy)
    assert claims == pristine
    assert cluster.version == version
    assert scores.policy == policy
    assert scores.optimal
    assert scores.unscored == ()
    assert scores.scaled() == expected
    assert list(scores.scaled()) == list(scores.nodes) == cluster.node_names()
    for name in scores.view.feasible:
        assert scores.raw[name] == definition(objects, name, claims, policy), name
    for name in scores.view.reasons:
        assert name not in scores.raw


def test_only_the_nodes_asked_about_in_their_order() -> None:
    cluster = Cluster(memory_cluster())
    scores = cluster.score([claim()], ["small", "mixed", "small", "nowhere"])
    assert scores.nodes == ("small", "mixed", "nowhere")
    assert scores.scaled() == {"small": 0, "mixed": 10, "nowhere": 0}
    assert scores.scaled(100) == {"small": 0, "mixed": 100, "nowhere": 0}
    assert scores.view.reasons == {"nowhere": 'node "nowhere" not found'}


def test_scaled_maps_raw_scores_linearly() -> None:
    cluster = Cluster(memory_cluster())
    view = cluster.filter([claim()], ["large", "mixed", "small"])
    raw = {"large": -3.0, "mixed": -1.0, "small": -2.0}
    scores = NodeScores("best-fit", ["large", "mixed", "small"], view, raw, True)
    assert scores.scaled() == {"large": 0, "mixed": 10, "small": 5}
    assert scores.scaled(4) == {"large": 0, "mixed": 4, "small": 2}
    with pytest.raises(ValueError, match="at least 1"):
        scores.scaled(0)


def test_nothing_to_allocate_prefers_no_node() -> None:
    cluster = Cluster(memory_cluster())
    cluster.reserve([claim("c")], "small")
    held = cluster.get("ResourceClaim", "c", "default")
    scores = cluster.score([held])
    assert scores.raw == {}
    assert scores.view.feasible == ("small",)
    assert set(scores.scaled().values()) == {0}


def test_unknown_policy() -> None:
    with pytest.raises(ValueError, match="unknown scoring policy 'worst-fit'"):
        Cluster(memory_cluster()).score([claim()], policy="worst-fit")
    assert SCORE_POLICIES == ("best-fit", "pack", "spread")


def test_one_solve_per_equivalence_class_kept_until_its_state_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    solves: list[str] = []
    real = score_module.solve

    def counting(problem: Any, **kwargs: Any) -> Any:
        solves.append(kwargs["policy"])
        return real(problem, **kwargs)

    monkeypatch.setattr(score_module, "solve", counting)
    objects = [
        a_class(),
        *(a_node(f"n{i}") for i in range(4)),
        *(gpus(f"n{i}", "80Gi", "40Gi") for i in range(3)),
        gpus("n3", "80Gi", "80Gi"),
    ]
    cluster = Cluster(objects)
    first = cluster.score([claim()])
    assert len(solves) == 2  # n0..n2 are alike; n3 is not
    assert cluster.score([claim("other-name")]).raw == first.raw
    assert len(solves) == 2  # the same spec: remembered
    cluster.score([claim()], policy="pack")
    assert len(solves) == 4  # another policy is another question
    cluster.reserve([claim("held")], "n0")  # n0's devices in use: n0 alone changes
    again = cluster.score([claim()])
    assert len(solves) == 5
    assert again.raw["n1"] == first.raw["n1"]
    cluster.apply(a_class("class-b"))  # a class: every answer is forgotten
    cluster.score([claim()])
    assert len(solves) == 8


def test_nodes_not_scored_in_time_stay_unscored(monkeypatch: pytest.MonkeyPatch) -> None:
    class Clock:
        # the deadline is taken at 0; every later look says it has passed
        def __init__(self) -> None:
            self.calls = 0

        def monotonic(self) -> float:
            self.calls += 1
            return 0.0 if self.calls == 1 else 1e9

    monkeypatch.setattr(score_module, "time", Clock())
    scores = Cluster(memory_cluster()).score([claim()], timeout=5.0)
    assert scores.raw == {}
    assert scores.unscored == ("large", "mixed", "small")
    assert not scores.optimal
    assert set(scores.scaled().values()) == {0}
