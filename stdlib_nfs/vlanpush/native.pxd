# VlanPush native body: insert a VLAN tag after the source MAC, in place.
#
# rte_pktmbuf_prepend moves the frame's start 4 bytes into the headroom; the
# 12 MAC bytes move down with memmove and the tag fills the gap. No mbuf is
# allocated and no byte past the Ethernet header is touched.

from libc.stdint cimport uint8_t, uint16_t
from libc.string cimport memmove
from dpdk cimport rte_mbuf, rte_pktmbuf_prepend
from meta cimport pkt_meta, meta_reparse


cdef inline int vlanpush_process(void* st, rte_mbuf* m, pkt_meta* meta, int in_port,
                                 uint16_t tpid, uint16_t tci) noexcept nogil:
    cdef uint8_t* eth
    if m.data_len < 14:
        return -1  # runt (or an Ethernet header split over segments)
    eth = <uint8_t*>rte_pktmbuf_prepend(m, 4)
    if eth == NULL:
        return -2  # no-headroom
    memmove(eth, eth + 4, 12)
    eth[12] = <uint8_t>(tpid >> 8)
    eth[13] = <uint8_t>tpid
    eth[14] = <uint8_t>(tci >> 8)
    eth[15] = <uint8_t>tci
    meta_reparse(meta, eth, m.data_len, m.pkt_len)
    return 0
