"""Firewall chains built and run natively (rte_acl) over net_pcap vdevs, against `chainc sim`.

One binary holds three independent Firewall chains, each fed from its own
input port (a build costs about 25 s, so they share one): a gateway with
every action (allow, deny to a `denied` port, `to PORT`, drops for both
reasons) over valid and malformed frames; the shared ClassBench rule set;
and 10,000 rules. Every output frame must be an input frame, unchanged, with
its checksums still valid, on the port and in the order the reference body
gives it; the per-NF counters must agree. The example chain is also run
through the `chainc` command line.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from scapy.all import ICMP, IP, TCP, UDP, Ether, IPv6, IPv6ExtHdrFragment, Raw

from chainc.backends.dpdk import build as dpdk_build
from chainc.backends.dpdk import runner
from chainc.nfs.registry import Registry
from chainc.pcapfile import read_pcap
from chainc.sim import simulate

from test_nf_firewall import (ARP_REQ, BAD_IHL, FRAG_FIRST, FRAG_LATER, LLDP, OPTIONS, TRUNC_TCP,
                              V6_FRAG_LATER, V6_HBH, VLAN_SSH, classbench_file, random_frames, rules_mod)
from test_nf_firewall_native import classbench_trace

from .chains import chain_from_text, mixed_frames, read_frames, write_frames

pytestmark = pytest.mark.dpdk

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

GATEWAY_RULES = """\
# every action, IPv4 and IPv6, L4 fields, EtherType tests
allow arp
to audit   tcp dst port 22 and src net 10.1.0.0/16
deny       tcp dst port 22
to inspect tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and not dst port 80
allow      tcp port 80 or tcp port 443 or udp port 53
allow      icmp[icmptype] == icmp-echo or icmp6
to audit   ip6 and dst net 2001:db8::/32 and not udp
deny       ether proto 0x0800 and not ip
allow      dst net 10.0.0.0/8 or dst net 192.0.2.0/24
"""

SECOND_RULES = """\
deny  udp
allow ip or ip6
"""

CHAIN = """\
# the gateway: every action
port wan     = pcap("gw.pcap")
port ok      = pcap(out: "ok.pcap")
port denied  = pcap(out: "denied.pcap")
port audit   = pcap(out: "audit.pcap")
port inspect = pcap(out: "inspect.pcap")
nf fw  = Firewall(rules: "gateway.acl", default: allow, denied: output)
nf fw2 = Firewall(rules: "second.acl")
wan -> fw -> fw2 -> ok
fw.denied  -> denied
fw.audit   -> audit
fw.inspect -> inspect

# ClassBench
port cb_in     = pcap("cb.pcap")
port cb_ok     = pcap(out: "cb_ok.pcap")
port cb_denied = pcap(out: "cb_denied.pcap")
nf cb = Firewall(rules: CLASSBENCH, format: classbench, denied: output)
cb_in -> cb -> cb_ok
cb.denied -> cb_denied

# 10,000 rules
port big_in = pcap("big.pcap")
port big_ok = pcap(out: "big_ok.pcap")
port big_x  = pcap(out: "big_x.pcap")
nf big = Firewall(rules: "big.acl", default: allow)
big_in -> big -> big_ok
big.x -> big_x
"""

OUTPUTS = {"wan": ["ok", "denied", "audit", "inspect"], "cb_in": ["cb_ok", "cb_denied"],
           "big_in": ["big_ok", "big_x"]}



def _comparable(stats: dict) -> dict:
    out = {}
    for node in stats["nodes"]:
        if node["type"] == "Firewall":
            drops = {k: v for k, v in node["drops"].items() if v}
            out[node["id"]] = (node["in"], dict(node["out"]), drops, dict(node.get("counters") or {}))
    return out


def _valid_checksums(frame: bytes) -> bool:
    """Whether the IPv4 header checksum and the TCP/UDP checksum (with the pseudo-header)
    of a frame check out, computed by scapy over the frame's own bytes."""
    from scapy.layers.inet import in4_chksum
    from scapy.layers.inet6 import in6_chksum
    from scapy.utils import checksum

    from chainc.packet import META_FRAG, META_L3_IPV4, META_L3_IPV6, META_L4_OK, parse_meta

    m = parse_meta(frame)
    end = m.l3_off + m.ip_len
    if m.flags & META_L3_IPV4 and checksum(frame[m.l3_off:m.l3_off + m.ip_ihl * 4]) != 0:
        return False
    if not (m.flags & META_L4_OK and m.ip_proto in (6, 17)) or m.flags & META_FRAG:
        return True
    segment = frame[m.l4_off:end]
    if m.ip_proto == 17 and segment[6:8] == b"\0\0" and m.flags & META_L3_IPV4:
        return True  # no UDP checksum
    if m.flags & META_L3_IPV4:
        return in4_chksum(m.ip_proto, IP(frame[m.l3_off:end]), segment) == 0
    if m.flags & META_L3_IPV6:
        return in6_chksum(m.ip_proto, IPv6(frame[m.l3_off:m.l3_off + 40]), segment) == 0
    return True


def edge_frames() -> list[bytes]:
    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    return [
        bytes(e / IP(src="10.1.2.3", dst="192.0.2.10") / TCP(sport=40000, dport=22, flags="S")),
        bytes(e / IP(src="203.0.113.9", dst="192.0.2.10") / TCP(sport=40000, dport=22, flags="S")),
        bytes(e / IP(src="203.0.113.9", dst="192.0.2.10") / TCP(sport=40000, dport=25, flags="S")),
        bytes(e / IP(src="203.0.113.9", dst="192.0.2.10") / TCP(sport=40000, dport=80, flags="S")),
        bytes(e / IP(src="203.0.113.9", dst="192.0.2.10") / UDP(sport=40000, dport=53) / b"q"),
        bytes(e / IP(src="203.0.113.9", dst="198.51.100.1") / ICMP(type=8)),
        bytes(e / IP(src="203.0.113.9", dst="198.51.100.1") / ICMP(type=13)),
        bytes(e / IPv6(src="2001:db8:a::1", dst="2001:db8::1") / TCP(dport=8443, flags="A")),
        bytes(e / IPv6(src="2001:db8:a::1", dst="2001:db8::1") / UDP(dport=8443)),
        bytes(e / IPv6(src="2001:db8:a::1", dst="2001:db8::1") / IPv6ExtHdrFragment(m=1) / UDP(dport=53)),
        bytes(e / IPv6(src="fe80::1", dst="ff02::1") / Raw(b"\x00" * 8)),
        ARP_REQ, LLDP, BAD_IHL, FRAG_FIRST, FRAG_LATER, OPTIONS, TRUNC_TCP, V6_HBH, V6_FRAG_LATER, VLAN_SSH,
        b"", b"\x01", b"\xff" * 13, b"\x00" * 14,
    ]


def classbench_like_rules(n: int, seed: int) -> str:
    """`n` chainc rules shaped like the shared ClassBench set (its prefix lengths, ports and
    protocols), on random addresses, a fifth of them IPv6, with mixed actions."""
    rng = random.Random(seed)
    base, _ = rules_mod.parse_classbench(classbench_file().read_text())
    lines = []
    for _ in range(n):
        r = rng.choice(base)
        v6 = rng.random() < 0.2
        parts = []
        for d, net in (("src", r.src), ("dst", r.dst)):
            if net.prefixlen:
                if v6:
                    plen = min(128, 32 + net.prefixlen * 3)
                    addr = (0x20010DB8 << 96) | rng.getrandbits(96)
                else:
                    plen = max(8, net.prefixlen)
                    addr = (10 << 24) | rng.getrandbits(24)
                parts.append(f"{d} net {ipaddress.ip_network((addr, plen), strict=False)}")
        value, mask = r.proto
        l4 = {6: "tcp", 17: "udp"}.get(value) if mask == 0xFF else None
        if value == 1 and mask == 0xFF:
            parts.append("icmp6" if v6 else "icmp")
        for d, (lo, hi) in (("src", r.sport), ("dst", r.dport)):
            if (lo, hi) != (0, 65535):
                kind = f"port {lo}" if lo == hi else f"portrange {lo}-{hi}"
                parts.append(f"{l4 + ' ' if l4 else ''}{d} {kind}")
        if l4 and not any("port" in p for p in parts):
            parts.append(l4)
        action = rng.choice(["allow", "allow", "deny", "to x"])
        lines.append(f"{action} {' and '.join(parts) or '*'}")
    return "\n".join(lines) + "\n"


def _nets(expr):
    from chainc.match.nodes import Net, walk
    return [n for n in walk(expr) if isinstance(n, Net)] if expr is not None else []


def _ports(expr):
    from chainc.match.nodes import Port, walk
    return [n for n in walk(expr) if isinstance(n, Port)] if expr is not None else []


def big_frames(text: str, rng: random.Random) -> list[bytes]:
    """Headers inside the rules' own prefixes and port ranges, so that lookups end on rules
    all over the list, and random frames."""
    rules, errors = rules_mod.parse_chainc(text)
    assert not errors and len(rules) == 10_000
    frames = []
    for rule in rng.sample(rules, 300):
        nets = {n.direction: n.network for n in _nets(rule.match)}
        v6 = any(n.version == 6 for n in nets.values())

        def addr(d):
            n = nets.get(d)
            if n is None:
                return "2001:db8::9" if v6 else "10.9.9.9"
            return str(n.network_address + rng.randrange(min(n.num_addresses, 2**32)))
        ports = {p.direction: p for p in _ports(rule.match)}
        sport = rng.randint(ports["src"].lo, ports["src"].hi) if "src" in ports else rng.randrange(65536)
        dport = rng.randint(ports["dst"].lo, ports["dst"].hi) if "dst" in ports else rng.randrange(65536)
        ip = IPv6(src=addr("src"), dst=addr("dst")) if v6 else IP(src=addr("src"), dst=addr("dst"))
        l4 = UDP(sport=sport, dport=dport) if "udp" in rule.match_text else TCP(sport=sport, dport=dport)
        frames.append(bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ip / l4))
    return frames + random_frames(rng, 200)


@pytest.fixture(scope="module")
def firewalls(build_cache, tmp_path_factory):
    """The three chains built into one binary, run natively and simulated, over the same frames."""
    tmp = tmp_path_factory.mktemp("firewall")
    (tmp / "gateway.acl").write_text(GATEWAY_RULES)
    (tmp / "second.acl").write_text(SECOND_RULES)
    big = classbench_like_rules(10_000, seed=5)
    (tmp / "big.acl").write_text(big)
    chain = CHAIN.replace("CLASSBENCH", json.dumps(str(classbench_file())))
    graph = chain_from_text(tmp, chain, "firewalls")

    valid = mixed_frames(400, seed=11) + random_frames(random.Random(5), 400)
    malformed = [p.data for p in read_pcap(str(EXAMPLES / "traffic" / "malformed.pcap"))]
    cb_rules, _ = rules_mod.parse_classbench(classbench_file().read_text())
    rng = random.Random(9)
    cb = classbench_trace(cb_rules, rng, 800) + random_frames(rng, 200)
    bigf = big_frames(big, random.Random(6))
    inputs = {"wan": [f for f in valid + edge_frames() + malformed if f], "cb_in": cb, "big_in": bigf}
    checked = set(valid) | set(cb) | set(bigf[:300])  # built with valid checksums

    result = dpdk_build.build(graph, cache_dir=build_cache)
    pcaps = {port: write_frames(tmp / f"{port}.pcap", frames) for port, frames in inputs.items()}
    outs = {p: tmp / f"out-{p}.pcap" for ports in OUTPUTS.values() for p in ports}
    opts = runner.RunOptions(inputs={k: str(v) for k, v in pcaps.items()},
                             outputs={k: str(v) for k, v in outs.items()},
                             stats_json=str(tmp / "stats.json"), quiet=True)
    proc = runner.run(result.binary, graph, opts, capture=True, timeout=300)
    assert proc.returncode == 0, f"binary failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    stats = json.loads((tmp / "stats.json").read_text())
    sim = simulate(graph, inputs, Registry.load())
    return {"inputs": inputs, "outputs": {p: read_frames(f) for p, f in outs.items()}, "stats": stats,
            "sim": sim, "checked": checked}


def node_stats(stats: dict, node_id: str) -> dict:
    return next(n for n in stats["nodes"] if n["id"] == node_id)


def compare(run: dict, port_in: str, nodes: list[str]) -> None:
    """The ports fed from `port_in`: same frames as sim, inputs unchanged, checksums valid."""
    sent: Counter = Counter()
    for port in OUTPUTS[port_in]:
        got, want = run["outputs"][port], run["sim"].outputs.get(port, [])
        assert len(got) == len(want), f"{port}: native sent {len(got)}, sim {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert g == w, f"{port}: frame {i} differs"
        sent.update(got)
    inputs = Counter(run["inputs"][port_in])
    assert all(inputs[f] >= n for f, n in sent.items()), "an output frame is not an input frame"
    for frame in sent:
        if frame in run["checked"]:
            assert _valid_checksums(frame), frame.hex()
    native, sim = _comparable(run["stats"]), _comparable(run["sim"].stats)
    for node in nodes:
        assert native[node] == sim[node], node
    assert run["stats"]["mempool"]["in_use"] == 0


def test_gateway_every_action(firewalls):
    compare(firewalls, "wan", ["fw", "fw2"])
    fw, fw2 = node_stats(firewalls["stats"], "fw"), node_stats(firewalls["stats"], "fw2")
    assert all(fw["out"][p] > 10 for p in ("out", "denied", "audit", "inspect")), fw["out"]
    assert fw2["drops"]["denied"] > 10 and fw2["drops"]["default-deny"] > 10, fw2["drops"]
    assert fw["counters"]["matched"] > 0 and fw["counters"]["unmatched"] > 0
    assert node_stats(firewalls["stats"], "fw")["in"] == len(firewalls["inputs"]["wan"])


def test_classbench_rule_set(firewalls):
    compare(firewalls, "cb_in", ["cb"])
    cb = node_stats(firewalls["stats"], "cb")
    assert cb["out"]["out"] >= 750 and cb["counters"]["matched"] == cb["out"]["out"]


def test_ten_thousand_rules(firewalls):
    compare(firewalls, "big_in", ["big"])
    big = node_stats(firewalls["stats"], "big")
    assert big["counters"]["matched"] >= 300 and big["out"]["x"] > 0 and big["drops"].get("denied", 0) > 0


def test_example_through_the_cli_run_and_sim(tmp_path, build_cache):
    """`chainc check`, `chainc sim` and `chainc run` on the example leave the same packets."""
    chain = EXAMPLES / "acl_gateway.chain"
    env = dict(os.environ, CHAINC_CACHE=str(build_cache))  # shared with test_examples' build
    outs = {}
    for cmd in ("sim", "run"):
        args = [sys.executable, "-m", "chainc", cmd, str(chain)]
        for port in ("wan", "audit", "denied"):
            args += ["--out", f"{port}={tmp_path / cmd / port}.pcap"]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
        assert proc.returncode == 0, proc.stderr
        outs[cmd] = {p: read_frames(tmp_path / cmd / f"{p}.pcap") for p in ("wan", "audit", "denied")}
    # `chainc run` builds the optimised plan, which may spread the chain over
    # both cores: the same packets leave each port, flows may interleave anew.
    assert {p: sorted(f) for p, f in outs["sim"].items()} == {p: sorted(f) for p, f in outs["run"].items()}
    assert all(outs["run"][p] for p in ("wan", "audit", "denied"))
    check = subprocess.run([sys.executable, "-m", "chainc", "check", str(chain)], capture_output=True, text=True)
    assert check.returncode == 0 and "ok" in check.stdout
