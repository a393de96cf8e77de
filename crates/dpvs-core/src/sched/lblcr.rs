//! `lblcr`: locality-based least connection with replication, after
//! `net/netfilter/ipvs/ip_vs_lblcr.c`.
//!
//! A cache maps each packet destination address to a *set* of dests. A pick takes the set's
//! weighted least-loaded member (available, positive weight, not overloaded); if there is none,
//! or it is overloaded in lblc's sense, the `wlc` choice over the whole list is added to the
//! set and used. A set with more than one member that has not changed for `expiration` sheds
//! its most loaded member. Sets are lists with the newest member first, as in the kernel, since
//! the order decides ties.

use std::time::Duration;

use crate::dest::{Dest, DestCounters};

use super::addr_table::{reindex, AddrTable, GONE};
use super::lblc::locality_overloaded;
use super::wlc::weighted_least;
use super::{counters_of, overloaded, LocalityParams, SchedConfig, SchedInput};

const NIL: u32 = u32::MAX;

/// The `lblcr` scheduler (all its data is per worker).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lblcr;

/// A dest set (`struct ip_vs_dest_set`): a list in the element pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DestSet {
    head: u32,
    size: u32,
    lastmod: Duration,
}

impl Default for DestSet {
    fn default() -> Self {
        DestSet {
            head: NIL,
            size: 0,
            lastmod: Duration::ZERO,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Elem {
    dest: u32,
    next: u32,
}

/// Preallocated set elements with a free list.
#[derive(Clone, Debug)]
struct ElemPool {
    elems: Box<[Elem]>,
    free: u32,
}

impl ElemPool {
    fn new(capacity: usize) -> Self {
        let capacity = capacity.min(NIL as usize - 1);
        let elems = (0..capacity)
            .map(|i| Elem {
                dest: 0,
                next: if i + 1 < capacity {
                    (i + 1) as u32
                } else {
                    NIL
                },
            })
            .collect();
        ElemPool {
            elems,
            free: if capacity > 0 { 0 } else { NIL },
        }
    }

    fn iter(&self, set: &DestSet) -> impl Iterator<Item = usize> + '_ {
        let mut e = set.head;
        std::iter::from_fn(move || {
            if e == NIL {
                return None;
            }
            let el = self.elems[e as usize];
            e = el.next;
            Some(el.dest as usize)
        })
    }

    /// `ip_vs_dest_set_insert`; a full pool is the kernel's allocation failure (nothing added).
    fn insert(&mut self, set: &mut DestSet, dest: usize, check: bool, now: Duration) {
        if check && self.iter(set).any(|d| d == dest) {
            return;
        }
        if self.free == NIL {
            return;
        }
        let e = self.free;
        self.free = self.elems[e as usize].next;
        self.elems[e as usize] = Elem {
            dest: dest as u32,
            next: set.head,
        };
        set.head = e;
        set.size += 1;
        set.lastmod = now;
    }

    /// `ip_vs_dest_set_erase`.
    fn erase(&mut self, set: &mut DestSet, dest: usize, now: Duration) {
        let mut prev = NIL;
        let mut e = set.head;
        while e != NIL {
            let el = self.elems[e as usize];
            if el.dest as usize == dest {
                if prev == NIL {
                    set.head = el.next;
                } else {
                    self.elems[prev as usize].next = el.next;
                }
                self.elems[e as usize].next = self.free;
                self.free = e;
                set.size -= 1;
                set.lastmod = now;
                return;
            }
            prev = e;
            e = el.next;
        }
    }

    /// Frees every element of a set.
    fn free_all(&mut self, set: DestSet) {
        let mut e = set.head;
        while e != NIL {
            let next = self.elems[e as usize].next;
            self.elems[e as usize].next = self.free;
            self.free = e;
            e = next;
        }
    }

    /// Renumbers a set's members after a dest-list change, dropping dests that left the list.
    fn reindex(&mut self, set: &mut DestSet, map: &[u32]) {
        let mut prev = NIL;
        let mut e = set.head;
        while e != NIL {
            let el = self.elems[e as usize];
            match map.get(el.dest as usize).copied().unwrap_or(GONE) {
                GONE => {
                    if prev == NIL {
                        set.head = el.next;
                    } else {
                        self.elems[prev as usize].next = el.next;
                    }
                    self.elems[e as usize].next = self.free;
                    self.free = e;
                    set.size -= 1;
                }
                j => {
                    self.elems[e as usize].dest = j;
                    prev = e;
                }
            }
            e = el.next;
        }
    }
}

/// One worker's lblcr cache.
#[derive(Clone, Debug)]
pub struct LblcrState {
    table: AddrTable<DestSet>,
    pool: ElemPool,
    expiration: Duration,
}

impl LblcrState {
    /// An empty cache, preallocated to `params.capacity` entries and `params.set_capacity`
    /// set elements.
    pub fn new(params: &LocalityParams) -> Self {
        LblcrState {
            table: AddrTable::new(params.capacity),
            pool: ElemPool::new(params.set_capacity),
            expiration: params.expiration,
        }
    }

    /// Cached destination addresses.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// The dest set of a destination address, newest member first.
    pub fn cached(&self, addr: std::net::IpAddr) -> Option<Vec<usize>> {
        let e = self.table.find(addr)?;
        Some(self.pool.iter(&self.table.get(e).value).collect())
    }

    pub(crate) fn on_update(&mut self, old: &[Dest], new: &[Dest]) {
        if let Some(map) = reindex(old, new) {
            let pool = &mut self.pool;
            self.table.retain(
                |en| {
                    pool.reindex(&mut en.value, &map);
                    true
                },
                |_| {},
            );
        }
    }

    pub(crate) fn expire(&mut self, now: Duration) {
        let pool = &mut self.pool;
        self.table
            .check_expire(now, self.expiration, |set| pool.free_all(set));
    }

    /// `ip_vs_dest_set_min`.
    fn set_min(&self, set: &DestSet, dests: &[Dest], counters: &[DestCounters]) -> Option<usize> {
        let mut it = self.pool.iter(set).filter(|i| *i < dests.len());
        let (mut least, mut loh) = loop {
            let i = it.next()?;
            if overloaded(dests, counters, i) {
                continue;
            }
            if dests[i].weight > 0 && dests[i].is_available() {
                break (i, counters_of(counters, i).overhead() as u128);
            }
        };
        for i in it {
            if overloaded(dests, counters, i) {
                continue;
            }
            let doh = counters_of(counters, i).overhead() as u128;
            if loh * dests[i].weight.max(0) as u128 > doh * dests[least].weight.max(0) as u128
                && dests[i].is_available()
            {
                least = i;
                loh = doh;
            }
        }
        Some(least)
    }

    /// `ip_vs_dest_set_max`.
    fn set_max(&self, set: &DestSet, dests: &[Dest], counters: &[DestCounters]) -> Option<usize> {
        let mut it = self.pool.iter(set).filter(|i| *i < dests.len());
        let (mut most, mut moh) = loop {
            let i = it.next()?;
            if dests[i].weight > 0 {
                break (i, counters_of(counters, i).overhead() as u128);
            }
        };
        for i in it {
            let doh = counters_of(counters, i).overhead() as u128;
            let w = dests[i].weight;
            if moh * (w.max(0) as u128) < doh * dests[most].weight as u128 && w > 0 {
                most = i;
                moh = doh;
            }
        }
        Some(most)
    }
}

impl Lblcr {
    /// The scheduler; the configuration is not used.
    pub fn new(_config: &SchedConfig) -> Self {
        Lblcr
    }

    /// `ip_vs_lblcr_schedule`.
    pub fn pick(
        &self,
        st: &mut LblcrState,
        dests: &[Dest],
        counters: &[DestCounters],
        input: &SchedInput,
    ) -> Option<usize> {
        let now = input.now;
        if let Some(e) = st.table.find(input.vaddr) {
            st.table.get_mut(e).lastuse = now;
            let mut set = st.table.get(e).value;
            let dest = st.set_min(&set, dests, counters);
            if set.size > 1 && now > set.lastmod + st.expiration {
                if let Some(m) = st.set_max(&set, dests, counters) {
                    st.pool.erase(&mut set, m, now);
                }
            }
            st.table.get_mut(e).value = set;
            if let Some(d) = dest {
                if !locality_overloaded(dests, counters, d) {
                    return Some(d);
                }
            }
            let d = weighted_least(dests, counters, |c| c.overhead())?;
            st.pool.insert(&mut set, d, true, now);
            st.table.get_mut(e).value = set;
            return Some(d);
        }
        let d = weighted_least(dests, counters, |c| c.overhead())?;
        let mut set = DestSet::default();
        st.pool.insert(&mut set, d, false, now);
        if st.table.insert(input.vaddr, set, now).is_none() {
            st.pool.free_all(set);
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn to(v: u8, now_s: u64) -> SchedInput {
        SchedInput {
            vaddr: IpAddr::V4(Ipv4Addr::new(198, 18, 0, v)),
            now: Duration::from_secs(now_s),
            ..any_input()
        }
    }

    fn state() -> LblcrState {
        LblcrState::new(&LocalityParams {
            expiration: Duration::from_secs(100),
            ..Default::default()
        })
    }

    /// Vectors from a C transcription of `ip_vs_lblc_schedule` and `ip_vs_lblcr_schedule`
    /// (with the kernel's dest-set list operations): weights 3, 1, 4, 2; at step `t` dest `i`
    /// has `(3t + 5i) mod 7` active and `(t + i) mod 4` inactive connections, dest 2 is
    /// overloaded when `t mod 11 == 0`, dest 1 is quiesced for `60 <= t < 80`; the destination
    /// address is 198.18.0.`(7t mod 5)` and the time `10t` seconds; lblcr's expiration is 100 s.
    #[test]
    fn lblc_and_lblcr_match_the_kernel_algorithm() {
        let lblc_want: [i32; 120] = [
            0, 0, 3, 1, 2, 0, 2, 3, 1, 2, 0, 2, 3, 2, 2, 0, 2, 1, 2, 2, 2, 2, 1, 2, 1, 2, 2, 2, 2,
            1, 2, 1, 2, 2, 2, 2, 1, 2, 1, 2, 2, 2, 2, 1, 2, 1, 2, 2, 2, 2, 1, 2, 1, 2, 2, 0, 2, 1,
            2, 1, 2, 2, 2, 2, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 1, 2,
            1, 2, 2, 2, 2, 1, 2, 1, 2, 2, 2, 2, 1, 2, 1, 2, 2, 2, 2, 1, 2, 1, 2, 2, 2, 2, 1, 2, 1,
            2, 2, 2, 2,
        ];
        let lblcr_want: [i32; 120] = [
            0, 0, 3, 1, 2, 0, 2, 3, 1, 2, 0, 0, 3, 2, 2, 0, 2, 1, 2, 2, 2, 0, 1, 2, 1, 2, 0, 2, 2,
            1, 2, 0, 2, 0, 2, 0, 0, 3, 0, 2, 0, 2, 3, 0, 3, 0, 2, 2, 2, 3, 0, 2, 1, 2, 2, 0, 0, 1,
            2, 1, 2, 0, 2, 2, 2, 2, 0, 2, 2, 2, 0, 0, 2, 2, 2, 0, 2, 0, 2, 3, 0, 2, 0, 2, 3, 0, 2,
            1, 0, 3, 2, 0, 0, 2, 1, 2, 0, 2, 0, 1, 2, 0, 2, 0, 2, 0, 0, 2, 0, 2, 0, 2, 0, 0, 2, 0,
            2, 0, 2, 2,
        ];
        let sets_want: [&[usize]; 5] = [&[0], &[2, 0], &[2, 0], &[2], &[2, 0]];
        let base = dests(&[3, 1, 4, 2]);
        let params = LocalityParams {
            expiration: Duration::from_secs(100),
            ..Default::default()
        };
        let step = |t: usize| {
            let mut d = base.clone();
            let mut c = counters(&[(0, 0); 4]);
            for (i, ci) in c.iter_mut().enumerate() {
                ci.active = ((t * 3 + i * 5) % 7) as u32;
                ci.inactive = ((t + i) % 4) as u32;
            }
            c[2].overloaded = t % 11 == 0;
            if (60..80).contains(&t) {
                d[1].weight = 0;
            }
            let inp = SchedInput {
                vaddr: IpAddr::V4(Ipv4Addr::new(198, 18, 0, ((t * 7) % 5) as u8)),
                now: Duration::from_secs(t as u64 * 10),
                ..any_input()
            };
            (d, c, inp)
        };
        let mut st = crate::sched::lblc::LblcState::new(&params);
        for (t, want) in lblc_want.iter().enumerate() {
            let (d, c, inp) = step(t);
            let got = crate::sched::lblc::Lblc
                .pick(&mut st, &d, &c, &inp)
                .map_or(-1, |i| i as i32);
            assert_eq!(got, *want, "lblc step {t}");
        }
        let mut st = LblcrState::new(&params);
        for (t, want) in lblcr_want.iter().enumerate() {
            let (d, c, inp) = step(t);
            assert_eq!(
                Lblcr.pick(&mut st, &d, &c, &inp).map_or(-1, |i| i as i32),
                *want,
                "lblcr step {t}"
            );
        }
        for (k, want) in sets_want.iter().enumerate() {
            let got = st
                .cached(IpAddr::V4(Ipv4Addr::new(198, 18, 0, k as u8)))
                .unwrap();
            assert_eq!(got, *want, "set of 198.18.0.{k}");
        }
    }

    #[test]
    fn replicates_when_the_member_is_overloaded() {
        let d = dests(&[2, 2, 2]);
        let mut st = state();
        let mut c = counters(&[(0, 0), (0, 0), (0, 0)]);
        assert_eq!(Lblcr.pick(&mut st, &d, &c, &to(1, 0)), Some(0));
        c[0].active = 3; // > weight 2, and others have room
        assert_eq!(Lblcr.pick(&mut st, &d, &c, &to(1, 1)), Some(1));
        assert_eq!(st.cached(to(1, 0).vaddr), Some(vec![1, 0]));
        // now the least loaded member of {1, 0} is 1
        c[1].active = 1;
        assert_eq!(Lblcr.pick(&mut st, &d, &c, &to(1, 2)), Some(1));
        // both members over weight: dest 2 joins
        c[1].active = 3;
        assert_eq!(Lblcr.pick(&mut st, &d, &c, &to(1, 3)), Some(2));
        assert_eq!(st.cached(to(1, 0).vaddr), Some(vec![2, 1, 0]));
    }

    #[test]
    fn old_sets_shed_their_most_loaded_member() {
        let d = dests(&[2, 2]);
        let mut st = state();
        let mut c = counters(&[(0, 0), (0, 0)]);
        Lblcr.pick(&mut st, &d, &c, &to(1, 0));
        c[0].active = 3;
        assert_eq!(Lblcr.pick(&mut st, &d, &c, &to(1, 10)), Some(1)); // lastmod 10
        c[1].active = 1;
        // 110 is not after 10 + 100
        assert_eq!(Lblcr.pick(&mut st, &d, &c, &to(1, 110)), Some(1));
        assert_eq!(st.cached(to(1, 0).vaddr).unwrap().len(), 2);
        // at 111 the most loaded member (0: 768/2 vs 256/2) goes; the least loaded is used
        assert_eq!(Lblcr.pick(&mut st, &d, &c, &to(1, 111)), Some(1));
        assert_eq!(st.cached(to(1, 0).vaddr), Some(vec![1]));
    }

    #[test]
    fn unavailable_members_are_skipped() {
        let mut d = dests(&[1, 1]);
        let mut st = state();
        assert_eq!(Lblcr.pick(&mut st, &d, &[], &to(1, 0)), Some(0));
        d[0].weight = 0;
        assert_eq!(Lblcr.pick(&mut st, &d, &[], &to(1, 0)), Some(1));
        assert_eq!(st.cached(to(1, 0).vaddr), Some(vec![1, 0]));
        d[0].weight = 1;
        // {1, 0}: equal load keeps the first member
        assert_eq!(Lblcr.pick(&mut st, &d, &[], &to(1, 0)), Some(1));
    }

    #[test]
    fn expiry_frees_sets() {
        let d = dests(&[1]);
        let mut st = LblcrState::new(&LocalityParams {
            capacity: 4,
            set_capacity: 1,
            ..Default::default()
        });
        Lblcr.pick(&mut st, &d, &[], &to(1, 0));
        // no element left: like the kernel after a failed kmalloc, the entry has an empty set
        assert_eq!(Lblcr.pick(&mut st, &d, &[], &to(2, 0)), Some(0));
        assert_eq!(st.len(), 2);
        assert_eq!(st.cached(to(2, 0).vaddr), Some(vec![]));
        for k in 1..=30 {
            st.expire(Duration::from_secs(86_400 + k));
        }
        assert!(st.is_empty());
        Lblcr.pick(&mut st, &d, &[], &to(2, 90_000));
        assert_eq!(
            st.cached(to(2, 0).vaddr),
            Some(vec![0]),
            "the element was freed and reused"
        );
    }

    #[test]
    fn update_drops_deleted_members() {
        let old = dests(&[2, 2, 2]);
        let mut st = state();
        let mut c = counters(&[(0, 0), (0, 0), (0, 0)]);
        Lblcr.pick(&mut st, &old, &c, &to(1, 0));
        c[0].active = 3;
        Lblcr.pick(&mut st, &old, &c, &to(1, 0));
        assert_eq!(st.cached(to(1, 0).vaddr), Some(vec![1, 0]));
        let new = vec![old[2], old[0]];
        st.on_update(&old, &new);
        assert_eq!(st.cached(to(1, 0).vaddr), Some(vec![1]));
    }
}
