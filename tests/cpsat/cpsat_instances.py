"""Random small allocation instances (conformance-case dicts) for engine comparisons.

Richer than the search's brute-force property: several pools, firstAvailable
subrequests, ``All`` requests, admin access, taints, list-typed attributes,
match/distinct constraints scoped to requests, shared counters, shareable devices
with consumable capacity, and devices already in use.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

DRIVER = "driver-a"
NODE = "node-1"


@st.composite
def _device(draw: st.DrawFn, name: str, counter_sets: list[str], lists: bool) -> dict[str, Any]:
    dev: dict[str, Any] = {
        "name": name,
        "attributes": {
            "a": {"int": draw(st.integers(0, 2))},
            "b": {"string": draw(st.sampled_from("xy"))},
        },
    }
    # With list-type attributes off, a list attribute makes every selector fail
    # (Kubernetes: "unsupported attribute value"), so lists only come with them on.
    if lists and draw(st.booleans()):
        dev["attributes"]["l"] = {
            "ints": sorted(draw(st.sets(st.integers(0, 3), min_size=1, max_size=3)))
        }
    kind = draw(st.sampled_from(["plain", "plain", "counters", "shared"]))
    if kind == "counters" and counter_sets:
        dev["consumesCounters"] = [
            {
                "counterSet": draw(st.sampled_from(counter_sets)),
                "counters": {"mem": {"value": str(draw(st.integers(1, 4)))}},
            }
        ]
    elif kind == "shared":
        dev["allowMultipleAllocations"] = True
        dev["capacity"] = {
            "bw": {
                "value": str(draw(st.integers(2, 10))),
                "requestPolicy": {"default": "1", "validRange": {"min": "1", "step": "1"}},
            }
        }
    if draw(st.integers(0, 5)) == 0:
        dev["taints"] = [{"key": "k", "value": "v", "effect": "NoSchedule"}]
    return dev


@st.composite
def _pool(draw: st.DrawFn, index: int, lists: bool) -> list[dict[str, Any]]:
    pool = f"pool-{index}"
    counter_sets = [f"cs-{index}"] if draw(st.booleans()) else []
    devices = [
        draw(_device(f"p{index}-d{i}", counter_sets, lists)) for i in range(draw(st.integers(2, 7)))
    ]
    slices = [
        {
            "metadata": {"name": f"{pool}-devices"},
            "spec": {
                "driver": DRIVER,
                "pool": {
                    "name": pool,
                    "generation": 1,
                    "resourceSliceCount": 2 if counter_sets else 1,
                },
                "nodeName": NODE,
                "devices": devices,
            },
        }
    ]
    if counter_sets:
        slices.append(
            {
                "metadata": {"name": f"{pool}-counters"},
                "spec": {
                    "driver": DRIVER,
                    "pool": {"name": pool, "generation": 1, "resourceSliceCount": 2},
                    "nodeName": NODE,
                    "sharedCounters": [
                        {"name": cs, "counters": {"mem": {"value": str(draw(st.integers(2, 6)))}}}
                        for cs in counter_sets
                    ],
                },
            }
        )
    return slices


_SELECTORS = [
    None,
    None,
    None,
    'device.attributes["driver-a"].a == 1',
    'device.attributes["driver-a"].b == "x"',
    'device.attributes["driver-a"].a >= 1',
]


@st.composite
def _exactly(draw: st.DrawFn, *, sub: bool) -> dict[str, Any]:
    mode = "All" if draw(st.integers(0, 9)) == 0 else "ExactCount"
    body: dict[str, Any] = {"deviceClassName": "class-a", "allocationMode": mode}
    if mode == "ExactCount":
        body["count"] = draw(st.sampled_from([1, 1, 1, 2, 2, 3]))
    selector = draw(st.sampled_from(_SELECTORS))
    if selector:
        body["selectors"] = [{"cel": {"expression": selector}}]
    if not sub and draw(st.integers(0, 6)) == 0:
        body["adminAccess"] = True
    if draw(st.integers(0, 4)) == 0:
        body["tolerations"] = [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]
    if draw(st.integers(0, 4)) == 0:
        body["capacity"] = {"requests": {"bw": str(draw(st.integers(1, 4)))}}
    return body


@st.composite
def _claim(draw: st.DrawFn, index: int) -> dict[str, Any]:
    requests: list[dict[str, Any]] = []
    names: list[str] = []
    for r in range(draw(st.sampled_from([1, 1, 2, 2, 3]))):
        name = f"r{r}"
        if draw(st.integers(0, 3)) == 0:
            subs = []
            for s in range(draw(st.integers(2, 3))):
                body = draw(_exactly(sub=True))
                subs.append({"name": f"s{s}", **body})
                names.append(f"{name}/s{s}")
            requests.append({"name": name, "firstAvailable": subs})
        else:
            requests.append({"name": name, "exactly": draw(_exactly(sub=False))})
        names.append(name)
    constraints = []
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        kind = draw(st.sampled_from(["matchAttribute", "distinctAttribute"]))
        attr = draw(st.sampled_from(["a", "b", "l"]))
        scope = draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
        con: dict[str, Any] = {kind: f"{DRIVER}/{attr}"}
        if scope:
            con["requests"] = scope
        constraints.append(con)
    devices: dict[str, Any] = {"requests": requests}
    if constraints:
        devices["constraints"] = constraints
    return {
        "metadata": {"name": f"claim-{index}", "namespace": "default", "uid": f"uid-{index}"},
        "spec": {"devices": devices},
    }


@st.composite
def allocation_instances(draw: st.DrawFn) -> dict[str, Any]:
    """A conformance-format case: node, slices, classes, claims, allocatedClaims, features."""
    lists = draw(st.booleans())
    slices: list[dict[str, Any]] = []
    for p in range(draw(st.integers(1, 2))):
        slices.extend(draw(_pool(p, lists)))
    names = [
        (s["spec"]["pool"]["name"], d["name"])
        for s in slices
        for d in s["spec"].get("devices", [])
        if not d.get("allowMultipleAllocations")
    ]
    in_use = draw(st.lists(st.sampled_from(names), max_size=2, unique=True)) if names else []
    allocated = []
    if in_use:
        allocated.append(
            {
                "metadata": {"name": "in-use", "namespace": "default", "uid": "in-use"},
                "spec": {"devices": {"requests": []}},
                "status": {
                    "allocation": {
                        "devices": {
                            "results": [
                                {"request": f"x{i}", "driver": DRIVER, "pool": p, "device": d}
                                for i, (p, d) in enumerate(in_use)
                            ]
                        }
                    }
                },
            }
        )
    claims = [draw(_claim(c)) for c in range(draw(st.sampled_from([1, 1, 2, 2, 3])))]
    return {
        "name": "random",
        "features": {
            "listTypeAttributes": lists,
            # Mostly on; off now and then (Kubernetes then refuses or ignores things).
            **{
                name: draw(st.sampled_from([True] * 9 + [False]))
                for name in (
                    "adminAccess",
                    "consumableCapacity",
                    "deviceTaints",
                    "partitionableDevices",
                    "prioritizedList",
                )
            },
        },
        "node": {"metadata": {"name": NODE}},
        "slices": slices,
        "classes": [{"metadata": {"name": "class-a"}, "spec": {}}],
        "claims": claims,
        "allocatedClaims": allocated,
    }
