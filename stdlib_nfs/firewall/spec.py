"""Firewall: a stateless, first-match-wins ACL over a rule file."""

from __future__ import annotations

from chainc.nfs.spec import REQUIRED, NfSpec, ParamSpec, StateKind
from chainc.stdlib_nfs._support import read_param_file, report_file_errors
from chainc.values import PATH, Enum, Symbol

from .rules import ACTIONS, parse_rules


class _Action(Enum):
    """allow | deny, also written as the rule files' synonyms (drop, permit, accept, reject)."""

    def accept(self, value):
        name = value.name if isinstance(value, Symbol) else value
        if isinstance(name, str) and name.lower() in ACTIONS:
            return ACTIONS[name.lower()]
        return super().accept(value)


def outputs(params):
    return ("out", "denied") if params.get("denied") == "output" else ("out",)


def validate(node, reporter):
    text = read_param_file(node, "rules", reporter, "rule file")
    if text is None:
        return
    fmt = node.params.get("format", "chainc")
    _rules, errors = parse_rules(text, fmt)
    report_file_errors(node, "rules", text, errors, reporter, "rule file")


SPEC = NfSpec(
    name="Firewall",
    doc="Stateless ACL: allow or deny each packet by the first matching rule of a rule file.",
    params=(
        ParamSpec("rules", PATH, REQUIRED, "The rule file, relative to the .chain file."),
        ParamSpec("format", Enum("chainc", "classbench"), "chainc",
                  "Rule file format: `chainc` (action + pcap-filter expression per line) "
                  "or `classbench` (ClassBench filters, each an allow rule)."),
        ParamSpec("default", _Action("allow", "deny"), "deny",
                  "What happens to a packet that matches no rule (`drop` means deny)."),
        ParamSpec("denied", Enum("drop", "output"), "drop",
                  "Drop denied packets, or send them to an extra output port `denied` "
                  "(to log or mirror them)."),
    ),
    inputs=("in",),
    outputs=("out",),
    outputs_from=outputs,
    state=StateKind.NONE,
    reads=("eth.type", "ip.src", "ip.dst", "ip.proto", "l4.sport", "l4.dport", "tcp.flags"),
    writes=(),
    cycles=150,
    drop_reasons=("denied", "default-deny"),
    description=(
        "Each packet is checked against the rules in file order and the first rule that "
        "matches decides: `allow` sends it to `out`, `deny` drops it (reason `denied`). "
        "A packet that matches no rule gets the `default` action (a default deny drops "
        "with reason `default-deny`). With `denied: output` denied packets leave on the "
        "port `denied` instead of being dropped.\n\n"
        "chainc rule files hold one rule per line, `allow EXPR` or `deny EXPR`, where EXPR "
        "is a pcap-filter expression as in a Classifier arm and `*` matches everything; "
        "`#` starts a comment. ClassBench files (`@SRC/LEN DST/LEN SP : SP DP : DP "
        "PROTO/MASK [FLAGS/MASK]`, as written by ClassBench and ClassBench-ng) carry no "
        "action, so each filter is an allow rule and `default` decides the rest. The rule "
        "file is checked when the chain is compiled: an error points at its line.\n\n"
        "The firewall keeps no connection state; put a ConnTrack in front of it to allow "
        "replies of established connections."
    ),
    example=(
        "# rules/edge.acl:\n"
        "#   allow tcp dst port 22 and src net 10.0.0.0/8\n"
        "#   deny  tcp dst port 22\n"
        "#   allow tcp dst port 80 or tcp dst port 443\n"
        "nf fw = Firewall(rules: \"rules/edge.acl\", default: deny)\n"
        "wan -> fw -> lan"
    ),
    validate=validate,
    native=None,
)
