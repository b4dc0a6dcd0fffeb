"""IDS rule files: a subset of the Snort rule language, one rule per line.

    alert tcp any any -> 10.0.0.0/8 80 (msg:"passwd fetch"; content:"/etc/passwd"; sid:1001;)
    drop  udp any any -> any 53 (msg:"bad dns"; content:"|00 00 fc|"; sid:1002;)

Actions: alert, drop (blocks in ips mode, alerts in ids mode), pass (stops
matching). Protocols: ip, tcp, udp, icmp. Addresses: any, an address, a
prefix. Ports: any, N, LO:HI. Direction: `->`, or `<>` for both. Options:
msg, content (with |hex| bytes; several must all match), nocase (applies to
the content before it), sid (required, unique), rev.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

ACTIONS = ("alert", "drop", "pass")
PROTOCOLS = ("ip", "tcp", "udp", "icmp")


@dataclass(frozen=True)
class Content:
    pattern: bytes
    nocase: bool = False


@dataclass(frozen=True)
class IdsRule:
    line: int
    action: str
    proto: str
    src: object  # None (any) or an ip_network
    sport: tuple[int, int] | None
    dst: object
    dport: tuple[int, int] | None
    bidirectional: bool
    sid: int
    msg: str = ""
    contents: tuple[Content, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class IdsRuleError:
    line: int
    col: int
    length: int
    message: str
    hint: str | None = None


class _Bad(Exception):
    def __init__(self, message: str, at: int, length: int, hint: str | None = None):
        self.message, self.at, self.length, self.hint = message, at, length, hint


_HEAD = re.compile(r"\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(->|<>)\s+(\S+)\s+(\S+)\s*\((.*)\)\s*$")


def parse_ids_rules(text: str) -> tuple[list[IdsRule], list[IdsRuleError]]:
    rules: list[IdsRule] = []
    errors: list[IdsRuleError] = []
    sids: dict[int, int] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            rule = _parse_rule(lineno, raw)
            if rule.sid in sids:
                raise _Bad(f"sid {rule.sid} is already used on line {sids[rule.sid]}", 0, len(raw))
            sids[rule.sid] = lineno
            rules.append(rule)
        except _Bad as exc:
            errors.append(IdsRuleError(lineno, exc.at + 1, max(1, exc.length), exc.message, exc.hint))
    return rules, errors


def _parse_rule(lineno: int, raw: str) -> IdsRule:
    m = _HEAD.match(raw)
    if not m:
        raise _Bad("expected ACTION PROTO SRC SPORT -> DST DPORT (OPTIONS)", 0, len(raw),
                   'e.g. alert tcp any any -> any 80 (msg:"x"; content:"GET"; sid:1;)')
    action, proto = m.group(1), m.group(2)
    if action not in ACTIONS:
        raise _Bad(f"unknown action '{action}'", m.start(1), len(action), "use alert, drop or pass")
    if proto not in PROTOCOLS:
        raise _Bad(f"unknown protocol '{proto}'", m.start(2), len(proto), "use ip, tcp, udp or icmp")
    src = _addr(m, 3)
    sport = _port(m, 4)
    dst = _addr(m, 6)
    dport = _port(m, 7)
    msg, contents, sid = "", [], None
    opts_at = m.start(8)
    for om in re.finditer(r'\s*([a-z_]+)\s*(?::\s*("(?:[^"\\]|\\.)*"|[^;]*))?\s*;', m.group(8)):
        key, value = om.group(1), (om.group(2) or "").strip()
        at, length = opts_at + om.start(1), om.end() - om.start(1)
        if key == "msg":
            msg = value.strip('"')
        elif key == "content":
            if not (len(value) >= 2 and value[0] == value[-1] == '"'):
                raise _Bad("content must be a quoted string", at, length)
            contents.append(Content(_content_bytes(value[1:-1], at, length)))
        elif key == "nocase":
            if not contents:
                raise _Bad("nocase must follow a content option", at, length)
            contents[-1] = Content(contents[-1].pattern, True)
        elif key == "sid":
            if not value.isdigit():
                raise _Bad(f"sid must be a number, got '{value}'", at, length)
            sid = int(value)
        elif key in ("rev", "classtype", "reference", "priority"):
            pass
        else:
            raise _Bad(f"unsupported rule option '{key}'", at, len(key),
                       "supported: msg, content, nocase, sid, rev, classtype, reference, priority")
    if sid is None:
        raise _Bad("rule has no sid", m.start(8), len(m.group(8)), "add sid:N; with a unique N")
    return IdsRule(lineno, action, proto, src, sport, dst, dport, m.group(5) == "<>", sid, msg,
                   tuple(contents))


def _addr(m: re.Match, group: int):
    text = m.group(group)
    if text == "any":
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise _Bad(f"bad address '{text}'", m.start(group), len(text), "use any, an address or a prefix") from None


def _port(m: re.Match, group: int):
    text = m.group(group)
    if text == "any":
        return None
    pm = re.fullmatch(r"(\d+)(?::(\d+))?", text)
    if pm:
        lo = int(pm.group(1))
        hi = int(pm.group(2)) if pm.group(2) else lo
        if 0 <= lo <= hi <= 65535:
            return lo, hi
    raise _Bad(f"bad port '{text}'", m.start(group), len(text), "use any, N or LO:HI")


def _content_bytes(text: str, at: int, length: int) -> bytes:
    out = bytearray()
    parts = text.split("|")
    if len(parts) % 2 == 0:
        raise _Bad("unbalanced '|' in content", at, length)
    for i, part in enumerate(parts):
        if i % 2:
            try:
                out += bytes.fromhex(part)
            except ValueError:
                raise _Bad(f"bad hex bytes '|{part}|' in content", at, length) from None
        else:
            out += part.replace('\\"', '"').replace("\\\\", "\\").encode("utf-8")
    if not out:
        raise _Bad("empty content", at, length)
    return bytes(out)
