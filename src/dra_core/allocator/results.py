"""From an engine's neutral :class:`~dra_core.allocator.problem.Solution` to AllocationResults.

Shared by every engine, so that all of them produce the same result shape as
Kubernetes:

- ``devices.results``: one entry per chosen device, in the solution's order, with
  the request name (``req`` or ``req/sub``), driver, pool, device, ``adminAccess``
  (only when true), the request's tolerations, the device's binding conditions
  (with ``DRADeviceBindingConditions`` on), and for shareable devices a share id
  plus the ``consumedCapacity``;
- ``devices.config``: the configs of each used class once (``FromClass``, scoped
  to every request that used that class), then the claim's configs
  (``FromClaim``) that apply to the allocated requests;
- ``nodeSelector``: pinned to the node when any device is node-local (``nodeName``)
  or binds to its node; otherwise the union of the requirements of the devices'
  node selectors (one term); none when every device is available everywhere.

Share ids are deterministic: a UUID derived from a seed, the claim and the
position of the result, so that equal inputs give equal outputs.

Speed: the result models are built directly (:class:`_Maker`), not validated. Validation
was half the time of a one-device allocation (a model validator and private-attribute
set-up for each of the six nested models); the values here come from validated models
already, so building gives the very objects validation would: equal (``==``), with the
same set fields (so the same dump) and the same private state. ``tests/allocator``
checks that against validating the dump.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from dra_core.allocator.problem import ClaimInfo, Problem, Solution
from dra_core.errors import AllocationInputError

if TYPE_CHECKING:
    from dra_core.api import AllocationResult, K8sModel, NodeSelectorRequirement

__all__ = ["build_results", "share_id"]

_SHARE_NAMESPACE = uuid.UUID("5b0d3c4e-8f0a-4c7e-9a53-6d1f2b7e9c10")


def share_id(seed: str, claim: ClaimInfo, position: int) -> str:
    """Return the share id of the ``position``-th result of ``claim`` (a UUID string)."""
    meta = claim.claim.metadata
    ident = f"{seed}|{meta.namespace or ''}|{meta.name or ''}|{meta.uid or ''}|{position}"
    return str(uuid.uuid5(_SHARE_NAMESPACE, ident))


_M = TypeVar("_M", bound="K8sModel")


class _Maker(Generic[_M]):
    """Builds a model of ``cls`` from values that already have the validated types.

    The object is what ``cls.model_validate`` makes of the same input (with the fields
    by name): every field in declaration order (defaults for the unset ones, a fresh
    list or dict from each default factory), ``__pydantic_fields_set__`` the names
    given, no extras (``extra="ignore"``) and the private attributes at their defaults
    (``_null_keys=()``: no Go nulls, since no value given here is None). Nothing is
    checked: the callers pass values of the field types, taken from validated models.
    """

    __slots__ = ("_cls", "_factories", "_private", "_template")

    def __init__(self, cls: type[_M]) -> None:
        self._cls = cls
        # Every field in declaration order; a factory's field is filled per object.
        self._template: dict[str, Any] = {}
        self._factories: list[tuple[str, Callable[[], Any]]] = []
        for name, info in cls.model_fields.items():
            factory = info.default_factory
            if factory is None:
                self._template[name] = info.default
                continue
            if getattr(info, "default_factory_takes_validated_data", False):
                raise TypeError(f"{cls.__name__}.{name}: a factory of validated data")
            self._template[name] = None
            self._factories.append((name, factory))  # type: ignore[arg-type]
        private = cls.__private_attributes__
        self._private = {name: attr.get_default() for name, attr in private.items()}

    def __call__(self, values: dict[str, Any]) -> _M:
        """Return the model with ``values`` (by field name) set and the rest defaulted."""
        data = self._template.copy()
        data.update(values)  # keys are field names: the order stays the declaration's
        for name, factory in self._factories:
            if name not in values:
                data[name] = factory()
        obj = self._cls.__new__(self._cls)
        # The models are frozen: set the instance state the way pydantic does.
        _set(obj, "__dict__", data)
        _set(obj, "__pydantic_fields_set__", set(values))
        _set(obj, "__pydantic_extra__", None)
        _set(obj, "__pydantic_private__", self._private.copy())
        return obj


_set = object.__setattr__


class _Makers:
    """The makers of the result models, built on first use (the models import lazily)."""

    def __init__(self) -> None:
        from dra_core.api import (
            AllocationResult,
            DeviceAllocationConfiguration,
            DeviceAllocationResult,
            DeviceRequestAllocationResult,
            NodeSelector,
            NodeSelectorRequirement,
            NodeSelectorTerm,
        )
        from dra_core.api.quantity import Quantity

        self.allocation = _Maker(AllocationResult)
        self.devices = _Maker(DeviceAllocationResult)
        self.result = _Maker(DeviceRequestAllocationResult)
        self.config = _Maker(DeviceAllocationConfiguration)
        self.selector = _Maker(NodeSelector)
        self.term = _Maker(NodeSelectorTerm)
        self.requirement = _Maker(NodeSelectorRequirement)
        # What validation does to a consumedCapacity value.
        self.quantity = Quantity.coerce


_makers: _Makers | None = None


def _get_makers() -> _Makers:
    global _makers
    if _makers is None:
        _makers = _Makers()
    return _makers


def _requirement_key(req: NodeSelectorRequirement) -> tuple[str, str, frozenset[str]]:
    return (req.key, req.operator, frozenset(req.values or ()))


def _node_selector(
    problem: Problem, claim: ClaimInfo, devices: Sequence[int], make: _Makers
) -> Any:
    node_name = ""
    if problem.node is not None:
        node_name = problem.node.metadata.name or ""
    fields: list[NodeSelectorRequirement] = []
    exprs: list[NodeSelectorRequirement] = []
    seen_fields: set[tuple[str, str, frozenset[str]]] = set()
    seen_exprs: set[tuple[str, str, frozenset[str]]] = set()
    for d in devices:
        info = problem.devices[d]
        device = info.entry.device
        spec = info.slice.slice.spec
        if spec.per_device_node_selection:
            local = device.node_name is not None
            selector = device.node_selector
        else:
            local = spec.node_name is not None
            selector = spec.node_selector
        if local or device.binds_to_node:
            pinned = make.requirement(
                {"key": "metadata.name", "operator": "In", "values": [node_name]}
            )
            term = make.term({"match_fields": [pinned]})
            return make.selector({"node_selector_terms": [term]})
        if selector is None:
            continue
        terms = selector.node_selector_terms or []
        if len(terms) == 0:
            continue
        if len(terms) > 1:
            raise AllocationInputError(
                f"create NodeSelector for claim {claim.claim.metadata.name}: unsupported "
                f"ResourceSlice.NodeSelector with {len(terms)} terms",
                claim=claim.ref,
                device=str(info.id),
            )
        for src, dst, seen in (
            (terms[0].match_fields or [], fields, seen_fields),
            (terms[0].match_expressions or [], exprs, seen_exprs),
        ):
            for req in src:
                key = _requirement_key(req)
                if key not in seen:
                    seen.add(key)
                    dst.append(req)
    if not fields and not exprs:
        return None
    values: dict[str, Any] = {}
    if exprs:
        values["match_expressions"] = [_dump(r) for r in exprs]
    if fields:
        values["match_fields"] = [_dump(r) for r in fields]
    return make.selector({"node_selector_terms": [make.term(values)]})


def _dump(model: Any) -> Any:
    # A deep copy keeps exactly the fields the input set, and shares nothing with it.
    return model.model_copy(deep=True)


def _configs(
    problem: Problem, claim: ClaimInfo, solution: Solution, make: _Makers
) -> list[Any]:
    configs: list[dict[str, Any]] = []
    class_ranges: dict[str, tuple[int, int]] = {}
    chosen_alt: list[int] = []
    for slot in claim.requests:
        alt_index = 0
        if slot.first_available:
            alt_index = solution.selected.get((claim.index, slot.request), 0)
        chosen_alt.append(alt_index)
        alt = slot.alternatives[alt_index]
        cls = alt.device_class
        name = cls.metadata.name or ""
        existing = class_ranges.get(name)
        if existing is not None:
            for i in range(*existing):
                configs[i]["requests"].append(alt.name)
            continue
        start = len(configs)
        for cfg in (cls.spec.config or []) if cls.spec is not None else []:
            configs.append({"source": "FromClass", "requests": [alt.name], "opaque": _opaque(cfg)})
        class_ranges[name] = (start, len(configs))
    spec = claim.claim.spec.devices if claim.claim.spec is not None else None
    for claim_cfg in (spec.config or []) if spec is not None else []:
        wanted = list(claim_cfg.requests or [])
        entry: dict[str, Any] = {"source": "FromClaim", "opaque": _opaque(claim_cfg)}
        if wanted:
            entry["requests"] = wanted
        if not wanted:
            configs.append(entry)
            continue
        # A claim config applies when it names an allocated request, or the
        # subrequest that was chosen for one. (Kubernetes 1.36 adds it once per
        # request it names, so a config naming two requests appears twice; dra-core
        # adds it once.)
        for slot, alt_index in zip(claim.requests, chosen_alt, strict=True):
            if slot.name in wanted or (
                slot.first_available and slot.alternatives[alt_index].name in wanted
            ):
                configs.append(entry)
                break
    return [make.config(entry) for entry in configs]


def _opaque(cfg: Any) -> Any:
    opaque = cfg.opaque
    return None if opaque is None else _dump(opaque)


def build_results(
    problem: Problem, solution: Solution, *, seed: str = ""
) -> list[AllocationResult]:
    """Return the AllocationResult of every claim, in claim order.

    Raises:
        AllocationInputError: a slice's node selector has more than one term.

    """
    make = _get_makers()
    out: list[AllocationResult] = []
    binding = problem.features.device_binding_and_status
    for claim, choices in zip(problem.claims, solution.choices, strict=True):
        results: list[Any] = []
        for position, choice in enumerate(choices):
            info = problem.devices[choice.device]
            req = problem.request(choice.request)
            device_id = info.id
            item: dict[str, Any] = {
                "request": req.name,
                "driver": device_id.driver,
                "pool": device_id.pool,
                "device": device_id.device,
            }
            if req.admin_access:
                item["admin_access"] = True
            if req.tolerations:
                item["tolerations"] = [_dump(t) for t in req.tolerations]
            if binding:
                device = info.entry.device
                if device.binding_conditions:
                    item["binding_conditions"] = list(device.binding_conditions)
                if device.binding_failure_conditions:
                    item["binding_failure_conditions"] = list(device.binding_failure_conditions)
            if info.shareable:
                item["share_id"] = share_id(seed, claim, position)
                if choice.candidate.demand:
                    item["consumed_capacity"] = {
                        name: make.quantity(str(q)) for name, q in choice.candidate.demand.items()
                    }
            results.append(make.result(item))
        devices_out: dict[str, Any] = {"results": results}
        configs = _configs(problem, claim, solution, make)
        if configs:
            devices_out["config"] = configs
        allocation: dict[str, Any] = {"devices": make.devices(devices_out)}
        selector = _node_selector(problem, claim, [c.device for c in choices], make)
        if selector is not None:
            allocation["node_selector"] = selector
        out.append(make.allocation(allocation))
    return out
