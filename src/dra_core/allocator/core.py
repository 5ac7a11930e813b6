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
derived from ``share_id_seed``). Models are treated as immutable, as Kubernetes
informers' objects are: a changed slice, class or claim is a new object. dra-core keys
its caches on the objects (the inventory on the slices, the checked form of a claim on
the claim and the classes it names), so changing a model's lists in place is not seen.

Speed: kube-scheduler's shape is the fast one: validated models (from
:func:`~dra_core.io.load` or ``Model.model_validate``), one :class:`Allocator` per
cycle, :meth:`Allocator.allocate` per node. Plain dicts are accepted everywhere and
validated once: a validated dict is remembered by its content (see :func:`_model`), so
passing the same slice dicts again costs a serialisation, not a validation, and the
slices' caches (CEL views, pools per node) are reused as with models.
"""

from __future__ import annotations

import marshal
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from dra_core.allocator.engines import get_engine
from dra_core.allocator.problem import build_problem
from dra_core.allocator.results import build_results
from dra_core.allocator.search import check_abort
from dra_core.api import DeviceClass, Node, ResourceClaim, ResourceSlice
from dra_core.api._core import build_shared_validators
from dra_core.errors import InvalidPoolsError, ManifestError
from dra_core.features import Features
from dra_core.inventory import Inventory
from dra_core.state import AllocatedState

if TYPE_CHECKING:
    from dra_core.api import AllocationResult

__all__ = ["Allocator", "allocate", "clear_model_cache"]

_M = TypeVar("_M")

# --- validated dicts, remembered by content -------------------------------------------------
#
# Key: (model class, marshal.dumps(dict, 2)). Why that is safe:
# - marshal writes exactly the plain data: dict key order, and the type of every scalar
#   (True, 1 and 1.0 are three different byte strings, though equal in Python), and it
#   refuses every other type, subclasses included (the YAML loader's YamlInt/YamlBoolWord,
#   OrderedDict, models): such input is validated every time, uncached. Equal bytes
#   therefore mean input that validation cannot tell apart, so the remembered model is the
#   one validation would build now. Version 2 writes no back-references, so the bytes do
#   not depend on how objects are shared.
# - A dict changed in place gives other bytes: a new validation, never a stale model.
# - The models are frozen and never changed by the allocator, so one model may be handed
#   to every caller that passes the same content. Failed validations are not remembered.
# Bounded: least recently used first out, by entries and by the bytes of the keys.
_CACHE_ENTRIES = 4096
_CACHE_KEY_BYTES = 32 << 20
_cache: dict[tuple[type, bytes], Any] = {}
_cache_bytes = 0
_cache_lock = threading.Lock()


def _cached_validate(cls: type[_M], value: Mapping[str, Any]) -> _M:
    global _cache_bytes
    try:
        # Any mapping may come here: marshal refuses (ValueError) what it cannot write.
        key = (cls, marshal.dumps(value, 2))  # type: ignore[arg-type]
    except ValueError:  # not plain data: validate every time
        return cls.model_validate(value)  # type: ignore[attr-defined, no-any-return]
    hit = _cache.get(key)
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    if not cls.__pydantic_complete__:  # type: ignore[attr-defined]
        build_shared_validators()  # before the kind's own (see there)
    model = cls.model_validate(value)  # type: ignore[attr-defined]
    size = len(key[1])
    with _cache_lock:
        if key not in _cache:
            while _cache and (
                len(_cache) >= _CACHE_ENTRIES or _cache_bytes + size > _CACHE_KEY_BYTES
            ):
                # Insertion order: the oldest first (hits are not moved: a cheap
                # approximation of least recently used that needs no lock on a hit).
                old = next(iter(_cache))
                del _cache[old]
                _cache_bytes -= len(old[1])
            _cache[key] = model
            _cache_bytes += size
    return model  # type: ignore[no-any-return]


def clear_model_cache() -> None:
    """Forget the validated dicts (see :func:`_model`); for tests and memory pressure."""
    global _cache_bytes
    with _cache_lock:
        _cache.clear()
        _cache_bytes = 0


def _model(cls: type[_M], value: Any, kind: str) -> _M:
    """Return ``value`` as a ``cls`` model: as it is, or validated from a dict (cached)."""
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        from pydantic import ValidationError

        try:
            return _cached_validate(cls, value)
        except ValidationError as err:
            meta = value.get("metadata") or {}
            name = meta.get("name") if isinstance(meta, Mapping) else None
            raise ManifestError(str(err), source="<dict>", kind=kind, name=name) from None
    raise TypeError(f"expected a {kind} model or dict, got {type(value).__name__}")


# Features are frozen: one default object serves every call.
_DEFAULT_FEATURES = Features()


def _features(features: Features | Mapping[str, bool] | None) -> Features:
    if features is None:
        return _DEFAULT_FEATURES
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
        self.features = _features(features)
        # Models pass through as they are (the common case, checked inline); anything
        # else goes through _model.
        slice_models = [
            s if type(s) is ResourceSlice else _model(ResourceSlice, s, "ResourceSlice")
            for s in slices
        ]
        self.inventory = Inventory.cached(slice_models, self.features)
        self.classes: dict[str, DeviceClass] = {}
        for c in classes:
            model = c if type(c) is DeviceClass else _model(DeviceClass, c, "DeviceClass")
            self.classes.setdefault(model.metadata.name or "", model)
        claims = (
            [_model(ResourceClaim, c, "ResourceClaim") for c in allocated_claims]
            if allocated_claims
            else []
        )
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
        solve = get_engine(engine)
        deadline = time.monotonic() + timeout if timeout is not None else None
        node_model = node if node is None or type(node) is Node else _model(Node, node, "Node")
        claim_models = [
            c if type(c) is ResourceClaim else _model(ResourceClaim, c, "ResourceClaim")
            for c in claims
        ]
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
