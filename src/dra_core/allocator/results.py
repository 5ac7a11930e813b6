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

from pydantic import BaseModel

from dra_core.allocator.problem import Choice, ClaimInfo, Problem, Solution
from dra_core.api._base import new_dict, new_list
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

    Speed: for each set of field names given (a handful per model), a small function is
    generated once that builds the instance dict as one literal in declaration order,
    with ``[]``/``{}`` for the ``list``/``dict`` factories: about three times faster
    than filling a copy of a template field by field.
    """

    __slots__ = ("_builders", "_cls", "_fields", "_private")

    def __init__(self, cls: type[_M]) -> None:
        self._cls = cls
        # Every field in declaration order, with its default or its factory.
        self._fields: list[tuple[str, Any, Callable[[], Any] | None]] = []
        for name, info in cls.model_fields.items():
            factory = info.default_factory
            if factory is not None and getattr(
                info, "default_factory_takes_validated_data", False
            ):
                raise TypeError(f"{cls.__name__}.{name}: a factory of validated data")
            self._fields.append((name, info.default, factory))  # type: ignore[arg-type]
        private = cls.__private_attributes__
        self._private = {name: attr.get_default() for name, attr in private.items()}
        # names given (in the caller's order) -> the generated builder
        self._builders: dict[tuple[str, ...], Callable[[dict[str, Any]], _M]] = {}

    def __call__(self, values: dict[str, Any]) -> _M:
        """Return the model with ``values`` (by field name) set and the rest defaulted."""
        names = tuple(values)
        build = self._builders.get(names)
        if build is None:
            build = self._builders[names] = self._compile(names, by_position=False)
        return build(values)

    def positional(self, *names: str) -> Callable[..., _M]:
        """Return a builder that takes the values of ``names`` by position (the fastest)."""
        build: Callable[..., _M] = self._compile(names, by_position=True)
        return build

    def _compile(self, names: tuple[str, ...], *, by_position: bool) -> Callable[..., _M]:
        """Generate the builder for one set of given names (see the class docstring).

        ``by_position``: the builder takes one argument per name, in order; otherwise it
        takes the dict of values.
        """
        given = set(names)
        unknown = given - {name for name, _, _ in self._fields}
        if unknown:
            raise TypeError(f"{self._cls.__name__}: no fields {sorted(unknown)}")
        scope: dict[str, Any] = {
            "_new": object.__new__,
            "_cls": self._cls,
            # The models are frozen: the instance state is set through BaseModel's own
            # slots, the way pydantic sets it.
            "_set_dict": BaseModel.__dict__["__dict__"].__set__,
            "_set_fields": BaseModel.__dict__["__pydantic_fields_set__"].__set__,
            "_set_extra": BaseModel.__dict__["__pydantic_extra__"].__set__,
            "_set_private": BaseModel.__dict__["__pydantic_private__"].__set__,
        }
        args = {name: f"a{i}" for i, name in enumerate(names)}
        items = []
        for i, (name, default, factory) in enumerate(self._fields):
            if name in given:
                value = args[name] if by_position else f"values[{name!r}]"
            elif factory is list or factory is new_list:
                value = "[]"
            elif factory is dict or factory is new_dict:
                value = "{}"
            elif factory is not None:
                scope[f"_f{i}"] = factory
                value = f"_f{i}()"
            else:
                scope[f"_d{i}"] = default  # shared, as validation shares it
                value = f"_d{i}"
            items.append(f"{name!r}: {value}")
        private = []
        for j, (name, default) in enumerate(self._private.items()):
            scope[f"_p{j}"] = default
            private.append(f"{name!r}: _p{j}")
        fields_set = "{" + ", ".join(repr(n) for n in names) + "}" if names else "set()"
        params = ", ".join(args.values()) if by_position else "values"
        source = (
            f"def build({params}):\n"
            "    obj = _new(_cls)\n"
            f"    _set_dict(obj, {{{', '.join(items)}}})\n"
            f"    _set_fields(obj, {fields_set})\n"
            "    _set_extra(obj, None)\n"
            f"    _set_private(obj, {{{', '.join(private)}}})\n"
            "    return obj\n"
        )
        exec(source, scope)  # generated from field names only, never from input
        build: Callable[..., _M] = scope["build"]
        return build


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
        # The shapes every allocation builds, by position.
        self.plain_result = self.result.positional("request", "driver", "pool", "device")
        self.devices_of = self.devices.positional("results")
        self.allocation_of = self.allocation.positional("devices")
        self.allocation_on = self.allocation.positional("devices", "node_selector")
        self.pinned = self.requirement.positional("key", "operator", "values")
        self.term_of_fields = self.term.positional("match_fields")
        self.selector_of = self.selector.positional("node_selector_terms")
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
    problem: Problem, claim: ClaimInfo, choices: Sequence[Choice], make: _Makers
) -> Any:
    fields: list[NodeSelectorRequirement] = []
    exprs: list[NodeSelectorRequirement] = []
    seen_fields: set[tuple[str, str, frozenset[str]]] = set()
    seen_exprs: set[tuple[str, str, frozenset[str]]] = set()
    devices = problem.devices
    for choice in choices:
        info = devices[choice.candidate.device]
        entry = info.entry
        device = entry.device
        spec = entry.slice.slice.spec
        if spec.per_device_node_selection:
            local = device.node_name is not None
            selector = device.node_selector
        else:
            local = spec.node_name is not None
            selector = spec.node_selector
        if local or device.binds_to_node:
            node_name = ""
            if problem.node is not None:
                node_name = problem.node.metadata.name or ""
            pinned = make.pinned("metadata.name", "In", [node_name])
            return make.selector_of([make.term_of_fields([pinned])])
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
    spec = claim.claim.spec.devices if claim.claim.spec is not None else None
    claim_configs = (spec.config or []) if spec is not None else []
    if not claim_configs:
        # Most claims and classes carry no config: say so without building anything.
        for slot in claim.requests:
            for alt in slot.alternatives:
                class_spec = alt.device_class.spec
                if class_spec is not None and class_spec.config:
                    break
            else:
                continue
            break
        else:
            return []
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
    for claim_cfg in claim_configs:
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
    make = _makers or _get_makers()
    make_result = make.result
    out: list[AllocationResult] = []
    binding = problem.features.device_binding_and_status
    devices = problem.devices
    claim_infos = problem.claims
    for claim, choices in zip(claim_infos, solution.choices, strict=True):
        results: list[Any] = []
        for position, choice in enumerate(choices):
            candidate = choice.candidate
            info = devices[candidate.device]
            key = choice.request
            req = claim_infos[key.claim].requests[key.request].alternatives[key.subrequest or 0]
            device_id = info.id
            if not (
                req.admin_access
                or req.tolerations
                or info.shareable
                or (binding and (info.binding_conditions or info.binding_failure_conditions))
            ):
                results.append(
                    make.plain_result(req.name, device_id.driver, device_id.pool, device_id.device)
                )
                continue
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
                if info.binding_conditions:
                    item["binding_conditions"] = list(info.binding_conditions)
                if info.binding_failure_conditions:
                    item["binding_failure_conditions"] = list(info.binding_failure_conditions)
            if info.shareable:
                item["share_id"] = share_id(seed, claim, position)
                if candidate.demand:
                    item["consumed_capacity"] = {
                        name: make.quantity(str(q)) for name, q in candidate.demand.items()
                    }
            results.append(make_result(item))
        configs = _configs(problem, claim, solution, make)
        if configs:
            device_results = make.devices({"results": results, "config": configs})
        else:
            device_results = make.devices_of(results)
        selector = _node_selector(problem, claim, choices, make)
        if selector is None:
            out.append(make.allocation_of(device_results))
        else:
            out.append(make.allocation_on(device_results, selector))
    return out
