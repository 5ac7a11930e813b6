"""dra_core.io: sources, YAML pitfalls, defaults, validation errors, dumping."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from dra_core.api import (
    DeviceClass,
    Node,
    Pod,
    Quantity,
    ResourceClaim,
    ResourceClaimTemplate,
    ResourceSlice,
    dump,
)
from dra_core.errors import ManifestError, ManifestValidationError
from dra_core.io import dump_json, dump_yaml, load, load_report, parse_object, parse_yaml

SLICE_YAML = """\
apiVersion: resource.k8s.io/v1
kind: ResourceSlice
metadata:
  name: node-1-gpu
spec:
  driver: gpu.example.com
  nodeName: node-1
  pool:
    name: node-1
    generation: 1
    resourceSliceCount: 1
  devices:
  - name: gpu-0
    attributes:
      vendorID: {string: 0x10de}
      octal: {string: 010}
      answer: {string: no}
      switch: {string: on}
      driverVersion: {version: 1.10.0}
      cudaVersion: {string: 12.10}
      index: {int: 010}
      hex: {int: 0x10}
    capacity:
      memory: {value: 80Gi}
      cores: {value: 1.5}
"""

CLAIM_YAML = """\
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata:
  name: c
  namespace: default
spec:
  devices:
    requests:
    - name: gpu
      exactly:
        deviceClassName: gpu.example.com
        tolerations:
        - key: example.com/dirty
          effect: NoSchedule
    - name: nic
      firstAvailable:
      - name: fast
        deviceClassName: nic.example.com
        allocationMode: All
      - name: slow
        deviceClassName: nic.example.com
"""


def only(objects: list[object]) -> object:
    assert len(objects) == 1
    return objects[0]


# --------------------------------------------------------------------------- YAML pitfalls


def test_strings_stay_strings_and_numbers_read_like_kubernetes() -> None:
    s = only(load(SLICE_YAML))
    assert isinstance(s, ResourceSlice)
    attrs = s.spec.devices[0].attributes
    assert attrs["vendorID"].string == "0x10de"
    assert attrs["octal"].string == "010"
    assert attrs["answer"].string == "no"
    assert attrs["switch"].string == "on"
    assert attrs["driverVersion"].version == "1.10.0"
    assert attrs["cudaVersion"].string == "12.10"
    assert attrs["index"].int_ == 8  # go-yaml v2 (Kubernetes) reads 010 as octal
    assert attrs["hex"].int_ == 16
    assert s.spec.devices[0].capacity["cores"].value == Quantity.parse("1500m")
    for value in (attrs["vendorID"].string, attrs["answer"].string):
        assert type(value) is str


def test_yaml_1_1_booleans_in_boolean_fields() -> None:
    text = SLICE_YAML.replace("  nodeName: node-1\n", "  allNodes: yes\n")
    s = only(load(text))
    assert isinstance(s, ResourceSlice)
    assert s.spec.all_nodes is True


def test_parse_yaml_keeps_keys_as_text() -> None:
    (doc,) = parse_yaml("labels:\n  on: yes\n  010: x\n  true: y\n  1.0: z\n")
    assert set(doc["labels"]) == {"on", "010", "true", "1.0"}
    assert doc["labels"]["on"] == "yes"


def test_timestamps_stay_text() -> None:
    (doc,) = parse_yaml("metadata:\n  creationTimestamp: 2024-07-16T13:00:06Z\n")
    assert doc["metadata"]["creationTimestamp"] == "2024-07-16T13:00:06Z"


def test_yaml_true_in_a_string_field_is_rejected_with_a_hint() -> None:
    text = SLICE_YAML.replace("{string: no}", "{string: True}")
    with pytest.raises(ManifestError) as info:
        load(text)
    assert info.value.field == "spec.devices[0].attributes[answer].string"
    assert "expected a string, got a boolean true (quote the value in YAML)" in info.value.reason


def test_yaml_booleans_elsewhere() -> None:
    text = SLICE_YAML.replace("{int: 0x10}", "{int: true}")
    with pytest.raises(ManifestError) as info:
        load(text)
    assert info.value.field == "spec.devices[0].attributes[hex].int"
    assert "expected an integer, got a boolean true" in info.value.reason
    (doc,) = parse_yaml("a: true\nb: yes\nc: !!bool yes\nd: FALSE\n")
    assert doc["a"] is True and doc["b"] == "yes" and doc["d"] is False
    claim = only(
        load(
            CLAIM_YAML
            + "    config:\n    - opaque:\n        driver: gpu.example.com\n"
            + "        parameters: {sharing: true, mode: yes, n: 010}\n"
        )
    )
    assert isinstance(claim, ResourceClaim)
    opaque = claim.spec.devices.config[0].opaque
    assert opaque is not None
    assert opaque.parameters == {"sharing": True, "mode": "yes", "n": 8}
    assert doc["c"] is True


def test_a_json_boolean_in_a_string_field_is_rejected_with_a_hint() -> None:
    doc = json.loads(dump_json(load(SLICE_YAML)[0]))
    doc["spec"]["devices"][0]["attributes"]["answer"] = {"string": True}
    with pytest.raises(ManifestError) as info:
        load(json.dumps(doc))
    err = info.value
    assert err.field == "spec.devices[0].attributes[answer].string"
    assert "expected a string, got a boolean" in err.reason
    assert "quote" in err.reason
    assert err.kind == "ResourceSlice" and err.name == "node-1-gpu"


# --------------------------------------------------------------------------- sources


def test_multi_document_yaml_with_unknown_kinds(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n---\n"
        + SLICE_YAML
        + "---\n"
        + CLAIM_YAML
        + "---\napiVersion: gpu.resource.example.com/v1alpha1\nkind: GpuConfig\n---\n"
    )
    path = tmp_path / "all.yaml"
    path.write_text(text)
    objects = load(path)
    assert [type(o) for o in objects] == [ResourceSlice, ResourceClaim]
    report = load_report(str(path))
    assert [r.kind for r in report] == ["Namespace", "ResourceSlice", "ResourceClaim", "GpuConfig"]
    assert report[0].skipped and report[3].skipped
    assert [r.document for r in report] == [0, 1, 2, 3]
    assert all(r.ok for r in report)


def test_kind_list_and_typed_lists() -> None:
    slice_doc = parse_yaml(SLICE_YAML)[0]
    listed = {"apiVersion": "v1", "kind": "List", "items": [slice_doc, slice_doc]}
    assert [type(o) for o in load(listed)] == [ResourceSlice, ResourceSlice]
    typed = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSliceList",
        "items": [{k: v for k, v in slice_doc.items() if k not in ("kind", "apiVersion")}],
    }
    (s,) = load(typed)
    assert isinstance(s, ResourceSlice)
    report = load_report(listed)
    assert [r.item for r in report] == [0, 1]


def test_errors_inside_a_list_are_located() -> None:
    bad = parse_yaml(SLICE_YAML)[0]
    bad["spec"]["devices"][0]["name"] = "GPU_0"
    with pytest.raises(ManifestError) as info:
        load({"apiVersion": "v1", "kind": "List", "items": [bad]})
    assert info.value.field == "items[0].spec.devices[0].name"


def test_folders_json_and_json_streams(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.yaml").write_text(CLAIM_YAML)
    slice_doc = json.loads(dump_json(load(SLICE_YAML)[0]))
    (tmp_path / "sub" / "a.json").write_text(json.dumps(slice_doc) + "\n" + json.dumps(slice_doc))
    (tmp_path / "notes.txt").write_text("not a manifest")
    objects = load(tmp_path)
    assert [type(o) for o in objects] == [ResourceClaim, ResourceSlice, ResourceSlice]


def test_json_keeps_exact_types() -> None:
    doc = json.loads(dump_json(load(SLICE_YAML)[0]))
    assert doc["spec"]["devices"][0]["attributes"]["vendorID"] == {"string": "0x10de"}
    doc["spec"]["devices"][0]["attributes"]["index"] = {"int": 1.0}
    with pytest.raises(ManifestError, match="expected an integer"):
        load(json.dumps(doc))
    doc["spec"]["devices"][0]["attributes"]["index"] = {"int": 1}
    s = only(load(json.dumps(doc)))
    assert isinstance(s, ResourceSlice)
    assert s.spec.devices[0].attributes["vendorID"].string == "0x10de"


def test_models_and_dicts_are_sources_and_are_not_mutated() -> None:
    doc = parse_yaml(CLAIM_YAML)[0]
    before = copy.deepcopy(doc)
    claim = only(load(doc))
    assert doc == before
    again = only(load(claim))  # type: ignore[arg-type]
    assert again == claim


def test_kubernetes_client_objects() -> None:
    client = pytest.importorskip("kubernetes.client")
    node = client.V1Node(
        api_version="v1",
        kind="Node",
        metadata=client.V1ObjectMeta(name="node-1", labels={"zone": "a"}),
    )
    claim = client.ResourceV1ResourceClaim(
        api_version="resource.k8s.io/v1",
        kind="ResourceClaim",
        metadata=client.V1ObjectMeta(name="c", namespace="default"),
        spec=client.V1ResourceClaimSpec(
            devices=client.V1DeviceClaim(
                requests=[
                    client.V1DeviceRequest(
                        name="gpu",
                        exactly=client.V1ExactDeviceRequest(device_class_name="gpu.example.com"),
                    )
                ]
            )
        ),
    )
    loaded_node, loaded_claim = load([node, claim])
    assert isinstance(loaded_node, Node) and loaded_node.metadata.labels == {"zone": "a"}
    assert isinstance(loaded_claim, ResourceClaim)
    exactly = loaded_claim.spec.devices.requests[0].exactly
    assert exactly is not None and exactly.count == 1


def test_a_missing_file_and_an_unknown_source() -> None:
    with pytest.raises(ManifestError, match="no such file"):
        load("does/not/exist.yaml")
    with pytest.raises(ManifestError, match="no such file"):
        load("cluster/")
    with pytest.raises(ManifestError, match="cannot load a int"):
        load(5)


def test_parse_object_without_kind() -> None:
    doc = {"metadata": {"name": "class-a"}, "spec": {}}
    cls = parse_object(doc, "DeviceClass")
    assert isinstance(cls, DeviceClass)
    with pytest.raises(ManifestError):
        parse_object({"spec": {"driver": 5}}, ResourceSlice)


# --------------------------------------------------------------------------- defaults


def test_defaults_on_load_and_as_written() -> None:
    claim = only(load(CLAIM_YAML))
    assert isinstance(claim, ResourceClaim)
    gpu, nic = claim.spec.devices.requests
    assert gpu.exactly is not None
    assert (gpu.exactly.allocation_mode, gpu.exactly.count) == ("ExactCount", 1)
    assert gpu.exactly.tolerations[0].operator == "Equal"
    fast, slow = nic.first_available
    assert (fast.allocation_mode, fast.count) == ("All", 0)
    assert (slow.allocation_mode, slow.count) == ("ExactCount", 1)
    raw = only(load(CLAIM_YAML, defaults=False))
    assert isinstance(raw, ResourceClaim)
    raw_gpu = raw.spec.devices.requests[0].exactly
    assert raw_gpu is not None and raw_gpu.allocation_mode == "" and raw_gpu.count == 0
    assert dump(raw) == parse_yaml(CLAIM_YAML)[0]


def test_defaults_keep_explicit_values() -> None:
    text = CLAIM_YAML.replace(
        "        deviceClassName: gpu.example.com\n",
        "        deviceClassName: gpu.example.com\n        count: 3\n",
        1,
    )
    claim = only(load(text))
    assert isinstance(claim, ResourceClaim)
    exactly = claim.spec.devices.requests[0].exactly
    assert exactly is not None and exactly.count == 3


# --------------------------------------------------------------------------- validation


def test_every_problem_of_an_object_is_reported() -> None:
    doc = parse_yaml(SLICE_YAML)[0]
    doc["metadata"]["name"] = "x" * 254
    doc["spec"]["devices"][0]["name"] = "GPU_0"
    doc["spec"]["devices"][0]["attributes"]["index"] = {"int": "seven"}
    with pytest.raises(ManifestValidationError) as info:
        load(doc)
    fields = [p.field for p in info.value.problems]
    assert "metadata.name" in fields
    assert "spec.devices[0].name" in fields
    assert "spec.devices[0].attributes[index].int" in fields
    message = str(info.value)
    assert "\n" not in message and "problems:" in message


def test_too_many_devices() -> None:
    doc = parse_yaml(SLICE_YAML)[0]
    device = {"name": "d", "attributes": {"index": {"int": 0}}}
    doc["spec"]["devices"] = [dict(device, name=f"d-{i}") for i in range(129)]
    with pytest.raises(ManifestError) as info:
        load(doc)
    assert info.value.field == "spec.devices"
    assert info.value.reason == "Too many: 129: must have at most 128 items"
    doc["spec"]["devices"] = doc["spec"]["devices"][:128]
    assert len(load(doc)) == 1


def test_validate_false_lets_unknown_modes_through() -> None:
    text = CLAIM_YAML.replace("allocationMode: All", "allocationMode: Someday")
    with pytest.raises(ManifestError, match='Unsupported value: "Someday"'):
        load(text)
    claim = only(load(text, validate=False))
    assert isinstance(claim, ResourceClaim)
    assert claim.spec.devices.requests[1].first_available[0].allocation_mode == "Someday"


def test_unknown_fields_are_warnings() -> None:
    text = SLICE_YAML.replace("  - name: gpu-0\n", "  - name: gpu-0\n    colour: blue\n")
    (result,) = load_report(text)
    assert result.ok
    assert result.warnings == (
        "unknown field spec.devices[0].colour (ignored, as the API server drops it)",
    )


def test_truncated_yaml_is_a_located_error() -> None:
    with pytest.raises(ManifestError) as info:
        load(SLICE_YAML[:200] + "\n  - {name: [x\n")
    assert "YAML error at line" in str(info.value)
    assert info.value.source == "<text>"


def test_unsupported_old_versions() -> None:
    text = "apiVersion: resource.k8s.io/v1alpha2\nkind: ResourceClaim\nmetadata: {name: c}\n"
    with pytest.raises(ManifestError, match='no matches for kind "ResourceClaim"'):
        load(text)


def test_documents_that_are_not_objects() -> None:
    (result,) = load_report("- a\n- b\n")
    assert not result.ok
    assert "got a list" in result.errors[0].reason
    (result,) = load_report("metadata: {name: x}\n")
    assert result.errors[0].field == "kind"


# --------------------------------------------------------------------------- dumping


def test_dump_yaml_and_json_round_trip() -> None:
    objects = load(SLICE_YAML + "---\n" + CLAIM_YAML)
    again = load(dump_yaml(objects))
    assert again == objects
    assert [dump(o) for o in again] == [dump(o) for o in objects]
    listed = json.loads(dump_json(objects))
    assert listed["kind"] == "List" and len(listed["items"]) == 2
    single = json.loads(dump_json(objects[0]))
    assert single["kind"] == "ResourceSlice"
    assert load(dump_json(objects)) == objects


def test_dump_yaml_quotes_ambiguous_strings() -> None:
    s = only(load(SLICE_YAML))
    text = dump_yaml(s)  # type: ignore[arg-type]
    assert "'0x10de'" in text and "'no'" in text and "'010'" in text
    assert "version: 1.10.0" in text


# Strings that a YAML reader changes unless the writer quotes or escapes them. Each must come
# back unchanged through dump_yaml and dump_json, as an attribute value and as a mapping key.
LINE_BREAKS = {
    "nel": "a\x85b",
    "nel-alone": "\x85",
    "line-separator": "a\u2028b",
    "paragraph-separator": "a\u2029b",
    "carriage-return": "a\rb",
    "crlf": "a\r\nb",
    "line-feed": "a\nb",
    "trailing-line-feed": "a\n",
    "spaces-around-line-feed": " a \n b ",
    "blank-lines": "\n\n",
}
CONTROL = {
    f"control-{ord(c):02x}": f"a{c}b"
    for c in [chr(i) for i in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))]
    if c != "\n"
}
SPECIAL = {
    "bom-leading": "\ufeffa",
    "bom-inside": "a\ufeffb",
    "non-character-fffe": "a\ufffe",
    "non-character-ffff": "a\uffff",
    "astral": "\U0001f600",
    "ideographic-space": "\u3000a\u3000",
    "no-break-space": "\xa0a\xa0",
    "leading-space": " a",
    "trailing-space": "a ",
    "only-spaces": "   ",
    "tab": "\t",
}
LOOK_ALIKES = {
    name: text
    for name, text in {
        "int": "10", "negative": "-1", "plus": "+1", "octal": "010", "octal-0o": "0o7",
        "hex": "0x10de", "binary": "0b101", "underscores": "1_000", "exponent": "1e3",
        "exponent-upper": "1E3", "exponent-signed": "1.0e+3", "fraction": ".5", "dot-end": "1.",
        "float": "12.10", "inf": ".inf", "minus-inf": "-.inf", "nan": ".NaN",
        "sexagesimal": "190:20:30", "true": "true", "True": "True", "FALSE": "FALSE",
        "yes": "yes", "no": "no", "on": "on", "off": "Off", "y": "y", "n": "N",
        "null": "null", "Null": "Null", "tilde": "~", "empty": "", "date": "2001-12-14",
        "timestamp": "2001-12-14t21:59:43.10-05:00", "merge": "<<", "value": "=",
        "dash": "- a", "question": "? a", "colon": "a: b", "comment": "#a",
        "inline-comment": "a #b", "anchor": "&a", "alias": "*a", "tag": "!a", "literal": "|",
        "folded": ">", "directive": "%a", "at": "@a", "backtick": "`a", "flow-seq": "[a]",
        "flow-map": "{a: 1}", "quote": "'", "double-quote": '"', "backslash": "\\",
        "document-start": "---", "document-end": "...", "comma": "a,b",
    }.items()
}
HOSTILE = {**LINE_BREAKS, **CONTROL, **SPECIAL, **LOOK_ALIKES}


def slice_with_string(text: str) -> ResourceSlice:
    return ResourceSlice.model_validate(
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": "s"},
            "spec": {
                "driver": "gpu.example.com",
                "nodeName": "n",
                "pool": {"name": "p", "generation": 1, "resourceSliceCount": 1},
                "devices": [
                    {
                        "name": "d",
                        "attributes": {
                            "one": {"string": text},
                            "many": {"strings": [text, "x", text]},
                        },
                    }
                ],
            },
        }
    )


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_strings_survive_dump_yaml_and_dump_json(text: str) -> None:
    model = slice_with_string(text)
    pristine = model.model_copy(deep=True)
    assert load(dump_yaml(model)) == [model]
    assert load(dump_json(model)) == [model]
    (again,) = load(dump_yaml([model, model]))[1:]
    assert again == model
    assert model == pristine


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_strings_survive_as_keys_and_for_yaml_1_1_readers(text: str) -> None:
    doc = {"apiVersion": "v1", "kind": "Thing", text: text, "list": [text]}
    written = dump_yaml(doc)  # type: ignore[arg-type]
    assert parse_yaml(written) == [doc]
    # PyYAML's pure-Python reader is a YAML 1.1 reader, as kubectl's go-yaml v2 is
    assert yaml.load(written, Loader=yaml.SafeLoader) == doc


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029", "\ufeff", "\r", "\x00", "\x7f"])
def test_characters_a_reader_changes_are_escaped(char: str) -> None:
    written = dump_yaml(slice_with_string(f"a{char}b"))
    assert char not in written
    assert '"a\\' in written  # double-quoted, with an escape


def test_look_alikes_are_quoted_not_escaped() -> None:
    written = dump_yaml(slice_with_string("1e3"))
    assert "string: '1e3'" in written
    written = dump_yaml(slice_with_string("plain text"))
    assert "string: plain text" in written


def test_lone_surrogates_round_trip_through_json_and_are_refused_by_yaml() -> None:
    doc = json.loads(dump_json(slice_with_string("ok")))
    doc["spec"]["devices"][0]["attributes"]["one"]["string"] = "a\ud800b"
    pristine = copy.deepcopy(doc)
    (model,) = load(doc)  # a lone surrogate counts three bytes, as U+FFFD does in Go
    assert doc == pristine
    text = dump_json(model)
    text.encode("utf-8")  # escaped, so the text can be written to a file
    assert "\\ud800" in text
    assert load(text) == [model]
    with pytest.raises(ManifestError) as info:
        dump_yaml(model)
    assert info.value.field == "spec.devices[0].attributes.one.string"
    assert info.value.kind == "ResourceSlice" and info.value.name == "s"
    assert "lone surrogate (U+D800)" in str(info.value)


def test_core_kinds() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - name: c\n    image: x\n    resources:\n      claims: [{name: gpu}]\n"
        "  resourceClaims:\n  - name: gpu\n    resourceClaimTemplateName: t\n---\n"
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: n\n  labels: {zone: a}\n"
    )
    pod, node = load(text)
    assert isinstance(pod, Pod) and isinstance(node, Node)
    assert pod.spec.resource_claims[0].resource_claim_template_name == "t"


def test_claim_template() -> None:
    text = """\
apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata: {name: t, namespace: ns}
spec:
  spec:
    devices:
      requests:
      - name: gpu
        exactly: {deviceClassName: gpu.example.com}
"""
    template = only(load(text))
    assert isinstance(template, ResourceClaimTemplate)
    exactly = template.spec.spec.devices.requests[0].exactly
    assert exactly is not None and exactly.count == 1
