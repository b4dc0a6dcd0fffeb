"""`chainc plan` from the command line, and the optimiser options of build and run."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from chainc.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_plan_prints_stages_rings_rss_predictions_and_every_decision_with_its_line():
    result = invoke("plan", str(EXAMPLES / "stateful_firewall.chain"), "--cores", "0-1")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "stage 0  cores 0-1 (2 replicas)" in out
    assert "port capture, 2 RSS queues, headers parsed: L4 (TCP/UDP/ICMP)" in out
    assert "  capture: 2 queues, symmetric Toeplitz key (6d5a repeated)" in out
    assert "rings: none" in out and "predicted: " in out and "bottleneck: stage 0" in out
    lines = out.splitlines()
    i = next(k for k, line in enumerate(lines) if "replicate-stages:" in line)
    assert lines[i].startswith(f"  {EXAMPLES / 'stateful_firewall.chain'}:17: replicate-stages: ")
    assert lines[i + 1].strip() == 'port capture = pcap("traffic/sample.pcap")'


def test_plan_as_json():
    result = invoke("plan", str(EXAMPLES / "edge.chain"), "--cores", "0-7", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert [s["cores"] for s in plan["stages"]] == [[0], [1]]
    assert plan["rings"][0]["src"] == "cls" and plan["bottleneck"] == 0
    assert plan["parse_depth"] == {"wan": "L4"}
    assert any(d["pass"] == "fuse-stages" and d["source"].endswith("edge.chain:21")
               for d in plan["decisions"])


def test_replicating_global_state_is_an_error_at_the_hint(tmp_path):
    chain = tmp_path / "rl.chain"
    chain.write_text('port a = pcap("in.pcap")\nport b = pcap(out: "o.pcap")\n'
                     "a -> RateLimiter(rate: 1Gbps) @replicas(2) -> b\n")
    for command in ("plan", "build"):
        result = invoke(command, str(chain), "--cores", "0-1")
        assert result.exit_code == 1
        assert f"{chain}:3:31: error: cannot replicate RateLimiter 'RateLimiter#1': its state " \
               "is global" in result.output
        assert "Traceback" not in result.output


def test_hints_the_plan_cannot_follow_are_warned_at_their_line(tmp_path):
    chain = tmp_path / "h.chain"
    chain.write_text('port a = pcap("in.pcap")\nport b = pcap(out: "o.pcap")\n'
                     "a -> Counter() @core(5) -> b\n")
    result = invoke("plan", str(chain), "--cores", "0-1")
    assert result.exit_code == 0
    assert f"{chain}:3:16: warning: @core(5) of 'Counter#1' is not honoured: only 2 core(s) " \
           "were given" in result.output


def test_bad_options_are_usage_errors(tmp_path):
    chain = str(EXAMPLES / "quickstart.chain")
    result = invoke("plan", chain, "--cores", "2-1")
    assert result.exit_code == 2 and "not a range of core numbers" in result.output
    result = invoke("plan", chain, "--disable-pass", "verify")
    assert result.exit_code == 2 and "cannot be switched off" in result.output
    bad = tmp_path / "bad.profile"
    bad.write_text("[]")
    result = invoke("plan", chain, "--profile", str(bad))
    assert result.exit_code == 1 and "not a chainc profile" in result.output


def test_build_and_run_take_the_optimiser_options():
    for command in ("build", "run"):
        result = invoke(command, "--help")
        assert "--cores LIST" in result.output and "--profile FILE" in result.output
        assert "--disable-pass PASS" in result.output
