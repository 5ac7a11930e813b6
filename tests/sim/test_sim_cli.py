"""``dra-core demo`` (the NVIDIA quickstart story, or your files) and ``dra-core simulate``."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import data_path
from dra_core.cli import main

NVIDIA = ("realdata", "kubernetes-sigs", "dra-driver-nvidia-gpu")
QUICKSTART = (*NVIDIA, "demo", "specs", "quickstart", "v1")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_demo_tells_the_gpu_test1_story(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "demo")
    assert status == 0, err
    assert "kubernetes-sigs/dra-driver-nvidia-gpu" in out  # where the manifests come from
    first_table = out.split("$ kubectl get pod -A -o wide\n", 1)[1].split("\n\n", 1)[0]
    assert "gpu-test1   pod1   1/1     Running" in first_table
    assert "gpu-test1   pod2   0/1     Pending" in first_table
    assert (
        "Warning   FailedScheduling   10s    default-scheduler   0/2 nodes are available: "
        "1 cannot allocate all claims, 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }. preemption: 0/2 nodes are available: "
        "1 No preemption victims found for incoming pod, 1 Preemption is not helpful for "
        "scheduling."
    ) in out
    after_delete = out.split('pod "pod1" deleted\n', 1)[1]
    assert "gpu-test1   pod2   1/1     Running" in after_delete
    # gpu-test2: two containers of one pod share one claim; gpu-test3: two pods share one
    assert "gpu-test2   pod    2/2     Running" in out
    assert "pod1,pod2" in out.split("kubectl apply -f gpu-test3.yaml", 1)[1]


def test_demo_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    first = _run(capsys, "demo", "-o", "json")
    second = _run(capsys, "demo", "-o", "json")
    assert first == second
    body = json.loads(first[1])
    assert [p["phase"] for p in body["pods"]] == ["Running", "Running"]


def test_demo_on_files_prints_pods_and_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    cluster = Path(__file__).resolve().parents[2] / "src/dra_core/_data/demo/cluster.yaml"
    status, out, _ = _run(
        capsys, "demo", str(cluster), str(data_path(*QUICKSTART, "gpu-test1.yaml"))
    )
    assert status == 1  # a pod stays Pending
    assert "cannot allocate all claims" in out
    assert "1/2 pods scheduled; 1/1 devices in use" in out


def test_simulate_with_a_scenario(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cluster = Path(__file__).resolve().parents[2] / "src/dra_core/_data/demo/cluster.yaml"
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"steps:\n- at: 0\n  apply: [{data_path(*QUICKSTART, 'gpu-test1.yaml')}]\n"
        "- at: 1m\n  delete: [{kind: Pod, namespace: gpu-test1, name: pod1}]\n"
    )
    status, out, err = _run(
        capsys, "simulate", str(cluster), "--scenario", str(scenario), "-o", "json"
    )
    assert status == 0, err
    body = json.loads(out)
    assert [(p["name"], p["phase"]) for p in body["pods"]] == [("pod2", "Running")]
    assert body["summary"]["time"] == 60.0
    assert body["summary"]["devices_in_use"] == 1


def test_simulate_text_summary(capsys: pytest.CaptureFixture[str]) -> None:
    cluster = Path(__file__).resolve().parents[2] / "src/dra_core/_data/demo/cluster.yaml"
    status, out, _ = _run(
        capsys, "simulate", str(cluster), str(data_path(*QUICKSTART, "gpu-test1.yaml"))
    )
    assert status == 0
    assert "pods: 2, scheduled: 1, running: 1, succeeded: 0, pending: 1" in out
    assert "1 pending: 0/2 nodes are available: 1 cannot allocate all claims" in out
    assert "devices in use: 1/1 (100%)" in out


def test_simulate_bad_scenario_is_located(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cluster = Path(__file__).resolve().parents[2] / "src/dra_core/_data/demo/cluster.yaml"
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("steps:\n- at: soon\n  apply: []\n")
    status, out, err = _run(capsys, "simulate", str(cluster), "--scenario", str(scenario))
    assert status == 2
    assert "steps[0].at" in err
    assert "Traceback" not in out + err


def test_plot_without_matplotlib_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    cluster = Path(__file__).resolve().parents[2] / "src/dra_core/_data/demo/cluster.yaml"
    status, _, err = _run(capsys, "simulate", str(cluster), "--plot", str(tmp_path / "p.png"))
    assert status == 2
    assert "--plot needs matplotlib: pip install 'dra-core[plot]'" in err


def test_plot_draws_a_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cluster = Path(__file__).resolve().parents[2] / "src/dra_core/_data/demo/cluster.yaml"
    target = tmp_path / "p.png"
    status, _, err = _run(
        capsys,
        "simulate",
        str(cluster),
        str(data_path(*QUICKSTART, "gpu-test1.yaml")),
        "--plot",
        str(target),
    )
    assert status == 0, err
    assert target.read_bytes().startswith(b"\x89PNG")


def test_progress_bar_only_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dra_core.cli import _simulate

    assert _simulate._progress(True) is None  # pytest's stderr is not a terminal
    monkeypatch.setattr(_simulate.sys.stderr, "isatty", lambda: True, raising=False)
    bar = _simulate._progress(True)
    assert bar is not None and type(bar).__module__ == "rich.progress"
    assert _simulate._progress(False) is None
    cluster = Path(__file__).resolve().parents[2] / "src/dra_core/_data/demo/cluster.yaml"
    status, out, _ = _run(
        capsys, "simulate", str(cluster), str(data_path(*QUICKSTART, "gpu-test1.yaml"))
    )
    assert status == 0 and "pods: 2, scheduled: 1" in out


def test_simulate_gang_scheduling_modes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # kubernetes#138765 as files: joint placement runs both pods, kube-scheduler's
    # GangScheduling plugin leaves both Pending (the first waited at Permit, timed out).
    import yaml

    from builders import half_gpu_objects, whole_or_half_spec

    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"pod-{i}", "namespace": "default"},
            "spec": {
                "containers": [
                    {"name": "c", "image": "x", "resources": {"claims": [{"name": "gpu"}]}}
                ],
                "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "gpu"}],
                "schedulingGroup": {"podGroupName": "gang"},
            },
        }
        for i in range(2)
    ]
    objects = [
        *half_gpu_objects(),
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaimTemplate",
            "metadata": {"name": "gpu", "namespace": "default"},
            "spec": {"spec": whole_or_half_spec()},
        },
        {
            "apiVersion": "scheduling.k8s.io/v1alpha2",
            "kind": "PodGroup",
            "metadata": {"name": "gang", "namespace": "default"},
            "spec": {"schedulingPolicy": {"gang": {"minCount": 2}}},
        },
        *pods,
    ]
    path = tmp_path / "gang.yaml"
    path.write_text(yaml.safe_dump_all(objects), encoding="utf-8")
    phases = {}
    for mode in ("joint", "kube-scheduler"):
        status, out, err = _run(
            capsys,
            "simulate",
            str(path),
            "--gang-scheduling",
            mode,
            "--until",
            "10m",
            "--no-progress",
            "-o",
            "json",
        )
        assert status in (0, 1), err
        phases[mode] = sorted(p["phase"] for p in json.loads(out)["pods"])
    assert phases == {"joint": ["Running", "Running"], "kube-scheduler": ["Pending", "Pending"]}
