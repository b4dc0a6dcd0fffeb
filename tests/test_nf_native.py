"""Native NF bodies, compiled on their own and run against their reference bodies.

Each `native.pxd` is cimported into a small test extension together with the
runtime's `dpdk.pxd` and `meta.pxd`. Frames sit in a fake, single-segment
rte_mbuf whose data ends right before a page mapped PROT_NONE, so a body
that reads past `data_len` faults instead of passing. No EAL is started: the
bodies only touch the mbuf's fields and data.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import Cython
import pytest
from scapy.all import ICMP, IP, TCP, UDP, Dot1Q, Ether, IPv6

from chainc.values import WILDCARD, Block, BlockEntry

from nfhelpers import make_node, packet, reference, stdlib

pytestmark = pytest.mark.dpdk

REPO = Path(__file__).resolve().parent.parent
RUNTIME = REPO / "backends" / "dpdk" / "runtime"
DATA = Path(__file__).parent / "data"

HARNESS = r'''
# cython: language_level=3
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset
from posix.mman cimport mmap, munmap, mprotect, PROT_READ, PROT_WRITE, PROT_NONE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_FAILED
from posix.unistd cimport sysconf, _SC_PAGESIZE
from dpdk cimport rte_mbuf
from meta cimport pkt_meta, meta_parse
from nf_counter cimport counter_state, counter_init, counter_process
from nf_drop cimport drop_process
from nf_macswap cimport macswap_process
from nf_sizefilter cimport sizefilter_state, sizefilter_init, sizefilter_process

{classifier}

cdef counter_state counter_st
cdef sizefilter_state sizefilter_st


def reset():
    counter_init(&counter_st)
    sizefilter_init(&sizefilter_st)


def counters():
    return {{"counter": (counter_st.packets, counter_st.bytes), "sizefilter": sizefilter_st.passed}}


def run(str body, bytes frame):
    """Run one body on a copy of `frame`; returns (result, frame after the body)."""
    cdef size_t n = len(frame)
    cdef size_t page = <size_t>sysconf(_SC_PAGESIZE)
    cdef size_t room = ((n + page - 1) // page) * page
    if room == 0:
        room = page
    cdef uint8_t* region = <uint8_t*>mmap(NULL, room + page, PROT_READ | PROT_WRITE,
                                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if <void*>region == MAP_FAILED:
        raise MemoryError()
    cdef uint8_t* data = region + room - n
    cdef rte_mbuf m
    cdef pkt_meta meta
    cdef int r = -100
    try:
        if n:
            memcpy(data, <const uint8_t*>frame, n)
        mprotect(region + room, page, PROT_NONE)
        memset(&m, 0, sizeof(m))
        m.buf_addr = region
        m.data_off = <uint16_t>(room - n)
        m.data_len = <uint16_t>n
        m.pkt_len = <uint32_t>n
        m.nb_segs = 1
        meta_parse(&meta, data, <uint32_t>n, <uint32_t>n)
        if body == "counter":
            r = counter_process(&counter_st, &m, &meta, 0)
        elif body == "drop":
            r = drop_process(NULL, &m, &meta, 0)
        elif body == "macswap":
            r = macswap_process(NULL, &m, &meta, 0)
        elif body == "sizefilter":
            r = sizefilter_process(&sizefilter_st, &m, &meta, 0, 64, 1514)
{classifier_call}
        return r, (<const uint8_t*>data)[:n]
    finally:
        munmap(region, room + page)
'''


def _dpdk_cflags() -> list[str]:
    if shutil.which("pkg-config") is None or subprocess.run(
            ["pkg-config", "--exists", "libdpdk"]).returncode != 0:
        if os.environ.get("CHAINC_REQUIRE_DPDK") == "1":
            pytest.fail("DPDK development files are missing (apt-get install libdpdk-dev pkg-config)")
        pytest.skip("DPDK development files are not installed")
    out = subprocess.run(["pkg-config", "--cflags", "libdpdk"], capture_output=True, text=True, check=True)
    return out.stdout.split()


def _build(tmp: Path, pyx: str, pxds: dict[str, Path]):
    cflags = _dpdk_cflags()
    key = hashlib.sha256(pyx.encode())
    for name, path in sorted(pxds.items()):
        key.update(name.encode() + path.read_bytes())
    for f in ("dpdk.pxd", "meta.pxd", "flowtable.pxd", "chainc_rt.h"):
        key.update((RUNTIME / f).read_bytes())
    key.update(Cython.__version__.encode() + " ".join(cflags).encode())
    modname = f"nfnative_{key.hexdigest()[:16]}"
    if modname in sys.modules:
        return sys.modules[modname]
    work = tmp / modname
    work.mkdir(parents=True, exist_ok=True)
    target = work / (modname + sysconfig.get_config_var("EXT_SUFFIX"))
    if not target.exists():
        for f in ("dpdk.pxd", "meta.pxd", "flowtable.pxd"):
            shutil.copy(RUNTIME / f, work / f)
        for name, path in pxds.items():
            shutil.copy(path, work / f"{name}.pxd")
        (work / f"{modname}.pyx").write_text(pyx)
        _run([sys.executable, "-m", "cython", "-3", "-I", str(work), "-o", str(work / f"{modname}.c"),
              str(work / f"{modname}.pyx")])
        _run([os.environ.get("CC", "cc"), "-O1", "-fPIC", "-shared", "-w", *cflags,
              f"-I{sysconfig.get_paths()['include']}", f"-I{RUNTIME}", "-o", str(target),
              str(work / f"{modname}.c")])
    spec = importlib.util.spec_from_file_location(modname, target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[modname] = module
    return module


def _run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"


def _pxds():
    reg = stdlib()
    pxds = {f"nf_{n.lower()}": reg.native_pxd(reg.get(n)) for n in ("Counter", "Drop", "MacSwap")}
    pxds["nf_sizefilter"] = DATA / "nfs" / "sizefilter" / "native.pxd"
    return pxds


@pytest.fixture(scope="module")
def ext(tmp_path_factory):
    pyx = HARNESS.format(classifier="", classifier_call="")
    return _build(tmp_path_factory.mktemp("nfnative"), pyx, _pxds())


def frames():
    out = [
        bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(dst="10.0.0.1") / TCP(dport=80)),
        bytes(Ether() / IP(dst="10.0.0.53") / UDP(dport=53) / (b"q" * 40)),
        bytes(Ether() / Dot1Q(vlan=7) / IPv6() / TCP(dport=443) / (b"p" * 1400)),
        bytes(Ether() / IP() / ICMP()),
    ]
    out += [bytes(range(n)) for n in (0, 1, 6, 12, 13, 14, 15, 63, 64)]
    return out


@pytest.mark.parametrize("name", ["counter", "drop", "macswap", "sizefilter"])
def test_native_body_equals_reference_body(ext, name):
    if name == "sizefilter":
        from chainc.nfs.registry import Registry
        reg = Registry.load([DATA / "nfs"])
        node = make_node(reg.get("SizeFilter"), {"min": 64, "max": 1514})
        body = reg.reference_class(node.spec)(node)
    else:
        body = reference(make_node({"counter": "Counter", "drop": "Drop", "macswap": "MacSwap"}[name]))
    ext.reset()
    for frame in frames():
        pkt = packet(frame)
        want = body.process(pkt, 0)
        got, data = ext.run(name, frame)
        assert (got, data) == (want, bytes(pkt.data)), f"{name} on a {len(frame)}-byte frame"
    if name == "counter":
        assert ext.counters()["counter"] == (body.counters["packets"], body.counters["bytes"])
    if name == "sizefilter":
        assert ext.counters()["sizefilter"] == body.counters["passed"]


def test_classifier_generated_body_equals_reference(tmp_path_factory):
    arms = Block((BlockEntry("web", "tcp dst port 80 or tcp dst port 443"),
                  BlockEntry("dns", "udp dst port 53"),
                  BlockEntry("v6", "ip6"),
                  BlockEntry("other", WILDCARD)))
    nodes = {"cls_a": make_node("Classifier", {"arms": arms}),
             "cls_b": make_node("Classifier", {"arms": Block(arms.entries[:2])})}
    code = "\n".join(n.spec.native.generate(n, sym) for sym, n in nodes.items())
    call = "\n".join(f'        elif body == "{sym}":\n            r = {sym}_process(NULL, &m, &meta, 0)'
                     for sym in nodes)
    ext = _build(tmp_path_factory.mktemp("nfcls"), HARNESS.format(classifier=code, classifier_call=call),
                 _pxds())
    for sym, node in nodes.items():
        body = reference(node)
        for frame in frames():
            want = body.process(packet(frame), 0)
            got, data = ext.run(sym, frame)
            assert got == want and data == frame, f"{sym} on {frame[:40].hex()}"
