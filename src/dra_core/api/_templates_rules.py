"""resource.k8s.io kinds that allocation does not read: ResourceClaimTemplate, DeviceTaintRule.

A module of its own so that ``import dra_core`` does not define them: ``dra_core.api``
imports it on first use of one of its names (loading manifests, the Cluster, the simulator).
"""

# No ``from __future__ import annotations`` in the model modules: pydantic would have to
# compile and evaluate every annotation string of every class (and of K8sModel again for
# each subclass) at import; real annotations cost nothing extra (about 8 ms of import).

from typing import ClassVar

from pydantic import Field

from dra_core.api._base import K8sModel, RawJSON, Str, new_list
from dra_core.api._core import ObjectMeta
from dra_core.api._resource import GROUP, DeviceTaint, ResourceClaimSpec

__all__ = [
    "DeviceTaintRule",
    "DeviceTaintRuleSpec",
    "DeviceTaintRuleStatus",
    "DeviceTaintSelector",
    "ResourceClaimTemplate",
    "ResourceClaimTemplateSpec",
]

# --------------------------------------------------------------------------- ResourceClaimTemplate


class ResourceClaimTemplateSpec(K8sModel):
    """The metadata and spec of the claims made from a template."""

    metadata: ObjectMeta = Field(default_factory=ObjectMeta.model_construct)
    spec: ResourceClaimSpec = Field(default_factory=ResourceClaimSpec.model_construct)


class ResourceClaimTemplate(K8sModel):
    """resource.k8s.io/v1 ResourceClaimTemplate."""

    KIND: ClassVar[str | None] = "ResourceClaimTemplate"
    API_GROUP: ClassVar[str] = GROUP
    api_version: Str = ""
    kind: Str = ""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta.model_construct)
    spec: ResourceClaimTemplateSpec = Field(
        default_factory=ResourceClaimTemplateSpec.model_construct
    )


# --------------------------------------------------------------------------- DeviceTaintRule


class DeviceTaintSelector(K8sModel):
    """Which devices a DeviceTaintRule taints (unset fields match everything)."""

    driver: Str | None = None
    pool: Str | None = None
    device: Str | None = None


class DeviceTaintRuleSpec(K8sModel):
    """The devices to taint and the taint."""

    device_selector: DeviceTaintSelector | None = None
    taint: DeviceTaint = Field(default_factory=DeviceTaint.model_construct)


class DeviceTaintRuleStatus(K8sModel):
    """The status of a DeviceTaintRule."""

    conditions: list[RawJSON] = Field(default_factory=new_list)


class DeviceTaintRule(K8sModel):
    """resource.k8s.io DeviceTaintRule (v1alpha3/v1beta2; stored here in the v1 shape)."""

    KIND: ClassVar[str | None] = "DeviceTaintRule"
    API_GROUP: ClassVar[str] = GROUP
    api_version: Str = ""
    kind: Str = ""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta.model_construct)
    spec: DeviceTaintRuleSpec = Field(default_factory=DeviceTaintRuleSpec.model_construct)
    status: DeviceTaintRuleStatus | None = None
