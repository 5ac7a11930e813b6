"""API validation rules, with Kubernetes' field paths and wording."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dra_core.api import DeviceClass, DeviceTaintRule, ResourceClaim, ResourceSlice
from dra_core.api._validation import FieldError, format_errors, validate_object


def slice_doc(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "metadata": {"name": "s"},
        "spec": {
            "driver": "gpu.example.com",
            "pool": {"name": "pool", "generation": 1, "resourceSliceCount": 1},
            "nodeName": "node-1",
            "devices": [{"name": "gpu-0"}],
        },
    }
    base["spec"].update(spec)
    return base


def claim_doc(*requests: dict[str, Any], **devices: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "c", "namespace": "default"},
        "spec": {"devices": {"requests": list(requests), **devices}},
    }


def exact(name: str = "r", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "exactly": {"deviceClassName": "gpu", "allocationMode": "ExactCount", "count": 1} | fields,
    }


def problems(obj: Any) -> list[str]:
    return [str(e) for e in validate_object(obj)]


def slice_problems(doc: dict[str, Any]) -> list[str]:
    return problems(ResourceSlice.model_validate(doc))


def claim_problems(doc: dict[str, Any]) -> list[str]:
    return problems(ResourceClaim.model_validate(doc))


def test_valid_objects_have_no_problems() -> None:
    assert slice_problems(slice_doc()) == []
    assert claim_problems(claim_doc(exact())) == []
    assert problems(DeviceClass.model_validate({"metadata": {"name": "gpu.example.com"}})) == []


# --------------------------------------------------------------------------- slices


def test_names() -> None:
    doc = slice_doc(driver="GPU_example", devices=[{"name": "Gpu-0"}])
    doc["metadata"]["name"] = "S"
    out = slice_problems(doc)
    assert any(p.startswith('metadata.name: Invalid value: "S": a lowercase RFC 1123') for p in out)
    assert any(p.startswith('spec.driver: Invalid value: "GPU_example"') for p in out)
    assert any(p.startswith('spec.devices[0].name: Invalid value: "Gpu-0"') for p in out)


def test_driver_name_too_long() -> None:
    out = slice_problems(slice_doc(driver="a" * 64))
    assert "spec.driver: Too long: may not be more than 63 bytes" in out


def test_device_limit_depends_on_features() -> None:
    devices = [{"name": f"d-{i}"} for i in range(128)]
    assert slice_problems(slice_doc(devices=devices)) == []
    tainted = copy.deepcopy(devices[:65])
    tainted[0]["taints"] = [{"key": "k", "effect": "NoSchedule"}]
    assert slice_problems(slice_doc(devices=tainted)) == [
        "spec.devices: Too many: 65: must have at most 64 items"
    ]


def test_duplicate_devices() -> None:
    out = slice_problems(slice_doc(devices=[{"name": "a"}, {"name": "a"}]))
    assert out == ['spec.devices[1]: Duplicate value: "a"']


def test_pool_and_node_selection() -> None:
    doc = slice_doc(pool={"name": "", "resourceSliceCount": 0, "generation": -1})
    del doc["spec"]["nodeName"]
    out = slice_problems(doc)
    assert "spec.pool.name: Required value" in out
    assert "spec.pool.resourceSliceCount: Invalid value: 0: must be greater than zero" in out
    assert "spec.pool.generation: Invalid value: -1: must be greater than or equal to zero" in out
    assert (
        "spec: Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, "
        "`perDeviceNodeSelection` is required"
    ) in out
    both = slice_problems(slice_doc(allNodes=True))
    assert any("but multiple fields are set" in p for p in both)
    assert slice_problems(slice_doc(nodeName=None, allNodes=False)) == [
        "spec.allNodes: Invalid value: false: must be either unset or set to true",
        "spec: Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, "
        "`perDeviceNodeSelection` is required",
    ]


def test_node_selector() -> None:
    selector = {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": []}]},
            {"matchExpressions": [{"key": "zone", "operator": "Near"}]},
        ]
    }
    out = slice_problems(slice_doc(nodeName=None, nodeSelector=selector))
    assert (
        "spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values: Required value: "
        "must be specified when `operator` is 'In' or 'NotIn'"
    ) in out
    assert any('matchExpressions[0].operator: Unsupported value: "Near"' in p for p in out)
    assert any(p.startswith("spec.nodeSelector.nodeSelectorTerms: Invalid value: 2") for p in out)


def test_attributes() -> None:
    devices = [
        {
            "name": "d",
            "attributes": {
                "two": {"int": 1, "bool": True},
                "none": {},
                "ver": {"version": "1.0"},
                "long": {"string": "x" * 65},
                "emptyList": {"ints": []},
                "bad/domain/name": {"int": 1},
                "example.com/9lives": {"int": 1},
            },
        }
    ]
    out = slice_problems(slice_doc(devices=devices))
    assert any(p.startswith("spec.devices[0].attributes[two]: Invalid value: {") for p in out)
    assert (
        'spec.devices[0].attributes[none]: Invalid value: "": exactly one value must be specified'
    ) in out
    assert (
        'spec.devices[0].attributes[ver].version: Invalid value: "1.0": must be a string '
        "compatible with semver.org spec 2.0.0"
    ) in out
    assert "spec.devices[0].attributes[long].string: Too long: may not be more than 64 bytes" in out
    assert (
        "spec.devices[0].attributes[emptyList].ints: Invalid value: []: must not be empty if "
        "specified"
    ) in out
    assert (
        'spec.devices[0].attributes: Invalid value: "bad/domain/name": must not contain more '
        "than one slash"
    ) in out
    assert any(
        p.startswith('spec.devices[0].attributes: Invalid value: "9lives": a valid C identifier')
        for p in out
    )


def test_attribute_and_capacity_count() -> None:
    attributes = {f"a{i}": {"int": i} for i in range(20)}
    capacity = {f"c{i}": {"value": "1"} for i in range(13)}
    out = slice_problems(
        slice_doc(devices=[{"name": "d", "attributes": attributes, "capacity": capacity}])
    )
    assert out == [
        "spec.devices[0]: Invalid value: 33: the total number of attributes and capacities must "
        "not exceed 32"
    ]


def test_list_attribute_value_count() -> None:
    attributes = {"many": {"ints": list(range(49))}}
    out = slice_problems(slice_doc(devices=[{"name": "d", "attributes": attributes}]))
    assert out == [
        "spec.devices[0]: Invalid value: 49: the total number of attribute values must not "
        "exceed 48"
    ]


def test_request_policy() -> None:
    capacity = {
        "mem": {
            "value": "10Gi",
            "requestPolicy": {
                "default": "3Gi",
                "validRange": {"min": "1Gi", "max": "20Gi", "step": "2Gi"},
            },
        }
    }
    device = {"name": "d", "capacity": capacity}
    out = slice_problems(slice_doc(devices=[device]))
    assert "allowMultipleAllocations must be true" in out[0]
    device["allowMultipleAllocations"] = True
    out = slice_problems(slice_doc(devices=[device]))
    path = "spec.devices[0].capacity[mem].requestPolicy.validRange"
    assert f'{path}.max: Invalid value: "20Gi": max is larger than capacity value: 10Gi' in out
    step = "value is not a multiple of a given step (2Gi) from (1Gi)"
    assert f'{path}.step: Invalid value: "20Gi": {step}' in out  # 20Gi - 1Gi = 19Gi
    assert f'{path}.step: Invalid value: "3Gi": {step}' not in out  # 3Gi - 1Gi = 2Gi


def test_valid_values_policy() -> None:
    capacity = {
        "mem": {
            "value": "8",
            "requestPolicy": {"default": "3", "validValues": ["4", "2", "16"]},
        }
    }
    device = {"name": "d", "capacity": capacity, "allowMultipleAllocations": True}
    out = slice_problems(slice_doc(devices=[device]))
    path = "spec.devices[0].capacity[mem].requestPolicy.validValues"
    assert f'{path}[1]: Invalid value: "2": values must be sorted in ascending order' in out
    assert f'{path}[2]: Invalid value: "16": option is larger than capacity value: 8' in out
    not_valid = "default value is not valid according to the requestPolicy"
    assert f'{path}: Invalid value: "3": {not_valid}' in out


def test_counters() -> None:
    doc = slice_doc(
        devices=None,
        sharedCounters=[
            {"name": "set", "counters": {}},
            {"name": "set", "counters": {"Mem": {"value": "1"}}},
        ],
    )
    del doc["spec"]["devices"]
    out = slice_problems(doc)
    assert "spec.sharedCounters[0].counters: Required value" in out
    assert any(p.startswith('spec.sharedCounters[1].counters: Invalid value: "Mem"') for p in out)
    assert 'spec.sharedCounters[1]: Duplicate value: "set"' in out
    both = slice_problems(
        slice_doc(sharedCounters=[{"name": "a", "counters": {"c": {"value": "1"}}}])
    )
    assert 'spec: Invalid value: "": only one of `sharedCounters` or `devices` is allowed' in both


def test_binding_conditions() -> None:
    device = {"name": "d", "bindingConditions": ["ready"]}
    out = slice_problems(slice_doc(devices=[device]))
    assert (
        "spec.devices[0].bindingFailureConditions: Invalid value: []: "
        "bindingFailureConditions are required to use bindingConditions"
    ) in out


def test_taints() -> None:
    device = {"name": "d", "taints": [{"key": "", "effect": "Sometimes"}]}
    out = slice_problems(slice_doc(devices=[device]))
    assert 'spec.devices[0].taints[0].key: Invalid value: "": name part must be non-empty' in out
    assert (
        'spec.devices[0].taints[0].effect: Unsupported value: "Sometimes": supported values: '
        '"NoExecute", "NoSchedule", "None"'
    ) in out


def test_per_device_node_selection() -> None:
    out = slice_problems(slice_doc(devices=[{"name": "d", "nodeName": "n"}]))
    assert out == [
        "spec.devices[0]: Invalid value: null: `nodeName`, `nodeSelector` and `allNodes` can "
        "only be set if `perDeviceNodeSelection` is set to true in the ResourceSlice spec"
    ]
    doc = slice_doc(nodeName=None, perDeviceNodeSelection=True, devices=[{"name": "d"}])
    out = slice_problems(doc)
    assert out == [
        "spec.devices[0]: Required value: exactly one of `nodeName`, `nodeSelector`, or "
        "`allNodes` is required when `perDeviceNodeSelection` is set to true in the "
        "ResourceSlice spec"
    ]


# --------------------------------------------------------------------------- claims


def test_request_counts() -> None:
    requests = [exact(f"r{i}") for i in range(33)]
    assert claim_problems(claim_doc(*requests)) == [
        "spec.devices.requests: Too many: 33: must have at most 32 items"
    ]
    subs = [{"name": f"s{i}", "deviceClassName": "c", "allocationMode": "All"} for i in range(9)]
    assert claim_problems(claim_doc({"name": "r", "firstAvailable": subs})) == [
        "spec.devices.requests[0].firstAvailable: Too many: 9: must have at most 8 items"
    ]


def test_exactly_one_of() -> None:
    assert claim_problems(claim_doc({"name": "r"})) == [
        "spec.devices.requests[0]: Required value: exactly one of `exactly` or `firstAvailable` "
        "is required"
    ]
    sub = {"name": "s", "deviceClassName": "c", "count": 1, "allocationMode": "ExactCount"}
    both = exact() | {"firstAvailable": [sub]}
    assert claim_problems(claim_doc(both)) == [
        "spec.devices.requests[0]: Invalid value: null: exactly one of `exactly` or "
        "`firstAvailable` is required, but multiple fields are set"
    ]


def test_allocation_modes() -> None:
    out = claim_problems(
        claim_doc(
            exact("a", allocationMode="All", count=2),
            exact("b", count=0),
            exact("c", allocationMode="Most"),
        )
    )
    assert out == [
        "spec.devices.requests[0].exactly.count: Invalid value: 2: must not be specified when "
        "allocationMode is 'All'",
        "spec.devices.requests[1].exactly.count: Invalid value: 0: must be greater than zero",
        'spec.devices.requests[2].exactly.allocationMode: Unsupported value: "Most": supported '
        'values: "All", "ExactCount"',
    ]


def test_constraints_and_config_refer_to_requests() -> None:
    doc = claim_doc(
        exact("gpu"),
        constraints=[
            {"requests": ["gpu", "nic"], "matchAttribute": "example.com/numa"},
            {"requests": ["gpu"], "matchAttribute": "numa"},
            {"requests": ["gpu"]},
        ],
        config=[{"requests": ["gpu/sub"], "opaque": {"driver": "d.example.com", "parameters": []}}],
    )
    out = claim_problems(doc)
    ref = (
        "must be the name of a request in the claim or the name of a request and a "
        "subrequest separated by '/'"
    )
    assert f'spec.devices.constraints[0].requests[1]: Invalid value: "nic": {ref}' in out
    assert (
        'spec.devices.constraints[1].matchAttribute: Invalid value: "numa": a fully qualified '
        "name must be a domain and a name separated by a slash"
    ) in out
    assert any(p.startswith("spec.devices.constraints[2]: Required value") for p in out)
    assert f'spec.devices.config[0].requests[0]: Invalid value: "gpu/sub": {ref}' in out
    assert (
        'spec.devices.config[0].opaque.parameters: Invalid value: "<value omitted>": must be a '
        "valid JSON object"
    ) in out


def test_tolerations() -> None:
    out = claim_problems(
        claim_doc(
            exact(tolerations=[{"key": "k", "operator": "Exists", "value": "v"}, {"key": "k"}])
        )
    )
    assert out == [
        'spec.devices.requests[0].exactly.tolerations[0].value: Invalid value: "v": must be '
        "empty for operator `Exists`",
        "spec.devices.requests[0].exactly.tolerations[1].operator: Required value",
    ]


def test_status() -> None:
    doc = claim_doc(exact("gpu"))
    doc["status"] = {
        "reservedFor": [{"resource": "pods", "name": "p"}],
        "allocation": {
            "devices": {
                "results": [
                    {
                        "request": "gpu",
                        "driver": "d.example.com",
                        "pool": "p",
                        "device": "x",
                        "shareID": "NOT-A-UID",
                    },
                    {"request": "other", "driver": "d.example.com", "pool": "p", "device": "y"},
                ]
            }
        },
    }
    out = claim_problems(doc)
    assert "status.reservedFor[0].uid: Required value" in out
    assert any(
        p.startswith("status.allocation.devices.results[0].shareID: Invalid value") for p in out
    )
    assert any(
        p.startswith('status.allocation.devices.results[1].request: Invalid value: "other"')
        for p in out
    )


# --------------------------------------------------------------------------- others


def test_device_class() -> None:
    cls = DeviceClass.model_validate(
        {
            "metadata": {"name": "c", "namespace": "ns"},
            "spec": {
                "selectors": [{}],
                "config": [{}],
                "extendedResourceName": "gpu",
            },
        }
    )
    assert problems(cls) == [
        "metadata.namespace: Forbidden: not allowed on this type",
        "spec.selectors[0].cel: Required value",
        "spec.config[0].opaque: Required value",
        'spec.extendedResourceName: Invalid value: "gpu": must be a valid extended resource name',
    ]
    ok = DeviceClass.model_validate(
        {"metadata": {"name": "c"}, "spec": {"extendedResourceName": "example.com/gpu"}}
    )
    assert problems(ok) == []


def test_device_taint_rule() -> None:
    rule = DeviceTaintRule.model_validate(
        {
            "metadata": {"name": "r"},
            "spec": {"deviceSelector": {"driver": "D_river"}, "taint": {"key": "k"}},
        }
    )
    out = problems(rule)
    assert any(p.startswith('spec.deviceSelector.driver: Invalid value: "D_river"') for p in out)
    assert "spec.taint.effect: Required value" in out


def test_field_error_rendering() -> None:
    errors = [
        FieldError("a", "Required value"),
        FieldError("b", "Invalid value", "bad", 'x"y'),
        FieldError("c", "Too many", "must have at most 1 items", 2),
    ]
    assert format_errors(errors) == (
        '[a: Required value, b: Invalid value: "x\\"y": bad, c: Too many: 2: must have at most '
        "1 items]"
    )
    assert format_errors(errors[:1]) == "a: Required value"


@pytest.mark.parametrize(
    ("name", "ok"),
    [("a", True), ("a.b-c", True), ("-a", False), ("a_b", False), ("A", False), ("a" * 63, True)],
)
def test_class_name_is_a_subdomain(name: str, ok: bool) -> None:
    assert (claim_problems(claim_doc(exact(deviceClassName=name))) == []) is ok


def test_device_status_must_be_allocated() -> None:
    doc = claim_doc(exact("gpu"))
    doc["status"] = {
        "allocation": {
            "devices": {
                "results": [
                    {"request": "gpu", "driver": "d.example.com", "pool": "p", "device": "x"}
                ]
            }
        },
        "devices": [
            {"driver": "d.example.com", "pool": "p", "device": "x"},
            {"driver": "d.example.com", "pool": "p", "device": "y"},
        ],
    }
    assert claim_problems(doc) == [
        'status.devices[1]: Invalid value: "d.example.com/p/y": must be an allocated device in '
        "the claim"
    ]
