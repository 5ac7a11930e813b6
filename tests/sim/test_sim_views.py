"""The kubectl-style views and the rest of the simulator's API: deletes by file and
namespace, indexed Jobs, scaling, the node rotation, durations."""

from __future__ import annotations

import pytest
from test_sim_scheduler import gpu_class, gpus, node, pod, template

from dra_core import Simulator
from dra_core.sim import Event, PodRow, parse_duration
from dra_core.sim._views import describe_events, human_duration, pod_table


def test_human_duration_as_kubectl() -> None:
    cases = {0: "0s", 119: "119s", 120: "2m", 150: "2m30s", 600: "10m", 3 * 3600: "3h"}
    assert {k: human_duration(k) for k in cases} == cases
    assert human_duration(8 * 3600) == "8h" and human_duration(3 * 86400) == "3d"


def test_describe_folds_repeated_events() -> None:
    events = [
        Event(t, "Warning", "FailedScheduling", "Pod", "ns", "p", "no room", "default-scheduler")
        for t in (0, 1, 3)
    ]
    text = describe_events(events, now=13)
    assert text.splitlines()[0] == "Events:"
    assert "10s (x3 over 13s)" in text
    assert text.splitlines()[2].split() == ["----", "------", "----", "----", "-------"]


def test_pod_table() -> None:
    rows = [
        PodRow("ns", "a", "Running", "n1", "", (), 0.0, 0.0, 2),
        PodRow("ns", "b", "Succeeded", "n1", "", (), 0.0, 0.0, 1),
    ]
    lines = pod_table(rows, now=30).splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"]
    assert lines[1].split() == ["ns", "a", "2/2", "Running", "0", "30s", "n1"]
    assert lines[2].split() == ["ns", "b", "0/1", "Completed", "0", "30s", "n1"]
    assert pod_table([], 0) == "No resources found"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90.0), ("1h30m", 5400.0), ("1.5s", 1.5), (7, 7.0), ("250ms", 0.25)]
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_delete_a_file_deletes_its_namespace() -> None:
    manifest = """
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata: {name: one-gpu, namespace: team}
spec:
  spec:
    devices:
      requests: [{name: gpu, exactly: {deviceClassName: gpu}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: team}
spec:
  replicas: 2
  template:
    spec:
      containers: [{name: c}]
      resourceClaims: [{name: gpu, resourceClaimTemplateName: one-gpu}]
"""
    sim = Simulator([node("n1"), gpus("n1", 2), gpu_class(), manifest])
    sim.run()
    assert [r.phase for r in sim.pods()] == ["Running", "Running"]
    sim.delete(manifest)
    assert sim.pods() == []
    assert sim.cluster.objects("ResourceClaim") == []
    assert sim.cluster.objects("ResourceClaimTemplate") == []
    assert sim.summary()["devices_in_use"] == 0


def test_scaling_a_deployment_down() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "template": {"spec": pod("x")["spec"]}},
    }
    sim = Simulator([node("n1"), gpus("n1", 4), gpu_class(), template(), deployment])
    sim.run()
    assert len(sim.pods()) == 3
    deployment["spec"]["replicas"] = 1
    sim.apply(deployment)
    sim.run()
    assert len(sim.pods()) == 1 and sim.summary()["devices_in_use"] == 1


def test_indexed_job_names() -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train"},
        "spec": {
            "completions": 3,
            "parallelism": 3,
            "completionMode": "Indexed",
            "template": {"spec": {"containers": [{"name": "c"}], "restartPolicy": "Never"}},
        },
    }
    sim = Simulator([node("n1"), job])
    sim.run()
    names = [r.name for r in sim.pods()]
    assert [n.rsplit("-", 1)[0] for n in names] == ["train-0", "train-1", "train-2"]
    labels = sim.pod(names[1]).metadata.labels
    assert labels["batch.kubernetes.io/job-completion-index"] == "1"
    assert labels["job-name"] == "train"


def test_nodes_are_looked_at_from_where_the_last_pod_stopped() -> None:
    # 3 nodes: every one is looked at, the best score wins, ties go to the first looked at
    sim = Simulator([node(f"n{i}") for i in range(3)], percentage_of_nodes_to_score=100)
    for i in range(3):
        sim.apply(pod(f"p{i}", claims=False))
    sim.run()
    assert [r.node for r in sim.pods()] == ["n0", "n0", "n0"]  # no allocatable: equal scores


def test_repr() -> None:
    sim = Simulator([node("n1"), pod("p", claims=False)])
    sim.run()
    assert repr(sim) == "Simulator(now=0s, pods: Running=1)"
