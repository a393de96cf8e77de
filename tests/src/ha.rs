//! Two dpvsd load balancers in VRRP high availability with unmodified keepalived, on a
//! namespace testbed ([`HaTestbed`]), for `tests/tests/ha_vrrp.rs`.
//!
//! ```text
//!                       switch ns
//!   client ns        +-------------+        lb1 ns / lb2 ns                 switch ns          rsN ns
//!  +-----------+     |             |     +----------------------+        +-------------+     +-----------+
//!  | cl0       |-----| brc         |-----| lb-c (dpdk0)         |        |             |     |           |
//!  | 10.90.1.2 |     | (client     |     |   dpdk0.kni 10.90.1.1N/24    |  brs        |-----| eth0      |
//!  +-----------+     |  bridge)    |     |   + VIP 10.90.1.100  |        | (server     |     | 10.90.2.1N|
//!                    |             |     | lb-s (dpdk1) --------|--------|  bridge)    |     +-----------+
//!                    +-------------+     |   sapool 10.90.2.(2+N)         +-------------+
//!                                        |   dpdk1.kni 10.90.2.5N/24
//!                                        +----------------------+
//! ```
//!
//! - One switch namespace holds both bridges (`brc` client side, `brs` server side; STP off).
//! - Each LB namespace runs dpvsd with DPDK `net_af_packet` ports on `lb-c` (`dpdk0`) and
//!   `lb-s` (`dpdk1`), the exception path on (`dpdk0.kni`, `dpdk1.kni`), `masquerade_fullnat
//!   = yes` and its own full-NAT local address ([`LbSpec::sapool`]), so the real servers answer
//!   the LB that owns the connection. The kernel addresses of the LB ([`LbSpec::kni_client`],
//!   [`LbSpec::kni_server`]) are put on the `.kni` interfaces with `ip addr` once dpvsd is up
//!   (what an `ExecStartPost=` of dpvsd.service does in production): dpvsd serves them too,
//!   VRRP advertisements leave from the client-side one, health checks from the server-side one.
//! - keepalived (Debian's, unmodified, VRRP and checker) runs in the LB namespace with the shim
//!   preloaded, its own config, pid files and log per node and run.
//! - The real servers are tiny HTTP/1.0 servers that answer `<name> <peer address>` and log
//!   every accepted connection's peer to a file, so health checks (from `10.90.2.5N`) and
//!   forwarded requests (from the LB's sapool address) can be told apart.
//! - The client starts a request to the VIP at a fixed rate ([`CLIENT_LOOP`]), each on a new
//!   connection in its own thread (a slow request does not hold the next one back), and writes
//!   one line per request with wall-clock timestamps, the connect time and the VIP's MAC in its
//!   ARP table; [`Samples`] reads it back and measures outages.
//!
//! Everything is stopped by pid and every namespace is deleted when the testbed is dropped, also
//! when the test panics (dpvsd's and keepalived's logs are printed then).

use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::dataplane::eal_runtime_dir;
use crate::netns::{self, python, veth, Netns, Proc, READY_TIMEOUT};
use crate::{dpvsd_bin, ipvsadm_on, run_with_timeout, seqpacket_connect, shim_env, shim_lib, TempDir, COMMAND_TIMEOUT};

/// Debian's keepalived.
pub const KEEPALIVED: &str = "/usr/sbin/keepalived";
/// The VIP that VRRP moves between the LBs (on-link for the client).
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 90, 1, 100);
/// The service port.
pub const PORT: u16 = 80;
/// The client's address.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 90, 1, 2);
/// VRRP virtual router id of the pair.
pub const VRID: u8 = 51;
/// How long dpvsd may take until its socket accepts connections.
pub const DPVSD_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long keepalived may take to exit after SIGTERM (its checker can be blocked for seconds
/// on an IPVS request while dpvsd is away).
pub const KEEPALIVED_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Real server `i`'s address: 10.90.2.(10+i).
pub fn rs_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 90, 2, 10 + u8::try_from(i).expect("few real servers"))
}

/// What one LB node is.
#[derive(Debug, Clone)]
pub struct LbSpec {
    /// `lb1`, `lb2`: the namespace's suffix and keepalived's router_id.
    pub name: String,
    /// keepalived's initial VRRP state, `MASTER` or `BACKUP`.
    pub state: &'static str,
    pub priority: u8,
    /// The kernel's address on `dpdk0.kni` (VRRP advertisements come from it).
    pub kni_client: String,
    /// The kernel's address on `dpdk1.kni` (health checks come from it).
    pub kni_server: String,
    /// dpvsd's full-NAT local address on the server side.
    pub sapool: Ipv4Addr,
}

impl LbSpec {
    /// Node `n` (1, 2, ...): 10.90.1.1n/24 and 10.90.2.5n/24 on the kni interfaces, sapool
    /// 10.90.2.(2+n); node 1 is MASTER with priority 150, the others BACKUP with 100.
    pub fn node(n: u8) -> LbSpec {
        LbSpec {
            name: format!("lb{n}"),
            state: if n == 1 { "MASTER" } else { "BACKUP" },
            priority: if n == 1 { 150 } else { 100 },
            kni_client: format!("10.90.1.{}/24", 10 + n),
            kni_server: format!("10.90.2.{}/24", 50 + n),
            sapool: Ipv4Addr::new(10, 90, 2, 2 + n),
        }
    }

    /// The address health checks come from (`kni_server` without its length).
    pub fn check_source(&self) -> Ipv4Addr {
        self.kni_server.split('/').next().and_then(|a| a.parse().ok()).expect("an IPv4 address")
    }
}

/// dpvsd's configuration for one node (socket and state under `dir`, EAL prefix `prefix`).
pub fn dpvsd_config(spec: &LbSpec, dir: &Path, prefix: &str) -> String {
    let level = std::env::var("DPVS_E2E_LOG_LEVEL").unwrap_or_else(|_| "info".into());
    format!(
        "[control]\n\
         ipvs_socket = \"{sock}\"\n\
         state_dir = \"{state}\"\n\
         log_level = \"{level}\"\n\
         \n\
         [dataplane]\n\
         workers = 1\n\
         masquerade_fullnat = yes\n\
         \n\
         [eal]\n\
         file_prefix = {prefix}\n\
         memory = 256\n\
         \n\
         [port.dpdk0]\n\
         interface = lb-c\n\
         \n\
         [port.dpdk1]\n\
         interface = lb-s\n\
         address = \"{sapool}/24 sapool\"\n",
        sock = dir.join("ipvs.sock").display(),
        state = dir.join("state").display(),
        sapool = spec.sapool,
    )
}

/// keepalived's configuration for one node: VRRP on `dpdk0.kni` with the VIP, and the
/// virtual server VIP:80 (rr, NAT, which dpvsd forwards by full-NAT) with `servers` real
/// servers under TCP_CHECK health checks every second.
pub fn keepalived_config(spec: &LbSpec, servers: usize) -> String {
    let mut c = String::new();
    let _ = write!(
        c,
        "global_defs {{\n\
         \x20   router_id {name}\n\
         }}\n\
         \n\
         vrrp_instance VI_1 {{\n\
         \x20   state {state}\n\
         \x20   interface dpdk0.kni\n\
         \x20   virtual_router_id {VRID}\n\
         \x20   priority {prio}\n\
         \x20   advert_int 1\n\
         \x20   virtual_ipaddress {{\n\
         \x20       {VIP}/24 dev dpdk0.kni\n\
         \x20   }}\n\
         }}\n\
         \n\
         virtual_server {VIP} {PORT} {{\n\
         \x20   delay_loop 1\n\
         \x20   lb_algo rr\n\
         \x20   lb_kind NAT\n\
         \x20   protocol TCP\n",
        name = spec.name,
        state = spec.state,
        prio = spec.priority,
    );
    for i in 0..servers {
        let _ = write!(
            c,
            "\n\
             \x20   real_server {} {PORT} {{\n\
             \x20       weight 1\n\
             \x20       TCP_CHECK {{\n\
             \x20           connect_timeout 1\n\
             \x20           retry 1\n\
             \x20           delay_before_retry 1\n\
             \x20       }}\n\
             \x20   }}\n",
            rs_addr(i)
        );
    }
    c.push_str("}\n");
    c
}

fn signal(pid: i32, sig: i32) -> bool {
    // SAFETY: kill(2) takes no pointers; callers pass pids of processes they started (checked
    // against /proc for the children keepalived forks).
    unsafe { libc::kill(pid, sig) == 0 }
}

/// True while `pid` is a live (not zombie) process whose command line contains `needle`.
fn live_with_arg(pid: i32, needle: &Path) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let zombie = stat.rsplit_once(") ").is_none_or(|(_, rest)| rest.starts_with('Z'));
    let needle = needle.as_os_str().as_encoded_bytes();
    !zombie && cmdline.windows(needle.len()).any(|w| w == needle)
}

/// One run of keepalived (parent, VRRP child, checker child) in an LB namespace, under the
/// shim. Dropping it stops it (SIGTERM, then SIGKILL for all three).
#[derive(Debug)]
pub struct Keepalived {
    child: Option<Child>,
    conf: PathBuf,
    dir: PathBuf,
    log: PathBuf,
}

impl Keepalived {
    /// Starts `keepalived -n -l -D -G -f CONF -p PID -r VRRP_PID -c CHECKERS_PID` in `ns` with
    /// `LD_PRELOAD` = the shim and `DPVSD_IPVS_SOCKET` = `socket`; stdout and stderr to `log`.
    pub fn start(ns: &Netns, socket: &Path, conf: &Path, dir: &Path, log: &Path) -> Result<Keepalived, String> {
        for f in ["keepalived.pid", "vrrp.pid", "checkers.pid"] {
            let _ = fs::remove_file(dir.join(f));
        }
        let out = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns.name(), KEEPALIVED, "-n", "-l", "-D", "-G", "-f"])
            .arg(conf)
            .arg("-p")
            .arg(dir.join("keepalived.pid"))
            .arg("-r")
            .arg(dir.join("vrrp.pid"))
            .arg("-c")
            .arg(dir.join("checkers.pid"));
        shim_env(&mut cmd, &shim_lib(), socket)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd.spawn().map_err(|e| format!("cannot start keepalived: {e}"))?;
        Ok(Keepalived { child: Some(child), conf: conf.to_path_buf(), dir: dir.to_path_buf(), log: log.to_path_buf() })
    }

    /// The parent's pid (`ip netns exec` execs keepalived, so it is the child's pid).
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// A child's pid from its pid file (`vrrp.pid`, `checkers.pid`) while it is ours and alive.
    fn child_pid(&self, file: &str) -> Option<i32> {
        let pid: i32 = fs::read_to_string(self.dir.join(file)).ok()?.trim().parse().ok()?;
        live_with_arg(pid, &self.conf).then_some(pid)
    }

    /// What this run logged.
    pub fn log(&self) -> String {
        fs::read(&self.log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// True once the log holds `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.log().contains(needle)
    }

    /// True while the parent runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// SIGTERM to the parent (as `systemctl stop`), then waits for all three processes to be
    /// gone; returns how long that took. Err (after SIGKILL for all) past `timeout`.
    pub fn stop(&mut self, timeout: Duration) -> Result<Duration, String> {
        let Some(pid) = self.pid() else { return Err("keepalived is not running".into()) };
        let t0 = Instant::now();
        signal(pid, libc::SIGTERM);
        let deadline = t0 + timeout;
        loop {
            let parent_gone = match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(_))) | None | Some(Err(_)) => true,
                Some(Ok(None)) => false,
            };
            if parent_gone {
                self.child = None;
                if self.child_pid("vrrp.pid").is_none() && self.child_pid("checkers.pid").is_none() {
                    return Ok(t0.elapsed());
                }
            }
            if Instant::now() >= deadline {
                self.kill_all();
                return Err(format!("keepalived did not stop within {timeout:?} of SIGTERM; killed"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL for all three processes (a crash; the cgroup kill of `systemctl kill -s KILL`):
    /// the parent is stopped first so that it cannot respawn a child. Nothing is cleaned up:
    /// the VIP stays on `dpdk0.kni`, the services stay in dpvsd.
    pub fn kill_all(&mut self) {
        let (vrrp, checker) = (self.child_pid("vrrp.pid"), self.child_pid("checkers.pid"));
        if let Some(pid) = self.pid() {
            signal(pid, libc::SIGSTOP);
        }
        for pid in [vrrp, checker].into_iter().flatten() {
            signal(pid, libc::SIGKILL);
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while (self.child_pid("vrrp.pid").is_some() || self.child_pid("checkers.pid").is_some())
            && Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop(Duration::from_secs(10));
        }
        for f in ["vrrp.pid", "checkers.pid"] {
            if let Some(pid) = self.child_pid(f) {
                signal(pid, libc::SIGKILL);
            }
        }
    }
}

/// One LB: its namespace, dpvsd and keepalived. Field order is drop order: keepalived stops
/// first, then dpvsd, then the namespace goes.
#[derive(Debug)]
pub struct LbNode {
    pub keepalived: Option<Keepalived>,
    dpvsd: Option<Proc>,
    pub ns: Netns,
    pub spec: LbSpec,
    pub servers: usize,
    dir: PathBuf,
    socket: PathBuf,
    prefix: String,
    dpvsd_runs: u32,
    keepalived_runs: u32,
}

impl LbNode {
    /// The temp dir of this node (config, socket, state, logs, pid files).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// dpvsd's IPVS socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn dpvsd_log_path(&self) -> PathBuf {
        self.dir.join(format!("dpvsd.{}.log", self.dpvsd_runs))
    }

    /// The current (or last) dpvsd run's log, without colours.
    pub fn dpvsd_log(&self) -> String {
        crate::strip_ansi(&String::from_utf8_lossy(&fs::read(self.dpvsd_log_path()).unwrap_or_default()))
    }

    /// Starts dpvsd in the namespace, waits until its socket accepts connections and both
    /// `.kni` interfaces exist, then puts the node's kernel addresses on them (`ip addr add`,
    /// as an `ExecStartPost=` of dpvsd.service would).
    pub fn start_dpvsd(&mut self) -> Result<(), String> {
        if self.dpvsd.is_some() {
            return Err(format!("{}: dpvsd is already running", self.spec.name));
        }
        let conf = self.dir.join("dpvsd.conf");
        fs::write(&conf, dpvsd_config(&self.spec, &self.dir, &self.prefix)).map_err(|e| e.to_string())?;
        self.dpvsd_runs += 1;
        let bin = dpvsd_bin();
        let argv = [bin.to_str().ok_or("utf-8 path")?, "--config", conf.to_str().ok_or("utf-8 path")?];
        self.dpvsd = Some(self.ns.spawn_logged(&argv, &self.dpvsd_log_path())?);
        let deadline = Instant::now() + DPVSD_START_TIMEOUT;
        loop {
            if !self.dpvsd.as_mut().is_some_and(Proc::running) {
                let how = self.dpvsd.take().map(|mut p| p.stop()).unwrap_or_default();
                return Err(format!("{}: dpvsd exited during startup ({how})", self.spec.name));
            }
            if seqpacket_connect(&self.socket).is_ok() && self.kni_exists("dpdk0.kni") && self.kni_exists("dpdk1.kni") {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!("{}: dpvsd not ready within {DPVSD_START_TIMEOUT:?}", self.spec.name));
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.ns.add_addr("dpdk0.kni", &self.spec.kni_client)?;
        self.ns.add_addr("dpdk1.kni", &self.spec.kni_server)?;
        Ok(())
    }

    /// SIGKILL for dpvsd (a crash), reaped.
    pub fn kill_dpvsd(&mut self) {
        if let Some(mut p) = self.dpvsd.take() {
            signal(p.pid() as i32, libc::SIGKILL);
            p.stop();
        }
    }

    /// SIGTERM for dpvsd; how it ended (`exit status: 0` when clean).
    pub fn stop_dpvsd(&mut self) -> String {
        self.dpvsd.take().map(|mut p| p.stop()).unwrap_or_else(|| "not running".into())
    }

    /// True while dpvsd runs.
    pub fn dpvsd_running(&mut self) -> bool {
        self.dpvsd.as_mut().is_some_and(Proc::running)
    }

    /// True when interface `name` exists in the namespace.
    pub fn kni_exists(&self, name: &str) -> bool {
        self.ns.ip(&["link", "show", "dev", name]).is_ok()
    }

    /// Writes keepalived's configuration and starts it (a new run with its own log).
    pub fn start_keepalived(&mut self) -> Result<(), String> {
        if self.keepalived.is_some() {
            return Err(format!("{}: keepalived is already running", self.spec.name));
        }
        let conf = self.dir.join("keepalived.conf");
        fs::write(&conf, keepalived_config(&self.spec, self.servers)).map_err(|e| e.to_string())?;
        self.keepalived_runs += 1;
        let log = self.dir.join(format!("keepalived.{}.log", self.keepalived_runs));
        self.keepalived = Some(Keepalived::start(&self.ns, &self.socket, &conf, &self.dir, &log)?);
        Ok(())
    }

    /// The current (or last) keepalived run's log.
    pub fn keepalived_log(&self) -> String {
        let log = self.dir.join(format!("keepalived.{}.log", self.keepalived_runs));
        String::from_utf8_lossy(&fs::read(log).unwrap_or_default()).into_owned()
    }

    /// Runs Debian's ipvsadm through the shim against this node's dpvsd (from the test's
    /// namespace: the socket is a file). Err unless it exits 0, or when it hangs.
    pub fn ipvsadm(&self, args: &[&str]) -> Result<String, String> {
        ipvsadm_on(&self.socket, args).map_err(|e| format!("{}: {e}", self.spec.name))
    }

    /// The services (`TCP 10.90.1.100:80`) and their dests (`10.90.2.10:80`) of `ipvsadm -Ln`.
    pub fn table(&self) -> Result<Vec<(String, Vec<String>)>, String> {
        let text = self.ipvsadm(&["-Ln"])?;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            if line.starts_with("  -> ") {
                if let (Some(last), Some(addr)) = (out.last_mut(), w.get(1)) {
                    if *addr != "RemoteAddress:Port" {
                        last.1.push((*addr).to_string());
                    }
                }
            } else if w.len() >= 2 && ["TCP", "UDP", "SCTP", "FWM"].contains(&w[0]) {
                out.push((format!("{} {}", w[0], w[1]), Vec::new()));
            }
        }
        Ok(out)
    }

    /// The dests of the VIP's service, sorted; None when the service does not exist.
    pub fn vip_dests(&self) -> Result<Option<Vec<String>>, String> {
        let key = format!("TCP {VIP}:{PORT}");
        Ok(self.table()?.into_iter().find(|(s, _)| *s == key).map(|(_, mut d)| {
            d.sort();
            d
        }))
    }

    /// Connections of the VIP's service and of each dest (`ipvsadm -Ln --stats --exact`).
    pub fn vip_conns(&self) -> Result<(u64, Vec<(String, u64)>), String> {
        let text = self.ipvsadm(&["-Ln", "--stats", "--exact"])?;
        let key = format!("{VIP}:{PORT}");
        let (mut total, mut dests, mut inside) = (0, Vec::new(), false);
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            if line.starts_with("  -> ") {
                if inside && w.len() == 7 {
                    dests.push((w[1].to_string(), w[2].parse().unwrap_or(0)));
                }
            } else if w.len() == 7 {
                inside = w[1] == key;
                if inside {
                    total = w[2].parse().unwrap_or(0);
                }
            }
        }
        Ok((total, dests))
    }

    /// The IPv4 addresses on interface `ifname` (`10.90.1.100/24`).
    pub fn addrs(&self, ifname: &str) -> Vec<String> {
        self.ns
            .ip(&["-4", "-o", "addr", "show", "dev", ifname])
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter_map(|l| {
                        let w: Vec<&str> = l.split_whitespace().collect();
                        w.iter().position(|x| *x == "inet").and_then(|i| w.get(i + 1)).map(|s| s.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// True while the VIP is on `dpdk0.kni` (keepalived's VRRP holds it).
    pub fn holds_vip(&self) -> bool {
        self.addrs("dpdk0.kni").iter().any(|a| a.starts_with(&format!("{VIP}/")))
    }

    /// dpvsd's counters (`dpip stats show`, drop reasons included), when a dpip binary is
    /// there (`target/debug/dpip`); for reports.
    pub fn dpip_stats(&self) -> String {
        let dpip = crate::bin_dir().join("dpip");
        if !dpip.exists() {
            return "(no dpip binary)".into();
        }
        let mut cmd = Command::new(dpip);
        cmd.arg("--socket").arg(self.dir.join("dpip.sock")).args(["stats", "show"]);
        match run_with_timeout(cmd, None, COMMAND_TIMEOUT) {
            Ok(o) => format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
            Err(e) => e,
        }
    }

    /// The MAC address of the client-side port (`lb-c`; `dpdk0.kni` carries the same).
    pub fn client_side_mac(&self) -> String {
        link_mac(&self.ns, "lb-c")
    }
}

impl Drop for LbNode {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "--- {} dpvsd log (run {}), last lines ---\n{}\n--- {} keepalived log (run {}), last lines ---\n{}\n---",
                self.spec.name,
                self.dpvsd_runs,
                tail(&self.dpvsd_log(), 40),
                self.spec.name,
                self.keepalived_runs,
                tail(&self.keepalived_log(), 40)
            );
        }
        // keepalived before dpvsd (its checker would wait for a dpvsd that is gone)
        drop(self.keepalived.take());
        if let Some(mut p) = self.dpvsd.take() {
            p.stop();
        }
        let _ = fs::remove_dir_all(eal_runtime_dir(&self.prefix));
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The MAC address of `ifname` in `ns` (`ip -o link`), lower case.
pub fn link_mac(ns: &Netns, ifname: &str) -> String {
    ns.ip(&["-o", "link", "show", "dev", ifname])
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let w: Vec<&str> = text.split_whitespace().collect();
            w.iter().position(|x| *x == "link/ether").and_then(|i| w.get(i + 1)).map_or(String::new(), |s| s.to_lowercase())
        })
        .unwrap_or_default()
}

/// A real server: its namespace, address, HTTP server (restartable) and connection log.
#[derive(Debug)]
pub struct HaServer {
    pub http: Option<Proc>,
    pub ns: Netns,
    pub name: String,
    pub addr: Ipv4Addr,
    pub accept_log: PathBuf,
}

impl HaServer {
    /// Starts the HTTP server on [`PORT`] (appending to the accept log) and waits until it
    /// listens.
    pub fn start(&mut self) -> Result<(), String> {
        if self.http.is_some() {
            return Err(format!("{}: already serving", self.name));
        }
        let log = self.accept_log.to_str().ok_or("utf-8 path")?.to_string();
        let mut p = self.ns.spawn(&[python(), "-c", RS_SERVER, &self.name, &PORT.to_string(), &log])?;
        p.wait_for_line("ready", READY_TIMEOUT)?;
        self.http = Some(p);
        Ok(())
    }

    /// Stops the HTTP server (connections are refused from then on).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.http.take() {
            p.stop();
        }
    }

    /// How many connections the server accepted from `peer` so far.
    pub fn accepted_from(&self, peer: Ipv4Addr) -> usize {
        let want = format!("accept {peer} ");
        fs::read_to_string(&self.accept_log).unwrap_or_default().lines().filter(|l| l.starts_with(&want)).count()
    }
}

/// The testbed of the module doc. Field order is drop order.
#[derive(Debug)]
pub struct HaTestbed {
    pub lbs: Vec<LbNode>,
    pub servers: Vec<HaServer>,
    client_loop: Option<Proc>,
    /// A request answered within this many seconds counts as served ([`Sample::ok`]).
    served_within: f64,
    pub client: Netns,
    pub switch: Netns,
    samples: PathBuf,
    dir: TempDir,
}

impl HaTestbed {
    /// Builds the namespaces and links of the module doc for `lbs` LB nodes and `servers`
    /// real servers (not started: see [`HaTestbed::start_servers`], [`LbNode::start_dpvsd`],
    /// [`LbNode::start_keepalived`]).
    pub fn new(lbs: u8, servers: usize) -> Result<HaTestbed, String> {
        for bin in [dpvsd_bin(), shim_lib()] {
            if !bin.exists() {
                return Err(format!(
                    "{} is missing: build it first (`cargo build -p dpvsd -p ipvs-netlink-shim`)",
                    bin.display()
                ));
            }
        }
        let tag = netns::unique_tag();
        let dir = TempDir::new("dpvs-ha-").map_err(|e| e.to_string())?;
        let ns = |base: &str| Netns::with_name(format!("{tag}-{base}"));
        let switch = ns("switch")?;
        let client = ns("client")?;
        let mut tb = HaTestbed {
            lbs: Vec::new(),
            servers: Vec::new(),
            client_loop: None,
            served_within: 0.5,
            client,
            switch,
            samples: dir.path().join("client.samples"),
            dir,
        };
        let sw = &tb.switch;
        sw.add_bridge("brc")?;
        sw.add_bridge("brs")?;
        veth(&tb.client, "cl0", sw, "sw-cl")?;
        sw.set_master("sw-cl", "brc")?;
        tb.client.add_addr("cl0", &format!("{CLIENT}/24"))?;
        tb.client.exec(&["ethtool", "-K", "cl0", "tx", "off"])?;
        for n in 1..=lbs {
            let spec = LbSpec::node(n);
            let lb = ns(&spec.name)?;
            let (c, s) = (format!("sw-{}c", spec.name), format!("sw-{}s", spec.name));
            veth(&lb, "lb-c", sw, &c)?;
            veth(&lb, "lb-s", sw, &s)?;
            sw.set_master(&c, "brc")?;
            sw.set_master(&s, "brs")?;
            // the ports belong to dpvsd: no IPv6 (link-local) addresses there, no forwarding
            for ifname in ["lb-c", "lb-s"] {
                lb.sysctl(&format!("net.ipv6.conf.{ifname}.disable_ipv6"), "1")?;
            }
            lb.sysctl("net.ipv4.ip_forward", "0")?;
            let dir = tb.dir.path().join(&spec.name);
            fs::create_dir_all(dir.join("state")).map_err(|e| e.to_string())?;
            tb.lbs.push(LbNode {
                keepalived: None,
                dpvsd: None,
                socket: dir.join("ipvs.sock"),
                prefix: format!("{tag}-{}", spec.name),
                ns: lb,
                spec,
                servers,
                dir,
                dpvsd_runs: 0,
                keepalived_runs: 0,
            });
        }
        for i in 0..servers {
            let name = format!("rs{i}");
            let rs = ns(&name)?;
            let port = format!("sw-{name}");
            veth(&rs, "eth0", sw, &port)?;
            sw.set_master(&port, "brs")?;
            rs.add_addr("eth0", &format!("{}/24", rs_addr(i)))?;
            rs.exec(&["ethtool", "-K", "eth0", "tx", "off"])?;
            let accept_log = tb.dir.path().join(format!("{name}.accepts"));
            tb.servers.push(HaServer { http: None, ns: rs, name, addr: rs_addr(i), accept_log });
        }
        Ok(tb)
    }

    /// Makes the client-side bridge flood every unicast frame to all its ports (MAC ageing 0,
    /// as a hub, or a switch whose MAC table aged out): each LB sees the frames for the other.
    pub fn flood_client_side(&self) -> Result<(), String> {
        self.switch.ip(&["link", "set", "brc", "type", "bridge", "ageing_time", "0"]).map(drop)
    }

    /// Starts every real server's HTTP server.
    pub fn start_servers(&mut self) -> Result<(), String> {
        self.servers.iter_mut().try_for_each(HaServer::start)
    }

    /// The temp dir of the testbed.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the client's request loop: a new connection to VIP:80 every `interval` (each in
    /// its own thread), each given up after `give_up`; a request answered within
    /// `served_within` counts as served.
    pub fn start_client_loop(&mut self, interval: Duration, served_within: Duration, give_up: Duration) -> Result<(), String> {
        self.served_within = served_within.as_secs_f64();
        let out = self.samples.to_str().ok_or("utf-8 path")?.to_string();
        let mut p = self.client.spawn(&[
            python(),
            "-c",
            CLIENT_LOOP,
            &VIP.to_string(),
            &PORT.to_string(),
            &out,
            &interval.as_secs_f64().to_string(),
            &give_up.as_secs_f64().to_string(),
        ])?;
        p.wait_for_line("ready", READY_TIMEOUT)?;
        self.client_loop = Some(p);
        Ok(())
    }

    /// Stops the client loop.
    pub fn stop_client_loop(&mut self) {
        if let Some(mut p) = self.client_loop.take() {
            p.stop();
        }
    }

    /// What the client loop recorded so far.
    pub fn samples(&self) -> Samples {
        Samples::parse(&fs::read_to_string(&self.samples).unwrap_or_default(), self.served_within)
    }

    /// The client's neighbour entry for the VIP: its MAC (lower case), if any.
    pub fn client_vip_mac(&self) -> Option<String> {
        let out = self.client.ip(&["neigh", "show", &VIP.to_string(), "dev", "cl0"]).ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let w: Vec<&str> = text.split_whitespace().collect();
        w.iter().position(|x| *x == "lladdr").and_then(|i| w.get(i + 1)).map(|s| s.to_lowercase())
    }
}

impl Drop for HaTestbed {
    fn drop(&mut self) {
        if thread::panicking() {
            let s = fs::read_to_string(&self.samples).unwrap_or_default();
            eprintln!("--- client samples, last lines ---\n{}\n---", tail(&s, 30));
        }
        self.stop_client_loop();
    }
}

/// Seconds since the Unix epoch, as the client loop's timestamps.
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// One request of the client loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// When the connection was started and when the request ended (seconds since the epoch).
    pub start: f64,
    pub end: f64,
    /// Served: answered within the `served_within` of [`HaTestbed::start_client_loop`].
    pub ok: bool,
    /// Answered at all (before the client gave up).
    pub answered: bool,
    /// Seconds until the TCP handshake completed; negative when it never did. A second or more
    /// means a packet of the handshake was lost (the client's SYN is retransmitted after 1 s).
    pub connect: f64,
    /// The real server that answered (`rs0`), or the error's name.
    pub server: String,
    /// The address the real server saw the request come from: the LB's sapool address.
    pub peer: String,
    /// The MAC address the client's ARP table had for the VIP when the request started
    /// (lower case; empty when there was no complete entry): which LB the request went to.
    pub mac: String,
}

/// The client loop's record.
#[derive(Debug, Clone, Default)]
pub struct Samples(pub Vec<Sample>);

/// How the service fared after an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    /// Failed requests started after the event, up to the first success after them.
    pub failed: usize,
    /// The first failed request's start, seconds after the event.
    pub first_failure: Option<f64>,
    /// The end of the first successful request after the failures (or, when none failed,
    /// after the event), seconds after the event.
    pub recovered: Option<f64>,
    /// The gap: from the first failed request's start to the end of the first success after
    /// it (0 when nothing failed).
    pub gap: Option<f64>,
    /// The peer of that first success (which LB served it).
    pub recovered_via: Option<String>,
}

impl Samples {
    /// Parses the client loop's lines (in the order the requests ended), sorted by start; a
    /// request answered within `served_within` seconds is [`Sample::ok`].
    pub fn parse(text: &str, served_within: f64) -> Samples {
        let mut v: Vec<Sample> = text
            .lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                if w.len() < 5 {
                    return None;
                }
                let (start, end): (f64, f64) = (w[0].parse().ok()?, w[1].parse().ok()?);
                let answered = w[2] == "ok";
                Some(Sample {
                    start,
                    end,
                    ok: answered && end - start <= served_within,
                    answered,
                    connect: w.get(7).and_then(|c| c.parse().ok()).unwrap_or(-1.0),
                    server: w[3].to_string(),
                    peer: w[4].to_string(),
                    mac: w.get(6).filter(|m| m.contains(':')).map_or(String::new(), |m| m.to_lowercase()),
                })
            })
            .collect();
        v.sort_by(|a, b| a.start.total_cmp(&b.start));
        Samples(v)
    }

    /// Requests started at or after `t`.
    pub fn since(&self, t: f64) -> impl Iterator<Item = &Sample> {
        self.0.iter().filter(move |s| s.start >= t)
    }

    /// Requests started in `[t0, t1)` that the client sent to `mac` (its ARP entry for the VIP
    /// when they started) and that lost a packet: never answered, or a handshake that needed a
    /// retransmission (0.9 s or more; the client's SYN is retransmitted after 1 s). Slowness
    /// alone (a busy machine) does not count.
    pub fn lost_to_between(&self, t0: f64, t1: f64, mac: &str) -> Vec<&Sample> {
        self.since(t0)
            .filter(|s| s.start < t1 && s.mac == mac && (!s.answered || s.connect < 0.0 || s.connect >= 0.9))
            .collect()
    }

    /// The first successful request started at or after `t` and served through `peer`.
    pub fn first_ok_via(&self, t: f64, peer: &str) -> Option<&Sample> {
        self.since(t).find(|s| s.ok && s.peer == peer)
    }

    /// The outage after an event at `t`: the failed requests started after it, up to the
    /// first success that follows them. With `via`, only a success through that peer counts
    /// as the recovery (a failover is over when the other LB serves).
    pub fn outage_after(&self, t: f64, via: Option<&str>) -> Outage {
        let after: Vec<&Sample> = self.since(t).collect();
        let first_fail = after.iter().position(|s| !s.ok);
        let from = first_fail.unwrap_or(0);
        let rec = after[from..].iter().position(|s| s.ok && via.is_none_or(|v| s.peer == v)).map(|i| from + i);
        let failed = match rec {
            Some(r) => after[from..r].iter().filter(|s| !s.ok).count(),
            None => after[from..].iter().filter(|s| !s.ok).count(),
        };
        let first_failure = first_fail.map(|i| after[i].start - t);
        let recovered = rec.map(|i| after[i].end - t);
        let gap = match (first_fail, rec) {
            (Some(f), Some(r)) => Some(after[r].end - after[f].start),
            (None, Some(_)) => Some(0.0),
            _ => None,
        };
        Outage { failed, first_failure, recovered, gap, recovered_via: rec.map(|i| after[i].peer.clone()) }
    }
}

/// Polls `cond` every 50 ms until it holds; Err with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) -> Result<Duration, String> {
    let t0 = Instant::now();
    loop {
        if cond() {
            return Ok(t0.elapsed());
        }
        if t0.elapsed() >= timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// True (after printing why) when the HA test cannot run here: the dataplane testbed's needs
/// (root, iproute2, nft, python3, ethtool, Debian's ipvsadm) and Debian's keepalived.
pub fn skip() -> bool {
    if crate::dataplane::skip() {
        return true;
    }
    if !Path::new(KEEPALIVED).exists() {
        println!("skipped: needs {KEEPALIVED} (Debian package keepalived)");
        return true;
    }
    false
}

/// The real server: HTTP/1.0 (it closes each connection), answers `<name> <peer address>`,
/// and appends `accept <peer> <port>` to the log file for every connection it accepts
/// (health checks included, which connect and close without a request).
pub const RS_SERVER: &str = r#"
import socket, socketserver, sys, http.server
name, port, log = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        body = ("%s %s\n" % (name, self.client_address[0])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128
    def get_request(self):
        s, peer = super().get_request()
        log.write("accept %s %d\n" % peer)
        return s, peer
s = S(("0.0.0.0", port), H)
print("ready", flush=True)
s.serve_forever()
"#;

/// The client loop: argv host port samples-file interval give-up. Every `interval` a new
/// thread opens a new TCP connection, sends `GET /` HTTP/1.0 and reads the whole answer, all
/// within `give-up` seconds; one line per request when it ends: `<start> <end> ok <server>
/// <peer> <local port> <mac> <connect>` or `<start> <end> err <exception> - <local port> <mac>
/// <connect>`, where `<mac>` is the VIP's entry in the client's ARP table (`/proc/net/arp`,
/// complete entries only; `-` if none) when the request started and `<connect>` the seconds
/// the handshake took (-1: it did not complete).
pub const CLIENT_LOOP: &str = r#"
import socket, sys, threading, time
host, port, out, interval, give_up = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
f = open(out, "a", buffering=1)
lock = threading.Lock()
def vip_mac():
    try:
        with open("/proc/net/arp") as a:
            for line in a.readlines()[1:]:
                w = line.split()
                if len(w) >= 4 and w[0] == host and int(w[2], 16) & 2:
                    return w[3]
    except Exception:
        pass
    return "-"
def one(t0, mac):
    lport, tc, s = 0, -1.0, None
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(give_up)
        s.connect((host, port))
        tc = time.time() - t0
        lport = s.getsockname()[1]
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            left = give_up - (time.time() - t0)
            if left <= 0:
                raise TimeoutError()
            s.settimeout(left)
            c = s.recv(4096)
            if not c:
                break
            data += c
        body = data.split(b"\r\n\r\n", 1)[1].decode().split()
        line = "%.3f %.3f ok %s %s %d %s %.3f" % (t0, time.time(), body[0], body[1], lport, mac, tc)
    except Exception as e:
        line = "%.3f %.3f err %s - %d %s %.3f" % (t0, time.time(), type(e).__name__, lport, mac, tc)
    finally:
        if s is not None:
            s.close()
    with lock:
        f.write(line + "\n")
print("ready", flush=True)
due = time.time()
while True:
    threading.Thread(target=one, args=(time.time(), vip_mac()), daemon=True).start()
    due += interval
    pause = due - time.time()
    if pause > 0:
        time.sleep(pause)
    else:
        due = time.time()
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages() {
        let s = Samples::parse(
            "100.0 100.1 ok rs0 10.90.2.3 1 02:00:00:00:00:01 0.001\n\
             100.7 101.2 err TimeoutError - 0 - -1.000\n\
             100.2 101.3 ok rs1 10.90.2.4 2 02:00:00:00:00:0A 1.010\n\
             101.2 101.3 ok rs1 10.90.2.4 3 02:00:00:00:00:0a 0.001\n\
             101.4 101.5 ok rs0 10.90.2.4 4 02:00:00:00:00:0a 0.002\n",
            0.5,
        );
        // sorted by start; answered after 1.1 s is not served
        assert_eq!(s.0.iter().map(|x| x.start).collect::<Vec<_>>(), vec![100.0, 100.2, 100.7, 101.2, 101.4]);
        assert!(s.0[1].answered && !s.0[1].ok);
        let o = s.outage_after(100.15, Some("10.90.2.4"));
        assert_eq!(o.failed, 2);
        assert!((o.gap.unwrap() - 1.1).abs() < 1e-9);
        assert!((o.recovered.unwrap() - 1.15).abs() < 1e-9);
        assert_eq!(o.recovered_via.as_deref(), Some("10.90.2.4"));
        let none = s.outage_after(101.3, None);
        assert_eq!((none.failed, none.gap), (0, Some(0.0)));
        assert!(s.outage_after(102.0, None).recovered.is_none());
        // the 1.01 s handshake lost a packet; the quick ones did not
        assert_eq!(s.lost_to_between(100.0, 102.0, "02:00:00:00:00:0a").len(), 1);
        assert_eq!(s.0[2].mac, "");
        assert!(keepalived_config(&LbSpec::node(2), 2).contains("priority 100"));
    }
}
