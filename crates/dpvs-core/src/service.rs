//! The immutable service snapshot the control thread builds from the IPVS configuration.
//!
//! A [`Snapshot`] holds every virtual service with its dests (in the kernel's list order:
//! the newest first) and a prebuilt [`Scheduler`], the lookup tables the packet path uses
//! (by `(family, protocol, VIP, port)` and by firewall mark), and the IPVS-wide settings that
//! matter to the dataplane ([`Settings`]: the `expire_nodest_conn` and
//! `expire_quiescent_template` sysctls, protocol timeouts). It carries a `generation` number;
//! workers load it once per burst.
//!
//! # Identity across snapshots
//!
//! Connections outlive snapshots, so they name their dest by a [`DestId`], a slot number plus
//! a tag, never by a position in a list (a new dest goes to the head of the kernel's list and
//! shifts every position). The control thread assigns the ids with an [`IdAllocator`]: an id
//! stays the same for as long as the dest exists, including while it sits in the "trash"
//! (deleted but possibly still referenced: it is then in the snapshot with
//! [`Dest::is_available`] false, and re-adding the same dest brings back the same id, as the
//! kernel's `ip_vs_trash_get_dest` brings back the same object). A freed slot is reused with a
//! new tag, so a stale reference never resolves to another dest. Services have
//! [`ServiceId`]s the same way.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use crate::addr;
use crate::dest::{Dest, DestFlags, Thresholds};
use crate::proto::Timeouts;
use crate::sched::{SchedConfig, SchedError, Scheduler};

/// `IP_VS_SVC_F_PERSISTENT`.
pub const IP_VS_SVC_F_PERSISTENT: u32 = 0x0001;
/// `IP_VS_SVC_F_HASHED` (kernel-internal; ignored here).
pub const IP_VS_SVC_F_HASHED: u32 = 0x0002;
/// `IP_VS_SVC_F_ONEPACKET`.
pub const IP_VS_SVC_F_ONEPACKET: u32 = 0x0004;

/// The FTP control port: persistence templates of a port-21 service match any port.
pub const FTPPORT: u16 = 21;
/// The FTP data port: connections from this client port are never scheduled.
pub const FTPDATA: u16 = 20;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name {
            /// The slot, dense from 0.
            pub slot: u32,
            /// Bumped each time the slot is reused.
            pub tag: u32,
        }
    };
}

id_type!(
    /// A stable reference to a dest across snapshots.
    DestId
);
id_type!(
    /// A stable reference to a service across snapshots.
    ServiceId
);

/// Hands out slot/tag pairs: dense slots, a freed slot comes back with a new tag.
#[derive(Clone, Debug, Default)]
pub struct IdAllocator {
    tags: Vec<u32>,
    free: Vec<u32>,
}

impl IdAllocator {
    /// A new `(slot, tag)`.
    pub fn alloc(&mut self) -> (u32, u32) {
        if let Some(slot) = self.free.pop() {
            let t = &mut self.tags[slot as usize];
            *t = t.wrapping_add(1);
            (slot, *t)
        } else {
            self.tags.push(0);
            ((self.tags.len() - 1) as u32, 0)
        }
    }

    /// Gives a slot back (its next user gets another tag).
    pub fn free(&mut self, slot: u32) {
        if (slot as usize) < self.tags.len() && !self.free.contains(&slot) {
            self.free.push(slot);
        }
    }
}

/// How packets reach a dest (`IP_VS_CONN_F_FWD_MASK` values, plus full-NAT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FwdMethod {
    /// NAT (masquerading).
    Masq = 0,
    /// Local node.
    Local = 1,
    /// IP-in-IP tunnel.
    Tunnel = 2,
    /// Direct routing.
    DirectRoute = 3,
    /// Bypass.
    Bypass = 4,
    /// Full-NAT (DPVS): source rewritten to a local address as well.
    FullNat = 5,
}

impl FwdMethod {
    /// From the IPVS forwarding value (`IP_VS_CONN_F_*`, and 5 for full-NAT as
    /// `ipvsadm-compat` sends it).
    pub fn from_ipvs(v: u32) -> Option<FwdMethod> {
        Some(match v {
            0 => FwdMethod::Masq,
            1 => FwdMethod::Local,
            2 => FwdMethod::Tunnel,
            3 => FwdMethod::DirectRoute,
            4 => FwdMethod::Bypass,
            5 => FwdMethod::FullNat,
            _ => return None,
        })
    }

    /// From the 3-bit value stored in a connection.
    pub(crate) fn from_bits(v: u16) -> FwdMethod {
        FwdMethod::from_ipvs(v as u32).unwrap_or(FwdMethod::Masq)
    }

    /// Whether replies come back through the balancer. For the others the kernel sets
    /// `IP_VS_CONN_F_NOOUTPUT` on new connections and the TCP state machine runs INPUT_ONLY.
    pub fn sees_output(self) -> bool {
        matches!(self, FwdMethod::Masq | FwdMethod::FullNat)
    }
}

/// The persistence granularity: the client address is masked before the template lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Netmask {
    /// IPv4 mask, host order (`255.255.255.255` = per client).
    V4(u32),
    /// IPv6 prefix length (128 = per client).
    V6(u8),
}

impl Netmask {
    /// From the IPVS attribute: 4 opaque bytes, an IPv4 mask in network order or an IPv6
    /// prefix length as a host-order u32.
    pub fn from_ipvs(v6: bool, raw: [u8; 4]) -> Netmask {
        if v6 {
            Netmask::V6(u32::from_ne_bytes(raw).min(128) as u8)
        } else {
            Netmask::V4(u32::from_be_bytes(raw))
        }
    }

    /// Per-client persistence for the family.
    pub fn full(v6: bool) -> Netmask {
        if v6 {
            Netmask::V6(128)
        } else {
            Netmask::V4(u32::MAX)
        }
    }

    /// Masks a stored address (`snet = saddr & netmask` / `ipv6_addr_prefix`).
    #[inline]
    pub fn apply(self, bits: u128) -> u128 {
        match self {
            Netmask::V4(m) => bits & m as u128,
            Netmask::V6(0) => 0,
            Netmask::V6(p) if p >= 128 => bits,
            Netmask::V6(p) => bits & !(u128::MAX >> p),
        }
    }
}

/// What identifies a virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKey {
    /// `(family, protocol, VIP, port)`; port 0 is the catch-all port of a persistent service.
    Tuple {
        /// The VIP (its family is the service's).
        addr: IpAddr,
        /// IP protocol number.
        protocol: u8,
        /// Port, host order.
        port: u16,
    },
    /// `(family, firewall mark)`.
    Fwmark {
        /// IPv6 service.
        v6: bool,
        /// The mark.
        mark: u32,
    },
}

impl ServiceKey {
    /// Whether the service is IPv6.
    pub fn is_v6(&self) -> bool {
        match self {
            ServiceKey::Tuple { addr, .. } => addr.is_ipv6(),
            ServiceKey::Fwmark { v6, .. } => *v6,
        }
    }
}

/// The IPVS-wide settings the dataplane follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `net.ipv4.vs.expire_nodest_conn`: a packet of a connection whose dest is gone expires
    /// the connection (and a new one is scheduled) instead of being dropped; when a dest is
    /// deleted, its connections are flushed.
    pub expire_nodest_conn: bool,
    /// `net.ipv4.vs.expire_quiescent_template`: a persistence template whose dest has weight
    /// 0 is invalidated at the next lookup.
    pub expire_quiescent_template: bool,
    /// `net.ipv4.vs.sloppy_tcp`: schedule TCP on any first packet, not only SYN.
    pub sloppy_tcp: bool,
    /// `net.ipv4.vs.conn_reuse_mode` (default 1): a SYN hitting a connection in TIME_WAIT or
    /// CLOSE reschedules; bit 2 adds FIN_WAIT for DR/TUN; 0 turns both off.
    pub conn_reuse_mode: u8,
    /// `net.ipv4.vs.secure_tcp` on: the `tcp_states_dos` tables.
    pub secure_tcp: bool,
    /// Protocol timeouts (`ipvsadm --set`).
    pub timeouts: Timeouts,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            expire_nodest_conn: false,
            expire_quiescent_template: false,
            sloppy_tcp: false,
            conn_reuse_mode: 1,
            secure_tcp: false,
            timeouts: Timeouts::default(),
        }
    }
}

/// A service as the control thread hands it to the builder.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Stable identity.
    pub id: ServiceId,
    /// Tuple or fwmark.
    pub key: ServiceKey,
    /// Scheduler name (`wlc`, `rr`, ...).
    pub sched_name: String,
    /// `IP_VS_SVC_F_*` flags.
    pub flags: u32,
    /// Persistence timeout in seconds.
    pub timeout_s: u32,
    /// Persistence granularity.
    pub netmask: Netmask,
}

/// A dest as the control thread hands it to the builder. Dests in the trash are included
/// with `available == false`.
#[derive(Clone, Copy, Debug)]
pub struct DestConfig {
    /// Stable identity.
    pub id: DestId,
    /// Real server address (its family may differ from the service's for tunnels).
    pub addr: IpAddr,
    /// Real server port; 0 keeps the packet's port.
    pub port: u16,
    /// Weight; 0 is quiescent.
    pub weight: i32,
    /// The last non-zero weight (for `mh`).
    pub last_weight: i32,
    /// Forwarding method.
    pub fwd: FwdMethod,
    /// Connection thresholds. They are applied to each worker's own counts (see
    /// [`crate::worker`]); the control thread divides the configured values by the number of
    /// workers if it wants the kernel's global limit.
    pub thresholds: Thresholds,
    /// In the service's list (false: in the trash).
    pub available: bool,
}

/// Per-dest data of a service beyond what the scheduler sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DestConf {
    /// Stable identity.
    pub id: DestId,
    /// Forwarding method.
    pub fwd: FwdMethod,
    /// Connection thresholds.
    pub thresholds: Thresholds,
}

/// One virtual service in a snapshot.
#[derive(Clone, Debug)]
pub struct Service {
    /// Stable identity.
    pub id: ServiceId,
    /// Tuple or fwmark.
    pub key: ServiceKey,
    /// `IP_VS_SVC_F_*` flags.
    pub flags: u32,
    /// Persistence timeout, milliseconds.
    pub timeout_ms: u32,
    /// Persistence granularity.
    pub netmask: Netmask,
    /// The scheduler, built from `dests`.
    pub scheduler: Scheduler,
    /// The dests in the kernel's list order (trash dests flagged unavailable).
    pub dests: Vec<Dest>,
    /// Index-aligned with `dests`.
    pub dest_conf: Vec<DestConf>,
}

impl Service {
    /// `IP_VS_SVC_F_PERSISTENT`.
    #[inline]
    pub fn is_persistent(&self) -> bool {
        self.flags & IP_VS_SVC_F_PERSISTENT != 0
    }
    /// `IP_VS_SVC_F_ONEPACKET` (effective for UDP only).
    #[inline]
    pub fn is_one_packet(&self) -> bool {
        self.flags & IP_VS_SVC_F_ONEPACKET != 0
    }
    /// The service port (0 for fwmark services).
    #[inline]
    pub fn port(&self) -> u16 {
        match self.key {
            ServiceKey::Tuple { port, .. } => port,
            ServiceKey::Fwmark { .. } => 0,
        }
    }
    /// The firewall mark (0 for tuple services).
    #[inline]
    pub fn fwmark(&self) -> u32 {
        match self.key {
            ServiceKey::Fwmark { mark, .. } => mark,
            ServiceKey::Tuple { .. } => 0,
        }
    }
    /// Whether the service is IPv6.
    #[inline]
    pub fn is_v6(&self) -> bool {
        self.key.is_v6()
    }
}

/// Why a snapshot could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// A scheduler could not be built.
    #[error("scheduler: {0}")]
    Sched(#[from] SchedError),
    /// Two services or two dests with the same id slot, or two services with the same key.
    #[error("duplicate service or dest")]
    Duplicate,
}

/// A multiply-rotate hasher for the snapshot's small fixed keys (no DoS concern: the keys
/// come from the configuration, not from packets).
#[derive(Default)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64)
    }
    fn write_u16(&mut self, i: u16) {
        self.write_u64(i as u64)
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64)
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0 ^ i)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(27);
    }
    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64)
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct TupleKey {
    addr: u128,
    port: u16,
    protocol: u8,
    v6: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct Loc {
    tag: u32,
    svc: u32,
    dest: u32,
    present: bool,
}

/// The immutable configuration the workers read (see the module documentation).
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Bumped by the control thread for every published snapshot.
    pub generation: u64,
    /// IPVS-wide settings.
    pub settings: Settings,
    services: Vec<Service>,
    tuples: FastMap<TupleKey, u32>,
    fwmarks: FastMap<(bool, u32), u32>,
    port_zero: bool,
    dest_locs: Vec<Loc>,
    svc_locs: Vec<Loc>,
}

impl Snapshot {
    /// A snapshot without services.
    pub fn empty(generation: u64, settings: Settings) -> Snapshot {
        Snapshot {
            generation,
            settings,
            services: Vec::new(),
            tuples: FastMap::default(),
            fwmarks: FastMap::default(),
            port_zero: false,
            dest_locs: Vec::new(),
            svc_locs: Vec::new(),
        }
    }

    /// The services, indexed by position.
    #[inline]
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The service at `index`.
    #[inline]
    pub fn service(&self, index: u32) -> &Service {
        &self.services[index as usize]
    }

    /// `ip_vs_service_find`: the fwmark service first (if the packet has a mark), then the
    /// `(protocol, VIP, port)` service, then the catch-all port-zero one. Returns the index.
    #[inline]
    pub fn find(
        &self,
        v6: bool,
        fwmark: u32,
        protocol: u8,
        vaddr: u128,
        vport: u16,
    ) -> Option<u32> {
        if fwmark != 0 && !self.fwmarks.is_empty() {
            if let Some(i) = self.fwmarks.get(&(v6, fwmark)) {
                return Some(*i);
            }
        }
        let mut k = TupleKey {
            addr: vaddr,
            port: vport,
            protocol,
            v6,
        };
        if let Some(i) = self.tuples.get(&k) {
            return Some(*i);
        }
        if self.port_zero && vport != 0 {
            k.port = 0;
            return self.tuples.get(&k).copied();
        }
        None
    }

    /// Where dest `id` is: `(service index, position in its dest list)`, or `None` if the
    /// dest is not in this snapshot.
    #[inline]
    pub fn dest_loc(&self, id: DestId) -> Option<(u32, u32)> {
        match self.dest_locs.get(id.slot as usize) {
            Some(l) if l.present && l.tag == id.tag => Some((l.svc, l.dest)),
            _ => None,
        }
    }

    /// The index of service `id`, if it is in this snapshot.
    #[inline]
    pub fn service_index(&self, id: ServiceId) -> Option<u32> {
        match self.svc_locs.get(id.slot as usize) {
            Some(l) if l.present && l.tag == id.tag => Some(l.svc),
            _ => None,
        }
    }
}

/// Builds a [`Snapshot`] (control thread; allocates).
#[derive(Debug)]
pub struct SnapshotBuilder {
    snap: Snapshot,
}

impl SnapshotBuilder {
    /// Starts a snapshot.
    pub fn new(generation: u64, settings: Settings) -> SnapshotBuilder {
        SnapshotBuilder {
            snap: Snapshot::empty(generation, settings),
        }
    }

    /// Adds a service with its dests in the kernel's list order (newest first).
    pub fn add_service(
        &mut self,
        svc: ServiceConfig,
        dests: &[DestConfig],
    ) -> Result<&mut Self, SnapshotError> {
        let s = &mut self.snap;
        let index = s.services.len() as u32;
        let v6 = svc.key.is_v6();
        match svc.key {
            ServiceKey::Tuple {
                addr,
                protocol,
                port,
            } => {
                let k = TupleKey {
                    addr: addr::to_bits(addr).0,
                    port,
                    protocol,
                    v6,
                };
                if s.tuples.insert(k, index).is_some() {
                    return Err(SnapshotError::Duplicate);
                }
                s.port_zero |= port == 0;
            }
            ServiceKey::Fwmark { mark, .. } => {
                if s.fwmarks.insert((v6, mark), index).is_some() {
                    return Err(SnapshotError::Duplicate);
                }
            }
        }
        place(&mut s.svc_locs, svc.id.slot, svc.id.tag, index, 0)?;
        let mut sched_dests = Vec::with_capacity(dests.len());
        let mut conf = Vec::with_capacity(dests.len());
        for (i, d) in dests.iter().enumerate() {
            place(&mut s.dest_locs, d.id.slot, d.id.tag, index, i as u32)?;
            let mut sd = Dest::new(d.addr, d.port, d.weight);
            sd.last_weight = d.last_weight;
            sd.flags.set(DestFlags::AVAILABLE, d.available);
            sched_dests.push(sd);
            conf.push(DestConf {
                id: d.id,
                fwd: d.fwd,
                thresholds: d.thresholds,
            });
        }
        let scheduler = Scheduler::new(
            &svc.sched_name,
            &sched_dests,
            &SchedConfig {
                flags: svc.flags,
                ipv6: v6,
            },
        )?;
        s.services.push(Service {
            id: svc.id,
            key: svc.key,
            flags: svc.flags,
            timeout_ms: svc.timeout_s.saturating_mul(1000),
            netmask: svc.netmask,
            scheduler,
            dests: sched_dests,
            dest_conf: conf,
        });
        Ok(self)
    }

    /// The finished snapshot.
    pub fn build(self) -> Snapshot {
        self.snap
    }
}

fn place(
    locs: &mut Vec<Loc>,
    slot: u32,
    tag: u32,
    svc: u32,
    dest: u32,
) -> Result<(), SnapshotError> {
    let slot = slot as usize;
    if locs.len() <= slot {
        locs.resize(slot + 1, Loc::default());
    }
    if locs[slot].present {
        return Err(SnapshotError::Duplicate);
    }
    locs[slot] = Loc {
        tag,
        svc,
        dest,
        present: true,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn dcfg(slot: u32, last: u8, w: i32) -> DestConfig {
        DestConfig {
            id: DestId { slot, tag: 0 },
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
            port: 80,
            weight: w,
            last_weight: w,
            fwd: FwdMethod::Masq,
            thresholds: Thresholds::default(),
            available: true,
        }
    }

    fn tuple(port: u16) -> ServiceKey {
        ServiceKey::Tuple {
            addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            protocol: 6,
            port,
        }
    }

    fn scfg(slot: u32, key: ServiceKey) -> ServiceConfig {
        ServiceConfig {
            id: ServiceId { slot, tag: 0 },
            key,
            sched_name: "rr".into(),
            flags: 0,
            timeout_s: 300,
            netmask: Netmask::full(false),
        }
    }

    #[test]
    fn lookup_order_fwmark_tuple_port_zero() {
        let mut b = SnapshotBuilder::new(7, Settings::default());
        b.add_service(scfg(0, tuple(80)), &[dcfg(0, 1, 1)]).unwrap();
        b.add_service(scfg(1, tuple(0)), &[dcfg(1, 2, 1)]).unwrap();
        b.add_service(
            scfg(2, ServiceKey::Fwmark { v6: false, mark: 5 }),
            &[dcfg(2, 3, 1)],
        )
        .unwrap();
        let s = b.build();
        assert_eq!(s.generation, 7);
        let vip = addr::to_bits(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))).0;
        assert_eq!(s.find(false, 0, 6, vip, 80), Some(0));
        assert_eq!(
            s.find(false, 0, 6, vip, 443),
            Some(1),
            "port zero catches the rest"
        );
        assert_eq!(s.find(false, 5, 6, vip, 80), Some(2), "fwmark first");
        assert_eq!(
            s.find(false, 9, 6, vip, 80),
            Some(0),
            "unknown mark falls back"
        );
        assert_eq!(s.find(false, 0, 17, vip, 80), None);
        assert_eq!(s.find(true, 0, 6, vip, 80), None);
        assert_eq!(s.dest_loc(DestId { slot: 1, tag: 0 }), Some((1, 0)));
        assert_eq!(s.dest_loc(DestId { slot: 1, tag: 1 }), None, "stale tag");
        assert_eq!(s.dest_loc(DestId { slot: 9, tag: 0 }), None);
        assert_eq!(s.service_index(ServiceId { slot: 2, tag: 0 }), Some(2));
    }

    #[test]
    fn duplicates_are_refused() {
        let mut b = SnapshotBuilder::new(1, Settings::default());
        b.add_service(scfg(0, tuple(80)), &[dcfg(0, 1, 1)]).unwrap();
        assert_eq!(
            b.add_service(scfg(1, tuple(80)), &[]).unwrap_err(),
            SnapshotError::Duplicate
        );
        let mut b = SnapshotBuilder::new(1, Settings::default());
        b.add_service(scfg(0, tuple(80)), &[dcfg(0, 1, 1)]).unwrap();
        assert!(b.add_service(scfg(1, tuple(81)), &[dcfg(0, 2, 1)]).is_err());
        let mut b = SnapshotBuilder::new(1, Settings::default());
        let mut c = scfg(0, tuple(80));
        c.sched_name = "nope".into();
        assert!(matches!(
            b.add_service(c, &[]),
            Err(SnapshotError::Sched(SchedError::UnknownScheduler))
        ));
    }

    #[test]
    fn netmasks() {
        let a = addr::to_bits("198.51.100.77".parse().unwrap()).0;
        let m = Netmask::from_ipvs(false, [255, 255, 255, 0]);
        assert_eq!(
            addr::from_bits(m.apply(a), false).to_string(),
            "198.51.100.0"
        );
        let a6 = addr::to_bits("2001:db8:1:2:3:4:5:6".parse().unwrap()).0;
        let m6 = Netmask::from_ipvs(true, 48u32.to_ne_bytes());
        assert_eq!(
            addr::from_bits(m6.apply(a6), true).to_string(),
            "2001:db8:1::"
        );
        assert_eq!(Netmask::V6(0).apply(a6), 0);
        assert_eq!(Netmask::full(true).apply(a6), a6);
    }

    #[test]
    fn ids_are_reused_with_new_tags() {
        let mut a = IdAllocator::default();
        assert_eq!(a.alloc(), (0, 0));
        assert_eq!(a.alloc(), (1, 0));
        a.free(0);
        a.free(0);
        assert_eq!(a.alloc(), (0, 1));
        assert_eq!(a.alloc(), (2, 0));
    }

    #[test]
    fn fwd_methods() {
        assert_eq!(FwdMethod::from_ipvs(3), Some(FwdMethod::DirectRoute));
        assert_eq!(FwdMethod::from_ipvs(6), None);
        assert!(FwdMethod::FullNat.sees_output());
        assert!(!FwdMethod::Tunnel.sees_output());
    }
}
