"""Whole clusters in the shape of Kubernetes' scheduler_perf DRA tests, for cluster benchmarks.

Devices as in scheduler_perf's ``resourceslice-basic-devices.yaml`` (one pool and one slice
per node; attributes ``model``, ``family``, ``driverVersion`` and ``resource.k8s.io/pciRoot``;
1Gi of memory each), the class of ``deviceclass.yaml`` and the claim of
``resourceclaimtemplate-with-selector.yaml``. The PCIe root is ``device index // per_root``,
so that ``matchAttribute`` on it has groups to work with (4 devices per root with 8 devices,
as in the Go reference figures).

The devices in use are chosen at random (seeded), each device independently with
probability ``busy``, and recorded as allocated ResourceClaims, as a real cluster has them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice

__all__ = ["DRIVER", "SELECTOR", "ClusterShape", "claim", "cluster_shape"]

DRIVER = "test-driver.cdi.k8s.io"
SELECTOR = (
    f"device.capacity['{DRIVER}'].memory.compareTo(quantity('1Gi')) == 0 &&\n"
    f"device.attributes['{DRIVER}'].family == 'GPU'"
)


@dataclass
class ClusterShape:
    """The objects of one generated cluster, as models."""

    nodes: list[Node]
    slices: list[ResourceSlice]
    classes: list[DeviceClass]
    allocated: list[ResourceClaim]

    def objects(self) -> list[Any]:
        """Every object, nodes first."""
        return [*self.nodes, *self.slices, *self.classes, *self.allocated]


def _slice(index: int, devices: int, per_root: int) -> ResourceSlice:
    return ResourceSlice.model_validate(
        {
            "metadata": {"name": f"resourceslice-{index}"},
            "spec": {
                "pool": {
                    "name": f"resourceslice-{index}",
                    "generation": 1,
                    "resourceSliceCount": 1,
                },
                "driver": DRIVER,
                "nodeName": f"scheduler-perf-dra-{index}",
                "devices": [
                    {
                        "name": f"basic-device-{d}",
                        "attributes": {
                            "model": {"string": "A100"},
                            "family": {"string": "GPU"},
                            "driverVersion": {"version": "1.2.3"},
                            "resource.k8s.io/pciRoot": {"string": str(d // per_root)},
                        },
                        "capacity": {"memory": {"value": "1Gi"}},
                    }
                    for d in range(devices)
                ],
            },
        }
    )


def cluster_shape(
    nodes: int, devices: int, *, busy: float = 0.5, per_root: int = 4, seed: int = 1
) -> ClusterShape:
    """A cluster of ``nodes`` nodes with ``devices`` devices each, ``busy`` of them in use."""
    rng = random.Random(seed)
    node_models = [
        Node.model_validate(
            {
                "metadata": {
                    "name": f"scheduler-perf-dra-{i}",
                    "labels": {"kubernetes.io/hostname": f"scheduler-perf-dra-{i}"},
                }
            }
        )
        for i in range(nodes)
    ]
    slices = [_slice(i, devices, per_root) for i in range(nodes)]
    device_class = DeviceClass.model_validate(
        {
            "metadata": {"name": "test-class"},
            "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{DRIVER}"'}}]},
        }
    )
    allocated: list[ResourceClaim] = []
    for i in range(nodes):
        for d in range(devices):
            if rng.random() < busy:
                allocated.append(
                    ResourceClaim.model_validate(
                        {
                            "metadata": {"name": f"in-use-{i}-{d}", "namespace": "default"},
                            "spec": {
                                "devices": {
                                    "requests": [
                                        {
                                            "name": "req-0",
                                            "exactly": {
                                                "deviceClassName": "test-class",
                                                "allocationMode": "ExactCount",
                                                "count": 1,
                                            },
                                        }
                                    ]
                                }
                            },
                            "status": {
                                "allocation": {
                                    "devices": {
                                        "results": [
                                            {
                                                "request": "req-0",
                                                "driver": DRIVER,
                                                "pool": f"resourceslice-{i}",
                                                "device": f"basic-device-{d}",
                                            }
                                        ]
                                    },
                                    "nodeSelector": {
                                        "nodeSelectorTerms": [
                                            {
                                                "matchFields": [
                                                    {
                                                        "key": "metadata.name",
                                                        "operator": "In",
                                                        "values": [f"scheduler-perf-dra-{i}"],
                                                    }
                                                ]
                                            }
                                        ]
                                    },
                                }
                            },
                        }
                    )
                )
    return ClusterShape(node_models, slices, [device_class], allocated)


def claim(kind: str, name: str = "pod-claim") -> ResourceClaim:
    """The pod's claim: ``basic``, ``selector``, ``four`` (4 devices), ``all`` or ``match``.

    ``match`` is 5 one-device requests with ``matchAttribute`` on the PCIe root.
    """

    def request(req: str, count: int = 1, selector: bool = False) -> dict[str, Any]:
        exactly: dict[str, Any] = {
            "deviceClassName": "test-class",
            "allocationMode": "ExactCount",
            "count": count,
        }
        if selector:
            exactly["selectors"] = [{"cel": {"expression": SELECTOR}}]
        return {"name": req, "exactly": exactly}

    devices: dict[str, Any]
    if kind == "basic":
        devices = {"requests": [request("req-0")]}
    elif kind == "selector":
        devices = {"requests": [request("req-0", selector=True)]}
    elif kind == "four":
        devices = {"requests": [request("req-0", count=4)]}
    elif kind == "all":
        devices = {
            "requests": [
                {
                    "name": "req-0",
                    "exactly": {"deviceClassName": "test-class", "allocationMode": "All"},
                }
            ]
        }
    elif kind == "match":
        devices = {
            "requests": [request(f"req-{i}") for i in range(5)],
            "constraints": [{"matchAttribute": "resource.k8s.io/pciRoot"}],
        }
    else:
        raise ValueError(kind)
    return ResourceClaim.model_validate(
        {"metadata": {"name": name, "namespace": "default"}, "spec": {"devices": devices}}
    )
