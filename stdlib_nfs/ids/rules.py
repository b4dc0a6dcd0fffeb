r"""IDS rule files: a subset of the Snort rule language, one rule per line.

    alert tcp any any -> 10.0.0.0/8 80 (msg:"passwd fetch"; content:"/etc/passwd"; sid:1001;)
    drop  udp any any -> any 53 (msg:"bad dns"; content:"|00 00 fc|"; sid:1002;)

Actions: alert, drop (blocks in ips mode, alerts in ids mode), pass (stops
matching). Protocols: ip, tcp, udp, icmp. Addresses: any, an address, a
prefix. Ports: any, N, LO:HI. Direction: `->`, or `<>` for both. Options:
msg, content (with |hex| bytes; several must all match), nocase, offset and
depth (apply to the content before them), pcre ("/REGEX/FLAGS", flags i, s,
m), sid (required, unique), rev, classtype, reference, priority (ignored).

A pcre is checked here against the subset whose meaning Hyperscan (native)
and Python's `re` (`chainc sim`) share on a stream that has no known end:
no backreferences, lookaround, atomic groups or possessive quantifiers, no
end-of-data or word-boundary assertions (`$`, `\Z`, `\z`, `\b`, `\B`), no
`{,n}`, and nothing that can match the empty string.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace

try:  # the regex parser of the standard library (re._parser since 3.11)
    from re import _parser as re_parser
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_parse as re_parser

ACTIONS = ("alert", "drop", "pass")
PROTOCOLS = ("ip", "tcp", "udp", "icmp")


@dataclass(frozen=True)
class Content:
    pattern: bytes
    nocase: bool = False
    offset: int | None = None  # the match starts at or after this stream offset
    depth: int | None = None  # ... and ends within `depth` bytes of `offset` (or 0)


@dataclass(frozen=True)
class Pcre:
    source: str  # the regular expression between the slashes
    flags: str = ""  # a subset of "ims"


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
    patterns: tuple[Content | Pcre, ...] = field(default_factory=tuple)


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
    msg, patterns, sid = "", [], None
    opts_at = m.start(8)
    for om in re.finditer(r'\s*([a-z_]+)\s*(?::\s*("(?:[^"\\]|\\.)*"|[^;]*))?\s*;', m.group(8)):
        key, value = om.group(1), (om.group(2) or "").strip()
        at, length = opts_at + om.start(1), om.end() - om.start(1)
        if key == "msg":
            msg = re.sub(r"\\(.)", r"\1", value[1:-1]) if value[:1] == value[-1:] == '"' and len(value) > 1 \
                else value
        elif key == "content":
            if not (len(value) >= 2 and value[0] == value[-1] == '"'):
                raise _Bad("content must be a quoted string", at, length)
            patterns.append(Content(_content_bytes(value[1:-1], at, length)))
        elif key == "pcre":
            patterns.append(_pcre(value, at, length))
        elif key in ("nocase", "offset", "depth"):
            if not patterns or not isinstance(patterns[-1], Content):
                raise _Bad(f"{key} must follow a content option", at, length,
                           "it modifies the content just before it" if key == "nocase" else
                           "a pcre has no offset or depth: anchor it with ^ and a counted repeat")
            patterns[-1] = _modify(patterns[-1], key, value, at, length)
        elif key == "sid":
            if not value.isdigit():
                raise _Bad(f"sid must be a number, got '{value}'", at, length)
            sid = int(value)
        elif key in ("rev", "classtype", "reference", "priority"):
            pass
        else:
            raise _Bad(f"unsupported rule option '{key}'", at, len(key),
                       "supported: msg, content, nocase, offset, depth, pcre, sid, rev, classtype, "
                   "reference, priority")
    if sid is None:
        raise _Bad("rule has no sid", m.start(8), len(m.group(8)), "add sid:N; with a unique N")
    return IdsRule(lineno, action, proto, src, sport, dst, dport, m.group(5) == "<>", sid, msg,
                   tuple(patterns))


def _modify(content: Content, key: str, value: str, at: int, length: int) -> Content:
    if key == "nocase":
        return replace(content, nocase=True)
    if not value.isdigit() or int(value) > 65535:
        raise _Bad(f"{key} must be a number of bytes from 0 to 65535, got '{value}'", at, length)
    if key == "depth" and int(value) < len(content.pattern):
        raise _Bad(f"depth {value} is shorter than the content ({len(content.pattern)} bytes)", at, length)
    return replace(content, **{key: int(value)})


_UNSUPPORTED = {
    "GROUPREF": "a backreference", "GROUPREF_EXISTS": "a conditional group",
    "ASSERT": "a lookaround", "ASSERT_NOT": "a lookaround",
    "ATOMIC_GROUP": "an atomic group", "POSSESSIVE_REPEAT": "a possessive quantifier",
}
_UNSUPPORTED_AT = {
    "AT_END": "'$'", "AT_END_STRING": "'\\Z' or '\\z'", "AT_BOUNDARY": "'\\b'",
    "AT_NON_BOUNDARY": "'\\B'",
}


def _pcre(value: str, at: int, length: int) -> Pcre:
    m = re.fullmatch(r'"/(.*)/([A-Za-z]*)"', value, re.S)
    if not m:
        raise _Bad('pcre must be a quoted "/REGEX/FLAGS"', at, length)
    source, flags = m.group(1), m.group(2)
    bad = sorted(set(flags) - set("ims"))
    if bad:
        raise _Bad(f"unsupported pcre flag(s) '{''.join(bad)}'", at, length, "supported: i, s, m")
    if "{," in source:
        raise _Bad("'{,n}' means different things to PCRE and Python: write '{0,n}'", at, length)
    try:
        tree = re_parser.parse(source.encode("utf-8"), _re_flags(flags))
    except (re.error, OverflowError) as exc:
        raise _Bad(f"bad pcre: {exc}", at, length) from None
    what = _unsupported(tree)
    if what:
        raise _Bad(f"pcre uses {what}, which chainc does not support", at, length,
                   "see the IDS rule subset in `chainc doc IDS`")
    if tree.getwidth()[0] == 0:
        raise _Bad("pcre can match the empty string", at, length, "every match must consume a byte")
    return Pcre(source, "".join(sorted(set(flags))))


def _re_flags(flags: str) -> int:
    return ((re.I if "i" in flags else 0) | (re.S if "s" in flags else 0)
            | (re.M if "m" in flags else 0))


def _unsupported(tree) -> str | None:
    """The first construct of a parsed regex outside the supported subset."""
    for op, arg in tree:
        name = str(op)
        if name in _UNSUPPORTED:
            return _UNSUPPORTED[name]
        if name == "AT" and str(arg) in _UNSUPPORTED_AT:
            return _UNSUPPORTED_AT[str(arg)]
        for sub in _subpatterns(arg):
            found = _unsupported(sub)
            if found:
                return found
    return None


def _subpatterns(arg):
    if isinstance(arg, re_parser.SubPattern):
        yield arg
    elif isinstance(arg, (tuple, list)):
        for item in arg:
            yield from _subpatterns(item)


def compile_pattern(p: Content | Pcre) -> "re.Pattern[bytes]":
    """The pattern as a Python regex over bytes (the reference body's matcher)."""
    if isinstance(p, Content):
        return re.compile(re.escape(p.pattern), re.I if p.nocase else 0)
    return re.compile(p.source.encode("utf-8"), _re_flags(p.flags))


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
