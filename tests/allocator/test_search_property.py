"""Property: on small random instances, the search finds an allocation exactly when
a brute-force enumeration of every assignment finds one, and what it finds is valid.

The brute force knows only the rules (selectors here are plain attribute equality,
devices are dedicated, constraints are match/distinct over a claim's requests); it
shares no code with the allocator.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from builders import (
    allocated_claim,
    claim,
    device,
    device_class,
    distinct_attribute,
    match_attribute,
    node,
    request,
    slice_with_devices,
)
from dra_core.allocator import allocate


@st.composite
def instances(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 5))
    devs = [
        {"name": f"d{i}", "a": draw(st.integers(0, 2)), "b": draw(st.sampled_from("xy"))}
        for i in range(n)
    ]
    in_use = draw(st.sets(st.sampled_from([d["name"] for d in devs]), max_size=2))
    claims = []
    for c in range(draw(st.integers(1, 2))):
        reqs = []
        for r in range(draw(st.integers(1, 2))):
            reqs.append(
                {
                    "name": f"r{r}",
                    "count": draw(st.integers(1, 2)),
                    "want_a": draw(st.one_of(st.none(), st.integers(0, 2))),
                }
            )
        constraint = draw(st.sampled_from([None, "match", "distinct"]))
        attr = draw(st.sampled_from("ab"))
        claims.append({"name": f"c{c}", "requests": reqs, "constraint": (constraint, attr)})
    return {"devices": devs, "in_use": in_use, "claims": claims}


def _candidates(inst: dict[str, Any], req: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        d
        for d in inst["devices"]
        if d["name"] not in inst["in_use"] and (req["want_a"] is None or d["a"] == req["want_a"])
    ]


def _constraint_ok(kind: str | None, attr: str, chosen: list[dict[str, Any]]) -> bool:
    values = [d[attr] for d in chosen]
    if kind == "match":
        return len(set(values)) <= 1
    if kind == "distinct":
        return len(set(values)) == len(values)
    return True


def brute_force(inst: dict[str, Any]) -> bool:
    choices_per_request = []
    owners = []
    for c, cl in enumerate(inst["claims"]):
        for req in cl["requests"]:
            choices_per_request.append(
                list(itertools.combinations(_candidates(inst, req), req["count"]))
            )
            owners.append(c)
    for assignment in itertools.product(*choices_per_request):
        names = [d["name"] for combo in assignment for d in combo]
        if len(names) != len(set(names)):
            continue
        ok = True
        for c, cl in enumerate(inst["claims"]):
            chosen = [
                d for o, combo in zip(owners, assignment, strict=True) if o == c for d in combo
            ]
            kind, attr = cl["constraint"]
            if not _constraint_ok(kind, attr, chosen):
                ok = False
                break
        if ok:
            return True
    return False


def to_manifests(inst: dict[str, Any]) -> dict[str, Any]:
    devices = [device(d["name"], attributes={"a": d["a"], "b": d["b"]}) for d in inst["devices"]]
    claims = []
    for cl in inst["claims"]:
        reqs = [
            request(
                r["name"],
                count=r["count"],
                selectors=(
                    (f'device.attributes["driver-a"].a == {r["want_a"]}',)
                    if r["want_a"] is not None
                    else ()
                ),
            )
            for r in cl["requests"]
        ]
        kind, attr = cl["constraint"]
        constraints = None
        if kind == "match":
            constraints = [match_attribute(f"driver-a/{attr}")]
        elif kind == "distinct":
            constraints = [distinct_attribute(f"driver-a/{attr}")]
        claims.append(claim(cl["name"], *reqs, constraints=constraints))
    in_use = [("driver-a", "pool-1", name) for name in sorted(inst["in_use"])]
    return {
        "node": node(),
        "claims": claims,
        "slices": [slice_with_devices("s", *devices)],
        "classes": [device_class()],
        "allocated_claims": [allocated_claim(*in_use)] if in_use else [],
    }


def check_valid(inst: dict[str, Any], results: list[Any]) -> None:
    by_name = {d["name"]: d for d in inst["devices"]}
    seen: set[str] = set()
    for cl, result in zip(inst["claims"], results, strict=True):
        chosen = []
        for item in result.devices.results:
            assert item.device not in seen, "a device was given twice"
            assert item.device not in inst["in_use"], "a device in use was given"
            seen.add(item.device)
            req = next(r for r in cl["requests"] if r["name"] == item.request)
            dev = by_name[item.device]
            assert req["want_a"] is None or dev["a"] == req["want_a"]
            chosen.append(dev)
        for req in cl["requests"]:
            assert (
                sum(1 for i in result.devices.results if i.request == req["name"]) == req["count"]
            )
        kind, attr = cl["constraint"]
        assert _constraint_ok(kind, attr, chosen)


@settings(max_examples=150, deadline=None)
@given(instances())
def test_search_finds_an_allocation_whenever_one_exists(inst: dict[str, Any]) -> None:
    results = allocate(**to_manifests(inst))
    assert (results is not None) == brute_force(inst)
    if results is not None:
        check_valid(inst, results)
