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

/// The effective capability set of process `pid` (capget(2), version 3).
pub fn effective_caps(pid: i32) -> io::Result<u64> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Default, Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header { version: LINUX_CAPABILITY_VERSION_3, pid };
    let mut data = [Data::default(); 2];
    // SAFETY: header and data are live, repr(C), and sized as capget's
    // version-3 ABI requires (one header, two data structs).
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut header as *mut Header, data.as_mut_ptr()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::from(data[0].effective) | (u64::from(data[1].effective) << 32))
}

/// The result of a non-blocking receive.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv {
    /// A datagram of this many bytes is in the buffer.
    Datagram(usize),
    /// The datagram was larger than the buffer; it has been consumed and dropped.
    TooLarge(usize),
    WouldBlock,
    Closed,
}

/// Receives one datagram into `buf`, whose length is the largest datagram
/// accepted (one recv, with MSG_TRUNC telling the real size).
pub fn recv_datagram(fd: RawFd, buf: &mut [u8]) -> io::Result<Recv> {
    // SAFETY: buf is a live, initialised slice; with MSG_TRUNC the kernel
    // still writes at most buf.len() bytes and only reports the full length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT | libc::MSG_TRUNC) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(Recv::WouldBlock) } else { Err(e) };
    }
    match n as usize {
        // SEQPACKET: zero bytes is the peer's orderly shutdown.
        0 => Ok(Recv::Closed),
        n if n > buf.len() => Ok(Recv::TooLarge(n)),
        n => Ok(Recv::Datagram(n)),
    }
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

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: lim is a live rlimit that getrlimit fills.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: lim is a valid rlimit.
        cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    }
    Ok(lim.rlim_cur)
}

/// chmod(2) by path.
pub fn chmod(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}


// TAP interfaces for the kernel exception path (<linux/if_tun.h>, not in the libc crate).
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    // SAFETY: ifreq is plain old data (a name and a union of plain data); all-zero is valid.
    let mut req: libc::ifreq = unsafe { zeroed() };
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= req.ifr_name.len() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("interface name `{name}` must be 1 to 15 bytes")));
    }
    for (dst, &src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// Creates (or attaches to) TAP interface `name`, without packet information headers;
/// the descriptor is non-blocking. The interface lives as long as the descriptor.
pub fn tap_open(name: &str) -> io::Result<OwnedFd> {
    let path = b"/dev/net/tun\0";
    // SAFETY: path is a NUL-terminated string; open takes no other pointer.
    let fd = cvt(unsafe { libc::open(path.as_ptr().cast(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
    // SAFETY: fd was just returned by open() and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_flags = IFF_TAP | IFF_NO_PI;
    // SAFETY: TUNSETIFF reads and writes one ifreq, which req is, alive for the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF as _, &mut req as *mut libc::ifreq) })?;
    Ok(fd)
}

/// Sets interface `name`'s MAC address and MTU and brings it up (ioctls on a datagram
/// socket, as `ip link set` does through netlink).
pub fn link_setup(name: &str, mac: [u8; 6], mtu: u32) -> io::Result<()> {
    // SAFETY: socket() takes no pointers; a non-negative result is a new fd we own.
    let s = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: s was just returned by socket() and is owned by nobody else.
    let s = unsafe { OwnedFd::from_raw_fd(s) };
    let mut req = ifreq(name)?;
    // SAFETY: writing plain data into the union's sockaddr member.
    unsafe {
        req.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
        for (d, &b) in req.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(&mac) {
            *d = b as libc::c_char;
        }
    }
    // SAFETY: SIOCSIFHWADDR reads one ifreq, alive for the call.
    cvt(unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFHWADDR as _, &req as *const libc::ifreq) })?;
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_mtu = mtu as libc::c_int;
    // SAFETY: SIOCSIFMTU reads one ifreq, alive for the call.
    cvt(unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFMTU as _, &req as *const libc::ifreq) })?;
    let mut req = ifreq(name)?;
    // SAFETY: SIOCGIFFLAGS writes the flags into req, alive for the call.
    cvt(unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req as *mut libc::ifreq) })?;
    // SAFETY: the kernel just filled the flags member of the union.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads one ifreq, alive for the call.
    cvt(unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req as *const libc::ifreq) })?;
    Ok(())
}

/// The index of interface `name`, if it exists.
pub fn if_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: c is a NUL-terminated string alive for the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// Reads one frame from a non-blocking TAP descriptor; `None` when there is none.
pub fn tap_read(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: buf is a live, writable slice of buf.len() bytes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
    }
    Ok(Some(n as usize))
}

/// Writes one frame to a TAP descriptor; `false` when the kernel's queue is full.
pub fn tap_write(fd: RawFd, frame: &[u8]) -> io::Result<bool> {
    // SAFETY: frame is a live slice of frame.len() bytes.
    let n = unsafe { libc::write(fd, frame.as_ptr().cast(), frame.len()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(false) } else { Err(e) };
    }
    Ok(true)
}

/// Whether the process runs as root (real uid 0, as DPDK decides where its runtime files go).
pub fn is_root() -> bool {
    // SAFETY: getuid takes nothing and cannot fail.
    unsafe { libc::getuid() == 0 }
}

/// Sets the calling thread's timer slack: how late the kernel may end its sleeps to batch
/// wake-ups (50 µs by default, more than a worker's shortest idle back-off).
pub fn set_timer_slack(ns: u64) -> io::Result<()> {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and touches no memory of ours.
    cvt(unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong, 0, 0, 0) }).map(drop)
}
