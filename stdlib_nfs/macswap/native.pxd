# MacSwap native body: exchange the Ethernet destination and source addresses.

from libc.stdint cimport uint8_t
from libc.string cimport memcpy
from dpdk cimport rte_mbuf, chainc_mbuf_data
from meta cimport pkt_meta


cdef inline int macswap_process(void* st, rte_mbuf* m, pkt_meta* meta,
                                int in_port) noexcept nogil:
    cdef uint8_t tmp[6]
    cdef uint8_t* eth
    if m.data_len < 14:
        return -1  # runt: the header is not all in the first segment
    eth = chainc_mbuf_data(m)
    memcpy(tmp, eth, 6)
    memcpy(eth, eth + 6, 6)
    memcpy(eth + 6, tmp, 6)
    return 0
