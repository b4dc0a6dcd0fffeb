# flowtable: what the NFs that keep state per flow share (ConnTrack, FlowMonitor,
# RateLimiter, IDS, LoadBalancer, NAT; and an NF of yours: docs/nf-contract.md).
#
# A flow table is an rte_hash from a fixed-size key to a position, and an
# array of records indexed by that position, allocated once at start-up: the
# packet path allocates nothing. rte_hash never evicts, so records also sit
# in queues (least recently used first, or in the order of their deadlines),
# and expiry or eviction takes a queue's head without a scan.
#
# A queue is intrusive: a record holds one flow_link per queue it can be in,
# and the functions below reach record `pos`'s link at `links + pos * stride`
# (`links`: the address of record 0's link; `stride`: the record's size). One
# queue serves records of any layout, and relinking a record touches its own
# cache line, not a line of a separate array.
#
# These are a chain's only declarations of the rte_hash API: the generated
# pipeline cimports every NF body into one namespace, where two bodies'
# declarations of one C struct would collide.

from libc.stdint cimport uint8_t, uint32_t, int32_t
from libc.string cimport memset

cdef extern from "rte_hash.h" nogil:
    ctypedef uint32_t (*rte_hash_function)(const void* key, uint32_t key_len,
                                           uint32_t init_val) noexcept nogil
    ctypedef int (*rte_hash_cmp_eq_t)(const void* key1, const void* key2, size_t key_len) noexcept nogil

    struct rte_hash:
        pass

    struct rte_hash_parameters:
        const char* name
        uint32_t entries
        uint32_t reserved
        uint32_t key_len
        rte_hash_function hash_func
        uint32_t hash_func_init_val
        int socket_id
        uint8_t extra_flag

    enum:
        RTE_HASH_EXTRA_FLAGS_EXT_TABLE

    rte_hash* rte_hash_create(const rte_hash_parameters* params)
    void rte_hash_free(rte_hash* h)
    void rte_hash_set_cmp_func(rte_hash* h, rte_hash_cmp_eq_t func)
    uint32_t rte_hash_hash(const rte_hash* h, const void* key)
    int32_t rte_hash_lookup(const rte_hash* h, const void* key)
    int32_t rte_hash_lookup_with_hash(const rte_hash* h, const void* key, uint32_t sig)
    int32_t rte_hash_add_key(const rte_hash* h, const void* key)
    int32_t rte_hash_add_key_with_hash(const rte_hash* h, const void* key, uint32_t sig)
    int32_t rte_hash_del_key(const rte_hash* h, const void* key)
    int32_t rte_hash_del_key_with_hash(const rte_hash* h, const void* key, uint32_t sig)
    int rte_hash_get_key_with_position(const rte_hash* h, const int32_t position, void** key)
    int32_t rte_hash_max_key_id(const rte_hash* h)

cdef extern from "rte_hash_crc.h" nogil:
    uint32_t rte_hash_crc(const void* data, uint32_t data_len, uint32_t init_val)

cdef extern from "rte_jhash.h" nogil:
    uint32_t rte_jhash(const void* key, uint32_t length, uint32_t initval)

cdef extern from "rte_malloc.h" nogil:
    void* rte_zmalloc(const char* type, size_t size, unsigned align)

cdef extern from *:
    """
    #define FLOW_NIL 0xFFFFFFFFu
    """
    const uint32_t FLOW_NIL  # no record: the end of a queue


cdef inline rte_hash* flow_table_create(const char* name, uint32_t entries, uint32_t key_len,
                                        rte_hash_function hash_func) noexcept nogil:
    """A table of `entries` keys of `key_len` bytes (at least 8: rte_hash's minimum;
    the NF enforces its own limit), or NULL with rte_errno set. The table is
    extendable, so no insert fails before `entries` keys, whatever their hashes.
    Positions run from 0 to rte_hash_max_key_id."""
    cdef rte_hash_parameters p
    memset(&p, 0, sizeof(p))
    p.name = name
    p.entries = entries if entries >= 8 else 8
    p.key_len = key_len
    p.hash_func = hash_func
    p.socket_id = -1  # SOCKET_ID_ANY
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE
    return rte_hash_create(&p)


cdef inline void* flow_records(const rte_hash* table, size_t record_size, const char* type) noexcept nogil:
    """Zeroed records for every position of `table`, cache-line aligned, or NULL."""
    return rte_zmalloc(type, record_size * (<size_t>rte_hash_max_key_id(table) + 1), 64)


cdef struct flow_link:
    uint32_t prev
    uint32_t next


cdef struct flow_queue:
    uint32_t head  # the first record to expire or be evicted
    uint32_t tail


cdef inline void flow_queue_init(flow_queue* q) noexcept nogil:
    q.head = FLOW_NIL
    q.tail = FLOW_NIL


cdef inline flow_link* flow_link_at(char* links, size_t stride, uint32_t pos) noexcept nogil:
    return <flow_link*>(links + <size_t>pos * stride)


cdef inline void flow_queue_remove(flow_queue* q, char* links, size_t stride, uint32_t pos) noexcept nogil:
    cdef flow_link* l = flow_link_at(links, stride, pos)
    if l.prev == FLOW_NIL:
        q.head = l.next
    else:
        flow_link_at(links, stride, l.prev).next = l.next
    if l.next == FLOW_NIL:
        q.tail = l.prev
    else:
        flow_link_at(links, stride, l.next).prev = l.prev


cdef inline void flow_queue_append(flow_queue* q, char* links, size_t stride, uint32_t pos) noexcept nogil:
    cdef flow_link* l = flow_link_at(links, stride, pos)
    l.prev = q.tail
    l.next = FLOW_NIL
    if q.tail == FLOW_NIL:
        q.head = pos
    else:
        flow_link_at(links, stride, q.tail).next = pos
    q.tail = pos
