"""Fuzzing the front end: random bytes and mutated examples never raise anything
but a CompileError, and the CLI never shows a traceback for them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainc.cli import main
from chainc.diagnostics import CompileError
from chainc.driver import load_chain, load_registry, load_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SOURCES = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.chain"))] + \
          [p.read_text(encoding="utf-8") for p in sorted((EXAMPLES / "lib").glob("*.chain"))]
TOKENS = ["->", "(", ")", "{", "}", "[", "]", ",", ":", ".", "=", "@", "*", "..", "\n", " ", "\t",
          '"', "#", "\\", "nf", "port", "const", "chain", "import", "in", "out", "drop", "true",
          "0x", "1e9", "10Gbps", "::", "02:00:00:00:00:01", "10.0.0.0/8", "1024..65535", "-1",
          "Counter()", "Tee()", "Classifier", "@core(1)", "\x00", "\xff", "\u00e9", "\ufeff",
          '"unterminated', "in.x", "out.y", 'import "edge.chain"', 'import "lib/scrub.chain"',
          "chain X() { in -> X() -> out }", "nf a = Scrubber(limit: 1Gbps)", "[[[[", "}}}}"]
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def compile_or_error(text: str, registry) -> None:
    try:
        load_text(text, "fuzz.chain", registry=registry, directory=str(EXAMPLES))
    except CompileError as exc:
        for d in exc.diagnostics:
            d.render()  # rendering must not fail either


@st.composite
def mutated(draw) -> str:
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 6))):
        if not text:
            break
        at = draw(st.integers(0, len(text)))
        op = draw(st.integers(0, 4))
        if op == 0:  # delete a range
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif op == 1:  # insert a token
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        elif op == 2:  # duplicate a range
            end = min(len(text), at + draw(st.integers(1, 80)))
            text = text[:end] + text[at:end] + text[end:]
        elif op == 3:  # replace a character
            text = text[:at] + draw(st.characters()) + text[at + 1:]
        else:  # truncate
            text = text[:at]
    return text


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_random_bytes_are_compile_errors_or_chains(data, registry, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "random.chain"
    path.write_bytes(data)
    try:
        load_chain(str(path), registry=registry)
    except CompileError as exc:
        assert exc.diagnostics


@SETTINGS
@given(text=st.lists(st.sampled_from(TOKENS + list("abcXYZ_019 \n")), max_size=60).map("".join))
def test_random_token_soup(text, registry):
    compile_or_error(text, registry)


@SETTINGS
@given(text=mutated())
def test_mutated_examples(text, registry):
    compile_or_error(text, registry)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.one_of(mutated(), st.binary(max_size=500).map(lambda b: b.decode("latin-1"))))
def test_the_cli_exits_0_or_1_without_a_traceback(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "fuzz.chain"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    runner = CliRunner()
    for args in (["check", str(path)], ["graph", "--json", str(path)], ["fmt", "--check", str(path)]):
        result = runner.invoke(main, args)
        assert result.exit_code in (0, 1), (args, result.output)
        assert "Traceback" not in result.output
        assert "internal compiler error" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("data", [
    b"\xff\xfe\x00garbage\x80",
    b"nf a = " + b"[" * 100000,
    b"wan -> " * 20000,
    b'port p = pcap("x")\n' + b"p -> Counter() -> drop\n" * 3000 + b"\x00",
    b"chain A() {\n in -> A() -> out\n}\nport p = pcap(\"x\")\np -> A() -> drop\n",
], ids=["not-utf8", "deep-brackets", "endless-arrows", "long-chain-then-nul", "recursive-chain"])
def test_hostile_files_through_the_real_command(data, tmp_path):
    path = tmp_path / "hostile.chain"
    path.write_bytes(data)
    proc = subprocess.run([sys.executable, "-m", "chainc", "check", str(path)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CHAINC_DEBUG": ""})
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
