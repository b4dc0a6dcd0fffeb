# CtStamp native body (tests only).

from libc.string cimport memset
from dpdk cimport rte_mbuf, chainc_mbuf_data
from meta cimport pkt_meta


cdef inline int ctstamp_process(void* st, rte_mbuf* m, pkt_meta* meta, int in_port) noexcept nogil:
    cdef unsigned char* d = chainc_mbuf_data(m)
    if m.data_len < 12:
        return 0
    d[0] = meta.ct_state
    d[1] = meta.ct_events
    d[2] = meta.ct_tcp_state
    d[3] = meta.ct_dir
    d[4] = <unsigned char>(meta.ct_id >> 24)
    d[5] = <unsigned char>(meta.ct_id >> 16)
    d[6] = <unsigned char>(meta.ct_id >> 8)
    d[7] = <unsigned char>meta.ct_id
    memset(d + 8, 0, 4)
    return 0
