//! Typed single-producer single-consumer rings (`rte_ring` with `RING_F_SP_ENQ | RING_F_SC_DEQ`)
//! for handing owned values, typically [`Mbuf`]s, from one lcore to another.

use std::cell::Cell;
use std::ffi::{c_void, CString};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::eal::Eal;
use crate::error::{Error, Result};
use crate::mbuf::Mbuf;

/// A value that can travel through a ring as one pointer and be rebuilt on the other side.
///
/// # Safety
/// `from_raw(into_raw(x))` must give back `x`, `into_raw` must never return null, and the
/// value must be safe to move to another thread (`Send`).
pub unsafe trait RingItem: Send + Sized {
    /// Gives up the value as a non-null pointer.
    fn into_raw(self) -> *mut c_void;
    /// Rebuilds the value.
    ///
    /// # Safety
    /// `p` must come from `into_raw` of the same type and be used once.
    unsafe fn from_raw(p: *mut c_void) -> Self;
}

// SAFETY: an Mbuf is a non-null owned pointer and is Send; the round trip is the identity.
unsafe impl RingItem for Mbuf {
    fn into_raw(self) -> *mut c_void {
        Mbuf::into_raw(self).as_ptr().cast()
    }
    unsafe fn from_raw(p: *mut c_void) -> Self {
        // SAFETY: the caller passes a pointer from into_raw: a valid, owned, non-null mbuf.
        unsafe { Mbuf::from_raw(NonNull::new_unchecked(p.cast())) }
    }
}

// SAFETY: Box::into_raw is non-null (ZSTs give a dangling non-null pointer) and Box::from_raw
// reverses it; T: Send makes the box Send.
unsafe impl<T: Send> RingItem for Box<T> {
    fn into_raw(self) -> *mut c_void {
        Box::into_raw(self).cast()
    }
    unsafe fn from_raw(p: *mut c_void) -> Self {
        // SAFETY: the caller passes a pointer from Box::into_raw of a Box<T>, used once.
        unsafe { Box::from_raw(p.cast()) }
    }
}

struct RingShared<T: RingItem> {
    raw: NonNull<dpdk_sys::rte_ring>,
    _items: PhantomData<T>,
}

// SAFETY: the ring is shared memory owned by DPDK; the two halves use it from one thread
// each, which is what an SP/SC ring allows, and the items it carries are Send.
unsafe impl<T: RingItem> Send for RingShared<T> {}
// SAFETY: &RingShared only gives the pointer to the halves, which each keep to one thread.
unsafe impl<T: RingItem> Sync for RingShared<T> {}

impl<T: RingItem> Drop for RingShared<T> {
    fn drop(&mut self) {
        // Both halves are gone: this thread is the only user. Drop what is still queued.
        let mut ptrs = [std::ptr::null_mut::<c_void>(); 32];
        loop {
            // SAFETY: valid ring, sole user; `ptrs` has room for 32 pointers.
            let n = unsafe {
                dpdk_sys::shim_rte_ring_sc_dequeue_burst(
                    self.raw.as_ptr(),
                    ptrs.as_mut_ptr(),
                    32,
                    std::ptr::null_mut(),
                )
            };
            if n == 0 {
                break;
            }
            for &p in &ptrs[..n as usize] {
                // SAFETY: every pointer in the ring came from T::into_raw and is dequeued once.
                drop(unsafe { T::from_raw(p) });
            }
        }
        // SAFETY: the ring is empty and nothing refers to it any more; freed once.
        unsafe { dpdk_sys::rte_ring_free(self.raw.as_ptr()) };
    }
}

/// The sending half of an SPSC ring.
pub struct RingProducer<T: RingItem> {
    shared: Arc<RingShared<T>>,
    _not_sync: PhantomData<Cell<()>>,
}

/// The receiving half of an SPSC ring.
pub struct RingConsumer<T: RingItem> {
    shared: Arc<RingShared<T>>,
    _not_sync: PhantomData<Cell<()>>,
}

impl<T: RingItem> std::fmt::Debug for RingProducer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RingProducer({:p})", self.shared.raw)
    }
}

impl<T: RingItem> std::fmt::Debug for RingConsumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RingConsumer({:p})", self.shared.raw)
    }
}

/// Creates an SPSC ring holding up to `capacity` items (exactly; `RING_F_EXACT_SZ`) on NUMA
/// `socket` (`None`: any) and returns its two halves. `name` must be unique among the
/// process's rings (DPDK allows 29 bytes).
pub fn spsc<T: RingItem>(
    _eal: &Eal,
    name: &str,
    capacity: u32,
    socket: Option<i32>,
) -> Result<(RingProducer<T>, RingConsumer<T>)> {
    let cname = CString::new(name).map_err(|_| Error::InvalidArgument("ring name contains NUL"))?;
    let flags = dpdk_sys::RING_F_SP_ENQ | dpdk_sys::RING_F_SC_DEQ | dpdk_sys::RING_F_EXACT_SZ;
    // SAFETY: EAL is initialised; cname is a valid C string for the call; DPDK validates the
    // count and flags.
    let raw = unsafe {
        dpdk_sys::rte_ring_create(
            cname.as_ptr(),
            capacity,
            socket.unwrap_or(dpdk_sys::SOCKET_ID_ANY),
            flags,
        )
    };
    let raw = NonNull::new(raw).ok_or_else(|| Error::from_rte_errno("rte_ring_create"))?;
    let shared = Arc::new(RingShared {
        raw,
        _items: PhantomData,
    });
    Ok((
        RingProducer {
            shared: Arc::clone(&shared),
            _not_sync: PhantomData,
        },
        RingConsumer {
            shared,
            _not_sync: PhantomData,
        },
    ))
}

/// Pointers moved per ring call by the burst helpers.
const CHUNK: usize = 32;

impl<T: RingItem> RingProducer<T> {
    /// Enqueues one item, or gives it back if the ring is full.
    #[inline]
    pub fn enqueue(&mut self, item: T) -> Result<(), T> {
        let p = item.into_raw();
        // SAFETY: valid ring; this half is its only producer; `p` is one readable pointer.
        let n = unsafe {
            dpdk_sys::shim_rte_ring_sp_enqueue_burst(
                self.shared.raw.as_ptr(),
                &p,
                1,
                std::ptr::null_mut(),
            )
        };
        if n == 1 {
            Ok(())
        } else {
            // SAFETY: the ring did not take `p`; it is still the item from into_raw above.
            Err(unsafe { T::from_raw(p) })
        }
    }

    /// Enqueues from the front of `items` as many as fit and returns how many; the rest stay
    /// in `items`, in order. Does not allocate.
    pub fn enqueue_burst(&mut self, items: &mut Vec<T>) -> usize {
        let len = items.len();
        let base = items.as_mut_ptr();
        // While items are moved in and out below, the Vec must not drop them: if a RingItem
        // impl panicked, they leak instead of being dropped twice.
        // SAFETY: 0 <= capacity; the elements stay initialised in the buffer meanwhile.
        unsafe { items.set_len(0) };
        let mut ptrs = [std::ptr::null_mut::<c_void>(); CHUNK];
        let mut sent = 0;
        while sent < len {
            let k = (len - sent).min(CHUNK);
            for (i, slot) in ptrs[..k].iter_mut().enumerate() {
                // SAFETY: element sent+i is initialised and read (moved out) exactly once.
                *slot = unsafe { std::ptr::read(base.add(sent + i)) }.into_raw();
            }
            // SAFETY: valid ring; this half is its only producer; `ptrs[..k]` are readable.
            let n = unsafe {
                dpdk_sys::shim_rte_ring_sp_enqueue_burst(
                    self.shared.raw.as_ptr(),
                    ptrs.as_ptr(),
                    k as u32,
                    std::ptr::null_mut(),
                )
            } as usize;
            for (i, &p) in ptrs[..k].iter().enumerate().skip(n) {
                // SAFETY: the ring did not take `p`: it goes back, rebuilt, into the slot it
                // was moved out of.
                unsafe { std::ptr::write(base.add(sent + i), T::from_raw(p)) };
            }
            sent += n;
            if n < k {
                break;
            }
        }
        // SAFETY: slots [0, sent) were moved into the ring; [sent, len) hold owned items, moved
        // down bitwise to the front.
        unsafe {
            std::ptr::copy(base.add(sent), base, len - sent);
            items.set_len(len - sent);
        }
        sent
    }

    /// Items in the ring now.
    pub fn len(&self) -> usize {
        // SAFETY: valid ring; the count is a racy but safe read of two indexes.
        unsafe { dpdk_sys::shim_rte_ring_count(self.shared.raw.as_ptr()) as usize }
    }

    /// Whether the ring is empty now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: RingItem> RingConsumer<T> {
    /// Dequeues one item.
    #[inline]
    pub fn dequeue(&mut self) -> Option<T> {
        let mut p = std::ptr::null_mut::<c_void>();
        // SAFETY: valid ring; this half is its only consumer; `p` is room for one pointer.
        let n = unsafe {
            dpdk_sys::shim_rte_ring_sc_dequeue_burst(
                self.shared.raw.as_ptr(),
                &mut p,
                1,
                std::ptr::null_mut(),
            )
        };
        // SAFETY: the ring gave us one pointer that came from T::into_raw.
        (n == 1).then(|| unsafe { T::from_raw(p) })
    }

    /// Dequeues up to `max` items, appending them to `out`; returns how many.
    pub fn dequeue_burst(&mut self, out: &mut Vec<T>, max: usize) -> usize {
        let mut got = 0;
        let mut ptrs = [std::ptr::null_mut::<c_void>(); CHUNK];
        while got < max {
            let want = (max - got).min(CHUNK);
            // SAFETY: valid ring; this half is its only consumer; `ptrs` has room for `want`.
            let n = unsafe {
                dpdk_sys::shim_rte_ring_sc_dequeue_burst(
                    self.shared.raw.as_ptr(),
                    ptrs.as_mut_ptr(),
                    want as u32,
                    std::ptr::null_mut(),
                )
            } as usize;
            for &p in &ptrs[..n] {
                // SAFETY: each dequeued pointer came from T::into_raw and is used once.
                out.push(unsafe { T::from_raw(p) });
            }
            got += n;
            if n < want {
                break;
            }
        }
        got
    }

    /// Items in the ring now.
    pub fn len(&self) -> usize {
        // SAFETY: valid ring; the count is a racy but safe read of two indexes.
        unsafe { dpdk_sys::shim_rte_ring_count(self.shared.raw.as_ptr()) as usize }
    }

    /// Whether the ring is empty now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
