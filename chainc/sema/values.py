"""Evaluating value expressions: literals, constants, sub-chain parameters.

A value is carried as a `Val`: the Python value plus two spans. `origin` is
the literal the value was written as (inside a `const`, or at a sub-chain's
instantiation); `use` is where this expression names it. NF validate hooks
get `origin` (through NfNode.param_spans and BlockEntry.value_span) so they
can point inside the string; type errors point at `use`, with a note at
`origin` when the two differ.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chainc.diagnostics import Note, Reporter, did_you_mean
from chainc.sema.modules import Module
from chainc.source import Span
from chainc.syntax import ast
from chainc.values import (ANY, BOOL, DURATION, FLOAT, INT, IP, IPV4, IPV6, MAC, MATCH, PATH,
                           PREFIX, RANGE, RATE, SIZE, STRING, WILDCARD, Block, BlockEntry, ListOf,
                           ParamType, Symbol, TypeMismatch, describe)

# The parameter types a sub-chain header may name: `chain S(limit: rate)`.
TYPE_NAMES: dict[str, ParamType] = {
    "int": INT, "float": FLOAT, "bool": BOOL, "string": STRING, "path": PATH, "ip": IP,
    "ipv4": IPV4, "ipv6": IPV6, "prefix": PREFIX, "mac": MAC, "range": RANGE, "rate": RATE,
    "duration": DURATION, "size": SIZE, "match": MATCH, "list": ListOf(ANY),
}


class _Unknown:
    """The value of a sub-chain parameter while the sub-chain is checked on its own."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclass
class Val:
    value: Any
    origin: Span | None
    use: Span
    poisoned: bool = False  # an error was reported: check nothing more about it
    unknown: bool = False  # contains UNKNOWN
    items: tuple["Val", ...] | None = None  # the items of a list, for precise error spans

    @property
    def usable(self) -> bool:
        return not self.poisoned and not self.unknown


@dataclass
class Env:
    """The names a value expression can see."""

    module: Module
    params: dict[str, Val] = field(default_factory=dict)
    consts: dict[str, ast.Const] = field(default_factory=dict)  # local to a sub-chain body
    local_cache: dict[str, Val] = field(default_factory=dict)

    def value_names(self) -> list[str]:
        return [*self.params, *self.consts, *self.module.consts()]


class Evaluator:
    """Evaluates expressions; constants are evaluated once, on first use."""

    def __init__(self, reporter: Reporter):
        self.reporter = reporter
        self._cache: dict[tuple[int, str], Val] = {}
        self._active: list[tuple[int, str]] = []

    def eval(self, expr: ast.Expr, env: Env, wildcard: bool = False) -> Val:
        if isinstance(expr, ast.Literal):
            return Val(expr.value, expr.span, expr.span, poisoned=expr.value is None)
        if isinstance(expr, ast.NameRef):
            return self._name(expr, env)
        if isinstance(expr, ast.WildcardExpr):
            if not wildcard:
                self.reporter.error("`*` can only be the value of a block entry", expr.span,
                                    hint="use it as the last arm of a Classifier: `other : *`")
                return Val(None, expr.span, expr.span, poisoned=True)
            return Val(WILDCARD, expr.span, expr.span)
        if isinstance(expr, ast.ListExpr):
            items = tuple(self.eval(i, env) for i in expr.items)
            return Val(tuple(i.value for i in items), expr.span, expr.span,
                       poisoned=any(i.poisoned for i in items),
                       unknown=any(i.unknown for i in items), items=items)
        if isinstance(expr, ast.BlockExpr):
            return self._block(expr, env)
        raise TypeError(f"not an expression: {expr!r}")

    def _block(self, expr: ast.BlockExpr, env: Env) -> Val:
        entries = []
        poisoned = unknown = False
        seen: dict[str, Span] = {}
        for e in expr.entries:
            v = self.eval(e.value, env, wildcard=True)
            poisoned |= v.poisoned
            unknown |= v.unknown
            if e.key in seen:
                self.reporter.error(f"'{e.key}' appears twice in this block", e.key_span,
                                    notes=[Note(f"'{e.key}' is first given here", seen[e.key])])
                poisoned = True
                continue
            seen[e.key] = e.key_span
            entries.append(BlockEntry(e.key, v.value, e.key_span, v.origin or v.use))
        return Val(Block(tuple(entries)), expr.span, expr.span, poisoned=poisoned, unknown=unknown)

    def _name(self, ref: ast.NameRef, env: Env) -> Val:
        name = ref.name
        if name in env.params:
            return replace(env.params[name], use=ref.span)
        if name in env.consts:
            key = (id(env), name)
            return self._const(key, env.consts[name], env, ref, local=True)
        definition = env.module.names.get(name)
        if definition is not None:
            if isinstance(definition.node, ast.Const):
                key = (id(definition.module), name)
                return self._const(key, definition.node, Env(definition.module), ref)
            self.reporter.error(f"'{name}' is a sub-chain, not a value", ref.span)
            return Val(None, ref.span, ref.span, poisoned=True)
        if name in env.module.broken or "*" in env.module.broken:
            return Val(None, ref.span, ref.span, poisoned=True)
        return Val(Symbol(name), ref.span, ref.span)

    def _const(self, key: tuple[int, str], const: ast.Const, env: Env, ref: ast.NameRef,
               local: bool = False) -> Val:
        cache = env.local_cache if local else self._cache
        if key in cache:
            return replace(cache[key], use=ref.span)
        if key in self._active:
            self.reporter.error(f"constant '{const.name}' is defined in terms of itself", ref.span)
            return Val(None, ref.span, ref.span, poisoned=True)
        self._active.append(key)
        try:
            val = self.eval(const.value, env)
        finally:
            self._active.pop()
        cache[key] = val
        return replace(val, use=ref.span)


# ---------------------------------------------------------------- coercion


class Bad:
    """The result of a failed coercion (the error has been reported)."""


BAD = Bad()


def coerce(reporter: Reporter, ptype: ParamType, val: Val, what: str, env: Env | None,
           dirs: dict[int, Path]) -> Any:
    """`val` converted to `ptype`, or BAD after reporting why not.

    `what` names the parameter in messages ("'rate' of RateLimiter"). PATH
    values are made absolute, relative to the file the literal is in.
    """
    if val.poisoned:
        return BAD
    if val.unknown:
        return UNKNOWN
    try:
        value = ptype.accept(val.value)
    except TypeMismatch as exc:
        span = val.use
        item_type = getattr(ptype, "item", None)
        if val.items and item_type is not None:
            for item in val.items:
                try:
                    item_type.accept(item.value)
                except TypeMismatch:
                    span = item.use
                    break
        if isinstance(val.value, Block) and getattr(ptype, "value", None) is not None:
            for entry in val.value.entries:  # point at the entry that does not fit
                if entry.value is WILDCARD:
                    continue
                try:
                    ptype.value.accept(entry.value)  # type: ignore[attr-defined]
                except TypeMismatch:
                    span = entry.value_span or span
                    break
        notes = []
        if val.origin is not None and val.origin != val.use and span is val.use:
            notes.append(Note("the value comes from here", val.origin))
        hint = None
        if isinstance(val.value, Symbol):
            hint = did_you_mean(val.value.name, env.value_names() if env is not None else [])
            if hint is None and ptype.name in ("string", "path", "match"):
                hint = f'strings are written in double quotes: "{val.value.name}"'
        reporter.error(f"bad value for {what}: {exc}", span, hint=hint, notes=notes)
        return BAD
    return resolve_paths(ptype, value, val, dirs)


def resolve_paths(ptype: ParamType, value: Any, val: Val, dirs: dict[int, Path]) -> Any:
    """Make PATH values absolute, relative to the directory of their literal's file."""
    if ptype is PATH and isinstance(value, str):
        return _absolute(value, val.origin, dirs)
    item_type = getattr(ptype, "item", None)
    if item_type is PATH and isinstance(value, tuple):
        items = val.items or ()
        return tuple(_absolute(v, items[i].origin if i < len(items) else val.origin, dirs)
                     if isinstance(v, str) else v for i, v in enumerate(value))
    return value


def _absolute(path: str, origin: Span | None, dirs: dict[int, Path]) -> str:
    if not path:
        return path
    base = dirs.get(id(origin.file)) if origin is not None else None
    base = base or Path.cwd()
    return os.path.normpath(os.path.join(str(base), os.path.expanduser(path)))


def type_hint_for(ptype: ParamType) -> str:
    """An example value of a parameter type, for `missing parameter` hints."""
    examples = {"int": "1", "float": "0.5", "bool": "true", "string": '"text"', "path": '"file"',
                "match": '"tcp dst port 80"', "ip": "10.0.0.1", "ipv4": "10.0.0.1",
                "ipv6": "2001:db8::1", "prefix": "10.0.0.0/8", "mac": "02:00:00:00:00:01",
                "range": "1024..65535", "rate": "10Gbps", "duration": "30s", "size": "64KiB"}
    if ptype.name in examples:
        return examples[ptype.name]
    item = getattr(ptype, "item", None)
    if item is not None:
        return f"[{examples.get(item.name, '...')}]"
    choices = getattr(ptype, "choices", None)
    if choices:
        return str(choices[0])
    return "..."


__all__ = ["Val", "Env", "Evaluator", "coerce", "BAD", "UNKNOWN", "TYPE_NAMES", "describe"]
