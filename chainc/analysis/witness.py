"""Example packets: a concrete frame for a point of a box of the header space.

`realize(family, cube)` picks field values inside the cube that a real frame
can have, or returns None when no frame is in the cube. Most fields are
independent; what ties them together is the frame length (a TCP header
needs bytes, so `tcp and less 40` is empty), the L4 header (only TCP, UDP
and ICMP headers are parsed, so `l4ok` needs one of those protocols) and,
for IPv6, the extension headers (an upper-layer protocol of 0, 43, 44, 51 or
60 only happens when the walk stops after 8 headers). Values are preferred
from documentation ranges (192.0.2.0/24, 2001:db8::/32, 02:00:... MACs) so
an example reads as one.

`Witness.frame()` builds the bytes; the analyses parse them back with
chainc.packet and check that the match evaluator (or the Firewall's
reference body) sends them where the warning says.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Iterable

from chainc.match.names import VLAN_TPIDS

from .cubes import Cube, Intervals, iv_contains
from .space import ICMP_PROTO, IPV4, IPV6, L4_PROTOS, OTHER, RUNT, TOPS

#: IPv6 extension headers: as an upper-layer protocol they need the walk to stop at its limit.
IPV6_EXT = (0, 43, 44, 51, 60)
IPV6_EXT_LIMIT = 8
L4_HEADER = {6: 20, 17: 8, 1: 8, 58: 8}  # bytes each header takes (ICMP with its echo id)
_PROTO_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}
_TCP_FLAGS = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x20, "U"), (0x40, "E"),
              (0x80, "W"), (0x10, "."))

_PREFERRED = {
    "ethsrc": (0x020000000001,), "ethdst": (0x020000000002,), "vlan": (0, 1), "tpid": (0,),
    "vid": (100,), "etype": (0x88B5,), "tcpflags": (0x02, 0x10, 0x18), "icmptype": (8,),
    "icmpcode": (0,), "sport": (40000, 1024), "dport": (80, 1024),
}
_PREFERRED_ADDR = {
    IPV4: {"src": (int(ipaddress.ip_address("192.0.2.1")),),
           "dst": (int(ipaddress.ip_address("192.0.2.2")),)},
    IPV6: {"src": (int(ipaddress.ip_address("2001:db8::1")),),
           "dst": (int(ipaddress.ip_address("2001:db8::2")),)},
}


def _pick(s: Intervals | None, top: int, preferred: Iterable[int] = (), host: bool = False,
          avoid: Iterable[int] = ()) -> int | None:
    """A value of `s` (None: 0..top): a preferred one, else the lowest (a host address
    inside a prefix rather than the network address), never one of `avoid`."""
    s = s if s is not None else ((0, top),)
    avoid = set(avoid)
    for v in preferred:
        if iv_contains(s, v) and v not in avoid:
            return v
    for lo, hi in s:
        start = lo + 1 if host and hi > lo else lo
        for v in range(start, min(hi, start + len(avoid)) + 1):
            if v not in avoid:
                return v
    return None


class WitnessMismatch(AssertionError):
    """An example frame that does not take the path its warning claims: a bug in chainc."""


@dataclass(frozen=True)
class Witness:
    """A concrete frame: its family and a value for each field of that family."""

    family: str
    values: tuple[tuple[str, int], ...]

    @property
    def point(self) -> dict[str, int]:
        return dict(self.values)

    def frame(self) -> bytes:
        """The frame's bytes; the metadata parser reads back exactly these values."""
        v = dict(self.values)
        if self.family == RUNT:
            return bytes(v["len"])
        head = v["ethdst"].to_bytes(6, "big") + v["ethsrc"].to_bytes(6, "big")
        if v["vlan"]:
            head += struct.pack("!HH", VLAN_TPIDS[v["tpid"]], v["vid"])
        if self.family == OTHER:
            # An IPv4 or IPv6 EtherType with zero bytes after it is a malformed header.
            body = struct.pack("!H", v["etype"])
        else:
            body = _ip_packet(self.family, v)
        out = head + body
        return out + bytes(v["len"] - len(out))

    def describe(self, shown: Iterable[str] = ()) -> str:
        """One line, tcpdump-like; `shown` adds MACs, VLAN and length where a test reads them."""
        v = dict(self.values)
        shown = set(shown)
        if self.family == RUNT:
            return f"a {v['len']}-byte frame (shorter than an Ethernet header)"
        if self.family == OTHER:
            text = f"an Ethernet frame of type 0x{v['etype']:04x}"
            if v["etype"] in (0x0800, 0x86DD):
                text += f" with a malformed IPv{4 if v['etype'] == 0x0800 else 6} header"
        else:
            text = _describe_ip(self.family, v)
        if v["vlan"]:
            text += f" tagged VLAN {v['vid']}"
            if "tpid" in shown or v["tpid"]:
                text += f" (TPID 0x{VLAN_TPIDS[v['tpid']]:04x})"
        if shown & {"ethsrc", "ethdst"}:
            text += f", from {_mac(v['ethsrc'])} to {_mac(v['ethdst'])}"
        if "len" in shown:
            text += f", {v['len']} bytes"
        return text


def realize(family: str, cube: Cube) -> Witness | None:
    """A witness inside `cube` (a cube of `family`), or None if no frame is in it."""
    tops = TOPS[family]
    if family == RUNT:
        length = _pick(cube.get("len"), tops["len"], (10,))
        return Witness(RUNT, (("len", length),)) if length is not None else None
    for tagged in (0, 1):
        if not iv_contains(cube.get("vlan", ((0, 1),)), tagged):
            continue
        base = 14 + 4 * tagged
        for fields, extra in _layouts(family, cube):
            length = _pick(_at_least(cube.get("len"), base + extra), tops["len"], (60,))
            if length is None:
                continue
            values = dict(_DEFAULTS[family], len=length, vlan=tagged, **fields)
            for name, s in cube.items():
                if name not in fields and name not in ("len", "vlan"):
                    pref = _PREFERRED_ADDR.get(family, {}).get(name) or _PREFERRED.get(name, ())
                    values[name] = _pick(s, tops[name], pref, host=name in ("src", "dst"))
            return Witness(family, tuple((name, values[name]) for name in tops))
    return None


def _defaults(family: str) -> dict[str, int]:
    """The value of each field that a cube leaves free."""
    return {name: _pick(None, top, _PREFERRED_ADDR.get(family, {}).get(name) or
                        _PREFERRED.get(name, ()), host=name in ("src", "dst"))
            for name, top in TOPS[family].items()}


_DEFAULTS = {family: _defaults(family) for family in TOPS}


def _at_least(s: Intervals | None, n: int) -> Intervals:
    s = s if s is not None else ((0, TOPS[IPV4]["len"]),)
    return tuple((max(lo, n), hi) for lo, hi in s if hi >= n)


def _layouts(family: str, cube: Cube) -> list[tuple[dict[str, int], int]]:
    """Ways to build the frame's body: (fields fixed by the choice, bytes after the L2 header).

    Every choice that can be the shortest is listed, so a length limit never hides a frame.
    """
    if family == OTHER:
        etype = _pick(cube.get("etype"), 0xFFFF, _PREFERRED["etype"], avoid=VLAN_TPIDS)
        return [({"etype": etype}, 0)] if etype is not None else []
    protos = cube.get("proto", ((0, 255),))
    out = []
    if iv_contains(cube.get("l4ok", ((0, 1),)), 1):
        for p in (6, 17, ICMP_PROTO[family]):
            if iv_contains(protos, p) and p in L4_PROTOS[family]:
                out.append(({"l4ok": 1, "proto": p}, _ip_header(family) + L4_HEADER[p]))
    if iv_contains(cube.get("l4ok", ((0, 1),)), 0):
        # Without an L4 header: a protocol whose header is not parsed, else a truncated one.
        ext = IPV6_EXT if family == IPV6 else ()
        p = _pick(protos, 255, (47,), avoid=(*L4_PROTOS[family], *ext))
        if p is None:
            p = _pick(protos, 255, avoid=ext)
        if p is not None:
            out.append(({"l4ok": 0, "proto": p}, _ip_header(family)))
        elif ext:
            p = _pick(protos, 255)
            if p is not None:
                out.append(({"l4ok": 0, "proto": p}, 40 + 8 * IPV6_EXT_LIMIT))
    return out


def _ip_header(family: str) -> int:
    return 20 if family == IPV4 else 40


def _l4_bytes(family: str, v: dict[str, int]) -> bytes:
    if not v["l4ok"]:
        return b""  # a TCP/UDP/ICMP protocol then has a truncated header
    proto = v["proto"]
    if proto == 6:
        return struct.pack("!HHIIBBHHH", v["sport"], v["dport"], 0, 0, 5 << 4, v["tcpflags"],
                           65535, 0, 0)
    if proto == 17:
        return struct.pack("!HHHH", v["sport"], v["dport"], 8, 0)
    return struct.pack("!BBHHH", v["icmptype"], v["icmpcode"], 0, 0, 0)


def _ip_packet(family: str, v: dict[str, int]) -> bytes:
    l4 = _l4_bytes(family, v)
    if family == IPV4:
        header = bytearray(struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(l4), 0, 0, 64,
                                       v["proto"], 0, v["src"], v["dst"]))
        struct.pack_into("!H", header, 10, _checksum(bytes(header)))
        return struct.pack("!H", 0x0800) + bytes(header) + l4
    nh = v["proto"]
    chain = b""
    if not v["l4ok"] and nh in IPV6_EXT:
        # Eight destination-options headers: the walk stops there with `nh` unread.
        chain = b"".join(struct.pack("!BB6x", 60 if i < IPV6_EXT_LIMIT - 1 else nh, 0)
                         for i in range(IPV6_EXT_LIMIT))
        nh = 60
    payload = chain + l4
    header = struct.pack("!IHBB", 6 << 28, len(payload), nh, 64)
    header += v["src"].to_bytes(16, "big") + v["dst"].to_bytes(16, "big")
    return struct.pack("!H", 0x86DD) + header + payload


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _mac(n: int) -> str:
    return ":".join(f"{b:02x}" for b in n.to_bytes(6, "big"))


def _describe_ip(family: str, v: dict[str, int]) -> str:
    version = "IPv4" if family == IPV4 else "IPv6"
    src = ipaddress.ip_address(v["src"]) if family == IPV4 else ipaddress.IPv6Address(v["src"])
    dst = ipaddress.ip_address(v["dst"]) if family == IPV4 else ipaddress.IPv6Address(v["dst"])
    proto = v["proto"]
    name = _PROTO_NAMES.get(proto) if proto in L4_PROTOS[family] else None
    if not v["l4ok"]:
        head = f"{version} {name}" if name else f"{version} protocol {proto}"
        text = f"{head} {src} -> {dst}"
        if name:
            text += f" with a truncated {name} header"
        elif family == IPV6 and proto in IPV6_EXT:
            text += f" after {IPV6_EXT_LIMIT} extension headers"
        return text
    if proto in (6, 17):
        a, b = (f"[{src}]", f"[{dst}]") if family == IPV6 else (src, dst)
        text = f"{version} {name} {a}:{v['sport']} -> {b}:{v['dport']}"
        if proto == 6:
            flags = "".join(c for bit, c in _TCP_FLAGS if v["tcpflags"] & bit)
            text += f" [{flags or 'none'}]"
        return text
    return f"{version} {name} {src} -> {dst} type {v['icmptype']} code {v['icmpcode']}"
