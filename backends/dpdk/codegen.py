"""Generate the Cython source of a chain's native binary from its PipelineModel.

Everything a template prints is prepared here: C literals are formatted from
typed Python values, names of the user's NFs appear only in comments (with
comment terminators neutralised) or as Python string literals (escaped with
`py_str`), and symbols are derived from node indices.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import jinja2

from chainc.ir.graph import NodeKind, PortBinding

from .model import NodeModel, PipelineModel

TEMPLATES = Path(__file__).parent / "templates"
BURST = 32


class CodegenError(Exception):
    """The chain cannot be compiled natively (e.g. an NF without a native body);
    `span` points at the NF in the .chain file."""

    def __init__(self, message: str, span=None):
        super().__init__(message)
        self.span = span


def py_str(text: str) -> str:
    """A Python/Cython string literal for any text (JSON escaping is a subset of Python's)."""
    return json.dumps(text, ensure_ascii=True)


def comment(text: str) -> str:
    """Text safe inside a `#` comment line: one line, no template or C comment syntax."""
    flat = " ".join(str(text).split())
    for bad in ("*/", "/*", "{{", "}}", "{%", "%}"):
        flat = flat.replace(bad, " ".join(bad))
    return flat.encode("ascii", "backslashreplace").decode("ascii")


@dataclass
class NodeGlue:
    """How the generated stage calls one NF."""

    model: NodeModel
    state_decl: str | None  # "cdef counter_state n3_st" (an array of padded ones if replicated)
    state_ref: str  # "&n3_st", "&n3_st[w.replica].st" or "NULL"
    call: str  # the process call expression
    init: list[str]  # one call per replica
    finish: list[str]
    drop_reasons: list[str]
    counters: list[str]
    emits: bool = False  # process() may emit a second packet through `&emit`
    extra: str = ""  # per-instance generated Cython (e.g. a compiled Classifier)

    def counter_sum(self, name: str) -> str:
        """One NF counter summed over the replicas' states."""
        sym = self.model.sym
        return " + ".join(f"{sym}_st[{r}].st.{name}" for r in range(self.model.replicas))


def replica_sym(sym: str, replica: int) -> str:
    """Replica 0 keeps the instance's symbol; the others get their own, so names an
    NF gives DPDK objects (`chainc_fw_{sym}`) stay unique per replica."""
    return sym if replica == 0 else f"{sym}_r{replica}"


def _glue(nm: NodeModel) -> NodeGlue:
    spec = nm.node.spec
    if spec is None or spec.native is None:
        name = spec.name if spec else nm.node.type_name
        raise CodegenError(
            f"{name} '{nm.node.id}' has no native body yet, so this chain cannot be built "
            f"natively; `chainc nfs` lists the NFs that can", nm.node.span)
    native = spec.native
    sym = nm.sym
    many = nm.replicas > 1
    state_decl = None
    if native.state:
        # A cache line of padding on each side keeps an NF's state, which it writes
        # per packet, off the lines of everything else: another replica's state,
        # another core's NF, the flags every core polls. Sharing a line with a
        # flag another core reads made each write a cross-core miss.
        state_decl = (f"cdef struct {sym}_replica:\n    uint8_t _lead[64]\n    {native.state} st\n"
                      f"    uint8_t _pad[64]\n"
                      f"cdef {sym}_replica {sym}_st[{nm.replicas}]")
    state_ref = ("&" + sym + "_st" + ("[w.replica].st" if many else "[0].st")) if native.state else "NULL"

    def literals(make, rsym: str) -> list[str]:
        # `{sym}` in an argument becomes the instance's symbol (unique names, e.g. of tables).
        return [str(a).replace("{sym}", rsym) for a in make(nm.node)] if make else []

    def replica_ref(r: int) -> str:
        return "NULL" if not native.state else f"&{sym}_st[{r}].st"

    args = [state_ref, "m", "meta", "inp"] + (["&emit"] if native.emits else [])
    args += literals(native.process_args, sym)
    call = f"{native.process.format(sym=sym)}({', '.join(args)})"
    init, finish = [], []
    extra = native.generate(nm.node, sym) if native.generate else ""
    for r in range(nm.replicas):
        rsym = replica_sym(sym, r)
        if r and native.generate and (native.init or native.finish):
            extra += native.generate(nm.node, rsym)  # its init names its own objects
        fsym = rsym if native.generate else sym
        if native.init:
            iargs = [replica_ref(r)] + literals(native.init_args, rsym)
            init.append(f"{native.init.format(sym=fsym)}({', '.join(iargs)})")
        if native.finish:
            fargs = [replica_ref(r)] + literals(native.finish_args, rsym)
            finish.append(f"{native.finish.format(sym=fsym)}({', '.join(fargs)})")
    reasons = list(spec.drop_reasons) + ["dropped", "bad-output"]
    return NodeGlue(nm, state_decl, state_ref, call, init, finish, reasons, list(native.counters),
                    native.emits, extra)


def _target_code(nm: NodeModel) -> list[dict]:
    out = []
    for i, (port, target) in enumerate(nm.targets):
        kind = target[0]
        out.append({"index": i, "port": comment(port), "kind": kind, "args": target[1:]})
    return out


def _pcap_arg(path: str, base_dir: str) -> str:
    """Default pcap paths are stored relative to the .chain file's directory."""
    if not os.path.isabs(path):
        return path
    return os.path.relpath(path, base_dir)


def port_devargs(name: str, binding: PortBinding | None, base_dir: str) -> str:
    """The default DPDK device of a port: a vdev string or a PCI address."""
    if binding is None:
        return f"net_null_{name}"
    args = binding.args
    d = binding.driver
    if d == "pcap":
        parts = [f"net_pcap_{name}"]
        if args.get("in"):
            parts.append(f"rx_pcap={_pcap_arg(str(args['in']), base_dir)}")
        if args.get("out"):
            parts.append(f"tx_pcap={_pcap_arg(str(args['out']), base_dir)}")
        return ",".join(parts)
    if d == "null":
        return f"net_null_{name}"
    if d == "ring":
        return f"net_ring_{name}"
    if d == "tap":
        return f"net_tap_{name},iface={args.get('iface', args.get('name', name))}"
    if d == "af_packet":
        return f"net_af_packet_{name},iface={args.get('iface', args.get('name', name))}"
    if d in ("pci", "vdev"):
        return str(args.get("address") or args.get("devargs") or args.get("0") or "")
    raise CodegenError(f"port '{name}': unknown driver '{d}'")


RING_SIZE = 1024
SINK_CAP = 2 * BURST  # packets a tx/ring/drop buffer holds before it flushes


def chain_description(model: PipelineModel, glue: dict[int, NodeGlue], base_dir: str) -> dict:
    """What the binary's control plane knows of the chain (its `CHAIN`, carried as JSON)."""
    nodes = []
    for nm in model.nodes:
        nodes.append({
            "id": nm.node.id, "type": nm.node.type_name, "kind": nm.kind.value,
            "port": nm.node.port, "stage": nm.stage,
            "outputs": [port for port, _ in nm.targets],
            "reasons": glue[nm.index].drop_reasons if nm.index in glue else [],
            "drop_to": [i for i, (_, t) in enumerate(nm.targets) if t[0] == "drop"],
        })
    ports = [{"name": p.name, "default": port_devargs(p.name, p.binding, base_dir),
              "rx": p.rx_stage is not None, "tx": bool(p.tx_workers), "rx_queues": p.rx_queues,
              "tx_workers": p.tx_workers,
              "rx_workers": model.stages[p.rx_stage].workers if p.rx_stage is not None else [],
              "rss": {"symmetric": p.rss.symmetric, "key": p.rss.key.hex()} if p.rss else None}
             for p in model.ports]
    return {"name": model.chain, "nodes": nodes, "ports": ports,
            "stages": [{"cores": st.cores, "workers": st.workers} for st in model.stages],
            "workers": [{"stage": w.stage, "replica": w.replica, "core": w.core} for w in model.workers],
            "n_cores": model.n_cores, "n_stages": len(model.stages),
            "n_rings": model.n_physical_rings, "ring_size": RING_SIZE, "sink_cap": SINK_CAP}


def shared_stages(model: PipelineModel) -> set[int]:
    """Stages whose core runs other stages too (fusion turned off, more stages than cores)."""
    return {w.stage for w in model.workers if len(model.core_workers(w.core)) > 1}


def render(model: PipelineModel, base_dir: str, embedded: dict[str, str]) -> tuple[str, list[str]]:
    """Return the .pyx text and the NF .pxd module names it cimports.

    `embedded` maps module names to the Python source the binary carries for
    its control plane (see runtime/control.py)."""
    glue: dict[int, NodeGlue] = {}
    for nm in model.nodes:
        if nm.kind is NodeKind.NF:
            glue[nm.index] = _glue(nm)
    pxd_modules = sorted({nf_module_name(g.model) for g in glue.values()
                          if g.model.node.spec.native.pxd})
    max_drop = max([len(g.drop_reasons) for g in glue.values()] + [1])
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["py_str"] = py_str
    env.filters["comment"] = comment
    template = env.get_template("chain.pyx.j2")
    text = template.render(
        model=model,
        glue=glue,
        # A chain of ports alone reads no header: parsing would only cost time.
        parse_headers=bool(glue),
        targets={nm.index: _target_code(nm) for nm in model.nodes},
        nf_modules=pxd_modules,
        shared_stages=shared_stages(model),
        burst=BURST,
        max_out=model.max_outputs,
        max_drop=max_drop,
        ring_size=RING_SIZE,
        sink_cap=SINK_CAP,
        chain_json=json.dumps(chain_description(model, glue, base_dir)),
        embedded=embedded,
        NodeKind=NodeKind,
    )
    return text, pxd_modules


def nf_module_name(nm: NodeModel) -> str:
    folder = nm.node.spec.folder
    return "nf_" + (folder.name if folder else nm.node.spec.name.lower())
