"""The optimiser's passes: each graph before and after, with the reasons it gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainc.diagnostics import CompileError
from chainc.driver import load_text
from chainc.nfs.registry import Registry
from chainc.passes import Depth, PlanOptions, optimise, parse_cores
from chainc.passes.pipeline import check_disabled
from chainc.sim import simulate
from chainc.values import WILDCARD

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HZ = 2.5e9  # predictions at a fixed clock, so no test depends on this machine's


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


def chain(registry, text: str, tmp_path: Path | None = None):
    directory = str(tmp_path) if tmp_path else str(EXAMPLES)
    return load_text(text, "t.chain", registry=registry, directory=directory).graph


def plan_of(graph, cores=(0,), **kw):
    return optimise(graph, PlanOptions(tuple(cores), hz=HZ, **kw))


def edges(graph) -> set[str]:
    return {f"{e.src}.{e.out_port}->{e.dst}" for e in graph.edges()}


def texts(plan, pass_name: str) -> list[str]:
    return [d.text for d in plan.decisions if d.pass_name == pass_name]


PORTS = 'port wan = pcap("in.pcap")\nport lan = pcap(out: "lan.pcap")\n'


# ---------------------------------------------------------------- eliminate-dead-nfs


DEAD = PORTS + '''nf cls = Classifier {
    web   : "tcp port 80"
    dns   : "udp port 53"
    other : *
}
wan -> cls
cls.web   -> lan
cls.dns   -> Counter() -> drop
cls.other -> MacSwap() -> Drop()
'''


def test_dead_nfs_are_removed_and_their_inputs_go_to_drop(registry):
    graph = chain(registry, DEAD)
    assert edges(graph) >= {"cls.other->MacSwap#1", "MacSwap#1.out->Drop#1", "cls.dns->Counter#1"}
    plan = plan_of(graph)
    after = plan.graph
    assert "MacSwap#1" not in after and "Drop#1" not in after
    assert "Counter#1" in after  # its counters are observable: never removed
    assert edges(after) == {"wan.rx.out->cls", "cls.web->lan.tx", "cls.dns->Counter#1",
                            "Counter#1.out->drop", "cls.other->drop"}
    reasons = texts(plan, "eliminate-dead-nfs")
    assert reasons == [
        "MacSwap 'MacSwap#1' removed: it has no side effects and every packet it gets is "
        "dropped, so its packets go to the drop sink directly",
        "Drop 'Drop#1' removed: it has no side effects and every packet it gets is dropped, "
        "so its packets go to the drop sink directly"]
    spans = [d.span.line for d in plan.decisions if d.pass_name == "eliminate-dead-nfs"]
    assert spans == [11, 11]  # `cls.other -> MacSwap() -> Drop()`
    assert graph is not after and "MacSwap#1" in graph  # the input graph is left alone


def test_switched_off_the_graph_keeps_its_nfs(registry):
    plan = plan_of(chain(registry, DEAD), disabled=frozenset({"eliminate-dead-nfs"}))
    assert "MacSwap#1" in plan.graph and "Drop#1" in plan.graph
    assert "eliminate-dead-nfs" not in plan.passes


# ---------------------------------------------------------------- merge-classifiers


MERGE = PORTS + '''port other = pcap(out: "other.pcap")
nf outer = Classifier {
    tcp  : "tcp"
    udp  : "udp"
    rest : *
}
nf web = Classifier {
    http  : "dst port 80"
    https : "dst port 443"
}
wan -> outer
outer.tcp  -> web
outer.udp  -> Counter() -> other
outer.rest -> other
web.http   -> lan
web.https  -> MacSwap() -> lan
'''


def test_a_classifier_fed_by_one_arm_merges_into_it(registry):
    graph = chain(registry, MERGE)
    plan = plan_of(graph)
    merged = plan.graph.node("outer")
    assert "web" not in plan.graph
    arms = [(e.key, e.value) for e in merged.params["arms"].entries]
    assert arms == [("tcp.http", "(tcp) and (dst port 80)"), ("tcp.https", "(tcp) and (dst port 443)"),
                    ("tcp.no-match", "tcp"), ("udp", "udp"), ("rest", WILDCARD)]
    assert merged.outputs == ("tcp.http", "tcp.https", "tcp.no-match", "udp", "rest")
    assert edges(plan.graph) >= {"outer.tcp.http->lan.tx", "outer.tcp.https->MacSwap#1",
                                 "outer.tcp.no-match->drop", "outer.udp->Counter#1",
                                 "outer.rest->other.tx"}
    assert texts(plan, "merge-classifiers") == [
        "Classifier 'web' merged into arm 'tcp' of Classifier 'outer': one lookup instead of two"]
    assert merged.span.line == 4 and merged.span.end > graph.node("web").span.start


def test_merged_classifiers_send_every_packet_where_the_two_did(registry):
    """TCP to other ports matched `tcp` but no arm of `web`: dropped, not sent on as `rest`."""
    from native.chains import mixed_frames

    graph = chain(registry, MERGE)
    optimised = plan_of(graph).graph
    inputs = {"wan": mixed_frames(800, seed=5)}
    before = simulate(graph, inputs, registry).outputs
    after = simulate(optimised, inputs, registry).outputs
    assert before == after and sum(len(v) for v in before.values()) > 0


def test_a_classifier_with_two_inputs_is_not_merged(registry):
    text = MERGE.replace("outer.rest -> other", "outer.rest -> web")
    plan = plan_of(chain(registry, text))
    assert "web" in plan.graph and not texts(plan, "merge-classifiers")


def test_a_firewall_next_to_a_classifier_is_not_merged_and_the_plan_says_why(registry):
    text = PORTS + '''nf fw = Firewall(rules: "rules/edge.acl", default: deny)
nf cls = Classifier {
    web : "tcp port 80"
    rest : *
}
wan -> cls
cls.web -> fw -> lan
cls.rest -> drop
'''
    plan = plan_of(chain(registry, text))
    assert texts(plan, "merge-classifiers") == [
        "Classifier 'cls' and Firewall 'fw' are not merged: a Firewall's per-rule counters are "
        "observable"]


# ---------------------------------------------------------------- parse-once


@pytest.mark.parametrize("body, depth, reason", [
    ("wan -> Counter() -> lan", Depth.NONE, "port 'wan': no NF reads a header, so none is parsed"),
    ("wan -> Counter() -> MacSwap() -> lan", Depth.L2,
     "port 'wan': headers parsed to L2 (Ethernet, VLAN): MacSwap 'MacSwap#1' reads eth.src"),
    ('wan -> Router(routes: "rules/routes.txt") -> lan', Depth.L3, None),
    ('wan -> Firewall(rules: "rules/edge.acl", default: deny) -> lan', Depth.L4, None),
])
def test_headers_are_parsed_as_deep_as_the_nfs_read(registry, body, depth, reason):
    text = PORTS + body + "\n"
    if "Router" in body:
        text = PORTS + 'nf rt = Router(routes: "rules/routes.txt")\nwan -> rt\nrt.lan -> lan\n' \
            'rt.dmz -> drop\nrt.upstream -> drop\n'
    plan = plan_of(chain(registry, text))
    assert plan.parse_depth == {"wan": depth}
    if reason:
        assert texts(plan, "parse-once") == [reason]
    off = plan_of(chain(registry, text), disabled=frozenset({"parse-once"}))
    assert off.parse_depth == {}  # the backend then parses everything


def test_every_meta_field_a_native_body_reads_is_within_its_declared_depth(registry):
    """parse-once trusts the specs' `reads`: a body reading a deeper field than its
    spec declares would see zero. Checked on the sources of every native body."""
    import re

    from chainc.passes.parse_once import reads_depth

    layer = {**{f: Depth.L2 for f in ("ethertype", "vlan_tpid", "vlan_outer", "vlan_inner",
                                      "vlan_count", "l3_off")},
             **{f: Depth.L3 for f in ("ip_proto", "ip_ttl", "ip_tos", "ip_ihl", "ip_frag_off",
                                      "ip_id", "ip4_src", "ip4_dst", "ip6_src_hi", "ip6_src_lo",
                                      "ip6_dst_hi", "ip6_dst_lo", "ip_len", "l4_off")},
             **{f: Depth.L4 for f in ("sport", "dport", "tcp_seq", "tcp_ack", "tcp_flags",
                                      "tcp_window", "icmp_type", "icmp_code", "icmp_id",
                                      "payload_off", "payload_len")}}
    flags = {"META_L3": Depth.L3, "META_IP": Depth.L3, "META_IPV6": Depth.L3, "META_DF": Depth.L3,
             "META_MF": Depth.L3, "META_FRAG": Depth.L3, "META_L4": Depth.L4}
    checked = 0
    for spec in (registry.get(name) for name in registry.names()):
        if spec.native is None or spec.folder is None:
            continue
        source = "".join(p.read_text() for p in Path(spec.folder).glob("*.p*")
                         if p.suffix in (".pxd", ".py") and p.name != "reference.py")
        used = max([layer.get(f, Depth.NONE) for f in re.findall(r"meta\.(\w+)", source)]
                   + [d for prefix, d in flags.items()
                      for f in re.findall(r"\b(META_\w+)", source) if f.startswith(prefix)]
                   + [Depth.NONE])
        assert used <= reads_depth(spec.reads), f"{spec.name} reads deeper than its spec says"
        checked += 1
    assert checked >= 10


# ---------------------------------------------------------------- fuse, place, replicate


def example(registry, name: str):
    from chainc.driver import load_chain

    return load_chain(str(EXAMPLES / f"{name}.chain"), registry=registry).graph


def shape(plan) -> list[tuple[list[str], list[int]]]:
    return [(st.nodes, st.cores) for st in plan.stages]


def summary(plan) -> str:
    """`nodes @cores | nodes @cores ; N ring(s) ; rss PORT [symmetric]`."""
    def cores(c: list[int]) -> str:
        return f"{c[0]}-{c[-1]}" if len(c) > 1 else str(c[0])

    text = " | ".join(" ".join(s.nodes) + " @" + cores(s.cores) for s in plan.stages)
    if plan.rings:
        text += f" ; {len(plan.rings)} ring(s)"
    for port, rss in plan.rss.items():
        text += f" ; rss {port}" + (" symmetric" if rss.symmetric else "")
    return text


# Every example on 1, 2 and 8 cores. What decides: an NF with global state (RateLimiter,
# NAT) or a `finish` hook (FlowMonitor, IDS, LoadBalancer) stops replication; a ring
# crossing costs the receiving core about 1,000 cycles, so such chains mostly stay on
# one core; ConnTrack asks for the symmetric key; edge's @core(1) hint puts lb on core 1.
EXPECTED = {
    ("acl_gateway", 1): "lan.rx fw Counter#1 Counter#2 @0",
    ("acl_gateway", 2): "lan.rx fw Counter#1 Counter#2 @0-1 ; rss lan",
    ("acl_gateway", 8): "lan.rx fw Counter#1 Counter#2 @0-7 ; rss lan",
    ("edge", 1): "wan.rx fw Scrubber#1/RateLimiter#1 Scrubber#1/Counter#1 cls lb dns @0",
    ("edge", 2): "wan.rx fw Scrubber#1/RateLimiter#1 Scrubber#1/Counter#1 cls dns @0 | lb @1 ; 1 ring(s)",
    ("edge", 8): "wan.rx fw Scrubber#1/RateLimiter#1 Scrubber#1/Counter#1 cls dns @0 | lb @1 ; 1 ring(s)",
    ("metered_uplink", 1): "wan.rx tap cls dns meter smp @0",
    ("metered_uplink", 2): "wan.rx tap cls dns meter smp @0",
    ("metered_uplink", 8): "wan.rx tap cls @0-2 | dns @3 | meter @4 | smp @5 ; 5 ring(s) ; rss wan",
    ("nat_gateway", 1): "capture.rx Stateful#1/ct dir nat Counter#1 @0",
    ("nat_gateway", 2): "capture.rx Stateful#1/ct dir @0 | nat Counter#1 @1 ; 2 ring(s)",
    ("nat_gateway", 8): "capture.rx Stateful#1/ct dir @0 | nat Counter#1 @1 ; 2 ring(s)",
    ("quickstart", 1): "wan.rx cls Counter#1 MacSwap#1 Counter#2 @0",
    ("quickstart", 2): "wan.rx cls Counter#1 MacSwap#1 Counter#2 @0-1 ; rss wan",
    ("quickstart", 8): "wan.rx cls Counter#1 MacSwap#1 Counter#2 @0-7 ; rss wan",
    ("router_acl", 1): "trunk.rx VlanPop#1 acl rt Counter#1 VlanPush#1 Counter#2 Counter#3 @0",
    ("router_acl", 2): "trunk.rx VlanPop#1 acl rt Counter#1 VlanPush#1 Counter#2 Counter#3 @0-1 ; rss trunk",
    ("router_acl", 8): "trunk.rx VlanPop#1 acl rt Counter#1 VlanPush#1 Counter#2 Counter#3 @0-7 ; rss trunk",
    ("stateful_firewall", 1): "capture.rx link fw side refused @0",
    ("stateful_firewall", 2): "capture.rx link fw side refused @0-1 ; rss capture symmetric",
    ("stateful_firewall", 8): "capture.rx link fw side refused @0-7 ; rss capture symmetric",
    ("telemetry", 1): "wan.rx tap fm smp Counter#1 @0",
    ("telemetry", 2): "wan.rx tap fm smp Counter#1 @0",
    ("telemetry", 8): "wan.rx tap @0-1 | fm smp @2 | Counter#1 @3 ; 2 ring(s) ; rss wan",
    ("vlan_router", 1): "trunk.rx VlanPop#1 rt Counter#1 VlanPush#1 VlanPush#2 Counter#2 @0",
    ("vlan_router", 2): "trunk.rx VlanPop#1 rt Counter#1 VlanPush#1 VlanPush#2 Counter#2 @0-1 ; rss trunk",
    ("vlan_router", 8): "trunk.rx VlanPop#1 rt Counter#1 VlanPush#1 VlanPush#2 Counter#2 @0-7 ; rss trunk",
    ("web_front", 1): "wan.rx cls ids lb Counter#1 @0",
    ("web_front", 2): "wan.rx cls ids lb Counter#1 @0",
    ("web_front", 8): "wan.rx cls @0-1 | ids @2 | lb @3 | Counter#1 @4 ; 4 ring(s) ; rss wan",
}


def test_every_example_is_planned():
    assert {name for name, _ in EXPECTED} == {p.stem for p in EXAMPLES.glob("*.chain")}


@pytest.mark.parametrize("name, cores", sorted(EXPECTED), ids=lambda v: str(v))
def test_examples_are_placed_as_expected(registry, name, cores):
    plan = plan_of(example(registry, name), range(cores))
    assert summary(plan) == EXPECTED[(name, cores)]
    for port, r in plan.rss.items():
        assert r.queues == len(plan.stage_of(f"{port}.rx").cores)
    assert plan.predicted_mpps == min(s.predicted_mpps for s in plan.stages) > 0


def test_a_hint_the_plan_does_not_follow_is_explained(registry):
    plan = plan_of(example(registry, "web_front"), range(2))
    assert [(d.text, d.span.line) for d in plan.decisions if d.severity == "warning"] == [
        ("@replicas(2) of 'lb' is not honoured: it writes its state out at exit (a file or a "
         "report), which replicas would each do", 21)]


def test_the_plan_gives_a_reason_and_a_source_line_for_its_choices(registry):
    plan = plan_of(example(registry, "stateful_firewall"), range(2))
    fuse = [d for d in plan.decisions if d.pass_name == "fuse-stages"]
    assert fuse[0].text.startswith("all 4 NFs run to completion in one stage, replicated over "
                                   "2 cores: no NF keeps global state")
    rss = [d for d in plan.decisions if d.pass_name == "replicate-stages"]
    assert rss[0].text == (
        "port 'capture': 2 queues, symmetric Toeplitz key (6d5a repeated), on IPv4/IPv6 "
        "addresses and TCP/UDP ports: ConnTrack 'fw' keeps per-flow state (symmetric 5-tuple) "
        "and must see both directions of a connection on one core")
    assert rss[0].span.line == 17  # port capture = pcap(...)
    tele = plan_of(example(registry, "telemetry"), range(2))
    kept = [d.text for d in tele.decisions if d.pass_name == "fuse-stages"]
    assert kept[0].startswith("all 4 NFs run to completion in one stage; it is not replicated "
                              "(FlowMonitor 'fm': it writes its state out at exit")


def test_global_state_is_pipelined_on_its_own_core_when_that_pays(registry):
    from chainc.passes.profile import NodeProfile, Profile

    text = PORTS + 'wan -> Firewall(rules: "rules/edge.acl", default: deny) -> RateLimiter(rate: 10Gbps) -> lan\n'
    graph = chain(registry, text)
    # A cheap Firewall does not pay for a ring crossing: one core.
    light = Profile("t", HZ, 1000, 1.0, 0.0, {"wan": 1000},
                    {"Firewall#1": NodeProfile(1000, {"out": 1000}, 100.0)})
    assert shape(plan_of(graph, range(4), profile=light)) == [
        (["wan.rx", "Firewall#1", "RateLimiter#1"], [0])]
    heavy = Profile("t", HZ, 1000, 1.0, 0.0, {"wan": 1000},
                    {"Firewall#1": NodeProfile(1000, {"out": 1000}, 5000.0)})
    plan = plan_of(graph, range(4), profile=heavy)
    assert shape(plan) == [(["wan.rx", "Firewall#1"], [0, 1, 2]), (["RateLimiter#1"], [3])]
    assert [(r.src, r.dst) for r in plan.rings] == [("Firewall#1", "RateLimiter#1")]
    assert any("a new stage starts at RateLimiter 'RateLimiter#1': its state is global" in t
               for t in texts(plan, "fuse-stages"))


def test_replicating_an_nf_with_global_state_is_an_error_naming_it(registry):
    text = PORTS + 'wan -> RateLimiter(rate: 10Gbps) @replicas(2) -> lan\n'
    with pytest.raises(CompileError) as info:
        plan_of(chain(registry, text), range(2))
    [d] = info.value.diagnostics
    assert d.render().splitlines()[:3] == [
        "t.chain:3:34: error: cannot replicate RateLimiter 'RateLimiter#1': its state is global "
        "(none, or 5-tuple with per_flow), so one copy must see every packet",
        "    wan -> RateLimiter(rate: 10Gbps) @replicas(2) -> lan",
        "                                     ^^^^^^^^^^^^"]
    assert "remove @replicas" in d.hint


def test_hints_the_plan_cannot_follow_are_warnings_that_say_why(registry):
    graph = chain(registry, PORTS + 'wan -> Counter() @replicas(4) -> MacSwap() @core(3) -> lan\n')
    plan = plan_of(graph, range(2))
    warned = [d.text for d in plan.decisions if d.severity == "warning"]
    assert warned == [
        "@core(3) of 'MacSwap#1' is not honoured: only 2 core(s) were given; it runs where its "
        "input comes from",
        "@replicas(4) of 'Counter#1' is not honoured: placement follows the @core hints, which "
        "give each stage one core"]
    plain = plan_of(chain(registry, PORTS + 'wan -> Counter() @replicas(4) -> lan\n'), range(2))
    assert [d.text for d in plain.decisions if d.severity == "warning"] == [
        "@replicas(4) of 'Counter#1' is not honoured: only 2 core(s) were given"]
    honoured = plan_of(chain(registry, PORTS + 'wan -> Counter() @replicas(2) -> lan\n'), range(4))
    assert shape(honoured) == [(["wan.rx", "Counter#1"], [0, 1])]


def test_hints_that_send_packets_back_are_an_error(registry):
    text = PORTS + 'wan -> Counter() @core(1) -> MacSwap() @core(0) -> Counter() @core(1) -> lan\n'
    with pytest.raises(CompileError) as info:
        plan_of(chain(registry, text), range(2))
    assert "placement sends packets back to a core they already left" in str(info.value)


def test_without_fusion_every_nf_is_a_stage_and_stages_share_cores(registry):
    plan = plan_of(example(registry, "quickstart"), range(2), disabled=frozenset({"fuse-stages"}))
    assert shape(plan) == [(["wan.rx", "cls"], [0]), (["Counter#1"], [1]), (["MacSwap#1"], [1]),
                           (["Counter#2"], [1])]
    assert len(plan.rings) == 3
    one = plan_of(example(registry, "quickstart"), (0,), disabled=frozenset({"fuse-stages"}))
    assert {c for st in one.stages for c in st.cores} == {0}


def test_without_replication_nothing_is_replicated(registry):
    plan = plan_of(example(registry, "quickstart"), range(2), disabled=frozenset({"replicate-stages"}))
    assert all(st.replicas == 1 for st in plan.stages) and not plan.rss


def test_pass_names_are_checked():
    with pytest.raises(ValueError, match="no pass 'fuse'"):
        check_disabled({"fuse"})
    with pytest.raises(ValueError, match="cannot be switched off"):
        check_disabled({"insert-rings"})


def test_core_lists():
    assert parse_cores("0-3,6") == (0, 1, 2, 3, 6)
    assert parse_cores("2") == (2,)
    for bad in ("", "a", "3-1", "-1"):
        with pytest.raises(ValueError):
            parse_cores(bad)


# ---------------------------------------------------------------- the graph passes keep the packets


@pytest.mark.parametrize("name", ["quickstart", "router_acl", "vlan_router", "acl_gateway",
                                  "stateful_firewall", "edge"])
def test_the_optimised_graph_sends_the_same_packets_in_sim(registry, name):
    from chainc.pcapfile import read_pcap
    from chainc.sim import default_files

    graph = example(registry, name)
    plan = plan_of(graph, range(2))
    in_files, _ = default_files(graph)
    frames = {port: [(p.ts_ns, p.data) for p in read_pcap(path)][:3000] for port, path in in_files.items()}
    assert simulate(plan.graph, frames, registry).outputs == simulate(graph, frames, registry).outputs


# ---------------------------------------------------------------- profiles


def test_a_profile_replaces_the_hints(registry, tmp_path):
    from chainc.passes.profile import from_stats, load

    graph = example(registry, "quickstart")
    stats = {"chain": "quickstart", "elapsed_s": 1.0, "tsc_hz": 2e9,
             "ports": [{"name": "wan", "rx": 10_000_000}, {"name": "lan", "rx": 0}],
             "nodes": [{"id": "cls", "type": "Classifier", "in": 10_000_000,
                        "out": {"web": 9_000_000, "dns": 1_000_000, "other": 0},
                        "cycles": 30 * 1000, "cycle_samples": 1000},
                       {"id": "Counter#1", "type": "Counter", "in": 9_000_000, "out": {"out": 9_000_000},
                        "cycles": 10 * 100, "cycle_samples": 100},
                       {"id": "MacSwap#1", "type": "MacSwap", "in": 9_000_000, "out": {"out": 9_000_000},
                        "cycles": 0, "cycle_samples": 100},
                       {"id": "Counter#2", "type": "Counter", "in": 1_000_000, "out": {"out": 1_000_000},
                        "cycles": 20 * 100, "cycle_samples": 100}]}
    measured = from_stats(stats)
    assert measured.mpps == 10.0 and measured.overhead_cycles == pytest.approx(200 - 30 - 9 - 2)
    path = tmp_path / "q.profile"
    measured.save(str(path))
    loaded = load(str(path))
    plan = optimise(graph, PlanOptions((0,), profile=loaded))
    assert plan.hz == 2e9 and plan.nf_cycles["cls"] == 30.0 and plan.nf_cycles["Counter#1"] == 10.0
    # the profiled one-core plan predicts what was measured
    assert plan.predicted_mpps == pytest.approx(10.0, rel=0.02)
    assert plan.cost_source == f"the profile {path}"
    del loaded.nodes["Counter#2"]
    assert optimise(graph, PlanOptions((0,), profile=loaded)).nf_cycles["Counter#2"] == 8.0  # its hint


def test_a_profile_of_several_runs_is_the_median_run(tmp_path):
    from chainc.passes.profile import from_runs, load

    def run(packets: int, nf_cycles: float) -> dict:
        return {"chain": "t", "elapsed_s": 1.0, "tsc_hz": 2e9,
                "ports": [{"name": "wan", "rx": packets}],
                "nodes": [{"id": "Counter#1", "type": "Counter", "in": packets, "out": {"out": packets},
                           "cycles": nf_cycles * 100, "cycle_samples": 100}]}

    runs = [run(5_000_000, 40.0), run(4_000_000, 50.0), run(6_000_000, 30.0)]
    measured = from_runs(runs)
    assert measured.mpps == 5.0 and measured.nodes["Counter#1"].cycles == 40.0
    assert measured.runs_mpps == [5.0, 4.0, 6.0]
    assert from_runs(runs[:2]).mpps == 4.0  # of an even number, the slower middle run
    path = tmp_path / "t.profile"
    measured.save(str(path))
    assert load(str(path)).runs_mpps == [5.0, 4.0, 6.0]
    with pytest.raises(ValueError):
        from_runs([])


def test_a_broken_profile_is_a_clear_error(tmp_path):
    from chainc.passes.profile import ProfileError, load

    bad = tmp_path / "bad.profile"
    bad.write_text("{}")
    with pytest.raises(ProfileError, match="not a chainc profile"):
        load(str(bad))
    with pytest.raises(ProfileError, match="cannot read profile"):
        load(str(tmp_path / "missing"))


# ---------------------------------------------------------------- what the backend generates from a plan


def test_generated_code_names_the_source_line_of_every_nf_call(registry):
    from chainc.backends.dpdk.build import collect_sources

    graph = example(registry, "quickstart")
    pyx = collect_sources(graph, plan_of(graph, range(2)))["chain.pyx"]
    calls = [line for line in pyx.splitlines() if line.strip().startswith("r = n") or "_process(" in line
             and line.strip().startswith("r = ")]
    assert calls and all(line.rstrip().endswith(("quickstart.chain:13", "quickstart.chain:20",
                                                 "quickstart.chain:21")) for line in calls)
    assert "r = n1_process(NULL, m, meta, inp)  # quickstart.chain:13" in pyx


def test_each_replica_has_its_own_state_and_its_own_object_names(registry):
    from chainc.backends.dpdk.build import collect_sources

    graph = example(registry, "acl_gateway")
    plan = plan_of(graph, range(2))
    assert plan.stages[0].replicas == 2
    pyx = collect_sources(graph, plan)["chain.pyx"]
    assert "cdef n1_replica n1_st[2]" in pyx  # padded: no false sharing between replicas
    assert "n1_init(&n1_st[0].st)" in pyx and "n1_r1_init(&n1_st[1].st)" in pyx
    assert 'b"chainc_fw_n1"' in pyx and 'b"chainc_fw_n1_r1"' in pyx  # distinct DPDK names
    assert "r = n1_process(&n1_st[w.replica].st, m, meta, inp)" in pyx
    assert "n1_st[0].st.matched + n1_st[1].st.matched" in pyx  # counters added up
