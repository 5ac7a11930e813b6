"""The Cluster gives exactly what dra_core.allocate gives on every node, after any events.

Random sequences of events (slices added, replaced by a new generation, deleted; nodes added,
relabelled and removed; claims allocated and released through reserve/unreserve or through
apply/delete of allocated claims; DeviceTaintRules added and removed; forks changed on either
side). After every event, random pods' claims are filtered and compared node by node with
``dra_core.allocate`` over all the cluster's objects (the slices as kube-scheduler sees them,
with the taint rules applied): the same feasible nodes, the same reasons, and for every
feasible node the same AllocationResults. At the end the cluster equals one built from
scratch from its objects.
"""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import dra_core
from dra_core.cluster import CANNOT_ALLOCATE, Cluster
from dra_core.errors import InputError, ReservationError
from strategies import (
    CLUSTER_NODES,
    cluster_claim,
    cluster_claim_specs,
    cluster_classes,
    cluster_node,
    cluster_slices,
    cluster_taint_rule,
)


def _oracle(cluster: Cluster, claims: Any) -> dict[str, Any]:
    """What dra_core.allocate says on every node: a result list, None, or the error text.

    The claims are loaded as the cluster loads them (with the API server's defaults).
    """
    claims = dra_core.load(claims)
    slices = dra_core.apply_taint_rules(
        cluster.objects("ResourceSlice"), cluster.objects("DeviceTaintRule")
    )
    classes = cluster.objects("DeviceClass")
    allocated = cluster.objects("ResourceClaim")
    out: dict[str, Any] = {}
    for name in cluster.node_names():
        try:
            out[name] = dra_core.allocate(
                node=cluster.get("Node", name),
                claims=claims,
                slices=slices,
                classes=classes,
                allocated_claims=allocated,
            )
        except InputError as err:
            out[name] = str(err)
    return out


def _check(cluster: Cluster, claims: list[dict[str, Any]]) -> None:
    before = copy.deepcopy(claims)
    view = cluster.filter(claims)
    expected = _oracle(cluster, claims)
    assert claims == before
    assert list(view.feasible) == [n for n, r in expected.items() if isinstance(r, list)]
    for name, result in expected.items():
        if isinstance(result, list):
            assert name not in view.reasons
            assert view.allocation(name) == result
        elif result is None:
            assert view.reasons[name] == CANNOT_ALLOCATE
        else:
            assert view.reasons[name] == result
    assert view.nodes == len(expected)


def _pod_claims(data: st.DataObject, tag: str) -> list[dict[str, Any]]:
    count = data.draw(st.integers(1, 2), label="pod claims")
    return [cluster_claim(f"{tag}-{k}", data.draw(cluster_claim_specs())) for k in range(count)]


def _event(cluster: Cluster, data: st.DataObject, step: int) -> None:
    kind = data.draw(
        st.sampled_from(
            [
                "slice",
                "slice",
                "clone",
                "clone",
                "drop-slice",
                "node",
                "allocate",
                "allocate",
                "allocate",
                "release",
                "rule",
            ]
        ),
        label="event",
    )
    if kind == "slice":
        tag = data.draw(st.sampled_from(["s0", "s1", "s2", "s3", "s4"]))
        cluster.apply(*data.draw(cluster_slices(tag)))
    elif kind == "clone":
        # The same devices on another node: nodes that differ only in names (and in
        # what is in use) are what equivalence classes group.
        local = [s for s in cluster.objects("ResourceSlice") if s.spec.node_name]
        if local:
            source = json.loads(dra_core.dump_json(data.draw(st.sampled_from(local))))
            node = data.draw(st.sampled_from(cluster.node_names()))
            source["metadata"] = {"name": f"{node}-clone-{step}"}
            source["spec"]["nodeName"] = node
            source["spec"]["pool"] = {
                "name": f"{node}-clone-{step}",
                "generation": 1,
                "resourceSliceCount": 1,
            }
            if "sharedCounters" not in source["spec"]:
                cluster.apply(source)
    elif kind == "drop-slice":
        slices = cluster.objects("ResourceSlice")
        if slices:
            cluster.delete(data.draw(st.sampled_from(slices)))
    elif kind == "node":
        name = data.draw(st.sampled_from([*CLUSTER_NODES, "node-4"]))
        if cluster.get("Node", name) is not None and data.draw(st.integers(0, 3)) == 0:
            cluster.delete(kind="Node", name=name)
        else:
            cluster.apply(cluster_node(name, data.draw(st.sampled_from(["r0", "r1"]))))
    elif kind == "allocate":
        claim = cluster_claim(f"alloc-{step}", data.draw(cluster_claim_specs()))
        # Mostly nodes with devices of their own, where allocating changes their key.
        with_devices = {
            s.spec.node_name for s in cluster.objects("ResourceSlice") if s.spec.node_name
        }
        candidates = [n for n in cluster.node_names() if n in with_devices]
        node = data.draw(st.sampled_from(candidates or cluster.node_names()))
        if data.draw(st.booleans(), label="through reserve"):
            # Does not fit there, or an invalid pool: nothing changes.
            with contextlib.suppress(ReservationError, InputError):
                cluster.reserve([claim], node)
        else:
            try:
                results = dra_core.allocate(
                    node=cluster.get("Node", node),
                    claims=dra_core.load(claim),
                    slices=dra_core.apply_taint_rules(
                        cluster.objects("ResourceSlice"), cluster.objects("DeviceTaintRule")
                    ),
                    classes=cluster.objects("DeviceClass"),
                    allocated_claims=cluster.objects("ResourceClaim"),
                )
            except InputError:
                results = None
            if results is not None:
                claim["status"] = {"allocation": json.loads(dra_core.dump_json(results[0]))}
                cluster.apply(claim)
    elif kind == "release":
        claims = cluster.objects("ResourceClaim")
        if claims:
            claim = data.draw(st.sampled_from(claims))
            allocated = claim.status is not None and claim.status.allocation is not None
            # unreserve() takes allocated claims only (an unallocated one is an error);
            # a claim released once that stays in the cluster is then deleted.
            if allocated and data.draw(st.booleans(), label="through unreserve"):
                cluster.unreserve([claim])
            else:
                cluster.delete(claim)
    else:
        name = data.draw(st.sampled_from(["rule-a", "rule-b"]))
        if cluster.get("DeviceTaintRule", name) is not None and data.draw(st.booleans()):
            cluster.delete(kind="DeviceTaintRule", name=name)
        else:
            pools = sorted({s.spec.pool.name for s in cluster.objects("ResourceSlice")})
            pool = data.draw(st.sampled_from([None, *pools]))
            cluster.apply(cluster_taint_rule(name, pool))


def _snapshot(cluster: Cluster) -> Any:
    state = cluster.allocated_state
    return (
        [dra_core.dump_json(o, indent=None) for o in cluster.objects()],
        sorted(map(str, state.devices_in_use())),
    )


def _pools(cluster: Cluster) -> Any:
    inventory = cluster._data.inventory
    out = {}
    for name in cluster.node_names():
        pools = inventory.pools_for_node(cluster.get("Node", name))
        out[name] = [
            (str(p.id), p.incomplete, p.invalid, p.invalid_reason, [s.name for s in p.slices])
            for p in pools
        ]
    return out


@settings(max_examples=150)
@given(st.data())
def test_filter_equals_allocate_on_every_node_after_any_events(data: st.DataObject) -> None:
    cluster = Cluster([*(cluster_node(n) for n in CLUSTER_NODES), *cluster_classes()])
    forks: list[tuple[Cluster, Any]] = []
    for step in range(data.draw(st.integers(1, 14), label="steps")):
        if data.draw(st.integers(0, 5), label="fork") == 0:
            # Keep the original aside, unchanged from now on; go on with the fork.
            fork = cluster.fork()
            forks.append((cluster, _snapshot(cluster)))
            cluster = fork
        _event(cluster, data, step)
        _check(cluster, _pod_claims(data, f"pod{step}"))
    for original, snapshot in forks:
        assert _snapshot(original) == snapshot
        _check(original, _pod_claims(data, "original"))
    # Incremental state equals state built from scratch from the same objects.
    rebuilt = Cluster(cluster.objects())
    assert _snapshot(rebuilt) == _snapshot(cluster)
    assert _pools(rebuilt) == _pools(cluster)
    state, fresh = cluster.allocated_state, rebuilt.allocated_state
    assert state.allocated_devices == fresh.allocated_devices
    assert state.allocated_shared_device_ids == fresh.allocated_shared_device_ids
    assert state.aggregated_capacity == fresh.aggregated_capacity
    claims = _pod_claims(data, "last")
    a, b = cluster.filter(claims), rebuilt.filter(claims)
    assert (a.feasible, a.reasons) == (b.feasible, b.reasons)
