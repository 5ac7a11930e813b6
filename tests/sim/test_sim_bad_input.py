"""Bad input: missing claims and templates leave pods Pending with Kubernetes' reason;
malformed manifests are typed, located errors and nothing is applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dra_core import DraCoreError, ManifestError, ObjectNotFoundError, Simulator
from dra_core.cli import main

CLUSTER = """
apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: n1-gpus}
spec:
  driver: gpu.example.com
  nodeName: n1
  pool: {name: n1, generation: 1, resourceSliceCount: 1}
  devices: [{name: gpu-0}]
---
apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata: {name: gpu}
spec:
  selectors: [{cel: {expression: "device.driver == 'gpu.example.com'"}}]
"""


def pod(name: str, claim: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "ctr"}], "resourceClaims": [{"name": "gpu", **claim}]},
    }


def claim(name: str, device_class: str = "gpu") -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "devices": {"requests": [{"name": "gpu", "exactly": {"deviceClassName": device_class}}]}
        },
    }


def test_missing_claim_keeps_the_pod_pending_until_it_exists() -> None:
    sim = Simulator([CLUSTER, pod("p", {"resourceClaimName": "nope"})])
    sim.run()
    (row,) = sim.pods()
    assert row.phase == "Pending"
    assert row.message == (
        '0/1 nodes are available: resourceclaim.resource.k8s.io "nope" not found. '
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )
    sim.apply(claim("nope"), at=5)
    sim.run()
    assert sim.pods()[0].phase == "Running"


def test_missing_template_waits_for_the_claim_controller() -> None:
    sim = Simulator([CLUSTER, pod("p", {"resourceClaimTemplateName": "later"})])
    sim.run()
    (row,) = sim.pods()
    assert row.phase == "Pending"
    assert 'pod "default/p": ResourceClaim not created yet' in row.message
    template = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": "later", "namespace": "default"},
        "spec": {"spec": claim("x")["spec"]},
    }
    sim.apply(template, at=3)
    sim.run()
    (row,) = sim.pods()
    assert row.phase == "Running" and row.claims[0].startswith("p-gpu-")


def test_missing_device_class() -> None:
    sim = Simulator([CLUSTER, claim("c", "no-such-class"), pod("p", {"resourceClaimName": "c"})])
    sim.run()
    assert "request gpu: device class no-such-class does not exist" in sim.pods()[0].message


def test_selector_that_does_not_compile_is_a_reason_not_an_exception() -> None:
    bad = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": "broken"},
        "spec": {"selectors": [{"cel": {"expression": "device.driver =="}}]},
    }
    sim = Simulator([CLUSTER, bad, claim("c", "broken"), pod("p", {"resourceClaimName": "c"})])
    sim.run()
    (row,) = sim.pods()
    assert row.phase == "Pending"
    assert row.message.startswith('running "DynamicResources" filter plugin: ')


def test_malformed_workload_is_located_and_nothing_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        CLUSTER + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec:\n  replicas: three\n  template: {spec: {containers: [{name: c}]}}\n"
    )
    sim = Simulator()
    with pytest.raises(ManifestError) as caught:
        sim.apply(path)
    err = caught.value
    assert (err.source, err.document, err.kind, err.field) == (
        str(path),
        3,
        "Deployment",
        "spec.replicas",
    )
    assert "must be an integer" in str(err)
    assert sim.cluster.node_names() == [] and sim.pods() == []


def test_malformed_pod_is_located_and_nothing_is_applied() -> None:
    bad = pod("p", {"resourceClaimName": "c"})
    bad["spec"]["containers"] = "not a list"
    sim = Simulator()
    with pytest.raises(ManifestError) as caught:
        sim.apply(CLUSTER, bad)
    assert caught.value.kind == "Pod" and caught.value.field == "spec.containers"
    assert len(sim.cluster) == 0 and sim.pods() == []


def test_bad_pod_template_of_a_job_is_an_error() -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"containers": [{"name": 5, "resources": "x"}]}}},
    }
    with pytest.raises(ManifestError) as caught:
        Simulator([job])
    assert caught.value.kind == "Job" and "spec.template" in str(caught.value)


@pytest.mark.parametrize("value", ["soon", "-5s", "1x"])
def test_bad_run_time_annotation(value: str) -> None:
    bad = pod("p", {"resourceClaimName": "c"})
    bad["metadata"]["annotations"] = {"sim.dra-core.io/run-time": value}
    with pytest.raises(ManifestError) as caught:
        Simulator([bad])
    assert caught.value.field == "metadata.annotations[sim.dra-core.io/run-time]"


def test_workload_in_an_unknown_version() -> None:
    with pytest.raises(ManifestError) as caught:
        Simulator(
            [
                {
                    "apiVersion": "extensions/v1beta1",
                    "kind": "Deployment",
                    "metadata": {"name": "d"},
                    "spec": {},
                }
            ]
        )
    assert caught.value.field == "apiVersion"


def test_delete_of_something_missing_deletes_nothing() -> None:
    sim = Simulator([CLUSTER, claim("c"), pod("p", {"resourceClaimName": "c"})])
    sim.run()
    with pytest.raises(ObjectNotFoundError):
        sim.delete(pod("p", {}), {"kind": "Pod", "metadata": {"name": "ghost"}})
    assert [r.name for r in sim.pods()] == ["p"]


def test_changing_a_pod_is_refused() -> None:
    sim = Simulator([CLUSTER, pod("p", {"resourceClaimName": "c"})])
    with pytest.raises(ManifestError, match="pod updates may not change"):
        sim.apply(pod("p", {"resourceClaimName": "other"}))
    sim.apply(pod("p", {"resourceClaimName": "c"}))  # the same pod again is fine


def test_other_kinds_are_noted_not_errors() -> None:
    sim = Simulator([CLUSTER, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}])
    assert any("Service s: ignored" in note for note in sim.notes)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        Simulator(policy="random")
    with pytest.raises(DraCoreError):
        Simulator().apply(CLUSTER, at="tomorrow")


def test_cli_bad_manifest_exit_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: [1, 2\n")
    for command in ("simulate", "demo"):
        assert main([command, str(path)]) == 2
        captured = capsys.readouterr()
        assert "YAML error at line" in captured.err
        assert "Traceback" not in captured.out + captured.err
