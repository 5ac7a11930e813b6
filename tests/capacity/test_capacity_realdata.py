"""capacity() against an independent count, on real driver manifests with random allocations.

The manifests (tests/data/realdata) are NVIDIA's GPU and MIG devices (as its docs show
them, partitioned through shared counters), KEP-5963's MIG and vGPU partitions, the
dra-example-driver's eight GPUs with the demo's DeviceTaintRule, and scheduler_perf's
consumable-capacity devices (a pool that several nodes share). Random one-device claims
are reserved on random nodes, and random devices are marked in use by claims allocated
elsewhere (which may overdraw counters, as a second scheduler can). Then, for every node
and class:

- ``free`` is the number of devices that a one-device claim of the class, pinned to the
  device by a selector, gets from ``dra_core.allocate`` on that node;
- ``tainted`` is the number of the others that the same claim gets when it tolerates
  every taint;
- ``allocated`` is the number of devices in use that even that claim cannot get;
- ``total`` is the number of devices of the node's slices that the class selects, and
  ``total = allocated + free + tainted + unavailable``;
- the cluster totals count every device once.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dra_core
from conftest import data_path
from dra_core.cluster import Cluster
from dra_core.cluster._capacity import capacity
from dra_core.errors import InputError, ReservationError
from dra_core.inventory import node_matches
from strategies import capacity_clusters, cluster_taint_rule

PIN = "test.dra-core.io"
NVIDIA_DOCS = (
    "realdata",
    "kubernetes-sigs",
    "dra-driver-nvidia-gpu@pr1077-d0ce316",
    "site",
    "content",
    "docs",
    "reference",
)
KEPS = ("realdata", "kubernetes", "enhancements", "keps", "sig-scheduling")
PERF = ("realdata", "kubernetes", "kubernetes", "test", "integration", "scheduler_perf", "dra")


def _yaml(*parts: str) -> Any:
    return list(yaml.safe_load_all(data_path(*parts).read_text()))


def _node(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


def _class(name: str, expression: str) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": name},
        "spec": {"selectors": [{"cel": {"expression": expression}}]},
    }


def _slice(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": name},
        "spec": spec,
    }


def nvidia_gpu_and_mig() -> list[dict[str, Any]]:
    """Two nodes with an A100 each, published whole and as seven MIG 1g.5gb partitions.

    The devices are NVIDIA's documentation examples; the counters (memory and
    multiprocessors of the GPU, consumed by the whole GPU and by each partition) are how
    the driver's dynamic MIG publishes them. On node-b the counter slice is missing: an
    incomplete pool.
    """
    gpu = _yaml(*NVIDIA_DOCS, "resourceslice-attributes.md.block1-L43-72.yaml")[0][0]
    mig = _yaml(*NVIDIA_DOCS, "resourceslice-attributes.md.block2-L78-120.yaml")[0][0]
    gpu["consumesCounters"] = [
        {
            "counterSet": "gpu-0",
            "counters": {"memory": {"value": "40Gi"}, "multiprocessors": {"value": "98"}},
        }
    ]
    devices = [gpu]
    for i in range(7):
        part = copy.deepcopy(mig)
        part["name"] = f"gpu-0-mig-1g-5gb-{i}"  # the docs' "1g.5gb" is no valid device name
        part["consumesCounters"] = [
            {
                "counterSet": "gpu-0",
                "counters": {"memory": {"value": "4864Mi"}, "multiprocessors": {"value": "14"}},
            }
        ]
        devices.append(part)
    objects: list[dict[str, Any]] = [
        _class(
            "gpu.nvidia.com",
            "device.driver == 'gpu.nvidia.com' && "
            "device.attributes['gpu.nvidia.com'].type == 'gpu'",
        ),
        _class(
            "mig.nvidia.com",
            "device.driver == 'gpu.nvidia.com' && "
            "device.attributes['gpu.nvidia.com'].type == 'mig'",
        ),
    ]
    for node in ("node-a", "node-b"):
        objects.append(_node(node))
        pool = {"name": node, "generation": 1, "resourceSliceCount": 2}
        if node == "node-a":
            objects.append(
                _slice(
                    f"{node}-counters",
                    {
                        "driver": "gpu.nvidia.com",
                        "nodeName": node,
                        "pool": pool,
                        "sharedCounters": [
                            {
                                "name": "gpu-0",
                                "counters": {
                                    "memory": {"value": "40Gi"},
                                    "multiprocessors": {"value": "98"},
                                },
                            }
                        ],
                    },
                )
            )
        objects.append(
            _slice(
                f"{node}-gpus",
                {
                    "driver": "gpu.nvidia.com",
                    "nodeName": node,
                    "pool": pool,
                    "devices": copy.deepcopy(devices),
                },
            )
        )
    return objects


def kep_5963_mig_and_vgpu() -> list[dict[str, Any]]:
    """KEP-5963's GPU with MIG and vGPU partitions on one counter set (the KEP's counter
    slice lacks the nodeName that v1 requires; it is added)."""
    docs = _yaml(*KEPS, "5963-device-compatibility-groups", "README.md.block4-L419-484.yaml")
    docs[0]["spec"]["nodeName"] = "node-1"
    return [
        _node("node-1"),
        _class("mig", "device.attributes['gpu.example.com'].type == 'mig-1g'"),
        _class("vgpu", "device.attributes['gpu.example.com'].type == 'vgpu'"),
        _class("any-gpu", "device.driver == 'gpu.example.com'"),
        *docs,
    ]


def example_driver_gpus() -> list[dict[str, Any]]:
    """The dra-example-driver's README slice (8 GPUs) on two nodes, with the demo's
    NoSchedule DeviceTaintRule narrowed to the second node's pool."""
    listing = _yaml(
        "realdata", "kubernetes-sigs", "dra-example-driver", "README.md.block1-L188-320.yaml"
    )[0]
    original = listing["items"][0]
    rule = _yaml(
        "realdata",
        "kubernetes-sigs",
        "dra-example-driver",
        "demo",
        "examples",
        "device-taints-tolerations",
        "device-taint-pod-noschedule",
        "3-device-taint-rule.yaml",
    )[0]
    rule["spec"]["deviceSelector"]["pool"] = "worker-2"
    objects: list[dict[str, Any]] = [
        _class("gpu.example.com", "device.driver == 'gpu.example.com'"),
        _class(
            "gpu-index-low",
            "device.driver == 'gpu.example.com' && device.attributes['gpu.example.com'].index < 3",
        ),
        rule,
    ]
    for node in ("worker-1", "worker-2"):
        s = copy.deepcopy(original)
        s["metadata"] = {"name": f"{node}-gpus"}
        s["spec"]["nodeName"] = node
        s["spec"]["pool"]["name"] = node
        objects.extend([_node(node), s])
    return objects


def consumable_capacity() -> list[dict[str, Any]]:
    """scheduler_perf's consumable-capacity slice (shareable devices with memory and
    counters), selected by a node label: one pool that two of three nodes share. The
    template's counters and devices are split into two slices, as v1 requires."""
    text = data_path(*PERF, "templates", "resourceslice-consumablecapacity.yaml").read_text()
    doc = yaml.safe_load(text.replace("{{.Index}}", "0"))
    counters = copy.deepcopy(doc)
    del counters["spec"]["devices"]
    counters["metadata"]["name"] += "-counters"
    del doc["spec"]["sharedCounters"]
    for d in (doc, counters):
        d["spec"]["pool"]["resourceSliceCount"] = 2
    klass = _yaml(*PERF, "templates", "deviceclass-consumablecapacity.yaml")[0]
    return [
        _node("n1", **{"node-with-dra": "true"}),
        _node("n2", **{"node-with-dra": "true"}),
        _node("n3"),
        klass,
        _class("any", "true"),
        counters,
        doc,
    ]


DATASETS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "nvidia-gpu-and-mig": nvidia_gpu_and_mig,
    "kep-5963-mig-and-vgpu": kep_5963_mig_and_vgpu,
    "example-driver-gpus": example_driver_gpus,
    "consumable-capacity": consumable_capacity,
}


def _pinned(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Every device gets an attribute naming it, so that a selector can pin a claim to it.
    out = copy.deepcopy(objects)
    for obj in out:
        if obj.get("kind") != "ResourceSlice":
            continue
        spec = obj["spec"]
        for dev in spec.get("devices") or []:
            attrs = dev.setdefault("attributes", {})
            attrs[f"{PIN}/uid"] = {
                "string": f"{spec['driver']}/{spec['pool']['name']}/{dev['name']}"
            }
    return out


def _claim(name: str, class_name: str, *, pin: str | None = None, tolerate: bool = False) -> Any:
    exactly: dict[str, Any] = {
        "deviceClassName": class_name,
        "allocationMode": "ExactCount",
        "count": 1,
    }
    if pin is not None:
        exactly["selectors"] = [
            {"cel": {"expression": f'device.attributes["{PIN}"].uid == "{pin}"'}}
        ]
    if tolerate:
        exactly["tolerations"] = [{"operator": "Exists"}]
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"devices": {"requests": [{"name": "r", "exactly": exactly}]}},
    }


def _in_use_elsewhere(name: str, device: str) -> dict[str, Any]:
    driver, pool, dev = device.split("/")
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": "other"},
        "spec": {"devices": {"requests": [{"name": "r", "exactly": {"deviceClassName": "any"}}]}},
        "status": {
            "allocation": {
                "devices": {
                    "results": [{"request": "r", "driver": driver, "pool": pool, "device": dev}]
                }
            }
        },
    }


def _devices(cluster: Cluster) -> list[tuple[Any, Any]]:
    """(slice, device) for every device of every slice."""
    return [(s, d) for s in cluster.objects("ResourceSlice") for d in s.spec.devices]


def _uid(s: Any, d: Any) -> str:
    return f"{s.spec.driver}/{s.spec.pool.name}/{d.name}"


def _selects(device_class: Any, s: Any, d: Any) -> bool:
    cel_device = dra_core.CelDevice.from_device(s.spec.driver, d)
    return all(
        dra_core.compile_selector(sel.cel.expression).matches(cel_device)
        for sel in device_class.spec.selectors
    )


def _usable_from(s: Any, node: Any) -> bool:
    return node_matches(node, s.spec.node_name or "", bool(s.spec.all_nodes), s.spec.node_selector)


def _in_use(cluster: Cluster) -> set[str]:
    out: set[str] = set()
    for claim in cluster.objects("ResourceClaim"):
        allocation = claim.status.allocation if claim.status else None
        for r in allocation.devices.results if allocation and allocation.devices else []:
            if not r.admin_access:
                out.add(f"{r.driver}/{r.pool}/{r.device}")
    return out


def _fits(cluster: Cluster, node: Any, claim: Any) -> bool:
    slices = dra_core.apply_taint_rules(
        cluster.objects("ResourceSlice"), cluster.objects("DeviceTaintRule")
    )
    try:
        result = dra_core.allocate(
            node=node,
            claims=[claim],
            slices=slices,
            classes=cluster.objects("DeviceClass"),
            allocated_claims=cluster.objects("ResourceClaim"),
        )
    except InputError:
        return False
    return result is not None


@pytest.mark.parametrize("dataset", list(DATASETS))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_capacity_matches_the_allocator(dataset: str, data: st.DataObject) -> None:
    cluster = Cluster(_pinned(DATASETS[dataset]()))
    nodes = cluster.node_names()
    classes = [c.metadata.name for c in cluster.objects("DeviceClass")]
    uids = sorted(_uid(s, d) for s, d in _devices(cluster))
    steps = data.draw(
        st.lists(
            st.tuples(
                st.booleans(),
                st.sampled_from(classes),
                st.sampled_from(nodes),
                st.sampled_from(uids),
                st.booleans(),
            ),
            max_size=10,
        )
    )
    for i, (reserve, class_name, node, uid, tolerate) in enumerate(steps):
        if reserve:
            with contextlib.suppress(ReservationError, InputError):
                cluster.reserve([_claim(f"use-{i}", class_name, tolerate=tolerate)], node)
        else:
            cluster.apply(_in_use_elsewhere(f"elsewhere-{i}", uid))
    assert_capacity_is_exact(cluster, capacity(cluster))


def _current(cluster: Cluster) -> list[tuple[Any, Any]]:
    """(slice, device) of the newest generation of each pool, each device name once."""
    newest: dict[tuple[str, str], int] = {}
    for s in cluster.objects("ResourceSlice"):
        key = (s.spec.driver, s.spec.pool.name)
        newest[key] = max(newest.get(key, 0), s.spec.pool.generation)
    return [
        (s, d)
        for s, d in _devices(cluster)
        if s.spec.pool.generation == newest[(s.spec.driver, s.spec.pool.name)]
    ]


def assert_capacity_is_exact(cluster: Cluster, report: Any) -> None:
    """Every node's and the cluster's rows against the allocator, device by device."""
    nodes = cluster.node_names()
    in_use = _in_use(cluster)
    current = _current(cluster)
    for node_name in nodes:
        node = cluster.get("Node", node_name)
        for device_class in cluster.objects("DeviceClass"):
            key = device_class.metadata.name
            mine = sorted(
                {
                    _uid(s, d)
                    for s, d in current
                    if _usable_from(s, node) and _selects(device_class, s, d)
                }
            )
            free = tainted = allocated = 0
            for uid in mine:
                plain = _fits(cluster, node, _claim("probe", key, pin=uid))
                tolerating = plain or _fits(
                    cluster, node, _claim("probe", key, pin=uid, tolerate=True)
                )
                free += plain
                tainted += tolerating and not plain
                allocated += uid in in_use and not tolerating
            row = report.row(node_name, key)
            got = (row.total, row.free, row.tainted, row.allocated) if row else (0, 0, 0, 0)
            assert got == (len(mine), free, tainted, allocated), (node_name, key, row)
            if row is not None:
                assert row.total == row.allocated + row.free + row.tainted + row.unavailable
    # Totals: each device once, however many nodes can use it.
    for device_class in cluster.objects("DeviceClass"):
        key = device_class.metadata.name
        selected = {
            _uid(s, d)
            for s, d in current
            if _selects(device_class, s, d)
            and any(_usable_from(s, cluster.get("Node", n)) for n in nodes)
        }
        total = report.row("", key)
        assert (total.total if total else 0) == len(selected), key
        if total is not None:
            rows = [r for r in report.rows if r.key == key]
            assert total.free == len(
                {
                    u
                    for u in selected
                    if any(
                        _fits(cluster, cluster.get("Node", r.node), _claim("p", key, pin=u))
                        for r in rows
                    )
                }
            )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    objects=capacity_clusters(),
    rule=st.none() | st.sampled_from([None, "node-0-gpus", "node-1-gpus", "cluster"]),
    data=st.data(),
)
def test_capacity_is_exact_on_random_clusters(
    objects: list[dict[str, Any]], rule: str | None, data: st.DataObject
) -> None:
    # Generated clusters: nodes that look alike, pools shared by racks or by every node,
    # incomplete and invalid pools, older generations, counters, shareable devices,
    # taints (on devices and from a DeviceTaintRule).
    if rule is not None or data.draw(st.booleans()):
        objects = [*objects, cluster_taint_rule("rule", rule)]
    cluster = Cluster(_pinned(objects))
    nodes = cluster.node_names()
    uids = sorted(_uid(s, d) for s, d in _devices(cluster))
    steps = data.draw(
        st.lists(
            st.tuples(st.booleans(), st.sampled_from(nodes), st.sampled_from(uids), st.booleans()),
            max_size=6,
        )
    )
    for i, (reserve, node, uid, tolerate) in enumerate(steps):
        if reserve:
            with contextlib.suppress(ReservationError, InputError):
                cluster.reserve([_claim(f"use-{i}", "gpu", tolerate=tolerate)], node)
        else:
            cluster.apply(_in_use_elsewhere(f"elsewhere-{i}", uid))
    assert_capacity_is_exact(cluster, capacity(cluster))


def test_a_mig_partition_can_be_unallocated_and_still_not_free() -> None:
    cluster = Cluster(nvidia_gpu_and_mig())
    before = capacity(cluster)
    assert before.row("node-a", "mig.nvidia.com").free == 7
    assert before.row("node-a", "gpu.nvidia.com").free == 1
    # node-b's pool is incomplete (its counter slice is missing): nothing is free there.
    row_b = before.row("node-b", "mig.nvidia.com")
    assert (row_b.total, row_b.free, row_b.unavailable) == (7, 0, 7)
    cluster.reserve([_claim("one-mig", "mig.nvidia.com")], "node-a")
    after = capacity(cluster)
    gpu = after.row("node-a", "gpu.nvidia.com")
    # The whole GPU is not allocated, but its counters are partly used by the partition.
    assert (gpu.total, gpu.allocated, gpu.free, gpu.unavailable) == (1, 0, 0, 1)
    mig = after.row("node-a", "mig.nvidia.com")
    assert (mig.allocated, mig.free) == (1, 6)


def test_a_shared_pool_is_counted_once_and_usable_from_each_node() -> None:
    cluster = Cluster(consumable_capacity())
    report = capacity(cluster)
    n1, n2 = report.row("n1", "test-class"), report.row("n2", "test-class")
    assert n1 is not None and n2 is not None and report.row("n3", "test-class") is None
    total = report.row("", "test-class")
    assert total is not None
    assert n1.total == n2.total == total.total
    assert n1.capacity["memory"].total == total.capacity["memory"].total


def test_consumable_capacity_reports_what_is_left() -> None:
    cluster = Cluster(consumable_capacity())
    claim = _claim("share", "test-class")
    claim["spec"]["devices"]["requests"][0]["exactly"]["capacity"] = {
        "requests": {"memory": "10Gi"}
    }
    cluster.reserve([claim], "n1")
    row = capacity(cluster).row("n2", "test-class")
    assert row is not None
    memory = row.capacity["memory"]
    assert str(memory.consumed) == "10Gi"
    assert memory.left == memory.total.sub(memory.consumed)
    # The shared device still takes a default share (1Gi): it is free, not allocated.
    assert row.allocated == 0 and row.free == row.total
