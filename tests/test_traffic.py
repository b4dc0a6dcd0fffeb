"""The sample traffic of the examples and the benchmark traffic.

- examples/traffic/generate.py regenerates the committed pcaps byte for byte;
- scapy (an independent dissector) parses every frame, agrees with every
  IPv4/TCP/UDP/ICMP/ICMPv6 checksum of the valid traffic, and finds the mix
  the README advertises;
- malformed.pcap holds the documented broken frames;
- bench/traffic.py writes the flows and size mixes it promises;
- (dpdk) the C baseline builds and pushes all of them through net_pcap.
"""
from __future__ import annotations

import collections
import importlib.util
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TRAFFIC = REPO / "examples" / "traffic"
GENERATOR = TRAFFIC / "generate.py"
SAMPLE = TRAFFIC / "sample.pcap"
MALFORMED = TRAFFIC / "malformed.pcap"


def _load(name: str, path: Path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def gen():
    return _load("chainc_examples_traffic_generate", GENERATOR)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("traffic")
    subprocess.run([sys.executable, str(GENERATOR), "--out-dir", str(out)], check=True,
                   capture_output=True)
    return out


# --------------------------------------------------------------------------
# determinism
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sample.pcap", "malformed.pcap"])
def test_regeneration_is_byte_identical(regenerated, name):
    committed = (TRAFFIC / name).read_bytes()
    fresh = (regenerated / name).read_bytes()
    assert fresh == committed, (
        f"{name} differs from what generate.py produces; rerun "
        "`python3 examples/traffic/generate.py` and commit the result")


def test_other_seed_gives_other_traffic(gen):
    a = gen.pcap_bytes(r for _, r in gen.build_malformed(1))
    b = gen.pcap_bytes(r for _, r in gen.build_malformed(2))
    assert a != b
    assert a == gen.pcap_bytes(r for _, r in gen.build_malformed(1))


def test_checksum_helper_matches_rfc1071(gen):
    def slow(data: bytes) -> int:
        if len(data) % 2:
            data += b"\0"
        s = sum(struct.unpack(f"!{len(data) // 2}H", data))
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        return ~s & 0xFFFF

    import random
    rng = random.Random(7)
    cases = [b"", b"\0", b"\0\0", b"\xff\xff", b"\xff\xff\xff\xff", b"\x01",
             b"\x45\x00\x00\x73\x00\x00\x40\x00\x40\x11\x00\x00\xc0\xa8\x00\x01\xc0\xa8\x00\xc7"]
    cases += [rng.randbytes(rng.randrange(0, 200)) for _ in range(500)]
    for c in cases:
        assert gen.checksum(c) == slow(c), c.hex()


# --------------------------------------------------------------------------
# sample.pcap through scapy
# --------------------------------------------------------------------------

try:
    from scapy.layers.dns import DNS
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, in4_chksum
    from scapy.layers.inet6 import (IPv6, ICMPv6DestUnreach, ICMPv6EchoReply,
                                    ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, in6_chksum)
    from scapy.layers.l2 import ARP, Dot1Q, Ether
    from scapy.utils import PcapReader, rdpcap
    from scapy.utils import checksum as scapy_checksum
    HAVE_SCAPY = True
except ImportError:  # scapy is a test extra; the byte-identity tests run without it
    HAVE_SCAPY = False

needs_scapy = pytest.mark.skipif(not HAVE_SCAPY, reason="needs scapy (pip install .[test])")


@pytest.fixture(scope="module")
def sample_pkts():
    return rdpcap(str(SAMPLE))


def _l4_bytes(pkt):
    """(ip layer, L4 bytes as on the wire, without Ethernet padding)."""
    if IP in pkt:
        ip = pkt[IP]
        raw = bytes(ip)
        return ip, raw[ip.ihl * 4: ip.len]
    ip6 = pkt[IPv6]
    raw = bytes(ip6)
    return ip6, raw[40: 40 + ip6.plen]


@needs_scapy
def test_sample_file_basics(gen, sample_pkts):
    assert SAMPLE.stat().st_size < 3.2 * 1024 * 1024
    recs = gen.read_pcap(SAMPLE)
    assert len(recs) == len(sample_pkts)
    stamps = [r.ts_us for r in recs]
    assert all(b > a for a, b in zip(stamps, stamps[1:])), "timestamps must increase"
    assert stamps[-1] - stamps[0] < 120 * 1_000_000
    data = SAMPLE.read_bytes()
    magic, major, minor, _, _, snaplen, linktype = struct.unpack_from("<IHHiIII", data)
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, 1)
    for r in recs:
        assert r.orig_len == len(r.frame)
        tagged = r.frame[12:14] == b"\x81\x00"
        assert 60 <= len(r.frame) <= (1518 if tagged else 1514)


@needs_scapy
def test_sample_parses_and_checksums_are_valid(sample_pkts):
    checked = collections.Counter()
    for i, pkt in enumerate(sample_pkts):
        assert Ether in pkt, i
        if ARP in pkt:
            continue
        assert IP in pkt or IPv6 in pkt, f"frame {i}: {pkt.summary()}"
        if IP in pkt:
            ip = pkt[IP]
            hdr = bytes(ip)[: ip.ihl * 4]
            assert ip.version == 4 and ip.ihl >= 5
            assert scapy_checksum(hdr) == 0, f"frame {i}: IPv4 header checksum"
            assert ip.frag == 0 and not ip.flags.MF
            checked["ipv4"] += 1
        ipl, l4 = _l4_bytes(pkt)
        proto = ipl.proto if IP in pkt else ipl.nh
        if IP in pkt:
            if proto in (6, 17):
                assert in4_chksum(proto, ipl, l4) == 0, f"frame {i}: {pkt.summary()}"
            elif proto == 1:
                assert scapy_checksum(l4) == 0, f"frame {i}: ICMP checksum"
            else:
                pytest.fail(f"frame {i}: unexpected IPv4 protocol {proto}")
        else:
            assert proto in (6, 17, 58), f"frame {i}: IPv6 next header {proto}"
            assert in6_chksum(proto, ipl, l4) == 0, f"frame {i}: {pkt.summary()}"
        checked[{6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}[proto]] += 1
        if proto == 6:
            assert TCP in pkt and pkt[TCP].dataofs >= 5
        if proto == 17:
            assert UDP in pkt and pkt[UDP].len == len(l4)
        if UDP in pkt and 53 in (pkt[UDP].sport, pkt[UDP].dport) and IPerror not in pkt:
            dns = pkt[DNS]
            assert dns.qdcount == 1 and dns.qd is not None
            if dns.qr:
                assert dns.ancount + dns.nscount >= 1
    assert min(checked.values()) > 100, checked


def _flow_key(pkt):
    """Direction-free 5-tuple; ICMP echo keyed by its identifier; None for
    frames without one (ARP, NDP)."""
    if ARP in pkt:
        return None
    ipl = pkt[IP] if IP in pkt else pkt[IPv6]
    proto = ipl.proto if IP in pkt else ipl.nh
    if TCP in pkt:
        a, b = pkt[TCP].sport, pkt[TCP].dport
    elif UDP in pkt and IPerror not in pkt:
        a, b = pkt[UDP].sport, pkt[UDP].dport
    elif ICMP in pkt and pkt[ICMP].type in (0, 8):
        a = b = pkt[ICMP].id
    elif ICMPv6EchoRequest in pkt or ICMPv6EchoReply in pkt:
        a = b = (pkt[ICMPv6EchoRequest] if ICMPv6EchoRequest in pkt else pkt[ICMPv6EchoReply]).id
    else:
        return None
    ends = sorted([(ipl.src, a), (ipl.dst, b)])
    return (proto, *ends)


@needs_scapy
def test_sample_has_the_advertised_mix(sample_pkts):
    n = len(sample_pkts)
    assert 10_000 <= n <= 14_000
    flows = {k for k in map(_flow_key, sample_pkts) if k}
    assert 2_700 <= len(flows) <= 3_500

    v6 = sum(1 for p in sample_pkts if IPv6 in p)
    assert 0.08 <= v6 / n <= 0.20
    v6_flows = sum(1 for f in flows if ":" in f[1][0])
    assert 0.08 <= v6_flows / len(flows) <= 0.20

    c = collections.Counter()
    web_servers = set()
    sizes = collections.Counter(len(p) for p in sample_pkts)
    for p in sample_pkts:
        if Dot1Q in p:
            c["vlan"] += 1
        if ARP in p:
            c["arp"] += 1
        if TCP in p:
            t = p[TCP]
            f = int(t.flags)
            if f & 0x02 and not f & 0x10:
                c["syn"] += 1
            if f & 0x12 == 0x12:
                c["synack"] += 1
            if f & 0x01:
                c["fin"] += 1
            if f & 0x04:
                c["rst"] += 1
            if len(t.payload) and not f & 0x06:
                c["tcp_data"] += 1
            for port in (22, 25, 80, 443):
                if port in (t.sport, t.dport):
                    c[f"tcp/{port}"] += 1
            if t.dport in (80, 443) and f & 0x02:
                web_servers.add(p[IP].dst if IP in p else p[IPv6].dst)
        if UDP in p and IPerror not in p:
            u = p[UDP]
            for port in (53, 123, 443):
                if port in (u.sport, u.dport):
                    c[f"udp/{port}"] += 1
            if min(u.sport, u.dport) >= 1024:
                c["udp/high"] += 1
        if ICMP in p:
            c[f"icmp/{p[ICMP].type}"] += 1
        if ICMPv6EchoRequest in p:
            c["icmp6/echo"] += 1
        if ICMPv6EchoReply in p:
            c["icmp6/reply"] += 1
        if ICMPv6ND_NS in p or ICMPv6ND_NA in p:
            c["ndp"] += 1
        if ICMPv6DestUnreach in p:
            c["icmp6/unreach"] += 1

    for key, at_least in {
        "syn": 300, "synack": 200, "fin": 300, "rst": 50, "tcp_data": 1000,
        "tcp/80": 500, "tcp/443": 1500, "tcp/22": 100, "tcp/25": 50,
        "udp/53": 2500, "udp/123": 100, "udp/443": 200, "udp/high": 500,
        "icmp/8": 300, "icmp/0": 300, "icmp/3": 20, "icmp/11": 5,
        "icmp6/echo": 50, "icmp6/reply": 50, "ndp": 8,
        "arp": 10, "vlan": 20,
    }.items():
        assert c[key] >= at_least, (key, c[key], c)
    assert c["vlan"] <= 200 and c["arp"] <= 100           # "a few"
    assert len(web_servers) >= 4

    small = sum(v for s, v in sizes.items() if s <= 80)
    large = sum(v for s, v in sizes.items() if s >= 1400)
    assert small / n >= 0.25
    assert large / n >= 0.04
    assert len(sizes) >= 500, "sizes should be varied"


# --------------------------------------------------------------------------
# malformed.pcap
# --------------------------------------------------------------------------

def test_malformed_labels_are_documented(gen):
    readme = (TRAFFIC / "README.md").read_text()
    labels = [label for label, _ in gen.build_malformed()]
    assert 30 <= len(labels) <= 100
    assert len(set(labels)) == len(labels)
    for i, label in enumerate(labels):
        assert f"| {i} |" in readme and label.replace("|", "\\|") in readme, label


def test_malformed_frames_cover_the_cases(gen):
    recs = gen.read_pcap(MALFORMED)
    entries = gen.build_malformed()
    assert [r.frame for r in recs] == [r.frame for _, r in entries]
    frames = [r.frame for r in recs]
    assert sum(1 for f in frames if len(f) < 14) >= 3                       # runts
    assert any(r.orig_len > len(r.frame) for r in recs)                    # cut by snaplen
    assert any(f[12:14] == b"\x88\xa8" for f in frames)                    # QinQ
    assert any(f[12:14] == b"\x81\x00" and f[16:18] == b"\x81\x00" for f in frames)

    def ipv4(f):
        return f[14:] if len(f) >= 34 and f[12:14] == b"\x08\x00" else None

    v4 = [p for p in map(ipv4, frames) if p]
    ihls = {p[0] & 0x0F for p in v4}
    assert {0, 4, 15} <= ihls
    assert any(struct.unpack("!H", p[6:8])[0] & 0x2000 and
               not struct.unpack("!H", p[6:8])[0] & 0x1FFF for p in v4)     # first fragment
    assert any(struct.unpack("!H", p[6:8])[0] & 0x1FFF for p in v4)        # non-first
    totlens = [struct.unpack("!H", p[2:4])[0] for p in v4]
    assert any(t > len(p) for t, p in zip(totlens, v4))
    assert any(t < (p[0] & 0x0F) * 4 for t, p in zip(totlens, v4))
    v6_next = {f[20] for f in frames if len(f) >= 54 and f[12:14] == b"\x86\xdd"}
    assert {0, 44, 60, 59} <= v6_next
    ethertypes = {struct.unpack("!H", f[12:14])[0] for f in frames if len(f) >= 14}
    assert {0x88CC, 0x8847, 0x8864, 0x0000, 0xFFFF} <= ethertypes
    assert any(t < 0x0600 for t in ethertypes)                             # 802.3 length


@needs_scapy
def test_malformed_frames_do_not_break_scapy():
    with PcapReader(str(MALFORMED)) as reader:
        pkts = list(reader)
    assert len(pkts) >= 30
    for p in pkts:
        p.summary()
        bytes(p)


# --------------------------------------------------------------------------
# bench/traffic.py
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bench_traffic(tmp_path_factory):
    bt = _load("chainc_bench_traffic", REPO / "bench" / "traffic.py")
    out = tmp_path_factory.mktemp("bench")
    return bt, bt.generate(out, flows=4096)


def _five_tuple(frame: bytes):
    """(src, dst, proto, sport, dport, dst-port class) of an untagged IPv4 frame."""
    assert frame[12:14] == b"\x08\x00"
    ihl = (frame[14] & 0x0F) * 4
    proto = frame[23]
    sport, dport = struct.unpack_from("!HH", frame, 14 + ihl)
    return frame[26:30], frame[30:34], proto, sport, dport


def _check_with_scapy(path: Path, count: int):
    with PcapReader(str(path)) as reader:
        for i, p in enumerate(reader):
            if i == count:
                break
            ip = p[IP]
            assert scapy_checksum(bytes(ip)[:20]) == 0
            assert in4_chksum(ip.proto, ip, bytes(ip)[20:ip.len]) == 0
            assert (TCP in p) if ip.proto == 6 else (UDP in p)


@needs_scapy
def test_bench_udp64(gen, bench_traffic):
    _, res = bench_traffic
    b = res["udp64"]
    recs = gen.read_pcap(b.path)
    assert len(recs) == b.packets
    assert {len(r.frame) for r in recs} == {60}             # 64 bytes on the wire
    tuples = [_five_tuple(r.frame) for r in recs]
    assert {t[2] for t in tuples} == {17}
    assert len(set(tuples)) == b.flows == 4096
    dns = sum(1 for t in tuples if t[4] == 53)
    assert 0.15 < dns / len(tuples) < 0.35
    _check_with_scapy(b.path, 1000)


@needs_scapy
def test_bench_imix(gen, bench_traffic):
    _, res = bench_traffic
    b = res["imix"]
    recs = gen.read_pcap(b.path)
    sizes = [len(r.frame) for r in recs]
    assert len(sizes) == b.packets and len(sizes) % 12 == 0
    for i in range(0, len(sizes), 12):                      # every group of 12 is 7:4:1
        assert sorted(sizes[i:i + 12]) == [60] * 7 + [590] * 4 + [1514]
    tuples = [_five_tuple(r.frame) for r in recs]
    assert len(set(tuples)) == b.flows == 4096
    classes = collections.Counter(
        "web" if t[2] == 6 and t[4] in (80, 443) else "dns" if t[2] == 17 and t[4] == 53
        else "other" for t in tuples)
    assert all(classes[k] > 0.1 * len(tuples) for k in ("web", "dns", "other")), classes
    _check_with_scapy(b.path, 1000)


# --------------------------------------------------------------------------
# the C baseline through DPDK (net_pcap infinite rx -> net_null)
# --------------------------------------------------------------------------

def _have_dpdk() -> bool:
    if not shutil.which("pkg-config") or not shutil.which("cc"):
        return False
    return subprocess.run(["pkg-config", "--exists", "libdpdk"]).returncode == 0


@pytest.mark.dpdk
@pytest.mark.skipif(not _have_dpdk(), reason="libdpdk-dev and a C compiler are needed")
def test_baseline_runs_every_traffic_file(tmp_path, bench_traffic):
    build = _load("chainc_bench_baseline_build", REPO / "bench" / "baseline" / "build.py")
    exe = build.build_baseline(tmp_path / "build")
    assert build.build_baseline(tmp_path / "build") == exe          # cached
    _, res = bench_traffic
    runs = {
        ("fwd", "udp64"): res["udp64"].path,
        ("classify", "imix"): res["imix"].path,
        ("classify", "sample"): SAMPLE,
        ("classify", "malformed"): MALFORMED,
    }
    for (mode, name), path in runs.items():
        out = build.run_baseline(exe, path, seconds=0.5, mode=mode)
        assert out["mode"] == mode, out
        assert out["packets"] > 1000, (name, out)
        assert out["packets"] == out["tx"] + out["dropped"], out
        assert out["mpps"] > 0
        if mode == "classify":
            cls = out["classes"]
            assert sum(c["packets"] for c in cls.values()) == out["packets"]
            if name in ("imix", "sample"):
                assert all(c["packets"] > 0 for c in cls.values()), (name, cls)
        json.dumps(out)
