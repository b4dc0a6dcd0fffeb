"""Tee and Sampler reference bodies: what is copied, when, and that copies are independent."""

import pytest
from scapy.all import IP, UDP, Ether, Raw

from nfhelpers import make_node, packet, reference, validate

FRAME = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(dst="10.0.0.1")
              / UDP(dport=53) / Raw(b"q" * 100))


def test_tee_emits_an_independent_copy_on_copy():
    body = reference(make_node("Tee"))
    pkt = packet(FRAME)
    assert body.process(pkt, 0) == 0
    [(out, twin)] = body.emitted
    assert out == 1 and bytes(twin.data) == FRAME and twin is not pkt
    twin.data[0] ^= 0xFF
    assert bytes(pkt.data) == FRAME  # rewriting the copy leaves the original alone
    assert body.counters == {"copied": 1, "copy_failed": 0}


def test_tee_snaplen_truncates_the_copy_and_reparses_it():
    body = reference(make_node("Tee", {"snaplen": 20}))
    pkt = packet(FRAME)
    body.process(pkt, 0)
    twin = body.emitted[0][1]
    assert bytes(twin.data) == FRAME[:20] and len(pkt.data) == len(FRAME)
    assert twin.meta.flags != pkt.meta.flags  # the truncated IP header is seen as such


def test_sampler_every_n_takes_the_nth_packets():
    body = reference(make_node("Sampler", {"every": 3}))
    taken = []
    for i in range(10):
        assert body.process(packet(FRAME), 0) == 0
        taken.append(bool(body.emitted))
        body.emitted.clear()
    assert taken == [False, False, True] * 3 + [False]
    assert body.counters["sampled"] == 3


def test_sampler_probability_is_seeded_and_near_p():
    def picks(seed):
        body = reference(make_node("Sampler", {"probability": 0.1, "seed": seed}))
        out = []
        for _ in range(5000):
            body.process(packet(FRAME), 0)
            out.append(bool(body.emitted))
            body.emitted.clear()
        return out

    a, b, c = picks(1), picks(1), picks(2)
    assert a == b and a != c
    assert 400 < sum(a) < 600


def test_sampler_default_snaplen_is_128():
    body = reference(make_node("Sampler", {"every": 1}))
    big = FRAME + b"z" * 500
    body.process(packet(big), 0)
    assert bytes(body.emitted[0][1].data) == big[:128]


def test_splitmix64_matches_the_published_sequence():
    from chainc.nfs.registry import Registry

    module = __import__(Registry.load().reference_class(make_node("Sampler", {"every": 1}).spec).__module__,
                        fromlist=["SplitMix64"])
    rng = module.SplitMix64(0)
    # The first outputs of splitmix64 seeded with 0 (as in the reference C code).
    assert [rng.next() for _ in range(3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


@pytest.mark.parametrize("params, message", [
    ({}, "exactly one of 'every' and 'probability'"),
    ({"every": 2, "probability": 0.5}, "exactly one of"),
    ({"every": 0}, "'every' must be at least 1"),
    ({"probability": 1.5}, "'probability' must be in (0, 1]"),
])
def test_sampler_rejects_bad_parameters(params, message):
    rep = validate(make_node("Sampler", params))
    assert any(message in d.message for d in rep.diagnostics), [d.message for d in rep.diagnostics]
