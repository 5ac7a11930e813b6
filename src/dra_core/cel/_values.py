"""Runtime values of the DRA CEL environment and the helpers that every part shares.

CEL values map onto Python values as follows:

=================  ============================================
CEL type           Python value
=================  ============================================
``bool``           ``bool``
``int``            ``int`` (never ``bool``)
``uint``           :class:`UInt` (an ``int`` subclass)
``double``         ``float``
``string``         ``str``
``bytes``          ``bytes``
``null_type``      ``None``
``list(T)``        ``tuple`` or ``list``
``map(K, V)``      any ``Mapping``
``optional_type``  :class:`Optional`
``Quantity``       ``dra_core.api.quantity.Quantity``
``Semver``         :class:`Semver`
``type``           :class:`TypeValue`
=================  ============================================

Runtime errors are raised as :class:`EvalError`; ``&&``, ``||`` and the ternary catch them
to give CEL's commutative error semantics.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from dra_core.api.quantity import Quantity

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MISSING",
    "UINT64_MAX",
    "EvalError",
    "Optional",
    "Semver",
    "TypeValue",
    "UInt",
    "cel_equal",
    "go_type_name",
    "is_quantity",
    "parse_quantity",
    "type_name",
]

INT64_MAX: Final = 2**63 - 1
INT64_MIN: Final = -(2**63)
UINT64_MAX: Final = 2**64 - 1


class EvalError(Exception):
    """A CEL runtime error, with cel-go's wording (``no such key: model``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Missing:
    """The marker for an absent map entry (distinct from every CEL value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


class UInt(int):
    """A CEL ``uint`` value: an int that remembers it is unsigned."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}u"


class TypeValue:
    """A CEL type used as a value (the result of ``type(x)`` or the identifier ``int``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TypeValue) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("type", self.name))

    def __repr__(self) -> str:
        return self.name


class Optional:
    """A CEL ``optional_type`` value: ``optional.of(x)`` or ``optional.none()``."""

    __slots__ = ("value",)

    def __init__(self, value: object = MISSING) -> None:
        self.value = value

    def has_value(self) -> bool:
        """Whether a value is present."""
        return self.value is not MISSING

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Optional):
            return False
        if self.value is MISSING or other.value is MISSING:
            return self.value is other.value
        return cel_equal(self.value, other.value)

    def __hash__(self) -> int:
        return hash(("optional", self.value if self.value is not MISSING else None))

    def __repr__(self) -> str:
        return "optional.none()" if self.value is MISSING else f"optional.of({self.value!r})"


_SEMVER_ALNUM = re.compile(r"[0-9A-Za-z-]+")


def _semver_number(text: str, which: str) -> int:
    if not all(c in "0123456789" for c in text):
        raise ValueError(f'Invalid character(s) found in {which} number "{text}"')
    if len(text) > 1 and text[0] == "0":
        raise ValueError(f'{which.capitalize()} number must not contain leading zeroes "{text}"')
    if text == "" or int(text) > UINT64_MAX:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    return int(text)


class Semver:
    """A semantic version (semver 2.0.0), compared the way blang/semver does.

    Build metadata is kept but ignored by comparisons and equality.
    """

    __slots__ = ("_hash", "_key", "build", "major", "minor", "patch", "pre", "text")

    def __init__(
        self, major: int, minor: int, patch: int, pre: tuple[str, ...] = (), build: str = ""
    ) -> None:
        self.major = major
        self.minor = minor
        self.patch = patch
        self.pre = pre
        self.build = build
        text = f"{major}.{minor}.{patch}"
        if pre:
            text += "-" + ".".join(pre)
        if build:
            text += "+" + build
        self.text = text
        # Pre-release identifiers: numeric ones compare numerically and sort before
        # alphanumeric ones; a version without pre-release sorts after any with one.
        pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre)
        self._key = (major, minor, patch, 1 if not pre else 0, pre_key)
        self._hash = hash(self._key)

    @classmethod
    def parse(cls, text: str, *, normalize: bool = False) -> Semver:
        """Parse strictly (semver 2.0.0), or leniently the way Kubernetes normalises.

        Raises:
            ValueError: with blang/semver's message ("No Major.Minor.Patch elements found").

        """
        if normalize:
            text = _normalize_semver(text)
        if text == "":
            raise ValueError("Version string empty")
        parts = text.split(".", 2)
        if len(parts) != 3:
            raise ValueError("No Major.Minor.Patch elements found")
        major = _semver_number(parts[0], "major")
        minor = _semver_number(parts[1], "minor")
        rest = parts[2]
        cut = min((i for i in (rest.find("+"), rest.find("-")) if i >= 0), default=len(rest))
        patch = _semver_number(rest[:cut], "patch")
        rest = rest[cut:]
        build = ""
        if "+" in rest:
            rest, build = rest.split("+", 1)
            for part in build.split("."):
                if part == "":
                    raise ValueError("Build meta data is empty")
                if not _SEMVER_ALNUM.fullmatch(part):
                    raise ValueError(f'Invalid character(s) found in build meta data "{part}"')
        pre: tuple[str, ...] = ()
        if rest.startswith("-"):
            pre = tuple(rest[1:].split("."))
            for part in pre:
                if part == "":
                    raise ValueError("Prerelease is empty")
                if part.isdigit() and len(part) > 1 and part[0] == "0":
                    raise ValueError(
                        f'Numeric PreRelease version must not contain leading zeroes "{part}"'
                    )
                if not _SEMVER_ALNUM.fullmatch(part):
                    raise ValueError(f'Invalid character(s) found in prerelease "{part}"')
        return cls(major, minor, patch, pre, build)

    def compare(self, other: Semver) -> int:
        """-1, 0 or 1 by semver precedence."""
        return (self._key > other._key) - (self._key < other._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Semver) and self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"semver({self.text!r})"


def _normalize_semver(text: str) -> str:
    """Kubernetes' lenient form: no ``v``, no leading zeros, missing minor/patch are 0."""
    if text.startswith("v"):
        text = text[1:]
    parts = text.split(".", 2)
    for i, part in enumerate(parts):
        if len(part) > 1:
            part = part.lstrip("0")
            if part == "" or not part[0].isdigit():
                part = "0" + part
            parts[i] = part
    if len(parts) < 3:
        if "+" in parts[-1] or "-" in parts[-1]:
            raise ValueError("short version cannot contain PreRelease/Build meta data")
        parts.extend(["0"] * (3 - len(parts)))
    return ".".join(parts)


# --- quantities -------------------------------------------------------------------------


def parse_quantity(text: str) -> Quantity:
    """Parse a Kubernetes quantity.

    Raises:
        dra_core.errors.QuantityError: with Go's message when the text is not a quantity.

    """
    return Quantity.parse(text)


def is_quantity(value: object) -> bool:
    """Whether a runtime value is a quantity."""
    return isinstance(value, Quantity)


# --- type names ---------------------------------------------------------------------------


def type_name(value: object) -> str:
    """Return the CEL type name of a runtime value, as cel-go prints it in messages."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, UInt):
        return "uint"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "bytes"
    if value is None:
        return "null_type"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, Semver):
        return "kubernetes.Semver"
    if isinstance(value, Optional):
        return "optional_type"
    if isinstance(value, TypeValue):
        return "type"
    if is_quantity(value):
        return "kubernetes.Quantity"
    name = type(value).__name__
    return _OTHER_TYPE_NAMES.get(name, name)


_OTHER_TYPE_NAMES: Final = {
    "Duration": "google.protobuf.Duration",
    "Timestamp": "google.protobuf.Timestamp",
    "IP": "net.IP",
    "CIDR": "net.CIDR",
}


_GO_NAMES: Final = {
    "bool": "types.Bool",
    "int": "types.Int",
    "uint": "types.Uint",
    "double": "types.Double",
    "string": "types.String",
    "bytes": "types.Bytes",
    "null_type": "types.Null",
    "kubernetes.Semver": "cel.Semver",
    "kubernetes.Quantity": "cel.Quantity",
    "optional_type": "*types.Optional",
    "type": "*types.Type",
    "google.protobuf.Duration": "types.Duration",
    "google.protobuf.Timestamp": "types.Timestamp",
    "net.IP": "cel.IP",
    "net.CIDR": "cel.CIDR",
}


def go_type_name(value: object) -> str:
    """Return the Go type name cel-go prints in "got 'types.Int', expected iterable type"."""
    name = type_name(value)
    return _GO_NAMES.get(name, name)


# --- equality -------------------------------------------------------------------------------


def cel_equal(left: object, right: object) -> bool:
    """CEL's heterogeneous equality (``_==_``).

    Values of different types are unequal, except numbers, which compare by value.
    Lists and maps compare element by element.

    Raises:
        EvalError: "no such overload" where cel-go's own type refuses the comparison
            (a quantity or semver compared with another type).

    """
    if left is right and not isinstance(left, float):
        return True
    lt = type(left)
    if lt is type(right) and lt in (str, int, bool, bytes, float):
        return left == right
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, (int, float)):
        if isinstance(right, (int, float)):
            return left == right
        return False
    if isinstance(left, str):
        return isinstance(right, str) and left == right
    if isinstance(left, bytes):
        return isinstance(right, bytes) and left == right
    if left is None:
        return right is None
    if isinstance(left, (list, tuple)):
        if not isinstance(right, (list, tuple)) or len(left) != len(right):
            return False
        return all(cel_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping):
        if not isinstance(right, Mapping) or len(left) != len(right):
            return False
        for key, value in left.items():
            other = map_get(right, key)
            if other is MISSING or not cel_equal(value, other):
                return False
        return True
    if isinstance(left, Semver):
        if not isinstance(right, Semver):
            raise EvalError("no such overload")
        return left == right
    if isinstance(left, Quantity):
        if not isinstance(right, Quantity):
            raise EvalError("no such overload")
        return left.cmp(right) == 0
    if getattr(type(left), "STRICT_EQUALITY", False) and type(left) is not type(right):
        raise EvalError("no such overload")  # IP and CIDR values, as cel-go's types do
    if isinstance(left, (Optional, TypeValue)) or type(left) is type(right):
        return left == right  # durations, timestamps, IPs and CIDRs compare by value, too
    return False


def map_get(mapping: Mapping[Any, Any], key: object) -> Any:
    """Look up a CEL map key; numeric keys match across int, uint and double.

    Returns:
        the value, or :data:`MISSING`.

    """
    if isinstance(key, bool):
        for k, v in mapping.items():
            if isinstance(k, bool) and k == key:
                return v
        return MISSING
    if isinstance(key, (str, bytes)):
        return mapping.get(key, MISSING)
    if isinstance(key, (int, float)):
        if isinstance(key, float) and not key.is_integer():
            return MISSING
        for k, v in mapping.items():
            if isinstance(k, int) and not isinstance(k, bool) and k == key:
                return v
        return MISSING
    return MISSING
