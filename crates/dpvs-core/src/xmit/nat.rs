//! Masquerade (NAT): the kernel's `ip_vs_nat_xmit` (in) and `handle_response` (out), with
//! `tcp_dnat_handler` / `tcp_snat_handler` and their UDP twins.
//!
//! - In (client → RS): destination VIP:vport → RIP:rport.
//! - Out (RS → client): source RIP:rport → VIP:vport.
//!
//! TCP, UDP, ICMP echo (addresses only, identifier kept, as DPVS) and the ICMP errors of
//! [`super::icmp`], over IPv4 or IPv6. The IPv4 header checksum and the TCP/UDP/ICMPv6
//! checksums are updated incrementally; see [`super`] for TTL, MTU, fragments and the UDP
//! zero checksum.

use super::{translate, Direction, Egress, Flow, Translation, Verdict};

/// Rewrites a NAT frame going in `dir` and readies it for `egress`.
pub fn xmit(frame: &mut [u8], flow: &Flow, dir: Direction, egress: &Egress) -> Verdict {
    translate(frame, &translation(flow, dir), egress, None)
}

fn translation(flow: &Flow, dir: Direction) -> Translation {
    match dir {
        Direction::In => Translation {
            src: None,
            dst: Some(flow.real),
            echo_ident: None,
        },
        Direction::Out => Translation {
            src: Some(flow.vip),
            dst: None,
            echo_ident: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmit::fixtures::*;
    use crate::xmit::testutil::*;
    use crate::xmit::{Direction::*, TtlPolicy, XmitDrop};
    use proptest::prelude::*;

    fn frame_case(
        d: &'static str,
        input: fn() -> Vec<u8>,
        flow: Flow,
        dir: Direction,
        want: &'static [u8],
    ) -> Case {
        Case::new(d, input, flow, dir, Expect::Frame(want))
    }

    fn drop_case(
        d: &'static str,
        input: fn() -> Vec<u8>,
        flow: Flow,
        dir: Direction,
        why: XmitDrop,
    ) -> Case {
        Case::new(d, input, flow, dir, Expect::Drop(why))
    }

    fn cases() -> Vec<Case> {
        let (f4, f6) = (flow4(), flow6());
        vec![
            frame_case("v4 tcp syn in", || IN_SYN4.to_vec(), f4, In, NAT_IN_SYN4),
            frame_case(
                "v4 tcp syn-ack out",
                || NAT_REPLY_SYN4.to_vec(),
                f4,
                Out,
                NAT_OUT_SYN4,
            ),
            frame_case("v4 tcp data in", || IN_ACK4.to_vec(), f4, In, NAT_IN_ACK4),
            frame_case(
                "v4 tcp data out",
                || NAT_REPLY_ACK4.to_vec(),
                f4,
                Out,
                NAT_OUT_ACK4,
            ),
            frame_case("v4 udp in", || IN_UDP4.to_vec(), f4, In, NAT_IN_UDP4),
            frame_case(
                "v4 udp out",
                || NAT_REPLY_UDP4.to_vec(),
                f4,
                Out,
                NAT_OUT_UDP4,
            ),
            frame_case(
                "v4 udp zero checksum in stays zero",
                || IN_UDP04.to_vec(),
                f4,
                In,
                NAT_IN_UDP04,
            ),
            frame_case(
                "v4 udp zero checksum out stays zero",
                || NAT_REPLY_UDP04.to_vec(),
                f4,
                Out,
                NAT_OUT_UDP04,
            ),
            frame_case(
                "v4 echo request in",
                || IN_ECHO4.to_vec(),
                f4,
                In,
                NAT_IN_ECHO4,
            ),
            frame_case(
                "v4 echo reply out",
                || NAT_REPLY_ECHO4.to_vec(),
                f4,
                Out,
                NAT_OUT_ECHO4,
            ),
            frame_case("v6 tcp syn in", || IN_SYN6.to_vec(), f6, In, NAT_IN_SYN6),
            frame_case(
                "v6 tcp syn-ack out",
                || NAT_REPLY_SYN6.to_vec(),
                f6,
                Out,
                NAT_OUT_SYN6,
            ),
            frame_case("v6 tcp data in", || IN_ACK6.to_vec(), f6, In, NAT_IN_ACK6),
            frame_case(
                "v6 tcp data out",
                || NAT_REPLY_ACK6.to_vec(),
                f6,
                Out,
                NAT_OUT_ACK6,
            ),
            frame_case("v6 udp in", || IN_UDP6.to_vec(), f6, In, NAT_IN_UDP6),
            frame_case(
                "v6 udp out",
                || NAT_REPLY_UDP6.to_vec(),
                f6,
                Out,
                NAT_OUT_UDP6,
            ),
            frame_case(
                "v6 echo request in",
                || IN_ECHO6.to_vec(),
                f6,
                In,
                NAT_IN_ECHO6,
            ),
            frame_case(
                "v6 echo reply out",
                || NAT_REPLY_ECHO6.to_vec(),
                f6,
                Out,
                NAT_OUT_ECHO6,
            ),
            frame_case(
                "802.1Q tag kept",
                || IN_ACK4_VLAN.to_vec(),
                f4,
                In,
                NAT_IN_ACK4_VLAN,
            ),
            frame_case(
                "icmp port unreachable from the RS side",
                || ICMP_NAT_OUT_PORT_UNREACH_UDP4.to_vec(),
                f4,
                Out,
                ICMP_NAT_OUT_PORT_UNREACH_UDP4_X,
            ),
            frame_case(
                "icmp frag needed from a router, 8-byte quote",
                || ICMP_NAT_OUT_FRAG_NEEDED_ACK4.to_vec(),
                f4,
                Out,
                ICMP_NAT_OUT_FRAG_NEEDED_ACK4_X,
            ),
            frame_case(
                "icmp port unreachable from the client side",
                || ICMP_NAT_IN_PORT_UNREACH_UDP4.to_vec(),
                f4,
                In,
                ICMP_NAT_IN_PORT_UNREACH_UDP4_X,
            ),
            frame_case(
                "icmpv6 port unreachable from the RS",
                || ICMP_NAT_OUT_PORT_UNREACH_UDP6.to_vec(),
                f6,
                Out,
                ICMP_NAT_OUT_PORT_UNREACH_UDP6_X,
            ),
            frame_case(
                "icmpv6 unreachable from the client side, quote cut in the payload",
                || ICMP_NAT_IN_PORT_UNREACH_ACK6.to_vec(),
                f6,
                In,
                ICMP_NAT_IN_PORT_UNREACH_ACK6_X,
            ),
            // Drops.
            drop_case(
                "ttl 1",
                || with_ttl(IN_SYN4, 1),
                f4,
                In,
                XmitDrop::TtlExpired,
            ),
            drop_case(
                "ttl 0",
                || with_ttl(IN_UDP4, 0),
                f4,
                In,
                XmitDrop::TtlExpired,
            ),
            drop_case(
                "hop limit 1",
                || with_ttl(IN_ACK6, 1),
                f6,
                In,
                XmitDrop::TtlExpired,
            ),
            drop_case(
                "reply with ttl 1",
                || with_ttl(NAT_REPLY_ACK4, 1),
                f4,
                Out,
                XmitDrop::TtlExpired,
            ),
            drop_case(
                "first fragment",
                || mutate_v4(IN_UDP4, |ip| ip.set_more_frags(true)),
                f4,
                In,
                XmitDrop::Fragment,
            ),
            drop_case(
                "last fragment",
                || mutate_v4(IN_UDP4, |ip| ip.set_frag_offset(1480)),
                f4,
                In,
                XmitDrop::Fragment,
            ),
            drop_case(
                "ipv6 fragment header",
                || IN_UDP6_FRAG.to_vec(),
                f6,
                In,
                XmitDrop::Fragment,
            ),
            drop_case(
                "ipv6 routing header",
                || IN_UDP6_RH.to_vec(),
                f6,
                In,
                XmitDrop::Unsupported,
            ),
            drop_case(
                "bad ipv4 header checksum",
                || bad_ip_checksum(IN_ACK4),
                f4,
                In,
                XmitDrop::BadChecksum,
            ),
            drop_case(
                "sctp has no NAT here",
                || {
                    mutate_v4(IN_UDP4, |ip| {
                        ip.set_next_header(dpvs_wire::IpProtocol::SCTP)
                    })
                },
                f4,
                In,
                XmitDrop::Unsupported,
            ),
            drop_case(
                "flow of the other family",
                || IN_ACK4.to_vec(),
                f6,
                In,
                XmitDrop::Unsupported,
            ),
            drop_case(
                "ip version 6 in an ipv4 ethertype",
                || mutate_v4(IN_ACK4, |ip| ip.set_version(6)),
                f4,
                In,
                XmitDrop::Malformed,
            ),
            drop_case(
                "ipv4 header length 16",
                || mutate_v4(IN_ACK4, |ip| ip.set_header_len(16)),
                f4,
                In,
                XmitDrop::Malformed,
            ),
            drop_case(
                "total length past the frame",
                || mutate_v4(IN_ACK4, |ip| ip.set_total_len(2000)),
                f4,
                In,
                XmitDrop::Truncated,
            ),
            drop_case(
                "total length inside the header",
                || mutate_v4(IN_ACK4, |ip| ip.set_total_len(19)),
                f4,
                In,
                XmitDrop::Malformed,
            ),
            drop_case(
                "icmp error with a bad checksum",
                || flip_byte(ICMP_NAT_OUT_PORT_UNREACH_UDP4, 14 + 20 + 2),
                f4,
                Out,
                XmitDrop::BadChecksum,
            ),
            drop_case("icmp redirect", redirect, f4, Out, XmitDrop::Unsupported),
            drop_case("802.1ad", qinq, f4, In, XmitDrop::Unsupported),
            drop_case(
                "tcp data offset 4",
                || set_byte(IN_ACK4, 14 + 20 + 12, 0x40),
                f4,
                In,
                XmitDrop::Malformed,
            ),
            drop_case(
                "ipv6 payload length past the frame",
                || ipv6_len(IN_UDP6, 500),
                f6,
                In,
                XmitDrop::Truncated,
            ),
            Case::new(
                "DF packet above the MTU",
                || IN_ACK4.to_vec(),
                f4,
                In,
                Expect::Drop(XmitDrop::FragNeeded { mtu: 60 }),
            )
            .egress(Egress {
                mtu: 60,
                ..egress()
            }),
            Case::new(
                "no-DF packet above the MTU",
                || IN_UDP4.to_vec(),
                f4,
                In,
                Expect::Drop(XmitDrop::TooBig { mtu: 40 }),
            )
            .egress(Egress {
                mtu: 40,
                ..egress()
            }),
            Case::new(
                "ipv6 above the MTU",
                || IN_ACK6.to_vec(),
                f6,
                In,
                Expect::Drop(XmitDrop::FragNeeded { mtu: 80 }),
            )
            .egress(Egress {
                mtu: 80,
                ..egress()
            }),
            Case::new(
                "icmp error above the MTU: no frag-needed about an error",
                || ICMP_NAT_OUT_PORT_UNREACH_UDP4.to_vec(),
                f4,
                Out,
                Expect::Drop(XmitDrop::TooBig { mtu: 40 }),
            )
            .egress(Egress {
                mtu: 40,
                ..egress()
            }),
            Case::new(
                "exactly the MTU",
                || IN_ACK4.to_vec(),
                f4,
                In,
                Expect::Frame(NAT_IN_ACK4),
            )
            .egress(Egress {
                mtu: (NAT_IN_ACK4.len() - 14) as u16,
                ..egress()
            }),
        ]
    }

    fn redirect() -> Vec<u8> {
        let mut b = ICMP_NAT_OUT_PORT_UNREACH_UDP4.to_vec();
        b[34] = 5;
        dpvs_wire::icmpv4::Packet::new_unchecked(&mut b[34..]).fill_checksum();
        b
    }

    fn qinq() -> Vec<u8> {
        let mut b = IN_ACK4_VLAN.to_vec();
        b[12..14].copy_from_slice(&[0x88, 0xa8]);
        b
    }

    fn ipv6_len(frame: &[u8], len: u16) -> Vec<u8> {
        let mut b = frame.to_vec();
        b[18..20].copy_from_slice(&len.to_be_bytes());
        b
    }

    #[test]
    fn fixtures() {
        run(&cases(), |c, buf| {
            (xmit(buf, &c.flow, c.dir, &c.egress), buf.clone())
        });
    }

    #[test]
    fn ttl_kept_when_asked() {
        let mut b = IN_ACK4.to_vec();
        let e = Egress {
            ttl: TtlPolicy::Keep,
            ..egress()
        };
        xmit(&mut b, &flow4(), In, &e).unwrap();
        assert_eq!(b[14 + 8], 64);
        verify_frame(&b).unwrap();
        // TTL 1 is then no reason to drop.
        let mut b = with_ttl(IN_ACK6, 1);
        xmit(&mut b, &flow6(), In, &e).unwrap();
        assert_eq!(b[14 + 7], 1);
    }

    /// The kernel's fast path does not verify TCP/UDP checksums: a wrong one stays wrong
    /// and everything else is translated.
    #[test]
    fn bad_l4_checksum_passes_through_wrong() {
        for (input, want, csum_at) in [
            (IN_ACK4, NAT_IN_ACK4, 14 + 20 + 16),
            (IN_UDP6, NAT_IN_UDP6, 14 + 40 + 6),
        ] {
            let mut b = flip_byte(input, csum_at);
            let f = if csum_at < 60 { flow4() } else { flow6() };
            xmit(&mut b, &f, In, &egress()).unwrap();
            assert!(verify_frame(&b).is_err());
            assert_eq!(&b[..csum_at], &want[..csum_at]);
            assert_eq!(&b[csum_at + 2..], &want[csum_at + 2..]);
        }
    }

    /// A zero UDP checksum is invalid over IPv6: it gets a full one (the kernel's
    /// `udp_dnat_handler` does the same), equal to what scapy computes.
    #[test]
    fn ipv6_udp_zero_checksum_is_filled() {
        let at = 14 + 40 + 6;
        let mut b = IN_UDP6.to_vec();
        b[at..at + 2].fill(0);
        xmit(&mut b, &flow6(), In, &egress()).unwrap();
        assert_eq!(hex(&b), hex(NAT_IN_UDP6));
    }

    /// An error quoting a non-first fragment has no ports to translate (the kernel lets such
    /// errors pass untouched); an error whose quote lacks a whole IP header is refused.
    #[test]
    fn icmp_error_quotes_refused() {
        use dpvs_wire::{icmpv4, ipv4};
        let mut b = ICMP_NAT_OUT_PORT_UNREACH_UDP4.to_vec();
        let q = 14 + 20 + 8;
        let mut quoted = ipv4::Packet::new_unchecked(&mut b[q..q + 20]);
        quoted.set_frag_offset(1480);
        quoted.fill_checksum();
        icmpv4::Packet::new_unchecked(&mut b[34..]).fill_checksum();
        let before = b.clone();
        assert_eq!(
            xmit(&mut b, &flow4(), Out, &egress()),
            Err(XmitDrop::Unsupported)
        );
        assert_eq!(b, before);

        let keep = q + 12;
        let mut b = ICMP_NAT_OUT_PORT_UNREACH_UDP4[..keep].to_vec();
        let mut ip = ipv4::Packet::new_unchecked(&mut b[14..]);
        ip.set_total_len((keep - 14) as u16);
        ip.fill_checksum();
        icmpv4::Packet::new_unchecked(&mut b[34..]).fill_checksum();
        assert_eq!(
            xmit(&mut b, &flow4(), Out, &egress()),
            Err(XmitDrop::Truncated)
        );
    }

    #[test]
    fn ethernet_padding_is_kept() {
        let mut b = padded(IN_ECHO4, 6);
        let v = xmit(&mut b, &flow4(), In, &egress()).unwrap();
        assert_eq!(v.len, NAT_IN_ECHO4.len() + 6);
        assert_eq!(&b[..NAT_IN_ECHO4.len()], NAT_IN_ECHO4);
    }

    #[test]
    fn truncated_at_every_length() {
        for (input, f, dir) in [
            (IN_SYN4, flow4(), In),
            (IN_UDP6, flow6(), In),
            (NAT_REPLY_ECHO6, flow6(), Out),
            (IN_ACK4_VLAN, flow4(), In),
            (ICMP_NAT_OUT_PORT_UNREACH_UDP4, flow4(), Out),
            (ICMP_NAT_IN_PORT_UNREACH_ACK6, flow6(), In),
        ] {
            check_truncations(input, |b| xmit(b, &f, dir, &egress()));
        }
    }

    proptest! {
        /// Valid packets of random flows: every checksum valid after translation, and
        /// in → reply → out gives back the client's original packet exactly.
        #[test]
        fn round_trip_and_checksums(flow in arb_flow(), l4 in arb_l4(), ttl in 2u8.., vlan in proptest::option::of(0u16..4095)) {
            let orig = build(flow.client, flow.vip, &l4, ttl, vlan);
            let mut b = orig.clone();
            xmit(&mut b, &flow, In, &egress()).unwrap();
            verify_frame(&b).unwrap();
            let keep = Egress { ttl: TtlPolicy::Keep, ..egress() };
            let mut b = orig.clone();
            xmit(&mut b, &flow, In, &keep).unwrap();
            let rs_view = build(flow.client, flow.real, &l4, ttl, vlan);
            let l2 = if vlan.is_some() { 18 } else { 14 };
            prop_assert_eq!(&b[l2..], &rs_view[l2..]);
            mirror(&mut b);
            xmit(&mut b, &flow, Out, &egress()).unwrap();
            verify_frame(&b).unwrap();
            let mut b2 = orig.clone();
            xmit(&mut b2, &flow, In, &keep).unwrap();
            mirror(&mut b2);
            xmit(&mut b2, &flow, Out, &keep).unwrap();
            mirror(&mut b2);
            prop_assert_eq!(&b2[l2..], &orig[l2..]);
        }

        /// Arbitrary corruption never panics, and a refused frame is left as it was.
        #[test]
        fn corrupted_frames(flips in proptest::collection::vec((0usize..200, any::<u8>()), 1..6), cut in 0usize..200, which in 0usize..6, dir_in in any::<bool>()) {
            let inputs = [IN_SYN4, IN_UDP6, ICMP_NAT_OUT_PORT_UNREACH_UDP4, ICMP_NAT_IN_PORT_UNREACH_ACK6, IN_ACK4_VLAN, IN_ECHO6];
            let mut b = inputs[which].to_vec();
            for (at, x) in flips {
                if let Some(byte) = b.get_mut(at) { *byte ^= x; }
            }
            b.truncate(b.len().min(cut.max(1) + 40));
            let before = b.clone();
            let f = if which % 2 == 0 { flow4() } else { flow6() };
            let dir = if dir_in { In } else { Out };
            if xmit(&mut b, &f, dir, &egress()).is_err() {
                prop_assert_eq!(b, before);
            }
        }
    }
}
