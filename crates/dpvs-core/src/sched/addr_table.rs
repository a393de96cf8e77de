//! The locality cache of lblc/lblcr: destination address -> value, with the kernel's
//! 1024-bucket hash (`hash_32(fold(addr), 10)`), `lastuse` times and garbage collection
//! (`ip_vs_lblc_check_expire` / `ip_vs_lblc_full_check`), in a slab preallocated at creation so
//! that inserting on the packet path never allocates.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::hashing::{fold_own, hash_32};

const TAB_BITS: u32 = 10;
const TAB_SIZE: usize = 1 << TAB_BITS;
const TAB_MASK: usize = TAB_SIZE - 1;
/// The kernel's `max_size`: garbage collection starts above this many entries.
pub(crate) const MAX_SIZE: usize = TAB_SIZE * 16;
/// `ENTRY_TIMEOUT`: what the partial collection considers stale.
const ENTRY_TIMEOUT: Duration = Duration::from_secs(6 * 60);
/// `COUNT_FOR_FULL_EXPIRATION`: every 30th check is a full one.
const COUNT_FOR_FULL_EXPIRATION: u32 = 30;
const NIL: u32 = u32::MAX;

/// One cache entry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry<V> {
    pub(crate) addr: IpAddr,
    pub(crate) value: V,
    pub(crate) lastuse: Duration,
    next: u32,
}

/// The cache.
#[derive(Clone, Debug)]
pub(crate) struct AddrTable<V> {
    buckets: Box<[u32]>,
    slab: Box<[Entry<V>]>,
    free: u32,
    entries: usize,
    max_size: usize,
    rover: usize,
    counter: u32,
}

impl<V: Copy + Default> AddrTable<V> {
    /// A table holding at most `capacity` entries.
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.min(NIL as usize - 1);
        let slab: Box<[Entry<V>]> = (0..capacity)
            .map(|i| Entry {
                addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                value: V::default(),
                lastuse: Duration::ZERO,
                next: if i + 1 < capacity {
                    (i + 1) as u32
                } else {
                    NIL
                },
            })
            .collect();
        AddrTable {
            buckets: vec![NIL; TAB_SIZE].into_boxed_slice(),
            free: if capacity > 0 { 0 } else { NIL },
            slab,
            entries: 0,
            max_size: MAX_SIZE.min(capacity / 2),
            rover: 0,
            counter: 1,
        }
    }

    #[inline]
    fn bucket(addr: IpAddr) -> usize {
        hash_32(fold_own(addr), TAB_BITS) as usize
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    /// The slot of `addr`'s entry.
    #[inline]
    pub(crate) fn find(&self, addr: IpAddr) -> Option<u32> {
        let mut e = self.buckets[Self::bucket(addr)];
        while e != NIL {
            let en = &self.slab[e as usize];
            if en.addr == addr {
                return Some(e);
            }
            e = en.next;
        }
        None
    }

    /// The entry in slot `e`.
    #[inline]
    pub(crate) fn get(&self, e: u32) -> &Entry<V> {
        &self.slab[e as usize]
    }

    /// The entry in slot `e`, mutable.
    #[inline]
    pub(crate) fn get_mut(&mut self, e: u32) -> &mut Entry<V> {
        &mut self.slab[e as usize]
    }

    /// Adds an entry at the head of its bucket; `None` when the table is full (the kernel's
    /// `kmalloc` failure).
    pub(crate) fn insert(&mut self, addr: IpAddr, value: V, now: Duration) -> Option<u32> {
        if self.free == NIL {
            return None;
        }
        let e = self.free;
        let b = Self::bucket(addr);
        let en = &mut self.slab[e as usize];
        self.free = en.next;
        *en = Entry {
            addr,
            value,
            lastuse: now,
            next: self.buckets[b],
        };
        self.buckets[b] = e;
        self.entries += 1;
        Some(e)
    }

    /// Removes the entry in slot `e`, returning its value.
    pub(crate) fn remove(&mut self, e: u32) -> V {
        let b = Self::bucket(self.slab[e as usize].addr);
        let mut link = self.buckets[b];
        if link == e {
            self.buckets[b] = self.slab[e as usize].next;
        } else {
            while link != NIL {
                let next = self.slab[link as usize].next;
                if next == e {
                    self.slab[link as usize].next = self.slab[e as usize].next;
                    break;
                }
                link = next;
            }
        }
        let en = &mut self.slab[e as usize];
        let v = en.value;
        en.next = self.free;
        self.free = e;
        self.entries -= 1;
        v
    }

    /// Removes every entry of bucket `b` for which `stale` holds; returns how many.
    fn sweep_bucket(
        &mut self,
        b: usize,
        stale: impl Fn(&Entry<V>) -> bool,
        on_remove: &mut impl FnMut(V),
    ) -> usize {
        let mut removed = 0;
        let mut e = self.buckets[b];
        while e != NIL {
            let next = self.slab[e as usize].next;
            if stale(&self.slab[e as usize]) {
                let v = self.remove(e);
                on_remove(v);
                removed += 1;
            }
            e = next;
        }
        removed
    }

    /// `ip_vs_lblc_check_expire`, run every 60 seconds.
    pub(crate) fn check_expire(
        &mut self,
        now: Duration,
        expiration: Duration,
        mut on_remove: impl FnMut(V),
    ) {
        if self.counter % COUNT_FOR_FULL_EXPIRATION == 0 {
            // full check: drop what has not been used for `expiration`
            let mut j = self.rover;
            for _ in 0..TAB_SIZE {
                j = (j + 1) & TAB_MASK;
                self.sweep_bucket(j, |en| now >= en.lastuse + expiration, &mut on_remove);
            }
            self.rover = j;
            self.counter = 1;
            return;
        }
        if self.entries <= self.max_size {
            self.counter += 1;
            return;
        }
        let mut goal = ((self.entries - self.max_size) * 4 / 3).min(self.max_size / 2) as i64;
        let mut j = self.rover;
        for _ in 0..TAB_SIZE {
            j = (j + 1) & TAB_MASK;
            goal -=
                self.sweep_bucket(j, |en| now >= en.lastuse + ENTRY_TIMEOUT, &mut on_remove) as i64;
            if goal <= 0 {
                break;
            }
        }
        self.rover = j;
    }

    /// Visits every entry; `f` returns `false` to remove it.
    pub(crate) fn retain(
        &mut self,
        mut f: impl FnMut(&mut Entry<V>) -> bool,
        mut on_remove: impl FnMut(V),
    ) {
        for b in 0..TAB_SIZE {
            let mut e = self.buckets[b];
            while e != NIL {
                let next = self.slab[e as usize].next;
                if !f(&mut self.slab[e as usize]) {
                    let v = self.remove(e);
                    on_remove(v);
                }
                e = next;
            }
        }
    }
}

/// Maps old dest indices to new ones by identity (address, port, still in the list); `None`
/// when nothing changed.
pub(crate) fn reindex(old: &[crate::dest::Dest], new: &[crate::dest::Dest]) -> Option<Vec<u32>> {
    let same = old.len() == new.len()
        && old
            .iter()
            .zip(new)
            .all(|(a, b)| a.key() == b.key() && a.is_available() == b.is_available());
    if same {
        return None;
    }
    Some(
        old.iter()
            .map(|d| {
                new.iter()
                    .position(|n| n.is_available() && n.key() == d.key())
                    .map_or(NIL, |j| j as u32)
            })
            .collect(),
    )
}

/// The "no dest" marker of [`reindex`].
pub(crate) const GONE: u32 = NIL;

#[cfg(test)]
mod tests {
    use super::*;

    fn a(x: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(x))
    }

    #[test]
    fn insert_find_remove_and_full() {
        let mut t: AddrTable<u32> = AddrTable::new(3);
        let s = Duration::from_secs(1);
        let e1 = t.insert(a(1), 10, s).unwrap();
        let e2 = t.insert(a(2), 20, s).unwrap();
        let _e3 = t.insert(a(1 + (1 << 22)), 30, s).unwrap();
        assert_eq!(t.insert(a(4), 40, s), None, "full");
        assert_eq!(t.find(a(2)), Some(e2));
        assert_eq!(t.get_mut(e1).value, 10);
        assert_eq!(t.remove(e1), 10);
        assert_eq!(t.find(a(1)), None);
        assert_eq!(t.get_mut(t.find(a(1 + (1 << 22))).unwrap()).value, 30);
        assert!(t.insert(a(4), 40, s).is_some());
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn every_thirtieth_check_is_full() {
        let mut t: AddrTable<u32> = AddrTable::new(100);
        let day = Duration::from_secs(86_400);
        t.insert(a(1), 1, Duration::ZERO).unwrap();
        t.insert(a(2), 2, day).unwrap();
        let now = day + Duration::from_secs(1);
        let mut gone = vec![];
        for _ in 0..29 {
            t.check_expire(now, day, |v| gone.push(v));
        }
        assert!(gone.is_empty(), "partial checks only run above max_size");
        t.check_expire(now, day, |v| gone.push(v));
        assert_eq!(gone, [1]);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn partial_check_trims_stale_entries_above_max_size() {
        let mut t: AddrTable<u32> = AddrTable::new(40); // max_size 20
        for i in 0..30 {
            t.insert(a(i), i, Duration::ZERO).unwrap();
        }
        t.check_expire(
            Duration::from_secs(360),
            Duration::from_secs(86_400),
            |_| {},
        );
        // goal (30 - 20) * 4 / 3 = 13, capped at 10; whole buckets are swept
        assert!(t.len() <= 20, "{}", t.len());
    }
}
