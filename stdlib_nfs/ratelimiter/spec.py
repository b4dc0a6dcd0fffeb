"""RateLimiter: a token-bucket policer, or an RFC 2697 / RFC 2698 three-color marker."""

from __future__ import annotations

from chainc.nfs.spec import REQUIRED, NativeBody, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import SizeOrCount, check_positive, param_span
from chainc.values import BOOL, INT, RATE, Enum, Rate, Size

from .meter import profile


def outputs(params):
    return ("out",) if params.get("mode", "policer") == "policer" else ("green", "yellow", "red")


def validate(node, reporter):
    rate = node.params.get("rate")
    if isinstance(rate, Rate):
        if rate.per_second <= 0:
            reporter.error("'rate' must be greater than zero", param_span(node, "rate"))
        for name in ("burst", "excess_burst", "peak_burst"):
            value = node.params.get(name)
            if rate.unit == "pps" and isinstance(value, Size):
                reporter.error(f"'{name}' is a size but 'rate' counts packets", param_span(node, name),
                               hint=f"give '{name}' as a packet count, e.g. {name}: 32")
            elif rate.unit == "bps" and isinstance(value, int) and not isinstance(value, bool):
                reporter.error(f"'{name}' is a packet count but 'rate' is in bits per second",
                               param_span(node, name), hint=f"give '{name}' as a size, e.g. {name}: 64KiB")
    mode = node.params.get("mode")
    peak = node.params.get("peak_rate")
    if mode == "trtcm":
        if peak is None:
            reporter.error("mode trtcm needs 'peak_rate'", param_span(node, "mode"),
                           hint="add peak_rate: a rate at least 'rate'")
        elif isinstance(peak, Rate) and isinstance(rate, Rate):
            if peak.unit != rate.unit:
                reporter.error("'peak_rate' and 'rate' must both be bit rates or both packet rates",
                               param_span(node, "peak_rate"))
            elif peak.per_second < rate.per_second:
                reporter.error("'peak_rate' must be at least 'rate'", param_span(node, "peak_rate"))
    elif peak is not None:
        reporter.warning(f"'peak_rate' is only used in mode trtcm (mode is {mode})",
                         param_span(node, "peak_rate"))
    check_positive(node, ("burst", "flows"), reporter)


SPEC = NfSpec(
    name="RateLimiter",
    doc="Police traffic to a rate (token bucket), or color it green/yellow/red (srTCM/trTCM).",
    params=(
        ParamSpec("rate", RATE, REQUIRED,
                  "The committed rate: bits (10Gbps) or packets (2Mpps) per second."),
        ParamSpec("burst", SizeOrCount(), None,
                  "The committed burst: bucket depth, a size for bit rates, a packet count "
                  "for packet rates. Unset: 64KiB for bit rates, 64 packets for packet rates."),
        ParamSpec("mode", Enum("policer", "srtcm", "trtcm"), "policer",
                  "`policer`: conforming packets leave on `out`, the rest are dropped. "
                  "`srtcm` (RFC 2697) / `trtcm` (RFC 2698): packets leave on `green`, "
                  "`yellow` or `red`."),
        ParamSpec("excess_burst", SizeOrCount(), None,
                  "srtcm: the excess burst size (EBS), unset: equal to `burst`."),
        ParamSpec("peak_rate", RATE, None, "trtcm: the peak rate (PIR), at least `rate`."),
        ParamSpec("peak_burst", SizeOrCount(), None,
                  "trtcm: the peak burst size (PBS), unset: equal to `burst`."),
        ParamSpec("per_flow", BOOL, False,
                  "One meter per 5-tuple flow instead of one for all traffic."),
        ParamSpec("flows", INT, 65536, "per_flow: the number of flow meters."),
    ),
    inputs=("in",),
    outputs=("out",),
    outputs_from=outputs,
    state=StateKind.GLOBAL,
    state_key="none, or 5-tuple with per_flow",
    reads=("eth.type", "ip.src", "ip.dst", "ip.proto", "l4.sport", "l4.dport"),
    writes=(),
    cycles=120,  # measured: bench/bench_nf_costs.py (aggregate; per-flow meters cost ~900)
    side_effects=True,  # its color counters are observable
    drop_reasons=("exceeded",),
    description=(
        "Theory of operation. A token bucket of depth `burst` fills at `rate` (bytes of "
        "frame for a bit rate, whole packets for a packet rate), on the NFs' clock: a "
        "packet's capture time over pcap inputs (so runs are reproducible), else the TSC. "
        "In `policer` mode a packet that finds enough tokens takes them and leaves on "
        "`out`; otherwise it is dropped (`exceeded`) and takes none.\n\n"
        "`srtcm` is RFC 2697's single-rate three-color marker: a committed bucket "
        "(`rate`, `burst`) and an excess bucket (`excess_burst`) filled by the committed "
        "bucket's overflow; a packet is green if the committed bucket covers it, yellow "
        "if the excess bucket does, else red. `trtcm` is RFC 2698's two-rate marker: a "
        "peak bucket (`peak_rate`, `peak_burst`) and a committed bucket; red if the peak "
        "bucket cannot cover the packet, else yellow if the committed one cannot, else "
        "green. Marking is color-blind and uses DPDK's rte_meter with a nanosecond tick: "
        "as rte_meter does, a bucket refills by whole periods (one token every 10^9/rate "
        "ns, or k tokens every k x 10^9/rate ns when that is under 100 ns), so the rate "
        "is exact to a fraction of a percent. Nothing is dropped in these modes: connect "
        "`red` to `drop` to police. Counters: packets `green`, `yellow`, `red` (policer: "
        "green passed, red dropped).\n\n"
        "With `per_flow`, each 5-tuple gets its own meter (a table of `flows` meters, "
        "least recently used replaced and counted in `flows_evicted`; a replaced flow "
        "starts again with full buckets). The key is the 5-tuple (ports for TCP and UDP "
        "only); frames that are not IP share one meter. The meters are shared by all "
        "packets, so the NF runs on one core (state: global)."
    ),
    example=(
        "nf rl = RateLimiter(rate: 1Gbps, burst: 256KiB)\n"
        "wan -> rl -> lan\n\n"
        "nf tc = RateLimiter(rate: 100Mbps, mode: trtcm, peak_rate: 200Mbps)\n"
        "lan -> tc\n"
        "tc.green -> wan\n"
        "tc.yellow -> wan\n"
        "tc.red -> drop"
    ),
    validate=validate,
    native=NativeBody(
        process="ratelimiter_process",
        state="ratelimiter_state",
        init="ratelimiter_init",
        init_args=lambda node: _init_args(node),
        counters=("green", "yellow", "red", "flows_evicted"),
    ),
)

_MODES = {"policer": 0, "srtcm": 1, "trtcm": 2}  # RL_POLICER, RL_SRTCM, RL_TRTCM in native.pxd


def _init_args(node) -> list[str]:
    p = profile(node.params)
    flows = node.params["flows"] if node.params["per_flow"] else 0
    numbers = [p.cbs, p.ebs, p.pbs, p.cir_period, p.cir_per_period, p.pir_period, p.pir_per_period]
    return [str(_MODES[p.mode]), str(int(p.packets)), *(f"{n}ULL" for n in numbers),
            f"{flows}u", 'b"rl_{sym}"']
