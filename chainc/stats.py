"""Per-NF statistics: the JSON shape and its table rendering.

The native binary and `chainc sim` both produce this shape, and this module
renders it. It uses the standard library only: the build compiles this same
file into every binary, so a standalone binary prints exactly what the
simulator prints.

    {"chain": str, "elapsed_s": float,
     "nodes": [{"id", "type", "core", "in", "out": {port: n},
                "drops": {reason: n}, "emitted", "cycles", "cycle_samples",
                "counters": {name: n},
                "cores": [int], "per_core": [n]}],   # replicated NFs only: each core's packets in

An NF's packets in = sum(out) + sum(drops) - emitted, where `emitted` counts
the packets it made itself (a Tee's copies), which leave through `out` too.
     "ports": [{"name", "rx", "tx", "tx_dropped"}],
     "mempool": {"size", "in_use"}, "tsc_hz"}  # native only

The native binary's interval reports (`--stats-interval` with `--stats-json`)
carry the pool's current count as "mempool": {"in_use"}; the final report,
the count at exit and the pool's size.
"""


def cycles_per_packet(node):
    samples = node.get("cycle_samples", 0)
    return node.get("cycles", 0) / samples if samples else 0.0


def _fmt_count(n):
    return f"{n:,}"


def _fmt_map(values):
    return " ".join(f"{k}={v:,}" for k, v in values.items() if v) or "-"


def render_table(stats, rates=None):
    """Render stats as a fixed-width table; `rates` maps node id -> packets/s."""
    nodes = [n for n in stats.get("nodes", []) if n.get("type") not in ("port-in", "port-out", "drop")]
    with_counters = any(n.get("counters") for n in nodes)
    header = ["nf", "type", "core", "in", "out", "drops", "cyc/pkt"]
    if rates is not None:
        header.append("pps")
    if with_counters:
        header.append("counters")
    rows = []
    for node in nodes:
        row = [
            node["id"],
            node.get("type", ""),
            ",".join(map(str, node["cores"])) if node.get("cores") else str(node.get("core", 0)),
            _fmt_count(node.get("in", 0)),
            _fmt_map(node.get("out", {})),
            _fmt_map(node.get("drops", {})),
            f"{cycles_per_packet(node):.0f}" if node.get("cycle_samples") else "-",
        ]
        if rates is not None:
            row.append(f"{rates.get(node['id'], 0.0):,.0f}")
        if with_counters:
            row.append(_fmt_map(node.get("counters") or {}))
        rows.append(row)
    lines = [_table(header, rows)]
    ports = stats.get("ports", [])
    if ports:
        prow = [[p["name"], _fmt_count(p.get("rx", 0)), _fmt_count(p.get("tx", 0)),
                 _fmt_count(p.get("tx_dropped", 0))] for p in ports]
        lines.append(_table(["port", "rx", "tx", "tx-dropped"], prow))
    summary = []
    if "elapsed_s" in stats:
        summary.append(f"elapsed {stats['elapsed_s']:.3f} s")
    pool = stats.get("mempool")
    if pool:
        summary.append(f"mbufs in use at exit {pool.get('in_use', 0)} of {pool.get('size', 0)}")
    if summary:
        lines.append(", ".join(summary))
    return "\n\n".join(lines)


def _table(header, rows):
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    numeric = {i for i, h in enumerate(header) if h in ("core", "in", "cyc/pkt", "pps", "rx", "tx", "tx-dropped")}

    def line(cells):
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), sep] + [line(r) for r in rows])
