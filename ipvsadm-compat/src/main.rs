//! ipvsadm-compat: ipvsadm's grammar and output, natively on the IPVS generic-netlink API.
//!
//! Messages that ipvsadm prints with its argv[0] (`Try `%s -h' ...`, the usage text) use this
//! program's argv[0] unchanged, as ipvsadm does; messages where ipvsadm prints a literal name
//! keep that literal ("ipvsadm v1.31 ..."). Run under the name `ipvsadm` (a symlink, or
//! `exec -a ipvsadm`) it prints exactly what Debian's ipvsadm prints.
#![forbid(unsafe_code)]

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use anyhow::Context;
use ipvsadm_compat::ipvs::{self, Func, Ipvs};
use ipvsadm_compat::run::{Exit, Runner};
use ipvsadm_compat::sys::LibcNames;

/// `modprobe_ipvs`: true when `/sbin/modprobe -- ip_vs` ran and exited 0.
fn modprobe_ipvs() -> bool {
    let modprobe = Path::new("/sbin/modprobe");
    if !modprobe.exists() {
        return false;
    }
    Command::new(modprobe).args(["--", "ip_vs"]).stdin(Stdio::inherit()).status().map(|s| s.success()).unwrap_or(false)
}

fn main() -> anyhow::Result<ExitCode> {
    let argv: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let program = argv.first().cloned().unwrap_or_else(|| "ipvsadm".into());
    let ipvs = match Ipvs::init().or_else(|e| if modprobe_ipvs() { Ipvs::init() } else { Err(e) }) {
        Ok(i) => i,
        Err(e) => {
            eprint!(
                "Can't initialize ipvs: {}\nAre you sure that IP Virtual Server is built in the kernel or as module?\n",
                ipvs::strerror(Func::Init, e.0)
            );
            return Ok(ExitCode::from(2));
        }
    };
    if ipvs.version < 0x0001_0104 {
        let v = ipvs.version;
        eprint!(
            "Warning: IPVS version mismatch: \n  Kernel compiled with IPVS version {}.{}.{}\n  ipvsadm v1.31  requires minimum IPVS version 1.1.4\n\n",
            (v >> 16) & 0xff,
            (v >> 8) & 0xff,
            v & 0xff
        );
    }
    let names = LibcNames;
    let stdout = io::stdout();
    let mut runner = Runner {
        ipvs,
        names: &names,
        out: BufWriter::with_capacity(1 << 16, stdout.lock()),
        err: io::stderr(),
        program,
        last_async: None,
        last_async_failed: false,
    };
    let status = if argv.len() == 1 {
        match runner.list_all(0) {
            Ok(()) => 0,
            Err(Exit(code)) => code,
        }
    } else {
        match runner.process(&argv, false) {
            Ok(result) => result,
            Err(Exit(code)) => code,
        }
    };
    // A closed stdout (ipvsadm -L | head) is no error of ours, as in C.
    if let Err(e) = runner.out.flush() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e).context("writing to stdout");
        }
    }
    Ok(ExitCode::from(status as u8))
}
