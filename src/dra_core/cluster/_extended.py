"""Extended resources backed by DRA (KEP-5004): the special claim kube-scheduler makes.

A container that requests a DeviceClass's ``spec.extendedResourceName``, or the implicit
name every class has, ``deviceclass.resource.kubernetes.io/<class>``, asks for that many
devices of the class. kube-scheduler's DynamicResources plugin turns such requests into
one ResourceClaim per pod (pkg/scheduler/framework/plugins/dynamicresources/
extendedresources.go):

- one ExactCount request per container and resource, named ``container-<i>-request-<j>``:
  ``i`` is the container's index in ``initContainers`` followed by ``containers``, ``j``
  the resource's index in that container's requests sorted by name (every request, cpu
  and memory included); the requests sorted by name;
- only resources that the node does not offer through a device plugin (its
  ``status.allocatable``): there NodeResourcesFit counts them, so each node may get its
  own variant of the claim;
- made at PreBind with ``generateName: <pod>-extended-resources-``, the annotation
  ``resource.kubernetes.io/extended-resource-claim: "true"`` and the pod as controlling
  owner; the pod's ``status.extendedResourceClaimStatus`` then names it and maps each
  request to its container and resource.

The simulator (:mod:`dra_core.sim`) and the extender (:mod:`dra_core.extender`) both use
this module.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from dra_core.api import (
    DeviceClass,
    ObjectMeta,
    OwnerReference,
    Pod,
    ResourceClaim,
    ResourceClaimSpec,
)

__all__ = [
    "EXTENDED_CLAIM_ANNOTATION",
    "IMPLICIT_PREFIX",
    "extended_resource_claim",
    "extended_resource_classes",
    "extended_resource_requests",
    "is_extended_resource_claim",
    "request_mappings",
    "wanted_extended_resources",
]

#: The annotation on the claim kube-scheduler makes for DRA-backed extended resources.
EXTENDED_CLAIM_ANNOTATION = "resource.kubernetes.io/extended-resource-claim"
#: The implicit extended resource name of every DeviceClass.
IMPLICIT_PREFIX = "deviceclass.resource.kubernetes.io/"


def extended_resource_classes(classes: Sequence[DeviceClass]) -> dict[str, str]:
    """Map extended resource names to DeviceClass names: explicit names, then implicit ones.

    When several classes name the same resource, the first by name wins (kube-scheduler
    takes the newest; neither the simulator nor the extender orders by creation time).
    """
    out: dict[str, str] = {}
    for device_class in sorted(classes, key=lambda c: c.metadata.name):
        name = device_class.spec.extended_resource_name if device_class.spec else None
        if name and name not in out:
            out[name] = device_class.metadata.name
    for device_class in classes:
        out.setdefault(IMPLICIT_PREFIX + device_class.metadata.name, device_class.metadata.name)
    return out


def _containers(pod: Pod) -> list[Any]:
    return [*pod.spec.init_containers, *pod.spec.containers]


def _requests(container: Any) -> dict[str, Any]:
    # The API server defaults a missing request of an extended resource to its limit;
    # manifests read from files are not defaulted, so the limit stands in here.
    resources = container.resources
    if resources is None:
        return {}
    amounts = dict(resources.limits)
    amounts.update(resources.requests)
    return amounts


def wanted_extended_resources(pod: Pod, backed: Mapping[str, str]) -> list[str]:
    """Return the DRA-backed extended resources the pod's containers ask for, sorted."""
    out: set[str] = set()
    for container in _containers(pod):
        for resource, amount in _requests(container).items():
            if resource in backed and amount.int_value() > 0:
                out.add(resource)
    return sorted(out)


def extended_resource_requests(
    pod: Pod, backed: Mapping[str, str], *, provided: Collection[str] = ()
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Return the special claim's requests (API shape) and the amount per resource.

    ``backed`` maps extended resource names to classes
    (:func:`extended_resource_classes`); resources in ``provided`` (the node's device
    plugins) are left out.
    """
    requests: list[dict[str, Any]] = []
    totals: dict[str, int] = {}
    for i, container in enumerate(_containers(pod)):
        amounts = _requests(container)
        for j, resource in enumerate(sorted(amounts)):
            class_name = backed.get(resource)
            count = amounts[resource].int_value()
            if class_name is None or count <= 0 or resource in provided:
                continue
            totals[resource] = totals.get(resource, 0) + count
            requests.append(
                {
                    "name": f"container-{i}-request-{j}",
                    "exactly": {
                        "deviceClassName": class_name,
                        "allocationMode": "ExactCount",
                        "count": count,
                    },
                }
            )
    requests.sort(key=lambda r: str(r["name"]))  # as kube-scheduler: by name, as text
    return requests, totals


def extended_resource_claim(
    pod: Pod,
    backed: Mapping[str, str],
    name: str,
    base: str,
    uid: str,
    *,
    provided: Collection[str] = (),
) -> tuple[ResourceClaim, dict[str, int]] | None:
    """Return the special claim for the pod's DRA-backed extended resources, or None.

    ``name`` is the claim's name (``base`` + a suffix, as the API server would make it
    from ``generateName``), ``uid`` its uid; ``provided`` as in
    :func:`extended_resource_requests`. Also returns the amount per resource.
    """
    requests, totals = extended_resource_requests(pod, backed, provided=provided)
    if not requests:
        return None
    meta = ObjectMeta(
        name=name,
        generate_name=base,
        namespace=pod.metadata.namespace or "default",
        uid=uid,
        annotations={EXTENDED_CLAIM_ANNOTATION: "true"},
        owner_references=[
            OwnerReference(
                api_version="v1",
                kind="Pod",
                name=pod.metadata.name,
                uid=pod.metadata.uid,
                controller=True,
                block_owner_deletion=True,
            )
        ],
    )
    spec = ResourceClaimSpec.model_validate({"devices": {"requests": requests}})
    claim = ResourceClaim(
        api_version="resource.k8s.io/v1", kind="ResourceClaim", metadata=meta, spec=spec
    )
    return claim, totals


def is_extended_resource_claim(claim: ResourceClaim) -> bool:
    """Whether the claim is one kube-scheduler made for extended resources."""
    return claim.metadata.annotations.get(EXTENDED_CLAIM_ANNOTATION) == "true"


def request_mappings(claim: ResourceClaim, pod: Pod) -> list[dict[str, str]]:
    """Return ``status.extendedResourceClaimStatus.requestMappings`` for the pod.

    For each request of the claim, the container and the resource it stands for
    (``containerName``, ``resourceName``, ``requestName``), in container order.
    """
    names = {r.name for r in (claim.spec.devices.requests if claim.spec.devices else [])}
    out: list[dict[str, str]] = []
    for i, container in enumerate(_containers(pod)):
        for j, resource in enumerate(sorted(_requests(container))):
            request = f"container-{i}-request-{j}"
            if request in names:
                out.append(
                    {
                        "containerName": container.name,
                        "resourceName": resource,
                        "requestName": request,
                    }
                )
    return out
