"""The wire types against the literal JSON of kube-scheduler's extender/v1/types_test.go.

TestCompatibility there marshals each value, compares the bytes with the literal, then
decodes the text lowercased and expects the same value. The same here: each literal
decodes and encodes back byte for byte, and its lowercased text decodes to the same
wire fields (the core/v1 objects inside are kept as JSON, so there the keys keep the
case they came in; Go would canonicalise them).
"""

from __future__ import annotations

import json

import pytest

from dra_core.extender import (
    ExtenderArgs,
    ExtenderBindingArgs,
    ExtenderBindingResult,
    ExtenderFilterResult,
    ExtenderPreemptionArgs,
    ExtenderPreemptionResult,
    HostPriority,
    HostPriorityList,
    WireError,
)

# Copied from kubernetes/kube-scheduler extender/v1/types_test.go (TestCompatibility).
_NODE = (
    '{"metadata":{"name":"nodename"},"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":'
    '{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"",'
    '"osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"",'
    '"operatingSystem":"","architecture":""}}}'
)
_POD = '{"metadata":{"name":"podname"},"spec":{"containers":null},"status":{}}'
GO_CASES = [
    (
        ExtenderPreemptionResult,
        '{"NodeNameToMetaVictims":{"foo":{"Pods":[{"UID":"myuid"}],"NumPDBViolations":1}}}',
    ),
    (
        ExtenderPreemptionArgs,
        '{"Pod":' + _POD + ',"NodeNameToVictims":{"foo":{"Pods":[' + _POD + "],"
        '"NumPDBViolations":1}},"NodeNameToMetaVictims":{"foo":{"Pods":[{"UID":"myuid"}],'
        '"NumPDBViolations":1}}}',
    ),
    (
        ExtenderArgs,
        '{"Pod":' + _POD + ',"Nodes":{"metadata":{},"items":[' + _NODE + "]},"
        '"NodeNames":["node1"]}',
    ),
    (
        ExtenderFilterResult,
        '{"Nodes":{"metadata":{},"items":[' + _NODE + ']},"NodeNames":["node1"],'
        '"FailedNodes":{"foo":"bar"},"FailedAndUnresolvableNodes":{"baz":"qux"},'
        '"Error":"myerror"}',
    ),
    (
        ExtenderBindingArgs,
        '{"PodName":"mypodname","PodNamespace":"mypodnamespace","PodUID":"mypoduid",'
        '"Node":"mynode"}',
    ),
    (ExtenderBindingResult, '{"Error":"myerror"}'),
    (HostPriority, '{"Host":"myhost","Score":1}'),
]
IDS = [cls.__name__ for cls, _ in GO_CASES]


@pytest.mark.parametrize(("cls", "literal"), GO_CASES, ids=IDS)
def test_go_literal_round_trips_byte_for_byte(cls, literal) -> None:
    value = cls.from_json(literal)
    assert value.to_json() == literal.encode()


def _fold(value):
    if isinstance(value, dict):
        return {k.lower(): _fold(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fold(v) for v in value]
    return value


@pytest.mark.parametrize(("cls", "literal"), GO_CASES, ids=IDS)
def test_lowercased_literal_decodes_to_the_same_value(cls, literal) -> None:
    value = cls.from_json(literal)
    lowered = cls.from_json(literal.lower())
    # The wire fields are found whatever their case; the values are those of Go's
    # DeepEqual, the embedded core/v1 objects equal up to the case of their keys.
    assert _fold(lowered.to_go()) == _fold(value.to_go())
    assert lowered.to_json().lower() == literal.lower().encode()
    assert list(lowered.to_go()) == list(value.to_go())  # written back under Go's names


def test_zero_values_are_go_nils() -> None:
    assert ExtenderArgs().to_json() == b'{"Pod":null,"Nodes":null,"NodeNames":null}'
    assert ExtenderFilterResult().to_json() == (
        b'{"Nodes":null,"NodeNames":null,"FailedNodes":null,'
        b'"FailedAndUnresolvableNodes":null,"Error":""}'
    )
    assert ExtenderPreemptionResult().to_json() == b'{"NodeNameToMetaVictims":null}'
    assert HostPriorityList().to_json() == b"null"
    assert HostPriorityList([]).to_json() == b"[]"


def test_maps_sorted_and_html_escaped_as_go() -> None:
    result = ExtenderFilterResult(
        FailedNodes={"b": "x<y>&z", "a": "\u2028"}, FailedAndUnresolvableNodes={}
    )
    assert result.to_json() == (
        b'{"Nodes":null,"NodeNames":null,"FailedNodes":{"a":"\\u2028",'
        b'"b":"x\\u003cy\\u003e\\u0026z"},"FailedAndUnresolvableNodes":{},"Error":""}'
    )
    assert json.loads(result.to_json())["FailedNodes"]["b"] == "x<y>&z"


def test_exact_key_and_last_key_win_as_in_go() -> None:
    assert ExtenderBindingResult.from_json('{"error":"a","ERROR":"b"}').error == "b"
    assert ExtenderBindingResult.from_json('{"Error":null}').error == ""
    assert HostPriority.from_json('{"host":"h","sCoRe":7,"Other":1}') == HostPriority(
        Host="h", Score=7
    )


def test_host_priority_list_round_trip() -> None:
    text = '[{"Host":"a","Score":10},{"Host":"b","Score":0}]'
    assert HostPriorityList.from_json(text).to_json() == text.encode()
    assert HostPriorityList.from_json("null") == HostPriorityList(None)


@pytest.mark.parametrize(
    ("cls", "body", "words"),
    [
        (ExtenderArgs, "{", "invalid JSON"),
        (ExtenderArgs, '{"NodeNames":"n1"}', "ExtenderArgs.NodeNames"),
        (ExtenderArgs, '{"NodeNames":[1]}', "ExtenderArgs.NodeNames[0]"),
        (ExtenderArgs, '{"Pod":[]}', "ExtenderArgs.Pod"),
        (ExtenderArgs, '{"Nodes":{"items":{}}}', "Nodes.items must be an array"),
        (HostPriority, '{"Score":1.5}', "HostPriority.Score"),
        (HostPriority, '{"Score":9223372036854775808}', "HostPriority.Score"),
        (HostPriority, '{"Score":true}', "HostPriority.Score"),
        (HostPriority, '{"Score":NaN}', "invalid JSON"),
        (ExtenderBindingArgs, "[]", "ExtenderBindingArgs"),
        (ExtenderBindingArgs, b'{"PodName":"\xff"}', "not UTF-8"),
        (ExtenderArgs, "[" * 100000, "invalid JSON"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v)[:30],
)
def test_bad_bodies_say_what_is_wrong(cls, body, words) -> None:
    with pytest.raises(WireError) as info:
        cls.from_json(body)
    assert words in str(info.value)
