"""KubeSource against a local stand-in for the API server, on 127.0.0.1.

No Kubernetes API server can run here. The stand-in serves what the extender uses of
the API, in its wire format: lists (``<Kind>List`` with ``metadata.resourceVersion``
and items without kind/apiVersion), watches (JSON lines of ``{"type", "object"}``, a
``410 Gone`` ``ERROR`` event once to force a new list, ``BOOKMARK``\\ s), gets, updates
with optimistic concurrency (409 on a stale resourceVersion), the ``status``
subresource, ``pods/binding``, creating and deleting claims and merge-patching a pod's
status (for KEP-5004's claim). The objects are the real manifests of the gpu-test1
story. Every watch ends by itself within a second; every wait here is bounded.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from extender_fixtures import (
    DEMO_NS,
    EXAMPLE_NODE,
    GPU_NODE,
    NS,
    UIDS,
    cluster_objects,
    demo_pod,
    example_class,
    example_slices,
    generated_claim,
    node,
    nvidia_gpu_slice,
    scheduled_pod,
    serve_fixture,  # noqa: F401  (the `serve` fixture)
)

from dra_core.cluster import Cluster
from dra_core.extender import Extender, KubeSource, create_app

pytest.importorskip("kubernetes")

TOKEN = "dra-core-test-token"
# kind -> (list path, list apiVersion)
PATHS = {
    "Node": ("/api/v1/nodes", "v1"),
    "Pod": ("/api/v1/pods", "v1"),
    "ResourceSlice": ("/apis/resource.k8s.io/v1/resourceslices", "resource.k8s.io/v1"),
    "DeviceClass": ("/apis/resource.k8s.io/v1/deviceclasses", "resource.k8s.io/v1"),
    "ResourceClaim": ("/apis/resource.k8s.io/v1/resourceclaims", "resource.k8s.io/v1"),
    "ResourceClaimTemplate": (
        "/apis/resource.k8s.io/v1/resourceclaimtemplates",
        "resource.k8s.io/v1",
    ),
    # DeviceTaintRule is not served: the source must skip it (404).
}
PLURAL = {
    "nodes": "Node",
    "pods": "Pod",
    "resourceslices": "ResourceSlice",
    "deviceclasses": "DeviceClass",
    "resourceclaims": "ResourceClaim",
    "resourceclaimtemplates": "ResourceClaimTemplate",
}


class FakeAPIServer:
    """The stand-in: objects by kind, a global resourceVersion, a history of events."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.lock = threading.Condition()
        self.rv = 100
        self.store: dict[str, dict[tuple[str, str], dict[str, Any]]] = {k: {} for k in PATHS}
        self.history: list[tuple[int, str, str, dict[str, Any]]] = []  # rv, kind, type, obj
        self.gone_once: set[str] = {"ResourceSlice"}
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self.bindings: list[dict[str, Any]] = []
        self.auth: set[str] = set()
        for obj in objects:
            self.put(obj, record=False)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    # --- the objects -------------------------------------------------------------------

    def put(self, obj: dict[str, Any], *, record: bool = True, kind_of: str = "") -> dict:
        obj = copy.deepcopy(obj)
        kind = obj["kind"]
        meta = obj.setdefault("metadata", {})
        namespaced = kind in ("Pod", "ResourceClaim", "ResourceClaimTemplate")
        key = (meta.get("namespace", "default") if namespaced else "", meta["name"])
        with self.lock:
            self.rv += 1
            exists = key in self.store[kind]
            meta.setdefault("uid", f"uid-{kind.lower()}-{meta['name']}")
            meta.setdefault("creationTimestamp", "2026-12-06T03:00:00Z")
            meta["resourceVersion"] = str(self.rv)
            self.store[kind][key] = obj
            if record:
                event = kind_of or ("MODIFIED" if exists else "ADDED")
                self.history.append((self.rv, kind, event, copy.deepcopy(obj)))
            self.lock.notify_all()
        return obj

    def delete(self, kind: str, name: str, namespace: str = "") -> None:
        with self.lock:
            obj = self.store[kind].pop((namespace, name))
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.history.append((self.rv, kind, "DELETED", obj))
            self.lock.notify_all()

    def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        with self.lock:
            return copy.deepcopy(self.store[kind].get((namespace, name)))

    # --- HTTP ----------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, reason: str, message: str) -> None:
                self._send(
                    code,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Failure",
                        "message": message,
                        "reason": reason,
                        "code": code,
                    },
                )

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length", "0"))
                body: dict[str, Any] = json.loads(self.rfile.read(length))
                return body

            def do_GET(self) -> None:
                api.auth.add(self.headers.get("Authorization", ""))
                url = urlparse(self.path)
                query = parse_qs(url.query)
                api.requests.append(("GET", self.path, None))
                kind = next((k for k, (p, _) in PATHS.items() if p == url.path), None)
                if kind is None:
                    return self._single(url.path)
                if query.get("watch") == ["true"]:
                    return self._watch(kind, query)
                with api.lock:
                    items = []
                    for obj in api.store[kind].values():
                        item = copy.deepcopy(obj)
                        item.pop("kind", None)  # list items come without kind/apiVersion
                        item.pop("apiVersion", None)
                        items.append(item)
                    version = str(api.rv)
                self._send(
                    200,
                    {
                        "kind": f"{kind}List",
                        "apiVersion": PATHS[kind][1],
                        "metadata": {"resourceVersion": version},
                        "items": items,
                    },
                )

            def _single(self, path: str) -> None:
                parts = path.strip("/").split("/")
                # apis/resource.k8s.io/v1/namespaces/NS/resourceclaims/NAME
                if len(parts) == 7 and parts[3] == "namespaces" and parts[5] in PLURAL:
                    obj = api.get(PLURAL[parts[5]], parts[6], parts[4])
                    if obj is not None:
                        return self._send(200, obj)
                    return self._status(404, "NotFound", f'{parts[5]} "{parts[6]}" not found')
                self._status(404, "NotFound", "the server could not find the requested resource")

            def _watch(self, kind: str, query: dict[str, list[str]]) -> None:
                since = int(query.get("resourceVersion", ["0"])[0] or 0)
                timeout = min(float(query.get("timeoutSeconds", ["1"])[0]), 1.0)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()  # HTTP/1.0: the stream ends when the connection closes
                if kind in api.gone_once:
                    api.gone_once.discard(kind)
                    gone = {
                        "type": "ERROR",
                        "object": {
                            "kind": "Status",
                            "apiVersion": "v1",
                            "metadata": {},
                            "status": "Failure",
                            "message": f"too old resource version: {since} ({api.rv})",
                            "reason": "Expired",
                            "code": 410,
                        },
                    }
                    self.wfile.write(json.dumps(gone).encode() + b"\n")
                    return
                deadline = time.monotonic() + timeout
                sent = since
                while True:
                    with api.lock:
                        events = [e for e in api.history if e[0] > sent and e[1] == kind]
                        if not events:
                            left = deadline - time.monotonic()
                            if left <= 0:
                                break
                            api.lock.wait(left)
                            continue
                    for rv, _, kind_of, obj in events:
                        line = json.dumps({"type": kind_of, "object": obj}).encode() + b"\n"
                        self.wfile.write(line)
                        self.wfile.flush()
                        sent = rv
                bookmark = {
                    "type": "BOOKMARK",
                    "object": {
                        "kind": kind,
                        "apiVersion": PATHS[kind][1],
                        "metadata": {"resourceVersion": str(api.rv)},
                    },
                }
                self.wfile.write(json.dumps(bookmark).encode() + b"\n")

            def do_PUT(self) -> None:
                body = self._body()
                api.requests.append(("PUT", self.path, body))
                parts = urlparse(self.path).path.strip("/").split("/")
                if len(parts) < 7 or parts[5] != "resourceclaims":
                    return self._status(404, "NotFound", "not served")
                current = api.get("ResourceClaim", parts[6], parts[4])
                if current is None:
                    return self._status(404, "NotFound", f'resourceclaims "{parts[6]}" not found')
                if (
                    body["metadata"].get("resourceVersion")
                    != current["metadata"]["resourceVersion"]
                ):
                    return self._status(
                        409,
                        "Conflict",
                        f"Operation cannot be fulfilled on resourceclaims.resource.k8s.io "
                        f'"{parts[6]}": the object has been modified; please apply your '
                        "changes to the latest version and try again",
                    )
                if len(parts) == 8 and parts[7] == "status":
                    current["status"] = body.get("status", {})
                else:
                    current["metadata"] = body["metadata"]
                    current["spec"] = body.get("spec", current["spec"])
                self._send(200, api.put(current))

            def do_PATCH(self) -> None:
                # api/v1/namespaces/NS/pods/NAME/status, a JSON merge patch of status
                body = self._body()
                api.requests.append(("PATCH", self.path, body))
                parts = urlparse(self.path).path.strip("/").split("/")
                if self.headers.get("Content-Type") != "application/merge-patch+json":
                    return self._status(415, "UnsupportedMediaType", "not a merge patch")
                if len(parts) != 7 or parts[4] != "pods" or parts[6] != "status":
                    return self._status(404, "NotFound", "not served")
                pod = api.get("Pod", parts[5], parts[3])
                if pod is None:
                    return self._status(404, "NotFound", f'pods "{parts[5]}" not found')
                pod.setdefault("status", {}).update(body.get("status", {}))
                self._send(200, api.put(pod))

            def do_DELETE(self) -> None:
                api.requests.append(("DELETE", self.path, None))
                parts = urlparse(self.path).path.strip("/").split("/")
                if len(parts) != 7 or parts[5] != "resourceclaims":
                    return self._status(404, "NotFound", "not served")
                current = api.get("ResourceClaim", parts[6], parts[4])
                if current is None:
                    return self._status(404, "NotFound", f'resourceclaims "{parts[6]}" not found')
                if current["metadata"].get("finalizers"):
                    return self._status(409, "Conflict", "finalizers left: not modelled here")
                api.delete("ResourceClaim", parts[6], parts[4])
                self._send(200, current)

            def do_POST(self) -> None:
                body = self._body()
                api.requests.append(("POST", self.path, body))
                parts = urlparse(self.path).path.strip("/").split("/")
                # apis/resource.k8s.io/v1/namespaces/NS/resourceclaims: create
                if len(parts) == 6 and parts[5] == "resourceclaims":
                    name = body["metadata"]["name"]
                    if api.get("ResourceClaim", name, parts[4]) is not None:
                        return self._status(
                            409, "AlreadyExists", f'resourceclaims "{name}" already exists'
                        )
                    body["metadata"]["namespace"] = parts[4]
                    body.pop("status", None)
                    return self._send(201, api.put(body))
                # api/v1/namespaces/NS/pods/NAME/binding
                if len(parts) == 7 and parts[4] == "pods" and parts[6] == "binding":
                    pod = api.get("Pod", parts[5], parts[3])
                    if pod is None:
                        return self._status(404, "NotFound", f'pods "{parts[5]}" not found')
                    api.bindings.append(body)
                    pod["spec"]["nodeName"] = body["target"]["name"]
                    api.put(pod)
                    return self._send(201, {"kind": "Status", "status": "Success", "code": 201})
                self._status(404, "NotFound", "not served")

        return Handler


def _wait(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _kubeconfig(tmp_path: Path, url: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "stand-in", "cluster": {"server": url}}],
                "users": [{"name": "extender", "user": {"token": TOKEN}}],
                "contexts": [
                    {"name": "stand-in", "context": {"cluster": "stand-in", "user": "extender"}}
                ],
                "current-context": "stand-in",
            }
        )
    )
    return str(path)


@pytest.fixture
def api() -> Any:
    objects = [*cluster_objects(), scheduled_pod("pod1"), scheduled_pod("pod2")]
    server = FakeAPIServer(objects)
    yield server
    server.close()


def test_list_watch_resync_and_bind_through_the_api(api, serve, tmp_path: Path) -> None:
    source = KubeSource(kubeconfig=_kubeconfig(tmp_path, api.url), watch_timeout=1, retry=0.1)
    cluster = Cluster()
    source.start(cluster)
    try:
        assert source.wait_ready(10)
        assert sorted(cluster.node_names()) == sorted([GPU_NODE, EXAMPLE_NODE])
        assert len(cluster.objects("ResourceSlice")) == 2
        assert api.auth == {f"Bearer {TOKEN}"}
        # The first ResourceSlice watch ended in 410 Gone: listed again.
        _wait(lambda: source.lists["ResourceSlice"] >= 2, "a new list after 410 Gone")
        assert source.lists["Node"] == 1
        # Events: a new node with a GPU appears, then goes away again.
        api.put(node("gpu-node-2"))
        api.put(nvidia_gpu_slice("gpu-node-2"))
        _wait(lambda: "gpu-node-2" in cluster.node_names(), "the ADDED node")
        _wait(lambda: len(cluster.objects("ResourceSlice")) == 3, "the ADDED slice")
        api.delete("ResourceSlice", nvidia_gpu_slice("gpu-node-2")["metadata"]["name"])
        api.delete("Node", "gpu-node-2")
        _wait(lambda: "gpu-node-2" not in cluster.node_names(), "the DELETED node")
        assert source.pod(NS, "pod1") is not None

        extender = Extender(cluster, binder=source, ready=lambda: source.ready)
        server = serve(create_app(extender))
        nodes = [GPU_NODE, EXAMPLE_NODE]
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/readyz").status_code == 200
            body = {"Pod": scheduled_pod("pod1"), "NodeNames": nodes}
            assert client.post("/filter", json=body).json()["NodeNames"] == [GPU_NODE]
            bind = {"PodName": "pod1", "PodNamespace": NS, "PodUID": UIDS["pod1"]}
            got = client.post("/bind", json={**bind, "Node": GPU_NODE}).json()
            assert got == {"Error": ""}
            # What the API server holds now: finalizer, allocation, reservedFor, binding.
            name = generated_claim("pod1")["metadata"]["name"]
            claim = api.get("ResourceClaim", name, NS)
            assert "resource.kubernetes.io/delete-protection" in claim["metadata"]["finalizers"]
            result = claim["status"]["allocation"]["devices"]["results"][0]
            assert (result["driver"], result["pool"], result["device"]) == (
                "gpu.nvidia.com",
                GPU_NODE,
                "gpu-0",
            )
            assert claim["status"]["reservedFor"] == [
                {"resource": "pods", "name": "pod1", "uid": UIDS["pod1"]}
            ]
            assert api.bindings == [
                {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": "pod1", "namespace": NS, "uid": UIDS["pod1"]},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": GPU_NODE},
                }
            ]
            # The watch brings the written claim back; the cluster agrees with the API.
            _wait(
                lambda: (
                    cluster.get("ResourceClaim", name, NS).metadata.resource_version
                    == claim["metadata"]["resourceVersion"]
                ),
                "the claim's MODIFIED event",
            )
            body2 = {"Pod": scheduled_pod("pod2"), "NodeNames": nodes}
            got = client.post("/filter", json=body2).json()
            assert got["NodeNames"] == []
            assert got["FailedNodes"][GPU_NODE] == "cannot allocate all claims"
    finally:
        source.stop()
    assert not any(t.is_alive() for t in source._threads)


def test_failed_binding_gives_everything_back(api, serve, tmp_path: Path) -> None:
    source = KubeSource(kubeconfig=_kubeconfig(tmp_path, api.url), watch_timeout=1, retry=0.1)
    cluster = Cluster()
    source.start(cluster)
    try:
        assert source.wait_ready(10)
        extender = Extender(cluster, binder=source)
        # The pod is gone from the API server: the Binding fails with 404.
        api.delete("Pod", "pod1", NS)
        name = generated_claim("pod1")["metadata"]["name"]
        before = api.get("ResourceClaim", name, NS)
        server = serve(create_app(extender))
        with httpx.Client(base_url=server.url, timeout=30) as client:
            body = {"Pod": scheduled_pod("pod1"), "NodeNames": [GPU_NODE]}
            assert client.post("/filter", json=body).json()["NodeNames"] == [GPU_NODE]
            got = client.post(
                "/bind", json={"PodName": "pod1", "PodNamespace": NS, "Node": GPU_NODE}
            ).json()
            assert 'pods "pod1" not found' in got["Error"]
            # The status write was undone in the API and in the cluster; the GPU is free.
            after = api.get("ResourceClaim", name, NS)
            assert after.get("status", {}) == before.get("status", {})
            _wait(
                lambda: (
                    cluster.get("ResourceClaim", name, NS).status is None
                    or cluster.get("ResourceClaim", name, NS).status.allocation is None
                ),
                "the undone claim",
            )
            body2 = {"Pod": scheduled_pod("pod2"), "NodeNames": [GPU_NODE]}
            assert client.post("/filter", json=body2).json()["NodeNames"] == [GPU_NODE]
    finally:
        source.stop()


def test_unreachable_api_server_is_not_ready_and_stops(tmp_path: Path) -> None:
    closed = FakeAPIServer([])
    url = closed.url
    closed.close()
    source = KubeSource(kubeconfig=_kubeconfig(tmp_path, url), watch_timeout=1, retry=0.05)
    source.start(Cluster())
    try:
        assert not source.wait_ready(0.5)
    finally:
        source.stop()
    assert not any(t.is_alive() for t in source._threads)


def test_an_extended_resource_claim_is_created_and_named_in_the_pod(serve, tmp_path: Path) -> None:
    # KEP-5004 through the API: dra-example-driver's pod0 asks for
    # deviceclass.resource.kubernetes.io/gpu.example.com; bind creates the claim with the
    # finalizer, writes its status, patches the pod's extendedResourceClaimStatus, binds.
    pod0, pod1 = demo_pod("pod0"), demo_pod("pod1")
    pod0["kind"] = pod1["kind"] = "Pod"
    objects = [node(EXAMPLE_NODE), example_class(None), *example_slices(), pod0, pod1]
    api = FakeAPIServer(objects)
    source = KubeSource(kubeconfig=_kubeconfig(tmp_path, api.url), watch_timeout=1, retry=0.1)
    cluster = Cluster()
    source.start(cluster)
    try:
        assert source.wait_ready(10)
        server = serve(create_app(Extender(cluster, binder=source)))
        with httpx.Client(base_url=server.url, timeout=30) as client:
            body = {"Pod": pod0, "NodeNames": [EXAMPLE_NODE]}
            assert client.post("/filter", json=body).json()["NodeNames"] == [EXAMPLE_NODE]
            bind = {"PodName": "pod0", "PodNamespace": DEMO_NS, "Node": EXAMPLE_NODE}
            assert client.post("/bind", json=bind).json() == {"Error": ""}
            (claim,) = api.store["ResourceClaim"].values()
            name = claim["metadata"]["name"]
            assert name.startswith("pod0-extended-resources-")
            assert claim["metadata"]["annotations"] == {
                "resource.kubernetes.io/extended-resource-claim": "true"
            }
            assert claim["metadata"]["finalizers"] == ["resource.kubernetes.io/delete-protection"]
            assert claim["metadata"]["ownerReferences"][0]["uid"] == "uid-pod0"
            (result,) = claim["status"]["allocation"]["devices"]["results"]
            assert result["request"] == "container-0-request-0"
            assert claim["status"]["reservedFor"] == [
                {"resource": "pods", "name": "pod0", "uid": "uid-pod0"}
            ]
            pod = api.get("Pod", "pod0", DEMO_NS)
            assert pod["status"]["extendedResourceClaimStatus"] == {
                "resourceClaimName": name,
                "requestMappings": [
                    {
                        "containerName": "ctr0",
                        "resourceName": "deviceclass.resource.kubernetes.io/gpu.example.com",
                        "requestName": "container-0-request-0",
                    }
                ],
            }
            assert pod["spec"]["nodeName"] == EXAMPLE_NODE
            # The watch brings the created claim back under the same name: one claim.
            _wait(
                lambda: (
                    cluster.get("ResourceClaim", name, DEMO_NS).metadata.resource_version
                    == claim["metadata"]["resourceVersion"]
                ),
                "the created claim's events",
            )
            assert len(cluster.objects("ResourceClaim")) == 1
            # A binding that fails: the created claim is deleted again.
            api.delete("Pod", "pod1", DEMO_NS)
            body = {"Pod": pod1, "NodeNames": [EXAMPLE_NODE]}
            pod1["spec"]["containers"][0]["resources"] = {
                "requests": {"deviceclass.resource.kubernetes.io/gpu.example.com": "1"}
            }
            assert client.post("/filter", json={"Pod": pod1, "NodeNames": [EXAMPLE_NODE]}).json()[
                "NodeNames"
            ] == [EXAMPLE_NODE]
            bind = {"PodName": "pod1", "PodNamespace": DEMO_NS, "Node": EXAMPLE_NODE}
            assert 'pods "pod1" not found' in client.post("/bind", json=bind).json()["Error"]
            assert [c["metadata"]["name"] for c in api.store["ResourceClaim"].values()] == [name]
            _wait(lambda: len(cluster.objects("ResourceClaim")) == 1, "the claim given back")
    finally:
        source.stop()
        api.close()


def test_binding_conditions_through_the_api(serve, tmp_path: Path) -> None:
    # KEP-5007 with an API server: the first bind creates and writes the claim (the
    # controller must see the allocation) and answers Error (waiting); once the device's
    # binding condition is true in the API, the next bind binds the pod.
    slices = example_slices()
    for device in slices[0]["spec"]["devices"]:
        device["bindingConditions"] = ["example.com/attached"]
        device["bindingFailureConditions"] = ["example.com/attach-failed"]
    pod0 = demo_pod("pod0")
    pod0["kind"] = "Pod"
    api = FakeAPIServer([node(EXAMPLE_NODE), example_class(None), *slices, pod0])
    source = KubeSource(kubeconfig=_kubeconfig(tmp_path, api.url), watch_timeout=1, retry=0.1)
    cluster = Cluster()
    source.start(cluster)
    try:
        assert source.wait_ready(10)
        server = serve(create_app(Extender(cluster, binder=source)))
        with httpx.Client(base_url=server.url, timeout=30) as client:
            body = {"Pod": pod0, "NodeNames": [EXAMPLE_NODE]}
            assert client.post("/filter", json=body).json()["NodeNames"] == [EXAMPLE_NODE]
            bind = {"PodName": "pod0", "PodNamespace": DEMO_NS, "Node": EXAMPLE_NODE}
            error = client.post("/bind", json=bind).json()["Error"]
            assert "waiting for binding conditions (KEP-5007)" in error
            (claim,) = api.store["ResourceClaim"].values()
            allocation = claim["status"]["allocation"]
            assert allocation["allocationTimestamp"].endswith("Z")
            (result,) = allocation["devices"]["results"]
            assert result["bindingConditions"] == ["example.com/attached"]
            assert api.bindings == []
            # the controller attaches the device and says so
            claim["status"]["devices"] = [
                {
                    "driver": result["driver"],
                    "pool": result["pool"],
                    "device": result["device"],
                    "conditions": [
                        {
                            "type": "example.com/attached",
                            "status": "True",
                            "reason": "Attached",
                            "message": "",
                            "lastTransitionTime": "2026-12-06T05:00:00Z",
                        }
                    ],
                }
            ]
            api.put(claim)
            name = claim["metadata"]["name"]
            _wait(
                lambda: bool(cluster.get("ResourceClaim", name, DEMO_NS).status.devices),
                "the device's condition in the Cluster",
            )
            # kube-scheduler's retry (the pod now names its claim in status)
            pod = api.get("Pod", "pod0", DEMO_NS)
            body = {"Pod": pod, "NodeNames": [EXAMPLE_NODE]}
            assert client.post("/filter", json=body).json()["NodeNames"] == [EXAMPLE_NODE]
            assert client.post("/bind", json=bind).json() == {"Error": ""}
            assert [b["target"]["name"] for b in api.bindings] == [EXAMPLE_NODE]
            assert [c["metadata"]["name"] for c in api.store["ResourceClaim"].values()] == [name]
    finally:
        source.stop()
        api.close()
