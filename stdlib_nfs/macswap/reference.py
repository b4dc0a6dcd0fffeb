"""MacSwap reference body."""

from chainc.nfs.reference import ReferenceNf

ETHER_HEADER = 14
RUNT = -1  # drop_reasons[0] == "runt"


class Reference(ReferenceNf):
    def process(self, pkt, in_port):
        data = pkt.data
        if len(data) < ETHER_HEADER:
            return RUNT
        dst = bytes(data[0:6])
        data[0:6] = data[6:12]
        data[6:12] = dst
        return 0
