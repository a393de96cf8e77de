//! Full-NAT (DPVS's FNAT: `dp_vs_xmit_fnat` / `dp_vs_out_xmit_fnat` with
//! `tcp_fnat_in_handler` / `tcp_fnat_out_handler`).
//!
//! - In (client → RS): source CIP:cport → LIP:lport, destination VIP:vport → RIP:rport.
//! - Out (RS → client): source RIP:rport → VIP:vport, destination LIP:lport → CIP:cport.
//!
//! TCP, UDP, ICMP echo and the ICMP errors of [`super::icmp`], IPv4 and IPv6. An echo's
//! identifier plays the client port: on the way in it becomes the connection's local port
//! (`flow.local.port`), on the way out the client's identifier again (`flow.client.port`),
//! so the real server's reply comes back to a key the connection owns and two clients using
//! the same identifier do not meet (the ICMP checksum is updated incrementally; ICMPv6's
//! covers the pseudo-header too). DPVS keeps the identifier; the identifier quoted in an
//! ICMP error about an echo is left as it is. Every address of the flow must be of the packet's family:
//! DPVS's NAT64 (`__dp_vs_xmit_fnat64`, IPv6 clients to IPv4 servers) rebuilds the headers
//! and is not done here ([`XmitDrop::Unsupported`]).
//!
//! MSS clamping: with `mss_clamp` set, a SYN (or SYN-ACK) whose MSS option is above it gets
//! the option lowered in place with an incremental checksum update; options are never added.
//! DPVS lowers the client's MSS on the way in to leave room for the TOA option; here the
//! caller decides whether and in which direction to clamp.
//!
//! Client address: [`insert_toa`] adds DPVS's TOA option (kind 254) to the segment the caller
//! picks (DPVS: the first ACK after the handshake), growing the frame into its tailroom.
//! Not done: DPVS's sequence-number randomisation and SACK adjustment, its pruning of
//! options to make room for TOA, UOA for UDP, PROXY protocol.

use core::net::IpAddr;

use dpvs_wire::{ipv4, ipv6, tcp, IpProtocol};

use super::{
    check_mtu, parse, translate, Delta, Direction, Egress, Endpoint, Family, Flow, Forward,
    PacketBuf, Translation, Verdict, XmitDrop,
};

/// Rewrites a full-NAT frame going in `dir` and readies it for `egress`; SYNs get their MSS
/// clamped to `mss_clamp` when it is set.
pub fn xmit(
    frame: &mut [u8],
    flow: &Flow,
    dir: Direction,
    egress: &Egress,
    mss_clamp: Option<u16>,
) -> Verdict {
    let local = flow.local.ok_or(XmitDrop::Unsupported)?;
    let t = match dir {
        Direction::In => Translation {
            src: Some(local),
            dst: Some(flow.real),
            echo_ident: Some(local.port),
        },
        Direction::Out => Translation {
            src: Some(flow.vip),
            dst: Some(flow.client),
            echo_ident: Some(flow.client.port),
        },
    };
    translate(frame, &t, egress, mss_clamp)
}

/// TCP option kind of DPVS's TOA ("TCP option address"), read by its `toa` kernel module on
/// the real servers.
pub const TOA_KIND: u8 = 254;
/// Length of a TOA option for an IPv4 client (kind, length, port, address).
pub const TOA_LEN_V4: usize = 8;
/// Length of a TOA option for an IPv6 client.
pub const TOA_LEN_V6: usize = 20;

/// Inserts DPVS's TOA option carrying `client` (the client's address and port) right after
/// the fixed TCP header of the frame in `buf`, as DPVS's `tcp_in_add_toa`: existing options
/// and payload move down, the data offset and the IP length grow, and the IPv4 header and
/// TCP checksums are updated incrementally (the moved bytes keep their even alignment).
///
/// Which segment gets it is the caller's decision (DPVS: the first ACK after the handshake,
/// not SYN or RST); call it on the in-direction frame before or after [`xmit`]. The client's
/// family must be the frame's (no NAT64 here). Refusals leave the frame unchanged, and DPVS
/// then forwards the segment without TOA: `NoRoom` when the TCP header would exceed 60 bytes
/// (DPVS may first prune SACK-permitted/timestamps options; this does not) or the buffer has
/// less tailroom than the option, `FragNeeded`/`TooBig` when the grown packet would not fit
/// `mtu`, `Unsupported` for a non-TCP packet or a client of the other family, and the
/// parser's reasons for a bad frame.
pub fn insert_toa<B: PacketBuf + ?Sized>(
    buf: &mut B,
    client: Endpoint,
    mtu: u16,
) -> Result<Forward, XmitDrop> {
    let p = parse(buf.data())?;
    if p.proto != IpProtocol::TCP || Family::of(client.addr) != p.family {
        return Err(XmitDrop::Unsupported);
    }
    let n = match client.addr {
        IpAddr::V4(_) => TOA_LEN_V4,
        IpAddr::V6(_) => TOA_LEN_V6,
    };
    let tcp_at = p.l4_start();
    let old_hlen = tcp::Packet::new_checked(&buf.data()[tcp_at..p.l2_len + p.ip_len])?.header_len();
    if old_hlen + n > tcp::MAX_HEADER_LEN {
        return Err(XmitDrop::NoRoom);
    }
    check_mtu(&p, p.ip_len + n, usize::from(mtu), false)?;
    let end = p.l2_len + p.ip_len;
    // Ethernet padding after the packet counts as room.
    let padding = buf.data().len() - end;
    if !buf.append(n.saturating_sub(padding)) {
        return Err(XmitDrop::NoRoom);
    }
    buf.truncate(end + n);
    let frame = buf.data_mut();
    let opt_at = tcp_at + tcp::HEADER_LEN;
    frame.copy_within(opt_at..end, opt_at + n);
    let mut opt = [0u8; TOA_LEN_V6];
    opt[0] = TOA_KIND;
    opt[1] = n as u8;
    opt[2..4].copy_from_slice(&client.port.to_be_bytes());
    match client.addr {
        IpAddr::V4(a) => opt[4..8].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => opt[4..20].copy_from_slice(&a.octets()),
    }
    frame[opt_at..opt_at + n].copy_from_slice(&opt[..n]);

    // IP length.
    let (hdr, l4) = frame[p.l2_len..].split_at_mut(p.l3_len);
    let old_l4_len = p.ip_len - p.l3_len;
    match p.family {
        Family::V4 => {
            let mut ip = ipv4::Packet::new_unchecked(hdr);
            let (old, new) = (ip.total_len(), (p.ip_len + n) as u16);
            let mut d = Delta::default();
            d.u16(old, new);
            ip.set_total_len(new);
            let c = d.apply(ip.checksum());
            ip.set_checksum(c);
        }
        Family::V6 => {
            let mut ip = ipv6::Packet::new_unchecked(hdr);
            ip.set_payload_len(ip.payload_len() + n as u16);
        }
    }
    // TCP: data offset word, the option's words, and the pseudo-header length.
    // The data offset shares a 16-bit word with the flags (TCP bytes 12 and 13).
    let old_word = u16::from_be_bytes([l4[12], l4[13]]);
    tcp::Packet::new_unchecked(&mut *l4).set_header_len(old_hlen + n);
    let new_word = u16::from_be_bytes([l4[12], l4[13]]);
    let mut d = Delta::default();
    d.u16(old_word, new_word);
    for w in opt[..n].chunks_exact(2) {
        d.u16(0, u16::from_be_bytes([w[0], w[1]]));
    }
    d.u16(old_l4_len as u16, (old_l4_len + n) as u16);
    let mut seg = tcp::Packet::new_unchecked(l4);
    let c = d.apply(seg.checksum());
    seg.set_checksum(c);
    Ok(Forward {
        l2_len: p.l2_len,
        len: frame.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmit::fixtures::*;
    use crate::xmit::testutil::*;
    use crate::xmit::{Direction::*, PacketBuf, SliceBuf, TtlPolicy};
    use proptest::prelude::*;

    fn ok(
        d: &'static str,
        input: fn() -> Vec<u8>,
        flow: Flow,
        dir: Direction,
        want: &'static [u8],
    ) -> Case {
        Case::new(d, input, flow, dir, Expect::Frame(want))
    }

    fn cases() -> Vec<Case> {
        let (f4, f6) = (flow4(), flow6());
        vec![
            ok("v4 tcp syn in", || IN_SYN4.to_vec(), f4, In, FNAT_IN_SYN4),
            ok(
                "v4 tcp syn-ack out",
                || FNAT_REPLY_SYN4.to_vec(),
                f4,
                Out,
                FNAT_OUT_SYN4,
            ),
            ok("v4 tcp data in", || IN_ACK4.to_vec(), f4, In, FNAT_IN_ACK4),
            ok(
                "v4 tcp data out",
                || FNAT_REPLY_ACK4.to_vec(),
                f4,
                Out,
                FNAT_OUT_ACK4,
            ),
            ok("v4 udp in", || IN_UDP4.to_vec(), f4, In, FNAT_IN_UDP4),
            ok(
                "v4 udp out",
                || FNAT_REPLY_UDP4.to_vec(),
                f4,
                Out,
                FNAT_OUT_UDP4,
            ),
            ok(
                "v4 udp zero checksum in",
                || IN_UDP04.to_vec(),
                f4,
                In,
                FNAT_IN_UDP04,
            ),
            ok(
                "v4 udp zero checksum out",
                || FNAT_REPLY_UDP04.to_vec(),
                f4,
                Out,
                FNAT_OUT_UDP04,
            ),
            ok("v4 echo in", || IN_ECHO4.to_vec(), f4, In, FNAT_IN_ECHO4),
            ok(
                "v4 echo out",
                || FNAT_REPLY_ECHO4.to_vec(),
                f4,
                Out,
                FNAT_OUT_ECHO4,
            ),
            ok("v6 tcp syn in", || IN_SYN6.to_vec(), f6, In, FNAT_IN_SYN6),
            ok(
                "v6 tcp syn-ack out",
                || FNAT_REPLY_SYN6.to_vec(),
                f6,
                Out,
                FNAT_OUT_SYN6,
            ),
            ok("v6 tcp data in", || IN_ACK6.to_vec(), f6, In, FNAT_IN_ACK6),
            ok(
                "v6 tcp data out",
                || FNAT_REPLY_ACK6.to_vec(),
                f6,
                Out,
                FNAT_OUT_ACK6,
            ),
            ok("v6 udp in", || IN_UDP6.to_vec(), f6, In, FNAT_IN_UDP6),
            ok(
                "v6 udp out",
                || FNAT_REPLY_UDP6.to_vec(),
                f6,
                Out,
                FNAT_OUT_UDP6,
            ),
            ok("v6 echo in", || IN_ECHO6.to_vec(), f6, In, FNAT_IN_ECHO6),
            ok(
                "v6 echo out",
                || FNAT_REPLY_ECHO6.to_vec(),
                f6,
                Out,
                FNAT_OUT_ECHO6,
            ),
            ok(
                "ipv4 options kept",
                || IN_UDP4_OPTS.to_vec(),
                f4,
                In,
                FNAT_IN_UDP4_OPTS,
            ),
            ok(
                "ipv6 hop-by-hop header kept",
                || IN_UDP6_HBH.to_vec(),
                f6,
                In,
                FNAT_IN_UDP6_HBH,
            ),
            ok(
                "icmp port unreachable from the RS",
                || ICMP_FNAT_OUT_PORT_UNREACH_UDP4.to_vec(),
                f4,
                Out,
                ICMP_FNAT_OUT_PORT_UNREACH_UDP4_X,
            ),
            ok(
                "icmp frag needed from a router, 8-byte quote",
                || ICMP_FNAT_OUT_FRAG_NEEDED_ACK4.to_vec(),
                f4,
                Out,
                ICMP_FNAT_OUT_FRAG_NEEDED_ACK4_X,
            ),
            ok(
                "icmp time exceeded from the client side, quote with the tcp checksum",
                || ICMP_FNAT_IN_TIME_EXCEEDED_ACK4.to_vec(),
                f4,
                In,
                ICMP_FNAT_IN_TIME_EXCEEDED_ACK4_X,
            ),
            ok(
                "icmp host unreachable quoting an echo request",
                || ICMP_FNAT_OUT_HOST_UNREACH_ECHO4.to_vec(),
                f4,
                Out,
                ICMP_FNAT_OUT_HOST_UNREACH_ECHO4_X,
            ),
            ok(
                "icmpv6 packet too big from the RS",
                || ICMP_FNAT_OUT_PKT_TOO_BIG_ACK6.to_vec(),
                f6,
                Out,
                ICMP_FNAT_OUT_PKT_TOO_BIG_ACK6_X,
            ),
            ok(
                "icmpv6 port unreachable from the client side",
                || ICMP_FNAT_IN_PORT_UNREACH_UDP6.to_vec(),
                f6,
                In,
                ICMP_FNAT_IN_PORT_UNREACH_UDP6_X,
            ),
            Case::new(
                "no local address",
                || IN_ACK4.to_vec(),
                Flow { local: None, ..f4 },
                In,
                Expect::Drop(XmitDrop::Unsupported),
            ),
            Case::new(
                "nat64 is not done",
                || IN_ACK6.to_vec(),
                with_real(f6, false),
                In,
                Expect::Drop(XmitDrop::Unsupported),
            ),
            Case::new(
                "ttl 1",
                || with_ttl(IN_SYN4, 1),
                f4,
                In,
                Expect::Drop(XmitDrop::TtlExpired),
            ),
            Case::new(
                "hop limit 1 out",
                || with_ttl(FNAT_REPLY_ACK6, 1),
                f6,
                Out,
                Expect::Drop(XmitDrop::TtlExpired),
            ),
            Case::new(
                "icmp error with ttl 1",
                || with_ttl(ICMP_FNAT_OUT_PORT_UNREACH_UDP4, 1),
                f4,
                Out,
                Expect::Drop(XmitDrop::TtlExpired),
            ),
            Case::new(
                "icmp error quoting too little for the ports",
                short_quote,
                f4,
                Out,
                Expect::Drop(XmitDrop::Truncated),
            ),
        ]
    }

    /// The port-unreachable error with its quote cut to the IP header and 2 bytes.
    fn short_quote() -> Vec<u8> {
        let full = ICMP_FNAT_OUT_PORT_UNREACH_UDP4;
        let keep = 14 + 20 + 8 + 20 + 2;
        let mut b = full[..keep].to_vec();
        let tot = (keep - 14) as u16;
        let mut ip = dpvs_wire::ipv4::Packet::new_unchecked(&mut b[14..]);
        ip.set_total_len(tot);
        ip.fill_checksum();
        dpvs_wire::icmpv4::Packet::new_unchecked(&mut b[34..]).fill_checksum();
        b
    }

    #[test]
    fn fixtures() {
        run(&cases(), |c, buf| {
            (xmit(buf, &c.flow, c.dir, &c.egress, None), buf.clone())
        });
    }

    #[test]
    fn mss_clamped_on_syn_only() {
        for (input, want, f) in [
            (IN_SYN4, FNAT_IN_SYN4_MSS1400, flow4()),
            (IN_SYN6, FNAT_IN_SYN6_MSS1400, flow6()),
        ] {
            let mut b = input.to_vec();
            xmit(&mut b, &f, In, &egress(), Some(1400)).unwrap();
            assert_eq!(hex(&b), hex(want));
            verify_frame(&b).unwrap();
            // Above the announced MSS: unchanged.
            let mut b = input.to_vec();
            xmit(&mut b, &f, In, &egress(), Some(1500)).unwrap();
            assert_eq!(
                hex(&b),
                hex(if f == flow4() {
                    FNAT_IN_SYN4
                } else {
                    FNAT_IN_SYN6
                })
            );
        }
        // A data segment carries no MSS and is not touched.
        let mut b = IN_ACK4.to_vec();
        xmit(&mut b, &flow4(), In, &egress(), Some(536)).unwrap();
        assert_eq!(b, FNAT_IN_ACK4);
    }

    fn with_room(frame: &[u8], tail: usize) -> (Vec<u8>, usize) {
        let mut raw = frame.to_vec();
        raw.resize(frame.len() + tail, 0xee);
        (raw, frame.len())
    }

    #[test]
    fn toa() {
        for (input, want, f) in [
            (IN_ACK4, FNAT_IN_ACK4_TOA, flow4()),
            (IN_ACK6, FNAT_IN_ACK6_TOA, flow6()),
        ] {
            // After the translation.
            let (mut raw, len) = with_room(input, 32);
            let mut b = SliceBuf::new(&mut raw, 0, len).unwrap();
            xmit(b.data_mut(), &f, In, &egress(), None).unwrap();
            let v = insert_toa(&mut b, f.client, 1500).unwrap();
            assert_eq!(hex(b.data()), hex(want));
            assert_eq!(v.len, want.len());
            verify_frame(b.data()).unwrap();
            // Before it: the same bytes.
            let (mut raw, len) = with_room(input, 32);
            let mut b = SliceBuf::new(&mut raw, 0, len).unwrap();
            insert_toa(&mut b, f.client, 1500).unwrap();
            verify_frame(b.data()).unwrap();
            xmit(b.data_mut(), &f, In, &egress(), None).unwrap();
            assert_eq!(hex(b.data()), hex(want));
            // Ethernet padding counts as room.
            let (mut raw, _) = with_room(input, 0);
            raw.resize(input.len() + 24, 0);
            let mut b = SliceBuf::new(&mut raw, 0, input.len() + 24).unwrap();
            insert_toa(&mut b, f.client, 1500).unwrap();
            verify_frame(b.data()).unwrap();
        }
        let refused = |input: &[u8], client: Endpoint, mtu: u16, tail: usize, why: XmitDrop| {
            let (mut raw, len) = with_room(input, tail);
            let mut b = SliceBuf::new(&mut raw, 0, len).unwrap();
            assert_eq!(insert_toa(&mut b, client, mtu), Err(why));
            assert_eq!(b.data(), input);
        };
        let c4 = flow4().client;
        refused(IN_ACK4, c4, 1500, 7, XmitDrop::NoRoom);
        refused(
            IN_ACK4,
            c4,
            (IN_ACK4.len() - 14 + 7) as u16,
            32,
            XmitDrop::FragNeeded { mtu: 74 },
        );
        refused(IN_UDP4, c4, 1500, 32, XmitDrop::Unsupported);
        refused(IN_ACK4, flow6().client, 1500, 32, XmitDrop::Unsupported);
        // A 40-byte TCP header takes one IPv6 TOA (to 60 bytes), not two.
        let (mut raw, len) = with_room(IN_SYN6, 64);
        let mut b = SliceBuf::new(&mut raw, 0, len).unwrap();
        insert_toa(&mut b, flow6().client, 1500).unwrap();
        let once = b.data().to_vec();
        assert_eq!(
            insert_toa(&mut b, flow6().client, 1500),
            Err(XmitDrop::NoRoom)
        );
        assert_eq!(b.data(), &once[..]);
    }

    #[test]
    fn truncated_at_every_length() {
        for (input, f, dir) in [
            (IN_SYN6, flow6(), In),
            (FNAT_REPLY_UDP04, flow4(), Out),
            (IN_UDP4_OPTS, flow4(), In),
            (IN_UDP6_HBH, flow6(), In),
            (ICMP_FNAT_IN_TIME_EXCEEDED_ACK4, flow4(), In),
            (ICMP_FNAT_OUT_PKT_TOO_BIG_ACK6, flow6(), Out),
        ] {
            check_truncations(input, |b| xmit(b, &f, dir, &egress(), Some(1400)));
        }
    }

    proptest! {
        /// TOA on random TCP segments keeps every checksum valid.
        #[test]
        fn toa_keeps_checksums(flow in arb_flow(), l4 in arb_l4(), ttl in 2u8..) {
            let input = build(flow.client, flow.vip, &l4, ttl, None);
            let (mut raw, len) = with_room(&input, 32);
            let mut b = SliceBuf::new(&mut raw, 0, len).unwrap();
            match insert_toa(&mut b, flow.client, 1500) {
                Ok(_) => {
                    verify_frame(b.data()).unwrap();
                    xmit(b.data_mut(), &flow, In, &egress(), None).unwrap();
                    verify_frame(b.data()).unwrap();
                }
                Err(_) => prop_assert_eq!(b.data(), &input[..]),
            }
        }

        /// Random valid packets: checksums valid whatever the MSS clamp, and in → reply →
        /// out restores the client's packet byte for byte.
        #[test]
        fn round_trip_and_checksums(flow in arb_flow(), l4 in arb_l4(), ttl in 2u8.., mss in proptest::option::of(any::<u16>())) {
            let local = flow.local.unwrap();
            // an echo's identifier is the connection's client port, and the local port
            // towards the real server
            let (mut flow, mut sent) = (flow, l4.clone());
            if let L4::Echo { ident, .. } = &mut sent {
                flow.client.port = *ident;
                *ident = local.port;
            }
            let orig = build(flow.client, flow.vip, &l4, ttl, None);
            let mut b = orig.clone();
            xmit(&mut b, &flow, In, &egress(), mss).unwrap();
            verify_frame(&b).unwrap();
            let keep = Egress { ttl: TtlPolicy::Keep, ..egress() };
            let mut b = orig.clone();
            xmit(&mut b, &flow, In, &keep, None).unwrap();
            prop_assert_eq!(&b[14..], &build(local, flow.real, &sent, ttl, None)[14..]);
            mirror(&mut b);
            let mut out = b.clone();
            xmit(&mut out, &flow, Out, &egress(), mss).unwrap();
            verify_frame(&out).unwrap();
            xmit(&mut b, &flow, Out, &keep, None).unwrap();
            mirror(&mut b);
            prop_assert_eq!(&b[14..], &orig[14..]);
        }

        /// ICMP errors about random connections: quoted and outer rewrites keep every
        /// checksum valid.
        #[test]
        fn icmp_errors_keep_checksums(flow in arb_flow(), l4 in arb_l4(), cut in 8usize..200) {
            // The RS side reports about what we sent it (LIP -> RS).
            let local = flow.local.unwrap();
            let sent = build(local, flow.real, &l4, 63, None);
            let err = icmp_error_about(&sent[14..], flow.real.addr, local.addr, cut, 3, 0);
            let mut b = err.clone();
            xmit(&mut b, &flow, Out, &egress(), None).unwrap();
            verify_frame(&b).unwrap();
        }
    }
}
