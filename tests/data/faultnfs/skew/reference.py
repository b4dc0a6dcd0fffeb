from chainc.nfs.reference import ReferenceNf


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        self.seen = 0

    def process(self, pkt, in_port):
        self.seen += 1
        if self.seen > self.params["after"] and len(pkt.data) % 5 == 3:
            return -1  # skewed
        return 0
