"""The Firewall's native body (rte_acl) against its reference body, without building chains.

`native.pxd` is cimported into a small test extension that builds the ACL
contexts from compiled rules at run time and classifies frames, so one
compile serves many rule sets. rte_acl needs DPDK's EAL (its contexts live
in EAL memory), so the extension runs in a child process that starts the
EAL with --no-huge; the child gets rule sets and frames, and returns the
body's return codes and counters. Only frames with a valid IPv4 or IPv6
header reach the ACL; the generated code that decides the others is
covered by the chain tests in native/test_firewall.py.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import shutil
import struct
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

import Cython
import pytest

from chainc.backends.dpdk import runner

from nfhelpers import packet, reference, validate
from test_nf_firewall import (CLASSBENCH, FIREWALL, acl, classbench_file, firewall, random_frames,
                              random_rule_text, spec_mod)

pytestmark = pytest.mark.dpdk

REPO = Path(__file__).resolve().parent.parent
RUNTIME = REPO / "backends" / "dpdk" / "runtime"

HARNESS = r'''
# cython: language_level=3
from libc.stdint cimport uint8_t, uint32_t
from libc.stdlib cimport malloc, free
from dpdk cimport rte_eal_init, rte_eal_cleanup
from meta cimport pkt_meta, meta_parse, META_L3_IPV4, META_L3_IPV6
from nf_firewall cimport firewall_state, firewall_init, firewall_free, firewall_classify

cdef firewall_state st


def eal_init(list args):
    cdef int argc = len(args)
    cdef char** argv = <char**>malloc(sizeof(char*) * (argc + 1))
    keep = [a.encode() for a in args]
    for i in range(argc):
        argv[i] = keep[i]
    argv[argc] = NULL
    rc = rte_eal_init(argc, argv)
    free(argv)
    return rc


def eal_cleanup():
    rte_eal_cleanup()


def load(list rules, list counts, list layouts, int default_code, bytes name):
    """Build the four contexts from packed entries (bytes), in FIREWALL_CONTEXTS order."""
    cdef const uint32_t* r[4]
    cdef uint32_t n[4]
    cdef int lay[4]
    cdef int failed = -1
    for i in range(4):
        r[i] = <const uint32_t*><const char*>rules[i]
        n[i] = counts[i]
        lay[i] = layouts[i]
    rc = firewall_init(&st, r, n, lay, default_code, name, &failed)
    return rc, failed


def unload():
    firewall_free(&st)


def classify(list frames):
    """The body's return code for each frame with a valid IP header, None for the others."""
    cdef pkt_meta meta
    cdef const uint8_t* data
    out = []
    for frame in frames:
        data = frame
        meta_parse(&meta, data, len(frame), len(frame))
        if meta.flags & (META_L3_IPV4 | META_L3_IPV6):
            out.append(firewall_classify(&st, &meta))
        else:
            out.append(None)
    return out, (st.matched, st.unmatched)
'''

CHILD = r'''
import pickle, sys
sys.path.insert(0, sys.argv[1])
import fwharness as h
job = pickle.load(open(sys.argv[2], "rb"))
rc = h.eal_init(job["eal"])
if rc < 0:
    sys.exit(f"rte_eal_init failed: {rc}")
results = []
for i, (rules, counts, layouts, default_code, frames) in enumerate(job["sets"]):
    rc, failed = h.load(rules, counts, layouts, default_code, b"fwt%d" % i)
    if rc != 0:
        results.append(("error", rc, failed))
        continue
    results.append(h.classify(frames))
    h.unload()
pickle.dump(results, open(sys.argv[3], "wb"))
h.eal_cleanup()
'''


def _dpdk(flag: str) -> list[str]:
    if shutil.which("pkg-config") is None or subprocess.run(
            ["pkg-config", "--exists", "libdpdk"]).returncode != 0:
        if os.environ.get("CHAINC_REQUIRE_DPDK") == "1":
            pytest.fail("DPDK development files are missing (apt-get install libdpdk-dev pkg-config)")
        pytest.skip("DPDK development files are not installed")
    out = subprocess.run(["pkg-config", flag, "libdpdk"], capture_output=True, text=True, check=True)
    return out.stdout.split()


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Path:
    """The directory holding the built `fwharness` extension."""
    cflags, libs = _dpdk("--cflags"), _dpdk("--libs")
    pxd = FIREWALL.folder / "native.pxd"
    key = hashlib.sha256(HARNESS.encode() + pxd.read_bytes() + Cython.__version__.encode()
                         + " ".join(cflags + libs).encode())
    for f in ("dpdk.pxd", "meta.pxd", "chainc_rt.h"):
        key.update((RUNTIME / f).read_bytes())
    work = tmp_path_factory.mktemp("fwharness") / key.hexdigest()[:16]
    work.mkdir()
    for f in ("dpdk.pxd", "meta.pxd", "chainc_rt.h"):
        shutil.copy(RUNTIME / f, work / f)
    shutil.copy(pxd, work / "nf_firewall.pxd")
    (work / "fwharness.pyx").write_text(HARNESS)
    _run([sys.executable, "-m", "cython", "-3", "-I", str(work), "-o", str(work / "fwharness.c"),
          str(work / "fwharness.pyx")])
    _run([os.environ.get("CC", "cc"), "-O2", "-fPIC", "-shared", "-w", *cflags,
          f"-I{sysconfig.get_paths()['include']}", f"-I{work}", "-o",
          str(work / ("fwharness" + sysconfig.get_config_var("EXT_SUFFIX"))), str(work / "fwharness.c"),
          *libs])
    return work


def _pack(entries) -> bytes:
    return b"".join(struct.pack(f"<{len(e)}I", *e) for e in entries)


def run_native(harness: Path, tmp: Path, sets: list[tuple]) -> list:
    """Classify each (program, frames) pair in one child process with the EAL started."""
    prefix = f"fwtest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    job = {"eal": ["fwtest", "-l", "0", "--no-huge", "-m", "512", "--no-shconf", "--file-prefix", prefix,
                   "--no-pci", "--no-telemetry", "--log-level=error"],
           "sets": [([_pack(p.entries[ctx]) for ctx in acl.CONTEXTS], [len(p.entries[ctx]) for ctx in acl.CONTEXTS],
                     [p.layouts[ctx] for ctx in acl.CONTEXTS], p.default_code, frames) for p, frames in sets]}
    job_path, out_path = tmp / "job.pickle", tmp / "out.pickle"
    job_path.write_bytes(pickle.dumps(job))
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(harness), str(job_path), str(out_path)],
                              capture_output=True, text=True, timeout=300)
    finally:
        for d in runner.runtime_dirs(prefix):
            shutil.rmtree(d, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return pickle.loads(out_path.read_bytes())


def check(node, frames, result) -> int:
    """Compare the native codes and counters with the reference body; return how many were IP."""
    assert result[0] != "error", f"firewall_init failed: {result}"
    codes, (matched, unmatched) = result
    body = reference(node)
    n = 0
    for frame, got in zip(frames, codes):
        want = body.process(packet(frame), 0)
        if got is not None:
            assert got == want, f"{frame.hex()}: native {got}, reference {want}"
            n += 1
    ip_only = reference(node)
    for frame, got in zip(frames, codes):
        if got is not None:
            ip_only.process(packet(frame), 0)
    assert (matched, unmatched) == (ip_only.counters["matched"], ip_only.counters["unmatched"])
    return n


def test_random_rule_sets_native_equals_reference(harness, tmp_path):
    """20 random rule sets (IPv4 and IPv6, every primitive, `not`/`or`) x 500 random frames."""
    rng = random.Random(2024)
    frames = random_frames(rng, 500)
    nodes, sets = [], []
    for i in range(20):
        node = firewall(tmp_path, random_rule_text(rng, rng.randrange(1, 40)), name=f"r{i}.acl",
                        default=rng.choice(["allow", "deny"]), denied=rng.choice(["drop", "output"]))
        assert not validate(node).errors
        nodes.append(node)
        sets.append((spec_mod.compiled(node), frames))
    results = run_native(harness, tmp_path, sets)
    total = sum(check(node, frames, r) for node, r in zip(nodes, results))
    assert total > 20 * 400  # most frames are IP


def classbench_trace(rules, rng: random.Random, n: int) -> list[bytes]:
    """Frames with headers drawn inside filters picked at random, as ClassBench's trace generator."""
    from scapy.all import ICMP, IP, TCP, UDP, Ether

    frames = []
    for _ in range(n):
        r = rng.choice(rules)
        src = r.src.network_address + rng.randrange(r.src.num_addresses)
        dst = r.dst.network_address + rng.randrange(r.dst.num_addresses)
        value, mask = r.proto
        proto = value if mask else rng.choice([6, 17])
        sport, dport = rng.randint(*r.sport), rng.randint(*r.dport)
        l4 = TCP(sport=sport, dport=dport) if proto == 6 else UDP(sport=sport, dport=dport) \
            if proto == 17 else ICMP()
        frames.append(bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                            / IP(src=str(src), dst=str(dst)) / l4))
    return frames


def test_classbench_rule_set_native_equals_reference(harness, tmp_path):
    path = classbench_file()
    rng = random.Random(7)
    from test_nf_firewall import rules_mod
    rules, _ = rules_mod.parse_classbench(path.read_text())
    frames = classbench_trace(rules, rng, 1500) + random_frames(rng, 200)
    node = firewall(tmp_path, path.read_text(), name="acl1.rules", format="classbench")
    result, = run_native(harness, tmp_path, [(spec_mod.compiled(node), frames)])
    assert check(node, frames, result) > 1500
    matched, unmatched = result[1]
    assert matched > 1400  # the trace hits its filters


def test_an_impossible_context_fails_cleanly(harness, tmp_path):
    """A build error comes back as a negative errno and the failing family, not a crash."""
    node = firewall(tmp_path, "allow tcp\n")
    prog = spec_mod.compiled(node)
    bad = acl.Program(entries={ctx: list(prog.entries[ctx]) for ctx in acl.CONTEXTS}, layouts=prog.layouts)
    bad.entries[6, True] = [(0, 17) + prog.entries[6, True][0][2:]]  # priority 0 is invalid
    result, = run_native(harness, tmp_path, [(bad, [])])
    assert result[0] == "error" and result[1] < 0 and result[2] == 2  # the IPv6 (L4) context
    assert CLASSBENCH.name == "acl1_2572.rules"
