//! The packages: `scripts/package.sh` builds `dpvs_<version>-1_amd64.deb` and
//! `dpvs-<version>-1.x86_64.rpm` into target/packages/ (a release build of the four programs,
//! once per run of this test binary); the .deb is installed on this machine with `dpkg -i` and
//! its programs are run from their installed paths, then it is upgraded over itself, removed
//! and purged, and the machine must be as before (Debian's ipvsadm back in place, nothing of the
//! package left). The .rpm is checked with `rpm -qp` queries and by reading its payload.
//!
//! Installed programs run as a package user runs them, but on a temporary socket and state dir:
//! the installed `/usr/sbin/dpvsd --config /etc/dpvs/dpvsd.conf` (not through systemd: CI has no
//! systemd as PID 1), `ipvsadm` through the package's `/usr/sbin/ipvsadm` wrapper with only
//! `DPVSD_IPVS_SOCKET` set (so the wrapper's shim is the one preloaded), and keepalived with the
//! environment the installed keepalived.service drop-in sets.
//!
//! Needs root, Debian (dpkg), and what `scripts/setup.sh` installs (ipvsadm, keepalived,
//! lintian, rpm, systemd-analyze, cargo-deb, cargo-generate-rpm); without root or Debian each
//! test prints `skipped: ...`. It refuses (skips) when a `dpvs` package is already installed.
//! Every process started here is stopped by its pid; a guard purges the package also when a
//! test panics. Runs of this file in different processes are serialised by a lock file, since
//! they share target/packages/ and the machine's dpkg database.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use dpvs_e2e::{
    exit_code, line_diff, run_with_timeout, seqpacket_connect, skip, text, TempDir, IPVSADM,
    START_TIMEOUT, STOP_TIMEOUT,
};

const PKG: &str = "dpvs";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const DEB_SHIM: &str = "/usr/lib/x86_64-linux-gnu/dpvs/libipvs_netlink_shim.so";
const RPM_SHIM: &str = "/usr/lib64/dpvs/libipvs_netlink_shim.so";
const DPVSD: &str = "/usr/sbin/dpvsd";
const CONF: &str = "/etc/dpvs/dpvsd.conf";
const UNIT: &str = "/usr/lib/systemd/system/dpvsd.service";
const DROPIN: &str = "/usr/lib/systemd/system/keepalived.service.d/dpvs.conf";
/// Where Debian's ipvsadm package puts its binary (/sbin is /usr/sbin on this merged-/usr
/// system, but dpkg knows the file, and the diversion, by this name).
const DEBIAN_IPVSADM: &str = "/sbin/ipvsadm";
const DIVERTED: &str = "/sbin/ipvsadm.kernel";
const KEEPALIVED: &str = "/usr/sbin/keepalived";
const KEEPALIVED_UNIT: &str = "/lib/systemd/system/keepalived.service";
const SYS_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The release build inside scripts/package.sh can take minutes on a fresh 2-core machine.
const PACKAGE_TIMEOUT: Duration = Duration::from_secs(40 * 60);
const DPKG_TIMEOUT: Duration = Duration::from_secs(180);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const KEEPALIVED_TIMEOUT: Duration = Duration::from_secs(20);

/// What the .deb installs (files only; `dpkg -L` adds the directories).
const DEB_FILES: &[&str] = &[
    "/etc/dpvs/dpvsd.conf",
    "/sbin/ipvsadm",
    "/usr/lib/systemd/system/dpvsd.service",
    "/usr/lib/systemd/system/keepalived.service.d/dpvs.conf",
    "/usr/lib/x86_64-linux-gnu/dpvs/libipvs_netlink_shim.so",
    "/usr/sbin/dpip",
    "/usr/sbin/dpvsd",
    "/usr/sbin/ipvsadm-compat",
    "/usr/share/bash-completion/completions/dpip",
    "/usr/share/bash-completion/completions/ipvsadm-compat",
    "/usr/share/doc/dpvs/CONTROL-PLANE.md",
    "/usr/share/doc/dpvs/DATAPLANE.md",
    "/usr/share/doc/dpvs/DPIP-PROTOCOL.md",
    "/usr/share/doc/dpvs/HA.md",
    "/usr/share/doc/dpvs/KEEPALIVED.md",
    "/usr/share/doc/dpvs/LICENSE",
    "/usr/share/doc/dpvs/README.md",
    "/usr/share/doc/dpvs/changelog.Debian.gz",
    "/usr/share/doc/dpvs/copyright",
    "/usr/share/lintian/overrides/dpvs",
    "/usr/share/man/man8/dpip.8.gz",
    "/usr/share/man/man8/dpvsd.8.gz",
    "/usr/share/man/man8/ipvsadm-compat.8.gz",
];

/// What the .rpm installs, as `rpm -qlp` lists it.
const RPM_FILES: &[&str] = &[
    "/etc/dpvs/dpvsd.conf",
    "/usr/lib/systemd/system/dpvsd.service",
    "/usr/lib/systemd/system/keepalived.service.d/dpvs.conf",
    "/usr/lib64/dpvs/libipvs_netlink_shim.so",
    "/usr/sbin/dpip",
    "/usr/sbin/dpvs-ipvsadm",
    "/usr/sbin/dpvsd",
    "/usr/sbin/ipvsadm-compat",
    "/usr/share/bash-completion/completions/dpip",
    "/usr/share/bash-completion/completions/ipvsadm-compat",
    "/usr/share/doc/dpvs/CONTROL-PLANE.md",
    "/usr/share/doc/dpvs/DATAPLANE.md",
    "/usr/share/doc/dpvs/DPIP-PROTOCOL.md",
    "/usr/share/doc/dpvs/HA.md",
    "/usr/share/doc/dpvs/KEEPALIVED.md",
    "/usr/share/doc/dpvs/LICENSE",
    "/usr/share/doc/dpvs/README.md",
    "/usr/share/man/man8/dpip.8.gz",
    "/usr/share/man/man8/dpvsd.8.gz",
    "/usr/share/man/man8/ipvsadm-compat.8.gz",
];

// ---------------------------------------------------------------------------------------------
// building, once per process

struct Packages {
    deb: PathBuf,
    rpm: PathBuf,
    /// Held for the life of the process: serialises runs of this file across processes.
    _lock: fs::File,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root")
}

fn skip_packages() -> bool {
    if skip() {
        return true;
    }
    if !Path::new("/etc/debian_version").exists() || !Path::new("/usr/bin/dpkg").exists() {
        println!("skipped: needs Debian (dpkg)");
        return true;
    }
    false
}

/// Takes the cross-process lock (waiting for another run to finish), then runs
/// scripts/package.sh once; every test of this file uses its outputs.
fn packages() -> &'static Packages {
    static PACKAGES: OnceLock<Packages> = OnceLock::new();
    PACKAGES.get_or_init(|| {
        let lock_path = std::env::temp_dir().join("dpvs-e2e-packages.lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .expect("open lock file");
        // SAFETY: flock(2) on a descriptor that `lock` owns and keeps open; no pointers.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(
            rc,
            0,
            "flock {}: {}",
            lock_path.display(),
            std::io::Error::last_os_error()
        );

        let root = workspace();
        let started = Instant::now();
        let mut cmd = Command::new("bash");
        cmd.arg(root.join("scripts/package.sh")).current_dir(&root);
        let out = run_with_timeout(cmd, None, PACKAGE_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "scripts/package.sh failed ({}); last lines:\n{}",
            out.status,
            tail(&log, 40)
        );
        println!("scripts/package.sh: {:.1?}", started.elapsed());
        let dir = root.join("target/packages");
        let p = Packages {
            deb: dir.join(format!("{PKG}_{VERSION}-1_amd64.deb")),
            rpm: dir.join(format!("{PKG}-{VERSION}-1.x86_64.rpm")),
            _lock: lock,
        };
        for f in [&p.deb, &p.rpm] {
            assert!(
                f.is_file(),
                "scripts/package.sh did not write {}:\n{}",
                f.display(),
                tail(&log, 20)
            );
            assert!(
                log.contains(&f.display().to_string()),
                "scripts/package.sh did not name {}",
                f.display()
            );
        }
        p
    })
}

// ---------------------------------------------------------------------------------------------
// helpers

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `prog args` with a system PATH and no input; panics on a hang.
fn run(prog: &str, args: &[&str], timeout: Duration) -> Output {
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env("PATH", SYS_PATH)
        .env("LC_ALL", "C")
        .env("DEBIAN_FRONTEND", "noninteractive");
    run_with_timeout(cmd, None, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `prog args`, asserts success, returns stdout.
fn ok(prog: &str, args: &[&str]) -> String {
    let out = run(prog, args, COMMAND_TIMEOUT);
    assert!(
        out.status.success(),
        "{prog} {args:?} failed: {}",
        show(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dpkg(args: &[&str]) -> Output {
    run("dpkg", args, DPKG_TIMEOUT)
}

/// `dpkg-query`'s status abbreviation for the package ("ii ", "rc ", ...), None when dpkg
/// does not know it.
fn dpkg_status() -> Option<String> {
    let out = run(
        "dpkg-query",
        &["-W", "-f", "${db:Status-Abbrev}", PKG],
        COMMAND_TIMEOUT,
    );
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !s.is_empty() && !s.starts_with('u') && !s.starts_with('p'))
        .then_some(s)
}

fn diversions_by_us() -> Vec<String> {
    ok("dpkg-divert", &["--list"])
        .lines()
        .filter(|l| l.ends_with(&format!(" by {PKG}")))
        .map(str::to_string)
        .collect()
}

fn is_elf(path: &str) -> bool {
    fs::read(path)
        .map(|b| b.starts_with(b"\x7fELF"))
        .unwrap_or(false)
}

/// Environment= assignments of a unit file's [Service] section (unquoted `K=V` words).
fn unit_environment(unit: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut section = "";
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if section == "[Service]" {
            if let Some(v) = line.strip_prefix("Environment=") {
                for word in v.split_whitespace() {
                    let word = word.trim_matches('"');
                    if let Some((k, v)) = word.split_once('=') {
                        env.insert(k.to_string(), v.to_string());
                    }
                }
            }
        }
    }
    env
}

/// The active (uncommented) lines of a unit file.
fn unit_lines(unit: &str) -> Vec<&str> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .collect()
}

/// The files of an rpm's payload (`rpm2cpio`, SVR4 "newc" cpio), by path without the
/// leading `.`.
fn rpm_payload(rpm: &Path) -> BTreeMap<String, Vec<u8>> {
    // Debian's rpm2cpio (rpm 4.18) exits 1 after writing a complete archive for this package
    // (`rpm -K` finds its digests correct): the archive is judged by its trailer instead.
    let out = run(
        "rpm2cpio",
        &[rpm.to_str().expect("utf-8 path")],
        COMMAND_TIMEOUT,
    );
    assert!(
        out.stdout.len() > 110 && out.stderr.is_empty(),
        "rpm2cpio {}: status {}, {} bytes, stderr {}",
        rpm.display(),
        out.status,
        out.stdout.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    let data = out.stdout;
    let hex =
        |b: &[u8]| usize::from_str_radix(std::str::from_utf8(b).expect("hex"), 16).expect("hex");
    let align = |n: usize| (n + 3) & !3;
    let mut files = BTreeMap::new();
    let mut at = 0;
    loop {
        assert!(
            at + 110 <= data.len(),
            "rpm2cpio's archive ends without its trailer"
        );
        let h = &data[at..at + 110];
        assert!(h.starts_with(b"070701"), "not a newc cpio header at {at}");
        let size = hex(&h[54..62]);
        let namesize = hex(&h[94..102]);
        let name = String::from_utf8_lossy(&data[at + 110..at + 110 + namesize - 1]).into_owned();
        let start = align(at + 110 + namesize);
        if name == "TRAILER!!!" {
            break;
        }
        files.insert(
            name.trim_start_matches('.').to_string(),
            data[start..start + size].to_vec(),
        );
        at = align(start + size);
    }
    files
}

/// systemd-analyze verify; Err with its output unless it passes and says nothing.
fn verify_units(units: &[&Path], unit_path: Option<&Path>) -> Result<(), String> {
    let mut cmd = Command::new("systemd-analyze");
    cmd.arg("verify")
        .args(units)
        .env("PATH", SYS_PATH)
        .env("LC_ALL", "C");
    if let Some(dir) = unit_path {
        // A trailing ':' appends the default search path (for the units these depend on).
        cmd.env("SYSTEMD_UNIT_PATH", format!("{}:", dir.display()));
    }
    let out = run_with_timeout(cmd, None, COMMAND_TIMEOUT)?;
    if out.status.success() && out.stdout.is_empty() && out.stderr.is_empty() {
        Ok(())
    } else {
        Err(format!("systemd-analyze verify {units:?}: {}", show(&out)))
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) takes no pointers; callers pass the pid of a child they have not reaped.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// Sends SIGTERM, waits up to `timeout`, then SIGKILL; returns the status when it exited on
/// SIGTERM.
fn stop_child(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    signal(child.id(), libc::SIGTERM);
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// guards

/// Purges the package when dropped (the test passed its own purge already, or panicked).
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        if dpkg_status().is_some() {
            let out = dpkg(&["-P", PKG]);
            if !out.status.success() {
                eprintln!("cleanup: dpkg -P {PKG} failed: {}", show(&out));
            }
        }
    }
}

/// The installed dpvsd, on a temporary socket and state dir, with the installed configuration.
struct InstalledDpvsd {
    child: Option<Child>,
    socket: PathBuf,
    stderr: PathBuf,
}

impl InstalledDpvsd {
    fn start(dir: &Path) -> InstalledDpvsd {
        let socket = dir.join("ipvs.sock");
        let state = dir.join("state");
        fs::create_dir_all(&state).expect("state dir");
        let stderr = dir.join("dpvsd.stderr");
        let mut cmd = Command::new(DPVSD);
        cmd.args(["--config", CONF, "--ipvs-socket"])
            .arg(&socket)
            .arg("--state-dir")
            .arg(&state)
            .env_clear()
            .env("PATH", SYS_PATH)
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("dpvsd.stdout")).expect("log"))
            .stderr(fs::File::create(&stderr).expect("log"));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut d = InstalledDpvsd {
            child: Some(child),
            socket,
            stderr,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while seqpacket_connect(&d.socket).is_err() {
            if let Some(Ok(Some(status))) = d.child.as_mut().map(Child::try_wait) {
                d.child = None;
                panic!("installed dpvsd exited at start ({status}):\n{}", d.log());
            }
            assert!(
                Instant::now() < deadline,
                "installed dpvsd's socket did not accept within {START_TIMEOUT:?}:\n{}",
                d.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
        d
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        stop_child(&mut child, STOP_TIMEOUT)
    }
}

impl Drop for InstalledDpvsd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// keepalived (checker only), its pid files and log in `dir`; its checker child is killed by
/// the pid it wrote, if still there, when dropped.
struct Keepalived {
    child: Option<Child>,
    dir: PathBuf,
}

impl Keepalived {
    fn checker_pid(&self) -> Option<u32> {
        let pid: u32 = fs::read_to_string(self.dir.join("checkers.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        // Only while it is still a keepalived started with our config (pid reuse guard).
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let conf = self.dir.join("keepalived.conf");
        let conf = conf.as_os_str().as_encoded_bytes();
        cmdline
            .windows(conf.len())
            .any(|w| w == conf)
            .then_some(pid)
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("keepalived.log")).unwrap_or_default()
    }

    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let status = stop_child(&mut child, KEEPALIVED_TIMEOUT);
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(pid) = self.checker_pid() {
            if Instant::now() >= deadline {
                signal(pid, libc::SIGKILL);
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        status
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// ipvsadm as a package user runs it

/// Runs `prog args` (by path, or by name through PATH) with only PATH, LC_ALL and
/// DPVSD_IPVS_SOCKET set, plus `extra`.
fn user_run(prog: &str, args: &[&str], socket: &Path, extra: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env_clear()
        .env("PATH", SYS_PATH)
        .env("LC_ALL", "C")
        .env("DPVSD_IPVS_SOCKET", socket);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    run_with_timeout(cmd, None, COMMAND_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

fn user_ok(prog: &str, args: &[&str], socket: &Path, extra: &[(&str, &str)]) -> String {
    let out = user_run(prog, args, socket, extra);
    assert!(out.status.success(), "{prog} {args:?}: {}", show(&out));
    assert!(
        out.stderr.is_empty(),
        "{prog} {args:?} wrote to stderr: {}",
        show(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_listing(got: &str, want: &str, what: &str) {
    assert!(
        got == want,
        "{what}: listing differs\n{}",
        line_diff(want, got)
    );
}

/// The wrapper's LD_PRELOAD and DPVSD_IPVS_SOCKET handling, on a copy of the installed
/// wrapper whose `real=` is a script printing what it was given.
fn check_wrapper_environment(dir: &Path) {
    let wrapper = fs::read_to_string(IPVSADM).expect("read the installed wrapper");
    let fake = dir.join("fake-ipvsadm");
    fs::write(
        &fake,
        "#!/bin/sh\nprintf '%s|%s|%s\\n' \"${LD_PRELOAD-unset}\" \"${DPVSD_IPVS_SOCKET-unset}\" \"$*\"\n",
    )
    .expect("write fake ipvsadm");
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).expect("chmod");
    let real_line = format!("real={DIVERTED}\n");
    assert!(
        wrapper.contains(&real_line),
        "the wrapper names {DIVERTED}:\n{wrapper}"
    );
    let copy = dir.join("ipvsadm-wrapper-copy");
    fs::write(
        &copy,
        wrapper.replace(&real_line, &format!("real={}\n", fake.display())),
    )
    .expect("write wrapper copy");
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).expect("chmod");

    let their_shim = "/home/someone/dpvs/target/debug/libipvs_netlink_shim.so";
    let other_lib = "/lib/x86_64-linux-gnu/libm.so.6";
    let cases: Vec<(Option<String>, String)> = vec![
        // No LD_PRELOAD: the package's shim alone.
        (None, DEB_SHIM.to_string()),
        // Something else preloaded: the shim first, the caller's after it.
        (
            Some(other_lib.to_string()),
            format!("{DEB_SHIM}:{other_lib}"),
        ),
        // The caller's own shim: left exactly as it is (alone, first, or not first).
        (Some(their_shim.to_string()), their_shim.to_string()),
        (
            Some(format!("{their_shim}:{other_lib}")),
            format!("{their_shim}:{other_lib}"),
        ),
        (
            Some(format!("{other_lib} {their_shim}")),
            format!("{other_lib} {their_shim}"),
        ),
    ];
    for (given, want) in cases {
        let mut cmd = Command::new(&copy);
        cmd.args(["-L", "-n"])
            .env_clear()
            .env("PATH", SYS_PATH)
            .env("DPVSD_IPVS_SOCKET", "/tmp/their.sock");
        if let Some(v) = &given {
            cmd.env("LD_PRELOAD", v);
        }
        let out = run_with_timeout(cmd, None, COMMAND_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        let got = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            got,
            format!("{want}|/tmp/their.sock|-L -n\n"),
            "wrapper with LD_PRELOAD {given:?}: {}",
            show(&out)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// tests

/// The .deb's life on this machine: install (Debian's ipvsadm diverted), the installed
/// programs at work, upgrade over itself (conffile kept), remove (ipvsadm restored, conffile
/// kept), purge (nothing left).
#[test]
fn deb_installs_runs_upgrades_removes_and_purges() {
    if skip_packages() {
        return;
    }
    for bin in [KEEPALIVED, "/usr/bin/systemd-analyze", KEEPALIVED_UNIT] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: run scripts/setup.sh"
        );
    }
    let p = packages();
    if let Some(status) = dpkg_status() {
        println!(
            "skipped: package {PKG} is already on this machine (status {status:?}); \
             `dpkg -P {PKG}` to run this test"
        );
        return;
    }
    if Path::new("/var/lib/dpvsd").exists() {
        println!("skipped: /var/lib/dpvsd exists, and purging {PKG} would remove it");
        return;
    }
    let started = Instant::now();
    let deb = p.deb.to_str().expect("utf-8 path");

    // Before: what exists of the package's paths, Debian's ipvsadm, no diversion of ours.
    let contents = ok("dpkg-deb", &["-c", deb]);
    let paths: Vec<String> = contents
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| p.trim_start_matches('.').trim_end_matches('/').to_string())
        .filter(|p| !p.is_empty())
        .collect();
    for f in DEB_FILES {
        assert!(
            paths.iter().any(|p| p == f),
            "the .deb lacks {f}:\n{contents}"
        );
    }
    let existed: BTreeMap<String, bool> = paths
        .iter()
        .map(|p| (p.clone(), Path::new(p).exists()))
        .collect();
    let debian_ipvsadm = fs::read(DEBIAN_IPVSADM).expect("read Debian's /sbin/ipvsadm");
    assert!(
        debian_ipvsadm.starts_with(b"\x7fELF"),
        "{DEBIAN_IPVSADM} is not Debian's binary"
    );
    assert_eq!(
        ok("dpkg", &["-S", DEBIAN_IPVSADM]).trim(),
        format!("ipvsadm: {DEBIAN_IPVSADM}")
    );
    assert!(
        diversions_by_us().is_empty(),
        "a diversion by {PKG} exists before install"
    );
    assert!(
        !Path::new(DIVERTED).exists(),
        "{DIVERTED} exists before install"
    );

    // Install.
    let guard = Installed;
    let out = dpkg(&["-i", deb]);
    assert!(out.status.success(), "dpkg -i: {}", show(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!(
            "Adding 'diversion of {DEBIAN_IPVSADM} to {DIVERTED} by {PKG}'"
        )),
        "dpkg -i did not report the diversion: {}",
        show(&out)
    );
    assert!(
        said.contains("dpvs: ipvsadm now manages dpvsd"),
        "no install note: {}",
        show(&out)
    );
    assert_eq!(dpkg_status().as_deref(), Some("ii"));
    let listed = ok("dpkg", &["-L", PKG]);
    for f in DEB_FILES {
        assert!(listed.lines().any(|l| l == *f), "dpkg -L {PKG} lacks {f}");
        assert!(Path::new(f).exists(), "{f} is not on disk after install");
    }
    assert_eq!(
        diversions_by_us(),
        vec![format!(
            "diversion of {DEBIAN_IPVSADM} to {DIVERTED} by {PKG}"
        )]
    );
    assert_eq!(fs::read(DIVERTED).expect("read diverted"), debian_ipvsadm);
    let wrapper = fs::read_to_string(IPVSADM).expect("read the wrapper");
    assert!(
        wrapper.starts_with("#!/bin/bash\n") && wrapper.contains(&format!("shim={DEB_SHIM}\n"))
    );
    assert!(
        ok("dpkg-query", &["-W", "-f", "${Conffiles}", PKG]).contains(CONF),
        "{CONF} is not a conffile"
    );
    for man in ["dpvsd", "dpip", "ipvsadm-compat"] {
        let page = fs::read(format!("/usr/share/man/man8/{man}.8.gz")).expect("man page");
        assert!(page.starts_with(b"\x1f\x8b"), "{man}.8 is not gzipped");
    }

    // The installed programs.
    assert_eq!(ok(DPVSD, &["--version"]).trim(), format!("dpvsd {VERSION}"));
    // dpip runs (what it supports grows; its usage names it).
    let dpip = run("/usr/sbin/dpip", &["help"], COMMAND_TIMEOUT);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&dpip.stdout),
        String::from_utf8_lossy(&dpip.stderr)
    );
    assert!(
        (0..=2).contains(&exit_code(&dpip.status)) && said.contains("dpip"),
        "dpip help: {}",
        show(&dpip)
    );
    let tmp = TempDir::new("dpvs-pkg-").expect("temp dir");
    let mut d = InstalledDpvsd::start(tmp.path());
    let sock = d.socket.clone();
    // ipvsadm through the installed /usr/sbin/ipvsadm, by path and through PATH, with no
    // LD_PRELOAD of the caller: the wrapper preloads the package's shim.
    user_ok(
        IPVSADM,
        &["-A", "-t", "192.0.2.1:80", "-s", "rr"],
        &sock,
        &[],
    );
    user_ok(
        "ipvsadm",
        &[
            "-a",
            "-t",
            "192.0.2.1:80",
            "-r",
            "127.0.0.1:8080",
            "-m",
            "-w",
            "2",
        ],
        &sock,
        &[],
    );
    let want = text::listing(&[
        "TCP  192.0.2.1:80 rr".to_string(),
        text::dest("127.0.0.1:8080", "Masq", 2),
    ]);
    assert_listing(
        &user_ok(IPVSADM, &["-Ln"], &sock, &[]),
        &want,
        "ipvsadm -Ln via the wrapper",
    );
    assert_listing(
        &user_ok("ipvsadm", &["-Ln"], &sock, &[]),
        &want,
        "ipvsadm -Ln via PATH",
    );
    // A caller that preloads its own shim (as the other end-to-end tests do) keeps it.
    let their = tmp.path().join("theirs");
    fs::create_dir(&their).expect("mkdir");
    let their_shim = their.join("libipvs_netlink_shim.so");
    fs::copy(DEB_SHIM, &their_shim).expect("copy shim");
    let their_shim = their_shim.to_str().expect("utf-8 path");
    assert_listing(
        &user_ok(IPVSADM, &["-Ln"], &sock, &[("LD_PRELOAD", their_shim)]),
        &want,
        "ipvsadm -Ln with the caller's shim",
    );
    // argv[0] is kept: ipvsadm's messages name /usr/sbin/ipvsadm, as without the wrapper.
    let bad = user_run(IPVSADM, &["-Q"], &sock, &[]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("Try `/usr/sbin/ipvsadm -h'"),
        "argv[0] not kept: {}",
        show(&bad)
    );
    check_wrapper_environment(tmp.path());
    // Without Debian's ipvsadm the wrapper runs ipvsadm-compat.
    let no_real = tmp.path().join("wrapper-without-ipvsadm");
    fs::write(
        &no_real,
        wrapper.replace(&format!("real={DIVERTED}\n"), "real=/nonexistent/ipvsadm\n"),
    )
    .expect("write");
    fs::set_permissions(&no_real, fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_listing(
        &user_ok(no_real.to_str().expect("utf-8"), &["-Ln"], &sock, &[]),
        &want,
        "the wrapper's ipvsadm-compat fallback",
    );

    // keepalived with the installed drop-in's environment.
    let dropin = fs::read_to_string(DROPIN).expect("read the drop-in");
    let lines = unit_lines(&dropin);
    for l in [
        "[Unit]",
        "Requires=dpvsd.service",
        "After=dpvsd.service",
        "[Service]",
    ] {
        assert!(lines.contains(&l), "the drop-in lacks {l:?}:\n{dropin}");
    }
    let env = unit_environment(&dropin);
    assert_eq!(
        env.get("LD_PRELOAD").map(String::as_str),
        Some(DEB_SHIM),
        "drop-in: {env:?}"
    );
    let kdir = tmp.path().join("keepalived");
    fs::create_dir(&kdir).expect("mkdir");
    let kconf = kdir.join("keepalived.conf");
    fs::write(
        &kconf,
        "global_defs {\n  router_id dpvs-pkg\n}\n\
         virtual_server 192.0.2.2 8080 {\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n  \
         real_server 127.0.0.2 8081 {\n    weight 3\n  }\n}\n",
    )
    .expect("write keepalived.conf");
    let klog = fs::File::create(kdir.join("keepalived.log")).expect("log");
    let mut cmd = Command::new(KEEPALIVED);
    cmd.args(["-n", "-l", "-D", "-G", "-C", "-f"])
        .arg(&kconf)
        .arg("-p")
        .arg(kdir.join("keepalived.pid"))
        .arg("-c")
        .arg(kdir.join("checkers.pid"))
        .arg("-r")
        .arg(kdir.join("vrrp.pid"))
        .env_clear()
        .env("PATH", SYS_PATH)
        .env("LC_ALL", "C")
        .envs(&env)
        .env("DPVSD_IPVS_SOCKET", &sock)
        .stdin(Stdio::null())
        .stdout(klog.try_clone().expect("log"))
        .stderr(klog);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut k = Keepalived {
        child: Some(child),
        dir: kdir.clone(),
    };
    let with_ka = text::listing(&[
        "TCP  192.0.2.1:80 rr".to_string(),
        text::dest("127.0.0.1:8080", "Masq", 2),
        "TCP  192.0.2.2:8080 wrr".to_string(),
        text::dest("127.0.0.2:8081", "Masq", 3),
    ]);
    let deadline = Instant::now() + KEEPALIVED_TIMEOUT;
    loop {
        let got = user_ok(IPVSADM, &["-Ln"], &sock, &[]);
        if got == with_ka {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "keepalived's virtual_server did not appear in dpvsd within {KEEPALIVED_TIMEOUT:?}\n{}\
             keepalived log:\n{}\ndpvsd log:\n{}",
            line_diff(&with_ka, &got),
            tail(&k.log(), 30),
            tail(&d.log(), 30)
        );
        thread::sleep(Duration::from_millis(100));
    }
    let status = k.stop();
    assert!(
        status.is_some(),
        "keepalived did not stop on SIGTERM:\n{}",
        tail(&k.log(), 30)
    );
    // On stop keepalived removes what it added.
    assert_listing(
        &user_ok(IPVSADM, &["-Ln"], &sock, &[]),
        &want,
        "after keepalived stopped",
    );
    let status = d.stop().expect("installed dpvsd stops on SIGTERM");
    assert!(
        status.success(),
        "installed dpvsd exited with {status}:\n{}",
        d.log()
    );

    // The units: the unit's required settings, systemd-analyze verify on the installed units
    // (keepalived.service with the drop-in) and on the rpm's copies.
    let unit = fs::read_to_string(UNIT).expect("read dpvsd.service");
    let lines = unit_lines(&unit);
    for l in [
        "Type=notify",
        "ExecStart=/usr/sbin/dpvsd --config /etc/dpvs/dpvsd.conf",
        "Restart=on-failure",
        "RuntimeDirectory=dpvsd",
        "StateDirectory=dpvsd",
        "After=network-online.target",
    ] {
        assert!(lines.contains(&l), "dpvsd.service lacks {l:?}:\n{unit}");
    }
    verify_units(&[Path::new(UNIT), Path::new(KEEPALIVED_UNIT)], None)
        .unwrap_or_else(|e| panic!("{e}"));
    let payload = rpm_payload(&p.rpm);
    let units = tmp.path().join("rpm-units");
    fs::create_dir_all(units.join("keepalived.service.d")).expect("mkdir");
    fs::write(units.join("dpvsd.service"), &payload[UNIT]).expect("write");
    fs::write(
        units.join("keepalived.service.d/dpvs.conf"),
        &payload[DROPIN],
    )
    .expect("write");
    fs::copy(KEEPALIVED_UNIT, units.join("keepalived.service")).expect("copy");
    verify_units(
        &[
            &units.join("dpvsd.service"),
            &units.join("keepalived.service"),
        ],
        Some(&units),
    )
    .unwrap_or_else(|e| panic!("the rpm's units: {e}"));

    // Upgrade over itself: the administrator's change to the conffile is kept, the diversion
    // and the wrapper stay.
    let mut conf = fs::OpenOptions::new()
        .append(true)
        .open(CONF)
        .expect("open conffile");
    writeln!(conf, "# changed by the administrator").expect("write conffile");
    drop(conf);
    let edited = fs::read(CONF).expect("read conffile");
    let out = dpkg(&["-i", deb]);
    assert!(out.status.success(), "dpkg -i (upgrade): {}", show(&out));
    assert_eq!(
        fs::read(CONF).expect("read conffile"),
        edited,
        "upgrade replaced the conffile"
    );
    assert_eq!(diversions_by_us().len(), 1);
    assert_eq!(fs::read(DIVERTED).expect("read diverted"), debian_ipvsadm);
    assert_eq!(fs::read_to_string(IPVSADM).expect("read wrapper"), wrapper);

    // Remove: Debian's ipvsadm is back, the conffile stays.
    let out = dpkg(&["-r", PKG]);
    assert!(out.status.success(), "dpkg -r: {}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!(
            "Removing 'diversion of {DEBIAN_IPVSADM} to {DIVERTED} by {PKG}'"
        )),
        "dpkg -r did not report removing the diversion: {}",
        show(&out)
    );
    let check_ipvsadm_restored = |when: &str| {
        assert!(
            diversions_by_us().is_empty(),
            "{when}: a diversion by {PKG} is left"
        );
        assert!(!Path::new(DIVERTED).exists(), "{when}: {DIVERTED} is left");
        assert!(is_elf(IPVSADM), "{when}: {IPVSADM} is not an ELF binary");
        assert!(
            fs::read(DEBIAN_IPVSADM).expect("read ipvsadm") == debian_ipvsadm,
            "{when}: not Debian's ipvsadm"
        );
        assert_eq!(
            ok("dpkg", &["-S", DEBIAN_IPVSADM]).trim(),
            format!("ipvsadm: {DEBIAN_IPVSADM}")
        );
        assert_eq!(
            ok("dpkg-divert", &["--truename", DEBIAN_IPVSADM]).trim(),
            DEBIAN_IPVSADM
        );
    };
    check_ipvsadm_restored("after dpkg -r");
    assert_eq!(dpkg_status().as_deref(), Some("rc"));
    assert!(Path::new(CONF).exists(), "dpkg -r removed the conffile");
    for (path, before) in &existed {
        if !before && path != CONF && path != "/etc/dpvs" {
            assert!(!Path::new(path).exists(), "after dpkg -r, {path} is left");
        }
    }

    // Purge: nothing left.
    let out = dpkg(&["-P", PKG]);
    assert!(out.status.success(), "dpkg -P: {}", show(&out));
    drop(guard);
    assert_eq!(dpkg_status(), None, "dpkg still knows {PKG} after purge");
    check_ipvsadm_restored("after dpkg -P");
    for (path, before) in &existed {
        if !before {
            assert!(!Path::new(path).exists(), "after dpkg -P, {path} is left");
        }
    }
    let mut left = Vec::new();
    for dir in [
        "/etc/systemd/system",
        "/var/lib/systemd/deb-systemd-helper-enabled",
        "/var/lib/systemd/deb-systemd-helper-masked",
        "/var/lib/dpkg/info",
    ] {
        let out = run("find", &[dir, "-name", "*dpvs*"], COMMAND_TIMEOUT);
        left.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string),
        );
    }
    for p in ["/var/lib/dpvsd", "/run/dpvsd", "/etc/dpvs"] {
        if Path::new(p).exists() {
            left.push(p.to_string());
        }
    }
    assert!(left.is_empty(), "after dpkg -P these are left: {left:?}");
    println!("deb lifecycle: {:.1?} (after the build)", started.elapsed());
}

/// The .rpm's files, scriptlets, flags and dependencies; the .deb's control fields; lintian
/// on the .deb.
#[test]
fn rpm_contents_deb_fields_and_lintian() {
    if skip_packages() {
        return;
    }
    let p = packages();
    let rpm = p.rpm.to_str().expect("utf-8 path");
    let deb = p.deb.to_str().expect("utf-8 path");

    // rpm -qlp: exactly these files.
    let listed = ok("rpm", &["-qlp", rpm]);
    let listed: Vec<&str> = listed.lines().collect();
    assert_eq!(listed, RPM_FILES, "rpm -qlp");
    assert_eq!(
        ok(
            "rpm",
            &["-qp", "--qf", "%{NAME} %{VERSION}-%{RELEASE}", rpm]
        ),
        format!("{PKG} {VERSION}-1")
    );
    // The conffile is %config(noreplace): flags c and n.
    let flags = ok(
        "rpm",
        &["-qp", "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", rpm],
    );
    let conf_flags = flags
        .lines()
        .find_map(|l| l.strip_suffix(&format!(" {CONF}")))
        .unwrap_or_else(|| panic!("no {CONF} in:\n{flags}"));
    assert!(
        conf_flags.contains('c') && conf_flags.contains('n'),
        "{CONF} flags {conf_flags:?}"
    );

    // Scriptlets: systemd handling, no dpkg-divert (an rpm diverts nothing).
    let scripts = ok("rpm", &["-qp", "--scripts", rpm]);
    for s in [
        "postinstall scriptlet",
        "systemctl daemon-reload",
        "systemctl --no-reload preset dpvsd.service",
        "preuninstall scriptlet",
        "systemctl --no-reload disable --now dpvsd.service",
        "postuninstall scriptlet",
    ] {
        assert!(scripts.contains(s), "rpm --scripts lacks {s:?}:\n{scripts}");
    }
    assert!(!scripts.contains("dpkg-divert"), "{scripts}");

    // Dependencies: DPDK and libc (found in the binaries); ipvsadm and keepalived recommended.
    let requires = ok("rpm", &["-qp", "--requires", rpm]);
    for r in ["dpdk", "libc.so.6()(64bit)"] {
        assert!(
            requires.lines().any(|l| l.trim() == r),
            "rpm requires lacks {r}:\n{requires}"
        );
    }
    let recommends = ok("rpm", &["-qp", "--recommends", rpm]);
    for r in ["ipvsadm", "keepalived"] {
        assert!(
            recommends.lines().any(|l| l.trim() == r),
            "rpm recommends lacks {r}:\n{recommends}"
        );
    }

    // Payload: the rpm's own paths in the drop-in and the wrapper; stripped ELF programs.
    let payload = rpm_payload(&p.rpm);
    let dropin = String::from_utf8_lossy(&payload[DROPIN]).into_owned();
    let active: Vec<&str> = unit_lines(&dropin)
        .into_iter()
        .filter(|l| l.starts_with("Environment=LD_PRELOAD="))
        .collect();
    assert_eq!(
        active,
        vec![format!("Environment=LD_PRELOAD={RPM_SHIM}")],
        "rpm drop-in:\n{dropin}"
    );
    let wrapper = String::from_utf8_lossy(&payload["/usr/sbin/dpvs-ipvsadm"]).into_owned();
    assert!(
        wrapper.contains(&format!("\nshim={RPM_SHIM}\n"))
            && wrapper.contains("\nreal=/usr/sbin/ipvsadm\n"),
        "rpm wrapper:\n{wrapper}"
    );
    for f in [
        "/usr/sbin/dpvsd",
        "/usr/sbin/ipvsadm-compat",
        "/usr/sbin/dpip",
        RPM_SHIM,
    ] {
        let bin = &payload[f];
        assert!(bin.starts_with(b"\x7fELF"), "{f} is not ELF");
        assert!(
            !bin.windows(12).any(|w| w == b".debug_info\0"),
            "{f} is not stripped"
        );
    }
    assert_eq!(
        payload[CONF],
        fs::read(workspace().join("packaging/dpvsd.conf")).expect("read conf")
    );

    // The .deb's control fields: version from Cargo.toml; Depends from dpkg-shlibdeps (libc6
    // and a librte package for each DPDK library dpvsd links); Recommends.
    let field = |f: &str| ok("dpkg-deb", &["-f", deb, f]).trim().to_string();
    assert_eq!(field("Package"), PKG);
    assert_eq!(field("Version"), format!("{VERSION}-1"));
    let depends = field("Depends");
    assert!(depends.contains("libc6"), "Depends: {depends}");
    let unpacked = TempDir::new("dpvs-pkg-deb-").expect("temp dir");
    let root = unpacked.path().to_str().expect("utf-8 path");
    ok("dpkg-deb", &["-x", deb, root]);
    let readelf = ok("readelf", &["-d", &format!("{root}{DPVSD}")]);
    for lib in readelf
        .lines()
        .filter_map(|l| l.split("Shared library: [").nth(1))
    {
        let lib = lib.trim_end_matches(']');
        if let Some(rest) = lib.strip_prefix("librte_") {
            let (name, soversion) = rest.split_once(".so.").expect("librte soname");
            let name = name.replace('_', "-");
            let sep = if name.ends_with(|c: char| c.is_ascii_digit()) {
                "-"
            } else {
                ""
            };
            let pkg = format!("librte-{name}{sep}{soversion}");
            assert!(
                depends.contains(&pkg),
                "dpvsd links {lib} but Depends lacks {pkg}: {depends}"
            );
        }
    }
    let recommends = field("Recommends");
    for r in ["dpdk", "ipvsadm", "keepalived"] {
        assert!(recommends.contains(r), "Recommends: {recommends}");
    }
    let description = field("Description");
    assert!(
        !description.to_lowercase().starts_with(PKG),
        "Description: {description}"
    );

    // lintian: no errors (the overrides, with their reasons, are in packaging/deb/).
    let out = run(
        "lintian",
        &["--fail-on", "error", deb],
        Duration::from_secs(300),
    );
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("lintian {}:\n{said}", out.status);
    let errors: Vec<&str> = said.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(
        out.status.success() && errors.is_empty(),
        "lintian errors: {}",
        show(&out)
    );
}
