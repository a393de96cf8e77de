//! The kernel's rate estimator (`ip_vs_est.c` before Linux 6.2): every 2 seconds each
//! rate moves a quarter of the way towards the rate of the last interval, kept scaled
//! (connections and packets by 2^10, bytes by 2^5) and rounded when read.

use ipvs_genl::ipvs::Stats;

/// One service's or dest's estimator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Estimator {
    started: bool,
    last: [u64; 5],
    /// cps, inpps, outpps (scaled by 2^10); inbps, outbps (scaled by 2^5).
    rates: [i64; 5],
}

fn counters(s: &Stats) -> [u64; 5] {
    [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes]
}

impl Estimator {
    /// The 2-second tick (`estimation_timer`). The first tick only takes the counters as
    /// the starting point (`ip_vs_start_estimator`); counters that went down were zeroed
    /// (`ip_vs_zero_estimator`: start again from them, rates 0).
    pub fn tick(&mut self, s: &Stats) {
        let now = counters(s);
        if !self.started || now.iter().zip(&self.last).any(|(n, l)| n < l) {
            *self = Estimator { started: true, last: now, rates: [0; 5] };
            return;
        }
        for (i, (rate_est, (n, l))) in self.rates.iter_mut().zip(now.iter().zip(&self.last)).enumerate() {
            // per 2 s: packets scaled by 2^10 / 2, bytes by 2^5 / 2
            let shift = if i < 3 { 9 } else { 4 };
            let rate = ((n - l) << shift) as i64;
            *rate_est += (rate - *rate_est) >> 2;
        }
        self.last = now;
    }

    /// Writes the rates into `s` (`ip_vs_read_estimator`).
    pub fn read_into(&self, s: &mut Stats) {
        let r = |i: usize, round: i64, shift: u32| ((self.rates[i] + round) >> shift).max(0) as u64;
        s.cps = r(0, 0x1ff, 10);
        s.inpps = r(1, 0x1ff, 10);
        s.outpps = r(2, 0x1ff, 10);
        s.inbps = r(3, 0xf, 5);
        s.outbps = r(4, 0xf, 5);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(conns: u64, pkts: u64, bytes: u64) -> Stats {
        Stats { conns, inpkts: pkts, outpkts: pkts / 2, inbytes: bytes, outbytes: bytes / 2, ..Default::default() }
    }

    #[test]
    fn converges_as_the_kernel() {
        let mut e = Estimator::default();
        e.tick(&stats(0, 0, 0));
        // a steady 100 conn/s, 1000 pkt/s, 1 MB/s: the kernel's EWMA after n ticks
        let mut s = Stats::default();
        for n in 1..=100u64 {
            e.tick(&stats(200 * n, 2000 * n, 2_000_000 * n));
        }
        e.read_into(&mut s);
        assert_eq!((s.cps, s.inpps, s.outpps), (100, 1000, 500));
        assert_eq!((s.inbps, s.outbps), (1_000_000, 500_000));
        // first interval: a quarter of the way
        let mut e = Estimator::default();
        e.tick(&stats(0, 0, 0));
        e.tick(&stats(800, 0, 0));
        e.read_into(&mut s);
        assert_eq!(s.cps, 100);
    }

    #[test]
    fn zeroed_counters_restart() {
        let mut e = Estimator::default();
        e.tick(&stats(0, 0, 0));
        e.tick(&stats(800, 800, 800));
        e.tick(&stats(0, 0, 0));
        let mut s = Stats::default();
        e.read_into(&mut s);
        assert_eq!((s.cps, s.inpps, s.inbps), (0, 0, 0));
    }
}
