"""RateLimiter reference body: token-bucket arithmetic, the RFC 2697/2698 colors, LRU flows."""

import pytest
from scapy.all import IP, UDP, Ether, Raw

from nfhelpers import make_node, packet, reference, validate
from chainc.values import Rate, Size

SECOND = 1_000_000_000


def frame(size: int = 100, sport: int = 1000) -> bytes:
    head = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=sport, dport=53)
    return bytes(head / Raw(b"x" * (size - len(head))))


def at(pkt, ns):
    pkt.ts_ns = ns
    return pkt


def run(body, frames_at):
    return [body.process(at(packet(f), t), 0) for t, f in frames_at]


def test_policer_passes_the_burst_then_the_rate():
    # 8 kbit/s = 1000 bytes/s, bucket 1000 bytes: ten 100-byte frames at t=0 pass, the 11th not.
    body = reference(make_node("RateLimiter", {"rate": Rate(8000, "bps"), "burst": Size(1000)}))
    got = run(body, [(0, frame(100))] * 11)
    assert got == [0] * 10 + [-1]
    # 0.1 s later 100 bytes have come back: one more passes, the next is dropped.
    assert run(body, [(SECOND // 10, frame(100))] * 2) == [0, -1]
    assert body.counters == {"green": 11, "yellow": 0, "red": 2, "flows_evicted": 0}


def test_packet_rates_count_packets_not_bytes():
    body = reference(make_node("RateLimiter", {"rate": Rate(10, "pps"), "burst": 2}))
    assert run(body, [(0, frame(1400)), (0, frame(60)), (0, frame(60))]) == [0, 0, -1]
    assert run(body, [(SECOND // 10, frame(1400))]) == [0]  # one packet per 100 ms


def test_long_run_rate_is_the_configured_rate():
    body = reference(make_node("RateLimiter", {"rate": Rate(80_000, "bps"), "burst": Size(500)}))
    # 10,000 bytes/s offered 4x over for 10 s: about 100,000 bytes (+ the burst) pass.
    passed = sum(100 for r in run(body, [(i * 2_500_000, frame(100)) for i in range(4000)]) if r == 0)
    assert 100_000 <= passed <= 100_000 + 500 + 100


def test_srtcm_green_then_yellow_then_red():
    params = {"rate": Rate(8000, "bps"), "mode": "srtcm", "burst": Size(300), "excess_burst": Size(200)}
    body = reference(make_node("RateLimiter", params))
    assert body.node.outputs == ("green", "yellow", "red")
    assert run(body, [(0, frame(100))] * 6) == [0, 0, 0, 1, 1, 2]
    # Refill goes to the committed bucket first, its overflow to the excess one.
    assert run(body, [(SECOND // 2, frame(100))] * 6) == [0, 0, 0, 1, 1, 2]


def test_trtcm_peak_bucket_decides_red_first():
    params = {"rate": Rate(8000, "bps"), "mode": "trtcm", "peak_rate": Rate(16000, "bps"),
              "burst": Size(200), "peak_burst": Size(400)}
    body = reference(make_node("RateLimiter", params))
    assert run(body, [(0, frame(100))] * 5) == [0, 0, 1, 1, 2]


def test_per_flow_meters_are_independent_and_least_recently_used_is_evicted():
    params = {"rate": Rate(1, "pps"), "burst": 1, "per_flow": True, "flows": 2}
    body = reference(make_node("RateLimiter", params))
    a, b, c = frame(sport=1), frame(sport=2), frame(sport=3)
    assert run(body, [(0, a), (0, b), (0, a), (0, b)]) == [0, 0, -1, -1]
    assert run(body, [(0, a), (0, c)]) == [-1, 0]  # c evicts b, the least recently used
    assert body.counters["flows_evicted"] == 1
    assert run(body, [(0, b)]) == [0]  # b starts again with a full bucket (and evicts a)
    assert run(body, [(0, c)]) == [-1]


def test_a_clock_stepping_back_refills_nothing():
    body = reference(make_node("RateLimiter", {"rate": Rate(8000, "bps"), "burst": Size(100)}))
    assert run(body, [(SECOND, frame(100)), (0, frame(100)), (SECOND, frame(100))]) == [0, -1, -1]


@pytest.mark.parametrize("params, message", [
    ({"rate": Rate(1000, "pps"), "burst": Size(1000)}, "'burst' is a size but 'rate' counts packets"),
    ({"rate": Rate(1e6, "bps"), "burst": 10}, "'burst' is a packet count"),
    ({"rate": Rate(1e6, "bps"), "mode": "trtcm"}, "mode trtcm needs 'peak_rate'"),
    ({"rate": Rate(1e6, "bps"), "mode": "trtcm", "peak_rate": Rate(1e5, "bps")}, "at least 'rate'"),
])
def test_bad_parameters_are_reported(params, message):
    rep = validate(make_node("RateLimiter", params))
    assert any(message in d.message for d in rep.diagnostics), [d.message for d in rep.diagnostics]


def test_default_burst_fits_the_rate_unit():
    for rate in (Rate(1000, "pps"), Rate(1e6, "bps")):
        rep = validate(make_node("RateLimiter", {"rate": rate}))
        assert not rep.diagnostics, [d.message for d in rep.diagnostics]
