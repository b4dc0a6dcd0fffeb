# IDS native body: Hyperscan over reassembled TCP streams and single packets.
#
# Theory of operation (the spec's description is the user's version).
#
# Start-up (`ids_setup`, called by the generated init with the rules compiled
# into constant arrays at build time): the patterns of the tcp and ip rules
# are compiled into a Hyperscan streaming database, those of the udp, icmp
# and ip rules into a vectored (block) database; one scratch serves both. The
# connection table is an rte_hash from the TCP connection (its two endpoints
# in a canonical order) to a position, with an array of connections indexed by
# it (last-seen time, LRU links, blocked flag, per direction the next expected
# sequence number) and, per position and direction, a Hyperscan stream opened
# here, once, and a bit set of the patterns seen and the rules fired. So the
# packet path never allocates: a new connection resets a slot's streams.
#
# Per TCP packet: reclaim up to two expired connections (LRU head), find or
# make the connection, then feed the direction's stream only the bytes it has
# not seen, in sequence order: a retransmitted byte is skipped, a gap (a lost
# or reordered segment) restarts the stream at the new segment, a SYN restarts
# the direction. Hyperscan calls `ids_on_match` once per pattern and stream
# (HS_FLAG_SINGLEMATCH); a pattern counts when its rule's header matches the
# packet, and a rule fires once per stream when all its patterns have been
# seen. Other packets are scanned alone, in the block database. Rules with no
# pattern fire on every packet their header matches. The fired rules of a
# packet are then applied in rule-file order: a pass rule silences the packet
# (and the rest of its stream), every other rule writes an alert, and in ips
# mode a drop rule blocks the packet and the rest of its connection.
#
# Alerts are JSON lines written with stdio into a large buffer owned by the
# instance: no Python, and a system call only when the buffer is full.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from libc.stdio cimport FILE, fopen, fclose, fwrite, snprintf, setvbuf, _IOFBF
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset
from dpdk cimport rte_mbuf, rte_errno, chainc_mbuf_data, chainc_now_ns
from meta cimport pkt_meta, META_L3_IPV4, META_L3_IPV6, META_L4_OK, META_FRAG
from flowtable cimport (rte_hash, rte_hash_crc, rte_hash_function, rte_hash_free, rte_hash_lookup_with_hash,
                        rte_hash_add_key_with_hash, rte_hash_del_key_with_hash,
                        rte_hash_get_key_with_position, flow_table_create, FLOW_NIL, flow_link,
                        flow_queue, flow_queue_init, flow_queue_remove, flow_queue_append)

ctypedef int (*ids_match_handler)(unsigned int id, unsigned long long start, unsigned long long end,
                                  unsigned int flags, void* ctx) noexcept nogil

cdef extern from "hs.h" nogil:
    ctypedef struct ids_hs_database "hs_database_t":
        pass
    ctypedef struct ids_hs_scratch "hs_scratch_t":
        pass
    ctypedef struct ids_hs_stream "hs_stream_t":
        pass
    ctypedef struct ids_hs_compile_error "hs_compile_error_t":
        char* message
        int expression
    ctypedef struct ids_hs_expr_ext "hs_expr_ext_t":
        unsigned long long flags
        unsigned long long min_offset
        unsigned long long max_offset
        unsigned long long min_length
        unsigned edit_distance
        unsigned hamming_distance

    enum:
        IDS_HS_SUCCESS "HS_SUCCESS"
        IDS_HS_MODE_STREAM "HS_MODE_STREAM"
        IDS_HS_MODE_VECTORED "HS_MODE_VECTORED"

    int ids_hs_compile "hs_compile_ext_multi" (const char* const* expressions, const unsigned* flags,
                                               const unsigned* ids, const ids_hs_expr_ext* const* ext,
                                               unsigned elements, unsigned mode, const void* platform,
                                               ids_hs_database** db, ids_hs_compile_error** error)
    int ids_hs_free_compile_error "hs_free_compile_error" (ids_hs_compile_error* error)
    int ids_hs_free_database "hs_free_database" (ids_hs_database* db)
    int ids_hs_alloc_scratch "hs_alloc_scratch" (const ids_hs_database* db, ids_hs_scratch** scratch)
    int ids_hs_free_scratch "hs_free_scratch" (ids_hs_scratch* scratch)
    int ids_hs_open_stream "hs_open_stream" (const ids_hs_database* db, unsigned flags,
                                             ids_hs_stream** stream)
    int ids_hs_close_stream "hs_close_stream" (ids_hs_stream* stream, ids_hs_scratch* scratch,
                                               void* on_event, void* ctx)
    int ids_hs_reset_stream "hs_reset_stream" (ids_hs_stream* stream, unsigned flags,
                                               ids_hs_scratch* scratch, void* on_event, void* ctx)
    int ids_hs_scan_stream "hs_scan_stream" (ids_hs_stream* stream, const char* data, unsigned length,
                                             unsigned flags, ids_hs_scratch* scratch,
                                             ids_match_handler on_event, void* ctx)
    int ids_hs_scan_vector "hs_scan_vector" (const ids_hs_database* db, const char* const* data,
                                             const unsigned* length, unsigned count, unsigned flags,
                                             ids_hs_scratch* scratch, ids_match_handler on_event,
                                             void* ctx)
    int ids_hs_stream_size "hs_stream_size" (const ids_hs_database* db, size_t* size)

cdef extern from "<arpa/inet.h>" nogil:
    const char* ids_inet_ntop "inet_ntop" (int af, const void* src, char* dst, unsigned size)

cdef extern from "<time.h>" nogil:
    ctypedef long ids_time_t "time_t"
    cdef struct ids_tm "tm":
        pass
    ids_tm* ids_gmtime_r "gmtime_r" (const ids_time_t* t, ids_tm* out)
    size_t ids_strftime "strftime" (char* s, size_t max, const char* fmt, const ids_tm* tm)

cdef enum:
    IDS_OUT = 0
    IDS_BLOCKED_OUT = 1
    IDS_BLOCKED_DROP = -1  # drop_reasons[0]
    IDS_RECLAIM = 2  # expired connections reclaimed per TCP packet, at most
    IDS_MAX_FIRED = 64  # rules applied per packet; more are counted in alerts_lost
    IDS_MAX_SEGMENTS = 8  # mbuf segments scanned per packet
    IDS_RULE_WORDS = 16  # uint64 words per rule in the generated arrays
    IDS_ALERT_BUFFER = 1 << 18
    IDS_ACTION_ALERT = 0
    IDS_ACTION_DROP = 1
    IDS_ACTION_PASS = 2


cdef struct ids_rule:
    uint8_t action
    uint8_t proto  # 0: any IP protocol; 1 (icmp) matches ICMP and ICMPv6
    uint8_t bidirectional
    uint8_t src_family  # 0: any address
    uint8_t dst_family
    uint64_t src_hi
    uint64_t src_lo
    uint64_t src_mask_hi
    uint64_t src_mask_lo
    uint64_t dst_hi
    uint64_t dst_lo
    uint64_t dst_mask_hi
    uint64_t dst_mask_lo
    uint16_t sport_lo
    uint16_t sport_hi
    uint16_t dport_lo
    uint16_t dport_hi
    uint32_t first_pattern
    uint32_t n_patterns
    uint32_t json_off  # its constant part of an alert line: "sid":N,"msg":"...","action":"...",
    uint32_t json_len


cdef struct ids_key:  # a TCP connection, lower endpoint first: 40 bytes
    uint64_t a_hi
    uint64_t a_lo
    uint64_t b_hi
    uint64_t b_lo
    uint16_t a_port
    uint16_t b_port
    uint32_t pad


cdef struct ids_dir:
    uint32_t next_seq  # the next byte the stream expects
    uint8_t synced
    uint8_t passed  # a pass rule fired: the rest of the stream is not inspected
    uint16_t pad


cdef struct ids_conn:
    uint64_t last_ns
    flow_link link  # in the LRU queue
    uint32_t sig
    uint32_t blocked
    ids_dir d[2]


cdef struct ids_state:
    ids_hs_database* stream_db
    ids_hs_database* block_db
    ids_hs_scratch* scratch
    ids_hs_stream** streams  # 2 per position
    uint64_t* bits  # per position and direction: wp words of patterns seen, wr of rules fired
    uint64_t* pkt_bits  # the same for one packet scanned alone
    ids_rule* rules
    uint32_t* pattern_rule
    uint32_t* header_only  # rules without patterns
    const char* json
    uint32_t n_rules
    uint32_t n_patterns
    uint32_t n_header_only
    uint32_t wp
    uint32_t wr
    rte_hash* hash
    ids_conn* conns
    uint32_t capacity
    uint32_t count
    flow_queue lru
    uint64_t timeout_ns
    FILE* alerts_file
    char* alert_buffer
    # the packet being scanned, for the match callback
    uint64_t* cur_bits
    uint64_t p_src_hi
    uint64_t p_src_lo
    uint64_t p_dst_hi
    uint64_t p_dst_lo
    uint16_t p_sport
    uint16_t p_dport
    uint8_t p_family
    uint8_t p_proto
    uint32_t n_fired
    uint32_t fired[IDS_MAX_FIRED]
    # counters
    uint64_t alerts
    uint64_t blocked_flows
    uint64_t connections
    uint64_t expired
    uint64_t evicted
    uint64_t gaps
    uint64_t uninspected
    uint64_t alerts_lost


# -- rules and matches ------------------------------------------------------------

cdef inline bint ids_addr_in(uint8_t family, uint64_t hi, uint64_t lo, uint64_t mhi, uint64_t mlo,
                             uint8_t pkt_family, uint64_t a_hi, uint64_t a_lo) noexcept nogil:
    if family == 0:
        return True
    return family == pkt_family and (a_hi & mhi) == hi and (a_lo & mlo) == lo


cdef inline bint ids_one_way(const ids_rule* r, const ids_state* st, uint64_t s_hi, uint64_t s_lo,
                             uint16_t sport, uint64_t d_hi, uint64_t d_lo, uint16_t dport) noexcept nogil:
    return (ids_addr_in(r.src_family, r.src_hi, r.src_lo, r.src_mask_hi, r.src_mask_lo,
                        st.p_family, s_hi, s_lo)
            and ids_addr_in(r.dst_family, r.dst_hi, r.dst_lo, r.dst_mask_hi, r.dst_mask_lo,
                            st.p_family, d_hi, d_lo)
            and r.sport_lo <= sport <= r.sport_hi and r.dport_lo <= dport <= r.dport_hi)


cdef inline bint ids_header_ok(const ids_state* st, const ids_rule* r) noexcept nogil:
    if r.proto != 0 and r.proto != st.p_proto and not (r.proto == 1 and st.p_proto == 58):
        return False
    if ids_one_way(r, st, st.p_src_hi, st.p_src_lo, st.p_sport, st.p_dst_hi, st.p_dst_lo, st.p_dport):
        return True
    return r.bidirectional and ids_one_way(r, st, st.p_dst_hi, st.p_dst_lo, st.p_dport,
                                           st.p_src_hi, st.p_src_lo, st.p_sport)


cdef inline void ids_fire(ids_state* st, uint32_t r) noexcept nogil:
    if st.n_fired < IDS_MAX_FIRED:
        st.fired[st.n_fired] = r
        st.n_fired += 1
    else:
        st.alerts_lost += 1


cdef inline int ids_on_match(unsigned int id, unsigned long long start, unsigned long long end,
                             unsigned int flags, void* ctx) noexcept nogil:
    """Hyperscan's callback: pattern `id` occurred (once per stream or packet)."""
    cdef ids_state* st = <ids_state*>ctx
    cdef uint32_t r = st.pattern_rule[id]
    cdef const ids_rule* rule = &st.rules[r]
    cdef uint64_t* seen = st.cur_bits
    cdef uint64_t* fired = st.cur_bits + st.wp
    cdef uint32_t p
    if fired[r >> 6] & (1ULL << (r & 63)) or not ids_header_ok(st, rule):
        return 0
    seen[id >> 6] |= 1ULL << (id & 63)
    for p in range(rule.first_pattern, rule.first_pattern + rule.n_patterns):
        if not (seen[p >> 6] & (1ULL << (p & 63))):
            return 0
    fired[r >> 6] |= 1ULL << (r & 63)
    ids_fire(st, r)
    return 0


cdef inline void ids_header_rules(ids_state* st) noexcept nogil:
    cdef uint32_t i
    for i in range(st.n_header_only):
        if ids_header_ok(st, &st.rules[st.header_only[i]]):
            ids_fire(st, st.header_only[i])


# -- alerts -----------------------------------------------------------------------

cdef inline void ids_alert(ids_state* st, const ids_rule* r, uint64_t now, bint blocked) noexcept nogil:
    cdef char stamp[32]
    cdef char src[64]
    cdef char dst[64]
    cdef char line[256]
    cdef uint8_t a[16]
    cdef ids_time_t secs = <ids_time_t>(now // 1000000000ULL)
    cdef ids_tm tm
    cdef int n, i, af = 2 if st.p_family == 4 else 10
    cdef const char* proto
    if st.alerts_file == NULL:
        return
    ids_gmtime_r(&secs, &tm)
    ids_strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm)
    for i in range(8):
        a[i] = <uint8_t>(st.p_src_hi >> (56 - 8 * i))
        a[8 + i] = <uint8_t>(st.p_src_lo >> (56 - 8 * i))
    if st.p_family == 4:
        for i in range(4):
            a[i] = <uint8_t>(st.p_src_hi >> (24 - 8 * i))
    ids_inet_ntop(af, a, src, sizeof(src))
    for i in range(8):
        a[i] = <uint8_t>(st.p_dst_hi >> (56 - 8 * i))
        a[8 + i] = <uint8_t>(st.p_dst_lo >> (56 - 8 * i))
    if st.p_family == 4:
        for i in range(4):
            a[i] = <uint8_t>(st.p_dst_hi >> (24 - 8 * i))
    ids_inet_ntop(af, a, dst, sizeof(dst))
    proto = "tcp" if st.p_proto == 6 else "udp" if st.p_proto == 17 else "icmp" if st.p_proto == 1 else "icmp6"
    n = snprintf(line, sizeof(line), "{\"time\":\"%s.%06uZ\",", stamp,
                 <unsigned>((now % 1000000000ULL) // 1000))
    fwrite(line, 1, n, st.alerts_file)
    fwrite(st.json + r.json_off, 1, r.json_len, st.alerts_file)
    n = snprintf(line, sizeof(line),
                 "\"proto\":\"%s\",\"src\":\"%s\",\"sport\":%u,\"dst\":\"%s\",\"dport\":%u,\"blocked\":%s}\n",
                 proto, src, <unsigned>st.p_sport, dst, <unsigned>st.p_dport, "true" if blocked else "false")
    fwrite(line, 1, n, st.alerts_file)


cdef inline int ids_decide(ids_state* st, ids_conn* conn, ids_dir* d, uint64_t now, bint ips,
                           bint blocked_out) noexcept nogil:
    """Apply the rules fired by this packet, in rule-file order."""
    cdef uint32_t i, j, r
    cdef bint block = False
    for i in range(1, st.n_fired):  # insertion sort: a handful at most
        r = st.fired[i]
        j = i
        while j > 0 and st.fired[j - 1] > r:
            st.fired[j] = st.fired[j - 1]
            j -= 1
        st.fired[j] = r
    for i in range(st.n_fired):
        if st.rules[st.fired[i]].action == IDS_ACTION_PASS:
            if d != NULL:
                d.passed = 1
            return IDS_OUT
    for i in range(st.n_fired):
        r = st.fired[i]
        if ips and st.rules[r].action == IDS_ACTION_DROP:
            block = True
    for i in range(st.n_fired):
        r = st.fired[i]
        ids_alert(st, &st.rules[r], now, ips and st.rules[r].action == IDS_ACTION_DROP)
        st.alerts += 1
    if not block:
        return IDS_OUT
    if conn != NULL:
        conn.blocked = 1
        st.blocked_flows += 1
    return IDS_BLOCKED_OUT if blocked_out else IDS_BLOCKED_DROP


# -- payload ----------------------------------------------------------------------

cdef inline int ids_segments(rte_mbuf* m, uint32_t off, uint32_t length, const char** data,
                             unsigned* lens) noexcept nogil:
    """The payload [off, off + length) as up to IDS_MAX_SEGMENTS pieces of the mbuf chain;
    their number, or -1 if the chain is longer or shorter than that."""
    cdef rte_mbuf* seg = m
    cdef int n = 0
    cdef uint32_t take
    while seg != NULL and off >= seg.data_len:
        off -= seg.data_len
        seg = seg.next
    while length and seg != NULL:
        if n == IDS_MAX_SEGMENTS:
            return -1
        take = seg.data_len - off
        if take > length:
            take = length
        data[n] = <const char*>chainc_mbuf_data(seg) + off
        lens[n] = take
        n += 1
        length -= take
        off = 0
        seg = seg.next
    return -1 if length else n


# -- the connection table ------------------------------------------------------------

cdef inline void ids_unlink(ids_state* st, uint32_t pos) noexcept nogil:
    flow_queue_remove(&st.lru, <char*>&st.conns[0].link, sizeof(ids_conn), pos)


cdef inline void ids_append(ids_state* st, uint32_t pos) noexcept nogil:
    flow_queue_append(&st.lru, <char*>&st.conns[0].link, sizeof(ids_conn), pos)


cdef inline bint ids_is_expired(ids_state* st, uint32_t pos, uint64_t now) noexcept nogil:
    return now > st.conns[pos].last_ns and now - st.conns[pos].last_ns > st.timeout_ns


cdef inline void ids_remove_head(ids_state* st) noexcept nogil:
    cdef uint32_t pos = st.lru.head
    cdef void* key = NULL
    ids_unlink(st, pos)
    if rte_hash_get_key_with_position(st.hash, <int32_t>pos, &key) == 0:
        rte_hash_del_key_with_hash(st.hash, key, st.conns[pos].sig)
    st.count -= 1


cdef inline void ids_restart(ids_state* st, uint32_t pos, int d, bint forget_fired) noexcept nogil:
    """Start direction d's stream afresh: no bytes, no patterns seen (and no rules fired)."""
    cdef uint64_t* bits = st.bits + (2 * <size_t>pos + d) * (st.wp + st.wr)
    if st.streams != NULL:
        ids_hs_reset_stream(st.streams[2 * pos + d], 0, st.scratch, NULL, NULL)
    memset(bits, 0, (st.wp + (st.wr if forget_fired else 0)) * sizeof(uint64_t))
    if forget_fired:
        st.conns[pos].d[d].synced = 0
        st.conns[pos].d[d].passed = 0


cdef inline int32_t ids_connection(ids_state* st, const ids_key* key, uint32_t sig, uint64_t now) noexcept nogil:
    """The connection's position, made (or made afresh) if needed; -1 if it cannot be kept."""
    cdef int32_t pos = rte_hash_lookup_with_hash(st.hash, key, sig)
    cdef bint fresh = False
    if pos >= 0 and ids_is_expired(st, <uint32_t>pos, now):
        st.expired += 1
        fresh = True
        ids_unlink(st, <uint32_t>pos)
    elif pos >= 0:
        ids_unlink(st, <uint32_t>pos)
    else:
        if st.count == st.capacity:
            if ids_is_expired(st, st.lru.head, now):
                st.expired += 1
            else:
                st.evicted += 1
            ids_remove_head(st)
        pos = rte_hash_add_key_with_hash(st.hash, key, sig)
        if pos < 0 or <uint32_t>pos >= st.capacity:
            return -1
        st.count += 1
        st.conns[pos].sig = sig
        fresh = True
    if fresh:
        st.connections += 1
        st.conns[pos].blocked = 0
        ids_restart(st, <uint32_t>pos, 0, True)
        ids_restart(st, <uint32_t>pos, 1, True)
    ids_append(st, <uint32_t>pos)
    st.conns[pos].last_ns = now
    return pos


cdef inline bint ids_seq_lt(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) < 0


# -- per packet -----------------------------------------------------------------------

cdef inline int ids_tcp(ids_state* st, rte_mbuf* m, pkt_meta* meta, uint64_t now, bint ips,
                        bint blocked_out) noexcept nogil:
    cdef ids_key key
    cdef int32_t pos
    cdef int dir, i, n
    cdef uint32_t data_seq, end, skip
    cdef uint32_t h
    cdef ids_conn* conn
    cdef ids_dir* d
    cdef const char* pieces[IDS_MAX_SEGMENTS]
    cdef unsigned lens[IDS_MAX_SEGMENTS]
    for i in range(IDS_RECLAIM):
        if st.lru.head == FLOW_NIL or not ids_is_expired(st, st.lru.head, now):
            break
        ids_remove_head(st)
        st.expired += 1
    memset(&key, 0, sizeof(key))
    # Direction 0 goes from the lower endpoint (address, then port) to the higher one.
    dir = 0
    if st.p_src_hi != st.p_dst_hi:
        dir = st.p_src_hi > st.p_dst_hi
    elif st.p_src_lo != st.p_dst_lo:
        dir = st.p_src_lo > st.p_dst_lo
    else:
        dir = st.p_sport > st.p_dport
    key.a_hi = st.p_dst_hi if dir else st.p_src_hi
    key.a_lo = st.p_dst_lo if dir else st.p_src_lo
    key.a_port = st.p_dport if dir else st.p_sport
    key.b_hi = st.p_src_hi if dir else st.p_dst_hi
    key.b_lo = st.p_src_lo if dir else st.p_dst_lo
    key.b_port = st.p_sport if dir else st.p_dport
    h = rte_hash_crc(&key, sizeof(key), 0)
    pos = ids_connection(st, &key, h, now)
    if pos < 0:
        st.uninspected += 1
        return IDS_OUT
    conn = &st.conns[pos]
    if conn.blocked:
        return IDS_BLOCKED_OUT if blocked_out else IDS_BLOCKED_DROP
    d = &conn.d[dir]
    if d.passed:
        return IDS_OUT
    st.cur_bits = st.bits + (2 * <size_t>pos + dir) * (st.wp + st.wr)
    ids_header_rules(st)
    data_seq = meta.tcp_seq
    if meta.tcp_flags & 0x02:  # SYN: the direction starts over, its data one byte later
        ids_restart(st, <uint32_t>pos, dir, True)
        data_seq += 1
        d.synced = 1
        d.next_seq = data_seq
    if meta.payload_len and st.streams != NULL:
        if not d.synced:
            d.synced = 1
            d.next_seq = data_seq
        end = data_seq + meta.payload_len
        if ids_seq_lt(d.next_seq, data_seq):  # a gap: the missing bytes never come in order
            st.gaps += 1
            ids_restart(st, <uint32_t>pos, dir, False)
            d.next_seq = data_seq
        if ids_seq_lt(d.next_seq, end):  # bytes not seen yet (the rest was retransmitted)
            skip = d.next_seq - data_seq
            n = ids_segments(m, meta.payload_off + skip, meta.payload_len - skip, pieces, lens)
            if n < 0:
                st.uninspected += 1
            for i in range(n):
                ids_hs_scan_stream(st.streams[2 * pos + dir], pieces[i], lens[i], 0, st.scratch,
                                   ids_on_match, st)
            d.next_seq = end
    return ids_decide(st, conn, d, now, ips, blocked_out)


cdef inline int ids_process(ids_state* st, rte_mbuf* m, pkt_meta* meta, int in_port, bint ips,
                            bint blocked_out) noexcept nogil:
    cdef uint64_t now
    cdef const char* pieces[IDS_MAX_SEGMENTS]
    cdef unsigned lens[IDS_MAX_SEGMENTS]
    cdef int n
    if not (meta.flags & (META_L3_IPV4 | META_L3_IPV6)) or not (meta.flags & META_L4_OK) \
            or (meta.flags & META_FRAG):
        st.uninspected += 1  # no L4 header to match ports against (fragments, non-IP)
        return IDS_OUT
    if meta.flags & META_L3_IPV4:
        st.p_family = 4
        st.p_src_hi = meta.ip4_src
        st.p_src_lo = 0
        st.p_dst_hi = meta.ip4_dst
        st.p_dst_lo = 0
    else:
        st.p_family = 6
        st.p_src_hi = meta.ip6_src_hi
        st.p_src_lo = meta.ip6_src_lo
        st.p_dst_hi = meta.ip6_dst_hi
        st.p_dst_lo = meta.ip6_dst_lo
    st.p_proto = meta.ip_proto
    st.p_sport = meta.sport
    st.p_dport = meta.dport
    st.n_fired = 0
    now = chainc_now_ns(m)
    if meta.ip_proto == 6:
        return ids_tcp(st, m, meta, now, ips, blocked_out)
    memset(st.pkt_bits, 0, (st.wp + st.wr) * sizeof(uint64_t))
    st.cur_bits = st.pkt_bits
    ids_header_rules(st)
    if meta.payload_len and st.block_db != NULL:
        n = ids_segments(m, meta.payload_off, meta.payload_len, pieces, lens)
        if n < 0:
            st.uninspected += 1
        elif n > 0:
            ids_hs_scan_vector(st.block_db, pieces, lens, <unsigned>n, 0, st.scratch, ids_on_match, st)
    return ids_decide(st, NULL, NULL, now, ips, blocked_out)


# -- start-up and exit ------------------------------------------------------------------

cdef inline int ids_compile(ids_state* st, ids_hs_database** db, unsigned mode, int want_stream,
                            const char* exprs, const uint32_t* expr_off, const uint32_t* flags,
                            const uint64_t* offsets, const uint8_t* in_stream,
                            char* err, size_t errlen) noexcept nogil:
    """Compile the patterns that go into one database (none: db stays NULL); 0 or -1."""
    cdef const char** e = <const char**>malloc(st.n_patterns * sizeof(char*) + 8)
    cdef unsigned* f = <unsigned*>malloc(st.n_patterns * sizeof(unsigned) + 8)
    cdef unsigned* ids = <unsigned*>malloc(st.n_patterns * sizeof(unsigned) + 8)
    cdef ids_hs_expr_ext* ext = <ids_hs_expr_ext*>calloc(st.n_patterns + 1, sizeof(ids_hs_expr_ext))
    cdef const ids_hs_expr_ext** extp = <const ids_hs_expr_ext**>malloc(st.n_patterns * sizeof(void*) + 8)
    cdef ids_hs_compile_error* cerr = NULL
    cdef unsigned n = 0
    cdef uint32_t p
    cdef int rc = 0
    db[0] = NULL
    if e == NULL or f == NULL or ids == NULL or ext == NULL or extp == NULL:
        snprintf(err, errlen, "out of memory")
        rc = -1
    else:
        for p in range(st.n_patterns):
            if (in_stream[p] & (1 if want_stream else 2)) == 0:
                continue
            e[n] = exprs + expr_off[p]
            f[n] = flags[p]
            ids[n] = p
            ext[n].flags = (1 if offsets[2 * p] else 0) | (2 if offsets[2 * p + 1] else 0)
            ext[n].min_offset = offsets[2 * p]
            ext[n].max_offset = offsets[2 * p + 1]
            extp[n] = &ext[n]
            n += 1
        if n and ids_hs_compile(e, f, ids, extp, n, mode, NULL, db, &cerr) != IDS_HS_SUCCESS:
            snprintf(err, errlen, "pattern %d: %s",
                     <int>ids[cerr.expression] if cerr.expression >= 0 else -1, cerr.message)
            ids_hs_free_compile_error(cerr)
            db[0] = NULL
            rc = -1
    free(e)
    free(f)
    free(ids)
    free(ext)
    free(extp)
    return rc


cdef inline int ids_setup(ids_state* st, const uint64_t* rules, uint32_t n_rules, const char* exprs,
                          const uint32_t* expr_off, const uint32_t* flags, const uint64_t* offsets,
                          const uint8_t* in_stream, uint32_t n_patterns, const char* json,
                          uint32_t capacity, uint64_t timeout_ns, const char* name,
                          char* err, size_t errlen) noexcept nogil:
    """Compile the databases, open the streams, create the connection table; 0 or -1 with `err`."""
    cdef const uint64_t* w
    cdef ids_rule* r
    cdef uint32_t i, p
    cdef size_t words
    memset(st, 0, sizeof(ids_state))
    st.n_rules = n_rules
    st.n_patterns = n_patterns
    st.json = json
    st.capacity = capacity
    st.timeout_ns = timeout_ns
    flow_queue_init(&st.lru)
    st.wp = (n_patterns + 63) // 64
    st.wr = (n_rules + 63) // 64
    words = st.wp + st.wr
    st.rules = <ids_rule*>calloc(n_rules + 1, sizeof(ids_rule))
    st.pattern_rule = <uint32_t*>calloc(n_patterns + 1, sizeof(uint32_t))
    st.header_only = <uint32_t*>calloc(n_rules + 1, sizeof(uint32_t))
    st.pkt_bits = <uint64_t*>calloc(words + 1, sizeof(uint64_t))
    st.bits = <uint64_t*>calloc(2 * <size_t>capacity * words + 1, sizeof(uint64_t))
    st.conns = <ids_conn*>calloc(capacity, sizeof(ids_conn))
    if (st.rules == NULL or st.pattern_rule == NULL or st.header_only == NULL or st.pkt_bits == NULL
            or st.bits == NULL or st.conns == NULL):
        snprintf(err, errlen, "out of memory for %u connections", capacity)
        return -1
    for i in range(n_rules):
        w = rules + <size_t>i * IDS_RULE_WORDS
        r = &st.rules[i]
        r.action = <uint8_t>w[0]
        r.proto = <uint8_t>w[1]
        r.bidirectional = <uint8_t>w[2]
        r.src_family = <uint8_t>(w[3] & 0xFF)
        r.dst_family = <uint8_t>(w[3] >> 8)
        r.src_hi = w[4]
        r.src_lo = w[5]
        r.src_mask_hi = w[6]
        r.src_mask_lo = w[7]
        r.dst_hi = w[8]
        r.dst_lo = w[9]
        r.dst_mask_hi = w[10]
        r.dst_mask_lo = w[11]
        r.sport_lo = <uint16_t>(w[12] >> 16)
        r.sport_hi = <uint16_t>w[12]
        r.dport_lo = <uint16_t>(w[13] >> 16)
        r.dport_hi = <uint16_t>w[13]
        r.first_pattern = <uint32_t>(w[14] >> 32)
        r.n_patterns = <uint32_t>w[14]
        r.json_off = <uint32_t>(w[15] >> 32)
        r.json_len = <uint32_t>w[15]
        for p in range(r.first_pattern, r.first_pattern + r.n_patterns):
            st.pattern_rule[p] = i
        if r.n_patterns == 0:
            st.header_only[st.n_header_only] = i
            st.n_header_only += 1
    if ids_compile(st, &st.stream_db, IDS_HS_MODE_STREAM, 1, exprs, expr_off, flags, offsets,
                   in_stream, err, errlen) < 0:
        return -1
    if ids_compile(st, &st.block_db, IDS_HS_MODE_VECTORED, 0, exprs, expr_off, flags, offsets,
                   in_stream, err, errlen) < 0:
        return -1
    if ((st.stream_db != NULL and ids_hs_alloc_scratch(st.stream_db, &st.scratch) != IDS_HS_SUCCESS)
            or (st.block_db != NULL and ids_hs_alloc_scratch(st.block_db, &st.scratch) != IDS_HS_SUCCESS)):
        snprintf(err, errlen, "cannot allocate Hyperscan scratch space")
        return -1
    if st.stream_db != NULL:
        st.streams = <ids_hs_stream**>calloc(2 * <size_t>capacity, sizeof(void*))
        if st.streams == NULL:
            snprintf(err, errlen, "out of memory for %u connections", capacity)
            return -1
        for i in range(2 * capacity):
            if ids_hs_open_stream(st.stream_db, 0, &st.streams[i]) != IDS_HS_SUCCESS:
                snprintf(err, errlen, "cannot open %u Hyperscan streams", 2 * capacity)
                return -1
    # rte_hash_crc: the signatures the packet path passes are computed with it
    st.hash = flow_table_create(name, capacity, sizeof(ids_key), <rte_hash_function>rte_hash_crc)
    if st.hash == NULL:
        snprintf(err, errlen, "cannot create the connection table (rte_errno %d)", rte_errno)
        return -1
    return 0


cdef inline int ids_open_alerts(ids_state* st, const char* path) noexcept nogil:
    st.alerts_file = fopen(path, "a")
    if st.alerts_file == NULL:
        return -1
    st.alert_buffer = <char*>malloc(IDS_ALERT_BUFFER)
    if st.alert_buffer != NULL:
        setvbuf(st.alerts_file, st.alert_buffer, _IOFBF, IDS_ALERT_BUFFER)
    return 0


cdef inline int ids_close(ids_state* st) noexcept nogil:
    """Flush and close the alert file, free everything; -1 if the alerts could not be written."""
    cdef int rc = 0
    cdef uint32_t i
    if st.alerts_file != NULL:
        rc = -1 if fclose(st.alerts_file) != 0 else 0
        st.alerts_file = NULL
    free(st.alert_buffer)
    if st.streams != NULL:
        for i in range(2 * st.capacity):
            if st.streams[i] != NULL:
                ids_hs_close_stream(st.streams[i], NULL, NULL, NULL)
        free(st.streams)
    ids_hs_free_scratch(st.scratch)
    ids_hs_free_database(st.stream_db)
    ids_hs_free_database(st.block_db)
    rte_hash_free(st.hash)
    free(st.rules)
    free(st.pattern_rule)
    free(st.header_only)
    free(st.pkt_bits)
    free(st.bits)
    free(st.conns)
    # The counters stay: the statistics are read after this.
    st.streams = NULL
    st.scratch = NULL
    st.stream_db = NULL
    st.block_db = NULL
    st.hash = NULL
    st.rules = NULL
    st.pattern_rule = NULL
    st.header_only = NULL
    st.pkt_bits = NULL
    st.bits = NULL
    st.conns = NULL
    st.alert_buffer = NULL
    return rc
