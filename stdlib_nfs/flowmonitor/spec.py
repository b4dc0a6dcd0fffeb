"""FlowMonitor: NetFlow/IPFIX-style flow records, exported to a file."""

from __future__ import annotations

from chainc.nfs.spec import REQUIRED, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import check_positive, dur, param_span
from chainc.values import DURATION, INT, PATH, Duration, Enum


def validate(node, reporter):
    check_positive(node, ("idle_timeout", "active_timeout", "table_size"), reporter)
    top = node.params.get("top")
    if isinstance(top, int) and top < 0:
        reporter.error("'top' must be 0 (off) or positive", param_span(node, "top"))
    idle, active = node.params.get("idle_timeout"), node.params.get("active_timeout")
    if isinstance(idle, Duration) and isinstance(active, Duration) and idle.nanoseconds > active.nanoseconds:
        reporter.warning("'idle_timeout' is longer than 'active_timeout'", param_span(node, "idle_timeout"))


SPEC = NfSpec(
    name="FlowMonitor",
    doc="Keep per-flow packet/byte counts and export flow records (NetFlow/IPFIX style).",
    params=(
        ParamSpec("export", PATH, REQUIRED, "The file flow records are written to."),
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
    reads=("eth.type", "ip.src", "ip.dst", "ip.proto", "l4.sport", "l4.dport", "tcp.flags"),
    writes=(),
    cycles=120,
    side_effects=True,
    drop_reasons=(),
    description=(
        "Theory of operation. Each IP packet is looked up by its 5-tuple (one direction: "
        "the two directions of a connection are two flows, as in NetFlow v5/IPFIX). A "
        "flow record holds first/last timestamps, packets, bytes and the OR of the TCP "
        "flags seen. A record is exported (one JSON line or CSV row: the 5-tuple, "
        "counts, flags, start and end times) when the flow has been idle for "
        "`idle_timeout`, every `active_timeout` while it stays active (the counts restart "
        "after each export), when a TCP flow ends with FIN or RST, and for every live "
        "flow at exit. When the table is full, packets of new flows are counted but not "
        "tracked (`untracked`). Every packet leaves on `out` unchanged; non-IP frames "
        "are not tracked."
    ),
    example="nf fm = FlowMonitor(export: \"flows.jsonl\", idle_timeout: 30s, top: 10)\nwan -> fm -> lan",
    validate=validate,
    native=None,
)
