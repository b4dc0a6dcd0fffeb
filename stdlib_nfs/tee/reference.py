"""Tee reference body: the packet leaves on `out`, an independent copy on `copy`."""

from chainc.nfs.reference import ReferenceNf

OUT, COPY = 0, 1


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        self.counters = {"copied": 0, "copy_failed": 0}

    def process(self, pkt, in_port):
        # The simulator never runs out of buffers, so a copy never fails here.
        self.emit(pkt.copy(self.params["snaplen"]), COPY)
        self.counters["copied"] += 1
        return OUT
