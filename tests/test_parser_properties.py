"""Property tests: generated valid programs parse and resolve to the graph they describe."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from chainc.ir.graph import NodeKind
from chainc.syntax.parser import parse_text

from frontend_fixtures import edges, gen_programs, load


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(gen_programs())
def test_generated_programs_parse_to_the_expected_nodes_and_edges(gp):
    assert [c.text for c in parse_text(gp.text).comments] == gp.comments
    graph = load(gp.text).graph
    assert {n.id: (n.type_name if n.kind is NodeKind.NF else n.kind.value) for n in graph.nodes()} \
        == gp.nodes
    assert edges(graph) == gp.edges
    assert graph.is_dag()
