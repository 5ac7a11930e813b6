"""The extender's verbs over a Cluster, and the ASGI app that serves them.

:class:`Extender` answers kube-scheduler's verbs (filter, prioritize, bind, preempt) with
the wire types of :mod:`dra_core.extender._types`, reading and changing a
:class:`~dra_core.cluster.Cluster` through its methods. It imports no web framework:
embed it in any server. :func:`create_app` wraps it in a Starlette app (imported when
called, so that ``import dra_core`` stays light) with health, readiness and Prometheus
metrics.

What each verb does, in kube-scheduler's terms (pkg/scheduler/framework/plugins/
dynamicresources):

- **filter** is PreFilter and Filter: the pod's claims are looked up (a claim that
  does not exist yet fails every node as ``UnschedulableAndUnresolvable``), then
  :meth:`Cluster.filter` says where the claims that are not allocated yet can be
  allocated together, and where allocated claims' devices are usable.
- **prioritize** is a Score plugin (there is none in-tree for DRA): on each feasible
  node the claims are allocated with CP-SAT under a policy (``best-fit``, ``pack``,
  ``spread``), and the policy's score is scaled to 0..10 over the nodes asked about.
- **bind** is Reserve, PreBind and Bind: the claims are allocated on the chosen node
  and reserved for the pod in the Cluster (:meth:`Cluster.reserve`), then the state
  source writes the claims' status and the Binding (with a live API server) or records
  them (with manifests). On failure everything is given back and ``Error`` says why.
- **preempt** answers with the victims it was given: dra-core has nothing to add.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from dra_core.errors import (
    AllocationAborted,
    AllocationCancelled,
    ClusterError,
    DraCoreError,
    InputError,
    ObjectNotFoundError,
)
from dra_core.extender._log import log
from dra_core.extender._types import (
    MAX_EXTENDER_PRIORITY,
    ExtenderArgs,
    ExtenderBindingArgs,
    ExtenderBindingResult,
    ExtenderFilterResult,
    ExtenderPreemptionArgs,
    ExtenderPreemptionResult,
    HostPriority,
    HostPriorityList,
    MetaPod,
    MetaVictims,
    WireError,
    _get_ci,
)

if TYPE_CHECKING:
    from dra_core.api import Pod, ResourceClaim
    from dra_core.cluster import Cluster

__all__ = ["POLICIES", "Binder", "ClaimLookupError", "Extender", "create_app", "pod_claims"]


#: The scoring policies of prioritize.
POLICIES = ("best-fit", "pack", "spread")

#: kube-scheduler's default BindingTimeout (KEP-5007): how long after allocation a
#: device's binding conditions may take to become true.
BINDING_TIMEOUT = 600.0

#: kube-scheduler's text when a claim made from a template does not exist yet
#: (k8s.io/dynamic-resource-allocation/resourceclaim ErrClaimNotFound).
CLAIM_NOT_CREATED = "ResourceClaim not created yet"


class ClaimLookupError(DraCoreError):
    """The pod's claims cannot be looked up (not created yet, missing, not the pod's).

    kube-scheduler's PreFilter makes such a pod ``UnschedulableAndUnresolvable`` on
    every node: no preemption can create a claim.
    """


class Binder(Protocol):
    """Where a pod is bound once its claims are reserved (a state source).

    ``bind`` raises when the binding could not be written; the extender then gives the
    reservation back. ``pod`` returns a pod the source knows of, or None.

    For devices with binding conditions (KEP-5007) a binder may also have
    ``write_claims(pod, claims)`` (write the claims' status without binding: the
    controller that makes the devices ready must see the allocation) and
    ``delete_claim(claim)`` (delete a claim for extended resources whose binding
    failed); without them only the Cluster changes. :class:`KubeSource` has both.
    """

    def bind(self, pod: Pod, node: str, claims: Sequence[ResourceClaim]) -> None:
        """Write the claims' status and bind the pod to ``node``."""

    def pod(self, namespace: str, name: str) -> Pod | None:
        """Return the pod, or None when the source does not know it."""


def _pod_key(pod: Pod) -> tuple[str, str]:
    return pod.metadata.namespace or "default", pod.metadata.name


def pod_claims(cluster: Cluster, pod: Pod) -> list[ResourceClaim]:
    """Return the ResourceClaims of ``pod`` from ``cluster``, in the pod's order.

    As kube-scheduler's DynamicResources PreFilter (``podResourceClaims``): a
    ``resourceClaimName`` names the claim; a ``resourceClaimTemplateName`` is looked up
    in ``status.resourceClaimStatuses`` (the claim controller writes it), and the claim
    must be owned by the pod. A status entry without a claim name is skipped (the
    claim was intentionally not created).

    Raises:
        ClaimLookupError: with Kubernetes' wording: ``Pod ns/p: ResourceClaim not created
            yet``, ``resourceclaim.resource.k8s.io "c" not found``, ``resourceclaim "c"
            is being deleted``, ``ResourceClaim ns/c was not created for Pod ns/p (Pod
            is not owner)``.

    """
    namespace, name = _pod_key(pod)
    statuses = pod.status.resource_claim_statuses if pod.status is not None else []
    out: list[ResourceClaim] = []
    for pod_claim in pod.spec.resource_claims:
        must_check_owner = False
        if pod_claim.resource_claim_name is not None:
            claim_name: str | None = pod_claim.resource_claim_name
        elif pod_claim.resource_claim_template_name is not None:
            entry = next((s for s in statuses if s.name == pod_claim.name), None)
            if entry is None:
                raise ClaimLookupError(f"Pod {namespace}/{name}: {CLAIM_NOT_CREATED}")
            claim_name = entry.resource_claim_name
            must_check_owner = True
        else:
            raise ClaimLookupError(
                f"Pod {namespace}/{name}, spec.resourceClaim {pod_claim.name}: "
                "none of the supported fields are set"
            )
        if claim_name is None:
            continue
        claim: ResourceClaim | None = cluster.get("ResourceClaim", claim_name, namespace)
        if claim is None:
            raise ClaimLookupError(f'resourceclaim.resource.k8s.io "{claim_name}" not found')
        if claim.metadata.deletion_timestamp is not None:
            raise ClaimLookupError(f'resourceclaim "{claim_name}" is being deleted')
        if must_check_owner and not _controlled_by(claim, pod):
            raise ClaimLookupError(
                f"ResourceClaim {namespace}/{claim_name} was not created for Pod "
                f"{namespace}/{name} (Pod is not owner)"
            )
        out.append(claim)
    return out


def _controlled_by(claim: ResourceClaim, pod: Pod) -> bool:
    uid = pod.metadata.uid
    return any(ref.controller and ref.uid == uid for ref in claim.metadata.owner_references)


def _allocated(claim: ResourceClaim) -> bool:
    return claim.status is not None and claim.status.allocation is not None


class _Bounded(OrderedDict[Any, Any]):
    """A dict that forgets its oldest entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class Extender:
    """kube-scheduler's extender verbs over a :class:`~dra_core.cluster.Cluster`.

    Args:
        cluster: the cluster state (kept current by a state source).
        binder: where ``bind`` writes (a state source); None: bind only reserves in
            the cluster.
        policy: the prioritize policy, one of :data:`POLICIES` (``best-fit`` default).
        engine: the allocation engine for filter and bind (``auto``, ``search``,
            ``cpsat``).
        timeout: seconds one verb may spend allocating (below kube-scheduler's
            ``httpTimeout``, 5 s by default); past it, filter answers with ``Error``.
        ready: a callable that says whether the state is loaded (``/readyz``).
        binding_timeout: seconds a device's binding conditions (KEP-5007) may take to
            become true after allocation before bind gives the devices back
            (kube-scheduler's default, 600).

    The methods are safe to call from several threads at once. Each takes a decoded
    wire type and returns one; none raises for a problem of one request (the answer's
    ``Error`` says it), except :class:`WireError` for a body of the wrong shape.

    """

    def __init__(
        self,
        cluster: Cluster,
        *,
        binder: Binder | None = None,
        policy: str = "best-fit",
        engine: str = "auto",
        timeout: float | None = 4.0,
        ready: Callable[[], bool] | None = None,
        binding_timeout: float = BINDING_TIMEOUT,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; known: {', '.join(POLICIES)}")
        self.cluster = cluster
        self.binder = binder
        self.policy = policy
        self.engine = engine
        self.timeout = timeout
        self.binding_timeout = binding_timeout
        self._ready = ready
        # (namespace, claim) -> when bind allocated it (time.time()), for the binding
        # timeout of claims without status.allocation.allocationTimestamp
        self._allocated_at: _Bounded = _Bounded(10_000)
        # Pods seen by filter and prioritize, for bind (whose arguments only name the
        # pod); bounded, most recent kept.
        self._pods: _Bounded = _Bounded(10_000)
        self._lock = threading.Lock()
        self._bind_lock = threading.Lock()
        #: filter outcomes per node, counted (read by the metrics)
        self.on_filter: Callable[[int, int, int], None] | None = None

    # --- readiness -----------------------------------------------------------------

    def ready(self) -> bool:
        """Whether the state is loaded and the verbs give meaningful answers."""
        return True if self._ready is None else bool(self._ready())

    def warm_up(self) -> float:
        """Do the work that the first requests would otherwise do; return the seconds.

        Call it once the state is loaded, before reporting ready (``dra-core extender``
        does). Without it the first filter after start pays for building the wire
        models, compiling the device classes' selectors and computing every node's
        equivalence key (70 ms for 500 nodes in one process alone, 150-230 ms when it
        was the first of four concurrent filters over HTTP), and its latency shows it.

        For each DeviceClass a claim for one device of that class is filtered over every
        node (its answer is remembered for real claims with the same spec), and scored
        on the first node where it fits (which loads OR-Tools: about 0.3 s that the
        first prioritize would pay). Nothing is changed; a class whose claim cannot be
        filtered is skipped (logged).
        """
        started = time.perf_counter()
        warm = {"metadata": {"name": "dra-core-warm-up", "namespace": "default", "uid": "0"}}
        ExtenderArgs.from_json(json.dumps({"Pod": warm, "NodeNames": []}).encode()).pod_model()
        ExtenderFilterResult(NodeNames=[], FailedNodes={}, FailedAndUnresolvableNodes={}).to_json()
        HostPriorityList([HostPriority(Host="", Score=0)]).to_json()
        ExtenderBindingArgs.from_json(b'{"PodName": "", "Node": ""}')
        for device_class in self.cluster.objects("DeviceClass"):
            name = device_class.metadata.name
            claim = {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": "dra-core-warm-up", "namespace": "default"},
                "spec": {
                    "devices": {
                        "requests": [{"name": "warm-up", "exactly": {"deviceClassName": name}}]
                    }
                },
            }
            try:
                view = self.cluster.filter([claim], engine=self.engine, timeout=self.timeout)
                if view.feasible:
                    self.cluster.score(
                        [claim], view.feasible[:1], policy=self.policy, timeout=self.timeout
                    )
            except DraCoreError as exc:
                log.info("warm-up: class %s skipped: %s", name, exc)
        return time.perf_counter() - started

    # --- filter ----------------------------------------------------------------------

    def _remember(self, pod: Pod) -> None:
        with self._lock:
            self._pods.put(_pod_key(pod), pod)

    def filter(self, args: ExtenderArgs, *, cancel: Any = None) -> ExtenderFilterResult:
        """Answer the filter verb: where the pod's claims can be allocated.

        Args:
            args: the decoded request.
            cancel: a flag (``is_set()``) or a callable that stops the allocation when
                it turns true (checked between nodes and between the search's steps):
                then :class:`~dra_core.errors.AllocationCancelled` is raised to the
                caller that asked for it, not answered. The app uses it to try a filter
                on its event loop for a few milliseconds before handing it to a thread.

        Raises:
            WireError: no pod, no candidate nodes, or a pod that is not a core/v1 Pod.
            AllocationCancelled: only when ``cancel`` turned true.

        """
        pod = args.pod_model()
        names = args.candidate_names()
        if names is None:
            raise WireError("cannot decode ExtenderArgs: both Nodes and NodeNames are null")
        self._remember(pod)
        feasible: list[str]
        failed: dict[str, str] = {}
        unresolvable: dict[str, str] = {}
        error = ""
        try:
            claims = pod_claims(self.cluster, pod)
            fits: set[str] = set()
            for claim_set, members in self._claim_sets(pod, claims, names):
                if not claim_set:
                    fits.update(members)
                    continue
                view = self.cluster.filter(
                    claim_set, members, engine=self.engine, timeout=self.timeout, cancel=cancel
                )
                fits.update(view.feasible)
                for node, reason in view.reasons.items():
                    (unresolvable if node in view.unresolvable else failed)[node] = reason
            feasible = [n for n in dict.fromkeys(names) if n in fits]
        except (ClaimLookupError, InputError) as exc:
            # No node can help: kube-scheduler's UnschedulableAndUnresolvable.
            feasible = []
            unresolvable = dict.fromkeys(names, str(exc))
        except AllocationAborted as exc:
            if cancel is not None and isinstance(exc, AllocationCancelled):
                raise  # the caller stopped it and will ask again
            feasible, error = [], f"dra-core extender: {exc}"
        except Exception as exc:  # one request's failure must not take the server down
            log.exception("filter failed")
            feasible, error = [], f"dra-core extender: internal error: {type(exc).__name__}: {exc}"
        if self.on_filter is not None:
            self.on_filter(len(feasible), len(failed), len(unresolvable))
        if error:
            return ExtenderFilterResult(Error=error)
        if args.node_names is not None:
            return ExtenderFilterResult(
                NodeNames=feasible,
                FailedNodes=failed,
                FailedAndUnresolvableNodes=unresolvable,
            )
        keep = set(feasible)
        nodes = dict(args.nodes or {})
        items_key = next((k for k in nodes if k.lower() == "items"), "items")
        nodes[items_key] = [item for item in args.node_items() if _node_name(item) in keep]
        return ExtenderFilterResult(
            Nodes=nodes, FailedNodes=failed, FailedAndUnresolvableNodes=unresolvable
        )

    def _claim_sets(
        self, pod: Pod, claims: list[ResourceClaim], nodes: Sequence[str]
    ) -> list[tuple[list[ResourceClaim], list[str]]]:
        """Return the claims to allocate on each group of ``nodes`` (the special one too).

        A pod that asks for extended resources backed by DRA (KEP-5004) gets the claim
        kube-scheduler makes for them (:mod:`dra_core.cluster._extended`), without the
        resources a node offers through a device plugin (``status.allocatable``): nodes
        are grouped by those. The claim is named as the API server would name it from
        ``generateName: <pod>-extended-resources-``, with five letters made from the
        pod's UID (so the same pod always gets the same name). A claim the pod has
        already (named by ``status.extendedResourceClaimStatus``, or by that name and
        owned by the pod: bind made it) is used as it is.
        """
        if not _asks_for_extended_resources(pod):
            return [(claims, list(nodes))]
        from dra_core.cluster._extended import (
            extended_resource_claim,
            extended_resource_classes,
            wanted_extended_resources,
        )

        backed = extended_resource_classes(self.cluster.objects("DeviceClass"))
        wanted = wanted_extended_resources(pod, backed)
        if not wanted:
            return [(claims, list(nodes))]
        namespace, pod_name = _pod_key(pod)
        name = f"{pod_name}-extended-resources-{_suffix(pod)}"
        existing = _extended_claim_name(pod)
        if not existing:
            made_before = self.cluster.get("ResourceClaim", name, namespace)
            if made_before is not None and _controlled_by(made_before, pod):
                existing = name
        if existing:
            held = self.cluster.get("ResourceClaim", existing, namespace)
            if held is None:
                raise ClaimLookupError(f'resourceclaim.resource.k8s.io "{existing}" not found')
            return [([*claims, held], list(nodes))]
        groups: dict[frozenset[str], list[str]] = {}
        for node_name in dict.fromkeys(nodes):
            node = self.cluster.get("Node", node_name)
            allocatable = node.status.allocatable if node is not None and node.status else {}
            provided = frozenset(
                r for r in wanted if r in allocatable and allocatable[r].int_value() > 0
            )
            groups.setdefault(provided, []).append(node_name)
        base = f"{pod_name}-extended-resources-"
        out: list[tuple[list[ResourceClaim], list[str]]] = []
        for provided, members in groups.items():
            made = extended_resource_claim(pod, backed, name, base, "", provided=provided)
            out.append(([*claims, made[0]] if made is not None else claims, members))
        return out

    # --- prioritize ------------------------------------------------------------------

    def prioritize(self, args: ExtenderArgs) -> HostPriorityList:
        """Answer the prioritize verb: a score 0..10 for every node asked about.

        Nodes where the claims do not fit, and every node when the pod has no claim
        to allocate, get 0. See :meth:`scores` for the scale.

        Raises:
            WireError: as :meth:`filter`.

        """
        pod = args.pod_model()
        names = args.candidate_names()
        if names is None:
            raise WireError("cannot decode ExtenderArgs: both Nodes and NodeNames are null")
        self._remember(pod)
        try:
            claims = pod_claims(self.cluster, pod)
            scores = {}
            for claim_set, members in self._claim_sets(pod, claims, names):
                scores.update(self.scores(claim_set, members))
        except (ClaimLookupError, InputError, AllocationAborted) as exc:
            log.info("prioritize: %s: every node scores 0", exc)
            scores = {}
        except Exception:
            log.exception("prioritize failed: every node scores 0")
            scores = {}
        return HostPriorityList(
            [HostPriority(Host=name, Score=scores.get(name, 0)) for name in names]
        )

    def scores(self, claims: Sequence[ResourceClaim], nodes: Sequence[str]) -> dict[str, int]:
        """Score ``nodes`` for ``claims`` under the extender's policy, 0..10.

        :meth:`Cluster.score <dra_core.cluster.Cluster.score>` scaled to
        ``MaxExtenderPriority``: on each node where the claims fit, those not
        allocated yet are allocated with CP-SAT under the policy, once per equivalence
        class; the raw scores are mapped linearly onto 0..10 (the best node 10, the
        worst 0; all equal: all 10). Nodes where they do not fit, or not scored within
        the timeout, get 0; so does every node when no claim is left to allocate.
        """
        scored = self.cluster.score(
            claims, nodes, policy=self.policy, engine=self.engine, timeout=self.timeout
        )
        if scored.unscored:
            log.info("prioritize: %d nodes not scored in time score 0", len(scored.unscored))
        return scored.scaled(MAX_EXTENDER_PRIORITY)

    # --- bind ------------------------------------------------------------------------

    def bind(self, args: ExtenderBindingArgs) -> ExtenderBindingResult:
        """Answer the bind verb: allocate and reserve the claims on the node, bind the pod.

        As kube-scheduler's Reserve, PreBind and Bind. All or nothing: on failure the
        reservation is given back and ``Error`` says why.
        """
        try:
            self._bind(args)
        except (DraCoreError, ValueError) as exc:
            return ExtenderBindingResult(Error=str(exc))
        except Exception as exc:
            log.exception("bind failed")
            return ExtenderBindingResult(
                Error=f"dra-core extender: internal error: {type(exc).__name__}: {exc}"
            )
        return ExtenderBindingResult()

    def _bind(self, args: ExtenderBindingArgs) -> None:
        from dra_core.api import ResourceClaimConsumerReference

        namespace = args.pod_namespace or "default"
        if not args.pod_name or not args.node:
            raise WireError("cannot bind: PodName and Node are required")
        with self._lock:
            pod: Pod | None = self._pods.get((namespace, args.pod_name))
        if pod is None and self.binder is not None:
            pod = self.binder.pod(namespace, args.pod_name)
        if pod is None:
            raise ObjectNotFoundError(
                f'pod "{namespace}/{args.pod_name}" not found: the extender has not seen it '
                "(configure the filterVerb too)",
                kind="Pod",
                name=f"{namespace}/{args.pod_name}",
            )
        if args.pod_uid and pod.metadata.uid and args.pod_uid != pod.metadata.uid:
            raise ObjectNotFoundError(
                f'pod "{namespace}/{args.pod_name}" has UID {pod.metadata.uid}, not {args.pod_uid}',
                kind="Pod",
                name=f"{namespace}/{args.pod_name}",
            )
        consumer = ResourceClaimConsumerReference(
            resource="pods", name=pod.metadata.name, uid=args.pod_uid or pod.metadata.uid
        )
        # One bind at a time: reserve, write and give back must not interleave.
        with self._bind_lock:
            claims = pod_claims(self.cluster, pod)
            # with the claim for extended resources backed by DRA (see _claim_sets)
            claims = self._claim_sets(pod, claims, [args.node])[0][0]
            pending = [c for c in claims if not _allocated(c)]
            reserved = (
                self.cluster.reserve(
                    pending, args.node, engine=self.engine, reserved_for=[consumer]
                )
                if pending
                else []
            )
            now = time.time()
            for claim in reserved:
                self._allocated_at.put((claim.metadata.namespace, claim.metadata.name), now)
            # Claims allocated already (shared, or allocated by someone else): their
            # devices must be usable on the node, and the pod is added to reservedFor.
            shared = [c for c in claims if _allocated(c)]
            if shared:
                view = self.cluster.filter(shared, [args.node])
                if args.node not in view.feasible:
                    self._give_back(reserved, [])
                    raise ClusterError(
                        f"{view.reasons.get(args.node, 'cannot allocate all claims')} "
                        f"(node {args.node})"
                    )
            # every claim applied here has its original in ``before``, which _give_back
            # applies again
            updated, changed, before = [], [], []
            for claim in shared:
                status = claim.status
                assert status is not None
                if any(r.uid == consumer.uid for r in status.reserved_for):
                    updated.append(claim)
                    continue
                status = status.model_copy(
                    update={"reserved_for": [*status.reserved_for, consumer]}
                )
                changed.append(claim.model_copy(update={"status": status}))
                updated.append(changed[-1])
                before.append(claim)
            if changed:
                self.cluster.apply(*changed)
            final = {(c.metadata.namespace, c.metadata.name): c for c in [*reserved, *updated]}
            ordered = [final[(c.metadata.namespace, c.metadata.name)] for c in claims]
            if any(_binding_conditions([c]) for c in ordered):
                ordered = [_stamped(c, now) for c in ordered]
                self._wait_for_devices(pod, ordered, reserved, before)
            try:
                if self.binder is not None:
                    self.binder.bind(pod, args.node, ordered)
            except Exception as exc:
                self._give_back(reserved, before)
                if isinstance(exc, DraCoreError):
                    raise
                raise ClusterError(f"binding pod {namespace}/{pod.metadata.name}: {exc}") from exc

    def _wait_for_devices(
        self,
        pod: Pod,
        claims: Sequence[ResourceClaim],
        reserved: Sequence[ResourceClaim],
        before: Sequence[ResourceClaim],
    ) -> None:
        """Return when the claims' binding conditions (KEP-5007) are all true.

        kube-scheduler's PreBind waits for them, up to its binding timeout; a bind call
        cannot (it must answer within ``httpTimeout``). So the wait is spread over
        kube-scheduler's retries: the first bind allocates, writes the claims (so that
        the controller that attaches the devices sees the allocation) and answers
        ``Error`` (waiting) while keeping the reservation; kube-scheduler retries the pod
        with backoff, filter finds the claims allocated on this node only, and a later
        bind binds once every condition is true. A binding failure condition that is
        true, or conditions still not true ``binding_timeout`` after the allocation,
        give the devices back (the claims deallocated; a claim for extended resources
        deleted), so that the next attempt allocates anew.

        Raises:
            ClusterError: waiting, failed or timed out (the message says which).

        """
        state, message = self._binding_state(claims)
        if state == "ready":
            return
        namespace = pod.metadata.namespace or "default"
        if state == "waiting":
            if reserved or before:  # changed now: written, and kept for the next attempt
                write = getattr(self.binder, "write_claims", None)
                try:
                    if write is not None:
                        write(pod, claims)
                except Exception as exc:
                    self._give_back(reserved, before)
                    raise ClusterError(
                        f"writing the claims of pod {namespace}/{pod.metadata.name}: {exc}"
                    ) from exc
            raise ClusterError(
                f"{message}: waiting for binding conditions (KEP-5007); kube-scheduler "
                "retries the pod"
            )
        self._deallocate(pod, [c for c in claims if _binding_conditions([c])])
        raise ClusterError(message)

    def _binding_state(self, claims: Sequence[ResourceClaim]) -> tuple[str, str]:
        """``ready``, ``waiting`` or ``failed`` (kube-scheduler's isPodReadyForBinding)."""
        for claim in claims:
            key = (claim.metadata.namespace, claim.metadata.name)
            current = self.cluster.get("ResourceClaim", key[1], key[0] or "default")
            if current is not None and _allocated(current):
                claim = current  # the conditions the controller reported since
            status = claim.status
            allocation = status.allocation if status is not None else None
            devices = allocation.devices if allocation is not None else None
            reported = {(d.driver, d.pool, d.device): d for d in (status.devices if status else [])}
            for result in devices.results if devices is not None else []:
                if not result.binding_conditions:
                    continue
                device = reported.get((result.driver, result.pool, result.device))
                conditions = {
                    c.get("type"): c
                    for c in (device.conditions if device is not None else [])
                    if isinstance(c, dict)
                }
                for name in result.binding_failure_conditions:
                    failed = conditions.get(name)
                    if failed is not None and failed.get("status") == "True":
                        return "failed", (
                            f"claim {key[1]} binding failed: reason={failed.get('reason', '')}, "
                            f"message={json.dumps(failed.get('message', ''))}"
                        )
                missing = [
                    n
                    for n in result.binding_conditions
                    if conditions.get(n, {}).get("status") != "True"
                ]
                if not missing:
                    continue
                allocated_at = _timestamp(allocation) or self._allocated_at.get(key)
                if allocated_at is None:
                    allocated_at = time.time()
                    self._allocated_at.put(key, allocated_at)
                if time.time() - allocated_at > self.binding_timeout:
                    return "failed", f"claim {key[1]} binding timeout"
                return "waiting", (
                    f"claim {key[0]}/{key[1]}, request {result.request}: device "
                    f"{result.driver}/{result.pool}/{result.device}: binding conditions "
                    f"not true yet: {', '.join(missing)}"
                )
        return "ready", ""

    def _deallocate(self, pod: Pod, claims: Sequence[ResourceClaim]) -> None:
        """Give back devices whose binding failed: deallocate, or delete the special claim."""
        from dra_core.cluster._extended import is_extended_resource_claim

        cleared = []
        for claim in claims:
            current = self.cluster.get(
                "ResourceClaim", claim.metadata.name, claim.metadata.namespace or "default"
            )
            if current is None:
                continue
            self._allocated_at.pop((claim.metadata.namespace, claim.metadata.name), None)
            if is_extended_resource_claim(current):
                delete = getattr(self.binder, "delete_claim", None)
                if delete is not None:
                    delete(current)
                self.cluster.delete(current)
                continue
            assert current.status is not None
            status = current.status.model_copy(
                update={"allocation": None, "reserved_for": [], "devices": []}
            )
            cleared.append(current.model_copy(update={"status": status}))
        if cleared:
            write = getattr(self.binder, "write_claims", None)
            if write is not None:
                write(pod, cleared)
            self.cluster.apply(*cleared)

    def _give_back(
        self, reserved: Sequence[ResourceClaim], shared: Sequence[ResourceClaim]
    ) -> None:
        if reserved:
            self.cluster.unreserve(reserved)
        if shared:
            self.cluster.apply(*shared)

    # --- preempt ---------------------------------------------------------------------

    def preempt(self, args: ExtenderPreemptionArgs) -> ExtenderPreemptionResult:
        """Answer the preempt verb with the victims unchanged, as MetaVictims.

        dra-core does not choose victims: kube-scheduler's own preemption already
        accounts for the devices the victims' claims hold once they are deallocated.
        """
        if args.node_name_to_meta_victims is not None:
            return ExtenderPreemptionResult(NodeNameToMetaVictims=args.node_name_to_meta_victims)
        out: dict[str, MetaVictims | None] = {}
        for node, victims in (args.node_name_to_victims or {}).items():
            if victims is None:
                out[node] = None
                continue
            pods = []
            for pod in victims.pods or []:
                meta = _get_ci(pod, "metadata")
                uid = _get_ci(meta, "uid")
                pods.append(MetaPod(UID=uid if isinstance(uid, str) else ""))
            out[node] = MetaVictims(Pods=pods, NumPDBViolations=victims.num_pdb_violations)
        return ExtenderPreemptionResult(NodeNameToMetaVictims=out)


def _binding_conditions(claims: Sequence[ResourceClaim]) -> str:
    """Name the first allocated device with binding conditions, or return ""."""
    for claim in claims:
        allocation = claim.status.allocation if claim.status is not None else None
        devices = allocation.devices if allocation is not None else None
        for result in devices.results if devices is not None else []:
            if result.binding_conditions:
                return (
                    f"claim {claim.metadata.namespace}/{claim.metadata.name}, request "
                    f"{result.request}: device {result.driver}/{result.pool}/{result.device} "
                    f"has binding conditions ({', '.join(result.binding_conditions)})"
                )
    return ""


def _timestamp(allocation: Any) -> float | None:
    """``allocationTimestamp`` as seconds since the epoch, or None."""
    from datetime import datetime

    text = getattr(allocation, "allocation_timestamp", None)
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _stamped(claim: ResourceClaim, now: float) -> ResourceClaim:
    """Return the claim with ``allocationTimestamp`` set, unless it has one.

    kube-scheduler sets it for devices with binding conditions.
    """
    from datetime import UTC, datetime

    status = claim.status
    allocation = status.allocation if status is not None else None
    if status is None or allocation is None or allocation.allocation_timestamp:
        return claim
    stamp = datetime.fromtimestamp(int(now), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    allocation = allocation.model_copy(update={"allocation_timestamp": stamp})
    return claim.model_copy(update={"status": status.model_copy(update={"allocation": allocation})})


def _asks_for_extended_resources(pod: Pod) -> bool:
    # Cheap: a resource name with a domain (cpu and memory have none).
    for container in [*pod.spec.init_containers, *pod.spec.containers]:
        resources = container.resources
        if resources is not None and any(
            "/" in k for k in [*resources.requests, *resources.limits]
        ):
            return True
    return False


def _extended_claim_name(pod: Pod) -> str:
    # status.extendedResourceClaimStatus.resourceClaimName (kept as raw JSON by the model)
    extra = (pod.status.model_extra or {}) if pod.status is not None else {}
    status = extra.get("extendedResourceClaimStatus")
    name = status.get("resourceClaimName") if isinstance(status, dict) else None
    return name if isinstance(name, str) else ""


#: The letters of the API server's generateName suffixes (k8s.io/apimachinery rand).
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def _suffix(pod: Pod) -> str:
    """Five letters for a generated name, from the pod's UID: the same pod, the same name."""
    import hashlib

    digest = hashlib.sha256(f"{_pod_key(pod)}/{pod.metadata.uid}".encode()).digest()
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in digest[:5])


def _node_name(item: dict[str, Any]) -> str:
    name = _get_ci(_get_ci(item, "metadata"), "name")
    return name if isinstance(name, str) else ""


# --- the ASGI app ----------------------------------------------------------------------------

#: The default limit on a request body (kube-scheduler sends the pod, and with
#: ``nodeCacheCapable: false`` every candidate Node: allow for thousands).
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024


#: The CPU seconds a filter may use on the event loop before it is handed to a worker
#: thread (see :func:`create_app`).
INLINE_FILTER_SECONDS = 0.02
#: The largest filter body tried on the event loop (a NodeList of thousands of Nodes is
#: decoded in a worker thread).
INLINE_FILTER_BYTES = 1 << 20


def create_app(
    extender: Extender,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    workers: int = 1,
    inline_filter_seconds: float = INLINE_FILTER_SECONDS,
    on_startup: Sequence[Callable[[], Any]] = (),
    on_shutdown: Sequence[Callable[[], Any]] = (),
) -> Any:
    """Return a Starlette (ASGI) app that serves ``extender``.

    Routes: ``POST /filter``, ``/prioritize``, ``/bind``, ``/preempt`` (kube-scheduler's
    verbs; point ``urlPrefix`` at the app and name them in the ``extenders:`` stanza),
    ``GET /healthz``, ``GET /readyz`` (503 until the state is loaded), ``GET /metrics``
    (Prometheus text). A body over ``max_body_bytes`` is a 413; a body that is not JSON
    of the verb's type a 400 with the reason.

    Where the verbs run: bind, preempt and prioritize in worker threads (``workers``
    for bind and preempt, as many again for prioritize), so that a long allocation or
    a write to the API server never blocks the event loop. A filter is answered on the
    event loop itself, one at a time in arrival order, when no verb is running in a
    worker thread and the body is at most 1 MiB; one that needs more than
    ``inline_filter_seconds`` of CPU (20 ms: a cold cache, a hard allocation) is
    stopped and run again in a worker thread, where the loop stays free. A warm filter
    of 500 nodes costs well under 1 ms: on the loop it saves the hand-over to a thread
    and back and the two threads' contention for the GIL (see docs/extender.md, "Load
    test"). ``inline_filter_seconds=0`` runs every filter in a worker thread.

    ``on_startup``/``on_shutdown`` run in the app's lifespan (starting and stopping a
    state source, for example). Needs the ``extender`` extra (Starlette,
    prometheus-client).
    """
    import asyncio
    import contextlib

    from anyio import CapacityLimiter
    from anyio.to_thread import run_sync
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        Counter,
        Histogram,
        generate_latest,
    )
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    # filter, bind and preempt are CPU-bound Python under one Cluster lock: more
    # threads than one only add switching (measured in benchmarks/bench_extender.py).
    # prioritize has threads of its own, so that CP-SAT (which releases the GIL while
    # it solves) never holds filters up.
    limiter = CapacityLimiter(workers)
    scoring = CapacityLimiter(workers)
    registry = CollectorRegistry()
    requests = Counter(
        "dra_core_extender_requests",
        "Extender requests by verb and HTTP status code.",
        ["verb", "code"],
        registry=registry,
    )
    latency = Histogram(
        "dra_core_extender_request_duration_seconds",
        "Time to answer an extender request, by verb.",
        ["verb"],
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        registry=registry,
    )
    filter_nodes = Counter(
        "dra_core_extender_filter_nodes",
        "Nodes answered by filter, by outcome (feasible, failed, unresolvable).",
        ["outcome"],
        registry=registry,
    )
    bind_results = Counter(
        "dra_core_extender_bind",
        "Bind answers by result (bound, error).",
        ["result"],
        registry=registry,
    )

    def count_filter(feasible: int, failed: int, unresolvable: int) -> None:
        filter_nodes.labels("feasible").inc(feasible)
        filter_nodes.labels("failed").inc(failed)
        filter_nodes.labels("unresolvable").inc(unresolvable)

    filters_handed_over = Counter(
        "dra_core_extender_filter_handed_over",
        "Filters tried on the event loop that took too long and ran again in a thread.",
        registry=registry,
    )

    extender.on_filter = count_filter
    tasks: set[asyncio.Task[None]] = set()  # the loop queues' servers, stopped at shutdown

    class _TooLarge(Exception):
        pass

    async def read_body(request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    # Filters on the event loop: one queue, served in arrival order by one task that
    # answers one filter and then lets the loop read the sockets again. (Filters run
    # as they came off the sockets were answered in batches: p99 2-3x the median in
    # the load test, against 1.3-1.6x through the queue.) A filter is served here only
    # while no verb runs in a worker thread (``in_threads``, changed on the loop only):
    # then nothing of ours holds the Cluster's lock, so the loop cannot block on it
    # (only on a state source's apply, which is short). Otherwise, when it is too large,
    # or when it needs more than ``inline_filter_seconds`` of CPU, it goes to a thread.
    in_threads = [0]
    loop_queue: dict[Any, asyncio.Queue[tuple[bytes, asyncio.Future[bytes | None]]]] = {}

    def answer_on_loop(body: bytes) -> bytes | None:
        """Answer a filter on the loop; None when a thread must (see above)."""
        if in_threads[0]:
            return None
        give_up = time.thread_time() + inline_filter_seconds

        def too_long() -> bool:
            return time.thread_time() > give_up

        try:
            data: bytes = extender.filter(ExtenderArgs.from_json(body), cancel=too_long).to_json()
        except AllocationCancelled:
            filters_handed_over.inc()
            return None
        return data

    async def serve_loop_queue(
        queue: asyncio.Queue[tuple[bytes, asyncio.Future[bytes | None]]],
    ) -> None:
        while True:
            body, future = await queue.get()
            if not future.done():  # done: the client went away
                try:
                    future.set_result(answer_on_loop(body))
                except Exception as exc:  # WireError, or a bug: that request's answer
                    future.set_exception(exc)
            await asyncio.sleep(0)  # read the sockets: new filters queue up behind

    async def filter_on_loop(body: bytes) -> bytes | None:
        loop = asyncio.get_running_loop()
        queue = loop_queue.get(loop)
        if queue is None:
            queue = loop_queue[loop] = asyncio.Queue()
            tasks.add(loop.create_task(serve_loop_queue(queue)))
        future: asyncio.Future[bytes | None] = loop.create_future()
        queue.put_nowait((body, future))
        return await future

    def verb(
        name: str, decode: Callable[[bytes], Any], answer: Callable[[Any], Any]
    ) -> Callable[[Request], Any]:
        threads = scoring if name == "prioritize" else limiter
        try_inline = name == "filter" and inline_filter_seconds > 0

        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            try:
                try:
                    body = await read_body(request)
                except _TooLarge:
                    return _status(413, f"the request body is over {max_body_bytes} bytes")
                try:

                    def run() -> bytes:
                        result = answer(decode(body))
                        data: bytes = result.to_json()
                        return data

                    data = None
                    if try_inline and not in_threads[0] and len(body) <= INLINE_FILTER_BYTES:
                        data = await filter_on_loop(body)
                    if data is None:
                        in_threads[0] += 1
                        try:
                            data = await run_sync(run, limiter=threads)
                        finally:
                            in_threads[0] -= 1
                except WireError as exc:
                    return _status(400, str(exc))
                except Exception as exc:  # a bug of ours: this request only
                    log.exception("%s failed", name)
                    return _status(500, f"internal error: {type(exc).__name__}: {exc}")
                if name == "bind":
                    bind_results.labels("error" if b'"Error":""' not in data else "bound").inc()
                requests.labels(name, "200").inc()
                return Response(data, media_type="application/json")
            finally:
                latency.labels(name).observe(time.perf_counter() - started)

        def _status(code: int, message: str) -> Response:
            requests.labels(name, str(code)).inc()
            return PlainTextResponse(message + "\n", status_code=code)

        return endpoint

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        if extender.ready():
            return PlainTextResponse("ok\n")
        return PlainTextResponse("the cluster state is not loaded yet\n", status_code=503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        for hook in on_startup:
            await run_in_threadpool(hook)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            tasks.clear()
            loop_queue.clear()
            for hook in on_shutdown:
                await run_in_threadpool(hook)

    routes = [
        Route(
            "/filter",
            verb("filter", ExtenderArgs.from_json, extender.filter),
            methods=["POST"],
        ),
        Route(
            "/prioritize",
            verb("prioritize", ExtenderArgs.from_json, extender.prioritize),
            methods=["POST"],
        ),
        Route(
            "/bind",
            verb("bind", ExtenderBindingArgs.from_json, extender.bind),
            methods=["POST"],
        ),
        Route(
            "/preempt",
            verb("preempt", ExtenderPreemptionArgs.from_json, extender.preempt),
            methods=["POST"],
        ),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.extender = extender
    app.state.registry = registry
    return app
