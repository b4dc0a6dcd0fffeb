# Fault native body: each kind is a bug a sanitized build must report.

from libc.stdint cimport uint8_t, uint64_t
from dpdk cimport rte_mbuf, chainc_mbuf_data
from meta cimport pkt_meta


cdef struct fault_state:
    uint64_t seen


cdef inline int fault_process(fault_state* st, rte_mbuf* m, pkt_meta* meta, int in_port,
                              int kind) noexcept nogil:
    cdef const uint8_t* data = chainc_mbuf_data(m)
    cdef int shift
    if kind == 0:
        st.seen += data[60]  # past data_len for a frame shorter than 61 bytes
    elif m.data_len:
        shift = data[m.data_len - 1]
        st.seen += <uint64_t>(1 << shift)  # undefined for a shift of 32 or more
    return 0
