//! Test helper (run by tests/shim.rs under `LD_PRELOAD`): a raw-libc netlink
//! client exercising the shim's socket emulation step by step, printing one
//! `key=value` line per observation.
//!
//! It opens a NETLINK_GENERIC socket like libnl does, asks for the "IPVS"
//! family, inspects addresses, options and dups, then prints `ready` and waits
//! for a line on stdin (the test restarts its fake dpvsd meanwhile) before
//! reading from the dead connection and sending again. At `again` the test
//! puts a dpvsd there that dies without reading the next request; at
//! `waiting` it takes dpvsd away for good.

use std::io::BufRead;

fn nlmsg(ty: u16, flags: u16, seq: u32, pid: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&pid.to_ne_bytes());
    v.extend_from_slice(payload);
    v
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn sockaddr_nl(pid: u32) -> libc::sockaddr_nl {
    // SAFETY: all-zero sockaddr_nl is valid.
    let mut a: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    a.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    a.nl_pid = pid;
    a
}

fn local_port(fd: i32) -> (i32, u32, u32) {
    let mut a = sockaddr_nl(0);
    let mut len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: `a` is a writable sockaddr_nl of `len` bytes.
    let r = unsafe { libc::getsockname(fd, std::ptr::addr_of_mut!(a).cast(), &mut len) };
    (r, len, a.nl_pid)
}

/// sendmsg with a kernel destination address, as libnl does.
fn send_to_kernel(fd: i32, msg: &[u8]) -> isize {
    let mut dst = sockaddr_nl(0);
    let mut iov = libc::iovec {
        iov_base: msg.as_ptr() as *mut libc::c_void,
        iov_len: msg.len(),
    };
    // SAFETY: all-zero msghdr is valid.
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    m.msg_name = std::ptr::addr_of_mut!(dst).cast();
    m.msg_namelen = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    m.msg_iov = &mut iov;
    m.msg_iovlen = 1;
    // SAFETY: `m` describes valid buffers.
    unsafe { libc::sendmsg(fd, &m, 0) }
}

/// A GET_INFO (command 15) to the IPVS family (0x2a) with sequence `seq`.
fn send_get_info(fd: i32, seq: u32, port: u32) -> isize {
    send_to_kernel(fd, &nlmsg(0x2a, 5, seq, port, &[15, 1, 0, 0]))
}

/// The type and sequence number of the netlink message at the start of `buf`.
fn type_and_seq(buf: &[u8]) -> (u16, u32) {
    (
        u16::from_ne_bytes([buf[4], buf[5]]),
        u32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]),
    )
}

/// Prints `marker` and waits for a line on stdin (the test changes dpvsd meanwhile).
fn pause(marker: &str) {
    println!("{marker}");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

/// recvmsg as libnl does; returns (result, errno, namelen, family, pid, flags).
fn recv_like_libnl(fd: i32, buf: &mut [u8], flags: i32) -> (isize, i32, u32, u16, u32, i32) {
    let mut src = sockaddr_nl(0xffff_ffff);
    src.nl_family = 0xffff;
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: all-zero msghdr is valid.
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    m.msg_name = std::ptr::addr_of_mut!(src).cast();
    m.msg_namelen = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    m.msg_iov = &mut iov;
    m.msg_iovlen = 1;
    // SAFETY: `m` describes valid buffers.
    let r = unsafe { libc::recvmsg(fd, &mut m, flags) };
    (
        r,
        errno(),
        m.msg_namelen,
        src.nl_family,
        src.nl_pid,
        m.msg_flags,
    )
}

fn main() {
    // SAFETY: plain socket(2) call (interposed by the shim under test).
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_GENERIC,
        )
    };
    println!("socket_ok={}", fd >= 0);
    let any = sockaddr_nl(0);
    let len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: `any` is a valid sockaddr_nl.
    let r = unsafe { libc::bind(fd, std::ptr::addr_of!(any).cast(), len) };
    println!("bind={r}");
    let (_, _, port) = local_port(fd);
    println!("port_nonzero={}", port != 0);

    let mut gf = vec![3u8, 1, 0, 0, 9, 0, 2, 0];
    gf.extend_from_slice(b"IPVS\0\0\0\0");
    let sent = send_to_kernel(fd, &nlmsg(0x10, 5, 1, port, &gf));
    println!("sent_getfamily={sent}");

    let mut buf = vec![0u8; 4];
    let (r, _, namelen, fam, pid, flags) =
        recv_like_libnl(fd, &mut buf, libc::MSG_PEEK | libc::MSG_TRUNC);
    println!(
        "peek_trunc_len={r} namelen={namelen} family={fam} pid={pid} trunc={}",
        flags & libc::MSG_TRUNC != 0
    );
    let mut buf = vec![0u8; 16384];
    let (r, _, namelen, fam, pid, flags) = recv_like_libnl(fd, &mut buf, 0);
    println!(
        "reply_len={r} namelen={namelen} family={fam} pid={pid} ctrunc={}",
        flags & libc::MSG_CTRUNC != 0
    );
    let (r, _, _, _, _, _) = recv_like_libnl(fd, &mut buf, 0);
    println!("ack_len={r}");

    let (r, len, pid) = local_port(fd);
    println!("getsockname={r} len={len} same_port={}", pid == port);

    let mut v: i32 = 7;
    let mut vlen = 4 as libc::socklen_t;
    // SAFETY: `v` and `vlen` are valid.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_NETLINK,
            libc::NETLINK_EXT_ACK,
            std::ptr::addr_of_mut!(v).cast(),
            &mut vlen,
        )
    };
    println!("getsockopt_netlink={r} value={v}");
    let one: i32 = 1;
    // SAFETY: `one` is a valid int.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_NETLINK,
            libc::NETLINK_EXT_ACK,
            std::ptr::addr_of!(one).cast(),
            4,
        )
    };
    println!("setsockopt_netlink={r}");
    // SAFETY: `v` and `vlen` are valid.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PROTOCOL,
            std::ptr::addr_of_mut!(v).cast(),
            &mut vlen,
        )
    };
    println!("so_protocol={r} value={v}");
    // SAFETY: F_GETFD takes no argument.
    let fdflags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    println!("cloexec={}", fdflags & libc::FD_CLOEXEC != 0);

    // SAFETY: plain dup(2).
    let fd2 = unsafe { libc::dup(fd) };
    let (_, _, pid2) = local_port(fd2);
    println!("dup_same_port={}", pid2 == port);
    // SAFETY: closing our dup.
    unsafe { libc::close(fd2) };

    // a second socket, non-blocking and without close-on-exec, never bound
    // (the shim binds it like the kernel's autobind would)
    // SAFETY: plain socket(2) call.
    let nb = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK,
            libc::NETLINK_GENERIC,
        )
    };
    let sent = send_to_kernel(nb, &nlmsg(0x10, 5, 1, 0, &gf));
    let (_, _, nb_port) = local_port(nb);
    // SAFETY: F_GETFL / F_GETFD take no argument.
    let (fl, fdfl) = unsafe {
        (
            libc::fcntl(nb, libc::F_GETFL),
            libc::fcntl(nb, libc::F_GETFD),
        )
    };
    println!(
        "nb_sent={sent} nb_port_nonzero={} nb_nonblock={} nb_cloexec={}",
        // (it may equal the first socket's: that kernel socket is gone, so
        // the kernel may autobind the same id again)
        nb_port != 0,
        fl & libc::O_NONBLOCK != 0,
        fdfl & libc::FD_CLOEXEC != 0
    );
    // reply and ACK, then nothing: EAGAIN, not a hang
    let mut got = Vec::new();
    for _ in 0..3 {
        let mut r;
        loop {
            let res = recv_like_libnl(nb, &mut buf, 0);
            r = res;
            if !(r.0 == -1 && r.1 == libc::EAGAIN && got.len() < 2) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        got.push(if r.0 < 0 && r.1 == libc::EAGAIN {
            "eagain".to_string()
        } else {
            r.0.to_string()
        });
    }
    println!("nb_reads={}", got.join(","));
    // SAFETY: closing our socket.
    unsafe { libc::close(nb) };

    pause("ready");

    // dpvsd went away: a read is a reset, never end-of-file
    let (r, e, _, _, _, _) = recv_like_libnl(fd, &mut buf, 0);
    println!(
        "recv_after_restart={r} econnreset={}",
        e == libc::ECONNRESET
    );

    // the next request reconnects transparently
    let sent = send_get_info(fd, 2, port);
    println!("sent_after_restart={sent}");
    let (r, _, namelen, _, _, _) = recv_like_libnl(fd, &mut buf, 0);
    let (ty, _) = type_and_seq(&buf);
    println!("reply_after_restart_len={r} type={ty} namelen={namelen}");
    let (_, _, pid) = local_port(fd);
    println!("port_kept={}", pid == port);
    // SAFETY: F_GETFD takes no argument.
    let fdflags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    println!("cloexec_kept={}", fdflags & libc::FD_CLOEXEC != 0);

    pause("again");
    // dpvsd restarted again, took this request and died without reading it:
    // the read finds the connection reset, and the shim sends the request to
    // the dpvsd that comes back.
    let sent = send_get_info(fd, 3, port);
    println!("sent_before_crash={sent}");
    let (r, _, _, _, _, _) = recv_like_libnl(fd, &mut buf, 0);
    let (ty, seq) = type_and_seq(&buf);
    println!("reply_after_crash_len={r} type={ty} seq={seq}");

    pause("waiting");
    // dpvsd gone for good: after waiting for it (DPVS_SHIM_RECONNECT_MS), the
    // shim answers the request as a kernel refusing it would: NLMSG_ERROR
    // with -ECONNREFUSED and the request's seq.
    let sent = send_get_info(fd, 4, port);
    println!("sent_without_dpvsd={sent}");
    let (r, _, namelen, _, _, _) = recv_like_libnl(fd, &mut buf, 0);
    let (ty, seq) = type_and_seq(&buf);
    let err = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
    println!(
        "answer_without_dpvsd_len={r} type={ty} seq={seq} econnrefused={} namelen={namelen}",
        err == -libc::ECONNREFUSED
    );
    // SAFETY: closing our socket.
    println!("close={}", unsafe { libc::close(fd) });
}
