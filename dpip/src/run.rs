//! One dpip invocation: options, the command ([`crate::grammar`]) checked whole into an
//! [`Action`], then the conversation with dpvsd and what is printed.

use std::net::IpAddr;
use std::path::PathBuf;

use dpip_proto::{self as proto, Addr, Answer, Flush, FlushObject, Hello, Link, LinkChange, Neigh, Reply, Request, Route};

use crate::format::{self, Style};
use crate::grammar::{self, Parsed};
use seqpacket::SeqPacket;

/// A failure: what to print after `dpip: ` and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: u8,
    pub msg: String,
}

fn usage_error(msg: impl Into<String>) -> Failure {
    Failure { status: 1, msg: msg.into() }
}

/// What the global options say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub v6: Option<bool>,
    pub style: Style,
    pub socket: PathBuf,
}

/// What one command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    Help,
    Version,
    GenerateMan,
    GenerateCompletion,
    Run(Options, Action),
}

/// Which routing table `route show` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Main,
    Local,
    All,
}

/// A command, checked; device names are resolved against dpvsd's ports when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    LinkShow { dev: Option<String> },
    LinkSet { dev: String, up: Option<bool>, mtu: Option<u32> },
    AddrShow { dev: Option<String> },
    AddrAdd { dev: String, addr: Addr },
    AddrDel { dev: Option<String>, addr: Addr },
    AddrFlush { dev: String },
    RouteShow { table: Table },
    RouteAdd { dev: String, route: Route },
    RouteDel { route: Route },
    RouteFlush { dev: Option<String> },
    NeighShow { dev: Option<String> },
    NeighAdd { dev: String, neigh: Neigh },
    NeighDel { dev: Option<String>, neigh: Neigh },
    NeighFlush { dev: Option<String> },
    Stats,
}

/// Reads the options and the command; `socket_env` is `$DPIP_SOCKET`.
pub fn invocation(args: &[String], socket_env: Option<String>) -> Result<Invocation, Failure> {
    let mut v6 = None;
    let mut style = Style::default();
    let mut socket = socket_env.filter(|s| !s.is_empty()).map(PathBuf::from);
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        let o = args[i].as_str();
        match o {
            "-4" => v6 = Some(false),
            "-6" => v6 = Some(true),
            "-s" | "-stats" | "-statistics" | "--stats" => style.stats = style.stats.saturating_add(1),
            "-j" | "-json" | "--json" => style.json = true,
            "-p" | "-pretty" | "--pretty" => style.pretty = true,
            "--socket" | "-socket" => {
                let v = args.get(i + 1).ok_or_else(|| usage_error(format!("option `{o}` needs a value (PATH)")))?;
                socket = Some(PathBuf::from(v));
                i += 1;
            }
            "-h" | "-help" | "--help" => return Ok(Invocation::Help),
            "-V" | "-Version" | "--version" => return Ok(Invocation::Version),
            "--generate-man" => return Ok(Invocation::GenerateMan),
            "--generate-completion" => return Ok(Invocation::GenerateCompletion),
            _ => return Err(usage_error(format!("option `{o}` is unknown (try `dpip help`)"))),
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.first().is_some_and(|w| w == "help") {
        return Ok(Invocation::Help);
    }
    let p = grammar::parse(rest).map_err(usage_error)?;
    let action = action(&p, v6).map_err(usage_error)?;
    Ok(Invocation::Run(Options { v6, style, socket: socket.unwrap_or_else(|| grammar::DEFAULT_SOCKET.into()) }, action))
}

fn max_len(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

fn check_family(what: &str, a: IpAddr, v6: Option<bool>) -> Result<(), String> {
    match v6 {
        Some(true) if a.is_ipv4() => Err(format!("{what}: not an IPv6 address (-6)")),
        Some(false) if a.is_ipv6() => Err(format!("{what}: not an IPv4 address (-4)")),
        _ => Ok(()),
    }
}

/// `A/LEN` or `A` (a host); `default` when `route` (family from `v6`, else `gw`, else IPv4).
fn prefix(obj: &str, s: &str, v6: Option<bool>, default_ok: Option<Option<IpAddr>>) -> Result<(IpAddr, u8), String> {
    let what = format!("{obj} {s}");
    if s == "default" || s == "all" && default_ok.is_some() {
        let Some(gw) = default_ok else { return Err(format!("{what}: not an IP address")) };
        let six = v6.or(gw.map(|g| g.is_ipv6())).unwrap_or(false);
        let any: IpAddr = if six { std::net::Ipv6Addr::UNSPECIFIED.into() } else { std::net::Ipv4Addr::UNSPECIFIED.into() };
        return Ok((any, 0));
    }
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().map_err(|_| format!("{what}: `{a}` is not an IP address"))?;
    check_family(&what, addr, v6)?;
    let max = max_len(addr);
    let len = match l {
        None => max,
        Some(l) => l.parse::<u8>().ok().filter(|n| *n <= max).ok_or_else(|| format!("{what}: prefix length must be 0..{max}"))?,
    };
    Ok((addr, len))
}

fn is_network(a: IpAddr, len: u8) -> bool {
    dpvs_core::net::route::network(a, len) == a
}

fn addr_word(what: &str, word: &str, s: &str, family_of: IpAddr) -> Result<IpAddr, String> {
    let a: IpAddr = s.parse().map_err(|_| format!("{what}: {word} `{s}` is not an IP address"))?;
    if a.is_ipv4() != family_of.is_ipv4() {
        return Err(format!("{what}: {word} {a} is not of the route's family"));
    }
    Ok(a)
}

fn number(what: &str, word: &str, s: &str) -> Result<u32, String> {
    s.parse().map_err(|_| format!("{what}: {word} `{s}` is not a number"))
}

fn mac(what: &str, s: &str) -> Result<[u8; 6], String> {
    s.parse::<dpvs_wire::EthernetAddress>().map(|m| m.0).map_err(|_| format!("{what}: lladdr `{s}` is not a MAC address"))
}

fn dev_of(p: &Parsed) -> Option<String> {
    p.key("dev").or_else(|| p.pos("DEV")).map(str::to_string)
}

/// Checks a parsed command whole (nothing is sent before this succeeds).
pub fn action(p: &Parsed, v6: Option<bool>) -> Result<Action, String> {
    Ok(match (p.object, p.command) {
        ("link", "show") => Action::LinkShow { dev: dev_of(p) },
        ("link", "set") => {
            let dev = dev_of(p).expect("required");
            let what = format!("link {dev}");
            if p.flag("up") && p.flag("down") {
                return Err(format!("{what}: up and down at once"));
            }
            let up = if p.flag("up") { Some(true) } else if p.flag("down") { Some(false) } else { None };
            let mtu = p.key("mtu").map(|m| number(&what, "mtu", m)).transpose()?;
            if up.is_none() && mtu.is_none() {
                return Err(format!("{what}: nothing to change (up, down or mtu N)"));
            }
            Action::LinkSet { dev, up, mtu }
        }
        ("addr", "show") => Action::AddrShow { dev: dev_of(p) },
        ("addr", "add") => {
            let s = p.pos("PREFIX").expect("required");
            let (addr, len) = prefix("addr", s, v6, None)?;
            let dev = p.key("dev").expect("required").to_string();
            Action::AddrAdd { dev, addr: Addr { index: 0, addr, len, scope: proto::RT_SCOPE_UNIVERSE, sapool: p.flag("sapool") } }
        }
        ("addr", "del") => {
            let s = p.pos("PREFIX").expect("required");
            let (addr, len) = prefix("addr", s, v6, None)?;
            // without /LEN, any length matches
            let len = if s.contains('/') { len } else { 0 };
            Action::AddrDel { dev: dev_of(p), addr: Addr { index: 0, addr, len, scope: 0, sapool: false } }
        }
        ("addr", "flush") => Action::AddrFlush { dev: dev_of(p).expect("required") },
        ("route", "show") => Action::RouteShow {
            table: match p.key("table") {
                None | Some("main") => Table::Main,
                Some("local") => Table::Local,
                Some("all") => Table::All,
                Some(t) => return Err(format!("route show: table `{t}` is unknown (known: main, local, all)")),
            },
        },
        ("route", "add") | ("route", "del") => {
            let s = p.pos("PREFIX").expect("required");
            let what = format!("route {s}");
            let gw_hint = p.key("via").and_then(|g| g.parse::<IpAddr>().ok());
            let (dst, len) = prefix("route", s, v6, Some(gw_hint))?;
            if !is_network(dst, len) {
                return Err(format!("{what}: host bits set beyond the prefix length"));
            }
            let mut r = Route::new(dst, len);
            r.metric = p.key("metric").map(|m| number(&what, "metric", m)).transpose()?;
            if p.command == "del" {
                Action::RouteDel { route: r }
            } else {
                r.gateway = p.key("via").map(|g| addr_word(&what, "via", g, dst)).transpose()?;
                r.prefsrc = p.key("src").map(|g| addr_word(&what, "src", g, dst)).transpose()?;
                r.scope = match p.key("scope") {
                    None if r.gateway.is_some() => proto::RT_SCOPE_UNIVERSE,
                    None => proto::RT_SCOPE_LINK,
                    Some("global" | "universe") => proto::RT_SCOPE_UNIVERSE,
                    Some("link") => proto::RT_SCOPE_LINK,
                    Some("host") => proto::RT_SCOPE_HOST,
                    Some(n) => n.parse().map_err(|_| format!("{what}: scope `{n}` is unknown (known: global, link, host)"))?,
                };
                Action::RouteAdd { dev: p.key("dev").expect("required").to_string(), route: r }
            }
        }
        ("route", "flush") => Action::RouteFlush { dev: dev_of(p) },
        ("neigh", "show") => Action::NeighShow { dev: dev_of(p) },
        ("neigh", "add") | ("neigh", "del") => {
            let s = p.pos("ADDR").expect("required");
            let what = format!("neigh {s}");
            let addr: IpAddr = s.parse().map_err(|_| format!("{what}: not an IP address"))?;
            check_family(&what, addr, v6)?;
            let lladdr = p.key("lladdr").map(|m| mac(&what, m)).transpose()?;
            let neigh = Neigh { index: 0, addr, lladdr, state: proto::NUD_PERMANENT };
            if p.command == "add" {
                Action::NeighAdd { dev: dev_of(p).expect("required"), neigh }
            } else {
                Action::NeighDel { dev: dev_of(p), neigh }
            }
        }
        ("neigh", "flush") => Action::NeighFlush { dev: dev_of(p) },
        ("stats", _) => Action::Stats,
        (o, c) => unreachable!("{o} {c} is in the grammar but not here"),
    })
}

/// The connection to dpvsd.
pub struct Client {
    sock: SeqPacket,
    seq: u32,
    buf: Vec<u8>,
}

fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}

fn refused(errno: i32, msg: &str) -> Failure {
    Failure {
        status: 2,
        msg: if msg.is_empty() { format!("RTNETLINK answers: {}", strerror(errno)) } else { msg.to_string() },
    }
}

impl Client {
    /// Connects and checks the protocol version.
    pub fn connect(path: &std::path::Path) -> Result<Client, Failure> {
        // ip exits 1 when it cannot open its rtnetlink socket
        let sock = SeqPacket::connect(path).map_err(|e| Failure {
            status: 1,
            msg: format!("cannot reach dpvsd at {}: {}", path.display(), strerror(e.raw_os_error().unwrap_or(0))),
        })?;
        let mut c = Client { sock, seq: 0, buf: Vec::new() };
        let hello = c.request(&Request::Hello(Hello { version: proto::VERSION, name: format!("dpip {}", env!("CARGO_PKG_VERSION")) }))?;
        match hello.first() {
            Some(Reply::Hello(h)) if h.version == proto::VERSION => Ok(c),
            other => Err(Failure { status: 2, msg: format!("dpvsd answered the version handshake with {other:?}") }),
        }
    }

    /// Sends `req` and collects its replies (until DONE for a dump, the ACK otherwise).
    pub fn request(&mut self, req: &Request) -> Result<Vec<Reply>, Failure> {
        self.seq += 1;
        let seq = self.seq;
        let io = |e: std::io::Error| Failure { status: 2, msg: format!("talking to dpvsd: {e}") };
        self.sock.send(&req.encode(seq)).map_err(io)?;
        let dump = matches!(
            req,
            Request::GetLinks | Request::GetAddrs(_) | Request::GetRoutes(_) | Request::GetNeighs(_) | Request::GetStats
        );
        // a HELLO is answered by its reply alone
        let single = matches!(req, Request::Hello(_));
        let mut replies = Vec::new();
        loop {
            let n = self.sock.recv(&mut self.buf).map_err(io)?;
            if n == 0 {
                return Err(Failure { status: 2, msg: "dpvsd closed the connection".into() });
            }
            for (_, bytes) in proto::split(&self.buf[..n]) {
                let (s, answer) = proto::decode_answer(bytes)
                    .map_err(|e| Failure { status: 2, msg: format!("unreadable answer from dpvsd: {e}") })?;
                if s != seq {
                    continue;
                }
                match answer {
                    Answer::Reply(r) => {
                        replies.push(r);
                        if single {
                            return Ok(replies);
                        }
                    }
                    Answer::Error { errno, msg } => return Err(refused(errno, &msg)),
                    Answer::Done if dump => return Ok(replies),
                    Answer::Ack if !dump => return Ok(replies),
                    Answer::Done | Answer::Ack => {}
                }
            }
        }
    }

    fn links(&mut self) -> Result<Vec<Link>, Failure> {
        Ok(self.request(&Request::GetLinks)?.into_iter().filter_map(|r| if let Reply::Link(l) = r { Some(l) } else { None }).collect())
    }
}

fn index_of(links: &[Link], what: &str, dev: &str) -> Result<u32, Failure> {
    links
        .iter()
        .find(|l| l.name == dev)
        .map(|l| l.index)
        .ok_or_else(|| usage_error(format!("{what}: cannot find device \"{dev}\"")))
}

fn only(links: Vec<Link>, dev: Option<&str>, what: &str) -> Result<Vec<Link>, Failure> {
    match dev {
        None => Ok(links),
        Some(d) => {
            let i = index_of(&links, what, d)?;
            Ok(links.into_iter().filter(|l| l.index == i).collect())
        }
    }
}

fn family_ok(v6: Option<bool>, a: IpAddr) -> bool {
    v6.is_none_or(|v| a.is_ipv6() == v)
}

/// Runs `action` against dpvsd; returns what to print.
pub fn execute(c: &mut Client, o: &Options, action: &Action) -> Result<String, Failure> {
    let fam = proto::family_byte(o.v6);
    let st = o.style;
    let links = c.links()?;
    Ok(match action {
        Action::LinkShow { dev } => format::links(&only(links, dev.as_deref(), "link show")?, st),
        Action::LinkSet { dev, up, mtu } => {
            let index = index_of(&links, "link set", dev)?;
            c.request(&Request::SetLink(LinkChange { index, up: *up, mtu: *mtu }))?;
            String::new()
        }
        Action::AddrShow { dev } => {
            let ls = only(links, dev.as_deref(), "addr show")?;
            let addrs: Vec<Addr> = c
                .request(&Request::GetAddrs(fam))?
                .into_iter()
                .filter_map(|r| if let Reply::Addr(a) = r { Some(a) } else { None })
                .filter(|a| family_ok(o.v6, a.addr))
                .collect();
            // with -4 or -6, as ip: only the ports that have an address of that family
            let ls: Vec<Link> = ls.into_iter().filter(|l| o.v6.is_none() || addrs.iter().any(|a| a.index == l.index)).collect();
            format::addrs(&ls, &addrs, st, o.v6.is_some())
        }
        Action::AddrAdd { dev, addr } => {
            let index = index_of(&links, &format!("addr {}/{}", addr.addr, addr.len), dev)?;
            c.request(&Request::AddAddr(Addr { index, ..*addr }))?;
            String::new()
        }
        Action::AddrDel { dev, addr } => {
            let index = match dev {
                Some(d) => index_of(&links, &format!("addr {}", addr.addr), d)?,
                None => 0,
            };
            c.request(&Request::DelAddr(Addr { index, ..*addr }))?;
            String::new()
        }
        Action::AddrFlush { dev } => flush(c, &links, FlushObject::Addr, fam, Some(dev), st)?,
        Action::RouteShow { table } => {
            let routes: Vec<Route> = c
                .request(&Request::GetRoutes(fam))?
                .into_iter()
                .filter_map(|r| if let Reply::Route(r) = r { Some(r) } else { None })
                .filter(|r| match table {
                    Table::Main => r.table == proto::RT_TABLE_MAIN,
                    Table::Local => r.table == proto::RT_TABLE_LOCAL,
                    Table::All => true,
                })
                .collect();
            format::routes(&links, &routes, st)
        }
        Action::RouteAdd { dev, route } => {
            let oif = index_of(&links, &format!("route {}/{}", route.dst, route.len), dev)?;
            c.request(&Request::AddRoute(Route { oif, ..*route }))?;
            String::new()
        }
        Action::RouteDel { route } => {
            c.request(&Request::DelRoute(*route))?;
            String::new()
        }
        Action::RouteFlush { dev } => flush(c, &links, FlushObject::Route, fam, dev.as_deref(), st)?,
        Action::NeighShow { dev } => {
            let index = dev.as_deref().map(|d| index_of(&links, "neigh show", d)).transpose()?;
            let neighs: Vec<Neigh> = c
                .request(&Request::GetNeighs(fam))?
                .into_iter()
                .filter_map(|r| if let Reply::Neigh(n) = r { Some(n) } else { None })
                .filter(|n| index.is_none_or(|i| n.index == i) && family_ok(o.v6, n.addr))
                .collect();
            format::neighs(&links, &neighs, st)
        }
        Action::NeighAdd { dev, neigh } => {
            let index = index_of(&links, &format!("neigh {}", neigh.addr), dev)?;
            c.request(&Request::AddNeigh(Neigh { index, ..*neigh }))?;
            String::new()
        }
        Action::NeighDel { dev, neigh } => {
            let index = match dev {
                Some(d) => index_of(&links, &format!("neigh {}", neigh.addr), d)?,
                None => 0,
            };
            c.request(&Request::DelNeigh(Neigh { index, ..*neigh }))?;
            String::new()
        }
        Action::NeighFlush { dev } => flush(c, &links, FlushObject::Neigh, fam, dev.as_deref(), st)?,
        Action::Stats => {
            let w: Vec<proto::WorkerStats> = c
                .request(&Request::GetStats)?
                .into_iter()
                .filter_map(|r| if let Reply::Stats(s) = r { Some(s) } else { None })
                .collect();
            format::stats(&w, st)
        }
    })
}

/// A flush; with -s, how many went (as ip's `*** Round 1, deleting N entries ***`).
fn flush(c: &mut Client, links: &[Link], object: FlushObject, family: u8, dev: Option<&str>, st: Style) -> Result<String, Failure> {
    let what = match object {
        FlushObject::Addr => "addr flush",
        FlushObject::Route => "route flush",
        FlushObject::Neigh => "neigh flush",
    };
    let index = dev.map(|d| index_of(links, what, d)).transpose()?.unwrap_or(0);
    let r = c.request(&Request::Flush(Flush { object, family, index }))?;
    let n = r.iter().find_map(|r| if let Reply::Flushed(n) = r { Some(*n) } else { None }).unwrap_or(0);
    Ok(if st.stats > 0 { format!("\n*** Round 1, deleting {n} entries ***\n*** Flush is complete after 1 round ***\n") } else { String::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(s: &str) -> Result<Invocation, Failure> {
        invocation(&s.split_whitespace().map(String::from).collect::<Vec<_>>(), None)
    }

    fn act(s: &str) -> Action {
        match inv(s) {
            Ok(Invocation::Run(_, a)) => a,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn err(s: &str) -> String {
        match inv(s) {
            Err(f) => {
                assert_eq!(f.status, 1, "{s}");
                f.msg
            }
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn options() {
        match inv("-6 -s -s -j -p --socket /tmp/x.sock route").unwrap() {
            Invocation::Run(o, Action::RouteShow { table: Table::Main }) => {
                assert_eq!(o.v6, Some(true));
                assert_eq!(o.style, Style { stats: 2, json: true, pretty: true });
                assert_eq!(o.socket, PathBuf::from("/tmp/x.sock"));
            }
            other => panic!("{other:?}"),
        }
        match invocation(&["link".into()], Some("/run/y.sock".into())).unwrap() {
            Invocation::Run(o, _) => assert_eq!(o.socket, PathBuf::from("/run/y.sock")),
            other => panic!("{other:?}"),
        }
        match inv("link").unwrap() {
            Invocation::Run(o, _) => assert_eq!(o.socket, PathBuf::from("/run/dpvsd/dpip.sock")),
            other => panic!("{other:?}"),
        }
        assert_eq!(inv("help").unwrap(), Invocation::Help);
        assert_eq!(inv("-V").unwrap(), Invocation::Version);
        assert_eq!(err("-x link"), "option `-x` is unknown (try `dpip help`)");
        assert_eq!(err("--socket"), "option `--socket` needs a value (PATH)");
    }

    #[test]
    fn bad_input_names_object_and_argument() {
        assert_eq!(err("route add 10.0.0.0/33 dev dpdk0"), "route 10.0.0.0/33: prefix length must be 0..32");
        assert_eq!(err("route add 10.0.0.1/24 dev dpdk0"), "route 10.0.0.1/24: host bits set beyond the prefix length");
        assert_eq!(err("route add 10.0.0.0/8 via fd00::1 dev dpdk0"), "route 10.0.0.0/8: via fd00::1 is not of the route's family");
        assert_eq!(err("route add 10.0.0.0/8 dev p metric x"), "route 10.0.0.0/8: metric `x` is not a number");
        assert_eq!(err("route add 10.0.0.0/8 dev p scope bogus"), "route 10.0.0.0/8: scope `bogus` is unknown (known: global, link, host)");
        assert_eq!(err("addr add 10.0.0.300/24 dev p"), "addr 10.0.0.300/24: `10.0.0.300` is not an IP address");
        assert_eq!(err("addr add fd00::1/129 dev p"), "addr fd00::1/129: prefix length must be 0..128");
        assert_eq!(err("-4 addr add fd00::1/64 dev p"), "addr fd00::1/64: not an IPv4 address (-4)");
        assert_eq!(err("neigh add 10.0.0.1 lladdr 02:00:00:00:00 dev p"), "neigh 10.0.0.1: lladdr `02:00:00:00:00` is not a MAC address");
        assert_eq!(err("neigh add 10.0.0.1 dev p"), "neigh add: needs lladdr MAC");
        assert_eq!(err("link set p mtu big"), "link p: mtu `big` is not a number");
        assert_eq!(err("link set p"), "link p: nothing to change (up, down or mtu N)");
        assert_eq!(err("route show table x"), "route show: table `x` is unknown (known: main, local, all)");
    }

    #[test]
    fn actions() {
        let mut r = Route::new("10.1.0.0".parse().unwrap(), 16);
        r.gateway = Some("10.90.1.254".parse().unwrap());
        r.metric = Some(5);
        assert_eq!(act("route add 10.1.0.0/16 via 10.90.1.254 dev dpdk0 metric 5"), Action::RouteAdd { dev: "dpdk0".into(), route: r });
        let mut d = Route::new("::".parse().unwrap(), 0);
        d.gateway = Some("fd00::1".parse().unwrap());
        assert_eq!(act("route add default via fd00::1 dev p"), Action::RouteAdd { dev: "p".into(), route: d });
        let mut l = Route::new("10.1.1.1".parse().unwrap(), 32);
        l.scope = proto::RT_SCOPE_LINK;
        assert_eq!(act("r a 10.1.1.1 dev p"), Action::RouteAdd { dev: "p".into(), route: l });
        assert_eq!(
            act("addr add 10.90.2.3/24 dev dpdk1 sapool"),
            Action::AddrAdd {
                dev: "dpdk1".into(),
                addr: Addr { index: 0, addr: "10.90.2.3".parse().unwrap(), len: 24, scope: 0, sapool: true }
            }
        );
        assert!(matches!(act("addr del 10.90.2.3"), Action::AddrDel { addr: Addr { len: 0, .. }, dev: None }));
        assert_eq!(act("link set dpdk0 down"), Action::LinkSet { dev: "dpdk0".into(), up: Some(false), mtu: None });
        assert_eq!(act("link show dpdk0"), Action::LinkShow { dev: Some("dpdk0".into()) });
        assert_eq!(act("-s stats"), Action::Stats);
        assert!(matches!(act("neigh add 10.0.0.1 lladdr 02:00:00:00:00:0a dev p"), Action::NeighAdd { neigh: Neigh { lladdr: Some([2, 0, 0, 0, 0, 10]), .. }, .. }));
    }
}
