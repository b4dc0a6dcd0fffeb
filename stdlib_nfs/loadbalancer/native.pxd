# LoadBalancer native body: Maglev consistent hashing with a per-flow affinity table.
#
# Theory of operation (the spec's description is the user's version).
#
# Start-up (`loadbalancer_setup`): the Maglev lookup table of `table_size`
# slots (a prime) is filled from the permutations of the backends that are up,
# and the affinity table is created: an rte_hash from the flow key (source
# address, protocol, ports) to a position, and an array of `flows` entries
# indexed by that position holding the flow's backend, its last-seen time and
# its links in a least-recently-used list. The affinity file, when the chain
# names one, is loaded into it (the generated init reads it with
# `loadbalancer_load`) and written back at exit (`loadbalancer_save`).
#
# Per packet to the vip: up to two flows idle for longer than the timeout are
# reclaimed from the head of the LRU list (bounded work, never a scan); the
# flow is looked up; a live entry gives its backend and moves to the tail; a
# missing (or expired) one takes the backend of the Maglev slot `hash % size`
# and is inserted, evicting the least recently used entry when the table is
# full. The destination address is then rewritten, with the IPv4 header
# checksum and the TCP / UDP / ICMPv6 checksum updated incrementally (RFC 1624).
# A packet from a backend gets its source rewritten back to the vip. Only
# bytes of the fixed IP header and of the L4 header the metadata proved
# readable (META_L4_OK, first segment) are touched.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from libc.stdio cimport FILE, fopen, fclose, fgets, fprintf, snprintf, sscanf
from libc.stdlib cimport malloc, free
from libc.string cimport memset, memcpy
from dpdk cimport rte_mbuf, rte_errno, chainc_mbuf_data, chainc_now_ns
from meta cimport (pkt_meta, META_L3_IPV4, META_L3_IPV6, META_L4_OK, META_FRAG,
                   meta_be16, meta_be64)
from flowtable cimport (rte_hash, rte_hash_function, rte_hash_free, rte_hash_lookup_with_hash,
                        rte_hash_add_key_with_hash, rte_hash_del_key_with_hash,
                        rte_hash_get_key_with_position, flow_table_create, FLOW_NIL, flow_link,
                        flow_queue, flow_queue_init, flow_queue_remove, flow_queue_append)

cdef extern from "<arpa/inet.h>" nogil:
    int loadbalancer_inet_pton "inet_pton" (int af, const char* src, void* dst)
    const char* loadbalancer_inet_ntop "inet_ntop" (int af, const void* src, char* dst, unsigned size)

cdef enum:
    LOADBALANCER_OUT = 0
    LOADBALANCER_NO_BACKEND = -1  # drop_reasons[0]
    LOADBALANCER_RECLAIM = 2  # expired flows reclaimed per packet, at most
    LOADBALANCER_AF_INET = 2
    LOADBALANCER_AF_INET6 = 10

# The hash seeds ("maglev" in ASCII, then 1, 2, 3), as the spec's description gives them.
cdef extern from *:
    """
    #define LOADBALANCER_OFFSET_SEED 0x6D61676C65760001ULL
    #define LOADBALANCER_SKIP_SEED 0x6D61676C65760002ULL
    #define LOADBALANCER_FLOW_SEED 0x6D61676C65760003ULL
    """
    const uint64_t LOADBALANCER_OFFSET_SEED
    const uint64_t LOADBALANCER_SKIP_SEED
    const uint64_t LOADBALANCER_FLOW_SEED


cdef struct loadbalancer_key:  # the rte_hash key: 24 bytes, padding zeroed
    uint64_t src_hi  # IPv4: the address; IPv6: the high half
    uint64_t src_lo
    uint16_t sport
    uint16_t dport
    uint8_t proto
    uint8_t pad[3]


cdef struct loadbalancer_flow:  # one per hash position: 24 bytes
    uint64_t last_ns
    flow_link link  # in the LRU queue
    uint32_t sig
    uint16_t backend
    uint16_t pad


cdef struct loadbalancer_backend:  # sorted by address, to find a reply's backend
    uint64_t hi
    uint64_t lo
    uint32_t index


cdef struct loadbalancer_state:
    rte_hash* hash
    loadbalancer_flow* flows
    uint16_t* table  # Maglev: slot -> backend index
    const uint8_t* addrs  # 16 bytes per backend, IPv4 in the first 4
    loadbalancer_backend* sorted_backends
    uint32_t n_backends
    uint32_t n_up
    uint32_t capacity
    uint32_t count
    flow_queue lru
    uint64_t timeout_ns
    uint64_t balanced
    uint64_t replies
    uint64_t new_flows
    uint64_t expired
    uint64_t evicted
    uint64_t restored
    uint64_t moved


cdef inline uint64_t loadbalancer_fmix64(uint64_t x) noexcept nogil:
    x ^= x >> 33
    x *= 0xFF51AFD7ED558CCDULL
    x ^= x >> 33
    x *= 0xC4CEB9FE1A85EC53ULL
    return x ^ (x >> 33)


cdef inline uint64_t loadbalancer_be_hi(const uint8_t* a, int family) noexcept nogil:
    """The high word of an address as 16 bytes (IPv4: the address itself)."""
    if family == 4:
        return (<uint64_t>a[0] << 24) | (<uint64_t>a[1] << 16) | (<uint64_t>a[2] << 8) | a[3]
    return meta_be64(a)


cdef inline uint64_t loadbalancer_be_lo(const uint8_t* a, int family) noexcept nogil:
    return 0 if family == 4 else meta_be64(a + 8)


cdef inline uint64_t loadbalancer_addr_hash(const uint8_t* a, int family, uint64_t seed) noexcept nogil:
    return loadbalancer_fmix64(loadbalancer_fmix64(loadbalancer_be_hi(a, family) ^ seed)
                               ^ loadbalancer_be_lo(a, family))


cdef inline uint64_t loadbalancer_flow_hash(const loadbalancer_key* k) noexcept nogil:
    return loadbalancer_fmix64(loadbalancer_fmix64(loadbalancer_fmix64(k.src_hi ^ LOADBALANCER_FLOW_SEED)
                                                   ^ k.src_lo)
                               ^ ((<uint64_t>k.proto << 32) | (<uint64_t>k.sport << 16) | k.dport))


cdef inline uint32_t loadbalancer_sig(uint64_t h) noexcept nogil:
    return <uint32_t>(h ^ (h >> 32))


cdef inline uint32_t loadbalancer_key_hash(const void* key, uint32_t key_len, uint32_t init_val) noexcept nogil:
    # The table's own hash function is the flow hash, so the signatures the packet
    # path passes (computed once per packet) are what rte_hash would compute itself,
    # as rte_hash_get_key_with_position's check requires.
    return loadbalancer_sig(loadbalancer_flow_hash(<const loadbalancer_key*>key))


# -- start-up -----------------------------------------------------------------

cdef inline int loadbalancer_fill(loadbalancer_state* st, const uint8_t* up, uint32_t size,
                                  int family) noexcept nogil:
    """The Maglev population (Eisenbud et al., NSDI 2016, pseudo-code 1); 0 or -ENOMEM."""
    cdef uint64_t* offset = <uint64_t*>malloc(3 * st.n_backends * sizeof(uint64_t) + 8)
    cdef uint64_t* skip = offset + st.n_backends
    cdef uint64_t* nxt = skip + st.n_backends
    cdef uint32_t i, filled = 0
    cdef uint64_t slot
    if offset == NULL:
        return -12
    for slot in range(size):
        st.table[slot] = 0xFFFF
    for i in range(st.n_backends):
        offset[i] = loadbalancer_addr_hash(st.addrs + 16 * i, family, LOADBALANCER_OFFSET_SEED) % size
        skip[i] = loadbalancer_addr_hash(st.addrs + 16 * i, family, LOADBALANCER_SKIP_SEED) % (size - 1) + 1
        nxt[i] = 0
    while st.n_up and filled < size:
        for i in range(st.n_backends):
            if not up[i]:
                continue
            slot = (offset[i] + nxt[i] * skip[i]) % size
            while st.table[slot] != 0xFFFF:
                nxt[i] += 1
                slot = (offset[i] + nxt[i] * skip[i]) % size
            st.table[slot] = <uint16_t>i
            nxt[i] += 1
            filled += 1
            if filled == size:
                break
    free(offset)
    return 0


cdef inline int loadbalancer_setup(loadbalancer_state* st, const uint8_t* addrs, const uint8_t* up,
                                   uint32_t n, int family, uint32_t size, uint32_t capacity,
                                   uint64_t timeout_ns, const char* name) noexcept nogil:
    """Fill the Maglev table and create the affinity table; 0, or a negative errno."""
    cdef loadbalancer_backend tmp
    cdef uint32_t i, j
    memset(st, 0, sizeof(loadbalancer_state))
    st.addrs = addrs
    st.n_backends = n
    st.capacity = capacity
    st.timeout_ns = timeout_ns
    flow_queue_init(&st.lru)
    for i in range(n):
        st.n_up += up[i] != 0
    st.table = <uint16_t*>malloc(size * sizeof(uint16_t))
    st.flows = <loadbalancer_flow*>malloc(capacity * sizeof(loadbalancer_flow))
    st.sorted_backends = <loadbalancer_backend*>malloc(n * sizeof(loadbalancer_backend))
    if st.table == NULL or st.flows == NULL or st.sorted_backends == NULL:
        return -12
    for i in range(n):  # insertion sort: a handful of backends, once
        tmp.hi = loadbalancer_be_hi(addrs + 16 * i, family)
        tmp.lo = loadbalancer_be_lo(addrs + 16 * i, family)
        tmp.index = i
        j = i
        while j > 0 and (st.sorted_backends[j - 1].hi > tmp.hi or
                         (st.sorted_backends[j - 1].hi == tmp.hi and st.sorted_backends[j - 1].lo > tmp.lo)):
            st.sorted_backends[j] = st.sorted_backends[j - 1]
            j -= 1
        st.sorted_backends[j] = tmp
    if loadbalancer_fill(st, up, size, family) < 0:
        return -12
    # The extendable table holds `capacity` keys whatever their hashes: a full
    # table is one with `flows` entries, as documented, never a bucket overflow.
    st.hash = flow_table_create(name, capacity, sizeof(loadbalancer_key),
                                <rte_hash_function>loadbalancer_key_hash)
    if st.hash == NULL:
        return -rte_errno if rte_errno > 0 else -12
    return 0


cdef inline void loadbalancer_free(loadbalancer_state* st) noexcept nogil:
    rte_hash_free(st.hash)
    free(st.table)
    free(st.flows)
    free(st.sorted_backends)
    st.hash = NULL
    st.table = NULL
    st.flows = NULL
    st.sorted_backends = NULL


# -- the affinity table ---------------------------------------------------------

cdef inline void loadbalancer_unlink(loadbalancer_state* st, uint32_t pos) noexcept nogil:
    flow_queue_remove(&st.lru, <char*>&st.flows[0].link, sizeof(loadbalancer_flow), pos)


cdef inline void loadbalancer_append(loadbalancer_state* st, uint32_t pos) noexcept nogil:
    flow_queue_append(&st.lru, <char*>&st.flows[0].link, sizeof(loadbalancer_flow), pos)


cdef inline bint loadbalancer_is_expired(loadbalancer_state* st, uint32_t pos, uint64_t now) noexcept nogil:
    # A time before the entry's (a restored table, a capture from earlier) is not idleness.
    return now > st.flows[pos].last_ns and now - st.flows[pos].last_ns > st.timeout_ns


cdef inline void loadbalancer_remove_head(loadbalancer_state* st) noexcept nogil:
    cdef uint32_t pos = st.lru.head
    cdef void* key = NULL
    loadbalancer_unlink(st, pos)
    if rte_hash_get_key_with_position(st.hash, <int32_t>pos, &key) == 0:
        rte_hash_del_key_with_hash(st.hash, key, st.flows[pos].sig)
    st.count -= 1


cdef inline int32_t loadbalancer_insert(loadbalancer_state* st, const loadbalancer_key* key,
                                        uint32_t sig, uint64_t now) noexcept nogil:
    """Add a flow (evicting the least recently used one if the table is full); its position."""
    cdef int32_t pos
    if st.count == st.capacity:
        if loadbalancer_is_expired(st, st.lru.head, now):
            st.expired += 1
        else:
            st.evicted += 1
        loadbalancer_remove_head(st)
    pos = rte_hash_add_key_with_hash(st.hash, key, sig)
    if pos < 0 or <uint32_t>pos >= st.capacity:
        return -1  # cannot happen with the extendable table; the flow is just not remembered
    st.count += 1
    st.flows[pos].sig = sig
    loadbalancer_append(st, <uint32_t>pos)
    return pos


cdef inline uint32_t loadbalancer_find(const loadbalancer_state* st, uint64_t hi, uint64_t lo) noexcept nogil:
    """The index of the backend with this address, or n_backends."""
    cdef uint32_t a = 0, b = st.n_backends, mid
    cdef const loadbalancer_backend* e
    while a < b:
        mid = (a + b) // 2
        e = &st.sorted_backends[mid]
        if e.hi == hi and e.lo == lo:
            return e.index
        if e.hi < hi or (e.hi == hi and e.lo < lo):
            a = mid + 1
        else:
            b = mid
    return st.n_backends


# -- checksums (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')) ----------------------

cdef inline uint32_t loadbalancer_sum_change(const uint8_t* old, const uint8_t* new, int n) noexcept nogil:
    """The one's complement sum of ~old + new over n bytes (n even), unfolded."""
    cdef uint32_t s = 0
    cdef int i
    for i in range(0, n, 2):
        s += (~meta_be16(old + i) & 0xFFFF) + meta_be16(new + i)
    return s


cdef inline void loadbalancer_patch_csum(uint8_t* field, uint32_t change, bint udp) noexcept nogil:
    cdef uint32_t s = (~meta_be16(field) & 0xFFFF) + change
    cdef uint16_t c
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    c = <uint16_t>(~s & 0xFFFF)
    if udp and c == 0:
        c = 0xFFFF  # RFC 768: a computed zero is sent as all ones
    field[0] = <uint8_t>(c >> 8)
    field[1] = <uint8_t>c


cdef inline void loadbalancer_rewrite(uint8_t* data, pkt_meta* meta, int family, uint8_t* field,
                                      const uint8_t* new) noexcept nogil:
    """Overwrite the address at `field` with `new`, keeping every checksum valid."""
    cdef int n = 4 if family == 4 else 16
    cdef uint32_t change = loadbalancer_sum_change(field, new, n)
    cdef uint8_t* l4 = data + meta.l4_off
    if family == 4:
        loadbalancer_patch_csum(data + meta.l3_off + 10, change, False)
    if meta.flags & META_L4_OK:
        if meta.ip_proto == 6:
            loadbalancer_patch_csum(l4 + 16, change, False)
        elif meta.ip_proto == 17:
            if l4[6] or l4[7] or family == 6:  # IPv4 UDP may carry no checksum (zero)
                loadbalancer_patch_csum(l4 + 6, change, True)
        elif meta.ip_proto == 58 and family == 6:  # ICMPv6 covers the pseudo-header
            loadbalancer_patch_csum(l4 + 2, change, False)
    memcpy(field, new, n)


# -- per packet -----------------------------------------------------------------

cdef inline int loadbalancer_process(loadbalancer_state* st, rte_mbuf* m, pkt_meta* meta, int in_port,
                                     int family, uint64_t vip_hi, uint64_t vip_lo,
                                     const uint8_t* vip_bytes, uint16_t port,
                                     uint32_t size) noexcept nogil:
    cdef uint8_t* data = chainc_mbuf_data(m)
    cdef uint8_t* src
    cdef uint8_t* dst
    cdef uint64_t dst_hi, dst_lo, now, h
    cdef loadbalancer_key key
    cdef int32_t pos
    cdef uint32_t b, i
    cdef bint ports = (meta.flags & META_L4_OK) != 0 and (meta.flags & META_FRAG) == 0
    if family == 4:
        if not (meta.flags & META_L3_IPV4):
            return LOADBALANCER_OUT
        src = data + meta.l3_off + 12
        dst = data + meta.l3_off + 16
        dst_hi = meta.ip4_dst
        dst_lo = 0
    else:
        if not (meta.flags & META_L3_IPV6):
            return LOADBALANCER_OUT
        src = data + meta.l3_off + 8
        dst = data + meta.l3_off + 24
        dst_hi = meta.ip6_dst_hi
        dst_lo = meta.ip6_dst_lo

    if dst_hi != vip_hi or dst_lo != vip_lo:
        # A reply: from a backend (and from `port`, when set) back to the client.
        b = loadbalancer_find(st, meta.ip4_src if family == 4 else meta.ip6_src_hi,
                              0 if family == 4 else meta.ip6_src_lo)
        if b == st.n_backends or (port and not ((meta.flags & META_L4_OK) and meta.sport == port)):
            return LOADBALANCER_OUT
        loadbalancer_rewrite(data, meta, family, src, vip_bytes)
        if family == 4:
            meta.ip4_src = <uint32_t>vip_hi
        else:
            meta.ip6_src_hi = vip_hi
            meta.ip6_src_lo = vip_lo
        st.replies += 1
        return LOADBALANCER_OUT

    if port and not ((meta.flags & META_L4_OK) and meta.dport == port):
        return LOADBALANCER_OUT
    if st.n_up == 0:
        return LOADBALANCER_NO_BACKEND
    now = chainc_now_ns(m)
    for i in range(LOADBALANCER_RECLAIM):
        if st.lru.head == FLOW_NIL or not loadbalancer_is_expired(st, st.lru.head, now):
            break
        loadbalancer_remove_head(st)
        st.expired += 1

    memset(&key, 0, sizeof(key))
    if family == 4:
        key.src_hi = meta.ip4_src
    else:
        key.src_hi = meta.ip6_src_hi
        key.src_lo = meta.ip6_src_lo
    key.proto = meta.ip_proto
    if ports:
        key.sport = meta.sport
        key.dport = meta.dport
    h = loadbalancer_flow_hash(&key)
    pos = rte_hash_lookup_with_hash(st.hash, &key, loadbalancer_sig(h))
    if pos >= 0 and loadbalancer_is_expired(st, <uint32_t>pos, now):
        st.expired += 1  # idle too long: the flow starts afresh in the same slot
        st.new_flows += 1
        st.flows[pos].backend = st.table[h % size]
        loadbalancer_unlink(st, <uint32_t>pos)
        loadbalancer_append(st, <uint32_t>pos)
    elif pos >= 0:
        loadbalancer_unlink(st, <uint32_t>pos)
        loadbalancer_append(st, <uint32_t>pos)
    else:
        st.new_flows += 1
        b = st.table[h % size]
        pos = loadbalancer_insert(st, &key, loadbalancer_sig(h), now)
        if pos >= 0:
            st.flows[pos].backend = <uint16_t>b
    if pos >= 0:
        st.flows[pos].last_ns = now
        b = st.flows[pos].backend
    else:
        b = st.table[h % size]
    loadbalancer_rewrite(data, meta, family, dst, st.addrs + 16 * b)
    if family == 4:
        meta.ip4_dst = <uint32_t>loadbalancer_be_hi(st.addrs + 16 * b, 4)
    else:
        meta.ip6_dst_hi = loadbalancer_be_hi(st.addrs + 16 * b, 6)
        meta.ip6_dst_lo = loadbalancer_be_lo(st.addrs + 16 * b, 6)
    st.balanced += 1
    return LOADBALANCER_OUT


# -- the affinity file (start-up and exit only) -------------------------------------

cdef inline int loadbalancer_parse_addr(const char* text, int family, uint8_t* out) noexcept nogil:
    memset(out, 0, 16)
    return loadbalancer_inet_pton(LOADBALANCER_AF_INET if family == 4 else LOADBALANCER_AF_INET6,
                                  text, out) == 1


cdef inline int loadbalancer_load(loadbalancer_state* st, const char* path, int family,
                                  const uint8_t* up, char* err, size_t errlen) noexcept nogil:
    """Restore the flows of an affinity file (oldest first); 0, 1 if there is no
    file, -1 with a message in `err`. Flows whose backend is gone or down are
    counted as moved; beyond `flows` entries the oldest are evicted."""
    cdef FILE* f = fopen(path, "r")
    cdef char line[512]
    cdef char src_text[64]
    cdef char backend_text[64]
    cdef uint8_t addr[16]
    cdef uint8_t backend[16]
    cdef unsigned proto, sport, dport
    cdef unsigned long long last
    cdef int lineno = 0, n
    cdef uint32_t b, sig
    cdef uint64_t h
    cdef int32_t pos
    cdef loadbalancer_key key
    if f == NULL:
        return 1
    while fgets(line, sizeof(line), f) != NULL:
        lineno += 1
        n = 0
        while line[n] == b' ' or line[n] == b'\t':
            n += 1
        if line[n] == b'#' or line[n] == b'\n' or line[n] == 0:
            continue
        if (sscanf(line, "%u %63s %u %u %63s %llu", &proto, src_text, &sport, &dport,
                   backend_text, &last) != 6 or proto > 255 or sport > 65535 or dport > 65535
                or not loadbalancer_parse_addr(src_text, family, addr)
                or not loadbalancer_parse_addr(backend_text, family, backend)):
            snprintf(err, errlen, "line %d: expected PROTO SRC SPORT DPORT BACKEND LAST_SEEN_NS "
                     "with IPv%d addresses", lineno, family)
            fclose(f)
            return -1
        b = loadbalancer_find(st, loadbalancer_be_hi(backend, family), loadbalancer_be_lo(backend, family))
        if b == st.n_backends or not up[b]:
            st.moved += 1
            continue
        memset(&key, 0, sizeof(key))
        key.src_hi = loadbalancer_be_hi(addr, family)
        key.src_lo = loadbalancer_be_lo(addr, family)
        key.proto = <uint8_t>proto
        key.sport = <uint16_t>sport
        key.dport = <uint16_t>dport
        h = loadbalancer_flow_hash(&key)
        sig = loadbalancer_sig(h)
        pos = rte_hash_lookup_with_hash(st.hash, &key, sig)
        if pos >= 0:  # a repeated flow: the later line wins
            loadbalancer_unlink(st, <uint32_t>pos)
            loadbalancer_append(st, <uint32_t>pos)
        else:
            if st.count == st.capacity:
                st.evicted += 1
                loadbalancer_remove_head(st)
            pos = rte_hash_add_key_with_hash(st.hash, &key, sig)
            if pos < 0 or <uint32_t>pos >= st.capacity:
                continue
            st.count += 1
            st.flows[pos].sig = sig
            loadbalancer_append(st, <uint32_t>pos)
        st.flows[pos].backend = <uint16_t>b
        st.flows[pos].last_ns = last
    st.restored = st.count
    fclose(f)
    return 0


cdef inline int loadbalancer_save(loadbalancer_state* st, const char* path, int family) noexcept nogil:
    """Write the affinity table, oldest flow first; 0, or -1 if the file cannot be written."""
    cdef FILE* f = fopen(path, "w")
    cdef char src_text[64]
    cdef char backend_text[64]
    cdef uint8_t addr[16]
    cdef uint32_t pos = st.lru.head
    cdef void* raw = NULL
    cdef loadbalancer_key* key
    cdef int af = LOADBALANCER_AF_INET if family == 4 else LOADBALANCER_AF_INET6
    cdef int i
    if f == NULL:
        return -1
    fprintf(f, "# LoadBalancer affinity: proto src sport dport backend last-seen-ns, oldest first\n")
    while pos != FLOW_NIL:
        if rte_hash_get_key_with_position(st.hash, <int32_t>pos, &raw) == 0:
            key = <loadbalancer_key*>raw
            if family == 4:
                for i in range(4):
                    addr[i] = <uint8_t>(key.src_hi >> (24 - 8 * i))
            else:
                for i in range(8):
                    addr[i] = <uint8_t>(key.src_hi >> (56 - 8 * i))
                    addr[8 + i] = <uint8_t>(key.src_lo >> (56 - 8 * i))
            loadbalancer_inet_ntop(af, addr, src_text, sizeof(src_text))
            loadbalancer_inet_ntop(af, st.addrs + 16 * st.flows[pos].backend, backend_text,
                                   sizeof(backend_text))
            fprintf(f, "%u %s %u %u %s %llu\n", <unsigned>key.proto, src_text, <unsigned>key.sport,
                    <unsigned>key.dport, backend_text, <unsigned long long>st.flows[pos].last_ns)
        pos = st.flows[pos].link.next
    return -1 if fclose(f) != 0 else 0
