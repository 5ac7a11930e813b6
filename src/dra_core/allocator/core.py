"""The allocator facade: :class:`Allocator` and :func:`allocate`.

The shape kube-scheduler uses: one :class:`Allocator` per scheduling cycle, built
from the slices, classes, allocated state and features; one
:meth:`Allocator.allocate` per node. Allocating ends in one of three ways:

- a list with one ``AllocationResult`` per claim, in claim order;
- ``None``: the claims do not fit on this node (incomplete pools included);
- an exception: :class:`~dra_core.errors.InputError` (e.g.
  :class:`~dra_core.errors.AllocationInputError`, CEL errors) for input that no
  node can satisfy, or :class:`~dra_core.errors.AllocationAborted` when a timeout
  or cancellation stopped it (never "does not fit").

Inputs are never mutated; the same inputs give the same output (share ids are
derived from ``share_id_seed``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from dra_core.allocator.engines import get_engine
from dra_core.allocator.problem import build_problem
from dra_core.allocator.results import build_results
from dra_core.allocator.search import check_abort
from dra_core.errors import InvalidPoolsError, ManifestError
from dra_core.features import Features
from dra_core.inventory import Inventory
from dra_core.state import AllocatedState

if TYPE_CHECKING:
    from dra_core.api import AllocationResult, DeviceClass, Node, ResourceClaim, ResourceSlice

__all__ = ["Allocator", "allocate"]

_M = TypeVar("_M")


def _model(cls: type[_M], value: Any, kind: str) -> _M:
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        from pydantic import ValidationError

        try:
            return cls.model_validate(value)  # type: ignore[attr-defined, no-any-return]
        except ValidationError as err:
            meta = value.get("metadata") or {}
            name = meta.get("name") if isinstance(meta, Mapping) else None
            raise ManifestError(str(err), source="<dict>", kind=kind, name=name) from None
    raise TypeError(f"expected a {kind} model or dict, got {type(value).__name__}")


def _features(features: Features | Mapping[str, bool] | None) -> Features:
    if features is None:
        return Features()
    if isinstance(features, Features):
        return features
    return Features.from_mapping(features)


class Allocator:
    """Allocates claims on one node at a time, against a fixed set of slices and classes.

    Args:
        slices: ResourceSlice models or dicts.
        classes: DeviceClass models or dicts. When two have the same name, the
            first wins.
        allocated_state: the devices already in use (default: none).
        allocated_claims: claims whose ``status.allocation`` is in use, added to
            ``allocated_state`` (a copy; the given state is not changed).
        features: the feature switches (a :class:`~dra_core.features.Features` or a
            mapping of switch names); all on by default.
        share_id_seed: makes share ids different between otherwise equal runs.

    """

    def __init__(
        self,
        *,
        slices: Iterable[ResourceSlice | Mapping[str, Any]] = (),
        classes: Iterable[DeviceClass | Mapping[str, Any]] = (),
        allocated_state: AllocatedState | None = None,
        allocated_claims: Iterable[ResourceClaim | Mapping[str, Any]] = (),
        features: Features | Mapping[str, bool] | None = None,
        share_id_seed: str = "",
    ) -> None:
        from dra_core.api import DeviceClass, ResourceClaim, ResourceSlice

        self.features = _features(features)
        slice_models = [_model(ResourceSlice, s, "ResourceSlice") for s in slices]
        self.inventory = Inventory.cached(slice_models, self.features)
        self.classes: dict[str, DeviceClass] = {}
        for c in classes:
            model = _model(DeviceClass, c, "DeviceClass")
            self.classes.setdefault(model.metadata.name or "", model)
        claims = [_model(ResourceClaim, c, "ResourceClaim") for c in allocated_claims]
        if allocated_state is None:
            state = AllocatedState(consumable_capacity=self.features.consumable_capacity)
        else:
            state = allocated_state.copy() if claims else allocated_state
        for claim in claims:
            state.add_claim(claim)
        self.allocated_state = state
        self.share_id_seed = share_id_seed

    def allocate(
        self,
        node: Node | Mapping[str, Any] | None,
        claims: Sequence[ResourceClaim | Mapping[str, Any]],
        *,
        timeout: float | None = None,
        cancel: Any = None,
        engine: str = "auto",
        options: Mapping[str, Any] | None = None,
    ) -> list[AllocationResult] | None:
        """Allocate ``claims`` together on ``node``.

        Args:
            node: the Node (model or dict).
            claims: the claims to allocate, in order.
            timeout: seconds before :class:`~dra_core.errors.AllocationTimeout`.
            cancel: a flag with ``is_set()`` (e.g. :class:`threading.Event`) or a
                callable; when it turns true, :class:`~dra_core.errors.AllocationCancelled`.
            engine: the engine's registered name: ``"auto"`` (the default: the search
                within an effort budget, then CP-SAT; the same answer as the search
                wherever the search finishes), ``"search"`` or ``"cpsat"``.
            options: engine options (e.g. ``{"max_steps": 10000}`` for the search).

        Returns:
            One AllocationResult per claim, in claim order, or None when they do not
            fit on this node.

        Raises:
            AllocationInputError, CELCompileError, CELRuntimeError: bad input.
            AllocationTimeout, AllocationCancelled: stopped before an answer.

        """
        from dra_core.api import Node as NodeModel
        from dra_core.api import ResourceClaim

        solve = get_engine(engine)
        deadline = time.monotonic() + timeout if timeout is not None else None
        node_model = None if node is None else _model(NodeModel, node, "Node")
        claim_models = [_model(ResourceClaim, c, "ResourceClaim") for c in claims]
        check = None
        if deadline is not None or cancel is not None:

            def check() -> None:
                check_abort(deadline, timeout, cancel)

            check()
        problem = build_problem(
            inventory=self.inventory,
            node=node_model,
            claims=claim_models,
            classes=self.classes,
            allocated_state=self.allocated_state,
            features=self.features,
            check_abort=check,
        )
        solution = solve(
            problem, deadline=deadline, timeout=timeout, cancel=cancel, options=options
        )
        if solution is None:
            if problem.has_invalid_pools:
                # Only an error when nothing could be allocated: other pools may do.
                invalid = {str(p.id): p.invalid_reason for p in problem.pools if p.invalid}
                raise InvalidPoolsError(
                    "invalid resource pools were encountered: "
                    + "; ".join(f"{pool}: {reason}" for pool, reason in invalid.items()),
                    pools=invalid,
                )
            return None
        return build_results(problem, solution, seed=self.share_id_seed)


def allocate(
    *,
    node: Node | Mapping[str, Any] | None,
    claims: Sequence[ResourceClaim | Mapping[str, Any]],
    slices: Iterable[ResourceSlice | Mapping[str, Any]],
    classes: Iterable[DeviceClass | Mapping[str, Any]],
    allocated_claims: Iterable[ResourceClaim | Mapping[str, Any]] = (),
    features: Features | Mapping[str, bool] | None = None,
    timeout: float | None = None,
    engine: str = "auto",
    allocated_state: AllocatedState | None = None,
    share_id_seed: str = "",
    cancel: Any = None,
    options: Mapping[str, Any] | None = None,
) -> list[AllocationResult] | None:
    """Allocate ``claims`` on ``node``, the way kube-scheduler's allocator does.

    Accepts models or plain Kubernetes-shaped dicts. See :class:`Allocator` for the
    arguments and :meth:`Allocator.allocate` for the outcomes (``timeout``,
    ``cancel``, ``engine`` and ``options`` are passed on to it).
    """
    allocator = Allocator(
        slices=slices,
        classes=classes,
        allocated_state=allocated_state,
        allocated_claims=allocated_claims,
        features=features,
        share_id_seed=share_id_seed,
    )
    return allocator.allocate(
        node, claims, timeout=timeout, cancel=cancel, engine=engine, options=options
    )
