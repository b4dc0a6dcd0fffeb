"""The `plan` and `profile` commands, and the optimiser options `build` and `run` share.

They are registered on the `chainc` group by chainc.cli; the work is done by
the passes (chainc.passes) and the DPDK backend.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import click

from chainc.cli import EXIT_ERROR, load_registry, nf_path_option, print_diagnostics


def _cores(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    from chainc.passes import parse_cores

    if value is None:
        return None
    try:
        return parse_cores(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _passes(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> frozenset[str]:
    from chainc.passes.pipeline import check_disabled

    try:
        check_disabled(set(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return frozenset(value)


def plan_options(f: Callable) -> Callable:
    """--cores, --profile and --disable-pass, on every command that makes a plan."""
    f = click.option("--disable-pass", "disabled", multiple=True, metavar="PASS", callback=_passes,
                     help="Switch an optimiser pass off (repeatable): eliminate-dead-nfs, "
                          "merge-classifiers, parse-once, fuse-stages, replicate-stages.")(f)
    f = click.option("--profile", "profile_path", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Cost the plan with a profile that `chainc profile` measured.")(f)
    f = click.option("--cores", callback=_cores, metavar="LIST",
                     help="The CPUs the chain may use, e.g. 0-7 or 1,3 (default: all but the "
                          "first where there are more than two).")(f)
    return f


def make_plan(graph: Any, cores: tuple[int, ...] | None, profile_path: str | None,
              disabled: frozenset[str]) -> Any:
    """The optimiser's plan; prints the warnings of hints it does not honour."""
    from chainc.passes import PlanOptions, default_cores, optimise
    from chainc.passes.explain import warnings_of
    from chainc.passes.profile import ProfileError, load

    profile = None
    if profile_path is not None:
        try:
            profile = load(profile_path)
        except ProfileError as exc:
            raise click.ClickException(str(exc)) from None
    plan = optimise(graph, PlanOptions(cores or default_cores(), profile, disabled))
    print_diagnostics(warnings_of(plan))
    return plan


@click.command(epilog="""\b
Examples:
  chainc plan examples/quickstart.chain
  chainc plan examples/edge.chain --cores 0-7
  chainc plan edge.chain --profile edge.profile --json
  chainc plan edge.chain --disable-pass fuse-stages --cores 0
""")
@nf_path_option
@plan_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.argument("file")
@click.pass_context
def plan(ctx: click.Context, file: str, cores: tuple[int, ...] | None, profile_path: str | None,
         disabled: frozenset[str], as_json: bool, nf_path: tuple[str, ...]) -> None:
    """Print the plan the optimiser makes for a chain, and why.

    Stages (NFs that run a packet to completion on one core), the cores and
    replicas of each, the rings between stages, the RSS settings of ports
    that feed replicated stages, how deep each port's headers are parsed,
    the predicted Mpps of each stage and the bottleneck; then every decision
    of every pass with its reason and the .chain line it concerns.
    """
    from chainc.driver import load_chain
    from chainc.passes.explain import plan_json, render_plan

    result = load_chain(file, registry=load_registry(ctx, nf_path))
    print_diagnostics(result.warnings)
    chosen = make_plan(result.graph, cores, profile_path, disabled)
    if as_json:
        click.echo(json.dumps(plan_json(chosen), indent=1))
    else:
        click.echo(render_plan(chosen, file), nl=False)


@click.command(epilog="""\b
Examples:
  chainc profile examples/quickstart.chain --in wan=examples/traffic/sample.pcap -o qs.profile
  chainc plan examples/quickstart.chain --profile qs.profile
""")
@nf_path_option
@click.option("--in", "inputs", multiple=True, required=True, metavar="PORT=FILE",
              help="Replay PORT's packets from a pcap file (repeatable).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="FILE",
              help="Where to write the profile (default: CHAIN.profile).")
@click.option("--seconds", type=click.FloatRange(min=0.2), default=3.0, show_default=True,
              help="How long each run replays the traffic.")
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="How many runs; the profile is the one with the median rate.")
@click.option("--core", type=click.IntRange(min=0), default=None, metavar="N",
              help="The CPU to run on (default: the last one).")
@click.argument("file")
@click.pass_context
def profile(ctx: click.Context, file: str, inputs: tuple[str, ...], output: str | None,
            seconds: float, runs: int, core: int | None, nf_path: tuple[str, ...]) -> None:
    """Measure a chain on real traffic, for the optimiser's cost model.

    Builds the chain on one core, replays the --in captures for --seconds
    into null devices (nothing is written), --runs times, and records, from
    the run with the median rate, each NF's cycles per packet, the share of
    the traffic each output takes, and the framework's cost per packet.
    `chainc plan --profile` and `chainc build --profile` then cost plans
    with these measurements instead of the NFs' hints.
    """
    from chainc.backends.dpdk import runner
    from chainc.backends.dpdk.build import BuildError
    from chainc.cli_native import _build, _load, _pairs
    from chainc.ir.graph import NodeKind
    from chainc.passes import PlanOptions, optimise
    from chainc.passes.cores import available_cpus
    from chainc.passes.profile import from_runs

    graph, _ = _load(ctx, file, nf_path)
    cpu = core if core is not None else available_cpus()[-1]
    chosen = optimise(graph, PlanOptions((cpu,)))
    pairs = _pairs(ctx, inputs, "--in")
    receiving = {n.port for n in chosen.graph.nodes(NodeKind.PORT_IN)}
    devices = {p: f"net_null_{p}" for p in chosen.graph.ports() if p not in pairs}
    missing = sorted(receiving - set(pairs))
    if missing:
        raise click.UsageError(f"give the traffic of every receiving port: --in {missing[0]}=FILE")
    with tempfile.TemporaryDirectory(prefix="chainc-profile-") as tmp:
        stats_path = Path(tmp) / "stats.json"
        opts = runner.RunOptions(inputs=pairs, devices=devices, infinite=True, duration=seconds,
                                 stats_json=str(stats_path), quiet=True, cpus=(cpu,))
        measured_runs = []
        try:
            built = _build(graph, None, plan=chosen)
            for _ in range(runs):
                stats_path.unlink(missing_ok=True)
                proc = runner.run(built.binary, graph, opts, capture=True, plan=chosen)
                if proc.returncode != 0 or not stats_path.exists():
                    click.echo(f"chainc: error: the profiling run failed ({proc.returncode}):\n"
                               f"{proc.stderr.strip()}", err=True)
                    ctx.exit(EXIT_ERROR)
                measured_runs.append(json.loads(stats_path.read_text()))
        except (BuildError, runner.RunError) as exc:
            click.echo(f"chainc: error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)
    measured = from_runs(measured_runs)
    target = output or f"{graph.name}.profile"
    measured.path = target
    measured.save(target)
    click.echo(f"{target}: {measured.packets:,} packets in {measured.seconds:.2f} s on CPU {cpu}: "
               f"{measured.mpps:.2f} Mpps, {measured.overhead_cycles:.0f} cycles per packet "
               "beyond the NFs")
    if runs > 1:
        rates = ", ".join(f"{r:.2f}" for r in measured.runs_mpps)
        click.echo(f"  the median of {runs} runs ({rates} Mpps)")
    for node_id, n in measured.nodes.items():
        share = n.packets_in / measured.packets if measured.packets else 0.0
        cycles = f"{n.cycles:.0f}" if n.cycles is not None else "-"
        click.echo(f"  {node_id}: {cycles} cycles per packet, {share:.1%} of the traffic")

