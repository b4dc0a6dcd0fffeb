"""Software RSS: the Toeplitz hash a NIC computes, and captures split over queues with it."""

from __future__ import annotations

import ipaddress
import struct

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from chainc.backends.dpdk.rss import hash_input, queue_of, split_pcap, toeplitz
from chainc.passes.plan import DEFAULT_KEY, SYMMETRIC_KEY
from chainc.pcapfile import PcapPacket, read_pcap, write_pcap


def v4(src: str, dst: str, sport: int | None = None, dport: int | None = None) -> bytes:
    data = ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
    return data + (struct.pack("!HH", sport, dport) if sport is not None else b"")


def test_the_hash_matches_the_rss_specification_vectors():
    # Microsoft's RSS verification suite, IPv4 with and without TCP ports.
    assert toeplitz(DEFAULT_KEY, v4("66.9.149.187", "161.142.100.80", 2794, 1766)) == 0x51CCC178
    assert toeplitz(DEFAULT_KEY, v4("66.9.149.187", "161.142.100.80")) == 0x323E8FC2
    assert toeplitz(DEFAULT_KEY, v4("199.92.111.2", "65.69.140.83", 14230, 4739)) == 0xC626B0EA


def test_the_symmetric_key_hashes_both_directions_alike():
    for a, b, p, q in [("10.1.0.5", "192.0.2.10", 40000, 80), ("1.2.3.4", "5.6.7.8", 1, 65535)]:
        assert toeplitz(SYMMETRIC_KEY, v4(a, b, p, q)) == toeplitz(SYMMETRIC_KEY, v4(b, a, q, p))
    assert toeplitz(DEFAULT_KEY, v4("10.1.0.5", "192.0.2.10", 40000, 80)) != \
        toeplitz(DEFAULT_KEY, v4("192.0.2.10", "10.1.0.5", 80, 40000))


def test_what_a_nic_hashes():
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    tcp = bytes(eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=5, dport=6))
    assert hash_input(tcp) == v4("10.0.0.1", "10.0.0.2", 5, 6)
    frag = bytes(eth / IP(src="10.0.0.1", dst="10.0.0.2", frag=100) / UDP(sport=5, dport=6))
    assert hash_input(frag) == v4("10.0.0.1", "10.0.0.2")  # no ports past the first fragment
    arp = bytes(eth / ARP())
    assert hash_input(arp) is None and queue_of(arp, SYMMETRIC_KEY, 4) == 0


def test_a_capture_splits_by_flow_with_both_directions_together(tmp_path):
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    frames = []
    for i in range(200):
        a, b = f"10.0.{i % 7}.{i % 50 + 1}", "192.0.2.9"
        frames.append(bytes(eth / IP(src=a, dst=b) / UDP(sport=1000 + i, dport=53)))
        frames.append(bytes(eth / IP(src=b, dst=a) / UDP(sport=53, dport=1000 + i)))
    src = tmp_path / "in.pcap"
    write_pcap(str(src), [PcapPacket(i * 1000, f) for i, f in enumerate(frames)])
    parts = split_pcap(str(src), SYMMETRIC_KEY, 2, str(tmp_path))
    queues = [[p for p in read_pcap(path)] for path in parts]
    assert sum(len(q) for q in queues) == len(frames) and min(len(q) for q in queues) > 100
    for q in queues:
        assert [p.ts_ns for p in q] == sorted(p.ts_ns for p in q)  # order kept
        datas = {p.data for p in q}
        for k in range(0, len(frames), 2):  # a request and its reply share a queue
            assert (frames[k] in datas) == (frames[k + 1] in datas)
