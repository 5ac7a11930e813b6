"""The resource claim controller (kube-controller-manager's pkg/controller/resourceclaim).

- A pod's ``resourceClaimTemplateName`` gets a ResourceClaim made from the template:
  ``generateName`` ``<pod>-<pod claim>-`` (both parts shortened in proportion when
  longer than 57 characters), the ``resource.kubernetes.io/pod-claim-name``
  annotation, the template's labels and annotations, and the pod as its controlling
  owner. The name goes into ``pod.status.resourceClaimStatuses``.
- When a pod is deleted or finishes, it leaves ``status.reservedFor`` of its claims;
  the claims made for it are deleted, and a claim that nobody reserves any more is
  deallocated (``status.allocation`` cleared), so its devices are free again.
- A PodGroup's ``resourceClaimTemplateName`` (KEP-5729, Kubernetes 1.36) gets one
  ResourceClaim for the whole group: ``generateName`` ``<podgroup>-<claim>-``, the same
  annotation with the PodGroup's claim name, and the PodGroup as its controlling owner.
  A pod claim that matches one of its PodGroup's claims exactly (``name``,
  ``resourceClaimName``, ``resourceClaimTemplateName``) is that claim, reserved for the
  PodGroup (``reservedFor`` names ``scheduling.k8s.io`` ``podgroups``), not for the pod.

The special claim kube-scheduler makes for extended resources backed by DRA (KEP-5004),
``<pod>-extended-resources-<suffix>``, is made by :mod:`dra_core.cluster._extended`,
shared with the extender (its names are re-exported here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dra_core.api import (
    ObjectMeta,
    OwnerReference,
    Pod,
    ResourceClaim,
    ResourceClaimConsumerReference,
    ResourceClaimStatus,
    ResourceClaimTemplate,
)
from dra_core.cluster._extended import (
    EXTENDED_CLAIM_ANNOTATION,
    IMPLICIT_PREFIX,
    extended_resource_claim,
    extended_resource_classes,
)

__all__ = [
    "EXTENDED_CLAIM_ANNOTATION",
    "IMPLICIT_PREFIX",
    "MAX_CONSUMERS",
    "POD_CLAIM_ANNOTATION",
    "claim_for_pod",
    "claim_for_pod_group",
    "extended_resource_claim",
    "extended_resource_classes",
    "generate_name",
    "is_owned_by",
    "pod_consumer",
    "pod_group_consumer",
    "without_consumer",
]

#: The annotation that names the pod claim a generated ResourceClaim was made for.
POD_CLAIM_ANNOTATION = "resource.kubernetes.io/pod-claim-name"
#: resource.k8s.io's ResourceClaimReservedForMaxSize: at most this many consumers.
MAX_CONSUMERS = 256

_MAX_BASE = 57


def generate_name(pod_name: str, claim_name: str) -> str:
    """Return the controller's ``generateName`` for a pod's claim."""
    base = f"{pod_name}-{claim_name}-"
    if len(base) > _MAX_BASE:
        # Shorten both parts in proportion, so the pod claim name is not lost.
        pod_part = pod_name[: len(pod_name) * _MAX_BASE // len(base)]
        claim_part = claim_name[: len(claim_name) * _MAX_BASE // len(base)]
        base = f"{pod_part}-{claim_part}"
    return base


def _owner(pod: Pod) -> OwnerReference:
    return OwnerReference(
        api_version="v1",
        kind="Pod",
        name=pod.metadata.name,
        uid=pod.metadata.uid,
        controller=True,
        block_owner_deletion=True,
    )


def claim_for_pod(
    pod: Pod, pod_claim: str, template: ResourceClaimTemplate, name: str, base: str, uid: str
) -> ResourceClaim:
    """Return the ResourceClaim the controller makes from ``template`` for ``pod``."""
    tmeta = template.spec.metadata
    annotations = dict(tmeta.annotations)
    annotations[POD_CLAIM_ANNOTATION] = pod_claim
    meta = ObjectMeta(
        name=name,
        generate_name=base,
        namespace=pod.metadata.namespace or "default",
        uid=uid,
        labels=dict(tmeta.labels),
        annotations=annotations,
        owner_references=[_owner(pod)],
    )
    return ResourceClaim(
        api_version="resource.k8s.io/v1",
        kind="ResourceClaim",
        metadata=meta,
        spec=template.spec.spec,
    )


def claim_for_pod_group(
    group: Mapping[str, Any],
    group_claim: str,
    template: ResourceClaimTemplate,
    name: str,
    base: str,
    uid: str,
    group_uid: str,
) -> ResourceClaim:
    """Return the ResourceClaim the controller makes from ``template`` for a PodGroup.

    ``group`` is the PodGroup as a dict; ``group_uid`` its uid.
    """
    tmeta = template.spec.metadata
    annotations = dict(tmeta.annotations)
    annotations[POD_CLAIM_ANNOTATION] = group_claim
    gmeta = group.get("metadata") or {}
    owner = OwnerReference(
        api_version=str(group.get("apiVersion") or "scheduling.k8s.io/v1alpha2"),
        kind="PodGroup",
        name=str(gmeta.get("name") or ""),
        uid=group_uid,
        controller=True,
        block_owner_deletion=True,
    )
    meta = ObjectMeta(
        name=name,
        generate_name=base,
        namespace=str(gmeta.get("namespace") or "default"),
        uid=uid,
        labels=dict(tmeta.labels),
        annotations=annotations,
        owner_references=[owner],
    )
    return ResourceClaim(
        api_version="resource.k8s.io/v1",
        kind="ResourceClaim",
        metadata=meta,
        spec=template.spec.spec,
    )


def pod_group_consumer(name: str, uid: str) -> ResourceClaimConsumerReference:
    """Return the ``reservedFor`` entry of a PodGroup (KEP-5729)."""
    return ResourceClaimConsumerReference(
        api_group="scheduling.k8s.io", resource="podgroups", name=name, uid=uid
    )


def pod_consumer(pod: Pod) -> ResourceClaimConsumerReference:
    """Return the ``reservedFor`` entry of a pod."""
    return ResourceClaimConsumerReference(
        resource="pods", name=pod.metadata.name, uid=pod.metadata.uid
    )


def is_owned_by(claim: ResourceClaim, uid: str) -> bool:
    """Whether the claim's controlling owner is the object with this uid."""
    return any(r.controller and r.uid == uid for r in claim.metadata.owner_references)


def without_consumer(claim: ResourceClaim, uid: str) -> ResourceClaim:
    """Return the claim without ``uid`` in ``reservedFor``; deallocated when nobody is left."""
    status = claim.status or ResourceClaimStatus()
    reserved = [r for r in status.reserved_for if r.uid != uid]
    update: dict[str, Any] = {"reserved_for": reserved}
    if not reserved:
        update["allocation"] = None
        update["devices"] = []
    return claim.model_copy(update={"status": status.model_copy(update=update)})
