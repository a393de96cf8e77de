//! End-to-end harness: a real `dpvsd` serving the IPVS generic-netlink API on a unix socket, and
//! Debian's unmodified `/usr/sbin/ipvsadm` talking to it through `libipvs_netlink_shim.so`.
//!
//! Every process started here is bounded in time and stopped by its pid: `dpvsd` gets SIGTERM
//! (then SIGKILL) when its [`Dpvsd`] is dropped, and an `ipvsadm` that outlives
//! [`COMMAND_TIMEOUT`] is killed and reported as a hang.
//!
//! The expected texts used by the tests are derived from ipvsadm 1.31's printf formats
//! (`ipvsadm.c`) and `ipvs_strerror` (`libipvs/libipvs.c`), plus the kernel's semantics
//! (`net/netfilter/ipvs/ip_vs_ctl.c`); see [`text`].

pub mod dataplane;
pub mod ha;
pub mod netns;
mod offline;

pub use offline::offline;

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Debian's ipvsadm 1.31, unmodified.
pub const IPVSADM: &str = "/usr/sbin/ipvsadm";
/// Longest an ipvsadm run may take before it counts as a hang.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest dpvsd may take until its socket accepts connections.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest dpvsd may take to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// uid and gid of `nobody`.
pub const NOBODY: u32 = 65534;

/// Where `dpvsd` and `libipvs_netlink_shim.so` are: `$DPVS_BIN_DIR`, else the workspace's
/// `target/debug`.
pub fn bin_dir() -> PathBuf {
    match std::env::var_os("DPVS_BIN_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug"),
    }
}

/// The daemon under test.
pub fn dpvsd_bin() -> PathBuf {
    bin_dir().join("dpvsd")
}

/// The LD_PRELOAD shim under test.
pub fn shim_lib() -> PathBuf {
    bin_dir().join("libipvs_netlink_shim.so")
}

/// The environment of a client of dpvsd through the shim (ipvsadm, keepalived): nothing of
/// the test's own, `C` locale, `shim` preloaded, dpvsd's IPVS socket at `socket`.
pub fn shim_env<'a>(cmd: &'a mut Command, shim: &Path, socket: &Path) -> &'a mut Command {
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .env("LD_PRELOAD", shim)
        .env("DPVSD_IPVS_SOCKET", socket)
}

/// Runs Debian's ipvsadm through the shim on the dpvsd at `socket`: its stdout, or Err with
/// what it printed unless it exits 0, or when it hangs (killed after [`COMMAND_TIMEOUT`]).
pub fn ipvsadm_on(socket: &Path, args: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new(IPVSADM);
    shim_env(offline(cmd.args(args)), &shim_lib(), socket);
    let out = run_with_timeout(cmd, None, COMMAND_TIMEOUT)?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "ipvsadm {} failed ({}): {}{stdout}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// ipvsadm-compat under test (`target/debug/ipvsadm-compat`, or in `$DPVS_BIN_DIR`).
pub fn ipvsadm_compat_bin() -> PathBuf {
    bin_dir().join("ipvsadm-compat")
}

/// What ipvsadm-compat is told its argv[0] is in the differential tests: Debian's ipvsadm's
/// path, so that messages naming argv[0] (`Try `%s -h' ...`, the usage) read the same.
pub const COMPAT_ARGV0: &str = IPVSADM;

/// True (after printing why) when these tests cannot run here: they need root (dpvsd's
/// permission rule and `ipvsadm` as root) and Debian's ipvsadm. CI runs as root with both.
pub fn skip() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        println!("skipped: needs root");
        return true;
    }
    if !Path::new(IPVSADM).exists() {
        println!("skipped: needs {IPVSADM} (Debian package ipvsadm)");
        return true;
    }
    false
}

/// A directory under the system temp dir, removed on drop (kept when `DPVS_E2E_KEEP` is set).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory, mode 0755 so that `nobody` can traverse it.
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "{prefix}{}-{n}-{nanos:x}",
                std::process::id()
            ));
            match fs::create_dir(&path) {
                Ok(()) => {
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
                    return Ok(TempDir { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free temp dir name"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("DPVS_E2E_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Connects a SOCK_SEQPACKET unix socket to `path` and closes it again: the readiness probe.
pub fn seqpacket_connect(path: &Path) -> io::Result<()> {
    seqpacket_connect_fd(path).map(drop)
}

/// Connects a SOCK_SEQPACKET socket to `path` and keeps it open.
pub fn seqpacket_connect_fd(path: &Path) -> io::Result<OwnedFd> {
    seqpacket::SeqPacket::connect(path).map(OwnedFd::from)
}

/// Runs `cmd` with its output captured, feeding `input` on stdin (else /dev/null). Kills it
/// and returns an error when it is still running after `timeout`.
pub fn run_with_timeout(
    mut cmd: Command,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, String> {
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let writer = match (input, child.stdin.take()) {
        (Some(data), Some(mut stdin)) => {
            let data = data.to_vec();
            Some(thread::spawn(move || {
                let _ = stdin.write_all(&data);
            }))
        }
        _ => None,
    };
    let out_reader = child.stdout.take().map(spawn_reader);
    let err_reader = child.stderr.take().map(spawn_reader);
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("waiting for {cmd:?}: {e}"));
            }
        }
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = out_reader.map(|r| r.join().unwrap_or_default()).unwrap_or_default();
    let stderr = err_reader.map(|r| r.join().unwrap_or_default()).unwrap_or_default();
    match status {
        Some(status) => Ok(Output { status, stdout, stderr }),
        None => Err(format!(
            "HANG: {cmd:?} still running after {timeout:?}, killed; stdout so far {:?}, stderr so far {:?}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )),
    }
}

fn spawn_reader<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// A running dpvsd with its own temp dir: `ipvs.sock`, `state/`, and one stdout/stderr log
/// per run.
#[derive(Debug)]
pub struct Dpvsd {
    dir: TempDir,
    socket: PathBuf,
    state_dir: PathBuf,
    child: Option<Child>,
    runs: u32,
}

impl Dpvsd {
    /// Starts dpvsd in a fresh temp dir and waits until its socket accepts a connection.
    /// Panics when the binaries are missing or dpvsd does not come up in [`START_TIMEOUT`].
    pub fn start() -> Dpvsd {
        for bin in [dpvsd_bin(), shim_lib()] {
            assert!(
                bin.exists(),
                "{} is missing: build it first (`cargo build -p dpvsd -p ipvs-netlink-shim`, \
                 or set DPVS_BIN_DIR)",
                bin.display()
            );
        }
        let dir = TempDir::new("dpvs-e2e-").expect("create temp dir");
        let socket = dir.path().join("ipvs.sock");
        let state_dir = dir.path().join("state");
        fs::create_dir(&state_dir).expect("create state dir");
        let mut d = Dpvsd { dir, socket, state_dir, child: None, runs: 0 };
        d.start_again();
        d
    }

    /// Starts dpvsd again (after [`Dpvsd::stop`]) on the same socket path and state dir.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "dpvsd is already running");
        self.runs += 1;
        let stdout = fs::File::create(self.stdout_path()).expect("create stdout log");
        let stderr = fs::File::create(self.stderr_path()).expect("create stderr log");
        let mut cmd = Command::new(dpvsd_bin());
        cmd.arg("--ipvs-socket")
            .arg(&self.socket)
            .arg("--state-dir")
            .arg(&self.state_dir);
        if let Some(level) = std::env::var_os("DPVS_E2E_LOG_LEVEL") {
            cmd.arg("--log-level").arg(level);
        }
        cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    panic!(
                        "dpvsd exited during startup ({status}); stderr:\n{}",
                        self.stderr_log()
                    );
                }
            }
            if seqpacket_connect(&self.socket).is_ok() {
                return;
            }
            if Instant::now() >= deadline {
                let _ = self.stop();
                panic!(
                    "dpvsd's socket {} did not accept a connection within {START_TIMEOUT:?}; \
                     stderr:\n{}",
                    self.socket.display(),
                    self.stderr_log()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for the exit. Err when dpvsd needed SIGKILL (or was not running).
    pub fn stop(&mut self) -> Result<ExitStatus, String> {
        let Some(mut child) = self.child.take() else {
            return Err("dpvsd is not running".into());
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet (we hold
        // its Child and only wait below), so the pid cannot have been reused.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let status = child.wait();
                    return Err(format!(
                        "dpvsd (pid {pid}) did not exit within {STOP_TIMEOUT:?} of SIGTERM; \
                         killed: {status:?}"
                    ));
                }
                Ok(None) => thread::sleep(Duration::from_millis(10)),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("waiting for dpvsd: {e}"));
                }
            }
        }
    }

    /// The exit status when dpvsd has exited on its own (it is then reaped).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    /// Kills dpvsd with SIGKILL (a crash) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops dpvsd (asserting it exits cleanly on SIGTERM) and starts it again, keeping the
    /// state dir.
    pub fn restart(&mut self) {
        let status = self.stop().expect("stop dpvsd");
        assert!(
            status.success(),
            "dpvsd did not exit cleanly on SIGTERM: {status} (signal {:?}); stderr:\n{}",
            status.signal(),
            self.stderr_log()
        );
        self.start_again();
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    fn stdout_path(&self) -> PathBuf {
        self.dir.path().join(format!("dpvsd.{}.stdout", self.runs))
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join(format!("dpvsd.{}.stderr", self.runs))
    }

    /// What the current (or last) run of dpvsd wrote on stderr.
    pub fn stderr_log(&self) -> String {
        fs::read(self.stderr_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// ipvsadm's environment on this dpvsd ([`shim_env`]), started [`offline`].
    fn ipvsadm_env(&self, cmd: &mut Command, shim: &Path) {
        shim_env(offline(cmd), shim, &self.socket);
    }

    /// Runs ipvsadm with the shim preloaded; Err on a hang (killed after [`COMMAND_TIMEOUT`]).
    pub fn try_ipvsadm<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        input: Option<&str>,
    ) -> Result<Output, String> {
        // DPVS_E2E_IPVSADM_COMPAT=1: every expectation written for Debian's ipvsadm is checked
        // against ipvsadm-compat instead (on dpvsd's socket, argv[0] /usr/sbin/ipvsadm).
        if std::env::var_os("DPVS_E2E_IPVSADM_COMPAT").is_some_and(|v| !v.is_empty()) {
            return self.try_compat(args, input);
        }
        let mut cmd = Command::new(IPVSADM);
        cmd.args(args);
        self.ipvsadm_env(&mut cmd, &shim_lib());
        run_with_timeout(cmd, input.map(str::as_bytes), COMMAND_TIMEOUT)
    }

    /// Runs ipvsadm-compat against this dpvsd's socket (no shim), argv[0] [`COMPAT_ARGV0`];
    /// Err on a hang (killed after [`COMMAND_TIMEOUT`]).
    pub fn try_compat<S: AsRef<OsStr>>(&self, args: &[S], input: Option<&str>) -> Result<Output, String> {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(ipvsadm_compat_bin());
        offline(cmd.arg0(COMPAT_ARGV0).args(args));
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C")
            .env("DPVSD_IPVS_SOCKET", &self.socket);
        run_with_timeout(cmd, input.map(str::as_bytes), COMMAND_TIMEOUT)
    }

    /// Runs ipvsadm with the shim preloaded. A hang fails the test.
    pub fn ipvsadm(&self, args: &[&str]) -> Output {
        self.try_ipvsadm(args, None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs ipvsadm with the shim preloaded and `input` on stdin. A hang fails the test.
    pub fn ipvsadm_stdin(&self, args: &[&str], input: &str) -> Output {
        self.try_ipvsadm(args, Some(input)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`Dpvsd::ipvsadm_stdin`], for inputs too large for [`COMMAND_TIMEOUT`]
    /// (tens of thousands of lines in a debug build on a busy machine).
    pub fn ipvsadm_stdin_within(&self, args: &[&str], input: &str, limit: Duration) -> Output {
        let mut cmd = Command::new(IPVSADM);
        cmd.args(args);
        self.ipvsadm_env(&mut cmd, &shim_lib());
        run_with_timeout(cmd, Some(input.as_bytes()), limit).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs ipvsadm as `nobody` (uid/gid 65534, no groups, no capabilities) with the shim
    /// preloaded. The shim is copied into the temp dir so that nobody can read it.
    pub fn ipvsadm_as_nobody(&self, args: &[&str]) -> Output {
        let shim = self.dir.path().join("libipvs_netlink_shim.so");
        if !shim.exists() {
            fs::copy(shim_lib(), &shim).expect("copy the shim");
            fs::set_permissions(&shim, fs::Permissions::from_mode(0o755)).expect("chmod shim");
        }
        let mut cmd = Command::new("/usr/bin/setpriv");
        cmd.arg(format!("--reuid={NOBODY}"))
            .arg(format!("--regid={NOBODY}"))
            .arg("--clear-groups")
            .arg("--")
            .arg(IPVSADM)
            .args(args);
        self.ipvsadm_env(&mut cmd, &shim);
        run_with_timeout(cmd, None, COMMAND_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// What dpvsd answered a raw GETFAMILY + GET_INFO exchange made by an unprivileged client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawInfoAnswer {
    /// GET_INFO refused with EPERM, as the kernel does (GENL_ADMIN_PERM).
    Eperm,
    /// Could not create or connect the socket.
    NoConnection,
    /// GETFAMILY reply without a family id.
    NoFamilyId,
    /// No reply or no ACK to GETFAMILY within 5 s.
    GetFamilyTimeout,
    /// No answer to GET_INFO within 5 s.
    GetInfoTimeout,
    /// GET_INFO answered with data: not refused.
    Answered,
    /// GETFAMILY refused with this errno (the kernel answers it for anyone).
    GetFamilyError(i32),
    /// GET_INFO refused with this errno other than EPERM.
    GetInfoError(i32),
    /// The helper process ended some other way.
    Other(i32),
}

impl Dpvsd {
    /// Speaks generic netlink directly on dpvsd's socket as `uid`/`gid` (no groups): nlctrl
    /// GETFAMILY "IPVS", then IPVS GET_INFO, and reports how GET_INFO was answered.
    ///
    /// The exchange runs in a forked child after the uid switch and before exec, using only
    /// syscalls and stack buffers, and ends with `_exit`; the socket has a 5 s receive timeout.
    pub fn raw_get_info_as(&self, uid: u32, gid: u32) -> RawInfoAnswer {
        use std::os::unix::process::CommandExt;

        // SAFETY: sockaddr_un is plain old data, for which all-zero bytes are a valid value.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        let path = self.socket.as_os_str().as_bytes();
        assert!(path.len() < addr.sun_path.len(), "socket path too long");
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in addr.sun_path.iter_mut().zip(path) {
            *dst = *src as libc::c_char;
        }
        let addr_len = (std::mem::offset_of!(libc::sockaddr_un, sun_path) + path.len() + 1)
            as libc::socklen_t;

        // nlmsghdr {len 32, type GENL_ID_CTRL, flags REQUEST|ACK, seq 1, pid 0}, genlmsghdr
        // {CTRL_CMD_GETFAMILY, version 1}, attr {len 9, CTRL_ATTR_FAMILY_NAME, "IPVS\0"} + pad.
        let mut getfamily = [0u8; 32];
        getfamily[0..4].copy_from_slice(&32u32.to_ne_bytes());
        getfamily[4..6].copy_from_slice(&0x10u16.to_ne_bytes());
        getfamily[6..8].copy_from_slice(&5u16.to_ne_bytes());
        getfamily[8..12].copy_from_slice(&1u32.to_ne_bytes());
        getfamily[16] = 3;
        getfamily[17] = 1;
        getfamily[20..22].copy_from_slice(&9u16.to_ne_bytes());
        getfamily[22..24].copy_from_slice(&2u16.to_ne_bytes());
        getfamily[24..28].copy_from_slice(b"IPVS");

        fn exchange(
            addr: &libc::sockaddr_un,
            addr_len: libc::socklen_t,
            getfamily: &[u8; 32],
        ) -> i32 {
            let mut buf = [0u8; 8192];
            // SAFETY: socket(2) with constant arguments.
            let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0) };
            if fd < 0 {
                return 1;
            }
            let tv = libc::timeval { tv_sec: 5, tv_usec: 0 };
            // SAFETY: `tv` is a valid timeval and the length passed is its size.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&tv as *const libc::timeval).cast(),
                    std::mem::size_of::<libc::timeval>() as libc::socklen_t,
                )
            };
            // SAFETY: `addr` is an initialised sockaddr_un of at least `addr_len` bytes.
            let rc = unsafe {
                libc::connect(fd, (addr as *const libc::sockaddr_un).cast(), addr_len)
            };
            if rc < 0 {
                return 1;
            }
            // Reads one datagram; returns its length or None on error/timeout.
            let recv = |buf: &mut [u8; 8192]| -> Option<usize> {
                // SAFETY: `buf` is a writable buffer of the length passed.
                let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
                (n >= 20).then_some(n as usize)
            };
            let u16_at = |b: &[u8; 8192], at: usize| u16::from_ne_bytes([b[at], b[at + 1]]);
            let i32_at =
                |b: &[u8; 8192], at: usize| i32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
            // SAFETY: `getfamily` is a readable buffer of the length passed.
            if unsafe { libc::send(fd, getfamily.as_ptr().cast(), getfamily.len(), 0) } < 0 {
                return 1;
            }
            let mut family = 0u16;
            loop {
                let Some(n) = recv(&mut buf) else { return 4 };
                if u16_at(&buf, 4) == 2 {
                    let err = i32_at(&buf, 16);
                    if err == 0 {
                        break;
                    }
                    return 10 + (-err).clamp(0, 100);
                }
                // Attributes after the 16-byte header and the 4-byte genl header.
                let mut at = 20;
                while at + 4 <= n {
                    let len = u16_at(&buf, at) as usize;
                    if len < 4 {
                        break;
                    }
                    if u16_at(&buf, at + 2) & 0x3fff == 1 && len >= 6 && at + 6 <= n {
                        family = u16_at(&buf, at + 4);
                    }
                    at += (len + 3) & !3;
                }
            }
            if family == 0 {
                return 3;
            }
            // nlmsghdr {len 20, type family, REQUEST|ACK, seq 2, pid 0}, {GET_INFO (15), 1}.
            let mut getinfo = [0u8; 20];
            getinfo[0..4].copy_from_slice(&20u32.to_ne_bytes());
            getinfo[4..6].copy_from_slice(&family.to_ne_bytes());
            getinfo[6..8].copy_from_slice(&5u16.to_ne_bytes());
            getinfo[8..12].copy_from_slice(&2u32.to_ne_bytes());
            getinfo[16] = 15;
            getinfo[17] = 1;
            // SAFETY: `getinfo` is a readable buffer of the length passed.
            if unsafe { libc::send(fd, getinfo.as_ptr().cast(), getinfo.len(), 0) } < 0 {
                return 1;
            }
            let Some(_) = recv(&mut buf) else { return 5 };
            if u16_at(&buf, 4) != 2 {
                return 6;
            }
            match -i32_at(&buf, 16) {
                1 => 0,
                0 => 6,
                e => 120 + e.clamp(0, 100),
            }
        }

        let mut cmd = Command::new("/bin/true");
        cmd.uid(uid).gid(gid).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        // SAFETY: the closure runs in the forked child; it only makes syscalls on stack data
        // and the copies of `addr` and `getfamily` it owns, and leaves with _exit, so no lock or
        // allocator state inherited from the parent is touched.
        unsafe {
            cmd.pre_exec(move || {
                let code = exchange(&addr, addr_len, &getfamily);
                libc::_exit(code)
            })
        };
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("cannot fork the raw netlink client: {e}"));
        match status.code() {
            Some(0) => RawInfoAnswer::Eperm,
            Some(1) => RawInfoAnswer::NoConnection,
            Some(3) => RawInfoAnswer::NoFamilyId,
            Some(4) => RawInfoAnswer::GetFamilyTimeout,
            Some(5) => RawInfoAnswer::GetInfoTimeout,
            Some(6) => RawInfoAnswer::Answered,
            Some(c @ 10..=110) => RawInfoAnswer::GetFamilyError(c - 10),
            Some(c @ 120..=220) => RawInfoAnswer::GetInfoError(c - 120),
            Some(c) => RawInfoAnswer::Other(c),
            None => RawInfoAnswer::Other(-status.signal().unwrap_or(0)),
        }
    }
}

impl Drop for Dpvsd {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}

/// Exit status as ipvsadm's caller sees it (-1 when killed by a signal).
pub fn exit_code(status: &ExitStatus) -> i32 {
    status.code().unwrap_or(-1)
}

/// One ipvsadm invocation and what it must print and return.
#[derive(Debug, Clone)]
pub struct Step {
    pub args: String,
    pub input: Option<String>,
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
}

/// A table row: ipvsadm invocations run in order against a fresh dpvsd. Setup steps are
/// ordinary steps expecting silence and status 0.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub steps: Vec<Step>,
}

impl Case {
    pub fn new(name: impl Into<String>) -> Case {
        Case { name: name.into(), steps: Vec::new() }
    }

    /// A step that must succeed silently (setup, or a command that prints nothing).
    pub fn ok(self, args: impl Into<String>) -> Case {
        self.run(args)
    }

    /// Starts a new step; by default it must print nothing and exit 0.
    pub fn run(mut self, args: impl Into<String>) -> Case {
        self.steps.push(Step {
            args: args.into(),
            input: None,
            stdout: String::new(),
            stderr: String::new(),
            status: 0,
        });
        self
    }

    fn last(&mut self) -> &mut Step {
        self.steps.last_mut().expect("call run() first")
    }

    /// Standard input of the current step.
    pub fn input(mut self, s: impl Into<String>) -> Case {
        self.last().input = Some(s.into());
        self
    }

    /// Expected stdout of the current step.
    pub fn out(mut self, s: impl Into<String>) -> Case {
        self.last().stdout = s.into();
        self
    }

    /// Expected stderr of the current step.
    pub fn err(mut self, s: impl Into<String>) -> Case {
        self.last().stderr = s.into();
        self
    }

    /// Expected exit status of the current step.
    pub fn status(mut self, code: i32) -> Case {
        self.last().status = code;
        self
    }

    /// Expected stderr and exit status of the current step.
    pub fn fails(self, stderr: impl Into<String>, code: i32) -> Case {
        self.err(stderr).status(code)
    }
}

/// Compares one run with its expectation; None when equal, else a readable report.
pub fn check_step(step: &Step, out: &Output) -> Option<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = exit_code(&out.status);
    if stdout == step.stdout && stderr == step.stderr && code == step.status {
        return None;
    }
    let mut r = String::new();
    if code != step.status {
        let _ = writeln!(r, "  exit status: expected {}, got {} ({})", step.status, code, out.status);
    }
    if stdout != step.stdout {
        let _ = writeln!(r, "  stdout differs (- expected, + got):");
        r.push_str(&line_diff(&step.stdout, &stdout));
    }
    if stderr != step.stderr {
        let _ = writeln!(r, "  stderr differs (- expected, + got):");
        r.push_str(&line_diff(&step.stderr, &stderr));
    }
    Some(r)
}

/// A line-by-line diff with every line quoted, so that trailing spaces show.
pub fn line_diff(expected: &str, got: &str) -> String {
    let e: Vec<&str> = expected.split_inclusive('\n').collect();
    let g: Vec<&str> = got.split_inclusive('\n').collect();
    let mut r = String::new();
    for i in 0..e.len().max(g.len()) {
        match (e.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => {
                let _ = writeln!(r, "      {a:?}");
            }
            (a, b) => {
                if let Some(a) = a {
                    let _ = writeln!(r, "    - {a:?}");
                }
                if let Some(b) = b {
                    let _ = writeln!(r, "    + {b:?}");
                }
            }
        }
    }
    r
}

/// `s` without ANSI colour sequences (ESC '[' ... final byte), for readable reports.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs every case against its own fresh dpvsd and fails once at the end with every mismatch.
pub fn run_cases(cases: &[Case]) {
    if skip() {
        return;
    }
    let mut failures = Vec::new();
    for case in cases {
        let started = std::panic::catch_unwind(Dpvsd::start);
        let mut dpvsd = match started {
            Ok(d) => d,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("case `{}`: dpvsd did not start: {msg}\n", case.name));
                continue;
            }
        };
        for (i, step) in case.steps.iter().enumerate() {
            let args: Vec<&str> = step.args.split_whitespace().collect();
            let what = format!(
                "case `{}`, step {} of {}: ipvsadm {}{}",
                case.name,
                i + 1,
                case.steps.len(),
                step.args,
                if step.input.is_some() { " <input" } else { "" }
            );
            let report = match dpvsd.try_ipvsadm(&args, step.input.as_deref()) {
                Ok(out) => check_step(step, &out),
                Err(hang) => Some(format!("  {hang}\n")),
            };
            if let Some(report) = report {
                let log = strip_ansi(&dpvsd.stderr_log());
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                let mut msg = format!("{what}\n{report}");
                if let Some(status) = dpvsd.exited() {
                    let _ = writeln!(msg, "  dpvsd is no longer running: {status}");
                }
                if !tail.is_empty() {
                    msg.push_str("  dpvsd stderr (last lines):\n");
                    for l in tail.iter().rev() {
                        let _ = writeln!(msg, "    | {l}");
                    }
                }
                failures.push(msg);
                break;
            }
        }
    }
    println!(
        "{} cases: {} passed, {} failed",
        cases.len(),
        cases.len() - failures.len(),
        failures.len()
    );
    if !failures.is_empty() {
        panic!("{} of {} cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n"));
    }
}

/// ipvsadm 1.31's output, rebuilt from its printf formats.
pub mod text {
    /// `list_all`: "IP Virtual Server version %d.%d.%d (size=%d)\n" with dpvsd's 1.2.1/4096.
    pub const VERSION: &str = "IP Virtual Server version 1.2.1 (size=4096)\n";

    /// `print_title` without a format flag.
    pub const TITLE: &str = "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";

    /// `print_title` with --tun-info.
    pub const TITLE_TUN: &str = "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n";

    /// The message every ipvsadm command prints when ipvs_init fails (`main`).
    pub fn init_failure(reason: &str) -> String {
        format!(
            "Can't initialize ipvs: {reason}\nAre you sure that IP Virtual Server is built in the kernel or as module?\n"
        )
    }

    fn join(lines: &[String]) -> String {
        let mut s = String::new();
        for l in lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// `ipvsadm -Ln`: version line, title, then the given service and dest lines.
    pub fn listing<S: AsRef<str>>(lines: &[S]) -> String {
        let lines: Vec<String> = lines.iter().map(|l| l.as_ref().to_string()).collect();
        format!("{VERSION}{TITLE}{}", join(&lines))
    }

    /// `ipvsadm -L -t svc`: `list_service` prints the title but no version line.
    pub fn single<S: AsRef<str>>(lines: &[S]) -> String {
        let lines: Vec<String> = lines.iter().map(|l| l.as_ref().to_string()).collect();
        format!("{TITLE}{}", join(&lines))
    }

    /// Any list of lines, each ended by a newline.
    pub fn lines<S: AsRef<str>>(lines: &[S]) -> String {
        let lines: Vec<String> = lines.iter().map(|l| l.as_ref().to_string()).collect();
        join(&lines)
    }

    /// Dest line: "  -> %-28s %-7s %-6d %-10u %-10u" (no connections: both counts 0).
    pub fn dest(addr: &str, fwd: &str, weight: i64) -> String {
        format!("  -> {addr:<28} {fwd:<7} {weight:<6} {:<10} {:<10}", 0, 0)
    }

    /// Dest line with --tun-info: "  -> %-28s %-7s %-13s %-6d %-10u %-10u".
    pub fn dest_tun(addr: &str, fwd: &str, info: &str, weight: i64) -> String {
        format!("  -> {addr:<28} {fwd:<7} {info:<13} {weight:<6} {:<10} {:<10}", 0, 0)
    }

    /// Title with --stats: "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n".
    pub fn title_stats() -> String {
        format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        )
    }

    /// Title with --rate.
    pub fn title_rate() -> String {
        format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        )
    }

    /// Title with --thresholds: "%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n".
    pub fn title_thresholds() -> String {
        format!(
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        )
    }

    /// Title with --persistent-conn: "%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n".
    pub fn title_persistent_conn() -> String {
        format!(
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        )
    }

    /// Service line with --stats or --rate, all counters zero: "%-33s" then five "%9llu".
    pub fn svc_zero_counters(name: &str) -> String {
        format!("{name:<33}{:>9}{:>9}{:>9}{:>9}{:>9}", 0, 0, 0, 0, 0)
    }

    /// Dest line with --stats, all zero: "  -> %-28s" then five "%9llu".
    pub fn dest_stats_zero(addr: &str) -> String {
        format!("  -> {addr:<28}{:>9}{:>9}{:>9}{:>9}{:>9}", 0, 0, 0, 0, 0)
    }

    /// Dest line with --rate, all zero: "  -> %-28s %8llu %8llu %8llu" then two "%9llu".
    pub fn dest_rate_zero(addr: &str) -> String {
        format!("  -> {addr:<28} {:>8} {:>8} {:>8}{:>9}{:>9}", 0, 0, 0, 0, 0)
    }

    /// Dest line with --thresholds: "  -> %-28s %-10u %-10u %-10u %-10u".
    pub fn dest_thresholds(addr: &str, upper: u32, lower: u32) -> String {
        format!("  -> {addr:<28} {upper:<10} {lower:<10} {:<10} {:<10}", 0, 0)
    }

    /// Dest line with --persistent-conn: "  -> %-28s %-9u %-11u %-10u %-10u".
    pub fn dest_persistent_conn(addr: &str, weight: u32) -> String {
        format!("  -> {addr:<28} {weight:<9} {:<11} {:<10} {:<10}", 0, 0, 0)
    }

    /// `ipvsadm -Lnc` on an empty connection table: `list_conn`'s two header lines.
    pub fn conn_header() -> String {
        format!(
            "IPVS connection entries\npro expire {:<11} {:<18} {:<18} {}\n",
            "state", "source", "virtual", "destination"
        )
    }

    /// `ipvsadm -Lnc --persistent-conn` on an empty connection table.
    pub fn conn_header_persistent() -> String {
        format!(
            "IPVS connection entries\npro expire {:<11} {:<18} {:<18} {:<18} {:<16} {}\n",
            "state", "source", "virtual", "destination", "pe name", "pe_data"
        )
    }

    /// `list_timeout`.
    pub fn timeouts(tcp: u32, tcpfin: u32, udp: u32) -> String {
        format!("Timeout (tcp tcpfin udp): {tcp} {tcpfin} {udp}\n")
    }

    /// `list_daemon`, for a kernel-filled config (maxlen, group, port and ttl always set).
    pub fn daemon(
        state: &str,
        ifn: &str,
        syncid: u32,
        maxlen: u32,
        group: &str,
        port: u32,
        ttl: u32,
    ) -> String {
        format!(
            "{state} sync daemon (mcast={ifn}, syncid={syncid}, maxlen={maxlen}, group={group}, port={port}, ttl={ttl})\n"
        )
    }

    /// The kernel's default sync_maxlen for a backup on `ifn` with an IPv4 group:
    /// clamp(mtu, 1500, 65535) - 28 (`start_sync_thread` in ip_vs_sync.c).
    pub fn backup_default_maxlen(ifn: &str) -> u32 {
        let mtu: u32 = std::fs::read_to_string(format!("/sys/class/net/{ifn}/mtu"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(65536);
        mtu.clamp(1500, 65535) - 28
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hang_is_killed_and_reported() {
        let start = Instant::now();
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let err = run_with_timeout(cmd, None, Duration::from_millis(200)).unwrap_err();
        assert!(err.starts_with("HANG"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn input_output_and_status_are_captured() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "cat; echo oops >&2; exit 3"]);
        let out = run_with_timeout(cmd, Some(b"hello\n"), COMMAND_TIMEOUT).unwrap();
        assert_eq!(out.stdout, b"hello\n");
        assert_eq!(out.stderr, b"oops\n");
        assert_eq!(exit_code(&out.status), 3);
    }

    #[test]
    fn a_mismatch_is_reported_with_visible_trailing_spaces() {
        let step = Step {
            args: "-Ln".into(),
            input: None,
            stdout: "a \nb\n".into(),
            stderr: String::new(),
            status: 0,
        };
        let out = Output {
            status: ExitStatus::from_raw(0),
            stdout: b"a\nb\n".to_vec(),
            stderr: Vec::new(),
        };
        let report = check_step(&step, &out).expect("a mismatch");
        assert!(report.contains("- \"a \\n\"") && report.contains("+ \"a\\n\""), "{report}");
        let same = Output { stdout: b"a \nb\n".to_vec(), ..out };
        assert!(check_step(&step, &same).is_none());
    }

    #[test]
    fn strip_ansi_removes_colours() {
        assert_eq!(strip_ansi("\u{1b}[2mtime\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m x"), "time  INFO x");
    }

    #[test]
    fn expected_text_helpers_follow_the_printf_widths() {
        assert_eq!(
            text::dest("198.51.100.10:8080", "Masq", 2),
            "  -> 198.51.100.10:8080           Masq    2      0          0         "
        );
        assert_eq!(text::svc_zero_counters("TCP  192.0.2.1:80").len(), 33 + 5 * 9);
        assert_eq!(text::backup_default_maxlen("no-such-interface-here"), 65535 - 28);
    }
}
