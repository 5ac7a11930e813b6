"""place_gang against brute force on random small clusters and gangs.

The brute force tries every assignment of members to nodes (and, under ``min_count``,
leaving members out): on a fork of the cluster it allocates the members of each node
together, node by node, with the cluster's own allocator (``Cluster.reserve``: the same
as ``dra_core.allocate`` over those claims against the devices in use). A gang fits
when one assignment gets through. place_gang must then find a placement; every
placement it returns must validate per node against everything else it placed, respect
the rack constraint, and leave the cluster as it was.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from gang_helpers import check_placement, snapshot
from hypothesis import event, given, settings
from hypothesis import strategies as st

from dra_core.cluster import Cluster
from dra_core.cluster._gang import explain_gang, place_gang
from dra_core.errors import ReservationError
from strategies import gang_class, gang_members, gang_node_objects


def brute_force(
    cluster: Cluster,
    members: list[list[dict[str, Any]]],
    min_count: int,
    label: str | None,
) -> int:
    """Return the most members some assignment places (-1 when none reaches ``min_count``)."""
    nodes = cluster.node_names()
    choices: list[str | None] = [*nodes, None]
    best = -1
    for assignment in itertools.product(choices, repeat=len(members)):
        placed = [m for m, n in enumerate(assignment) if n is not None]
        if len(placed) < min_count or len(placed) <= best:
            continue
        if label is not None:
            values = {
                (cluster.get("Node", assignment[m]).metadata.labels or {}).get(label)
                for m in placed
            }
            if len(values) > 1:
                continue
        fork = cluster.fork()
        try:
            for node in nodes:
                claims = [c for m in placed if assignment[m] == node for c in members[m]]
                if claims:
                    fork.reserve(claims, node)
        except ReservationError:
            continue
        best = len(placed)
    return best


@st.composite
def gang_cases(draw: st.DrawFn) -> dict[str, Any]:
    names = [f"node-{i}" for i in range(draw(st.integers(1, 3)))]
    objects: list[dict[str, Any]] = [gang_class()]
    for name in names:
        objects.extend(draw(gang_node_objects(name)))
    members = draw(gang_members())
    min_count = draw(st.sampled_from([None, None, len(members) - 1, 1]))
    if min_count is not None:
        min_count = max(0, min_count)
    return {
        "objects": objects,
        "members": members,
        "min_count": min_count,
        "label": draw(st.sampled_from([None, None, "rack"])),
        "policy": draw(st.sampled_from(["pack", "spread"])),
    }


@settings(max_examples=150)
@given(gang_cases())
def test_place_gang_finds_what_brute_force_finds(case: dict[str, Any]) -> None:
    cluster = Cluster(case["objects"])
    members = case["members"]
    inputs = copy.deepcopy(members)
    min_count = len(members) if case["min_count"] is None else case["min_count"]
    before = snapshot(cluster)
    placement = place_gang(
        cluster,
        members,
        min_count=case["min_count"],
        policy=case["policy"],
        same_node_label=case["label"],
    )
    assert snapshot(cluster) == before
    assert members == inputs
    best = brute_force(cluster, members, min_count, case["label"])
    event(f"fits: {best >= 0}, members placed: {best}")
    if best < 0:
        assert placement is None
        explanation = explain_gang(
            cluster, members, min_count=case["min_count"], same_node_label=case["label"]
        )
        assert not explanation.fits
        assert explanation.placeable < min_count
        assert explanation.reasons
    else:
        assert placement is not None
        # As many members as fit are placed.
        assert placement.placed == best
        check_placement(
            cluster,
            members,
            placement,
            min_count=min_count,
            same_node_label=case["label"],
        )
    assert snapshot(cluster) == before
