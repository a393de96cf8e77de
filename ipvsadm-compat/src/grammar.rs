//! ipvsadm 1.31's grammar: its option table (`parse_options`), the command/option legality
//! table (`commands_v_options`), the tunnel-option table, and the checks `process_options` makes
//! before it talks to IPVS; plus DPVS's extensions, which only add options.
//!
//! The result is a [`CommandEntry`] shaped like ipvsadm's `struct ipvs_command_entry`, or a
//! [`Stop`]: what ipvsadm prints and the status it exits with (or returns, for a popt error).

use ipvs_genl::consts::{daemon_state, fwd, svc_flags, AF_INET, AF_INET6};

use crate::parse::{self, Endpoint, Names};
use crate::popt::{ArgKind, Next, OptSpec, Scanner};

/// `MAX_TIMEOUT`: 31 days.
pub const MAX_TIMEOUT: i64 = 86400 * 31;
/// `IPVS_SVC_PERSISTENT_TIMEOUT`.
pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = 6 * 60;
/// `DEF_SCHED`.
pub const DEF_SCHED: &str = "wlc";
/// `DEF_MCAST_IFN`.
pub const DEF_MCAST_IFN: &str = "eth0";

/// The commands, in ipvsadm's `CMD_*` order, then DPVS's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
    // DPVS's extensions.
    AddLaddr,
    DelLaddr,
    GetLaddr,
    AddBlklst,
    DelBlklst,
    GetBlklst,
    AddWhtlst,
    DelWhtlst,
    GetWhtlst,
}

impl Cmd {
    /// `cmdnames[]`.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::Add => "add-service",
            Cmd::Edit => "edit-service",
            Cmd::Del => "delete-service",
            Cmd::Flush => "flush",
            Cmd::List => "list",
            Cmd::AddDest => "add-server",
            Cmd::DelDest => "delete-server",
            Cmd::EditDest => "edit-server",
            Cmd::Timeout => "set",
            Cmd::StartDaemon => "start-daemon",
            Cmd::StopDaemon => "stop-daemon",
            Cmd::Restore => "restore",
            Cmd::Save => "save",
            Cmd::Zero => "zero",
            Cmd::AddLaddr => "add-laddr",
            Cmd::DelLaddr => "del-laddr",
            Cmd::GetLaddr => "get-laddr",
            Cmd::AddBlklst => "add-blklst",
            Cmd::DelBlklst => "del-blklst",
            Cmd::GetBlklst => "get-blklst",
            Cmd::AddWhtlst => "add-whtlst",
            Cmd::DelWhtlst => "del-whtlst",
            Cmd::GetWhtlst => "get-whtlst",
        }
    }

    /// The command's row of the legality table: one character per option (`OPTC_*` order),
    /// '+' compulsory, 'x' illegal, '1' exclusive, '.' optional. The first part is ipvsadm's
    /// `commands_v_options` row (34 options); the second DPVS's -z -F -k -2 -j.
    fn row(self) -> (&'static [u8; 34], &'static [u8; 5]) {
        //                                  -n-csvc-s-p-M-rfw-w-x-ymctodm.st.rtth.pcsrsiexop.pe-bgrpottsitityprtnocsre
        const NONE: &[u8; 34] = b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
        const SVC_ONLY: &[u8; 34] = b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
        const SVC_OPT: &[u8; 34] = b"xx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
        match self {
            Cmd::Add | Cmd::Edit => (b"xx+...xxxxxxxxxxxxxxx...xxxxxxxxxx", b"xxxx."),
            Cmd::Del => (SVC_ONLY, b"xxxxx"),
            Cmd::Flush | Cmd::Timeout | Cmd::Restore => (NONE, b"xxxxx"),
            Cmd::List => (b".11xxxxxxxxx11.......xxxxxxx.xxxxx", b"xxxxx"),
            Cmd::AddDest | Cmd::EditDest => (b"xx+xxx+....xxxxxxxxxxxxxxxxxx.....", b"xxxxx"),
            Cmd::DelDest => (b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx", b"xxxxx"),
            Cmd::StartDaemon => (b"xxxxxxxxxxx.xxxxxxx.xxxx....xxxxxx", b"xxxxx"),
            Cmd::StopDaemon => (b"xxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxx", b"xxxxx"),
            Cmd::Save => (b".xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", b"xxxxx"),
            Cmd::Zero => (SVC_OPT, b"xxxxx"),
            Cmd::AddLaddr | Cmd::DelLaddr => (SVC_ONLY, b"+.xxx"),
            Cmd::GetLaddr | Cmd::GetBlklst | Cmd::GetWhtlst => (SVC_OPT, b"xxxxx"),
            Cmd::AddBlklst | Cmd::DelBlklst => (SVC_ONLY, b"xx+xx"),
            Cmd::AddWhtlst | Cmd::DelWhtlst => (SVC_ONLY, b"xxx+x"),
        }
    }

    /// The rule for option `j` (`OPTC_*`).
    fn rule(self, j: usize) -> u8 {
        let (up, dpvs) = self.row();
        if j < 34 {
            up[j]
        } else {
            dpvs[j - 34]
        }
    }
}

/// ipvsadm's 34 options, then DPVS's 5.
pub const NUMBER_OF_OPT: usize = 39;

/// `OPTC_*`: bit numbers in the options mask.
pub mod optc {
    pub const NUMERIC: usize = 0;
    pub const CONNECTION: usize = 1;
    pub const SERVICE: usize = 2;
    pub const SCHEDULER: usize = 3;
    pub const PERSISTENT: usize = 4;
    pub const NETMASK: usize = 5;
    pub const SERVER: usize = 6;
    pub const FORWARD: usize = 7;
    pub const WEIGHT: usize = 8;
    pub const UTHRESHOLD: usize = 9;
    pub const LTHRESHOLD: usize = 10;
    pub const MCAST: usize = 11;
    pub const TIMEOUT: usize = 12;
    pub const DAEMON: usize = 13;
    pub const STATS: usize = 14;
    pub const RATE: usize = 15;
    pub const THRESHOLDS: usize = 16;
    pub const PERSISTENTCONN: usize = 17;
    pub const NOSORT: usize = 18;
    pub const SYNCID: usize = 19;
    pub const EXACT: usize = 20;
    pub const ONEPACKET: usize = 21;
    pub const PERSISTENCE_ENGINE: usize = 22;
    pub const SCHED_FLAGS: usize = 23;
    pub const MCAST_GROUP: usize = 24;
    pub const MCAST_PORT: usize = 25;
    pub const MCAST_TTL: usize = 26;
    pub const SYNC_MAXLEN: usize = 27;
    pub const TUN_INFO: usize = 28;
    pub const TUN_TYPE: usize = 29;
    pub const TUN_PORT: usize = 30;
    pub const TUN_NOCSUM: usize = 31;
    pub const TUN_CSUM: usize = 32;
    pub const TUN_REMCSUM: usize = 33;
    pub const LADDR: usize = 34;
    pub const IFNAME: usize = 35;
    pub const BLKLST: usize = 36;
    pub const WHTLST: usize = 37;
    pub const SYNPROXY: usize = 38;
}

/// `optnames[]`.
pub const OPTNAMES: [&str; NUMBER_OF_OPT] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
    "laddr",
    "ifname",
    "blklst",
    "whtlst",
    "synproxy",
];

/// `FMT_*` output flags.
pub mod fmt {
    pub const NUMERIC: u32 = 0x0001;
    pub const RULE: u32 = 0x0002;
    pub const STATS: u32 = 0x0004;
    pub const RATE: u32 = 0x0008;
    pub const THRESHOLDS: u32 = 0x0010;
    pub const PERSISTENTCONN: u32 = 0x0020;
    pub const NOSORT: u32 = 0x0040;
    pub const EXACT: u32 = 0x0080;
    pub const TUN_INFO: u32 = 0x0100;
}

/// `tunnames[]`.
pub const TUNNAMES: [&str; 3] = ["ipip", "gue", "gre"];

// Option tags: the short letter where there is one, else a value above ASCII (`TAG_*`).
const TAG_SET: u32 = 128;
const TAG_START_DAEMON: u32 = 129;
const TAG_STOP_DAEMON: u32 = 130;
const TAG_MCAST_INTERFACE: u32 = 131;
const TAG_TIMEOUT: u32 = 132;
const TAG_DAEMON: u32 = 133;
const TAG_STATS: u32 = 134;
const TAG_RATE: u32 = 135;
const TAG_THRESHOLDS: u32 = 136;
const TAG_PERSISTENTCONN: u32 = 137;
const TAG_SORT: u32 = 138;
const TAG_NO_SORT: u32 = 139;
const TAG_PERSISTENCE_ENGINE: u32 = 140;
const TAG_SCTP_SERVICE: u32 = 141;
const TAG_MCAST_GROUP: u32 = 142;
const TAG_MCAST_PORT: u32 = 143;
const TAG_MCAST_TTL: u32 = 144;
const TAG_SYNC_MAXLEN: u32 = 145;
const TAG_TUN_INFO: u32 = 146;
const TAG_TUN_TYPE: u32 = 147;
const TAG_TUN_PORT: u32 = 148;
const TAG_TUN_NOCSUM: u32 = 149;
const TAG_TUN_CSUM: u32 = 150;
const TAG_TUN_REMCSUM: u32 = 151;
const TAG_FULLNAT: u32 = 152;

const fn o(long: &'static str, short: u8, arg: ArgKind, val: u32) -> OptSpec {
    OptSpec { long: Some(long), short: if short == 0 { None } else { Some(short) }, arg, val }
}
const fn c(ch: u8) -> u32 {
    ch as u32
}

use ArgKind::{None as N, Optional as Opt, Required as S};

/// ipvsadm 1.31's popt table, then DPVS's additions (short letters only where they do not
/// collide with an upstream letter: DPVS's `-b` for full-NAT is `--fullnat` here, because
/// upstream's `-b` is `--sched-flags`).
pub const OPTIONS: &[OptSpec] = &[
    o("add-service", b'A', N, c(b'A')),
    o("edit-service", b'E', N, c(b'E')),
    o("delete-service", b'D', N, c(b'D')),
    o("clear", b'C', N, c(b'C')),
    o("list", b'L', N, c(b'L')),
    o("list", b'l', N, c(b'l')),
    o("zero", b'Z', N, c(b'Z')),
    o("add-server", b'a', N, c(b'a')),
    o("edit-server", b'e', N, c(b'e')),
    o("delete-server", b'd', N, c(b'd')),
    o("set", 0, N, TAG_SET),
    o("help", b'h', N, c(b'h')),
    o("version", b'v', N, c(b'v')),
    o("restore", b'R', N, c(b'R')),
    o("save", b'S', N, c(b'S')),
    o("start-daemon", 0, S, TAG_START_DAEMON),
    o("stop-daemon", 0, S, TAG_STOP_DAEMON),
    o("add-laddr", b'P', N, c(b'P')),
    o("del-laddr", b'Q', N, c(b'Q')),
    o("get-laddr", b'G', N, c(b'G')),
    o("add-blklst", b'U', N, c(b'U')),
    o("del-blklst", b'V', N, c(b'V')),
    o("get-blklst", b'B', N, c(b'B')),
    o("add-whtlst", b'O', N, c(b'O')),
    o("del-whtlst", b'Y', N, c(b'Y')),
    o("get-whtlst", b'W', N, c(b'W')),
    o("tcp-service", b't', S, c(b't')),
    o("udp-service", b'u', S, c(b'u')),
    o("sctp-service", 0, S, TAG_SCTP_SERVICE),
    o("fwmark-service", b'f', S, c(b'f')),
    o("scheduler", b's', S, c(b's')),
    o("persistent", b'p', Opt, c(b'p')),
    o("netmask", b'M', S, c(b'M')),
    o("real-server", b'r', S, c(b'r')),
    o("masquerading", b'm', N, c(b'm')),
    o("ipip", b'i', N, c(b'i')),
    o("gatewaying", b'g', N, c(b'g')),
    o("fullnat", 0, N, TAG_FULLNAT),
    o("weight", b'w', S, c(b'w')),
    o("u-threshold", b'x', S, c(b'x')),
    o("l-threshold", b'y', S, c(b'y')),
    o("numeric", b'n', N, c(b'n')),
    o("connection", b'c', N, c(b'c')),
    o("mcast-interface", 0, S, TAG_MCAST_INTERFACE),
    o("syncid", 0, S, c(b'I')),
    o("timeout", 0, N, TAG_TIMEOUT),
    o("daemon", 0, N, TAG_DAEMON),
    o("stats", 0, N, TAG_STATS),
    o("rate", 0, N, TAG_RATE),
    o("thresholds", 0, N, TAG_THRESHOLDS),
    o("persistent-conn", 0, N, TAG_PERSISTENTCONN),
    o("nosort", 0, N, TAG_NO_SORT),
    o("sort", 0, N, TAG_SORT),
    o("exact", b'X', N, c(b'X')),
    o("ipv6", b'6', N, c(b'6')),
    o("ops", b'o', N, c(b'o')),
    o("pe", 0, S, TAG_PERSISTENCE_ENGINE),
    o("sched-flags", b'b', S, c(b'b')),
    o("mcast-group", 0, S, TAG_MCAST_GROUP),
    o("mcast-port", 0, S, TAG_MCAST_PORT),
    o("mcast-ttl", 0, S, TAG_MCAST_TTL),
    o("sync-maxlen", 0, S, TAG_SYNC_MAXLEN),
    o("tun-info", 0, N, TAG_TUN_INFO),
    o("tun-type", 0, S, TAG_TUN_TYPE),
    o("tun-port", 0, S, TAG_TUN_PORT),
    o("tun-nocsum", 0, N, TAG_TUN_NOCSUM),
    o("tun-csum", 0, N, TAG_TUN_CSUM),
    o("tun-remcsum", 0, N, TAG_TUN_REMCSUM),
    o("laddr", b'z', S, c(b'z')),
    o("ifname", b'F', S, c(b'F')),
    o("blklst", b'k', S, c(b'k')),
    o("whtlst", b'2', S, c(b'2')),
    o("synproxy", b'j', S, c(b'j')),
];

/// `ipvs_service_t`, as ipvsadm fills it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Svc {
    pub af: u16,
    pub protocol: u16,
    pub addr: [u8; 16],
    /// Host order.
    pub port: u16,
    pub fwmark: u32,
    pub sched_name: String,
    pub pe_name: String,
    pub flags: u32,
    pub timeout: u32,
    /// The C `u_int32_t`: an IPv4 mask as its network-order bytes in memory, or an IPv6
    /// prefix length.
    pub netmask: u32,
}

/// `ipvs_dest_t`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dest {
    pub af: u16,
    pub addr: [u8; 16],
    /// Host order.
    pub port: u16,
    pub conn_flags: u32,
    pub weight: i32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub tun_type: u8,
    /// Host order.
    pub tun_port: u16,
    pub tun_flags: u16,
}

/// `ipvs_daemon_t`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaemonCfg {
    pub state: u32,
    pub mcast_ifn: String,
    pub syncid: u32,
    pub sync_maxlen: u16,
    pub mcast_af: u16,
    pub mcast_group: [u8; 16],
    pub mcast_port: u16,
    pub mcast_ttl: u8,
}

/// `ipvs_timeout_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeoutCfg {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// `struct ipvs_command_entry` plus what `parse_options` returns beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandEntry {
    pub cmd: Cmd,
    pub svc: Svc,
    pub dest: Dest,
    pub timeout: TimeoutCfg,
    pub daemon: DaemonCfg,
    /// Bits `1 << OPTC_*`.
    pub options: u64,
    /// `FMT_*`.
    pub format: u32,
    /// DPVS: `--synproxy enable|disable` was given.
    pub synproxy: Option<bool>,
}

impl CommandEntry {
    pub fn has(&self, optc: usize) -> bool {
        self.options & (1u64 << optc) != 0
    }
}

/// How ipvsadm stops short of talking to IPVS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// `exit(code)` after printing (fail, tryhelp, usage, version).
    Exit { code: i32, stdout: String, stderr: String },
    /// `process_options` returns -1 after printing (a popt error after the command).
    Return { stderr: String },
}

fn fail(msg: impl Into<String>) -> Stop {
    let mut s = msg.into();
    s.push('\n');
    Stop::Exit { code: 2, stdout: String::new(), stderr: s }
}

/// `tryhelp_exit(program, -1)`.
pub fn tryhelp(program: &str) -> Stop {
    Stop::Exit {
        code: 255,
        stdout: String::new(),
        stderr: format!("Try `{program} -h' or '{program} --help' for more information.\n"),
    }
}

/// `version()`'s line.
pub fn version_line() -> String {
    "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n".to_string()
}

/// The schedulers and persistence engines named in the help text (ipvsadm's SCHEDULERS and
/// PERSISTENCE_ENGINES files).
const SCHEDULERS: &str = "rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh";
const PE_LIST: &str = "sip";

/// `usage_exit(program, 0)`'s text, then DPVS's extensions.
pub fn usage(program: &str) -> String {
    let p = program;
    let mut s = version_line();
    s.push_str("Usage:\n");
    for tail in [
        "-A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]",
        "-D virtual-service",
        "-C",
        "-R",
        "-S [-n]",
        "-a|e virtual-service -r server-address [options]",
        "-d virtual-service -r server-address",
        "-L|l [virtual-service] [options]",
        "-Z [virtual-service]",
        "--set tcp tcpfin udp",
        "--start-daemon {master|backup} [daemon-options]",
        "--stop-daemon {master|backup}",
        "-h",
    ] {
        s.push_str(&format!("  {p} {tail}\n"));
    }
    s.push('\n');
    s.push_str(concat!(
        "Commands:\n",
        "Either long or short options are allowed.\n",
        "  --add-service     -A        add virtual service with options\n",
        "  --edit-service    -E        edit virtual service with options\n",
        "  --delete-service  -D        delete virtual service\n",
        "  --clear           -C        clear the whole table\n",
        "  --restore         -R        restore rules from stdin\n",
        "  --save            -S        save rules to stdout\n",
        "  --add-server      -a        add real server with options\n",
        "  --edit-server     -e        edit real server with options\n",
        "  --delete-server   -d        delete real server\n",
        "  --list            -L|-l     list the table\n",
        "  --zero            -Z        zero counters in a service or all services\n",
        "  --set tcp tcpfin udp        set connection timeout values\n",
        "  --start-daemon              start connection sync daemon\n",
        "  --stop-daemon               stop connection sync daemon\n",
        "  --help            -h        display this help message\n\n",
        "virtual-service:\n",
        "  --tcp-service|-t  service-address   service-address is host[:port]\n",
        "  --udp-service|-u  service-address   service-address is host[:port]\n",
        "  --sctp-service    service-address   service-address is host[:port]\n",
        "  --fwmark-service|-f fwmark          fwmark is an integer greater than zero\n",
        "\n",
        "Options:\n",
        "  --ipv6         -6                   fwmark entry uses IPv6\n",
    ));
    s.push_str(&format!("  --scheduler    -s scheduler         one of {SCHEDULERS},\n"));
    s.push_str(&format!("                                      the default scheduler is {DEF_SCHED}.\n"));
    s.push_str(&format!("  --pe            engine              alternate persistence engine may be {PE_LIST},\n"));
    s.push_str(concat!(
        "                                      not set by default.\n",
        "  --persistent   -p [timeout]         persistent service\n",
        "  --netmask      -M netmask           persistent granularity mask\n",
        "  --real-server  -r server-address    server-address is host (and port)\n",
        "  --gatewaying   -g                   gatewaying (direct routing) (default)\n",
        "  --ipip         -i                   ipip encapsulation (tunneling)\n",
        "  --masquerading -m                   masquerading (NAT)\n",
        "  --tun-type      type                one of ipip|gue|gre,\n",
        "                                      the default tunnel type is ipip.\n",
        "  --tun-port      port                tunnel destination port\n",
        "  --tun-nocsum                        tunnel encapsulation without checksum\n",
        "  --tun-csum                          tunnel encapsulation with checksum\n",
        "  --tun-remcsum                       tunnel encapsulation with remote checksum\n",
        "  --weight       -w weight            capacity of real server\n",
        "  --u-threshold  -x uthreshold        upper threshold of connections\n",
        "  --l-threshold  -y lthreshold        lower threshold of connections\n",
        "  --connection   -c                   output of current IPVS connections\n",
        "  --timeout                           output of timeout (tcp tcpfin udp)\n",
        "  --daemon                            output of daemon information\n",
        "  --stats                             output of statistics information\n",
        "  --rate                              output of rate information\n",
        "  --exact                             expand numbers (display exact values)\n",
        "  --thresholds                        output of thresholds information\n",
        "  --persistent-conn                   output of persistent connection info\n",
        "  --tun-info                          output of tunnel information\n",
        "  --nosort                            disable sorting output of service/server entries\n",
        "  --sort                              does nothing, for backwards compatibility\n",
        "  --ops          -o                   one-packet scheduling\n",
        "  --numeric      -n                   numeric output of addresses and ports\n",
        "  --sched-flags  -b flags             scheduler flags (comma-separated)\n",
        "Daemon Options:\n",
        "  --syncid sid                        syncid for connection sync (default=255)\n",
        "  --sync-maxlen length                Max sync message length (default=1472)\n",
        "  --mcast-interface interface         multicast interface for connection sync\n",
        "  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)\n",
        "  --mcast-port port                   UDP port (default=8848)\n",
        "  --mcast-ttl ttl                     Multicast TTL (default=1)\n",
    ));
    s
}

/// What parsing asks of the caller besides the command entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Command(Box<CommandEntry>),
    /// `-h`: the usage on stdout, exit 0.
    Help,
    /// `-v`: the version on stdout, exit 0.
    Version,
}

fn set_option(options: &mut u64, optc: usize) -> Result<(), Stop> {
    let bit = 1u64 << optc;
    if *options & bit != 0 {
        return Err(fail(format!("multiple '{}' options specified", OPTNAMES[optc])));
    }
    *options |= bit;
    Ok(())
}

fn protocol_of(val: u32) -> u16 {
    match val {
        v if v == c(b't') => 6,
        v if v == c(b'u') => 17,
        TAG_SCTP_SERVICE => 132,
        _ => 0,
    }
}

fn parse_timeout(buf: Option<&str>, min: i64, max: i64) -> Result<u32, Stop> {
    let Some(buf) = buf else { return Ok(DEFAULT_PERSISTENT_TIMEOUT) };
    parse::string_to_number(buf, min, max)
        .map(|v| v as u32)
        .ok_or_else(|| fail(format!("invalid timeout value `{buf}' specified")))
}

fn parse_sched_flags(sched: &str, arg: &str) -> Result<u32, Stop> {
    let sched = if sched.is_empty() { DEF_SCHED } else { sched };
    let mut flags = 0;
    // strtok(optarg, ","): empty tokens are skipped; an all-comma string yields one NULL
    // token, which ipvsadm would pass to strcmp (a crash): refuse it as invalid instead.
    let tokens: Vec<&str> = arg.split(',').filter(|t| !t.is_empty()).collect();
    if tokens.is_empty() {
        return Err(fail(format!("invalid scheduler flag `{arg}'")));
    }
    for flag in tokens {
        let (bit, needs) = match flag {
            "flag-1" => (svc_flags::SCHED1, None),
            "flag-2" => (svc_flags::SCHED2, None),
            "flag-3" => (svc_flags::SCHED3, None),
            "sh-fallback" => (svc_flags::SCHED1, Some("sh")),
            "sh-port" => (svc_flags::SCHED2, Some("sh")),
            "mh-fallback" => (svc_flags::SCHED1, Some("mh")),
            "mh-port" => (svc_flags::SCHED2, Some("mh")),
            _ => return Err(fail(format!("invalid scheduler flag `{flag}'"))),
        };
        flags |= bit;
        if needs.is_some_and(|n| n != sched) {
            return Err(fail(format!("incompatible scheduler flag `{flag}'")));
        }
    }
    Ok(flags)
}

/// `strncpy(dst, src, n)` into a zeroed buffer read back as a C string: at most `n` bytes.
fn cstr_prefix(s: &str, n: usize) -> String {
    let mut s = s.to_string();
    parse::truncate_bytes(&mut s, n);
    s
}

/// `parse_options` and the checks of `process_options` (up to the IPVS calls), for
/// `argv` (argv[0] included). `program` is what ipvsadm's messages call argv[0].
pub fn parse(argv: &[String], names: &dyn Names) -> Result<Parsed, Stop> {
    let program = argv.first().map(String::as_str).unwrap_or("ipvsadm");
    let mut sc = Scanner::new(OPTIONS, argv);
    let mut ce = CommandEntry {
        cmd: Cmd::Flush,
        svc: Svc { netmask: u32::MAX, ..Svc::default() },
        dest: Dest { weight: 1, conn_flags: fwd::DROUTE, ..Dest::default() },
        timeout: TimeoutCfg::default(),
        daemon: DaemonCfg::default(),
        options: 0,
        format: 0,
        synproxy: None,
    };
    let Next::Opt { val, arg } = sc.next_opt() else { return Err(tryhelp(program)) };
    let daemon_state = |arg: Option<String>, msg: &str| match arg.as_deref() {
        Some("master") => Ok(daemon_state::MASTER),
        Some("backup") => Ok(daemon_state::BACKUP),
        _ => Err(fail(msg)),
    };
    ce.cmd = match val {
        v if v == c(b'A') => Cmd::Add,
        v if v == c(b'E') => Cmd::Edit,
        v if v == c(b'D') => Cmd::Del,
        v if v == c(b'a') => Cmd::AddDest,
        v if v == c(b'e') => Cmd::EditDest,
        v if v == c(b'd') => Cmd::DelDest,
        v if v == c(b'C') => Cmd::Flush,
        v if v == c(b'L') || v == c(b'l') => Cmd::List,
        v if v == c(b'Z') => Cmd::Zero,
        TAG_SET => Cmd::Timeout,
        v if v == c(b'R') => Cmd::Restore,
        v if v == c(b'S') => Cmd::Save,
        TAG_START_DAEMON => {
            ce.daemon.state = daemon_state(arg, "illegal start-daemon parameter specified")?;
            Cmd::StartDaemon
        }
        TAG_STOP_DAEMON => {
            ce.daemon.state = daemon_state(arg, "illegal start_daemon specified")?;
            Cmd::StopDaemon
        }
        v if v == c(b'h') => return Ok(Parsed::Help),
        v if v == c(b'v') => return Ok(Parsed::Version),
        v if v == c(b'P') => Cmd::AddLaddr,
        v if v == c(b'Q') => Cmd::DelLaddr,
        v if v == c(b'G') => Cmd::GetLaddr,
        v if v == c(b'U') => Cmd::AddBlklst,
        v if v == c(b'V') => Cmd::DelBlklst,
        v if v == c(b'B') => Cmd::GetBlklst,
        v if v == c(b'O') => Cmd::AddWhtlst,
        v if v == c(b'Y') => Cmd::DelWhtlst,
        v if v == c(b'W') => Cmd::GetWhtlst,
        _ => return Err(tryhelp(program)),
    };
    let mut sched_flags_arg: Option<String> = None;
    let opts = &mut ce.options;
    loop {
        let (val, arg) = match sc.next_opt() {
            Next::Opt { val, arg } => (val, arg),
            Next::End => break,
            Next::Error { error, bad } => return Err(Stop::Return { stderr: format!("{bad}: {}\n", error.message()) }),
        };
        let a = arg.as_deref().unwrap_or("");
        match val {
            v if v == c(b't') || v == c(b'u') || v == TAG_SCTP_SERVICE => {
                set_option(opts, optc::SERVICE)?;
                ce.svc.protocol = protocol_of(v);
                let mut ep = Endpoint { af: ce.svc.af, addr: ce.svc.addr, port: ce.svc.port, netmask: ce.svc.netmask };
                let p = parse::parse_service(a, ce.svc.protocol, &mut ep, names);
                (ce.svc.af, ce.svc.addr, ce.svc.port, ce.svc.netmask) = (ep.af, ep.addr, ep.port, ep.netmask);
                if !p.addr {
                    return Err(fail("illegal virtual server address[:port] specified"));
                }
            }
            v if v == c(b'f') => {
                set_option(opts, optc::SERVICE)?;
                ce.svc.af = AF_INET;
                ce.svc.protocol = 6;
                ce.svc.fwmark =
                    parse::parse_fwmark(a).ok_or_else(|| fail(format!("invalid fwmark value `{a}' specified")))?;
            }
            v if v == c(b's') => {
                set_option(opts, optc::SCHEDULER)?;
                ce.svc.sched_name = cstr_prefix(a, 15);
            }
            v if v == c(b'p') => {
                set_option(opts, optc::PERSISTENT)?;
                ce.svc.flags |= svc_flags::PERSISTENT;
                ce.svc.timeout = parse_timeout(arg.as_deref(), 1, MAX_TIMEOUT)?;
            }
            v if v == c(b'M') => {
                set_option(opts, optc::NETMASK)?;
                if ce.svc.af != AF_INET6 {
                    ce.svc.netmask = parse::parse_netmask(a, names)
                        .ok_or_else(|| fail("illegal virtual server persistent mask specified"))?;
                } else {
                    ce.svc.netmask = parse::atoi(a) as u32;
                    if !(1..=128).contains(&ce.svc.netmask) {
                        return Err(fail("illegal ipv6 netmask specified"));
                    }
                }
            }
            v if v == c(b'r') => {
                set_option(opts, optc::SERVER)?;
                let mut ep = Endpoint { af: ce.svc.af, addr: ce.svc.addr, port: ce.svc.port, netmask: ce.svc.netmask };
                let p = parse::parse_service(a, ce.svc.protocol, &mut ep, names);
                (ce.dest.af, ce.dest.addr, ce.dest.port) = (ep.af, ep.addr, ep.port);
                if !p.addr {
                    return Err(fail("illegal real server address[:port] specified"));
                }
                if !p.port {
                    ce.dest.port = ce.svc.port;
                }
            }
            v if v == c(b'i') => {
                set_option(opts, optc::FORWARD)?;
                ce.dest.conn_flags = fwd::TUNNEL;
            }
            v if v == c(b'g') => {
                set_option(opts, optc::FORWARD)?;
                ce.dest.conn_flags = fwd::DROUTE;
            }
            v if v == c(b'm') => {
                set_option(opts, optc::FORWARD)?;
                ce.dest.conn_flags = fwd::MASQ;
            }
            TAG_FULLNAT => {
                set_option(opts, optc::FORWARD)?;
                ce.dest.conn_flags = fwd::FULLNAT;
            }
            v if v == c(b'w') => {
                set_option(opts, optc::WEIGHT)?;
                // Debian's ipvsadm accepts 0..INT_MAX (upstream: 0..65535).
                ce.dest.weight = parse::string_to_number(a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| fail("illegal weight specified"))? as i32;
            }
            v if v == c(b'x') => {
                set_option(opts, optc::UTHRESHOLD)?;
                ce.dest.u_threshold = parse::string_to_number(a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| fail("illegal u_threshold specified"))? as u32;
            }
            v if v == c(b'y') => {
                set_option(opts, optc::LTHRESHOLD)?;
                ce.dest.l_threshold = parse::string_to_number(a, 0, i64::from(i32::MAX))
                    .ok_or_else(|| fail("illegal l_threshold specified"))? as u32;
            }
            v if v == c(b'c') => set_option(opts, optc::CONNECTION)?,
            v if v == c(b'n') => {
                set_option(opts, optc::NUMERIC)?;
                ce.format |= fmt::NUMERIC;
            }
            TAG_MCAST_INTERFACE => {
                set_option(opts, optc::MCAST)?;
                ce.daemon.mcast_ifn = cstr_prefix(a, 15);
            }
            v if v == c(b'I') => {
                set_option(opts, optc::SYNCID)?;
                ce.daemon.syncid =
                    parse::string_to_number(a, 0, 255).ok_or_else(|| fail("illegal syncid specified"))? as u32;
            }
            TAG_TIMEOUT => set_option(opts, optc::TIMEOUT)?,
            TAG_DAEMON => set_option(opts, optc::DAEMON)?,
            TAG_STATS => {
                set_option(opts, optc::STATS)?;
                ce.format |= fmt::STATS;
            }
            TAG_RATE => {
                set_option(opts, optc::RATE)?;
                ce.format |= fmt::RATE;
            }
            TAG_THRESHOLDS => {
                set_option(opts, optc::THRESHOLDS)?;
                ce.format |= fmt::THRESHOLDS;
            }
            TAG_PERSISTENTCONN => {
                set_option(opts, optc::PERSISTENTCONN)?;
                ce.format |= fmt::PERSISTENTCONN;
            }
            TAG_NO_SORT => {
                set_option(opts, optc::NOSORT)?;
                ce.format |= fmt::NOSORT;
            }
            TAG_SORT => {}
            v if v == c(b'X') => {
                set_option(opts, optc::EXACT)?;
                ce.format |= fmt::EXACT;
            }
            v if v == c(b'6') => {
                if ce.svc.fwmark != 0 {
                    ce.svc.af = AF_INET6;
                    ce.svc.netmask = 128;
                } else {
                    return Err(fail("-6 used before -f\n"));
                }
            }
            v if v == c(b'o') => {
                set_option(opts, optc::ONEPACKET)?;
                ce.svc.flags |= svc_flags::ONEPACKET;
            }
            TAG_PERSISTENCE_ENGINE => {
                set_option(opts, optc::PERSISTENCE_ENGINE)?;
                ce.svc.pe_name = cstr_prefix(a, 16);
            }
            v if v == c(b'b') => {
                set_option(opts, optc::SCHED_FLAGS)?;
                sched_flags_arg = Some(cstr_prefix(a, 127));
            }
            TAG_MCAST_GROUP => {
                set_option(opts, optc::MCAST_GROUP)?;
                if a.contains(':') {
                    let g = parse::inet_pton6(a).filter(|g| g[0] == 0xff);
                    ce.daemon.mcast_group = g.ok_or_else(|| fail(format!("invalid IPv6 mcast-group `{a}'")))?;
                    ce.daemon.mcast_af = AF_INET6;
                } else {
                    let g = parse::inet_pton4(a).filter(|g| g[0] & 0xf0 == 0xe0);
                    let g = g.ok_or_else(|| fail(format!("invalid IPv4 mcast-group `{a}'")))?;
                    ce.daemon.mcast_group = [0; 16];
                    ce.daemon.mcast_group[..4].copy_from_slice(&g);
                    ce.daemon.mcast_af = AF_INET;
                }
            }
            TAG_MCAST_PORT => {
                set_option(opts, optc::MCAST_PORT)?;
                ce.daemon.mcast_port =
                    parse::string_to_number(a, 1, 65535).ok_or_else(|| fail("illegal mcast-port specified"))? as u16;
            }
            TAG_MCAST_TTL => {
                set_option(opts, optc::MCAST_TTL)?;
                ce.daemon.mcast_ttl =
                    parse::string_to_number(a, 1, 255).ok_or_else(|| fail("illegal mcast-ttl specified"))? as u8;
            }
            TAG_SYNC_MAXLEN => {
                set_option(opts, optc::SYNC_MAXLEN)?;
                ce.daemon.sync_maxlen = parse::string_to_number(a, 1, 65535 - 20 - 8)
                    .ok_or_else(|| fail("illegal sync-maxlen specified"))?
                    as u16;
            }
            TAG_TUN_INFO => {
                set_option(opts, optc::TUN_INFO)?;
                ce.format |= fmt::TUN_INFO;
            }
            TAG_TUN_TYPE => {
                set_option(opts, optc::TUN_TYPE)?;
                ce.dest.tun_type =
                    TUNNAMES.iter().position(|t| *t == a).ok_or_else(|| fail("illegal tunnel type specified"))? as u8;
            }
            TAG_TUN_PORT => {
                set_option(opts, optc::TUN_PORT)?;
                ce.dest.tun_port =
                    parse::string_to_number(a, 1, 65535).ok_or_else(|| fail("illegal tunnel port specified"))? as u16;
            }
            TAG_TUN_NOCSUM => {
                set_option(opts, optc::TUN_NOCSUM)?;
            }
            TAG_TUN_CSUM => {
                set_option(opts, optc::TUN_CSUM)?;
                ce.dest.tun_flags |= 1;
            }
            TAG_TUN_REMCSUM => {
                set_option(opts, optc::TUN_REMCSUM)?;
                ce.dest.tun_flags |= 2;
            }
            v if v == c(b'z') => {
                set_option(opts, optc::LADDR)?;
                let mut ep = Endpoint { af: 0, addr: [0; 16], port: 0, netmask: 0 };
                if !parse::parse_service(a, 0, &mut ep, names).addr {
                    return Err(fail("illegal local address"));
                }
            }
            v if v == c(b'F') => set_option(opts, optc::IFNAME)?,
            v if v == c(b'k') || v == c(b'2') => {
                let (bit, what) = if v == c(b'k') { (optc::BLKLST, "blacklist") } else { (optc::WHTLST, "whitelist") };
                set_option(opts, bit)?;
                let mut ep = Endpoint { af: 0, addr: [0; 16], port: 0, netmask: 0 };
                if !a.starts_with("ipset:") && !parse::parse_service(a, 0, &mut ep, names).addr {
                    return Err(fail(format!("illegal {what} address")));
                }
            }
            v if v == c(b'j') => {
                set_option(opts, optc::SYNPROXY)?;
                ce.synproxy = Some(match a {
                    "enable" => true,
                    "disable" => false,
                    _ => return Err(fail("synproxy switch must be enable or disable")),
                });
            }
            _ => {
                let bad = argv.get(sc_bad_index(&sc)).cloned().unwrap_or_default();
                return Err(fail(format!("invalid option `{bad}'")));
            }
        }
    }
    if ce.cmd == Cmd::Timeout {
        match (sc.next_arg(), sc.next_arg(), sc.next_arg()) {
            (Some(a), Some(b), Some(c)) => {
                ce.timeout.tcp = parse_timeout(Some(&a), 0, MAX_TIMEOUT)?;
                ce.timeout.tcp_fin = parse_timeout(Some(&b), 0, MAX_TIMEOUT)?;
                ce.timeout.udp = parse_timeout(Some(&c), 0, MAX_TIMEOUT)?;
            }
            _ => return Err(fail("--set option requires 3 timeout values")),
        }
    }
    if let Some(extra) = sc.next_arg() {
        return Err(fail(format!("unexpected argument {extra}")));
    }
    if let Some(f) = sched_flags_arg.filter(|f| !f.is_empty()) {
        ce.svc.flags &= !(svc_flags::SCHED1 | svc_flags::SCHED2 | svc_flags::SCHED3);
        ce.svc.flags |= parse_sched_flags(&ce.svc.sched_name, &f)?;
    }
    check(&mut ce)?;
    Ok(Parsed::Command(Box::new(ce)))
}

fn sc_bad_index(sc: &Scanner<'_>) -> usize {
    sc.consumed().saturating_sub(1)
}

/// `generic_opt_check`: the legality table.
fn generic_opt_check(cmd: Cmd, options: u64) -> Result<(), Stop> {
    let mut last = None;
    for (j, name) in OPTNAMES.iter().enumerate() {
        let rule = cmd.rule(j);
        if options & (1u64 << j) == 0 {
            if rule == b'+' {
                return Err(fail(format!("You need to supply the '{}' option for the '{}' command", name, cmd.name())));
            }
        } else {
            if rule == b'x' {
                return Err(fail(format!("Illegal '{}' option with the '{}' command", name, cmd.name())));
            }
            if rule == b'1' {
                match last {
                    None => last = Some(j),
                    Some(l) => {
                        return Err(fail(format!(
                            "The option '{}' conflicts with the '{}' option in the '{}' command",
                            name,
                            OPTNAMES[l],
                            cmd.name()
                        )))
                    }
                }
            }
        }
    }
    Ok(())
}

/// `tunnel_opt_check`: tun-port, tun-nocsum, tun-csum, tun-remcsum by tunnel type.
fn tunnel_opt_check(tun_type: u8, options: u64) -> Result<(), Stop> {
    const OPTS: [usize; 4] = [optc::TUN_PORT, optc::TUN_NOCSUM, optc::TUN_CSUM, optc::TUN_REMCSUM];
    const TABLE: [&[u8; 4]; 3] = [b"xxxx", b"+111", b"x11x"];
    let Some(row) = TABLE.get(usize::from(tun_type)) else { return Ok(()) };
    let name = TUNNAMES[usize::from(tun_type)];
    let mut last = None;
    for (j, &k) in OPTS.iter().enumerate() {
        if options & (1u64 << k) == 0 {
            if row[j] == b'+' {
                return Err(fail(format!(
                    "You need to supply the '{}' option for the '{name}' tunnel type",
                    OPTNAMES[k]
                )));
            }
        } else {
            if row[j] == b'x' {
                return Err(fail(format!("Illegal '{}' option with the '{name}' tunnel type", OPTNAMES[k])));
            }
            if row[j] == b'1' {
                match last {
                    None => last = Some(k),
                    Some(l) => {
                        return Err(fail(format!(
                            "The option '{}' conflicts with the '{}' option in the '{name}' tunnel type",
                            OPTNAMES[k], OPTNAMES[l]
                        )))
                    }
                }
            }
        }
    }
    Ok(())
}

/// The checks of `process_options` between parsing and the IPVS call.
fn check(ce: &mut CommandEntry) -> Result<(), Stop> {
    generic_opt_check(ce.cmd, ce.options)?;
    if matches!(ce.cmd, Cmd::Add | Cmd::Edit) {
        if ce.svc.fwmark == 0 && ce.svc.port == 0 && ce.svc.flags & svc_flags::PERSISTENT == 0 {
            return Err(fail("Zero port specified for non-persistent service"));
        }
        if ce.svc.flags & svc_flags::ONEPACKET != 0 && ce.svc.fwmark == 0 && ce.svc.protocol != 17 {
            return Err(fail("One-Packet Scheduling is only for UDP virtual services"));
        }
        if ce.svc.sched_name.is_empty() {
            ce.svc.sched_name = DEF_SCHED.to_string();
        }
    }
    if ce.cmd == Cmd::StartDaemon && ce.daemon.mcast_ifn.is_empty() {
        ce.daemon.mcast_ifn = DEF_MCAST_IFN.to_string();
    }
    let method = ce.dest.conn_flags & fwd::MASK;
    if matches!(ce.cmd, Cmd::AddDest | Cmd::EditDest) {
        if ce.svc.fwmark == 0 && (method == fwd::TUNNEL || method == fwd::DROUTE) {
            ce.dest.port = ce.svc.port;
        }
        if ce.dest.af != ce.svc.af && method != fwd::TUNNEL {
            return Err(fail("Different address family is allowed only for tunneling servers"));
        }
        let tun_opts = [optc::TUN_TYPE, optc::TUN_PORT, optc::TUN_NOCSUM, optc::TUN_CSUM, optc::TUN_REMCSUM];
        if tun_opts.iter().any(|&k| ce.has(k)) && method != fwd::TUNNEL {
            return Err(fail("Tunnel options conflict with forward method"));
        }
        tunnel_opt_check(ce.dest.tun_type, ce.options)?;
    }
    if ce.cmd == Cmd::List
        && ((ce.options & (bit(optc::CONNECTION) | bit(optc::TIMEOUT) | bit(optc::DAEMON)) != 0
            && ce.options & (bit(optc::STATS) | bit(optc::RATE) | bit(optc::THRESHOLDS)) != 0)
            || (ce.options & (bit(optc::TIMEOUT) | bit(optc::DAEMON)) != 0 && ce.has(optc::PERSISTENTCONN)))
    {
        return Err(fail("options conflicts in the list command"));
    }
    Ok(())
}

const fn bit(optc: usize) -> u64 {
    1u64 << optc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::NoNames;

    fn run(line: &str) -> Result<Parsed, Stop> {
        let argv: Vec<String> = std::iter::once("ipvsadm").chain(line.split_whitespace()).map(String::from).collect();
        parse(&argv, &NoNames)
    }

    fn entry(line: &str) -> CommandEntry {
        match run(line) {
            Ok(Parsed::Command(ce)) => *ce,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn err(line: &str) -> (i32, String) {
        match run(line) {
            Err(Stop::Exit { code, stderr, .. }) => (code, stderr),
            Err(Stop::Return { stderr }) => (-1, stderr),
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn table_rows_are_complete() {
        for cmd in [Cmd::Add, Cmd::List, Cmd::GetWhtlst, Cmd::AddLaddr, Cmd::StartDaemon] {
            assert!((0..NUMBER_OF_OPT).all(|j| b".+x1".contains(&cmd.rule(j))));
        }
    }

    #[test]
    fn add_service_defaults() {
        let ce = entry("-A -t 192.0.2.1:80");
        assert_eq!(ce.cmd, Cmd::Add);
        assert_eq!(ce.svc.sched_name, "wlc");
        assert_eq!((ce.svc.af, ce.svc.protocol, ce.svc.port), (AF_INET, 6, 80));
        assert_eq!(ce.svc.netmask, u32::MAX);
        let ce = entry("-A -t 192.0.2.1:80 -s rr -p");
        assert_eq!((ce.svc.flags, ce.svc.timeout), (svc_flags::PERSISTENT, 360));
        let ce = entry("-A -f 8 -6 -p 60 -M 64");
        assert_eq!((ce.svc.af, ce.svc.fwmark, ce.svc.netmask, ce.svc.timeout), (AF_INET6, 8, 64, 60));
    }

    #[test]
    fn dest_port_and_method_rules() {
        let ce = entry("-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -g");
        assert_eq!((ce.dest.port, ce.dest.conn_flags, ce.dest.weight), (80, fwd::DROUTE, 1));
        let ce = entry("-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -m -w 3");
        assert_eq!((ce.dest.port, ce.dest.conn_flags, ce.dest.weight), (8080, fwd::MASQ, 3));
        let ce = entry("-a -t 192.0.2.1:80 -r 198.51.100.10 --fullnat");
        assert_eq!((ce.dest.port, ce.dest.conn_flags), (80, fwd::FULLNAT));
        assert_eq!(
            err("-a -t 192.0.2.1:80 -r 198.51.100.10 -m --fullnat").1,
            "multiple 'forwarding-method' options specified\n"
        );
        assert_eq!(
            err("-a -t 192.0.2.1:80 -r [2001:db8::1]:80 -m").1,
            "Different address family is allowed only for tunneling servers\n"
        );
        assert_eq!(
            err("-a -t 192.0.2.1:80 -r 198.51.100.10 -i --tun-type gue").1,
            "You need to supply the 'tun-port' option for the 'gue' tunnel type\n"
        );
        assert_eq!(
            err("-a -t 192.0.2.1:80 -r 198.51.100.10 -i --tun-type gre --tun-csum --tun-nocsum").1,
            "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' tunnel type\n"
        );
    }

    #[test]
    fn conflicts_and_usage_errors() {
        assert_eq!(
            err("-A -s rr"),
            (2, "You need to supply the 'service-address' option for the 'add-service' command\n".into())
        );
        assert_eq!(
            err("-A -t 192.0.2.1:80 -r 1.2.3.4"),
            (2, "Illegal 'real-server' option with the 'add-service' command\n".into())
        );
        assert_eq!(
            err("-L --timeout --daemon").1,
            "The option 'daemon' conflicts with the 'timeout' option in the 'list' command\n"
        );
        assert_eq!(err("-L -n -c --stats").1, "options conflicts in the list command\n");
        assert_eq!(err("-L -n -n").1, "multiple 'numeric' options specified\n");
        assert_eq!(err("-C extra").1, "unexpected argument extra\n");
        assert_eq!(err("--set 1 2").1, "--set option requires 3 timeout values\n");
        assert_eq!(err("-A -6 -f 8").1, "-6 used before -f\n\n");
        assert_eq!(err("-A -D").1, "invalid option `-D'\n");
        assert_eq!(err("-AD").1, "invalid option `-AD'\n");
        assert_eq!(err("-A -t 192.0.2.1:80 --bogus"), (-1, "--bogus: unknown option\n".into()));
        assert_eq!(err("--bogus").0, 255);
        assert_eq!(err("-t 192.0.2.1:80").0, 255);
        assert_eq!(err("-A -t 192.0.2.1:0").1, "Zero port specified for non-persistent service\n");
        assert_eq!(err("-A -t 192.0.2.1:80 -o").1, "One-Packet Scheduling is only for UDP virtual services\n");
        assert_eq!(err("-A -t 192.0.2.1:80 -s rr -b sh-port").1, "incompatible scheduler flag `sh-port'\n");
        assert_eq!(err("--start-daemon foo").1, "illegal start-daemon parameter specified\n");
        assert_eq!(err("--stop-daemon foo").1, "illegal start_daemon specified\n");
        assert_eq!(err("-A -t 192.0.2.1:80 -j maybe").1, "synproxy switch must be enable or disable\n");
        assert_eq!(err("-P -t 192.0.2.1:80").1, "You need to supply the 'laddr' option for the 'add-laddr' command\n");
    }

    #[test]
    fn sched_flags_after_scheduler() {
        let ce = entry("-A -t 192.0.2.1:80 -b sh-port,sh-fallback -s sh");
        assert_eq!(ce.svc.flags, svc_flags::SCHED1 | svc_flags::SCHED2);
        assert_eq!(err("-A -t 192.0.2.1:80 -b bogus").1, "invalid scheduler flag `bogus'\n");
        // ipvsadm crashes here (strtok finds no token); refused instead.
        assert_eq!(err("-A -t 192.0.2.1:80 -b ,,"), (2, "invalid scheduler flag `,,'\n".into()));
        assert_eq!(entry("-A -t 192.0.2.1:80 -b flag-1,,flag-3").svc.flags, svc_flags::SCHED1 | svc_flags::SCHED3);
    }

    #[test]
    fn help_version_and_daemons() {
        assert_eq!(run("-h"), Ok(Parsed::Help));
        assert_eq!(run("--version"), Ok(Parsed::Version));
        let ce = entry("--start-daemon backup --mcast-group ff15::81 --syncid 4");
        assert_eq!((ce.daemon.state, ce.daemon.mcast_ifn.as_str(), ce.daemon.syncid), (2, "eth0", 4));
        assert_eq!(ce.daemon.mcast_af, AF_INET6);
        assert_eq!(err("--start-daemon master --mcast-group 192.0.2.1").1, "invalid IPv4 mcast-group `192.0.2.1'\n");
        assert!(usage("/usr/sbin/ipvsadm").contains("  /usr/sbin/ipvsadm --stop-daemon {master|backup}\n"));
    }

    #[test]
    fn man_page_and_completion_name_every_long_option() {
        let man = include_str!("../ipvsadm-compat.8").replace("\\-", "-");
        let completion = include_str!("../completion/ipvsadm-compat.bash");
        for o in OPTIONS {
            let long = format!("--{}", o.long.unwrap_or_default());
            // ipvsadm's listing options are described together in the man page.
            assert!(man.contains(&long), "{long} missing from the man page");
            assert!(completion.contains(&long), "{long} missing from the completion");
        }
    }
}
