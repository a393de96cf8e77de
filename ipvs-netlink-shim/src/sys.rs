//! The FFI boundary: the C functions the shim exports, and the descriptor
//! surgery behind them. All unsafe code of the crate lives here and in
//! [`crate::real`].
//!
//! Every export runs its body under `guard` (no panic crosses into C) and
//! reaches libc only through [`crate::real`] for the names it interposes.
//! In the crate's own unit tests the exports keep their Rust names (no
//! `#[no_mangle]`) so the test harness is not interposed by its own code.

use crate::fdtable::{self, FdState};
use crate::log::shim_log;
use crate::outstanding;
use crate::real;
use crate::wire::{self, ProcError, ProcFile, ProcProgress};
use libc::{c_char, c_int, c_uint, c_void, msghdr, size_t, sockaddr, socklen_t, ssize_t, FILE};
use std::ffi::CStr;
use std::ptr;

/// Where dpvsd listens unless `DPVSD_IPVS_SOCKET` says otherwise.
pub const DEFAULT_SOCKET_PATH: &[u8] = b"/run/dpvsd/ipvs.sock";
/// How long a /proc read waits for dpvsd before giving up with EIO.
const PROC_READ_TIMEOUT_SECS: libc::time_t = 10;
/// Largest reply datagram accepted for a /proc read.
const PROC_DGRAM_MAX: usize = 64 << 20;

/// The calling thread's errno.
pub fn errno() -> c_int {
    // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's errno.
pub fn set_errno(e: c_int) {
    // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() = e }
}

/// Runs an export's body; a panic becomes `on_panic` with errno EIO.
fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(_) => {
            set_errno(libc::EIO);
            on_panic
        }
    }
}

/// The real function `$f`, or return `$fail` with errno ENOSYS.
macro_rules! real_or {
    ($f:ident, $fail:expr) => {
        match real::$f() {
            Some(f) => f,
            None => {
                set_errno(libc::ENOSYS);
                return $fail;
            }
        }
    };
}

// ---------------------------------------------------------------------------
// Small helpers over raw descriptors.

fn real_close(fd: c_int) {
    if let Some(close) = real::close() {
        let saved = errno();
        // SAFETY: closing a descriptor the shim itself created.
        unsafe { close(fd) };
        set_errno(saved);
    }
}

/// Reads an int socket option with the real getsockopt.
fn sockopt_int(fd: c_int, level: c_int, name: c_int) -> Option<c_int> {
    let getsockopt = real::getsockopt()?;
    let mut v: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: `v` and `len` are valid, writable and sized as declared.
    let r = unsafe { getsockopt(fd, level, name, ptr::addr_of_mut!(v).cast(), &mut len) };
    (r == 0).then_some(v)
}

/// True when `fd` really is a kernel NETLINK_GENERIC socket.
fn is_kernel_genl(fd: c_int) -> bool {
    sockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN) == Some(libc::AF_NETLINK)
        && sockopt_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL) == Some(libc::NETLINK_GENERIC)
}

/// The inode behind `fd`.
fn fd_inode(fd: c_int) -> Option<u64> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable `stat`; fstat is not interposed.
    let r = unsafe { libc::fstat(fd, &mut st) };
    (r == 0).then_some(st.st_ino)
}

/// The netlink port the kernel socket `fd` is bound to, binding it (kernel
/// autobind, as the first sendmsg would) if it is not bound yet.
fn kernel_port(fd: c_int) -> Option<u32> {
    let getsockname = real::getsockname()?;
    let read_port = || {
        let mut addr = [0u8; 16];
        let mut len = addr.len() as socklen_t;
        // SAFETY: `addr` is a writable buffer of `len` bytes.
        let r = unsafe { getsockname(fd, addr.as_mut_ptr().cast(), &mut len) };
        if r != 0 || (len as usize) < wire::SOCKADDR_NL_LEN {
            return None;
        }
        Some(u32::from_ne_bytes([addr[4], addr[5], addr[6], addr[7]]))
    };
    let port = read_port()?;
    if port != 0 {
        return Some(port);
    }
    let bind = real::bind()?;
    let any = wire::sockaddr_nl_bytes(0);
    // SAFETY: `any` is a 12-byte sockaddr_nl; bind only reads it.
    unsafe { bind(fd, any.as_ptr().cast(), any.len() as socklen_t) };
    read_port().filter(|&p| p != 0)
}

/// Connects a new unix seqpacket socket (close-on-exec) to dpvsd.
fn connect_dpvsd() -> Result<c_int, c_int> {
    // SAFETY: an all-zero sockaddr_un is valid (empty path).
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    // SAFETY: getenv takes a static NUL-terminated name; the result, if not
    // NULL, is a NUL-terminated string that is copied out at once.
    let env = unsafe { libc::getenv(c"DPVSD_IPVS_SOCKET".as_ptr()) };
    let path = if env.is_null() {
        DEFAULT_SOCKET_PATH
    } else {
        // SAFETY: non-NULL getenv result: a valid NUL-terminated string.
        let p = unsafe { CStr::from_ptr(env) }.to_bytes();
        if p.is_empty() {
            DEFAULT_SOCKET_PATH
        } else {
            p
        }
    };
    if path.len() >= addr.sun_path.len() {
        return Err(libc::ENAMETOOLONG);
    }
    for (d, &s) in addr.sun_path.iter_mut().zip(path) {
        *d = s as c_char;
    }
    let addr_len =
        (std::mem::offset_of!(libc::sockaddr_un, sun_path) + path.len() + 1) as socklen_t;

    let socket = real_or!(socket, Err(libc::ENOSYS));
    // SAFETY: plain socket(2) call.
    let sock = unsafe { socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(errno());
    }
    loop {
        // SAFETY: `addr` is a valid sockaddr_un of at least `addr_len` bytes;
        // connect is not interposed.
        let r = unsafe { libc::connect(sock, ptr::addr_of!(addr).cast::<sockaddr>(), addr_len) };
        if r == 0 {
            return Ok(sock);
        }
        match errno() {
            libc::EINTR => continue,
            libc::EISCONN => return Ok(sock),
            e => {
                real_close(sock);
                return Err(e);
            }
        }
    }
}

/// Puts the connected unix socket `sock` in place of descriptor `fd`: same
/// number, same O_NONBLOCK and FD_CLOEXEC. `sock` is closed in every case.
/// Returns the inode of the new `fd`.
fn transplant(sock: c_int, fd: c_int) -> Result<u64, c_int> {
    let (Some(fcntl), Some(dup3)) = (real::fcntl(), real::dup3()) else {
        real_close(sock);
        return Err(libc::ENOSYS);
    };
    // SAFETY: F_GETFL / F_GETFD take no argument.
    let (status, fd_flags) = unsafe { (fcntl(fd, libc::F_GETFL, 0), fcntl(fd, libc::F_GETFD, 0)) };
    if status < 0 || fd_flags < 0 {
        let e = errno();
        real_close(sock);
        return Err(e);
    }
    if status & libc::O_NONBLOCK != 0 {
        // SAFETY: F_GETFL/F_SETFL on a socket the shim owns.
        unsafe {
            let cur = fcntl(sock, libc::F_GETFL, 0).max(0);
            fcntl(sock, libc::F_SETFL, (cur | libc::O_NONBLOCK) as usize);
        }
    }
    let cloexec = if fd_flags & libc::FD_CLOEXEC != 0 {
        libc::O_CLOEXEC
    } else {
        0
    };
    // SAFETY: dup3 atomically replaces `fd` (the program's kernel socket, or
    // the dead unix socket on reconnect) with `sock`.
    let r = unsafe { dup3(sock, fd, cloexec) };
    let e = errno();
    real_close(sock);
    if r < 0 {
        return Err(e);
    }
    Ok(fd_inode(fd).unwrap_or(0))
}

/// The state of `fd`, forgetting a Redirected entry whose descriptor number
/// now names a different file (closed and reused behind the shim's back).
fn current_state(fd: c_int) -> FdState {
    match fdtable::get(fd) {
        FdState::Redirected { ino, .. } if ino != 0 && fd_inode(fd) != Some(ino) => {
            shim_log!("fd {fd}: no longer the dpvsd connection, forgetting it");
            fdtable::clear(fd);
            FdState::Untracked
        }
        s => s,
    }
}

/// A GenlUndecided socket is sending `head` (a prefix of its datagram):
/// decide whether it becomes dpvsd's, and return its state afterwards.
fn decide(fd: c_int, head: &[u8]) -> FdState {
    if !wire::is_getfamily_ipvs(head) {
        return FdState::GenlUndecided;
    }
    if !is_kernel_genl(fd) {
        shim_log!("fd {fd}: not a NETLINK_GENERIC socket any more, untracking");
        fdtable::clear(fd);
        return FdState::Untracked;
    }
    let Some(nl_pid) = kernel_port(fd) else {
        shim_log!("fd {fd}: GETFAMILY IPVS but no netlink port, leaving it with the kernel");
        fdtable::set(fd, FdState::Kernel);
        return FdState::Kernel;
    };
    let sock = match connect_dpvsd() {
        Ok(s) => s,
        Err(e) => {
            shim_log!("fd {fd}: GETFAMILY IPVS, dpvsd unreachable (errno {e}), leaving it with the kernel");
            fdtable::set(fd, FdState::Kernel);
            return FdState::Kernel;
        }
    };
    match transplant(sock, fd) {
        Ok(ino) => {
            let state = FdState::Redirected { nl_pid, ino };
            fdtable::set(fd, state);
            shim_log!("fd {fd}: GETFAMILY IPVS, redirected to dpvsd (nl_pid {nl_pid})");
            state
        }
        Err(e) => {
            shim_log!(
                "fd {fd}: GETFAMILY IPVS, redirect failed (errno {e}), leaving it with the kernel"
            );
            fdtable::set(fd, FdState::Kernel);
            FdState::Kernel
        }
    }
}

/// Connects afresh to dpvsd in place of the Redirected `fd` (dpvsd restarted).
fn reconnect(fd: c_int, nl_pid: u32) -> Result<(), c_int> {
    let sock = connect_dpvsd()?;
    let ino = transplant(sock, fd)?;
    fdtable::set(fd, FdState::Redirected { nl_pid, ino });
    Ok(())
}

/// How long a send or a receive waits for a restarted dpvsd before the
/// program is told it is gone (`DPVS_SHIM_RECONNECT_MS` overrides): a kernel
/// never goes away, and systemd restarts dpvsd within a second or two.
fn reconnect_wait() -> std::time::Duration {
    // SAFETY: getenv takes a static NUL-terminated name; a non-NULL result is
    // a NUL-terminated string, copied out at once.
    let env = unsafe { libc::getenv(c"DPVS_SHIM_RECONNECT_MS".as_ptr()) };
    let ms = if env.is_null() {
        None
    } else {
        // SAFETY: non-NULL getenv result: a valid NUL-terminated string.
        unsafe { CStr::from_ptr(env) }.to_str().ok().and_then(|v| v.parse::<u64>().ok())
    };
    std::time::Duration::from_millis(ms.unwrap_or(5000))
}

/// Reconnects, retrying every 50 ms for up to [`reconnect_wait`].
fn reconnect_patiently(fd: c_int, nl_pid: u32) -> Result<(), c_int> {
    let start = std::time::Instant::now();
    let wait = reconnect_wait();
    loop {
        match reconnect(fd, nl_pid) {
            Ok(()) => return Ok(()),
            Err(e) if start.elapsed() >= wait => return Err(e),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}

/// Puts a socket on `fd` that holds one datagram, the kernel's NLMSG_ERROR
/// for `request`, and then reads end-of-file: the program gets its answer
/// with the kernel's read semantics (peek, truncation), and its next send
/// finds the socket closed and reconnects.
fn answer_locally(fd: c_int, nl_pid: u32, request: &[u8], refusal: c_int) -> Result<(), c_int> {
    let Some(send) = real::send() else { return Err(libc::ENOSYS) };
    let reply = wire::error_reply(request, refusal);
    let mut pair = [-1 as c_int; 2];
    // SAFETY: `pair` is a live array of two ints for socketpair to fill.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, pair.as_mut_ptr()) };
    if r < 0 {
        return Err(errno());
    }
    // SAFETY: `reply` is a live buffer; pair[1] is the socket just created.
    let sent = unsafe { send(pair[1], reply.as_ptr().cast(), reply.len(), libc::MSG_NOSIGNAL) };
    real_close(pair[1]);
    if sent < 0 {
        let e = errno();
        real_close(pair[0]);
        return Err(e);
    }
    let ino = transplant(pair[0], fd)?;
    fdtable::set(fd, FdState::Redirected { nl_pid, ino });
    Ok(())
}

/// Runs a send on a Redirected socket. If dpvsd has gone away, waits for it
/// to come back ([`reconnect_patiently`]) and sends again; if it does not,
/// the request is answered with ECONNREFUSED as an NLMSG_ERROR, so the
/// program learns of the failure the way it learns of any refused request.
fn send_redirected(fd: c_int, nl_pid: u32, request: &[u8], op: impl Fn() -> ssize_t) -> ssize_t {
    let r = op();
    if r >= 0 {
        outstanding::remember(fd, request);
        return r;
    }
    let e = errno();
    if !matches!(e, libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN) {
        return r;
    }
    if reconnect_patiently(fd, nl_pid).is_ok() {
        shim_log!("fd {fd}: dpvsd connection lost (errno {e}), reconnected");
        let r = op();
        if r >= 0 {
            outstanding::remember(fd, request);
        }
        return r;
    }
    shim_log!("fd {fd}: dpvsd connection lost (errno {e}) and dpvsd did not come back");
    match answer_locally(fd, nl_pid, request, libc::ECONNREFUSED) {
        Ok(()) => {
            outstanding::forget(fd);
            request.len() as ssize_t
        }
        Err(_) => {
            set_errno(libc::ECONNREFUSED);
            -1
        }
    }
}

/// Runs a receive on a Redirected socket. A read of 0 means dpvsd closed the
/// connection, which a netlink socket never does; so does ECONNRESET, which is
/// what the read gets instead when dpvsd went away without reading what was
/// sent to it (a crash with a request queued). If a request is awaiting its
/// answer, it is sent again to the restarted dpvsd (keepalived takes EEXIST on
/// add and ENOENT on delete as success, so a request dpvsd had already applied
/// is harmless), or answered with ECONNREFUSED if dpvsd does not come back;
/// then the read is done again. With nothing outstanding the read is
/// ECONNRESET.
fn recv_redirected(fd: c_int, nl_pid: u32, mut op: impl FnMut() -> ssize_t) -> ssize_t {
    let r = op();
    if r > 0 || (r < 0 && errno() != libc::ECONNRESET) {
        return r;
    }
    shim_log!("fd {fd}: dpvsd closed the connection{}", if r < 0 { " (reset)" } else { "" });
    let Some(request) = outstanding::last(fd) else {
        set_errno(libc::ECONNRESET);
        return -1;
    };
    let resent = reconnect_patiently(fd, nl_pid).is_ok() && {
        let Some(send) = real::send() else { return -1 };
        // SAFETY: `request` is a live buffer; `fd` is now the new connection.
        unsafe { send(fd, request.as_ptr().cast(), request.len(), libc::MSG_NOSIGNAL) >= 0 }
    };
    if resent {
        shim_log!("fd {fd}: reconnected and sent the outstanding request again");
    } else if answer_locally(fd, nl_pid, &request, libc::ECONNREFUSED).is_ok() {
        shim_log!("fd {fd}: dpvsd did not come back; answering the outstanding request with ECONNREFUSED");
        outstanding::forget(fd);
    } else {
        set_errno(libc::ECONNRESET);
        return -1;
    }
    match op() {
        0 => {
            set_errno(libc::ECONNRESET);
            -1
        }
        r => r,
    }
}

/// Datagrams up to this size are scanned for the end of an outstanding
/// answer (ACKs, DONEs and errors are small; dump pages are not scanned).
const ANSWER_SCAN_MAX: usize = 4096;

/// The whole datagram described by `msg` (bounded at 1 MiB).
///
/// # Safety
/// `msg` must point to a valid msghdr whose iovecs describe readable memory.
unsafe fn gather_all(msg: *const msghdr) -> Vec<u8> {
    if msg.is_null() {
        return Vec::new();
    }
    // SAFETY: the caller guarantees `msg` is a valid msghdr.
    let m = unsafe { &*msg };
    let mut total = 0usize;
    for i in 0..m.msg_iovlen {
        // SAFETY: `i < msg_iovlen`, inside the caller's iovec array.
        total = total.saturating_add(unsafe { &*m.msg_iov.add(i) }.iov_len);
    }
    let mut out = vec![0u8; total.min(1 << 20)];
    // SAFETY: as above; gather_head copies at most out.len() bytes.
    let n = unsafe { gather_head(msg, &mut out) };
    out.truncate(n);
    out
}

/// Copies the first bytes of the datagram described by `msg` into `out`.
///
/// # Safety
/// `msg` must point to a valid msghdr whose iovecs describe readable memory.
unsafe fn gather_head(msg: *const msghdr, out: &mut [u8]) -> usize {
    if msg.is_null() {
        return 0;
    }
    // SAFETY: the caller guarantees `msg` is a valid msghdr.
    let m = unsafe { &*msg };
    if m.msg_iov.is_null() {
        return 0;
    }
    let mut n = 0;
    for i in 0..m.msg_iovlen {
        // SAFETY: `i < msg_iovlen`, so the iovec is inside the caller's array.
        let iov = unsafe { &*m.msg_iov.add(i) };
        if iov.iov_base.is_null() {
            continue;
        }
        let take = iov.iov_len.min(out.len() - n);
        // SAFETY: the iovec describes `iov_len` readable bytes; `take` is no more.
        let src = unsafe { std::slice::from_raw_parts(iov.iov_base.cast::<u8>(), take) };
        if let Some(dst) = out.get_mut(n..n + take) {
            dst.copy_from_slice(src);
        }
        n += take;
        if n == out.len() {
            break;
        }
    }
    n
}

/// The state to act on for a send on `fd` whose datagram starts with `head`.
fn state_for_send(fd: c_int, head: impl FnOnce(&mut [u8]) -> usize) -> FdState {
    match current_state(fd) {
        FdState::GenlUndecided => {
            let mut buf = [0u8; 256];
            let n = head(&mut buf);
            decide(fd, buf.get(..n).unwrap_or(&[]))
        }
        s => s,
    }
}

/// Writes `sockaddr_nl {AF_NETLINK, pid}` to a caller's address buffer
/// (truncated to its capacity, as the kernel does) and reports length 12.
///
/// # Safety
/// `addr` must be NULL or writable for `*len` bytes; `len` NULL or valid.
unsafe fn write_nl_addr(addr: *mut sockaddr, len: *mut socklen_t, pid: u32) {
    if addr.is_null() || len.is_null() {
        return;
    }
    let bytes = wire::sockaddr_nl_bytes(pid);
    // SAFETY: `len` is valid per the caller.
    let cap = unsafe { *len } as usize;
    // SAFETY: `addr` has room for `cap` bytes; we write at most that many.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr(), addr.cast::<u8>(), cap.min(bytes.len()));
        *len = bytes.len() as socklen_t;
    }
}

/// Writes an int socket option value the way getsockopt does.
///
/// # Safety
/// `val` writable for `*len` bytes, `len` valid (or either NULL: EFAULT).
unsafe fn write_int_opt(val: *mut c_void, len: *mut socklen_t, v: c_int) -> c_int {
    if val.is_null() || len.is_null() {
        set_errno(libc::EFAULT);
        return -1;
    }
    let bytes = v.to_ne_bytes();
    // SAFETY: `len` valid, `val` writable for `*len` bytes (caller contract).
    unsafe {
        let n = (*len as usize).min(bytes.len());
        ptr::copy_nonoverlapping(bytes.as_ptr(), val.cast::<u8>(), n);
        *len = n as socklen_t;
    }
    0
}

// ---------------------------------------------------------------------------
// /proc/net/ip_vs* served by dpvsd.

enum ProcOutcome {
    /// dpvsd could not be reached: do what the real call does.
    Unreachable,
    /// A memfd holding the file, positioned at 0.
    Served(c_int),
    /// dpvsd was reached but the read failed with this errno.
    Failed(c_int),
}

fn write_all(fd: c_int, mut data: &[u8]) -> Result<(), c_int> {
    while !data.is_empty() {
        // SAFETY: `data` is a valid readable buffer; write is not interposed.
        let r = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if r < 0 {
            match errno() {
                libc::EINTR => continue,
                e => return Err(e),
            }
        }
        data = data.get(r as usize..).unwrap_or(&[]);
    }
    Ok(())
}

fn recv_dgram(sock: c_int, buf: &mut Vec<u8>) -> Result<usize, c_int> {
    let recv = real_or!(recv, Err(libc::ENOSYS));
    loop {
        // SAFETY: `buf` is writable for its length; MSG_PEEK leaves the datagram queued.
        let n = unsafe {
            recv(
                sock,
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_PEEK | libc::MSG_TRUNC,
            )
        };
        if n < 0 {
            match errno() {
                libc::EINTR => continue,
                libc::EAGAIN => return Err(libc::ETIMEDOUT),
                e => return Err(e),
            }
        }
        if n == 0 {
            return Err(libc::EIO);
        }
        let n = n as usize;
        if n > PROC_DGRAM_MAX {
            return Err(libc::EIO);
        }
        if n > buf.len() {
            buf.resize(n, 0);
        }
        // SAFETY: as above; this read consumes the datagram, which fits.
        let got = unsafe { recv(sock, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if got < 0 {
            match errno() {
                libc::EINTR => continue,
                e => return Err(e),
            }
        }
        return Ok(got as usize);
    }
}

/// Asks dpvsd (connected on `sock`) for `file` and copies it into `memfd`.
fn fetch_proc(sock: c_int, file: ProcFile, memfd: c_int) -> Result<(), c_int> {
    let setsockopt = real_or!(setsockopt, Err(libc::ENOSYS));
    let send = real_or!(send, Err(libc::ENOSYS));
    let tv = libc::timeval {
        tv_sec: PROC_READ_TIMEOUT_SECS,
        tv_usec: 0,
    };
    for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: `tv` is a valid timeval of the given size.
        unsafe {
            setsockopt(
                sock,
                libc::SOL_SOCKET,
                opt,
                ptr::addr_of!(tv).cast(),
                std::mem::size_of::<libc::timeval>() as socklen_t,
            )
        };
    }
    let (req, len) = wire::proc_read_request(file);
    // SAFETY: `req` holds `len` initialised bytes.
    let r = unsafe { send(sock, req.as_ptr().cast(), len, libc::MSG_NOSIGNAL) };
    if r < 0 {
        return Err(errno());
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = recv_dgram(sock, &mut buf)?;
        let dgram = buf.get(..n).unwrap_or(&[]);
        match wire::decode_proc_reply(dgram, |chunk| write_all(memfd, chunk)) {
            Ok(ProcProgress::More) => continue,
            Ok(ProcProgress::Done) => return Ok(()),
            Err(ProcError(e)) => return Err(e),
        }
    }
}

fn serve_proc(file: ProcFile, cloexec: bool) -> ProcOutcome {
    let sock = match connect_dpvsd() {
        Ok(s) => s,
        Err(e) => {
            shim_log!(
                "open /proc/net/{}: dpvsd unreachable (errno {e}), passing through",
                file.name()
            );
            return ProcOutcome::Unreachable;
        }
    };
    let flags = if cloexec { libc::MFD_CLOEXEC } else { 0 };
    // SAFETY: c_name is NUL-terminated; memfd_create is not interposed.
    let memfd = unsafe { libc::memfd_create(file.c_name().as_ptr().cast(), flags) };
    if memfd < 0 {
        let e = errno();
        real_close(sock);
        return ProcOutcome::Failed(e);
    }
    let res = fetch_proc(sock, file, memfd);
    real_close(sock);
    match res {
        Ok(()) => {
            // SAFETY: plain lseek on the memfd just written; lseek is not interposed.
            if unsafe { libc::lseek(memfd, 0, libc::SEEK_SET) } < 0 {
                let e = errno();
                real_close(memfd);
                return ProcOutcome::Failed(e);
            }
            fdtable::clear(memfd);
            shim_log!(
                "open /proc/net/{}: served by dpvsd as fd {memfd}",
                file.name()
            );
            ProcOutcome::Served(memfd)
        }
        Err(e) => {
            real_close(memfd);
            shim_log!(
                "open /proc/net/{}: dpvsd read failed (errno {e})",
                file.name()
            );
            ProcOutcome::Failed(e)
        }
    }
}

/// For an open(2)-style call: `Some(result)` when dpvsd serves the file.
///
/// # Safety
/// `path` must be NULL or a valid NUL-terminated string.
unsafe fn try_proc_open(path: *const c_char, flags: c_int) -> Option<c_int> {
    if path.is_null() || !wire::open_flags_read_only(flags) {
        return None;
    }
    // SAFETY: non-NULL and NUL-terminated per the caller.
    let file = ProcFile::from_path(unsafe { CStr::from_ptr(path) }.to_bytes())?;
    match serve_proc(file, flags & libc::O_CLOEXEC != 0) {
        ProcOutcome::Unreachable => None,
        ProcOutcome::Served(fd) => Some(fd),
        ProcOutcome::Failed(e) => {
            set_errno(e);
            Some(-1)
        }
    }
}

/// Common body of the open-family exports.
///
/// # Safety
/// As [`try_proc_open`]; `real_open` must be safe to call.
unsafe fn open_common(
    path: *const c_char,
    flags: c_int,
    real_open: impl FnOnce() -> c_int,
) -> c_int {
    // SAFETY: forwarded caller contract.
    if let Some(r) = unsafe { try_proc_open(path, flags) } {
        return r;
    }
    let fd = real_open();
    if fd >= 0 {
        fdtable::clear(fd);
    }
    fd
}

/// Common body of fopen/fopen64.
///
/// # Safety
/// `path` and `mode` NULL or valid NUL-terminated strings.
unsafe fn fopen_common(
    path: *const c_char,
    mode: *const c_char,
    real_fopen: Option<unsafe extern "C" fn(*const c_char, *const c_char) -> *mut FILE>,
) -> *mut FILE {
    if !path.is_null() && !mode.is_null() {
        // SAFETY: both non-NULL and NUL-terminated per the caller.
        let (p, m) = unsafe {
            (
                CStr::from_ptr(path).to_bytes(),
                CStr::from_ptr(mode).to_bytes(),
            )
        };
        if let (Some(file), Some(cloexec)) = (ProcFile::from_path(p), wire::fopen_mode_read_only(m))
        {
            match serve_proc(file, cloexec) {
                ProcOutcome::Unreachable => {}
                ProcOutcome::Served(fd) => {
                    // SAFETY: `fd` is the shim's own memfd; "r" is a valid mode.
                    let f = unsafe { libc::fdopen(fd, c"r".as_ptr()) };
                    if f.is_null() {
                        let e = errno();
                        real_close(fd);
                        set_errno(e);
                    }
                    return f;
                }
                ProcOutcome::Failed(e) => {
                    set_errno(e);
                    return ptr::null_mut();
                }
            }
        }
    }
    let Some(real_fopen) = real_fopen else {
        set_errno(libc::ENOSYS);
        return ptr::null_mut();
    };
    // SAFETY: forwarding the caller's arguments to the real fopen.
    let f = unsafe { real_fopen(path, mode) };
    if !f.is_null() {
        // SAFETY: `f` is a valid FILE*; fileno is not interposed.
        fdtable::clear(unsafe { libc::fileno(f) });
    }
    f
}

// ---------------------------------------------------------------------------
// Exports.

/// `socket(2)`: NETLINK_GENERIC sockets are watched for a GETFAMILY "IPVS".
///
/// # Safety
/// C ABI entry point; same contract as socket(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    guard(-1, || {
        let real = real_or!(socket, -1);
        // SAFETY: forwarding to the real socket(2).
        let fd = unsafe { real(domain, ty, protocol) };
        if fd >= 0 {
            if domain == libc::AF_NETLINK && protocol == libc::NETLINK_GENERIC {
                fdtable::set(fd, FdState::GenlUndecided);
                shim_log!("fd {fd}: NETLINK_GENERIC socket, watching for GETFAMILY IPVS");
            } else {
                fdtable::clear(fd);
            }
        }
        fd
    })
}

/// `bind(2)`: a no-op on a socket already redirected to dpvsd.
///
/// # Safety
/// C ABI entry point; same contract as bind(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    guard(-1, || {
        if let FdState::Redirected { .. } = current_state(fd) {
            return 0;
        }
        let real = real_or!(bind, -1);
        // SAFETY: forwarding the caller's arguments.
        unsafe { real(fd, addr, len) }
    })
}

/// `getsockname(2)`: a redirected socket reports its old netlink address.
///
/// # Safety
/// C ABI entry point; same contract as getsockname(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    guard(-1, || {
        if let FdState::Redirected { nl_pid, .. } = current_state(fd) {
            if addr.is_null() || len.is_null() {
                set_errno(libc::EFAULT);
                return -1;
            }
            // SAFETY: caller's buffers, checked non-NULL, sized by *len.
            unsafe { write_nl_addr(addr, len, nl_pid) };
            return 0;
        }
        let real = real_or!(getsockname, -1);
        // SAFETY: forwarding the caller's arguments.
        unsafe { real(fd, addr, len) }
    })
}

/// `getpeername(2)`: a redirected socket's peer is the kernel (port 0).
///
/// # Safety
/// C ABI entry point; same contract as getpeername(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    guard(-1, || {
        if let FdState::Redirected { .. } = current_state(fd) {
            if addr.is_null() || len.is_null() {
                set_errno(libc::EFAULT);
                return -1;
            }
            // SAFETY: caller's buffers, checked non-NULL, sized by *len.
            unsafe { write_nl_addr(addr, len, 0) };
            return 0;
        }
        let real = real_or!(getpeername, -1);
        // SAFETY: forwarding the caller's arguments.
        unsafe { real(fd, addr, len) }
    })
}

/// `setsockopt(2)`: SOL_NETLINK options on a redirected socket succeed silently.
///
/// # Safety
/// C ABI entry point; same contract as setsockopt(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    guard(-1, || {
        if level == libc::SOL_NETLINK {
            if let FdState::Redirected { .. } = current_state(fd) {
                return 0;
            }
        }
        let real = real_or!(setsockopt, -1);
        // SAFETY: forwarding the caller's arguments.
        unsafe { real(fd, level, name, val, len) }
    })
}

/// `getsockopt(2)`: SOL_NETLINK options on a redirected socket read 0;
/// SO_DOMAIN and SO_PROTOCOL still say netlink / NETLINK_GENERIC.
///
/// # Safety
/// C ABI entry point; same contract as getsockopt(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    guard(-1, || {
        if let FdState::Redirected { .. } = current_state(fd) {
            let fake = match (level, name) {
                (libc::SOL_NETLINK, _) => Some(0),
                (libc::SOL_SOCKET, libc::SO_DOMAIN) => Some(libc::AF_NETLINK),
                (libc::SOL_SOCKET, libc::SO_PROTOCOL) => Some(libc::NETLINK_GENERIC),
                _ => None,
            };
            if let Some(v) = fake {
                // SAFETY: caller's buffers per getsockopt's contract.
                return unsafe { write_int_opt(val, len, v) };
            }
        }
        let real = real_or!(getsockopt, -1);
        // SAFETY: forwarding the caller's arguments.
        unsafe { real(fd, level, name, val, len) }
    })
}

/// `sendmsg(2)`: where a GETFAMILY "IPVS" switches the socket to dpvsd.
///
/// # Safety
/// C ABI entry point; same contract as sendmsg(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    guard(-1, || {
        let real = real_or!(sendmsg, -1);
        // SAFETY: `msg` is the caller's valid msghdr (sendmsg contract).
        let state = state_for_send(fd, |buf| unsafe { gather_head(msg, buf) });
        match state {
            FdState::Redirected { nl_pid, .. } if !msg.is_null() => {
                // SAFETY: non-NULL, valid per the sendmsg contract; msghdr is Copy.
                let mut m = unsafe { *msg };
                m.msg_name = ptr::null_mut();
                m.msg_namelen = 0;
                // SAFETY: `msg` is the caller's valid msghdr.
                let request = unsafe { gather_all(msg) };
                send_redirected(fd, nl_pid, &request, || {
                    // SAFETY: `m` is the caller's msghdr minus the address.
                    unsafe { real(fd, &m, flags | libc::MSG_NOSIGNAL) }
                })
            }
            // SAFETY: forwarding the caller's arguments.
            _ => unsafe { real(fd, msg, flags) },
        }
    })
}

/// `sendto(2)`.
///
/// # Safety
/// C ABI entry point; same contract as sendto(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addr_len: socklen_t,
) -> ssize_t {
    guard(-1, || {
        let real = real_or!(sendto, -1);
        let state = state_for_send(fd, |head| copy_head(buf, len, head));
        match state {
            FdState::Redirected { nl_pid, .. } => send_redirected(fd, nl_pid, &caller_bytes(buf, len), || {
                // SAFETY: the caller's buffer, without the destination address.
                unsafe { real(fd, buf, len, flags | libc::MSG_NOSIGNAL, ptr::null(), 0) }
            }),
            // SAFETY: forwarding the caller's arguments.
            _ => unsafe { real(fd, buf, len, flags, addr, addr_len) },
        }
    })
}

/// `send(2)`.
///
/// # Safety
/// C ABI entry point; same contract as send(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    guard(-1, || {
        let real = real_or!(send, -1);
        let state = state_for_send(fd, |head| copy_head(buf, len, head));
        match state {
            FdState::Redirected { nl_pid, .. } => send_redirected(fd, nl_pid, &caller_bytes(buf, len), || {
                // SAFETY: forwarding the caller's buffer.
                unsafe { real(fd, buf, len, flags | libc::MSG_NOSIGNAL) }
            }),
            // SAFETY: forwarding the caller's arguments.
            _ => unsafe { real(fd, buf, len, flags) },
        }
    })
}

/// A copy of a caller's send buffer (bounded at 1 MiB).
fn caller_bytes(buf: *const c_void, len: size_t) -> Vec<u8> {
    let mut out = vec![0u8; len.min(1 << 20)];
    let n = copy_head(buf, len, &mut out);
    out.truncate(n);
    out
}

/// Copies up to `out.len()` bytes of a caller's send buffer.
fn copy_head(buf: *const c_void, len: size_t, out: &mut [u8]) -> usize {
    if buf.is_null() {
        return 0;
    }
    let n = len.min(out.len());
    // SAFETY: the send contract makes `buf` readable for `len` bytes; n <= len.
    let src = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), n) };
    if let Some(dst) = out.get_mut(..n) {
        dst.copy_from_slice(src);
    }
    n
}

/// How long a blocking receive on a redirected socket retries without
/// sleeping before it blocks. dpvsd answers within tens of microseconds; a
/// client asleep in recvmsg costs a wakeup per reply, which on a VM is most of
/// a round trip. The kernel's socket busy-poll does the same.
const BUSY_POLL: std::time::Duration = std::time::Duration::from_micros(100);

type RecvmsgFn = unsafe extern "C" fn(c_int, *mut msghdr, c_int) -> ssize_t;

/// recvmsg that first polls without sleeping for [`BUSY_POLL`] when the
/// caller asked to block. On a socket the caller made non-blocking, the
/// first EAGAIN is returned at once.
///
/// # Safety
/// `m` must be a valid msghdr for `fd`, as for recvmsg(2).
unsafe fn recv_busy_polling(real: RecvmsgFn, fd: c_int, m: &mut msghdr, flags: c_int) -> ssize_t {
    if flags & libc::MSG_DONTWAIT == 0 {
        let start = std::time::Instant::now();
        let mut first = true;
        loop {
            // SAFETY: `m` is valid per this function's contract.
            let r = unsafe { real(fd, m, flags | libc::MSG_DONTWAIT) };
            if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN) {
                return r;
            }
            if first {
                first = false;
                if is_nonblocking(fd) {
                    set_errno(libc::EAGAIN);
                    return r;
                }
            }
            if start.elapsed() >= BUSY_POLL {
                break;
            }
            std::hint::spin_loop();
        }
    }
    // SAFETY: `m` is valid per this function's contract.
    unsafe { real(fd, m, flags) }
}

/// True when `fd` has O_NONBLOCK set.
fn is_nonblocking(fd: c_int) -> bool {
    let Some(fcntl) = real::fcntl() else { return false };
    // SAFETY: F_GETFL takes no pointer argument.
    let fl = unsafe { fcntl(fd, libc::F_GETFL, 0) };
    fl >= 0 && fl & libc::O_NONBLOCK != 0
}

/// `recvmsg(2)`: on a redirected socket the sender reads as the kernel.
///
/// # Safety
/// C ABI entry point; same contract as recvmsg(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    guard(-1, || {
        let real = real_or!(recvmsg, -1);
        match current_state(fd) {
            FdState::Redirected { nl_pid, .. } if !msg.is_null() => {
                // SAFETY: non-NULL, valid per the recvmsg contract; msghdr is Copy.
                let mut m = unsafe { *msg };
                m.msg_name = ptr::null_mut();
                m.msg_namelen = 0;
                // SAFETY: `m` is the caller's msghdr minus the address buffer.
                let r = recv_redirected(fd, nl_pid, || unsafe { recv_busy_polling(real, fd, &mut m, flags) });
                if r < 0 {
                    return r;
                }
                if flags & libc::MSG_PEEK == 0 && (r as usize) <= ANSWER_SCAN_MAX {
                    let mut head = [0u8; ANSWER_SCAN_MAX];
                    // SAFETY: `m`'s iovecs hold the r bytes just received.
                    let n = unsafe { gather_head(&m, &mut head[..r as usize]) };
                    outstanding::answered(fd, &head[..n]);
                }
                // SAFETY: `msg` is valid and writable (recvmsg contract).
                let out = unsafe { &mut *msg };
                out.msg_controllen = m.msg_controllen;
                out.msg_flags = m.msg_flags & !libc::MSG_CTRUNC;
                if out.msg_name.is_null() {
                    out.msg_namelen = 0;
                } else {
                    // SAFETY: msg_name is writable for msg_namelen bytes.
                    unsafe { write_nl_addr(out.msg_name.cast(), &mut out.msg_namelen, 0) };
                }
                r
            }
            // SAFETY: forwarding the caller's arguments.
            _ => unsafe { real(fd, msg, flags) },
        }
    })
}

/// `recvfrom(2)`.
///
/// # Safety
/// C ABI entry point; same contract as recvfrom(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addr_len: *mut socklen_t,
) -> ssize_t {
    guard(-1, || {
        let real = real_or!(recvfrom, -1);
        match current_state(fd) {
            FdState::Redirected { nl_pid, .. } => {
                // SAFETY: the caller's buffer; no source address requested.
                let r = recv_redirected(fd, nl_pid, || unsafe {
                    real(fd, buf, len, flags, ptr::null_mut(), ptr::null_mut())
                });
                if r >= 0 {
                    // SAFETY: addr/addr_len NULL or valid per the recvfrom contract.
                    unsafe { write_nl_addr(addr, addr_len, 0) };
                }
                r
            }
            // SAFETY: forwarding the caller's arguments.
            _ => unsafe { real(fd, buf, len, flags, addr, addr_len) },
        }
    })
}

/// `recv(2)`.
///
/// # Safety
/// C ABI entry point; same contract as recv(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    guard(-1, || {
        let real = real_or!(recv, -1);
        // SAFETY: forwarding the caller's arguments.
        let op = || unsafe { real(fd, buf, len, flags) };
        match current_state(fd) {
            FdState::Redirected { nl_pid, .. } => recv_redirected(fd, nl_pid, op),
            _ => op(),
        }
    })
}

/// `close(2)`: forgets the descriptor.
///
/// # Safety
/// C ABI entry point; same contract as close(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    guard(-1, || {
        let real = real_or!(close, -1);
        if matches!(fdtable::get(fd), FdState::Redirected { .. }) {
            outstanding::forget(fd);
        }
        fdtable::clear(fd);
        // SAFETY: forwarding the caller's argument.
        unsafe { real(fd) }
    })
}

/// `dup(2)`: the copy shares the original's state.
///
/// # Safety
/// C ABI entry point; same contract as dup(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    guard(-1, || {
        let real = real_or!(dup, -1);
        // SAFETY: forwarding the caller's argument.
        let new = unsafe { real(fd) };
        if new >= 0 {
            fdtable::copy(fd, new);
        }
        new
    })
}

/// `dup2(2)`.
///
/// # Safety
/// C ABI entry point; same contract as dup2(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn dup2(fd: c_int, new: c_int) -> c_int {
    guard(-1, || {
        let real = real_or!(dup2, -1);
        // SAFETY: forwarding the caller's arguments.
        let r = unsafe { real(fd, new) };
        if r >= 0 && fd != new {
            fdtable::copy(fd, r);
        }
        r
    })
}

/// `dup3(2)`.
///
/// # Safety
/// C ABI entry point; same contract as dup3(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn dup3(fd: c_int, new: c_int, flags: c_int) -> c_int {
    guard(-1, || {
        let real = real_or!(dup3, -1);
        // SAFETY: forwarding the caller's arguments.
        let r = unsafe { real(fd, new, flags) };
        if r >= 0 {
            fdtable::copy(fd, r);
        }
        r
    })
}

fn fcntl_common(
    real: Option<unsafe extern "C" fn(c_int, c_int, usize) -> c_int>,
    fd: c_int,
    cmd: c_int,
    arg: usize,
) -> c_int {
    let Some(real) = real else {
        set_errno(libc::ENOSYS);
        return -1;
    };
    // SAFETY: forwarding the caller's arguments unchanged (the optional
    // argument travels in the same register whatever its C type).
    let r = unsafe { real(fd, cmd, arg) };
    if r >= 0 && (cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC) {
        fdtable::copy(fd, r);
    }
    r
}

/// `fcntl(2)`: F_DUPFD / F_DUPFD_CLOEXEC copies share the original's state.
///
/// Declared with one fixed optional argument: on the 64-bit Linux ABIs a
/// variadic integer or pointer argument is passed exactly like this.
///
/// # Safety
/// C ABI entry point; same contract as fcntl(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    guard(-1, || fcntl_common(real::fcntl(), fd, cmd, arg))
}

/// `fcntl64`: as [`fcntl`].
///
/// # Safety
/// C ABI entry point; same contract as fcntl(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    guard(-1, || {
        fcntl_common(real::fcntl64().or_else(real::fcntl), fd, cmd, arg)
    })
}

/// `open(2)`: the IPVS /proc files come from dpvsd.
///
/// # Safety
/// C ABI entry point; same contract as open(2) (mode read only with O_CREAT/O_TMPFILE).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    guard(-1, || {
        let real = real_or!(open, -1);
        // SAFETY: caller's NUL-terminated path; forwarding the caller's arguments.
        unsafe { open_common(path, flags, || real(path, flags, mode)) }
    })
}

/// `open64`.
///
/// # Safety
/// C ABI entry point; same contract as open(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    guard(-1, || {
        let real = real_or!(open64, -1);
        // SAFETY: caller's NUL-terminated path; forwarding the caller's arguments.
        unsafe { open_common(path, flags, || real(path, flags, mode)) }
    })
}

/// `openat(2)`: absolute IPVS /proc paths come from dpvsd.
///
/// # Safety
/// C ABI entry point; same contract as openat(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn openat(
    dir: c_int,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    guard(-1, || {
        let real = real_or!(openat, -1);
        // SAFETY: caller's NUL-terminated path; forwarding the caller's arguments.
        unsafe { open_common(path, flags, || real(dir, path, flags, mode)) }
    })
}

/// `openat64`.
///
/// # Safety
/// C ABI entry point; same contract as openat(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn openat64(
    dir: c_int,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    guard(-1, || {
        let real = real_or!(openat64, -1);
        // SAFETY: caller's NUL-terminated path; forwarding the caller's arguments.
        unsafe { open_common(path, flags, || real(dir, path, flags, mode)) }
    })
}

/// `__open_2` (the _FORTIFY_SOURCE open without a mode).
///
/// # Safety
/// C ABI entry point; same contract as open(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
    guard(-1, || {
        let real = real_or!(open_2, -1);
        // SAFETY: caller's NUL-terminated path; forwarding the caller's arguments.
        unsafe { open_common(path, flags, || real(path, flags)) }
    })
}

/// `__open64_2`.
///
/// # Safety
/// C ABI entry point; same contract as open(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
    guard(-1, || {
        let real = real_or!(open64_2, -1);
        // SAFETY: caller's NUL-terminated path; forwarding the caller's arguments.
        unsafe { open_common(path, flags, || real(path, flags)) }
    })
}

/// `__openat_2`.
///
/// # Safety
/// C ABI entry point; same contract as openat(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn __openat_2(dir: c_int, path: *const c_char, flags: c_int) -> c_int {
    guard(-1, || {
        let real = real_or!(openat_2, -1);
        // SAFETY: caller's NUL-terminated path; forwarding the caller's arguments.
        unsafe { open_common(path, flags, || real(dir, path, flags)) }
    })
}

/// `__openat64_2`.
///
/// # Safety
/// C ABI entry point; same contract as openat(2).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn __openat64_2(dir: c_int, path: *const c_char, flags: c_int) -> c_int {
    guard(-1, || {
        let real = real_or!(openat64_2, -1);
        // SAFETY: caller's NUL-terminated path; forwarding the caller's arguments.
        unsafe { open_common(path, flags, || real(dir, path, flags)) }
    })
}

/// `fopen(3)`: read-only opens of the IPVS /proc files come from dpvsd.
///
/// # Safety
/// C ABI entry point; same contract as fopen(3).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn fopen(path: *const c_char, mode: *const c_char) -> *mut FILE {
    // SAFETY: the caller's strings per fopen's contract.
    guard(ptr::null_mut(), || unsafe {
        fopen_common(path, mode, real::fopen())
    })
}

/// `fopen64`.
///
/// # Safety
/// C ABI entry point; same contract as fopen(3).
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn fopen64(path: *const c_char, mode: *const c_char) -> *mut FILE {
    // SAFETY: the caller's strings per fopen's contract.
    guard(ptr::null_mut(), || unsafe {
        fopen_common(path, mode, real::fopen64().or_else(real::fopen))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_a_panic_into_eio() {
        set_errno(0);
        let r = guard(-1, || -> c_int { panic!("boom (expected by this test)") });
        assert_eq!((r, errno()), (-1, libc::EIO));
        assert_eq!(guard(-1, || 7), 7);
    }

    #[test]
    fn nl_addr_is_truncated_to_the_callers_buffer() {
        let mut buf = [0xaau8; 16];
        let mut len: socklen_t = 6;
        // SAFETY: `buf` has 16 writable bytes, more than `len`.
        unsafe { write_nl_addr(buf.as_mut_ptr().cast(), &mut len, 0x0102_0304) };
        assert_eq!(len, 12);
        assert_eq!(&buf[..6], &wire::sockaddr_nl_bytes(0x0102_0304)[..6]);
        assert_eq!(&buf[6..], &[0xaa; 10]);

        let mut len: socklen_t = 16;
        // SAFETY: as above.
        unsafe { write_nl_addr(buf.as_mut_ptr().cast(), &mut len, 9) };
        assert_eq!(len, 12);
        assert_eq!(&buf[..12], &wire::sockaddr_nl_bytes(9));
        // NULL pointers are ignored
        // SAFETY: NULL is explicitly allowed.
        unsafe { write_nl_addr(ptr::null_mut(), ptr::null_mut(), 0) };
    }

    #[test]
    fn head_of_a_scattered_datagram() {
        let a = [1u8, 2, 3];
        let b = [4u8, 5, 6, 7];
        let mut iov = [
            libc::iovec {
                iov_base: a.as_ptr() as *mut c_void,
                iov_len: a.len(),
            },
            libc::iovec {
                iov_base: ptr::null_mut(),
                iov_len: 0,
            },
            libc::iovec {
                iov_base: b.as_ptr() as *mut c_void,
                iov_len: b.len(),
            },
        ];
        // SAFETY: an all-zero msghdr is valid.
        let mut m: msghdr = unsafe { std::mem::zeroed() };
        m.msg_iov = iov.as_mut_ptr();
        m.msg_iovlen = iov.len();
        let mut out = [0u8; 5];
        // SAFETY: `m` describes valid iovecs.
        let n = unsafe { gather_head(&m, &mut out) };
        assert_eq!((n, out), (5, [1, 2, 3, 4, 5]));
        // SAFETY: NULL msghdr is handled.
        assert_eq!(unsafe { gather_head(ptr::null(), &mut out) }, 0);

        let mut out = [0u8; 8];
        assert_eq!(copy_head(b.as_ptr().cast(), b.len(), &mut out), 4);
        assert_eq!(&out[..4], &b);
        assert_eq!(copy_head(ptr::null(), 10, &mut out), 0);
    }

    #[test]
    fn write_int_opt_respects_length() {
        let mut v: c_int = -1;
        let mut len: socklen_t = 4;
        // SAFETY: `v` is a writable int of `len` bytes.
        let r = unsafe { write_int_opt(ptr::addr_of_mut!(v).cast(), &mut len, 0) };
        assert_eq!((r, v, len), (0, 0, 4));
        // SAFETY: NULL pointers are rejected, not dereferenced.
        let r = unsafe { write_int_opt(ptr::null_mut(), &mut len, 0) };
        assert_eq!((r, errno()), (-1, libc::EFAULT));
    }
}
