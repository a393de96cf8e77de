//! The per-descriptor state table: a fixed array of atomics indexed by fd.
//!
//! No allocation, no locks: every slot is three atomics, written by the thread
//! that owns the descriptor's current operation. Descriptors at or beyond
//! [`MAX_FDS`] are never tracked (everything on them passes through).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Number of descriptors tracked.
pub const MAX_FDS: usize = 65536;

/// What the shim knows about one descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdState {
    /// Not a socket the shim cares about.
    Untracked,
    /// A kernel `NETLINK_GENERIC` socket that has not asked for "IPVS" yet.
    GenlUndecided,
    /// A generic-netlink socket that stays with the kernel (dpvsd was unreachable).
    Kernel,
    /// Now a unix seqpacket connection to dpvsd.
    Redirected {
        /// The netlink port id the kernel socket had; reported by getsockname.
        nl_pid: u32,
        /// Inode of the unix socket, to notice the fd number being reused
        /// behind the shim's back (a close the shim did not see).
        ino: u64,
    },
}

const UNTRACKED: u32 = 0;
const GENL_UNDECIDED: u32 = 1;
const KERNEL: u32 = 2;
const REDIRECTED: u32 = 3;

struct Slot {
    state: AtomicU32,
    nl_pid: AtomicU32,
    ino: AtomicU64,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            state: AtomicU32::new(UNTRACKED),
            nl_pid: AtomicU32::new(0),
            ino: AtomicU64::new(0),
        }
    }
}

// Zero-initialised, so it lives in .bss and costs nothing until touched.
static TABLE: [Slot; MAX_FDS] = [const { Slot::new() }; MAX_FDS];

fn slot(fd: i32) -> Option<&'static Slot> {
    usize::try_from(fd).ok().and_then(|i| TABLE.get(i))
}

/// The state of `fd` (`Untracked` for negative or out-of-range descriptors).
pub fn get(fd: i32) -> FdState {
    let Some(s) = slot(fd) else {
        return FdState::Untracked;
    };
    match s.state.load(Ordering::Acquire) {
        GENL_UNDECIDED => FdState::GenlUndecided,
        KERNEL => FdState::Kernel,
        REDIRECTED => FdState::Redirected {
            nl_pid: s.nl_pid.load(Ordering::Relaxed),
            ino: s.ino.load(Ordering::Relaxed),
        },
        _ => FdState::Untracked,
    }
}

/// Records `state` for `fd`; ignored for untrackable descriptors.
pub fn set(fd: i32, state: FdState) {
    let Some(s) = slot(fd) else {
        return;
    };
    let tag = match state {
        FdState::Untracked => UNTRACKED,
        FdState::GenlUndecided => GENL_UNDECIDED,
        FdState::Kernel => KERNEL,
        FdState::Redirected { nl_pid, ino } => {
            s.nl_pid.store(nl_pid, Ordering::Relaxed);
            s.ino.store(ino, Ordering::Relaxed);
            REDIRECTED
        }
    };
    s.state.store(tag, Ordering::Release);
}

/// Forgets `fd`.
pub fn clear(fd: i32) {
    set(fd, FdState::Untracked);
}

/// Gives `to` the state of `from` (after a successful dup).
pub fn copy(from: i32, to: i32) {
    set(to, get(from));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_bounds() {
        // high fds no other test (or the harness) will use
        let fd = (MAX_FDS - 3) as i32;
        assert_eq!(get(fd), FdState::Untracked);
        set(fd, FdState::GenlUndecided);
        assert_eq!(get(fd), FdState::GenlUndecided);
        set(fd, FdState::Kernel);
        assert_eq!(get(fd), FdState::Kernel);
        let r = FdState::Redirected {
            nl_pid: 0xdead_beef,
            ino: u64::MAX,
        };
        set(fd, r);
        assert_eq!(get(fd), r);
        copy(fd, fd + 1);
        assert_eq!(get(fd + 1), r);
        clear(fd);
        clear(fd + 1);
        assert_eq!(get(fd), FdState::Untracked);
        assert_eq!(get(fd + 1), FdState::Untracked);

        for bad in [-1, MAX_FDS as i32, i32::MAX] {
            set(bad, FdState::Kernel);
            assert_eq!(get(bad), FdState::Untracked);
        }
    }
}
