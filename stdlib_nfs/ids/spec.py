"""IDS: signature matching of packet payloads (intrusion detection / prevention)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from chainc.nfs.spec import REQUIRED, NativeBody, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import (check_int_range, check_positive, dur, param_span,
                                        read_param_file, report_file_errors, runtime_path)
from chainc.values import DURATION, INT, PATH, Enum

from .patterns import hs_expression, hyperscan_error
from .rules import IdsRule, IdsRuleError, parse_ids_rules

if TYPE_CHECKING:
    from chainc.diagnostics import Reporter
    from chainc.ir.graph import NfNode

MAX_FLOWS = 1 << 22
ACTION_CODES = {"alert": 0, "drop": 1, "pass": 2}
PROTO_CODES = {"ip": 0, "tcp": 6, "udp": 17, "icmp": 1}


def outputs(params):
    if params.get("mode") == "ips" and params.get("blocked") == "output":
        return ("out", "blocked")
    return ("out",)


def checked_rules(text: str) -> tuple[list[IdsRule], list[IdsRuleError]]:
    """The rules of a file, with the errors of the parser and then Hyperscan's own
    objections to patterns the parser accepted (each at its rule's line)."""
    rules, errors = parse_ids_rules(text)
    lines = text.splitlines()
    for rule in rules:
        for p in rule.patterns:
            problem = hyperscan_error(p)
            if problem:
                errors.append(IdsRuleError(rule.line, 1, len(lines[rule.line - 1]),
                                           f"Hyperscan cannot compile a pattern of sid {rule.sid}: {problem}"))
                break
    return rules, sorted(errors, key=lambda e: (e.line, e.col))


def validate(node: "NfNode", reporter: "Reporter") -> None:
    check_int_range(node, "flows", 8, MAX_FLOWS, reporter)
    check_positive(node, ("timeout",), reporter)
    text = read_param_file(node, "rules", reporter, "IDS rule file")
    if text is None:
        return
    rules, errors = checked_rules(text)
    report_file_errors(node, "rules", text, errors, reporter, "IDS rule file")
    if not rules and not errors:
        reporter.warning(f"IDS rule file '{node.params['rules']}' holds no rules", param_span(node, "rules"))
    if node.params.get("mode") == "ids" and node.params.get("blocked") == "output":
        reporter.warning("'blocked: output' has no effect in ids mode (nothing is blocked)",
                         param_span(node, "blocked"), hint="use mode: ips to block packets")


# -- native body ------------------------------------------------------------------------
#
# The rule file is compiled at build time into constant arrays (the binary
# needs no rule file at run time, and the build cache follows its content);
# the Hyperscan databases are compiled from them at start-up.


def _network_words(net) -> tuple[int, int, int, int, int]:
    """(family, hi, lo, mask hi, mask lo) of a rule address; family 0 for any."""
    if net is None:
        return 0, 0, 0, 0, 0
    value, mask = int(net.network_address), int(net.netmask)
    if net.version == 4:
        return 4, value, 0, mask, 0
    m64 = (1 << 64) - 1
    return 6, value >> 64, value & m64, mask >> 64, mask & m64


def _ports(ports) -> int:
    lo, hi = ports if ports is not None else (0, 65535)
    return (lo << 16) | hi


def alert_fragment(rule: IdsRule) -> bytes:
    """The constant middle of the rule's alert lines."""
    return f'"sid":{rule.sid},"msg":{json.dumps(rule.msg)},"action":"{rule.action}",'.encode("ascii")


def _c_list(values, suffix: str = "") -> str:
    return ", ".join(f"{v}{suffix}" for v in values) or "0"


def generate(node: "NfNode", sym: str) -> str:
    """The rules as constant arrays, and the instance's init and finish functions."""
    with open(node.params["rules"], encoding="utf-8") as f:
        rules, errors = checked_rules(f.read())
    if errors:
        raise ValueError(f"rule file line {errors[0].line}: {errors[0].message}")
    words, exprs, expr_off, flags, offsets, where, frags = [], bytearray(), [], [], [], [], bytearray()
    for rule in rules:
        first = len(flags)
        sf, shi, slo, smhi, smlo = _network_words(rule.src)
        df, dhi, dlo, dmhi, dmlo = _network_words(rule.dst)
        fragment = alert_fragment(rule)
        words += [ACTION_CODES[rule.action], PROTO_CODES[rule.proto], int(rule.bidirectional),
                  sf | (df << 8), shi, slo, smhi, smlo, dhi, dlo, dmhi, dmlo,
                  _ports(rule.sport), _ports(rule.dport), (first << 32) | len(rule.patterns),
                  (len(frags) << 32) | len(fragment)]
        frags += fragment
        for p in rule.patterns:
            e = hs_expression(p)
            expr_off.append(len(exprs))
            exprs += e.expression + b"\0"
            flags.append(e.flags)
            offsets += [e.min_offset, e.max_offset]
            where.append((1 if rule.proto in ("tcp", "ip") else 0) | (2 if rule.proto != "tcp" else 0))
    who = json.dumps(f"IDS '{node.id}'")
    alerts = runtime_path(node, "alerts")
    open_alerts = ""
    if alerts is not None:
        open_alerts = f"""
    path = chain_path({json.dumps(alerts)})
    if ids_open_alerts(st, os.fsencode(path)) < 0:
        raise StartupError({who} + f": cannot open the alert file {{path}}")"""
    return f'''\
# IDS {sym}: {len(rules)} rules, {len(flags)} patterns
import os
from libc.stdint cimport uint8_t, uint32_t, uint64_t

cdef extern from *:
    """
    static const uint64_t {sym}_rules[] = {{{_c_list(words, "ULL")}}};
    static const char {sym}_exprs[] = {{{_c_list(exprs)}}};
    static const uint32_t {sym}_expr_off[] = {{{_c_list(expr_off, "u")}}};
    static const uint32_t {sym}_flags[] = {{{_c_list(flags, "u")}}};
    static const uint64_t {sym}_offsets[] = {{{_c_list(offsets, "ULL")}}};
    static const uint8_t {sym}_where[] = {{{_c_list(where)}}};
    static const char {sym}_json[] = {{{_c_list(frags)}}};
    """
    const uint64_t* {sym}_rules
    const char* {sym}_exprs
    const uint32_t* {sym}_expr_off
    const uint32_t* {sym}_flags
    const uint64_t* {sym}_offsets
    const uint8_t* {sym}_where
    const char* {sym}_json


cdef int {sym}_init(ids_state* st) except -1:
    cdef char err[400]
    if ids_setup(st, {sym}_rules, {len(rules)}, {sym}_exprs, {sym}_expr_off, {sym}_flags, {sym}_offsets,
                 {sym}_where, {len(flags)}, {sym}_json, {node.params["flows"]}u,
                 {node.params["timeout"].nanoseconds}ULL, b"chainc_ids_{sym}", err, sizeof(err)) < 0:
        raise StartupError({who} + ": " + err.decode("utf-8", "replace")){open_alerts}
    return 0


cdef int {sym}_finish(ids_state* st) except -1:
    if ids_close(st) < 0:
        raise StartupError({who} + ": cannot write the alert file")
    return 0
'''


SPEC = NfSpec(
    name="IDS",
    doc="Match payloads and TCP streams against Snort-style signatures; alert, or block in ips mode.",
    params=(
        ParamSpec("rules", PATH, REQUIRED, "The signature file (a Snort rule subset)."),
        ParamSpec("mode", Enum("ids", "ips"), "ids",
                  "`ids` only raises alerts; `ips` also blocks what matches a drop rule."),
        ParamSpec("alerts", PATH, None,
                  "Append alerts as JSON lines to this file (unset: alerts are only counted)."),
        ParamSpec("blocked", Enum("drop", "output"), "drop",
                  "In ips mode, drop blocked packets or send them to an extra output `blocked`."),
        ParamSpec("flows", INT, 16384, "Capacity of the TCP connection table."),
        ParamSpec("timeout", DURATION, dur("300s"),
                  "A TCP connection idle for longer than this is forgotten."),
    ),
    inputs=("in",),
    outputs=("out",),
    outputs_from=outputs,
    state=StateKind.PER_FLOW,
    state_key="symmetric 5-tuple",
    reads=("eth.type", "ip.src", "ip.dst", "ip.proto", "l4.sport", "l4.dport", "tcp.seq",
           "tcp.flags", "payload"),
    writes=(),
    cycles=600,  # bench/bench_lb_ids.py, 205 rules: imix, 10,000 flows (300 on udp64, 720 with 1,000,000 flows)
    side_effects=True,
    drop_reasons=("blocked",),
    description=(
        "Theory of operation. Rules. One rule per line, a subset of Snort's: `ACTION PROTO SRC SPORT DIR DST DPORT "
        "(OPTIONS)`. ACTION is `alert`, `drop` or `pass`; PROTO `ip`, `tcp`, `udp` or `icmp` "
        "(ICMP and ICMPv6); SRC and DST `any`, an address or a prefix; SPORT and DPORT `any`, "
        "N or LO:HI; DIR `->`, or `<>` for either direction. Options, each ended by `;`: "
        "`msg:\"...\"`, `sid:N` (required, unique), `content:\"...\"` (`|41 42|` writes bytes "
        "in hex), and after a content `nocase`, `offset:N` (the content starts at or after "
        "byte N) and `depth:N` (it lies within N bytes from there); `pcre:\"/REGEX/FLAGS\"` "
        "with flags `i`, `s`, `m`; `rev`, `classtype`, `reference` and `priority` are read and "
        "ignored. A rule matches when its header matches the packet and every one of its "
        "contents and pcres occurs; a rule with neither matches every packet its header "
        "matches. A pcre may not use backreferences, lookaround, atomic groups, possessive "
        "quantifiers, `$`, `\\Z`, `\\z`, `\\b`, `\\B` or `{,n}`, nor match the empty "
        "string: the native body (Hyperscan) and `chainc sim` (Python's re) must agree on a "
        "stream whose end is not known yet. The rule file is checked, Hyperscan included, "
        "when the chain is compiled: an error names its line.\n\n"
        "Streams. TCP payload is matched as a stream per connection and direction: bytes "
        "are fed in sequence order, a retransmitted byte is not fed twice, a SYN starts the "
        "direction afresh, and a gap (a lost or reordered segment: reordered data is not "
        "buffered) restarts the stream at the new segment (`gaps`), so a pattern split around "
        "a gap is not found. Offsets and depths count from the start of the stream. A "
        "content or pcre counts once per stream and a rule fires at most once per stream, on "
        "the packet that completes it. The connection table holds `flows` connections (an "
        "rte_hash, with a Hyperscan stream state per direction opened at start-up); a "
        "connection idle for longer than `timeout` is forgotten (each TCP packet reclaims at "
        "most two, least recently used first: `expired`), and a new connection in a full "
        "table evicts the least recently used one (`evicted`). Packets of other protocols "
        "are matched one by one. Packets without a readable L4 header (fragments, non-IP, "
        "malformed) are not inspected (`uninspected`) and pass; put a reassembler in front "
        "if fragments matter.\n\n"
        "Actions. The rules a packet fires are applied in file order. If one is a `pass` "
        "rule, the packet raises nothing and the rest of its stream is not inspected. "
        "Otherwise every fired rule raises an alert (`alerts`), written to `alerts` as a JSON "
        "line: `{\"time\":\"1970-01-01T00:00:00.000001Z\",\"sid\":N,\"msg\":\"...\","
        "\"action\":\"drop\",\"proto\":\"tcp\",\"src\":\"...\",\"sport\":N,\"dst\":\"...\","
        "\"dport\":N,\"blocked\":true}` (the packet's time, UTC, microseconds). In `ips` mode a "
        "fired `drop` rule blocks the packet, and for TCP the rest of the connection in both "
        "directions (`blocked_flows`): blocked packets are dropped (`blocked`) or, with "
        "`blocked: output`, sent to the output `blocked`. A packet fires at most 64 rules; "
        "more are counted in `alerts_lost`. Every other packet leaves on `out` unchanged. "
        "Counters: `alerts`, `blocked_flows`, `connections`, `expired`, `evicted`, `gaps`, "
        "`uninspected`, `alerts_lost`."
    ),
    example=(
        "# rules/web.rules:\n"
        "#   drop tcp any any -> any 80 (msg:\"passwd fetch\"; content:\"/etc/passwd\"; sid:1001;)\n"
        "nf ids = IDS(rules: \"rules/web.rules\", mode: ips, alerts: \"alerts.jsonl\")\n"
        "wan -> ids -> lan"
    ),
    validate=validate,
    native=NativeBody(
        process="ids_process",
        state="ids_state",
        init="{sym}_init",
        finish="{sym}_finish",
        generate=generate,
        process_args=lambda node: [str(int(node.params["mode"] == "ips")),
                                   str(int(node.params["blocked"] == "output"))],
        counters=("alerts", "blocked_flows", "connections", "expired", "evicted", "gaps",
                  "uninspected", "alerts_lost"),
        pkg_config=("libhs",),
    ),
)
