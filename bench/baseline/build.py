"""Build the hand-written C baseline (chainc-baseline) for the benchmarks.

    from bench.baseline.build import build_baseline, baseline_command
    exe = build_baseline(out_dir)                  # compiles once, then cached
    cmd = baseline_command(exe, "x.pcap", seconds=3, mode="classify")

or from a shell:  python3 bench/baseline/build.py OUT_DIR

The compiler flags are the ones chainc uses for its generated binaries:
``cc -O3 $(pkg-config --cflags libdpdk) ... $(pkg-config --libs libdpdk)``.
A build is reused when the source, the flags and the compiler are unchanged
(a hash of them is stored next to the binary).
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "baseline.c"
EXE_NAME = "chainc-baseline"
OPT_FLAGS = ["-O3", "-g"]
WARN_FLAGS = ["-Wall", "-Wextra", "-Wno-unused-parameter"]


class BaselineBuildError(RuntimeError):
    pass


def _pkg_config(*args: str) -> list[str]:
    pc = os.environ.get("PKG_CONFIG", "pkg-config")
    if shutil.which(pc) is None:
        raise BaselineBuildError(f"{pc} not found: install pkg-config and libdpdk-dev")
    try:
        out = subprocess.run([pc, *args, "libdpdk"], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as e:
        raise BaselineBuildError(f"pkg-config libdpdk failed: {e.stderr.strip()} "
                                 "(is libdpdk-dev installed?)") from e
    return shlex.split(out.stdout)


def compile_command(out: Path, cc: str | None = None,
                    extra_cflags: Sequence[str] = ()) -> list[str]:
    cc = cc or os.environ.get("CC", "cc")
    return [cc, *OPT_FLAGS, *WARN_FLAGS, *_pkg_config("--cflags"), *extra_cflags,
            "-o", str(out), str(SOURCE), *_pkg_config("--libs")]


def build_baseline(out_dir: Path | str, cc: str | None = None,
                   extra_cflags: Sequence[str] = (), force: bool = False) -> Path:
    """Compile baseline.c into ``out_dir/chainc-baseline`` and return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / EXE_NAME
    cmd = compile_command(exe, cc, extra_cflags)
    cc_path = shutil.which(cmd[0])
    if cc_path is None:
        raise BaselineBuildError(f"C compiler {cmd[0]!r} not found")
    key = hashlib.sha256()
    key.update(SOURCE.read_bytes())
    key.update(json.dumps(cmd[:-1] + [cc_path]).encode())
    digest = key.hexdigest()
    stamp = out_dir / (EXE_NAME + ".buildhash")
    if not force and exe.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return exe
    tmp = out_dir / (EXE_NAME + ".tmp")
    cmd[cmd.index("-o") + 1] = str(tmp)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BaselineBuildError("building the C baseline failed:\n" + shlex.join(cmd) +
                                 "\n" + proc.stderr)
    tmp.replace(exe)
    stamp.write_text(digest + "\n")
    return exe


def baseline_command(exe: Path | str, rx_pcap: Path | str, seconds: float = 3.0,
                     mode: str = "fwd", lcore: int = 0, burst: int = 32,
                     memory_mb: int = 512, extra_eal: Sequence[str] = ()) -> list[str]:
    """The command line for one run over a pcap replayed forever into net_null.

    ``--no-huge`` implies DPDK's legacy memory mode, which 22.11 refuses to
    combine with ``--in-memory``; ``--no-shconf`` gives the same isolation
    (no shared runtime files), so parallel runs never collide.
    """
    return [str(exe), "--no-huge", "-m", str(memory_mb), "--no-pci", "--no-shconf",
            "--no-telemetry", "-l", str(lcore), "--log-level", "lib.eal:warning", *extra_eal,
            "--vdev", f"net_pcap0,rx_pcap={rx_pcap},infinite_rx=1",
            "--vdev", "net_null0",
            "--", "--rx", "net_pcap0", "--tx", "net_null0",
            "--seconds", str(seconds), "--mode", mode, "--burst", str(burst)]


def run_baseline(exe: Path | str, rx_pcap: Path | str, seconds: float = 3.0,
                 mode: str = "fwd", **kw) -> dict:
    """Run once and return the JSON result (the last line of stdout)."""
    cmd = baseline_command(exe, rx_pcap, seconds, mode, **kw)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"baseline run failed ({proc.returncode}): {shlex.join(cmd)}\n"
                           f"{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: build.py OUT_DIR", file=sys.stderr)
        return 2
    try:
        print(build_baseline(args[0]))
    except BaselineBuildError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
