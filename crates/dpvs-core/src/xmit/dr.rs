//! Direct routing: the kernel's `ip_vs_dr_xmit` / `ip_vs_dr_xmit_v6`, DPVS's
//! `__dp_vs_xmit_dr4` / `__dp_vs_xmit_dr6`.
//!
//! The frame goes to the real server's MAC unchanged above layer 2, except for the TTL /
//! hop limit: the kernel decrements it for DR too (`__ip_vs_get_out_rt` calls
//! `decrement_ttl` for every non-local destination), DPVS leaves it unless `xmit_ttl` is
//! configured; [`TtlPolicy`](super::TtlPolicy) chooses. Any upper-layer protocol is carried
//! (the real server owns the VIP). Only the in direction exists: the real server answers the
//! client directly. ICMP errors from the client side about such answers are forwarded the
//! same way, untranslated, as the kernel's `ip_vs_icmp_xmit` does for DR.
//!
//! Checks: Ethernet and IP headers whole, the IPv4 header checksum, no fragment, the TTL,
//! and the MTU (`FragNeeded` for IPv4 with DF and for IPv6, as both the kernel and DPVS).

use super::{apply_ttl, check_mtu, check_ttl, parse, set_macs, Egress, Forward, Verdict};

/// Readies a frame for the real server behind `egress` (whose `dst_mac` is the real
/// server's, or the next hop's on the way to it).
pub fn xmit(frame: &mut [u8], egress: &Egress) -> Verdict {
    let p = parse(frame)?;
    check_ttl(&p, egress.ttl)?;
    check_mtu(&p, p.ip_len, usize::from(egress.mtu), false)?;
    apply_ttl(frame, &p, egress.ttl);
    set_macs(frame, egress);
    Ok(Forward { l2_len: p.l2_len, len: frame.len() })
}
