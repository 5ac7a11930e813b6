"""Real DRA demos replayed: pods end Running or Pending as on a real cluster, with the same
sharing, and messages in Kubernetes' words (NVIDIA's quickstart and bats specs, the
dra-example-driver demos)."""

from __future__ import annotations

import copy
import re
from importlib import resources
from typing import Any

import yaml

from conftest import data_path
from dra_core import Simulator
from dra_core.api import ResourceClaim
from dra_core.io import parse_yaml

NVIDIA = ("realdata", "kubernetes-sigs", "dra-driver-nvidia-gpu")
QUICKSTART = (*NVIDIA, "demo", "specs", "quickstart", "v1")
BATS = (*NVIDIA, "tests", "bats", "specs")
EXAMPLE = ("realdata", "kubernetes-sigs", "dra-example-driver@fc2d0ba")

PENDING_GPU_TEST1 = (
    "0/2 nodes are available: 1 cannot allocate all claims, 1 node(s) had untolerated taint "
    "{node-role.kubernetes.io/control-plane: }. preemption: 0/2 nodes are available: 1 No "
    "preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
)


def t4_cluster(gpus: int = 1) -> list[Any]:
    """The demo's kind cluster (embedded in the package), with ``gpus`` Tesla T4s."""
    text = (resources.files("dra_core") / "_data" / "demo" / "cluster.yaml").read_text()
    docs = [d for d in parse_yaml(text) if d]
    for doc in docs:
        if doc["kind"] == "ResourceSlice":
            first = doc["spec"]["devices"][0]
            for i in range(1, gpus):
                more = copy.deepcopy(first)
                more["name"] = f"gpu-{i}"
                more["attributes"]["index"] = {"int": i}
                more["attributes"]["minor"] = {"int": i}
                more["attributes"]["uuid"] = {"string": f"GPU-{i:08d}"}
                doc["spec"]["devices"].append(more)
    return docs


def phases(sim: Simulator) -> dict[str, str]:
    return {f"{r.namespace}/{r.name}": r.phase for r in sim.pods()}


def claim(sim: Simulator, name: str, namespace: str) -> ResourceClaim:
    found = sim.cluster.get("ResourceClaim", name, namespace)
    assert isinstance(found, ResourceClaim)
    return found


def test_gpu_test1_one_gpu_two_pods() -> None:
    sim = Simulator([*t4_cluster(), data_path(*QUICKSTART, "gpu-test1.yaml")])
    sim.run()
    assert phases(sim) == {"gpu-test1/pod1": "Running", "gpu-test1/pod2": "Pending"}
    pod2 = next(r for r in sim.pods() if r.name == "pod2")
    assert pod2.message == PENDING_GPU_TEST1
    failed = sim.events(kind="Pod", name="pod2", namespace="gpu-test1")
    assert [(e.type, e.reason, e.source) for e in failed] == [
        ("Warning", "FailedScheduling", "default-scheduler")
    ]
    # the claim controller's work, as kube-controller-manager does it
    pod1 = sim.pod("pod1", "gpu-test1")
    assert pod1.spec.node_name == "k8s-dra-driver-cluster-worker"
    (status,) = pod1.status.resource_claim_statuses if pod1.status else []
    assert status.name == "gpu"
    assert re.fullmatch(
        r"pod1-gpu-[bcdfghjklmnpqrstvwxz2456789]{5}", status.resource_claim_name or ""
    )
    made = claim(sim, status.resource_claim_name or "", "gpu-test1")
    assert made.metadata.generate_name == "pod1-gpu-"
    assert made.metadata.annotations == {"resource.kubernetes.io/pod-claim-name": "gpu"}
    (owner,) = made.metadata.owner_references
    assert (owner.api_version, owner.kind, owner.name, owner.uid) == (
        "v1",
        "Pod",
        "pod1",
        pod1.metadata.uid,
    )
    assert owner.controller and owner.block_owner_deletion
    assert made.status is not None and made.status.allocation is not None
    assert [r.name for r in made.status.reserved_for] == ["pod1"]
    assert made.status.allocation.devices is not None
    assert [r.device for r in made.status.allocation.devices.results] == ["gpu-0"]

    # kubectl delete pod pod1: its claim goes, the GPU is free, pod2 runs after its backoff
    sim.delete(kind="Pod", name="pod1", namespace="gpu-test1", at=30)
    sim.run()
    assert phases(sim) == {"gpu-test1/pod2": "Running"}
    assert sim.cluster.get("ResourceClaim", made.metadata.name, "gpu-test1") is None
    assert [e.reason for e in sim.events(kind="Pod", name="pod1")][-1] == "Killing"
    scheduled = sim.events(kind="Pod", name="pod2", namespace="gpu-test1")[-2]
    assert scheduled.reason == "Scheduled" and scheduled.time == 30
    assert scheduled.message == (
        "Successfully assigned gpu-test1/pod2 to k8s-dra-driver-cluster-worker"
    )


def test_gpu_test2_two_containers_share_one_claim() -> None:
    sim = Simulator([*t4_cluster(), data_path(*QUICKSTART, "gpu-test2.yaml")])
    sim.run()
    (row,) = sim.pods()
    assert (row.phase, row.containers, len(row.claims)) == ("Running", 2, 1)
    started = [e.message for e in sim.events(kind="Pod") if e.reason == "Started"]
    assert started == ["Started container ctr0", "Started container ctr1"]


def test_gpu_test3_two_pods_share_one_claim() -> None:
    sim = Simulator([*t4_cluster(), data_path(*QUICKSTART, "gpu-test3.yaml")])
    sim.run()
    assert set(phases(sim).values()) == {"Running"}
    shared = claim(sim, "single-gpu", "gpu-test3")
    assert shared.status is not None
    assert [r.name for r in shared.status.reserved_for] == ["pod1", "pod2"]
    # pod1 goes: the claim stays allocated for pod2; pod2 goes: deallocated, not deleted
    sim.delete(kind="Pod", name="pod1", namespace="gpu-test3")
    shared = claim(sim, "single-gpu", "gpu-test3")
    assert shared.status is not None and shared.status.allocation is not None
    assert [r.name for r in shared.status.reserved_for] == ["pod2"]
    sim.delete(kind="Pod", name="pod2", namespace="gpu-test3")
    shared = claim(sim, "single-gpu", "gpu-test3")
    assert shared.status is not None
    assert shared.status.allocation is None and shared.status.reserved_for == []
    assert sim.summary()["devices_in_use"] == 0


def test_gpu_test5_needs_two_gpus() -> None:
    one = Simulator([*t4_cluster(1), data_path(*QUICKSTART, "gpu-test5.yaml")])
    one.run()
    assert phases(one) == {"gpu-test5/pod0": "Pending"}
    assert "1 cannot allocate all claims" in one.pods()[0].message
    two = Simulator([*t4_cluster(2), data_path(*QUICKSTART, "gpu-test5.yaml")])
    two.run()
    assert phases(two) == {"gpu-test5/pod0": "Running"}
    assert two.summary()["devices_in_use"] == 2


def test_gpu_test4_deployment_without_mig_class() -> None:
    sim = Simulator([*t4_cluster(), data_path(*QUICKSTART, "gpu-test4.yaml")])
    sim.run()
    rows = sim.pods()
    assert len(rows) == 4  # replicas: 4
    for row in rows:
        assert re.fullmatch(
            r"pod-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}", row.name
        )
        assert row.phase == "Pending"
        assert row.message.startswith(
            "0/2 nodes are available: request mig-1g-5gb-0: device class mig.nvidia.com does "
            "not exist."
        )
    pod = sim.pod(rows[0].name, "gpu-test4")
    (owner,) = pod.metadata.owner_references
    assert owner.kind == "ReplicaSet" and owner.name == rows[0].name.rsplit("-", 1)[0]
    assert pod.metadata.labels["pod-template-hash"] == owner.name.rsplit("-", 1)[1]


def test_gpu_test6_a100_selector_does_not_match_a_t4() -> None:
    sim = Simulator([*t4_cluster(), data_path(*QUICKSTART, "gpu-test6.yaml")])
    sim.run()
    assert {r.phase for r in sim.pods()} == {"Pending"}
    assert all("1 cannot allocate all claims" in r.message for r in sim.pods())


def test_bats_two_pods_one_claim_and_one_pod_two_containers() -> None:
    sim = Simulator(
        [
            *t4_cluster(2),
            data_path(*BATS, "gpu-2pods-1gpu.yaml"),
        ]
    )
    sim.run()
    assert phases(sim) == {"default/pod1": "Running", "default/pod2": "Running"}
    assert sim.summary()["devices_in_use"] == 1


def test_bats_job_runs_its_completions_one_at_a_time() -> None:
    job = [d for d in parse_yaml(data_path(*BATS, "gpu-job-rct.yaml").read_text()) if d]
    job[1]["spec"]["template"]["metadata"]["annotations"] = {"sim.dra-core.io/run-time": "20s"}
    sim = Simulator([*t4_cluster(), *job])
    sim.run()
    rows = sim.pods()
    assert [r.phase for r in rows] == ["Succeeded", "Succeeded"]
    assert sorted(r.start_time for r in rows) == [0.0, 20.0]
    assert sim.summary()["devices_in_use"] == 0
    assert sim.cluster.objects("ResourceClaim") == []  # generated claims deleted
    done = sim.events(kind="Job")
    assert [e.reason for e in done] == ["SuccessfulCreate", "SuccessfulCreate", "Completed"]


def test_bats_deployment_two_replicas() -> None:
    sim = Simulator([*t4_cluster(2), data_path(*BATS, "gpu-job-rct-parallel.yaml")])
    sim.run()
    assert [r.phase for r in sim.pods()] == ["Running", "Running"]
    # deleting a replica: the ReplicaSet makes another (same template), which waits for
    # the GPU to be free again, and gets it
    first = sim.pods()[0]
    sim.delete(kind="Pod", name=first.name, at=5)
    sim.run()
    rows = sim.pods()
    assert len(rows) == 2 and first.name not in {r.name for r in rows}
    assert [r.phase for r in rows] == ["Running", "Running"]


def test_dra_example_driver_demos_share_eight_gpus() -> None:
    readme = data_path(*EXAMPLE, "README.md.block1-L108-248.yaml")
    device_class = yaml.safe_load(
        "apiVersion: resource.k8s.io/v1\nkind: DeviceClass\nmetadata: {name: gpu.example.com}\n"
        "spec:\n  selectors: [{cel: {expression: \"device.driver == 'gpu.example.com'\"}}]\n"
    )
    demos = [data_path(*EXAMPLE, "demo", f"gpu-test{i}.yaml") for i in range(1, 6)]
    sim = Simulator([readme, device_class, *demos])
    sim.apply(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "dra-example-driver-cluster-worker"},
        }
    )
    sim.run()
    assert set(phases(sim).values()) == {"Running"}
    assert len(sim.pods()) == 7
    assert sim.summary()["devices_in_use"] == 8  # 1 + 1 + 2 + 1 + 1 (shared) + 2
    shared = claim(sim, "single-gpu", "gpu-test4")
    assert shared.status is not None
    assert [r.name for r in shared.status.reserved_for] == ["pod0", "pod1"]


def test_same_inputs_same_names() -> None:
    def run() -> list[Any]:
        sim = Simulator([*t4_cluster(2), data_path(*QUICKSTART, "gpu-test4.yaml")], seed="s")
        sim.run()
        return [(r.name, r.claims, r.message) for r in sim.pods()]

    assert run() == run()
