//! The owning packet buffer.

use std::ptr::NonNull;

use crate::error::{Error, Result};
use crate::mempool::Mempool;

/// One packet buffer, owned: dropping it returns it to its pool; transmitting it
/// ([`TxQueue::tx_burst`](crate::TxQueue::tx_burst)) or enqueueing it on a ring gives it away.
///
/// The data accessors see the first segment (`data_len` bytes at `data_off`); the mbufs this
/// crate makes and the af_packet driver returns are single-segment. `Option<Mbuf>` and `Mbuf`
/// have the layout of `*mut rte_mbuf`, which the burst functions rely on.
#[repr(transparent)]
pub struct Mbuf(NonNull<dpdk_sys::rte_mbuf>);

const _: () = assert!(std::mem::size_of::<Option<Mbuf>>() == std::mem::size_of::<usize>());

// SAFETY: an Mbuf is the only reference to its buffer (see the crate docs: this crate never
// raises reference counts), and freeing it is thread-safe (mp/mc pool), so it may move threads.
unsafe impl Send for Mbuf {}
// SAFETY: &Mbuf only reads the buffer; no interior mutability.
unsafe impl Sync for Mbuf {}

impl std::fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mbuf")
            .field("len", &self.len())
            .field("headroom", &self.headroom())
            .field("tailroom", &self.tailroom())
            .finish()
    }
}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `m` must be a valid mbuf whose only reference the caller hands over (reference count
    /// 1, not attached to or from another mbuf, not referenced by a driver or ring).
    #[inline]
    pub unsafe fn from_raw(m: NonNull<dpdk_sys::rte_mbuf>) -> Mbuf {
        Mbuf(m)
    }

    /// Gives up ownership; the caller must free or transmit the mbuf.
    #[inline]
    pub fn into_raw(self) -> NonNull<dpdk_sys::rte_mbuf> {
        let m = self.0;
        std::mem::forget(self);
        m
    }

    /// An mbuf from `pool` holding a copy of `bytes`.
    pub fn from_slice(pool: &Mempool, bytes: &[u8]) -> Result<Mbuf> {
        let mut m = pool.alloc()?;
        m.append(bytes.len())?.copy_from_slice(bytes);
        Ok(m)
    }

    #[inline]
    fn raw(&self) -> &dpdk_sys::rte_mbuf {
        // SAFETY: self owns a valid mbuf for its whole life.
        unsafe { self.0.as_ref() }
    }

    /// The bytes of the first segment.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's buffer (DPDK's
        // invariant) and the buffer is not mutated while &self lives (we own the only reference).
        unsafe {
            std::slice::from_raw_parts(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    /// The bytes of the first segment, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let m = self.raw();
        let (addr, off, len) = (m.buf_addr.cast::<u8>(), m.data_off, m.data_len);
        // SAFETY: as in data(); &mut self makes this the only access to the buffer.
        unsafe { std::slice::from_raw_parts_mut(addr.add(usize::from(off)), usize::from(len)) }
    }

    /// Bytes in the first segment (`data_len`).
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.raw().data_len)
    }

    /// Whether the first segment holds no data.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.raw().data_len == 0
    }

    /// Bytes in the whole packet, all segments (`pkt_len`).
    #[inline]
    pub fn pkt_len(&self) -> usize {
        self.raw().pkt_len as usize
    }

    /// Number of segments.
    #[inline]
    pub fn segments(&self) -> u16 {
        self.raw().nb_segs
    }

    /// The input port the driver set on receive.
    #[inline]
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    /// Free bytes before the data.
    #[inline]
    pub fn headroom(&self) -> usize {
        // SAFETY: valid mbuf; the call only reads fields.
        usize::from(unsafe { dpdk_sys::shim_rte_pktmbuf_headroom(self.0.as_ptr()) })
    }

    /// Free bytes after the data of the last segment.
    #[inline]
    pub fn tailroom(&self) -> usize {
        // SAFETY: valid mbuf; the call only reads fields.
        usize::from(unsafe { dpdk_sys::shim_rte_pktmbuf_tailroom(self.0.as_ptr()) })
    }

    /// Grows the packet by `len` bytes at the end and returns them; they hold whatever the
    /// buffer held before (DPDK memory, initialised when the pool was created), so overwrite
    /// them.
    pub fn append(&mut self, len: usize) -> Result<&mut [u8]> {
        let n = u16::try_from(len).map_err(|_| Error::NoRoom { op: "append", len })?;
        // SAFETY: we own the mbuf; DPDK checks the tailroom and returns NULL if short.
        let p = unsafe { dpdk_sys::shim_rte_pktmbuf_append(self.0.as_ptr(), n) };
        if p.is_null() {
            return Err(Error::NoRoom { op: "append", len });
        }
        // SAFETY: p .. p+len is the newly added tail of the buffer, owned through &mut self.
        Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) })
    }

    /// Grows the packet by `len` bytes at the front (into the headroom) and returns them.
    pub fn prepend(&mut self, len: usize) -> Result<&mut [u8]> {
        let n = u16::try_from(len).map_err(|_| Error::NoRoom { op: "prepend", len })?;
        // SAFETY: we own the mbuf; DPDK checks the headroom and returns NULL if short.
        let p = unsafe { dpdk_sys::shim_rte_pktmbuf_prepend(self.0.as_ptr(), n) };
        if p.is_null() {
            return Err(Error::NoRoom { op: "prepend", len });
        }
        // SAFETY: p .. p+len is the new front of the data, owned through &mut self.
        Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) })
    }

    /// Removes `len` bytes from the front (e.g. a decapsulated header).
    pub fn adj(&mut self, len: usize) -> Result<()> {
        let n = u16::try_from(len).map_err(|_| Error::NoRoom { op: "adj", len })?;
        // SAFETY: we own the mbuf; DPDK returns NULL if len exceeds the first segment.
        let p = unsafe { dpdk_sys::shim_rte_pktmbuf_adj(self.0.as_ptr(), n) };
        if p.is_null() {
            return Err(Error::NoRoom { op: "adj", len });
        }
        Ok(())
    }

    /// Removes `len` bytes from the end.
    pub fn trim(&mut self, len: usize) -> Result<()> {
        let n = u16::try_from(len).map_err(|_| Error::NoRoom { op: "trim", len })?;
        // SAFETY: we own the mbuf; DPDK returns -1 if len exceeds the last segment.
        let ret = unsafe { dpdk_sys::shim_rte_pktmbuf_trim(self.0.as_ptr(), n) };
        if ret != 0 {
            return Err(Error::NoRoom { op: "trim", len });
        }
        Ok(())
    }

    /// The raw mbuf, still owned by self.
    #[inline]
    pub fn as_ptr(&self) -> *mut dpdk_sys::rte_mbuf {
        self.0.as_ptr()
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own the only reference; it is freed exactly once, here.
        unsafe { dpdk_sys::shim_rte_pktmbuf_free(self.0.as_ptr()) }
    }
}
