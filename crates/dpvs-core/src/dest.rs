//! The scheduler-facing view of a real server ("dest" in IPVS).
//!
//! A [`Dest`] is part of the immutable service snapshot the control thread publishes; the
//! connection counts that the least-connection schedulers read are per worker
//! ([`DestCounters`], one per dest, in a slice the worker owns and passes to the scheduler
//! alongside the dest slice, index for index).
//!
//! The order of the dest slice is the order of the kernel's `svc->destinations` list. Several
//! schedulers depend on it (rr/wrr sequences, first-wins tie-breaking, the sh/dh/mh tables).
//! Note that the kernel inserts a newly added dest at the *head* of that list, so the kernel's
//! order (the one `ipvsadm -Ln` prints) is the reverse of the order of addition.

use std::net::IpAddr;

/// Status flags of a dest in the service snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DestFlags(u8);

impl DestFlags {
    /// The dest is in the service's dest list (`IP_VS_DEST_F_AVAILABLE`). A dest that was
    /// deleted but is still referenced by connections (the kernel's "trash") is not available:
    /// schedulers treat it as absent.
    pub const AVAILABLE: DestFlags = DestFlags(0x1);
    /// The dest is overloaded (`IP_VS_DEST_F_OVERLOAD`) as decided by the control plane. The
    /// per-worker threshold state lives in [`DestCounters::overloaded`]; a dest is overloaded
    /// for scheduling if either says so.
    pub const OVERLOADED: DestFlags = DestFlags(0x2);

    /// No flag set.
    pub const fn empty() -> Self {
        DestFlags(0)
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: DestFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets or clears the flags of `other`.
    pub fn set(&mut self, other: DestFlags, on: bool) {
        if on {
            self.0 |= other.0;
        } else {
            self.0 &= !other.0;
        }
    }
}

impl std::ops::BitOr for DestFlags {
    type Output = DestFlags;
    fn bitor(self, rhs: DestFlags) -> DestFlags {
        DestFlags(self.0 | rhs.0)
    }
}

/// A real server as the schedulers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dest {
    /// The real server's address.
    pub addr: IpAddr,
    /// The real server's port, host byte order.
    pub port: u16,
    /// The weight. `0` means quiescent: existing connections continue, no new ones are
    /// scheduled. The kernel rejects negative weights; every scheduler here treats a weight
    /// `<= 0` as quiescent.
    pub weight: i32,
    /// The last non-zero weight (`dest->last_weight`), kept by the control plane exactly as
    /// the kernel does: set on add, and on every update whose new weight is not zero. Only
    /// `mh` reads it, so that quiescing a dest (weight 0) does not reshuffle the Maglev table.
    pub last_weight: i32,
    /// Status flags.
    pub flags: DestFlags,
}

impl Dest {
    /// A dest that is available, not overloaded, with `last_weight == weight`.
    pub fn new(addr: IpAddr, port: u16, weight: i32) -> Self {
        Dest {
            addr,
            port,
            weight,
            last_weight: weight,
            flags: DestFlags::AVAILABLE,
        }
    }

    /// Whether the dest is in the service's list (not in the trash).
    #[inline]
    pub fn is_available(&self) -> bool {
        self.flags.contains(DestFlags::AVAILABLE)
    }

    /// Whether the control plane marked the dest overloaded.
    #[inline]
    pub fn is_overloaded(&self) -> bool {
        self.flags.contains(DestFlags::OVERLOADED)
    }

    /// The identity of a dest within a service: address and port.
    #[inline]
    pub fn key(&self) -> (IpAddr, u16) {
        (self.addr, self.port)
    }
}

/// The connection thresholds of a dest (`ipvsadm -x/--u-threshold`, `-y/--l-threshold`);
/// `0` means no threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Thresholds {
    /// Upper threshold: at `active + inactive >= upper` the dest becomes overloaded.
    pub upper: u32,
    /// Lower threshold: below it the overload is cleared. When `0` and `upper` is set, the
    /// overload clears below three quarters of `upper`.
    pub lower: u32,
}

/// What kind of connection is bound to or unbound from a dest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnKind {
    /// A connection counted as active (e.g. TCP ESTABLISHED).
    Active,
    /// A connection counted as inactive (other states, UDP).
    Inactive,
    /// A persistence template.
    Persistent,
}

/// Per-worker connection counters of one dest (`activeconns`, `inactconns`, `persistconns`)
/// and the worker's overload state derived from the dest's [`Thresholds`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DestCounters {
    /// Active connections.
    pub active: u32,
    /// Inactive connections.
    pub inactive: u32,
    /// Persistence templates.
    pub persistent: u32,
    /// Overloaded by the connection thresholds (maintained by [`DestCounters::bind`] and
    /// [`DestCounters::unbind`]).
    pub overloaded: bool,
}

impl DestCounters {
    /// `ip_vs_dest_conn_overhead`: `active * 256 + inactive`. Active connections weigh much
    /// more than inactive ones. Computed in 64 bits, so it never overflows.
    #[inline]
    pub fn overhead(&self) -> u64 {
        ((self.active as u64) << 8) + self.inactive as u64
    }

    /// `active + inactive`, what the thresholds compare against.
    #[inline]
    pub fn total(&self) -> u64 {
        self.active as u64 + self.inactive as u64
    }

    /// Counts a connection bound to the dest and sets the overload flag as `ip_vs_bind_dest`
    /// does.
    pub fn bind(&mut self, kind: ConnKind, thresholds: Thresholds) {
        match kind {
            ConnKind::Active => self.active = self.active.saturating_add(1),
            ConnKind::Inactive => self.inactive = self.inactive.saturating_add(1),
            ConnKind::Persistent => self.persistent = self.persistent.saturating_add(1),
        }
        if thresholds.upper != 0 && self.total() >= thresholds.upper as u64 {
            self.overloaded = true;
        }
    }

    /// Uncounts a connection and clears the overload flag as `ip_vs_unbind_dest` does.
    pub fn unbind(&mut self, kind: ConnKind, thresholds: Thresholds) {
        match kind {
            ConnKind::Active => self.active = self.active.saturating_sub(1),
            ConnKind::Inactive => self.inactive = self.inactive.saturating_sub(1),
            ConnKind::Persistent => self.persistent = self.persistent.saturating_sub(1),
        }
        self.refresh_overload_on_unbind(thresholds);
    }

    /// The kernel's clearing rule, applied after a connection went away.
    fn refresh_overload_on_unbind(&mut self, t: Thresholds) {
        if t.lower != 0 {
            if self.total() < t.lower as u64 {
                self.overloaded = false;
            }
        } else if t.upper != 0 {
            if self.total() * 4 < t.upper as u64 * 3 {
                self.overloaded = false;
            }
        } else {
            self.overloaded = false;
        }
    }

    /// Moves a connection between active and inactive (a state change of the protocol).
    pub fn set_active(&mut self, active: bool) {
        if active {
            self.inactive = self.inactive.saturating_sub(1);
            self.active = self.active.saturating_add(1);
        } else {
            self.active = self.active.saturating_sub(1);
            self.inactive = self.inactive.saturating_add(1);
        }
    }
}

/// Whether a dest counts as overloaded for scheduling: either the control plane says so or the
/// worker's threshold state does.
#[inline]
pub fn is_overloaded(dest: &Dest, counters: &DestCounters) -> bool {
    dest.is_overloaded() || counters.overloaded
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn overhead_weighs_active_256() {
        let c = DestCounters {
            active: 2,
            inactive: 5,
            ..Default::default()
        };
        assert_eq!(c.overhead(), 517);
    }

    #[test]
    fn thresholds_set_and_clear_like_the_kernel() {
        let t = Thresholds { upper: 4, lower: 0 };
        let mut c = DestCounters::default();
        for _ in 0..3 {
            c.bind(ConnKind::Active, t);
            assert!(!c.overloaded);
        }
        c.bind(ConnKind::Inactive, t);
        assert!(c.overloaded, "4 >= upper 4");
        // clears only when total*4 < upper*3, i.e. total < 3
        c.unbind(ConnKind::Inactive, t);
        assert!(c.overloaded, "3*4 = 12 is not < 12");
        c.unbind(ConnKind::Active, t);
        assert!(!c.overloaded);

        let t = Thresholds { upper: 4, lower: 2 };
        let mut c = DestCounters::default();
        for _ in 0..4 {
            c.bind(ConnKind::Active, t);
        }
        assert!(c.overloaded);
        c.unbind(ConnKind::Active, t);
        c.unbind(ConnKind::Active, t);
        assert!(c.overloaded, "2 is not < lower 2");
        c.unbind(ConnKind::Active, t);
        assert!(!c.overloaded);
    }

    #[test]
    fn persistent_templates_do_not_count_for_thresholds() {
        let t = Thresholds { upper: 1, lower: 0 };
        let mut c = DestCounters::default();
        c.bind(ConnKind::Persistent, t);
        assert!(!c.overloaded);
    }

    #[test]
    fn new_dest_is_available() {
        let d = Dest::new(Ipv4Addr::new(10, 0, 0, 1).into(), 80, 3);
        assert!(d.is_available());
        assert!(!d.is_overloaded());
        assert_eq!(d.last_weight, 3);
    }
}
