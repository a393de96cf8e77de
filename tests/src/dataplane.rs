//! dpvsd's DPDK dataplane on the namespace testbed ([`LbTestbed`]): dpvsd runs inside the lb
//! namespace on `net_af_packet` ports attached to `lb-c` and `lb-s`, owns the addresses the
//! kernel had there, and is configured by Debian's `/usr/sbin/ipvsadm` in the caller's
//! namespace through the shim (its IPVS socket is a file, so it crosses namespaces).
//!
//! [`DataplaneTestbed::new`] builds everything and waits until dpvsd forwards:
//!
//! - the lb namespace's kernel gets out of the way: no IPv4 or IPv6 addresses on `lb-c` and
//!   `lb-s` (IPv6 disabled there, so no link-local address either), no forwarding; only dpvsd
//!   answers ARP and neighbour solicitations;
//! - TX checksum offload is off on the veth ends that send towards dpvsd (`cl0` in the
//!   client, `eth0` in every real server): `net_af_packet` hands DPDK such frames with a
//!   partial checksum, which dpvsd forwards as is;
//! - dpvsd's configuration (see [`config_text`]) is written into a temp dir, dpvsd is started
//!   with `ip netns exec <lb> dpvsd --config F` (stderr to `dpvsd.log` in that dir), and the
//!   harness waits for its socket;
//! - the client pings dpvsd's client-side address and every real server pings dpvsd's
//!   server-side address (ICMP echo from a tiny raw-socket pinger, IPv6 too when asked): this
//!   proves that dpvsd answers ARP/ND and echo, and makes dpvsd learn every real server's MAC
//!   address, so that the first connection of a test is not delayed by a resolution (which
//!   would add a retransmission to the exact counters the tests check).
//!
//! Dropping the testbed stops dpvsd by its pid (SIGTERM, then SIGKILL) before the namespaces
//! are deleted; when the test is panicking, the end of dpvsd's log is printed first.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use crate::netns::{
    self, python, LbTestbed, Netns, Proc, LB_CLIENT_IF, LB_CLIENT_SIDE4, LB_CLIENT_SIDE6,
    LB_SERVER_IF, LB_SERVER_SIDE4, LB_SERVER_SIDE6, READY_TIMEOUT, VIP4, VIP6,
};
use crate::{
    bin_dir, dpvsd_bin, ipvsadm_on, run_with_timeout, seqpacket_connect, shim_lib, TempDir, COMMAND_TIMEOUT,
};

/// dpvsd's full-NAT local addresses (`sapool`) on the server side.
pub const LADDR4: Ipv4Addr = Ipv4Addr::new(10, 90, 2, 3);
pub const LADDR6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x90, 2, 0, 0, 0, 0, 3);
/// How long dpvsd may take from its start until its socket accepts connections (the EAL
/// start takes about half a second on this project's VM; more when the machine is busy).
pub const DPVSD_START_TIMEOUT: Duration = Duration::from_secs(20);

/// What a [`DataplaneTestbed`] is built with.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Real servers (`rs0` ...).
    pub servers: usize,
    /// dpvsd's `[dataplane] workers` (af_packet queue pairs = workers).
    pub workers: u16,
    /// `[dataplane] masquerade_fullnat`: `-m` dests are forwarded by full-NAT through the
    /// `sapool` addresses ([`LADDR4`], [`LADDR6`]); false: plain NAT.
    pub fullnat: bool,
    /// Give dpvsd IPv6 addresses too (and ping over IPv6 at start).
    pub ipv6: bool,
    /// More lines for `[dataplane]` (`tunnel = ipip`, ...).
    pub dataplane_extra: Vec<String>,
    /// More addresses of the client-side port (`10.90.1.5/32`).
    pub client_side_extra: Vec<String>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            servers: 2,
            workers: 1,
            fullnat: true,
            ipv6: false,
            dataplane_extra: Vec::new(),
            client_side_extra: Vec::new(),
        }
    }
}

/// dpvsd's configuration file for `setup` (socket and state under `dir`, EAL file prefix
/// `prefix`).
pub fn config_text(setup: &Setup, dir: &std::path::Path, prefix: &str) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "[control]");
    let _ = writeln!(c, "ipvs_socket = \"{}\"", dir.join("ipvs.sock").display());
    let _ = writeln!(c, "state_dir = \"{}\"", dir.join("state").display());
    let level = std::env::var("DPVS_E2E_LOG_LEVEL").unwrap_or_else(|_| "info".into());
    let _ = writeln!(c, "log_level = \"{level}\"");
    let _ = writeln!(c, "\n[dataplane]");
    let _ = writeln!(c, "workers = {}", setup.workers);
    let _ = writeln!(
        c,
        "masquerade_fullnat = {}",
        if setup.fullnat { "yes" } else { "no" }
    );
    let _ = writeln!(c, "idle_sleep_us = 200");
    for l in &setup.dataplane_extra {
        let _ = writeln!(c, "{l}");
    }
    let _ = writeln!(c, "\n[eal]");
    let _ = writeln!(c, "file_prefix = {prefix}");
    let _ = writeln!(c, "memory = 256");
    let _ = writeln!(c, "\n[port.dpdk0]");
    let _ = writeln!(c, "interface = {LB_CLIENT_IF}");
    let _ = writeln!(c, "address = {LB_CLIENT_SIDE4}/24");
    let _ = writeln!(c, "address = {VIP4}/32");
    if setup.ipv6 {
        let _ = writeln!(c, "address = {LB_CLIENT_SIDE6}/64");
        let _ = writeln!(c, "address = {VIP6}/128");
    }
    for a in &setup.client_side_extra {
        let _ = writeln!(c, "address = {a}");
    }
    let _ = writeln!(c, "\n[port.dpdk1]");
    let _ = writeln!(c, "interface = {LB_SERVER_IF}");
    let _ = writeln!(c, "address = {LB_SERVER_SIDE4}/24");
    let _ = writeln!(c, "address = \"{LADDR4}/24 sapool\"");
    if setup.ipv6 {
        let _ = writeln!(c, "address = {LB_SERVER_SIDE6}/64");
        let _ = writeln!(c, "address = \"{LADDR6}/64 sapool\"");
    }
    c
}

/// A testbed with dpvsd forwarding in its lb namespace. Field order is drop order: dpvsd
/// stops before the namespaces go.
#[derive(Debug)]
pub struct DataplaneTestbed {
    dpvsd: Option<Proc>,
    /// Helper processes (servers, decapsulators) stopped before the namespaces go.
    pub procs: Vec<Proc>,
    pub tb: LbTestbed,
    pub setup: Setup,
    socket: PathBuf,
    log: PathBuf,
    runs: u32,
    dir: TempDir,
}

impl DataplaneTestbed {
    /// Builds the testbed, starts dpvsd and waits until it answers on both sides. Panics (with
    /// dpvsd's log) when anything fails.
    pub fn new(setup: Setup) -> DataplaneTestbed {
        for bin in [dpvsd_bin(), shim_lib()] {
            assert!(
                bin.exists(),
                "{} is missing: build it first (`cargo build -p dpvsd -p ipvs-netlink-shim`)",
                bin.display()
            );
        }
        let tb = LbTestbed::new(setup.servers).unwrap_or_else(|e| panic!("testbed: {e}"));
        let dir = TempDir::new("dpvs-dp-").expect("temp dir");
        fs::create_dir(dir.path().join("state")).expect("state dir");
        let socket = dir.path().join("ipvs.sock");
        let log = dir.path().join("dpvsd.log");
        let mut t = DataplaneTestbed {
            dpvsd: None,
            procs: Vec::new(),
            tb,
            setup,
            socket,
            log,
            runs: 0,
            dir,
        };
        if let Err(e) = t.prepare() {
            panic!("preparing the testbed for dpvsd: {e}");
        }
        t.start_dpvsd();
        if let Err(e) = t.warm_up() {
            panic!(
                "dpvsd does not answer on the testbed: {e}\ndpvsd log:\n{}",
                t.log_tail(40)
            );
        }
        t
    }

    fn prepare(&self) -> Result<(), String> {
        let lb = &self.tb.lb;
        for ifname in [LB_CLIENT_IF, LB_SERVER_IF] {
            lb.sysctl(&format!("net.ipv6.conf.{ifname}.disable_ipv6"), "1")?;
        }
        self.tb.flush_lb_addresses()?;
        lb.sysctl("net.ipv4.ip_forward", "0")?;
        lb.sysctl("net.ipv6.conf.all.forwarding", "0")?;
        self.tb
            .client
            .exec(&["ethtool", "-K", "cl0", "tx", "off"])?;
        for rs in &self.tb.servers {
            rs.ns.exec(&["ethtool", "-K", "eth0", "tx", "off"])?;
        }
        Ok(())
    }

    fn write_config(&self) -> PathBuf {
        let conf = self.dir.path().join("dpvsd.conf");
        fs::write(
            &conf,
            config_text(&self.setup, self.dir.path(), self.tb.tag()),
        )
        .expect("write the config");
        conf
    }

    fn start_dpvsd(&mut self) {
        let conf = self.write_config();
        self.runs += 1;
        self.log = self.dir.path().join(format!("dpvsd.{}.log", self.runs));
        let bin = dpvsd_bin();
        let argv = [
            bin.to_str().expect("utf-8 path"),
            "--config",
            conf.to_str().expect("utf-8 path"),
        ];
        let proc = self
            .tb
            .lb
            .spawn_logged(&argv, &self.log)
            .unwrap_or_else(|e| panic!("{e}"));
        self.dpvsd = Some(proc);
        let deadline = Instant::now() + DPVSD_START_TIMEOUT;
        loop {
            if !self.dpvsd.as_mut().is_some_and(Proc::running) {
                let how = self.dpvsd.take().map(|mut p| p.stop()).unwrap_or_default();
                panic!(
                    "dpvsd exited during startup ({how}); log:\n{}",
                    self.log_tail(40)
                );
            }
            if seqpacket_connect(&self.socket).is_ok() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "dpvsd's socket did not accept a connection within {DPVSD_START_TIMEOUT:?}; log:\n{}",
                    self.log_tail(40)
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn warm_up(&self) -> Result<(), String> {
        ping(&self.tb.client, LB_CLIENT_SIDE4.into())?;
        for rs in &self.tb.servers {
            ping(&rs.ns, LB_SERVER_SIDE4.into())?;
        }
        if self.setup.ipv6 {
            ping(&self.tb.client, LB_CLIENT_SIDE6.into())?;
            for rs in &self.tb.servers {
                ping(&rs.ns, LB_SERVER_SIDE6.into())?;
            }
        }
        // the learned neighbours reach the workers with the control thread's next snapshot
        thread::sleep(Duration::from_millis(100));
        Ok(())
    }

    /// Stops dpvsd (it must exit 0 on SIGTERM) and starts it again on the same configuration
    /// and state dir; waits for its socket (not for anything else).
    pub fn restart_dpvsd(&mut self) {
        let how = self.dpvsd.take().map(|mut p| p.stop()).unwrap_or_default();
        assert_eq!(
            how,
            "exit status: 0",
            "dpvsd on SIGTERM; log:\n{}",
            self.log_tail(30)
        );
        self.start_dpvsd();
    }

    /// Rewrites the configuration file for `setup` and sends dpvsd SIGHUP; waits (5 s at
    /// most) until dpvsd logs that the dataplane took it.
    pub fn reload(&mut self, setup: Setup) {
        const DONE: &str = "SIGHUP: dataplane configuration reloaded";
        let before = self.log().matches(DONE).count();
        self.setup = setup;
        self.write_config();
        let pid = self.dpvsd_pid();
        assert!(pid > 0, "dpvsd is not running");
        // SAFETY: kill(2) on the pid of our own unreaped child (held by its Proc).
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGHUP) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.log().matches(DONE).count() == before {
            assert!(
                Instant::now() < deadline,
                "dpvsd did not log `{DONE}` within 5 s:\n{}",
                self.log_tail(20)
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// dpvsd's log (stderr) so far.
    pub fn log(&self) -> String {
        crate::strip_ansi(&String::from_utf8_lossy(
            &fs::read(&self.log).unwrap_or_default(),
        ))
    }

    /// The last `n` lines of dpvsd's log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// dpvsd's pid (0 when it is not running).
    pub fn dpvsd_pid(&self) -> u32 {
        self.dpvsd.as_ref().map_or(0, Proc::pid)
    }

    /// The temp dir holding dpvsd's config, socket, state and log.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// True while dpvsd runs.
    pub fn dpvsd_running(&mut self) -> bool {
        self.dpvsd.as_mut().is_some_and(Proc::running)
    }

    /// Runs Debian's ipvsadm through the shim against this dpvsd; Err (with what it printed)
    /// unless it exits 0, or when it hangs.
    pub fn try_ipvsadm(&self, args: &[&str]) -> Result<String, String> {
        ipvsadm_on(&self.socket, args)
    }

    /// As [`DataplaneTestbed::try_ipvsadm`]; a failure fails the test (with dpvsd's log).
    pub fn ipvsadm(&self, args: &[&str]) -> String {
        self.try_ipvsadm(args)
            .unwrap_or_else(|e| panic!("{e}\ndpvsd log:\n{}", self.log_tail(30)))
    }

    /// `ipvsadm -Ln --stats --exact`, parsed.
    pub fn stats(&self) -> StatsTable {
        StatsTable::parse(&self.ipvsadm(&["-Ln", "--stats", "--exact"]))
    }

    /// `ipvsadm -Lnc`, parsed.
    pub fn conns(&self) -> Vec<ConnEntry> {
        ConnEntry::parse_all(&self.ipvsadm(&["-Lnc"]))
    }

    /// The dests of service `svc` (`10.90.0.100:80`, `[fd00:90::100]:80`) in the order
    /// `ipvsadm -Ln` lists them (the kernel's list order, which round-robin follows).
    pub fn dest_order(&self, svc: &str) -> Vec<String> {
        let text = self.ipvsadm(&["-Ln"]);
        let mut out = Vec::new();
        let mut inside = false;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("  -> ") {
                if inside {
                    if let Some(addr) = rest.split_whitespace().next() {
                        if addr != "RemoteAddress:Port" {
                            out.push(addr.to_string());
                        }
                    }
                }
            } else {
                inside = line.split_whitespace().nth(1) == Some(svc);
            }
        }
        out
    }

    /// The dests of service `svc` as `ipvsadm -Ln` lists them: address -> (forward, weight,
    /// ActiveConn, InActConn).
    pub fn dest_table(&self, svc: &str) -> BTreeMap<String, (String, i64, u64, u64)> {
        let text = self.ipvsadm(&["-Ln"]);
        let mut out = BTreeMap::new();
        let mut inside = false;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("  -> ") {
                let w: Vec<&str> = rest.split_whitespace().collect();
                if inside && w.len() == 5 {
                    if let (Ok(weight), Ok(active), Ok(inact)) =
                        (w[2].parse(), w[3].parse(), w[4].parse())
                    {
                        out.insert(w[0].to_string(), (w[1].to_string(), weight, active, inact));
                    }
                }
            } else {
                inside = line.split_whitespace().nth(1) == Some(svc);
            }
        }
        out
    }

    /// CPU time dpvsd used (user + system, all threads), from `/proc/<pid>/stat`.
    pub fn dpvsd_cpu(&self) -> Duration {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.dpvsd_pid()))
            .expect("dpvsd's /proc stat");
        let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
        let w: Vec<&str> = rest.split_whitespace().collect();
        // fields 14 and 15 (utime, stime) are the 12th and 13th after "pid (comm) "
        let ticks: u64 = w[11].parse::<u64>().unwrap_or(0) + w[12].parse::<u64>().unwrap_or(0);
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis(ticks * 1000 / hz)
    }

    /// Starts an HTTP server on `port` in every real server answering `rs<i> <peer address>`
    /// (the address the server sees its client at; IPv4-mapped addresses as plain IPv4). The
    /// servers are stopped with the testbed.
    pub fn start_http_servers(&mut self, port: u16) {
        for i in 0..self.tb.servers.len() {
            let p = http_server_showing_peer(&self.tb.servers[i].ns, port, &format!("rs{i}"))
                .unwrap_or_else(|e| panic!("{e}"));
            self.procs.push(p);
        }
    }

    /// Starts a UDP echo server on `bind:port` in every real server (`None`: all addresses).
    pub fn start_udp_echo_servers(&mut self, bind: Option<IpAddr>, port: u16) {
        for i in 0..self.tb.servers.len() {
            let p = udp_echo_server_on(&self.tb.servers[i].ns, bind, port)
                .unwrap_or_else(|e| panic!("{e}"));
            self.procs.push(p);
        }
    }

    /// The name (`rs0`, ...) of the real server with address `addr` (as ipvsadm prints it,
    /// `10.90.2.10:80` or `[fd00:90:2::10]:80`).
    pub fn server_name(&self, addr_port: &str) -> String {
        let host = addr_port.rsplit_once(':').map_or(addr_port, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = host
            .parse()
            .unwrap_or_else(|_| panic!("not an address: {addr_port}"));
        self.tb
            .servers
            .iter()
            .position(|rs| IpAddr::V4(rs.addr4) == ip || IpAddr::V6(rs.addr6) == ip)
            .map(|i| format!("rs{i}"))
            .unwrap_or_else(|| panic!("{addr_port} is no real server of the testbed"))
    }

    /// Makes every real server a direct-routing target: the return path
    /// ([`LbTestbed::add_return_path`]) and the VIP on `lo` (the IPv6 one too with
    /// [`Setup::ipv6`]) with `arp_ignore=1`, `arp_announce=2` (the classic LVS-DR real server).
    pub fn make_dr_servers(&self) {
        self.tb
            .add_return_path()
            .unwrap_or_else(|e| panic!("return path: {e}"));
        for rs in &self.tb.servers {
            let ns = &rs.ns;
            for ifname in ["all", "eth0"] {
                ns.sysctl(&format!("net.ipv4.conf.{ifname}.arp_ignore"), "1")
                    .unwrap();
                ns.sysctl(&format!("net.ipv4.conf.{ifname}.arp_announce"), "2")
                    .unwrap();
            }
            ns.add_addr("lo", &format!("{VIP4}/32")).unwrap();
            if self.setup.ipv6 {
                ns.add_addr("lo", &format!("{VIP6}/128")).unwrap();
            }
        }
    }

    /// Makes every real server a tunnel target for `kind` (`ipip`, `gre`, `gue:PORT`, as
    /// dpvsd's `[dataplane] tunnel`; `ipip6`: IPv6 in IPv6, protocol 41, to the server's IPv6
    /// address). This kernel has neither `ipip`, `gre` nor `fou`, so a
    /// userspace decapsulator stands in for the tunnel device: a raw socket for protocol 4
    /// (IPIP) or 47 (GRE), or a UDP socket on the server's address and PORT (GUE), receives
    /// the encapsulated packets addressed to the server and writes the inner packets into a
    /// TUN device `tun0`, where the kernel receives them as from a tunnel device. It prints
    /// one line per packet: `<kind> <outer source> <outer destination> <inner source> <inner
    /// destination>` (`kind` without the port), which the test can read ([`Proc::read_line`]
    /// on `procs[i]` for server `i`: call this before starting other processes). The VIP is
    /// on `lo`; reverse-path filtering is off (the inner source is reached through `eth0`, not
    /// `tun0`); plus the return path ([`LbTestbed::add_return_path`]).
    pub fn make_tun_servers(&mut self, kind: &str) {
        self.tb
            .add_return_path()
            .unwrap_or_else(|e| panic!("return path: {e}"));
        for i in 0..self.tb.servers.len() {
            let ns = &self.tb.servers[i].ns;
            let own = if kind == "ipip6" {
                self.tb.servers[i].addr6.to_string()
            } else {
                self.tb.servers[i].addr4.to_string()
            };
            ns.ip(&["tuntap", "add", "dev", "tun0", "mode", "tun"])
                .unwrap();
            let mut p = ns
                .spawn(&[python(), "-c", TUNNEL_DECAP, "tun0", kind, &own])
                .unwrap();
            p.wait_for_line("ready", READY_TIMEOUT)
                .unwrap_or_else(|e| panic!("{e}"));
            ns.link_up("tun0").unwrap();
            for ifname in ["all", "default", "tun0", "eth0"] {
                ns.sysctl(&format!("net.ipv4.conf.{ifname}.rp_filter"), "0")
                    .unwrap();
            }
            ns.add_addr("lo", &format!("{VIP4}/32")).unwrap();
            if self.setup.ipv6 {
                ns.add_addr("lo", &format!("{VIP6}/128")).unwrap();
            }
            self.procs.push(p);
        }
    }
}

impl Drop for DataplaneTestbed {
    fn drop(&mut self) {
        let how = self.dpvsd.take().map(|mut p| p.stop());
        let panicking = thread::panicking();
        // dpvsd's warnings and errors, for whoever runs with --nocapture
        for l in self
            .log()
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        {
            println!("dpvsd ({}): {l}", self.tb.tag());
        }
        if panicking {
            eprintln!(
                "--- dpvsd ({}) log, last lines ---\n{}\n--- end of dpvsd log ---",
                how.as_deref().unwrap_or("not started"),
                self.log_tail(60)
            );
        }
        for mut p in self.procs.drain(..) {
            p.stop();
        }
        // the EAL's runtime directory (named by our unique file prefix) outlives dpvsd
        let _ = fs::remove_dir_all(eal_runtime_dir(self.tb.tag()));
        // a dpvsd that crashed, or did not end cleanly on SIGTERM, fails the test
        if !panicking {
            if let Some(how) = how {
                assert!(
                    how == "exit status: 0",
                    "dpvsd did not exit cleanly on SIGTERM: {how}; log:\n{}",
                    self.log_tail(40)
                );
            }
        }
    }
}

/// Where DPDK's EAL keeps the runtime files of file prefix `prefix` (as root).
pub fn eal_runtime_dir(prefix: &str) -> PathBuf {
    PathBuf::from("/var/run/dpdk").join(prefix)
}

/// One line of `ipvsadm -Ln --stats --exact`: Conns InPkts OutPkts InBytes OutBytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
}

/// `ipvsadm -Ln --stats --exact` as data: services by `PROTO ADDR:PORT`, each with its dests
/// by `ADDR:PORT`.
#[derive(Debug, Clone, Default)]
pub struct StatsTable {
    pub services: BTreeMap<String, (Counters, BTreeMap<String, Counters>)>,
    pub text: String,
}

impl StatsTable {
    pub fn parse(text: &str) -> StatsTable {
        let mut t = StatsTable {
            text: text.to_string(),
            ..Default::default()
        };
        let mut current: Option<String> = None;
        let nums = |w: &[&str]| -> Option<Counters> {
            let n: Vec<u64> = w.iter().map(|x| x.parse().ok()).collect::<Option<_>>()?;
            (n.len() == 5).then(|| Counters {
                conns: n[0],
                inpkts: n[1],
                outpkts: n[2],
                inbytes: n[3],
                outbytes: n[4],
            })
        };
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            if line.starts_with("  -> ") && w.len() == 7 {
                if let (Some(svc), Some(c)) = (current.as_ref(), nums(&w[2..])) {
                    if let Some(s) = t.services.get_mut(svc) {
                        s.1.insert(w[1].to_string(), c);
                    }
                }
            } else if w.len() == 7 && ["TCP", "UDP", "SCTP", "FWM"].contains(&w[0]) {
                if let Some(c) = nums(&w[2..]) {
                    let key = format!("{} {}", w[0], w[1]);
                    t.services.insert(key.clone(), (c, BTreeMap::new()));
                    current = Some(key);
                }
            }
        }
        t
    }

    /// The counters of service `key` (`TCP 10.90.0.100:80`); panics with the table if absent.
    pub fn service(&self, key: &str) -> Counters {
        self.services
            .get(key)
            .map(|s| s.0)
            .unwrap_or_else(|| panic!("no service `{key}` in:\n{}", self.text))
    }

    /// The counters of dest `dest` of service `key`.
    pub fn dest(&self, key: &str, dest: &str) -> Counters {
        self.services
            .get(key)
            .and_then(|s| s.1.get(dest).copied())
            .unwrap_or_else(|| panic!("no dest `{dest}` of `{key}` in:\n{}", self.text))
    }
}

/// One line of `ipvsadm -Lnc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnEntry {
    pub proto: String,
    /// What the timer has left, seconds (`mm:ss`).
    pub expire_s: u64,
    pub state: String,
    pub source: String,
    pub virt: String,
    pub dest: String,
}

impl ConnEntry {
    pub fn parse_all(text: &str) -> Vec<ConnEntry> {
        text.lines()
            .skip(2)
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                if w.len() != 6 {
                    return None;
                }
                let (m, s) = w[1].split_once(':')?;
                Some(ConnEntry {
                    proto: w[0].into(),
                    expire_s: m.parse::<u64>().ok()? * 60 + s.parse::<u64>().ok()?,
                    state: w[2].into(),
                    source: w[3].into(),
                    virt: w[4].into(),
                    dest: w[5].into(),
                })
            })
            .collect()
    }
}

/// ICMP echo to `addr` from `ns` (a raw-socket pinger: this machine has no `ping`); Err
/// after 20 unanswered tries of 0.3 s.
pub fn ping(ns: &Netns, addr: IpAddr) -> Result<(), String> {
    ping_tries(ns, addr, 20)
}

/// As [`ping`], giving up after `tries` unanswered echo requests (0.3 s each).
pub fn ping_tries(ns: &Netns, addr: IpAddr, tries: u32) -> Result<(), String> {
    ns.exec(&[python(), "-c", PING, &addr.to_string(), &tries.to_string()])
        .map(drop)
}

/// `n` HTTP GETs of `http://host:port/` from `ns`, each on a new connection (closed after the
/// answer), one after the other; the answers' bodies (trimmed), or `ERR <what>` for a request
/// that failed (3 s limit each).
pub fn http_gets(ns: &Netns, host: IpAddr, port: u16, n: usize) -> Vec<String> {
    http_gets_path(ns, host, port, n, "/")
}

/// As [`http_gets`], for `path`: the servers of [`DataplaneTestbed::start_http_servers`]
/// answer `/port` with `<name> <peer address> <peer port>`.
pub fn http_gets_path(ns: &Netns, host: IpAddr, port: u16, n: usize, path: &str) -> Vec<String> {
    http_gets_with(ns, host, port, n, path, false)
}

/// As [`http_gets_path`]; with `server_closes`, every request says `Connection: close`, so
/// the real server closes first and keeps the connection's TIME_WAIT (HTTP/1.0 style).
pub fn http_gets_with(
    ns: &Netns,
    host: IpAddr,
    port: u16,
    n: usize,
    path: &str,
    server_closes: bool,
) -> Vec<String> {
    let mode = if server_closes {
        "server-closes"
    } else {
        "client-closes"
    };
    let out = run_within(
        ns,
        &[
            python(),
            "-c",
            HTTP_GETS,
            &host.to_string(),
            &port.to_string(),
            &n.to_string(),
            path,
            mode,
        ],
        Duration::from_secs(5 + 3 * n as u64),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    out.lines().map(str::to_owned).collect()
}

/// `threads` clients at once in `ns`, each making `per_thread` GETs of `http://host:port/`
/// on new connections; every answer's body (or `ERR <what>`), in no particular order.
pub fn http_gets_parallel(
    ns: &Netns,
    host: IpAddr,
    port: u16,
    threads: usize,
    per_thread: usize,
) -> Vec<String> {
    let out = run_within(
        ns,
        &[
            python(),
            "-c",
            HTTP_GETS_PARALLEL,
            &host.to_string(),
            &port.to_string(),
            &threads.to_string(),
            &per_thread.to_string(),
        ],
        Duration::from_secs(10 + 3 * per_thread as u64),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    out.lines().map(str::to_owned).collect()
}

/// From `ns`: GET `/big/<size>` from `host:port` and POST `size` random bytes to it;
/// Ok when both arrive whole (checked byte for byte, and by SHA-256 on the server), else
/// what went wrong.
pub fn transfer(ns: &Netns, host: IpAddr, port: u16, size: usize) -> Result<(), String> {
    let out = run_within(
        ns,
        &[
            python(),
            "-c",
            TRANSFER,
            &host.to_string(),
            &port.to_string(),
            &size.to_string(),
        ],
        Duration::from_secs(30),
    )?;
    if out == "down ok\nup ok\n" {
        Ok(())
    } else {
        Err(out)
    }
}

/// `n` GETs from `ns` to `host:port`, one after the other, each on a new connection from the
/// same source port `sport`, each closed with a reset (so no TIME_WAIT keeps the port); the
/// bodies or `ERR <what>`.
pub fn same_port_gets(ns: &Netns, host: IpAddr, port: u16, n: usize, sport: u16) -> Vec<String> {
    let out = run_within(
        ns,
        &[
            python(),
            "-c",
            SAME_PORT_GETS,
            &host.to_string(),
            &port.to_string(),
            &n.to_string(),
            &sport.to_string(),
        ],
        Duration::from_secs(5 + 4 * n as u64),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    out.lines().map(str::to_owned).collect()
}

/// One datagram from `ns` to `host:port` on a connected socket: `answered`, `refused` (an
/// ICMP port unreachable came back and reached the socket) or `timeout` (3 s).
pub fn udp_probe(ns: &Netns, host: IpAddr, port: u16) -> String {
    run_within(
        ns,
        &[
            python(),
            "-c",
            UDP_REFUSED,
            &host.to_string(),
            &port.to_string(),
        ],
        Duration::from_secs(10),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .trim()
    .to_string()
}

/// The TCP connections `ns` has opened so far (`ActiveOpens` of `/proc/net/snmp`).
pub fn tcp_active_opens(ns: &Netns) -> u64 {
    let snmp = ns
        .exec_stdout(&["cat", "/proc/net/snmp"])
        .unwrap_or_else(|e| panic!("{e}"));
    let tcp: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Tcp:")).collect();
    let (names, values) = (tcp[0].split_whitespace(), tcp[1].split_whitespace());
    names
        .zip(values)
        .find(|(n, _)| *n == "ActiveOpens")
        .and_then(|(_, v)| v.parse().ok())
        .expect("ActiveOpens in /proc/net/snmp")
}

/// From `ns`, one datagram of `size` bytes to `host:port` from each source port in `ports`
/// (bound explicitly, one after the other, closed after its echo; 2 s each, no retry): the
/// number echoed exactly, and lines about the others.
pub fn udp_flows(
    ns: &Netns,
    host: IpAddr,
    port: u16,
    ports: std::ops::Range<u16>,
    size: usize,
) -> (usize, Vec<String>) {
    let n = ports.len() as u64;
    let out = run_within(
        ns,
        &[
            python(),
            "-c",
            UDP_FLOWS,
            &host.to_string(),
            &port.to_string(),
            &ports.start.to_string(),
            &ports.end.to_string(),
            &size.to_string(),
        ],
        Duration::from_secs(20 + n / 50),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut ok = 0;
    let mut problems = Vec::new();
    for line in out.lines() {
        match line.strip_prefix("ok ") {
            Some(n) => ok = n.parse().unwrap_or(0),
            None => problems.push(line.to_string()),
        }
    }
    (ok, problems)
}

/// What `wrk` reported.
#[derive(Debug, Clone, Default)]
pub struct WrkReport {
    /// Completed requests.
    pub requests: u64,
    /// Its `Socket errors` and `Non-2xx` lines, if any.
    pub errors: Vec<String>,
    pub text: String,
}

/// `wrk -t1 -c<conns> -d<secs>s` against `url` from `ns`: `conns` keep-alive connections
/// sending requests back to back.
pub fn wrk(ns: &Netns, url: &str, conns: u32, secs: u32) -> WrkReport {
    let out = run_within(
        ns,
        &[
            "wrk",
            "-t1",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--timeout",
            "3s",
            url,
        ],
        Duration::from_secs(u64::from(secs) + 15),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut r = WrkReport {
        text: out.clone(),
        ..Default::default()
    };
    for line in out.lines() {
        let l = line.trim();
        if l.starts_with("Socket errors") || l.starts_with("Non-2xx") {
            r.errors.push(l.to_string());
        }
        // "  1234 requests in 1.00s, 123.45KB read"
        if let Some((n, _)) = l.split_once(" requests in ") {
            r.requests = n.trim().parse().unwrap_or(0);
        }
    }
    r
}

/// `threads` UDP clients at once in `ns`, each on its own connected socket sending `per`
/// datagrams of `size` bytes to `host:port` one after the other (2 s for each echo, no
/// retry); the number of exact echoes, and lines about the others.
pub fn udp_parallel(
    ns: &Netns,
    host: IpAddr,
    port: u16,
    threads: usize,
    per: usize,
    size: usize,
) -> (usize, Vec<String>) {
    let out = run_within(
        ns,
        &[
            python(),
            "-c",
            UDP_PARALLEL,
            &host.to_string(),
            &port.to_string(),
            &threads.to_string(),
            &per.to_string(),
            &size.to_string(),
        ],
        Duration::from_secs(10 + 2 * per as u64),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut ok = 0;
    let mut problems = Vec::new();
    for line in out.lines() {
        match line.strip_prefix("ok ") {
            Some(n) => ok = n.parse().unwrap_or(0),
            None => problems.push(line.to_string()),
        }
    }
    (ok, problems)
}

/// What [`udp_exchange`] saw.
#[derive(Debug, Clone, Default)]
pub struct UdpReport {
    /// Datagrams answered with their exact echo.
    pub echoed: usize,
    /// Lines about lost or wrong answers.
    pub problems: Vec<String>,
    /// The client's source ports (one per socket).
    pub ports: Vec<u16>,
}

/// From `ns`, `sockets` connected UDP sockets (all open at once, so their source ports
/// differ) each send `per_socket` datagrams of `size` payload bytes to `host:port`, one at a
/// time, waiting up to 2 s for each echo (no retry: a loss shows). A connected socket only
/// takes answers from `host:port`, so an echo from any other source counts as lost.
pub fn udp_exchange(
    ns: &Netns,
    host: IpAddr,
    port: u16,
    sockets: usize,
    per_socket: usize,
    size: usize,
) -> UdpReport {
    udp_exchange_paced(ns, host, port, sockets, per_socket, size, Duration::ZERO)
}

/// As [`udp_exchange`], pausing `gap` after every echo (to spread traffic over time).
pub fn udp_exchange_paced(
    ns: &Netns,
    host: IpAddr,
    port: u16,
    sockets: usize,
    per_socket: usize,
    size: usize,
    gap: Duration,
) -> UdpReport {
    let total = (sockets * per_socket) as u64;
    let out = run_within(
        ns,
        &[
            python(),
            "-c",
            UDP_EXCHANGE,
            &host.to_string(),
            &port.to_string(),
            &sockets.to_string(),
            &per_socket.to_string(),
            &size.to_string(),
            &gap.as_secs_f64().to_string(),
        ],
        Duration::from_secs(10 + 2 * total) + gap * total as u32,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut r = UdpReport::default();
    for line in out.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["ok", n] => r.echoed = n.parse().unwrap_or(0),
            ["port", p] => r.ports.push(p.parse().unwrap_or(0)),
            _ => r.problems.push(line.to_string()),
        }
    }
    r
}

/// Runs `argv` in `ns` with a time limit of its own; its stdout (Err unless it exits 0).
pub fn run_within(ns: &Netns, argv: &[&str], limit: Duration) -> Result<String, String> {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns.name()]).args(argv);
    let out = run_with_timeout(cmd, None, limit)?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{} in {} failed ({}): stdout {stdout:?} stderr {:?}",
            argv.first().copied().unwrap_or(""),
            ns.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A client in `ns` holding one keep-alive HTTP/1.1 connection to `host:port`: it sends a
/// GET at once and prints `first <body>`, then waits for the file `go` to exist and sends a
/// second GET on the same connection, printing `second <body>` (or fails).
pub fn keepalive_client(
    ns: &Netns,
    host: IpAddr,
    port: u16,
    go: &std::path::Path,
) -> Result<Proc, String> {
    ns.spawn(&[
        python(),
        "-c",
        KEEPALIVE_CLIENT,
        &host.to_string(),
        &port.to_string(),
        go.to_str().ok_or("path")?,
    ])
}

/// The HTTP server of [`DataplaneTestbed::start_http_servers`].
pub fn http_server_showing_peer(ns: &Netns, port: u16, name: &str) -> Result<Proc, String> {
    let mut p = ns.spawn(&[python(), "-c", HTTP_SERVER_PEER, name, &port.to_string()])?;
    p.wait_for_line("ready", READY_TIMEOUT)?;
    Ok(p)
}

/// A UDP echo server in `ns` on `bind:port` (`None`: all addresses, dual-stack). Bound to a
/// VIP, its answers leave from the VIP (direct routing, tunnelling). The datagram `ttl?` is
/// answered `ttl <N>`: the TTL (hop limit) it arrived with.
pub fn udp_echo_server_on(ns: &Netns, bind: Option<IpAddr>, port: u16) -> Result<Proc, String> {
    let host = bind.map_or_else(|| "::".to_string(), |a| a.to_string());
    let mut p = ns.spawn(&[python(), "-c", UDP_ECHO_ON, &host, &port.to_string()])?;
    p.wait_for_line("ready", READY_TIMEOUT)?;
    Ok(p)
}

/// Expected `<name> <peer>` body of [`http_server_showing_peer`].
pub fn body(name: &str, peer: IpAddr) -> String {
    format!("{name} {peer}")
}

/// Checks that `netns::skip` and the ipvsadm requirement hold; prints why not.
pub fn skip() -> bool {
    if netns::skip() || crate::skip() {
        return true;
    }
    for tool in ["/usr/sbin/ethtool", "/sbin/ethtool"] {
        if std::path::Path::new(tool).exists() {
            return false;
        }
    }
    println!("skipped: needs ethtool (Debian package ethtool; scripts/setup.sh installs it)");
    true
}

const PING: &str = r#"
import os, socket, struct, sys, time
host, tries = sys.argv[1], int(sys.argv[2])
v6 = ":" in host
if v6:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xffff
def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff)
    t += t >> 16
    return ~t & 0xffff
for seq in range(tries):
    pkt = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, ident, seq) + b"dpvs-e2e"
    if not v6:
        pkt = pkt[:2] + struct.pack("!H", csum(pkt)) + pkt[4:]
    s.sendto(pkt, (host, 0))
    end = time.time() + 0.3
    while True:
        left = end - time.time()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data = s.recv(2048)
        except socket.timeout:
            break
        if not v6:
            data = data[(data[0] & 15) * 4:]
        if len(data) >= 8 and data[0] == (129 if v6 else 0) and struct.unpack("!H", data[4:6])[0] == ident:
            print("reply", seq)
            sys.exit(0)
sys.exit("no echo reply from " + host)
"#;

const HTTP_GETS: &str = r#"
import http.client, sys
host, port, n, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
headers = {"Connection": "close"} if sys.argv[5] == "server-closes" else {}
for i in range(n):
    try:
        c = http.client.HTTPConnection(host, port, timeout=3)
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        print(r.read().decode().strip(), flush=True)
        c.close()
    except Exception as e:
        print("ERR", repr(e), flush=True)
"#;

const HTTP_GETS_PARALLEL: &str = r#"
import http.client, sys, threading
host, port, threads, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
out, lock = [], threading.Lock()
def run():
    for i in range(per):
        try:
            c = http.client.HTTPConnection(host, port, timeout=3)
            c.request("GET", "/")
            b = c.getresponse().read().decode().strip()
            c.close()
        except Exception as e:
            b = "ERR " + repr(e)
        with lock:
            out.append(b)
ts = [threading.Thread(target=run) for _ in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("\n".join(out), flush=True)
"#;

const TRANSFER: &str = r#"
import hashlib, http.client, os, sys
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
PATTERN = bytes(range(251))
c = http.client.HTTPConnection(host, port, timeout=10)
c.request("GET", "/big/%d" % size)
data = c.getresponse().read()
want = (PATTERN * (size // len(PATTERN) + 1))[:size]
print("down", "ok" if data == want else "bad length %d" % len(data), flush=True)
c.close()
up = os.urandom(size)
c = http.client.HTTPConnection(host, port, timeout=10)
c.request("POST", "/", body=up)
answer = c.getresponse().read().decode().split()
print("up", "ok" if answer[1:] == [str(size), hashlib.sha256(up).hexdigest()] else "bad %r" % answer, flush=True)
"#;

const SAME_PORT_GETS: &str = r#"
import http.client, socket, struct, sys
host, port, n, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
for i in range(n):
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("", sport))
        s.settimeout(3)
        s.connect((host, port))
        c = http.client.HTTPConnection(host, port, timeout=3)
        c.sock = s
        c.request("GET", "/")
        print(c.getresponse().read().decode().strip(), flush=True)
        # close with a reset: no TIME_WAIT here, the port can be used again at once
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except Exception as e:
        print("ERR", repr(e), flush=True)
"#;

const UDP_REFUSED: &str = r#"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.connect((host, port))
s.settimeout(3)
s.send(b"anyone?")
try:
    s.recv(100)
    print("answered")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
"#;

const UDP_PARALLEL: &str = r#"
import socket, sys, threading
host, port, threads, per, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
ok, lock, problems = [0], threading.Lock(), []
def run(k):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.settimeout(2)
    for i in range(per):
        msg = ("%d-%d-" % (k, i)).encode()
        msg = msg + b"y" * (size - len(msg))
        s.send(msg)
        try:
            data = s.recv(65535)
        except socket.timeout:
            with lock:
                problems.append("lost thread %d datagram %d" % (k, i))
            continue
        with lock:
            if data == msg:
                ok[0] += 1
            else:
                problems.append("wrong echo thread %d datagram %d" % (k, i))
ts = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
for p in problems:
    print(p)
print("ok", ok[0], flush=True)
"#;

const UDP_FLOWS: &str = r#"
import socket, sys
host, port, first, end, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
ok = 0
for p in range(first, end):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", p))
    s.connect((host, port))
    s.settimeout(2)
    msg = ("%d-" % p).encode()
    msg = msg + b"z" * (size - len(msg))
    s.send(msg)
    try:
        if s.recv(65535) == msg:
            ok += 1
        else:
            print("wrong echo from port", p, flush=True)
    except socket.timeout:
        print("lost from port", p, flush=True)
    s.close()
print("ok", ok, flush=True)
"#;

const KEEPALIVE_CLIENT: &str = r#"
import http.client, os, sys, time
host, port, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection(host, port, timeout=3)
def get():
    c.request("GET", "/")
    return c.getresponse().read().decode().strip()
print("first", get(), flush=True)
end = time.time() + 30
while not os.path.exists(go):
    if time.time() > end:
        sys.exit("no go")
    time.sleep(0.02)
print("second", get(), flush=True)
"#;

const UDP_EXCHANGE: &str = r#"
import socket, sys, time
host, port, nsock, per, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
gap = float(sys.argv[6])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
socks = []
ok = 0
for k in range(nsock):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((host, port))
    s.settimeout(2)
    socks.append(s)
    for i in range(per):
        msg = ("%d-%d-" % (k, i)).encode()
        msg = msg + b"x" * (size - len(msg))
        s.send(msg)
        try:
            data = s.recv(65535)
        except socket.timeout:
            print("lost socket %d datagram %d" % (k, i), flush=True)
            continue
        if data != msg:
            print("wrong echo socket %d datagram %d: %r" % (k, i, data[:40]), flush=True)
        else:
            ok += 1
        if gap:
            time.sleep(gap)
    print("port", s.getsockname()[1], flush=True)
print("ok", ok, flush=True)
"#;

const HTTP_SERVER_PEER: &str = r#"
import hashlib, socket, socketserver, sys, http.server
name, port = sys.argv[1], int(sys.argv[2])
PATTERN = bytes(range(251))
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        peer = self.client_address[0]
        if peer.startswith("::ffff:"):
            peer = peer[7:]
        if self.path == "/port":
            peer = "%s %d" % (peer, self.client_address[1])
        body = ("%s %s\n" % (name, peer)).encode()
        if self.path.startswith("/big/"):
            n = int(self.path[5:])
            body = (PATTERN * (n // len(PATTERN) + 1))[:n]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        data = self.rfile.read(int(self.headers["Content-Length"]))
        body = ("%s %d %s\n" % (name, len(data), hashlib.sha256(data).hexdigest())).encode()
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

const UDP_ECHO_ON: &str = r#"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
if ":" in host:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((host, port))
# Linux: IP_RECVTTL 12 (cmsg IP_TTL 2), IPV6_RECVHOPLIMIT 51 (cmsg IPV6_HOPLIMIT 52)
s.setsockopt(socket.IPPROTO_IP, 12, 1)
if s.family == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, 51, 1)
print("ready", flush=True)
while True:
    data, anc, flags, peer = s.recvmsg(65535, 256)
    if data == b"ttl?":
        ttl = None
        for level, kind, cdata in anc:
            if (level, kind) in ((socket.IPPROTO_IP, 2), (socket.IPPROTO_IPV6, 52)):
                ttl = int.from_bytes(cdata[:4], sys.byteorder)
        data = ("ttl %s" % ttl).encode()
    s.sendto(data, peer)
"#;

/// The decapsulator of [`DataplaneTestbed::make_tun_servers`]: argv tun device, kind, the
/// server's own address.
const TUNNEL_DECAP: &str = r#"
import fcntl, os, socket, struct, sys
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454ca, 0x0001, 0x1000
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", sys.argv[1].encode(), IFF_TUN | IFF_NO_PI))
kind, own = sys.argv[2], sys.argv[3]
if kind.startswith("gue:"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((own, int(kind[4:])))
    kind = "gue"
elif kind == "ipip6":
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 41)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, {"ipip": 4, "gre": 47}[kind])
print("ready", flush=True)
while True:
    if kind == "gue":
        data, peer = s.recvfrom(65535)
        outer_src = peer[0]
        if data[0] >> 6 == 1:
            inner = data
        else:
            if data[1] != 4:
                print("gue: proto_ctype %d" % data[1], flush=True)
                continue
            inner = data[4 + (data[0] & 0x1f) * 4:]
    elif kind == "ipip6":
        # a raw IPv6 socket gets the payload only: here the inner IPv6 packet
        inner, peer = s.recvfrom(65535)
        if len(inner) < 40 or inner[0] >> 4 != 6:
            print("ipip6: not an IPv6 packet inside", flush=True)
            continue
        print(kind, peer[0], own, socket.inet_ntop(socket.AF_INET6, inner[8:24]),
              socket.inet_ntop(socket.AF_INET6, inner[24:40]), flush=True)
        os.write(fd, inner)
        continue
    else:
        pkt = s.recv(65535)
        ihl = (pkt[0] & 15) * 4
        outer_src = socket.inet_ntoa(pkt[12:16])
        rest = pkt[ihl:]
        if kind == "gre":
            flags, proto = struct.unpack("!HH", rest[:4])
            if proto != 0x0800:
                print("gre: protocol type %#x" % proto, flush=True)
                continue
            off = 4 + 4 * sum(1 for bit in (0x8000, 0x2000, 0x1000) if flags & bit)
            inner = rest[off:]
        else:
            inner = rest
    if len(inner) < 20 or inner[0] >> 4 != 4:
        print("%s: not an IPv4 packet inside" % kind, flush=True)
        continue
    print(kind, outer_src, own, socket.inet_ntoa(inner[12:16]), socket.inet_ntoa(inner[16:20]), flush=True)
    os.write(fd, inner)
"#;

/// `target/debug/dpip` (or `DPVS_BIN_DIR`'s).
pub fn dpip_bin() -> PathBuf {
    bin_dir().join("dpip")
}

/// dpvsd's dpip socket: it logs where it serves dpip (beside its IPVS socket by default).
pub fn dpip_socket(t: &DataplaneTestbed) -> PathBuf {
    let log = t.log();
    let at = log.find("serving dpip socket=").unwrap_or_else(|| panic!("dpvsd does not say where dpip is served:\n{log}"));
    let rest = &log[at + "serving dpip socket=".len()..];
    PathBuf::from(rest.split_whitespace().next().expect("a path"))
}

/// The dpip CLI against a testbed's dpvsd.
#[derive(Debug)]
pub struct Dpip {
    pub socket: PathBuf,
}

impl Dpip {
    pub fn for_testbed(t: &DataplaneTestbed) -> Dpip {
        assert!(dpip_bin().exists(), "build dpip first (`cargo build -p dpip`)");
        Dpip { socket: dpip_socket(t) }
    }

    pub fn run(&self, args: &str) -> Output {
        self.run_as(&[], args)
    }

    /// `dpip ARGS` run by `wrapper` (`setpriv ...`) when not empty.
    pub fn run_as(&self, wrapper: &[&str], args: &str) -> Output {
        let mut cmd = match wrapper.split_first() {
            None => Command::new(dpip_bin()),
            Some((w, rest)) => {
                let mut c = Command::new(w);
                c.args(rest).arg(dpip_bin());
                c
            }
        };
        cmd.args(args.split_whitespace()).env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").env("DPIP_SOCKET", &self.socket);
        run_with_timeout(cmd, None, COMMAND_TIMEOUT).unwrap_or_else(|e| panic!("dpip {args}: {e}"))
    }

    /// `dpip ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &str) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "dpip {args} failed ({}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8(o.stdout).expect("utf-8")
    }

    /// `dpip ARGS`, which must fail with `status` and print exactly `msg` on stderr.
    pub fn fails(&self, args: &str, status: i32, msg: &str) {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(status), "dpip {args}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(String::from_utf8_lossy(&o.stderr), format!("dpip: {msg}\n"), "dpip {args}");
        assert!(o.stdout.is_empty(), "dpip {args} printed {:?}", String::from_utf8_lossy(&o.stdout));
    }
}
