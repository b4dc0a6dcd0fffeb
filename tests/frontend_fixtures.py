"""Helpers for the front-end tests: a small fake NF registry and loaders.

The fake NFs mirror the shapes of the standard library (one output, no
output, two outputs, outputs from a block, two inputs, required and typed
parameters, a validate hook that points inside a string) without depending
on it, so parser and resolver tests stay independent of the NF library.
"""

from __future__ import annotations

from pathlib import Path

from chainc.diagnostics import CompileError
from chainc.driver import load_text
from chainc.nfs.registry import Registry
from chainc.nfs.spec import REQUIRED, NfSpec, ParamSpec
from chainc.syntax import string_span
from chainc.values import (BOOL, DURATION, INT, IP, IPV4, MATCH, PATH, RANGE, RATE, SIZE, STRING,
                           WILDCARD, Block, BlockOf, Enum, ListOf, Size)


def _arms(params):
    block = params.get("arms")
    return tuple(block.keys()) if isinstance(block, Block) else ()


def _validate_classifier(node, reporter):
    """A stand-in for the real match validation: the word `bad` is an error."""
    for entry in node.params["arms"].entries:
        if entry.value is WILDCARD:
            continue
        at = entry.value.find("bad")
        if at >= 0:
            reporter.error(f"bad match expression in arm '{entry.key}'",
                           string_span(entry.value_span, at, at + 3))


def _validate_counter(node, reporter):
    node.params.setdefault("_validated", True)


SPECS = [
    NfSpec("Counter", "Count packets.", validate=_validate_counter),
    NfSpec("MacSwap", "Swap MACs."),
    NfSpec("Drop", "Drop everything.", outputs=()),
    NfSpec("Tee", "Copy packets.", params=(ParamSpec("snaplen", INT, 0),), outputs=("out", "copy")),
    NfSpec("Classifier", "Classify.", params=(ParamSpec("arms", BlockOf(MATCH, wildcard=True)),),
           outputs=(), outputs_from=_arms, block_param="arms", validate=_validate_classifier),
    NfSpec("NAT", "NAT.", params=(ParamSpec("external", IPV4, REQUIRED),
                                  ParamSpec("ports", RANGE, None)),
           inputs=("inside", "outside"), outputs=("inside", "outside")),
    NfSpec("RateLimiter", "Police.", params=(ParamSpec("rate", RATE, REQUIRED),
                                             ParamSpec("burst", SIZE, Size(65536, "64KiB")))),
    NfSpec("Firewall", "ACL.", params=(ParamSpec("rules", PATH, REQUIRED),
                                       ParamSpec("default", Enum("allow", "deny"), "deny"))),
    NfSpec("LoadBalancer", "LB.", params=(ParamSpec("vip", IP, REQUIRED),
                                          ParamSpec("backends", ListOf(IP, 1), REQUIRED))),
    NfSpec("Timer", "Timeouts.", params=(ParamSpec("idle", DURATION, None),
                                         ParamSpec("name", STRING, ""),
                                         ParamSpec("on", BOOL, True))),
]


def fake_registry() -> Registry:
    return Registry(SPECS)


def load(text: str, path: str = "test.chain", directory: str | Path = ".", registry=None):
    """load_text with the fake registry; returns the LoadResult."""
    return load_text(text, path, registry=registry if registry is not None else fake_registry(), directory=str(directory))


def errors(text: str, path: str = "test.chain", directory: str | Path = ".", registry=None) -> str:
    """Every diagnostic of a text that must fail, rendered."""
    try:
        load(text, path, directory, registry)
    except CompileError as exc:
        return "\n".join(d.render() for d in exc.diagnostics)
    raise AssertionError("expected errors, but the chain compiled")


def edges(graph) -> set[tuple[str, str, str, str]]:
    return {(e.src, e.out_port, e.dst, e.in_port) for e in graph.edges()}
