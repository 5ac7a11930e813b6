"""Scoring nodes for a pod's claims under a policy: :meth:`Cluster.score`.

kube-scheduler's DynamicResources plugin has no Score extension point; a scheduler that
wants to prefer some nodes for a pod's devices (an extender's prioritize, a scheduler
plugin, a simulator) asks :meth:`Cluster.score <dra_core.cluster.Cluster.score>`:

1. the claims are filtered (:meth:`Cluster.filter`): only feasible nodes are scored;
2. on one node of each equivalence class of the feasible nodes, the claims that are
   not allocated yet are allocated with CP-SAT under the policy
   (:func:`dra_core.allocator.cpsat.solve`), against the cluster's state; its score
   (higher is better) is every member's raw score;
3. :meth:`NodeScores.scaled` maps the raw scores linearly onto ``0..maximum``.

Why one score per equivalence class is exact: nodes with equal keys see pools with the
same devices, attributes, capacities and counters in the same order, and the same use
of them (see :mod:`dra_core.cluster._cluster`), so CP-SAT's model, and with it the
optimal objective, is the same up to names. The raw scores are kept in the Cluster's
memo under the same key and dropped by the same changes as filter's answers (a class,
a pool that several nodes see, the devices in use in it); a change to one node's own
pools gives that node a new key. Only proven-optimal scores are kept: a solve stopped
by the time limit is not the policy's answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dra_core.allocator.cpsat import solve
from dra_core.allocator.cpsat_model import SolverParams
from dra_core.allocator.problem import build_problem
from dra_core.errors import AllocationCancelled, AllocationTimeout, InputError

if TYPE_CHECKING:
    from dra_core.api import ResourceClaim
    from dra_core.cluster._cluster import Cluster
    from dra_core.cluster._view import FilterView

__all__ = ["MAX_SCORE", "SCORE_POLICIES", "NodeScores", "score_nodes"]

#: The policies :meth:`Cluster.score` knows (see :class:`NodeScores`).
SCORE_POLICIES = ("best-fit", "pack", "spread")

#: The top of :meth:`NodeScores.scaled` unless told otherwise: kube-scheduler's
#: ``MaxExtenderPriority`` (its Score plugins use ``MaxNodeScore``, 100).
MAX_SCORE = 10

# A policy's raw score of one node: a float, or None when the node could not be scored
# (an error of that node).
_Raw = float | None


class NodeScores:
    """How much a policy prefers each node for a pod's claims.

    Attributes:
        policy: the policy: ``best-fit`` (the smallest sufficient devices: the cost of
            a device is its size relative to the largest of its kind on the node),
            ``pack`` (counter sets and shared devices that are in use already first),
            ``spread`` (untouched ones first). See docs/cluster.md.
        nodes: the nodes asked about, in order, without repeats.
        view: the filter's answer (feasible nodes, reasons for the others).
        raw: the policy's raw score (higher is better) of every feasible node that was
            scored; a node missing here is not feasible, ran out of time, or had an
            error of its own (see :attr:`unscored`). Empty when the pod has no claim
            left to allocate: then no node is preferred.
        optimal: whether every raw score is proven best for the policy (False when the
            time limit stopped a solve with an answer that may not be the best).
        version: the cluster's version the scores are for.

    """

    __slots__ = ("nodes", "optimal", "policy", "raw", "version", "view")

    def __init__(
        self,
        policy: str,
        nodes: Sequence[str],
        view: FilterView,
        raw: Mapping[str, float],
        optimal: bool,
    ) -> None:
        self.policy = policy
        self.nodes: tuple[str, ...] = tuple(nodes)
        self.view = view
        self.raw: dict[str, float] = dict(raw)
        self.optimal = optimal
        self.version = view.version

    @property
    def unscored(self) -> tuple[str, ...]:
        """Feasible nodes without a raw score (time ran out, or an error of the node)."""
        return tuple(n for n in self.view.feasible if n not in self.raw)

    def scaled(self, maximum: int = MAX_SCORE) -> dict[str, int]:
        """Return every node's score on ``0..maximum``, in the order of :attr:`nodes`.

        The raw scores are mapped linearly: the best node gets ``maximum``, the worst
        0, and when they are all equal all get ``maximum``. Nodes without a raw score
        get 0. For example raw scores ``{a: -3, b: -1, c: -2}`` with ``maximum=10``
        give ``{a: 0, b: 10, c: 5}``.

        Raises:
            ValueError: ``maximum`` below 1.

        """
        if maximum < 1:
            raise ValueError(f"maximum must be at least 1, not {maximum}")
        out = dict.fromkeys(self.nodes, 0)
        if not self.raw:
            return out
        low, high = min(self.raw.values()), max(self.raw.values())
        for node, score in self.raw.items():
            if high == low:
                out[node] = maximum
            else:
                out[node] = round(maximum * (score - low) / (high - low))
        return out

    def __repr__(self) -> str:
        return (
            f"NodeScores(policy={self.policy!r}, nodes={len(self.nodes)}, "
            f"feasible={len(self.view.feasible)}, scored={len(self.raw)})"
        )


def score_nodes(
    cluster: Cluster,
    claims: Sequence[ResourceClaim | Mapping[str, Any]],
    nodes: Iterable[str] | None,
    *,
    policy: str,
    engine: str,
    timeout: float | None,
    cancel: Any,
) -> NodeScores:
    """Do :meth:`Cluster.score` (see there); the cluster's lock is held throughout."""
    from dra_core.cluster._cluster import _allocation, _freeze, _Sig

    if policy not in SCORE_POLICIES:
        raise ValueError(
            f"unknown scoring policy {policy!r}; known policies: {', '.join(SCORE_POLICIES)}"
        )
    deadline = time.monotonic() + timeout if timeout is not None else None
    # One state from the filter to the last score: the lock is an RLock, and every
    # Cluster method takes it, so nothing changes in between.
    with cluster._lock:
        view = cluster.filter(claims, nodes, engine=engine, timeout=timeout, cancel=cancel)
        data = cluster._data
        asked = tuple(data.nodes) if nodes is None else tuple(dict.fromkeys(nodes))
        pending = [c for c in view._claims if _allocation(c) is None]
        if not pending or not view.feasible:
            return NodeScores(policy, asked, view, {}, True)
        # Tagged so that it never equals a filter signature (whose first part is the
        # engine's name): the memo holds both, under one lifetime.
        sig = _Sig(("score", policy, *(_freeze(c.spec) for c in pending)))
        groups: dict[Any, list[str]] = {}
        for name in view.feasible:
            groups.setdefault(cluster._key(name), []).append(name)
        memo = data.memo
        raw: dict[str, float] = {}
        optimal = True
        for key, members in groups.items():
            entry = (sig, key)
            if entry in memo:
                score: _Raw = memo[entry]
            else:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    optimal = False
                    continue  # out of time: the rest stay unscored
                params = SolverParams() if left is None else SolverParams(time_limit=left)
                try:
                    problem = build_problem(
                        inventory=data.inventory,
                        node=data.nodes[members[0]],
                        claims=pending,
                        classes=data.classes,
                        allocated_state=data.state,
                        features=cluster.features,
                    )
                    outcome = solve(problem, policy=policy, params=params, cancel=cancel)
                except AllocationCancelled:
                    raise
                except AllocationTimeout:
                    optimal = False
                    continue
                except InputError:
                    score = None  # an error of this node (filter has its reason)
                else:
                    score = outcome.score
                    if not outcome.optimal:
                        optimal = False
                        if score is not None:
                            raw.update(dict.fromkeys(members, score))
                        continue  # not the policy's answer: not kept
                if len(memo) > 65536:
                    memo.clear()
                memo[entry] = score
            if score is not None:
                raw.update(dict.fromkeys(members, score))
        return NodeScores(policy, asked, view, raw, optimal)
