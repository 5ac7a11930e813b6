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


def example_driver_demo(*extra: Any) -> Simulator:
    """The dra-example-driver's PodGroup demo on its one-worker cluster (8 GPUs)."""
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
    sim = Simulator([slices, device_class, node, demo, *extra])
    sim.run()
    return sim


DEMO_NS = "podgroup-resourceclaimtemplate"


def test_dra_example_driver_podgroup_demo() -> None:
    """KEP-5729 as Kubernetes 1.36 runs the demo: one claim per PodGroup, from the
    template, owned by the PodGroup and reserved for it; its two pods share it."""
    sim = example_driver_demo()
    rows = sim.pods()
    assert len(rows) == 4
    assert {r.phase for r in rows} == {"Running"}
    assert sim.summary()["devices_in_use"] == 2
    claims = {c.metadata.name: c for c in sim.cluster.objects("ResourceClaim")}
    assert len(claims) == 2
    by_group: dict[str, set[str]] = {}
    for row in rows:
        group = row.name.split("-")[0] + "-" + row.name.split("-")[1]
        by_group.setdefault(group, set()).update(row.claims)
        status = sim.pod(row.name, DEMO_NS).status
        assert status is not None
        assert [(s.name, s.resource_claim_name) for s in status.resource_claim_statuses] == [
            ("gpu", row.claims[0])
        ]
    assert sorted(by_group) == ["group-1", "group-2"]
    devices_used = []
    for group, names in by_group.items():
        assert len(names) == 1  # the group's pods share one claim
        claim = claims[next(iter(names))]
        assert claim.metadata.name.startswith(f"{group}-gpu-")
        assert claim.metadata.annotations == {"resource.kubernetes.io/pod-claim-name": "gpu"}
        (owner,) = claim.metadata.owner_references
        assert (owner.kind, owner.name, owner.controller) == ("PodGroup", group, True)
        assert owner.api_version == "scheduling.k8s.io/v1alpha2"
        assert claim.status is not None and claim.status.allocation is not None
        (consumer,) = claim.status.reserved_for
        assert (consumer.api_group, consumer.resource, consumer.name, consumer.uid) == (
            "scheduling.k8s.io",
            "podgroups",
            group,
            owner.uid,
        )
        results = claim.status.allocation.devices
        assert results is not None and len(results.results) == 1
        devices_used.append(results.results[0].device)
    assert len(set(devices_used)) == 2
    scheduled = [e.name for e in sim.events() if e.reason == "Scheduled"]
    assert len(scheduled) == 4


def test_pod_group_claims_are_released_when_the_group_and_its_pods_are_gone() -> None:
    sim = example_driver_demo()
    (claim,) = [
        c for c in sim.cluster.objects("ResourceClaim") if c.metadata.name.startswith("group-1")
    ]
    # The PodGroup goes first: its pods still run, so the claim stays (its finalizer).
    sim.delete(kind="PodGroup", name="group-1", namespace=DEMO_NS)
    sim.run()
    assert sim.cluster.get("ResourceClaim", claim.metadata.name, DEMO_NS) is not None
    assert sim.summary()["devices_in_use"] == 2
    # Then the pods: the claim made for the PodGroup is deleted, its GPU is free.
    sim.delete(kind="Deployment", name="group-1", namespace=DEMO_NS)
    sim.run()
    assert sim.cluster.get("ResourceClaim", claim.metadata.name, DEMO_NS) is None
    assert sim.summary()["devices_in_use"] == 1
    # The other group is untouched.
    assert len(sim.cluster.objects("ResourceClaim")) == 1
    assert {r.phase for r in sim.pods()} == {"Running"}


def test_pod_group_claim_by_name_is_reserved_for_the_group_and_a_mismatch_is_the_pods() -> None:
    shared = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "shared-gpu", "namespace": "default"},
        "spec": {"devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu"}}]}},
    }
    group = pod_group(min_count=1)
    group["spec"] = {
        "schedulingPolicy": {"basic": {}},
        "resourceClaims": [{"name": "net", "resourceClaimName": "shared-gpu"}],
    }
    pods = []
    for i in range(3):
        p = pod(f"pod-{i}")
        p["spec"]["resourceClaims"].append(
            # pod-2 names the claim under another name: not the group's, reserved for it
            {"name": "net" if i < 2 else "other", "resourceClaimName": "shared-gpu"}
        )
        pods.append(p)
    sim = Simulator([*gpu_nodes(1, 4), shared, group, *pods])
    sim.run()
    assert set(phases(sim).values()) == {"Running"}
    claim = sim.cluster.get("ResourceClaim", "shared-gpu", "default")
    assert isinstance(claim, ResourceClaim) and claim.status is not None
    assert sorted((r.resource, r.name) for r in claim.status.reserved_for) == [
        ("podgroups", "gang"),
        ("pods", "pod-2"),
    ]
    # each pod's own template claim, plus the shared one: 3 + 1 GPUs
    assert sim.summary()["devices_in_use"] == 4


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


def test_members_on_one_node_must_fit_its_cpu_together() -> None:
    # Each node has two GPUs but room for one pod's cpu: the gang is spread, where
    # devices alone would pack both pods on node-0.
    objects = gpu_nodes(2, 2)
    for obj in objects:
        if obj["kind"] == "Node":
            obj["status"] = {"allocatable": {"cpu": "4", "pods": "110"}}
    pods = [pod(f"pod-{i}") for i in range(2)]
    for p in pods:
        p["spec"]["containers"][0]["resources"]["requests"] = {"cpu": "3"}
    sim = Simulator([*objects, pod_group(), *pods])
    sim.run()
    assert phases(sim) == {"pod-0": "Running", "pod-1": "Running"}
    assert sorted(r.node for r in sim.pods()) == ["node-0", "node-1"]
    # A gang of three such pods finds cpu for two only: all three wait, with the reason.
    third = pod("pod-2")
    third["spec"]["containers"][0]["resources"]["requests"] = {"cpu": "3"}
    sim = Simulator([*objects, pod_group(min_count=3), *pods, third])
    sim.run()
    assert set(phases(sim).values()) == {"Pending"}
    message = sim.pods()[0].message
    assert "the gang does not fit" in message and "cpu" in message


def test_a_late_member_joins_a_running_gang() -> None:
    # minCount 2, three pods, two GPUs: two run; the third waits for a GPU, not for
    # minCount (its two peers are bound, as kube-scheduler's Permit counts them).
    sim = Simulator(
        [*gpu_nodes(1, 2), pod_group(min_count=2), *(pod(f"pod-{i}") for i in range(3))]
    )
    sim.run()
    assert sorted(phases(sim).values()) == ["Pending", "Running", "Running"]
    (waiting,) = [r for r in sim.pods() if r.phase == "Pending"]
    assert "minCount" not in waiting.message
    sim.apply(*[o for o in gpu_nodes(2, 1) if o["metadata"]["name"].startswith("node-1")])
    sim.run()
    assert set(phases(sim).values()) == {"Running"}


def test_an_undecided_gang_waits(monkeypatch: Any) -> None:
    # place_gang's budget running out is "not decided": the gang stays Pending and the
    # simulation goes on (never taken for "does not fit", never a crash).
    from dra_core.errors import AllocationTimeout
    from dra_core.sim import _gangs

    def undecided(*args: Any, **kwargs: Any) -> None:
        raise AllocationTimeout("gang: budget ran out", timeout=None)

    monkeypatch.setattr(_gangs, "place_gang", undecided)
    sim = Simulator([*gpu_nodes(1, 2), pod_group(), pod("pod-0"), pod("pod-1")])
    sim.run()
    assert set(phases(sim).values()) == {"Pending"}
    assert all("not decided: gang: budget ran out" in r.message for r in sim.pods())


# --- gang_scheduling="kube-scheduler": the GangScheduling plugin, one pod at a time --------


def test_kube_scheduler_gangs_138765_waits_at_permit_then_times_out() -> None:
    """kubernetes#138765 as kube-scheduler runs it: the first pod takes the whole GPU and
    waits at Permit; the second finds nothing; after 5 minutes the first is rejected and
    the GPU is free again (and then the same happens once more on the next attempt)."""
    sim = Simulator(
        [*half_gpu_cluster(), pod_group(), pod("pod-0"), pod("pod-1")],
        gang_scheduling="kube-scheduler",
    )
    sim.run(until=299)
    rows = {r.name: r for r in sim.pods()}
    assert {r.phase for r in rows.values()} == {"Pending"}
    assert rows["pod-0"].node == ""  # waiting at Permit is not bound
    assert rows["pod-0"].message == "waiting for minCount pods from a gang to be waiting on permit"
    assert sim.summary()["devices_in_use"] == 1  # the whole GPU, held while waiting
    assert "cannot allocate all claims" in rows["pod-1"].message
    sim.run(until=300)
    rejected = [
        e for e in sim.events(name="pod-0") if e.reason == "FailedScheduling" and e.time == 300
    ]
    assert [e.message for e in rejected] == [
        "rejected due to timeout after waiting 5m0s at plugin GangScheduling"
    ]
    assert sim.summary()["devices_in_use"] == 0
    assert not [e for e in sim.events() if e.reason == "Scheduled"]
    # The joint placement of the same gang: both pods run with half a GPU each.
    joint = Simulator([*half_gpu_cluster(), pod_group(), pod("pod-0"), pod("pod-1")])
    joint.run()
    assert set(phases(joint).values()) == {"Running"}


def test_kube_scheduler_gangs_bind_together_when_min_count_is_reached() -> None:
    sim = Simulator([*gpu_nodes(1, 2), pod_group(), pod("pod-0")], gang_scheduling="kube-scheduler")
    sim.run()
    (row,) = sim.pods()
    assert row.message == "waiting for minCount pods from a gang to appear in scheduling queue"
    assert sim.summary()["devices_in_use"] == 0
    sim.apply(pod("pod-1"), at=10)
    sim.run()
    assert set(phases(sim).values()) == {"Running"}
    scheduled = [e for e in sim.events() if e.reason == "Scheduled"]
    assert [e.time for e in scheduled] == [10, 10]
    # nothing left to time out
    sim.run(until=400)
    assert set(phases(sim).values()) == {"Running"}
    assert not [e for e in sim.events() if "rejected due to timeout" in e.message]


def test_gang_scheduling_must_be_known() -> None:
    import pytest

    with pytest.raises(ValueError, match="unknown gang_scheduling"):
        Simulator(gang_scheduling="together")


def test_pod_group_claim_on_a_rack_device_spans_nodes() -> None:
    """KEP-5729's motivating case: the PodGroup's claim is a device that every node of a
    rack sees (a switch); its pods, one GPU each, run on two nodes of that rack and share
    the one allocation, whose node selector admits both nodes."""
    objects = gpu_nodes(4, 1)
    _labelled(
        objects,
        {
            "node-0": {"rack": "a"},
            "node-1": {"rack": "b"},
            "node-2": {"rack": "b"},
            "node-3": {"rack": "a"},
        },
    )
    switch_driver = "fabric.example.com"
    objects += [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "switch"},
            "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{switch_driver}"'}}]},
        },
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": "rack-b-switch"},
            "spec": {
                "driver": switch_driver,
                "nodeSelector": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "rack", "operator": "In", "values": ["b"]}]}
                    ]
                },
                "pool": {"name": "rack-b", "generation": 1, "resourceSliceCount": 1},
                "devices": [{"name": "switch"}],
            },
        },
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaimTemplate",
            "metadata": {"name": "one-switch", "namespace": "default"},
            "spec": {
                "spec": {
                    "devices": {
                        "requests": [{"name": "switch", "exactly": {"deviceClassName": "switch"}}]
                    }
                }
            },
        },
    ]
    group = pod_group()
    group["spec"]["resourceClaims"] = [{"name": "net", "resourceClaimTemplateName": "one-switch"}]
    pods = []
    for i in range(2):
        p = pod(f"pod-{i}")
        p["spec"]["resourceClaims"].append(
            {"name": "net", "resourceClaimTemplateName": "one-switch"}
        )
        pods.append(p)
    sim = Simulator([*objects, group, *pods])
    sim.run()
    assert set(phases(sim).values()) == {"Running"}
    assert sorted(r.node for r in sim.pods()) == ["node-1", "node-2"]  # rack b, one GPU each
    (switch,) = [
        c for c in sim.cluster.objects("ResourceClaim") if c.metadata.name.startswith("gang-net-")
    ]
    assert switch.status is not None and switch.status.allocation is not None
    assert [(r.resource, r.name) for r in switch.status.reserved_for] == [("podgroups", "gang")]
    selector = switch.status.allocation.node_selector
    assert selector is not None
    (term,) = selector.node_selector_terms
    assert [(e.key, e.values) for e in term.match_expressions] == [("rack", ["b"])]
    assert sim.summary()["devices_in_use"] == 3  # two GPUs and the switch
