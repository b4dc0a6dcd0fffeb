"""`chainc fmt`: the canonical layout, on hand-written cases and on every real .chain file."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainc.diagnostics import CompileError
from chainc.syntax.printer import format_text

from frontend_fixtures import ir_summary, load

ROOT = Path(__file__).resolve().parent.parent


def test_canonical_layout():
    src = ('# head\nimport   "lib/x.chain"\n\n\n\nconst  A=1   # one\nport wan=pcap( "w.pcap" )\n'
           'nf c=Classifier{web:"tcp",dns : "udp"\n other:*}@core(1)\n'
           'wan->c\nc.web->drop\nc.dns   ->   drop\nc.other->drop\n')
    assert format_text(src) == (
        '# head\n'
        'import "lib/x.chain"\n'
        '\n'
        'const A = 1  # one\n'
        'port wan = pcap("w.pcap")\n'
        'nf c = Classifier {\n'
        '    web   : "tcp"\n'
        '    dns   : "udp"\n'
        '    other : *\n'
        '} @core(1)\n'
        'wan -> c\n'
        'c.web   -> drop\n'
        'c.dns   -> drop\n'
        'c.other -> drop\n')


def test_runs_of_declarations_align_their_equals_signs():
    src = "nf a = Counter()\nnf long_name = Counter()\n\nnf b = Counter()\nport p = null()\n"
    assert format_text(src) == ("nf a         = Counter()\nnf long_name = Counter()\n\n"
                                "nf b = Counter()\nport p = null()\n")


def test_literals_keep_their_spelling_and_values_print_inline():
    src = 'const A = [0x10, 1.50, 64KiB, 1024..2048, "a\\tb", fe80::1, { k: 1, j: [2] }, {}]\n'
    assert format_text(src) == src


def test_long_lines_are_wrapped():
    backends = ", ".join(f"10.0.1.{i}" for i in range(1, 12))
    src = f"nf lb = LoadBalancer(vip: 10.0.0.1, backends: [{backends}])\n"
    out = format_text(src)
    assert out == f"nf lb = LoadBalancer(\n    vip: 10.0.0.1,\n    backends: [{backends}],\n)\n"
    chain = "wan -> " + " -> ".join(f"RateLimiter(rate: {i}Gbps)" for i in range(1, 6)) + " -> lan\n"
    lines = format_text(chain).splitlines()
    assert lines[0] == "wan" and all(line.startswith("    -> ") for line in lines[1:])
    assert format_text(format_text(chain)) == format_text(chain)


def test_sub_chain_bodies_are_indented_and_comments_stay():
    src = ("chain S(limit: rate,burst: size=64KiB){  # header\n"
           "# first\n  in->RateLimiter(rate:limit)->out   # body\n\n\n  # last\n}\n")
    assert format_text(src) == ("chain S(limit: rate, burst: size = 64KiB) {  # header\n"
                                "    # first\n"
                                "    in -> RateLimiter(rate: limit) -> out  # body\n"
                                "\n"
                                "    # last\n"
                                "}\n")


def test_comments_inside_a_joined_statement_move_before_it():
    src = "nf fw = Firewall(rules: \"x\",  # the rules\n    default: deny)\n"
    assert format_text(src) == "# the rules\nnf fw = Firewall(rules: \"x\", default: deny)\n"


def test_an_empty_file_and_a_comment_only_file():
    assert format_text("") == ""
    assert format_text("\n\n") == ""
    assert format_text("  # only\n\n\n# comments\n") == "# only\n\n# comments\n"


def test_formatting_refuses_a_file_with_syntax_errors():
    with pytest.raises(CompileError):
        format_text("wan -> \n")


CORPUS = sorted(p for p in [*ROOT.glob("examples/*.chain"), *ROOT.glob("examples/lib/*.chain"),
                            *ROOT.glob("tests/diagnostics/*.chain"),
                            *ROOT.glob("tests/diagnostics/lib/*.chain")])


def _parses(path: Path) -> bool:
    try:
        format_text(path.read_text(encoding="utf-8"))
        return True
    except (CompileError, UnicodeDecodeError):
        return False


@pytest.mark.parametrize("path", [p for p in CORPUS if _parses(p)], ids=lambda p: p.name)
def test_every_real_file_formats_idempotently_keeping_comments(path):
    from chainc.syntax.parser import parse_text

    text = path.read_text(encoding="utf-8")
    once = format_text(text)
    assert format_text(once) == once
    assert [c.text for c in parse_text(once).comments] == [c.text for c in parse_text(text).comments]


@pytest.mark.parametrize("path", sorted(ROOT.glob("examples/*.chain")), ids=lambda p: p.name)
def test_examples_are_formatted_and_formatting_keeps_their_ir(path):
    from chainc.driver import load_registry

    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text, "run `chainc fmt` on the example"
    registry = load_registry()
    directory = path.parent
    before = ir_summary(load(text, path.name, directory, registry).graph)
    after = ir_summary(load(format_text(text), path.name, directory, registry).graph)
    assert before == after
