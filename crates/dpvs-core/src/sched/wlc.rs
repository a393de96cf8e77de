//! `wlc`: weighted least connection, after `net/netfilter/ipvs/ip_vs_wlc.c`.
//!
//! Load is `overhead / weight`, compared without division: dest `d` replaces the current
//! `least` when `overhead(least) * weight(d) > overhead(d) * weight(least)`. The search starts
//! from the first dest with a positive weight that is not overloaded; later dests are skipped
//! only when overloaded (a zero weight can never win the strict comparison).

use crate::dest::{Dest, DestCounters};

/// The `wlc` scheduler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wlc;

impl Wlc {
    /// `ip_vs_wlc_schedule`.
    #[inline]
    pub fn pick(&self, dests: &[Dest], counters: &[DestCounters]) -> Option<usize> {
        weighted_least(dests, counters, |c| c.overhead())
    }
}

/// The weighted least-load search shared by wlc, sed, lblc and lblcr (`__ip_vs_lblc_schedule`
/// is the same loop), with the overhead function as a parameter: `least` starts at the first
/// dest with a positive weight that is not overloaded, and a later dest that is not overloaded
/// replaces it when `overhead(least) * weight(d) > overhead(d) * weight(least)`.
#[inline]
pub(crate) fn weighted_least(
    dests: &[Dest],
    counters: &[DestCounters],
    overhead: impl Fn(&DestCounters) -> u64,
) -> Option<usize> {
    let zero = DestCounters::default();
    let mut least = usize::MAX;
    let (mut loh, mut lw) = (0u64, 0u64);
    for (i, d) in dests.iter().enumerate() {
        let c = counters.get(i).unwrap_or(&zero);
        if !d.is_available() || d.is_overloaded() || c.overloaded {
            continue;
        }
        if least == usize::MAX {
            if d.weight > 0 {
                least = i;
                loh = overhead(c);
                lw = d.weight as u64;
            }
            continue;
        }
        let doh = overhead(c);
        // a zero (or invalid negative) weight can never win the strict comparison
        let dw = d.weight.max(0) as u64;
        if product_gt(loh, dw, doh, lw) {
            least = i;
            loh = doh;
            lw = dw;
        }
    }
    (least != usize::MAX).then_some(least)
}

/// `a * b > c * d` without overflow (the kernel computes it in `__s64`).
#[inline]
pub(crate) fn product_gt(a: u64, b: u64, c: u64, d: u64) -> bool {
    match (a.checked_mul(b), c.checked_mul(d)) {
        (Some(x), Some(y)) => x > y,
        _ => a as u128 * b as u128 > c as u128 * d as u128,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;

    #[test]
    fn lowest_overhead_per_weight() {
        let d = dests(&[1, 3, 2]);
        // loads: 256/1, 600/3=200, 500/2=250
        let c = counters(&[(1, 0), (2, 88), (1, 244)]);
        assert_eq!(Wlc.pick(&d, &c), Some(1));
    }

    #[test]
    fn equal_load_keeps_the_earlier_dest() {
        let d = dests(&[1, 2]);
        let c = counters(&[(1, 0), (2, 0)]); // 256/1 == 512/2
        assert_eq!(Wlc.pick(&d, &c), Some(0));
    }

    #[test]
    fn idle_service_goes_to_the_first_positive_weight() {
        let d = dests(&[0, 1, 5]);
        let c = counters(&[(0, 0), (0, 0), (0, 0)]);
        assert_eq!(Wlc.pick(&d, &c), Some(1));
    }

    #[test]
    fn zero_weight_never_wins_even_when_idle() {
        let d = dests(&[2, 0]);
        let c = counters(&[(100, 0), (0, 0)]);
        assert_eq!(Wlc.pick(&d, &c), Some(0));
    }

    #[test]
    fn overloaded_skipped_everywhere() {
        let d = dests(&[1, 1, 1]);
        let mut c = counters(&[(0, 0), (0, 1), (0, 2)]);
        c[0].overloaded = true;
        c[1].overloaded = true;
        assert_eq!(Wlc.pick(&d, &c), Some(2));
        c[2].overloaded = true;
        assert_eq!(Wlc.pick(&d, &c), None);
    }

    #[test]
    fn inactive_counts_one_256th() {
        let d = dests(&[1, 1]);
        let c = counters(&[(1, 0), (0, 255)]);
        assert_eq!(Wlc.pick(&d, &c), Some(1));
        let c = counters(&[(1, 0), (0, 256)]);
        assert_eq!(Wlc.pick(&d, &c), Some(0));
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        let d = dests(&[i32::MAX, i32::MAX - 1]);
        let c = counters(&[(u32::MAX, u32::MAX), (u32::MAX - 1, 0)]);
        assert_eq!(Wlc.pick(&d, &c), Some(1));
    }
}
