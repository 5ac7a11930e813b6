"""Load test of ``dra-core extender`` over HTTP on loopback: 500 nodes × 10 devices.

Run: ``python benchmarks/bench_extender.py`` (``--clients 16 --requests 2000
--seconds 60``). The server runs in its own process (uvicorn serving
:func:`dra_core.extender.create_app`, as ``dra-core extender`` does) on 127.0.0.1; the
clients are ``--clients`` concurrent httpx connections in this process. Bounded: each
phase stops after its number of requests or its time limit, whichever comes first, and
the server process is stopped at the end (SIGTERM: a graceful shutdown).

Phases (kube-scheduler's calls with ``nodeCacheCapable: true``: the pod and 500 node
names in, node names and reasons out):

- ``filter``: pods with a claim for one GPU each, cycling over 64 claims, against all
  500 nodes (the state does not change: the steady state between bindings);
- ``prioritize``: the same pods, best-fit scores (CP-SAT per distinct node);
- ``bind``: pods bound one after the other (each one a reserve), interleaved with
  filters from the other clients, so that filters see a changing cluster.

Targets of issue 11: 0 errors, filter p99 ≤ 50 ms, ≥ 300 filter requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NODES = 500
DEVICES = 10
CLAIMS = 64
NAMESPACE = "bench"
SERVER_PID = [0]
INLINE_SECONDS = [0.02]


def cluster_objects(nodes: int = NODES, devices: int = DEVICES) -> list[dict[str, Any]]:
    """Nodes with ``devices`` GPUs each, a class, and claims for one GPU (not allocated)."""
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "gpu.example.com"},
            "spec": {"selectors": [{"cel": {"expression": "device.driver == 'gpu.example.com'"}}]},
        }
    ]
    for n in range(nodes):
        name = f"node-{n:04d}"
        objects.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        objects.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": f"{name}-gpus"},
                "spec": {
                    "driver": "gpu.example.com",
                    "nodeName": name,
                    "pool": {"name": name, "generation": 1, "resourceSliceCount": 1},
                    "devices": [
                        {
                            "name": f"gpu-{d}",
                            "attributes": {
                                "index": {"int": d},
                                "model": {"string": "LATEST-GPU-MODEL"},
                            },
                            "capacity": {"memory": {"value": "80Gi"}},
                        }
                        for d in range(devices)
                    ],
                },
            }
        )
    for c in range(CLAIMS * 8):
        objects.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": f"claim-{c}", "namespace": NAMESPACE},
                "spec": {
                    "devices": {
                        "requests": [
                            {"name": "gpu", "exactly": {"deviceClassName": "gpu.example.com"}}
                        ]
                    }
                },
            }
        )
    return objects


def pod(c: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"pod-{c}", "namespace": NAMESPACE, "uid": f"uid-{c}"},
        "spec": {
            "containers": [{"name": "ctr", "resources": {"claims": [{"name": "gpu"}]}}],
            "resourceClaims": [{"name": "gpu", "resourceClaimName": f"claim-{c}"}],
        },
    }


def serve(port: int) -> None:
    """The server process: the extender over a Cluster of :func:`cluster_objects`."""
    import uvicorn

    from dra_core.cluster import Cluster
    from dra_core.extender import Extender, create_app

    cluster = Cluster(cluster_objects())
    extender = Extender(cluster)
    app = create_app(extender, inline_filter_seconds=INLINE_SECONDS[0])
    # as `dra-core extender` does once the state is loaded (_server.prepare_when_ready)
    extender.warm_up()
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Answer:
    """An HTTP response as far as the load test reads it (httpx's names)."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content
        self.text = content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _RawClient:
    """A lean HTTP/1.1 keep-alive client on asyncio streams, for ``--client raw``.

    kube-scheduler's Go client costs tens of microseconds per request; httpx costs about
    0.8 ms of CPU, on the same two cores as the server, and its event loop's queueing
    enters the latencies measured. This client writes the request and reads the status
    line, the headers and a ``Content-Length`` body (what uvicorn answers); anything
    else is an error of the request.
    """

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self._address = (host, int(port))
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def _request(self, method: str, path: str, body: bytes) -> _Answer:
        if self._streams is None:
            self._streams = await asyncio.open_connection(*self._address)
        reader, writer = self._streams
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self._address[0]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        try:
            status = int((await reader.readline()).split(b" ", 2)[1])
            length = None
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None:
                raise OSError("an answer without Content-Length")
            content = await reader.readexactly(length)
        except (IndexError, ValueError, asyncio.IncompleteReadError) as exc:
            await self.aclose()
            raise OSError(f"a broken answer: {exc!r}") from exc
        return _Answer(status, content)

    async def post(self, path: str, content: bytes) -> _Answer:
        return await self._request("POST", path, content)

    async def get(self, path: str) -> _Answer:
        return await self._request("GET", path, b"")

    async def aclose(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None

    async def __aenter__(self) -> _RawClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _phase(
    http: list[Any],
    requests: int,
    seconds: float,
    make: Any,
) -> dict[str, Any]:
    """Run ``requests`` requests over the open clients ``http`` (one at a time each).

    The clients are made and connected before (see :func:`_run`): making an
    ``httpx.AsyncClient`` loads the CA bundle into an SSL context, 40-120 ms of CPU on
    the clients' event loop, and when the 16 clients were made inside the timed phase
    the first request of each waited for the clients made after it (the one request of
    360-640 ms in every run).
    """
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(requests))
    deadline = time.monotonic() + seconds

    async def client(client_id: int) -> None:
        for i in counter:
            if time.monotonic() > deadline:
                return
            verb, body, check = make(i, client_id)
            started = time.perf_counter()
            try:
                response = await http[client_id].post(f"/{verb}", content=body)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    errors.append(f"{verb}: HTTP {response.status_code}")
                elif not check(response.json()):
                    errors.append(f"{verb}: unexpected answer {response.text[:200]}")
                else:
                    latencies.append(elapsed)
            except (httpx.HTTPError, OSError) as exc:
                errors.append(f"{verb}: {type(exc).__name__}: {exc}")

    started = time.perf_counter()
    server_cpu = _cpu_seconds(SERVER_PID[0])
    client_cpu = time.process_time()
    await asyncio.gather(*(client(i) for i in range(len(http))))
    wall = time.perf_counter() - started
    server_cpu = _cpu_seconds(SERVER_PID[0]) - server_cpu
    client_cpu = time.process_time() - client_cpu
    done = len(latencies) + len(errors)
    return {
        "server_cpu_ms_per_request": round(server_cpu / done * 1000, 2) if done else None,
        "client_cpu_ms_per_request": round(client_cpu / done * 1000, 2) if done else None,
        "load_average": os.getloadavg()[0],
        "requests": done,
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": round(wall, 2),
        "requests_per_s": round(done / wall, 1) if wall else 0.0,
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2) if latencies else None,
        "max_ms": round(max(latencies) * 1000, 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
    }


async def _server_buckets(http: Any, verb: str) -> dict[str, float]:
    """The server's latency histogram of ``verb`` (cumulative counts by ``le``)."""
    text = (await http.get("/metrics")).text
    buckets: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith('dra_core_extender_request_duration_seconds_bucket{le="') and (
            f'verb="{verb}"' in line
        ):
            le = line.split('le="')[1].split('"')[0]
            buckets[le] = float(line.rsplit(" ", 1)[1])
    return buckets


async def _run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    names = [f"node-{n:04d}" for n in range(NODES)]
    bodies = [
        json.dumps({"Pod": pod(c), "Nodes": None, "NodeNames": names}).encode()
        for c in range(CLAIMS * 8)
    ]

    def filter_request(i: int, _: int) -> Any:
        return "filter", bodies[i % CLAIMS], lambda r: len(r["NodeNames"]) == NODES

    def prioritize_request(i: int, _: int) -> Any:
        return "prioritize", bodies[i % CLAIMS], lambda r: len(r) == NODES

    bound = iter(range(CLAIMS, CLAIMS * 8))

    def mixed_request(i: int, client_id: int) -> Any:
        # client 0 binds pods one after the other; the others filter
        if client_id == 0:
            c = next(bound, None)
            if c is not None:
                body = {
                    "PodName": f"pod-{c}",
                    "PodNamespace": NAMESPACE,
                    "PodUID": f"uid-{c}",
                    "Node": names[c % NODES],
                }
                # the extender must have seen the pod: filter told it (see below)
                return "bind", json.dumps(body).encode(), lambda r: r == {"Error": ""}
        return "filter", bodies[i % CLAIMS], lambda r: len(r["NodeNames"]) == NODES

    import httpx

    async with contextlib.AsyncExitStack() as stack:
        http = [
            await stack.enter_async_context(
                _RawClient(url)
                if args.client == "raw"
                else httpx.AsyncClient(base_url=url, timeout=30)
            )
            for _ in range(args.clients)
        ]
        out: dict[str, Any] = {}
        # warm-up, untimed: every client opens its connection (kept alive after, as
        # kube-scheduler's are), and the first filter of each claim fills the caches
        await _phase(http, CLAIMS * 2, args.seconds, filter_request)
        phases = args.phases.split(",")
        if "filter" in phases:
            before = await _server_buckets(http[0], "filter")
            out["filter"] = await _phase(http, args.requests, args.seconds, filter_request)
            after = await _server_buckets(http[0], "filter")
            out["filter"]["server_le"] = {le: after[le] - before.get(le, 0.0) for le in after}
        if "prioritize" in phases:
            out["prioritize"] = await _phase(
                http, max(args.requests // 4, 1), args.seconds, prioritize_request
            )
        if "filter+bind" not in phases:
            return out
        # the pods to bind are made known to the extender by one filter each
        seen = [
            (
                "filter",
                bodies[c],
                lambda r: len(r["NodeNames"]) == NODES,
            )
            for c in range(CLAIMS, CLAIMS * 8)
        ]
        await _phase(http[:4], len(seen), args.seconds, lambda i, _: seen[i])
        out["filter+bind"] = await _phase(http, args.requests, args.seconds, mixed_request)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000, help="per phase (2000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="limit per phase (60)")
    parser.add_argument(
        "--phases", default="filter,prioritize,filter+bind", help="comma-separated phases"
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="the load generator's HTTP client: raw (lean, asyncio streams) or httpx",
    )
    parser.add_argument(
        "--inline-seconds",
        type=float,
        default=0.02,
        help="create_app(inline_filter_seconds=...): 0 runs every filter in a worker thread",
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        INLINE_SECONDS[0] = args.inline_seconds
        serve(args.serve)
        return 0
    port = _free_port()
    env = dict(os.environ)
    # the server imports the dra_core this process would (PYTHONPATH made absolute)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep)
        )
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(port),
            "--inline-seconds",
            str(args.inline_seconds),
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    SERVER_PID[0] = server.pid
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start within 120 s"
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        results = asyncio.run(_run(url, args))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
    print(f"{NODES} nodes x {DEVICES} devices, {args.clients} concurrent clients, loopback")
    print(
        f"{'phase':<12} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8}"
    )
    for phase, r in results.items():
        print(
            f"{phase:<12} {r['requests']:>8} {r['errors']:>6} {r['requests_per_s']:>8} "
            f"{r['p50_ms']!s:>8} {r['p99_ms']!s:>8} {r['max_ms']!s:>8}"
            f" {r['server_cpu_ms_per_request']!s:>18} {r['client_cpu_ms_per_request']!s:>18}"
            f" {r['load_average']:>8.2f}"
        )
        for error in r["first_errors"]:
            print(f"    {error}")
    # The server's own view of the filter phase (from the start of the handler to its
    # answer, waiting for a worker thread included; not the client's queueing, nor
    # the socket's).
    buckets = results.get("filter", {}).get("server_le", {})
    if buckets.get("+Inf"):
        total = buckets["+Inf"]
        print(
            "server side, filter phase: "
            + ", ".join(
                f"≤{float(le) * 1000:g} ms {buckets[le] / total:.1%}"
                for le in ("0.0025", "0.005", "0.01", "0.025", "0.05", "0.1")
                if le in buckets
            )
        )
    return 1 if any(r["errors"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
