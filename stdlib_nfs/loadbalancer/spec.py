"""LoadBalancer: an L4 load balancer with Maglev consistent hashing."""

from __future__ import annotations

from chainc.nfs.spec import REQUIRED, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import check_int_range, param_span
from chainc.values import INT, IP, ListOf


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


def validate(node, reporter):
    vip = node.params.get("vip")
    backends = node.params.get("backends") or ()
    for b in backends:
        if vip is not None and b.version != vip.version:
            reporter.error(f"backend {b} is IPv{b.version} but the vip is IPv{vip.version}",
                           param_span(node, "backends"))
            break
    dupes = sorted({str(b) for b in backends if list(backends).count(b) > 1})
    if dupes:
        reporter.error(f"duplicate backend(s): {', '.join(dupes)}", param_span(node, "backends"))
    check_int_range(node, "port", 0, 65535, reporter)
    size = node.params.get("table_size")
    if isinstance(size, int):
        if not _is_prime(size):
            reporter.error(f"'table_size' must be a prime number, got {size}", param_span(node, "table_size"),
                           hint="Maglev needs a prime table size, e.g. 65537 or 655373")
        elif size < 100 * max(1, len(backends)):
            reporter.warning(f"'table_size' {size} is small for {len(backends)} backends; load will "
                             f"be uneven", param_span(node, "table_size"),
                             hint="use a prime at least 100 times the number of backends")


SPEC = NfSpec(
    name="LoadBalancer",
    doc="L4 load balancer: spread flows to a virtual IP over backends by Maglev hashing.",
    params=(
        ParamSpec("vip", IP, REQUIRED, "The virtual IP address clients connect to."),
        ParamSpec("backends", ListOf(IP, 1), REQUIRED, "The real servers' addresses."),
        ParamSpec("port", INT, 0, "Only balance this destination port of the vip (0: any port)."),
        ParamSpec("table_size", INT, 65537,
                  "Size of the Maglev lookup table; a prime well above 100 x backends."),
    ),
    inputs=("in",),
    outputs=("out",),
    state=StateKind.NONE,
    reads=("eth.type", "ip.src", "ip.dst", "ip.proto", "l4.sport", "l4.dport"),
    writes=("ip.src", "ip.dst", "ip.checksum", "l4.checksum"),
    cycles=80,
    drop_reasons=(),
    description=(
        "A packet to `vip` (and `port`, when given) is sent to one backend: the 5-tuple "
        "is hashed and looked up in a Maglev table (Eisenbud et al., NSDI 2016) built once "
        "at start-up from the backend list, and the destination address is rewritten to "
        "that backend (checksums updated incrementally, RFC 1624). Replies, packets whose "
        "source is a backend (and source port `port`, when given), get their source "
        "rewritten back to `vip`, so both directions can run through the same instance. "
        "Every other packet passes unchanged. All packets leave on `out`.\n\n"
        "The table is read-only after start-up and the backend list is fixed for the "
        "life of the binary, so the hash alone keeps each flow on one backend: no per-flow "
        "state is needed and the NF replicates freely over cores."
    ),
    example=(
        "nf lb = LoadBalancer(vip: 10.0.0.100, backends: [10.0.1.1, 10.0.1.2, 10.0.1.3], port: 80)\n"
        "wan -> lb -> lan"
    ),
    validate=validate,
    native=None,
)
