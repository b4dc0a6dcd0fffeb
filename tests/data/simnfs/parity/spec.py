from chainc.nfs.spec import NfSpec

SPEC = NfSpec(name="Parity", doc="Even-length frames to `even`, odd to `odd`, empty ones dropped.",
              outputs=("even", "odd"), drop_reasons=("empty",))
