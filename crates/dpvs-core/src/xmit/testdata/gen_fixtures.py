#!/usr/bin/env python3
"""Builds the xmit test fixtures with scapy, independently of the Rust code.

Every expected frame is built from scratch (scapy computes all checksums), never by
patching the input, so the byte comparison in the Rust tests checks the incremental
updates against full recomputes. Run from this directory:

    python3 gen_fixtures.py > ../fixtures.rs

The Rust tests do not need Python; this script documents where the bytes come from.
"""
from scapy.all import (Ether, Dot1Q, IP, IPv6, TCP, UDP, ICMP, ICMPv6EchoRequest,
                       ICMPv6EchoReply, ICMPv6DestUnreach, ICMPv6PacketTooBig,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, IPv6ExtHdrFragment, GRE, Raw, raw)

OUR_MAC, NH_MAC, PEER_MAC = "02:00:00:00:00:01", "52:54:00:ab:cd:ef", "52:54:00:12:34:56"

# Flows (mirrored in testutil.rs).
F4 = dict(client=("192.168.1.10", 43210), vip=("10.0.0.1", 80), local=("10.0.1.5", 5001),
          real=("172.16.0.9", 8080))
F6 = dict(client=("2001:db8:c::10", 43210), vip=("2001:db8:a::1", 80), local=("2001:db8:1::5", 5001),
          real=("2001:db8:b::9", 8080))
TUN_SRC4, TUN_SRC6 = "198.51.100.1", "2001:db8:1::1"
REAL4, REAL6 = "172.16.0.9", "2001:db8:b::9"
GUE_PORT, ENTROPY, IDENT = 6080, 0x12345678, 0x4242
GUE_SPORT = ((ENTROPY * (60999 - 32768)) >> 32) + 32768

out = []


def emit(name, pkt, comment):
    b = raw(pkt) if not isinstance(pkt, bytes) else pkt
    out.append(f"/// {comment}")
    out.append(f"pub(crate) const {name}: &[u8] = &[")
    for i in range(0, len(b), 16):
        out.append("    " + " ".join(f"0x{x:02x}," for x in b[i:i + 16]))
    out.append("];")


def ip(fam, src, dst, ttl=64, df=True, tos=0, ident=0x1234, options=None):
    if fam == 4:
        kw = dict(src=src, dst=dst, ttl=ttl, tos=tos, id=ident, flags="DF" if df else 0)
        if options:
            kw["options"] = options
        return IP(**kw)
    return IPv6(src=src, dst=dst, hlim=ttl, tc=tos, fl=0x12345)


def eth(mac_dst, mac_src, vlan=None):
    e = Ether(dst=mac_dst, src=mac_src)
    return e / Dot1Q(vlan=vlan) if vlan else e


def l4(kind, fam, sport, dport, reply=False, ident=0x77):
    if kind == "syn":
        return TCP(sport=sport, dport=dport, seq=0x01020304, flags="S", window=64240,
                   options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (12345678, 0)), ("NOP", None),
                            ("WScale", 7)])
    if kind == "ack":
        return TCP(sport=sport, dport=dport, seq=0x01020305, ack=0xa0b0c0d0, flags="PA", window=502) / \
            Raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    if kind == "udp":
        return UDP(sport=sport, dport=dport) / Raw(b"dns query bytes!")
    if kind == "udp0":
        return UDP(sport=sport, dport=dport, chksum=0) / Raw(b"no checksum")
    if kind == "echo":
        if fam == 4:
            return ICMP(type=0 if reply else 8, id=ident, seq=3) / Raw(b"ping payload")
        cls = ICMPv6EchoReply if reply else ICMPv6EchoRequest
        return cls(id=ident, seq=3, data=b"ping payload")
    raise ValueError(kind)


def frame(fam, src, dst, kind, ttl=64, mac=(OUR_MAC, PEER_MAC), vlan=None, df=True, reply=False,
          options=None, tos=0, hbh=False, ident=0x77):
    s, d = src, dst
    p = eth(mac[0], mac[1], vlan) / ip(fam, s[0], d[0], ttl=ttl, df=df, tos=tos, options=options)
    if hbh:
        p = p / IPv6ExtHdrHopByHop()
    return p / l4(kind, fam, s[1], d[1], reply=reply, ident=ident)


OUT = (NH_MAC, OUR_MAC)

# ---- NAT / full-NAT / DR data packets ----
for fam, f in ((4, F4), (6, F6)):
    kinds = ["syn", "ack", "udp", "echo"] + (["udp0"] if fam == 4 else [])
    for kind in kinds:
        df = kind not in ("udp", "udp0")
        tag = f"{kind.upper()}{fam}"
        c, v, lo, r = f["client"], f["vip"], f["local"], f["real"]
        # Client -> VIP as received; RS -> client as received (NAT), RS -> LIP (full-NAT).
        emit(f"IN_{tag}", frame(fam, c, v, kind, df=df), f"client -> VIP, {kind}, IPv{fam}")
        emit(f"NAT_IN_{tag}", frame(fam, c, r, kind, ttl=63, mac=OUT, df=df), "NAT in: dst -> RS")
        # Full-NAT echo: the identifier becomes the local port on the way in (the RS answers
        # to it) and the client's identifier (the flow's client port) on the way out.
        fid = dict(ident=lo[1]) if kind == "echo" else {}
        cid = dict(ident=c[1]) if kind == "echo" else {}
        emit(f"FNAT_IN_{tag}", frame(fam, lo, r, kind, ttl=63, mac=OUT, df=df, **fid),
             "full-NAT in: src -> LIP, dst -> RS" + (", identifier -> lport" if fid else ""))
        emit(f"DR_{tag}", frame(fam, c, v, kind, ttl=63, mac=OUT, df=df), "DR: MACs and TTL")
        emit(f"NAT_REPLY_{tag}", frame(fam, r, c, kind, df=df, reply=True), "RS -> client (NAT)")
        emit(f"NAT_OUT_{tag}", frame(fam, v, c, kind, ttl=63, mac=OUT, df=df, reply=True), "NAT out: src -> VIP")
        emit(f"FNAT_REPLY_{tag}", frame(fam, r, lo, kind, df=df, reply=True, **fid), "RS -> LIP (full-NAT)")
        emit(f"FNAT_OUT_{tag}", frame(fam, v, c, kind, ttl=63, mac=OUT, df=df, reply=True, **cid),
             "full-NAT out: src -> VIP, dst -> client" + (", identifier -> the client's" if cid else ""))

# MSS clamp on a full-NAT SYN (1460 -> 1400).
for fam, f in ((4, F4), (6, F6)):
    p = frame(fam, f["local"], f["real"], "syn", ttl=63, mac=OUT)
    p[TCP].options = [("MSS", 1400), ("SAckOK", b""), ("Timestamp", (12345678, 0)), ("NOP", None), ("WScale", 7)]
    emit(f"FNAT_IN_SYN{fam}_MSS1400", p, "full-NAT in SYN, MSS clamped to 1400")

# DPVS's TOA (kind 254) after full-NAT of the first data segment.
import struct, ipaddress
for fam, f in ((4, F4), (6, F6)):
    p = frame(fam, f["local"], f["real"], "ack", ttl=63, mac=OUT)
    caddr = ipaddress.ip_address(f["client"][0]).packed
    p[TCP].options = [(254, struct.pack("!H", f["client"][1]) + caddr)]
    emit(f"FNAT_IN_ACK{fam}_TOA", p, "full-NAT in, first data segment with TOA")

# VLAN tag, IPv4 options, IPv6 hop-by-hop header.
emit("IN_ACK4_VLAN", frame(4, F4["client"], F4["vip"], "ack", vlan=100), "tagged client -> VIP")
emit("NAT_IN_ACK4_VLAN", frame(4, F4["client"], F4["real"], "ack", ttl=63, mac=OUT, vlan=100), "tagged NAT in")
OPTS = b"\x94\x04\x00\x00\x01\x01\x01\x00"  # router alert, NOP, NOP, NOP, EOL
emit("IN_UDP4_OPTS", frame(4, F4["client"], F4["vip"], "udp", df=False, options=OPTS), "IPv4 options")
emit("FNAT_IN_UDP4_OPTS", frame(4, F4["local"], F4["real"], "udp", ttl=63, mac=OUT, df=False, options=OPTS),
     "full-NAT in with IPv4 options kept")
emit("IN_UDP6_HBH", frame(6, F6["client"], F6["vip"], "udp", hbh=True), "IPv6 hop-by-hop header")
emit("FNAT_IN_UDP6_HBH", frame(6, F6["local"], F6["real"], "udp", ttl=63, mac=OUT, hbh=True),
     "full-NAT in with the hop-by-hop header kept")

# IPv6 routing header and fragment header (refused).
emit("IN_UDP6_RH", eth(OUR_MAC, PEER_MAC) / ip(6, F6["client"][0], F6["vip"][0]) /
     IPv6ExtHdrRouting(addresses=["2001:db8::99"], segleft=1) / l4("udp", 6, 43210, 80), "routing header")
emit("IN_UDP6_FRAG", eth(OUR_MAC, PEER_MAC) / ip(6, F6["client"][0], F6["vip"][0]) /
     IPv6ExtHdrFragment(id=7, m=1) / l4("udp", 6, 43210, 80), "first fragment")

# ---- tunnels ----
def ecn_enc(tos):
    return (tos & ~3) | (2 if tos & 3 == 3 else tos & 3)


def tunnel(inner, outer_fam, kind, csum=False, tos=0, df=True):
    inner_fam = 4 if IP in inner else 6
    inner_ip = inner[IP] if inner_fam == 4 else inner[IPv6]
    inner_bytes = raw(inner_ip)
    ttl = inner_ip.ttl if inner_fam == 4 else inner_ip.hlim
    pr = 4 if inner_fam == 4 else 41
    if kind == "ipip":
        payload, proto = Raw(inner_bytes), pr
    elif kind == "gue":
        u = UDP(sport=GUE_SPORT, dport=GUE_PORT) if csum else UDP(sport=GUE_SPORT, dport=GUE_PORT, chksum=0)
        payload, proto = u / Raw(bytes([0, pr, 0, 0]) + inner_bytes), 17
    else:
        g = GRE(chksum_present=1, proto=0x0800 if inner_fam == 4 else 0x86dd) if csum else \
            GRE(proto=0x0800 if inner_fam == 4 else 0x86dd)
        payload, proto = g / Raw(inner_bytes), 47
    if outer_fam == 4:
        odf = df if inner_fam == 4 else False
        o = IP(src=TUN_SRC4, dst=REAL4, ttl=ttl, tos=ecn_enc(tos), id=0 if odf else IDENT,
               flags="DF" if odf else 0, proto=proto)
    else:
        o = IPv6(src=TUN_SRC6, dst=REAL6, hlim=ttl, tc=ecn_enc(tos), fl=0, nh=proto)
    return Ether(dst=NH_MAC, src=OUR_MAC) / o / payload


for fam, f in ((4, F4), (6, F6)):
    for kind in ("ack", "udp"):
        df = kind == "ack"
        tos = 0xb8 if kind == "ack" else 0x2b  # EF/not-ECT, and AF11 with CE
        inp = frame(fam, f["client"], f["vip"], kind, df=df, tos=tos)
        emit(f"TUN_IN_{kind.upper()}{fam}", inp, f"client -> VIP for a tunnel, IPv{fam}, tos {tos:#x}")
        inner = frame(fam, f["client"], f["vip"], kind, ttl=63, df=df, tos=tos)
        for ofam in (4, 6):
            for tk, cs in (("ipip", False), ("gue", False), ("gue", True), ("gre", False), ("gre", True)):
                name = f"TUN_{tk.upper()}{'_CSUM' if cs else ''}_{kind.upper()}{fam}_IN{ofam}"
                emit(name, tunnel(inner, ofam, tk, csum=cs, tos=tos, df=df),
                     f"{tk}{' with checksum' if cs else ''}: IPv{fam} in IPv{ofam}")

# ---- ICMP errors ----
def quote(pkt, n=None):
    b = raw(pkt)
    return b if n is None else b[:n]


def icmp4_err(src, dst, typ, code, quoted, mtu=0, ttl=64):
    e = Ether(dst=OUR_MAC, src=PEER_MAC) if ttl == 64 else Ether(dst=NH_MAC, src=OUR_MAC)
    return e / IP(src=src, dst=dst, ttl=ttl, id=0x99) / ICMP(type=typ, code=code, nexthopmtu=mtu) / Raw(quoted)


def icmp6_err(src, dst, cls, quoted, ttl=64, **kw):
    e = Ether(dst=OUR_MAC, src=PEER_MAC) if ttl == 64 else Ether(dst=NH_MAC, src=OUR_MAC)
    return e / IPv6(src=src, dst=dst, hlim=ttl) / cls(**kw) / Raw(quoted)


def sent(fam, s, d, kind, reply=False):
    return ip(fam, s[0], d[0], ttl=63) / l4(kind, fam, s[1], d[1], reply=reply)


# v4: (name, method, direction, kind, quote length, icmp type/code/mtu)
for name, meth, dirn, kind, qlen, (typ, code, mtu) in (
        ("PORT_UNREACH_UDP", "NAT", "OUT", "udp", None, (3, 3, 0)),
        ("FRAG_NEEDED_ACK", "NAT", "OUT", "ack", 28, (3, 4, 1400)),
        ("PORT_UNREACH_UDP", "NAT", "IN", "udp", None, (3, 3, 0)),
        ("PORT_UNREACH_UDP", "FNAT", "OUT", "udp", None, (3, 3, 0)),
        ("FRAG_NEEDED_ACK", "FNAT", "OUT", "ack", 28, (3, 4, 1400)),
        ("TIME_EXCEEDED_ACK", "FNAT", "IN", "ack", 48, (11, 0, 0)),
        ("HOST_UNREACH_ECHO", "FNAT", "OUT", "echo", None, (3, 1, 0))):
    f = F4
    c, v, lo, r = f["client"], f["vip"], f["local"], f["real"]
    router = "172.16.0.254"
    if dirn == "OUT":
        # Error from the RS side about the packet we sent to the RS.
        qs, qd = (c, r) if meth == "NAT" else (lo, r)
        osrc, odst = router, (c[0] if meth == "NAT" else lo[0])
        # Translated: outer src VIP (dst client), quote as the client sent it.
        xs, xd = v[0], c[0]
        xq = (c, v)
        rep = False
    else:
        # Error from the client side about a reply we sent (VIP -> client).
        qs, qd = v, c
        osrc, odst = "192.168.1.254", v[0]
        xs, xd = (osrc if meth == "NAT" else lo[0]), r[0]
        xq = (r, c) if meth == "NAT" else (r, lo)
        rep = True
    q_in = sent(4, qs, qd, kind, reply=rep)
    q_out = sent(4, xq[0], xq[1], kind, reply=rep)
    key = f"{meth}_{dirn}_{name}4"
    emit(f"ICMP_{key}", icmp4_err(osrc, odst, typ, code, quote(q_in, qlen), mtu), f"ICMP error, {key}")
    emit(f"ICMP_{key}_X", icmp4_err(xs, xd, typ, code, quote(q_out, qlen), mtu, ttl=63), f"translated {key}")

for name, meth, dirn, kind, qlen, (cls, kw) in (
        ("PORT_UNREACH_UDP", "NAT", "OUT", "udp", None, (ICMPv6DestUnreach, dict(code=4))),
        ("PKT_TOO_BIG_ACK", "FNAT", "OUT", "ack", None, (ICMPv6PacketTooBig, dict(mtu=1280))),
        ("PORT_UNREACH_UDP", "FNAT", "IN", "udp", None, (ICMPv6DestUnreach, dict(code=4))),
        ("PORT_UNREACH_ACK", "NAT", "IN", "ack", 60, (ICMPv6DestUnreach, dict(code=4)))):
    f = F6
    c, v, lo, r = f["client"], f["vip"], f["local"], f["real"]
    if dirn == "OUT":
        qs, qd = (c, r) if meth == "NAT" else (lo, r)
        osrc, odst = r[0], (c[0] if meth == "NAT" else lo[0])
        xs, xd = v[0], c[0]
        xq = (c, v)
        rep = False
    else:
        qs, qd = v, c
        osrc, odst = "2001:db8:c::fe", v[0]
        xs, xd = (osrc if meth == "NAT" else lo[0]), r[0]
        xq = (r, c) if meth == "NAT" else (r, lo)
        rep = True
    q_in = sent(6, qs, qd, kind, reply=rep)
    q_out = sent(6, xq[0], xq[1], kind, reply=rep)
    key = f"{meth}_{dirn}_{name}6"
    emit(f"ICMP_{key}", icmp6_err(osrc, odst, cls, quote(q_in, qlen), **kw), f"ICMPv6 error, {key}")
    emit(f"ICMP_{key}_X", icmp6_err(xs, xd, cls, quote(q_out, qlen), ttl=63, **kw), f"translated {key}")

print("//! Test fixtures built by `testdata/gen_fixtures.py` with scapy " +
      "(every expected frame built from scratch). Do not edit.")
print("#![allow(dead_code)]")
print()
print("\n".join(out))
