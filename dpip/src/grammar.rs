//! dpip's command line as one table ([`SYNTAX`]): the parser reads it, and so do the man
//! page (`dpip --generate-man`, packaging/man/dpip.8) and the bash completion (`dpip
//! --generate-completion`, dpip/completion/dpip.bash); a unit test keeps both files equal to
//! what the table generates.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// One word of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Word {
    /// A value given by position (`PREFIX`).
    Pos(&'static str),
    /// A keyword and its value (`dev DEV`).
    Key(&'static str, &'static str),
    /// A keyword alone (`sapool`, `up`).
    Flag(&'static str),
}

/// A word, whether it must be given, and what it means.
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    pub word: Word,
    pub required: bool,
    pub help: &'static str,
}

const fn pos(m: &'static str, required: bool, help: &'static str) -> Arg {
    Arg { word: Word::Pos(m), required, help }
}
const fn key(k: &'static str, m: &'static str, required: bool, help: &'static str) -> Arg {
    Arg { word: Word::Key(k, m), required, help }
}
const fn flag(k: &'static str, help: &'static str) -> Arg {
    Arg { word: Word::Flag(k), required: false, help }
}

/// One command of one object.
#[derive(Debug, Clone, Copy)]
pub struct Command {
    pub object: &'static str,
    pub name: &'static str,
    /// Other spellings (`list`, `delete`).
    pub aliases: &'static [&'static str],
    pub args: &'static [Arg],
    pub help: &'static str,
}

/// The objects, in the order a prefix picks them (`a` is addr, `r` route), with their
/// other names and what they are.
pub const OBJECTS: &[(&str, &[&str], &str)] = &[
    ("addr", &["address"], "the addresses of dpvsd's ports; `sapool` ones are full-NAT local addresses"),
    ("link", &[], "dpvsd's DPDK ports"),
    ("neigh", &["neighbour", "neighbor"], "the neighbour (ARP and NDP) table"),
    ("route", &[], "the dataplane's routing table"),
    ("stats", &[], "per-worker counters and every drop reason"),
];

const DEV_OPT: Arg = key("dev", "DEV", false, "only this port");

/// Every command: the grammar.
pub const SYNTAX: &[Command] = &[
    Command {
        object: "link",
        name: "show",
        aliases: &["list", "lst", "ls"],
        args: &[pos("DEV", false, "only this port"), DEV_OPT],
        help: "Lists the ports: index, name, flags, MTU, state, MAC address. With -s, each port's \
               counters as the driver reports them (RX and TX bytes, packets, errors, drops, missed); \
               per-queue counters are not available (dpvsd reads the port's totals).",
    },
    Command {
        object: "link",
        name: "set",
        aliases: &[],
        args: &[
            pos("DEV", true, "the port"),
            flag("up", "forward on the port"),
            flag("down", "neither receive nor send on the port"),
            key("mtu", "N", false, "the MTU, 576 to 9000"),
        ],
        help: "Changes a port's administrative state or MTU.",
    },
    Command {
        object: "addr",
        name: "show",
        aliases: &["list", "lst", "ls"],
        args: &[pos("DEV", false, "only this port"), DEV_OPT],
        help: "Lists every port with its addresses; `sapool` marks full-NAT local addresses.",
    },
    Command {
        object: "addr",
        name: "add",
        aliases: &[],
        args: &[
            pos("PREFIX", true, "the address and its prefix length, A/LEN (A alone: a host address)"),
            key("dev", "DEV", true, "the port"),
            flag(
                "sapool",
                "a full-NAT local address: dpvsd connects to real servers from it (DPVS's sapool). The pool \
                 is global: every full-NAT service uses every sapool address of the real server's family",
            ),
        ],
        help: "Adds an address to a port. dpvsd answers ARP/NDP and ICMP echo for it, and routes its prefix \
               through the port.",
    },
    Command {
        object: "addr",
        name: "del",
        aliases: &["delete"],
        args: &[pos("PREFIX", true, "the address (/LEN must match when given)"), DEV_OPT],
        help: "Removes an address.",
    },
    Command {
        object: "addr",
        name: "flush",
        aliases: &[],
        args: &[key("dev", "DEV", true, "the port")],
        help: "Removes every address of a port (of one family with -4 or -6).",
    },
    Command {
        object: "route",
        name: "show",
        aliases: &["list", "lst", "ls"],
        args: &[key("table", "TABLE", false, "main (the default), local (the addresses' host routes) or all")],
        help: "Lists the routes the workers use: configured ones, and those of the ports' addresses \
               (proto kernel).",
    },
    Command {
        object: "route",
        name: "add",
        aliases: &[],
        args: &[
            pos("PREFIX", true, "the destination, A/LEN, A (a host) or default"),
            key("via", "GW", false, "the gateway"),
            key("dev", "DEV", true, "the port"),
            key("src", "ADDR", false, "the source address of packets dpvsd originates on this route"),
            key("metric", "N", false, "the route's priority (lower wins)"),
            key("scope", "SCOPE", false, "link (the default without a gateway) or global (with one)"),
        ],
        help: "Adds a route.",
    },
    Command {
        object: "route",
        name: "del",
        aliases: &["delete"],
        args: &[
            pos("PREFIX", true, "the destination, A/LEN, A or default"),
            key("metric", "N", false, "only the route of this metric"),
        ],
        help: "Removes a configured route (an address's routes go with the address).",
    },
    Command {
        object: "route",
        name: "flush",
        aliases: &[],
        args: &[DEV_OPT],
        help: "Removes every configured route (of one family with -4 or -6).",
    },
    Command {
        object: "neigh",
        name: "show",
        aliases: &["list", "lst", "ls"],
        args: &[DEV_OPT],
        help: "Lists the neighbours: learned ones (REACHABLE, STALE, INCOMPLETE) and permanent ones.",
    },
    Command {
        object: "neigh",
        name: "add",
        aliases: &[],
        args: &[
            pos("ADDR", true, "the neighbour's IP address"),
            key("lladdr", "MAC", true, "its link-layer address"),
            key("dev", "DEV", true, "the port"),
        ],
        help: "Adds a permanent neighbour.",
    },
    Command {
        object: "neigh",
        name: "del",
        aliases: &["delete"],
        args: &[pos("ADDR", true, "the neighbour's IP address"), DEV_OPT],
        help: "Removes a neighbour.",
    },
    Command {
        object: "neigh",
        name: "flush",
        aliases: &[],
        args: &[DEV_OPT],
        help: "Removes the learned neighbours (permanent ones stay, as with ip).",
    },
    Command {
        object: "stats",
        name: "show",
        aliases: &["list", "lst", "ls"],
        args: &[],
        help: "Each worker's counters (received, forwarded, local replies, sent to the kernel, \
               connections) and its drops by reason: those that counted, every reason with -s.",
    },
];

/// The global options: (spelling, value, help).
pub const OPTIONS: &[(&str, Option<&str>, &str)] = &[
    ("-4", None, "IPv4 only (show, flush; add and del check the address's family)"),
    ("-6", None, "IPv6 only"),
    ("-s, -stats", None, "statistics (links: counters; stats: every drop reason)"),
    ("-j, -json", None, "JSON output, as ip -j"),
    ("-p, -pretty", None, "pretty JSON, as ip -j -p"),
    ("--socket", Some("PATH"), "dpvsd's dpip socket (default: $DPIP_SOCKET, else /run/dpvsd/dpip.sock)"),
    ("-h, --help", None, "usage"),
    ("-V, --version", None, "the version"),
];

/// The default socket.
pub const DEFAULT_SOCKET: &str = "/run/dpvsd/dpip.sock";

/// A parsed command line of one object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub object: &'static str,
    pub command: &'static str,
    /// Positional values by metavariable.
    pub pos: BTreeMap<&'static str, String>,
    /// Keyword values by keyword.
    pub keys: BTreeMap<&'static str, String>,
    pub flags: BTreeSet<&'static str>,
}

impl Parsed {
    pub fn key(&self, k: &str) -> Option<&str> {
        self.keys.get(k).map(String::as_str)
    }
    pub fn pos(&self, m: &str) -> Option<&str> {
        self.pos.get(m).map(String::as_str)
    }
    pub fn flag(&self, f: &str) -> bool {
        self.flags.contains(f)
    }
}

/// The object `word` names: its full name, an alias, or a prefix of one (in [`OBJECTS`]
/// order).
pub fn object(word: &str) -> Option<&'static str> {
    if word.is_empty() {
        return None;
    }
    OBJECTS
        .iter()
        .find(|(n, al, _)| *n == word || al.contains(&word))
        .or_else(|| OBJECTS.iter().find(|(n, al, _)| n.starts_with(word) || al.iter().any(|a| a.starts_with(word))))
        .map(|(n, _, _)| *n)
}

/// The commands of an object.
pub fn commands(object: &str) -> impl Iterator<Item = &'static Command> + '_ {
    SYNTAX.iter().filter(move |c| c.object == object)
}

fn command(object: &str, word: &str) -> Option<&'static Command> {
    commands(object)
        .find(|c| c.name == word || c.aliases.contains(&word))
        .or_else(|| commands(object).find(|c| c.name.starts_with(word) || c.aliases.iter().any(|a| a.starts_with(word))))
}

/// Parses `OBJECT [COMMAND [ARGS...]]` (COMMAND defaults to show). Errors name the object
/// and the argument.
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let (first, rest) = args.split_first().ok_or("no object given (try `dpip help`)")?;
    let obj = object(first).ok_or_else(|| format!("object `{first}` is unknown (known: link, addr, route, neigh, stats)"))?;
    let (cmd, rest) = match rest.split_first() {
        None => (command(obj, "show").expect("every object shows"), rest),
        Some((w, r)) => match command(obj, w) {
            Some(c) => (c, r),
            None => {
                let known: Vec<&str> = commands(obj).map(|c| c.name).collect();
                return Err(format!("{obj}: command `{w}` is unknown (known: {})", known.join(", ")));
            }
        },
    };
    let what = format!("{obj} {}", cmd.name);
    let mut p = Parsed { object: obj, command: cmd.name, ..Parsed::default() };
    let mut i = 0;
    while i < rest.len() {
        let w = rest[i].as_str();
        let word = cmd.args.iter().map(|a| a.word).find(|x| match x {
            Word::Key(k, _) | Word::Flag(k) => *k == w,
            Word::Pos(_) => false,
        });
        match word {
            Some(Word::Key(k, m)) => {
                let v = rest.get(i + 1).ok_or_else(|| format!("{what}: `{k}` needs a value ({m})"))?;
                if p.keys.insert(k, v.clone()).is_some() {
                    return Err(format!("{what}: `{k}` given twice"));
                }
                i += 2;
                continue;
            }
            Some(Word::Flag(k)) => {
                p.flags.insert(k);
            }
            _ => {
                let free = cmd.args.iter().find_map(|a| match a.word {
                    Word::Pos(m) if !p.pos.contains_key(m) => Some(m),
                    _ => None,
                });
                match free {
                    Some(m) if !w.is_empty() => {
                        p.pos.insert(m, w.to_string());
                    }
                    _ => {
                        let known: Vec<&str> = cmd
                            .args
                            .iter()
                            .filter_map(|a| match a.word {
                                Word::Key(k, _) | Word::Flag(k) => Some(k),
                                Word::Pos(_) => None,
                            })
                            .collect();
                        return Err(if known.is_empty() {
                            format!("{what}: unexpected word `{w}`")
                        } else {
                            format!("{what}: unknown word `{w}` (known: {})", known.join(", "))
                        });
                    }
                }
            }
        }
        i += 1;
    }
    for a in cmd.args.iter().filter(|a| a.required) {
        let (given, name) = match a.word {
            Word::Pos(m) => (p.pos.contains_key(m), m.to_string()),
            Word::Key(k, m) => (p.keys.contains_key(k), format!("{k} {m}")),
            Word::Flag(k) => (p.flags.contains(k), k.to_string()),
        };
        if !given {
            return Err(format!("{what}: needs {name}"));
        }
    }
    Ok(p)
}

fn synopsis_words(c: &Command) -> String {
    let mut s = String::new();
    let mut flags: Vec<&str> = Vec::new();
    for a in c.args {
        let w = match a.word {
            Word::Pos(m) => m.to_string(),
            Word::Key(k, m) => format!("{k} {m}"),
            Word::Flag(k) => {
                flags.push(k);
                continue;
            }
        };
        let _ = write!(s, " {}", if a.required { w } else { format!("[ {w} ]") });
    }
    if !flags.is_empty() {
        let _ = write!(s, " [ {} ]", flags.join(" | "));
    }
    s
}

/// The usage text (`dpip help`).
pub fn usage() -> String {
    let mut s = String::from(
        "Usage: dpip [ OPTIONS ] OBJECT [ COMMAND [ ARGS ] ]\nwhere  OBJECT := { link | addr | route | neigh | stats }\n       OPTIONS := { -4 | -6 | -s[tats] | -j[son] | -p[retty] | --socket PATH | -h | -V }\n\n",
    );
    for c in SYNTAX {
        let _ = writeln!(s, "dpip {} {}{}", c.object, c.name, synopsis_words(c));
    }
    s
}

fn roff(s: &str) -> String {
    let s = s.replace('\\', "\\\\").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// The man page, roff.
pub fn man_page(version: &str) -> String {
    let mut m = String::new();
    m.push_str(".\\\" dpip(8): generated by `dpip --generate-man` from dpip/src/grammar.rs; do not edit.\n");
    let _ = writeln!(m, ".TH DPIP 8 \"\" \"dpvs-rs {version}\" \"System Administration\"");
    m.push_str(".SH NAME\ndpip \\- manage dpvsd's ports, addresses, routes, neighbours and worker statistics\n");
    m.push_str(".SH SYNOPSIS\n.B dpip\n.RI [ \" options \" ]\n.I object\n.RI [ \" command \" [ \" args \" ]]\n");
    m.push_str(".SH DESCRIPTION\n.B dpip\nis the\n.BR ip (8)\nof\n.BR dpvsd (8)'s\nDPDK dataplane: the same objects, commands and output (text and\n.BR \\-j \" JSON)\"\nfor the tables the workers forward by. It speaks rtnetlink\\-shaped messages to dpvsd's dpip socket; changes need CAP_NET_ADMIN and last until dpvsd restarts or SIGHUP re\\-applies its configuration file.\nA bad argument changes nothing: dpip checks the whole command line before it sends anything.\nCommands may be shortened to a prefix, and COMMAND defaults to\n.BR show .\n");
    m.push_str(".SH OPTIONS\n");
    for (o, v, h) in OPTIONS {
        match v {
            None => {
                let _ = writeln!(m, ".TP\n.B {}\n{}", roff(o), roff(h));
            }
            Some(v) => {
                let _ = writeln!(m, ".TP\n.BI \"{} \" {}\n{}", roff(o), v, roff(h));
            }
        }
    }
    for (obj, aliases, help) in OBJECTS {
        let _ = writeln!(m, ".SH {}", obj.to_uppercase());
        let _ = write!(m, "{}", roff(help));
        if !aliases.is_empty() {
            let _ = write!(m, " (also spelt {})", aliases.join(", "));
        }
        m.push_str(".\n");
        for c in commands(obj) {
            let _ = writeln!(m, ".TP\n.B dpip {} {}{}", obj, c.name, roff(&synopsis_words(c)));
            let _ = writeln!(m, "{}", roff(c.help));
            for a in c.args {
                let w = match a.word {
                    Word::Pos(x) => x.to_string(),
                    Word::Key(k, x) => format!("{k} {x}"),
                    Word::Flag(k) => k.to_string(),
                };
                let _ = writeln!(m, ".RS\n.TP\n.B {}\n{}\n.RE", roff(&w), roff(a.help));
            }
        }
    }
    m.push_str(".SH LOCAL ADDRESS POOLS\nDPVS configures full\\-NAT local addresses with\n.BR \"dpip addr add A/LEN dev DEV sapool\" ;\nso does dpip. dpvsd's pool is global today: every full\\-NAT service uses every sapool address of the real server's family (ports are split between the workers); per\\-service pools are not available.\n");
    m.push_str(".SH EXIT STATUS\n0 on success; 1 for a bad command line, an unknown device (nothing was sent) or no dpvsd at the socket; 2 when dpvsd refused the request (its message is printed), as\n.BR ip (8)\ndoes for RTNETLINK errors.\n");
    m.push_str(".SH ENVIRONMENT\n.TP\n.B DPIP_SOCKET\ndpvsd's dpip socket, when\n.B \\-\\-socket\nis not given.\n");
    let _ = writeln!(m, ".SH FILES\n.TP\n.B {}\nthe default socket ([control] dpip_socket in dpvsd.conf).", roff(DEFAULT_SOCKET));
    m.push_str(".SH EXAMPLES\n.nf\ndpip link show\ndpip \\-s link show dpdk0\ndpip addr add 10.90.2.3/24 dev dpdk1 sapool\ndpip route add 10.1.0.0/16 via 10.90.1.254 dev dpdk0\ndpip route add default via 10.90.0.1 dev dpdk0\ndpip neigh add 10.90.1.254 lladdr 02:00:00:00:00:01 dev dpdk0\ndpip \\-j \\-p route show table all\ndpip \\-s stats\n.fi\n");
    m.push_str(".SH SEE ALSO\n.BR ip (8),\n.BR dpvsd (8),\n.BR ipvsadm\\-compat (8)\n");
    m
}

/// The bash completion script.
pub fn completion() -> String {
    let mut s = String::from("# bash completion for dpip: generated by `dpip --generate-completion` from dpip/src/grammar.rs; do not edit.\n");
    s.push_str("_dpip_ports()\n{\n    dpip link show 2>/dev/null | awk -F': ' '/^[0-9]+: /{print $2}'\n}\n\n");
    s.push_str("_dpip()\n{\n    local cur prev words cword\n    _init_completion || return\n");
    s.push_str("    local i obj= cmd=\n    for ((i = 1; i < cword; i++)); do\n        case ${words[i]} in\n            --socket) ((i++)) ;;\n            -*) ;;\n            *) if [[ -z $obj ]]; then obj=${words[i]}; elif [[ -z $cmd ]]; then cmd=${words[i]}; fi ;;\n        esac\n    done\n");
    s.push_str("    case $prev in\n        --socket) _filedir; return ;;\n        dev) COMPREPLY=($(compgen -W \"$(_dpip_ports)\" -- \"$cur\")); return ;;\n        table) COMPREPLY=($(compgen -W 'main local all' -- \"$cur\")); return ;;\n        scope) COMPREPLY=($(compgen -W 'link global' -- \"$cur\")); return ;;\n        via|src|metric|mtu|lladdr) return ;;\n    esac\n");
    let objs: Vec<&str> = OBJECTS.iter().map(|(n, _, _)| *n).collect();
    let opts: Vec<&str> = OPTIONS.iter().flat_map(|(o, _, _)| o.split(", ")).collect();
    let _ = write!(
        s,
        "    if [[ -z $obj ]]; then\n        if [[ $cur == -* ]]; then\n            COMPREPLY=($(compgen -W '{}' -- \"$cur\"))\n        else\n            COMPREPLY=($(compgen -W '{}' -- \"$cur\"))\n        fi\n        return\n    fi\n",
        opts.join(" "),
        objs.join(" ")
    );
    s.push_str("    case $obj in\n");
    for (obj, aliases, _) in OBJECTS {
        let cmds: Vec<&str> = commands(obj).map(|c| c.name).collect();
        let mut pats = vec![obj.to_string()];
        pats.extend(aliases.iter().map(|a| a.to_string()));
        let _ = writeln!(s, "        {})", pats.join("|"));
        let _ = writeln!(s, "            if [[ -z $cmd ]]; then COMPREPLY=($(compgen -W '{}' -- \"$cur\")); return; fi", cmds.join(" "));
        s.push_str("            case $cmd in\n");
        for c in commands(obj) {
            let words: Vec<&str> = c
                .args
                .iter()
                .filter_map(|a| match a.word {
                    Word::Key(k, _) | Word::Flag(k) => Some(k),
                    Word::Pos(_) => None,
                })
                .collect();
            let mut pats = vec![c.name];
            pats.extend(c.aliases.iter().copied());
            let ports = c.args.iter().any(|a| a.word == Word::Pos("DEV"));
            let _ = writeln!(
                s,
                "                {}) COMPREPLY=($(compgen -W '{}{}' -- \"$cur\")) ;;",
                pats.join("|"),
                words.join(" "),
                if ports { " $(_dpip_ports)" } else { "" }
            );
        }
        s.push_str("            esac\n            ;;\n");
    }
    s.push_str("    esac\n} &&\n    complete -F _dpip dpip\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Parsed, String> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn objects_and_commands_by_prefix() {
        assert_eq!(object("a"), Some("addr"));
        assert_eq!(object("address"), Some("addr"));
        assert_eq!(object("r"), Some("route"));
        assert_eq!(object("neighbour"), Some("neigh"));
        assert_eq!(object("l"), Some("link"));
        assert_eq!(object("bogus"), None);
        let x = p("r").unwrap();
        assert_eq!((x.object, x.command), ("route", "show"));
        let x = p("a ls dev dpdk0").unwrap();
        assert_eq!((x.command, x.key("dev")), ("show", Some("dpdk0")));
        assert_eq!(p("n delete 10.0.0.1").unwrap().command, "del");
    }

    #[test]
    fn words_and_errors() {
        let x = p("route add 10.1.0.0/16 via 10.90.1.254 dev dpdk0 metric 5").unwrap();
        assert_eq!(x.pos("PREFIX"), Some("10.1.0.0/16"));
        assert_eq!((x.key("via"), x.key("dev"), x.key("metric")), (Some("10.90.1.254"), Some("dpdk0"), Some("5")));
        let x = p("addr add 10.90.2.3/24 dev dpdk1 sapool").unwrap();
        assert!(x.flag("sapool"));
        assert_eq!(p("route add 10.1.0.0/16 via 10.90.1.254").unwrap_err(), "route add: needs dev DEV");
        assert_eq!(
            p("route add 10.1.0.0/16 dev x bogus 1").unwrap_err(),
            "route add: unknown word `bogus` (known: via, dev, src, metric, scope)"
        );
        assert_eq!(p("route add 10.1.0.0/16 dev").unwrap_err(), "route add: `dev` needs a value (DEV)");
        assert_eq!(p("route add 10.1.0.0/16 dev a dev b").unwrap_err(), "route add: `dev` given twice");
        assert_eq!(p("bogus").unwrap_err(), "object `bogus` is unknown (known: link, addr, route, neigh, stats)");
        assert_eq!(p("link frob").unwrap_err(), "link: command `frob` is unknown (known: show, set)");
        assert_eq!(p("addr flush").unwrap_err(), "addr flush: needs dev DEV");
        assert_eq!(p("stats show x").unwrap_err(), "stats show: unexpected word `x`");
        let x = p("link set dpdk0 down mtu 1400").unwrap();
        assert_eq!((x.pos("DEV"), x.flag("down"), x.key("mtu")), (Some("dpdk0"), true, Some("1400")));
    }

    #[test]
    fn generated_files_are_current() {
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(include_str!("../../packaging/man/dpip.8"), man_page(version), "run `dpip --generate-man > packaging/man/dpip.8`");
        assert_eq!(include_str!("../completion/dpip.bash"), completion(), "run `dpip --generate-completion > dpip/completion/dpip.bash`");
    }

    #[test]
    fn man_page_and_completion_name_every_word() {
        let man = man_page("0").replace("\\-", "-");
        let comp = completion();
        for c in SYNTAX {
            assert!(man.contains(&format!("dpip {} {}", c.object, c.name)), "{} {}", c.object, c.name);
            assert!(comp.contains(c.name));
            for a in c.args {
                if let Word::Key(k, _) | Word::Flag(k) = a.word {
                    assert!(man.contains(k) && comp.contains(k), "{k}");
                }
            }
        }
    }
}
