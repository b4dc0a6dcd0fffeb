"""Maglev consistent hashing and the flow hash, as the LoadBalancer's description defines them.

Plain Python: the reference body and the tests use it; the native body has its
own implementation in native.pxd, and the differential tests hold the two
together.
"""

from __future__ import annotations

import ipaddress

MASK64 = (1 << 64) - 1
OFFSET_SEED = 0x6D61676C65760001  # "maglev" + 1
SKIP_SEED = 0x6D61676C65760002
FLOW_SEED = 0x6D61676C65760003


def fmix64(x: int) -> int:
    """MurmurHash3's 64-bit finaliser."""
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & MASK64
    return x ^ (x >> 33)


def address_words(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[int, int]:
    """An address as two 64-bit words: (IPv4 value, 0), or the IPv6 high and low halves."""
    value = int(addr)
    if addr.version == 4:
        return value, 0
    return value >> 64, value & MASK64


def address_hash(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, seed: int) -> int:
    hi, lo = address_words(addr)
    return fmix64(fmix64(hi ^ seed) ^ lo)


def flow_hash(src: ipaddress.IPv4Address | ipaddress.IPv6Address, proto: int, sport: int,
              dport: int) -> int:
    hi, lo = address_words(src)
    return fmix64(fmix64(fmix64(hi ^ FLOW_SEED) ^ lo) ^ ((proto << 32) | (sport << 16) | dport))


def lookup_table(backends, up: list[bool], size: int) -> list[int]:
    """The Maglev lookup table: `size` (a prime) slots, each a backend index, filled
    round-robin from each up backend's permutation (offset + j * skip) mod size.
    Empty (all -1) when no backend is up."""
    live = [i for i, ok in enumerate(up) if ok]
    table = [-1] * size
    if not live:
        return table
    offset = {i: address_hash(backends[i], OFFSET_SEED) % size for i in live}
    skip = {i: address_hash(backends[i], SKIP_SEED) % (size - 1) + 1 for i in live}
    nxt = dict.fromkeys(live, 0)
    filled = 0
    while True:
        for i in live:
            slot = (offset[i] + nxt[i] * skip[i]) % size
            while table[slot] >= 0:
                nxt[i] += 1
                slot = (offset[i] + nxt[i] * skip[i]) % size
            table[slot] = i
            nxt[i] += 1
            filled += 1
            if filled == size:
                return table
