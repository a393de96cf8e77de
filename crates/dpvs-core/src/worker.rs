//! One worker's dataplane state and the packet-path glue of `ip_vs_core.c`.
//!
//! A [`Worker`] owns everything mutable on its core: the [`ConnTable`], per service the
//! scheduler state and the per-dest [`DestCounters`] the schedulers read, the traffic
//! [`Counters`] and the [`DropCounters`]. It reads the immutable [`Snapshot`] it is given on
//! every call (the caller loads the current one once per burst) and is told when the
//! snapshot changes ([`Worker::apply_snapshot`]).
//!
//! The functions follow the kernel:
//! - [`Worker::process_in`]: `ip_vs_in_hook` for a client packet: connection lookup, the
//!   `conn_reuse_mode` and `expire_nodest_conn` rules, scheduling of a new connection
//!   (`tcp_conn_schedule`/`udp_conn_schedule`: TCP only on SYN unless `sloppy_tcp`, never on
//!   RST), the INPUT state transition, statistics and the timer.
//! - [`Worker::schedule`]: `ip_vs_schedule` and `ip_vs_sched_persist` (templates with the
//!   service netmask, the FTP and port-zero rules, one-packet scheduling).
//! - [`Worker::process_out`]: `ip_vs_out_hook` for a reply: lookup by the out key, the OUTPUT
//!   state transition, statistics, timer.
//! - [`Worker::expire`]: the connection timers (`ip_vs_conn_expire`), including the kernel's
//!   `expire_later` (a template that still controls connections is kept 60 s more), and the
//!   `expire_nodest_conn` flush after a dest left.
//!
//! The `snap` passed to every call must be the snapshot the worker was last moved to (the one
//! given to [`Worker::new`] or the `new` of the last [`Worker::apply_snapshot`]).
//!
//! # Example
//!
//! ```
//! use std::net::IpAddr;
//! use dpvs_core::proto::TcpFlags;
//! use dpvs_core::service::*;
//! use dpvs_core::worker::{NoHooks, Packet, Scheduled, Worker, WorkerConfig};
//! use dpvs_core::{conn::ConnTableConfig, Thresholds};
//!
//! let vip: IpAddr = "192.0.2.1".parse().unwrap();
//! let mut ids = IdAllocator::default();
//! let (slot, tag) = ids.alloc();
//! let dest = DestConfig {
//!     id: DestId { slot, tag },
//!     addr: "10.0.0.1".parse().unwrap(),
//!     port: 8080,
//!     weight: 1,
//!     last_weight: 1,
//!     fwd: FwdMethod::Masq,
//!     thresholds: Thresholds::default(),
//!     available: true,
//! };
//! let mut b = SnapshotBuilder::new(1, Settings::default());
//! b.add_service(
//!     ServiceConfig {
//!         id: ServiceId { slot: 0, tag: 0 },
//!         key: ServiceKey::Tuple { addr: vip, protocol: 6, port: 80 },
//!         sched_name: "wlc".into(),
//!         flags: 0,
//!         timeout_s: 300,
//!         netmask: Netmask::full(false),
//!     },
//!     &[dest],
//! )?;
//! let snap = b.build();
//! let cfg = WorkerConfig {
//!     table: ConnTableConfig { capacity: 1024, ..Default::default() },
//!     ..Default::default()
//! };
//! let mut w = Worker::new(cfg, &snap, 0);
//!
//! let client: IpAddr = "198.51.100.7".parse().unwrap();
//! let syn = Packet::new(6, client, 40000, vip, 80).with_flags(TcpFlags::SYN);
//! let Ok(Scheduled::Conn(c)) = w.process_in(&snap, &syn, 1, &mut NoHooks) else { panic!() };
//! assert_eq!(w.table().get(c).daddr().to_string(), "10.0.0.1");
//!
//! // the reply, as the real server sends it
//! let rs: IpAddr = "10.0.0.1".parse().unwrap();
//! let synack = Packet::new(6, rs, 8080, client, 40000).with_flags(TcpFlags::SYN_ACK);
//! assert_eq!(w.process_out(&snap, &synack, 2), Some(c));
//! assert_eq!(w.counters(0)[0].active, 1);
//!
//! // nothing more: SYN_RECV times out after 60 s
//! assert_eq!(w.expire(&snap, 60_001, &mut NoHooks), 0);
//! assert_eq!(w.expire(&snap, 60_100, &mut NoHooks), 1);
//! assert_eq!(w.counters(0)[0].active, 0);
//! # Ok::<(), dpvs_core::service::SnapshotError>(())
//! ```
//!
//! # Counting
//!
//! Exactly as the kernel: a new connection is bound inactive (`conn_flags` of a dest always
//! carry `IP_VS_CONN_F_INACTIVE`), the TCP state machine moves it between inactive and active
//! on state changes (active = ESTABLISHED, SYN_SENT, SYN_RECV, SYNACK), UDP and ICMP stay
//! inactive, templates count as persistent. Thresholds set and clear the per-worker overload
//! flag on bind/unbind (`ip_vs_bind_dest`/`ip_vs_unbind_dest`).
//!
//! # Deviations from the kernel
//! - Counters, thresholds and overload are per worker (the architecture's choice): a dest's
//!   `u_threshold` applies to each worker's own connections.
//! - A connection expired by the reuse or nodest rules is freed at once instead of when its
//!   timer fires a moment later (`ip_vs_conn_expire_now`); with no concurrent readers the
//!   result is the same.
//! - When a dest leaves the snapshot altogether (not just into the trash), its counters go
//!   with it; its remaining connections are treated as having an unavailable dest.
//! - No conntrack, no application helpers (FTP), no sync, no `ip_vs_todrop` random drop, no
//!   `ip_vs_leave` bypass: "no dest" is a drop the caller may answer with an ICMP error.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::addr;
use crate::conn::{Conn, ConnKey, ConnRef, ConnTable, ConnTableConfig, InBucket, NewConn};
use crate::dest::{ConnKind, DestCounters};
use crate::drop::{DropCounters, DropReason};
use crate::proto::{self, Direction, Protocol, TcpFlags, TcpState};
use crate::sched::{SchedInput, SchedState, StateParams};
use crate::service::{DestId, FwdMethod, Service, ServiceId, Snapshot, FTPDATA, FTPPORT};
use crate::stats::Counters;

/// What the core needs to know about a packet (parsed by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    /// IP protocol number.
    pub protocol: u8,
    /// IPv6.
    pub v6: bool,
    /// Source address bits ([`crate::addr`]).
    pub saddr: u128,
    /// Source port (ICMP: see [`crate::proto::icmp::query_ports`]).
    pub sport: u16,
    /// Destination address bits.
    pub daddr: u128,
    /// Destination port.
    pub dport: u16,
    /// TCP flags (ignored for other protocols).
    pub tcp_flags: TcpFlags,
    /// Firewall mark the classifier gave the packet (0: none).
    pub fwmark: u32,
    /// Bytes, for the statistics.
    pub len: u32,
}

impl Packet {
    /// A packet from `src:sport` to `dst:dport` (same family), no flags, no mark, length 0.
    pub fn new(protocol: u8, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Packet {
        let (s, v6) = addr::to_bits(src);
        Packet {
            protocol,
            v6,
            saddr: s,
            sport,
            daddr: addr::to_bits(dst).0,
            dport,
            tcp_flags: TcpFlags::NONE,
            fwmark: 0,
            len: 0,
        }
    }

    /// With TCP flags.
    pub fn with_flags(mut self, f: TcpFlags) -> Packet {
        self.tcp_flags = f;
        self
    }

    /// With a length.
    pub fn with_len(mut self, len: u32) -> Packet {
        self.len = len;
        self
    }

    /// With a firewall mark.
    pub fn with_mark(mut self, mark: u32) -> Packet {
        self.fwmark = mark;
        self
    }

    /// The key of this packet seen as client-to-VIP.
    #[inline]
    pub fn key(&self) -> ConnKey {
        ConnKey {
            protocol: self.protocol,
            v6: self.v6,
            src: self.saddr,
            sport: self.sport,
            dst: self.daddr,
            dport: self.dport,
        }
    }
}

/// Callbacks into the caller's resources.
pub trait ConnHooks {
    /// Full-NAT: a local address and port for a new connection to dest `dest` of `svc`
    /// (`None`: exhausted, the packet is dropped with [`DropReason::NoLocalAddress`]).
    fn local_addr(&mut self, svc: &Service, dest: usize) -> Option<(IpAddr, u16)> {
        let _ = (svc, dest);
        None
    }

    /// An entry is about to be freed (to give back its local port, for example).
    fn freed(&mut self, conn: &Conn) {
        let _ = conn;
    }
}

/// Hooks that do nothing (no full-NAT).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

impl ConnHooks for NoHooks {}

/// A one-packet scheduling result (a UDP datagram of a one-packet service, `ipvsadm -o`).
///
/// The kernel frees such a connection right after transmitting the packet and never hashes
/// it; the reply of a NAT one-packet datagram is translated back by conntrack, not by IPVS.
/// This dataplane has no conntrack, so for the methods that see replies (NAT, full-NAT) the
/// datagram gets a short-lived entry in the out index only ([`OnePacket::conn`]): the real
/// server's reply is translated back to the client, the client's next datagram is scheduled
/// again (it never finds the entry), and the entry, with its full-NAT local port, goes
/// [`WorkerConfig::one_packet_timeout_ms`] after the last packet it saw. It is counted in
/// the dest's connection counters only for the instant of the datagram, as the kernel's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnePacket {
    /// Service index in the snapshot.
    pub svc: u32,
    /// Dest position in the service's list.
    pub dest: u32,
    /// Real server address.
    pub daddr: IpAddr,
    /// Real server port.
    pub dport: u16,
    /// Forwarding method.
    pub fwd: FwdMethod,
    /// NAT and full-NAT: the entry that translates the reply back (full-NAT: it holds the
    /// local address and port the datagram leaves with). `None` for DR and tunnels.
    pub conn: Option<ConnRef>,
}

/// The outcome of scheduling a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheduled {
    /// A connection was created.
    Conn(ConnRef),
    /// A one-packet service (UDP): forward this packet; at most a reply entry is stored.
    OnePacket(OnePacket),
}

/// The outcome of a client packet.
pub type InVerdict = Scheduled;

/// Per-worker state of one service.
#[derive(Clone, Debug)]
struct SvcState {
    id: ServiceId,
    sched: SchedState,
    counters: Vec<DestCounters>,
    dest_stats: Vec<Counters>,
    stats: Counters,
}

impl SvcState {
    fn new(s: &Service, params: &StateParams) -> SvcState {
        SvcState {
            id: s.id,
            sched: s.scheduler.new_state(params),
            counters: vec![DestCounters::default(); s.dests.len()],
            dest_stats: vec![Counters::default(); s.dests.len()],
            stats: Counters::default(),
        }
    }
}

/// A worker's statistics for the control thread, keyed by stable ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsReport {
    /// The snapshot generation the worker was on.
    pub generation: u64,
    /// Per service.
    pub services: Vec<(ServiceId, Counters)>,
    /// Per dest: traffic and connection counts.
    pub dests: Vec<(DestId, Counters, DestCounters)>,
    /// Drops.
    pub drops: DropCounters,
}

/// Sums of [`StatsReport`]s over workers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsTotals {
    /// Per service.
    pub services: HashMap<ServiceId, Counters>,
    /// Per dest: traffic, and active/inactive/persistent connections.
    pub dests: HashMap<DestId, (Counters, DestCounters)>,
    /// Drops.
    pub drops: DropCounters,
}

impl StatsTotals {
    /// Adds one worker's report.
    pub fn add(&mut self, r: &StatsReport) {
        for (id, c) in &r.services {
            self.services.entry(*id).or_default().add(c);
        }
        for (id, c, dc) in &r.dests {
            let e = self.dests.entry(*id).or_default();
            e.0.add(c);
            e.1.active += dc.active;
            e.1.inactive += dc.inactive;
            e.1.persistent += dc.persistent;
        }
        self.drops.add(&r.drops);
    }
}

/// Parameters of a worker.
#[derive(Clone, Copy, Debug)]
pub struct WorkerConfig {
    /// The connection table.
    pub table: ConnTableConfig,
    /// Scheduler state parameters (start dest, seed, lblc cache sizes).
    pub sched: StateParams,
    /// How long the reply entry of a one-packet datagram ([`OnePacket::conn`]) lives after
    /// the last packet it saw (default [`ONE_PACKET_TIMEOUT_MS`]).
    pub one_packet_timeout_ms: u32,
}

/// Default [`WorkerConfig::one_packet_timeout_ms`]: 3 s, DPVS's `conn_init_timeout`. A
/// request-response reply comes well within it, and a full-NAT local port is not held long
/// for a datagram (a client's retry is a new datagram with an entry of its own).
pub const ONE_PACKET_TIMEOUT_MS: u32 = 3_000;

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            table: ConnTableConfig::default(),
            sched: StateParams::default(),
            one_packet_timeout_ms: ONE_PACKET_TIMEOUT_MS,
        }
    }
}

/// Entries scanned per [`Worker::expire`] call by a pending `expire_nodest_conn` flush.
pub const NODEST_SCAN_PER_CALL: u32 = 4096;

/// One worker (see the module documentation).
#[derive(Clone, Debug)]
pub struct Worker {
    table: ConnTable,
    svcs: Vec<SvcState>,
    generation: u64,
    drops: DropCounters,
    params: StateParams,
    nodest_scan: Option<u32>,
    one_packet_timeout_ms: u32,
    /// The last packet moved its TCP connection to ESTABLISHED.
    established: bool,
}

impl Worker {
    /// A worker on snapshot `snap`, its table started at `now_ms`. Allocates the table.
    pub fn new(cfg: WorkerConfig, snap: &Snapshot, now_ms: u64) -> Worker {
        Worker {
            table: ConnTable::new(cfg.table, now_ms),
            svcs: snap
                .services()
                .iter()
                .map(|s| SvcState::new(s, &cfg.sched))
                .collect(),
            generation: snap.generation,
            drops: DropCounters::default(),
            params: cfg.sched,
            nodest_scan: None,
            established: false,
            one_packet_timeout_ms: cfg.one_packet_timeout_ms,
        }
    }

    /// The connection table.
    #[inline]
    pub fn table(&self) -> &ConnTable {
        &self.table
    }

    /// The generation of the snapshot the worker is aligned with.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// This worker's counters of service `svc`'s dests, index-aligned with its dest list.
    #[inline]
    pub fn counters(&self, svc: u32) -> &[DestCounters] {
        &self.svcs[svc as usize].counters
    }

    /// Traffic counters of service `svc`.
    pub fn service_stats(&self, svc: u32) -> &Counters {
        &self.svcs[svc as usize].stats
    }

    /// Traffic counters of service `svc`'s dests, index-aligned with its dest list.
    pub fn dest_stats(&self, svc: u32) -> &[Counters] {
        &self.svcs[svc as usize].dest_stats
    }

    /// Whether the last packet [`Worker::process_in`] or [`Worker::process_out`] took moved
    /// its TCP connection to ESTABLISHED (a client's handshake-completing ACK: where DPVS
    /// puts its TOA option).
    #[inline]
    pub fn just_established(&self) -> bool {
        self.established
    }

    /// Drop counters.
    #[inline]
    pub fn drops(&self) -> &DropCounters {
        &self.drops
    }

    /// Counts a drop the caller decided on (e.g. [`DropReason::Malformed`]).
    #[inline]
    pub fn count_drop(&mut self, r: DropReason) {
        self.drops.count(r);
    }

    /// The worker's statistics keyed by ids, for the control thread (allocates).
    ///
    /// Services and dests that never saw a packet are left out (their counters are zero and
    /// they have no connection, which a packet would have made): a table of thousands of
    /// services mostly idle reports what moved.
    pub fn stats_report(&self, snap: &Snapshot) -> StatsReport {
        let mut r = StatsReport {
            generation: self.generation,
            drops: self.drops,
            ..Default::default()
        };
        let zero = Counters::default();
        for (s, st) in snap.services().iter().zip(&self.svcs) {
            if st.stats == zero && st.dest_stats.iter().all(|d| *d == zero) {
                continue;
            }
            r.services.push((st.id, st.stats));
            for (i, dc) in s.dest_conf.iter().enumerate() {
                if st.dest_stats[i] != zero || st.counters[i] != DestCounters::default() {
                    r.dests.push((dc.id, st.dest_stats[i], st.counters[i]));
                }
            }
        }
        r
    }

    /// Moves to snapshot `new` from `old` (the one the worker is on): per service, the
    /// scheduler state goes through [`SchedState::on_update`] and counters follow their dest
    /// ids; services and dests that left are dropped. If `expire_nodest_conn` is set and a
    /// dest left or became unavailable, a flush of its connections starts (run in steps by
    /// [`Worker::expire`]). Allocates: call it off the packet path.
    pub fn apply_snapshot(&mut self, old: &Snapshot, new: &Snapshot) {
        debug_assert_eq!(
            old.generation, self.generation,
            "worker on another snapshot"
        );
        let mut olds: Vec<Option<SvcState>> = std::mem::take(&mut self.svcs)
            .into_iter()
            .map(Some)
            .collect();
        let mut lost_dest = false;
        let mut svcs = Vec::with_capacity(new.services().len());
        for ns in new.services() {
            let prev = old
                .service_index(ns.id)
                .and_then(|oi| olds[oi as usize].take().map(|st| (oi, st)));
            let st = match prev {
                Some((oi, mut st)) => {
                    let os = old.service(oi);
                    st.sched
                        .on_update(&ns.scheduler, &os.dests, &ns.dests, &self.params);
                    let pos: HashMap<DestId, usize> = os
                        .dest_conf
                        .iter()
                        .enumerate()
                        .map(|(i, d)| (d.id, i))
                        .collect();
                    let mut counters = vec![DestCounters::default(); ns.dests.len()];
                    let mut stats = vec![Counters::default(); ns.dests.len()];
                    for (i, d) in ns.dest_conf.iter().enumerate() {
                        if let Some(&j) = pos.get(&d.id) {
                            counters[i] = st.counters[j];
                            stats[i] = st.dest_stats[j];
                            if os.dests[j].is_available() && !ns.dests[i].is_available() {
                                lost_dest = true;
                            }
                        }
                    }
                    if pos.len()
                        > ns.dest_conf
                            .iter()
                            .filter(|d| pos.contains_key(&d.id))
                            .count()
                    {
                        lost_dest = true;
                    }
                    st.counters = counters;
                    st.dest_stats = stats;
                    st
                }
                None => SvcState::new(ns, &self.params),
            };
            svcs.push(st);
        }
        if olds.iter().any(Option::is_some) {
            lost_dest = true; // a service left with its dests
        }
        self.svcs = svcs;
        self.generation = new.generation;
        if lost_dest && new.settings.expire_nodest_conn {
            self.nodest_scan = Some(0);
        }
    }

    /// `ip_vs_in_hook` for a client-to-VIP packet (see the module documentation). On
    /// success the packet belongs to the returned connection (state, statistics and timer
    /// updated) or is a one-packet forward; on failure the reason has been counted.
    pub fn process_in<H: ConnHooks>(
        &mut self,
        snap: &Snapshot,
        pkt: &Packet,
        now_ms: u64,
        hooks: &mut H,
    ) -> Result<InVerdict, DropReason> {
        debug_assert_eq!(
            snap.generation, self.generation,
            "worker on another snapshot"
        );
        self.process_in_svc(snap, pkt, None, now_ms, hooks)
    }

    /// [`Worker::process_in`] with the service the packet would find already known to the
    /// caller (`Some(index)`: what `snap.find` gives for it), to save the lookup.
    #[inline]
    pub(crate) fn process_in_svc<H: ConnHooks>(
        &mut self,
        snap: &Snapshot,
        pkt: &Packet,
        svc: Option<u32>,
        now_ms: u64,
        hooks: &mut H,
    ) -> Result<InVerdict, DropReason> {
        debug_assert!(
            svc.is_none()
                || svc == snap.find(pkt.v6, pkt.fwmark, pkt.protocol, pkt.daddr, pkt.dport)
        );
        self.established = false;
        // the drop reason is counted once, whichever step refused the packet
        let r = (|| -> Result<InVerdict, DropReason> {
            let proto =
                Protocol::from_number(pkt.protocol).ok_or(DropReason::UnsupportedProtocol)?;
            let set = &snap.settings;
            let (mut cp, in_bucket) = self.table.settle_lookup_in(&pkt.key());
            let mut loc = None;
            if let Some(c) = cp {
                let conn = self.table.get(c);
                loc = snap.dest_loc(conn.dest());
                let is_new = proto == Protocol::Tcp && pkt.tcp_flags.syn();
                if set.conn_reuse_mode != 0 && is_new {
                    let quiescent = set.expire_nodest_conn
                        && loc.is_some_and(|(s, d)| snap.service(s).dests[d as usize].weight == 0);
                    if quiescent || is_new_conn_expected(conn, set.conn_reuse_mode) {
                        if conn.n_control() == 0 {
                            self.free_conn(snap, c, false, now_ms, hooks);
                        }
                        cp = None;
                    }
                }
            }
            if cp.is_some() {
                let available =
                    loc.is_some_and(|(s, d)| snap.service(s).dests[d as usize].is_available());
                if !available {
                    if !set.expire_nodest_conn {
                        return Err(DropReason::DestUnavailable);
                    }
                    if let Some(c) = cp.take() {
                        self.free_conn(snap, c, false, now_ms, hooks);
                    }
                }
            }
            let c = match cp {
                Some(c) => c,
                None => {
                    let svc = match svc {
                        Some(s) => s,
                        None => snap
                            .find(pkt.v6, pkt.fwmark, pkt.protocol, pkt.daddr, pkt.dport)
                            .ok_or(DropReason::NoService)?,
                    };
                    if proto == Protocol::Tcp
                        && (pkt.tcp_flags.rst() || !(set.sloppy_tcp || pkt.tcp_flags.syn()))
                    {
                        return Err(DropReason::NotSyn);
                    }
                    match self.schedule_inner(snap, svc, pkt, Some(in_bucket), now_ms, hooks)? {
                        Scheduled::Conn(c) => {
                            loc = snap.dest_loc(self.table.get(c).dest());
                            c
                        }
                        Scheduled::OnePacket(op) => {
                            let st = &mut self.svcs[op.svc as usize];
                            st.stats.count_in(pkt.len);
                            st.dest_stats[op.dest as usize].count_in(pkt.len);
                            return Ok(Scheduled::OnePacket(op));
                        }
                    }
                }
            };
            self.count_traffic(loc, pkt.len, Direction::Input);
            self.apply_transition(snap, c, loc, proto, Direction::Input, pkt.tcp_flags);
            self.table.arm(c, now_ms);
            Ok(Scheduled::Conn(c))
        })();
        if let Err(e) = r {
            self.drops.count(e);
        }
        r
    }

    /// `ip_vs_out_hook` for a packet from a real server: the connection whose out key the
    /// packet carries (state, statistics and timer updated), or `None` when it is not a reply
    /// of a known connection (not a drop: the caller passes it on).
    pub fn process_out(&mut self, snap: &Snapshot, pkt: &Packet, now_ms: u64) -> Option<ConnRef> {
        debug_assert_eq!(
            snap.generation, self.generation,
            "worker on another snapshot"
        );
        self.table.settle();
        self.established = false;
        let c = self.table.lookup_out(&pkt.key())?;
        let conn = self.table.get(c);
        let loc = snap.dest_loc(conn.dest());
        if conn.is_one_packet() {
            // no state: the entry only translates replies, with its own timeout
            self.count_traffic(loc, pkt.len, Direction::Output);
        } else if let Some(proto) = Protocol::from_number(conn.protocol()) {
            self.count_traffic(loc, pkt.len, Direction::Output);
            self.apply_transition(snap, c, loc, proto, Direction::Output, pkt.tcp_flags);
        }
        self.table.arm(c, now_ms);
        Some(c)
    }

    /// `ip_vs_schedule`: a new connection for `pkt` on service `svc` (an index into `snap`).
    /// Does not run the first state transition (see [`Worker::process_in`]). Failures are
    /// counted.
    pub fn schedule<H: ConnHooks>(
        &mut self,
        snap: &Snapshot,
        svc: u32,
        pkt: &Packet,
        now_ms: u64,
        hooks: &mut H,
    ) -> Result<Scheduled, DropReason> {
        debug_assert_eq!(
            snap.generation, self.generation,
            "worker on another snapshot"
        );
        let r = self.schedule_inner(snap, svc, pkt, None, now_ms, hooks);
        if let Err(e) = r {
            self.drops.count(e);
        }
        r
    }

    fn pick(&mut self, snap: &Snapshot, svc: u32, pkt: &Packet, now_ms: u64) -> Option<usize> {
        let s = snap.service(svc);
        let st = &mut self.svcs[svc as usize];
        let input = SchedInput {
            caddr: addr::from_bits(pkt.saddr, pkt.v6),
            cport: pkt.sport,
            vaddr: addr::from_bits(pkt.daddr, pkt.v6),
            vport: pkt.dport,
            protocol: pkt.protocol,
            now: Duration::from_millis(now_ms),
        };
        s.scheduler
            .pick(&mut st.sched, &s.dests, &st.counters, &input)
    }

    fn schedule_inner<H: ConnHooks>(
        &mut self,
        snap: &Snapshot,
        svc_idx: u32,
        pkt: &Packet,
        in_bucket: Option<InBucket>,
        now_ms: u64,
        hooks: &mut H,
    ) -> Result<Scheduled, DropReason> {
        let proto = Protocol::from_number(pkt.protocol).ok_or(DropReason::UnsupportedProtocol)?;
        let svc = snap.service(svc_idx);
        if proto != Protocol::Icmp && pkt.sport == FTPDATA {
            return Err(DropReason::FtpData);
        }
        let one_packet = svc.is_one_packet() && proto == Protocol::Udp;
        if svc.is_persistent() {
            return self.schedule_persist(snap, svc_idx, pkt, one_packet, in_bucket, now_ms, hooks);
        }
        if svc.fwmark() == 0 && pkt.dport != svc.port() {
            return Err(DropReason::PortZeroNotPersistent);
        }
        if !one_packet && self.table.len() >= self.table.capacity() {
            return Err(DropReason::ConnTableFull);
        }
        let d = self
            .pick(snap, svc_idx, pkt, now_ms)
            .ok_or(DropReason::NoDest)?;
        let dest = &svc.dests[d];
        let dport = if dest.port != 0 { dest.port } else { pkt.dport };
        self.create(
            snap, svc_idx, d, pkt, dport, None, one_packet, in_bucket, now_ms, hooks,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn schedule_persist<H: ConnHooks>(
        &mut self,
        snap: &Snapshot,
        svc_idx: u32,
        pkt: &Packet,
        one_packet: bool,
        in_bucket: Option<InBucket>,
        now_ms: u64,
        hooks: &mut H,
    ) -> Result<Scheduled, DropReason> {
        let svc = snap.service(svc_idx);
        let snet = svc.netmask.apply(pkt.saddr);
        let (tproto, tvaddr, tvport) = if pkt.dport == svc.port() {
            let vport = if svc.port() != FTPPORT { pkt.dport } else { 0 };
            (pkt.protocol, pkt.daddr, vport)
        } else if svc.fwmark() != 0 {
            (0, svc.fwmark() as u128, 0)
        } else {
            (pkt.protocol, pkt.daddr, 0)
        };
        let tkey = ConnKey {
            protocol: tproto,
            v6: pkt.v6,
            src: snet,
            sport: 0,
            dst: tvaddr,
            dport: tvport,
        };
        let mut ct = self.table.lookup_template(&tkey);
        let mut dest_idx = None;
        if let Some(t) = ct {
            match snap.dest_loc(self.table.get(t).dest()) {
                Some((s, d))
                    if s == svc_idx && {
                        let dd = &svc.dests[d as usize];
                        dd.is_available()
                            && !(snap.settings.expire_quiescent_template && dd.weight == 0)
                    } =>
                {
                    dest_idx = Some(d as usize);
                }
                _ => {
                    // ip_vs_check_template: invalidate, do not restart its timer
                    self.table.invalidate_template(t);
                    ct = None;
                }
            }
        }
        let (ct, d) = match (ct, dest_idx) {
            (Some(t), Some(d)) => (t, d),
            _ => {
                let d = self
                    .pick(snap, svc_idx, pkt, now_ms)
                    .ok_or(DropReason::NoDest)?;
                let dest = &svc.dests[d];
                let dc = &svc.dest_conf[d];
                let tdport = if pkt.dport == svc.port() && svc.port() != FTPPORT {
                    dest.port
                } else {
                    0
                };
                let (daddr, dest_v6) = addr::to_bits(dest.addr);
                let t = self.table.insert(
                    &NewConn {
                        key: tkey,
                        daddr,
                        dest_v6,
                        dport: tdport,
                        laddr: None,
                        fwd: dc.fwd,
                        dest: dc.id,
                        template: true,
                        timeout_ms: svc.timeout_ms,
                        control: None,
                        one_packet: false,
                    },
                    now_ms,
                )?;
                self.svcs[svc_idx as usize].counters[d].bind(ConnKind::Persistent, dc.thresholds);
                (t, d)
            }
        };
        let dest = &svc.dests[d];
        let dport = if pkt.dport == svc.port() && dest.port != 0 {
            dest.port
        } else {
            pkt.dport
        };
        let r = if !one_packet && self.table.len() >= self.table.capacity() {
            Err(DropReason::ConnTableFull)
        } else {
            self.create(
                snap,
                svc_idx,
                d,
                pkt,
                dport,
                Some(ct),
                one_packet,
                in_bucket,
                now_ms,
                hooks,
            )
        };
        // ip_vs_conn_put(ct): the template's timer restarts with its timeout
        self.table.arm(ct, now_ms);
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn create<H: ConnHooks>(
        &mut self,
        snap: &Snapshot,
        svc_idx: u32,
        d: usize,
        pkt: &Packet,
        dport: u16,
        control: Option<ConnRef>,
        one_packet: bool,
        in_bucket: Option<InBucket>,
        now_ms: u64,
        hooks: &mut H,
    ) -> Result<Scheduled, DropReason> {
        let svc = snap.service(svc_idx);
        let dest = &svc.dests[d];
        let dc = &svc.dest_conf[d];
        // a one-packet datagram is stored only for its reply (NAT, full-NAT: see
        // `OnePacket`), never in the in index nor under a template
        let conn = if !one_packet || dc.fwd.sees_output() {
            if one_packet && self.table.len() >= self.table.capacity() {
                return Err(DropReason::ConnTableFull);
            }
            let laddr = if dc.fwd == FwdMethod::FullNat {
                let (a, p) = hooks.local_addr(svc, d).ok_or(DropReason::NoLocalAddress)?;
                Some((addr::to_bits(a).0, p))
            } else {
                None
            };
            let (daddr, dest_v6) = addr::to_bits(dest.addr);
            let (timeout_ms, control) = if one_packet {
                (self.one_packet_timeout_ms, None)
            } else {
                (proto::INITIAL_TIMEOUT_MS, control)
            };
            Some(self.table.insert_in_bucket(
                &NewConn {
                    key: pkt.key(),
                    daddr,
                    dest_v6,
                    dport,
                    laddr,
                    fwd: dc.fwd,
                    dest: dc.id,
                    template: false,
                    timeout_ms,
                    control,
                    one_packet,
                },
                now_ms,
                in_bucket.filter(|_| !one_packet),
            )?)
        } else {
            None
        };
        let st = &mut self.svcs[svc_idx as usize];
        st.counters[d].bind(ConnKind::Inactive, dc.thresholds);
        if one_packet {
            // bound and unbound at once in the kernel: the statistics remain, and so may the
            // overload flag (set at bind, cleared at unbind only below the lower mark)
            st.counters[d].unbind(ConnKind::Inactive, dc.thresholds);
        }
        st.stats.conns += 1;
        st.dest_stats[d].conns += 1;
        Ok(match conn {
            Some(c) if !one_packet => Scheduled::Conn(c),
            _ => Scheduled::OnePacket(OnePacket {
                svc: svc_idx,
                dest: d as u32,
                daddr: dest.addr,
                dport,
                fwd: dc.fwd,
                conn,
            }),
        })
    }

    #[inline]
    fn count_traffic(&mut self, loc: Option<(u32, u32)>, len: u32, dir: Direction) {
        if let Some((s, d)) = loc {
            let st = &mut self.svcs[s as usize];
            match dir {
                Direction::Input => {
                    st.stats.count_in(len);
                    st.dest_stats[d as usize].count_in(len);
                }
                Direction::Output => {
                    st.stats.count_out(len);
                    st.dest_stats[d as usize].count_out(len);
                }
            }
        }
    }

    /// The protocol's `state_transition` with the kernel's counter moves.
    #[inline]
    fn apply_transition(
        &mut self,
        snap: &Snapshot,
        c: ConnRef,
        loc: Option<(u32, u32)>,
        proto: Protocol,
        dir: Direction,
        flags: TcpFlags,
    ) {
        let conn = self.table.get(c);
        let (inactive, control) = (conn.is_inactive(), conn.control());
        let set = &snap.settings;
        let t = proto::transition(
            proto,
            conn.state(),
            dir,
            flags,
            conn.no_output(),
            set.secure_tcp,
            &set.timeouts,
        );
        if t.changed {
            if let Some((s, d)) = loc {
                let cnt = &mut self.svcs[s as usize].counters[d as usize];
                if !inactive && !t.active {
                    cnt.set_active(false);
                    self.table.set_inactive(c, true);
                } else if inactive && t.active {
                    cnt.set_active(true);
                    self.table.set_inactive(c, false);
                }
            }
        }
        if t.assure {
            if let Some(ct) = control {
                if self.table.get(ct).is_template() {
                    self.table.set_assured(ct);
                }
            }
        }
        self.established = proto == Protocol::Tcp && t.changed && t.state == TcpState::Established as u8;
        self.table
            .set_transition(c, t.state, t.no_output, t.timeout_ms);
    }

    /// `ip_vs_conn_expire` for an entry whose time is up: keeps it 60 s more if it controls
    /// connections; otherwise uncounts and frees it. `drop_chain` is the kernel's
    /// "timeout 0" delete: the controlling template goes too when it has nothing left to
    /// control and is not assured.
    fn free_conn<H: ConnHooks>(
        &mut self,
        snap: &Snapshot,
        c: ConnRef,
        drop_chain: bool,
        now_ms: u64,
        hooks: &mut H,
    ) -> bool {
        let conn = *self.table.get(c);
        if conn.n_control() > 0 {
            self.table.set_timeout(c, proto::EXPIRE_LATER_MS);
            self.table.arm(c, now_ms);
            return false;
        }
        self.unbind(snap, &conn);
        hooks.freed(&conn);
        let ctl = self.table.remove(c);
        if drop_chain {
            if let Some(ct) = ctl {
                let t = self.table.get(ct);
                if t.n_control() == 0 && !(t.is_template() && t.is_assured()) {
                    self.free_conn(snap, ct, true, now_ms, hooks);
                }
            }
        }
        true
    }

    fn unbind(&mut self, snap: &Snapshot, conn: &Conn) {
        if conn.is_one_packet() {
            return; // unbound when it was created
        }
        if let Some((s, d)) = snap.dest_loc(conn.dest()) {
            let th = snap.service(s).dest_conf[d as usize].thresholds;
            let kind = if conn.is_template() {
                ConnKind::Persistent
            } else if conn.is_inactive() {
                ConnKind::Inactive
            } else {
                ConnKind::Active
            };
            self.svcs[s as usize].counters[d as usize].unbind(kind, th);
        }
    }

    /// Runs the timers due at `now_ms` (and a step of a pending `expire_nodest_conn` flush);
    /// `hooks.freed` sees every entry freed. Returns the number of entries freed.
    pub fn expire<H: ConnHooks>(&mut self, snap: &Snapshot, now_ms: u64, hooks: &mut H) -> usize {
        self.expire_some(snap, now_ms, usize::MAX, hooks)
    }

    /// [`Worker::expire`] handling at most `max` due entries, so that a burst of expiries
    /// does not hold up packets; the rest are handled by the next calls.
    pub fn expire_some<H: ConnHooks>(
        &mut self,
        snap: &Snapshot,
        now_ms: u64,
        max: usize,
        hooks: &mut H,
    ) -> usize {
        let mut freed = 0;
        let mut handled = 0;
        while handled < max {
            let Some(c) = self.table.pop_due(now_ms) else {
                break;
            };
            handled += 1;
            if self.free_conn(snap, c, false, now_ms, hooks) {
                freed += 1;
            }
        }
        if let Some(start) = self.nodest_scan {
            freed += self.flush_nodest_step(snap, start, now_ms, hooks);
        }
        freed
    }

    /// `ip_vs_expire_nodest_conn_flush` over a range of the table.
    fn flush_nodest_step<H: ConnHooks>(
        &mut self,
        snap: &Snapshot,
        start: u32,
        now_ms: u64,
        hooks: &mut H,
    ) -> usize {
        let cap = self.table.capacity() as u32;
        let end = start.saturating_add(NODEST_SCAN_PER_CALL).min(cap);
        let mut freed = 0;
        for i in start..end {
            let c = ConnRef(i);
            if !self.table.is_live(c) {
                continue;
            }
            let conn = self.table.get(c);
            let available = snap
                .dest_loc(conn.dest())
                .is_some_and(|(s, d)| snap.service(s).dests[d as usize].is_available());
            if available || conn.n_control() > 0 {
                continue;
            }
            let ctl = conn.control();
            if self.free_conn(snap, c, true, now_ms, hooks) {
                freed += 1;
            }
            // the flush deletes the controlling template too once it controls nothing,
            // assured or not
            if let Some(ct) = ctl {
                if self.table.is_live(ct)
                    && self.table.get(ct).n_control() == 0
                    && self.free_conn(snap, ct, true, now_ms, hooks)
                {
                    freed += 1;
                }
            }
        }
        self.nodest_scan = (end < cap).then_some(end);
        freed
    }

    /// Deletes one entry now, as `ip_vs_conn_del` does (a controlling template that is left
    /// with nothing to control and is not assured goes too). An entry that still controls
    /// connections is kept and re-armed for 60 s instead; returns whether it was freed.
    pub fn delete<H: ConnHooks>(
        &mut self,
        snap: &Snapshot,
        c: ConnRef,
        now_ms: u64,
        hooks: &mut H,
    ) -> bool {
        self.table.is_live(c) && self.free_conn(snap, c, true, now_ms, hooks)
    }

    /// Frees every connection and template (`ipvsadm -C` of the connection table, or a
    /// worker shutdown), reporting each to `hooks.freed`.
    pub fn flush<H: ConnHooks>(&mut self, snap: &Snapshot, hooks: &mut H) {
        let all: Vec<ConnRef> = self.table.iter().map(|(r, _)| r).collect();
        // controlled connections first, then templates
        for pass in 0..2 {
            for &c in &all {
                if self.table.is_live(c) && (self.table.get(c).is_template() == (pass == 1)) {
                    let conn = *self.table.get(c);
                    self.unbind(snap, &conn);
                    hooks.freed(&conn);
                    self.table.remove(c);
                }
            }
        }
    }
}

/// `is_new_conn_expected`: a SYN on this connection starts a new one.
fn is_new_conn_expected(c: &Conn, conn_reuse_mode: u8) -> bool {
    if c.control().is_some() {
        return false;
    }
    match Protocol::from_number(c.protocol()) {
        Some(Protocol::Tcp) => {
            let s = TcpState::from_u8(c.state());
            s == Some(TcpState::TimeWait)
                || s == Some(TcpState::Close)
                || (conn_reuse_mode & 2 != 0 && s == Some(TcpState::FinWait) && c.no_output())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
