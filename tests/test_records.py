"""The value classes written out instead of dataclasses (dra_core/_records.py) keep what
the dataclasses gave: equality and hash by value, order by fields, repr, pickling and
copying, and immutability."""

from __future__ import annotations

import copy
import pickle

import pytest

from dra_core import DeviceID, SharedDeviceID
from dra_core.allocator.problem import Candidate, DeviceLocation, RequestKey, Solution
from dra_core.cel._ast import Call, Ident, Macro
from dra_core.cel._checker import T
from dra_core.inventory import PoolID


def test_device_ids_compare_hash_and_order_by_value() -> None:
    a, b = DeviceID("d", "p", "x"), DeviceID("d", "p", "x")
    assert a == b and a is not b and hash(a) == hash(b)
    assert len({a, b, DeviceID("d", "p", "y")}) == 2
    assert sorted([DeviceID("d", "q", "a"), DeviceID("d", "p", "z"), DeviceID("c", "z", "z")]) == [
        DeviceID("c", "z", "z"),
        DeviceID("d", "p", "z"),
        DeviceID("d", "q", "a"),
    ]
    assert a != ("d", "p", "x")  # not a tuple
    assert a != SharedDeviceID("d", "p", "x")  # another class, even with the same fields
    assert repr(a) == "DeviceID(driver='d', pool='p', device='x')"
    assert str(a) == "d/p/x"


def test_values_are_immutable_and_survive_pickle_and_copy() -> None:
    values = [
        DeviceID("d", "p", "x"),
        SharedDeviceID("d", "p", "x", "share"),
        PoolID("d", "p"),
        RequestKey(0, 1, None),
        DeviceLocation(1, 2, 3),
        T("list", (T("int"),)),
    ]
    for value in values:
        for again in (pickle.loads(pickle.dumps(value)), copy.copy(value), copy.deepcopy(value)):
            assert again == value and hash(again) == hash(value)
            assert type(again) is type(value)
        with pytest.raises(AttributeError):
            value.driver = "other"  # type: ignore[union-attr]
    with pytest.raises(AttributeError):
        del values[0].driver  # type: ignore[attr-defined]


def test_order_follows_the_fields_in_order() -> None:
    keys = [RequestKey(1, 0), RequestKey(0, 2), RequestKey(0, 1, 3), RequestKey(0, 1, 2)]
    assert sorted(keys) == [
        RequestKey(0, 1, 2),
        RequestKey(0, 1, 3),
        RequestKey(0, 2),
        RequestKey(1, 0),
    ]
    assert DeviceLocation(0, 1, 2) < DeviceLocation(0, 2, 0) <= DeviceLocation(0, 2, 0)
    assert PoolID("a", "z") < PoolID("b", "a")
    with pytest.raises(TypeError):
        _ = RequestKey(0, 0) < DeviceLocation(0, 0, 0)  # type: ignore[operator]


def test_defaults_are_fresh_and_fields_keep_their_order() -> None:
    one, two = Candidate(1), Candidate(2)
    assert one.demand == {} and one.demand is not two.demand
    assert one.error is None and one.usable is True
    assert Solution(()).selected == {} and Solution(()).selected is not Solution(()).selected
    assert repr(RequestKey(0, 1)) == "RequestKey(claim=0, request=1, subrequest=None)"
    assert Candidate(1) == Candidate(1) and Candidate(1) != Candidate(2)


def test_tree_nodes_are_records() -> None:
    call = Call(1, 5, "_==_", None, [Ident(1, 1, "x"), Ident(1, 6, "y")])
    assert call.function == "_==_" and [a.name for a in call.args] == ["x", "y"]  # type: ignore[attr-defined]
    assert repr(Ident(1, 1, "x")) == "Ident(line=1, column=1, name='x')"
    assert Ident(1, 1, "x") != Ident(1, 1, "x")  # identity, as the dataclasses had (eq=False)
    assert Macro(1, 1, "all", Ident(1, 1, "l"), ("e",)).args == []
