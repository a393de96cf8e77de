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

pub use ipvs_genl::consts::DPVS_PROC_READ;

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

    fn handle_proc(&mut self, m: &NlMsg<'_>) -> Result<Outcome, Errno> {
        let p = m.payload();
        let name = &p[..p.iter().position(|&b| b == 0).unwrap_or(p.len())];
        let text = match name {
            b"ip_vs" => {
                self.refresh();
                super::procfs::ip_vs(&self.state, self.conn_tab_size)
            }
            b"ip_vs_stats" => {
                self.refresh();
                let mut rates = ipvs_genl::ipvs::Stats::default();
                if let Some(dp) = &self.dataplane {
                    dp.total_rates(&mut rates);
                }
                super::procfs::ip_vs_stats(&self.state, &rates)
            }
            b"ip_vs_conn" => {
                let conns = self.dataplane.as_mut().map(|dp| dp.connections()).unwrap_or_default();
                super::procfs::ip_vs_conn(&conns)
            }
            _ => return Err(Errno::ENOENT),
        };
        let chunks = text
            .as_bytes()
            .chunks(4096)
            .map(|c| frame::raw_message(DPVS_PROC_READ, NLM_F_MULTI, m.seq, m.pid, c))
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
            // a listing starts with the services; its dest dumps use what that brought
            if g.cmd == cmd::GET_SERVICE {
                self.refresh();
            }
            return Ok(Outcome::Dump(self.dump(m, g.cmd, t.as_ref())));
        }
        if !doit {
            return Err(Errno::EOPNOTSUPP);
        }
        let t = AttrTable::parse(g.attrs, &CMD_POLICY)?;
        let family_id = self.family_id;
        let reply = |cmd: u8, attrs: Vec<Attr>| {
            Some(frame::genl_message(family_id, 0, m.seq, m.pid, cmd, IPVS_GENL_VERSION, attrs))
        };
        match g.cmd {
            cmd::GET_SERVICE => {
                self.refresh();
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
                    if let Some(dp) = self.dataplane.as_mut() {
                        dp.publish(&self.state);
                    }
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use ipvs_genl::attr::Attr;
    use ipvs_genl::consts::{cmd, ctrl};
    use ipvs_genl::frame::{self, decode_reply, genl_message, Reply};
    use ipvs_genl::ipvs::{ip_to_raw, FlagsUpdate, ServiceEntry, ServiceKey, ServiceParams, ServiceSpec};
    use ipvs_genl::Errno;

    use super::super::Ipvs;

    const DO: u16 = 0x005;
    const DUMP: u16 = 0x305;

    fn ipvs() -> Ipvs {
        Ipvs::ephemeral(4096)
    }

    fn req(flags: u16, command: u8, attrs: Vec<Attr>) -> Vec<u8> {
        genl_message(super::super::DEFAULT_FAMILY_ID, flags, 9, 4242, command, 1, attrs)
    }

    /// Sends one datagram; returns the answer datagrams.
    fn talk(ipvs: &mut Ipvs, dg: &[u8], admin: bool) -> Vec<Vec<u8>> {
        let mut out = VecDeque::new();
        ipvs.handle_datagram(dg, admin, &mut out);
        out.into_iter().collect()
    }

    /// Decodes every message of every datagram, one Vec per datagram.
    fn decode(dgs: &[Vec<u8>]) -> Vec<Vec<Reply<'_>>> {
        dgs.iter().map(|d| frame::messages(d).map(|m| decode_reply(&m)).collect()).collect()
    }

    fn service(addr: &str, port: u16) -> ServiceSpec {
        let (af, raw) = ip_to_raw(addr.parse().unwrap());
        ServiceSpec {
            key: ServiceKey::Tuple { af, protocol: 6, addr: raw, port },
            params: Some(ServiceParams {
                sched_name: "rr".into(),
                pe_name: None,
                flags: FlagsUpdate { flags: 0, mask: u32::MAX },
                timeout: 0,
                netmask: [255; 4],
            }),
        }
    }

    #[test]
    fn getfamily_reply_and_ack_are_separate_datagrams() {
        let mut i = ipvs();
        let dg = ipvs_genl::ctrl::getfamily_request("IPVS", 3, 77);
        let out = talk(&mut i, &dg, false);
        assert_eq!(out.len(), 2);
        let m = frame::messages(&out[0]).next().unwrap();
        assert_eq!((m.kind, m.flags, m.seq, m.pid), (ctrl::GENL_ID_CTRL, 0, 3, 77));
        let Reply::Genl { cmd, attrs, .. } = decode_reply(&m) else { panic!("not a genl reply") };
        assert_eq!(cmd, ctrl::CMD_NEWFAMILY);
        assert_eq!(ipvs_genl::ctrl::family_id(attrs), Some(i.family_id));
        assert_eq!(out[1].len(), 36);
        assert_eq!(decode(&out[1..]), vec![vec![Reply::Ack]]);
    }

    #[test]
    fn unknown_family_name_is_enoent() {
        let mut i = ipvs();
        let out = talk(&mut i, &ipvs_genl::ctrl::getfamily_request("nl80211", 1, 1), true);
        assert_eq!(decode(&out), vec![vec![Reply::Error(Errno::ENOENT)]]);
    }

    #[test]
    fn do_without_reply_gets_only_the_ack_and_dump_ends_with_done_without_ack() {
        let mut i = ipvs();
        let add = req(DO, cmd::NEW_SERVICE, vec![service("10.0.0.1", 80).to_attr()]);
        assert_eq!(decode(&talk(&mut i, &add, true)), vec![vec![Reply::Ack]]);
        let out = talk(&mut i, &req(DUMP, cmd::GET_SERVICE, vec![]), true);
        let replies = decode(&out);
        assert_eq!(replies.len(), 2, "entries, then DONE alone");
        assert_eq!(replies[1], vec![Reply::Done]);
        let Reply::Genl { flags, cmd, attrs } = &replies[0][0] else { panic!("entry expected") };
        assert_eq!((*flags, *cmd), (frame::NLM_F_MULTI, cmd::NEW_SERVICE));
        let nest = &attrs[4..];
        assert_eq!(ServiceEntry::parse(nest).unwrap().sched_name, "rr");
    }

    #[test]
    fn errors_come_alone_and_echo_the_request() {
        let mut i = ipvs();
        let del = req(DO, cmd::DEL_SERVICE, vec![service("10.0.0.9", 80).to_attr()]);
        let out = talk(&mut i, &del, true);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), 20 + del.len());
        assert_eq!(&out[0][20..], &del[..]);
        assert_eq!(decode(&out), vec![vec![Reply::Error(Errno::ESRCH)]]);
    }

    #[test]
    fn non_admin_gets_eperm_even_for_gets_but_may_resolve_the_family() {
        let mut i = ipvs();
        for (flags, command) in [(DO, cmd::GET_INFO), (DUMP, cmd::GET_SERVICE), (DO, cmd::FLUSH)] {
            let out = talk(&mut i, &req(flags, command, vec![]), false);
            assert_eq!(decode(&out), vec![vec![Reply::Error(Errno::EPERM)]], "cmd {command}");
        }
        let add = req(DO, cmd::NEW_SERVICE, vec![service("10.0.0.1", 80).to_attr()]);
        talk(&mut i, &add, false);
        assert!(i.state.services.is_empty());
    }

    #[test]
    fn command_kind_errors() {
        let mut i = ipvs();
        let cases = [
            (DO, 99u8, Errno::EOPNOTSUPP),
            (DO, cmd::SET_INFO, Errno::EOPNOTSUPP),
            (DO, cmd::GET_DEST, Errno::EOPNOTSUPP),
            (DUMP, cmd::GET_INFO, Errno::EOPNOTSUPP),
            (DO, cmd::NEW_SERVICE, Errno::EINVAL),
        ];
        for (flags, command, want) in cases {
            let out = talk(&mut i, &req(flags, command, vec![]), true);
            assert_eq!(decode(&out), vec![vec![Reply::Error(want)]], "cmd {command}");
        }
        let mut short = req(DO, cmd::GET_INFO, vec![]);
        short.truncate(18);
        short[..4].copy_from_slice(&18u32.to_ne_bytes());
        assert_eq!(decode(&talk(&mut i, &short, true)), vec![vec![Reply::Error(Errno::EINVAL)]]);
        let other = genl_message(0x77, DO, 1, 1, 1, 1, vec![]);
        assert_eq!(decode(&talk(&mut i, &other, true)), vec![vec![Reply::Error(Errno::ENOENT)]]);
    }

    #[test]
    fn several_messages_in_one_datagram_are_all_answered() {
        let mut i = ipvs();
        let mut dg = req(DO, cmd::NEW_SERVICE, vec![service("10.0.0.1", 80).to_attr()]);
        dg.extend(req(DO, cmd::NEW_SERVICE, vec![service("10.0.0.1", 80).to_attr()]));
        let out = talk(&mut i, &dg, true);
        assert_eq!(decode(&out), vec![vec![Reply::Ack], vec![Reply::Error(Errno::EEXIST)]]);
    }

    #[test]
    fn get_info_and_config_replies() {
        let mut i = ipvs();
        let out = talk(&mut i, &req(DO, cmd::GET_INFO, vec![]), true);
        assert_eq!(out.len(), 2);
        let m = frame::messages(&out[0]).next().unwrap();
        assert_eq!(m.genl().unwrap().cmd, cmd::SET_INFO);
        assert_eq!(&m.genl().unwrap().attrs[4..8], &0x0001_0201u32.to_ne_bytes());
        let out = talk(&mut i, &req(DO, cmd::GET_CONFIG, vec![]), true);
        let m = frame::messages(&out[0]).next().unwrap();
        assert_eq!(m.genl().unwrap().cmd, cmd::SET_CONFIG);
        assert_eq!(m.genl().unwrap().attrs.len(), 24);
    }

    #[test]
    fn proc_read_streams_chunks_then_done() {
        let mut i = ipvs();
        let dg = frame::proc_read_request("ip_vs_conn", 1);
        let out = talk(&mut i, &dg, false);
        assert_eq!(out.len(), 2);
        let m = frame::messages(&out[0]).next().unwrap();
        assert!(m.payload().starts_with(b"Pro FromIP   FPrt ToIP"));
        assert_eq!(decode(&out[1..]), vec![vec![Reply::Done]]);
    }

    proptest::proptest! {
        /// Garbage never panics, and what a refused request carries never
        /// changes the state.
        #[test]
        fn garbage_is_answered_and_changes_nothing(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            command in 0u8..20,
            flags in proptest::sample::select(vec![0u16, 1, 5, 0x305]),
        ) {
            let mut i = ipvs();
            let seed = req(DO, cmd::NEW_SERVICE, vec![service("10.0.0.1", 80).to_attr()]);
            talk(&mut i, &seed, true);
            let before = i.state.clone();
            let mut dg = genl_message(i.family_id, flags, 1, 1, command, 1, vec![]);
            dg.extend_from_slice(&body);
            let len = dg.len() as u32;
            dg[..4].copy_from_slice(&len.to_ne_bytes());
            let out = talk(&mut i, &dg, true);
            let refused = out.iter().any(|d| frame::messages(d).any(|m| matches!(decode_reply(&m), Reply::Error(_))));
            if refused {
                proptest::prop_assert_eq!(&i.state, &before);
            }
            // And raw garbage, framed or not.
            talk(&mut i, &body, true);
        }
    }
}
