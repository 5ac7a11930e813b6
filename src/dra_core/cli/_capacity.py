"""``dra-core capacity FILE... [--by KEY] [--pod FILE] [-o table|json|yaml]``.

What the cluster in the files has and what of it is free, per node and key (a
DeviceClass by default; ``--by extendedResource``, or a qualified device attribute such
as ``--by gpu.nvidia.com/productName``), with the cluster's totals (each device counted
once). With ``--pod FILE``: what that pod asks for, and how many more copies of it fit
(``--policy``, ``--limit``), and why not one more.

``--kubeconfig PATH`` reads the objects from a live API server (added to those of the
files, if any), read-only: it lists and watches, and writes nothing (see
docs/capacity.md for the RBAC rules).

Exit status: 0, or 2 for bad input (a clean message, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from dra_core.errors import DraCoreError, InputError

__all__ = ["add_parser", "run"]

_SHOWN_NODES = 20  # --pod: the nodes the copies land on, listed up to this many


def add_parser(sub: Any) -> None:
    """Register the ``capacity`` subcommand."""
    parser = sub.add_parser(
        "capacity",
        help="what is free per node (and how many more of a pod fit)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="manifests or folders")
    parser.add_argument(
        "--by",
        default=None,
        metavar="KEY",
        help="class (default), extendedResource, or a qualified device attribute name",
    )
    parser.add_argument("--pod", metavar="FILE", help="a Pod: its demand and how many more fit")
    parser.add_argument(
        "--policy",
        choices=("default", "best-fit", "pack", "spread", "max"),  # how_many's POLICIES
        default="default",
        help="node choice for --pod (default: the simulator's default; max: CP-SAT)",
    )
    parser.add_argument("--limit", type=int, default=None, help="stop counting at N copies")
    parser.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")
    parser.add_argument(
        "--kubeconfig", metavar="PATH", help="read a live cluster (read-only) with this kubeconfig"
    )
    parser.add_argument("--context", help="the kubeconfig context (with --kubeconfig)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the live cluster's objects (with --kubeconfig)",
    )
    parser.set_defaults(run=run)


def _load_files(files: list[str]) -> tuple[list[Any], list[Any]]:
    """Return (objects a Cluster holds, pods) from the files; other kinds are skipped."""
    from dra_core.api import Pod
    from dra_core.cluster import KINDS
    from dra_core.io import load

    objects: list[Any] = []
    pods: list[Any] = []
    for name in files:
        for model in load(name):
            if isinstance(model, Pod):
                pods.append(model)
            elif type(model).KIND in KINDS:
                objects.append(model)
    return objects, pods


def _live(args: argparse.Namespace, cluster: Any) -> list[Any]:
    """Fill ``cluster`` from the API server (list and watch until ready, then stop)."""
    try:
        import kubernetes  # noqa: F401 - only to say clearly when it is missing
    except ImportError:
        raise InputError(
            "--kubeconfig needs the kubernetes client: pip install 'dra-core[kubernetes]'"
        ) from None
    from dra_core.extender import KubeSource

    source = KubeSource(kubeconfig=args.kubeconfig, context=args.context, retry=1.0)
    try:
        try:
            source.start(cluster)
        except DraCoreError:
            raise
        except Exception as exc:  # the client's configuration errors, connection errors
            raise InputError(
                f"cannot read the cluster with {args.kubeconfig}: {type(exc).__name__}: {exc}"
            ) from None
        if not source.wait_ready(args.timeout):
            raise InputError(
                f"the API server did not list every kind within {args.timeout:g} s "
                "(see the warnings above: RBAC? see docs/capacity.md)"
            )
    finally:
        source.stop(timeout=5.0)
    lock = getattr(source, "_pods_lock", None)
    pods_by_key = getattr(source, "_pods", {})
    if lock is None:
        return list(pods_by_key.values())
    with lock:
        return list(pods_by_key.values())


def run(args: argparse.Namespace) -> int:
    """Print the capacity report (and, with ``--pod``, the demand and how many more fit)."""
    from dra_core.cluster import Cluster
    from dra_core.cluster._capacity import capacity, demand, how_many

    if not args.files and not args.kubeconfig:
        raise InputError("give manifest files, or --kubeconfig for a live cluster")
    if args.limit is not None and args.limit < 0:
        raise InputError("--limit must not be negative")
    objects, pods = _load_files(args.files)
    notes: list[str] = []
    if not args.kubeconfig:
        notes.extend(_add_missing_nodes(objects))
    cluster = Cluster(objects)
    if args.kubeconfig:
        pods.extend(_live(args, cluster))
    report = capacity(cluster, args.by, pods=pods)
    if report.by == "class" and not cluster.objects("DeviceClass"):
        notes.append("no DeviceClass given: nothing to count by class (try --by DOMAIN/ATTRIBUTE)")
    out: dict[str, Any] = report.as_dict()
    if notes:
        out["notes"] = notes
    answer = None
    wanted = None
    if args.pod:
        from dra_core.api import Pod
        from dra_core.io import load

        found = [m for m in load(args.pod) if isinstance(m, Pod)]
        if len(found) != 1:
            raise InputError(f"{args.pod}: expected one Pod, found {len(found)}")
        wanted = demand(found[0], cluster=cluster)
        answer = how_many(cluster, found[0], policy=args.policy, limit=args.limit, pods=pods)
        out["demand"] = wanted.as_dict()
        out["howMany"] = answer.as_dict()
    if args.output == "json":
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.output == "yaml":
        import yaml

        yaml.safe_dump(out, sys.stdout, sort_keys=False)
    else:
        _print_tables(report, wanted, answer, notes, sys.stdout)
    return 0


def _add_missing_nodes(objects: list[Any]) -> list[str]:
    """Add a bare Node for every node a slice names that the files do not hold.

    ``kubectl get resourceslices -o yaml`` output alone is a common input; without its
    nodes no device would count. Returns a note when nodes were made up.
    """
    from dra_core.api import Node, ObjectMeta, ResourceSlice

    known = {o.metadata.name for o in objects if isinstance(o, Node)}
    missing: list[str] = []
    for obj in objects:
        if isinstance(obj, ResourceSlice):
            name = obj.spec.node_name
            if name and name not in known and name not in missing:
                missing.append(name)
    for name in missing:
        objects.append(Node(api_version="v1", kind="Node", metadata=ObjectMeta(name=name)))
    if not missing:
        return []
    return [
        f"{len(missing)} node(s) named by slices are not in the files: assumed to exist, "
        "without labels"
    ]


def _print_tables(report: Any, wanted: Any, answer: Any, notes: list[str], stream: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    # On a terminal, its width; in a pipe or a file, wide enough that no cell is cut.
    tty = stream.isatty()
    console = Console(file=stream, highlight=False, soft_wrap=True, width=None if tty else 1000)
    rows = list(report.rows)
    extra_unknown = any(r.unknown for r in rows)
    extra_capacity = any(r.capacity for r in rows)
    extra_source = any(r.source != "dra" for r in rows)
    key_title = {"class": "CLASS", "extendedResource": "EXTENDED RESOURCE"}.get(
        report.by, report.by
    )

    def table(title: str, with_node: bool, items: list[Any]) -> Table:
        t = Table(title=title, title_justify="left", box=None, header_style="bold", expand=False)
        if with_node:
            t.add_column("NODE", no_wrap=True)
        t.add_column(key_title, no_wrap=True)
        for name in ("TOTAL", "ALLOCATED", "FREE", "TAINTED", "UNAVAILABLE"):
            t.add_column(name, justify="right")
        if extra_unknown:
            t.add_column("UNKNOWN", justify="right")
        if extra_capacity:
            t.add_column("CAPACITY LEFT")
        if extra_source:
            t.add_column("SOURCE")
        for r in items:
            cells = [r.node] if with_node else []
            cells.append("(none)" if r.key is None else r.key)
            cells += [str(r.total), str(r.allocated), str(r.free), str(r.tainted)]
            cells.append(str(r.unavailable))
            if extra_unknown:
                cells.append(str(r.unknown))
            if extra_capacity:
                cells.append(", ".join(f"{n} {a.left}/{a.total}" for n, a in r.capacity.items()))
            if extra_source:
                cells.append(r.source)
            t.add_row(*cells, style="dim" if r.free == 0 and r.total else None)
        return t

    for note in notes:
        console.print(f"note: {note}", markup=False)
    if rows:
        console.print(table("Per node", True, rows))
        for note in sorted({r.note for r in rows if r.note}):
            console.print(f"note: {note}", markup=False)
        console.print()
        console.print(table("Cluster (each device once)", False, list(report.totals)))
    else:
        console.print("No devices.")
    if wanted is None or answer is None:
        return
    console.print()
    console.print(f"Pod {wanted.pod} asks for:", markup=False)
    for claim in wanted.claims:
        origin = f"{claim.source} {claim.reference}".strip()
        state = " (shared, allocated)" if claim.allocated else " (shared)" if claim.shared else ""
        console.print(f"  claim {claim.name} ({origin}){state}", markup=False)
        for request in claim.requests:
            console.print(f"    {request.name}: {request.describe()}", markup=False)
    if not wanted.claims:
        console.print("  no devices", markup=False)
    for name, amount in wanted.other_resources.items():
        console.print(f"  {name}: {amount} (a device plugin's; not counted here)", markup=False)
    console.print()
    if answer.count is None:
        console.print(
            "How many more fit: no bound (each copy takes no device); give --limit.", markup=False
        )
        return
    head = f"How many more fit ({answer.policy}): {answer.count}"
    if answer.policy == "max":
        head += f" (one after another: {answer.one_by_one}"
        head += ", beaten by a joint placement)" if answer.beats_one_by_one else ")"
        if not answer.exact:
            head += "; nodes that share pools counted one after another"
    console.print(head, markup=False)
    items = list(answer.nodes.items())
    for node, count in items[:_SHOWN_NODES]:
        console.print(f"  {node}: {count}", markup=False)
    if len(items) > _SHOWN_NODES:
        rest = sum(c for _, c in items[_SHOWN_NODES:])
        console.print(f"  ... {rest} more on {len(items) - _SHOWN_NODES} more nodes", markup=False)
    if answer.reason:
        console.print(f"Why not one more: {answer.reason}", markup=False)
    elif answer.limit is not None:
        console.print(f"Stopped at the limit ({answer.limit}).", markup=False)
