//! `lc`: least connection, after `net/netfilter/ipvs/ip_vs_lc.c`.
//!
//! The dest with the smallest overhead (`active * 256 + inactive`) among those with a non-zero
//! weight that are not overloaded; the first one in list order wins ties. Weights are otherwise
//! ignored.

use crate::dest::{Dest, DestCounters};

use super::not_overloaded;

/// The `lc` scheduler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lc;

impl Lc {
    /// `ip_vs_lc_schedule`.
    #[inline]
    pub fn pick(&self, dests: &[Dest], counters: &[DestCounters]) -> Option<usize> {
        let mut least: Option<(usize, u64)> = None;
        for (i, d, c) in not_overloaded(dests, counters) {
            if d.weight <= 0 {
                continue;
            }
            let doh = c.overhead();
            match least {
                Some((_, loh)) if doh >= loh => {}
                _ => least = Some((i, doh)),
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
    fn fewest_connections_wins_regardless_of_weight() {
        let d = dests(&[100, 1, 1]);
        // overheads: 2*256+0=512, 1*256+300=556, 2*256+1=513
        let c = counters(&[(2, 0), (1, 300), (2, 1)]);
        assert_eq!(Lc.pick(&d, &c), Some(0));
    }

    #[test]
    fn first_wins_ties_and_zero_weight_skipped() {
        let d = dests(&[0, 1, 1]);
        let c = counters(&[(0, 0), (1, 0), (1, 0)]);
        assert_eq!(Lc.pick(&d, &c), Some(1));
    }

    #[test]
    fn overloaded_skipped_and_none() {
        let d = dests(&[1, 1]);
        let mut c = counters(&[(0, 0), (5, 0)]);
        c[0].overloaded = true;
        assert_eq!(Lc.pick(&d, &c), Some(1));
        c[1].overloaded = true;
        assert_eq!(Lc.pick(&d, &c), None);
    }
}
