//! The neighbour table (ARP and IPv6 ND cache): IP address → MAC and port, with the states a
//! dataplane needs (Linux's NUD states reduced to four).
//!
//! The control thread owns the table: it learns what the workers report
//! ([`LocalAction::Learn`](super::LocalAction::Learn)), ages entries with
//! [`NeighTable::age`] and publishes a copy in each [`NetSnapshot`](super::NetSnapshot).
//! Lookups ([`NeighTable::get`]) are one hash probe and allocate nothing.

use core::net::IpAddr;
use std::collections::HashMap;

use dpvs_wire::EthernetAddress;

use super::{FxBuild, IpKey};

/// The state of a neighbour entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NeighState {
    /// Resolution under way, no MAC yet (not usable).
    Incomplete,
    /// Confirmed recently.
    Reachable,
    /// Not confirmed for a while; still used (Linux sends on a stale entry and re-probes).
    Stale,
    /// Configured (`ip neigh add ... permanent`): never learned over, never aged.
    Permanent,
}

/// One neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Neigh {
    /// Its IP address.
    pub addr: IpAddr,
    /// Its MAC (zero while [`NeighState::Incomplete`]).
    pub mac: EthernetAddress,
    /// The port it is on.
    pub port: u16,
    /// State.
    pub state: NeighState,
    /// When it was last learned or confirmed (the caller's milliseconds).
    pub updated_ms: u64,
}

impl Neigh {
    /// True if frames can be sent to it (a MAC is known).
    pub fn usable(&self) -> bool {
        self.state != NeighState::Incomplete
    }
}

/// What [`NeighTable::learn_outcome`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Learned {
    /// A new entry.
    New,
    /// An entry whose MAC, port or usability changed.
    Changed,
    /// The same MAC and port, refreshed (a stale entry becomes reachable again).
    Refreshed,
    /// A permanent entry, left alone.
    Permanent,
    /// A multicast or all-zero MAC, ignored.
    Ignored,
}

/// The neighbour table. `Clone`, `Send + Sync`.
#[derive(Clone, Debug, Default)]
pub struct NeighTable {
    map: HashMap<IpKey, Neigh, FxBuild>,
}

impl NeighTable {
    /// An empty table.
    pub fn new() -> NeighTable {
        NeighTable::default()
    }

    /// Records that `addr` is at `mac` on `port` (state reachable, updated now). Never
    /// overwrites a permanent entry; a multicast or all-zero MAC is ignored.
    pub fn learn(&mut self, addr: IpAddr, mac: EthernetAddress, port: u16, now_ms: u64) {
        self.learn_outcome(addr, mac, port, now_ms);
    }

    /// [`learn`](Self::learn), saying what changed (the control thread republishes its
    /// snapshot only for [`Learned::New`] and [`Learned::Changed`]).
    pub fn learn_outcome(
        &mut self,
        addr: IpAddr,
        mac: EthernetAddress,
        port: u16,
        now_ms: u64,
    ) -> Learned {
        if mac.is_multicast() || mac == EthernetAddress([0; 6]) {
            return Learned::Ignored;
        }
        let fresh = Neigh {
            addr,
            mac,
            port,
            state: NeighState::Reachable,
            updated_ms: now_ms,
        };
        match self.map.get_mut(&IpKey::from(addr)) {
            Some(n) if n.state == NeighState::Permanent => Learned::Permanent,
            Some(n) => {
                let same = n.mac == mac && n.port == port && n.usable();
                *n = fresh;
                if same {
                    Learned::Refreshed
                } else {
                    Learned::Changed
                }
            }
            None => {
                self.map.insert(IpKey::from(addr), fresh);
                Learned::New
            }
        }
    }

    /// Adds or replaces a permanent entry.
    pub fn insert_permanent(&mut self, addr: IpAddr, mac: EthernetAddress, port: u16) {
        let n = Neigh {
            addr,
            mac,
            port,
            state: NeighState::Permanent,
            updated_ms: 0,
        };
        self.map.insert(IpKey::from(addr), n);
    }

    /// Records that resolution of `addr` on `port` started (an incomplete entry), unless an
    /// entry exists. Returns true if it added one.
    pub fn insert_incomplete(&mut self, addr: IpAddr, port: u16, now_ms: u64) -> bool {
        let k = IpKey::from(addr);
        if self.map.contains_key(&k) {
            return false;
        }
        let n = Neigh {
            addr,
            mac: EthernetAddress([0; 6]),
            port,
            state: NeighState::Incomplete,
            updated_ms: now_ms,
        };
        self.map.insert(k, n);
        true
    }

    /// Removes an entry (permanent ones too).
    pub fn remove(&mut self, addr: IpAddr) -> Option<Neigh> {
        self.map.remove(&IpKey::from(addr))
    }

    /// The entry of `addr`, whatever its state.
    #[inline]
    pub fn get(&self, addr: IpAddr) -> Option<&Neigh> {
        self.map.get(&IpKey::from(addr))
    }

    /// Every entry, sorted by address (IPv4 first).
    pub fn iter(&self) -> impl Iterator<Item = &Neigh> + '_ {
        let mut v: Vec<&Neigh> = self.map.values().collect();
        v.sort_by_key(|n| n.addr);
        v.into_iter()
    }

    /// Reachable entries not confirmed for `reachable_ms` or more become stale. Returns how
    /// many changed.
    pub fn age(&mut self, now_ms: u64, reachable_ms: u64) -> usize {
        let mut n = 0;
        for e in self.map.values_mut() {
            if e.state == NeighState::Reachable
                && now_ms.saturating_sub(e.updated_ms) >= reachable_ms
            {
                e.state = NeighState::Stale;
                n += 1;
            }
        }
        n
    }

    /// Removes stale and incomplete entries not updated for `max_idle_ms` or more (Linux's
    /// garbage collection of `gc_stale_time`). Returns how many went.
    pub fn gc(&mut self, now_ms: u64, max_idle_ms: u64) -> usize {
        let before = self.map.len();
        self.map.retain(|_, e| {
            !matches!(e.state, NeighState::Stale | NeighState::Incomplete)
                || now_ms.saturating_sub(e.updated_ms) < max_idle_ms
        });
        before - self.map.len()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    const A: EthernetAddress = EthernetAddress([0x52, 0x54, 0, 0, 0, 1]);
    const B: EthernetAddress = EthernetAddress([0x52, 0x54, 0, 0, 0, 2]);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn learn_age_and_permanent() {
        let mut t = NeighTable::new();
        assert_eq!(t.learn_outcome(ip("10.0.0.1"), A, 0, 100), Learned::New);
        assert_eq!(
            t.learn_outcome(ip("10.0.0.1"), A, 0, 200),
            Learned::Refreshed
        );
        assert_eq!(t.get(ip("10.0.0.1")).unwrap().updated_ms, 200);
        assert_eq!(t.age(30_199, 30_000), 0);
        assert_eq!(t.age(30_200, 30_000), 1);
        assert_eq!(t.get(ip("10.0.0.1")).unwrap().state, NeighState::Stale);
        assert_eq!(
            t.learn_outcome(ip("10.0.0.1"), A, 0, 40_000),
            Learned::Refreshed
        ); // stale -> reachable
        assert_eq!(t.get(ip("10.0.0.1")).unwrap().state, NeighState::Reachable);
        assert_eq!(
            t.learn_outcome(ip("10.0.0.1"), B, 0, 40_000),
            Learned::Changed
        );
        t.insert_permanent(ip("10.0.0.2"), A, 1);
        t.learn(ip("10.0.0.2"), B, 0, 1);
        let p = t.get(ip("10.0.0.2")).unwrap();
        assert_eq!((p.mac, p.port, p.state), (A, 1, NeighState::Permanent));
        assert_eq!(t.age(u64::MAX, 0), 1);
        assert_eq!(t.get(ip("10.0.0.2")).unwrap().state, NeighState::Permanent);
        assert_eq!(
            t.learn_outcome(ip("10.0.0.3"), EthernetAddress::BROADCAST, 0, 1),
            Learned::Ignored
        );
        assert_eq!(
            t.learn_outcome(ip("10.0.0.3"), EthernetAddress([0; 6]), 0, 1),
            Learned::Ignored
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t.remove(ip("10.0.0.2")).unwrap().mac, A);
        assert!(t.get(ip("10.0.0.2")).is_none());
    }

    #[test]
    fn incomplete_gc_and_order() {
        let mut t = NeighTable::new();
        assert!(t.insert_incomplete(ip("2001:db8::1"), 1, 0));
        assert!(!t.get(ip("2001:db8::1")).unwrap().usable());
        assert!(!t.insert_incomplete(ip("2001:db8::1"), 1, 0));
        assert_eq!(
            t.learn_outcome(ip("2001:db8::1"), A, 1, 5),
            Learned::Changed
        );
        t.learn(ip("10.0.0.9"), B, 0, 0);
        t.learn(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), B, 0, 0);
        t.insert_permanent(IpAddr::V6(Ipv6Addr::LOCALHOST), A, 0);
        let order: Vec<IpAddr> = t.iter().map(|n| n.addr).collect();
        assert_eq!(
            order,
            [ip("10.0.0.1"), ip("10.0.0.9"), ip("::1"), ip("2001:db8::1")]
        );
        t.age(10, 1);
        assert!(t.insert_incomplete(ip("10.0.0.5"), 0, 10));
        assert_eq!(t.gc(11, 5), 3); // the three stale entries idle since 0 or 5
        assert_eq!(t.gc(20, 5), 1); // the incomplete one
        assert_eq!(t.len(), 1);
        assert!(!t.is_empty());
    }
}
