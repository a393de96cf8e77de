//! EAL start-up (once per process), lcore queries and launching Rust closures on worker lcores.

use std::ffi::{c_char, c_int, c_void, CString};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// Set by the first `Eal::init` call, successful or not: DPDK refuses a second `rte_eal_init`
/// in any case (and a failed one can leave EAL half set up).
static INIT_ATTEMPTED: AtomicBool = AtomicBool::new(false);

/// Proof that the Environment Abstraction Layer is initialised. Obtained once per process with
/// [`Eal::init`]; `Clone`, so the parts of a program can each hold one.
#[derive(Debug, Clone)]
pub struct Eal {
    _private: (),
}

impl Eal {
    /// Runs `rte_eal_init` with `args` (EAL options only; a program name is put in front).
    ///
    /// The calling thread becomes the main lcore. EAL keeps pointers into its arguments, so
    /// they are leaked (once per process). A second call, after success or failure, returns
    /// [`Error::AlreadyInitialized`] without calling DPDK.
    ///
    /// Options that work on a machine without hugepages or NICs (and next to other DPDK
    /// processes): `--no-huge -m 512 --no-pci --no-shconf --no-telemetry --file-prefix <unique>
    /// --vdev=net_af_packet0,iface=<ifname>`. DPDK 22.11 refuses `--in-memory` together with
    /// `--no-huge` ("--legacy-mem is not compatible with --in-memory").
    pub fn init<I, S>(args: I) -> Result<Eal>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut owned = vec![CString::new("dpdk-rs").expect("no NUL")];
        for arg in args {
            owned.push(
                CString::new(arg.as_ref())
                    .map_err(|_| Error::InvalidArgument("EAL argument contains a NUL byte"))?,
            );
        }
        if INIT_ATTEMPTED.swap(true, Ordering::SeqCst) {
            return Err(Error::AlreadyInitialized);
        }
        let argc = c_int::try_from(owned.len())
            .map_err(|_| Error::InvalidArgument("too many EAL arguments"))?;
        let argv: Vec<*mut c_char> = owned.into_iter().map(CString::into_raw).collect();
        // EAL may keep pointers to the strings and reorders the array: both live forever.
        let argv: &'static mut [*mut c_char] = Vec::leak(argv);
        // SAFETY: argv holds argc valid, NUL-terminated, writable strings that are never freed;
        // INIT_ATTEMPTED guarantees this is the process's only call.
        let ret = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(Error::from_rte_errno("rte_eal_init"));
        }
        Ok(Eal { _private: () })
    }

    /// The main lcore's id (the thread that called [`Eal::init`]).
    pub fn main_lcore(&self) -> u32 {
        // SAFETY: EAL is initialised (self proves it); the call only reads its configuration.
        unsafe { dpdk_sys::rte_get_main_lcore() }
    }

    /// How many lcores EAL runs (main included).
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: EAL is initialised; the call only reads its configuration.
        unsafe { dpdk_sys::rte_lcore_count() }
    }

    /// The worker lcores' ids (every enabled lcore but the main one), in order.
    pub fn worker_lcores(&self) -> Vec<u32> {
        let mut lcores = Vec::new();
        let mut i = u32::MAX; // rte_get_next_lcore starts after `i`; -1 means "from 0"
        loop {
            // SAFETY: EAL is initialised; the call only reads its configuration; skip_main=1,
            // wrap=0 ends the walk with a value >= RTE_MAX_LCORE.
            i = unsafe { dpdk_sys::rte_get_next_lcore(i, 1, 0) };
            if i >= dpdk_sys::RTE_MAX_LCORE {
                return lcores;
            }
            lcores.push(i);
        }
    }

    /// Runs `f` on worker lcore `lcore` (`rte_eal_remote_launch`); must be called on the main
    /// lcore. The returned handle's [`LcoreJoin::join`] waits for `f` and gives its value. A
    /// panic in `f` is caught on the lcore and reported by `join`, never unwound into DPDK.
    pub fn remote_launch<F, T>(&self, lcore: u32, f: F) -> Result<LcoreJoin<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if current_lcore() != Some(self.main_lcore()) {
            return Err(Error::InvalidArgument(
                "remote_launch must be called on the main lcore",
            ));
        }
        if lcore == self.main_lcore() || lcore >= dpdk_sys::RTE_MAX_LCORE {
            return Err(Error::InvalidArgument("not a worker lcore"));
        }
        let slot: Arc<Mutex<Option<std::thread::Result<T>>>> = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        let job: Job = Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(f));
            if let Ok(mut guard) = out.lock() {
                *guard = Some(result);
            }
        });
        let arg = Box::into_raw(Box::new(job));
        // SAFETY: trampoline matches lcore_function_t and takes back ownership of `arg`, a
        // Box<Job> leaked just above, exactly once; DPDK passes `arg` through untouched.
        let ret = unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), arg.cast(), lcore) };
        if ret < 0 {
            // SAFETY: the launch failed, so DPDK never called trampoline: `arg` is still ours.
            drop(unsafe { Box::from_raw(arg) });
            return Err(Error::from_ret("rte_eal_remote_launch", ret));
        }
        Ok(LcoreJoin {
            lcore,
            slot,
            _not_sync: PhantomData,
        })
    }
}

type Job = Box<dyn FnOnce() + Send>;

extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the Box<Job> that remote_launch leaked for this one call.
    let job = unsafe { Box::from_raw(arg.cast::<Job>()) };
    // The job catches the closure's panics; nothing unwinds out of here.
    job();
    0
}

/// A closure running on a worker lcore; [`join`](LcoreJoin::join) waits for it. Dropping the
/// handle does not stop the closure (the lcore is free again once it returns).
#[derive(Debug)]
pub struct LcoreJoin<T> {
    lcore: u32,
    slot: Arc<Mutex<Option<std::thread::Result<T>>>>,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<T> LcoreJoin<T> {
    /// The lcore the closure runs on.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    /// Whether the closure has returned.
    pub fn is_finished(&self) -> bool {
        self.slot.lock().map(|g| g.is_some()).unwrap_or(true)
    }

    /// Waits (spinning, as `rte_eal_wait_lcore` does) for the closure and returns its value.
    pub fn join(self) -> Result<T> {
        // SAFETY: the lcore id was valid for rte_eal_remote_launch; rte_eal_wait_lcore only
        // polls that lcore's state with acquire loads.
        unsafe { dpdk_sys::rte_eal_wait_lcore(self.lcore) };
        let taken = self.slot.lock().ok().and_then(|mut g| g.take());
        match taken {
            Some(Ok(value)) => Ok(value),
            _ => Err(Error::LcorePanicked(self.lcore)),
        }
    }
}

/// The calling thread's lcore id, or `None` on a thread EAL does not run (`LCORE_ID_ANY`).
pub fn current_lcore() -> Option<u32> {
    // SAFETY: reads a thread-local variable; valid on any thread, before or after EAL init.
    let id = unsafe { dpdk_sys::shim_rte_lcore_id() };
    (id != dpdk_sys::LCORE_ID_ANY).then_some(id)
}
