"""Static type checking of a parsed selector, as far as Kubernetes' checker goes.

The ``device`` variable has a declared type; attribute values are ``dyn`` (a selector
cannot know them before it runs) and capacities are quantities. The checker reports what
cel-go reports at compile time: undeclared references, unknown fields of ``device``,
calls with no overload for statically known argument types, mixed-type list and map
literals, and (in :func:`check`) the result type.
"""

from __future__ import annotations

import re
from typing import Any, Final

from dra_core._records import Value, _set
from dra_core.cel._ast import (
    Call,
    CelSyntaxError,
    Const,
    Ident,
    Index,
    ListLit,
    Macro,
    MapLit,
    Node,
    Select,
)
from dra_core.cel._values import UInt

__all__ = ["DECLARED_FUNCTIONS", "T", "TypeCheckError", "check"]


class TypeCheckError(CelSyntaxError):
    """A checker error, located like a syntax error."""


class T(Value):
    """A CEL type: a name and type parameters (``list(int)`` is ``T("list", (INT,))``)."""

    __slots__ = ("name", "params")

    name: str
    params: tuple[T, ...]

    def __init__(self, name: str, params: tuple[T, ...] = ()) -> None:
        _set(self, "name", name)
        _set(self, "params", params)

    def _key(self) -> tuple[Any, ...]:
        return (self.name, self.params)

    def __str__(self) -> str:
        if self.name == "type" and self.params:
            return f"type({self.params[0]})"
        if self.params:
            return f"{self.name}({', '.join(str(p) for p in self.params)})"
        return self.name

    @property
    def is_param(self) -> bool:
        """Whether this is a type parameter of an overload (``A``, ``B``)."""
        return len(self.name) == 1 and self.name.isupper()


DYN: Final = T("dyn")
BOOL: Final = T("bool")
INT: Final = T("int")
UINT: Final = T("uint")
DOUBLE: Final = T("double")
STRING: Final = T("string")
BYTES: Final = T("bytes")
NULL: Final = T("null_type")
QUANTITY: Final = T("kubernetes.Quantity")
SEMVER: Final = T("kubernetes.Semver")
DEVICE: Final = T("kubernetes.DRADevice")
DURATION: Final = T("google.protobuf.Duration")
TIMESTAMP: Final = T("google.protobuf.Timestamp")
IP_T: Final = T("net.IP")
CIDR_T: Final = T("net.CIDR")
TYPE: Final = T("type")
ERROR: Final = T("*error*")


def list_of(elem: T) -> T:
    """``list(elem)``."""
    return T("list", (elem,))


def map_of(key: T, value: T) -> T:
    """``map(key, value)``."""
    return T("map", (key, value))


def optional_of(elem: T) -> T:
    """``optional_type(elem)``."""
    return T("optional_type", (elem,))


DEVICE_FIELDS: Final = {
    "driver": STRING,
    "allowMultipleAllocations": BOOL,
    "attributes": map_of(STRING, map_of(STRING, DYN)),
    "capacity": map_of(STRING, map_of(STRING, QUANTITY)),
}

TYPE_IDENTS: Final = {
    name: T("type", (T(name),))
    for name in (
        "int",
        "uint",
        "double",
        "string",
        "bool",
        "bytes",
        "null_type",
        "list",
        "map",
        "type",
        "dyn",
    )
}


# --- declarations ---------------------------------------------------------------------------

_TYPE_TOKEN = re.compile(r"\s*([A-Za-z_.]+|\(|\)|,)")


def _parse_type(text: str) -> T:
    tokens = _TYPE_TOKEN.findall(text)
    pos = 0

    def parse_one() -> T:
        nonlocal pos
        name = tokens[pos]
        pos += 1
        aliases = {"Q": QUANTITY, "S": SEMVER, "D": DURATION, "TS": TIMESTAMP, "IP": IP_T,
                   "CIDR": CIDR_T}
        if name in aliases:
            return aliases[name]
        params: list[T] = []
        if pos < len(tokens) and tokens[pos] == "(":
            pos += 1
            while True:
                params.append(parse_one())
                if tokens[pos] == ",":
                    pos += 1
                    continue
                pos += 1  # ")"
                break
        if name == "optional":
            name = "optional_type"
        return T(name, tuple(params))

    return parse_one()


class Overload(Value):
    """One declared signature; a member overload's first parameter is the target."""

    __slots__ = ("member", "params", "result")

    member: bool
    params: tuple[T, ...]
    result: T

    def __init__(self, member: bool, params: tuple[T, ...], result: T) -> None:
        _set(self, "member", member)
        _set(self, "params", params)
        _set(self, "result", result)

    def _key(self) -> tuple[Any, ...]:
        return (self.member, self.params, self.result)


def _decls(spec: str) -> dict[str, list[Overload]]:
    """Read declarations written one per line: ``name: [m] (params) -> result``."""
    out: dict[str, list[Overload]] = {}
    # The ~700 type texts are a few dozen distinct ones: each is parsed once (the types are
    # frozen, so the overloads may share them). About 2 ms less at import.
    parsed: dict[str, T] = {}

    def parse(text: str) -> T:
        found = parsed.get(text)
        if found is None:
            found = parsed[text] = _parse_type(text)
        return found

    for raw in spec.strip().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, rest = line.split(": ", 1)
        rest = rest.strip()
        member = rest.startswith("m ")
        if member:
            rest = rest[2:]
        params_text, result_text = rest.rsplit("->", 1)
        params_text = params_text.strip()[1:-1]
        params = _split_params(params_text)
        out.setdefault(name.strip(), []).append(
            Overload(member, tuple(parse(p) for p in params), parse(result_text))
        )
    return out


def _split_params(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


_NUMERIC = ("int", "uint", "double")
_ORDERED = ("int", "uint", "double", "string", "bytes", "bool")

_SPEC_LINES: list[str] = []
for _op in ("_<_", "_<=_", "_>_", "_>=_"):
    for _t in (*_ORDERED, "D", "TS"):
        _SPEC_LINES.append(f"{_op}: ({_t}, {_t}) -> bool")
    for _a in _NUMERIC:
        for _b in _NUMERIC:
            if _a != _b:
                _SPEC_LINES.append(f"{_op}: ({_a}, {_b}) -> bool")
for _op in ("_-_", "_*_", "_/_"):
    for _t in _NUMERIC:
        _SPEC_LINES.append(f"{_op}: ({_t}, {_t}) -> {_t}")
for _t in ("int", "uint", "double", "string", "bytes"):
    _SPEC_LINES.append(f"_+_: ({_t}, {_t}) -> {_t}")
for _fn in ("isSorted", "max", "min"):
    for _t in _ORDERED:
        _result = "bool" if _fn == "isSorted" else _t
        _SPEC_LINES.append(f"{_fn}: m (list({_t})) -> {_result}")
for _t in _NUMERIC:
    _SPEC_LINES.append(f"sum: m (list({_t})) -> {_t}")
for _fn, _src in (
    ("int", ("int", "uint", "double", "string")),
    ("uint", ("int", "uint", "double", "string")),
    ("double", ("int", "uint", "double", "string")),
    ("string", ("int", "uint", "double", "string", "bytes", "bool")),
    ("bytes", ("bytes", "string")),
    ("bool", ("bool", "string")),
):
    for _t in _src:
        _SPEC_LINES.append(f"{_fn}: ({_t}) -> {_fn}")

_SPEC: Final = (
    "\n".join(_SPEC_LINES)
    + """
_+_: (list(A), list(A)) -> list(A)
_%_: (int, int) -> int
_%_: (uint, uint) -> uint
-_: (int) -> int
-_: (double) -> double
!_: (bool) -> bool
_==_: (A, A) -> bool
_!=_: (A, A) -> bool
@in: (A, list(A)) -> bool
@in: (A, map(A, B)) -> bool
_&&_: (bool, bool) -> bool
_||_: (bool, bool) -> bool
_?_:_: (bool, A, A) -> A
size: (string) -> int
size: (bytes) -> int
size: (list(A)) -> int
size: (map(A, B)) -> int
size: m (string) -> int
size: m (bytes) -> int
size: m (list(A)) -> int
size: m (map(A, B)) -> int
dyn: (A) -> dyn
type: (A) -> type(A)
contains: m (string, string) -> bool
startsWith: m (string, string) -> bool
endsWith: m (string, string) -> bool
matches: m (string, string) -> bool
matches: (string, string) -> bool
charAt: m (string, int) -> string
indexOf: m (string, string) -> int
indexOf: m (string, string, int) -> int
lastIndexOf: m (string, string) -> int
lastIndexOf: m (string, string, int) -> int
lowerAscii: m (string) -> string
upperAscii: m (string) -> string
replace: m (string, string, string) -> string
replace: m (string, string, string, int) -> string
split: m (string, string) -> list(string)
split: m (string, string, int) -> list(string)
substring: m (string, int) -> string
substring: m (string, int, int) -> string
trim: m (string) -> string
join: m (list(string)) -> string
join: m (list(string), string) -> string
strings.quote: (string) -> string
format: m (string, list(dyn)) -> string
indexOf: m (list(A), A) -> int
lastIndexOf: m (list(A), A) -> int
slice: m (list(A), int, int) -> list(A)
flatten: m (list(dyn)) -> list(dyn)
flatten: m (list(dyn), int) -> list(dyn)
distinct: m (list(A)) -> list(A)
reverse: m (list(A)) -> list(A)
sort: m (list(A)) -> list(A)
first: m (list(A)) -> optional(A)
last: m (list(A)) -> optional(A)
lists.range: (int) -> list(int)
sets.contains: (list(A), list(A)) -> bool
sets.equivalent: (list(A), list(A)) -> bool
sets.intersects: (list(A), list(A)) -> bool
find: m (string, string) -> string
findAll: m (string, string) -> list(string)
findAll: m (string, string, int) -> list(string)
quantity: (string) -> Q
isQuantity: (string) -> bool
sign: (Q) -> int
isGreaterThan: m (Q, Q) -> bool
isLessThan: m (Q, Q) -> bool
compareTo: m (Q, Q) -> int
asApproximateFloat: m (Q) -> double
asInteger: m (Q) -> int
isInteger: m (Q) -> bool
add: m (Q, Q) -> Q
add: m (Q, int) -> Q
sub: m (Q, Q) -> Q
sub: m (Q, int) -> Q
semver: (string) -> S
semver: (string, bool) -> S
isSemver: (string) -> bool
isSemver: (string, bool) -> bool
isGreaterThan: m (S, S) -> bool
isLessThan: m (S, S) -> bool
compareTo: m (S, S) -> int
major: m (S) -> int
minor: m (S) -> int
patch: m (S) -> int
optional.of: (A) -> optional(A)
optional.ofNonZeroValue: (A) -> optional(A)
optional.none: () -> optional(dyn)
hasValue: m (optional(A)) -> bool
value: m (optional(A)) -> A
orValue: m (optional(A), A) -> A
or: m (optional(A), optional(A)) -> optional(A)
includes: m (dyn, dyn) -> bool
duration: (string) -> D
duration: (D) -> D
timestamp: (string) -> TS
timestamp: (TS) -> TS
timestamp: (int) -> TS
_+_: (TS, D) -> TS
_+_: (D, TS) -> TS
_+_: (D, D) -> D
_-_: (TS, TS) -> D
_-_: (TS, D) -> TS
_-_: (D, D) -> D
int: (TS) -> int
string: (TS) -> string
string: (D) -> string
ip: (string) -> IP
ip: m (CIDR) -> IP
isIP: (string) -> bool
ip.isCanonical: (string) -> bool
family: m (IP) -> int
isUnspecified: m (IP) -> bool
isLoopback: m (IP) -> bool
isLinkLocalMulticast: m (IP) -> bool
isLinkLocalUnicast: m (IP) -> bool
isGlobalUnicast: m (IP) -> bool
string: (IP) -> string
cidr: (string) -> CIDR
isCIDR: (string) -> bool
containsIP: m (CIDR, string) -> bool
containsIP: m (CIDR, IP) -> bool
containsCIDR: m (CIDR, string) -> bool
containsCIDR: m (CIDR, CIDR) -> bool
prefixLength: m (CIDR) -> int
masked: m (CIDR) -> CIDR
string: (CIDR) -> string
""" + "\n".join(
    f"{_g}: m (TS) -> int\n{_g}: m (TS, string) -> int"
    + (f"\n{_g}: m (D) -> int" if _g in ("getHours", "getMinutes", "getSeconds",
                                          "getMilliseconds") else "")
    for _g in ("getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate",
               "getDayOfWeek", "getHours", "getMinutes", "getSeconds", "getMilliseconds")
)
)

DECLARED_FUNCTIONS: Final[dict[str, list[Overload]]] = _decls(_SPEC)


# --- unification ------------------------------------------------------------------------------


def _unify(param: T, arg: T, subst: dict[str, T]) -> bool:
    """Whether ``arg`` can be passed for ``param``, binding type parameters in ``subst``."""
    if param.is_param:
        bound = subst.get(param.name)
        if bound is None:
            subst[param.name] = arg
            return True
        if bound == arg or arg.name == "dyn" or arg.name == ERROR.name:
            return True
        if bound.name == "dyn":
            return True
        # list(dyn) against list(int) and the like: keep the more general one.
        return bool(_unify(bound, arg, {}) and bound.params and arg.params)
    if arg.name in ("dyn", ERROR.name) or param.name == "dyn":
        if arg.name == "dyn" and param.params:
            _bind_dyn(param, subst)
        return True
    if param.name != arg.name or len(param.params) != len(arg.params):
        return False
    return all(_unify(p, a, subst) for p, a in zip(param.params, arg.params, strict=True))


def _bind_dyn(param: T, subst: dict[str, T]) -> None:
    for p in param.params:
        if p.is_param and p.name not in subst:
            subst[p.name] = DYN
        _bind_dyn(p, subst)


def _substitute(t: T, subst: dict[str, T]) -> T:
    if t.is_param:
        return subst.get(t.name, DYN)
    if not t.params:
        return t
    return T(t.name, tuple(_substitute(p, subst) for p in t.params))


def _join(types: list[T]) -> T:
    """Return the common type of several overload results (``dyn`` when they differ)."""
    first = types[0]
    return first if all(t == first for t in types) else DYN


# --- the checker --------------------------------------------------------------------------------


class _Checker:
    def __init__(self, functions: dict[str, list[Overload]]) -> None:
        self.functions = functions
        self.scopes: list[dict[str, T]] = []

    def error(self, node: Node, message: str) -> TypeCheckError:
        return TypeCheckError(message, node.line, node.column)

    def lookup(self, name: str) -> T | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name == "device":
            return DEVICE
        return TYPE_IDENTS.get(name)

    def check(self, node: Node) -> T:
        if isinstance(node, Const):
            return _const_type(node.value)
        if isinstance(node, Ident):
            found = self.lookup(node.name)
            if found is None:
                raise self.error(node, f"undeclared reference to '{node.name}' (in container '')")
            return found
        if isinstance(node, Select):
            return self.check_select(node)
        if isinstance(node, Index):
            return self.check_index(node)
        if isinstance(node, Call):
            return self.check_call(node)
        # Children are checked in plain loops, not comprehensions: a comprehension is
        # one more Python frame per nesting level (Python 3.11), and a selector may nest
        # 250 levels deep.
        if isinstance(node, ListLit):
            types: list[T] = []
            for item in node.items:
                types.append(self.check(item))
            types = [self.unwrap_optional(node.items[i], t) if i in node.optional else t
                     for i, t in enumerate(types)]
            return list_of(self.homogeneous(node, types, "list"))
        if isinstance(node, MapLit):
            keys: list[T] = []
            values: list[T] = []
            for key_node, value_node in node.entries:
                keys.append(self.check(key_node))
                values.append(self.check(value_node))
            values = [self.unwrap_optional(node.entries[i][1], t) if i in node.optional else t
                      for i, t in enumerate(values)]
            for key_node, key_type in zip((k for k, _ in node.entries), keys, strict=True):
                if key_type.name not in ("int", "uint", "string", "bool", "dyn", ERROR.name):
                    raise self.error(key_node, f"unsupported map key type: {key_type}")
            return map_of(
                self.homogeneous(node, keys, "map"), self.homogeneous(node, values, "map")
            )
        if isinstance(node, Macro):
            return self.check_macro(node)
        raise self.error(node, "unsupported expression")

    def unwrap_optional(self, node: Node, found: T) -> T:
        """Return the element type of an optional entry (``[?x]``, ``{?k: v}``)."""
        if found.name == "optional_type":
            return found.params[0]
        if found.name in ("dyn", ERROR.name):
            return DYN
        raise self.error(node, f"expected type 'optional_type' but found '{found}'")

    def homogeneous(self, node: Node, types: list[T], what: str) -> T:
        concrete = [t for t in types if t.name not in ("dyn", ERROR.name)]
        if not types:
            return DYN
        if not concrete:
            return DYN
        first = concrete[0]
        for t in concrete[1:]:
            if not _unify(first, t, {}) and not _unify(t, first, {}):
                raise self.error(node, f"expected type '{first}' but found '{t}'")
        return first if len(concrete) == len(types) else DYN

    def check_select(self, node: Select) -> T:
        operand = self.check(node.operand)
        if operand == DEVICE:
            field = DEVICE_FIELDS.get(node.field)
            if field is None:
                raise self.error(node, f"undefined field '{node.field}'")
            result = BOOL if node.test_only else field
        elif operand.name == "map":
            if operand.params[0].name not in ("string", "dyn"):
                raise self.error(node, f"type '{operand}' does not support field selection")
            result = BOOL if node.test_only else operand.params[1]
        elif operand.name in ("dyn", ERROR.name):
            result = BOOL if node.test_only else DYN
        elif operand.name == "optional_type" and node.optional:
            inner = operand.params[0]
            if inner.name == "map":
                return optional_of(inner.params[1])
            return optional_of(DYN)
        else:
            raise self.error(node, f"type '{operand}' does not support field selection")
        return optional_of(result) if node.optional else result

    def check_index(self, node: Index) -> T:
        operand = self.check(node.operand)
        key = self.check(node.key)
        if operand.name == "optional_type" and node.optional:
            operand = operand.params[0]
        if operand.name == "list":
            if key.name not in ("int", "uint", "dyn", ERROR.name):
                raise self.no_overload(node, "_[_]", [operand, key], member=False)
            result = operand.params[0]
        elif operand.name == "map":
            if not _unify(operand.params[0], key, {}) and not _unify(key, operand.params[0], {}):
                raise self.no_overload(node, "_[_]", [operand, key], member=False)
            result = operand.params[1]
        elif operand.name in ("dyn", ERROR.name):
            result = DYN
        else:
            raise self.no_overload(node, "_[_]", [operand, key], member=False)
        return optional_of(result) if node.optional else result

    def no_overload(self, node: Node, name: str, types: list[T], *, member: bool) -> TypeCheckError:
        if member:
            text = f"{types[0]}.({', '.join(str(t) for t in types[1:])})"
        else:
            text = f"({', '.join(str(t) for t in types)})"
        return self.error(node, f"found no matching overload for '{name}' applied to '{text}'")

    def check_call(self, node: Call) -> T:
        args: list[T] = []
        for arg in node.args:
            args.append(self.check(arg))
        if node.target is not None:
            target = self.check(node.target)
            types = [target, *args]
        else:
            types = args
        overloads = self.functions.get(node.function)
        if overloads is None:
            if node.target is None:
                raise self.error(
                    node, f"undeclared reference to '{node.function}' (in container '')"
                )
            raise self.error(node, f"undeclared reference to '{node.function}' (in container '')")
        member = node.target is not None
        results: list[T] = []
        for overload in overloads:
            if overload.member != member or len(overload.params) != len(types):
                continue
            subst: dict[str, T] = {}
            if all(_unify(p, a, subst) for p, a in zip(overload.params, types, strict=True)):
                results.append(_substitute(overload.result, subst))
        if not results:
            raise self.no_overload(node, node.function, types, member=member)
        return _join(results)

    def check_macro(self, node: Macro) -> T:
        target = self.check(node.target)
        if node.kind == "cel.bind":
            self.scopes.append({node.variables[0]: target})
            try:
                return self.check(node.args[0])
            finally:
                self.scopes.pop()
        if node.kind in ("optMap", "optFlatMap"):
            if target.name not in ("optional_type", "dyn", ERROR.name):
                raise self.no_overload(node, node.kind, [target], member=True)
            elem = target.params[0] if target.name == "optional_type" else DYN
            self.scopes.append({node.variables[0]: elem})
            try:
                body = self.check(node.args[0])
            finally:
                self.scopes.pop()
            if node.kind == "optMap":
                return optional_of(body)
            return body if body.name == "optional_type" else optional_of(DYN)
        if target.name == "list":
            first, second = (INT, target.params[0])
        elif target.name == "map":
            first, second = target.params
        elif target.name in ("dyn", ERROR.name):
            first, second = DYN, DYN
        else:
            raise self.error(
                node.target,
                f"expression of type '{target}' cannot be range of a "
                "comprehension (must be list, map, or dynamic)",
            )
        if len(node.variables) == 1:
            # One variable: a list's element, a map's key.
            scope = {node.variables[0]: second if target.name == "list" else first}
        else:
            scope = {node.variables[0]: first, node.variables[1]: second}
        self.scopes.append(scope)
        bodies: list[T] = []
        try:
            for arg in node.args:
                bodies.append(self.check(arg))
        finally:
            self.scopes.pop()
        kind = node.kind
        if kind in ("all", "exists", "exists_one"):
            self.expect_bool(node.args[0], bodies[0])
            return BOOL
        if kind == "filter":
            self.expect_bool(node.args[0], bodies[0])
            return list_of(second if target.name == "list" else first)
        if kind == "sortBy":
            if target.name == "map":
                raise self.no_overload(node, "sortBy", [target], member=True)
            key = bodies[0]
            if key.name not in ("int", "uint", "double", "string", "bytes", "bool", "dyn",
                                "google.protobuf.Duration", "google.protobuf.Timestamp",
                                ERROR.name):
                raise self.error(node.args[0], f"sortBy key type '{key}' is not comparable")
            return list_of(second)
        if kind in ("map", "transformList"):
            if len(bodies) == 2:
                self.expect_bool(node.args[0], bodies[0])
            return list_of(bodies[-1])
        if kind == "transformMap":
            if len(bodies) == 2:
                self.expect_bool(node.args[0], bodies[0])
            return map_of(first, bodies[-1])
        if kind == "transformMapEntry":
            if len(bodies) == 2:
                self.expect_bool(node.args[0], bodies[0])
            result = bodies[-1]
            return result if result.name == "map" else map_of(DYN, DYN)
        raise self.error(node, f"unknown macro {kind}")

    def expect_bool(self, node: Node, found: T) -> None:
        if found.name not in ("bool", "dyn", ERROR.name):
            raise self.no_overload(node, "_&&_", [BOOL, found], member=False)


def _const_type(value: object) -> T:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, UInt):
        return UINT
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return STRING
    if isinstance(value, bytes):
        return BYTES
    return NULL


def check(node: Node) -> T:
    """Return the static type of an expression.

    Raises:
        TypeCheckError: for the errors cel-go's checker reports.

    """
    return _Checker(DECLARED_FUNCTIONS).check(node)
