"""Classic pcap files: read and write Ethernet captures without libpcap.

Both byte orders and both timestamp resolutions (microsecond magic
0xa1b2c3d4, nanosecond magic 0xa1b23c4d) are read; files are written in
native byte order. Only LINKTYPE_ETHERNET (1) is accepted, since every chain
starts at an Ethernet header. pcapng files are recognised and rejected with
a hint. Every error names the file (and the record, for a bad record).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

LINKTYPE_ETHERNET = 1
MAGIC_US = 0xA1B2C3D4
MAGIC_NS = 0xA1B23C4D
PCAPNG_MAGIC = 0x0A0D0D0A
DEFAULT_SNAPLEN = 262144
MAX_RECORD = 262144  # larger records mean a corrupt file, not a big packet

_RECORD_HEADER_LEN = 16

_LINKTYPE_NAMES = {0: "BSD loopback", 101: "raw IP", 105: "802.11", 113: "Linux cooked (SLL)",
                   127: "802.11 radiotap", 228: "raw IPv4", 229: "raw IPv6", 276: "Linux cooked v2"}


class PcapError(Exception):
    """A pcap file that cannot be read or written; the message names the file."""


@dataclass(frozen=True)
class PcapPacket:
    ts_ns: int  # capture time, nanoseconds since the epoch
    data: bytes
    orig_len: int | None = None  # length on the wire, when larger than len(data)

    @property
    def wire_len(self) -> int:
        return self.orig_len if self.orig_len is not None else len(self.data)


@dataclass(frozen=True)
class PcapHeader:
    byte_order: str  # "<" or ">"
    nanosecond: bool
    version: tuple[int, int]
    snaplen: int
    linktype: int


def _read_header(f: BinaryIO, path: str) -> PcapHeader:
    raw = f.read(24)
    if len(raw) < 24:
        if not raw:
            raise PcapError(f"{path}: empty file, not a pcap capture")
        raise PcapError(f"{path}: truncated pcap file header ({len(raw)} of 24 bytes)")
    for order in ("<", ">"):
        magic = struct.unpack(order + "I", raw[:4])[0]
        if magic in (MAGIC_US, MAGIC_NS):
            break
    else:
        if struct.unpack("<I", raw[:4])[0] == PCAPNG_MAGIC:
            raise PcapError(f"{path}: is a pcapng file; chainc reads classic pcap "
                            f"(convert it with `editcap -F pcap {path} out.pcap`)")
        raise PcapError(f"{path}: not a pcap file (bad magic number 0x{raw[:4].hex()})")
    _magic, major, minor, _zone, _sigfigs, snaplen, network = struct.unpack(order + "IHHiIII", raw)
    linktype = network & 0x0FFFFFFF  # the top bits may hold FCS information
    if linktype != LINKTYPE_ETHERNET:
        name = _LINKTYPE_NAMES.get(linktype, "not Ethernet")
        raise PcapError(f"{path}: link type {linktype} ({name}) is not supported; "
                        f"chainc reads Ethernet captures (link type 1)")
    return PcapHeader(order, magic == MAGIC_NS, (major, minor), snaplen, linktype)


class PcapReader:
    """Stream the packets of a pcap file: `with PcapReader(p) as r: for pkt in r: ...`."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = str(path)
        try:
            self._f: BinaryIO = open(self.path, "rb")
        except OSError as exc:
            raise PcapError(f"{self.path}: cannot open: {exc.strerror or exc}") from None
        try:
            self.header = _read_header(self._f, self.path)
        except BaseException:
            self._f.close()
            raise
        self._rec = struct.Struct(self.header.byte_order + "IIII")
        self._index = 0
        self._size = os.fstat(self._f.fileno()).st_size  # for skip's truncation check

    def __enter__(self) -> "PcapReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()

    def __iter__(self) -> Iterator[PcapPacket]:
        return self

    def _next_header(self) -> tuple[int, int, int, int] | None:
        raw = self._f.read(_RECORD_HEADER_LEN)
        if not raw:
            return None
        if len(raw) < _RECORD_HEADER_LEN:
            raise PcapError(f"{self.path}: record {self._index} is truncated "
                            f"(record header has {len(raw)} of 16 bytes)")
        sec, frac, incl, orig = self._rec.unpack(raw)
        if incl > MAX_RECORD:
            raise PcapError(f"{self.path}: record {self._index} claims {incl} bytes, "
                            f"more than {MAX_RECORD}: the file is corrupt")
        return sec, frac, incl, orig

    def __next__(self) -> PcapPacket:
        hdr = self._next_header()
        if hdr is None:
            raise StopIteration
        sec, frac, incl, orig = hdr
        data = self._f.read(incl)
        if len(data) < incl:
            raise PcapError(f"{self.path}: record {self._index} is truncated "
                            f"({len(data)} of {incl} bytes of packet data)")
        self._index += 1
        ts = sec * 1_000_000_000 + (frac if self.header.nanosecond else frac * 1000)
        return PcapPacket(ts, data, orig if orig > incl else None)

    def skip(self) -> bool:
        """Step over one record without reading its body; False at the end of the file."""
        hdr = self._next_header()
        if hdr is None:
            return False
        incl = hdr[2]
        here = self._f.tell()
        if here + incl > self._size:
            raise PcapError(f"{self.path}: record {self._index} is truncated "
                            f"({self._size - here} of {incl} bytes of packet data)")
        self._f.seek(here + incl)
        self._index += 1
        return True


def iter_pcap(path: str | os.PathLike[str]) -> Iterator[PcapPacket]:
    """Yield a file's packets one at a time (the file is closed at the end)."""
    with PcapReader(path) as reader:
        yield from reader


def read_pcap(path: str | os.PathLike[str]) -> list[PcapPacket]:
    with PcapReader(path) as reader:
        return list(reader)


def count_packets(path: str | os.PathLike[str]) -> int:
    """The number of records, reading only record headers."""
    n = 0
    with PcapReader(path) as reader:
        while reader.skip():
            n += 1
    return n


class PcapWriter:
    """Write packets to a pcap file as they come: `with PcapWriter(p) as w: w.write(pkt)`."""

    def __init__(self, path: str | os.PathLike[str], nanosecond: bool = True,
                 snaplen: int = DEFAULT_SNAPLEN):
        self.path = str(path)
        self.nanosecond = nanosecond
        self.snaplen = snaplen
        try:
            self._f: BinaryIO = open(self.path, "wb")
        except OSError as exc:
            raise PcapError(f"{self.path}: cannot create: {exc.strerror or exc}") from None
        magic = MAGIC_NS if nanosecond else MAGIC_US
        self._f.write(struct.pack("=IHHiIII", magic, 2, 4, 0, 0, snaplen, LINKTYPE_ETHERNET))
        self._rec = struct.Struct("=IIII")
        self.count = 0

    def __enter__(self) -> "PcapWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()

    def write(self, packet: PcapPacket | bytes | bytearray, ts_ns: int | None = None) -> None:
        if isinstance(packet, PcapPacket):
            data, ts, orig = packet.data, packet.ts_ns, packet.wire_len
        else:
            data, ts, orig = bytes(packet), 0, len(packet)
        if ts_ns is not None:
            ts = ts_ns
        if ts < 0:
            raise PcapError(f"{self.path}: packet {self.count}: negative timestamp {ts}")
        data = data[: self.snaplen]
        sec, ns = divmod(ts, 1_000_000_000)
        frac = ns if self.nanosecond else ns // 1000
        self._f.write(self._rec.pack(sec, frac, len(data), max(orig, len(data))))
        self._f.write(data)
        self.count += 1


def write_pcap(path: str | os.PathLike[str], packets: Iterable[PcapPacket | bytes | bytearray],
               nanosecond: bool = True) -> int:
    """Write packets (PcapPacket, or raw frames with timestamp 0); returns the count."""
    with PcapWriter(path, nanosecond=nanosecond) as writer:
        for pkt in packets:
            writer.write(pkt)
        return writer.count


__all__ = ["PcapError", "PcapPacket", "PcapReader", "PcapWriter", "count_packets", "iter_pcap",
           "read_pcap", "write_pcap", "LINKTYPE_ETHERNET"]
