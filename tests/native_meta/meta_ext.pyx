# cython: language_level=3
# A test extension over the runtime's meta.pxd: parse a frame with the C
# parser and hand the struct back as a dict. The frame is copied so that its
# last byte sits right before a page mapped PROT_NONE: any read past `len`
# faults instead of passing silently.

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy
from posix.mman cimport (mmap, munmap, mprotect, PROT_READ, PROT_WRITE, PROT_NONE,
                         MAP_PRIVATE, MAP_ANONYMOUS, MAP_FAILED)
from posix.unistd cimport sysconf, _SC_PAGESIZE

cimport meta as M
from meta cimport pkt_meta, meta_parse, meta_reparse


def parse(const uint8_t[:] data, uint32_t pkt_len):
    """The C parse of `data` (the readable bytes) in a frame of `pkt_len` bytes."""
    cdef pkt_meta m
    cdef size_t n = data.shape[0]
    cdef size_t page = <size_t>sysconf(_SC_PAGESIZE)
    cdef size_t body = ((n + page - 1) // page) * page
    cdef uint8_t* region = <uint8_t*>mmap(NULL, body + page, PROT_READ | PROT_WRITE,
                                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if <void*>region == MAP_FAILED:
        raise MemoryError()
    cdef uint8_t* frame = region + body - n
    try:
        if n:
            memcpy(frame, &data[0], n)
        mprotect(region + body, page, PROT_NONE)
        mprotect(region, body, PROT_READ)
        with nogil:
            meta_parse(&m, frame, <uint32_t>n, pkt_len)
    finally:
        munmap(region, body + page)
    return m


def reparse(const uint8_t[:] data, dict ct):
    """Parse `data`, set the `ct_*` fields from `ct`, parse again with meta_reparse."""
    cdef pkt_meta m
    cdef uint32_t n = data.shape[0]
    meta_parse(&m, &data[0], n, n)
    m.ct_state, m.ct_events, m.ct_tcp_state = ct["ct_state"], ct["ct_events"], ct["ct_tcp_state"]
    m.ct_dir, m.ct_id = ct["ct_dir"], ct["ct_id"]
    meta_reparse(&m, &data[0], n, n)
    return m


def sizeof_meta():
    return sizeof(pkt_meta)


def offsets():
    """Each field's byte offset in the struct."""
    cdef pkt_meta m
    cdef size_t base = <size_t>&m
    return {
        "flags": <size_t>&m.flags - base, "pkt_len": <size_t>&m.pkt_len - base,
        "l4_off": <size_t>&m.l4_off - base, "payload_off": <size_t>&m.payload_off - base,
        "payload_len": <size_t>&m.payload_len - base, "ip_len": <size_t>&m.ip_len - base,
        "l3_off": <size_t>&m.l3_off - base, "ethertype": <size_t>&m.ethertype - base,
        "vlan_tpid": <size_t>&m.vlan_tpid - base, "vlan_outer": <size_t>&m.vlan_outer - base,
        "vlan_inner": <size_t>&m.vlan_inner - base, "vlan_count": <size_t>&m.vlan_count - base,
        "ip_proto": <size_t>&m.ip_proto - base, "ip_ttl": <size_t>&m.ip_ttl - base,
        "ip_tos": <size_t>&m.ip_tos - base, "ip_ihl": <size_t>&m.ip_ihl - base,
        "tcp_flags": <size_t>&m.tcp_flags - base, "ip_frag_off": <size_t>&m.ip_frag_off - base,
        "tcp_window": <size_t>&m.tcp_window - base, "ip_id": <size_t>&m.ip_id - base,
        "ip4_src": <size_t>&m.ip4_src - base, "ip4_dst": <size_t>&m.ip4_dst - base,
        "tcp_seq": <size_t>&m.tcp_seq - base, "tcp_ack": <size_t>&m.tcp_ack - base,
        "sport": <size_t>&m.sport - base, "dport": <size_t>&m.dport - base,
        "icmp_type": <size_t>&m.icmp_type - base, "icmp_code": <size_t>&m.icmp_code - base,
        "icmp_id": <size_t>&m.icmp_id - base, "ip6_src_hi": <size_t>&m.ip6_src_hi - base,
        "ip6_src_lo": <size_t>&m.ip6_src_lo - base, "ip6_dst_hi": <size_t>&m.ip6_dst_hi - base,
        "ip6_dst_lo": <size_t>&m.ip6_dst_lo - base,
        "ct_state": <size_t>&m.ct_state - base, "ct_events": <size_t>&m.ct_events - base,
        "ct_tcp_state": <size_t>&m.ct_tcp_state - base, "ct_dir": <size_t>&m.ct_dir - base,
        "ct_id": <size_t>&m.ct_id - base,
    }


def flags():
    return {
        "META_ETH_OK": M.META_ETH_OK, "META_VLAN_TRUNC": M.META_VLAN_TRUNC,
        "META_VLAN_LIMIT": M.META_VLAN_LIMIT, "META_L3_IPV4": M.META_L3_IPV4,
        "META_L3_IPV6": M.META_L3_IPV6, "META_L3_BAD": M.META_L3_BAD,
        "META_IP_OPTIONS": M.META_IP_OPTIONS, "META_IPV6_EXT": M.META_IPV6_EXT,
        "META_IPV6_EXT_LIMIT": M.META_IPV6_EXT_LIMIT, "META_DF": M.META_DF,
        "META_MF": M.META_MF, "META_FRAG_FIRST": M.META_FRAG_FIRST,
        "META_FRAG_NONFIRST": M.META_FRAG_NONFIRST, "META_L4_OK": M.META_L4_OK,
        "META_L4_BAD": M.META_L4_BAD, "META_SPLIT": M.META_SPLIT,
        "META_FRAG": M.META_FRAG, "META_L3_IP": M.META_L3_IP,
        "META_MAX_VLAN": M.META_MAX_VLAN, "META_MAX_IPV6_EXT": M.META_MAX_IPV6_EXT,
    }
