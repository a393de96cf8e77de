//! Test helpers: the flows of `testdata/gen_fixtures.py`, a full-recompute checksum checker,
//! a Katran-style case runner, frame mutators and a packet builder for property tests.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dpvs_wire::ethernet::{EthernetRepr, Frame};
use dpvs_wire::{
    checksum, icmpv4, icmpv6, ipv4, ipv6, tcp, udp, EtherType, EthernetAddress, IpProtocol,
};

use super::{Direction, Egress, Endpoint, Flow, TtlPolicy, Verdict, XmitDrop};

pub(crate) const OUR_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
pub(crate) const NH_MAC: EthernetAddress = EthernetAddress([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
pub(crate) const GUE_PORT: u16 = 6080;
pub(crate) const ENTROPY: u32 = 0x1234_5678;
pub(crate) const IDENT: u16 = 0x4242;
pub(crate) const TUN_SRC4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub(crate) const TUN_SRC6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);

fn ep4(a: [u8; 4], port: u16) -> Endpoint {
    Endpoint::new(IpAddr::V4(Ipv4Addr::from(a)), port)
}

fn ep6(s: &str, port: u16) -> Endpoint {
    Endpoint::new(IpAddr::V6(s.parse().unwrap()), port)
}

/// 192.168.1.10:43210 -> VIP 10.0.0.1:80, LIP 10.0.1.5:5001, RS 172.16.0.9:8080.
pub(crate) fn flow4() -> Flow {
    Flow {
        client: ep4([192, 168, 1, 10], 43210),
        vip: ep4([10, 0, 0, 1], 80),
        local: Some(ep4([10, 0, 1, 5], 5001)),
        real: ep4([172, 16, 0, 9], 8080),
    }
}

/// The IPv6 twin of [`flow4`].
pub(crate) fn flow6() -> Flow {
    Flow {
        client: ep6("2001:db8:c::10", 43210),
        vip: ep6("2001:db8:a::1", 80),
        local: Some(ep6("2001:db8:1::5", 5001)),
        real: ep6("2001:db8:b::9", 8080),
    }
}

/// `flow` with its real server in the other family (for tunnels).
pub(crate) fn with_real(flow: Flow, outer_v6: bool) -> Flow {
    let real = if outer_v6 { flow6().real } else { flow4().real };
    Flow { real, ..flow }
}

pub(crate) fn egress() -> Egress {
    Egress {
        src_mac: OUR_MAC,
        dst_mac: NH_MAC,
        mtu: 1500,
        ttl: TtlPolicy::Decrement,
    }
}

/// What a case expects.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect {
    /// This exact frame.
    Frame(&'static [u8]),
    /// This drop, and the input unchanged.
    Drop(XmitDrop),
}

/// One row of a fixture table.
pub(crate) struct Case {
    pub description: &'static str,
    pub input: fn() -> Vec<u8>,
    pub flow: Flow,
    pub dir: Direction,
    pub egress: Egress,
    pub expect: Expect,
}

impl Case {
    pub(crate) fn new(
        description: &'static str,
        input: fn() -> Vec<u8>,
        flow: Flow,
        dir: Direction,
        expect: Expect,
    ) -> Case {
        Case {
            description,
            input,
            flow,
            dir,
            egress: egress(),
            expect,
        }
    }

    pub(crate) fn egress(mut self, e: Egress) -> Case {
        self.egress = e;
        self
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs every case through `xmit` (which gets a fresh copy of the input and returns the
/// verdict and the output frame) and checks the exact bytes or the drop.
pub(crate) fn run(cases: &[Case], xmit: impl Fn(&Case, &mut Vec<u8>) -> (Verdict, Vec<u8>)) {
    for c in cases {
        let input = (c.input)();
        let mut buf = input.clone();
        let (verdict, out) = xmit(c, &mut buf);
        match c.expect {
            Expect::Frame(want) => {
                assert!(verdict.is_ok(), "{}: {verdict:?}", c.description);
                assert_eq!(hex(&out), hex(want), "{}: output bytes", c.description);
                if let Err(e) = verify_frame(&out) {
                    panic!("{}: {e}", c.description);
                }
                assert_eq!(verdict.unwrap().len, out.len(), "{}: length", c.description);
            }
            Expect::Drop(why) => {
                assert_eq!(verdict, Err(why), "{}", c.description);
                assert_eq!(out, input, "{}: frame changed on a drop", c.description);
            }
        }
    }
}

/// Every strict prefix of `frame` (which has no Ethernet padding) is refused as truncated,
/// without panicking or writing.
pub(crate) fn check_truncations(frame: &[u8], xmit: impl Fn(&mut Vec<u8>) -> Verdict) {
    for len in 0..frame.len() {
        let mut b = frame[..len].to_vec();
        let v = xmit(&mut b);
        assert_eq!(v, Err(XmitDrop::Truncated), "prefix of {len} bytes");
        assert_eq!(b, &frame[..len], "prefix of {len} bytes changed");
    }
}

fn err(what: &str) -> String {
    what.to_string()
}

/// Verifies every checksum of a frame by full recomputation: IPv4 header, TCP, UDP (zero
/// allowed over IPv4, and for GUE over IPv6), ICMP, ICMPv6, the quoted IPv4 header of an
/// ICMP error, GRE, and the inner packet of a tunnel.
pub(crate) fn verify_frame(frame: &[u8]) -> Result<(), String> {
    let eth = EthernetRepr::parse(&Frame::new_checked(frame).map_err(|_| err("ethernet"))?)
        .map_err(|_| err("eth"))?;
    let l3 = &frame[eth.header_len()..];
    match (eth.ethertype, l3.first().map(|b| b >> 4)) {
        (EtherType::IPV4, Some(4)) | (EtherType::IPV6, Some(6)) => verify_ip(l3),
        _ => Err(err("ethertype does not match the IP version")),
    }
}

pub(crate) fn verify_ip(pkt: &[u8]) -> Result<(), String> {
    match pkt.first().map(|b| b >> 4) {
        Some(4) => {
            let ip = ipv4::Packet::new_checked(pkt).map_err(|e| format!("ipv4: {e}"))?;
            if !ip.verify_checksum() {
                return Err(err("ipv4 header checksum"));
            }
            verify_l4(
                ip.next_header(),
                IpAddr::V4(ip.src_addr()),
                IpAddr::V4(ip.dst_addr()),
                ip.payload(),
            )
        }
        Some(6) => {
            let ip = ipv6::Packet::new_checked(pkt).map_err(|e| format!("ipv6: {e}"))?;
            let ul = ip.upper_layer().map_err(|e| format!("ipv6 ext: {e}"))?;
            let l4 = &ip.payload()[ul.offset..];
            verify_l4(
                ul.protocol,
                IpAddr::V6(ip.src_addr()),
                IpAddr::V6(ip.dst_addr()),
                l4,
            )
        }
        _ => Err(err("not IP")),
    }
}

fn verify_l4(proto: IpProtocol, src: IpAddr, dst: IpAddr, l4: &[u8]) -> Result<(), String> {
    match proto {
        IpProtocol::TCP => {
            let s = tcp::Packet::new_checked(l4).map_err(|e| format!("tcp: {e}"))?;
            s.verify_checksum(src, dst)
                .then_some(())
                .ok_or_else(|| err("tcp checksum"))
        }
        IpProtocol::UDP => {
            let d = udp::Packet::new_checked(l4).map_err(|e| format!("udp: {e}"))?;
            let tunnel_src = src == IpAddr::V4(TUN_SRC4) || src == IpAddr::V6(TUN_SRC6);
            let gue = tunnel_src && d.dst_port() == GUE_PORT;
            if !(d.verify_checksum(src, dst) || (gue && d.checksum() == 0)) {
                return Err(err("udp checksum"));
            }
            if gue {
                return verify_ip(&d.payload()[4..]);
            }
            Ok(())
        }
        IpProtocol::ICMP => {
            let m = icmpv4::Packet::new_checked(l4).map_err(|e| format!("icmp: {e}"))?;
            if !m.verify_checksum() {
                return Err(err("icmp checksum"));
            }
            if m.msg_type().is_error() {
                let q = m.quote().map_err(|e| format!("icmp quote: {e}"))?;
                if !q.header().verify_checksum() {
                    return Err(err("quoted ipv4 header checksum"));
                }
            }
            Ok(())
        }
        IpProtocol::ICMPV6 => {
            let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) else {
                return Err(err("icmpv6 over ipv4"));
            };
            let m = icmpv6::Packet::new_checked(l4).map_err(|e| format!("icmpv6: {e}"))?;
            m.verify_checksum(s, d)
                .then_some(())
                .ok_or_else(|| err("icmpv6 checksum"))
        }
        IpProtocol::IPIP | IpProtocol::IPV6 => verify_ip(l4),
        IpProtocol::GRE => {
            if l4.len() < 4 {
                return Err(err("gre"));
            }
            let csum = l4[0] & 0x80 != 0;
            if csum && checksum::checksum(l4) != 0 {
                return Err(err("gre checksum"));
            }
            verify_ip(&l4[if csum { 8 } else { 4 }..])
        }
        _ => Ok(()),
    }
}

// ---- frame mutators (the IPv4 header checksum is refilled unless said otherwise) ----

fn l3_of(frame: &[u8]) -> usize {
    EthernetRepr::parse(&Frame::new_checked(frame).unwrap())
        .unwrap()
        .header_len()
}

/// Applies `f` to the IPv4 header and refills its checksum.
pub(crate) fn mutate_v4(frame: &[u8], f: impl Fn(&mut ipv4::Packet<&mut [u8]>)) -> Vec<u8> {
    let mut b = frame.to_vec();
    let l3 = l3_of(&b);
    let mut ip = ipv4::Packet::new_unchecked(&mut b[l3..]);
    f(&mut ip);
    ip.fill_checksum();
    b
}

pub(crate) fn with_ttl(frame: &[u8], ttl: u8) -> Vec<u8> {
    let mut b = frame.to_vec();
    let l3 = l3_of(&b);
    match b[l3] >> 4 {
        4 => return mutate_v4(frame, |ip| ip.set_hop_limit(ttl)),
        _ => ipv6::Packet::new_unchecked(&mut b[l3..]).set_hop_limit(ttl),
    }
    b
}

pub(crate) fn bad_ip_checksum(frame: &[u8]) -> Vec<u8> {
    let mut b = frame.to_vec();
    let l3 = l3_of(&b);
    b[l3 + 10] ^= 0x55;
    b
}

/// Flips a byte of the upper-layer checksum (TCP/UDP/ICMP at the offset given).
pub(crate) fn flip_byte(frame: &[u8], at: usize) -> Vec<u8> {
    let mut b = frame.to_vec();
    b[at] ^= 0x01;
    b
}

pub(crate) fn set_byte(frame: &[u8], at: usize, v: u8) -> Vec<u8> {
    let mut b = frame.to_vec();
    b[at] = v;
    b
}

/// Appends Ethernet padding.
pub(crate) fn padded(frame: &[u8], n: usize) -> Vec<u8> {
    let mut b = frame.to_vec();
    b.resize(b.len() + n, 0);
    b
}

// ---- packet builder for property tests ----

/// The upper layer of a built packet.
#[derive(Debug, Clone)]
pub(crate) enum L4 {
    Tcp {
        flags: u16,
        seq: u32,
        ack: u32,
        mss: Option<u16>,
        payload: Vec<u8>,
    },
    Udp {
        zero_csum: bool,
        payload: Vec<u8>,
    },
    Echo {
        request: bool,
        ident: u16,
        payload: Vec<u8>,
    },
}

/// A whole frame `src -> dst` with valid checksums (both endpoints of one family).
pub(crate) fn build(src: Endpoint, dst: Endpoint, l4: &L4, ttl: u8, vlan: Option<u16>) -> Vec<u8> {
    let v6 = src.addr.is_ipv6();
    let mut seg = Vec::new();
    let proto = match l4 {
        L4::Tcp {
            flags,
            seq,
            ack,
            mss,
            payload,
        } => {
            let hlen = if mss.is_some() { 24 } else { 20 };
            seg.resize(hlen, 0);
            seg[0..2].copy_from_slice(&src.port.to_be_bytes());
            seg[2..4].copy_from_slice(&dst.port.to_be_bytes());
            seg[4..8].copy_from_slice(&seq.to_be_bytes());
            seg[8..12].copy_from_slice(&ack.to_be_bytes());
            let w = ((hlen as u16 / 4) << 12) | (flags & 0x1ff);
            seg[12..14].copy_from_slice(&w.to_be_bytes());
            seg[14..16].copy_from_slice(&8192u16.to_be_bytes());
            if let Some(m) = mss {
                seg[20..24].copy_from_slice(&[2, 4, (m >> 8) as u8, *m as u8]);
            }
            seg.extend_from_slice(payload);
            tcp::Packet::new_unchecked(&mut seg[..])
                .fill_checksum(src.addr, dst.addr)
                .unwrap();
            IpProtocol::TCP
        }
        L4::Udp { zero_csum, payload } => {
            seg.resize(8, 0);
            seg[0..2].copy_from_slice(&src.port.to_be_bytes());
            seg[2..4].copy_from_slice(&dst.port.to_be_bytes());
            seg[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            seg.extend_from_slice(payload);
            if !*zero_csum || v6 {
                udp::Packet::new_unchecked(&mut seg[..])
                    .fill_checksum(src.addr, dst.addr)
                    .unwrap();
            }
            IpProtocol::UDP
        }
        L4::Echo {
            request,
            ident,
            payload,
        } => {
            let t = match (v6, request) {
                (false, true) => 8,
                (false, false) => 0,
                (true, true) => 128,
                (true, false) => 129,
            };
            seg.extend_from_slice(&[t, 0, 0, 0]);
            seg.extend_from_slice(&ident.to_be_bytes());
            seg.extend_from_slice(&7u16.to_be_bytes());
            seg.extend_from_slice(payload);
            match (src.addr, dst.addr) {
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    icmpv6::Packet::new_unchecked(&mut seg[..])
                        .fill_checksum(s, d)
                        .unwrap();
                    IpProtocol::ICMPV6
                }
                _ => {
                    icmpv4::Packet::new_unchecked(&mut seg[..]).fill_checksum();
                    IpProtocol::ICMP
                }
            }
        }
    };
    let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x52, 0x54, 0, 0x12, 0x34, 0x56];
    if let Some(vid) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&(vid & 0xfff).to_be_bytes());
    }
    match (src.addr, dst.addr) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend_from_slice(&[0x08, 0x00]);
            let at = f.len();
            f.resize(at + 20, 0);
            let repr = ipv4::Ipv4Repr {
                src_addr: s,
                dst_addr: d,
                next_header: proto,
                payload_len: seg.len(),
                hop_limit: ttl,
                dscp_ecn: 0,
                ident: 0x1234,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
            };
            repr.emit(&mut ipv4::Packet::new_unchecked(&mut f[at..]))
                .unwrap();
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend_from_slice(&[0x86, 0xdd]);
            let at = f.len();
            f.resize(at + 40, 0);
            let repr = ipv6::Ipv6Repr {
                src_addr: s,
                dst_addr: d,
                next_header: proto,
                payload_len: seg.len(),
                hop_limit: ttl,
                traffic_class: 0,
                flow_label: 0x12345,
            };
            repr.emit(&mut ipv6::Packet::new_unchecked(&mut f[at..]))
                .unwrap();
        }
        _ => panic!("mixed families"),
    }
    f.extend_from_slice(&seg);
    f
}

/// Swaps MACs, IP addresses and ports in place: the frame a peer would send back. Sums
/// are commutative, so every checksum stays valid.
pub(crate) fn mirror(frame: &mut [u8]) {
    let (a, b) = frame.split_at_mut(6);
    a.swap_with_slice(&mut b[..6]);
    let l3 = l3_of(frame);
    let (l4_at, alen, src_at) = match frame[l3] >> 4 {
        4 => (l3 + usize::from(frame[l3] & 0xf) * 4, 4, l3 + 12),
        _ => (l3 + 40, 16, l3 + 8),
    };
    for i in 0..alen {
        frame.swap(src_at + i, src_at + alen + i);
    }
    let proto = if alen == 4 {
        frame[l3 + 9]
    } else {
        frame[l3 + 6]
    };
    if proto == 6 || proto == 17 {
        frame.swap(l4_at, l4_at + 2);
        frame.swap(l4_at + 1, l4_at + 3);
    }
}

// ---- proptest strategies ----

use proptest::prelude::*;

pub(crate) fn arb_l4() -> impl Strategy<Value = L4> {
    let payload = || proptest::collection::vec(any::<u8>(), 0..80);
    prop_oneof![
        (
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
            proptest::option::of(any::<u16>()),
            payload()
        )
            .prop_map(|(flags, seq, ack, mss, payload)| L4::Tcp {
                flags: flags & 0x1ff,
                seq,
                ack,
                mss,
                payload
            }),
        (any::<bool>(), payload()).prop_map(|(zero_csum, payload)| L4::Udp { zero_csum, payload }),
        (any::<bool>(), any::<u16>(), payload()).prop_map(|(request, ident, payload)| L4::Echo {
            request,
            ident,
            payload
        }),
    ]
}

fn arb_ep(v6: bool) -> impl Strategy<Value = Endpoint> {
    (any::<u128>(), any::<u16>()).prop_map(move |(a, port)| {
        let addr = if v6 {
            IpAddr::V6(Ipv6Addr::from(a))
        } else {
            IpAddr::V4(Ipv4Addr::from(a as u32))
        };
        Endpoint::new(addr, port)
    })
}

/// A flow with every address in one family.
pub(crate) fn arb_flow() -> impl Strategy<Value = Flow> {
    any::<bool>().prop_flat_map(|v6| {
        (arb_ep(v6), arb_ep(v6), arb_ep(v6), arb_ep(v6)).prop_map(|(client, vip, local, real)| {
            Flow {
                client,
                vip,
                local: Some(local),
                real,
            }
        })
    })
}

/// An ICMP destination unreachable (type 3 code `code`, rest-of-header `rest`) or ICMPv6
/// destination unreachable (port) from `src` to `dst`, quoting `cut` bytes of the IP packet
/// `pkt` (at least its first 28 / 48).
pub(crate) fn icmp_error_about(
    pkt: &[u8],
    src: IpAddr,
    dst: IpAddr,
    cut: usize,
    code: u8,
    rest: u32,
) -> Vec<u8> {
    let v4 = src.is_ipv4();
    let min = if v4 { 28 } else { 48 };
    let q = &pkt[..pkt.len().min(cut.max(min))];
    let mut m = vec![if v4 { 3 } else { 1 }, if v4 { code } else { 4 }, 0, 0];
    m.extend_from_slice(&rest.to_be_bytes());
    m.extend_from_slice(q);
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x52, 0x54, 0, 1, 2, 3];
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            icmpv4::Packet::new_unchecked(&mut m[..]).fill_checksum();
            f.extend_from_slice(&[8, 0]);
            let at = f.len();
            f.resize(at + 20, 0);
            let r = ipv4::Ipv4Repr {
                src_addr: s,
                dst_addr: d,
                next_header: IpProtocol::ICMP,
                payload_len: m.len(),
                hop_limit: 64,
                dscp_ecn: 0,
                ident: 9,
                dont_frag: false,
                more_frags: false,
                frag_offset: 0,
            };
            r.emit(&mut ipv4::Packet::new_unchecked(&mut f[at..]))
                .unwrap();
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            icmpv6::Packet::new_unchecked(&mut m[..])
                .fill_checksum(s, d)
                .unwrap();
            f.extend_from_slice(&[0x86, 0xdd]);
            let at = f.len();
            f.resize(at + 40, 0);
            let r = ipv6::Ipv6Repr {
                src_addr: s,
                dst_addr: d,
                next_header: IpProtocol::ICMPV6,
                payload_len: m.len(),
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            };
            r.emit(&mut ipv6::Packet::new_unchecked(&mut f[at..]))
                .unwrap();
        }
        _ => panic!("mixed families"),
    }
    f.extend_from_slice(&m);
    f
}
