//! ARP (RFC 826, Ethernet/IPv4): answering requests for our addresses in place, learning
//! neighbours, and building requests and gratuitous ARPs.
//!
//! # Receiving
//!
//! [`handle_local`](super::handle_local) hands ARP frames here (after an Ethernet header with
//! at most one 802.1Q tag). As Linux's
//! `arp_process` with `arp_ignore=0`, `arp_accept=1` restricted to the port:
//!
//! - Not Ethernet/IPv4, truncated, an operation other than request/reply, a multicast or
//!   loopback target address, or a multicast sender MAC: [`LocalAction::Drop`].
//! - A request from `0.0.0.0` (RFC 5227 probe) for an address we own: the reply, nothing
//!   learned (its target address is `0.0.0.0`, as Linux sends).
//! - A sender address that is one of ours, local or `answer`ed (a conflict, a peer
//!   announcing a VIP we hold, our own frame looped back): [`LocalAction::NotLocal`],
//!   nothing learned.
//! - A request for an address we own on `in_port` (local on the port, or `answer`ed):
//!   rewritten in place into the reply (Ethernet destination and target = the sender's MAC,
//!   sender = our port MAC and the requested address, operation 2; the 802.1Q tag and the
//!   padding stay) and the sender is learned: [`LocalAction::ReplyAndLearn`].
//! - A reply, or a gratuitous ARP (sender address = target address, request or reply):
//!   [`LocalAction::Learn`] of the sender. (Linux creates entries from gratuitous ARP only
//!   with `arp_accept`; here the control thread's [`NeighTable`](super::NeighTable) decides.)
//! - A request for someone else from a neighbour we know under another MAC: learn the new
//!   MAC (Linux updates existing entries from any ARP it sees). Otherwise
//!   [`LocalAction::NotLocal`].
//!
//! A sender address that is not a unicast address is never learned.

use core::net::{IpAddr, Ipv4Addr};

use dpvs_wire::arp::{self as wire, ArpRepr, Operation};
use dpvs_wire::ethernet::{self, EthernetRepr, Frame};
use dpvs_wire::{EtherType, EthernetAddress};

use super::{Ctx, LocalAction};

/// Minimum Ethernet frame length without the FCS; ARP frames are padded to it.
pub const MIN_FRAME_LEN: usize = 60;

/// True for an address a neighbour may have: not unspecified, broadcast, multicast,
/// loopback or class E.
fn unicast(a: Ipv4Addr) -> bool {
    !(a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_loopback()
        || a.octets()[0] >= 240)
}

/// See the module docs.
pub(crate) fn handle(frame: &mut [u8], ctx: &Ctx<'_>) -> LocalAction {
    let l2 = ctx.l2;
    let Some(body) = frame.get(l2..) else {
        return LocalAction::NotLocal;
    };
    let Ok(pkt) = wire::Packet::new_checked(body) else {
        return LocalAction::Drop("arp: truncated");
    };
    let Ok(arp) = ArpRepr::parse(&pkt) else {
        return LocalAction::Drop("arp: not ethernet/ipv4");
    };
    let (sip, tip, sha) = (
        arp.source_protocol_addr,
        arp.target_protocol_addr,
        arp.source_hardware_addr,
    );
    if matches!(arp.operation, Operation::Unknown(_)) {
        return LocalAction::Drop("arp: unknown operation");
    }
    if tip.is_multicast() || tip.is_loopback() {
        return LocalAction::Drop("arp: multicast or loopback target");
    }
    if sha.is_multicast() {
        return LocalAction::Drop("arp: multicast sender mac");
    }
    let request = arp.operation == Operation::Request;
    if sip.is_unspecified() {
        if request && ctx.owns(IpAddr::V4(tip)) {
            return LocalAction::Reply {
                len: reply_in_place(frame, ctx, &arp),
            };
        }
        return LocalAction::NotLocal;
    }
    if ctx.snap.is_local(IpAddr::V4(sip)) || (ctx.answer)(IpAddr::V4(sip)) {
        return LocalAction::NotLocal;
    }
    let learnable = unicast(sip) && sha != EthernetAddress([0; 6]);
    let learn = LocalAction::Learn {
        addr: IpAddr::V4(sip),
        mac: sha,
    };
    if request && ctx.owns(IpAddr::V4(tip)) {
        let len = reply_in_place(frame, ctx, &arp);
        return if learnable {
            LocalAction::ReplyAndLearn {
                len,
                addr: IpAddr::V4(sip),
                mac: sha,
            }
        } else {
            LocalAction::Reply { len }
        };
    }
    if !learnable {
        return LocalAction::NotLocal;
    }
    if !request || arp.is_gratuitous() {
        return learn;
    }
    match ctx.snap.neighbours().get(IpAddr::V4(sip)) {
        Some(n) if n.mac != sha && n.state != super::NeighState::Permanent => learn,
        _ => LocalAction::NotLocal,
    }
}

/// Rewrites the request in place into our reply; returns the frame length (unchanged).
fn reply_in_place(frame: &mut [u8], ctx: &Ctx<'_>, req: &ArpRepr) -> usize {
    let Some(reply) = req.reply(ctx.mac) else {
        return 0;
    };
    {
        let mut f = Frame::new_unchecked(&mut *frame);
        f.set_dst_addr(req.source_hardware_addr);
        f.set_src_addr(ctx.mac);
    }
    if let Some(body) = frame.get_mut(ctx.l2..) {
        // Cannot fail: `handle` checked the length.
        let _ = reply.emit(&mut wire::Packet::new_unchecked(body));
    }
    frame.len()
}

/// Writes `repr` in a broadcast Ethernet frame from `src_mac`, zero-padded to 60 bytes;
/// returns 60, or 0 if `buf` is shorter.
fn emit_broadcast(buf: &mut [u8], src_mac: EthernetAddress, repr: &ArpRepr) -> usize {
    let Some(buf) = buf.get_mut(..MIN_FRAME_LEN) else {
        return 0;
    };
    buf.fill(0);
    let eth = EthernetRepr {
        dst_addr: EthernetAddress::BROADCAST,
        src_addr: src_mac,
        vlan: None,
        ethertype: EtherType::ARP,
    };
    if eth.emit(&mut Frame::new_unchecked(&mut *buf)).is_err() {
        return 0;
    }
    match repr.emit(&mut wire::Packet::new_unchecked(
        &mut buf[ethernet::HEADER_LEN..],
    )) {
        Ok(()) => MIN_FRAME_LEN,
        Err(_) => 0,
    }
}

/// Builds a broadcast ARP request "who has `target`? tell `src_ip`" (target MAC zero, as
/// Linux's `arp_solicit`) into `buf`; returns the frame length, 60 (padded), or 0 if `buf`
/// is shorter than 60 bytes.
pub fn arp_request(
    buf: &mut [u8],
    src_mac: EthernetAddress,
    src_ip: Ipv4Addr,
    target: Ipv4Addr,
) -> usize {
    let repr = ArpRepr {
        operation: Operation::Request,
        source_hardware_addr: src_mac,
        source_protocol_addr: src_ip,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target,
    };
    emit_broadcast(buf, src_mac, &repr)
}

/// Builds a gratuitous ARP announcing `ip` at `mac` into `buf`: a broadcast request whose
/// sender and target addresses are both `ip`, target MAC `ff:ff:ff:ff:ff:ff` (as
/// keepalived's `send_gratuitous_arp`). Returns 60, or 0 if `buf` is shorter.
pub fn gratuitous_arp(buf: &mut [u8], mac: EthernetAddress, ip: Ipv4Addr) -> usize {
    let repr = ArpRepr {
        operation: Operation::Request,
        source_hardware_addr: mac,
        source_protocol_addr: ip,
        target_hardware_addr: EthernetAddress::BROADCAST,
        target_protocol_addr: ip,
    };
    emit_broadcast(buf, mac, &repr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::testutil::*;
    use crate::net::{handle_local, NeighTable, NetSnapshot};

    // ARP request, Ethernet broadcast from 52:54:00:12:34:56: who has 10.0.0.1? tell
    // 10.0.0.2; padded to 60 bytes.
    const REQUEST: [u8; 60] = hex!(
        "ffffffffffff 525400123456 0806"       // Ethernet: broadcast, client, ARP
        "0001 0800 06 04 0001"                 // Ethernet/IPv4, request
        "525400123456 0a000002"                // sender 52:54:00:12:34:56 10.0.0.2
        "000000000000 0a000001"                // target ? 10.0.0.1
        "000000000000000000000000000000000000" // padding
    );
    // Our reply, in place: to 52:54:00:12:34:56 from dpdk0 (02:00:00:00:00:10).
    const REPLY: [u8; 60] = hex!(
        "525400123456 020000000010 0806"
        "0001 0800 06 04 0002"                 // reply
        "020000000010 0a000001"                // sender: us, 10.0.0.1
        "525400123456 0a000002"                // target: the requester
        "000000000000000000000000000000000000"
    );

    fn run(frame: &mut [u8], port: u16, snap: &NetSnapshot) -> LocalAction {
        handle_local(frame, port, snap, &vip)
    }

    #[test]
    fn request_for_us_is_answered_in_place() {
        let s = snapshot();
        let mut f = REQUEST;
        let a = run(&mut f, 0, &s);
        assert_eq!(
            a,
            LocalAction::ReplyAndLearn {
                len: 60,
                addr: ip("10.0.0.2"),
                mac: CLIENT_MAC
            }
        );
        assert_eq!(f, REPLY);
    }

    #[test]
    fn request_for_a_vip_and_tagged() {
        // 802.1Q tag, VLAN 100, priority 5, asking for the VIP 10.0.0.100 on port 1.
        let mut f: [u8; 64] = hex!(
            "ffffffffffff 525400123456 8100 a064 0806"
            "0001 0800 06 04 0001 525400123456 0a000002 000000000000 0a000064"
            "000000000000000000000000000000000000"
        );
        let want: [u8; 64] = hex!(
            "525400123456 020000000011 8100 a064 0806"
            "0001 0800 06 04 0002 020000000011 0a000064 525400123456 0a000002"
            "000000000000000000000000000000000000"
        );
        let a = run(&mut f, 1, &snapshot());
        assert_eq!(
            a,
            LocalAction::ReplyAndLearn {
                len: 64,
                addr: ip("10.0.0.2"),
                mac: CLIENT_MAC
            }
        );
        assert_eq!(f, want);
    }

    #[test]
    fn not_ours() {
        let s = snapshot();
        // 10.0.0.1 is local on port 0, not on port 1.
        let mut f = REQUEST;
        assert_eq!(run(&mut f, 1, &s), LocalAction::NotLocal);
        assert_eq!(f, REQUEST);
        // Someone else's address.
        let mut f = REQUEST;
        f[41] = 9;
        assert_eq!(run(&mut f, 0, &s), LocalAction::NotLocal);
        // A unicast frame to another MAC.
        let mut f = REQUEST;
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 0x99]);
        assert_eq!(run(&mut f, 0, &s), LocalAction::NotLocal);
        // Unknown port.
        let mut f = REQUEST;
        assert_eq!(run(&mut f, 9, &s), LocalAction::NotLocal);
        // A peer announcing a VIP we answer for.
        let mut f = [0u8; 60];
        gratuitous_arp(&mut f, CLIENT_MAC, Ipv4Addr::new(10, 0, 0, 100));
        assert_eq!(run(&mut f, 0, &s), LocalAction::NotLocal);
        // From a multicast MAC.
        let mut f = REQUEST;
        f[6] = 0x01;
        assert_eq!(run(&mut f, 0, &s), LocalAction::NotLocal);
        // A sender claiming our address.
        let mut f = REQUEST;
        f[31] = 1; // sender 10.0.0.1
        f[41] = 100;
        assert_eq!(run(&mut f, 0, &s), LocalAction::NotLocal);
    }

    #[test]
    fn probe_from_zero_is_answered_without_learning() {
        let mut f = REQUEST;
        f[28..32].copy_from_slice(&[0, 0, 0, 0]);
        let a = run(&mut f, 0, &snapshot());
        assert_eq!(a, LocalAction::Reply { len: 60 });
        let mut want = REPLY;
        want[38..42].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(f, want);
        // A probe for someone else's address.
        let mut f = REQUEST;
        f[28..32].copy_from_slice(&[0, 0, 0, 0]);
        f[41] = 9;
        assert_eq!(run(&mut f, 0, &snapshot()), LocalAction::NotLocal);
    }

    #[test]
    fn replies_and_gratuitous_are_learned() {
        let s = snapshot();
        // 10.0.0.2 is at 52:54:00:12:34:56, to us.
        let mut f: [u8; 60] = hex!(
            "020000000010 525400123456 0806"
            "0001 0800 06 04 0002 525400123456 0a000002 020000000010 0a000001"
            "000000000000000000000000000000000000"
        );
        let copy = f;
        let learn = LocalAction::Learn {
            addr: ip("10.0.0.2"),
            mac: CLIENT_MAC,
        };
        assert_eq!(run(&mut f, 0, &s), learn);
        assert_eq!(f, copy);
        // Gratuitous request (keepalived's) for 10.0.0.2.
        let mut f = [0u8; 60];
        gratuitous_arp(&mut f, CLIENT_MAC, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(run(&mut f, 0, &s), learn);
        // A request for someone else from a neighbour we know under another MAC.
        let mut neigh = NeighTable::new();
        neigh.learn(
            ip("10.0.0.2"),
            EthernetAddress([0x52, 0x54, 0, 0, 0, 1]),
            0,
            0,
        );
        let s2 = snapshot_with(neigh);
        let mut f = REQUEST;
        f[41] = 9;
        assert_eq!(run(&mut f, 0, &s2), learn);
        // ... but not when the MAC is the one we know.
        let mut neigh = NeighTable::new();
        neigh.learn(ip("10.0.0.2"), CLIENT_MAC, 0, 0);
        let mut f = REQUEST;
        f[41] = 9;
        assert_eq!(run(&mut f, 0, &snapshot_with(neigh)), LocalAction::NotLocal);
        // A reply from a broadcast sender address is not learned.
        let mut f = copy;
        f[28..32].copy_from_slice(&[255; 4]);
        assert_eq!(run(&mut f, 0, &s), LocalAction::NotLocal);
    }

    #[test]
    fn malformed() {
        let s = snapshot();
        let cases: [(usize, u8, &str); 6] = [
            (15, 6, "arp: not ethernet/ipv4"),  // hardware type 6
            (19, 16, "arp: not ethernet/ipv4"), // protocol length 16
            (21, 3, "arp: unknown operation"),  // RARP request
            (38, 224, "arp: multicast or loopback target"),
            (38, 127, "arp: multicast or loopback target"),
            (22, 0x01, "arp: multicast sender mac"),
        ];
        for (at, v, why) in cases {
            let mut f = REQUEST;
            f[at] = v;
            assert_eq!(
                run(&mut f, 0, &s),
                LocalAction::Drop(why),
                "byte {at} = {v}"
            );
        }
        let mut f = REQUEST;
        assert_eq!(
            run(&mut f[..41], 0, &s),
            LocalAction::Drop("arp: truncated")
        );
    }

    #[test]
    fn builders() {
        // Who has 10.0.0.254? Tell 10.0.0.1, from dpdk0.
        let want: [u8; 60] = hex!(
            "ffffffffffff 020000000010 0806"
            "0001 0800 06 04 0001 020000000010 0a000001 000000000000 0a0000fe"
            "000000000000000000000000000000000000"
        );
        let mut buf = [0xaau8; 64];
        assert_eq!(
            arp_request(
                &mut buf,
                PORT0_MAC,
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(10, 0, 0, 254)
            ),
            60
        );
        assert_eq!(buf[..60], want);
        assert_eq!(buf[60..], [0xaa; 4]);
        // Gratuitous ARP for the VIP 10.0.0.100.
        let want: [u8; 60] = hex!(
            "ffffffffffff 020000000010 0806"
            "0001 0800 06 04 0001 020000000010 0a000064 ffffffffffff 0a000064"
            "000000000000000000000000000000000000"
        );
        assert_eq!(
            gratuitous_arp(&mut buf, PORT0_MAC, Ipv4Addr::new(10, 0, 0, 100)),
            60
        );
        assert_eq!(buf[..60], want);
        assert_eq!(
            arp_request(
                &mut buf[..59],
                PORT0_MAC,
                Ipv4Addr::LOCALHOST,
                Ipv4Addr::LOCALHOST
            ),
            0
        );
        assert_eq!(gratuitous_arp(&mut [], PORT0_MAC, Ipv4Addr::LOCALHOST), 0);
    }
}
