//! dpvsd's configuration file: `[section]` headers and `key = value` lines,
//! `#` comments. Values are integers, bare words or "quoted strings". Every
//! error names the file, the line and the key.
//!
//! The documented example, with every key at its default, is
//! `packaging/dpvsd.conf`.

use std::path::{Path, PathBuf};

use nom::branch::alt;
use nom::bytes::complete::{is_not, take_while1};
use nom::character::complete::{char, space0};
use nom::combinator::{all_consuming, map, opt};
use nom::sequence::{delimited, preceded, separated_pair, terminated};
use nom::{IResult, Parser};
use thiserror::Error;

use crate::dataplane::config::{self as dp, DataplaneConfig};

/// Everything dpvsd can be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub ipvs_socket: PathBuf,
    /// dpip's socket; None: `dpip.sock` beside the IPVS socket ([`Config::dpip_socket`]).
    pub dpip_socket: Option<PathBuf>,
    pub state_dir: PathBuf,
    pub log_level: String,
    pub conn_tab_size: u32,
    /// The DPDK dataplane; `None` (no dataplane section in the file): the control plane only.
    pub dataplane: Option<DataplaneConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ipvs_socket: PathBuf::from("/run/dpvsd/ipvs.sock"),
            dpip_socket: None,
            state_dir: PathBuf::from("/var/lib/dpvsd"),
            log_level: "info".into(),
            conn_tab_size: ipvs_genl::consts::IP_VS_CONN_TAB_SIZE,
            dataplane: None,
        }
    }
}

impl Config {
    /// dpip's socket: `[control] dpip_socket`, else `dpip.sock` in the IPVS socket's
    /// directory (`/run/dpvsd/dpip.sock` by default), so that every dpvsd given its own
    /// IPVS socket also gets its own dpip socket.
    pub fn dpip_socket(&self) -> PathBuf {
        self.dpip_socket.clone().unwrap_or_else(|| self.ipvs_socket.with_file_name("dpip.sock"))
    }
}

/// A configuration error; `line` 0 means the file as a whole.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{file}{}: {msg}", if *line > 0 { format!(":{line}") } else { String::new() })]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub msg: String,
}

#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    Blank,
    Section(&'a str),
    Pair(&'a str, &'a str),
}

fn name(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')(i)
}

fn value(i: &str) -> IResult<&str, &str> {
    let bare = take_while1(|c: char| !c.is_whitespace() && c != '#' && c != '"');
    alt((delimited(char('"'), map(opt(is_not("\"")), Option::unwrap_or_default), char('"')), bare)).parse(i)
}

fn comment(i: &str) -> IResult<&str, ()> {
    map((space0, opt(preceded(char('#'), nom::combinator::rest))), |_| ()).parse(i)
}

fn line(i: &str) -> IResult<&str, Line<'_>> {
    let section = map(delimited((space0, char('['), space0), name, (space0, char(']'))), Line::Section);
    let pair = map(
        preceded(space0, separated_pair(name, (space0, char('='), space0), value)),
        |(k, v)| Line::Pair(k, v),
    );
    all_consuming(terminated(alt((section, pair, map(space0, |_| Line::Blank))), comment)).parse(i)
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError { file: file.clone(), line: 0, msg: format!("cannot read: {e}") })?;
        Config::parse(&file, &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        let mut section = "";
        for (n, raw) in text.lines().enumerate() {
            let err = |msg: String| ConfigError { file: file.into(), line: n + 1, msg };
            let Ok((_, parsed)) = line(raw) else {
                return Err(err(format!("cannot parse `{}`: expected `[section]` or `key = value`", raw.trim())));
            };
            match parsed {
                Line::Blank => {}
                Line::Section(s @ ("control" | "ipvs")) => section = s,
                Line::Section(s) if dp::owns_section(s) => {
                    cfg.dataplane.get_or_insert_with(DataplaneConfig::default).open_section(s, n + 1).map_err(err)?;
                    section = s;
                }
                Line::Section(s) => {
                    return Err(err(format!("unknown section [{s}] (known: [control], [ipvs], {})", dp::SECTIONS)))
                }
                Line::Pair(key, v) if dp::owns_section(section) => {
                    cfg.dataplane.as_mut().expect("opened with its section").set(section, key, v).map_err(err)?;
                }
                Line::Pair(key, v) => match (section, key) {
                    ("control", "ipvs_socket") => cfg.ipvs_socket = PathBuf::from(v),
                    ("control", "dpip_socket") => cfg.dpip_socket = Some(PathBuf::from(v)),
                    ("control", "state_dir") => cfg.state_dir = PathBuf::from(v),
                    ("control", "log_level") => match v {
                        "error" | "warn" | "info" | "debug" | "trace" => cfg.log_level = v.into(),
                        _ => return Err(err(format!("log_level: `{v}` is not one of error, warn, info, debug, trace"))),
                    },
                    ("ipvs", "conn_tab_size") => {
                        cfg.conn_tab_size = v
                            .parse::<u32>()
                            .ok()
                            .filter(|n| n.is_power_of_two() && (256..=1 << 20).contains(n))
                            .ok_or_else(|| err(format!("conn_tab_size: `{v}` must be a power of two from 256 to 1048576")))?;
                    }
                    ("", k) => return Err(err(format!("key `{k}` outside a section"))),
                    (s, k) => return Err(err(format!("unknown key `{k}` in [{s}]"))),
                },
            }
        }
        if let Some(d) = &cfg.dataplane {
            d.check().map_err(|(line, msg)| ConfigError { file: file.into(), line, msg })?;
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file() {
        let text = "# dpvsd\n[control]\nipvs_socket = \"/tmp/x.sock\"  # here\nstate_dir=/var/tmp/s\nlog_level = debug\n\n[ipvs]\nconn_tab_size = 8192\n";
        let c = Config::parse("t.conf", text).unwrap();
        assert_eq!(c.ipvs_socket, PathBuf::from("/tmp/x.sock"));
        assert_eq!(c.state_dir, PathBuf::from("/var/tmp/s"));
        assert_eq!(c.log_level, "debug");
        assert_eq!(c.conn_tab_size, 8192);
        assert_eq!(c.dpip_socket(), PathBuf::from("/tmp/dpip.sock"));
        let c = Config::parse("t.conf", "[control]\ndpip_socket = /run/x/dpip\n").unwrap();
        assert_eq!(c.dpip_socket(), PathBuf::from("/run/x/dpip"));
        assert_eq!(Config::default().dpip_socket(), PathBuf::from("/run/dpvsd/dpip.sock"));
    }

    #[test]
    fn the_shipped_example_is_the_defaults() {
        let text = include_str!("../../packaging/dpvsd.conf");
        assert_eq!(Config::parse("dpvsd.conf", text).unwrap(), Config::default());
    }

    #[test]
    fn the_shipped_dataplane_example_parses() {
        // uncomment `# [section]` and `# key = value` lines: the documented dataplane example
        let text: String = include_str!("../../packaging/dpvsd.conf")
            .lines()
            .map(|l| {
                let body = l.strip_prefix("# ").unwrap_or("");
                let is_pair = body.split_once(" = ").is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
                if body.starts_with('[') || is_pair { body } else { l }
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let c = Config::parse("dpvsd.conf", &text).unwrap();
        let d = c.dataplane.expect("dataplane sections");
        assert_eq!(d.ports.len(), 1);
        assert_eq!(d.ports[0].addrs.len(), 2);
        assert!(d.ports[0].addrs[1].sapool);
        assert_eq!(d.routes.len(), 2);
        assert_eq!(d.neighbours.len(), 1);
    }

    #[test]
    fn errors_name_line_and_key() {
        let e = Config::parse("t.conf", "[control]\nbogus = 1\n").unwrap_err();
        assert_eq!(e.to_string(), "t.conf:2: unknown key `bogus` in [control]");
        let e = Config::parse("t.conf", "[ipvs]\n\nconn_tab_size = 1000\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.msg.starts_with("conn_tab_size: `1000`"));
        let e = Config::parse("t.conf", "[control\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert_eq!(
            Config::parse("t.conf", "[bogus]\n").unwrap_err().msg,
            "unknown section [bogus] (known: [control], [ipvs], [dataplane], [eal], [port.NAME], [net])"
        );
        let e = Config::parse("t.conf", "[dataplane]\nworkers = 2\n").unwrap_err();
        assert_eq!(e.to_string(), "t.conf: the dataplane sections need at least one [port.NAME]");
        let e = Config::parse("t.conf", "[port.dpdk0]\ninterface = veth0\naddress = 10.0.0.1/40\n").unwrap_err();
        assert_eq!(e.to_string(), "t.conf:3: address `10.0.0.1/40`: prefix length must be 0..32");
        let e = Config::parse("t.conf", "[port.dpdk0]\nmtu = 1500\n").unwrap_err();
        assert_eq!(e.to_string(), "t.conf:1: [port.dpdk0] needs one of interface, vdev, pci");
    }
}
