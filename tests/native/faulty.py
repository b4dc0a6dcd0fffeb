"""A chain of deliberately broken NFs (tests/data/faultnfs) for the sanitizer and verify tests.

The text differs only in Skew's `after`, which its native body ignores, so
every variant is the same binary: one sanitized build serves all the tests.
"""

from __future__ import annotations

from pathlib import Path

FAULT_NFS = Path(__file__).resolve().parents[1] / "data" / "faultnfs"


def faulty_chain(after: int = 0) -> str:
    return f'''
port wan = pcap("in.pcap")
port lan = pcap(out: "lan.pcap")
nf cls = Classifier {{
    shift : "udp dst port 9"
    rest  : *
}}
wan -> cls
cls.shift -> Fault(kind: shift) -> lan
cls.rest -> Fault(kind: overread) -> Skew(after: {after}) -> lan
'''
