"""The answer of :meth:`Cluster.filter <dra_core.cluster.Cluster.filter>`: a FilterView."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dra_core.errors import StaleViewError

if TYPE_CHECKING:
    from dra_core.api import AllocationResult, ResourceClaim
    from dra_core.cluster._cluster import Cluster

__all__ = ["CANNOT_ALLOCATE", "CLAIM_NOT_ON_NODE", "FilterView"]

#: kube-scheduler's DynamicResources reason when the claims do not fit on a node.
CANNOT_ALLOCATE = "cannot allocate all claims"
#: kube-scheduler's reason when an allocated claim's devices are not usable on a node.
CLAIM_NOT_ON_NODE = "resourceclaim not available on the node"


class FilterView:
    """Which nodes a pod's claims fit on, and why not on the others.

    Attributes:
        feasible: the names of the nodes where all the claims fit, in the cluster's
            node order (or the order of the ``nodes`` that were asked about).
        reasons: for every other node, why not, in kube-scheduler's words.
        unresolvable: the nodes whose reason no preemption can change (an input error
            on that node, an allocated claim whose devices are elsewhere, an unknown
            node): kube-scheduler's ``UnschedulableAndUnresolvable``.
        version: the cluster's version when the view was made.

    """

    __slots__ = (
        "_claims",
        "_cluster",
        "_engine",
        "feasible",
        "reasons",
        "unresolvable",
        "version",
    )

    def __init__(
        self,
        cluster: Cluster,
        claims: Sequence[ResourceClaim],
        engine: str,
        feasible: Sequence[str],
        reasons: Mapping[str, str],
        unresolvable: frozenset[str],
        version: int,
    ) -> None:
        self._cluster = cluster
        self._claims = tuple(claims)
        self._engine = engine
        self.feasible: tuple[str, ...] = tuple(feasible)
        self.reasons: dict[str, str] = dict(reasons)
        self.unresolvable = unresolvable
        self.version = version

    @property
    def nodes(self) -> int:
        """How many nodes were looked at."""
        return len(self.feasible) + len(self.reasons)

    def allocation(self, node: str) -> list[AllocationResult]:
        """Return the AllocationResults of the claims on ``node``, one per claim, in order.

        Exactly what :func:`dra_core.allocate` gives for that node against the cluster's
        state; built when asked for. Claims that were allocated already keep their
        allocation.

        Raises:
            StaleViewError: the cluster has changed since the view was made.
            KeyError: ``node`` is not one of :attr:`feasible`.

        """
        if node not in self.feasible:
            raise KeyError(f"node {node!r} is not feasible for these claims")
        return self._cluster._allocation_for_view(self, node)

    def message(self) -> str:
        """Return kube-scheduler's one-line summary of the view.

        For example ``0/3 nodes are available: 3 cannot allocate all claims.``.

        The reasons are counted per node and sorted as kube-scheduler's ``FitError``
        sorts them (as text).
        """
        head = f"{len(self.feasible)}/{self.nodes} nodes are available"
        if not self.reasons:
            return head + "."
        counts = Counter(self.reasons.values())
        parts = sorted(f"{count} {reason}" for reason, count in counts.items())
        return f"{head}: {', '.join(parts)}."

    def _check(self, version: int) -> None:
        if version != self.version:
            raise StaleViewError(
                "the cluster changed since this view was made (version "
                f"{self.version}, now {version}): filter again"
            )

    def __repr__(self) -> str:
        return f"FilterView({self.message()!r})"

    def _as_tuple(self) -> tuple[Any, ...]:
        return (self.feasible, self.reasons)
