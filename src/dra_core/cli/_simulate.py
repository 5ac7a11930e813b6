"""``dra-core simulate FILE... [--scenario FILE]``: simulate a cluster over time.

Applies the manifests (Nodes, ResourceSlices, DeviceClasses, claims, templates, Pods,
Deployments, ReplicaSets, StatefulSets, Jobs), optionally follows a scenario's timeline
of applies and deletes at simulated times, runs kube-scheduler's loop until nothing more
can happen (or ``--until``), and prints the pods and a summary: how many were scheduled,
why the others wait, and how many devices are in use.

A scenario is YAML::

    until: 2h                      # optional: stop there
    steps:
    - at: 0s                       # a Go duration or seconds
      apply: [more-pods.yaml]      # files (relative to the scenario) or inline objects
    - at: 90s
      delete:
      - {kind: Pod, namespace: default, name: pod1}

Pods with the annotation ``sim.dra-core.io/run-time: 5m`` succeed after running that long
and give their devices back. A progress bar is shown on a terminal (with the ``progress``
extra, rich); ``--plot`` draws devices in use and pending pods over time (``plot`` extra,
matplotlib). Exit status 0, or 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from dra_core.errors import DraCoreError, ManifestError
from dra_core.sim import POLICIES, Simulator, parse_duration
from dra_core.sim._gangs import GANG_SCHEDULING
from dra_core.sim._views import describe_events, pod_table

__all__ = ["add_parser", "read_scenario", "run"]


def add_parser(sub: Any) -> None:
    """Register the ``simulate`` subcommand."""
    parser = sub.add_parser(
        "simulate",
        help="simulate pods, claims and kube-scheduler over time on a cluster from manifests",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="manifests (files or folders)")
    parser.add_argument("--scenario", metavar="FILE", help="a timeline of applies and deletes")
    parser.add_argument("--until", metavar="TIME", help="stop at this simulated time")
    parser.add_argument("--policy", choices=POLICIES, default="default", help="node scoring")
    parser.add_argument("--seed", default="", help="seed of generated names (default: none)")
    parser.add_argument("--engine", default="auto", help="allocation engine: auto, search, cpsat")
    parser.add_argument(
        "--gang-scheduling",
        choices=GANG_SCHEDULING,
        default="joint",
        help="gangs (PodGroups): all members at once (joint, the default) or as "
        "kube-scheduler's GangScheduling plugin does (one by one, waiting at Permit)",
    )
    parser.add_argument("-o", "--output", choices=("text", "yaml", "json"), default="text")
    parser.add_argument("--plot", metavar="FILE.png", help="draw device use and pending pods")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar, even on a terminal"
    )
    parser.set_defaults(run=run)


def read_scenario(path: str) -> tuple[list[tuple[float, str, list[Any]]], float | None]:
    """Read a scenario file: ``(time, "apply" | "delete", objects)`` steps and ``until``.

    Raises:
        ManifestError: the file is not a scenario (located at the step and field).

    """
    from dra_core.io import parse_yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read the file: {exc}", source=path) from None
    documents = [d for d in parse_yaml(text, source=path) if d is not None]
    if len(documents) != 1 or not isinstance(documents[0], Mapping):
        raise ManifestError("a scenario is one YAML mapping with `steps`", source=path)
    data = documents[0]
    base = Path(path).parent
    until: float | None = None
    if data.get("until") is not None:
        try:
            until = parse_duration(data["until"])
        except ValueError as err:
            raise ManifestError(str(err), source=path, field="until") from None
    steps = data.get("steps") or []
    if not isinstance(steps, list):
        raise ManifestError("`steps` must be a list", source=path, field="steps")
    out: list[tuple[float, str, list[Any]]] = []
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if not isinstance(step, Mapping):
            raise ManifestError("a step must be a mapping", source=path, field=where)
        try:
            at = parse_duration(step.get("at", 0))
        except ValueError as err:
            raise ManifestError(str(err), source=path, field=f"{where}.at") from None
        actions = [a for a in ("apply", "delete") if a in step]
        if len(actions) != 1:
            raise ManifestError(
                "a step has exactly one of `apply` and `delete`", source=path, field=where
            )
        action = actions[0]
        items = step[action]
        if not isinstance(items, list):
            items = [items]
        objects: list[Any] = []
        for j, item in enumerate(items):
            if isinstance(item, str):
                objects.append(str(base / item))
            elif isinstance(item, Mapping):
                item = dict(item)
                if action == "delete" and "metadata" not in item and "name" in item:
                    # the short form {kind, namespace, name}
                    meta = {"name": item.pop("name"), "namespace": item.pop("namespace", "")}
                    item["metadata"] = meta
                objects.append(item)
            else:
                raise ManifestError(
                    "an item is a file name or an object",
                    source=path,
                    field=f"{where}.{action}[{j}]",
                )
        out.append((at, action, objects))
    return out, until


def _progress(enabled: bool) -> Any:
    """Return a rich progress bar when on a terminal, else None."""
    if not enabled or not sys.stderr.isatty():
        return None
    try:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError:
        return None
    return Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} pods placed, t={task.fields[now]}"),
        TimeElapsedColumn(),
        transient=True,
        console=Console(stderr=True),
    )


def plot(sim: Simulator, path: str) -> None:
    """Draw devices in use and pending pods over simulated time into ``path``.

    Raises:
        DraCoreError: matplotlib is not installed.

    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DraCoreError(
            "--plot needs matplotlib: pip install 'dra-core[plot]' (or pip install matplotlib)"
        ) from None
    samples = sim.samples()
    times = [s.time for s in samples]
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(8, 5))
    top.step(times, [s.devices_in_use for s in samples], where="post", label="devices in use")
    top.axhline(samples[-1].devices if samples else 0, linestyle=":", label="devices")
    top.set_ylabel("devices")
    top.set_ylim(bottom=0)
    top.legend(loc="lower right")
    bottom.step(times, [s.pending for s in samples], where="post", label="pending", color="C3")
    bottom.step(times, [s.running for s in samples], where="post", label="running", color="C2")
    bottom.set_ylabel("pods")
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel("simulated time (s)")
    bottom.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def run(args: argparse.Namespace) -> int:
    """Run ``dra-core simulate``."""
    from dra_core.cli._demo import simulate_files

    steps: list[tuple[float, str, list[Any]]] = []
    until: float | None = None
    if args.scenario:
        steps, until = read_scenario(args.scenario)
    if args.until is not None:
        try:
            until = parse_duration(args.until)
        except ValueError as err:
            raise DraCoreError(f"--until: {err}") from None
    # (a scenario may add the nodes later; without any, pods wait with kube-scheduler's
    # "no nodes available to schedule pods")
    sim = simulate_files(
        args.files,
        args.engine,
        require_nodes=False,
        seed=args.seed,
        policy=args.policy,
        gang_scheduling=args.gang_scheduling,
    )
    for at, action, objects in steps:
        if action == "apply":
            sim.apply(*objects, at=at)
        else:
            sim.delete(*objects, at=at)
    bar = _progress(not args.no_progress and args.output == "text")
    if bar is None:
        sim.run(until)
    else:
        with bar:
            task = bar.add_task("simulating", total=max(len(sim.pods()), 1), now="0s")

            def progress(s: Simulator) -> None:
                rows = s.pods()
                placed = sum(1 for r in rows if r.node)
                bar.update(task, completed=placed, total=max(len(rows), 1), now=f"{s.now:g}s")

            sim.run(until, progress=progress)
    if args.plot:
        plot(sim, args.plot)
    summary = sim.summary()
    if args.output != "text":
        from dra_core.cli._demo import _report

        body = _report(sim)
        if args.output == "json":
            print(json.dumps(body, indent=2))
        else:
            print(yaml.safe_dump(body, sort_keys=False), end="")
        return 0
    for note in sim.notes:
        print(f"note: {note}")
    print(pod_table(sim.pods(), sim.now))
    print()
    print(f"simulated time: {sim.now:g}s")
    print(
        f"pods: {summary['pods']}, scheduled: {summary['scheduled']}, running: "
        f"{summary['running']}, succeeded: {summary['succeeded']}, pending: {summary['pending']}"
    )
    for message, count in summary["pending_reasons"].items():
        print(f"  {count} pending: {message}")
    print(
        f"devices in use: {summary['devices_in_use']}/{summary['devices']} "
        f"({100 * summary['utilisation']:.0f}%)"
    )
    shown = 0
    for row in sim.pods():
        if row.phase == "Pending" and shown < 3:
            shown += 1
            events = sim.events(kind="Pod", name=row.name, namespace=row.namespace)
            print(f"\n{row.namespace}/{row.name}:")
            print(describe_events(events[-3:], sim.now))
    return 0
