"""Helpers shared by the native tests: load a chain from text, make traffic."""

from __future__ import annotations

from pathlib import Path

from chainc.driver import load_chain
from chainc.ir.graph import ChainGraph


def chain_from_text(tmp_path: Path, text: str, name: str = "t") -> ChainGraph:
    path = tmp_path / f"{name}.chain"
    path.write_text(text)
    return load_chain(str(path)).graph


def mixed_frames(n: int = 600, seed: int = 7) -> list[bytes]:
    """TCP, UDP, ICMP over IPv4 and IPv6, some VLAN-tagged, some malformed."""
    import random

    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP, Dot1Q, Ether

    rnd = random.Random(seed)
    frames: list[bytes] = []
    for i in range(n):
        eth = Ether(src=f"02:00:00:00:{i % 7:02x}:01", dst="02:00:00:00:00:02")
        kind = rnd.randrange(8)
        payload = b"x" * rnd.choice([0, 10, 100, 600, 1400])
        if kind == 0:
            pkt = eth / IP(src=f"10.0.{i % 5}.{i % 200 + 1}", dst="192.0.2.10") / TCP(
                sport=1024 + i, dport=rnd.choice([80, 443, 22])) / payload
        elif kind == 1:
            pkt = eth / IP(src="10.1.0.1", dst="192.0.2.53") / UDP(sport=5000 + i, dport=53) / payload
        elif kind == 2:
            pkt = eth / IP(src="10.2.0.1", dst="192.0.2.1") / ICMP(id=i) / payload
        elif kind == 3:
            pkt = eth / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=2000 + i, dport=443) / payload
        elif kind == 4:
            pkt = eth / Dot1Q(vlan=100) / IP(src="10.3.0.1", dst="192.0.2.80") / TCP(dport=80) / payload
        elif kind == 5:
            pkt = eth / ARP(psrc="10.0.0.1", pdst="10.0.0.2")
        elif kind == 6:
            pkt = eth / IP(src="10.4.0.1", dst="192.0.2.9") / UDP(sport=9, dport=rnd.randrange(65536)) / payload
        else:
            whole = bytes(eth / IP(src="10.5.0.1", dst="192.0.2.7") / TCP(dport=80) / payload)
            frames.append(whole[: rnd.randrange(1, len(whole))])  # truncated
            continue
        frames.append(bytes(pkt))
    return frames


def write_frames(path: Path, frames: list[bytes]) -> Path:
    from chainc.pcapfile import PcapPacket, write_pcap

    write_pcap(str(path), [PcapPacket(i * 1000, f) for i, f in enumerate(frames)])
    return path


def read_frames(path: Path) -> list[bytes]:
    from chainc.pcapfile import read_pcap

    if not path.exists():
        return []
    return [p.data for p in read_pcap(str(path))]
