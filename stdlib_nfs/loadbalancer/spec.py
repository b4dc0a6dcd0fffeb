"""LoadBalancer: an L4 load balancer with Maglev consistent hashing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from chainc.nfs.spec import REQUIRED, NativeBody, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import check_int_range, check_positive, dur, param_span, runtime_path
from chainc.values import DURATION, INT, IP, PATH, ListOf

if TYPE_CHECKING:
    from chainc.diagnostics import Reporter
    from chainc.ir.graph import NfNode

MAX_BACKENDS = 4096
MAX_TABLE_SIZE = 16777259  # the first prime above 2^24
MAX_FLOWS = 1 << 26


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


def validate(node: "NfNode", reporter: "Reporter") -> None:
    vip = node.params.get("vip")
    backends = node.params.get("backends") or ()
    for b in backends:
        if vip is not None and b.version != vip.version:
            reporter.error(f"backend {b} is IPv{b.version} but the vip is IPv{vip.version}",
                           param_span(node, "backends"))
            break
    dupes = sorted({str(b) for b in backends if list(backends).count(b) > 1})
    if dupes:
        reporter.error(f"duplicate backend(s): {', '.join(dupes)}", param_span(node, "backends"))
    if len(backends) > MAX_BACKENDS:
        reporter.error(f"at most {MAX_BACKENDS} backends, got {len(backends)}", param_span(node, "backends"))
    down = node.params.get("down") or ()
    for b in down:
        if b not in backends:
            reporter.error(f"'down' names {b}, which is not one of the backends",
                           param_span(node, "down"), hint="list backends in `backends`; `down` marks some of them")
            break
    check_int_range(node, "port", 0, 65535, reporter)
    check_int_range(node, "flows", 8, MAX_FLOWS, reporter)
    check_positive(node, ("timeout",), reporter)
    size = node.params.get("table_size")
    if isinstance(size, int):
        if size > MAX_TABLE_SIZE:
            reporter.error(f"'table_size' must be at most {MAX_TABLE_SIZE}, got {size}",
                           param_span(node, "table_size"))
        elif not _is_prime(size):
            reporter.error(f"'table_size' must be a prime number, got {size}", param_span(node, "table_size"),
                           hint="Maglev needs a prime table size, e.g. 65537 or 655373")
        elif size < 100 * max(1, len(backends)):
            reporter.warning(f"'table_size' {size} is small for {len(backends)} backends; load will "
                             f"be uneven", param_span(node, "table_size"),
                             hint="use a prime at least 100 times the number of backends")


def _c_bytes(data: bytes) -> str:
    return ", ".join(str(b) for b in data) or "0"


def generate(node: "NfNode", sym: str) -> str:
    """The instance's backends and vip as constant arrays, its init, finish and process."""
    p = node.params
    vip, backends = p["vip"], list(p["backends"])
    down = set(p.get("down") or ())
    family = vip.version
    addrs = b"".join(b.packed.ljust(16, b"\0") for b in backends)
    up = bytes(b not in down for b in backends)
    hi, lo = (int(vip), 0) if family == 4 else (int(vip) >> 64, int(vip) & (2**64 - 1))
    who = json.dumps(f"LoadBalancer '{node.id}'")
    affinity = runtime_path(node, "affinity")
    load = save = ""
    if affinity is not None:
        load = f"""
    path = chain_path({json.dumps(affinity)})
    if loadbalancer_load(st, os.fsencode(path), {family}, {sym}_up, err, sizeof(err)) < 0:
        raise StartupError({who} + f": affinity file {{path}}: {{err.decode()}}")"""
        save = f"""
    path = chain_path({json.dumps(affinity)})
    if loadbalancer_save(st, os.fsencode(path), {family}) < 0:
        raise StartupError({who} + f": cannot write the affinity file {{path}}")"""
    return f'''\
# LoadBalancer {sym}: {len(backends)} backends ({len(down)} down), Maglev table of {p["table_size"]}
import os
from libc.stdint cimport uint8_t

cdef extern from *:
    """
    static const uint8_t {sym}_addrs[] = {{{_c_bytes(addrs)}}};
    static const uint8_t {sym}_up[] = {{{_c_bytes(up)}}};
    static const uint8_t {sym}_vip[16] = {{{_c_bytes(vip.packed)}}};
    """
    const uint8_t* {sym}_addrs
    const uint8_t* {sym}_up
    const uint8_t* {sym}_vip


cdef int {sym}_init(loadbalancer_state* st) except -1:
    cdef char err[200]
    cdef int rc = loadbalancer_setup(st, {sym}_addrs, {sym}_up, {len(backends)}, {family},
                                     {p["table_size"]}u, {p["flows"]}u, {p["timeout"].nanoseconds}ULL,
                                     b"chainc_lb_{sym}")
    if rc < 0:
        raise StartupError({who} + f": cannot create its tables: {{rte_strerror(-rc).decode()}}"){load}
    return 0


cdef int {sym}_finish(loadbalancer_state* st) except -1:{save}
    loadbalancer_free(st)
    return 0


cdef inline int {sym}_process(loadbalancer_state* st, rte_mbuf* m, pkt_meta* meta,
                              int in_port) noexcept nogil:
    return loadbalancer_process(st, m, meta, in_port, {family}, {hi}ULL, {lo}ULL, {sym}_vip,
                                {p["port"]}, {p["table_size"]}u)
'''


SPEC = NfSpec(
    name="LoadBalancer",
    doc="L4 load balancer: spread flows to a virtual IP over backends by Maglev hashing.",
    params=(
        ParamSpec("vip", IP, REQUIRED, "The virtual IP address clients connect to."),
        ParamSpec("backends", ListOf(IP, 1), REQUIRED, "The real servers' addresses."),
        ParamSpec("port", INT, 0, "Only balance this destination port of the vip (0: any port)."),
        ParamSpec("table_size", INT, 65537,
                  "Size of the Maglev lookup table; a prime well above 100 x backends."),
        ParamSpec("down", ListOf(IP), (), "Backends marked down at start: they get no flows."),
        ParamSpec("flows", INT, 65536, "Capacity of the affinity table, in flows."),
        ParamSpec("timeout", DURATION, dur("300s"),
                  "A flow idle for longer than this is forgotten."),
        ParamSpec("affinity", PATH, None,
                  "Load the affinity table from this file at start and save it there at exit, "
                  "so flows keep their backend across restarts (unset: not kept)."),
    ),
    inputs=("in",),
    outputs=("out",),
    state=StateKind.PER_FLOW,
    state_key="5-tuple",
    reads=("eth.type", "ip.src", "ip.dst", "ip.proto", "l4.sport", "l4.dport"),
    writes=("ip.src", "ip.dst", "ip.checksum", "l4.checksum"),
    cycles=280,  # bench/bench_lb_ids.py: udp64, 10,000 flows (370 on imix, 730 with 1,000,000 flows)
    side_effects=True,  # the affinity file and its counters
    drop_reasons=("no-backend",),
    description=(
        "Theory of operation. A packet to `vip` (and to `port`, when it is not 0) is sent to one backend: its "
        "destination address is rewritten to the backend's, and the IPv4 header checksum and "
        "the TCP, UDP (a zero IPv4 UDP checksum stays zero) and ICMPv6 checksums are updated "
        "incrementally (RFC 1624). A packet from a backend (from source port `port`, when it is "
        "not 0) is a reply: its source address is rewritten back to `vip`, so both directions "
        "can run through one instance. Every other packet, and every packet that is not valid "
        "IP of the vip's family, passes unchanged. All packets leave on `out`; with every "
        "backend down, packets to the vip are dropped (`no-backend`). There is no "
        "encapsulation: the backends must accept packets addressed to themselves (direct "
        "server return needs the vip on the backends and is not what this NF does).\n\n"
        "Choosing a backend. A flow is the source address, the protocol and the source and "
        "destination ports (0 and 0 for fragments, ICMP and protocols without ports, so every "
        "fragment of a datagram goes the same way). A new flow takes the backend in slot "
        "`hash mod table_size` of a Maglev lookup table (Eisenbud et al., NSDI 2016), filled "
        "at start-up from the backends that are up: backend i's permutation is `(offset_i + "
        "j x skip_i) mod table_size`, with offset_i = H(address, S1) mod table_size and skip_i = "
        "H(address, S2) mod (table_size - 1) + 1, and the backends take turns, in list order, "
        "claiming their next free slot. `table_size` must be a prime (so every permutation "
        "covers the table); 65537 suits up to a few hundred backends. H is MurmurHash3's "
        "fmix64 chained over 64-bit words: H(address, S) = fmix64(fmix64(hi ^ S) ^ lo), with "
        "hi, lo the address's two halves (an IPv4 address is hi, with lo = 0), and the flow "
        "hash is fmix64(fmix64(fmix64(hi ^ S3) ^ lo) ^ (proto << 32 | sport << 16 | dport)) of "
        "the source address; S1, S2, S3 are 0x6D61676C65760001, ...02 and ...03. Because each "
        "backend's permutation depends only on its own address, adding a backend to N others "
        "moves about 1/(N+1) of the flows, nearly all of them to the new backend, and removing "
        "one moves its own flows and a few percent of the others (Maglev trades that little "
        "disruption for an even spread: every backend gets the same number of slots, to "
        "within one).\n\n"
        "Affinity. Each flow's backend is remembered in an affinity table (DPDK rte_hash, "
        "`flows` entries, 24 bytes each beside the hash's own 56 or so) and reused for the "
        "flow's later packets, whatever the lookup table says. A flow idle for longer than "
        "`timeout` is forgotten: each packet to the vip reclaims at most two such flows, "
        "least recently used first, and a packet of a forgotten flow starts it afresh "
        "(`expired`). When the table is full, a new flow evicts the least recently used one "
        "(`evicted`). The backend set is fixed while a binary runs: add, remove or mark down "
        "a backend by editing `backends` or `down` and restarting. With `affinity` set, the "
        "table is saved to that file at exit (one flow per line, `PROTO SRC SPORT DPORT "
        "BACKEND LAST_SEEN_NS`, least recently used first) and loaded at start, so across "
        "the restart every remembered flow whose backend is still listed and up keeps it "
        "(`restored`), each of the others is moved by the new lookup table (`moved`), and "
        "only new flows see the new backend set. Idle time counts across the restart from "
        "the saved last-seen times; a missing file starts an empty table. The file belongs "
        "to one instance: give each LoadBalancer its own. Counters: `balanced` (packets sent "
        "to a backend), `replies`, `new_flows`, `expired`, `evicted`, `restored`, `moved`."
    ),
    example=(
        "nf lb = LoadBalancer(vip: 10.0.0.100, backends: [10.0.1.1, 10.0.1.2, 10.0.1.3], port: 80,\n"
        "                     down: [10.0.1.3], affinity: \"state/lb.affinity\")\n"
        "wan -> lb -> lan"
    ),
    validate=validate,
    native=NativeBody(
        process="{sym}_process",
        state="loadbalancer_state",
        init="{sym}_init",
        finish="{sym}_finish",
        generate=generate,
        counters=("balanced", "replies", "new_flows", "expired", "evicted", "restored", "moved"),
    ),
)
