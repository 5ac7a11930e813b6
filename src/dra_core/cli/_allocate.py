"""``dra-core allocate FILE... [--node NAME] [-o yaml|json]``.

Allocates the claims found in the files, together, on one node, and prints each claim with
its ``status.allocation``. Without ``--node`` it tries the nodes the files name, in order,
and takes the first where the claims fit.

Exit status: 0 allocated, 1 does not fit (with a one-line reason), 2 bad input.
``-o json`` prints ``{"results": [...] | null, "error": "..." | null}`` (plus the node and
the claims' names); the results are AllocationResults in claim order.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from dra_core.allocator import Allocator, get_engine
from dra_core.api import AllocationResult, ResourceClaim, dump
from dra_core.cli._scenario import Scenario, read_scenario
from dra_core.errors import DraCoreError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register the ``allocate`` subcommand."""
    parser = sub.add_parser(
        "allocate",
        help="allocate the claims in manifests (or a conformance case file) on a node",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="manifests, folders or a case")
    parser.add_argument("--node", help="the node to allocate on (default: the first that fits)")
    parser.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    parser.add_argument(
        "--engine",
        default="auto",
        help="allocation engine: auto (default; the search, then CP-SAT when it runs long), "
        "search or cpsat",
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds per node")
    parser.set_defaults(run=run)


def _claim_name(claim: ResourceClaim) -> str:
    meta = claim.metadata
    return f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name


def _status_objects(
    claims: list[ResourceClaim], results: list[AllocationResult]
) -> list[dict[str, Any]]:
    out = []
    for claim, result in zip(claims, results, strict=True):
        metadata: dict[str, Any] = {"name": claim.metadata.name}
        if claim.metadata.namespace:
            metadata["namespace"] = claim.metadata.namespace
        out.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": metadata,
                "status": {"allocation": dump(result)},
            }
        )
    return out


def allocate_scenario(
    scenario: Scenario, node_name: str | None, *, engine: str, timeout: float | None
) -> tuple[str | None, list[AllocationResult] | None, str]:
    """Allocate all of a scenario's claims together; return (node, results, reason)."""
    allocator = Allocator(
        slices=scenario.slices,
        classes=scenario.classes,
        allocated_claims=scenario.allocated_claims,
        features=scenario.features,
    )
    if node_name is not None:
        candidates = [node_name]
    elif scenario.is_case and scenario.nodes:
        candidates = [scenario.nodes[0].metadata.name]
    else:
        candidates = scenario.node_names()
    if not candidates:
        raise DraCoreError(
            "no node: the files name none (no Node, no nodeName in a ResourceSlice); "
            "pass --node NAME"
        )
    for name in candidates:
        results = allocator.allocate(
            scenario.node(name), scenario.claims, engine=engine, timeout=timeout
        )
        if results is not None:
            return name, results, ""
    where = f"node {candidates[0]}" if len(candidates) == 1 else f"any of {len(candidates)} nodes"
    names = ", ".join(_claim_name(c) for c in scenario.claims)
    return None, None, f"cannot allocate all claims on {where}: {names}"


def run(args: argparse.Namespace) -> int:
    """Run ``dra-core allocate``."""
    as_json = args.output == "json"
    try:
        get_engine(args.engine)
    except ValueError as exc:
        return _fail(as_json, str(exc))
    try:
        scenario = read_scenario(args.files)
        if not scenario.claims:
            return _fail(
                as_json,
                "no claims to allocate in the files (ResourceClaim, or a Pod "
                "with a ResourceClaimTemplate)",
            )
        node, results, reason = allocate_scenario(
            scenario, args.node, engine=args.engine, timeout=args.timeout
        )
    except DraCoreError as exc:
        return _fail(as_json, str(exc))
    claims = [_claim_name(c) for c in scenario.claims]
    if results is None:
        if as_json:
            print(json.dumps({"results": None, "error": None, "reason": reason, "claims": claims}))
        else:
            print(f"does not fit: {reason}", file=sys.stderr)
        return 1
    if as_json:
        body = {
            "node": node,
            "claims": claims,
            "results": [dump(r) for r in results],
            "error": None,
        }
        print(json.dumps(body, indent=2))
    else:
        print(f"# node: {node}")
        print(
            yaml.safe_dump_all(_status_objects(scenario.claims, results), sort_keys=False), end=""
        )
    return 0


def _fail(as_json: bool, message: str) -> int:
    if as_json:
        print(json.dumps({"results": None, "error": message}))
    else:
        print(f"dra-core allocate: error: {message}", file=sys.stderr)
    return 2
