"""kube-scheduler's filters, scores and messages, for one pod at a time.

The filters run in the order of kube-scheduler's default profile and stop at the first
that rejects a node (``NodeUnschedulable``, ``NodeName``, ``TaintToleration``,
``NodeAffinity``, ``NodeResourcesFit``, then ``DynamicResources`` through
:meth:`Cluster.filter <dra_core.Cluster.filter>`). Their reasons are kube-scheduler's
texts, and :func:`fit_error` counts them into the ``FailedScheduling`` message the way
``FitError.Error()`` does.

Everything here that does not depend on the node's name is the same for nodes with the
same labels, taints, unschedulable flag and allocatable resources; the simulator groups
nodes by that (:func:`node_group_key`) and asks once per group and pod shape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dra_core.api import Node, NodeSelector, Pod, Taint, Toleration
from dra_core.inventory import node_selector_matches

__all__ = [
    "MAX_NODE_SCORE",
    "PodInfo",
    "fit_error",
    "node_group_key",
    "num_feasible_nodes_to_find",
    "pod_info",
    "static_reason",
]

# kube-scheduler's texts (pkg/scheduler/framework/plugins/*)
UNSCHEDULABLE = "node(s) were unschedulable"
NODE_NAME = "node(s) didn't match the requested node name"
NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
UNTOLERATED_TAINT = "node(s) had untolerated taint {%s: %s}"
TOO_MANY_PODS = "Too many pods"
INSUFFICIENT = "Insufficient %s"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"

MAX_NODE_SCORE = 100
# Requests that scoring assumes for a container that sets none (schedutil.GetNonzeroRequests).
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024
# percentageOfNodesToScore's defaults (pkg/scheduler/schedule_one.go)
MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENTAGE = 5


def num_feasible_nodes_to_find(nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes kube-scheduler looks for before it stops filtering.

    All of them below 100 nodes; else the adaptive percentage ``50 - nodes/125`` (at
    least 5 %), and never fewer than 100.
    """
    if nodes < MIN_FEASIBLE_NODES or percentage >= 100:
        return nodes
    if percentage <= 0:
        percentage = max(50 - nodes // 125, MIN_FEASIBLE_PERCENTAGE)
    found = nodes * percentage // 100
    return max(found, MIN_FEASIBLE_NODES)


@dataclass
class PodInfo:
    """What the filters and scores read from a pod, worked out once per pod."""

    node_name: str
    tolerations: tuple[Toleration, ...]
    node_selector: tuple[tuple[str, str], ...]
    required_affinity: NodeSelector | None
    requests: dict[str, int]  # cpu in millicores, other resources in units
    score_cpu: int
    score_memory: int
    priority: int
    extended: dict[str, int] = field(default_factory=dict)  # DRA-backed extended resources
    affinity_error: str = ""

    def static_key(self) -> tuple[Any, ...]:
        """Return the pod's shape as the node-name-independent filters see it."""
        return (
            tuple((t.key, t.operator, t.value, t.effect) for t in self.tolerations),
            self.node_selector,
            id(self.required_affinity) if self.required_affinity is not None else None,
            self.affinity_error,
        )


def _amount(name: str, quantity: Any) -> int:
    if name == "cpu":
        return int(quantity.milli_value())
    return int(quantity.int_value())


def _container_requests(container: Any) -> dict[str, int]:
    resources = container.resources
    if resources is None:
        return {}
    out = {k: _amount(k, v) for k, v in resources.limits.items()}  # requests default to limits
    out.update({k: _amount(k, v) for k, v in resources.requests.items()})
    return out


def pod_requests(pod: Pod) -> dict[str, int]:
    """Sum the pod's requests as NodeResourcesFit does: containers, init containers, overhead.

    Sum over containers, then the larger of that and each init container, plus the
    overhead (``resourcehelper.PodRequests`` without sidecars and pod-level resources).
    """
    spec = pod.spec
    total: dict[str, int] = {}
    for container in spec.containers:
        for k, v in _container_requests(container).items():
            total[k] = total.get(k, 0) + v
    for container in spec.init_containers:
        for k, v in _container_requests(container).items():
            total[k] = max(total.get(k, 0), v)
    for k, q in spec.overhead.items():
        total[k] = total.get(k, 0) + _amount(k, q)
    return {k: v for k, v in total.items() if v > 0}


def pod_info(pod: Pod, priority: int) -> PodInfo:
    """Work out what the filters read from ``pod``."""
    spec = pod.spec
    required: NodeSelector | None = None
    error = ""
    affinity = spec.affinity
    if isinstance(affinity, Mapping):
        node_affinity = affinity.get("nodeAffinity")
        if isinstance(node_affinity, Mapping):
            raw = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
            if raw is not None:
                try:
                    required = NodeSelector.model_validate(raw)
                except ValueError as err:
                    error = f"invalid node affinity: {err}"
    requests = pod_requests(pod)
    cpu = sum((_container_requests(c).get("cpu") or DEFAULT_MILLI_CPU) for c in spec.containers)
    memory = sum((_container_requests(c).get("memory") or DEFAULT_MEMORY) for c in spec.containers)
    return PodInfo(
        node_name=spec.node_name,
        tolerations=tuple(spec.tolerations),
        node_selector=tuple(sorted(spec.node_selector.items())),
        required_affinity=required,
        requests=requests,
        score_cpu=cpu,
        score_memory=memory,
        priority=priority,
        affinity_error=error,
    )


def node_allocatable(node: Node) -> dict[str, int] | None:
    """Return the node's allocatable resources, or None when the node publishes no status.

    A node without ``status.allocatable`` is taken to have room for anything (manifests
    written for a simulation rarely carry a status); this is where dra-core differs from
    kube-scheduler, which would find no room on such a node.
    """
    status = node.status
    if status is None or not status.allocatable:
        return None
    return {k: _amount(k, v) for k, v in status.allocatable.items()}


def node_group_key(node: Node) -> tuple[Any, ...]:
    """Everything the name-independent filters read from a node."""
    taints = tuple((t.key, t.value, t.effect) for t in node.spec.taints)
    labels = tuple(sorted(node.metadata.labels.items()))
    allocatable = node_allocatable(node)
    return (
        bool(node.spec.unschedulable),
        taints,
        labels,
        tuple(sorted(allocatable.items())) if allocatable is not None else None,
    )


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """core/v1 ``Toleration.ToleratesTaint``."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    operator = toleration.operator or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return toleration.value == taint.value
    return False


def _untolerated(taints: Sequence[Taint], tolerations: Sequence[Toleration]) -> Taint | None:
    for taint in taints:
        if taint.effect not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


_UNSCHEDULABLE_TAINT = Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")


def static_reason(pod: PodInfo, node: Node) -> tuple[str, bool] | None:
    """Return NodeUnschedulable's rejection with "unresolvable", or None.

    NodeName is checked by the caller (it depends on the node's name only), between
    NodeUnschedulable and TaintToleration, as in kube-scheduler's order.
    """
    if node.spec.unschedulable and not any(
        tolerates(t, _UNSCHEDULABLE_TAINT) for t in pod.tolerations
    ):
        return UNSCHEDULABLE, True
    return None


def later_static_reason(pod: PodInfo, node: Node) -> tuple[str, bool] | None:
    """TaintToleration and NodeAffinity (after NodeName)."""
    taint = _untolerated(node.spec.taints, pod.tolerations)
    if taint is not None:
        return UNTOLERATED_TAINT % (taint.key, taint.value), True
    labels = node.metadata.labels
    for key, value in pod.node_selector:
        if labels.get(key) != value:
            return NODE_AFFINITY, True
    if pod.affinity_error:
        return pod.affinity_error, True
    if pod.required_affinity is not None:
        try:
            if not node_selector_matches(pod.required_affinity, node):
                return NODE_AFFINITY, True
        except ValueError as err:
            return f"invalid node affinity: {err}", True
    return None


def resources_reasons(
    requests: Mapping[str, int],
    allocatable: Mapping[str, int] | None,
    used: Mapping[str, int],
    pods_on_node: int,
) -> list[str]:
    """NodeResourcesFit: every resource that does not fit (several reasons per node)."""
    if allocatable is None:
        return []
    out: list[str] = []
    limit = allocatable.get("pods")
    if limit is not None and pods_on_node + 1 > limit:
        out.append(TOO_MANY_PODS)
    for name, amount in requests.items():
        if name == "pods":
            continue
        have = allocatable.get(name)
        if have is None:
            if name in ("cpu", "memory", "ephemeral-storage"):
                continue  # nodes that do not report them are not limited here
            out.append(INSUFFICIENT % name)
        elif used.get(name, 0) + amount > have:
            out.append(INSUFFICIENT % name)
    return out


def least_allocated(
    pod: PodInfo, allocatable: Mapping[str, int] | None, used_cpu: int, used_memory: int
) -> int:
    """NodeResourcesFit's default score (LeastAllocated over cpu and memory, weight 1 each)."""
    if allocatable is None:
        return 0
    total = 0
    for capacity, requested in (
        (allocatable.get("cpu", 0), used_cpu + pod.score_cpu),
        (allocatable.get("memory", 0), used_memory + pod.score_memory),
    ):
        if capacity <= 0 or requested > capacity:
            continue
        total += (capacity - requested) * MAX_NODE_SCORE // capacity
    return total // 2


def fit_error(
    nodes: int,
    reasons: Mapping[str, list[str]],
    unresolvable: set[str],
    prefilter: str = "",
    preemption: bool = True,
) -> str:
    """kube-scheduler's ``FitError`` text, with DefaultPreemption's part.

    Reasons are counted per node and sorted as text; a PreFilter rejection replaces
    them. The preemption part assumes no victims: nodes rejected for a reason no
    eviction changes are "not helpful", the others have "no victims" (the simulator
    does not preempt; see docs/simulator.md).
    """
    message = f"0/{nodes} nodes are available:"
    if prefilter:
        message += f" {prefilter}."
    else:
        counts: Counter[str] = Counter()
        for node_reasons in reasons.values():
            counts.update(node_reasons)
        parts = sorted(f"{count} {reason}" for reason, count in counts.items())
        if parts:
            message += f" {', '.join(parts)}."
    if preemption and nodes:
        if prefilter:
            tally = {NOT_HELPFUL: nodes}
        else:
            helpless = sum(1 for n in reasons if n in unresolvable)
            tally = {NOT_HELPFUL: helpless, NO_VICTIMS: len(reasons) - helpless}
        parts = sorted(f"{count} {reason}" for reason, count in tally.items() if count)
        message += f" preemption: 0/{nodes} nodes are available: {', '.join(parts)}."
    return message
