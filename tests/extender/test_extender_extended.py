"""Extended resources backed by DRA (KEP-5004) through the extender, over HTTP.

dra-example-driver's demo: pod0 asks for ``deviceclass.resource.kubernetes.io/gpu.example.com``
(every class's implicit name), pod1 for ``example.com/gpu`` (the class's
``extendedResourceName``, set when the chart is installed with
``--set deviceClass.extendedResourceName=example.com/gpu``). kube-scheduler's
DynamicResources plugin gives such a pod one more claim, made at PreBind; the extender
filters, scores and binds with it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from extender_fixtures import (
    DEMO_NS,
    EXAMPLE_NODE,
    GPU_NODE,
    demo_pod,
    example_class,
    example_slices,
    node,
    nvidia_class,
    nvidia_gpu_slice,
    serve_fixture,  # noqa: F401  (the `serve` fixture)
)

from dra_core.cluster import Cluster
from dra_core.extender import Extender, create_app

NS = DEMO_NS
PLUGIN_NODE = "device-plugin-node"
NODES = [EXAMPLE_NODE, GPU_NODE]


def plugin_node() -> dict[str, Any]:
    """A node whose device plugin offers example.com/gpu (no ResourceSlice)."""
    out = node(PLUGIN_NODE)
    out["status"] = {"allocatable": {"example.com/gpu": "2", "cpu": "8"}}
    return out


def cluster(extended_resource_name: str | None = "example.com/gpu") -> Cluster:
    return Cluster(
        [
            node(EXAMPLE_NODE),
            node(GPU_NODE),
            plugin_node(),
            nvidia_class(),
            nvidia_gpu_slice(),
            example_class(extended_resource_name),
            *example_slices(),
        ]
    )


def _post(client: httpx.Client, verb: str, body: object) -> Any:
    got = client.post(f"/{verb}", content=json.dumps(body))
    assert got.status_code == 200, got.text
    return got.json()


def _extended_claims(state: Cluster) -> list[Any]:
    return [
        c
        for c in state.objects("ResourceClaim")
        if c.metadata.annotations.get("resource.kubernetes.io/extended-resource-claim") == "true"
    ]


@pytest.mark.parametrize("pod_name", ["pod0", "pod1"])
def test_filter_prioritize_and_bind_a_pod_with_an_extended_resource(serve, pod_name: str) -> None:
    state = cluster()
    server = serve(create_app(Extender(state)))
    pod = demo_pod(pod_name)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        got = _post(client, "filter", {"Pod": pod, "NodeNames": NODES})
        assert got == {
            "Nodes": None,
            "NodeNames": [EXAMPLE_NODE],
            "FailedNodes": {GPU_NODE: "cannot allocate all claims"},
            "FailedAndUnresolvableNodes": {},
            "Error": "",
        }
        scores = _post(client, "prioritize", {"Pod": pod, "NodeNames": NODES})
        assert scores == [{"Host": EXAMPLE_NODE, "Score": 10}, {"Host": GPU_NODE, "Score": 0}]
        bind = {"PodName": pod_name, "PodNamespace": NS, "PodUID": f"uid-{pod_name}"}
        assert _post(client, "bind", {**bind, "Node": EXAMPLE_NODE}) == {"Error": ""}
    (claim,) = _extended_claims(state)
    # as kube-scheduler makes it: generateName, the annotation, the pod as owner
    assert claim.metadata.namespace == NS
    assert claim.metadata.generate_name == f"{pod_name}-extended-resources-"
    assert claim.metadata.name.startswith(f"{pod_name}-extended-resources-")
    assert len(claim.metadata.name) == len(f"{pod_name}-extended-resources-") + 5
    (owner,) = claim.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Pod",
        pod_name,
        f"uid-{pod_name}",
        True,
    )
    (request,) = claim.spec.devices.requests
    assert request.name == "container-0-request-0"
    assert (request.exactly.device_class_name, request.exactly.count) == ("gpu.example.com", 1)
    (result,) = claim.status.allocation.devices.results
    assert (result.driver, result.pool, result.request) == (
        "gpu.example.com",
        EXAMPLE_NODE,
        "container-0-request-0",
    )
    assert [r.uid for r in claim.status.reserved_for] == [f"uid-{pod_name}"]


def test_each_pod_gets_its_own_devices_until_none_are_left(serve) -> None:
    state = cluster()
    server = serve(create_app(Extender(state)))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for i in range(9):
            pod = demo_pod("pod0" if i % 2 else "pod1")
            pod["metadata"].update(name=f"p{i}", uid=f"uid-p{i}")
            got = _post(client, "filter", {"Pod": pod, "NodeNames": [EXAMPLE_NODE]})
            if i < 8:  # eight GPUs on the example node
                assert got["NodeNames"] == [EXAMPLE_NODE]
                bind = {"PodName": f"p{i}", "PodNamespace": NS, "Node": EXAMPLE_NODE}
                assert _post(client, "bind", bind) == {"Error": ""}
            else:
                assert got["FailedNodes"] == {EXAMPLE_NODE: "cannot allocate all claims"}
    devices = {c.status.allocation.devices.results[0].device for c in _extended_claims(state)}
    assert len(devices) == 8


def test_a_node_whose_device_plugin_offers_the_resource_needs_no_claim(serve) -> None:
    # On PLUGIN_NODE, NodeResourcesFit counts example.com/gpu (its allocatable); the
    # DRA-backed claim is only for nodes without it, as kube-scheduler's Filter does.
    state = cluster()
    server = serve(create_app(Extender(state)))
    pod = demo_pod("pod1")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        got = _post(client, "filter", {"Pod": pod, "NodeNames": [GPU_NODE, PLUGIN_NODE]})
        assert got["NodeNames"] == [PLUGIN_NODE]
        assert got["FailedNodes"] == {GPU_NODE: "cannot allocate all claims"}
        bind = {"PodName": "pod1", "PodNamespace": NS, "Node": PLUGIN_NODE}
        assert _post(client, "bind", bind) == {"Error": ""}
    assert _extended_claims(state) == []


def test_a_resource_no_class_names_is_not_the_extender_s(serve) -> None:
    # Without extendedResourceName (the chart's default), example.com/gpu is a plain
    # extended resource: NodeResourcesFit's to check, nothing for DRA to allocate.
    state = cluster(extended_resource_name=None)
    server = serve(create_app(Extender(state)))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        got = _post(client, "filter", {"Pod": demo_pod("pod1"), "NodeNames": NODES})
        assert got["NodeNames"] == NODES
        assert got["FailedNodes"] == {}
        implicit = _post(client, "filter", {"Pod": demo_pod("pod0"), "NodeNames": NODES})
        assert implicit["NodeNames"] == [EXAMPLE_NODE]


def attachable_cluster() -> Cluster:
    """The example node's GPUs with binding conditions (KEP-5007), and a node without."""
    slices = example_slices()
    for device in slices[0]["spec"]["devices"]:
        device["bindingConditions"] = ["example.com/attached"]
        device["bindingFailureConditions"] = ["example.com/attach-failed"]
    return Cluster([node(EXAMPLE_NODE), node(GPU_NODE), example_class(None), *slices])


def report(state: Cluster, claim: Any, condition: str) -> None:
    """What the controller that attaches devices does: a condition true on the device."""
    (result,) = claim.status.allocation.devices.results
    device = {
        "driver": result.driver,
        "pool": result.pool,
        "device": result.device,
        "conditions": [
            {
                "type": condition,
                "status": "True",
                "reason": "Reported",
                "message": f"{condition} by the test",
                "lastTransitionTime": "2026-12-06T05:00:00Z",
            }
        ],
    }
    data = claim.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["status"]["devices"] = [device]
    state.apply(data)


def test_binding_conditions_are_waited_for_over_kube_scheduler_s_retries(serve) -> None:
    # KEP-5007: kube-scheduler's PreBind waits until a controller reports the devices
    # ready. An extender's bind cannot wait that long: the first bind allocates and
    # answers Error (waiting), keeping the devices; retries bind once they are ready.
    state = attachable_cluster()
    server = serve(create_app(Extender(state)))
    pod = demo_pod("pod0")
    bind = {"PodName": "pod0", "PodNamespace": NS, "PodUID": "uid-pod0", "Node": EXAMPLE_NODE}
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert _post(client, "filter", {"Pod": pod, "NodeNames": NODES})["NodeNames"] == [
            EXAMPLE_NODE
        ]
        error = _post(client, "bind", bind)["Error"]
        assert error.startswith("claim extended-resource-request/pod0-extended-resources-")
        assert error.endswith(
            "binding conditions not true yet: example.com/attached: waiting for binding "
            "conditions (KEP-5007); kube-scheduler retries the pod"
        )
        (claim,) = _extended_claims(state)
        assert [r.uid for r in claim.status.reserved_for] == ["uid-pod0"]
        # the retry: the claim is allocated on the example node, so only there
        got = _post(client, "filter", {"Pod": pod, "NodeNames": NODES})
        assert got["NodeNames"] == [EXAMPLE_NODE]
        assert got["FailedAndUnresolvableNodes"] == {
            GPU_NODE: "resourceclaim not available on the node"
        }
        version = state.version
        assert "waiting for binding conditions" in _post(client, "bind", bind)["Error"]
        assert state.version == version  # waiting changes nothing
        report(state, claim, "example.com/attached")
        assert _post(client, "bind", bind) == {"Error": ""}
    (bound,) = _extended_claims(state)
    assert bound.metadata.name == claim.metadata.name
    assert bound.status.allocation.devices.results == claim.status.allocation.devices.results


def test_a_failed_binding_gives_the_devices_back(serve) -> None:
    state = attachable_cluster()
    server = serve(create_app(Extender(state)))
    pod = demo_pod("pod0")
    bind = {"PodName": "pod0", "PodNamespace": NS, "Node": EXAMPLE_NODE}
    with httpx.Client(base_url=server.url, timeout=60) as client:
        _post(client, "filter", {"Pod": pod, "NodeNames": [EXAMPLE_NODE]})
        assert "waiting for binding conditions" in _post(client, "bind", bind)["Error"]
        (claim,) = _extended_claims(state)
        report(state, claim, "example.com/attach-failed")
        error = _post(client, "bind", bind)["Error"]
        assert error == (
            f"claim {claim.metadata.name} binding failed: reason=Reported, "
            'message="example.com/attach-failed by the test"'
        )
        assert _extended_claims(state) == []  # kube-scheduler's claim is deleted
        # the next attempt allocates anew
        _post(client, "filter", {"Pod": pod, "NodeNames": [EXAMPLE_NODE]})
        assert "waiting for binding conditions" in _post(client, "bind", bind)["Error"]
        assert len(_extended_claims(state)) == 1


def test_conditions_not_true_within_the_binding_timeout_give_the_devices_back(serve) -> None:
    state = attachable_cluster()
    server = serve(create_app(Extender(state, binding_timeout=-1.0)))  # always past
    pod = demo_pod("pod0")
    bind = {"PodName": "pod0", "PodNamespace": NS, "Node": EXAMPLE_NODE}
    with httpx.Client(base_url=server.url, timeout=60) as client:
        _post(client, "filter", {"Pod": pod, "NodeNames": [EXAMPLE_NODE]})
        error = _post(client, "bind", bind)["Error"]
    assert error.startswith("claim pod0-extended-resources-")
    assert error.endswith(" binding timeout")
    assert _extended_claims(state) == []
