//! `nq`: never queue, after `net/netfilter/ipvs/ip_vs_nq.c`.
//!
//! The first dest without active connections (non-zero weight, not overloaded) is taken at
//! once; if every dest is busy, the `sed` choice (`(active + 1) / weight`, compared by
//! multiplication, first wins ties).

use crate::dest::{Dest, DestCounters};

use super::sed::sed_overhead;
use super::{counters_of, overloaded};

/// The `nq` scheduler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nq;

impl Nq {
    /// `ip_vs_nq_schedule`.
    #[inline]
    pub fn pick(&self, dests: &[Dest], counters: &[DestCounters]) -> Option<usize> {
        let mut least: Option<(usize, u128)> = None;
        for (i, d) in dests.iter().enumerate() {
            if !d.is_available() || overloaded(dests, counters, i) || d.weight <= 0 {
                continue;
            }
            let c = counters_of(counters, i);
            let doh = sed_overhead(&c) as u128;
            if c.active == 0 {
                return Some(i);
            }
            let better = match least {
                None => true,
                Some((l, loh)) => loh * d.weight as u128 > doh * dests[l].weight.max(0) as u128,
            };
            if better {
                least = Some((i, doh));
            }
        }
        least.map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;

    #[test]
    fn idle_dest_wins_even_if_light() {
        let d = dests(&[100, 1]);
        let c = counters(&[(1, 0), (0, 50)]);
        assert_eq!(Nq.pick(&d, &c), Some(1));
    }

    #[test]
    fn first_idle_in_list_order() {
        let d = dests(&[1, 5, 5]);
        let c = counters(&[(3, 0), (0, 0), (0, 0)]);
        assert_eq!(Nq.pick(&d, &c), Some(1));
    }

    #[test]
    fn all_busy_is_sed() {
        let d = dests(&[1, 3]);
        let c = counters(&[(1, 0), (4, 0)]); // 2/1 vs 5/3
        assert_eq!(Nq.pick(&d, &c), Some(1));
        let c = counters(&[(1, 0), (5, 0)]); // 2/1 == 6/3, first wins
        assert_eq!(Nq.pick(&d, &c), Some(0));
    }

    #[test]
    fn zero_weight_idle_is_not_taken() {
        let d = dests(&[0, 1]);
        let c = counters(&[(0, 0), (9, 0)]);
        assert_eq!(Nq.pick(&d, &c), Some(1));
    }
}
