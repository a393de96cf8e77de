//! `nq`: never queue, after `net/netfilter/ipvs/ip_vs_nq.c`.
//!
//! The first dest without active connections (non-zero weight, not overloaded) is taken at
//! once; if every dest is busy, the `sed` choice (`(active + 1) / weight`, compared by
//! multiplication, first wins ties).

use crate::dest::{Dest, DestCounters};

use super::not_overloaded;
use super::sed::sed_overhead;
use super::wlc::product_gt;

/// The `nq` scheduler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nq;

impl Nq {
    /// `ip_vs_nq_schedule`.
    #[inline]
    pub fn pick(&self, dests: &[Dest], counters: &[DestCounters]) -> Option<usize> {
        let mut least: Option<(usize, u64, u64)> = None; // (dest, overhead, weight)
        for (i, d, c) in not_overloaded(dests, counters) {
            if d.weight <= 0 {
                continue;
            }
            if c.active == 0 {
                return Some(i);
            }
            let doh = sed_overhead(c);
            let dw = d.weight as u64;
            match least {
                Some((_, loh, lw)) if !product_gt(loh, dw, doh, lw) => {}
                _ => least = Some((i, doh, dw)),
            }
        }
        least.map(|(i, ..)| i)
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
