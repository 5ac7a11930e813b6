"""Where filters run (the event loop, or a worker thread), and the warm-up before ready."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
from extender_fixtures import (
    EXAMPLE_NODE,
    GPU_NODE,
    cluster_objects,
    scheduled_pod,
    serve_fixture,  # noqa: F401  (the `serve` fixture)
    write_manifests,
)

from dra_core.cluster import Cluster
from dra_core.errors import AllocationCancelled
from dra_core.extender import Extender, ExtenderArgs, create_app
from dra_core.extender._server import ServerOptions, build, prepare_when_ready

NODES = [GPU_NODE, EXAMPLE_NODE]
POD1 = {"Pod": scheduled_pod("pod1"), "Nodes": None, "NodeNames": NODES}
POD1_ANSWER = {
    "Nodes": None,
    "NodeNames": [GPU_NODE],
    "FailedNodes": {EXAMPLE_NODE: "cannot allocate all claims"},
    "FailedAndUnresolvableNodes": {},
    "Error": "",
}


def _handed_over(metrics: str) -> float:
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("dra_core_extender_filter_handed_over_total ")
    )
    return float(line.split()[1])


@pytest.mark.parametrize(
    ("seconds", "handed_over"),
    [
        pytest.param(20.0, 0.0, id="on-the-loop"),
        pytest.param(1e-9, 3.0, id="over-budget-handed-to-a-thread"),
        pytest.param(0.0, 0.0, id="always-in-a-thread"),
    ],
)
def test_filters_answer_the_same_wherever_they_run(
    serve, seconds: float, handed_over: float
) -> None:
    cluster = Cluster(cluster_objects())
    server = serve(create_app(Extender(cluster), inline_filter_seconds=seconds))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(3):
            got = client.post("/filter", content=json.dumps(POD1))
            assert got.status_code == 200
            assert got.json() == POD1_ANSWER
        bad = client.post("/filter", content=b'{"Pod": 1, "NodeNames": []}')
        assert bad.status_code == 400
        metrics = client.get("/metrics").text
    assert _handed_over(metrics) == handed_over
    assert 'dra_core_extender_filter_nodes_total{outcome="feasible"} 3.0' in metrics


def test_filter_raises_when_its_caller_cancels() -> None:
    cluster = Cluster(cluster_objects())
    extender = Extender(cluster)
    args = ExtenderArgs.from_json(json.dumps(POD1).encode())
    version = cluster.version
    with pytest.raises(AllocationCancelled):
        extender.filter(args, cancel=lambda: True)
    assert cluster.version == version
    assert json.loads(extender.filter(args, cancel=lambda: False).to_json()) == POD1_ANSWER


def test_warm_up_changes_nothing_and_answers_stay_the_same() -> None:
    cluster = Cluster(cluster_objects())
    objects = [o.model_dump() for o in cluster.objects()]
    version = cluster.version
    extender = Extender(cluster)
    assert extender.warm_up() >= 0.0
    assert cluster.version == version
    assert [o.model_dump() for o in cluster.objects()] == objects
    args = ExtenderArgs.from_json(json.dumps(POD1).encode())
    assert json.loads(extender.filter(args).to_json()) == POD1_ANSWER


def test_the_command_is_ready_only_once_warmed_up(serve, tmp_path: Path) -> None:
    write_manifests(tmp_path)
    app, source = build(ServerOptions(manifests=str(tmp_path)))
    extender = app.state.extender
    source.start(extender.cluster)
    try:
        assert source.wait_ready(30)
        server = serve(app)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/readyz").status_code == 503  # loaded, not warmed up
            prepared: threading.Event = app.state.prepared
            prepare_when_ready(source, extender, prepared, timeout=30, freeze=False)
            assert prepared.is_set()
            assert client.get("/readyz").status_code == 200
            assert client.post("/filter", content=json.dumps(POD1)).json() == POD1_ANSWER
    finally:
        source.stop()
