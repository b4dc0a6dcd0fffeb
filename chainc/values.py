"""Typed values of the .chain language and the parameter types NFs declare.

Literals are parsed into these value classes by the front end; an NF's
parameter spec names a `ParamType`, and `ParamType.accept` coerces a value to
that type or says why it cannot.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Mac:
    octets: bytes

    def __str__(self) -> str:
        return ":".join(f"{b:02x}" for b in self.octets)


@dataclass(frozen=True)
class Range:
    """An inclusive integer range `lo..hi` (port ranges, id pools)."""

    lo: int
    hi: int

    def __str__(self) -> str:
        return f"{self.lo}..{self.hi}"


@dataclass(frozen=True)
class Rate:
    """A rate: `per_second` bits (unit "bps") or packets (unit "pps")."""

    per_second: float
    unit: str  # "bps" or "pps"
    text: str = ""

    def __str__(self) -> str:
        return self.text or f"{self.per_second:g}{self.unit}"


@dataclass(frozen=True)
class Duration:
    nanoseconds: int
    text: str = ""

    @property
    def seconds(self) -> float:
        return self.nanoseconds / 1e9

    def __str__(self) -> str:
        return self.text or f"{self.nanoseconds}ns"


@dataclass(frozen=True)
class Size:
    bytes: int
    text: str = ""

    def __str__(self) -> str:
        return self.text or f"{self.bytes}B"


@dataclass(frozen=True)
class Symbol:
    """A bare identifier used as a value (`default: drop`), checked against an Enum."""

    name: str

    def __str__(self) -> str:
        return self.name


class Wildcard:
    """The `*` of a key/value block: the default arm of a Classifier."""

    _instance: "Wildcard | None" = None

    def __new__(cls) -> "Wildcard":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __str__(self) -> str:
        return "*"

    def __repr__(self) -> str:
        return "WILDCARD"


WILDCARD = Wildcard()


@dataclass(frozen=True)
class BlockEntry:
    key: str
    value: Any
    key_span: Any = None    # chainc.source.Span
    value_span: Any = None


@dataclass(frozen=True)
class Block:
    """An ordered key/value block `{ key : value ... }`; order is meaning (first match wins)."""

    entries: tuple[BlockEntry, ...]

    def keys(self) -> list[str]:
        return [e.key for e in self.entries]


# ---------------------------------------------------------------------------
# Parameter types


class TypeMismatch(Exception):
    """A value does not fit a parameter type; the message says what was expected."""


class ParamType:
    name = "value"

    def accept(self, value: Any) -> Any:
        """Return the value coerced to this type, or raise TypeMismatch."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name


def describe(value: Any) -> str:
    """How a value's type is named in messages ('a string', 'a rate', ...)."""
    kinds = [
        (bool, "a bool"), (int, "an integer"), (float, "a number"), (str, "a string"),
        (ipaddress.IPv4Address, "an IPv4 address"), (ipaddress.IPv6Address, "an IPv6 address"),
        (ipaddress.IPv4Network, "an IPv4 prefix"), (ipaddress.IPv6Network, "an IPv6 prefix"),
        (Mac, "a MAC address"), (Range, "a range"), (Rate, "a rate"), (Duration, "a duration"),
        (Size, "a size"), (Symbol, "a name"), (Block, "a block"), (tuple, "a list"),
        (list, "a list"), (Wildcard, "'*'"),
    ]
    for cls, text in kinds:
        if isinstance(value, cls):
            return text
    return type(value).__name__


class _Simple(ParamType):
    def __init__(self, name: str, classes: tuple[type, ...], article: str):
        self.name = name
        self._classes = classes
        self._article = article

    def accept(self, value: Any) -> Any:
        if isinstance(value, bool) and bool not in self._classes:
            raise TypeMismatch(f"expected {self._article}, got {describe(value)}")
        if isinstance(value, self._classes):
            return value
        raise TypeMismatch(f"expected {self._article}, got {describe(value)}")


class _Float(ParamType):
    name = "float"

    def accept(self, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise TypeMismatch(f"expected a number, got {describe(value)}")


class _Prefix(ParamType):
    """A CIDR prefix; a bare address is accepted as a host prefix (/32 or /128)."""

    name = "prefix"

    def accept(self, value: Any) -> Any:
        if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return value
        if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return ipaddress.ip_network(value)
        raise TypeMismatch(f"expected a CIDR prefix such as 10.0.0.0/8, got {describe(value)}")


class ListOf(ParamType):
    def __init__(self, item: ParamType, min_len: int = 0):
        self.item = item
        self.min_len = min_len
        self.name = f"list of {item.name}"

    def accept(self, value: Any) -> Any:
        if not isinstance(value, (tuple, list)):
            raise TypeMismatch(f"expected a list of {self.item.name}, got {describe(value)}")
        items = []
        for i, v in enumerate(value):
            try:
                items.append(self.item.accept(v))
            except TypeMismatch as exc:
                raise TypeMismatch(f"item {i + 1}: {exc}") from None
        if len(items) < self.min_len:
            raise TypeMismatch(f"expected at least {self.min_len} item(s), got {len(items)}")
        return tuple(items)


class Enum(ParamType):
    """One of a fixed set of names, written bare (`drop`) or quoted ("drop")."""

    def __init__(self, *choices: str):
        self.choices = choices
        self.name = " | ".join(choices)

    def accept(self, value: Any) -> Any:
        name = value.name if isinstance(value, Symbol) else value if isinstance(value, str) else None
        if name in self.choices:
            return name
        shown = f"'{name}'" if name is not None else describe(value)
        raise TypeMismatch(f"expected one of {', '.join(self.choices)}; got {shown}")


class BlockOf(ParamType):
    """A key/value block whose values have one type (`*` allowed as a key's value if wildcard)."""

    def __init__(self, value: ParamType, wildcard: bool = False):
        self.value = value
        self.wildcard = wildcard
        self.name = f"block of {value.name}"

    def accept(self, value: Any) -> Any:
        if not isinstance(value, Block):
            raise TypeMismatch(f"expected a {{ key : value }} block, got {describe(value)}")
        entries = []
        for e in value.entries:
            if e.value is WILDCARD:
                if not self.wildcard:
                    raise TypeMismatch(f"'{e.key}': '*' is not allowed here")
                entries.append(e)
                continue
            try:
                entries.append(BlockEntry(e.key, self.value.accept(e.value), e.key_span, e.value_span))
            except TypeMismatch as exc:
                raise TypeMismatch(f"'{e.key}': {exc}") from None
        return Block(tuple(entries))


class _Any(ParamType):
    name = "any"

    def accept(self, value: Any) -> Any:
        return value


INT = _Simple("int", (int,), "an integer")
FLOAT = _Float()
BOOL = _Simple("bool", (bool,), "true or false")
STRING = _Simple("string", (str,), "a string")
PATH = _Simple("path", (str,), "a file path string")  # resolved relative to the .chain file
MATCH = _Simple("match", (str,), "a match expression string")  # validated as pcap-filter
IPV4 = _Simple("ipv4", (ipaddress.IPv4Address,), "an IPv4 address")
IPV6 = _Simple("ipv6", (ipaddress.IPv6Address,), "an IPv6 address")
IP = _Simple("ip", (ipaddress.IPv4Address, ipaddress.IPv6Address), "an IP address")
PREFIX = _Prefix()
MAC = _Simple("mac", (Mac,), "a MAC address such as 02:00:00:00:00:01")
RANGE = _Simple("range", (Range,), "a range such as 1024..65535")
RATE = _Simple("rate", (Rate,), "a rate such as 10Gbps or 2Mpps")
DURATION = _Simple("duration", (Duration,), "a duration such as 30s or 100ms")
SIZE = _Simple("size", (Size,), "a size such as 64KiB")
ANY = _Any()
