# ConnTrack native body: connection tracking on DPDK's rte_hash.
#
# Theory of operation (docs/conntrack.md is the specification)
#
# A connection's key is its protocol, IP version and two endpoints, sorted,
# so both directions find one entry (ICMP echo: requester, responder and
# identifier, unsorted; other protocols: the address pair). rte_hash maps
# the key to a position, and the position indexes an array of connection
# records allocated once at start-up: per-packet work is one hash, one
# lookup, and writes to one 56-byte record. The record remembers which
# endpoint opened the connection, whether a reply was seen, the TCP state
# and, per direction, the TCP window data of Linux conntrack.
#
# Timeouts never need a scan: every record sits in one doubly linked queue
# per timeout class (TCP state, UDP, UDP stream, ICMP, other), in the order
# of its last refresh, so each queue's head expires first. Before each
# packet up to two expired heads are removed; a lookup that finds an
# expired record removes it; a full table removes one more before refusing.
#
# The packet path reads headers through the metadata, and bytes of the frame
# (TCP options of a SYN, the header an ICMP error quotes) only after
# checking them against the first segment's length.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from libc.string cimport memset, memcpy
from dpdk cimport rte_mbuf, rte_errno, chainc_mbuf_data, chainc_now_ns
from flowtable cimport (rte_hash, rte_hash_crc, rte_hash_function, rte_hash_set_cmp_func, rte_hash_hash,
                        rte_hash_lookup_with_hash, rte_hash_add_key_with_hash, rte_hash_del_key,
                        rte_hash_get_key_with_position, flow_table_create, flow_records,
                        FLOW_NIL, flow_link, flow_queue, flow_queue_init, flow_queue_remove,
                        flow_queue_append)
from meta cimport (pkt_meta, META_L3_IPV4, META_L3_IP, META_FRAG, META_SPLIT,
                   META_IPV6_EXT_LIMIT, META_L4_BAD, META_CT_NEW, META_CT_ESTABLISHED,
                   META_CT_RELATED, META_CT_INVALID, META_CT_EV_START, META_CT_EV_ESTABLISHED,
                   META_CT_EV_END, META_CT_EV_RETRANS, META_CT_EV_STATE)

cdef enum:
    CONNTRACK_NEW = 0          # outputs
    CONNTRACK_ESTABLISHED = 1
    CONNTRACK_INVALID = 2
    CONNTRACK_TABLE_FULL = -1  # drop_reasons[0]

    CONNTRACK_QUEUES = 13      # timeout classes: 0 other, 1..9 TCP states, then:
    CONNTRACK_Q_GENERIC = 0
    CONNTRACK_Q_UDP = 10
    CONNTRACK_Q_UDP_STREAM = 11
    CONNTRACK_Q_ICMP = 12

    CONNTRACK_ORIG_IS_A = 1    # record status bits
    CONNTRACK_REPLIED = 2
    CONNTRACK_LIBERAL = 4

    # TCP states this code names (Linux numbering), the table's two verdicts,
    # segment kinds
    CT_SS = 1
    CT_SR = 2
    CT_ES = 3
    CT_TW = 7
    CT_CL = 8
    CT_IV = 10
    CT_IG = 11
    CT_K_SYN = 0
    CT_K_SYNACK = 1
    CT_K_FIN = 2
    CT_K_ACK = 3
    CT_K_RST = 4
    CT_K_NONE = 5

    CONNTRACK_ERR_HASH = 1     # conntrack_setup's failures
    CONNTRACK_ERR_NOMEM = 2

cdef extern from *:
    """
    /* Keys are 40 bytes: five word compares instead of rte_hash's memcmp. */
    static int conntrack_key_differs(const void *a, const void *b, size_t len)
    {
        const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;
        (void)len;
        return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) != 0;
    }
    /* Bit i set: the flags i (FIN 1, SYN 2, RST 4, ACK 16, URG 32; PSH, ECE and
       CWR masked off) are a combination a TCP segment may carry. */
    #define CONNTRACK_VALID_FLAGS ((1ULL << 0x02) | (1ULL << 0x22) | (1ULL << 0x12) | (1ULL << 0x04) | (1ULL << 0x14) | (1ULL << 0x11) | (1ULL << 0x31) | (1ULL << 0x10) | (1ULL << 0x30))
    /* [direction][segment kind][old state] -> new state (docs/conntrack.md):
       states 0..9 as Linux numbers them, 10 invalid, 11 ignore. */
    static const unsigned char conntrack_tcp_table[2][6][10] = {
        {{1, 1, 11, 11, 11, 11, 11, 1, 1, 9},     /* original: SYN */
         {10, 10, 11, 11, 11, 11, 11, 11, 11, 2}, /* SYN+ACK */
         {10, 10, 4, 4, 6, 6, 6, 7, 8, 10},       /* FIN */
         {3, 10, 3, 3, 5, 5, 7, 7, 8, 10},        /* ACK */
         {10, 8, 8, 8, 8, 8, 8, 8, 8, 8},         /* RST */
         {10, 10, 10, 10, 10, 10, 10, 10, 10, 10}},
        {{10, 9, 10, 10, 10, 10, 10, 10, 10, 9},  /* reply: SYN */
         {10, 2, 11, 11, 11, 11, 11, 11, 11, 2},  /* SYN+ACK */
         {10, 10, 4, 4, 6, 6, 6, 7, 8, 10},       /* FIN */
         {10, 11, 2, 3, 5, 5, 7, 7, 8, 11},       /* ACK */
         {10, 8, 8, 8, 8, 8, 8, 8, 8, 8},         /* RST */
         {10, 10, 10, 10, 10, 10, 10, 10, 10, 10}},
    };
    """
    int conntrack_key_differs(const void* a, const void* b, size_t len) noexcept nogil
    const uint64_t CONNTRACK_VALID_FLAGS
    const uint8_t conntrack_tcp_table[2][6][10]


# The instance's `allow_new` test, or NULL: whether a packet may open a connection.
ctypedef bint (*conntrack_opener)(pkt_meta* meta, const uint8_t* data) noexcept nogil


cdef struct conntrack_key:     # 40 bytes; endpoint a sorts before b (echo: a requests)
    uint64_t a_hi
    uint64_t a_lo
    uint64_t b_hi
    uint64_t b_lo
    uint16_t a_port
    uint16_t b_port
    uint8_t proto
    uint8_t family
    uint16_t zero


cdef struct conntrack_side:    # what one direction of a TCP connection sent
    uint32_t end
    uint32_t maxend
    uint32_t maxwin
    uint8_t scale
    uint8_t wscale             # its SYN carried the window scale option
    uint16_t _pad


cdef struct conntrack_conn:    # 56 bytes, one per rte_hash position
    uint64_t deadline
    uint32_t id
    flow_link link             # neighbours in its timeout queue
    uint8_t tcp
    uint8_t status
    uint8_t queue
    uint8_t proto
    conntrack_side side[2]


cdef struct conntrack_state:
    rte_hash* table
    conntrack_conn* conns
    uint64_t timeout[CONNTRACK_QUEUES]
    flow_queue queues[CONNTRACK_QUEUES]
    uint32_t size
    uint32_t next_id
    int strict
    int failed_errno
    uint64_t connections
    uint64_t refused
    uint64_t closed
    uint64_t expired
    uint64_t retransmissions
    uint64_t tracked


cdef inline int conntrack_setup(conntrack_state* st, const char* name, uint32_t size, int strict,
                                const uint64_t* timeouts) noexcept nogil:
    """Create the table; 0 or a CONNTRACK_ERR_* code."""
    cdef int q
    st.table = flow_table_create(name, size, sizeof(conntrack_key), <rte_hash_function>rte_hash_crc)
    if st.table == NULL:
        st.failed_errno = rte_errno
        return CONNTRACK_ERR_HASH
    rte_hash_set_cmp_func(st.table, conntrack_key_differs)
    st.conns = <conntrack_conn*>flow_records(st.table, sizeof(conntrack_conn), b"conntrack")
    if st.conns == NULL:
        return CONNTRACK_ERR_NOMEM
    for q in range(CONNTRACK_QUEUES):
        st.timeout[q] = timeouts[q]
        flow_queue_init(&st.queues[q])
    st.size = size
    st.strict = strict
    st.next_id = 1
    return 0


# -- sequence numbers, endpoints ----------------------------------------------

cdef inline bint conntrack_after(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(b - a) < 0


cdef inline bint conntrack_le(uint64_t ahi, uint64_t alo, uint16_t aport,
                              uint64_t bhi, uint64_t blo, uint16_t bport) noexcept nogil:
    """Endpoint a sorts before or equal to b (address, then port)."""
    if ahi != bhi:
        return ahi < bhi
    if alo != blo:
        return alo < blo
    return aport <= bport


cdef inline bint conntrack_pair(conntrack_key* k, uint8_t family, uint8_t proto,
                                uint64_t shi, uint64_t slo, uint16_t sport,
                                uint64_t dhi, uint64_t dlo, uint16_t dport) noexcept nogil:
    """The key of the connection between two endpoints; true if the sender sorts first."""
    cdef bint first = conntrack_le(shi, slo, sport, dhi, dlo, dport)
    k.family = family
    k.proto = proto
    k.zero = 0
    if first:
        k.a_hi, k.a_lo, k.a_port, k.b_hi, k.b_lo, k.b_port = shi, slo, sport, dhi, dlo, dport
    else:
        k.a_hi, k.a_lo, k.a_port, k.b_hi, k.b_lo, k.b_port = dhi, dlo, dport, shi, slo, sport
    return first


cdef inline void conntrack_echo(conntrack_key* k, uint8_t family, uint8_t proto,
                                uint64_t rhi, uint64_t rlo, uint64_t phi, uint64_t plo,
                                uint16_t ident) noexcept nogil:
    """The key of an echo exchange: requester r, responder p, identifier."""
    k.family = family
    k.proto = proto
    k.zero = 0
    k.a_hi, k.a_lo, k.a_port = rhi, rlo, ident
    k.b_hi, k.b_lo, k.b_port = phi, plo, 0


# -- the table and its timeout queues -------------------------------------------

cdef inline void conntrack_unlink(conntrack_state* st, uint32_t i) noexcept nogil:
    flow_queue_remove(&st.queues[st.conns[i].queue], <char*>&st.conns[0].link, sizeof(conntrack_conn), i)


cdef inline void conntrack_link(conntrack_state* st, uint32_t i, uint8_t q, uint64_t now) noexcept nogil:
    cdef conntrack_conn* c = &st.conns[i]
    c.queue = q
    c.deadline = now + st.timeout[q]
    flow_queue_append(&st.queues[q], <char*>&st.conns[0].link, sizeof(conntrack_conn), i)


cdef inline void conntrack_refresh(conntrack_state* st, uint32_t i, uint8_t q, uint64_t now) noexcept nogil:
    conntrack_unlink(st, i)
    conntrack_link(st, i, q, now)


cdef inline void conntrack_remove(conntrack_state* st, uint32_t i) noexcept nogil:
    cdef void* stored
    cdef conntrack_key key
    conntrack_unlink(st, i)
    rte_hash_get_key_with_position(st.table, <int32_t>i, &stored)
    memcpy(&key, stored, sizeof(key))  # rte_hash must not compare against the slot it frees
    rte_hash_del_key(st.table, &key)
    st.tracked -= 1


cdef inline bint conntrack_reclaim_one(conntrack_state* st, uint64_t now) noexcept nogil:
    """Remove the expired queue head with the earliest deadline, if any."""
    cdef int q
    cdef uint32_t best = FLOW_NIL
    cdef uint32_t h
    for q in range(CONNTRACK_QUEUES):
        h = st.queues[q].head
        if h != FLOW_NIL and st.conns[h].deadline <= now:
            if best == FLOW_NIL or st.conns[h].deadline < st.conns[best].deadline:
                best = h
    if best == FLOW_NIL:
        return False
    conntrack_remove(st, best)
    st.expired += 1
    return True


cdef inline int32_t conntrack_find(conntrack_state* st, const conntrack_key* k, uint32_t sig,
                                   uint64_t now) noexcept nogil:
    """The live record of the key, or -1 (an expired one is removed)."""
    cdef int32_t pos = rte_hash_lookup_with_hash(st.table, k, sig)
    if pos >= 0 and st.conns[pos].deadline <= now:
        conntrack_remove(st, <uint32_t>pos)
        st.expired += 1
        return -1
    return pos


cdef inline int32_t conntrack_create(conntrack_state* st, const conntrack_key* k, uint32_t sig,
                                     bint orig_is_a, uint8_t q, uint64_t now) noexcept nogil:
    """A new record for the key, or -1 when the table is full."""
    cdef int32_t pos
    cdef conntrack_conn* c
    if st.tracked >= st.size and not conntrack_reclaim_one(st, now):
        return -1
    pos = rte_hash_add_key_with_hash(st.table, k, sig)
    if pos < 0:
        return -1
    c = &st.conns[pos]
    memset(c, 0, sizeof(conntrack_conn))
    c.id = st.next_id
    st.next_id = st.next_id + 1 if st.next_id != 0xFFFFFFFFu else 1
    c.status = CONNTRACK_ORIG_IS_A if orig_is_a else 0
    c.proto = k.proto
    conntrack_link(st, <uint32_t>pos, q, now)
    st.connections += 1
    st.tracked += 1
    return pos


cdef inline bint conntrack_refuses(conntrack_state* st, conntrack_opener may_open, pkt_meta* meta,
                                   rte_mbuf* m) noexcept nogil:
    """True (and counted) when `allow_new` forbids this packet to open a connection."""
    if may_open != NULL and not may_open(meta, chainc_mbuf_data(m)):
        st.refused += 1
        return True
    return False


cdef inline int conntrack_mark(pkt_meta* meta, conntrack_conn* c, int direction,
                               uint8_t events) noexcept nogil:
    meta.ct_events = events
    meta.ct_dir = <uint8_t>direction
    meta.ct_id = c.id
    meta.ct_tcp_state = c.tcp
    if c.status & CONNTRACK_REPLIED:
        meta.ct_state = META_CT_ESTABLISHED
        return CONNTRACK_ESTABLISHED
    meta.ct_state = META_CT_NEW
    return CONNTRACK_NEW


cdef inline int conntrack_invalid(pkt_meta* meta, conntrack_conn* c, int direction) noexcept nogil:
    meta.ct_id = c.id
    meta.ct_dir = <uint8_t>direction
    meta.ct_tcp_state = c.tcp
    return CONNTRACK_INVALID


cdef inline uint8_t conntrack_reply_seen(conntrack_conn* c, int direction) noexcept nogil:
    if direction == 1 and not (c.status & CONNTRACK_REPLIED):
        c.status |= CONNTRACK_REPLIED
        return META_CT_EV_ESTABLISHED
    return 0


cdef inline int conntrack_direction(conntrack_conn* c, bint sender_is_a) noexcept nogil:
    return 0 if sender_is_a == ((c.status & CONNTRACK_ORIG_IS_A) != 0) else 1


# -- UDP and other protocols ------------------------------------------------------

cdef inline int conntrack_datagram(conntrack_state* st, rte_mbuf* m, pkt_meta* meta,
                                   conntrack_opener may_open, conntrack_key* k, bint sender_is_a,
                                   uint8_t first_q, uint8_t answered_q, uint64_t now) noexcept nogil:
    cdef uint32_t sig = rte_hash_hash(st.table, k)
    cdef int32_t pos = conntrack_find(st, k, sig, now)
    cdef uint8_t events = 0
    cdef conntrack_conn* c
    cdef int direction
    if pos < 0:
        if conntrack_refuses(st, may_open, meta, m):
            return CONNTRACK_INVALID
        pos = conntrack_create(st, k, sig, sender_is_a, first_q, now)
        if pos < 0:
            return CONNTRACK_TABLE_FULL
        events = META_CT_EV_START
    c = &st.conns[pos]
    direction = conntrack_direction(c, sender_is_a)
    events |= conntrack_reply_seen(c, direction)
    conntrack_refresh(st, <uint32_t>pos, answered_q if c.status & CONNTRACK_REPLIED else first_q, now)
    return conntrack_mark(meta, c, direction, events)


# -- ICMP ------------------------------------------------------------------------

cdef inline uint64_t conntrack_be64(const uint8_t* p) noexcept nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(8):
        v = (v << 8) | p[i]
    return v


cdef inline bint conntrack_is_error(uint8_t family, uint8_t t) noexcept nogil:
    if family == 4:
        return t == 3 or t == 4 or t == 5 or t == 11 or t == 12
    return t >= 1 and t <= 4


cdef inline int conntrack_related(conntrack_state* st, rte_mbuf* m, pkt_meta* meta,
                                  uint8_t family, uint64_t now) noexcept nogil:
    """An ICMP error: find the connection of the header it quotes."""
    cdef const uint8_t* d = chainc_mbuf_data(m)
    cdef uint32_t off = meta.l4_off + 8
    cdef uint32_t limit = meta.l3_off + meta.ip_len
    cdef uint32_t l4
    cdef uint64_t shi = 0, slo, dhi = 0, dlo
    cdef uint8_t proto, icmp, request, reply
    cdef uint16_t sport, dport, ident
    cdef conntrack_key k
    cdef bint sender_is_a = False
    cdef int32_t pos
    cdef int towards = -1  # set for echo; else from the quoted sender
    cdef conntrack_conn* c
    if limit > m.data_len:
        limit = m.data_len
    if family == 4:
        if off + 20 > limit or (d[off] >> 4) != 4 or (d[off] & 15) < 5:
            return CONNTRACK_INVALID
        l4 = off + (d[off] & 15) * 4u
        proto = d[off + 9]
        slo = (<uint64_t>d[off + 12] << 24) | (<uint64_t>d[off + 13] << 16) | (<uint64_t>d[off + 14] << 8) | d[off + 15]
        dlo = (<uint64_t>d[off + 16] << 24) | (<uint64_t>d[off + 17] << 16) | (<uint64_t>d[off + 18] << 8) | d[off + 19]
        icmp, request, reply = 1, 8, 0
    else:
        if off + 40 > limit or (d[off] >> 4) != 6:
            return CONNTRACK_INVALID
        l4 = off + 40
        proto = d[off + 6]
        if proto == 0 or proto == 43 or proto == 44 or proto == 50 or proto == 51 or proto == 60:
            return CONNTRACK_INVALID
        shi = conntrack_be64(d + off + 8)
        slo = conntrack_be64(d + off + 16)
        dhi = conntrack_be64(d + off + 24)
        dlo = conntrack_be64(d + off + 32)
        icmp, request, reply = 58, 128, 129
    if proto == 6 or proto == 17:
        if l4 + 4 > limit:
            return CONNTRACK_INVALID
        sport = (<uint16_t>d[l4] << 8) | d[l4 + 1]
        dport = (<uint16_t>d[l4 + 2] << 8) | d[l4 + 3]
        sender_is_a = conntrack_pair(&k, family, proto, shi, slo, sport, dhi, dlo, dport)
    elif proto == icmp:
        if l4 + 8 > limit:
            return CONNTRACK_INVALID
        ident = (<uint16_t>d[l4 + 4] << 8) | d[l4 + 5]
        if d[l4] == request:
            conntrack_echo(&k, family, proto, shi, slo, dhi, dlo, ident)
            towards = 1
        elif d[l4] == reply:
            conntrack_echo(&k, family, proto, dhi, dlo, shi, slo, ident)
            towards = 0
        else:
            return CONNTRACK_INVALID
    else:
        sender_is_a = conntrack_pair(&k, family, proto, shi, slo, 0, dhi, dlo, 0)
    pos = conntrack_find(st, &k, rte_hash_hash(st.table, &k), now)
    if pos < 0:
        return CONNTRACK_INVALID
    c = &st.conns[pos]
    if towards < 0:
        towards = 1 - conntrack_direction(c, sender_is_a)
    meta.ct_state = META_CT_RELATED
    meta.ct_dir = <uint8_t>towards
    meta.ct_id = c.id
    meta.ct_tcp_state = c.tcp
    return CONNTRACK_ESTABLISHED


cdef inline int conntrack_icmp(conntrack_state* st, rte_mbuf* m, pkt_meta* meta,
                               conntrack_opener may_open, uint8_t family, uint64_t shi, uint64_t slo,
                               uint64_t dhi, uint64_t dlo, uint64_t now) noexcept nogil:
    cdef uint8_t request = 8 if family == 4 else 128
    cdef uint8_t reply = 0 if family == 4 else 129
    cdef conntrack_key k
    cdef uint32_t sig
    cdef int32_t pos
    cdef uint8_t events = 0
    if meta.icmp_type == request or meta.icmp_type == reply:
        if meta.payload_off - meta.l4_off < 8:  # no identifier
            return CONNTRACK_INVALID
        if meta.icmp_type == request:
            conntrack_echo(&k, family, meta.ip_proto, shi, slo, dhi, dlo, meta.icmp_id)
        else:
            conntrack_echo(&k, family, meta.ip_proto, dhi, dlo, shi, slo, meta.icmp_id)
        sig = rte_hash_hash(st.table, &k)
        pos = conntrack_find(st, &k, sig, now)
        if meta.icmp_type == request:
            if pos < 0:
                if conntrack_refuses(st, may_open, meta, m):
                    return CONNTRACK_INVALID
                pos = conntrack_create(st, &k, sig, True, CONNTRACK_Q_ICMP, now)
                if pos < 0:
                    return CONNTRACK_TABLE_FULL
                events = META_CT_EV_START
            conntrack_refresh(st, <uint32_t>pos, CONNTRACK_Q_ICMP, now)
            return conntrack_mark(meta, &st.conns[pos], 0, events)
        if pos < 0:
            return CONNTRACK_INVALID
        events = conntrack_reply_seen(&st.conns[pos], 1)
        conntrack_refresh(st, <uint32_t>pos, CONNTRACK_Q_ICMP, now)
        return conntrack_mark(meta, &st.conns[pos], 1, events)
    if conntrack_is_error(family, meta.icmp_type):
        return conntrack_related(st, m, meta, family, now)
    return CONNTRACK_INVALID


# -- TCP ---------------------------------------------------------------------------

cdef inline int conntrack_kind(uint8_t flags) noexcept nogil:
    if flags & 0x04:
        return CT_K_RST
    if flags & 0x02:
        return CT_K_SYNACK if flags & 0x10 else CT_K_SYN
    if flags & 0x01:
        return CT_K_FIN
    if flags & 0x10:
        return CT_K_ACK
    return CT_K_NONE


cdef inline void conntrack_wscale(rte_mbuf* m, pkt_meta* meta, conntrack_side* s) noexcept nogil:
    """The window scale option of a SYN, from the options in the first segment."""
    cdef const uint8_t* d = chainc_mbuf_data(m)
    cdef uint32_t i = meta.l4_off + 20
    cdef uint32_t stop = meta.payload_off if meta.payload_off < m.data_len else m.data_len
    s.wscale = 0
    s.scale = 0
    while i < stop:
        if d[i] == 0:
            return
        if d[i] == 1:
            i += 1
            continue
        if i + 1 >= stop or d[i + 1] < 2 or i + d[i + 1] > stop:
            return
        if d[i] == 3 and d[i + 1] == 3:
            s.wscale = 1
            s.scale = d[i + 2] if d[i + 2] < 14 else 14
            return
        i += d[i + 1]


cdef inline int conntrack_window(conntrack_conn* c, int direction, rte_mbuf* m, pkt_meta* meta,
                                 uint32_t end, uint8_t old) noexcept nogil:
    """Check the segment against the window and update it: -1 out of window,
    else 1 for a retransmission, 0 otherwise (docs/conntrack.md, window tracking)."""
    cdef conntrack_side* s = &c.side[direction]
    cdef conntrack_side* r = &c.side[1 - direction]
    cdef uint8_t flags = meta.tcp_flags
    cdef bint syn = (flags & 0x02) != 0
    cdef bint ack_set = (flags & 0x10) != 0
    cdef bint rst = (flags & 0x04) != 0
    cdef uint32_t seq = meta.tcp_seq
    cdef uint32_t ack = meta.tcp_ack
    cdef uint32_t win = meta.tcp_window
    cdef bint had_sent = s.maxwin != 0
    cdef uint32_t sent_end = s.end
    cdef bint has_space = meta.payload_len > 0 or (flags & 0x03) != 0
    cdef uint32_t maxack
    if not had_sent:
        if syn:
            s.end = end
            s.maxend = end
            s.maxwin = win if win else 1
            conntrack_wscale(m, meta, s)
            if not (s.wscale and r.wscale):
                s.scale = 0
                r.scale = 0
            if not ack_set:
                return 0
        else:
            s.end = end
            s.maxwin = win << s.scale
            if s.maxwin == 0:
                s.maxwin = 1
            s.maxend = end + s.maxwin
            if r.maxwin == 0:
                r.end = ack
                r.maxend = ack
    elif ((old == CT_SS and direction == 0) or (old == CT_SR and direction == 1)) \
            and conntrack_after(end, s.end):
        s.end = end
        s.maxend = end
        s.maxwin = win if win else 1
        conntrack_wscale(m, meta, s)
        had_sent = False
    if not ack_set or (rst and ack == 0):
        ack = r.end
    if seq == end and (not rst or (seq == 0 and old == CT_SS)):
        seq = s.end
        end = s.end
    maxack = s.maxwin if s.maxwin > 66000 else 66000
    if not (c.status & CONNTRACK_LIBERAL) and not (
            not conntrack_after(seq, s.maxend)
            and conntrack_after(end, s.end - r.maxwin - 1)
            and not conntrack_after(ack, r.end)
            and conntrack_after(ack, r.end - maxack - 1)):
        return -1
    if not syn:
        win <<= s.scale
    if win > s.maxwin:
        s.maxwin = win
    if conntrack_after(end, s.end):
        s.end = end
    if r.maxwin != 0 and conntrack_after(end, s.maxend):
        r.maxwin += end - s.maxend
    if conntrack_after(ack + win, r.maxend - 1):
        r.maxend = ack + win + (1 if win == 0 else 0)
    return 1 if had_sent and has_space and not conntrack_after(end, sent_end) else 0


cdef inline int conntrack_open(conntrack_state* st, pkt_meta* meta, rte_mbuf* m, conntrack_key* k,
                               uint32_t sig, bint sender_is_a, uint32_t end, uint64_t now) noexcept nogil:
    """A SYN opens a connection in SYN_SENT."""
    cdef int32_t pos = conntrack_create(st, k, sig, sender_is_a, CT_SS, now)
    cdef conntrack_conn* c
    if pos < 0:
        return CONNTRACK_TABLE_FULL
    c = &st.conns[pos]
    c.tcp = CT_SS
    c.side[0].end = end
    c.side[0].maxend = end
    c.side[0].maxwin = meta.tcp_window if meta.tcp_window else 1
    conntrack_wscale(m, meta, &c.side[0])
    return conntrack_mark(meta, c, 0, META_CT_EV_START | META_CT_EV_STATE)


cdef inline int conntrack_tcp(conntrack_state* st, rte_mbuf* m, pkt_meta* meta,
                              conntrack_opener may_open, uint8_t family, uint64_t shi, uint64_t slo,
                              uint64_t dhi, uint64_t dlo, uint64_t now) noexcept nogil:
    cdef uint8_t flags = meta.tcp_flags
    cdef int kind, direction, retrans
    cdef conntrack_key k
    cdef uint32_t sig, end
    cdef int32_t pos
    cdef conntrack_conn* c
    cdef uint8_t old, new, events
    cdef bint sender_is_a
    if not (CONNTRACK_VALID_FLAGS >> (flags & 0x37)) & 1:
        return CONNTRACK_INVALID
    kind = conntrack_kind(flags)
    end = meta.tcp_seq + meta.payload_len + (1 if flags & 0x02 else 0) + (1 if flags & 0x01 else 0)
    sender_is_a = conntrack_pair(&k, family, 6, shi, slo, meta.sport, dhi, dlo, meta.dport)
    sig = rte_hash_hash(st.table, &k)
    pos = conntrack_find(st, &k, sig, now)
    if pos < 0:
        if (kind == CT_K_SYN or (kind == CT_K_ACK and not st.strict)) \
                and conntrack_refuses(st, may_open, meta, m):
            return CONNTRACK_INVALID
        if kind == CT_K_SYN:
            return conntrack_open(st, meta, m, &k, sig, sender_is_a, end, now)
        if kind == CT_K_ACK and not st.strict:
            pos = conntrack_create(st, &k, sig, sender_is_a, CT_ES, now)
            if pos < 0:
                return CONNTRACK_TABLE_FULL
            c = &st.conns[pos]
            c.tcp = CT_ES
            c.status |= CONNTRACK_LIBERAL
            conntrack_window(c, 0, m, meta, end, CT_ES)
            return conntrack_mark(meta, c, 0, META_CT_EV_START | META_CT_EV_STATE)
        return CONNTRACK_INVALID

    c = &st.conns[pos]
    direction = conntrack_direction(c, sender_is_a)
    old = c.tcp
    new = conntrack_tcp_table[direction][kind][old]
    if new == CT_SS and (old == CT_TW or old == CT_CL) and direction == 0:
        if conntrack_refuses(st, may_open, meta, m):
            return conntrack_invalid(meta, c, direction)
        conntrack_remove(st, <uint32_t>pos)  # a SYN reopens the port pair
        return conntrack_open(st, meta, m, &k, sig, sender_is_a, end, now)
    if new == CT_IV:
        return conntrack_invalid(meta, c, direction)
    if new == CT_IG:
        return conntrack_mark(meta, c, direction, conntrack_reply_seen(c, direction))
    retrans = conntrack_window(c, direction, m, meta, end, old)
    if retrans < 0:
        return conntrack_invalid(meta, c, direction)
    events = conntrack_reply_seen(c, direction)
    if retrans:
        events |= META_CT_EV_RETRANS
        st.retransmissions += 1
    if new != old:
        events |= META_CT_EV_STATE
        if (new == CT_TW or new == CT_CL) and old != CT_TW and old != CT_CL:
            events |= META_CT_EV_END
            st.closed += 1
    c.tcp = new
    conntrack_refresh(st, <uint32_t>pos, new, now)
    return conntrack_mark(meta, c, direction, events)


# -- the packet ----------------------------------------------------------------------

cdef inline int conntrack_process(conntrack_state* st, rte_mbuf* m, pkt_meta* meta,
                                  conntrack_opener may_open) noexcept nogil:
    cdef uint64_t now = chainc_now_ns(m)
    cdef uint32_t flags = meta.flags
    cdef uint8_t family, proto
    cdef uint64_t shi, slo, dhi, dlo
    cdef conntrack_key k
    cdef bint sender_is_a
    if conntrack_reclaim_one(st, now):
        conntrack_reclaim_one(st, now)
    meta.ct_state = META_CT_INVALID
    meta.ct_events = 0
    meta.ct_tcp_state = 0
    meta.ct_dir = 0
    meta.ct_id = 0
    if not (flags & META_L3_IP) or flags & (META_FRAG | META_SPLIT | META_IPV6_EXT_LIMIT | META_L4_BAD):
        return CONNTRACK_INVALID
    if flags & META_L3_IPV4:
        family = 4
        shi, slo, dhi, dlo = 0, meta.ip4_src, 0, meta.ip4_dst
    else:
        family = 6
        shi, slo, dhi, dlo = meta.ip6_src_hi, meta.ip6_src_lo, meta.ip6_dst_hi, meta.ip6_dst_lo
    proto = meta.ip_proto
    if proto == 6:
        return conntrack_tcp(st, m, meta, may_open, family, shi, slo, dhi, dlo, now)
    if proto == 17:
        sender_is_a = conntrack_pair(&k, family, 17, shi, slo, meta.sport, dhi, dlo, meta.dport)
        return conntrack_datagram(st, m, meta, may_open, &k, sender_is_a, CONNTRACK_Q_UDP,
                                  CONNTRACK_Q_UDP_STREAM, now)
    if proto == (1 if family == 4 else 58):
        return conntrack_icmp(st, m, meta, may_open, family, shi, slo, dhi, dlo, now)
    sender_is_a = conntrack_pair(&k, family, proto, shi, slo, 0, dhi, dlo, 0)
    return conntrack_datagram(st, m, meta, may_open, &k, sender_is_a, CONNTRACK_Q_GENERIC,
                              CONNTRACK_Q_GENERIC, now)
