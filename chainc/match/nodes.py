"""The match-expression tree.

Every node is a frozen dataclass. `span` is the [start, end) character range
of the text it was parsed from; it is not part of equality, so two
expressions that mean the same thing by construction compare equal however
they were written (`ip host 10.0.0.1` == `host 10.0.0.1`).

`str(expr)` is the canonical pcap-filter text: numbers instead of names,
redundant qualifiers dropped, parentheses wherever `and` and `or` meet (pcap
gives them equal precedence, which surprises readers). Parsing the canonical
text gives back an equal tree.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from chainc.match.names import FIELD_PROTOCOL, TCP_FLAG_NAMES, VLAN_TPIDS

Span = tuple[int, int]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Direction qualifiers, canonical spelling. EITHER is the default.
SRC, DST, EITHER, BOTH = "src", "dst", "src or dst", "src and dst"
DIRECTIONS = (SRC, DST, EITHER, BOTH)


def _span() -> Span:
    return field(default=(0, 0), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class MatchExpr:
    """A parsed match expression (see docs/match.md)."""

    span: Span = _span()

    def __str__(self) -> str:
        raise NotImplementedError

    def fields(self) -> frozenset[str]:
        """Header fields this node reads (docs/packet-metadata.md names)."""
        raise NotImplementedError

    def children(self) -> tuple["MatchExpr", ...]:
        return ()

    def __getstate__(self) -> dict:
        # The evaluator caches a compiled closure on the node; it is not data.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


def _dir_prefix(direction: str) -> str:
    return "" if direction == EITHER else direction + " "


def _dir_fields(direction: str, src: str, dst: str) -> set[str]:
    return {SRC: {src}, DST: {dst}}.get(direction, {src, dst})


# -- connectives -----------------------------------------------------------------


@dataclass(frozen=True)
class And(MatchExpr):
    items: tuple[MatchExpr, ...]

    def __str__(self) -> str:
        return " and ".join(_operand(i, Or) for i in self.items)

    def fields(self) -> frozenset[str]:
        return frozenset().union(*(i.fields() for i in self.items))

    def children(self) -> tuple[MatchExpr, ...]:
        return self.items


@dataclass(frozen=True)
class Or(MatchExpr):
    items: tuple[MatchExpr, ...]

    def __str__(self) -> str:
        return " or ".join(_operand(i, And) for i in self.items)

    def fields(self) -> frozenset[str]:
        return frozenset().union(*(i.fields() for i in self.items))

    def children(self) -> tuple[MatchExpr, ...]:
        return self.items


@dataclass(frozen=True)
class Not(MatchExpr):
    item: MatchExpr

    def __str__(self) -> str:
        return "not " + _operand(self.item, (And, Or))

    def fields(self) -> frozenset[str]:
        return self.item.fields()

    def children(self) -> tuple[MatchExpr, ...]:
        return (self.item,)


def _operand(expr: MatchExpr, needs_parens: type | tuple[type, ...]) -> str:
    return f"({expr})" if isinstance(expr, needs_parens) else str(expr)


# -- primitives ------------------------------------------------------------------

_L3 = frozenset({"eth.type"})
_PROTO_FIELDS = {
    "ip": _L3, "ip6": _L3, "arp": _L3, "rarp": _L3,
    "tcp": _L3 | {"ip.proto", "ip6.nxt"}, "udp": _L3 | {"ip.proto", "ip6.nxt"},
    "sctp": _L3 | {"ip.proto", "ip6.nxt"},
    "icmp": _L3 | {"ip.proto"}, "igmp": _L3 | {"ip.proto"}, "icmp6": _L3 | {"ip6.nxt"},
}
#: The protocol keywords that stand alone as a primitive.
PROTO_KEYWORDS = tuple(_PROTO_FIELDS)


@dataclass(frozen=True)
class Proto(MatchExpr):
    """`ip`, `ip6`, `arp`, `rarp`, `tcp`, `udp`, `sctp`, `icmp`, `icmp6`, `igmp`."""

    name: str

    def __str__(self) -> str:
        return self.name

    def fields(self) -> frozenset[str]:
        return _PROTO_FIELDS[self.name]


@dataclass(frozen=True)
class EtherProto(MatchExpr):
    """`ether proto N`: the EtherType after the VLAN tags; a TPID tests the outer tag."""

    value: int

    def __str__(self) -> str:
        return f"ether proto 0x{self.value:04x}"

    def fields(self) -> frozenset[str]:
        return frozenset({"vlan.tpid"} if self.value in VLAN_TPIDS else {"eth.type"})


@dataclass(frozen=True)
class IpProto(MatchExpr):
    """`ip proto N` (family 4), `ip6 proto N` (6), `proto N` (either: None)."""

    family: int | None
    value: int

    def __str__(self) -> str:
        prefix = {4: "ip ", 6: "ip6 ", None: ""}[self.family]
        return f"{prefix}proto {self.value}"

    def fields(self) -> frozenset[str]:
        names = {4: {"ip.proto"}, 6: {"ip6.nxt"}, None: {"ip.proto", "ip6.nxt"}}[self.family]
        return _L3 | names


@dataclass(frozen=True)
class Host(MatchExpr):
    """`[src|dst] host ADDR`: the family is the address's."""

    direction: str
    addr: IPAddress

    def __str__(self) -> str:
        return f"{_dir_prefix(self.direction)}host {self.addr}"

    def fields(self) -> frozenset[str]:
        fam = "ip" if self.addr.version == 4 else "ip6"
        return _L3 | _dir_fields(self.direction, f"{fam}.src", f"{fam}.dst")


@dataclass(frozen=True)
class Net(MatchExpr):
    """`[src|dst] net PREFIX`."""

    direction: str
    network: IPNetwork

    def __str__(self) -> str:
        return f"{_dir_prefix(self.direction)}net {self.network}"

    def fields(self) -> frozenset[str]:
        fam = "ip" if self.network.version == 4 else "ip6"
        return _L3 | _dir_fields(self.direction, f"{fam}.src", f"{fam}.dst")


@dataclass(frozen=True)
class EtherHost(MatchExpr):
    """`ether [src|dst] host MAC`."""

    direction: str
    mac: bytes

    def __str__(self) -> str:
        text = ":".join(f"{b:02x}" for b in self.mac)
        return f"ether {_dir_prefix(self.direction)}host {text}"

    def fields(self) -> frozenset[str]:
        return frozenset(_dir_fields(self.direction, "eth.src", "eth.dst"))


@dataclass(frozen=True)
class EtherCast(MatchExpr):
    """`ether broadcast` / `ether multicast` (also written bare)."""

    kind: str

    def __str__(self) -> str:
        return f"ether {self.kind}"

    def fields(self) -> frozenset[str]:
        return frozenset({"eth.dst"})


@dataclass(frozen=True)
class IpMulticast(MatchExpr):
    """`ip multicast` (224.0.0.0/4) / `ip6 multicast` (ff00::/8): the destination."""

    family: int

    def __str__(self) -> str:
        return "ip multicast" if self.family == 4 else "ip6 multicast"

    def fields(self) -> frozenset[str]:
        return _L3 | {"ip.dst" if self.family == 4 else "ip6.dst"}


@dataclass(frozen=True)
class Vlan(MatchExpr):
    """`vlan` (any tag) / `vlan ID` (the outermost tag's VLAN id)."""

    vid: int | None

    def __str__(self) -> str:
        return "vlan" if self.vid is None else f"vlan {self.vid}"

    def fields(self) -> frozenset[str]:
        return frozenset({"vlan.id"})


@dataclass(frozen=True)
class Port(MatchExpr):
    """`[tcp|udp] [src|dst] port N` and `... portrange LO-HI` (a port is LO == HI)."""

    direction: str
    l4: str | None  # "tcp", "udp" or None for either
    lo: int
    hi: int

    def __str__(self) -> str:
        proto = f"{self.l4} " if self.l4 else ""
        value = f"port {self.lo}" if self.lo == self.hi else f"portrange {self.lo}-{self.hi}"
        return f"{proto}{_dir_prefix(self.direction)}{value}"

    def fields(self) -> frozenset[str]:
        out = set(_L3 | {"ip.proto", "ip6.nxt"})
        for l4 in ([self.l4] if self.l4 else ["tcp", "udp"]):
            out |= _dir_fields(self.direction, f"{l4}.sport", f"{l4}.dport")
        return frozenset(out)


@dataclass(frozen=True)
class Length(MatchExpr):
    """`less N` (frame length <= N) / `greater N` (>= N)."""

    op: str
    value: int

    def __str__(self) -> str:
        return f"{self.op} {self.value}"

    def fields(self) -> frozenset[str]:
        return frozenset({"frame.len"})


#: The relational operators of a field test, canonical spelling.
RELOPS = ("==", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class FieldTest(MatchExpr):
    """`tcp[tcpflags] & MASK OP VALUE`, `icmp[icmptype] OP VALUE`, ... (one byte)."""

    field: str
    mask: int | None
    op: str
    value: int

    def __str__(self) -> str:
        proto = FIELD_PROTOCOL[self.field]
        mask = "" if self.mask is None else f" & {self._value(self.mask)}"
        return f"{proto}[{self.field}]{mask} {self.op} {self._value(self.value)}"

    def _value(self, n: int) -> str:
        if self.field != "tcpflags" or n == 0:
            return str(n)
        names = [name for name, bit in TCP_FLAG_NAMES.items() if n & bit]
        return names[0] if len(names) == 1 else "(" + "|".join(names) + ")"

    def fields(self) -> frozenset[str]:
        proto = FIELD_PROTOCOL[self.field]
        name = {"tcpflags": "tcp.flags", "icmptype": "icmp.type", "icmpcode": "icmp.code",
                "icmp6type": "icmp6.type", "icmp6code": "icmp6.code"}[self.field]
        return _PROTO_FIELDS[proto] | {name}


def walk(expr: MatchExpr):
    """Every node of `expr`, parents before children."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children()))
