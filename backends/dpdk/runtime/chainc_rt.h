/* chainc runtime helpers: thin C wrappers over DPDK macros and inline
 * functions that Cython cannot call directly (macros taking a type, atomics). */
#ifndef CHAINC_RT_H
#define CHAINC_RT_H

#include <stdint.h>
#include <string.h>
#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_cycles.h>

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

static inline uint16_t chainc_priv_size(size_t meta_size)
{
    return (uint16_t)RTE_ALIGN(meta_size, RTE_MBUF_PRIV_ALIGN);
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

static inline uint16_t chainc_bswap16(uint16_t x) { return rte_be_to_cpu_16(x); }
static inline uint32_t chainc_bswap32(uint32_t x) { return rte_be_to_cpu_32(x); }

#endif
