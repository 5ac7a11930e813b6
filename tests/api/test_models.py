"""The pydantic models: names, aliases, Go zero values, no defaults on dump, YAML scalars."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dra_core.api import (
    Device,
    DeviceAttribute,
    DeviceClaim,
    DeviceRequestAllocationResult,
    K8sModel,
    Node,
    Pod,
    Quantity,
    ResourceClaim,
    ResourceSlice,
    dump,
)
from dra_core.api._base import YamlBoolWord, YamlFloat, YamlInt

SLICE = {
    "apiVersion": "resource.k8s.io/v1",
    "kind": "ResourceSlice",
    "metadata": {"name": "s1"},
    "spec": {
        "driver": "gpu.example.com",
        "pool": {"name": "p", "generation": 1, "resourceSliceCount": 1},
        "nodeName": "node-1",
        "devices": [
            {
                "name": "gpu-0",
                "attributes": {
                    "model": {"string": "A100"},
                    "index": {"int": 0},
                    "healthy": {"bool": True},
                    "driverVersion": {"version": "1.2.3"},
                    "peers": {"strings": ["a", "b"]},
                },
                "capacity": {
                    "memory": {
                        "value": "40Gi",
                        "requestPolicy": {
                            "default": "1Gi",
                            "validRange": {"min": "1Gi", "step": "1Gi"},
                        },
                    }
                },
                "allowMultipleAllocations": True,
                "taints": [{"key": "k", "effect": "NoSchedule"}],
            }
        ],
    },
}


def test_camel_case_in_snake_case_out_and_round_trip() -> None:
    s = ResourceSlice.model_validate(SLICE)
    assert s.spec.node_name == "node-1"
    assert s.spec.pool.resource_slice_count == 1
    device = s.spec.devices[0]
    assert device.attributes["index"].int_ == 0
    assert device.attributes["healthy"].bool_ is True
    assert device.attributes["peers"].strings == ["a", "b"]
    assert device.capacity["memory"].value == Quantity.parse("40Gi")
    policy = device.capacity["memory"].request_policy
    assert policy is not None and policy.valid_range is not None
    assert policy.valid_range.step == Quantity.parse("1Gi")
    assert device.allow_multiple_allocations is True
    assert dump(s) == SLICE


def test_python_names_are_accepted() -> None:
    a = DeviceAttribute(int_=5)
    assert dump(a) == {"int": 5}
    r = DeviceRequestAllocationResult(request="r", driver="d", pool="p", device="x", share_id="u")
    assert dump(r)["shareID"] == "u"
    d = Device.model_validate({"name": "x", "allow_multiple_allocations": False})
    assert dump(d) == {"name": "x", "allowMultipleAllocations": False}


def test_go_zero_values_and_no_defaults_on_dump() -> None:
    claim = ResourceClaim.model_validate({"metadata": {"name": "c"}, "spec": {}})
    assert claim.spec.devices.requests == []
    assert claim.status is None
    assert claim.metadata.namespace == ""
    assert dump(claim) == {"metadata": {"name": "c"}, "spec": {}}
    empty = ResourceSlice()
    assert empty.spec.pool.generation == 0 and empty.spec.devices == []
    assert dump(empty) == {}


def test_null_is_go_zero_and_dumps_back() -> None:
    raw = {"requests": None, "constraints": [{"requests": None, "matchAttribute": None}]}
    claim = DeviceClaim.model_validate(raw)
    assert claim.requests == []
    assert claim.constraints[0].requests == []
    assert claim.constraints[0].match_attribute is None
    assert dump(claim) == raw


def test_unknown_enum_values_are_kept() -> None:
    raw = {
        "spec": {
            "devices": {
                "requests": [
                    {"name": "r", "exactly": {"deviceClassName": "c", "allocationMode": "Some"}}
                ]
            }
        }
    }
    claim = ResourceClaim.model_validate(raw)
    exactly = claim.spec.devices.requests[0].exactly
    assert exactly is not None and exactly.allocation_mode == "Some"


def test_unknown_fields_are_ignored_for_resource_kinds() -> None:
    s = ResourceSlice.model_validate({**SLICE, "bogus": 1, "spec": {**SLICE["spec"], "x": 2}})
    assert dump(s) == SLICE


def test_core_objects_keep_fields_they_do_not_model() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "command": ["sh"],
                    "resources": {"claims": [{"name": "gpu"}]},
                }
            ],
            "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "t"}],
            "restartPolicy": "Never",
        },
    }
    model = Pod.model_validate(pod)
    assert model.spec.resource_claims[0].resource_claim_template_name == "t"
    assert model.spec.containers[0].resources is not None
    assert model.spec.containers[0].resources.claims[0].name == "gpu"
    assert dump(model) == pod
    node = Node.model_validate({"metadata": {"name": "n", "labels": {"zone": "a"}}})
    assert node.metadata.labels == {"zone": "a"}


def test_models_are_frozen() -> None:
    s = ResourceSlice.model_validate(SLICE)
    with pytest.raises(ValidationError):
        s.spec.driver = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"name": 5}, "valid string"),
        ({"name": True}, "valid string"),
        ({"name": "x", "allowMultipleAllocations": "true"}, "valid boolean"),
        ({"name": "x", "attributes": {"a": {"int": "5"}}}, "valid integer"),
        ({"name": "x", "attributes": {"a": {"int": 1.5}}}, "valid integer"),
        ({"name": "x", "capacity": {"m": {"value": "1 Gi"}}}, "quantity"),
        ({"name": "x", "taints": {"key": "k"}}, "valid list"),
    ],
)
def test_wrong_types_are_rejected_like_go(raw: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Device.model_validate(raw)


def test_yaml_scalars_keep_their_text_in_string_fields() -> None:
    raw = {
        "name": "x",
        "attributes": {
            "vendor": {"string": YamlInt(0x10DE, "0x10de")},
            "octal": {"string": YamlInt(8, "010")},
            "ver": {"version": YamlFloat(1.1, "1.10")},
            "word": {"string": YamlBoolWord("no")},
            "count": {"int": YamlInt(8, "010")},
            "flag": {"bool": YamlBoolWord("yes")},
        },
        "capacity": {"mem": {"value": YamlFloat(1.5, "1.5")}, "n": {"value": YamlInt(3, "3")}},
    }
    d = Device.model_validate(raw)
    assert d.attributes["vendor"].string == "0x10de"
    assert d.attributes["octal"].string == "010"
    assert d.attributes["ver"].version == "1.10"
    assert d.attributes["word"].string == "no"
    assert type(d.attributes["word"].string) is str
    assert d.attributes["count"].int_ == 8  # as go-yaml v2 (Kubernetes) reads 010
    assert d.attributes["flag"].bool_ is True
    assert d.capacity["mem"].value == Quantity.parse("1500m")
    assert d.capacity["n"].value == Quantity.parse("3")


def _model_default_factories() -> list[tuple[str, type[K8sModel]]]:
    import dra_core.api as api

    found = []
    for name in api.__all__:
        cls = getattr(api, name)
        if isinstance(cls, type) and issubclass(cls, K8sModel):
            for field, info in cls.model_fields.items():
                owner = getattr(info.default_factory, "__self__", None)
                if isinstance(owner, type) and issubclass(owner, K8sModel):
                    found.append((f"{name}.{field}", owner))
    return found


def test_nested_model_defaults_come_from_model_construct() -> None:
    # ObjectMeta, the specs, the pool, ...: 19 fields default to a nested model.
    assert len(_DEFAULT_FACTORIES) >= 19


_DEFAULT_FACTORIES = _model_default_factories()


@pytest.mark.parametrize(
    "model", [m for _, m in _DEFAULT_FACTORIES], ids=[f for f, _ in _DEFAULT_FACTORIES]
)
def test_a_nested_model_default_is_the_model_validated_from_nothing(model: type[K8sModel]) -> None:
    # The default factories build the nested model with model_construct (no validator to
    # build for an object with nothing to validate); it must be the very object that
    # validation makes of no data.
    built = model.model_construct()
    for validated in (model(), model.model_validate({})):
        assert type(built) is type(validated)
        assert built.__dict__ == validated.__dict__
        assert built.model_fields_set == validated.model_fields_set == set()
        assert built.__pydantic_extra__ == validated.__pydantic_extra__
        assert built.__pydantic_private__ == validated.__pydantic_private__
        assert built == validated
        assert dump(built) == dump(validated) == {}


def test_the_presigned_functions_carry_the_signature_inspect_computes() -> None:
    # @inspected stores inspect.signature(func) once; it must be what inspect computes of
    # the same function without it (pydantic reads it to build every model's validator).
    import inspect
    import types

    from dra_core.api import _base, _core

    funcs = [
        _base.new_list,
        _base.new_dict,
        _base.K8sModel.__pydantic_decorators__.model_validators["_accept_go_nulls"].func,
        _base.K8sModel.__pydantic_decorators__.model_serializers["_dump_go_nulls"].func,
        _core._PartialModel.__pydantic_decorators__.model_validators["_plain_extras"].func,
    ]
    for func in funcs:
        plain = getattr(func, "__func__", func)
        assert "__signature__" in vars(plain)
        fresh = types.FunctionType(
            plain.__code__, plain.__globals__, plain.__name__, plain.__defaults__, plain.__closure__
        )
        fresh.__annotations__ = plain.__annotations__
        fresh.__kwdefaults__ = plain.__kwdefaults__
        assert plain.__signature__ == inspect.signature(fresh)
