# NAT native body: NAPT for TCP, UDP and ICMP echo over IPv4.
#
# Theory of operation (the spec's description states the behaviour; this is
# how the tables give it in O(1) per packet):
#
#   entries    one record per mapping, indexed by the rte_hash position of its
#              inside endpoint (protocol, address, port): rte_hash hands out
#              positions 0 .. capacity-1, so the records need no allocator.
#   out_tab    per external address and protocol, a direct table of all 65,536
#              ports holding (record index + 1): the outside lookup is one load.
#   queues     per external address and protocol, a FIFO ring of free ports.
#   lists      per external address, four doubly linked lists of mappings in
#              order of last use (TCP transitory, TCP established, UDP, ICMP).
#              One list has one timeout and the NAT's clock never goes back, so
#              its head is the mapping of that list that expires first: the
#              mapping to reclaim when an address runs out of ports (the heads of
#              its protocol's lists) or the table is full (every list's head) is
#              found without a scan, and nothing sweeps the tables per packet.
#
# Only bytes the metadata proved readable are touched: the IPv4 header and
# the TCP (20 bytes), UDP (8) or ICMP (8) header, all in the first segment.

cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from libc.string cimport memcpy
from dpdk cimport rte_mbuf, chainc_mbuf_data, chainc_now_ns
from flowtable cimport (rte_hash, rte_hash_crc, rte_hash_function, rte_hash_set_cmp_func, rte_hash_hash,
                        rte_hash_lookup_with_hash, rte_hash_add_key_with_hash, rte_hash_del_key,
                        rte_zmalloc, flow_table_create, flow_records, FLOW_NIL, flow_link, flow_queue,
                        flow_queue_init, flow_queue_remove, flow_queue_append)
from meta cimport (pkt_meta, META_ETH_OK, META_VLAN_TRUNC, META_VLAN_LIMIT, META_SPLIT,
                   META_L3_IPV4, META_FRAG, META_L4_OK)

cdef enum:
    NAT_INSIDE = 0           # input and output indices
    NAT_OUTSIDE = 1

    NAT_NO_MAPPING = -1      # drop_reasons, in order
    NAT_PORTS_EXHAUSTED = -2
    NAT_TABLE_FULL = -3
    NAT_NOT_IPV4 = -4
    NAT_UNSUPPORTED = -5
    NAT_FRAGMENT = -6
    NAT_MALFORMED = -7

    NAT_TCP = 0              # protocol indices (spec.py's PROTO_INDEX)
    NAT_UDP = 1
    NAT_ICMP = 2

    NAT_TCP_TRANSITORY = 0   # a mapping's kind: its list within its address
    NAT_TCP_ESTABLISHED = 1
    NAT_UDP_LIST = 2
    NAT_ICMP_LIST = 3
    NAT_STATIC = 4           # a port forward: in no list, never expires
    NAT_UNLINKED = 5         # just made, not in a list yet

    NAT_SYN_INSIDE = 1       # TCP tracking bits
    NAT_SYN_OUTSIDE = 2
    NAT_CLOSING = 4

    NAT_MAX_EXTERNAL = 64    # spec.py's MAX_EXTERNAL

    NAT_ERR_NOMEM = 1        # nat_setup's failure


cdef struct nat_key:         # rte_hash key: the inside endpoint
    uint32_t addr
    uint16_t port            # ICMP: the echo identifier
    uint8_t proto
    uint8_t zero


cdef struct nat_entry:
    uint64_t last_ns         # time of the last packet
    uint64_t seq             # order of the last use: breaks ties of expiry times
    uint32_t in_addr
    flow_link link           # neighbours in its list
    uint16_t in_port
    uint16_t ext_port
    uint8_t proto
    uint8_t ext              # index of the external address
    uint8_t kind
    uint8_t tcp


cdef struct nat_state:
    rte_hash* h
    nat_entry* e
    uint32_t* out_tab        # [(ext * 3 + proto) << 16 | port] -> record index + 1
    uint16_t* q              # free ports: n_ports per (ext, proto), a ring each
    uint32_t q_head[NAT_MAX_EXTERNAL * 3]
    uint32_t q_count[NAT_MAX_EXTERNAL * 3]
    flow_queue lists[NAT_MAX_EXTERNAL * 4]  # by external address and kind, in order of last use
    uint32_t ext_addr[NAT_MAX_EXTERNAL]
    uint64_t timeout[4]      # by kind, in ns
    uint32_t n_ext
    uint32_t n_ports
    uint32_t table_size
    uint64_t clock           # latest packet time seen
    uint64_t seq
    uint64_t created         # counters
    uint64_t expired
    uint64_t mappings


cdef inline int nat_key_cmp(const void* a, const void* b, size_t key_len) noexcept nogil:
    # rte_hash compares keys of other sizes than 16, 32, ... bytes with memcmp: one
    # 8-byte comparison is much cheaper.
    cdef uint64_t x, y
    memcpy(&x, a, 8)
    memcpy(&y, b, 8)
    return x != y


cdef inline int nat_setup(nat_state* st, const char* name, const uint32_t* external, uint32_t n_ext,
                          uint32_t lo, uint32_t hi, uint32_t table_size,
                          const uint32_t* forwards, uint32_t n_fwd, uint64_t t_established,
                          uint64_t t_transitory, uint64_t t_udp, uint64_t t_icmp) noexcept nogil:
    """Allocate the tables, install the forwards (protocol, external port, inside
    address, inside port each) on the first address, fill the port queues."""
    cdef nat_key key
    cdef uint32_t capacity = table_size + n_fwd
    cdef uint32_t i, a, p, port, qi, n
    cdef int32_t pos
    st.n_ext = n_ext
    st.n_ports = hi - lo + 1
    st.table_size = table_size
    st.timeout[NAT_TCP_TRANSITORY] = t_transitory
    st.timeout[NAT_TCP_ESTABLISHED] = t_established
    st.timeout[NAT_UDP_LIST] = t_udp
    st.timeout[NAT_ICMP_LIST] = t_icmp
    for i in range(n_ext):
        st.ext_addr[i] = external[i]
    for i in range(NAT_MAX_EXTERNAL * 4):
        flow_queue_init(&st.lists[i])

    # fails only for want of memory: the name is unique
    st.h = flow_table_create(name, capacity, sizeof(nat_key), <rte_hash_function>rte_hash_crc)
    if st.h == NULL:
        return NAT_ERR_NOMEM
    rte_hash_set_cmp_func(st.h, nat_key_cmp)
    st.e = <nat_entry*>flow_records(st.h, sizeof(nat_entry), b"chainc_nat")
    st.out_tab = <uint32_t*>rte_zmalloc(b"chainc_nat", sizeof(uint32_t) * n_ext * 3 * 65536, 64)
    st.q = <uint16_t*>rte_zmalloc(b"chainc_nat", sizeof(uint16_t) * n_ext * 3 * st.n_ports, 64)
    if st.e == NULL or st.out_tab == NULL or st.q == NULL:
        return NAT_ERR_NOMEM

    for i in range(n_fwd):
        key.addr = forwards[4 * i + 2]
        key.port = <uint16_t>forwards[4 * i + 3]
        key.proto = <uint8_t>forwards[4 * i]
        key.zero = 0
        pos = rte_hash_add_key_with_hash(st.h, &key, rte_hash_hash(st.h, &key))
        if pos < 0:
            return NAT_ERR_NOMEM  # the table has room for every forward
        st.e[pos].in_addr = key.addr
        st.e[pos].in_port = key.port
        st.e[pos].proto = key.proto
        st.e[pos].ext = 0
        st.e[pos].ext_port = <uint16_t>forwards[4 * i + 1]
        st.e[pos].kind = NAT_STATIC
        st.out_tab[(<uint32_t>key.proto << 16) | forwards[4 * i + 1]] = <uint32_t>pos + 1

    for a in range(n_ext):
        for p in range(3):
            qi = a * 3 + p
            n = 0
            for port in range(lo, hi + 1):
                if a == 0 and st.out_tab[(p << 16) | port]:
                    continue  # a forward's port
                st.q[qi * st.n_ports + n] = <uint16_t>port
                n += 1
            st.q_head[qi] = 0
            st.q_count[qi] = n
    return 0


# -- lists of mappings in order of last use -------------------------------------------

cdef inline void nat_unlink(nat_state* st, uint32_t i) noexcept nogil:
    cdef nat_entry* e = &st.e[i]
    flow_queue_remove(&st.lists[e.ext * 4u + e.kind], <char*>&st.e[0].link, sizeof(nat_entry), i)


cdef inline void nat_append(nat_state* st, uint32_t i, uint8_t kind) noexcept nogil:
    cdef nat_entry* e = &st.e[i]
    e.kind = kind
    flow_queue_append(&st.lists[e.ext * 4u + kind], <char*>&st.e[0].link, sizeof(nat_entry), i)


cdef inline void nat_use(nat_state* st, uint32_t i, uint64_t now, uint8_t tcp_flags,
                         uint8_t side) noexcept nogil:
    """A packet used mapping i: track TCP, move it to the back of its list."""
    cdef nat_entry* e = &st.e[i]
    cdef uint8_t kind
    cdef uint8_t t = e.tcp
    if e.proto == NAT_TCP:
        if tcp_flags & 0x02:  # SYN
            if t & NAT_CLOSING:
                t = 0  # a new connection on the old mapping
            t |= side
        if tcp_flags & 0x05:  # FIN or RST
            t |= NAT_CLOSING
        e.tcp = t
        kind = NAT_TCP_ESTABLISHED if t == NAT_SYN_INSIDE | NAT_SYN_OUTSIDE else NAT_TCP_TRANSITORY
    else:
        kind = NAT_UDP_LIST if e.proto == NAT_UDP else NAT_ICMP_LIST
    if e.kind != kind or st.lists[e.ext * 4u + kind].tail != i:
        if e.kind != NAT_UNLINKED:
            nat_unlink(st, i)
        nat_append(st, i, kind)
    e.last_ns = now
    st.seq += 1
    e.seq = st.seq


# -- removing mappings ---------------------------------------------------------------

cdef inline void nat_remove(nat_state* st, uint32_t i) noexcept nogil:
    """Forget dynamic mapping i; its port goes to the back of its queue."""
    cdef nat_entry* e = &st.e[i]
    cdef nat_key key
    cdef uint32_t qi = e.ext * 3u + e.proto
    cdef uint32_t at = st.q_head[qi] + st.q_count[qi]
    if at >= st.n_ports:
        at -= st.n_ports
    nat_unlink(st, i)
    st.out_tab[((<uint32_t>e.ext * 3u + e.proto) << 16) | e.ext_port] = 0
    st.q[qi * st.n_ports + at] = e.ext_port
    st.q_count[qi] += 1
    key.addr = e.in_addr
    key.port = e.in_port
    key.proto = e.proto
    key.zero = 0
    rte_hash_del_key(st.h, &key)
    st.mappings -= 1
    st.expired += 1


cdef inline bint nat_remove_first_expired(nat_state* st, uint32_t first, uint32_t n,
                                          uint64_t now) noexcept nogil:
    """Of lists first .. first+n-1, remove the mapping that expired first, if any has."""
    cdef uint32_t lst, idx
    cdef uint32_t best = FLOW_NIL
    cdef uint64_t expiry
    cdef uint64_t best_expiry = 0
    cdef nat_entry* e
    for lst in range(first, first + n):
        idx = st.lists[lst].head
        if idx == FLOW_NIL:
            continue
        e = &st.e[idx]
        expiry = e.last_ns + st.timeout[e.kind]
        if best == FLOW_NIL or expiry < best_expiry or (expiry == best_expiry and e.seq < st.e[best].seq):
            best = idx
            best_expiry = expiry
    if best == FLOW_NIL or best_expiry > now:
        return 0
    nat_remove(st, best)
    return 1


# -- header rewriting ------------------------------------------------------------------

cdef inline void nat_store16(uint8_t* p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 8)
    p[1] = <uint8_t>v


cdef inline uint32_t nat_fix(uint8_t* field, uint32_t diff) noexcept nogil:
    """RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m'); `diff` sums ~m + m' of the changed words."""
    cdef uint32_t s = (~((<uint32_t>field[0] << 8) | field[1]) & 0xffff) + diff
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


cdef inline void nat_rewrite(uint8_t* ip, uint8_t* l4, uint8_t proto, bint source,
                             uint32_t old_addr, uint32_t new_addr, uint16_t old_port,
                             uint16_t new_port) noexcept nogil:
    cdef uint32_t addr_diff = ((~old_addr >> 16) & 0xffff) + (~old_addr & 0xffff) + (new_addr >> 16) + (new_addr & 0xffff)
    cdef uint32_t port_diff = (~(<uint32_t>old_port) & 0xffff) + new_port
    cdef uint8_t* a = ip + (12 if source else 16)
    cdef uint32_t c
    a[0] = <uint8_t>(new_addr >> 24)
    a[1] = <uint8_t>(new_addr >> 16)
    a[2] = <uint8_t>(new_addr >> 8)
    a[3] = <uint8_t>new_addr
    nat_store16(ip + 10, nat_fix(ip + 10, addr_diff))
    if proto == NAT_TCP:
        nat_store16(l4 + (0 if source else 2), new_port)
        nat_store16(l4 + 16, nat_fix(l4 + 16, addr_diff + port_diff))
    elif proto == NAT_UDP:
        nat_store16(l4 + (0 if source else 2), new_port)
        if l4[6] | l4[7]:  # zero: the sender computed no checksum
            c = nat_fix(l4 + 6, addr_diff + port_diff)
            nat_store16(l4 + 6, c if c else 0xffff)
    else:  # the ICMP checksum covers no pseudo-header: only the identifier changed
        nat_store16(l4 + 4, new_port)
        nat_store16(l4 + 2, nat_fix(l4 + 2, port_diff))


# -- the packet path -------------------------------------------------------------------

@cython.cdivision(True)  # n_ext > 0: a C modulo, no Python error path
cdef inline int nat_outbound(nat_state* st, uint8_t* data, pkt_meta* meta, uint8_t p,
                             uint16_t port, uint64_t now) noexcept nogil:
    cdef nat_key key
    cdef uint32_t sig, a, qi, head
    cdef int32_t pos
    cdef nat_entry* e
    key.addr = meta.ip4_src
    key.port = port
    key.proto = p
    key.zero = 0
    sig = rte_hash_hash(st.h, &key)
    pos = rte_hash_lookup_with_hash(st.h, &key, sig)
    if pos >= 0:
        e = &st.e[pos]
        if e.kind != NAT_STATIC and now - e.last_ns >= st.timeout[e.kind]:
            nat_remove(st, <uint32_t>pos)
            pos = -1
    if pos < 0:
        a = key.addr % st.n_ext
        if st.mappings == st.table_size and not nat_remove_first_expired(st, 0, st.n_ext * 4, now):
            return NAT_TABLE_FULL
        qi = a * 3 + p
        if st.q_count[qi] == 0 and not (
                nat_remove_first_expired(st, a * 4 + NAT_TCP_TRANSITORY, 2, now) if p == NAT_TCP
                else nat_remove_first_expired(st, a * 4 + p + 1, 1, now)):
            return NAT_PORTS_EXHAUSTED
        pos = rte_hash_add_key_with_hash(st.h, &key, sig)
        if pos < 0:
            return NAT_TABLE_FULL  # not with an extendable table below its capacity
        head = st.q_head[qi]
        e = &st.e[pos]
        e.ext_port = st.q[qi * st.n_ports + head]
        st.q_head[qi] = head + 1 if head + 1 < st.n_ports else 0
        st.q_count[qi] -= 1
        e.in_addr = key.addr
        e.in_port = port
        e.proto = p
        e.ext = <uint8_t>a
        e.kind = NAT_UNLINKED
        e.tcp = 0
        st.out_tab[((a * 3 + p) << 16) | e.ext_port] = <uint32_t>pos + 1
        st.mappings += 1
        st.created += 1
    if e.kind != NAT_STATIC:
        nat_use(st, <uint32_t>pos, now, meta.tcp_flags, NAT_SYN_INSIDE)
    nat_rewrite(data + meta.l3_off, data + meta.l4_off, p, 1, key.addr, st.ext_addr[e.ext], port,
                e.ext_port)
    meta.ip4_src = st.ext_addr[e.ext]
    if p == NAT_ICMP:
        meta.icmp_id = e.ext_port
    else:
        meta.sport = e.ext_port
    return NAT_OUTSIDE


cdef inline int nat_inbound(nat_state* st, uint8_t* data, pkt_meta* meta, uint8_t p,
                            uint16_t port, uint64_t now) noexcept nogil:
    cdef uint32_t a, idx
    cdef nat_entry* e
    for a in range(st.n_ext):
        if st.ext_addr[a] == meta.ip4_dst:
            break
    else:
        return NAT_NO_MAPPING
    idx = st.out_tab[((a * 3 + p) << 16) | port]
    if idx == 0:
        return NAT_NO_MAPPING
    e = &st.e[idx - 1]
    if e.kind != NAT_STATIC:
        if now - e.last_ns >= st.timeout[e.kind]:
            nat_remove(st, idx - 1)
            return NAT_NO_MAPPING
        nat_use(st, idx - 1, now, meta.tcp_flags, NAT_SYN_OUTSIDE)
    nat_rewrite(data + meta.l3_off, data + meta.l4_off, p, 0, meta.ip4_dst, e.in_addr, port,
                e.in_port)
    meta.ip4_dst = e.in_addr
    if p == NAT_ICMP:
        meta.icmp_id = e.in_port
    else:
        meta.dport = e.in_port
    return NAT_INSIDE


cdef inline int nat_process(nat_state* st, rte_mbuf* m, pkt_meta* meta, int in_port) noexcept nogil:
    cdef uint32_t flags = meta.flags
    cdef uint8_t p
    cdef uint16_t port
    cdef uint64_t now
    if not (flags & META_L3_IPV4):
        if (flags & META_ETH_OK and not (flags & (META_VLAN_TRUNC | META_VLAN_LIMIT | META_SPLIT))
                and meta.ethertype != 0x0800):
            return NAT_NOT_IPV4
        return NAT_MALFORMED
    if flags & META_FRAG:
        return NAT_FRAGMENT
    if meta.ip_proto == 6:
        p = NAT_TCP
    elif meta.ip_proto == 17:
        p = NAT_UDP
    elif meta.ip_proto == 1:
        p = NAT_ICMP
    else:
        return NAT_UNSUPPORTED
    if not (flags & META_L4_OK):
        return NAT_MALFORMED
    if p == NAT_ICMP:
        if meta.payload_off - meta.l4_off < 8:
            return NAT_MALFORMED
        if meta.icmp_type != (8 if in_port == NAT_INSIDE else 0):  # echo request out, reply in
            return NAT_UNSUPPORTED
        port = meta.icmp_id
    else:
        port = meta.sport if in_port == NAT_INSIDE else meta.dport
    now = chainc_now_ns(m)
    if now < st.clock:
        now = st.clock  # the NAT's time never goes back
    st.clock = now
    if in_port == NAT_INSIDE:
        return nat_outbound(st, chainc_mbuf_data(m), meta, p, port, now)
    return nat_inbound(st, chainc_mbuf_data(m), meta, p, port, now)
