# VlanPop native body: remove the outermost VLAN tag, in place.
#
# The 12 MAC bytes move 4 bytes up over the tag with memmove, then
# rte_pktmbuf_adj starts the frame 4 bytes later. No mbuf is allocated.

from libc.stdint cimport uint8_t, uint16_t
from libc.string cimport memmove
from dpdk cimport rte_mbuf, rte_pktmbuf_adj, chainc_mbuf_data
from meta cimport pkt_meta, meta_reparse, meta_is_tpid


cdef inline int vlanpop_process(void* st, rte_mbuf* m, pkt_meta* meta, int in_port,
                                int drop_untagged) noexcept nogil:
    cdef uint8_t* eth = chainc_mbuf_data(m)
    if m.data_len < 14:
        return -2  # runt (or an Ethernet header split over segments)
    if not meta_is_tpid((<uint16_t>eth[12] << 8) | eth[13]):
        return -1 if drop_untagged else 0  # untagged
    if m.data_len < 18:
        return -2  # runt: the tag is cut short (or continues in the next segment)
    memmove(eth + 4, eth, 12)
    eth = <uint8_t*>rte_pktmbuf_adj(m, 4)
    meta_reparse(meta, eth, m.data_len, m.pkt_len)
    return 0
