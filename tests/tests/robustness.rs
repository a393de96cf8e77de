//! dpvsd under hostile or careless clients: many at once, malformed datagrams,
//! clients that vanish mid-dump or are killed mid-request. dpvsd must answer
//! as the kernel would or drop the connection, never crash or hang, and never
//! change its state for a refused request.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use dpvs_e2e::{exit_code, skip, Dpvsd};
use ipvs_genl::attr::Attr;
use ipvs_genl::consts::cmd;
use ipvs_genl::frame::{self, decode_reply, genl_message, Reply};
use ipvs_genl::ipvs::{ip_to_raw, FlagsUpdate, ServiceKey, ServiceParams, ServiceSpec};
use ipvs_genl::Errno;

/// A raw client of dpvsd's socket: what the shim does, without the shim.
mod raw {
    use super::*;

    pub struct Client {
        fd: OwnedFd,
        pub family: u16,
        seq: u32,
    }

    fn check(ret: isize, what: &str) -> usize {
        assert!(ret >= 0, "{what}: {}", std::io::Error::last_os_error());
        ret as usize
    }

    impl Client {
        pub fn connect(path: &Path) -> Client {
            let fd = dpvs_e2e::seqpacket_connect_fd(path).expect("connect to dpvsd");
            let tv = libc::timeval { tv_sec: 10, tv_usec: 0 };
            // SAFETY: tv is a live timeval of the size passed.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&tv as *const libc::timeval).cast(),
                    std::mem::size_of::<libc::timeval>() as libc::socklen_t,
                )
            };
            let mut c = Client { fd, family: 0, seq: 0 };
            c.send(&ipvs_genl::ctrl::getfamily_request("IPVS", 1, 0));
            let reply = c.recv().expect("NEWFAMILY");
            let m = frame::messages(&reply).next().expect("a message");
            c.family = ipvs_genl::ctrl::family_id(m.genl().expect("genl").attrs).expect("family id");
            assert_eq!(decode_reply(&frame::messages(&c.recv().expect("ACK")).next().unwrap()), Reply::Ack);
            c
        }

        pub fn send(&self, data: &[u8]) {
            // SAFETY: data is a live slice.
            let n = unsafe { libc::send(self.fd.as_raw_fd(), data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
            check(n, "send");
        }

        /// One datagram; None on EOF. Panics on a 10 s timeout: a hang.
        pub fn recv(&self) -> Option<Vec<u8>> {
            let mut buf = vec![0u8; 1 << 16];
            // SAFETY: buf is live and its length is passed.
            let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            let n = check(n, "recv (a timeout here means dpvsd hung)");
            (n > 0).then(|| {
                buf.truncate(n);
                buf
            })
        }

        pub fn request(&mut self, flags: u16, command: u8, attrs: Vec<Attr>) -> Vec<u8> {
            self.seq += 1;
            genl_message(self.family, flags, self.seq, 0, command, 1, attrs)
        }

        /// Reads until an ACK, an error or DONE; returns the last of those.
        pub fn finish(&self) -> Reply<'static> {
            loop {
                let dg = self.recv().expect("dpvsd closed the connection");
                for m in frame::messages(&dg) {
                    match decode_reply(&m) {
                        Reply::Ack => return Reply::Ack,
                        Reply::Done => return Reply::Done,
                        Reply::Error(e) => return Reply::Error(e),
                        _ => {}
                    }
                }
            }
        }
    }
}

fn service(i: u32) -> ServiceSpec {
    let (af, addr) = ip_to_raw(std::net::Ipv4Addr::from(0x0a00_0000 + i).into());
    ServiceSpec {
        key: ServiceKey::Tuple { af, protocol: 6, addr, port: 80 },
        params: Some(ServiceParams {
            sched_name: "wlc".into(),
            pe_name: None,
            flags: FlagsUpdate { flags: 0, mask: u32::MAX },
            timeout: 0,
            netmask: [255; 4],
        }),
    }
}

fn listing(d: &Dpvsd) -> String {
    let out = d.ipvsadm(&["-Ln"]);
    assert_eq!(exit_code(&out.status), 0, "ipvsadm -Ln: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn fifty_concurrent_clients() {
    if skip() {
        return;
    }
    let d = Dpvsd::start();
    let socket = d.socket().to_path_buf();
    let threads: Vec<_> = (0..50u32)
        .map(|i| {
            let socket = socket.clone();
            thread::spawn(move || {
                let mut c = raw::Client::connect(&socket);
                let add = c.request(0x5, cmd::NEW_SERVICE, vec![service(i + 1).to_attr()]);
                c.send(&add);
                assert_eq!(c.finish(), Reply::Ack);
                let dump = c.request(0x305, cmd::GET_SERVICE, vec![]);
                c.send(&dump);
                assert_eq!(c.finish(), Reply::Done);
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let text = listing(&d);
    assert_eq!(text.lines().filter(|l| l.starts_with("TCP  10.0.0.")).count(), 50, "{text}");
}

#[test]
fn malformed_datagrams_get_kernel_errors_and_change_nothing() {
    if skip() {
        return;
    }
    let d = Dpvsd::start();
    assert_eq!(exit_code(&d.ipvsadm(&["-A", "-t", "10.1.1.1:80", "-s", "rr"]).status), 0);
    let before = listing(&d);
    let mut c = raw::Client::connect(d.socket());

    // Answered with the kernel's errno.
    let short_genl = {
        let mut v = c.request(0x5, cmd::GET_INFO, vec![]);
        v.truncate(18);
        v[..4].copy_from_slice(&18u32.to_ne_bytes());
        v
    };
    let wrong_size = {
        let nest = Attr::Nest(1, vec![Attr::U8(1, 2), Attr::U32(5, 1)]);
        c.request(0x5, cmd::DEL_SERVICE, vec![nest])
    };
    let bad_af = {
        let nest = Attr::Nest(1, vec![Attr::U16(1, 99), Attr::U32(5, 1)]);
        c.request(0x5, cmd::DEL_SERVICE, vec![nest])
    };
    let huge_weight = {
        let dest = ipvs_genl::ipvs::DestSpec {
            addr: ip_to_raw("192.168.0.1".parse().unwrap()).1,
            port: 80,
            af: 2,
            params: Some(ipvs_genl::ipvs::DestParams {
                fwd: 0,
                weight: u32::MAX,
                u_thresh: 0,
                l_thresh: 0,
                tun_type: 0,
                tun_port: 0,
                tun_flags: 0,
            }),
        };
        let addr = ip_to_raw("10.1.1.1".parse().unwrap()).1;
        let svc = ServiceSpec { key: ServiceKey::Tuple { af: 2, protocol: 6, addr, port: 80 }, params: None };
        c.request(0x5, cmd::NEW_DEST, vec![svc.to_attr(), dest.to_attr()])
    };
    let cases: Vec<(&str, Vec<u8>, Errno)> = vec![
        ("genl header cut short", short_genl, Errno::EINVAL),
        ("unknown command", c.request(0x5, 200, vec![]), Errno::EOPNOTSUPP),
        ("dump of a do-only command", c.request(0x305, cmd::FLUSH, vec![]), Errno::EOPNOTSUPP),
        ("attribute of the wrong size", wrong_size, Errno::EINVAL),
        ("bad address family", bad_af, Errno::EAFNOSUPPORT),
        ("weight above INT_MAX", huge_weight, Errno::ERANGE),
        ("unknown family id", genl_message(0x3ff, 0x5, 99, 0, 1, 1, vec![]), Errno::ENOENT),
    ];
    for (what, dg, want) in cases {
        c.send(&dg);
        assert_eq!(c.finish(), Reply::Error(want), "{what}");
    }

    // Not answered at all, as the kernel drops them: lengths that do not add up.
    let mut bad_len = c.request(0x5, cmd::FLUSH, vec![]);
    bad_len[..4].copy_from_slice(&4096u32.to_ne_bytes());
    for dg in [vec![1, 2, 3], vec![0; 16], bad_len] {
        c.send(&dg);
    }
    // A GET_INFO afterwards is answered normally on the same connection.
    let info = c.request(0x5, cmd::GET_INFO, vec![]);
    c.send(&info);
    assert_eq!(c.finish(), Reply::Ack);
    assert_eq!(listing(&d), before, "refused requests changed the table");
}

#[test]
fn clients_vanishing_mid_dump_or_killed_mid_request() {
    if skip() {
        return;
    }
    let d = Dpvsd::start();
    let mut rules = String::new();
    for i in 0..2000u32 {
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i + 1);
        rules.push_str(&format!("-A -t {ip}:80 -s rr\n"));
    }
    let out = d.ipvsadm_stdin(&["-R"], &rules);
    assert_eq!(exit_code(&out.status), 0, "{}", String::from_utf8_lossy(&out.stderr));

    // Ask for a large dump and hang up without reading it.
    for _ in 0..20 {
        let mut c = raw::Client::connect(d.socket());
        let dump = c.request(0x305, cmd::GET_SERVICE, vec![]);
        c.send(&dump);
    }
    // Read part of a dump, then hang up.
    {
        let mut c = raw::Client::connect(d.socket());
        let dump = c.request(0x305, cmd::GET_SERVICE, vec![]);
        c.send(&dump);
        c.recv().expect("first dump datagram");
    }
    // Real ipvsadm processes killed mid-conversation.
    for delay_ms in [0u64, 2, 5, 10, 20] {
        let mut child = Command::new(dpvs_e2e::IPVSADM)
            .arg("-Ln")
            .env("LD_PRELOAD", dpvs_e2e::shim_lib())
            .env("DPVSD_IPVS_SOCKET", d.socket())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ipvsadm");
        thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    let text = listing(&d);
    assert_eq!(text.lines().filter(|l| l.starts_with("TCP  ")).count(), 2000);
}

#[test]
fn running_out_of_descriptors_refuses_clients_but_never_stops_dpvsd() {
    if skip() {
        return;
    }
    let dir = dpvs_e2e::TempDir::new("dpvs-nofile-").expect("temp dir");
    let socket = dir.path().join("ipvs.sock");
    let mut child = Command::new("prlimit")
        .arg("--nofile=64:64")
        .arg(dpvs_e2e::dpvsd_bin())
        .arg("--ipvs-socket")
        .arg(&socket)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dpvsd under prlimit");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while dpvs_e2e::seqpacket_connect(&socket).is_err() {
        assert!(std::time::Instant::now() < deadline, "dpvsd did not start");
        thread::sleep(Duration::from_millis(20));
    }
    // Far more connections than descriptors: the extra ones wait or are closed.
    let mut held = Vec::new();
    for _ in 0..100 {
        if let Ok(c) = dpvs_e2e::seqpacket_connect_fd(&socket) {
            held.push(c);
        }
    }
    thread::sleep(Duration::from_millis(200));
    assert!(child.try_wait().expect("wait").is_none(), "dpvsd exited when it ran out of descriptors");
    drop(held);
    // Served again once the descriptors are back.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new(dpvs_e2e::IPVSADM)
            .arg("-Ln")
            .env("LD_PRELOAD", dpvs_e2e::shim_lib())
            .env("DPVSD_IPVS_SOCKET", &socket)
            .output()
            .expect("run ipvsadm");
        if out.status.success() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "dpvsd never served again: {}", String::from_utf8_lossy(&out.stderr));
        thread::sleep(Duration::from_millis(50));
    }
    assert!(child.try_wait().expect("wait").is_none(), "dpvsd exited");
    let _ = child.kill();
    let _ = child.wait();
}
