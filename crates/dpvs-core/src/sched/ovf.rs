//! `ovf`: weighted overflow, after `net/netfilter/ipvs/ip_vs_ovf.c`.
//!
//! The dest with the highest weight among those not overloaded whose active connections do not
//! exceed their weight; the first one in list order wins ties. When the favourite fills up
//! (active > weight), new connections overflow to the next.

use crate::dest::{Dest, DestCounters};

use super::not_overloaded;

/// The `ovf` scheduler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ovf;

impl Ovf {
    /// `ip_vs_ovf_schedule`.
    #[inline]
    pub fn pick(&self, dests: &[Dest], counters: &[DestCounters]) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut hw = 0;
        for (i, d, c) in not_overloaded(dests, counters) {
            let w = d.weight;
            if c.active as i64 > w as i64 || w <= 0 {
                continue;
            }
            if best.is_none() || w > hw {
                best = Some(i);
                hw = w;
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
    fn overflows_in_weight_order() {
        let d = dests(&[2, 3]);
        let mut c = counters(&[(0, 0), (0, 0)]);
        let mut got = vec![];
        for _ in 0..8 {
            match Ovf.pick(&d, &c) {
                Some(i) => {
                    c[i].active += 1;
                    got.push(Some(i));
                }
                None => got.push(None),
            }
        }
        // B takes 4 (active 0..=3 <= 3), then A takes 3, then none
        assert_eq!(
            got,
            [
                Some(1),
                Some(1),
                Some(1),
                Some(1),
                Some(0),
                Some(0),
                Some(0),
                None
            ]
        );
    }

    #[test]
    fn inactive_does_not_count() {
        let d = dests(&[1]);
        let c = counters(&[(1, 99)]);
        assert_eq!(Ovf.pick(&d, &c), Some(0));
    }

    #[test]
    fn first_wins_ties() {
        let d = dests(&[4, 4]);
        assert_eq!(Ovf.pick(&d, &counters(&[(0, 0), (0, 0)])), Some(0));
    }
}
