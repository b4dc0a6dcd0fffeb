"""Classic pcap files: round trips, both byte orders and resolutions, and broken files."""

from __future__ import annotations

import struct

import pytest
from scapy.all import IP, UDP, Ether, rdpcap, wrpcap

from chainc.pcapfile import (LINKTYPE_ETHERNET, PcapError, PcapPacket, PcapReader, PcapWriter,
                             count_packets, iter_pcap, read_pcap, write_pcap)


def frames(n=5):
    return [bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(dst=f"10.0.0.{i}")
                  / UDP(sport=1000 + i, dport=53) / (b"x" * i)) for i in range(n)]


def _header(order, magic, linktype=LINKTYPE_ETHERNET, snaplen=65535):
    return struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def _record(order, sec, frac, data, orig=None):
    return struct.pack(order + "IIII", sec, frac, len(data), orig or len(data)) + data


@pytest.mark.parametrize("nanosecond", [True, False])
def test_round_trip(tmp_path, nanosecond):
    path = tmp_path / "t.pcap"
    pkts = [PcapPacket(1_700_000_000_123_456_000 + i * 1000, f) for i, f in enumerate(frames())]
    assert write_pcap(path, pkts, nanosecond=nanosecond) == 5
    back = read_pcap(path)
    assert back == pkts  # microsecond timestamps above are whole microseconds
    assert count_packets(path) == 5
    assert list(iter_pcap(path)) == pkts


def test_nanosecond_precision_survives(tmp_path):
    path = tmp_path / "ns.pcap"
    write_pcap(path, [PcapPacket(1_000_000_001, b"\x00" * 60)])
    assert read_pcap(path)[0].ts_ns == 1_000_000_001
    write_pcap(path, [PcapPacket(1_000_000_001, b"\x00" * 60)], nanosecond=False)
    assert read_pcap(path)[0].ts_ns == 1_000_000_000  # truncated to microseconds


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("magic,scale", [(0xA1B2C3D4, 1000), (0xA1B23C4D, 1)])
def test_reads_both_byte_orders_and_resolutions(tmp_path, order, magic, scale):
    path = tmp_path / "x.pcap"
    data = frames(2)
    path.write_bytes(_header(order, magic) + _record(order, 10, 5, data[0])
                     + _record(order, 11, 7, data[1], orig=1500))
    pkts = read_pcap(path)
    assert [p.data for p in pkts] == data
    assert [p.ts_ns for p in pkts] == [10 * 10**9 + 5 * scale, 11 * 10**9 + 7 * scale]
    assert pkts[0].orig_len is None and pkts[1].orig_len == 1500 and pkts[1].wire_len == 1500
    with PcapReader(path) as r:
        assert r.header.byte_order == order and r.header.nanosecond == (scale == 1)
    assert count_packets(path) == 2


def test_scapy_reads_what_we_write_and_we_read_what_scapy_writes(tmp_path):
    ours = tmp_path / "ours.pcap"
    write_pcap(ours, [PcapPacket(2 * 10**9, f) for f in frames(3)])
    assert [bytes(p) for p in rdpcap(str(ours))] == frames(3)
    theirs = tmp_path / "theirs.pcap"
    wrpcap(str(theirs), [Ether(f) for f in frames(4)])
    assert [p.data for p in read_pcap(theirs)] == frames(4)


def test_writer_streams_and_accepts_raw_bytes(tmp_path):
    path = tmp_path / "w.pcap"
    with PcapWriter(path) as w:
        w.write(frames(1)[0])
        w.write(bytearray(b"\x01" * 20), ts_ns=5)
        assert w.count == 2
    pkts = read_pcap(path)
    assert pkts[0].ts_ns == 0 and pkts[1] == PcapPacket(5, b"\x01" * 20)


def test_empty_capture(tmp_path):
    path = tmp_path / "e.pcap"
    write_pcap(path, [])
    assert read_pcap(path) == [] and count_packets(path) == 0


def test_truncated_record_body_names_file_and_record(tmp_path):
    path = tmp_path / "trunc.pcap"
    data = frames(3)
    blob = _header("<", 0xA1B2C3D4) + b"".join(_record("<", 0, 0, d) for d in data)
    path.write_bytes(blob[:-5])
    with pytest.raises(PcapError) as err:
        read_pcap(path)
    assert str(path) in str(err.value) and "record 2 is truncated" in str(err.value)
    with pytest.raises(PcapError, match="record 2 is truncated"):
        count_packets(path)


def test_truncated_record_header(tmp_path):
    path = tmp_path / "trunc.pcap"
    path.write_bytes(_header("<", 0xA1B2C3D4) + _record("<", 0, 0, frames(1)[0]) + b"\x00" * 7)
    with pytest.raises(PcapError, match=r"record 1 is truncated \(record header has 7 of 16"):
        read_pcap(path)


def test_not_ethernet_is_rejected_with_the_file_named(tmp_path):
    path = tmp_path / "raw.pcap"
    path.write_bytes(_header("<", 0xA1B2C3D4, linktype=101))
    with pytest.raises(PcapError) as err:
        read_pcap(path)
    assert str(err.value).startswith(f"{path}: link type 101 (raw IP) is not supported")


def test_bad_magic_pcapng_empty_and_missing(tmp_path):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"hello world, not a capture at all")
    with pytest.raises(PcapError, match="not a pcap file"):
        read_pcap(bad)
    ng = tmp_path / "x.pcapng"
    ng.write_bytes(struct.pack("<I", 0x0A0D0D0A) + b"\x00" * 28)
    with pytest.raises(PcapError, match="is a pcapng file"):
        read_pcap(ng)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(PcapError, match="empty file"):
        read_pcap(empty)
    short = tmp_path / "short.pcap"
    short.write_bytes(b"\xd4\xc3\xb2\xa1\x02\x00")
    with pytest.raises(PcapError, match="truncated pcap file header"):
        read_pcap(short)
    with pytest.raises(PcapError, match="cannot open"):
        read_pcap(tmp_path / "missing.pcap")


def test_absurd_record_length_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "c.pcap"
    path.write_bytes(_header("<", 0xA1B2C3D4) + struct.pack("<IIII", 0, 0, 10**9, 10**9))
    with pytest.raises(PcapError, match="record 0 claims 1000000000 bytes"):
        read_pcap(path)


def test_count_packets_does_not_read_bodies(tmp_path, monkeypatch):
    path = tmp_path / "big.pcap"
    write_pcap(path, [PcapPacket(0, bytes(1500))] * 200)
    reads = []
    real_next = PcapReader.__next__
    monkeypatch.setattr(PcapReader, "__next__", lambda self: reads.append(1) or real_next(self))
    assert count_packets(path) == 200
    assert reads == []


def test_fcs_bits_in_linktype_are_ignored(tmp_path):
    path = tmp_path / "fcs.pcap"
    path.write_bytes(_header("<", 0xA1B2C3D4, linktype=0x10000000 | LINKTYPE_ETHERNET)
                     + _record("<", 0, 0, frames(1)[0]))
    assert len(read_pcap(path)) == 1


