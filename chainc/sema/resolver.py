"""Resolve: from a parsed file (and what it imports) to a ChainGraph.

The resolver gives every name its meaning and every value its type:
ports become PORT_IN/PORT_OUT nodes (`wan.rx` where packets come in, `wan.tx`
where they leave), NF declarations and inline NFs become NF nodes with typed
parameters (coerced by the spec's ParamTypes, defaults filled in), sub-chain
instances are expanded in place (inner nodes are `<instance>/<inner>`, with
NfNode.scope naming the instances), and each `a -> b` becomes an edge from an
output port to an input port.

Errors are reported and resolution goes on, so one run reports them all. A
node whose error explains why it is not connected is recorded in
`Suppressed`, and verify does not report it again.

Sub-chains are expanded with placeholder nodes for their boundaries (`in`,
`in.NAME`, `out`, `out.NAME`), which are spliced out at the end: an edge into
a boundary and the edge out of it become one edge. Every sub-chain definition
is also checked on its own (with unknown parameter values), so a library's
mistakes are found even where nothing instantiates them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from chainc.diagnostics import Note, Reporter, did_you_mean
from chainc.ir.graph import ChainGraph, Edge, NfNode, NodeKind, PortBinding
from chainc.ir.verify import Suppressed, verify
from chainc.nfs.spec import NfSpec
from chainc.sema.modules import Definition, Module, ModuleLoader
from chainc.sema.values import (BAD, TYPE_NAMES, UNKNOWN, Env, Evaluator, Val, coerce,
                                type_hint_for)
from chainc.source import Span
from chainc.syntax import ast
from chainc.values import INT, PATH, STRING, ParamType

RESERVED = ("in", "out", "drop")
MAX_DEPTH = 32  # sub-chains within sub-chains
MAX_NODES = 20_000  # NFs made, sub-chains expanded; far beyond any real chain


class TooLarge(Exception):
    pass


# ---------------------------------------------------------------- port drivers


@dataclass(frozen=True)
class Driver:
    positional: tuple[str, ...]  # names of positional arguments, in order
    params: dict[str, ParamType]
    required: tuple[str, ...] = ()
    doc: str = ""


DRIVERS: dict[str, Driver] = {
    "pcap": Driver(("in",), {"in": PATH, "out": PATH},
                   doc='pcap files: pcap("in.pcap"), pcap(out: "out.pcap"), pcap(in: ..., out: ...)'),
    "null": Driver((), {}, doc="null(): receives nothing, discards what it sends"),
    "ring": Driver(("name",), {"name": STRING}, doc="ring(): an in-memory ring (net_ring)"),
    "tap": Driver(("iface",), {"iface": STRING}, ("iface",), doc='tap("tap0"): a kernel TAP device'),
    "af_packet": Driver(("iface",), {"iface": STRING}, ("iface",),
                        doc='af_packet("eth0"): a kernel interface through AF_PACKET'),
    "pci": Driver(("address",), {"address": STRING}, ("address",),
                  doc='pci("0000:01:00.0"): a NIC bound to DPDK'),
    "vdev": Driver(("devargs",), {"devargs": STRING}, ("devargs",),
                   doc='vdev("net_ring0"): any DPDK virtual device'),
}

_PCI = re.compile(r"^(?:[0-9A-Fa-f]{4}:)?[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]$")


# ---------------------------------------------------------------- endpoints


@dataclass
class Instance:
    """A sub-chain instance: its boundary placeholder nodes, by port name."""

    label: str
    id: str
    chain: ast.ChainDef
    span: Span
    inputs: dict[str, str] = field(default_factory=dict)  # input name -> boundary node id
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Item:
    """What an endpoint of a connection refers to.

    `outs`/`ins` map a port name to (node id, port key in the graph). A broken
    item (an error was already reported) has neither and connects nothing.
    """

    label: str
    kind: str  # nf, instance, port, drop, in, out, broken
    span: Span
    outs: dict[str, tuple[str, str]] = field(default_factory=dict)
    ins: dict[str, tuple[str, str]] = field(default_factory=dict)
    any_outs: bool = False  # outputs unknown (an error was reported): accept any name
    node: str | None = None
    instance: Instance | None = None


@dataclass
class Scope:
    """One body of statements: the file's top level, or one sub-chain instance."""

    prefix: str  # node id prefix: "" or "scrub/"
    path: tuple[str, ...]  # NfNode.scope of nodes made here
    env: Env
    instance: Instance | None = None
    names: dict[str, Item] = field(default_factory=dict)
    decl_spans: dict[str, Span] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)
    hints: dict[str, tuple[int, Span]] = field(default_factory=dict)  # inherited placement
    unknown_reported: set[str] = field(default_factory=set)
    outer: "Scope | None" = None  # the file's top level, seen from inside a sub-chain

    @property
    def top(self) -> bool:
        return self.instance is None


@dataclass
class ResolveResult:
    graph: ChainGraph
    suppressed: Suppressed


class Resolver:
    """Builds the ChainGraph of one main module."""

    def __init__(self, registry: Any, reporter: Reporter, loader: ModuleLoader):
        self.registry = registry
        self.reporter = reporter
        self.loader = loader
        self.evaluator = Evaluator(reporter)
        self.graph = ChainGraph("chain")
        self.suppressed = Suppressed()
        self.boundaries: dict[str, tuple[str, str]] = {}  # node id -> ("in"|"out", port name)
        self.labels: dict[str, str] = {}
        self.lazy: dict[str, Callable[[], NfNode]] = {}
        self.used: dict[tuple[str, str], Edge] = {}  # (node, output) -> its edge
        self.expanding: list[ast.ChainDef] = []
        self.checked_defs: set[int] = set()
        self.reported_cycles: set[frozenset[str]] = set()
        self.scratch = False
        self.made = 0

    # ------------------------------------------------------------ entry point
    def resolve(self, module: Module) -> ResolveResult:
        stem = os.path.splitext(os.path.basename(module.display))[0] or "chain"
        self.graph = ChainGraph(stem, module.display)
        scope = Scope("", (), Env(module))
        try:
            self._body(module.program.stmts, scope)
            for word in module.program.broken_words:
                item = scope.names.get(word)
                if item is not None:  # perhaps connected by the statement that did not parse
                    self._taint(item, reach=True, outputs=True)
                    if item.kind == "port":
                        self.suppressed.ports.add(word)
            for m in list(self.loader.modules.values()):
                for stmt in m.program.stmts:
                    if isinstance(stmt, ast.ChainDef) and m.names.get(stmt.name) is not None \
                            and m.names[stmt.name].node is stmt:
                        self._check_chain_def(Definition(stmt, m))
        except TooLarge:
            self.reporter.error(f"this chain expands to more than {MAX_NODES} NFs",
                                file=module.display,
                                hint="look for sub-chains that instantiate each other many times")
        self._splice()
        return ResolveResult(self.graph, self.suppressed)

    # ------------------------------------------------------------ bodies
    def _body(self, stmts: list[ast.Stmt], scope: Scope) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.Import):
                if not scope.top:
                    self.reporter.error("`import` is only allowed at the top of a file", stmt.span)
            elif isinstance(stmt, ast.Const):
                if scope.top:
                    self._check_top_name(stmt.name, stmt.name_span, scope, const=True)
                else:
                    self._declare_local_const(stmt, scope)
            elif isinstance(stmt, ast.ChainDef):
                if scope.top:
                    self._check_top_name(stmt.name, stmt.name_span, scope, const=True)
                else:
                    self.reporter.error("a sub-chain cannot be defined inside another one",
                                        stmt.name_span, hint="define it at the top level of a file")
            elif isinstance(stmt, ast.PortDecl):
                if scope.top:
                    self._declare_port(stmt, scope)
                else:
                    self.reporter.error(
                        "ports can only be declared at the top level of a file", stmt.span,
                        hint="a sub-chain receives packets through `in` and sends them through `out`")
            elif isinstance(stmt, ast.NfDecl):
                self._declare_nf(stmt, scope)
        for stmt in stmts:
            if isinstance(stmt, ast.Connection):
                self._connection(stmt, scope)
        for inst in scope.instances:
            self._check_instance(inst, scope)

    def _check_top_name(self, name: str, span: Span, scope: Scope, const: bool = False) -> bool:
        """Top-level names share one namespace: constants, sub-chains, ports, NFs."""
        if name in RESERVED:
            self.reporter.error(f"'{name}' is a reserved name", span,
                                hint="`in`, `out` and `drop` have a fixed meaning in connections")
            return False
        if const:
            return True  # duplicates among constants and sub-chains: reported by the loader
        definition = scope.env.module.names.get(name)
        first = scope.decl_spans.get(name) or (definition.span if definition else None)
        if first is not None:
            self.reporter.error(f"'{name}' is already defined", span,
                                notes=[Note(f"'{name}' was first defined here", first)])
            return False
        return True

    def _declare_name(self, name: str, span: Span, scope: Scope) -> bool:
        if scope.top:
            if not self._check_top_name(name, span, scope):
                return False
        else:
            if name in RESERVED:
                self.reporter.error(f"'{name}' is a reserved name", span,
                                    hint="`in`, `out` and `drop` have a fixed meaning in connections")
                return False
            first = scope.decl_spans.get(name)
            if first is None and name in scope.env.params:
                first = scope.env.params[name].use
            if first is not None:
                self.reporter.error(f"'{name}' is already defined", span,
                                    notes=[Note(f"'{name}' was first defined here", first)])
                return False
        scope.decl_spans[name] = span
        return True

    def _declare_local_const(self, stmt: ast.Const, scope: Scope) -> None:
        if not self._declare_name(stmt.name, stmt.name_span, scope):
            return
        scope.env.consts[stmt.name] = stmt

    # ------------------------------------------------------------ ports
    def _declare_port(self, stmt: ast.PortDecl, scope: Scope) -> None:
        ok = self._declare_name(stmt.name, stmt.name_span, scope)
        binding = self._binding(stmt, scope)
        if not ok:
            return
        name = stmt.name
        if binding is not None:
            self.graph.port_bindings[name] = binding
        rx, tx = f"{name}.rx", f"{name}.tx"
        self.labels[rx] = self.labels[tx] = name
        self.lazy[rx] = lambda: NfNode(rx, NodeKind.PORT_IN, stmt.name_span, inputs=(),
                                       outputs=("out",), port=name, binding=binding)
        self.lazy[tx] = lambda: NfNode(tx, NodeKind.PORT_OUT, stmt.name_span, inputs=("in",),
                                       outputs=(), port=name, binding=binding)
        scope.names[name] = Item(name, "port", stmt.name_span, outs={"out": (rx, "out")},
                                 ins={"in": (tx, "in")})

    def _binding(self, stmt: ast.PortDecl, scope: Scope) -> PortBinding | None:
        driver = DRIVERS.get(stmt.driver)
        if driver is None:
            hint = did_you_mean(stmt.driver, DRIVERS) or f"drivers are: {', '.join(DRIVERS)}"
            self.reporter.error(f"unknown port driver '{stmt.driver}'", stmt.driver_span, hint=hint)
            return None
        args: dict[str, Any] = {}
        ok = True
        positional = list(driver.positional)
        for arg in stmt.args:
            name = arg.name
            if name is None:
                if not positional:
                    self.reporter.error(f"too many arguments for {stmt.driver}()", arg.span,
                                        hint=driver.doc)
                    ok = False
                    continue
                name = positional.pop(0)
            elif name in positional:
                positional.remove(name)
            if name not in driver.params:
                hint = did_you_mean(name, driver.params) or driver.doc
                self.reporter.error(f"{stmt.driver}() has no argument '{name}'",
                                    arg.name_span or arg.span, hint=hint)
                ok = False
                continue
            if name in args:
                self.reporter.error(f"argument '{name}' is given twice", arg.name_span or arg.span)
                ok = False
                continue
            val = self.evaluator.eval(arg.value, scope.env)
            value = coerce(self.reporter, driver.params[name], val, f"'{name}' of {stmt.driver}()",
                           scope.env, self.loader.dirs)
            if value is BAD or value is UNKNOWN:
                ok = False
                continue
            if stmt.driver == "pci" and not _PCI.match(value):
                self.reporter.error(f"'{value}' is not a PCI address", val.origin or val.use,
                                    hint='write it as DOMAIN:BUS:DEVICE.FUNCTION, e.g. "0000:01:00.0"')
                ok = False
                continue
            args[name] = value
        for name in driver.required:
            if name not in args and ok:
                self.reporter.error(f"{stmt.driver}() needs an argument ('{name}')", stmt.span,
                                    hint=driver.doc)
                ok = False
        if stmt.driver == "pcap" and ok and not args:
            self.reporter.error("pcap() needs an input file, an output file, or both", stmt.span,
                                hint=driver.doc)
            ok = False
        return PortBinding(stmt.driver, args, stmt.span) if ok else None

    # ------------------------------------------------------------ NF declarations
    def _declare_nf(self, stmt: ast.NfDecl, scope: Scope) -> None:
        ok = self._declare_name(stmt.name, stmt.name_span, scope)
        item = self._instantiate(stmt.call, scope, stmt.name if ok else None, stmt.name_span)
        if ok:
            scope.names[stmt.name] = item
        else:
            self._taint(item, reach=True, outputs=True)  # the name error says it all

    def _instantiate(self, call: ast.Call, scope: Scope, name: str | None,
                     name_span: Span | None) -> Item:
        """An NF node or a sub-chain instance for `Type(args) {block} @hints`."""
        if name is None:
            n = scope.counters.get(call.type, 0) + 1
            scope.counters[call.type] = n
            name = f"{call.type}#{n}"
            span = call.span
        else:
            span = name_span or call.span
        self.made += 1  # counted over the chain and the checks of its sub-chains
        if self.made > MAX_NODES:
            raise TooLarge()
        module = scope.env.module
        definition = module.names.get(call.type)
        if definition is not None and isinstance(definition.node, ast.ChainDef):
            return self._expand(definition, call, scope, name, span)
        spec = self.registry.get(call.type)
        if spec is not None:
            return self._make_nf(spec, call, scope, name, span)
        if definition is not None:  # a constant
            self.reporter.error(f"'{call.type}' is a constant, not an NF type", call.type_span)
        elif call.type in module.broken or "*" in module.broken or module.incomplete:
            pass  # its definition did not parse, or an import failed: that error is enough
        else:
            candidates = [*self.registry.names(), *module.chains()]
            hint = did_you_mean(call.type, candidates)
            if hint is None and call.type in scope.names:
                hint = f"'{call.type}' is an NF already declared; connect it by name: `-> {call.type}`"
            if hint is None:
                hint = "`chainc nfs` lists the NF types"
            self.reporter.error(f"unknown NF type '{call.type}'", call.type_span, hint=hint)
        return Item(name, "broken", span)

    def _make_nf(self, spec: NfSpec, call: ast.Call, scope: Scope, name: str, span: Span) -> Item:
        node_id = scope.prefix + name
        what = spec.name
        given: dict[str, tuple[Val, Span]] = {}
        errors = False
        for arg in call.args or []:
            if arg.name is None:
                first = spec.params[0].name if spec.params else None
                hint = (f"write `{first}: ...`" if first else f"{spec.name} takes no parameters")
                self.reporter.error(f"parameters of {spec.name} are named", arg.span, hint=hint)
                errors = True
                continue
            if arg.name in given:
                self.reporter.error(f"parameter '{arg.name}' is given twice", arg.name_span,
                                    notes=[Note("first given here", given[arg.name][1])])
                errors = True
                continue
            given[arg.name] = (self.evaluator.eval(arg.value, scope.env), arg.name_span or arg.span)
        if call.block is not None:
            if spec.block_param is None:
                self.reporter.error(f"{spec.name} takes no `{{ ... }}` block", call.block.span)
                errors = True
            elif spec.block_param in given:
                self.reporter.error(f"'{spec.block_param}' of {spec.name} is given twice: as a "
                                    f"parameter and as the block", call.block.span,
                                    notes=[Note("given here", given[spec.block_param][1])])
                errors = True
            else:
                given[spec.block_param] = (self.evaluator.eval(call.block, scope.env), call.block.span)
        params: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        unknown_values = False
        meant: set[str] = set()  # parameters a misspelt name was probably meant to be
        for pname, (val, pspan) in given.items():
            pspec = spec.param(pname)
            if pspec is None:
                names = [p.name for p in spec.params]
                hint = did_you_mean(pname, names)
                if hint is not None:
                    meant.add(hint.split("'")[1])
                if hint is None:
                    hint = (f"its parameters are: {', '.join(names)}" if names
                            else f"{spec.name} takes no parameters")
                self.reporter.error(f"{spec.name} has no parameter '{pname}'", pspan, hint=hint)
                errors = True
                continue
            value = coerce(self.reporter, pspec.type, val, f"'{pname}' of {what}", scope.env,
                           self.loader.dirs)
            if value is BAD:
                errors = True
                continue
            if value is UNKNOWN:
                unknown_values = True
            params[pname] = value
            spans[pname] = val.origin or val.use
        missing = [p for p in spec.params if p.required and p.name not in given]
        if missing:
            errors = True
            missing = [p for p in missing if p.name not in meant]
        if missing:
            names = ", ".join(f"'{p.name}'" for p in missing)
            plural = "s" if len(missing) > 1 else ""
            example = ", ".join(f"{p.name}: {type_hint_for(p.type)}" for p in missing)
            self.reporter.error(f"{spec.name} needs parameter{plural} {names}", call.span,
                                hint=f"add `{example}`")
        for p in spec.params:
            if p.name not in params and not p.required and p.name not in given:
                params[p.name] = p.default
        core, replicas, hint_spans = self._hints(call.hints, scope)
        node = NfNode(node_id, NodeKind.NF, span, spec=spec, params=params, param_spans=spans,
                      inputs=tuple(spec.inputs), outputs=tuple(spec.outputs), core=core,
                      replicas=replicas, hint_spans=hint_spans, scope=scope.path)
        self.graph.add(node)
        self.labels[node_id] = name
        any_outs = errors or unknown_values
        if not any_outs:
            mark = len(self.reporter.diagnostics)
            try:
                node.outputs = tuple(spec.output_ports(params))
            except Exception as exc:  # a broken outputs_from in a user's NF folder
                self.reporter.error(f"{spec.name}: cannot compute its outputs: "
                                    f"{type(exc).__name__}: {exc}", span)
                any_outs = True
            if not any_outs and not self.scratch and spec.validate is not None:
                spec.validate(node, self.reporter)
                if self.reporter.has_errors() and any(
                        d.severity.value == "error" for d in self.reporter.diagnostics[mark:]):
                    any_outs = True  # e.g. a missing route file: the outputs are unknown
        if any_outs:
            self.suppressed.outputs.add(node_id)
        item = Item(name, "nf", span, node=node_id, any_outs=any_outs)
        item.outs = {p: (node_id, p) for p in node.outputs}
        item.ins = {p: (node_id, p) for p in node.inputs}
        return item

    def _hints(self, hints: list[ast.Hint], scope: Scope) -> tuple[int | None, int | None, dict[str, Span]]:
        values: dict[str, int | None] = {"core": None, "replicas": None}
        spans: dict[str, Span] = {}
        for h in hints:
            if h.name not in values:
                hint = did_you_mean(h.name, values) or "placement hints are @core(N) and @replicas(N)"
                self.reporter.error(f"unknown placement hint '@{h.name}'", h.name_span, hint=hint)
                continue
            if h.name in spans:
                self.reporter.error(f"@{h.name} is given twice", h.span,
                                    notes=[Note("first given here", spans[h.name])])
                continue
            if len(h.args) != 1 or h.args[0].name is not None:
                self.reporter.error(f"@{h.name} takes one number, e.g. @{h.name}(2)", h.span)
                continue
            val = self.evaluator.eval(h.args[0].value, scope.env)
            value = coerce(self.reporter, INT, val, f"@{h.name}", scope.env, self.loader.dirs)
            if value is BAD or value is UNKNOWN:
                continue
            low = 0 if h.name == "core" else 1
            if value < low:
                self.reporter.error(f"@{h.name} must be at least {low}", val.use)
                continue
            values[h.name] = value
            spans[h.name] = h.span
        for key, (value, span) in scope.hints.items():
            if values[key] is None:
                values[key] = value
                spans[key] = span
        return values["core"], values["replicas"], spans

    # ------------------------------------------------------------ sub-chains
    def _expand(self, definition: Definition, call: ast.Call, scope: Scope, name: str,
                span: Span) -> Item:
        chain: ast.ChainDef = definition.node  # type: ignore[assignment]
        inst_id = scope.prefix + name
        if chain in self.expanding:
            cycle = [c.name for c in self.expanding[self.expanding.index(chain):]] + [chain.name]
            key = frozenset(cycle)
            if key in self.reported_cycles:
                return Item(name, "broken", span)
            self.reported_cycles.add(key)
            self.reporter.error(f"sub-chain '{chain.name}' contains itself: {' -> '.join(cycle)}",
                                call.type_span, hint="a sub-chain cannot instantiate itself, "
                                "directly or through other sub-chains")
            return Item(name, "broken", span)
        if len(self.expanding) >= MAX_DEPTH:
            self.reporter.error(f"sub-chains nested more than {MAX_DEPTH} deep", call.type_span)
            return Item(name, "broken", span)
        env = Env(definition.module)
        ok = self._bind_params(chain, call, scope, env)
        inst = Instance(name, inst_id, chain, span)
        self.graph.subchains[scope.path + (name,)] = chain.name
        inputs, outputs = boundaries(chain)
        for port in inputs:
            node_id = f"{inst_id}/@in.{port}"
            self.graph.add(NfNode(node_id, NodeKind.PORT_IN, span, inputs=(port,), outputs=("out",),
                                  scope=scope.path + (name,)))
            self.boundaries[node_id] = ("in", port)
            self.labels[node_id] = name if port == "in" else f"{name}.{port}"
            inst.inputs[port] = node_id
        for port in outputs:
            node_id = f"{inst_id}/@out.{port}"
            self.graph.add(NfNode(node_id, NodeKind.PORT_OUT, span, inputs=("in",), outputs=(port,),
                                  scope=scope.path + (name,)))
            self.boundaries[node_id] = ("out", port)
            self.labels[node_id] = name if port == "out" else f"{name}.{port}"
            inst.outputs[port] = node_id
        if call.block is not None:
            self.reporter.error(f"sub-chain '{chain.name}' takes no `{{ ... }}` block", call.block.span)
        inner = Scope(inst_id + "/", scope.path + (name,), env, instance=inst,
                      outer=scope if scope.top else scope.outer)
        core, replicas, hint_spans = self._hints(call.hints, scope)
        if core is not None:
            inner.hints["core"] = (core, hint_spans["core"])
        if replicas is not None:
            inner.hints["replicas"] = (replicas, hint_spans["replicas"])
        if ok:
            self.expanding.append(chain)
            try:
                self._body(chain.body, inner)
            finally:
                self.expanding.pop()
        else:
            # Parameters are wrong: the error says so; don't check the body with bad values.
            for node_id in [*inst.inputs.values(), *inst.outputs.values()]:
                self.suppressed.reach.add(node_id)
                self.suppressed.outputs.add(node_id)
        scope.instances.append(inst)
        item = Item(name, "instance", span, instance=inst)
        item.outs = {p: (n, p) for p, n in inst.outputs.items()}
        item.ins = {p: (n, p) for p, n in inst.inputs.items()}
        return item

    def _bind_params(self, chain: ast.ChainDef, call: ast.Call, scope: Scope, env: Env) -> bool:
        ok = True
        declared = {p.name: p for p in chain.params}
        seen: dict[str, Span] = {}
        meant: set[str] = set()
        for arg in call.args or []:
            if arg.name is None:
                first = chain.params[0].name if chain.params else None
                self.reporter.error(f"parameters of sub-chain '{chain.name}' are named", arg.span,
                                    hint=f"write `{first}: ...`" if first else
                                    f"'{chain.name}' takes no parameters")
                ok = False
                continue
            if arg.name in seen:
                self.reporter.error(f"parameter '{arg.name}' is given twice", arg.name_span,
                                    notes=[Note("first given here", seen[arg.name])])
                ok = False
                continue
            seen[arg.name] = arg.name_span or arg.span
            param = declared.get(arg.name)
            if param is None:
                close = did_you_mean(arg.name, declared)
                if close is not None:
                    meant.add(close.split("'")[1])
                hint = close or (
                    f"its parameters are: {', '.join(declared)}" if declared
                    else f"'{chain.name}' takes no parameters")
                self.reporter.error(f"sub-chain '{chain.name}' has no parameter '{arg.name}'",
                                    arg.name_span, hint=hint,
                                    notes=[Note(f"'{chain.name}' is defined here", chain.name_span)])
                ok = False
                continue
            ptype = TYPE_NAMES.get(param.type_name)
            val = self.evaluator.eval(arg.value, scope.env)
            if ptype is None:  # reported at the definition
                ok = False
                continue
            value = coerce(self.reporter, ptype, val, f"'{arg.name}' of {chain.name}", scope.env,
                           self.loader.dirs)
            if value is BAD:
                ok = False
                continue
            env.params[arg.name] = Val(value, val.origin, val.use, unknown=value is UNKNOWN,
                                       items=val.items)
        missing = [p for p in chain.params if p.name not in seen and p.default is None]
        if missing:
            ok = False
            missing = [p for p in missing if p.name not in meant]
        if missing:
            names = ", ".join(f"'{p.name}'" for p in missing)
            plural = "s" if len(missing) > 1 else ""
            example = ", ".join(f"{p.name}: {type_hint_for(TYPE_NAMES[p.type_name])}"
                                if p.type_name in TYPE_NAMES else f"{p.name}: ..." for p in missing)
            self.reporter.error(f"sub-chain '{chain.name}' needs parameter{plural} {names}",
                                call.span, hint=f"add `{example}`",
                                notes=[Note(f"'{chain.name}' is defined here", chain.name_span)])
            ok = False
        for p in chain.params:
            if p.name not in seen and p.default is not None:
                val = self._default(p, env)
                if val is None:
                    ok = False
                else:
                    env.params[p.name] = val
        return ok

    def _default(self, param: ast.ChainParam, env: Env) -> Val | None:
        ptype = TYPE_NAMES.get(param.type_name)
        if ptype is None or param.default is None:
            return None
        val = self.evaluator.eval(param.default, Env(env.module))
        value = coerce(self.reporter, ptype, val, f"the default of '{param.name}'", Env(env.module),
                       self.loader.dirs)
        if value is BAD:
            return None
        return Val(value, val.origin, val.use, unknown=value is UNKNOWN, items=val.items)

    def _check_instance(self, inst: Instance, scope: Scope) -> None:
        """After the scope's connections: every boundary of the instance is used."""
        g = self.graph.g
        nodes = [*inst.inputs.values(), *inst.outputs.values()]
        if any(n in self.suppressed.reach or n in self.suppressed.outputs for n in nodes):
            return
        if nodes and all(g.in_degree(n) == 0 for n in inst.inputs.values()) and \
                all(g.out_degree(n) == 0 for n in inst.outputs.values()):
            self.reporter.error(f"'{inst.label}' is not connected to anything", inst.span,
                                hint=f"connect it, e.g. `wan -> {inst.label} -> lan`, or remove it")
            for n in nodes:
                self.suppressed.reach.add(n)
                self.suppressed.outputs.add(n)
            return
        for port, n in inst.inputs.items():
            if g.in_degree(n) == 0:
                ref = inst.label if port == "in" else f"{inst.label}.{port}"
                self.reporter.error(f"input '{port}' of '{inst.label}' is not connected",
                                    inst.span, hint=f"feed it: `... -> {ref}`")
                self.suppressed.reach.add(n)
        for port, n in inst.outputs.items():
            if g.out_degree(n) == 0:
                ref = inst.label if len(inst.outputs) == 1 else f"{inst.label}.{port}"
                if len(inst.outputs) == 1:
                    message = f"the output of '{inst.label}' is not connected"
                else:
                    message = f"output '{port}' of '{inst.label}' is not connected"
                self.reporter.error(message, inst.span,
                                    hint=f"send its packets on, or discard them: `{ref} -> drop`")
                self.suppressed.outputs.add(n)

    def _check_chain_def(self, definition: Definition) -> None:
        """Check a sub-chain definition on its own, once, with unknown parameter values."""
        chain: ast.ChainDef = definition.node  # type: ignore[assignment]
        if id(chain) in self.checked_defs:
            return
        self.checked_defs.add(id(chain))
        if self.registry.get(chain.name) is not None:
            self.reporter.error(f"sub-chain '{chain.name}' has the name of an NF type",
                                chain.name_span, hint="give the sub-chain another name")
        env = Env(definition.module)
        seen: dict[str, Span] = {}
        for p in chain.params:
            if p.name in RESERVED:
                self.reporter.error(f"'{p.name}' is a reserved name", p.name_span)
                continue
            if p.name in seen:
                self.reporter.error(f"parameter '{p.name}' is declared twice", p.name_span,
                                    notes=[Note("first declared here", seen[p.name])])
                continue
            seen[p.name] = p.name_span
            if p.type_name not in TYPE_NAMES:
                hint = did_you_mean(p.type_name, TYPE_NAMES) or f"types are: {', '.join(TYPE_NAMES)}"
                self.reporter.error(f"unknown parameter type '{p.type_name}'", p.type_span, hint=hint)
                env.params[p.name] = Val(UNKNOWN, p.name_span, p.name_span, unknown=True)
                continue
            default = self._default(p, env) if p.default is not None else None
            env.params[p.name] = default or Val(UNKNOWN, p.name_span, p.name_span, unknown=True)
        # Expand into a scratch graph; errors found there are real, the graph is thrown away.
        saved = (self.graph, self.suppressed, self.boundaries, self.labels, self.lazy, self.used,
                 self.scratch)
        self.graph = ChainGraph(chain.name, definition.module.display)
        self.suppressed = Suppressed()
        self.boundaries, self.labels, self.lazy, self.used = {}, {}, {}, {}
        self.scratch = True
        try:
            inst = Instance(chain.name, chain.name, chain, chain.name_span)
            inputs, outputs = boundaries(chain)
            for port in inputs:
                node_id = f"@in.{port}"
                self.graph.add(NfNode(node_id, NodeKind.PORT_IN, chain.name_span, inputs=(),
                                      outputs=("out",), port="in" if port == "in" else f"in.{port}"))
                inst.inputs[port] = node_id
                self.labels[node_id] = "in" if port == "in" else f"in.{port}"
            for port in outputs:
                node_id = f"@out.{port}"
                self.graph.add(NfNode(node_id, NodeKind.PORT_OUT, chain.name_span, inputs=("in",),
                                      outputs=(), port="out" if port == "out" else f"out.{port}"))
                inst.outputs[port] = node_id
                self.labels[node_id] = "out" if port == "out" else f"out.{port}"
            scope = Scope("", (), env, instance=inst)
            self.expanding.append(chain)
            try:
                self._body(chain.body, scope)
            finally:
                self.expanding.pop()
            self._splice()  # the boundaries of sub-chains used inside this one
            if not inputs and any(isinstance(s, ast.NfDecl) or isinstance(s, ast.Connection)
                                  for s in chain.body):
                self.reporter.error(f"sub-chain '{chain.name}' has no input", chain.name_span,
                                    hint="packets enter a sub-chain through `in`: `in -> ...`")
            else:
                verify(self.graph, self.reporter, self.suppressed)
        finally:
            (self.graph, self.suppressed, self.boundaries, self.labels, self.lazy, self.used,
             self.scratch) = saved

    # ------------------------------------------------------------ connections
    def _connection(self, conn: ast.Connection, scope: Scope) -> None:
        """One edge per arrow. Endpoints are resolved and their nodes made in
        source order, so the graph lists nodes in the order they are written."""
        eps = conn.endpoints
        n = len(eps)
        src, port, port_span = self._endpoint(eps[0], scope)
        src_out, _ = self._port_sides(src, port, port_span, True, n == 1)
        for i in range(n - 1):
            out = self._pick_out(src, src_out, eps[i])
            if out is not None:
                self._ensure(out[0])
            dst, port, port_span = self._endpoint(eps[i + 1], scope)
            dst_out, dst_in = self._port_sides(dst, port, port_span, False, i + 1 == n - 1)
            inn = self._pick_in(dst, dst_in, eps[i + 1])
            if inn is not None:
                self._ensure(inn[0])
            if out is None or inn is None:
                self._taint(dst, reach=True)  # the edge the user meant is missing: its
                self._taint(src, outputs=True)  # ends are not unconnected by their fault
            else:
                self._edge(out, inn, eps[i].span.union(eps[i + 1].span), src, dst)
            src, src_out = dst, dst_out

    def _endpoint(self, ep: ast.Endpoint, scope: Scope) -> tuple[Item, str | None, Span | None]:
        if isinstance(ep, ast.CallEndpoint):
            return self._instantiate(ep.call, scope, None, None), None, None
        name, span = ep.name, ep.span
        if name == "drop":
            if ep.port is not None:
                self.reporter.error("`drop` has no ports", ep.port_span)
            if "drop" not in self.lazy and "drop" not in self.graph:
                self.lazy["drop"] = lambda: NfNode("drop", NodeKind.DROP, ep.name_span, inputs=("in",),
                                                   outputs=())
                self.labels["drop"] = "drop"
            return Item("drop", "drop", ep.name_span, ins={"in": ("drop", "in")}), None, None
        if name in ("in", "out"):
            inst = scope.instance
            if inst is None:
                self.reporter.error(f"`{name}` can only be used inside a sub-chain", ep.name_span,
                                    hint="at the top level, packets come from and go to ports: "
                                         "declare one with `port wan = pcap(\"wan.pcap\")`")
                return Item(name, "broken", span), None, None
            port = ep.port or name
            if name == "in":
                node = inst.inputs.get(port)
                item = Item(name, "in", span)
                if node is not None:
                    item.outs = {"out": (node, "out")}
            else:
                node = inst.outputs.get(port)
                item = Item(name, "out", span)
                if node is not None:
                    item.ins = {"in": (node, "in")}
            return item, None, None
        item = scope.names.get(name)
        if item is not None:
            return item, ep.port, ep.port_span
        module = scope.env.module
        definition = module.names.get(name)
        if name in scope.unknown_reported:
            pass
        elif name in scope.env.params or name in scope.env.consts or \
                (definition is not None and isinstance(definition.node, ast.Const)):
            self.reporter.error(f"'{name}' is a value, not an NF or a port", ep.name_span)
        elif definition is not None:
            self.reporter.error(f"'{name}' is a sub-chain; write `{name}(...)` for an instance of it",
                                ep.name_span)
        elif self.registry.get(name) is not None:
            self.reporter.error(f"'{name}' is an NF type; write `{name}()` for an instance of it",
                                ep.name_span,
                                hint=f"or declare a named one: `nf {name.lower()} = {name}()`")
        elif name in module.broken or "*" in module.broken:
            pass
        else:
            hint = did_you_mean(name, [*scope.names, "drop"])
            if hint is not None:
                meant = scope.names.get(hint.split("'")[1])
                if meant is not None:
                    self._taint(meant, reach=True, outputs=True)
            if hint is None and scope.outer is not None and name in scope.outer.names:
                hint = (f"'{name}' is defined outside this sub-chain; a sub-chain reaches the "
                        f"outside only through `in` and `out`")
            if hint is None:
                hint = f"declare it: `nf {name} = Type(...)` or `port {name} = pcap(...)`"
            self.reporter.error(f"unknown name '{name}'", ep.name_span, hint=hint)
        scope.unknown_reported.add(name)
        return Item(name, "broken", span), None, None

    def _port_sides(self, item: Item, port: str | None, port_span: Span | None,
                    first: bool, last: bool) -> tuple[str | None, str | None]:
        """Whether `x.port` names an output (as a source) or an input (as a target)."""
        if port is None:
            return None, None
        if first:
            return port, None
        if last:
            return None, port
        is_out = port in item.outs or item.any_outs or item.kind == "broken"
        is_in = port in item.ins
        if is_out and is_in and item.kind != "broken":
            self.reporter.error(f"'{port}' is both an input and an output of '{item.label}'",
                                port_span,
                                hint=f"split the connection: `... -> {item.label}.{port}` and "
                                     f"`{item.label}.{port} -> ...`")
            return "\0", "\0"
        if is_in and not is_out:
            return None, port
        return port, None

    def _describe(self, item: Item, port: str) -> str:
        if item.kind == "port":
            return f"port '{item.label}'"
        if item.kind == "in":
            return "`in`"
        if len(item.outs) == 1 and not item.any_outs:
            return f"'{item.label}'"
        return f"output '{port}' of '{item.label}'"

    def _pick_out(self, item: Item, port: str | None, ep: ast.Endpoint) -> tuple[str, str] | None:
        if item.kind == "broken" or port == "\0":
            return None
        if item.kind == "drop":
            self.reporter.error("nothing comes out of `drop`", ep.span,
                                hint="`drop` discards the packets sent to it; it can only end a connection")
            return None
        if item.kind == "out":
            self.reporter.error("`out` is where packets leave the sub-chain; nothing comes out of it",
                                ep.span, hint="it can only end a connection: `... -> out`")
            return None
        if item.kind == "in" and not item.outs:
            return None
        if port is not None:
            if item.kind == "port":
                self.reporter.error(f"port '{item.label}' has no named outputs", ep.span,
                                    hint=f"write `{item.label} -> ...`")
                return None
            if port in item.outs:
                return item.outs[port]
            if item.any_outs and item.node is not None:
                return (item.node, port)
            outs = list(item.outs)
            hint = did_you_mean(port, outs) or (f"its outputs are: {', '.join(outs)}" if outs
                                                else None)
            span = ep.port_span if isinstance(ep, ast.RefEndpoint) and ep.port_span else ep.span
            if item.kind == "instance" and port in item.ins:
                hint = f"'{port}' is an input of '{item.label}'"
            self.reporter.error(f"'{item.label}' has no output '{port}'", span, hint=hint)
            self._taint(item, outputs=True)
            return None
        if item.any_outs:
            return None
        if len(item.outs) == 1:
            return next(iter(item.outs.values()))
        if "out" in item.outs:  # the main output of an NF that has others (Tee, Sampler)
            return item.outs["out"]
        if not item.outs:
            self.reporter.error(f"'{item.label}' has no outputs", ep.span,
                                hint="packets that enter it never leave; it can only end a connection")
            return None
        outs = list(item.outs)
        self.reporter.error(f"'{item.label}' has several outputs ({', '.join(outs)}); name one",
                            ep.span, hint=f"e.g. `{item.label}.{outs[0]} -> ...`")
        self._taint(item, outputs=True)
        return None

    def _pick_in(self, item: Item, port: str | None, ep: ast.Endpoint) -> tuple[str, str] | None:
        if item.kind == "broken" or port == "\0":
            return None
        if item.kind == "in":
            self.reporter.error("`in` is where packets enter the sub-chain; nothing can be sent to it",
                                ep.span, hint="it can only start a connection: `in -> ...`")
            return None
        if item.kind == "out" and not item.ins:
            return None
        if port is not None:
            if item.kind == "port":
                self.reporter.error(f"port '{item.label}' has no named inputs", ep.span,
                                    hint=f"write `... -> {item.label}`")
                return None
            if port in item.ins:
                return item.ins[port]
            ins = list(item.ins)
            hint = did_you_mean(port, ins) or (f"its inputs are: {', '.join(ins)}" if ins else None)
            if port in item.outs and item.kind in ("nf", "instance"):
                hint = (f"'{port}' is an output of '{item.label}'; a connection ends at an input"
                        + (f" ({', '.join(ins)})" if ins else ""))
            span = ep.port_span if isinstance(ep, ast.RefEndpoint) and ep.port_span else ep.span
            self.reporter.error(f"'{item.label}' has no input '{port}'", span, hint=hint)
            return None
        if len(item.ins) == 1:
            return next(iter(item.ins.values()))
        if "in" in item.ins:
            return item.ins["in"]
        if not item.ins:
            what = "sub-chain instance" if item.kind == "instance" else "NF"
            self.reporter.error(f"{what} '{item.label}' has no input", ep.span,
                                hint="it can only start a connection")
            return None
        ins = list(item.ins)
        self.reporter.error(f"'{item.label}' has several inputs ({', '.join(ins)}); name one",
                            ep.span, hint=f"e.g. `... -> {item.label}.{ins[0]}`")
        return None

    def _taint(self, item: Item, reach: bool = False, outputs: bool = False) -> None:
        nodes = [item.node] if item.node else []
        if item.instance is not None:
            nodes += [*item.instance.inputs.values(), *item.instance.outputs.values()]
        for n in nodes:
            if reach:
                self.suppressed.reach.add(n)
            if outputs:
                self.suppressed.outputs.add(n)

    def _ensure(self, node_id: str) -> None:
        """Make a port or drop node on first use (NF nodes are made when declared)."""
        make = self.lazy.pop(node_id, None)
        if make is not None:
            self.graph.add(make())

    def _edge(self, out: tuple[str, str], inn: tuple[str, str], span: Span, src: Item,
              dst: Item) -> None:
        (u, p), (v, q) = out, inn
        self._ensure(u)
        self._ensure(v)
        existing = self.used.get((u, p))
        if existing is not None:
            target = self.labels.get(existing.dst, existing.dst)
            what = self._describe(src, p)
            self.reporter.error(
                f"{what} already feeds '{target}'", span,
                notes=[Note("first connected here", existing.span)] if existing.span else (),
                hint="an output feeds exactly one edge; to send packets down both paths, copy "
                     "them with a Tee: `nf t = Tee()`, then `... -> t -> a` and `t.copy -> b`")
            self.suppressed.reach.add(v)
            return
        # ChainGraph.connect, without its search for an existing edge: `used` knows.
        edge = Edge(u, p, v, q, span)
        self.graph.g.add_edge(u, v, key=p, edge=edge)
        self.used[(u, p)] = edge

    # ------------------------------------------------------------ splicing
    def _splice(self) -> None:
        """Replace each sub-chain boundary node by direct edges through it."""
        g = self.graph
        for node_id in list(self.boundaries):
            if node_id not in g:
                continue
            ins = g.in_edges(node_id)
            outs = g.out_edges(node_id)
            reach = node_id in self.suppressed.reach
            outputs = node_id in self.suppressed.outputs
            g.remove(node_id)
            for e in ins:
                self.used.pop((e.src, e.out_port), None)
            self.suppressed.reach.discard(node_id)
            self.suppressed.outputs.discard(node_id)
            target = outs[0] if outs else None
            for e in ins:
                if target is not None:
                    self.used[(e.src, e.out_port)] = g.connect(e.src, e.out_port, target.dst,
                                                               target.in_port, e.span)
                else:
                    self.suppressed.outputs.add(e.src)
                if outputs:
                    self.suppressed.outputs.add(e.src)
            if target is not None and (not ins or reach):
                self.suppressed.reach.add(target.dst)


def boundaries(chain: ast.ChainDef) -> tuple[list[str], list[str]]:
    """The input and output port names of a sub-chain, from its uses of `in` and `out`."""
    inputs: dict[str, None] = {}
    outputs: dict[str, None] = {}
    for stmt in chain.body:
        if not isinstance(stmt, ast.Connection):
            continue
        for i, ep in enumerate(stmt.endpoints):
            if not isinstance(ep, ast.RefEndpoint):
                continue
            if ep.name == "in" and i < len(stmt.endpoints) - 1:
                inputs.setdefault(ep.port or "in", None)
            elif ep.name == "out" and i > 0:
                outputs.setdefault(ep.port or "out", None)
    return list(inputs), list(outputs)


def resolve_module(module: Module, registry: Any, reporter: Reporter,
                   loader: ModuleLoader) -> ResolveResult:
    return Resolver(registry, reporter, loader).resolve(module)
