# Tee native body: the packet goes on, a deep copy of it is emitted on `copy`.

from libc.stdint cimport uint32_t, uint64_t
from dpdk cimport rte_mbuf, chainc_copy_frame, chainc_emit
from meta cimport pkt_meta

cdef enum:
    TEE_OUT = 0
    TEE_COPY = 1


cdef struct tee_state:
    uint64_t copied
    uint64_t copy_failed


cdef inline int tee_process(tee_state* st, rte_mbuf* m, pkt_meta* meta, int in_port,
                            chainc_emit* emit, uint32_t snaplen) noexcept nogil:
    # A deep copy (its own data segments, from the packet's own pool), not
    # rte_pktmbuf_clone: a clone shares the data, so an NF that rewrites one
    # path's headers would rewrite the other's too.
    cdef rte_mbuf* twin = chainc_copy_frame(m, snaplen)
    if twin == NULL:
        st.copy_failed += 1  # the pool is empty: the original is never held back
    else:
        st.copied += 1
        emit.m = twin
        emit.out = TEE_COPY
    return TEE_OUT
