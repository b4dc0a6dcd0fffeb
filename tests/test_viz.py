"""Pictures of chains: DOT and SVG structure, the plan and statistics overlays, the HTML page,
`chainc show`, `chainc top`, the live server, large chains and the pictures in docs/.

The browser test of the page is tests/test_viz_browser.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from chainc.cli import main
from chainc.driver import load_chain, load_registry, load_text
from chainc.ir.graph import NodeKind
from chainc.sim import default_files, run_sim
from chainc.viz import dot as dotmod
from chainc.viz.dot import chain_picture
from chainc.viz.html import Live, chain_page
from chainc.viz.plan import PlanView, RingView, StageView, plan_for
from chainc.viz.render import render
from chainc.viz.statsfile import StatsError, from_json, load_stats, parse_stats
from chainc.viz.text import show_text
from chainc.viz.top import TopView

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# Written by `chainc run examples/quickstart.chain --stats-json` (the native binary).
NATIVE_STATS = Path(__file__).parent / "data" / "viz" / "quickstart-native-stats.json"
SVG = "{http://www.w3.org/2000/svg}"


def ladder_chain(nfs: int) -> str:
    """bench/check_large.py's large chain: every NF feeds the next two."""
    spec = importlib.util.spec_from_file_location("check_large", ROOT / "bench" / "check_large.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate(nfs)[0]


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def chain(name: str, registry):
    return load_chain(str(EXAMPLES / name), registry=registry).graph


def svg_groups(dot_text: str, kind: str) -> dict[str, ET.Element]:
    """The SVG groups of class `kind` (node, edge, cluster) by id."""
    root = ET.fromstring(render(dot_text, "svg"))
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if kind in (g.get("class") or "").split()}


def texts(group: ET.Element) -> list[str]:
    return [t.text or "" for t in group.iter(f"{SVG}text")]


def strokes(group: ET.Element) -> set[str]:
    return {p.get("stroke") for p in group.iter() if p.tag in (f"{SVG}path", f"{SVG}polygon")} - {"transparent", None}


# ---------------------------------------------------------------- the chain


def test_every_nf_edge_arm_and_subchain_is_in_the_svg(registry):
    graph = chain("edge.chain", registry)
    picture = chain_picture(graph)
    nodes = svg_groups(picture.dot, "node")
    nfs = graph.nodes(NodeKind.NF)
    for nf in nfs:
        shown = texts(nodes[picture.node_ids[nf.id]])
        assert nf.id.split("/")[-1] in shown
        assert any(t.startswith(Path(nf.span.file.path).name + ":") for t in shown), shown
    fw = texts(nodes[picture.node_ids["fw"]])
    assert fw[:3] == ["fw", "Firewall", 'rules: "rules/edge.acl"']  # name, type, key parameter
    assert "@core(1)" in texts(nodes[picture.node_ids["lb"]])
    # 6 NFs, 2 ports and one drop sink (cls.other -> drop)
    assert len(nodes) == len(nfs) + 2 + 1
    edges = svg_groups(picture.dot, "edge")
    assert len(edges) == len(graph.edges()) == 9
    arms = {v.edge.out_port: texts(edges[v.dot_id]) for v in picture.edges if v.edge.src == "cls"}
    assert arms == {"web": ["web"], "dns": ["dns"], "other": ["other"]}
    clusters = svg_groups(picture.dot, "cluster")
    assert [texts(c) for c in clusters.values()] == [["Scrubber#1"]]
    inside = {t for c in clusters.values() for g in c.iter(f"{SVG}g") for t in texts(g)}
    assert "RateLimiter#1" not in inside  # clusters hold no nodes in SVG; the DOT nests them:
    sub = picture.dot.split("subgraph cluster_1 {")[1].split("}")[0]
    assert picture.node_ids["Scrubber#1/RateLimiter#1"] in sub and picture.node_ids["cls"] not in sub


def test_a_named_subchain_instance_is_labelled_with_its_subchain(registry, tmp_path):
    (tmp_path / "lib.chain").write_text((EXAMPLES / "lib" / "scrub.chain").read_text())
    text = ('import "lib.chain"\nport wan = pcap("w.pcap")\nport lan = pcap(out: "l.pcap")\n'
            "nf s = Scrubber(limit: 2Gbps)\nwan -> s -> lan\n")
    graph = load_text(text, str(tmp_path / "n.chain"), registry, directory=str(tmp_path)).graph
    clusters = svg_groups(chain_picture(graph).dot, "cluster")
    assert [texts(c) for c in clusters.values()] == [["s: Scrubber"]]


def test_ports_sit_at_the_borders_and_each_drop_is_its_own_sink(registry):
    graph = chain("telemetry.chain", registry)
    picture = chain_picture(graph)
    boxes, _ = layout(picture.dot)
    x = {name: (box[0] + box[2]) / 2 for name, box in boxes.items()}
    ports_in = [picture.node_ids[n.id] for n in graph.nodes(NodeKind.PORT_IN)]
    ports_out = [picture.node_ids[n.id] for n in graph.nodes(NodeKind.PORT_OUT)]
    assert max(x[p] for p in ports_in) == min(x.values())
    assert min(x[p] for p in ports_out) == max(x.values())
    assert re.search(r'shape="cds"', picture.dot)
    sinks = [v for v in picture.edges if graph.node(v.edge.dst).kind is NodeKind.DROP]
    assert len(sinks) == 1
    sink = "d" + sinks[0].dot_id[1:]
    assert f'{sink} [id="{sink}", class="drop", shape="octagon"' in picture.dot
    assert not re.search(rf"^\s*{sink} ->", picture.dot, re.M)  # a sink: nothing leaves it


# ---------------------------------------------------------------- the plan


def test_plan_gives_each_core_its_colour_and_draws_rings(registry):
    graph = chain("edge.chain", registry)
    plan = plan_for(graph)
    assert [s.core for s in plan.stages] == [0, 1] and len(plan.rings) == 1
    picture = chain_picture(graph, plan)
    clusters = svg_groups(picture.dot, "cluster")
    stages = {texts(c)[0]: strokes(c) for c in clusters.values() if texts(c)[0].startswith("stage")}
    assert stages == {"stage 0 · core 0": {dotmod.BOTTLENECK},  # the optimiser's prediction
                      "stage 1 · core 1": {dotmod.core_colour(1)}}
    assert dotmod.core_colour(0) != dotmod.core_colour(1)
    nodes = svg_groups(picture.dot, "node")
    for nf in graph.nodes(NodeKind.NF):
        core = plan.stage_of(nf.id).core
        assert dotmod.core_colour(core) in strokes(nodes[picture.node_ids[nf.id]]), nf.id
    assert "core 1" in texts(nodes[picture.node_ids["lan.tx"]])  # the stage that sends on lan
    edges = svg_groups(picture.dot, "edge")
    rings = {v.edge.src: texts(edges[v.dot_id]) for v in picture.edges if v.ring is not None}
    assert rings == {"cls": ["web", "ring 0"]}  # dns sends on lan from its own core
    web = next(v for v in picture.edges if v.edge.out_port == "web")
    assert next(edges[web.dot_id].iter(f"{SVG}path")).get("stroke-dasharray")
    # the sub-chain's cluster nests inside its stage's
    stage0 = picture.dot.split("subgraph cluster_1 {")[1]
    assert stage0.index('label="Scrubber#1"') < stage0.index("subgraph cluster_3")


def test_a_plan_with_replicas_rss_and_predictions_shows_them(registry):
    """The optimiser's plans will carry these; a hand-made one stands in for them."""
    graph = chain("web_front.chain", registry)
    ids = [n.id for n in graph.topological_order()]
    front = tuple(i for i in ids if i not in ("lb", "web.tx"))
    plan = PlanView(
        stages=(StageView(0, 0, front, predicted_mpps=14.2),
                StageView(1, 2, ("lb", "web.tx"), replicas=2, rss="symmetric 5-tuple",
                          predicted_mpps=9.5)),
        rings=(RingView(0, "ids", "out", 0, 1), RingView(1, "cls", "https", 0, 1)),
        predicted_mpps=9.5, bottleneck=1)
    picture = chain_picture(graph, plan)
    clusters = {texts(c)[0]: c for c in svg_groups(picture.dot, "cluster").values()}
    assert texts(clusters["stage 1 · core 2"]) == [
        "stage 1 · core 2", "×2 replicas", "RSS: symmetric 5-tuple", "predicted 9.5 Mpps", "bottleneck"]
    assert strokes(clusters["stage 1 · core 2"]) == {dotmod.BOTTLENECK}
    assert strokes(clusters["stage 0 · core 0"]) == {dotmod.core_colour(0)}
    assert 'penwidth="5"' in picture.dot.split("subgraph cluster_")[2].split("\n")[1]
    title = texts(next(iter(ET.fromstring(render(picture.dot, "svg")).iter(f"{SVG}g"))))
    assert "plan: 2 stage(s) on 2 core(s), 2 ring(s), predicted 9.5 Mpps, bottleneck: stage 1" in title
    shown = show_text(graph, plan)
    assert "== stage 1 on core 2, ×2 replicas, RSS: symmetric 5-tuple, predicted 9.5 Mpps, BOTTLENECK ==" in shown
    assert re.search(r"https -> lb +\[ring 1 to stage 1\]", shown)


# ---------------------------------------------------------------- statistics


def test_native_statistics_put_packets_rates_widths_and_heat_on_the_picture(registry):
    graph = chain("quickstart.chain", registry)
    stats = load_stats(str(NATIVE_STATS))
    picture = chain_picture(graph, stats=stats)
    edges = svg_groups(picture.dot, "edge")
    by_arm = {v.edge.out_port: v for v in picture.edges if v.edge.src == "cls"}
    assert texts(edges[by_arm["web"].dot_id]) == ["web", "3,901 pkts", "352 kpps"]
    assert texts(edges[by_arm["other"].dot_id]) == ["other", "4,593 pkts", "415 kpps"]
    widths = {v.edge.src: v.width for v in picture.edges}
    assert widths["wan.rx"] == dotmod.MAX_PEN  # the busiest edge
    assert widths["wan.rx"] > widths["Counter#1"] > 1
    nodes = svg_groups(picture.dot, "node")
    cls = nodes[picture.node_ids["cls"]]
    assert texts(cls)[-2:] == ["11 cyc/pkt", "no drops"]
    assert next(cls.iter(f"{SVG}path")).get("fill") == dotmod.HEAT[-1]  # the hottest NF
    drop = texts(nodes[picture.node_ids["Drop#1"]])
    assert drop[-1] == "drops: dropped 4,593"
    assert next(nodes[picture.node_ids["Counter#1"]].iter(f"{SVG}path")).get("fill") != dotmod.HEAT[-1]


def test_sim_statistics_give_counts_but_no_rates_or_heat(registry):
    graph = chain("router_acl.chain", registry)
    inputs, _ = default_files(graph)
    stats = from_json(run_sim(graph, inputs, {}, registry), "sim")
    picture = chain_picture(graph, stats=stats)
    labels = {(v.edge.src, v.edge.out_port): v.label_lines for v in picture.edges}
    assert labels[("rt", "lan")] == ["lan", "5,631 pkts"]
    assert labels[("trunk.rx", "out")] == ["12,184 pkts"]
    nodes = svg_groups(picture.dot, "node")
    assert texts(nodes[picture.node_ids["rt"]])[-1] == "drops: ttl-expired 6, not-ip 31"
    assert not any("cyc/pkt" in t for g in nodes.values() for t in texts(g))


@pytest.mark.parametrize("content, message", [
    ("{", "bad.json:1:2: not JSON"),
    ("[1, 2]", "not a statistics file"),
    ('{"nodes": [{"type": "x"}]}', "nodes[0]: expected an object with a string 'id'"),
    ('{"nodes": [{"id": "a", "in": -1}]}', "nodes[0] (a): 'in' must be a count"),
    ('{"nodes": [{"id": "a", "out": {"x": "many"}}]}', "nodes[0] (a).out: 'x' must be a count"),
    ('{"nodes": [], "elapsed_s": "soon"}', "'elapsed_s' must be a non-negative number"),
])
def test_a_broken_statistics_file_is_named_with_what_is_wrong(content, message, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(StatsError, match=re.escape(message)):
        load_stats(str(path))


def test_an_nf_that_emits_copies_keeps_its_count():
    snap = parse_stats('{"chain": "t", "nodes": [{"id": "tap", "type": "Tee", "in": 5, '
                       '"out": {"out": 5, "copy": 5}, "emitted": 5}]}', "s.json")
    assert snap.nodes["tap"].emitted == 5 and snap.edge_count("tap", "copy") == 5


# ---------------------------------------------------------------- escaping and the page

HOSTILE = 'q"b\\s<i>&</script>'


def hostile_chain(registry, tmp_path):
    text = ('port wan = pcap("w.pcap")\nport lan = pcap(out: "l.pcap")\n'
            f'nf fm = FlowMonitor(export: "{HOSTILE.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}")\n'
            "wan -> fm -> lan\n")
    return load_text(text, str(tmp_path / "h.chain"), registry, directory=str(tmp_path)).graph


def test_user_strings_are_escaped_in_dot_and_html(registry, tmp_path):
    graph = hostile_chain(registry, tmp_path)
    picture = chain_picture(graph)
    node = svg_groups(picture.dot, "node")[picture.node_ids["fm"]]
    assert 'export: "q\\"b\\\\s<i>&</script>"' in texts(node)  # shown as the user wrote it
    page = chain_page(graph)
    assert page.count("</script>") == 2  # the page's own two script elements
    assert "<i>" not in page
    data = re.search(r'<script type="application/json" id="chain-data">(.*?)</script>', page, re.S)
    params = dict(json.loads(data.group(1))["nodes"][picture.node_ids["fm"]]["params"])
    assert params["export"] == '"q\\"b\\\\s<i>&</script>"'


def test_html_page_is_self_contained(registry):
    graph = chain("edge.chain", registry)
    page = chain_page(graph, plan_for(graph), live=None)
    assert not re.search(r"(?i)\b(?:https?|ftp|wss?):", page)
    assert not re.search(r"(?i)<(?:link|iframe|img|object|embed)\b", page)
    assert not re.search(r"(?i)\b(?:src|href)\s*=", page)
    assert not re.search(r"(?i)@import|url\(", page)
    assert page.count("<svg") == 1
    live = chain_page(graph, live=Live(interval_s=2))
    data = json.loads(re.search(r'id="chain-data">(.*?)</script>', live, re.S).group(1))
    assert data["live"] == {"url": "stats.json", "interval_ms": 2000}


# ---------------------------------------------------------------- large chains


def layout(dot_text: str):
    """Node boxes and edge polylines (spline control points) of dot's layout, in points."""
    out = json.loads(subprocess.run(["dot", "-Tjson"], input=dot_text.encode(), capture_output=True,
                                    check=True).stdout)
    boxes, index = {}, {}
    for o in out["objects"]:
        if "pos" in o:
            x, y = map(float, o["pos"].split(","))
            w, h = float(o["width"]) * 72, float(o["height"]) * 72
            boxes[o["name"]] = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            index[o["_gvid"]] = o["name"]
    lines = []
    for e in out["edges"]:
        points = [tuple(map(float, p.split(",")[-2:])) for p in e["pos"].split()]
        lines.append((index[e["tail"]], index[e["head"]], points))
    return boxes, lines


def crossings(lines) -> int:
    def ccw(a, b, c):
        return (c[1] - a[1]) * (b[0] - a[0]) - (b[1] - a[1]) * (c[0] - a[0])

    def cross(p, q, r, s):
        return ccw(p, q, r) * ccw(p, q, s) < 0 and ccw(r, s, p) * ccw(r, s, q) < 0

    count = 0
    for i, (t1, h1, a) in enumerate(lines):
        for t2, h2, b in lines[i + 1:]:
            if {t1, h1} & {t2, h2}:
                continue  # edges meeting at a node touch there
            if any(cross(a[k], a[k + 1], b[m], b[m + 1])
                   for k in range(len(a) - 1) for m in range(len(b) - 1)):
                count += 1
    return count


def fan_chain(arms: int) -> str:
    lines = ['port wan = pcap("in.pcap")', 'port lan = pcap(out: "out.pcap")', "nf cls = Classifier {"]
    lines += [f'    a{i} : "udp dst port {1000 + i}"' for i in range(arms)] + ["    other : *", "}"]
    lines += ["wan -> cls", "cls.other -> drop"]
    lines += [f"cls.a{i} -> Counter() -> MacSwap() -> lan" for i in range(arms)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name, text, nfs", [
    ("ladder", ladder_chain(60), 60),  # every NF feeds the next two: 60 merges
    ("fan", fan_chain(30), 61),           # 30 arms of two NFs each
], ids=["ladder", "fan"])
def test_a_large_chain_reads_left_to_right_without_crossings(registry, name, text, nfs):
    graph = load_text(text, f"{name}.chain", registry).graph
    assert len(graph.nodes(NodeKind.NF)) == nfs
    picture = chain_picture(graph)
    boxes, lines = layout(picture.dot)
    centre = {n: (b[0] + b[2]) / 2 for n, b in boxes.items()}
    assert all(centre[h] > centre[t] for t, h, _ in lines)  # every edge points right
    names = sorted(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            p, q = boxes[a], boxes[b]
            assert p[2] <= q[0] or q[2] <= p[0] or p[3] <= q[1] or q[3] <= p[1], (a, b)
    assert crossings(lines) == 0


# ---------------------------------------------------------------- chainc show and top


def test_show_prints_each_nf_with_its_edges_plan_and_counters(registry):
    graph = chain("quickstart.chain", registry)
    shown = show_text(graph, plan_for(graph, cores=(0,)), load_stats(str(NATIVE_STATS)))
    head = shown.splitlines()[:5]
    assert head[0] == "chain quickstart (quickstart.chain): 5 NFs, 2 port(s), 7 edge(s)"
    assert head[1].startswith("plan: 1 stage(s), 0 ring(s), predicted ")  # Mpps at this machine's clock
    assert head[2:4] == ["statistics over 0.011 s", ""]
    assert head[4].startswith("== stage 0 on core 0, predicted ")
    assert ("  cls  Classifier  (quickstart.chain:13)\n"
            "    = in 12,184 | 11 cyc/pkt | no drops\n"
            "    web   -> Counter#1  3,901 pkts, 352 kpps\n"
            "    dns   -> Counter#2  3,690 pkts, 333 kpps\n"
            "    other -> Drop#1     4,593 pkts, 415 kpps\n") in shown
    assert "counters: packets 3,901, bytes 1.44M" in shown
    plain = show_text(chain("edge.chain", registry))
    assert '  fw  Firewall  rules: "rules/edge.acl"  default: "deny"  (edge.chain:15)\n    -> Scrubber#1/RateLimiter#1' in plain


def write_stats(path: Path, elapsed: float, packets: int, dropped: int) -> None:
    path.write_text(json.dumps({"chain": "t", "elapsed_s": elapsed, "nodes": [
        {"id": "fw", "type": "Firewall", "core": 0, "in": packets, "out": {"out": packets - dropped},
         "drops": {"denied": dropped}, "cycles": 300, "cycle_samples": 10},
        {"id": "wan.rx", "type": "port-in", "core": 0, "in": packets, "out": {"out": packets}}],
        "ports": [{"name": "wan", "rx": packets, "tx": 0, "tx_dropped": 0}]}))


def test_top_shows_rates_over_the_binarys_last_interval(tmp_path):
    path = tmp_path / "s.json"
    view = TopView(str(path))
    screen, ok = view.refresh()
    assert not ok and screen.startswith("waiting for statistics: ") and "cannot read" in screen
    write_stats(path, 2.0, 2_000_000, 20_000)
    screen, ok = view.refresh()  # first snapshot: the average over the run
    assert ok and screen.startswith("chain t, run time 2.0 s")
    row = screen.splitlines()[4].split()
    assert row == ["fw", "Firewall", "0", "1", "Mpps", "2M", "10", "kpps", "20,000", "30", "denied", "20,000"]
    write_stats(path, 3.0, 5_000_000, 20_000)  # one second later: 3M in, no new drops
    row = view.refresh()[0].splitlines()[4].split()
    assert row[3:9] == ["3", "Mpps", "5M", "0", "pps", "20,000"]
    assert "wan.rx" not in view.refresh()[0]  # the same snapshot again keeps the rates
    assert view.refresh()[0].splitlines()[4].split()[3:5] == ["3", "Mpps"]


def test_top_command_prints_screens_and_fails_on_a_file_it_cannot_read(tmp_path):
    path = tmp_path / "s.json"
    write_stats(path, 2.0, 2_000_000, 20_000)
    result = CliRunner().invoke(main, ["top", str(path), "-n", "2", "--interval", "0.1", "--sort", "drops"])
    assert result.exit_code == 0, result.output
    assert result.output.count("chain t, run time 2.0 s") == 2
    path.write_text("{")
    result = CliRunner().invoke(main, ["top", str(path), "-n", "1"])
    assert result.exit_code == 1 and "s.json:1:2: not JSON" in result.output


# ---------------------------------------------------------------- the commands


def test_viz_writes_every_format(tmp_path):
    quickstart = str(EXAMPLES / "quickstart.chain")
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF", "dot": b'digraph "quickstart"',
             "html": b"<!DOCTYPE html>"}
    for fmt, head in magic.items():
        out = tmp_path / f"q.{fmt}"
        result = CliRunner().invoke(main, ["viz", quickstart, "-o", str(out), "--plan",
                                           "--stats", str(NATIVE_STATS)])
        assert result.exit_code == 0, result.output
        assert result.output == f"{out}: {fmt} of chain quickstart\n"
        assert out.read_bytes().startswith(head)


@pytest.mark.parametrize("args, code, message", [
    (["-o", "x.gif"], 2, "unknown suffix of 'x.gif'"),
    ([], 2, "give -o OUT (.svg .png .pdf .dot .html) or --live STATS.json"),
    (["--live", "s.json", "-o", "x.html"], 2, "--live serves the page itself"),
    (["-o", "x.svg", "--stats", "STATS"], 1, "these are statistics of chain 'quickstart', not of 'edge'"),
    (["-o", "x.svg", "--stats", "missing.json"], 1, "missing.json: cannot read: No such file"),
])
def test_viz_refuses_bad_requests_clearly(tmp_path, monkeypatch, args, code, message):
    monkeypatch.chdir(tmp_path)
    args = [str(NATIVE_STATS) if a == "STATS" else a for a in args]
    result = CliRunner().invoke(main, ["viz", str(EXAMPLES / "edge.chain"), *args])
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_viz_without_graphviz_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["viz", str(EXAMPLES / "quickstart.chain"), "-o", str(tmp_path / "q.svg")])
    assert result.exit_code == 1
    assert "Graphviz's `dot` was not found: install Graphviz" in result.output


def test_show_command(tmp_path):
    result = CliRunner().invoke(main, ["show", str(EXAMPLES / "edge.chain"), "--plan"])
    assert result.exit_code == 0
    assert "== stage 1 on core 1, predicted " in result.output
    assert " Mpps ==\n  lb  LoadBalancer" in result.output


def test_live_server_serves_the_page_and_the_current_statistics(tmp_path):
    stats = tmp_path / "stats.json"
    proc = subprocess.Popen([sys.executable, "-m", "chainc", "viz", str(EXAMPLES / "quickstart.chain"),
                             "--live", str(stats), "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        page = urllib.request.urlopen(url, timeout=10).read().decode()
        assert '"live": {"interval_ms": 1000, "url": "stats.json"}' in page
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url + "stats.json", timeout=10)
        assert missing.value.code == 503 and b"cannot read" in missing.value.read()
        stats.write_bytes(NATIVE_STATS.read_bytes())
        served = urllib.request.urlopen(url + "stats.json", timeout=10)
        assert served.headers["Cache-Control"] == "no-store"
        assert served.read() == NATIVE_STATS.read_bytes()
        with pytest.raises(urllib.error.HTTPError) as other:
            urllib.request.urlopen(url + "etc/passwd", timeout=10)
        assert other.value.code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ---------------------------------------------------------------- the pictures in docs/


def test_the_pictures_in_docs_are_current():
    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "pictures" / "make.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for name in ("edge-plan.svg", "router-acl-stats.svg"):
        assert f"docs/pictures/{name}" in (ROOT / "README.md").read_text() + (ROOT / "docs" / "viz.md").read_text()
