//! `wrr`: weighted round robin, after `net/netfilter/ipvs/ip_vs_wrr.c`.
//!
//! The immutable part holds `di`, the gcd of the positive weights, and `mw`, the maximum weight
//! minus `di - 1`. A worker's state holds the cursor `cl` and the current weight `cw`. Each
//! pass over the list takes the dests whose weight is at least `cw`; between passes `cw` drops
//! by `di`, and below 1 it starts again at `mw`. The kernel's last-pass and `stop` logic is kept,
//! so that a list whose dests are all overloaded ends in `None` after one full check with
//! `cw == 1`, and the cursor is left where the kernel leaves it.

use crate::dest::{Dest, DestCounters};

use super::hashing::gcd;
use super::overloaded;

/// The `wrr` scheduler's precomputed weights.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wrr {
    /// Decreasing interval: gcd of the positive weights (1 if none).
    di: i32,
    /// Maximum weight minus `di - 1`.
    mw: i32,
}

/// One worker's `wrr` cursor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WrrState {
    /// The last dest picked; `None` is the list head.
    cl: Option<usize>,
    /// The current weight.
    cw: i32,
}

impl WrrState {
    /// The last dest picked, if any.
    pub fn cursor(&self) -> Option<usize> {
        self.cl
    }
    /// The current weight.
    pub fn current_weight(&self) -> i32 {
        self.cw
    }
}

impl Wrr {
    /// `ip_vs_wrr_gcd_weight` and `ip_vs_wrr_max_weight` over the dests in the list.
    pub fn new(dests: &[Dest]) -> Self {
        let mut g = 0u32;
        let mut max = 0i32;
        for d in dests.iter().filter(|d| d.is_available()) {
            if d.weight > 0 {
                g = if g > 0 {
                    gcd(d.weight as u32, g)
                } else {
                    d.weight as u32
                };
            }
            max = max.max(d.weight);
        }
        let di = if g == 0 { 1 } else { g as i32 };
        Wrr {
            di,
            mw: max - (di - 1),
        }
    }

    /// The gcd step.
    pub fn step(&self) -> i32 {
        self.di
    }

    /// The starting current weight.
    pub fn max_weight(&self) -> i32 {
        self.mw
    }

    /// A fresh cursor at the list head (`start == 0`) or just before dest `start`.
    pub fn new_state(&self, start: usize) -> WrrState {
        WrrState {
            cl: start.checked_sub(1),
            cw: self.mw,
        }
    }

    /// `ip_vs_wrr_dest_changed`: restart from the list head, keeping `cw` on the new grid.
    pub(crate) fn on_update(&self, st: &mut WrrState) {
        st.cl = None;
        if st.cw > self.mw || st.cw == 0 {
            st.cw = self.mw;
        } else if self.di > 1 {
            st.cw = (st.cw / self.di) * self.di + 1;
        }
    }

    /// `ip_vs_wrr_schedule`.
    pub fn pick(
        &self,
        st: &mut WrrState,
        dests: &[Dest],
        counters: &[DestCounters],
    ) -> Option<usize> {
        let n = dests.len();
        let mut dest = st.cl.filter(|c| *c < n);
        // the kernel tests `mw == 0`; `<= 0` also covers invalid negative weights
        if self.mw <= 0 {
            st.cl = dest;
            return None;
        }
        let last = dest;
        let mut stop: Option<usize> = None;
        let mut last_pass = false;
        let mut restarted = false;
        loop {
            let from = dest.map_or(0, |c| c + 1);
            for i in from..n {
                let d = &dests[i];
                if d.is_available() && !overloaded(dests, counters, i) && d.weight >= st.cw {
                    st.cl = Some(i);
                    return Some(i);
                }
                if stop == Some(i) {
                    st.cl = Some(i);
                    return None;
                }
            }
            dest = None;
            st.cw -= self.di;
            if st.cw <= 0 {
                st.cw = self.mw;
                if last_pass || last.is_none() {
                    st.cl = None;
                    return None;
                }
                restarted = true;
            }
            last_pass = st.cw <= self.di;
            if last_pass && restarted && last.is_some() {
                stop = last;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dest::DestFlags;
    use crate::sched::testutil::*;

    fn seq(w: &[i32], n: usize) -> Vec<usize> {
        let d = dests(w);
        let s = Wrr::new(&d);
        let mut st = s.new_state(0);
        (0..n).map(|_| s.pick(&mut st, &d, &[]).unwrap()).collect()
    }

    #[test]
    fn weights_4_3_2_kernel_sequence() {
        // cw=4: A | cw=3: A B | cw=2: A B C | cw=1: A B C | then again
        assert_eq!(
            seq(&[4, 3, 2], 18),
            [0, 0, 1, 0, 1, 2, 0, 1, 2, 0, 0, 1, 0, 1, 2, 0, 1, 2]
        );
    }

    /// Vectors from a C transcription of `ip_vs_wrr_schedule` on a circular list: 40 picks with
    /// dest `i` overloaded at step `t` when `(7t + 3i) mod 5 == 0`, and every dest overloaded
    /// at steps 30..33; each step records (pick, cursor, current weight), -1 for none/head.
    #[test]
    fn matches_the_kernel_algorithm() {
        type Case = (&'static [i32], [(i32, i32, i32); 40]);
        let cases: [Case; 3] = [
            (
                &[4, 3, 2],
                [
                    (1, 1, 3),
                    (0, 0, 2),
                    (1, 1, 2),
                    (2, 2, 2),
                    (0, 0, 1),
                    (1, 1, 1),
                    (2, 2, 1),
                    (0, 0, 4),
                    (0, 0, 3),
                    (1, 1, 3),
                    (1, 1, 2),
                    (2, 2, 2),
                    (0, 0, 1),
                    (1, 1, 1),
                    (2, 2, 1),
                    (1, 1, 3),
                    (0, 0, 2),
                    (1, 1, 2),
                    (2, 2, 2),
                    (0, 0, 1),
                    (1, 1, 1),
                    (2, 2, 1),
                    (0, 0, 4),
                    (0, 0, 3),
                    (1, 1, 3),
                    (1, 1, 2),
                    (2, 2, 2),
                    (0, 0, 1),
                    (1, 1, 1),
                    (2, 2, 1),
                    (-1, 2, 1),
                    (-1, 2, 1),
                    (-1, 2, 1),
                    (0, 0, 4),
                    (0, 0, 3),
                    (1, 1, 3),
                    (0, 0, 2),
                    (1, 1, 2),
                    (2, 2, 2),
                    (0, 0, 1),
                ],
            ),
            (
                &[6, 0, 4, 2],
                [
                    (2, 2, 3),
                    (0, 0, 1),
                    (3, 3, 1),
                    (0, 0, 5),
                    (0, 0, 3),
                    (2, 2, 3),
                    (0, 0, 1),
                    (3, 3, 1),
                    (0, 0, 5),
                    (0, 0, 3),
                    (2, 2, 3),
                    (0, 0, 1),
                    (3, 3, 1),
                    (0, 0, 5),
                    (0, 0, 3),
                    (2, 2, 3),
                    (0, 0, 1),
                    (3, 3, 1),
                    (0, 0, 5),
                    (0, 0, 3),
                    (2, 2, 3),
                    (0, 0, 1),
                    (3, 3, 1),
                    (0, 0, 5),
                    (0, 0, 3),
                    (2, 2, 3),
                    (0, 0, 1),
                    (3, 3, 1),
                    (0, 0, 5),
                    (0, 0, 3),
                    (-1, -1, 5),
                    (-1, -1, 5),
                    (-1, -1, 5),
                    (0, 0, 5),
                    (0, 0, 3),
                    (2, 2, 3),
                    (0, 0, 1),
                    (3, 3, 1),
                    (0, 0, 5),
                    (0, 0, 3),
                ],
            ),
            (
                &[1, 1],
                [
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (-1, 1, 1),
                    (-1, 1, 1),
                    (-1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                    (0, 0, 1),
                    (1, 1, 1),
                ],
            ),
        ];
        for (weights, steps) in cases {
            let mut d = dests(weights);
            let s = Wrr::new(&d);
            let mut st = s.new_state(0);
            for (t, want) in steps.iter().enumerate() {
                for (i, di) in d.iter_mut().enumerate() {
                    let over = (t * 7 + i * 3) % 5 == 0 || (30..33).contains(&t);
                    di.flags.set(DestFlags::OVERLOADED, over);
                }
                let got = s.pick(&mut st, &d, &[]).map_or(-1, |i| i as i32);
                let cur = st.cursor().map_or(-1, |i| i as i32);
                assert_eq!(
                    (got, cur, st.current_weight()),
                    *want,
                    "{weights:?} step {t}"
                );
            }
        }
    }

    #[test]
    fn gcd_steps_weights_4_2_6() {
        // di = 2, mw = 6 - 1 = 5: cw=5: C | cw=3: A C | cw=1: A B C
        let d = dests(&[4, 2, 6]);
        let s = Wrr::new(&d);
        assert_eq!((s.step(), s.max_weight()), (2, 5));
        assert_eq!(seq(&[4, 2, 6], 12), [2, 0, 2, 0, 1, 2, 2, 0, 2, 0, 1, 2]);
    }

    #[test]
    fn equal_weights_are_round_robin() {
        assert_eq!(seq(&[3, 3, 3], 6), [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn zero_weight_never_picked() {
        let s = seq(&[2, 0, 1], 30);
        assert!(!s.contains(&1));
        assert_eq!(s.iter().filter(|x| **x == 0).count(), 20);
    }

    #[test]
    fn negative_weights_are_never_picked() {
        let d = dests(&[-3, -1]);
        let s = Wrr::new(&d);
        let mut st = s.new_state(0);
        assert_eq!(s.pick(&mut st, &d, &[]), None);
    }

    #[test]
    fn all_zero_is_none() {
        let d = dests(&[0, 0]);
        let s = Wrr::new(&d);
        let mut st = s.new_state(0);
        assert_eq!(s.pick(&mut st, &d, &[]), None);
    }

    #[test]
    fn overloaded_skipped_then_all_overloaded_is_none() {
        let mut d = dests(&[4, 3, 2]);
        let s = Wrr::new(&d);
        let mut st = s.new_state(0);
        d[0].flags.set(DestFlags::OVERLOADED, true);
        // cw=4: nobody; cw=3: B
        assert_eq!(s.pick(&mut st, &d, &[]), Some(1));
        assert_eq!(st.current_weight(), 3);
        d[1].flags.set(DestFlags::OVERLOADED, true);
        d[2].flags.set(DestFlags::OVERLOADED, true);
        assert_eq!(s.pick(&mut st, &d, &[]), None);
        // the kernel gives up at the list head after a full pass with cw = 1
        assert_eq!(st.cursor(), None);
        assert_eq!(st.current_weight(), 4);
        d[2].flags.set(DestFlags::OVERLOADED, false);
        assert_eq!(s.pick(&mut st, &d, &[]), Some(2));
    }

    #[test]
    fn a_dest_below_di_is_still_reachable() {
        // weights changed under a stale table: di = 2 computed from 4, 2; now B has weight 1
        let mut d = dests(&[4, 2]);
        let s = Wrr::new(&d);
        d[0].flags.set(DestFlags::OVERLOADED, true);
        d[1].weight = 1;
        let mut st = s.new_state(0);
        assert_eq!(s.pick(&mut st, &d, &[]), Some(1), "last pass uses cw = 1");
    }

    #[test]
    fn dest_changed_adjusts_cw_like_the_kernel() {
        let d = dests(&[6, 4]);
        let s = Wrr::new(&d); // di 2, mw 5
        let mut st = s.new_state(0);
        s.pick(&mut st, &d, &[]);
        st.cw = 3;
        st.cl = Some(1);
        s.on_update(&mut st);
        assert_eq!((st.cursor(), st.current_weight()), (None, 3));
        let s2 = Wrr::new(&dests(&[9, 3])); // di 3, mw 7
        st.cw = 5;
        s2.on_update(&mut st);
        assert_eq!(st.current_weight(), 4); // (5 / 3) * 3 + 1
        st.cw = 8;
        s2.on_update(&mut st);
        assert_eq!(st.current_weight(), 7);
    }

    #[test]
    fn proportional_over_a_cycle() {
        let w = [5, 1, 3, 7];
        let s = seq(&w, 16 * 10);
        for (i, wi) in w.iter().enumerate() {
            assert_eq!(s.iter().filter(|x| **x == i).count(), *wi as usize * 10);
        }
    }
}
