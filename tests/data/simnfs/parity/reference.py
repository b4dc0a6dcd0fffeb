from chainc.nfs.reference import ReferenceNf


class Reference(ReferenceNf):
    def process(self, pkt, in_port):
        if not pkt.data:
            return -1
        return len(pkt.data) % 2
