//! `libipvs_netlink_shim.so`: an `LD_PRELOAD` library that makes an
//! unmodified IPVS client (Debian's `ipvsadm` 1.31, `keepalived` 2.2.7, both on
//! libnl-3) talk to dpvsd instead of the kernel.
//!
//! ```text
//! LD_PRELOAD=libipvs_netlink_shim.so DPVSD_IPVS_SOCKET=/run/dpvsd/ipvs.sock ipvsadm -Ln
//! ```
//!
//! # Wire contract with dpvsd
//! The shim swaps the program's kernel netlink socket for a unix
//! `SOCK_SEQPACKET` connection to dpvsd (`$DPVSD_IPVS_SOCKET`, else
//! `/run/dpvsd/ipvs.sock`). Every datagram the program sends is exactly the
//! netlink datagram it would have sent to the kernel, starting with the nlctrl
//! `CTRL_CMD_GETFAMILY "IPVS"` request; every datagram dpvsd sends is exactly
//! what the kernel would deliver (replies, a separate ACK datagram,
//! `NLMSG_DONE` after dumps, `NLMSG_ERROR`). dpvsd answers the nlctrl request
//! itself.
//!
//! # How a socket is taken over
//! * `socket(AF_NETLINK, _, NETLINK_GENERIC)` creates the real kernel socket and
//!   marks the descriptor *undecided* in a fixed table of atomics indexed by fd
//!   ([`fdtable`]; 65536 slots, higher fds pass through untouched).
//! * The first `sendmsg`/`sendto`/`send` of a GETFAMILY "IPVS" on an undecided
//!   socket ([`wire::is_getfamily_ipvs`]) connects to dpvsd. On success the
//!   kernel socket's bound port id is remembered, O_NONBLOCK and FD_CLOEXEC
//!   are carried over, and `dup3` puts the unix socket on the same descriptor
//!   number: the program never notices. If dpvsd is not there the socket stays
//!   with the kernel, which answers ENOENT like a kernel without IPVS, so
//!   ipvsadm prints "Can't initialize ipvs: Protocol not available" instead of
//!   hanging. Any other generic-netlink traffic (other families, `genl ctrl
//!   list`) keeps going to the kernel.
//! * On a redirected socket the shim keeps up the netlink illusion libnl
//!   checks for: sends drop the destination address and add MSG_NOSIGNAL;
//!   receives report the sender as `sockaddr_nl {AF_NETLINK, pid 0}` with
//!   length 12, never MSG_CTRUNC; `getsockname` returns the remembered port
//!   id; SOL_NETLINK options are accepted and read as 0; `bind` is a no-op.
//!   MSG_PEEK and MSG_TRUNC behave on unix seqpacket sockets as libnl needs.
//!   A blocking `recvmsg` polls for up to 100 us before it sleeps (the
//!   answer usually comes within that; a wakeup costs more on a VM).
//! * dpvsd restarts are healed, since the kernel it stands in for never goes
//!   away ([`outstanding`]): the last request on each socket is remembered
//!   until its ACK, error or DONE is read. A send that finds dpvsd gone waits
//!   for it (5 s, `DPVS_SHIM_RECONNECT_MS`) and reconnects; a read that finds
//!   the connection closed (end-of-file, or ECONNRESET when dpvsd went away
//!   without reading the request) with a request unanswered reconnects and
//!   sends it again; if dpvsd does not come back, the request gets the
//!   NLMSG_ERROR (ECONNREFUSED) a refusing kernel would send, through a
//!   socketpair put on the descriptor. A read of 0 with nothing awaited is
//!   ECONNRESET: a netlink socket never reads end-of-file.
//! * `close`, `dup*` and `fcntl(F_DUPFD*)` keep the table right; a redirected
//!   entry also carries the socket's inode, so a descriptor number reused
//!   behind the shim's back (a close it did not see) is never mistaken for it.
//!
//! # /proc files
//! Read-only `open*`/`fopen*` of `/proc/net/ip_vs`, `ip_vs_conn`, `ip_vs_stats`
//! (or `/proc/self/net/...`) send dpvsd one `DPVS_PROC_READ` (0x7ff0) request
//! naming the file and copy the reply chunks into a memfd, returned in place
//! of the file ([`wire::decode_proc_reply`]). Without dpvsd the real call runs
//! (ENOENT here, as on a kernel without IPVS).
//!
//! # Living inside someone else's process
//! The real libc functions are found with `dlsym(RTLD_NEXT)` ([`real`]); the shim
//! starts no threads, holds no locks, allocates only when serving a /proc file,
//! and is silent unless `DPVS_SHIM_LOG` is set (then one line per decision on
//! stderr). Every export runs under `catch_unwind` and the code avoids
//! panicking paths, so no panic can unwind into C. The unsafe code is in
//! [`sys`] and [`real`] (plus getenv/write in [`log`]); the protocol logic in
//! [`wire`] and [`fdtable`] is safe and unit-tested. `tests/shim.rs` runs the
//! real ipvsadm, keepalived, genl and cat under the shim against a fake dpvsd,
//! and `examples/nl_client.rs` probes the socket emulation call by call.
//!
//! Limits: one thread per socket at a time is assumed while a socket is being
//! taken over (libnl sockets are not shared between threads); the variadic
//! `open`/`fcntl` are declared with their optional argument as a fixed one,
//! which is how the x86_64 and aarch64 Linux ABIs pass it. The takeover (and a
//! reconnect) replaces the open file behind the descriptor, so an epoll
//! registration made before it would be lost (libnl clients send GETFAMILY
//! right after creating the socket, before any such registration), and the
//! kernel no longer reserves the old port id: a later kernel socket may be
//! given the same id, which is harmless because dpvsd answers per connection.

pub mod fdtable;
pub mod log;
pub mod outstanding;
pub mod real;
pub mod sys;
pub mod wire;
