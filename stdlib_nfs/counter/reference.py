"""Counter reference body."""

from chainc.nfs.reference import ReferenceNf


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        self.counters = {"packets": 0, "bytes": 0}

    def process(self, pkt, in_port):
        self.counters["packets"] += 1
        self.counters["bytes"] += len(pkt.data)
        return 0
