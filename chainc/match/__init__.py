"""Match expressions: the pcap-filter subset Classifier arms are written in.

    from chainc.match import parse_match, evaluate, to_cython, match_fields

    expr = parse_match("tcp dst port 80 or 443")   # MatchSyntaxError(message, start, end)
    str(expr)            # 'tcp dst port 80 or tcp dst port 443' (canonical pcap-filter)
    evaluate(expr, pkt)  # over a chainc.packet.Packet
    to_cython(expr)      # a Cython boolean expression over `pkt_meta* meta`, `const uint8_t* data`
    match_fields(expr)   # {'eth.type', 'ip.proto', 'ip6.nxt', 'tcp.dport'}

docs/match.md lists every primitive and where chainc differs from tcpdump.
"""

from __future__ import annotations

from chainc.match.codegen import to_cython
from chainc.match.errors import MatchSyntaxError
from chainc.match.evaluate import compile_python, evaluate
from chainc.match.nodes import (And, EtherCast, EtherHost, EtherProto, FieldTest, Host,
                                IpMulticast, IpProto, Length, MatchExpr, Net, Not, Or, Port,
                                Proto, Vlan)
from chainc.match.parser import parse_match


def match_fields(expr: MatchExpr) -> set[str]:
    """The header fields `expr` reads, named as in docs/packet-metadata.md."""
    return set(expr.fields())


__all__ = [
    "MatchExpr", "MatchSyntaxError", "parse_match", "evaluate", "compile_python", "to_cython",
    "match_fields",
    "And", "Or", "Not", "Proto", "EtherProto", "IpProto", "Host", "Net", "EtherHost",
    "EtherCast", "IpMulticast", "Vlan", "Port", "Length", "FieldTest",
]
