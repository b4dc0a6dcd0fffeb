"""FlowMonitor: NetFlow/IPFIX-style flow records, exported to a file."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from chainc.nfs.spec import REQUIRED, NativeBody, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import (check_int_range, check_positive, dur, param_span,
                                        runtime_path)
from chainc.values import DURATION, INT, PATH, Duration, Enum

if TYPE_CHECKING:
    from chainc.diagnostics import Reporter
    from chainc.ir.graph import NfNode

MAX_TOP = 100_000
EXPORT_QUEUE = 16384  # records between the packet path and the exporter thread


def validate(node: "NfNode", reporter: "Reporter") -> None:
    check_positive(node, ("idle_timeout", "active_timeout"), reporter)
    check_int_range(node, "table_size", 1, 1 << 30, reporter)
    check_int_range(node, "top", 0, MAX_TOP, reporter)
    idle, active = node.params.get("idle_timeout"), node.params.get("active_timeout")
    if isinstance(idle, Duration) and isinstance(active, Duration) and idle.nanoseconds > active.nanoseconds:
        reporter.warning("'idle_timeout' is longer than 'active_timeout'", param_span(node, "idle_timeout"))


def generate(node: "NfNode", sym: str) -> str:
    """The instance's init (its table, export queue and file, the exporter thread) and
    its finish (the last records, the heavy hitters)."""
    p = node.params
    who = json.dumps(f"FlowMonitor '{node.id}'")
    path = json.dumps(runtime_path(node, "export"))
    return f'''\
import os


cdef int {sym}_init(flowmonitor_state* st) except -1:
    path = chain_path({path})
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    except OSError as exc:
        raise StartupError({who} + ": cannot open the export file " + path + ": " + str(exc.strerror))
    cdef int err = flowmonitor_setup(st, b"flowmon_{sym}", {p["table_size"]}u, {EXPORT_QUEUE}u,
                                     {p["top"]}u, {int(p["format"] == "csv")},
                                     {p["idle_timeout"].nanoseconds}ULL,
                                     {p["active_timeout"].nanoseconds}ULL, os.fsencode(path))
    if err == FLOWMONITOR_ERR_FILE:
        raise StartupError({who} + ": cannot open the export file " + path + ": "
                           + os.strerror(st.failed_errno))
    if err == FLOWMONITOR_ERR_THREAD:
        raise StartupError({who} + ": cannot start its exporter thread: " + os.strerror(st.failed_errno))
    if err:
        raise StartupError({who} + ": cannot create its flow table or export queue: "
                           + rte_strerror(st.failed_errno).decode() + " (give more memory with -m)")
    return 0


cdef int {sym}_finish(flowmonitor_state* st) except -1:
    if flowmonitor_close(st) < 0:
        raise StartupError({who} + ": cannot write the export file: " + os.strerror(st.failed_errno))
    if st.top_n:
        print(flowmonitor_top_table({json.dumps(node.id)}, st), end="")
    return 0
'''


SPEC = NfSpec(
    name="FlowMonitor",
    doc="Keep per-flow packet/byte counts and export flow records (NetFlow/IPFIX style).",
    params=(
        ParamSpec("export", PATH, REQUIRED, "The file flow records are written to (replaced)."),
        ParamSpec("format", Enum("jsonl", "csv"), "jsonl", "Record format: JSON lines or CSV."),
        ParamSpec("idle_timeout", DURATION, dur("15s"),
                  "Export and forget a flow after this long without packets."),
        ParamSpec("active_timeout", DURATION, dur("30m"),
                  "Export a record of a long-lived flow at least this often."),
        ParamSpec("top", INT, 0, "At exit, also print the N largest flows by bytes (0: off)."),
        ParamSpec("table_size", INT, 65536, "Maximum number of flows tracked at once."),
    ),
    inputs=("in",),
    outputs=("out",),
    state=StateKind.PER_FLOW,
    state_key="5-tuple",
    reads=("eth.type", "ip.src", "ip.dst", "ip6.src", "ip6.dst", "ip.proto", "ip.len", "l4.sport",
           "l4.dport", "tcp.flags", "icmp.type", "icmp.code", "meta.ct_events"),
    writes=(),
    cycles=540,  # bench/bench_flows.py: udp64, 10,000 flows (680 on imix, 1,700 with 1,000,000 flows)
    side_effects=True,
    drop_reasons=(),
    description=(
        "Theory of operation. Each IP packet is looked up by its flow key: IP version, "
        "protocol, source and destination address, and the TCP/UDP ports (ICMP: type x 256 "
        "+ code as the destination port, as NetFlow does; 0 without a readable L4 header, "
        "e.g. fragments). The two directions of a connection are two flows. A flow's record "
        "holds its first and last packet times (the packet clock), packets, bytes (IP "
        "lengths, as NetFlow counts them), the OR of its TCP flags and how many of its "
        "packets a ConnTrack before it marked as retransmissions. A record is written when "
        "the flow has been idle for `idle_timeout` (reason `idle`; the flow is forgotten), "
        "when it has been recording for `active_timeout` (`active`; the flow stays and its "
        "counts restart), after a TCP packet with FIN or RST (`end`; the flow is forgotten), "
        "and for every flow at exit (`exit`). Timeouts are found without a scan: flows wait "
        "in two queues (by last packet, by record start) and up to two expired records are "
        "written per packet, earliest deadline first.\n\n"
        "Records are JSON lines (`{\"start_ns\":...,\"end_ns\":...,\"src\":\"10.1.0.5\","
        "\"dst\":...,\"proto\":6,\"sport\":...,\"dport\":...,\"packets\":...,\"bytes\":...,"
        "\"tcp_flags\":...,\"retrans\":...,\"reason\":\"idle\"}`) or CSV rows under a header "
        "line with the same fields; docs/flowmonitor.md has the details. Natively the packet "
        "path only copies a finished record into a lock-free ring; a DPDK control thread, off "
        "the packet cores, formats and writes them, and the exit hook writes the rest. With "
        "`top: N` the N largest flows by bytes over the whole run (a flow split by the active "
        "timeout counts as one) are printed at exit.\n\n"
        "Every packet leaves on `out` unchanged. Non-IP frames are counted (`not_ip`) and not "
        "tracked. When the table is full, a packet of a new flow first retires the least "
        "recently seen flow if it is idle; otherwise it is counted (`untracked`) and not "
        "tracked. Counters: `flows` started, `exported` records, `untracked`, `not_ip`, "
        "`export_lost` (records the export queue had no room for)."
    ),
    example="nf fm = FlowMonitor(export: \"flows.jsonl\", idle_timeout: 30s, top: 10)\nwan -> fm -> lan",
    validate=validate,
    native=NativeBody(
        process="flowmonitor_process",
        state="flowmonitor_state",
        init="{sym}_init",
        finish="{sym}_finish",
        generate=generate,
        counters=("flows", "exported", "untracked", "not_ip", "export_lost"),
    ),
)
