"""Workload objects that make pods: Deployments, ReplicaSets, StatefulSets and Jobs.

dra-core does not model these kinds; the simulator reads the fields their controllers
use to make pods and builds the pods from ``spec.template`` as the controllers would:

- **ReplicaSet**: ``spec.replicas`` pods named ``<replicaset>-<5 characters>``.
- **Deployment**: one ReplicaSet ``<deployment>-<pod-template-hash>`` (the hash of the
  template, with the ``pod-template-hash`` label on its pods), then as a ReplicaSet.
- **StatefulSet**: pods ``<statefulset>-<ordinal>``; with the default
  ``podManagementPolicy: OrderedReady`` the next pod is made once the previous one runs,
  with ``Parallel`` all at once.
- **Job**: ``spec.parallelism`` pods at a time (default 1) until ``spec.completions``
  pods (default: ``parallelism``) have succeeded; names ``<job>-<5 characters>``, or
  ``<job>-<index>-<5 characters>`` with ``completionMode: Indexed``.

Pods get the controller's owner reference and the labels Kubernetes adds.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dra_core.errors import ManifestError
from dra_core.sim._names import hash_string

__all__ = ["WORKLOAD_KINDS", "Workload", "read_workload"]

#: The workload kinds the simulator expands into pods, with their apiVersion.
WORKLOAD_KINDS: dict[str, str] = {
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "Job": "batch/v1",
}


@dataclass
class Workload:
    """A workload object as the simulator keeps it."""

    kind: str
    namespace: str
    name: str
    uid: str
    template: dict[str, Any]
    replicas: int = 1
    parallelism: int = 1
    completions: int = 1
    indexed: bool = False
    ordered: bool = True
    # Deployment: the name of its ReplicaSet (owner of the pods)
    owner_kind: str = ""
    owner_name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    # Job progress: indexes handed out, pods that succeeded
    next_index: int = 0
    succeeded: int = 0
    complete: bool = False

    def owner_reference(self) -> dict[str, Any]:
        """Return the owner reference its pods carry (the ReplicaSet for a Deployment)."""
        kind = self.owner_kind or self.kind
        return {
            "apiVersion": WORKLOAD_KINDS[kind],
            "kind": kind,
            "name": self.owner_name or self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def pod_dict(self, name: str, extra_labels: Mapping[str, str]) -> dict[str, Any]:
        """Return a Pod made from the template, named ``name``."""
        template = copy.deepcopy(self.template)
        meta = dict(template.get("metadata") or {})
        labels = dict(meta.get("labels") or {})
        labels.update(extra_labels)
        meta.update(
            {
                "name": name,
                "namespace": self.namespace,
                "labels": labels,
                "ownerReferences": [self.owner_reference()],
            }
        )
        meta.pop("generateName", None)
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": template.get("spec") or {},
        }


def _int_field(
    spec: Mapping[str, Any], key: str, default: int, where: dict[str, Any], minimum: int = 0
) -> int:
    value = spec.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(
            f"Invalid value: {json.dumps(value, default=str)}: must be an integer",
            field=f"spec.{key}",
            **where,
        )
    if value < minimum:
        raise ManifestError(
            f"Invalid value: {value}: must be greater than or equal to {minimum}",
            field=f"spec.{key}",
            **where,
        )
    return int(value)


def read_workload(data: Mapping[str, Any], source: str, document: int | None, uid: str) -> Workload:
    """Read a Deployment, ReplicaSet, StatefulSet or Job document.

    Raises:
        ManifestError: with its location, when a field the controllers read is
            missing or of the wrong type (the pod template itself is checked when its
            pods are loaded).

    """
    kind = str(data.get("kind"))
    meta = data.get("metadata")
    where: dict[str, Any] = {"source": source, "document": document, "kind": kind}
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise ManifestError("Required value: name is required", field="metadata.name", **where)
    name = str(meta["name"])
    namespace = meta.get("namespace") or "default"
    if not isinstance(namespace, str):
        raise ManifestError("Invalid value: must be a string", field="metadata.namespace", **where)
    where["name"] = f"{namespace}/{name}"
    expected = WORKLOAD_KINDS[kind]
    if data.get("apiVersion") != expected:
        raise ManifestError(
            f'no matches for kind "{kind}" in version "{data.get("apiVersion")}": '
            f"the simulator reads {expected} {kind}",
            field="apiVersion",
            **where,
        )
    spec = data.get("spec")
    if not isinstance(spec, Mapping):
        raise ManifestError("Required value: spec is required", field="spec", **where)
    template = spec.get("template")
    if not isinstance(template, Mapping) or not isinstance(template.get("spec"), Mapping):
        raise ManifestError(
            "Required value: a pod template is required", field="spec.template", **where
        )
    if not isinstance(template.get("metadata") or {}, Mapping):
        raise ManifestError(
            "Invalid value: must be an object", field="spec.template.metadata", **where
        )
    labels = meta.get("labels") or {}
    workload = Workload(
        kind=kind,
        namespace=namespace,
        name=name,
        uid=uid,
        template=copy.deepcopy(dict(template)),
        labels=dict(labels) if isinstance(labels, Mapping) else {},
    )
    if kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        workload.replicas = _int_field(spec, "replicas", 1, where)
    if kind == "Deployment":
        text = json.dumps(workload.template, sort_keys=True, default=str)
        workload.owner_kind = "ReplicaSet"
        workload.owner_name = f"{name}-{hash_string(text, length=10)}"
    if kind == "StatefulSet":
        policy = spec.get("podManagementPolicy") or "OrderedReady"
        if policy not in ("OrderedReady", "Parallel"):
            raise ManifestError(
                f'Unsupported value: "{policy}": supported values: "OrderedReady", "Parallel"',
                field="spec.podManagementPolicy",
                **where,
            )
        workload.ordered = policy == "OrderedReady"
    if kind == "Job":
        workload.parallelism = _int_field(spec, "parallelism", 1, where)
        workload.completions = _int_field(spec, "completions", max(workload.parallelism, 1), where)
        mode = spec.get("completionMode") or "NonIndexed"
        if mode not in ("NonIndexed", "Indexed"):
            raise ManifestError(
                f'Unsupported value: "{mode}": supported values: "NonIndexed", "Indexed"',
                field="spec.completionMode",
                **where,
            )
        workload.indexed = mode == "Indexed"
    return workload
