//! Full-NAT (DPVS's FNAT: `dp_vs_xmit_fnat` / `dp_vs_out_xmit_fnat` with
//! `tcp_fnat_in_handler` / `tcp_fnat_out_handler`).
//!
//! - In (client → RS): source CIP:cport → LIP:lport, destination VIP:vport → RIP:rport.
//! - Out (RS → client): source RIP:rport → VIP:vport, destination LIP:lport → CIP:cport.
//!
//! TCP, UDP, ICMP echo (addresses only, identifier kept, as DPVS) and the ICMP errors of
//! [`super::icmp`], IPv4 and IPv6. Every address of the flow must be of the packet's family:
//! DPVS's NAT64 (`__dp_vs_xmit_fnat64`, IPv6 clients to IPv4 servers) rebuilds the headers
//! and is not done here ([`XmitDrop::Unsupported`](super::XmitDrop::Unsupported)).
//!
//! MSS clamping: with `mss_clamp` set, a SYN (or SYN-ACK) whose MSS option is above it gets
//! the option lowered in place with an incremental checksum update; options are never added.
//! DPVS lowers the client's MSS on the way in to leave room for the TOA option it inserts
//! later; this crate inserts no TOA and no sequence-number offset, so the caller decides
//! whether and in which direction to clamp (e.g. for a tunnel or a smaller MTU behind us).

use super::{translate, Direction, Egress, Flow, Translation, Verdict, XmitDrop};

/// Rewrites a full-NAT frame going in `dir` and readies it for `egress`; SYNs get their MSS
/// clamped to `mss_clamp` when it is set.
pub fn xmit(frame: &mut [u8], flow: &Flow, dir: Direction, egress: &Egress, mss_clamp: Option<u16>) -> Verdict {
    let local = flow.local.ok_or(XmitDrop::Unsupported)?;
    let t = match dir {
        Direction::In => Translation { src: Some(local), dst: Some(flow.real) },
        Direction::Out => Translation { src: Some(flow.vip), dst: Some(flow.client) },
    };
    translate(frame, &t, egress, mss_clamp)
}
