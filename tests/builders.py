"""Small builders of Kubernetes-shaped dicts for allocator tests.

Named after what they build (``device_class()``, ``claim()``,
``slice_with_devices()``...). They return plain dicts in the resource.k8s.io/v1
JSON shape, which ``dra_core.allocate`` accepts as they are, so a test reads like
the manifest it stands for.
"""

from __future__ import annotations

from typing import Any

DRIVER = "driver-a"
NODE = "node-1"


def node(name: str = NODE, **labels: str) -> dict[str, Any]:
    """A Node with labels."""
    return {"metadata": {"name": name, "labels": dict(labels)}}


def device_class(
    name: str = "class-a",
    *selectors: str,
    config: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A DeviceClass with CEL selectors and optional opaque config parameters."""
    spec: dict[str, Any] = {}
    if selectors:
        spec["selectors"] = [{"cel": {"expression": s}} for s in selectors]
    if config:
        spec["config"] = [{"opaque": {"driver": DRIVER, "parameters": params}} for params in config]
    return {"metadata": {"name": name}, "spec": spec}


def request(
    name: str = "req-0",
    class_name: str = "class-a",
    *,
    count: int | None = 1,
    mode: str = "ExactCount",
    selectors: tuple[str, ...] = (),
    admin_access: bool | None = None,
    tolerations: list[dict[str, Any]] | None = None,
    capacity: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A DeviceRequest with ``exactly``."""
    exactly: dict[str, Any] = {"deviceClassName": class_name, "allocationMode": mode}
    if mode == "ExactCount" and count is not None:
        exactly["count"] = count
    if selectors:
        exactly["selectors"] = [{"cel": {"expression": s}} for s in selectors]
    if admin_access is not None:
        exactly["adminAccess"] = admin_access
    if tolerations:
        exactly["tolerations"] = tolerations
    if capacity:
        exactly["capacity"] = {"requests": dict(capacity)}
    return {"name": name, "exactly": exactly}


def subrequest(
    name: str,
    class_name: str = "class-a",
    *,
    count: int = 1,
    mode: str = "ExactCount",
    selectors: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A DeviceSubRequest for ``firstAvailable``."""
    sub: dict[str, Any] = {"name": name, "deviceClassName": class_name, "allocationMode": mode}
    if mode == "ExactCount":
        sub["count"] = count
    if selectors:
        sub["selectors"] = [{"cel": {"expression": s}} for s in selectors]
    return sub


def first_available(name: str, *subrequests: dict[str, Any]) -> dict[str, Any]:
    """A DeviceRequest with ``firstAvailable`` subrequests."""
    return {"name": name, "firstAvailable": list(subrequests)}


def match_attribute(attribute: str, *requests: str) -> dict[str, Any]:
    """A matchAttribute constraint."""
    out: dict[str, Any] = {"matchAttribute": attribute}
    if requests:
        out["requests"] = list(requests)
    return out


def distinct_attribute(attribute: str, *requests: str) -> dict[str, Any]:
    """A distinctAttribute constraint."""
    out: dict[str, Any] = {"distinctAttribute": attribute}
    if requests:
        out["requests"] = list(requests)
    return out


def claim(
    name: str = "claim-0",
    *requests: dict[str, Any],
    constraints: list[dict[str, Any]] | None = None,
    config: list[dict[str, Any]] | None = None,
    namespace: str = "default",
) -> dict[str, Any]:
    """A ResourceClaim; without requests it asks for one device of ``class-a``."""
    devices: dict[str, Any] = {"requests": list(requests) or [request()]}
    if constraints:
        devices["constraints"] = constraints
    if config:
        devices["config"] = config
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"devices": devices}}


def device(
    name: str,
    *,
    attributes: dict[str, Any] | None = None,
    capacity: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Device. Attribute values: int, bool, str, or a dict already in API shape.

    ``capacity`` values are quantity strings or dicts in API shape. ``extra`` keys
    are camelCase Device fields (``taints``, ``consumesCounters``, ...).
    """
    out: dict[str, Any] = {"name": name}
    if attributes:
        attrs: dict[str, Any] = {}
        for key, value in attributes.items():
            if isinstance(value, dict):
                attrs[key] = value
            elif isinstance(value, bool):
                attrs[key] = {"bool": value}
            elif isinstance(value, int):
                attrs[key] = {"int": value}
            else:
                attrs[key] = {"string": value}
        out["attributes"] = attrs
    if capacity:
        out["capacity"] = {
            k: (v if isinstance(v, dict) else {"value": v}) for k, v in capacity.items()
        }
    out.update(extra)
    return out


def slice_with_devices(
    name: str = "slice-1",
    *devices: dict[str, Any],
    driver: str = DRIVER,
    pool: str = "pool-1",
    node_name: str | None = NODE,
    generation: int = 1,
    slice_count: int = 1,
    **spec_extra: Any,
) -> dict[str, Any]:
    """A ResourceSlice with devices, node-local unless ``node_name`` is None."""
    spec: dict[str, Any] = {
        "driver": driver,
        "pool": {"name": pool, "generation": generation, "resourceSliceCount": slice_count},
        "devices": list(devices),
    }
    if node_name is not None:
        spec["nodeName"] = node_name
    spec.update(spec_extra)
    return {"metadata": {"name": name}, "spec": spec}


def allocated_claim(*results: tuple[str, str, str], name: str = "in-use") -> dict[str, Any]:
    """A claim whose allocation holds the given (driver, pool, device) results."""
    return {
        "metadata": {"name": name, "namespace": "default", "uid": name},
        "spec": {"devices": {"requests": []}},
        "status": {
            "allocation": {
                "devices": {
                    "results": [
                        {"request": f"r{i}", "driver": d, "pool": p, "device": dev}
                        for i, (d, p, dev) in enumerate(results)
                    ]
                }
            }
        },
    }


# --- kubernetes/kubernetes#138765: one GPU as a whole device or two halves ------------------

HALF_GPU_DRIVER = "gpu.example.com"
_SIZE = f'device.attributes["{HALF_GPU_DRIVER}"].size'


def _consumes(widgets: int) -> list[dict[str, Any]]:
    return [{"counterSet": "gpu-0", "counters": {"widgets": {"value": str(widgets)}}}]


def half_gpu_objects() -> list[dict[str, Any]]:
    """kubernetes#138765's cluster: node-1 with one GPU, usable whole or as two halves.

    The halves and the whole device share one counter set of two widgets (partitionable
    devices), so either the whole GPU or both halves can be allocated, never both.
    Full manifests (apiVersion and kind), for ``Cluster`` and ``Simulator``.
    """
    pool = {"name": "node-1", "generation": 1, "resourceSliceCount": 2}
    return [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}},
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "gpu"},
            "spec": {
                "selectors": [{"cel": {"expression": f'device.driver == "{HALF_GPU_DRIVER}"'}}]
            },
        },
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": "node-1-counters"},
            "spec": {
                "driver": HALF_GPU_DRIVER,
                "nodeName": "node-1",
                "pool": pool,
                "sharedCounters": [{"name": "gpu-0", "counters": {"widgets": {"value": "2"}}}],
            },
        },
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": "node-1-devices"},
            "spec": {
                "driver": HALF_GPU_DRIVER,
                "nodeName": "node-1",
                "pool": pool,
                "devices": [
                    {
                        "name": "whole",
                        "attributes": {"size": {"string": "whole"}},
                        "consumesCounters": _consumes(2),
                    },
                    *(
                        {
                            "name": f"half-{i}",
                            "attributes": {"size": {"string": "half"}},
                            "consumesCounters": _consumes(1),
                        }
                        for i in range(2)
                    ),
                ],
            },
        },
    ]


def whole_or_half_spec() -> dict[str, Any]:
    """A claim spec preferring the whole GPU of :func:`half_gpu_objects`, accepting a half."""
    return {
        "devices": {
            "requests": [
                {
                    "name": "gpu",
                    "firstAvailable": [
                        {
                            "name": size,
                            "deviceClassName": "gpu",
                            "selectors": [{"cel": {"expression": f'{_SIZE} == "{size}"'}}],
                        }
                        for size in ("whole", "half")
                    ],
                }
            ]
        }
    }
