"""The malformed-packet corpus (tests/malformed.py) holds what the issue lists, writes
a readable pcap, and every reference body that needs no parameter survives it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from malformed import GENERATOR, _bases, corpus
from nfhelpers import stdlib

from chainc import packet as P
from chainc.driver import load_chain
from chainc.nfs.spec import REQUIRED
from chainc.pcapfile import read_pcap
from chainc.sim import simulate

CASES = corpus()
FRAMES = {c.frame for c in CASES}


def test_every_base_frame_is_cut_at_every_byte():
    for base in _bases():
        missing = [n for n in range(len(base.frame) + 1) if base.frame[:n] not in FRAMES]
        assert not missing, f"{base.label}: no cut at {missing}"


def test_it_has_the_listed_kinds_of_frame():
    sizes = {len(f) for f in FRAMES}
    assert 0 in sizes and 9000 in sizes and {2047, 2048, 2049} <= sizes  # multi-segment mbufs
    assert bytes(60) in FRAMES and b"\xff" * 60 in FRAMES
    labels = " | ".join(c.label for c in CASES)
    for kind in ("IPv4 IHL 0", "IPv4 IHL 15", "total length 65535", "total length 19",
                 "TCP data offset 15", "TCP data offset 0", "IPv4 TCP fragment, first",
                 "IPv4 TCP fragment, middle", "IPv6 UDP fragment, non-first", "EtherType 0x88cc",
                 "IPv6 20 extension headers", "6 VLAN tags", "QinQ"):
        assert kind in labels, kind
    seen = 0
    for c in CASES:
        seen |= P.parse_meta(c.frame).flags  # the Python parser never raises
    for flag in (P.META_L3_BAD, P.META_L4_BAD, P.META_IP_OPTIONS, P.META_IPV6_EXT,
                 P.META_IPV6_EXT_LIMIT, P.META_VLAN_LIMIT, P.META_VLAN_TRUNC, P.META_FRAG_FIRST,
                 P.META_FRAG_NONFIRST, P.META_L4_OK):
        assert seen & flag, hex(flag)


def test_it_holds_the_example_malformed_capture():
    from malformed import g

    assert all(rec.frame in FRAMES for _, rec in g.build_malformed())
    assert GENERATOR.name == "generate.py"


def test_the_command_writes_the_corpus_as_a_pcap(tmp_path):
    out = tmp_path / "corpus.pcap"
    proc = subprocess.run([sys.executable, "tests/malformed.py", str(out)], capture_output=True,
                          text=True, cwd=GENERATOR.parents[2])
    assert proc.returncode == 0, proc.stderr
    assert [p.data for p in read_pcap(str(out))] == [c.frame for c in CASES]


PARAMS = {"Sampler": "every: 3"}  # NFs whose defaults alone are not a valid instance


def _without_files() -> list[str]:
    """NFs with a reference body that need no rule file or other required parameter."""
    reg = stdlib()
    return sorted(s.name for s in reg.specs() if reg.reference_class(s) is not None
                  and all(p.default is not REQUIRED for p in s.params))


@pytest.mark.parametrize("name", _without_files())
def test_reference_bodies_survive_the_corpus(name, tmp_path):
    spec = stdlib().get(name)
    outs = spec.output_ports({p.name: p.default for p in spec.params})
    text = 'port wan = pcap("in.pcap")\nport lan = pcap(out: "o.pcap")\n'
    text += f"nf x = {name}({PARAMS.get(name, '')})\nwan -> x\n"
    text += "".join(f"x.{o} -> lan\n" for o in outs)
    (tmp_path / "c.chain").write_text(text)
    graph = load_chain(str(tmp_path / "c.chain")).graph
    result = simulate(graph, {"wan": [c.frame for c in CASES]}, stdlib())
    node = next(n for n in result.stats["nodes"] if n["id"] == "x")
    assert node["in"] == len(CASES)
