"""Firewall rule files: the chainc format and ClassBench filters (docs/firewall.md).

chainc format, one rule per line, first match wins (`#` starts a comment):

    allow       tcp dst port 22 and src net 10.0.0.0/8
    deny        udp dst port 53
    to inspect  tcp dst port 80        # send to the Firewall's output `inspect`
    allow       *

The expression is a pcap-filter expression over IP headers (the subset the
ACL can match: see `UNSUPPORTED`). ClassBench format (ClassBench-ng adds the
last, TCP flags, column), addresses IPv4 or IPv6:

    @SRC/LEN  DST/LEN  SPORT_LO : SPORT_HI  DPORT_LO : DPORT_HI  PROTO/MASK  [FLAGS/MASK]

ClassBench filters carry no action: each one is an `allow` rule.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACTIONS = {"allow": "allow", "permit": "allow", "accept": "allow",
           "deny": "deny", "drop": "deny", "reject": "deny"}


#: Output ports a `to NAME` rule may not name, with what to write instead.
RESERVED_PORTS = {"out": "write `allow` to send packets to 'out'",
                  "denied": "write `deny` (with `denied: output`) to send packets to 'denied'"}
_PORT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Rule:
    line: int  # 1-based line in the rule file
    action: str  # "allow", "deny" or "output" (to the port `port`)
    match: Any = None  # chainc format: a parsed match expression (None: matches everything)
    match_text: str = ""
    # ClassBench format
    src: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    dst: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    sport: tuple[int, int] = (0, 65535)
    dport: tuple[int, int] = (0, 65535)
    proto: tuple[int, int] = (0, 0)  # value, mask
    flags: tuple[int, int] = (0, 0)  # value, mask (read, not matched: see docs/firewall.md)
    port: str = ""  # the output of a `to PORT` rule
    col: int = 1  # 1-based column where the match expression starts


@dataclass(frozen=True)
class RuleError:
    line: int
    col: int  # 1-based column of the first bad character
    length: int
    message: str
    hint: str | None = None


def parse_rules(text: str, fmt: str) -> tuple[list[Rule], list[RuleError]]:
    return parse_classbench(text) if fmt == "classbench" else parse_chainc(text)


def _strip_comment(line: str) -> str:
    cut = line.find("#")
    return line if cut < 0 else line[:cut]


def parse_chainc(text: str) -> tuple[list[Rule], list[RuleError]]:
    from chainc.match import MatchSyntaxError, parse_match

    rules: list[Rule] = []
    errors: list[RuleError] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        m = re.match(r"\s*(\S+)\s*(.*?)\s*$", line)
        if not m or not m.group(1):
            continue
        word, expr, expr_at = m.group(1), m.group(2), m.start(2)
        port = ""
        if word.lower() == "to":
            action = "output"
            t = re.match(r"(\S+)\s*(.*)$", expr)
            if not t:
                errors.append(RuleError(lineno, m.end(1) + 1, 1, "'to' needs an output port name",
                                        "write `to PORT EXPRESSION`, e.g. `to inspect tcp port 80`"))
                continue
            port = t.group(1)
            if not _PORT_NAME.match(port):
                errors.append(RuleError(lineno, expr_at + 1, len(port), f"bad output port name '{port}'",
                                        "a port name is a letter or '_' then letters, digits or '_'"))
                continue
            if port in RESERVED_PORTS:
                errors.append(RuleError(lineno, expr_at + 1, len(port),
                                        f"'to {port}' names a port the Firewall already has",
                                        RESERVED_PORTS[port]))
                continue
            expr_at += t.start(2)
            expr = t.group(2)
        else:
            action = ACTIONS.get(word.lower())
            if action is None:
                errors.append(RuleError(lineno, m.start(1) + 1, len(word),
                                        f"unknown action '{word}'",
                                        "a rule starts with allow, deny or `to PORT`"))
                continue
        if expr in ("", "*", "any"):
            rules.append(Rule(lineno, action, None, "*", port=port, col=expr_at + 1))
            continue
        try:
            parsed = parse_match(expr)
        except MatchSyntaxError as exc:
            start = getattr(exc, "start", 0) or 0
            end = max(start + 1, getattr(exc, "end", start + 1) or start + 1)
            errors.append(RuleError(lineno, expr_at + start + 1, end - start,
                                    getattr(exc, "message", None) or str(exc),
                                    getattr(exc, "hint", None)))
            continue
        bad = unsupported(parsed)
        if bad:
            node, message = bad
            start, end = node.span
            errors.append(RuleError(lineno, expr_at + start + 1, max(1, end - start), message,
                                    "match it with a Classifier in front of the Firewall"))
            continue
        rules.append(Rule(lineno, action, parsed, expr, port=port, col=expr_at + 1))
    return rules, errors


def unsupported(expr) -> tuple[Any, str] | None:
    """The first primitive of `expr` the Firewall cannot match, with why; None if all can.

    The ACL key holds IP-level fields only (docs/firewall.md), and EtherType tests,
    which are constant for IP packets.
    """
    from chainc.match import nodes

    for node in nodes.walk(expr):
        if isinstance(node, (nodes.EtherHost, nodes.EtherCast)):
            return node, "the Firewall does not match Ethernet addresses"
        if isinstance(node, nodes.Vlan) or (isinstance(node, nodes.EtherProto)
                                             and node.value in nodes.VLAN_TPIDS):
            return node, "the Firewall does not match VLAN tags"
        if isinstance(node, nodes.Length):
            return node, "the Firewall does not match the frame length"
    return None


def output_ports(path: str | Path | None, fmt: str = "chainc") -> tuple[str, ...]:
    """The ports `to PORT` rules name, in order of first appearance; () if unreadable."""
    if fmt != "chainc" or not isinstance(path, (str, Path)):
        return ()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return ()
    ports: dict[str, None] = {}
    for raw in text.splitlines():
        words = _strip_comment(raw).split(None, 2)
        if len(words) >= 2 and words[0].lower() == "to" and _PORT_NAME.match(words[1]) \
                and words[1] not in RESERVED_PORTS:
            ports.setdefault(words[1], None)
    return tuple(ports)


_CB_FIELD = re.compile(r"[^\t]+")


def parse_classbench(text: str) -> tuple[list[Rule], list[RuleError]]:
    rules: list[Rule] = []
    errors: list[RuleError] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = [(f.start(), f.group().strip()) for f in _CB_FIELD.finditer(raw) if f.group().strip()]
        try:
            rules.append(_classbench_rule(lineno, raw, fields))
        except _FieldError as exc:
            col, width = exc.where
            errors.append(RuleError(lineno, col + 1, width, exc.message,
                                    "ClassBench lines read: @SRC/LEN DST/LEN LO : HI LO : HI "
                                    "PROTO/MASK [FLAGS/MASK], tab-separated"))
    return rules, errors


class _FieldError(Exception):
    def __init__(self, message: str, where: tuple[int, int]):
        self.message = message
        self.where = where


def _classbench_rule(lineno: int, raw: str, fields: list[tuple[int, str]]) -> Rule:
    if not 5 <= len(fields) <= 6:
        raise _FieldError(f"expected 5 or 6 tab-separated fields, found {len(fields)}", (0, len(raw)))
    (s_at, src), (d_at, dst), (sp_at, sport), (dp_at, dport), (p_at, proto) = fields[:5]
    if not src.startswith("@"):
        raise _FieldError("a ClassBench filter starts with '@'", (s_at, 1))
    src_net = _net(src[1:], (s_at + 1, len(src) - 1))
    dst_net = _net(dst, (d_at, len(dst)))
    if src_net.version != dst_net.version:
        raise _FieldError(f"the source is IPv{src_net.version} but the destination IPv{dst_net.version}",
                          (d_at, len(dst)))
    sp = _range(sport, (sp_at, len(sport)))
    dp = _range(dport, (dp_at, len(dport)))
    pr = _masked(proto, (p_at, len(proto)), 0xFF)
    fl = _masked(fields[5][1], (fields[5][0], len(fields[5][1])), 0xFFFF) if len(fields) == 6 else (0, 0)
    return Rule(lineno, "allow", None, "", src_net, dst_net, sp, dp, pr, fl)


def _net(text: str, where: tuple[int, int]) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        kind = "IPv6" if ":" in text else "IPv4"
        raise _FieldError(f"bad {kind} prefix '{text}'", where) from None


def _range(text: str, where: tuple[int, int]) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)\s*:\s*(\d+)", text)
    if not m or not (0 <= int(m.group(1)) <= int(m.group(2)) <= 65535):
        raise _FieldError(f"bad port range '{text}' (expected LO : HI within 0..65535)", where)
    return int(m.group(1)), int(m.group(2))


def _masked(text: str, where: tuple[int, int], limit: int) -> tuple[int, int]:
    m = re.fullmatch(r"(0x[0-9A-Fa-f]+)/(0x[0-9A-Fa-f]+)", text)
    if not m or int(m.group(1), 16) > limit or int(m.group(2), 16) > limit:
        raise _FieldError(f"bad value/mask '{text}' (expected 0xVALUE/0xMASK)", where)
    return int(m.group(1), 16), int(m.group(2), 16)
