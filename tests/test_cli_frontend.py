"""The front-end commands: check, graph, fmt, nfs, doc; exit codes; `python -m chainc`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from chainc.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

GOOD = 'port wan = pcap("w.pcap")\nport lan = pcap(out: "l.pcap")\nwan -> Counter() -> lan\n'
BAD = 'port wan = pcap("w.pcap")\nport lan = pcap(out: "l.pcap")\nwan -> Countr() -> lan\n'


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_prints_ok_with_counts(runner, cwd):
    (cwd / "a.chain").write_text(GOOD)
    result = runner.invoke(main, ["check", "a.chain"])
    assert result.exit_code == 0
    assert result.output == "a.chain: ok (1 NF, 2 edges)\n"


def test_check_reports_errors_in_gcc_layout_and_exits_1(runner, cwd):
    (cwd / "b.chain").write_text(BAD)
    result = runner.invoke(main, ["check", "b.chain"])
    assert result.exit_code == 1
    assert result.output == ("b.chain:3:8: error: unknown NF type 'Countr'\n"
                             "    wan -> Countr() -> lan\n"
                             "           ^^^^^^\n"
                             "hint: did you mean 'Counter'?\n")


def test_check_goes_on_with_the_next_file(runner, cwd):
    (cwd / "a.chain").write_text(GOOD)
    (cwd / "b.chain").write_text(BAD)
    result = runner.invoke(main, ["check", "b.chain", "a.chain"])
    assert result.exit_code == 1
    assert "b.chain:3:8: error" in result.output and "a.chain: ok (1 NF, 2 edges)" in result.output


def test_check_a_missing_file(runner, cwd):
    result = runner.invoke(main, ["check", "nope.chain"])
    assert result.exit_code == 1
    assert result.output == "nope.chain: error: cannot read 'nope.chain': no such file\n"


@pytest.mark.parametrize("args", [[], ["check"], ["graph"], ["frobnicate"], ["check", "--bogus", "x"],
                                  ["fmt"], ["doc"]])
def test_usage_errors_exit_2(runner, args):
    assert runner.invoke(main, args).exit_code == 2


def test_help_texts_teach_by_example(runner):
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0
    assert "chainc check examples/edge.chain" in top.output and "Exit status" in top.output
    for cmd in ("check", "graph", "fmt", "nfs", "doc"):
        sub = runner.invoke(main, [cmd, "--help"])
        assert sub.exit_code == 0 and "Usage:" in sub.output


def test_graph_text_and_json(runner, cwd):
    (cwd / "a.chain").write_text(GOOD)
    text = runner.invoke(main, ["graph", "a.chain"])
    assert text.exit_code == 0
    assert text.output.splitlines() == [
        "chain a (a.chain): 1 NFs, 2 edges",
        "ports:",
        '  wan  pcap(in: "w.pcap")',
        '  lan  pcap(out: "l.pcap")',
        "nodes:",
        "  wan.rx     port wan, receive",
        "  Counter#1  Counter()",
        "  lan.tx     port lan, send",
        "edges:",
        "  wan.rx -> Counter#1",
        "  Counter#1 -> lan.tx",
    ]
    js = runner.invoke(main, ["graph", "--json", "a.chain"])
    assert js.exit_code == 0
    data = json.loads(js.output)
    assert [n["id"] for n in data["nodes"]] == ["wan.rx", "Counter#1", "lan.tx"]
    assert data["edges"] == [
        {"src": "wan.rx", "out_port": "out", "dst": "Counter#1", "in_port": "in"},
        {"src": "Counter#1", "out_port": "out", "dst": "lan.tx", "in_port": "in"}]
    assert data["ports"] == {"wan": {"driver": "pcap", "args": {"in": "w.pcap"}},
                             "lan": {"driver": "pcap", "args": {"out": "l.pcap"}}}
    counter = data["nodes"][1]
    assert counter["span"] == {"file": "a.chain", "line": 3, "col": 8}
    assert counter["kind"] == "nf" and counter["type"] == "Counter" and counter["scope"] == []


def test_graph_json_never_shows_absolute_paths(runner, monkeypatch):
    monkeypatch.chdir(ROOT)
    for path in sorted(EXAMPLES.glob("*.chain")):
        out = runner.invoke(main, ["graph", "--json", str(path.relative_to(ROOT))])
        assert out.exit_code == 0, out.output
        assert str(ROOT) not in out.output
        json.loads(out.output)


def test_graph_of_a_broken_file_exits_1(runner, cwd):
    (cwd / "b.chain").write_text(BAD)
    assert runner.invoke(main, ["graph", "b.chain"]).exit_code == 1


def test_fmt_rewrites_in_place_and_check_and_diff_write_nothing(runner, cwd):
    ugly = "port wan=pcap(\"w.pcap\")\nwan->drop\n"
    pretty = 'port wan = pcap("w.pcap")\nwan -> drop\n'
    (cwd / "u.chain").write_text(ugly)
    checked = runner.invoke(main, ["fmt", "--check", "u.chain"])
    assert checked.exit_code == 1 and "u.chain: would be reformatted" in checked.output
    diff = runner.invoke(main, ["fmt", "--diff", "u.chain"])
    assert diff.exit_code == 0 and "\n-wan->drop\n" in diff.output and "\n+wan -> drop\n" in diff.output
    assert (cwd / "u.chain").read_text() == ugly
    done = runner.invoke(main, ["fmt", "u.chain"])
    assert done.exit_code == 0 and (cwd / "u.chain").read_text() == pretty
    again = runner.invoke(main, ["fmt", "--check", "u.chain"])
    assert again.exit_code == 0 and again.output == ""


def test_fmt_reads_stdin(runner):
    result = runner.invoke(main, ["fmt", "-"], input="a->b\n")
    assert result.exit_code == 0 and result.output == "a -> b\n"


def test_fmt_refuses_a_file_with_syntax_errors(runner, cwd):
    (cwd / "s.chain").write_text("wan ->\n")
    result = runner.invoke(main, ["fmt", "s.chain"])
    assert result.exit_code == 1 and "s.chain:1:7: error: expected an NF" in result.output
    assert (cwd / "s.chain").read_text() == "wan ->\n"


def test_nfs_and_doc(runner):
    listing = runner.invoke(main, ["nfs"])
    assert listing.exit_code == 0 and "Classifier" in listing.output and "NAT" in listing.output
    page = runner.invoke(main, ["doc", "Classifier"])
    assert page.exit_code == 0 and page.output.startswith("# Classifier")
    unknown = runner.invoke(main, ["doc", "Clasifier"])
    assert unknown.exit_code == 1
    assert unknown.output == "chainc: error: unknown NF 'Clasifier'\nhint: did you mean 'Classifier'?\n"


NF_SPEC = '''
from chainc.nfs.spec import NfSpec, ParamSpec
from chainc.values import INT
SPEC = NfSpec(name="Stamp", doc="Stamp packets.", params=(ParamSpec("value", INT, 0),))
'''


def test_nf_path_adds_nfs_for_check_and_doc(runner, cwd):
    (cwd / "mynfs" / "stamp").mkdir(parents=True)
    (cwd / "mynfs" / "stamp" / "spec.py").write_text(NF_SPEC)
    (cwd / "s.chain").write_text('port p = pcap("a.pcap")\np -> Stamp(value: 3) -> drop\n')
    assert runner.invoke(main, ["check", "s.chain"]).exit_code == 1
    assert runner.invoke(main, ["check", "--nf-path", "mynfs", "s.chain"]).exit_code == 0
    assert runner.invoke(main, ["--nf-path", "mynfs", "check", "s.chain"]).exit_code == 0
    assert runner.invoke(main, ["doc", "--nf-path", "mynfs", "Stamp"]).exit_code == 0
    bad = runner.invoke(main, ["check", "--nf-path", "nowhere", "s.chain"])
    assert bad.exit_code == 2  # not a directory: a usage error


def test_a_broken_nf_folder_is_an_error_naming_the_file(runner, cwd):
    (cwd / "bad" / "x").mkdir(parents=True)
    (cwd / "bad" / "x" / "spec.py").write_text("SPEC = 1\n")
    (cwd / "a.chain").write_text(GOOD)
    result = runner.invoke(main, ["check", "--nf-path", "bad", "a.chain"])
    assert result.exit_code == 1 and "spec.py" in result.output and "Traceback" not in result.output


def test_internal_errors_exit_3_with_the_stage(runner, cwd, monkeypatch):
    import chainc.driver as driver

    def broken(c):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(driver, "STAGES", [("parse", driver.stage_parse), ("resolve", broken)])
    (cwd / "a.chain").write_text(GOOD)
    result = runner.invoke(main, ["check", "a.chain"])
    assert result.exit_code == 3
    assert "chainc: internal compiler error in resolve: ZeroDivisionError: oops" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setenv("CHAINC_DEBUG", "1")
    result = runner.invoke(main, ["check", "a.chain"])
    assert result.exit_code == 3 and "Traceback" in result.output


def test_a_new_command_is_one_decorated_function(runner):
    @main.command("hello-test")
    @click.pass_context
    def hello(ctx):
        """Say hello."""
        raise RuntimeError("bug")

    try:
        result = runner.invoke(main, ["hello-test"])
        assert result.exit_code == 3
        assert "internal compiler error in hello-test: RuntimeError: bug" in result.output
    finally:
        main.commands.pop("hello-test")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.chain")), ids=lambda p: p.name)
def test_every_example_checks(runner, path, monkeypatch):
    monkeypatch.chdir(ROOT)
    rel = str(path.relative_to(ROOT))
    result = runner.invoke(main, ["check", rel])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{rel}: ok (") and "warning" not in result.output


def test_python_dash_m_chainc(cwd):
    (cwd / "a.chain").write_text(GOOD)
    proc = subprocess.run([sys.executable, "-m", "chainc", "check", "a.chain"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout == "a.chain: ok (1 NF, 2 edges)\n"
    proc = subprocess.run([sys.executable, "-m", "chainc", "check"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
