"""Invariants of the simulator after any sequence of pod creations, deletions and waits:
no device is given to two claims, every Running pod's claims are allocated and reserved
for it, every claim nobody reserves is deallocated, and the cluster's state equals one
rebuilt from the final objects."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dra_core import Cluster, Simulator
from dra_core.api import ResourceClaim
from strategies import sim_cluster_objects, sim_histories, sim_pod


def check(sim: Simulator) -> None:
    claims: list[ResourceClaim] = sim.cluster.objects("ResourceClaim")
    by_name = {c.metadata.name: c for c in claims}
    live = {r.name: r for r in sim.pods() if r.phase in ("Pending", "Running")}
    uids = {name: sim.pod(name).metadata.uid for name in live}

    # no device is allocated to two claims (none of these devices may be shared)
    holders: Counter[tuple[str, str, str]] = Counter()
    for claim in claims:
        status = claim.status
        if status is not None and status.allocation is not None:
            assert status.allocation.devices is not None
            for r in status.allocation.devices.results:
                holders[(r.driver, r.pool, r.device)] += 1
    assert all(count == 1 for count in holders.values()), holders

    # every Running pod's claims are allocated and reserved for it, on its node
    for row in live.values():
        if row.phase != "Running":
            assert row.message, row
            continue
        assert row.node and not row.message
        for name in row.claims:
            claim = by_name[name]
            assert claim.status is not None and claim.status.allocation is not None
            assert uids[row.name] in {r.uid for r in claim.status.reserved_for}

    # reservedFor names only live pods; a claim nobody reserves is deallocated
    live_uids = {uids[n] for n, r in live.items() if r.phase == "Running"}
    for claim in claims:
        status = claim.status
        reserved = [r.uid for r in status.reserved_for] if status is not None else []
        assert set(reserved) <= live_uids, (claim.metadata.name, reserved)
        if not reserved:
            assert status is None or status.allocation is None, claim.metadata.name
        # generated claims exist only for live pods
        owners = [o.uid for o in claim.metadata.owner_references if o.controller]
        assert set(owners) <= set(uids.values())

    # the summary counts the devices the claims hold
    assert sim.summary()["devices_in_use"] == len(holders)

    # incremental state equals state rebuilt from the objects
    rebuilt = Cluster(sim.cluster.objects())
    assert rebuilt.allocated_state.devices_in_use() == sim.cluster.allocated_state.devices_in_use()
    probe = {
        "metadata": {"name": "probe", "namespace": "default"},
        "spec": {
            "devices": {
                "requests": [
                    {
                        "name": "gpu",
                        "exactly": {
                            "deviceClassName": "gpu",
                            "allocationMode": "ExactCount",
                            "count": 1,
                        },
                    }
                ]
            }
        },
    }
    assert rebuilt.filter([probe]).feasible == sim.cluster.filter([probe]).feasible


@settings(max_examples=60)
@given(sim_histories(), st.sampled_from(["default", "pack", "spread", "best-fit"]))
def test_invariants_after_any_history(
    history: tuple[list[int], list[tuple[str, Any]]], policy: str
) -> None:
    gpus, steps = history
    sim = Simulator(sim_cluster_objects(gpus), policy=policy)
    inputs = repr(steps)
    for action, value in steps:
        if action == "create":
            sim.apply(value)
        elif action == "delete":
            rows = sim.pods()
            if rows:
                row = rows[value % len(rows)]
                sim.delete(kind="Pod", name=row.name, namespace=row.namespace)
        else:
            sim.run(until=sim.now + value)
        sim.run(until=sim.now)
        check(sim)
    sim.run()
    check(sim)
    assert repr(steps) == inputs  # inputs are not changed


@settings(max_examples=20)
@given(sim_histories())
def test_same_history_same_outcome(history: tuple[list[int], list[tuple[str, Any]]]) -> None:
    def play() -> Any:
        gpus, steps = history
        sim = Simulator(sim_cluster_objects(gpus), seed="x")
        for action, value in steps:
            if action == "create":
                sim.apply(value)
            elif action == "wait":
                sim.run(until=sim.now + value)
        sim.run()
        return (
            sim.pods(),
            sim.events(),
            [c.metadata.name for c in sim.cluster.objects("ResourceClaim")],
        )

    assert play() == play()


def test_the_shared_claim_is_deallocated_when_its_last_pod_goes() -> None:
    sim = Simulator(sim_cluster_objects([1]))
    sim.apply(sim_pod("a", ["shared"], None), sim_pod("b", ["shared"], 5))
    sim.run()
    check(sim)
    sim.delete(kind="Pod", name="a")
    check(sim)
    shared = sim.cluster.get("ResourceClaim", "shared", "default")
    assert shared is not None and shared.status is not None and shared.status.allocation is None
