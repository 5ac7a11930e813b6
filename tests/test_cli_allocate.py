"""``dra-core allocate`` and ``dra-core demo``: the conformance table through the command line,
exit statuses, output shapes, and bad input that never ends in a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import data_path, data_relative
from dra_core.cli import main
from test_conformance import _case_files, _multiset_match, _normalise


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("path", _case_files())
def test_case_through_the_cli(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = data_path(*data_relative(path))
    before = path.read_bytes()
    case = json.loads(before)
    expect = case["expect"]
    status, out, err = _run(capsys, "allocate", str(path), "-o", "json")
    assert "Traceback" not in out + err
    body = json.loads(out)
    if expect.get("error"):
        assert status == 2
        assert body["results"] is None
        assert expect["error"] in body["error"]
    elif expect.get("results") is None and case.get("claims"):
        assert status == 1
        assert body["results"] is None and body["error"] is None
    elif not case.get("claims"):
        assert status == 2  # nothing to allocate is a usage problem for the CLI
    else:
        assert status == 0, err
        got = [_normalise(r) for r in body["results"]]
        want = [_normalise(r) for r in expect["results"]]
        order = list(expect.get("resultsDeviceOrderInsensitive") or [])
        assert _multiset_match(got, want, order), f"got {got}\nwant {want}"
    assert path.read_bytes() == before


DEMO_CLAIMS = """
apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata: {name: gpu}
spec:
  selectors: [{cel: {expression: "device.driver == 'gpu.example.com'"}}]
---
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata: {name: n1-gpus}
spec:
  driver: gpu.example.com
  nodeName: n1
  pool: {name: n1, generation: 1, resourceSliceCount: 1}
  devices:
  - {name: gpu-0, attributes: {model: {string: "A100"}}}
  - {name: gpu-1, attributes: {model: {string: "H100"}}}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata: {name: one-gpu, namespace: ns}
spec:
  spec:
    devices:
      requests:
      - name: gpu
        exactly:
          deviceClassName: gpu
          selectors: [{cel: {expression: "device.attributes['gpu.example.com'].model == 'H100'"}}]
---
apiVersion: v1
kind: Pod
metadata: {name: trainer, namespace: ns}
spec:
  containers: [{name: c, image: busybox, resources: {claims: [{name: g}]}}]
  resourceClaims: [{name: g, resourceClaimTemplateName: one-gpu}]
"""


def test_pods_with_templates_allocate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text(DEMO_CLAIMS)
    status, out, _ = _run(capsys, "allocate", str(manifest))
    assert status == 0
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert [d["metadata"]["name"] for d in docs] == ["trainer-g"]
    results = docs[0]["status"]["allocation"]["devices"]["results"]
    assert [r["device"] for r in results] == ["gpu-1"]


def test_does_not_fit_exits_1_with_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text(DEMO_CLAIMS.replace("'H100'", "'B200'"))
    status, out, err = _run(capsys, "allocate", str(manifest))
    assert status == 1
    assert out == ""
    assert err.startswith("does not fit: cannot allocate all claims on node n1: ns/trainer-g")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: [unclosed", "YAML"),
        (DEMO_CLAIMS.replace("deviceClassName: gpu", "deviceClassName: nope"), "nope"),
        (DEMO_CLAIMS.replace("== 'H100'", "== "), "CEL compile error"),
        (DEMO_CLAIMS.replace("generation: 1", "generation: one"), "generation"),
    ],
)
def test_bad_input_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(text)
    status, out, err = _run(capsys, "allocate", str(manifest))
    assert status == 2
    assert "Traceback" not in out + err
    assert message in err
    status, out, _ = _run(capsys, "allocate", str(manifest), "-o", "json")
    assert status == 2
    assert json.loads(out)["results"] is None
    assert message in json.loads(out)["error"]


def test_missing_file_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "allocate", "/no/such/file.yaml")
    assert status == 2
    assert "Traceback" not in out + err


# `dra-core demo` is the simulator's story now: tests/sim/test_sim_cli.py.
