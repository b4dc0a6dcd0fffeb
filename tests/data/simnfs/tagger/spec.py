from chainc.nfs.spec import NfSpec

SPEC = NfSpec(name="Tagger", doc="Append the input port index to the frame.",
              inputs=("a", "b"), outputs=("out",))
