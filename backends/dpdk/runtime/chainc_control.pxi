# The control plane of every chainc binary: command line, EAL start-up, ports,
# mempool and rings, launching the stages on lcores, statistics and a clean
# shutdown. Included into each generated pipeline module, after the generated
# packet path whose globals (stats, port_id, rings, stage_entry, ...) it uses.
# Nothing here runs per packet.

import argparse
import json
import os
import re
import struct
import sys
import threading
import time

_PCI = re.compile(r"^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")
_RX_DESC = 1024
_TX_DESC = 1024
_POOL_CACHE = 256


class StartupError(Exception):
    """A problem the user can fix (bad option, missing file, missing device)."""


def _split_argv(argv):
    """EAL arguments before `--`, the application's after it."""
    args = list(argv[1:])
    if "--" in args:
        i = args.index("--")
        return args[:i], args[i + 1:]
    return args, []


def _parse_app_args(prog, args):
    parser = argparse.ArgumentParser(
        prog=f"{prog} [EAL options] --",
        description=f"Run the {CHAIN_NAME} service chain. DPDK EAL options go before `--`, "
                    "these after it.",
        epilog="Ports: " + ", ".join(f"{p['name']} (default {p['default']})" for p in PORTS))
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
    """Packets in a pcap file, read from record headers only."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
            if len(head) < 24:
                raise StartupError(f"{path}: not a pcap file (too short)")
            magic = head[:4]
            if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
                endian = "<"
            elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
                endian = ">"
            else:
                raise StartupError(f"{path}: not a pcap file (pcapng is not supported by net_pcap)")
            count = 0
            while True:
                rec = f.read(16)
                if not rec:
                    return count
                if len(rec) < 16:
                    raise StartupError(f"{path}: truncated record header after {count} packets")
                incl = struct.unpack(endian + "IIII", rec)[2]
                f.seek(incl, 1)
                count += 1
    except OSError as exc:
        raise StartupError(f"cannot read pcap file {path}: {exc.strerror}") from None


def _kv(devargs):
    parts = devargs.split(",")
    return parts[0], dict(p.split("=", 1) if "=" in p else (p, "") for p in parts[1:] if p)


def _rebase_default(devargs, chain_dir):
    """Make the relative pcap paths of a default binding relative to chain_dir."""
    name, kv = _kv(devargs)
    if not name.startswith("net_pcap"):
        return devargs
    out = [name]
    for k, v in kv.items():
        if k in ("rx_pcap", "tx_pcap") and v and not os.path.isabs(v):
            v = os.path.normpath(os.path.join(chain_dir, v))
        out.append(f"{k}={v}" if v != "" else k)
    return ",".join(out)


def _plan_ports(opts):
    """Per port: (device name, EAL arguments, expected rx packets, preload size, stamps).

    `stamps` is true for a pcap input read once, whose packets carry their capture time."""
    overrides = {}
    known = [p["name"] for p in PORTS]
    for item in opts.port:
        name, sep, dev = item.partition("=")
        if not sep or not dev:
            raise StartupError(f"--port {item}: expected NAME=DEVICE")
        if name not in known:
            raise StartupError(f"--port {item}: this chain has no port '{name}' "
                               f"(ports: {', '.join(known) or 'none'})")
        overrides[name] = dev
    plans = []
    for p in PORTS:
        dev = overrides.get(p["name"]) or _rebase_default(p["default"], opts.chain_dir)
        if _PCI.match(dev):
            addr = dev if dev.count(":") == 2 else "0000:" + dev
            plans.append((addr, ["-a", addr], -1, 0, False))
            continue
        name, kv = _kv(dev)
        expected, preload, stamps = -1, 0, False
        if name.startswith("net_pcap"):
            has_rx = any(k in kv for k in ("rx_pcap", "rx_iface", "rx_iface_in", "iface"))
            has_tx = any(k in kv for k in ("tx_pcap", "tx_iface", "iface"))
            if p["rx"] and not has_rx:
                raise StartupError(f"port {p['name']} receives packets but device '{dev}' has no "
                                   "rx_pcap (use --port {0}=net_pcap_{0},rx_pcap=FILE)".format(p["name"]))
            if p["tx"] and not has_tx:
                raise StartupError(f"port {p['name']} transmits packets but device '{dev}' has no "
                                   "tx_pcap (use --port {0}=net_pcap_{0},tx_pcap=FILE)".format(p["name"]))
            if "rx_pcap" in kv:
                n = _count_pcap(kv["rx_pcap"])
                if kv.get("infinite_rx") == "1":
                    preload = n
                else:
                    expected, stamps = n, True
            if "tx_pcap" in kv:
                out_dir = os.path.dirname(os.path.abspath(kv["tx_pcap"]))
                if not os.path.isdir(out_dir):
                    raise StartupError(f"port {p['name']}: directory of {kv['tx_pcap']} does not exist")
        plans.append((name, ["--vdev", dev], expected, preload, stamps))
    return plans


def _use_packet_time(opts, plans):
    if opts.clock != "auto":
        return opts.clock == "packet"
    inputs = [plan for p, plan in zip(PORTS, plans) if p["rx"]]
    return bool(inputs) and all(plan[4] for plan in inputs)


cdef void _setup_port(int idx, str dev_name, dict port, int nb_rx, int nb_tx,
                      bint rx_stamps) except *:
    cdef uint16_t pid = 0
    cdef rte_eth_conf conf
    cdef rte_eth_dev_info info
    cdef uint16_t nrxd = _RX_DESC
    cdef uint16_t ntxd = _TX_DESC
    cdef int rc
    if rte_eth_dev_get_port_by_name(dev_name.encode(), &pid) != 0:
        raise StartupError(f"port {port['name']}: no DPDK device '{dev_name}' "
                           "(a PCI device must be bound to a DPDK driver)")
    memset(&conf, 0, sizeof(conf))
    if rx_stamps and nb_rx and rte_eth_dev_info_get(pid, &info) == 0:
        if info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP:
            conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP
    rc = rte_eth_dev_configure(pid, nb_rx, nb_tx, &conf)
    if rc < 0:
        raise StartupError(f"port {port['name']}: configure failed: {rte_strerror(-rc).decode()}")
    rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrxd, &ntxd)
    if nb_rx:
        rc = rte_eth_rx_queue_setup(pid, 0, nrxd, rte_eth_dev_socket_id(pid), NULL, pool)
        if rc < 0:
            raise StartupError(f"port {port['name']}: rx queue setup failed: {rte_strerror(-rc).decode()}")
    if nb_tx:
        rc = rte_eth_tx_queue_setup(pid, 0, ntxd, rte_eth_dev_socket_id(pid), NULL)
        if rc < 0:
            raise StartupError(f"port {port['name']}: tx queue setup failed: {rte_strerror(-rc).decode()}")
    rc = rte_eth_dev_start(pid)
    if rc < 0:
        raise StartupError(f"port {port['name']}: start failed: {rte_strerror(-rc).decode()}")
    rte_eth_promiscuous_enable(pid)
    port_id[idx] = pid


cdef uint64_t tsc_overhead = 0


cdef uint64_t _measure_tsc_overhead() noexcept nogil:
    """The cost of the rdtsc pair around an NF call, subtracted from its cycles."""
    cdef uint64_t best = <uint64_t>-1
    cdef uint64_t t0, t1
    cdef int i
    for i in range(2000):
        t0 = rte_rdtsc()
        t1 = rte_rdtsc()
        if t1 - t0 < best:
            best = t1 - t0
    return best


cdef object _snapshot(double elapsed):
    """The statistics in the shared JSON shape (chainc_stats)."""
    port_index = {p["name"]: k for k, p in enumerate(PORTS)}
    nodes = []
    total_to_drop = 0
    for i, nd in enumerate(NODES):
        if nd["kind"] == "port-in":  # counted per burst by the port
            outs = {port: port_ctr[port_index[nd["port"]]].rx for port in nd["outputs"]}
        else:
            outs = {port: stats[i].out[j] for j, port in enumerate(nd["outputs"])}
        drops = {r: stats[i].drops[j] for j, r in enumerate(nd["reasons"])}
        emitted = stats[i].emitted
        total_to_drop += sum(outs[nd["outputs"][j]] for j in nd["drop_to"])
        nodes.append({"id": nd["id"], "type": nd["type"], "core": STAGE_CORES[nd["stage"]],
                      "in": sum(outs.values()) + sum(drops.values()) - emitted, "out": outs,
                      "drops": drops, "emitted": emitted,
                      "cycles": max(0, <int64_t>(stats[i].cycles - tsc_overhead * stats[i].cycle_pkts)),
                      "cycle_samples": stats[i].cycle_pkts,
                      "counters": _nf_counters(i)})
    for entry, nd in zip(nodes, NODES):
        if nd["kind"] == "port-out":
            k = port_index[nd["port"]]
            entry["in"] = port_ctr[k].tx + port_ctr[k].tx_dropped
        elif nd["kind"] == "drop":
            entry["in"] = total_to_drop
    return {
        "chain": CHAIN_NAME,
        "elapsed_s": round(elapsed, 6),
        "nodes": nodes,
        "ports": [{"name": p["name"], "rx": port_ctr[k].rx, "tx": port_ctr[k].tx,
                   "tx_dropped": port_ctr[k].tx_dropped} for k, p in enumerate(PORTS)],
        "rings": [{"index": r, "enqueued": ring_ctr[r].enqueued, "dropped": ring_ctr[r].dropped}
                  for r in range(N_RINGS_USED)],
        "internal_drops": internal_drops,
    }


def _write_json(path, data):
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


def _all_done():
    return all(chainc_load_flag(&stage_done[s]) for s in range(N_STAGES))


def _control(opts, t0, busy_cpus):
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
    prev, prev_t = _snapshot(0.0), t0
    while not _all_done():
        time.sleep(0.01)
        now = time.monotonic()
        if opts.duration and now - t0 >= opts.duration:
            chainc_store_flag(&stop_rx, 1)
        if next_report is not None and now >= next_report:
            cur = _snapshot(now - t0)
            print(render_table(cur, rates=_rates(prev, cur, now - prev_t)), flush=True)
            print(flush=True)
            if opts.stats_json:
                _write_json(opts.stats_json, cur)
            prev, prev_t = cur, now
            next_report += opts.stats_interval


cdef list _keep_alive = []


cdef void _eal_init(list args) except *:
    cdef int argc = len(args)
    cdef int rc
    cdef char** argv = <char**>malloc(sizeof(char*) * (argc + 1))
    encoded = [a.encode() for a in args]
    _keep_alive.append(encoded)  # EAL may keep pointers into argv
    for i, b in enumerate(encoded):
        argv[i] = b
    argv[argc] = NULL
    rc = rte_eal_init(argc, argv)
    free(argv)  # the EAL keeps copies of what it needs (the strings stay alive above)
    if rc < 0:
        raise StartupError(f"DPDK EAL initialisation failed: {rte_strerror(rte_errno).decode()}")


cdef void _alloc_counters() except *:
    global stats, port_ctr, ring_ctr
    cdef void* p = NULL
    if posix_memalign(&p, 64, sizeof(nf_stats) * N_NODES) != 0:
        raise MemoryError()
    memset(p, 0, sizeof(nf_stats) * N_NODES)
    stats = <nf_stats*>p
    if posix_memalign(&p, 64, sizeof(port_stats) * N_PORTS) != 0:
        raise MemoryError()
    memset(p, 0, sizeof(port_stats) * N_PORTS)
    port_ctr = <port_stats*>p
    if posix_memalign(&p, 64, sizeof(ring_stats) * N_RINGS) != 0:
        raise MemoryError()
    memset(p, 0, sizeof(ring_stats) * N_RINGS)
    ring_ctr = <ring_stats*>p


cdef unsigned _pool_size(int n_lcores, long preload):
    need = (len(PORTS) * (_RX_DESC + _TX_DESC) + N_RINGS_USED * RING_SIZE
            + N_STAGES * (len(PORTS) + N_RINGS_USED + 2) * SINK_CAP
            + n_lcores * _POOL_CACHE * 2 + preload + 1024)
    size = 1
    while size - 1 < need:
        size *= 2
    return size - 1  # a mempool is most memory-efficient at 2^n - 1


cdef list _lcores():
    out = [rte_get_main_lcore()]
    cdef unsigned i = rte_get_next_lcore(<unsigned>-1, 1, 0)
    while i < RTE_MAX_LCORE:
        out.append(i)
        i = rte_get_next_lcore(i, 1, 0)
    return out


cdef void _drain_rings() noexcept nogil:
    cdef rte_mbuf* burst[BURST]
    cdef unsigned n
    cdef int r
    for r in range(N_RINGS_USED):
        if rings[r] == NULL:  # start-up failed before the rings were made
            continue
        n = rte_ring_dequeue_burst(rings[r], <void**>burst, BURST, NULL)
        while n:
            rte_pktmbuf_free_bulk(burst, n)
            n = rte_ring_dequeue_burst(rings[r], <void**>burst, BURST, NULL)


def run_binary(argv):
    global pool, max_packets, tsc_overhead
    prog = os.path.basename(argv[0])
    eal_args, app_args = _split_argv(argv)
    opts = _parse_app_args(prog, app_args)
    try:
        plans = _plan_ports(opts)
        extra = [a for plan in plans for a in plan[1]]
        _eal_init([argv[0]] + eal_args + extra)
    except StartupError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1

    exit_code = 0
    started = []
    try:
        lcores = _lcores()
        if len(lcores) < N_STAGES:
            raise StartupError(
                f"this chain runs {N_STAGES} stages, one per lcore, but only {len(lcores)} "
                f"lcore(s) were given; pass -l with {N_STAGES} cores (e.g. -l 0-{N_STAGES - 1})")
        _alloc_counters()
        preload = sum(plan[3] for plan in plans)
        n_mbufs = _pool_size(len(lcores), preload)
        pool = rte_pktmbuf_pool_create(b"chainc_pool", n_mbufs, _POOL_CACHE,
                                       chainc_priv_size(sizeof(pkt_meta)),
                                       RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id())
        if pool == NULL:
            raise StartupError(f"cannot create a mempool of {n_mbufs} mbufs: "
                               f"{rte_strerror(rte_errno).decode()} (give more memory with -m)")
        for r in range(N_RINGS_USED):
            rings[r] = rte_ring_create(f"chainc_ring{r}".encode(), RING_SIZE, rte_socket_id(),
                                       RING_F_SP_ENQ | RING_F_SC_DEQ)
            if rings[r] == NULL:
                raise StartupError(f"cannot create ring {r}: {rte_strerror(rte_errno).decode()}")
        packet_time = _use_packet_time(opts, plans)
        chainc_clock_setup(time.time_ns(), packet_time)
        for k, (p, plan) in enumerate(zip(PORTS, plans)):
            rx_expected[k] = plan[2] if p["rx"] else 0
            _setup_port(k, plan[0], p, 1 if p["rx"] else 0, 1 if p["tx"] else 0, packet_time)
            started.append(k)
        _init_nfs()
        tsc_overhead = _measure_tsc_overhead()
        max_packets = opts.max_packets
        if len(lcores) > N_STAGES:
            print(f"{prog}: note: {len(lcores) - N_STAGES} lcore(s) left idle "
                  f"(the chain has {N_STAGES} stage(s))", file=sys.stderr)
    except StartupError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        exit_code = 1

    if exit_code == 0:
        signal(SIGINT, on_signal)
        signal(SIGTERM, on_signal)
        t0 = time.monotonic()
        control = threading.Thread(target=_control, args=(opts, t0, lcores[:N_STAGES]),
                                   daemon=True)
        control.start()
        for s in range(1, N_STAGES):
            rte_eal_remote_launch(stage_entry, <void*><long>s, lcores[s])
        with nogil:
            stage_entry(<void*>0)
            rte_eal_mp_wait_lcore()
        control.join()
        elapsed = time.monotonic() - t0
        try:
            _finish_nfs()
        except Exception as exc:
            print(f"{prog}: error: at exit: {exc}", file=sys.stderr)
            exit_code = 1

    _drain_rings()
    for k in started:
        rte_eth_dev_stop(port_id[k])
        rte_eth_dev_close(port_id[k])  # flushes and closes output pcaps

    if exit_code == 0:
        report = _snapshot(elapsed)
        in_use = rte_mempool_in_use_count(pool)
        report["mempool"] = {"size": n_mbufs, "in_use": in_use}
        if not opts.quiet:
            print(render_table(report))
        if opts.stats_json:
            _write_json(opts.stats_json, report)
        if in_use:
            print(f"{prog}: error: {in_use} mbuf(s) still in use at exit (leak)", file=sys.stderr)
            exit_code = 3
    for r in range(N_RINGS_USED):
        rte_ring_free(rings[r])
    rte_eal_cleanup()
    free(stats)  # a sanitized build's leak check sees every allocation returned
    free(port_ctr)
    free(ring_ctr)
    return exit_code
