"""Scripted connections for the ConnTrack and FlowMonitor tests: TCP sessions whose
sequence numbers follow what each side sent, UDP and ICMP exchanges, with times.

A `Script` collects (ts_ns, frame) pairs; every helper appends to it and
returns the frame's index, so a test can look up what happened to a packet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Ether

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

SECOND = 10**9
MS = 10**6
ETH = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


@dataclass
class Script:
    """Frames with capture times, in order; `now` advances by `step` per frame."""

    now: int = 1_700_000_000 * SECOND
    step: int = MS
    frames: list[tuple[int, bytes]] = field(default_factory=list)

    def add(self, frame: bytes) -> int:
        self.frames.append((self.now, bytes(frame)))
        self.now += self.step
        return len(self.frames) - 1

    def wait(self, ns: int) -> None:
        self.now += ns

    def ip(self, src: str, dst: str):
        return IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)


@dataclass
class Tcp:
    """One TCP connection between a client and a server; each side's next sequence
    number follows what it has sent, and its ack what it has received."""

    script: Script
    client: tuple[str, int] = ("10.1.0.5", 40000)
    server: tuple[str, int] = ("192.0.2.10", 80)
    seq: list[int] = field(default_factory=lambda: [1000, 900000])
    window: list[int] = field(default_factory=lambda: [64240, 65160])
    acked: list[int] = field(default_factory=lambda: [0, 0])

    def send(self, side: int, flags: str, data: bytes = b"", seq: int | None = None,
             ack: int | None = None, window: int | None = None, options=None) -> int:
        """Side 0 (client) or 1 (server) sends a segment; returns its frame index."""
        src, dst = (self.client, self.server) if side == 0 else (self.server, self.client)
        s = self.seq[side] if seq is None else seq
        a = self.acked[side] if ack is None else ack
        tcp = TCP(sport=src[1], dport=dst[1], flags=flags, seq=s & 0xFFFFFFFF,
                  ack=(a if "A" in flags else 0) & 0xFFFFFFFF,
                  window=self.window[side] if window is None else window, options=options or [])
        frame = Ether(**ETH) / self.script.ip(src[0], dst[0]) / tcp / data
        if seq is None:
            self.seq[side] = (s + len(data) + ("S" in flags) + ("F" in flags)) & 0xFFFFFFFF
        self.acked[1 - side] = self.seq[side]
        return self.script.add(bytes(frame))

    def handshake(self, wscale: int | None = None) -> tuple[int, int, int]:
        opts = [("WScale", wscale)] if wscale is not None else None
        return (self.send(0, "S", options=opts), self.send(1, "SA", options=opts), self.send(0, "A"))

    def close(self) -> list[int]:
        """Client FIN, server ACK, server FIN, client ACK."""
        return [self.send(0, "FA"), self.send(1, "A"), self.send(1, "FA"), self.send(0, "A")]


def udp(script: Script, src: tuple[str, int], dst: tuple[str, int], data: bytes = b"q") -> int:
    return script.add(bytes(Ether(**ETH) / script.ip(src[0], dst[0])
                            / UDP(sport=src[1], dport=dst[1]) / data))


def ping(script: Script, src: str, dst: str, ident: int, reply: bool = False) -> int:
    if ":" in src:
        icmp = ICMPv6EchoReply(id=ident) if reply else ICMPv6EchoRequest(id=ident)
        return script.add(bytes(Ether(**ETH) / IPv6(src=src, dst=dst) / icmp))
    return script.add(bytes(Ether(**ETH) / IP(src=src, dst=dst) / ICMP(type=0 if reply else 8, id=ident)))


def unreachable(script: Script, router: str, quoted: bytes) -> int:
    """An ICMP(v6) destination unreachable from `router` quoting an IP packet
    (the frame's bytes after the Ethernet header), sent to its source."""
    if quoted[0] >> 4 == 6:
        ip = IPv6(quoted)
        return script.add(bytes(Ether(**ETH) / IPv6(src=router, dst=ip.src)
                                / ICMPv6DestUnreach(code=4) / bytes(ip)[:48]))
    ip = IP(quoted)
    return script.add(bytes(Ether(**ETH) / IP(src=router, dst=ip.src) / ICMP(type=3, code=3)
                            / bytes(ip)[:28]))


def workout(script: Script, flows: int = 12) -> None:
    """A bit of everything ConnTrack and FlowMonitor distinguish, over a few minutes:
    complete, reset, retransmitting and misbehaving TCP sessions over IPv4 and IPv6,
    UDP exchanges that time out, pings, ICMP errors about tracked flows."""
    for i in range(flows):
        v6 = i % 3 == 2
        client = (f"2001:db8:a:1::{i + 1:x}" if v6 else f"10.1.0.{i + 1}", 40000 + i)
        server = ("2001:db8::80" if v6 else f"192.0.2.{10 + i % 4}", (80, 443, 22, 25)[i % 4])
        t = Tcp(script, client=client, server=server, seq=[1000 + 7919 * i, 900000 + 104729 * i])
        t.handshake(wscale=7 if i % 2 else None)
        t.send(0, "PA", b"request %d" % i)
        t.send(1, "A")
        for _ in range(i % 4):
            t.send(1, "PA", bytes(300 + i))
        if i % 5 == 1:
            t.send(1, "PA", bytes(300 + i), seq=t.seq[1] - (300 + i))  # retransmission
        if i % 5 == 2:
            t.send(0, "PA", b"far", seq=t.seq[0] + 50_000_000)  # out of window
        if i % 4 == 3:
            t.send(0, "R")
            t.send(1, "PA", b"after reset")
        else:
            t.close()
        udp(script, (client[0], 5000 + i), (server[0], 53))
        if i % 2:
            udp(script, (server[0], 53), (client[0], 5000 + i))
        ping(script, client[0], server[0], 100 + i)
        if i % 3:
            ping(script, server[0], client[0], 100 + i, reply=True)
        probe = udp(script, (client[0], 33434 + i), (server[0], 33435))
        unreachable(script, "2001:db8::1" if v6 else "198.51.100.1", script.frames[probe][1][14:])
        script.wait((7 + 13 * (i % 4)) * SECOND)  # some UDP flows and closed sessions expire
    stray = Tcp(script, client=("10.1.9.9", 1234), server=("192.0.2.99", 80))
    stray.send(0, "PA", b"mid-stream", seq=5000, ack=6000)
    stray.send(1, "SA")
