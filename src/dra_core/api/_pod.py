"""core/v1 Pod and its parts: what the simulator, the extender and the Cluster read of pods.

A module of its own so that ``import dra_core`` (which allocation needs, and allocation
reads no pods) does not define them: ``dra_core.api`` imports it on first use of one of its
names.
"""

# No ``from __future__ import annotations`` in the model modules: pydantic would have to
# compile and evaluate every annotation string of every class (and of K8sModel again for
# each subclass) at import; real annotations cost nothing extra (about 8 ms of import).

from typing import ClassVar

from pydantic import Field

from dra_core.api._base import Int, K8sModel, RawJSON, Str, new_dict, new_list
from dra_core.api._core import ObjectMeta, _PartialModel
from dra_core.api.quantity import Quantity

__all__ = [
    "Container",
    "ContainerResourceClaim",
    "Pod",
    "PodResourceClaim",
    "PodResourceClaimStatus",
    "PodSpec",
    "PodStatus",
    "ResourceRequirements",
    "Toleration",
]


class Toleration(K8sModel):
    """core/v1 Toleration (of a pod)."""

    key: Str = ""
    operator: Str = ""
    value: Str = ""
    effect: Str = ""
    toleration_seconds: Int | None = None


class ContainerResourceClaim(K8sModel):
    """core/v1 ResourceClaim: a container's use of a pod claim (``resources.claims``)."""

    name: Str = ""
    request: Str = ""


class ResourceRequirements(K8sModel):
    """core/v1 ResourceRequirements."""

    limits: dict[str, Quantity] = Field(default_factory=new_dict)
    requests: dict[str, Quantity] = Field(default_factory=new_dict)
    claims: list[ContainerResourceClaim] = Field(default_factory=new_list)


class Container(_PartialModel):
    """core/v1 Container (the fields resource scheduling reads)."""

    name: Str = ""
    image: Str = ""
    resources: ResourceRequirements | None = None


class PodResourceClaim(K8sModel):
    """core/v1 PodResourceClaim: a claim by name, or a template to make one from."""

    name: Str = ""
    resource_claim_name: Str | None = None
    resource_claim_template_name: Str | None = None


class PodSpec(_PartialModel):
    """core/v1 PodSpec (the scheduling fields)."""

    node_name: Str = ""
    node_selector: dict[str, Str] = Field(default_factory=new_dict)
    scheduler_name: Str = ""
    priority: Int | None = None
    priority_class_name: Str = ""
    affinity: RawJSON = None
    tolerations: list[Toleration] = Field(default_factory=new_list)
    resource_claims: list[PodResourceClaim] = Field(default_factory=new_list)
    containers: list[Container] = Field(default_factory=new_list)
    init_containers: list[Container] = Field(default_factory=new_list)
    resources: ResourceRequirements | None = None
    overhead: dict[str, Quantity] = Field(default_factory=new_dict)


class PodResourceClaimStatus(K8sModel):
    """core/v1 PodResourceClaimStatus: which ResourceClaim was made for a pod's claim."""

    name: Str = ""
    resource_claim_name: Str | None = None


class PodStatus(_PartialModel):
    """core/v1 PodStatus (phase and the generated claim names)."""

    phase: Str = ""
    nominated_node_name: Str = ""
    resource_claim_statuses: list[PodResourceClaimStatus] = Field(default_factory=new_list)


class Pod(_PartialModel):
    """core/v1 Pod with the fields scheduling reads; other fields are ignored."""

    KIND: ClassVar[str | None] = "Pod"
    api_version: Str = ""
    kind: Str = ""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta.model_construct)
    spec: PodSpec = Field(default_factory=PodSpec.model_construct)
    status: PodStatus | None = None
