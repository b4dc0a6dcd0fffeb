# RateLimiter native body: rte_meter srTCM / trTCM markers on the NFs' nanosecond
# clock, one aggregate meter or an LRU table of per-flow meters (rte_hash).

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from libc.string cimport memset, memcpy
from dpdk cimport rte_mbuf, chainc_now_ns
from flowtable cimport (rte_hash, rte_hash_function, rte_hash_add_key, rte_hash_lookup, rte_hash_del_key,
                        rte_jhash, flow_table_create, flow_records, flow_link, flow_queue,
                        flow_queue_init, flow_queue_remove, flow_queue_append)
from meta cimport pkt_meta, META_L3_IPV4, META_L3_IPV6, META_L4_OK


cdef extern from "rte_meter.h" nogil:
    struct rte_meter_srtcm_profile:
        uint64_t cbs
        uint64_t ebs
        uint64_t cir_period
        uint64_t cir_bytes_per_period
    struct rte_meter_srtcm:
        uint64_t time
        uint64_t tc
        uint64_t te
    struct rte_meter_trtcm_profile:
        uint64_t cbs
        uint64_t pbs
        uint64_t cir_period
        uint64_t cir_bytes_per_period
        uint64_t pir_period
        uint64_t pir_bytes_per_period
    struct rte_meter_trtcm:
        uint64_t time_tc
        uint64_t time_tp
        uint64_t tc
        uint64_t tp
    enum rte_color:
        RTE_COLOR_GREEN
        RTE_COLOR_YELLOW
        RTE_COLOR_RED
    rte_color rte_meter_srtcm_color_blind_check(rte_meter_srtcm* m, rte_meter_srtcm_profile* p,
                                                uint64_t time, uint32_t pkt_len)
    rte_color rte_meter_trtcm_color_blind_check(rte_meter_trtcm* m, rte_meter_trtcm_profile* p,
                                                uint64_t time, uint32_t pkt_len)


cdef enum:
    RL_POLICER = 0
    RL_SRTCM = 1
    RL_TRTCM = 2
    RL_TCP = 6
    RL_UDP = 17


cdef struct ratelimiter_key:  # the 5-tuple; IPv4 addresses in the low words
    uint64_t src_hi
    uint64_t src_lo
    uint64_t dst_hi
    uint64_t dst_lo
    uint16_t sport
    uint16_t dport
    uint8_t proto
    uint8_t _pad[3]


cdef union ratelimiter_meter:
    rte_meter_srtcm sr
    rte_meter_trtcm tr


cdef struct ratelimiter_flow:  # one slot per rte_hash position
    ratelimiter_key key
    ratelimiter_meter meter
    flow_link link  # in the LRU queue


cdef struct ratelimiter_state:
    int mode
    int packets  # tokens are packets (a pps rate), else bytes of frame
    rte_meter_srtcm_profile sr
    rte_meter_trtcm_profile tr
    ratelimiter_meter aggregate
    int aggregate_ready
    # Per-flow meters. rte_hash has no eviction, so the slots of its positions
    # form a queue, least recently used first: O(1) to touch, O(1) to evict.
    rte_hash* table
    ratelimiter_flow* flows
    uint32_t capacity
    uint32_t used
    flow_queue lru
    uint64_t green
    uint64_t yellow
    uint64_t red
    uint64_t flows_evicted


cdef inline int ratelimiter_init(ratelimiter_state* st, int mode, int packets,
                                 uint64_t cbs, uint64_t ebs, uint64_t pbs,
                                 uint64_t cir_period, uint64_t cir_per, uint64_t pir_period,
                                 uint64_t pir_per, uint32_t flows, const char* name) except -1 nogil:
    st.mode = mode
    st.packets = packets
    st.sr.cbs = cbs
    st.sr.ebs = ebs
    st.sr.cir_period = cir_period
    st.sr.cir_bytes_per_period = cir_per
    st.tr.cbs = cbs
    st.tr.pbs = pbs
    st.tr.cir_period = cir_period
    st.tr.cir_bytes_per_period = cir_per
    st.tr.pir_period = pir_period
    st.tr.pir_bytes_per_period = pir_per
    flow_queue_init(&st.lru)
    if flows == 0:
        return 0
    st.table = flow_table_create(name, flows, sizeof(ratelimiter_key), <rte_hash_function>rte_jhash)
    if st.table != NULL:
        st.flows = <ratelimiter_flow*>flow_records(st.table, sizeof(ratelimiter_flow), b"ratelimiter")
    if st.table == NULL or st.flows == NULL:
        with gil:
            raise MemoryError(f"RateLimiter: cannot allocate a table of {flows} flow meters")
    st.capacity = flows
    return 0


cdef inline void ratelimiter_start(ratelimiter_state* st, ratelimiter_meter* mt, uint64_t now) noexcept nogil:
    # Buckets start full, as rte_meter's *_config functions leave them.
    if st.mode == RL_TRTCM:
        mt.tr.time_tc = now
        mt.tr.time_tp = now
        mt.tr.tc = st.tr.cbs
        mt.tr.tp = st.tr.pbs
    else:
        mt.sr.time = now
        mt.sr.tc = st.sr.cbs
        mt.sr.te = st.sr.ebs


cdef inline void ratelimiter_unlink(ratelimiter_state* st, uint32_t i) noexcept nogil:
    flow_queue_remove(&st.lru, <char*>&st.flows[0].link, sizeof(ratelimiter_flow), i)


cdef inline void ratelimiter_push(ratelimiter_state* st, uint32_t i) noexcept nogil:
    flow_queue_append(&st.lru, <char*>&st.flows[0].link, sizeof(ratelimiter_flow), i)


cdef inline ratelimiter_meter* ratelimiter_flow_meter(ratelimiter_state* st, pkt_meta* meta,
                                                      uint64_t now) noexcept nogil:
    cdef ratelimiter_key key
    cdef int32_t pos
    memset(&key, 0, sizeof(key))
    if meta.flags & META_L3_IPV4:
        key.src_lo = meta.ip4_src
        key.dst_lo = meta.ip4_dst
    elif meta.flags & META_L3_IPV6:
        key.src_hi = meta.ip6_src_hi
        key.src_lo = meta.ip6_src_lo
        key.dst_hi = meta.ip6_dst_hi
        key.dst_lo = meta.ip6_dst_lo
    if meta.flags & (META_L3_IPV4 | META_L3_IPV6):
        key.proto = meta.ip_proto
        if meta.flags & META_L4_OK and (meta.ip_proto == RL_TCP or meta.ip_proto == RL_UDP):
            key.sport = meta.sport
            key.dport = meta.dport
    pos = rte_hash_lookup(st.table, &key)
    if pos >= 0:
        ratelimiter_unlink(st, pos)
        ratelimiter_push(st, pos)
        return &st.flows[pos].meter
    if st.used == st.capacity:  # full: the least recently used flow gives up its meter
        rte_hash_del_key(st.table, &st.flows[st.lru.head].key)
        ratelimiter_unlink(st, st.lru.head)
        st.used -= 1
        st.flows_evicted += 1
    pos = rte_hash_add_key(st.table, &key)
    if pos < 0:  # cannot happen with the extendable table below capacity; never crash
        return NULL
    st.used += 1
    memcpy(&st.flows[pos].key, &key, sizeof(key))
    ratelimiter_push(st, pos)
    ratelimiter_start(st, &st.flows[pos].meter, now)
    return &st.flows[pos].meter


cdef inline int ratelimiter_process(ratelimiter_state* st, rte_mbuf* m, pkt_meta* meta,
                                    int in_port) noexcept nogil:
    cdef uint64_t now = chainc_now_ns(m)
    cdef uint32_t size = 1 if st.packets else m.pkt_len
    cdef ratelimiter_meter* mt
    cdef rte_color color
    if st.capacity:
        mt = ratelimiter_flow_meter(st, meta, now)
        if mt == NULL:
            return -1
    else:
        mt = &st.aggregate
        if not st.aggregate_ready:
            ratelimiter_start(st, mt, now)
            st.aggregate_ready = 1
    if st.mode == RL_TRTCM:
        # A clock that steps back refills nothing (rte_meter would wrap around).
        if now < mt.tr.time_tc:
            now = mt.tr.time_tc
        if now < mt.tr.time_tp:
            now = mt.tr.time_tp
        color = rte_meter_trtcm_color_blind_check(&mt.tr, &st.tr, now, size)
    else:
        if now < mt.sr.time:
            now = mt.sr.time
        color = rte_meter_srtcm_color_blind_check(&mt.sr, &st.sr, now, size)
    if color == RTE_COLOR_GREEN:
        st.green += 1
        return 0
    if color == RTE_COLOR_YELLOW:
        st.yellow += 1
        return 1
    st.red += 1
    return -1 if st.mode == RL_POLICER else 2
