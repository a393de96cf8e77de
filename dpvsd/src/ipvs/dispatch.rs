//! One request datagram in, the kernel's answer datagrams out: the
//! `netlink_rcv_skb` loop, generic netlink's checks (`genl_family_rcv_msg`),
//! nlctrl, and the IPVS family's commands. Framing rules (IPVS-GENL.md §4): a
//! do-reply and its ACK travel in separate datagrams; a dump ends with
//! NLMSG_DONE and no ACK; an error is one NLMSG_ERROR and no ACK.

use std::collections::VecDeque;

use ipvs_genl::attr::Attr;
use ipvs_genl::consts::{cmd, ctrl, IPVS_GENL_VERSION};
use ipvs_genl::ctrl::{newfamily, parse_getfamily, FamilyQuery, IPVS_OPS};
use ipvs_genl::frame::{self, NlMsg, NLMSG_MIN_TYPE, NLM_F_ACK, NLM_F_MULTI, NLM_F_REQUEST};
use ipvs_genl::ipvs::{info_attrs, CMD_POLICY};
use ipvs_genl::{AttrTable, Errno};
use tracing::{debug, trace};

use super::state::{Change, Host};
use super::Ipvs;

/// nlmsg_type of dpvsd's private "read a /proc/net/ip_vs* file" request,
/// used by the shim (outside the range generic netlink allocates ids from).
pub const DPVS_PROC_READ: u16 = 0x7ff0;

/// Dump datagrams are filled up to this size (the kernel fills skbs up to
/// what the reader's buffer takes; libnl reads 16 KiB and peeks first).
pub const DUMP_DATAGRAM: usize = 8192;

/// What one request produced.
enum Outcome {
    /// A do: an optional reply message.
    Do(Option<Vec<u8>>),
    /// A dump: its messages (DONE is added by the caller).
    Dump(Vec<Vec<u8>>),
}

impl Ipvs {
    /// Handles one datagram from a client and queues the answer datagrams.
    pub fn handle_datagram(&mut self, datagram: &[u8], admin: bool, out: &mut VecDeque<Vec<u8>>) {
        for m in frame::messages(datagram) {
            // Only requests are handled; control messages are just ACKed.
            if m.flags & NLM_F_REQUEST == 0 || m.kind < NLMSG_MIN_TYPE {
                if m.flags & NLM_F_ACK != 0 {
                    out.push_back(frame::ack(&m));
                }
                continue;
            }
            match self.handle_message(&m, admin) {
                Ok(Outcome::Do(reply)) => {
                    if let Some(r) = reply {
                        out.push_back(r);
                    }
                    if m.flags & NLM_F_ACK != 0 {
                        out.push_back(frame::ack(&m));
                    }
                }
                Ok(Outcome::Dump(msgs)) => {
                    out.extend(frame::pack(msgs, DUMP_DATAGRAM));
                    out.push_back(frame::done(m.seq, m.pid));
                }
                Err(e) => {
                    debug!(kind = m.kind, errno = e.0, "request refused");
                    out.push_back(frame::error(&m, e));
                }
            }
        }
    }

    fn handle_message(&mut self, m: &NlMsg<'_>, admin: bool) -> Result<Outcome, Errno> {
        match m.kind {
            ctrl::GENL_ID_CTRL => self.handle_ctrl(m),
            DPVS_PROC_READ => self.handle_proc(m),
            k if k == self.family_id => self.handle_ipvs(m, admin),
            _ => Err(Errno::ENOENT),
        }
    }

    fn handle_ctrl(&self, m: &NlMsg<'_>) -> Result<Outcome, Errno> {
        let g = m.genl()?;
        if g.cmd != ctrl::CMD_GETFAMILY {
            return Err(Errno::EOPNOTSUPP);
        }
        if m.is_dump() {
            // Only one family lives here.
            return Ok(Outcome::Dump(vec![newfamily(m, NLM_F_MULTI, self.family_id)]));
        }
        match parse_getfamily(g.attrs)? {
            FamilyQuery::Name(n) if n == ipvs_genl::consts::IPVS_GENL_NAME => {}
            FamilyQuery::Id(id) if id == self.family_id => {}
            _ => return Err(Errno::ENOENT),
        }
        Ok(Outcome::Do(Some(newfamily(m, 0, self.family_id))))
    }

    fn handle_proc(&self, m: &NlMsg<'_>) -> Result<Outcome, Errno> {
        let p = m.payload();
        let name = &p[..p.iter().position(|&b| b == 0).unwrap_or(p.len())];
        let text = match name {
            b"ip_vs" => super::procfs::ip_vs(&self.state, self.conn_tab_size),
            b"ip_vs_stats" => super::procfs::ip_vs_stats(&self.state),
            b"ip_vs_conn" => super::procfs::ip_vs_conn(),
            _ => return Err(Errno::ENOENT),
        };
        let chunks = text
            .as_bytes()
            .chunks(4096)
            .map(|c| raw_message(DPVS_PROC_READ, NLM_F_MULTI, m.seq, m.pid, c))
            .collect();
        Ok(Outcome::Dump(chunks))
    }

    fn handle_ipvs(&mut self, m: &NlMsg<'_>, admin: bool) -> Result<Outcome, Errno> {
        let g = m.genl()?;
        let Some(&(_, doit, dumpit)) = IPVS_OPS.iter().find(|op| op.0 == g.cmd) else {
            return Err(Errno::EOPNOTSUPP);
        };
        if !admin {
            return Err(Errno::EPERM);
        }
        if m.is_dump() {
            if !dumpit {
                return Err(Errno::EOPNOTSUPP);
            }
            // Dumps are not validated against the policy (GENL_DONT_VALIDATE_DUMP).
            let t = AttrTable::parse(g.attrs, &CMD_POLICY).ok();
            return Ok(Outcome::Dump(self.dump(m, g.cmd, t.as_ref())));
        }
        if !doit {
            return Err(Errno::EOPNOTSUPP);
        }
        let t = AttrTable::parse(g.attrs, &CMD_POLICY)?;
        let reply = |cmd: u8, attrs: Vec<Attr>| {
            Some(frame::genl_message(self.family_id, 0, m.seq, m.pid, cmd, IPVS_GENL_VERSION, attrs))
        };
        match g.cmd {
            cmd::GET_SERVICE => {
                let svc = self.state.get_service(&t)?;
                Ok(Outcome::Do(reply(cmd::NEW_SERVICE, vec![svc.entry().to_attr()])))
            }
            cmd::GET_INFO => Ok(Outcome::Do(reply(
                cmd::SET_INFO,
                info_attrs(ipvs_genl::consts::IP_VS_VERSION_CODE, self.conn_tab_size),
            ))),
            cmd::GET_CONFIG => Ok(Outcome::Do(reply(cmd::SET_CONFIG, self.state.timeouts.to_attrs()))),
            command => {
                let host = SysHost;
                let change = self.state.apply(command, &t, &host)?;
                trace!(command, "applied");
                if change == Change::Config {
                    self.persist(command, g.attrs);
                }
                Ok(Outcome::Do(None))
            }
        }
    }

    fn dump(&self, m: &NlMsg<'_>, command: u8, t: Option<&AttrTable<'_>>) -> Vec<Vec<u8>> {
        let entry = |cmd: u8, attr: Attr| {
            frame::genl_message(self.family_id, NLM_F_MULTI, m.seq, m.pid, cmd, IPVS_GENL_VERSION, vec![attr])
        };
        match command {
            cmd::GET_SERVICE => self.state.services.values().map(|s| entry(cmd::NEW_SERVICE, s.entry().to_attr())).collect(),
            cmd::GET_DEST => t
                .and_then(|t| self.state.dump_target(t))
                .map(|s| s.dests.iter().map(|d| entry(cmd::NEW_DEST, d.entry().to_attr())).collect())
                .unwrap_or_default(),
            cmd::GET_DAEMON => self.state.daemons().map(|d| entry(cmd::NEW_DAEMON, d.to_attr())).collect(),
            _ => Vec::new(),
        }
    }
}

/// A netlink message with a raw payload.
fn raw_message(kind: u16, flags: u16, seq: u32, pid: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + payload.len() + 3);
    v.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&pid.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize((v.len() + 3) & !3, 0);
    v
}

/// The kernel interfaces of this host, read from sysfs.
pub struct SysHost;

impl Host for SysHost {
    fn interface_mtu(&self, name: &str) -> Option<u32> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return None;
        }
        std::fs::read_to_string(format!("/sys/class/net/{name}/mtu")).ok()?.trim().parse().ok()
    }
}
