"""``dra-core demo [FILE...] [-o text|yaml|json]``: the DRA demo story, or your manifests.

Without files it replays NVIDIA's DRA driver quickstart on a simulated kind cluster (a
control-plane node and one worker with a single Tesla T4), from an embedded copy of the
real manifests (kubernetes-sigs/dra-driver-nvidia-gpu, demo/specs/quickstart/v1):

1. gpu-test1: two pods each ask for a GPU through a ResourceClaimTemplate. One runs;
   the other stays Pending, and ``kubectl describe`` shows why. Deleting the first
   lets the second run.
2. gpu-test2: one pod whose two containers share one claim (one GPU).
3. gpu-test3: two pods that share one ResourceClaim, so one GPU.

With files, it applies them to a simulated cluster (Nodes, ResourceSlices, DeviceClasses,
claims, templates, Pods, Deployments, ReplicaSets, StatefulSets, Jobs), runs the scheduler
and prints the pods, why the pending ones wait, and the devices in use. Nodes that slices
name but no Node object defines are added. Exit status 1 when a pod stays Pending.
"""

from __future__ import annotations

import argparse
import json
from importlib import resources
from typing import Any

import yaml

from dra_core.errors import DraCoreError
from dra_core.sim import Simulator
from dra_core.sim._views import claim_table, describe_events, pod_table, table

__all__ = ["add_parser", "run"]

_SOURCE = (
    "NVIDIA's DRA driver quickstart (gpu-test1, gpu-test2, gpu-test3 from "
    "kubernetes-sigs/dra-driver-nvidia-gpu demo/specs/quickstart/v1, Apache-2.0), "
    "replayed on a simulated kind cluster: one control-plane node and one worker with a "
    "single Tesla T4, published as NVIDIA's DRA driver publishes it."
)


def add_parser(sub: Any) -> None:
    """Register the ``demo`` subcommand."""
    parser = sub.add_parser(
        "demo",
        help="replay NVIDIA's DRA demo on a simulated cluster (or simulate your manifests)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="manifests (default: the story)")
    parser.add_argument("-o", "--output", choices=("text", "yaml", "json"), default="text")
    parser.add_argument(
        "--engine",
        default="auto",
        help="allocation engine: auto (default; the search, then CP-SAT when it runs long), "
        "search or cpsat",
    )
    parser.set_defaults(run=run)


def _embedded(name: str) -> str:
    ref = resources.files("dra_core") / "_data" / "demo" / name
    return ref.read_text(encoding="utf-8")


class _Story:
    """The demo, told as the commands a user types and what kubectl prints."""

    def __init__(self, engine: str) -> None:
        self.sim = Simulator(engine=engine)
        self.steps: list[dict[str, Any]] = []
        self.lines: list[str] = []

    def say(self, command: str, output: str) -> None:
        self.lines.append(f"$ {command}")
        if output:
            self.lines.append(output)
        self.lines.append("")
        self.steps.append({"time": self.sim.now, "command": command, "output": output})

    def apply(self, name: str, wait: float) -> None:
        text = _embedded(name)
        self.sim.apply(text, at=self.sim.now + wait)
        self.sim.run()
        self.say(f"kubectl apply -f {name}", _created(text))

    def delete_file(self, name: str, wait: float) -> None:
        text = _embedded(name)
        self.sim.delete(text, at=self.sim.now + wait)
        self.sim.run()
        self.say(f"kubectl delete -f {name}", _created(text).replace(" created", " deleted"))

    def get_pods(self) -> None:
        self.say("kubectl get pod -A -o wide", pod_table(self.sim.pods(), self.sim.now))

    def get_claims(self) -> None:
        claims = self.sim.cluster.objects("ResourceClaim")
        self.say(
            "kubectl get resourceclaim -A   # (with devices and consumers)", claim_table(claims)
        )


def _created(text: str) -> str:
    """Return what ``kubectl apply -f`` prints for the objects of a file."""
    from dra_core.io import parse_yaml

    lines = []
    for doc in parse_yaml(text):
        if not isinstance(doc, dict):
            continue
        kind = str(doc.get("kind", "")).lower()
        group = str(doc.get("apiVersion", "")).rpartition("/")[0]
        name = (doc.get("metadata") or {}).get("name", "")
        resource = f"{kind}.{group}" if group and group != "v1" else kind
        lines.append(f"{resource}/{name} created")
    return "\n".join(lines)


def _story(engine: str) -> _Story:
    story = _Story(engine)
    sim = story.sim
    story.lines += [_SOURCE, ""]
    sim.apply(_embedded("cluster.yaml"))
    story.say("kubectl get nodes", _nodes(sim))
    story.apply("gpu-test1.yaml", 0)
    story.get_pods()
    sim.run(until=sim.now + 10)
    pending = [r for r in sim.pods() if r.phase == "Pending"]
    for row in pending:
        events = sim.events(kind="Pod", name=row.name, namespace=row.namespace)
        story.say(
            f"kubectl describe pod -n {row.namespace} {row.name}   # (the Events part)",
            describe_events(events, sim.now),
        )
    sim.delete(kind="Pod", name="pod1", namespace="gpu-test1", at=sim.now + 30)
    sim.run()
    story.say("kubectl delete pod -n gpu-test1 pod1", 'pod "pod1" deleted')
    story.get_pods()
    story.get_claims()
    story.delete_file("gpu-test1.yaml", 30)
    story.apply("gpu-test2.yaml", 5)
    story.get_pods()
    story.get_claims()
    story.delete_file("gpu-test2.yaml", 30)
    story.apply("gpu-test3.yaml", 5)
    story.get_pods()
    story.get_claims()
    summary = sim.summary()
    story.lines.append(
        f"{summary['running']} pods running, {summary['pending']} pending; "
        f"{summary['devices_in_use']}/{summary['devices']} GPU in use after "
        f"{sim.now:g} simulated seconds."
    )
    return story


def _nodes(sim: Simulator) -> str:
    """Return ``kubectl get nodes`` (the NAME, STATUS and ROLES columns)."""
    rows = []
    for name in sim.cluster.node_names():
        node = sim.cluster.get("Node", name)
        assert node is not None
        prefix = "node-role.kubernetes.io/"
        roles = [k[len(prefix) :] for k in node.metadata.labels if k.startswith(prefix)]
        rows.append([name, "Ready", ",".join(sorted(roles)) or "<none>"])
    return table(["NAME", "STATUS", "ROLES"], rows)


def _with_nodes(sim: Simulator) -> None:
    # Nodes that slices name but no Node object defines: add them bare, so that
    # manifests without Node objects (most driver demos) have somewhere to go.
    names = set(sim.cluster.node_names())
    missing: list[str] = []
    for s in sim.cluster.objects("ResourceSlice"):
        for name in [s.spec.node_name, *(d.node_name for d in s.spec.devices or ())]:
            if name and name not in names and name not in missing:
                missing.append(name)
    if missing:
        sim.apply(*({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}} for n in missing))


def simulate_files(
    files: list[str], engine: str, *, require_nodes: bool = True, **options: Any
) -> Simulator:
    """Apply ``files`` to a new Simulator, adding the nodes that only slices name."""
    sim = Simulator(engine=engine, **options)
    sim.apply(*files)
    _with_nodes(sim)
    if require_nodes and not sim.cluster.node_names():
        raise DraCoreError("no node: the files name none (no Node, no nodeName in a slice)")
    return sim


def _placement(sim: Simulator) -> dict[str, Any]:
    """List the claims of the pods, placed or not (the fields of the first ``dra-core demo``)."""
    from dra_core.api import dump

    placed: list[dict[str, Any]] = []
    unplaced: list[str] = []
    seen: set[str] = set()
    for row in sim.pods():
        for name in row.claims:
            key = f"{row.namespace}/{name}"
            if key in seen:
                continue
            seen.add(key)
            claim = sim.cluster.get("ResourceClaim", name, row.namespace)
            status = claim.status if claim is not None else None
            if status is not None and status.allocation is not None:
                placed.append(
                    {"claim": key, "node": row.node, "allocation": dump(status.allocation)}
                )
            else:
                unplaced.append(key)
    return {"placed": placed, "unplaced": unplaced}


def _report(sim: Simulator) -> dict[str, Any]:
    return {
        **_placement(sim),
        "pods": [
            {
                "namespace": r.namespace,
                "name": r.name,
                "phase": r.phase,
                "node": r.node,
                "message": r.message,
                "claims": list(r.claims),
            }
            for r in sim.pods()
        ],
        "summary": sim.summary(),
        "notes": list(sim.notes),
    }


def run(args: argparse.Namespace) -> int:
    """Run ``dra-core demo``."""
    if not args.files:
        story = _story(args.engine)
        if args.output == "text":
            print("\n".join(story.lines))
        else:
            body = {"steps": story.steps, **_report(story.sim)}
            _print(body, args.output)
        return 0
    sim = simulate_files(args.files, args.engine)
    sim.run()
    if args.output != "text":
        _print(_report(sim), args.output)
    else:
        for note in sim.notes:
            print(f"note: {note}")
        print(pod_table(sim.pods(), sim.now))
        for row in sim.pods():
            if row.phase == "Pending":
                events = sim.events(kind="Pod", name=row.name, namespace=row.namespace)
                print(f"\n{row.namespace}/{row.name}:")
                print(describe_events(events, sim.now))
        summary = sim.summary()
        print(
            f"\n{summary['scheduled']}/{summary['pods']} pods scheduled; "
            f"{summary['devices_in_use']}/{summary['devices']} devices in use"
        )
    return 1 if any(r.phase == "Pending" for r in sim.pods()) else 0


def _print(body: dict[str, Any], output: str) -> None:
    if output == "json":
        print(json.dumps(body, indent=2))
    else:
        print(yaml.safe_dump(body, sort_keys=False), end="")
