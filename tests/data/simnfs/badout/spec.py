from chainc.nfs.spec import NfSpec

SPEC = NfSpec(name="BadOut", doc="Returns an output index it does not have, or an unlisted drop.",
              outputs=("out",), drop_reasons=("one",))
