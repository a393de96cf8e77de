//! IPv6 neighbour discovery (RFC 4861): answering neighbour solicitations for our addresses
//! in place, learning from advertisements, and building solicitations and unsolicited
//! advertisements.
//!
//! # Receiving
//!
//! Handles an ICMPv6 neighbour solicitation or advertisement that follows the IPv6 header
//! directly after the Ethernet header, from [`handle_local`](super::handle_local), as Linux's
//! `ndisc_rcv`:
//!
//! - Checked first, all [`LocalAction::Drop`]: the IPv6 payload length past the frame, a
//!   message shorter than 24 bytes, hop limit not 255, a wrong ICMPv6 checksum, a non-zero
//!   code, a multicast target or IPv6 source, malformed options, a link-layer address option
//!   that is not 8 bytes or holds a multicast MAC.
//! - **Solicitation** for an address we own on `in_port` (local on the port, or `answer`ed),
//!   rewritten in place into the advertisement (`ndisc_recv_ns` + `ndisc_send_na`):
//!   Ethernet from our port MAC (802.1Q tag kept); IPv6 source = the target, hop limit 255,
//!   traffic class and flow label 0; Solicited set, Router clear.
//!   - multicast solicitation (address resolution): to its source at the MAC of its source
//!     link-layer option, Override set, our target link-layer address option included; the
//!     source is learned ([`LocalAction::ReplyAndLearn`]). Without a source link-layer
//!     option Linux answers only if it already has a neighbour entry:
//!     [`LocalAction::NotLocal`].
//!   - unicast solicitation (reachability probe): to its source and Ethernet source,
//!     Override clear, no option (as Linux: `override = inc`, `inc_opt = inc`); the source
//!     is learned when the probe carries its link-layer address.
//!   - from `::` (duplicate address detection; the destination must be a solicited-node
//!     address and there must be no source link-layer option, else dropped): to `ff02::1`
//!     (`33:33:00:00:00:01`), Solicited clear, Override set, target link-layer option when
//!     the frame has room for it (a probe without a nonce option is 8 bytes short; the
//!     advertisement then goes without it, which still makes the prober's DAD fail);
//!     nothing learned ([`LocalAction::Reply`]).
//! - **Advertisement**, not for one of our addresses: a solicited one to a multicast
//!   address is dropped; with a target link-layer option, [`LocalAction::Learn`] of the
//!   target, unless Override is clear and we know the target under another MAC (Linux then
//!   only marks the entry stale); without one, a solicited advertisement confirms a known
//!   entry (Learn with its MAC).
//! - Anything else (a target that is not ours, an advertisement for our own address, a
//!   solicitation from one of our addresses or VIPs): [`LocalAction::NotLocal`].

use core::net::{IpAddr, Ipv6Addr};

use dpvs_wire::ethernet::{self, EthernetRepr, Frame};
use dpvs_wire::{icmpv6, ipv6, EtherType, EthernetAddress, IpProtocol};

use super::{Ctx, LocalAction, NeighState};

/// ICMPv6 type of a neighbour solicitation.
const NS: u8 = 135;
/// ICMPv6 type of a neighbour advertisement.
const NA: u8 = 136;
/// Source link-layer address option.
const OPT_SLLA: u8 = 1;
/// Target link-layer address option.
const OPT_TLLA: u8 = 2;
/// NA flags (first byte of the reserved word; Router, 0x80, is never set: the dataplane
/// does not advertise itself as a router).
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;
/// An NS/NA without options: ICMPv6 header, then the target.
const MSG_LEN: usize = 24;
/// With one Ethernet link-layer address option.
const MSG_OPT_LEN: usize = MSG_LEN + 8;

/// `ff02::1`.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The solicited-node multicast address of `a` (`ff02::1:ffXX:XXXX`, RFC 4291 §2.7.1).
pub fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, o[13], o[14], o[15],
    ])
}

/// The Ethernet multicast MAC of an IPv6 multicast address (`33:33` + its last 32 bits,
/// RFC 2464 §7).
pub fn multicast_mac(a: Ipv6Addr) -> EthernetAddress {
    let o = a.octets();
    EthernetAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

fn is_solicited_node(a: Ipv6Addr) -> bool {
    a.octets()[..13] == solicited_node(Ipv6Addr::UNSPECIFIED).octets()[..13]
}

/// The first link-layer address option of type `kind` in `opts`, checking every option as
/// Linux's `ndisc_parse_options` (a zero length or an option past the end is malformed) and
/// the Ethernet option length (8 bytes) as `ndisc_opt_addr_data`.
fn ll_option(opts: &[u8], kind: u8) -> Result<Option<EthernetAddress>, &'static str> {
    let mut rest = opts;
    let mut found = None;
    while !rest.is_empty() {
        let [t, l, ..] = *rest else {
            return Err("nd: truncated option");
        };
        let len = usize::from(l) * 8;
        if len == 0 {
            return Err("nd: zero-length option");
        }
        let Some(opt) = rest.get(..len) else {
            return Err("nd: option past the end");
        };
        if t == kind && found.is_none() {
            if len != 8 {
                return Err("nd: bad link-layer address option length");
            }
            let mac = EthernetAddress::from_bytes(&opt[2..]).unwrap_or_default();
            if mac.is_multicast() {
                return Err("nd: multicast link-layer address");
            }
            found = Some(mac);
        }
        rest = &rest[len..];
    }
    Ok(found)
}

/// What `handle` read from the message before rewriting it.
struct Nd {
    kind: u8,
    flags: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    target: Ipv6Addr,
    lladdr: Option<EthernetAddress>,
}

fn parse(frame: &[u8], l2: usize) -> Result<Nd, LocalAction> {
    let Some(ipb) = frame.get(l2..) else {
        return Err(LocalAction::NotLocal);
    };
    let Ok(ip) = ipv6::Packet::new_checked(ipb) else {
        return Err(LocalAction::Drop("nd: truncated"));
    };
    if ip.version() != 6 || ip.next_header() != IpProtocol::ICMPV6 {
        return Err(LocalAction::NotLocal);
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let msg = ip.payload();
    if msg.len() < MSG_LEN {
        return Err(LocalAction::Drop("nd: truncated"));
    }
    if ip.hop_limit() != 255 {
        return Err(LocalAction::Drop("nd: hop limit not 255"));
    }
    if !icmpv6::Packet::new_unchecked(msg).verify_checksum(src, dst) {
        return Err(LocalAction::Drop("nd: bad checksum"));
    }
    if msg[1] != 0 {
        return Err(LocalAction::Drop("nd: nonzero code"));
    }
    let mut t = [0u8; 16];
    t.copy_from_slice(&msg[8..24]);
    let target = Ipv6Addr::from(t);
    if target.is_multicast() {
        return Err(LocalAction::Drop("nd: multicast target"));
    }
    if src.is_multicast() {
        return Err(LocalAction::Drop("nd: multicast source"));
    }
    let kind = msg[0];
    let want = if kind == NS { OPT_SLLA } else { OPT_TLLA };
    let lladdr = ll_option(&msg[MSG_LEN..], want).map_err(LocalAction::Drop)?;
    Ok(Nd {
        kind,
        flags: msg[4],
        src,
        dst,
        target,
        lladdr,
    })
}

/// See the module docs.
pub(crate) fn handle(frame: &mut [u8], ctx: &Ctx<'_>) -> LocalAction {
    let nd = match parse(frame, ctx.l2) {
        Ok(nd) => nd,
        Err(a) => return a,
    };
    match nd.kind {
        NS => solicitation(frame, ctx, &nd),
        NA => advertisement(ctx, &nd),
        _ => LocalAction::NotLocal,
    }
}

fn solicitation(frame: &mut [u8], ctx: &Ctx<'_>, nd: &Nd) -> LocalAction {
    let dad = nd.src.is_unspecified();
    if dad && !is_solicited_node(nd.dst) {
        return LocalAction::Drop("nd: dad probe not to a solicited-node address");
    }
    if dad && nd.lladdr.is_some() {
        return LocalAction::Drop("nd: dad probe with a link-layer address");
    }
    let src = IpAddr::V6(nd.src);
    if !ctx.owns(IpAddr::V6(nd.target)) || ctx.snap.is_local(src) || (ctx.answer)(src) {
        return LocalAction::NotLocal;
    }
    let multicast = nd.dst.is_multicast();
    if !dad && multicast && nd.lladdr.is_none() {
        return LocalAction::NotLocal;
    }
    let (dst, eth_dst, flags) = if dad {
        (ALL_NODES, multicast_mac(ALL_NODES), FLAG_OVERRIDE)
    } else if multicast {
        (
            nd.src,
            nd.lladdr.unwrap_or(ctx.eth_src),
            FLAG_SOLICITED | FLAG_OVERRIDE,
        )
    } else {
        (nd.src, nd.lladdr.unwrap_or(ctx.eth_src), FLAG_SOLICITED)
    };
    let room = frame.len() >= ctx.l2 + ipv6::HEADER_LEN + MSG_OPT_LEN;
    let tlla = (multicast && room).then_some(ctx.mac);
    {
        let mut f = Frame::new_unchecked(&mut *frame);
        f.set_dst_addr(eth_dst);
        f.set_src_addr(ctx.mac);
    }
    let Some(ipbuf) = frame.get_mut(ctx.l2..) else {
        return LocalAction::NotLocal;
    };
    let Some(ip_len) = emit_nd(
        ipbuf,
        nd.target,
        dst,
        NA,
        flags,
        nd.target,
        tlla.map(|m| (OPT_TLLA, m)),
    ) else {
        return LocalAction::NotLocal;
    };
    let len = ctx.l2 + ip_len;
    match (dad, nd.lladdr) {
        (false, Some(mac)) => LocalAction::ReplyAndLearn {
            len,
            addr: IpAddr::V6(nd.src),
            mac,
        },
        _ => LocalAction::Reply { len },
    }
}

fn advertisement(ctx: &Ctx<'_>, nd: &Nd) -> LocalAction {
    let solicited = nd.flags & FLAG_SOLICITED != 0;
    let overrides = nd.flags & FLAG_OVERRIDE != 0;
    if nd.dst.is_multicast() && solicited {
        return LocalAction::Drop("nd: solicited advertisement to a multicast address");
    }
    let target = IpAddr::V6(nd.target);
    if ctx.snap.is_local(target) || ctx.owns(target) {
        return LocalAction::NotLocal;
    }
    let known = ctx.snap.neighbours().get(target).filter(|n| n.usable());
    match (nd.lladdr, known) {
        (Some(mac), Some(n)) if !overrides && n.mac != mac => LocalAction::NotLocal,
        (Some(mac), _) => LocalAction::Learn { addr: target, mac },
        (None, Some(n)) if solicited && n.state != NeighState::Permanent => LocalAction::Learn {
            addr: target,
            mac: n.mac,
        },
        (None, _) => LocalAction::NotLocal,
    }
}

/// Writes an IPv6 header and an NS/NA message (with at most one link-layer address option)
/// at the start of `buf`; returns the IPv6 packet length, or `None` if `buf` is too short.
fn emit_nd(
    buf: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    kind: u8,
    flags: u8,
    target: Ipv6Addr,
    opt: Option<(u8, EthernetAddress)>,
) -> Option<usize> {
    let msg_len = if opt.is_some() { MSG_OPT_LEN } else { MSG_LEN };
    let total = ipv6::HEADER_LEN + msg_len;
    let buf = buf.get_mut(..total)?;
    let repr = ipv6::Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::ICMPV6,
        payload_len: msg_len,
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    };
    repr.emit(&mut ipv6::Packet::new_unchecked(&mut *buf))
        .ok()?;
    let msg = &mut buf[ipv6::HEADER_LEN..];
    msg[..8].copy_from_slice(&[kind, 0, 0, 0, flags, 0, 0, 0]);
    msg[8..24].copy_from_slice(&target.octets());
    if let Some((t, mac)) = opt {
        msg[24] = t;
        msg[25] = 1;
        msg[26..32].copy_from_slice(&mac.0);
    }
    icmpv6::Packet::new_unchecked(msg)
        .fill_checksum(src, dst)
        .ok()?;
    Some(total)
}

/// Writes an untagged Ethernet header and an NS/NA; returns the frame length or 0.
fn emit_frame(
    buf: &mut [u8],
    (eth_src, eth_dst): (EthernetAddress, EthernetAddress),
    ip: (Ipv6Addr, Ipv6Addr),
    kind: u8,
    flags: u8,
    target: Ipv6Addr,
    opt: Option<(u8, EthernetAddress)>,
) -> usize {
    let eth = EthernetRepr {
        dst_addr: eth_dst,
        src_addr: eth_src,
        vlan: None,
        ethertype: EtherType::IPV6,
    };
    let msg_len = if opt.is_some() { MSG_OPT_LEN } else { MSG_LEN };
    if buf.len() < ethernet::HEADER_LEN + ipv6::HEADER_LEN + msg_len {
        return 0;
    }
    if eth.emit(&mut Frame::new_unchecked(&mut *buf)).is_err() {
        return 0;
    }
    match emit_nd(
        &mut buf[ethernet::HEADER_LEN..],
        ip.0,
        ip.1,
        kind,
        flags,
        target,
        opt,
    ) {
        Some(n) => ethernet::HEADER_LEN + n,
        None => 0,
    }
}

/// Builds a multicast neighbour solicitation for `target` into `buf`: to its
/// solicited-node address and that address's `33:33:ff` MAC, hop limit 255, with our
/// source link-layer address option (omitted when `src` is `::`, a DAD probe, as RFC 4861
/// requires). Returns the frame length (86, or 78 for a DAD probe), or 0 if `buf` is too
/// short.
pub fn neighbour_solicit(
    buf: &mut [u8],
    src_mac: EthernetAddress,
    src: Ipv6Addr,
    target: Ipv6Addr,
) -> usize {
    let dst = solicited_node(target);
    let opt = (!src.is_unspecified()).then_some((OPT_SLLA, src_mac));
    emit_frame(
        buf,
        (src_mac, multicast_mac(dst)),
        (src, dst),
        NS,
        0,
        target,
        opt,
    )
}

/// Builds an unsolicited neighbour advertisement of `addr` at `mac` into `buf` (Linux's
/// `ndisc_send_unsol_na`): from `addr` to `ff02::1` (`33:33:00:00:00:01`), hop limit 255,
/// Override set (Router and Solicited clear), with the target link-layer address option.
/// Returns the frame length, 86, or 0 if `buf` is too short.
pub fn unsolicited_na(buf: &mut [u8], mac: EthernetAddress, addr: Ipv6Addr) -> usize {
    emit_frame(
        buf,
        (mac, multicast_mac(ALL_NODES)),
        (addr, ALL_NODES),
        NA,
        FLAG_OVERRIDE,
        addr,
        Some((OPT_TLLA, mac)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::testutil::*;
    use crate::net::{handle_local, NeighTable, NetSnapshot};

    // Generated by testdata/gen.py (scapy), one const per output line.
    // ns_mcast: NS 2001:db8::2 (52:54:00:12:34:56) -> ff02::1:ff00:1: who has 2001:db8::1?
    // SLLA option.
    const NS_MCAST: [u8; 86] = hex!(
        "3333ff00000152540012345686dd" // Ethernet
        "6000000000203aff20010db8000000000000000000000002" // IPv6
        "ff0200000000000000000001ff000001"
        "8700976c0000000020010db8000000000000000000000001" // ICMPv6
        "0101525400123456"
    );
    // na_mcast: our NA: 2001:db8::1 -> 2001:db8::2 from dpdk0, S|O, TLLA 02:00:00:00:00:10.
    const NA_MCAST: [u8; 86] = hex!(
        "52540012345602000000001086dd" // Ethernet
        "6000000000203aff20010db8000000000000000000000001" // IPv6
        "20010db8000000000000000000000002"
        "88008a646000000020010db8000000000000000000000001" // ICMPv6
        "0201020000000010"
    );
    // ns_mcast_vlan: ns_mcast in 802.1Q VLAN 7.
    const NS_MCAST_VLAN: [u8; 90] = hex!(
        "3333ff0000015254001234568100000786dd" // Ethernet
        "6000000000203aff20010db8000000000000000000000002" // IPv6
        "ff0200000000000000000001ff000001"
        "8700976c0000000020010db8000000000000000000000001" // ICMPv6
        "0101525400123456"
    );
    // na_mcast_vlan: na_mcast in 802.1Q VLAN 7.
    const NA_MCAST_VLAN: [u8; 90] = hex!(
        "5254001234560200000000108100000786dd" // Ethernet
        "6000000000203aff20010db8000000000000000000000001" // IPv6
        "20010db8000000000000000000000002"
        "88008a646000000020010db8000000000000000000000001" // ICMPv6
        "0201020000000010"
    );
    // ns_ucast: unicast NS (probe) 2001:db8::2 -> 2001:db8::1 for 2001:db8::1, SLLA option.
    const NS_UCAST: [u8; 86] = hex!(
        "02000000001052540012345686dd" // Ethernet
        "6000000000203aff20010db8000000000000000000000002" // IPv6
        "20010db8000000000000000000000001"
        "870067b80000000020010db8000000000000000000000001" // ICMPv6
        "0101525400123456"
    );
    // na_ucast: our NA: S only, no option (78 bytes).
    const NA_UCAST: [u8; 78] = hex!(
        "52540012345602000000001086dd" // Ethernet
        "6000000000183aff20010db8000000000000000000000001" // IPv6
        "20010db8000000000000000000000002"
        "8800ae7d4000000020010db8000000000000000000000001" // ICMPv6
    );
    // ns_dad: DAD probe :: -> ff02::1:ff00:100 for the VIP 2001:db8::100, nonce option (type 14).
    const NS_DAD: [u8; 86] = hex!(
        "3333ff00010052540012345686dd" // Ethernet
        "6000000000203aff00000000000000000000000000000000" // IPv6
        "ff0200000000000000000001ff000100"
        "870033da0000000020010db8000000000000000000000100" // ICMPv6
        "0e01010203040506"
    );
    // na_dad: our NA: 2001:db8::100 -> ff02::1 (33:33:00:00:00:01), O only, TLLA.
    const NA_DAD: [u8; 86] = hex!(
        "33330000000102000000001086dd" // Ethernet
        "6000000000203aff20010db8000000000000000000000100" // IPv6
        "ff020000000000000000000000000001"
        "8800f71d2000000020010db8000000000000000000000100" // ICMPv6
        "0201020000000010"
    );
    // ns_dad_short: DAD probe for 2001:db8::100 without a nonce (78 bytes).
    const NS_DAD_SHORT: [u8; 78] = hex!(
        "3333ff00010052540012345686dd" // Ethernet
        "6000000000183aff00000000000000000000000000000000" // IPv6
        "ff0200000000000000000001ff000100"
        "87004aef0000000020010db8000000000000000000000100" // ICMPv6
    );
    // na_dad_short: our NA without TLLA (no room in place), O only.
    const NA_DAD_SHORT: [u8; 78] = hex!(
        "33330000000102000000001086dd" // Ethernet
        "6000000000183aff20010db8000000000000000000000100" // IPv6
        "ff020000000000000000000000000001"
        "8800fb362000000020010db8000000000000000000000100" // ICMPv6
    );
    // na_from_client: NA 2001:db8::2 -> 2001:db8::1, target 2001:db8::2, S|O,
    // TLLA 52:54:00:12:34:56.
    const NA_FROM_CLIENT: [u8; 86] = hex!(
        "02000000001052540012345686dd" // Ethernet
        "6000000000203aff20010db8000000000000000000000002" // IPv6
        "20010db8000000000000000000000001"
        "880005b76000000020010db8000000000000000000000002" // ICMPv6
        "0201525400123456"
    );
    // build_ns: neighbour_solicit: dpdk0 2001:db8::1 -> ff02::1:ff00:2 for 2001:db8::2, SLLA.
    const BUILD_NS: [u8; 86] = hex!(
        "3333ff00000202000000001086dd" // Ethernet
        "6000000000203aff20010db8000000000000000000000001" // IPv6
        "ff0200000000000000000001ff000002"
        "87001c180000000020010db8000000000000000000000002" // ICMPv6
        "0101020000000010"
    );
    // build_ns_dad: neighbour_solicit from :: (DAD): no SLLA.
    const BUILD_NS_DAD: [u8; 78] = hex!(
        "3333ff00000202000000001086dd" // Ethernet
        "6000000000183aff00000000000000000000000000000000" // IPv6
        "ff0200000000000000000001ff000002"
        "87004ceb0000000020010db8000000000000000000000002" // ICMPv6
    );
    // build_una: unsolicited_na of 2001:db8::100 at 02:00:00:00:00:10: -> ff02::1, O, TLLA.
    const BUILD_UNA: [u8; 86] = hex!(
        "33330000000102000000001086dd" // Ethernet
        "6000000000203aff20010db8000000000000000000000100" // IPv6
        "ff020000000000000000000000000001"
        "8800f71d2000000020010db8000000000000000000000100" // ICMPv6
        "0201020000000010"
    );

    fn run(frame: &mut [u8], snap: &NetSnapshot) -> LocalAction {
        handle_local(frame, 0, snap, &vip)
    }

    #[test]
    fn multicast_solicitation_is_answered_and_learned() {
        let mut f = NS_MCAST;
        let a = run(&mut f, &snapshot());
        assert_eq!(
            a,
            LocalAction::ReplyAndLearn {
                len: 86,
                addr: ip("2001:db8::2"),
                mac: CLIENT_MAC
            }
        );
        assert_eq!(f, NA_MCAST);
        let mut f = NS_MCAST_VLAN;
        let a = run(&mut f, &snapshot());
        assert_eq!(
            a,
            LocalAction::ReplyAndLearn {
                len: 90,
                addr: ip("2001:db8::2"),
                mac: CLIENT_MAC
            }
        );
        assert_eq!(f, NA_MCAST_VLAN);
    }

    #[test]
    fn unicast_probe_gets_a_short_answer() {
        let mut f = NS_UCAST;
        let a = run(&mut f, &snapshot());
        assert_eq!(
            a,
            LocalAction::ReplyAndLearn {
                len: 78,
                addr: ip("2001:db8::2"),
                mac: CLIENT_MAC
            }
        );
        assert_eq!(f[..78], NA_UCAST);
    }

    #[test]
    fn dad_probe_for_a_vip_is_defended() {
        let mut f = NS_DAD;
        assert_eq!(run(&mut f, &snapshot()), LocalAction::Reply { len: 86 });
        assert_eq!(f, NA_DAD);
        let mut f = NS_DAD_SHORT;
        assert_eq!(run(&mut f, &snapshot()), LocalAction::Reply { len: 78 });
        assert_eq!(f, NA_DAD_SHORT);
        // Not a VIP without `answer`.
        let mut f = NS_DAD;
        assert_eq!(
            handle_local(&mut f, 0, &snapshot(), &|_| false),
            LocalAction::NotLocal
        );
        assert_eq!(f, NS_DAD);
    }

    #[test]
    fn advertisement_is_learned() {
        let learn = LocalAction::Learn {
            addr: ip("2001:db8::2"),
            mac: CLIENT_MAC,
        };
        let mut f = NA_FROM_CLIENT;
        assert_eq!(run(&mut f, &snapshot()), learn);
        assert_eq!(f, NA_FROM_CLIENT);
        // Override clear and a different MAC known: not learned.
        let other = EthernetAddress([0x52, 0x54, 0, 0, 0, 1]);
        let mut neigh = NeighTable::new();
        neigh.learn(ip("2001:db8::2"), other, 0, 0);
        let s = snapshot_with(neigh);
        let mut f = with_flags(NA_FROM_CLIENT, 0x40);
        assert_eq!(run(&mut f, &s), LocalAction::NotLocal);
        // Override set: learned.
        let mut f = NA_FROM_CLIENT;
        assert_eq!(run(&mut f, &s), learn);
        // No option, solicited: confirms the known MAC.
        let mut f = na_without_option(0x40);
        assert_eq!(
            run(&mut f, &s),
            LocalAction::Learn {
                addr: ip("2001:db8::2"),
                mac: other
            }
        );
        let mut f = na_without_option(0x40);
        assert_eq!(run(&mut f, &snapshot()), LocalAction::NotLocal);
        // Solicited to a multicast destination.
        let mut f = NA_FROM_CLIENT;
        f[38..54].copy_from_slice(&ALL_NODES.octets());
        fix_checksum(&mut f, 14);
        assert_eq!(
            run(&mut f, &s),
            LocalAction::Drop("nd: solicited advertisement to a multicast address")
        );
        // An advertisement for our own address.
        let mut f = NA_FROM_CLIENT;
        f[62..78].copy_from_slice(
            &Ipv6Addr::from([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]).octets(),
        );
        fix_checksum(&mut f, 14);
        assert_eq!(run(&mut f, &s), LocalAction::NotLocal);
    }

    /// Recomputes the ICMPv6 checksum of a frame with an `l2`-byte Ethernet header.
    fn fix_checksum(f: &mut [u8], l2: usize) {
        let ip = ipv6::Packet::new_checked(&f[l2..]).unwrap();
        let (s, d, n) = (ip.src_addr(), ip.dst_addr(), usize::from(ip.payload_len()));
        icmpv6::Packet::new_unchecked(&mut f[l2 + 40..l2 + 40 + n])
            .fill_checksum(s, d)
            .unwrap();
    }

    fn with_flags(mut f: [u8; 86], flags: u8) -> [u8; 86] {
        f[58] = flags;
        fix_checksum(&mut f, 14);
        f
    }

    fn na_without_option(flags: u8) -> [u8; 86] {
        let mut f = with_flags(NA_FROM_CLIENT, flags);
        f[19] = 24; // payload length: the option becomes padding
        fix_checksum(&mut f, 14);
        f
    }

    #[test]
    fn solicitations_not_answered() {
        let s = snapshot();
        // Someone else's target.
        let mut f = NS_MCAST;
        f[77] = 9;
        fix_checksum(&mut f, 14);
        assert_eq!(run(&mut f, &s), LocalAction::NotLocal);
        // 2001:db8::1 is on port 0, not port 1.
        let mut f = NS_MCAST;
        assert_eq!(handle_local(&mut f, 1, &s, &vip), LocalAction::NotLocal);
        // Multicast without a source link-layer option (Linux answers only a known source).
        let mut f = NS_MCAST;
        f[19] = 24;
        fix_checksum(&mut f, 14);
        assert_eq!(run(&mut f, &s), LocalAction::NotLocal);
    }

    #[test]
    fn malformed() {
        let s = snapshot();
        let mut f = NS_MCAST;
        f[21] = 64; // hop limit
        assert_eq!(run(&mut f, &s), LocalAction::Drop("nd: hop limit not 255"));
        let mut f = NS_MCAST;
        f[60] ^= 1; // checksum
        assert_eq!(run(&mut f, &s), LocalAction::Drop("nd: bad checksum"));
        let cases: [(usize, u8, &str); 5] = [
            (55, 1, "nd: nonzero code"),
            (62, 0xff, "nd: multicast target"),
            (79, 0, "nd: zero-length option"),
            (79, 2, "nd: option past the end"),
            (80, 0x33, "nd: multicast link-layer address"),
        ];
        for (at, v, why) in cases {
            let mut f = NS_MCAST;
            f[at] = v;
            fix_checksum(&mut f, 14);
            assert_eq!(run(&mut f, &s), LocalAction::Drop(why), "byte {at} = {v}");
        }
        // A 16-byte source link-layer option.
        let mut f = [0u8; 94];
        f[..86].copy_from_slice(&NS_MCAST);
        f[19] = 40;
        f[79] = 2;
        fix_checksum(&mut f, 14);
        assert_eq!(
            run(&mut f, &s),
            LocalAction::Drop("nd: bad link-layer address option length")
        );
        // An odd byte after the option.
        let mut f = [0u8; 87];
        f[..86].copy_from_slice(&NS_MCAST);
        f[19] = 33;
        fix_checksum(&mut f, 14);
        assert_eq!(run(&mut f, &s), LocalAction::Drop("nd: truncated option"));
        // Payload length past the frame; a message shorter than 24 bytes.
        let mut f = NS_MCAST;
        f[19] = 33;
        assert_eq!(run(&mut f, &s), LocalAction::Drop("nd: truncated"));
        let mut f = NS_MCAST;
        f[19] = 23;
        assert_eq!(run(&mut f, &s), LocalAction::Drop("nd: truncated"));
        // DAD probe to a non-solicited-node address, or with a link-layer option.
        let mut f = NS_DAD;
        f[38..54].copy_from_slice(&ALL_NODES.octets());
        fix_checksum(&mut f, 14);
        assert_eq!(
            run(&mut f, &s),
            LocalAction::Drop("nd: dad probe not to a solicited-node address")
        );
        let mut f = NS_DAD;
        f[78] = 1; // the nonce becomes a source link-layer option 02:02:03:04:05:06
        f[80] = 2;
        fix_checksum(&mut f, 14);
        assert_eq!(
            run(&mut f, &s),
            LocalAction::Drop("nd: dad probe with a link-layer address")
        );
    }

    #[test]
    fn builders() {
        let mut buf = [0xaau8; 90];
        let n = neighbour_solicit(
            &mut buf,
            PORT0_MAC,
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        assert_eq!(n, 86);
        assert_eq!(buf[..86], BUILD_NS);
        let n = neighbour_solicit(
            &mut buf,
            PORT0_MAC,
            Ipv6Addr::UNSPECIFIED,
            "2001:db8::2".parse().unwrap(),
        );
        assert_eq!(n, 78);
        assert_eq!(buf[..78], BUILD_NS_DAD);
        assert_eq!(
            unsolicited_na(&mut buf, PORT0_MAC, "2001:db8::100".parse().unwrap()),
            86
        );
        assert_eq!(buf[..86], BUILD_UNA);
        assert_eq!(buf[86..], [0xaa; 4]);
        assert_eq!(
            unsolicited_na(&mut buf[..85], PORT0_MAC, Ipv6Addr::LOCALHOST),
            0
        );
        assert_eq!(
            neighbour_solicit(
                &mut buf[..77],
                PORT0_MAC,
                Ipv6Addr::UNSPECIFIED,
                Ipv6Addr::LOCALHOST
            ),
            0
        );
        assert_eq!(
            solicited_node("fe80::1:2345:6789".parse().unwrap()),
            "ff02::1:ff45:6789".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            multicast_mac(ALL_NODES),
            EthernetAddress([0x33, 0x33, 0, 0, 0, 1])
        );
    }
}
