"""Helpers of the extender tests: the gpu-test1 objects and a server on loopback.

Not a conftest.py: test modules elsewhere import ``conftest`` by name (tests/conftest.py),
and a second conftest module would shadow it. Test modules import the ``serve`` fixture
from here.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")

REALDATA = Path(__file__).resolve().parent.parent / "data" / "realdata" / "kubernetes-sigs"
NVIDIA = REALDATA / "dra-driver-nvidia-gpu"
GPU_TEST1 = NVIDIA / "demo/specs/quickstart/v1/gpu-test1.yaml"
NVIDIA_CLASS = NVIDIA / "deployments/helm/dra-driver-nvidia-gpu/templates/deviceclass-gpu.yaml"
EXAMPLE_SLICES = REALDATA / "dra-example-driver/README.md.block1-L188-320.yaml"
EXAMPLE = REALDATA / "dra-example-driver"
DEMO = EXAMPLE / "demo/examples/extended-resource-request/extended-resource-request.yaml"
CLASS_TEMPLATE = EXAMPLE / "deployments/helm/dra-example-driver/templates/deviceclass.yaml"
#: The namespace of dra-example-driver's extended-resource-request demo (KEP-5004).
DEMO_NS = "extended-resource-request"

GPU_NODE = "gpu-node"
EXAMPLE_NODE = "dra-example-driver-cluster-worker"
NS = "gpu-test1"
UIDS = {
    "pod1": "0e0c3c5e-0000-4000-8000-000000000001",
    "pod2": "0e0c3c5e-0000-4000-8000-000000000002",
}


def nvidia_class() -> dict[str, Any]:
    """The NVIDIA DeviceClass, rendered from its helm template for resource.k8s.io/v1."""
    lines = []
    for line in NVIDIA_CLASS.read_text().splitlines():
        if "{{-" in line:
            continue  # the template's if/end lines
        lines.append(line.replace("{{ $resourceApiVersion }}", "resource.k8s.io/v1"))
    docs = [d for d in yaml.safe_load_all("\n".join(lines)) if d]
    assert len(docs) == 1 and docs[0]["kind"] == "DeviceClass"
    return dict(docs[0])


def gpu_test1() -> dict[str, dict[str, Any]]:
    """The documents of NVIDIA's gpu-test1 demo, by kind/name."""
    docs = [d for d in yaml.safe_load_all(GPU_TEST1.read_text()) if d]
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def nvidia_gpu_slice(node: str = GPU_NODE, gpus: int = 1) -> dict[str, Any]:
    """A slice shaped like the NVIDIA driver's for a node with ``gpus`` whole GPUs.

    Built here: the real manifests have no complete NVIDIA slice (the driver's docs
    elide the devices).
    """
    devices = []
    for i in range(gpus):
        devices.append(
            {
                "name": f"gpu-{i}",
                "attributes": {
                    "type": {"string": "gpu"},
                    "index": {"int": i},
                    "uuid": {"string": f"GPU-4cf8db2d-06c0-7d70-1a51-e59b25b2c16{i}"},
                    "productName": {"string": "NVIDIA A100-SXM4-40GB"},
                    "architecture": {"string": "Ampere"},
                    "driverVersion": {"version": "550.54.15"},
                },
                "capacity": {"memory": {"value": "40Gi"}},
            }
        )
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": f"{node}-gpu.nvidia.com-x7k2p"},
        "spec": {
            "driver": "gpu.nvidia.com",
            "nodeName": node,
            "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
            "devices": devices,
        },
    }


def example_slices() -> list[dict[str, Any]]:
    """The 8-GPU ResourceSlice of dra-example-driver's README (kubectl get output)."""
    doc = yaml.safe_load(EXAMPLE_SLICES.read_text())
    return [i for i in doc["items"] if i["kind"] == "ResourceSlice"]


def example_class(extended_resource_name: str | None) -> dict[str, Any]:
    """The example driver's DeviceClass, rendered from its helm template."""
    text = CLASS_TEMPLATE.read_text()
    text = text.replace(
        '{{ include "dra-example-driver.resourceApiVersion" . }}', "resource.k8s.io/v1"
    )
    text = text.replace('{{ include "dra-example-driver.driverName" . }}', "gpu.example.com")
    lines = [line for line in text.splitlines() if "{{" not in line]
    doc = dict(yaml.safe_load("\n".join(lines)))
    if extended_resource_name:
        doc["spec"]["extendedResourceName"] = extended_resource_name
    return doc


def demo_pod(name: str) -> dict[str, Any]:
    """A pod of the demo as kube-scheduler sends it (a UID, requests defaulted from limits)."""
    docs = [d for d in yaml.safe_load_all(DEMO.read_text()) if d and d["kind"] == "Pod"]
    pod = next(d for d in docs if d["metadata"]["name"] == name)
    pod["metadata"]["uid"] = f"uid-{name}"
    for container in pod["spec"]["containers"]:
        resources = container["resources"]
        resources.setdefault("requests", dict(resources["limits"]))
    pod["status"] = {"phase": "Pending"}
    return pod


def node(name: str) -> dict[str, Any]:
    meta = {"name": name, "labels": {"kubernetes.io/hostname": name}}
    return {"apiVersion": "v1", "kind": "Node", "metadata": meta}


def generated_claim(pod: str) -> dict[str, Any]:
    """The claim kube's claim controller makes from the single-gpu template for ``pod``."""
    template = gpu_test1()["ResourceClaimTemplate/single-gpu"]
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {
            "name": f"{pod}-gpu-{UIDS[pod][-5:]}",
            "namespace": NS,
            "annotations": {"resource.kubernetes.io/pod-claim-name": "gpu"},
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": pod,
                    "uid": UIDS[pod],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": template["spec"]["spec"],
    }


def scheduled_pod(name: str, *, with_status: bool = True) -> dict[str, Any]:
    """The pod as kube-scheduler sends it: the manifest, a UID, the claim statuses."""
    pod = dict(gpu_test1()[f"Pod/{name}"])
    pod["metadata"] = {**pod["metadata"], "uid": UIDS[name]}
    pod["status"] = {"phase": "Pending"}
    if with_status:
        pod["status"]["resourceClaimStatuses"] = [
            {"name": "gpu", "resourceClaimName": generated_claim(name)["metadata"]["name"]}
        ]
    return pod


def cluster_objects() -> list[dict[str, Any]]:
    return [
        node(GPU_NODE),
        node(EXAMPLE_NODE),
        nvidia_class(),
        nvidia_gpu_slice(),
        *example_slices(),
        gpu_test1()["ResourceClaimTemplate/single-gpu"],
        generated_claim("pod1"),
        generated_claim("pod2"),
    ]


def write_manifests(folder: Path) -> None:
    """Write the story's objects as files, as a user would keep them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gpu-test1.yaml").write_text(GPU_TEST1.read_text())
    (folder / "deviceclass.yaml").write_text(yaml.safe_dump(nvidia_class()))
    (folder / "example-driver-slices.yaml").write_text(EXAMPLE_SLICES.read_text())
    (folder / "nvidia-slice.yaml").write_text(yaml.safe_dump(nvidia_gpu_slice()))
    (folder / "nodes.yaml").write_text(yaml.safe_dump_all([node(GPU_NODE), node(EXAMPLE_NODE)]))
    (folder / "claims.yaml").write_text(
        yaml.safe_dump_all([generated_claim("pod1"), generated_claim("pod2")])
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LoopbackServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a thread; stopped by ``close``."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive(), "the server did not start"
            assert time.monotonic() < deadline, "the server did not start within 10 s"
            time.sleep(0.01)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture(name="serve")
def serve_fixture() -> Iterator[Any]:
    servers: list[LoopbackServer] = []

    def start(app: Any) -> LoopbackServer:
        server = LoopbackServer(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
