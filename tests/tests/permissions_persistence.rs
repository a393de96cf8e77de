//! The kernel's permission rule, dpvsd's persistence across restarts, and a corrupt state file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use dpvs_e2e::text::{self, *};
use dpvs_e2e::{check_step, skip, Dpvsd, RawInfoAnswer, Step, NOBODY};

/// (exit status, stdout, stderr) of a run.
fn result(out: &Output) -> (i32, String, String) {
    (
        dpvs_e2e::exit_code(&out.status),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs ipvsadm as root and asserts stdout, stderr and status exactly.
fn expect(d: &Dpvsd, args: &str, stdout: &str, stderr: &str, status: i32) {
    let argv: Vec<&str> = args.split_whitespace().collect();
    let out = d.ipvsadm(&argv);
    let step = Step {
        args: args.to_string(),
        input: None,
        stdout: stdout.to_string(),
        stderr: stderr.to_string(),
        status,
    };
    if let Some(report) = check_step(&step, &out) {
        panic!("ipvsadm {args}\n{report}\ndpvsd stderr:\n{}", d.stderr_log());
    }
}

/// Runs ipvsadm as root; it must succeed silently.
fn ok(d: &Dpvsd, args: &str) {
    expect(d, args, "", "", 0);
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                todo.push(path);
            } else if meta.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// ipvs_init fails on GET_INFO with EPERM; ipvs_strerror has {0, EPERM, "Permission denied
/// (you must be root)"} and main() prints it with fail(2, "Can't initialize ipvs: %s\n...").
/// (main first tries /sbin/modprobe, which is absent here; if a modprobe exists it may add its
/// own complaint before ipvsadm's message.)
fn assert_refused(out: &Output, what: &str) {
    let expected = text::init_failure("Permission denied (you must be root)");
    let (status, stdout, stderr) = result(out);
    let stderr_ok = if Path::new("/sbin/modprobe").exists() {
        stderr.ends_with(&expected)
    } else {
        stderr == expected
    };
    assert!(
        status == 2 && stdout.is_empty() && stderr_ok,
        "{what} as nobody: expected status 2, no stdout, stderr {expected:?};\n\
         got status {status}, stdout {stdout:?}, stderr {stderr:?}"
    );
}

#[test]
fn non_root_is_refused_like_the_kernel_refuses() {
    if skip() {
        return;
    }
    let d = Dpvsd::start();
    ok(&d, "-A -t 192.0.2.1:80 -s rr");
    let before = listing(&["TCP  192.0.2.1:80 rr"]);
    assert_refused(&d.ipvsadm_as_nobody(&["-Ln"]), "ipvsadm -Ln");
    assert_refused(&d.ipvsadm_as_nobody(&["-A", "-t", "192.0.2.9:80", "-s", "rr"]), "ipvsadm -A");
    assert_refused(&d.ipvsadm_as_nobody(&["-D", "-t", "192.0.2.1:80"]), "ipvsadm -D");
    assert_refused(&d.ipvsadm_as_nobody(&["-C"]), "ipvsadm -C");
    assert_refused(&d.ipvsadm_as_nobody(&["-v"]), "ipvsadm -v");
    // The same exchange without ipvsadm and the shim: GETFAMILY is answered (nlctrl has no
    // admin flag), GET_INFO is refused with EPERM (GENL_ADMIN_PERM).
    assert_eq!(d.raw_get_info_as(NOBODY, NOBODY), RawInfoAnswer::Eperm);
    // ... while root gets an answer.
    assert_eq!(d.raw_get_info_as(0, 0), RawInfoAnswer::Answered);
    // Nothing changed, and root still gets answers.
    expect(&d, "-Ln", &before, "", 0);
}

/// Outputs that must be identical before and after a restart.
const CHECKS: &[&str] = &[
    "-Ln",
    "-Ln --thresholds",
    "-Ln --persistent-conn",
    "-Ln --tun-info",
    "-S -n",
    "-L --timeout",
    "-L --daemon",
];

fn snapshot(d: &Dpvsd) -> Vec<(String, (i32, String, String))> {
    CHECKS
        .iter()
        .map(|c| {
            let argv: Vec<&str> = c.split_whitespace().collect();
            (c.to_string(), result(&d.ipvsadm(&argv)))
        })
        .collect()
}

fn assert_same(before: &[(String, (i32, String, String))], after: &[(String, (i32, String, String))]) {
    for ((cmd, b), (_, a)) in before.iter().zip(after) {
        assert!(
            a == b,
            "ipvsadm {cmd} differs after the restart:\n{}{}",
            dpvs_e2e::line_diff(&b.1, &a.1),
            dpvs_e2e::line_diff(&b.2, &a.2)
        );
    }
}

fn persisted_setup(d: &Dpvsd) {
    for cmd in [
        "-A -t 192.0.2.1:80 -s rr -p 600 -M 255.255.255.0",
        "-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -m -w 2 -x 100 -y 10",
        "-a -t 192.0.2.1:80 -r 198.51.100.11 -g -w 0",
        "-a -t 192.0.2.1:80 -r 198.51.100.12 -i --tun-type gue --tun-port 6080 --tun-csum",
        "-A -u 192.0.2.2:53 -s sh -b sh-fallback,sh-port -o",
        "-A -u 192.0.2.4:5060 -s rr -p 60 --pe sip",
        "-A --sctp-service 192.0.2.3:9999 -s mh -b mh-port",
        "-A -t [2001:db8::1]:80 -s wlc -p 300 -M 64",
        "-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m -w 7",
        "-A -f 7 -s none",
        "-a -f 7 -r 198.51.100.20 -g",
        "-A -f 8 -6 -s twos",
        "--set 10 20 30",
        "--start-daemon master --mcast-interface lo --syncid 3",
        "--start-daemon backup --mcast-interface lo --syncid 4 --mcast-group 239.1.1.1 --mcast-port 9000 --mcast-ttl 2 --sync-maxlen 1400",
    ] {
        ok(d, cmd);
    }
}

fn persisted_listing() -> String {
    listing(&[
        "TCP  192.0.2.1:80 rr persistent 600 mask 255.255.255.0".to_string(),
        dest("198.51.100.10:8080", "Masq", 2),
        dest("198.51.100.11:80", "Route", 0),
        dest("198.51.100.12:80", "Tunnel", 1),
        "UDP  192.0.2.2:53 sh (sh-fallback,sh-port) ops".to_string(),
        "UDP  192.0.2.4:5060 rr persistent 60 pe sip".to_string(),
        "SCTP 192.0.2.3:9999 mh (mh-port)".to_string(),
        "TCP  [2001:db8::1]:80 wlc persistent 300 mask 64".to_string(),
        dest("[2001:db8::10]:80", "Masq", 7),
        "FWM  7 none".to_string(),
        dest("198.51.100.20:0", "Route", 1),
        "FWM  8 IPv6 twos".to_string(),
    ])
}

fn persisted_daemons() -> String {
    format!(
        "{}{}",
        daemon("master", "lo", 3, 1472, "224.0.0.81", 8848, 1),
        daemon("backup", "lo", 4, 1400, "239.1.1.1", 9000, 2)
    )
}

#[test]
fn state_survives_restart() {
    if skip() {
        return;
    }
    let mut d = Dpvsd::start();
    persisted_setup(&d);
    expect(&d, "-Ln", &persisted_listing(), "", 0);
    expect(&d, "-L --timeout", &timeouts(10, 20, 30), "", 0);
    expect(&d, "-L --daemon", &persisted_daemons(), "", 0);
    let before = snapshot(&d);

    d.restart();
    assert_same(&before, &snapshot(&d));
    expect(&d, "-Ln", &persisted_listing(), "", 0);

    // Changes after a restart are persisted too: deletions, daemon stops, timeouts.
    ok(&d, "-D -u 192.0.2.4:5060");
    ok(&d, "-d -t 192.0.2.1:80 -r 198.51.100.10:8080");
    ok(&d, "--stop-daemon backup");
    ok(&d, "--set 0 0 40");
    let before = snapshot(&d);
    d.restart();
    assert_same(&before, &snapshot(&d));
    expect(&d, "-L --timeout", &timeouts(10, 20, 40), "", 0);
    expect(
        &d,
        "-L --daemon",
        &daemon("master", "lo", 3, 1472, "224.0.0.81", 8848, 1),
        "",
        0,
    );

    // A flushed table stays empty.
    ok(&d, "-C");
    d.restart();
    expect(&d, "-Ln", &listing::<&str>(&[]), "", 0);
    expect(&d, "-L --timeout", &timeouts(10, 20, 40), "", 0);
}

/// The state is written when it changes (atomically), not only at a clean shutdown: a dpvsd
/// killed with SIGKILL comes back with everything acknowledged before the kill.
#[test]
fn state_survives_sigkill() {
    if skip() {
        return;
    }
    let mut d = Dpvsd::start();
    persisted_setup(&d);
    let before = snapshot(&d);
    d.kill();
    d.start_again();
    assert_same(&before, &snapshot(&d));
}

#[test]
fn dpvsd_exits_cleanly_on_sigterm() {
    if skip() {
        return;
    }
    let mut d = Dpvsd::start();
    ok(&d, "-A -t 192.0.2.1:80 -s rr");
    let status = d.stop().expect("dpvsd must exit within the timeout after SIGTERM");
    assert!(status.success(), "dpvsd exit status after SIGTERM: {status}");
}

/// No dpvsd listening: the shim lets ipvsadm see a kernel without IPVS (GETFAMILY fails, the
/// sockopt fallback gets ENOPROTOOPT, modprobe is absent).
#[test]
fn without_dpvsd_ipvsadm_sees_no_ipvs() {
    if skip() {
        return;
    }
    let mut d = Dpvsd::start();
    d.stop().expect("stop dpvsd");
    let expected = text::init_failure("Protocol not available");
    let (status, stdout, stderr) = result(&d.ipvsadm(&["-Ln"]));
    assert_eq!((status, stdout.as_str()), (2, ""), "stderr: {stderr:?}");
    if Path::new("/sbin/modprobe").exists() {
        assert!(stderr.ends_with(&expected), "stderr: {stderr:?}");
    } else {
        assert_eq!(stderr, expected);
    }
    // And a stale socket left by a killed dpvsd looks the same.
    d.start_again();
    d.kill();
    let (status, stdout, _) = result(&d.ipvsadm(&["-Ln"]));
    assert_eq!((status, stdout.as_str()), (2, ""));
}

const GARBAGE: &[u8] = b"\x00\xff\xfe this is not a dpvsd state file {{{ ]]] \x01\x02\n";

#[test]
fn corrupt_state_file_is_reported_and_set_aside() {
    if skip() {
        return;
    }
    let mut d = Dpvsd::start();
    persisted_setup(&d);
    let status = d.stop().expect("stop dpvsd");
    assert!(status.success(), "dpvsd exit status after SIGTERM: {status}");

    let state_files = files_under(d.state_dir());
    assert!(
        !state_files.is_empty(),
        "dpvsd left no state file in {} after a clean stop",
        d.state_dir().display()
    );
    for f in &state_files {
        fs::write(f, GARBAGE).unwrap_or_else(|e| panic!("corrupt {}: {e}", f.display()));
    }

    d.start_again();
    // An empty table, default timeouts, no daemons.
    expect(&d, "-Ln", &listing::<&str>(&[]), "", 0);
    expect(&d, "-L --timeout", &timeouts(900, 120, 300), "", 0);
    expect(&d, "-L --daemon", "", "", 0);

    // Reported on stderr, naming the file.
    let log = d.stderr_log();
    let names: Vec<String> = state_files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert!(
        names.iter().any(|n| log.contains(n.as_str())),
        "dpvsd's stderr does not name the corrupt state file ({names:?}):\n{log}"
    );

    // Kept aside: some file in the state dir still holds the garbage.
    let kept = files_under(d.state_dir())
        .into_iter()
        .any(|f| fs::read(&f).map(|b| b == GARBAGE).unwrap_or(false));
    assert!(
        kept,
        "no file in {} keeps the corrupt contents; files now: {:?}",
        d.state_dir().display(),
        files_under(d.state_dir())
    );

    // And dpvsd persists normally again.
    ok(&d, "-A -t 192.0.2.1:80 -s rr");
    d.restart();
    expect(&d, "-Ln", &listing(&["TCP  192.0.2.1:80 rr"]), "", 0);
    let still_kept = files_under(d.state_dir())
        .into_iter()
        .any(|f| fs::read(&f).map(|b| b == GARBAGE).unwrap_or(false));
    assert!(still_kept, "the corrupt file was removed by the next save");
}

/// Thousands of changes (more than any reasonable journal keeps before it is folded into a
/// snapshot) and a restart: the table comes back as it was, whatever the files look like.
#[test]
fn state_survives_many_changes_and_restarts() {
    if skip() {
        return;
    }
    let mut d = Dpvsd::start();
    let mut input = String::new();
    for round in 0..3 {
        for port in 10000..13500 {
            input.push_str(&format!("-A -t 192.0.2.9:{port} -s rr\n-D -t 192.0.2.9:{port}\n"));
        }
        input.push_str(&format!("-A -t 192.0.2.1:{} -s wrr\n", 80 + round));
        input.push_str(&format!("-a -t 192.0.2.1:{} -r 198.51.100.10 -m -w {}\n", 80 + round, round + 1));
    }
    // 21,000 commands: more than COMMAND_TIMEOUT allows a debug build on a busy machine.
    let out = d.ipvsadm_stdin_within(&["-R"], &input, std::time::Duration::from_secs(120));
    assert_eq!(result(&out), (0, String::new(), String::new()));
    let expected = listing(&[
        "TCP  192.0.2.1:80 wrr".to_string(),
        dest("198.51.100.10:80", "Masq", 1),
        "TCP  192.0.2.1:81 wrr".to_string(),
        dest("198.51.100.10:81", "Masq", 2),
        "TCP  192.0.2.1:82 wrr".to_string(),
        dest("198.51.100.10:82", "Masq", 3),
    ]);
    expect(&d, "-Ln", &expected, "", 0);
    d.restart();
    expect(&d, "-Ln", &expected, "", 0);
    ok(&d, "-E -t 192.0.2.1:81 -s rr");
    d.kill();
    d.start_again();
    expect(
        &d,
        "-Ln",
        &expected.replace("192.0.2.1:81 wrr", "192.0.2.1:81 rr"),
        "",
        0,
    );
}
