"""Receive-side scaling in software, for runs without a NIC.

A NIC with RSS hashes each packet's addresses and ports with a Toeplitz key
and puts it on the receive queue its redirection table names. net_pcap
devices do no RSS, but take one `rx_pcap` file per queue: `chainc run`
splits an input capture into those files exactly as a NIC with the plan's
key would (the hash is DPDK's `rte_softrss`; the redirection table is the
usual one of 128 entries filled round-robin), so a replicated stage sees
the packets its replicas would see on real hardware.
"""

from __future__ import annotations

import os
import struct

from chainc.packet import META_FRAG_NONFIRST, META_L3_IPV4, META_L3_IPV6, META_L4_OK, parse_meta
from chainc.pcapfile import PcapWriter, iter_pcap

RETA_SIZE = 128


def toeplitz(key: bytes, data: bytes) -> int:
    """The 32-bit Toeplitz hash of `data` under `key` (at least len(data) + 4 bytes)."""
    bits = len(key) * 8
    k = int.from_bytes(key, "big")
    result = 0
    for i, byte in enumerate(data):
        for b in range(8):
            if byte & (0x80 >> b):
                shift = bits - 32 - (i * 8 + b)
                result ^= (k >> shift) & 0xFFFFFFFF
    return result


def hash_input(frame: bytes) -> bytes | None:
    """What a NIC hashes: source and destination address, then the TCP/UDP source and
    destination ports when there are some; None for a packet it does not hash."""
    meta = parse_meta(frame)
    if meta.flags & META_L3_IPV4:
        head = struct.pack("!II", meta.ip4_src, meta.ip4_dst)
    elif meta.flags & META_L3_IPV6:
        head = struct.pack("!QQQQ", meta.ip6_src_hi, meta.ip6_src_lo, meta.ip6_dst_hi, meta.ip6_dst_lo)
    else:
        return None
    if meta.flags & META_L4_OK and not meta.flags & META_FRAG_NONFIRST and meta.ip_proto in (6, 17):
        return head + struct.pack("!HH", meta.sport, meta.dport)
    return head


def queue_of(frame: bytes, key: bytes, queues: int) -> int:
    data = hash_input(frame)
    if data is None:
        return 0  # a NIC leaves what it cannot hash on queue 0
    return (toeplitz(key, data) % RETA_SIZE) % queues


def split_pcap(path: str, key: bytes, queues: int, out_dir: str) -> list[str]:
    """Write one pcap per receive queue; returns their paths, queue 0 first."""
    paths = [os.path.join(out_dir, f"q{q}-{os.path.basename(path)}") for q in range(queues)]
    writers = [PcapWriter(p) for p in paths]
    try:
        for pkt in iter_pcap(path):
            writers[queue_of(pkt.data, key, queues)].write(pkt)
    finally:
        for w in writers:
            w.close()
    return paths
