//! IP tunnelling: the kernel's `ip_vs_tunnel_xmit` / `ip_vs_tunnel_xmit_v6` with the three
//! encapsulations it has (`tun_type` ipip, gue, gre; DPVS has IP-in-IP only).
//!
//! The client's packet, TTL already decremented per [`TtlPolicy`], goes
//! whole inside a new outer header towards the real server, which owns the VIP and answers
//! the client directly (only the in direction exists). ICMP errors from the client side are
//! tunnelled the same way, untranslated, as the kernel does.
//!
//! Outer header, as the kernel builds it:
//! - family of the real server's address (IPv4 in IPv6 and IPv6 in IPv4 allowed: the kernel
//!   allows a dest of another family than its service only for tunnelling); protocol 4 for
//!   an inner IPv4 packet, 41 for IPv6; 17 for GUE, 47 for GRE;
//! - source [`Tunnel::src`], destination the real server;
//! - TTL / hop limit copied from the inner packet after its decrement;
//! - DSCP copied, ECN per RFC 6040 `INET_ECN_encapsulate` (CE becomes ECT(0) outside);
//! - IPv4: DF copied from an inner IPv4 header (the kernel with `pmtu_disc`, its default),
//!   clear for an inner IPv6 packet; identification 0 when DF is set (`ip_select_ident`),
//!   else [`Tunnel::ident`]; no options;
//! - IPv6: flow label 0, no extension headers.
//!
//! GUE (draft-ietf-intarea-gue, variant 0): UDP from a source port spread over
//! 32768–60999 by [`Tunnel::entropy`] (the kernel's `udp_flow_src_port` over its default
//! local port range) to [`TunnelKind::Gue::port`], then a 4-byte header with `proto_ctype`
//! 4 or 41. The UDP checksum is zero unless [`Tunnel::csum`] (IPv6 too: RFC 6935 allows a
//! zero checksum for tunnels, and the kernel sends one). The kernel's remote checksum
//! offload option (`gue remcsum`) only applies to packets with a partial checksum, which
//! never reach this code: it is not implemented.
//!
//! GRE (RFC 2784): 4 bytes (no key, no sequence number), protocol type 0x0800 or 0x86dd;
//! with [`Tunnel::csum`] the C bit and a checksum over the GRE header and payload.
//!
//! MTU: the route MTU minus the encapsulation must be at least 68 (IPv4 outer) or 1280
//! (IPv6 outer), else [`XmitDrop::NoRoom`], as the kernel. A packet longer than what is
//! left is `FragNeeded` with that smaller MTU when it may not be fragmented (inner IPv4 with
//! DF, inner IPv6), `TooBig` otherwise (the kernel fragments the outer packet).

use core::net::{IpAddr, Ipv4Addr};

use dpvs_wire::ipv4;
use dpvs_wire::ipv6::{self, Ipv6Repr};
use dpvs_wire::{checksum, icmpv4, udp, EtherType, IpProtocol};

use super::{
    apply_ttl, check_mtu, check_ttl, ethertype_offset, header_sum, is_icmp_error, parse, set_macs,
    Egress, Family, Flow, Forward, PacketBuf, TtlPolicy, Verdict, XmitDrop, MAX_L2_LEN,
};

/// The encapsulation (the kernel's `--tun-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    /// IP-in-IP (protocol 4 or 41). The default.
    Ipip,
    /// Generic UDP encapsulation.
    Gue {
        /// Destination UDP port (the kernel's `--tun-port`).
        port: u16,
    },
    /// GRE.
    Gre,
}

/// Tunnel parameters for one packet: the dest's tunnel configuration plus the per-flow
/// values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tunnel {
    /// The encapsulation.
    pub kind: TunnelKind,
    /// Outer checksum (`--tun-nocsum` off / `--tun-csum`): the GUE UDP checksum, the GRE
    /// checksum. No effect on IP-in-IP.
    pub csum: bool,
    /// Outer source address, of the real server's family (the kernel uses the route's
    /// preferred source).
    pub src: IpAddr,
    /// Outer IPv4 identification when DF is clear.
    pub ident: u16,
    /// A hash of the inner flow (e.g. the NIC's RSS hash) that spreads GUE source ports.
    pub entropy: u32,
}

/// Lowest and highest GUE source port: Linux's default `ip_local_port_range`.
const GUE_PORT_MIN: u32 = 32768;
const GUE_PORT_MAX: u32 = 60999;
const UDP_LEN: usize = udp::HEADER_LEN;
const GUE_LEN: usize = 4;
const GRE_LEN: usize = 4;
const GRE_CSUM_LEN: usize = 4;
const GRE_FLAG_CSUM: u16 = 0x8000;

impl Tunnel {
    /// Bytes the encapsulation adds for an outer header of `outer`'s family.
    pub fn overhead(&self, outer: IpAddr) -> usize {
        let ip = match outer {
            IpAddr::V4(_) => ipv4::HEADER_LEN,
            IpAddr::V6(_) => ipv6::HEADER_LEN,
        };
        ip + self.encap_len()
    }

    fn encap_len(&self) -> usize {
        match self.kind {
            TunnelKind::Ipip => 0,
            TunnelKind::Gue { .. } => UDP_LEN + GUE_LEN,
            TunnelKind::Gre if self.csum => GRE_LEN + GRE_CSUM_LEN,
            TunnelKind::Gre => GRE_LEN,
        }
    }

    /// The GUE source port for this packet.
    pub fn gue_src_port(&self) -> u16 {
        let spread = (u64::from(self.entropy) * u64::from(GUE_PORT_MAX - GUE_PORT_MIN)) >> 32;
        (spread as u32 + GUE_PORT_MIN) as u16
    }
}

/// RFC 6040 / `INET_ECN_encapsulate`: DSCP copied, ECN copied except CE, which becomes ECT(0).
fn ecn_encapsulate(dsfield: u8) -> u8 {
    const CE: u8 = 3;
    const ECT0: u8 = 2;
    let ecn = if dsfield & 3 == CE { ECT0 } else { dsfield & 3 };
    (dsfield & !3) | ecn
}

/// Encapsulates the frame in `buf` towards `flow.real` per `tun` and readies it for `egress`.
///
/// `buf` needs [`Tunnel::overhead`] bytes of headroom; trailing Ethernet padding is trimmed.
pub fn xmit<B: PacketBuf + ?Sized>(
    buf: &mut B,
    flow: &Flow,
    tun: &Tunnel,
    egress: &Egress,
) -> Verdict {
    let real = flow.real.addr;
    let outer = Family::of(real);
    if Family::of(tun.src) != outer {
        return Err(XmitDrop::Unsupported);
    }
    let p = parse(buf.data())?;
    check_ttl(&p, egress.ttl)?;
    let overhead = tun.overhead(real);
    let min_mtu = match outer {
        Family::V4 => 68,
        Family::V6 => 1280,
    };
    let inner_mtu = usize::from(egress.mtu).saturating_sub(overhead);
    if inner_mtu < min_mtu {
        return Err(XmitDrop::NoRoom);
    }
    let icmp_error = p.ip_len > inner_mtu && is_icmp_error(buf.data(), &p);
    check_mtu(&p, p.ip_len, inner_mtu, icmp_error)?;
    if buf.headroom() < overhead {
        return Err(XmitDrop::NoRoom);
    }

    // Inner facts, after the TTL decrement.
    apply_ttl(buf.data_mut(), &p, egress.ttl);
    let inner_ttl = match egress.ttl {
        TtlPolicy::Decrement => p.ttl - 1,
        TtlPolicy::Keep => p.ttl,
    };
    let (inner_proto, dsfield) = {
        let l3 = &buf.data()[p.l3()];
        match p.family {
            Family::V4 => (IpProtocol::IPIP, ipv4::Packet::new_unchecked(l3).dscp_ecn()),
            Family::V6 => (
                IpProtocol::IPV6,
                ipv6::Packet::new_unchecked(l3).traffic_class(),
            ),
        }
    };
    let mut l2 = [0u8; MAX_L2_LEN];
    l2[..p.l2_len].copy_from_slice(&buf.data()[..p.l2_len]);

    // Make room and move the Ethernet header in front of the new headers.
    buf.truncate(p.l2_len + p.ip_len);
    if !buf.prepend(overhead) {
        return Err(XmitDrop::NoRoom);
    }
    let frame = buf.data_mut();
    frame[..p.l2_len].copy_from_slice(&l2[..p.l2_len]);
    let ethertype = match outer {
        Family::V4 => EtherType::IPV4,
        Family::V6 => EtherType::IPV6,
    };
    let at = ethertype_offset(p.l2_len);
    frame[at..at + 2].copy_from_slice(&ethertype.0.to_be_bytes());
    set_macs(frame, egress);

    let ip_hdr_len = overhead - tun.encap_len();
    let (outer_hdr, rest) = frame[p.l2_len..].split_at_mut(ip_hdr_len);
    let payload_len = rest.len();
    let next_header = write_encap(rest, tun, inner_proto, p.ip_len);

    match (real, tun.src) {
        (IpAddr::V4(dst), IpAddr::V4(src)) => {
            // Field by field rather than `Ipv4Repr::emit`, whose out-of-line checksum was a
            // fifth of the encapsulation cost.
            let dont_frag = p.dont_frag;
            let mut ip = ipv4::Packet::new_unchecked(&mut *outer_hdr);
            ip.set_version(4);
            ip.set_header_len(ipv4::HEADER_LEN);
            ip.set_dscp_ecn(ecn_encapsulate(dsfield));
            // Fits: checked against the MTU above.
            ip.set_total_len((ipv4::HEADER_LEN + payload_len) as u16);
            ip.set_ident(if dont_frag { 0 } else { tun.ident });
            ip.clear_flags();
            ip.set_dont_frag(dont_frag);
            ip.set_hop_limit(inner_ttl);
            ip.set_next_header(next_header);
            ip.set_src_addr(src);
            ip.set_dst_addr(dst);
            ip.set_checksum(0);
            let c = !header_sum(ip.header());
            ip.set_checksum(c);
        }
        (IpAddr::V6(dst), IpAddr::V6(src)) => {
            let repr = Ipv6Repr {
                src_addr: src,
                dst_addr: dst,
                next_header,
                payload_len,
                hop_limit: inner_ttl,
                traffic_class: ecn_encapsulate(dsfield),
                flow_label: 0,
            };
            let _ = repr.emit(&mut ipv6::Packet::new_unchecked(outer_hdr));
        }
        // Families were checked above.
        _ => return Err(XmitDrop::Unsupported),
    }
    if tun.csum {
        if let TunnelKind::Gue { .. } = tun.kind {
            let mut d = udp::Packet::new_unchecked(&mut *rest);
            // Cannot fail: same families, length below 64 KiB.
            let _ = d.fill_checksum(tun.src, real);
        }
    }
    Ok(Forward {
        l2_len: p.l2_len,
        len: buf.data().len(),
    })
}

/// An ICMP error about one of our own tunnel packets, to be re-sent to the client: see
/// [`client_error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// ICMP type as received (destination unreachable, source quench, time exceeded).
    pub msg_type: u8,
    /// ICMP code as received.
    pub code: u8,
    /// The rest-of-header word to send: for fragmentation needed the MTU left for the
    /// client's packets once the encapsulation is taken off, else as received.
    pub info: u32,
    /// Where the client's packet (as much of it as was quoted) lies in the frame: the quote
    /// of the new error.
    pub quote: core::ops::Range<usize>,
    /// The client: destination of the new error.
    pub client: Ipv4Addr,
    /// The VIP: source of the new error (the kernel's `icmp_send` answers from the
    /// offending packet's local destination).
    pub vip: Ipv4Addr,
    /// The tunnel's far end (the quoted outer destination): the caller checks it is one of
    /// its real servers, as the kernel looks the dest up.
    pub real: Ipv4Addr,
}

/// The kernel's special case in `ip_vs_in_icmp` for errors about IPIP, GUE and GRE packets
/// we sent (IPv4 outer and inner only, as the kernel): a router between us and the real
/// server reports about the outer packet; the client must hear about its own packet. This
/// finds that packet in the quote and the values of the error to send it; the caller builds
/// the error (this module does not emit new packets).
///
/// Checks: the frame's IPv4 and ICMP headers, the ICMP checksum (`BadChecksum`), the type
/// (3, 4 or 11, else `Unsupported`), a quoted outer header that is not a non-first fragment
/// and carries protocol 4, UDP with a GUE version-0 header announcing protocol 4, or GRE
/// version 0 of type 0x0800 (else `Unsupported`), and a whole quoted inner IPv4 header
/// (`Truncated`/`Malformed`). For fragmentation needed, a client packet without DF is
/// `Unsupported` (the kernel sends nothing: the client does no path MTU discovery), and the
/// MTU announced is `route_mtu` if the caller knows the route's (the kernel prefers it) or
/// the reported one, minus the whole encapsulation when above 68 plus it (the kernel takes
/// off 20 bytes whatever the encapsulation).
pub fn client_error(frame: &[u8], route_mtu: Option<u16>) -> Result<ClientError, XmitDrop> {
    let p = parse(frame)?;
    if (p.family, p.proto) != (Family::V4, IpProtocol::ICMP) {
        return Err(XmitDrop::Unsupported);
    }
    let l4_start = p.l4_start();
    let m = icmpv4::Packet::new_checked(&frame[l4_start..p.l2_len + p.ip_len])?;
    if !m.verify_checksum() {
        return Err(XmitDrop::BadChecksum);
    }
    let (msg_type, code) = (m.msg_type().0, m.msg_code());
    if !matches!(msg_type, 3 | 4 | 11) {
        return Err(XmitDrop::Unsupported);
    }
    let outer = m.quote()?;
    if outer.header().is_non_first_fragment() {
        return Err(XmitDrop::Unsupported);
    }
    let rest = &m.data()[outer.header_len()..];
    let encap = match outer.next_header() {
        IpProtocol::IPIP => 0,
        IpProtocol::UDP => {
            let gue = rest
                .get(UDP_LEN..UDP_LEN + GUE_LEN)
                .ok_or(XmitDrop::Truncated)?;
            // Version 0, C clear, then the options length and the inner protocol.
            if gue[0] & 0xe0 != 0 || gue[1] != IpProtocol::IPIP.0 {
                return Err(XmitDrop::Unsupported);
            }
            UDP_LEN + GUE_LEN + usize::from(gue[0] & 0x1f) * 4
        }
        IpProtocol::GRE => {
            let gre = rest.get(..GRE_LEN).ok_or(XmitDrop::Truncated)?;
            let flags = u16::from_be_bytes([gre[0], gre[1]]);
            if flags & 0x0007 != 0 || u16::from_be_bytes([gre[2], gre[3]]) != EtherType::IPV4.0 {
                return Err(XmitDrop::Unsupported);
            }
            // Checksum (C), key (K) and sequence number (S) words.
            GRE_LEN
                + 4 * [0x8000, 0x2000, 0x1000]
                    .iter()
                    .filter(|&&b| flags & b != 0)
                    .count()
        }
        _ => return Err(XmitDrop::Unsupported),
    };
    let inner_bytes = rest.get(encap..).ok_or(XmitDrop::Truncated)?;
    let inner = icmpv4::Ipv4Quote::parse(inner_bytes)?;
    let info = if (msg_type, code) == (3, 4) {
        if !inner.header().dont_frag() {
            return Err(XmitDrop::Unsupported);
        }
        let overhead = outer.header_len() + encap;
        let mtu = usize::from(route_mtu.unwrap_or(m.next_hop_mtu()));
        (if mtu > 68 + overhead {
            mtu - overhead
        } else {
            mtu
        }) as u32
    } else {
        let w = &frame[l4_start + 4..l4_start + 8];
        u32::from_be_bytes([w[0], w[1], w[2], w[3]])
    };
    let quote_start = l4_start + icmpv4::HEADER_LEN + outer.header_len() + encap;
    Ok(ClientError {
        msg_type,
        code,
        info,
        quote: quote_start..p.l2_len + p.ip_len,
        client: inner.src_addr(),
        vip: inner.dst_addr(),
        real: outer.dst_addr(),
    })
}

/// Writes the UDP+GUE or GRE header at the start of `rest` (whose remainder is the inner
/// packet of `inner_len` bytes) and returns the outer IP protocol.
fn write_encap(
    rest: &mut [u8],
    tun: &Tunnel,
    inner_proto: IpProtocol,
    inner_len: usize,
) -> IpProtocol {
    match tun.kind {
        TunnelKind::Ipip => inner_proto,
        TunnelKind::Gue { port } => {
            let (hdr, _) = rest.split_at_mut(UDP_LEN + GUE_LEN);
            let mut d = udp::Packet::new_unchecked(&mut hdr[..UDP_LEN]);
            d.set_src_port(tun.gue_src_port());
            d.set_dst_port(port);
            d.set_len((UDP_LEN + GUE_LEN + inner_len) as u16);
            d.set_checksum(0);
            // Version 0, C 0, no options (hlen 0), then proto/ctype and no flags.
            hdr[UDP_LEN..].copy_from_slice(&[0, inner_proto.0, 0, 0]);
            IpProtocol::UDP
        }
        TunnelKind::Gre => {
            let ptype = if inner_proto == IpProtocol::IPIP {
                EtherType::IPV4
            } else {
                EtherType::IPV6
            };
            let flags = if tun.csum { GRE_FLAG_CSUM } else { 0 };
            rest[..2].copy_from_slice(&flags.to_be_bytes());
            rest[2..4].copy_from_slice(&ptype.0.to_be_bytes());
            if tun.csum {
                rest[4..8].fill(0);
                let c = checksum::checksum(rest);
                rest[4..6].copy_from_slice(&c.to_be_bytes());
            }
            IpProtocol::GRE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmit::fixtures::*;
    use crate::xmit::testutil::*;
    use crate::xmit::{Direction::In, SliceBuf};
    use core::net::{IpAddr, Ipv4Addr};
    use proptest::prelude::*;

    const HEADROOM: usize = 128;

    type Row = (
        &'static str,
        fn() -> Vec<u8>,
        bool,
        bool,
        TunnelKind,
        bool,
        &'static [u8],
    );

    #[rustfmt::skip]
    const ROWS: &[Row] = &[
        ("ipip v4 ack in v4", || TUN_IN_ACK4.to_vec(), false, false, TunnelKind::Ipip, false, TUN_IPIP_ACK4_IN4),
        ("gue v4 ack in v4", || TUN_IN_ACK4.to_vec(), false, false, TunnelKind::Gue { port: GUE_PORT }, false, TUN_GUE_ACK4_IN4),
        ("gue csum v4 ack in v4", || TUN_IN_ACK4.to_vec(), false, false, TunnelKind::Gue { port: GUE_PORT }, true, TUN_GUE_CSUM_ACK4_IN4),
        ("gre v4 ack in v4", || TUN_IN_ACK4.to_vec(), false, false, TunnelKind::Gre, false, TUN_GRE_ACK4_IN4),
        ("gre csum v4 ack in v4", || TUN_IN_ACK4.to_vec(), false, false, TunnelKind::Gre, true, TUN_GRE_CSUM_ACK4_IN4),
        ("ipip v4 ack in v6", || TUN_IN_ACK4.to_vec(), false, true, TunnelKind::Ipip, false, TUN_IPIP_ACK4_IN6),
        ("gue v4 ack in v6", || TUN_IN_ACK4.to_vec(), false, true, TunnelKind::Gue { port: GUE_PORT }, false, TUN_GUE_ACK4_IN6),
        ("gue csum v4 ack in v6", || TUN_IN_ACK4.to_vec(), false, true, TunnelKind::Gue { port: GUE_PORT }, true, TUN_GUE_CSUM_ACK4_IN6),
        ("gre v4 ack in v6", || TUN_IN_ACK4.to_vec(), false, true, TunnelKind::Gre, false, TUN_GRE_ACK4_IN6),
        ("gre csum v4 ack in v6", || TUN_IN_ACK4.to_vec(), false, true, TunnelKind::Gre, true, TUN_GRE_CSUM_ACK4_IN6),
        ("ipip v4 udp in v4", || TUN_IN_UDP4.to_vec(), false, false, TunnelKind::Ipip, false, TUN_IPIP_UDP4_IN4),
        ("gue v4 udp in v4", || TUN_IN_UDP4.to_vec(), false, false, TunnelKind::Gue { port: GUE_PORT }, false, TUN_GUE_UDP4_IN4),
        ("gue csum v4 udp in v4", || TUN_IN_UDP4.to_vec(), false, false, TunnelKind::Gue { port: GUE_PORT }, true, TUN_GUE_CSUM_UDP4_IN4),
        ("gre v4 udp in v4", || TUN_IN_UDP4.to_vec(), false, false, TunnelKind::Gre, false, TUN_GRE_UDP4_IN4),
        ("gre csum v4 udp in v4", || TUN_IN_UDP4.to_vec(), false, false, TunnelKind::Gre, true, TUN_GRE_CSUM_UDP4_IN4),
        ("ipip v4 udp in v6", || TUN_IN_UDP4.to_vec(), false, true, TunnelKind::Ipip, false, TUN_IPIP_UDP4_IN6),
        ("gue v4 udp in v6", || TUN_IN_UDP4.to_vec(), false, true, TunnelKind::Gue { port: GUE_PORT }, false, TUN_GUE_UDP4_IN6),
        ("gue csum v4 udp in v6", || TUN_IN_UDP4.to_vec(), false, true, TunnelKind::Gue { port: GUE_PORT }, true, TUN_GUE_CSUM_UDP4_IN6),
        ("gre v4 udp in v6", || TUN_IN_UDP4.to_vec(), false, true, TunnelKind::Gre, false, TUN_GRE_UDP4_IN6),
        ("gre csum v4 udp in v6", || TUN_IN_UDP4.to_vec(), false, true, TunnelKind::Gre, true, TUN_GRE_CSUM_UDP4_IN6),
        ("ipip v6 ack in v4", || TUN_IN_ACK6.to_vec(), true, false, TunnelKind::Ipip, false, TUN_IPIP_ACK6_IN4),
        ("gue v6 ack in v4", || TUN_IN_ACK6.to_vec(), true, false, TunnelKind::Gue { port: GUE_PORT }, false, TUN_GUE_ACK6_IN4),
        ("gue csum v6 ack in v4", || TUN_IN_ACK6.to_vec(), true, false, TunnelKind::Gue { port: GUE_PORT }, true, TUN_GUE_CSUM_ACK6_IN4),
        ("gre v6 ack in v4", || TUN_IN_ACK6.to_vec(), true, false, TunnelKind::Gre, false, TUN_GRE_ACK6_IN4),
        ("gre csum v6 ack in v4", || TUN_IN_ACK6.to_vec(), true, false, TunnelKind::Gre, true, TUN_GRE_CSUM_ACK6_IN4),
        ("ipip v6 ack in v6", || TUN_IN_ACK6.to_vec(), true, true, TunnelKind::Ipip, false, TUN_IPIP_ACK6_IN6),
        ("gue v6 ack in v6", || TUN_IN_ACK6.to_vec(), true, true, TunnelKind::Gue { port: GUE_PORT }, false, TUN_GUE_ACK6_IN6),
        ("gue csum v6 ack in v6", || TUN_IN_ACK6.to_vec(), true, true, TunnelKind::Gue { port: GUE_PORT }, true, TUN_GUE_CSUM_ACK6_IN6),
        ("gre v6 ack in v6", || TUN_IN_ACK6.to_vec(), true, true, TunnelKind::Gre, false, TUN_GRE_ACK6_IN6),
        ("gre csum v6 ack in v6", || TUN_IN_ACK6.to_vec(), true, true, TunnelKind::Gre, true, TUN_GRE_CSUM_ACK6_IN6),
        ("ipip v6 udp in v4", || TUN_IN_UDP6.to_vec(), true, false, TunnelKind::Ipip, false, TUN_IPIP_UDP6_IN4),
        ("gue v6 udp in v4", || TUN_IN_UDP6.to_vec(), true, false, TunnelKind::Gue { port: GUE_PORT }, false, TUN_GUE_UDP6_IN4),
        ("gue csum v6 udp in v4", || TUN_IN_UDP6.to_vec(), true, false, TunnelKind::Gue { port: GUE_PORT }, true, TUN_GUE_CSUM_UDP6_IN4),
        ("gre v6 udp in v4", || TUN_IN_UDP6.to_vec(), true, false, TunnelKind::Gre, false, TUN_GRE_UDP6_IN4),
        ("gre csum v6 udp in v4", || TUN_IN_UDP6.to_vec(), true, false, TunnelKind::Gre, true, TUN_GRE_CSUM_UDP6_IN4),
        ("ipip v6 udp in v6", || TUN_IN_UDP6.to_vec(), true, true, TunnelKind::Ipip, false, TUN_IPIP_UDP6_IN6),
        ("gue v6 udp in v6", || TUN_IN_UDP6.to_vec(), true, true, TunnelKind::Gue { port: GUE_PORT }, false, TUN_GUE_UDP6_IN6),
        ("gue csum v6 udp in v6", || TUN_IN_UDP6.to_vec(), true, true, TunnelKind::Gue { port: GUE_PORT }, true, TUN_GUE_CSUM_UDP6_IN6),
        ("gre v6 udp in v6", || TUN_IN_UDP6.to_vec(), true, true, TunnelKind::Gre, false, TUN_GRE_UDP6_IN6),
        ("gre csum v6 udp in v6", || TUN_IN_UDP6.to_vec(), true, true, TunnelKind::Gre, true, TUN_GRE_CSUM_UDP6_IN6),
    ];

    fn tun(outer_v6: bool, kind: TunnelKind, csum: bool) -> Tunnel {
        let src = if outer_v6 {
            IpAddr::V6(TUN_SRC6)
        } else {
            IpAddr::V4(TUN_SRC4)
        };
        Tunnel {
            kind,
            csum,
            src,
            ident: IDENT,
            entropy: ENTROPY,
        }
    }

    fn flow(inner_v6: bool, outer_v6: bool) -> Flow {
        with_real(if inner_v6 { flow6() } else { flow4() }, outer_v6)
    }

    /// Runs `frame` through the tunnel in a buffer with `headroom` bytes in front.
    fn encap(
        frame: &[u8],
        headroom: usize,
        f: &Flow,
        t: &Tunnel,
        e: &Egress,
    ) -> (Verdict, Vec<u8>) {
        let mut buf = vec![0u8; headroom];
        buf.extend_from_slice(frame);
        let mut sb = SliceBuf::new(&mut buf, headroom, frame.len()).unwrap();
        let v = xmit(&mut sb, f, t, e);
        (v, sb.data().to_vec())
    }

    #[test]
    fn fixtures() {
        for &(description, input, inner_v6, outer_v6, kind, csum, want) in ROWS {
            let t = tun(outer_v6, kind, csum);
            let case = Case::new(
                description,
                input,
                flow(inner_v6, outer_v6),
                In,
                Expect::Frame(want),
            );
            run(&[case], |c, buf| {
                encap(buf, HEADROOM, &c.flow, &t, &c.egress)
            });
        }
    }

    fn big(v6: bool, df: bool) -> Vec<u8> {
        let f = if v6 { flow6() } else { flow4() };
        let b = build(
            f.client,
            f.vip,
            &L4::Udp {
                zero_csum: false,
                payload: vec![7; 120],
            },
            64,
            None,
        );
        if v6 {
            b
        } else {
            mutate_v4(&b, |ip| ip.set_dont_frag(df))
        }
    }

    #[test]
    fn drops() {
        let ipip = |v6| tun(v6, TunnelKind::Ipip, false);
        let gue = |v6| tun(v6, TunnelKind::Gue { port: GUE_PORT }, true);
        let e = |mtu| Egress { mtu, ..egress() };
        type DropRow = (&'static str, Vec<u8>, Flow, Tunnel, Egress, usize, XmitDrop);
        let cases: Vec<DropRow> = vec![
            (
                "ttl 1",
                with_ttl(TUN_IN_ACK4, 1),
                flow(false, false),
                ipip(false),
                egress(),
                HEADROOM,
                XmitDrop::TtlExpired,
            ),
            (
                "hop limit 1",
                with_ttl(TUN_IN_UDP6, 1),
                flow(true, true),
                gue(true),
                egress(),
                HEADROOM,
                XmitDrop::TtlExpired,
            ),
            (
                "fragment",
                mutate_v4(TUN_IN_UDP4, |ip| ip.set_more_frags(true)),
                flow(false, false),
                ipip(false),
                egress(),
                HEADROOM,
                XmitDrop::Fragment,
            ),
            (
                "bad ipv4 checksum",
                bad_ip_checksum(TUN_IN_ACK4),
                flow(false, true),
                ipip(true),
                egress(),
                HEADROOM,
                XmitDrop::BadChecksum,
            ),
            (
                "no headroom",
                TUN_IN_ACK4.to_vec(),
                flow(false, false),
                ipip(false),
                egress(),
                19,
                XmitDrop::NoRoom,
            ),
            (
                "no headroom for gue",
                TUN_IN_ACK6.to_vec(),
                flow(true, true),
                gue(true),
                egress(),
                40,
                XmitDrop::NoRoom,
            ),
            (
                "outer source of the wrong family",
                TUN_IN_ACK4.to_vec(),
                flow(false, false),
                ipip(true),
                egress(),
                HEADROOM,
                XmitDrop::Unsupported,
            ),
            (
                "inner DF above the MTU left",
                big(false, true),
                flow(false, false),
                ipip(false),
                e(150),
                HEADROOM,
                XmitDrop::FragNeeded { mtu: 130 },
            ),
            (
                "inner no-DF above the MTU left",
                big(false, false),
                flow(false, false),
                ipip(false),
                e(150),
                HEADROOM,
                XmitDrop::TooBig { mtu: 130 },
            ),
            (
                "inner ipv6 above the MTU left by gue",
                big(true, true),
                flow(true, false),
                gue(false),
                e(180),
                HEADROOM,
                XmitDrop::FragNeeded { mtu: 148 },
            ),
            (
                "ipv4 route MTU below 68 + 20",
                TUN_IN_ACK4.to_vec(),
                flow(false, false),
                ipip(false),
                e(87),
                HEADROOM,
                XmitDrop::NoRoom,
            ),
            (
                "ipv6 route MTU below 1280 + 40",
                TUN_IN_ACK4.to_vec(),
                flow(false, true),
                ipip(true),
                e(1300),
                HEADROOM,
                XmitDrop::NoRoom,
            ),
        ];
        for (d, input, f, t, eg, headroom, why) in cases {
            let (v, out) = encap(&input, headroom, &f, &t, &eg);
            assert_eq!(v, Err(why), "{d}");
            assert_eq!(out, input, "{d}: changed on a drop");
        }
    }

    #[test]
    fn vlan_tag_kept_padding_trimmed() {
        let t = tun(false, TunnelKind::Ipip, false);
        let (v, out) = encap(
            &padded(IN_ACK4_VLAN, 9),
            HEADROOM,
            &flow(false, false),
            &t,
            &egress(),
        );
        assert_eq!(v.unwrap().l2_len, 18);
        assert_eq!(&out[12..16], &IN_ACK4_VLAN[12..16]);
        assert_eq!(&out[16..18], &[0x08, 0x00]);
        // Same bytes as the untagged frame's after the tag.
        let (_, untagged) = encap(IN_ACK4, HEADROOM, &flow(false, false), &t, &egress());
        assert_eq!(hex(&out[18..]), hex(&untagged[14..]));
        verify_frame(&out).unwrap();
        // IPv6 outer: the EtherType inside the tag changes.
        let t = tun(true, TunnelKind::Gre, true);
        let (_, out) = encap(IN_ACK4_VLAN, HEADROOM, &flow(false, true), &t, &egress());
        assert_eq!(&out[16..18], &[0x86, 0xdd]);
        verify_frame(&out).unwrap();
    }

    #[test]
    fn gue_source_port_spread() {
        let mut t = tun(false, TunnelKind::Gue { port: GUE_PORT }, false);
        for (entropy, port) in [(0, 32768), (u32::MAX, 60998), (ENTROPY, 34775)] {
            t.entropy = entropy;
            assert_eq!(t.gue_src_port(), port);
        }
    }

    #[test]
    fn truncated_at_every_length() {
        for (input, v6) in [(TUN_IN_ACK4, false), (TUN_IN_UDP6, true)] {
            let t = tun(!v6, TunnelKind::Gue { port: GUE_PORT }, true);
            let f = flow(v6, !v6);
            check_truncations(input, |b| encap(b, HEADROOM, &f, &t, &egress()).0);
        }
    }

    /// Errors from a router between us and the real server about our tunnel packets.
    #[test]
    fn client_errors() {
        let router = IpAddr::V4(Ipv4Addr::new(172, 16, 0, 254));
        let us = IpAddr::V4(TUN_SRC4);
        let (client, vip) = (Ipv4Addr::new(192, 168, 1, 10), Ipv4Addr::new(10, 0, 0, 1));
        // (tunnel packet, encapsulation length, inner DF)
        for (pkt, encap, df) in [
            (TUN_IPIP_ACK4_IN4, 0, true),
            (TUN_GUE_CSUM_ACK4_IN4, 12, true),
            (TUN_GRE_CSUM_ACK4_IN4, 8, true),
            (TUN_GRE_UDP4_IN4, 4, false),
        ] {
            let outer = &pkt[14..];
            // Frag needed, the whole packet quoted: the MTU left is 1400 - 20 - encap.
            let f = icmp_error_about(outer, router, us, 1000, 4, 1400);
            let e = client_error(&f, None);
            if !df {
                assert_eq!(e, Err(XmitDrop::Unsupported));
                continue;
            }
            let e = e.unwrap();
            assert_eq!(
                (e.msg_type, e.code, e.info),
                (3, 4, 1400 - 20 - encap as u32)
            );
            assert_eq!(
                (e.client, e.vip, e.real),
                (client, vip, Ipv4Addr::new(172, 16, 0, 9))
            );
            assert_eq!(&f[e.quote.clone()], &outer[20 + encap..]);
            // The route's MTU wins when known.
            assert_eq!(
                client_error(&f, Some(1300)).unwrap().info,
                1300 - 20 - encap as u32
            );
            // Host unreachable quoting only the inner header: info kept, quote cut.
            let f = icmp_error_about(outer, router, us, 20 + encap + 20, 1, 0);
            let e = client_error(&f, None).unwrap();
            assert_eq!((e.code, e.info), (1, 0));
            assert_eq!(e.quote.len(), 20);
            // Too short to reach the inner header.
            let f = icmp_error_about(outer, router, us, 20 + encap + 10, 1, 0);
            assert_eq!(client_error(&f, None), Err(XmitDrop::Truncated));
        }
        // Not about a tunnel packet, or not an error we relay.
        let f = icmp_error_about(&IN_UDP4[14..], router, us, 100, 3, 0);
        assert_eq!(client_error(&f, None), Err(XmitDrop::Unsupported));
        let mut f = icmp_error_about(&TUN_IPIP_ACK4_IN4[14..], router, us, 100, 3, 0);
        f[34] = 12;
        dpvs_wire::icmpv4::Packet::new_unchecked(&mut f[34..]).fill_checksum();
        assert_eq!(client_error(&f, None), Err(XmitDrop::Unsupported));
        f[36] ^= 1;
        assert_eq!(client_error(&f, None), Err(XmitDrop::BadChecksum));
        assert_eq!(client_error(IN_ACK4, None), Err(XmitDrop::Unsupported));
        let f = icmp_error_about(&TUN_GUE_ACK4_IN4[14..], router, us, 1000, 4, 1400);
        for len in 0..f.len() {
            assert_eq!(
                client_error(&f[..len], None),
                Err(XmitDrop::Truncated),
                "prefix of {len}"
            );
        }
    }

    fn arb_kind() -> impl Strategy<Value = TunnelKind> {
        prop_oneof![
            Just(TunnelKind::Ipip),
            Just(TunnelKind::Gue { port: GUE_PORT }),
            Just(TunnelKind::Gre)
        ]
    }

    proptest! {
        /// Corrupted tunnel inputs and errors never panic; a refused frame is unchanged.
        #[test]
        fn corrupted(flips in proptest::collection::vec((0usize..200, any::<u8>()), 1..6), cut in 1usize..200,
                     which in 0usize..4, outer_v6 in any::<bool>()) {
            let us = IpAddr::V4(TUN_SRC4);
            let router = IpAddr::V4(Ipv4Addr::new(172, 16, 0, 254));
            let inputs = [
                TUN_IN_ACK4.to_vec(),
                TUN_IN_UDP6.to_vec(),
                icmp_error_about(&TUN_GUE_ACK4_IN4[14..], router, us, 1000, 4, 1400),
                icmp_error_about(&TUN_GRE_CSUM_ACK4_IN4[14..], router, us, 1000, 4, 1400),
            ];
            let mut b = inputs[which].clone();
            for (at, x) in flips {
                if let Some(byte) = b.get_mut(at) { *byte ^= x; }
            }
            b.truncate(cut + 20);
            let _ = client_error(&b, Some(1500));
            let t = tun(outer_v6, TunnelKind::Gue { port: GUE_PORT }, true);
            let (v, out) = encap(&b, HEADROOM, &flow(which == 1, outer_v6), &t, &egress());
            if v.is_err() {
                prop_assert_eq!(out, b);
            }
        }

        /// Any packet, any encapsulation, any family pair: every checksum valid, the inner
        /// packet intact but for its TTL, and the outer header the size announced.
        #[test]
        fn encapsulation(flow in arb_flow(), l4 in arb_l4(), ttl in 2u8.., outer_v6 in any::<bool>(),
                         kind in arb_kind(), csum in any::<bool>(), entropy in any::<u32>()) {
            let f = with_real(flow, outer_v6);
            let t = Tunnel { entropy, ..tun(outer_v6, kind, csum) };
            let orig = build(flow.client, flow.vip, &l4, ttl, None);
            let (v, out) = encap(&orig, HEADROOM, &f, &t, &egress());
            let v = v.unwrap();
            verify_frame(&out).unwrap();
            prop_assert_eq!(v.len, orig.len() + t.overhead(f.real.addr));
            let want = build(flow.client, flow.vip, &l4, ttl - 1, None);
            prop_assert_eq!(&out[out.len() - (want.len() - 14)..], &want[14..]);
        }
    }
}
