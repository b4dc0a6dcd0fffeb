# SizeFilter native body.

from libc.stdint cimport uint64_t
from dpdk cimport rte_mbuf
from meta cimport pkt_meta


cdef struct sizefilter_state:
    uint64_t passed


cdef inline int sizefilter_init(sizefilter_state* st) except -1 nogil:
    st.passed = 0
    return 0


cdef inline int sizefilter_process(sizefilter_state* st, rte_mbuf* m, pkt_meta* meta,
                                   int in_port, int min_len, int max_len) noexcept nogil:
    if m.pkt_len < <unsigned>min_len:
        return -1  # too-short
    if m.pkt_len > <unsigned>max_len:
        return -2  # too-long
    st.passed += 1
    return 0
