"""Parser: every construct of the language, literal lexing, and syntax errors in words."""

from __future__ import annotations

import ipaddress

import pytest

from chainc.diagnostics import CompileError, Reporter
from chainc.source import SourceFile, Span
from chainc.syntax import ast, string_span
from chainc.syntax.parser import parse, parse_text
from chainc.values import Duration, Mac, Range, Rate, Size


def stmts(text: str) -> list:
    return parse_text(text).stmts


def value_of(text: str):
    """The parsed value expression of `const X = <text>`."""
    (const,) = stmts(f"const X = {text}\n")
    return const.value


def lit(text: str) -> ast.Literal:
    v = value_of(text)
    assert isinstance(v, ast.Literal), v
    return v


def syntax_errors(text: str) -> list[str]:
    reporter = Reporter()
    parse(SourceFile("t.chain", text), reporter)
    return [d.render() for d in reporter.diagnostics]


# ---------------------------------------------------------------- literals


@pytest.mark.parametrize("text, kind, value", [
    ("42", "int", 42),
    ("-7", "int", -7),
    ("0x1F", "int", 31),
    ("0.25", "float", 0.25),
    ('"hello"', "string", "hello"),
    ("true", "bool", True),
    ("false", "bool", False),
    ("10.0.0.1", "ipv4", ipaddress.IPv4Address("10.0.0.1")),
    ("10.0.0.0/8", "prefix", ipaddress.IPv4Network("10.0.0.0/8")),
    ("2001:db8::1", "ipv6", ipaddress.IPv6Address("2001:db8::1")),
    ("::1", "ipv6", ipaddress.IPv6Address("::1")),
    ("::", "ipv6", ipaddress.IPv6Address("::")),
    ("fe80::1", "ipv6", ipaddress.IPv6Address("fe80::1")),
    ("::ffff:10.0.0.1", "ipv6", ipaddress.IPv6Address("::ffff:10.0.0.1")),
    ("1:2:3:4:5:6:7:8", "ipv6", ipaddress.IPv6Address("1:2:3:4:5:6:7:8")),
    ("2001:db8::/32", "prefix", ipaddress.IPv6Network("2001:db8::/32")),
    ("02:00:00:00:00:01", "mac", Mac(bytes([2, 0, 0, 0, 0, 1]))),
    ("aa:bb:cc:dd:ee:ff", "mac", Mac(bytes.fromhex("aabbccddeeff"))),
    ("1024..65535", "range", Range(1024, 65535)),
    ("0x10..0x20", "range", Range(16, 32)),
    ("10Gbps", "rate", Rate(10e9, "bps", "10Gbps")),
    ("100Mbps", "rate", Rate(100e6, "bps", "100Mbps")),
    ("1.5Gbps", "rate", Rate(1.5e9, "bps", "1.5Gbps")),
    ("2Mpps", "rate", Rate(2e6, "pps", "2Mpps")),
    ("500kpps", "rate", Rate(500e3, "pps", "500kpps")),
    ("1Tbps", "rate", Rate(1e12, "bps", "1Tbps")),
    ("64kbps", "rate", Rate(64e3, "bps", "64kbps")),
    ("30s", "duration", Duration(30 * 10**9, "30s")),
    ("100ms", "duration", Duration(100 * 10**6, "100ms")),
    ("5us", "duration", Duration(5000, "5us")),
    ("10ns", "duration", Duration(10, "10ns")),
    ("2m", "duration", Duration(120 * 10**9, "2m")),
    ("1h", "duration", Duration(3600 * 10**9, "1h")),
    ("1.5s", "duration", Duration(1_500_000_000, "1.5s")),
    ("64KiB", "size", Size(65536, "64KiB")),
    ("1500B", "size", Size(1500, "1500B")),
    ("2MiB", "size", Size(2 * 2**20, "2MiB")),
    ("1GiB", "size", Size(2**30, "1GiB")),
    ("1KB", "size", Size(1000, "1KB")),
])
def test_literals_map_to_typed_values(text, kind, value):
    v = lit(text)
    assert (v.kind, v.value, v.text) == (kind, value, text)
    assert v.span.text == text


def test_string_escapes_are_decoded():
    assert lit(r'"a\"b\\c\n\t\x41\u{e9}"').value == 'a"b\\c\n\tA\u00e9'


def test_lexing_double_colon_is_not_a_mac_and_a_mac_is_not_ipv6():
    assert lit("fe80::aa:bb:cc:dd:ee").kind == "ipv6"
    assert lit("aa:bb:cc:dd:ee:ff").kind == "mac"
    assert lit("aa:bb:cc:dd:ee:ff:1:2").kind == "ipv6"


def test_range_is_not_a_float_and_a_float_is_not_an_address():
    assert lit("1..2").value == Range(1, 2)
    assert lit("1.2").kind == "float"
    assert lit("1.2.3.4").kind == "ipv4"
    assert lit("10.0.0.0/8").kind == "prefix"


def test_lists_nest_and_allow_a_trailing_comma_and_newlines():
    v = value_of("[1, [2, 3],\n  4,\n]")
    assert isinstance(v, ast.ListExpr)
    assert [type(i).__name__ for i in v.items] == ["Literal", "ListExpr", "Literal"]
    assert value_of("[]").items == []


def test_blocks_separate_entries_by_newlines_or_commas_and_take_wildcards():
    v = value_of('{\n  web : "tcp"\n  dns: "udp", other : *\n}')
    assert isinstance(v, ast.BlockExpr)
    assert [e.key for e in v.entries] == ["web", "dns", "other"]
    assert isinstance(v.entries[2].value, ast.WildcardExpr)
    assert value_of("{}").entries == []
    assert [e.key for e in value_of("{ a: 1, b: 2, }").entries] == ["a", "b"]


def test_names_in_value_position_are_references():
    v = value_of("WEB")
    assert isinstance(v, ast.NameRef) and v.name == "WEB"


# ---------------------------------------------------------------- statements


def test_comments_are_ignored_by_the_grammar_and_kept_for_the_printer():
    program = parse_text("# top\nconst A = 1  # end of line\n# bottom")
    assert len(program.stmts) == 1
    assert [c.text for c in program.comments] == ["# top", "# end of line", "# bottom"]


def test_a_hash_inside_a_string_is_not_a_comment():
    program = parse_text('const A = "a # b"\n')
    assert program.comments == []
    assert program.stmts[0].value.value == "a # b"


def test_import_and_const():
    imp, const = stmts('import "lib/scrub.chain"\nconst WEB = "tcp dst port 80"\n')
    assert isinstance(imp, ast.Import) and imp.path == "lib/scrub.chain"
    assert imp.path_span.text == '"lib/scrub.chain"'
    assert isinstance(const, ast.Const) and const.name == "WEB"


@pytest.mark.parametrize("text, driver, args", [
    ('pcap("traffic/wan.pcap")', "pcap", [(None, "traffic/wan.pcap")]),
    ('pcap(out: "lan.pcap")', "pcap", [("out", "lan.pcap")]),
    ('pcap(in: "a.pcap", out: "b.pcap")', "pcap", [("in", "a.pcap"), ("out", "b.pcap")]),
    ("null()", "null", []),
    ('tap("tap0")', "tap", [(None, "tap0")]),
    ('af_packet("eth0")', "af_packet", [(None, "eth0")]),
    ('pci("0000:01:00.0")', "pci", [(None, "0000:01:00.0")]),
    ('vdev("net_ring0")', "vdev", [(None, "net_ring0")]),
    ("ring()", "ring", []),
])
def test_port_declarations(text, driver, args):
    (port,) = stmts(f"port wan = {text}\n")
    assert isinstance(port, ast.PortDecl)
    assert (port.name, port.driver) == ("wan", driver)
    assert [(a.name, a.value.value) for a in port.args] == args


def test_nf_declaration_with_args_block_and_hints():
    (nf,) = stmts('nf cls = Classifier(x: 1) {\n  web : "tcp"\n  other : *\n} @core(1) @replicas(4)\n')
    assert isinstance(nf, ast.NfDecl) and nf.name == "cls"
    call = nf.call
    assert call.type == "Classifier"
    assert [a.name for a in call.args] == ["x"]
    assert [e.key for e in call.block.entries] == ["web", "other"]
    assert [(h.name, h.args[0].value.value) for h in call.hints] == [("core", 1), ("replicas", 4)]
    assert call.span.text.startswith("Classifier(x: 1) {") and call.span.text.endswith("}")


def test_block_only_call_has_no_argument_list():
    (nf,) = stmts("nf cls = Classifier {\n  a : *\n}\n")
    assert nf.call.args is None and nf.call.block is not None


def test_keywords_are_names_outside_statement_starts():
    (port,) = stmts('port p = tap(port: "x", nf: 1, chain: 2)\n')
    assert [a.name for a in port.args] == ["port", "nf", "chain"]


def test_connections_with_ports_inline_nfs_and_drop():
    (conn,) = stmts("wan -> fw -> cls.web -> Counter() -> nat.outside\n")
    assert isinstance(conn, ast.Connection)
    eps = conn.endpoints
    assert [type(e).__name__ for e in eps] == ["RefEndpoint", "RefEndpoint", "RefEndpoint",
                                               "CallEndpoint", "RefEndpoint"]
    assert (eps[2].name, eps[2].port) == ("cls", "web")
    assert eps[3].call.type == "Counter" and eps[3].call.args == []
    assert len(conn.arrow_spans) == 4
    (conn,) = stmts("x -> drop\n")
    assert conn.endpoints[1].name == "drop"


def test_a_connection_continues_after_an_arrow_or_before_one():
    (conn,) = stmts("wan -> fw ->\n    lan\n")
    assert len(conn.endpoints) == 3
    (conn,) = stmts("wan -> fw\n    # a comment between\n    -> lan\n")
    assert len(conn.endpoints) == 3
    assert len(stmts("a -> b\nc -> d\n")) == 2


def test_arguments_may_span_lines():
    (nf,) = stmts("nf lb = LoadBalancer(\n    vip: 10.0.0.1,\n    backends: [10.0.1.1,\n"
                  "               10.0.1.2]\n)\n")
    assert [a.name for a in nf.call.args] == ["vip", "backends"]


def test_chain_definition_with_params_defaults_and_named_boundaries():
    (chain,) = stmts("chain Scrubber(limit: rate, burst: size = 64KiB) {\n"
                     "    in -> RateLimiter(rate: limit) -> Counter() -> out\n"
                     "    in.mgmt -> out.mgmt\n}\n")
    assert isinstance(chain, ast.ChainDef) and chain.name == "Scrubber"
    assert [(p.name, p.type_name) for p in chain.params] == [("limit", "rate"), ("burst", "size")]
    assert chain.params[0].default is None and chain.params[1].default.value == Size(65536, "64KiB")
    assert len(chain.body) == 2
    second = chain.body[1].endpoints
    assert [(e.name, e.port) for e in second] == [("in", "mgmt"), ("out", "mgmt")]
    assert chain.span.text.endswith("}")


def test_inline_sub_chain_with_a_block_and_empty_chain():
    (chain,) = stmts("chain Empty() {\n}\n")
    assert chain.params == [] and chain.body == []


def test_spans_point_at_the_source():
    program = parse_text("nf fw = Firewall(rules: \"x.acl\")\n", "f.chain")
    nf = program.stmts[0]
    assert nf.name_span.location() == "f.chain:1:4"
    assert nf.call.args[0].value.span.text == '"x.acl"'
    assert nf.span.text == 'nf fw = Firewall(rules: "x.acl")'


def test_windows_line_endings_and_a_missing_final_newline():
    assert len(stmts("const A = 1\r\nconst B = 2")) == 2


# ---------------------------------------------------------------- string_span


def test_string_span_maps_decoded_offsets_through_escapes():
    source = SourceFile("s.chain", r'const A = "a\tb\"cd"')
    literal = Span(source, 10, len(source.text))
    assert literal.text == r'"a\tb\"cd"'
    # decoded: a, TAB, b, ", c, d
    assert string_span(literal, 0, 1).text == "a"
    assert string_span(literal, 1, 2).text == r"\t"
    assert string_span(literal, 2, 3).text == "b"
    assert string_span(literal, 4, 6).text == "cd"
    assert string_span(literal, 3, 5).text == r'\"c'
    # an empty range is a caret at that position; the end is the closing quote
    assert string_span(literal, 6, 6).text == '"'
    # offsets are clamped
    assert string_span(literal, 4, 100).text == "cd"
    # not a string literal: returned as is
    other = Span(source, 0, 5)
    assert string_span(other, 1, 2) is other
    assert string_span(None, 0, 1) is None


# ---------------------------------------------------------------- syntax errors


def test_missing_endpoint_after_arrow():
    (msg,) = syntax_errors("wan -> \n")
    assert msg == ("t.chain:1:7: error: expected an NF, a port or `drop` after `->`, "
                   "got the end of the line\n    wan -> \n          ^")


def test_unterminated_string():
    (msg,) = syntax_errors('const A = "abc\n')
    assert msg.startswith("t.chain:1:11: error: unterminated string\n")


def test_two_statements_on_a_line():
    (msg,) = syntax_errors("wan -> fw lan\n")
    assert "expected `->`" in msg and "got 'lan'" in msg
    assert "hint: connect NFs with `->`" in msg


def test_missing_comma_between_arguments():
    (msg,) = syntax_errors("nf x = Foo(a: 1 b: 2)\n")
    assert msg.splitlines()[0] == "t.chain:1:17: error: expected `,` or `)`, got 'b'"
    assert msg.splitlines()[-1] == "hint: separate items with `,`"


def test_unclosed_paren_is_named_and_the_next_statement_still_parses():
    reporter = Reporter()
    program = parse(SourceFile("t.chain", "nf x = Foo(a: 1\nnf y = Bar()\ny -> z\n"), reporter)
    (d,) = reporter.diagnostics
    assert "note: the `(` opened here is not closed" in d.render()
    assert [type(s).__name__ for s in program.stmts] == ["NfDecl", "Connection"]
    assert program.broken_names == {"x"}


def test_every_broken_statement_is_reported_once():
    errs = syntax_errors("nf a = \nnf b = Counter()\nconst C = $\nb -> \n")
    assert len(errs) == 3
    assert [e.split(":")[1] for e in errs] == ["1", "3", "4"]


def test_literal_errors_are_reported_at_the_literal():
    errs = syntax_errors("const A = [10.0.0.1/8, 300.1.1.1, 10Gbs, 5..1, \"a\\qb\", 1::2::3]\n")
    assert [e.splitlines()[0] for e in errs] == [
        "t.chain:1:12: error: prefix '10.0.0.1/8' has host bits set",
        "t.chain:1:24: error: '300.1.1.1' is not a valid IPv4 address",
        "t.chain:1:37: error: unknown unit 'Gbs' in '10Gbs'",
        "t.chain:1:42: error: empty range 5..1: the first bound is larger",
        "t.chain:1:50: error: unknown escape sequence '\\q' in string",
        "t.chain:1:56: error: '1::2::3' is not a valid IPv6 address",
    ]
    assert "hint: the network address is 10.0.0.0/8" in errs[0]
    assert "hint: did you mean 'Gbps'?" in errs[2]


def test_lark_names_never_reach_the_user():
    for text in ["nf = 1\n", "a -> -> b\n", "chain X( {\n", "const = \n", "port p = pcap(\n",
                 "nf x = Y() @\n", "x.y.z -> a\n", "{}\n", "a -> b {\n"]:
        for msg in syntax_errors(text):
            for internal in ("NAME", "LPAR", "_NL", "$END", "RBRACE", "__ANON", "Token(",
                             "COLON", "ARROW"):
                assert internal not in msg, (text, msg)


def test_deep_nesting_is_refused_without_recursing():
    errs = syntax_errors("const A = " + "[" * 5000 + "]" * 5000 + "\n")
    assert len(errs) == 1 and "nested too deeply" in errs[0]


def test_parse_text_raises_compile_error():
    with pytest.raises(CompileError) as info:
        parse_text("a -> \n")
    assert len(info.value.diagnostics) == 1
