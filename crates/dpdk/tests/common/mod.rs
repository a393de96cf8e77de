//! Helpers for the EAL tests: the root check, unique names, a network namespace with a veth
//! pair that is removed on drop, child processes that are killed on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Whether the test can run: root and `ip` present. Prints why not otherwise.
pub fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        eprintln!(
            "SKIPPED {test}: needs root (EAL, AF_PACKET and network namespaces); run as root"
        );
        return false;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("SKIPPED {test}: `ip` (iproute2) not found; scripts/setup.sh installs it");
        return false;
    }
    true
}

/// A name unique to this process, `<stem><pid>`.
pub fn unique(stem: &str) -> String {
    format!("{stem}{}", std::process::id())
}

/// EAL options for a test next to other DPDK processes: no hugepages, no PCI scan, no shared
/// config file, no telemetry socket, a unique runtime-directory prefix.
pub fn eal_args(prefix: &str, extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--no-shconf",
        "--no-telemetry",
        "--log-level",
        "lib.eal:notice",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--file-prefix={prefix}"));
    args.extend(extra.iter().cloned());
    args
}

/// Removes EAL's runtime directory for `prefix` (created even with --no-shconf).
pub struct RuntimeDir(pub String);

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", self.0));
    }
}

fn run(cmd: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .map_err(|e| format!("{}: {e}", cmd.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A network namespace holding one end of a veth pair; the other end stays in the test's
/// namespace. Drop deletes the namespace (and with it the pair).
pub struct VethNetns {
    pub netns: String,
    pub host_if: String,
    pub ns_if: String,
}

impl VethNetns {
    /// Creates `netns` and the pair `host_if` (here) / `ns_if` (in `netns`), both up, with
    /// IPv6 off so the kernel sends no unsolicited packets on them.
    pub fn new(netns: &str, host_if: &str, ns_if: &str) -> Result<VethNetns, String> {
        let _ = run(&["ip", "netns", "del", netns]); // a leftover from a killed run
        run(&["ip", "netns", "add", netns])?;
        let fixture = VethNetns {
            netns: netns.to_owned(),
            host_if: host_if.to_owned(),
            ns_if: ns_if.to_owned(),
        };
        run(&[
            "ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", netns,
        ])?;
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{host_if}/disable_ipv6"),
            "1",
        );
        run(&[
            "ip",
            "netns",
            "exec",
            netns,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
        ])?;
        run(&[
            "ip",
            "netns",
            "exec",
            netns,
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{ns_if}.disable_ipv6=1"),
        ])?;
        run(&["ip", "link", "set", host_if, "up"])?;
        run(&["ip", "-n", netns, "link", "set", ns_if, "up"])?;
        Ok(fixture)
    }

    /// The MAC address of the namespace's end.
    pub fn ns_mac(&self) -> Result<[u8; 6], String> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.netns,
                "cat",
                &format!("/sys/class/net/{}/address", self.ns_if),
            ])
            .output()
            .map_err(|e| e.to_string())?;
        parse_mac(String::from_utf8_lossy(&out.stdout).trim())
    }
}

impl Drop for VethNetns {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.netns]);
        let _ = run(&["ip", "link", "del", &self.host_if]);
    }
}

pub fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return Err(format!("not a MAC address: {text:?}"));
    }
    for (b, p) in mac.iter_mut().zip(parts) {
        *b = u8::from_str_radix(p, 16).map_err(|e| format!("{text:?}: {e}"))?;
    }
    Ok(mac)
}

/// Sends `frame` from the namespace end of `netns`'s veth `count` times, every
/// `interval_s` seconds, from a python3 packet socket (the helper stops it on drop).
pub fn send_frames(netns: &VethNetns, frame: &[u8], count: u32, interval_s: f64) -> Helper {
    const SEND_PY: &str = r#"
import socket, sys, time
iface, frame, count, interval = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
for _ in range(count):
    s.send(frame)
    time.sleep(interval)
"#;
    Helper::spawn(
        Command::new("ip")
            .args(["netns", "exec", &netns.netns, "python3", "-c", SEND_PY, &netns.ns_if])
            .arg(hex(frame))
            .arg(count.to_string())
            .arg(interval_s.to_string()),
    )
    .expect("the frame sender")
}

/// A child process killed and reaped on drop, whose stdout lines arrive on a channel.
pub struct Helper {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Helper {
    pub fn spawn(cmd: &mut Command) -> Result<Helper, String> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let stdout: ChildStdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Helper { child, lines: rx })
    }

    /// The next stdout line, waiting at most `timeout`.
    pub fn line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Waits at most `timeout` for the process to exit; its status code.
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut rest = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut rest);
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
