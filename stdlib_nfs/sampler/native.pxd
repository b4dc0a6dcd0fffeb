# Sampler native body: every packet goes on; a sampled one is also copied to `sample`.

from libc.stdint cimport uint32_t, uint64_t
from dpdk cimport rte_mbuf, chainc_copy_frame, chainc_emit
from meta cimport pkt_meta

cdef enum:
    SAMPLER_OUT = 0
    SAMPLER_SAMPLE = 1


cdef struct sampler_state:
    uint64_t until_next  # every-N mode: packets left before the next sample
    uint64_t rng         # probability mode: splitmix64 state
    uint64_t sampled
    uint64_t copy_failed


cdef inline uint64_t sampler_splitmix64(uint64_t* x) noexcept nogil:
    # splitmix64 (Steele, Lea, Flood 2014): a tiny, fast generator whose exact
    # sequence the reference body reproduces, so sampled runs can be compared.
    cdef uint64_t z
    x[0] += 0x9E3779B97F4A7C15ULL
    z = x[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline int sampler_init(sampler_state* st, uint64_t every, uint64_t seed) except -1 nogil:
    st.until_next = every
    st.rng = seed
    return 0


cdef inline int sampler_process(sampler_state* st, rte_mbuf* m, pkt_meta* meta, int in_port,
                                chainc_emit* emit, uint64_t every, uint64_t threshold53,
                                uint32_t snaplen) noexcept nogil:
    cdef rte_mbuf* twin
    if every:
        st.until_next -= 1
        if st.until_next:
            return SAMPLER_OUT
        st.until_next = every
    elif (sampler_splitmix64(&st.rng) >> 11) >= threshold53:  # 53 random bits < p * 2^53
        return SAMPLER_OUT
    st.sampled += 1
    twin = chainc_copy_frame(m, snaplen)
    if twin == NULL:
        st.copy_failed += 1
    else:
        emit.m = twin
        emit.out = SAMPLER_SAMPLE
    return SAMPLER_OUT
