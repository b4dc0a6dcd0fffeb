"""VlanPop reference body, written from the NF's documentation."""

from chainc.nfs.reference import ReferenceNf

UNTAGGED, RUNT = -1, -2  # drop_reasons, in order
TPIDS = (0x8100, 0x88A8, 0x9100)


class Reference(ReferenceNf):
    def process(self, pkt, in_port):
        data = pkt.data
        if len(data) < 14:
            return RUNT
        if int.from_bytes(data[12:14], "big") not in TPIDS:
            return UNTAGGED if self.params["untagged"] == "drop" else 0
        if len(data) < 18:
            return RUNT
        del data[12:16]  # the outermost tag: TPID and TCI
        pkt.reparse()
        return 0
