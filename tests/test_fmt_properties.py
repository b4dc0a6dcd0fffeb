"""Property tests of `chainc fmt`: same IR after formatting, idempotent, comments kept."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from chainc.syntax.parser import parse_text
from chainc.syntax.printer import format_text

from frontend_fixtures import gen_programs, ir_summary, load


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(gen_programs())
def test_format_keeps_the_ir_and_the_comments_and_is_idempotent(gp):
    formatted = format_text(gp.text)
    # fmt-then-parse gives the same IR
    assert ir_summary(load(formatted).graph) == ir_summary(load(gp.text).graph)
    # every comment is kept, in order
    assert [c.text for c in parse_text(formatted).comments] == gp.comments
    # fmt is idempotent
    assert format_text(formatted) == formatted
