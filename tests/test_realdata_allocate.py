"""Real demos written by others allocate on the ResourceSlices their README documents.

The dra-example-driver README shows the slice of its kind cluster's worker: eight GPUs.
Each demo's pods (and the claims made from their templates) are placed one by one on
that node, as ``dra-core demo`` does, and must get what the demo says they get. Its Helm
chart's DeviceClass is a template; the test writes the class it renders to.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import data_path
from dra_core.cli import main

CLASS = """\
apiVersion: resource.k8s.io/v1
kind: DeviceClass
metadata:
  name: gpu.example.com
spec:
  selectors:
  - cel:
      expression: "device.driver == 'gpu.example.com'"
"""

REPO = ("realdata", "kubernetes-sigs", "dra-example-driver")
EXAMPLES = "demo/examples"
TAINTS = f"{EXAMPLES}/device-taints-tolerations"

# demo files (relative to the repo folder) -> how many claims get placed, and which do not
# fit. Every demo that needs other slices (shared GPUs, NICs, CPUs) is left out here.
CURRENT = {
    "admin-access/admin-access.yaml": (1, []),
    "basic-multiple-requests/basic-multiple-requests.yaml": (1, []),
    "basic-resourceclaim-opaque-config/basic-resourceclaim-opaque-config.yaml": (1, []),
    "basic-resourceclaimtemplate/basic-resourceclaimtemplate.yaml": (2, []),
    "basic-shared-claim-across-containers/basic-shared-claim-across-containers.yaml": (1, []),
    "basic-shared-claim-across-pods/basic-shared-claim-across-pods.yaml": (1, []),
    "cel-selector/cel-selector.yaml": (1, []),
    "initcontainer-shared-gpu/initcontainer-shared-gpu.yaml": (1, []),
    "prioritized-alternatives/prioritized-alternatives.yaml": (2, []),
    # These GPUs are not shareable (no allowMultipleAllocations), so claims that ask for
    # a shareable one do not fit here.
    "gpu-allow-multiple-allocations/gpu-allow-multiple-allocations.yaml": (
        0,
        [
            "gpu-allow-multiple-allocations/shared-gpu-pod0",
            "gpu-allow-multiple-allocations/shared-gpu-pod1",
        ],
    ),
}


def _demo(tmp_path: Path, capsys: pytest.CaptureFixture[str], *files: Path) -> dict[str, object]:
    cls = tmp_path / "class.yaml"
    cls.write_text(CLASS)
    main(["demo", str(cls), *map(str, files), "-o", "json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    result: dict[str, object] = json.loads(out)
    return result


def _claims(names: object) -> list[str]:
    # Claims made from templates are named <pod>-<pod claim>-<5 characters>, as the resource
    # claim controller names them: compare without the generated suffix.
    return [str(n).rsplit("-", 1)[0] for n in names]  # type: ignore[attr-defined]


def _repo(*parts: str) -> Path:
    return data_path(*REPO).parent.joinpath(*parts)


@pytest.mark.parametrize("demo", sorted(CURRENT))
def test_current_demo_allocates(
    demo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = data_path(*REPO)
    slices = repo / "README.md.block1-L188-320.yaml"
    body = _demo(tmp_path, capsys, slices, repo / EXAMPLES / demo)
    placed, unplaced = CURRENT[demo]
    assert len(body["placed"]) == placed  # type: ignore[arg-type]
    assert body["unplaced"] == unplaced
    devices = [
        r["device"]
        for p in body["placed"]  # type: ignore[attr-defined]
        for r in p["allocation"]["devices"]["results"]
    ]
    assert len(devices) == len(set(devices)), "a GPU was handed out twice"


@pytest.mark.parametrize(
    ("era", "slices", "tests"),
    [
        ("dra-example-driver@922f681", "dra-example-driver/README.md.block1-L188-320.yaml", 8),
        (
            "dra-example-driver@fc2d0ba",
            "dra-example-driver@fc2d0ba/README.md.block1-L108-248.yaml",
            6,
        ),
        (
            "dra-example-driver@5ff76f1",
            "dra-example-driver@5ff76f1/README.md.block1-L92-224.yaml",
            5,
        ),
    ],
)
def test_historic_gpu_tests_allocate(
    era: str, slices: str, tests: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(1, tests + 1):
        body = _demo(tmp_path, capsys, _repo(slices), _repo(era, "demo", f"gpu-test{i}.yaml"))
        assert body["placed"], f"gpu-test{i}: nothing placed"
        assert body["unplaced"] == [], f"gpu-test{i}: {body['unplaced']}"


def test_no_schedule_taint_rule_keeps_new_pods_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = data_path(*REPO)
    slices = repo / "README.md.block1-L188-320.yaml"
    folder = repo / TAINTS / "device-taint-pod-noschedule"
    claims = [folder / "1-basic-resourceclaimtemplate.yaml", folder / "2-pod-keeps-running.yaml"]
    assert _demo(tmp_path, capsys, slices, *claims)["unplaced"] == []
    tainted = _demo(tmp_path, capsys, slices, *claims, folder / "3-device-taint-rule.yaml")
    assert tainted["placed"] == []
    assert _claims(tainted["unplaced"]) == ["basic-resourceclaimtemplate/pod-keeps-running-gpu"]


def test_toleration_lets_a_pod_through_a_taint_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = data_path(*REPO)
    slices = repo / "README.md.block1-L188-320.yaml"
    folder = repo / TAINTS / "device-taint-pod-toleration"
    body = _demo(tmp_path, capsys, slices, *sorted(folder.glob("*.yaml")))
    placed = [p["claim"] for p in body["placed"]]  # type: ignore[attr-defined]
    assert _claims(placed) == ["basic-resourceclaimtemplate/pod-with-toleration-gpu"]
    assert _claims(body["unplaced"]) == ["basic-resourceclaimtemplate/pod-without-toleration-gpu"]
