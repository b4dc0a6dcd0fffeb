"""NAT test traffic: flows, their packets in both directions, and checksums verified by scapy.

Shared by the reference-body tests and the native ones. A flow is one inside
endpoint talking to one remote endpoint; `outbound` builds what the inside
host sends, `inbound` what the remote host sends back to an address and port
(the NAT's external endpoint before translation, the inside one after).
"""

from __future__ import annotations

from dataclasses import dataclass

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_Router_Alert
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

LAN_MAC, WAN_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


@dataclass(frozen=True)
class Flow:
    proto: str      # "tcp", "udp" or "icmp"
    inside: str     # inside host
    port: int       # its source port (ICMP: echo identifier)
    remote: str     # the outside host
    rport: int      # the outside host's port (unused for ICMP)
    vlan: int = 0   # 802.1Q tag, 0: none
    options: bool = False  # an IPv4 option (router alert)
    zero_udp_checksum: bool = False


def _ip(src: str, dst: str, flow: Flow, ident: int) -> IP:
    ip = IP(src=src, dst=dst, id=ident, ttl=64)
    if flow.options:
        ip.options = [IPOption_Router_Alert()]
    return ip


def _frame(flow: Flow, ip, l4, payload: bytes) -> bytes:
    eth = Ether(src=LAN_MAC, dst=WAN_MAC)
    if flow.vlan:
        eth = eth / Dot1Q(vlan=flow.vlan)
    pkt = eth / ip / l4 / Raw(payload)
    if flow.zero_udp_checksum and flow.proto == "udp":
        pkt[UDP].chksum = 0
    return bytes(pkt)


def outbound(flow: Flow, src: str | None = None, port: int | None = None, flags: str = "A",
             ident: int = 1, payload: bytes = b"out") -> bytes:
    """The inside host's packet, or (with `src`, `port`) the same after source NAT."""
    src = flow.inside if src is None else src
    port = flow.port if port is None else port
    if flow.proto == "tcp":
        l4 = TCP(sport=port, dport=flow.rport, flags=flags, seq=1000 + ident, ack=77)
    elif flow.proto == "udp":
        l4 = UDP(sport=port, dport=flow.rport)
    else:
        l4 = ICMP(type=8, id=port, seq=ident)
    return _frame(flow, _ip(src, flow.remote, flow, ident), l4, payload)


def inbound(flow: Flow, dst: str, port: int, flags: str = "A", ident: int = 2,
            payload: bytes = b"back") -> bytes:
    """The remote host's packet to `dst`:`port` (ICMP: an echo reply with that identifier)."""
    if flow.proto == "tcp":
        l4 = TCP(sport=flow.rport, dport=port, flags=flags, seq=5000 + ident, ack=1001)
    elif flow.proto == "udp":
        l4 = UDP(sport=flow.rport, dport=port)
    else:
        l4 = ICMP(type=0, id=port, seq=ident)
    return _frame(flow, _ip(flow.remote, dst, flow, ident), l4, payload)


def checksums_ok(frame: bytes) -> bool:
    """True if scapy, recomputing the IPv4 and TCP/UDP/ICMP checksums from scratch,
    finds exactly those of the frame (a UDP checksum of zero means none)."""
    pkt = Ether(frame)
    fresh = Ether(frame)
    del fresh[IP].chksum
    for layer in (TCP, UDP, ICMP):
        if layer in fresh and not (layer is UDP and pkt[UDP].chksum == 0):
            del fresh[layer].chksum
    return bytes(fresh) == frame


def endpoints(frame: bytes) -> tuple[str, str, int, int]:
    """(source, destination, source port or ICMP id, destination port or ICMP id)."""
    pkt = Ether(frame)
    if ICMP in pkt:
        return pkt[IP].src, pkt[IP].dst, pkt[ICMP].id, pkt[ICMP].id
    l4 = pkt[TCP] if TCP in pkt else pkt[UDP]
    return pkt[IP].src, pkt[IP].dst, l4.sport, l4.dport
