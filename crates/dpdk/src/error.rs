//! The crate's error type: which DPDK call failed and the `rte_errno` it left.

use std::ffi::CStr;

/// Errors of the safe DPDK API. `Copy`, so hot paths can return it cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A DPDK call failed; `errno` is `rte_errno` (or the negative return value, negated).
    #[error("{call} failed: {} (errno {errno})", errno_message(*errno))]
    Dpdk {
        /// The DPDK function that failed.
        call: &'static str,
        /// `rte_errno` or the errno-style return code, positive.
        errno: i32,
    },
    /// `Eal::init` was called before in this process (EAL can be initialised once).
    #[error("EAL is already initialised (or its initialisation was attempted) in this process")]
    AlreadyInitialized,
    /// An argument this crate checks before calling DPDK was refused.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The object is held elsewhere: a port claimed twice, a queue handed out twice, or a
    /// port stopped while queue handles are alive.
    #[error("in use: {0}")]
    InUse(&'static str),
    /// Not enough head- or tailroom (or data) in an mbuf for the operation.
    #[error("mbuf {op} of {len} bytes does not fit")]
    NoRoom {
        /// `append`, `prepend`, `adj` or `trim`.
        op: &'static str,
        /// The requested length.
        len: usize,
    },
    /// The closure launched on an lcore panicked.
    #[error("the function launched on lcore {0} panicked")]
    LcorePanicked(u32),
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error for `call` carrying the calling thread's current `rte_errno`.
    pub(crate) fn from_rte_errno(call: &'static str) -> Self {
        // SAFETY: reads a thread-local int; valid on any thread, with or without EAL.
        let errno = unsafe { dpdk_sys::shim_rte_errno() };
        Error::Dpdk { call, errno }
    }

    /// An error for `call` from a DPDK return code of the `-errno` style.
    pub(crate) fn from_ret(call: &'static str, ret: i32) -> Self {
        Error::Dpdk {
            call,
            errno: ret.saturating_abs(),
        }
    }

    /// The errno of a failed DPDK call, if this is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Dpdk { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// `rte_strerror(errno)`: DPDK's text for its own error codes and libc's for the rest.
pub fn errno_message(errno: i32) -> String {
    // SAFETY: rte_strerror accepts any int and returns a pointer to a NUL-terminated string,
    // either static or in a thread-local buffer that stays valid until the next call on this
    // thread; it is copied out at once.
    unsafe {
        let text = dpdk_sys::rte_strerror(errno);
        if text.is_null() {
            return format!("error {errno}");
        }
        CStr::from_ptr(text).to_string_lossy().into_owned()
    }
}

/// Checks a DPDK `0 or -errno` return code.
pub(crate) fn check(call: &'static str, ret: i32) -> Result<()> {
    if ret < 0 {
        Err(Error::from_ret(call, ret))
    } else {
        Ok(())
    }
}
