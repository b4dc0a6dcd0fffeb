"""Sampler: copy one packet in N (or with a probability) to a sample output."""

from __future__ import annotations

from chainc.nfs.spec import NativeBody, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import check_snaplen, param_span
from chainc.values import FLOAT, INT


def validate(node, reporter):
    every = node.params.get("every")
    prob = node.params.get("probability")
    if (every is None) == (prob is None):
        reporter.error("give exactly one of 'every' and 'probability'", node.span,
                       hint="e.g. Sampler(every: 1000) or Sampler(probability: 0.001)")
    if isinstance(every, int) and every < 1:
        reporter.error("'every' must be at least 1", param_span(node, "every"))
    if isinstance(prob, float) and not 0.0 < prob <= 1.0:
        reporter.error("'probability' must be in (0, 1]", param_span(node, "probability"))
    check_snaplen(node, reporter)


SPEC = NfSpec(
    name="Sampler",
    doc="Copy a sample of the packets (1 in N, or with a probability) to `sample`.",
    params=(
        ParamSpec("every", INT, None, "Sample every N-th packet (deterministic)."),
        ParamSpec("probability", FLOAT, None, "Sample each packet with this probability (random)."),
        ParamSpec("snaplen", INT, 128, "Copy at most this many bytes of a sampled packet (0: all)."),
        ParamSpec("seed", INT, 1, "Seed of the random generator used with `probability`."),
    ),
    inputs=("in",),
    outputs=("out", "sample"),
    state=StateKind.NONE,
    reads=(),
    writes=(),
    cycles=100,  # measured: bench/bench_nf_costs.py
    side_effects=True,  # its counters are observable
    drop_reasons=(),
    description=(
        "Every packet leaves on `out` unchanged. A sampled packet is also copied (up to "
        "`snaplen` bytes, like an sFlow packet sample) to `sample`. With `every: N` the "
        "N-th, 2N-th, ... packets are sampled; with `probability: p` each packet is "
        "sampled independently with probability p: a splitmix64 generator seeded by `seed` "
        "draws 53 bits per packet and the packet is sampled when they fall below "
        "p x 2^53, so runs are reproducible and `chainc sim` samples the same packets. Each replica keeps its own count, so the sampling rate "
        "holds with any number of replicas. A copy that finds no free mbuf is skipped and "
        "counted (`copy_failed`)."
    ),
    example="nf s = Sampler(every: 1000)\nwan -> s -> lan\ns.sample -> collector",
    validate=validate,
    native=NativeBody(
        process="sampler_process",
        state="sampler_state",
        init="sampler_init",
        emits=True,
        process_args=lambda node: [f"{node.params.get('every') or 0}ULL",
                                   f"{threshold53(node.params.get('probability'))}ULL",
                                   f"{node.params['snaplen'] or 0xFFFFFFFF}u"],
        init_args=lambda node: [f"{node.params.get('every') or 0}ULL",
                                f"{node.params['seed'] & (2**64 - 1)}ULL"],
        counters=("sampled", "copy_failed"),
    ),
)


def threshold53(probability: float | None) -> int:
    """A packet is sampled when 53 random bits fall below p * 2^53 (0: never)."""
    return round(probability * (1 << 53)) if probability is not None else 0
