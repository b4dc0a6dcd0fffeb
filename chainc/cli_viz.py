"""The `viz`, `show` and `top` commands: options and output only; chainc.viz does the work.

They are registered on the `chainc` group by chainc.cli.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from chainc.cli_native import _fail, _load
from chainc.cli import nf_path_option

PICTURE_SUFFIXES = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot",
                    ".html": "html", ".htm": "html"}


def _plan(graph: Any, wanted: bool) -> Any:
    if not wanted:
        return None
    from chainc.viz.plan import plan_for

    return plan_for(graph)  # a CompileError (hints no plan can follow) is printed by the group


def _stats(ctx: click.Context, graph: Any, path: str | None) -> Any:
    if path is None:
        return None
    from chainc.viz.statsfile import StatsError, check_chain, load_stats

    try:
        snapshot = load_stats(path)
        check_chain(snapshot, graph.name, path)
    except StatsError as exc:
        _fail(ctx, str(exc))
    return snapshot


def _serve(ctx: click.Context, graph: Any, plan: Any, stats_path: str, port: int,
           interval: float) -> None:
    from chainc.viz.html import Live, chain_page
    from chainc.viz.render import RenderError
    from chainc.viz.serve import HOST, make_server
    from chainc.viz.statsfile import Snapshot, StatsError, check_chain, load_stats

    try:
        first = load_stats(stats_path)
        check_chain(first, graph.name, stats_path)
    except StatsError as exc:
        if os.path.exists(stats_path):
            _fail(ctx, str(exc))
        first = Snapshot(graph.name, 0.0, {})  # the binary has not written it yet
    try:
        page = chain_page(graph, plan, first, Live(interval_s=interval))
    except RenderError as exc:
        _fail(ctx, str(exc))
    try:
        server = make_server(page, stats_path, port)
    except OSError as exc:
        _fail(ctx, f"cannot listen on {HOST}:{port}: {exc.strerror} "
                   "(choose another port with --port; 0 picks a free one)")
    url = f"http://{HOST}:{server.server_address[1]}/"
    click.echo(f"chainc: live view of {graph.name} at {url} (reads {stats_path} every "
               f"{interval:g} s; Ctrl-C stops)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@click.command(epilog="""\b
Examples:
  chainc viz examples/edge.chain -o edge.svg          the chain as a picture
  chainc viz edge.chain -o edge.html --plan           a page: pan, zoom, click an NF
  chainc viz edge.chain -o edge.png --stats s.json    packets, drops and cycles drawn on it
  chainc viz edge.chain --live s.json --plan          a live page on http://127.0.0.1:8470/
""")
@nf_path_option
@click.option("-o", "--output", metavar="OUT",
              help="The file to write; its suffix picks the format: .svg .png .pdf .dot .html.")
@click.option("--plan", "with_plan", is_flag=True,
              help="Draw the compiled plan: stages on cores, rings, replicas.")
@click.option("--stats", "stats_file", type=click.Path(dir_okay=False), metavar="STATS.json",
              help="Draw the statistics a run wrote (--stats-json of the binary, or chainc sim).")
@click.option("--live", "live_file", type=click.Path(dir_okay=False), metavar="STATS.json",
              help="Serve a page on localhost that re-reads STATS.json while the binary runs.")
@click.option("--port", type=click.IntRange(0, 65535), default=8470, show_default=True,
              help="The localhost port of --live (0: any free port).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              metavar="SECONDS", help="How often the --live page re-reads the statistics.")
@click.argument("file")
@click.pass_context
def viz(ctx: click.Context, file: str, output: str | None, with_plan: bool, stats_file: str | None,
        live_file: str | None, port: int, interval: float, nf_path: tuple[str, ...]) -> None:
    """Draw a chain with Graphviz: NFs, ports, branches, sub-chains, plan and statistics.

    The picture reads left to right. The .html page is one self-contained
    file (no network needed): drag to pan, wheel to zoom, click an NF for
    its parameters, documentation and counters. --live serves that page on
    127.0.0.1 and refreshes its statistics while the binary runs
    (`./bin ... -- --stats-interval 1 --stats-json STATS.json`).
    """
    if live_file is not None and (output is not None or stats_file is not None):
        raise click.UsageError("--live serves the page itself (a page opened from a file may not "
                               "re-read another file); drop -o and --stats")
    if live_file is None and output is None:
        raise click.UsageError("give -o OUT (.svg .png .pdf .dot .html) or --live STATS.json")
    fmt = None
    if output is not None:
        fmt = PICTURE_SUFFIXES.get(Path(output).suffix.lower())
        if fmt is None:
            raise click.BadParameter(f"unknown suffix of {output!r}; use one of "
                                     f"{' '.join(sorted(set(PICTURE_SUFFIXES)))}", ctx=ctx,
                                     param_hint="-o")
    graph, _ = _load(ctx, file, nf_path)
    plan = _plan(graph, with_plan)
    if live_file is not None:
        _serve(ctx, graph, plan, live_file, port, interval)
        return
    from chainc.viz.dot import chain_picture
    from chainc.viz.html import chain_page
    from chainc.viz.render import RenderError, render

    stats = _stats(ctx, graph, stats_file)
    try:
        if fmt == "html":
            data = chain_page(graph, plan, stats).encode("utf-8")
        elif fmt == "dot":
            data = chain_picture(graph, plan, stats).dot.encode("utf-8")
        else:
            data = render(chain_picture(graph, plan, stats).dot, fmt)
    except RenderError as exc:
        _fail(ctx, str(exc))
    try:
        Path(output).write_bytes(data)
    except OSError as exc:
        _fail(ctx, f"cannot write {output}: {exc.strerror}")
    click.echo(f"{output}: {fmt} of chain {graph.name}")


@click.command(epilog="""\b
Examples:
  chainc show examples/edge.chain
  chainc show edge.chain --plan --stats stats.json
""")
@nf_path_option
@click.option("--plan", "with_plan", is_flag=True, help="Group the NFs by stage and core; show rings.")
@click.option("--stats", "stats_file", type=click.Path(dir_okay=False), metavar="STATS.json",
              help="Show the packets on every edge and each NF's counters.")
@click.argument("file")
@click.pass_context
def show(ctx: click.Context, file: str, with_plan: bool, stats_file: str | None,
         nf_path: tuple[str, ...]) -> None:
    """Print a chain as text for a terminal: each NF with its outputs, in run order."""
    from chainc.viz.text import show_text

    graph, _ = _load(ctx, file, nf_path)
    plan = _plan(graph, with_plan)
    click.echo(show_text(graph, plan, _stats(ctx, graph, stats_file)), nl=False)


@click.command(epilog="""\b
Examples:
  ./edge -l 0-1 -- --stats-interval 1 --stats-json stats.json &
  chainc top stats.json
  chainc top stats.json --sort drops -n 1     print once, the NFs that drop most first
""")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              metavar="SECONDS", help="How often to re-read the file.")
@click.option("-n", "--iterations", type=click.IntRange(min=0), default=0, metavar="N",
              help="Stop after N screens (default: until Ctrl-C).")
@click.option("--sort", type=click.Choice(["order", "in", "drops", "cycles"]), default="order",
              show_default=True, help="Row order: the chain's, or busiest/most dropping/costliest first.")
@click.argument("stats_file", metavar="STATS.json", type=click.Path(dir_okay=False))
@click.pass_context
def top(ctx: click.Context, stats_file: str, interval: float, iterations: int, sort: str) -> None:
    """Show per-NF packet and drop rates from a statistics file, refreshed as it changes.

    Run the binary with `--stats-interval 1 --stats-json STATS.json`; rates
    are over the binary's last interval. On a terminal the screen is redrawn
    in place; otherwise each screen is printed after the last.
    """
    from chainc.viz.top import TopView

    view = TopView(stats_file, sort)
    clear = sys.stdout.isatty()
    shown = 0
    ok = True
    try:
        while True:
            screen, ok = view.refresh()
            click.echo(("\x1b[H\x1b[2J" if clear else ("\n" if shown else "")) + screen)
            shown += 1
            if iterations and shown >= iterations:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        return
    if not ok:
        ctx.exit(1)
