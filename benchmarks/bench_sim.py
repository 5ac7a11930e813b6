"""The simulator on Kubernetes' scheduler_perf DRA workloads (issue 10's speed targets).

The workloads of ``test/integration/scheduler_perf/dra/performance-config.yaml``, built with
the objects of its templates (``templates/*.yaml``: the ``test-class`` DeviceClass, the
``test-claim-template`` ResourceClaimTemplate, ``resourceslice-basic-devices`` slices of 10
devices per node, ``pod-with-claim-template`` pods, nodes as ``node-with-dra-test-driver``):

- ``SchedulingWithResourceClaimTemplate/5000pods_500nodes``: 2,500 pods to start with,
  then 2,500 measured pods on 500 nodes × 10 devices (the cluster ends full);
- ``SteadyStateClusterResourceClaimTemplate/{empty,half,full}_500nodes``: 0, 2,500 or 4,990
  claims allocated first; then ten pods are created, scheduled and deleted, again and
  again (500 rounds: 5,000 measured pods);
- the selector variant (``resourceclaimtemplate-with-selector``: a CEL selector on the
  memory capacity and the family attribute) and a match variant (two requests with a
  ``matchAttribute`` constraint, as ``resourceclaimtemplate.yaml``'s ``constraints``
  parameter makes them), each 5,000 pods on 500 nodes after the same start;
- ``SteadyStateClusterResourceClaimTemplatePartitionable``: partitionable devices with
  shared counters in slices that select nodes by label, claims that use counters
  allocated first, and pods whose template asks for two devices of one slice;
- 5,000 pods on 5,000 nodes (× 10 devices), the case reported to take ten minutes in
  kube-scheduler (kubernetes/kubernetes#136588).

The measured phase is what scheduler_perf measures: creating the pods (with their claims,
by the simulated claim controller) until every one is scheduled. The targets: ≥ 500
pods/s on 500 nodes, 5,000 pods on 5,000 nodes in under 20 s (2-core machine).

Run with ``pytest benchmarks/bench_sim.py`` (pytest-benchmark), or
``python benchmarks/bench_sim.py [NAME...]`` for one timed run of each.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from dra_core import Simulator
from dra_core.api import (
    DeviceClass,
    Node,
    Pod,
    ResourceClaim,
    ResourceClaimTemplate,
    ResourceSlice,
)
from dra_core.io import parse_object

DRIVER = "test-driver.cdi.k8s.io"


def node(i: int, prefix: str = "scheduler-perf-dra") -> Node:
    # templates/node-with-dra-test-driver.yaml (capacity as scheduler_perf's node-default)
    return Node.model_validate(
        {
            "metadata": {"name": f"{prefix}-{i}", "labels": {"node-with-dra": "true"}},
            "status": {"allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"}},
        }
    )


def basic_slice(i: int, devices: int = 10) -> ResourceSlice:
    # templates/resourceslice-basic-devices.yaml
    return ResourceSlice.model_validate(
        {
            "metadata": {"name": f"resourceslice-{i}"},
            "spec": {
                "pool": {"name": f"resourceslice-{i}", "generation": 1, "resourceSliceCount": 1},
                "driver": DRIVER,
                "nodeName": f"scheduler-perf-dra-{i}",
                "devices": [
                    {
                        "name": f"basic-device-{d}",
                        "attributes": {
                            "model": {"string": "A100"},
                            "family": {"string": "GPU"},
                            "driverVersion": {"version": "1.2.3"},
                            "resource.k8s.io/pciRoot": {"string": str(d)},
                        },
                        "capacity": {"memory": {"value": "1Gi"}},
                    }
                    for d in range(devices)
                ],
            },
        }
    )


def device_class() -> DeviceClass:
    # templates/deviceclass.yaml
    return DeviceClass.model_validate(
        {
            "metadata": {"name": "test-class"},
            "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{DRIVER}"'}}]},
        }
    )


def template(namespace: str, variant: str = "basic") -> ResourceClaimTemplate:
    # templates/resourceclaimtemplate.yaml, -with-selector.yaml, -for-two-devices.yaml
    exactly: dict[str, Any] = {"deviceClassName": "test-class"}
    requests = [{"name": "req-0", "exactly": exactly}]
    devices: dict[str, Any] = {"requests": requests}
    if variant == "selector":
        exactly["selectors"] = [
            {
                "cel": {
                    "expression": f"device.capacity['{DRIVER}'].memory.compareTo("
                    f"quantity('1Gi')) == 0 &&\ndevice.attributes['{DRIVER}'].family == 'GPU'"
                }
            }
        ]
    elif variant == "match":
        requests.append({"name": "req-1", "exactly": {"deviceClassName": "test-class"}})
        devices["constraints"] = [{"matchAttribute": f"{DRIVER}/family"}]
    elif variant == "two-devices":
        exactly["count"] = 2
        devices["constraints"] = [
            {"requests": ["req-0"], "matchAttribute": "dra.example.com/slice"}
        ]
    made = parse_object(
        {
            "metadata": {"name": "test-claim-template", "namespace": namespace},
            "spec": {"spec": {"devices": devices}},
        },
        "ResourceClaimTemplate",
        defaults=True,  # the API server's defaults: ExactCount, count 1
    )
    assert isinstance(made, ResourceClaimTemplate)
    return made


def pods(namespace: str, count: int, start: int = 0) -> list[Pod]:
    # templates/pod-with-claim-template.yaml (generateName test-dra: names made here)
    return [
        Pod.model_validate(
            {
                "metadata": {"name": f"test-dra-{i}", "namespace": namespace},
                "spec": {
                    "containers": [
                        {
                            "name": "pause",
                            "image": "registry.k8s.io/pause:3.10.1",
                            "resources": {"claims": [{"name": "resource"}]},
                        }
                    ],
                    "resourceClaims": [
                        {"name": "resource", "resourceClaimTemplateName": "test-claim-template"}
                    ],
                },
            }
        )
        for i in range(start, start + count)
    ]


def _claim(data: dict[str, Any]) -> ResourceClaim:
    made = parse_object(data, "ResourceClaim", defaults=True)
    assert isinstance(made, ResourceClaim)
    return made


def init_claims(count: int) -> list[ResourceClaim]:
    # templates/resourceclaim.yaml, allocated by allocResourceClaims
    return [
        _claim(
            {
                "metadata": {"name": f"test-claim-{i}", "namespace": "init"},
                "spec": {
                    "devices": {
                        "requests": [
                            {"name": "req-0", "exactly": {"deviceClassName": "test-class"}}
                        ]
                    }
                },
            }
        )
        for i in range(count)
    ]


def alloc_claims(sim: Simulator, claims: list[ResourceClaim]) -> None:
    """scheduler_perf's allocResourceClaims: allocate each claim on the first node where it fits."""
    cluster = sim.cluster
    names = cluster.node_names()
    position = 0
    for claim in claims:
        view = cluster.filter([claim], nodes=names[position:] + names[:position])
        target = view.feasible[0]
        position = names.index(target)
        allocated = cluster.reserve([claim], target)[0]
        sim.apply(allocated)


@dataclass
class Workload:
    name: str
    build: Callable[[], Simulator]
    measure: Callable[[Simulator], int]  # returns the pods scheduled


def _basic_cluster(nodes: int, variant: str = "basic") -> Simulator:
    sim = Simulator()
    sim.apply(*[node(i) for i in range(nodes)], *[basic_slice(i) for i in range(nodes)])
    sim.apply(device_class(), template("init", variant), template("test", variant))
    return sim


# The measured pods are made (as Pod models) before the clock starts: making them is the
# API client's work in scheduler_perf, not the scheduler's.


def scheduling(nodes: int, init: int, measured: int, variant: str = "basic") -> Workload:
    ready: list[Pod] = []

    def build() -> Simulator:
        sim = _basic_cluster(nodes, variant)
        if init:
            sim.apply(*pods("init", init))
            sim.run()
        ready[:] = pods("test", measured)
        return sim

    def measure(sim: Simulator) -> int:
        before = sum(1 for r in sim.pods() if r.node)
        sim.apply(*ready)
        sim.run()
        return sum(1 for r in sim.pods() if r.node) - before

    return Workload(f"{variant}-{measured}pods_{nodes}nodes", build, measure)


def steady_state(nodes: int, claims: int, rounds: int = 500, label: str = "") -> Workload:
    ready: list[list[Pod]] = []

    def build() -> Simulator:
        sim = _basic_cluster(nodes)
        alloc_claims(sim, init_claims(claims))
        ready[:] = [pods("test", 10, start=r * 10) for r in range(rounds)]
        return sim

    def measure(sim: Simulator) -> int:
        scheduled = 0
        for batch in ready:
            sim.apply(*batch)
            sim.run()
            scheduled += sum(1 for row in sim.pods() if row.node and row.namespace == "test")
            sim.delete(*batch)
        return scheduled

    return Workload(f"steady-{label}_{nodes}nodes", build, measure)


def partitionable(
    nodes: int = 100, slices: int = 2000, claims: int = 2000, rounds: int = 200
) -> Workload:
    # templates/resourceslice-partitionable.yaml, resourceclaim-with-selector.yaml,
    # resourceclaimtemplate-for-two-devices.yaml
    def the_slices(i: int) -> list[ResourceSlice]:
        def device(name: str, counters: dict[str, str], preallocate: bool, size: str) -> Any:
            return {
                "name": name,
                "attributes": {
                    "preallocate": {"bool": preallocate},
                    "dra.example.com/slice": {"int": i},
                },
                "capacity": {"counters": {"value": size}},
                "consumesCounters": [
                    {
                        "counterSet": "counter-set",
                        "counters": {k: {"value": v} for k, v in counters.items()},
                    }
                ],
            }

        # the v1 form: the counter sets and the devices in two slices of one pool
        # (resourceslice-partitionable-countersets.yaml and -devices.yaml)
        selector = {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "node-with-dra", "operator": "In", "values": ["true"]}
                    ]
                }
            ]
        }
        pool = {"name": f"resourceslice-{i}", "generation": 1, "resourceSliceCount": 2}
        counters = {
            "metadata": {"name": f"resourceslice-countersets-{i}"},
            "spec": {
                "pool": pool,
                "driver": DRIVER,
                "nodeSelector": selector,
                "sharedCounters": [
                    {
                        "name": "counter-set",
                        "counters": {f"counter{c}": {"value": "1"} for c in range(1, 5)},
                    }
                ],
            },
        }
        devices = {
            "metadata": {"name": f"resourceslice-devices-{i}"},
            "spec": {
                "pool": pool,
                "driver": DRIVER,
                "nodeSelector": selector,
                "devices": [
                    device("device-2-counters-1", {"counter1": "1", "counter2": "1"}, True, "2"),
                    device("device-2-counters-2", {"counter3": "1", "counter4": "1"}, False, "2"),
                    *[
                        device(f"device-1-counter-{c}", {f"counter{c}": "1"}, False, "1")
                        for c in range(1, 5)
                    ],
                ],
            },
        }
        return [ResourceSlice.model_validate(counters), ResourceSlice.model_validate(devices)]

    def build() -> Simulator:
        sim = Simulator()
        sim.apply(
            *[node(i) for i in range(nodes)], *[s for i in range(slices) for s in the_slices(i)]
        )
        sim.apply(device_class(), template("test", "two-devices"))
        selector = (
            f"device.capacity['{DRIVER}'].counters.compareTo(quantity('2')) >= 0 &&\n"
            f"device.attributes['{DRIVER}'].preallocate"
        )
        init = [
            _claim(
                {
                    "metadata": {"name": f"test-claim-with-selector-{i}", "namespace": "init"},
                    "spec": {
                        "devices": {
                            "requests": [
                                {
                                    "name": "req-0",
                                    "exactly": {
                                        "deviceClassName": "test-class",
                                        "selectors": [{"cel": {"expression": selector}}],
                                    },
                                }
                            ]
                        }
                    },
                }
            )
            for i in range(claims)
        ]
        alloc_claims(sim, init)
        return sim

    def measure(sim: Simulator) -> int:
        scheduled = 0
        for r in range(rounds):
            batch = pods("test", 10, start=r * 10)
            sim.apply(*batch)
            sim.run()
            scheduled += sum(1 for row in sim.pods() if row.node and row.namespace == "test")
            sim.delete(*batch)
        return scheduled

    return Workload(f"partitionable-{rounds * 10}pods_{nodes}nodes_{slices}slices", build, measure)


def big(nodes: int = 5000, measured: int = 5000) -> Workload:
    ready: list[Pod] = []

    def build() -> Simulator:
        ready[:] = pods("test", measured)
        return _basic_cluster(nodes)

    def measure(sim: Simulator) -> int:
        sim.apply(*ready)
        sim.run()
        return sum(1 for r in sim.pods() if r.node)

    return Workload(f"basic-{measured}pods_{nodes}nodes", build, measure)


WORKLOADS: dict[str, Callable[[], Workload]] = {
    "SchedulingWithResourceClaimTemplate/5000pods_500nodes": lambda: scheduling(500, 2500, 2500),
    "SteadyStateClusterResourceClaimTemplate/empty_500nodes": lambda: steady_state(
        500, 0, label="empty"
    ),
    "SteadyStateClusterResourceClaimTemplate/half_500nodes": lambda: steady_state(
        500, 2500, label="half"
    ),
    "SteadyStateClusterResourceClaimTemplate/full_500nodes": lambda: steady_state(
        500, 4990, label="full"
    ),
    "SchedulingWithResourceClaimTemplate/selector_5000pods_500nodes": lambda: scheduling(
        500, 2500, 2500, "selector"
    ),
    "SchedulingWithResourceClaimTemplate/match_2500pods_500nodes": lambda: scheduling(
        500, 1250, 1250, "match"
    ),
    # full scale: 2,000 pools every node sees, 2,000 claims allocated first
    "SteadyStateClusterResourceClaimTemplatePartitionable/2000pods_100nodes_2000slices": lambda: (
        partitionable(nodes=100, slices=2000, claims=2000, rounds=200)
    ),
    "5000pods_5000nodes": lambda: big(),
}


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_sim_workload(benchmark: Any, name: str) -> None:
    workload = WORKLOADS[name]()
    results: list[int] = []

    def setup() -> tuple[tuple[Simulator], dict[str, Any]]:
        return (workload.build(),), {}

    def measured(sim: Simulator) -> None:
        results.append(workload.measure(sim))

    benchmark.pedantic(measured, setup=setup, rounds=1, iterations=1)
    assert results and results[0] > 0
    benchmark.extra_info["pods"] = results[0]
    benchmark.extra_info["pods_per_s"] = results[0] / benchmark.stats.stats.mean


def main(names: list[str]) -> None:
    # Wall time and the process's CPU time: on a shared machine the CPU time is what the
    # simulator itself used (pytest-benchmark: --benchmark-timer=time.process_time).
    for name in names or list(WORKLOADS):
        workload = WORKLOADS[name]()
        t0 = time.perf_counter()
        sim = workload.build()
        t1, c1 = time.perf_counter(), time.process_time()
        scheduled = workload.measure(sim)
        t2, c2 = time.perf_counter(), time.process_time()
        print(
            f"{name}: setup {t1 - t0:.1f} s; {scheduled} pods in {t2 - t1:.2f} s wall = "
            f"{scheduled / (t2 - t1):.0f} pods/s; {c2 - c1:.2f} s CPU = "
            f"{scheduled / (c2 - c1):.0f} pods/s ({sim.attempts} attempts)",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
