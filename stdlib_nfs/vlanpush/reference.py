"""VlanPush reference body, written from the NF's documentation."""

import struct

from chainc.nfs.reference import ReferenceNf

RUNT = -1  # drop_reasons[0]


class Reference(ReferenceNf):
    def __init__(self, node):
        super().__init__(node)
        p = self.params
        tpid = 0x88A8 if p["tpid"] == "802.1ad" else 0x8100
        priority_and_dei = p["pcp"] * 2 + (1 if p["dei"] else 0)  # the TCI's top 4 bits
        self.tag = struct.pack("!HH", tpid, priority_and_dei * 4096 + p["vid"])

    def process(self, pkt, in_port):
        if len(pkt.data) < 14:
            return RUNT
        pkt.data[12:12] = self.tag  # after the two MAC addresses; a simulated frame has room
        pkt.reparse()
        return 0
