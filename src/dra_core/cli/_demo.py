"""``dra-core demo [FILE...] [-o text|yaml|json]``: schedule claims one by one on a cluster.

Without files it uses the embedded example cluster: two nodes with eight GPUs and two
NICs each, and four claims (four matching GPUs, a GPU with a NIC on the same PCIe root, a
``firstAvailable`` choice, and a selector on the model). Each claim goes to the first node
where it fits, and the devices it gets stay in use for the claims after it, as a scheduler
would do.
"""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from dra_core.allocator import Allocator
from dra_core.api import dump
from dra_core.cli._scenario import Scenario, read_scenario
from dra_core.errors import DraCoreError
from dra_core.state import AllocatedState

__all__ = ["add_parser", "run"]

_EMBEDDED = "demo-cluster.yaml"


def add_parser(sub: Any) -> None:
    """Register the ``demo`` subcommand."""
    parser = sub.add_parser(
        "demo",
        help="schedule the claims of an example cluster (embedded, or your files) one by one",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="manifests (default: embedded)")
    parser.add_argument("-o", "--output", choices=("text", "yaml", "json"), default="text")
    parser.add_argument(
        "--engine",
        default="auto",
        help="allocation engine: auto (default; the search, then CP-SAT when it runs long), "
        "search or cpsat",
    )
    parser.set_defaults(run=run)


def _embedded() -> Scenario:
    ref = resources.files("dra_core") / "_data" / _EMBEDDED
    with resources.as_file(ref) as path:
        return read_scenario([str(Path(path))])


def run(args: argparse.Namespace) -> int:
    """Run ``dra-core demo``."""
    scenario = read_scenario(args.files) if args.files else _embedded()
    nodes = scenario.node_names()
    if not nodes:
        raise DraCoreError("no node: the files name none (no Node, no nodeName in a slice)")
    state = AllocatedState(consumable_capacity=scenario.features.consumable_capacity)
    for claim in scenario.allocated_claims:
        state.add_claim(claim)
    placed: list[dict[str, Any]] = []
    unplaced: list[str] = []
    for claim in scenario.claims:
        name = f"{claim.metadata.namespace}/{claim.metadata.name}".lstrip("/")
        allocator = Allocator(
            slices=scenario.slices,
            classes=scenario.classes,
            allocated_state=state,
            features=scenario.features,
        )
        for node in nodes:
            results = allocator.allocate(scenario.node(node), [claim], engine=args.engine)
            if results is not None:
                state.add_allocation(results[0])
                placed.append({"claim": name, "node": node, "allocation": dump(results[0])})
                break
        else:
            unplaced.append(name)
    if args.output == "json":
        print(json.dumps({"placed": placed, "unplaced": unplaced}, indent=2))
    elif args.output == "yaml":
        print(yaml.safe_dump({"placed": placed, "unplaced": unplaced}, sort_keys=False), end="")
    else:
        devices = sum(len(s.spec.devices or ()) for s in scenario.slices)
        print(
            f"{len(nodes)} nodes, {len(scenario.slices)} ResourceSlices ({devices} devices), "
            f"{len(scenario.classes)} DeviceClasses, {len(scenario.claims)} claims\n"
        )
        for item in placed:
            print(f"{item['claim']} -> {item['node']}")
            for r in item["allocation"]["devices"]["results"]:
                print(f"    {r['request']:<12} {r['driver']}/{r['pool']}/{r['device']}")
        for name in unplaced:
            print(f"{name} -> does not fit on any node")
        print("\n(-o yaml or -o json for the full allocation results)")
    return 1 if unplaced else 0
