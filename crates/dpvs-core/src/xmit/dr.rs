//! Direct routing: the kernel's `ip_vs_dr_xmit` / `ip_vs_dr_xmit_v6`, DPVS's
//! `__dp_vs_xmit_dr4` / `__dp_vs_xmit_dr6`.
//!
//! The frame goes to the real server's MAC unchanged above layer 2, except for the TTL /
//! hop limit: the kernel decrements it for DR too (`__ip_vs_get_out_rt` calls
//! `decrement_ttl` for every non-local destination since commit 8d8e20e2d7bb "ipvs:
//! Decrement ttl", 2015), DPVS leaves it unless `xmit_ttl` is
//! configured; [`TtlPolicy`](super::TtlPolicy) chooses. Any upper-layer protocol is carried
//! (the real server owns the VIP). Only the in direction exists: the real server answers the
//! client directly. ICMP errors from the client side about such answers are forwarded the
//! same way, untranslated, as the kernel's `ip_vs_icmp_xmit` does for DR.
//!
//! Checks: Ethernet and IP headers whole, the IPv4 header checksum, no fragment, the TTL,
//! and the MTU (`FragNeeded` for IPv4 with DF and for IPv6, as both the kernel and DPVS).

use super::{
    apply_ttl, check_mtu, check_ttl, is_icmp_error, parse, set_macs, Egress, Forward, Verdict,
};

/// Readies a frame for the real server behind `egress` (whose `dst_mac` is the real
/// server's, or the next hop's on the way to it).
pub fn xmit(frame: &mut [u8], egress: &Egress) -> Verdict {
    let p = parse(frame)?;
    check_ttl(&p, egress.ttl)?;
    let mtu = usize::from(egress.mtu);
    check_mtu(
        &p,
        p.ip_len,
        mtu,
        p.ip_len > mtu && is_icmp_error(frame, &p),
    )?;
    apply_ttl(frame, &p, egress.ttl);
    set_macs(frame, egress);
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
    use crate::xmit::{Direction::In, TtlPolicy, XmitDrop};
    use proptest::prelude::*;

    fn ok(d: &'static str, input: fn() -> Vec<u8>, want: &'static [u8]) -> Case {
        Case::new(d, input, flow4(), In, Expect::Frame(want))
    }

    fn cases() -> Vec<Case> {
        let drop = |d, input, why| Case::new(d, input, flow4(), In, Expect::Drop(why));
        vec![
            ok("v4 tcp syn", || IN_SYN4.to_vec(), DR_SYN4),
            ok("v4 tcp data", || IN_ACK4.to_vec(), DR_ACK4),
            ok("v4 udp", || IN_UDP4.to_vec(), DR_UDP4),
            ok("v4 udp zero checksum", || IN_UDP04.to_vec(), DR_UDP04),
            ok("v4 echo", || IN_ECHO4.to_vec(), DR_ECHO4),
            ok("v6 tcp syn", || IN_SYN6.to_vec(), DR_SYN6),
            ok("v6 tcp data", || IN_ACK6.to_vec(), DR_ACK6),
            ok("v6 udp", || IN_UDP6.to_vec(), DR_UDP6),
            ok("v6 echo", || IN_ECHO6.to_vec(), DR_ECHO6),
            drop("ttl 1", || with_ttl(IN_ACK4, 1), XmitDrop::TtlExpired),
            drop("hop limit 1", || with_ttl(IN_UDP6, 1), XmitDrop::TtlExpired),
            drop(
                "fragment",
                || mutate_v4(IN_UDP4, |ip| ip.set_more_frags(true)),
                XmitDrop::Fragment,
            ),
            drop(
                "ipv6 fragment",
                || IN_UDP6_FRAG.to_vec(),
                XmitDrop::Fragment,
            ),
            drop(
                "bad ipv4 header checksum",
                || bad_ip_checksum(IN_SYN4),
                XmitDrop::BadChecksum,
            ),
            Case::new(
                "DF above the MTU",
                || IN_ACK4.to_vec(),
                flow4(),
                In,
                Expect::Drop(XmitDrop::FragNeeded { mtu: 64 }),
            )
            .egress(Egress {
                mtu: 64,
                ..egress()
            }),
        ]
    }

    #[test]
    fn fixtures() {
        run(&cases(), |c, buf| (xmit(buf, &c.egress), buf.clone()));
    }

    /// DR carries any protocol: SCTP and an unknown protocol pass with MACs and TTL changed.
    #[test]
    fn any_protocol() {
        for proto in [132u8, 253] {
            let input = mutate_v4(IN_UDP4, |ip| {
                ip.set_next_header(dpvs_wire::IpProtocol(proto))
            });
            let mut b = input.clone();
            xmit(&mut b, &egress()).unwrap();
            assert_eq!(&b[..12], &DR_UDP4[..12]);
            assert_eq!(b[14 + 8], 63);
            assert!(dpvs_wire::ipv4::Packet::new_checked(&b[14..])
                .unwrap()
                .verify_checksum());
            assert_eq!(&b[34..], &input[34..]);
        }
    }

    #[test]
    fn keep_ttl_changes_macs_only() {
        let mut b = IN_SYN6.to_vec();
        xmit(
            &mut b,
            &Egress {
                ttl: TtlPolicy::Keep,
                ..egress()
            },
        )
        .unwrap();
        assert_eq!(&b[..12], &DR_SYN6[..12]);
        assert_eq!(&b[12..], &IN_SYN6[12..]);
    }

    /// An ICMP error above the MTU is never answered with frag-needed.
    #[test]
    fn icmp_error_above_mtu_is_too_big() {
        let mut b = ICMP_NAT_IN_PORT_UNREACH_UDP4.to_vec();
        let e = Egress {
            mtu: 40,
            ..egress()
        };
        assert_eq!(xmit(&mut b, &e), Err(XmitDrop::TooBig { mtu: 40 }));
    }

    #[test]
    fn truncated_at_every_length() {
        for input in [IN_SYN4, IN_ECHO6, IN_ACK4_VLAN] {
            check_truncations(input, |b| xmit(b, &egress()));
        }
    }

    proptest! {
        #[test]
        fn only_macs_and_ttl_change(flow in arb_flow(), l4 in arb_l4(), ttl in 2u8..) {
            let orig = build(flow.client, flow.vip, &l4, ttl, None);
            let mut b = orig.clone();
            xmit(&mut b, &egress()).unwrap();
            verify_frame(&b).unwrap();
            prop_assert_eq!(&b[..12], &DR_SYN4[..12]);
            prop_assert_eq!(&build(flow.client, flow.vip, &l4, ttl - 1, None)[12..], &b[12..]);
        }
    }
}
