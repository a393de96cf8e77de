//! libipvs for ipvsadm-compat: IPVS's generic-netlink requests built with ipvs-genl, sent to
//! dpvsd's unix SOCK_SEQPACKET socket (one socket for the whole run) or, when dpvsd's socket
//! is absent, to the kernel over a NETLINK_GENERIC socket (netlink-sys). Errors are the errno
//! the other end answered, and [`Ipvs::strerror`] words them as `ipvs_strerror` does, keyed by
//! the last libipvs function called.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;

use ipvs_genl::attr::{Attr, AttrTable};
use ipvs_genl::consts::{cmd, cmd_attr, info_attr, svc_attr, AF_INET, AF_INET6, IPVS_GENL_NAME, IPVS_GENL_VERSION};
use ipvs_genl::ctrl::{family_id, getfamily_request};
use ipvs_genl::frame::{decode_reply, genl_message, messages, proc_read_request, Reply, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use ipvs_genl::ipvs::{
    Daemon, DestEntry, DestParams, DestSpec, FlagsUpdate, McastGroup, ServiceEntry, ServiceKey, ServiceParams,
    ServiceSpec, Stats, CMD_POLICY,
};

use crate::grammar::{DaemonCfg, Dest, Svc, TimeoutCfg};
use crate::sys::{self, SeqPacket};

/// dpvsd's socket when `DPVSD_IPVS_SOCKET` does not say otherwise.
pub const DEFAULT_SOCKET: &str = "/run/dpvsd/ipvs.sock";
pub use ipvs_genl::consts::DPVS_PROC_READ;

const ENOENT: i32 = 2;
const ESRCH: i32 = 3;
const EPERM: i32 = 1;
const ENOMEM: i32 = 12;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;
const ENOPROTOOPT: i32 = 92;
const EMSGSIZE: i32 = 90;
const EOPNOTSUPP: i32 = 95;
const EAFNOSUPPORT: i32 = 97;

/// The libipvs function last called (`ipvs_func`), which picks `ipvs_strerror`'s wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Init,
    AddService,
    UpdateService,
    DelService,
    ZeroService,
    AddDest,
    UpdateDest,
    DelDest,
    SetTimeout,
    StartDaemon,
    StopDaemon,
    GetDests,
    GetService,
    GetTimeout,
    GetDaemon,
}

/// `ipvs_strerror(err)` after a call of `func`.
pub fn strerror(func: Func, err: i32) -> String {
    use Func::*;
    let specific = match (func, err) {
        (AddService, EEXIST) => Some("Service already exists"),
        (AddService | UpdateService, ENOENT) => Some("Scheduler or persistence engine not found"),
        (UpdateService | DelService | ZeroService | GetDests | GetService, ESRCH) => Some("No such service"),
        (AddDest | UpdateDest | DelDest, ESRCH) => Some("Service not defined"),
        (AddDest, EEXIST) => Some("Destination already exists"),
        (UpdateDest | DelDest, ENOENT) => Some("No such destination"),
        (StartDaemon, EEXIST) => Some("Daemon has already run"),
        (StopDaemon, ESRCH) => Some("No daemon is running"),
        _ => None,
    };
    let generic = match err {
        EPERM => Some("Permission denied (you must be root)"),
        EINVAL => Some("Invalid operation.  Possibly wrong module version, address not unicast, ..."),
        ENOPROTOOPT => Some("Protocol not available"),
        ENOMEM => Some("Memory allocation problem"),
        EOPNOTSUPP => Some("Operation not supported with IPv6"),
        EAFNOSUPPORT => Some("Operation not supported with specified address family"),
        EMSGSIZE => Some("Module is wrong version"),
        _ => None,
    };
    specific.or(generic).map(str::to_string).unwrap_or_else(|| sys::strerror(err))
}

/// Where requests go.
#[derive(Debug)]
enum Link {
    Dpvsd(SeqPacket),
    Kernel(netlink_sys::Socket),
}

/// Why IPVS could not be reached or refused a request: an errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("errno {0}")]
pub struct Errno(pub i32);

fn io_errno(e: &io::Error) -> Errno {
    Errno(e.raw_os_error().unwrap_or(EINVAL))
}

/// A service as a dump shows it (`ipvs_service_entry_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRow {
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
    pub netmask: u32,
    pub stats: Stats,
}

/// A destination as a dump shows it (`ipvs_dest_entry_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestRow {
    pub af: u16,
    pub addr: [u8; 16],
    pub port: u16,
    pub conn_flags: u32,
    pub weight: i32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub active: u32,
    pub inactive: u32,
    pub persist: u32,
    pub tun_type: u8,
    pub tun_port: u16,
    pub tun_flags: u16,
    pub stats: Stats,
}

/// The IPVS API of one process: `ipvs_init` and the calls after it.
#[derive(Debug)]
pub struct Ipvs {
    link: Link,
    family: u16,
    seq: u32,
    buf: Vec<u8>,
    /// `ipvs_func`.
    pub func: Func,
    /// `ipvs_info`: version and connection-table size.
    pub version: u32,
    pub conn_tab_size: u32,
    /// Send commands without waiting for their answers (`-R`); see [`Ipvs::set_pipelined`].
    pipelined: bool,
    /// Commands sent and not answered yet: (seq, ipvs_func at the call).
    pending: VecDeque<(u32, Func)>,
    /// Answers read and not yet collected by [`Ipvs::take_answers`].
    answers: Vec<Answer>,
}

/// How a pipelined command was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub seq: u32,
    /// `ipvs_func` when the command was made.
    pub func: Func,
    pub result: Result<(), Errno>,
}

/// Most commands in flight at once when pipelined: their answers (an ACK, or an error with a
/// copy of the request) stay well within the socket buffers of both ends.
const PIPELINE_WINDOW: usize = 128;

/// dpvsd's socket path (`DPVSD_IPVS_SOCKET`, else the default).
pub fn socket_path() -> PathBuf {
    match std::env::var_os("DPVSD_IPVS_SOCKET") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_SOCKET),
    }
}

impl Ipvs {
    /// `ipvs_init`: reach dpvsd (else the kernel), resolve the IPVS family, GET_INFO.
    pub fn init() -> Result<Ipvs, Errno> {
        let link = match SeqPacket::connect(&socket_path()) {
            Ok(s) => Link::Dpvsd(s),
            Err(_) => {
                let mut s =
                    netlink_sys::Socket::new(netlink_sys::constants::NETLINK_GENERIC).map_err(|e| io_errno(&e))?;
                s.bind_auto().map_err(|e| io_errno(&e))?;
                Link::Kernel(s)
            }
        };
        let mut ipvs = Ipvs {
            link,
            family: 0,
            seq: 0,
            buf: Vec::new(),
            func: Func::Init,
            version: 0,
            conn_tab_size: 0,
            pipelined: false,
            pending: VecDeque::new(),
            answers: Vec::new(),
        };
        let seq = ipvs.next_seq();
        let family = ipvs
            .exchange(&getfamily_request(IPVS_GENL_NAME, seq, 0), seq, false)
            .ok()
            .and_then(|replies| replies.iter().find_map(|a| family_id(a)).filter(|&id| id != 0));
        let Some(family) = family else {
            // No IPVS family: ipvsadm then tries the socket-option API, which a kernel
            // without IPVS refuses (ENOPROTOOPT; EPERM without privileges).
            return Err(Errno(sys::sockopt_get_info_errno().unwrap_or(ENOPROTOOPT)));
        };
        ipvs.family = family;
        let info = ipvs.request(cmd::GET_INFO, false, Vec::new())?;
        let t = info.first().and_then(|a| AttrTable::parse(a, &[ipvs_genl::Policy::Unspec; 3]).ok());
        match t.as_ref().and_then(|t| Some((t.u32(info_attr::VERSION)?, t.u32(info_attr::CONN_TAB_SIZE)?))) {
            Some((v, s)) => {
                ipvs.version = v;
                ipvs.conn_tab_size = s;
                Ok(ipvs)
            }
            None => Err(Errno(EINVAL)),
        }
    }

    /// True when talking to dpvsd (not to a kernel).
    pub fn is_dpvsd(&self) -> bool {
        matches!(self.link, Link::Dpvsd(_))
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send(&mut self, msg: &[u8]) -> Result<(), Errno> {
        match &self.link {
            Link::Dpvsd(s) => s.send(msg).map_err(|e| io_errno(&e)),
            Link::Kernel(s) => {
                let kernel = netlink_sys::SocketAddr::new(0, 0);
                s.send_to(msg, &kernel, 0).map(|_| ()).map_err(|e| io_errno(&e))
            }
        }
    }

    fn recv(&mut self) -> Result<Vec<u8>, Errno> {
        match &self.link {
            Link::Dpvsd(s) => {
                let n = s.recv(&mut self.buf).map_err(|e| io_errno(&e))?;
                if n == 0 {
                    return Err(Errno(EINVAL));
                }
                Ok(self.buf[..n].to_vec())
            }
            Link::Kernel(s) => s.recv_from_full().map(|(b, _)| b).map_err(|e| io_errno(&e)),
        }
    }

    /// Sends `msg` and collects the attributes of the replies with sequence `seq`, until the
    /// ACK (a do), NLMSG_DONE (a dump) or an error.
    fn exchange(&mut self, msg: &[u8], seq: u32, dump: bool) -> Result<Vec<Vec<u8>>, Errno> {
        self.send(msg)?;
        let mut out = Vec::new();
        loop {
            let dg = self.recv()?;
            for m in messages(&dg) {
                if m.seq != seq {
                    continue;
                }
                match decode_reply(&m) {
                    Reply::Genl { attrs, .. } => out.push(attrs.to_vec()),
                    Reply::Ack if !dump => return Ok(out),
                    Reply::Done => return Ok(out),
                    Reply::Error(e) => return Err(Errno(e.0)),
                    _ => {}
                }
            }
        }
    }

    /// Pipelining: commands that only succeed or fail (add, edit, delete, zero, flush, set,
    /// daemons) are sent at once and answered later, in order; anything that reads state
    /// first waits for every answer. ipvsadm's order of effects and messages is kept by the
    /// caller collecting [`Ipvs::take_answers`] before it prints anything.
    pub fn set_pipelined(&mut self, on: bool) {
        if !on {
            self.settle();
        }
        self.pipelined = on;
    }

    pub fn is_pipelined(&self) -> bool {
        self.pipelined
    }

    /// The sequence number of the last command sent.
    pub fn last_seq(&self) -> u32 {
        self.seq
    }

    /// Reads answers until at most `keep` commands are in flight.
    fn settle_to(&mut self, keep: usize) {
        while self.pending.len() > keep {
            match self.recv() {
                Ok(dg) => {
                    for m in messages(&dg) {
                        let Some(pos) = self.pending.iter().position(|p| p.0 == m.seq) else { continue };
                        let result = match decode_reply(&m) {
                            Reply::Ack => Ok(()),
                            Reply::Error(e) => Err(Errno(e.0)),
                            _ => continue,
                        };
                        if let Some((seq, func)) = self.pending.remove(pos) {
                            self.answers.push(Answer { seq, func, result });
                        }
                    }
                }
                // The connection failed: every command in flight fails with it.
                Err(e) => {
                    while let Some((seq, func)) = self.pending.pop_front() {
                        self.answers.push(Answer { seq, func, result: Err(e) });
                    }
                }
            }
        }
    }

    /// Waits for the answers of every command in flight.
    pub fn settle(&mut self) {
        self.settle_to(0);
    }

    /// The answers read so far, in the order the commands were made.
    pub fn take_answers(&mut self) -> Vec<Answer> {
        self.answers.sort_by_key(|a| a.seq.wrapping_sub(self.seq));
        std::mem::take(&mut self.answers)
    }

    fn request(&mut self, command: u8, dump: bool, attrs: Vec<Attr>) -> Result<Vec<Vec<u8>>, Errno> {
        self.settle();
        let seq = self.next_seq();
        let flags = NLM_F_REQUEST | NLM_F_ACK | if dump { NLM_F_DUMP } else { 0 };
        let msg = genl_message(self.family, flags, seq, 0, command, IPVS_GENL_VERSION, attrs);
        self.exchange(&msg, seq, dump)
    }

    fn call(&mut self, func: Func, command: u8, attrs: Vec<Attr>) -> Result<(), Errno> {
        self.func = func;
        if !self.pipelined {
            return self.request(command, false, attrs).map(|_| ());
        }
        // A kernel charges each queued answer a whole skb against the socket's receive buffer:
        // keep fewer in flight there.
        let window = if self.is_dpvsd() { PIPELINE_WINDOW } else { PIPELINE_WINDOW / 4 };
        self.settle_to(window - 1);
        let seq = self.next_seq();
        let msg = genl_message(self.family, NLM_F_REQUEST | NLM_F_ACK, seq, 0, command, IPVS_GENL_VERSION, attrs);
        match self.send(&msg) {
            Ok(()) => {
                self.pending.push_back((seq, func));
                Ok(())
            }
            Err(e) => {
                self.answers.push(Answer { seq, func, result: Err(e) });
                Ok(())
            }
        }
    }

    /// `ipvs_flush` (leaves `ipvs_func` alone, as libipvs does).
    pub fn flush(&mut self) -> Result<(), Errno> {
        let func = self.func;
        self.call(func, cmd::FLUSH, Vec::new())
    }

    pub fn add_service(&mut self, svc: &Svc) -> Result<(), Errno> {
        self.call(Func::AddService, cmd::NEW_SERVICE, vec![service_attr(svc)])
    }

    pub fn update_service(&mut self, svc: &Svc) -> Result<(), Errno> {
        self.call(Func::UpdateService, cmd::SET_SERVICE, vec![service_attr(svc)])
    }

    pub fn del_service(&mut self, svc: &Svc) -> Result<(), Errno> {
        self.call(Func::DelService, cmd::DEL_SERVICE, vec![service_attr(svc)])
    }

    /// `ipvs_zero_service`: all services when none is named.
    pub fn zero_service(&mut self, svc: &Svc) -> Result<(), Errno> {
        let attrs =
            if svc.fwmark != 0 || svc.addr != [0; 16] || svc.port != 0 { vec![service_attr(svc)] } else { Vec::new() };
        self.call(Func::ZeroService, cmd::ZERO, attrs)
    }

    pub fn add_dest(&mut self, svc: &Svc, dest: &Dest) -> Result<(), Errno> {
        self.call(Func::AddDest, cmd::NEW_DEST, vec![service_attr(svc), dest_attr(dest)])
    }

    pub fn update_dest(&mut self, svc: &Svc, dest: &Dest) -> Result<(), Errno> {
        self.call(Func::UpdateDest, cmd::SET_DEST, vec![service_attr(svc), dest_attr(dest)])
    }

    pub fn del_dest(&mut self, svc: &Svc, dest: &Dest) -> Result<(), Errno> {
        self.call(Func::DelDest, cmd::DEL_DEST, vec![service_attr(svc), dest_attr(dest)])
    }

    pub fn set_timeout(&mut self, t: &TimeoutCfg) -> Result<(), Errno> {
        let attrs = vec![
            Attr::U32(cmd_attr::TIMEOUT_TCP, t.tcp),
            Attr::U32(cmd_attr::TIMEOUT_TCP_FIN, t.tcp_fin),
            Attr::U32(cmd_attr::TIMEOUT_UDP, t.udp),
        ];
        self.call(Func::SetTimeout, cmd::SET_CONFIG, attrs)
    }

    pub fn start_daemon(&mut self, d: &DaemonCfg) -> Result<(), Errno> {
        use ipvs_genl::consts::daemon_attr as da;
        let mut v = vec![
            Attr::U32(da::STATE, d.state),
            Attr::Str(da::MCAST_IFN, d.mcast_ifn.clone()),
            Attr::U32(da::SYNC_ID, d.syncid),
        ];
        if d.sync_maxlen != 0 {
            v.push(Attr::U16(da::SYNC_MAXLEN, d.sync_maxlen));
        }
        if d.mcast_port != 0 {
            v.push(Attr::U16(da::MCAST_PORT, d.mcast_port));
        }
        if d.mcast_ttl != 0 {
            v.push(Attr::U8(da::MCAST_TTL, d.mcast_ttl));
        }
        if d.mcast_af == AF_INET6 {
            v.push(Attr::Bytes(da::MCAST_GROUP6, d.mcast_group.to_vec()));
        } else if d.mcast_af == AF_INET {
            v.push(Attr::Bytes(da::MCAST_GROUP, d.mcast_group[..4].to_vec()));
        }
        self.call(Func::StartDaemon, cmd::NEW_DAEMON, vec![Attr::Nest(cmd_attr::DAEMON, v)])
    }

    pub fn stop_daemon(&mut self, d: &DaemonCfg) -> Result<(), Errno> {
        use ipvs_genl::consts::daemon_attr as da;
        let v = vec![
            Attr::U32(da::STATE, d.state),
            Attr::Str(da::MCAST_IFN, d.mcast_ifn.clone()),
            Attr::U32(da::SYNC_ID, d.syncid),
        ];
        self.call(Func::StopDaemon, cmd::DEL_DAEMON, vec![Attr::Nest(cmd_attr::DAEMON, v)])
    }

    /// `ipvs_get_services`: the dump, unsorted (ipvs_func is not changed).
    pub fn get_services(&mut self) -> Result<Vec<ServiceRow>, Errno> {
        let replies = self.request(cmd::GET_SERVICE, true, Vec::new())?;
        replies.iter().map(|a| parse_service_reply(a)).collect()
    }

    /// `ipvs_get_service`: one service by its key.
    pub fn get_service(&mut self, svc: &Svc) -> Result<ServiceRow, Errno> {
        self.func = Func::GetService;
        let t = Svc {
            af: svc.af,
            protocol: svc.protocol,
            addr: svc.addr,
            port: svc.port,
            fwmark: svc.fwmark,
            netmask: 0,
            ..Svc::default()
        };
        let replies = self.request(cmd::GET_SERVICE, false, vec![service_attr(&t)])?;
        match replies.first() {
            Some(a) => parse_service_reply(a),
            None => Err(Errno(EINVAL)),
        }
    }

    /// `ipvs_get_dests` of a service, unsorted (the kernel's order).
    pub fn get_dests(&mut self, se: &ServiceRow) -> Result<Vec<DestRow>, Errno> {
        self.func = Func::GetDests;
        let key = key_of(se.af, se.protocol, se.addr, se.port, se.fwmark);
        let replies = self.request(cmd::GET_DEST, true, vec![ServiceSpec { key, params: None }.to_attr()])?;
        replies.iter().map(|a| parse_dest_reply(a, se.af)).collect()
    }

    /// `ipvs_get_dests` of several services at once: the dumps are requested ahead, up to a
    /// window, and answered in order (what a listing of many services spends its time on).
    pub fn get_dests_many(&mut self, ses: &[ServiceRow]) -> Vec<Result<Vec<DestRow>, Errno>> {
        // The kernel runs one dump at a time per socket (a second one is EBUSY while the first
        // is unfinished): ask it one by one. dpvsd answers each dump whole, in order.
        let window = if self.is_dpvsd() { 64 } else { 1 };
        self.settle();
        self.func = Func::GetDests;
        let n = ses.len();
        let mut acc: Vec<Vec<Vec<u8>>> = vec![Vec::new(); n];
        let mut res: Vec<Option<Result<(), Errno>>> = vec![None; n];
        let first = self.seq.wrapping_add(1);
        let (mut sent, mut finished) = (0usize, 0usize);
        while finished < n {
            while sent < n && sent < finished + window {
                let se = &ses[sent];
                let seq = self.next_seq();
                let key = key_of(se.af, se.protocol, se.addr, se.port, se.fwmark);
                let msg = genl_message(
                    self.family,
                    NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP,
                    seq,
                    0,
                    cmd::GET_DEST,
                    IPVS_GENL_VERSION,
                    vec![ServiceSpec { key, params: None }.to_attr()],
                );
                if let Err(e) = self.send(&msg) {
                    res[sent] = Some(Err(e));
                }
                sent += 1;
            }
            while finished < n && res[finished].is_some() {
                finished += 1;
            }
            if finished >= n {
                break;
            }
            let dg = match self.recv() {
                Ok(dg) => dg,
                Err(e) => {
                    for r in res.iter_mut().skip(finished).filter(|r| r.is_none()) {
                        *r = Some(Err(e));
                    }
                    break;
                }
            };
            for m in messages(&dg) {
                let i = m.seq.wrapping_sub(first) as usize;
                if i >= sent || res[i].is_some() {
                    continue;
                }
                match decode_reply(&m) {
                    Reply::Genl { attrs, .. } => acc[i].push(attrs.to_vec()),
                    Reply::Done => res[i] = Some(Ok(())),
                    Reply::Error(e) => res[i] = Some(Err(Errno(e.0))),
                    _ => {}
                }
            }
        }
        res.into_iter()
            .zip(acc)
            .zip(ses)
            .map(|((r, attrs), se)| match r.unwrap_or(Err(Errno(EINVAL))) {
                Ok(()) => attrs.iter().map(|a| parse_dest_reply(a, se.af)).collect(),
                Err(e) => Err(e),
            })
            .collect()
    }

    /// `ipvs_get_timeout`.
    pub fn get_timeout(&mut self) -> Result<TimeoutCfg, Errno> {
        self.func = Func::GetTimeout;
        let replies = self.request(cmd::GET_CONFIG, false, Vec::new())?;
        let mut t = TimeoutCfg::default();
        for a in &replies {
            let tab = AttrTable::parse(a, &CMD_POLICY).map_err(|_| Errno(EINVAL))?;
            t.tcp = tab.u32(cmd_attr::TIMEOUT_TCP).unwrap_or(t.tcp);
            t.tcp_fin = tab.u32(cmd_attr::TIMEOUT_TCP_FIN).unwrap_or(t.tcp_fin);
            t.udp = tab.u32(cmd_attr::TIMEOUT_UDP).unwrap_or(t.udp);
        }
        Ok(t)
    }

    /// `ipvs_get_daemon`: two slots, master or backup as they come.
    pub fn get_daemon(&mut self) -> Result<[DaemonCfg; 2], Errno> {
        self.func = Func::GetDaemon;
        let replies = self.request(cmd::GET_DAEMON, true, Vec::new())?;
        let mut u: [DaemonCfg; 2] = Default::default();
        for a in &replies {
            let i = usize::from(u[0].state != 0);
            let tab = AttrTable::parse(a, &CMD_POLICY).map_err(|_| Errno(EINVAL))?;
            let d = Daemon::parse(tab.get(cmd_attr::DAEMON), true).map_err(|_| Errno(EINVAL))?;
            let mut cfg = DaemonCfg {
                state: d.state,
                mcast_ifn: d.mcast_ifn,
                syncid: d.sync_id,
                sync_maxlen: d.sync_maxlen,
                mcast_af: 0,
                mcast_group: [0; 16],
                mcast_port: d.mcast_port,
                mcast_ttl: d.mcast_ttl,
            };
            match d.group {
                Some(McastGroup::V4(g)) => {
                    cfg.mcast_af = AF_INET;
                    cfg.mcast_group[..4].copy_from_slice(&g.octets());
                }
                Some(McastGroup::V6(g)) => {
                    cfg.mcast_af = AF_INET6;
                    cfg.mcast_group = g.octets();
                }
                None => {}
            }
            u[i] = cfg;
        }
        Ok(u)
    }

    /// A /proc/net file's text: from dpvsd by its private request, else from the kernel's
    /// /proc. Err when it cannot be read.
    pub fn read_proc(&mut self, name: &str) -> Result<Vec<u8>, Errno> {
        if !self.is_dpvsd() {
            return std::fs::read(format!("/proc/net/{name}")).map_err(|e| io_errno(&e));
        }
        let seq = self.next_seq();
        let msg = proc_read_request(name, seq);
        self.send(&msg)?;
        let mut text = Vec::new();
        loop {
            let dg = self.recv()?;
            for m in messages(&dg) {
                if m.seq != seq {
                    continue;
                }
                match m.kind {
                    DPVS_PROC_READ => text.extend_from_slice(m.payload()),
                    _ => match decode_reply(&m) {
                        Reply::Done | Reply::Ack => return Ok(text),
                        Reply::Error(e) => return Err(Errno(e.0)),
                        _ => {}
                    },
                }
            }
        }
    }
}

fn key_of(af: u16, protocol: u16, addr: [u8; 16], port: u16, fwmark: u32) -> ServiceKey {
    if fwmark != 0 {
        ServiceKey::Fwmark { af, mark: fwmark }
    } else {
        ServiceKey::Tuple { af, protocol, addr, port }
    }
}

/// `ipvs_nl_fill_service_attr`.
fn service_attr(svc: &Svc) -> Attr {
    ServiceSpec {
        key: key_of(svc.af, svc.protocol, svc.addr, svc.port, svc.fwmark),
        params: Some(ServiceParams {
            sched_name: svc.sched_name.clone(),
            pe_name: (!svc.pe_name.is_empty()).then(|| svc.pe_name.clone()),
            flags: FlagsUpdate { flags: svc.flags, mask: u32::MAX },
            timeout: svc.timeout,
            netmask: svc.netmask.to_ne_bytes(),
        }),
    }
    .to_attr()
}

/// `ipvs_nl_fill_dest_attr`.
fn dest_attr(d: &Dest) -> Attr {
    DestSpec {
        addr: d.addr,
        port: d.port,
        af: d.af,
        params: Some(DestParams {
            fwd: d.conn_flags & ipvs_genl::consts::fwd::MASK,
            weight: d.weight as u32,
            u_thresh: d.u_threshold,
            l_thresh: d.l_threshold,
            tun_type: d.tun_type,
            tun_port: d.tun_port,
            tun_flags: d.tun_flags,
        }),
    }
    .to_attr()
}

fn parse_service_reply(attrs: &[u8]) -> Result<ServiceRow, Errno> {
    let t = AttrTable::parse(attrs, &CMD_POLICY).map_err(|_| Errno(EINVAL))?;
    let nest = t.get(cmd_attr::SERVICE).ok_or(Errno(EINVAL))?;
    let e = ServiceEntry::parse(nest).map_err(|_| Errno(EINVAL))?;
    let st = AttrTable::parse(nest, &ipvs_genl::ipvs::SVC_POLICY).map_err(|_| Errno(EINVAL))?;
    let mask = st.array::<8>(svc_attr::FLAGS).map(|f| u32::from_ne_bytes([f[4], f[5], f[6], f[7]])).unwrap_or(u32::MAX);
    let (af, protocol, addr, port, fwmark) = match e.key {
        ServiceKey::Tuple { af, protocol, addr, port } => (af, protocol, addr, port, 0),
        ServiceKey::Fwmark { af, mark } => (af, 0, [0; 16], 0, mark),
    };
    let mut sched_name = e.sched_name;
    crate::parse::truncate_bytes(&mut sched_name, 15);
    Ok(ServiceRow {
        af,
        protocol,
        addr,
        port,
        fwmark,
        sched_name,
        pe_name: e.pe_name.unwrap_or_default(),
        flags: e.flags & mask,
        timeout: e.timeout,
        netmask: u32::from_ne_bytes(e.netmask),
        stats: e.stats,
    })
}

fn parse_dest_reply(attrs: &[u8], svc_af: u16) -> Result<DestRow, Errno> {
    let t = AttrTable::parse(attrs, &CMD_POLICY).map_err(|_| Errno(EINVAL))?;
    let nest = t.get(cmd_attr::DEST).ok_or(Errno(EINVAL))?;
    let e = DestEntry::parse(nest).map_err(|_| Errno(EINVAL))?;
    // libipvs reads a dest's STATS64 with its 32-bit parser: every counter but the byte
    // counts keeps its low 32 bits.
    let s = e.stats;
    let low = |v: u64| v & 0xffff_ffff;
    let stats = Stats {
        conns: low(s.conns),
        inpkts: low(s.inpkts),
        outpkts: low(s.outpkts),
        inbytes: s.inbytes,
        outbytes: s.outbytes,
        cps: low(s.cps),
        inpps: low(s.inpps),
        outpps: low(s.outpps),
        inbps: low(s.inbps),
        outbps: low(s.outbps),
    };
    Ok(DestRow {
        af: if e.af != 0 { e.af } else { svc_af },
        addr: e.addr,
        port: e.port,
        conn_flags: e.params.fwd,
        weight: e.params.weight as i32,
        u_threshold: e.params.u_thresh,
        l_threshold: e.params.l_thresh,
        active: e.active_conns,
        inactive: e.inact_conns,
        persist: e.persist_conns,
        tun_type: e.params.tun_type,
        tun_port: e.params.tun_port,
        tun_flags: e.params.tun_flags,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_by_function() {
        assert_eq!(strerror(Func::AddService, EEXIST), "Service already exists");
        assert_eq!(strerror(Func::AddDest, ESRCH), "Service not defined");
        assert_eq!(strerror(Func::DelService, ESRCH), "No such service");
        assert_eq!(strerror(Func::Init, ENOPROTOOPT), "Protocol not available");
        assert_eq!(strerror(Func::AddDest, 34), "Numerical result out of range");
        assert_eq!(strerror(Func::StartDaemon, 19), "No such device");
    }

    #[test]
    fn requests_carry_what_libipvs_sends() {
        let svc =
            Svc { af: AF_INET, protocol: 6, port: 80, sched_name: "rr".into(), netmask: u32::MAX, ..Svc::default() };
        let Attr::Nest(kind, v) = service_attr(&svc) else { panic!("nest expected") };
        assert_eq!(kind, cmd_attr::SERVICE);
        assert!(v.contains(&Attr::Be16(svc_attr::PORT, 80)));
        assert!(v.contains(&Attr::Bytes(svc_attr::NETMASK, vec![255; 4])));
        assert!(!v.iter().any(|a| matches!(a, Attr::Str(svc_attr::PE_NAME, _))));
    }
}
