"""kube-scheduler's queue, filters, scores and messages in the simulator, and the claim
controller's corner cases (extended resources, the consumer limit, workloads)."""

from __future__ import annotations

from typing import Any

import pytest

from dra_core import Simulator
from dra_core.api import ResourceClaim
from dra_core.sim._scheduler import num_feasible_nodes_to_find

DRIVER = "gpu.example.com"


def node(name: str, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": extra.pop("labels", {})}
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": meta}
    if "allocatable" in extra:
        out["status"] = {"allocatable": extra.pop("allocatable")}
    out["spec"] = extra
    return out


def gpus(node_name: str, count: int) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": f"{node_name}-gpus"},
        "spec": {
            "driver": DRIVER,
            "nodeName": node_name,
            "pool": {"name": node_name, "generation": 1, "resourceSliceCount": 1},
            "devices": [{"name": f"gpu-{i}"} for i in range(count)],
        },
    }


def gpu_class(extended: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"selectors": [{"cel": {"expression": f"device.driver == '{DRIVER}'"}}]}
    if extended:
        spec["extendedResourceName"] = extended
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": "gpu"},
        "spec": spec,
    }


def template(name: str = "one-gpu", count: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "spec": {
                "devices": {
                    "requests": [
                        {"name": "gpu", "exactly": {"deviceClassName": "gpu", "count": count}}
                    ]
                }
            }
        },
    }


def pod(name: str, claims: bool = True, **spec: Any) -> dict[str, Any]:
    annotations = spec.pop("annotations", {})
    container: dict[str, Any] = {"name": "ctr", "image": "pause"}
    if "requests" in spec:
        container["resources"] = {"requests": spec.pop("requests")}
    body: dict[str, Any] = {"containers": [container], **spec}
    if claims:
        body.setdefault("resourceClaims", [{"name": "gpu", "resourceClaimTemplateName": "one-gpu"}])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": body,
    }


def rows(sim: Simulator) -> dict[str, tuple[str, str]]:
    return {r.name: (r.phase, r.node) for r in sim.pods()}


def test_num_feasible_nodes_to_find() -> None:
    assert num_feasible_nodes_to_find(50) == 50
    assert num_feasible_nodes_to_find(99) == 99
    assert num_feasible_nodes_to_find(100) == 100  # 48 % of 100 is below the minimum
    assert num_feasible_nodes_to_find(500) == 230  # 46 %
    assert num_feasible_nodes_to_find(1000) == 420  # 42 %
    assert num_feasible_nodes_to_find(5000) == 500  # 10 %
    assert num_feasible_nodes_to_find(100_000) == 5000  # at least 5 %
    assert num_feasible_nodes_to_find(500, 100) == 500


def test_priority_then_arrival() -> None:
    sim = Simulator([node("n1"), gpus("n1", 1), gpu_class(), template()])
    sim.apply(pod("first"), pod("urgent", priority=100), pod("second"))
    sim.run()
    assert rows(sim) == {
        "first": ("Pending", ""),
        "second": ("Pending", ""),
        "urgent": ("Running", "n1"),
    }


def test_backoff_doubles_to_ten_seconds_in_simulated_time() -> None:
    sim = Simulator([node("n1"), gpus("n1", 1), gpu_class(), template()])
    sim.apply(pod("holder"), pod("waiter"))
    # events that might help the waiter, each right after its last attempt
    for at in (0.5, 1.5, 3.5, 7.5, 15.5, 26, 37):
        sim.apply(node(f"empty-{at}"), at=at)
    sim.run()
    attempts = [
        e.time for e in sim.events(kind="Pod", name="waiter") if e.reason == "FailedScheduling"
    ]
    # 1 s, doubled per failure, at most 10 s; a waiting pod retries only after an event
    assert attempts == [0, 1, 3, 7, 15, 25, 35, 45]
    assert sim.now == 45


def test_unschedulable_pod_waits_for_an_event() -> None:
    sim = Simulator([node("n1"), gpus("n1", 1), gpu_class(), template()])
    sim.apply(pod("a"), pod("b"))
    sim.run()
    assert sim.now == 0  # nothing can happen: no retries in a loop
    sim.apply(gpus("n2", 1), node("n2"), at=100)
    sim.run()
    assert rows(sim) == {"a": ("Running", "n1"), "b": ("Running", "n2")}
    assert sim.now == 100


def test_filters_and_the_fit_error_message() -> None:
    sim = Simulator(
        [
            node("tainted", taints=[{"key": "dedicated", "value": "ml", "effect": "NoExecute"}]),
            node("cordoned", unschedulable=True),
            node("small", allocatable={"cpu": "1", "memory": "1Gi", "pods": "10"}),
            node("full", allocatable={"cpu": "8", "memory": "8Gi", "pods": "0"}),
            node("other-zone", labels={"zone": "b"}),
            node("gpu-node", labels={"zone": "a"}),
            gpus("gpu-node", 0),
            gpu_class(),
            template(),
        ]
    )
    sim.apply(pod("p", requests={"cpu": "2"}))
    sim.run()
    (row,) = sim.pods()
    assert row.message == (
        "0/6 nodes are available: 1 Insufficient cpu, 1 Too many pods, 1 node(s) had "
        "untolerated taint {dedicated: ml}, 1 node(s) were unschedulable, 2 cannot allocate "
        "all claims. preemption: 0/6 nodes are available: 2 Preemption is not helpful for "
        "scheduling, 4 No preemption victims found for incoming pod."
    )


def test_node_selector_affinity_node_name_and_tolerations() -> None:
    base = [
        node("a", labels={"zone": "a"}, taints=[{"key": "gpu", "effect": "NoSchedule"}]),
        node("b", labels={"zone": "b"}),
        gpus("a", 2),
        gpus("b", 2),
        gpu_class(),
        template(),
    ]
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                ]
            }
        }
    }
    toleration = [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    sim = Simulator(base)
    sim.apply(
        pod("by-selector", nodeSelector={"zone": "b"}),
        pod("by-affinity", affinity=affinity, tolerations=toleration),
        pod("untolerated", affinity=affinity),
        pod("by-name", nodeName="b"),
    )
    sim.run()
    assert rows(sim) == {
        "by-affinity": ("Running", "a"),
        "by-name": ("Running", "b"),
        "by-selector": ("Running", "b"),
        "untolerated": ("Pending", ""),
    }
    message = next(r.message for r in sim.pods() if r.name == "untolerated")
    assert message.startswith(
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {gpu: }."
    )
    assert message.endswith("2 Preemption is not helpful for scheduling.")


@pytest.mark.parametrize(
    ("policy", "expected"), [("pack", {"n1"}), ("spread", {"n1", "n2"}), ("best-fit", {"n2"})]
)
def test_device_policies(policy: str, expected: set[str]) -> None:
    objects = [node("n1"), node("n2"), gpus("n1", 4), gpus("n2", 2), gpu_class(), template()]
    sim = Simulator(objects, policy=policy)
    sim.apply(pod("p1"))
    sim.run()
    sim.apply(pod("p2"))
    sim.run()
    assert {r.node for r in sim.pods()} == expected


def test_default_policy_spreads_by_least_allocated() -> None:
    sizes = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    objects = [node(f"n{i}", allocatable=sizes) for i in range(3)]
    sim = Simulator(objects)
    sim.apply(*[pod(f"p{i}", claims=False, requests={"cpu": "1"}) for i in range(3)])
    sim.run()
    assert sorted(r.node for r in sim.pods()) == ["n0", "n1", "n2"]


def test_extended_resource_backed_by_dra() -> None:
    sim = Simulator([node("n1"), gpus("n1", 2), gpu_class(extended="example.com/gpu")])
    sim.apply(
        pod("explicit", claims=False, requests={"example.com/gpu": "1"}),
        pod("implicit", claims=False, requests={"deviceclass.resource.kubernetes.io/gpu": "1"}),
        pod("too-many", claims=False, requests={"example.com/gpu": "1"}),
    )
    sim.run()
    assert rows(sim) == {
        "explicit": ("Running", "n1"),
        "implicit": ("Running", "n1"),
        "too-many": ("Pending", ""),
    }
    special = [
        c
        for c in sim.cluster.objects("ResourceClaim")
        if c.metadata.annotations.get("resource.kubernetes.io/extended-resource-claim") == "true"
    ]
    assert sorted(c.metadata.generate_name for c in special) == [
        "explicit-extended-resources-",
        "implicit-extended-resources-",
    ]
    requests = [r.name for r in special[0].spec.devices.requests]
    assert requests == ["container-0-request-0"]
    sim.delete(kind="Pod", name="explicit")
    sim.run()
    assert rows(sim)["too-many"] == ("Running", "n1")
    assert len(sim.cluster.objects("ResourceClaim")) == 2  # explicit's claim went with it


def test_a_claim_has_at_most_256_consumers() -> None:
    shared = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "shared", "namespace": "default"},
        "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu"}}]}},
    }
    ref = [{"name": "gpu", "resourceClaimName": "shared"}]
    sim = Simulator([node("n1"), gpus("n1", 1), gpu_class(), shared])
    sim.apply(*[pod(f"p{i:03d}", resourceClaims=ref) for i in range(257)])
    sim.run()
    pending = [r for r in sim.pods() if r.phase == "Pending"]
    assert [r.name for r in pending] == ["p256"]
    assert pending[0].message.startswith("0/1 nodes are available: resourceclaim in use.")
    stored = sim.cluster.get("ResourceClaim", "shared", "default")
    assert isinstance(stored, ResourceClaim) and stored.status is not None
    assert len(stored.status.reserved_for) == 256


def test_statefulset_makes_pods_in_order() -> None:
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 3, "template": {"spec": pod("x")["spec"]}},
    }
    sim = Simulator([node("n1"), gpus("n1", 2), gpu_class(), template(), sts])
    sim.run()
    assert rows(sim) == {
        "web-0": ("Running", "n1"),
        "web-1": ("Running", "n1"),
        "web-2": ("Pending", ""),
    }
    created = [e.message for e in sim.events(kind="StatefulSet")]
    assert created == [
        "create Pod web-0 in StatefulSet web successful",
        "create Pod web-1 in StatefulSet web successful",
        "create Pod web-2 in StatefulSet web successful",
    ]
    sim.delete(sts)
    assert sim.pods() == [] and sim.summary()["devices_in_use"] == 0


def test_pods_with_a_run_time_give_their_devices_back() -> None:
    sim = Simulator([node("n1"), gpus("n1", 1), gpu_class(), template()])
    sim.apply(*[pod(f"p{i}", annotations={"sim.dra-core.io/run-time": "1m30s"}) for i in range(3)])
    sim.run()
    assert [(r.phase, r.start_time) for r in sim.pods()] == [
        ("Succeeded", 0.0),
        ("Succeeded", 90.0),
        ("Succeeded", 180.0),
    ]
    assert sim.now == 270
    assert [s.devices_in_use for s in sim.samples()] == [1, 1, 1, 0]


def test_pods_of_another_scheduler_are_left_alone() -> None:
    sim = Simulator([node("n1"), gpus("n1", 1), gpu_class(), template()])
    sim.apply(pod("mine"), pod("theirs", schedulerName="other-scheduler"))
    sim.run()
    assert rows(sim) == {"mine": ("Running", "n1"), "theirs": ("Pending", "")}
    assert any("schedulerName 'other-scheduler'" in note for note in sim.notes)
