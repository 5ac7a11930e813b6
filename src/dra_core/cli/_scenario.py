"""What the ``allocate`` and ``demo`` commands work on: a cluster read from files.

A scenario is the nodes, ResourceSlices, DeviceClasses, claims to allocate and claims
already allocated, read either from Kubernetes manifests or from one case file in the
conformance format (``node``, ``slices``, ``classes``, ``claims``, ``allocatedClaims``,
``features``).

From manifests, Pods that reference a ResourceClaimTemplate get a claim made from the
template, named ``<pod>-<pod claim name>`` as the resource claim controller would (without
its random suffix, so runs are deterministic). A claim that several pods share is allocated
once. Claims with ``status.allocation`` count as devices in use. DeviceTaintRules add
their taints to the devices they select, as kube-scheduler's view of the slices does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dra_core.api import (
    DeviceClass,
    DeviceTaintRule,
    Node,
    ObjectMeta,
    Pod,
    ResourceClaim,
    ResourceClaimTemplate,
    ResourceSlice,
)
from dra_core.errors import ManifestError
from dra_core.features import Features
from dra_core.io import load, parse_yaml
from dra_core.taintrules import apply_taint_rules

__all__ = ["Scenario", "read_scenario"]


@dataclass
class Scenario:
    """A cluster to allocate in, as read from files."""

    nodes: list[Node] = field(default_factory=list)
    slices: list[ResourceSlice] = field(default_factory=list)
    classes: list[DeviceClass] = field(default_factory=list)
    claims: list[ResourceClaim] = field(default_factory=list)
    allocated_claims: list[ResourceClaim] = field(default_factory=list)
    features: Features = field(default_factory=Features)
    is_case: bool = False

    def node_names(self) -> list[str]:
        """Every node the scenario names: Node objects, then slices' ``nodeName``s."""
        names = [n.metadata.name for n in self.nodes if n.metadata and n.metadata.name]
        for s in self.slices:
            spec_name = s.spec.node_name
            if spec_name and spec_name not in names:
                names.append(spec_name)
            for d in s.spec.devices or ():
                if d.node_name and d.node_name not in names:
                    names.append(d.node_name)
        return names

    def node(self, name: str) -> Node:
        """Return the Node called ``name``: from the files, else a Node with only that name."""
        for n in self.nodes:
            if n.metadata and n.metadata.name == name:
                return n
        return Node.model_validate({"metadata": {"name": name}})


def _claim_key(claim: ResourceClaim) -> tuple[str, str]:
    meta = claim.metadata
    return (meta.namespace or "", meta.name or "") if meta else ("", "")


def _case(data: dict[str, Any], source: str) -> Scenario:
    def many(key: str, model: Any) -> list[Any]:
        items = data.get(key) or []
        if not isinstance(items, list):
            raise ManifestError(f"{key} must be a list", source=source, field=key)
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise ManifestError("expected an object", source=source, field=f"{key}[{i}]")
            # Case files hold the objects exactly as the Go test table has them: no
            # apiVersion/kind, no defaults, and not always valid for the API server
            # (an unknown allocation mode must reach the allocator).
            typed = {"apiVersion": "resource.k8s.io/v1", "kind": model.KIND, **item}
            loaded = load(typed, defaults=False, validate=False)
            if len(loaded) != 1 or not isinstance(loaded[0], model):
                raise ManifestError(
                    f"expected a {model.__name__}", source=source, field=f"{key}[{i}]"
                )
            out.append(loaded[0])
        return out

    node = data.get("node")
    features = data.get("features") or {}
    try:
        feature_set = Features.from_mapping(features)
    except (ValueError, AttributeError) as exc:
        raise ManifestError(str(exc), source=source, field="features") from None
    return Scenario(
        nodes=[n for n in load({"apiVersion": "v1", "kind": "Node", **node}) if isinstance(n, Node)]
        if node
        else [],
        slices=many("slices", ResourceSlice),
        classes=many("classes", DeviceClass),
        claims=many("claims", ResourceClaim),
        allocated_claims=many("allocatedClaims", ResourceClaim),
        features=feature_set,
        is_case=True,
    )


def _looks_like_case(documents: list[Any]) -> bool:
    return (
        len(documents) == 1
        and isinstance(documents[0], dict)
        and "kind" not in documents[0]
        and ("claims" in documents[0] or "slices" in documents[0])
    )


def _claims_for_pods(
    pods: list[Pod], templates: dict[tuple[str, str], ResourceClaimTemplate]
) -> list[ResourceClaim]:
    claims: list[ResourceClaim] = []
    for pod in pods:
        namespace = (pod.metadata.namespace if pod.metadata else None) or "default"
        pod_name = (pod.metadata.name if pod.metadata else None) or "pod"
        for ref in pod.spec.resource_claims if pod.spec else ():
            template_name = ref.resource_claim_template_name
            if not template_name:
                continue
            template = templates.get((namespace, template_name))
            if template is None:
                raise ManifestError(
                    f"resource claim template {namespace}/{template_name} not found",
                    kind="Pod",
                    name=f"{namespace}/{pod_name}",
                    field=f"spec.resourceClaims[{ref.name}]",
                )
            spec = template.spec.spec
            claims.append(
                ResourceClaim(
                    api_version="resource.k8s.io/v1",
                    kind="ResourceClaim",
                    metadata=ObjectMeta(name=f"{pod_name}-{ref.name}", namespace=namespace),
                    spec=spec,
                )
            )
    return claims


def read_scenario(paths: Sequence[str]) -> Scenario:
    """Read manifests (files, folders) or a single case file into a scenario.

    Raises:
        ManifestError: for a file that cannot be read or an object that is invalid.

    """
    if len(paths) == 1 and Path(paths[0]).is_file():
        try:
            text = Path(paths[0]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"cannot read the file: {exc}", source=paths[0]) from None
        documents = parse_yaml(text, source=paths[0])
        if _looks_like_case(documents):
            return _case(documents[0], paths[0])
    scenario = Scenario()
    templates: dict[tuple[str, str], ResourceClaimTemplate] = {}
    pods: list[Pod] = []
    rules: list[DeviceTaintRule] = []
    seen: set[tuple[str, str]] = set()
    for obj in load(list(paths)):
        if isinstance(obj, Node):
            scenario.nodes.append(obj)
        elif isinstance(obj, ResourceSlice):
            scenario.slices.append(obj)
        elif isinstance(obj, DeviceClass):
            scenario.classes.append(obj)
        elif isinstance(obj, ResourceClaimTemplate):
            meta = obj.metadata
            key = ((meta.namespace or "default") if meta else "default", meta.name or "")
            templates[key] = obj
        elif isinstance(obj, Pod):
            pods.append(obj)
        elif isinstance(obj, DeviceTaintRule):
            rules.append(obj)
        elif isinstance(obj, ResourceClaim):
            key = _claim_key(obj)
            if key in seen:
                continue
            seen.add(key)
            if obj.status is not None and obj.status.allocation is not None:
                scenario.allocated_claims.append(obj)
            else:
                scenario.claims.append(obj)
    scenario.slices = apply_taint_rules(scenario.slices, rules)
    for claim in _claims_for_pods(pods, templates):
        if _claim_key(claim) not in seen:
            seen.add(_claim_key(claim))
            scenario.claims.append(claim)
    return scenario
