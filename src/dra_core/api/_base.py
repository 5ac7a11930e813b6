"""The base of every model, and the scalar types that tolerate YAML's surprises.

Models mirror Go's JSON decoding of the Kubernetes types:

- a field that Kubernetes marks optional with a pointer is ``X | None = None``;
- a plain Go string, integer or struct field defaults to Go's zero value (``""``, ``0``, an
  empty struct), so an absent field reads the way Go code reads it;
- lists default to ``[]`` and maps to ``{}``: iterate them without ``or []``;
- a struct field defaults to ``Model.model_construct()``: the object ``Model()`` makes
  (every field at its default), without building ``Model``'s own validator the first time
  a default is needed, when there is nothing to validate.

Nothing is added on dump: :func:`dump` (``exclude_unset``) writes back exactly the fields that
were given. Unknown fields are ignored, as the API server drops them (``dra_core.io`` reports them
as warnings).

YAML: ``dra_core.io`` reads YAML with a loader that keeps the original text of plain scalars that
YAML 1.1 would turn into numbers or booleans. The annotated types below use it, so that a string
field always receives the text as written (``0x10de``, ``010``, ``1.10``, ``no``) while numeric
and boolean fields get what Kubernetes' YAML decoder (go-yaml v2) gives them.
"""

# No ``from __future__ import annotations`` in the model modules: pydantic would have to
# compile and evaluate every annotation string of every class (and of K8sModel again for
# each subclass) at import; real annotations cost nothing extra (about 8 ms of import).

import inspect
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Self, TypeVar, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import core_schema

__all__ = [
    "MAX_JSON_DEPTH",
    "Bool",
    "Int",
    "K8sModel",
    "RawJSON",
    "Str",
    "YamlBoolWord",
    "YamlFloat",
    "YamlInt",
    "dump",
    "inspected",
    "new_dict",
    "new_list",
    "plain_json",
]


class YamlInt(int):
    """An integer read from an unquoted YAML scalar, with the text it was written as."""

    text: str

    def __new__(cls, value: int, text: str) -> Self:
        """Build the integer ``value`` remembering ``text``."""
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (YamlInt, (int(self), self.text))

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self


class YamlFloat(float):
    """A float read from an unquoted YAML scalar, with the text it was written as."""

    text: str

    def __new__(cls, value: float, text: str) -> Self:
        """Build the float ``value`` remembering ``text``."""
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (YamlFloat, (float(self), self.text))

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self


class YamlBoolWord(str):
    """An unquoted YAML 1.1 boolean word (``yes``, ``no``, ``on``, ``off``, ``y``, ``n``).

    It is the string as written (YAML 1.2); boolean fields read it as go-yaml v2 (Kubernetes)
    does.
    """

    __slots__ = ()

    @property
    def as_bool(self) -> bool:
        """The YAML 1.1 boolean meaning."""
        return self.lower() in ("yes", "on", "y", "true")


def _to_str(value: Any) -> Any:
    if isinstance(value, (YamlInt, YamlFloat)):
        return value.text
    if isinstance(value, YamlBoolWord):
        return str(value)
    return value


def _to_bool(value: Any) -> Any:
    if isinstance(value, YamlBoolWord):
        return value.as_bool
    return value


def _to_int(value: Any) -> Any:
    if isinstance(value, YamlInt):
        return int(value)
    return value


MAX_JSON_DEPTH = 100
"""How deeply free JSON (opaque parameters, fields dra-core does not model) may nest.

Go's JSON decoder allows 10,000 levels; Python's recursion limit (1,000 frames) does not, and
no DRA object needs more than a few levels. Deeper input is a located validation error
instead of a ``RecursionError``.
"""


def plain_json(value: Any, _depth: int = 0) -> Any:
    """Return ``value`` with the YAML scalar markers replaced by plain JSON values.

    Raises:
        ValueError: when lists and objects nest more than :data:`MAX_JSON_DEPTH` levels.

    """
    if isinstance(value, (dict, list, tuple)) and _depth >= MAX_JSON_DEPTH:
        raise ValueError(f"nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, dict):
        return {str(k): plain_json(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v, _depth + 1) for v in value]
    if isinstance(value, YamlInt):
        return int(value)
    if isinstance(value, YamlFloat):
        return float(value)
    if isinstance(value, YamlBoolWord):
        return str(value)
    return value


class _Before(BeforeValidator):
    """A ``BeforeValidator`` of a function that takes the value alone (no ``info``).

    The core schema is the one ``BeforeValidator`` makes of such a function; only the
    inspection of the function's signature, which ``BeforeValidator`` repeats for every
    field of every model when the validators are built, is left out.
    """

    __slots__ = ()

    def __get_pydantic_core_schema__(
        self, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        func = cast(core_schema.NoInfoValidatorFunction, self.func)
        return core_schema.no_info_before_validator_function(func, schema=handler(source_type))


Str = Annotated[str, _Before(_to_str)]
"""A string field: YAML numbers and boolean words arrive as the text written."""
Bool = Annotated[bool, _Before(_to_bool)]
"""A boolean field: also accepts YAML 1.1 words such as ``yes`` (as Kubernetes does)."""
Int = Annotated[int, _Before(_to_int)]
"""An integer field (int64 in Kubernetes); strings and floats are rejected, as in Go."""
RawJSON = Annotated[Any, _Before(plain_json)]
"""Arbitrary JSON kept as is (``runtime.RawExtension``)."""


_F = TypeVar("_F", bound=Callable[..., Any])


def inspected(func: _F) -> _F:
    """Return ``func`` with its signature computed once, as ``__signature__``.

    For the functions pydantic inspects whenever it builds a model's validator (the default
    factories, the model validators and serializer below: once per field or model, ~200
    times for the four kinds an allocation builds). :func:`inspect.signature` returns a
    function's ``__signature__`` as it is, and this one is what it would compute; about
    2 ms less of the first allocation.
    """
    func.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
    return func


@inspected
def new_list() -> list[Any]:
    """Return a new empty list: the default factory of the list fields.

    A function rather than ``list``: building a model's validator inspects the signature
    of each default factory. A function's is read directly (a few µs); the builtin's is
    parsed from its text with :mod:`tokenize` (about 150 µs each, and 10 ms more the first
    time in a process, to import it and compile its expressions).
    """
    return []


@inspected
def new_dict() -> dict[str, Any]:
    """Return a new empty dict: the default factory of the map fields (see :func:`new_list`)."""
    return {}


class K8sModel(BaseModel):
    """The base of every Kubernetes model: camelCase aliases, Python names accepted, frozen.

    Validation is strict about types (a string field never receives a number or a boolean
    from JSON), as Go's decoder is.
    """

    model_config = ConfigDict(
        populate_by_name=True,
        alias_generator=to_camel,
        frozen=True,
        strict=True,
        extra="ignore",
        ser_json_inf_nan="constants",
        # Each model's validator and serializer are built on its first use, not at
        # import: building all ~60 of them costs more than importing pydantic, and a
        # process uses a few (an allocation: slices, classes, claims, nodes). The same
        # objects come out either way; only when the build cost is paid changes.
        defer_build=True,
    )

    #: the ``kind`` of a top-level object class (None for nested types)
    KIND: ClassVar[str | None] = None
    #: the API group of a top-level object class (``""`` for core/v1)
    API_GROUP: ClassVar[str] = ""
    # JSON key (alias and Python name) -> alias, for the fields that cannot hold None
    _NOT_NULL: ClassVar[dict[str, str]] = {}

    # Go decodes ``null`` into a slice, map, string or struct field as its zero value, and
    # writes a nil slice or map without omitempty back as ``null``. Such keys are remembered
    # here (by alias), so that dumping gives the input back.
    _null_keys: tuple[str, ...] = PrivateAttr(default=())

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Record which fields cannot hold None."""
        super().__pydantic_init_subclass__(**kwargs)
        not_null: dict[str, str] = {}
        for name, info in cls.model_fields.items():
            annotation = info.annotation
            origin = typing.get_origin(annotation)
            if annotation is Any or annotation is None:
                continue
            if origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(
                annotation
            ):
                continue
            alias = info.alias or name
            not_null[alias] = alias
            not_null[name] = alias
        cls._NOT_NULL = not_null

    @model_validator(mode="wrap")
    @classmethod
    @inspected
    def _accept_go_nulls(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if not isinstance(data, dict) or None not in data.values():
            return handler(data)
        nulls = [k for k, v in data.items() if v is None and k in cls._NOT_NULL]
        if not nulls:
            return handler(data)
        model = handler({k: v for k, v in data.items() if k not in nulls})
        model._null_keys = tuple(cls._NOT_NULL[k] for k in nulls)
        return model

    # return_type given: pydantic would read this method's annotations again for every model
    # whose serializer it builds (the same schema either way).
    @model_serializer(mode="wrap", return_type=Any)
    @inspected
    def _dump_go_nulls(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        result = handler(self)
        if self._null_keys and isinstance(result, dict):
            for alias in self._null_keys:
                name = next(
                    (n for n, f in type(self).model_fields.items() if (f.alias or n) == alias),
                    alias,
                )
                result[alias if info.by_alias else name] = None
        return result


def dump(model: BaseModel) -> dict[str, Any]:
    """Return ``model`` as Kubernetes JSON: camelCase names, only the fields that were set."""
    result: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return result
