//! `rr`: round robin, after `net/netfilter/ipvs/ip_vs_rr.c`.
//!
//! The cursor remembers the last dest picked; the next pick examines the dests after it, wraps
//! to the head of the list and examines the ones up to and including it. A dest is taken if its
//! weight is positive and it is not overloaded.

use crate::dest::{Dest, DestCounters};

use super::overloaded;

/// The `rr` scheduler (no precomputed data).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rr;

/// One worker's `rr` cursor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RrState {
    /// The last dest picked; `None` is the list head (nothing picked yet).
    cursor: Option<usize>,
}

impl RrState {
    /// A cursor whose first pick examines dest `start` first (`0`: the kernel's start at the
    /// list head).
    pub fn new(start: usize) -> Self {
        RrState {
            cursor: start.checked_sub(1),
        }
    }

    /// The last dest picked, if any.
    pub fn cursor(&self) -> Option<usize> {
        self.cursor
    }

    /// Keeps the cursor on the same dest in the new list; if that dest was deleted, moves it to
    /// the dest before it (`ip_vs_rr_del_dest`), or the head.
    pub(crate) fn on_update(&mut self, old: &[Dest], new: &[Dest]) {
        let Some(c) = self.cursor else { return };
        let find = |d: &Dest| {
            new.iter()
                .position(|n| n.is_available() && n.key() == d.key())
        };
        if c >= old.len() {
            self.cursor = None;
            return;
        }
        for i in (0..=c).rev() {
            if let Some(j) = find(&old[i]) {
                self.cursor = Some(j);
                return;
            }
        }
        self.cursor = None;
    }
}

impl Rr {
    /// `ip_vs_rr_schedule`.
    #[inline]
    pub fn pick(
        &self,
        st: &mut RrState,
        dests: &[Dest],
        counters: &[DestCounters],
    ) -> Option<usize> {
        let n = dests.len();
        let cur = st.cursor.filter(|c| *c < n);
        let ok = |i: usize| {
            let d = &dests[i];
            d.is_available() && d.weight > 0 && !overloaded(dests, counters, i)
        };
        let after = cur.map_or(0, |c| c + 1);
        let wrap = cur.map_or(0..0, |c| 0..c + 1);
        for i in (after..n).chain(wrap) {
            if ok(i) {
                st.cursor = Some(i);
                return Some(i);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dest::DestFlags;
    use crate::sched::testutil::*;

    fn seq(w: &[i32], start: usize, n: usize) -> Vec<Option<usize>> {
        let d = dests(w);
        let mut st = RrState::new(start);
        (0..n).map(|_| Rr.pick(&mut st, &d, &[])).collect()
    }

    #[test]
    fn cycles_in_list_order() {
        assert_eq!(seq(&[1, 1, 1], 0, 7), [0, 1, 2, 0, 1, 2, 0].map(Some));
    }

    #[test]
    fn weight_is_ignored_except_zero() {
        assert_eq!(seq(&[5, 0, 1], 0, 5), [0, 2, 0, 2, 0].map(Some));
    }

    #[test]
    fn start_offsets_the_sequence() {
        assert_eq!(seq(&[1, 1, 1], 2, 4), [2, 0, 1, 2].map(Some));
    }

    #[test]
    fn overloaded_skipped_and_all_out_is_none() {
        let mut d = dests(&[1, 1, 1]);
        d[1].flags.set(DestFlags::OVERLOADED, true);
        let mut c = counters(&[(0, 0), (0, 0), (0, 0)]);
        c[2].overloaded = true;
        let mut st = RrState::default();
        assert_eq!(Rr.pick(&mut st, &d, &c), Some(0));
        assert_eq!(Rr.pick(&mut st, &d, &c), Some(0));
        c[0].overloaded = true;
        assert_eq!(Rr.pick(&mut st, &d, &c), None);
        assert_eq!(st.cursor(), Some(0), "a failed pick leaves the cursor");
    }

    #[test]
    fn continues_after_last_pick_when_dests_change_weight() {
        let mut d = dests(&[1, 1, 1, 1]);
        let mut st = RrState::default();
        assert_eq!(Rr.pick(&mut st, &d, &[]), Some(0));
        assert_eq!(Rr.pick(&mut st, &d, &[]), Some(1));
        d[2].weight = 0;
        assert_eq!(Rr.pick(&mut st, &d, &[]), Some(3));
        assert_eq!(Rr.pick(&mut st, &d, &[]), Some(0));
    }

    #[test]
    fn deleting_the_cursor_dest_moves_to_its_predecessor() {
        let old = dests(&[1, 1, 1, 1]);
        let mut st = RrState::default();
        for _ in 0..3 {
            Rr.pick(&mut st, &old, &[]);
        }
        assert_eq!(st.cursor(), Some(2));
        let new: Vec<Dest> = old
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, d)| d)
            .collect();
        st.on_update(&old, &new);
        assert_eq!(st.cursor(), Some(1));
        // the kernel continues with the dest that followed the deleted one
        assert_eq!(Rr.pick(&mut st, &new, &[]), Some(2));
        assert_eq!(new[2].key(), old[3].key());
    }

    #[test]
    fn adding_at_head_keeps_the_cursor_on_the_same_dest() {
        let old = dests(&[1, 1, 1]);
        let mut st = RrState::default();
        Rr.pick(&mut st, &old, &[]);
        Rr.pick(&mut st, &old, &[]);
        let mut new = dests(&[1, 1, 1, 1]);
        new.rotate_right(1); // the new dest 10.0.0.4 is at the head, as the kernel inserts it
        st.on_update(&old, &new);
        assert_eq!(new[st.cursor().unwrap()].key(), old[1].key());
    }

    #[test]
    fn unavailable_dest_is_not_in_the_list() {
        let mut d = dests(&[1, 1]);
        d[0].flags.set(DestFlags::AVAILABLE, false);
        assert_eq!(seq_with(&d, 3), [1, 1, 1].map(Some));
    }

    fn seq_with(d: &[Dest], n: usize) -> Vec<Option<usize>> {
        let mut st = RrState::default();
        (0..n).map(|_| Rr.pick(&mut st, d, &[])).collect()
    }
}
