//! dpvsd: the dpvs-rs daemon (see the library's documentation).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use dpvsd::config::Config;
use dpvsd::{dataplane, ipvs, server};

const USAGE: &str = "\
Usage: dpvsd [--config FILE] [--ipvs-socket PATH] [--dpip-socket PATH] [--state-dir DIR] [--log-level LEVEL]

Runs in the foreground. Options override the configuration file. With dataplane
sections in the file ([dataplane], [eal], [port.NAME], [net]) dpvsd forwards
traffic on DPDK ports; without them it is the IPVS control plane alone.
SIGHUP re-reads the file (addresses, routes, neighbours; other changes need a restart).
  --config FILE        configuration file (example: packaging/dpvsd.conf)
  --ipvs-socket PATH   IPVS generic-netlink socket (default /run/dpvsd/ipvs.sock)
  --dpip-socket PATH   dpip's socket (default dpip.sock beside the IPVS socket)
  --state-dir DIR      where the IPVS state persists (default /var/lib/dpvsd)
  --log-level LEVEL    error, warn, info, debug or trace (default info)
  -h, --help           this text
  -V, --version        the version";

fn parse_args() -> anyhow::Result<Option<(Config, Option<PathBuf>)>> {
    let mut args = std::env::args().skip(1);
    let mut config_file = None;
    let mut overrides: Vec<(String, String)> = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("dpvsd {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--config" | "--ipvs-socket" | "--dpip-socket" | "--state-dir" | "--log-level" => {
                let v = args.next().with_context(|| format!("{arg} needs a value\n{USAGE}"))?;
                if arg == "--config" {
                    config_file = Some(PathBuf::from(v));
                } else {
                    overrides.push((arg, v));
                }
            }
            other => anyhow::bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    let mut cfg = match &config_file {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    for (k, v) in overrides {
        match k.as_str() {
            "--ipvs-socket" => cfg.ipvs_socket = PathBuf::from(v),
            "--dpip-socket" => cfg.dpip_socket = Some(PathBuf::from(v)),
            "--state-dir" => cfg.state_dir = PathBuf::from(v),
            _ => {
                anyhow::ensure!(
                    ["error", "warn", "info", "debug", "trace"].contains(&v.as_str()),
                    "--log-level: `{v}` is not one of error, warn, info, debug, trace"
                );
                cfg.log_level = v;
            }
        }
    }
    Ok(Some((cfg, config_file)))
}

fn run() -> anyhow::Result<()> {
    let Some((cfg, config_file)) = parse_args()? else { return Ok(()) };
    let filter = EnvFilter::try_from_env("DPVSD_LOG").unwrap_or_else(|_| EnvFilter::new(&cfg.log_level));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    // before the EAL starts its threads, so that they leave these signals to us
    let signals = server::signal_fd()?;
    let mut ipvs = ipvs::Ipvs::open(&cfg.state_dir, cfg.conn_tab_size)?;
    if let Some(d) = &cfg.dataplane {
        let dp = dataplane::Dataplane::start(d, &ipvs.state)?;
        ipvs.attach(Box::new(dp));
    }
    let mut server = server::Server::bind(&cfg.ipvs_socket, Some(&cfg.dpip_socket()), ipvs, signals, config_file)?;
    server.run()
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dpvsd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
