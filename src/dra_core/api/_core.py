"""The core/v1 parts that scheduling with DRA reads: metadata, Node, NodeSelector.

Pod and its parts are in :mod:`dra_core.api._pod`.
"""

# No ``from __future__ import annotations`` in the model modules: pydantic would have to
# compile and evaluate every annotation string of every class (and of K8sModel again for
# each subclass) at import; real annotations cost nothing extra (about 8 ms of import).

from typing import Any, ClassVar

from pydantic import ConfigDict, Field, model_validator

from dra_core.api._base import (
    Bool,
    Int,
    K8sModel,
    RawJSON,
    Str,
    inspected,
    new_dict,
    new_list,
    plain_json,
)
from dra_core.api.quantity import Quantity

__all__ = [
    "Node",
    "NodeSelector",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "NodeSpec",
    "NodeStatus",
    "ObjectMeta",
    "OwnerReference",
    "Taint",
]


class OwnerReference(K8sModel):
    """metav1.OwnerReference."""

    api_version: Str = ""
    kind: Str = ""
    name: Str = ""
    uid: Str = ""
    controller: Bool | None = None
    block_owner_deletion: Bool | None = None


class ObjectMeta(K8sModel):
    """metav1.ObjectMeta (timestamps are kept as the RFC 3339 text)."""

    name: Str = ""
    generate_name: Str = ""
    namespace: Str = ""
    uid: Str = ""
    resource_version: Str = ""
    generation: Int = 0
    creation_timestamp: Str | None = None
    deletion_timestamp: Str | None = None
    deletion_grace_period_seconds: Int | None = None
    labels: dict[str, Str] = Field(default_factory=new_dict)
    annotations: dict[str, Str] = Field(default_factory=new_dict)
    owner_references: list[OwnerReference] = Field(default_factory=new_list)
    finalizers: list[Str] = Field(default_factory=new_list)
    managed_fields: list[RawJSON] = Field(default_factory=new_list)


class _PartialModel(K8sModel):
    """A core/v1 type modelled in part: the other fields are kept as they are and dumped back."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    @inspected
    def _plain_extras(cls, data: Any) -> Any:
        # Fields kept as they are hold plain JSON, not the loader's YAML scalar markers.
        if not isinstance(data, dict):
            return data
        known = cls._NOT_NULL.keys() | {f.alias or n for n, f in cls.model_fields.items()}
        known |= set(cls.model_fields)
        return {k: v if k in known else plain_json(v) for k, v in data.items()}


class NodeSelectorRequirement(K8sModel):
    """core/v1 NodeSelectorRequirement: ``key``, ``operator`` (In, NotIn, Exists, ...), values."""

    key: Str = ""
    operator: Str = ""
    values: list[Str] = Field(default_factory=new_list)


class NodeSelectorTerm(K8sModel):
    """core/v1 NodeSelectorTerm: all requirements must hold (AND)."""

    match_expressions: list[NodeSelectorRequirement] = Field(default_factory=new_list)
    match_fields: list[NodeSelectorRequirement] = Field(default_factory=new_list)


class NodeSelector(K8sModel):
    """core/v1 NodeSelector: any one term must match (OR)."""

    node_selector_terms: list[NodeSelectorTerm] = Field(default_factory=new_list)


class Taint(K8sModel):
    """core/v1 Taint (of a node)."""

    key: Str = ""
    value: Str = ""
    effect: Str = ""
    time_added: Str | None = None


class NodeSpec(_PartialModel):
    """core/v1 NodeSpec (the fields scheduling reads)."""

    pod_cidr: Str = Field(default="", alias="podCIDR")
    pod_cidrs: list[Str] = Field(default_factory=new_list, alias="podCIDRs")
    provider_id: Str = Field(default="", alias="providerID")
    unschedulable: Bool | None = None
    taints: list[Taint] = Field(default_factory=new_list)


class NodeStatus(_PartialModel):
    """core/v1 NodeStatus (capacity and allocatable; the rest is kept loosely)."""

    capacity: dict[str, Quantity] = Field(default_factory=new_dict)
    allocatable: dict[str, Quantity] = Field(default_factory=new_dict)
    addresses: list[RawJSON] = Field(default_factory=new_list)
    conditions: list[RawJSON] = Field(default_factory=new_list)


class Node(_PartialModel):
    """core/v1 Node. ``metadata.labels`` and ``metadata.name`` drive node selectors."""

    KIND: ClassVar[str | None] = "Node"
    api_version: Str = ""
    kind: Str = ""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta.model_construct)
    spec: NodeSpec = Field(default_factory=NodeSpec.model_construct)
    status: NodeStatus | None = None


# The nested models every kind has (metadata; node selectors in slices, devices, results and
# nodes), in the order to build them.
_SHARED: tuple[type[K8sModel], ...] = (ObjectMeta, NodeSelector)


def build_shared_validators() -> None:
    """Build the validators of the nested models that every kind shares, if not built yet.

    Call it before the first validation of a kind (``K8sModel`` builds validators on first
    use): a kind's validator built afterwards reuses theirs, where otherwise each kind
    generates its own copy of them. The first allocation from dicts (ResourceSlice,
    DeviceClass, ResourceClaim and Node) builds its validators in about 12 ms instead of 15.
    The validators are the same either way.
    """
    for model in _SHARED:
        if not model.__pydantic_complete__:
            model.model_rebuild()
