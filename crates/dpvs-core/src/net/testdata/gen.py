#!/usr/bin/env python3
"""Generates the byte-exact fixtures of dpvs-core's net module tests with scapy 2.x.

Run: python3 crates/dpvs-core/src/net/testdata/gen.py
Prints one `name: hex` line per frame; the tests hold the bytes (nd.rs, echo.rs) and
say which line each one is. Every expected answer is built from scratch here, not by
rewriting the request, so the tests compare our in-place rewrite against an independent
encoder (checksums included).
"""
from scapy.all import Ether, Dot1Q, IP, IPv6, ICMP, ICMPv6EchoRequest, ICMPv6EchoReply, Raw
from scapy.layers.inet6 import (ICMPv6ND_NS, ICMPv6ND_NA, ICMPv6NDOptSrcLLAddr,
                                ICMPv6NDOptDstLLAddr, ICMPv6NDOptUnknown)

PORT0 = "02:00:00:00:00:10"
CLIENT = "52:54:00:12:34:56"


def out(name, pkt, pad=None):
    b = bytes(pkt)
    if pad and len(b) < pad:
        b += b"\0" * (pad - len(b))
    print(f"{name} ({len(b)}): {b.hex()}")


# --- neighbour discovery ---
# Multicast NS (address resolution) from the client for 2001:db8::1, and our NA.
out("ns_mcast", Ether(src=CLIENT, dst="33:33:ff:00:00:01") /
    IPv6(src="2001:db8::2", dst="ff02::1:ff00:1", hlim=255) /
    ICMPv6ND_NS(tgt="2001:db8::1") / ICMPv6NDOptSrcLLAddr(lladdr=CLIENT))
out("na_mcast", Ether(src=PORT0, dst=CLIENT) /
    IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=255) /
    ICMPv6ND_NA(tgt="2001:db8::1", R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=PORT0))
# The same, 802.1Q VLAN 7.
out("ns_mcast_vlan", Ether(src=CLIENT, dst="33:33:ff:00:00:01") / Dot1Q(vlan=7) /
    IPv6(src="2001:db8::2", dst="ff02::1:ff00:1", hlim=255) /
    ICMPv6ND_NS(tgt="2001:db8::1") / ICMPv6NDOptSrcLLAddr(lladdr=CLIENT))
out("na_mcast_vlan", Ether(src=PORT0, dst=CLIENT) / Dot1Q(vlan=7) /
    IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=255) /
    ICMPv6ND_NA(tgt="2001:db8::1", R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=PORT0))
# Unicast NS (reachability probe) with the source option; our NA: S only, no option.
out("ns_ucast", Ether(src=CLIENT, dst=PORT0) /
    IPv6(src="2001:db8::2", dst="2001:db8::1", hlim=255) /
    ICMPv6ND_NS(tgt="2001:db8::1") / ICMPv6NDOptSrcLLAddr(lladdr=CLIENT))
out("na_ucast", Ether(src=PORT0, dst=CLIENT) /
    IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=255) /
    ICMPv6ND_NA(tgt="2001:db8::1", R=0, S=1, O=0))
# DAD probe for the VIP 2001:db8::100 with a nonce option (RFC 7527, type 14), and ours.
out("ns_dad", Ether(src=CLIENT, dst="33:33:ff:00:01:00") /
    IPv6(src="::", dst="ff02::1:ff00:100", hlim=255) /
    ICMPv6ND_NS(tgt="2001:db8::100") /
    ICMPv6NDOptUnknown(type=14, len=1, data=b"\x01\x02\x03\x04\x05\x06"))
out("na_dad", Ether(src=PORT0, dst="33:33:00:00:00:01") /
    IPv6(src="2001:db8::100", dst="ff02::1", hlim=255) /
    ICMPv6ND_NA(tgt="2001:db8::100", R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=PORT0))
# DAD probe without a nonce: no room for the option in place.
out("ns_dad_short", Ether(src=CLIENT, dst="33:33:ff:00:01:00") /
    IPv6(src="::", dst="ff02::1:ff00:100", hlim=255) / ICMPv6ND_NS(tgt="2001:db8::100"))
out("na_dad_short", Ether(src=PORT0, dst="33:33:00:00:00:01") /
    IPv6(src="2001:db8::100", dst="ff02::1", hlim=255) /
    ICMPv6ND_NA(tgt="2001:db8::100", R=0, S=0, O=1))
# A solicited NA from the client (to learn).
out("na_from_client", Ether(src=CLIENT, dst=PORT0) /
    IPv6(src="2001:db8::2", dst="2001:db8::1", hlim=255) /
    ICMPv6ND_NA(tgt="2001:db8::2", R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=CLIENT))
# Builders: NS from dpdk0 (2001:db8::1) for 2001:db8::2; unsolicited NA of the VIP.
out("build_ns", Ether(src=PORT0, dst="33:33:ff:00:00:02") /
    IPv6(src="2001:db8::1", dst="ff02::1:ff00:2", hlim=255) /
    ICMPv6ND_NS(tgt="2001:db8::2") / ICMPv6NDOptSrcLLAddr(lladdr=PORT0))
out("build_ns_dad", Ether(src=PORT0, dst="33:33:ff:00:00:02") /
    IPv6(src="::", dst="ff02::1:ff00:2", hlim=255) / ICMPv6ND_NS(tgt="2001:db8::2"))
out("build_una", Ether(src=PORT0, dst="33:33:00:00:00:01") /
    IPv6(src="2001:db8::100", dst="ff02::1", hlim=255) /
    ICMPv6ND_NA(tgt="2001:db8::100", R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=PORT0))

# --- echo ---
# ping 10.0.0.1 from the client, 8 data bytes, padded to 60; our reply keeps the padding.
out("echo4_req", Ether(src=CLIENT, dst=PORT0) /
    IP(src="10.0.0.2", dst="10.0.0.1", ttl=61, id=0x4321, flags="DF") /
    ICMP(type=8, id=0x1234, seq=1) / Raw(b"abcdefgh"), pad=60)
out("echo4_rep", Ether(src=PORT0, dst=CLIENT) /
    IP(src="10.0.0.1", dst="10.0.0.2", ttl=64, id=0x4321, flags="DF") /
    ICMP(type=0, id=0x1234, seq=1) / Raw(b"abcdefgh"), pad=60)
out("echo6_req", Ether(src=CLIENT, dst=PORT0) /
    IPv6(src="2001:db8::2", dst="2001:db8::1", hlim=57) /
    ICMPv6EchoRequest(id=0x1234, seq=1, data=b"abcdefgh"))
out("echo6_rep", Ether(src=PORT0, dst=CLIENT) /
    IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=64) /
    ICMPv6EchoReply(id=0x1234, seq=1, data=b"abcdefgh"))
