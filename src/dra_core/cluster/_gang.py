"""Gangs: place a group of pods jointly, all of them or at least ``min_count``.

kube-scheduler places a gang's pods one by one, first fit, and never revisits an earlier
pod's devices (kubernetes/kubernetes#138765: two pods whose claims prefer a whole GPU and
accept half of one; the first takes the whole GPU, the second gets nothing, although two
halves would do). :func:`place_gang` decides for all members at once.

The model (why it is small)
===========================
A *member* is one pod's claims, to be placed on one node. Two facts keep the model small:

- **Member kinds.** Members that share a pending claim form one *unit* (one node, the
  claim allocated once); every other member is a unit of its own. Units whose pending
  claims have equal specs (and equal allocated claims) are interchangeable: a gang of 64
  workers is one kind with multiplicity 64.
- **Node groups.** Nodes with equal equivalence keys (:meth:`Cluster._key`: the same pools
  up to names, the same devices in use; made coarse for the gang's claims by
  ``Cluster._coarse_key``: devices no request can tell apart are counted, not named) give
  the same answer for any set of the gang's claims, so they are interchangeable for any
  set of members. A group also holds the value of the
  ``same_node_label`` and which kinds may go there (already allocated claims pin a member
  to the nodes their node selector admits).

For each group, the *patterns* are the vectors ``(n_1, ..., n_K)`` of how many members of
each kind fit together on one of its nodes. They are found with the exact per-node engine
(:func:`~dra_core.allocator.problem.build_problem` and the ``auto`` engine, complete):
the set is closed downwards (fewer members still fit), so the enumeration only extends
feasible vectors and only asks the engine about vectors whose lower neighbours all fit.
Devices, shared counters, consumable capacity and every per-claim constraint are the
engine's business; the master never sees a device.

The master is a small CP-SAT model: ``uses[g, p]`` nodes of group ``g`` hold pattern
``p`` (at most the group's size in all); each kind is placed at most as often as it has
members; at least ``min_count`` members are placed, as many as possible first; a chosen
label value (or device attribute value) switches its groups on. Its size grows with the
number of groups times their patterns, not with nodes or devices.

Exactness: a pattern found on a group's first node holds on every node of the group
*taken alone*, so the master is a relaxation: when it has no solution nothing fits, and
its optimum is at least as good as any placement. The placement is then allocated node
by node on a fork of the cluster, each node against the devices the earlier nodes took,
with the same engine; when that works, it is the best placement, and each member's
allocation is what the per-node allocator returns for those members on that node,
against that state (it passes
:func:`~dra_core.allocator.validator.validate_allocation`). Nodes interact only through
pools that several nodes see (``allNodes``, node selectors) and claims that members on
several nodes share; when a node fails for that reason, or the master's units (members
sharing a claim, kept on one node) may split, the exact search of
:mod:`~dra_core.cluster._gang_joint` decides, every node of an assignment at once.

Placing never changes the cluster: everything runs on forks. To commit, apply
:meth:`GangPlacement.allocated_claims` (the very devices found), or reserve each node's
members' claims together (one :meth:`Cluster.reserve` per node, never per member: that
would be kube-scheduler's one-by-one order again).
"""

from __future__ import annotations

import json
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from dra_core.allocator.engines import get_engine
from dra_core.allocator.problem import build_problem
from dra_core.allocator.search import check_abort
from dra_core.cluster._cluster import _allocated_elsewhere, _allocation, _claim_model, _freeze
from dra_core.cluster._gang_joint import JointSearch, _key_in_use
from dra_core.errors import AllocationTimeout, InputError

if TYPE_CHECKING:
    from dra_core.api import AllocationResult, Node, ResourceClaim
    from dra_core.cluster._cluster import Cluster

__all__ = [
    "GANG_POLICIES",
    "GangExplanation",
    "GangPlacement",
    "GangPolicy",
    "NodeFit",
    "PodGroupClaim",
    "PodGroupRef",
    "explain_gang",
    "gang_policy_for_pod",
    "place_gang",
    "pod_group_ref",
    "read_gang_policies",
]

#: Placement policies: ``pack`` (fewest nodes, nodes in use first, packed devices) and
#: ``spread`` (as many nodes as possible, untouched nodes first).
GANG_POLICIES = ("pack", "spread")

# Bounds on the pattern enumeration per group (engine calls and patterns kept). A gang
# that needs more raises AllocationTimeout: undecided, never "does not fit".
_MAX_CHECKS_PER_GROUP = 4096
_MAX_PATTERNS_PER_GROUP = 1024


class NodeFit(Protocol):
    """A node's resources besides devices, for a set of members placed on it together.

    kube-scheduler's NodeResourcesFit checks one pod at a time; members of a gang placed
    on one node together must fit together. ``reasons`` must be closed downwards (when
    a set of members fits, so does every subset), as requests that add up are.
    """

    def member_key(self, member: int) -> Hashable:
        """Return a value equal for members with equal demands (they are interchangeable)."""

    def node_key(self, node: str) -> Hashable:
        """Return a value equal for nodes that give equal answers for every set of members."""

    def reasons(self, node: str, members: Sequence[int]) -> list[str]:
        """Return why ``members`` do not fit on ``node`` together (empty: they fit)."""


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GangPlacement:
    """Where each member of a gang goes, with its devices.

    Attributes:
        nodes: per member, the node's name, or None for a member left out (only when
            ``min_count`` allows it).
        allocations: per member, one AllocationResult per claim in the member's order
            (claims that were allocated already keep theirs), or None when left out.
        policy: the placement policy used.
        label_value: the common value of ``same_node_label``, when one was asked for.
        attribute_value: the common value of ``same_device_attribute``, when asked for.
        optimal: True when CP-SAT proved the choice best for the policy.
        stats: sizes and counts of the model (kinds, groups, patterns, engine calls,
            master variables, rounds, seconds; with the exact search: search steps,
            joint checks, relaxations).

    """

    nodes: tuple[str | None, ...]
    allocations: tuple[tuple[AllocationResult, ...] | None, ...]
    policy: str
    label_value: str | None = None
    attribute_value: Any = None
    optimal: bool = True
    stats: Mapping[str, Any] = field(default_factory=dict, compare=False)
    # the members' claims as loaded (for allocated_claims)
    _claims: tuple[tuple[ResourceClaim, ...], ...] = field(default=(), repr=False, compare=False)

    @property
    def placed(self) -> int:
        """How many members are placed."""
        return sum(1 for n in self.nodes if n is not None)

    def allocated_claims(self) -> list[ResourceClaim]:
        """Return the placed members' pending claims with ``status.allocation`` set.

        ``cluster.apply(*placement.allocated_claims())`` commits exactly these devices.
        """
        from dra_core.api import ResourceClaimStatus

        out: list[ResourceClaim] = []
        seen: set[tuple[str, str]] = set()
        for claims, results in zip(self._claims, self.allocations, strict=True):
            if results is None:
                continue
            for claim, result in zip(claims, results, strict=True):
                if _allocation(claim) is not None:
                    continue
                key = (claim.metadata.namespace or "default", claim.metadata.name or "")
                if key[1] and key in seen:
                    continue  # a claim that members share is allocated once
                seen.add(key)
                status = claim.status or ResourceClaimStatus()
                out.append(
                    claim.model_copy(
                        update={"status": status.model_copy(update={"allocation": result})}
                    )
                )
        return out

    def members_on(self, node: str) -> list[int]:
        """Return the indices of the members placed on ``node``."""
        return [i for i, n in enumerate(self.nodes) if n == node]


@dataclass(frozen=True)
class GangExplanation:
    """Why a gang fits or not, at the level a user acts on.

    Attributes:
        fits: whether at least ``min_count`` members can be placed together.
        members: how many members the gang has.
        min_count: how many must be placed.
        placeable: the most members that can be placed together.
        left_out: members that cannot be placed together with the others (in the best
            placement found: the members it leaves out).
        reasons: English sentences, most useful first: members that fit on no node,
            the group constraint that runs out, the resource that runs out.

    """

    fits: bool
    members: int
    min_count: int
    placeable: int
    left_out: tuple[int, ...] = ()
    reasons: tuple[str, ...] = ()

    def describe(self) -> str:
        """Return the explanation as text, one fact per line."""
        head = (
            f"the gang fits: {self.placeable} of {self.members} members can be placed"
            if self.fits
            else (
                f"the gang does not fit: at most {self.placeable} of {self.members} members "
                f"can be placed together, {self.min_count} must be"
            )
        )
        return "\n".join([head, *(f"  - {r}" for r in self.reasons)])


# --- the Workload API (KEP-4671, KEP-5729) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PodGroupClaim:
    """A ResourceClaim of a pod group (KEP-5729): shared by the group's pods.

    Exactly one of ``resource_claim_name`` and ``resource_claim_template_name`` is set.
    """

    name: str
    resource_claim_name: str | None = None
    resource_claim_template_name: str | None = None


@dataclass(frozen=True, slots=True)
class GangPolicy:
    """The scheduling policy of one pod group, as the Workload API states it.

    Attributes:
        group: ``namespace/name`` of the PodGroup (1.36), or
            ``namespace/workload/podGroup[/replicaKey]`` (1.35's Workload pod groups).
        min_count: the gang's ``minCount``; None for the ``basic`` policy (pods are
            scheduled one by one).
        topology_keys: node label keys all pods must share a value of
            (``schedulingConstraints.topology[].key``; map the first to
            ``same_node_label``).
        resource_claims: the group's own claims (``resourceClaims``, KEP-5729).

    """

    group: str
    min_count: int | None
    topology_keys: tuple[str, ...] = ()
    resource_claims: tuple[PodGroupClaim, ...] = ()

    @property
    def is_gang(self) -> bool:
        """Whether the group is scheduled all at once (the ``gang`` policy)."""
        return self.min_count is not None


@dataclass(frozen=True, slots=True)
class PodGroupRef:
    """A pod's reference to its group.

    ``kind`` is ``"PodGroup"`` (1.36: ``spec.schedulingGroup.podGroupName``) or
    ``"Workload"`` (1.35: ``spec.workloadRef`` with ``podGroup`` and
    ``podGroupReplicaKey``).
    """

    kind: str
    namespace: str
    name: str
    pod_group: str = ""
    replica_key: str = ""

    @property
    def group(self) -> str:
        """The group's identity, as :attr:`GangPolicy.group` spells it."""
        if self.kind == "PodGroup":
            return f"{self.namespace}/{self.name}"
        tail = f"/{self.replica_key}" if self.replica_key else ""
        return f"{self.namespace}/{self.name}/{self.pod_group}{tail}"


def _plain(obj: Any) -> Mapping[str, Any]:
    if isinstance(obj, Mapping):
        return obj
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        out: Mapping[str, Any] = dump(by_alias=True, exclude_none=True, mode="json")
        return out
    to_dict = getattr(obj, "to_dict", None)
    if to_dict is not None:  # a kubernetes client object: snake_case keys
        camel: Mapping[str, Any] = _camel(to_dict())
        return camel
    raise TypeError(f"expected a dict or a model, got {type(obj).__name__}")


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            head, *rest = str(k).split("_")
            out[head + "".join(p[:1].upper() + p[1:] for p in rest)] = _camel(v)
        return out
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _policy_of(policy: Any) -> int | None:
    # {"gang": {"minCount": n}} or {"basic": {}}; an unset minCount is 1.
    if not isinstance(policy, Mapping):
        return None
    gang = policy.get("gang")
    if isinstance(gang, Mapping):
        count = gang.get("minCount")
        return int(count) if isinstance(count, int) and count > 0 else 1
    return None


def _topology(constraints: Any) -> tuple[str, ...]:
    if not isinstance(constraints, Mapping):
        return ()
    keys = []
    for item in constraints.get("topology") or []:
        if isinstance(item, Mapping) and isinstance(item.get("key"), str):
            keys.append(item["key"])
    return tuple(keys)


def _group_claims(items: Any) -> tuple[PodGroupClaim, ...]:
    out = []
    for item in items or []:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            out.append(
                PodGroupClaim(
                    item["name"],
                    item.get("resourceClaimName"),
                    item.get("resourceClaimTemplateName"),
                )
            )
    return tuple(out)


def read_gang_policies(obj: Any) -> dict[str, GangPolicy]:
    """Read the gang policies of a Workload or PodGroup (dict, model or client object).

    - ``scheduling.k8s.io/v1alpha2`` PodGroup (Kubernetes 1.36): ``spec.schedulingPolicy``
      (``gang.minCount`` or ``basic``), ``spec.schedulingConstraints.topology[].key``,
      ``spec.resourceClaims``; one entry, keyed by the PodGroup's name.
    - ``v1alpha2`` Workload: one entry per ``spec.podGroupTemplates[]`` (the templates
      PodGroups are made from), keyed by template name.
    - ``v1alpha1`` Workload (Kubernetes 1.35): one entry per ``spec.podGroups[]`` with its
      ``policy``, keyed by pod group name.

    Raises:
        ValueError: not a Workload or PodGroup.

    """
    doc = _plain(obj)
    kind = doc.get("kind")
    meta = doc.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    name = meta.get("name") or ""
    spec = doc.get("spec") or {}
    if kind == "PodGroup":
        return {
            name: GangPolicy(
                f"{namespace}/{name}",
                _policy_of(spec.get("schedulingPolicy")),
                _topology(spec.get("schedulingConstraints")),
                _group_claims(spec.get("resourceClaims")),
            )
        }
    if kind == "Workload":
        out: dict[str, GangPolicy] = {}
        for template in spec.get("podGroupTemplates") or []:
            tname = template.get("name") or ""
            out[tname] = GangPolicy(
                f"{namespace}/{name}/{tname}",
                _policy_of(template.get("schedulingPolicy")),
                _topology(template.get("schedulingConstraints")),
                _group_claims(template.get("resourceClaims")),
            )
        for group in spec.get("podGroups") or []:
            gname = group.get("name") or ""
            out[gname] = GangPolicy(f"{namespace}/{name}/{gname}", _policy_of(group.get("policy")))
        return out
    raise ValueError(f"expected a Workload or a PodGroup, got kind {kind!r}")


def pod_group_ref(pod: Any) -> PodGroupRef | None:
    """Return the pod's reference to its group, or None when it has none.

    Reads ``spec.schedulingGroup.podGroupName`` (Kubernetes 1.36) and
    ``spec.workloadRef`` (``name``, ``podGroup``, ``podGroupReplicaKey``; 1.35).
    """
    doc = _plain(pod)
    namespace = (doc.get("metadata") or {}).get("namespace") or "default"
    spec = doc.get("spec") or {}
    group = spec.get("schedulingGroup")
    if isinstance(group, Mapping) and group.get("podGroupName"):
        return PodGroupRef("PodGroup", namespace, str(group["podGroupName"]))
    ref = spec.get("workloadRef")
    if isinstance(ref, Mapping) and ref.get("name"):
        return PodGroupRef(
            "Workload",
            namespace,
            str(ref["name"]),
            str(ref.get("podGroup") or ""),
            str(ref.get("podGroupReplicaKey") or ""),
        )
    return None


def gang_policy_for_pod(pod: Any, objects: Iterable[Any]) -> GangPolicy | None:
    """Return the policy of the pod's group, from Workloads and PodGroups among ``objects``.

    None when the pod names no group, or its group object is not there (kube-scheduler
    then keeps the pod Pending until it exists). A 1.35 pod group replica
    (``podGroupReplicaKey``) is its own gang: the policy's ``group`` says which.
    """
    ref = pod_group_ref(pod)
    if ref is None:
        return None
    for obj in objects:
        doc = _plain(obj)
        meta = doc.get("metadata") or {}
        if (meta.get("namespace") or "default") != ref.namespace or meta.get("name") != ref.name:
            continue
        if doc.get("kind") != ref.kind:
            continue
        policies = read_gang_policies(doc)
        key = ref.name if ref.kind == "PodGroup" else ref.pod_group
        found = policies.get(key)
        if found is None:
            return None
        if ref.kind == "Workload":
            return GangPolicy(
                ref.group, found.min_count, found.topology_keys, found.resource_claims
            )
        return found
    return None


# --- the planner ---------------------------------------------------------------------------


@dataclass(eq=False)
class _Kind:
    """Units with equal claims: interchangeable."""

    index: int
    units: list[int]
    claims: tuple[ResourceClaim, ...]  # the first unit's claims (all of them)
    size: int  # members per unit


@dataclass(frozen=True)
class _Answer:
    """The master's answer: ``(group, value, pattern, nodes)`` choices and units dealt."""

    chosen: list[tuple[int, Any, int, int]]
    placed: list[int]
    deals: dict[tuple[int, Any, int, int], int]  # (group, value, pattern, kind) -> units
    optimal: bool


@dataclass(eq=False)
class _Group:
    """Nodes that are interchangeable for every member kind."""

    index: int
    nodes: list[str]
    label: str | None
    in_use: bool
    # what the patterns depend on: the node key and which kinds fit alone (not the label)
    shape: Any = None
    # per attribute value (None without that constraint): the feasible patterns
    patterns: dict[Any, list[tuple[int, ...]]] = field(default_factory=dict)


class _NoValue:
    """The attribute value tried when no device has the attribute: it selects nothing."""

    def __repr__(self) -> str:
        return "<no value>"


_NO_VALUE = _NoValue()


def _cel_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


def _restrict(claim: ResourceClaim, attribute: str, value: Any) -> ResourceClaim:
    """Return the claim with a selector that admits only devices with ``attribute == value``."""
    from dra_core.api import DeviceSelector

    domain, _, ident = attribute.rpartition("/")
    if value is _NO_VALUE:
        test = "false"
    elif isinstance(value, tuple):  # ("version", "1.2.3")
        test = f'device.attributes["{domain}"]["{ident}"] == semver({_cel_literal(value[1])})'
    else:
        test = f'device.attributes["{domain}"]["{ident}"] == {_cel_literal(value)}'
    expression = f'"{ident}" in device.attributes["{domain}"] && {test}'
    selector = DeviceSelector.model_validate({"cel": {"expression": expression}})
    devices = claim.spec.devices
    if devices is None:
        return claim
    requests = []
    for request in devices.requests or []:
        update: dict[str, Any] = {}
        if request.exactly is not None:
            update["exactly"] = request.exactly.model_copy(
                update={"selectors": [*(request.exactly.selectors or []), selector]}
            )
        if request.first_available:
            update["first_available"] = [
                sub.model_copy(update={"selectors": [*(sub.selectors or []), selector]})
                for sub in request.first_available
            ]
        requests.append(request.model_copy(update=update))
    spec = claim.spec.model_copy(
        update={"devices": devices.model_copy(update={"requests": requests})}
    )
    return claim.model_copy(update={"spec": spec})


def _attribute_values(problem: Any, attribute: str) -> set[Any]:
    """Return the values of ``attribute`` on the candidates of every request of ``problem``."""
    out: set[Any] = set()
    domain, _, ident = attribute.rpartition("/")
    for claim in problem.claims:
        for slot in claim.requests:
            for alt in slot.alternatives:
                for cand in alt.candidates:
                    info = problem.devices[cand.device]
                    attr = (info.entry.device.attributes or {}).get(attribute)
                    if attr is None and domain == info.id.driver:
                        attr = (info.entry.device.attributes or {}).get(ident)
                    if attr is None:
                        continue
                    if attr.string is not None:
                        out.add(attr.string)
                    elif attr.int_ is not None:
                        out.add(attr.int_)
                    elif attr.bool_ is not None:
                        out.add(attr.bool_)
                    elif attr.version is not None:
                        out.add(("version", str(attr.version)))
    return out


class _Planner:
    """One gang question against a snapshot (a fork) of the cluster."""

    def __init__(
        self,
        cluster: Cluster,
        members: Sequence[Sequence[Any]],
        *,
        min_count: int | None,
        policy: str,
        timeout: float | None,
        same_node_label: str | None,
        same_device_attribute: str | None,
        nodes: Iterable[str] | None,
        engine: str,
        cancel: Any,
        node_fit: NodeFit | None = None,
    ) -> None:
        if policy not in GANG_POLICIES:
            raise ValueError(
                f"unknown gang policy {policy!r}; known policies: {', '.join(GANG_POLICIES)}"
            )
        if same_device_attribute is not None and "/" not in same_device_attribute:
            raise ValueError(
                "same_device_attribute must be a fully qualified attribute name "
                f"(domain/id), got {same_device_attribute!r}"
            )
        self.members = [tuple(_claim_model(c) for c in member) for member in members]
        n = len(self.members)
        self.min_count = n if min_count is None else int(min_count)
        if not 0 <= self.min_count <= n:
            raise ValueError(f"min_count must be between 0 and {n} members, got {min_count}")
        self.policy = policy
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout is not None else None
        self.cancel = cancel
        self.node_fit = node_fit
        self.label = same_node_label
        self.attribute = same_device_attribute
        self.engine = engine
        self.snap = cluster.fork()  # placing never changes the cluster
        self.node_names = self.snap.node_names() if nodes is None else list(dict.fromkeys(nodes))
        self.stats: dict[str, Any] = {"engine_calls": 0}
        self._build_units()

    # --- plumbing ----------------------------------------------------------------------

    def check(self) -> None:
        check_abort(self.deadline, self.timeout, self.cancel)

    def _build_units(self) -> None:
        """Join members that share a pending claim into one unit, placed on one node.

        A claim is allocated once, for every pod that uses it (a pod group's claim,
        KEP-5729, or any claim two pods name). Its members go to one node and the claim
        is allocated once, together with their other claims: exact when the claim's
        devices are node-local (then its pods must share a node anyway); with devices
        that several nodes see it misses placements that split its pods (allocate such
        a claim first, with Cluster.reserve, and give it to the members allocated).
        """
        parent = list(range(len(self.members)))

        def root(m: int) -> int:
            while parent[m] != m:
                parent[m] = parent[parent[m]]
                m = parent[m]
            return m

        owner: dict[tuple[str, str], int] = {}
        for m, member in enumerate(self.members):
            for claim in member:
                if _allocation(claim) is not None or not claim.metadata.name:
                    continue
                first = owner.setdefault(_claim_key(claim), m)
                a, b = root(first), root(m)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        units: dict[int, list[int]] = {}
        for m in range(len(self.members)):
            units.setdefault(root(m), []).append(m)
        self.units = list(units.values())
        self.unit_claims: list[tuple[ResourceClaim, ...]] = []
        for unit in self.units:
            seen: set[Any] = set()
            claims: list[ResourceClaim] = []
            for m in unit:
                for claim in self.members[m]:
                    key = _claim_key(claim) if claim.metadata.name else id(claim)
                    if key not in seen:
                        seen.add(key)
                        claims.append(claim)
            self.unit_claims.append(tuple(claims))

    def member_key(self, member: int) -> Hashable:
        """Return what besides claims tells members apart (their node resources)."""
        return self.node_fit.member_key(member) if self.node_fit is not None else None

    def node_fit_reasons(self, node: str, units: Iterable[int]) -> list[str]:
        """Why these units' members do not fit on ``node`` besides devices (empty: fit)."""
        if self.node_fit is None:
            return []
        return self.node_fit.reasons(node, [m for u in units for m in self.units[u]])

    def pending(self, unit: int) -> list[ResourceClaim]:
        return [c for c in self.unit_claims[unit] if _allocation(c) is None]

    # --- kinds and groups -------------------------------------------------------------------

    def build_kinds(self) -> None:
        kinds: dict[Any, _Kind] = {}
        for u, claims in enumerate(self.unit_claims):
            size = len(self.units[u])
            sig = (
                size,
                tuple(
                    ("allocated", _freeze(_allocation(c)))
                    if _allocation(c) is not None
                    else _freeze(c.spec)
                    for c in claims
                ),
                tuple(sorted((self.member_key(m) for m in self.units[u]), key=repr)),
            )
            kind = kinds.get(sig)
            if kind is None:
                kind = kinds[sig] = _Kind(len(kinds), [], claims, size)
            kind.units.append(u)
        self.kinds = list(kinds.values())
        self.stats["kinds"] = len(self.kinds)

    def values(self) -> list[Any]:
        """Return the attribute values to try (``[None]`` without the attribute constraint)."""
        if self.attribute is None:
            return [None]
        snap = self.snap
        found: set[Any] = set()
        with snap._lock:
            data = snap._data
            seen: set[Any] = set()
            for name in self.node_names:
                node = data.nodes.get(name)
                if node is None:
                    continue
                key = snap._key(name)
                if key in seen:
                    continue
                seen.add(key)
                for kind in self.kinds:
                    pending = [c for c in kind.claims if _allocation(c) is None]
                    if not pending:
                        continue
                    try:
                        problem = build_problem(
                            inventory=data.inventory,
                            node=node,
                            claims=pending,
                            classes=data.classes,
                            allocated_state=data.state,
                            features=snap.features,
                        )
                    except InputError:
                        continue
                    found |= _attribute_values(problem, self.attribute)
        # No device has the attribute: requests can only be met without devices.
        return sorted(found, key=repr) or [_NO_VALUE]

    def restricted(self, claims: Sequence[ResourceClaim], value: Any) -> list[ResourceClaim]:
        if value is None or self.attribute is None:
            return list(claims)
        return [
            c if _allocation(c) is not None else _restrict(c, self.attribute, value) for c in claims
        ]

    def build_groups(self) -> None:
        """Group the nodes where some kind fits alone, and find each group's patterns."""
        snap = self.snap
        self.values_tried = self.values()
        # Where each kind fits alone, per attribute value (the filter: equivalence
        # classes, counting first, memoised).
        self.alone: dict[tuple[int, Any], Any] = {}
        fits: dict[str, list[tuple[int, Any]]] = {}
        for value in self.values_tried:
            for kind in self.kinds:
                self.check()
                view = snap.filter(
                    self.restricted(kind.claims, value),
                    self.node_names,
                    engine=self.engine,
                    timeout=self._left(),
                    cancel=self.cancel,
                )
                self.alone[(kind.index, value)] = view
                for name in view.feasible:
                    fits.setdefault(name, []).append((kind.index, value))
        groups: dict[Any, _Group] = {}
        types: dict[Any, Any] = {}
        with snap._lock:
            data = snap._data
            for name in self.node_names:
                if name not in fits:
                    continue
                label = None
                if self.label is not None:
                    labels = data.nodes[name].metadata.labels or {}
                    if self.label not in labels:
                        continue
                    label = labels[self.label]
                key = self._node_key(name, types)
                extra = self.node_fit.node_key(name) if self.node_fit is not None else None
                gkey = (key, label, tuple(fits[name]), extra)
                group = groups.get(gkey)
                if group is None:
                    group = groups[gkey] = _Group(
                        len(groups), [], label, _key_in_use(key), (key, tuple(fits[name]), extra)
                    )
                group.nodes.append(name)
        self.groups = list(groups.values())
        self.stats["groups"] = len(self.groups)
        self.stats["candidate_nodes"] = sum(len(g.nodes) for g in self.groups)
        # Groups that differ only by their label value have the same patterns.
        known: dict[Any, list[tuple[int, ...]]] = {}
        for group in self.groups:
            for value in self.values_tried:
                found = known.get((group.shape, value))
                if found is None:
                    found = _maximal(self.patterns(group, value, fits[group.nodes[0]]))
                    known[(group.shape, value)] = found
                group.patterns[value] = found
        self.stats["patterns"] = sum(len(p) for g in self.groups for p in g.patterns.values())

    def _node_key(self, name: str, types: dict[Any, Any]) -> Any:
        """Return the node's equivalence key, as coarse as the gang's claims allow.

        The cluster's key names devices in use by position; for given claims, devices
        the claims cannot tell apart are interchangeable (``Cluster._coarse_key``), so
        only how many of each type are in use matters. Every kind's pending claims (for
        every attribute value tried) are given at once: the types then separate what any
        request of any member can tell apart, which holds for any set of members.
        """
        snap = self.snap
        key = snap._key(name)
        coarse = getattr(snap, "_coarse_key", None)
        if coarse is None:
            return key
        claims: list[ResourceClaim] | None = getattr(self, "_all_claims", None)
        if claims is None:
            claims = self._all_claims = [
                claim
                for value in self.values_tried
                for kind in self.kinds
                for claim in self.restricted(
                    [c for c in kind.claims if _allocation(c) is None], value
                )
            ]
        return coarse(key, claims, types)

    def _left(self) -> float | None:
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def fits_on(self, node: Node, claims: list[ResourceClaim]) -> bool:
        """Whether the claims fit together on ``node`` (the exact per-node engine)."""
        self.check()
        self.stats["engine_calls"] += 1
        if not claims:
            return True
        snap = self.snap
        with snap._lock:
            data = snap._data
            try:
                problem = build_problem(
                    inventory=data.inventory,
                    node=node,
                    claims=claims,
                    classes=data.classes,
                    allocated_state=data.state,
                    features=snap.features,
                )
                solution = get_engine(self.engine)(
                    problem,
                    deadline=self.deadline,
                    timeout=self.timeout,
                    cancel=self.cancel,
                    options=None,
                )
            except InputError:
                # One member alone fits here (the filter said so); an error that only
                # more members reach makes this vector not fit: never a wrong "fits".
                return False
            return solution is not None

    def patterns(
        self, group: _Group, value: Any, fitting: list[tuple[int, Any]]
    ) -> list[tuple[int, ...]]:
        """Every vector of member counts that fits together on one node of the group.

        Breadth first from the unit vectors of the kinds that fit alone; a vector is
        only tried when every vector one member smaller fits (the set is closed
        downwards: dropping a member's claims from a fitting set leaves a fitting set).
        """
        snap = self.snap
        with snap._lock:
            node = snap._data.nodes[group.nodes[0]]
        k = len(self.kinds)
        ok = {kind for kind, v in fitting if v == value}
        # a member alone must also fit the node's resources besides devices
        ok = {t for t in ok if not self.node_fit_reasons(group.nodes[0], self.kinds[t].units[:1])}
        unit = [tuple(1 if i == t else 0 for i in range(k)) for t in sorted(ok)]
        feasible: set[tuple[int, ...]] = set(unit)
        frontier = list(unit)
        checks = 0
        zero = (0,) * k
        while frontier:
            nxt: list[tuple[int, ...]] = []
            for vec in frontier:
                for t in sorted(ok):
                    if vec[t] >= len(self.kinds[t].units):
                        continue
                    up = tuple(c + (1 if i == t else 0) for i, c in enumerate(vec))
                    if up in feasible or up in nxt:
                        continue
                    lower = (
                        tuple(c - (1 if i == s else 0) for i, c in enumerate(up))
                        for s in range(k)
                        if up[s]
                    )
                    if not all(v == zero or v in feasible for v in lower):
                        continue
                    checks += 1
                    if checks > _MAX_CHECKS_PER_GROUP or len(feasible) > _MAX_PATTERNS_PER_GROUP:
                        raise AllocationTimeout(
                            "gang: too many ways to share one node between the members "
                            f"(more than {_MAX_PATTERNS_PER_GROUP}); not decided, which is "
                            "not 'does not fit'",
                            timeout=self.timeout,
                        )
                    chosen = [
                        u for kind, c in zip(self.kinds, up, strict=True) for u in kind.units[:c]
                    ]
                    if self.node_fit_reasons(group.nodes[0], chosen):
                        continue  # cpu, memory or pods run out (cheaper than devices)
                    claims: list[ResourceClaim] = []
                    for u in chosen:
                        claims.extend(self.restricted(self.pending(u), value))
                    if self.fits_on(node, claims):
                        nxt.append(up)
            feasible.update(nxt)
            frontier = nxt
        return sorted(feasible, key=lambda v: (-sum(v), v))

    # --- the master -----------------------------------------------------------------------

    def master(
        self,
        *,
        min_count: int,
        use_label: bool = True,
        use_attribute: bool = True,
        objective: bool = True,
    ) -> _Answer | None:
        """Solve the master; None when fewer than ``min_count`` members can be placed.

        Patterns are the maximal ones: a node given pattern ``p`` holds any vector of
        members below ``p`` (the set of vectors that fit is closed downwards), so the
        members of each kind that are placed are at most what the chosen patterns
        cover, and each chosen node holds at least one unit.
        """
        from ortools.sat.python import cp_model

        model = cp_model.CpModel()
        uses: dict[tuple[int, Any, int], Any] = {}
        by_group: dict[int, list[Any]] = {}

        label_on: dict[str | None, Any] = {}
        value_on: dict[Any, Any] = {}
        cost: list[Any] = []
        nodes_used: list[Any] = []
        # Lexicographic weights: members placed, then nodes, then nodes in use. A node
        # holds at least one member, so at most n nodes are used.
        n = len(self.members)
        node_weight = n + 1
        member_weight = n * (node_weight + 1) + 1
        for group in self.groups:
            size = len(group.nodes)
            for value, pats in group.patterns.items():
                for p in range(len(pats)):
                    var = model.new_int_var(0, size, f"uses[{group.index},{value!r},{p}]")
                    uses[(group.index, value, p)] = var
                    by_group.setdefault(group.index, []).append(var)
                    nodes_used.append(var)
                    if self.label is not None and use_label:
                        on = label_on.get(group.label)
                        if on is None:
                            on = label_on[group.label] = model.new_bool_var(f"label[{group.label}]")
                        model.add(var == 0).only_enforce_if(on.Not())
                    if self.attribute is not None and use_attribute:
                        on = value_on.get(value)
                        if on is None:
                            on = value_on[value] = model.new_bool_var(f"value[{value!r}]")
                        model.add(var == 0).only_enforce_if(on.Not())
                    # pack: fewest nodes first, then nodes already in use (they are
                    # fragmented already); spread: most nodes first, then idle ones.
                    fresh = 0 if group.in_use else 1
                    if self.policy == "pack":
                        cost.append((node_weight + fresh) * var)
                    else:
                        cost.append(-(node_weight + fresh) * var)
        # A node holds one pattern.
        for group in self.groups:
            if by_group.get(group.index):
                model.add(sum(by_group[group.index]) <= len(group.nodes))
        # One label value, one attribute value.
        if label_on:
            model.add_at_most_one(label_on.values())
        if value_on:
            model.add_at_most_one(value_on.values())
        # Units flow from kinds to the chosen patterns: ``deal[g, value, p, t]`` units of
        # kind t go to the nodes given pattern p, at most p's count per node, and at
        # least one unit per node (all of them have room for every kind dealt there).
        # Each kind places at most its units; at least min_count members in all.
        placed = []
        dealt: list[list[Any]] = [[] for _ in self.kinds]
        self.deal: dict[tuple[int, Any, int, int], Any] = {}
        by_index = {group.index: group for group in self.groups}
        for (g, value, p), var in uses.items():
            vec = by_index[g].patterns[value][p]
            size = len(by_index[g].nodes)
            here = []
            for t, count in enumerate(vec):
                if not count:
                    continue
                most = min(count * size, len(self.kinds[t].units))
                units = model.new_int_var(0, most, f"deal[{g},{value!r},{p},{t}]")
                model.add(units <= count * var)
                self.deal[(g, value, p, t)] = units
                dealt[t].append(units)
                here.append(units)
            model.add(sum(here) >= var)
        for t, kind in enumerate(self.kinds):
            var = model.new_int_var(0, len(kind.units), f"placed[{t}]")
            model.add(var == sum(dealt[t]) if dealt[t] else var == 0)
            placed.append(var)
        everything = sum(kind.size * var for kind, var in zip(self.kinds, placed, strict=True))
        model.add(everything >= min_count)
        if objective:
            model.maximize(everything * member_weight - (sum(cost) if cost else 0))
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = 0
        left = self._left()
        solver.parameters.max_time_in_seconds = 10.0 if left is None else max(0.001, left)
        self.stats["master_variables"] = len(uses)
        status = solver.solve(model)
        if status == cp_model.INFEASIBLE:
            return None
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise AllocationTimeout(
                "gang: CP-SAT found no answer in time; this is not 'does not fit'",
                timeout=self.timeout,
            )
        chosen = [
            (g, value, p, int(solver.value(var)))
            for (g, value, p), var in uses.items()
            if solver.value(var) > 0
        ]
        counts = [int(solver.value(var)) for var in placed]
        deals = {key: int(solver.value(var)) for key, var in self.deal.items()}
        return _Answer(chosen, counts, deals, status == cp_model.OPTIMAL)

    # --- placing ---------------------------------------------------------------------------

    def place(self) -> GangPlacement | None:
        started = time.perf_counter()
        n = len(self.members)
        if n == 0:
            return GangPlacement((), (), self.policy, stats={"kinds": 0})
        self.build_kinds()
        if not self.units_may_split():
            # The master is a relaxation (each node taken alone): when it finds nothing,
            # nothing fits; when its best choice allocates node by node, it is the best.
            self.build_groups()
            self.stats["rounds"] = 1
            answer = self.master(min_count=self.min_count)
            if answer is None:
                return None
            placement = self.allocate(answer)
            if placement is not None:
                self.stats["seconds"] = time.perf_counter() - started
                return placement
        else:
            self.values_tried = self.values()
        # Nodes interact (pools that several nodes see, claims shared across nodes):
        # the exact search, each assignment decided jointly across its nodes.
        search = JointSearch(self)
        found = search.search(self.min_count)
        self.stats["search_steps"] = search.steps
        if found is None:
            return None
        self.stats["seconds"] = time.perf_counter() - started
        return search.placement(found[0], found[1], dict(self.stats))

    def shares_pools(self) -> bool:
        """Whether some pool with devices is seen by more than one node (not node-local)."""
        snap = self.snap
        with snap._lock:
            inventory = snap._data.inventory
            for pool in inventory.pools():
                if inventory.pool_is_node_local(pool) is not None:
                    continue
                if any(entry.devices for entry in inventory.pool_entries(pool)):
                    return True
        return False

    def units_may_split(self) -> bool:
        """Whether members that share a claim may end up on different nodes, or apart.

        With pools that several nodes see, a shared claim's devices may serve pods on
        several nodes (KEP-5729); under ``min_count``, some of a claim's pods may be
        placed without the others. The master keeps a unit whole on one node, so
        either case goes to the exact search.
        """
        if all(len(unit) == 1 for unit in self.units):
            return False
        return self.min_count < len(self.members) or self.shares_pools()

    def allocate(self, answer: _Answer) -> GangPlacement | None:
        """Allocate the master's choice node by node on a fork; None when a node fails."""
        chosen, optimal = answer.chosen, answer.optimal
        plan: list[tuple[str, list[int], Any]] = []
        value_used: Any = None
        label_used: str | None = None
        next_unit = [0] * len(self.kinds)
        taken: set[str] = set()
        # Nodes in the cluster's order within each group; the units the master dealt to a
        # pattern go to its nodes: one each first, then filled within the pattern (pack)
        # or one at a time round the nodes (spread).
        for g, value, p, count in sorted(chosen, key=lambda c: (c[0], c[2])):
            group = self.groups[g]
            vec = group.patterns[value][p]
            names = [name for name in group.nodes if name not in taken][:count]
            taken.update(names)
            pool: list[list[int]] = []
            for t, kind in enumerate(self.kinds):
                n_units = answer.deals.get((g, value, p, t), 0)
                pool.append(kind.units[next_unit[t] : next_unit[t] + n_units])
                next_unit[t] += n_units
            held: list[list[int]] = [[] for _ in names]
            room = [list(vec) for _ in names]
            for i in range(len(names)):
                for t in range(len(self.kinds)):
                    if pool[t] and room[i][t]:
                        held[i].append(pool[t].pop(0))
                        room[i][t] -= 1
                        break
            for t in range(len(self.kinds)):
                while pool[t]:
                    free = [i for i in range(len(names)) if room[i][t]]
                    assert free, "the master deals no more units than the pattern holds"
                    i = (
                        min(free, key=lambda k: len(held[k]))
                        if self.policy == "spread"
                        else free[0]
                    )
                    held[i].append(pool[t].pop(0))
                    room[i][t] -= 1
            for name, units in zip(names, held, strict=True):
                if units:
                    plan.append((name, sorted(units), value))
            value_used = value
            label_used = group.label
        order = {name: i for i, name in enumerate(self.node_names)}
        plan.sort(key=lambda item: order[item[0]])
        work = self.snap.fork()
        nodes: list[str | None] = [None] * len(self.members)
        allocations: list[tuple[AllocationResult, ...] | None] = [None] * len(self.members)
        options = {"policy": "pack"} if self.policy == "pack" else None
        for i, (name, units, value) in enumerate(plan):
            self.check()
            claims: list[ResourceClaim] = []
            originals: list[ResourceClaim] = []
            for u in units:
                pending = self.pending(u)
                originals.extend(pending)
                claims.extend(self.restricted(pending, value))
            with work._lock:
                node = work._data.nodes[name]
                for u in units:
                    allocated = [c for c in self.unit_claims[u] if _allocation(c) is not None]
                    if _allocated_elsewhere(allocated, node):
                        return None
                allocator = work._allocator()
                packing = options if options and _has_shared_parts(work, node) else None
                try:
                    results = (
                        allocator.allocate(
                            node,
                            claims,
                            engine="auto" if packing else self.engine,
                            timeout=self._left(),
                            cancel=self.cancel,
                            options=packing,
                        )
                        if claims
                        else []
                    )
                except InputError:
                    results = None
            self.stats["engine_calls"] += 1
            if results is None:
                return None
            by_claim = {id(c): r for c, r in zip(originals, results, strict=True)}
            for u in units:
                shared = {
                    _claim_key(c): by_claim[id(c)] for c in self.pending(u) if c.metadata.name
                }
                for m in self.units[u]:
                    out = []
                    for claim in self.members[m]:
                        allocation = _allocation(claim)
                        if allocation is None:
                            allocation = by_claim.get(id(claim))
                        if allocation is None:
                            allocation = shared[_claim_key(claim)]
                        out.append(allocation)
                    nodes[m] = name
                    allocations[m] = tuple(out)
            if i + 1 < len(plan) and originals:
                # The next nodes see these devices as taken (pools shared by nodes).
                work.apply(*_with_allocations(originals, results, f"gang-{i}"))
        return GangPlacement(
            tuple(nodes),
            tuple(allocations),
            self.policy,
            label_value=label_used if self.label is not None else None,
            attribute_value=(
                (value_used[1] if isinstance(value_used, tuple) else value_used)
                if self.attribute is not None and value_used is not _NO_VALUE
                else None
            ),
            optimal=optimal,
            stats=dict(self.stats),
            _claims=tuple(self.members),
        )

    # --- explaining ---------------------------------------------------------------------------

    def explain(self) -> GangExplanation:
        n = len(self.members)
        if n == 0:
            return GangExplanation(True, 0, 0, 0)
        self.build_kinds()
        if self.units_may_split() or self.shares_pools():
            return self._explain_joint()
        self.build_groups()
        best = self.master(min_count=0)
        placed_members = self._members_of(best)
        placeable = len(placed_members)
        fits = placeable >= self.min_count
        left_out = tuple(m for m in range(n) if m not in placed_members)
        reasons: list[str] = []
        for kind in self.kinds:
            views = [self.alone[(kind.index, v)] for v in self.values_tried]
            if not any(view.feasible for view in views):
                who = _members_text(self.members_of_kind(kind))
                reasons.append(f"{who} cannot be placed on any node: {views[0].message()}")
        constraint_reasons = len(reasons)
        if self.label is not None and placeable < n:
            free = self.master(min_count=0, use_label=False)
            if len(self._members_of(free)) > placeable:
                per = self._best_per_label()
                reasons.append(
                    f"all members must be on nodes with the same value of node label "
                    f"{self.label}: the best value"
                    + (f" ({per[0]!r}) holds {per[1]} of {n} members" if per else " holds none")
                    + f"; without that constraint {len(self._members_of(free))} would fit"
                )
        if self.attribute is not None and placeable < n:
            free = self.master(min_count=0, use_attribute=False)
            if len(self._members_of(free)) > placeable:
                reasons.append(
                    f"all members' devices must have the same value of attribute "
                    f"{self.attribute}: no single value has devices for more than "
                    f"{placeable} of {n} members"
                )
        # What runs out in the whole cluster, group constraints aside: the members that
        # are left out even without them.
        relaxed = self.master(min_count=0, use_label=False, use_attribute=False)
        everywhere = self._members_of(relaxed)
        if len(everywhere) > placeable and len(reasons) == constraint_reasons:
            # Neither constraint alone is the limit, the two together are.
            reasons.append(
                f"all members must be on nodes with the same value of node label {self.label} "
                f"and their devices must have the same value of attribute {self.attribute}: "
                f"no such pair of values holds more than {placeable} of {n} members; "
                f"without these constraints {len(everywhere)} would fit"
            )
        for kind in self.kinds:
            out = [m for m in self.members_of_kind(kind) if m in left_out]
            if not out or not any(self.alone[(kind.index, v)].feasible for v in self.values_tried):
                continue
            if len(everywhere) > placeable:
                # Group constraints keep some out (said above); name only the members
                # that stay out even without them, next to those placed then.
                out = [m for m in self.members_of_kind(kind) if m not in everywhere]
                if not out:
                    continue
                inside = sorted(everywhere)
            else:
                inside = sorted(placed_members)
            others = f" together with {_members_text(inside)}" if inside else ""
            nodes = sum(
                len(g.nodes)
                for g in self.groups
                if any(vec[kind.index] for pats in g.patterns.values() for vec in pats)
            )
            most = max(
                (
                    vec[kind.index]
                    for g in self.groups
                    for pats in g.patterns.values()
                    for vec in pats
                ),
                default=0,
            )
            why = self._why_full(kind)
            reasons.append(
                f"{_members_text(out)} cannot be placed{others}: the {nodes} node(s) where "
                f"such a member fits hold at most {most} of them each"
                + (f" ({why})" if why else "")
            )
        return GangExplanation(fits, n, self.min_count, placeable, left_out, tuple(reasons))

    def _explain_joint(self) -> GangExplanation:
        """Explain with the exact search (nodes that share pools or claims)."""
        n = len(self.members)
        self.values_tried = self.values()
        search = JointSearch(self)
        found = search.search(0)
        assert found is not None  # placing nobody always works
        assign = found[0].assign
        placed = [m for m in range(n) if assign[m] is not None]
        placeable = len(placed)
        fits = placeable >= self.min_count
        left_out = tuple(m for m in range(n) if assign[m] is None)
        reasons: list[str] = []
        nowhere: dict[int, list[int]] = {}
        for m in left_out:
            views = [search.alone[(search.sig[m], vi)] for vi in range(len(search.values))]
            if not any(view.feasible for view in views):
                nowhere.setdefault(search.sig[m], []).append(m)
        for who in nowhere.values():
            view = search.alone[(search.sig[who[0]], 0)]
            reasons.append(f"{_members_text(who)} cannot be placed on any node: {view.message()}")
        if self.label is not None and placeable < n:
            free = JointSearch(self, use_label=False).search(0)
            assert free is not None
            most = sum(1 for x in free[0].assign if x is not None)
            if most > placeable:
                reasons.append(
                    f"all members must be on nodes with the same value of node label "
                    f"{self.label}: no value holds more than {placeable} of {n} members; "
                    f"without that constraint {most} would fit"
                )
        rest = [m for m in left_out if not any(m in who for who in nowhere.values())]
        if rest:
            others = f" together with {_members_text(placed)}" if placed else " together"
            why = (
                "the devices of pools that several nodes see, or of claims they share, "
                "run out when they are allocated together"
                if self.shares_pools()
                else "the devices of the nodes where they fit run out"
            )
            reasons.append(
                f"{_members_text(rest)} cannot be placed{others}: each fits on some node "
                f"alone, but {why}"
            )
        return GangExplanation(fits, n, self.min_count, placeable, left_out, tuple(reasons))

    def _members_of(self, answer: _Answer | None) -> set[int]:
        out: set[int] = set()
        if answer is None:
            return out
        for t, kind in enumerate(self.kinds):
            for u in kind.units[: answer.placed[t]]:
                out.update(self.units[u])
        return out

    def members_of_kind(self, kind: _Kind) -> list[int]:
        return sorted(m for u in kind.units for m in self.units[u])

    def _best_per_label(self) -> tuple[str, int] | None:
        best: tuple[str, int] | None = None
        for label in sorted({g.label for g in self.groups if g.label is not None}):
            saved = self.groups
            self.groups = [g for g in saved if g.label == label]
            try:
                got = self.master(min_count=0)
            finally:
                self.groups = saved
            count = len(self._members_of(got))
            if best is None or count > best[1]:
                best = (label, count)
        return best

    def _why_full(self, kind: _Kind) -> str:
        """Say what runs out when one more member of ``kind`` joins a full node."""
        from dra_core.allocator.explain import explain_problem

        for group in self.groups:
            for value, pats in group.patterns.items():
                most = max((vec[kind.index] for vec in pats), default=0)
                if not most or most >= len(kind.units):
                    continue
                besides = self.node_fit_reasons(group.nodes[0], kind.units[: most + 1])
                if besides:
                    return f"on node {group.nodes[0]} with {most + 1}: " + "; ".join(besides)
                claims: list[ResourceClaim] = []
                for u in kind.units[: most + 1]:
                    claims.extend(self.restricted(self.pending(u), value))
                snap = self.snap
                with snap._lock:
                    data = snap._data
                    node = data.nodes[group.nodes[0]]
                    try:
                        problem = build_problem(
                            inventory=data.inventory,
                            node=node,
                            claims=claims,
                            classes=data.classes,
                            allocated_state=data.state,
                            features=snap.features,
                        )
                        explanation = explain_problem(problem, snap._allocator())
                    except (InputError, AllocationTimeout):
                        return ""
                # What runs out (counters, capacity, a constraint) before the bare
                # "request must be satisfied" entries, which every conflict has.
                details = [c.detail for c in explanation.conflict if c.kind != "request"]
                if details:
                    return f"on node {group.nodes[0]} with {most + 1}: " + "; ".join(details)
                if explanation.conflict:
                    return (
                        f"on node {group.nodes[0]}, {most + 1} of them need more devices than "
                        "its free devices"
                    )
                short = [r.describe() for r in explanation.requests if r.candidates < 1]
                return f"on node {group.nodes[0]}: " + "; ".join(short[:2]) if short else ""
        return ""


def _has_shared_parts(cluster: Cluster, node: Node) -> bool:
    """Whether the node sees partitionable or shareable devices (where packing matters).

    Devices that are only used whole and consume no counter leave nothing to pack: any
    choice among them fragments nothing, so the fast first-fit engine is used.
    """
    try:
        pools = cluster._data.inventory.pools_for_node(node)
    except InputError:
        return True
    for pool in pools:
        for slice_entry in pool.slices:
            for entry in slice_entry.devices:
                device = entry.device
                if device.consumes_counters or device.allow_multiple_allocations:
                    return True
    return False


def _maximal(patterns: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Return the patterns that no other pattern covers (the set is closed downwards)."""
    out = []
    for vec in patterns:
        if not any(
            other != vec and all(a >= b for a, b in zip(other, vec, strict=True))
            for other in patterns
        ):
            out.append(vec)
    return out


def _claim_key(claim: ResourceClaim) -> tuple[str, str]:
    return (claim.metadata.namespace or "default", claim.metadata.name or "")


def _members_text(members: Sequence[int]) -> str:
    if len(members) == 1:
        return f"member {members[0]}"
    shown = ", ".join(str(m) for m in members[:8])
    more = f" and {len(members) - 8} more" if len(members) > 8 else ""
    return f"members {shown}{more}"


def _with_allocations(
    claims: Sequence[ResourceClaim], results: Sequence[AllocationResult], prefix: str
) -> list[ResourceClaim]:
    from dra_core.api import ResourceClaimStatus

    out = []
    for i, (claim, result) in enumerate(zip(claims, results, strict=True)):
        status = (claim.status or ResourceClaimStatus()).model_copy(update={"allocation": result})
        meta = claim.metadata
        if not meta.name:
            meta = meta.model_copy(update={"name": f"{prefix}-{i}"})
        out.append(claim.model_copy(update={"status": status, "metadata": meta}))
    return out


# --- entry points ----------------------------------------------------------------------------


def place_gang(
    cluster: Cluster,
    members: Sequence[Sequence[ResourceClaim | Mapping[str, Any]]],
    *,
    min_count: int | None = None,
    policy: str = "pack",
    timeout: float | None = None,
    same_node_label: str | None = None,
    same_device_attribute: str | None = None,
    nodes: Iterable[str] | None = None,
    engine: str = "auto",
    cancel: Any = None,
    node_fit: NodeFit | None = None,
) -> GangPlacement | None:
    """Place a gang: each member (a list of one pod's claims) on one node, jointly.

    Args:
        cluster: the cluster; it is not changed (the work happens on forks).
        members: per member, its claims (models or dicts). Claims that are allocated
            already only restrict the member's node; members that share a pending claim
            go to one node, the claim allocated once.
        min_count: the fewest members to place (default: all). As many as fit are
            placed, never fewer than ``min_count``.
        policy: ``"pack"`` (fewest nodes, nodes in use first, devices packed) or
            ``"spread"`` (as many nodes as possible, untouched nodes first).
        timeout: seconds; :class:`~dra_core.errors.AllocationTimeout` when they run out.
        same_node_label: all members on nodes with one value of this node label (a rack,
            a zone, an NVLink domain). Nodes without the label are not used.
        same_device_attribute: all devices of all members with one value of this
            fully qualified device attribute (``domain/id``).
        nodes: the node names to consider (default: all).
        engine: the per-node engine (``"auto"``, ``"search"``, ``"cpsat"``).
        cancel: a flag (``is_set()``) or callable, as for :func:`dra_core.allocate`.
        node_fit: what a node has besides devices (cpu, memory, pods: kube-scheduler's
            NodeResourcesFit), checked for the members placed on a node together; see
            :class:`NodeFit`. The simulator passes its nodes' allocatable resources.

    Returns:
        A :class:`GangPlacement`, or None when fewer than ``min_count`` members fit
        (:func:`explain_gang` says why).

    Raises:
        AllocationInputError, CELCompileError: input no node can fix (as
            :meth:`Cluster.filter`).
        AllocationTimeout, AllocationCancelled: stopped before an answer.
        ValueError: an unknown policy, a bad ``min_count``, an attribute name that is
            not fully qualified.

    """
    planner = _Planner(
        cluster,
        members,
        min_count=min_count,
        policy=policy,
        timeout=timeout,
        same_node_label=same_node_label,
        same_device_attribute=same_device_attribute,
        nodes=nodes,
        engine=engine,
        cancel=cancel,
        node_fit=node_fit,
    )
    return planner.place()


def explain_gang(
    cluster: Cluster,
    members: Sequence[Sequence[ResourceClaim | Mapping[str, Any]]],
    *,
    min_count: int | None = None,
    policy: str = "pack",
    timeout: float | None = None,
    same_node_label: str | None = None,
    same_device_attribute: str | None = None,
    nodes: Iterable[str] | None = None,
    engine: str = "auto",
    cancel: Any = None,
    node_fit: NodeFit | None = None,
) -> GangExplanation:
    """Explain whether, and why not, a gang fits (the arguments of :func:`place_gang`).

    Says which members fit on no node at all (with kube-scheduler's summary), which
    members cannot be placed together with the others, and what runs out: the
    ``same_node_label`` or ``same_device_attribute`` constraint, or the devices of
    the nodes where they fit (with CP-SAT's minimal conflict on one such node).
    """
    planner = _Planner(
        cluster,
        members,
        min_count=min_count,
        policy=policy,
        timeout=timeout,
        same_node_label=same_node_label,
        same_device_attribute=same_device_attribute,
        nodes=nodes,
        engine=engine,
        cancel=cancel,
        node_fit=node_fit,
    )
    return planner.explain()
