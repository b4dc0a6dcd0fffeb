"""Resolver: names, typed parameters, ports, sub-chains, imports -> the ChainGraph."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from chainc.ir.graph import NodeKind
from chainc.values import WILDCARD, Block, Range, Rate, Size, Symbol

from frontend_fixtures import edges, errors, fake_registry, load

PORTS = 'port wan = pcap("wan.pcap")\nport lan = pcap(out: "lan.pcap")\n'


def graph(text: str, **kw):
    return load(PORTS + text, **kw).graph


# ---------------------------------------------------------------- nodes and edges


def test_ports_become_receive_and_send_nodes():
    g = graph("wan -> MacSwap() -> wan\nlan -> drop\n")
    assert [n.id for n in g.nodes()] == ["wan.rx", "MacSwap#1", "wan.tx", "lan.rx", "drop"]
    rx, tx = g.node("wan.rx"), g.node("wan.tx")
    assert (rx.kind, tx.kind) == (NodeKind.PORT_IN, NodeKind.PORT_OUT)
    assert rx.port == tx.port == "wan" and rx.binding is g.port_bindings["wan"]
    assert g.is_dag()
    assert edges(g) == {("wan.rx", "out", "MacSwap#1", "in"), ("MacSwap#1", "out", "wan.tx", "in"),
                        ("lan.rx", "out", "drop", "in")}
    assert g.node("drop").kind is NodeKind.DROP


def test_port_bindings_resolve_pcap_paths_against_the_chain_file(tmp_path):
    text = ('port a = pcap("in/a.pcap")\nport b = pcap(in: "x.pcap", out: "../y.pcap")\n'
            'port c = null()\nport d = tap("tap0")\nport e = af_packet("eth0")\n'
            'port f = pci("0000:01:00.0")\nport g = vdev("net_ring0")\nport h = ring()\n'
            "a -> b\nb -> c\nc -> d\nd -> e\ne -> f\nf -> g\ng -> h\nh -> a\n")
    g = load(text, directory=tmp_path).graph
    pb = g.port_bindings
    assert list(pb) == ["a", "b", "c", "d", "e", "f", "g", "h"]
    assert pb["a"].driver == "pcap" and pb["a"].args == {"in": str(tmp_path / "in" / "a.pcap")}
    assert pb["b"].args == {"in": str(tmp_path / "x.pcap"),
                            "out": os.path.normpath(str(tmp_path / ".." / "y.pcap"))}
    assert (pb["c"].driver, pb["c"].args) == ("null", {})
    assert pb["d"].args == {"iface": "tap0"} and pb["e"].args == {"iface": "eth0"}
    assert pb["f"].args == {"address": "0000:01:00.0"} and pb["g"].args == {"devargs": "net_ring0"}
    assert pb["a"].span.text == 'port a = pcap("in/a.pcap")'


def test_named_nfs_and_anonymous_ids_per_type_in_source_order():
    g = graph("nf c = Counter()\nwan -> c -> Counter() -> MacSwap() -> Counter() -> lan\n")
    nfs = [n.id for n in g.nodes(NodeKind.NF)]
    assert nfs == ["c", "Counter#1", "MacSwap#1", "Counter#2"]
    assert g.node("Counter#1").span.text == "Counter()"
    assert g.node("c").span.text == "c"


def test_parameters_are_typed_with_defaults_filled_in(tmp_path):
    (tmp_path / "r.acl").write_text("")
    g = load(PORTS + 'nf fw = Firewall(rules: "r.acl")\n'
             "nf rl = RateLimiter(rate: 10Gbps)\n"
             "nf lb = LoadBalancer(vip: 10.0.0.1, backends: [10.0.1.1, 2001:db8::1])\n"
             "nf nat = NAT(external: 203.0.113.7, ports: 1024..65535)\n"
             "wan -> fw -> rl -> lb -> nat.inside\nnat.outside -> lan\nnat.inside -> drop\n",
             directory=tmp_path).graph
    fw = g.node("fw")
    assert fw.params == {"rules": str(tmp_path / "r.acl"), "default": "deny"}
    assert fw.param_spans["rules"].text == '"r.acl"' and "default" not in fw.param_spans
    assert g.node("rl").params == {"rate": Rate(10e9, "bps", "10Gbps"), "burst": Size(65536, "64KiB")}
    lb = g.node("lb").params
    assert lb["vip"] == ipaddress.ip_address("10.0.0.1")
    assert lb["backends"] == (ipaddress.ip_address("10.0.1.1"), ipaddress.ip_address("2001:db8::1"))
    assert g.node("nat").params["ports"] == Range(1024, 65535)
    assert g.node("nat").inputs == ("inside", "outside")


def test_enum_parameters_take_bare_names():
    g = graph('nf fw = Firewall(rules: "/dev/null", default: allow)\nwan -> fw -> lan\n')
    assert g.node("fw").params["default"] == "allow"


def test_classifier_block_fills_the_block_param_and_outputs_come_from_it():
    g = graph('const WEB = "tcp dst port 80"\n'
              'nf cls = Classifier {\n  web : WEB\n  dns : "udp dst port 53"\n  other : *\n}\n'
              "wan -> cls\ncls.web -> lan\ncls.dns -> Counter() -> drop\ncls.other -> drop\n")
    cls = g.node("cls")
    block = cls.params["arms"]
    assert isinstance(block, Block) and block.keys() == ["web", "dns", "other"]
    assert cls.outputs == ("web", "dns", "other")
    web, dns, other = block.entries
    assert web.value == "tcp dst port 80" and other.value is WILDCARD
    # spans of the literals the values came from: through the constant
    assert web.value_span.text == '"tcp dst port 80"' and web.value_span.line == 3
    assert dns.value_span.text == '"udp dst port 53"'
    assert web.key_span.text == "web"
    assert edges(g) >= {("cls", "web", "lan.tx", "in"), ("cls", "dns", "Counter#1", "in"),
                        ("cls", "other", "drop", "in")}


def test_merging_several_edges_into_one_nf():
    g = graph("nf t = Tee()\nnf m = Counter()\nwan -> t\nt.out -> m\nt.copy -> MacSwap() -> m\n"
              "m -> lan\n")
    assert {e.src for e in g.in_edges("m")} == {"t", "MacSwap#1"}


def test_an_input_port_is_named_on_the_target_side_and_middle_ports_pick_their_side():
    g = graph("nf nat = NAT(external: 1.2.3.4)\nwan -> nat.inside\nnat.outside -> lan\n"
              "nf t = Tee()\nnat.inside -> t.out -> drop\nt.copy -> drop\n")
    assert ("wan.rx", "out", "nat", "inside") in edges(g)
    assert ("nat", "inside", "t", "in") in edges(g)
    assert ("t", "out", "drop", "in") in edges(g)


def test_placement_hints_are_kept_with_their_spans():
    g = graph("nf c = Counter() @core(1) @replicas(4)\nwan -> c -> lan\n")
    c = g.node("c")
    assert (c.core, c.replicas) == (1, 4)
    assert c.hint_spans["core"].text == "@core(1)" and c.hint_spans["replicas"].text == "@replicas(4)"


def test_validate_hooks_are_called_for_every_nf():
    g = graph("wan -> Counter() -> lan\n")
    assert g.node("Counter#1").params.get("_validated") is True


def test_constants_are_usable_anywhere_a_value_is():
    g = graph("const R = 5Gbps\nconst LIST = [10.0.1.1]\nconst CORE = 2\nconst NAME = R\n"
              "nf rl = RateLimiter(rate: NAME) @core(CORE)\n"
              "nf lb = LoadBalancer(vip: 10.0.0.1, backends: LIST)\nwan -> rl -> lb -> lan\n")
    assert g.node("rl").params["rate"] == Rate(5e9, "bps", "5Gbps")
    assert g.node("rl").param_spans["rate"].text == "5Gbps"
    assert g.node("rl").core == 2
    assert g.node("lb").params["backends"] == (ipaddress.ip_address("10.0.1.1"),)


# ---------------------------------------------------------------- sub-chains

SCRUB = ("chain Scrubber(limit: rate, burst: size = 64KiB) {\n"
         "    in -> RateLimiter(rate: limit, burst: burst) -> Counter() -> out\n}\n")


def test_sub_chain_inline_instance_is_expanded_with_scoped_ids():
    g = graph("wan -> Scrubber(limit: 5Gbps) -> lan\n" + SCRUB)
    nfs = g.nodes(NodeKind.NF)
    assert [n.id for n in nfs] == ["Scrubber#1/RateLimiter#1", "Scrubber#1/Counter#1"]
    assert all(n.scope == ("Scrubber#1",) for n in nfs)
    assert edges(g) == {("wan.rx", "out", "Scrubber#1/RateLimiter#1", "in"),
                        ("Scrubber#1/RateLimiter#1", "out", "Scrubber#1/Counter#1", "in"),
                        ("Scrubber#1/Counter#1", "out", "lan.tx", "in")}
    rl = g.node("Scrubber#1/RateLimiter#1")
    assert rl.params["rate"] == Rate(5e9, "bps", "5Gbps") and rl.params["burst"] == Size(65536, "64KiB")
    # the span of the literal, through the sub-chain parameter
    assert rl.param_spans["rate"].text == "5Gbps" and rl.param_spans["rate"].line == 3
    assert rl.param_spans["burst"].text == "64KiB"


def test_named_sub_chain_instance_and_hints_reach_inner_nfs():
    g = graph("nf s = Scrubber(limit: 1Gbps, burst: 1MiB) @core(3)\nwan -> s -> lan\n" + SCRUB)
    inner = g.node("s/RateLimiter#1")
    assert inner.params["burst"] == Size(2**20, "1MiB")
    assert inner.core == 3 and g.node("s/Counter#1").core == 3


def test_nested_sub_chains_and_named_boundaries():
    text = ("chain Inner(n: string) {\n    in -> Timer(name: n) -> out\n}\n"
            "chain Outer() {\n"
            "    nf t = Tee()\n"
            "    in -> t\n"
            "    t.out -> Inner(n: \"seven\") -> out\n"
            "    t.copy -> out.mirror\n"
            "    in.mgmt -> Counter() -> out.mgmt\n"
            "}\n")
    bad = errors(PORTS + text + "nf o = Outer()\nwan -> o.in\no.out -> lan\no.mirror -> drop\n"
                 "wan -> o.mgmt\no.mgmt -> drop\n")
    assert bad.startswith("test.chain:17:1: error: port 'wan' already feeds 'o'")
    assert "note: first connected here" in bad and "hint: an output feeds exactly one edge" in bad
    g = graph(text + "nf o = Outer()\nnf t = Tee()\nwan -> t\nt.out -> o.in\nt.copy -> o.mgmt\n"
              "o.out -> lan\no.mirror -> drop\no.mgmt -> drop\n")
    ids = [n.id for n in g.nodes(NodeKind.NF)]
    assert ids == ["o/t", "o/Inner#1/Timer#1", "o/Counter#1", "t"]
    assert g.node("o/Inner#1/Timer#1").scope == ("o", "Inner#1")
    assert g.node("o/Inner#1/Timer#1").params["name"] == "seven"
    e = edges(g)
    assert ("t", "out", "o/t", "in") in e
    assert ("o/t", "out", "o/Inner#1/Timer#1", "in") in e
    assert ("o/Inner#1/Timer#1", "out", "lan.tx", "in") in e
    assert ("o/t", "copy", "drop", "in") in e
    assert ("t", "copy", "o/Counter#1", "in") in e
    assert ("o/Counter#1", "out", "drop", "in") in e
    assert not any("@" in n.id for n in g.nodes())


def test_a_pass_through_sub_chain():
    g = graph("chain Wire() {\n    in -> out\n}\nwan -> Wire() -> Counter() -> lan\n")
    assert edges(g) == {("wan.rx", "out", "Counter#1", "in"), ("Counter#1", "out", "lan.tx", "in")}


def test_sub_chain_parameters_with_paths_resolve_against_the_literal(tmp_path):
    g = load(PORTS + 'chain F(r: path) {\n    in -> Firewall(rules: r) -> out\n}\n'
             'wan -> F(r: "acl/x.acl") -> lan\n', directory=tmp_path).graph
    assert g.node("F#1/Firewall#1").params["rules"] == str(tmp_path / "acl" / "x.acl")


# ---------------------------------------------------------------- imports


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_imports_are_relative_to_the_importing_file_and_bring_consts_and_chains(tmp_path):
    write(tmp_path, {
        "lib/scrub.chain": 'import "common.chain"\n' + SCRUB,
        "lib/common.chain": "const LIMIT = 2Gbps\n",
        "main.chain": PORTS + 'import "lib/scrub.chain"\nwan -> Scrubber(limit: LIMIT) -> lan\n',
    })
    from chainc.driver import load_chain

    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        g = load_chain("main.chain", registry=fake_registry()).graph
    finally:
        os.chdir(old)
    rl = g.node("Scrubber#1/RateLimiter#1")
    assert rl.params["rate"] == Rate(2e9, "bps", "2Gbps")
    assert rl.param_spans["rate"].file.path == os.path.join("lib", "common.chain")
    assert rl.span.file.path == os.path.join("lib", "scrub.chain")


def test_a_diamond_import_is_not_a_duplicate(tmp_path):
    write(tmp_path, {"a.chain": 'import "c.chain"\n', "b.chain": 'import "c.chain"\n',
                     "c.chain": "const X = \"x\"\n"})
    g = load(PORTS + 'import "a.chain"\nimport "b.chain"\nwan -> Timer(name: X) -> lan\n',
             directory=tmp_path).graph
    assert g.node("Timer#1").params["name"] == "x"


def test_symbols_pass_through_when_no_constant_has_the_name():
    g = graph('nf fw = Firewall(rules: "/dev/null", default: allow)\nwan -> fw -> lan\n')
    assert g.node("fw").params["default"] == "allow"
    assert Symbol("x") != "x"


def test_a_library_file_checks_alone():
    g = load("const A = 1\n" + SCRUB).graph
    assert len(g) == 0


@pytest.mark.parametrize("registry", [None])
def test_the_registry_is_an_argument(registry):
    from chainc.nfs.registry import Registry

    with pytest.raises(Exception) as info:
        load(PORTS + "wan -> Counter() -> lan\n", registry=Registry([]))
    assert "unknown NF type 'Counter'" in str(info.value)
