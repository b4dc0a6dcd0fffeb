from chainc.nfs.reference import ReferenceNf


class Reference(ReferenceNf):
    def process(self, pkt, in_port):
        return {1: 3, 2: -5}.get(len(pkt.data), 0)
