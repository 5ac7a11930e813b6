"""`dra-core capacity` and the library's answers to bad input.

The command reads real manifests (the dra-example-driver README's slice, its gpu-test1
demo), prints a table a person reads (per node, and the cluster), JSON/YAML for programs,
and with ``--pod`` the pod's demand and how many more copies fit. Bad input is a typed
error (library) or a clean message with exit status 2 (command), never a traceback and
never a wrong number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import dra_core
from conftest import data_path
from dra_core.cli import main
from dra_core.cluster import Cluster
from dra_core.cluster._capacity import capacity, demand, how_many
from dra_core.errors import InputError, ObjectNotFoundError

EXAMPLE = ("realdata", "kubernetes-sigs", "dra-example-driver")
README = (*EXAMPLE, "README.md.block1-L188-320.yaml")
GPU_TEST1 = ("realdata", "kubernetes-sigs", "dra-example-driver@922f681", "demo", "gpu-test1.yaml")

GPU_CLASS = {
    "apiVersion": "resource.k8s.io/v1",
    "kind": "DeviceClass",
    "metadata": {"name": "gpu.example.com"},
    "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.example.com'"}}]},
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, str]:
    klass = tmp_path / "class.yaml"
    klass.write_text(yaml.safe_dump(GPU_CLASS))
    docs = [d for d in yaml.safe_load_all(data_path(*GPU_TEST1).read_text()) if d]
    pod = tmp_path / "pod.yaml"
    pod.write_text(yaml.safe_dump(next(d for d in docs if d["kind"] == "Pod")))
    return {
        "slices": str(data_path(*README)),
        "class": str(klass),
        "demo": str(data_path(*GPU_TEST1)),
        "pod": str(pod),
        "tmp": str(tmp_path),
    }


def test_table_per_node_and_cluster(capsys: pytest.CaptureFixture[str], files: Any) -> None:
    status, out, err = _run(capsys, "capacity", files["slices"], files["class"])
    assert status == 0, err
    assert "Per node" in out and "Cluster (each device once)" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("dra-example-driver"))
    assert line.split()[1:7] == ["gpu.example.com", "8", "0", "8", "0", "0"]
    assert "assumed to exist" in out  # the README has the slice, not its node


def test_json_and_yaml(capsys: pytest.CaptureFixture[str], files: Any) -> None:
    status, out, _ = _run(capsys, "capacity", files["slices"], files["class"], "-o", "json")
    data = json.loads(out)
    assert status == 0 and data["by"] == "class"
    assert data["totals"][0] | {"capacity": None} == {
        "node": "",
        "key": "gpu.example.com",
        "total": 8,
        "allocated": 0,
        "free": 8,
        "tainted": 0,
        "unavailable": 0,
        "unknown": 0,
        "source": "dra",
        "capacity": None,
    }
    status, out, _ = _run(capsys, "capacity", files["slices"], files["class"], "-o", "yaml")
    assert status == 0 and yaml.safe_load(out)["rows"] == data["rows"]


def test_pod_demand_and_how_many(capsys: pytest.CaptureFixture[str], files: Any) -> None:
    status, out, err = _run(
        capsys, "capacity", files["slices"], files["class"], files["demo"], "--pod", files["pod"]
    )
    assert status == 0, err
    assert "Pod gpu-test1/pod0 asks for:" in out
    assert "claim gpu (template single-gpu)" in out and "gpu: 1 × gpu.example.com" in out
    assert "How many more fit (default): 8" in out
    assert "Why not one more: 0/1 nodes are available: 1 cannot allocate all claims." in out
    status, out, _ = _run(
        capsys,
        "capacity",
        files["slices"],
        files["class"],
        files["demo"],
        "--pod",
        files["pod"],
        "-o",
        "json",
        "--limit",
        "3",
        "--policy",
        "spread",
    )
    data = json.loads(out)
    assert data["howMany"]["count"] == 3 and data["howMany"]["reason"] == ""
    assert data["demand"]["devices"] == {"gpu.example.com": 1}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["capacity"], "give manifest files"),
        (["capacity", "/no/such/file.yaml"], "/no/such/file.yaml"),
        (["capacity", "{slices}", "--by", "not a key"], "not a key"),
        (["capacity", "{slices}", "--pod", "{tmp}/missing-template-pod.yaml"], "not found"),
        (["capacity", "{slices}", "--pod", "{slices}"], "expected one Pod"),
        (["capacity", "--kubeconfig", "{tmp}/no-kubeconfig"], "cannot read the cluster"),
        (["capacity", "{slices}", "--limit", "-1"], "--limit"),
    ],
)
def test_bad_input_is_a_clean_message(
    capsys: pytest.CaptureFixture[str], files: Any, argv: list[str], message: str
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"resourceClaims": [{"name": "c", "resourceClaimTemplateName": "nope"}]},
    }
    Path(files["tmp"], "missing-template-pod.yaml").write_text(yaml.safe_dump(pod))
    status, out, err = _run(capsys, *[a.format(**files) for a in argv])
    assert status == 2
    assert message in err and "Traceback" not in err + out


# --- the library ---------------------------------------------------------------------------


def _cluster() -> Cluster:
    objects = dra_core.load(str(data_path(*README)))
    return Cluster(
        [
            *objects,
            GPU_CLASS,
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": "dra-example-driver-cluster-worker"},
            },
        ]
    )


def test_a_pod_naming_a_missing_template_or_claim_is_a_typed_error() -> None:
    cluster = _cluster()
    for ref in ({"resourceClaimTemplateName": "nope"}, {"resourceClaimName": "nope"}):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"resourceClaims": [{"name": "c", **ref}]},
        }
        with pytest.raises(ObjectNotFoundError, match='"default/nope" not found'):
            demand(pod, cluster=cluster)
        with pytest.raises(ObjectNotFoundError):
            how_many(cluster, pod)


def test_an_unknown_attribute_gives_an_unknown_row_and_a_bad_key_an_error() -> None:
    cluster = _cluster()
    report = capacity(cluster, "gpu.example.com/noSuchAttribute")
    assert [(r.key, r.total) for r in report.rows] == [(None, 8)]
    assert report.totals[0].key is None and report.totals[0].total == 8
    with pytest.raises(InputError, match="qualified device attribute"):
        capacity(cluster, "productName")


def test_a_selector_that_fails_on_a_device_is_counted_as_unknown() -> None:
    cluster = _cluster()
    cluster.apply(
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "broken"},
            "spec": {"selectors": [{"cel": {"expression": "device.attributes['x.io'].y == 1"}}]},
        }
    )
    report = capacity(cluster)
    assert report.row("dra-example-driver-cluster-worker", "broken") == dra_core.CapacityRow(
        "dra-example-driver-cluster-worker", "broken", 0, 0, 0, unknown=8
    )


def test_bad_how_many_arguments() -> None:
    cluster = _cluster()
    claim = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "c"},
        "spec": {
            "devices": {
                "requests": [{"name": "g", "exactly": {"deviceClassName": "gpu.example.com"}}]
            }
        },
    }
    with pytest.raises(ValueError, match="unknown policy"):
        how_many(cluster, [claim], policy="best")
    with pytest.raises(ValueError, match="negative"):
        how_many(cluster, [claim], limit=-1)
    with pytest.raises(InputError, match="one Pod"):
        how_many(cluster, [GPU_CLASS])
    missing = json.loads(json.dumps(claim))
    missing["spec"]["devices"]["requests"][0]["exactly"]["deviceClassName"] = "nope"
    with pytest.raises(dra_core.AllocationInputError, match="nope"):
        how_many(cluster, [missing])


def test_demand_reports_alternatives_all_and_extended_resources() -> None:
    template = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": "t", "namespace": "ns"},
        "spec": {
            "spec": {
                "devices": {
                    "requests": [
                        {
                            "name": "big",
                            "firstAvailable": [
                                {"name": "two", "deviceClassName": "gpu.example.com", "count": 2},
                                {"name": "one", "deviceClassName": "gpu.example.com"},
                            ],
                        },
                        {
                            "name": "every",
                            "exactly": {
                                "deviceClassName": "gpu.example.com",
                                "allocationMode": "All",
                            },
                        },
                    ]
                }
            }
        },
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "resourceClaims": [{"name": "c", "resourceClaimTemplateName": "t"}],
            "containers": [
                {
                    "name": "a",
                    "resources": {
                        "limits": {
                            "deviceclass.resource.kubernetes.io/gpu.example.com": "2",
                            "example.com/foo": "1",
                        }
                    },
                }
            ],
        },
    }
    d = demand(pod, templates=[template], classes=[GPU_CLASS])
    assert [c.name for c in d.claims] == ["c", "extended-resources"]
    big, every = d.claims[0].requests
    assert big.first_available and big.describe() == (
        "first available of: 2 × gpu.example.com; 1 × gpu.example.com"
    )
    assert every.alternatives[0].count is None
    assert every.describe() == "all gpu.example.com on the node"
    assert d.extended_resources == {"deviceclass.resource.kubernetes.io/gpu.example.com": 2}
    assert list(d.other_resources) == ["example.com/foo"]
    assert d.devices() == {"gpu.example.com": 2}  # the extended resource's request
    ext = d.claims[1].requests[0]
    assert ext.name == "container-0-request-0" and ext.alternatives[0].count == 2


# --- the live mode, against a stand-in for the API server on 127.0.0.1 ------------------------

_PATHS = {
    "/api/v1/nodes": "Node",
    "/api/v1/pods": "Pod",
    "/apis/resource.k8s.io/v1/resourceslices": "ResourceSlice",
    "/apis/resource.k8s.io/v1/deviceclasses": "DeviceClass",
    "/apis/resource.k8s.io/v1/resourceclaims": "ResourceClaim",
    "/apis/resource.k8s.io/v1/resourceclaimtemplates": "ResourceClaimTemplate",
}


class _ReadOnlyAPI:
    """Lists (and empty watches) of fixed objects; records every request's method."""

    def __init__(self, objects: list[dict[str, Any]], forbidden: frozenset[str] = frozenset()):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.methods: list[str] = []
        by_path: dict[str, list[dict[str, Any]]] = {p: [] for p in _PATHS}
        for obj in objects:
            path = next(p for p, k in _PATHS.items() if k == obj["kind"])
            by_path[path].append(obj)
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                import time

                api.methods.append("GET")
                path, _, query = self.path.partition("?")
                if path not in by_path or _PATHS.get(path) in forbidden:
                    code = 403 if _PATHS.get(path) in forbidden else 404
                    body = json.dumps({"kind": "Status", "code": code, "message": "no"}).encode()
                elif "watch=true" in query:
                    time.sleep(0.2)  # an open watch with nothing to say
                    code, body = 200, b""
                else:
                    items = by_path[path]
                    body = json.dumps(
                        {"metadata": {"resourceVersion": "7"}, "items": items}
                    ).encode()
                    code = 200
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                api.methods.append("POST")
                self.send_response(405)
                self.end_headers()

            do_PUT = do_PATCH = do_DELETE = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _kubeconfig(tmp_path: Path, url: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": url}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    return str(path)


def _live_objects() -> list[dict[str, Any]]:
    listing = yaml.safe_load(data_path(*README).read_text())
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "dra-example-driver-cluster-worker"},
    }
    return [node, GPU_CLASS, *listing["items"]]


def test_live_mode_reads_and_never_writes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("kubernetes")
    api = _ReadOnlyAPI(_live_objects())
    try:
        status, out, err = _run(
            capsys, "capacity", "--kubeconfig", _kubeconfig(tmp_path, api.url), "-o", "json"
        )
    finally:
        api.close()
    assert status == 0, err
    data = json.loads(out)
    assert [(r["node"], r["key"], r["free"]) for r in data["rows"]] == [
        ("dra-example-driver-cluster-worker", "gpu.example.com", 8)
    ]
    assert set(api.methods) == {"GET"}


def test_live_mode_without_rights_is_a_clean_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("kubernetes")
    api = _ReadOnlyAPI(_live_objects(), forbidden=frozenset({"ResourceClaim"}))
    try:
        status, out, err = _run(
            capsys, "capacity", "--kubeconfig", _kubeconfig(tmp_path, api.url), "--timeout", "1"
        )
    finally:
        api.close()
    assert status == 2 and "RBAC" in err and "Traceback" not in out + err


def test_a_mixed_cluster_adds_up_device_plugin_and_dra() -> None:
    klass = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": "gpu.nvidia.com"},
        "spec": {
            "extendedResourceName": "nvidia.com/gpu",
            "selectors": [{"cel": {"expression": "device.driver == 'gpu.nvidia.com'"}}],
        },
    }
    plugin = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "plugin-node"},
        "status": {"allocatable": {"nvidia.com/gpu": "4"}},
    }
    dra = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "dra-node"}}
    gpus = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": "dra-node-gpus"},
        "spec": {
            "driver": "gpu.nvidia.com",
            "nodeName": "dra-node",
            "pool": {"name": "dra-node", "generation": 1, "resourceSliceCount": 1},
            "devices": [{"name": "gpu-0"}, {"name": "gpu-1"}],
        },
    }
    running = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "running"},
        "spec": {
            "nodeName": "plugin-node",
            "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}],
        },
    }
    wants = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "wants"},
        "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "2"}}}]},
    }
    cluster = Cluster([klass, plugin, dra, gpus])
    report = capacity(cluster, "extendedResource", pods=[running])
    assert report.row("plugin-node", "nvidia.com/gpu", "device-plugin")[2:5] == (4, 1, 3)
    assert report.row("dra-node", "nvidia.com/gpu")[2:5] == (2, 0, 2)
    answer = how_many(cluster, wants, pods=[running])
    # 3 free on the plugin node: one copy of 2; 2 GPUs through DRA: one more.
    assert (answer.count, dict(answer.nodes)) == (2, {"plugin-node": 1, "dra-node": 1})
    assert answer.reason == (
        "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 cannot allocate all claims."
    )
    assert how_many(cluster, wants, policy="max", pods=[running]).count == 2
