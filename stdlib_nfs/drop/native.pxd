# Drop native body: every packet is dropped; no listed reason, so it counts as "dropped".

from dpdk cimport rte_mbuf
from meta cimport pkt_meta


cdef inline int drop_process(void* st, rte_mbuf* m, pkt_meta* meta, int in_port) noexcept nogil:
    return -1
