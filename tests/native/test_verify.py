"""`chainc verify`: the native binary against `chainc sim`, packet by packet, and
the first difference isolated to one input packet with a pcap that reproduces it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from malformed import eth, ipv4, write_corpus

from chainc.pcapfile import read_pcap

from .chains import write_frames
from .faulty import FAULT_NFS, faulty_chain

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def chainc(*args: str, cache: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CHAINC_CACHE=str(cache))
    return subprocess.run([sys.executable, "-m", "chainc", *args], capture_output=True, text=True,
                          env=env, timeout=600)


def frame(length: int) -> bytes:
    """A TCP/IPv4 frame of `length` bytes (at least 61, so Fault(overread) stays in bounds)."""
    return eth(0x0800, ipv4(6, bytes(length - 34)))


def ordinary(count: int) -> list[int]:
    """Frame lengths that are never 3 mod 5, so Skew's reference passes them."""
    return [(100, 101, 102, 104)[i % 4] for i in range(count)]


def verify_faulty(tmp_path: Path, frames: list[bytes], build_cache: Path, after: int = 0):
    chain = tmp_path / "faulty.chain"
    chain.write_text(faulty_chain(after))
    pcap = write_frames(tmp_path / "traffic.pcap", frames)
    return chainc("verify", "--nf-path", str(FAULT_NFS), str(chain), "--in", f"wan={pcap}",
                  "--sanitize", "--repro-dir", str(tmp_path / "repro"), cache=build_cache)


def test_native_and_sim_agree_on_the_malformed_corpus(tmp_path, build_cache):
    corpus = write_corpus(tmp_path / "corpus.pcap")
    proc = chainc("verify", str(EXAMPLES / "quickstart.chain"), "--in", f"wan={corpus}",
                  cache=build_cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "native and sim agree" in proc.stdout and "lan 80" in proc.stdout


def test_the_first_difference_is_isolated_to_its_packet(tmp_path, build_cache):
    lengths = ordinary(120)
    lengths[37] = 103  # Skew's reference drops it
    proc = verify_faulty(tmp_path, [frame(n) for n in lengths], build_cache)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    out = proc.stdout
    assert "after 38 input packet(s); the last of them is packet 37 of port wan" in out
    assert "output:  port lan, packet 37" in out and "sim    (no packet)" in out
    assert "native: wan.rx -> cls [rest] -> Fault#2 -> Skew#1 -> lan.tx" in out
    assert "sim:    wan.rx -> cls [rest] -> Fault#2 -> Skew#1 (dropped: skewed)" in out
    repro = tmp_path / "repro" / "faulty-repro-wan.pcap"
    assert [p.data for p in read_pcap(str(repro))] == [frame(103)]
    assert f"--in wan={repro}" in out
    again = chainc("verify", "--nf-path", str(FAULT_NFS), str(tmp_path / "faulty.chain"),
                   "--in", f"wan={repro}", "--sanitize", "--repro-dir", str(tmp_path), cache=build_cache)
    assert again.returncode == 4 and "packet 0 of port wan" in again.stdout


def test_a_difference_that_needs_earlier_packets_reproduces_with_them(tmp_path, build_cache):
    lengths = ordinary(90)
    lengths[10] = lengths[70] = 103  # the sim's Skew drops only after 50 packets: packet 70
    proc = verify_faulty(tmp_path, [frame(n) for n in lengths], build_cache, after=50)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "packet 70 of port wan" in proc.stdout
    assert "the difference needs the packets before it" in proc.stdout
    repro = read_pcap(str(tmp_path / "repro" / "faulty-repro-wan.pcap"))
    assert [p.data for p in repro] == [frame(n) for n in lengths[:71]]


def test_the_packet_behind_a_sanitizer_report_is_isolated(tmp_path, build_cache):
    frames = [frame(n) for n in ordinary(64)]
    frames[23] = frame(100)[:44]  # Fault(overread) reads byte 60 of it
    proc = verify_faulty(tmp_path, frames, build_cache)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "packet 23 of port wan" in proc.stdout
    assert "exited with status 70" in proc.stdout and "AddressSanitizer" in proc.stdout
    repro = read_pcap(str(tmp_path / "repro" / "faulty-repro-wan.pcap"))
    assert [p.data for p in repro] == [frames[23]]


def test_bad_inputs_are_clear_errors(tmp_path, build_cache):
    proc = chainc("verify", str(EXAMPLES / "quickstart.chain"), "--in", "nope=x.pcap",
                  cache=build_cache)
    assert proc.returncode == 1 and "no input port 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr
    # Inputs received on two cores have no one order: refused before anything is built.
    sample = EXAMPLES / "traffic" / "malformed.pcap"
    (tmp_path / "two.chain").write_text(
        f'port a = pcap("{sample}")\nport b = pcap("{sample}")\nport x = pcap(out: "x.pcap")\n'
        "a -> Counter() -> x\nb -> Counter() @core(1) -> x\n")
    proc = chainc("verify", str(tmp_path / "two.chain"), cache=tmp_path / "no-cache")
    assert proc.returncode == 1 and "received on one core" in proc.stderr
    assert not (tmp_path / "no-cache").exists()
