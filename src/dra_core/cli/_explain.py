"""``dra-core explain FILE... [--node NAME] [-o text|json] [--time-limit SECONDS]``.

Explains whether the claims found in the files fit together on a node, and if not, why:
per request, how many devices the class and selectors match and what became of them (in
use, tainted, on other nodes, out of counters or capacity), and a minimal set of
requests, constraints, counters and limits that cannot all hold together.

Without ``--node`` it explains every node the files name (a conformance case file names
one). Exit status: 0 the claims fit (on some node), 1 they do not fit, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from dra_core.allocator.explain import Explanation, explain
from dra_core.cli._scenario import read_scenario
from dra_core.errors import DraCoreError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register the ``explain`` subcommand."""
    parser = sub.add_parser(
        "explain",
        help="explain why claims do (not) fit on a node",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="manifests, folders or a case")
    parser.add_argument("--node", help="the node to explain (default: every node named)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    parser.add_argument(
        "--time-limit", type=float, default=10.0, help="CP-SAT seconds per solve (default 10)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``dra-core explain``."""
    as_json = args.output == "json"
    try:
        scenario = read_scenario(args.files)
        if not scenario.claims:
            return _fail(as_json, "no claims to explain in the files")
        if args.node:
            names = [args.node]
        elif scenario.is_case and scenario.nodes:
            names = [scenario.nodes[0].metadata.name]
        else:
            names = scenario.node_names()
        if not names:
            return _fail(as_json, "no node: the files name none; pass --node NAME")
        explanations: list[Explanation] = []
        for name in names:
            explanations.append(
                explain(
                    node=scenario.node(name),
                    claims=scenario.claims,
                    slices=scenario.slices,
                    classes=scenario.classes,
                    allocated_claims=scenario.allocated_claims,
                    features=scenario.features,
                    time_limit=args.time_limit,
                )
            )
    except DraCoreError as exc:
        return _fail(as_json, str(exc))
    except ValueError as exc:  # a bad --time-limit or similar that the parser let through
        return _fail(as_json, str(exc))
    if as_json:
        print(json.dumps({"explanations": [e.to_dict() for e in explanations]}, indent=2))
    else:
        print("\n\n".join(e.describe() for e in explanations))
    return 0 if any(e.fits for e in explanations) else 1


def _fail(as_json: bool, message: str) -> int:
    if as_json:
        print(json.dumps({"explanations": None, "error": message}))
    else:
        import sys

        print(f"dra-core explain: error: {message}", file=sys.stderr)
    return 2
