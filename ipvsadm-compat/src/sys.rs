//! Every unsafe call of ipvsadm-compat (the unix SOCK_SEQPACKET socket to dpvsd is the
//! `seqpacket` crate's, shared with dpip): the C library's name services (`gethostbyname`, `gethostbyaddr`,
//! `getservbyname`, `getservbyport`, which read /etc/hosts, /etc/services and NSS exactly as
//! ipvsadm does), `strerror`, and the probe of the kernel's old IPVS socket-option API that
//! ipvsadm makes when generic netlink has no IPVS family.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::parse::Names;

extern "C" {
    // Not bound by the libc crate; glibc's declarations (netdb.h).
    fn gethostbyname(name: *const libc::c_char) -> *mut libc::hostent;
    fn gethostbyaddr(addr: *const libc::c_void, len: libc::socklen_t, af: libc::c_int) -> *mut libc::hostent;
}

pub use seqpacket::SeqPacket;

/// The C library's name services.
#[derive(Debug, Clone, Copy, Default)]
pub struct LibcNames;

impl Names for LibcNames {
    fn host_v4(&self, name: &str) -> Option<[u8; 4]> {
        let c = CString::new(name).ok()?;
        // SAFETY: `c` is a NUL-terminated string that outlives the call; the result points to
        // static storage of the C library, read at once below (this program has one thread).
        let h = unsafe { gethostbyname(c.as_ptr()) };
        if h.is_null() {
            return None;
        }
        // SAFETY: a non-null hostent from gethostbyname is valid until the next call.
        let h = unsafe { &*h };
        if h.h_addrtype != libc::AF_INET || h.h_length != 4 || h.h_addr_list.is_null() {
            return None;
        }
        // SAFETY: h_addr_list is a NULL-terminated array; its first entry, when not NULL, points
        // to h_length (4) bytes.
        let first = unsafe { *h.h_addr_list };
        if first.is_null() {
            return None;
        }
        let mut out = [0u8; 4];
        // SAFETY: `first` points to 4 readable bytes (h_length checked above).
        unsafe { std::ptr::copy_nonoverlapping(first.cast::<u8>(), out.as_mut_ptr(), 4) };
        Some(out)
    }

    fn host_name(&self, af: u16, addr: &[u8]) -> Option<String> {
        // SAFETY: `addr` is readable for its length, which is passed; the result points to
        // static storage of the C library, read at once below.
        let h = unsafe { gethostbyaddr(addr.as_ptr().cast(), addr.len() as libc::socklen_t, libc::c_int::from(af)) };
        if h.is_null() {
            return None;
        }
        // SAFETY: a non-null hostent is valid until the next call; h_name, when not NULL, is
        // a NUL-terminated string.
        let name = unsafe { (*h).h_name };
        if name.is_null() {
            return None;
        }
        // SAFETY: see above.
        Some(unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned())
    }

    fn serv_port(&self, name: &str, proto: &str) -> Option<u16> {
        let (n, p) = (CString::new(name).ok()?, CString::new(proto).ok()?);
        // SAFETY: both strings are NUL-terminated and outlive the call.
        let s = unsafe { libc::getservbyname(n.as_ptr(), p.as_ptr()) };
        if s.is_null() {
            return None;
        }
        // SAFETY: a non-null servent is valid until the next call; s_port is in network order
        // in the low 16 bits.
        Some(u16::from_be(unsafe { (*s).s_port } as u16))
    }

    fn serv_name(&self, port: u16, proto: &str) -> Option<String> {
        let p = CString::new(proto).ok()?;
        // SAFETY: `p` is NUL-terminated and outlives the call.
        let s = unsafe { libc::getservbyport(libc::c_int::from(port.to_be()), p.as_ptr()) };
        if s.is_null() {
            return None;
        }
        // SAFETY: a non-null servent is valid until the next call; s_name is NUL-terminated.
        let name = unsafe { (*s).s_name };
        if name.is_null() {
            return None;
        }
        // SAFETY: see above.
        Some(unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned())
    }
}

/// `strerror(errno)` of the C library (the text ipvsadm prints for errors not in its table).
pub fn strerror(errno: i32) -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: `buf` is writable for the length passed; the XSI strerror_r (which the libc
    // crate binds on glibc) writes a NUL-terminated message into it.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    // SAFETY: strerror_r succeeded, so `buf` holds a NUL-terminated string.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

/// ipvsadm's fallback when generic netlink has no IPVS family: `IP_VS_SO_GET_INFO` on a raw
/// socket. Returns the errno that ends it (None when the kernel answered: an old kernel with
/// the socket-option API only, which ipvsadm-compat does not speak).
pub fn sockopt_get_info_errno() -> Option<i32> {
    const IP_VS_SO_GET_INFO: libc::c_int = 64 + 1024 + 64 + 1;
    // SAFETY: socket(2) with constant arguments; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_RAW) };
    if raw < 0 {
        return Some(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EPERM));
    }
    // SAFETY: `raw` is a fresh descriptor nothing else owns; OwnedFd closes it.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut info = [0u8; 12];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes and `len` is a valid socklen_t.
    let rc = unsafe {
        libc::getsockopt(fd.as_raw_fd(), libc::IPPROTO_IP, IP_VS_SO_GET_INFO, info.as_mut_ptr().cast(), &mut len)
    };
    if rc < 0 {
        return Some(io::Error::last_os_error().raw_os_error().unwrap_or(libc::ENOPROTOOPT));
    }
    None
}
