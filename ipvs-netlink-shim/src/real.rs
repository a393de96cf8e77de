//! The real libc functions behind the ones the shim exports, found with
//! `dlsym(RTLD_NEXT, name)` on first use and cached in an atomic.
//!
//! The shim must never call `libc::socket`, `libc::close`, ... for a function
//! it also exports: inside the preloaded library that name binds to the shim's
//! own export. Functions the shim does not export (`connect`, `write`,
//! `fstat`, `memfd_create`, ...) are called through `libc` directly.

use libc::{c_char, c_int, c_uint, c_void, msghdr, size_t, sockaddr, socklen_t, ssize_t, FILE};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Looks `name` (NUL-terminated) up after this library, caching the address in
/// `cache`. Returns 0 when the symbol does not exist.
fn resolve(cache: &AtomicUsize, name: &'static [u8]) -> usize {
    let cached = cache.load(Ordering::Acquire);
    if cached != 0 {
        return cached;
    }
    if name.last() != Some(&0) {
        return 0;
    }
    // SAFETY: `name` is a NUL-terminated static string (checked above);
    // dlsym with RTLD_NEXT only reads it and returns an address or NULL.
    let addr = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast::<c_char>()) } as usize;
    // Racing threads resolve the same address; last store wins harmlessly.
    cache.store(addr, Ordering::Release);
    addr
}

macro_rules! real_fns {
    ($( $name:ident = $sym:literal : fn($($arg:ty),*) -> $ret:ty; )*) => {
        /// Resolves every real function now (called once when the library is
        /// loaded, so later calls, e.g. a close(2) in a signal handler or in a
        /// forked child, need no dlsym).
        pub fn resolve_all() {
            $( let _ = $name(); )*
        }

        $(
            #[doc = concat!("The next `", $sym, "` after the shim, if it exists.")]
            pub fn $name() -> Option<unsafe extern "C" fn($($arg),*) -> $ret> {
                static CACHE: AtomicUsize = AtomicUsize::new(0);
                let addr = resolve(&CACHE, concat!($sym, "\0").as_bytes());
                if addr == 0 {
                    return None;
                }
                // SAFETY: `addr` is the non-null address dlsym returned for the
                // C library function `$sym`, whose C prototype matches this
                // signature (variadic ones are declared with their one optional
                // integer argument, passed in the same register on the 64-bit
                // Linux ABIs).
                Some(unsafe {
                    std::mem::transmute::<usize, unsafe extern "C" fn($($arg),*) -> $ret>(addr)
                })
            }
        )*
    };
}

real_fns! {
    socket = "socket": fn(c_int, c_int, c_int) -> c_int;
    bind = "bind": fn(c_int, *const sockaddr, socklen_t) -> c_int;
    getsockname = "getsockname": fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
    getpeername = "getpeername": fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
    setsockopt = "setsockopt": fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int;
    getsockopt = "getsockopt": fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int;
    sendmsg = "sendmsg": fn(c_int, *const msghdr, c_int) -> ssize_t;
    sendto = "sendto": fn(c_int, *const c_void, size_t, c_int, *const sockaddr, socklen_t) -> ssize_t;
    send = "send": fn(c_int, *const c_void, size_t, c_int) -> ssize_t;
    recvmsg = "recvmsg": fn(c_int, *mut msghdr, c_int) -> ssize_t;
    recvfrom = "recvfrom": fn(c_int, *mut c_void, size_t, c_int, *mut sockaddr, *mut socklen_t) -> ssize_t;
    recv = "recv": fn(c_int, *mut c_void, size_t, c_int) -> ssize_t;
    close = "close": fn(c_int) -> c_int;
    dup = "dup": fn(c_int) -> c_int;
    dup2 = "dup2": fn(c_int, c_int) -> c_int;
    dup3 = "dup3": fn(c_int, c_int, c_int) -> c_int;
    fcntl = "fcntl": fn(c_int, c_int, usize) -> c_int;
    fcntl64 = "fcntl64": fn(c_int, c_int, usize) -> c_int;
    open = "open": fn(*const c_char, c_int, c_uint) -> c_int;
    open64 = "open64": fn(*const c_char, c_int, c_uint) -> c_int;
    openat = "openat": fn(c_int, *const c_char, c_int, c_uint) -> c_int;
    openat64 = "openat64": fn(c_int, *const c_char, c_int, c_uint) -> c_int;
    open_2 = "__open_2": fn(*const c_char, c_int) -> c_int;
    open64_2 = "__open64_2": fn(*const c_char, c_int) -> c_int;
    openat_2 = "__openat_2": fn(c_int, *const c_char, c_int) -> c_int;
    openat64_2 = "__openat64_2": fn(c_int, *const c_char, c_int) -> c_int;
    fopen = "fopen": fn(*const c_char, *const c_char) -> *mut FILE;
    fopen64 = "fopen64": fn(*const c_char, *const c_char) -> *mut FILE;
}

/// Runs [`resolve_all`] when the dynamic loader initialises the library.
#[cfg(not(test))]
#[used]
#[link_section = ".init_array"]
static RESOLVE_AT_LOAD: extern "C" fn() = {
    extern "C" fn init() {
        // a panic must not unwind into the dynamic loader
        let _ = std::panic::catch_unwind(resolve_all);
    }
    init
};

#[cfg(test)]
mod tests {
    #[test]
    fn resolves_libc_functions() {
        assert!(super::socket().is_some());
        assert!(super::close().is_some());
        assert!(super::fopen().is_some());
        assert!(super::open_2().is_some());
        // cached second time
        assert_eq!(
            super::socket().map(|f| f as usize),
            super::socket().map(|f| f as usize)
        );
    }
}
