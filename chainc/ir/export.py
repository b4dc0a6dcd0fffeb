"""The ChainGraph as JSON (for tools) and as a text listing (for people).

Both show paths as the user would write them: spans carry the path the user
gave on the command line, and file parameters (absolute inside the IR, so
every later stage can open them) are shown relative to the current directory.
No absolute path of the machine is printed.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from chainc.ir.graph import ChainGraph, NfNode, NodeKind
from chainc.syntax.literals import quote_string
from chainc.values import PATH, Block, Wildcard


def _order(graph: ChainGraph) -> list[NfNode]:
    return graph.topological_order() if graph.is_dag() else graph.nodes()


def show_path(path: str) -> str:
    """An absolute path shown relative to the current directory."""
    if not isinstance(path, str) or not os.path.isabs(path):
        return path
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path


def is_path_param(node: NfNode, name: str) -> bool:
    spec = node.spec.param(name) if node.spec is not None else None
    if spec is None:
        return False
    return spec.type is PATH or getattr(spec.type, "item", None) is PATH


def to_jsonable(value: Any, path: bool = False) -> Any:
    """A JSON-friendly form of a typed value: str() of typed values, lists, blocks as pairs."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return show_path(value) if path else value
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v, path) for v in value]
    if isinstance(value, Block):
        return [[e.key, to_jsonable(e.value)] for e in value.entries]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, path) for k, v in value.items()}
    return str(value)


def _span_json(span) -> dict[str, Any] | None:
    if span is None:
        return None
    return {"file": span.file.path, "line": span.line, "col": span.col}


def graph_to_json(graph: ChainGraph) -> dict[str, Any]:
    """The IR as a dict of JSON types: nodes, edges and ports, in a stable order."""
    nodes = []
    for n in _order(graph):
        nodes.append({
            "id": n.id,
            "kind": n.kind.value,
            "type": n.type_name,
            "params": {k: to_jsonable(v, is_path_param(n, k)) for k, v in n.params.items()},
            "inputs": list(n.inputs),
            "outputs": list(n.outputs),
            "core": n.core,
            "replicas": n.replicas,
            "scope": list(n.scope),
            "port": n.port,
            "span": _span_json(n.span),
        })
    edges = []
    for n in _order(graph):
        for e in graph.out_edges(n.id):
            edges.append({"src": e.src, "out_port": e.out_port, "dst": e.dst, "in_port": e.in_port})
    ports = {
        name: {"driver": b.driver, "args": {k: to_jsonable(v, k in ("in", "out") and b.driver == "pcap")
                                            for k, v in b.args.items()}}
        for name, b in graph.port_bindings.items()
    }
    return {"chain": graph.name, "source": graph.source_path, "nodes": nodes, "edges": edges,
            "ports": ports}


# ---------------------------------------------------------------- text listing


def value_text(value: Any, path: bool = False) -> str:
    """A value as it would be written in a .chain file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote_string(show_path(value) if path else value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(value_text(v, path) for v in value) + "]"
    if isinstance(value, Block):
        return "{ " + ", ".join(f"{e.key}: {value_text(e.value)}" for e in value.entries) + " }"
    if isinstance(value, Wildcard):
        return "*"
    if value is None:
        return "none"
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address,
                          ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return str(value)
    return str(value)


def _endpoint(graph: ChainGraph, node_id: str, port: str, out: bool) -> str:
    node = graph.node(node_id)
    if node.kind in (NodeKind.PORT_IN, NodeKind.PORT_OUT):
        return node.id
    ports = node.outputs if out else node.inputs
    if len(ports) == 1 and ports[0] == port:
        return node.id
    return f"{node.id}.{port}"


def graph_to_text(graph: ChainGraph) -> str:
    """A listing of ports, nodes (in topological order) and edges."""
    lines = [f"chain {graph.name} ({graph.source_path}): "
             f"{len(graph.nodes(NodeKind.NF))} NFs, {len(graph.edges())} edges"]
    if graph.port_bindings:
        lines.append("ports:")
        width = max(len(p) for p in graph.port_bindings)
        for name, b in graph.port_bindings.items():
            args = ", ".join(f"{k}: {value_text(v, b.driver == 'pcap')}" for k, v in b.args.items())
            lines.append(f"  {name:<{width}}  {b.driver}({args})")
    order = _order(graph)
    if order:
        lines.append("nodes:")
        width = max(len(n.id) for n in order)
        for n in order:
            if n.kind is NodeKind.NF:
                params = ", ".join(f"{k}: {value_text(v, is_path_param(n, k))}"
                                   for k, v in n.params.items())
                text = f"{n.type_name}({params})"
                if n.core is not None:
                    text += f" @core({n.core})"
                if n.replicas is not None:
                    text += f" @replicas({n.replicas})"
            elif n.kind is NodeKind.PORT_IN:
                text = f"port {n.port}, receive"
            elif n.kind is NodeKind.PORT_OUT:
                text = f"port {n.port}, send"
            else:
                text = "drop"
            lines.append(f"  {n.id:<{width}}  {text}")
    edges = [e for n in order for e in graph.out_edges(n.id)]
    if edges:
        lines.append("edges:")
        for e in edges:
            lines.append(f"  {_endpoint(graph, e.src, e.out_port, True)} -> "
                         f"{_endpoint(graph, e.dst, e.in_port, False)}")
    return "\n".join(lines) + "\n"
