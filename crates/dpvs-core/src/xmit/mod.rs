//! Forwarding methods: the packet transforms applied to a frame once its connection is known.
//!
//! Pure functions over a frame buffer: no I/O, no allocation, no clock. Each method takes the
//! Ethernet frame as received (one optional 802.1Q tag), the connection's addressing
//! ([`Flow`]), the direction, and the egress parameters ([`Egress`]: next-hop MACs, route MTU,
//! TTL policy), and either rewrites the frame in place and returns [`Forward`], or leaves it
//! unchanged and returns a named [`XmitDrop`] reason for the caller's counters (and, for
//! [`XmitDrop::TtlExpired`] and [`XmitDrop::FragNeeded`], the ICMP error the caller sends).
//!
//! | method | module | directions | what changes |
//! |---|---|---|---|
//! | masquerade (NAT) | [`nat`] | in and out | in: dst VIP:vport → RS:rport; out: src RS:rport → VIP:vport |
//! | direct routing | [`dr`] | in | MACs only (and the TTL, as the kernel does) |
//! | tunnel | [`tunnel`] | in | IP-in-IP, GUE or GRE encapsulation towards the RS |
//! | full-NAT | [`fullnat`] | in and out | both addresses and ports; optional MSS clamp on SYNs; TOA insertion |
//!
//! [`transmit`] dispatches on a [`Method`] for callers that hold the dest's method.
//!
//! ICMP errors about a connection (destination unreachable, source quench, time exceeded;
//! every ICMPv6 error) arriving on a NAT or full-NAT connection are translated by the same
//! entry points ([`icmp`] has the details): the outer header as a data packet in that
//! direction, the quoted packet as one in the opposite direction. For DR and TUN, errors from
//! the client side are forwarded unchanged by the method itself, as the kernel does.
//!
//! # Common rules (and where they follow the kernel)
//! - Checksums are updated incrementally (RFC 1624), never recomputed, except: an IPv6 UDP
//!   datagram with a zero (invalid) checksum gets a full one (as `udp_dnat_handler`), and the
//!   headers an encapsulation adds are computed whole (an optional GUE/GRE checksum covers the
//!   inner packet too). Several changes to one header are summed and applied in one update
//!   (the kernel's chained `ip_vs_check_diff*`). A wrong TCP/UDP/ICMP checksum is not
//!   verified and stays exactly as wrong (the kernel's fast path); a wrong IPv4 header checksum
//!   is dropped ([`XmitDrop::BadChecksum`], as `ip_rcv` does before IPVS sees the packet); a
//!   wrong ICMP checksum on an ICMP error is dropped (as `ip_vs_in_icmp`).
//! - A UDP-over-IPv4 zero checksum ("none") stays zero. The kernel computes a full checksum
//!   there instead; keeping zero is what RFC 768 allows and avoids reading the payload.
//! - Fragments are refused ([`XmitDrop::Fragment`]): the kernel reassembles before IPVS, this
//!   dataplane does not.
//! - IPv4 options and IPv6 hop-by-hop/destination-options headers are kept as they are. An
//!   IPv6 routing header is refused ([`XmitDrop::Unsupported`]): the pseudo-header would use
//!   the final destination, which NAT does not know.
//! - TTL / hop limit: with [`TtlPolicy::Decrement`] (the kernel: `__ip_vs_get_out_rt` calls
//!   `decrement_ttl` for NAT, DR and TUN alike; replies are decremented by `ip_forward`) a
//!   packet with TTL ≤ 1 is [`XmitDrop::TtlExpired`]; [`TtlPolicy::Keep`] is DPVS's default
//!   (its `xmit_ttl` option off).
//! - MTU: a packet longer than [`Egress::mtu`] is [`XmitDrop::FragNeeded`] when it may not be
//!   fragmented (IPv4 with DF, any IPv6) and [`XmitDrop::TooBig`] otherwise (the kernel would
//!   fragment; this dataplane does not). ICMP errors never yield `FragNeeded` (no ICMP error
//!   about an ICMP error).
//! - Nothing is modified when a drop is returned: every check runs before the first write.
//! - Address families: NAT and full-NAT need every address of the flow in the packet's family
//!   (NAT64 is out of scope); a tunnel may carry IPv4 in IPv6 and IPv6 in IPv4, as the kernel's.
//! - Ethernet padding after the IP packet is kept by the in-place rewrites (and counted in
//!   [`Forward::len`]); encapsulation and TOA insertion trim it.
//! - The caller has matched the packet to the flow; the transforms read the old addresses and
//!   ports from the packet itself, so checksums stay right whatever the packet holds.

//!
//! # Tests
//! Each method's tests are fixture tables (`Case { description, input builder, flow,
//! direction, expected frame or drop }`, after Katran) whose expected frames are built from
//! scratch by scapy (`testdata/gen_fixtures.py` writes `fixtures.rs`), compared byte for byte
//! and checked by full checksum recomputation, plus truncation at every length, corruption
//! and round-trip property tests.

pub mod dr;
pub mod fullnat;
pub mod icmp;
pub mod nat;
pub mod tunnel;

#[cfg(test)]
#[rustfmt::skip]
pub(crate) mod fixtures;
#[cfg(test)]
pub(crate) mod testutil;

use core::fmt;
use core::net::{IpAddr, Ipv4Addr};

use dpvs_wire::ethernet::{self, EthernetRepr, Frame};
use dpvs_wire::{
    checksum, icmpv4, icmpv6, ipv4, ipv6, tcp, udp, EtherType, EthernetAddress, IpProtocol,
};

/// A frame in a buffer with headroom: what an encapsulating method needs from a packet
/// buffer. A DPDK mbuf implements it with `rte_pktmbuf_prepend` / `rte_pktmbuf_trim`;
/// [`SliceBuf`] implements it over a byte slice.
pub trait PacketBuf {
    /// The frame.
    fn data(&self) -> &[u8];
    /// The frame, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Free bytes in front of the frame.
    fn headroom(&self) -> usize;
    /// Grows the frame by `n` bytes at the front (contents of the new bytes unspecified);
    /// `false`, and nothing changed, if the headroom is smaller than `n`.
    fn prepend(&mut self, n: usize) -> bool;
    /// Shortens the frame to `len` bytes (no effect if it is not longer).
    fn truncate(&mut self, len: usize);
    /// Grows the frame by `n` bytes at the end (contents unspecified), as
    /// `rte_pktmbuf_append`; `false`, and nothing changed, without that much tailroom.
    fn append(&mut self, n: usize) -> bool;
}

/// [`PacketBuf`] over a byte slice: the frame is `buf[start..start + len]`, the bytes before
/// `start` are headroom.
#[derive(Debug)]
pub struct SliceBuf<'a> {
    buf: &'a mut [u8],
    start: usize,
    len: usize,
}

impl<'a> SliceBuf<'a> {
    /// The frame `buf[start..start + len]`; `None` if that range is not inside `buf`.
    pub fn new(buf: &'a mut [u8], start: usize, len: usize) -> Option<SliceBuf<'a>> {
        if start.checked_add(len)? > buf.len() {
            return None;
        }
        Some(SliceBuf { buf, start, len })
    }

    /// Offset of the frame in the buffer.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Length of the frame.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the frame is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl PacketBuf for SliceBuf<'_> {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }

    fn headroom(&self) -> usize {
        self.start
    }

    fn prepend(&mut self, n: usize) -> bool {
        if n > self.start {
            return false;
        }
        self.start -= n;
        self.len += n;
        true
    }

    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    fn append(&mut self, n: usize) -> bool {
        match self
            .start
            .checked_add(self.len)
            .and_then(|e| e.checked_add(n))
        {
            Some(end) if end <= self.buf.len() => {
                self.len += n;
                true
            }
            _ => false,
        }
    }
}

/// An address and a port (for ICMP echo, the port is not used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Address.
    pub addr: IpAddr,
    /// Port.
    pub port: u16,
}

impl Endpoint {
    /// `addr:port`.
    pub const fn new(addr: IpAddr, port: u16) -> Endpoint {
        Endpoint { addr, port }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// The addressing of one connection, as the connection table holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// The client (CIP:cport).
    pub client: Endpoint,
    /// The virtual service (VIP:vport).
    pub vip: Endpoint,
    /// Full-NAT only: the local address and port the real server sees (LIP:lport).
    pub local: Option<Endpoint>,
    /// The real server (RIP:rport).
    pub real: Endpoint,
}

/// Which way a packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to real server ("in", the kernel's `ip_vs_in`).
    In,
    /// Real server to client ("out", the kernel's `ip_vs_out` / `handle_response`).
    Out,
}

/// What forwarding does to the TTL / hop limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TtlPolicy {
    /// Decrement it; TTL ≤ 1 is dropped as [`XmitDrop::TtlExpired`] (the kernel).
    #[default]
    Decrement,
    /// Leave it (DPVS without `xmit_ttl`).
    Keep,
}

/// Where and how the packet leaves: the route and neighbour lookups' results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Egress {
    /// Our MAC on the egress port.
    pub src_mac: EthernetAddress,
    /// The next hop's MAC.
    pub dst_mac: EthernetAddress,
    /// MTU of the route: the largest IP packet (IPv4 total length, IPv6 40 + payload length)
    /// that may leave.
    pub mtu: u16,
    /// TTL handling.
    pub ttl: TtlPolicy,
}

/// Why a method did not forward a packet. The frame is unchanged whenever one is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XmitDrop {
    /// A header is cut short, or a length field points past the frame.
    Truncated,
    /// A field holds a value its format forbids (version, header length, ...), or the
    /// Ethernet type does not match the IP version.
    Malformed,
    /// The IPv4 header checksum, or the checksum of an ICMP error, does not verify.
    BadChecksum,
    /// An IPv4 or IPv6 fragment: reassembly is needed first.
    Fragment,
    /// Well-formed but not handled by this method: a protocol without ports for NAT (SCTP,
    /// ESP, ...), an ICMP type that is neither echo nor error, an IPv6 routing header, an
    /// 802.1ad frame, a flow whose address families differ from the packet's, a full-NAT flow
    /// without a local address, the out direction of DR/TUN.
    Unsupported,
    /// TTL or hop limit ≤ 1 with [`TtlPolicy::Decrement`]: the caller may answer with ICMP
    /// time exceeded.
    TtlExpired,
    /// Longer than the MTU and must not be fragmented (IPv4 DF, IPv6): the caller may answer
    /// with ICMP fragmentation needed / ICMPv6 packet too big carrying `mtu`.
    FragNeeded {
        /// The MTU to announce (for a tunnel, the route MTU minus the encapsulation).
        mtu: u16,
    },
    /// Longer than the MTU, fragmentation allowed, but this dataplane does not fragment
    /// (the kernel would).
    TooBig {
        /// The MTU that was exceeded.
        mtu: u16,
    },
    /// The buffer lacks the headroom an encapsulation needs, or a tunnel's route MTU is
    /// below the minimum (68 for an IPv4 outer header, 1280 for IPv6) once the
    /// encapsulation is taken off.
    NoRoom,
}

impl XmitDrop {
    /// Number of distinct reasons ([`index`](Self::index) is below it).
    pub const COUNT: usize = 9;

    /// Every reason, in [`index`](Self::index) order (the MTU of the two that carry one is 0).
    pub const ALL: [XmitDrop; XmitDrop::COUNT] = [
        XmitDrop::Truncated,
        XmitDrop::Malformed,
        XmitDrop::BadChecksum,
        XmitDrop::Fragment,
        XmitDrop::Unsupported,
        XmitDrop::TtlExpired,
        XmitDrop::FragNeeded { mtu: 0 },
        XmitDrop::TooBig { mtu: 0 },
        XmitDrop::NoRoom,
    ];

    /// A dense index for a counter array.
    pub const fn index(&self) -> usize {
        match self {
            XmitDrop::Truncated => 0,
            XmitDrop::Malformed => 1,
            XmitDrop::BadChecksum => 2,
            XmitDrop::Fragment => 3,
            XmitDrop::Unsupported => 4,
            XmitDrop::TtlExpired => 5,
            XmitDrop::FragNeeded { .. } => 6,
            XmitDrop::TooBig { .. } => 7,
            XmitDrop::NoRoom => 8,
            // Keep COUNT in step when adding a reason.
        }
    }

    /// A short stable name for counters and logs.
    pub const fn name(&self) -> &'static str {
        match self {
            XmitDrop::Truncated => "truncated",
            XmitDrop::Malformed => "malformed",
            XmitDrop::BadChecksum => "bad-checksum",
            XmitDrop::Fragment => "fragment",
            XmitDrop::Unsupported => "unsupported",
            XmitDrop::TtlExpired => "ttl-expired",
            XmitDrop::FragNeeded { .. } => "frag-needed",
            XmitDrop::TooBig { .. } => "too-big",
            XmitDrop::NoRoom => "no-room",
        }
    }
}

impl fmt::Display for XmitDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmitDrop::FragNeeded { mtu } | XmitDrop::TooBig { mtu } => {
                write!(f, "{} (mtu {mtu})", self.name())
            }
            _ => f.write_str(self.name()),
        }
    }
}

impl std::error::Error for XmitDrop {}

impl From<dpvs_wire::Error> for XmitDrop {
    fn from(e: dpvs_wire::Error) -> XmitDrop {
        match e {
            dpvs_wire::Error::Truncated => XmitDrop::Truncated,
            dpvs_wire::Error::Checksum => XmitDrop::BadChecksum,
            dpvs_wire::Error::Unsupported => XmitDrop::Unsupported,
            _ => XmitDrop::Malformed,
        }
    }
}

/// The frame was rewritten and may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Forward {
    /// Length of the Ethernet header (14, or 18 with a VLAN tag): where the IP packet starts.
    pub l2_len: usize,
    /// Length of the frame to send (for a slice, trailing Ethernet padding included).
    pub len: usize,
}

/// The result of every method.
pub type Verdict = Result<Forward, XmitDrop>;

/// A forwarding method with its per-packet parameters, for a caller that dispatches on the
/// dest's method. (The kernel's bypass method is [`dr::xmit`] towards the packet's own
/// destination; local delivery is not a transform.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Masquerade: [`nat::xmit`].
    Nat,
    /// Direct routing: [`dr::xmit`] (in direction only).
    DirectRoute,
    /// Tunnelling: [`tunnel::xmit`] (in direction only).
    Tunnel(tunnel::Tunnel),
    /// Full-NAT: [`fullnat::xmit`].
    FullNat {
        /// MSS clamp for SYNs in this direction.
        mss_clamp: Option<u16>,
    },
}

/// Runs `method` on the frame in `buf`: one entry point for every method. DR and TUN in the
/// out direction are [`XmitDrop::Unsupported`] (their replies do not pass through us).
pub fn transmit<B: PacketBuf + ?Sized>(
    method: &Method,
    buf: &mut B,
    flow: &Flow,
    dir: Direction,
    egress: &Egress,
) -> Verdict {
    match (method, dir) {
        (Method::Nat, _) => nat::xmit(buf.data_mut(), flow, dir, egress),
        (Method::FullNat { mss_clamp }, _) => {
            fullnat::xmit(buf.data_mut(), flow, dir, egress, *mss_clamp)
        }
        (Method::DirectRoute, Direction::In) => dr::xmit(buf.data_mut(), egress),
        (Method::Tunnel(t), Direction::In) => tunnel::xmit(buf, flow, t, egress),
        (Method::DirectRoute | Method::Tunnel(_), Direction::Out) => Err(XmitDrop::Unsupported),
    }
}

/// IP version of a parsed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
}

impl Family {
    pub(crate) fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// Offsets and facts of a validated frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parsed {
    /// Ethernet header length.
    pub l2_len: usize,
    pub family: Family,
    /// From the IP header's start to the upper-layer header (IPv4 options and IPv6 extension
    /// headers included).
    pub l3_len: usize,
    /// The whole IP packet (Ethernet padding excluded).
    pub ip_len: usize,
    /// Upper-layer protocol.
    pub proto: IpProtocol,
    /// TTL / hop limit.
    pub ttl: u8,
    /// IPv4 DF (false for IPv6).
    pub dont_frag: bool,
}

impl Parsed {
    pub(crate) fn l3(&self) -> core::ops::Range<usize> {
        self.l2_len..self.l2_len + self.ip_len
    }

    pub(crate) fn l4_start(&self) -> usize {
        self.l2_len + self.l3_len
    }
}

/// Parses the Ethernet and IP headers: lengths, versions, the IPv4 header checksum,
/// fragments, IPv6 extension headers.
#[inline]
pub(crate) fn parse(frame: &[u8]) -> Result<Parsed, XmitDrop> {
    let eth = EthernetRepr::parse(&Frame::new_checked(frame)?)?;
    let l2_len = eth.header_len();
    let l3 = frame.get(l2_len..).ok_or(XmitDrop::Truncated)?;
    match eth.ethertype {
        EtherType::IPV4 => {
            let ip = ipv4::Packet::new_checked(l3)?;
            if ip.version() != 4 {
                return Err(XmitDrop::Malformed);
            }
            if header_sum(ip.header()) != 0xffff {
                return Err(XmitDrop::BadChecksum);
            }
            if ip.is_fragment() {
                return Err(XmitDrop::Fragment);
            }
            Ok(Parsed {
                l2_len,
                family: Family::V4,
                l3_len: ip.header_len(),
                ip_len: usize::from(ip.total_len()),
                proto: ip.next_header(),
                ttl: ip.hop_limit(),
                dont_frag: ip.dont_frag(),
            })
        }
        EtherType::IPV6 => {
            let ip = ipv6::Packet::new_checked(l3)?;
            if ip.version() != 6 {
                return Err(XmitDrop::Malformed);
            }
            let mut walk = ip.ext_headers();
            for h in walk.by_ref() {
                if h?.kind == IpProtocol::IPV6_ROUTE {
                    return Err(XmitDrop::Unsupported);
                }
            }
            let ul = walk.upper_layer();
            if ul.is_fragment() {
                return Err(XmitDrop::Fragment);
            }
            Ok(Parsed {
                l2_len,
                family: Family::V6,
                l3_len: ipv6::HEADER_LEN + ul.offset,
                ip_len: ipv6::HEADER_LEN + usize::from(ip.payload_len()),
                proto: ul.protocol,
                ttl: ip.hop_limit(),
                dont_frag: false,
            })
        }
        _ => Err(XmitDrop::Unsupported),
    }
}

/// The folded one's-complement sum of an IPv4 header (at most 60 bytes): 0xffff when its
/// checksum verifies. The same arithmetic as `checksum::sum`, with a 32-bit accumulator that
/// cannot overflow for a header and that inlines into the packet path (the out-of-line call
/// showed up at a sixth of the full-NAT cost).
#[inline]
pub(crate) fn header_sum(h: &[u8]) -> u16 {
    let word = |w: &[u8]| u32::from(u16::from_be_bytes([w[0], w[1]]));
    let acc = if let Ok(b) = <&[u8; 20]>::try_from(h) {
        // The usual header without options, unrolled.
        (0..10).map(|i| word(&b[2 * i..])).sum()
    } else {
        let mut acc = 0u32;
        for w in h.chunks_exact(2) {
            acc += word(w);
        }
        acc
    };
    checksum::fold(acc)
}

/// Refuses a packet whose TTL would expire under `policy`.
pub(crate) fn check_ttl(p: &Parsed, policy: TtlPolicy) -> Result<(), XmitDrop> {
    if policy == TtlPolicy::Decrement && p.ttl <= 1 {
        return Err(XmitDrop::TtlExpired);
    }
    Ok(())
}

/// Refuses a packet of `len` bytes that does not fit `mtu` (the route MTU, or for a tunnel
/// what the encapsulation leaves of it), which is also the MTU `FragNeeded` announces. An
/// ICMP error is never `FragNeeded`.
pub(crate) fn check_mtu(
    p: &Parsed,
    len: usize,
    mtu: usize,
    icmp_error: bool,
) -> Result<(), XmitDrop> {
    if len <= mtu {
        return Ok(());
    }
    let mtu = u16::try_from(mtu).unwrap_or(u16::MAX);
    let no_frag = p.family == Family::V6 || p.dont_frag;
    if no_frag && !icmp_error {
        Err(XmitDrop::FragNeeded { mtu })
    } else {
        Err(XmitDrop::TooBig { mtu })
    }
}

/// True if the packet is an ICMP or ICMPv6 error (for the MTU rule; headers unchecked).
pub(crate) fn is_icmp_error(frame: &[u8], p: &Parsed) -> bool {
    let Some(&t) = frame.get(p.l4_start()) else {
        return false;
    };
    match (p.family, p.proto) {
        (Family::V4, IpProtocol::ICMP) => icmpv4::Message(t).is_error(),
        (Family::V6, IpProtocol::ICMPV6) => icmpv6::Message(t).is_error(),
        _ => false,
    }
}

/// Decrements the TTL / hop limit under `policy` (checked before by [`check_ttl`]).
pub(crate) fn apply_ttl(frame: &mut [u8], p: &Parsed, policy: TtlPolicy) {
    if policy == TtlPolicy::Keep {
        return;
    }
    let l3 = &mut frame[p.l3()];
    match p.family {
        Family::V4 => {
            let mut ip = ipv4::Packet::new_unchecked(l3);
            let (ttl, proto) = (ip.hop_limit(), ip.next_header().0);
            let mut d = Delta::default();
            d.u16(
                u16::from_be_bytes([ttl, proto]),
                u16::from_be_bytes([ttl - 1, proto]),
            );
            ip.set_hop_limit(ttl - 1);
            let c = d.apply(ip.checksum());
            ip.set_checksum(c);
        }
        Family::V6 => {
            ipv6::Packet::new_unchecked(l3).decrement_hop_limit();
        }
    }
}

/// Writes the next-hop MACs.
pub(crate) fn set_macs(frame: &mut [u8], egress: &Egress) {
    let mut f = Frame::new_unchecked(frame);
    f.set_src_addr(egress.src_mac);
    f.set_dst_addr(egress.dst_mac);
}

/// A rewrite of a packet's source and/or destination endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Translation {
    pub src: Option<Endpoint>,
    pub dst: Option<Endpoint>,
    /// The ICMP echo identifier to write (full-NAT: the local port on the way in, the
    /// client's identifier on the way out); `None` keeps it (NAT).
    pub echo_ident: Option<u16>,
}

impl Translation {
    /// True if every address the translation writes is of `family`.
    fn fits(&self, family: Family) -> bool {
        [self.src, self.dst]
            .iter()
            .flatten()
            .all(|e| Family::of(e.addr) == family)
    }
}

/// What the upper layer of a NAT-able packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upper {
    Tcp,
    Udp,
    /// ICMP / ICMPv6 echo request or reply: addresses, and the identifier when the
    /// translation sets one (full-NAT).
    Echo,
    /// ICMP / ICMPv6 error: outer addresses and the quoted packet.
    IcmpError,
}

/// Classifies and checks the upper-layer header of a parsed packet.
fn upper(frame: &[u8], p: &Parsed) -> Result<Upper, XmitDrop> {
    let l4 = &frame[p.l4_start()..p.l2_len + p.ip_len];
    match (p.family, p.proto) {
        (_, IpProtocol::TCP) => {
            tcp::Packet::new_checked(l4)?;
            Ok(Upper::Tcp)
        }
        (_, IpProtocol::UDP) => {
            udp::Packet::new_checked(l4)?;
            Ok(Upper::Udp)
        }
        (Family::V4, IpProtocol::ICMP) => {
            let m = icmpv4::Packet::new_checked(l4)?;
            match m.msg_type() {
                icmpv4::Message::ECHO_REQUEST | icmpv4::Message::ECHO_REPLY => Ok(Upper::Echo),
                t if icmp::is_handled_error_v4(t) => Ok(Upper::IcmpError),
                _ => Err(XmitDrop::Unsupported),
            }
        }
        (Family::V6, IpProtocol::ICMPV6) => {
            let m = icmpv6::Packet::new_checked(l4)?;
            match m.msg_type() {
                icmpv6::Message::ECHO_REQUEST | icmpv6::Message::ECHO_REPLY => Ok(Upper::Echo),
                t if t.is_error() => Ok(Upper::IcmpError),
                _ => Err(XmitDrop::Unsupported),
            }
        }
        _ => Err(XmitDrop::Unsupported),
    }
}

/// Rewrites the IP header's addresses (IPv4 header checksum updated) and returns the
/// `(old, new)` pairs for the upper layer's pseudo-header.
pub(crate) fn rewrite_ip_addrs(
    l3: &mut [u8],
    family: Family,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
) -> [Option<(IpAddr, IpAddr)>; 2] {
    let mut changes = [None, None];
    match family {
        Family::V4 => {
            let mut ip = ipv4::Packet::new_unchecked(l3);
            if let Some(IpAddr::V4(new)) = src {
                changes[0] = Some((IpAddr::V4(ip.rewrite_src_addr(new)), IpAddr::V4(new)));
            }
            if let Some(IpAddr::V4(new)) = dst {
                changes[1] = Some((IpAddr::V4(ip.rewrite_dst_addr(new)), IpAddr::V4(new)));
            }
        }
        Family::V6 => {
            let mut ip = ipv6::Packet::new_unchecked(l3);
            if let Some(IpAddr::V6(new)) = src {
                changes[0] = Some((IpAddr::V6(ip.src_addr()), IpAddr::V6(new)));
                ip.set_src_addr(new);
            }
            if let Some(IpAddr::V6(new)) = dst {
                changes[1] = Some((IpAddr::V6(ip.dst_addr()), IpAddr::V6(new)));
                ip.set_dst_addr(new);
            }
        }
    }
    changes
}

/// The shared core of NAT and full-NAT: checks everything, then applies `t` (addresses,
/// ports, checksums, TTL, MACs, MSS clamp on SYNs when `mss` is set). ICMP errors go to
/// [`icmp::translate_error`].
pub(crate) fn translate(
    frame: &mut [u8],
    t: &Translation,
    egress: &Egress,
    mss: Option<u16>,
) -> Verdict {
    let p = parse(frame)?;
    if !t.fits(p.family) {
        return Err(XmitDrop::Unsupported);
    }
    let kind = upper(frame, &p)?;
    if kind == Upper::IcmpError {
        return icmp::translate_error(frame, &p, t, egress);
    }
    check_ttl(&p, egress.ttl)?;
    check_mtu(&p, p.ip_len, usize::from(egress.mtu), false)?;

    // Everything is checked: write. All changes to one checksum are summed first and
    // applied once (RFC 1624 eq. 3 over several fields).
    if let (Family::V4, Upper::Tcp | Upper::Udp) = (p.family, kind) {
        // the one IPv4 TCP/UDP rewrite, the pipeline's fast path's too
        let v4 = |e: Option<Endpoint>| match e {
            Some(Endpoint {
                addr: IpAddr::V4(a),
                port,
            }) => Some((a, port)),
            _ => None,
        };
        rewrite4(frame, &p, v4(t.src), v4(t.dst), egress);
        if let (Upper::Tcp, Some(max)) = (kind, mss) {
            let mut seg = tcp::Packet::new_unchecked(&mut frame[p.l4_start()..p.l2_len + p.ip_len]);
            if seg.syn() {
                // Options were not validated above: a malformed option list before the MSS
                // leaves the segment as it is.
                let _ = seg.clamp_mss(max);
            }
        }
        return Ok(Forward {
            l2_len: p.l2_len,
            len: frame.len(),
        });
    }
    set_macs(frame, egress);
    let decrement = egress.ttl == TtlPolicy::Decrement;
    let (l3, l4) = frame[p.l3()].split_at_mut(p.l3_len);
    let mut l4_delta = Delta::default();
    match p.family {
        Family::V4 => {
            let mut ip = ipv4::Packet::new_unchecked(&mut *l3);
            let mut d = Delta::default();
            if decrement {
                let (ttl, proto) = (ip.hop_limit(), ip.next_header().0);
                d.u16(
                    u16::from_be_bytes([ttl, proto]),
                    u16::from_be_bytes([ttl - 1, proto]),
                );
                ip.set_hop_limit(ttl - 1);
            }
            if let Some(Endpoint {
                addr: IpAddr::V4(new),
                ..
            }) = t.src
            {
                let old = ip.src_addr();
                d.u32(old.into(), new.into());
                l4_delta.u32(old.into(), new.into());
                ip.set_src_addr(new);
            }
            if let Some(Endpoint {
                addr: IpAddr::V4(new),
                ..
            }) = t.dst
            {
                let old = ip.dst_addr();
                d.u32(old.into(), new.into());
                l4_delta.u32(old.into(), new.into());
                ip.set_dst_addr(new);
            }
            let c = d.apply(ip.checksum());
            ip.set_checksum(c);
        }
        Family::V6 => {
            let mut ip = ipv6::Packet::new_unchecked(&mut *l3);
            if decrement {
                ip.set_hop_limit(p.ttl - 1);
            }
            if let Some(Endpoint {
                addr: IpAddr::V6(new),
                ..
            }) = t.src
            {
                l4_delta.u128(ip.src_addr().into(), new.into());
                ip.set_src_addr(new);
            }
            if let Some(Endpoint {
                addr: IpAddr::V6(new),
                ..
            }) = t.dst
            {
                l4_delta.u128(ip.dst_addr().into(), new.into());
                ip.set_dst_addr(new);
            }
        }
    }
    match kind {
        Upper::Tcp => {
            let mut seg = tcp::Packet::new_unchecked(l4);
            if let Some(e) = t.src {
                l4_delta.u16(seg.src_port(), e.port);
                seg.set_src_port(e.port);
            }
            if let Some(e) = t.dst {
                l4_delta.u16(seg.dst_port(), e.port);
                seg.set_dst_port(e.port);
            }
            let c = l4_delta.apply(seg.checksum());
            seg.set_checksum(c);
            if let (Some(max), true) = (mss, seg.syn()) {
                // Options were not validated above: a malformed option list before the MSS
                // leaves the segment as it is.
                let _ = seg.clamp_mss(max);
            }
        }
        Upper::Udp => {
            let mut d = udp::Packet::new_unchecked(l4);
            if let Some(e) = t.src {
                l4_delta.u16(d.src_port(), e.port);
                d.set_src_port(e.port);
            }
            if let Some(e) = t.dst {
                l4_delta.u16(d.dst_port(), e.port);
                d.set_dst_port(e.port);
            }
            match (d.checksum(), p.family) {
                // IPv4 "no checksum" stays so.
                (0, Family::V4) => {}
                // Invalid over IPv6: compute one, as the kernel does.
                (0, Family::V6) => {
                    let (src, dst) = ipv6_addrs(l3);
                    // Cannot fail: both addresses are IPv6.
                    let _ = d.fill_checksum(src, dst);
                }
                (c, _) => {
                    let c = match l4_delta.apply(c) {
                        0 => 0xffff,
                        c => c,
                    };
                    d.set_checksum(c);
                }
            }
        }
        Upper::Echo => {
            // ICMPv6's checksum covers the pseudo-header (the address changes summed
            // above), ICMP's only the message.
            let mut d = match p.family {
                Family::V4 => Delta::default(),
                Family::V6 => l4_delta,
            };
            if let Some(id) = t.echo_ident {
                // the identifier: bytes 4 and 5 of both echo messages
                let old = u16::from_be_bytes([l4[4], l4[5]]);
                d.u16(old, id);
                l4[4..6].copy_from_slice(&id.to_be_bytes());
            }
            if p.family == Family::V6 || t.echo_ident.is_some() {
                let old = u16::from_be_bytes([l4[2], l4[3]]);
                l4[2..4].copy_from_slice(&d.apply(old).to_be_bytes());
            }
        }
        // Handled before the first write.
        Upper::IcmpError => {}
    }
    Ok(Forward {
        l2_len: p.l2_len,
        len: frame.len(),
    })
}

/// An IPv4 address and port a rewrite writes, or `None` to keep them.
pub(crate) type Rewrite4 = Option<(Ipv4Addr, u16)>;

/// NAT / full-NAT of an IPv4 TCP or UDP packet whose headers `p` describes (options and a
/// VLAN tag allowed), checked by the caller (TTL, MTU, families): MACs, TTL under
/// `egress.ttl`, the new source and destination addresses and ports, the IPv4 header and
/// TCP/UDP checksums updated once each (an IPv4 UDP datagram without a checksum stays
/// without one). Fixed offsets, no [`IpAddr`]: [`translate`] uses it for every IPv4
/// TCP/UDP packet and the pipeline for the frames its fixed-offset parse read. Always
/// inlined: arguments passed through memory cost the fast path a store-forwarding stall.
#[inline(always)]
pub(crate) fn rewrite4(
    frame: &mut [u8],
    p: &Parsed,
    src: Rewrite4,
    dst: Rewrite4,
    egress: &Egress,
) {
    let decrement = egress.ttl == TtlPolicy::Decrement;
    frame[0..6].copy_from_slice(&egress.dst_mac.0);
    frame[6..12].copy_from_slice(&egress.src_mac.0);
    let (ip, l4) = frame[p.l3()].split_at_mut(p.l3_len);
    // fixed-size views: one length check each, not one per field (options stay behind)
    let ip: &mut [u8; 20] = (&mut ip[..20]).try_into().expect("a whole IPv4 header");
    let (ports, l4) = l4.split_at_mut(4);
    let ports: &mut [u8; 4] = ports.try_into().expect("a whole upper-layer header");
    let be16 = |b: &[u8], at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
    let be32 = |b: &[u8], at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let mut ipd = Delta::default();
    let mut l4d = Delta::default();
    if decrement {
        let (ttl, proto) = (ip[8], ip[9]);
        ipd.u16(
            u16::from_be_bytes([ttl, proto]),
            u16::from_be_bytes([ttl - 1, proto]),
        );
        ip[8] = ttl - 1;
    }
    for (e, addr_at, port_at) in [(src, 12, 0), (dst, 16, 2)] {
        if let Some((a, port)) = e {
            let (old, new) = (be32(ip, addr_at), u32::from(a));
            ipd.u32(old, new);
            l4d.u32(old, new);
            ip[addr_at..addr_at + 4].copy_from_slice(&a.octets());
            l4d.u16(be16(ports, port_at), port);
            ports[port_at..port_at + 2].copy_from_slice(&port.to_be_bytes());
        }
    }
    let c = ipd.apply(be16(ip, 10));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let udp = p.proto == IpProtocol::UDP;
    // the checksum's offset after the ports
    let csum_at = if udp { 2 } else { 12 };
    let old = be16(l4, csum_at);
    let c = match (udp, old) {
        // an IPv4 UDP datagram without a checksum stays without one
        (true, 0) => 0,
        (true, _) => match l4d.apply(old) {
            0 => 0xffff,
            c => c,
        },
        _ => l4d.apply(old),
    };
    l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
}

/// The one's-complement sum of several field changes (`~old + new` per 16-bit word), to
/// update a checksum once for all of them: RFC 1624 eq. 3, `HC' = ~(~HC + Σ(~m + m'))`.
/// Every field must sit at an even offset of the checksummed data.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Delta(u32);

impl Delta {
    #[inline]
    pub(crate) fn u16(&mut self, old: u16, new: u16) {
        self.0 = checksum::add(self.0, u32::from(!old) + u32::from(new));
    }

    #[inline]
    pub(crate) fn u32(&mut self, old: u32, new: u32) {
        self.u16((old >> 16) as u16, (new >> 16) as u16);
        self.u16(old as u16, new as u16);
    }

    #[inline]
    pub(crate) fn u128(&mut self, old: u128, new: u128) {
        self.u32((old >> 96) as u32, (new >> 96) as u32);
        self.u32((old >> 64) as u32, (new >> 64) as u32);
        self.u32((old >> 32) as u32, (new >> 32) as u32);
        self.u32(old as u32, new as u32);
    }

    /// The checksum `csum` updated for every change added.
    #[inline]
    pub(crate) fn apply(self, csum: u16) -> u16 {
        !checksum::fold(checksum::add(u32::from(!csum), self.0))
    }
}

/// Source and destination of an IPv6 header known to be whole.
pub(crate) fn ipv6_addrs(l3: &[u8]) -> (IpAddr, IpAddr) {
    let ip = ipv6::Packet::new_unchecked(l3);
    (IpAddr::V6(ip.src_addr()), IpAddr::V6(ip.dst_addr()))
}

/// Where the Ethernet header's EtherType lives (inside the VLAN tag if tagged).
pub(crate) fn ethertype_offset(l2_len: usize) -> usize {
    l2_len - 2
}

/// Length of an Ethernet header with at most one tag, for copying it around.
pub(crate) const MAX_L2_LEN: usize = ethernet::HEADER_LEN + ethernet::VLAN_TAG_LEN;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_buf() {
        let mut raw = [0u8; 32];
        assert!(SliceBuf::new(&mut raw, 30, 3).is_none());
        let mut b = SliceBuf::new(&mut raw, 8, 20).unwrap();
        assert_eq!((b.start(), b.len(), b.headroom()), (8, 20, 8));
        assert!(!b.prepend(9));
        assert!(b.prepend(8));
        assert_eq!((b.start(), b.len(), b.headroom()), (0, 28, 0));
        b.truncate(40);
        assert_eq!(b.len(), 28);
        b.truncate(10);
        assert_eq!(b.data().len(), 10);
        assert!(b.append(22));
        assert!(!b.append(1));
        assert_eq!(b.len(), 32);
        assert!(!b.is_empty());
    }

    #[test]
    fn drop_indexes_are_dense() {
        for (i, d) in XmitDrop::ALL.iter().enumerate() {
            assert_eq!(d.index(), i);
        }
        assert_eq!(
            XmitDrop::FragNeeded { mtu: 1400 }.to_string(),
            "frag-needed (mtu 1400)"
        );
    }

    /// The dispatcher gives what the method's own entry point gives.
    #[test]
    fn transmit_dispatches() {
        use super::testutil::*;
        let f = flow4();
        let run = |m: &Method, input: &[u8], dir| {
            let mut raw = vec![0u8; 64];
            raw.extend_from_slice(input);
            let mut b = SliceBuf::new(&mut raw, 64, input.len()).unwrap();
            let v = transmit(m, &mut b, &f, dir, &egress());
            (v, b.data().to_vec())
        };
        let (v, out) = run(&Method::Nat, fixtures::IN_ACK4, Direction::In);
        assert!(v.is_ok());
        assert_eq!(out, fixtures::NAT_IN_ACK4);
        let (_, out) = run(
            &Method::FullNat {
                mss_clamp: Some(1400),
            },
            fixtures::IN_SYN4,
            Direction::In,
        );
        assert_eq!(out, fixtures::FNAT_IN_SYN4_MSS1400);
        let (_, out) = run(&Method::DirectRoute, fixtures::IN_UDP4, Direction::In);
        assert_eq!(out, fixtures::DR_UDP4);
        let t = tunnel::Tunnel {
            kind: tunnel::TunnelKind::Ipip,
            csum: false,
            src: IpAddr::V4(TUN_SRC4),
            ident: IDENT,
            entropy: ENTROPY,
        };
        let (_, out) = run(&Method::Tunnel(t), fixtures::TUN_IN_ACK4, Direction::In);
        assert_eq!(out, fixtures::TUN_IPIP_ACK4_IN4);
        for m in [Method::DirectRoute, Method::Tunnel(t)] {
            let (v, out) = run(&m, fixtures::NAT_REPLY_ACK4, Direction::Out);
            assert_eq!(v, Err(XmitDrop::Unsupported));
            assert_eq!(out, fixtures::NAT_REPLY_ACK4);
        }
    }

    /// Several changes summed into one update give what updating field by field gives.
    #[test]
    fn delta_matches_sequential_updates() {
        let mut d = Delta::default();
        d.u32(0xc0a8_010a, 0x0a00_0105);
        d.u16(43210, 5001);
        let seq = checksum::update_u16(
            checksum::update_u32(0x1234, 0xc0a8_010a, 0x0a00_0105),
            43210,
            5001,
        );
        assert_eq!(d.apply(0x1234), seq);
    }
}
