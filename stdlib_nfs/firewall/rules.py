"""Firewall rule files: the chainc format and ClassBench filters.

chainc format, one rule per line, first match wins (`#` starts a comment):

    allow  tcp dst port 22 and src net 10.0.0.0/8
    deny   udp dst port 53
    allow  *

ClassBench format (ClassBench-ng adds the last, TCP flags, column):

    @SRC/LEN  DST/LEN  SPORT_LO : SPORT_HI  DPORT_LO : DPORT_HI  PROTO/MASK  [FLAGS/MASK]

ClassBench filters carry no action: each one is an `allow` rule.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

ACTIONS = {"allow": "allow", "permit": "allow", "accept": "allow",
           "deny": "deny", "drop": "deny", "reject": "deny"}


@dataclass(frozen=True)
class Rule:
    line: int  # 1-based line in the rule file
    action: str  # "allow" or "deny"
    match: Any = None  # chainc format: a parsed match expression (None: matches everything)
    match_text: str = ""
    # ClassBench format
    src: ipaddress.IPv4Network | None = None
    dst: ipaddress.IPv4Network | None = None
    sport: tuple[int, int] = (0, 65535)
    dport: tuple[int, int] = (0, 65535)
    proto: tuple[int, int] = (0, 0)  # value, mask
    flags: tuple[int, int] = (0, 0)  # value, mask


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
        word, expr = m.group(1), m.group(2)
        action = ACTIONS.get(word.lower())
        if action is None:
            errors.append(RuleError(lineno, m.start(1) + 1, len(word),
                                    f"unknown action '{word}'", "a rule starts with allow or deny"))
            continue
        if expr in ("", "*", "any"):
            rules.append(Rule(lineno, action, None, "*"))
            continue
        try:
            parsed = parse_match(expr)
        except MatchSyntaxError as exc:
            start = getattr(exc, "start", 0) or 0
            end = max(start + 1, getattr(exc, "end", start + 1) or start + 1)
            errors.append(RuleError(lineno, m.start(2) + start + 1, end - start,
                                    getattr(exc, "message", None) or str(exc),
                                    getattr(exc, "hint", None)))
            continue
        rules.append(Rule(lineno, action, parsed, expr))
    return rules, errors


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
    sp = _range(sport, (sp_at, len(sport)))
    dp = _range(dport, (dp_at, len(dport)))
    pr = _masked(proto, (p_at, len(proto)), 0xFF)
    fl = _masked(fields[5][1], (fields[5][0], len(fields[5][1])), 0xFFFF) if len(fields) == 6 else (0, 0)
    return Rule(lineno, "allow", None, "", src_net, dst_net, sp, dp, pr, fl)


def _net(text: str, where: tuple[int, int]) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise _FieldError(f"bad IPv4 prefix '{text}'", where) from None


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
