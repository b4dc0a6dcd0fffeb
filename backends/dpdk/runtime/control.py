"""The control plane of every chainc binary: command line, port plans, start-up
order, the reporting thread, statistics and a clean shutdown.

The binary carries this file as source text and runs it in its embedded
interpreter (as the module `chainc_control`), next to `chainc_stats` and
`chainc_pcapfile` (chainc/stats.py and chainc/pcapfile.py, carried the same
way). Everything that touches DPDK or the packet path's memory is a function
of the compiled chain module, passed in as `native`; nothing here runs per
packet. Keeping this plain Python out of the C compiler's way makes a chain
build take seconds instead of half a minute.
"""

import argparse
import json
import os
import re
import sys
import threading
import time

from chainc_pcapfile import PcapError, count_packets
from chainc_stats import render_table

_PCI = re.compile(r"^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")
RX_DESC = 1024
TX_DESC = 1024
POOL_CACHE = 256


class ControlError(Exception):
    """A problem the user can fix (bad option, missing file, missing device)."""


def split_argv(argv):
    """EAL arguments before `--`, the application's after it."""
    args = list(argv[1:])
    if "--" in args:
        i = args.index("--")
        return args[:i], args[i + 1:]
    return args, []


def parse_app_args(prog, args, chain):
    parser = argparse.ArgumentParser(
        prog=f"{prog} [EAL options] --",
        description=f"Run the {chain['name']} service chain. DPDK EAL options go before `--`, "
                    "these after it.",
        epilog="Ports: " + ", ".join(f"{p['name']} (default {p['default']})" for p in chain["ports"]))
    parser.add_argument("--port", action="append", default=[], metavar="NAME=DEVICE",
                        help="bind a port to a PCI address or a DPDK vdev string, e.g. "
                             "lan=0000:01:00.0 or wan=net_pcap0,rx_pcap=in.pcap")
    parser.add_argument("--chain-dir", default=".", metavar="DIR",
                        help="directory that relative pcap paths of the default bindings "
                             "are relative to (the .chain file's directory)")
    parser.add_argument("--duration", type=float, default=0.0, metavar="SECONDS",
                        help="stop receiving after this many seconds")
    parser.add_argument("--max-packets", type=int, default=0, metavar="N",
                        help="stop after receiving N packets in total")
    parser.add_argument("--stats-interval", type=float, default=0.0, metavar="SECONDS",
                        help="print the statistics table every SECONDS")
    parser.add_argument("--stats-json", metavar="FILE",
                        help="write statistics as JSON (at every interval and at exit)")
    parser.add_argument("--quiet", action="store_true", help="do not print the final table")
    parser.add_argument("--clock", choices=("auto", "packet", "tsc"), default="auto",
                        help="the time NFs see (timeouts, meters, flow records): `packet` uses "
                             "each packet's capture timestamp (pcap inputs), so a run over a "
                             "capture is reproducible; `tsc` the CPU clock; `auto` (default) "
                             "packet time when every input reads a pcap file once, else tsc")
    opts = parser.parse_args(args)
    if opts.max_packets < 0 or opts.duration < 0 or opts.stats_interval < 0:
        parser.error("--duration, --max-packets and --stats-interval must not be negative")
    return opts


def _count_pcap(path):
    try:
        return count_packets(path)
    except PcapError as exc:
        raise ControlError(str(exc)) from None
    except OSError as exc:
        raise ControlError(f"cannot read pcap file {path}: {exc.strerror}") from None


def _kv(devargs):
    parts = devargs.split(",")
    return parts[0], dict(p.split("=", 1) if "=" in p else (p, "") for p in parts[1:] if p)


def _values(devargs, key):
    """Every value of a key a device string repeats (net_pcap: one rx_pcap per queue)."""
    return [p.split("=", 1)[1] for p in devargs.split(",")[1:] if p.startswith(key + "=")]


def _rebase_default(devargs, chain_dir):
    """Make the relative pcap paths of a default binding relative to chain_dir."""
    name, kv = _kv(devargs)
    if not name.startswith("net_pcap"):
        return devargs
    out = [name]
    for part in devargs.split(",")[1:]:
        k, sep, v = part.partition("=")
        if k in ("rx_pcap", "tx_pcap") and v and not os.path.isabs(v):
            v = os.path.normpath(os.path.join(chain_dir, v))
        out.append(f"{k}={v}" if sep else k)
    return ",".join(out)


class PortPlan:
    """How one port is opened: its DPDK device, EAL arguments and what to expect."""

    def __init__(self, device, eal_args, expected=None, preload=0, stamps=False):
        self.device = device        # the name DPDK knows it by
        self.eal_args = eal_args    # ["--vdev", ...] or ["-a", PCI]
        self.expected = expected    # per receive queue, packets its finite pcap holds; None: unbounded
        self.preload = preload      # packets an infinite_rx pcap input keeps in mbufs
        self.stamps = stamps        # a pcap read once: its packets carry their capture time


def plan_ports(opts, ports):
    overrides = {}
    known = [p["name"] for p in ports]
    for item in opts.port:
        name, sep, dev = item.partition("=")
        if not sep or not dev:
            raise ControlError(f"--port {item}: expected NAME=DEVICE")
        if name not in known:
            raise ControlError(f"--port {item}: this chain has no port '{name}' "
                               f"(ports: {', '.join(known) or 'none'})")
        overrides[name] = dev
    plans = []
    for p in ports:
        dev = overrides.get(p["name"]) or _rebase_default(p["default"], opts.chain_dir)
        if _PCI.match(dev):
            addr = dev if dev.count(":") == 2 else "0000:" + dev
            plans.append(PortPlan(addr, ["-a", addr]))
            continue
        name, kv = _kv(dev)
        plan = PortPlan(name, ["--vdev", dev])
        if name.startswith("net_pcap"):
            has_rx = any(k in kv for k in ("rx_pcap", "rx_iface", "rx_iface_in", "iface"))
            has_tx = any(k in kv for k in ("tx_pcap", "tx_iface", "iface"))
            if p["rx"] and not has_rx:
                raise ControlError(f"port {p['name']} receives packets but device '{dev}' has no "
                                   "rx_pcap (use --port {0}=net_pcap_{0},rx_pcap=FILE)".format(p["name"]))
            if p["tx"] and not has_tx:
                raise ControlError(f"port {p['name']} transmits packets but device '{dev}' has no "
                                   "tx_pcap (use --port {0}=net_pcap_{0},tx_pcap=FILE)".format(p["name"]))
            if "rx_pcap" in kv:
                counts = [_count_pcap(path) for path in _values(dev, "rx_pcap")]
                if kv.get("infinite_rx") == "1":
                    plan.preload = sum(counts)
                else:
                    plan.expected, plan.stamps = counts, True
            if "tx_pcap" in kv:
                out_dir = os.path.dirname(os.path.abspath(kv["tx_pcap"]))
                if not os.path.isdir(out_dir):
                    raise ControlError(f"port {p['name']}: directory of {kv['tx_pcap']} does not exist")
        plans.append(plan)
    return plans


def use_packet_time(opts, ports, plans):
    if opts.clock != "auto":
        return opts.clock == "packet"
    inputs = [plan for p, plan in zip(ports, plans) if p["rx"]]
    return bool(inputs) and all(plan.stamps for plan in inputs)


def pool_size(chain, n_ports, n_lcores, preload):
    queues = sum(max(p["rx_queues"], 1) + max(len(p["tx_workers"]), 1) for p in chain["ports"])
    need = (queues * max(RX_DESC, TX_DESC) + chain["n_rings"] * chain["ring_size"]
            + len(chain["workers"]) * (n_ports + chain["n_rings"] + 2) * chain["sink_cap"]
            + n_lcores * POOL_CACHE * 2 + preload + 1024)
    size = 1
    while size - 1 < need:
        size *= 2
    return size - 1  # a mempool is most memory-efficient at 2^n - 1


def snapshot(native, chain, elapsed, tsc_overhead):
    """The statistics in the shared JSON shape (chainc_stats)."""
    raw = native.read_counters()
    ports = chain["ports"]
    port_index = {p["name"]: k for k, p in enumerate(ports)}
    port_totals = [tuple(sum(c) for c in zip(*per)) for per in raw["ports"]]
    nodes = []
    total_to_drop = 0
    for i, nd in enumerate(chain["nodes"]):
        per = raw["nodes"][i] or [([0] * len(nd["outputs"]), [0] * len(nd["reasons"]), 0, 0, 0)]
        out_counts = [sum(c) for c in zip(*(w[0] for w in per))]
        drop_counts = [sum(c) for c in zip(*(w[1] for w in per))]
        emitted, cycles, cycle_pkts = (sum(w[k] for w in per) for k in (2, 3, 4))
        if nd["kind"] == "port-in":  # counted per burst by the port
            outs = {port: port_totals[port_index[nd["port"]]][0] for port in nd["outputs"]}
        else:
            outs = dict(zip(nd["outputs"], out_counts))
        drops = dict(zip(nd["reasons"], drop_counts))
        total_to_drop += sum(outs[nd["outputs"][j]] for j in nd["drop_to"])
        cores = chain["stages"][nd["stage"]]["cores"] if nd["stage"] is not None else [0]
        entry = {"id": nd["id"], "type": nd["type"], "core": cores[0],
                 "in": sum(outs.values()) + sum(drops.values()) - emitted, "out": outs,
                 "drops": drops, "emitted": emitted,
                 "cycles": max(0, cycles - tsc_overhead * cycle_pkts),
                 "cycle_samples": cycle_pkts,
                 "counters": raw["counters"].get(i, {})}
        if len(cores) > 1 and nd["kind"] == "nf":  # a replicated stage: what each core did
            entry["cores"] = cores
            entry["per_core"] = [sum(w[0]) + sum(w[1]) - w[2] for w in per]
        nodes.append(entry)
    for entry, nd in zip(nodes, chain["nodes"]):
        if nd["kind"] == "port-out":
            rx, tx, tx_dropped = port_totals[port_index[nd["port"]]]
            entry["in"] = tx + tx_dropped
        elif nd["kind"] == "drop":
            entry["in"] = total_to_drop
    return {
        "chain": chain["name"],
        "elapsed_s": round(elapsed, 6),
        "tsc_hz": native.tsc_hz(),
        "nodes": nodes,
        "ports": [{"name": p["name"], "rx": rx, "tx": tx, "tx_dropped": txd}
                  for p, (rx, tx, txd) in zip(ports, port_totals)],
        "rings": [{"index": r, "enqueued": enq, "dropped": dropped}
                  for r, (enq, dropped) in enumerate(raw["rings"])],
        "internal_drops": raw["internal_drops"],
    }


def write_json(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def _rates(prev, cur, dt):
    if dt <= 0:
        return {}
    before = {n["id"]: n["in"] for n in prev["nodes"]}
    return {n["id"]: (n["in"] - before.get(n["id"], 0)) / dt for n in cur["nodes"]}


def _report_loop(native, chain, opts, t0, busy_cpus, tsc_overhead):
    """Runs in a Python thread while the lcores move packets: duration, interval reports."""
    # This thread was born on the main lcore's CPU; move it off the packet
    # cores when the machine has others, so its wake-ups never preempt a stage.
    spare = set(os.sched_getaffinity(0)) | set(range(os.cpu_count() or 1))
    spare -= set(busy_cpus)
    if spare:
        try:
            os.sched_setaffinity(0, spare)
        except OSError:
            pass  # restricted by a cpuset: share the core, as before
    next_report = t0 + opts.stats_interval if opts.stats_interval else None
    prev, prev_t = snapshot(native, chain, 0.0, tsc_overhead), t0
    while not native.all_workers_done():
        time.sleep(0.01)
        now = time.monotonic()
        if opts.duration and now - t0 >= opts.duration:
            native.stop_receiving()
        if next_report is not None and now >= next_report:
            cur = snapshot(native, chain, now - t0, tsc_overhead)
            print(render_table(cur, rates=_rates(prev, cur, now - prev_t)), flush=True)
            print(flush=True)
            if opts.stats_json:  # with the pool's in-use count, so a soak run can watch it
                write_json(opts.stats_json, dict(cur, mempool={"in_use": native.pool_in_use()}))
            prev, prev_t = cur, now
            next_report += opts.stats_interval


def setup_port(native, prog, k, p, plan, packet_time):
    """Open a port with a queue per replica that receives and per worker that sends."""
    want_rx = p["rx_queues"] if p["rx"] else 0
    if want_rx and plan.expected is not None and len(plan.expected) < want_rx:
        print(f"{prog}: note: port {p['name']} reads {len(plan.expected)} pcap file(s) for "
              f"{want_rx} receive queues: replicas past the first {len(plan.expected)} receive "
              "nothing (give one rx_pcap per queue)", file=sys.stderr)
        want_rx = len(plan.expected)
    rss = p["rss"] or {"symmetric": False, "key": ""}
    nrx, ntx, hf = native.setup_port(k, plan.device, p["name"], want_rx, len(p["tx_workers"]),
                                     packet_time, bytes.fromhex(rss["key"]), rss["symmetric"],
                                     RX_DESC, TX_DESC)
    if nrx < want_rx:
        print(f"{prog}: note: port {p['name']} has {nrx} receive queue(s) for {want_rx} "
              f"replicas: the others receive nothing", file=sys.stderr)
    elif nrx > 1 and not hf and not plan.device.startswith("net_pcap"):
        print(f"{prog}: note: port {p['name']} does no RSS: its queues are filled by the device "
              "as it chooses, so flows are not kept on one replica", file=sys.stderr)
    expected = plan.expected if plan.expected is not None else [-1] * nrx
    native.assign_queues(k, p["rx_workers"], expected[:nrx], p["tx_workers"], max(ntx, 1))


def run_binary(argv, native):
    """The binary's main: returns its exit code (0 ok, 1 start-up error, 3 mbuf leak)."""
    chain = native.CHAIN
    ports = chain["ports"]
    prog = os.path.basename(argv[0])
    eal_args, app_args = split_argv(argv)
    opts = parse_app_args(prog, app_args, chain)
    try:
        plans = plan_ports(opts, ports)
        native.eal_init([argv[0]] + eal_args + [a for plan in plans for a in plan.eal_args])
    except (ControlError, native.StartupError, MemoryError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1

    exit_code = 0
    started = []
    n_mbufs = 0
    try:
        lcores = native.lcores()
        n_cores = chain["n_cores"]
        if len(lcores) < n_cores:
            raise ControlError(
                f"this chain runs {chain['n_stages']} stages on {n_cores} lcores, but only "
                f"{len(lcores)} lcore(s) were given; pass -l with {n_cores} cores "
                f"(e.g. -l 0-{n_cores - 1})")
        native.alloc_workers([w["stage"] for w in chain["workers"]],
                             [w["replica"] for w in chain["workers"]])
        n_mbufs = pool_size(chain, len(ports), len(lcores), sum(plan.preload for plan in plans))
        native.create_pool(n_mbufs, POOL_CACHE)
        native.create_rings()
        packet_time = use_packet_time(opts, ports, plans)
        native.clock_setup(time.time_ns(), packet_time)
        for k, (p, plan) in enumerate(zip(ports, plans)):
            setup_port(native, prog, k, p, plan, packet_time)
            started.append(k)
        native.init_nfs(opts.chain_dir)
        tsc_overhead = native.measure_tsc_overhead()
        native.set_max_packets(opts.max_packets)
        if len(lcores) > n_cores:
            print(f"{prog}: note: {len(lcores) - n_cores} lcore(s) left idle "
                  f"(the chain's plan uses {n_cores})", file=sys.stderr)
    except (ControlError, native.StartupError, MemoryError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        exit_code = 1

    if exit_code == 0:
        native.install_signal_handlers()
        t0 = time.monotonic()
        reporter = threading.Thread(target=_report_loop, daemon=True,
                                    args=(native, chain, opts, t0, lcores[:n_cores], tsc_overhead))
        reporter.start()
        elapsed = native.run_cores(lcores[:n_cores])
        reporter.join()
        try:
            native.finish_nfs()
        except Exception as exc:
            print(f"{prog}: error: at exit: {exc}", file=sys.stderr)
            exit_code = 1

    native.drain_rings()
    native.close_ports(started)  # flushes and closes output pcaps

    if exit_code == 0:
        report = snapshot(native, chain, elapsed, tsc_overhead)
        in_use = native.pool_in_use()
        report["mempool"] = {"size": n_mbufs, "in_use": in_use}
        if not opts.quiet:
            print(render_table(report))
        if opts.stats_json:
            write_json(opts.stats_json, report)
        if in_use:
            print(f"{prog}: error: {in_use} mbuf(s) still in use at exit (leak)", file=sys.stderr)
            exit_code = 3
    native.cleanup()
    return exit_code
