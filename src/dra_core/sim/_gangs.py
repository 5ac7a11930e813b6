"""Gangs in the simulator: pods of a PodGroup or Workload pod group scheduled all at once.

kube-scheduler's gang scheduling (KEP-4671) holds a group's pods until ``minCount`` of
them are there, then schedules them together or not at all. The simulator does the
same with :func:`~dra_core.cluster._gang.place_gang`: the members' devices are placed
jointly (not one pod after another), committed through the Cluster and the pods bound
together. The wording of the waiting message is dra-core's.

A PodGroup's own ResourceClaims (KEP-5729, Kubernetes 1.36) are kept here too: the
claim controller makes one claim per ``resourceClaimTemplateName`` of the PodGroup
(owned by it), a pod's claim that matches one of its PodGroup's claims exactly is that
claim, reserved for the PodGroup; when the PodGroup is deleted and none of its pods
uses the claims any more, the PodGroup leaves ``reservedFor`` (the claim is
deallocated when nobody is left) and the claims made for it are deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dra_core.api import ResourceClaim, ResourceClaimTemplate
from dra_core.cluster._gang import GangPolicy, explain_gang, gang_policy_for_pod, place_gang
from dra_core.errors import AllocationAborted, InputError
from dra_core.sim import _controller as controller
from dra_core.sim._names import uid
from dra_core.sim._scheduler import resources_reasons

if TYPE_CHECKING:
    from dra_core.sim._sim import Simulator, _PodState

__all__ = [
    "GANG_KINDS",
    "GANG_SCHEDULING",
    "PERMIT_TIMEOUT",
    "gang_policy",
    "group_claim_name",
    "is_gang_object",
    "permit",
    "permit_timeout",
    "pod_group_key",
    "pre_enqueue",
    "release_pod_group",
    "schedule_gang",
    "sync_pod_group",
    "waiting_message",
]

#: The Workload API's kinds the simulator keeps (KEP-4671, KEP-5729).
GANG_KINDS = ("PodGroup", "Workload")
#: How the simulator schedules gangs: ``joint`` (place_gang, all at once) or
#: ``kube-scheduler`` (the GangScheduling plugin: one by one, waiting at Permit).
GANG_SCHEDULING = ("joint", "kube-scheduler")
#: kube-scheduler's DefaultSchedulingTimeoutDuration: how long a gang's pods wait at
#: Permit for ``minCount`` of them (pkg/scheduler, 1.35 and 1.36), in seconds.
PERMIT_TIMEOUT = 300.0


def is_gang_object(doc: Mapping[str, Any]) -> bool:
    """Whether ``doc`` is a ``scheduling.k8s.io`` PodGroup or Workload."""
    api = str(doc.get("apiVersion") or "")
    return doc.get("kind") in GANG_KINDS and api.startswith("scheduling.k8s.io/")


def gang_policy(pod: Any, objects: Iterable[Mapping[str, Any]]) -> GangPolicy | None:
    """Return the pod's gang policy, or None when it is scheduled alone.

    Cheap for pods that name no group (no dump of the pod).
    """
    extra = pod.spec.model_extra or {}
    if "schedulingGroup" not in extra and "workloadRef" not in extra:
        return None
    policy = gang_policy_for_pod(pod, objects)
    if policy is None or not policy.is_gang:
        return None
    return policy


def waiting_message(group: str, present: int, min_count: int) -> str:
    """Return the FailedScheduling message of a gang below ``minCount`` (dra-core's wording)."""
    return f"pod group {group} is waiting for its minCount: {present} of {min_count} pods present"


def _node_requests(sim: Simulator, state: _PodState) -> dict[str, int]:
    """Return the pod's requests that NodeResourcesFit checks (not DRA-backed ones)."""
    return {
        k: v
        for k, v in state.info.requests.items()
        if k not in sim._backed or k in sim._classic_extended
    }


class _NodeResources:
    """NodeResourcesFit for the gang members placed on one node together.

    kube-scheduler checks one pod at a time against what the node has left; members
    placed together must fit together: their requests add up, and each is one pod.
    Keys are capped at what all the members together ask for, so that nodes with more
    room than the whole gang needs look alike (the answer is the same for every set).
    """

    def __init__(self, sim: Simulator, members: list[_PodState]) -> None:
        self.sim = sim
        self.requests = [_node_requests(sim, m) for m in members]
        self.total: dict[str, int] = {}
        for requests in self.requests:
            for k, v in requests.items():
                self.total[k] = self.total.get(k, 0) + v

    def member_key(self, member: int) -> Any:
        return tuple(sorted(self.requests[member].items()))

    def node_key(self, node: str) -> Any:
        entry = self.sim._nodes[node]
        if entry.allocatable is None:
            return None
        parts: list[Any] = []
        for name, want in sorted(self.total.items()):
            have = entry.allocatable.get(name)
            free = None if have is None else min(have - entry.used.get(name, 0), want)
            parts.append((name, free))
        limit = entry.allocatable.get("pods")
        room = None if limit is None else min(limit - entry.pods, len(self.requests))
        return (tuple(parts), room)

    def reasons(self, node: str, members: Sequence[int]) -> list[str]:
        entry = self.sim._nodes[node]
        together: dict[str, int] = {}
        for m in members:
            for k, v in self.requests[m].items():
                together[k] = together.get(k, 0) + v
        # as one pod of the summed requests, with the other members already on the node
        return resources_reasons(
            together, entry.allocatable, entry.used, entry.pods + max(len(members) - 1, 0)
        )


def _classic_ok(sim: Simulator, state: _PodState, name: str) -> bool:
    """Return whether the classic filters (taints, selectors, resources) pass on ``name``."""
    node = sim._nodes[name]
    info = state.info
    verdict = sim._verdict(info, info.static_key(), node)
    if verdict[0]:
        return False
    if info.node_name and info.node_name != name:
        return False
    requests = _node_requests(sim, state)
    if node.allocatable is None:
        return True
    return not resources_reasons(requests, node.allocatable, node.used, node.pods)


def schedule_gang(sim: Simulator, state: _PodState, policy: GangPolicy) -> None:
    """Schedule the gang of ``state``: all its present members at once, or none."""
    sim._attempts += 1
    objects = sim._gang_objects.values()
    members = sorted(
        (
            s
            for s in sim._pods.values()
            if s.phase == "Pending"
            and not s.node
            and s.pod.spec.scheduler_name in ("", "default-scheduler")
            and gang_policy(s.pod, objects) == policy
        ),
        key=lambda s: s.seq,
    )
    # kube-scheduler's GangScheduling: PreEnqueue counts every pod of the group, Permit
    # the assumed or assigned ones; members bound already (a gang that started with
    # minCount, joined by a late pod) count towards minCount.
    bound = sum(
        1
        for s in sim._pods.values()
        if s.node
        and s.phase in ("Pending", "Running")
        and s.pod.spec.scheduler_name in ("", "default-scheduler")
        and gang_policy(s.pod, objects) == policy
    )
    min_count = policy.min_count or 1
    if len(members) + bound < min_count:
        _fail(sim, members, waiting_message(policy.group, len(members) + bound, min_count))
        return
    needed = max(min_count - bound, 0)
    claims: list[list[Any]] = []
    for member in members:
        mine, prefilter = sim._pod_claims(member)
        if prefilter:
            _fail(sim, members, f"pod group {policy.group}: {member.name}: {prefilter}")
            return
        claims.append(mine)
    nodes = [n for n in sim._node_list if all(_classic_ok(sim, m, n) for m in members)]
    label = policy.topology_keys[0] if policy.topology_keys else None
    args: dict[str, Any] = {
        "min_count": needed,
        "node_fit": _NodeResources(sim, members),
        "same_node_label": label,
        "nodes": nodes,
        "engine": sim.engine,
    }
    try:
        placement = place_gang(sim.cluster, claims, **args) if nodes else None
        if placement is None:
            if nodes:
                why = explain_gang(sim.cluster, claims, **args).describe()
                text = "; ".join(line.strip(" -") for line in why.splitlines())
            else:
                text = "no node passes the classic filters for all members"
            _fail(sim, members, f"pod group {policy.group}: {text}")
            return
    except InputError as err:
        _fail(sim, members, f"pod group {policy.group}: {err}")
        return
    except AllocationAborted as err:
        # place_gang's search budget ran out: not decided, so the gang waits and is
        # tried again on the next helpful event (never taken for "does not fit").
        _fail(sim, members, f"pod group {policy.group}: not decided: {err}")
        return
    allocated = placement.allocated_claims()
    if allocated:
        sim.cluster.apply(*allocated)
        for claim in allocated:
            sim._track_claim(None, sim._stored(claim))
    left: list[_PodState] = []
    for member, node in zip(members, placement.nodes, strict=True):
        if node is None:
            left.append(member)
            continue
        sim._unschedulable.discard(member.key)
        member.queued = ""
        member.queue_gen += 1
        mine, _ = sim._pod_claims(member)  # allocated now: Reserve adds reservedFor only
        if sim._reserve(member, mine, node):
            sim._bind(member, node)
    if left:
        _fail(sim, left, f"pod group {policy.group}: not placed with the rest of its gang")


def _fail(sim: Simulator, members: list[_PodState], message: str) -> None:
    for member in members:
        sim._unschedulable_pod(member, message)


# --- a PodGroup's ResourceClaims (KEP-5729) ----------------------------------------------


def pod_group_key(pod: Any) -> tuple[str, str] | None:
    """Return ``(namespace, name)`` of the PodGroup the pod names (1.36), or None."""
    extra = pod.spec.model_extra or {}
    group = extra.get("schedulingGroup")
    if not isinstance(group, Mapping) or not group.get("podGroupName"):
        return None
    return (pod.metadata.namespace or "default", str(group["podGroupName"]))


def _group_entries(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = doc.get("spec") or {}
    return [e for e in spec.get("resourceClaims") or [] if isinstance(e, Mapping)]


def sync_pod_group(sim: Simulator, key: tuple[str, str]) -> None:
    """Make the claims of the PodGroup's templates (the claim controller).

    One claim per ``resourceClaimTemplateName`` entry, made once; an entry whose
    template does not exist yet is made when it appears. The names go into the
    PodGroup's ``status.resourceClaimStatuses``.
    """
    namespace, name = key
    doc = sim._gang_objects.get(("PodGroup", namespace, name))
    if doc is None:
        return
    made = sim._group_claims.setdefault(key, {})
    group_uid = sim._group_uids[key]
    changed = False
    for entry in _group_entries(doc):
        claim_name = str(entry.get("name") or "")
        template_name = entry.get("resourceClaimTemplateName")
        if not template_name or claim_name in made:
            continue
        template = sim.cluster.get("ResourceClaimTemplate", str(template_name), namespace)
        if template is None:
            continue  # the controller retries when the template appears
        assert isinstance(template, ResourceClaimTemplate)
        base = controller.generate_name(name, claim_name)
        generated = sim._generate(
            namespace,
            base,
            lambda n: sim.cluster.get("ResourceClaim", n, namespace) is not None,
        )
        claim = controller.claim_for_pod_group(
            doc,
            claim_name,
            template,
            generated,
            base,
            uid(sim.seed, "ResourceClaim", namespace, generated),
            group_uid,
        )
        sim.cluster.apply(claim)
        made[claim_name] = generated
        changed = True
    if changed:
        status = dict(doc.get("status") or {})
        status["resourceClaimStatuses"] = [
            {"name": n, "resourceClaimName": c} for n, c in sorted(made.items())
        ]
        sim._gang_objects[("PodGroup", namespace, name)] = {**doc, "status": status}


def group_claim_name(sim: Simulator, state: _PodState, pod_claim: Any) -> str | None:
    """Return the claim a pod claim resolves to through its PodGroup.

    None when the pod claim matches no claim of the pod's PodGroup (it is the pod's
    own); ``""`` when it matches a template entry whose claim is not made yet.
    """
    key = pod_group_key(state.pod)
    if key is None:
        return None
    doc = sim._gang_objects.get(("PodGroup", *key))
    if doc is None:
        return None
    for entry in _group_entries(doc):
        if (
            entry.get("name") == pod_claim.name
            and entry.get("resourceClaimName") == pod_claim.resource_claim_name
            and entry.get("resourceClaimTemplateName") == pod_claim.resource_claim_template_name
        ):
            if pod_claim.resource_claim_name is not None:
                return str(pod_claim.resource_claim_name)
            return sim._group_claims.get(key, {}).get(pod_claim.name, "")
    return None


def release_pod_group(sim: Simulator, key: tuple[str, str]) -> bool:
    """Release a deleted PodGroup's claims once none of its pods is bound.

    The PodGroup leaves ``reservedFor`` of its claims (a claim nobody else reserves is
    deallocated) and the claims made for it are deleted (they are owned by it).
    Returns False while some pod of the group still uses them (the PodGroup's
    finalizer: it stays until then).
    """
    namespace, _ = key
    group_uid, names = sim._deleted_groups[key]
    for state in sim._pods.values():
        if (
            state.node
            and state.phase in ("Pending", "Running")
            and state.group_claims
            and pod_group_key(state.pod) == key
        ):
            return False
    del sim._deleted_groups[key]
    for name in names:
        claim = sim.cluster.get("ResourceClaim", name, namespace)
        if claim is None:
            continue
        assert isinstance(claim, ResourceClaim)
        if controller.is_owned_by(claim, group_uid):
            # deallocated, then deleted by the garbage collector (owned by the group)
            sim.cluster.delete(claim)
            sim._track_claim(claim, None)
            continue
        status = claim.status
        if status is None or not any(r.uid == group_uid for r in status.reserved_for):
            continue
        released = controller.without_consumer(claim, group_uid)
        sim.cluster.apply(released)
        sim._track_claim(claim, released)
    return True


# --- kube-scheduler's GangScheduling plugin (gang_scheduling="kube-scheduler") ------------


def _group_pods(sim: Simulator, policy: GangPolicy) -> list[_PodState]:
    objects = sim._gang_objects.values()
    return sorted(
        (
            s
            for s in sim._pods.values()
            if s.phase in ("Pending", "Running")
            and s.pod.spec.scheduler_name in ("", "default-scheduler")
            and gang_policy(s.pod, objects) == policy
        ),
        key=lambda s: s.seq,
    )


def pre_enqueue(sim: Simulator, state: _PodState, policy: GangPolicy) -> bool:
    """GangScheduling's PreEnqueue: go on only when ``minCount`` pods of the group exist."""
    pods = _group_pods(sim, policy)
    if len(pods) < (policy.min_count or 1):
        sim._attempts += 1
        sim._unschedulable_pod(
            state, "waiting for minCount pods from a gang to appear in scheduling queue"
        )
        return False
    return True


def _go_duration(seconds: float) -> str:
    """Format whole seconds as Go's time.Duration does (``5m0s``)."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def permit(sim: Simulator, state: _PodState, policy: GangPolicy, node: str) -> None:
    """GangScheduling's Permit, after the pod's Reserve on ``node``.

    When ``minCount`` pods of the group are assumed (waiting here) or bound, this pod
    and every waiting one are bound; otherwise the pod waits, holding its node's
    resources and its devices, until the group's deadline (``PERMIT_TIMEOUT`` after the
    first wait; a new one once it has passed).
    """
    pods = _group_pods(sim, policy)
    waiting = [s for s in pods if s.waiting_node and s is not state]
    bound = [s for s in pods if s.node]
    if len(waiting) + len(bound) + 1 >= (policy.min_count or 1):
        sim._permit_deadlines.pop(policy.group, None)
        sim._bind(state, node)
        for other in waiting:
            sim._bind(other, other.waiting_node)
        return
    sim._assume(state, node)
    state.waiting_node = node
    state.message = "waiting for minCount pods from a gang to be waiting on permit"
    deadline = sim._permit_deadlines.get(policy.group)
    if deadline is None or deadline <= sim._now:
        deadline = sim._now + PERMIT_TIMEOUT
        sim._permit_deadlines[policy.group] = deadline
        sim._at(deadline, "permit", policy)
    # Permit activates the group's other unscheduled pods (they may complete the gang).
    for other in pods:
        if other.key in sim._unschedulable and not other.waiting_node and not other.node:
            sim._enqueue(other)


def permit_timeout(sim: Simulator, policy: GangPolicy) -> None:
    """Reject every pod of the group still waiting at Permit at its deadline, and free them."""
    deadline = sim._permit_deadlines.get(policy.group)
    if deadline is None or deadline > sim._now:
        return  # allowed in time, or a newer deadline
    del sim._permit_deadlines[policy.group]
    message = (
        f"rejected due to timeout after waiting {_go_duration(PERMIT_TIMEOUT)} "
        "at plugin GangScheduling"
    )
    pods = _group_pods(sim, policy)
    rejected = [s for s in pods if s.waiting_node]
    for state in rejected:
        # Unreserve: the pod leaves reservedFor; a claim nobody holds is deallocated.
        for name in dict.fromkeys([*state.claim_names.values(), state.extended_claim]):
            if not name:
                continue
            claim = sim.cluster.get("ResourceClaim", name, state.namespace)
            if claim is None or claim.status is None:
                continue
            assert isinstance(claim, ResourceClaim)
            consumer = sim._consumer(state, _pod_claim_of(state, name))
            if consumer.resource == "podgroups" and any(s.node for s in pods):
                continue  # the group's claim stays while some of its pods are bound
            if not any(r.uid == consumer.uid for r in claim.status.reserved_for):
                continue
            released = controller.without_consumer(claim, consumer.uid)
            sim.cluster.apply(released)
            sim._track_claim(claim, released)
        sim._forget(state, state.waiting_node)
        state.waiting_node = ""
    for state in rejected:
        sim._unschedulable_pod(state, message)


def _pod_claim_of(state: _PodState, claim_name: str) -> str:
    for pod_claim, name in state.claim_names.items():
        if name == claim_name:
            return pod_claim
    return ""
