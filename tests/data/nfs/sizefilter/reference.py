"""SizeFilter reference body: written from the spec's description, not from native.pxd."""

from chainc.nfs.reference import ReferenceNf

TOO_SHORT = -1  # -(1 + 0): drop_reasons[0]
TOO_LONG = -2   # -(1 + 1): drop_reasons[1]


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        self.counters = {"passed": 0}

    def process(self, pkt, in_port):
        size = len(pkt.data)
        if size < self.params["min"]:
            return TOO_SHORT
        if size > self.params["max"]:
            return TOO_LONG
        self.counters["passed"] += 1
        return 0  # outputs[0] == "out"
