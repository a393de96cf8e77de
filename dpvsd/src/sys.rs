//! The daemon's only FFI: unix SOCK_SEQPACKET sockets, peer credentials and a
//! signalfd, none of which std offers. Every unsafe block states why it is sound.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn sockaddr_un(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "socket path too long"));
    }
    for (dst, &src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    let len = size_of::<libc::sa_family_t>() + bytes.len() + 1;
    Ok((addr, len as libc::socklen_t))
}

fn seqpacket_socket(nonblocking: bool) -> io::Result<OwnedFd> {
    let mut ty = libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC;
    if nonblocking {
        ty |= libc::SOCK_NONBLOCK;
    }
    // SAFETY: socket() takes no pointers; a non-negative result is a new fd we own.
    let fd = cvt(unsafe { libc::socket(libc::AF_UNIX, ty, 0) })?;
    // SAFETY: fd was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A non-blocking listening SOCK_SEQPACKET socket bound at `path`.
pub fn seqpacket_listen(path: &Path, backlog: i32) -> io::Result<OwnedFd> {
    let fd = seqpacket_socket(true)?;
    let (addr, len) = sockaddr_un(path)?;
    // SAFETY: addr is a valid sockaddr_un and len does not exceed its size.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) })?;
    // SAFETY: listen() takes no pointers.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) })?;
    Ok(fd)
}

/// A blocking SOCK_SEQPACKET connection to `path`.
pub fn seqpacket_connect(path: &Path) -> io::Result<OwnedFd> {
    let fd = seqpacket_socket(false)?;
    let (addr, len) = sockaddr_un(path)?;
    // SAFETY: addr is a valid sockaddr_un and len does not exceed its size.
    cvt(unsafe { libc::connect(fd.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) })?;
    Ok(fd)
}

/// Accepts one pending connection (non-blocking, close-on-exec); None when
/// there is none.
pub fn accept(listener: RawFd) -> io::Result<Option<OwnedFd>> {
    // SAFETY: null address pointers are allowed by accept4; no memory is written.
    let ret = unsafe {
        libc::accept4(listener, std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
    };
    match cvt(ret) {
        // SAFETY: accept4 returned a new fd that nobody else owns.
        Ok(fd) => Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) })),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The credentials of a connected unix peer (SO_PEERCRED).
#[derive(Debug, Clone, Copy)]
pub struct PeerCred {
    pub pid: i32,
    pub uid: u32,
}

pub fn peer_cred(fd: RawFd) -> io::Result<PeerCred> {
    // SAFETY: ucred is plain old data; all-zero is valid.
    let mut cred: libc::ucred = unsafe { zeroed() };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len point to live locals of the sizes getsockopt is told.
    cvt(unsafe {
        libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED, (&mut cred as *mut libc::ucred).cast(), &mut len)
    })?;
    Ok(PeerCred { pid: cred.pid, uid: cred.uid })
}

/// The result of a non-blocking receive.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv {
    /// A datagram of this many bytes is in the buffer.
    Datagram(usize),
    /// The datagram was larger than `max`; it has been consumed and dropped.
    TooLarge(usize),
    WouldBlock,
    Closed,
}

/// Receives one datagram into `buf` (resized to fit, up to `max` bytes).
pub fn recv_datagram(fd: RawFd, buf: &mut Vec<u8>, max: usize) -> io::Result<Recv> {
    let mut probe = [0u8; 1];
    // SAFETY: probe is a live 1-byte buffer; MSG_TRUNC makes recv report the
    // full datagram length without writing past the buffer.
    let peeked = unsafe {
        libc::recv(fd, probe.as_mut_ptr().cast(), 1, libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_DONTWAIT)
    };
    if peeked < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(Recv::WouldBlock) } else { Err(e) };
    }
    let want = peeked as usize;
    if want == 0 {
        // A zero-length datagram and EOF look alike on a peek: read it to know.
        // SAFETY: probe is a live 1-byte buffer.
        let n = unsafe { libc::recv(fd, probe.as_mut_ptr().cast(), 1, libc::MSG_DONTWAIT) };
        return match n {
            0 => Ok(Recv::Closed),
            n if n < 0 => Err(io::Error::last_os_error()),
            _ => Ok(Recv::Datagram(0)),
        };
    }
    let cap = want.min(max);
    buf.resize(cap, 0);
    // SAFETY: buf has cap initialised bytes; recv writes at most cap bytes.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), cap, libc::MSG_DONTWAIT | libc::MSG_TRUNC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    if n > cap {
        return Ok(Recv::TooLarge(n));
    }
    buf.truncate(n);
    Ok(Recv::Datagram(n))
}

/// Sends one datagram without blocking and without SIGPIPE. Ok(false) when
/// the socket buffer is full.
pub fn send_datagram(fd: RawFd, data: &[u8]) -> io::Result<bool> {
    // SAFETY: data is a live slice of data.len() bytes.
    let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(false) } else { Err(e) };
    }
    Ok(true)
}

/// Blocks SIGTERM, SIGINT and SIGHUP for this thread (and threads it starts)
/// and returns a non-blocking signalfd that reports them.
pub fn signalfd() -> io::Result<OwnedFd> {
    // SAFETY: sigset_t is plain old data; sigemptyset initialises it below.
    let mut set: libc::sigset_t = unsafe { zeroed() };
    // SAFETY: set is a live sigset_t; these calls only write into it.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
    }
    // SAFETY: set is initialised; a null old-set pointer is allowed.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    // SAFETY: set is initialised; -1 asks for a new fd.
    let fd = cvt(unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) })?;
    // SAFETY: signalfd returned a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one pending signal number from a signalfd.
pub fn read_signal(fd: RawFd) -> io::Result<Option<i32>> {
    // SAFETY: signalfd_siginfo is plain old data; all-zero is valid.
    let mut info: libc::signalfd_siginfo = unsafe { zeroed() };
    let size = size_of::<libc::signalfd_siginfo>();
    // SAFETY: info is a live buffer of exactly `size` bytes.
    let n = unsafe { libc::read(fd, (&mut info as *mut libc::signalfd_siginfo).cast(), size) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
    }
    Ok(if n as usize == size { Some(info.ssi_signo as i32) } else { None })
}

/// chmod(2) by path.
pub fn chmod(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

