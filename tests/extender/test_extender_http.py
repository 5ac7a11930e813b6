"""The extender over real HTTP on loopback: httpx against uvicorn serving the app.

The gpu-test1 story of NVIDIA's quickstart: pod1 and pod2 each want one GPU; the
cluster has a node with one NVIDIA GPU and dra-example-driver's node with eight
gpu.example.com GPUs (which the gpu.nvidia.com class does not select).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import yaml
from extender_fixtures import (
    EXAMPLE_NODE,
    GPU_NODE,
    NS,
    UIDS,
    cluster_objects,
    generated_claim,
    node,
    nvidia_gpu_slice,
    scheduled_pod,
    serve_fixture,  # noqa: F401  (the `serve` fixture)
    write_manifests,
)

from dra_core.cluster import Cluster, NodeScores
from dra_core.extender import Extender, ManifestSource, create_app

NODES = [GPU_NODE, EXAMPLE_NODE]


def _post(client: httpx.Client, verb: str, body: object) -> httpx.Response:
    return client.post(f"/{verb}", content=json.dumps(body))


def _story(client: httpx.Client, cluster: Cluster) -> None:
    pod1, pod2 = scheduled_pod("pod1"), scheduled_pod("pod2")
    # filter (nodeCacheCapable: NodeNames in and out)
    got = _post(client, "filter", {"Pod": pod1, "Nodes": None, "NodeNames": NODES})
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    assert got.json() == {
        "Nodes": None,
        "NodeNames": [GPU_NODE],
        "FailedNodes": {EXAMPLE_NODE: "cannot allocate all claims"},
        "FailedAndUnresolvableNodes": {},
        "Error": "",
    }
    # prioritize: the only feasible node gets the top score
    got = _post(client, "prioritize", {"Pod": pod1, "Nodes": None, "NodeNames": NODES})
    assert got.json() == [{"Host": GPU_NODE, "Score": 10}, {"Host": EXAMPLE_NODE, "Score": 0}]
    # bind: allocated, reserved for pod1, bound
    got = _post(
        client,
        "bind",
        {"PodName": "pod1", "PodNamespace": NS, "PodUID": UIDS["pod1"], "Node": GPU_NODE},
    )
    assert got.json() == {"Error": ""}
    claim = cluster.get("ResourceClaim", generated_claim("pod1")["metadata"]["name"], NS)
    assert claim.status.allocation.devices.results[0].device == "gpu-0"
    assert [r.name for r in claim.status.reserved_for] == ["pod1"]
    assert claim.status.reserved_for[0].uid == UIDS["pod1"]
    # pod2: its GPU is taken now (full NodeList mode this time)
    node_list = {"metadata": {}, "items": [node(n) for n in NODES]}
    got = _post(client, "filter", {"Pod": pod2, "Nodes": node_list, "NodeNames": None})
    assert got.json() == {
        "Nodes": {"metadata": {}, "items": []},
        "NodeNames": None,
        "FailedNodes": {
            EXAMPLE_NODE: "cannot allocate all claims",
            GPU_NODE: "cannot allocate all claims",
        },
        "FailedAndUnresolvableNodes": {},
        "Error": "",
    }
    # binding pod2 anyway is refused, and changes nothing
    version = cluster.version
    got = _post(client, "bind", {"PodName": "pod2", "PodNamespace": NS, "Node": GPU_NODE})
    assert "cannot allocate all claims" in got.json()["Error"]
    assert cluster.version == version


def test_gpu_test1_story_over_http(serve) -> None:
    cluster = Cluster(cluster_objects())
    server = serve(create_app(Extender(cluster)))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        _story(client, cluster)
        metrics = client.get("/metrics").text
    assert 'dra_core_extender_requests_total{code="200",verb="filter"} 2.0' in metrics
    assert 'dra_core_extender_filter_nodes_total{outcome="feasible"} 1.0' in metrics
    assert 'dra_core_extender_filter_nodes_total{outcome="failed"} 3.0' in metrics
    assert 'dra_core_extender_bind_total{result="error"} 1.0' in metrics
    assert "dra_core_extender_request_duration_seconds_bucket" in metrics


def test_gpu_test1_story_from_manifests(serve, tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    write_manifests(folder)
    source = ManifestSource(folder, interval=0.05)
    cluster = Cluster()
    source.start(cluster)
    extender = Extender(cluster, binder=source, ready=lambda: source.ready)
    server = serve(create_app(extender, on_shutdown=[source.stop]))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/readyz").status_code == 200
            assert sorted(cluster.node_names()) == sorted(NODES)
            _story(client, cluster)
            assert source.bound == {(NS, "pod1"): GPU_NODE}
            # A second GPU appears in the files: pod2 fits again; the reservation of
            # pod1 (made by bind, not in the files) stays.
            (folder / "nvidia-slice.yaml").write_text(yaml.safe_dump(nvidia_gpu_slice(gpus=2)))
            body = {"Pod": scheduled_pod("pod2"), "NodeNames": NODES}
            deadline = time.monotonic() + 10
            while True:
                answer = _post(client, "filter", body).json()
                if answer["NodeNames"] == [GPU_NODE] or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert answer["NodeNames"] == [GPU_NODE]
            claim = cluster.get("ResourceClaim", generated_claim("pod1")["metadata"]["name"], NS)
            assert claim.status.allocation is not None
            # A node's file goes away: the node is gone too.
            (folder / "nodes.yaml").write_text(yaml.safe_dump(node(GPU_NODE)))
            deadline = time.monotonic() + 10
            while EXAMPLE_NODE in cluster.node_names() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert cluster.node_names() == [GPU_NODE]
            answer = _post(client, "filter", body).json()
            assert answer["FailedAndUnresolvableNodes"] == {
                EXAMPLE_NODE: f'node "{EXAMPLE_NODE}" not found'
            }
    finally:
        source.stop()
    assert not any(t.is_alive() for t in source._threads)


def test_missing_claims_are_unresolvable(serve) -> None:
    cluster = Cluster(cluster_objects())
    server = serve(create_app(Extender(cluster)))
    no_status = scheduled_pod("pod2", with_status=False)
    other = scheduled_pod("pod2")
    other["status"]["resourceClaimStatuses"][0]["resourceClaimName"] = "gone"
    not_owner = scheduled_pod("pod2")
    not_owner["metadata"]["uid"] = "someone-else"
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for pod, message in [
            (no_status, "Pod gpu-test1/pod2: ResourceClaim not created yet"),
            (other, 'resourceclaim.resource.k8s.io "gone" not found'),
            (
                not_owner,
                "ResourceClaim gpu-test1/pod2-gpu-00002 was not created for Pod "
                "gpu-test1/pod2 (Pod is not owner)",
            ),
        ]:
            got = _post(client, "filter", {"Pod": pod, "NodeNames": [*NODES, "ghost"]}).json()
            assert got["NodeNames"] == []
            assert got["FailedNodes"] == {}
            assert got["FailedAndUnresolvableNodes"] == dict.fromkeys([*NODES, "ghost"], message)
            scores = _post(client, "prioritize", {"Pod": pod, "NodeNames": NODES}).json()
            assert scores == [{"Host": n, "Score": 0} for n in NODES]


def test_pod_without_claims_fits_everywhere_and_names_stay_within_the_request(serve) -> None:
    cluster = Cluster(cluster_objects())
    server = serve(create_app(Extender(cluster)))
    pod = {"metadata": {"name": "plain", "namespace": "default"}, "spec": {"containers": []}}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        got = _post(client, "filter", {"Pod": pod, "NodeNames": [EXAMPLE_NODE, "ghost"]}).json()
        assert got["NodeNames"] == [EXAMPLE_NODE, "ghost"]
        got = _post(client, "filter", {"Pod": scheduled_pod("pod1"), "NodeNames": ["ghost"]})
        assert got.json()["FailedAndUnresolvableNodes"] == {"ghost": 'node "ghost" not found'}
        assert got.json()["NodeNames"] == []


@pytest.mark.parametrize(
    ("verb", "body", "words"),
    [
        ("filter", b"{not json", "invalid JSON"),
        ("filter", b'{"Pod": {}, "NodeNames": "gpu-node"}', "ExtenderArgs.NodeNames"),
        ("filter", b'{"NodeNames": ["gpu-node"]}', "Pod is null"),
        ("filter", b'{"Pod": {"metadata": {"name": 5}}, "NodeNames": []}', "metadata.name"),
        ("filter", b'{"Pod": {}}', "both Nodes and NodeNames are null"),
        ("prioritize", b"[]", "ExtenderArgs"),
        ("bind", b'{"PodName": 1}', "ExtenderBindingArgs.PodName"),
        ("preempt", b'{"NodeNameToMetaVictims": []}', "NodeNameToMetaVictims"),
        ("bind", b"\xff\xfe", "not UTF-8"),
        (
            "filter",
            b'{"Pod": {"spec": {"affinity": ' + b'{"a": ' * 900 + b"{}" + b"}" * 900 + b"}}, "
            b'"NodeNames": []}',
            "nested more than 100 levels deep",
        ),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_bodies_are_400_with_the_reason(serve, verb, body, words) -> None:
    cluster = Cluster(cluster_objects())
    server = serve(create_app(Extender(cluster)))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        got = client.post(f"/{verb}", content=body)
        assert got.status_code == 400
        assert words in got.text
        # one bad request does not affect the next
        good = _post(client, "filter", {"Pod": scheduled_pod("pod1"), "NodeNames": NODES})
        assert good.status_code == 200 and good.json()["NodeNames"] == [GPU_NODE]


def test_large_bodies_are_413(serve) -> None:
    cluster = Cluster(cluster_objects())
    server = serve(create_app(Extender(cluster), max_body_bytes=4096))
    big = json.dumps({"Pod": scheduled_pod("pod1"), "NodeNames": ["n"] * 2000}).encode()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.post("/filter", content=big).status_code == 413

        def chunks():  # no Content-Length: counted while reading
            for i in range(0, len(big), 1000):
                yield big[i : i + 1000]

        assert client.post("/filter", content=chunks()).status_code == 413
        ok = _post(client, "filter", {"Pod": scheduled_pod("pod1"), "NodeNames": NODES})
        assert ok.status_code == 200


def test_health_readiness_methods_and_preempt(serve) -> None:
    ready = {"now": False}
    cluster = Cluster(cluster_objects())
    server = serve(create_app(Extender(cluster, ready=lambda: ready["now"])))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/healthz").text == "ok\n"
        assert client.get("/readyz").status_code == 503
        ready["now"] = True
        assert client.get("/readyz").status_code == 200
        assert client.get("/filter").status_code == 405
        victims = {
            "Pod": scheduled_pod("pod2"),
            "NodeNameToVictims": {
                GPU_NODE: {"Pods": [scheduled_pod("pod1")], "NumPDBViolations": 1}
            },
            "NodeNameToMetaVictims": None,
        }
        got = client.post("/preempt", content=json.dumps(victims))
        assert got.content == (
            b'{"NodeNameToMetaVictims":{"gpu-node":{"Pods":[{"UID":"'
            + UIDS["pod1"].encode()
            + b'"}],"NumPDBViolations":1}}}'
        )
        meta = {"NodeNameToMetaVictims": {"n": {"Pods": [{"UID": "u"}], "NumPDBViolations": 0}}}
        got = client.post("/preempt", content=json.dumps(meta))
        assert got.json() == meta


def _partitioned_gpu_slices(node_name: str) -> list[dict]:
    """A node with one 40Gi GPU cut into two 20Gi partitions (shared counters)."""
    part = {
        "attributes": {"type": {"string": "gpu"}},
        "consumesCounters": [
            {"counterSet": "gpu-0-counters", "counters": {"memory": {"value": "20Gi"}}}
        ],
    }

    def one(name: str, content: dict) -> dict:
        return {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": f"{node_name}-{name}"},
            "spec": {
                "driver": "gpu.nvidia.com",
                "nodeName": node_name,
                "pool": {"name": node_name, "generation": 1, "resourceSliceCount": 2},
                **content,
            },
        }

    counters = [{"name": "gpu-0-counters", "counters": {"memory": {"value": "40Gi"}}}]
    devices = [{"name": f"gpu-0-part-{i}", **part} for i in range(2)]
    return [one("counters", {"sharedCounters": counters}), one("gpus", {"devices": devices})]


@pytest.mark.parametrize(
    ("policy", "scores"),
    [("pack", {"a": 10, "b": 0}), ("spread", {"a": 0, "b": 10}), ("best-fit", {"a": 10, "b": 10})],
)
def test_prioritize_policies_prefer_as_they_say(serve, monkeypatch, policy, scores) -> None:
    # Nodes a and b with a GPU in two partitions each; pod1 holds a partition on a.
    # pack prefers the GPU in use (a), spread the untouched one (b); best-fit sees
    # partitions of the same size on both.
    objects = [o for o in cluster_objects() if o["kind"] not in ("Node", "ResourceSlice")]
    cluster = Cluster(
        [
            *objects,
            node("a"),
            node("b"),
            *_partitioned_gpu_slices("a"),
            *_partitioned_gpu_slices("b"),
        ]
    )
    pod1 = cluster.get("ResourceClaim", generated_claim("pod1")["metadata"]["name"], NS)
    cluster.reserve([pod1], "a", reserved_for=[{"resource": "pods", "name": "pod1"}])
    # prioritize is Cluster.score, scaled to MaxExtenderPriority
    calls: list[NodeScores] = []
    real = Cluster.score

    def spy(self: Cluster, *args: object, **kwargs: object) -> NodeScores:
        calls.append(real(self, *args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(Cluster, "score", spy)
    server = serve(create_app(Extender(cluster, policy=policy)))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        body = {"Pod": scheduled_pod("pod2"), "NodeNames": ["a", "b"]}
        got = _post(client, "prioritize", body).json()
    assert got == [{"Host": n, "Score": s} for n, s in scores.items()]
    assert [c.policy for c in calls] == [policy]
    assert calls[0].scaled(10) == scores


def test_a_pod_as_the_api_server_returns_it(serve) -> None:
    # Fields a scheduled pod carries that dra-core does not model (volumes, probes,
    # managed fields, conditions with null times, QoS class): read as Go would, ignored.
    pod = scheduled_pod("pod1")
    pod["metadata"].update(
        resourceVersion="1234",
        creationTimestamp="2026-12-06T03:00:00Z",
        managedFields=[{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}],
    )
    pod["spec"].update(
        volumes=[{"name": "token", "projected": {"sources": [], "defaultMode": 420}}],
        restartPolicy="Always",
        terminationGracePeriodSeconds=30,
        schedulerName="default-scheduler",
        priority=0,
        preemptionPolicy="PreemptLowerPriority",
        securityContext={},
    )
    pod["spec"]["containers"][0].update(
        imagePullPolicy="IfNotPresent",
        volumeMounts=[{"name": "token", "readOnly": True, "mountPath": "/var/run/secrets"}],
    )
    pod["status"].update(
        qosClass="BestEffort",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": "2026-12-06T03:00:01Z",
                "reason": "Unschedulable",
            }
        ],
    )
    cluster = Cluster(cluster_objects())
    server = serve(create_app(Extender(cluster)))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        got = _post(client, "filter", {"Pod": pod, "Nodes": None, "NodeNames": NODES}).json()
    assert got["NodeNames"] == [GPU_NODE]
