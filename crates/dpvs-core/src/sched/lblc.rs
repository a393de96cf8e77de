//! `lblc`: locality-based least connection, after `net/netfilter/ipvs/ip_vs_lblc.c`.
//!
//! A cache maps each packet destination address to a dest. A cached dest is used while it is
//! available, has a positive weight, and is not "overloaded" in lblc's own sense (more active
//! connections than its weight while some dest in the list has fewer than half its weight
//! active). Otherwise the dest is chosen as `wlc` chooses and cached. Cache entries unused for
//! `expiration` (24 h by default) are dropped by [`SchedState::expire`](super::SchedState::expire).

use std::time::Duration;

use crate::dest::{Dest, DestCounters};

use super::addr_table::{reindex, AddrTable, GONE};
use super::wlc::weighted_least;
use super::{counters_of, LocalityParams, SchedConfig, SchedInput};

/// The `lblc` scheduler (all its data is per worker).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lblc;

/// One worker's lblc cache.
#[derive(Clone, Debug)]
pub struct LblcState {
    table: AddrTable<u32>,
    expiration: Duration,
}

impl LblcState {
    /// An empty cache, preallocated to `params.capacity` entries.
    pub fn new(params: &LocalityParams) -> Self {
        LblcState {
            table: AddrTable::new(params.capacity),
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

    /// The cached dest of a destination address.
    pub fn cached(&self, addr: std::net::IpAddr) -> Option<usize> {
        let e = self.table.find(addr)?;
        Some(self.table.get(e).value as usize)
    }

    pub(crate) fn on_update(&mut self, old: &[Dest], new: &[Dest]) {
        if let Some(map) = reindex(old, new) {
            self.table.retain(
                |en| match map.get(en.value as usize).copied().unwrap_or(GONE) {
                    GONE => false,
                    j => {
                        en.value = j;
                        true
                    }
                },
                |_| {},
            );
        }
    }

    pub(crate) fn expire(&mut self, now: Duration) {
        self.table.check_expire(now, self.expiration, |_| {});
    }
}

/// lblc's and lblcr's `is_overloaded`: more active connections than weight, while some dest of
/// the list is below half its weight.
pub(crate) fn locality_overloaded(dests: &[Dest], counters: &[DestCounters], i: usize) -> bool {
    if counters_of(counters, i).active as i64 > dests[i].weight as i64 {
        return dests
            .iter()
            .enumerate()
            .filter(|(_, d)| d.is_available())
            .any(|(j, d)| (counters_of(counters, j).active as i64) * 2 < d.weight as i64);
    }
    false
}

impl Lblc {
    /// The scheduler; the configuration is not used.
    pub fn new(_config: &SchedConfig) -> Self {
        Lblc
    }

    /// `ip_vs_lblc_schedule`.
    pub fn pick(
        &self,
        st: &mut LblcState,
        dests: &[Dest],
        counters: &[DestCounters],
        input: &SchedInput,
    ) -> Option<usize> {
        let addr = input.vaddr;
        if let Some(e) = st.table.find(addr) {
            let en = st.table.get_mut(e);
            en.lastuse = input.now;
            let i = en.value as usize;
            if dests
                .get(i)
                .is_some_and(|d| d.is_available() && d.weight > 0)
                && !locality_overloaded(dests, counters, i)
            {
                return Some(i);
            }
        }
        let i = weighted_least(dests, counters, |c| c.overhead())?;
        // ip_vs_lblc_new: keep an entry that already points there, else replace it
        if let Some(e) = st.table.find(addr) {
            if st.table.get_mut(e).value as usize == i {
                return Some(i);
            }
            st.table.remove(e);
        }
        // a full cache is the kernel's allocation failure: use the dest uncached
        let _ = st.table.insert(addr, i as u32, input.now);
        Some(i)
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

    fn state() -> LblcState {
        LblcState::new(&LocalityParams::default())
    }

    #[test]
    fn sticks_to_the_cached_dest_while_it_is_not_overloaded() {
        let d = dests(&[4, 4]);
        let mut st = state();
        let mut c = counters(&[(0, 0), (0, 0)]);
        assert_eq!(Lblc.pick(&mut st, &d, &c, &to(1, 0)), Some(0));
        // wlc would now pick 1, but the cache keeps 0 until active > weight
        c[0].active = 4;
        assert_eq!(Lblc.pick(&mut st, &d, &c, &to(1, 1)), Some(0));
        assert_eq!(
            Lblc.pick(&mut st, &d, &c, &to(2, 1)),
            Some(1),
            "a new address goes by wlc"
        );
        c[0].active = 5; // 5 > 4 and dest 1 has 0 * 2 < 4
        assert_eq!(Lblc.pick(&mut st, &d, &c, &to(1, 2)), Some(1));
        assert_eq!(st.cached(to(1, 0).vaddr), Some(1));
    }

    #[test]
    fn overloaded_only_if_someone_has_room() {
        let d = dests(&[2, 2]);
        let mut st = state();
        let mut c = counters(&[(0, 0), (1, 0)]);
        assert_eq!(Lblc.pick(&mut st, &d, &c, &to(1, 0)), Some(0));
        c[0].active = 3; // over weight, but dest 1 has 1 * 2 == 2, not < 2
        assert_eq!(Lblc.pick(&mut st, &d, &c, &to(1, 0)), Some(0));
    }

    #[test]
    fn quiesced_cached_dest_is_replaced() {
        let mut d = dests(&[1, 1]);
        let mut st = state();
        assert_eq!(Lblc.pick(&mut st, &d, &[], &to(1, 0)), Some(0));
        d[0].weight = 0;
        assert_eq!(Lblc.pick(&mut st, &d, &[], &to(1, 0)), Some(1));
        d[0].weight = 1;
        assert_eq!(
            Lblc.pick(&mut st, &d, &[], &to(1, 0)),
            Some(1),
            "the cache moved"
        );
    }

    #[test]
    fn entries_expire_after_a_day_of_disuse() {
        let d = dests(&[1, 1]);
        let mut st = state();
        Lblc.pick(&mut st, &d, &[], &to(1, 0));
        Lblc.pick(&mut st, &d, &[], &to(2, 80_000));
        for k in 1..=30u64 {
            st.expire(Duration::from_secs(86_400 + k));
        }
        assert_eq!(st.len(), 1);
        assert_eq!(st.cached(to(1, 0).vaddr), None);
    }

    #[test]
    fn full_cache_still_schedules() {
        let d = dests(&[1, 1]);
        let mut st = LblcState::new(&LocalityParams {
            capacity: 1,
            ..Default::default()
        });
        assert_eq!(Lblc.pick(&mut st, &d, &[], &to(1, 0)), Some(0));
        let c = counters(&[(1, 0), (0, 0)]);
        assert_eq!(Lblc.pick(&mut st, &d, &c, &to(2, 0)), Some(1));
        assert_eq!(st.len(), 1);
    }

    #[test]
    fn update_reindexes_and_drops_deleted_dests() {
        let old = dests(&[1, 1, 1]);
        let mut st = state();
        let c = counters(&[(1, 0), (1, 0), (0, 0)]);
        assert_eq!(Lblc.pick(&mut st, &old, &c, &to(1, 0)), Some(2));
        assert_eq!(Lblc.pick(&mut st, &old, &[], &to(2, 0)), Some(0));
        let new = vec![old[2], old[1]];
        st.on_update(&old, &new);
        assert_eq!(st.cached(to(1, 0).vaddr), Some(0));
        assert_eq!(st.cached(to(2, 0).vaddr), None);
    }
}
