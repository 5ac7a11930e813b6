"""The Simulator: pods, workloads, the claim controller, kube-scheduler and a kubelet.

One :class:`~dra_core.Cluster` holds the DRA objects; the simulator adds what happens to
pods over simulated time:

- **objects**: Pods and the workloads that make them (see :mod:`._workloads`), on top
  of everything a Cluster takes; other kinds (Namespaces, Services...) are noted and
  skipped;
- **the resource claim controller** (see :mod:`._controller`);
- **the scheduler**: a queue ordered by priority, then arrival; one pod at a time
  through PreFilter, the filters, scoring, Reserve and Bind; unschedulable pods wait
  for an event that may help them, then retry with kube-scheduler's backoff;
- **a kubelet** that starts bound pods and ends pods that carry a run time.

Time is a number of simulated seconds, moved only by :meth:`Simulator.run`; the wall
clock is never read. Names that Kubernetes would draw at random come from a seeded hash.
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dra_core.api import (
    K8sModel,
    Node,
    Pod,
    PodResourceClaimStatus,
    PodStatus,
    ResourceClaim,
    ResourceClaimConsumerReference,
    ResourceClaimTemplate,
)
from dra_core.api._base import plain_json
from dra_core.cluster import Cluster
from dra_core.cluster._cluster import KINDS
from dra_core.errors import InputError, ManifestError, ObjectNotFoundError, ReservationError
from dra_core.features import Features
from dra_core.sim import _controller as controller
from dra_core.sim._events import Event, PodRow, Sample
from dra_core.sim._gangs import (
    GANG_KINDS,
    GANG_SCHEDULING,
    gang_policy,
    group_claim_name,
    is_gang_object,
    permit,
    permit_timeout,
    pod_group_key,
    pre_enqueue,
    release_pod_group,
    schedule_gang,
    sync_pod_group,
)
from dra_core.sim._names import generated_name, uid
from dra_core.sim._scheduler import (
    NODE_NAME,
    TOO_MANY_PODS,
    PodInfo,
    fit_error,
    later_static_reason,
    least_allocated,
    node_allocatable,
    node_group_key,
    num_feasible_nodes_to_find,
    pod_info,
    resources_reasons,
    static_reason,
)
from dra_core.sim._workloads import WORKLOAD_KINDS, Workload, read_workload

__all__ = ["POLICIES", "RUN_TIME_ANNOTATION", "Simulator", "parse_duration"]

#: A pod annotation: how long the pod runs once started (a Go duration such as
#: ``90s``, ``5m``, ``1h30m``, or a number of seconds). The pod then succeeds and
#: gives its devices back. Without it, pods run until deleted.
RUN_TIME_ANNOTATION = "sim.dra-core.io/run-time"

#: Scoring policies: ``default`` is kube-scheduler's (NodeResourcesFit's
#: LeastAllocated); the others score nodes by their devices.
POLICIES = ("default", "best-fit", "pack", "spread")

# kube-scheduler's podInitialBackoffDuration and podMaxBackoffDuration.
INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0

_SCHEDULER = "default-scheduler"
_KUBELET = "kubelet"
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

Key = tuple[str, str]  # namespace, name


def parse_duration(value: Any) -> float:
    """Seconds from a Go duration (``1h30m``, ``90s``) or a number of seconds.

    Raises:
        ValueError: not a duration, or negative.

    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            pos = 0
            seconds = 0.0
            for match in _DURATION.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise ValueError(f'invalid duration "{text}"') from None
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise ValueError(f"invalid duration {value!r}: must be a finite number >= 0")
    return seconds


@dataclass
class _PodState:
    """A pod as the simulator keeps it (the Pod model is built when asked for)."""

    namespace: str
    name: str
    uid: str
    seq: int
    pod: Pod
    info: PodInfo
    created: float
    phase: str = "Pending"
    node: str = ""
    message: str = ""
    attempts: int = 0
    last_attempt: float = 0.0
    queued: str = ""  # "active", "backoff", "unschedulable" or ""
    queue_gen: int = 0
    claim_names: dict[str, str] = field(default_factory=dict)  # pod claim -> claim
    group_claims: set[str] = field(default_factory=set)  # pod claims that are its group's
    extended_claim: str = ""
    run_seconds: float | None = None
    start_time: float | None = None
    owner: tuple[str, str, str] | None = None  # workload kind, namespace, name
    index: int | None = None
    waiting_node: str = ""  # assumed on this node, waiting at Permit (not bound)

    @property
    def key(self) -> Key:
        return self.namespace, self.name


@dataclass
class _Node:
    model: Node
    group: int
    allocatable: dict[str, int] | None
    used: dict[str, int] = field(default_factory=dict)
    pods: int = 0
    score_cpu: int = 0
    score_memory: int = 0


@dataclass(frozen=True)
class _Parsed:
    """Objects read from the inputs of one apply, sorted by where they go."""

    cluster: list[K8sModel]
    pods: list[Pod]
    workloads: list[Workload]
    notes: list[str]
    gangs: list[dict[str, Any]] = field(default_factory=list)  # PodGroups and Workloads


class Simulator:
    """A Kubernetes cluster with DRA, simulated: pods are scheduled as kube-scheduler would.

    Args:
        objects: manifests to :meth:`apply` right away (paths, YAML/JSON text, dicts,
            models, or lists of those).
        features: the feature switches, as for :class:`~dra_core.Cluster`.
        seed: makes generated names, uids and share ids; the same seed and inputs give
            the same run.
        policy: how feasible nodes are scored: ``default`` (kube-scheduler's), or one
            of dra-core's device policies ``best-fit`` (the node left with the fewest
            free devices), ``pack`` (the node with the most devices in use) and
            ``spread`` (the fewest in use).
        engine: the allocation engine (``auto``, ``search``, ``cpsat``).
        percentage_of_nodes_to_score: kube-scheduler's setting of that name (0 means
            its adaptive default).
        kubelet_delay: simulated seconds between binding a pod and its start.
        gang_scheduling: how gangs (PodGroups and Workload pod groups with the ``gang``
            policy) are scheduled: ``joint`` (the default: all members at once with
            :func:`~dra_core.cluster._gang.place_gang`, or none) or ``kube-scheduler``
            (as kube-scheduler 1.35/1.36's GangScheduling plugin: one pod at a time, each
            waiting at Permit until ``minCount`` are assumed or bound, at most 5 minutes,
            holding its devices).

    Attributes:
        cluster: the live :class:`~dra_core.Cluster` (nodes, slices, classes, claims).
        notes: what was skipped while applying (kinds the simulator does not use).

    """

    def __init__(
        self,
        objects: Iterable[Any] = (),
        *,
        features: Features | Mapping[str, bool] | None = None,
        seed: str = "",
        policy: str = "default",
        engine: str = "auto",
        percentage_of_nodes_to_score: int = 0,
        kubelet_delay: float = 0.0,
        gang_scheduling: str = "joint",
    ) -> None:
        if gang_scheduling not in GANG_SCHEDULING:
            raise ValueError(
                f"unknown gang_scheduling {gang_scheduling!r}: choose one of "
                f"{', '.join(GANG_SCHEDULING)}"
            )
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}: choose one of {', '.join(POLICIES)}")
        if kubelet_delay < 0:
            raise ValueError("kubelet_delay must be >= 0")
        self.cluster = Cluster(features=features, share_id_seed=seed)
        self.seed = seed
        self.policy = policy
        self.engine = engine
        self.percentage = percentage_of_nodes_to_score
        self.kubelet_delay = float(kubelet_delay)
        self.gang_scheduling = gang_scheduling
        # kube-scheduler's Permit deadlines per pod group (gang_scheduling="kube-scheduler")
        self._permit_deadlines: dict[str, float] = {}
        self.notes: list[str] = []
        self._now = 0.0
        self._order = itertools.count()
        self._pods: dict[Key, _PodState] = {}
        self._workloads: dict[tuple[str, str, str], Workload] = {}
        # PodGroup and Workload objects (the Workload API), as applied
        self._gang_objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._dirty_workloads: set[tuple[str, str, str]] = set()
        # PodGroups' own claims (KEP-5729): (namespace, group) -> group claim -> claim
        self._group_claims: dict[tuple[str, str], dict[str, str]] = {}
        self._group_uids: dict[tuple[str, str], str] = {}
        # deleted PodGroups whose claims wait for their pods: uid and claim names
        self._deleted_groups: dict[tuple[str, str], tuple[str, list[str]]] = {}
        self._events: list[Event] = []
        self._samples: list[Sample] = []
        self._timeline: list[tuple[float, int, str, Any]] = []
        self._active: list[tuple[int, int, int, Key]] = []
        self._unschedulable: set[Key] = set()
        self._next_start = 0
        self._nodes: dict[str, _Node] = {}
        self._node_list: list[str] = []
        self._groups: dict[tuple[Any, ...], int] = {}
        self._static: dict[tuple[Any, int], tuple[str, bool, bool]] = {}
        # devices: (driver, pool) -> node for node-local pools; devices per node
        self._pool_node: dict[tuple[str, str], str] = {}
        self._node_devices: Counter[str] = Counter()
        self._devices_total = 0
        # devices in use: device id -> number of allocated claims that hold it
        self._in_use: Counter[tuple[str, str, str]] = Counter()
        self._node_in_use: Counter[str] = Counter()
        self._backed: dict[str, str] = {}
        self._classic_extended: set[str] = set()
        self._attempts = 0
        self._generated: set[Key] = set()
        self._bound_priorities: Counter[int] = Counter()
        self._phases: Counter[str] = Counter()  # live pods by phase (kept per transition)
        self._progress: Callable[[Simulator], None] | None = None
        objects = list(objects)
        if objects:
            self.apply(*objects)

    # --- reading ---------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The simulated time, in seconds since the start."""
        return self._now

    @property
    def attempts(self) -> int:
        """How many scheduling attempts were made so far."""
        return self._attempts

    def pods(self) -> list[PodRow]:
        """One row per pod, sorted by namespace and name (``kubectl get pod -A``)."""
        return [self._row(self._pods[k]) for k in sorted(self._pods)]

    def pod(self, name: str, namespace: str = "default") -> Pod:
        """Return the pod as the API server would show it now (status included).

        Raises:
            ObjectNotFoundError: there is no such pod.

        """
        state = self._pods.get((namespace or "default", name))
        if state is None:
            raise ObjectNotFoundError(
                f'pods "{name}" not found', kind="Pod", name=f"{namespace}/{name}"
            )
        statuses = [
            PodResourceClaimStatus(name=pc, resource_claim_name=claim)
            for pc, claim in state.claim_names.items()
            if self._is_template_claim(state, pc)
        ]
        status = PodStatus(phase=state.phase, resource_claim_statuses=statuses)
        spec = state.pod.spec.model_copy(update={"node_name": state.node})
        return state.pod.model_copy(update={"spec": spec, "status": status})

    def events(
        self, *, kind: str | None = None, name: str | None = None, namespace: str | None = None
    ) -> list[Event]:
        """Return the events so far, oldest first; optionally those of one object."""
        return [
            e
            for e in self._events
            if (kind is None or e.kind == kind)
            and (name is None or e.name == name)
            and (namespace is None or e.namespace == namespace)
        ]

    def samples(self) -> list[Sample]:
        """Devices in use and pods waiting after every instant of simulated time."""
        return list(self._samples)

    def summary(self) -> dict[str, Any]:
        """Return counts of pods by phase, pending pods by message, and device use."""
        phases = Counter(s.phase for s in self._pods.values())
        pending = Counter(s.message for s in self._pods.values() if s.phase == "Pending")
        in_use = len(self._in_use)
        return {
            "time": self._now,
            "pods": len(self._pods),
            "scheduled": sum(1 for s in self._pods.values() if s.node),
            "running": phases.get("Running", 0),
            "succeeded": phases.get("Succeeded", 0),
            "pending": phases.get("Pending", 0),
            "pending_reasons": dict(sorted(pending.items())),
            "devices": self._devices_total,
            "devices_in_use": in_use,
            "utilisation": (in_use / self._devices_total) if self._devices_total else 0.0,
            "attempts": self._attempts,
        }

    def _row(self, state: _PodState) -> PodRow:
        claims = [
            state.claim_names[pc.name]
            for pc in state.pod.spec.resource_claims
            if pc.name in state.claim_names
        ]
        if state.extended_claim:
            claims.append(state.extended_claim)
        return PodRow(
            namespace=state.namespace,
            name=state.name,
            phase=state.phase,
            node=state.node,
            message=state.message,
            claims=tuple(claims),
            start_time=state.start_time,
            created=state.created,
            containers=len(state.pod.spec.containers),
        )

    @staticmethod
    def _is_template_claim(state: _PodState, pod_claim: str) -> bool:
        for pc in state.pod.spec.resource_claims:
            if pc.name == pod_claim:
                return pc.resource_claim_template_name is not None
        return False

    # --- changing ----------------------------------------------------------------------

    def apply(self, *objects: Any, at: float | str | None = None) -> None:
        """Create or replace objects: everything a Cluster takes, Pods and workloads.

        With ``at`` (seconds or a Go duration), the objects are read now and applied
        when :meth:`run` reaches that time. All or nothing: when one object does not
        load, nothing is applied.

        Raises:
            ManifestError: an object does not load (typed and located), or changes a
                pod that exists (pods are immutable here: delete it first).

        """
        parsed = self._parse(objects)
        if at is not None:
            self._at(at, "apply", parsed)
            return
        self._apply(parsed)
        self._settle()

    def delete(
        self,
        *objects: Any,
        kind: str | None = None,
        name: str | None = None,
        namespace: str = "",
        at: float | str | None = None,
    ) -> None:
        """Delete objects by (kind, namespace, name): models, dicts or ``kind=``/``name=``.

        Deleting a pod frees what it reserved (see the claim controller); deleting a
        workload deletes its pods. All or nothing.

        Raises:
            ObjectNotFoundError: one of them does not exist (when it is time to delete).

        """
        keys: list[tuple[str, str, str]] = []
        for obj in objects:
            if isinstance(obj, (K8sModel, Mapping)):
                keys.append(self._key_of(obj))
            else:
                keys.extend(self._keys_of_source(obj))
        if kind is not None or name is not None:
            if not kind or not name:
                raise ValueError("delete(kind=..., name=...) needs both a kind and a name")
            keys.append((kind, self._namespace_for(kind, namespace), name))
        if at is not None:
            self._at(at, "delete", keys)
            return
        self._delete(keys)
        self._settle()

    def _keys_of_source(self, source: Any) -> list[tuple[str, str, str]]:
        # what `kubectl delete -f FILE` deletes: every object the files name
        from dra_core.io import _iter_sources

        keys: list[tuple[str, str, str]] = []

        def document(doc: Any) -> None:
            if not isinstance(doc, Mapping):
                return
            if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
                for item in doc["items"]:
                    document(item)
                return
            keys.append(self._key_of(doc))

        for _, documents in _iter_sources(source):
            for doc in documents:
                document(doc)
        return keys

    def _expand(self, keys: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        """Replace Namespaces by what they hold (pods first); drop kinds nobody holds."""
        out: dict[tuple[str, str, str], None] = {}
        namespaces = {name for kind, _, name in keys if kind == "Namespace"}
        for kind, ns, name in keys:
            if ns in namespaces and kind != "Namespace":
                continue  # deleted with its namespace (if it exists)
            if kind == "Namespace":
                for state in sorted(self._pods.values(), key=lambda s: s.seq):
                    if state.namespace == name and state.owner is None:
                        out[("Pod", name, state.name)] = None
                for wkind, wns, wname in list(self._workloads):
                    if wns == name:
                        out[(wkind, wns, wname)] = None
                for gkind, gns, gname in list(self._gang_objects):
                    if gns == name:
                        out[(gkind, gns, gname)] = None
                for ckind in ("ResourceClaim", "ResourceClaimTemplate"):
                    for obj in self.cluster.objects(ckind):
                        if (obj.metadata.namespace or "default") == name:
                            out[(ckind, name, obj.metadata.name)] = None
            elif kind == "Pod" or kind in WORKLOAD_KINDS or kind in KINDS or kind in GANG_KINDS:
                out[(kind, ns, name)] = None
            else:
                self.notes.append(f"delete: {kind} {name}: ignored (the simulator holds none)")
        return list(out)

    def _at(self, at: float | str, action: str, payload: Any) -> None:
        try:
            when = parse_duration(at)
        except ValueError as err:
            raise ManifestError(str(err), field="at") from None
        heapq.heappush(self._timeline, (max(when, self._now), next(self._order), action, payload))

    @staticmethod
    def _namespace_for(kind: str, namespace: str) -> str:
        if kind in ("ResourceClaim", "ResourceClaimTemplate", "Pod", *WORKLOAD_KINDS, *GANG_KINDS):
            return namespace or "default"
        return ""

    def _key_of(self, obj: Any) -> tuple[str, str, str]:
        if isinstance(obj, K8sModel):
            kind = type(obj).KIND or ""
            meta = obj.metadata  # type: ignore[attr-defined]
            return kind, self._namespace_for(kind, meta.namespace), meta.name
        if isinstance(obj, Mapping):
            kind_value = obj.get("kind")
            meta = obj.get("metadata")
            if not isinstance(kind_value, str) or not isinstance(meta, Mapping):
                raise ManifestError("delete needs objects with a kind and metadata.name")
            name = meta.get("name")
            if not isinstance(name, str) or not name:
                raise ManifestError(
                    "delete needs objects with a kind and metadata.name", kind=kind_value
                )
            ns = meta.get("namespace") or ""
            return kind_value, self._namespace_for(kind_value, str(ns)), name
        raise TypeError(f"expected a model or a dict, got {type(obj).__name__}")

    # --- reading inputs ---------------------------------------------------------------------

    def _parse(self, objects: Sequence[Any]) -> _Parsed:
        from dra_core.io import _iter_sources, _load_document

        cluster: list[K8sModel] = []
        pods: list[Pod] = []
        workloads: list[Workload] = []
        gangs: list[dict[str, Any]] = []
        notes: list[str] = []

        def take(model: K8sModel) -> None:
            kind = type(model).KIND
            if kind == "Pod":
                assert isinstance(model, Pod)
                pods.append(model)
            elif kind in KINDS:
                cluster.append(model)

        def document(doc: Any, source: str, index: int) -> None:
            if doc is None:
                return
            if isinstance(doc, Mapping) and isinstance(doc.get("kind"), str):
                kind = str(doc["kind"])
                if kind in WORKLOAD_KINDS:
                    workloads.append(self._read_workload(doc, source, index))
                    return
                if is_gang_object(doc):
                    gangs.append(plain_json(doc))
                    return
                if kind == "List" and isinstance(doc.get("items"), list):
                    for item in doc["items"]:
                        document(item, source, index)
                    return
            for loaded in _load_document(doc, source, index, True, True):
                if loaded.errors:
                    if len(loaded.errors) == 1:
                        raise loaded.errors[0]
                    from dra_core.errors import ManifestValidationError

                    raise ManifestValidationError(list(loaded.errors))
                if loaded.object is not None:
                    take(loaded.object)
                elif loaded.skipped:
                    notes.append(
                        f"{loaded.where}: {loaded.kind} {loaded.name}: ignored ({loaded.skipped})"
                    )

        for obj in objects:
            if isinstance(obj, K8sModel):
                take(obj)
                continue
            if isinstance(obj, Workload):
                workloads.append(obj)
                continue
            for source, documents in _iter_sources(obj):
                for index, doc in enumerate(documents):
                    document(doc, source, index)
        # pods and workload templates are checked now, so that nothing is applied
        # when one of them is bad
        checked: list[Pod] = []
        for pod in pods:
            self._check_pod(pod)
            checked.append(pod)
        for workload in workloads:
            sample = workload.pod_dict(f"{workload.name}-check", {})
            from dra_core.io import parse_object

            try:
                parse_object(sample, "Pod", defaults=True, validate=True, source=workload.name)
            except ManifestError as err:
                raise ManifestError(
                    f"spec.template: {err}",
                    kind=workload.kind,
                    name=f"{workload.namespace}/{workload.name}",
                ) from None
            if (
                workload.template.get("metadata", {})
                .get("annotations", {})
                .get(RUN_TIME_ANNOTATION)
                is not None
            ):
                self._run_time(sample["metadata"]["annotations"], workload.name)
        return _Parsed(cluster, checked, workloads, notes, gangs)

    def _read_workload(self, doc: Mapping[str, Any], source: str, index: int) -> Workload:
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), Mapping) else {}
        assert isinstance(meta, Mapping)
        name = str(meta.get("name") or "")
        ns = str(meta.get("namespace") or "default")
        return read_workload(doc, source, index, uid(self.seed, str(doc["kind"]), ns, name))

    def _check_pod(self, pod: Pod) -> None:
        meta = pod.metadata
        name = meta.name
        if not name:
            raise ManifestError(
                "Required value: name or generateName is required (the simulator names "
                "pods from generateName only through workloads)",
                kind="Pod",
                field="metadata.name",
            )
        key = (meta.namespace or "default", name)
        old = self._pods.get(key)
        if old is not None and old.pod.spec != pod.spec:
            raise ManifestError(
                "Forbidden: pod updates may not change fields other than labels and "
                "annotations (the simulator keeps pods as applied: delete it first)",
                kind="Pod",
                name=f"{key[0]}/{key[1]}",
                field="spec",
            )
        self._run_time(meta.annotations, f"{key[0]}/{key[1]}")

    @staticmethod
    def _run_time(annotations: Mapping[str, str], name: str) -> float | None:
        value = annotations.get(RUN_TIME_ANNOTATION)
        if value is None:
            return None
        try:
            return parse_duration(value)
        except ValueError as err:
            raise ManifestError(
                f"Invalid value: {err}",
                kind="Pod",
                name=name,
                field=f"metadata.annotations[{RUN_TIME_ANNOTATION}]",
            ) from None

    # --- applying ----------------------------------------------------------------------

    def _apply(self, parsed: _Parsed) -> None:
        self.notes.extend(parsed.notes)
        if parsed.cluster:
            self._apply_cluster(parsed.cluster)
        for doc in parsed.gangs:
            meta = doc.get("metadata") or {}
            ns = str(meta.get("namespace") or "default")
            gkey = (str(doc["kind"]), ns, str(meta.get("name") or ""))
            old_doc = self._gang_objects.get(gkey)
            if old_doc is not None and "status" in old_doc and "status" not in doc:
                doc = {**doc, "status": old_doc["status"]}  # apply does not write status
            self._gang_objects[gkey] = doc
            if gkey[0] == "PodGroup":
                group = (ns, gkey[2])
                if group not in self._group_uids:
                    self._group_uids[group] = str(
                        meta.get("uid")
                        or uid(self.seed, "PodGroup", ns, group[1], len(self._events))
                    )
                sync_pod_group(self, group)
        if parsed.gangs:
            self._wake()
        for workload in parsed.workloads:
            key = (workload.kind, workload.namespace, workload.name)
            old = self._workloads.get(key)
            if old is not None:
                # keep progress; take the new size and template
                workload.next_index = old.next_index
                workload.succeeded = old.succeeded
                workload.complete = old.complete
            self._workloads[key] = workload
            self._dirty_workloads.add(key)
            if workload.kind == "Deployment" and old is None:
                self._event(
                    "Normal",
                    "ScalingReplicaSet",
                    workload.kind,
                    workload.namespace,
                    workload.name,
                    f"Scaled up replica set {workload.owner_name} from 0 to {workload.replicas}",
                    "deployment-controller",
                )
        for pod in parsed.pods:
            pod_key = (pod.metadata.namespace or "default", pod.metadata.name)
            if pod_key not in self._pods:
                self._add_pod(pod, owner=None, index=None)

    def _apply_cluster(self, models: list[K8sModel]) -> None:
        # claims that exist keep their status (kubectl apply does not write status)
        out: list[K8sModel] = []
        for model in models:
            if isinstance(model, ResourceClaim):
                stored = self.cluster.get(
                    "ResourceClaim", model.metadata.name, model.metadata.namespace
                )
                if stored is not None and model.status is None:
                    model = model.model_copy(update={"status": stored.status})
            out.append(model)
        olds = {id(m): self._stored(m) for m in out}
        self.cluster.apply(*out)
        kinds = {type(m).KIND for m in out}
        for model in out:
            if isinstance(model, ResourceClaim):
                self._track_claim(olds[id(model)], self._stored(model))
        if "Node" in kinds:
            self._refresh_nodes()
        if "ResourceSlice" in kinds or "Node" in kinds:
            self._refresh_devices()
        if "DeviceClass" in kinds:
            self._refresh_classes()
        if "ResourceClaimTemplate" in kinds:
            for key in list(self._group_uids):
                sync_pod_group(self, key)
            for state in list(self._pods.values()):
                if state.phase == "Pending" and not state.node:
                    self._make_claims(state)
        self._wake()

    def _stored(self, model: Any) -> Any:
        kind = type(model).KIND or ""
        meta = model.metadata
        return self.cluster.get(kind, meta.name, meta.namespace)

    def _delete(self, keys: list[tuple[str, str, str]]) -> None:
        keys = self._expand(keys)
        for kind, ns, name in keys:
            if kind == "Pod":
                if (ns, name) not in self._pods:
                    raise ObjectNotFoundError(f'pods "{name}" not found', kind=kind, name=name)
            elif kind in WORKLOAD_KINDS:
                if (kind, ns, name) not in self._workloads:
                    raise ObjectNotFoundError(
                        f'{kind.lower()}s.{WORKLOAD_KINDS[kind].split("/")[0]} "{name}" not found',
                        kind=kind,
                        name=name,
                    )
            elif kind in GANG_KINDS:
                if (kind, ns, name) not in self._gang_objects:
                    raise ObjectNotFoundError(
                        f'{kind.lower()}s.scheduling.k8s.io "{name}" not found',
                        kind=kind,
                        name=name,
                    )
            elif kind in KINDS:
                if self.cluster.get(kind, name, ns) is None:
                    raise ObjectNotFoundError(
                        f"{kind} {ns + '/' if ns else ''}{name} not found", kind=kind, name=name
                    )
            else:
                raise ObjectNotFoundError(
                    f"the simulator holds no {kind} objects", kind=kind, name=name
                )
        cluster_keys = []
        for kind, ns, name in keys:
            if kind == "Pod":
                state = self._pods.get((ns, name))
                if state is not None:
                    self._remove_pod(state, deleted=True)
            elif kind in WORKLOAD_KINDS:
                workload = self._workloads.pop((kind, ns, name), None)
                if workload is None:
                    continue
                self._dirty_workloads.discard((kind, ns, name))
                for state in list(self._pods.values()):
                    if state.owner == (kind, ns, name):
                        self._remove_pod(state, deleted=True)
            elif kind in GANG_KINDS:
                doc = self._gang_objects.pop((kind, ns, name), None)
                if kind == "PodGroup" and doc is not None:
                    self._delete_pod_group((ns, name), doc)
            else:
                cluster_keys.append((kind, ns, name))
        # (claims made for deleted pods are gone already)
        cluster_keys = [k for k in cluster_keys if self.cluster.get(k[0], k[2], k[1]) is not None]
        if cluster_keys:
            olds = [self.cluster.get(k, n, ns) for k, ns, n in cluster_keys]
            self.cluster.delete(
                *[
                    {"kind": k, "metadata": {"name": n, "namespace": ns}}
                    for k, ns, n in cluster_keys
                ]
            )
            for (kind, _, _), old in zip(cluster_keys, olds, strict=True):
                if kind == "ResourceClaim":
                    self._track_claim(old, None)
            kinds = {k for k, _, _ in cluster_keys}
            if "Node" in kinds:
                self._refresh_nodes()
            if kinds & {"ResourceSlice", "Node"}:
                self._refresh_devices()
            if "DeviceClass" in kinds:
                self._refresh_classes()
        self._wake()

    def _delete_pod_group(self, key: tuple[str, str], doc: Mapping[str, Any]) -> None:
        """Forget a deleted PodGroup; its claims are released once its pods are done."""
        group_uid = self._group_uids.pop(key, "")
        made = self._group_claims.pop(key, {})
        names = list(made.values())
        for entry in (doc.get("spec") or {}).get("resourceClaims") or []:
            if isinstance(entry, Mapping) and entry.get("resourceClaimName"):
                names.append(str(entry["resourceClaimName"]))
        if not group_uid or not names:
            return
        self._deleted_groups[key] = (group_uid, names)
        release_pod_group(self, key)

    # --- nodes, devices, classes ---------------------------------------------------------

    def _refresh_nodes(self) -> None:
        names = self.cluster.node_names()
        nodes: dict[str, _Node] = {}
        for name in names:
            model = self.cluster.get("Node", name)
            assert isinstance(model, Node)
            old = self._nodes.get(name)
            gkey = node_group_key(model)
            group = self._groups.setdefault(gkey, len(self._groups))
            if old is not None and old.model is model:
                nodes[name] = old
                continue
            entry = _Node(model, group, node_allocatable(model))
            if old is not None:
                entry.used, entry.pods = old.used, old.pods
                entry.score_cpu, entry.score_memory = old.score_cpu, old.score_memory
            nodes[name] = entry
        self._nodes = nodes
        self._node_list = names
        self._classic_extended = {r for n in nodes.values() if n.allocatable for r in n.allocatable}

    def _refresh_devices(self) -> None:
        self._pool_node.clear()
        self._node_devices.clear()
        total = 0
        for s in self.cluster.objects("ResourceSlice"):
            count = len(s.spec.devices or ())
            total += count
            if s.spec.node_name:
                self._pool_node[(s.spec.driver, s.spec.pool.name)] = s.spec.node_name
                self._node_devices[s.spec.node_name] += count
        self._devices_total = total
        self._node_in_use.clear()
        for (driver, pool, _), _count in self._in_use.items():
            node = self._pool_node.get((driver, pool))
            if node is not None:
                self._node_in_use[node] += 1

    def _refresh_classes(self) -> None:
        self._backed = controller.extended_resource_classes(self.cluster.objects("DeviceClass"))

    def _track_claim(self, old: ResourceClaim | None, new: ResourceClaim | None) -> None:
        # Devices in use, counted per device: every allocation added here has exactly
        # one matching removal when the claim changes or goes.
        for claim, step in ((old, -1), (new, 1)):
            if claim is None or claim.status is None or claim.status.allocation is None:
                continue
            devices = claim.status.allocation.devices
            for r in devices.results if devices is not None else ():
                device = (r.driver, r.pool, r.device)
                before = self._in_use[device]
                after = before + step
                if after <= 0:
                    del self._in_use[device]
                else:
                    self._in_use[device] = after
                if (before == 0) != (after <= 0):
                    node = self._pool_node.get((r.driver, r.pool))
                    if node is not None:
                        self._node_in_use[node] += step

    # --- pods and the claim controller ------------------------------------------------

    def _add_pod(self, pod: Pod, owner: tuple[str, str, str] | None, index: int | None) -> None:
        namespace = pod.metadata.namespace or "default"
        name = pod.metadata.name
        pod_uid = pod.metadata.uid or uid(self.seed, "Pod", namespace, name, len(self._events))
        meta = pod.metadata.model_copy(update={"namespace": namespace, "uid": pod_uid})
        pod = pod.model_copy(update={"metadata": meta})
        spec = pod.spec
        priority = int(spec.priority or 0)
        state = _PodState(
            namespace=namespace,
            name=name,
            uid=pod_uid,
            seq=next(self._order),
            pod=pod,
            info=pod_info(pod, priority),
            created=self._now,
            run_seconds=self._run_time(meta.annotations, f"{namespace}/{name}"),
            owner=owner,
            index=index,
        )
        if owner is not None and owner[0] != "Job":
            state.run_seconds = None  # restartPolicy Always: containers restart, pod stays
        self._pods[state.key] = state
        self._phases[state.phase] += 1
        self._make_claims(state)
        if pod.spec.scheduler_name not in ("", _SCHEDULER):
            # another scheduler's pod: kube-scheduler leaves it alone, and so does this one
            self.notes.append(
                f"pod {namespace}/{name}: schedulerName {pod.spec.scheduler_name!r} is not "
                f"{_SCHEDULER}: not scheduled"
            )
            return
        self._enqueue(state)

    def _make_claims(self, state: _PodState) -> None:
        """Make the claims of the pod's templates (the claim controller's syncPod)."""
        pod = state.pod
        for pc in pod.spec.resource_claims:
            if pc.name in state.claim_names:
                continue
            group_claim = group_claim_name(self, state, pc)
            if group_claim is not None:
                # the PodGroup's claim (KEP-5729): made for the group, reserved for it
                if group_claim:
                    state.claim_names[pc.name] = group_claim
                    state.group_claims.add(pc.name)
                continue
            if pc.resource_claim_name is not None:
                state.claim_names[pc.name] = pc.resource_claim_name
                continue
            if pc.resource_claim_template_name is None or pc.name in state.claim_names:
                continue
            template = self.cluster.get(
                "ResourceClaimTemplate", pc.resource_claim_template_name, state.namespace
            )
            if template is None:
                continue  # the controller retries when the template appears
            assert isinstance(template, ResourceClaimTemplate)
            base = controller.generate_name(state.name, pc.name)
            name = self._generate(
                state.namespace,
                base,
                lambda n: self.cluster.get("ResourceClaim", n, state.namespace) is not None,
            )
            claim = controller.claim_for_pod(
                pod,
                pc.name,
                template,
                name,
                base,
                uid(self.seed, "ResourceClaim", state.namespace, name),
            )
            self.cluster.apply(claim)
            state.claim_names[pc.name] = name

    def _generate(self, namespace: str, base: str, taken: Callable[[str], bool]) -> str:
        """Complete a generateName; a name once given is not given again (like random ones)."""
        used = self._generated
        name = generated_name(
            self.seed, namespace, base, lambda n: (namespace, n) in used or taken(n)
        )
        used.add((namespace, name))
        return name

    def _enqueue(self, state: _PodState) -> None:
        state.queue_gen += 1
        state.queued = "active"
        self._unschedulable.discard(state.key)
        heapq.heappush(self._active, (-state.info.priority, state.seq, state.queue_gen, state.key))

    def _backoff(self, state: _PodState) -> float:
        return min(INITIAL_BACKOFF * 2.0 ** max(state.attempts - 1, 0), MAX_BACKOFF)

    def _wake(self) -> None:
        """Move waiting pods on after an event that may help them (MoveAllToActiveOrBackoff)."""
        if not self._unschedulable:
            return
        for key in sorted(self._unschedulable, key=lambda k: self._pods[k].seq):
            state = self._pods[key]
            ready = state.last_attempt + self._backoff(state)
            if ready <= self._now:
                self._enqueue(state)
            else:
                state.queue_gen += 1
                state.queued = "backoff"
                heapq.heappush(
                    self._timeline,
                    (ready, next(self._order), "backoff", (key, state.queue_gen)),
                )
        self._unschedulable.clear()

    def _remove_pod(self, state: _PodState, *, deleted: bool) -> None:
        """Release a deleted or finished pod's claims (the claim controller)."""
        if deleted and state.phase == "Running":
            for container in state.pod.spec.containers:
                self._event(
                    "Normal",
                    "Killing",
                    "Pod",
                    state.namespace,
                    state.name,
                    f"Stopping container {container.name}",
                    _KUBELET,
                )
        if deleted:
            if self._pods.pop(state.key, None) is not None:
                self._phases[state.phase] -= 1
            self._unschedulable.discard(state.key)
            state.queued = ""
            state.queue_gen += 1
        names = list(dict.fromkeys([*state.claim_names.values(), state.extended_claim]))
        for name in names:
            if not name:
                continue
            claim = self.cluster.get("ResourceClaim", name, state.namespace)
            if claim is None:
                continue
            if controller.is_owned_by(claim, state.uid):
                self.cluster.delete(claim)
                self._track_claim(claim, None)
                continue
            status = claim.status
            if status is None or not any(r.uid == state.uid for r in status.reserved_for):
                continue
            released = controller.without_consumer(claim, state.uid)
            self.cluster.apply(released)
            self._track_claim(claim, released)
        if state.node or state.waiting_node:
            self._forget(state, state.node or state.waiting_node)
            state.waiting_node = ""
        if state.group_claims:
            group = pod_group_key(state.pod)
            if group in self._deleted_groups:
                release_pod_group(self, group)
        if state.owner is not None and state.owner in self._workloads:
            self._dirty_workloads.add(state.owner)
        self._wake()

    # --- workload controllers ------------------------------------------------------------

    def _sync_workloads(self) -> None:
        while self._dirty_workloads:
            key = min(self._dirty_workloads)
            self._dirty_workloads.discard(key)
            workload = self._workloads.get(key)
            if workload is not None:
                self._sync_workload(key, workload)

    def _owned(self, key: tuple[str, str, str]) -> list[_PodState]:
        return sorted((s for s in self._pods.values() if s.owner == key), key=lambda s: s.seq)

    def _sync_workload(self, key: tuple[str, str, str], workload: Workload) -> None:
        owned = self._owned(key)
        live = [s for s in owned if s.phase in ("Pending", "Running")]
        kind = workload.kind
        if kind in ("Deployment", "ReplicaSet"):
            rs = workload.owner_name or workload.name
            labels = {"pod-template-hash": rs.rsplit("-", 1)[-1]} if workload.owner_name else {}
            for _ in range(workload.replicas - len(live)):
                base = f"{rs}-"
                name = self._generate(
                    workload.namespace,
                    base,
                    lambda n: (workload.namespace, n) in self._pods,
                )
                self._create_owned(
                    workload,
                    key,
                    name,
                    labels,
                    None,
                    "ReplicaSet",
                    rs,
                    "replicaset-controller",
                    f"Created pod: {name}",
                )
            for state in live[workload.replicas :][::-1]:
                self._remove_pod(state, deleted=True)
        elif kind == "StatefulSet":
            have = {s.index for s in live}
            for ordinal in range(workload.replicas):
                if ordinal in have:
                    continue
                if workload.ordered and any(
                    s.phase != "Running" for s in live if (s.index or 0) < ordinal
                ):
                    break
                name = f"{workload.name}-{ordinal}"
                self._create_owned(
                    workload,
                    key,
                    name,
                    {
                        "statefulset.kubernetes.io/pod-name": name,
                        "apps.kubernetes.io/pod-index": str(ordinal),
                    },
                    ordinal,
                    kind,
                    workload.name,
                    "statefulset-controller",
                    f"create Pod {name} in StatefulSet {workload.name} successful",
                )
                have.add(ordinal)
                if workload.ordered:
                    break
            for state in [s for s in live if (s.index or 0) >= workload.replicas][::-1]:
                self._remove_pod(state, deleted=True)
        elif kind == "Job":
            workload.succeeded = sum(1 for s in owned if s.phase == "Succeeded")
            if workload.complete:
                return
            if workload.succeeded >= workload.completions:
                workload.complete = True
                self._event(
                    "Normal",
                    "Completed",
                    kind,
                    workload.namespace,
                    workload.name,
                    "Job completed",
                    "job-controller",
                )
                return
            remaining = workload.completions - workload.succeeded - len(live)
            for _ in range(min(workload.parallelism - len(live), remaining)):
                index = workload.next_index
                workload.next_index += 1
                labels = {
                    "batch.kubernetes.io/job-name": workload.name,
                    "job-name": workload.name,
                    "batch.kubernetes.io/controller-uid": workload.uid,
                    "controller-uid": workload.uid,
                }
                base = f"{workload.name}-"
                if workload.indexed:
                    base = f"{workload.name}-{index}-"
                    labels["batch.kubernetes.io/job-completion-index"] = str(index)
                name = self._generate(
                    workload.namespace,
                    base,
                    lambda n: (workload.namespace, n) in self._pods,
                )
                self._create_owned(
                    workload,
                    key,
                    name,
                    labels,
                    index,
                    kind,
                    workload.name,
                    "job-controller",
                    f"Created pod: {name}",
                )

    def _create_owned(
        self,
        workload: Workload,
        key: tuple[str, str, str],
        name: str,
        labels: Mapping[str, str],
        index: int | None,
        event_kind: str,
        event_name: str,
        source: str,
        message: str,
    ) -> None:
        from dra_core.io import parse_object

        data = workload.pod_dict(name, labels)
        pod = parse_object(data, "Pod", defaults=True, validate=True, source=workload.name)
        assert isinstance(pod, Pod)
        self._event(
            "Normal",
            "SuccessfulCreate",
            event_kind,
            workload.namespace,
            event_name,
            message,
            source,
        )
        self._add_pod(pod, owner=key, index=index)

    # --- the scheduler ---------------------------------------------------------------

    def _settle(self) -> None:
        """Do everything that happens at the current instant (controllers, scheduling)."""
        while True:
            self._sync_workloads()
            if not self._active:
                break
            _, _, gen, key = heapq.heappop(self._active)
            state = self._pods.get(key)
            if state is None or state.queue_gen != gen or state.queued != "active":
                continue
            state.queued = ""
            self._schedule_one(state)
            if self._progress is not None and self._attempts % 256 == 0:
                self._progress(self)
        self._sample()

    def _pod_claims(self, state: _PodState) -> tuple[list[ResourceClaim], str]:
        """DynamicResources PreFilter: the pod's claims, or the reason it cannot go on."""
        claims: list[ResourceClaim] = []
        seen: set[str] = set()
        for pc in state.pod.spec.resource_claims:
            if pc.resource_claim_name is None and pc.resource_claim_template_name is None:
                return [], (
                    f'pod "{state.namespace}/{state.name}", spec.resourceClaim '
                    f'"{pc.name}": none of the supported fields are set'
                )
            name = state.claim_names.get(pc.name)
            if name is None:
                return [], f'pod "{state.namespace}/{state.name}": ResourceClaim not created yet'
            if name in seen:
                continue
            seen.add(name)
            claim = self.cluster.get("ResourceClaim", name, state.namespace)
            if claim is None:
                return [], f'resourceclaim.resource.k8s.io "{name}" not found'
            assert isinstance(claim, ResourceClaim)
            if (
                pc.resource_claim_template_name is not None
                and pc.name not in state.group_claims
                and not controller.is_owned_by(claim, state.uid)
            ):
                return [], (
                    f"ResourceClaim {state.namespace}/{name} was not created for pod "
                    f"{state.namespace}/{state.name} (pod is not owner)"
                )
            status = claim.status
            if status is not None and status.allocation is not None:
                consumer = self._consumer(state, pc.name)
                mine = any(r.uid == consumer.uid for r in status.reserved_for)
                if not mine and len(status.reserved_for) >= controller.MAX_CONSUMERS:
                    return [], "resourceclaim in use"
            else:
                for request in claim.spec.devices.requests if claim.spec.devices else []:
                    specs: list[tuple[str, Any]] = (
                        [(request.name, request.exactly)] if request.exactly else []
                    )
                    specs += [
                        (f"{request.name}/{s.name}", s) for s in request.first_available or []
                    ]
                    for rname, spec in specs:
                        cname = spec.device_class_name if spec is not None else ""
                        if cname and self.cluster.get("DeviceClass", cname) is None:
                            return [], f"request {rname}: device class {cname} does not exist"
            claims.append(claim)
        extended = self._extended_claim(state)
        if extended is not None:
            claims.append(extended)
        return claims, ""

    def _extended_claim(self, state: _PodState) -> ResourceClaim | None:
        backed = {r: c for r, c in self._backed.items() if r not in self._classic_extended}
        if not backed:
            return None
        wanted = [r for r in state.info.requests if r in backed]
        if not wanted:
            return None
        if state.extended_claim:
            existing = self.cluster.get("ResourceClaim", state.extended_claim, state.namespace)
            if existing is not None:
                assert isinstance(existing, ResourceClaim)
                return existing
        base = f"{state.name}-extended-resources-"
        name = state.extended_claim or self._generate(
            state.namespace,
            base,
            lambda n: self.cluster.get("ResourceClaim", n, state.namespace) is not None,
        )
        made = controller.extended_resource_claim(
            state.pod, backed, name, base, uid(self.seed, "ResourceClaim", state.namespace, name)
        )
        if made is None:
            return None
        state.extended_claim = name
        return made[0]

    def _schedule_one(self, state: _PodState) -> None:
        """One scheduling cycle: PreFilter, Filter, Score, Reserve, Bind."""
        policy = None
        if self._gang_objects:
            policy = gang_policy(state.pod, self._gang_objects.values())
            if policy is not None:
                if self.gang_scheduling == "joint":
                    schedule_gang(self, state, policy)
                    return
                if not pre_enqueue(self, state, policy):
                    return
        self._attempts += 1
        claims, prefilter = self._pod_claims(state)
        names = self._node_list
        total = len(names)
        if prefilter:
            self._unschedulable_pod(state, fit_error(total, {}, set(), prefilter=prefilter))
            return
        try:
            feasible, reasons, unresolvable = self._find_nodes(state, claims)
        except InputError as err:
            message = f'running "DynamicResources" filter plugin: {err}'
            self._unschedulable_pod(state, message)
            return
        if not feasible:
            if total == 0:
                message = "no nodes available to schedule pods"
            else:
                message = fit_error(
                    total, reasons, unresolvable, preemption=self._preemption_blind(state)
                )
            self._unschedulable_pod(state, message)
            return
        node = self._select(state, feasible, claims)
        if not self._reserve(state, claims, node):
            return
        if policy is not None:
            permit(self, state, policy, node)  # binds, or waits at Permit
            return
        self._bind(state, node)

    def _preemption_blind(self, state: _PodState) -> bool:
        # The "no victims" text is only true when no bound pod has a lower priority.
        priority = state.info.priority
        return not any(p < priority for p, n in self._bound_priorities.items() if n > 0)

    def _find_nodes(
        self, state: _PodState, claims: list[ResourceClaim]
    ) -> tuple[list[str], dict[str, list[str]], set[str]]:
        """Filter nodes from kube-scheduler's rotating start until enough are feasible.

        kube-scheduler looks at nodes from where the previous pod stopped and stops
        once it has ``numFeasibleNodesToFind`` feasible nodes; the nodes after the last
        one it needed were not looked at and give no reason. Here the classic filters
        run per node (their name-independent part once per node group and pod), then
        Cluster.filter on the nodes that pass, chunk by chunk.
        """
        names = self._node_list
        total = len(names)
        if total == 0:
            return [], {}, set()
        to_find = num_feasible_nodes_to_find(total, self.percentage)
        start = self._next_start % total
        info = state.info
        static_key = info.static_key()
        node_name = info.node_name
        requests = {
            k: v
            for k, v in info.requests.items()
            if k not in self._backed or k in self._classic_extended
        }
        nodes = self._nodes
        verdicts: dict[int, tuple[str, bool, bool]] = {}
        reasons: dict[str, list[str]] = {}
        unresolvable: set[str] = set()
        feasible: list[str] = []
        position = 0
        last_chunk: list[str] = []
        dra = bool(claims)
        while position < total and len(feasible) < to_find:
            # as many nodes as should give the feasible nodes still needed, judging by
            # how many of the nodes so far were feasible (fewer calls when most are full)
            needed = to_find - len(feasible)
            if position and len(feasible) < position:
                needed = needed * position // max(len(feasible), 1)
            end = min(position + max(needed, 32), total)
            chunk = [names[(start + i) % total] for i in range(position, end)]
            position = end
            passing: list[str] = []
            for name in chunk:
                node = nodes[name]
                verdict = verdicts.get(node.group)
                if verdict is None:
                    verdict = self._verdict(info, static_key, node)
                    verdicts[node.group] = verdict
                reason = verdict[0]
                if reason and verdict[2]:
                    reasons[name] = [reason]
                elif node_name and node_name != name:
                    reasons[name] = [NODE_NAME]
                    unresolvable.add(name)
                    continue
                elif reason:
                    reasons[name] = [reason]
                else:
                    allocatable = node.allocatable
                    if allocatable is not None:
                        if requests:
                            why = resources_reasons(requests, allocatable, node.used, node.pods)
                        else:  # only the pod count can stop a pod that requests nothing
                            limit = allocatable.get("pods")
                            why = (
                                [TOO_MANY_PODS] if limit is not None and node.pods >= limit else []
                            )
                        if why:
                            reasons[name] = why
                            continue
                    passing.append(name)
                    continue
                if verdict[1]:
                    unresolvable.add(name)
            if dra and passing:
                view = self.cluster.filter(claims, nodes=passing, engine=self.engine)
                if len(view.feasible) != len(passing):
                    fits = set(view.feasible)
                    for name in passing:
                        if name not in fits:
                            reasons[name] = [view.reasons[name]]
                            if name in view.unresolvable:
                                unresolvable.add(name)
                passing = list(view.feasible)
            need = to_find - len(feasible)
            feasible.extend(passing[:need])
            last_chunk = chunk
        if len(feasible) >= to_find:
            # the nodes of the last chunk after the last feasible one were not looked at
            last = feasible[-1]
            cut = last_chunk.index(last)
            for name in last_chunk[cut + 1 :]:
                reasons.pop(name, None)
                unresolvable.discard(name)
            processed = position - (len(last_chunk) - cut - 1)
        else:
            processed = total
        self._next_start = (start + processed) % total
        return feasible, reasons, unresolvable

    def _verdict(self, info: PodInfo, static_key: Any, node: _Node) -> tuple[str, bool, bool]:
        """Run the name-independent filters on a node group: (reason, unresolvable, early).

        An empty reason passes. Cached per pod shape and node group.
        """
        cache_key = (static_key, node.group)
        verdict = self._static.get(cache_key)
        if verdict is None:
            early = static_reason(info, node.model)
            late = later_static_reason(info, node.model) if early is None else None
            if early is not None:
                verdict = (early[0], early[1], True)
            elif late is not None:
                verdict = (late[0], late[1], False)
            else:
                verdict = ("", False, False)
            if len(self._static) > 100_000:
                self._static.clear()
            self._static[cache_key] = verdict
        return verdict

    def _select(self, state: _PodState, feasible: list[str], claims: list[ResourceClaim]) -> str:
        """Score the feasible nodes; the highest wins, ties go to the first looked at.

        kube-scheduler breaks ties at random; the simulator takes the first, so that
        runs repeat.
        """
        if len(feasible) == 1:
            return feasible[0]
        best = feasible[0]
        best_score: float | None = None
        info = state.info
        nodes = self._nodes
        in_use = self._node_in_use
        memo: dict[tuple[int, int, int], int] = {}
        for name in feasible:
            if self.policy == "default":
                node = nodes[name]
                allocatable = node.allocatable
                if allocatable is None:
                    score: float = 0
                else:
                    # nodes of one group have the same allocatable resources
                    usage = (node.group, node.score_cpu, node.score_memory)
                    cached = memo.get(usage)
                    if cached is None:
                        cached = least_allocated(
                            info, allocatable, node.score_cpu, node.score_memory
                        )
                        memo[usage] = cached
                    score = cached
            elif self.policy == "pack":
                score = in_use[name]
            elif self.policy == "spread":
                score = -in_use[name]
            else:  # best-fit: the fewest devices left free
                score = -(self._node_devices[name] - in_use[name])
            if best_score is None or score > best_score:
                best, best_score = name, score
        return best

    def _consumer(self, state: _PodState, pod_claim: str) -> ResourceClaimConsumerReference:
        """Who a pod's claim is reserved for: the pod, or its PodGroup (KEP-5729)."""
        if pod_claim in state.group_claims:
            key = pod_group_key(state.pod)
            if key is not None and key in self._group_uids:
                return controller.pod_group_consumer(key[1], self._group_uids[key])
        return controller.pod_consumer(state.pod)

    def _reserve(self, state: _PodState, claims: list[ResourceClaim], node: str) -> bool:
        """Reserve and PreBind: allocate what is not allocated, add the consumer to reservedFor.

        The consumer is the pod, or its PodGroup for the group's claims (KEP-5729).
        """
        by_claim = {name: pc for pc, name in state.claim_names.items()}
        consumers = {
            c.metadata.name: self._consumer(state, by_claim.get(c.metadata.name, ""))
            for c in claims
        }
        pending = [c for c in claims if c.status is None or c.status.allocation is None]
        # One consumer for every pending claim (the usual case): reserved in one step.
        # Otherwise allocated together first, and each claim's consumer added below.
        who = {consumers[c.metadata.name].uid: consumers[c.metadata.name] for c in pending}
        try:
            reserved = (
                self.cluster.reserve(
                    pending,
                    node,
                    engine=self.engine,
                    reserved_for=list(who.values()) if len(who) == 1 else (),
                )
                if pending
                else []
            )
        except ReservationError as err:
            self._unschedulable_pod(state, f'running Reserve plugin "DynamicResources": {err}')
            return False
        for new in reserved:
            self._track_claim(None, new)  # unallocated before: it held no devices
        if len(who) > 1:
            claims = [self._stored(c) or c for c in claims]
        for claim in claims:
            status = claim.status
            if status is None or status.allocation is None:
                continue
            consumer = consumers[claim.metadata.name]
            if any(r.uid == consumer.uid for r in status.reserved_for):
                continue
            status = status.model_copy(update={"reserved_for": [*status.reserved_for, consumer]})
            self.cluster.apply(claim.model_copy(update={"status": status}))
        return True

    def _assume(self, state: _PodState, node_name: str) -> None:
        """Count the pod on the node (the scheduler's cache), bound or waiting at Permit.

        Every assume has exactly one matching :meth:`_forget`, or the release of a
        bound pod in :meth:`_remove_pod`.
        """
        self._bound_priorities[state.info.priority] += 1
        node = self._nodes[node_name]
        node.pods += 1
        for k, v in state.info.requests.items():
            node.used[k] = node.used.get(k, 0) + v
        node.score_cpu += state.info.score_cpu
        node.score_memory += state.info.score_memory

    def _forget(self, state: _PodState, node_name: str) -> None:
        """Undo :meth:`_assume` (a pod that waited at Permit and was rejected, or deleted)."""
        self._bound_priorities[state.info.priority] -= 1
        node = self._nodes.get(node_name)
        if node is not None:
            node.pods -= 1
            for k, v in state.info.requests.items():
                node.used[k] = node.used.get(k, 0) - v
            node.score_cpu -= state.info.score_cpu
            node.score_memory -= state.info.score_memory

    def _bind(self, state: _PodState, node_name: str) -> None:
        if state.waiting_node != node_name:
            self._assume(state, node_name)
        state.waiting_node = ""
        state.node = node_name
        state.message = ""
        self._event(
            "Normal",
            "Scheduled",
            "Pod",
            state.namespace,
            state.name,
            f"Successfully assigned {state.namespace}/{state.name} to {node_name}",
            _SCHEDULER,
        )
        if self.kubelet_delay > 0:
            self._at(self._now + self.kubelet_delay, "start", (state.key, state.uid))
        else:
            self._start(state)

    def _start(self, state: _PodState) -> None:
        """Start the pod's containers (the kubelet)."""
        self._phases[state.phase] -= 1
        state.phase = "Running"
        self._phases["Running"] += 1
        state.start_time = self._now
        for container in state.pod.spec.containers:
            self._event(
                "Normal",
                "Started",
                "Pod",
                state.namespace,
                state.name,
                f"Started container {container.name}",
                _KUBELET,
            )
        if state.run_seconds is not None:
            self._at(self._now + state.run_seconds, "finish", (state.key, state.uid))
        if state.owner is not None and state.owner[0] == "StatefulSet":
            self._dirty_workloads.add(state.owner)

    def _unschedulable_pod(self, state: _PodState, message: str) -> None:
        state.attempts += 1
        state.last_attempt = self._now
        state.message = message
        state.queued = "unschedulable"
        self._unschedulable.add(state.key)
        self._event(
            "Warning", "FailedScheduling", "Pod", state.namespace, state.name, message, _SCHEDULER
        )

    # --- time ------------------------------------------------------------------------------

    def run(
        self,
        until: float | str | None = None,
        *,
        progress: Callable[[Simulator], None] | None = None,
    ) -> None:
        """Advance simulated time until nothing more can happen, or until ``until``.

        Pods are scheduled, started, finished and retried as their events come due;
        ``progress`` (if given) is called after every instant of simulated time, every
        256 scheduling attempts and at the end.
        """
        limit = None if until is None else parse_duration(until)
        self._progress = progress
        try:
            self._run(limit)
        finally:
            self._progress = None
        if progress is not None:
            progress(self)

    def _run(self, limit: float | None) -> None:
        progress = self._progress
        self._settle()
        while self._timeline:
            when = self._timeline[0][0]
            if limit is not None and when > limit:
                break
            self._now = max(self._now, when)
            while self._timeline and self._timeline[0][0] <= self._now:
                _, _, action, payload = heapq.heappop(self._timeline)
                self._due(action, payload)
            self._settle()
            if progress is not None:
                progress(self)
        if limit is not None and limit > self._now:
            self._now = limit
            self._sample()

    def _due(self, action: str, payload: Any) -> None:
        if action == "apply":
            self._apply(payload)
        elif action == "delete":
            self._delete(payload)
        elif action == "backoff":
            key, gen = payload
            state = self._pods.get(key)
            if state is not None and state.queue_gen == gen and state.queued == "backoff":
                self._enqueue(state)
        elif action == "permit":
            permit_timeout(self, payload)
        elif action in ("start", "finish"):
            key, pod_uid = payload
            state = self._pods.get(key)
            if state is None or state.uid != pod_uid:
                return
            if action == "start" and state.phase == "Pending":
                self._start(state)
            elif action == "finish" and state.phase == "Running":
                self._phases["Running"] -= 1
                state.phase = "Succeeded"
                self._phases["Succeeded"] += 1
                self._remove_pod(state, deleted=False)

    def _event(
        self,
        type_: str,
        reason: str,
        kind: str,
        namespace: str,
        name: str,
        message: str,
        source: str,
    ) -> None:
        self._events.append(Event(self._now, type_, reason, kind, namespace, name, message, source))

    def _sample(self) -> None:
        running, pending = self._phases["Running"], self._phases["Pending"]
        sample = Sample(self._now, len(self._in_use), self._devices_total, running, pending)
        if self._samples and self._samples[-1].time == self._now:
            self._samples[-1] = sample
        else:
            self._samples.append(sample)

    def __repr__(self) -> str:
        phases = Counter(s.phase for s in self._pods.values())
        text = ", ".join(f"{k}={v}" for k, v in sorted(phases.items()))
        return f"Simulator(now={self._now:g}s, pods: {text or 'none'})"
