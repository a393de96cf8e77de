//! The expiry timer wheel, threaded through the table's entries.
//!
//! A single wheel of `2^k` slots with a coarse tick of `2^tick_shift` ms. Each entry is on
//! one doubly linked slot list (links inside the entry), filed under the tick of its deadline
//! rounded up. Re-arming on every packet (the kernel's `mod_timer` in `ip_vs_conn_put`) only
//! writes the new deadline into the entry when it is later than the tick the entry is filed
//! under: the entry is re-filed lazily when its slot comes up. An earlier deadline (a state
//! change to a shorter timeout) moves the entry at once, in O(1). A deadline further than one
//! turn of the wheel is filed modulo the wheel and re-filed when visited early, once per turn.
//! So an entry costs O(1) amortised per packet and per turn, and `pop_due` never hands out
//! an entry before its deadline and at most one tick after it.
//!
//! Ticks are `u32` and compared with wrapping arithmetic, so deadlines must stay within
//! 2^31 ticks (over four years at 64 ms).

use super::{ConnRef, ConnTable, F_ARMED, F_PENDING, NIL};

/// `a` is before `b` (wrapping).
#[inline]
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl ConnTable {
    /// The wheel tick of `now_ms`.
    #[inline]
    pub fn tick_of(&self, now_ms: u64) -> u32 {
        (now_ms >> self.tick_shift) as u32
    }

    /// The tick at which an entry armed at `now_ms` with `timeout_ms` is due (rounded up).
    #[inline]
    fn deadline(&self, now_ms: u64, timeout_ms: u32) -> u32 {
        let t = now_ms.saturating_add(timeout_ms as u64);
        t.div_ceil(1u64 << self.tick_shift) as u32
    }

    /// The milliseconds from `now_ms` until the entry is due (0 if due), at tick precision.
    pub fn remaining_ms(&self, r: ConnRef, now_ms: u64) -> u64 {
        let exp = self.get(r).t_expires;
        let now_t = self.tick_of(now_ms);
        if before(now_t, exp) {
            let delta = exp.wrapping_sub(now_t) as u64;
            (((now_ms >> self.tick_shift) + delta) << self.tick_shift).saturating_sub(now_ms)
        } else {
            0
        }
    }

    fn link_slot(&mut self, i: u32, tick: u32) {
        let filed = if before(tick, self.cursor) {
            self.cursor
        } else {
            tick
        };
        let s = (filed & self.slot_mask) as usize;
        let head = self.slots[s];
        {
            let e = self.entry_at(i);
            e.t_prev = NIL;
            e.t_next = head;
            e.t_filed = filed;
            e.flags = (e.flags | F_ARMED) & !F_PENDING;
        }
        if head != NIL {
            self.entry_at(head).t_prev = i;
        }
        self.slots[s] = i;
    }

    pub(crate) fn unlink_timer(&mut self, i: u32) {
        let (flags, prev, next, filed) = {
            let e = self.entry_at(i);
            (e.flags, e.t_prev, e.t_next, e.t_filed)
        };
        if flags & F_ARMED == 0 {
            return;
        }
        if prev != NIL {
            self.entry_at(prev).t_next = next;
        } else if flags & F_PENDING != 0 {
            self.pending = next;
        } else {
            self.slots[(filed & self.slot_mask) as usize] = next;
        }
        if next != NIL {
            self.entry_at(next).t_prev = prev;
        }
        let e = self.entry_at(i);
        e.t_prev = NIL;
        e.t_next = NIL;
        e.flags &= !(F_ARMED | F_PENDING);
    }

    #[inline]
    fn entry_at(&mut self, i: u32) -> &mut super::Conn {
        self.entry_mut(ConnRef(i))
    }

    /// (Re-)arms the entry's timer: due `timeout_ms` (the entry's current timeout) after
    /// `now_ms`.
    #[inline]
    pub fn arm(&mut self, r: ConnRef, now_ms: u64) {
        let i = r.0;
        let d = self.deadline(now_ms, self.get(r).timeout_ms);
        let (flags, filed) = {
            let e = self.entry_at(i);
            e.t_expires = d;
            (e.flags, e.t_filed)
        };
        if flags & F_ARMED == 0 {
            self.link_slot(i, d);
        } else if flags & F_PENDING == 0 && before(d, filed) {
            self.unlink_timer(i);
            self.entry_at(i).t_expires = d;
            self.link_slot(i, d);
        }
    }

    /// Pops one entry whose deadline is at or before `now_ms`, with its timer stopped: the
    /// caller must [`ConnTable::remove`] it or [`ConnTable::arm`] it again. Entries are
    /// handed out slot by slot in deadline-tick order.
    pub fn pop_due(&mut self, now_ms: u64) -> Option<ConnRef> {
        let now_t = self.tick_of(now_ms);
        loop {
            if self.pending != NIL {
                let i = self.pending;
                self.unlink_timer(i);
                let exp = self.get(ConnRef(i)).t_expires;
                if !before(now_t, exp) {
                    return Some(ConnRef(i));
                }
                self.link_slot(i, exp);
                continue;
            }
            if before(now_t, self.cursor) {
                return None;
            }
            let n = self.slot_mask + 1;
            if now_t.wrapping_sub(self.cursor) >= n {
                // idle for more than a turn: one turn visits every slot
                self.cursor = now_t.wrapping_sub(n - 1);
            }
            let s = (self.cursor & self.slot_mask) as usize;
            let mut i = std::mem::replace(&mut self.slots[s], NIL);
            self.pending = i;
            while i != NIL {
                let e = self.entry_at(i);
                e.flags |= F_PENDING;
                i = e.t_next;
            }
            self.cursor = self.cursor.wrapping_add(1);
        }
    }

    /// Entries currently on the wheel (armed), for checks.
    #[cfg(test)]
    pub(crate) fn armed_count(&self) -> usize {
        let mut n = 0;
        for &h in self.slots.iter().chain(std::iter::once(&self.pending)) {
            let mut i = h;
            while i != NIL {
                n += 1;
                i = self.get(ConnRef(i)).t_next;
            }
        }
        n
    }
}
