"""Compiled selectors: the compile cache, evaluation, and per-input memoisation."""

from __future__ import annotations

import contextlib
import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Final

from dra_core.cel._ast import CelSyntaxError, format_error, parse
from dra_core.cel._checker import check
from dra_core.cel._compiler import (
    CostLimitExceeded,
    Env,
    Fn,
    ReadSet,
    analyze,
    compile_tree,
)
from dra_core.cel._device import CelDevice, item_key
from dra_core.cel._values import EvalError, type_name
from dra_core.errors import CELCompileError, CELRuntimeError

__all__ = [
    "CEL_SELECTOR_EXPRESSION_MAX_LENGTH",
    "DEFAULT_COST_LIMIT",
    "SelectorProgram",
    "clear_compile_cache",
    "compile_selector",
    "evaluate_value",
]

DEFAULT_COST_LIMIT: Final = 1_000_000  # resourceapi.CELSelectorExpressionMaxCost
# resource.k8s.io/v1 CELSelectorExpressionMaxLength: the API rejects longer selectors
# (in bytes of UTF-8, Go's len), and so does compile_selector. Within it, any
# expression compiles in tens of milliseconds (docs/cel.md, benchmarks/bench_cel_compile.py).
CEL_SELECTOR_EXPRESSION_MAX_LENGTH: Final = 10 * 1024
TOO_LONG_MESSAGE: Final = (
    f"CEL compile error: Too long: may not be more than {CEL_SELECTOR_EXPRESSION_MAX_LENGTH} bytes"
)
COMPILE_CACHE_SIZE: Final = 4096
MEMO_LIMIT: Final = 65536

# Appended to "no such key" errors: how to write a selector that tolerates the absence.
MISSING_KEY_HINT: Final = (
    " (a device without it fails the selector with this error; to tolerate that, test"
    " with has(...) first, or read it with .?{key} and .orValue(default))"
)

# Why a non-bool result cannot become a bool, in the words of each cel-go type's
# ConvertToNative (lists and maps use the generic form).
_CONVERSION_ERRORS: Final = {
    "int": "type conversion error from Int to 'bool'",
    "uint": "type conversion error from Uint to 'bool'",
    "double": "type conversion error from Double to 'bool'",
    "string": "unsupported native conversion from string to 'bool'",
    "bytes": "type conversion error from bytes to 'bool'",
    "kubernetes.Semver": "type conversion error from 'Semver' to 'bool'",
    "kubernetes.Quantity": "type conversion error from 'Quantity' to 'bool'",
}


def _runtime_message(detail: str) -> str:
    message = f"CEL runtime error: {detail}"
    if detail.startswith("no such key: "):
        key = detail[len("no such key: "):]
        message += MISSING_KEY_HINT.format(key=key if key.isidentifier() else "name")
    return message


class SelectorProgram:
    """A compiled CEL device selector.

    Build it with :func:`compile_selector`. :meth:`matches` evaluates it on a device;
    results are memoised per distinct value of the inputs the expression reads (its
    :attr:`read_set`), so thousands of identical devices cost one evaluation.

    Attributes:
        expression: the CEL text.
        cost_limit: the runtime cost limit, in CEL cost units.
        read_set: what the expression reads from a device, as memo-key items
            (``("a", domain, id)`` an attribute, ``("c", domain, id)`` a capacity,
            ``("d",)`` the driver, ``("m",)`` allowMultipleAllocations, ``("A", domain)``
            / ``("C", domain)`` a whole domain, ``("AA",)`` / ``("CC",)`` all of them);
            ``None`` when it reads the device as a whole and is evaluated per device.

    """

    __slots__ = ("_fn", "_key", "_lock", "_memo", "cost_limit", "expression", "read_set")

    def __init__(self, expression: str, fn: Fn, read_set: ReadSet | None, cost_limit: int) -> None:
        self.expression = expression
        self.cost_limit = cost_limit
        self.read_set = read_set.items if read_set is not None else None
        self._fn = fn
        self._memo: dict[Any, bool | str] = {}
        self._lock = threading.Lock()
        self._key: Callable[[Any], Any] | None
        if read_set is None:
            self._key = None
        elif not read_set.items:
            self._key = _constant_key
        else:
            self._key = operator.itemgetter(*(item_key(i) for i in read_set.items))

    # -- evaluation

    def _outcome(self, device: CelDevice) -> bool | str:
        """Evaluate: True, False, or the runtime error's message (after "CEL runtime error: ")."""
        if device.error is not None:
            return device.error
        env = Env(device, self.cost_limit)
        try:
            result = self._fn(env)
        except EvalError as exc:
            return exc.message
        except CostLimitExceeded as exc:
            return str(exc)
        except RecursionError:
            return "expression too deeply nested to evaluate"
        except Exception as exc:  # a defect here must still surface as a typed error
            return f"internal error evaluating the expression: {type(exc).__name__}: {exc}"
        if result is True or result is False:
            return result
        name = type_name(result)
        reason = _CONVERSION_ERRORS.get(name, f"type conversion error from {name} to 'bool'")
        return f"CEL result of type {name} could not be converted to bool: {reason}"

    def _raise(self, message: str, device: CelDevice) -> CELRuntimeError:
        return CELRuntimeError(
            _runtime_message(message), expression=self.expression, device=device.name
        )

    def matches(self, device: CelDevice) -> bool:
        """Whether the device satisfies the selector.

        Raises:
            dra_core.errors.CELRuntimeError: when evaluation fails ("CEL runtime error:
                no such key: model", the cost limit, a type mismatch...).

        """
        key_fn = self._key
        # A device that cannot be evaluated at all (device.error) is never memoised:
        # its memo key does not record the error, so the outcome would leak to healthy
        # devices with the same key.
        if key_fn is None or device.error is not None:
            outcome = self._outcome(device)
        else:
            key = key_fn(device._keys)
            outcome = self._memo.get(key, _NOT_FOUND)
            if outcome is _NOT_FOUND:
                outcome = self._outcome(device)
                self._remember(key, outcome)
        if outcome is True or outcome is False:
            return outcome
        raise self._raise(outcome, device)

    def matches_uncached(self, device: CelDevice) -> bool:
        """:meth:`matches` without memoisation: a plain evaluation on this device."""
        outcome = self._outcome(device)
        if outcome is True or outcome is False:
            return outcome
        raise self._raise(outcome, device)

    def actual_cost(self, device: CelDevice) -> int:
        """Evaluate without the memo and return the cost spent, in CEL cost units.

        The count stops where the evaluation stops (at an error, or just past the limit).
        Kubernetes logs the same figure as ``actualCost``.
        """
        env = Env(device, self.cost_limit)
        with contextlib.suppress(EvalError, CostLimitExceeded, RecursionError):
            self._fn(env)
        return env.cost

    def matches_many(self, devices: Iterable[CelDevice]) -> list[bool | CELRuntimeError]:
        """Evaluate on many devices; one entry per device, in order.

        Errors are returned, not raised, so that one bad device does not hide the
        results of the others: each entry is ``True``, ``False`` or the
        :class:`~dra_core.errors.CELRuntimeError` that :meth:`matches` would raise.
        """
        out: list[bool | CELRuntimeError] = []
        append = out.append
        key_fn = self._key
        lookup = self._memo.get  # the memo is cleared in place, never replaced
        not_found = _NOT_FOUND
        for device in devices:
            if key_fn is None or device.error is not None:
                outcome = self._outcome(device)
            else:
                key = key_fn(device._keys)
                outcome = lookup(key, not_found)
                if outcome is not_found:
                    outcome = self._outcome(device)
                    self._remember(key, outcome)
            if outcome is True or outcome is False:
                append(outcome)
            else:
                append(self._raise(outcome, device))
        return out

    def _remember(self, key: Any, outcome: bool | str) -> None:
        # The memo is bounded: when it is full it starts again (simple, and cheap
        # compared with the evaluations it saves).
        with self._lock:
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = outcome

    def clear_memo(self) -> None:
        """Forget memoised results (they never go stale; this only frees memory)."""
        with self._lock:
            self._memo.clear()

    def __repr__(self) -> str:
        return f"SelectorProgram({self.expression!r})"


def _constant_key(_keys: Any) -> Any:
    return ()


_NOT_FOUND: Final[Any] = object()


def too_long(expression: str) -> bool:
    """Whether an expression is over the API's limit (10 KiB of UTF-8, as Go's ``len``)."""
    chars = len(expression)
    if chars > CEL_SELECTOR_EXPRESSION_MAX_LENGTH:
        return True
    if chars * 4 <= CEL_SELECTOR_EXPRESSION_MAX_LENGTH:  # at most 4 bytes a character
        return False
    return len(expression.encode("utf-8", "surrogatepass")) > CEL_SELECTOR_EXPRESSION_MAX_LENGTH


def _compile(expression: str, cost_limit: int) -> SelectorProgram:
    try:
        tree = parse(expression)
        result_type = check(tree)
    except CelSyntaxError as exc:
        detail = format_error(expression, exc.message, exc.line, exc.column)
        raise CELCompileError(
            f"CEL compile error: compilation failed: {detail}", expression=expression
        ) from None
    if result_type.name not in ("bool", "dyn", "any"):
        raise CELCompileError(
            f"CEL compile error: must evaluate to bool or the unknown type, not {result_type}",
            expression=expression,
        )
    try:
        fn = compile_tree(tree)
    except CelSyntaxError as exc:
        detail = format_error(expression, exc.message, exc.line, exc.column)
        raise CELCompileError(
            f"CEL compile error: compilation failed: {detail}", expression=expression
        ) from None
    return SelectorProgram(expression, fn, analyze(tree), cost_limit)


_cache: OrderedDict[tuple[str, int], SelectorProgram | CELCompileError] = OrderedDict()
_cache_lock = threading.Lock()


def compile_selector(expression: str, *, cost_limit: int = DEFAULT_COST_LIMIT) -> SelectorProgram:
    """Compile a CEL device selector, or take it from the compile cache.

    The environment is Kubernetes' DRA one with every CEL feature available (as the
    allocator compiles selectors, whatever the feature gates say). Programs and compile
    errors are kept in a bounded LRU cache keyed by expression and cost limit.

    Raises:
        dra_core.errors.CELCompileError: "CEL compile error: compilation failed: ..." for
            text that is not valid CEL, references something undeclared or calls a
            function with argument types it does not accept; "CEL compile error: must
            evaluate to bool or the unknown type, not int" for a non-boolean selector;
            "CEL compile error: Too long: may not be more than 10240 bytes" for an
            expression over the API's size limit (never compiled, nor cached).

    """
    if too_long(expression):
        raise CELCompileError(TOO_LONG_MESSAGE, expression=expression)
    key = (expression, cost_limit)
    # A hit needs no lock: OrderedDict's get and move_to_end are each atomic under the
    # GIL, and a concurrent eviction only makes move_to_end miss (harmless).
    found = _cache.get(key)
    if found is not None:
        try:  # noqa: SIM105 - contextlib.suppress costs more than the lookup it guards
            _cache.move_to_end(key)
        except KeyError:  # evicted by another thread since the get: nothing to refresh
            pass
    else:
        try:
            found = _compile(expression, cost_limit)
        except CELCompileError as exc:
            found = exc
        except RecursionError:
            found = CELCompileError(
                "CEL compile error: compilation failed: expression recursion limit exceeded",
                expression=expression,
            )
        except Exception as exc:  # a defect here must still surface as a typed error
            found = CELCompileError(
                f"CEL compile error: internal error: {type(exc).__name__}: {exc}",
                expression=expression,
            )
        with _cache_lock:
            # Another thread may have compiled the same expression meanwhile: keep one.
            found = _cache.setdefault(key, found)
            if len(_cache) > COMPILE_CACHE_SIZE:
                _cache.popitem(last=False)
    if isinstance(found, CELCompileError):
        raise CELCompileError(str(found), expression=expression)
    return found


def clear_compile_cache() -> None:
    """Empty the compile cache."""
    with _cache_lock:
        _cache.clear()


def evaluate_value(
    expression: str, device: CelDevice | None = None, *, cost_limit: int = DEFAULT_COST_LIMIT
) -> Any:
    """Evaluate any CEL expression in the DRA environment and return its raw value.

    For tests and debugging: unlike :func:`compile_selector` the result need not be a
    bool, and nothing is cached or memoised.

    Raises:
        dra_core.errors.CELCompileError: as :func:`compile_selector` does.
        dra_core.errors.CELRuntimeError: when evaluation fails.

    """
    try:
        tree = parse(expression)
        check(tree)
        fn = compile_tree(tree)
    except CelSyntaxError as exc:
        detail = format_error(expression, exc.message, exc.line, exc.column)
        raise CELCompileError(
            f"CEL compile error: compilation failed: {detail}", expression=expression
        ) from None
    target = device if device is not None else CelDevice(driver="")
    env = Env(target, cost_limit)
    try:
        return fn(env)
    except (EvalError, CostLimitExceeded) as exc:
        detail = exc.message if isinstance(exc, EvalError) else str(exc)
        raise CELRuntimeError(
            _runtime_message(detail), expression=expression, device=target.name
        ) from None
