"""Concurrent requests over loopback: racing binds never share a device; bad files keep state."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from extender_fixtures import (
    GPU_NODE,
    NS,
    UIDS,
    cluster_objects,
    generated_claim,
    scheduled_pod,
    serve_fixture,  # noqa: F401  (the `serve` fixture)
    write_manifests,
)

from dra_core.cluster import Cluster
from dra_core.extender import Extender, ManifestSource, create_app


def _claims_and_pods(count: int) -> tuple[list[dict], list[dict]]:
    claims, pods = [], []
    for i in range(count):
        claim = generated_claim("pod1")
        claim["metadata"]["name"] = f"racer-{i}-gpu"
        claim["metadata"]["ownerReferences"][0].update(name=f"racer-{i}", uid=f"uid-racer-{i}")
        pod = scheduled_pod("pod1")
        pod["metadata"].update(name=f"racer-{i}", uid=f"uid-racer-{i}")
        pod["status"]["resourceClaimStatuses"][0]["resourceClaimName"] = f"racer-{i}-gpu"
        claims.append(claim)
        pods.append(pod)
    return claims, pods


def test_racing_binds_for_one_gpu_have_one_winner(serve) -> None:
    claims, pods = _claims_and_pods(12)
    cluster = Cluster([*cluster_objects(), *claims])
    server = serve(create_app(Extender(cluster)))

    def race(pod: dict) -> str:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            body = {"Pod": pod, "NodeNames": [GPU_NODE]}
            assert client.post("/filter", content=json.dumps(body)).status_code == 200
            bind = {
                "PodName": pod["metadata"]["name"],
                "PodNamespace": NS,
                "PodUID": pod["metadata"]["uid"],
                "Node": GPU_NODE,
            }
            error: str = client.post("/bind", json=bind).json()["Error"]
            return error

    with ThreadPoolExecutor(max_workers=8) as pool:
        errors = list(pool.map(race, pods, timeout=120))
    assert errors.count("") == 1
    assert all("cannot allocate all claims" in e for e in errors if e)
    allocated = [
        c
        for c in cluster.objects("ResourceClaim")
        if c.status is not None and c.status.allocation is not None
    ]
    assert len(allocated) == 1
    assert allocated[0].status.allocation.devices.results[0].device == "gpu-0"


def test_a_file_that_stops_loading_keeps_its_objects(
    serve, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "m"
    write_manifests(folder)
    source = ManifestSource(folder, interval=0.02)
    cluster = Cluster()
    source.start(cluster)
    server = serve(create_app(Extender(cluster, binder=source)))
    try:
        version = cluster.version
        with caplog.at_level(logging.WARNING, logger="dra_core.extender"):
            (folder / "nvidia-slice.yaml").write_text("kind: ResourceSlice\nspec: [\n")
            deadline = time.monotonic() + 10
            while "keeping its previous objects" not in caplog.text:
                assert time.monotonic() < deadline, "the bad file was not noticed"
                time.sleep(0.02)
        assert cluster.version == version
        with httpx.Client(base_url=server.url, timeout=30) as client:
            body = {"Pod": scheduled_pod("pod1"), "NodeNames": [GPU_NODE]}
            assert client.post("/filter", json=body).json()["NodeNames"] == [GPU_NODE]
            bind = {"PodName": "pod1", "PodNamespace": NS, "PodUID": UIDS["pod1"]}
            assert client.post("/bind", json={**bind, "Node": GPU_NODE}).json() == {"Error": ""}
    finally:
        source.stop()
