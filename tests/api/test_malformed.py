"""Malformed objects: any JSON value in any field of any kind gives a typed error, or loads.

The inputs are the objects of Kubernetes' conformance cases and of the real manifests in
tests/data, each changed in one to three places at any depth (``strategies.malformed``).
Whatever comes out of ``dra_core.load`` and ``dra_core.allocate`` is a result or a
``DraCoreError``: never a TypeError, KeyError, AttributeError, RecursionError or any other
untyped exception. The inputs are not changed.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

import dra_core
from conftest import MODEL_KINDS, conformance_cases, objects_by_kind
from dra_core import DraCoreError
from dra_core.errors import ManifestError
from strategies import malformed_cases, malformed_documents

GROUP = "resource.k8s.io/v1"

# Deferred: the data is read when the first example is drawn, inside a test, so that missing
# data fails that test instead of the collection.
any_malformed_document = st.deferred(lambda: malformed_documents(objects_by_kind()))
any_malformed_case = st.deferred(lambda: malformed_cases(conformance_cases()))

# Found once (issue 8): a name that is not a string broke the building of the error itself.
NAMED_BY_A_LIST = {"apiVersion": GROUP, "kind": "DeviceClass", "metadata": {"name": [1]}}


def test_every_kind_has_objects_to_change() -> None:
    found = {kind: len(docs) for kind, docs in objects_by_kind().items()}
    assert all(found[kind] > 0 for kind in MODEL_KINDS), found


def texts(value: Any) -> list[str]:
    """``value`` as JSON and as YAML text (those that can be written)."""
    out = []
    for write in (json.dumps, yaml.safe_dump):
        try:
            out.append(write(value))
        except ValueError:  # an integer with more digits than Python converts to text
            continue
    return out


@settings(max_examples=300)
@given(any_malformed_document)
@example(NAMED_BY_A_LIST)
@example({"apiVersion": "v1", "kind": "Node", "metadata": {"name": {"a": 1}}})
@example({"apiVersion": GROUP, "kind": "ResourceClaim", "metadata": {"name": 5}, "spec": 7})
def test_load_gives_typed_errors_only(doc: dict[str, Any]) -> None:
    pristine = copy.deepcopy(doc)
    report = dra_core.load_report(doc)  # a dict: reports its problems, never raises
    assert len(report) >= 1
    for source in [doc, *texts(doc)]:
        try:
            dra_core.load(source)
        except DraCoreError as error:
            assert str(error)
    assert doc == pristine, "loading changed its input"


@settings(max_examples=300)
@given(any_malformed_case)
def test_allocate_with_dicts_gives_typed_errors_only(inputs: dict[str, Any]) -> None:
    pristine = copy.deepcopy(inputs)
    try:
        dra_core.allocate(**inputs)
    except DraCoreError as error:
        assert str(error)
    assert inputs == pristine, "allocating changed its inputs"


@pytest.mark.parametrize("name", [5, 1.5, True, [1], {"a": 1}])
@pytest.mark.parametrize("kind", ["ResourceSlice", "DeviceClass", "ResourceClaim", "Node"])
def test_a_name_of_any_type_gives_a_manifest_error(kind: str, name: Any) -> None:
    case = copy.deepcopy(conformance_cases()[0])
    target = {
        "ResourceSlice": case["slices"][0],
        "DeviceClass": case["classes"][0],
        "ResourceClaim": case["claims"][0],
        "Node": case["node"],
    }[kind]
    target["metadata"]["name"] = name
    with pytest.raises(ManifestError) as info:
        dra_core.allocate(
            node=case["node"], slices=case["slices"], classes=case["classes"], claims=case["claims"]
        )
    assert info.value.kind == kind
    assert info.value.name == json.dumps(name)
    assert "metadata.name" in str(info.value)


def test_manifest_errors_render_any_context() -> None:
    error = ManifestError("bad", kind="DeviceClass", name=[1, {"a": None}], field=7)  # type: ignore[arg-type]
    assert str(error) == 'DeviceClass [1, {"a": null}]: 7: bad'
    assert error.name == '[1, {"a": null}]' and error.field == "7"
    loop: list[Any] = []
    loop.append(loop)
    assert ManifestError("bad", name=loop).name == "<list>"  # type: ignore[arg-type]
    assert str(ManifestError("bad", name=float("nan"))) == "NaN: bad"  # type: ignore[arg-type]


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


CLASS_WITH_PARAMETERS = {
    "apiVersion": GROUP,
    "kind": "DeviceClass",
    "metadata": {"name": "c"},
    "spec": {"config": [{"opaque": {"driver": "d.example.com", "parameters": {"a": 1}}}]},
}


def with_parameters(parameters: Any) -> dict[str, Any]:
    doc = copy.deepcopy(CLASS_WITH_PARAMETERS)
    doc["spec"]["config"][0]["opaque"]["parameters"] = parameters
    return doc


def still_nested(value: Any, depth: int) -> bool:
    """Whether ``value`` is still ``nested(depth)`` (iteratively: == would recurse)."""
    for _ in range(depth):
        if not (isinstance(value, list) and len(value) == 1):
            return False
        value = value[0]
    return value == []


@pytest.mark.parametrize("depth", [101, 300, 5_000])
def test_deep_nesting_is_a_located_error_not_a_recursion_error(depth: int) -> None:
    doc = with_parameters(nested(depth))
    with pytest.raises(ManifestError, match="nested more than 100 levels deep") as info:
        dra_core.load(doc)
    assert (info.value.field or "").startswith("spec.config[0].opaque.parameters[0][0]")
    with pytest.raises(ManifestError, match="nested more than 100 levels deep"):
        dra_core.allocate(node=None, claims=[], slices=[], classes=[doc])
    assert still_nested(doc["spec"]["config"][0]["opaque"]["parameters"], depth)
    text = '{"a": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(ManifestError):
        dra_core.load(text)


def test_nesting_up_to_the_limit_loads() -> None:
    # the object, spec, config, [0], opaque and parameters are 6 levels; nested(93) is 94 more
    (ok,) = dra_core.load(with_parameters({"a": nested(93)}))
    assert ok.metadata.name == "c"
    with pytest.raises(ManifestError, match="nested more than 100 levels deep"):
        dra_core.load(with_parameters({"a": nested(94)}))
    with pytest.raises(ManifestError, match="JSON error: exceeded max depth"):
        dra_core.load('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")


def test_a_deep_name_is_shown_as_a_placeholder() -> None:
    doc = {"apiVersion": GROUP, "kind": "DeviceClass", "metadata": {"name": nested(5_000)}}
    with pytest.raises(ManifestError) as info:
        dra_core.load(doc)
    assert info.value.name == "<list>"


def test_numbers_too_long_for_python_give_typed_errors(tmp_path: Any) -> None:
    digits = "9" * 5_000
    doc = {"apiVersion": GROUP, "kind": "DeviceClass", "metadata": {"name": 10**5_000}}
    with pytest.raises(ManifestError, match="expected a string, got a number <a number too large"):
        dra_core.load(doc)
    slice_yaml = (
        f"apiVersion: {GROUP}\nkind: ResourceSlice\nmetadata: {{name: s}}\n"
        "spec: {driver: d.example.com, nodeName: n, pool: {name: p, resourceSliceCount: 1, "
        f"generation: {digits}}}}}\n"
    )
    # go-yaml v2 reads a number it cannot convert as a string, and so does dra-core
    with pytest.raises(ManifestError, match=r"generation: Invalid value: expected an in"):
        dra_core.load(slice_yaml)
    path = tmp_path / "big.json"
    path.write_text('{"apiVersion": "v1", "kind": "Node", "metadata": {"name": ' + digits + "}}")
    with pytest.raises(ManifestError, match="JSON error"):
        dra_core.load(path)


def test_bytes_that_are_not_utf8_give_a_manifest_error() -> None:
    with pytest.raises(ManifestError, match="cannot read the text"):
        dra_core.load(b"\xff\xfe\x00kind: Node")
