# FlowMonitor native body: per-flow records on DPDK's rte_hash, exported by a
# control thread.
#
# Theory of operation (the spec's description and docs/flowmonitor.md say
# what; this says how)
#
# The flow key (IP version, protocol, addresses, ports) maps through rte_hash
# to a position, which indexes an array of flow records allocated at start-up.
# Each record sits in two doubly linked queues: by last packet (idle timeout)
# and, while it has packets to report, by record start (active timeout); the
# heads of the two queues are the next to expire, so timeouts cost no scan.
#
# Export. The packet path never formats or writes: a finished record is
# copied (96 bytes) into an rte_ring of fixed-size elements, single producer
# (this NF's core) and single consumer (the exporter). The exporter is a DPDK
# control thread (rte_ctrl_thread_create: its CPUs are those the EAL leaves
# to control threads, off the packet cores when the machine has any) that
# drains the ring every millisecond, formats JSON lines or CSV with snprintf
# and writes them through stdio's buffer. It also keeps the heavy hitters:
# a min-heap of the `top` largest finished flows. At exit the finish hook
# stops and joins the thread, drains what is left, writes the flows still
# live, and flushes. A full ring loses the record (counted in export_lost)
# rather than ever blocking the packet core.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from libc.string cimport memset
from libc.stdio cimport FILE, fopen, fclose, fwrite, fputs, fflush, ferror, snprintf
from libc.errno cimport errno
from posix.unistd cimport usleep
from dpdk cimport (rte_mbuf, rte_ring, rte_errno, RING_F_SP_ENQ, RING_F_SC_DEQ, chainc_now_ns,
                   chainc_load_flag, chainc_store_flag)
from meta cimport (pkt_meta, META_L3_IPV4, META_L3_IP, META_L4_OK, META_CT_EV_RETRANS)
from flowtable cimport (rte_hash, rte_hash_crc, rte_hash_function, rte_hash_set_cmp_func, rte_hash_hash,
                        rte_hash_lookup_with_hash, rte_hash_add_key_with_hash, rte_hash_del_key,
                        rte_hash_get_key_with_position, rte_zmalloc, flow_table_create, flow_records,
                        FLOW_NIL, flow_link, flow_queue, flow_queue_init, flow_queue_remove,
                        flow_queue_append)

cdef extern from "rte_ring_elem.h" nogil:
    rte_ring* rte_ring_create_elem(const char* name, unsigned esize, unsigned count,
                                   int socket_id, unsigned flags)
    int rte_ring_enqueue_elem(rte_ring* r, void* obj, unsigned esize)
    unsigned rte_ring_dequeue_burst_elem(rte_ring* r, void* obj_table, unsigned esize,
                                         unsigned n, unsigned* available)

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    int pthread_join(pthread_t thread, void** retval)

cdef extern from "rte_lcore.h" nogil:
    int rte_ctrl_thread_create(pthread_t* thread, const char* name, const void* attr,
                               void* (*start_routine)(void*) noexcept nogil, void* arg)

cdef extern from "<arpa/inet.h>" nogil:
    const char* inet_ntop(int af, const void* src, char* dst, unsigned size)
    enum:
        AF_INET
        AF_INET6


cdef enum:
    FLOWMONITOR_IDLE = 0       # record reasons, in FLOWMONITOR_REASONS order
    FLOWMONITOR_ACTIVE = 1
    FLOWMONITOR_END = 2
    FLOWMONITOR_EXIT = 3
    FLOWMONITOR_BY_LAST = 0    # the queue for the idle timeout
    FLOWMONITOR_BY_START = 1   # the queue for the active timeout
    FLOWMONITOR_BATCH = 64     # records the exporter takes from the ring at once
    FLOWMONITOR_ERR_TABLE = 1  # flowmonitor_setup's failures
    FLOWMONITOR_ERR_FILE = 2
    FLOWMONITOR_ERR_THREAD = 3

cdef extern from *:
    """
    /* Keys are 40 bytes: five word compares instead of rte_hash's memcmp. */
    static int flowmonitor_key_differs(const void *a, const void *b, size_t len)
    {
        const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;
        (void)len;
        return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) != 0;
    }
    static const char *const flowmonitor_reasons[] = {"idle", "active", "end", "exit"};
    """
    int flowmonitor_key_differs(const void* a, const void* b, size_t len) noexcept nogil
    const char* const flowmonitor_reasons[4]


cdef struct flowmonitor_key:   # 40 bytes, one direction of a conversation
    uint64_t src_hi
    uint64_t src_lo
    uint64_t dst_hi
    uint64_t dst_lo
    uint16_t sport
    uint16_t dport
    uint8_t proto
    uint8_t family
    uint16_t zero


cdef struct flowmonitor_flow:  # 72 bytes, one per rte_hash position
    uint64_t first_ns          # start of the current record; 0: nothing to report
    uint64_t last_ns
    uint64_t packets
    uint64_t bytes
    uint64_t total_packets     # over the flow's life, for the heavy hitters
    uint64_t total_bytes
    flow_link link[2]          # in the idle queue, and the active one while first_ns != 0
    uint32_t retrans
    uint8_t tcp_flags
    uint8_t _pad[3]


cdef struct flowmonitor_record:  # 96 bytes: what crosses the ring
    flowmonitor_key key
    uint64_t start_ns
    uint64_t end_ns
    uint64_t packets           # 0: no line to write (a flow's totals only)
    uint64_t bytes
    uint64_t total_packets     # set when `final`
    uint64_t total_bytes
    uint32_t retrans
    uint8_t tcp_flags
    uint8_t reason
    uint8_t final              # the flow ended: it competes for the heavy hitters
    uint8_t _pad


cdef struct flowmonitor_top:
    flowmonitor_record rec
    uint64_t order             # finished flows before it: earlier wins a tie


cdef struct flowmonitor_state:
    rte_hash* table
    flowmonitor_flow* entries
    rte_ring* queue
    FILE* file
    flowmonitor_top* top
    uint64_t idle_ns
    uint64_t active_ns
    uint64_t order
    pthread_t thread
    uint32_t size
    uint32_t count
    flow_queue queues[2]       # FLOWMONITOR_BY_LAST, FLOWMONITOR_BY_START
    uint32_t top_n
    uint32_t top_count
    int csv
    int stop
    int failed_errno
    uint64_t flows
    uint64_t exported
    uint64_t untracked
    uint64_t not_ip
    uint64_t export_lost


# -- writing records (the exporter thread, then the finish hook) ------------------

cdef inline void flowmonitor_address(uint8_t family, uint64_t hi, uint64_t lo, char* out) noexcept nogil:
    cdef uint8_t raw[16]
    cdef int i
    for i in range(8):
        raw[i] = <uint8_t>(hi >> (56 - 8 * i))
        raw[8 + i] = <uint8_t>(lo >> (56 - 8 * i))
    if family == 4:
        inet_ntop(AF_INET, raw + 12, out, 46)
    else:
        inet_ntop(AF_INET6, raw, out, 46)


cdef inline bint flowmonitor_worse(const flowmonitor_top* a, const flowmonitor_top* b) noexcept nogil:
    """a ranks below b: fewer bytes, or as many and finished later."""
    if a.rec.total_bytes != b.rec.total_bytes:
        return a.rec.total_bytes < b.rec.total_bytes
    return a.order > b.order


cdef inline void flowmonitor_rank(flowmonitor_state* st, const flowmonitor_record* r) noexcept nogil:
    """Offer a finished flow to the heavy hitters (a min-heap: the worst at the root)."""
    cdef flowmonitor_top item
    cdef flowmonitor_top tmp
    cdef uint32_t i, child
    item.rec = r[0]
    item.order = st.order
    st.order += 1
    if st.top_count < st.top_n:
        i = st.top_count
        st.top_count += 1
        st.top[i] = item
        while i > 0 and flowmonitor_worse(&st.top[i], &st.top[(i - 1) >> 1]):
            tmp = st.top[i]
            st.top[i] = st.top[(i - 1) >> 1]
            st.top[(i - 1) >> 1] = tmp
            i = (i - 1) >> 1
        return
    if r.total_bytes <= st.top[0].rec.total_bytes:
        return
    st.top[0] = item
    i = 0
    while True:
        child = 2 * i + 1
        if child >= st.top_count:
            return
        if child + 1 < st.top_count and flowmonitor_worse(&st.top[child + 1], &st.top[child]):
            child += 1
        if not flowmonitor_worse(&st.top[child], &st.top[i]):
            return
        tmp = st.top[i]
        st.top[i] = st.top[child]
        st.top[child] = tmp
        i = child


cdef inline void flowmonitor_write(flowmonitor_state* st, const flowmonitor_record* r) noexcept nogil:
    cdef char src[46]
    cdef char dst[46]
    cdef char line[512]
    cdef int n
    if r.final and r.total_packets and st.top_n:
        flowmonitor_rank(st, r)
    if r.packets == 0:
        return
    flowmonitor_address(r.key.family, r.key.src_hi, r.key.src_lo, src)
    flowmonitor_address(r.key.family, r.key.dst_hi, r.key.dst_lo, dst)
    if st.csv:
        n = snprintf(line, sizeof(line), b"%llu,%llu,%s,%s,%u,%u,%u,%llu,%llu,%u,%u,%s\n",
                     <unsigned long long>r.start_ns, <unsigned long long>r.end_ns, src, dst,
                     <unsigned>r.key.proto, <unsigned>r.key.sport, <unsigned>r.key.dport,
                     <unsigned long long>r.packets, <unsigned long long>r.bytes,
                     <unsigned>r.tcp_flags, <unsigned>r.retrans, flowmonitor_reasons[r.reason])
    else:
        n = snprintf(line, sizeof(line),
                     b'{"start_ns":%llu,"end_ns":%llu,"src":"%s","dst":"%s","proto":%u,"sport":%u,'
                     b'"dport":%u,"packets":%llu,"bytes":%llu,"tcp_flags":%u,"retrans":%u,"reason":"%s"}\n',
                     <unsigned long long>r.start_ns, <unsigned long long>r.end_ns, src, dst,
                     <unsigned>r.key.proto, <unsigned>r.key.sport, <unsigned>r.key.dport,
                     <unsigned long long>r.packets, <unsigned long long>r.bytes,
                     <unsigned>r.tcp_flags, <unsigned>r.retrans, flowmonitor_reasons[r.reason])
    fwrite(line, 1, <size_t>n, st.file)


cdef inline void* flowmonitor_exporter(void* arg) noexcept nogil:
    """The exporter thread: drain the ring until told to stop."""
    cdef flowmonitor_state* st = <flowmonitor_state*>arg
    cdef flowmonitor_record batch[FLOWMONITOR_BATCH]
    cdef unsigned n, i
    while not chainc_load_flag(&st.stop):
        n = rte_ring_dequeue_burst_elem(st.queue, batch, sizeof(flowmonitor_record),
                                        FLOWMONITOR_BATCH, NULL)
        for i in range(n):
            flowmonitor_write(st, &batch[i])
        if n < FLOWMONITOR_BATCH:
            usleep(1000)
    return NULL


# -- start-up and exit --------------------------------------------------------------

cdef inline int flowmonitor_setup(flowmonitor_state* st, const char* name, uint32_t size,
                                  uint32_t queue_size, uint32_t top, int csv, uint64_t idle_ns,
                                  uint64_t active_ns, const char* path) noexcept nogil:
    """Create the table, the export ring, the file and the exporter; 0 or FLOWMONITOR_ERR_*."""
    st.table = flow_table_create(name, size, sizeof(flowmonitor_key), <rte_hash_function>rte_hash_crc)
    if st.table == NULL:
        st.failed_errno = rte_errno
        return FLOWMONITOR_ERR_TABLE
    rte_hash_set_cmp_func(st.table, flowmonitor_key_differs)
    st.entries = <flowmonitor_flow*>flow_records(st.table, sizeof(flowmonitor_flow), b"flowmonitor")
    st.queue = rte_ring_create_elem(name, sizeof(flowmonitor_record), queue_size, -1,
                                    RING_F_SP_ENQ | RING_F_SC_DEQ)
    if top:
        st.top = <flowmonitor_top*>rte_zmalloc(b"flowmonitor", sizeof(flowmonitor_top) * top, 64)
    if st.entries == NULL or st.queue == NULL or (top and st.top == NULL):
        st.failed_errno = rte_errno
        return FLOWMONITOR_ERR_TABLE
    st.size = size
    st.top_n = top
    st.csv = csv
    st.idle_ns = idle_ns
    st.active_ns = active_ns
    flow_queue_init(&st.queues[0])
    flow_queue_init(&st.queues[1])
    st.file = fopen(path, b"w")
    if st.file == NULL:
        st.failed_errno = errno
        return FLOWMONITOR_ERR_FILE
    if csv:
        fputs(b"start_ns,end_ns,src,dst,proto,sport,dport,packets,bytes,tcp_flags,retrans,reason\n",
              st.file)
    st.failed_errno = rte_ctrl_thread_create(&st.thread, b"flowmon", NULL, flowmonitor_exporter, st)
    if st.failed_errno:
        return FLOWMONITOR_ERR_THREAD
    return 0


cdef inline int flowmonitor_close(flowmonitor_state* st) noexcept nogil:
    """Stop the exporter, write what is queued and every live flow; 0, or -1 if the
    file could not be written (errno in failed_errno)."""
    cdef flowmonitor_record batch[FLOWMONITOR_BATCH]
    cdef unsigned n, i
    chainc_store_flag(&st.stop, 1)
    pthread_join(st.thread, NULL)
    while True:
        n = rte_ring_dequeue_burst_elem(st.queue, batch, sizeof(flowmonitor_record),
                                        FLOWMONITOR_BATCH, NULL)
        if n == 0:
            break
        for i in range(n):
            flowmonitor_write(st, &batch[i])
    while st.queues[FLOWMONITOR_BY_LAST].head != FLOW_NIL:
        if flowmonitor_retire(st, st.queues[FLOWMONITOR_BY_LAST].head, FLOWMONITOR_EXIT, True, &batch[0]):
            flowmonitor_write(st, &batch[0])
            st.exported += batch[0].packets != 0
    if fflush(st.file) != 0 or ferror(st.file):
        st.failed_errno = errno
        fclose(st.file)
        return -1
    fclose(st.file)
    return 0


cdef inline str flowmonitor_top_table(str node_id, flowmonitor_state* st):
    """The heavy hitters as printed at exit (the same text as the reference body's)."""
    cdef char src[46]
    cdef char dst[46]
    cdef flowmonitor_record* r
    cdef uint32_t i
    names = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6"}
    ranked = []
    for i in range(st.top_count):
        ranked.append((-<long long>st.top[i].rec.total_bytes, st.top[i].order, i))
    ranked.sort()
    lines = [f"FlowMonitor {node_id}: the {st.top_n} largest flows by bytes",
             f"{'rank':>4}  {'bytes':>14}  {'packets':>10}  flow"]
    for rank, (_, _, i) in enumerate(ranked, 1):
        r = &st.top[i].rec
        flowmonitor_address(r.key.family, r.key.src_hi, r.key.src_lo, src)
        flowmonitor_address(r.key.family, r.key.dst_hi, r.key.dst_lo, dst)
        a, b = src.decode(), dst.decode()
        if r.key.proto == 6 or r.key.proto == 17:
            if r.key.family == 6:
                a, b = f"[{a}]", f"[{b}]"
            a, b = f"{a}:{r.key.sport}", f"{b}:{r.key.dport}"
        flow = f"{names.get(r.key.proto, str(r.key.proto))} {a} -> {b}"
        lines.append(f"{rank:>4}  {r.total_bytes:>14,}  {r.total_packets:>10,}  {flow}")
    return "\n".join(lines) + "\n"


# -- the queues ------------------------------------------------------------------------

cdef inline void flowmonitor_unlink(flowmonitor_state* st, int q, uint32_t i) noexcept nogil:
    flow_queue_remove(&st.queues[q], <char*>&st.entries[0].link[q], sizeof(flowmonitor_flow), i)


cdef inline void flowmonitor_append(flowmonitor_state* st, int q, uint32_t i) noexcept nogil:
    flow_queue_append(&st.queues[q], <char*>&st.entries[0].link[q], sizeof(flowmonitor_flow), i)


# -- the packet path ----------------------------------------------------------------------

cdef inline bint flowmonitor_retire(flowmonitor_state* st, uint32_t i, uint8_t reason, bint final,
                                    flowmonitor_record* r) noexcept nogil:
    """End flow i's record (and the flow, if `final`); true if `r` now holds something
    to report: a record with packets, or a finished flow's totals for the heavy hitters."""
    cdef flowmonitor_flow* f = &st.entries[i]
    cdef void* stored
    cdef bint report = f.packets != 0 or (final and st.top_n != 0)
    rte_hash_get_key_with_position(st.table, <int32_t>i, &stored)
    r.key = (<flowmonitor_key*>stored)[0]
    r.start_ns = f.first_ns
    r.end_ns = f.last_ns
    r.packets = f.packets
    r.bytes = f.bytes
    r.total_packets = f.total_packets
    r.total_bytes = f.total_bytes
    r.retrans = f.retrans
    r.tcp_flags = f.tcp_flags
    r.reason = reason
    r.final = final
    r._pad = 0
    if f.first_ns:
        flowmonitor_unlink(st, FLOWMONITOR_BY_START, i)
    f.first_ns = 0
    f.packets = 0
    f.bytes = 0
    f.tcp_flags = 0
    f.retrans = 0
    if final:
        flowmonitor_unlink(st, FLOWMONITOR_BY_LAST, i)
        rte_hash_del_key(st.table, &r.key)  # a copy: rte_hash may reuse the slot it frees
        st.count -= 1
    return report


cdef inline void flowmonitor_export(flowmonitor_state* st, uint32_t i, uint8_t reason,
                                    bint final) noexcept nogil:
    """End flow i's record and queue it for the exporter."""
    cdef flowmonitor_record r
    if not flowmonitor_retire(st, i, reason, final, &r):
        return
    if rte_ring_enqueue_elem(st.queue, &r, sizeof(flowmonitor_record)) == 0:
        st.exported += r.packets != 0
    else:
        st.export_lost += 1


cdef inline bint flowmonitor_expire_one(flowmonitor_state* st, uint64_t now) noexcept nogil:
    """Export the record whose deadline is earliest, if it has passed (idle wins a tie)."""
    cdef uint64_t due
    cdef uint32_t best = FLOW_NIL
    cdef bint idle = True
    if st.queues[FLOWMONITOR_BY_LAST].head != FLOW_NIL:
        best = st.queues[FLOWMONITOR_BY_LAST].head
        due = st.entries[best].last_ns + st.idle_ns
    if st.queues[FLOWMONITOR_BY_START].head != FLOW_NIL and (
            best == FLOW_NIL or st.entries[st.queues[FLOWMONITOR_BY_START].head].first_ns + st.active_ns < due):
        best = st.queues[FLOWMONITOR_BY_START].head
        due = st.entries[best].first_ns + st.active_ns
        idle = False
    if best == FLOW_NIL or due > now:
        return False
    flowmonitor_export(st, best, FLOWMONITOR_IDLE if idle else FLOWMONITOR_ACTIVE, idle)
    return True


cdef inline int flowmonitor_process(flowmonitor_state* st, rte_mbuf* m, pkt_meta* meta,
                                    int in_port) noexcept nogil:
    cdef uint64_t now = chainc_now_ns(m)
    cdef flowmonitor_key k
    cdef flowmonitor_flow* f
    cdef uint32_t sig
    cdef int32_t pos
    if flowmonitor_expire_one(st, now):
        flowmonitor_expire_one(st, now)
    if not (meta.flags & META_L3_IP):
        st.not_ip += 1
        return 0
    if meta.flags & META_L3_IPV4:
        k.family = 4
        k.src_hi, k.src_lo, k.dst_hi, k.dst_lo = 0, meta.ip4_src, 0, meta.ip4_dst
    else:
        k.family = 6
        k.src_hi, k.src_lo = meta.ip6_src_hi, meta.ip6_src_lo
        k.dst_hi, k.dst_lo = meta.ip6_dst_hi, meta.ip6_dst_lo
    k.proto = meta.ip_proto
    k.sport = 0
    k.dport = 0
    k.zero = 0
    if meta.flags & META_L4_OK:
        if k.proto == 6 or k.proto == 17:
            k.sport = meta.sport
            k.dport = meta.dport
        else:  # ICMP / ICMPv6: type and code, as NetFlow reports them
            k.dport = <uint16_t>(meta.icmp_type * 256 + meta.icmp_code)
    sig = rte_hash_hash(st.table, &k)
    pos = rte_hash_lookup_with_hash(st.table, &k, sig)
    if pos >= 0:
        f = &st.entries[pos]
        if f.last_ns + st.idle_ns <= now:
            flowmonitor_export(st, <uint32_t>pos, FLOWMONITOR_IDLE, True)
            pos = -1
        elif f.first_ns and f.first_ns + st.active_ns <= now:
            flowmonitor_export(st, <uint32_t>pos, FLOWMONITOR_ACTIVE, False)
    if pos < 0:
        if st.count >= st.size:
            if st.entries[st.queues[FLOWMONITOR_BY_LAST].head].last_ns + st.idle_ns > now:
                st.untracked += 1
                return 0
            flowmonitor_export(st, st.queues[FLOWMONITOR_BY_LAST].head, FLOWMONITOR_IDLE, True)
        pos = rte_hash_add_key_with_hash(st.table, &k, sig)
        if pos < 0:
            st.untracked += 1
            return 0
        f = &st.entries[pos]
        memset(f, 0, sizeof(flowmonitor_flow))
        st.count += 1
        st.flows += 1
    else:
        f = &st.entries[pos]
        flowmonitor_unlink(st, FLOWMONITOR_BY_LAST, <uint32_t>pos)
    flowmonitor_append(st, FLOWMONITOR_BY_LAST, <uint32_t>pos)
    if not f.first_ns:
        f.first_ns = now
        flowmonitor_append(st, FLOWMONITOR_BY_START, <uint32_t>pos)
    f.last_ns = now
    f.packets += 1
    f.bytes += meta.ip_len
    f.total_packets += 1
    f.total_bytes += meta.ip_len
    if meta.ct_events & META_CT_EV_RETRANS:
        f.retrans += 1
    if k.proto == 6 and meta.flags & META_L4_OK:
        f.tcp_flags |= meta.tcp_flags
        if meta.tcp_flags & 0x05:  # FIN or RST: the flow ended
            flowmonitor_export(st, <uint32_t>pos, FLOWMONITOR_END, True)
    return 0
