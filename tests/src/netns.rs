//! A network-namespace testbed: namespaces, veth pairs, bridges, addresses, routes and sysctls
//! as typed values, processes inside a namespace as guards, tiny real servers, and the topology
//! the dataplane tests use ([`LbTestbed`]).
//!
//! Everything lives in namespaces created here; nothing is added to the caller's namespace
//! (veth pairs are created with `ip -n A link add .. peer .. netns B`, so neither end ever
//! appears in the root namespace). Namespace names are unique per process and per call
//! (`dpvst-<pid>-<n>-<base>`), so tests run in parallel. Every guard cleans up on drop, also
//! when a test panics:
//! - [`Proc`]: SIGTERM to its pid, SIGKILL after [`STOP_TIMEOUT`], reaped.
//! - [`Netns`]: SIGKILL to every pid still in the namespace (`ip netns pids`), then
//!   `ip netns del`; its interfaces (and the peers of its veths) go with it.
//!
//! Every command is bounded in time ([`CMD_TIMEOUT`]) and killed when it hangs.
//!
//! # The load-balancer testbed ([`LbTestbed`])
//!
//! ```text
//!   client ns                lb ns                          switch ns          rsN ns
//!  +-----------+        +-----------------------+        +-------------+     +------------+
//!  | cl0       |--------| lb-c        lb-s      |--------| sw-lb       |     |            |
//!  | 10.90.1.2 |  veth  | 10.90.1.1   10.90.2.1 |  veth  |    br0      |-----| eth0       |
//!  +-----------+        +-----------------------+        | sw-rs0..N-1 |veth | 10.90.2.1N |
//!                        VIPs routed here                +-------------+     +------------+
//! ```
//!
//! | namespace | interface | IPv4 | IPv6 | routes |
//! |---|---|---|---|---|
//! | client | `cl0` | 10.90.1.2/24 | fd00:90:1::2/64 | default via 10.90.1.1 / fd00:90:1::1 |
//! | lb | `lb-c` (client side) | 10.90.1.1/24 | fd00:90:1::1/64 | connected |
//! | lb | `lb-s` (server side) | 10.90.2.1/24 | fd00:90:2::1/64 | connected |
//! | switch | `br0` + `sw-lb` + `sw-rs<i>` | none | none | (a plain L2 bridge) |
//! | rs`i` | `eth0` | 10.90.2.(10+i)/24 | fd00:90:2::(10+i)/64 | default via 10.90.2.1 / fd00:90:2::1 |
//!
//! - The lb namespace forwards (IPv4 `ip_forward`, IPv6 `forwarding`); with nothing else
//!   configured, the client reaches every real server by plain kernel routing.
//! - VIPs: [`VIP4`] 10.90.0.100 and [`VIP6`] fd00:90::100, in no namespace's addresses: the
//!   client's default route sends them to the lb namespace, where a balancer takes them (an
//!   nftables DNAT rule, a proxy listening on them after [`LbTestbed::add_vip_to_lb`], or
//!   later dpvsd). Real servers reply to the client through their default route, the lb
//!   namespace, so NAT (masquerade) works as well as full-NAT.
//! - 10.90.2.2 - 10.90.2.9 and fd00:90:2::2 - fd00:90:2::9 are left free for the load
//!   balancer's local addresses (full-NAT).
//! - For dpvsd's dataplane, DPDK `net_af_packet` ports attach to `lb-c` (client side) and
//!   `lb-s` (server side); dpvsd runs inside the lb namespace. The kernel addresses on those two
//!   interfaces are what the plain-routing baseline uses; the dataplane test removes them
//!   ([`LbTestbed::flush_lb_addresses`]) so that the kernel does not answer beside dpvsd.
//! - IPv6 addresses are added with `nodad` (usable at once, no duplicate-address detection).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::run_with_timeout;

/// Longest any one command (`ip`, `nft`, `sysctl`, `curl`, ...) may take.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a spawned process may take to exit after SIGTERM before it gets SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest a server may take to say it is ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// The prefix of every namespace created here.
pub const PREFIX: &str = "dpvst-";

/// The IPv4 VIP of the testbed (routed to the lb namespace by the client's default route).
pub const VIP4: Ipv4Addr = Ipv4Addr::new(10, 90, 0, 100);
/// The IPv6 VIP of the testbed.
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x90, 0, 0, 0, 0, 0, 0x100);
/// The client's addresses.
pub const CLIENT4: Ipv4Addr = Ipv4Addr::new(10, 90, 1, 2);
pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x90, 1, 0, 0, 0, 0, 2);
/// The lb namespace's client-side addresses (the client's gateway).
pub const LB_CLIENT_SIDE4: Ipv4Addr = Ipv4Addr::new(10, 90, 1, 1);
pub const LB_CLIENT_SIDE6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x90, 1, 0, 0, 0, 0, 1);
/// The lb namespace's server-side addresses (the real servers' gateway).
pub const LB_SERVER_SIDE4: Ipv4Addr = Ipv4Addr::new(10, 90, 2, 1);
pub const LB_SERVER_SIDE6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x90, 2, 0, 0, 0, 0, 1);
/// The client's subnet.
pub const CLIENT_NET4: Ipv4Addr = Ipv4Addr::new(10, 90, 1, 0);
/// [`LbTestbed::add_return_path`]: the switch's address on the servers' subnet (their
/// gateway to the client), and the two ends of the switch-client link.
pub const SWITCH_GW4: Ipv4Addr = Ipv4Addr::new(10, 90, 2, 254);
pub const RETURN_SWITCH4: Ipv4Addr = Ipv4Addr::new(10, 90, 4, 1);
pub const RETURN_CLIENT4: Ipv4Addr = Ipv4Addr::new(10, 90, 4, 2);
/// The client's IPv6 subnet, and the IPv6 counterparts of the return path's addresses.
pub const CLIENT_NET6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x90, 1, 0, 0, 0, 0, 0);
pub const SWITCH_GW6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x90, 2, 0, 0, 0, 0, 0xfe);
pub const RETURN_SWITCH6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x90, 4, 0, 0, 0, 0, 1);
pub const RETURN_CLIENT6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x90, 4, 0, 0, 0, 0, 2);
/// Interface names in the lb namespace: client side and server side.
pub const LB_CLIENT_IF: &str = "lb-c";
pub const LB_SERVER_IF: &str = "lb-s";

/// Real server `i`'s IPv4 address: 10.90.2.(10+i).
pub fn rs_addr4(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(
        10,
        90,
        2,
        10 + u8::try_from(i).expect("fewer than 240 real servers"),
    )
}

/// Real server `i`'s IPv6 address: fd00:90:2::(10+i) (the last group in hex, as written).
pub fn rs_addr6(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(
        0xfd00,
        0x90,
        2,
        0,
        0,
        0,
        0,
        0x10 + u16::try_from(i).expect("few real servers"),
    )
}

/// The Python interpreter for the tiny servers: Debian's, else the first on PATH.
pub fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// True (after printing why) when the netns tests cannot run here: they need root, iproute2,
/// nft, curl and python3 (all installed by scripts/setup.sh).
pub fn skip() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root");
        return true;
    }
    for (tool, pkg) in [
        ("ip", "iproute2"),
        ("nft", "nftables"),
        ("curl", "curl"),
        ("sysctl", "procps"),
    ] {
        if !in_path(tool) {
            println!("skipped: needs `{tool}` (Debian package {pkg})");
            return true;
        }
    }
    if python() == "python3" && !in_path("python3") {
        println!("skipped: needs python3");
        return true;
    }
    false
}

fn in_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|d| Path::new(d).join(tool).is_file())
}

/// Runs `argv` bounded by [`CMD_TIMEOUT`]; Err (with its stderr) unless it exits 0.
pub fn run(argv: &[&str], input: Option<&[u8]>) -> Result<Output, String> {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]);
    let out = run_with_timeout(cmd, input, CMD_TIMEOUT)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "`{}` failed ({}): {}{}",
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

/// The names of all network namespaces (`ip netns list`).
pub fn netns_list() -> Result<Vec<String>, String> {
    let out = run(&["ip", "netns", "list"], None)?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect())
}

/// The interface names of the caller's namespace (`ip -o link`).
pub fn root_links() -> Result<Vec<String>, String> {
    let out = run(&["ip", "-o", "link", "show"], None)?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_owned())
        .collect())
}

/// A unique tag for one testbed: `dpvst-<pid>-<n>`; every namespace of the testbed starts
/// with it, so a test can check that none is left.
pub fn unique_tag() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{PREFIX}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A network namespace, deleted (with every process still in it) on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `dpvst-<pid>-<n>-<base>` with its loopback up.
    pub fn new(base: &str) -> Result<Netns, String> {
        Netns::with_name(format!("{}-{base}", unique_tag()))
    }

    /// Creates a namespace with exactly this name (fails when it exists).
    pub fn with_name(name: String) -> Result<Netns, String> {
        run(&["ip", "netns", "add", &name], None)?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n <ns> <args>`.
    pub fn ip(&self, args: &[&str]) -> Result<Output, String> {
        let mut argv = vec!["ip", "-n", &self.name];
        argv.extend_from_slice(args);
        run(&argv, None)
    }

    /// Runs `argv` inside the namespace, bounded by [`CMD_TIMEOUT`]; Err unless it exits 0.
    pub fn exec(&self, argv: &[&str]) -> Result<Output, String> {
        self.exec_input(argv, None)
    }

    /// As [`Netns::exec`], with `input` on stdin.
    pub fn exec_input(&self, argv: &[&str], input: Option<&[u8]>) -> Result<Output, String> {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(argv);
        run(&full, input)
    }

    /// Runs `argv` inside the namespace and returns its stdout as text.
    pub fn exec_stdout(&self, argv: &[&str]) -> Result<String, String> {
        self.exec(argv)
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Starts `argv` inside the namespace (stdout read line by line, stderr kept); the guard
    /// stops it by pid. `ip netns exec` execs the program, so the pid is the program's.
    pub fn spawn(&self, argv: &[&str]) -> Result<Proc, String> {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(argv);
        Proc::spawn(cmd, format!("{} in {}", argv.join(" "), self.name))
    }

    /// As [`Netns::spawn`], with the process's stderr written to the file `log` (created or
    /// truncated) instead of being kept in memory: for daemons whose log a test reads while
    /// they run.
    pub fn spawn_logged(&self, argv: &[&str], log: &Path) -> Result<Proc, String> {
        let file = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(argv);
        Proc::spawn_with_stderr(
            cmd,
            format!("{} in {}", argv.join(" "), self.name),
            Some(file),
        )
    }

    /// `sysctl -w key=value` inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), String> {
        self.exec(&["sysctl", "-qw", &format!("{key}={value}")])
            .map(drop)
    }

    /// Turns on IPv4 and IPv6 forwarding.
    pub fn enable_forwarding(&self) -> Result<(), String> {
        self.sysctl("net.ipv4.ip_forward", "1")?;
        self.sysctl("net.ipv6.conf.all.forwarding", "1")
    }

    /// Sets `ifname` up.
    pub fn link_up(&self, ifname: &str) -> Result<(), String> {
        self.ip(&["link", "set", ifname, "up"]).map(drop)
    }

    /// Adds an address (`10.0.0.1/24`, `fd00::1/64`); IPv6 ones without DAD.
    pub fn add_addr(&self, ifname: &str, cidr: &str) -> Result<(), String> {
        if cidr.contains(':') {
            self.ip(&["-6", "addr", "add", cidr, "dev", ifname, "nodad"])
                .map(drop)
        } else {
            self.ip(&["addr", "add", cidr, "dev", ifname]).map(drop)
        }
    }

    /// Adds a route to `dest` (`default`, `10.1.0.0/16`, `fd00:1::/64`) via `gateway`.
    pub fn add_route(&self, dest: &str, gateway: IpAddr) -> Result<(), String> {
        let family = if gateway.is_ipv6() { "-6" } else { "-4" };
        self.ip(&[family, "route", "add", dest, "via", &gateway.to_string()])
            .map(drop)
    }

    /// Creates a bridge (STP off, so its ports forward at once) and sets it up.
    pub fn add_bridge(&self, name: &str) -> Result<(), String> {
        self.ip(&["link", "add", name, "type", "bridge", "stp_state", "0"])?;
        self.link_up(name)
    }

    /// Makes `ifname` a port of `bridge`.
    pub fn set_master(&self, ifname: &str, bridge: &str) -> Result<(), String> {
        self.ip(&["link", "set", ifname, "master", bridge])
            .map(drop)
    }

    /// Loads an nftables ruleset (`nft -f -`).
    pub fn nft(&self, ruleset: &str) -> Result<(), String> {
        self.exec_input(&["nft", "-f", "-"], Some(ruleset.as_bytes()))
            .map(drop)
    }

    /// The pids of the processes in the namespace.
    pub fn pids(&self) -> Vec<libc::pid_t> {
        run(&["ip", "netns", "pids", &self.name], None)
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The interface names in the namespace.
    pub fn links(&self) -> Result<Vec<String>, String> {
        let out = self.ip(&["-o", "link", "show"])?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_owned())
            .collect())
    }

    /// `curl` from this namespace: the body of a GET of `url`, within 3 s.
    pub fn curl(&self, url: &str) -> Result<String, String> {
        self.exec_stdout(&["curl", "-sS", "-g", "--max-time", "3", url])
    }

    /// Sends `payload` to `addr:port` over UDP from this namespace and returns the answer
    /// (up to 6 tries, 0.5 s each).
    pub fn udp_request(&self, addr: IpAddr, port: u16, payload: &str) -> Result<String, String> {
        self.exec_stdout(&[
            python(),
            "-c",
            UDP_CLIENT,
            &addr.to_string(),
            &port.to_string(),
            payload,
        ])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for pid in self.pids() {
            // SAFETY: kill(2) with a pid that `ip netns pids` listed in our own namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = run(&["ip", "netns", "del", &self.name], None);
    }
}

/// Creates a veth pair: `a_if` in `a`, `b_if` in `b`, both up. It disappears with either
/// namespace.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> Result<(), String> {
    a.ip(&[
        "link",
        "add",
        a_if,
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ])?;
    a.link_up(a_if)?;
    b.link_up(b_if)
}

/// A process started by [`Netns::spawn`]: SIGTERM by pid on drop, SIGKILL after
/// [`STOP_TIMEOUT`].
#[derive(Debug)]
pub struct Proc {
    child: Option<Child>,
    what: String,
    lines: mpsc::Receiver<String>,
    stderr: thread::JoinHandle<Vec<u8>>,
}

impl Proc {
    fn spawn(cmd: Command, what: String) -> Result<Proc, String> {
        Proc::spawn_with_stderr(cmd, what, None)
    }

    fn spawn_with_stderr(
        mut cmd: Command,
        what: String,
        stderr_file: Option<std::fs::File>,
    ) -> Result<Proc, String> {
        let to_file = stderr_file.is_some();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(match stderr_file {
                Some(f) => Stdio::from(f),
                None => Stdio::piped(),
            });
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = if to_file {
            None
        } else {
            Some(child.stderr.take().ok_or("no stderr")?)
        };
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut stderr) = stderr {
                let _ = std::io::Read::read_to_end(&mut stderr, &mut buf);
            }
            buf
        });
        Ok(Proc {
            child: Some(child),
            what,
            lines: rx,
            stderr,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Waits (at most `timeout`) for a stdout line equal to `want`; Err when the process
    /// exits or the time is up.
    pub fn wait_for_line(&mut self, want: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut seen = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(line) if line.trim() == want => return Ok(()),
                Ok(line) => {
                    let _ = writeln!(seen, "{line}");
                }
                Err(mpsc::RecvTimeoutError::Timeout) if left.is_zero() => {
                    return Err(format!(
                        "{}: no `{want}` within {timeout:?}; stdout: {seen}",
                        self.what
                    ));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.stop();
                    return Err(format!(
                        "{} exited ({status}) before `{want}`; stdout: {seen}",
                        self.what
                    ));
                }
            }
        }
    }

    /// The next stdout line (at most `timeout` from now); Err when the process ends first or
    /// the time is up.
    pub fn read_line(&mut self, timeout: Duration) -> Result<String, String> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Ok(line),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(format!("{}: no output line within {timeout:?}", self.what))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = self.stop();
                Err(format!(
                    "{} exited ({status}) without another line",
                    self.what
                ))
            }
        }
    }

    /// Stops the process (SIGTERM, then SIGKILL) and returns how it ended plus its stderr.
    pub fn stop(&mut self) -> String {
        let Some(mut child) = self.child.take() else {
            return "not running".into();
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own unreaped child, so the pid cannot have been reused.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s.to_string(),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = child.kill();
                    break format!("killed after {STOP_TIMEOUT:?}: {:?}", child.wait());
                }
            }
        };
        let stderr = std::mem::replace(&mut self.stderr, thread::spawn(Vec::new));
        let err = stderr.join().unwrap_or_default();
        if err.is_empty() {
            status
        } else {
            format!("{status}; stderr: {}", String::from_utf8_lossy(&err).trim())
        }
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
    }
}

/// A tiny HTTP/1.1 server: every GET is answered `200` with the body `<name>\n`. Listens on
/// `[::]:port` dual-stack (IPv4 and IPv6). Threaded, keep-alive capable.
const HTTP_SERVER: &str = r#"
import socket, socketserver, sys, http.server
name, port = sys.argv[1], int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = (name + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
s = S(("::", port), H)
print("ready", flush=True)
s.serve_forever()
"#;

/// A UDP echo server on `[::]:port`, dual-stack: every datagram goes back to its sender as is.
const UDP_ECHO: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(data, peer)
"#;

/// Sends argv[3] to argv[1]:argv[2] over UDP and prints the first answer; exit 1 after 6
/// unanswered tries of 0.5 s.
const UDP_CLIENT: &str = r#"
import socket, sys
host, port, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for _ in range(6):
    s.sendto(payload, (host, port))
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        continue
    sys.stdout.write(data.decode())
    sys.exit(0)
sys.exit("no answer from %s:%d" % (host, port))
"#;

/// Starts the tiny HTTP server in `ns` on port `port` (all addresses, IPv4 and IPv6), answering
/// `<name>\n`, and waits until it listens.
pub fn http_server(ns: &Netns, port: u16, name: &str) -> Result<Proc, String> {
    let mut p = ns.spawn(&[python(), "-c", HTTP_SERVER, name, &port.to_string()])?;
    p.wait_for_line("ready", READY_TIMEOUT)?;
    Ok(p)
}

/// Starts a UDP echo server in `ns` on port `port` (all addresses, IPv4 and IPv6) and waits
/// until it is bound.
pub fn udp_echo_server(ns: &Netns, port: u16) -> Result<Proc, String> {
    let mut p = ns.spawn(&[python(), "-c", UDP_ECHO, &port.to_string()])?;
    p.wait_for_line("ready", READY_TIMEOUT)?;
    Ok(p)
}

/// URL of `addr:port` (IPv6 in brackets).
pub fn url(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("http://{a}:{port}/"),
        IpAddr::V6(a) => format!("http://[{a}]:{port}/"),
    }
}

/// One real server of the testbed.
#[derive(Debug)]
pub struct RealServer {
    pub ns: Netns,
    pub addr4: Ipv4Addr,
    pub addr6: Ipv6Addr,
}

/// The load-balancer testbed of the module doc: client — lb (two interfaces) — switch
/// (bridge) — N real servers. Dropping it deletes every namespace (and so every interface).
#[derive(Debug)]
pub struct LbTestbed {
    tag: String,
    pub client: Netns,
    pub lb: Netns,
    pub switch: Netns,
    pub servers: Vec<RealServer>,
}

impl LbTestbed {
    /// Builds the testbed with `n` real servers (1 to 240); the lb namespace forwards.
    pub fn new(n: usize) -> Result<LbTestbed, String> {
        assert!((1..=240).contains(&n), "1 to 240 real servers");
        let tag = unique_tag();
        let ns = |base: &str| Netns::with_name(format!("{tag}-{base}"));
        let client = ns("client")?;
        let lb = ns("lb")?;
        let switch = ns("switch")?;
        let mut servers = Vec::new();
        for i in 0..n {
            let rs = ns(&format!("rs{i}"))?;
            servers.push(RealServer {
                ns: rs,
                addr4: rs_addr4(i),
                addr6: rs_addr6(i),
            });
        }
        let tb = LbTestbed {
            tag,
            client,
            lb,
            switch,
            servers,
        };
        tb.wire()?;
        Ok(tb)
    }

    fn wire(&self) -> Result<(), String> {
        let (client, lb, sw) = (&self.client, &self.lb, &self.switch);
        veth(client, "cl0", lb, LB_CLIENT_IF)?;
        client.add_addr("cl0", &format!("{CLIENT4}/24"))?;
        client.add_addr("cl0", &format!("{CLIENT6}/64"))?;
        client.add_route("default", LB_CLIENT_SIDE4.into())?;
        client.add_route("default", LB_CLIENT_SIDE6.into())?;

        lb.add_addr(LB_CLIENT_IF, &format!("{LB_CLIENT_SIDE4}/24"))?;
        lb.add_addr(LB_CLIENT_IF, &format!("{LB_CLIENT_SIDE6}/64"))?;
        lb.enable_forwarding()?;

        sw.add_bridge("br0")?;
        veth(lb, LB_SERVER_IF, sw, "sw-lb")?;
        sw.set_master("sw-lb", "br0")?;
        lb.add_addr(LB_SERVER_IF, &format!("{LB_SERVER_SIDE4}/24"))?;
        lb.add_addr(LB_SERVER_IF, &format!("{LB_SERVER_SIDE6}/64"))?;

        for (i, rs) in self.servers.iter().enumerate() {
            let port = format!("sw-rs{i}");
            veth(&rs.ns, "eth0", sw, &port)?;
            sw.set_master(&port, "br0")?;
            rs.ns.add_addr("eth0", &format!("{}/24", rs.addr4))?;
            rs.ns.add_addr("eth0", &format!("{}/64", rs.addr6))?;
            rs.ns.add_route("default", LB_SERVER_SIDE4.into())?;
            rs.ns.add_route("default", LB_SERVER_SIDE6.into())?;
        }
        Ok(())
    }

    /// The tag every namespace name of this testbed starts with.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Adds the VIPs to the lb namespace's loopback, for a proxy that listens on them.
    pub fn add_vip_to_lb(&self) -> Result<(), String> {
        self.lb.add_addr("lo", &format!("{VIP4}/32"))?;
        self.lb.add_addr("lo", &format!("{VIP6}/128"))
    }

    /// A return path that bypasses the lb namespace, for direct routing and tunnelling (the
    /// real servers answer the client from the VIP themselves):
    ///
    /// - the switch namespace's bridge gets [`SWITCH_GW4`] (10.90.2.254/24) and forwards;
    /// - a veth joins the switch (`sw-rp`, [`RETURN_SWITCH4`] 10.90.4.1/24) and the client
    ///   (`cl-rp`, [`RETURN_CLIENT4`] 10.90.4.2/24); the switch routes 10.90.1.0/24 via the
    ///   client's end;
    /// - every real server routes 10.90.1.0/24 via 10.90.2.254;
    /// - the same for IPv6: the bridge has fd00:90:2::fe/64, the link fd00:90:4::1/64 (switch)
    ///   and fd00:90:4::2/64 (client), the switch forwards and routes fd00:90:1::/64 via the
    ///   client's end, the real servers route fd00:90:1::/64 via fd00:90:2::fe;
    /// - reverse-path filtering is off in the client (replies from the VIP arrive on `cl-rp`,
    ///   while the route to the VIP leaves by `cl0`) and in the switch (it has no route back
    ///   to the VIP).
    ///
    /// NAT and full-NAT need the opposite (replies through the balancer): do not call this for
    /// them.
    pub fn add_return_path(&self) -> Result<(), String> {
        let (client, sw) = (&self.client, &self.switch);
        sw.add_addr("br0", &format!("{SWITCH_GW4}/24"))?;
        veth(sw, "sw-rp", client, "cl-rp")?;
        sw.add_addr("sw-rp", &format!("{RETURN_SWITCH4}/24"))?;
        client.add_addr("cl-rp", &format!("{RETURN_CLIENT4}/24"))?;
        sw.sysctl("net.ipv4.ip_forward", "1")?;
        for ifname in ["all", "default", "br0", "sw-rp"] {
            sw.sysctl(&format!("net.ipv4.conf.{ifname}.rp_filter"), "0")?;
        }
        for ifname in ["all", "default", "cl0", "cl-rp"] {
            client.sysctl(&format!("net.ipv4.conf.{ifname}.rp_filter"), "0")?;
        }
        sw.add_route(&format!("{CLIENT_NET4}/24"), RETURN_CLIENT4.into())?;
        for rs in &self.servers {
            rs.ns
                .add_route(&format!("{CLIENT_NET4}/24"), SWITCH_GW4.into())?;
        }
        // the same for IPv6: fd00:90:2::fe on the bridge, fd00:90:4::1 / ::2 on the link
        sw.add_addr("br0", &format!("{SWITCH_GW6}/64"))?;
        sw.add_addr("sw-rp", &format!("{RETURN_SWITCH6}/64"))?;
        client.add_addr("cl-rp", &format!("{RETURN_CLIENT6}/64"))?;
        sw.sysctl("net.ipv6.conf.all.forwarding", "1")?;
        sw.add_route(&format!("{CLIENT_NET6}/64"), RETURN_CLIENT6.into())?;
        for rs in &self.servers {
            rs.ns
                .add_route(&format!("{CLIENT_NET6}/64"), SWITCH_GW6.into())?;
        }
        Ok(())
    }

    /// Removes the kernel's addresses from `lb-c` and `lb-s` (for a dataplane that owns them).
    pub fn flush_lb_addresses(&self) -> Result<(), String> {
        for ifname in [LB_CLIENT_IF, LB_SERVER_IF] {
            self.lb.ip(&["addr", "flush", "dev", ifname])?;
        }
        Ok(())
    }

    /// An nftables ruleset for the lb namespace: TCP and UDP to `VIP:port` are DNATed to the
    /// real servers (same port), chosen by `numgen <mode> mod N` per new connection (`mode`:
    /// `inc` or `random`), for IPv4 and IPv6.
    pub fn dnat_ruleset(&self, port: u16, mode: &str) -> String {
        let n = self.servers.len();
        let map4: Vec<String> = self
            .servers
            .iter()
            .enumerate()
            .map(|(i, rs)| format!("{i} : {}", rs.addr4))
            .collect();
        let map6: Vec<String> = self
            .servers
            .iter()
            .enumerate()
            .map(|(i, rs)| format!("{i} : {}", rs.addr6))
            .collect();
        let (m4, m6) = (map4.join(", "), map6.join(", "));
        format!(
            "table inet dpvst_lb {{\n\
             \x20 chain prerouting {{\n\
             \x20   type nat hook prerouting priority dstnat; policy accept;\n\
             \x20   ip daddr {VIP4} meta l4proto {{ tcp, udp }} th dport {port} dnat ip to numgen {mode} mod {n} map {{ {m4} }}\n\
             \x20   ip6 daddr {VIP6} meta l4proto {{ tcp, udp }} th dport {port} dnat ip6 to numgen {mode} mod {n} map {{ {m6} }}\n\
             \x20 }}\n\
             }}\n"
        )
    }

    /// Starts [`http_server`] on `port` in every real server, each answering its namespace's
    /// short name (`rs0`, `rs1`, ...).
    pub fn start_http_servers(&self, port: u16) -> Result<Vec<Proc>, String> {
        (0..self.servers.len())
            .map(|i| http_server(&self.servers[i].ns, port, &format!("rs{i}")))
            .collect()
    }

    /// Starts [`udp_echo_server`] on `port` in every real server.
    pub fn start_udp_echo_servers(&self, port: u16) -> Result<Vec<Proc>, String> {
        self.servers
            .iter()
            .map(|rs| udp_echo_server(&rs.ns, port))
            .collect()
    }
}
