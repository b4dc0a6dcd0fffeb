"""The `chainc` command line: options and output only; the work is done elsewhere.

Every command is one decorated function on the `main` group. The group turns
errors into exit codes for all of them: a CompileError prints its
diagnostics and exits 1, a usage error exits 2 (click), and any other
exception is a compiler bug: "chainc: internal compiler error in <stage>"
and exit 3 (set CHAINC_DEBUG=1 for the traceback).

To add a command:

    @main.command()
    @nf_path_option
    @click.argument("file")
    @click.pass_context
    def build(ctx, file, nf_path):
        registry = load_registry(ctx, nf_path)
        ...

or define a plain `@click.command()` elsewhere and add it in
`_add_native_commands` (chainc.cli_native holds build, run and sim).
"""

from __future__ import annotations

import difflib
import gc
import json
import os
import sys
import traceback
from typing import Any, Sequence

import click

from chainc import __version__
from chainc.diagnostics import CompileError, Diagnostic, did_you_mean

EXIT_ERROR = 1
EXIT_INTERNAL = 3


# ---------------------------------------------------------------- output


def _clean(text: str) -> str:
    """Terminal-safe text: control characters of a broken input shown as '?'."""
    return "".join(c if c in "\n" or (c.isprintable() or c == " ") else "?" for c in text)


def print_diagnostics(diagnostics: Sequence[Diagnostic]) -> None:
    for d in diagnostics:
        click.echo(_clean(d.render()), err=True)


def internal_error(stage: str, exc: BaseException) -> None:
    click.echo(f"chainc: internal compiler error in {stage}: {type(exc).__name__}: {exc}", err=True)
    if os.environ.get("CHAINC_DEBUG") == "1":
        click.echo("".join(traceback.format_exception(exc)), err=True)
    else:
        click.echo("chainc: this is a bug in chainc (or in an NF's spec); please report it with "
                   "the input that caused it (CHAINC_DEBUG=1 shows the traceback)", err=True)


class ChaincGroup(click.Group):
    """A click group that maps compiler errors and bugs to exit codes for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CompileError as exc:
            print_diagnostics(exc.diagnostics)
            ctx.exit(EXIT_ERROR)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("chainc: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            from chainc.driver import InternalError

            if isinstance(exc, InternalError):
                internal_error(exc.stage, exc.exc)
            else:
                internal_error(ctx.invoked_subcommand or "chainc", exc)
            ctx.exit(EXIT_INTERNAL)


# ---------------------------------------------------------------- shared options


def nf_path_option(f):
    """`--nf-path DIR` (repeatable) on a command that resolves NFs."""
    return click.option(
        "--nf-path", "nf_path", multiple=True, metavar="DIR",
        type=click.Path(file_okay=False, exists=True), help="Also load NFs from DIR (repeatable).")(f)


def load_registry(ctx: click.Context, nf_path: Sequence[str] = ()) -> Any:
    """The NF registry for a command: the standard NFs plus every --nf-path."""
    from chainc.driver import load_registry as load

    group = ctx.find_root().params.get("nf_path") or ()
    return load([*group, *nf_path])


# ---------------------------------------------------------------- the group

EPILOG = """\b
Examples:
  chainc check examples/edge.chain        check a chain, report every error
  chainc graph examples/edge.chain        list its ports, NFs and edges
  chainc graph --json examples/edge.chain the same as JSON, for tools
  chainc fmt examples/*.chain             rewrite files in the canonical layout
  chainc fmt --check --diff edge.chain    show what fmt would change; exit 1 if any
  chainc nfs                              the NFs you can use
  chainc doc Classifier                   one NF's parameters, ports and example
  chainc viz examples/edge.chain -o e.svg draw it (.svg .png .pdf .dot .html)
  chainc show --plan examples/edge.chain  the chain as text, NFs grouped by core
  chainc plan examples/edge.chain         stages, cores, rings, RSS, predicted Mpps, and why
  chainc top stats.json                   live per-NF rates of a running binary

Exit status: 0 ok, 1 errors in the input, 2 bad command line, 3 a bug in chainc.
The language is described in docs/language.md.
"""


@click.group(cls=ChaincGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chainc")
@click.option("--nf-path", "nf_path", multiple=True, metavar="DIR", envvar="CHAINC_NF_PATH",
              type=click.Path(file_okay=False, exists=True),
              help="Also load NFs from DIR, for every command (repeatable; "
                   "env CHAINC_NF_PATH, separated by ':').")
def main(nf_path: tuple[str, ...]) -> None:
    """chainc: compile declarative service chains of network functions.

    A .chain file describes a graph of NFs (firewall, NAT, load balancer,
    IDS, ...) between ports. chainc checks it, and builds, runs or simulates it.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except Exception:  # not a text stream we can change (tests capture output)
                pass


# ---------------------------------------------------------------- commands


@main.command(epilog="""\b
Examples:
  chainc check examples/edge.chain
  chainc check examples/*.chain --nf-path my_nfs/
""")
@nf_path_option
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.pass_context
def check(ctx: click.Context, files: tuple[str, ...], nf_path: tuple[str, ...]) -> None:
    """Check .chain files and report every error (and warning) they have.

    Prints `FILE: ok (N NFs, M edges)` for each file without errors. Errors
    are printed as `file:line:col: error: ...` with the line and a caret.
    """
    gc.disable()  # a short run that frees little: the collector would only cost time
    from chainc.driver import check_file

    registry = load_registry(ctx, nf_path)
    failed = False
    for path in files:
        outcome = check_file(path, registry)
        print_diagnostics(outcome.diagnostics)
        if outcome.ok:
            click.echo(outcome.summary())
        else:
            failed = True
    if failed:
        ctx.exit(EXIT_ERROR)


@main.command(epilog="""\b
Examples:
  chainc graph examples/edge.chain
  chainc graph --json examples/edge.chain > edge.json
""")
@nf_path_option
@click.option("--json", "as_json", is_flag=True, help="Print the graph as JSON.")
@click.argument("file")
@click.pass_context
def graph(ctx: click.Context, file: str, as_json: bool, nf_path: tuple[str, ...]) -> None:
    """Print the NF graph of a chain: ports, NFs (with every parameter) and edges.

    Sub-chains are expanded: an NF inside instance `s` is listed as `s/name`.
    With --json: {"nodes": [...], "edges": [...], "ports": {...}}.
    """
    gc.disable()
    from chainc.driver import load_chain
    from chainc.ir.export import graph_to_json, graph_to_text

    result = load_chain(file, registry=load_registry(ctx, nf_path))
    print_diagnostics(result.warnings)
    if as_json:
        click.echo(json.dumps(graph_to_json(result.graph), indent=2))
    else:
        click.echo(graph_to_text(result.graph), nl=False)


@main.command(epilog="""\b
Examples:
  chainc fmt examples/edge.chain          rewrite it in place
  chainc fmt --check examples/*.chain     exit 1 if any file is not formatted
  chainc fmt --diff edge.chain            print the changes, write nothing
  cat x.chain | chainc fmt -              format stdin to stdout
""")
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 if a file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print a unified diff.")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.pass_context
def fmt(ctx: click.Context, files: tuple[str, ...], check_only: bool, show_diff: bool) -> None:
    """Rewrite .chain files in the canonical layout, keeping every comment.

    One statement per line, 4-space indents, aligned block entries, at most
    one blank line in a row; literals are kept as written. FILE `-` formats
    standard input to standard output.
    """
    from chainc.driver import format_file_text, read_text

    changed = False
    errors: list[Diagnostic] = []
    for path in files:
        try:
            if path == "-":
                raw = sys.stdin.buffer.read()
                text = raw.decode("utf-8", errors="replace")
                new = format_file_text(text, "<stdin>")
                if not check_only and not show_diff:
                    click.echo(new, nl=False)
                    continue
            else:
                text = read_text(path)
                new = format_file_text(text, path)
        except CompileError as exc:
            errors.extend(exc.diagnostics)
            continue
        if new == text:
            continue
        changed = True
        if show_diff:
            diff = difflib.unified_diff(text.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=path, tofile=f"{path} (formatted)")
            click.echo("".join(_clean(line) for line in diff), nl=False)
        if check_only:
            click.echo(f"{path}: would be reformatted", err=True)
        elif not show_diff:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
            click.echo(f"{path}: reformatted", err=True)
    if errors:
        print_diagnostics(errors)
        ctx.exit(EXIT_ERROR)
    if changed and check_only:
        ctx.exit(EXIT_ERROR)


@main.command()
@nf_path_option
@click.pass_context
def nfs(ctx: click.Context, nf_path: tuple[str, ...]) -> None:
    """List the NFs you can use: the standard library and --nf-path folders."""
    from chainc.nfs.docs import render_list

    click.echo(render_list(load_registry(ctx, nf_path)), nl=False)


@main.command(epilog="""\b
Examples:
  chainc doc Classifier
  chainc doc MyNf --nf-path my_nfs/
""")
@nf_path_option
@click.argument("name")
@click.pass_context
def doc(ctx: click.Context, name: str, nf_path: tuple[str, ...]) -> None:
    """Show one NF's documentation: parameters, ports, behaviour, an example."""
    from chainc.nfs.docs import render_doc

    registry = load_registry(ctx, nf_path)
    spec = registry.get(name)
    if spec is None:
        hint = did_you_mean(name, registry.names()) or "`chainc nfs` lists every NF"
        click.echo(f"chainc: error: unknown NF '{name}'\nhint: {hint}", err=True)
        ctx.exit(EXIT_ERROR)
    click.echo(render_doc(spec).rstrip("\n"))


# ---------------------------------------------------------------- commands defined elsewhere

def _add_native_commands() -> None:
    """build, run and sim live in chainc.cli_native, verify in chainc.cli_verify, plan
    and profile in chainc.cli_plan (they import this module)."""
    from chainc import cli_native, cli_plan, cli_verify

    for command in (cli_native.build, cli_native.run, cli_native.sim, cli_verify.verify,
                    cli_plan.plan, cli_plan.profile):
        main.add_command(command)


_add_native_commands()


def _add_viz_commands() -> None:
    """viz, show and top live in chainc.cli_viz (it imports this module)."""
    from chainc import cli_viz

    for command in (cli_viz.viz, cli_viz.show, cli_viz.top):
        main.add_command(command)


_add_viz_commands()
