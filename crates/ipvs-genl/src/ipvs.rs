//! The IPVS objects as data: services, destinations, sync daemons, statistics.
//!
//! Requests are parsed with the kernel's rules and errno values
//! (`ip_vs_genl_parse_service`, `ip_vs_genl_parse_dest`,
//! `ip_vs_genl_new_daemon` in `net/netfilter/ipvs/ip_vs_ctl.c`); replies are
//! emitted in the kernel's attribute order (`ip_vs_genl_fill_*`). The same
//! types build requests and parse replies on the client side.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::attr::{Attr, AttrTable, Policy};
use crate::consts::{cmd_attr, daemon_attr, dest_attr, info_attr, stats_attr, svc_attr, AF_INET, AF_INET6};
use crate::Errno;

/// `ip_vs_cmd_policy`: the top-level attributes.
pub const CMD_POLICY: [Policy; 7] =
    [Policy::Unspec, Policy::Nested, Policy::Nested, Policy::Nested, Policy::U32, Policy::U32, Policy::U32];

/// `ip_vs_svc_policy`.
pub const SVC_POLICY: [Policy; svc_attr::MAX + 1] = [
    Policy::Unspec,
    Policy::U16,            // AF
    Policy::U16,            // PROTOCOL
    Policy::Binary(16),     // ADDR
    Policy::U16,            // PORT
    Policy::U32,            // FWMARK
    Policy::NulString(15),  // SCHED_NAME
    Policy::Binary(8),      // FLAGS
    Policy::U32,            // TIMEOUT
    Policy::U32,            // NETMASK
    Policy::Nested,         // STATS
    Policy::NulString(16),  // PE_NAME (IP_VS_PENAME_MAXLEN, not minus one)
    Policy::Nested,         // STATS64
];

/// `ip_vs_dest_policy`.
pub const DEST_POLICY: [Policy; dest_attr::MAX + 1] = [
    Policy::Unspec,
    Policy::Binary(16), // ADDR
    Policy::U16,        // PORT
    Policy::U32,        // FWD_METHOD
    Policy::U32,        // WEIGHT
    Policy::U32,        // U_THRESH
    Policy::U32,        // L_THRESH
    Policy::U32,        // ACTIVE_CONNS
    Policy::U32,        // INACT_CONNS
    Policy::U32,        // PERSIST_CONNS
    Policy::Nested,     // STATS
    Policy::U16,        // ADDR_FAMILY
    Policy::Nested,     // STATS64
    Policy::U8,         // TUN_TYPE
    Policy::U16,        // TUN_PORT
    Policy::U16,        // TUN_FLAGS
];

/// `ip_vs_daemon_policy`.
pub const DAEMON_POLICY: [Policy; daemon_attr::MAX + 1] = [
    Policy::Unspec,
    Policy::U32,           // STATE
    Policy::NulString(15), // MCAST_IFN
    Policy::U32,           // SYNC_ID
    Policy::U16,           // SYNC_MAXLEN
    Policy::U32,           // MCAST_GROUP
    Policy::MinLen(16),    // MCAST_GROUP6 (NLA_UNSPEC with .len: a minimum)
    Policy::U16,           // MCAST_PORT
    Policy::U8,            // MCAST_TTL
];

/// An address as IPVS carries it: 16 bytes, IPv4 in the first four.
pub type RawAddr = [u8; 16];

/// Converts a raw address of family `af` to an `IpAddr`.
pub fn raw_to_ip(af: u16, raw: &RawAddr) -> IpAddr {
    if af == AF_INET6 {
        IpAddr::V6(Ipv6Addr::from(*raw))
    } else {
        IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))
    }
}

/// Converts an `IpAddr` to (af, raw address).
pub fn ip_to_raw(ip: IpAddr) -> (u16, RawAddr) {
    let mut raw = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => {
            raw[..4].copy_from_slice(&v4.octets());
            (AF_INET, raw)
        }
        IpAddr::V6(v6) => (AF_INET6, v6.octets()),
    }
}

/// What identifies a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    /// (af, protocol, address, port); port in host order.
    Tuple { af: u16, protocol: u16, addr: RawAddr, port: u16 },
    /// (af, firewall mark).
    Fwmark { af: u16, mark: u32 },
}

impl ServiceKey {
    pub fn af(&self) -> u16 {
        match self {
            ServiceKey::Tuple { af, .. } | ServiceKey::Fwmark { af, .. } => *af,
        }
    }

    fn attrs(&self, out: &mut Vec<Attr>) {
        match *self {
            ServiceKey::Tuple { af, protocol, addr, port } => {
                out.push(Attr::U16(svc_attr::AF, af));
                out.push(Attr::U16(svc_attr::PROTOCOL, protocol));
                out.push(Attr::Bytes(svc_attr::ADDR, addr.to_vec()));
                out.push(Attr::Be16(svc_attr::PORT, port));
            }
            ServiceKey::Fwmark { af, mark } => {
                out.push(Attr::U16(svc_attr::AF, af));
                out.push(Attr::U32(svc_attr::FWMARK, mark));
            }
        }
    }
}

/// `struct ip_vs_flags`: new = (old & !mask) | (flags & mask).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlagsUpdate {
    pub flags: u32,
    pub mask: u32,
}

impl FlagsUpdate {
    pub fn apply(&self, old: u32) -> u32 {
        (old & !self.mask) | (self.flags & self.mask)
    }

    fn to_bytes(self) -> Vec<u8> {
        let mut v = self.flags.to_ne_bytes().to_vec();
        v.extend_from_slice(&self.mask.to_ne_bytes());
        v
    }
}

/// The fields a NEW/SET_SERVICE must carry besides the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceParams {
    pub sched_name: String,
    /// `None` (absent) and `Some("")` both mean no persistence engine.
    pub pe_name: Option<String>,
    pub flags: FlagsUpdate,
    /// Persistence timeout, seconds.
    pub timeout: u32,
    /// Opaque 4 bytes: an IPv4 mask, or an IPv6 prefix length as a host u32.
    pub netmask: [u8; 4],
}

/// A service nest of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub key: ServiceKey,
    pub params: Option<ServiceParams>,
}

impl ServiceSpec {
    /// `ip_vs_genl_parse_service`: `nest` is the SERVICE attribute's value
    /// (None when absent); `full` requires the NEW/SET fields.
    pub fn parse(nest: Option<&[u8]>, full: bool) -> Result<Self, Errno> {
        let nest = nest.ok_or(Errno::EINVAL)?;
        let t = AttrTable::parse(nest, &SVC_POLICY).map_err(|_| Errno::EINVAL)?;
        let has_tuple = t.has(svc_attr::PORT) && t.has(svc_attr::PROTOCOL) && t.has(svc_attr::ADDR);
        let af = match t.u16(svc_attr::AF) {
            Some(af) if t.has(svc_attr::FWMARK) || has_tuple => af,
            _ => return Err(Errno::EINVAL),
        };
        if af != AF_INET && af != AF_INET6 {
            return Err(Errno::EAFNOSUPPORT);
        }
        let key = match t.u32(svc_attr::FWMARK) {
            Some(mark) if mark != 0 => ServiceKey::Fwmark { af, mark },
            // The kernel takes the fwmark branch (protocol TCP, address and
            // port zero) but looks fwmark services up only for a non-zero
            // mark: a zero mark names the TCP service 0.0.0.0:0 (or [::]:0).
            Some(_) => ServiceKey::Tuple { af, protocol: 6, addr: [0; 16], port: 0 },
            None => {
                let mut addr: RawAddr = t.array(svc_attr::ADDR).unwrap_or_default();
                if af == AF_INET {
                    // The kernel compares only the IPv4 word.
                    addr[4..].fill(0);
                }
                ServiceKey::Tuple {
                    af,
                    protocol: t.u16(svc_attr::PROTOCOL).unwrap_or_default(),
                    addr,
                    port: t.be16(svc_attr::PORT).unwrap_or_default(),
                }
            }
        };
        let params = if full {
            let (Some(sched_name), Some(flags), Some(timeout), Some(netmask)) = (
                t.string(svc_attr::SCHED_NAME),
                t.array::<8>(svc_attr::FLAGS),
                t.u32(svc_attr::TIMEOUT),
                t.array::<4>(svc_attr::NETMASK),
            ) else {
                return Err(Errno::EINVAL);
            };
            Some(ServiceParams {
                sched_name,
                pe_name: t.string(svc_attr::PE_NAME),
                flags: FlagsUpdate {
                    flags: u32::from_ne_bytes(flags[..4].try_into().unwrap_or_default()),
                    mask: u32::from_ne_bytes(flags[4..].try_into().unwrap_or_default()),
                },
                timeout,
                netmask,
            })
        } else {
            None
        };
        Ok(ServiceSpec { key, params })
    }

    /// The SERVICE nest of a request, as libipvs builds it.
    pub fn to_attr(&self) -> Attr {
        let mut v = Vec::new();
        self.key.attrs(&mut v);
        if let Some(p) = &self.params {
            v.push(Attr::Str(svc_attr::SCHED_NAME, p.sched_name.clone()));
            if let Some(pe) = &p.pe_name {
                v.push(Attr::Str(svc_attr::PE_NAME, pe.clone()));
            }
            v.push(Attr::Bytes(svc_attr::FLAGS, p.flags.to_bytes()));
            v.push(Attr::U32(svc_attr::TIMEOUT, p.timeout));
            v.push(Attr::Bytes(svc_attr::NETMASK, p.netmask.to_vec()));
        }
        Attr::Nest(cmd_attr::SERVICE, v)
    }
}

/// Per-object counters, as the STATS / STATS64 nests carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

impl Stats {
    fn fields(&self) -> [(u16, u64); 10] {
        use stats_attr::*;
        [
            (CONNS, self.conns),
            (INPKTS, self.inpkts),
            (OUTPKTS, self.outpkts),
            (INBYTES, self.inbytes),
            (OUTBYTES, self.outbytes),
            (CPS, self.cps),
            (INPPS, self.inpps),
            (OUTPPS, self.outpps),
            (INBPS, self.inbps),
            (OUTBPS, self.outbps),
        ]
    }

    /// The 32-bit STATS nest: u32 counters (truncated), u64 bytes.
    pub fn to_attr32(&self, kind: u16) -> Attr {
        let v = self
            .fields()
            .iter()
            .map(|&(k, x)| {
                if k == stats_attr::INBYTES || k == stats_attr::OUTBYTES {
                    Attr::U64(k, x)
                } else {
                    Attr::U32(k, x as u32)
                }
            })
            .collect();
        Attr::Nest(kind, v)
    }

    /// The STATS64 nest: every counter u64.
    pub fn to_attr64(&self, kind: u16) -> Attr {
        Attr::Nest(kind, self.fields().iter().map(|&(k, x)| Attr::U64(k, x)).collect())
    }

    /// Parses a STATS64 nest (or a STATS nest: u32 fields are widened).
    pub fn parse(nest: &[u8]) -> Self {
        let policy = [Policy::Unspec; stats_attr::MAX + 1];
        let Ok(t) = AttrTable::parse(nest, &policy) else { return Stats::default() };
        let get = |k: u16| match t.get(k).map(<[u8]>::len) {
            Some(8) => t.u64(k).unwrap_or_default(),
            Some(4) => u64::from(t.u32(k).unwrap_or_default()),
            _ => 0,
        };
        use stats_attr::*;
        Stats {
            conns: get(CONNS),
            inpkts: get(INPKTS),
            outpkts: get(OUTPKTS),
            inbytes: get(INBYTES),
            outbytes: get(OUTBYTES),
            cps: get(CPS),
            inpps: get(INPPS),
            outpps: get(OUTPPS),
            inbps: get(INBPS),
            outbps: get(OUTBPS),
        }
    }
}

/// A stored service, as a GET_SERVICE reply shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    pub key: ServiceKey,
    pub sched_name: String,
    pub pe_name: Option<String>,
    /// Includes HASHED.
    pub flags: u32,
    /// Seconds.
    pub timeout: u32,
    pub netmask: [u8; 4],
    pub stats: Stats,
}

impl ServiceEntry {
    /// The SERVICE nest of a reply, in `ip_vs_genl_fill_service`'s order.
    pub fn to_attr(&self) -> Attr {
        let mut v = Vec::with_capacity(11);
        self.key.attrs(&mut v);
        v.push(Attr::Str(svc_attr::SCHED_NAME, self.sched_name.clone()));
        if let Some(pe) = &self.pe_name {
            v.push(Attr::Str(svc_attr::PE_NAME, pe.clone()));
        }
        v.push(Attr::Bytes(svc_attr::FLAGS, FlagsUpdate { flags: self.flags, mask: u32::MAX }.to_bytes()));
        v.push(Attr::U32(svc_attr::TIMEOUT, self.timeout));
        v.push(Attr::Bytes(svc_attr::NETMASK, self.netmask.to_vec()));
        v.push(self.stats.to_attr32(svc_attr::STATS));
        v.push(self.stats.to_attr64(svc_attr::STATS64));
        Attr::Nest(cmd_attr::SERVICE, v)
    }

    /// Parses the SERVICE nest of a reply (client side).
    pub fn parse(nest: &[u8]) -> Result<Self, Errno> {
        let spec = ServiceSpec::parse(Some(nest), true)?;
        let t = AttrTable::parse(nest, &SVC_POLICY)?;
        let p = spec.params.ok_or(Errno::EINVAL)?;
        Ok(ServiceEntry {
            key: spec.key,
            sched_name: p.sched_name,
            pe_name: p.pe_name,
            flags: p.flags.flags,
            timeout: p.timeout,
            netmask: p.netmask,
            stats: t.get(svc_attr::STATS64).or(t.get(svc_attr::STATS)).map(Stats::parse).unwrap_or_default(),
        })
    }

    /// The request that recreates this service (NEW_SERVICE's nest).
    pub fn to_spec(&self) -> ServiceSpec {
        ServiceSpec {
            key: self.key,
            params: Some(ServiceParams {
                sched_name: self.sched_name.clone(),
                pe_name: self.pe_name.clone(),
                flags: FlagsUpdate { flags: self.flags, mask: u32::MAX },
                timeout: self.timeout,
                netmask: self.netmask,
            }),
        }
    }
}

/// The fields a NEW/SET_DEST must carry besides the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestParams {
    /// Forwarding method, already masked with `fwd::MASK`.
    pub fwd: u32,
    /// Read by the kernel as an int: above i32::MAX it is negative.
    pub weight: u32,
    pub u_thresh: u32,
    pub l_thresh: u32,
    pub tun_type: u8,
    /// Host order.
    pub tun_port: u16,
    pub tun_flags: u16,
}

/// A destination nest of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestSpec {
    pub addr: RawAddr,
    pub port: u16,
    /// 0 when the request did not say (then: the service's family).
    pub af: u16,
    pub params: Option<DestParams>,
}

impl DestSpec {
    /// `ip_vs_genl_parse_dest`.
    pub fn parse(nest: Option<&[u8]>, full: bool) -> Result<Self, Errno> {
        let nest = nest.ok_or(Errno::EINVAL)?;
        let t = AttrTable::parse(nest, &DEST_POLICY).map_err(|_| Errno::EINVAL)?;
        let (Some(addr), Some(port)) = (t.array::<16>(dest_attr::ADDR), t.be16(dest_attr::PORT)) else {
            return Err(Errno::EINVAL);
        };
        let params = if full {
            let (Some(fwd), Some(weight), Some(u_thresh), Some(l_thresh)) = (
                t.u32(dest_attr::FWD_METHOD),
                t.u32(dest_attr::WEIGHT),
                t.u32(dest_attr::U_THRESH),
                t.u32(dest_attr::L_THRESH),
            ) else {
                return Err(Errno::EINVAL);
            };
            Some(DestParams {
                fwd: fwd & crate::consts::fwd::MASK,
                weight,
                u_thresh,
                l_thresh,
                tun_type: t.u8(dest_attr::TUN_TYPE).unwrap_or(0),
                tun_port: t.be16(dest_attr::TUN_PORT).unwrap_or(0),
                tun_flags: t.u16(dest_attr::TUN_FLAGS).unwrap_or(0),
            })
        } else {
            None
        };
        Ok(DestSpec { addr, port, af: t.u16(dest_attr::ADDR_FAMILY).unwrap_or(0), params })
    }

    /// The DEST nest of a request, as libipvs builds it.
    pub fn to_attr(&self) -> Attr {
        let mut v = vec![Attr::Bytes(dest_attr::ADDR, self.addr.to_vec()), Attr::Be16(dest_attr::PORT, self.port)];
        if let Some(p) = &self.params {
            v.push(Attr::U32(dest_attr::FWD_METHOD, p.fwd));
            v.push(Attr::U32(dest_attr::WEIGHT, p.weight));
            v.push(Attr::U8(dest_attr::TUN_TYPE, p.tun_type));
            v.push(Attr::Be16(dest_attr::TUN_PORT, p.tun_port));
            v.push(Attr::U16(dest_attr::TUN_FLAGS, p.tun_flags));
            v.push(Attr::U32(dest_attr::U_THRESH, p.u_thresh));
            v.push(Attr::U32(dest_attr::L_THRESH, p.l_thresh));
        }
        if self.af != 0 {
            v.push(Attr::U16(dest_attr::ADDR_FAMILY, self.af));
        }
        Attr::Nest(cmd_attr::DEST, v)
    }
}

/// A stored destination, as a GET_DEST reply shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestEntry {
    pub af: u16,
    pub addr: RawAddr,
    pub port: u16,
    pub params: DestParams,
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    pub stats: Stats,
}

impl DestEntry {
    /// The DEST nest of a reply, in `ip_vs_genl_fill_dest`'s order.
    pub fn to_attr(&self) -> Attr {
        let p = &self.params;
        Attr::Nest(
            cmd_attr::DEST,
            vec![
                Attr::Bytes(dest_attr::ADDR, self.addr.to_vec()),
                Attr::Be16(dest_attr::PORT, self.port),
                Attr::U32(dest_attr::FWD_METHOD, p.fwd),
                Attr::U32(dest_attr::WEIGHT, p.weight),
                Attr::U8(dest_attr::TUN_TYPE, p.tun_type),
                Attr::Be16(dest_attr::TUN_PORT, p.tun_port),
                Attr::U16(dest_attr::TUN_FLAGS, p.tun_flags),
                Attr::U32(dest_attr::U_THRESH, p.u_thresh),
                Attr::U32(dest_attr::L_THRESH, p.l_thresh),
                Attr::U32(dest_attr::ACTIVE_CONNS, self.active_conns),
                Attr::U32(dest_attr::INACT_CONNS, self.inact_conns),
                Attr::U32(dest_attr::PERSIST_CONNS, self.persist_conns),
                Attr::U16(dest_attr::ADDR_FAMILY, self.af),
                self.stats.to_attr32(dest_attr::STATS),
                self.stats.to_attr64(dest_attr::STATS64),
            ],
        )
    }

    /// Parses the DEST nest of a reply (client side).
    pub fn parse(nest: &[u8]) -> Result<Self, Errno> {
        let spec = DestSpec::parse(Some(nest), true)?;
        let t = AttrTable::parse(nest, &DEST_POLICY)?;
        Ok(DestEntry {
            af: spec.af,
            addr: spec.addr,
            port: spec.port,
            params: spec.params.ok_or(Errno::EINVAL)?,
            active_conns: t.u32(dest_attr::ACTIVE_CONNS).unwrap_or(0),
            inact_conns: t.u32(dest_attr::INACT_CONNS).unwrap_or(0),
            persist_conns: t.u32(dest_attr::PERSIST_CONNS).unwrap_or(0),
            stats: t.get(dest_attr::STATS64).or(t.get(dest_attr::STATS)).map(Stats::parse).unwrap_or_default(),
        })
    }

    /// The request nest that recreates this destination.
    pub fn to_spec(&self) -> DestSpec {
        DestSpec { addr: self.addr, port: self.port, af: self.af, params: Some(self.params) }
    }
}

/// The multicast group of a sync daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McastGroup {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// A sync-daemon request or record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub state: u32,
    pub mcast_ifn: String,
    pub sync_id: u32,
    /// 0 = the kernel computes it.
    pub sync_maxlen: u16,
    pub group: Option<McastGroup>,
    /// 0 = default (8848).
    pub mcast_port: u16,
    /// 0 = default (1).
    pub mcast_ttl: u8,
}

impl Daemon {
    /// `ip_vs_genl_new_daemon`'s parsing (`full`) or `_del_daemon`'s.
    pub fn parse(nest: Option<&[u8]>, full: bool) -> Result<Self, Errno> {
        let nest = nest.ok_or(Errno::EINVAL)?;
        let t = AttrTable::parse(nest, &DAEMON_POLICY)?;
        let state = t.u32(daemon_attr::STATE).ok_or(Errno::EINVAL)?;
        if !full {
            return Ok(Daemon {
                state,
                mcast_ifn: String::new(),
                sync_id: 0,
                sync_maxlen: 0,
                group: None,
                mcast_port: 0,
                mcast_ttl: 0,
            });
        }
        let (Some(mcast_ifn), Some(sync_id)) = (t.string(daemon_attr::MCAST_IFN), t.u32(daemon_attr::SYNC_ID)) else {
            return Err(Errno::EINVAL);
        };
        let group = if let Some(g) = t.array::<4>(daemon_attr::MCAST_GROUP) {
            let ip = Ipv4Addr::from(g);
            if !ip.is_multicast() {
                return Err(Errno::EINVAL);
            }
            Some(McastGroup::V4(ip))
        } else if let Some(g) = t.array::<16>(daemon_attr::MCAST_GROUP6) {
            let ip = Ipv6Addr::from(g);
            if !ip.is_multicast() {
                return Err(Errno::EINVAL);
            }
            Some(McastGroup::V6(ip))
        } else {
            None
        };
        Ok(Daemon {
            state,
            mcast_ifn,
            sync_id,
            sync_maxlen: t.u16(daemon_attr::SYNC_MAXLEN).unwrap_or(0),
            group,
            mcast_port: t.u16(daemon_attr::MCAST_PORT).unwrap_or(0),
            mcast_ttl: t.u8(daemon_attr::MCAST_TTL).unwrap_or(0),
        })
    }

    /// The DAEMON nest in `ip_vs_genl_fill_daemon`'s order (replies), which is
    /// also a valid NEW_DAEMON request.
    pub fn to_attr(&self) -> Attr {
        let mut v = vec![
            Attr::U32(daemon_attr::STATE, self.state),
            Attr::Str(daemon_attr::MCAST_IFN, self.mcast_ifn.clone()),
            Attr::U32(daemon_attr::SYNC_ID, self.sync_id),
            Attr::U16(daemon_attr::SYNC_MAXLEN, self.sync_maxlen),
            Attr::U16(daemon_attr::MCAST_PORT, self.mcast_port),
            Attr::U8(daemon_attr::MCAST_TTL, self.mcast_ttl),
        ];
        match self.group {
            Some(McastGroup::V4(ip)) => v.push(Attr::Bytes(daemon_attr::MCAST_GROUP, ip.octets().to_vec())),
            Some(McastGroup::V6(ip)) => v.push(Attr::Bytes(daemon_attr::MCAST_GROUP6, ip.octets().to_vec())),
            None => {}
        }
        Attr::Nest(cmd_attr::DAEMON, v)
    }
}

/// The three timeouts of GET/SET_CONFIG, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { tcp: 900, tcp_fin: 120, udp: 300 }
    }
}

impl Timeouts {
    pub fn to_attrs(&self) -> Vec<Attr> {
        vec![
            Attr::U32(cmd_attr::TIMEOUT_TCP, self.tcp),
            Attr::U32(cmd_attr::TIMEOUT_TCP_FIN, self.tcp_fin),
            Attr::U32(cmd_attr::TIMEOUT_UDP, self.udp),
        ]
    }
}

/// The GET_INFO reply's attributes.
pub fn info_attrs(version: u32, conn_tab_size: u32) -> Vec<Attr> {
    vec![Attr::U32(info_attr::VERSION, version), Attr::U32(info_attr::CONN_TAB_SIZE, conn_tab_size)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::emit_attrs;

    fn nest_value(a: &Attr) -> Vec<u8> {
        emit_attrs(std::slice::from_ref(a))[4..].to_vec()
    }

    #[test]
    fn service_spec_needs_af_and_an_identity() {
        let no_af = nest_value(&Attr::Nest(1, vec![Attr::U32(svc_attr::FWMARK, 1)]));
        assert_eq!(ServiceSpec::parse(Some(&no_af), false), Err(Errno::EINVAL));
        let partial = nest_value(&Attr::Nest(1, vec![Attr::U16(svc_attr::AF, 2), Attr::U16(svc_attr::PROTOCOL, 6)]));
        assert_eq!(ServiceSpec::parse(Some(&partial), false), Err(Errno::EINVAL));
        let bad_af = nest_value(&Attr::Nest(1, vec![Attr::U16(svc_attr::AF, 7), Attr::U32(svc_attr::FWMARK, 1)]));
        assert_eq!(ServiceSpec::parse(Some(&bad_af), false), Err(Errno::EAFNOSUPPORT));
        assert_eq!(ServiceSpec::parse(None, false), Err(Errno::EINVAL));
    }

    #[test]
    fn full_service_needs_sched_flags_timeout_netmask() {
        let key = ServiceKey::Fwmark { af: AF_INET, mark: 3 };
        let mut spec = ServiceSpec {
            key,
            params: Some(ServiceParams {
                sched_name: "wlc".into(),
                pe_name: None,
                flags: FlagsUpdate { flags: 0, mask: u32::MAX },
                timeout: 0,
                netmask: [255; 4],
            }),
        };
        let full = nest_value(&spec.to_attr());
        assert_eq!(ServiceSpec::parse(Some(&full), true).unwrap(), spec);
        spec.params = None;
        let bare = nest_value(&spec.to_attr());
        assert_eq!(ServiceSpec::parse(Some(&bare), true), Err(Errno::EINVAL));
        assert_eq!(ServiceSpec::parse(Some(&bare), false).unwrap(), spec);
    }

    #[test]
    fn fwmark_zero_is_the_tcp_wildcard_tuple() {
        let nest = nest_value(&Attr::Nest(
            1,
            vec![Attr::U16(svc_attr::AF, AF_INET), Attr::U32(svc_attr::FWMARK, 0), Attr::Be16(svc_attr::PORT, 80)],
        ));
        assert_eq!(
            ServiceSpec::parse(Some(&nest), false).unwrap().key,
            ServiceKey::Tuple { af: AF_INET, protocol: 6, addr: [0; 16], port: 0 }
        );
    }

    #[test]
    fn ipv4_service_address_compares_on_the_first_word() {
        let mut addr = [0xaa; 16];
        addr[..4].copy_from_slice(&[10, 0, 0, 1]);
        let nest = nest_value(&ServiceSpec {
            key: ServiceKey::Tuple { af: AF_INET, protocol: 6, addr, port: 80 },
            params: None,
        }
        .to_attr());
        let ServiceKey::Tuple { addr, port, .. } = ServiceSpec::parse(Some(&nest), false).unwrap().key else {
            panic!("tuple expected")
        };
        assert_eq!(&addr[..4], &[10, 0, 0, 1]);
        assert_eq!(&addr[4..], &[0; 12]);
        assert_eq!(port, 80);
    }

    #[test]
    fn dest_round_trip_and_missing_fields() {
        let (af, addr) = ip_to_raw("192.168.1.10".parse().unwrap());
        let entry = DestEntry {
            af,
            addr,
            port: 80,
            params: DestParams { fwd: 0, weight: 2, u_thresh: 0, l_thresh: 0, tun_type: 0, tun_port: 0, tun_flags: 0 },
            active_conns: 1,
            inact_conns: 2,
            persist_conns: 3,
            stats: Stats { conns: 5, inbytes: 1 << 40, ..Stats::default() },
        };
        let parsed = DestEntry::parse(&nest_value(&entry.to_attr())).unwrap();
        assert_eq!(parsed, entry);
        let bare = nest_value(&Attr::Nest(2, vec![Attr::Bytes(dest_attr::ADDR, addr.to_vec())]));
        assert_eq!(DestSpec::parse(Some(&bare), false), Err(Errno::EINVAL));
        let no_weight = nest_value(&Attr::Nest(
            2,
            vec![Attr::Bytes(dest_attr::ADDR, addr.to_vec()), Attr::Be16(dest_attr::PORT, 80)],
        ));
        assert_eq!(DestSpec::parse(Some(&no_weight), true), Err(Errno::EINVAL));
        assert!(DestSpec::parse(Some(&no_weight), false).is_ok());
    }

    #[test]
    fn daemon_group_must_be_multicast() {
        let mut d = Daemon {
            state: 1,
            mcast_ifn: "lo".into(),
            sync_id: 7,
            sync_maxlen: 0,
            group: Some(McastGroup::V4(Ipv4Addr::new(10, 0, 0, 1))),
            mcast_port: 0,
            mcast_ttl: 0,
        };
        assert_eq!(Daemon::parse(Some(&nest_value(&d.to_attr())), true), Err(Errno::EINVAL));
        d.group = Some(McastGroup::V4(Ipv4Addr::new(224, 0, 0, 81)));
        assert_eq!(Daemon::parse(Some(&nest_value(&d.to_attr())), true).unwrap(), d);
        let no_ifn = nest_value(&Attr::Nest(3, vec![Attr::U32(daemon_attr::STATE, 1)]));
        assert_eq!(Daemon::parse(Some(&no_ifn), true), Err(Errno::EINVAL));
        assert_eq!(Daemon::parse(Some(&no_ifn), false).unwrap().state, 1);
    }
}
