//! ipvsadm-compat against Debian's ipvsadm 1.31: the same commands, run by each program against
//! its own fresh dpvsd (ipvsadm through the LD_PRELOAD shim, ipvsadm-compat on dpvsd's socket
//! directly), must print the same stdout and stderr, exit with the same status, and leave the
//! same tables behind (compared at the end of each scenario with Debian's ipvsadm on both
//! dpvsds: `-S -n`, `-L --timeout`, `-L --daemon`).
//!
//! ipvsadm-compat runs with argv[0] `/usr/sbin/ipvsadm` (as Debian's is invoked here), because
//! both programs print their argv[0] in `Try `%s -h'...` and the usage text.
//!
//! The commands come from a generated matrix: every command with every option (the legality
//! table), service and server addresses in IPv4, IPv6 and fwmark forms, every modifier with
//! good and bad values, popt's spellings (bundles, `--opt=value`, attached arguments), listings
//! in every format, and `-R` inputs with comments, blank lines and bad lines.
//!
//! Also here: what only ipvsadm-compat does (DPVS's extensions, the kernel path), checked
//! against fixed expectations.

use std::fmt::Write as _;
use std::process::Output;

use dpvs_e2e::{exit_code, ipvsadm_compat_bin, line_diff, skip, Dpvsd};

/// One command: its words and optional stdin.
#[derive(Debug, Clone)]
struct Cmd {
    args: Vec<String>,
    input: Option<String>,
}

/// Words of a command line: split on whitespace; `''` is an empty word.
fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(|w| if w == "''" { String::new() } else { w.to_string() }).collect()
}

fn cmd(line: &str) -> Cmd {
    Cmd { args: words(line), input: None }
}

fn restore(input: &str) -> Cmd {
    Cmd { args: words("-R"), input: Some(input.to_string()) }
}

#[derive(Debug, Clone)]
struct Scenario {
    name: String,
    cmds: Vec<Cmd>,
}

fn scenario(name: &str, lines: &[&str]) -> Scenario {
    Scenario { name: name.to_string(), cmds: lines.iter().map(|l| cmd(l)).collect() }
}

fn show(out: &Result<Output, String>) -> (String, String, i32) {
    match out {
        Ok(o) => (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            exit_code(&o.status),
        ),
        Err(e) => (String::new(), e.clone(), -999),
    }
}

fn compare(what: &str, a: &Result<Output, String>, b: &Result<Output, String>) -> Option<String> {
    let (ao, ae, ac) = show(a);
    let (bo, be, bc) = show(b);
    if (ao.as_str(), ae.as_str(), ac) == (bo.as_str(), be.as_str(), bc) {
        return None;
    }
    let mut r = format!("{what}\n");
    if ac != bc {
        let _ = writeln!(r, "  exit status: ipvsadm {ac}, ipvsadm-compat {bc}");
    }
    if ao != bo {
        let _ = writeln!(r, "  stdout (- ipvsadm, + ipvsadm-compat):");
        r.push_str(&line_diff(&ao, &bo));
    }
    if ae != be {
        let _ = writeln!(r, "  stderr (- ipvsadm, + ipvsadm-compat):");
        r.push_str(&line_diff(&ae, &be));
    }
    Some(r)
}

/// Runs every scenario on two fresh dpvsds and fails once, listing every difference.
fn differential(scenarios: &[Scenario]) {
    if skip() {
        return;
    }
    assert!(
        ipvsadm_compat_bin().exists(),
        "{} is missing: `cargo build -p ipvsadm-compat`",
        ipvsadm_compat_bin().display()
    );
    let mut failures = Vec::new();
    let mut commands = 0;
    for sc in scenarios {
        let real = Dpvsd::start();
        let compat = Dpvsd::start();
        for (i, c) in sc.cmds.iter().enumerate() {
            commands += 1;
            let a = real.try_ipvsadm(&c.args, c.input.as_deref());
            let b = compat.try_compat(&c.args, c.input.as_deref());
            let what = format!(
                "scenario `{}`, command {}: ipvsadm {:?}{}",
                sc.name,
                i + 1,
                c.args,
                c.input.as_deref().map(|s| format!(" <<< {s:?}")).unwrap_or_default()
            );
            if let Some(r) = compare(&what, &a, &b) {
                failures.push(r);
            }
        }
        for state in [&["-S", "-n"][..], &["-L", "--timeout"], &["-L", "--daemon"]] {
            let a = real.try_ipvsadm(state, None);
            let b = compat.try_ipvsadm(state, None);
            if let Some(r) = compare(&format!("scenario `{}`: resulting table, ipvsadm {state:?}", sc.name), &a, &b) {
                failures.push(r);
            }
        }
    }
    println!("{} scenarios, {commands} commands each way, {} differences", scenarios.len(), failures.len());
    if !failures.is_empty() {
        panic!("{} differences:\n\n{}", failures.len(), failures.join("\n"));
    }
}

/// A populated table: IPv4, IPv6, fwmark (v4 and v6), UDP, SCTP, persistence, flags, dests of
/// every method.
const POPULATE: &[&str] = &[
    "-A -t 192.0.2.1:80 -s rr -p 600 -M 255.255.255.0",
    "-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -m -w 2",
    "-a -t 192.0.2.1:80 -r 198.51.100.11 -g",
    "-a -t 192.0.2.1:80 -r 198.51.100.12 -i -w 0 -x 100 -y 10",
    "-a -t 192.0.2.1:80 -r 198.51.100.13 -i --tun-type gue --tun-port 6080 --tun-remcsum",
    "-a -t 192.0.2.1:80 -r 198.51.100.14 -i --tun-type gre --tun-csum",
    "-A -u 192.0.2.2:53 -s sh -b sh-fallback,sh-port -o",
    "-a -u 192.0.2.2:53 -r 198.51.100.20 -m",
    "-A -u 192.0.2.4:5060 -s rr -p 60 --pe sip",
    "-A --sctp-service 192.0.2.3:9999 -s wlc",
    "-A -t [2001:db8::1]:80 -s rr -p 300 -M 64",
    "-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m",
    "-a -t [2001:db8::1]:80 -r 198.51.100.30 -i",
    "-A -f 7 -s wlc",
    "-a -f 7 -r 198.51.100.20 -g",
    "-A -f 8 -6 -s mh -b mh-port",
    "-a -f 8 -6 -r 2001:db8::20 -g -w 5",
    "-A -t 10.0.0.1:443 -s lc",
    "-A -t 127.0.0.1:80 -s rr",
    "-a -t 127.0.0.1:80 -r 127.0.0.1:8080 -m",
];

fn populated(name: &str, more: &[&str]) -> Scenario {
    let mut lines: Vec<&str> = POPULATE.to_vec();
    lines.extend_from_slice(more);
    scenario(name, &lines)
}

/// Every command with every option (valid argument each): the legality table's messages.
fn legality_matrix() -> Vec<Scenario> {
    let commands = [
        "-A -t 192.0.2.1:80",
        "-E -t 192.0.2.1:80",
        "-D -t 192.0.2.1:80",
        "-C",
        "-L",
        "-a -t 192.0.2.1:80 -r 198.51.100.10",
        "-d -t 192.0.2.1:80 -r 198.51.100.10",
        "-e -t 192.0.2.1:80 -r 198.51.100.10",
        "--set 1 2 3",
        "--start-daemon master --mcast-interface lo",
        "--stop-daemon backup",
        "-R",
        "-S",
        "-Z",
    ];
    let options = [
        "-n",
        "-c",
        "-t 192.0.2.9:80",
        "-s rr",
        "-p 10",
        "-M 255.255.255.0",
        "-r 198.51.100.9",
        "-m",
        "-w 3",
        "-x 10",
        "-y 5",
        "--mcast-interface lo",
        "--timeout",
        "--daemon",
        "--stats",
        "--rate",
        "--thresholds",
        "--persistent-conn",
        "--nosort",
        "--syncid 3",
        "--exact",
        "-o",
        "--pe sip",
        "-b flag-1",
        "--mcast-group 239.1.1.1",
        "--mcast-port 9000",
        "--mcast-ttl 2",
        "--sync-maxlen 1000",
        "--tun-info",
        "--tun-type ipip",
        "--tun-port 1",
        "--tun-nocsum",
        "--tun-csum",
        "--tun-remcsum",
        "--sort",
        "-6",
        "-i",
        "-g",
        "-f 3",
        "-u 192.0.2.9:53",
        "--sctp-service 192.0.2.9:1",
    ];
    let mut out = Vec::new();
    for c in commands {
        let mut lines = vec![format!("{c}")];
        for o in options {
            lines.push(format!("{c} {o}"));
            lines.push(format!("{o} {c}"));
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        out.push(scenario(&format!("legality of {c}"), &refs));
    }
    out
}

/// Services: addresses, ports, schedulers, persistence, masks, engines, flags.
fn service_matrix() -> Vec<Scenario> {
    let addrs = [
        "192.0.2.1:80",
        "192.0.2.1",
        "192.0.2.1:0",
        "192.0.2.1:http",
        "192.0.2.1:domain",
        "192.0.2.1:nosuchservice",
        "192.0.2.1:+81",
        "192.0.2.1:-0",
        "192.0.2.1:65535",
        "192.0.2.1:65536",
        "192.0.2.1:",
        "10.1:82",
        "0x0a000001:83",
        "012.0.0.1:84",
        "167772161:85",
        "localhost:86",
        "nosuchhost.invalid:80",
        "[192.0.2.1]:87",
        "[2001:db8::1]:80",
        "[2001:db8::1]",
        "[2001:db8::1]80",
        "2001:db8::2",
        "[::ffff:192.0.2.1]:88",
        "[::1.2.3.4]:89",
        "[2001:db8:0:0:1:0:0:1]:90",
        "[fe80::1]:91",
        "80",
        "''",
        "192.0.2.300:80",
        "1.2.3.4.5:80",
    ];
    let mut v4 = Vec::new();
    for proto in ["-t", "-u", "--sctp-service", "--tcp-service", "--udp-service"] {
        let mut lines = Vec::new();
        for a in addrs {
            lines.push(format!("-A {proto} {a} -s rr"));
            lines.push(format!("-A {proto} {a} -p"));
        }
        lines.push("-Ln".into());
        lines.push("-L".into());
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        v4.push(scenario(&format!("service addresses {proto}"), &refs));
    }
    let mut sched = Vec::new();
    for s in [
        "rr",
        "wrr",
        "lc",
        "wlc",
        "lblc",
        "lblcr",
        "dh",
        "sh",
        "sed",
        "nq",
        "fo",
        "ovf",
        "mh",
        "twos",
        "none",
        "nosuch",
        "averyveryverylongschedulername",
        "''",
    ] {
        sched.push(format!("-A -t 192.0.2.1:{} -s {s}", 1000 + sched.len()));
    }
    sched.push("-Ln".into());
    sched.push("-Sn".into());
    let sched_refs: Vec<&str> = sched.iter().map(String::as_str).collect();
    v4.push(scenario("schedulers", &sched_refs));

    let mut pers = Vec::new();
    let mut port = 2000;
    for p in [
        "-p",
        "-p 1",
        "-p 0",
        "-p 2678400",
        "-p 2678401",
        "-p abc",
        "-p ''",
        "-p -1",
        "--persistent=60",
        "-p60",
        "-p=70",
        "",
    ] {
        for m in [
            "",
            "-M 255.255.255.0",
            "-M 0.0.0.0",
            "-M 255.255.255.300",
            "-M localhost",
            "-M 10.1",
            "-M 64",
            "-M nosuch",
        ] {
            pers.push(format!("-A -t 192.0.2.1:{port} {p} {m}"));
            port += 1;
        }
    }
    for m in ["-M 64", "-M 0", "-M 129", "-M 128", "-M 1", "-M 64abc", "-M -1", "-M abc"] {
        pers.push(format!("-A -t [2001:db8::5]:{port} -p {m}"));
        pers.push(format!("-A -f {port} -6 -p {m}"));
        pers.push(format!("-A -f {} -p {m} -6", port + 5000));
        port += 1;
    }
    pers.push("-A -M 64 -t [2001:db8::6]:1 -p".into());
    pers.push("-Ln".into());
    pers.push("-Sn".into());
    let pers_refs: Vec<&str> = pers.iter().map(String::as_str).collect();
    v4.push(scenario("persistence and masks", &pers_refs));

    let mut flags = Vec::new();
    let mut port = 3000;
    for s in ["", "-s sh", "-s mh", "-s rr"] {
        for b in [
            "flag-1",
            "flag-2",
            "flag-3",
            "flag-1,flag-2,flag-3",
            "sh-fallback",
            "sh-port",
            "sh-fallback,sh-port",
            "mh-fallback",
            "mh-port",
            "mh-port,mh-fallback",
            "bogus",
            "flag-1,,flag-2",
            "''",
        ] {
            flags.push(format!("-A -u 192.0.2.1:{port} {s} -b {b}"));
            port += 1;
        }
    }
    for extra in
        ["-o", "-o -p", "--ops", "--pe sip", "--pe sip -p", "--pe nosuch -p", "--pe ''", "--pe averyveryverylongpename"]
    {
        flags.push(format!("-A -u 192.0.2.1:{port} -s rr {extra}"));
        flags.push(format!("-A -t 192.0.2.1:{port} -s rr {extra}"));
        flags.push(format!("-A -f {port} -s rr {extra}"));
        port += 1;
    }
    flags.push("-Ln".into());
    flags.push("-Sn".into());
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    v4.push(scenario("scheduler flags, ops, pe", &flag_refs));

    v4.push(scenario(
        "fwmarks",
        &[
            "-A -f 1",
            "-A -f 4294967295 -s rr",
            "-A -f 4294967296",
            "-A -f 0",
            "-A -f -1",
            "-A -f abc",
            "-A -f ' 7'",
            "-A -f +9",
            "-A -f 2 -6",
            "-A -6 -f 3",
            "-A -f 3 -6 -6",
            "-Ln",
            "-Sn",
            "-D -f 2",
            "-D -f 2 -6",
            "-Z -f 1",
            "-Z -f 99",
            "-E -f 1 -s wrr -p",
            "-Ln",
        ],
    ));
    v4.push(scenario(
        "edit and delete services",
        &[
            "-A -t 192.0.2.1:80 -s rr -p 600",
            "-E -t 192.0.2.1:80 -s wrr",
            "-E -t 192.0.2.9:80 -s wrr",
            "-E -t 192.0.2.1:80 -s nosuch",
            "-E -t 192.0.2.1:80",
            "-Ln",
            "-D -t 192.0.2.1:80",
            "-D -t 192.0.2.1:80",
            "-D -u 192.0.2.1:80",
            "-A -t 192.0.2.1:80",
            "-A -t 192.0.2.1:80",
            "--delete-service --tcp-service 192.0.2.1:80",
            "-Ln",
        ],
    ));
    v4
}

/// Real servers: methods, weights, thresholds, tunnels, address families.
fn dest_matrix() -> Vec<Scenario> {
    let mut lines: Vec<String> = vec![
        "-A -t 192.0.2.1:80 -s wrr".into(),
        "-A -t [2001:db8::1]:80 -s wrr".into(),
        "-A -f 7 -s rr".into(),
        "-A -f 8 -6 -s rr".into(),
    ];
    let mut host = 1;
    for svc in ["-t 192.0.2.1:80", "-t [2001:db8::1]:80", "-f 7", "-f 8 -6"] {
        for r in [
            "198.51.100.{h}",
            "198.51.100.{h}:8080",
            "[2001:db8::{h}]:8080",
            "2001:db8::{h}",
            "[2001:db8::{h}]",
            "198.51.100.{h}:http",
            "localhost:{h}",
        ] {
            for m in ["", "-m", "-g", "-i", "--masquerading", "--ipip", "--gatewaying", "-m -g"] {
                let r = r.replace("{h}", &host.to_string());
                lines.push(format!("-a {svc} -r {r} {m}"));
                host += 1;
            }
        }
    }
    for w in ["0", "1", "65535", "65536", "2147483647", "2147483648", "-1", "abc", "''", " 3"] {
        lines.push(format!("-a -t 192.0.2.1:80 -r 198.51.100.{host} -m -w {w}"));
        host += 1;
    }
    for (x, y) in [
        ("100", "50"),
        ("10", "10"),
        ("10", "20"),
        ("", "5"),
        ("2147483647", ""),
        ("2147483648", ""),
        ("abc", ""),
        ("", "-1"),
    ] {
        let x = if x.is_empty() { String::new() } else { format!("-x {x}") };
        let y = if y.is_empty() { String::new() } else { format!("-y {y}") };
        lines.push(format!("-a -t 192.0.2.1:80 -r 198.51.100.{host} -m {x} {y}"));
        host += 1;
    }
    for t in [
        "--tun-type ipip",
        "--tun-type gue",
        "--tun-type gue --tun-port 6080",
        "--tun-type gue --tun-port 6080 --tun-csum",
        "--tun-type gue --tun-port 6080 --tun-nocsum --tun-csum",
        "--tun-type gue --tun-port 0",
        "--tun-type gue --tun-port 65536",
        "--tun-type gre",
        "--tun-type gre --tun-remcsum",
        "--tun-type gre --tun-nocsum",
        "--tun-type ipip --tun-port 5",
        "--tun-type vxlan",
        "--tun-port 5",
        "--tun-csum",
    ] {
        lines.push(format!("-a -t 192.0.2.1:80 -r 198.51.100.{host} -i {t}"));
        lines.push(format!("-a -t 192.0.2.1:80 -r 198.51.100.{host} -m {t}"));
        host += 1;
    }
    for l in [
        "-Ln",
        "-Sn",
        "-Ln --tun-info",
        "-Ln --thresholds",
        "-Ln --persistent-conn",
        "-Ln --nosort",
        "-e -t 192.0.2.1:80 -r 198.51.100.10 -g -w 3",
        "-e -t 192.0.2.1:80 -r 198.51.100.1:9999 -m",
        "-e -t 192.0.2.1:80 -r 198.51.100.250 -m",
        "-e -t 192.0.2.9:80 -r 198.51.100.1 -m",
        "-e -t 192.0.2.1:80 -r 198.51.100.1 -x 1 -y 2",
        "-d -t 192.0.2.1:80 -r 198.51.100.1",
        "-d -t 192.0.2.1:80 -r 198.51.100.1",
        "-d -t 192.0.2.1:80 -r 198.51.100.2:8080",
        "-d -t 192.0.2.9:80 -r 198.51.100.1",
        "-d -f 7 -r 198.51.100.60",
        "-a -t 192.0.2.1:80 -r 0.0.0.0 -m",
        "-a -t 192.0.2.1:80 -r 224.0.0.1 -m",
        "-a -t 192.0.2.1:80 -r 255.255.255.255 -m",
        "-a -t [2001:db8::1]:80 -r [ff02::1]:80 -m",
        "-a -t [2001:db8::1]:80 -r [fe80::1]:80 -m",
        "-a -t 192.0.2.9:80 -r 198.51.100.1 -m",
        "-a -r 198.51.100.1 -t 192.0.2.1:80 -m",
        "-a -t 192.0.2.1:80 -m",
        "-Ln",
        "-Sn",
    ] {
        lines.push(l.into());
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    vec![scenario("real servers", &refs)]
}

/// Listings in every format, popt spellings, -Z, -C, timeouts, daemons.
fn listing_and_misc() -> Vec<Scenario> {
    let formats = [
        "",
        "-Ln",
        "-ln",
        "-L -n",
        "-L",
        "-l",
        "--list --numeric",
        "-Ln --stats",
        "-Ln --stats --exact",
        "-LnX --rate",
        "-Ln --rate",
        "-Ln --thresholds",
        "-Ln --persistent-conn",
        "-Ln --tun-info",
        "-Ln --nosort",
        "-Ln --sort",
        "-L --stats",
        "-Sn",
        "-S",
        "--save -n",
        "-S --numeric",
        "-Lnc",
        "-Lc",
        "-Lnc --persistent-conn",
        "-Ln -t 192.0.2.1:80",
        "-L -n -t 192.0.2.9:80",
        "-Ln -f 7",
        "-Ln -f 8 -6",
        "-Ln -f 8",
        "-Ln -t [2001:db8::1]:80",
        "-Ln -u 192.0.2.2:53 --stats",
        "-Ln --timeout",
        "-L --daemon",
        "-Ln --daemon",
        "-L --timeout --daemon",
        "-L -c --stats",
        "-L --daemon --persistent-conn",
        "-L -c -t 192.0.2.1:80",
        "''",
        "-Lnt",
        "-Lt192.0.2.1:80",
        "-Lnt 192.0.2.1:80",
        "-L -n --tcp-service=192.0.2.1:80",
        "-L -n --tcp-service",
        "-v",
        "--version",
        "-h",
        "--help",
        "-hv",
        "-K",
        "--bogus",
        "-Lq",
        "-L --bogus",
        "-L -n=1",
        "--list=1",
        "-L -- -n",
        "-L - x",
        "-",
        "--",
        "-L --stats --rate",
        "-Ln -6",
        "-L -n -n",
        "-L -s rr",
        "-Ln extra",
        "-Zn",
        "-Z -t 192.0.2.9:80",
        "-Z -t 192.0.2.1:80",
        "-Z",
        "--zero",
        "-Ln --stats",
    ];
    let mut lines: Vec<&str> = POPULATE.to_vec();
    lines.extend_from_slice(&formats);
    let mut out = vec![scenario("listings", &lines)];
    out.push(populated("flush", &["-C", "-Ln", "-C", "--clear", "-Sn"]));
    out.push(scenario(
        "SCTP and UDP services with named ports",
        &[
            "-A --sctp-service 192.0.2.3:9999 -s rr",
            "-a --sctp-service 192.0.2.3:9999 -r 198.51.100.1:http -m",
            "-a --sctp-service 192.0.2.3:9999 -r 198.51.100.2:3868 -m",
            "-A -u 192.0.2.4:domain -s rr",
            "-a -u 192.0.2.4:domain -r 198.51.100.3:ntp -m",
            "-a -u 192.0.2.4:53 -r 198.51.100.4:http -m",
            "-A -u 127.0.0.1:domain -s rr",
            "-a -u 127.0.0.1:53 -r 127.0.0.1:123 -m",
            "-A --sctp-service 127.0.0.1:80 -s rr",
            "-L",
            "-S",
            "-Ln",
            "-Sn",
        ],
    ));
    out.push(scenario(
        "timeouts",
        &[
            "--set 10 20 30",
            "-L --timeout",
            "--set 0 0 0",
            "--set 0 50 0",
            "-L --timeout",
            "--set 2678400 2678400 2678400",
            "--set 2678401 1 1",
            "--set a 1 1",
            "--set 1 2",
            "--set 1 2 3 4",
            "--set",
            "--set -1 2 3",
            "--set=1 2 3",
            "-L --timeout",
        ],
    ));
    out.push(scenario(
        "sync daemons",
        &[
            "--start-daemon master",
            "--start-daemon master --mcast-interface lo --syncid 1",
            "--start-daemon master --mcast-interface lo",
            "--start-daemon backup --mcast-interface lo --syncid 2 --mcast-group ff15::81",
            "-L --daemon",
            "--stop-daemon master",
            "--stop-daemon master",
            "--start-daemon master --mcast-interface lo --syncid 9 --mcast-group 239.1.2.3 --mcast-port 9999 --mcast-ttl 3 --sync-maxlen 1000",
            "-L --daemon",
            "--start-daemon foo",
            "--stop-daemon foo",
            "--start-daemon",
            "--start-daemon master --mcast-interface nosuchif0",
            "--start-daemon master --mcast-group 192.0.2.1",
            "--start-daemon master --mcast-group 2001:db8::1",
            "--start-daemon master --mcast-group 239.1.2.300",
            "--start-daemon master --syncid 256",
            "--start-daemon master --syncid -1",
            "--start-daemon master --mcast-port 0",
            "--start-daemon master --mcast-port 65536",
            "--start-daemon master --mcast-ttl 0",
            "--start-daemon master --mcast-ttl 256",
            "--start-daemon master --sync-maxlen 0",
            "--start-daemon master --sync-maxlen 65508",
            "--start-daemon master --mcast-interface averyveryverylongifname",
            "--stop-daemon backup --syncid 7",
            "-L --daemon",
        ],
    ));
    out
}

/// `-R`: saved output, comments, blank lines, "ipvsadm" prefixes, bad lines, usage errors.
fn restore_matrix() -> Vec<Scenario> {
    let saved = "\
-A -t 192.0.2.1:80 -s rr -p 600 -M 255.255.255.0
-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -m -w 2
-a -t 192.0.2.1:80 -r 198.51.100.12:80 -i -w 0 --tun-type ipip
-A -u 192.0.2.2:53 -s sh -o -b sh-fallback,sh-port
-A -t [2001:db8::1]:80 -s rr -p 300 -M 64
-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m -w 1
-A -f 8 -6 -s rr
";
    let inputs: Vec<&str> = vec![
        saved,
        "-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.10 -m\n-A -t 192.0.2.1:80 -s wlc\n-a -t 192.0.2.1:80 -r 198.51.100.10 -m\n-a -t 192.0.2.1:80 -r 198.51.100.11 -m -w 3\n",
        "-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.10 -m",
        "-A -t 192.0.2.1:80 -s rr\n-D -t 192.0.2.9:80\n",
        "-A -t 192.0.2.1:80 -s rr\n-A -t 192.0.2.2:80 -x 5\n-A -t 192.0.2.3:80 -s rr\n",
        "ipvsadm -A -t 192.0.2.1:80 -s rr\n\nipvsadm -a -t 192.0.2.1:80 -r 198.51.100.10 -m\n--set 10 20 30\n--start-daemon master --mcast-interface lo --syncid 4\n",
        "# a comment line\n-A -t 192.0.2.1:80 -s rr\n",
        "-A -t 192.0.2.1:80 -s rr # trailing comment\n-A -t 192.0.2.2:80 -s rr\n",
        "-A -t 192.0.2.1:80 -s rr\n-A -t 192.0.2.2:80 --bogus\n-A -t 192.0.2.3:80 -s rr\n",
        "-A -t 192.0.2.1:80 -s rr\nbogus line here\n-A -t 192.0.2.3:80 -s rr\n",
        "-A -t 192.0.2.1:80 -s rr\n-R\n-A -t 192.0.2.3:80 -s rr\n",
        "-A -t 192.0.2.1:80 -s rr\r\n\t-A\t-t 192.0.2.2:80   -s  rr  \r\n   \n",
        "-A -t 192.0.2.1:80 -s rr\n-A -t 192.0.2.2:80 -s rr   ",
        "-A -t 192.0.2.1:80 -s rr\n-Ln\n-Sn\n-L --timeout\n-v\n",
        "-A -t 192.0.2.1:80 -s rr\n-h\n-A -t 192.0.2.2:80 -s rr\n",
        "-C\n-A -f 7 -s rr\n-a -f 7 -r 198.51.100.1 -g\n-Z\n-E -f 7 -s nosuch\n",
        "ipvsadm\nipvsadm ipvsadm -A -t 192.0.2.1:80\n",
        "",
        "\n\n\n",
        "-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.1 -m -w 2147483648\n-A -t 192.0.2.5:80\n",
        "-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.1 --fullnat-typo\n-A -t 192.0.2.5:80\n",
    ];
    // Many lines, errors and listings interleaved: messages and listings must keep their order
    // (ipvsadm-compat sends plain commands without waiting for each answer).
    let mut big = String::new();
    for i in 0..400 {
        let _ = writeln!(big, "-A -t 192.0.2.{}:{} -s rr", i % 60, 80 + i % 3);
        let _ = writeln!(big, "-a -t 192.0.2.{}:{} -r 198.51.100.{} -m", i % 70, 80 + i % 3, i % 7 + 1);
        if i % 37 == 0 {
            let _ = writeln!(big, "-Ln -t 192.0.2.1:81");
        }
        if i % 53 == 0 {
            let _ = writeln!(big, "-A --bogus");
        }
        if i % 61 == 0 {
            let _ = writeln!(big, "-Z -t 192.0.2.250:80\n-L --timeout\n-d -t 192.0.2.1:80 -r 198.51.100.99");
        }
    }
    let _ = writeln!(big, "-D -t 192.0.2.250:80");
    // Tokens longer than ipvsadm's 4,096-byte buffer are cut in pieces; \x0b is not a blank.
    let long = format!(
        "-A -t 192.0.2.1:80 -s {}\n-A -t 192.0.2.2:80 -s rr\n{}\n-A -t 192.0.2.3:80\n",
        "x".repeat(5000),
        "y".repeat(9000)
    );
    let odd = "-A\t-t\t192.0.2.5:80\r\n\r\n-A -t 192.0.2.6:80 -s rr ipvsadm\x0b-p\n   ipvsadm   \n-A -t 192.0.2.7:80\r";
    let mut inputs = inputs;
    inputs.push(&big);
    inputs.push(&long);
    inputs.push(odd);
    inputs.push("-A -t 192.0.2.11:80\0junk -s rr\n-A -t 192.0.2.12:80 \0 -s rr\n");
    let mut out = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        out.push(Scenario {
            name: format!("restore input {i}"),
            cmds: vec![restore(input), cmd("-Ln"), cmd("-R -n"), cmd("--restore")],
        });
    }
    out
}

/// popt's spellings: bundles, attached and `=` arguments, optional arguments, `--`.
fn popt_spellings() -> Vec<Scenario> {
    vec![scenario(
        "popt spellings",
        &[
            "-At192.0.2.1:80",
            "-At 192.0.2.2:80 -srr",
            "-A -t=192.0.2.3:80 -s=wrr",
            "--add-service --tcp-service=192.0.2.4:80 --scheduler=sh --sched-flags=sh-port",
            "-A -u192.0.2.5:53 -ops rr",
            "-A -u 192.0.2.6:53 -p -o",
            "-A -u 192.0.2.7:53 -po",
            "-A -t 192.0.2.8:0 -p",
            "-A -t 192.0.2.9:0 -p -s rr",
            "-A -t 192.0.2.10:0 -s rr -p",
            "-A -t 192.0.2.11:80 -p -- -s",
            "-A -t 192.0.2.12:80 -s",
            "-A -t 192.0.2.13:80 -s -p",
            "-A -t 192.0.2.14:80 -ps",
            "-at 192.0.2.1:80 -r198.51.100.1 -mw5",
            "-at 192.0.2.1:80 -r 198.51.100.2 -gx10 -y 5",
            "-a -t 192.0.2.1:80 -r 198.51.100.3 -w",
            "-a -t 192.0.2.1:80 -r 198.51.100.4 --weight=7 --masquerading",
            "-a -t 192.0.2.1:80 -r 198.51.100.5 --masquerading=1",
            "-a -t 192.0.2.1:80 -r 198.51.100.6 -m=",
            "-a -t 192.0.2.1:80 --real-server= -m",
            "-Lnt192.0.2.1:80",
            "-L -nt 192.0.2.1:80",
            "-Ln6",
            "-ZC",
            "-CZ",
            "-Lnn",
            "-nL",
            "-L --numeric --numeric",
            "-L --nosort --nosort",
            "-L --stat",
            "--lis",
            "---L",
            "-L ---n",
            "-L -",
            "-L -- -- -n",
            "--set 1 2 3 --",
            "--set -- 1 2 3",
            "--set 1 -- 2 3",
            "--set 1 2 -3",
            "-L --timeout=",
            "-E -t 192.0.2.1:80 -s rr --pe=sip -p",
            "-Ln",
            "-Sn",
        ],
    )]
}

/// A fixed pseudo-random sample of command lines: a command, then options drawn from a pool
/// of good and bad spellings (xorshift, seeded: the same lines every run).
fn random_lines() -> Vec<Scenario> {
    let commands = [
        "-A",
        "-E",
        "-D",
        "-a",
        "-e",
        "-d",
        "-L",
        "-Z",
        "-S",
        "-C",
        "--set",
        "--start-daemon master",
        "--stop-daemon backup",
        "-l",
    ];
    let pool = [
        "-t 192.0.2.1:80",
        "-t 192.0.2.2",
        "-u 192.0.2.1:53",
        "--sctp-service 192.0.2.3:9",
        "-t [2001:db8::1]:80",
        "-f 7",
        "-f 8",
        "-6",
        "-s rr",
        "-s sh",
        "-s mh",
        "-s nosuch",
        "-p",
        "-p 30",
        "-p 0",
        "-M 255.255.0.0",
        "-M 64",
        "-r 198.51.100.1",
        "-r 198.51.100.2:8080",
        "-r [2001:db8::10]:80",
        "-r 2001:db8::11",
        "-m",
        "-g",
        "-i",
        "-w 0",
        "-w 9",
        "-w x",
        "-x 10",
        "-y 20",
        "-n",
        "-c",
        "--stats",
        "--rate",
        "--thresholds",
        "--persistent-conn",
        "--nosort",
        "--exact",
        "--tun-info",
        "-o",
        "--pe sip",
        "-b sh-port",
        "-b flag-2",
        "--tun-type gre",
        "--tun-type gue",
        "--tun-port 6080",
        "--tun-csum",
        "--tun-nocsum",
        "--mcast-interface lo",
        "--syncid 5",
        "--mcast-group 239.0.0.1",
        "--mcast-port 9000",
        "--mcast-ttl 4",
        "--sync-maxlen 1200",
        "--timeout",
        "--daemon",
        "1",
        "2",
        "3",
        "--bogus",
        "-q",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let mut out = Vec::new();
    for round in 0..4 {
        let mut lines: Vec<String> = POPULATE.iter().map(|s| s.to_string()).collect();
        for _ in 0..150 {
            let mut l = commands[next(commands.len())].to_string();
            for _ in 0..next(6) {
                l.push(' ');
                l.push_str(pool[next(pool.len())]);
            }
            lines.push(l);
        }
        lines.push("-Ln".into());
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        out.push(scenario(&format!("random lines, round {round}"), &refs));
    }
    out
}

#[test]
fn popt_and_random_lines() {
    let mut all = popt_spellings();
    all.extend(random_lines());
    differential(&all);
}

#[test]
fn legality_table() {
    differential(&legality_matrix());
}

#[test]
fn services() {
    differential(&service_matrix());
}

#[test]
fn real_servers() {
    differential(&dest_matrix());
}

#[test]
fn listings_timeouts_daemons() {
    differential(&listing_and_misc());
}

#[test]
fn restore_inputs() {
    differential(&restore_matrix());
}

/// Save from one program, restore with the other, both ways: the tables agree.
#[test]
fn save_restore_across_programs() {
    if skip() {
        return;
    }
    let a = Dpvsd::start();
    for l in POPULATE {
        let out = a.try_ipvsadm(&words(l), None).unwrap();
        assert!(out.status.success(), "{l}: {out:?}");
    }
    let saved_real = a.try_ipvsadm(&["-S", "-n"], None).unwrap();
    let saved_compat = a.try_compat(&["-S", "-n"], None).unwrap();
    assert_eq!(saved_real.stdout, saved_compat.stdout);
    let b = Dpvsd::start();
    let text = String::from_utf8_lossy(&saved_real.stdout).into_owned();
    let r = b.try_compat(&["-R"], Some(&text)).unwrap();
    assert_eq!((exit_code(&r.status), String::from_utf8_lossy(&r.stderr).into_owned()), (0, String::new()));
    assert_eq!(b.try_ipvsadm(&["-S", "-n"], None).unwrap().stdout, saved_real.stdout);
}

fn run_compat(d: &Dpvsd, line: &str) -> (String, String, i32) {
    show(&d.try_compat(&words(line), None))
}

/// DPVS's extensions: full-NAT is stored and listed; what dpvsd lacks is refused, loudly.
#[test]
fn dpvs_extensions() {
    if skip() {
        return;
    }
    let d = Dpvsd::start();
    let ok = (String::new(), String::new(), 0);
    assert_eq!(run_compat(&d, "-A -t 192.0.2.1:80 -s rr"), ok);
    assert_eq!(run_compat(&d, "-a -t 192.0.2.1:80 -r 198.51.100.10:8080 --fullnat -w 3"), ok);
    // Only DR and TUN dests take the service's port: a full-NAT dest keeps its own.
    let (out, _, _) = run_compat(&d, "-Ln");
    assert!(out.contains("  -> 198.51.100.10:8080           FullNat 3      0          0         \n"), "{out}");
    let (saved, _, _) = run_compat(&d, "-S -n");
    assert!(saved.contains("-a -t 192.0.2.1:80 -r 198.51.100.10:8080 --fullnat -w 3\n"), "{saved}");
    // -b keeps upstream's meaning (--sched-flags).
    assert_eq!(run_compat(&d, "-A -t 192.0.2.2:80 -s sh -b sh-port"), ok);
    assert!(run_compat(&d, "-Ln").0.contains("TCP  192.0.2.2:80 sh (sh-port)\n"));
    assert_eq!(
        run_compat(&d, "-a -t 192.0.2.1:80 -r 198.51.100.11 -m --fullnat").1,
        "multiple 'forwarding-method' options specified\n"
    );
    let refused =
        |feature: &str| (String::new(), format!("ipvsadm-compat: {feature}: not supported by this dpvsd\n"), 255);
    assert_eq!(run_compat(&d, "-P -t 192.0.2.1:80 -z 10.0.0.1 -F dpdk0"), refused("add-laddr"));
    assert_eq!(run_compat(&d, "--add-laddr -t 192.0.2.1:80 -z 10.0.0.1"), refused("add-laddr"));
    assert_eq!(run_compat(&d, "--del-laddr -t 192.0.2.1:80 -z 10.0.0.1"), refused("del-laddr"));
    assert_eq!(run_compat(&d, "--get-laddr"), refused("get-laddr"));
    assert_eq!(run_compat(&d, "-G -t 192.0.2.1:80"), refused("get-laddr"));
    assert_eq!(run_compat(&d, "--add-blklst -t 192.0.2.1:80 -k 203.0.113.7"), refused("add-blklst"));
    assert_eq!(run_compat(&d, "--del-blklst -t 192.0.2.1:80 -k 203.0.113.7"), refused("del-blklst"));
    assert_eq!(run_compat(&d, "--get-blklst"), refused("get-blklst"));
    assert_eq!(run_compat(&d, "--add-whtlst -t 192.0.2.1:80 -2 203.0.113.7"), refused("add-whtlst"));
    assert_eq!(run_compat(&d, "--del-whtlst -t 192.0.2.1:80 --whtlst 203.0.113.7"), refused("del-whtlst"));
    assert_eq!(run_compat(&d, "-W"), refused("get-whtlst"));
    assert_eq!(run_compat(&d, "-A -t 192.0.2.3:80 -s rr --synproxy enable"), refused("synproxy"));
    assert_eq!(run_compat(&d, "-E -t 192.0.2.1:80 -s rr -j disable"), refused("synproxy"));
    assert_eq!(
        run_compat(&d, "--add-laddr -t 192.0.2.1:80"),
        (String::new(), "You need to supply the 'laddr' option for the 'add-laddr' command\n".into(), 2)
    );
    assert_eq!(run_compat(&d, "-A -t 192.0.2.3:80 -j maybe").1, "synproxy switch must be enable or disable\n");
    // Nothing was half-applied.
    let (out, _, _) = run_compat(&d, "-Ln");
    assert!(!out.contains("192.0.2.3:80"), "{out}");
    // In -R, a refused extension is reported like a kernel error and the next line runs.
    let r = show(&d.try_compat(&["-R"], Some("--get-laddr\n-A -t 192.0.2.4:80 -s rr\n")));
    assert_eq!(r, (String::new(), "ipvsadm-compat: get-laddr: not supported by this dpvsd\n".into(), 0));
}

/// Without dpvsd's socket, ipvsadm-compat asks the kernel: here without IPVS, so it ends as
/// Debian's ipvsadm does on such a kernel.
#[test]
fn kernel_without_ipvs() {
    if skip() {
        return;
    }
    let dir = dpvs_e2e::TempDir::new("dpvs-compat-").unwrap();
    let absent = dir.path().join("no-such.sock");
    let run = |bin: &std::path::Path, args: &[&str]| {
        let mut c = std::process::Command::new(bin);
        c.args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C")
            .env("DPVSD_IPVS_SOCKET", &absent);
        show(&dpvs_e2e::run_with_timeout(c, None, dpvs_e2e::COMMAND_TIMEOUT))
    };
    let want = (
        String::new(),
        "Can't initialize ipvs: Protocol not available\nAre you sure that IP Virtual Server is built in the kernel or as module?\n"
            .to_string(),
        2,
    );
    for args in [&["-Ln"][..], &["-A", "-t", "192.0.2.1:80"], &["-h"], &[]] {
        assert_eq!(run(&ipvsadm_compat_bin(), args), want, "{args:?}");
        // Debian's ipvsadm, without the shim, on this kernel.
        assert_eq!(run(std::path::Path::new(dpvs_e2e::IPVSADM), args), want, "{args:?}");
    }
}

/// A caller without CAP_NET_ADMIN is refused at GET_INFO, as by the kernel: both programs say
/// so the same way.
#[test]
fn unprivileged_caller() {
    use std::os::unix::fs::PermissionsExt;
    if skip() {
        return;
    }
    let d = Dpvsd::start();
    let bin = d.dir().join("ipvsadm-compat");
    std::fs::copy(ipvsadm_compat_bin(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let nobody = dpvs_e2e::NOBODY.to_string();
    let mut c = std::process::Command::new("/usr/bin/setpriv");
    c.arg(format!("--reuid={nobody}"))
        .arg(format!("--regid={nobody}"))
        .arg("--clear-groups")
        .arg("--")
        .arg(&bin)
        .arg("-Ln")
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .env("DPVSD_IPVS_SOCKET", d.socket());
    dpvs_e2e::offline(&mut c);
    let compat = show(&dpvs_e2e::run_with_timeout(c, None, dpvs_e2e::COMMAND_TIMEOUT));
    let real = d.ipvsadm_as_nobody(&["-Ln"]);
    assert_eq!(compat, show(&Ok(real)));
    assert_eq!(compat.2, 2, "{compat:?}");
}
