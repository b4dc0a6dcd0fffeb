"""IDS: signature matching of packet payloads (intrusion detection / prevention)."""

from __future__ import annotations

from chainc.nfs.spec import REQUIRED, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import param_span, read_param_file, report_file_errors
from chainc.values import PATH, Enum

from .rules import parse_ids_rules


def outputs(params):
    if params.get("mode") == "ips" and params.get("blocked") == "output":
        return ("out", "blocked")
    return ("out",)


def validate(node, reporter):
    text = read_param_file(node, "rules", reporter, "IDS rule file")
    if text is None:
        return
    rules, errors = parse_ids_rules(text)
    report_file_errors(node, "rules", text, errors, reporter, "IDS rule file")
    if not rules and not errors:
        reporter.warning(f"IDS rule file '{node.params['rules']}' holds no rules", param_span(node, "rules"))
    if node.params.get("mode") == "ids" and node.params.get("blocked") == "output":
        reporter.warning("'blocked: output' has no effect in ids mode (nothing is blocked)",
                         param_span(node, "blocked"), hint="use mode: ips to block packets")


SPEC = NfSpec(
    name="IDS",
    doc="Match packet payloads against Snort-style signatures; alert, or block in ips mode.",
    params=(
        ParamSpec("rules", PATH, REQUIRED, "The signature file (a Snort rule subset)."),
        ParamSpec("mode", Enum("ids", "ips"), "ids",
                  "`ids` only raises alerts; `ips` also blocks packets that match a drop rule."),
        ParamSpec("alerts", PATH, None,
                  "Append alerts as JSON lines to this file (unset: alerts are only counted)."),
        ParamSpec("blocked", Enum("drop", "output"), "drop",
                  "In ips mode, drop blocked packets or send them to an extra output `blocked`."),
    ),
    inputs=("in",),
    outputs=("out",),
    outputs_from=outputs,
    state=StateKind.NONE,
    reads=("eth.type", "ip.src", "ip.dst", "ip.proto", "l4.sport", "l4.dport", "payload"),
    writes=(),
    cycles=800,
    side_effects=True,
    drop_reasons=("blocked",),
    description=(
        "Every packet's header is checked against each rule's protocol, addresses and "
        "ports, and its L4 payload against the rule's `content` patterns (all of a rule's "
        "contents must occur; `nocase` makes one case-insensitive). The patterns of all "
        "rules are compiled into one Hyperscan database, so the cost grows little with the "
        "number of rules. Matching is per packet: there is no stream reassembly, so a "
        "pattern split across two segments is not seen.\n\n"
        "A matching `alert` or `drop` rule raises an alert (counted, and written to "
        "`alerts` as a JSON line with sid, msg and the 5-tuple when set). In `ips` mode a "
        "matching `drop` rule also blocks the packet: it is dropped (`blocked`) or sent to "
        "the `blocked` output. A matching `pass` rule stops matching for that packet. "
        "Every other packet leaves on `out` unchanged. The rule file is checked when the "
        "chain is compiled."
    ),
    example=(
        "# rules/web.rules:\n"
        "#   drop tcp any any -> any 80 (msg:\"passwd fetch\"; content:\"/etc/passwd\"; sid:1001;)\n"
        "nf ids = IDS(rules: \"rules/web.rules\", mode: ips, alerts: \"alerts.jsonl\")\n"
        "wan -> ids -> lan"
    ),
    validate=validate,
    native=None,
)
