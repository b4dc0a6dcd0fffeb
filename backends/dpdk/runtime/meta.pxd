# Packet metadata: the block every NF reads, parsed once when a packet enters
# the chain. docs/packet-metadata.md is the specification of every field and
# flag; chainc/packet.py implements the same specification in Python and a
# differential test holds the two together.
#
# Only libc is cimported here, so this file compiles without DPDK.
#
#     from meta cimport pkt_meta, meta_parse, META_L4_OK
#     meta_parse(&meta, data, first_segment_len, frame_len)
#     meta_parse_to(&meta, data, first_segment_len, frame_len, META_DEPTH_L3)

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t


cdef enum:
    META_ETH_OK = 0x00001          # 14-byte Ethernet header read
    META_VLAN_TRUNC = 0x00002      # frame ends inside a VLAN tag
    META_VLAN_LIMIT = 0x00004      # more than META_MAX_VLAN tags
    META_L3_IPV4 = 0x00008         # valid IPv4 header
    META_L3_IPV6 = 0x00010         # valid IPv6 header and extension chain
    META_L3_BAD = 0x00020          # IPv4/IPv6 EtherType, malformed header
    META_IP_OPTIONS = 0x00040      # IPv4 IHL > 5
    META_IPV6_EXT = 0x00080        # IPv6 extension headers walked
    META_IPV6_EXT_LIMIT = 0x00100  # more than META_MAX_IPV6_EXT extension headers
    META_DF = 0x00200              # IPv4 Don't Fragment
    META_MF = 0x00400              # More Fragments (IPv4 or IPv6 fragment header)
    META_FRAG_FIRST = 0x00800      # offset 0 with More Fragments
    META_FRAG_NONFIRST = 0x01000   # offset != 0: no L4 header
    META_L4_OK = 0x02000           # TCP/UDP/ICMP/ICMPv6 header read
    META_L4_BAD = 0x04000          # that header truncated or malformed
    META_SPLIT = 0x08000           # a header continues past the first segment

    META_FRAG = META_FRAG_FIRST | META_FRAG_NONFIRST
    META_L3_IP = META_L3_IPV4 | META_L3_IPV6

    META_MAX_VLAN = 4
    META_MAX_IPV6_EXT = 8

    # How far meta_parse_to goes (the optimiser's parse-once pass picks it per
    # port): the fields of deeper layers stay zero.
    META_DEPTH_NONE = 0  # nothing but pkt_len and payload_len
    META_DEPTH_L2 = 2    # Ethernet and VLAN tags
    META_DEPTH_L3 = 3    # and the IPv4/IPv6 header
    META_DEPTH_L4 = 4    # and the TCP/UDP/ICMP header: what meta_parse does

# Connection tracking (set by a ConnTrack, zero before one; see
# docs/packet-metadata.md): `ct_state`, the bits of `ct_events`, `ct_tcp_state`.
cdef enum:
    META_CT_NONE = 0               # no ConnTrack has seen the packet
    META_CT_NEW = 1
    META_CT_ESTABLISHED = 2
    META_CT_RELATED = 3            # an ICMP error about a tracked connection
    META_CT_INVALID = 4

    META_CT_EV_START = 0x01        # this packet opened the connection
    META_CT_EV_ESTABLISHED = 0x02  # first packet of the reply direction
    META_CT_EV_END = 0x04          # this packet closed it (RST, last ACK of the FINs)
    META_CT_EV_RETRANS = 0x08      # a TCP segment that carries only sequence space already sent
    META_CT_EV_STATE = 0x10        # the TCP state changed

    META_TCP_NONE = 0              # TCP states, numbered as Linux conntrack numbers them
    META_TCP_SYN_SENT = 1
    META_TCP_SYN_RECV = 2
    META_TCP_ESTABLISHED = 3
    META_TCP_FIN_WAIT = 4
    META_TCP_CLOSE_WAIT = 5
    META_TCP_LAST_ACK = 6
    META_TCP_TIME_WAIT = 7
    META_TCP_CLOSE = 8
    META_TCP_SYN_SENT2 = 9


cdef struct pkt_meta:
    uint32_t flags
    uint32_t pkt_len
    uint32_t l4_off
    uint32_t payload_off
    uint32_t payload_len
    uint32_t ip_len
    uint16_t l3_off
    uint16_t ethertype
    uint16_t vlan_tpid
    uint16_t vlan_outer
    uint16_t vlan_inner
    uint8_t vlan_count
    uint8_t ip_proto
    uint8_t ip_ttl
    uint8_t ip_tos
    uint8_t ip_ihl
    uint8_t tcp_flags
    uint16_t ip_frag_off
    uint16_t tcp_window
    uint32_t ip_id
    uint32_t ip4_src
    uint32_t ip4_dst
    uint32_t tcp_seq
    uint32_t tcp_ack
    uint16_t sport
    uint16_t dport
    uint8_t icmp_type
    uint8_t icmp_code
    uint16_t icmp_id
    uint64_t ip6_src_hi
    uint64_t ip6_src_lo
    uint64_t ip6_dst_hi
    uint64_t ip6_dst_lo
    uint8_t ct_state
    uint8_t ct_events
    uint8_t ct_tcp_state
    uint8_t ct_dir
    uint32_t ct_id


cdef extern from *:
    """
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* Zero the metadata block with 16-byte stores: for a block of this size a
     * plain memset becomes `rep stos`, whose start-up cost was a quarter of a
     * stage's time in profiles of short chains. */
    static inline void meta_zero_block(void *p, size_t n)
    {
        unsigned char *c = (unsigned char *)p;
        size_t i = 0;
    #if defined(__SSE2__)
        const __m128i z = _mm_setzero_si128();
        for (; i + 16 <= n; i += 16)
            _mm_storeu_si128((__m128i *)(c + i), z);
    #endif
        for (; i < n; i++)
            c[i] = 0;
    }
    """
    void meta_zero_block(void* p, size_t n) noexcept nogil


# -- big-endian loads (compilers turn these into one load and a bswap) ------

cdef inline uint16_t meta_be16(const uint8_t* p) noexcept nogil:
    return <uint16_t>((<uint16_t>p[0] << 8) | p[1])


cdef inline uint32_t meta_be32(const uint8_t* p) noexcept nogil:
    return ((<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16)
            | (<uint32_t>p[2] << 8) | <uint32_t>p[3])


cdef inline uint64_t meta_be64(const uint8_t* p) noexcept nogil:
    return (<uint64_t>meta_be32(p) << 32) | meta_be32(p + 4)


# -- layers ---------------------------------------------------------------

cdef inline void meta_l4(pkt_meta* m, const uint8_t* data, uint32_t off, uint32_t end,
                         uint32_t cap, uint8_t icmp_proto) noexcept nogil:
    """The TCP, UDP or ICMP header at `off`, inside an IP packet ending at `end`."""
    cdef uint32_t avail = end - off
    cdef uint32_t hlen
    cdef const uint8_t* h = data + off
    cdef uint8_t proto = m.ip_proto
    if proto == 6:
        if avail < 20:
            m.flags |= META_L4_BAD
            return
        if off + 20 > cap:
            m.flags |= META_SPLIT
            return
        hlen = (h[12] >> 4) * 4u
        if hlen < 20 or hlen > avail:
            m.flags |= META_L4_BAD
            return
        m.sport = meta_be16(h)
        m.dport = meta_be16(h + 2)
        m.tcp_seq = meta_be32(h + 4)
        m.tcp_ack = meta_be32(h + 8)
        m.tcp_flags = h[13]
        m.tcp_window = meta_be16(h + 14)
    elif proto == 17:
        if avail < 8:
            m.flags |= META_L4_BAD
            return
        if off + 8 > cap:
            m.flags |= META_SPLIT
            return
        hlen = 8
        m.sport = meta_be16(h)
        m.dport = meta_be16(h + 2)
    elif proto == icmp_proto:
        if avail < 4:
            m.flags |= META_L4_BAD
            return
        if off + 4 > cap:
            m.flags |= META_SPLIT
            return
        hlen = 4
        m.icmp_type = h[0]
        m.icmp_code = h[1]
        if avail >= 8 and off + 8 <= cap:
            hlen = 8
            m.icmp_id = meta_be16(h + 4)
    else:
        return
    m.flags |= META_L4_OK
    m.payload_off = off + hlen
    m.payload_len = end - (off + hlen)


cdef inline void meta_ipv4(pkt_meta* m, const uint8_t* data, uint32_t l3,
                           uint32_t cap, uint32_t wire, int depth) noexcept nogil:
    cdef uint32_t avail = wire - l3
    cdef const uint8_t* h = data + l3
    cdef uint32_t hlen, total
    cdef uint16_t word
    if avail < 20:
        m.flags |= META_L3_BAD
        return
    if l3 + 20 > cap:
        m.flags |= META_SPLIT
        return
    hlen = (h[0] & 0x0f) * 4u
    total = meta_be16(h + 2)
    if (h[0] >> 4) != 4 or hlen < 20 or hlen > avail or total < hlen or total > avail:
        m.flags |= META_L3_BAD
        return

    word = meta_be16(h + 6)
    m.flags |= META_L3_IPV4
    if hlen > 20:
        m.flags |= META_IP_OPTIONS
    if word & 0x4000:
        m.flags |= META_DF
    if word & 0x2000:
        m.flags |= META_MF
    m.ip_frag_off = word & 0x1fff
    if m.ip_frag_off != 0:
        m.flags |= META_FRAG_NONFIRST
    elif word & 0x2000:
        m.flags |= META_FRAG_FIRST
    m.ip_ihl = h[0] & 0x0f
    m.ip_tos = h[1]
    m.ip_len = total
    m.ip_id = meta_be16(h + 4)
    m.ip_ttl = h[8]
    m.ip_proto = h[9]
    m.ip4_src = meta_be32(h + 12)
    m.ip4_dst = meta_be32(h + 16)

    m.l4_off = l3 + hlen
    m.payload_off = l3 + hlen
    m.payload_len = total - hlen
    if m.ip_frag_off == 0 and depth >= META_DEPTH_L4:
        meta_l4(m, data, l3 + hlen, l3 + total, cap, 1)


cdef inline void meta_ipv6(pkt_meta* m, const uint8_t* data, uint32_t l3,
                           uint32_t cap, uint32_t wire, int depth) noexcept nogil:
    cdef const uint8_t* h = data + l3
    cdef const uint8_t* ext
    cdef uint32_t end, off, hlen
    cdef uint32_t flags = 0
    cdef uint32_t frag_id = 0
    cdef uint16_t frag_word, frag_off = 0
    cdef uint8_t nh
    cdef int walked = 0
    if wire - l3 < 40:
        m.flags |= META_L3_BAD
        return
    if l3 + 40 > cap:
        m.flags |= META_SPLIT
        return
    end = l3 + 40 + meta_be16(h + 4)
    if (h[0] >> 4) != 6 or end > wire:
        m.flags |= META_L3_BAD
        return

    # Extension headers: bounded walk, results kept local until the chain
    # is known to be well formed.
    nh = h[6]
    off = l3 + 40
    while nh == 0 or nh == 43 or nh == 44 or nh == 60 or nh == 51:
        if walked == META_MAX_IPV6_EXT:
            flags |= META_IPV6_EXT_LIMIT
            break
        if off + 8 > end:
            m.flags |= META_L3_BAD
            return
        if off + 8 > cap:
            flags |= META_SPLIT
            break
        ext = data + off
        if nh == 44:
            hlen = 8
            frag_word = meta_be16(ext + 2)
            frag_off = frag_word >> 3
            frag_id = meta_be32(ext + 4)
            flags &= ~(<uint32_t>META_MF)
            if frag_word & 1:
                flags |= META_MF
            if frag_off != 0:
                flags |= META_FRAG_NONFIRST
            elif frag_word & 1:
                flags |= META_FRAG_FIRST
        elif nh == 51:
            hlen = (ext[1] + 2u) * 4u
        else:
            hlen = (ext[1] + 1u) * 8u
        if off + hlen > end:
            m.flags |= META_L3_BAD
            return
        nh = ext[0]
        off += hlen
        walked += 1
        if flags & META_FRAG_NONFIRST:
            break

    m.flags |= META_L3_IPV6 | flags
    if walked:
        m.flags |= META_IPV6_EXT
    m.ip_len = end - l3
    m.ip_tos = <uint8_t>(meta_be16(h) >> 4)
    m.ip_ttl = h[7]
    m.ip_proto = nh
    m.ip_frag_off = frag_off
    m.ip_id = frag_id
    m.ip6_src_hi = meta_be64(h + 8)
    m.ip6_src_lo = meta_be64(h + 16)
    m.ip6_dst_hi = meta_be64(h + 24)
    m.ip6_dst_lo = meta_be64(h + 32)

    m.l4_off = off
    m.payload_off = off
    m.payload_len = end - off
    if not (flags & (META_FRAG_NONFIRST | META_IPV6_EXT_LIMIT | META_SPLIT)) and depth >= META_DEPTH_L4:
        meta_l4(m, data, off, end, cap, 58)


cdef inline bint meta_is_tpid(uint16_t t) noexcept nogil:
    return t == 0x8100 or t == 0x88a8 or t == 0x9100


cdef inline void meta_parse(pkt_meta* m, const uint8_t* data, uint32_t len,
                            uint32_t pkt_len) noexcept nogil:
    """Fill `m` from the frame at `data`: `len` bytes readable, `pkt_len` in all."""
    meta_parse_to(m, data, len, pkt_len, META_DEPTH_L4)


cdef inline void meta_parse_to(pkt_meta* m, const uint8_t* data, uint32_t len,
                               uint32_t pkt_len, int depth) noexcept nogil:
    """meta_parse down to `depth` (a META_DEPTH_*, a constant the C compiler folds)."""
    cdef uint32_t cap = len if len < pkt_len else pkt_len
    cdef uint32_t off = 14
    cdef uint16_t etype, tci
    meta_zero_block(m, sizeof(pkt_meta))
    m.pkt_len = pkt_len
    m.payload_len = pkt_len
    if pkt_len < 14 or depth < META_DEPTH_L2:
        return
    if cap < 14:
        m.flags = META_SPLIT
        return
    m.flags = META_ETH_OK

    etype = meta_be16(data + 12)
    while meta_is_tpid(etype):
        if m.vlan_count == META_MAX_VLAN:
            m.flags |= META_VLAN_LIMIT
            break
        if off + 4 > pkt_len:
            m.flags |= META_VLAN_TRUNC
            break
        if off + 4 > cap:
            m.flags |= META_SPLIT
            break
        tci = meta_be16(data + off)
        if m.vlan_count == 0:
            m.vlan_tpid = etype
            m.vlan_outer = tci
        m.vlan_inner = tci
        m.vlan_count += 1
        etype = meta_be16(data + off + 2)
        off += 4

    m.ethertype = etype
    m.l3_off = <uint16_t>off
    m.payload_off = off
    m.payload_len = pkt_len - off
    if depth < META_DEPTH_L3:
        return
    if etype == 0x0800:
        meta_ipv4(m, data, off, cap, pkt_len, depth)
    elif etype == 0x86dd:
        meta_ipv6(m, data, off, cap, pkt_len, depth)


cdef inline void meta_reparse(pkt_meta* m, const uint8_t* data, uint32_t len,
                              uint32_t pkt_len) noexcept nogil:
    """Parse again after rewriting headers, keeping the connection-tracking
    fields: they describe the packet's connection, not its bytes."""
    cdef uint8_t state = m.ct_state, events = m.ct_events
    cdef uint8_t tcp_state = m.ct_tcp_state, direction = m.ct_dir
    cdef uint32_t conn = m.ct_id
    meta_parse(m, data, len, pkt_len)
    m.ct_state = state
    m.ct_events = events
    m.ct_tcp_state = tcp_state
    m.ct_dir = direction
    m.ct_id = conn
