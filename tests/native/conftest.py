"""Fixtures for tests that build and run native binaries with DPDK.

Where DPDK's development files are missing these tests skip, except when
CHAINC_REQUIRE_DPDK=1 (CI), where a missing DPDK fails them: a skip there
would hide a broken build.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from chainc.backends.dpdk import build as dpdk_build
from chainc.backends.dpdk import runner


def _dpdk_available() -> bool:
    if shutil.which("pkg-config") is None:
        return False
    return subprocess.run(["pkg-config", "--exists", "libdpdk"]).returncode == 0


@pytest.fixture(scope="session", autouse=True)
def require_dpdk():
    if not _dpdk_available():
        if os.environ.get("CHAINC_REQUIRE_DPDK") == "1":
            pytest.fail("DPDK development files are missing (apt-get install libdpdk-dev pkg-config)")
        pytest.skip("DPDK development files are not installed")


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("chainc-cache")


@dataclass
class NativeRun:
    proc: subprocess.CompletedProcess
    stats: dict
    outputs: dict[str, Path]


@pytest.fixture
def native(build_cache, tmp_path):
    """Build a chain (cached for the session) and run it over pcap files."""

    def run_chain(graph, inputs: dict[str, Path], output_ports: list[str],
                  **options) -> NativeRun:
        result = dpdk_build.build(graph, cache_dir=build_cache)
        outputs = {p: tmp_path / f"out-{p}.pcap" for p in output_ports}
        stats_path = tmp_path / "stats.json"
        opts = runner.RunOptions(inputs={k: str(v) for k, v in inputs.items()},
                                 outputs={k: str(v) for k, v in outputs.items()},
                                 stats_json=str(stats_path), quiet=True, **options)
        proc = runner.run(result.binary, graph, opts, capture=True, timeout=180)
        assert proc.returncode == 0, f"binary failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        return NativeRun(proc, json.loads(stats_path.read_text()), outputs)

    return run_chain
