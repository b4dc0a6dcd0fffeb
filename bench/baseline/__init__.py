"""The hand-written C DPDK baseline of the benchmarks (see build.py)."""
