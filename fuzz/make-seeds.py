#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the Linux 6.18 fixtures.

Reads every classic pcap of proto/tests/fixtures/linux-6.18/ directly (no
tshark) and writes, under fuzz/seeds/:

  packet/        every frame of every capture, one file each, named
                 <capture>-<frame number, 2 digits> (e.g. tfo-syn-data-03);
  tcp_options/   the TCP option bytes of each TCP frame, deduplicated, named
                 after the first frame that carried them;
  mptcp_option/  each MPTCP option (kind 30) of those, deduplicated, named
                 <subtype>-<capture>-<frame>[-<n-th option>].

The captures hold no ARP, ND, IPv6, SACK blocks or MPTCP subtypes beyond
MP_CAPABLE, MP_JOIN and DSS, so a few inputs are also built here, named
crafted-*: ARP request/reply, ICMPv6 NS/NA (with valid checksums: random
mutation would hardly find one), TCP over IPv6 and over IPv4 with IP options,
and option lists and MPTCP options of every other kind and subtype.

Existing files whose names start with "regress-" (inputs found by fuzzing,
kept as regression seeds) are left alone; everything else in the three
folders is rewritten, so the script can be re-run after the fixtures change.

Usage: python3 fuzz/make-seeds.py   (from anywhere)
"""

import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "proto" / "tests" / "fixtures" / "linux-6.18"
SEEDS = HERE / "seeds"

MPTCP_SUBTYPES = {
    0: "mp-capable",
    1: "mp-join",
    2: "dss",
    3: "add-addr",
    4: "remove-addr",
    5: "mp-prio",
    6: "mp-fail",
    7: "mp-fastclose",
    8: "mp-tcprst",
}


def read_pcap(path):
    """Yields the frames of a classic pcap with Ethernet link type."""
    data = path.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        order = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        order = ">"
    else:
        sys.exit(f"{path}: not a classic pcap (magic {magic:#x})")
    linktype = struct.unpack(order + "I", data[20:24])[0]
    if linktype != 1:
        sys.exit(f"{path}: link type {linktype}, expected Ethernet (1)")
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(order + "I", data[off + 8 : off + 12])[0]
        start = off + 16
        yield data[start : start + incl]
        off = start + incl


def tcp_options(frame):
    """The TCP option bytes of an IPv4/IPv6 TCP frame, or None."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack(">H", frame[12:14])[0]
    if ethertype == 0x0800 and len(frame) >= 34:
        l4 = 14 + (frame[14] & 0x0F) * 4
        proto = frame[23]
    elif ethertype == 0x86DD and len(frame) >= 54:
        l4 = 14 + 40
        proto = frame[20]
    else:
        return None
    if proto != 6 or len(frame) < l4 + 20:
        return None
    doff = (frame[l4 + 12] >> 4) * 4
    return frame[l4 + 20 : l4 + doff]


def mptcp_options(raw):
    """Each kind-30 option of an option list (walked like RFC 9293 §3.2)."""
    at = 0
    while at < len(raw):
        kind = raw[at]
        if kind == 0:
            break
        if kind == 1:
            at += 1
            continue
        if at + 1 >= len(raw) or raw[at + 1] < 2 or at + raw[at + 1] > len(raw):
            break
        n = raw[at + 1]
        if kind == 30:
            yield raw[at : at + n]
        at += n


def csum(data):
    """RFC 1071 checksum of data (odd length padded with a zero)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


MAC_A = bytes.fromhex("9639c8576619")
MAC_B = bytes.fromhex("0e9ee884a881")
V4_A, V4_B = bytes([10, 0, 1, 1]), bytes([10, 0, 1, 2])
V6_A = bytes.fromhex("fd000000000000000000000000000001")
V6_B = bytes.fromhex("fd000000000000000000000000000002")
LL_A = bytes.fromhex("fe800000000000009439c8fffe576619")
LL_B = bytes.fromhex("fe800000000000000c9ee8fffe84a881")
SOLICITED_B = bytes.fromhex("ff0200000000000000000001ff84a881")


def ether(dst, src, ethertype, payload, pad_to=60):
    frame = dst + src + struct.pack(">H", ethertype) + payload
    return frame + b"\0" * max(0, pad_to - len(frame))


def arp(op, sha, spa, tha, tpa):
    return struct.pack(">HHBBH", 1, 0x0800, 6, 4, op) + sha + spa + tha + tpa


def ipv6(src, dst, next_header, payload, hop_limit=64):
    head = struct.pack(">IHBB", 0x60000000, len(payload), next_header, hop_limit)
    return head + src + dst + payload


def pseudo6(src, dst, next_header, length):
    return src + dst + struct.pack(">IxxxB", length, next_header)


def icmpv6_nd(msg_type, flags, target, opt_type, mac, src, dst):
    body = struct.pack(">BBHB3x", msg_type, 0, 0, flags) + target
    body += bytes([opt_type, 1]) + mac
    c = csum(pseudo6(src, dst, 58, len(body)) + body)
    return body[:2] + struct.pack(">H", c) + body[4:]


def tcp(sport, dport, seq, ack, flags, options, payload, pseudo):
    doff = (20 + len(options)) // 4
    head = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 64240, 0, 0)
    seg = head + options + payload
    c = csum(pseudo(len(seg)) + seg)
    return seg[:16] + struct.pack(">H", c) + seg[18:]


def ipv4(src, dst, payload, options=b""):
    ihl = (20 + len(options)) // 4
    head = struct.pack(">BBHHHBBH", 0x40 | ihl, 0, 4 * ihl + len(payload), 0x1234, 0x4000, 64, 6, 0)
    head += src + dst + options
    c = csum(head)
    return head[:10] + struct.pack(">H", c) + head[12:] + payload


# A Linux-style SYN option block: MSS, SACK-permitted + timestamps, NOP +
# window scale, a 10-byte TFO cookie + NOP NOP... (here 8 bytes), MP_CAPABLE.
SYN_OPTIONS = bytes.fromhex(
    "020405a0 0402080a 00001234 00000000 01030307 220a0102030405060708 0101 1e040101"
    .replace(" ", "")
)


def crafted_packets():
    yield "crafted-arp-request", ether(b"\xff" * 6, MAC_A, 0x0806, arp(1, MAC_A, V4_A, bytes(6), V4_B))
    yield "crafted-arp-reply", ether(MAC_A, MAC_B, 0x0806, arp(2, MAC_B, V4_B, MAC_A, V4_A))
    ns = icmpv6_nd(135, 0, LL_B, 1, MAC_A, LL_A, SOLICITED_B)
    yield "crafted-nd-solicit", ether(bytes.fromhex("3333ff84a881"), MAC_A, 0x86DD, ipv6(LL_A, SOLICITED_B, 58, ns, 255))
    na = icmpv6_nd(136, 0x60, LL_B, 2, MAC_B, LL_B, LL_A)
    yield "crafted-nd-advert", ether(MAC_A, MAC_B, 0x86DD, ipv6(LL_B, LL_A, 58, na, 255))
    seg = tcp(41968, 80, 0x11223344, 0, 0x02, SYN_OPTIONS, b"hello",
              lambda n: pseudo6(V6_A, V6_B, 6, n))
    yield "crafted-tcp6-syn-data", ether(MAC_B, MAC_A, 0x86DD, ipv6(V6_A, V6_B, 6, seg))
    seg = tcp(41968, 80, 1, 2, 0x18, bytes.fromhex("0101080a0000000100000002"), b"GET /",
              lambda n: V4_A + V4_B + struct.pack(">xBH", 6, n))
    ip = ipv4(V4_A, V4_B, seg, options=bytes.fromhex("01010100"))
    yield "crafted-tcp4-ip-options", ether(MAC_B, MAC_A, 0x0800, ip)


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


CRAFTED_MPTCP = {
    "crafted-mp-join-syn": "1e0c1001 a1b2c3d4 01020304",
    "crafted-mp-join-synack": "1e101101 1122334455667788 01020304",
    "crafted-mp-join-ack": "1e181000 00112233445566778899aabbccddeeff00112233",
    "crafted-mp-capable-data-csum": "1e188101 1111111111111111 2222222222222222 0020 abcd",
    "crafted-dss-ack64-map64-csum": "1e1c200f 0000000000000001 0000000200000003 00000001 0005 82a1",
    "crafted-dss-map32-fin": "1e0e2014 00000010 00000001 0001",
    "crafted-add-addr-v4": "1e103005 0a000202 c602ee745bc690df",
    "crafted-add-addr-v4-port-echo": "1e0a3101 0a000202 1f90",
    "crafted-add-addr-v6-port": "1e1e3002 fd000000000000000000000000000002 0050 0000000000000001",
    "crafted-add-addr-v6-echo": "1e143102 fd000000000000000000000000000002",
    "crafted-remove-addr-3": "1e06400102 03",
    "crafted-mp-prio": "1e0351",
    "crafted-mp-fail": "1e0c6000 0102030405060708",
    "crafted-mp-fastclose": "1e0c7000 1122334455667788",
    "crafted-mp-tcprst": "1e048103",
    "crafted-private": "1e05f00102",
}

CRAFTED_OPTIONS = {
    "crafted-sack-1": "0101050a 00000001 00000010",
    "crafted-sack-4": "0522 00000001 00000002 00000003 00000004 00000005 00000006 00000007 00000008",
    "crafted-ts-sack-3": "0101080a 00000001 00000002 0101051a 0000000a 00000014 0000001e 00000028 00000032 0000003c",
    "crafted-tfo-exp": "fe0cf989 0102030405060708 0101",
    "crafted-tfo-request": "020405b4 2202 0101",
    "crafted-unknown-kinds": "1304abcd 0101 4c02 000000",
    "crafted-fastclose-tcprst": "1e0c7000 1122334455667788 1e048001",
}


def reset(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.iterdir():
        if f.is_file() and not f.name.startswith("regress-"):
            f.unlink()


def main():
    captures = sorted(FIXTURES.glob("*.pcap"))
    if not captures:
        sys.exit(f"no captures in {FIXTURES}")
    dirs = {name: SEEDS / name for name in ("packet", "tcp_options", "mptcp_option")}
    for d in dirs.values():
        reset(d)
    seen_opts, seen_mptcp = set(), set()
    counts = dict.fromkeys(dirs, 0)
    for cap in captures:
        stem = cap.stem
        for number, frame in enumerate(read_pcap(cap), start=1):
            name = f"{stem}-{number:02d}"
            (dirs["packet"] / name).write_bytes(frame)
            counts["packet"] += 1
            raw = tcp_options(frame)
            if not raw:
                continue
            if raw not in seen_opts:
                seen_opts.add(raw)
                (dirs["tcp_options"] / name).write_bytes(raw)
                counts["tcp_options"] += 1
            for i, opt in enumerate(mptcp_options(raw)):
                if opt in seen_mptcp:
                    continue
                seen_mptcp.add(opt)
                sub = MPTCP_SUBTYPES.get(opt[2] >> 4, "unknown") if len(opt) > 2 else "short"
                suffix = f"-{i + 1}" if i else ""
                (dirs["mptcp_option"] / f"{sub}-{name}{suffix}").write_bytes(opt)
                counts["mptcp_option"] += 1
    for name, frame in crafted_packets():
        (dirs["packet"] / name).write_bytes(frame)
        counts["packet"] += 1
    for name, text in CRAFTED_OPTIONS.items():
        (dirs["tcp_options"] / name).write_bytes(h(text))
        counts["tcp_options"] += 1
    for name, text in CRAFTED_MPTCP.items():
        opt = h(text)
        assert opt[1] == len(opt), name
        (dirs["mptcp_option"] / name).write_bytes(opt)
        (dirs["tcp_options"] / name).write_bytes(opt)
        counts["mptcp_option"] += 1
        counts["tcp_options"] += 1
    for k, n in counts.items():
        print(f"{k}: {n} seeds")


if __name__ == "__main__":
    main()
