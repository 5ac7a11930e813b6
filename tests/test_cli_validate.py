"""``dra-core validate``: one line per object, located errors, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from dra_core.cli import main

GOOD = """\
apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata:
  name: gpu.example.com
spec:
  selectors:
  - cel:
      expression: device.driver == "gpu.example.com"
---
apiVersion: v1
kind: Namespace
metadata:
  name: demo
"""

SLICE = """\
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata:
  name: {name}
spec:
  driver: gpu.example.com
  nodeName: node-1
  pool: {{name: node-1, resourceSliceCount: 1}}
  devices:
{devices}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["validate", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_ok_and_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "good.yaml", GOOD)
    status, out, err = run(capsys, path)
    assert status == 0, out
    assert f"ok    {path}#0: DeviceClass gpu.example.com" in out
    assert f"skip  {path}#1: Namespace demo: v1 Namespace is not used by dra-core" in out
    assert out.strip().endswith("1 ok, 0 invalid, 1 skipped")
    assert err == ""


def test_truncated_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "cut.yaml", GOOD[:60] + "\n  selectors: [{cel: {expression: x")
    status, out, err = run(capsys, path)
    assert status == 2
    assert f"error {path}" in out and "YAML error at line" in out
    assert "Traceback" not in out + err


def test_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    devices = "  - name: gpu-0\n    attributes:\n      index: {int: seven}\n"
    path = write(tmp_path, "s.yaml", SLICE.format(name="s", devices=devices))
    status, out, _ = run(capsys, path)
    assert status == 2
    assert (
        f"error {path}#0: ResourceSlice s: spec.devices[0].attributes[index].int: Invalid "
        'value: expected an integer, got a string "seven"\n'
    ) in out


def test_too_long_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = "x" * 254
    path = write(tmp_path, "s.yaml", SLICE.format(name=name, devices="  - name: gpu-0"))
    status, out, _ = run(capsys, path)
    assert status == 2
    assert f"error {path}#0: ResourceSlice {name}: metadata.name: Invalid value:" in out
    assert "must be no more than 253 characters" in out


def test_too_many_devices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    devices = "\n".join(f"  - name: gpu-{i}" for i in range(129))
    path = write(tmp_path, "s.yaml", SLICE.format(name="big", devices=devices))
    status, out, _ = run(capsys, path)
    assert status == 2
    assert (
        f"error {path}#0: ResourceSlice big: spec.devices: Too many: 129: must have at most "
        "128 items\n"
    ) in out


def test_every_problem_is_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    devices = "  - name: GPU_0\n  - name: gpu-1\n    attributes: {a: {int: 1, bool: true}}"
    path = write(tmp_path, "s.yaml", SLICE.format(name="s", devices=devices))
    status, out, _ = run(capsys, path)
    assert status == 2
    lines = [line for line in out.splitlines() if line.startswith("error ")]
    assert len(lines) == 2
    assert f'error {path}#0: ResourceSlice s: spec.devices[0].name: Invalid value: "GPU_0"' in out
    assert f"error {path}#0: ResourceSlice s: spec.devices[1].attributes[a]: Invalid value:" in out
    assert "exactly one value must be specified" in out


def test_cel_selectors_are_compiled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "c.yaml", GOOD.replace('device.driver == "gpu.example.com"', "1 +"))
    status, out, _ = run(capsys, path)
    assert status == 2
    assert (
        f"error {path}#0: DeviceClass gpu.example.com: spec.selectors[0].cel.expression: "
        "Invalid value: CEL compile error"
    ) in out
    status, out, _ = run(capsys, "--no-cel", path)
    assert status == 0


def test_warnings_quiet_and_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "a.yaml", GOOD.replace("spec:\n", "spec:\n  colour: blue\n", 1))
    write(tmp_path, "b.yml", GOOD)
    status, out, _ = run(capsys, str(tmp_path))
    assert status == 0
    assert (
        "DeviceClass gpu.example.com: unknown field spec.colour (ignored, as the API server "
        "drops it)"
    ) in out
    status, out, _ = run(capsys, "-q", str(tmp_path))
    assert status == 0 and out == ""


def test_missing_file_and_not_an_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "list.yaml", "- a\n- b\n")
    status, out, err = run(capsys, str(tmp_path / "nope.yaml"), path)
    assert status == 2
    assert "nope.yaml: no such file or directory" in out
    assert "expected a Kubernetes object (a mapping), got a list" in out
    assert "Traceback" not in out + err


def test_binary_garbage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    status, out, err = run(capsys, str(path))
    assert status == 2
    assert "cannot read the file" in out
    assert "Traceback" not in out + err
