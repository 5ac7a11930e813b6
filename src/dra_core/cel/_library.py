"""The functions of the Kubernetes DRA CEL environment, evaluated on runtime values.

Each implementation takes its target (for member calls) and arguments as positional
values and raises :class:`EvalError` with cel-go's wording when the runtime types do not
fit ("no such overload") or the operation fails. :func:`call_cost` says what a call costs,
following cel-go's runtime cost tracker and Kubernetes' library cost estimator.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

from dra_core.cel._net import CIDR, IP
from dra_core.cel._net import FUNCTIONS as NET_FUNCTIONS
from dra_core.cel._net import to_string as net_to_string
from dra_core.cel._regex import compile_regex
from dra_core.cel._time import (
    Duration,
    Timestamp,
    duration_part,
    format_duration,
    format_timestamp,
    parse_duration,
    parse_timestamp,
    timestamp_part,
)
from dra_core.cel._values import (
    INT64_MAX,
    INT64_MIN,
    MISSING,
    UINT64_MAX,
    EvalError,
    Optional,
    Semver,
    TypeValue,
    UInt,
    cel_equal,
    is_quantity,
    map_get,
    parse_quantity,
    type_name,
)

__all__ = [
    "FUNCTIONS",
    "MAX_INCLUDES_LIST",
    "call_cost",
    "compare",
    "compile_regex",
    "no_overload",
]

MAX_INCLUDES_LIST: Final = 48  # resourceapi.ResourceSliceMaxAttributeValuesPerDevice
STRING_TRAVERSAL_COST: Final = 0.1
REGEX_LENGTH_COST: Final = 0.25


def no_overload() -> EvalError:
    """cel-go's error for a call whose runtime argument types match no overload."""
    return EvalError("no such overload")


def _is_int(v: object) -> bool:
    return type(v) is int


def _is_num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_int(v: int) -> int:
    if not INT64_MIN <= v <= INT64_MAX:
        raise EvalError("integer overflow")
    return v


def _check_uint(v: int) -> UInt:
    if not 0 <= v <= UINT64_MAX:
        raise EvalError("unsigned integer overflow")
    return UInt(v)


def _str(v: object) -> str:
    if type(v) is not str:
        raise no_overload()
    return v


def _int(v: object) -> int:
    if type(v) is not int:
        raise no_overload()
    return v


def _list(v: object) -> list[Any] | tuple[Any, ...]:
    if not isinstance(v, (list, tuple)):
        raise no_overload()
    return v


# --- arithmetic and comparison --------------------------------------------------------------


def add(a: Any, b: Any) -> Any:
    """``_+_``."""
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _check_int(a + b)
    if ta is str and tb is str:
        return a + b
    if ta is float and tb is float:
        return a + b
    if ta is UInt and tb is UInt:
        return _check_uint(a + b)
    if ta is bytes and tb is bytes:
        return a + b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return (*a, *b)
    if ta is Duration and tb is Duration:
        return Duration(a.ns + b.ns)
    if ta is Timestamp and tb is Duration:
        return Timestamp(a.ns + b.ns)
    if ta is Duration and tb is Timestamp:
        return Timestamp(a.ns + b.ns)
    raise no_overload()


def sub(a: Any, b: Any) -> Any:
    """``_-_``."""
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _check_int(a - b)
    if ta is float and tb is float:
        return a - b
    if ta is UInt and tb is UInt:
        return _check_uint(a - b)
    if ta is Duration and tb is Duration:
        return Duration(a.ns - b.ns)
    if ta is Timestamp and tb is Duration:
        return Timestamp(a.ns - b.ns)
    if ta is Timestamp and tb is Timestamp:
        return Duration(a.ns - b.ns)
    raise no_overload()


def mul(a: Any, b: Any) -> Any:
    """``_*_``."""
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return _check_int(a * b)
    if ta is float and tb is float:
        return a * b
    if ta is UInt and tb is UInt:
        return _check_uint(a * b)
    raise no_overload()


def div(a: Any, b: Any) -> Any:
    """``_/_``: integer division truncates toward zero, as in Go."""
    ta, tb = type(a), type(b)
    if (ta is int and tb is int) or (ta is UInt and tb is UInt):
        if b == 0:
            raise EvalError("division by zero")
        q = abs(a) // abs(b)
        q = q if (a >= 0) == (b >= 0) else -q
        return _check_int(q) if ta is int else UInt(q)
    if ta is float and tb is float:
        if b == 0.0:
            if a == 0.0 or math.isnan(a):
                return math.nan
            return math.copysign(math.inf, a) * math.copysign(1.0, b)
        return a / b
    raise no_overload()


def mod(a: Any, b: Any) -> Any:
    """``_%_``: the remainder takes the sign of the dividend, as in Go."""
    ta, tb = type(a), type(b)
    if (ta is int and tb is int) or (ta is UInt and tb is UInt):
        if b == 0:
            raise EvalError("modulus by zero")
        r = abs(a) % abs(b)
        r = r if a >= 0 else -r
        return r if ta is int else UInt(r)
    raise no_overload()


def neg(a: Any) -> Any:
    """``-_``."""
    if type(a) is int:
        return _check_int(-a)
    if type(a) is float:
        return -a
    raise no_overload()


def not_(a: Any) -> Any:
    """``!_``."""
    if type(a) is bool:
        return not a
    raise no_overload()


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 for ``_<_`` and friends; numbers compare across int, uint and double.

    Raises:
        EvalError: "no such overload" for values of types that cannot be ordered together.

    """
    ta, tb = type(a), type(b)
    if ta is tb and ta in (Duration, Timestamp):
        return int(a.ns > b.ns) - int(a.ns < b.ns)
    if (ta is tb and ta in (int, str, float, bytes, bool, UInt)) or (_is_num(a) and _is_num(b)):
        if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
            raise EvalError("NaN values cannot be ordered")
        return int(a > b) - int(a < b)
    raise no_overload()


def _lt(a: Any, b: Any) -> bool:
    if _nan(a, b):
        return False
    return compare(a, b) < 0


def _le(a: Any, b: Any) -> bool:
    if _nan(a, b):
        return False
    return compare(a, b) <= 0


def _gt(a: Any, b: Any) -> bool:
    if _nan(a, b):
        return False
    return compare(a, b) > 0


def _ge(a: Any, b: Any) -> bool:
    if _nan(a, b):
        return False
    return compare(a, b) >= 0


def _nan(a: Any, b: Any) -> bool:
    return (isinstance(a, float) and math.isnan(a) and _is_num(b)) or (
        isinstance(b, float) and math.isnan(b) and _is_num(a)
    )


def eq(a: Any, b: Any) -> bool:
    """``_==_``."""
    return cel_equal(a, b)


def ne(a: Any, b: Any) -> bool:
    """``_!=_``."""
    return not cel_equal(a, b)


def in_(item: Any, container: Any) -> bool:
    """``@in`` on lists (by equality) and maps (by key)."""
    if isinstance(container, (list, tuple)):
        # As cel-go's list Contains: a match wins; otherwise the first comparison
        # error (a semantic version compared with a string) is the result.
        error: EvalError | None = None
        for element in container:
            try:
                if cel_equal(element, item):
                    return True
            except EvalError as exc:
                error = error or exc
        if error is not None:
            raise error
        return False
    if isinstance(container, Mapping):
        if not isinstance(item, (str, int, float, bool)) or isinstance(item, bytes):
            raise no_overload()
        return map_get(container, item) is not MISSING
    raise no_overload()


def size(v: Any) -> int:
    """``size``: code points of a string, bytes, list elements or map entries."""
    if isinstance(v, (str, bytes, list, tuple, Mapping)):
        return len(v)
    raise no_overload()


# --- conversions ---------------------------------------------------------------------------------


def to_int(v: Any) -> int:
    """``int()``."""
    t = type(v)
    if t is int:
        return int(v)
    if t is UInt:
        return _check_int(int(v))
    if t is Timestamp:
        return int(v.ns // 1_000_000_000)
    if t is float:
        # cel-go truncates toward zero and refuses both int64 bounds themselves.
        if math.isnan(v) or math.isinf(v) or not -(2.0**63) < v < 2.0**63:
            raise EvalError("integer overflow")
        return int(v)
    if t is str:
        if not re.fullmatch(r"[+-]?[0-9]+", v):  # ASCII digits only, as Go's ParseInt
            raise EvalError(f'strconv.ParseInt: parsing "{v}": invalid syntax')
        # More than 19 significant digits is out of range; int() would refuse texts of
        # more than 4300 digits (ValueError) and take quadratic time on long ones.
        digits = v.lstrip("+-").lstrip("0") or "0"
        parsed = int(digits) if len(digits) <= 19 else INT64_MAX + 1
        if v.startswith("-"):
            parsed = -parsed
        if not INT64_MIN <= parsed <= INT64_MAX:
            raise EvalError(f'strconv.ParseInt: parsing "{v}": value out of range')
        return parsed
    raise no_overload()


def to_uint(v: Any) -> UInt:
    """``uint()``."""
    t = type(v)
    if t is UInt:
        return UInt(v)
    if t is int:
        return _check_uint(v)
    if t is float:
        if math.isnan(v) or not 0 <= v < 2.0**64:
            raise EvalError("unsigned integer overflow")
        return UInt(int(v))
    if t is str:
        digits = v.lstrip("0") or "0"
        if (
            not re.fullmatch(r"[0-9]+", v)  # ASCII digits, no sign: Go's ParseUint
            or len(digits) > 20  # out of range, and too long for int()
            or int(digits) > UINT64_MAX
        ):
            raise EvalError(f'strconv.ParseUint: parsing "{v}": invalid syntax')
        return UInt(int(digits))
    raise no_overload()


def to_double(v: Any) -> float:
    """``double()``."""
    t = type(v)
    if t is float:
        return float(v)
    if t is int or t is UInt:
        return float(v)
    if t is str:
        text = v.strip().lower()
        try:
            if text in ("inf", "+inf", "infinity", "+infinity", "-inf", "-infinity", "nan"):
                return float(text)
            # Unambiguous (linear) form of Go's float syntax: "\d+\.?\d*" would backtrack
            # quadratically on a long run of digits that does not parse.
            if not re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(e[+-]?[0-9]+)?", v.lower()):
                raise ValueError
            return float(v)
        except ValueError:
            raise EvalError(f'strconv.ParseFloat: parsing "{v}": invalid syntax') from None
    raise no_overload()


def format_double(d: float) -> str:
    """Go's ``strconv.FormatFloat(d, 'g', -1, 64)``."""
    if math.isnan(d):
        return "NaN"
    if math.isinf(d):
        return "+Inf" if d > 0 else "-Inf"
    if d == 0:
        return "-0" if math.copysign(1.0, d) < 0 else "0"
    sign, digits, exponent = Decimal(repr(d)).normalize().as_tuple()
    text = "".join(str(x) for x in digits)
    exp = len(text) + int(exponent) - 1  # decimal exponent of the first digit
    prefix = "-" if sign else ""
    # Go decides between %e and %f with precision 6 when printing the shortest form.
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{prefix}0.{'0' * (-exp - 1)}{text}"
    if exp + 1 >= len(text):
        return f"{prefix}{text}{'0' * (exp + 1 - len(text))}"
    return f"{prefix}{text[: exp + 1]}.{text[exp + 1 :]}"


def to_string(v: Any) -> str:
    """Convert with ``string()``."""
    t = type(v)
    if t is str:
        return str(v)
    if t is bool:
        return "true" if v else "false"
    if t is int or t is UInt:
        return str(int(v))
    if t is float:
        return format_double(v)
    if t is IP or t is CIDR:
        return net_to_string(v)
    if t is Duration:
        return format_duration(v)
    if t is Timestamp:
        return format_timestamp(v)
    if t is bytes:
        try:
            return str(v.decode("utf-8"))
        except UnicodeDecodeError:
            raise EvalError("invalid UTF-8 in bytes, cannot convert to string") from None
    raise no_overload()


def to_bytes(v: Any) -> bytes:
    """``bytes()``."""
    if type(v) is bytes:
        return v
    if type(v) is str:
        return v.encode("utf-8")
    raise no_overload()


_BOOL_TEXT: Final = {
    "1": True,
    "t": True,
    "T": True,
    "true": True,
    "TRUE": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "false": False,
    "FALSE": False,
    "False": False,
}


def to_bool(v: Any) -> bool:
    """``bool()``."""
    if type(v) is bool:
        return v
    if type(v) is str:
        if v in _BOOL_TEXT:
            return _BOOL_TEXT[v]
        raise EvalError(f'strconv.ParseBool: parsing "{v}": invalid syntax')
    raise no_overload()


def to_dyn(v: Any) -> Any:
    """``dyn()``: the value itself."""
    return v


def type_of(v: Any) -> TypeValue:
    """``type()``."""
    return TypeValue(type_name(v))


def to_duration(v: Any) -> Duration:
    """``duration()``: Go's duration syntax (``"1h30m"``)."""
    if type(v) is Duration:
        return v
    return parse_duration(_str(v))


def to_timestamp(v: Any) -> Timestamp:
    """``timestamp()``: RFC 3339 text, or seconds since the Unix epoch."""
    if type(v) is Timestamp:
        return v
    if type(v) is int:
        return Timestamp(v * 1_000_000_000)
    return parse_timestamp(_str(v))


def _time_getter(name: str) -> Callable[..., int]:
    def getter(v: Any, zone: Any = None) -> int:
        if isinstance(v, Timestamp):
            return timestamp_part(name, v, zone)
        if isinstance(v, Duration) and zone is None:
            return duration_part(name, v)
        raise no_overload()

    return getter


TIME_GETTERS: Final = (
    "getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek",
    "getHours", "getMinutes", "getSeconds", "getMilliseconds",
)


# --- strings (cel-go ext strings v2 and the standard functions) ---------------------------------


def contains(s: Any, sub_: Any) -> bool:
    """``string.contains``."""
    return _str(sub_) in _str(s)


def starts_with(s: Any, prefix: Any) -> bool:
    """``string.startsWith``."""
    return _str(s).startswith(_str(prefix))


def ends_with(s: Any, suffix: Any) -> bool:
    """``string.endsWith``."""
    return _str(s).endswith(_str(suffix))


def matches(s: Any, pattern: Any) -> bool:
    """Test ``matches``: a partial (search) match, as Go's ``regexp.MatchString``."""
    return compile_regex(_str(pattern)).matches(_str(s))


def find(s: Any, pattern: Any) -> str:
    """``find``: the first match, or ``""``."""
    try:
        regex = compile_regex(_str(pattern))
    except EvalError as exc:
        raise EvalError(f"Illegal regex: {exc.message}") from None
    return regex.find(_str(s))


def find_all(s: Any, pattern: Any, limit: Any = -1) -> tuple[str, ...]:
    """``findAll``: every match, at most ``limit`` of them when ``limit`` >= 0."""
    try:
        regex = compile_regex(_str(pattern))
    except EvalError as exc:
        raise EvalError(f"Illegal regex: {exc.message}") from None
    return regex.find_all(_str(s), _int(limit))


def char_at(s: Any, i: Any) -> str:
    """``charAt``: the code point at an index; the length gives ``""``."""
    text, index = _str(s), _int(i)
    if index < 0 or index > len(text):
        raise EvalError(f"index out of range: {index}")
    return text[index : index + 1]


def index_of(s: Any, sub_: Any, offset: Any = 0) -> int:
    """``indexOf`` on strings (code point indexes) and lists."""
    if isinstance(s, (list, tuple)):
        for position, element in enumerate(s):
            if _safe_equal(element, sub_):
                return position
        return -1
    text, needle, start = _str(s), _str(sub_), _int(offset)
    if start < 0 or start > len(text):
        raise EvalError(f"index out of range: {start}")
    return text.find(needle, start)


def last_index_of(s: Any, sub_: Any, offset: Any = None) -> int:
    """``lastIndexOf`` on strings (code point indexes) and lists."""
    if isinstance(s, (list, tuple)):
        for position in range(len(s) - 1, -1, -1):
            if _safe_equal(s[position], sub_):
                return position
        return -1
    text, needle = _str(s), _str(sub_)
    if offset is None:
        return text.rfind(needle)
    end = _int(offset)
    if end < 0 or end > len(text):
        raise EvalError(f"index out of range: {end}")
    return text.rfind(needle, 0, end + len(needle))


def _safe_equal(a: Any, b: Any) -> bool:
    try:
        return cel_equal(a, b)
    except EvalError:
        return False


def lower_ascii(s: Any) -> str:
    """``lowerAscii``: only ASCII letters change."""
    return _str(s).translate(_LOWER)


def upper_ascii(s: Any) -> str:
    """``upperAscii``: only ASCII letters change."""
    return _str(s).translate(_UPPER)


_LOWER: Final = {ord(c): ord(c.lower()) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_UPPER: Final = {ord(c): ord(c.upper()) for c in "abcdefghijklmnopqrstuvwxyz"}


def replace(s: Any, old: Any, new: Any, n: Any = -1) -> str:
    """``replace``: at most ``n`` replacements when ``n`` >= 0."""
    text, before, after, count = _str(s), _str(old), _str(new), _int(n)
    if count == 0:
        return text
    if before == "":
        # Go inserts the replacement before every code point and at the end.
        pieces = list(text)
        limit = len(pieces) + 1 if count < 0 else count
        out: list[str] = []
        for i in range(len(pieces) + 1):
            if i < limit:
                out.append(after)
            if i < len(pieces):
                out.append(pieces[i])
        return "".join(out)
    return text.replace(before, after, count if count > 0 else -1)


def split(s: Any, sep: Any, n: Any = -1) -> tuple[str, ...]:
    """``split``: Go's ``strings.SplitN``."""
    text, separator, count = _str(s), _str(sep), _int(n)
    if count == 0:
        return ()
    if separator == "":
        parts = list(text)
        if count > 0 and len(parts) > count:
            parts = [*parts[: count - 1], "".join(parts[count - 1 :])]
        return tuple(parts)
    if count < 0:
        return tuple(text.split(separator))
    return tuple(text.split(separator, count - 1))


def substring(s: Any, start: Any, end: Any = None) -> str:
    """``substring`` by code points."""
    text, begin = _str(s), _int(start)
    stop = len(text) if end is None else _int(end)
    if begin < 0 or begin > len(text):
        raise EvalError(f"index out of range: {begin}")
    if stop < 0 or stop > len(text):
        raise EvalError(f"index out of range: {stop}")
    if begin > stop:
        raise EvalError(f"invalid substring range. start: {begin}, end: {stop}")
    return text[begin:stop]


_GO_SPACE: Final = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def trim(s: Any) -> str:
    """``trim``: leading and trailing Unicode white space."""
    return _str(s).strip(_GO_SPACE)


def join(items: Any, sep: Any = "") -> str:
    """``join`` a list of strings."""
    separator = _str(sep)
    values = _list(items)
    for v in values:
        _str(v)
    return separator.join(values)


def quote(s: Any) -> str:
    """``strings.quote``."""
    text = _str(s)
    escapes = {
        "\a": "\\a",
        "\b": "\\b",
        "\f": "\\f",
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        "\v": "\\v",
        "\\": "\\\\",
        '"': '\\"',
    }
    return '"' + "".join(escapes.get(c, c) for c in text) + '"'


# --- lists and sets ---------------------------------------------------------------------------


def is_sorted(items: Any) -> bool:
    """``isSorted``."""
    values = _list(items)
    return all(compare(values[i], values[i + 1]) <= 0 for i in range(len(values) - 1))


def sum_(items: Any) -> Any:
    """``sum``; an empty list sums to int 0."""
    values = _list(items)
    if not values:
        return 0
    total = values[0]
    if not _is_num(total):
        raise no_overload()
    for v in values[1:]:
        total = add(total, v)
    return total


def _extreme(items: Any, name: str, want: int) -> Any:
    values = _list(items)
    if not values:
        raise EvalError(f"{name} called on empty list")
    best = values[0]
    if isinstance(best, (list, tuple, Mapping)):
        raise no_overload()
    for v in values[1:]:
        if compare(v, best) == want:
            best = v
    return best


def min_(items: Any) -> Any:
    """``min`` of a list."""
    return _extreme(items, "min", -1)


def max_(items: Any) -> Any:
    """``max`` of a list."""
    return _extreme(items, "max", 1)


def slice_(items: Any, start: Any, end: Any) -> tuple[Any, ...]:
    """``slice`` (cel-go ext lists)."""
    values, begin, stop = _list(items), _int(start), _int(end)
    if begin < 0 or stop < 0:
        raise EvalError(f"cannot slice({begin}, {stop}), negative indexes not supported")
    if begin > stop:
        raise EvalError(
            f"cannot slice({begin}, {stop}), start index must be less than or equal to end index"
        )
    if stop > len(values):
        raise EvalError(f"cannot slice({begin}, {stop}), list is length {len(values)}")
    return tuple(values[begin:stop])


def flatten(items: Any, depth: Any = 1) -> tuple[Any, ...]:
    """``flatten`` nested lists, ``depth`` levels deep."""
    levels = _int(depth)
    if levels < 0:
        raise EvalError("level must be non-negative")
    out: list[Any] = []
    for v in _list(items):
        if isinstance(v, (list, tuple)) and levels > 0:
            out.extend(flatten(v, levels - 1) if levels > 1 else v)
        else:
            out.append(v)
    return tuple(out)


def distinct(items: Any) -> tuple[Any, ...]:
    """``distinct``: first occurrences, in order."""
    out: list[Any] = []
    for v in _list(items):
        if not any(_safe_equal(v, seen) for seen in out):
            out.append(v)
    return tuple(out)


def reverse(items: Any) -> tuple[Any, ...]:
    """``reverse`` a list."""
    return tuple(reversed(_list(items)))


def sort(items: Any) -> tuple[Any, ...]:
    """``sort`` a list of comparable values."""
    values = list(_list(items))
    return tuple(sorted(values, key=functools.cmp_to_key(compare)))


def first(items: Any) -> Optional:
    """``first``: an optional."""
    values = _list(items)
    return Optional(values[0]) if values else Optional()


def last(items: Any) -> Optional:
    """``last``: an optional."""
    values = _list(items)
    return Optional(values[-1]) if values else Optional()


def lists_range(n: Any) -> tuple[int, ...]:
    """``lists.range(n)``: 0 .. n-1."""
    return tuple(range(_int(n)))


def sets_contains(a: Any, b: Any) -> bool:
    """``sets.contains``: every element of ``b`` is in ``a``."""
    left, right = _list(a), _list(b)
    return all(any(_safe_equal(x, y) for x in left) for y in right)


def sets_equivalent(a: Any, b: Any) -> bool:
    """``sets.equivalent``: the same elements, ignoring order and repeats."""
    return sets_contains(a, b) and sets_contains(b, a)


def sets_intersects(a: Any, b: Any) -> bool:
    """``sets.intersects``: at least one common element."""
    left, right = _list(a), _list(b)
    return any(any(_safe_equal(x, y) for x in left) for y in right)


def includes(target: Any, arg: Any) -> bool:
    """DRA's ``includes``: list membership, or equality for a scalar."""
    if isinstance(target, (list, tuple)):
        for i, item in enumerate(target):
            if i >= MAX_INCLUDES_LIST:
                raise EvalError(
                    "'includes' function cannot be applied to lists longer than "
                    f"{MAX_INCLUDES_LIST} values"
                )
            if _safe_equal(item, arg):
                return True
        return False
    return _safe_equal(target, arg)


# --- quantities and semantic versions ----------------------------------------------------------


def _qty(v: Any) -> Any:
    if not is_quantity(v):
        raise no_overload()
    return v


def _sv(v: Any) -> Semver:
    if not isinstance(v, Semver):
        raise no_overload()
    return v


def quantity(s: Any) -> Any:
    """``quantity(string)``."""
    try:
        return parse_quantity(_str(s))
    except EvalError:
        raise
    except Exception as exc:  # the quantity parser's own error, with its message
        raise EvalError(str(exc)) from None


def is_quantity_string(s: Any) -> bool:
    """``isQuantity(string)``."""
    try:
        parse_quantity(_str(s))
    except EvalError:
        raise
    except Exception:
        return False
    return True


def sign(q: Any) -> int:
    """``sign(quantity)``."""
    return int(_qty(q).sign())


def is_greater_than(a: Any, b: Any) -> bool:
    """``isGreaterThan`` on quantities and semantic versions."""
    if isinstance(a, Semver):
        return a.compare(_sv(b)) > 0
    return bool(_qty(a).cmp(_qty(b)) > 0)


def is_less_than(a: Any, b: Any) -> bool:
    """``isLessThan`` on quantities and semantic versions."""
    if isinstance(a, Semver):
        return a.compare(_sv(b)) < 0
    return bool(_qty(a).cmp(_qty(b)) < 0)


def compare_to(a: Any, b: Any) -> int:
    """``compareTo`` on quantities and semantic versions."""
    if isinstance(a, Semver):
        return a.compare(_sv(b))
    return int(_qty(a).cmp(_qty(b)))


def as_approximate_float(q: Any) -> float:
    """``asApproximateFloat``."""
    return float(_qty(q).as_approximate_float())


def as_integer(q: Any) -> int:
    """``asInteger``."""
    value = _qty(q).as_int64()
    if value is None:
        raise EvalError("cannot convert value to integer")
    return int(value)


def is_integer(q: Any) -> bool:
    """``isInteger``."""
    return _qty(q).as_int64() is not None


def _qty_from_int(n: int) -> Any:
    return parse_quantity(str(n))


def q_add(a: Any, b: Any) -> Any:
    """``add`` on quantities (a quantity or an int)."""
    left = _qty(a)
    right = _qty_from_int(b) if type(b) is int else _qty(b)
    return left.add(right)


def q_sub(a: Any, b: Any) -> Any:
    """``sub`` on quantities (a quantity or an int)."""
    left = _qty(a)
    right = _qty_from_int(b) if type(b) is int else _qty(b)
    return left.sub(right)


def semver(s: Any, normalize: Any = False) -> Semver:
    """``semver(string[, normalize])``."""
    text = _str(s)
    if type(normalize) is not bool:
        raise no_overload()
    try:
        return Semver.parse(text, normalize=normalize)
    except ValueError as exc:
        raise EvalError(str(exc)) from None


def is_semver(s: Any, normalize: Any = False) -> bool:
    """``isSemver(string[, normalize])``."""
    text = _str(s)
    if type(normalize) is not bool:
        raise no_overload()
    try:
        Semver.parse(text, normalize=normalize)
    except ValueError:
        return False
    return True


def major(v: Any) -> int:
    """``major``."""
    return _sv(v).major


def minor(v: Any) -> int:
    """``minor``."""
    return _sv(v).minor


def patch(v: Any) -> int:
    """``patch``."""
    return _sv(v).patch


# --- optionals ------------------------------------------------------------------------------------


def _opt(v: Any) -> Optional:
    if not isinstance(v, Optional):
        raise no_overload()
    return v


def optional_of(v: Any) -> Optional:
    """``optional.of``."""
    return Optional(v)


def _is_zero(v: Any) -> bool:
    if v is None or v is False:
        return True
    if isinstance(v, (int, float, str, bytes, list, tuple, Mapping)):
        return not v
    return False


def optional_of_non_zero(v: Any) -> Optional:
    """``optional.ofNonZeroValue``."""
    return Optional() if _is_zero(v) else Optional(v)


def optional_none() -> Optional:
    """``optional.none``."""
    return Optional()


def has_value(o: Any) -> bool:
    """``hasValue``."""
    return _opt(o).has_value()


def value(o: Any) -> Any:
    """``value``."""
    opt = _opt(o)
    if not opt.has_value():
        raise EvalError("optional.none() dereference")
    return opt.value


def or_value(o: Any, default: Any) -> Any:
    """``orValue``."""
    opt = _opt(o)
    return opt.value if opt.has_value() else default


def or_(o: Any, other: Any) -> Optional:
    """``or``."""
    opt = _opt(o)
    return opt if opt.has_value() else _opt(other)


# name -> (global implementation, member implementation); None where not declared.
FUNCTIONS: Final[dict[str, tuple[Callable[..., Any] | None, Callable[..., Any] | None]]] = {
    "_+_": (add, None),
    "_-_": (sub, None),
    "_*_": (mul, None),
    "_/_": (div, None),
    "_%_": (mod, None),
    "-_": (neg, None),
    "!_": (not_, None),
    "_==_": (eq, None),
    "_!=_": (ne, None),
    "_<_": (_lt, None),
    "_<=_": (_le, None),
    "_>_": (_gt, None),
    "_>=_": (_ge, None),
    "@in": (in_, None),
    "size": (size, size),
    "int": (to_int, None),
    "uint": (to_uint, None),
    "double": (to_double, None),
    "string": (to_string, None),
    "bytes": (to_bytes, None),
    "bool": (to_bool, None),
    "dyn": (to_dyn, None),
    "type": (type_of, None),
    "contains": (None, contains),
    "startsWith": (None, starts_with),
    "endsWith": (None, ends_with),
    "matches": (matches, matches),
    "charAt": (None, char_at),
    "indexOf": (None, index_of),
    "lastIndexOf": (None, last_index_of),
    "lowerAscii": (None, lower_ascii),
    "upperAscii": (None, upper_ascii),
    "replace": (None, replace),
    "split": (None, split),
    "substring": (None, substring),
    "trim": (None, trim),
    "join": (None, join),
    "strings.quote": (quote, None),
    "isSorted": (None, is_sorted),
    "sum": (None, sum_),
    "min": (None, min_),
    "max": (None, max_),
    "slice": (None, slice_),
    "flatten": (None, flatten),
    "distinct": (None, distinct),
    "reverse": (None, reverse),
    "sort": (None, sort),
    "first": (None, first),
    "last": (None, last),
    "lists.range": (lists_range, None),
    "sets.contains": (sets_contains, None),
    "sets.equivalent": (sets_equivalent, None),
    "sets.intersects": (sets_intersects, None),
    "find": (None, find),
    "findAll": (None, find_all),
    "quantity": (quantity, None),
    "isQuantity": (is_quantity_string, None),
    "sign": (sign, None),
    "isGreaterThan": (None, is_greater_than),
    "isLessThan": (None, is_less_than),
    "compareTo": (None, compare_to),
    "asApproximateFloat": (None, as_approximate_float),
    "asInteger": (None, as_integer),
    "isInteger": (None, is_integer),
    "add": (None, q_add),
    "sub": (None, q_sub),
    "semver": (semver, None),
    "isSemver": (is_semver, None),
    "major": (None, major),
    "minor": (None, minor),
    "patch": (None, patch),
    "optional.of": (optional_of, None),
    "optional.ofNonZeroValue": (optional_of_non_zero, None),
    "optional.none": (optional_none, None),
    "hasValue": (None, has_value),
    "value": (None, value),
    "orValue": (None, or_value),
    "or": (None, or_),
    "includes": (None, includes),
    "duration": (to_duration, None),
    "timestamp": (to_timestamp, None),
    **{name: (None, _time_getter(name)) for name in TIME_GETTERS},
    **NET_FUNCTIONS,
}


# --- cost ---------------------------------------------------------------------------------------


def _size(v: Any) -> int:
    if isinstance(v, (str, bytes, list, tuple, Mapping)):
        return len(v)
    return 1


def _traverse(n: float) -> int:
    return math.ceil(n * STRING_TRAVERSAL_COST)


# The cost of a call, as cel-go's runtime cost tracker and Kubernetes' library cost
# estimator count it, computed from the arguments before the call runs: functions whose
# output can be much larger than their input (replace, join, lists.range, +) are charged
# for the output they are about to build, so that the limit stops them before they
# allocate it. Calls that neither function knows cost 1.
_COMPARISONS: Final = frozenset({"_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_"})
_LIST_TRAVERSALS: Final = frozenset(
    {
        "isSorted",
        "sum",
        "max",
        "min",
        "indexOf",
        "lastIndexOf",
        "distinct",
        "reverse",
        "sort",
        "flatten",
        "first",
        "last",
        "slice",
    }
)
_STRING_TRAVERSALS: Final = frozenset(
    {
        "lowerAscii",
        "upperAscii",
        "substring",
        "trim",
        "quantity",
        "isQuantity",
        "semver",
        "isSemver",
        "strings.quote",
        "charAt",
    }
)


def _traversal(v: Any) -> int:
    if isinstance(v, (str, bytes)):
        return _traverse(len(v))
    return _size(v)


def call_cost(name: str, args: tuple[Any, ...]) -> int:
    """Return the runtime cost of one call, in CEL cost units."""
    if name in _COMPARISONS:
        left, right = args
        if is_quantity(left) or isinstance(left, Semver):
            return 1
        return _traverse(min(_size(left), _size(right)))
    if name == "_+_":
        left, right = args
        if isinstance(left, (str, bytes)):
            return _traverse(_size(left) + _size(right))
        if isinstance(left, (list, tuple)):
            return 1 + _traverse(_size(left) + _size(right))
        return 1
    if name == "@in":
        container = args[1]
        return _size(container) if isinstance(container, (list, tuple)) else 1
    if name in ("startsWith", "endsWith"):
        return _traverse(_size(args[1]))
    if name == "contains":
        return _traverse(_size(args[0])) * _traverse(_size(args[1]))
    if name in ("matches", "find", "findAll"):
        text_cost = math.ceil((1.0 + _size(args[-2])) * STRING_TRAVERSAL_COST)
        regex_cost = math.ceil(
            _size(args[-1] if name != "findAll" else args[1]) * REGEX_LENGTH_COST
        )
        return text_cost * regex_cost
    if name in _LIST_TRAVERSALS:
        return _traversal(args[0])
    if name in _STRING_TRAVERSALS:
        return _traverse(_size(args[0]))
    if name in ("ip", "cidr", "isIP", "isCIDR"):
        return _traverse(len(args[0])) if isinstance(args[0], str) else 1
    if name == "ip.isCanonical":
        return _traverse(_size(args[0]) * 2)
    if name in ("sets.contains", "sets.equivalent", "sets.intersects"):
        return 1 + _size(args[0]) * _size(args[1])
    if name == "split":
        return _traverse(_size(args[0]) * 2)
    if name == "replace":
        text, old, new = args[0], args[1], args[2]
        if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
            hits = len(text) + 1 if old == "" else text.count(old)
            grown = len(text) + hits * max(0, len(new) - len(old))
            return _traverse(_size(text) * 2 + grown)
        return 1
    if name == "join":
        items = args[0]
        if isinstance(items, (list, tuple)):
            separator = args[1] if len(args) > 1 else ""
            total = sum(len(v) for v in items if isinstance(v, str))
            total += len(separator) * max(0, len(items) - 1) if isinstance(separator, str) else 0
            return _traverse(total * 2)
        return 1
    if name == "lists.range":
        n = args[0]
        return 1 + (n if type(n) is int and n > 0 else 0)
    return 1
