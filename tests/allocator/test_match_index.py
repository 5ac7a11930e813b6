"""The search's matchAttribute index: once a constraint's value is fixed, only devices with
that value are looked at (``RequestInfo.admissible``).

It must change nothing but the work done: the same result, the same "does not fit", the
same error, as the walk over every device in order. A selector that fails on some device
turns the index off for that request (Kubernetes would meet the error in its walk).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dra_core.allocator import Allocator, allocate
from dra_core.allocator.problem import RequestInfo
from dra_core.errors import DraCoreError
from dra_core.features import Features
from strategies import allocation_instances

# Fails with "no such key" on devices without the list attribute "l" (so only some
# devices poison), selects the others.
_POISON = 'device.attributes["driver-a"].l.size() > 0 || device.attributes["driver-a"].a == 1'


def _outcome(case: dict[str, Any]) -> Any:
    try:
        results = allocate(
            node=case["node"],
            claims=case["claims"],
            slices=case["slices"],
            classes=case["classes"],
            allocated_claims=case["allocatedClaims"],
            features=Features.from_mapping(case["features"]),
            engine="search",
        )
    except DraCoreError as err:
        return ("error", type(err).__name__, str(err))
    if results is None:
        return None
    return [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in results]


@st.composite
def _cases(draw: st.DrawFn) -> dict[str, Any]:
    case = draw(allocation_instances())
    if draw(st.integers(0, 3)) == 0:
        case["classes"][0]["spec"] = {"selectors": [{"cel": {"expression": _POISON}}]}
    return case


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=_cases())
def test_the_index_changes_nothing_but_the_work(
    case: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    pristine = copy.deepcopy(case)
    indexed = _outcome(case)
    with monkeypatch.context() as patch:
        patch.setattr(RequestInfo, "admissible", lambda self, con, chosen: None)
        in_order = _outcome(case)
    assert indexed == in_order, json.dumps({"indexed": indexed, "in_order": in_order})[:4000]
    assert case == pristine


def _pools(n: int, *, poison_last: bool = False) -> list[dict[str, Any]]:
    # scheduler_perf's partitionable shape, simplified: per pool two devices of one
    # "slice" value; the first pools' devices are in use, so the first free pair is last.
    slices = []
    for i in range(n):
        devices = [
            {"name": f"dev-{j}", "attributes": {"slice": {"int": i}}} for j in range(2)
        ]
        if poison_last and i == n - 1:
            devices.append({"name": "dev-odd", "attributes": {}})
        slices.append(
            {
                "metadata": {"name": f"slice-{i}"},
                "spec": {
                    "driver": "d.example.com",
                    "pool": {"name": f"pool-{i:04d}", "generation": 1, "resourceSliceCount": 1},
                    "nodeName": "node",
                    "devices": devices,
                },
            }
        )
    return slices


def _claim() -> dict[str, Any]:
    return {
        "metadata": {"name": "two", "namespace": "default", "uid": "u"},
        "spec": {
            "devices": {
                "requests": [
                    {
                        "name": "r",
                        "exactly": {
                            "deviceClassName": "c",
                            "allocationMode": "ExactCount",
                            "count": 2,
                        },
                    }
                ],
                "constraints": [{"requests": ["r"], "matchAttribute": "d.example.com/slice"}],
            }
        },
    }


def _in_use(n: int) -> dict[str, Any]:
    # one device of every pool but the last is in use: only the last pool has a pair
    return {
        "metadata": {"name": "used", "namespace": "default", "uid": "used"},
        "spec": {"devices": {"requests": []}},
        "status": {
            "allocation": {
                "devices": {
                    "results": [
                        {
                            "request": "x",
                            "driver": "d.example.com",
                            "pool": f"pool-{i:04d}",
                            "device": "dev-1",
                        }
                        for i in range(n - 1)
                    ]
                }
            }
        },
    }


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from dra_core.allocator import search

    tried: list[int] = []
    real = search._Search._take

    def counted(self: Any, c: int, req: Any, cand: Any, *, must: bool) -> Any:
        tried.append(cand.device)
        return real(self, c, req, cand, must=must)

    monkeypatch.setattr(search._Search, "_take", counted)
    return tried


@pytest.mark.parametrize("index", [True, False])
def test_the_second_device_is_looked_for_among_its_matches_only(
    monkeypatch: pytest.MonkeyPatch, index: bool
) -> None:
    n = 300
    tried = _counting(monkeypatch)
    if not index:
        monkeypatch.setattr(RequestInfo, "admissible", lambda self, con, chosen: None)
    classes = [{"metadata": {"name": "c"}, "spec": {}}]
    allocator = Allocator(slices=_pools(n), classes=classes, allocated_claims=[_in_use(n)])
    results = allocator.allocate({"metadata": {"name": "node"}}, [_claim()])
    assert results is not None
    chosen = [(r.pool, r.device) for r in results[0].devices.results]
    assert chosen == [(f"pool-{n - 1:04d}", "dev-0"), (f"pool-{n - 1:04d}", "dev-1")]
    # The first device of each pool is free and is tried first. With the index its
    # partner is looked for among the devices of the same "slice" only (in use there:
    # nothing to try); walking in order tries every later free device: n * n / 2.
    if index:
        assert len(tried) <= n + 1, len(tried)
    else:
        assert len(tried) > n * n // 3, len(tried)


def test_a_selector_error_anywhere_turns_the_index_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The class selector fails on "dev-odd" (no "slice" attribute). Walking every
    # device in order, as Kubernetes does, the second pick reaches it and fails with
    # the CEL error; the index must not skip over it.
    n = 20
    classes = [
        {
            "metadata": {"name": "c"},
            "spec": {
                "selectors": [
                    {"cel": {"expression": 'device.attributes["d.example.com"].slice >= 0'}}
                ]
            },
        }
    ]
    slices = _pools(n, poison_last=True)
    in_use = _in_use(n)
    # every pool's dev-1 in use, the last pool's too: no pair anywhere
    in_use["status"]["allocation"]["devices"]["results"].append(
        {"request": "x", "driver": "d.example.com", "pool": f"pool-{n - 1:04d}", "device": "dev-1"}
    )
    case = {
        "node": {"metadata": {"name": "node"}},
        "claims": [_claim()],
        "slices": slices,
        "classes": classes,
        "allocatedClaims": [in_use],
        "features": {},
    }
    indexed = _outcome(case)
    with monkeypatch.context() as patch:
        patch.setattr(RequestInfo, "admissible", lambda self, con, chosen: None)
        in_order = _outcome(case)
    assert indexed == in_order
    assert indexed[0] == "error" and "no such key" in indexed[2], indexed
