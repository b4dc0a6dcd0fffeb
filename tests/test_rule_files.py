"""A rule, route or signature file that is missing or broken stops `chainc build`
(and `check`, `sim`) before anything runs, with a message naming the file and
line, exit code 1 and no traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from chainc.cli import main

CASES = {
    "Firewall": ('Firewall(rules: "{file}")', "allow tcp dst port eighty\n", 1),
    "Router": ('Router(routes: "{file}")', "10.0.0.0/8  lan\n10.0.0.0/33  lan\n", 2),
    "IDS": ('IDS(rules: "{file}")',
            'alert tcp any any -> any 80 (msg:"ok"; content:"x"; sid:1;)\n'
            'alert tcp any any -> any 80 (msg:"no sid"; content:"y";)\n', 2),
}


def _chain(tmp_path, nf: str, file: str) -> str:
    call = CASES[nf][0].format(file=file)
    text = f'port wan = pcap("in.pcap")\nport lan = pcap(out: "o.pcap")\nnf x = {call}\nwan -> x\n'
    if nf == "Router":
        text += "x.lan -> lan\n"
    else:
        text += "x -> lan\n"
    (tmp_path / "c.chain").write_text(text)
    return str(tmp_path / "c.chain")


@pytest.mark.parametrize("command", ["build", "check"])
@pytest.mark.parametrize("nf", sorted(CASES))
def test_a_missing_file_stops_with_its_name(tmp_path, monkeypatch, nf, command):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, [command, _chain(tmp_path, nf, "rules/none.txt")])
    assert result.exit_code == 1, result.output
    assert "c.chain:3:" in result.output and "rules/none.txt" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "c").exists()  # nothing was built


@pytest.mark.parametrize("nf", sorted(CASES))
def test_a_broken_file_stops_at_the_broken_line(tmp_path, monkeypatch, nf):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules.txt").write_text(CASES[nf][1])
    result = CliRunner().invoke(main, ["build", _chain(tmp_path, nf, "rules.txt")])
    assert result.exit_code == 1, result.output
    assert f"rules.txt:{CASES[nf][2]}:" in result.output, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "c").exists()
