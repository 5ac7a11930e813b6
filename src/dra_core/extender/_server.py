"""``dra-core extender``: serve the extender with uvicorn.

The state comes from ``--manifests DIR`` or from an API server (``--kubeconfig PATH``,
or the in-cluster service account with ``--in-cluster``). The server listens on
127.0.0.1 unless ``--host`` says otherwise, speaks TLS with ``--tls-cert``/``--tls-key``
(and verifies client certificates against ``--client-ca``), refuses bodies over
``--max-body-bytes`` with 413, and shuts down gracefully on SIGTERM or SIGINT: it stops
accepting, lets the requests in flight finish (up to ``--shutdown-timeout`` seconds),
then stops the state source.
"""

from __future__ import annotations

import gc
import logging
import ssl
import threading
from dataclasses import dataclass
from typing import Any

from dra_core.errors import DraCoreError
from dra_core.extender._app import DEFAULT_MAX_BODY_BYTES, POLICIES, Extender, create_app
from dra_core.extender._sources import KubeSource, ManifestSource, StateSource

__all__ = ["ServerOptions", "build", "prepare_when_ready", "serve"]


@dataclass(frozen=True)
class ServerOptions:
    """The options of ``dra-core extender`` (see its ``--help``)."""

    manifests: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    host: str = "127.0.0.1"
    port: int = 8888
    tls_cert: str | None = None
    tls_key: str | None = None
    client_ca: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    policy: str = "best-fit"
    engine: str = "auto"
    timeout: float = 4.0
    binding_timeout: float = 600.0
    poll_interval: float = 1.0
    shutdown_timeout: float = 10.0
    log_level: str = "info"


def build(options: ServerOptions) -> tuple[Any, StateSource]:
    """Return the ASGI app and its state source for ``options``.

    The source is not started: ``source.start(app.state.extender.cluster)`` (the app
    stops it when it shuts down).

    Raises:
        DraCoreError: options that do not go together.

    """
    from dra_core.cluster import Cluster

    if options.policy not in POLICIES:
        raise DraCoreError(f"unknown policy {options.policy!r}; known: {', '.join(POLICIES)}")
    chosen = sum(bool(x) for x in (options.manifests, options.kubeconfig, options.in_cluster))
    if chosen != 1:
        raise DraCoreError("give exactly one of --manifests DIR, --kubeconfig PATH, --in-cluster")
    if bool(options.tls_cert) != bool(options.tls_key):
        raise DraCoreError("--tls-cert and --tls-key go together")
    if options.client_ca and not options.tls_cert:
        raise DraCoreError("--client-ca needs --tls-cert and --tls-key")
    if options.max_body_bytes <= 0:
        raise DraCoreError("--max-body-bytes must be positive")
    source: StateSource
    if options.manifests:
        source = ManifestSource(options.manifests, interval=options.poll_interval)
    else:
        source = KubeSource(
            kubeconfig=options.kubeconfig, context=options.context, in_cluster=options.in_cluster
        )
    cluster = Cluster()
    # Ready once the state is loaded and the extender warmed up on it (see _prepare).
    prepared = threading.Event()
    extender = Extender(
        cluster,
        binder=source,
        policy=options.policy,
        engine=options.engine,
        timeout=options.timeout,
        binding_timeout=options.binding_timeout,
        ready=lambda: source.ready and prepared.is_set(),
    )
    app = create_app(
        extender,
        max_body_bytes=options.max_body_bytes,
        on_shutdown=[source.stop],
    )
    app.state.prepared = prepared
    return app, source


def prepare_when_ready(
    source: StateSource,
    extender: Extender,
    prepared: threading.Event,
    *,
    timeout: float = 600.0,
    freeze: bool = True,
) -> None:
    """Once the state is loaded: warm the extender up, freeze the heap, then be ready.

    - :meth:`Extender.warm_up`: the first filter would otherwise compute every node's
      equivalence key, compile the classes' selectors and build the wire models
      (150-230 ms for 500 nodes when it was measured over HTTP).
    - ``gc.freeze()``: a full collection walks every object; with 500 nodes' objects
      loaded that took about 0.3 s, a pause that showed as the tail latency of the load
      test. Objects that exist once the state is loaded (and warmed) are frozen, never
      scanned again; later changes are collected as usual.

    ``prepared`` is set last: ``/readyz`` says 200 from then on. ``freeze=False``
    leaves the garbage collector alone (for embedding and tests).
    """
    if not source.wait_ready(timeout):
        return
    try:
        seconds = extender.warm_up()
        logging.getLogger("dra_core.extender").info("warmed up in %.3f s", seconds)
    except Exception:  # never keep the server unready over a warm-up
        logging.getLogger("dra_core.extender").exception("warm-up failed")
    if freeze:
        gc.collect()
        gc.freeze()
    prepared.set()


def serve(options: ServerOptions) -> int:
    """Run the server until SIGTERM or SIGINT; return the exit status."""
    import uvicorn

    app, source = build(options)
    # Started before serving, so that a bad manifest is an error of the command, and
    # /readyz says 503 until an API server's lists are in.
    try:
        source.start(app.state.extender.cluster)
    except DraCoreError:
        raise
    except Exception as exc:  # the kubernetes client's configuration errors
        where = (
            "in-cluster"
            if options.in_cluster
            else (options.kubeconfig or options.manifests or "the configuration")
        )
        raise DraCoreError(
            f"cannot load the Kubernetes configuration ({where}): {type(exc).__name__}: {exc}"
        ) from None
    threading.Thread(
        target=prepare_when_ready,
        args=(source, app.state.extender, app.state.prepared),
        name="dra-core-prepare",
        daemon=True,
    ).start()
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        ssl_certfile=options.tls_cert,
        ssl_keyfile=options.tls_key,
        ssl_ca_certs=options.client_ca,
        ssl_cert_reqs=ssl.CERT_REQUIRED if options.client_ca else ssl.CERT_NONE,
        timeout_graceful_shutdown=int(options.shutdown_timeout),
        log_level=options.log_level,
        lifespan="on",
        access_log=options.log_level == "debug",
    )
    logging.basicConfig(level=options.log_level.upper())
    server = uvicorn.Server(config)
    server.run()
    # uvicorn leaves started=False when start-up failed (a bad manifest, a port in use).
    return 0 if server.started else 2
