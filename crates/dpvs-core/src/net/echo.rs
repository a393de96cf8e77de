//! ICMP and ICMPv6 echo requests to the dataplane's own (local) addresses, answered in
//! place. Echo requests to VIPs are the pipeline's
//! ([`Verdict::LocalReply`](crate::pipeline::Verdict::LocalReply)).
//!
//! # IPv4
//!
//! An ICMP echo request (IPv4, from [`handle_local`](super::handle_local)) to one of the
//! snapshot's local addresses, turned in place into the echo reply (`icmp_echo`):
//! Ethernet to the request's source from our port MAC (802.1Q tag kept), addresses swapped,
//! TTL 64, type 0; the IPv4 and ICMP checksums are updated incrementally; the identifier,
//! sequence number, data and the frame's padding stay. [`LocalAction::Reply`] with the
//! frame's length.
//!
//! Not ours ([`LocalAction::NotLocal`]): another protocol or type, a destination that is not
//! local (VIPs included), a fragment, a header with options, a malformed header (the
//! pipeline's to judge). Dropped: a wrong IPv4 header or ICMP checksum, a message shorter
//! than 8 bytes, a source that is unspecified, broadcast, multicast, loopback, class E or
//! one of our addresses (Linux's martian sources).
//!
//! # IPv6
//!
//! An ICMPv6 echo request right after the IPv6 header, to one of the snapshot's local
//! addresses, turned in place into the echo reply: Ethernet as for IPv4, addresses swapped,
//! hop limit 64, type 129 with an incremental checksum update. [`LocalAction::Reply`] with
//! the frame's length.
//!
//! Not ours: a destination that is not local (multicast destinations and VIPs included), a
//! malformed header. Dropped: a message shorter than 8 bytes, a wrong checksum, an
//! unspecified, multicast or local source.

use core::net::{IpAddr, Ipv4Addr};

use dpvs_wire::ethernet::Frame;
use dpvs_wire::{checksum, icmpv6, ipv4, ipv6, IpProtocol};

use super::{Ctx, LocalAction};

/// TTL / hop limit of our replies (Linux's default `ip_default_ttl`).
pub const REPLY_TTL: u8 = 64;

fn martian_v4(a: Ipv4Addr) -> bool {
    a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_loopback()
        || a.octets()[0] >= 240
}

/// Swaps the Ethernet addresses for the reply: to the request's source, from our port MAC.
fn swap_eth(frame: &mut [u8], ctx: &Ctx<'_>) {
    let mut f = Frame::new_unchecked(frame);
    f.set_dst_addr(ctx.eth_src);
    f.set_src_addr(ctx.mac);
}

/// See the module docs.
pub(crate) fn handle_v4(frame: &mut [u8], ctx: &Ctx<'_>) -> LocalAction {
    let l3 = ctx.l2;
    let Some(ipb) = frame.get(l3..) else {
        return LocalAction::NotLocal;
    };
    let Ok(ip) = ipv4::Packet::new_checked(ipb) else {
        return LocalAction::NotLocal;
    };
    if ip.version() != 4 || ip.next_header() != IpProtocol::ICMP {
        return LocalAction::NotLocal;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    if !ctx.snap.is_local(IpAddr::V4(dst))
        || ip.is_fragment()
        || ip.header_len() != ipv4::HEADER_LEN
    {
        return LocalAction::NotLocal;
    }
    if !ip.verify_checksum() {
        return LocalAction::Drop("ipv4: bad header checksum");
    }
    let msg = ip.payload();
    if msg.len() < 8 {
        return LocalAction::Drop("icmp: truncated");
    }
    if msg[0] != 8 {
        return LocalAction::NotLocal;
    }
    if checksum::checksum(msg) != 0 {
        return LocalAction::Drop("icmp: bad checksum");
    }
    if martian_v4(src) || ctx.snap.is_local(IpAddr::V4(src)) {
        return LocalAction::Drop("icmp: echo from a martian source");
    }
    let (ttl, proto) = (ip.hop_limit(), ip.next_header().0);
    swap_eth(frame, ctx);
    let Some(ipb) = frame.get_mut(l3..) else {
        return LocalAction::NotLocal;
    };
    let mut ip = ipv4::Packet::new_unchecked(ipb);
    ip.set_src_addr(dst);
    ip.set_dst_addr(src);
    ip.set_hop_limit(REPLY_TTL);
    let c = checksum::update_u16(
        ip.checksum(),
        u16::from_be_bytes([ttl, proto]),
        u16::from_be_bytes([REPLY_TTL, proto]),
    );
    ip.set_checksum(c);
    let msg = ip.payload_mut();
    let code = msg[1];
    msg[0] = 0;
    let c = checksum::update_u16(
        u16::from_be_bytes([msg[2], msg[3]]),
        u16::from_be_bytes([8, code]),
        u16::from_be_bytes([0, code]),
    );
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    LocalAction::Reply { len: frame.len() }
}

/// See the module docs.
pub(crate) fn handle_v6(frame: &mut [u8], ctx: &Ctx<'_>) -> LocalAction {
    let l3 = ctx.l2;
    let Some(ipb) = frame.get(l3..) else {
        return LocalAction::NotLocal;
    };
    let Ok(ip) = ipv6::Packet::new_checked(ipb) else {
        return LocalAction::NotLocal;
    };
    if ip.version() != 6 || ip.next_header() != IpProtocol::ICMPV6 {
        return LocalAction::NotLocal;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    if !ctx.snap.is_local(IpAddr::V6(dst)) {
        return LocalAction::NotLocal;
    }
    let msg = ip.payload();
    if msg.len() < 8 {
        return LocalAction::Drop("icmpv6: truncated");
    }
    if msg[0] != 128 {
        return LocalAction::NotLocal;
    }
    if !icmpv6::Packet::new_unchecked(msg).verify_checksum(src, dst) {
        return LocalAction::Drop("icmpv6: bad checksum");
    }
    if src.is_unspecified() || src.is_multicast() || ctx.snap.is_local(IpAddr::V6(src)) {
        return LocalAction::Drop("icmpv6: echo from a martian source");
    }
    swap_eth(frame, ctx);
    let Some(ipb) = frame.get_mut(l3..) else {
        return LocalAction::NotLocal;
    };
    let mut ip = ipv6::Packet::new_unchecked(ipb);
    ip.set_src_addr(dst);
    ip.set_dst_addr(src);
    ip.set_hop_limit(REPLY_TTL);
    let mut m = icmpv6::Packet::new_unchecked(ip.payload_mut());
    let code = m.msg_code();
    m.set_msg_type(icmpv6::Message::ECHO_REPLY);
    let c = checksum::update_u16(
        m.checksum(),
        u16::from_be_bytes([128, code]),
        u16::from_be_bytes([129, code]),
    );
    m.set_checksum(c);
    LocalAction::Reply { len: frame.len() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::handle_local;
    use crate::net::testutil::*;
    use proptest::prelude::*;

    // Generated by testdata/gen.py (scapy).
    // echo4_req: ping 10.0.0.2 -> 10.0.0.1, TTL 61, id 0x4321 DF, echo id 0x1234 seq 1
    // "abcdefgh", padded to 60.
    const ECHO4_REQ: [u8; 60] = hex!(
        "0200000000105254001234560800" // Ethernet
        "45000024432140003d01e6b50a0000020a000001" // IPv4
        "08005435123400016162636465666768" // ICMP
        "00000000000000000000" // padding
    );
    // echo4_rep: our reply: 10.0.0.1 -> 10.0.0.2, TTL 64, type 0, padding kept.
    const ECHO4_REP: [u8; 60] = hex!(
        "5254001234560200000000100800" // Ethernet
        "45000024432140004001e3b50a0000010a000002" // IPv4
        "00005c35123400016162636465666768" // ICMP
        "00000000000000000000" // padding
    );
    // echo6_req: ping 2001:db8::2 -> 2001:db8::1, hop limit 57, id 0x1234 seq 1 "abcdefgh".
    const ECHO6_REQ: [u8; 70] = hex!(
        "02000000001052540012345686dd" // Ethernet
        "6000000000103a3920010db8000000000000000000000002" // IPv6
        "20010db8000000000000000000000001"
        "80008075123400016162636465666768" // ICMPv6
    );
    // echo6_rep: our reply: 2001:db8::1 -> 2001:db8::2, hop limit 64, type 129.
    const ECHO6_REP: [u8; 70] = hex!(
        "52540012345602000000001086dd" // Ethernet
        "6000000000103a4020010db8000000000000000000000001" // IPv6
        "20010db8000000000000000000000002"
        "81007f75123400016162636465666768" // ICMPv6
    );

    #[test]
    fn v4_reply_in_place() {
        let mut f = ECHO4_REQ;
        assert_eq!(
            handle_local(&mut f, 0, &snapshot(), &vip),
            LocalAction::Reply { len: 60 }
        );
        assert_eq!(f, ECHO4_REP);
        // Local on another port: still ours (weak host model, as Linux).
        let mut f = ECHO4_REQ;
        f[31] = 1; // to 10.1.0.1, dpdk1's
        let c = dpvs_wire::checksum::update_u16(u16::from_be_bytes([f[24], f[25]]), 0x0a00, 0x0a01);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        assert!(matches!(
            handle_local(&mut f, 0, &snapshot(), &vip),
            LocalAction::Reply { .. }
        ));
    }

    proptest! {
        /// Any valid echo request to a local address gets a reply whose checksums verify
        /// and whose fields are the request's, swapped.
        #[test]
        fn replies_verify(
            src in 0x0b00_0000u32..0xdf00_0000,
            ttl in 1u8..,
            id in any::<u16>(),
            seq in any::<u16>(),
            data in proptest::collection::vec(any::<u8>(), 0..64),
            src6 in any::<u128>(),
        ) {
            prop_assume!(src >> 24 != 127);
            let s = snapshot();
            // IPv4.
            let n = 14 + 20 + 8 + data.len();
            let mut f = vec![0u8; n.max(60)];
            f[..6].copy_from_slice(&PORT0_MAC.0);
            f[6..12].copy_from_slice(&CLIENT_MAC.0);
            f[12..14].copy_from_slice(&[8, 0]);
            f[14] = 0x45;
            f[16..18].copy_from_slice(&((n - 14) as u16).to_be_bytes());
            f[22] = ttl;
            f[23] = 1;
            f[26..30].copy_from_slice(&src.to_be_bytes());
            f[30..34].copy_from_slice(&[10, 0, 0, 1]);
            ipv4::Packet::new_unchecked(&mut f[14..]).fill_checksum();
            f[34] = 8;
            f[38..40].copy_from_slice(&id.to_be_bytes());
            f[40..42].copy_from_slice(&seq.to_be_bytes());
            f[42..n].copy_from_slice(&data);
            let c = checksum::checksum(&f[34..n]);
            f[36..38].copy_from_slice(&c.to_be_bytes());
            let req = f.clone();
            let len = f.len();
            prop_assert_eq!(handle_local(&mut f, 0, &s, &vip), LocalAction::Reply { len });
            let ip = ipv4::Packet::new_checked(&f[14..]).unwrap();
            prop_assert!(ip.verify_checksum());
            prop_assert_eq!(ip.hop_limit(), 64);
            prop_assert_eq!(ip.src_addr(), Ipv4Addr::new(10, 0, 0, 1));
            prop_assert_eq!(u32::from(ip.dst_addr()), src);
            prop_assert_eq!(checksum::checksum(&f[34..n]), 0);
            prop_assert_eq!(f[34], 0);
            prop_assert_eq!(&f[38..], &req[38..]);
            prop_assert_eq!(&f[..6], &req[6..12]);

            // IPv6.
            let src6 = core::net::Ipv6Addr::from(src6 & (u128::MAX >> 8) | 0x20 << 120);
            let dst6: core::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
            let n = 14 + 40 + 8 + data.len();
            let mut f = vec![0u8; n];
            f[..6].copy_from_slice(&PORT0_MAC.0);
            f[6..12].copy_from_slice(&CLIENT_MAC.0);
            f[12..14].copy_from_slice(&[0x86, 0xdd]);
            f[14] = 0x60;
            f[18..20].copy_from_slice(&((n - 54) as u16).to_be_bytes());
            f[20] = 58;
            f[21] = ttl;
            f[22..38].copy_from_slice(&src6.octets());
            f[38..54].copy_from_slice(&dst6.octets());
            f[54] = 128;
            f[58..60].copy_from_slice(&id.to_be_bytes());
            f[60..62].copy_from_slice(&seq.to_be_bytes());
            f[62..].copy_from_slice(&data);
            icmpv6::Packet::new_unchecked(&mut f[54..]).fill_checksum(src6, dst6).unwrap();
            let req = f.clone();
            prop_assert_eq!(handle_local(&mut f, 0, &s, &vip), LocalAction::Reply { len: n });
            let ip = ipv6::Packet::new_checked(&f[14..]).unwrap();
            prop_assert_eq!(ip.src_addr(), dst6);
            prop_assert_eq!((ip.dst_addr(), ip.hop_limit()), (src6, 64));
            let m = icmpv6::Packet::new_unchecked(&f[54..]);
            prop_assert!(m.verify_checksum(dst6, src6));
            prop_assert_eq!(f[54], 129);
            prop_assert_eq!(&f[58..], &req[58..]);
        }
    }

    #[test]
    fn v6_reply_in_place() {
        let mut f = ECHO6_REQ;
        assert_eq!(
            handle_local(&mut f, 0, &snapshot(), &vip),
            LocalAction::Reply { len: 70 }
        );
        assert_eq!(f, ECHO6_REP);
    }

    #[test]
    fn not_ours_or_bad() {
        let s = snapshot();
        // To a VIP: the pipeline's.
        let mut f = ECHO4_REQ;
        f[33] = 100;
        let c = dpvs_wire::checksum::update_u16(u16::from_be_bytes([f[24], f[25]]), 0x0001, 0x0064);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        assert_eq!(handle_local(&mut f, 0, &s, &vip), LocalAction::NotLocal);
        // An echo reply, not a request.
        let mut f = ECHO4_REP;
        f[..12].copy_from_slice(&ECHO4_REQ[..12]);
        assert_eq!(handle_local(&mut f, 0, &s, &vip), LocalAction::NotLocal);
        // Bad checksums.
        let mut f = ECHO4_REQ;
        f[25] ^= 1;
        assert_eq!(
            handle_local(&mut f, 0, &s, &vip),
            LocalAction::Drop("ipv4: bad header checksum")
        );
        let mut f = ECHO4_REQ;
        f[41] ^= 1;
        assert_eq!(
            handle_local(&mut f, 0, &s, &vip),
            LocalAction::Drop("icmp: bad checksum")
        );
        let mut f = ECHO6_REQ;
        f[69] ^= 1;
        assert_eq!(
            handle_local(&mut f, 0, &s, &vip),
            LocalAction::Drop("icmpv6: bad checksum")
        );
        // A fragment.
        let mut f = ECHO4_REQ;
        f[20] = 0x20; // MF
        assert_eq!(handle_local(&mut f, 0, &s, &vip), LocalAction::NotLocal);
        // From a multicast source (IPv6) / our own address (IPv4).
        let mut f = ECHO6_REQ;
        f[22] = 0xff;
        let ip = ipv6::Packet::new_checked(&f[14..]).unwrap();
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        icmpv6::Packet::new_unchecked(&mut f[54..])
            .fill_checksum(src, dst)
            .unwrap();
        assert_eq!(
            handle_local(&mut f, 0, &s, &vip),
            LocalAction::Drop("icmpv6: echo from a martian source")
        );
        let mut f = ECHO4_REQ;
        f[29] = 1; // source 10.0.0.1
        let c = dpvs_wire::checksum::update_u16(u16::from_be_bytes([f[24], f[25]]), 0x0002, 0x0001);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            handle_local(&mut f, 0, &s, &vip),
            LocalAction::Drop("icmp: echo from a martian source")
        );
    }
}
