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
    first_available,
    match_attribute,
    node,
    request,
    slice_with_devices,
    subrequest,
)
from dra_core.allocator import allocate
from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice


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
            # One alternative is a plain request; two are firstAvailable subrequests.
            alternatives = [
                {
                    "count": draw(st.integers(1, 2)),
                    "want_a": draw(st.one_of(st.none(), st.integers(0, 2))),
                }
                for _ in range(draw(st.integers(1, 2)))
            ]
            reqs.append({"name": f"r{r}", "alternatives": alternatives})
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
    requests = [(c, req) for c, cl in enumerate(inst["claims"]) for req in cl["requests"]]
    for picks in itertools.product(*(range(len(req["alternatives"])) for _, req in requests)):
        choices_per_request = []
        for (_, req), pick in zip(requests, picks, strict=True):
            alt = req["alternatives"][pick]
            choices_per_request.append(
                list(itertools.combinations(_candidates(inst, alt), alt["count"]))
            )
        for assignment in itertools.product(*choices_per_request):
            names = [d["name"] for combo in assignment for d in combo]
            if len(names) != len(set(names)):
                continue
            if all(
                _constraint_ok(
                    *cl["constraint"],
                    [
                        d
                        for (owner, _), combo in zip(requests, assignment, strict=True)
                        if owner == c
                        for d in combo
                    ],
                )
                for c, cl in enumerate(inst["claims"])
            ):
                return True
    return False


def _selector(alt: dict[str, Any]) -> tuple[str, ...]:
    if alt["want_a"] is None:
        return ()
    return (f'device.attributes["driver-a"].a == {alt["want_a"]}',)


def to_manifests(inst: dict[str, Any]) -> dict[str, Any]:
    devices = [device(d["name"], attributes={"a": d["a"], "b": d["b"]}) for d in inst["devices"]]
    claims = []
    for cl in inst["claims"]:
        reqs = []
        for r in cl["requests"]:
            alts = r["alternatives"]
            if len(alts) == 1:
                reqs.append(
                    request(r["name"], count=alts[0]["count"], selectors=_selector(alts[0]))
                )
            else:
                reqs.append(
                    first_available(
                        r["name"],
                        *(
                            subrequest(f"s{i}", count=alt["count"], selectors=_selector(alt))
                            for i, alt in enumerate(alts)
                        ),
                    )
                )
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
        per_request: dict[str, list[str]] = {}
        for item in result.devices.results:
            assert item.device not in seen, "a device was given twice"
            assert item.device not in inst["in_use"], "a device in use was given"
            seen.add(item.device)
            per_request.setdefault(item.request, []).append(item.device)
            chosen.append(by_name[item.device])
        for req in cl["requests"]:
            alts = req["alternatives"]
            names = (
                [req["name"]]
                if len(alts) == 1
                else [f"{req['name']}/s{i}" for i in range(len(alts))]
            )
            used = [n for n in names if n in per_request]
            assert len(used) == 1, "exactly one alternative of each request is used"
            alt = alts[names.index(used[0])]
            assert len(per_request[used[0]]) == alt["count"]
            for dev in per_request[used[0]]:
                assert alt["want_a"] is None or by_name[dev]["a"] == alt["want_a"]
        assert _constraint_ok(*cl["constraint"], chosen)


@settings(max_examples=150, deadline=None)
@given(instances())
def test_search_finds_an_allocation_whenever_one_exists(inst: dict[str, Any]) -> None:
    manifests = to_manifests(inst)
    results = allocate(**manifests)
    assert (results is not None) == brute_force(inst)
    if results is not None:
        check_valid(inst, results)
        validate = _validator()
        if validate is not None:
            violations = validate(
                results=results,
                node=Node.model_validate(manifests["node"]),
                claims=[ResourceClaim.model_validate(c) for c in manifests["claims"]],
                slices=[ResourceSlice.model_validate(s) for s in manifests["slices"]],
                classes=[DeviceClass.model_validate(c) for c in manifests["classes"]],
                allocated_claims=[
                    ResourceClaim.model_validate(c) for c in manifests["allocated_claims"]
                ],
            )
            assert not violations


def _validator() -> Any:
    try:
        from dra_core.allocator.validator import validate_allocation
    except ImportError:
        return None
    return validate_allocation


# --- counters and shared capacity ------------------------------------------------------------


@st.composite
def shared_instances(draw: st.DrawFn) -> dict[str, Any]:
    devices = []
    for i in range(draw(st.integers(1, 4))):
        shared = draw(st.booleans())
        devices.append(
            {
                "name": f"d{i}",
                "shared": shared,
                "cap": draw(st.integers(1, 4)) if shared else None,
                "counter": draw(st.integers(0, 3)),
            }
        )
    requests = [
        {
            "name": f"r{r}",
            "count": draw(st.integers(1, 2)),
            "asks": draw(st.sampled_from([None, 1, 2])),
        }
        for r in range(draw(st.integers(1, 3)))
    ]
    return {"devices": devices, "requests": requests, "counter_total": draw(st.integers(1, 6))}


def shared_brute_force(inst: dict[str, Any]) -> bool:
    devs = inst["devices"]

    def demand(dev: dict[str, Any], req: dict[str, Any]) -> int | None:
        if not dev["shared"]:
            return 0 if req["asks"] is None else None  # a dedicated device has no capacity
        return dev["cap"] if req["asks"] is None else req["asks"]

    options = []
    for req in inst["requests"]:
        usable = [
            d
            for d in devs
            if demand(d, req) is not None
            and demand(d, req) <= (d["cap"] or 0 if d["shared"] else 0)
        ]
        options.append(list(itertools.combinations(usable, req["count"])))
    for assignment in itertools.product(*options):
        dedicated = [d["name"] for combo in assignment for d in combo if not d["shared"]]
        if len(dedicated) != len(set(dedicated)):
            continue
        used: dict[str, int] = {}
        for req, combo in zip(inst["requests"], assignment, strict=True):
            for d in combo:
                if d["shared"]:
                    used[d["name"]] = used.get(d["name"], 0) + (demand(d, req) or 0)
        if any(used[d["name"]] > d["cap"] for d in devs if d["name"] in used):
            continue
        chosen = {d["name"] for combo in assignment for d in combo}
        if sum(d["counter"] for d in devs if d["name"] in chosen) > inst["counter_total"]:
            continue
        return True
    return False


def shared_manifests(inst: dict[str, Any]) -> dict[str, Any]:
    devices = []
    for d in inst["devices"]:
        extra: dict[str, Any] = {
            "consumesCounters": [
                {"counterSet": "cs", "counters": {"units": {"value": str(d["counter"])}}}
            ]
        }
        if d["shared"]:
            extra["allowMultipleAllocations"] = True
            extra["capacity"] = {"units": {"value": str(d["cap"])}}
        devices.append(device(d["name"], **extra))
    parts = slice_with_devices("parts", *devices, slice_count=2)
    counters = slice_with_devices(
        "counters",
        slice_count=2,
        sharedCounters=[
            {"name": "cs", "counters": {"units": {"value": str(inst["counter_total"])}}}
        ],
    )
    counters["spec"].pop("devices")
    reqs = [
        request(
            r["name"],
            count=r["count"],
            capacity={"units": str(r["asks"])} if r["asks"] is not None else None,
        )
        for r in inst["requests"]
    ]
    return {
        "node": node(),
        "claims": [claim("c", *reqs)],
        "slices": [parts, counters],
        "classes": [device_class()],
    }


@settings(max_examples=150, deadline=None)
@given(shared_instances())
def test_search_with_counters_and_shares_finds_an_allocation_whenever_one_exists(
    inst: dict[str, Any],
) -> None:
    results = allocate(**shared_manifests(inst))
    assert (results is not None) == shared_brute_force(inst)
