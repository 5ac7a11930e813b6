"""The claim kube-scheduler makes for extended resources backed by DRA (KEP-5004).

One implementation (dra_core.cluster._extended) for the extender, the simulator and the
capacity accountant; the names follow kube-scheduler's createDeviceRequests:
``container-<i>-request-<j>``, ``i`` over initContainers then containers, ``j`` the
resource's place among the container's requests sorted by name, requests sorted by name
as text.
"""

from __future__ import annotations

import copy
from typing import Any

from dra_core.api import DeviceClass, Pod
from dra_core.cluster._capacity import demand
from dra_core.cluster._extended import (
    EXTENDED_CLAIM_ANNOTATION,
    extended_resource_claim,
    extended_resource_classes,
    extended_resource_requests,
    request_mappings,
    wanted_extended_resources,
)
from dra_core.sim import _controller

IMPLICIT = "deviceclass.resource.kubernetes.io/gpu.example.com"


def gpu_class(extended: str | None = "example.com/gpu") -> dict[str, Any]:
    spec: dict[str, Any] = {"selectors": []}
    if extended:
        spec["extendedResourceName"] = extended
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": "gpu.example.com"},
        "spec": spec,
    }


def container(name: str, requests: dict[str, str] | None = None, **limits: str) -> dict:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = {k.replace("__", "/"): v for k, v in limits.items()}
    return {"name": name, "resources": resources}


def pod(containers: list[dict], init: list[dict] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "uid": "uid-p"},
        "spec": {"containers": containers, "initContainers": init or []},
    }


MIXED = pod(
    init=[container("setup", {IMPLICIT: "1"})],
    containers=[
        container("main", {"cpu": "1", "example.com/gpu": "2", "memory": "1Gi"}),
        container("side", **{"example.com__gpu": "1"}),  # a limit only: the request
        container("plain", {"cpu": "1", "example.com/other": "1"}),  # no class names it
    ],
)


def names(requests: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in requests]


def test_names_counts_and_classes_as_kube_scheduler_makes_them() -> None:
    backed = extended_resource_classes([DeviceClass.model_validate(gpu_class())])
    assert backed == {"example.com/gpu": "gpu.example.com", IMPLICIT: "gpu.example.com"}
    model = Pod.model_validate(copy.deepcopy(MIXED))
    assert wanted_extended_resources(model, backed) == [IMPLICIT, "example.com/gpu"]
    requests, totals = extended_resource_requests(model, backed)
    assert [(r["name"], r["exactly"]["count"]) for r in requests] == [
        ("container-0-request-0", 1),  # the init container
        ("container-1-request-1", 2),  # after cpu, before memory
        ("container-2-request-0", 1),
    ]
    assert {r["exactly"]["deviceClassName"] for r in requests} == {"gpu.example.com"}
    assert totals == {IMPLICIT: 1, "example.com/gpu": 3}
    # a node whose device plugin offers example.com/gpu: only the implicit name is left
    left, _ = extended_resource_requests(model, backed, provided={"example.com/gpu"})
    assert names(left) == ["container-0-request-0"]


def test_requests_are_sorted_by_name_as_text() -> None:
    many = pod([container(f"c{i}", {"example.com/gpu": "1"}) for i in range(11)])
    backed = {"example.com/gpu": "gpu.example.com"}
    requests, _ = extended_resource_requests(Pod.model_validate(many), backed)
    assert names(requests)[:4] == [
        "container-0-request-0",
        "container-1-request-0",
        "container-10-request-0",
        "container-2-request-0",
    ]


def test_the_claim_and_the_pod_s_request_mappings() -> None:
    model = Pod.model_validate(copy.deepcopy(MIXED))
    backed = extended_resource_classes([DeviceClass.model_validate(gpu_class())])
    made = extended_resource_claim(
        model, backed, "p-extended-resources-abcde", "p-extended-resources-", "u1"
    )
    assert made is not None
    claim, totals = made
    assert claim.metadata.annotations == {EXTENDED_CLAIM_ANNOTATION: "true"}
    assert (claim.metadata.name, claim.metadata.namespace, claim.metadata.uid) == (
        "p-extended-resources-abcde",
        "ns",
        "u1",
    )
    assert claim.metadata.owner_references[0].uid == "uid-p"
    assert totals == {IMPLICIT: 1, "example.com/gpu": 3}
    mappings = [
        (m["containerName"], m["resourceName"], m["requestName"])
        for m in request_mappings(claim, model)
    ]
    assert mappings == [
        ("setup", IMPLICIT, "container-0-request-0"),
        ("main", "example.com/gpu", "container-1-request-1"),
        ("side", "example.com/gpu", "container-2-request-0"),
    ]
    plain = Pod.model_validate(pod([container("c", {"cpu": "1"})]))
    assert extended_resource_claim(plain, backed, "x", "x-", "u") is None


def test_the_simulator_and_the_capacity_accountant_make_the_same_requests() -> None:
    model = Pod.model_validate(copy.deepcopy(MIXED))
    classes = [DeviceClass.model_validate(gpu_class())]
    backed = _controller.extended_resource_classes(classes)
    made = _controller.extended_resource_claim(model, backed, "n", "b", "u")
    assert made is not None
    expected = ["container-0-request-0", "container-1-request-1", "container-2-request-0"]
    assert [r.name for r in made[0].spec.devices.requests] == expected
    d = demand(copy.deepcopy(MIXED), classes=[gpu_class()])
    assert [r.name for r in d.claims[-1].requests] == expected
    assert list(d.other_resources) == ["example.com/other"]
