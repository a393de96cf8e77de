//! `fo`: weighted failover, after `net/netfilter/ipvs/ip_vs_fo.c`.
//!
//! The dest with the highest weight that is not overloaded; the first one in list order wins
//! ties. Connection counts are ignored.

use crate::dest::{Dest, DestCounters};

use super::not_overloaded;

/// The `fo` scheduler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fo;

impl Fo {
    /// `ip_vs_fo_schedule`.
    #[inline]
    pub fn pick(&self, dests: &[Dest], counters: &[DestCounters]) -> Option<usize> {
        let mut best = None;
        let mut hw = 0;
        for (i, d, _) in not_overloaded(dests, counters) {
            if d.weight > hw {
                best = Some(i);
                hw = d.weight;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;

    #[test]
    fn highest_weight_first_on_ties() {
        let d = dests(&[2, 5, 5, 1]);
        let c = counters(&[(0, 0), (1000, 0), (0, 0), (0, 0)]);
        assert_eq!(Fo.pick(&d, &c), Some(1));
    }

    #[test]
    fn fails_over_when_overloaded() {
        let d = dests(&[2, 5, 3]);
        let mut c = counters(&[(0, 0), (0, 0), (0, 0)]);
        c[1].overloaded = true;
        assert_eq!(Fo.pick(&d, &c), Some(2));
        c[2].overloaded = true;
        assert_eq!(Fo.pick(&d, &c), Some(0));
    }

    #[test]
    fn zero_weights_none() {
        assert_eq!(Fo.pick(&dests(&[0, 0]), &[]), None);
    }
}
