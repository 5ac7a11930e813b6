"""The input of a selector: one device, as the CEL ``device`` variable sees it."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from dra_core.api import DeviceAttribute
from dra_core.api.quantity import Quantity
from dra_core.cel._values import MISSING, Semver, is_quantity

if TYPE_CHECKING:  # pragma: no cover
    from dra_core.api import Device

__all__ = ["CelDevice", "DefaultMap", "item_key", "memo_key"]


class DefaultMap(dict[str, Any]):
    """The maps ``device.attributes`` and ``device.capacity``.

    A lookup of an unknown domain gives an empty map, while ``in``, ``size()`` and
    iteration see only the domains that exist.

    This mirrors Kubernetes' ``mapper`` wrapper, whose ``Find`` never fails.
    """

    __slots__ = ()

    default: Final[Mapping[str, Any]] = {}


class _Marker:
    """A memo-key stand-in compared by identity (hashing it costs nothing)."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return self.label


class _FrozenList:
    """A list value's memo-key stand-in, with its hash computed once."""

    __slots__ = ("_hash", "items")

    def __init__(self, items: tuple[Any, ...]) -> None:
        self.items = items
        self._hash = hash(items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _FrozenList) and self.items == other.items

    def __hash__(self) -> int:
        return self._hash


_TRUE_KEY: Final = _Marker("true")
_FALSE_KEY: Final = _Marker("false")


def memo_key(value: Any) -> Any:
    """Return a hashable stand-in for a value; equal stand-ins mean CEL sees equal values.

    Python's ``True == 1`` is the one collision among attribute values, so booleans
    become markers; lists, versions and quantities get stand-ins that are cheap to hash
    (a memo lookup hashes the key of every device) and interned, so that comparing two
    devices' keys stops at an identity check. Equal stand-ins imply equal values; equal
    values may have different stand-ins (``1Gi`` and ``1024Mi``), which only costs an
    extra evaluation.
    """
    if value is True:
        return _TRUE_KEY
    if value is False:
        return _FALSE_KEY
    if type(value) is str or type(value) is int:
        return value
    key: Any
    if isinstance(value, tuple):
        key = _FrozenList(tuple(memo_key(v) for v in value))
    elif isinstance(value, Quantity):
        # The text fixes the value (as given, else canonical); its hash is cached by str.
        # A bare string is unambiguous: capacity items only ever hold quantities.
        key = value.original or str(value)
    elif isinstance(value, Semver):
        key = ("semver", value.text)
    else:
        key = value
    # Equal stand-ins are interned, so that comparing the keys of two devices stops at
    # an identity check instead of comparing quantities or versions.
    found = _INTERNED.get(key)
    if found is None:
        if len(_INTERNED) >= 65536:  # bounded; a miss only costs a slower comparison
            _INTERNED.clear()
        _INTERNED[key] = found = key
    return found


_INTERNED: dict[Any, Any] = {}


def _cel_value(name: str, value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
    if isinstance(value, (list, tuple)):
        items = tuple(value)
        for item in items:
            if type(item) not in _SCALARS:
                raise TypeError(f"attribute {name}: unsupported list element {item!r}")
        return items
    raise TypeError(
        f"attribute {name}: unsupported value {value!r} (use int, bool, str, Semver or a list)"
    )


_SCALARS: Final = (bool, int, str, Semver)
_SPLIT_CACHE: dict[tuple[str, str], tuple[str, str]] = {}


def _split(name: str, driver: str) -> tuple[str, str]:
    found = _SPLIT_CACHE.get((name, driver))
    if found is None:
        domain, sep, ident = name.partition("/")
        found = (domain, ident) if sep else (driver, name)
        if len(_SPLIT_CACHE) < 65536:  # bounded: names repeat across devices
            _SPLIT_CACHE[(name, driver)] = found
    return found


ITEM_SEPARATOR: Final = "\x1f"  # never part of a domain or an identifier


def item_key(item: tuple[str, ...]) -> str:
    """Return the string form of a read item: its parts joined by :data:`ITEM_SEPARATOR`.

    Strings cache their hash, tuples do not: memo keys are built from these.
    """
    return ITEM_SEPARATOR.join(item)


class _Keys(dict[str, Any]):
    """Memo-key material of one device, keyed by :func:`item_key` of the read items.

    Present attributes and capacities are filled in eagerly; whole-map items are built on
    first use; absent items read as :data:`MISSING` (and are stored, so there is at most
    one entry per item that some selector reads).
    """

    # The device's two maps, not the device: no reference cycle for the garbage
    # collector to chase through 100,000 devices.
    __slots__ = ("attributes", "capacity")

    def __init__(
        self, attributes: dict[str, dict[str, Any]], capacity: dict[str, dict[str, Any]]
    ) -> None:
        super().__init__()
        self.attributes = attributes
        self.capacity = capacity

    def __missing__(self, key: str) -> Any:
        item = key.split(ITEM_SEPARATOR)
        kind = item[0]
        value: Any
        if kind == "A":
            value = _frozen(self.attributes.get(item[1], {}))
        elif kind == "C":
            value = _frozen(self.capacity.get(item[1], {}))
        elif kind == "AA":
            value = frozenset((d, _frozen(m)) for d, m in self.attributes.items())
        elif kind == "CC":
            value = frozenset((d, _frozen(m)) for d, m in self.capacity.items())
        else:
            # An absent attribute or capacity: remembered, so that the next lookup of
            # the same item (by any device's memo key) stays in C.
            value = MISSING
        self[key] = value
        return value


def _frozen(domain: Mapping[str, Any]) -> frozenset[tuple[str, Any]]:
    return frozenset((k, memo_key(v)) for k, v in domain.items())


class CelDevice:
    """One device as a selector sees it, prepared once for many evaluations.

    Args:
        driver: the driver's name; attribute and capacity names without a domain
            belong to it.
        attributes: values by qualified name (``"model"`` or ``"dra.example.com/model"``):
            ``int``, ``bool``, ``str``, :class:`~dra_core.cel.Semver`, or a list of these.
        capacity: quantities by qualified name.
        allow_multiple_allocations: the device's ``allowMultipleAllocations``.
        name: ``driver/pool/device``, used in error messages.
        error: set when the device cannot be evaluated at all (an attribute without a
            value, a version that does not parse); every selector then fails with it,
            as in Kubernetes.

    The attributes are grouped by domain once here, and the memo-key material that
    :class:`~dra_core.cel.SelectorProgram` uses is precomputed, so build one
    ``CelDevice`` per device and reuse it. Inputs are not mutated.

    """

    __slots__ = (
        "_keys",
        "_view",
        "allow_multiple_allocations",
        "attribute_domains",
        "capacity_domains",
        "driver",
        "error",
        "name",
    )

    def __init__(
        self,
        *,
        driver: str,
        attributes: Mapping[str, Any] | None = None,
        capacity: Mapping[str, Any] | None = None,
        allow_multiple_allocations: bool = False,
        name: str | None = None,
        error: str | None = None,
    ) -> None:
        self.driver = driver
        self.error = error
        self.allow_multiple_allocations = bool(allow_multiple_allocations)
        self.name = name
        attribute_domains: dict[str, dict[str, Any]] = {}
        capacity_domains: dict[str, dict[str, Any]] = {}
        keys = _Keys(attribute_domains, capacity_domains)
        for qualified, raw in sorted((attributes or {}).items()):
            domain, ident = _split(qualified, driver)
            value = _cel_value(qualified, raw)
            attribute_domains.setdefault(domain, {})[ident] = value
            keys[f"a{ITEM_SEPARATOR}{domain}{ITEM_SEPARATOR}{ident}"] = memo_key(value)
        for qualified, raw in sorted((capacity or {}).items()):
            if not is_quantity(raw):
                raise TypeError(f"capacity {qualified}: {raw!r} is not a quantity")
            domain, ident = _split(qualified, driver)
            capacity_domains.setdefault(domain, {})[ident] = raw
            keys[f"c{ITEM_SEPARATOR}{domain}{ITEM_SEPARATOR}{ident}"] = memo_key(raw)
        keys["d"] = driver
        keys["m"] = memo_key(self.allow_multiple_allocations)
        self.attribute_domains = attribute_domains
        self.capacity_domains = capacity_domains
        self._keys = keys
        self._view: dict[str, Any] | None = None

    @classmethod
    def from_device(cls, driver: str, device: Device, *, name: str | None = None) -> CelDevice:
        """Build from a ``dra_core.api.Device`` of the given driver.

        An attribute without a value or with a version that does not parse does not
        raise here: it sets :attr:`error`, and evaluating any selector on the device
        then gives that runtime error, as in Kubernetes.

        The result equals ``CelDevice(driver=..., attributes=..., capacity=...)`` built
        from the converted values; the work that every device of a driver repeats
        (splitting names, building memo-key strings, parsing versions, interning memo
        keys) is looked up in caches keyed by text instead of being redone.
        """
        raw_attributes = getattr(device, "attributes", None) or {}
        raw_capacity = getattr(device, "capacity", None) or {}
        names = _driver_names(driver)
        attribute_domains: dict[str, dict[str, Any]] = {}
        capacity_domains: dict[str, dict[str, Any]] = {}
        keys = _Keys(attribute_domains, capacity_domains)
        error: str | None = None
        # Sorted by qualified name, as __init__ does: it fixes the domain maps' order
        # and which of "model" and "<driver>/model" wins when both are given.
        for qualified in sorted(raw_attributes) if len(raw_attributes) > 1 else raw_attributes:
            attr = raw_attributes[qualified]
            converted = _convert_attribute(attr) if type(attr) is DeviceAttribute else None
            if converted is None:  # a list, an error, or not an API model: the long way
                try:
                    value = _cel_value(str(qualified), _attribute_value(str(qualified), attr))
                except TypeError as exc:
                    error = error or str(exc)
                    continue
                converted = (value, memo_key(value))
            found = names.get(qualified)
            if found is None:
                found = names.add(str(qualified))
            domain, ident, key, _ = found
            inner = attribute_domains.get(domain)
            if inner is None:
                attribute_domains[domain] = inner = {}
            inner[ident] = converted[0]
            keys[key] = converted[1]
        for qualified in sorted(raw_capacity) if len(raw_capacity) > 1 else raw_capacity:
            quantity = raw_capacity[qualified].value
            if type(quantity) is not Quantity and not is_quantity(quantity):
                raise TypeError(f"capacity {qualified}: {quantity!r} is not a quantity")
            found = names.get(qualified)
            if found is None:
                found = names.add(str(qualified))
            domain, ident, _, key = found
            inner = capacity_domains.get(domain)
            if inner is None:
                capacity_domains[domain] = inner = {}
            inner[ident] = quantity
            keys[key] = memo_key(quantity)
        allow = bool(getattr(device, "allow_multiple_allocations", None))
        keys["d"] = driver
        keys["m"] = _TRUE_KEY if allow else _FALSE_KEY
        if name is None:
            device_name = getattr(device, "name", None)
            name = f"{driver}/{device_name}" if device_name else None
        self = cls.__new__(cls)
        self.driver = driver
        self.error = error
        self.allow_multiple_allocations = allow
        self.name = name
        self.attribute_domains = attribute_domains
        self.capacity_domains = capacity_domains
        self._keys = keys
        self._view = None
        return self

    def view(self) -> dict[str, Any]:
        """Return the ``device`` variable as a CEL map value."""
        if self._view is None:
            self._view = {
                "driver": self.driver,
                "allowMultipleAllocations": self.allow_multiple_allocations,
                "attributes": DefaultMap(self.attribute_domains),
                "capacity": DefaultMap(self.capacity_domains),
            }
        return self._view

    def __repr__(self) -> str:
        return f"CelDevice(name={self.name!r}, driver={self.driver!r})"


def _attribute_value(name: str, attr: Any) -> Any:
    """Return the CEL value of a ``DeviceAttribute`` (lists first, as Kubernetes does)."""
    for field, convert in (
        ("ints", None),
        ("bools", None),
        ("strings", None),
        ("versions", "version"),
    ):
        values = getattr(attr, field, None)
        if values is not None:
            return tuple(_version(name, v) if convert else v for v in values)
    for field in ("int_", "bool_", "string"):
        value = getattr(attr, field, None)
        if value is not None:
            return value
    version = getattr(attr, "version", None)
    if version is not None:
        return _version(name, version)
    raise TypeError(f"attribute {name}: unsupported attribute value")


def _version(name: str, text: str) -> Semver:
    try:
        return _parse_version(text)
    except ValueError as exc:
        raise TypeError(f"attribute {name}: parse semantic version: {exc}") from None


def _convert_attribute(attr: DeviceAttribute) -> tuple[Any, Any] | None:
    """Return (CEL value, memo key) of a scalar attribute; None for the long way.

    The long way (:func:`_attribute_value`) handles lists, attributes without a
    value and versions that do not parse, with their error messages.
    """
    if (
        attr.ints is not None
        or attr.bools is not None
        or attr.strings is not None
        or attr.versions is not None
    ):
        return None  # lists come first, as in Kubernetes
    value: Any = attr.int_
    if value is not None:
        return (value, value) if type(value) is int else None
    value = attr.bool_
    if value is not None:
        if value is True:
            return (True, _TRUE_KEY)
        return (False, _FALSE_KEY) if value is False else None
    value = attr.string
    if value is not None:
        return (value, value) if type(value) is str else None
    value = attr.version
    if value is not None and type(value) is str:
        found = _VERSIONS.get(value)
        if found is None:
            try:
                version = _parse_version(value)
            except ValueError:
                return None
            found = (version, memo_key(version))
            if len(_VERSIONS) >= 4096:  # bounded; versions repeat across devices
                _VERSIONS.clear()
            _VERSIONS[value] = found
        return found
    return None


# version text -> (Semver, its memo key): the same versions repeat on every device.
_VERSIONS: dict[str, tuple[Semver, Any]] = {}


class _Names(dict[str, tuple[str, str, str, str]]):
    """One driver's qualified names -> (domain, identifier, attribute key, capacity key).

    The keys are the :func:`item_key` strings under which :class:`_Keys` stores the
    memo-key material of that attribute or capacity.
    """

    __slots__ = ("driver",)

    def __init__(self, driver: str) -> None:
        super().__init__()
        self.driver = driver

    def add(self, qualified: str) -> tuple[str, str, str, str]:
        domain, ident = _split(qualified, self.driver)
        found = (
            domain,
            ident,
            f"a{ITEM_SEPARATOR}{domain}{ITEM_SEPARATOR}{ident}",
            f"c{ITEM_SEPARATOR}{domain}{ITEM_SEPARATOR}{ident}",
        )
        if len(self) < 65536:  # bounded: names repeat across devices
            self[qualified] = found
        return found


_NAMES: dict[str, _Names] = {}


def _driver_names(driver: str) -> _Names:
    found = _NAMES.get(driver)
    if found is None:
        if len(_NAMES) >= 1024:  # bounded; a miss only costs rebuilding the names
            _NAMES.clear()
        _NAMES[driver] = found = _Names(driver)
    return found


@lru_cache(maxsize=4096)
def _parse_version(text: str) -> Semver:
    # Semver values are immutable, and the same versions repeat on every device of a
    # driver: parse each text once.
    return Semver.parse(text)
