"""The `verify` command: options and output only (chainc.verify does the work)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from chainc.cli import nf_path_option
from chainc.cli_native import _build, _fail, _load, _pairs, sanitize_option

EXIT_DIFFERENT = 4


def _hex(frame: bytes | None, indent: str, limit: int = 64) -> str:
    """The first `limit` bytes in lines of 32."""
    if frame is None:
        return "(no packet)"
    lines = [frame[i:i + 32].hex(" ") for i in range(0, min(len(frame), limit), 32)]
    if len(frame) > limit:
        lines[-1] += f" ... ({len(frame)} bytes)"
    return f"\n{indent}".join(lines) or "(0 bytes)"


def _describe(frame: bytes) -> str:
    from chainc.packet import parse_meta

    meta = parse_meta(frame)
    flags = "|".join(n.removeprefix("META_") for n in meta.flag_names()) or "unparsed"
    where = f" {meta.ip_src} -> {meta.ip_dst}" if meta.ip_src is not None else ""
    return f"{len(frame)} bytes [{flags}]{where}"


def _first_byte_diff(a: bytes, b: bytes) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def _render(command: str, diff) -> str:
    port, index = diff.culprit
    pad = " " * 11
    lines = [f"native and sim differ after {diff.inputs_used} input packet(s); "
             f"the last of them is packet {index} of port {port}",
             f"  input:   {_describe(diff.frame)}",
             f"{pad}{_hex(diff.frame, pad)}"]
    if diff.native_failure:
        lines.append(f"  native:  {diff.native_failure}")
    if diff.port is not None:
        lines.append(f"  output:  port {diff.port}, packet {diff.index}")
        lines.append(f"    native {_hex(diff.native_frame, pad)}")
        lines.append(f"    sim    {_hex(diff.sim_frame, pad)}")
        if diff.native_frame is not None and diff.sim_frame is not None:
            lines.append(f"    first different byte at offset "
                         f"{_first_byte_diff(diff.native_frame, diff.sim_frame)}")
    for line in diff.counter_diff:
        lines.append(f"  counters {line}")
    lines.append(f"  path (this packet alone), native: {diff.native_path}")
    lines.append(f"  path (this packet alone), sim:    {diff.sim_path}")
    if not diff.alone:
        lines.append("  alone it behaves the same in both: the difference needs the packets before it")
    ins = " ".join(f"--in {p}={f}" for p, f in diff.repro.items())
    lines.append(f"  reproduce ({'1 packet' if diff.alone else f'{diff.inputs_used} packets'}): "
                 f"{command} {ins}")
    return "\n".join(lines)


@click.command(epilog="""\b
Examples:
  chainc verify examples/quickstart.chain
  chainc verify edge.chain --in wan=traffic.pcap --sanitize
""")
@nf_path_option
@click.option("--in", "inputs", multiple=True, metavar="PORT=FILE",
              help="Receive PORT's packets from a pcap file (repeatable; default: the .chain's bindings).")
@click.option("--repro-dir", type=click.Path(file_okay=False), default=".", metavar="DIR",
              help="Where to write the pcap that reproduces a difference (default: here).")
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, metavar="SECONDS",
              help="Give up on a native run that takes longer (default 120).")
@sanitize_option
@click.argument("file")
@click.pass_context
def verify(ctx: click.Context, file: str, inputs: tuple[str, ...], repro_dir: str, timeout: float,
           sanitize: bool, nf_path: tuple[str, ...]) -> None:
    """Run a chain natively and in `chainc sim` and compare them packet by packet.

    The packets leaving every port must be the same, in the same order, and
    every NF's counters the same. On a difference it prints the first input
    packet after which they differ, the path it takes in each, and writes a
    pcap that reproduces it; the exit status is then 4. With --sanitize a
    sanitizer report is a difference too, isolated the same way.
    """
    from chainc.backends.dpdk import runner
    from chainc.backends.dpdk.build import BuildError
    from chainc.pcapfile import PcapError
    from chainc.verify import Verifier, VerifyError, load_inputs

    graph, registry = _load(ctx, file, nf_path)
    try:
        frames = load_inputs(graph, _pairs(ctx, inputs, "--in"))
        with tempfile.TemporaryDirectory(prefix="chainc-verify-") as work:
            verifier = Verifier(graph, registry, None, Path(work), timeout=timeout)
            verifier.binary = _build(graph, None, sanitize=sanitize).binary
            report = verifier.verify(frames, Path(repro_dir), graph.name)
    except (BuildError, runner.RunError, VerifyError, PcapError) as exc:
        _fail(ctx, str(exc))
    if report.difference is not None:
        again = " ".join(["chainc verify", *(f"--nf-path {d}" for d in nf_path),
                          *(["--sanitize"] if sanitize else []), file])
        click.echo(_render(again, report.difference))
        ctx.exit(EXIT_DIFFERENT)
    ins = ", ".join(f"{p} {n:,}" for p, n in report.packets_in.items())
    outs = ", ".join(f"{p} {n:,}" for p, n in report.packets_out.items()) or "none"
    click.echo(f"{file}: native and sim agree: packets in: {ins}; out: {outs}; "
               f"same counters ({verifier.runs} native run(s))")
