"""The wire types of kube-scheduler's extender protocol, ``k8s.io/kube-scheduler/extender/v1``.

The Go structs have no json tags, so the keys on the wire are the Go field names
(``Pod``, ``NodeNames``, ``FailedNodes``, ...). Go's decoder matches keys
case-insensitively (an exact match first), and so does :meth:`WireModel.from_json`;
the last of two keys for one field wins, as in Go. Unknown keys are ignored.

Encoding (:meth:`WireModel.to_json`) writes what Go's ``json.Marshal`` writes for the
same value, byte for byte: every field in declaration order (there is no
``omitempty``), nil pointers, maps and slices as ``null``, map keys sorted, no spaces,
and ``<``, ``>``, ``&``, U+2028 and U+2029 escaped. ``tests/extender`` checks this
against the literal JSON of kube-scheduler's ``extender/v1/types_test.go``.

The core/v1 objects inside (the ``Pod``, the ``Nodes`` NodeList, victims' pods) are
kept as the JSON objects they came as and written back unchanged; :meth:`ExtenderArgs.pod_model`
reads the pod as a :class:`dra_core.api.Pod`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from dra_core.errors import InputError

if TYPE_CHECKING:
    from dra_core.api import Pod

__all__ = [
    "MAX_EXTENDER_PRIORITY",
    "MIN_EXTENDER_PRIORITY",
    "ExtenderArgs",
    "ExtenderBindingArgs",
    "ExtenderBindingResult",
    "ExtenderFilterResult",
    "ExtenderPreemptionArgs",
    "ExtenderPreemptionResult",
    "HostPriority",
    "HostPriorityList",
    "MetaPod",
    "MetaVictims",
    "Victims",
    "WireError",
    "WireModel",
]

#: ``MinExtenderPriority``: the lowest score an extender may give.
MIN_EXTENDER_PRIORITY = 0
#: ``MaxExtenderPriority``: the highest score an extender may give. kube-scheduler
#: multiplies it by the extender's weight and by ``MaxNodeScore / MaxExtenderPriority``
#: (100 / 10 = 10).
MAX_EXTENDER_PRIORITY = 10

Int64 = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
#: A JSON object kept as it came (a core/v1 object).
RawObject = dict[str, Any]


class WireError(InputError, ValueError):
    """A request body that is not JSON, or not of the shape of the extender type.

    ``type_name`` names the Go type; ``path`` where in the document (``NodeNames[2]``).
    """

    def __init__(self, message: str, *, type_name: str = "", path: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.path = path


def _no_constants(name: str) -> Any:
    # Go's decoder has no NaN or Infinity.
    raise ValueError(f"invalid JSON value {name}")


def decode_json(data: bytes | str) -> Any:
    """Parse JSON as Go's ``encoding/json`` does for these types (no NaN, UTF-8 only).

    Raises:
        WireError: not JSON, or nested too deeply.

    """
    try:
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        return json.loads(data, parse_constant=_no_constants)
    except UnicodeDecodeError as exc:
        raise WireError(f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise WireError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise WireError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise WireError("invalid JSON: nested too deeply") from None


# Go's HTML-safe escapes (the characters only ever appear inside strings).
_GO_ESCAPES = str.maketrans(
    {
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def encode_json(value: Any) -> bytes:
    """Write ``value`` as Go's ``json.Marshal`` would: compact, HTML-safe escapes.

    Map keys are not sorted here: :meth:`WireModel.to_go` sorts the Go maps and keeps
    the order of the objects it passes through.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.translate(_GO_ESCAPES)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Go writes invalid UTF-8 (here: a lone surrogate) as U+FFFD.
        fixed = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
        return fixed.encode("utf-8")


def _go_value(value: Any) -> Any:
    if isinstance(value, WireModel | HostPriorityList):
        return value.to_go()
    if isinstance(value, list):
        if all(type(v) is str for v in value):
            return value  # NodeNames: thousands of plain strings
        return [_go_value(v) for v in value]
    return value


class WireModel(BaseModel):
    """The base of the wire types: Go field names as keys, matched case-insensitively."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", populate_by_name=True, strict=True, defer_build=True
    )

    #: fields that are Go maps (written with sorted keys)
    _MAPS: ClassVar[frozenset[str]] = frozenset()
    #: fields that hold a core/v1 object kept as it came (must be a JSON object or null)
    _RAW: ClassVar[frozenset[str]] = frozenset()

    # per class: (python name, Go name) in order; Go name -> python name; folded -> Go name
    _FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()
    _ALIASES: ClassVar[dict[str, str]] = {}
    _FOLDED: ClassVar[dict[str, str]] = {}
    _ZERO_NOT_NULL: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Index the fields by Go name once (validation and encoding are per request)."""
        super().__pydantic_init_subclass__(**kwargs)
        fields = tuple((n, f.alias or n) for n, f in cls.model_fields.items())
        cls._FIELDS = fields
        cls._ALIASES = {alias: name for name, alias in fields}
        cls._FOLDED = {alias.lower(): alias for _, alias in fields}
        cls._ZERO_NOT_NULL = frozenset(
            alias for name, alias in fields if cls.model_fields[name].default is not None
        )

    @model_validator(mode="before")
    @classmethod
    def _go_keys(cls, data: Any) -> Any:
        # Go's decoder: an exact match of the field name first, else a case-insensitive
        # one; keys in document order, so the last key for a field wins. ``null`` leaves
        # a string or number field at its zero value.
        if not isinstance(data, dict):
            return data
        aliases = cls._ALIASES
        out: dict[str, Any] = {}
        for key, value in data.items():
            alias = key if key in aliases else cls._FOLDED.get(str(key).lower())
            if alias is None:
                continue
            if value is None and alias in cls._ZERO_NOT_NULL:
                continue  # Go leaves a string or number as it was
            out[alias] = value
        return out

    def to_go(self) -> dict[str, Any]:
        """Return the value as Go marshals it: every field, in order, under its Go name."""
        out: dict[str, Any] = {}
        maps, raw = self._MAPS, self._RAW
        for name, alias in self._FIELDS:
            value = getattr(self, name)
            if value is None or type(value) in (str, int):
                pass
            elif name in maps:
                value = {k: _go_value(value[k]) for k in sorted(value)}
            elif name not in raw:
                value = _go_value(value)
            out[alias] = value
        return out

    def to_json(self) -> bytes:
        """Encode as Go's ``json.Marshal`` does (see the module docstring)."""
        return encode_json(self.to_go())

    @classmethod
    def from_go(cls, value: Any) -> Self:
        """Decode a parsed JSON value as Go would decode it into this type.

        Raises:
            WireError: the value is not of the type's shape; the message names where.

        """
        try:
            return cls.model_validate(value)
        except ValidationError as exc:
            raise _wire_error(cls.__name__, exc) from None

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        """Decode JSON text as Go would decode it into this type.

        Raises:
            WireError: not JSON, or not of the type's shape.

        """
        return cls.from_go(decode_json(data))


def _wire_error(type_name: str, exc: ValidationError) -> WireError:
    error = exc.errors(include_url=False)[0]
    path = ""
    for part in error["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("function-after", "function-before", "root"):
            path += f".{part}" if path else str(part)
    where = f"{type_name}.{path}" if path else type_name
    got = error.get("input")
    kind = _json_kind(got)
    message = str(error["msg"]).removeprefix("Value error, ")
    return WireError(
        f"cannot decode {type_name}: {where}: {message} (got {kind})",
        type_name=type_name,
        path=path,
    )


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class MetaPod(WireModel):
    """``MetaPod``: the identifier (UID) of a pod."""

    uid: StrictStr = Field("", alias="UID")


class MetaVictims(WireModel):
    """``MetaVictims``: the pods to preempt on a node, by UID, and the PDB violations."""

    pods: list[MetaPod | None] | None = Field(None, alias="Pods")
    num_pdb_violations: Int64 = Field(0, alias="NumPDBViolations")


class Victims(WireModel):
    """``Victims``: the pods (whole core/v1 objects) to preempt on a node."""

    _RAW: ClassVar[frozenset[str]] = frozenset({"pods"})

    pods: list[RawObject | None] | None = Field(None, alias="Pods")
    num_pdb_violations: Int64 = Field(0, alias="NumPDBViolations")


class ExtenderPreemptionArgs(WireModel):
    """``ExtenderPreemptionArgs``: the body of the preempt verb."""

    _MAPS: ClassVar[frozenset[str]] = frozenset(
        {"node_name_to_victims", "node_name_to_meta_victims"}
    )
    _RAW: ClassVar[frozenset[str]] = frozenset({"pod"})

    pod: RawObject | None = Field(None, alias="Pod")
    node_name_to_victims: dict[str, Victims | None] | None = Field(None, alias="NodeNameToVictims")
    node_name_to_meta_victims: dict[str, MetaVictims | None] | None = Field(
        None, alias="NodeNameToMetaVictims"
    )


class ExtenderPreemptionResult(WireModel):
    """``ExtenderPreemptionResult``: the answer of the preempt verb."""

    _MAPS: ClassVar[frozenset[str]] = frozenset({"node_name_to_meta_victims"})

    node_name_to_meta_victims: dict[str, MetaVictims | None] | None = Field(
        None, alias="NodeNameToMetaVictims"
    )


class ExtenderArgs(WireModel):
    """``ExtenderArgs``: the body of the filter and prioritize verbs.

    ``NodeNames`` is set when the extender is ``nodeCacheCapable``; ``Nodes`` (a whole
    core/v1 NodeList) otherwise.
    """

    _RAW: ClassVar[frozenset[str]] = frozenset({"pod", "nodes"})

    pod: RawObject | None = Field(None, alias="Pod")
    nodes: RawObject | None = Field(None, alias="Nodes")
    node_names: list[StrictStr] | None = Field(None, alias="NodeNames")

    @model_validator(mode="after")
    def _node_list_items(self) -> Self:
        if self.nodes is not None:
            items = _get_ci(self.nodes, "items")
            if items is not None and not isinstance(items, list):
                raise ValueError("Nodes.items must be an array")
            for i, item in enumerate(items or []):
                if not isinstance(item, dict):
                    raise ValueError(f"Nodes.items[{i}] must be an object")
        return self

    def node_items(self) -> list[RawObject]:
        """Return the items of ``Nodes`` (empty when there is no NodeList)."""
        if self.nodes is None:
            return []
        return list(_get_ci(self.nodes, "items") or [])

    def candidate_names(self) -> list[str] | None:
        """Return the candidate node names: ``NodeNames``, else the names in ``Nodes``.

        None when neither is set.
        """
        if self.node_names is not None:
            return list(self.node_names)
        if self.nodes is None:
            return None
        names = []
        for item in self.node_items():
            meta = _get_ci(item, "metadata")
            name = _get_ci(meta, "name") if isinstance(meta, dict) else None
            names.append(name if isinstance(name, str) else "")
        return names

    def pod_model(self) -> Pod:
        """Return the pod as a :class:`dra_core.api.Pod`.

        Raises:
            WireError: there is no pod, or it is not a valid core/v1 Pod.

        """
        from dra_core.api import Pod

        if self.pod is None:
            raise WireError("cannot decode ExtenderArgs: Pod is null", path="Pod")
        try:
            return Pod.model_validate(self.pod)
        except ValidationError as exc:
            raise _wire_error("ExtenderArgs", exc) from None


class ExtenderFilterResult(WireModel):
    """``ExtenderFilterResult``: the answer of the filter verb.

    ``FailedAndUnresolvableNodes`` takes precedence over ``FailedNodes``; a non-empty
    ``Error`` fails the scheduling attempt.
    """

    _MAPS: ClassVar[frozenset[str]] = frozenset({"failed_nodes", "failed_and_unresolvable_nodes"})
    _RAW: ClassVar[frozenset[str]] = frozenset({"nodes"})

    nodes: RawObject | None = Field(None, alias="Nodes")
    node_names: list[StrictStr] | None = Field(None, alias="NodeNames")
    failed_nodes: dict[str, StrictStr] | None = Field(None, alias="FailedNodes")
    failed_and_unresolvable_nodes: dict[str, StrictStr] | None = Field(
        None, alias="FailedAndUnresolvableNodes"
    )
    error: StrictStr = Field("", alias="Error")


class ExtenderBindingArgs(WireModel):
    """``ExtenderBindingArgs``: the body of the bind verb."""

    pod_name: StrictStr = Field("", alias="PodName")
    pod_namespace: StrictStr = Field("", alias="PodNamespace")
    pod_uid: StrictStr = Field("", alias="PodUID")
    node: StrictStr = Field("", alias="Node")


class ExtenderBindingResult(WireModel):
    """``ExtenderBindingResult``: the answer of the bind verb; ``Error`` on failure."""

    error: StrictStr = Field("", alias="Error")


class HostPriority(WireModel):
    """``HostPriority``: one node's score (0..10, higher is better)."""

    host: StrictStr = Field("", alias="Host")
    score: Int64 = Field(0, alias="Score")


class HostPriorityList:
    """``HostPriorityList``: the answer of the prioritize verb, a JSON array (nil: ``null``)."""

    __slots__ = ("items",)

    def __init__(self, items: list[HostPriority] | None = None) -> None:
        self.items = items

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostPriorityList) and self.items == other.items

    def __hash__(self) -> int:
        return hash(tuple(self.items) if self.items is not None else None)

    def __repr__(self) -> str:
        return f"HostPriorityList({self.items!r})"

    def to_go(self) -> list[dict[str, Any]] | None:
        """Return the list as Go marshals it."""
        if self.items is None:
            return None
        # HostPriority's two fields, written directly (thousands of nodes per answer).
        return [{"Host": item.host, "Score": item.score} for item in self.items]

    def to_json(self) -> bytes:
        """Encode as Go's ``json.Marshal`` does."""
        return encode_json(self.to_go())

    @classmethod
    def from_go(cls, value: Any) -> HostPriorityList:
        """Decode a parsed JSON value (an array or null).

        Raises:
            WireError: not an array of HostPriority objects.

        """
        if value is None:
            return cls(None)
        if not isinstance(value, list):
            raise WireError(
                f"cannot decode HostPriorityList: expected an array (got {_json_kind(value)})",
                type_name="HostPriorityList",
            )
        items = []
        for i, item in enumerate(value):
            try:
                items.append(HostPriority.from_go(item))
            except WireError as exc:
                raise WireError(
                    f"cannot decode HostPriorityList: [{i}]: {exc}",
                    type_name="HostPriorityList",
                    path=f"[{i}]",
                ) from None
        return cls(items)

    @classmethod
    def from_json(cls, data: bytes | str) -> HostPriorityList:
        """Decode JSON text (an array or null)."""
        return cls.from_go(decode_json(data))


def _get_ci(obj: Any, key: str) -> Any:
    """Read ``key`` from a JSON object as Go's decoder would (exact first, then any case)."""
    if not isinstance(obj, dict):
        return None
    if key in obj:
        return obj[key]
    found = None
    lower = key.lower()
    for k, v in obj.items():
        if isinstance(k, str) and k.lower() == lower:
            found = v
    return found
