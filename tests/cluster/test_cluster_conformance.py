"""Kubernetes' allocator test table through a one-node Cluster.

Every conformance case (and every upstream case transcribed in tests/cases/upstream) becomes
a cluster: its node, slices, classes and allocated claims applied as models (as the table
writes them: no defaults), then the case's claims filtered and, where they fit, read back
with ``FilterView.allocation``. The expectation is the table's: the same results, "does not
fit" as the node's reason, an error either raised by ``filter`` (input no node can fix) or
given as the node's reason (errors of this node, such as invalid pools).

Objects a real cluster cannot hold twice are the only adjustment. Allocated claims get
names of their own (the table reuses names; only their allocations matter). Slices that
repeat a name get a suffix that sorts below every character, so that their order within a
pool (by name) stays the table's. Of classes that repeat a name the first is kept, as
``dra_core.allocate`` does. Cases whose node has no name are pinned in ``LEFT_OUT``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import data_files, data_path, data_relative
from dra_core import Cluster, DraCoreError, Features
from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice
from dra_core.cluster import CANNOT_ALLOCATE
from test_conformance import _case_files, _multiset_match, _normalise

UPSTREAM = Path(__file__).resolve().parents[1] / "cases" / "upstream"


def _cases() -> list[Any]:
    upstream = [pytest.param(p, id=f"upstream/{p.stem}") for p in sorted(UPSTREAM.glob("*.json"))]
    return [*_case_files(), *upstream]


def _unfit_for_a_cluster(case: dict[str, Any]) -> str:
    node = case.get("node") or {}
    if not (node.get("metadata") or {}).get("name"):
        return "no node name"
    return ""


def _slices(case: dict[str, Any]) -> list[ResourceSlice]:
    models = [ResourceSlice.model_validate(s) for s in case.get("slices") or []]
    names = [m.metadata.name for m in models]
    out = []
    for i, model in enumerate(models):
        if names.count(model.metadata.name) > 1:
            meta = model.metadata.model_copy(update={"name": f"{model.metadata.name}\x00{i:04d}"})
            model = model.model_copy(update={"metadata": meta})
        out.append(model)
    return out


def _classes(case: dict[str, Any]) -> list[DeviceClass]:
    first: dict[str, DeviceClass] = {}
    for c in case.get("classes") or []:
        model = DeviceClass.model_validate(c)
        first.setdefault(model.metadata.name, model)
    return list(first.values())


def run_in_cluster(case: dict[str, Any]) -> None:
    pristine = copy.deepcopy(case)
    features = Features.from_mapping(case.get("features") or {})
    node = Node.model_validate(case["node"])
    allocated = []
    for i, claim in enumerate(case.get("allocatedClaims") or []):
        model = ResourceClaim.model_validate(claim)
        meta = model.metadata.model_copy(update={"name": f"allocated-{i}", "namespace": "in-use"})
        allocated.append(model.model_copy(update={"metadata": meta}))
    cluster = Cluster(
        [
            node,
            *_slices(case),
            *_classes(case),
            *allocated,
        ],
        features=features,
    )
    claims = [ResourceClaim.model_validate(c) for c in case.get("claims") or []]
    name = node.metadata.name
    expect = case["expect"]
    try:
        view = cluster.filter(claims)
    except DraCoreError as err:
        assert expect.get("error"), f"unexpected error: {err}"
        assert expect["error"] in str(err)
        return
    finally:
        assert case == pristine, "the cluster changed its inputs"
    if expect.get("error"):
        assert name in view.reasons, "expected an error"
        assert expect["error"] in view.reasons[name]
        return
    want = expect.get("results")
    if want is None and claims:
        assert view.reasons.get(name) == CANNOT_ALLOCATE
        return
    assert list(view.feasible) == [name], view.reasons
    results = view.allocation(name)
    if want is None:
        assert results == []
        return
    got = [
        _normalise(r.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True))
        for r in results
    ]
    expected = [_normalise(r) for r in want]
    assert _multiset_match(got, expected, list(expect.get("resultsDeviceOrderInsensitive") or []))


@pytest.mark.parametrize("path", _cases())
def test_case_through_a_one_node_cluster(path: Path) -> None:
    if "upstream" not in path.parts:
        path = data_path(*data_relative(path))
    case = json.loads(path.read_text())
    reason = _unfit_for_a_cluster(case)
    if reason:
        # Not a skip: such cases are listed below and their number is pinned.
        assert path.stem in LEFT_OUT, f"{path.stem}: {reason}"
        return
    run_in_cluster(case)


# Cases a real cluster cannot hold (see the module docstring), pinned so that the list
# cannot grow unnoticed.
LEFT_OUT: set[str] = set()


def test_data_is_there() -> None:
    assert len(data_files("conformance", "cases")) > 100
