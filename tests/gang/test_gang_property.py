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
from unittest import mock

from gang_helpers import check_placement, snapshot
from hypothesis import event, given, settings
from hypothesis import strategies as st

from dra_core.cluster import Cluster, _gang_joint
from dra_core.cluster._gang import explain_gang, place_gang
from dra_core.errors import ReservationError
from strategies import (
    GANG_DRIVER,
    gang_class,
    gang_members,
    gang_members_sharing,
    gang_node_objects,
    gang_shared_pool,
)


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


# --- pools that several nodes see, claims that several members share -------------------------

VIS = "vis.test"


def _sees(spec: dict[str, Any], node: dict[str, Any]) -> bool:
    """Whether a slice of the generated shapes publishes its devices to ``node``."""
    if spec.get("nodeName"):
        return bool(spec["nodeName"] == node["metadata"]["name"])
    if spec.get("allNodes"):
        return True
    labels = node["metadata"].get("labels") or {}
    (term,) = spec["nodeSelector"]["nodeSelectorTerms"]
    for expr in term["matchExpressions"]:
        assert expr["operator"] == "In"
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def _restricted(claim: dict[str, Any], nodes: list[int]) -> dict[str, Any]:
    out = copy.deepcopy(claim)
    test = " && ".join(f'device.attributes["{VIS}"].n{i}' for i in nodes)
    selector = {"cel": {"expression": test}}
    for request in out["spec"]["devices"]["requests"]:
        for spec in [request.get("exactly"), *request.get("firstAvailable", [])]:
            if spec is not None:
                spec.setdefault("selectors", []).append(selector)
    return out


def joint_fits(
    objects: list[dict[str, Any]], members: list[list[dict[str, Any]]], assignment: tuple[Any, ...]
) -> bool:
    """Whether the assignment (member -> node index or None) allocates, all nodes at once.

    An oracle independent of place_gang: every slice is published to one made-up node,
    each device marked with the nodes that see it (attributes ``vis.test/n<i>``); each
    member's claims may only take devices its node sees, and a claim that members on
    several nodes share only devices that all of them see (its node selector must admit
    every one of them). One allocation of all the claims together then decides, with
    the complete ``auto`` engine.
    """
    import dra_core

    nodes = [o for o in objects if o["kind"] == "Node"]
    slices = []
    for obj in objects:
        if obj["kind"] != "ResourceSlice":
            continue
        spec = {
            k: v
            for k, v in obj["spec"].items()
            if k not in ("nodeName", "nodeSelector", "allNodes")
        }
        spec["allNodes"] = True
        seen = {f"{VIS}/n{i}": {"bool": _sees(obj["spec"], n)} for i, n in enumerate(nodes)}
        spec["devices"] = [
            {**d, "attributes": {**d.get("attributes", {}), **seen}}
            for d in obj["spec"].get("devices", [])
        ]
        slices.append({**obj, "spec": spec})
    where: dict[str, list[int]] = {}
    for m, node in enumerate(assignment):
        if node is not None:
            for claim in members[m]:
                where.setdefault(claim["metadata"]["name"], []).append(node)
    claims = []
    for m, node in enumerate(assignment):
        if node is None:
            continue
        for claim in members[m]:
            name = claim["metadata"]["name"]
            if name in {c["metadata"]["name"] for c in claims}:
                continue
            claims.append(_restricted(claim, sorted(set(where[name]))))
    if not claims:
        return True
    results = dra_core.allocate(
        node={"apiVersion": "v1", "kind": "Node", "metadata": {"name": "everywhere"}},
        claims=[dra_core.load(c)[0] for c in claims],  # with the API server's defaults
        slices=slices,
        classes=[o for o in objects if o["kind"] == "DeviceClass"],
        allocated_claims=[o for o in objects if o["kind"] == "ResourceClaim"],
    )
    return results is not None


def brute_force_joint(
    objects: list[dict[str, Any]],
    members: list[list[dict[str, Any]]],
    min_count: int,
    label: str | None,
    clique: bool = False,
) -> tuple[int, int, int]:
    """:func:`brute_force` with each assignment decided by :func:`joint_fits`."""
    if clique:
        answers = [
            brute_force_joint(objects, only_clique(members, v), min_count, label) for v in "ab"
        ]
        best = max(a[0] for a in answers)
        same = [a for a in answers if a[0] == best]
        return best, min(a[1] for a in same), max(a[2] for a in same)
    nodes = [o for o in objects if o["kind"] == "Node"]
    choices: list[int | None] = [*range(len(nodes)), None]
    best, fewest, most = -1, 0, 0
    for assignment in itertools.product(choices, repeat=len(members)):
        placed = [m for m, n in enumerate(assignment) if n is not None]
        used = len({assignment[m] for m in placed})
        if len(placed) < min_count or len(placed) < best:
            continue
        if len(placed) == best and fewest <= used <= most:
            continue
        if label is not None:
            values = {nodes[assignment[m]]["metadata"]["labels"].get(label) for m in placed}  # type: ignore[index]
            if len(values) > 1:
                continue
        if not joint_fits(objects, members, assignment):
            continue
        if len(placed) > best:
            best, fewest, most = len(placed), used, used
        else:
            fewest, most = min(fewest, used), max(most, used)
    return best, fewest, most


@st.composite
def shared_cases(draw: st.DrawFn) -> dict[str, Any]:
    names = [f"node-{i}" for i in range(draw(st.integers(1, 3)))]
    objects: list[dict[str, Any]] = [gang_class()]
    for name in names:
        objects.extend(draw(gang_node_objects(name)))
    scopes = draw(
        st.lists(st.sampled_from(["all", "r0", "r1"]), min_size=1, max_size=2, unique=True)
    )
    for scope in scopes:
        objects.extend(draw(gang_shared_pool(scope)))
    members = draw(gang_members_sharing())
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
        # the exact search's relaxation tried at once at every level (else after 8 misses)
        "relax_first": draw(st.booleans()),
    }


@settings(max_examples=120, deadline=None)
@given(shared_cases())
def test_place_gang_is_exact_when_nodes_share_pools(case: dict[str, Any]) -> None:
    """Pools that several nodes see and claims that members share: a definite answer.

    place_gang must never raise AllocationTimeout here: it places exactly as many
    members as the best assignment, on the fewest (pack) or most (spread) nodes, and
    returns None exactly when no assignment allocates.
    """
    cluster = Cluster(case["objects"])
    members = case["members"]
    inputs = copy.deepcopy(members)
    min_count = len(members) if case["min_count"] is None else case["min_count"]
    before = snapshot(cluster)
    attribute = f"{GANG_DRIVER}/clique" if case["clique"] else None
    relax_after = 0 if case["relax_first"] else _gang_joint._RELAX_AFTER
    with mock.patch.object(_gang_joint, "_RELAX_AFTER", relax_after):
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
    best, fewest, most = brute_force_joint(
        case["objects"], members, min_count, case["label"], case["clique"]
    )
    shared = any(c["metadata"]["name"] == "group-claim" for m in members for c in m)
    event(f"fits: {best >= 0}, shared claim: {shared}")
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
        assert placement.placed == best
        used = len({n for n in placement.nodes if n is not None})
        assert used == (fewest if case["policy"] == "pack" else most)
        check_placement(
            cluster, members, placement, min_count=min_count, same_node_label=case["label"]
        )
        if shared:
            # The shared claim has one allocation, whichever members hold it.
            held = [
                results[j]
                for m, results in enumerate(placement.allocations)
                if results is not None
                for j, claim in enumerate(members[m])
                if claim["metadata"]["name"] == "group-claim"
            ]
            assert len({r.model_dump_json() for r in held}) <= 1
        if case["clique"]:
            values = {
                _clique(cluster, result)
                for allocation in placement.allocations
                for result in allocation or ()
            }
            assert len(values - {None}) <= 1 and placement.attribute_value in (values | {None})
    assert snapshot(cluster) == before
