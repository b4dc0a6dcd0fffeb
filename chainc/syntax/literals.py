"""Turning literal text into typed values (chainc.values), and back to spans.

Every function here takes the text the lexer matched and returns the value, or
raises LiteralError with a message, an optional hint and the offsets (relative
to the literal's start) of the part that is wrong.

`string_span` is the helper NF `validate` hooks use to point inside a string
literal: it maps offsets in the decoded string back to the source, accounting
for the opening quote and for escapes.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from chainc.diagnostics import did_you_mean
from chainc.source import Span
from chainc.values import Duration, Mac, Range, Rate, Size


class LiteralError(Exception):
    def __init__(self, message: str, hint: str | None = None,
                 start: int | None = None, end: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.start = start
        self.end = end


# ------------------------------------------------------------------ strings

_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_HEX = re.compile(r"[0-9A-Fa-f]{2}")
_UNICODE = re.compile(r"\{([0-9A-Fa-f]{1,6})\}")


def _scan_string(raw: str) -> tuple[str, list[int]]:
    """Decode a string literal (with its quotes).

    Returns the decoded text and, for each decoded character, the offset in
    `raw` where its source text starts; one extra entry marks the closing quote.
    Raises LiteralError on a bad escape.
    """
    out: list[str] = []
    starts: list[int] = []
    i, end = 1, len(raw) - 1
    while i < end:
        ch = raw[i]
        if ch != "\\":
            out.append(ch)
            starts.append(i)
            i += 1
            continue
        esc = raw[i + 1] if i + 1 < end else ""
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            starts.append(i)
            i += 2
        elif esc == "x" and _HEX.match(raw, i + 2) and i + 4 <= end:
            out.append(chr(int(raw[i + 2:i + 4], 16)))
            starts.append(i)
            i += 4
        elif esc == "u" and (m := _UNICODE.match(raw, i + 2)) and m.end() <= end:
            code = int(m.group(1), 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise LiteralError(f"'\\u{{{m.group(1)}}}' is not a valid character", None,
                                   i, m.end())
            out.append(chr(code))
            starts.append(i)
            i = m.end()
        else:
            shown = "\\" + esc if esc else "\\"
            raise LiteralError(f"unknown escape sequence '{shown}' in string",
                               'escapes are \\" \\\\ \\n \\t \\r \\0 \\xHH and \\u{HHHH}',
                               i, i + 1 + len(esc))
    starts.append(end)
    return "".join(out), starts


def decode_string(raw: str) -> str:
    """The value of a string literal written `raw` (quotes included)."""
    if "\\" not in raw:
        return raw[1:-1]
    return _scan_string(raw)[0]


def quote_string(value: str) -> str:
    """A string literal whose value is `value` (the inverse of decode_string)."""
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def string_span(literal_span: Span | None, start: int, end: int) -> Span | None:
    """The source span of characters [start, end) of a string literal's value.

    `literal_span` is the span of the literal, quotes included (what
    `NfNode.param_spans[name]` and `BlockEntry.value_span` hold). Offsets are
    indexes into the decoded string, as a match-expression parser reports
    them; escapes are accounted for, so in `"a\\tb"` the `b` (index 2) maps to
    the source column of `b`, not of `\\`. Offsets are clamped to the string;
    an empty range gives a one-character span (a caret at that position, or
    at the closing quote for the end of the string). If the span is not a
    string literal (a value with no literal behind it), it is returned as is.
    """
    if literal_span is None:
        return None
    raw = literal_span.text
    if len(raw) < 2 or raw[0] != '"' or raw[-1] != '"':
        return literal_span
    try:
        _, starts = _scan_string(raw)
    except LiteralError:
        return literal_span
    n = len(starts) - 1  # decoded length
    start = max(0, min(start, n))
    end = max(start, min(end, n))
    src_start = starts[start]
    src_end = starts[end] if end > start else min(src_start + 1, len(raw))
    return literal_span.sub(src_start, src_end)


# ------------------------------------------------------------------ numbers


def parse_int(text: str) -> int:
    if text.lower().startswith(("0x", "-0x")):
        return int(text, 16)
    return int(text, 10)


def parse_range(lo_text: str, hi_text: str) -> Range:
    lo, hi = parse_int(lo_text), parse_int(hi_text)
    if lo > hi:
        raise LiteralError(f"empty range {lo_text}..{hi_text}: the first bound is larger",
                           f"write {hi_text}..{lo_text}")
    return Range(lo, hi)


RATE_UNITS = {
    "bps": (1, "bps"), "kbps": (10**3, "bps"), "Mbps": (10**6, "bps"),
    "Gbps": (10**9, "bps"), "Tbps": (10**12, "bps"),
    "pps": (1, "pps"), "kpps": (10**3, "pps"), "Mpps": (10**6, "pps"), "Gpps": (10**9, "pps"),
}
DURATION_UNITS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
                  "h": 3600 * 10**9}
SIZE_UNITS = {"B": 1, "KB": 10**3, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
ALL_UNITS = [*RATE_UNITS, *DURATION_UNITS, *SIZE_UNITS]

_QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(.*)", re.S)


def parse_quantity(text: str) -> tuple[str, Any]:
    """`10Gbps` -> ("rate", Rate), `30s` -> ("duration", Duration), `64KiB` -> ("size", Size)."""
    m = _QUANTITY.fullmatch(text)
    assert m is not None
    number, unit = m.group(1), m.group(2)
    amount = float(number) if "." in number else int(number)
    if unit in RATE_UNITS:
        mult, base = RATE_UNITS[unit]
        return "rate", Rate(float(amount * mult), base, text)
    if unit in DURATION_UNITS:
        ns = amount * DURATION_UNITS[unit]
        if ns != int(ns):
            raise LiteralError(f"'{text}' is not a whole number of nanoseconds")
        return "duration", Duration(int(ns), text)
    if unit in SIZE_UNITS:
        size = amount * SIZE_UNITS[unit]
        if size != int(size):
            raise LiteralError(f"'{text}' is not a whole number of bytes")
        return "size", Size(int(size), text)
    hint = did_you_mean(unit, ALL_UNITS)
    if hint is None:
        hint = ("units are bps kbps Mbps Gbps Tbps pps kpps Mpps (rates), ns us ms s m h "
                "(durations), B KB MB GB KiB MiB GiB (sizes)")
    raise LiteralError(f"unknown unit '{unit}' in '{text}'", hint, len(number), len(text))


# ------------------------------------------------------------------ addresses


def parse_ip(text: str, version: int) -> tuple[str, Any]:
    """An address (kind "ipv4"/"ipv6") or a CIDR prefix (kind "prefix")."""
    what = "IPv4" if version == 4 else "IPv6"
    if "/" in text:
        addr_text, _, length_text = text.partition("/")
        try:
            addr = ipaddress.ip_address(addr_text)
        except ValueError:
            raise LiteralError(f"'{addr_text}' is not a valid {what} address",
                               start=0, end=len(addr_text)) from None
        max_len = 32 if addr.version == 4 else 128
        length = int(length_text)
        if length > max_len:
            raise LiteralError(f"prefix length /{length_text} is too long for an {what} address "
                               f"(at most /{max_len})", None, len(addr_text), len(text))
        net = ipaddress.ip_network(f"{addr}/{length}", strict=False)
        if net.network_address != addr:
            raise LiteralError(f"prefix '{text}' has host bits set",
                               f"the network address is {net}")
        return "prefix", net
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        hint = None
        if version == 4:
            hint = "each of the four parts must be 0..255"
        raise LiteralError(f"'{text}' is not a valid {what} address", hint) from None
    return ("ipv4" if addr.version == 4 else "ipv6"), addr


def parse_mac(text: str) -> Mac:
    return Mac(bytes(int(part, 16) for part in text.split(":")))
