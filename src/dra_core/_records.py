"""Small immutable values and mutable records with slots, written out.

A dataclass costs a quarter to half a millisecond to define (it compiles its methods),
and every ``import dra_core`` defines the classes of the allocator, the state and CEL's
tree: these bases give them what the dataclasses gave (equality, hash, order, repr,
pickling, immutability) for the price of a plain class.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["HashedTuple", "Ordered", "Record", "Value"]

_set = object.__setattr__


def _repr(obj: object) -> str:
    names = [n for n in type(obj).__annotations__ if not n.startswith("_")]
    inner = ", ".join(f"{name}={getattr(obj, name)!r}" for name in names)
    return f"{type(obj).__name__}({inner})"


class Value:
    """An immutable value with slots: equality, hash, repr and pickling over ``_key()``.

    A subclass declares its fields as annotations (their order is the repr's), sets
    them in ``__init__`` with ``object.__setattr__`` and returns them from ``_key()``
    in the order ``__init__`` takes them.
    """

    __slots__ = ()

    def _key(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return _repr(self)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._key())


class Ordered(Value):
    """A :class:`Value` ordered by its fields, in order."""

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() <= other._key()

    def __gt__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() > other._key()

    def __ge__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() >= other._key()


class Record:
    """A mutable record with slots (equality is identity); repr over its fields."""

    __slots__ = ()

    def __repr__(self) -> str:
        return _repr(self)


class HashedTuple(tuple):  # type: ignore[type-arg]
    """A tuple whose hash is computed once.

    For long keys hashed again and again (a node's equivalence key, a table's pool
    list): a nested tuple would be hashed anew each time. Equal to, and hashing like,
    the plain tuple.
    """

    _hash: int

    def __new__(cls, parts: Iterable[Any]) -> HashedTuple:
        key = super().__new__(cls, parts)
        key._hash = tuple.__hash__(key)
        return key

    def __hash__(self) -> int:
        return self._hash
