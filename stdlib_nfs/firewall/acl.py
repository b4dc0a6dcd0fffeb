"""Compile Firewall rules into DPDK rte_acl rule entries (docs/firewall.md).

Theory of operation
-------------------

rte_acl matches a fixed-layout *key* against rules that are conjunctions of
per-field tests (a value/mask, a prefix, a range) and returns the userdata
of the matching rule with the highest priority. A Firewall rule is richer: a
pcap-filter expression with `and`, `or` and `not`. So each rule is compiled,
once per IP family, into a set of *cubes* (a disjunctive normal form), and
each cube into one or more ACL entries that all carry the rule's priority
(higher for earlier rules: first match wins) and the rule's action.

The cubes range over exactly the packet metadata the rules can test (see
`FIELDS`): the IP protocol, whether the L4 header was read (META_L4_OK,
`l4ok`), the TCP flags, the ICMP type and code, the two addresses and the
two ports. Fields a packet does not have are zero in the metadata. Every
primitive of the supported pcap-filter subset is, for one family, an exact
condition on those fields (`tcp dst port 22` on IPv4 is `proto == 6 and
l4ok == 1 and dport == 22`), so the compiled entries accept exactly the
packets the expression accepts; `not` is exact because each field's
condition is kept as a set of intervals, whose complement is again one.
Those sets come from chainc.analysis, the header space that the static
checks of rule files (docs/analysis.md) reason in.

Each family has two ACL contexts, so that `l4ok` never has to be in a key
and no key holds more than the lookups need (each key byte is one more
dependent step of the trie walk): the *L4* context for packets whose L4
header was read (its key: protocol, the TCP-flags/ICMP group only if some
rule tests those fields, addresses, ports) and the *no-L4* context for the
others (protocol and addresses; their L4 fields are zero, so a cube's L4
conditions are decided at build time).

Non-IP packets (and IPv4/IPv6 packets whose header is malformed, META_L3_BAD)
never reach the ACL: every IP test is false for them, and what is left of
each rule (`arp`, `ether proto N`, or plainly true or false) is decided by
generated code (`nonip_tests`).

ClassBench filters compile to one cube each, for the family of their
addresses.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Union

from chainc.analysis import cubes as boxes
from chainc.analysis.cubes import DNF, Cube, Intervals, TooComplex, iv_and
from chainc.analysis.firewall import rule_space
from chainc.analysis.space import IPV4, IPV6, one
from chainc.match.names import VLAN_TPIDS
from chainc.match.nodes import And, EtherProto, MatchExpr, Not, Or, Proto

from .rules import Rule, RuleError

# -- the key -----------------------------------------------------------------------

#: Logical key fields in the order of the ACL fields (docs/firewall.md, "The ACL key").
#: name -> number of bits. `src` and `dst` are 32 bits for IPv4 and 128 for IPv6,
#: where each takes four 32-bit ACL fields.
FIELD_BITS = {"proto": 8, "l4ok": 1, "tcpflags": 8, "icmptype": 8, "icmpcode": 8,
              "src": None, "dst": None, "sport": 16, "dport": 16}
FIELDS = tuple(FIELD_BITS)
BITMASK_FIELDS = ("proto", "l4ok", "tcpflags", "icmptype", "icmpcode")
ADDR_FIELDS = ("src", "dst")
RANGE_FIELDS = ("sport", "dport")

#: The contexts: (family, l4) with l4 True for packets whose L4 header was read.
CONTEXTS = ((4, True), (4, False), (6, True), (6, False))

#: Key layouts (native.pxd's FIREWALL_LAYOUT_*): the logical fields an ACL entry holds,
#: in order. Each field is a (value, mask) word pair per ACL field: a bit mask for
#: the one-byte fields, a prefix length per 32-bit word of an address, the upper
#: bound of a port range. An entry is priority, userdata, then those pairs.
LAYOUT_FULL, LAYOUT_L4, LAYOUT_NOL4 = 0, 1, 2
LAYOUT_FIELDS = {
    LAYOUT_FULL: ("proto", "l4ok", "tcpflags", "icmptype", "icmpcode", "src", "dst", "sport", "dport"),
    LAYOUT_L4: ("proto", "src", "dst", "sport", "dport"),
    LAYOUT_NOL4: ("proto", "src", "dst"),
}
L4_FIELDS = ("tcpflags", "icmptype", "icmpcode", "sport", "dport")
FLAG_FIELDS = ("tcpflags", "icmptype", "icmpcode")


def entry_words(family: int, layout: int) -> int:
    """32-bit words per entry."""
    fields = LAYOUT_FIELDS[layout]
    addr = sum(1 for f in fields if f in ADDR_FIELDS)
    return 2 + 2 * (len(fields) - addr) + 2 * addr * (1 if family == 4 else 4)

#: rte_acl's highest priority (RTE_ACL_MAX_PRIORITY); rule i gets MAX_PRIORITY - i.
MAX_PRIORITY = (1 << 29) - 1
#: userdata = return code + CODE_BIAS, so that it is never 0 (0 is "no match").
CODE_BIAS = 16

#: A rule that needs more ACL entries than this is refused (at its line).
MAX_ENTRIES_PER_RULE = 4096


def field_top(name: str, family: int) -> int:
    bits = FIELD_BITS[name] or (32 if family == 4 else 128)
    return (1 << bits) - 1


# -- normal forms ---------------------------------------------------------------------
#
# The exact sets of packets come from chainc.analysis: the header space and box
# algebra the static rule checks use (a rule tests only the key's fields there).


@functools.lru_cache(maxsize=None)
def _tops(family: int) -> dict[str, int]:
    return {name: field_top(name, family) for name in FIELDS}


def simplify(cubes: DNF, family: int) -> DNF:
    return boxes.simplify(cubes, _tops(family))



# -- non-IP packets -------------------------------------------------------------------

Residual = Union[bool, MatchExpr]


def nonip_residual(e: MatchExpr) -> Residual:
    """`e` for a packet without a valid IP header: every IP test is false.

    What is left is True, False, or an expression of `arp`, `rarp` and
    `ether proto N` tests (on the EtherType), for generated code to decide.
    """
    if isinstance(e, And):
        parts = []
        for item in e.items:
            r = nonip_residual(item)
            if r is False:
                return False
            if r is not True:
                parts.append(r)
        return True if not parts else parts[0] if len(parts) == 1 else And(tuple(parts))
    if isinstance(e, Or):
        parts = []
        for item in e.items:
            r = nonip_residual(item)
            if r is True:
                return True
            if r is not False:
                parts.append(r)
        return False if not parts else parts[0] if len(parts) == 1 else Or(tuple(parts))
    if isinstance(e, Not):
        r = nonip_residual(e.item)
        return (not r) if isinstance(r, bool) else Not(r)
    if isinstance(e, Proto) and e.name in ("arp", "rarp"):
        return e
    if isinstance(e, EtherProto) and e.value not in VLAN_TPIDS:
        return e
    return False


# -- ACL entries ----------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def bit_cover(values: Intervals, bits: int) -> tuple[tuple[int, int], ...]:
    """(value, mask) pairs whose union is exactly the set `values` of `bits`-bit numbers."""
    full = (1 << bits) - 1
    members = {v for lo, hi in values for v in range(lo, hi + 1)}
    if len(members) == full + 1:
        return ((0, 0),)
    # Prime implicants (Quine-McCluskey), then a greedy cover.
    current = {(v, full) for v in members}
    primes: set[tuple[int, int]] = set()
    while current:
        merged: set[tuple[int, int]] = set()
        used: set[tuple[int, int]] = set()
        for v, m in current:
            for bit in range(bits):
                b = 1 << bit
                if m & b and not v & b and (v | b, m) in current:
                    merged.add((v, m & ~b))
                    used.add((v, m))
                    used.add((v | b, m))
        primes |= current - used
        current = merged
    cover_of = {p: {x for x in members if x & p[1] == p[0]} for p in primes}
    uncovered = set(members)
    chosen = []
    while uncovered:
        best = max(sorted(primes), key=lambda p: len(cover_of[p] & uncovered))
        chosen.append(best)
        uncovered -= cover_of[best]
    return tuple(sorted(chosen))


def range_prefixes(lo: int, hi: int, bits: int) -> list[tuple[int, int]]:
    """(network, prefix length) pairs whose union is exactly [lo, hi]."""
    out = []
    while lo <= hi:
        size = (lo & -lo) if lo else 1 << bits
        while lo + size - 1 > hi:
            size >>= 1
        out.append((lo, bits - size.bit_length() + 1))
        lo += size
    return out


def _pieces(name: str, s: Intervals | None, family: int) -> list[tuple[int, ...]]:
    """The ACL (value, mask) words that cover one field's set, one tuple per piece."""
    if name in BITMASK_FIELDS:
        if s is None:
            return [(0, 0)]
        return [(v, m) for v, m in bit_cover(s, FIELD_BITS[name])]
    if name in RANGE_FIELDS:
        return [(0, 65535)] if s is None else [(lo, hi) for lo, hi in s]
    bits = 32 if family == 4 else 128
    if s is None:
        return [(0, 0) * (bits // 32)]
    out = []
    for lo, hi in s:
        for net, plen in range_prefixes(lo, hi, bits):
            words: tuple[int, ...] = ()
            for i in range(bits // 32):
                shift = bits - 32 * (i + 1)
                wlen = min(32, max(0, plen - 32 * i))
                words += ((net >> shift) & 0xFFFFFFFF if wlen else 0, wlen)
            out.append(words)
    return out


def cube_entries(c: Cube, family: int, layout: int) -> list[tuple[int, ...]]:
    """The ACL fields (value, mask pairs, flattened) of the entries that cover one cube."""
    pieces = [_pieces(name, c.get(name), family) for name in LAYOUT_FIELDS[layout]]
    count = 1
    for p in pieces:
        count *= len(p)
    if count > MAX_ENTRIES_PER_RULE:
        raise TooComplex(f"it needs more than {MAX_ENTRIES_PER_RULE} ACL entries")
    return [tuple(itertools.chain.from_iterable(combo)) for combo in itertools.product(*pieces)]


def cube_count(c: Cube, family: int, layout: int) -> int:
    """How many ACL entries cube_entries gives, without making them."""
    count = 1
    for name in LAYOUT_FIELDS[layout]:
        count *= len(_pieces(name, c.get(name), family))
    return count


def context_cube(c: Cube, l4: bool) -> Cube | None:
    """The cube for the packets of one context, without `l4ok`; None if none of them is in it.

    Without an L4 header, ports, TCP flags and ICMP fields are 0: a condition on
    them is true or false for every such packet, so it is decided here.
    """
    s = c.get("l4ok")
    if s is not None and not iv_and(s, one(1 if l4 else 0)):
        return None
    out = {k: v for k, v in c.items() if k != "l4ok"}
    if not l4:
        for name in L4_FIELDS:
            if name in out:
                if not iv_and(out.pop(name), one(0)):
                    return None
    return out


# -- rule sets -------------------------------------------------------------------------


@dataclass
class Program:
    """A rule file compiled for the native body."""

    # per context (family, l4): the entries, and the key layout they use
    entries: dict[tuple[int, bool], list[tuple[int, ...]]] = field(
        default_factory=lambda: {ctx: [] for ctx in CONTEXTS})
    layouts: dict[tuple[int, bool], int] = field(
        default_factory=lambda: {ctx: LAYOUT_L4 if ctx[1] else LAYOUT_NOL4 for ctx in CONTEXTS})
    # (residual test or True, return code, rule line) in rule order, up to the first True
    nonip: list[tuple[Residual, int, int]] = field(default_factory=list)
    default_code: int = 0
    errors: list[RuleError] = field(default_factory=list)
    rules: int = 0
    lines: list[int] = field(default_factory=list)  # the line of each rule, by index
    parsed: list[Rule] = field(default_factory=list)  # the rules, for the static checks


def action_code(rule: Rule | None, outputs: tuple[str, ...], default: str, denied: str) -> int:
    """The body's return value for a rule's action (None: the default action)."""
    if rule is None:
        if default == "allow":
            return 0
        return outputs.index("denied") if denied == "output" else -2  # default-deny
    if rule.action == "allow":
        return 0
    if rule.action == "deny":
        return outputs.index("denied") if denied == "output" else -1  # denied
    return outputs.index(rule.port)


def rule_dnfs(rule: Rule, fmt: str) -> dict[int, DNF]:
    """The packets of each IP family (4, 6) a rule matches, as a DNF over the key's fields."""
    space = rule_space(rule, fmt)
    return {4: space[IPV4], 6: space[IPV6]}


def compile_rules(rules: list[Rule], fmt: str, outputs: tuple[str, ...], default: str = "deny",
                  denied: str = "drop") -> Program:
    """Compile parsed rules (in file order) into ACL entries and the non-IP decision."""
    prog = Program(default_code=action_code(None, outputs, default, denied), rules=len(rules),
                   lines=[r.line for r in rules], parsed=list(rules))
    # (priority, userdata, cube) per context, in rule order
    cubes: dict[tuple[int, bool], list[tuple[int, int, Cube]]] = {ctx: [] for ctx in CONTEXTS}
    shadowed = {ctx: False for ctx in CONTEXTS}  # a match-all rule hides every later rule
    nonip_done = False
    for index, rule in enumerate(rules):
        head = (MAX_PRIORITY - index, action_code(rule, outputs, default, denied) + CODE_BIAS)
        try:
            dnfs = rule_dnfs(rule, fmt)
            new = {ctx: [] for ctx in CONTEXTS}
            count = 0
            for ctx in CONTEXTS:
                if shadowed[ctx]:
                    continue
                ccs = [cc for cc in (context_cube(c, ctx[1]) for c in dnfs[ctx[0]]) if cc is not None]
                for cc in simplify(ccs, ctx[0]):
                    count += cube_count(cc, ctx[0], LAYOUT_FULL if ctx[1] else LAYOUT_NOL4)
                    if count > MAX_ENTRIES_PER_RULE:
                        raise TooComplex(f"it needs more than {MAX_ENTRIES_PER_RULE} ACL entries")
                    new[ctx].append(head + (cc,))
        except TooComplex as exc:
            prog.errors.append(RuleError(rule.line, rule.col, max(1, len(rule.match_text)),
                                         f"this rule is too complex for the ACL: {exc}",
                                         "split it into several rules, or avoid `not` over a "
                                         "long `or`"))
            continue
        for ctx in CONTEXTS:
            cubes[ctx].extend(new[ctx])
            if any(not c for _, _, c in new[ctx]):
                shadowed[ctx] = True
        if not nonip_done and fmt != "classbench":
            r = True if rule.match is None else nonip_residual(rule.match)
            if r is not False:
                prog.nonip.append((r, head[1] - CODE_BIAS, rule.line))
                nonip_done = r is True
    for ctx in CONTEXTS:
        family, l4 = ctx
        if not l4:
            layout = LAYOUT_NOL4
        elif any(name in c for _, _, c in cubes[ctx] for name in FLAG_FIELDS):
            layout = LAYOUT_FULL
        else:
            layout = LAYOUT_L4
        prog.layouts[ctx] = layout
        prog.entries[ctx] = [(prio, ud) + fields for prio, ud, c in cubes[ctx]
                             for fields in cube_entries(c, family, layout)]
    return prog


# -- a Python model of the ACL, for tests and tools --------------------------------------


def key_of(meta, family: int) -> dict[str, int]:
    """The key fields of a packet's metadata, as the native body builds them."""
    from chainc.packet import META_L4_OK
    src = meta.ip4_src if family == 4 else (meta.ip6_src_hi << 64) | meta.ip6_src_lo
    dst = meta.ip4_dst if family == 4 else (meta.ip6_dst_hi << 64) | meta.ip6_dst_lo
    return {"proto": meta.ip_proto, "l4ok": 1 if meta.flags & META_L4_OK else 0,
            "tcpflags": meta.tcp_flags, "icmptype": meta.icmp_type, "icmpcode": meta.icmp_code,
            "src": src, "dst": dst, "sport": meta.sport, "dport": meta.dport}


def entry_matches(entry: tuple[int, ...], key: dict[str, int], family: int, layout: int) -> bool:
    """Whether one ACL entry (as emitted) matches a key, read the way rte_acl reads it."""
    w = entry[2:]
    pos = 0
    for name in LAYOUT_FIELDS[layout]:
        value = key[name]
        if name in ADDR_FIELDS:
            nwords = 1 if family == 4 else 4
            for i in range(nwords):
                word = (value >> (32 * (nwords - 1 - i))) & 0xFFFFFFFF
                v, plen = w[pos], w[pos + 1]
                mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF if plen else 0
                if word & mask != v & mask:
                    return False
                pos += 2
        elif name in RANGE_FIELDS:
            if not w[pos] <= value <= w[pos + 1]:
                return False
            pos += 2
        else:
            if value & w[pos + 1] != w[pos] & w[pos + 1]:
                return False
            pos += 2
    return True


def decide(prog: Program, meta) -> int | None:
    """The compiled program's return code for an IP packet (None for a non-IP one), taken
    the way the native body takes it: the highest-priority matching entry of its context."""
    from chainc.packet import META_L3_IPV4, META_L3_IPV6, META_L4_OK
    if not meta.flags & (META_L3_IPV4 | META_L3_IPV6):
        return None
    family = 4 if meta.flags & META_L3_IPV4 else 6
    ctx = (family, bool(meta.flags & META_L4_OK))
    key = key_of(meta, family)
    best = max((e for e in prog.entries[ctx] if entry_matches(e, key, family, prog.layouts[ctx])),
               key=lambda e: e[0], default=None)
    return prog.default_code if best is None else best[1] - CODE_BIAS
