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
from strategies import GANG_DRIVER, gang_class, gang_members, gang_node_objects


def only_clique(members: list[list[dict[str, Any]]], clique: str) -> list[list[dict[str, Any]]]:
    """The members with every request (and subrequest) restricted to one clique."""
    out = copy.deepcopy(members)
    selector = {"cel": {"expression": f'device.attributes["{GANG_DRIVER}"].clique == "{clique}"'}}
    for member in out:
        for claim in member:
            for request in claim["spec"]["devices"]["requests"]:
                for spec in [request.get("exactly"), *request.get("firstAvailable", [])]:
                    if spec is not None:
                        spec.setdefault("selectors", []).append(selector)
    return out


def brute_force(
    cluster: Cluster,
    members: list[list[dict[str, Any]]],
    min_count: int,
    label: str | None,
    clique: bool = False,
) -> tuple[int, int, int]:
    """Return the most members some assignment places (-1 when none reaches ``min_count``).

    With it, the fewest and the most nodes that assignments placing that many use. With
    ``clique``, every device of every member must have one value of the ``clique``
    attribute: the best over the values, each tried with the requests restricted to it.
    """
    if clique:
        answers = [brute_force(cluster, only_clique(members, v), min_count, label) for v in "ab"]
        best = max(a[0] for a in answers)
        same = [a for a in answers if a[0] == best]
        return best, min(a[1] for a in same), max(a[2] for a in same)
    nodes = cluster.node_names()
    choices: list[str | None] = [*nodes, None]
    best, fewest, most = -1, 0, 0
    for assignment in itertools.product(choices, repeat=len(members)):
        placed = [m for m, n in enumerate(assignment) if n is not None]
        used = len({assignment[m] for m in placed})
        if len(placed) < min_count or len(placed) < best:
            continue
        if len(placed) == best and fewest <= used <= most:
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
        if len(placed) > best:
            best, fewest, most = len(placed), used, used
        else:
            fewest, most = min(fewest, used), max(most, used)
    return best, fewest, most


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
        "clique": draw(st.sampled_from([False, False, True])),
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
    attribute = f"{GANG_DRIVER}/clique" if case["clique"] else None
    placement = place_gang(
        cluster,
        members,
        min_count=case["min_count"],
        policy=case["policy"],
        same_node_label=case["label"],
        same_device_attribute=attribute,
    )
    assert snapshot(cluster) == before
    assert members == inputs
    best, fewest, most = brute_force(cluster, members, min_count, case["label"], case["clique"])
    event(f"fits: {best >= 0}, members placed: {best}")
    if best < 0:
        assert placement is None
        explanation = explain_gang(
            cluster,
            members,
            min_count=case["min_count"],
            same_node_label=case["label"],
            same_device_attribute=attribute,
        )
        assert not explanation.fits
        assert explanation.placeable < min_count
        assert explanation.reasons
    else:
        assert placement is not None
        # As many members as fit are placed, on the fewest nodes (pack) or the most
        # (spread) that any assignment placing that many uses.
        assert placement.placed == best
        used = len({n for n in placement.nodes if n is not None})
        assert used == (fewest if case["policy"] == "pack" else most)
        check_placement(
            cluster,
            members,
            placement,
            min_count=min_count,
            same_node_label=case["label"],
        )
        if case["clique"]:
            values = {
                _clique(cluster, result)
                for allocation in placement.allocations
                for result in allocation or ()
            }
            assert len(values - {None}) <= 1 and placement.attribute_value in (values | {None})
    assert snapshot(cluster) == before


def _clique(cluster: Cluster, allocation: Any) -> Any:
    for result in allocation.devices.results:
        for s in cluster.objects("ResourceSlice"):
            if s.spec.pool.name != result.pool:
                continue
            for device in s.spec.devices or []:
                if device.name == result.device:
                    return device.attributes["clique"].string
    return None
