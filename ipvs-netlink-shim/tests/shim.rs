//! End-to-end tests of the preloaded shim: real `ipvsadm`, `genl` and `cat`
//! run with `LD_PRELOAD=libipvs_netlink_shim.so` against a small fake dpvsd
//! (a thread of this test serving a unix SOCK_SEQPACKET socket).
//!
//! They need the installed programs and root (ipvsadm's fallback path opens a
//! raw socket); without them each test says so and passes.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const IPVSADM: &str = "/usr/sbin/ipvsadm";
const GENL: &str = "/usr/sbin/genl";
const KEEPALIVED: &str = "/usr/sbin/keepalived";
const FAMILY_ID: u16 = 0x2a;
const CONN_HEADER: &[u8] =
    b"Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n";

// ---------------------------------------------------------------------------
// netlink message building

fn nla(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(data);
    while v.len() & 3 != 0 {
        v.push(0);
    }
    v
}

fn nlmsg(ty: u16, flags: u16, seq: u32, pid: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&pid.to_ne_bytes());
    v.extend_from_slice(payload);
    while v.len() & 3 != 0 {
        v.push(0);
    }
    v
}

fn genl(cmd: u8, version: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut v = vec![cmd, version, 0, 0];
    for a in attrs {
        v.extend_from_slice(a);
    }
    v
}

struct Req<'a> {
    ty: u16,
    flags: u16,
    seq: u32,
    pid: u32,
    raw: &'a [u8],
}

fn parse_req(buf: &[u8]) -> Option<Req<'_>> {
    if buf.len() < 16 {
        return None;
    }
    let len = u32::from_ne_bytes(buf[0..4].try_into().ok()?) as usize;
    Some(Req {
        ty: u16::from_ne_bytes(buf[4..6].try_into().ok()?),
        flags: u16::from_ne_bytes(buf[6..8].try_into().ok()?),
        seq: u32::from_ne_bytes(buf[8..12].try_into().ok()?),
        pid: u32::from_ne_bytes(buf[12..16].try_into().ok()?),
        raw: buf.get(..len.min(buf.len()))?,
    })
}

/// NLMSG_ERROR with `err` (0: ACK, header only, NLM_F_CAPPED like the kernel).
fn nlerr(req: &Req<'_>, err: i32) -> Vec<u8> {
    let mut p = err.to_ne_bytes().to_vec();
    if err == 0 {
        p.extend_from_slice(&req.raw[..16]);
        nlmsg(2, 0x100, req.seq, req.pid, &p)
    } else {
        p.extend_from_slice(req.raw);
        nlmsg(2, 0, req.seq, req.pid, &p)
    }
}

fn done(req: &Req<'_>) -> Vec<u8> {
    nlmsg(3, 2, req.seq, req.pid, &0i32.to_ne_bytes())
}

/// One service as the kernel dumps it: TCP 10.0.<n/250>.<n%250+1>:80 rr,
/// with both stats nests (ipvsadm rejects a service without STATS).
fn service_msg(req: &Req<'_>, n: usize) -> Vec<u8> {
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&[10, 0, (n / 250) as u8, (n % 250 + 1) as u8]);
    let mut flags = Vec::new();
    flags.extend_from_slice(&2u32.to_ne_bytes()); // HASHED
    flags.extend_from_slice(&u32::MAX.to_ne_bytes());
    let mut stats = Vec::new();
    let mut stats64 = Vec::new();
    for a in 1..=10u16 {
        if a == 4 || a == 5 {
            stats.extend(nla(a, &0u64.to_ne_bytes()));
        } else {
            stats.extend(nla(a, &0u32.to_ne_bytes()));
        }
        stats64.extend(nla(a, &0u64.to_ne_bytes()));
    }
    let svc: Vec<u8> = [
        nla(1, &2u16.to_ne_bytes()),
        nla(2, &6u16.to_ne_bytes()),
        nla(3, &addr),
        nla(4, &80u16.to_be_bytes()),
        nla(6, b"rr\0"),
        nla(7, &flags),
        nla(8, &0u32.to_ne_bytes()),
        nla(9, &u32::MAX.to_ne_bytes()),
        nla(10, &stats),
        nla(12, &stats64),
    ]
    .concat();
    nlmsg(FAMILY_ID, 2, req.seq, req.pid, &genl(1, 1, &[nla(1, &svc)]))
}

/// What the fake dpvsd answers: one or more datagrams per request. It has
/// `services` services without destinations.
fn answer(buf: &[u8], services: usize) -> Vec<Vec<u8>> {
    let Some(req) = parse_req(buf) else {
        return Vec::new();
    };
    let cmd = buf.get(16).copied().unwrap_or(0);
    match (req.ty, cmd) {
        (0x10, 3) => {
            let body = genl(
                1,
                2,
                &[
                    nla(2, b"IPVS\0"),
                    nla(1, &FAMILY_ID.to_ne_bytes()),
                    nla(3, &1u32.to_ne_bytes()),
                    nla(4, &0u32.to_ne_bytes()),
                    nla(5, &6u32.to_ne_bytes()),
                ],
            );
            vec![nlmsg(0x10, 0, req.seq, req.pid, &body), nlerr(&req, 0)]
        }
        (FAMILY_ID, 15) => {
            let body = genl(
                14,
                1,
                &[
                    nla(1, &0x0001_0201u32.to_ne_bytes()),
                    nla(2, &4096u32.to_ne_bytes()),
                ],
            );
            vec![nlmsg(FAMILY_ID, 0, req.seq, req.pid, &body), nlerr(&req, 0)]
        }
        (FAMILY_ID, 4) if req.flags & 0x300 == 0x300 && services > 0 => {
            // every service in one datagram (larger than libnl's first
            // 16 KiB buffer when there are many), DONE in the next
            let all: Vec<u8> = (0..services).flat_map(|n| service_msg(&req, n)).collect();
            vec![all, done(&req)]
        }
        (FAMILY_ID, 4) | (FAMILY_ID, 8) if req.flags & 0x300 == 0x300 => vec![done(&req)],
        // NEW_SERVICE, DEL_SERVICE, NEW_DEST, DEL_DEST: accepted
        (FAMILY_ID, 1 | 3 | 5 | 7) => vec![nlerr(&req, 0)],
        (0x7ff0, _) => {
            if buf.get(16..27) == Some(b"ip_vs_conn\0") {
                vec![nlmsg(0x7ff0, 2, req.seq, req.pid, CONN_HEADER), done(&req)]
            } else {
                vec![nlerr(&req, -libc::ENOENT)]
            }
        }
        _ => vec![nlerr(&req, -libc::EOPNOTSUPP)],
    }
}

// ---------------------------------------------------------------------------
// the fake dpvsd

struct FakeDpvsd {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    connections: Arc<AtomicUsize>,
    /// A mute one's client has sent something it left unread.
    unread: Arc<AtomicBool>,
}

/// How a fake dpvsd treats requests.
#[derive(Clone, Copy)]
enum Serving {
    /// Answers them, listing this many services.
    Answer(usize),
    /// Accepts connections and never reads from them (a dpvsd that is about to die).
    Mute,
}

fn cvt(r: i32, what: &str) -> i32 {
    assert!(r >= 0, "{what}: {}", std::io::Error::last_os_error());
    r
}

impl FakeDpvsd {
    fn start(path: PathBuf) -> FakeDpvsd {
        FakeDpvsd::serving(path, Serving::Answer(0))
    }

    fn with_services(path: PathBuf, services: usize) -> FakeDpvsd {
        FakeDpvsd::serving(path, Serving::Answer(services))
    }

    fn serving(path: PathBuf, serving: Serving) -> FakeDpvsd {
        let _ = std::fs::remove_file(&path);
        // SAFETY: plain socket(2).
        let lfd = cvt(
            unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) },
            "socket",
        );
        // SAFETY: all-zero sockaddr_un is valid.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let p = path.as_os_str().as_bytes();
        assert!(p.len() < addr.sun_path.len());
        for (d, &s) in addr.sun_path.iter_mut().zip(p) {
            *d = s as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        // SAFETY: `addr` is a valid sockaddr_un.
        cvt(
            unsafe { libc::bind(lfd, std::ptr::addr_of!(addr).cast(), len) },
            "bind",
        );
        // SAFETY: listening on our own socket.
        cvt(unsafe { libc::listen(lfd, 16) }, "listen");

        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let unread = Arc::new(AtomicBool::new(false));
        let (s, r, c, u) = (stop.clone(), requests.clone(), connections.clone(), unread.clone());
        let thread = std::thread::spawn(move || serve(lfd, serving, &s, &r, &c, &u));
        FakeDpvsd {
            path,
            stop,
            thread: Some(thread),
            requests,
            connections,
            unread,
        }
    }

    fn requests(&self) -> Vec<Vec<u8>> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for FakeDpvsd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(
    lfd: i32,
    serving: Serving,
    stop: &AtomicBool,
    requests: &Mutex<Vec<Vec<u8>>>,
    connections: &AtomicUsize,
    unread: &AtomicBool,
) {
    let mut conns: Vec<i32> = Vec::new();
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::SeqCst) {
        let mut fds: Vec<libc::pollfd> = std::iter::once(lfd)
            .chain(conns.iter().copied())
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid array of pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 50) };
        if n <= 0 {
            continue;
        }
        if fds[0].revents & libc::POLLIN != 0 {
            // SAFETY: accepting on our listening socket.
            let c = unsafe {
                libc::accept4(
                    lfd,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_CLOEXEC,
                )
            };
            if c >= 0 {
                conns.push(c);
                connections.fetch_add(1, Ordering::SeqCst);
            }
        }
        let mut closed = Vec::new();
        for p in &fds[1..] {
            if p.revents == 0 {
                continue;
            }
            let Serving::Answer(services) = serving else {
                if p.revents & libc::POLLIN != 0 {
                    unread.store(true, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            // SAFETY: `buf` is writable for its length.
            let r =
                unsafe { libc::recv(p.fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if r <= 0 {
                if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN) {
                    closed.push(p.fd);
                }
                continue;
            }
            let msg = &buf[..r as usize];
            if let Ok(mut log) = requests.lock() {
                log.push(msg.to_vec());
            }
            for d in answer(msg, services) {
                // SAFETY: `d` is a valid buffer.
                unsafe { libc::send(p.fd, d.as_ptr().cast(), d.len(), libc::MSG_NOSIGNAL) };
            }
        }
        for fd in closed {
            conns.retain(|&c| c != fd);
            // SAFETY: closing a connection we accepted.
            unsafe { libc::close(fd) };
        }
    }
    for fd in conns.into_iter().chain(std::iter::once(lfd)) {
        // SAFETY: closing our own descriptors.
        unsafe { libc::close(fd) };
    }
}

// ---------------------------------------------------------------------------
// running programs under the shim

fn shim_path() -> PathBuf {
    // This test runs as target/<profile>/deps/shim-<hash>. `cargo test` builds
    // the library (cdylib too) into deps/ for it; `cargo build` also copies it
    // up to target/<profile>/.
    let exe = std::env::current_exe().unwrap_or_default();
    let deps = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let candidates = [
        deps.join("libipvs_netlink_shim.so"),
        deps.parent()
            .map(|d| d.join("libipvs_netlink_shim.so"))
            .unwrap_or_default(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/libipvs_netlink_shim.so"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| candidates[2].clone())
}

fn temp_socket_path(tag: &str) -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let _ = std::fs::create_dir_all(&dir);
    dir.join(format!("shim-{}-{tag}.sock", std::process::id()))
}

/// Whether the environment can run the real-binary tests; prints why not.
fn can_run(binaries: &[&str]) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root");
        return false;
    }
    for b in binaries {
        if !Path::new(b).exists() {
            eprintln!("skipped: {b} not installed");
            return false;
        }
    }
    assert!(
        shim_path().exists(),
        "shim not built at {}",
        shim_path().display()
    );
    true
}

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `argv` with the shim preloaded, killing it after 20 s (a hang fails).
fn run_shimmed(argv: &[&str], socket: &Path) -> Output {
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .env("LD_PRELOAD", shim_path())
        .env("DPVSD_IPVS_SOCKET", socket)
        .env_remove("DPVS_SHIM_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out_pipe.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    let Some(status) = status else {
        panic!("{argv:?} hung (killed after 20 s); stdout {stdout:?} stderr {stderr:?}");
    };
    Output {
        status,
        stdout,
        stderr,
    }
}

// ---------------------------------------------------------------------------
// tests

#[test]
fn ipvsadm_list_through_fake_dpvsd() {
    if !can_run(&[IPVSADM]) {
        return;
    }
    let path = temp_socket_path("list");
    let server = FakeDpvsd::start(path.clone());
    let out = run_shimmed(&[IPVSADM, "-Ln"], &path);
    assert_eq!(
        out.stdout,
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
        "stderr: {}",
        out.stderr
    );
    assert_eq!(out.stderr, "");
    assert!(out.status.success(), "{:?}", out.status);

    // What reached dpvsd: ipvsadm opens one socket per call (ipvs_init's
    // first one only resolves the family), each starting with GETFAMILY IPVS exactly as libnl sent it (32 bytes, nlctrl,
    // REQUEST|ACK, cmd 3 version 1, FAMILY_NAME "IPVS\0"), then one IPVS
    // message carrying that kernel socket's port id in nlmsg_pid.
    let reqs = server.requests();
    let shape: Vec<(u16, u16, u8)> = reqs
        .iter()
        .map(|r| {
            parse_req(r)
                .map(|q| (q.ty, q.flags, r[16]))
                .expect("request")
        })
        .collect();
    assert_eq!(
        shape,
        [
            (0x10, 5, 3),
            (0x10, 5, 3),
            (FAMILY_ID, 5, 15),
            (0x10, 5, 3),
            (FAMILY_ID, 0x305, 4)
        ]
    );
    for gf in [&reqs[0], &reqs[1], &reqs[3]] {
        assert_eq!(gf.len(), 32);
        assert_eq!(&gf[0..4], &32u32.to_ne_bytes());
        assert_eq!(
            &gf[16..32],
            &[3, 1, 0, 0, 9, 0, 2, 0, b'I', b'P', b'V', b'S', 0, 0, 0, 0]
        );
        assert_ne!(&gf[12..16], &[0, 0, 0, 0]);
    }
    assert_eq!(
        &reqs[2][12..16],
        &reqs[1][12..16],
        "same socket, same port id"
    );
    assert_eq!(
        &reqs[4][12..16],
        &reqs[3][12..16],
        "same socket, same port id"
    );
}

#[test]
fn ipvsadm_list_large_dump_grows_libnl_buffer() {
    if !can_run(&[IPVSADM]) {
        return;
    }
    const N: usize = 120;
    let path = temp_socket_path("large");
    let server = FakeDpvsd::with_services(path.clone(), N);
    let out = run_shimmed(&[IPVSADM, "-Ln"], &path);
    assert!(out.status.success(), "{:?} {}", out.status, out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3 + N, "{}", out.stdout);
    let mut expect: Vec<String> = (0..N)
        .map(|n| format!("TCP  10.0.{}.{}:80 rr", n / 250, n % 250 + 1))
        .collect();
    expect.sort();
    let mut got: Vec<String> = lines[3..].iter().map(|l| l.to_string()).collect();
    got.sort();
    assert_eq!(got, expect);
    // one GET_DEST dump per service followed the service dump
    let dest_dumps = server
        .requests()
        .iter()
        .filter(|r| r.get(4..6) == Some(&FAMILY_ID.to_ne_bytes()) && r.get(16) == Some(&8))
        .count();
    assert_eq!(dest_dumps, N);
}

#[test]
fn ipvsadm_list_connections_reads_proc_from_dpvsd() {
    if !can_run(&[IPVSADM]) {
        return;
    }
    let path = temp_socket_path("conn");
    let _server = FakeDpvsd::start(path.clone());
    let out = run_shimmed(&[IPVSADM, "-Lnc"], &path);
    assert_eq!(
        out.stdout,
        "IPVS connection entries\n\
         pro expire state       source             virtual            destination\n",
        "stderr: {}",
        out.stderr
    );
    assert!(out.status.success(), "{:?} {}", out.status, out.stderr);
}

#[test]
fn cat_proc_ip_vs_conn_gets_served_bytes() {
    if !can_run(&["/bin/cat"]) {
        return;
    }
    let path = temp_socket_path("cat");
    let _server = FakeDpvsd::start(path.clone());
    let out = run_shimmed(&["/bin/cat", "/proc/net/ip_vs_conn"], &path);
    assert_eq!(out.stdout.as_bytes(), CONN_HEADER, "stderr: {}", out.stderr);
    assert!(out.status.success());

    // dpvsd's error becomes the open's errno
    let out = run_shimmed(&["/bin/cat", "/proc/self/net/ip_vs_stats"], &path);
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("No such file or directory"),
        "{}",
        out.stderr
    );
}

#[test]
fn without_dpvsd_ipvsadm_fails_like_a_kernel_without_ipvs() {
    if !can_run(&[IPVSADM]) {
        return;
    }
    let path = temp_socket_path("absent");
    let _ = std::fs::remove_file(&path);
    let out = run_shimmed(&[IPVSADM, "-Ln"], &path);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .starts_with("Can't initialize ipvs: Protocol not available\n"),
        "{}",
        out.stderr
    );
    assert_eq!(out.status.code(), Some(2), "{:?}", out.status);

    let out = run_shimmed(&[IPVSADM, "-Lnc"], &path);
    assert_ne!(out.status.code(), Some(0));

    let out = run_shimmed(&["/bin/cat", "/proc/net/ip_vs_conn"], &path);
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("No such file or directory"),
        "{}",
        out.stderr
    );
}

#[test]
fn other_generic_netlink_traffic_stays_with_the_kernel() {
    if !can_run(&[GENL]) {
        return;
    }
    let path = temp_socket_path("genl");
    let server = FakeDpvsd::start(path.clone());
    let out = run_shimmed(&[GENL, "ctrl", "list"], &path);
    assert!(out.status.success(), "{:?} {}", out.status, out.stderr);
    assert!(out.stdout.contains("Name: nlctrl"), "{}", out.stdout);
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        0,
        "genl must not reach dpvsd"
    );
}

/// The example `nl_client`, built by `cargo test` next to this test.
fn nl_client_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("examples/nl_client"))
        .unwrap_or_default()
}

#[test]
fn socket_emulation_reset_and_reconnect() {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::mpsc;

    let client = nl_client_path();
    if !client.is_file() {
        eprintln!("skipped: {} not built", client.display());
        return;
    }
    assert!(
        shim_path().exists(),
        "shim not built at {}",
        shim_path().display()
    );
    let path = temp_socket_path("client");
    let server = FakeDpvsd::start(path.clone());
    let mut child = Command::new(&client)
        .env("LD_PRELOAD", shim_path())
        .env("DPVSD_IPVS_SOCKET", &path)
        .env("DPVS_SHIM_RECONNECT_MS", "300")
        .env_remove("DPVS_SHIM_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn nl_client");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let read_until = |marker: Option<&str>, lines: &mut Vec<String>| loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => {
                let stop = Some(l.as_str()) == marker;
                lines.push(l);
                if stop {
                    return true;
                }
            }
            Err(_) => return false,
        }
    };
    let reached_ready = read_until(Some("ready"), &mut lines);
    // dpvsd restarts: the old connection is closed, a new listener appears
    drop(server);
    let server2 = FakeDpvsd::start(path.clone());
    let _ = stdin.write_all(b"go\n");
    let reached_again = reached_ready && read_until(Some("again"), &mut lines);
    // dpvsd restarts, takes the next request and dies before reading it
    drop(server2);
    let server3 = FakeDpvsd::serving(path.clone(), Serving::Mute);
    let _ = stdin.write_all(b"go\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reached_again && !server3.unread.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(server3);
    let server4 = FakeDpvsd::start(path.clone());
    let reached_waiting = reached_again && read_until(Some("waiting"), &mut lines);
    // dpvsd stops for good
    drop(server4);
    let _ = stdin.write_all(b"go\n");
    drop(stdin);
    if reached_waiting {
        read_until(None, &mut lines);
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();

    let expect = [
        "socket_ok=true",
        "bind=0",
        "port_nonzero=true",
        "sent_getfamily=32",
        "peek_trunc_len=64 namelen=12 family=16 pid=0 trunc=true",
        "reply_len=64 namelen=12 family=16 pid=0 ctrunc=false",
        "ack_len=36",
        "getsockname=0 len=12 same_port=true",
        "getsockopt_netlink=0 value=0",
        "setsockopt_netlink=0",
        "so_protocol=0 value=16",
        "cloexec=true",
        "dup_same_port=true",
        "nb_sent=32 nb_port_nonzero=true nb_nonblock=true nb_cloexec=false",
        "nb_reads=64,36,eagain",
        "ready",
        "recv_after_restart=-1 econnreset=true",
        "sent_after_restart=20",
        "reply_after_restart_len=36 type=42 namelen=12",
        "port_kept=true",
        "cloexec_kept=true",
        "again",
        "sent_before_crash=20",
        "reply_after_crash_len=36 type=42 seq=3",
        "waiting",
        "sent_without_dpvsd=20",
        "answer_without_dpvsd_len=40 type=2 seq=4 econnrefused=true namelen=12",
        "close=0",
    ];
    assert_eq!(lines, expect);
}

#[test]
fn keepalived_configures_and_cleans_up_through_the_shim() {
    if !can_run(&[KEEPALIVED]) {
        return;
    }
    let path = temp_socket_path("keepalived");
    let dir = path.with_extension("d");
    let _ = std::fs::create_dir_all(&dir);
    let conf = dir.join("keepalived.conf");
    std::fs::write(
        &conf,
        "global_defs {\n  router_id shimtest\n}\n\
         virtual_server 10.9.9.9 80 {\n  delay_loop 60\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
         real_server 192.168.77.10 80 {\n    weight 1\n  }\n}\n",
    )
    .expect("write config");
    let server = FakeDpvsd::start(path.clone());
    let mut child = Command::new(KEEPALIVED)
        .args(["-n", "-l", "-C", "-f"])
        .arg(&conf)
        .arg("-p")
        .arg(dir.join("keepalived.pid"))
        .arg("-c")
        .arg(dir.join("checkers.pid"))
        .env("LD_PRELOAD", shim_path())
        .env("DPVSD_IPVS_SOCKET", &path)
        .env_remove("DPVS_SHIM_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn keepalived");
    let cmds = |server: &FakeDpvsd| -> Vec<(u16, u8)> {
        server
            .requests()
            .iter()
            .filter_map(|r| Some((parse_req(r)?.ty, *r.get(16)?)))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cmds(&server).contains(&(FAMILY_ID, 5)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.is_some(), "keepalived did not stop");
    // GETFAMILY, GET_INFO, NEW_SERVICE, NEW_DEST; on SIGTERM DEL_DEST, DEL_SERVICE
    assert_eq!(
        cmds(&server),
        [
            (0x10, 3),
            (FAMILY_ID, 15),
            (FAMILY_ID, 1),
            (FAMILY_ID, 5),
            (FAMILY_ID, 7),
            (FAMILY_ID, 3)
        ]
    );
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        1,
        "one socket for the whole run"
    );
}
