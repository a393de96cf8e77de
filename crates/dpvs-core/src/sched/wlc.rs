//! `wlc`: weighted least connection, after `net/netfilter/ipvs/ip_vs_wlc.c`.
//!
//! Load is `overhead / weight`, compared without division: dest `d` replaces the current
//! `least` when `overhead(least) * weight(d) > overhead(d) * weight(least)`. The search starts
//! from the first dest with a positive weight that is not overloaded; later dests are skipped
//! only when overloaded (a zero weight can never win the strict comparison).

use crate::dest::{Dest, DestCounters};

use super::{counters_of, overloaded};

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
/// is the same loop), with the overhead function as a parameter.
#[inline]
pub(crate) fn weighted_least(
    dests: &[Dest],
    counters: &[DestCounters],
    overhead: impl Fn(&DestCounters) -> u64,
) -> Option<usize> {
    let mut it = dests.iter().enumerate().filter(|(_, d)| d.is_available());
    let (mut least, mut loh) = loop {
        let (i, d) = it.next()?;
        if !overloaded(dests, counters, i) && d.weight > 0 {
            break (i, overhead(&counters_of(counters, i)) as u128);
        }
    };
    for (i, d) in it {
        if overloaded(dests, counters, i) {
            continue;
        }
        let doh = overhead(&counters_of(counters, i)) as u128;
        // weights are compared as the kernel's (__s64) products; negative weights never win
        let dw = d.weight.max(0) as u128;
        let lw = dests[least].weight.max(0) as u128;
        if loh * dw > doh * lw {
            least = i;
            loh = doh;
        }
    }
    Some(least)
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
