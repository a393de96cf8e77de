//! The authoritative IPVS configuration and the kernel's rules for changing it
//! (`ip_vs_genl_set_cmd`, `ip_vs_add_service`, `ip_vs_edit_service`,
//! `ip_vs_add_dest`, `ip_vs_edit_dest`, `ip_vs_set_timeout`,
//! `start_sync_thread` / `stop_sync_thread` in `ip_vs_ctl.c` and
//! `ip_vs_sync.c`). Every check happens before anything changes, so a
//! refused request leaves the state as it was.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipvs_genl::consts::{cmd, cmd_attr, daemon_state, fwd, svc_flags, tun_type, AF_INET, AF_INET6, HZ};
use ipvs_genl::ipvs::{
    Daemon, DestEntry, DestParams, DestSpec, McastGroup, RawAddr, ServiceEntry, ServiceKey, ServiceSpec, Stats,
    Timeouts,
};
use ipvs_genl::{AttrTable, Errno};

/// Scheduler names dpvsd accepts: every Linux IPVS scheduler plus DPVS's conhash.
pub const SCHEDULERS: [&str; 15] =
    ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos", "conhash"];

/// Persistence engines (the kernel has one).
pub const PERSISTENCE_ENGINES: [&str; 1] = ["sip"];

/// The facts about the host a request may depend on.
pub trait Host {
    /// The MTU of interface `name`, or None when it does not exist.
    fn interface_mtu(&self, name: &str) -> Option<u32>;
}

/// A real server of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dest {
    pub af: u16,
    pub addr: RawAddr,
    pub port: u16,
    pub params: DestParams,
    pub stats: Stats,
    /// Connection counts, as the dataplane last reported them.
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
}

/// A virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub key: ServiceKey,
    /// None: the "none" scheduler.
    pub sched: Option<String>,
    pub pe: Option<String>,
    /// Includes HASHED.
    pub flags: u32,
    /// Persistence timeout as the kernel keeps it: seconds * HZ, in 32 bits.
    pub timeout_jiffies: u32,
    pub netmask: [u8; 4],
    /// Newest first, as the kernel lists them.
    pub dests: Vec<Dest>,
    pub stats: Stats,
}

impl Service {
    pub fn timeout_secs(&self) -> u32 {
        self.timeout_jiffies / HZ
    }

    pub fn entry(&self) -> ServiceEntry {
        ServiceEntry {
            key: self.key,
            sched_name: self.sched.clone().unwrap_or_else(|| "none".into()),
            pe_name: self.pe.clone(),
            flags: self.flags,
            timeout: self.timeout_secs(),
            netmask: self.netmask,
            stats: self.stats,
        }
    }

    fn find_dest(&self, af: u16, addr: &RawAddr, port: u16) -> Option<usize> {
        self.dests.iter().position(|d| d.af == af && d.addr == *addr && d.port == port)
    }
}

impl Dest {
    pub fn entry(&self) -> DestEntry {
        DestEntry {
            af: self.af,
            addr: self.addr,
            port: self.port,
            params: self.params,
            active_conns: self.active_conns,
            inact_conns: self.inact_conns,
            persist_conns: self.persist_conns,
            stats: self.stats,
        }
    }
}

/// Whether a successful request changed the configuration (and so must be
/// persisted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Config,
    /// Statistics only (ZERO).
    Counters,
}

/// The whole IPVS configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpvsState {
    pub services: BTreeMap<ServiceKey, Service>,
    pub timeouts: Timeouts,
    pub master: Option<Daemon>,
    pub backup: Option<Daemon>,
    /// Dests whose family differs from their service's (tunnel only).
    mixed_af_dests: usize,
    /// All dests of all services.
    dests: usize,
}

fn normalize(af: u16, mut addr: RawAddr) -> RawAddr {
    if af == AF_INET {
        addr[4..].fill(0);
    }
    addr
}

/// `ip_vs_new_dest`'s address check: IPv4 must be unicast (not 0/8, not the
/// limited broadcast, not multicast); IPv6 must be unicast and not link-local
/// nor v4-mapped.
fn dest_addr_ok(af: u16, addr: &RawAddr) -> bool {
    if af == AF_INET6 {
        let a = Ipv6Addr::from(*addr);
        let seg = a.segments();
        let link_local = seg[0] & 0xffc0 == 0xfe80;
        let mapped = seg[..5] == [0; 5] && seg[5] == 0xffff;
        !(a.is_unspecified() || a.is_multicast() || link_local || mapped)
    } else {
        let a = Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]);
        !(a.octets()[0] == 0 || a.is_broadcast() || a.is_multicast())
    }
}

fn af_valid(af: u16) -> bool {
    af == AF_INET || af == AF_INET6
}

/// Checks a (NEW or SET) service's scheduler, engine and IPv6 prefix length.
fn check_service_params(spec: &ServiceSpec) -> Result<(Option<String>, Option<String>), Errno> {
    let p = spec.params.as_ref().ok_or(Errno::EINVAL)?;
    let sched = if p.sched_name == "none" {
        None
    } else if SCHEDULERS.contains(&p.sched_name.as_str()) {
        Some(p.sched_name.clone())
    } else {
        return Err(Errno::ENOENT);
    };
    let pe = match p.pe_name.as_deref() {
        None | Some("") => None,
        Some(name) if PERSISTENCE_ENGINES.contains(&name) => Some(name.to_string()),
        Some(_) => return Err(Errno::ENOENT),
    };
    if spec.key.af() == AF_INET6 {
        let plen = u32::from_ne_bytes(p.netmask);
        if !(1..=128).contains(&plen) {
            return Err(Errno::EINVAL);
        }
    }
    Ok((sched, pe))
}

/// The weight, threshold and tunnel checks shared by add and edit.
fn check_dest_params(p: &DestParams) -> Result<(), Errno> {
    if (p.weight as i32) < 0 || p.l_thresh > p.u_thresh {
        return Err(Errno::ERANGE);
    }
    if p.tun_type == tun_type::GUE && p.tun_port == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

impl IpvsState {
    pub fn sync_running(&self) -> bool {
        self.master.is_some() || self.backup.is_some()
    }

    pub fn dest_count(&self) -> usize {
        self.dests
    }

    /// Applies one of the "set" commands (everything that is not a GET).
    pub fn apply(&mut self, command: u8, t: &AttrTable<'_>, host: &dyn Host) -> Result<Change, Errno> {
        match command {
            cmd::FLUSH => {
                self.services.clear();
                self.mixed_af_dests = 0;
                self.dests = 0;
                return Ok(Change::Config);
            }
            cmd::SET_CONFIG => return self.set_config(t).map(|()| Change::Config),
            cmd::NEW_DAEMON | cmd::DEL_DAEMON => {
                // Any parse failure of the nest is EINVAL here.
                let full = command == cmd::NEW_DAEMON;
                let daemon = Daemon::parse(t.get(cmd_attr::DAEMON), full).map_err(|_| Errno::EINVAL)?;
                return if full { self.new_daemon(daemon, host) } else { self.del_daemon(daemon.state) }
                    .map(|()| Change::Config);
            }
            cmd::ZERO if !t.has(cmd_attr::SERVICE) => {
                for svc in self.services.values_mut() {
                    zero(svc);
                }
                return Ok(Change::Counters);
            }
            _ => {}
        }

        let full_svc = command == cmd::NEW_SERVICE || command == cmd::SET_SERVICE;
        let spec = ServiceSpec::parse(t.get(cmd_attr::SERVICE), full_svc)?;
        let exists = self.services.contains_key(&spec.key);
        if command != cmd::NEW_SERVICE && !exists {
            return Err(Errno::ESRCH);
        }

        let dest = if matches!(command, cmd::NEW_DEST | cmd::SET_DEST | cmd::DEL_DEST) {
            let mut d = DestSpec::parse(t.get(cmd_attr::DEST), command != cmd::DEL_DEST)?;
            let svc_af = spec.key.af();
            if d.af == 0 {
                d.af = svc_af;
            }
            if !af_valid(d.af) {
                return Err(Errno::EAFNOSUPPORT);
            }
            if d.af != svc_af && command != cmd::DEL_DEST {
                let tunnel = d.params.map(|p| p.fwd) == Some(fwd::TUNNEL);
                if self.sync_running() || !tunnel {
                    return Err(Errno::EINVAL);
                }
            }
            d.addr = normalize(d.af, d.addr);
            Some(d)
        } else {
            None
        };

        match command {
            cmd::NEW_SERVICE => {
                if exists {
                    return Err(Errno::EEXIST);
                }
                self.add_service(&spec)?;
            }
            cmd::SET_SERVICE => self.edit_service(&spec)?,
            cmd::DEL_SERVICE => {
                if let Some(svc) = self.services.remove(&spec.key) {
                    self.mixed_af_dests -= svc.dests.iter().filter(|d| d.af != svc.key.af()).count();
                    self.dests -= svc.dests.len();
                }
            }
            cmd::NEW_DEST => self.add_dest(&spec.key, dest.as_ref().ok_or(Errno::EINVAL)?)?,
            cmd::SET_DEST => self.edit_dest(&spec.key, dest.as_ref().ok_or(Errno::EINVAL)?)?,
            cmd::DEL_DEST => self.del_dest(&spec.key, dest.as_ref().ok_or(Errno::EINVAL)?)?,
            cmd::ZERO => {
                if let Some(svc) = self.services.get_mut(&spec.key) {
                    zero(svc);
                }
                return Ok(Change::Counters);
            }
            _ => return Err(Errno::EINVAL),
        }
        Ok(Change::Config)
    }

    fn add_service(&mut self, spec: &ServiceSpec) -> Result<(), Errno> {
        let (sched, pe) = check_service_params(spec)?;
        let p = spec.params.as_ref().ok_or(Errno::EINVAL)?;
        let svc = Service {
            key: spec.key,
            sched,
            pe,
            flags: p.flags.apply(0) | svc_flags::HASHED,
            timeout_jiffies: p.timeout.wrapping_mul(HZ),
            netmask: p.netmask,
            dests: Vec::new(),
            stats: Stats::default(),
        };
        self.services.insert(spec.key, svc);
        Ok(())
    }

    fn edit_service(&mut self, spec: &ServiceSpec) -> Result<(), Errno> {
        let (sched, pe) = check_service_params(spec)?;
        let p = spec.params.as_ref().ok_or(Errno::EINVAL)?;
        let svc = self.services.get_mut(&spec.key).ok_or(Errno::ESRCH)?;
        svc.sched = sched;
        svc.pe = pe;
        svc.flags = p.flags.apply(svc.flags) | svc_flags::HASHED;
        svc.timeout_jiffies = p.timeout.wrapping_mul(HZ);
        svc.netmask = p.netmask;
        Ok(())
    }

    fn add_dest(&mut self, key: &ServiceKey, d: &DestSpec) -> Result<(), Errno> {
        let p = d.params.ok_or(Errno::EINVAL)?;
        check_dest_params(&p)?;
        let svc = self.services.get_mut(key).ok_or(Errno::ESRCH)?;
        if svc.find_dest(d.af, &d.addr, d.port).is_some() {
            return Err(Errno::EEXIST);
        }
        if !dest_addr_ok(d.af, &d.addr) {
            return Err(Errno::EINVAL);
        }
        svc.dests.insert(0, Dest { af: d.af, addr: d.addr, port: d.port, params: p, stats: Stats::default(), active_conns: 0, inact_conns: 0, persist_conns: 0 });
        self.dests += 1;
        if d.af != key.af() {
            self.mixed_af_dests += 1;
        }
        Ok(())
    }

    fn edit_dest(&mut self, key: &ServiceKey, d: &DestSpec) -> Result<(), Errno> {
        let p = d.params.ok_or(Errno::EINVAL)?;
        check_dest_params(&p)?;
        let svc = self.services.get_mut(key).ok_or(Errno::ESRCH)?;
        let i = svc.find_dest(d.af, &d.addr, d.port).ok_or(Errno::ENOENT)?;
        svc.dests[i].params = p;
        Ok(())
    }

    fn del_dest(&mut self, key: &ServiceKey, d: &DestSpec) -> Result<(), Errno> {
        let svc = self.services.get_mut(key).ok_or(Errno::ESRCH)?;
        let i = svc.find_dest(d.af, &d.addr, d.port).ok_or(Errno::ENOENT)?;
        let removed = svc.dests.remove(i);
        self.dests -= 1;
        if removed.af != key.af() {
            self.mixed_af_dests -= 1;
        }
        Ok(())
    }

    fn set_config(&mut self, t: &AttrTable<'_>) -> Result<(), Errno> {
        let limit = (i32::MAX as u32) / HZ;
        let mut new = self.timeouts;
        let fields = [
            (cmd_attr::TIMEOUT_TCP, &mut new.tcp),
            (cmd_attr::TIMEOUT_TCP_FIN, &mut new.tcp_fin),
            (cmd_attr::TIMEOUT_UDP, &mut new.udp),
        ];
        let mut values = Vec::with_capacity(3);
        for (kind, slot) in fields {
            let v = t.u32(kind).unwrap_or(*slot);
            // The kernel holds these in ints: above INT_MAX they are negative.
            if v > limit {
                return Err(Errno::EINVAL);
            }
            values.push((slot, v));
        }
        for (slot, v) in values {
            if v != 0 {
                *slot = v;
            }
        }
        self.timeouts = new;
        Ok(())
    }

    fn new_daemon(&mut self, mut d: Daemon, host: &dyn Host) -> Result<(), Errno> {
        if self.mixed_af_dests > 0 {
            return Err(Errno::EINVAL);
        }
        if d.group.is_none() {
            d.group = Some(McastGroup::V4(Ipv4Addr::new(224, 0, 0, 81)));
        }
        if d.mcast_port == 0 {
            d.mcast_port = 8848;
        }
        if d.mcast_ttl == 0 {
            d.mcast_ttl = 1;
        }
        let dev_mtu = host.interface_mtu(&d.mcast_ifn).ok_or(Errno::ENODEV)?;
        let hlen: u32 = if matches!(d.group, Some(McastGroup::V6(_))) { 40 + 8 } else { 20 + 8 };
        let backup = d.state == daemon_state::BACKUP;
        let mtu = if backup { dev_mtu.clamp(1500, 65535) } else { 1500 };
        let min_mtu = if backup { 1024 } else { 1 };
        d.sync_maxlen = if d.sync_maxlen != 0 {
            u32::from(d.sync_maxlen).clamp(min_mtu, 65535 - hlen) as u16
        } else {
            (mtu - hlen) as u16
        };
        let slot = match d.state {
            daemon_state::MASTER => &mut self.master,
            daemon_state::BACKUP => &mut self.backup,
            _ => return Err(Errno::EINVAL),
        };
        if slot.is_some() {
            return Err(Errno::EEXIST);
        }
        *slot = Some(d);
        Ok(())
    }

    fn del_daemon(&mut self, state: u32) -> Result<(), Errno> {
        let slot = match state {
            daemon_state::MASTER => &mut self.master,
            daemon_state::BACKUP => &mut self.backup,
            _ => return Err(Errno::EINVAL),
        };
        slot.take().map(|_| ()).ok_or(Errno::ESRCH)
    }

    /// GET_SERVICE (do): the service named by the request.
    pub fn get_service(&self, t: &AttrTable<'_>) -> Result<&Service, Errno> {
        let spec = ServiceSpec::parse(t.get(cmd_attr::SERVICE), false)?;
        self.services.get(&spec.key).ok_or(Errno::ESRCH)
    }

    /// The service a GET_DEST dump names; None (an empty dump) when it cannot
    /// be parsed or does not exist.
    pub fn dump_target(&self, t: &AttrTable<'_>) -> Option<&Service> {
        let spec = ServiceSpec::parse(t.get(cmd_attr::SERVICE), false).ok()?;
        self.services.get(&spec.key)
    }

    /// Daemons in the kernel's dump order: master, then backup.
    pub fn daemons(&self) -> impl Iterator<Item = &Daemon> {
        self.master.iter().chain(self.backup.iter())
    }
}

fn zero(svc: &mut Service) {
    svc.stats = Stats::default();
    for d in &mut svc.dests {
        d.stats = Stats::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs_genl::attr::{emit_attrs, Attr};
    use ipvs_genl::consts::{cmd_attr, daemon_attr};
    use ipvs_genl::ipvs::{ip_to_raw, FlagsUpdate, ServiceParams, CMD_POLICY};

    struct Lo;
    impl Host for Lo {
        fn interface_mtu(&self, name: &str) -> Option<u32> {
            (name == "lo").then_some(65536)
        }
    }

    fn svc(addr: &str, port: u16, sched: &str) -> ServiceSpec {
        let (af, raw) = ip_to_raw(addr.parse().unwrap());
        ServiceSpec {
            key: ServiceKey::Tuple { af, protocol: 6, addr: raw, port },
            params: Some(ServiceParams {
                sched_name: sched.into(),
                pe_name: None,
                flags: FlagsUpdate { flags: 0, mask: u32::MAX },
                timeout: 0,
                netmask: if af == AF_INET6 { 128u32.to_ne_bytes() } else { [255; 4] },
            }),
        }
    }

    fn dest(addr: &str, port: u16, weight: u32) -> DestSpec {
        let (_, raw) = ip_to_raw(addr.parse().unwrap());
        DestSpec {
            addr: raw,
            port,
            af: 0,
            params: Some(DestParams { fwd: 0, weight, u_thresh: 0, l_thresh: 0, tun_type: 0, tun_port: 0, tun_flags: 0 }),
        }
    }

    fn run(st: &mut IpvsState, command: u8, attrs: Vec<Attr>) -> Result<Change, Errno> {
        let bytes = emit_attrs(&attrs);
        let t = AttrTable::parse(&bytes, &CMD_POLICY)?;
        st.apply(command, &t, &Lo)
    }

    #[test]
    fn service_lifecycle_and_errors() {
        let mut st = IpvsState::default();
        let s = svc("10.0.0.1", 80, "rr");
        assert_eq!(run(&mut st, cmd::NEW_SERVICE, vec![s.to_attr()]), Ok(Change::Config));
        assert_eq!(run(&mut st, cmd::NEW_SERVICE, vec![s.to_attr()]), Err(Errno::EEXIST));
        let missing = svc("10.0.0.2", 80, "rr");
        assert_eq!(run(&mut st, cmd::SET_SERVICE, vec![missing.to_attr()]), Err(Errno::ESRCH));
        assert_eq!(run(&mut st, cmd::DEL_SERVICE, vec![missing.to_attr()]), Err(Errno::ESRCH));
        let bad = svc("10.0.0.3", 80, "nope");
        assert_eq!(run(&mut st, cmd::NEW_SERVICE, vec![bad.to_attr()]), Err(Errno::ENOENT));
        assert_eq!(st.services.len(), 1);
        let entry = st.services.values().next().unwrap().entry();
        assert_eq!(entry.flags, svc_flags::HASHED);
        assert_eq!(entry.sched_name, "rr");
        assert_eq!(run(&mut st, cmd::DEL_SERVICE, vec![s.to_attr()]), Ok(Change::Config));
        assert!(st.services.is_empty());
    }

    #[test]
    fn ipv6_prefix_length_is_checked() {
        let mut st = IpvsState::default();
        let mut s = svc("2001:db8::1", 80, "wlc");
        s.params.as_mut().unwrap().netmask = 129u32.to_ne_bytes();
        assert_eq!(run(&mut st, cmd::NEW_SERVICE, vec![s.to_attr()]), Err(Errno::EINVAL));
        s.params.as_mut().unwrap().netmask = 64u32.to_ne_bytes();
        assert_eq!(run(&mut st, cmd::NEW_SERVICE, vec![s.to_attr()]), Ok(Change::Config));
    }

    #[test]
    fn dests_newest_first_with_kernel_errors() {
        let mut st = IpvsState::default();
        let s = svc("10.0.0.1", 80, "wlc");
        run(&mut st, cmd::NEW_SERVICE, vec![s.to_attr()]).unwrap();
        for (a, w) in [("192.168.1.10", 1), ("192.168.1.11", 2)] {
            assert_eq!(run(&mut st, cmd::NEW_DEST, vec![s.to_attr(), dest(a, 80, w).to_attr()]), Ok(Change::Config));
        }
        let d = dest("192.168.1.10", 80, 1);
        assert_eq!(run(&mut st, cmd::NEW_DEST, vec![s.to_attr(), d.to_attr()]), Err(Errno::EEXIST));
        let order: Vec<u8> = st.services.values().next().unwrap().dests.iter().map(|d| d.addr[3]).collect();
        assert_eq!(order, [11, 10]);
        let gone = dest("192.168.1.99", 80, 1);
        assert_eq!(run(&mut st, cmd::SET_DEST, vec![s.to_attr(), gone.to_attr()]), Err(Errno::ENOENT));
        assert_eq!(run(&mut st, cmd::DEL_DEST, vec![s.to_attr(), gone.to_attr()]), Err(Errno::ENOENT));
        let heavy = dest("192.168.1.12", 80, 0x8000_0000);
        assert_eq!(run(&mut st, cmd::NEW_DEST, vec![s.to_attr(), heavy.to_attr()]), Err(Errno::ERANGE));
        let mut thresh = dest("192.168.1.12", 80, 1);
        thresh.params.as_mut().unwrap().l_thresh = 5;
        assert_eq!(run(&mut st, cmd::NEW_DEST, vec![s.to_attr(), thresh.to_attr()]), Err(Errno::ERANGE));
        for bad in ["0.0.0.0", "255.255.255.255", "224.0.0.1"] {
            let d = dest(bad, 80, 1);
            assert_eq!(run(&mut st, cmd::NEW_DEST, vec![s.to_attr(), d.to_attr()]), Err(Errno::EINVAL), "{bad}");
        }
        // ipvsadm names the dest's family; without it the kernel would read
        // the address as IPv4.
        let mut v6 = dest("2001:db8::5", 80, 1);
        v6.af = AF_INET6;
        assert_eq!(run(&mut st, cmd::NEW_DEST, vec![s.to_attr(), v6.to_attr()]), Err(Errno::EINVAL));
        assert_eq!(st.dest_count(), 2);
        run(&mut st, cmd::DEL_DEST, vec![s.to_attr(), dest("192.168.1.10", 80, 1).to_attr()]).unwrap();
        assert_eq!(st.dest_count(), 1);
        run(&mut st, cmd::DEL_SERVICE, vec![s.to_attr()]).unwrap();
        assert_eq!(st.dest_count(), 0);
    }

    #[test]
    fn timeouts_zero_keeps_and_too_large_is_einval() {
        let mut st = IpvsState::default();
        let set = |tcp, fin, udp| vec![Attr::U32(cmd_attr::TIMEOUT_TCP, tcp), Attr::U32(cmd_attr::TIMEOUT_TCP_FIN, fin), Attr::U32(cmd_attr::TIMEOUT_UDP, udp)];
        run(&mut st, cmd::SET_CONFIG, set(10, 0, 30)).unwrap();
        assert_eq!(st.timeouts, Timeouts { tcp: 10, tcp_fin: 120, udp: 30 });
        assert_eq!(run(&mut st, cmd::SET_CONFIG, set(1, 1, u32::MAX)), Err(Errno::EINVAL));
        assert_eq!(st.timeouts, Timeouts { tcp: 10, tcp_fin: 120, udp: 30 });
    }

    #[test]
    fn daemons_default_and_conflict() {
        let mut st = IpvsState::default();
        let nest = |state: u32, ifn: &str| {
            Attr::Nest(
                cmd_attr::DAEMON,
                vec![
                    Attr::U32(daemon_attr::STATE, state),
                    Attr::Str(daemon_attr::MCAST_IFN, ifn.into()),
                    Attr::U32(daemon_attr::SYNC_ID, 5),
                ],
            )
        };
        assert_eq!(run(&mut st, cmd::NEW_DAEMON, vec![nest(1, "nosuch0")]), Err(Errno::ENODEV));
        run(&mut st, cmd::NEW_DAEMON, vec![nest(1, "lo")]).unwrap();
        assert_eq!(run(&mut st, cmd::NEW_DAEMON, vec![nest(1, "lo")]), Err(Errno::EEXIST));
        run(&mut st, cmd::NEW_DAEMON, vec![nest(2, "lo")]).unwrap();
        let m = st.master.as_ref().unwrap();
        assert_eq!((m.sync_maxlen, m.mcast_port, m.mcast_ttl), (1472, 8848, 1));
        assert_eq!(st.backup.as_ref().unwrap().sync_maxlen, 65507);
        run(&mut st, cmd::DEL_DAEMON, vec![nest(1, "lo")]).unwrap();
        assert_eq!(run(&mut st, cmd::DEL_DAEMON, vec![nest(1, "lo")]), Err(Errno::ESRCH));
        assert_eq!(run(&mut st, cmd::NEW_DAEMON, vec![]), Err(Errno::EINVAL));
    }
}
