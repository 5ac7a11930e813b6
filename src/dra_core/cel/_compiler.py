"""Turn a checked expression tree into Python closures, and find what it reads.

Every node becomes a function of an :class:`Env` (the device, the local variables of
comprehensions and bindings, and the cost spent so far). Calls are bound to their
implementation once, at compile time; paths such as ``device.attributes["d"].model``
become one dictionary lookup.

Cost: every identifier, selection and index costs 1, every call at least 1 (more for
functions whose work grows with their input, see :func:`._library.call_cost`), list and
map literals 10 and 30, and each comprehension iteration 3 plus its body, which is how
cel-go's runtime cost tracker counts. The limit is checked at every call and every
iteration, so a hostile expression stops as soon as it passes the limit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
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
from dra_core.cel._checker import TYPE_IDENTS
from dra_core.cel._device import CelDevice, DefaultMap
from dra_core.cel._library import (
    FUNCTIONS,
    TIME_GETTERS,
    call_cost,
    compare,
    compile_regex,
    no_overload,
)
from dra_core.cel._values import (
    MISSING,
    EvalError,
    Optional,
    TypeValue,
    cel_equal,
    go_type_name,
    map_get,
)

__all__ = ["CostLimitExceeded", "Env", "ReadSet", "analyze", "compile_tree"]

COST_LIMIT_MESSAGE: Final = "operation cancelled: actual cost limit exceeded"


class CostLimitExceeded(Exception):
    """The cost limit was passed. Not an :class:`EvalError`: ``&&`` must not absorb it."""


class Env:
    """The state of one evaluation."""

    __slots__ = ("cost", "dev", "limit", "vars")

    def __init__(self, dev: CelDevice, limit: int) -> None:
        self.dev = dev
        self.limit = limit
        self.cost = 0
        self.vars: dict[str, Any] = {}


Fn = Callable[[Env], Any]


def _charge(env: Env, amount: int) -> None:
    env.cost += amount
    if env.cost > env.limit:
        raise CostLimitExceeded(COST_LIMIT_MESSAGE)


def _no_such_key(key: object) -> EvalError:
    if isinstance(key, bool):
        key = "true" if key else "false"
    return EvalError(f"no such key: {key}")


# Selection and indexing follow cel-go's attribute qualification: a map lookup that
# misses is "no such key" (except on a DefaultMap, which answers an empty map), a list
# index out of range is "index out of bounds", and qualifying a scalar is "no such key";
# has() answers false where a lookup would fail.


def _select(obj: Any, field: str) -> Any:
    if isinstance(obj, Mapping):
        value = obj.get(field, MISSING)
        if value is MISSING:
            if type(obj) is DefaultMap:
                return DefaultMap.default
            raise _no_such_key(field)
        return value
    if isinstance(obj, (list, tuple)):
        raise no_overload()
    raise _no_such_key(field)


def _list_index(obj: list[Any] | tuple[Any, ...], key: Any) -> int:
    if type(key) is float:
        if not key.is_integer():
            raise EvalError(f"unsupported index value {key}")
        key = int(key)
    if isinstance(key, bool) or not isinstance(key, int):
        raise no_overload()
    return int(key)


def _index(obj: Any, key: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        position = _list_index(obj, key)
        if position < 0 or position >= len(obj):
            raise EvalError(f"index out of bounds: {position}")
        return obj[position]
    if isinstance(obj, Mapping):
        if isinstance(key, (list, tuple, Mapping)) or key is None:
            raise no_overload()
        value = map_get(obj, key)
        if value is MISSING:
            if type(obj) is DefaultMap:
                return DefaultMap.default
            raise _no_such_key(key)
        return value
    raise _no_such_key(key)


def _present(obj: Any, key: Any) -> bool:
    """``has()``: whether a map has the key (a :class:`DefaultMap` has every key)."""
    if isinstance(obj, Mapping):
        return type(obj) is DefaultMap or map_get(obj, key) is not MISSING
    if isinstance(obj, (list, tuple)):
        raise no_overload()
    return False


# --- the compiler -------------------------------------------------------------------------------


class _Ctx:
    """What the compiler knows about the names in scope (True: a local variable)."""

    __slots__ = ("locals",)

    def __init__(self, locals: dict[str, int]) -> None:
        self.locals = locals


def compile_tree(node: Node) -> Fn:
    """Compile a checked tree into a closure.

    Raises:
        CelSyntaxError: for what cel-go's validators reject at compile time (a literal
            regular expression that does not compile).

    """
    return _Compiler().compile(node, _Ctx({}))


class _Compiler:
    def compile(self, node: Node, ctx: _Ctx) -> Fn:
        path = _device_path(node, ctx)
        if path is not None:
            fast = self.device_path(path)
            if fast is not None:
                return fast
        if isinstance(node, Const):
            return _constant(node.value, 0)
        if isinstance(node, Ident):
            return self.ident(node, ctx)
        if isinstance(node, Select):
            return self.select(node, ctx)
        if isinstance(node, Index):
            return self.index(node, ctx)
        if isinstance(node, Call):
            return self.call(node, ctx)
        # Children are compiled in plain loops, not comprehensions: a comprehension is
        # one more Python frame per nesting level (Python 3.11), and a selector may nest
        # 250 levels deep.
        if isinstance(node, ListLit):
            items: list[Fn] = []
            for item_node in node.items:
                items.append(self.compile(item_node, ctx))
            known = [_known(item) for item in items]
            if node.optional:
                return _optional_list(items, node.optional)
            if all(k is not None for k in known):
                values = tuple(k[0] for k in known if k is not None)
                return _constant(values, 10 + sum(k[1] for k in known if k is not None))

            def make_list(env: Env) -> Any:
                _charge(env, 10)
                return tuple(item(env) for item in items)

            return make_list
        if isinstance(node, MapLit):
            entries: list[tuple[Fn, Fn]] = []
            for key_node, value_node in node.entries:
                entries.append((self.compile(key_node, ctx), self.compile(value_node, ctx)))
            optional_entries = node.optional

            def make_map(env: Env) -> Any:
                _charge(env, 30)
                out: dict[Any, Any] = {}
                for position, (key_fn, value_fn) in enumerate(entries):
                    key = key_fn(env)
                    if isinstance(key, (float, list, tuple, Mapping)):
                        raise EvalError(f"unsupported key type: {go_type_name(key)}")
                    if map_get(out, key) is not MISSING:
                        raise EvalError(f"Failed with repeated key: {key}")
                    value = value_fn(env)
                    if position in optional_entries:
                        if not isinstance(value, Optional):
                            raise no_overload()
                        if not value.has_value():
                            continue
                        value = value.value
                    out[key] = value
                return out

            return make_map
        if isinstance(node, Macro):
            return self.macro(node, ctx)
        raise CelSyntaxError("unsupported expression", node.line, node.column)

    # -- device paths: one lookup instead of a chain of map accesses

    def device_path(self, path: tuple[Any, ...]) -> Fn | None:
        if path == ("driver",):

            def driver(env: Env) -> Any:
                env.cost += 2  # the identifier and one qualifier
                return env.dev.driver

            return driver
        if path == ("allowMultipleAllocations",):

            def multi(env: Env) -> Any:
                env.cost += 2
                return env.dev.allow_multiple_allocations

            return multi
        if len(path) == 3 and path[0] in ("attributes", "capacity"):
            _, domain, ident = path
            message = f"no such key: {ident}"
            if path[0] == "attributes":

                def attribute(env: Env) -> Any:
                    env.cost += 4  # the identifier and three qualifiers
                    found = env.dev.attribute_domains.get(domain)
                    if found is None or (value := found.get(ident, MISSING)) is MISSING:
                        raise EvalError(message)
                    return value

                return attribute

            def capacity(env: Env) -> Any:
                env.cost += 4
                found = env.dev.capacity_domains.get(domain)
                if found is None or (value := found.get(ident, MISSING)) is MISSING:
                    raise EvalError(message)
                return value

            return capacity
        return None

    def ident(self, node: Ident, ctx: _Ctx) -> Fn:
        name = node.name
        if name in ctx.locals:

            def local(env: Env) -> Any:
                env.cost += 1
                return env.vars[name]

            return local
        if name == "device":

            def device(env: Env) -> Any:
                env.cost += 1
                return env.dev.view()

            return device
        type_ident = TYPE_IDENTS.get(name)
        if type_ident is not None:
            value = TypeValue(type_ident.params[0].name)
            return lambda env: value
        raise CelSyntaxError(
            f"undeclared reference to '{name}' (in container '')", node.line, node.column
        )

    def select(self, node: Select, ctx: _Ctx) -> Fn:
        operand = self.compile(node.operand, ctx)
        field = node.field
        if node.test_only:

            def has(env: Env) -> Any:
                return _present(operand(env), field)

            return has
        if node.optional:

            def opt_select(env: Env) -> Any:
                env.cost += 1
                obj = operand(env)
                if isinstance(obj, Optional):
                    if not obj.has_value():
                        return obj
                    obj = obj.value
                if not isinstance(obj, Mapping):
                    if isinstance(obj, (list, tuple)):
                        raise no_overload()
                    return Optional()  # a scalar has no fields: none, as has() is false
                if type(obj) is DefaultMap:
                    return Optional(obj.get(field, DefaultMap.default))
                value = obj.get(field, MISSING)
                return Optional(value)

            return opt_select

        def select(env: Env) -> Any:
            env.cost += 1
            return _select(operand(env), field)

        return select

    def index(self, node: Index, ctx: _Ctx) -> Fn:
        operand = self.compile(node.operand, ctx)
        key_fn = self.compile(node.key, ctx)
        if node.optional:

            def opt_index(env: Env) -> Any:
                env.cost += 1
                obj = operand(env)
                key = key_fn(env)
                if isinstance(obj, Optional):
                    if not obj.has_value():
                        return obj
                    obj = obj.value
                if isinstance(obj, (list, tuple)):
                    try:
                        return Optional(_index(obj, key))
                    except EvalError:
                        if isinstance(key, int) and not isinstance(key, bool):
                            return Optional()
                        raise
                if isinstance(obj, Mapping):
                    if type(obj) is DefaultMap:
                        return Optional(_index(obj, key))
                    return Optional(map_get(obj, key))
                raise no_overload()

            return opt_index
        if isinstance(node.key, Const):
            key = node.key.value

            def const_index(env: Env) -> Any:
                env.cost += 1
                return _index(operand(env), key)

            return const_index

        def index(env: Env) -> Any:
            env.cost += 1
            return _index(operand(env), key_fn(env))

        return index

    # -- calls

    def call(self, node: Call, ctx: _Ctx) -> Fn:
        name = node.function
        if name in ("_&&_", "_||_", "_?_:_"):
            operands: list[Fn] = []
            for arg in node.args:
                operands.append(self.compile(arg, ctx))
            if name == "_?_:_":
                return _ternary(*operands)
            return _logic(operands[0], operands[1], short=name == "_||_")
        if name == "matches" and len(node.args) >= 1:
            pattern = node.args[-1]
            if isinstance(pattern, Const) and isinstance(pattern.value, str):
                try:
                    compile_regex(pattern.value)
                except EvalError:
                    raise CelSyntaxError(
                        "invalid matches argument", pattern.line, pattern.column
                    ) from None
        if name in ("duration", "timestamp") and node.target is None and len(node.args) == 1:
            literal = node.args[0]
            if isinstance(literal, Const) and isinstance(literal.value, str):
                try:
                    FUNCTIONS[name][0](literal.value)  # type: ignore[misc]
                except EvalError:
                    # cel-go's literal validators reject these at compile time.
                    raise CelSyntaxError(
                        f"invalid {name} argument", literal.line, literal.column
                    ) from None
        args = ([node.target] if node.target is not None else []) + list(node.args)
        arg_fns: list[Fn] = []
        for arg in args:
            arg_fns.append(self.compile(arg, ctx))
        impls = FUNCTIONS.get(name)
        impl = None
        if impls is not None:
            impl = impls[1] if node.target is not None else impls[0]
        if impl is None:
            raise CelSyntaxError(
                f"undeclared reference to '{name}' (in container '')", node.line, node.column
            )
        known = [_known(f) for f in arg_fns]
        if all(k is not None for k in known):
            folded = _fold(name, impl, [k for k in known if k is not None])
            if folded is not None:
                return folded
        fixed = _FIXED_COST_FUNCTIONS.get(name)
        if (
            name in ("_==_", "_!=_")
            and isinstance(args[1], Const)
            and isinstance(args[1].value, str)
        ):
            return _string_equality(arg_fns[0], args[1].value, negate=name == "_!=_")
        if fixed is not None:
            return _fixed_cost_call(impl, arg_fns, fixed)
        return _measured_call(name, impl, arg_fns)

    # -- macros

    def macro(self, node: Macro, ctx: _Ctx) -> Fn:
        target = self.compile(node.target, ctx)
        inner = _Ctx({**ctx.locals, **{v: 1 for v in node.variables}})
        bodies: list[Fn] = []
        for arg in node.args:
            bodies.append(self.compile(arg, inner))
        kind = node.kind
        names = node.variables
        if kind == "cel.bind":
            return _bind(names[0], target, bodies[0])
        if kind in ("optMap", "optFlatMap"):
            return _opt_map(names[0], target, bodies[0], flat=kind == "optFlatMap")
        return _comprehension(kind, names, target, bodies)


def _logic(left: Fn, right: Fn, *, short: bool) -> Fn:
    # CEL's && and || are commutative with errors: false && error is false, whichever
    # side the error is on; only when no side decides does the error surface.
    decisive = short  # || is decided by true, && by false

    def logic(env: Env) -> Any:
        error: EvalError | None = None
        try:
            value = left(env)
            if value is decisive:
                return decisive
            if type(value) is not bool:
                error = no_overload()
        except EvalError as exc:
            error = exc
        try:
            other = right(env)
        except EvalError:
            if error is not None:
                raise error from None
            raise
        if other is decisive:
            return decisive
        if type(other) is not bool:
            raise error if error is not None else no_overload()
        if error is not None:
            raise error
        return other

    return logic


def _ternary(cond: Fn, yes: Fn, no: Fn) -> Fn:
    def ternary(env: Env) -> Any:
        test = cond(env)
        if test is True:
            return yes(env)
        if test is False:
            return no(env)
        raise no_overload()

    return ternary


# Constant folding: every library function is pure, so a call whose arguments are all
# known at compile time is evaluated once, here (cel-go's optimiser does the same). Its
# cost, and that of its arguments, is still charged at every evaluation, so the cost
# limit sees the same total. Closures with a known value carry it as ``const``.
_FOLD_MAX_COST: Final = 10_000  # larger work is left to runtime, under the cost limit


def _constant(value: Any, cost: int) -> Fn:
    if cost == 0:

        def literal(env: Env) -> Any:
            return value

        fn: Fn = literal
    else:

        def charged(env: Env) -> Any:
            _charge(env, cost)
            return value

        fn = charged
    fn.const = (value, cost)  # type: ignore[attr-defined]
    return fn


def _known(fn: Fn) -> tuple[Any, int] | None:
    found: tuple[Any, int] | None = getattr(fn, "const", None)
    return found


def _fold(name: str, impl: Callable[..., Any], known: list[tuple[Any, int]]) -> Fn | None:
    values = tuple(value for value, _ in known)
    arg_cost = sum(cost for _, cost in known)
    try:
        cost = _FIXED_COST_FUNCTIONS.get(name) or call_cost(name, values)
        if arg_cost + cost > _FOLD_MAX_COST:
            return None
        result = impl(*values)
    except EvalError:
        return None  # fails at runtime, with the runtime error
    if isinstance(result, (str, bytes, tuple)) and len(result) > _FOLD_MAX_COST:
        return None
    return _constant(result, arg_cost + cost)


def _optional_list(items: list[Fn], optional: frozenset[int]) -> Fn:
    def make_list(env: Env) -> Any:
        _charge(env, 10)
        out: list[Any] = []
        for position, item in enumerate(items):
            value = item(env)
            if position in optional:
                if not isinstance(value, Optional):
                    raise no_overload()
                if not value.has_value():
                    continue
                value = value.value
            out.append(value)
        return tuple(out)

    return make_list


def _string_equality(left: Fn, constant: str, *, negate: bool) -> Fn:
    size = len(constant)

    def equal(env: Env) -> Any:
        value = left(env)
        if type(value) is str:
            # cel-go: the shorter length times the string traversal factor, rounded up.
            n = len(value)
            env.cost += -(-(n if n < size else size) // 10)
            if env.cost > env.limit:
                raise CostLimitExceeded(COST_LIMIT_MESSAGE)
            return (value == constant) != negate
        _charge(env, call_cost("_==_", (value, constant)))
        return cel_equal(value, constant) != negate

    return equal


# Functions whose cost does not depend on their arguments.
_FIXED_COST_FUNCTIONS: Final = {
    name: 1
    for name in (
        "_-_",
        "_*_",
        "_/_",
        "_%_",
        "-_",
        "!_",
        "size",
        "dyn",
        "type",
        "isGreaterThan",
        "isLessThan",
        "compareTo",
        "asApproximateFloat",
        "asInteger",
        "isInteger",
        "add",
        "sub",
        "major",
        "minor",
        "patch",
        "sign",
        "optional.of",
        "optional.ofNonZeroValue",
        "optional.none",
        "hasValue",
        "value",
        "orValue",
        "or",
        "first",
        "last",
        "duration",
        "timestamp",
        *TIME_GETTERS,
    )
}


def _fixed_cost_call(impl: Callable[..., Any], arg_fns: list[Fn], cost: int) -> Fn:
    if len(arg_fns) == 0:

        def call0(env: Env) -> Any:
            _charge(env, cost)
            return impl()

        return call0
    if len(arg_fns) == 1:
        (a,) = arg_fns

        def call1(env: Env) -> Any:
            value = a(env)
            _charge(env, cost)
            return impl(value)

        return call1
    if len(arg_fns) == 2:
        a, b = arg_fns

        def call2(env: Env) -> Any:
            x = a(env)
            y = b(env)
            _charge(env, cost)
            return impl(x, y)

        return call2

    def calln(env: Env) -> Any:
        values = [f(env) for f in arg_fns]
        _charge(env, cost)
        return impl(*values)

    return calln


def _measured_call(name: str, impl: Callable[..., Any], arg_fns: list[Fn]) -> Fn:
    def call(env: Env) -> Any:
        values = tuple(f(env) for f in arg_fns)
        # Charged before the work, so that a call that would build a huge value stops here.
        _charge(env, call_cost(name, values))
        return impl(*values)

    return call


def _bind(name: str, init: Fn, body: Fn) -> Fn:
    def bind(env: Env) -> Any:
        env.cost += 10  # cel-go expands cel.bind into a comprehension over an empty list
        value = init(env)
        saved = env.vars.get(name, MISSING)
        env.vars[name] = value
        try:
            return body(env)
        finally:
            if saved is MISSING:
                del env.vars[name]
            else:
                env.vars[name] = saved

    return bind


def _opt_map(name: str, target: Fn, body: Fn, *, flat: bool) -> Fn:
    def opt_map(env: Env) -> Any:
        opt = target(env)
        if not isinstance(opt, Optional):
            raise no_overload()
        if not opt.has_value():
            return opt
        saved = env.vars.get(name, MISSING)
        env.vars[name] = opt.value
        try:
            result = body(env)
        finally:
            if saved is MISSING:
                del env.vars[name]
            else:
                env.vars[name] = saved
        if flat:
            if not isinstance(result, Optional):
                raise no_overload()
            return result
        return Optional(result)

    return opt_map


def _iteration_items(value: Any, two: bool) -> list[tuple[Any, Any]]:
    if isinstance(value, (list, tuple)):
        return list(enumerate(value)) if two else [(v, None) for v in value]
    if isinstance(value, Mapping):
        return [(k, value[k]) for k in value] if two else [(k, None) for k in value]
    raise EvalError(f"got '{go_type_name(value)}', expected iterable type")


# Per-iteration costs of the macros, as cel-go's expansions count them (and Kubernetes'
# estimates in compile_test.go confirm): all 3 and exists 4 (the loop condition and the
# step's read of the accumulator), exists_one 2 (__result__ + 1), filter 1 plus 12 for a
# kept element (__result__ + [x]), map-like macros 12 (a one-element list, concatenated).
def _comprehension(kind: str, names: tuple[str, ...], target: Fn, bodies: list[Fn]) -> Fn:
    two = len(names) == 2
    first_name = names[0]
    second_name = names[1] if two else None

    def run(env: Env) -> Any:
        target_value = target(env)
        items = _iteration_items(target_value, two)
        saved = [env.vars.get(n, MISSING) for n in names]
        vars_ = env.vars
        try:
            return _loop(env, vars_, items, target_value)
        finally:
            for n, old in zip(names, saved, strict=True):
                if old is MISSING:
                    vars_.pop(n, None)
                else:
                    vars_[n] = old

    def _loop(
        env: Env, vars_: dict[str, Any], items: list[tuple[Any, Any]], target_value: Any
    ) -> Any:
        pred = bodies[0]
        if kind in ("all", "exists"):
            decisive = kind == "exists"
            # Loop condition @not_strictly_false(__result__) (exists negates it first)
            # and the step's read of __result__.
            overhead = 3 if kind == "all" else 4
            error: EvalError | None = None
            for first, second in items:
                _charge(env, overhead)
                vars_[first_name] = first
                if second_name is not None:
                    vars_[second_name] = second
                try:
                    value = pred(env)
                except EvalError as exc:
                    error = error or exc
                    continue
                if value is decisive:
                    return decisive
                if type(value) is not bool:
                    error = error or no_overload()
            if error is not None:
                raise error
            env.cost += 1  # reading the accumulator for the result
            return not decisive
        if kind == "exists_one":
            count = 0
            for first, second in items:
                _charge(env, 2)
                vars_[first_name] = first
                if second_name is not None:
                    vars_[second_name] = second
                value = pred(env)
                if value is True:
                    count += 1
                elif value is not False:
                    raise no_overload()
            env.cost += 2  # __result__ == 1
            return count == 1
        if kind == "filter":
            kept: list[Any] = []
            for first, _ in items:
                _charge(env, 1)
                vars_[first_name] = first
                value = pred(env)
                if value is True:
                    _charge(env, 12)  # __result__ + [x]: a list literal and a concatenation
                    kept.append(first)
                elif value is not False:
                    raise no_overload()
            return tuple(kept)
        if kind == "sortBy":
            # cel-go: lists.@sortByAssociatedKeys(list, list.map(e, key)); a stable sort.
            if not isinstance(target_value, (list, tuple)):
                raise no_overload()
            keys: list[Any] = []
            for first, _ in items:
                _charge(env, 12)
                vars_[first_name] = first
                keys.append(pred(env))
            _charge(env, len(keys))
            def by_key(i: int, j: int) -> int:
                return compare(keys[i], keys[j])

            order = sorted(range(len(keys)), key=functools.cmp_to_key(by_key))
            return tuple(items[i][0] for i in order)
        if kind in ("map", "transformList", "transformMap", "transformMapEntry"):
            has_filter = len(bodies) == 2
            transform = bodies[-1]
            out_list: list[Any] = []
            out_map: dict[Any, Any] = {}
            for first, second in items:
                _charge(env, 12)
                vars_[first_name] = first
                if second_name is not None:
                    vars_[second_name] = second
                if has_filter:
                    keep = pred(env)
                    if keep is False:
                        continue
                    if keep is not True:
                        raise no_overload()
                result = transform(env)
                if kind in ("map", "transformList"):
                    out_list.append(result)
                elif kind == "transformMap":
                    out_map[first] = result
                else:
                    if not isinstance(result, Mapping):
                        raise no_overload()
                    for key, val in result.items():
                        if map_get(out_map, key) is not MISSING:
                            raise EvalError(f"insert failed: key {key} already exists")
                        out_map[key] = val
            return tuple(out_list) if kind in ("map", "transformList") else out_map
        raise EvalError(f"unknown macro {kind}")

    return run


# --- read sets --------------------------------------------------------------------------------


class ReadSet(Value):
    """The device inputs an expression reads, as keys of a device's memo-key material.

    ``items`` are sorted; ``None`` from :func:`analyze` means the whole device.
    """

    __slots__ = ("items",)

    items: tuple[tuple[Any, ...], ...]

    def __init__(self, items: tuple[tuple[Any, ...], ...]) -> None:
        _set(self, "items", items)

    def _key(self) -> tuple[Any, ...]:
        return (self.items,)


def _constant_steps(node: Node) -> tuple[Ident, tuple[Any, ...]] | None:
    """Return the identifier a chain of constant selections starts from, and the keys.

    ``x.attributes["d"].m`` is ``(Ident x, ("attributes", "d", "m"))``. Optional
    selections, ``has()`` tests and computed keys end the chain: they are not paths.
    """
    steps: list[Any] = []
    current = node
    while not isinstance(current, Ident):
        if isinstance(current, Select) and not current.test_only and not current.optional:
            steps.append(current.field)
        elif (
            isinstance(current, Index)
            and not current.optional
            and isinstance(current.key, Const)
            and isinstance(current.key.value, str)
        ):
            steps.append(current.key.value)
        else:
            return None
        current = current.operand
    return current, tuple(reversed(steps))


def _bounded_device_path(path: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Return ``path`` when it names a device input (or a partial one), else None."""
    if not path:
        return path
    if path[0] in ("driver", "allowMultipleAllocations"):
        return path if len(path) == 1 else None
    if path[0] in ("attributes", "capacity"):
        return path if len(path) <= 3 else None
    return None


def _device_path(node: Node, ctx: _Ctx) -> tuple[Any, ...] | None:
    """Return the constant path below ``device`` that a node denotes, if it is one.

    ``device.attributes["d"].m`` is ``("attributes", "d", "m")``; ``device`` is ``()``.
    Optional selections and ``has()`` are not paths.
    """
    chain = _constant_steps(node)
    if chain is None:
        return None
    root, steps = chain
    if root.name != "device" or root.name in ctx.locals:
        return None
    return _bounded_device_path(steps)


class _Unknown(Exception):
    """The read set cannot be bounded more tightly than the whole device."""


def analyze(node: Node) -> ReadSet | None:
    """Find the device inputs an expression reads (``None``: the whole device).

    An expression reads a path when it uses it; a partial path (``device.attributes["d"]``)
    used other than by extending it with a constant key is read as a whole.
    """
    items: set[tuple[Any, ...]] = set()
    try:
        _Reads(items).visit(node, {})
    except _Unknown:
        return None
    return ReadSet(tuple(sorted(items, key=repr)))


class _Reads:
    def __init__(self, items: set[tuple[Any, ...]]) -> None:
        self.items = items

    def whole(self, path: tuple[Any, ...]) -> None:
        """Record that a path (full or partial) is read as a value."""
        if path == ("driver",):
            self.items.add(("d",))
        elif path == ("allowMultipleAllocations",):
            self.items.add(("m",))
        elif len(path) == 3:
            self.items.add(("a" if path[0] == "attributes" else "c", path[1], path[2]))
        elif len(path) == 2:
            self.items.add(("A" if path[0] == "attributes" else "C", path[1]))
        elif len(path) == 1:
            self.items.add(("AA",) if path[0] == "attributes" else ("CC",))
        else:
            raise _Unknown

    def path_of(
        self, node: Node, aliases: dict[str, tuple[Any, ...] | None]
    ) -> tuple[Any, ...] | None:
        """Return the device path a node denotes, following ``cel.bind`` aliases."""
        chain = _constant_steps(node)
        if chain is None:
            return None
        root, steps = chain
        if root.name in aliases:
            base = aliases[root.name]
            if base is None:
                return None
            return _bounded_device_path(base + steps)
        if root.name == "device":
            return _bounded_device_path(steps)
        return None

    def visit(self, node: Node, aliases: dict[str, tuple[Any, ...] | None]) -> None:
        path = self.path_of(node, aliases)
        if path is not None:
            self.whole(path)
            return
        if (isinstance(node, (Select, Index)) and node.optional) or (
            isinstance(node, Select) and node.test_only
        ):
            # a.?b, a[?k] and has(a.b): read the entry (present or not) below a path.
            operand = node.operand
            base = self.path_of(operand, aliases)
            key = (
                node.field
                if isinstance(node, Select)
                else (
                    node.key.value
                    if isinstance(node.key, Const) and isinstance(node.key.value, str)
                    else None
                )
            )
            if base is not None and key is not None and len(base) == 2:
                self.whole((*base, key))
                return
            if isinstance(node, Index):
                self.visit(node.key, aliases)
            self.visit(operand, aliases)
            return
        if isinstance(node, Ident):
            return  # a local variable (device itself is a path)
        if isinstance(node, Select):
            self.visit(node.operand, aliases)
            return
        if isinstance(node, Index):
            self.visit(node.operand, aliases)
            self.visit(node.key, aliases)
            return
        if isinstance(node, Call):
            if node.function == "@in" and isinstance(node.args[0], Const):
                container = self.path_of(node.args[1], aliases)
                const_key = node.args[0].value
                if container is not None and isinstance(const_key, str) and len(container) == 2:
                    self.whole((*container, const_key))
                    return
            if node.target is not None:
                self.visit(node.target, aliases)
            for arg in node.args:
                self.visit(arg, aliases)
            return
        if isinstance(node, ListLit):
            for item in node.items:
                self.visit(item, aliases)
            return
        if isinstance(node, MapLit):
            for key_node, value_node in node.entries:
                self.visit(key_node, aliases)
                self.visit(value_node, aliases)
            return
        if isinstance(node, Macro):
            inner = dict(aliases)
            if node.kind == "cel.bind":
                bound = self.path_of(node.target, aliases)
                if bound is not None and bound:
                    # The variable stands for the path; its uses decide what is read.
                    inner[node.variables[0]] = bound
                else:
                    self.visit(node.target, aliases)
                    inner[node.variables[0]] = None
            else:
                self.visit(node.target, aliases)
                for name in node.variables:
                    inner[name] = None
            for arg in node.args:
                self.visit(arg, inner)
            return
        if isinstance(node, Const):
            return
        raise _Unknown

