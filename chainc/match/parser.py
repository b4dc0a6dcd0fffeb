"""Parse and validate a match expression (the pcap-filter subset of docs/match.md).

A recursive-descent parser over the tokens of `lexer`. It follows
pcap-filter's grammar where chainc supports it:

- `not` binds tightest; `and` and `or` have *equal* precedence and group
  left to right (`a or b and c` is `(a or b) and c`), as in tcpdump;
- a primitive is `[proto] [dir] [type] value` or a keyword (`tcp`, `vlan 10`,
  `less 64`, `tcp[tcpflags] & tcp-syn != 0`);
- a bare value after `and`/`or`/`not`/`(` takes the qualifiers of the nearest
  qualified primitive before it (`host a or b`, `port 80 or 443`), unless a
  keyword primitive came in between.

Every value is checked here (ranges, address families, host bits of a
prefix), so a tree that comes out of `parse_match` is valid for `evaluate`
and `to_cython` without further checks.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from chainc.diagnostics import did_you_mean
from chainc.match import names
from chainc.match.errors import MatchSyntaxError
from chainc.match.lexer import (AMP, AND, END, LBRACK, LPAREN, NOT, OR, PIPE, RBRACK, RELOP,
                                RPAREN, WORD, Token, tokenize)
from chainc.match.nodes import (BOTH, DST, EITHER, PROTO_KEYWORDS, SRC, And, EtherCast,
                                EtherHost, EtherProto, FieldTest, Host, IpMulticast, IpProto,
                                Length, MatchExpr, Net, Not, Or, Port, Proto, Vlan)

MAX_DEPTH = 100  # parentheses and `not`s nested in one another

PROTO_QUALIFIERS = ("ether",) + PROTO_KEYWORDS
DIR_WORDS = ("src", "dst")
TYPE_WORDS = ("host", "net", "port", "portrange", "proto")
OTHER_WORDS = ("vlan", "less", "greater", "broadcast", "multicast", "mask", "and", "or", "not")
KEYWORDS = PROTO_QUALIFIERS + DIR_WORDS + TYPE_WORDS + OTHER_WORDS

# Which protocol qualifiers each type accepts (None: no protocol qualifier).
_TYPE_PROTOS: dict[str, tuple[str | None, ...]] = {
    "host": (None, "ether", "ip", "ip6"),
    "net": (None, "ip", "ip6"),
    "port": (None, "tcp", "udp"),
    "portrange": (None, "tcp", "udp"),
    "proto": (None, "ether", "ip", "ip6"),
}

# pcap-filter primitives chainc does not implement, with what to write instead.
_UNSUPPORTED: dict[str, str] = {
    "gateway": "match the gateway's MAC with 'ether host' and its address with 'not host'",
    "len": "use 'less N' or 'greater N'",
    "inbound": "a Classifier sees packets of the ports wired to it; there is no direction",
    "outbound": "a Classifier sees packets of the ports wired to it; there is no direction",
    "ifname": "wire the port to its own Classifier instead",
    "on": "wire the port to its own Classifier instead",
    "mpls": "match the EtherType with 'ether proto 0x8847'",
    "pppoed": "match the EtherType with 'ether proto 0x8863'",
    "pppoes": "match the EtherType with 'ether proto 0x8864'",
    "geneve": "match the UDP port with 'udp port 6081'",
    "protochain": "chainc always walks IPv6 extension headers: use 'ip6 proto N'",
    "atalk": "match the EtherType with 'ether proto N'",
    "decnet": "match the EtherType with 'ether proto N'",
    "iso": "match the EtherType with 'ether proto N'",
    "stp": "match the destination with 'ether dst 01:80:c2:00:00:00'",
    "ipx": "match the EtherType with 'ether proto 0x8137'",
    "netbeui": "match the EtherType with 'ether proto N'",
    "llc": "match the EtherType with 'ether proto N'",
    "wlan": "chainc parses Ethernet frames only",
    "type": "chainc parses Ethernet frames only",
    "subtype": "chainc parses Ethernet frames only",
}

_NUMBER = re.compile(r"(?:0[xX][0-9a-fA-F]+|[0-9]+)\Z")
_MAC = re.compile(r"(?:[0-9a-fA-F]{1,2}([:-])[0-9a-fA-F]{1,2}(?:\1[0-9a-fA-F]{1,2}){4}"
                  r"|[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4})\Z")
_PARTIAL_V4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){0,3}\Z")
_RANGE = re.compile(r"([0-9a-fA-Fx]+)-([0-9a-fA-Fx]+)\Z")


@dataclass(frozen=True)
class _Quals:
    """The qualifiers in effect for a value: what a bare value after `or` inherits."""

    proto: str | None
    direction: str
    type: str
    keyword: str  # the qualifier word the value follows, for messages ('port', 'src')


def parse_match(text: str) -> MatchExpr:
    """Parse and validate a match expression; raise MatchSyntaxError with offsets."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0
        self.quals: _Quals | None = None

    # -- token access ------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.peek()
        if tok.kind != END:
            self.pos += 1
        return tok

    def fail(self, message: str, where: Token | tuple[int, int], hint: str | None = None):
        start, end = (where.start, where.end) if isinstance(where, Token) else where
        raise MatchSyntaxError(message, start, end, hint)

    @staticmethod
    def is_op(tok: Token) -> str | None:
        """'and' / 'or' if the token is that connective, in either spelling."""
        if tok.kind == AND or tok.word == "and":
            return "and"
        if tok.kind == OR or tok.word == "or":
            return "or"
        return None

    # -- structure ---------------------------------------------------------
    def parse(self) -> MatchExpr:
        if self.peek().kind == END:
            self.fail("empty match expression", (0, len(self.text)),
                      hint="write a pcap-filter expression such as 'tcp dst port 80'")
        expr = self.expression()
        tok = self.peek()
        if tok.kind == RPAREN:
            self.fail("unmatched ')'", tok)
        if tok.kind != END:
            self.fail(f"expected 'and' or 'or' before {tok.describe()}", tok)
        return expr

    def expression(self) -> MatchExpr:
        """Operands joined by and/or: equal precedence, grouped left to right."""
        result = self.unary()
        group_op: str | None = None
        group: list[MatchExpr] = []
        while (op := self.is_op(self.peek())) is not None:
            op_tok = self.advance()
            if self.peek().kind in (END, RPAREN):
                self.fail(f"expected a primitive after '{op_tok.text}', got "
                          f"{self.peek().describe()}", self.peek())
            operand = self.unary()
            if op != group_op:
                if group_op is not None:
                    result = _join(group_op, group)
                group_op, group = op, _flat(op, result)
            group.extend(_flat(op, operand))
        return _join(group_op, group) if group_op is not None else result

    def unary(self) -> MatchExpr:
        nots: list[Token] = []
        while self.peek().kind == NOT or self.peek().word == "not":
            nots.append(self.advance())
            if self.depth + len(nots) > MAX_DEPTH:
                self.fail("expression nested too deeply", nots[-1])
        self.depth += len(nots)
        expr = self.primary()
        self.depth -= len(nots)
        for tok in reversed(nots):
            expr = Not(expr, span=(tok.start, expr.span[1]))
        return expr

    def primary(self) -> MatchExpr:
        tok = self.peek()
        if tok.kind == LPAREN:
            self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                self.fail("expression nested too deeply", tok)
            if self.peek().kind == RPAREN:
                self.fail("empty parentheses", (tok.start, self.peek().end))
            expr = self.expression()
            close = self.peek()
            if close.kind == END:
                self.fail("missing ')' to close this '('", tok)
            if close.kind != RPAREN:
                self.fail(f"expected 'and', 'or' or ')' before {close.describe()}", close)
            self.advance()
            self.depth -= 1
            return expr
        if tok.kind == WORD:
            return self.primitive()
        if self.is_op(tok):
            self.fail(f"expected a primitive before '{tok.text}'", tok)
        if tok.kind == END:
            self.fail("expected a primitive, got the end of the expression", tok)
        if tok.kind == RPAREN:
            self.fail("unmatched ')'", tok)
        self.fail(f"unexpected {tok.describe()}", tok)

    # -- primitives --------------------------------------------------------
    def primitive(self) -> MatchExpr:
        tok = self.peek()
        word = tok.word
        if word in ("and", "or"):
            self.fail(f"expected a primitive before '{tok.text}'", tok)
        if word in PROTO_QUALIFIERS:
            return self.after_proto(self.advance())
        if word in DIR_WORDS or word in TYPE_WORDS:
            return self.qualified(None, tok.start)
        if word == "vlan":
            return self.vlan(self.advance())
        if word in ("less", "greater"):
            return self.length(self.advance())
        if word in ("broadcast", "multicast"):
            self.advance()
            self.quals = None
            return EtherCast(word, span=(tok.start, tok.end))
        if word in _UNSUPPORTED:
            self.fail(f"'{tok.text}' is not supported in chainc match expressions", tok,
                      hint=_UNSUPPORTED[word])
        if self.quals is not None:
            return self.value(self.quals, self.advance(), tok.start)
        self.unknown(tok)

    def unknown(self, tok: Token):
        text = tok.text
        if _ip(text) is not None or _PARTIAL_V4.match(text) and "." in text:
            self.fail(f"the address '{text}' needs a qualifier", tok,
                      hint=f"write 'host {text}' (or 'src host', 'dst host')")
        if "/" in text:
            self.fail(f"the prefix '{text}' needs a qualifier", tok, hint=f"write 'net {text}'")
        if _MAC.match(text):
            self.fail(f"the MAC address '{text}' needs a qualifier", tok,
                      hint=f"write 'ether host {text}'")
        if _NUMBER.match(text):
            self.fail(f"the number '{text}' needs a qualifier", tok,
                      hint=f"write for example 'port {text}', 'proto {text}' or 'vlan {text}'")
        if tok.word in names.PORT_NAMES:
            self.fail(f"the port name '{text}' needs a qualifier", tok,
                      hint=f"write 'port {text}'")
        self.fail(f"unknown primitive '{text}'", tok,
                  hint=did_you_mean(tok.word, KEYWORDS + tuple(_UNSUPPORTED)))

    def after_proto(self, tok: Token) -> MatchExpr:
        proto = tok.word
        nxt = self.peek()
        if nxt.word in DIR_WORDS or nxt.word in TYPE_WORDS:
            return self.qualified(proto, tok.start)
        if proto == "ether" and nxt.word in ("broadcast", "multicast"):
            self.advance()
            self.quals = None
            return EtherCast(nxt.word, span=(tok.start, nxt.end))
        if proto in ("ip", "ip6") and nxt.word == "multicast":
            self.advance()
            self.quals = None
            return IpMulticast(4 if proto == "ip" else 6, span=(tok.start, nxt.end))
        if proto in ("ip", "ip6") and nxt.word == "broadcast":
            self.fail(f"'{tok.text} broadcast' is not supported: it needs the network's "
                      "netmask, which a chain does not know", (tok.start, nxt.end),
                      hint="write 'ip dst host 255.255.255.255' or 'ether broadcast'")
        if nxt.kind == LBRACK:
            return self.field_test(tok)
        if proto == "ether":
            self.fail("expected 'host', 'src', 'dst', 'proto', 'broadcast' or 'multicast' "
                      f"after 'ether', got {nxt.describe()}", nxt if nxt.kind != END else tok)
        self.quals = None
        return Proto(proto, span=(tok.start, tok.end))

    def direction(self) -> tuple[str, Token]:
        tok = self.advance()
        first = tok.word
        op, other = self.peek(), self.peek(1)
        if self.is_op(op) and other.word in DIR_WORDS and other.word != first:
            self.advance()
            self.advance()
            return (EITHER if self.is_op(op) == "or" else BOTH), other
        return (SRC if first == "src" else DST), tok

    def qualified(self, proto: str | None, start: int) -> MatchExpr:
        direction, last = EITHER, None
        if self.peek().word in DIR_WORDS:
            direction, last = self.direction()
        if self.peek().word in TYPE_WORDS:
            last = self.advance()
            kind = last.word
        else:
            kind = "host"
        written = self.text[start:last.end]
        if proto not in _TYPE_PROTOS[kind]:
            if last.word in DIR_WORDS and proto in ("tcp", "udp"):
                self.fail(f"'{written}' needs 'port' or 'portrange' after it", (start, last.end),
                          hint=f"write '{written} port N'")
            allowed = _one_of([f"'{p}'" for p in _TYPE_PROTOS[kind] if p])
            self.fail(f"'{proto} {kind}' is not supported: '{kind}' may follow only {allowed}",
                      (start, last.end),
                      hint=f"write '{proto} and {written[len(proto) + 1:]} ...'"
                      if proto in PROTO_KEYWORDS else None)
        if kind == "proto" and direction != EITHER:
            self.fail("'src' and 'dst' cannot qualify 'proto'", (start, last.end))
        quals = _Quals(proto, direction, kind, last.word)
        value = self.advance()
        node = self.value(quals, value, start)
        self.quals = quals
        return node

    # -- values --------------------------------------------------------------
    def value(self, q: _Quals, tok: Token, start: int) -> MatchExpr:
        if tok.kind != WORD:
            self.fail(f"expected {_WHAT[q.type if q.proto != 'ether' else 'ether ' + q.type]} "
                      f"after '{q.keyword}', got {tok.describe()}", tok)
        span = (start, tok.end)
        if q.type == "host" and q.proto == "ether":
            mac = _mac(tok.text)
            if mac is None:
                self.fail(f"expected a MAC address such as 02:00:00:00:00:01 after "
                          f"'{q.keyword}', got '{tok.text}'", tok)
            return EtherHost(q.direction, mac, span=span)
        if q.type == "host":
            return Host(q.direction, self.address(q, tok), span=span)
        if q.type == "net":
            network, end = self.network(q, tok)
            return Net(q.direction, network, span=(start, end))
        if q.type == "port":
            port = self.port(q, tok)
            return Port(q.direction, q.proto, port, port, span=span)
        if q.type == "portrange":
            lo, hi = self.port_range(q, tok)
            return Port(q.direction, q.proto, lo, hi, span=span)
        if q.proto == "ether":
            return EtherProto(self.proto_number(q, tok, names.ETHER_PROTO_NAMES, 0xFFFF),
                              span=span)
        family = {None: None, "ip": 4, "ip6": 6}[q.proto]
        return IpProto(family, self.proto_number(q, tok, names.IP_PROTO_NAMES, 0xFF), span=span)

    def address(self, q: _Quals, tok: Token) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        addr = _ip(tok.text)
        want = {"ip": "an IPv4 address", "ip6": "an IPv6 address"}.get(q.proto,
                                                                      "an IPv4 or IPv6 address")
        if addr is None:
            if _MAC.match(tok.text):
                self.fail(f"expected {want} after '{q.keyword}', got the MAC address "
                          f"'{tok.text}'", tok, hint=f"write 'ether host {tok.text}'")
            if "/" in tok.text or _PARTIAL_V4.match(tok.text) and 1 <= tok.text.count(".") < 3:
                self.fail(f"expected {want} after '{q.keyword}', got '{tok.text}'", tok,
                          hint=f"for a network write 'net {tok.text}'")
            if re.match(r"[A-Za-z][A-Za-z0-9.-]*\Z", tok.text) and tok.word not in KEYWORDS:
                self.fail(f"expected {want} after '{q.keyword}', got '{tok.text}'", tok,
                          hint="host names are not resolved; write the address")
            self.fail(f"expected {want} after '{q.keyword}', got {tok.describe()}", tok)
        if q.proto == "ip" and addr.version == 6 or q.proto == "ip6" and addr.version == 4:
            family = "IPv4" if addr.version == 4 else "IPv6"
            self.fail(f"'{q.proto}' needs {want}, got the {family} address '{tok.text}'", tok,
                      hint=f"write '{'ip' if addr.version == 4 else 'ip6'} host {tok.text}' "
                      f"or just 'host {tok.text}'")
        return addr

    def network(self, q: _Quals, tok: Token):
        """`net PREFIX`, `net PARTIAL` (10.1 = 10.1.0.0/16), `net ADDR mask MASK`."""
        text = tok.text
        end = tok.end
        whole = (tok.start, tok.end)
        if self.peek().word == "mask":
            mask_kw = self.advance()
            mask_tok = self.advance()
            end = mask_tok.end
            whole = (tok.start, end)
            if not _PARTIAL_V4.match(text):
                self.fail(f"'mask' needs an IPv4 network before it, got '{text}'", tok)
            mask = _ip(mask_tok.text) if mask_tok.kind == WORD else None
            if mask is None or mask.version != 4:
                self.fail(f"expected an IPv4 netmask such as 255.255.0.0 after 'mask', "
                          f"got {mask_tok.describe()}", mask_tok if mask_tok.kind != END
                          else mask_kw)
            bits = int(mask)
            length = bin(bits).count("1")
            if bits != (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF:
                self.fail(f"the netmask {mask} is not contiguous", mask_tok,
                          hint="chainc matches prefixes only (mask bits all on the left)")
            addr_text, length_text = text, str(length)
        elif "/" in text:
            addr_text, _, length_text = text.partition("/")
        else:
            addr_text, length_text = text, None

        if ":" in addr_text:
            try:
                addr = ipaddress.IPv6Address(addr_text)
            except ValueError:
                self.fail(f"expected an IPv6 prefix such as 2001:db8::/32 after '{q.keyword}', "
                          f"got '{text}'", tok)
            max_len = 128
            default_len = 128
        else:
            if not _PARTIAL_V4.match(addr_text) or any(int(o) > 255 for o in addr_text.split(".")):
                self.fail(f"expected a network such as 10.0.0.0/8 after '{q.keyword}', "
                          f"got '{text}'", tok,
                          hint="host names are not resolved; write the prefix"
                          if re.match(r"[A-Za-z]", text) else None)
            octets = addr_text.split(".")
            if any(len(o) > 1 and o[0] == "0" for o in octets):
                self.fail(f"'{text}' has an octet with a leading zero, which pcap-filter "
                          "reads as octal", tok, hint="write the octets without leading zeros")
            addr = ipaddress.IPv4Address(".".join(octets + ["0"] * (4 - len(octets))))
            max_len = 32
            default_len = 8 * len(octets)
        if length_text is None:
            length = default_len
        elif not length_text.isdigit() or int(length_text) > max_len:
            self.fail(f"prefix length '{length_text}' is out of range (0..{max_len})", tok)
        else:
            length = int(length_text)
        network = ipaddress.ip_network((addr, length), strict=False)
        if network.network_address != addr:
            shown = text if not self.text[whole[0]:whole[1]] else self.text[whole[0]:whole[1]]
            self.fail(f"'{shown}' has host bits set: the network is {network}", whole,
                      hint=f"write 'net {network}', or 'host {addr}' for the one address")
        if q.proto == "ip" and network.version == 6 or q.proto == "ip6" and network.version == 4:
            self.fail(f"'{q.proto} net' needs an IPv{4 if q.proto == 'ip' else 6} prefix, "
                      f"got '{text}'", tok)
        return network, end

    def port(self, q: _Quals, tok: Token) -> int:
        n = self.number(tok)
        if n is None:
            port = names.PORT_NAMES.get(tok.word)
            if port is not None:
                return port
            hint = did_you_mean(tok.word, names.PORT_NAMES)
            if _RANGE.match(tok.text):
                hint = f"for a range write 'portrange {tok.text}'"
            self.fail(f"expected a port number or name after '{q.keyword}', got '{tok.text}'",
                      tok, hint=hint)
        if n > 0xFFFF:
            self.fail(f"port {n} is out of range (0..65535)", tok)
        return n

    def port_range(self, q: _Quals, tok: Token) -> tuple[int, int]:
        m = _RANGE.match(tok.text)
        lo = self.number(tok, m.group(1), (tok.start, tok.start + len(m.group(1)))) if m else None
        hi = self.number(tok, m.group(2), (tok.end - len(m.group(2)), tok.end)) if m else None
        if lo is None or hi is None:
            hint = None
            if self.number(tok) is not None or tok.word in names.PORT_NAMES:
                hint = f"for one port write 'port {tok.text}'"
            self.fail(f"expected a port range such as 1024-65535 after '{q.keyword}', "
                      f"got '{tok.text}'", tok, hint=hint)
        for n in (lo, hi):
            if n > 0xFFFF:
                self.fail(f"port {n} is out of range (0..65535)", tok)
        if lo > hi:
            self.fail(f"the port range {lo}-{hi} is empty", tok, hint=f"write '{hi}-{lo}'")
        return lo, hi

    def proto_number(self, q: _Quals, tok: Token, table: dict[str, int], top: int) -> int:
        word = tok.word.removeprefix("\\")
        n = self.number(tok)
        if n is None:
            if word in table:
                return table[word]
            what = "an EtherType" if q.proto == "ether" else "a protocol"
            self.fail(f"expected {what} number or name after '{q.keyword}', got '{tok.text}'",
                      tok, hint=did_you_mean(word, table))
        if n > top:
            what = "EtherType" if q.proto == "ether" else "protocol number"
            self.fail(f"{what} {n} is out of range (0..{top})", tok)
        return n

    def number(self, tok: Token, text: str | None = None,
               where: tuple[int, int] | None = None) -> int | None:
        """The value of a decimal or 0x-hex number, None if `text` is not one."""
        text = tok.text if text is None else text
        if not _NUMBER.match(text):
            return None
        if len(text) > 1 and text[0] == "0" and text[1] not in "xX":
            octal = all(c in "01234567" for c in text)
            self.fail(f"'{text}' has a leading zero, which pcap-filter reads as octal"
                      + ("" if octal else " (and it is not valid octal)"), where or tok,
                      hint=f"write {int(text)}" + (f", or {int(text, 8)} for what tcpdump "
                                                   "reads" if octal else ""))
        return int(text, 0)

    # -- keyword primitives --------------------------------------------------
    def vlan(self, tok: Token) -> MatchExpr:
        self.quals = None
        nxt = self.peek()
        if nxt.kind != WORD or nxt.word in KEYWORDS:
            return Vlan(None, span=(tok.start, tok.end))
        self.advance()
        vid = self.number(nxt)
        if vid is None:
            self.fail(f"expected a VLAN id (0..4095) after 'vlan', got '{nxt.text}'", nxt)
        if vid > 4095:
            self.fail(f"VLAN id {vid} is out of range (0..4095)", nxt)
        return Vlan(vid, span=(tok.start, nxt.end))

    def length(self, tok: Token) -> MatchExpr:
        self.quals = None
        nxt = self.advance()
        n = self.number(nxt) if nxt.kind == WORD else None
        if n is None:
            self.fail(f"expected a length in bytes after '{tok.text}', got {nxt.describe()}",
                      nxt if nxt.kind != END else tok)
        if n > 0xFFFFFFFF:
            self.fail(f"length {n} is out of range (0..4294967295)", nxt)
        return Length(tok.word, n, span=(tok.start, nxt.end))

    def field_test(self, proto_tok: Token) -> MatchExpr:
        """`tcp[tcpflags] [& MASK] OP VALUE` and the icmp/icmp6 type and code fields."""
        self.quals = None
        proto = proto_tok.word
        self.advance()  # '['
        inner = self.advance()
        close = self.advance()
        fields = [f for (p, f) in names.FIELD_ACCESSORS if p == proto and not f.isdigit()]
        field = names.FIELD_ACCESSORS.get((proto, inner.word))
        if field is None:
            listed = ", ".join(f"{proto}[{f}]" for f in fields) or "none"
            self.fail(f"'{proto}[{inner.text}]' is not supported; chainc reads only whole "
                      f"header fields ({listed})" if fields else
                      f"'{proto}[...]' is not supported; chainc reads only "
                      "tcp[tcpflags], icmp[icmptype], icmp[icmpcode], icmp6[icmp6type] "
                      "and icmp6[icmp6code]", (proto_tok.start, close.end),
                      hint=did_you_mean(inner.word, fields) if fields else None)
        if close.kind != RBRACK:
            self.fail(f"expected ']' after '{proto}[{inner.text}', got {close.describe()}", close)
        accessor = f"{proto}[{inner.text}]"
        mask = None
        if self.peek().kind == AMP:
            self.advance()
            mask = self.field_value(field, bare_or=False)
        op = self.advance()
        if op.kind != RELOP:
            self.fail(f"expected a comparison (==, !=, <, <=, >, >=) after '{accessor}'"
                      f"{' & ...' if mask is not None else ''}, got {op.describe()}", op,
                      hint=f"for example '{accessor} & tcp-syn != 0'" if field == "tcpflags"
                      else f"for example '{accessor} == 8'")
        value = self.field_value(field, bare_or=True)
        end = self.tokens[self.pos - 1].end
        return FieldTest(field, mask, "==" if op.text == "=" else op.text, value,
                         span=(proto_tok.start, end))

    def field_value(self, field: str, bare_or: bool) -> int:
        if self.peek().kind == LPAREN:
            self.advance()
            value = self.field_atom(field)
            while self.peek().kind == PIPE:
                self.advance()
                value |= self.field_atom(field)
            close = self.advance()
            if close.kind != RPAREN:
                self.fail(f"expected '|' or ')', got {close.describe()}", close)
            return value
        value = self.field_atom(field)
        while self.peek().kind == PIPE:
            if not bare_or:
                bar = self.peek()
                self.fail("put the flags in parentheses: pcap-filter reads 'x & a|b' as "
                          "'(x & a)|b'", bar, hint="write '& (a|b)'")
            self.advance()
            value |= self.field_atom(field)
        return value

    def field_atom(self, field: str) -> int:
        tok = self.advance()
        table = names.FIELD_VALUE_NAMES[field]
        n = self.number(tok) if tok.kind == WORD else None
        if n is None:
            if tok.word in table:
                return table[tok.word]
            what = {"tcpflags": "a number or TCP flag such as tcp-syn",
                    "icmptype": "a number or ICMP type such as icmp-echo",
                    "icmp6type": "a number or ICMPv6 type such as icmp6-echo"}.get(field, "a number")
            self.fail(f"expected {what}, got {tok.describe()}", tok,
                      hint=did_you_mean(tok.word, table) if tok.kind == WORD else None)
        if n > 0xFF:
            self.fail(f"{n} does not fit the one-byte field {field} (0..255)", tok)
        return n


_WHAT = {
    "host": "an IPv4 or IPv6 address", "ether host": "a MAC address", "net": "a network",
    "port": "a port number or name", "portrange": "a port range such as 1024-65535",
    "proto": "a protocol number or name", "ether proto": "an EtherType number or name",
}


def _one_of(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _flat(op: str, expr: MatchExpr) -> list[MatchExpr]:
    """`expr` as operands of `op`: an And inside an and-chain merges into it."""
    if op == "and" and isinstance(expr, And) or op == "or" and isinstance(expr, Or):
        return list(expr.items)
    return [expr]


def _join(op: str, items: list[MatchExpr]) -> MatchExpr:
    span = (items[0].span[0], items[-1].span[1])
    return And(tuple(items), span=span) if op == "and" else Or(tuple(items), span=span)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A full IPv4 dotted quad or an IPv6 address, else None."""
    try:
        if ":" in text:
            return ipaddress.IPv6Address(text)
        if text.count(".") == 3:
            return ipaddress.IPv4Address(text)
    except ValueError:
        return None
    return None


def _mac(text: str) -> bytes | None:
    if not _MAC.match(text):
        return None
    if "." in text:
        return bytes.fromhex(text.replace(".", ""))
    return bytes(int(part, 16) for part in re.split(r"[:-]", text))
