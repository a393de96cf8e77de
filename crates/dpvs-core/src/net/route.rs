//! The routing table: longest-prefix match over IPv4 and IPv6 routes with DPVS's two route
//! roles, [`RouteKind::Local`] (an address of ours) and [`RouteKind::Net`] (a prefix reached
//! through a port, directly or via a gateway).
//!
//! DPVS keeps its routes in lists and scans them. Here every family has one hash map per
//! prefix length, keyed by the masked prefix and holding the lowest-metric route of that
//! prefix, plus a bitmask of the lengths that have routes, and a first level that narrows
//! the lengths a lookup must probe:
//!
//! - IPv4: an array indexed by the top 16 bits of the address says, per /16 block, which
//!   lengths above 16 have prefixes inside the block and the longest prefix of 16 bits or
//!   less that covers it. A lookup probes the long lengths of its block (usually none or
//!   one), then at most one short prefix, whatever the table's size.
//! - IPv6: the same per /32 block, in a hash map holding only the blocks that have prefixes
//!   longer than 32 bits; an address in no such block probes the short lengths present.
//!
//! Lookups allocate nothing. An ordered map of every route (all metrics) is the source of
//! truth for `iter`, `remove` and the duplicate check; the indexes are updated from it for
//! one prefix whenever that prefix changes (a short prefix updates every block it covers).

use core::fmt;
use core::net::IpAddr;
use std::collections::{BTreeMap, HashMap};

use super::FxBuild;

/// What a route is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteKind {
    /// An address of ours (a host route, `ip route`'s `local`): traffic to it is delivered
    /// here, never forwarded.
    Local,
    /// A prefix reachable through [`Route::port`], on-link or via [`Route::via`].
    Net,
}

/// The route's scope, as `ip route` prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Valid only on this host (local addresses).
    Host,
    /// Directly attached (on-link, no gateway).
    Link,
    /// Through a gateway.
    Global,
}

/// One route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    /// The network address (host bits must be zero).
    pub prefix: IpAddr,
    /// Prefix length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub len: u8,
    /// Local or forwarding.
    pub kind: RouteKind,
    /// Egress port (DPDK port id).
    pub port: u16,
    /// The gateway; `None` for an on-link prefix (the destination itself is the next hop).
    pub via: Option<IpAddr>,
    /// Preferred source address for traffic we originate along this route.
    pub src: Option<IpAddr>,
    /// Lower is preferred among routes of the same prefix and length.
    pub metric: u32,
    /// Scope.
    pub scope: Scope,
}

impl Route {
    /// An on-link prefix on `port` (scope link, metric 0).
    pub fn net(prefix: IpAddr, len: u8, port: u16) -> Route {
        Route {
            prefix,
            len,
            kind: RouteKind::Net,
            port,
            via: None,
            src: None,
            metric: 0,
            scope: Scope::Link,
        }
    }

    /// A prefix reached via the gateway `via` on `port` (scope global, metric 0).
    pub fn via(prefix: IpAddr, len: u8, port: u16, via: IpAddr) -> Route {
        Route {
            via: Some(via),
            scope: Scope::Global,
            ..Route::net(prefix, len, port)
        }
    }

    /// The host route of a local address on `port` (kind local, scope host, `src` = the
    /// address, full length).
    pub fn local(addr: IpAddr, port: u16) -> Route {
        Route {
            prefix: addr,
            len: max_len(addr),
            kind: RouteKind::Local,
            port,
            via: None,
            src: Some(addr),
            metric: 0,
            scope: Scope::Host,
        }
    }

    /// True if `addr` is inside `prefix/len` once the host bits of `prefix` are cleared (a
    /// local address with its prefix length).
    pub fn contains_masked(&self, addr: IpAddr) -> bool {
        match (self.prefix, addr) {
            (IpAddr::V4(p), IpAddr::V4(a)) => {
                mask4(u32::from(a), self.len) == mask4(u32::from(p), self.len)
            }
            (IpAddr::V6(p), IpAddr::V6(a)) => {
                mask6(u128::from(a), self.len) == mask6(u128::from(p), self.len)
            }
            _ => false,
        }
    }

    /// The same route with another metric.
    pub fn with_metric(self, metric: u32) -> Route {
        Route { metric, ..self }
    }

    /// True if `addr` is inside this route's prefix (false for the other family).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.prefix, addr) {
            (IpAddr::V4(p), IpAddr::V4(a)) => mask4(u32::from(a), self.len) == u32::from(p),
            (IpAddr::V6(p), IpAddr::V6(a)) => mask6(u128::from(a), self.len) == u128::from(p),
            _ => false,
        }
    }
}

/// `ip route`-like: `local 10.0.0.1/32 port 0 scope host src 10.0.0.1 metric 0`,
/// `10.1.0.0/16 via 10.0.0.254 port 0 scope global metric 5`.
impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == RouteKind::Local {
            f.write_str("local ")?;
        }
        write!(f, "{}/{}", self.prefix, self.len)?;
        if let Some(v) = self.via {
            write!(f, " via {v}")?;
        }
        write!(f, " port {}", self.port)?;
        let scope = match self.scope {
            Scope::Host => "host",
            Scope::Link => "link",
            Scope::Global => "global",
        };
        write!(f, " scope {scope}")?;
        if let Some(s) = self.src {
            write!(f, " src {s}")?;
        }
        write!(f, " metric {}", self.metric)
    }
}

/// Why a route could not be added or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The prefix length is longer than the address.
    #[error("invalid prefix length {len} for {prefix}: at most {max}", max = max_len(*prefix))]
    BadPrefixLen {
        /// The prefix given.
        prefix: IpAddr,
        /// The length given.
        len: u8,
    },
    /// The prefix has bits set beyond its length (as `ip route`).
    #[error(
        "invalid prefix for given prefix length: {prefix}/{len} (did you mean {network}/{len}?)"
    )]
    HostBitsSet {
        /// The prefix given.
        prefix: IpAddr,
        /// The length given.
        len: u8,
        /// The prefix with its host bits cleared.
        network: IpAddr,
    },
    /// A route with the same prefix, length and metric exists.
    #[error("route exists (same prefix, length and metric)")]
    Exists,
    /// No route with that prefix, length (and metric) exists.
    #[error("no such route")]
    NotFound,
    /// The gateway or the source is not of the prefix's family.
    #[error("{addr} is not of the family of the prefix {prefix}")]
    FamilyMismatch {
        /// The route's prefix.
        prefix: IpAddr,
        /// The gateway or source address of the other family.
        addr: IpAddr,
    },
}

/// Maximum prefix length of `addr`'s family.
pub(crate) fn max_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// `addr` with every bit past its first `len` cleared: the network of `addr/len` (a length
/// past the family's keeps every bit).
#[inline]
pub fn network(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(mask4(u32::from(a), len).into()),
        IpAddr::V6(a) => IpAddr::V6(mask6(u128::from(a), len).into()),
    }
}

#[inline]
fn mask4(a: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        a & (u32::MAX << (32 - u32::from(len.min(32))))
    }
}

#[inline]
fn mask6(a: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        a & (u128::MAX << (128 - u32::from(len.min(128))))
    }
}

/// Ordering key of [`RouteTable::iter`]: family (IPv4 first), prefix, length, metric.
type Key = (bool, u128, u8, u32);

fn key_of(prefix: IpAddr, len: u8, metric: u32) -> Key {
    match prefix {
        IpAddr::V4(p) => (false, u128::from(u32::from(p)), len, metric),
        IpAddr::V6(p) => (true, u128::from(p), len, metric),
    }
}

/// A prefix key that can be masked to a length.
trait Bits: Copy + Eq + core::hash::Hash {
    const MAX_LEN: usize;
    fn masked(self, len: u8) -> Self;
}

impl Bits for u32 {
    const MAX_LEN: usize = 32;
    #[inline]
    fn masked(self, len: u8) -> u32 {
        mask4(self, len)
    }
}

impl Bits for u128 {
    const MAX_LEN: usize = 128;
    #[inline]
    fn masked(self, len: u8) -> u128 {
        mask6(self, len)
    }
}

/// One family's lookup index: a map per prefix length and the set of non-empty lengths.
#[derive(Clone)]
struct LpmIndex<K: Bits> {
    /// `maps[len]`: masked prefix → its lowest-metric route.
    maps: Vec<HashMap<K, Route, FxBuild>>,
    /// Bit `len % 64` of word `len / 64` set when `maps[len]` is not empty.
    present: [u64; 3],
}

impl<K: Bits> LpmIndex<K> {
    fn new() -> Self {
        LpmIndex {
            maps: (0..=K::MAX_LEN).map(|_| HashMap::default()).collect(),
            present: [0; 3],
        }
    }

    /// Longest-prefix match over the lengths `len` with bit `len % 64` of word `len / 64`
    /// set in `lengths`: probes the non-empty ones, longest first.
    #[inline]
    fn lookup_within(&self, addr: K, lengths: [u64; 3]) -> Option<&Route> {
        for w in (0..3).rev() {
            let mut bits = self.present[w] & lengths[w];
            while bits != 0 {
                let b = 63 - bits.leading_zeros() as usize;
                bits &= !(1u64 << b);
                let len = w * 64 + b;
                // `len <= K::MAX_LEN` by construction of `present`.
                if let Some(r) = self
                    .maps
                    .get(len)
                    .and_then(|m| m.get(&addr.masked(len as u8)))
                {
                    return Some(r);
                }
            }
        }
        None
    }

    /// Sets (or, for `None`, removes) the best route of `prefix/len`; returns whether the
    /// prefix appeared and whether it disappeared.
    fn set(&mut self, prefix: K, len: u8, best: Option<Route>) -> (bool, bool) {
        let l = usize::from(len);
        let Some(map) = self.maps.get_mut(l) else {
            return (false, false);
        };
        let had = map.contains_key(&prefix);
        let has = best.is_some();
        match best {
            Some(r) => {
                map.insert(prefix, r);
            }
            None => {
                map.remove(&prefix);
            }
        }
        if map.is_empty() {
            self.present[l / 64] &= !(1u64 << (l % 64));
        } else {
            self.present[l / 64] |= 1u64 << (l % 64);
        }
        (!had && has, had && !has)
    }

    /// True if routes of length `len` exist.
    #[inline]
    fn has_len(&self, len: usize) -> bool {
        len <= K::MAX_LEN && self.present[len / 64] & (1u64 << (len % 64)) != 0
    }

    fn clear(&mut self) {
        for m in &mut self.maps {
            m.clear();
        }
        self.present = [0; 3];
    }
}

/// No prefix of length 16 or less covers the block.
const NO_SHORT: u8 = 0xff;

/// The IPv4 index: the per-length maps plus a first level over the top 16 bits of the
/// address (a DIR-16 that stores lengths, not routes): for each /16 block, the lengths
/// longer than 16 that have a prefix inside the block, and the longest prefix of length 16
/// or less that covers the whole block. A lookup probes only the long lengths present in its
/// block (usually none or one), then at most one short prefix. 192 KiB, allocated with the
/// first IPv4 route.
#[derive(Clone)]
struct V4Index {
    lpm: LpmIndex<u32>,
    /// `long[b]`: bit `i` set when a prefix of length `17 + i` lies in block `b`.
    long: Vec<u16>,
    /// `short[b]`: the longest length ≤ 16 of a prefix covering block `b`, or [`NO_SHORT`].
    short: Vec<u8>,
    /// How many prefixes of each length > 16 each block holds.
    counts: HashMap<(u16, u8), u32, FxBuild>,
}

impl V4Index {
    fn new() -> V4Index {
        V4Index {
            lpm: LpmIndex::new(),
            long: Vec::new(),
            short: Vec::new(),
            counts: HashMap::default(),
        }
    }

    #[inline]
    fn lookup(&self, a: u32) -> Option<&Route> {
        let b = (a >> 16) as usize;
        let (Some(&long), Some(&short)) = (self.long.get(b), self.short.get(b)) else {
            return None;
        };
        let mut m = long;
        while m != 0 {
            let i = 15 - m.leading_zeros() as usize;
            m &= !(1u16 << i);
            let len = 17 + i;
            if let Some(r) = self
                .lpm
                .maps
                .get(len)
                .and_then(|map| map.get(&mask4(a, len as u8)))
            {
                return Some(r);
            }
        }
        if short == NO_SHORT {
            return None;
        }
        self.lpm
            .maps
            .get(usize::from(short))
            .and_then(|map| map.get(&mask4(a, short)))
    }

    fn set(&mut self, prefix: u32, len: u8, best: Option<Route>) {
        let (added, removed) = self.lpm.set(prefix, len, best);
        if self.short.is_empty() {
            self.long = vec![0; 1 << 16];
            self.short = vec![NO_SHORT; 1 << 16];
        }
        if len > 16 {
            let b = (prefix >> 16) as u16;
            let bit = 1u16 << (len - 17);
            if added {
                *self.counts.entry((b, len)).or_insert(0) += 1;
                self.long[usize::from(b)] |= bit;
            }
            if removed {
                let c = self.counts.entry((b, len)).or_insert(1);
                *c -= 1;
                if *c == 0 {
                    self.counts.remove(&(b, len));
                    self.long[usize::from(b)] &= !bit;
                }
            }
        } else {
            let first = (prefix >> 16) as usize;
            let blocks = first..first + (1usize << (16 - len));
            if added {
                for s in &mut self.short[blocks.clone()] {
                    if *s == NO_SHORT || *s < len {
                        *s = len;
                    }
                }
            }
            if removed {
                for b in blocks {
                    if self.short[b] == len {
                        self.short[b] = longest_covering(&self.lpm, (b as u32) << 16, len);
                    }
                }
            }
        }
    }

    fn clear(&mut self) {
        self.lpm.clear();
        self.long = Vec::new();
        self.short = Vec::new();
        self.counts.clear();
    }
}

/// The IPv6 index: the per-length maps plus, for every /32 block that holds prefixes longer
/// than 32 bits, which of those lengths it holds and the longest prefix of 32 bits or less
/// that covers it (a hash map keyed by the top 32 bits). A lookup in such a block probes its
/// long lengths, then at most one short prefix; elsewhere only the short lengths present.
#[derive(Clone)]
struct V6Index {
    lpm: LpmIndex<u128>,
    blocks: HashMap<u32, Block6, FxBuild>,
    /// How many prefixes of each length > 32 each block holds.
    counts: HashMap<(u32, u8), u32, FxBuild>,
}

/// One /32 block of [`V6Index`].
#[derive(Clone, Copy)]
struct Block6 {
    /// Bit `i % 64` of word `i / 64` set when a prefix of length `33 + i` lies in the block.
    long: [u64; 2],
    /// The longest length ≤ 32 of a prefix covering the block, or [`NO_SHORT`].
    short: u8,
}

/// Lengths 0..=32, as a [`LpmIndex::lookup_within`] mask.
const V6_SHORT_LENGTHS: [u64; 3] = [(1u64 << 33) - 1, 0, 0];

/// The longest length below `below` of a prefix in `lpm` covering the address `a`.
fn longest_covering<K: Bits>(lpm: &LpmIndex<K>, a: K, below: u8) -> u8 {
    (0..below)
        .rev()
        .find(|&l| {
            lpm.has_len(usize::from(l)) && lpm.maps[usize::from(l)].contains_key(&a.masked(l))
        })
        .unwrap_or(NO_SHORT)
}

impl V6Index {
    fn new() -> V6Index {
        V6Index {
            lpm: LpmIndex::new(),
            blocks: HashMap::default(),
            counts: HashMap::default(),
        }
    }

    #[inline]
    fn lookup(&self, a: u128) -> Option<&Route> {
        let Some(b) = self.blocks.get(&((a >> 96) as u32)) else {
            return self.lpm.lookup_within(a, V6_SHORT_LENGTHS);
        };
        for w in (0..2).rev() {
            let mut m = b.long[w];
            while m != 0 {
                let i = 63 - m.leading_zeros() as usize;
                m &= !(1u64 << i);
                let len = 33 + w * 64 + i;
                if let Some(r) = self
                    .lpm
                    .maps
                    .get(len)
                    .and_then(|map| map.get(&mask6(a, len as u8)))
                {
                    return Some(r);
                }
            }
        }
        if b.short == NO_SHORT {
            return None;
        }
        self.lpm
            .maps
            .get(usize::from(b.short))
            .and_then(|map| map.get(&mask6(a, b.short)))
    }

    fn set(&mut self, prefix: u128, len: u8, best: Option<Route>) {
        let (added, removed) = self.lpm.set(prefix, len, best);
        if len > 32 {
            let top = (prefix >> 96) as u32;
            let i = usize::from(len - 33);
            if added {
                *self.counts.entry((top, len)).or_insert(0) += 1;
                let lpm = &self.lpm;
                let b = self.blocks.entry(top).or_insert_with(|| Block6 {
                    long: [0; 2],
                    short: longest_covering(lpm, u128::from(top) << 96, 33),
                });
                b.long[i / 64] |= 1u64 << (i % 64);
            }
            if removed {
                let c = self.counts.entry((top, len)).or_insert(1);
                *c -= 1;
                if *c == 0 {
                    self.counts.remove(&(top, len));
                    if let Some(b) = self.blocks.get_mut(&top) {
                        b.long[i / 64] &= !(1u64 << (i % 64));
                        if b.long == [0; 2] {
                            self.blocks.remove(&top);
                        }
                    }
                }
            }
        } else if added || removed {
            let lpm = &self.lpm;
            for (&top, b) in self.blocks.iter_mut() {
                let a = u128::from(top) << 96;
                if mask6(a, len) != prefix {
                    continue;
                }
                if added && (b.short == NO_SHORT || b.short < len) {
                    b.short = len;
                }
                if removed && b.short == len {
                    b.short = longest_covering(lpm, a, len);
                }
            }
        }
    }

    fn clear(&mut self) {
        self.lpm.clear();
        self.blocks.clear();
        self.counts.clear();
    }
}

/// The routing table of both families. `Clone` (the control thread edits a copy and
/// publishes it in a new [`NetSnapshot`](super::NetSnapshot)).
#[derive(Clone)]
pub struct RouteTable {
    all: BTreeMap<Key, Route>,
    v4: V4Index,
    v6: V6Index,
}

impl Default for RouteTable {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|r| format!("{r}")))
            .finish()
    }
}

impl RouteTable {
    /// An empty table.
    pub fn new() -> RouteTable {
        RouteTable {
            all: BTreeMap::new(),
            v4: V4Index::new(),
            v6: V6Index::new(),
        }
    }

    fn validate(prefix: IpAddr, len: u8) -> Result<(), RouteError> {
        if len > max_len(prefix) {
            return Err(RouteError::BadPrefixLen { prefix, len });
        }
        let network = network(prefix, len);
        if network != prefix {
            return Err(RouteError::HostBitsSet {
                prefix,
                len,
                network,
            });
        }
        Ok(())
    }

    /// Adds a route. Errors: a length past the family's ([`RouteError::BadPrefixLen`]),
    /// host bits set ([`RouteError::HostBitsSet`]), a gateway or source of the other family
    /// ([`RouteError::FamilyMismatch`]), a route of the same prefix, length and metric
    /// ([`RouteError::Exists`]).
    pub fn insert(&mut self, route: Route) -> Result<(), RouteError> {
        Self::validate(route.prefix, route.len)?;
        for addr in [route.via, route.src].into_iter().flatten() {
            if addr.is_ipv4() != route.prefix.is_ipv4() {
                return Err(RouteError::FamilyMismatch {
                    prefix: route.prefix,
                    addr,
                });
            }
        }
        let key = key_of(route.prefix, route.len, route.metric);
        if self.all.contains_key(&key) {
            return Err(RouteError::Exists);
        }
        self.all.insert(key, route);
        self.reindex(route.prefix, route.len);
        Ok(())
    }

    /// Removes the route of `prefix/len` with `metric`, or with the lowest metric when
    /// `metric` is `None` (as `ip route del` without a metric), and returns it.
    pub fn remove(
        &mut self,
        prefix: IpAddr,
        len: u8,
        metric: Option<u32>,
    ) -> Result<Route, RouteError> {
        Self::validate(prefix, len)?;
        let key = match metric {
            Some(m) => key_of(prefix, len, m),
            None => {
                *self
                    .range(prefix, len)
                    .next()
                    .ok_or(RouteError::NotFound)?
                    .0
            }
        };
        let r = self.all.remove(&key).ok_or(RouteError::NotFound)?;
        self.reindex(prefix, len);
        Ok(r)
    }

    /// The route of `prefix/len` with `metric`, or the lowest-metric one for `None`.
    pub fn get(&self, prefix: IpAddr, len: u8, metric: Option<u32>) -> Option<&Route> {
        match metric {
            Some(m) => self.all.get(&key_of(prefix, len, m)),
            None => self.range(prefix, len).next().map(|(_, r)| r),
        }
    }

    fn range(&self, prefix: IpAddr, len: u8) -> impl Iterator<Item = (&Key, &Route)> {
        self.all
            .range(key_of(prefix, len, 0)..=key_of(prefix, len, u32::MAX))
    }

    fn reindex(&mut self, prefix: IpAddr, len: u8) {
        let best = self.range(prefix, len).next().map(|(_, r)| *r);
        match prefix {
            IpAddr::V4(p) => self.v4.set(u32::from(p), len, best),
            IpAddr::V6(p) => {
                self.v6.set(u128::from(p), len, best);
            }
        }
    }

    /// The route for `dst`: the longest prefix that contains it, and among routes of that
    /// prefix the lowest metric. Allocation-free; see the module docs for the probes.
    #[inline]
    pub fn lookup(&self, dst: IpAddr) -> Option<&Route> {
        match dst {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a)),
            IpAddr::V6(a) => self.v6.lookup(u128::from(a)),
        }
    }

    /// Every route, sorted by family (IPv4 first), prefix, length, metric.
    pub fn iter(&self) -> impl Iterator<Item = &Route> + '_ {
        self.all.values()
    }

    /// Number of routes (all metrics counted).
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// True if there are no routes.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Removes every route of one family (`v6`: IPv6, else IPv4).
    pub fn clear_family(&mut self, v6: bool) {
        self.all.retain(|k, _| k.0 != v6);
        if v6 {
            self.v6.clear();
        } else {
            self.v4.clear();
        }
    }

    /// What the kernel adds with an address (`ip addr add 10.0.0.1/24 dev P`): the local
    /// host route of the address and, unless the length is the full length, the on-link
    /// route of its network (an existing network route of metric 0 is kept).
    pub fn insert_addr(&mut self, addr: IpAddr, len: u8, port: u16) -> Result<(), RouteError> {
        let full = max_len(addr);
        if len > full {
            return Err(RouteError::BadPrefixLen { prefix: addr, len });
        }
        self.insert(Route::local(addr, port))?;
        if len < full {
            let net = network(addr, len);
            let r = Route {
                src: Some(addr),
                ..Route::net(net, len, port)
            };
            match self.insert(r) {
                Ok(()) | Err(RouteError::Exists) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse::<Ipv4Addr>().unwrap())
    }
    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
    }

    #[test]
    fn longest_prefix_then_lowest_metric() {
        let mut t = RouteTable::new();
        t.insert(Route::via(v4("0.0.0.0"), 0, 0, v4("10.0.0.254")))
            .unwrap();
        t.insert(Route::net(v4("10.0.0.0"), 8, 1)).unwrap();
        t.insert(Route::net(v4("10.1.0.0"), 16, 2).with_metric(10))
            .unwrap();
        t.insert(Route::net(v4("10.1.0.0"), 16, 3).with_metric(5))
            .unwrap();
        t.insert(Route::local(v4("10.1.2.3"), 2)).unwrap();
        assert_eq!(t.lookup(v4("192.0.2.1")).unwrap().port, 0);
        assert_eq!(t.lookup(v4("10.2.0.1")).unwrap().port, 1);
        assert_eq!(t.lookup(v4("10.1.9.9")).unwrap().port, 3);
        assert_eq!(t.lookup(v4("10.1.2.3")).unwrap().kind, RouteKind::Local);
        assert!(t.lookup(v6("::1")).is_none());
        // Removing the metric-5 route uncovers the metric-10 one.
        assert_eq!(t.remove(v4("10.1.0.0"), 16, None).unwrap().metric, 5);
        assert_eq!(t.lookup(v4("10.1.9.9")).unwrap().port, 2);
        assert_eq!(t.remove(v4("10.1.0.0"), 16, Some(10)).unwrap().port, 2);
        assert_eq!(t.lookup(v4("10.1.9.9")).unwrap().port, 1);
        assert_eq!(
            t.remove(v4("10.1.0.0"), 16, None),
            Err(RouteError::NotFound)
        );
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn v4_block_index() {
        // Nested short prefixes over one block, long ones inside it, removed in every order.
        let nets = [
            ("0.0.0.0", 0),
            ("10.0.0.0", 8),
            ("10.0.0.0", 15),
            ("10.1.0.0", 16),
        ];
        let long = [
            ("10.1.2.0", 24),
            ("10.1.2.128", 25),
            ("10.1.2.3", 32),
            ("10.1.255.0", 24),
        ];
        let mut t = RouteTable::new();
        for (i, (p, l)) in nets.iter().chain(&long).enumerate() {
            t.insert(Route::net(v4(p), *l, i as u16)).unwrap();
        }
        let port = |t: &RouteTable, a: &str| t.lookup(v4(a)).map(|r| r.port);
        assert_eq!(port(&t, "10.1.2.3"), Some(6));
        assert_eq!(port(&t, "10.1.2.200"), Some(5));
        assert_eq!(port(&t, "10.1.2.4"), Some(4));
        assert_eq!(port(&t, "10.1.255.1"), Some(7));
        assert_eq!(port(&t, "10.1.3.1"), Some(3));
        assert_eq!(port(&t, "10.0.9.9"), Some(2));
        assert_eq!(port(&t, "10.2.0.1"), Some(1));
        assert_eq!(port(&t, "11.0.0.1"), Some(0));
        t.remove(v4("10.1.0.0"), 16, None).unwrap();
        assert_eq!(port(&t, "10.1.3.1"), Some(2));
        t.remove(v4("10.0.0.0"), 15, None).unwrap();
        assert_eq!(port(&t, "10.1.3.1"), Some(1));
        t.remove(v4("10.1.2.0"), 24, None).unwrap();
        assert_eq!(port(&t, "10.1.2.4"), Some(1));
        assert_eq!(port(&t, "10.1.2.3"), Some(6));
        t.remove(v4("10.0.0.0"), 8, None).unwrap();
        t.remove(v4("0.0.0.0"), 0, None).unwrap();
        assert_eq!(port(&t, "10.1.3.1"), None);
        assert_eq!(port(&t, "10.1.2.130"), Some(5));
        t.clear_family(false);
        assert_eq!(port(&t, "10.1.2.3"), None);
        t.insert(Route::net(v4("10.1.2.3"), 32, 9)).unwrap();
        assert_eq!(port(&t, "10.1.2.3"), Some(9));
    }

    #[test]
    fn v6_block_index() {
        let mut t = RouteTable::new();
        t.insert(Route::net(v6("::"), 0, 0)).unwrap();
        t.insert(Route::net(v6("2001:db8::"), 48, 1)).unwrap();
        let port = |t: &RouteTable, a: &str| t.lookup(v6(a)).map(|r| r.port);
        assert_eq!(port(&t, "2001:db8::1"), Some(1));
        assert_eq!(port(&t, "2001:db8:1::1"), Some(0));
        // A short prefix added after the block exists, then removed.
        t.insert(Route::net(v6("2001:db8::"), 32, 2)).unwrap();
        t.insert(Route::net(v6("2001::"), 16, 3)).unwrap();
        assert_eq!(port(&t, "2001:db8:1::1"), Some(2));
        assert_eq!(port(&t, "2001:db9::1"), Some(3));
        t.remove(v6("2001:db8::"), 32, None).unwrap();
        assert_eq!(port(&t, "2001:db8:1::1"), Some(3));
        t.insert(Route::net(v6("2001:db8:0:1::5"), 128, 4)).unwrap();
        assert_eq!(port(&t, "2001:db8:0:1::5"), Some(4));
        t.remove(v6("2001:db8::"), 48, None).unwrap();
        assert_eq!(port(&t, "2001:db8::1"), Some(3));
        t.remove(v6("2001:db8:0:1::5"), 128, None).unwrap();
        assert_eq!(port(&t, "2001:db8:0:1::5"), Some(3));
        t.remove(v6("2001::"), 16, None).unwrap();
        assert_eq!(port(&t, "2001:db8::1"), Some(0));
    }

    #[test]
    fn ipv6_and_full_lengths() {
        let mut t = RouteTable::new();
        t.insert(Route::via(v6("::"), 0, 0, v6("fe80::1"))).unwrap();
        t.insert(Route::net(v6("2001:db8::"), 32, 1)).unwrap();
        t.insert(Route::local(v6("2001:db8::1"), 1)).unwrap();
        t.insert(Route::net(v6("2001:db8:0:1::"), 64, 2)).unwrap();
        assert_eq!(t.lookup(v6("2001:db8::1")).unwrap().len, 128);
        assert_eq!(t.lookup(v6("2001:db8::2")).unwrap().len, 32);
        assert_eq!(t.lookup(v6("2001:db8:0:1::9")).unwrap().port, 2);
        assert_eq!(t.lookup(v6("2002::1")).unwrap().via, Some(v6("fe80::1")));
        assert!(t.lookup(v4("10.0.0.1")).is_none());
        t.insert(Route::local(v4("255.255.255.255"), 0)).unwrap();
        assert_eq!(t.lookup(v4("255.255.255.255")).unwrap().len, 32);
        t.clear_family(true);
        assert!(t.lookup(v6("2001:db8::1")).is_none());
        assert_eq!(t.len(), 1);
        t.clear_family(false);
        assert!(t.is_empty() && t.lookup(v4("255.255.255.255")).is_none());
    }

    #[test]
    fn errors_name_the_route() {
        let mut t = RouteTable::new();
        let e = t.insert(Route::net(v4("10.0.0.1"), 24, 0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid prefix for given prefix length: 10.0.0.1/24 (did you mean 10.0.0.0/24?)"
        );
        let e = t.insert(Route::net(v4("10.0.0.0"), 33, 0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid prefix length 33 for 10.0.0.0: at most 32"
        );
        let e = t.insert(Route::net(v6("2001:db8::"), 129, 0)).unwrap_err();
        assert_eq!(
            e,
            RouteError::BadPrefixLen {
                prefix: v6("2001:db8::"),
                len: 129
            }
        );
        let e = t
            .insert(Route::via(v4("10.0.0.0"), 8, 0, v6("fe80::1")))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "fe80::1 is not of the family of the prefix 10.0.0.0"
        );
        t.insert(Route::net(v4("10.0.0.0"), 8, 0)).unwrap();
        assert_eq!(
            t.insert(Route::net(v4("10.0.0.0"), 8, 1)),
            Err(RouteError::Exists)
        );
        assert!(t
            .insert(Route::net(v4("10.0.0.0"), 8, 1).with_metric(1))
            .is_ok());
        assert_eq!(
            t.remove(v4("10.0.0.1"), 8, None)
                .unwrap_err()
                .to_string()
                .get(..14),
            Some("invalid prefix")
        );
        assert_eq!(
            t.remove(v4("10.0.0.0"), 8, Some(7)),
            Err(RouteError::NotFound)
        );
    }

    #[test]
    fn iter_sorted_and_display() {
        let mut t = RouteTable::new();
        t.insert_addr(v6("2001:db8::1"), 64, 1).unwrap();
        t.insert(Route::net(v4("10.0.0.0"), 8, 0).with_metric(3))
            .unwrap();
        t.insert_addr(v4("10.0.0.1"), 24, 0).unwrap();
        t.insert_addr(v4("10.0.0.2"), 24, 0).unwrap(); // network route kept
        t.insert(Route::via(v4("0.0.0.0"), 0, 0, v4("10.0.0.254")))
            .unwrap();
        let lines: Vec<String> = t.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            lines,
            [
                "0.0.0.0/0 via 10.0.0.254 port 0 scope global metric 0",
                "10.0.0.0/8 port 0 scope link metric 3",
                "10.0.0.0/24 port 0 scope link src 10.0.0.1 metric 0",
                "local 10.0.0.1/32 port 0 scope host src 10.0.0.1 metric 0",
                "local 10.0.0.2/32 port 0 scope host src 10.0.0.2 metric 0",
                "2001:db8::/64 port 1 scope link src 2001:db8::1 metric 0",
                "local 2001:db8::1/128 port 1 scope host src 2001:db8::1 metric 0",
            ]
        );
        assert!(t.get(v4("10.0.0.0"), 24, None).is_some());
        assert!(t
            .get(v4("10.0.0.0"), 8, Some(3))
            .unwrap()
            .contains(v4("10.255.0.1")));
        assert!(!t
            .get(v4("10.0.0.0"), 8, Some(3))
            .unwrap()
            .contains(v6("::")));
        assert_eq!(format!("{t:?}").matches("local").count(), 3);
    }

    /// The model: a list scanned for the longest, then lowest-metric, containing prefix.
    fn model_lookup(model: &[Route], dst: IpAddr) -> Option<Route> {
        model
            .iter()
            .filter(|r| r.contains(dst))
            .min_by_key(|r| (core::cmp::Reverse(r.len), r.metric))
            .copied()
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(bool, u32, u8, u32, u16),
        Remove(bool, u32, u8, Option<u32>),
        Lookup(bool, u32),
    }

    fn addr(v6: bool, bits: u32) -> IpAddr {
        if v6 {
            // Spread the 32 random bits over the top of the address so that short prefixes
            // overlap.
            IpAddr::V6(Ipv6Addr::from(
                u128::from(bits) << 96 | u128::from(bits & 0xff),
            ))
        } else {
            IpAddr::V4(Ipv4Addr::from(bits))
        }
    }

    fn masked(v6: bool, bits: u32, len: u8) -> (IpAddr, u8) {
        let a = addr(v6, bits);
        let len = if v6 { len.min(128) } else { len % 33 };
        (network(a, len), len)
    }

    /// Prefix lengths: all of IPv4's (taken modulo 33), IPv6's short ones and some of its
    /// longest.
    fn lens() -> impl Strategy<Value = u8> {
        prop_oneof![0u8..=40, 120u8..=128]
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few distinct address bits so that operations collide.
        let bits = prop_oneof![
            Just(0u32),
            Just(0x0a00_0000),
            Just(0x0a01_0000),
            any::<u32>().prop_map(|b| b & 0xff0f_00ff)
        ];
        prop_oneof![
            (any::<bool>(), bits.clone(), lens(), 0u32..3, any::<u16>())
                .prop_map(|(f, b, l, m, p)| Op::Insert(f, b, l, m, p)),
            (
                any::<bool>(),
                bits.clone(),
                lens(),
                proptest::option::of(0u32..3)
            )
                .prop_map(|(f, b, l, m)| Op::Remove(f, b, l, m)),
            (any::<bool>(), any::<u32>()).prop_map(|(f, b)| Op::Lookup(f, b)),
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_linear_scan(ops in proptest::collection::vec(op(), 1..120)) {
            let mut t = RouteTable::new();
            let mut model: Vec<Route> = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(f, b, l, m, p) => {
                        let (prefix, len) = masked(f, b, l);
                        let r = Route::net(prefix, len, p).with_metric(m);
                        let dup = model
                            .iter()
                            .any(|x| x.prefix == prefix && x.len == len && x.metric == m);
                        let res = t.insert(r);
                        if dup {
                            prop_assert_eq!(res, Err(RouteError::Exists));
                        } else {
                            prop_assert!(res.is_ok());
                            model.push(r);
                        }
                    }
                    Op::Remove(f, b, l, m) => {
                        let (prefix, len) = masked(f, b, l);
                        let want = model
                            .iter()
                            .enumerate()
                            .filter(|(_, x)| x.prefix == prefix && x.len == len)
                            .filter(|(_, x)| m.map_or(true, |m| x.metric == m))
                            .min_by_key(|(_, x)| x.metric)
                            .map(|(i, _)| i);
                        match want {
                            Some(i) => {
                                let r = model.remove(i);
                                prop_assert_eq!(t.remove(prefix, len, m), Ok(r));
                            }
                            None => {
                                prop_assert_eq!(t.remove(prefix, len, m), Err(RouteError::NotFound))
                            }
                        }
                    }
                    Op::Lookup(f, b) => {
                        let dst = addr(f, b);
                        prop_assert_eq!(t.lookup(dst).copied(), model_lookup(&model, dst));
                    }
                }
                prop_assert_eq!(t.len(), model.len());
            }
            // Every prefix in the model answers like the model, at its own address and one
            // past it.
            for r in model.clone() {
                prop_assert_eq!(t.lookup(r.prefix).copied(), model_lookup(&model, r.prefix));
            }
        }
    }
}
