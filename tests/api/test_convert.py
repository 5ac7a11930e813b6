"""Older resource.k8s.io versions converted to v1, checked field by field on real manifests."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conftest import data_path
from dra_core.api import ResourceClaim, ResourceClaimTemplate, ResourceSlice, dump
from dra_core.api._convert import apply_defaults, to_v1
from dra_core.io import load, load_report

EXAMPLE = ("kubernetes-sigs",)
V1ALPHA3 = "dra-example-driver@5ff76f1"
V1BETA1 = "dra-example-driver@fc2d0ba"
V1 = "dra-example-driver@922f681"


def realdata(*parts: str) -> Any:
    return data_path("realdata", *EXAMPLE, *parts)


def claims_of(path: Any) -> list[dict[str, Any]]:
    return [dump(o) for o in load(path) if isinstance(o, (ResourceClaim, ResourceClaimTemplate))]


# --------------------------------------------------------------------------- real manifests


@pytest.mark.parametrize(
    ("old", "number"),
    [(V1BETA1, n) for n in (1, 3, 4, 5, 6)] + [(V1ALPHA3, n) for n in (1, 3, 4, 5)],
)
def test_demo_claims_convert_to_the_v1_demo(old: str, number: int) -> None:
    # The dra-example-driver demos were rewritten for each API version with the same meaning.
    converted = claims_of(realdata(old, "demo", f"gpu-test{number}.yaml"))
    assert converted, "the demo has claims"
    assert converted == claims_of(realdata(V1, "demo", f"gpu-test{number}.yaml"))


def test_v1beta1_request_fields_move_into_exactly() -> None:
    report = load_report(realdata(V1BETA1, "demo", "gpu-test4.yaml"))
    (claim,) = [r for r in report if r.kind == "ResourceClaim"]
    assert claim.api_version == "resource.k8s.io/v1beta1"
    assert any("converted from resource.k8s.io/v1beta1" in w for w in claim.warnings)
    assert isinstance(claim.object, ResourceClaim)
    (request,) = claim.object.spec.devices.requests
    assert request.exactly is not None
    assert request.exactly.device_class_name == "gpu.example.com"
    assert request.exactly.allocation_mode == "ExactCount"
    assert request.exactly.count == 1
    assert request.first_available == []
    assert claim.object.api_version == "resource.k8s.io/v1"


def test_v1beta1_slices_equal_the_v1_output_of_the_same_cluster() -> None:
    # Both READMEs show `kubectl get resourceslice -o yaml` of the same cluster (same uids).
    old = load(realdata(V1BETA1, "README.md.block1-L108-248.yaml"))
    new = load(realdata("dra-example-driver", "README.md.block1-L188-320.yaml"))
    old_slices = [dump(o) for o in old if isinstance(o, ResourceSlice)]
    new_slices = [dump(o) for o in new if isinstance(o, ResourceSlice)]
    assert len(old_slices) == len(new_slices) > 0
    assert old_slices == new_slices


def test_v1alpha3_slices_field_by_field() -> None:
    old = [o for o in load(realdata(V1ALPHA3, "README.md.block1-L92-224.yaml"))]
    new = [o for o in load(realdata("dra-example-driver", "README.md.block1-L188-320.yaml"))]
    old_slices = [o for o in old if isinstance(o, ResourceSlice)]
    new_slices = [o for o in new if isinstance(o, ResourceSlice)]
    assert len(old_slices) == len(new_slices) > 0
    for a, b in zip(old_slices, new_slices, strict=True):
        assert a.api_version == "resource.k8s.io/v1"
        assert a.spec.driver == b.spec.driver == "gpu.example.com"
        assert a.spec.node_name == b.spec.node_name
        assert a.spec.pool == b.spec.pool
        assert [d.name for d in a.spec.devices] == [d.name for d in b.spec.devices]
        for da, db in zip(a.spec.devices, b.spec.devices, strict=True):
            # `basic:` is gone, attributes are the same ...
            assert da.attributes == db.attributes
            # ... and the bare v1alpha3 quantity became {value: ...}
            assert set(da.capacity) == {"memory"}
            assert da.capacity["memory"].value == db.capacity["memory"].value
            assert dump(da)["capacity"] == {"memory": {"value": "80Gi"}}
            assert da.capacity["memory"].request_policy is None


def test_v1beta2_device_taint_rules_keep_their_version() -> None:
    path = realdata(
        "dra-example-driver",
        "demo",
        "examples",
        "device-taints-tolerations",
        "device-taint-pod-noschedule",
        "3-device-taint-rule.yaml",
    )
    (result,) = [r for r in load_report(path) if r.kind == "DeviceTaintRule"]
    assert result.ok and result.object is not None
    assert result.api_version == "resource.k8s.io/v1beta2"
    assert result.object.api_version == "resource.k8s.io/v1beta2"  # there is no v1 version


# --------------------------------------------------------------------------- to_v1 rules


def test_basic_wrapper_and_bare_capacity() -> None:
    old = {
        "apiVersion": "resource.k8s.io/v1alpha3",
        "kind": "ResourceSlice",
        "spec": {
            "driver": "d",
            "nodeName": "",
            "allNodes": False,
            "devices": [
                {"name": "a", "basic": {"attributes": {"x": {"int": 1}}, "capacity": {"m": "1Gi"}}},
                {"name": "b"},
            ],
        },
    }
    before = copy.deepcopy(old)
    new = to_v1(old)
    assert old == before, "the input is not changed"
    assert new["apiVersion"] == "resource.k8s.io/v1"
    assert "nodeName" not in new["spec"] and "allNodes" not in new["spec"]
    assert new["spec"]["devices"] == [
        {"name": "a", "attributes": {"x": {"int": 1}}, "capacity": {"m": {"value": "1Gi"}}},
        {"name": "b"},
    ]


def test_v1beta1_capacity_objects_are_kept() -> None:
    old = {
        "apiVersion": "resource.k8s.io/v1beta1",
        "kind": "ResourceSlice",
        "spec": {"devices": [{"name": "a", "basic": {"capacity": {"m": {"value": "1"}}}}]},
    }
    assert to_v1(old)["spec"]["devices"] == [{"name": "a", "capacity": {"m": {"value": "1"}}}]


def test_requests_without_exactly() -> None:
    old = {
        "apiVersion": "resource.k8s.io/v1beta1",
        "kind": "ResourceClaimTemplate",
        "spec": {
            "spec": {
                "devices": {
                    "requests": [
                        {
                            "name": "r",
                            "deviceClassName": "c",
                            "adminAccess": True,
                            "allocationMode": "All",
                            "selectors": [{"cel": {"expression": "true"}}],
                            "tolerations": [{"key": "k", "operator": "Exists"}],
                        },
                        {"name": "p", "firstAvailable": [{"name": "s", "deviceClassName": "c"}]},
                    ]
                }
            }
        },
    }
    requests = to_v1(old)["spec"]["spec"]["devices"]["requests"]
    assert requests[0] == {
        "name": "r",
        "exactly": {
            "deviceClassName": "c",
            "selectors": [{"cel": {"expression": "true"}}],
            "allocationMode": "All",
            "adminAccess": True,
            "tolerations": [{"key": "k", "operator": "Exists"}],
        },
    }
    assert requests[1] == {"name": "p", "firstAvailable": [{"name": "s", "deviceClassName": "c"}]}


def test_v1_and_other_groups_are_unchanged() -> None:
    v1 = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice", "spec": {"nodeName": ""}}
    assert to_v1(v1) == v1
    pod = {"apiVersion": "v1", "kind": "Pod"}
    assert to_v1(pod) == pod
    v1beta2 = {"apiVersion": "resource.k8s.io/v1beta2", "kind": "ResourceClaim", "spec": {}}
    assert to_v1(v1beta2) == {**v1beta2, "apiVersion": "resource.k8s.io/v1"}


def test_apply_defaults() -> None:
    claim = {
        "kind": "ResourceClaim",
        "spec": {
            "devices": {
                "requests": [
                    {"name": "a", "exactly": {"deviceClassName": "c"}},
                    {"name": "b", "exactly": {"deviceClassName": "c", "allocationMode": "All"}},
                    {"name": "c", "exactly": {"deviceClassName": "c", "count": 4}},
                    {
                        "name": "d",
                        "firstAvailable": [
                            {"name": "x", "deviceClassName": "c", "tolerations": [{"key": "k"}]}
                        ],
                    },
                ]
            }
        },
    }
    before = copy.deepcopy(claim)
    out = apply_defaults(claim)
    assert claim == before
    a, b, c, d = out["spec"]["devices"]["requests"]
    assert a["exactly"] == {"deviceClassName": "c", "allocationMode": "ExactCount", "count": 1}
    assert b["exactly"] == {"deviceClassName": "c", "allocationMode": "All"}
    assert c["exactly"]["count"] == 4 and c["exactly"]["allocationMode"] == "ExactCount"
    assert d["firstAvailable"][0]["tolerations"] == [{"key": "k", "operator": "Equal"}]
    assert d["firstAvailable"][0]["count"] == 1
