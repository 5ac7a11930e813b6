"""Gangs (issue 12): place_gang on the issue's three shapes.

Run: ``pytest benchmarks/bench_gang.py --benchmark-only``; ``python benchmarks/bench_gang.py``
prints the table of docs/gangs.md (medians of repeated runs; first runs separately).

Shapes:

- ``racks``: 8 members x 8 GPUs each on 1,000 nodes x 8 GPUs in racks of 32 nodes, half of
  the GPUs in use, scattered (a node has 0, 4 or 8 GPUs in use, at random places, with
  probabilities 1/4, 1/2, 1/4), every member in one rack (``same_node_label``);
- ``wide``: 64 members x 1 GPU on 500 nodes x 10 GPUs (idle, and with half in use; and on
  1,000 nodes x 8 GPUs with half in use);
- ``two-kinds``: a driver with 4 GPUs and 16 workers with 1 GPU, in one rack of 50 nodes
  (500 nodes x 10 GPUs, half in use);
- ``138765``: kubernetes/kubernetes#138765, two pods that each need half of one GPU;
- ``podgroup-fabric``: a pod group's claim (KEP-5729) on a rack-wide device: 8 members
  x 8 GPUs each on 256 nodes x 8 GPUs in racks of 32, idle, each rack with one switch
  that every node of the rack sees; the members share one claim for a switch, so they
  must all be in one rack (the exact search: the claim's pods may be on several nodes);
- ``nic-shortage``: 16 members x (1 GPU + 1 NIC) on 64 nodes x 8 GPUs (racks of 16, half
  in use, scattered) and 12 NICs that every node sees: it does not fit, and the exact
  search's relaxation says so (place_gang returns None).

Each placement is made from scratch (a fresh question to a cluster that is built once
and whose node keys are computed once, as a scheduler's cluster is).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dra_core import Cluster
from dra_core.cluster._gang import place_gang

DRIVER = "gpu.example.com"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "gang"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def _class() -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": "gpu"},
        "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{DRIVER}"'}}]},
    }


def gpu_cluster(
    nodes: int, gpus: int, *, rack_size: int, busy: str, seed: int = 1
) -> list[dict[str, Any]]:
    """Nodes with ``gpus`` GPUs each in a node-local pool; ``busy``: none, scattered, half."""
    rng = random.Random(seed)
    objects: list[dict[str, Any]] = [_class()]
    for i in range(nodes):
        name = f"node-{i}"
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": {"rack": f"rack-{i // rack_size}"}},
            }
        )
        objects.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": f"{name}-gpus"},
                "spec": {
                    "driver": DRIVER,
                    "nodeName": name,
                    "pool": {"name": name, "generation": 1, "resourceSliceCount": 1},
                    "devices": [
                        {"name": f"gpu-{d}", "attributes": {"index": {"int": d}}}
                        for d in range(gpus)
                    ],
                },
            }
        )
        if busy == "scattered":
            used = rng.sample(range(gpus), rng.choice([0, gpus // 2, gpus // 2, gpus]))
        elif busy == "half":
            used = [d for d in range(gpus) if rng.random() < 0.5]
        else:
            used = []
        for d in used:
            objects.append(
                {
                    "apiVersion": "resource.k8s.io/v1",
                    "kind": "ResourceClaim",
                    "metadata": {"name": f"in-use-{i}-{d}", "namespace": "default"},
                    "spec": {
                        "devices": {
                            "requests": [{"name": "r", "exactly": {"deviceClassName": "gpu"}}]
                        }
                    },
                    "status": {
                        "allocation": {
                            "devices": {
                                "results": [
                                    {
                                        "request": "r",
                                        "driver": DRIVER,
                                        "pool": name,
                                        "device": f"gpu-{d}",
                                    }
                                ]
                            }
                        }
                    },
                }
            )
    return objects


def gpu_members(members: int, gpus: int) -> list[list[dict[str, Any]]]:
    return [
        [
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": f"worker-{m}-gpus", "namespace": "default"},
                "spec": {
                    "devices": {
                        "requests": [
                            {"name": "gpus", "exactly": {"deviceClassName": "gpu", "count": gpus}}
                        ]
                    }
                },
            }
        ]
        for m in range(members)
    ]


def fabric_objects(racks: int) -> list[dict[str, Any]]:
    """One switch per rack, seen by every node of the rack, and its DeviceClass."""
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "switch"},
            "spec": {
                "selectors": [{"cel": {"expression": 'device.driver == "fabric.example.com"'}}]
            },
        }
    ]
    for r in range(racks):
        objects.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceSlice",
                "metadata": {"name": f"rack-{r}-fabric"},
                "spec": {
                    "driver": "fabric.example.com",
                    "nodeSelector": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "rack", "operator": "In", "values": [f"rack-{r}"]}
                                ]
                            }
                        ]
                    },
                    "pool": {"name": f"rack-{r}-fabric", "generation": 1, "resourceSliceCount": 1},
                    "devices": [{"name": "switch"}],
                },
            }
        )
    return objects


def nic_pool(nics: int) -> list[dict[str, Any]]:
    """``nics`` NICs in one pool that every node sees, and their DeviceClass."""
    return [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": "nic"},
            "spec": {"selectors": [{"cel": {"expression": 'device.driver == "nic.example.com"'}}]},
        },
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": "nics"},
            "spec": {
                "driver": "nic.example.com",
                "allNodes": True,
                "pool": {"name": "nics", "generation": 1, "resourceSliceCount": 1},
                "devices": [{"name": f"nic-{i}"} for i in range(nics)],
            },
        },
    ]


def nic_members(members: int) -> list[list[dict[str, Any]]]:
    """Members with one GPU and one NIC each."""
    out = gpu_members(members, 1)
    for m, member in enumerate(out):
        member.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": f"worker-{m}-nic", "namespace": "default"},
                "spec": {
                    "devices": {
                        "requests": [{"name": "nic", "exactly": {"deviceClassName": "nic"}}]
                    }
                },
            }
        )
    return out


def fabric_members(members: int, gpus: int) -> list[list[dict[str, Any]]]:
    """Members with their GPUs and the pod group's one claim for a switch."""
    group = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "group-switch", "namespace": "default"},
        "spec": {
            "devices": {"requests": [{"name": "switch", "exactly": {"deviceClassName": "switch"}}]}
        },
    }
    return [[group, *member] for member in gpu_members(members, gpus)]


_CLUSTERS: dict[str, Cluster] = {}


def shape(name: str) -> tuple[Cluster, list[list[dict[str, Any]]], dict[str, Any]]:
    """The cluster, the gang and place_gang's keyword arguments of a named shape."""
    if name not in _CLUSTERS:
        if name == "racks":
            objects = gpu_cluster(1000, 8, rack_size=32, busy="scattered")
        elif name == "wide":
            objects = gpu_cluster(500, 10, rack_size=50, busy="none")
        elif name in ("wide-half-busy", "two-kinds"):
            objects = gpu_cluster(500, 10, rack_size=50, busy="half")
        elif name == "wide-1000":
            objects = gpu_cluster(1000, 8, rack_size=32, busy="half")
        elif name == "nic-shortage":
            objects = gpu_cluster(64, 8, rack_size=16, busy="scattered") + nic_pool(12)
        elif name == "podgroup-fabric":
            objects = gpu_cluster(256, 8, rack_size=32, busy="none") + fabric_objects(8)
        else:
            from test_gang_138765 import scenario

            objects = scenario()
        cluster = Cluster(objects)
        cluster.filter(gpu_members(1, 1)[0])  # node keys computed once
        _CLUSTERS[name] = cluster
    cluster = _CLUSTERS[name]
    if name == "racks":
        return cluster, gpu_members(8, 8), {"same_node_label": "rack"}
    if name.startswith("wide"):
        return cluster, gpu_members(64, 1), {}
    if name == "two-kinds":
        # a driver with 4 GPUs and 16 workers with 1, in one rack of 50 nodes
        driver = gpu_members(1, 4)
        driver[0][0]["metadata"]["name"] = "driver-gpus"
        return cluster, driver + gpu_members(16, 1), {"same_node_label": "rack"}
    if name == "podgroup-fabric":
        return cluster, fabric_members(8, 8), {"same_node_label": "rack"}
    if name == "nic-shortage":
        return cluster, nic_members(16), {}
    from test_gang_138765 import pod_claim

    return cluster, [[pod_claim(0)], [pod_claim(1)]], {}


SHAPES = [
    "racks",
    "wide",
    "wide-half-busy",
    "wide-1000",
    "two-kinds",
    "138765",
    "podgroup-fabric",
    "nic-shortage",
]
NO_FIT = {"nic-shortage"}


@pytest.mark.parametrize("name", SHAPES)
def test_place_gang(benchmark: Any, name: str) -> None:
    cluster, members, kwargs = shape(name)
    placement = place_gang(cluster, members, **kwargs)
    if name in NO_FIT:
        assert placement is None
    else:
        assert placement is not None and placement.placed == len(members)
    benchmark(place_gang, cluster, members, **kwargs)


def _median(name: str, runs: int) -> tuple[float, float, Any]:
    cluster, members, kwargs = shape(name)
    started = time.perf_counter()
    placement = place_gang(cluster, members, **kwargs)
    first = time.perf_counter() - started
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        placement = place_gang(cluster, members, **kwargs)
        times.append(time.perf_counter() - started)
    return first, statistics.median(times), placement


def main() -> None:
    print(
        "| shape | members | first (s) | median (s) | nodes used | kinds | groups | patterns "
        "| engine calls | master variables | search steps |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in SHAPES:
        first, median, placement = _median(name, 5)
        if placement is None:
            assert name in NO_FIT
            print(f"| {name} | - | {first:.3f} | {median:.3f} | does not fit | | | | | | |")
            continue
        used = len({n for n in placement.nodes if n is not None})
        s = placement.stats
        print(
            f"| {name} | {len(placement.nodes)} | {first:.3f} | {median:.3f} | {used} "
            f"| {s['kinds']} | {s.get('groups', '-')} | {s.get('patterns', '-')} "
            f"| {s['engine_calls']} | {s.get('master_variables', '-')} "
            f"| {s.get('search_steps', '-')} |"
        )


if __name__ == "__main__":
    main()
