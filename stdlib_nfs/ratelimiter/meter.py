"""The RateLimiter's meter profile: token-bucket parameters as rte_meter computes them.

rte_meter keeps a bucket's rate as "bytes_per_period tokens every period
ticks". Its profile functions take the tick rate from the TSC; chainc's
meters tick in nanoseconds instead (the NFs' clock, so a run over a capture
is reproducible), so the profile is computed here with hz = 10^9, exactly as
rte_meter_get_tb_params does, and handed to both bodies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from chainc.values import Rate, Size

HZ = 1_000_000_000  # meters tick in nanoseconds
PERIOD_MIN = 100    # RTE_METER_TB_PERIOD_MIN
DEFAULT_BURST_BYTES = 64 * 1024
DEFAULT_BURST_PACKETS = 64


def tb_params(rate: int) -> tuple[int, int]:
    """(period in ns, tokens per period) for `rate` tokens per second."""
    if rate == 0:
        return PERIOD_MIN, 0
    period = HZ / rate
    if period >= PERIOD_MIN:
        return int(period), 1
    per_period = math.ceil(PERIOD_MIN / period)
    return (HZ * per_period) // rate, per_period


@dataclass(frozen=True)
class Profile:
    """Everything a meter needs: the buckets' depths and refill rates, in tokens.

    A token is a byte of frame for bit rates, a packet for packet rates. In
    policer mode the excess bucket is empty, so a packet is green or red.
    """

    mode: str
    packets: bool       # tokens are packets (a pps rate), else bytes
    cbs: int
    ebs: int            # srtcm (and policer: 0)
    pbs: int            # trtcm
    cir_period: int
    cir_per_period: int
    pir_period: int
    pir_per_period: int


def _tokens(rate: Rate) -> int:
    return int(rate.per_second) if rate.unit == "pps" else int(rate.per_second) // 8


def _depth(value, packets: bool) -> int:
    if value is None:
        return DEFAULT_BURST_PACKETS if packets else DEFAULT_BURST_BYTES
    return value.bytes if isinstance(value, Size) else int(value)


def profile(params: dict) -> Profile:
    rate: Rate = params["rate"]
    packets = rate.unit == "pps"
    mode = params.get("mode", "policer")
    cbs = _depth(params.get("burst"), packets)
    cir_period, cir_per = tb_params(_tokens(rate))
    ebs = pbs = 0
    pir_period, pir_per = PERIOD_MIN, 0
    if mode == "srtcm":
        ebs = _depth(params["excess_burst"], packets) if params.get("excess_burst") is not None else cbs
    elif mode == "trtcm":
        pbs = _depth(params["peak_burst"], packets) if params.get("peak_burst") is not None else cbs
        pir_period, pir_per = tb_params(_tokens(params["peak_rate"]))
    return Profile(mode, packets, cbs, ebs, pbs, cir_period, cir_per, pir_period, pir_per)
