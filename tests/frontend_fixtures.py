"""Helpers for the front-end tests: a small fake NF registry and loaders.

The fake NFs mirror the shapes of the standard library (one output, no
output, two outputs, outputs from a block, two inputs, required and typed
parameters, a validate hook that points inside a string) without depending
on it, so parser and resolver tests stay independent of the NF library.
"""

from __future__ import annotations

from pathlib import Path

from chainc.diagnostics import CompileError
from chainc.driver import load_text
from chainc.nfs.registry import Registry
from chainc.nfs.spec import REQUIRED, NfSpec, ParamSpec
from chainc.syntax import string_span
from chainc.values import (BOOL, DURATION, INT, IP, IPV4, MATCH, PATH, RANGE, RATE, SIZE, STRING,
                           WILDCARD, Block, BlockOf, Enum, ListOf, Size)


def _arms(params):
    block = params.get("arms")
    return tuple(block.keys()) if isinstance(block, Block) else ()


def _validate_classifier(node, reporter):
    """A stand-in for the real match validation: the word `bad` is an error."""
    for entry in node.params["arms"].entries:
        if entry.value is WILDCARD:
            continue
        at = entry.value.find("bad")
        if at >= 0:
            reporter.error(f"bad match expression in arm '{entry.key}'",
                           string_span(entry.value_span, at, at + 3))


def _validate_counter(node, reporter):
    node.params.setdefault("_validated", True)


SPECS = [
    NfSpec("Counter", "Count packets.", validate=_validate_counter),
    NfSpec("MacSwap", "Swap MACs."),
    NfSpec("Drop", "Drop everything.", outputs=()),
    NfSpec("Tee", "Copy packets.", params=(ParamSpec("snaplen", INT, 0),), outputs=("out", "copy")),
    NfSpec("Classifier", "Classify.", params=(ParamSpec("arms", BlockOf(MATCH, wildcard=True)),),
           outputs=(), outputs_from=_arms, block_param="arms", validate=_validate_classifier),
    NfSpec("NAT", "NAT.", params=(ParamSpec("external", IPV4, REQUIRED),
                                  ParamSpec("ports", RANGE, None)),
           inputs=("inside", "outside"), outputs=("inside", "outside")),
    NfSpec("RateLimiter", "Police.", params=(ParamSpec("rate", RATE, REQUIRED),
                                             ParamSpec("burst", SIZE, Size(65536, "64KiB")))),
    NfSpec("Firewall", "ACL.", params=(ParamSpec("rules", PATH, REQUIRED),
                                       ParamSpec("default", Enum("allow", "deny"), "deny"))),
    NfSpec("LoadBalancer", "LB.", params=(ParamSpec("vip", IP, REQUIRED),
                                          ParamSpec("backends", ListOf(IP, 1), REQUIRED))),
    NfSpec("Timer", "Timeouts.", params=(ParamSpec("idle", DURATION, None),
                                         ParamSpec("name", STRING, ""),
                                         ParamSpec("on", BOOL, True))),
]


def fake_registry() -> Registry:
    return Registry(SPECS)


def load(text: str, path: str = "test.chain", directory: str | Path = ".", registry=None):
    """load_text with the fake registry; returns the LoadResult."""
    return load_text(text, path, registry=registry if registry is not None else fake_registry(), directory=str(directory))


def errors(text: str, path: str = "test.chain", directory: str | Path = ".", registry=None) -> str:
    """Every diagnostic of a text that must fail, rendered."""
    try:
        load(text, path, directory, registry)
    except CompileError as exc:
        return "\n".join(d.render() for d in exc.diagnostics)
    raise AssertionError("expected errors, but the chain compiled")


def edges(graph) -> set[tuple[str, str, str, str]]:
    return {(e.src, e.out_port, e.dst, e.in_port) for e in graph.edges()}


# ---------------------------------------------------------------- generated programs

from dataclasses import dataclass, field  # noqa: E402

from hypothesis import strategies as st  # noqa: E402


@dataclass
class GenProgram:
    """A generated valid program and what its IR must be."""

    text: str
    nodes: dict[str, str] = field(default_factory=dict)  # node id -> NF type / port kind
    edges: set[tuple[str, str, str, str]] = field(default_factory=set)
    comments: list[str] = field(default_factory=list)


_MATCHES = ["tcp dst port 80", "udp port 53", "icmp", "ip6 and tcp", "vlan 10", "src net 10.0.0.0/8"]
_STRINGS = ["x", "a b", 'quote\\"d', "tab\\there", "caf\\u{e9}", "#not a comment"]


@st.composite
def gen_programs(draw) -> GenProgram:
    """Valid programs over the fake registry, written in varied layouts."""
    lines: list[str] = []
    comments: list[str] = []
    ws = lambda: draw(st.sampled_from([" ", " ", "  ", "\t"]))  # noqa: E731

    def comment(where: str) -> str:
        text = f"# {where} {len(comments)}"
        comments.append(text)
        return text

    def maybe_comment_line() -> None:
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["", "    "])) + comment("line"))
        if draw(st.integers(0, 5)) == 0:
            lines.append("")

    def trailing() -> str:
        return ("  " + comment("trail")) if draw(st.integers(0, 4)) == 0 else ""

    consts: dict[str, str] = {}

    def value(text: str) -> str:
        """A value written directly or through a constant."""
        if draw(st.booleans()) and draw(st.booleans()):
            name = f"C{len(consts)}"
            consts[name] = text
            lines.append(f"const {name} ={ws()}{text}{trailing()}")
            maybe_comment_line()
            return name
        return text

    def args(pairs: list[tuple[str, str]]) -> str:
        if not pairs:
            return "()"
        sep = draw(st.sampled_from([", ", ",\n    ", " ,  "]))
        tail = draw(st.sampled_from(["", ",", ",\n"])) if "\n" in sep else ""
        return "(" + sep.join(f"{k}:{ws()}{v}" for k, v in pairs) + tail + ")"

    gp = GenProgram("")
    n_nfs = draw(st.integers(1, 7))
    pool: list[tuple[str, str]] = []  # free outputs: (node id, port)
    ports: list[str] = []
    nf_names: list[str] = []
    outputs_of: dict[str, tuple[str, ...]] = {}
    body: list[str] = []  # connections, written after all declarations

    def new_port() -> str:
        name = f"p{len(ports)}"
        ports.append(name)
        return name

    def out_ref(node: str, port: str) -> str:
        if node.endswith(".rx"):
            return node[:-3]
        return node if len(outputs_of[node]) == 1 else f"{node}.{port}"

    for i in range(n_nfs):
        maybe_comment_line()
        name = f"n{i}"
        kind = draw(st.sampled_from(["Counter", "MacSwap", "Tee", "Classifier", "Timer",
                                     "RateLimiter"]))
        hints = ""
        if draw(st.integers(0, 3)) == 0:
            hints = f" @core({draw(st.integers(0, 7))})"
        if kind == "Tee":
            pairs = [("snaplen", value(str(draw(st.integers(0, 9000)))))] if draw(st.booleans()) else []
            decl = f"nf {name} ={ws()}Tee{args(pairs)}{hints}"
            outs = ("out", "copy")
        elif kind == "Classifier":
            n_arms = draw(st.integers(1, 3))
            keys = [f"a{k}" for k in range(n_arms)]
            entries = [f"{k}{ws()}:{ws()}{value(repr_string(draw(st.sampled_from(_MATCHES))))}"
                       for k in keys]
            if draw(st.booleans()):
                keys.append("rest")
                entries.append("rest : *")
            sep = draw(st.sampled_from(["\n    ", ", ", ",\n    "]))
            decl = f"nf {name} = Classifier {{\n    " + sep.join(entries) + "\n}" + hints
            outs = tuple(keys)
        elif kind == "Timer":
            pairs = []
            if draw(st.booleans()):
                pairs.append(("idle", value(draw(st.sampled_from(["30s", "100ms", "5us", "2m", "1h"])))))
            if draw(st.booleans()):
                pairs.append(("name", value('"' + draw(st.sampled_from(_STRINGS)) + '"')))
            if draw(st.booleans()):
                pairs.append(("on", value(draw(st.sampled_from(["true", "false"])))))
            decl = f"nf {name} = Timer{args(pairs)}{hints}"
            outs = ("out",)
        elif kind == "RateLimiter":
            pairs = [("rate", value(draw(st.sampled_from(["10Gbps", "2Mpps", "500kpps", "1.5Gbps"]))))]
            if draw(st.booleans()):
                pairs.append(("burst", value(draw(st.sampled_from(["64KiB", "1500B", "2MiB", "1KB"])))))
            decl = f"nf {name} = RateLimiter{args(pairs)}{hints}"
            outs = ("out",)
        else:
            decl = f"nf {name} = {kind}(){hints}"
            outs = ("out",)
        lines.append(decl + trailing())
        gp.nodes[name] = kind
        outputs_of[name] = outs
        nf_names.append(name)
        # feed it from a free output, or from a new port
        if pool and draw(st.integers(0, 3)) > 0:
            src, sport = pool.pop(draw(st.integers(0, len(pool) - 1)))
        else:
            src, sport = f"{new_port()}.rx", "out"
            gp.nodes[src] = "port-in"
        gp.edges.add((src, sport, name, "in"))
        body.append(f"{out_ref(src, sport)} ->{ws()}{name}")
        pool.extend((name, p) for p in outs)
    # every free output goes somewhere: a later NF (a merge), a port, or drop
    counters = 0
    for node, port in pool:
        later = [n for n in nf_names if int(n[1:]) > int(node[1:])] if node[0] == "n" else []
        choice = draw(st.integers(0, 3))
        if later and choice == 0:
            dst = draw(st.sampled_from(later))
            gp.edges.add((node, port, dst, "in"))
            body.append(f"{out_ref(node, port)} -> {dst}")
        elif choice == 1:
            counters += 1
            anon = f"Counter#{counters}"
            gp.nodes[anon] = "Counter"
            gp.nodes["drop"] = "drop"
            gp.edges |= {(node, port, anon, "in"), (anon, "out", "drop", "in")}
            arrow = draw(st.sampled_from([" -> ", " ->\n    ", "\n    -> "]))
            body.append(f"{out_ref(node, port)} -> Counter(){arrow}drop")
        elif choice == 2 and ports:
            p = draw(st.sampled_from(ports))
            gp.nodes[f"{p}.tx"] = "port-out"
            gp.edges.add((node, port, f"{p}.tx", "in"))
            body.append(f"{out_ref(node, port)} -> {p}")
        else:
            gp.nodes["drop"] = "drop"
            gp.edges.add((node, port, "drop", "in"))
            body.append(f"{out_ref(node, port)} -> drop")
    header = [f'port {p} = pcap(in: "{p}-in.pcap", out: "{p}-out.pcap")' for p in ports]
    out_lines = ["# generated"] + header + [""] + lines + [""]
    for b in body:
        out_lines.append(b + trailing())
        if draw(st.integers(0, 6)) == 0:
            out_lines.append(comment("between"))
    comments.insert(0, "# generated")
    gp.text = "\n".join(out_lines) + draw(st.sampled_from(["\n", "", "\n\n"]))
    gp.comments = comments
    return gp


def repr_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ir_summary(graph) -> dict:
    """Everything of a graph that its text determines, without spans."""
    from chainc.ir.export import graph_to_json

    data = graph_to_json(graph)
    for node in data["nodes"]:
        node.pop("span")
    return data
