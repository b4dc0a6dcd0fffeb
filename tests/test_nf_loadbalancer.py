"""LoadBalancer: Maglev's lookup table, the reference body's rewrites, affinity and its file."""

from __future__ import annotations

import ipaddress
import random

import pytest
from scapy.all import ICMP, IP, TCP, UDP, Ether, IPv6, ICMPv6EchoRequest

from chainc.sim import SimError
from chainc.stdlib_nfs._support import dur

from nfhelpers import make_node, packet, reference, stdlib, validate

VIP = "10.0.0.100"
BACKENDS = ["10.0.1.1", "10.0.1.2", "10.0.1.3"]
NO_BACKEND = -1


def maglev():
    folder = stdlib().get("LoadBalancer").folder
    import importlib.util
    spec = importlib.util.spec_from_file_location("lb_maglev", folder / "maglev.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def addrs(texts):
    return [ipaddress.ip_address(t) for t in texts]


SIZE = 10007  # a prime; small, so the pure-Python table fills fast


def lb(**params):
    p = {"vip": ipaddress.ip_address(VIP), "backends": addrs(BACKENDS), "table_size": SIZE}
    p.update(params)
    return reference(make_node("LoadBalancer", p, node_id="lb"))


def frame(src="192.0.2.7", dst=VIP, sport=40000, dport=80, proto="tcp", payload=b"hello"):
    l4 = {"tcp": TCP(sport=sport, dport=dport, flags="PA"), "udp": UDP(sport=sport, dport=dport),
          "icmp": ICMP()}[proto]
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst=dst) / l4 / payload


def at(frame_, ns):
    p = packet(frame_)
    p.ts_ns = ns
    return p


def checksums_valid(data: bytes) -> bool:
    """Every checksum as scapy computes it from scratch (independently of RFC 1624 updates);
    a zero IPv4 UDP checksum means "none"."""
    pkt = Ether(data)
    fresh = Ether(data)
    for cls in (IP, TCP, UDP):
        layer = fresh.getlayer(cls)
        if layer is None or (cls is UDP and pkt.haslayer(IP) and pkt[UDP].chksum == 0):
            continue
        layer.chksum = None
    return bytes(Ether(bytes(fresh))) == data


# -- Maglev


def test_lookup_table_is_balanced_and_covers_every_slot():
    m = maglev()
    table = m.lookup_table(addrs(BACKENDS + ["10.0.1.4"]), [True] * 4, 65537)
    counts = [table.count(i) for i in range(4)]
    assert -1 not in table
    assert max(counts) - min(counts) <= 1  # Maglev's round-robin fill: within one slot


@pytest.mark.parametrize("n", [3, 5, 10])
def test_adding_a_backend_moves_about_one_in_n_plus_one_flows(n):
    m = maglev()
    backends = addrs([f"10.0.1.{i}" for i in range(1, n + 2)])
    before = m.lookup_table(backends[:n], [True] * n, 10007)
    after = m.lookup_table(backends, [True] * (n + 1), 10007)
    rnd = random.Random(n)
    flows = [(ipaddress.ip_address(rnd.getrandbits(32)), 6, rnd.randrange(1024, 65536), 80)
             for _ in range(10000)]
    moved = to_new = 0
    for src, proto, sport, dport in flows:
        h = m.flow_hash(src, proto, sport, dport) % 10007
        if before[h] != after[h]:
            moved += 1
            to_new += after[h] == n
    # Maglev trades a little disruption for balance: nearly every moved flow goes
    # to the new backend, a few shuffle between the old ones.
    assert 0.85 / (n + 1) <= moved / len(flows) <= 1.25 / (n + 1)
    assert to_new >= 0.85 * moved


def test_removing_a_backend_moves_only_its_flows():
    m = maglev()
    backends = addrs(BACKENDS + ["10.0.1.4"])
    before = m.lookup_table(backends, [True] * 4, 10007)
    after = m.lookup_table(backends, [True, False, True, True], 10007)
    assert 1 not in after
    others = [(a, b) for a, b in zip(before, after) if a != 1]
    assert sum(a != b for a, b in others) <= 0.05 * len(others)  # the others barely move


# -- rewriting


def test_a_packet_to_the_vip_goes_to_its_maglev_backend_with_valid_checksums():
    m = maglev()
    nf = lb()
    table = m.lookup_table(addrs(BACKENDS), [True] * 3, SIZE)
    for sport in range(40000, 40050):
        for proto in ("tcp", "udp"):
            p = packet(frame(sport=sport, proto=proto))
            assert nf.process(p, 0) == 0
            number = 6 if proto == "tcp" else 17
            want = table[m.flow_hash(ipaddress.ip_address("192.0.2.7"), number, sport, 80) % SIZE]
            assert str(p.meta.ip_dst) == BACKENDS[want]
            assert checksums_valid(bytes(p.data))
    assert nf.counters["balanced"] == 100 and nf.counters["new_flows"] == 100


def test_replies_get_the_vip_back_and_other_traffic_passes_untouched():
    nf = lb()
    reply = packet(frame(src=BACKENDS[1], dst="192.0.2.7", sport=80, dport=40000))
    assert nf.process(reply, 0) == 0
    assert str(reply.meta.ip_src) == VIP and checksums_valid(bytes(reply.data))
    other = frame(src="192.0.2.7", dst="10.9.9.9")
    p = packet(other)
    assert nf.process(p, 0) == 0 and bytes(p.data) == bytes(other)
    v6 = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP()
    p = packet(v6)
    assert nf.process(p, 0) == 0 and bytes(p.data) == bytes(v6)
    assert nf.counters["replies"] == 1 and nf.counters["balanced"] == 0


def test_port_limits_what_is_balanced_and_what_is_a_reply():
    nf = lb(port=443)
    p = packet(frame(dport=80))
    assert nf.process(p, 0) == 0 and str(p.meta.ip_dst) == VIP
    p = packet(frame(dport=443))
    nf.process(p, 0)
    assert str(p.meta.ip_dst) in BACKENDS
    p = packet(frame(src=BACKENDS[0], dst="192.0.2.7", sport=80, dport=40000))
    nf.process(p, 0)
    assert str(p.meta.ip_src) == BACKENDS[0]


def test_zero_udp_checksum_stays_zero_and_icmp_has_no_ports():
    nf = lb()
    f = frame(proto="udp")
    f[UDP].chksum = 0
    p = packet(Ether(bytes(f)))
    nf.process(p, 0)
    assert Ether(bytes(p.data))[UDP].chksum == 0
    p = packet(frame(proto="icmp"))
    nf.process(p, 0)
    assert str(p.meta.ip_dst) in BACKENDS and checksums_valid(bytes(p.data))
    assert list(nf.flows)[-1] == (1, ipaddress.ip_address("192.0.2.7"), 0, 0)


def test_ipv6_vip_and_icmpv6_checksum():
    vip = "2001:db8::100"
    backs = ["2001:db8:1::1", "2001:db8:1::2"]
    nf = reference(make_node("LoadBalancer", {"vip": ipaddress.ip_address(vip), "backends": addrs(backs),
                                              "table_size": SIZE}))
    f = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src="2001:db8:9::7", dst=vip) / ICMPv6EchoRequest(id=5)
    p = packet(f)
    nf.process(p, 0)
    out = Ether(bytes(p.data))
    assert out[IPv6].dst in backs
    fixed = out.copy()
    del fixed[ICMPv6EchoRequest].cksum
    assert Ether(bytes(fixed))[ICMPv6EchoRequest].cksum == out[ICMPv6EchoRequest].cksum


def test_down_backends_get_nothing_and_all_down_drops():
    nf = lb(down=addrs([BACKENDS[0]]))
    for sport in range(1000, 1300):
        p = packet(frame(sport=sport))
        nf.process(p, 0)
        assert str(p.meta.ip_dst) != BACKENDS[0]
    nf = lb(down=addrs(BACKENDS))
    assert nf.process(packet(frame()), 0) == NO_BACKEND


# -- affinity


def test_the_table_remembers_expires_and_evicts_least_recently_used():
    nf = lb(flows=8, timeout=dur("10s"))
    s = 10**9
    for i in range(8):
        nf.process(at(frame(sport=1000 + i), i * s), 0)
    nf.process(at(frame(sport=1000), 8 * s), 0)  # refresh flow 0
    nf.process(at(frame(sport=2000), 9 * s), 0)  # full: evicts flow 1, the least recently used
    assert nf.counters["evicted"] == 1
    assert (6, ipaddress.ip_address("192.0.2.7"), 1001, 80) not in nf.flows
    nf.process(at(frame(sport=3000), 30 * s), 0)  # reclaims two idle flows, then evicts nothing
    assert nf.counters["expired"] == 2 and nf.counters["evicted"] == 1
    assert len(nf.flows) == 7


def test_affinity_survives_a_restart_with_an_added_backend(tmp_path):
    m = maglev()
    path = tmp_path / "lb.affinity"
    first = lb(affinity=str(path))
    old = [frame(sport=s) for s in range(20000, 20400)]
    chosen = {}
    for f in old:
        p = packet(f)
        first.process(p, 0)
        chosen[f[TCP].sport] = str(p.meta.ip_dst)
    first.finish()
    assert path.read_text().startswith("# LoadBalancer affinity")

    more = BACKENDS + ["10.0.1.4"]
    second = reference(make_node("LoadBalancer", {"vip": ipaddress.ip_address(VIP), "backends": addrs(more),
                                                  "affinity": str(path), "table_size": SIZE}, node_id="lb"))
    assert second.counters["restored"] == 400
    for f in old:
        p = packet(f)
        second.process(p, 0)
        assert str(p.meta.ip_dst) == chosen[f[TCP].sport]  # existing flows stay
    table = m.lookup_table(addrs(more), [True] * 4, SIZE)
    new_dst = []
    for s in range(30000, 30400):
        p = packet(frame(sport=s))
        second.process(p, 0)
        want = more[table[m.flow_hash(ipaddress.ip_address("192.0.2.7"), 6, s, 80) % SIZE]]
        assert str(p.meta.ip_dst) == want
        new_dst.append(want)
    assert "10.0.1.4" in new_dst  # new flows see the new backend


def test_a_removed_backend_moves_only_its_flows(tmp_path):
    path = tmp_path / "lb.affinity"
    first = lb(affinity=str(path))
    for s in range(100):
        first.process(packet(frame(sport=s + 1024)), 0)
    first.finish()
    lines = [l.split() for l in path.read_text().splitlines()[1:]]
    on_gone = sum(1 for l in lines if l[4] == BACKENDS[2])
    second = lb(affinity=str(path), down=addrs([BACKENDS[2]]))
    assert second.counters["moved"] == on_gone > 0
    assert second.counters["restored"] == 100 - on_gone


def test_a_bad_affinity_file_names_its_line(tmp_path):
    path = tmp_path / "lb.affinity"
    path.write_text("# header\n6 192.0.2.7 1 80 10.0.1.1 5\n6 not-an-address 1 80 10.0.1.1 5\n")
    with pytest.raises(SimError, match="line 3"):
        lb(affinity=str(path))


# -- checks


def test_validation():
    node = make_node("LoadBalancer", {"vip": ipaddress.ip_address(VIP), "backends": addrs(BACKENDS),
                                      "table_size": 65536})
    assert any("prime" in d.message for d in validate(node).diagnostics)
    node = make_node("LoadBalancer", {"vip": ipaddress.ip_address(VIP), "backends": addrs(BACKENDS),
                                      "down": addrs(["10.0.9.9"])})
    assert any("not one of the backends" in d.message for d in validate(node).diagnostics)
    node = make_node("LoadBalancer", {"vip": ipaddress.ip_address(VIP), "backends": addrs(["2001:db8::1"])})
    assert any("IPv6" in d.message for d in validate(node).diagnostics)
