"""Kubernetes resource quantities, exactly as ``k8s.io/apimachinery`` handles them.

A :class:`Quantity` is an exact decimal number with a preferred output format:

- ``DecimalSI``: ``500m``, ``1k``, ``12G`` (powers of 1000);
- ``BinarySI``: ``1Ki``, ``1536Mi`` (powers of 1024);
- ``DecimalExponent``: ``1e3``, ``15e-1``.

Parsing follows Go's ``resource.ParseQuantity`` step by step: the same grammar (including
its oddities, such as ``"."``, ``"+"`` and a bare ``"Mi"`` meaning zero), the same
rejections, magnitudes rounded *up* to a multiple of ``1n`` (10⁻⁹), and ``BinarySI``
values capped at the largest int64. ``str(q)`` is Go's ``String()``: when the fast path of
the Go parser kept the input text, that text; otherwise the canonical form.

Arithmetic and comparison are exact (Python integers). Nothing uses floats except
:meth:`Quantity.as_approximate_float`, which reproduces Go's ``AsApproximateFloat64``.

Worked example::

    >>> str(Quantity.parse("1.5Gi")), str(Quantity.parse("0.5")), str(Quantity.parse("1000m"))
    ('1536Mi', '500m', '1')

Two deliberate differences from Go, where Go prints a wrong value (see ``docs/api.md``):
a ``DecimalSI`` value of 10²¹ or more prints with the ``E`` suffix (Go drops the suffix, so
``1000E`` prints as ``1``), and a ``BinarySI`` value of 1024⁷ or more prints with ``Ei``.

One deliberate limit: a magnitude of 10¹⁰⁰⁰ or more (``"1e999999999"``, a thousand-digit
integer) is rejected with ``quantity too large``, where Go parses it. Go keeps such a value as
a small mantissa and a huge exponent, and then expands the power of ten in ``Cmp``, ``Add`` and
rounding (minutes of CPU time, gigabytes); dra-core's exact value would do the same, so one
hostile capacity could stall the allocator. Everything below the limit costs microseconds.
(``BinarySI`` values are capped at the largest int64 before that, as in Go, and tiny values
round up to ``1n`` whatever their exponent.)
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, ClassVar, Final, Literal

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from dra_core.errors import QuantityError

__all__ = [
    "BINARY_SI",
    "DECIMAL_EXPONENT",
    "DECIMAL_SI",
    "MAX_MAGNITUDE_DIGITS",
    "Quantity",
    "QuantityFormat",
]

QuantityFormat = Literal["DecimalSI", "BinarySI", "DecimalExponent"]
DECIMAL_SI: Final = "DecimalSI"
BINARY_SI: Final = "BinarySI"
DECIMAL_EXPONENT: Final = "DecimalExponent"
_FORMATS: Final = frozenset((DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT))

_SPLIT_RE: Final = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_ERR_FORMAT: Final = f"quantities must match the regular expression '{_SPLIT_RE}'"
_ERR_NUMERIC: Final = "unable to parse numeric part of quantity"
_ERR_SUFFIX: Final = "unable to parse quantity's suffix"

MAX_MAGNITUDE_DIGITS: Final = 1000
"""A quantity's absolute value must be below ``10**MAX_MAGNITUDE_DIGITS`` (see the module)."""
_TOO_LARGE: Final = 10**MAX_MAGNITUDE_DIGITS
_ERR_TOO_LARGE: Final = (
    f"quantity too large: its magnitude must be below 10^{MAX_MAGNITUDE_DIGITS} (dra-core's "
    "limit, so that arithmetic on it stays cheap; Kubernetes parses larger values but cannot "
    "compute with them in reasonable time)"
)

_MAX_INT64: Final = (1 << 63) - 1
_MIN_INT64: Final = -(1 << 63)
_SUFFIX_CHARS: Final = frozenset("eEinumkKMGTP")
_DIGITS: Final = frozenset("0123456789")

# suffix -> (base, exponent)
_DECIMAL_SUFFIXES: Final[dict[str, int]] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES: Final[dict[str, int]] = {
    "Ki": 10,
    "Mi": 20,
    "Gi": 30,
    "Ti": 40,
    "Pi": 50,
    "Ei": 60,
}
_DECIMAL_BY_EXPONENT: Final = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_POWER: Final = {e // 10: s for s, e in _BINARY_SUFFIXES.items()} | {0: ""}

# Go's math.Pow10 tables, so that as_approximate_float rounds exactly as Go does.
_POW10_TAB: Final = tuple(float(10**i) for i in range(32))
_POW10_POS32: Final = tuple(float(10 ** (32 * i)) for i in range(10))
_POW10_NEG32: Final = (
    1.0,
    1e-32,
    1e-64,
    1e-96,
    1e-128,
    1e-160,
    1e-192,
    1e-224,
    1e-256,
    1e-288,
    1e-320,
)


def _go_pow10(n: int) -> float:
    """Go's ``math.Pow10``."""
    if 0 <= n <= 308:
        return _POW10_POS32[n // 32] * _POW10_TAB[n % 32]
    if -323 <= n <= 0:
        return _POW10_NEG32[-n // 32] / _POW10_TAB[-n % 32]
    return math.inf if n > 0 else 0.0


def _i32(value: int) -> int:
    """Wrap an integer to int32, as Go's ``int32(x)`` conversion does."""
    return ((value + (1 << 31)) % (1 << 32)) - (1 << 31)


def _strip10(m: int, e: int) -> tuple[int, int]:
    """Remove trailing decimal zeros from ``m`` (``m`` must not be zero)."""
    while m % 10 == 0:
        m //= 10
        e += 1
    return m, e


def _magnitude(m: int, e: int) -> int:
    """Return the position of the leading digit of ``|m| * 10**e`` (``m`` non-zero)."""
    return len(str(abs(m))) + e


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """Go's ``parseQuantityString``: (positive, value, num, denom, suffix)."""
    positive = True
    pos = 0
    end = len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] == "+"
        pos += 1
    # leading zeros
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos]
    if pos >= end:
        return positive, text, num, "", ""
    if not num:
        num = "0"
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(_ERR_FORMAT, text=text)
    return positive, value, num, denom, text[suffix_start:]


def _parse_go_int64(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 10, 64)``; None on error."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or any(c not in _DIGITS for c in body):
        return None
    body = body.lstrip("0")
    if len(body) > 19:
        return None  # out of range, and int() of a very long text is refused or slow
    value = int(body or "0") * (-1 if text[0] == "-" else 1)
    return value if _MIN_INT64 <= value <= _MAX_INT64 else None


def _interpret(suffix: str) -> tuple[int, int, str] | None:
    """Go's suffix interpretation: (base, exponent, format), or None."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        parsed = _parse_go_int64(suffix[1:])
        if parsed is None:
            return None
        return 10, _i32(parsed), DECIMAL_EXPONENT
    return None


def _p10(n: int) -> int:
    """Return ``10**n`` for ``n >= 0`` (typed, unlike ``int.__pow__``)."""
    result: int = 10**n
    return result


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


class Quantity:
    """An exact Kubernetes resource quantity (immutable, hashable, ordered by value).

    Build one with :meth:`parse` or :meth:`from_int`. Equality, ordering and hashing
    use the exact numeric value only: ``Quantity.parse("1Ki") == Quantity.parse("1024")``.

    Attributes:
        format: ``"DecimalSI"``, ``"BinarySI"`` or ``"DecimalExponent"``.
        original: the text the quantity was parsed from, or None.

    """

    __slots__ = ("_e", "_format", "_m", "_norm", "_original", "_raw", "_s", "_value")

    DECIMAL_SI: ClassVar[str] = DECIMAL_SI
    BINARY_SI: ClassVar[str] = BINARY_SI
    DECIMAL_EXPONENT: ClassVar[str] = DECIMAL_EXPONENT

    # value == _m * 10**_e. (_m, _e) mirror Go's internal (value, scale) pair, which only
    # matters for as_approximate_float; everything else uses the exact value.
    _m: int
    _e: int
    _format: str
    _s: str | None
    _original: str | None
    _raw: int | float | str | None
    _value: Fraction | None
    _norm: tuple[int, int] | None

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("use Quantity.parse(text) or Quantity.from_int(value)")

    @classmethod
    def _make(
        cls,
        m: int,
        e: int,
        fmt: str,
        *,
        s: str | None = None,
        original: str | None = None,
        raw: int | float | str | None = None,
    ) -> Quantity:
        q = object.__new__(cls)
        object.__setattr__(q, "_m", m)
        object.__setattr__(q, "_e", e if m else 0)
        object.__setattr__(q, "_format", fmt)
        object.__setattr__(q, "_s", s)
        object.__setattr__(q, "_original", original)
        object.__setattr__(q, "_raw", raw)
        object.__setattr__(q, "_value", None)  # caches, filled on first use
        object.__setattr__(q, "_norm", None)
        return q

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Quantity is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Quantity is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self._m, self._e, self._format, self._s, self._original, self._raw))

    def __copy__(self) -> Quantity:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Quantity:
        return self

    # ----------------------------------------------------------------- construction

    @classmethod
    def parse(cls, text: str) -> Quantity:
        """Parse ``text`` as Go's ``resource.ParseQuantity`` does.

        Raises:
            QuantityError: with Go's message and ``text=`` when the text is not a quantity.

        """
        if not isinstance(text, str):
            raise QuantityError(
                f"quantity must be a string, not {type(text).__name__}", text=repr(text)
            )
        if not text:
            raise QuantityError(_ERR_FORMAT, text=text)
        if text == "0":
            return cls._make(0, 0, DECIMAL_SI, s=text, original=text)
        positive, value, num, denom, suffix = _split(text)
        interpreted = _interpret(suffix)
        if interpreted is None:
            raise QuantityError(_ERR_SUFFIX, text=text)
        base, exponent, fmt = interpreted
        sign = 1 if positive else -1

        # Go's fast path: small numbers become an int64 (value, scale) pair.
        precision = -1
        scale = 0
        mantissa = 1
        if fmt in (DECIMAL_EXPONENT, DECIMAL_SI):
            scale = exponent
            precision = 18 - (len(num) + len(denom))
        elif exponent >= 0 and not denom:
            mantissa = 1 << exponent
            # float32(exponent)*3/10 truncated toward zero, as in Go
            precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        if precision >= 0:
            scale = _i32(scale - len(denom))
            if scale >= -9:
                shifted = num + denom
                digits = int(shifted)  # at most 18 digits here, so it fits int64
                result = digits * mantissa
                if result <= _MAX_INT64:
                    if result and len(str(result)) + scale > MAX_MAGNITUDE_DIGITS:
                        raise QuantityError(_ERR_TOO_LARGE, text=text)
                    result *= sign
                    keep = (
                        exponent % 10 == 0 and digits & 0x07 != 0
                        if fmt == BINARY_SI
                        else scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
                    )
                    return cls._make(result, scale, fmt, s=text if keep else None, original=text)

        # Go's general path: an arbitrary precision decimal, rounded up to nano units.
        if not any(c in _DIGITS for c in value):
            raise QuantityError(_ERR_NUMERIC, text=text)
        # The value is int(digits) * 10**exp10 * 2**bits; the digits are only read as text
        # here, so that a long or huge number costs no more than its length.
        significant = (num + denom).lstrip("0")
        if not significant:
            return cls._make(0, 0, fmt, original=text)
        sig = significant.rstrip("0")
        exp10 = (_i32(exponent) if base == 10 else 0) - len(denom)
        exp10 += len(significant) - len(sig)
        bits = exponent if base == 2 else 0
        magnitude = len(sig) + exp10  # 10**(magnitude-1) <= value / 2**bits < 10**magnitude
        if fmt == BINARY_SI and magnitude > 19:
            # At least 10**19 > 2**63 - 1: Go caps BinarySI values at the largest int64.
            return cls._make(sign * _MAX_INT64, 0, fmt, original=text)
        if magnitude > MAX_MAGNITUDE_DIGITS:
            raise QuantityError(_ERR_TOO_LARGE, text=text)
        m, e = _round_up_nano(sig, exp10, bits)
        if fmt == BINARY_SI:
            if Fraction(m) * Fraction(10) ** e > _MAX_INT64:
                m, e = _MAX_INT64, 0
            elif e < 0 and m < 10**-e:
                fmt = DECIMAL_SI
        return cls._make(sign * m, e, fmt, original=text)

    @classmethod
    def from_int(cls, value: int, format: str = DECIMAL_SI) -> Quantity:
        """Return a quantity of the integer ``value`` (Go's ``NewQuantity``)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"from_int needs an int, not {type(value).__name__}")
        if format not in _FORMATS:
            raise ValueError(f"unknown quantity format {format!r}")
        if not -_TOO_LARGE < value < _TOO_LARGE:
            raise QuantityError(_ERR_TOO_LARGE, text=_describe_int(value))
        return cls._make(value, 0, format)

    @classmethod
    def from_fraction(cls, value: Fraction | int, format: str = DECIMAL_SI) -> Quantity:
        """Return ``value`` rounded up (away from zero) to a multiple of 1n, as a quantity."""
        if format not in _FORMATS:
            raise ValueError(f"unknown quantity format {format!r}")
        frac = Fraction(value)
        sign = -1 if frac < 0 else 1
        frac = abs(frac)
        if frac >= _TOO_LARGE:
            raise QuantityError(_ERR_TOO_LARGE, text=_describe_int(frac.numerator))
        if frac.denominator == 1:
            return cls._make(sign * frac.numerator, 0, format)
        m = _ceil_div(frac.numerator * 10**9, frac.denominator)
        return cls._make(sign * m, -9, format)

    # ----------------------------------------------------------------- accessors

    @property
    def format(self) -> str:
        """The preferred output format."""
        return self._format

    @property
    def original(self) -> str | None:
        """The text this quantity was parsed from, or None."""
        return self._original

    @property
    def value(self) -> Fraction:
        """The exact numeric value."""
        value: Fraction | None = self._value
        if value is None:
            if self._e >= 0:
                value = Fraction(self._m * _p10(self._e))
            else:
                value = Fraction(self._m, _p10(-self._e))
            object.__setattr__(self, "_value", value)
        return value

    def _normal(self) -> tuple[int, int]:
        """Return (m, e) without trailing zeros in m (cached; (0, 0) for zero)."""
        norm: tuple[int, int] | None = self._norm
        if norm is None:
            norm = _strip10(self._m, self._e) if self._m else (0, 0)
            object.__setattr__(self, "_norm", norm)
        return norm

    def sign(self) -> int:
        """-1, 0 or 1."""
        return (self._m > 0) - (self._m < 0)

    def is_zero(self) -> bool:
        """Whether the value is zero."""
        return self._m == 0

    def as_int64(self) -> int | None:
        """Return the value as an int; None when it is not an integer or does not fit int64."""
        if self._m == 0:
            return 0
        m, e = self._normal()
        if e < 0:
            return None
        if _magnitude(m, e) > 19:
            return None
        result = m * 10**e
        return result if _MIN_INT64 <= result <= _MAX_INT64 else None

    def int_value(self) -> int:
        """Return Go's ``Value()``: the value rounded up to an integer (exact, not wrapped)."""
        v = self.value
        return _ceil_div(v.numerator, v.denominator)

    def milli_value(self) -> int:
        """Return Go's ``MilliValue()``: the value in thousandths, rounded up."""
        v = self.value * 1000
        return _ceil_div(v.numerator, v.denominator)

    def as_approximate_float(self) -> float:
        """Go's ``AsApproximateFloat64`` (same rounding, ``±inf`` on overflow)."""
        try:
            base = float(self._m)
        except OverflowError:
            base = math.inf if self._m > 0 else -math.inf
        if self._e == 0:
            return base
        return base * _go_pow10(self._e)

    # ----------------------------------------------------------------- arithmetic

    def cmp(self, other: Quantity) -> int:
        """Go's ``Cmp``: -1, 0 or 1 by exact value."""
        a, b = self.sign(), other.sign()
        if a != b:
            return -1 if a < b else 1
        if a == 0:
            return 0
        ma, ea = self._normal()
        mb, eb = other._normal()
        la, lb = _magnitude(ma, ea), _magnitude(mb, eb)
        if la != lb:
            bigger = 1 if la > lb else -1
            return bigger * a
        low = min(ea, eb)
        va = ma * _p10(ea - low)
        vb = mb * _p10(eb - low)
        return (va > vb) - (va < vb)

    def _combine(self, other: Quantity, other_sign: int) -> Quantity:
        fmt = other._format if self._m == 0 else self._format
        if other._m == 0:
            return Quantity._make(self._m, self._e, fmt)
        if self._m == 0:
            return Quantity._make(other_sign * other._m, other._e, fmt)
        low = min(self._e, other._e)
        m = self._m * 10 ** (self._e - low) + other_sign * other._m * 10 ** (other._e - low)
        return Quantity._make(m, low, fmt)

    def add(self, other: Quantity) -> Quantity:
        """Go's ``Add``: the exact sum; the format is ours, or the other's when we are zero."""
        return self._combine(other, 1)

    def sub(self, other: Quantity) -> Quantity:
        """Go's ``Sub``: the exact difference; format as in :meth:`add`."""
        return self._combine(other, -1)

    def neg(self) -> Quantity:
        """Go's ``Neg``: the negated value, same format."""
        return Quantity._make(-self._m, self._e, self._format)

    def __add__(self, other: object) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.add(other)

    def __sub__(self, other: object) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.sub(other)

    def __neg__(self) -> Quantity:
        return self.neg()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.cmp(other) == 0

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.cmp(other) < 0

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.cmp(other) <= 0

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.cmp(other) > 0

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.cmp(other) >= 0

    def __hash__(self) -> int:
        if self._m == 0:
            return hash((Quantity, 0, 0))
        return hash((Quantity, *self._normal()))

    # ----------------------------------------------------------------- text

    def canonical(self) -> str:
        """Return the canonical text (Go's ``CanonicalizeBytes``), ignoring any kept input."""
        if self._m == 0:
            return "0"
        fmt = self._format
        if fmt == BINARY_SI:
            value = self.value
            if -1024 < value < 1024 or value.denominator != 1:
                fmt = DECIMAL_SI
            else:
                sign = "-" if value < 0 else ""
                amount = abs(value.numerator)
                power = 0
                while power < 6 and amount % 1024 == 0:
                    amount //= 1024
                    power += 1
                return f"{sign}{amount}{_BINARY_BY_POWER[power]}"
        elif fmt not in _FORMATS:
            fmt = DECIMAL_EXPONENT
        m, e = self._normal()
        shift = e % 3
        m, e = m * 10**shift, e - shift
        if fmt == DECIMAL_SI:
            if e > 18:
                m, e = m * 10 ** (e - 18), 18
            elif e < -9:
                # Below 1n: unreachable from parsed, integer or summed values. Go would
                # print no suffix at all; print an exact exponent instead.
                return f"{m}e{e}"
            return f"{m}{_DECIMAL_BY_EXPONENT[e]}"
        return f"{m}" if e == 0 else f"{m}e{e}"

    def __str__(self) -> str:
        return self._s if self._s is not None else self.canonical()

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def to_json(self) -> str | int | float:
        """Return what a dump writes: the original input (text or bare number), else str()."""
        if self._raw is not None:
            return self._raw
        return self._original if self._original is not None else str(self)

    # ----------------------------------------------------------------- pydantic

    @classmethod
    def coerce(cls, value: object) -> Quantity:
        """Build a quantity from JSON input, as Go's ``UnmarshalJSON`` accepts it.

        Accepts a Quantity, a string (surrounding whitespace ignored) or a bare int/float.
        """
        if isinstance(value, Quantity):
            return value
        if isinstance(value, bool):
            raise QuantityError(
                "quantity must be a string or a number, not a boolean", text=str(value).lower()
            )
        if isinstance(value, str):
            q = cls.parse(value.strip())
            if value != q._original:
                q = cls._make(q._m, q._e, q._format, s=q._s, original=value)
            return q
        if isinstance(value, int):
            if not -_TOO_LARGE < value < _TOO_LARGE:
                raise QuantityError(_ERR_TOO_LARGE, text=_describe_int(value))
            q = cls.parse(str(value))
            return cls._make(q._m, q._e, q._format, s=q._s, original=q._original, raw=value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise QuantityError("quantity must be a finite number", text=repr(value))
            written = getattr(value, "text", None)  # a YAML scalar: the text as written
            if isinstance(written, str):
                try:
                    q = cls.parse(written)
                except QuantityError:
                    pass
                else:
                    return cls._make(q._m, q._e, q._format, s=q._s, original=written, raw=value)
            text = repr(value)
            if text.endswith(".0"):
                text = text[:-2]
            q = cls.parse(text.replace("e+", "e"))
            return cls._make(q._m, q._e, q._format, s=q._s, original=q._original, raw=value)
        raise QuantityError(
            f"quantity must be a string or a number, not {type(value).__name__}",
            text=repr(value),
        )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Let pydantic models use ``Quantity`` as a field type."""

        def validate(value: object) -> Quantity:
            try:
                return cls.coerce(value)
            except QuantityError as exc:
                # pydantic only turns ValueError/AssertionError into validation errors
                raise ValueError(f"invalid quantity {exc.text!r}: {exc}") from None

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda q: q.to_json(), when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Describe the JSON form: a string or a number, as in Kubernetes' OpenAPI."""
        return {"oneOf": [{"type": "string"}, {"type": "number"}]}


def _round_up_nano(digits: str, exp10: int, bits: int) -> tuple[int, int]:
    """Round ``int(digits) * 10**exp10 * 2**bits`` up to a multiple of 1n, as ``(m, e)``.

    ``digits`` is decimal text without leading or trailing zeros (so not zero), and the
    caller has bounded the magnitude. The result mirrors Go's representation after
    ``Round(…, 9, RoundUp)``, an unscaled integer at scale 9 (``e == -9``), except for values
    of 10**392 or more, kept as ``(digits, exp10)`` (same value, no expansion).

    Digits below 1n are never converted to an integer and no power of ten is built for
    them, whatever their number or exponent: the last digit is not zero, so whatever is cut
    off is a non-zero remainder that rounds up.
    """
    cut = -(exp10 + 9)  # decimal digits below 1n
    if cut <= 0:
        if cut >= -400:
            return (int(digits) << bits) * _p10(-cut), -9
        return int(digits) << bits, exp10
    if cut <= bits:
        # Only BinarySI gets here (cut <= 60, so digits has at most 88 digits): exact.
        return _ceil_div(int(digits) << bits, _p10(cut)), -9
    # value * 10**9 = digits * 2**bits / 10**cut = digits / (10**(cut - bits) * 5**bits).
    # With digits = high * 10**(cut - bits) + low and 0 < low < 10**(cut - bits), that is
    # (high + f) / 5**bits with 0 < f < 1, whose ceiling is high // 5**bits + 1.
    keep = len(digits) - (cut - bits)
    high = int(digits[:keep]) if keep > 0 else 0
    return high // 5**bits + 1, -9


def _describe_int(value: int) -> str:
    """Describe an integer too large to print whole."""
    bits = abs(value).bit_length()
    return f"{'-' if value < 0 else ''}<an integer of about {int(bits * 0.30103) + 1} digits>"


def _restore(
    m: int, e: int, fmt: str, s: str | None, original: str | None, raw: int | float | str | None
) -> Quantity:
    return Quantity._make(m, e, fmt, s=s, original=original, raw=raw)
