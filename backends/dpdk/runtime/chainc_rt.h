/* chainc runtime helpers: thin C wrappers over DPDK macros and inline
 * functions that Cython cannot call directly (macros taking a type, atomics). */
#ifndef CHAINC_RT_H
#define CHAINC_RT_H

#include <stdint.h>
#include <string.h>
#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_cycles.h>
#include <rte_mbuf_dyn.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

static inline uint8_t *chainc_mbuf_data(struct rte_mbuf *m)
{
    return rte_pktmbuf_mtod(m, uint8_t *);
}

/* The per-packet metadata block lives in the mbuf's private area, so it
 * travels with the packet across rings between cores. */
static inline void *chainc_mbuf_priv(struct rte_mbuf *m)
{
    return rte_mbuf_to_priv(m);
}

/* A burst that another core wrote (it came over a ring) misses the cache on
 * every line a stage touches: the mbuf's two lines (the second: pool and
 * next, which freeing reads) and its private area (the metadata). Asking
 * for all of them before the first packet runs overlaps those misses. */
static inline void chainc_prefetch_ring_burst(struct rte_mbuf **pkts, uint16_t n)
{
    for (uint16_t i = 0; i < n; i++) {
        char *m = (char *)pkts[i];
        rte_prefetch0(m);
        rte_prefetch0(m + RTE_CACHE_LINE_SIZE);
        rte_prefetch0(rte_mbuf_to_priv(pkts[i]));
        rte_prefetch0((char *)rte_mbuf_to_priv(pkts[i]) + RTE_CACHE_LINE_SIZE);
    }
}

/* The headers of a packet a few places ahead in a burst from a ring: the
 * core that sent it wrote them last. */
static inline void chainc_prefetch_data(struct rte_mbuf *m)
{
    rte_prefetch0(rte_pktmbuf_mtod(m, void *));
}

static inline uint16_t chainc_priv_size(size_t meta_size)
{
    return (uint16_t)RTE_ALIGN(meta_size, RTE_MBUF_PRIV_ALIGN);
}

/* In a sanitized build (`chainc build --sanitize`), the bytes after a
 * received frame's first segment are unaddressable until the frame leaves
 * (tx or drop): DPDK is not built with ASan, so without this an NF reading
 * past data_len would read the rest of the mbuf's buffer unnoticed. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>

static inline void chainc_guard_frame(struct rte_mbuf *m)
{
    uint8_t *end = rte_pktmbuf_mtod(m, uint8_t *) + m->data_len;
    uint8_t *buf_end = (uint8_t *)m->buf_addr + m->buf_len;
    ASAN_UNPOISON_MEMORY_REGION(m->buf_addr, m->buf_len);  /* from its last use */
    ASAN_POISON_MEMORY_REGION(end, (size_t)(buf_end - end));
}

/* Before a frame goes back to DPDK, whose copies and PMDs write buffers
 * without telling ASan. */
static inline void chainc_release_frames(struct rte_mbuf **pkts, uint16_t n)
{
    for (uint16_t i = 0; i < n; i++)
        ASAN_UNPOISON_MEMORY_REGION(pkts[i]->buf_addr, pkts[i]->buf_len);
}
#else
static inline void chainc_guard_frame(struct rte_mbuf *m) { (void)m; }
static inline void chainc_release_frames(struct rte_mbuf **pkts, uint16_t n) { (void)pkts; (void)n; }
#endif

/* A deep copy of a frame's first `len` bytes (UINT32_MAX: all of them), from
 * its own pool, for NFs that emit one (Tee, Sampler); NULL when the pool is
 * empty. rte_pktmbuf_copy refuses an empty frame (offset 0 is not inside it),
 * so its copy is a fresh empty mbuf with the same header fields. */
static inline struct rte_mbuf *chainc_copy_frame(struct rte_mbuf *m, uint32_t len)
{
    struct rte_mbuf *c;
    if (m->pkt_len != 0)
        return rte_pktmbuf_copy(m, m->pool, 0, len);
    c = rte_pktmbuf_alloc(m->pool);
    if (c != NULL) {
        __rte_pktmbuf_copy_hdr(c, m);
        c->ol_flags = m->ol_flags & ~(RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL);
    }
    return c;
}

/* Flags shared between the control thread and the workers. */
static inline int chainc_load_flag(const volatile int *flag)
{
    return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

static inline void chainc_store_flag(volatile int *flag, int value)
{
    __atomic_store_n(flag, value, __ATOMIC_RELEASE);
}

/* Counters are written by one core and read by the reporter: relaxed
 * 64-bit loads and stores are enough (no read-modify-write across cores). */
static inline uint64_t chainc_load_u64(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* --max-packets: receivers claim budget per burst, so the total is exact
 * whatever the number of receiving cores. max == 0 means unlimited. */
static inline uint16_t chainc_claim_budget(uint64_t *used, uint64_t max, uint16_t want)
{
    if (max == 0)
        return want;
    uint64_t before = __atomic_fetch_add(used, want, __ATOMIC_RELAXED);
    if (before >= max) {
        __atomic_fetch_sub(used, want, __ATOMIC_RELAXED);
        return 0;
    }
    uint64_t left = max - before;
    if (left < want) {
        __atomic_fetch_sub(used, want - left, __ATOMIC_RELAXED);
        return (uint16_t)left;
    }
    return want;
}

static inline void chainc_return_budget(uint64_t *used, uint64_t max, uint16_t unused)
{
    if (max != 0 && unused != 0)
        __atomic_fetch_sub(used, unused, __ATOMIC_RELAXED);
}

/* A packet an NF emits besides the one it returns (a Tee's copy). The
 * generated stage routes it from output `out` before the original moves on. */
struct chainc_emit {
    struct rte_mbuf *m;
    int out;
};

/* The clock NFs read (timeouts, meters, flow records): nanoseconds since the
 * epoch. With the packet clock, a packet carrying a receive timestamp is at
 * that time: net_pcap stamps each packet with its capture time, at the
 * microsecond resolution of classic pcap, so a run over a capture is
 * reproducible and agrees with `chainc sim`. Otherwise it is the TSC, scaled:
 * no system call on the packet path. */
static int chainc_ts_offset = -1;
static uint64_t chainc_ts_flag;
static uint64_t chainc_tsc_base;
static uint64_t chainc_epoch_base_ns;
static uint64_t chainc_ns_per_tsc_q32;  /* ns per TSC tick, 32.32 fixed point */

static inline void chainc_clock_setup(uint64_t epoch_now_ns, int use_packet_time)
{
    uint64_t hz = rte_get_tsc_hz();
    chainc_tsc_base = rte_rdtsc();
    chainc_epoch_base_ns = epoch_now_ns;
    chainc_ns_per_tsc_q32 = (uint64_t)(((unsigned __int128)1000000000u << 32) / (hz ? hz : 1));
    if (use_packet_time && rte_mbuf_dyn_rx_timestamp_register(&chainc_ts_offset, NULL) == 0) {
        int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);
        chainc_ts_flag = bit >= 0 ? RTE_BIT64(bit) : 0;
    }
}

static inline uint64_t chainc_tsc_now_ns(void)
{
    uint64_t ticks = rte_rdtsc() - chainc_tsc_base;
    return chainc_epoch_base_ns + (uint64_t)(((unsigned __int128)ticks * chainc_ns_per_tsc_q32) >> 32);
}

static inline uint64_t chainc_now_ns(const struct rte_mbuf *m)
{
    if (chainc_ts_flag && (m->ol_flags & chainc_ts_flag))
        return *RTE_MBUF_DYNFIELD(m, chainc_ts_offset, const rte_mbuf_timestamp_t *) * 1000u;
    return chainc_tsc_now_ns();
}

/* RSS for the receive queues of a replicated stage: Toeplitz over IPv4/IPv6
 * addresses and TCP/UDP ports, as far as the device can hash them. `key` holds
 * 40 bytes (the plan's key) and room for the device's key size; a device with
 * another size gets the symmetric 6d5a pattern at its size, or its own key.
 * Returns the hash types enabled: 0 means the device does no RSS. */
static inline uint64_t chainc_rss_conf(struct rte_eth_conf *conf,
                                       const struct rte_eth_dev_info *info,
                                       uint8_t *key, int symmetric)
{
    uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info->flow_type_rss_offloads;
    uint8_t size = info->hash_key_size ? info->hash_key_size : 40;
    if (hf == 0)
        return 0;
    conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf->rx_adv_conf.rss_conf.rss_hf = hf;
    if (size != 40 && symmetric)
        for (uint8_t i = 0; i < size; i++)
            key[i] = (i & 1) ? 0x5a : 0x6d;
    conf->rx_adv_conf.rss_conf.rss_key = (size == 40 || symmetric) ? key : NULL;
    conf->rx_adv_conf.rss_conf.rss_key_len = size;
    return hf;
}

static inline uint16_t chainc_bswap16(uint16_t x) { return rte_be_to_cpu_16(x); }
static inline uint32_t chainc_bswap32(uint32_t x) { return rte_be_to_cpu_32(x); }

#endif
