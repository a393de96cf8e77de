//! ICMP errors about a NAT or full-NAT connection (the kernel's `ip_vs_in_icmp` /
//! `ip_vs_out_icmp` with `ip_vs_nat_icmp`, DPVS's `dp_vs_xmit_icmp`).
//!
//! An error travelling in direction *d* is rewritten like a data packet travelling in *d*
//! for its outer header, and the packet it quotes — which went the other way — is rewritten
//! the opposite way:
//!
//! | method, direction | outer | quoted packet |
//! |---|---|---|
//! | NAT out (from the RS side, about client→RS) | src := VIP | dst := VIP:vport |
//! | NAT in (from the client side, about VIP→client) | dst := RS | src := RS:rport |
//! | full-NAT out (about LIP→RS) | src := VIP, dst := client | src := client:cport, dst := VIP:vport |
//! | full-NAT in (about VIP→client) | src := LIP, dst := RS | src := RS:rport, dst := LIP:lport |
//!
//! As the kernel, the outer source of an error from the RS side becomes the VIP even when a
//! router between us and the RS sent it: the client only knows the VIP.
//!
//! Handled types: ICMP destination unreachable, source quench and time exceeded (the
//! kernel's list; redirect and parameter problem are [`XmitDrop::Unsupported`]); every ICMPv6
//! error (types 1–4). The ICMP checksum is verified first (`BadChecksum`, as the kernel);
//! then the quoted IP header checksum, the quoted TCP/UDP checksum when the quote holds it,
//! the ICMP checksum and the outer IPv4 header checksum are all updated incrementally. The
//! kernel leaves the quoted TCP/UDP checksum stale and recomputes the ICMP checksum whole;
//! the result differs only in that quoted checksum, which is now right.
//!
//! Ports are rewritten for quoted TCP, UDP and SCTP (an SCTP CRC is left alone, as the
//! kernel). A quote too short to hold the ports, or cut inside its IPv6 extension headers,
//! is `Truncated`; a quoted non-first fragment is `Unsupported` (the kernel leaves such
//! errors to the local stack, as the caller can). Errors never yield `FragNeeded`, and
//! full-NAT sequence-number offsets are not undone in the quote (this crate has none).

use core::net::IpAddr;

use dpvs_wire::icmpv4::{self, QuoteRewrite};
use dpvs_wire::icmpv6;
use dpvs_wire::{checksum, IpProtocol};

use super::{
    apply_ttl, check_mtu, check_ttl, ipv6_addrs, rewrite_ip_addrs, set_macs, Egress, Endpoint,
    Family, Forward, Parsed, Translation, Verdict, XmitDrop,
};

/// ICMP types the kernel translates for a connection: destination unreachable, source
/// quench, time exceeded.
pub(crate) fn is_handled_error_v4(t: icmpv4::Message) -> bool {
    matches!(t.0, 3 | 4 | 11)
}

fn has_ports(proto: IpProtocol) -> bool {
    matches!(proto, IpProtocol::TCP | IpProtocol::UDP | IpProtocol::SCTP)
}

/// The rewrite of the quoted packet: the mirror of the outer translation.
fn quote_rewrite<A>(
    t: &Translation,
    ports: bool,
    addr: impl Fn(IpAddr) -> Option<A>,
) -> QuoteRewrite<A> {
    let port = |e: Option<Endpoint>| if ports { e.map(|e| e.port) } else { None };
    QuoteRewrite {
        src_addr: t.dst.and_then(|e| addr(e.addr)),
        dst_addr: t.src.and_then(|e| addr(e.addr)),
        src_port: port(t.dst),
        dst_port: port(t.src),
    }
}

/// Translates an ICMP or ICMPv6 error (already classified by the caller) per `t`.
pub(crate) fn translate_error(
    frame: &mut [u8],
    p: &Parsed,
    t: &Translation,
    egress: &Egress,
) -> Verdict {
    let l4_range = p.l4_start()..p.l2_len + p.ip_len;

    // Checks, in the kernel's order: checksum, then the route (TTL, MTU).
    match p.family {
        Family::V4 => {
            let m = icmpv4::Packet::new_checked(&frame[l4_range.clone()])?;
            if !m.verify_checksum() {
                return Err(XmitDrop::BadChecksum);
            }
            m.quote()?;
        }
        Family::V6 => {
            let (src, dst) = ipv6_addrs(&frame[p.l3()]);
            let (IpAddr::V6(src), IpAddr::V6(dst)) = (src, dst) else {
                return Err(XmitDrop::Malformed);
            };
            let m = icmpv6::Packet::new_checked(&frame[l4_range.clone()])?;
            if !m.verify_checksum(src, dst) {
                return Err(XmitDrop::BadChecksum);
            }
            m.quote()?;
        }
    }
    check_ttl(p, egress.ttl)?;
    check_mtu(p, p.ip_len, usize::from(egress.mtu), true)?;

    // The quote rewrite checks what it needs and changes nothing on error: do it first.
    let (l3, l4) = frame[p.l3()].split_at_mut(p.l3_len);
    match p.family {
        Family::V4 => {
            let mut m = icmpv4::Packet::new_unchecked(&mut *l4);
            let ports = {
                let q = m.quote()?;
                if q.header().is_non_first_fragment() {
                    return Err(XmitDrop::Unsupported);
                }
                has_ports(q.next_header())
            };
            let rw = quote_rewrite(t, ports, |a| match a {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            });
            m.rewrite_quote(&rw)?;
        }
        Family::V6 => {
            let mut m = icmpv6::Packet::new_unchecked(&mut *l4);
            let ul = m.quote()?.upper_layer()?;
            if !ul.has_header() {
                return Err(XmitDrop::Unsupported);
            }
            let ports = has_ports(ul.protocol);
            let rw = quote_rewrite(t, ports, |a| match a {
                IpAddr::V6(a) => Some(a),
                IpAddr::V4(_) => None,
            });
            m.rewrite_quote(&rw)?;
        }
    }

    let changes = rewrite_ip_addrs(l3, p.family, t.src.map(|e| e.addr), t.dst.map(|e| e.addr));
    if p.family == Family::V6 {
        let mut m = icmpv6::Packet::new_unchecked(&mut *l4);
        let mut c = m.checksum();
        for (old, new) in changes.into_iter().flatten() {
            c = checksum::update_addr(c, old, new);
        }
        m.set_checksum(c);
    }
    apply_ttl(frame, p, egress.ttl);
    set_macs(frame, egress);
    Ok(Forward {
        l2_len: p.l2_len,
        len: frame.len(),
    })
}
