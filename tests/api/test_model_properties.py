"""Properties of the models over generated slices: round trips and validity."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings

from dra_core.api import DeviceAttribute, ResourceSlice, dump
from dra_core.api._validation import validate_object
from dra_core.io import dump_json, dump_yaml, load
from strategies import attribute_values, device_attributes, resource_slices, slice_docs

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(slice_docs())
def test_dump_gives_back_the_input(doc: dict[str, Any]) -> None:
    model = ResourceSlice.model_validate(doc)
    assert dump(model) == doc
    assert validate_object(model) == []


# Found by Hypothesis (issue 8): dump_yaml wrote U+0085 (NEL) unquoted and the reader turned
# it into a line break.
NEL_SLICE = ResourceSlice.model_validate(
    {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": "0-0"},
        "spec": {
            "driver": "0",
            "pool": {"name": "0", "generation": 0, "resourceSliceCount": 1},
            "nodeName": "0",
            "devices": [{"name": "0", "attributes": {"A": {"string": "\x85"}}}],
        },
    }
)


@SETTINGS
@given(resource_slices())
@example(NEL_SLICE)
def test_yaml_and_json_round_trips(model: ResourceSlice) -> None:
    assert load(dump_yaml(model)) == [model]
    assert load(dump_json(model)) == [model]
    # strings stay strings, however YAML 1.1 would read them
    (again,) = load(dump_yaml(model))
    assert isinstance(again, ResourceSlice)
    for a, b in zip(model.spec.devices, again.spec.devices, strict=True):
        for key, attribute in a.attributes.items():
            assert dump(b.attributes[key]) == dump(attribute)


@SETTINGS
@given(attribute_values())
def test_attributes_have_exactly_one_value(doc: dict[str, Any]) -> None:
    attribute = DeviceAttribute.model_validate(doc)
    values = [v for v in dump(attribute).values() if v is not None]
    assert len(values) == 1
    assert json.loads(attribute.model_dump_json(by_alias=True, exclude_unset=True)) == doc


@SETTINGS
@given(device_attributes())
def test_attribute_models_compare_by_value(attribute: DeviceAttribute) -> None:
    again = DeviceAttribute.model_validate(dump(attribute))
    assert again == attribute
