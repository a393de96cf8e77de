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
        Direction::In => Translation { src: None, dst: Some(flow.real) },
        Direction::Out => Translation { src: Some(flow.vip), dst: None },
    }
}
