//! dpip: iproute2-style management of dpvsd's network state.
//!
//! dpvsd has no dataplane tables yet (addresses, routes, neighbours and
//! local-address pools arrive with the DPDK runtime), so every object is
//! refused with a clear message and a non-zero exit status rather than
//! pretending to succeed.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("-h") | Some("--help") | Some("help") => {
            println!("Usage: dpip [ OPTIONS ] OBJECT {{ COMMAND | help }}");
            println!("where  OBJECT := {{ link | addr | route | neigh | laddr | stats }}");
            println!("dpvsd has no dataplane yet: no object is available in this version.");
            ExitCode::SUCCESS
        }
        Some("-V") | Some("--version") => {
            println!("dpip {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(obj) => {
            eprintln!("dpip: {obj}: not supported by this dpvsd (it has no dataplane tables yet)");
            ExitCode::from(1)
        }
    }
}
