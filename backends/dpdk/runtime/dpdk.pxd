# Cython declarations of the DPDK 22.11 API that chainc's generated pipelines use.
# Hand-written and kept small: only what the runtime and the NF bodies call.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t

cdef extern from "rte_common.h" nogil:
    pass

cdef extern from "rte_mbuf.h" nogil:
    struct rte_mempool:
        pass

    struct rte_mbuf:
        void* buf_addr
        uint16_t data_off
        uint16_t refcnt
        uint16_t nb_segs
        uint16_t port
        uint64_t ol_flags
        uint32_t packet_type
        uint32_t pkt_len
        uint16_t data_len
        uint16_t vlan_tci
        uint32_t hash_rss "hash.rss"
        uint16_t buf_len
        rte_mempool* pool
        rte_mbuf* next

    rte_mempool* rte_pktmbuf_pool_create(const char* name, unsigned n, unsigned cache_size,
                                         uint16_t priv_size, uint16_t data_room_size,
                                         int socket_id)
    void rte_pktmbuf_free(rte_mbuf* m)
    void rte_pktmbuf_free_bulk(rte_mbuf** mbufs, unsigned count)
    rte_mbuf* rte_pktmbuf_alloc(rte_mempool* mp)
    rte_mbuf* rte_pktmbuf_clone(rte_mbuf* md, rte_mempool* mp)
    rte_mbuf* rte_pktmbuf_copy(const rte_mbuf* m, rte_mempool* mp, uint32_t offset, uint32_t length)
    char* rte_pktmbuf_prepend(rte_mbuf* m, uint16_t length)
    char* rte_pktmbuf_adj(rte_mbuf* m, uint16_t length)
    char* rte_pktmbuf_append(rte_mbuf* m, uint16_t length)
    int rte_pktmbuf_trim(rte_mbuf* m, uint16_t length)
    uint16_t rte_pktmbuf_headroom(const rte_mbuf* m)
    int rte_pktmbuf_is_contiguous(const rte_mbuf* m)
    int RTE_MBUF_DEFAULT_BUF_SIZE

cdef extern from "rte_mempool.h" nogil:
    unsigned rte_mempool_in_use_count(const rte_mempool* mp)
    unsigned rte_mempool_avail_count(const rte_mempool* mp)
    void rte_mempool_free(rte_mempool* mp)

cdef extern from "rte_ring.h" nogil:
    struct rte_ring:
        pass
    enum:
        RING_F_SP_ENQ
        RING_F_SC_DEQ
    rte_ring* rte_ring_create(const char* name, unsigned count, int socket_id, unsigned flags)
    void rte_ring_free(rte_ring* r)
    unsigned rte_ring_enqueue_burst(rte_ring* r, void* const* obj_table, unsigned n,
                                    unsigned* free_space)
    unsigned rte_ring_dequeue_burst(rte_ring* r, void** obj_table, unsigned n,
                                    unsigned* available)
    unsigned rte_ring_count(const rte_ring* r)
    unsigned rte_ring_free_count(const rte_ring* r)
    int rte_ring_empty(const rte_ring* r)

cdef extern from "rte_spinlock.h" nogil:
    ctypedef struct rte_spinlock_t:
        pass
    void rte_spinlock_init(rte_spinlock_t* sl)
    void rte_spinlock_lock(rte_spinlock_t* sl)
    void rte_spinlock_unlock(rte_spinlock_t* sl)

cdef extern from "rte_cycles.h" nogil:
    uint64_t rte_rdtsc()
    uint64_t rte_get_tsc_hz()

cdef extern from "rte_lcore.h" nogil:
    unsigned rte_lcore_id()
    unsigned rte_lcore_count()
    unsigned rte_get_main_lcore()
    unsigned rte_get_next_lcore(unsigned i, int skip_main, int wrap)
    int rte_lcore_is_enabled(unsigned lcore_id)
    int rte_socket_id()
    unsigned RTE_MAX_LCORE

cdef extern from "rte_launch.h" nogil:
    ctypedef int (*lcore_function_t)(void*) noexcept nogil
    int rte_eal_remote_launch(lcore_function_t f, void* arg, unsigned worker_id)
    int rte_eal_wait_lcore(unsigned worker_id)
    void rte_eal_mp_wait_lcore()

cdef extern from "rte_eal.h" nogil:
    int rte_eal_init(int argc, char** argv)
    int rte_eal_cleanup()

cdef extern from "rte_errno.h" nogil:
    int rte_errno "per_lcore__rte_errno"
    const char* rte_strerror(int errnum)

cdef extern from "rte_ether.h" nogil:
    struct rte_ether_addr:
        uint8_t addr_bytes[6]

cdef extern from "rte_ethdev.h" nogil:
    enum:
        RTE_ETH_MQ_RX_NONE
        RTE_ETH_MQ_TX_NONE
        RTE_ETH_DEV_NO_OWNER
    const uint64_t RTE_ETH_RX_OFFLOAD_TIMESTAMP

    struct rte_eth_rxmode:
        int mq_mode
        uint32_t mtu
        uint64_t offloads

    struct rte_eth_txmode:
        int mq_mode
        uint64_t offloads

    struct rte_eth_conf:
        rte_eth_rxmode rxmode
        rte_eth_txmode txmode

    struct rte_eth_dev_info:
        const char* driver_name
        uint16_t max_rx_queues
        uint16_t max_tx_queues
        uint32_t max_rx_pktlen
        uint64_t rx_offload_capa

    struct rte_eth_stats:
        uint64_t ipackets
        uint64_t opackets
        uint64_t ibytes
        uint64_t obytes
        uint64_t imissed
        uint64_t ierrors
        uint64_t oerrors
        uint64_t rx_nombuf

    struct rte_eth_rxconf:
        pass

    struct rte_eth_txconf:
        pass

    int rte_eth_dev_configure(uint16_t port_id, uint16_t nb_rx_queue, uint16_t nb_tx_queue,
                              const rte_eth_conf* eth_conf)
    int rte_eth_dev_info_get(uint16_t port_id, rte_eth_dev_info* dev_info)
    int rte_eth_rx_queue_setup(uint16_t port_id, uint16_t rx_queue_id, uint16_t nb_rx_desc,
                               unsigned socket_id, const rte_eth_rxconf* rx_conf,
                               rte_mempool* mb_pool)
    int rte_eth_tx_queue_setup(uint16_t port_id, uint16_t tx_queue_id, uint16_t nb_tx_desc,
                               unsigned socket_id, const rte_eth_txconf* tx_conf)
    int rte_eth_dev_adjust_nb_rx_tx_desc(uint16_t port_id, uint16_t* nb_rx_desc,
                                         uint16_t* nb_tx_desc)
    int rte_eth_dev_start(uint16_t port_id)
    int rte_eth_dev_stop(uint16_t port_id)
    int rte_eth_dev_close(uint16_t port_id)
    int rte_eth_promiscuous_enable(uint16_t port_id)
    int rte_eth_dev_socket_id(uint16_t port_id)
    int rte_eth_dev_get_port_by_name(const char* name, uint16_t* port_id)
    int rte_eth_stats_get(uint16_t port_id, rte_eth_stats* stats)
    int rte_eth_macaddr_get(uint16_t port_id, rte_ether_addr* mac_addr)
    uint16_t rte_eth_dev_count_avail()
    uint16_t rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id, rte_mbuf** rx_pkts,
                              uint16_t nb_pkts)
    uint16_t rte_eth_tx_burst(uint16_t port_id, uint16_t queue_id, rte_mbuf** tx_pkts,
                              uint16_t nb_pkts)

cdef extern from "rte_bus_vdev.h" nogil:
    int rte_vdev_init(const char* name, const char* args)
    int rte_vdev_uninit(const char* name)

cdef extern from "rte_dev.h" nogil:
    int rte_dev_probe(const char* devargs)

cdef extern from "chainc_rt.h" nogil:
    uint8_t* chainc_mbuf_data(rte_mbuf* m)
    void* chainc_mbuf_priv(rte_mbuf* m)
    void chainc_prefetch_ring_burst(rte_mbuf** pkts, uint16_t n)
    void chainc_prefetch_data(rte_mbuf* m)
    uint16_t chainc_priv_size(size_t meta_size)
    # Sanitized builds only (no-ops otherwise): see chainc_rt.h.
    void chainc_guard_frame(rte_mbuf* m)
    void chainc_release_frames(rte_mbuf** pkts, uint16_t n)
    rte_mbuf* chainc_copy_frame(rte_mbuf* m, uint32_t length)
    int chainc_load_flag(const int* flag)
    void chainc_store_flag(int* flag, int value)
    uint64_t chainc_load_u64(const uint64_t* p)
    uint16_t chainc_bswap16(uint16_t x)
    uint32_t chainc_bswap32(uint32_t x)
    uint16_t chainc_claim_budget(uint64_t* used, uint64_t max, uint16_t want)
    void chainc_return_budget(uint64_t* used, uint64_t max, uint16_t unused)
    # The NFs' clock: nanoseconds since the epoch (see chainc_rt.h).
    uint64_t chainc_now_ns(const rte_mbuf* m)
    uint64_t chainc_tsc_now_ns()
    void chainc_clock_setup(uint64_t epoch_now_ns, int use_packet_time)
    # RSS over a replicated stage's receive queues (see chainc_rt.h).
    uint64_t chainc_rss_conf(rte_eth_conf* conf, const rte_eth_dev_info* info, uint8_t* key,
                             int symmetric)

    # A second packet an NF sends out besides the one it returns (Tee, Sampler):
    # the NF sets `m` to the new mbuf and `out` to its output index.
    struct chainc_emit:
        rte_mbuf* m
        int out
