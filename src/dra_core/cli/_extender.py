"""``dra-core extender``: a kube-scheduler extender that allocates DRA claims.

Serves kube-scheduler's extender verbs (POST /filter, /prioritize, /bind, /preempt),
GET /healthz, /readyz and /metrics. The cluster state comes from manifests in a folder
(followed by polling) or from an API server (list and watch). Needs the ``extender``
extra: pip install 'dra-core[extender]'. See docs/extender.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from dra_core.errors import DraCoreError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register the ``extender`` subcommand."""
    parser = sub.add_parser(
        "extender",
        help="serve kube-scheduler's extender protocol (filter, prioritize, bind) over HTTP",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    state = parser.add_argument_group("cluster state (one of)")
    state.add_argument("--manifests", metavar="DIR", help="read objects from YAML/JSON files")
    state.add_argument("--kubeconfig", metavar="PATH", help="list and watch an API server")
    state.add_argument("--context", help="the kubeconfig context (default: the current one)")
    state.add_argument("--in-cluster", action="store_true", help="use the pod's service account")
    net = parser.add_argument_group("serving")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    net.add_argument("--port", type=int, default=8888, help="port (8888)")
    net.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate")
    net.add_argument("--tls-key", metavar="FILE", help="the certificate's private key")
    net.add_argument(
        "--client-ca", metavar="FILE", help="require client certificates signed by this CA"
    )
    net.add_argument(
        "--max-body-bytes",
        type=int,
        default=64 * 1024 * 1024,
        help="larger request bodies get 413 (64 MiB)",
    )
    net.add_argument(
        "--shutdown-timeout",
        type=float,
        default=10.0,
        help="seconds to let requests in flight finish on SIGTERM (10)",
    )
    net.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    alloc = parser.add_argument_group("allocation")
    alloc.add_argument(
        "--policy",
        default="best-fit",
        choices=("best-fit", "pack", "spread"),
        help="prioritize policy (best-fit)",
    )
    alloc.add_argument("--engine", default="auto", help="auto (default), search or cpsat")
    alloc.add_argument(
        "--timeout",
        type=float,
        default=4.0,
        help="seconds one verb may spend allocating; keep it below httpTimeout (4)",
    )
    alloc.add_argument(
        "--binding-timeout",
        type=float,
        default=600.0,
        help="seconds after allocation that devices' binding conditions (KEP-5007) may take "
        "to become true before bind gives them back (600)",
    )
    alloc.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        help="seconds between looks at the manifests (1)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``dra-core extender``."""
    try:
        import starlette  # noqa: F401  (the extra is installed)
        import uvicorn  # noqa: F401

        from dra_core.extender._server import ServerOptions, serve
    except ModuleNotFoundError as exc:
        raise DraCoreError(
            f"the extender needs the 'extender' extra ({exc.name} is missing): "
            "pip install 'dra-core[extender]'"
        ) from None
    options = ServerOptions(
        manifests=args.manifests,
        kubeconfig=args.kubeconfig,
        context=args.context,
        in_cluster=args.in_cluster,
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        client_ca=args.client_ca,
        max_body_bytes=args.max_body_bytes,
        policy=args.policy,
        engine=args.engine,
        timeout=args.timeout,
        binding_timeout=args.binding_timeout,
        poll_interval=args.poll_interval,
        shutdown_timeout=args.shutdown_timeout,
        log_level=args.log_level,
    )
    return serve(options)
