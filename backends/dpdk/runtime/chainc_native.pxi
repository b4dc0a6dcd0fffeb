# The native half of every chainc binary's control plane: the few functions
# that touch DPDK or the packet path's memory, called once at start-up and at
# exit by the plain-Python control plane (control.py, carried as source text
# and run as the module `chainc_control`). Included into each generated
# pipeline module, after the packet path whose globals (workers, stats,
# port_id, rings, core_entry, ...) it uses. Nothing here runs per packet.


class StartupError(Exception):
    """Start-up failed in a way the user can fix (a device, memory, a file an NF
    needs); NF `init` code raises it too. The binary prints it and exits 1."""


def _dpdk_error(what):
    return StartupError(f"{what}: {rte_strerror(rte_errno).decode()}")


cdef list _keep_alive = []


def eal_init(list args):
    cdef int argc = len(args)
    cdef int rc
    cdef char** argv = <char**>malloc(sizeof(char*) * (argc + 1))
    encoded = [a.encode() for a in args]
    _keep_alive.append(encoded)  # EAL may keep pointers into argv
    for i, b in enumerate(encoded):
        argv[i] = b
    argv[argc] = NULL
    rc = rte_eal_init(argc, argv)
    free(argv)  # the EAL copies what it keeps of the array (the strings stay alive above)
    if rc < 0:
        raise _dpdk_error("DPDK EAL initialisation failed")


def lcores():
    out = [rte_get_main_lcore()]
    cdef unsigned i = rte_get_next_lcore(<unsigned>-1, 1, 0)
    while i < RTE_MAX_LCORE:
        out.append(i)
        i = rte_get_next_lcore(i, 1, 0)
    return out


cdef void* _zeroed(size_t size) except NULL:
    cdef void* p = NULL
    if posix_memalign(&p, 64, size) != 0:
        raise MemoryError()
    memset(p, 0, size)
    return p


def alloc_workers(list stages_of, list replicas_of):
    """The workers (stage replicas), each with its own counter blocks; no queue yet."""
    global workers, stats, port_ctr, ring_ctr, tx_locks
    cdef int w, p
    workers = <worker*>_zeroed(sizeof(worker) * N_WORKERS)
    stats = <nf_stats*>_zeroed(sizeof(nf_stats) * N_NODES * N_WORKERS)
    port_ctr = <port_stats*>_zeroed(sizeof(port_stats) * N_PORTS * N_WORKERS)
    ring_ctr = <ring_stats*>_zeroed(sizeof(ring_stats) * N_RINGS)
    tx_locks = <rte_spinlock_t*>_zeroed(sizeof(rte_spinlock_t) * N_PORTS * N_WORKERS)
    for w in range(N_WORKERS):
        workers[w].index = w
        workers[w].stage = stages_of[w]
        workers[w].replica = replicas_of[w]
        workers[w].stats = stats + w * N_NODES
        workers[w].ports = port_ctr + w * N_PORTS
        for p in range(N_PORTS):
            workers[w].rxq[p] = NO_QUEUE
            rte_spinlock_init(&tx_locks[p * N_WORKERS + w])


def create_pool(unsigned n_mbufs, unsigned cache):
    global pool
    # Metadata rides in the mbuf's private area only across rings; without
    # rings every mbuf stays 128 bytes smaller (fewer cache lines and pages).
    cdef uint16_t priv = chainc_priv_size(sizeof(ring_slot)) if N_RINGS_USED else 0
    pool = rte_pktmbuf_pool_create(b"chainc_pool", n_mbufs, cache, priv,
                                   RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id())
    if pool == NULL:
        raise _dpdk_error(f"cannot create a mempool of {n_mbufs} mbufs (give the EAL more memory: -m MB, or `chainc run --eal '-m MB'`)")


def create_rings():
    for r in range(N_RINGS_USED):
        rings[r] = rte_ring_create(f"chainc_ring{r}".encode(), RING_SIZE, rte_socket_id(),
                                   RING_F_SP_ENQ | RING_F_SC_DEQ)
        if rings[r] == NULL:
            raise _dpdk_error(f"cannot create ring {r}")


def clock_setup(uint64_t epoch_now_ns, bint packet_time):
    chainc_clock_setup(epoch_now_ns, packet_time)


def setup_port(int idx, str dev_name, str name, int want_rx, int want_tx, bint rx_stamps,
               bytes rss_key, bint symmetric, uint16_t nrxd, uint16_t ntxd):
    """Open a port with up to `want_rx` receive and `want_tx` transmit queues (fewer if
    the device has fewer), RSS over the receive queues when there are several.
    Returns (receive queues, transmit queues, RSS hash types enabled)."""
    cdef uint16_t pid = 0
    cdef rte_eth_conf conf
    cdef rte_eth_dev_info info
    cdef uint8_t key[256]
    cdef uint64_t hf = 0
    cdef int rc, q, nrx, ntx
    if rte_eth_dev_get_port_by_name(dev_name.encode(), &pid) != 0:
        raise StartupError(f"port {name}: no DPDK device '{dev_name}' "
                          "(a PCI device must be bound to a DPDK driver)")
    memset(&conf, 0, sizeof(conf))
    memset(&info, 0, sizeof(info))
    rc = rte_eth_dev_info_get(pid, &info)
    if rc < 0:
        raise StartupError(f"port {name}: cannot read the device's capabilities: "
                           f"{rte_strerror(-rc).decode()}")
    nrx = min(want_rx, info.max_rx_queues) if want_rx else 0
    ntx = min(want_tx, info.max_tx_queues) if want_tx else 0
    if (want_rx and nrx < 1) or (want_tx and ntx < 1):
        raise StartupError(f"port {name}: the device has no {'receive' if want_rx and nrx < 1 else 'transmit'} queue")
    if rx_stamps and nrx and info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP:
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP
    if nrx > 1:
        memcpy(key, <const char*>rss_key, min(len(rss_key), 256))
        hf = chainc_rss_conf(&conf, &info, key, symmetric)
    rc = rte_eth_dev_configure(pid, nrx, ntx, &conf)
    if rc < 0:
        raise StartupError(f"port {name}: configure failed: {rte_strerror(-rc).decode()}")
    rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrxd, &ntxd)
    for q in range(nrx):
        rc = rte_eth_rx_queue_setup(pid, q, nrxd, rte_eth_dev_socket_id(pid), NULL, pool)
        if rc < 0:
            raise StartupError(f"port {name}: rx queue {q} setup failed: {rte_strerror(-rc).decode()}")
    for q in range(ntx):
        rc = rte_eth_tx_queue_setup(pid, q, ntxd, rte_eth_dev_socket_id(pid), NULL)
        if rc < 0:
            raise StartupError(f"port {name}: tx queue {q} setup failed: {rte_strerror(-rc).decode()}")
    rc = rte_eth_dev_start(pid)
    if rc < 0:
        raise StartupError(f"port {name}: start failed: {rte_strerror(-rc).decode()}")
    rte_eth_promiscuous_enable(pid)
    port_id[idx] = pid
    return nrx, ntx, hf


def assign_queues(int idx, list rx_workers, list expected, list tx_workers, int ntx):
    """Replica r of the receiving stage polls queue r (none if the device has fewer);
    transmitting worker k sends on queue k, shared under a lock when there are fewer."""
    cdef int r, k, w
    for r, w in enumerate(rx_workers):
        if r < len(expected):
            workers[w].rxq[idx] = r
            workers[w].rx_expected[idx] = expected[r]
            workers[w].rx_live[idx] = expected[r] != 0
    for k, w in enumerate(tx_workers):
        workers[w].txq[idx] = k % ntx
        if ntx < len(tx_workers):
            workers[w].txlock[idx] = &tx_locks[idx * N_WORKERS + k % ntx]


_chain_dir = "."


def init_nfs(str chain_dir):
    """Run the NFs' start-up; `chain_dir` (the .chain file's directory) anchors the
    relative paths of files they open at run time."""
    global _chain_dir
    _chain_dir = chain_dir
    _init_nfs()


def chain_path(str relative):
    """A file an NF names relative to its .chain file (an export, an alert log), as
    this run finds it."""
    import os
    return os.path.normpath(os.path.join(_chain_dir, relative))


def finish_nfs():
    _finish_nfs()


def tsc_hz():
    """The rate of the cycle counter NF cycles are measured in."""
    return rte_get_tsc_hz()


def measure_tsc_overhead():
    """The cost of the rdtsc pair around an NF call, subtracted from its cycles."""
    cdef uint64_t best = <uint64_t>-1
    cdef uint64_t t0, t1
    cdef int i
    with nogil:
        for i in range(2000):
            t0 = rte_rdtsc()
            t1 = rte_rdtsc()
            if t1 - t0 < best:
                best = t1 - t0
    return best


def set_max_packets(uint64_t n):
    global max_packets
    max_packets = n


def install_signal_handlers():
    signal(SIGINT, on_signal)
    signal(SIGTERM, on_signal)


def run_cores(list cores):
    """Logical core 0 runs on this (the main) lcore, the others on theirs; returns when
    every worker is done, with the seconds they ran (by the TSC: rates divide by it)."""
    cdef uint64_t t0 = rte_rdtsc()
    for c in range(1, N_CORES):
        rte_eal_remote_launch(core_entry, <void*><long>c, cores[c])
    with nogil:
        core_entry(<void*>0)
        rte_eal_mp_wait_lcore()
    return (rte_rdtsc() - t0) / <double>rte_get_tsc_hz()


def stop_receiving():
    chainc_store_flag(&stop_rx, 1)


def all_workers_done():
    return all(chainc_load_flag(&worker_done[w]) for w in range(N_WORKERS))


def read_counters():
    """Raw counters, per worker; control.py adds them up into the JSON statistics."""
    cdef int i, w, k
    cdef nf_stats* s
    cdef port_stats* p
    nodes = []
    for i in range(N_NODES):
        nd = CHAIN["nodes"][i]
        per = []
        if nd["stage"] is not None:
            for w in CHAIN["stages"][nd["stage"]]["workers"]:
                s = &stats[w * N_NODES + i]
                per.append(([s.out[j] for j in range(len(nd["outputs"]))],
                            [s.drops[j] for j in range(len(nd["reasons"]))],
                            s.emitted, s.cycles, s.cycle_pkts))
        nodes.append(per)
    ports = []
    for k in range(len(CHAIN["ports"])):
        per = []
        for w in range(N_WORKERS):
            p = &port_ctr[w * N_PORTS + k]
            per.append((p.rx, p.tx, p.tx_dropped))
        ports.append(per)
    return {
        "nodes": nodes,
        "ports": ports,
        "rings": [(ring_ctr[r].enqueued, ring_ctr[r].dropped) for r in range(N_RINGS_USED)],
        "internal_drops": internal_drops,
        "counters": _nf_counters(),
    }


def drain_rings():
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


def close_ports(list started):
    for k in started:
        rte_eth_dev_stop(port_id[k])
        rte_eth_dev_close(port_id[k])  # flushes and closes output pcaps


def pool_in_use():
    return rte_mempool_in_use_count(pool) if pool != NULL else 0


def cleanup():
    for r in range(N_RINGS_USED):
        rte_ring_free(rings[r])
    rte_eal_cleanup()


def _load_embedded(dict sources):
    """Make the control plane's Python modules from the source text the binary carries."""
    import sys
    import types
    for name, text in sources.items():
        module = types.ModuleType(name)
        module.__file__ = f"<chainc:{name}>"
        sys.modules[name] = module  # before running it: dataclasses look their module up
        exec(compile(text, module.__file__, "exec"), module.__dict__)
