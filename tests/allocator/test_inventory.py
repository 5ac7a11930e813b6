"""Inventory: pools per node, completeness, validity, order and node matching."""

from __future__ import annotations

from typing import Any

import pytest

from builders import device, node, slice_with_devices
from dra_core.api import Node, NodeSelector, ResourceSlice
from dra_core.features import Features
from dra_core.inventory import Inventory, node_selector_matches


def inventory(*slices: dict[str, Any], features: Features | None = None) -> Inventory:
    return Inventory([ResourceSlice.model_validate(s) for s in slices], features or Features())


def pools(inv: Inventory, name: str = "node-1", **labels: str) -> list[Any]:
    return inv.pools_for_node(Node.model_validate(node(name, **labels)))


def test_pools_sorted_by_driver_and_pool_binding_conditions_last() -> None:
    inv = inventory(
        slice_with_devices("s1", device("a"), driver="drv-b", pool="p1"),
        slice_with_devices(
            "s2", device("b", bindingConditions=["ready"]), driver="drv-a", pool="p0"
        ),
        slice_with_devices("s3", device("c"), driver="drv-a", pool="p2"),
    )
    assert [str(p.id) for p in pools(inv)] == ["drv-a/p2", "drv-b/p1", "drv-a/p0"]


def test_slices_sorted_by_name_within_a_pool() -> None:
    inv = inventory(
        slice_with_devices("b", device("x"), slice_count=2),
        slice_with_devices("a", device("y"), slice_count=2),
    )
    (pool,) = pools(inv)
    assert [s.name for s in pool.slices] == ["a", "b"]


def test_missing_slice_makes_the_pool_incomplete() -> None:
    inv = inventory(slice_with_devices("a", device("y"), slice_count=2))
    (pool,) = pools(inv)
    assert pool.incomplete


def test_newer_generation_replaces_older_slices() -> None:
    inv = inventory(
        slice_with_devices("old", device("x"), generation=1),
        slice_with_devices("new", device("y"), generation=2),
    )
    (pool,) = pools(inv)
    assert [d.device.name for d in pool.slices[0].devices] == ["y"]


def test_newer_generation_on_another_node_makes_the_incomplete_pool_obsolete() -> None:
    inv = inventory(
        slice_with_devices("mine", device("x"), generation=1, slice_count=2),
        slice_with_devices("theirs", device("y"), generation=2, node_name="node-2"),
    )
    assert pools(inv) == []


@pytest.mark.parametrize(
    ("devices", "reason"),
    [
        ([device("x"), device("x")], "duplicate device name x"),
        (
            [device("x", consumesCounters=[{"counterSet": "nope", "counters": {}}])],
            "counter set nope not found",
        ),
    ],
)
def test_invalid_pools_say_why(devices: list[dict[str, Any]], reason: str) -> None:
    (pool,) = pools(inventory(slice_with_devices("s", *devices)))
    assert pool.invalid and pool.invalid_reason == reason


def test_node_selection_by_name_all_nodes_and_selector() -> None:
    selector = {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}
        ]
    }
    inv = inventory(
        slice_with_devices("local", device("a"), pool="local"),
        slice_with_devices("all", device("b"), pool="all", node_name=None, allNodes=True),
        slice_with_devices("sel", device("c"), pool="sel", node_name=None, nodeSelector=selector),
    )
    assert [p.id.pool for p in pools(inv, zone="z1")] == ["all", "local", "sel"]
    assert [p.id.pool for p in pools(inv, "node-2", zone="z2")] == ["all"]


def test_per_device_node_selection_needs_the_feature() -> None:
    s = slice_with_devices(
        "s", device("a", nodeName="node-1"), node_name=None, perDeviceNodeSelection=True
    )
    assert len(pools(inventory(s))) == 1
    assert pools(inventory(s, features=Features(partitionable_devices=False))) == []


@pytest.mark.parametrize(
    ("operator", "values", "labels", "expected"),
    [
        ("In", ["a"], {"k": "a"}, True),
        ("NotIn", ["a"], {"k": "a"}, False),
        ("NotIn", ["a"], {}, True),
        ("Exists", [], {"k": "x"}, True),
        ("DoesNotExist", [], {"k": "x"}, False),
        ("Gt", ["3"], {"k": "4"}, True),
        ("Lt", ["3"], {"k": "4"}, False),
        ("Gt", ["3"], {"k": "four"}, False),
    ],
)
def test_node_selector_operators(
    operator: str, values: list[str], labels: dict[str, str], expected: bool
) -> None:
    selector = NodeSelector.model_validate(
        {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "k", "operator": operator, "values": values}]}
            ]
        }
    )
    assert node_selector_matches(selector, Node.model_validate(node("n", **labels))) is expected


def test_malformed_node_selector_is_an_error() -> None:
    selector = NodeSelector.model_validate(
        {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "Near"}]}]}
    )
    with pytest.raises(ValueError, match="not a valid selector operator"):
        node_selector_matches(selector, Node.model_validate(node()))


def test_selector_results_are_cached_per_device_and_expression() -> None:
    inv = inventory(slice_with_devices("s", device("a", attributes={"m": 1})))
    entry = next(iter(inv.device_entries()))
    expr = 'device.attributes["driver-a"].m == 1'
    assert entry.matches(expr)
    assert entry._results[expr] is True  # the cached answer


def test_with_slices_keeps_the_entries_of_unchanged_slices() -> None:
    kept = ResourceSlice.model_validate(slice_with_devices("a", device("x"), pool="p1"))
    changed = ResourceSlice.model_validate(slice_with_devices("b", device("y"), pool="p2"))
    inv = Inventory([kept, changed], Features())
    replacement = ResourceSlice.model_validate(slice_with_devices("b", device("z"), pool="p2"))
    newer = inv.with_slices([kept, replacement])
    assert newer.slices[0] is inv.slices[0]
    assert [d.device.name for d in newer.slices[1].devices] == ["z"]
    assert [str(p.id) for p in pools(newer)] == ["driver-a/p1", "driver-a/p2"]


def test_inventories_are_reused_for_the_same_slice_objects() -> None:
    slices = [ResourceSlice.model_validate(slice_with_devices("a", device("x")))]
    first = Inventory.cached(slices, Features())
    assert Inventory.cached(list(slices), Features()) is first
    assert Inventory.cached(slices, Features(device_taints=False)) is not first
