"""``dra-core extender`` as a process: start, serve on loopback, TLS, SIGTERM."""

from __future__ import annotations

import json
import shutil
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from extender_fixtures import GPU_NODE, NS, free_port, scheduled_pod, write_manifests

from dra_core.cli import main


def _start(args: list[str]) -> subprocess.Popen[str]:
    code = "import sys; from dra_core.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, "extender", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_ready(process: subprocess.Popen[str], url: str, **client: object) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate(timeout=10)
        assert time.monotonic() < deadline, "not ready within 60 s"
        try:
            if httpx.get(url + "/readyz", timeout=1, **client).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=10)
        raise
    return process.returncode, err


def test_serves_manifests_and_shuts_down_on_sigterm(tmp_path: Path) -> None:
    write_manifests(tmp_path / "m")
    port = free_port()
    process = _start(["--manifests", str(tmp_path / "m"), "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, url)
        body = {"Pod": scheduled_pod("pod1"), "NodeNames": [GPU_NODE]}
        answer = httpx.post(url + "/filter", content=json.dumps(body), timeout=30).json()
        assert answer["NodeNames"] == [GPU_NODE]
        bind = {"PodName": "pod1", "PodNamespace": NS, "Node": GPU_NODE}
        assert httpx.post(url + "/bind", json=bind, timeout=30).json() == {"Error": ""}
    finally:
        code, err = _stop(process)
    # uvicorn finishes the requests in flight and the lifespan, then re-raises SIGTERM
    # (so the exit status says how it ended).
    assert code in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_with_client_certificates(tmp_path: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    ca_key, ca = tmp_path / "ca.key", tmp_path / "ca.crt"
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out",
        str(ca), "-days", "1", "-subj", "/CN=test-ca")  # fmt: skip
    ext = tmp_path / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    for name in ("server", "client"):
        key, csr, crt = (tmp_path / f"{name}.{s}" for s in ("key", "csr", "crt"))
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
            "-subj", f"/CN={name}")  # fmt: skip
        run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(crt), "-days", "1", "-extfile", str(ext))  # fmt: skip
    write_manifests(tmp_path / "m")
    port = free_port()
    process = _start(
        [
            "--manifests", str(tmp_path / "m"), "--port", str(port),
            "--tls-cert", str(tmp_path / "server.crt"), "--tls-key", str(tmp_path / "server.key"),
            "--client-ca", str(ca),
        ]
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    with_cert = ssl.create_default_context(cafile=str(ca))
    with_cert.load_cert_chain(str(tmp_path / "client.crt"), str(tmp_path / "client.key"))
    without_cert = ssl.create_default_context(cafile=str(ca))
    try:
        _wait_ready(process, url, verify=with_cert)
        with pytest.raises(httpx.HTTPError):  # no client certificate: refused
            httpx.get(url + "/healthz", verify=without_cert, timeout=5)
        with pytest.raises(httpx.HTTPError):  # plain HTTP: refused
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        ok = httpx.get(url + "/healthz", verify=with_cert, timeout=5)
        assert ok.text == "ok\n"
    finally:
        code, err = _stop(process)
    assert code in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "exactly one of --manifests DIR, --kubeconfig PATH, --in-cluster"),
        (["--manifests", "x", "--kubeconfig", "y"], "exactly one of"),
        (["--manifests", "/nonexistent-dir"], "not a folder"),
        (["--manifests", ".", "--tls-cert", "c"], "--tls-cert and --tls-key go together"),
        (["--manifests", ".", "--client-ca", "c"], "--client-ca needs --tls-cert"),
        (["--kubeconfig", "/nonexistent/kubeconfig"], "cannot load the Kubernetes configuration"),
    ],
)
def test_bad_options_are_errors_without_traceback(capsys, args, words) -> None:
    assert main(["extender", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_bad_manifest_is_an_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.yaml").write_text("kind: ResourceSlice\napiVersion: resource.k8s.io/v1\n"
                                       "metadata: {name: s}\nspec: {driver: 5}\n")  # fmt: skip
    assert main(["extender", "--manifests", str(tmp_path)]) == 2
    assert "bad.yaml" in capsys.readouterr().err
