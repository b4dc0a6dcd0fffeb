"""SpecsOnly: an NF declared but not yet written (no reference or native body)."""

from chainc.nfs.spec import NfSpec

SPEC = NfSpec(name="SpecsOnly", doc="An NF with a spec and no bodies, for the simulator's error path.")
