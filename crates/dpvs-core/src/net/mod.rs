//! The networking around the service path, for the DPDK workers of dpvsd: routes,
//! neighbours, ARP, IPv6 neighbour discovery and ICMP echo for the dataplane's own addresses.
//!
//! The control thread owns the tables and publishes a [`NetSnapshot`] (ports, local
//! addresses, [`RouteTable`], [`NeighTable`]); workers read it:
//!
//! - [`NetRouter`] is the pipeline's [`Router`]: route lookup, then the neighbour of the
//!   gateway (or of the destination for an on-link route). A next hop without a usable
//!   neighbour entry is recorded in the worker's [`ResolveQueue`] (deduplicated, bounded,
//!   allocation-free) for the control thread to resolve ([`arp_request`],
//!   [`neighbour_solicit`]), and the packet has no route.
//! - [`handle_local`] takes a frame the service pipeline did not take
//!   ([`Verdict::ToKernel`](crate::pipeline::Verdict::ToKernel)) and answers ARP requests,
//!   IPv6 neighbour solicitations and ICMP/ICMPv6 echo requests for our addresses in place,
//!   or says which neighbour to learn; the rest goes to the kernel ([`LocalAction::NotLocal`]).
//! - [`arp_request`], [`gratuitous_arp`], [`neighbour_solicit`] and [`unsolicited_na`] build
//!   the frames the control thread sends.
//!
//! Semantics follow Linux (`net/ipv4/arp.c` `arp_process`, `net/ipv6/ndisc.c`
//! `ndisc_recv_ns`/`ndisc_recv_na`, `icmp_echo`) restricted to what a dataplane needs; the
//! differences are documented on each function.
//!
//! Nothing here allocates per packet: lookups are hash probes into the snapshot, replies are
//! rewritten in the received buffer.

use core::hash::{BuildHasherDefault, Hash, Hasher};
use core::net::IpAddr;

use dpvs_wire::ethernet::{EthernetRepr, Frame};
use dpvs_wire::{EtherType, EthernetAddress};

use crate::pipeline::{NextHop, Router};

pub mod arp;
pub mod echo;
pub mod icmp_error;
pub mod nd;
pub mod neigh;
pub mod route;
pub mod snapshot;

pub use arp::{arp_request, gratuitous_arp};
pub use icmp_error::{icmp_error, IcmpError};
pub use nd::{neighbour_solicit, unsolicited_na};
pub use neigh::{Learned, Neigh, NeighState, NeighTable};
pub use route::{Route, RouteError, RouteKind, RouteTable, Scope};
pub use snapshot::{LocalAddr, NetSnapshot, PortInfo, Resolution};

/// What a worker does with a frame after [`handle_local`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LocalAction {
    /// The frame was rewritten in place into the answer (its first `len` bytes): send it
    /// back out of the port it came in on.
    Reply {
        /// Frame length of the answer.
        len: usize,
    },
    /// A neighbour to learn (ARP reply, gratuitous ARP, neighbour advertisement); the frame
    /// is consumed.
    Learn {
        /// The neighbour's address.
        addr: IpAddr,
        /// Its MAC.
        mac: EthernetAddress,
    },
    /// [`Reply`](Self::Reply) and [`Learn`](Self::Learn): an ARP request or neighbour
    /// solicitation for us, whose sender is learned.
    ReplyAndLearn {
        /// Frame length of the answer.
        len: usize,
        /// The sender's address.
        addr: IpAddr,
        /// The sender's MAC.
        mac: EthernetAddress,
    },
    /// Not for the dataplane's network stack: pass the frame, unchanged, to the kernel
    /// exception path.
    NotLocal,
    /// Malformed ARP/ND or ICMP for us (the reason names the check, for counters).
    Drop(&'static str),
}

/// Handles a frame the service pipeline did not take: ARP, IPv6 neighbour discovery and
/// ICMP/ICMPv6 echo requests to the dataplane's own addresses.
///
/// `answer(ip)`: whether the dataplane owns `ip` besides the snapshot's local addresses
/// (dpvsd passes "is a VIP of a service"); ARP requests and neighbour solicitations for such
/// addresses are answered on any port, echo requests are not (the pipeline answers those).
///
/// - Ethernet with at most one 802.1Q tag (kept in the reply). A unicast frame to a MAC that
///   is not `in_port`'s is not ours (Linux's `PACKET_OTHERHOST`), nor is a frame from a
///   multicast MAC: [`LocalAction::NotLocal`].
/// - ARP: see [`arp`]. IPv6 ND: see [`nd`]. Echo: see [`echo`].
/// - Anything else, a port that is not in the snapshot, or a frame too short for its
///   Ethernet header: [`LocalAction::NotLocal`].
///
/// Never panics, whatever the bytes; allocates nothing.
pub fn handle_local(
    frame: &mut [u8],
    in_port: u16,
    snap: &NetSnapshot,
    answer: &dyn Fn(IpAddr) -> bool,
) -> LocalAction {
    let Ok(f) = Frame::new_checked(&*frame) else {
        return LocalAction::NotLocal;
    };
    let Ok(eth) = EthernetRepr::parse(&f) else {
        return LocalAction::NotLocal;
    };
    let Some(port) = snap.port(in_port) else {
        return LocalAction::NotLocal;
    };
    // Not to us; or from a group address, which we would answer to.
    if (eth.dst_addr.is_unicast() && eth.dst_addr != port.mac) || eth.src_addr.is_multicast() {
        return LocalAction::NotLocal;
    }
    let ctx = Ctx {
        in_port,
        mac: port.mac,
        snap,
        answer,
        eth_src: eth.src_addr,
        l2: eth.header_len(),
    };
    match eth.ethertype {
        EtherType::ARP => arp::handle(frame, &ctx),
        EtherType::IPV4 => echo::handle_v4(frame, &ctx),
        EtherType::IPV6 => {
            // ICMPv6 right after the fixed header (extension headers: the kernel's).
            let ip = ctx.l2;
            match (frame.get(ip + 6), frame.get(ip + 40)) {
                (Some(58), Some(135 | 136)) => nd::handle(frame, &ctx),
                (Some(58), Some(128)) => echo::handle_v6(frame, &ctx),
                _ => LocalAction::NotLocal,
            }
        }
        _ => LocalAction::NotLocal,
    }
}

/// What the handlers need to know about the frame and the port.
pub(crate) struct Ctx<'a> {
    pub(crate) in_port: u16,
    /// `in_port`'s MAC.
    pub(crate) mac: EthernetAddress,
    pub(crate) snap: &'a NetSnapshot,
    pub(crate) answer: &'a dyn Fn(IpAddr) -> bool,
    /// The frame's Ethernet source.
    pub(crate) eth_src: EthernetAddress,
    /// Ethernet header length (14 or 18).
    pub(crate) l2: usize,
}

impl Ctx<'_> {
    /// True if we answer ARP/ND for `ip` on this port.
    pub(crate) fn owns(&self, ip: IpAddr) -> bool {
        self.snap.local_on(self.in_port, ip) || (self.answer)(ip)
    }
}

/// The next hops a worker could not resolve: deduplicated, bounded, allocation-free after
/// [`with_capacity`](Self::with_capacity). The worker hands them to the control thread
/// after each burst and clears the queue. The control thread marks what it is resolving
/// ([`NeighTable::insert_incomplete`]) so that the misses of the next bursts, until the
/// answer comes, do not send a request each.
#[derive(Clone, Debug)]
pub struct ResolveQueue {
    items: Vec<(IpAddr, u16)>,
    cap: usize,
    overflow: u64,
}

impl ResolveQueue {
    /// A queue of at most `n` next hops.
    pub fn with_capacity(n: usize) -> ResolveQueue {
        ResolveQueue {
            items: Vec::with_capacity(n),
            cap: n,
            overflow: 0,
        }
    }

    /// Records `addr` on `port`. Returns false if it was already queued, or if the queue is
    /// full (counted in [`overflowed`](Self::overflowed)).
    pub fn push(&mut self, addr: IpAddr, port: u16) -> bool {
        if self.items.iter().any(|&(a, p)| a == addr && p == port) {
            return false;
        }
        if self.items.len() >= self.cap {
            self.overflow += 1;
            return false;
        }
        self.items.push((addr, port));
        true
    }

    /// Takes every queued next hop, oldest first (the capacity is kept).
    pub fn drain(&mut self) -> std::vec::Drain<'_, (IpAddr, u16)> {
        self.items.drain(..)
    }

    /// The queued next hops, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &(IpAddr, u16)> + '_ {
        self.items.iter()
    }

    /// Empties the queue.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// Number queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True if none is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The bound.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// How many pushes found the queue full, ever.
    pub fn overflowed(&self) -> u64 {
        self.overflow
    }
}

/// The pipeline's [`Router`] over a [`NetSnapshot`]; unresolved next hops go to `misses`.
#[derive(Debug)]
pub struct NetRouter<'a> {
    snap: &'a NetSnapshot,
    misses: &'a mut ResolveQueue,
}

impl<'a> NetRouter<'a> {
    /// A router reading `snap` and recording unresolved next hops in `misses`.
    pub fn new(snap: &'a NetSnapshot, misses: &'a mut ResolveQueue) -> NetRouter<'a> {
        NetRouter { snap, misses }
    }
}

impl Router for NetRouter<'_> {
    /// [`NetSnapshot::resolve`]: a next hop; `None` for a local destination, no route, or
    /// no usable neighbour (then the gateway and port are pushed to the miss queue).
    #[inline]
    fn route(&mut self, dst: IpAddr) -> Option<NextHop> {
        match self.snap.resolve(dst) {
            Resolution::Hop(h) => Some(h),
            Resolution::Unresolved { gateway, port } => {
                self.misses.push(gateway, port);
                None
            }
            Resolution::Local | Resolution::NoRoute => None,
        }
    }
}

/// A hash key for either family without the cost of `IpAddr`'s byte-wise `Hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct IpKey(u128, bool);

impl From<IpAddr> for IpKey {
    #[inline]
    fn from(a: IpAddr) -> IpKey {
        match a {
            IpAddr::V4(a) => IpKey(u128::from(u32::from(a)), false),
            IpAddr::V6(a) => IpKey(u128::from(a), true),
        }
    }
}

/// A fast non-cryptographic hasher for integer keys (rustc's Fx mix, with a final
/// avalanche so that keys differing only in high bits, like masked prefixes, spread over
/// the table's low bits). The tables hold configuration, not attacker-chosen keys, except
/// the neighbour table, whose entries the control thread creates only for addresses it
/// resolves or that answered.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // murmur3's fmix64.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// `BuildHasher` of [`FxHasher`].
pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;

/// Hashes one value with [`FxHasher`] (tests).
#[cfg(test)]
fn fx<T: Hash>(v: T) -> u64 {
    let mut h = FxHasher::default();
    v.hash(&mut h);
    h.finish()
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn router_resolves_and_records_misses() {
        let mut neigh = NeighTable::new();
        let gw = EthernetAddress([0x52, 0x54, 0, 0, 0, 0xfe]);
        neigh.learn(ip("10.0.0.254"), gw, 0, 0);
        let mut routes = RouteTable::new();
        routes.insert_addr(ip("10.0.0.1"), 24, 0).unwrap();
        routes
            .insert(Route::via(ip("0.0.0.0"), 0, 0, ip("10.0.0.254")))
            .unwrap();
        routes
            .insert(Route::via(ip("172.16.0.0"), 12, 1, ip("10.1.0.254")))
            .unwrap();
        let base = snapshot();
        let s = NetSnapshot::new(
            2,
            base.ports().to_vec(),
            base.addrs().to_vec(),
            routes,
            neigh,
        );
        let mut q = ResolveQueue::with_capacity(2);
        let mut r = NetRouter::new(&s, &mut q);
        let hop = NextHop {
            port: 0,
            src_mac: PORT0_MAC,
            dst_mac: gw,
            mtu: 1500,
        };
        assert_eq!(r.route(ip("8.8.8.8")), Some(hop));
        assert_eq!(r.route(ip("10.0.0.1")), None); // local
        assert_eq!(r.route(ip("10.0.0.7")), None); // on-link, unresolved
        assert_eq!(r.route(ip("10.0.0.7")), None); // deduplicated
        assert_eq!(r.route(ip("172.16.1.1")), None); // via an unresolved gateway
        assert_eq!(r.route(ip("10.0.0.8")), None); // queue full
        assert_eq!(r.route(ip("::1")), None); // no route
        let got: Vec<_> = q.iter().copied().collect();
        assert_eq!(got, [(ip("10.0.0.7"), 0), (ip("10.1.0.254"), 1)]);
        assert_eq!((q.len(), q.capacity(), q.overflowed()), (2, 2, 1));
        let drained: Vec<_> = q.drain().collect();
        assert_eq!(drained.len(), 2);
        assert!(q.is_empty());
        assert!(q.push(ip("10.0.0.8"), 0));
        q.clear();
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn dispatch() {
        let s = snapshot();
        // Too short, unknown EtherType, IPv6 with another next header: the kernel's.
        for mut f in [vec![0u8; 13], vec![0xffu8; 60], {
            let mut f = vec![0u8; 80];
            f[..6].copy_from_slice(&PORT0_MAC.0);
            f[12..14].copy_from_slice(&[0x86, 0xdd]);
            f[20] = 6;
            f
        }] {
            assert_eq!(handle_local(&mut f, 0, &s, &vip), LocalAction::NotLocal);
        }
    }

    #[test]
    fn hasher_spreads_masked_prefixes() {
        // Keys that differ only in their high bits must not share low hash bits.
        let mut low = std::collections::HashSet::new();
        for i in 0u32..256 {
            low.insert(fx(i << 24) & 0xff);
        }
        assert!(low.len() > 128, "{}", low.len());
        let mut h = FxHasher::default();
        h.write(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        h.write_u16(1);
        h.write_u64(2);
        h.write_usize(3);
        assert_ne!(h.finish(), FxHasher::default().finish());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..120),
            ethertype in prop_oneof![
                Just([0x08u8, 0x06]),
                Just([0x08, 0x00]),
                Just([0x86, 0xdd]),
                Just([0x81, 0x00]),
            ],
            kind in prop_oneof![Just(135u8), Just(136), Just(128), Just(1)],
            port in 0u16..3,
        ) {
            let s = snapshot();
            let mut f = data.clone();
            let _ = handle_local(&mut f, port, &s, &vip);
            // Steer the bytes towards the handlers: our MAC, a known EtherType, ICMPv6.
            let mut f = data;
            if f.len() >= 14 {
                f[..6].copy_from_slice(&PORT0_MAC.0);
                f[12..14].copy_from_slice(&ethertype);
            }
            if f.len() >= 55 {
                f[14] = 0x60;
                f[20] = 58;
                f[54] = kind;
            }
            let mut g = f.clone();
            let a = handle_local(&mut f, port, &s, &vip);
            match a {
                LocalAction::Reply { len } | LocalAction::ReplyAndLearn { len, .. } => {
                    prop_assert!(len <= f.len())
                }
                _ => prop_assert_eq!(&f, &g),
            }
            // And the same frame with every checksum it could need made right.
            if g.len() >= 54 && g[12..14] == [0x86, 0xdd] {
                let n = usize::from(u16::from_be_bytes([g[18], g[19]]));
                if g.len() >= 54 + n && n >= 4 {
                    g[21] = 255;
                    let (src, dst) = {
                        let ip = dpvs_wire::ipv6::Packet::new_unchecked(&g[14..]);
                        (ip.src_addr(), ip.dst_addr())
                    };
                    let mut m = dpvs_wire::icmpv6::Packet::new_unchecked(&mut g[54..54 + n]);
                    let _ = m.fill_checksum(src, dst);
                    let _ = handle_local(&mut g, port, &s, &vip);
                }
            }
        }
    }
}
