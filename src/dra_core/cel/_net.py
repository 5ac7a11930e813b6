"""Kubernetes' IP and CIDR CEL libraries (``ip()``, ``cidr()`` and their methods).

Addresses follow Go's ``net/netip`` rules as Kubernetes applies them: no zones, no
IPv4-mapped IPv6 addresses, and a CIDR keeps the address it was written with
(``cidr("10.0.0.1/8").ip()`` is ``10.0.0.1``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from dra_core.cel._values import EvalError

__all__ = ["CIDR", "FUNCTIONS", "IP"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class IP:
    """A CEL ``net.IP`` value."""

    __slots__ = ("addr",)
    # cel-go: comparing an IP with another type is "no such overload", not false.
    STRICT_EQUALITY = True

    def __init__(self, addr: Address) -> None:
        self.addr = addr

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IP) and self.addr == other.addr

    def __hash__(self) -> int:
        return hash(self.addr)

    def __repr__(self) -> str:
        return f"ip({str(self.addr)!r})"


class CIDR:
    """A CEL ``net.CIDR`` value: an address and a prefix length."""

    __slots__ = ("addr", "bits")
    STRICT_EQUALITY = True

    def __init__(self, addr: Address, bits: int) -> None:
        self.addr = addr
        self.bits = bits

    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        """Return the masked network."""
        return ipaddress.ip_network(f"{self.addr}/{self.bits}", strict=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CIDR) and (self.addr, self.bits) == (other.addr, other.bits)

    def __hash__(self) -> int:
        return hash((self.addr, self.bits))

    def __repr__(self) -> str:
        return f"cidr({self.addr}/{self.bits!r})"


def _str(v: Any) -> str:
    if type(v) is not str:
        raise EvalError("no such overload")
    return str(v)


def parse_ip(raw: str) -> Address:
    """Parse an address as Kubernetes' ``ip()`` does.

    Raises:
        EvalError: with Kubernetes' message.

    """
    try:
        addr = ipaddress.ip_address(raw)
    except ValueError as exc:
        if "%" in raw:
            raise EvalError(f'IP address "{raw}" with zone value is not allowed') from None
        raise EvalError(
            f'IP Address "{raw}" parse error during conversion from string: {exc}'
        ) from None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id:
            raise EvalError(f'IP address "{raw}" with zone value is not allowed')
        if addr.ipv4_mapped is not None:
            raise EvalError(f'IPv4-mapped IPv6 address "{raw}" is not allowed')
    return addr


def parse_cidr(raw: str) -> CIDR:
    """Parse a prefix as Kubernetes' ``cidr()`` does (the address is kept unmasked).

    Raises:
        EvalError: with Kubernetes' message.

    """
    text, sep, bits_text = raw.partition("/")
    if not sep or not bits_text.isdigit() or (len(bits_text) > 1 and bits_text[0] == "0"):
        raise EvalError(
            "network address parse error during conversion from string: "
            f'netip.ParsePrefix("{raw}"): bad bits after slash'
        )
    try:
        addr = ipaddress.ip_address(text)
    except ValueError as exc:
        raise EvalError(
            f"network address parse error during conversion from string: {exc}"
        ) from None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id:
            raise EvalError(
                "network address parse error during conversion from string: "
                f'netip.ParsePrefix("{raw}"): IPv6 zones cannot be present in a prefix'
            )
        if addr.ipv4_mapped is not None:
            raise EvalError(f'IPv4-mapped IPv6 address "{raw}" is not allowed')
    bits = int(bits_text)
    if bits > addr.max_prefixlen:
        raise EvalError(
            "network address parse error during conversion from string: "
            f'netip.ParsePrefix("{raw}"): prefix length out of range'
        )
    return CIDR(addr, bits)


def _ip_arg(v: Any) -> IP:
    if not isinstance(v, IP):
        raise EvalError("no such overload")
    return v


def _is_link_local_multicast(a: Address) -> bool:
    if isinstance(a, ipaddress.IPv4Address):
        return a in ipaddress.ip_network("224.0.0.0/24")
    packed = a.packed
    return packed[0] == 0xFF and packed[1] & 0x0F == 0x02


def _is_global_unicast(a: Address) -> bool:
    # Go's definition: anything but unspecified, loopback, link-local, multicast and the
    # IPv4 broadcast address (private addresses are global unicast).
    if a.is_unspecified or a.is_loopback or a.is_multicast:
        return False
    if isinstance(a, ipaddress.IPv4Address):
        if a == ipaddress.IPv4Address("255.255.255.255"):
            return False
        return a not in ipaddress.ip_network("169.254.0.0/16")
    return a not in ipaddress.ip_network("fe80::/10")


def ip(v: Any) -> IP:
    """``ip(string)`` and ``cidr.ip()``."""
    if isinstance(v, CIDR):
        return IP(v.addr)
    return IP(parse_ip(_str(v)))


def cidr(v: Any) -> CIDR:
    """``cidr(string)``."""
    return parse_cidr(_str(v))


def is_ip(v: Any) -> bool:
    """``isIP(string)``."""
    try:
        parse_ip(_str(v))
    except EvalError:
        if type(v) is not str:
            raise
        return False
    return True


def is_cidr(v: Any) -> bool:
    """``isCIDR(string)``."""
    try:
        parse_cidr(_str(v))
    except EvalError:
        if type(v) is not str:
            raise
        return False
    return True


def is_canonical(v: Any) -> bool:
    """``ip.isCanonical(string)``."""
    text = _str(v)
    return str(parse_ip(text)) == text


def family(v: Any) -> int:
    """``family()``: 4 or 6."""
    return _ip_arg(v).addr.version


def _flag(name: str) -> Any:
    def check(v: Any) -> bool:
        a = _ip_arg(v).addr
        if name == "isUnspecified":
            return a.is_unspecified
        if name == "isLoopback":
            return a.is_loopback
        if name == "isLinkLocalMulticast":
            return _is_link_local_multicast(a)
        if name == "isLinkLocalUnicast":
            if isinstance(a, ipaddress.IPv4Address):
                return a in ipaddress.ip_network("169.254.0.0/16")
            return a in ipaddress.ip_network("fe80::/10")
        return _is_global_unicast(a)

    return check


def contains_ip(c: Any, other: Any) -> bool:
    """``containsIP(ip or string)``."""
    if not isinstance(c, CIDR):
        raise EvalError("no such overload")
    addr = parse_ip(other) if type(other) is str else _ip_arg(other).addr
    return addr.version == c.addr.version and addr in c.network()


def contains_cidr(c: Any, other: Any) -> bool:
    """``containsCIDR(cidr or string)``."""
    if not isinstance(c, CIDR):
        raise EvalError("no such overload")
    inner = parse_cidr(other) if type(other) is str else other
    if not isinstance(inner, CIDR):
        raise EvalError("no such overload")
    if inner.addr.version != c.addr.version or inner.bits < c.bits:
        return False
    return inner.addr in c.network()


def masked(c: Any) -> CIDR:
    """``masked()``: the network address with the same prefix length."""
    if not isinstance(c, CIDR):
        raise EvalError("no such overload")
    return CIDR(c.network().network_address, c.bits)


def prefix_length(c: Any) -> int:
    """``prefixLength()``."""
    if not isinstance(c, CIDR):
        raise EvalError("no such overload")
    return c.bits


def to_string(v: Any) -> str:
    """``string(ip)`` and ``string(cidr)``."""
    if isinstance(v, IP):
        return str(v.addr)
    if isinstance(v, CIDR):
        return f"{v.addr}/{v.bits}"
    raise EvalError("no such overload")


FUNCTIONS: dict[str, tuple[Any, Any]] = {
    "ip": (ip, ip),
    "cidr": (cidr, None),
    "isIP": (is_ip, None),
    "isCIDR": (is_cidr, None),
    "ip.isCanonical": (is_canonical, None),
    "family": (None, family),
    "containsIP": (None, contains_ip),
    "containsCIDR": (None, contains_cidr),
    "masked": (None, masked),
    "prefixLength": (None, prefix_length),
    **{name: (None, _flag(name)) for name in (
        "isUnspecified", "isLoopback", "isLinkLocalMulticast", "isLinkLocalUnicast",
        "isGlobalUnicast",
    )},
}
