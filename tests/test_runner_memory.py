"""The EAL memory `chainc run` gives a binary: enough for the frames an endless
replay keeps in mbufs, whatever the size of the capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainc.backends.dpdk import runner
from chainc.driver import load_chain
from chainc.pcapfile import read_pcap, write_pcap

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SAMPLE = EXAMPLES / "traffic" / "sample.pcap"


@pytest.fixture(scope="module")
def quickstart():
    return load_chain(str(EXAMPLES / "quickstart.chain")).graph


def memory_of(cmd: list[str]) -> int:
    return int(cmd[cmd.index("-m") + 1])


@pytest.mark.parametrize("frames, megabytes", [(0, 512), (12_184, 512 + 32768 * 4096 // 2**20),
                                               (97_472, 512 + 131072 * 4096 // 2**20)])
def test_replay_memory_takes_a_page_per_mbuf_of_the_pool(frames, megabytes):
    assert runner.replay_memory_mb(frames) == megabytes


def test_an_endless_replay_of_a_large_capture_gets_the_memory_it_needs(quickstart, tmp_path):
    frames = read_pcap(SAMPLE)
    large = tmp_path / "large.pcap"
    write_pcap(large, [p for _ in range(8) for p in frames])
    opts = runner.RunOptions(inputs={"wan": str(large)}, infinite=True, duration=1.0)
    cmd = runner.command(Path("chain-bin"), quickstart, opts, "p")
    assert memory_of(cmd) == runner.replay_memory_mb(8 * len(frames)) > runner.BASE_MEMORY_MB


def test_the_chain_files_default_input_counts_too(quickstart):
    """quickstart.chain binds wan to examples/traffic/sample.pcap itself."""
    cmd = runner.command(Path("chain-bin"), quickstart, runner.RunOptions(infinite=True, duration=1.0), "p")
    assert memory_of(cmd) == runner.replay_memory_mb(len(read_pcap(SAMPLE)))


def test_a_single_pass_streams_its_input_and_needs_no_more(quickstart, tmp_path):
    opts = runner.RunOptions(inputs={"wan": str(SAMPLE)})
    assert memory_of(runner.command(Path("chain-bin"), quickstart, opts, "p")) == runner.BASE_MEMORY_MB


def test_memory_given_is_memory_taken(quickstart):
    opts = runner.RunOptions(inputs={"wan": str(SAMPLE)}, infinite=True, duration=1.0, memory_mb=3000)
    assert memory_of(runner.command(Path("chain-bin"), quickstart, opts, "p")) == 3000


def test_an_unreadable_input_is_left_for_the_binary_to_name(quickstart, tmp_path):
    opts = runner.RunOptions(inputs={"wan": str(tmp_path / "missing.pcap")}, infinite=True, duration=1.0)
    assert memory_of(runner.command(Path("chain-bin"), quickstart, opts, "p")) == runner.BASE_MEMORY_MB
