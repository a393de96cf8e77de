//! Named drop reasons, counted per worker (VPP's habit: never a log line per packet).
//!
//! Every packet the dataplane core refuses to handle gets a [`DropReason`]; the worker bumps
//! its slot in a fixed-size [`DropCounters`] array, which the control thread sums over workers.
//! Some reasons are "not scheduled" verdicts the caller may turn into a pass to the kernel
//! instead of a drop (the kernel's `NF_ACCEPT` cases): [`DropReason::NotSyn`],
//! [`DropReason::NoService`], [`DropReason::FtpData`].

/// Why a packet was not handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    /// The packet could not be parsed far enough.
    Malformed = 0,
    /// No virtual service for the destination (and no connection).
    NoService,
    /// The scheduler found no usable dest ("Schedule: no dest found").
    NoDest,
    /// The connection table is full.
    ConnTableFull,
    /// A TCP packet without SYN (or with RST) and no connection: the kernel does not
    /// schedule it unless `sloppy_tcp` is set.
    NotSyn,
    /// The connection's dest is no longer available and `expire_nodest_conn` is off.
    DestUnavailable,
    /// A non-persistent port-zero service ("port zero only supported in persistent services").
    PortZeroNotPersistent,
    /// Source port 20 (active FTP data): the kernel never schedules it.
    FtpData,
    /// A protocol the connection table does not handle.
    UnsupportedProtocol,
    /// Full-NAT: no local address/port available for the chosen dest.
    NoLocalAddress,
}

/// Number of drop reasons.
pub const DROP_REASONS: usize = 10;

impl DropReason {
    /// Every reason, by number.
    pub const ALL: [DropReason; DROP_REASONS] = [
        DropReason::Malformed,
        DropReason::NoService,
        DropReason::NoDest,
        DropReason::ConnTableFull,
        DropReason::NotSyn,
        DropReason::DestUnavailable,
        DropReason::PortZeroNotPersistent,
        DropReason::FtpData,
        DropReason::UnsupportedProtocol,
        DropReason::NoLocalAddress,
    ];

    /// A short stable name for counters and `dpip` output.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::NoService => "no-service",
            DropReason::NoDest => "no-dest",
            DropReason::ConnTableFull => "conn-table-full",
            DropReason::NotSyn => "not-syn",
            DropReason::DestUnavailable => "dest-unavailable",
            DropReason::PortZeroNotPersistent => "port-zero-not-persistent",
            DropReason::FtpData => "ftp-data",
            DropReason::UnsupportedProtocol => "unsupported-protocol",
            DropReason::NoLocalAddress => "no-local-address",
        }
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One counter per [`DropReason`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounters([u64; DROP_REASONS]);

impl DropCounters {
    /// Counts one packet dropped for `reason`.
    #[inline]
    pub fn count(&mut self, reason: DropReason) {
        let c = &mut self.0[reason as usize];
        *c = c.wrapping_add(1);
    }

    /// The count for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize]
    }

    /// Adds another worker's counters (the control thread's sum).
    pub fn add(&mut self, other: &DropCounters) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_add(*b);
        }
    }

    /// `(reason, count)` for every reason.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|r| (*r, self.0[*r as usize]))
    }

    /// The sum over all reasons.
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |a, b| a.wrapping_add(*b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_matches_all() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DROP_REASONS);
    }

    #[test]
    fn count_and_sum() {
        let mut a = DropCounters::default();
        a.count(DropReason::NotSyn);
        a.count(DropReason::NotSyn);
        let mut b = DropCounters::default();
        b.count(DropReason::ConnTableFull);
        a.add(&b);
        assert_eq!(a.get(DropReason::NotSyn), 2);
        assert_eq!(a.get(DropReason::ConnTableFull), 1);
        assert_eq!(a.total(), 3);
        assert_eq!(a.iter().count(), DROP_REASONS);
    }
}
