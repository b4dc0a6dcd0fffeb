"""Differential fuzzing: random chains of the NFs with native bodies, with random
parameters, over random valid and malformed packets, must leave the same
packets and counters natively (sanitized) as in `chainc sim`.

Each generated chain is a native build (about 20 s), so the number of chains
is small (MAX_CHAINS) and each gets many packets. A difference fails with the
shrunk chain (printed as .chain text), the isolated packet and both paths.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from malformed import corpus, eth, g, ipv6

from chainc.backends.dpdk import build as dpdk_build
from chainc.driver import load_chain
from chainc.nfs.registry import Registry
from chainc.nfs.spec import REQUIRED
from chainc.pcapfile import PcapPacket
from chainc.verify import Verifier

MAX_CHAINS = 3
PACKETS = (200, 400)

MATCHES = ["tcp", "udp", "icmp", "ip6", "arp", "vlan", "vlan 100", "tcp dst port 80",
           "udp port 53", "src net 10.1.0.0/16", "dst net 203.0.113.0/24", "ip6 and tcp",
           "tcp[tcpflags] & tcp-syn != 0", "less 80", "greater 1000", "ip proto 17",
           "icmp6", "ether broadcast", "host 2001:db8:a:1::2", "not ip"]
FW_MATCHES = ["tcp", "udp", "icmp", "ip6", "tcp dst port 80", "udp port 53",
              "src net 10.1.0.0/16", "dst net 203.0.113.0/24", "ip6 and tcp", "ip proto 17",
              "tcp[tcpflags] & tcp-syn != 0", "host 2001:db8:a:1::2", "dst port 443"]
PREFIXES = ["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "203.0.113.0/24", "203.0.113.10/32",
            "198.51.100.0/24", "::/0", "2001:db8::/32", "2001:db8:100::/48", "2001:db8:a:1::/64"]


def _expr(draw, pool: list[str], parts: int = 3, negate: bool = True) -> str:
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=parts))
    text = f"({chosen[0]})"
    for part in chosen[1:]:
        op = draw(st.sampled_from([" and ", " or "]))
        text += f"{op}{'not ' if negate and draw(st.booleans()) else ''}({part})"
    return text


@st.composite
def nf_instance(draw, name: str, files: dict[str, str]) -> tuple[str, list[str]]:
    """`(call text, output names)` of one NF with random parameters; rule files go in `files`."""
    n = len(files)
    if name == "Classifier":
        arms = [f"a{i}" for i in range(draw(st.integers(1, 4)))]
        body = "".join(f"    {a} : \"{_expr(draw, MATCHES)}\"\n" for a in arms)
        if draw(st.booleans()):
            arms.append("rest")
            body += "    rest : *\n"
        return f"Classifier {{\n{body}}}", arms
    if name == "Firewall":
        outs = ["out"]
        lines = []
        for _ in range(draw(st.integers(1, 5))):
            action = draw(st.sampled_from(["allow", "deny", "to extra"]))
            if action == "to extra" and "extra" not in outs:
                outs.append("extra")
            # Few terms and no negation: each rule must fit the ACL's entry budget.
            lines.append(f"{action}  {_expr(draw, FW_MATCHES, parts=2, negate=False)}")
        files[f"fw{n}.acl"] = "\n".join(lines) + "\n"
        default = draw(st.sampled_from(["allow", "deny"]))
        denied = draw(st.sampled_from(["drop", "output"]))
        if denied == "output":
            outs.append("denied")
        return f'Firewall(rules: "fw{n}.acl", default: {default}, denied: {denied})', outs
    if name == "Router":
        ports = [f"r{i}" for i in range(draw(st.integers(1, 3)))]
        chosen = draw(st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=6, unique=True))
        lines = [f"{p}  {draw(st.sampled_from(ports))}" + draw(st.sampled_from(["", "  02:00:00:00:00:09"]))
                 for p in chosen]
        used = sorted({line.split()[1] for line in lines}, key=ports.index)
        files[f"routes{n}.txt"] = "\n".join(lines) + "\n"
        ttl = draw(st.booleans())
        expired = draw(st.booleans()) and ttl
        outs = used + (["slow"] if expired else [])
        extra = ', expired: "slow"' if expired else ""
        return f'Router(routes: "routes{n}.txt", decrement_ttl: {str(ttl).lower()}{extra})', outs
    if name == "VlanPush":
        tpid = draw(st.sampled_from(["802.1q", "802.1ad"]))
        return (f"VlanPush(vid: {draw(st.integers(0, 4094))}, pcp: {draw(st.integers(0, 7))}, "
                f"dei: {str(draw(st.booleans())).lower()}, tpid: \"{tpid}\")"), ["out"]
    if name == "VlanPop":
        return f"VlanPop(untagged: {draw(st.sampled_from(['pass', 'drop']))})", ["out"]
    if name == "Tee":
        return f"Tee(snaplen: {draw(st.sampled_from([0, 14, 60, 128]))})", ["out", "copy"]
    if name == "Sampler":
        return f"Sampler(every: {draw(st.integers(1, 5))}, snaplen: {draw(st.sampled_from([0, 64]))})", \
            ["out", "sample"]
    spec = REGISTRY.get(name)  # an NF added later: its defaults
    return f"{name}()", list(spec.output_ports({p.name: p.default for p in spec.params}))


REGISTRY = Registry.load()
KNOWN = {"Classifier", "Firewall", "Router", "VlanPush", "VlanPop", "Tee", "Sampler",
         "Counter", "Drop", "MacSwap"}
NATIVE = sorted(s.name for s in REGISTRY.specs() if s.native is not None and (
    s.name in KNOWN or all(p.default is not REQUIRED for p in s.params)))


@st.composite
def chains(draw) -> tuple[str, dict[str, str]]:
    """A random DAG: NFs in a list, each fed by an earlier one's output (n0 by the
    input port), every other output wired to a later NF, an output port or `drop`."""
    files: dict[str, str] = {}
    nfs = []
    for _ in range(draw(st.integers(1, 7))):
        name = draw(st.sampled_from(NATIVE))
        if name == "Router" and sum(n == "Router" for n, _, _ in nfs) >= 2:
            name = "Counter"  # each Router takes 64 MiB of EAL memory per address family
        nfs.append((name, *draw(nf_instance(name, files))))
    edges, alive = [], [0]
    free = [(0, o) for o in nfs[0][2]]
    for i in range(1, len(nfs)):
        if free:  # an NF no output can reach is left out
            src = draw(st.sampled_from(free))
            free.remove(src)
            edges.append((src, f"n{i}"))
            alive.append(i)
            free += [(i, o) for o in nfs[i][2]]
    for src in free:
        later = [f"n{j}" for j in alive if j > src[0]]
        edges.append((src, draw(st.sampled_from(later + ["p0", "p1", "p2", "drop"]))))
    lines = ['port wan = pcap("in.pcap")']
    lines += [f'port {p} = pcap(out: "{p}.pcap")' for p in ("p0", "p1", "p2")
              if any(dst == p for _, dst in edges)]
    lines += [f"nf n{i} = {nfs[i][1]}" for i in alive]
    lines.append("wan -> n0")
    lines += [f"n{i}.{out} -> {dst}" for (i, out), dst in edges]
    return "\n".join(lines) + "\n", files


def _valid_frame(rng: random.Random) -> bytes:
    vlans = [(0x8100, rng.choice([100, 101, 7]))] if rng.random() < 0.2 else []
    payload = bytes(rng.choice([0, 10, 100, 1000]))
    src, dst = rng.choice([(g.M_SRC4, g.M_DST4), (g.M_DST4, g.M_SRC4), (g.ip("10.9.0.1"), g.ip("198.51.100.7"))])
    kind = rng.randrange(5)
    if kind == 0:
        seg = g.tcp_segment(src, dst, rng.randrange(1024, 65536), rng.choice([80, 443, 22]), 1, 0,
                            rng.choice([g.TCP_SYN, g.TCP_ACK, g.TCP_ACK | g.TCP_PSH]), 512, payload)
        return eth(0x0800, g.ipv4_packet(src, dst, 6, seg, ttl=rng.choice([1, 2, 64])), vlans)
    if kind == 1:
        seg = g.udp_datagram(src, dst, rng.randrange(1024, 65536), rng.choice([53, 9, 4000]), payload)
        return eth(0x0800, g.ipv4_packet(src, dst, 17, seg), vlans)
    if kind == 2:
        seg = g.udp_datagram(g.M_SRC6, g.M_DST6, 5000, rng.choice([53, 443]), payload)
        return eth(0x86DD, ipv6(17, seg, hop_limit=rng.choice([1, 64])), vlans)
    if kind == 3:
        return eth(0x0800, g.ipv4_packet(src, dst, 1, g.icmp4_message(8, 0, b"\0\1\0\1" + payload)), vlans)
    return eth(0x0806, bytes(28), vlans)


CORPUS = [c.frame for c in corpus()]


@st.composite
def traffic(draw) -> list[PcapPacket]:
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(*PACKETS))
    frames = [rng.choice(CORPUS) if rng.random() < 0.4 else _valid_frame(rng) for _ in range(n)]
    return [PcapPacket(i * 1000, f) for i, f in enumerate(frames)]


@settings(max_examples=MAX_CHAINS, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(chain=chains(), packets=traffic())
def test_random_chains_agree_with_sim(chain, packets, build_cache):
    text, files = chain
    note(f"chain:\n{text}" + "".join(f"--- {k}\n{v}" for k, v in files.items()))
    with tempfile.TemporaryDirectory(prefix="chainc-diff-") as work:
        where = Path(work)
        for name, body in files.items():
            (where / name).write_text(body)
        (where / "random.chain").write_text(text)
        graph = load_chain(str(where / "random.chain")).graph
        binary = dpdk_build.build(graph, cache_dir=build_cache, sanitize=True).binary
        verifier = Verifier(graph, REGISTRY, binary, where / "runs")
        diff = verifier.verify({"wan": packets}, where, "random").difference
        assert diff is None, (f"packet {diff.culprit} ({len(diff.frame)} bytes {diff.frame.hex()}): "
                              f"{diff.native_failure or ''}\n  native {diff.native_path}\n"
                              f"  sim    {diff.sim_path}\n  {diff.counter_diff}")
