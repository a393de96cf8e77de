//! Full-NAT (DPVS's FNAT: `dp_vs_xmit_fnat` / `dp_vs_out_xmit_fnat` with
//! `tcp_fnat_in_handler` / `tcp_fnat_out_handler`).
//!
//! - In (client → RS): source CIP:cport → LIP:lport, destination VIP:vport → RIP:rport.
//! - Out (RS → client): source RIP:rport → VIP:vport, destination LIP:lport → CIP:cport.
//!
//! TCP, UDP, ICMP echo (addresses only, identifier kept, as DPVS) and the ICMP errors of
//! [`super::icmp`], IPv4 and IPv6. Every address of the flow must be of the packet's family:
//! DPVS's NAT64 (`__dp_vs_xmit_fnat64`, IPv6 clients to IPv4 servers) rebuilds the headers
//! and is not done here ([`XmitDrop::Unsupported`]).
//!
//! MSS clamping: with `mss_clamp` set, a SYN (or SYN-ACK) whose MSS option is above it gets
//! the option lowered in place with an incremental checksum update; options are never added.
//! DPVS lowers the client's MSS on the way in to leave room for the TOA option it inserts
//! later; this crate inserts no TOA and no sequence-number offset, so the caller decides
//! whether and in which direction to clamp (e.g. for a tunnel or a smaller MTU behind us).

use super::{translate, Direction, Egress, Flow, Translation, Verdict, XmitDrop};

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
        },
        Direction::Out => Translation {
            src: Some(flow.vip),
            dst: Some(flow.client),
        },
    };
    translate(frame, &t, egress, mss_clamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmit::fixtures::*;
    use crate::xmit::testutil::*;
    use crate::xmit::{Direction::*, TtlPolicy};
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
        /// Random valid packets: checksums valid whatever the MSS clamp, and in → reply →
        /// out restores the client's packet byte for byte.
        #[test]
        fn round_trip_and_checksums(flow in arb_flow(), l4 in arb_l4(), ttl in 2u8.., mss in proptest::option::of(any::<u16>())) {
            let orig = build(flow.client, flow.vip, &l4, ttl, None);
            let mut b = orig.clone();
            xmit(&mut b, &flow, In, &egress(), mss).unwrap();
            verify_frame(&b).unwrap();
            let keep = Egress { ttl: TtlPolicy::Keep, ..egress() };
            let mut b = orig.clone();
            xmit(&mut b, &flow, In, &keep, None).unwrap();
            let local = flow.local.unwrap();
            prop_assert_eq!(&b[14..], &build(local, flow.real, &l4, ttl, None)[14..]);
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
