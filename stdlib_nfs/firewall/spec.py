"""Firewall: a stateless, first-match-wins ACL over a rule file (docs/firewall.md)."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from chainc.nfs.spec import REQUIRED, NativeBody, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import param_span, read_param_file, report_file_errors
from chainc.values import PATH, Enum, Symbol

from .rules import ACTIONS, output_ports, parse_rules

if TYPE_CHECKING:
    from chainc.diagnostics import Reporter
    from chainc.ir.graph import NfNode

    from .acl import Program


class _Action(Enum):
    """allow | deny, also written as the rule files' synonyms (drop, permit, accept, reject)."""

    def accept(self, value):
        name = value.name if isinstance(value, Symbol) else value
        if isinstance(name, str) and name.lower() in ACTIONS:
            return ACTIONS[name.lower()]
        return super().accept(value)


def outputs(params):
    """`out`, then `denied` with `denied: output`, then the ports `to PORT` rules name."""
    ports = ("out", "denied") if params.get("denied") == "output" else ("out",)
    return ports + output_ports(params.get("rules"), params.get("format", "chainc"))


_COMPILED: dict[tuple, "Program"] = {}


def compiled(node: "NfNode", text: str | None = None) -> "Program":
    """The node's rule file parsed and compiled to ACL entries (cached per file version)."""
    from .acl import compile_rules

    path = node.params["rules"]
    fmt = node.params.get("format", "chainc")
    try:
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    key = (path, stamp, fmt, tuple(node.outputs), node.params.get("default", "deny"),
           node.params.get("denied", "drop"))
    prog = _COMPILED.get(key) if stamp is not None and text is None else None
    if prog is None:
        if text is None:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        rules, errors = parse_rules(text, fmt)
        prog = compile_rules(rules, fmt, tuple(node.outputs), node.params.get("default", "deny"),
                             node.params.get("denied", "drop"))
        prog.errors = errors + prog.errors
        if stamp is not None:
            if len(_COMPILED) > 16:
                _COMPILED.clear()
            _COMPILED[key] = prog
    return prog


def validate(node: "NfNode", reporter: "Reporter") -> None:
    text = read_param_file(node, "rules", reporter, "rule file")
    if text is None:
        return
    prog = compiled(node, text)
    report_file_errors(node, "rules", text, sorted(prog.errors, key=lambda e: (e.line, e.col)),
                       reporter, "rule file")
    if not prog.errors and prog.rules == 0:
        reporter.warning(f"rule file '{node.params['rules']}' holds no rules: every packet gets "
                         f"the default action ({node.params.get('default', 'deny')})",
                         param_span(node, "rules"))
    elif not prog.errors:
        # Shadowed and redundant rules, each with an example packet (docs/analysis.md).
        from chainc.analysis.firewall import report_rules

        from .reference import chainc_test, classbench_test

        test = classbench_test if node.params.get("format") == "classbench" else chainc_test
        report_rules(node, text, prog.parsed, [test(r) for r in prog.parsed], reporter)


def _c_array(name: str, entries: list[tuple[int, ...]], lines: list[int]) -> list[str]:
    out = [f"static const uint32_t {name}[] = {{"]
    if not entries:
        out.append("0")
    for entry, line in zip(entries, lines):
        out.append(f"/* line {line} */ " + ",".join(f"{w}u" for w in entry) + ",")
    out.append("};")
    return out


def generate(node: "NfNode", sym: str) -> str:
    """Per instance: the compiled rules as constant arrays, the init and the process function.

    The rule file is read and compiled here, at build time, rather than at
    start-up: the binary is self-contained (it runs where the rule file is
    not), a rule file error cannot surface for the first time on the packet
    machine, the build cache key changes with the rules, and start-up only
    builds the rte_acl contexts.
    """
    from chainc.match import to_cython

    from .acl import CODE_BIAS, CONTEXTS, MAX_PRIORITY

    prog = compiled(node)
    if prog.errors:
        e = prog.errors[0]
        raise ValueError(f"rule file line {e.line}: {e.message}")
    names = [f"{sym}_rules{family}{'' if l4 else 'n'}" for family, l4 in CONTEXTS]
    counts = [len(prog.entries[ctx]) for ctx in CONTEXTS]
    summary = ", ".join(f"{n} IPv{f}{'' if l4 else ' no-L4'}" for n, (f, l4) in zip(counts, CONTEXTS))
    c = [f"# Firewall {node.id}: {prog.rules} rules; ACL entries: {summary}",
         "from libc.stdint cimport uint32_t",
         "from dpdk cimport rte_mbuf, rte_strerror",
         "from meta cimport pkt_meta",
         "",
         "cdef extern from *:",
         '    """']
    for name, ctx in zip(names, CONTEXTS):
        entries = prog.entries[ctx]
        lines = [prog.lines[MAX_PRIORITY - e[0]] for e in entries]
        c += ["    " + x for x in _c_array(name, entries, lines)]
    c += ['    """']
    c += [f"    const uint32_t* {name}" for name in names]
    context_names = ["IPv4", "IPv4 no-L4", "IPv6", "IPv6 no-L4"]
    c += ["",
          f"cdef int {sym}_init(firewall_state* st) except -1:",
          "    cdef const uint32_t* rules[4]",
          "    cdef uint32_t counts[4]",
          "    cdef int layouts[4]",
          "    cdef int rc",
          "    cdef int failed = -1"]
    for i, (name, ctx) in enumerate(zip(names, CONTEXTS)):
        c += [f"    rules[{i}] = {name}",
              f"    counts[{i}] = {counts[i]}",
              f"    layouts[{i}] = {prog.layouts[ctx]}"]
    c += [f"    rc = firewall_init(st, rules, counts, layouts, {prog.default_code}, "
          f"b\"chainc_fw_{sym}\", &failed)",
          "    if rc < 0:",
          f"        raise StartupError({json.dumps('Firewall ' + node.id)} + f\": cannot build "
          f"the {{{context_names!r}[failed]}} ACL: {{rte_strerror(-rc).decode()}}\")",
          "    return 0",
          "",
          f"cdef inline int {sym}_process(firewall_state* st, rte_mbuf* m, pkt_meta* meta, "
          "int in_port) noexcept nogil:",
          "    if meta.flags & 0x18:  # META_L3_IPV4 | META_L3_IPV6: the ACL decides",
          "        return firewall_classify(st, meta)",
          "    # Not IP, or a malformed IP header: only the rules' EtherType tests can match."]
    for test, code, line in prog.nonip:
        if test is True:
            c += [f"    st.matched += 1  # line {line}", f"    return {code}"]
            break
        c += [f"    if {to_cython(test, meta='meta', data='data')}:  # line {line}",
              "        st.matched += 1",
              f"        return {code}"]
    else:
        c += ["    st.unmatched += 1", f"    return {prog.default_code}  # the default action"]
    assert CODE_BIAS == 16  # native.pxd's FIREWALL_CODE_BIAS
    return "\n".join(c) + "\n"


SPEC = NfSpec(
    name="Firewall",
    doc="Stateless ACL: allow or deny each packet by the first matching rule of a rule file.",
    params=(
        ParamSpec("rules", PATH, REQUIRED, "The rule file, relative to the .chain file."),
        ParamSpec("format", Enum("chainc", "classbench"), "chainc",
                  "Rule file format: `chainc` (an action and a pcap-filter expression per "
                  "line) or `classbench` (ClassBench filters, each an allow rule)."),
        ParamSpec("default", _Action("allow", "deny"), "deny",
                  "What happens to a packet that matches no rule (`drop` means deny)."),
        ParamSpec("denied", Enum("drop", "output"), "drop",
                  "Drop denied packets, or send them to an extra output port `denied` "
                  "(to log or mirror them)."),
    ),
    inputs=("in",),
    outputs=("out",),
    outputs_from=outputs,
    state=StateKind.NONE,
    reads=("eth.type", "ip.src", "ip.dst", "ip.proto", "ip6.src", "ip6.dst", "ip6.nxt",
           "tcp.sport", "tcp.dport", "udp.sport", "udp.dport", "tcp.flags",
           "icmp.type", "icmp.code", "icmp6.type", "icmp6.code"),
    writes=(),
    side_effects=True,  # its counters are observable
    cycles=300,  # measured: 200-500 per packet with thousands of rules (one lookup per call)
    drop_reasons=("denied", "default-deny"),
    description=(
        "Each packet is checked against the rules in file order and the first rule that "
        "matches decides: `allow` sends it to `out`, `deny` drops it (reason `denied`), "
        "`to PORT` sends it to the Firewall's output `PORT`. A packet that matches no rule "
        "gets the `default` action (a default deny drops with reason `default-deny`). With "
        "`denied: output`, denied packets (by a rule or by default) leave on the port "
        "`denied` instead of being dropped. The output ports are `out`, then `denied` (with "
        "`denied: output`), then the ports `to` rules name, in the order they first appear.\n\n"
        "chainc rule files hold one rule per line: `allow EXPR`, `deny EXPR` or "
        "`to PORT EXPR`, where EXPR is a pcap-filter expression as in a Classifier arm "
        "(`and`, `or`, `not`, protocols, `host`, `net`, `port`, `portrange`, `proto`, "
        "`tcp[tcpflags]`, `icmp[icmptype]`, ...) and `*` matches everything; `#` starts a "
        "comment. Rules test IP headers: Ethernet addresses, VLAN tags and frame lengths "
        "are refused (put a Classifier in front). ClassBench files (`@SRC/LEN DST/LEN "
        "SP : SP DP : DP PROTO/MASK [FLAGS/MASK]`, IPv4 or IPv6, as written by ClassBench "
        "and ClassBench-ng) carry no action, so each filter is an allow rule and `default` "
        "decides the rest; a port range other than `0 : 65535` matches only TCP and UDP "
        "packets, and the flags column is read but not matched. The rule file is checked "
        "when the chain is compiled: an error points at its line.\n\n"
        "Ports, TCP flags and ICMP fields exist only where the L4 header was read, so a "
        "port test never matches a non-first fragment or a truncated header. A frame that "
        "is not valid IPv4 or IPv6 (ARP, other EtherTypes, a malformed IP header) fails "
        "every IP test: it matches only rules such as `allow *`, `allow arp` or "
        "`deny not ip`, else the default.\n\n"
        "The native body compiles the rules at build time into DPDK rte_acl entries (two "
        "contexts per IP family, for packets with and without an L4 header, built at "
        "start-up) and classifies each packet's header "
        "fields, taken from the parsed metadata; `chainc sim` evaluates the rules one by "
        "one. Counters: `matched` (decided by a rule) and `unmatched` (by the default). "
        "The Firewall keeps no connection state; put a ConnTrack in front of it to allow "
        "replies of established connections. docs/firewall.md has the details."
    ),
    example=(
        "# rules/edge.acl:\n"
        "#   allow      tcp dst port 22 and src net 10.0.0.0/8\n"
        "#   deny       tcp dst port 22\n"
        "#   to inspect tcp dst port 80 or tcp dst port 443\n"
        "nf fw = Firewall(rules: \"rules/edge.acl\", default: deny)\n"
        "wan -> fw -> lan\n"
        "fw.inspect -> Counter() -> lan"
    ),
    validate=validate,
    native=NativeBody(
        process="{sym}_process",
        state="firewall_state",
        init="{sym}_init",
        generate=generate,
        counters=("matched", "unmatched"),
    ),
)
