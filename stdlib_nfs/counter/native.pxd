# Counter native body: count packets and bytes, forward on output 0.

from libc.stdint cimport uint64_t
from dpdk cimport rte_mbuf
from meta cimport pkt_meta


cdef struct counter_state:
    uint64_t packets
    uint64_t bytes


cdef inline int counter_init(counter_state* st) except -1 nogil:
    st.packets = 0
    st.bytes = 0
    return 0


cdef inline int counter_process(counter_state* st, rte_mbuf* m, pkt_meta* meta,
                                int in_port) noexcept nogil:
    st.packets += 1
    st.bytes += m.pkt_len
    return 0
