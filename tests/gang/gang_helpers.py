"""Checks shared by the gang tests: every placement is valid, node by node, as a whole."""

from __future__ import annotations

from typing import Any

import dra_core
from dra_core.allocator.validator import validate_allocation
from dra_core.cluster import Cluster
from dra_core.cluster._gang import GangPlacement


def check_placement(
    cluster: Cluster,
    members: list[list[Any]],
    placement: GangPlacement,
    *,
    min_count: int | None = None,
    same_node_label: str | None = None,
) -> None:
    """Assert that the placement is valid: the validator per node, counts, the label rule.

    Each node's members are checked together against the cluster's devices in use plus
    every other placed member's claims (so no device is over-used across members).
    """
    loaded = [[dra_core.load(c)[0] if isinstance(c, dict) else c for c in m] for m in members]
    n = len(members)
    assert len(placement.nodes) == n and len(placement.allocations) == n
    placed = [m for m in range(n) if placement.nodes[m] is not None]
    assert len(placed) >= (n if min_count is None else min_count)
    for m in range(n):
        assert (placement.nodes[m] is None) == (placement.allocations[m] is None)
    if same_node_label is not None and placed:
        values = {
            (cluster.get("Node", placement.nodes[m]).metadata.labels or {}).get(same_node_label)
            for m in placed
        }
        assert len(values) == 1 and None not in values
    allocated = placement.allocated_claims()
    slices = dra_core.apply_taint_rules(
        cluster.objects("ResourceSlice"), cluster.objects("DeviceTaintRule")
    )
    classes = cluster.objects("DeviceClass")
    in_use = cluster.objects("ResourceClaim")
    for node in sorted({placement.nodes[m] for m in placed}):  # type: ignore[type-var]
        here = placement.members_on(node)
        claims: list[Any] = []
        results: list[Any] = []
        seen: set[Any] = set()
        for m in here:
            for claim, result in zip(loaded[m], placement.allocations[m], strict=True):  # type: ignore[arg-type]
                key = (claim.metadata.namespace, claim.metadata.name)
                if key in seen:
                    continue  # a claim that members share is allocated once
                seen.add(key)
                claims.append(claim)
                results.append(result)
        names = {(c.metadata.namespace, c.metadata.name) for c in claims}
        others = [c for c in allocated if (c.metadata.namespace, c.metadata.name) not in names]
        violations = validate_allocation(
            node=cluster.get("Node", node),
            claims=claims,
            results=results,
            slices=slices,
            classes=classes,
            allocated_claims=[*in_use, *others],
        )
        assert violations == [], [str(v) for v in violations]


def snapshot(cluster: Cluster) -> Any:
    """What must not change when a gang is placed: objects, devices in use, version."""
    state = cluster.allocated_state
    return (
        cluster.version,
        [o.model_dump() for o in cluster.objects()],
        sorted(map(str, state.allocated_devices)),
    )
