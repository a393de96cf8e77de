//! `twos`: power of two choices, after `net/netfilter/ipvs/ip_vs_twos.c`.
//!
//! Two dests are drawn at random, each with probability proportional to its weight (a random
//! number in `[0, total_weight]` walked down the list), and the one with the lower
//! `overhead / weight` wins; on a tie the first draw wins. The kernel draws with
//! `get_random_u32_below`; here each worker has a seeded generator (SplitMix64) in its state,
//! and [`Twos::select`] takes the two draws directly so they can be fixed in tests.

use crate::dest::{Dest, DestCounters};

use super::not_overloaded;

/// The `twos` scheduler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Twos;

/// One worker's random generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TwosState {
    s: u64,
}

impl TwosState {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        TwosState { s: seed }
    }

    /// SplitMix64.
    fn next_u64(&mut self) -> u64 {
        self.s = self.s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)`.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

impl Twos {
    /// `ip_vs_twos_schedule`.
    #[inline]
    pub fn pick(
        &self,
        st: &mut TwosState,
        dests: &[Dest],
        counters: &[DestCounters],
    ) -> Option<usize> {
        let total: u64 = not_overloaded(dests, counters)
            .filter(|(_, d, _)| d.weight > 0)
            .map(|(_, d, _)| d.weight as u64)
            .sum();
        if total == 0 {
            return None;
        }
        // inclusive of total_weight, as the kernel's `total_weight + 1`
        let r1 = st.below(total + 1);
        let r2 = st.below(total + 1);
        self.select(dests, counters, r1, r2)
    }

    /// The kernel's selection given the two random weights `r1`, `r2` in `[0, total_weight]`.
    pub fn select(
        &self,
        dests: &[Dest],
        counters: &[DestCounters],
        r1: u64,
        r2: u64,
    ) -> Option<usize> {
        let (mut rw1, mut rw2) = (r1 as i128, r2 as i128);
        let mut c1: Option<(usize, u128, u128)> = None; // (dest, weight, overhead)
        let mut c2: Option<(usize, u128, u128)> = None;
        let mut last = None;
        for (i, d, c) in not_overloaded(dests, counters) {
            if d.weight <= 0 {
                continue;
            }
            last = Some(i);
            let w = d.weight as i128;
            rw1 -= w;
            rw2 -= w;
            let oh = c.overhead() as u128;
            if rw1 <= 0 && c1.is_none() {
                c1 = Some((i, w as u128, oh));
            }
            if rw2 <= 0 && c2.is_none() {
                c2 = Some((i, w as u128, oh));
            }
            if c1.is_some() && c2.is_some() {
                break;
            }
        }
        match (c1, c2) {
            (Some((d1, w1, oh1)), Some((d2, w2, oh2))) => {
                Some(if w2 * oh1 > w1 * oh2 { d2 } else { d1 })
            }
            (Some((d1, ..)), None) => Some(d1),
            // draws beyond the total (not produced by `pick`): the kernel's initial choice1,
            // the last eligible dest
            (None, _) => last,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;

    #[test]
    fn draws_walk_the_weights() {
        let d = dests(&[1, 2, 3]);
        let c = counters(&[(0, 0), (0, 0), (0, 0)]);
        // r = 0 and 1 land on dest 0, 2..=3 on dest 1, 4..=6 on dest 2; equal load: first draw
        for (r, want) in [(0, 0), (1, 0), (2, 1), (3, 1), (4, 2), (6, 2)] {
            assert_eq!(Twos.select(&d, &c, r, r), Some(want), "r={r}");
        }
        assert_eq!(Twos.select(&d, &c, 4, 0), Some(2));
    }

    #[test]
    fn less_loaded_of_the_two_wins() {
        let d = dests(&[1, 2, 3]);
        let c = counters(&[(1, 0), (0, 0), (4, 0)]);
        // dest 2: 1024/3 vs dest 0: 256/1 -> dest 0
        assert_eq!(Twos.select(&d, &c, 5, 0), Some(0));
        assert_eq!(Twos.select(&d, &c, 0, 5), Some(0));
        // dest 1 idle beats dest 2
        assert_eq!(Twos.select(&d, &c, 5, 3), Some(1));
    }

    #[test]
    fn skips_zero_weight_and_overloaded() {
        let d = dests(&[0, 2, 2]);
        let mut c = counters(&[(0, 0), (0, 0), (0, 0)]);
        c[1].overloaded = true;
        let mut st = TwosState::new(7);
        for _ in 0..100 {
            assert_eq!(Twos.pick(&mut st, &d, &c), Some(2));
        }
        c[2].overloaded = true;
        assert_eq!(Twos.pick(&mut st, &d, &c), None);
    }

    #[test]
    fn seeded_picks_are_deterministic_and_weighted() {
        let d = dests(&[1, 3]);
        let c = counters(&[(0, 0), (0, 0)]);
        let mut a = TwosState::new(42);
        let mut b = TwosState::new(42);
        let mut n = [0usize; 2];
        for _ in 0..40_000 {
            let x = Twos.pick(&mut a, &d, &c).unwrap();
            assert_eq!(Some(x), Twos.pick(&mut b, &d, &c));
            n[x] += 1;
        }
        // with equal load the first draw decides: r in [0, 4], dest 0 for r <= 1 -> 2/5
        let share = n[0] as f64 / 40_000.0;
        assert!((share - 0.4).abs() < 0.02, "{share}");
    }

    #[test]
    fn balances_load_over_time() {
        let d = dests(&[1, 1, 1, 1]);
        let mut c = counters(&[(0, 0); 4]);
        let mut st = TwosState::new(1);
        for _ in 0..4000 {
            let i = Twos.pick(&mut st, &d, &c).unwrap();
            c[i].active += 1;
        }
        let max = c.iter().map(|x| x.active).max().unwrap();
        let min = c.iter().map(|x| x.active).min().unwrap();
        assert!(max - min < 40, "{c:?}");
    }
}
