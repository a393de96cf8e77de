//! `sed`: shortest expected delay, after `net/netfilter/ipvs/ip_vs_sed.c`.
//!
//! Like `wlc`, but the overhead is `active + 1` (the expected delay if this connection joins):
//! inactive connections are ignored and the `+ 1` makes a heavier dest win among idle ones.

use crate::dest::{Dest, DestCounters};

use super::wlc::weighted_least;

/// The `sed` scheduler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sed;

/// `ip_vs_sed_dest_overhead`.
#[inline]
pub(crate) fn sed_overhead(c: &DestCounters) -> u64 {
    c.active as u64 + 1
}

impl Sed {
    /// `ip_vs_sed_schedule`.
    #[inline]
    pub fn pick(&self, dests: &[Dest], counters: &[DestCounters]) -> Option<usize> {
        weighted_least(dests, counters, sed_overhead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;

    #[test]
    fn idle_dests_go_to_the_heaviest() {
        let d = dests(&[1, 3, 2]);
        let c = counters(&[(0, 0), (0, 0), (0, 0)]);
        // (0+1)/1 > (0+1)/3
        assert_eq!(Sed.pick(&d, &c), Some(1));
    }

    #[test]
    fn expected_delay_sequence() {
        // weights 1 and 3: the kernel fills B to 3 active before A gets one more than 0
        let d = dests(&[1, 3]);
        let mut c = counters(&[(0, 0), (0, 0)]);
        let mut got = vec![];
        for _ in 0..6 {
            let i = Sed.pick(&d, &c).unwrap();
            c[i].active += 1;
            got.push(i);
        }
        // (a+1)/w: B 1/3, B 2/3, then A 1/1 ties B 3/3 and the earlier A wins, then B thrice
        assert_eq!(got, [1, 1, 0, 1, 1, 1]);
    }

    #[test]
    fn inactive_ignored() {
        let d = dests(&[1, 1]);
        let c = counters(&[(1, 0), (0, 10_000)]);
        assert_eq!(Sed.pick(&d, &c), Some(1));
    }
}
