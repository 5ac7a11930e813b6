"""Gangs in the simulator: the pods of a PodGroup (or a Workload's pod group) wait for
``minCount`` members, then are placed jointly and bound together, or stay Pending with
the reason (kubernetes/kubernetes#138765 as pods, the dra-example-driver's PodGroup demo)."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from builders import HALF_GPU_DRIVER as DRIVER
from builders import half_gpu_objects, whole_or_half_spec
from conftest import data_path
from dra_core import Simulator
from dra_core.api import ResourceClaim

EXAMPLE = ("realdata", "kubernetes-sigs", "dra-example-driver")


def half_gpu_cluster() -> list[dict[str, Any]]:
    """kubernetes#138765: one GPU as a whole device or two halves, and a template."""
    template = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": "whole-or-half", "namespace": "default"},
        "spec": {"spec": whole_or_half_spec()},
    }
    return [*half_gpu_objects(), template]


def gpu_nodes(nodes: int, gpus: int) -> list[dict[str, Any]]:
    """``nodes`` nodes with ``gpus`` plain GPUs each, a class and a one-GPU template."""
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "gpu"},
            "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{DRIVER}"'}}]},
        },
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaimTemplate",
            "metadata": {"name": "whole-or-half", "namespace": "default"},
            "spec": {
                "spec": {
                    "devices": {
                        "requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu"}}]
                    }
                }
            },
        },
    ]
    for n in range(nodes):
        name = f"node-{n}"
        out.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        out.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": f"{name}-gpus"},
                "spec": {
                    "driver": DRIVER,
                    "nodeName": name,
                    "pool": {"name": name, "generation": 1, "resourceSliceCount": 1},
                    "devices": [{"name": f"gpu-{i}"} for i in range(gpus)],
                },
            }
        )
    return out


def pod_group(name: str = "gang", min_count: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1alpha2",
        "kind": "PodGroup",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"schedulingPolicy": {"gang": {"minCount": min_count}}},
    }


def pod(name: str, group: str | None = "gang") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [
            {"name": "ctr", "image": "ubuntu:22.04", "resources": {"claims": [{"name": "gpu"}]}}
        ],
        "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "whole-or-half"}],
    }
    if group is not None:
        spec["schedulingGroup"] = {"podGroupName": group}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def phases(sim: Simulator) -> dict[str, str]:
    return {r.name: r.phase for r in sim.pods()}


def devices(sim: Simulator, pod_name: str) -> list[str]:
    row = next(r for r in sim.pods() if r.name == pod_name)
    out = []
    for name in row.claims:
        claim = sim.cluster.get("ResourceClaim", name, "default")
        assert isinstance(claim, ResourceClaim)
        assert claim.status is not None and claim.status.allocation is not None
        results = claim.status.allocation.devices
        assert results is not None
        out += [r.device for r in results.results]
        assert [r.name for r in claim.status.reserved_for] == [pod_name]
    return out


def test_138765_one_by_one_fails() -> None:
    # Without a PodGroup the pods go one by one: the first takes the whole GPU.
    sim = Simulator([*half_gpu_cluster(), pod("pod-0", None), pod("pod-1", None)])
    sim.run()
    assert phases(sim) == {"pod-0": "Running", "pod-1": "Pending"}
    assert devices(sim, "pod-0") == ["whole"]


def test_138765_gang_gets_half_a_gpu_each() -> None:
    sim = Simulator([*half_gpu_cluster(), pod_group(), pod("pod-0"), pod("pod-1")])
    sim.run()
    assert phases(sim) == {"pod-0": "Running", "pod-1": "Running"}
    assert sorted(devices(sim, "pod-0") + devices(sim, "pod-1")) == ["half-0", "half-1"]
    scheduled = [e for e in sim.events(kind="Pod") if e.reason == "Scheduled"]
    assert [e.message for e in scheduled] == [
        "Successfully assigned default/pod-0 to node-1",
        "Successfully assigned default/pod-1 to node-1",
    ]
    assert not [e for e in sim.events() if e.reason == "FailedScheduling"]
    assert sim.summary()["devices_in_use"] == 2


def test_below_min_count_waits_then_schedules_with_the_last_member() -> None:
    sim = Simulator([*gpu_nodes(2, 2), pod_group(min_count=3), pod("pod-0"), pod("pod-1")])
    sim.run()
    assert phases(sim) == {"pod-0": "Pending", "pod-1": "Pending"}
    message = "pod group default/gang is waiting for its minCount: 2 of 3 pods present"
    assert {r.message for r in sim.pods()} == {message}
    failed = [e for e in sim.events() if e.reason == "FailedScheduling"]
    assert failed and {e.message for e in failed} == {message}
    assert sim.summary()["devices_in_use"] == 0
    sim.apply(pod("pod-2"))
    sim.run()
    assert set(phases(sim).values()) == {"Running"}
    assert {r.message for r in sim.pods()} == {""}
    # packed: two members on one node, the third on the other
    assert sorted(r.node for r in sim.pods()) == ["node-0", "node-0", "node-1"]
    assert sim.summary()["devices_in_use"] == 3


def test_gang_that_cannot_fit_stays_pending_with_the_reason() -> None:
    sim = Simulator(
        [*gpu_nodes(1, 2), pod_group(min_count=3), *(pod(f"pod-{i}") for i in range(3))]
    )
    sim.run()
    assert set(phases(sim).values()) == {"Pending"}
    messages = {r.message for r in sim.pods()}
    assert len(messages) == 1
    (message,) = messages
    assert message.startswith(
        "pod group default/gang: the gang does not fit: at most 2 of 3 members can be placed "
        "together, 3 must be"
    )
    assert sim.summary()["devices_in_use"] == 0
    for name in [r.claims[0] for r in sim.pods()]:
        claim = sim.cluster.get("ResourceClaim", name, "default")
        assert isinstance(claim, ResourceClaim) and claim.status is None
    # a helpful event (a second node) lets the gang in on its retry
    sim.apply(*[o for o in gpu_nodes(2, 2) if o["metadata"]["name"].startswith("node-1")])
    sim.run()
    assert set(phases(sim).values()) == {"Running"}


def test_pods_outside_the_gang_are_scheduled_alone() -> None:
    sim = Simulator([*gpu_nodes(1, 2), pod_group(min_count=3), pod("pod-0"), pod("solo", None)])
    sim.run()
    assert phases(sim) == {"pod-0": "Pending", "solo": "Running"}


def test_pod_group_deleted_pods_go_one_by_one() -> None:
    sim = Simulator([*gpu_nodes(1, 2), pod_group(min_count=3), pod("pod-0")])
    sim.run()
    assert phases(sim) == {"pod-0": "Pending"}
    sim.delete(kind="PodGroup", name="gang", namespace="default")
    sim.apply(pod("pod-1"))
    sim.run()
    assert phases(sim) == {"pod-0": "Running", "pod-1": "Running"}


def test_workload_135_pod_group() -> None:
    workload = {
        "apiVersion": "scheduling.k8s.io/v1alpha1",
        "kind": "Workload",
        "metadata": {"name": "job", "namespace": "default"},
        "spec": {"podGroups": [{"name": "workers", "policy": {"gang": {"minCount": 2}}}]},
    }
    pods = [pod(f"pod-{i}", None) for i in range(2)]
    for p in pods:
        p["spec"]["workloadRef"] = {"name": "job", "podGroup": "workers"}
    sim = Simulator([*half_gpu_cluster(), workload, *pods])
    sim.run()
    assert phases(sim) == {"pod-0": "Running", "pod-1": "Running"}
    assert sorted(devices(sim, "pod-0") + devices(sim, "pod-1")) == ["half-0", "half-1"]


def test_dra_example_driver_podgroup_demo() -> None:
    slices = data_path(*EXAMPLE, "README.md.block1-L188-320.yaml")
    demo = data_path(
        *EXAMPLE,
        "demo",
        "examples",
        "podgroup-resourceclaimtemplate",
        "podgroup-resourceclaimtemplate.yaml",
    )
    device_class = yaml.safe_load(
        "apiVersion: resource.k8s.io/v1\nkind: DeviceClass\nmetadata: {name: gpu.example.com}\n"
        "spec:\n  selectors: [{cel: {expression: \"device.driver == 'gpu.example.com'\"}}]\n"
    )
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "dra-example-driver-cluster-worker"},
    }
    sim = Simulator([slices, device_class, node, demo])
    sim.run()
    rows = sim.pods()
    assert len(rows) == 4
    assert {r.phase for r in rows} == {"Running"}
    # Each pod gets its own claim from the template: the simulator does not yet share a
    # pod group's claims (KEP-5729), where 1.36 would give each group one GPU.
    assert sim.summary()["devices_in_use"] == 4
    scheduled = [e.name for e in sim.events() if e.reason == "Scheduled"]
    assert len(scheduled) == 4


def test_same_inputs_same_run() -> None:
    def run() -> list[Any]:
        sim = Simulator(
            [*gpu_nodes(2, 2), pod_group(min_count=3), *(pod(f"pod-{i}") for i in range(2))],
            seed="s",
        )
        sim.run()
        sim.apply(copy.deepcopy(pod("pod-2")))
        sim.run()
        return [sim.events(), sim.pods()]

    assert run() == run()


def _labelled(objects: list[dict[str, Any]], labels: dict[str, dict[str, str]]) -> None:
    for obj in objects:
        if obj["kind"] == "Node" and obj["metadata"]["name"] in labels:
            obj["metadata"]["labels"] = labels[obj["metadata"]["name"]]


def test_topology_key_keeps_the_gang_on_one_rack() -> None:
    objects = gpu_nodes(4, 1)
    _labelled(objects, {"node-0": {"rack": "a"}, "node-1": {"rack": "b"}, "node-2": {"rack": "a"}})
    cluster = [o for o in objects if not o["metadata"]["name"].startswith(("node-2", "node-3"))]
    group = pod_group()
    group["spec"]["schedulingConstraints"] = {"topology": [{"key": "rack"}]}
    sim = Simulator([*cluster, group, pod("pod-0"), pod("pod-1")])
    sim.run()
    # one GPU per rack: the pods would fit on node-0 and node-1, but not on one rack
    assert set(phases(sim).values()) == {"Pending"}
    assert all(
        r.message.startswith("pod group default/gang: the gang does not fit") for r in sim.pods()
    )
    sim.apply(*[o for o in objects if o["metadata"]["name"].startswith(("node-2", "node-3"))])
    sim.run()
    assert set(phases(sim).values()) == {"Running"}
    assert sorted(r.node for r in sim.pods()) == ["node-0", "node-2"]


def test_deleting_the_namespace_deletes_its_pod_groups() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
    sim = Simulator([*gpu_nodes(1, 2), pod_group(min_count=3), pod("pod-0")])
    sim.run()
    sim.delete(namespace)  # the pod, the PodGroup and the claim template go
    sim.apply(*[o for o in gpu_nodes(1, 2) if o["kind"] == "ResourceClaimTemplate"])
    sim.apply(pod("pod-1"))
    sim.run()
    assert phases(sim) == {"pod-1": "Running"}
