//! A connected unix SOCK_SEQPACKET socket, which std does not offer: how ipvsadm-compat and
//! dpip talk to dpvsd (one datagram per netlink message batch). The only unsafe code of this
//! crate; every block says why it is sound.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A connected unix SOCK_SEQPACKET socket.
#[derive(Debug)]
pub struct SeqPacket {
    fd: OwnedFd,
}

impl SeqPacket {
    /// Connects to the socket at `path`.
    pub fn connect(path: &Path) -> io::Result<SeqPacket> {
        let bytes = path.as_os_str().as_bytes();
        // SAFETY: sockaddr_un is plain old data, for which all-zero bytes are a valid value.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        if bytes.len() >= addr.sun_path.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "socket path too long"));
        }
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + bytes.len() + 1;
        // SAFETY: socket(2) with constant arguments; the result is checked before use.
        let raw = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns; OwnedFd closes it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: `addr` is an initialised sockaddr_un that outlives the call and `len` does
        // not exceed its size (checked against sun_path above).
        let rc = unsafe {
            libc::connect(fd.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len as libc::socklen_t)
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SeqPacket { fd })
    }

    /// Sends one datagram.
    pub fn send(&self, data: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: `data` is a readable buffer of the length passed.
            let n = unsafe { libc::send(self.fd.as_raw_fd(), data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Receives one whole datagram into `buf` (grown when the datagram is larger); returns
    /// its length (0: the peer closed).
    pub fn recv(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            if buf.len() < 65536 {
                buf.resize(65536, 0);
            }
            // SAFETY: `buf` is a writable buffer of the length passed; MSG_PEEK leaves the
            // datagram queued and MSG_TRUNC reports its full length.
            let n = unsafe {
                libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK | libc::MSG_TRUNC)
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let n = n as usize;
            if n > buf.len() {
                buf.resize(n, 0);
            }
            // SAFETY: as above, without MSG_PEEK: this consumes the datagram.
            let m = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if m < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            return Ok(m as usize);
        }
    }
}

impl From<SeqPacket> for OwnedFd {
    /// The socket's descriptor, for callers that speak on it themselves.
    fn from(s: SeqPacket) -> OwnedFd {
        s.fd
    }
}
