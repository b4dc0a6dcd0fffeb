# Firewall native body: a first-match ACL classified by DPDK's rte_acl.
#
# Theory of operation (docs/firewall.md has the whole story). The rule file is
# compiled at build time, in Python (acl.py), into ACL entries: one or more per
# rule and context, each with the rule's priority (earlier rules higher) and
# its action as userdata. There are four contexts: IPv4 and IPv6, each split
# into packets whose L4 header was read (META_L4_OK) and the others, so that
# no key holds more bytes than its lookups need. The generated glue of each
# instance holds the entries as constant arrays of 32-bit words and calls
# `firewall_init` once at start-up, which builds the contexts that have
# entries. Per packet, the key is filled from the packet metadata (never from
# the frame, so nothing past the parsed headers is read) and classified in
# the packet's context; no match means the default action. Packets that are
# not valid IPv4 or IPv6 never reach the ACL: the generated `process` decides
# them with the rules' EtherType tests.
#
# An entry in the arrays is: priority, userdata, then a (value, mask) pair
# per ACL field of its context's layout (FIREWALL_LAYOUT_*, the same as
# acl.LAYOUT_FIELDS): a bit mask for the one-byte fields, a prefix length for
# each 32-bit address word, the upper bound for port ranges. All values are
# in host byte order, as rte_acl wants rules; keys are in network byte order,
# as it wants packets.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from libc.stdio cimport snprintf
from libc.stdlib cimport calloc, free
from libc.string cimport memset
from dpdk cimport chainc_bswap16, chainc_bswap32
from meta cimport pkt_meta, META_L3_IPV4, META_L3_IPV6, META_L4_OK


cdef extern from "rte_acl.h" nogil:
    # Declared under firewall_* names: every NF body shares one namespace.
    cdef struct firewall_acl_ctx "rte_acl_ctx":
        pass

    cdef union firewall_acl_value "rte_acl_field_types":
        uint8_t u8
        uint16_t u16
        uint32_t u32
        uint64_t u64

    cdef struct firewall_acl_field_def "rte_acl_field_def":
        uint8_t type
        uint8_t size
        uint8_t field_index
        uint8_t input_index
        uint32_t offset

    cdef struct firewall_acl_config "rte_acl_config":
        uint32_t num_categories
        uint32_t num_fields
        firewall_acl_field_def defs[64]
        size_t max_size

    cdef struct firewall_acl_field "rte_acl_field":
        firewall_acl_value value
        firewall_acl_value mask_range

    cdef struct firewall_acl_rule_data "rte_acl_rule_data":
        uint32_t category_mask
        int32_t priority
        uint32_t userdata

    # The header's struct with no fields after `data`: its size is the offset of
    # the fields, as in RTE_ACL_RULE_SZ.
    cdef struct firewall_acl_rule "rte_acl_rule":
        firewall_acl_rule_data data

    cdef struct firewall_acl_param "rte_acl_param":
        const char* name
        int socket_id
        uint32_t rule_size
        uint32_t max_rule_num

    enum:
        FIREWALL_ACL_MASK "RTE_ACL_FIELD_TYPE_MASK"
        FIREWALL_ACL_RANGE "RTE_ACL_FIELD_TYPE_RANGE"
        FIREWALL_ACL_BITMASK "RTE_ACL_FIELD_TYPE_BITMASK"

    firewall_acl_ctx* firewall_acl_create "rte_acl_create"(const firewall_acl_param* param)
    void firewall_acl_free "rte_acl_free"(firewall_acl_ctx* ctx)
    int firewall_acl_add_rules "rte_acl_add_rules"(firewall_acl_ctx* ctx, const firewall_acl_rule* rules,
                                                   uint32_t num)
    int firewall_acl_build "rte_acl_build"(firewall_acl_ctx* ctx, const firewall_acl_config* cfg)
    int firewall_acl_classify "rte_acl_classify"(const firewall_acl_ctx* ctx, const uint8_t** data,
                                                 uint32_t* results, uint32_t num, uint32_t categories)
    int firewall_acl_set_alg "rte_acl_set_ctx_classify"(firewall_acl_ctx* ctx, int alg)

cdef extern from "rte_errno.h" nogil:
    int firewall_rte_errno "per_lcore__rte_errno"


cdef enum:
    FIREWALL_CODE_BIAS = 16  # userdata = return code + 16 (acl.CODE_BIAS); 0 is "no match"
    # Key layouts (acl.LAYOUT_*):
    FIREWALL_LAYOUT_FULL = 0  # proto | l4ok tcp_flags icmp_type icmp_code | src | dst | sport dport
    FIREWALL_LAYOUT_L4 = 1    # proto | src | dst | sport dport
    FIREWALL_LAYOUT_NOL4 = 2  # proto | src | dst
    # Contexts (acl.CONTEXTS): IPv4 with L4, IPv4 without, IPv6 with, IPv6 without.
    FIREWALL_CONTEXTS = 4


# The keys: every layout reads its fields from the same struct. The first ACL
# field must be one byte (proto); every later input group is 4 consecutive
# bytes: the flags group (4 one-byte fields), each 32-bit address word, and
# the two ports.
cdef struct firewall_key4:
    uint8_t proto
    uint8_t pad[3]
    uint8_t l4ok        # 1 if META_L4_OK
    uint8_t tcp_flags
    uint8_t icmp_type
    uint8_t icmp_code
    uint32_t src        # network byte order
    uint32_t dst
    uint16_t sport
    uint16_t dport

cdef struct firewall_key6:
    uint8_t proto
    uint8_t pad[3]
    uint8_t l4ok
    uint8_t tcp_flags
    uint8_t icmp_type
    uint8_t icmp_code
    uint32_t src[4]     # network byte order, word by word
    uint32_t dst[4]
    uint16_t sport
    uint16_t dport


cdef struct firewall_state:
    # by context (IPv4 + L4, IPv4, IPv6 + L4, IPv6); NULL: no entries, the default decides
    firewall_acl_ctx* ctx[4]
    int default_code
    uint64_t matched         # packets decided by a rule
    uint64_t unmatched       # packets decided by the default action


cdef inline void firewall_fill_key4(firewall_key4* k, const pkt_meta* meta) noexcept nogil:
    k.proto = meta.ip_proto
    k.pad[0] = 0
    k.pad[1] = 0
    k.pad[2] = 0
    k.l4ok = 1 if meta.flags & META_L4_OK else 0
    k.tcp_flags = meta.tcp_flags
    k.icmp_type = meta.icmp_type
    k.icmp_code = meta.icmp_code
    k.src = chainc_bswap32(meta.ip4_src)
    k.dst = chainc_bswap32(meta.ip4_dst)
    k.sport = chainc_bswap16(meta.sport)
    k.dport = chainc_bswap16(meta.dport)


cdef inline void firewall_fill_key6(firewall_key6* k, const pkt_meta* meta) noexcept nogil:
    k.proto = meta.ip_proto
    k.pad[0] = 0
    k.pad[1] = 0
    k.pad[2] = 0
    k.l4ok = 1 if meta.flags & META_L4_OK else 0
    k.tcp_flags = meta.tcp_flags
    k.icmp_type = meta.icmp_type
    k.icmp_code = meta.icmp_code
    k.src[0] = chainc_bswap32(<uint32_t>(meta.ip6_src_hi >> 32))
    k.src[1] = chainc_bswap32(<uint32_t>meta.ip6_src_hi)
    k.src[2] = chainc_bswap32(<uint32_t>(meta.ip6_src_lo >> 32))
    k.src[3] = chainc_bswap32(<uint32_t>meta.ip6_src_lo)
    k.dst[0] = chainc_bswap32(<uint32_t>(meta.ip6_dst_hi >> 32))
    k.dst[1] = chainc_bswap32(<uint32_t>meta.ip6_dst_hi)
    k.dst[2] = chainc_bswap32(<uint32_t>(meta.ip6_dst_lo >> 32))
    k.dst[3] = chainc_bswap32(<uint32_t>meta.ip6_dst_lo)
    k.sport = chainc_bswap16(meta.sport)
    k.dport = chainc_bswap16(meta.dport)


cdef inline int firewall_classify(firewall_state* st, const pkt_meta* meta) noexcept nogil:
    """The return code for a packet with a valid IPv4 or IPv6 header."""
    cdef firewall_key4 k4
    cdef firewall_key6 k6
    cdef const uint8_t* key
    cdef uint32_t result = 0
    cdef int c = 0 if meta.flags & META_L4_OK else 1
    if meta.flags & META_L3_IPV4:
        if st.ctx[c] != NULL:
            firewall_fill_key4(&k4, meta)
            key = <const uint8_t*>&k4
            firewall_acl_classify(st.ctx[c], &key, &result, 1, 1)
    elif st.ctx[2 + c] != NULL:
        firewall_fill_key6(&k6, meta)
        key = <const uint8_t*>&k6
        firewall_acl_classify(st.ctx[2 + c], &key, &result, 1, 1)
    if result == 0:
        st.unmatched += 1
        return st.default_code
    st.matched += 1
    return <int>result - FIREWALL_CODE_BIAS


cdef inline void firewall_def(firewall_acl_config* cfg, int i, uint8_t type, uint8_t size,
                              uint8_t input_index, size_t offset) noexcept nogil:
    cfg.defs[i].type = type
    cfg.defs[i].size = size
    cfg.defs[i].field_index = i
    cfg.defs[i].input_index = input_index
    cfg.defs[i].offset = <uint32_t>offset


cdef inline int firewall_layout(firewall_acl_config* cfg, int family, int layout) noexcept nogil:
    """The ACL fields of a layout, in the order of the entries' words; their number."""
    cdef firewall_key4 k4
    cdef firewall_key6 k6
    cdef size_t flags, addr, sport, dport
    cdef int i, n = 0, group = 1
    cdef int words = 2 if family == 4 else 8  # 32-bit address words: source, then destination
    if family == 4:
        flags = <char*>&k4.l4ok - <char*>&k4
        addr = <char*>&k4.src - <char*>&k4
        sport = <char*>&k4.sport - <char*>&k4
        dport = <char*>&k4.dport - <char*>&k4
    else:
        flags = <char*>&k6.l4ok - <char*>&k6
        addr = <char*>&k6.src[0] - <char*>&k6
        sport = <char*>&k6.sport - <char*>&k6
        dport = <char*>&k6.dport - <char*>&k6
    memset(cfg, 0, sizeof(firewall_acl_config))
    cfg.num_categories = 1
    cfg.max_size = 0
    firewall_def(cfg, n, FIREWALL_ACL_BITMASK, 1, 0, 0)  # proto, the first byte of both keys
    n += 1
    if layout == FIREWALL_LAYOUT_FULL:
        for i in range(4):  # l4ok, tcp_flags, icmp_type, icmp_code: one input group
            firewall_def(cfg, n, FIREWALL_ACL_BITMASK, 1, group, flags + i)
            n += 1
        group += 1
    for i in range(words):
        firewall_def(cfg, n, FIREWALL_ACL_MASK, 4, group, addr + 4 * i)
        n += 1
        group += 1
    if layout != FIREWALL_LAYOUT_NOL4:
        firewall_def(cfg, n, FIREWALL_ACL_RANGE, 2, group, sport)
        firewall_def(cfg, n + 1, FIREWALL_ACL_RANGE, 2, group, dport)
        n += 2
    cfg.num_fields = n
    return n


cdef inline int firewall_build(firewall_acl_ctx** out, const char* name, int family, int layout,
                               const uint32_t* words, uint32_t n) noexcept nogil:
    """Build one context from `n` entries; 0, or a negative errno."""
    cdef firewall_acl_config cfg
    cdef firewall_acl_param param
    cdef firewall_acl_ctx* ctx
    cdef firewall_acl_rule* rule
    cdef firewall_acl_field* f
    cdef char* buf
    cdef const uint32_t* w
    cdef int nfields = firewall_layout(&cfg, family, layout)
    cdef size_t rule_size = sizeof(firewall_acl_rule) + nfields * sizeof(firewall_acl_field)
    cdef uint32_t i
    cdef int j, rc
    out[0] = NULL
    if n == 0:
        return 0
    param.name = name
    param.socket_id = -1  # SOCKET_ID_ANY
    param.rule_size = <uint32_t>rule_size
    param.max_rule_num = n
    ctx = firewall_acl_create(&param)
    if ctx == NULL:
        return -firewall_rte_errno if firewall_rte_errno > 0 else -12  # ENOMEM
    buf = <char*>calloc(n, rule_size)
    if buf == NULL:
        firewall_acl_free(ctx)
        return -12
    for i in range(n):
        w = words + <size_t>i * (2 + 2 * nfields)
        rule = <firewall_acl_rule*>(buf + <size_t>i * rule_size)
        rule.data.category_mask = 1
        rule.data.priority = <int32_t>w[0]
        rule.data.userdata = w[1]
        f = <firewall_acl_field*>(<char*>rule + sizeof(firewall_acl_rule))
        for j in range(nfields):
            if cfg.defs[j].size == 1:
                f[j].value.u8 = <uint8_t>w[2 + 2 * j]
                f[j].mask_range.u8 = <uint8_t>w[3 + 2 * j]
            elif cfg.defs[j].size == 2:
                f[j].value.u16 = <uint16_t>w[2 + 2 * j]
                f[j].mask_range.u16 = <uint16_t>w[3 + 2 * j]
            else:
                f[j].value.u32 = w[2 + 2 * j]
                f[j].mask_range.u32 = w[3 + 2 * j]
    rc = firewall_acl_add_rules(ctx, <firewall_acl_rule*>buf, n)
    free(buf)
    if rc == 0:
        rc = firewall_acl_build(ctx, &cfg)
    if rc == 0:
        # One packet per call: the vector algorithms only pay off from about 8
        # packets per call, and a single lookup is bound by the latency of the
        # trie walk, which the scalar code has least overhead around.
        rc = firewall_acl_set_alg(ctx, 1)  # RTE_ACL_CLASSIFY_SCALAR
    if rc != 0:
        firewall_acl_free(ctx)
        return rc if rc < 0 else -rc
    out[0] = ctx
    return 0


cdef inline void firewall_free(firewall_state* st) noexcept nogil:
    cdef int i
    for i in range(FIREWALL_CONTEXTS):
        if st.ctx[i] != NULL:
            firewall_acl_free(st.ctx[i])
            st.ctx[i] = NULL


cdef inline int firewall_init(firewall_state* st, const uint32_t** rules, const uint32_t* counts,
                              const int* layouts, int default_code, const char* name,
                              int* failed) noexcept nogil:
    """Build the four contexts (`rules[i]`, `counts[i]` entries, `layouts[i]`, in the order
    of FIREWALL_CONTEXTS), named `name` + a suffix: 0, or a negative errno with the index
    of the failing context in `failed`."""
    cdef char ctx_name[32]
    cdef int i, rc
    st.matched = 0
    st.unmatched = 0
    st.default_code = default_code
    for i in range(FIREWALL_CONTEXTS):
        st.ctx[i] = NULL
    for i in range(FIREWALL_CONTEXTS):
        failed[0] = i
        snprintf(ctx_name, sizeof(ctx_name), "%.28s_%d", name, i)
        rc = firewall_build(&st.ctx[i], ctx_name, 4 if i < 2 else 6, layouts[i], rules[i], counts[i])
        if rc < 0:
            firewall_free(st)
            return rc
    failed[0] = -1
    return 0
