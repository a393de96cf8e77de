//! Debian's unmodified keepalived 2.2.7 drives dpvsd through the shim, as it drives kernel LVS.
//!
//! Each test starts its own dpvsd (harness [`Dpvsd`]) and real keepalived processes (checker
//! only: `keepalived -n -l -D -G -C -f CONF -p PID -c CHECKERPID -r VRRPPID`, config and pid files
//! in a temp dir of the test), with real servers that are TCP or HTTP listeners on loopback
//! addresses (127/8 is all local; each test has its own 127.0.N.0/24), and checks the result the
//! way an operator would: Debian's ipvsadm through the shim (`ipvsadm -Ln`, `--timeout`,
//! `--daemon`). Waits poll with a bounded deadline; when one expires the report carries the table,
//! keepalived's log and dpvsd's log.
//!
//! Which IPVS requests keepalived sent is read back from dpvsd's journal (`state/ipvs.journal`,
//! every applied change in order): that is how a reload is shown to touch only the differences.
//!
//! Every process started here is stopped by its pid when its guard is dropped, also on failure.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use dpvs_e2e::{line_diff, shim_env, shim_lib, skip, strip_ansi, text, Dpvsd, TempDir};
use ipvs_genl::attr::AttrTable;
use ipvs_genl::consts::{cmd, cmd_attr};
use ipvs_genl::ipvs::{raw_to_ip, DestSpec, ServiceKey, ServiceSpec, CMD_POLICY};

const KEEPALIVED: &str = "/usr/sbin/keepalived";
const GENHASH: &str = "/usr/bin/genhash";
/// How long keepalived may take to come up, converge, reload or stop.
const KEEPALIVED_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

fn skip_keepalived() -> bool {
    if skip() {
        return true;
    }
    for bin in [KEEPALIVED, GENHASH] {
        if !Path::new(bin).exists() {
            println!("skipped: needs {bin} (Debian package keepalived)");
            return true;
        }
    }
    false
}

fn signal(pid: i32, sig: i32) -> bool {
    // SAFETY: kill(2) takes no pointers; callers pass pids of processes they started.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// True while `pid` is a live keepalived process whose command line names `conf`: guards the
/// pids read from keepalived's pid files against reuse.
fn is_our_keepalived(pid: i32, conf: &Path) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // A zombie (state Z) is gone for our purposes.
    let state = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.starts_with('Z'))
        .unwrap_or(true);
    let conf = conf.as_os_str().as_encoded_bytes();
    !state && cmdline.windows(conf.len()).any(|w| w == conf)
}

// ---------------------------------------------------------------------------------------------
// keepalived

/// A keepalived (checker only) under the shim, with its config, pid files and log in `dir`.
struct Keepalived {
    dir: PathBuf,
    conf: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Keepalived {
    /// Writes `conf` and starts keepalived against `d`'s socket.
    fn start(d: &Dpvsd, dir: &Path, conf: &str, extra: &[&str]) -> Keepalived {
        Keepalived::start_on(d.socket(), dir, conf, extra)
    }

    fn start_on(socket: &Path, dir: &Path, conf: &str, extra: &[&str]) -> Keepalived {
        let conf_path = dir.join("keepalived.conf");
        fs::write(&conf_path, conf).expect("write keepalived.conf");
        let log = dir.join("keepalived.log");
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log");
        let err = out.try_clone().expect("log");
        let mut cmd = Command::new(KEEPALIVED);
        cmd.args(["-n", "-l", "-D", "-G", "-C"])
            .args(extra)
            .arg("-f")
            .arg(&conf_path)
            .arg("-p")
            .arg(dir.join("keepalived.pid"))
            .arg("-c")
            .arg(dir.join("checkers.pid"))
            .arg("-r")
            .arg(dir.join("vrrp.pid"));
        shim_env(&mut cmd, &shim_lib(), socket)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Keepalived {
            dir: dir.to_path_buf(),
            conf: conf_path,
            log,
            child: Some(child),
        }
    }

    fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// The checker child's pid, when its pid file names a live process of ours.
    fn checker_pid(&self) -> Option<i32> {
        let pid: i32 = fs::read_to_string(self.dir.join("checkers.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        is_our_keepalived(pid, &self.conf).then_some(pid)
    }

    fn log_text(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    fn count(&self, needle: &str) -> usize {
        self.log_text().matches(needle).count()
    }

    /// Waits until keepalived's log holds `needle` at least `n` times.
    fn wait_log_n(&self, needle: &str, n: usize, timeout: Duration, d: &Dpvsd) {
        let deadline = Instant::now() + timeout;
        while self.count(needle) < n {
            if Instant::now() >= deadline {
                panic!(
                    "keepalived did not log {needle:?} ({n} times) within {timeout:?}\n{}",
                    report(d, Some(self))
                );
            }
            thread::sleep(POLL);
        }
    }

    fn wait_log(&self, needle: &str, d: &Dpvsd) {
        self.wait_log_n(needle, 1, KEEPALIVED_TIMEOUT, d);
    }

    /// Writes the new configuration and sends SIGHUP to the parent, as `systemctl reload` does.
    fn reload(&self, conf: &str) {
        fs::write(&self.conf, conf).expect("write keepalived.conf");
        let pid = self.pid().expect("keepalived is running");
        assert!(signal(pid, libc::SIGHUP), "SIGHUP keepalived");
    }

    /// Waits up to `timeout` for the parent to exit on its own.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, as `systemctl stop` does; panics when keepalived does not exit in time.
    fn stop(&mut self, d: &Dpvsd) -> ExitStatus {
        let pid = self.pid().expect("keepalived is running");
        signal(pid, libc::SIGTERM);
        match self.wait_exit(KEEPALIVED_TIMEOUT) {
            Some(status) => {
                self.wait_checker_gone();
                status
            }
            None => panic!(
                "keepalived did not stop within {KEEPALIVED_TIMEOUT:?}\n{}",
                report(d, Some(self))
            ),
        }
    }

    /// SIGKILL for the whole keepalived (parent and checker), as systemd's final kill of the
    /// unit's cgroup: the parent is stopped first so that it cannot respawn the checker.
    fn kill9(&mut self) {
        let checker = self.checker_pid();
        if let Some(pid) = self.pid() {
            signal(pid, libc::SIGSTOP);
        }
        if let Some(pid) = checker {
            signal(pid, libc::SIGKILL);
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.wait_checker_gone();
    }

    fn wait_checker_gone(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(pid) = self.checker_pid() {
            if Instant::now() >= deadline {
                signal(pid, libc::SIGKILL);
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            signal(pid, libc::SIGTERM);
            if self.wait_exit(Duration::from_secs(10)).is_none() {
                self.kill9();
            }
        }
        if let Some(pid) = self.checker_pid() {
            signal(pid, libc::SIGKILL);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// real servers

/// What an HTTP real server answers: (status line, body).
type HttpReply = Arc<Mutex<(String, Vec<u8>)>>;

/// A real server listening on a loopback address: plain TCP (accept and close) or a minimal
/// HTTP/1.0 server. Dropping it (or [`RealServer::stop`]) closes the listener: connections
/// are refused from then on.
struct RealServer {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl RealServer {
    fn tcp(addr: &str) -> RealServer {
        RealServer::start(addr, None)
    }

    fn http(addr: &str, reply: HttpReply) -> RealServer {
        RealServer::start(addr, Some(reply))
    }

    fn start(addr: &str, http: Option<HttpReply>) -> RealServer {
        let addr: SocketAddr = addr.parse().expect("socket address");
        let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        if let Some(reply) = &http {
                            serve_http(s, reply);
                        }
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        RealServer {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        self.halt();
    }
}

fn serve_http(mut s: TcpStream, reply: &HttpReply) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16384 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let (status, body) = reply.lock().map(|r| r.clone()).unwrap_or_default();
    let mut out = format!(
        "HTTP/1.0 {status}\r\nServer: dpvs-e2e\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    let _ = s.write_all(&out);
    let _ = s.shutdown(Shutdown::Write);
}

// ---------------------------------------------------------------------------------------------
// expected tables

/// One service as ipvsadm lists it, with enough of its key to sort as ipvsadm sorts
/// (`ipvs_cmp_services`: fwmark, family, protocol, address, port; dests by address, port).
struct Svc {
    fwmark: u32,
    proto: &'static str,
    addr: IpAddr,
    port: u16,
    rest: String,
    dests: Vec<(IpAddr, u16, &'static str, i64)>,
}

fn svc(proto: &'static str, addr: &str, port: u16, rest: &str) -> Svc {
    Svc {
        fwmark: 0,
        proto,
        addr: addr.parse().expect("address"),
        port,
        rest: rest.into(),
        dests: vec![],
    }
}

fn fwm(mark: u32, rest: &str) -> Svc {
    Svc {
        fwmark: mark,
        proto: "FWM",
        addr: "0.0.0.0".parse().unwrap(),
        port: 0,
        rest: rest.into(),
        dests: vec![],
    }
}

impl Svc {
    fn dest(mut self, addr: &str, port: u16, fwd: &'static str, weight: i64) -> Svc {
        self.dests
            .push((addr.parse().expect("address"), port, fwd, weight));
        self
    }

    fn lines(&self) -> Vec<String> {
        let name = if self.fwmark != 0 {
            format!("FWM  {}", self.fwmark)
        } else {
            format!(
                "{:<4} {}",
                self.proto,
                SocketAddr::new(self.addr, self.port)
            )
        };
        let mut v = vec![format!("{name} {}", self.rest)];
        let mut dests = self.dests.clone();
        dests.sort_by_key(|(a, p, _, _)| (ip_key(a), *p));
        for (a, p, fwd, w) in dests {
            v.push(text::dest(&SocketAddr::new(a, p).to_string(), fwd, w));
        }
        v
    }
}

fn ip_key(a: &IpAddr) -> (u8, u128) {
    match a {
        IpAddr::V4(v4) => (2, u32::from(*v4) as u128),
        IpAddr::V6(v6) => (10, u128::from(*v6)),
    }
}

/// `ipvsadm -Ln` of these services.
fn listing(mut svcs: Vec<Svc>) -> String {
    svcs.sort_by_key(|s| {
        let proto = match s.proto {
            "TCP" => 6,
            "UDP" => 17,
            _ => 0,
        };
        let (af, a) = ip_key(&s.addr);
        (s.fwmark, af, proto, a, s.port)
    });
    let lines: Vec<String> = svcs.iter().flat_map(Svc::lines).collect();
    text::listing(&lines)
}

fn empty_listing() -> String {
    text::listing::<&str>(&[])
}

fn ipvsadm_out(d: &Dpvsd, args: &[&str]) -> String {
    let out = d.ipvsadm(args);
    assert!(
        out.status.success(),
        "ipvsadm {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The table, keepalived's log and dpvsd's log: what a failed wait reports.
fn report(d: &Dpvsd, k: Option<&Keepalived>) -> String {
    let mut r = String::new();
    match d.try_ipvsadm(&["-Ln"], None) {
        Ok(out) => {
            let _ = writeln!(
                r,
                "ipvsadm -Ln now:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        Err(e) => {
            let _ = writeln!(r, "ipvsadm -Ln: {e}");
        }
    }
    if let Some(k) = k {
        let log = k.log_text();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let _ = writeln!(r, "keepalived log (last lines):");
        for l in tail.iter().rev() {
            let _ = writeln!(r, "  | {l}");
        }
    }
    let log = strip_ansi(&d.stderr_log());
    let tail: Vec<&str> = log.lines().rev().take(15).collect();
    let _ = writeln!(r, "dpvsd stderr (last lines):");
    for l in tail.iter().rev() {
        let _ = writeln!(r, "  | {l}");
    }
    r
}

/// Polls `ipvsadm ARGS` until it prints `expected`; panics with a diff after `timeout`.
/// Returns how long it took.
fn wait_for(
    d: &Dpvsd,
    k: Option<&Keepalived>,
    args: &[&str],
    expected: &str,
    timeout: Duration,
) -> Duration {
    let start = Instant::now();
    let deadline = start + timeout;
    loop {
        let out = d.ipvsadm(args);
        let got = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && got == expected {
            return start.elapsed();
        }
        if Instant::now() >= deadline {
            panic!(
                "ipvsadm {} did not show the expected text within {timeout:?} (- expected, + got):\n{}stderr: {}\n{}",
                args.join(" "),
                line_diff(expected, &got),
                String::from_utf8_lossy(&out.stderr),
                report(d, k)
            );
        }
        thread::sleep(POLL);
    }
}

fn wait_table(d: &Dpvsd, k: &Keepalived, expected: &str, timeout: Duration) -> Duration {
    wait_for(d, Some(k), &["-Ln"], expected, timeout)
}

/// Asserts that the table stays `expected` for `period` (nothing changes behind our back).
fn assert_table_stays(d: &Dpvsd, k: Option<&Keepalived>, expected: &str, period: Duration) {
    let deadline = Instant::now() + period;
    while Instant::now() < deadline {
        let got = ipvsadm_out(d, &["-Ln"]);
        assert!(
            got == expected,
            "the table changed (- expected, + got):\n{}\n{}",
            line_diff(expected, &got),
            report(d, k)
        );
        thread::sleep(POLL * 2);
    }
}

// ---------------------------------------------------------------------------------------------
// dpvsd's journal: the IPVS requests it applied

/// One applied change: command, service key, dest (address, port) if any.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    cmd: u8,
    svc: Option<ServiceKey>,
    dest: Option<(IpAddr, u16)>,
}

fn journal(d: &Dpvsd) -> Vec<Change> {
    let bytes = fs::read(d.state_dir().join("ipvs.journal")).unwrap_or_default();
    let mut out = Vec::new();
    let mut off = 24; // magic (16) + generation (8)
    while off + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
        let Some(payload) = bytes.get(off + 8..off + 8 + len) else {
            break;
        };
        if payload.is_empty() {
            break;
        }
        let attrs = &payload[1..];
        let t = AttrTable::parse(attrs, &CMD_POLICY).ok();
        let svc = t
            .as_ref()
            .and_then(|t| ServiceSpec::parse(t.get(cmd_attr::SERVICE), false).ok())
            .map(|s| s.key);
        let dest = t
            .as_ref()
            .and_then(|t| DestSpec::parse(t.get(cmd_attr::DEST), false).ok())
            .map(|ds| {
                let af = match (ds.af, svc) {
                    (0, Some(k)) => k.af(),
                    (af, _) => af,
                };
                (raw_to_ip(af, &ds.addr), ds.port)
            });
        out.push(Change {
            cmd: payload[0],
            svc,
            dest,
        });
        off += 8 + len;
    }
    out
}

fn dest_changes(changes: &[Change], addr: &str, port: u16) -> Vec<u8> {
    let a: IpAddr = addr.parse().expect("address");
    changes
        .iter()
        .filter(|c| c.dest == Some((a, port)))
        .map(|c| c.cmd)
        .collect()
}

fn tcp_key(addr: &str, port: u16) -> ServiceKey {
    let (af, raw) = ipvs_genl::ipvs::ip_to_raw(addr.parse().expect("address"));
    ServiceKey::Tuple {
        af,
        protocol: 6,
        addr: raw,
        port,
    }
}

fn svc_changes(changes: &[Change], key: ServiceKey) -> Vec<u8> {
    changes
        .iter()
        .filter(|c| c.dest.is_none() && c.svc == Some(key))
        .map(|c| c.cmd)
        .collect()
}

/// dpvsd's pid, from SO_PEERCRED on a connection to its socket (the harness does not expose
/// its child's pid): for SIGSTOP/SIGCONT of our own dpvsd.
fn dpvsd_pid(d: &Dpvsd) -> i32 {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    let path = d.socket().as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain old data; all-zero bytes are a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    assert!(path.len() < addr.sun_path.len(), "socket path too long");
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, src) in addr.sun_path.iter_mut().zip(path) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let raw = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `raw` is a fresh descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `addr` is an initialised sockaddr_un of `len` bytes that outlives the call.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len,
        )
    };
    assert!(
        rc == 0,
        "connect to dpvsd: {}",
        std::io::Error::last_os_error()
    );
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut clen = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `clen` are live and sized for SO_PEERCRED.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut clen,
        )
    };
    assert!(
        rc == 0 && cred.pid > 0,
        "SO_PEERCRED: {}",
        std::io::Error::last_os_error()
    );
    cred.pid
}

/// CPU time (user + system, clock ticks) a process has used, from /proc/PID/stat.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the command: state is index 0, utime 11, stime 12.
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

// ---------------------------------------------------------------------------------------------
// configuration snippets

fn tcp_check() -> &'static str {
    "TCP_CHECK {\n        connect_timeout 1\n        retry 0\n      }"
}

fn write_script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod script");
}

/// Upper bound for a checker transition with `delay_loop 1`, `connect_timeout 1`, `retry 0`:
/// the next check (<= 1 s), its timeout (1 s), plus scheduling slack on a busy 2-core machine.
const TRANSITION: Duration = Duration::from_secs(6);

const ALGOS: [&str; 14] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

// ---------------------------------------------------------------------------------------------
// tests

/// Startup: every kind of virtual_server keepalived can express becomes the same table
/// ipvsadm would show on a kernel, plus lvs_timeouts, lvs_flush, lvs_sync_daemon, alpha with
/// a sorry server; SIGTERM then removes everything keepalived added and its sync daemons.
#[test]
fn startup_builds_the_whole_table_and_stop_removes_it() {
    if skip_keepalived() {
        return;
    }
    let d = Dpvsd::start();
    let dir = TempDir::new("dpvs-ka-startup-").expect("temp dir");
    // Something keepalived did not configure, for lvs_flush to remove.
    ipvsadm_out(&d, &["-A", "-t", "192.0.2.99:80", "-s", "rr"]);
    ipvsadm_out(
        &d,
        &["-a", "-t", "192.0.2.99:80", "-r", "198.51.100.1:80", "-m"],
    );

    let mut conf = String::from(
        "global_defs {\n  router_id e2e-startup\n  lvs_timeouts tcp 1000 tcpfin 100 udp 200\n  lvs_flush\n  \
         lvs_sync_daemon lo id 7 maxlen 1400 port 8850 ttl 2 group 224.0.0.90\n}\n",
    );
    let mut want = Vec::new();
    for (i, algo) in ALGOS.iter().enumerate() {
        let port = 8000 + i as u16;
        let w = i as i64 + 1;
        let _ = write!(
            conf,
            "virtual_server 10.61.0.1 {port} {{\n  lb_algo {algo}\n  lb_kind NAT\n  protocol TCP\n  \
             real_server 127.0.61.10 80 {{\n    weight {w}\n  }}\n  real_server 127.0.61.11 80 {{\n    weight 1\n  }}\n}}\n"
        );
        want.push(
            svc("TCP", "10.61.0.1", port, algo)
                .dest("127.0.61.10", 80, "Masq", w)
                .dest("127.0.61.11", 80, "Masq", 1),
        );
    }
    conf.push_str(
        "virtual_server 10.61.0.2 80 {\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n  real_server 127.0.61.12 80 {\n    weight 2\n  }\n}\n\
         virtual_server 10.61.0.3 80 {\n  lb_algo wlc\n  lb_kind TUN\n  protocol TCP\n  real_server 127.0.61.13 80 {\n  }\n}\n\
         virtual_server 10.61.0.4 53 {\n  lb_algo rr\n  lb_kind NAT\n  protocol UDP\n  ops\n  real_server 127.0.61.14 5353 {\n  }\n}\n\
         virtual_server 10.61.0.5 443 {\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n  persistence_timeout 600\n  \
           persistence_granularity 255.255.255.0\n  real_server 127.0.61.15 8443 {\n    weight 3\n  }\n}\n\
         virtual_server fwmark 7 {\n  lb_algo sh\n  sh-port\n  sh-fallback\n  lb_kind DR\n  real_server 127.0.61.16 80 {\n  }\n}\n\
         virtual_server 2001:db8:61::1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  persistence_timeout 120\n  \
           persistence_granularity 64\n  real_server 2001:db8:61::10 8080 {\n    weight 4\n  }\n}\n\
         virtual_server_group web61 {\n  10.61.1.1 80\n  10.61.1.2-3 80\n  fwmark 9\n}\n\
         virtual_server group web61 {\n  lb_algo lc\n  lb_kind NAT\n  protocol TCP\n  real_server 127.0.61.17 8080 {\n    weight 5\n  }\n}\n",
    );
    want.push(svc("TCP", "10.61.0.2", 80, "rr").dest("127.0.61.12", 80, "Route", 2));
    want.push(svc("TCP", "10.61.0.3", 80, "wlc").dest("127.0.61.13", 80, "Tunnel", 1));
    want.push(svc("UDP", "10.61.0.4", 53, "rr ops").dest("127.0.61.14", 5353, "Masq", 1));
    want.push(
        svc(
            "TCP",
            "10.61.0.5",
            443,
            "wrr persistent 600 mask 255.255.255.0",
        )
        .dest("127.0.61.15", 8443, "Masq", 3),
    );
    // keepalived clears the port of a DR real server of a fwmark service (it logs a warning).
    want.push(fwm(7, "sh (sh-fallback,sh-port)").dest("127.0.61.16", 0, "Route", 1));
    want.push(
        svc("TCP", "2001:db8:61::1", 80, "rr persistent 120 mask 64").dest(
            "2001:db8:61::10",
            8080,
            "Masq",
            4,
        ),
    );
    for a in ["10.61.1.1", "10.61.1.2", "10.61.1.3"] {
        want.push(svc("TCP", a, 80, "lc").dest("127.0.61.17", 8080, "Masq", 5));
    }
    want.push(fwm(9, "lc").dest("127.0.61.17", 8080, "Masq", 5));
    // alpha: real servers start down and join only after a successful check; this one never
    // answers, so the VS starts with its quorum down and the sorry server in the pool.
    let _ = write!(
        conf,
        "virtual_server 10.61.0.6 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  alpha\n  \
         sorry_server 127.0.61.19 80\n  real_server 127.0.61.18 80 {{\n    {}\n  }}\n}}\n",
        tcp_check()
    );
    want.push(svc("TCP", "10.61.0.6", 80, "rr").dest("127.0.61.19", 80, "Masq", 1));
    let expected = listing(want);

    let mut k = Keepalived::start(&d, dir.path(), &conf, &[]);
    wait_table(&d, &k, &expected, KEEPALIVED_TIMEOUT);
    k.wait_log("TCP_CHECK on service [127.0.61.18]:tcp:80 failed", &d);
    assert_table_stays(&d, Some(&k), &expected, Duration::from_millis(1500));
    let changes = journal(&d);
    assert!(
        dest_changes(&changes, "127.0.61.18", 80).is_empty(),
        "alpha: the real server that never passed a check must never be added: {changes:?}"
    );
    assert!(
        changes.iter().any(|c| c.cmd == cmd::FLUSH),
        "lvs_flush: no FLUSH reached dpvsd"
    );
    assert_eq!(
        ipvsadm_out(&d, &["-L", "--timeout"]),
        text::timeouts(1000, 100, 200)
    );
    assert_eq!(
        ipvsadm_out(&d, &["-L", "--daemon"]),
        format!(
            "{}{}",
            text::daemon("master", "lo", 7, 1400, "224.0.0.90", 8850, 2),
            text::daemon("backup", "lo", 7, 1400, "224.0.0.90", 8850, 2)
        )
    );

    let status = k.stop(&d);
    assert!(
        status.success(),
        "keepalived exit status {status}\n{}",
        report(&d, Some(&k))
    );
    assert_eq!(
        ipvsadm_out(&d, &["-Ln"]),
        empty_listing(),
        "SIGTERM must remove every service\n{}",
        report(&d, Some(&k))
    );
    assert_eq!(
        ipvsadm_out(&d, &["-L", "--daemon"]),
        "",
        "SIGTERM must stop the sync daemons"
    );
    // ipvs_stop (ipvswrapper.c) puts back the timeouts keepalived read at start (GET_CONFIG).
    assert_eq!(
        ipvsadm_out(&d, &["-L", "--timeout"]),
        text::timeouts(900, 120, 300)
    );
}

/// TCP_CHECK: a real server that stops answering is removed (or, with inhibit_on_failure, set
/// to weight 0) within the checker's delay, and comes back when it answers again.
#[test]
fn tcp_check_removes_inhibits_and_restores() {
    if skip_keepalived() {
        return;
    }
    let d = Dpvsd::start();
    let dir = TempDir::new("dpvs-ka-tcp-").expect("temp dir");
    let a = RealServer::tcp("127.0.62.10:8080");
    let b = RealServer::tcp("127.0.62.11:8080");
    let conf = format!(
        "global_defs {{\n  router_id e2e-tcp\n}}\n\
         virtual_server 10.62.0.1 80 {{\n  delay_loop 1\n  lb_algo wlc\n  lb_kind NAT\n  protocol TCP\n\
         \x20 real_server 127.0.62.10 8080 {{\n    weight 3\n    {c}\n  }}\n\
         \x20 real_server 127.0.62.11 8080 {{\n    weight 2\n    inhibit_on_failure\n    {c}\n  }}\n}}\n",
        c = tcp_check()
    );
    let both = |wa: Option<i64>, wb: i64| {
        let mut s = svc("TCP", "10.62.0.1", 80, "wlc");
        if let Some(wa) = wa {
            s = s.dest("127.0.62.10", 8080, "Masq", wa);
        }
        listing(vec![s.dest("127.0.62.11", 8080, "Masq", wb)])
    };
    let k = Keepalived::start(&d, dir.path(), &conf, &[]);
    wait_table(&d, &k, &both(Some(3), 2), KEEPALIVED_TIMEOUT);
    k.wait_log("TCP connection to [127.0.62.11]:tcp:8080 success", &d);

    a.stop();
    let t = wait_table(&d, &k, &both(None, 2), TRANSITION);
    println!("removed after {t:?}");
    b.stop();
    let t = wait_table(&d, &k, &both(None, 0), TRANSITION);
    println!("inhibited after {t:?}");

    let _a = RealServer::tcp("127.0.62.10:8080");
    let _b = RealServer::tcp("127.0.62.11:8080");
    let t = wait_table(&d, &k, &both(Some(3), 2), TRANSITION);
    println!("restored after {t:?}");
    let changes = journal(&d);
    assert_eq!(
        dest_changes(&changes, "127.0.62.10", 8080),
        [cmd::NEW_DEST, cmd::DEL_DEST, cmd::NEW_DEST]
    );
    assert_eq!(
        dest_changes(&changes, "127.0.62.11", 8080),
        [cmd::NEW_DEST, cmd::SET_DEST, cmd::SET_DEST]
    );
}

/// HTTP_GET with status_code and with a digest computed by genhash: a page that changes or
/// disappears takes its server out; putting it back restores it.
#[test]
fn http_get_status_code_and_digest() {
    if skip_keepalived() {
        return;
    }
    let d = Dpvsd::start();
    let dir = TempDir::new("dpvs-ka-http-").expect("temp dir");
    let page = b"<html><body>dpvs-rs e2e</body></html>\n".to_vec();
    let ok_reply: HttpReply = Arc::new(Mutex::new(("200 OK".into(), b"ok\n".to_vec())));
    let page_reply: HttpReply = Arc::new(Mutex::new(("200 OK".into(), page.clone())));
    let _s1 = RealServer::http("127.0.63.10:8080", ok_reply.clone());
    let _s2 = RealServer::http("127.0.63.11:8080", page_reply.clone());

    let out = Command::new(GENHASH)
        .args(["-s", "127.0.63.11", "-p", "8080", "-u", "/index.html"])
        .stdin(Stdio::null())
        .output()
        .expect("run genhash");
    let digest = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        digest.len() == 32 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
        "genhash printed {digest:?}, stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let conf = format!(
        "global_defs {{\n  router_id e2e-http\n}}\n\
         virtual_server 10.63.0.1 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
         \x20 real_server 127.0.63.10 8080 {{\n    weight 1\n    HTTP_GET {{\n      url {{\n        path /health\n        status_code 200\n      }}\n\
         \x20     connect_timeout 1\n      retry 0\n    }}\n  }}\n\
         \x20 real_server 127.0.63.11 8080 {{\n    weight 1\n    HTTP_GET {{\n      url {{\n        path /index.html\n        digest {digest}\n      }}\n\
         \x20     connect_timeout 1\n      retry 0\n    }}\n  }}\n}}\n"
    );
    let table = |a: bool, b: bool| {
        let mut s = svc("TCP", "10.63.0.1", 80, "rr");
        if a {
            s = s.dest("127.0.63.10", 8080, "Masq", 1);
        }
        if b {
            s = s.dest("127.0.63.11", 8080, "Masq", 1);
        }
        listing(vec![s])
    };
    let k = Keepalived::start(&d, dir.path(), &conf, &[]);
    wait_table(&d, &k, &table(true, true), KEEPALIVED_TIMEOUT);
    k.wait_log(
        "Remote Web server [127.0.63.10]:tcp:8080 succeed on service.",
        &d,
    );
    k.wait_log(
        "Remote Web server [127.0.63.11]:tcp:8080 succeed on service.",
        &d,
    );
    assert_table_stays(
        &d,
        Some(&k),
        &table(true, true),
        Duration::from_millis(1500),
    );

    *ok_reply.lock().unwrap() = ("503 Service Unavailable".into(), b"down\n".to_vec());
    wait_table(&d, &k, &table(false, true), TRANSITION);
    *page_reply.lock().unwrap() = ("200 OK".into(), b"<html>changed</html>\n".to_vec());
    wait_table(&d, &k, &table(false, false), TRANSITION);
    *ok_reply.lock().unwrap() = ("200 OK".into(), b"ok\n".to_vec());
    *page_reply.lock().unwrap() = ("200 OK".into(), page);
    wait_table(&d, &k, &table(true, true), TRANSITION);
}

/// MISC_CHECK with misc_dynamic: exit 0 up with the configured weight, 1 down, 2+N up with
/// weight N.
#[test]
fn misc_check_dynamic_weights() {
    if skip_keepalived() {
        return;
    }
    let d = Dpvsd::start();
    let dir = TempDir::new("dpvs-ka-misc-").expect("temp dir");
    let state = dir.path().join("exit-code");
    fs::write(&state, "0\n").expect("write state");
    let script = dir.path().join("check.sh");
    write_script(&script, &format!("exit $(cat {})", state.display()));
    let conf = format!(
        "global_defs {{\n  router_id e2e-misc\n}}\n\
         virtual_server 10.64.0.1 80 {{\n  delay_loop 1\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n\
         \x20 real_server 127.0.64.10 80 {{\n    weight 5\n    MISC_CHECK {{\n      misc_path \"{}\"\n      misc_timeout 2\n      misc_dynamic\n    }}\n  }}\n\
         \x20 real_server 127.0.64.11 80 {{\n    weight 1\n  }}\n}}\n",
        script.display()
    );
    let table = |w: Option<i64>| {
        let mut s = svc("TCP", "10.64.0.1", 80, "wrr");
        if let Some(w) = w {
            s = s.dest("127.0.64.10", 80, "Route", w);
        }
        listing(vec![s.dest("127.0.64.11", 80, "Route", 1)])
    };
    let k = Keepalived::start(&d, dir.path(), &conf, &[]);
    wait_table(&d, &k, &table(Some(5)), KEEPALIVED_TIMEOUT);
    fs::write(&state, "12\n").expect("write state");
    wait_table(&d, &k, &table(Some(10)), TRANSITION);
    fs::write(&state, "1\n").expect("write state");
    wait_table(&d, &k, &table(None), TRANSITION);
    fs::write(&state, "4\n").expect("write state");
    wait_table(&d, &k, &table(Some(2)), TRANSITION);
    fs::write(&state, "0\n").expect("write state");
    wait_table(&d, &k, &table(Some(5)), TRANSITION);
}

/// quorum with hysteresis: the quorum is lost only below quorum - hysteresis and regained only
/// at quorum + hysteresis; on loss the sorry server replaces the pool and quorum_down runs, on
/// gain the pool comes back and quorum_up runs.
#[test]
fn quorum_hysteresis_and_sorry_server() {
    if skip_keepalived() {
        return;
    }
    let d = Dpvsd::start();
    let dir = TempDir::new("dpvs-ka-quorum-").expect("temp dir");
    let events = dir.path().join("events");
    let script = dir.path().join("event.sh");
    write_script(&script, &format!("echo \"$1\" >> {}", events.display()));
    let addrs = ["127.0.65.10:80", "127.0.65.11:80", "127.0.65.12:80"];
    let mut servers: Vec<Option<RealServer>> =
        addrs.iter().map(|a| Some(RealServer::tcp(a))).collect();
    let mut conf = format!(
        "global_defs {{\n  router_id e2e-quorum\n}}\n\
         virtual_server 10.65.0.1 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  quorum 2\n  hysteresis 1\n\
         \x20 quorum_up \"{s} up\"\n  quorum_down \"{s} down\"\n  sorry_server 127.0.65.20 80\n",
        s = script.display()
    );
    for a in addrs {
        let (ip, port) = a.split_once(':').unwrap();
        let _ = write!(
            conf,
            "  real_server {ip} {port} {{\n    weight 1\n    {}\n  }}\n",
            tcp_check()
        );
    }
    conf.push_str("}\n");
    let pool = |alive: &[bool]| {
        let mut s = svc("TCP", "10.65.0.1", 80, "rr");
        for (a, up) in addrs.iter().zip(alive) {
            if *up {
                let (ip, port) = a.split_once(':').unwrap();
                s = s.dest(ip, port.parse().unwrap(), "Masq", 1);
            }
        }
        listing(vec![s])
    };
    let sorry = listing(vec![svc("TCP", "10.65.0.1", 80, "rr").dest(
        "127.0.65.20",
        80,
        "Masq",
        1,
    )]);
    let events_text = || fs::read_to_string(&events).unwrap_or_default();

    let k = Keepalived::start(&d, dir.path(), &conf, &[]);
    wait_table(&d, &k, &pool(&[true, true, true]), KEEPALIVED_TIMEOUT);
    for i in 0..3 {
        k.wait_log(
            &format!("TCP connection to [127.0.65.1{i}]:tcp:80 success"),
            &d,
        );
    }
    // 3 -> 2 -> 1: still >= quorum - hysteresis = 1, so the quorum holds.
    servers[0] = None;
    wait_table(&d, &k, &pool(&[false, true, true]), TRANSITION);
    servers[1] = None;
    wait_table(&d, &k, &pool(&[false, false, true]), TRANSITION);
    assert_eq!(k.count("Lost quorum"), 0, "{}", report(&d, Some(&k)));
    // 0 < 1: lost; the sorry server takes over.
    servers[2] = None;
    wait_table(&d, &k, &sorry, TRANSITION);
    k.wait_log("Lost quorum", &d);
    // 1, then 2 alive: below quorum + hysteresis = 3, so the sorry server stays.
    servers[0] = Some(RealServer::tcp(addrs[0]));
    k.wait_log_n(
        "TCP connection to [127.0.65.10]:tcp:80 success",
        2,
        TRANSITION,
        &d,
    );
    servers[1] = Some(RealServer::tcp(addrs[1]));
    k.wait_log_n(
        "TCP connection to [127.0.65.11]:tcp:80 success",
        2,
        TRANSITION,
        &d,
    );
    assert_table_stays(&d, Some(&k), &sorry, Duration::from_millis(1200));
    assert_eq!(
        k.count("Gained quorum"),
        1,
        "only the initial gain so far\n{}",
        report(&d, Some(&k))
    );
    // 3: regained; the pool replaces the sorry server.
    servers[2] = Some(RealServer::tcp(addrs[2]));
    wait_table(&d, &k, &pool(&[true, true, true]), TRANSITION);
    let deadline = Instant::now() + Duration::from_secs(5);
    // quorum_up also ran at startup, when the quorum was first gained.
    while events_text() != "up\ndown\nup\n" && Instant::now() < deadline {
        thread::sleep(POLL);
    }
    assert_eq!(
        events_text(),
        "up\ndown\nup\n",
        "quorum_up, quorum_down, quorum_up\n{}",
        report(&d, Some(&k))
    );
}

/// SIGHUP with an edited configuration changes only the differences: a real server that stays
/// is neither deleted nor re-added (so it keeps its place and its counters), a changed weight
/// is a SET_DEST, a changed scheduler a SET_SERVICE, removed and added objects DEL/NEW.
#[test]
fn reload_applies_only_the_differences() {
    if skip_keepalived() {
        return;
    }
    let d = Dpvsd::start();
    let dir = TempDir::new("dpvs-ka-reload-").expect("temp dir");
    let _servers: Vec<RealServer> = [
        "127.0.66.10:80",
        "127.0.66.11:80",
        "127.0.66.12:80",
        "127.0.66.13:80",
    ]
    .iter()
    .map(|a| RealServer::tcp(a))
    .collect();
    let rs = |ip: &str, w: u32| {
        format!(
            "  real_server {ip} 80 {{\n    weight {w}\n    {}\n  }}\n",
            tcp_check()
        )
    };
    let vs = |addr: &str, algo: &str, body: &str| {
        format!("virtual_server {addr} 80 {{\n  delay_loop 1\n  lb_algo {algo}\n  lb_kind NAT\n  protocol TCP\n{body}}}\n")
    };
    let head = "global_defs {\n  router_id e2e-reload\n}\n";
    let before = format!(
        "{head}{}{}{}",
        vs(
            "10.66.0.1",
            "rr",
            &(rs("127.0.66.10", 1) + &rs("127.0.66.11", 1) + &rs("127.0.66.12", 1))
        ),
        vs("10.66.0.2", "wlc", &rs("127.0.66.10", 1)),
        vs("10.66.0.3", "rr", &rs("127.0.66.10", 1)),
    );
    // .10 stays as it was, .11 changes weight, .12 goes, .13 comes; 10.66.0.2 changes
    // scheduler, 10.66.0.3 stays, 10.66.0.4 is new, 10.66.0.1 keeps its scheduler.
    let after = format!(
        "{head}{}{}{}{}",
        vs(
            "10.66.0.1",
            "rr",
            &(rs("127.0.66.10", 1) + &rs("127.0.66.11", 4) + &rs("127.0.66.13", 1))
        ),
        vs("10.66.0.2", "wrr", &rs("127.0.66.10", 1)),
        vs("10.66.0.3", "rr", &rs("127.0.66.10", 1)),
        vs("10.66.0.4", "rr", &rs("127.0.66.13", 2)),
    );
    let table_before = listing(vec![
        svc("TCP", "10.66.0.1", 80, "rr")
            .dest("127.0.66.10", 80, "Masq", 1)
            .dest("127.0.66.11", 80, "Masq", 1)
            .dest("127.0.66.12", 80, "Masq", 1),
        svc("TCP", "10.66.0.2", 80, "wlc").dest("127.0.66.10", 80, "Masq", 1),
        svc("TCP", "10.66.0.3", 80, "rr").dest("127.0.66.10", 80, "Masq", 1),
    ]);
    let table_after = listing(vec![
        svc("TCP", "10.66.0.1", 80, "rr")
            .dest("127.0.66.10", 80, "Masq", 1)
            .dest("127.0.66.11", 80, "Masq", 4)
            .dest("127.0.66.13", 80, "Masq", 1),
        svc("TCP", "10.66.0.2", 80, "wrr").dest("127.0.66.10", 80, "Masq", 1),
        svc("TCP", "10.66.0.3", 80, "rr").dest("127.0.66.10", 80, "Masq", 1),
        svc("TCP", "10.66.0.4", 80, "rr").dest("127.0.66.13", 80, "Masq", 2),
    ]);
    let k = Keepalived::start(&d, dir.path(), &before, &[]);
    wait_table(&d, &k, &table_before, KEEPALIVED_TIMEOUT);
    k.wait_log("TCP connection to [127.0.66.12]:tcp:80 success", &d);
    let stats_before = ipvsadm_out(&d, &["-Ln", "--stats", "-t", "10.66.0.1:80"]);
    let mark = journal(&d).len();

    k.reload(&after);
    wait_table(&d, &k, &table_after, KEEPALIVED_TIMEOUT);
    assert_table_stays(&d, Some(&k), &table_after, Duration::from_millis(2500));
    let all = journal(&d);
    let new = &all[mark..];
    let v1 = tcp_key("10.66.0.1", 80);
    let in_v1 = |a: &str| -> Vec<u8> {
        let ip: IpAddr = a.parse().unwrap();
        new.iter()
            .filter(|c| c.svc == Some(v1) && c.dest == Some((ip, 80)))
            .map(|c| c.cmd)
            .collect()
    };
    let why = || {
        format!(
            "changes since the reload: {new:#?}\n{}",
            report(&d, Some(&k))
        )
    };
    assert_eq!(
        in_v1("127.0.66.10"),
        [] as [u8; 0],
        "the unchanged real server was touched\n{}",
        why()
    );
    assert_eq!(in_v1("127.0.66.11"), [cmd::SET_DEST], "{}", why());
    assert_eq!(in_v1("127.0.66.12"), [cmd::DEL_DEST], "{}", why());
    assert_eq!(in_v1("127.0.66.13"), [cmd::NEW_DEST], "{}", why());
    assert_eq!(svc_changes(new, v1), [] as [u8; 0], "{}", why());
    assert_eq!(
        svc_changes(new, tcp_key("10.66.0.2", 80)),
        [cmd::SET_SERVICE],
        "{}",
        why()
    );
    assert!(
        !new.iter()
            .any(|c| c.svc == Some(tcp_key("10.66.0.2", 80)) && c.dest.is_some()),
        "a scheduler change must not re-add the real servers\n{}",
        why()
    );
    assert!(
        !new.iter().any(|c| c.svc == Some(tcp_key("10.66.0.3", 80))),
        "the unchanged virtual server was touched\n{}",
        why()
    );
    assert_eq!(
        svc_changes(new, tcp_key("10.66.0.4", 80)),
        [cmd::NEW_SERVICE],
        "{}",
        why()
    );
    assert!(!new.iter().any(|c| c.cmd == cmd::FLUSH), "{}", why());
    // Counters are all zero without a dataplane; the unchanged server's line is still there.
    let stats_after = ipvsadm_out(&d, &["-Ln", "--stats", "-t", "10.66.0.1:80"]);
    let line = |s: &str| {
        s.lines()
            .find(|l| l.contains("127.0.66.10:80"))
            .map(str::to_string)
    };
    assert_eq!(line(&stats_before), line(&stats_after));
    assert!(line(&stats_after).is_some());
}

/// Stop: SIGTERM removes keepalived's services and nothing else; lvs_flush_on_stop flushes the
/// whole table; `keepalived -I` (--dont-release-ipvs) leaves everything in place.
#[test]
fn stop_plain_flush_on_stop_and_dont_release() {
    if skip_keepalived() {
        return;
    }
    let d = Dpvsd::start();
    let foreign = || {
        ipvsadm_out(&d, &["-A", "-t", "10.67.9.99:80", "-s", "rr"]);
        ipvsadm_out(
            &d,
            &[
                "-a",
                "-t",
                "10.67.9.99:80",
                "-r",
                "198.51.100.67:80",
                "-m",
                "-w",
                "7",
            ],
        );
    };
    let foreign_svc = || svc("TCP", "10.67.9.99", 80, "rr").dest("198.51.100.67", 80, "Masq", 7);
    let ours = || {
        vec![
            svc("TCP", "10.67.0.1", 80, "rr")
                .dest("127.0.67.10", 80, "Masq", 1)
                .dest("127.0.67.11", 80, "Masq", 1),
            svc("UDP", "10.67.0.2", 53, "rr").dest("127.0.67.12", 53, "Masq", 1),
        ]
    };
    let conf = |flush: &str| {
        format!(
            "global_defs {{\n  router_id e2e-stop\n{flush}}}\n\
             virtual_server 10.67.0.1 80 {{\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
             \x20 real_server 127.0.67.10 80 {{\n  }}\n  real_server 127.0.67.11 80 {{\n  }}\n}}\n\
             virtual_server 10.67.0.2 53 {{\n  lb_algo rr\n  lb_kind NAT\n  protocol UDP\n  real_server 127.0.67.12 53 {{\n  }}\n}}\n"
        )
    };
    let mut full = ours();
    full.push(foreign_svc());
    foreign();

    // Plain stop: DEL_DEST/DEL_SERVICE for what keepalived added; the foreign service stays.
    {
        let dir = TempDir::new("dpvs-ka-stop-").expect("temp dir");
        let mut k = Keepalived::start(&d, dir.path(), &conf(""), &[]);
        wait_table(
            &d,
            &k,
            &listing(ours().into_iter().chain([foreign_svc()]).collect()),
            KEEPALIVED_TIMEOUT,
        );
        let mark = journal(&d).len();
        assert!(k.stop(&d).success());
        assert_eq!(
            ipvsadm_out(&d, &["-Ln"]),
            listing(vec![foreign_svc()]),
            "{}",
            report(&d, Some(&k))
        );
        assert!(!journal(&d)[mark..].iter().any(|c| c.cmd == cmd::FLUSH));
    }
    // lvs_flush_on_stop: one FLUSH, the foreign service goes too.
    {
        let dir = TempDir::new("dpvs-ka-stop-flush-").expect("temp dir");
        let mut k = Keepalived::start(&d, dir.path(), &conf("  lvs_flush_on_stop\n"), &[]);
        wait_table(
            &d,
            &k,
            &listing(ours().into_iter().chain([foreign_svc()]).collect()),
            KEEPALIVED_TIMEOUT,
        );
        let mark = journal(&d).len();
        assert!(k.stop(&d).success());
        assert_eq!(
            ipvsadm_out(&d, &["-Ln"]),
            empty_listing(),
            "{}",
            report(&d, Some(&k))
        );
        let cmds: Vec<u8> = journal(&d)[mark..].iter().map(|c| c.cmd).collect();
        assert!(
            cmds.contains(&cmd::FLUSH),
            "lvs_flush_on_stop sent {cmds:?}"
        );
        assert!(
            !cmds.contains(&cmd::DEL_DEST),
            "lvs_flush_on_stop sent {cmds:?}"
        );
    }
    // -I: nothing is removed.
    foreign();
    {
        let dir = TempDir::new("dpvs-ka-stop-keep-").expect("temp dir");
        let mut k = Keepalived::start(&d, dir.path(), &conf(""), &["-I"]);
        let expected = listing(ours().into_iter().chain([foreign_svc()]).collect());
        wait_table(&d, &k, &expected, KEEPALIVED_TIMEOUT);
        assert!(k.stop(&d).success());
        assert_eq!(
            ipvsadm_out(&d, &["-Ln"]),
            expected,
            "{}",
            report(&d, Some(&k))
        );
    }
}

/// keepalived started while dpvsd is down fails as on a kernel without IPVS: the checker logs
/// why and exits FATAL, and keepalived terminates instead of running without IPVS.
#[test]
fn keepalived_without_dpvsd_fails_clearly() {
    if skip_keepalived() {
        return;
    }
    let dir = TempDir::new("dpvs-ka-nodpvsd-").expect("temp dir");
    let socket = dir.path().join("no-dpvsd-here.sock");
    let conf = "global_defs {\n  router_id e2e-nodpvsd\n}\n\
                virtual_server 10.68.0.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 127.0.68.10 80 {\n  }\n}\n";
    let mut k = Keepalived::start_on(&socket, dir.path(), conf, &[]);
    let status = k.wait_exit(KEEPALIVED_TIMEOUT);
    let log = k.log_text();
    let status =
        status.unwrap_or_else(|| panic!("keepalived still runs without dpvsd; log:\n{log}"));
    assert!(
        !status.success(),
        "keepalived exited {status} without IPVS; log:\n{log}"
    );
    // libipvs' ipvs_init fails (the kernel has no IPVS family), keepalived's modprobe retry
    // fails too, and the checker exits with KEEPALIVED_EXIT_FATAL.
    assert!(log.contains("IPVS: Can't initialize ipvs: "), "log:\n{log}");
    assert!(
        log.contains("exited with permanent error FATAL. Terminating"),
        "log:\n{log}"
    );
}

/// dpvsd restarted under a running keepalived comes back with keepalived's table, and
/// keepalived goes on without a restart: its next health-check transitions reach the new dpvsd.
#[test]
fn dpvsd_restart_under_running_keepalived() {
    if skip_keepalived() {
        return;
    }
    let mut d = Dpvsd::start();
    let dir = TempDir::new("dpvs-ka-restart-").expect("temp dir");
    let a = RealServer::tcp("127.0.69.10:80");
    let _b = RealServer::tcp("127.0.69.11:80");
    let conf = format!(
        "global_defs {{\n  router_id e2e-restart\n}}\n\
         virtual_server 10.69.0.1 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
         \x20 real_server 127.0.69.10 80 {{\n    weight 2\n    {c}\n  }}\n  real_server 127.0.69.11 80 {{\n    weight 1\n    {c}\n  }}\n}}\n",
        c = tcp_check()
    );
    let table = |a: bool| {
        let mut s = svc("TCP", "10.69.0.1", 80, "rr");
        if a {
            s = s.dest("127.0.69.10", 80, "Masq", 2);
        }
        listing(vec![s.dest("127.0.69.11", 80, "Masq", 1)])
    };
    let k = Keepalived::start(&d, dir.path(), &conf, &[]);
    wait_table(&d, &k, &table(true), KEEPALIVED_TIMEOUT);
    k.wait_log("TCP connection to [127.0.69.10]:tcp:80 success", &d);

    d.restart();
    assert_eq!(
        ipvsadm_out(&d, &["-Ln"]),
        table(true),
        "dpvsd lost keepalived's table\n{}",
        report(&d, Some(&k))
    );
    a.stop();
    wait_table(&d, &k, &table(false), TRANSITION);
    let a2 = RealServer::tcp("127.0.69.10:80");
    wait_table(&d, &k, &table(true), TRANSITION);
    // And once more across a crash of dpvsd.
    d.kill();
    d.start_again();
    assert_eq!(
        ipvsadm_out(&d, &["-Ln"]),
        table(true),
        "{}",
        report(&d, Some(&k))
    );
    drop(a2);
    wait_table(&d, &k, &table(false), TRANSITION);
    assert!(k
        .pid()
        .is_some_and(|p| is_our_keepalived(p, &dir.path().join("keepalived.conf"))));
}

/// A health-check transition that happens while dpvsd is down (a restart) reaches dpvsd when it
/// is back: afterwards the table is what keepalived believes it is.
#[test]
fn transition_while_dpvsd_is_down_is_applied_when_it_returns() {
    if skip_keepalived() {
        return;
    }
    let mut d = Dpvsd::start();
    let dir = TempDir::new("dpvs-ka-down-").expect("temp dir");
    let a = RealServer::tcp("127.0.72.10:80");
    let _b = RealServer::tcp("127.0.72.11:80");
    let conf = format!(
        "global_defs {{\n  router_id e2e-down\n}}\n\
         virtual_server 10.72.0.1 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
         \x20 real_server 127.0.72.10 80 {{\n    {c}\n  }}\n  real_server 127.0.72.11 80 {{\n    {c}\n  }}\n}}\n",
        c = tcp_check()
    );
    let table = |a: bool| {
        let mut s = svc("TCP", "10.72.0.1", 80, "rr");
        if a {
            s = s.dest("127.0.72.10", 80, "Masq", 1);
        }
        listing(vec![s.dest("127.0.72.11", 80, "Masq", 1)])
    };
    let k = Keepalived::start(&d, dir.path(), &conf, &[]);
    wait_table(&d, &k, &table(true), KEEPALIVED_TIMEOUT);
    k.wait_log("TCP connection to [127.0.72.10]:tcp:80 success", &d);

    // dpvsd is stopped (as during `systemctl restart dpvsd`) when the check fails.
    d.stop().expect("stop dpvsd");
    a.stop();
    k.wait_log("Removing service [127.0.72.10]:tcp:80", &d);
    d.start_again();
    // keepalived sent DEL_DEST while dpvsd was away; it will not send it again.
    wait_table(&d, &k, &table(false), TRANSITION);
}

/// dpvsd dying while keepalived waits for the answer to a request must not wedge keepalived:
/// once dpvsd is back, keepalived goes on checking and its transitions apply.
#[test]
fn dpvsd_crash_during_a_request_does_not_wedge_keepalived() {
    if skip_keepalived() {
        return;
    }
    let mut d = Dpvsd::start();
    let dir = TempDir::new("dpvs-ka-crash-").expect("temp dir");
    let a = RealServer::tcp("127.0.73.10:80");
    let b = RealServer::tcp("127.0.73.11:80");
    let conf = format!(
        "global_defs {{\n  router_id e2e-crash\n}}\n\
         virtual_server 10.73.0.1 80 {{\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
         \x20 real_server 127.0.73.10 80 {{\n    {c}\n  }}\n  real_server 127.0.73.11 80 {{\n    {c}\n  }}\n}}\n",
        c = tcp_check()
    );
    let table = |a: bool, b: bool| {
        let mut s = svc("TCP", "10.73.0.1", 80, "rr");
        if a {
            s = s.dest("127.0.73.10", 80, "Masq", 1);
        }
        if b {
            s = s.dest("127.0.73.11", 80, "Masq", 1);
        }
        listing(vec![s])
    };
    let k = Keepalived::start(&d, dir.path(), &conf, &[]);
    wait_table(&d, &k, &table(true, true), KEEPALIVED_TIMEOUT);
    k.wait_log("TCP connection to [127.0.73.10]:tcp:80 success", &d);
    k.wait_log("TCP connection to [127.0.73.11]:tcp:80 success", &d);

    // dpvsd hangs, keepalived sends DEL_DEST and waits for the ACK, dpvsd dies, comes back.
    let pid = dpvsd_pid(&d);
    assert!(signal(pid, libc::SIGSTOP));
    a.stop();
    k.wait_log("Removing service [127.0.73.10]:tcp:80", &d);
    thread::sleep(Duration::from_millis(300));
    d.kill();
    d.start_again();

    let checker = k.checker_pid().expect("checker pid");
    let before = cpu_ticks(checker);
    thread::sleep(Duration::from_secs(1));
    let spent = cpu_ticks(checker) - before;
    assert!(
        spent < 50,
        "keepalived's checker used {spent} ticks of CPU in 1 s: it spins\n{}",
        report(&d, Some(&k))
    );
    b.stop();
    wait_table(&d, &k, &table(false, false), TRANSITION);
    let _a = RealServer::tcp("127.0.73.10:80");
    let _b = RealServer::tcp("127.0.73.11:80");
    wait_table(&d, &k, &table(true, true), TRANSITION);
}

/// keepalived killed with SIGKILL leaves dpvsd consistent: still serving, the table as
/// keepalived left it; a new keepalived then takes it over and manages it again.
#[test]
fn keepalived_sigkill_leaves_dpvsd_consistent() {
    if skip_keepalived() {
        return;
    }
    let mut d = Dpvsd::start();
    let dir = TempDir::new("dpvs-ka-kill-").expect("temp dir");
    let _a = RealServer::tcp("127.0.70.10:80");
    let b = RealServer::tcp("127.0.70.11:80");
    let conf = format!(
        "global_defs {{\n  router_id e2e-kill\n}}\n\
         virtual_server 10.70.0.1 80 {{\n  delay_loop 1\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n\
         \x20 real_server 127.0.70.10 80 {{\n    weight 2\n    {c}\n  }}\n  real_server 127.0.70.11 80 {{\n    weight 1\n    {c}\n  }}\n}}\n\
         virtual_server 10.70.0.2 53 {{\n  lb_algo rr\n  lb_kind NAT\n  protocol UDP\n  real_server 127.0.70.12 53 {{\n  }}\n}}\n",
        c = tcp_check()
    );
    let table = |b: bool| {
        let mut s = svc("TCP", "10.70.0.1", 80, "wrr").dest("127.0.70.10", 80, "Masq", 2);
        if b {
            s = s.dest("127.0.70.11", 80, "Masq", 1);
        }
        listing(vec![
            s,
            svc("UDP", "10.70.0.2", 53, "rr").dest("127.0.70.12", 53, "Masq", 1),
        ])
    };
    let mut k = Keepalived::start(&d, dir.path(), &conf, &[]);
    wait_table(&d, &k, &table(true), KEEPALIVED_TIMEOUT);
    b.stop();
    wait_table(&d, &k, &table(false), TRANSITION);

    k.kill9();
    assert!(d.ipvsadm(&["-Ln"]).status.success());
    assert_table_stays(&d, None, &table(false), Duration::from_secs(2));
    assert!(
        d.exited().is_none(),
        "dpvsd died with its client\n{}",
        report(&d, None)
    );
    // Still serving changes.
    ipvsadm_out(&d, &["-A", "-t", "192.0.2.70:80", "-s", "rr"]);
    ipvsadm_out(&d, &["-D", "-t", "192.0.2.70:80"]);

    // A new keepalived adopts the table left behind (EEXIST on add counts as done).
    let dir2 = TempDir::new("dpvs-ka-kill2-").expect("temp dir");
    let b2 = RealServer::tcp("127.0.70.11:80");
    let k2 = Keepalived::start(&d, dir2.path(), &conf, &[]);
    wait_table(&d, &k2, &table(true), KEEPALIVED_TIMEOUT);
    drop(b2);
    wait_table(&d, &k2, &table(false), TRANSITION);
}
