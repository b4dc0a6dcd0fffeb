"""The NF registry: the standard library, user NF folders, and broken folders."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import pytest

from chainc.nfs.docs import render_all, render_doc, render_list
from chainc.nfs.reference import ReferenceNf
from chainc.nfs.registry import Registry, RegistryError, load_spec, stdlib_dir
from chainc.nfs.spec import REQUIRED, NfSpec, StateKind
from chainc.values import BlockOf, TypeMismatch

from nfhelpers import make_node, stdlib, validate

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent

STDLIB = ["Classifier", "ConnTrack", "Counter", "Drop", "Firewall", "FlowMonitor", "IDS",
          "LoadBalancer", "MacSwap", "NAT", "RateLimiter", "Router", "Sampler", "Tee",
          "VlanPop", "VlanPush"]


def test_loads_all_sixteen_standard_nfs():
    reg = Registry.load()
    assert reg.names() == STDLIB
    assert [s.name for s in reg.specs()] == STDLIB
    for spec in reg.specs():
        assert spec.folder is not None and spec.folder.parent == stdlib_dir().resolve()
        assert (spec.folder / "spec.py").is_file()


def test_get_and_contains():
    reg = stdlib()
    assert reg.get("Firewall").name == "Firewall"
    assert reg.get("Firewal") is None
    assert "NAT" in reg and "nat" not in reg


def test_every_native_body_has_a_reference_body_beside_it():
    """The differential tests need both: a native body alone could not be checked."""
    reg = stdlib()
    for spec in reg.specs():
        if spec.native is not None:
            assert (spec.folder / "reference.py").is_file(), spec.name
            assert reg.reference_class(spec) is not None, spec.name
    assert reg.native_pxd(reg.get("Counter")) == reg.get("Counter").folder / "native.pxd"
    assert reg.native_pxd(reg.get("Classifier")) is None  # generated per instance
    assert reg.native_pxd(reg.get("Firewall")) == reg.get("Firewall").folder / "native.pxd"
    bare = NfSpec(name="Bare", doc="no bodies")
    assert reg.native_pxd(bare) is None and reg.reference_class(bare) is None
    ref = reg.reference_class(reg.get("Counter"))
    assert issubclass(ref, ReferenceNf)
    assert reg.reference_class(reg.get("Counter")) is ref  # loaded once


def _accepts(ptype, value):
    try:
        return ptype.accept(value) == value
    except TypeMismatch:
        return False


@pytest.mark.parametrize("name", STDLIB)
def test_spec_is_complete_and_defaults_fit_their_types(name):
    spec = stdlib().get(name)
    assert spec.doc and "\n" not in spec.doc
    assert spec.description and spec.example
    assert spec.cycles > 0
    assert spec.inputs
    if spec.state is not StateKind.NONE and spec.state is StateKind.PER_FLOW:
        assert spec.state_key
    for p in spec.params:
        assert p.doc, f"{name}.{p.name} has no doc"
        if p.default is REQUIRED or p.default is None:  # None: optional, unset
            continue
        assert _accepts(p.type, p.default), f"{name}.{p.name}: default {p.default!r} is not a {p.type}"
    if spec.block_param:
        assert isinstance(spec.param(spec.block_param).type, BlockOf)
    # Output ports with default parameters are valid names and never crash.
    defaults = {p.name: p.default for p in spec.params if not p.required}
    ports = spec.output_ports(defaults)
    assert all(isinstance(p, str) for p in ports)
    if spec.native is not None and spec.native.counters:
        assert spec.side_effects


def test_stateful_specs_have_a_theory_of_operation():
    for spec in stdlib().specs():
        if spec.state is not StateKind.NONE and spec.name != "Counter":
            assert "Theory of operation" in spec.description, spec.name


# -- the documented example NF of docs/nf-contract.md --------------------------------


def test_user_nf_folder_loads_next_to_the_stdlib():
    reg = Registry.load([DATA / "nfs"])
    assert "SizeFilter" in reg and len(reg) == len(STDLIB) + 1
    spec = reg.get("SizeFilter")
    assert spec.folder == (DATA / "nfs" / "sizefilter").resolve()
    assert reg.native_pxd(spec) == spec.folder / "native.pxd"
    node = make_node(spec, {"min": 64})
    assert node.params == {"min": 64, "max": 1514}
    assert spec.native.process_args(node) == ["64", "1514"]
    body = reg.reference_class(spec)(node)
    from nfhelpers import packet
    assert body.process(packet(b"\0" * 63), 0) == -1
    assert body.process(packet(b"\0" * 64), 0) == 0
    assert body.process(packet(b"\0" * 1515), 0) == -2
    assert body.counters == {"passed": 1}


def test_a_single_nf_folder_can_be_given_directly():
    reg = Registry.load([DATA / "nfs" / "sizefilter"])
    assert reg.get("SizeFilter") is not None


def test_user_nf_validate_reports_on_the_param_span():
    reg = Registry.load([DATA / "nfs"])
    text = "nf f = SizeFilter(min: 100, max: 10)"
    node = make_node(reg.get("SizeFilter"), {"min": 100, "max": 10}, text=text,
                     param_spans={"min": (23, 26)})
    errors = validate(node).errors
    assert len(errors) == 1
    assert errors[0].span.text == "100"
    assert "min <= max" in errors[0].message


def test_doc_example_in_nf_contract_matches_the_test_folder():
    """docs/nf-contract.md shows the SizeFilter files verbatim."""
    doc = (ROOT / "docs" / "nf-contract.md").read_text()
    for name in ("spec.py", "reference.py", "native.pxd"):
        body = (DATA / "nfs" / "sizefilter" / name).read_text().strip()
        assert body in doc, f"docs/nf-contract.md is out of date with tests/data/nfs/sizefilter/{name}"


# -- broken user folders -----------------------------------------------------------


def _nf(tmp_path: Path, folder: str, spec_text: str, **files: str) -> Path:
    d = tmp_path / folder
    d.mkdir(parents=True)
    (d / "spec.py").write_text(spec_text)
    for name, text in files.items():
        (d / name.replace("_", ".", 1) if "_" in name else d / name).write_text(text)
    return d


GOOD = """
from chainc.nfs.spec import NfSpec
SPEC = NfSpec(name={name!r}, doc="A test NF.")
"""


def test_syntax_error_names_the_file_and_line(tmp_path):
    _nf(tmp_path, "bad", "from chainc.nfs.spec import NfSpec\nSPEC = NfSpec(name='X', doc='x'\n")
    with pytest.raises(RegistryError) as err:
        Registry.load([tmp_path])
    msg = str(err.value)
    assert str(tmp_path / "bad" / "spec.py") in msg
    assert "syntax error" in msg and (":2:" in msg or ":3:" in msg)


def test_missing_spec_names_the_file(tmp_path):
    _nf(tmp_path, "nospec", "X = 1\n")
    with pytest.raises(RegistryError) as err:
        Registry.load([tmp_path])
    assert str(tmp_path / "nospec" / "spec.py") in str(err.value)
    assert "SPEC" in str(err.value)


def test_spec_of_the_wrong_type(tmp_path):
    _nf(tmp_path, "wrongtype", "SPEC = {'name': 'X'}\n")
    with pytest.raises(RegistryError, match="not an NfSpec"):
        Registry.load([tmp_path])


def test_exception_while_loading_names_the_file_and_line(tmp_path):
    _nf(tmp_path, "boom", "x = 1\nraise RuntimeError('no config')\n")
    with pytest.raises(RegistryError) as err:
        Registry.load([tmp_path])
    msg = str(err.value)
    assert str(tmp_path / "boom" / "spec.py") in msg
    assert "RuntimeError: no config" in msg and "line 2" in msg


def test_duplicate_name_with_the_stdlib(tmp_path):
    _nf(tmp_path, "mycounter", GOOD.format(name="Counter"))
    with pytest.raises(RegistryError) as err:
        Registry.load([tmp_path])
    msg = str(err.value)
    assert str(tmp_path / "mycounter" / "spec.py") in msg
    assert "already defined by" in msg and str(stdlib_dir().resolve() / "counter" / "spec.py") in msg


def test_duplicate_name_between_user_folders(tmp_path):
    _nf(tmp_path / "a", "one", GOOD.format(name="Twin"))
    _nf(tmp_path / "b", "two", GOOD.format(name="Twin"))
    with pytest.raises(RegistryError, match="'Twin' is already defined"):
        Registry.load([tmp_path / "a", tmp_path / "b"])


def test_missing_native_pxd(tmp_path):
    _nf(tmp_path, "nopxd", "from chainc.nfs.spec import NfSpec, NativeBody\n"
                           "SPEC = NfSpec(name='NoPxd', doc='x', native=NativeBody(process='p'))\n")
    with pytest.raises(RegistryError, match="native.pxd"):
        Registry.load([tmp_path])


def test_bad_names_and_params(tmp_path):
    _nf(tmp_path, "badname", GOOD.format(name="not a name"))
    with pytest.raises(RegistryError, match="not a valid NF name"):
        Registry.load([tmp_path])
    _nf(tmp_path / "x", "dup", "from chainc.nfs.spec import NfSpec, ParamSpec\nfrom chainc.values import INT\n"
        "SPEC = NfSpec(name='Dup', doc='x', params=(ParamSpec('a', INT), ParamSpec('a', INT)))\n")
    with pytest.raises(RegistryError, match="duplicate parameter"):
        Registry.load([tmp_path / "x"])


def test_framework_drop_reasons_are_reserved(tmp_path):
    _nf(tmp_path, "r", "from chainc.nfs.spec import NfSpec\n"
                       "SPEC = NfSpec(name='R', doc='x', drop_reasons=('short', 'dropped'))\n")
    with pytest.raises(RegistryError, match="drop reason\\(s\\) dropped are the framework's own"):
        Registry.load([tmp_path])


def test_not_a_directory_and_empty_directory(tmp_path):
    with pytest.raises(RegistryError, match="not a directory"):
        Registry.load([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(RegistryError, match="no NF folders"):
        Registry.load([tmp_path / "empty"])


def test_broken_reference_is_reported_when_first_used(tmp_path):
    _nf(tmp_path, "r1", GOOD.format(name="NoRefClass"), reference_py="X = 1\n")
    _nf(tmp_path, "r2", GOOD.format(name="RefSyntax"), reference_py="def f(:\n")
    reg = Registry.load([tmp_path])
    with pytest.raises(RegistryError) as err:
        reg.reference_class(reg.get("NoRefClass"))
    assert str(tmp_path / "r1" / "reference.py") in str(err.value)
    with pytest.raises(RegistryError, match="syntax error") as err:
        reg.reference_class(reg.get("RefSyntax"))
    assert str(tmp_path / "r2" / "reference.py") in str(err.value)


def test_registry_error_has_a_diagnostic(tmp_path):
    _nf(tmp_path, "nospec", "X = 1\n")
    with pytest.raises(RegistryError) as err:
        Registry.load([tmp_path])
    rendered = err.value.diagnostic().render()
    assert rendered.startswith(str(tmp_path / "nospec" / "spec.py") + ": error: ")


def test_folders_with_same_module_names_do_not_collide(tmp_path):
    """Two NF folders, each importing its own helpers.py relatively."""
    for name, value in (("One", 1), ("Two", 2)):
        d = tmp_path / name.lower()
        d.mkdir()
        (d / "helpers.py").write_text(f"VALUE = {value}\n")
        (d / "spec.py").write_text(
            "from chainc.nfs.spec import NfSpec\nfrom .helpers import VALUE\n"
            f"SPEC = NfSpec(name={name!r}, doc='x', cycles=VALUE)\n")
        (d / "reference.py").write_text(
            "from chainc.nfs.reference import ReferenceNf\nfrom .helpers import VALUE\n"
            "class Reference(ReferenceNf):\n    def process(self, pkt, in_port):\n        return VALUE\n")
    reg = Registry.load([tmp_path])
    assert reg.get("One").cycles == 1 and reg.get("Two").cycles == 2
    one = reg.reference_class(reg.get("One"))
    two = reg.reference_class(reg.get("Two"))
    assert one.__module__ != two.__module__
    assert one(make_node(reg.get("One"))).process(None, 0) == 1
    assert two(make_node(reg.get("Two"))).process(None, 0) == 2
    assert "helpers" not in sys.modules


def test_load_spec_of_the_same_folder_twice_is_stable():
    a = load_spec(DATA / "nfs" / "sizefilter")
    b = load_spec(DATA / "nfs" / "sizefilter")
    assert a == b and a.folder == b.folder


# -- docs ---------------------------------------------------------------------------


def test_render_list_has_one_row_per_nf():
    text = render_list(stdlib())
    lines = text.strip().splitlines()
    assert len(lines) == 2 + len(STDLIB)
    row = next(line for line in lines if line.startswith("NAT "))
    assert " yes " in row and "Source NAT" in row
    row = next(line for line in lines if line.startswith("Counter "))
    assert " yes " in row


@pytest.mark.parametrize("name", STDLIB)
def test_render_doc_shows_everything(name):
    spec = stdlib().get(name)
    text = render_doc(spec)
    assert text.startswith(f"# {name}\n")
    for p in spec.params:
        assert f"| {p.name} |" in text
    assert f"state: {spec.state.value}" in text
    assert f"{spec.cycles} cycles/packet" in text
    for reason in spec.drop_reasons:
        assert reason in text
    assert spec.example.splitlines()[0] in text
    if spec.native is None:
        assert "native body: not yet available" in text
    else:
        assert "native body: yes" in text


def test_docs_nfs_md_is_up_to_date():
    """docs/nfs.md is generated: `python -m chainc.nfs.docs > docs/nfs.md`."""
    assert (ROOT / "docs" / "nfs.md").read_text() == render_all(stdlib())


# -- parameter-dependent outputs and validation of the other specs -------------------


def test_router_outputs_come_from_the_route_file(tmp_path):
    routes = tmp_path / "core.routes"
    routes.write_text("# prefix port mac\n10.0.0.0/8 lan 02:00:00:00:01:01\n"
                      "0.0.0.0/0 wan\n2001:db8::/32 lan\n")
    node = make_node("Router", {"routes": str(routes)})
    assert node.outputs == ("lan", "wan")
    assert not validate(node).diagnostics


def test_router_missing_file_is_a_validate_error_not_an_exception(tmp_path):
    text = 'nf r = Router(routes: "nope.routes")'
    node = make_node("Router", {"routes": str(tmp_path / "nope.routes")}, text=text,
                     param_spans={"routes": (22, 35)})
    assert node.outputs == ()
    errors = validate(node).errors
    assert len(errors) == 1 and "does not exist" in errors[0].message
    assert errors[0].span.text == '"nope.routes"'


def test_router_bad_route_points_into_the_route_file(tmp_path):
    routes = tmp_path / "bad.routes"
    routes.write_text("10.0.0.0/8 lan\n10.0.0.1/8 wan\n")
    node = make_node("Router", {"routes": str(routes)})
    errors = validate(node).errors
    assert len(errors) == 1
    assert errors[0].span.location() == f"{routes}:2:1"
    assert errors[0].span.text == "10.0.0.1/8"
    assert errors[0].hint == "did you mean '10.0.0.0/8'?"


def test_firewall_rules_chainc_format(tmp_path):
    rules = tmp_path / "edge.acl"
    rules.write_text("# edge\nallow tcp dst port 22\nfrobnicate udp\ndeny *\n")
    node = make_node("Firewall", {"rules": str(rules)})
    assert node.outputs == ("out",)
    errors = validate(node).errors
    assert [e.message for e in errors] == ["unknown action 'frobnicate'"]
    assert errors[0].span.location() == f"{rules}:3:1"
    assert make_node("Firewall", {"rules": str(rules), "denied": "output"}).outputs == ("out", "denied")


CLASSBENCH = (
    "@27.195.96.7/32\t107.130.16.1/32\t0 : 65535\t4646 : 4646\t0x06/0xFF\t0x0000/0x0200\t\n"
    "@27.195.96.7/32\t107.130.16.1/32\t0 : 65535\t1221 : 1221\t0x06/0xFF\n"
)


def test_firewall_classbench_format(tmp_path):
    good = tmp_path / "acl1.rules"
    good.write_text(CLASSBENCH)
    node = make_node("Firewall", {"rules": str(good), "format": "classbench"})
    assert not validate(node).diagnostics
    bad = tmp_path / "bad.rules"
    bad.write_text(CLASSBENCH + "@27.195.96.7/33\t1.2.3.4/32\t0 : 65535\t1 : 1\t0x06/0xFF\n")
    errors = validate(make_node("Firewall", {"rules": str(bad), "format": "classbench"})).errors
    assert len(errors) == 1
    assert errors[0].span.location() == f"{bad}:3:2"
    assert errors[0].span.text == "27.195.96.7/33"


def test_ids_rules(tmp_path):
    rules = tmp_path / "web.rules"
    rules.write_text('alert tcp any any -> 10.0.0.0/8 80 (msg:"x"; content:"GET |2f|etc"; nocase; sid:1;)\n'
                     'drop udp any any -> any 53 (content:"a"; sid:1;)\n'
                     'alert tcp any any -> any 80 (msg:"no sid";)\n')
    node = make_node("IDS", {"rules": str(rules), "mode": "ips"})
    assert node.outputs == ("out",)
    errors = validate(node).errors
    assert ["already used" in e.message for e in errors] == [True, False]
    assert "no sid" in errors[1].message
    assert make_node("IDS", {"rules": str(rules), "mode": "ips", "blocked": "output"}).outputs == ("out", "blocked")


def test_nat_params():
    node = make_node("NAT", {"external": ipaddress.IPv4Address("203.0.113.7"),
                             "forwards": ("tcp 8080 -> 10.0.0.5:80", "udp 53 -> 10.0.0.2", "tcp 80 10.0.0.1")})
    assert node.params["external"] == (ipaddress.IPv4Address("203.0.113.7"),)
    assert node.inputs == ("inside", "outside") and node.outputs == ("inside", "outside")
    errors = validate(node).errors
    assert [e.message for e in errors] == ["bad port forward 'tcp 80 10.0.0.1'"]


def test_loadbalancer_table_size_must_be_prime():
    ips = [ipaddress.ip_address(a) for a in ("10.0.1.1", "10.0.1.2")]
    node = make_node("LoadBalancer", {"vip": ipaddress.ip_address("10.0.0.100"), "backends": ips,
                                      "table_size": 65536})
    assert [e.message for e in validate(node).errors] == ["'table_size' must be a prime number, got 65536"]
    node = make_node("LoadBalancer", {"vip": ipaddress.ip_address("10.0.0.100"), "backends": ips})
    assert not validate(node).diagnostics


def test_ratelimiter_modes():
    from chainc.values import Rate, Size
    node = make_node("RateLimiter", {"rate": Rate(1e9, "bps", "1Gbps")})
    assert node.outputs == ("out",) and not validate(node).diagnostics
    node = make_node("RateLimiter", {"rate": Rate(1e9, "bps"), "mode": "trtcm"})
    assert node.outputs == ("green", "yellow", "red")
    assert "needs 'peak_rate'" in validate(node).errors[0].message
    node = make_node("RateLimiter", {"rate": Rate(1e6, "pps"), "burst": Size(1024)})
    assert "counts packets" in validate(node).errors[0].message
    assert not validate(make_node("RateLimiter", {"rate": Rate(1e6, "pps"), "burst": 64})).diagnostics


def test_sampler_needs_exactly_one_of_every_and_probability():
    assert validate(make_node("Sampler", {})).errors
    assert validate(make_node("Sampler", {"every": 10, "probability": 0.5})).errors
    assert not validate(make_node("Sampler", {"every": 10})).diagnostics
    assert "(0, 1]" in validate(make_node("Sampler", {"probability": 1.5})).errors[0].message


def test_vlanpush_ranges():
    assert not validate(make_node("VlanPush", {"vid": 100, "pcp": 7})).diagnostics
    msgs = [e.message for e in validate(make_node("VlanPush", {"vid": 4095, "pcp": 8})).errors]
    assert msgs == ["'vid' must be between 0 and 4094, got 4095", "'pcp' must be between 0 and 7, got 8"]


def test_firewall_default_accepts_the_usual_synonyms():
    from chainc.values import Symbol
    ptype = stdlib().get("Firewall").param("default").type
    assert [ptype.accept(Symbol(w)) for w in ("drop", "deny", "allow", "permit", "accept")] == [
        "deny", "deny", "allow", "allow", "allow"]
    with pytest.raises(TypeMismatch):
        ptype.accept(Symbol("maybe"))
