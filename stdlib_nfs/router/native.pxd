# Router native body: longest-prefix match with DPDK's rte_lpm (IPv4) and
# rte_lpm6 (IPv6), TTL / hop-limit decrement, Ethernet address rewrite.
#
# Theory of operation
#
# The route file is parsed when the chain is built, not when it runs: the
# spec's `generate` hook writes the routes of each Router instance into the
# generated module as constant arrays, and the instance's init function hands
# them to `router_setup` at start-up, which creates the LPM tables and adds
# every route. So the binary needs no file at run time, and the build cache,
# keyed on the generated source, follows the route file's content.
#
# Each route's LPM next hop is an index into a small table of distinct next
# hops (output port, destination MAC, source MAC). The tables are read-only
# once the workers start, so a Router keeps no per-packet state beyond its
# counters.
#
# Per packet (docs/router.md has the rules in prose):
#   valid IPv4 / IPv6 header (from the packet metadata) ->
#     TTL or hop limit <= 1 and decrementing  -> expired output, or drop
#     no matching route                       -> drop (no-route)
#     decrement (IPv4: checksum by RFC 1624), rewrite MACs -> the route's port
#   an IPv4/IPv6 EtherType without a valid header, or a frame that cannot be
#   parsed as far as its EtherType                -> drop (malformed)
#   any other EtherType                           -> drop (not-ip)
#
# Only bytes the metadata proved readable are touched: the 14-byte Ethernet
# header and the fixed IPv4 (20 bytes) or IPv6 (40 bytes) header, all in the
# first segment.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc
from libc.string cimport memcpy
from dpdk cimport rte_mbuf, rte_errno, chainc_mbuf_data
from meta cimport (pkt_meta, META_ETH_OK, META_L3_IPV4, META_L3_IPV6, META_L3_BAD,
                   META_VLAN_TRUNC, META_VLAN_LIMIT, META_SPLIT)

cdef extern from "rte_lpm.h" nogil:
    struct rte_lpm:
        pass

    struct rte_lpm_config:
        uint32_t max_rules
        uint32_t number_tbl8s
        int flags

    rte_lpm* rte_lpm_create(const char* name, int socket_id, const rte_lpm_config* config)
    int rte_lpm_add(rte_lpm* lpm, uint32_t ip, uint8_t depth, uint32_t next_hop)
    int rte_lpm_lookup(const rte_lpm* lpm, uint32_t ip, uint32_t* next_hop)

cdef extern from "rte_lpm6.h" nogil:
    struct rte_lpm6:
        pass

    struct rte_lpm6_config:
        uint32_t max_rules
        uint32_t number_tbl8s
        int flags

    rte_lpm6* rte_lpm6_create(const char* name, int socket_id, const rte_lpm6_config* config)
    int rte_lpm6_add(rte_lpm6* lpm, const uint8_t* ip, uint8_t depth, uint32_t next_hop)
    int rte_lpm6_lookup(const rte_lpm6* lpm, const uint8_t* ip, uint32_t* next_hop)

cdef extern from "rte_memory.h" nogil:
    int SOCKET_ID_ANY


cdef enum:
    ROUTER_NO_ROUTE = -1     # drop_reasons[0]
    ROUTER_TTL_EXPIRED = -2  # drop_reasons[1]
    ROUTER_NOT_IP = -3       # drop_reasons[2]
    ROUTER_MALFORMED = -4    # drop_reasons[3]

    # Records of the constant arrays `generate` emits (all bytes big-endian):
    ROUTER_V4_WORDS = 3      # uint32: address, depth, next-hop index
    ROUTER_V6_BYTES = 20     # 16 address bytes, depth, 3 bytes next-hop index
    ROUTER_HOP_BYTES = 16    # 2 port index, set dst, set src, 6 dst MAC, 6 src MAC

    # router_setup's failures (the generated init turns them into messages).
    ROUTER_ERR_V4_CREATE = 1
    ROUTER_ERR_V4_ADD = 2
    ROUTER_ERR_V6_CREATE = 3
    ROUTER_ERR_V6_ADD = 4
    ROUTER_ERR_NOMEM = 5


cdef struct router_hop:
    uint16_t port     # output index
    uint8_t set_dst   # rewrite the destination MAC
    uint8_t set_src   # rewrite the source MAC
    uint8_t dst[6]
    uint8_t src[6]


cdef struct router_state:
    rte_lpm* lpm4     # NULL: no IPv4 route
    rte_lpm6* lpm6    # NULL: no IPv6 route
    router_hop* hops
    int64_t default4  # next hop of 0.0.0.0/0, or -1 (rte_lpm has no depth-0 routes)
    int64_t default6  # next hop of ::/0, or -1
    uint32_t failed_at  # after a failed setup: the route being added,
    int failed_errno    # and the error rte_lpm(6)_add returned
    uint64_t routed_ipv4
    uint64_t routed_ipv6
    uint64_t ttl_expired


cdef inline int router_setup(router_state* st, const char* name4, const char* name6,
                             const uint32_t* v4, uint32_t n4, uint32_t tbl8_4,
                             const uint8_t* v6, uint32_t n6, uint32_t tbl8_6,
                             const uint8_t* hops, uint32_t n_hops) noexcept nogil:
    """Create the LPM tables and add the routes; 0, or a ROUTER_ERR_* code.

    rte_lpm and rte_lpm6 take depths from 1: a default route (depth 0) is kept
    beside the table and used when the lookup misses."""
    cdef rte_lpm_config c4
    cdef rte_lpm6_config c6
    cdef uint32_t i, n_deep = 0
    cdef const uint8_t* r
    cdef int ret
    st.default4 = -1
    st.default6 = -1
    st.hops = <router_hop*>malloc(sizeof(router_hop) * (n_hops if n_hops else 1))
    if st.hops == NULL:
        return ROUTER_ERR_NOMEM
    for i in range(n_hops):
        r = hops + i * ROUTER_HOP_BYTES
        st.hops[i].port = (<uint16_t>r[0] << 8) | r[1]
        st.hops[i].set_dst = r[2]
        st.hops[i].set_src = r[3]
        memcpy(st.hops[i].dst, r + 4, 6)
        memcpy(st.hops[i].src, r + 10, 6)
    for i in range(n4):
        if v4[i * ROUTER_V4_WORDS + 1] == 0:
            st.default4 = v4[i * ROUTER_V4_WORDS + 2]
        else:
            n_deep += 1
    if n_deep:
        c4.max_rules = n_deep
        c4.number_tbl8s = tbl8_4
        c4.flags = 0
        st.lpm4 = rte_lpm_create(name4, SOCKET_ID_ANY, &c4)
        if st.lpm4 == NULL:
            st.failed_errno = rte_errno
            return ROUTER_ERR_V4_CREATE
        for i in range(n4):
            if v4[i * ROUTER_V4_WORDS + 1] == 0:
                continue
            ret = rte_lpm_add(st.lpm4, v4[i * ROUTER_V4_WORDS], <uint8_t>v4[i * ROUTER_V4_WORDS + 1],
                              v4[i * ROUTER_V4_WORDS + 2])
            if ret != 0:
                st.failed_at = i
                st.failed_errno = -ret
                return ROUTER_ERR_V4_ADD
    n_deep = 0
    for i in range(n6):
        r = v6 + i * ROUTER_V6_BYTES
        if r[16] == 0:
            st.default6 = (<uint32_t>r[17] << 16) | (<uint32_t>r[18] << 8) | r[19]
        else:
            n_deep += 1
    if n_deep:
        c6.max_rules = n_deep
        c6.number_tbl8s = tbl8_6
        c6.flags = 0
        st.lpm6 = rte_lpm6_create(name6, SOCKET_ID_ANY, &c6)
        if st.lpm6 == NULL:
            st.failed_errno = rte_errno
            return ROUTER_ERR_V6_CREATE
        for i in range(n6):
            r = v6 + i * ROUTER_V6_BYTES
            if r[16] == 0:
                continue
            ret = rte_lpm6_add(st.lpm6, r, r[16],
                               (<uint32_t>r[17] << 16) | (<uint32_t>r[18] << 8) | r[19])
            if ret != 0:
                st.failed_at = i
                st.failed_errno = -ret
                return ROUTER_ERR_V6_ADD
    return 0


cdef inline int router_forward(router_state* st, uint8_t* eth, uint32_t nh) noexcept nogil:
    cdef const router_hop* hop = &st.hops[nh]
    if hop.set_dst:
        memcpy(eth, hop.dst, 6)
    if hop.set_src:
        memcpy(eth + 6, hop.src, 6)
    return hop.port


cdef inline int router_process(router_state* st, rte_mbuf* m, pkt_meta* meta, int in_port,
                               int decrement, int expired_out) noexcept nogil:
    """`decrement`: 1 to decrement TTL / hop limit; `expired_out`: output of expired
    packets, or -1 to drop them."""
    cdef uint8_t* eth = chainc_mbuf_data(m)
    cdef uint8_t* ip = eth + meta.l3_off
    cdef uint32_t nh, sum
    cdef uint16_t old_word, new_word
    cdef uint32_t flags = meta.flags
    if flags & META_L3_IPV4:
        if decrement and ip[8] <= 1:
            st.ttl_expired += 1
            return expired_out if expired_out >= 0 else ROUTER_TTL_EXPIRED
        if st.lpm4 == NULL or rte_lpm_lookup(st.lpm4, meta.ip4_dst, &nh) != 0:
            if st.default4 < 0:
                return ROUTER_NO_ROUTE
            nh = <uint32_t>st.default4
        if decrement:
            # RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m') in one's complement
            # arithmetic, m being the 16-bit word holding TTL and protocol.
            old_word = (<uint16_t>ip[8] << 8) | ip[9]
            new_word = old_word - 0x0100
            sum = ((~((<uint32_t>ip[10] << 8) | ip[11])) & 0xffff) + ((~old_word) & 0xffff) + new_word
            sum = (sum & 0xffff) + (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16)
            sum = ~sum & 0xffff
            ip[8] -= 1
            ip[10] = <uint8_t>(sum >> 8)
            ip[11] = <uint8_t>sum
            meta.ip_ttl = ip[8]
        st.routed_ipv4 += 1
        return router_forward(st, eth, nh)
    if flags & META_L3_IPV6:
        if decrement and ip[7] <= 1:
            st.ttl_expired += 1
            return expired_out if expired_out >= 0 else ROUTER_TTL_EXPIRED
        if st.lpm6 == NULL or rte_lpm6_lookup(st.lpm6, ip + 24, &nh) != 0:
            if st.default6 < 0:
                return ROUTER_NO_ROUTE
            nh = <uint32_t>st.default6
        if decrement:
            ip[7] -= 1
            meta.ip_ttl = ip[7]
        st.routed_ipv6 += 1
        return router_forward(st, eth, nh)
    if (not (flags & META_ETH_OK) or flags & (META_L3_BAD | META_VLAN_TRUNC | META_VLAN_LIMIT | META_SPLIT)
            or meta.ethertype == 0x0800 or meta.ethertype == 0x86dd):
        return ROUTER_MALFORMED
    return ROUTER_NOT_IP
