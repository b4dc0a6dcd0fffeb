from chainc.nfs.reference import ReferenceNf


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        self.counters = {"tagged": 0}
        self.finished = False

    def process(self, pkt, in_port):
        pkt.data.append(in_port)
        self.counters["tagged"] += 1
        return 0

    def finish(self):
        self.finished = True
