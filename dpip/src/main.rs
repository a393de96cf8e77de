//! dpip: iproute2-style management of dpvsd's network state (see the library).
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use dpip::grammar;
use dpip::run::{self, Invocation};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let inv = match run::invocation(&args, std::env::var("DPIP_SOCKET").ok()) {
        Ok(i) => i,
        Err(f) => {
            eprintln!("dpip: {}", f.msg);
            return ExitCode::from(f.status);
        }
    };
    let version = env!("CARGO_PKG_VERSION");
    let text = match inv {
        Invocation::Help => grammar::usage(),
        Invocation::Version => format!("dpip {version} (protocol {})\n", dpip_proto::VERSION),
        Invocation::GenerateMan => grammar::man_page(version),
        Invocation::GenerateCompletion => grammar::completion(),
        Invocation::Run(o, action) => {
            match run::Client::connect(&o.socket).and_then(|mut c| run::execute(&mut c, &o, &action)) {
                Ok(t) => t,
                Err(f) => {
                    eprintln!("dpip: {}", f.msg);
                    return ExitCode::from(f.status);
                }
            }
        }
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("dpip: writing to stdout: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
