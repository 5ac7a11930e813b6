"""Older resource.k8s.io versions to v1, and the defaults the API server applies.

Both work on plain JSON dictionaries and return new ones (the input is never changed):

- :func:`to_v1` converts ``v1beta2``, ``v1beta1`` and ``v1alpha3`` objects to the v1 shape:
  the ``basic:`` device wrapper is removed, bare quantities become ``{value: ...}`` capacities,
  requests without ``exactly`` get one, and v1beta1's non-pointer ``nodeName: ""`` /
  ``allNodes: false`` read as unset, as Kubernetes' own conversion does.
- :func:`apply_defaults` sets what the API server defaults: ``allocationMode: ExactCount`` and
  ``count: 1`` on requests and subrequests, and ``operator: Equal`` on tolerations.
"""

from __future__ import annotations

import copy
from typing import Any, Final

__all__ = [
    "GROUP",
    "OLD_VERSIONS",
    "RESOURCE_KINDS",
    "SERVED_VERSIONS",
    "apply_defaults",
    "to_v1",
]

GROUP: Final = "resource.k8s.io"
SERVED_VERSIONS: Final = ("v1", "v1beta2", "v1beta1", "v1alpha3")
OLD_VERSIONS: Final = ("v1beta2", "v1beta1", "v1alpha3")
RESOURCE_KINDS: Final = (
    "DeviceClass",
    "DeviceTaintRule",
    "ResourceClaim",
    "ResourceClaimTemplate",
    "ResourceSlice",
)

# Request fields that v1beta1 and v1alpha3 keep on the request itself and v1 nests in `exactly`.
_EXACT_FIELDS: Final = (
    "deviceClassName",
    "selectors",
    "allocationMode",
    "count",
    "adminAccess",
    "tolerations",
    "capacity",
)


def json_copy(value: Any) -> Any:
    """Return a copy of plain JSON data: dicts and lists are new, everything else is shared.

    What ``copy.deepcopy`` gives for the data a manifest holds (scalars are immutable), at a
    fraction of its cost. The caller has bounded the depth (``io.MAX_JSON_DEPTH``).
    """
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(json_copy(v) for v in value)
    return copy.deepcopy(value) if isinstance(value, (set, bytearray)) else value


def to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    """Return ``obj`` (any served resource.k8s.io version) in the v1 shape.

    Objects of other groups, and v1 objects, come back as a deep copy. DeviceTaintRule has
    no v1 version; it keeps its apiVersion (v1beta2 and v1alpha3 have the same shape).
    """
    out: dict[str, Any] = json_copy(obj)
    api_version = out.get("apiVersion")
    if not isinstance(api_version, str) or "/" not in api_version:
        return out
    group, version = api_version.split("/", 1)
    if group != GROUP or version not in OLD_VERSIONS:
        return out
    kind = out.get("kind")
    if kind != "DeviceTaintRule":
        out["apiVersion"] = f"{GROUP}/v1"
    if version == "v1beta2":
        return out  # the same JSON shape as v1
    if kind == "ResourceSlice":
        spec = out.get("spec")
        if isinstance(spec, dict):
            _slice_spec_to_v1(spec)
    elif kind == "ResourceClaim":
        _claim_spec_to_v1(out.get("spec"))
    elif kind == "ResourceClaimTemplate":
        spec = out.get("spec")
        if isinstance(spec, dict):
            _claim_spec_to_v1(spec.get("spec"))
    return out


def _slice_spec_to_v1(spec: dict[str, Any]) -> None:
    # v1beta1/v1alpha3 have non-pointer nodeName/allNodes: their zero values mean "unset".
    if spec.get("nodeName") == "":
        del spec["nodeName"]
    if spec.get("allNodes") is False:
        del spec["allNodes"]
    devices = spec.get("devices")
    if not isinstance(devices, list):
        return
    for index, device in enumerate(devices):
        if not isinstance(device, dict):
            continue
        basic = device.pop("basic", None)
        flat: dict[str, Any] = {"name": device["name"]} if "name" in device else {}
        if isinstance(basic, dict):
            flat.update(basic)
        # keep anything else written next to `basic` (unknown fields are reported later)
        for key, value in device.items():
            flat.setdefault(key, value)
        capacity = flat.get("capacity")
        if isinstance(capacity, dict):
            # v1alpha3: capacity values are bare quantities
            flat["capacity"] = {
                key: value if isinstance(value, dict) or value is None else {"value": value}
                for key, value in capacity.items()
            }
        devices[index] = flat


def _claim_spec_to_v1(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    devices = spec.get("devices")
    if not isinstance(devices, dict):
        return
    requests = devices.get("requests")
    if not isinstance(requests, list):
        return
    for index, request in enumerate(requests):
        if not isinstance(request, dict) or "exactly" in request:
            continue
        if request.get("firstAvailable"):
            # prioritized list: the request-level fields do not apply (and must not be set)
            continue
        exactly = {key: request.pop(key) for key in _EXACT_FIELDS if key in request}
        new: dict[str, Any] = {}
        if "name" in request:
            new["name"] = request.pop("name")
        new["exactly"] = exactly
        new.update(request)
        requests[index] = new


def apply_defaults(obj: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of v1-shaped ``obj`` with the API server's defaults set."""
    out: dict[str, Any] = json_copy(obj)
    kind = out.get("kind")
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    if kind == "ResourceClaim":
        _default_claim_spec(spec)
    elif kind == "ResourceClaimTemplate":
        _default_claim_spec(spec.get("spec"))
    if kind == "ResourceClaim":
        status = out.get("status")
        allocation = status.get("allocation") if isinstance(status, dict) else None
        devices = allocation.get("devices") if isinstance(allocation, dict) else None
        results = devices.get("results") if isinstance(devices, dict) else None
        for result in results if isinstance(results, list) else []:
            if isinstance(result, dict):
                _default_tolerations(result.get("tolerations"))
    return out


def _default_claim_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    devices = spec.get("devices")
    if not isinstance(devices, dict):
        return
    requests = devices.get("requests")
    for request in requests if isinstance(requests, list) else []:
        if not isinstance(request, dict):
            continue
        exactly = request.get("exactly")
        if isinstance(exactly, dict):
            _default_request(exactly)
        subrequests = request.get("firstAvailable")
        for sub in subrequests if isinstance(subrequests, list) else []:
            if isinstance(sub, dict):
                _default_request(sub)


def _default_request(request: dict[str, Any]) -> None:
    if not request.get("allocationMode"):
        request["allocationMode"] = "ExactCount"
    if request["allocationMode"] == "ExactCount" and not request.get("count"):
        request["count"] = 1
    _default_tolerations(request.get("tolerations"))


def _default_tolerations(tolerations: Any) -> None:
    for toleration in tolerations if isinstance(tolerations, list) else []:
        if isinstance(toleration, dict) and not toleration.get("operator"):
            toleration["operator"] = "Equal"
