"""CEL ``google.protobuf.Duration`` and ``google.protobuf.Timestamp`` values.

Both count nanoseconds in an int, as Go's ``time`` package does; parsing and printing
follow Go (``time.ParseDuration``, RFC 3339), because cel-go uses it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Final

from dra_core.cel._values import INT64_MAX, INT64_MIN, EvalError

__all__ = ["Duration", "Timestamp", "parse_duration", "parse_timestamp"]

_NS: Final = 1_000_000_000
# cel-go accepts timestamps from year 1 to 9999.
_MIN_TS: Final = -62135596800 * _NS
_MAX_TS: Final = (253402300799 + 1) * _NS - 1
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Duration:
    """A signed duration in nanoseconds (Go's ``time.Duration`` range)."""

    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        if not INT64_MIN <= ns <= INT64_MAX:
            raise EvalError("duration out of range")
        self.ns = ns

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(("duration", self.ns))

    def __repr__(self) -> str:
        return f"duration({format_duration(self)!r})"


class Timestamp:
    """An instant in nanoseconds since the Unix epoch, years 1 to 9999."""

    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        if not _MIN_TS <= ns <= _MAX_TS:
            raise EvalError("timestamp out of range")
        self.ns = ns

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timestamp) and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(("timestamp", self.ns))

    def __repr__(self) -> str:
        return f"timestamp({format_timestamp(self)!r})"

    def datetime(self, zone: dt.tzinfo = dt.UTC) -> dt.datetime:
        """Return the instant in a time zone (microsecond precision)."""
        seconds, rest = divmod(self.ns, _NS)
        moment = _EPOCH + dt.timedelta(seconds=seconds, microseconds=rest // 1000)
        return moment.astimezone(zone)


_UNITS: Final = {
    "ns": 1, "us": 1000, "µs": 1000, "μs": 1000, "ms": 1_000_000, "s": _NS,
    "m": 60 * _NS, "h": 3600 * _NS,
}
_PART = re.compile(r"(\d*)(?:\.(\d*))?([a-zµμ]+)")


def parse_duration(text: str) -> Duration:
    """Go's ``time.ParseDuration``.

    Raises:
        EvalError: ``time: invalid duration "..."`` and friends.

    """
    original = text
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return Duration(0)
    if text == "":
        raise EvalError(f'time: invalid duration "{original}"')
    total = 0
    pos = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None or (match.group(1) == "" and not match.group(2)):
            raise EvalError(f'time: invalid duration "{original}"')
        whole, frac, unit = match.groups()
        scale = _UNITS.get(unit)
        if scale is None:
            raise EvalError(f'time: unknown unit "{unit}" in duration "{original}"')
        value = int(whole or "0") * scale
        if frac:
            value += int(frac) * scale // 10 ** len(frac)
        total += value
        pos = match.end()
    total *= sign
    if not INT64_MIN <= total <= INT64_MAX:
        raise EvalError(f'time: invalid duration "{original}"')
    return Duration(total)


def format_duration(d: Duration) -> str:
    """cel-go's ``string(duration)``: seconds with the shortest fraction, then ``s``."""
    sign = "-" if d.ns < 0 else ""
    seconds, rest = divmod(abs(d.ns), _NS)
    fraction = f"{rest:09d}".rstrip("0")
    return f"{sign}{seconds}{'.' + fraction if fraction else ''}s"


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def parse_timestamp(text: str) -> Timestamp:
    """Parse RFC 3339 (``2006-01-02T15:04:05Z07:00``, optional fraction of a second).

    Raises:
        EvalError: with Go's wording for text that is not RFC 3339.

    """
    match = _RFC3339.match(text)
    if match is None:
        raise EvalError(f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse')
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    try:
        base = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError as exc:
        raise EvalError(f'parsing time "{text}": {exc}') from None
    fraction = match.group(7) or ""
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    offset = 0
    if match.group(9):
        offset = (int(match.group(10)) * 60 + int(match.group(11))) * 60
        if match.group(9) == "-":
            offset = -offset
    delta = base - _EPOCH
    seconds = delta.days * 86400 + delta.seconds - offset
    return Timestamp(seconds * _NS + nanos)


def format_timestamp(t: Timestamp) -> str:
    """Go's ``Format(time.RFC3339Nano)`` in UTC."""
    seconds, rest = divmod(t.ns, _NS)
    moment = _EPOCH + dt.timedelta(seconds=seconds)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.year < 1000:
        text = f"{moment.year:04d}" + text[text.index("-"):]
    fraction = f"{rest:09d}".rstrip("0")
    return f"{text}{'.' + fraction if fraction else ''}Z"


def _zone(name: Any) -> dt.tzinfo:
    if not isinstance(name, str):
        raise EvalError("no such overload")
    match = re.fullmatch(r"([+-])?(\d{2}):(\d{2})", name)
    if match:
        minutes = int(match.group(2)) * 60 + int(match.group(3))
        sign = -1 if match.group(1) == "-" else 1
        return dt.timezone(dt.timedelta(minutes=sign * minutes))
    if name.upper() == "UTC" or name == "":
        return dt.UTC
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # unknown zone or no time zone database on this machine
        raise EvalError(f"unknown time zone {name}") from None


def timestamp_part(name: str, t: Timestamp, zone: Any = None) -> int:
    """Compute the calendar getters of timestamps (``getFullYear``, ``getHours``...)."""
    moment = t.datetime(_zone(zone) if zone is not None else dt.UTC)
    if name == "getFullYear":
        return moment.year
    if name == "getMonth":
        return moment.month - 1
    if name == "getDayOfYear":
        return moment.timetuple().tm_yday - 1
    if name == "getDayOfMonth":
        return moment.day - 1
    if name == "getDate":
        return moment.day
    if name == "getDayOfWeek":
        return (moment.weekday() + 1) % 7
    if name == "getHours":
        return moment.hour
    if name == "getMinutes":
        return moment.minute
    if name == "getSeconds":
        return moment.second
    if name == "getMilliseconds":
        return (t.ns % _NS) // 1_000_000
    raise EvalError("no such overload")


def duration_part(name: str, d: Duration) -> int:
    """Compute the getters of durations: whole hours, minutes, seconds; milliseconds."""
    ns = d.ns
    sign = -1 if ns < 0 else 1
    magnitude = abs(ns)
    if name == "getHours":
        return sign * (magnitude // (3600 * _NS))
    if name == "getMinutes":
        return sign * (magnitude // (60 * _NS))
    if name == "getSeconds":
        return sign * (magnitude // _NS)
    if name == "getMilliseconds":
        return sign * ((magnitude // 1_000_000) % 1000)
    raise EvalError("no such overload")
