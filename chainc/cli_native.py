"""The `build`, `run` and `sim` commands: options and output only.

They are registered on the `chainc` group by chainc.cli; the work is done by
the DPDK backend (build, run) and the reference simulator (sim).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from chainc.cli import EXIT_ERROR, load_registry, nf_path_option, print_diagnostics
from chainc.cli_plan import make_plan, plan_options
from chainc.diagnostics import CompileError, Diagnostic, Severity


def _load(ctx: click.Context, file: str, nf_path: tuple[str, ...]) -> Any:
    from chainc.driver import load_chain

    registry = load_registry(ctx, nf_path)
    result = load_chain(file, registry=registry)
    print_diagnostics(result.warnings)
    return result.graph, registry


sanitize_option = click.option(
    "--sanitize", is_flag=True,
    help="Build with AddressSanitizer and UndefinedBehaviorSanitizer; a report ends the run "
         "with exit code 70 (docs/sanitizers.md).")


def _fail(ctx: click.Context, message: str) -> None:
    click.echo(f"chainc: error: {message}", err=True)
    ctx.exit(EXIT_ERROR)


def _pairs(ctx: click.Context, values: tuple[str, ...], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        port, sep, path = item.partition("=")
        if not sep or not port or not path:
            raise click.BadParameter(f"expected PORT=FILE, got {item!r}", ctx=ctx, param_hint=option)
        out[port] = path
    return out


def _build(graph: Any, output: Path | None, emit: tuple[str, ...] = (), sanitize: bool = False,
           plan: Any = None) -> Any:
    from chainc.backends.dpdk import build as dpdk_build
    from chainc.backends.dpdk.codegen import CodegenError

    try:
        result = dpdk_build.build(graph, output=output, sanitize=sanitize, plan=plan)
    except CodegenError as exc:
        raise CompileError([Diagnostic(Severity.ERROR, str(exc), exc.span)]) from None
    if output is not None:
        for kind in emit:
            source = result.pyx if kind == "pyx" else result.c_source
            target = output.with_name(output.name + "." + kind)
            target.write_text(source.read_text())
    return result


@click.command(epilog="""\b
Examples:
  chainc build examples/edge.chain -o edge
  chainc build edge.chain -o edge --emit pyx --emit c   also write edge.pyx, edge.c
  chainc build edge.chain -o edge --cores 0-3            a plan for four cores
  ./edge -l 0-1 -- --port wan=0000:01:00.0 --port lan=net_pcap0,tx_pcap=out.pcap
""")
@nf_path_option
@plan_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="BIN",
              help="Where to write the binary (default: the chain's name, here).")
@click.option("--emit", type=click.Choice(["pyx", "c"]), multiple=True,
              help="Also write the generated Cython (BIN.pyx) or C (BIN.c) source.")
@sanitize_option
@click.argument("file")
@click.pass_context
def build(ctx: click.Context, file: str, output: str | None, emit: tuple[str, ...],
          sanitize: bool, cores: tuple[int, ...] | None, profile_path: str | None,
          disabled: frozenset[str], nf_path: tuple[str, ...]) -> None:
    """Compile a chain into a native DPDK binary.

    The optimiser plans it for the cores given (`chainc plan` shows the plan
    and why). The binary takes DPDK EAL options, then `--` and its own
    options (`--port NAME=DEVICE`, `--duration`, `--max-packets`,
    `--stats-interval`, `--stats-json`); run it with `--help` after `--` to
    see them. Builds are cached by content: an unchanged chain builds in
    milliseconds.
    """
    from chainc.backends.dpdk.build import BuildError

    graph, _ = _load(ctx, file, nf_path)
    chosen = make_plan(graph, cores, profile_path, disabled)
    target = Path(output or graph.name)
    try:
        result = _build(graph, target, emit, sanitize, chosen)
    except BuildError as exc:
        _fail(ctx, str(exc))
    how = "from cache" if result.cached else "compiled"
    replicas = sum(st.replicas for st in chosen.stages)
    click.echo(f"{target}: {len(chosen.graph.nodes())} nodes in {len(chosen.stages)} stage(s) "
               f"({replicas} worker(s)), needs {chosen.n_cores} lcore(s) ({how})")


@click.command(epilog="""\b
Examples:
  chainc run examples/quickstart.chain
  chainc run edge.chain --in wan=traffic.pcap --out lan=/tmp/lan.pcap
  chainc run edge.chain --repeat --duration 10 --stats-interval 1
  chainc run edge.chain --cores 0                        on one core
""")
@nf_path_option
@plan_options
@click.option("--in", "inputs", multiple=True, metavar="PORT=FILE",
              help="Receive PORT's packets from a pcap file (repeatable).")
@click.option("--out", "outputs", multiple=True, metavar="PORT=FILE",
              help="Write PORT's transmitted packets to a pcap file (repeatable).")
@click.option("--duration", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
              help="Stop receiving after SECONDS.")
@click.option("--max-packets", type=click.IntRange(min=0), default=0, metavar="N",
              help="Stop after receiving N packets.")
@click.option("--repeat", is_flag=True,
              help="Replay the input pcaps endlessly (benchmarks); needs --duration or --max-packets.")
@click.option("--stats-interval", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
              help="Print the statistics table every SECONDS.")
@click.option("--stats-json", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the statistics as JSON.")
@click.option("--first-core", type=click.IntRange(min=0), default=None, metavar="N",
              help="Run on CPUs N, N+1, ... instead of the CPUs of --cores.")
@click.option("--eal", metavar="ARGS", default="",
              help="Extra DPDK EAL arguments, space-separated (e.g. '--log-level=info').")
@click.option("--clock", type=click.Choice(["auto", "packet", "tsc"]), default="auto",
              help="The time NFs see: each packet's capture timestamp (packet), the CPU's "
                   "clock (tsc), or packet time when every input is a pcap read once (auto).")
@sanitize_option
@click.argument("file")
@click.pass_context
def run(ctx: click.Context, file: str, inputs: tuple[str, ...], outputs: tuple[str, ...],
        duration: float, max_packets: int, repeat: bool, stats_interval: float,
        stats_json: str | None, first_core: int | None, eal: str, clock: str, sanitize: bool,
        cores: tuple[int, ...] | None, profile_path: str | None, disabled: frozenset[str],
        nf_path: tuple[str, ...]) -> None:
    """Build a chain (cached) and run it natively over pcap files.

    No NIC and no hugepages are needed: every port is bound to a DPDK
    net_pcap device reading the --in file (or the .chain file's default) and
    writing the --out file (or the default). A stage the plan replicates
    reads its input split by flow over one file per replica, as a NIC's RSS
    would spread it. Prints per-NF statistics. Ctrl-C stops it cleanly.
    """
    from chainc.backends.dpdk import runner
    from chainc.backends.dpdk.build import BuildError

    graph, _ = _load(ctx, file, nf_path)
    chosen = make_plan(graph, cores, profile_path, disabled)
    opts = runner.RunOptions(
        inputs=_pairs(ctx, inputs, "--in"), outputs=_pairs(ctx, outputs, "--out"),
        infinite=repeat, duration=duration, max_packets=max_packets, stats_json=stats_json,
        stats_interval=stats_interval, first_core=first_core or 0,
        cpus=chosen.used_cpus if first_core is None else None, eal_extra=eal.split(), clock=clock)
    try:
        result = _build(graph, None, sanitize=sanitize, plan=chosen)
        proc = runner.run(result.binary, graph, opts, plan=chosen)
    except (BuildError, runner.RunError) as exc:
        _fail(ctx, str(exc))
    ctx.exit(proc.returncode)


@click.command(epilog="""\b
Examples:
  chainc sim examples/quickstart.chain
  chainc sim edge.chain --in wan=traffic.pcap --out lan=sim-lan.pcap --stats-json s.json
""")
@nf_path_option
@click.option("--in", "inputs", multiple=True, metavar="PORT=FILE",
              help="Read PORT's packets from a pcap file (repeatable).")
@click.option("--out", "outputs", multiple=True, metavar="PORT=FILE",
              help="Write PORT's packets to a pcap file (repeatable).")
@click.option("--stats-json", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the statistics as JSON.")
@click.argument("file")
@click.pass_context
def sim(ctx: click.Context, file: str, inputs: tuple[str, ...], outputs: tuple[str, ...],
        stats_json: str | None, nf_path: tuple[str, ...]) -> None:
    """Simulate a chain in Python with the NFs' reference bodies.

    Needs no DPDK. The packets leaving each port and the statistics are the
    ones the native binary gives for the same input (the differential tests
    hold both to that).
    """
    from chainc.pcapfile import PcapError
    from chainc.sim import SimError, default_files, run_sim
    from chainc.stats import render_table

    graph, registry = _load(ctx, file, nf_path)
    in_files, out_files = default_files(graph)
    in_files.update(_pairs(ctx, inputs, "--in"))
    out_files.update(_pairs(ctx, outputs, "--out"))
    for path in out_files.values():
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        stats = run_sim(graph, in_files, out_files, registry)
    except (PcapError, SimError) as exc:
        _fail(ctx, str(exc))
    click.echo(render_table(stats))
    if stats_json:
        Path(stats_json).write_text(json.dumps(stats, indent=1) + "\n")
