//! Packet-buffer pools (`rte_pktmbuf_pool_create`).

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::eal::Eal;
use crate::error::{Error, Result};
use crate::mbuf::Mbuf;

/// A pool of packet buffers. Cloning gives another handle to the same pool.
#[derive(Clone)]
pub struct Mempool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    raw: NonNull<dpdk_sys::rte_mempool>,
}

// SAFETY: the pool's default handler ("ring_mp_mc") makes get and put safe from any thread,
// and the counters read by &self methods are read-only walks; the pointer itself is shared
// data owned by DPDK, not by a thread.
unsafe impl Send for PoolInner {}
// SAFETY: as above: every operation reachable through &PoolInner is multi-thread safe.
unsafe impl Sync for PoolInner {}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mempool")
            .field("raw", &self.inner.raw)
            .field("available", &self.available())
            .finish()
    }
}

impl Mempool {
    /// Creates a pool of `n` mbufs with a per-lcore cache of `cache_size` and `data_room`
    /// bytes of buffer each (headroom included; [`Mempool::DEFAULT_DATA_ROOM`] suits 1500-byte
    /// frames). `socket` is a NUMA socket, `None` for any. `name` must be unique among the
    /// process's pools. The best `n` is a power of two minus one.
    pub fn new(
        _eal: &Eal,
        name: &str,
        n: u32,
        cache_size: u32,
        data_room: u16,
        socket: Option<i32>,
    ) -> Result<Mempool> {
        let cname =
            CString::new(name).map_err(|_| Error::InvalidArgument("pool name contains NUL"))?;
        // SAFETY: EAL is initialised (the Eal token); cname is a valid C string for the call;
        // the other arguments are plain values DPDK validates.
        let raw = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                n,
                cache_size,
                0,
                data_room,
                socket.unwrap_or(dpdk_sys::SOCKET_ID_ANY),
            )
        };
        let raw =
            NonNull::new(raw).ok_or_else(|| Error::from_rte_errno("rte_pktmbuf_pool_create"))?;
        Ok(Mempool {
            inner: Arc::new(PoolInner { raw }),
        })
    }

    /// `RTE_MBUF_DEFAULT_BUF_SIZE`: 2048 bytes of data after the 128-byte headroom.
    pub const DEFAULT_DATA_ROOM: u16 = dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;

    /// Takes an mbuf from the pool (reset: no data, default headroom).
    #[inline]
    pub fn alloc(&self) -> Result<Mbuf> {
        // SAFETY: the pool pointer is valid while self lives; alloc is thread-safe.
        let m = unsafe { dpdk_sys::shim_rte_pktmbuf_alloc(self.as_ptr()) };
        match NonNull::new(m) {
            // SAFETY: a fresh mbuf from the pool, referenced by nothing else.
            Some(m) => Ok(unsafe { Mbuf::from_raw(m) }),
            None => Err(Error::Dpdk {
                call: "rte_pktmbuf_alloc",
                errno: libc_enobufs(),
            }),
        }
    }

    /// Takes `count` mbufs at once (all or none) and appends them to `out`.
    pub fn alloc_bulk(&self, out: &mut Vec<Mbuf>, count: usize) -> Result<()> {
        let n = u32::try_from(count).map_err(|_| Error::InvalidArgument("count too large"))?;
        out.reserve(count);
        let len = out.len();
        let spare = out.spare_capacity_mut();
        // SAFETY: `spare` has room for `count` pointers (reserved above) and Mbuf is a
        // transparent non-null pointer, so DPDK writes `count` valid `*mut rte_mbuf` or, on
        // failure, nothing we read; the pool pointer is valid while self lives.
        let ret = unsafe {
            dpdk_sys::shim_rte_pktmbuf_alloc_bulk(self.as_ptr(), spare.as_mut_ptr().cast(), n)
        };
        if ret != 0 {
            return Err(Error::from_ret("rte_pktmbuf_alloc_bulk", ret));
        }
        // SAFETY: the first `count` spare slots now hold fresh, unshared mbufs.
        unsafe { out.set_len(len + count) };
        Ok(())
    }

    /// Mbufs available (in the pool and in the per-lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: the pool pointer is valid while self lives; the call only reads counters.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.as_ptr()) }
    }

    /// Mbufs handed out (held by the program or by a driver's rx ring).
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool pointer is valid while self lives; the call only reads counters.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.as_ptr()) }
    }

    /// The raw pool, valid while this handle lives.
    pub fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.inner.raw.as_ptr()
    }
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        // SAFETY: the pool is valid; no handle is left, so no new mbuf can be taken from it.
        let in_use = unsafe { dpdk_sys::rte_mempool_in_use_count(self.raw.as_ptr()) };
        if in_use == 0 {
            // SAFETY: no handle and no mbuf refers to the pool any more; it is freed once.
            unsafe { dpdk_sys::rte_mempool_free(self.raw.as_ptr()) };
        }
        // Otherwise an Mbuf still points into the pool: leaking it is the sound choice.
    }
}

const fn libc_enobufs() -> i32 {
    105 // ENOBUFS on Linux: what DPDK's rte_pktmbuf_alloc failure means
}
