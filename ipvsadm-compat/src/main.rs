//! ipvsadm-compat: ipvsadm's grammar and output, natively on the IPVS
//! generic-netlink API.
//!
//! Not written yet. Until it is, it refuses every command with a clear
//! message and points at the supported path: Debian's ipvsadm under the
//! ipvs-netlink-shim.

use std::process::ExitCode;

fn main() -> ExitCode {
    if matches!(std::env::args().nth(1).as_deref(), Some("-v") | Some("--version")) {
        println!("ipvsadm-compat {} (not yet functional)", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "ipvsadm-compat: not implemented yet; run Debian's ipvsadm with \
         LD_PRELOAD=libipvs_netlink_shim.so instead"
    );
    ExitCode::from(2)
}
