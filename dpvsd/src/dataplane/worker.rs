//! A worker lcore: rx bursts from its queue of every port, the software hand-off to the
//! flow's owner, the dpvs-core pipeline, the network stack for what the pipeline does not
//! take (ARP, ND, echo to local addresses), the exception path to the `.kni` interfaces for
//! the rest, ICMP errors, frames held for their next hop, tx bursts; in its slow path the
//! connection timers, the control thread's requests, neighbour resolution and (worker 0)
//! what the kernel sends; an idle back-off.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dpdk::{Mbuf, Mempool, RingConsumer, RingProducer, RxQueue, TxQueue};
use dpvs_core::conn::Conn;
use dpvs_core::net::{self, IcmpError, LocalAction, NetSnapshot, Resolution, ResolveQueue, RouteKind};
use dpvs_core::pipeline::{LocalAddrPool, NextHop, PacketDrop, Pipeline, PipelineConfig, Router, Verdict};
use dpvs_wire::EthernetAddress;
use dpvs_core::service::Service;
use dpvs_core::worker::ConnHooks;
use dpvs_core::xmit::{PacketBuf, XmitDrop};
use tracing::{debug, trace};

use super::kni::Kni;
use super::steer::network_header;
use super::rate::RateLimiter;
use super::{Command, Published, Shared, WorkerReport};

/// A received frame as dpvs-core's [`PacketBuf`] (single-segment mbufs).
struct MbufBuf<'a>(&'a mut Mbuf);

impl PacketBuf for MbufBuf<'_> {
    fn data(&self) -> &[u8] {
        self.0.data()
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self.0.data_mut()
    }
    fn headroom(&self) -> usize {
        self.0.headroom()
    }
    fn prepend(&mut self, n: usize) -> bool {
        self.0.prepend(n).is_ok()
    }
    fn truncate(&mut self, len: usize) {
        let cur = self.0.len();
        if len < cur {
            let _ = self.0.trim(cur - len);
        }
    }
    fn append(&mut self, n: usize) -> bool {
        self.0.append(n).is_ok()
    }
}

/// The full-NAT local ports: this worker's slice of every `sapool` address. When the
/// addresses change, a new pool starts while connections hold ports of the old one: those
/// ports are skipped once when the new pool hands them out (their connection gives them
/// back when it ends).
struct Laddrs {
    pool: LocalAddrPool,
    held: HashSet<(IpAddr, u16)>,
}

impl Laddrs {
    fn new(addrs: &[IpAddr], worker: u16, workers: u16) -> Laddrs {
        // a different start on every run: the real servers may still hold the last run's
        // ports in TIME_WAIT
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let pool = LocalAddrPool::new(addrs, FIRST_LOCAL_PORT..=u16::MAX, worker, workers).rotated(seed);
        Laddrs { pool, held: HashSet::new() }
    }
}

impl ConnHooks for Laddrs {
    fn local_addr(&mut self, svc: &Service, dest: usize) -> Option<(IpAddr, u16)> {
        loop {
            let got = self.pool.local_addr(svc, dest)?;
            if self.held.is_empty() || !self.held.remove(&got) {
                return Some(got);
            }
        }
    }

    fn freed(&mut self, conn: &Conn) {
        self.pool.freed(conn);
    }
}

/// The lowest full-NAT local port (the ports below stay with the kernel's services).
const FIRST_LOCAL_PORT: u16 = 1024;

/// The pipeline's router: the published network snapshot, then the neighbours this worker
/// learned since (the control thread publishes them a few milliseconds later; a reply that
/// comes back sooner must not wait for that).
///
/// A next hop that nobody knows yet is solicited, and the frame is still transmitted to a
/// placeholder MAC ([`UNRESOLVED`]): the worker holds such frames until the neighbour
/// answers (as the kernel's neighbour queue does), so the packet that made the connection is
/// counted and rewritten once, and not lost.
struct WorkerRouter<'a> {
    net: &'a NetSnapshot,
    overlay: &'a HashMap<IpAddr, (EthernetAddress, u16)>,
    misses: &'a mut ResolveQueue,
    /// The next hop of the last placeholder handed out.
    unresolved: Option<IpAddr>,
}

/// The destination MAC of a frame waiting for its next hop's resolution.
const UNRESOLVED: EthernetAddress = EthernetAddress([0; 6]);

impl Router for WorkerRouter<'_> {
    #[inline]
    fn route(&mut self, dst: IpAddr) -> Option<NextHop> {
        match self.net.resolve(dst) {
            Resolution::Hop(h) => Some(h),
            Resolution::Unresolved { gateway, port } => {
                if let (Some(&(mac, p)), Some(info)) = (self.overlay.get(&gateway), self.net.port(port)) {
                    if p == port {
                        return Some(NextHop { port, src_mac: info.mac, dst_mac: mac, mtu: info.mtu });
                    }
                }
                self.misses.push(gateway, port);
                let info = self.net.port(port)?;
                self.unresolved = Some(gateway);
                Some(NextHop { port, src_mac: info.mac, dst_mac: UNRESOLVED, mtu: info.mtu })
            }
            Resolution::Local | Resolution::NoRoute => None,
        }
    }
}

/// Whether a frame is the network's control traffic: ARP, IPv6 neighbour and router
/// discovery, VRRP, OSPF, BGP.
fn is_control(f: &[u8]) -> bool {
    let Some((ty, off)) = network_header(f) else { return false };
    const VRRP: u8 = 112;
    const OSPF: u8 = 89;
    const BGP: u16 = 179;
    let ports_bgp = |l4: usize| {
        f.get(l4..l4 + 4).is_some_and(|p| {
            u16::from_be_bytes([p[0], p[1]]) == BGP || u16::from_be_bytes([p[2], p[3]]) == BGP
        })
    };
    match ty {
        0x0806 => true,
        0x0800 => {
            let Some(h) = f.get(off..off + 20) else { return false };
            let l4 = off + usize::from(h[0] & 0xf) * 4;
            match h[9] {
                VRRP | OSPF => true,
                6 => ports_bgp(l4),
                _ => false,
            }
        }
        0x86dd => {
            let Some(h) = f.get(off..off + 40) else { return false };
            match h[6] {
                58 => f.get(off + 40).is_some_and(|t| (133..=137).contains(t)),
                VRRP | OSPF => true,
                6 => ports_bgp(off + 40),
                _ => false,
            }
        }
        _ => false,
    }
}

/// The source address of an IPv4 or IPv6 frame (one optional 802.1Q tag).
fn frame_source(f: &[u8]) -> Option<IpAddr> {
    let (ty, off) = network_header(f)?;
    match ty {
        0x0800 => Some(IpAddr::from(<[u8; 4]>::try_from(f.get(off + 12..off + 16)?).ok()?)),
        0x86dd => Some(IpAddr::from(<[u8; 16]>::try_from(f.get(off + 8..off + 24)?).ok()?)),
        _ => None,
    }
}

/// Everything one worker owns.
pub(crate) struct WorkerCtx {
    pub id: u16,
    pub workers: u16,
    pub shared: Arc<Shared>,
    pub pool: Mempool,
    /// Index-aligned with `port_ids`.
    pub rx: Vec<RxQueue>,
    pub tx: Vec<TxQueue>,
    pub port_ids: Vec<u16>,
    /// To worker `i` (`None` for itself).
    pub to: Vec<Option<RingProducer<Mbuf>>>,
    pub from: Vec<RingConsumer<Mbuf>>,
    pub pipeline: PipelineConfig,
    pub burst: u16,
    pub idle_sleep_us: u32,
    pub epoch: Instant,
    /// Each port's kernel interface, index-aligned with `port_ids`.
    pub knis: Arc<Vec<Option<Kni>>>,
    /// Frames per second this worker hands the kernel at most.
    pub kni_rate: u32,
}

/// Empty polls before an idle worker starts sleeping.
const SPIN_POLLS: u32 = 256;
/// How often the slow path runs (by the clock, busy or idle).
const SLOW_PATH_MS: u64 = 1;
/// Timers run per slow-path pass, at most.
const EXPIRE_BATCH: usize = 2048;
/// A frame waiting for its next hop.
struct Pending {
    gateway: IpAddr,
    /// Egress port index.
    pi: usize,
    m: Mbuf,
    at: u64,
}

/// Frames held per unresolved next hop, in all, and for how long (the kernel holds 3 per
/// neighbour by default, for as long as resolution takes).
const HOLD_PER_HOP: usize = 8;
const HOLD_MAX: usize = 256;
const HOLD_MS: u64 = 1000;

/// ICMP errors (fragmentation needed, time exceeded) a worker sends per second at most.
const ICMP_ERRORS_PER_S: u32 = 1000;
/// Frames read from each kernel interface per slow-path pass, at most.
const KNI_BATCH: usize = 64;
/// A next hop is solicited at most this often.
const SOLICIT_INTERVAL_MS: u64 = 500;

struct Run {
    cur: Arc<Published>,
    pipe: Pipeline,
    laddrs: Laddrs,
    misses: ResolveQueue,
    txq: Vec<Vec<Mbuf>>,
    report: WorkerReport,
    solicited: HashMap<IpAddr, u64>,
    learned: Vec<(IpAddr, dpvs_wire::EthernetAddress, u16)>,
    /// Neighbours learned here and not yet in the published snapshot.
    overlay: HashMap<IpAddr, (EthernetAddress, u16)>,
    /// The last source checked for learning (consecutive frames mostly share it).
    last_source: Option<IpAddr>,
    /// Frames waiting for their next hop's resolution.
    pending: Vec<Pending>,
    /// Token bucket of the exception path: frames left, and when it was refilled.
    kni_rate: RateLimiter,
    /// The same for ARP, neighbour discovery, VRRP, OSPF and BGP.
    kni_control_rate: RateLimiter,
    /// ICMP errors sent.
    icmp_rate: RateLimiter,
}

impl WorkerCtx {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn port_index(&self, port: u16) -> Option<usize> {
        self.port_ids.iter().position(|&p| p == port)
    }

    /// The worker's loop, until the control thread says stop.
    pub fn run(mut self) {
        let cur = self.shared.load();
        let now = self.now_ms();
        let mut r = Run {
            pipe: Pipeline::new(self.pipeline, &cur.ipvs, now),
            laddrs: Laddrs::new(&cur.laddrs, self.id, self.workers),
            cur,
            misses: ResolveQueue::with_capacity(64),
            txq: self.port_ids.iter().map(|_| Vec::with_capacity(256)).collect(),
            report: WorkerReport::default(),
            solicited: HashMap::new(),
            learned: Vec::new(),
            overlay: HashMap::new(),
            last_source: None,
            pending: Vec::new(),
            // a tenth of a second's worth in a burst
            kni_rate: RateLimiter::new(self.kni_rate, (self.kni_rate / 10).max(1)),
            kni_control_rate: RateLimiter::new(self.kni_rate, (self.kni_rate / 10).max(1)),
            icmp_rate: RateLimiter::new(ICMP_ERRORS_PER_S, ICMP_ERRORS_PER_S / 10),
        };
        if let Err(e) = crate::sys::set_timer_slack(1_000) {
            debug!(worker = self.id, error = %e, "timer slack stays at the default");
        }
        debug!(worker = self.id, "worker running");
        let mut rxb: Vec<Mbuf> = Vec::with_capacity(usize::from(self.burst));
        let mut idle = 0u32;
        let mut last_slow = 0u64;
        while !self.shared.stop.load(Ordering::Relaxed) {
            if self.shared.generation.load(Ordering::Acquire) != r.cur.generation {
                self.follow(&mut r);
            }
            let now = self.now_ms();
            let mut got = 0usize;
            for pi in 0..self.rx.len() {
                rxb.clear();
                let n = self.rx[pi].rx_burst_into(&mut rxb, self.burst);
                got += n;
                if !r.cur.ports_up.get(pi).copied().unwrap_or(true) {
                    r.report.down_drops += n as u64;
                    rxb.clear();
                    continue;
                }
                for m in rxb.drain(..) {
                    if let Some(o) = r.cur.steering.owner(m.data()) {
                        if o != self.id {
                            if let Some(p) = self.to[usize::from(o)].as_mut() {
                                if p.enqueue(m).is_err() {
                                    r.report.handoff_drops += 1;
                                }
                                continue;
                            }
                        }
                    }
                    self.handle(&mut r, m, pi, now);
                }
            }
            for c in 0..self.from.len() {
                rxb.clear();
                let n = self.from[c].dequeue_burst(&mut rxb, usize::from(self.burst));
                got += n;
                for m in rxb.drain(..) {
                    let pi = self.port_index(m.port()).unwrap_or(0);
                    self.handle(&mut r, m, pi, now);
                }
            }
            self.flush(&mut r);
            // by the clock alone, busy or idle: an empty poll is no reason for the system
            // calls of the slow path (the `.kni` reads)
            if now >= last_slow + SLOW_PATH_MS {
                last_slow = now;
                self.slow_path(&mut r, now);
            }
            if got == 0 {
                idle = idle.saturating_add(1);
                if idle > SPIN_POLLS && self.idle_sleep_us > 0 {
                    // back off: 10 µs more per empty poll, up to the configured ceiling
                    let us = (idle - SPIN_POLLS).saturating_mul(10).min(self.idle_sleep_us);
                    std::thread::sleep(Duration::from_micros(u64::from(us)));
                }
            } else {
                idle = 0;
            }
        }
        // hand the final counters over before leaving
        self.answer_requests(&mut r, true);
        debug!(worker = self.id, "worker stopped");
    }

    /// Moves to the newest published configuration.
    fn follow(&mut self, r: &mut Run) {
        let new = self.shared.load();
        if !Arc::ptr_eq(&new.ipvs, &r.cur.ipvs) {
            r.pipe.apply_snapshot(&r.cur.ipvs, &new.ipvs);
        }
        if !Arc::ptr_eq(&new.laddrs, &r.cur.laddrs) {
            let mut pool = Laddrs::new(&new.laddrs, self.id, self.workers);
            // ports of live connections stay taken
            pool.held = r.pipe.worker().table().iter().filter_map(|(_, c)| c.laddr()).collect();
            r.laddrs = pool;
        }
        r.cur = new;
        let net = &r.cur.net;
        r.overlay.retain(|a, (mac, port)| !net.neighbours().get(*a).is_some_and(|n| n.mac == *mac && n.port == *port));
    }

    fn handle(&mut self, r: &mut Run, mut m: Mbuf, pi: usize, now: u64) {
        if m.segments() != 1 {
            r.report.multiseg_drops += 1;
            return;
        }
        // a unicast frame for another host (a flooding switch, a promiscuous port) is not
        // ours, as ip_rcv drops PACKET_OTHERHOST: a VRRP backup must not serve the
        // master's clients
        let d = m.data();
        if d.len() >= 6 && d[0] & 1 == 0 && r.cur.net.port(self.port_ids[pi]).is_some_and(|p| p.mac.0 != d[..6]) {
            r.report.other_host_drops += 1;
            return;
        }
        let in_port = self.port_ids[pi];
        self.learn_source(r, &m, in_port);
        let (verdict, unresolved) = {
            let mut router = WorkerRouter { net: &r.cur.net, overlay: &r.overlay, misses: &mut r.misses, unresolved: None };
            let v = r.pipe.process(&r.cur.ipvs, &mut MbufBuf(&mut m), now, 0, &mut router, &mut r.laddrs);
            (v, router.unresolved)
        };
        match verdict {
            Verdict::Forward { port, .. } => match self.port_index(port) {
                Some(i) if m.data().get(..6) == Some(&UNRESOLVED.0[..]) => match unresolved {
                    Some(gateway) => self.hold(r, m, gateway, i, now),
                    None => r.report.unresolved_drops += 1,
                },
                Some(i) => r.txq[i].push(m),
                None => r.report.tx_drops += 1,
            },
            Verdict::LocalReply { .. } => r.txq[pi].push(m),
            Verdict::Drop(PacketDrop::Xmit(XmitDrop::FragNeeded { mtu })) => {
                self.icmp_error(r, &m, pi, IcmpError::FragNeeded { mtu }, now);
            }
            Verdict::Drop(PacketDrop::Xmit(XmitDrop::TtlExpired)) => {
                self.icmp_error(r, &m, pi, IcmpError::TimeExceeded, now);
            }
            Verdict::Drop(_) => {}
            Verdict::ToKernel => {
                // ARP and ND are answered for the dataplane's addresses only, VIPs included
                // only when they are addresses (configured, dpip, or keepalived's on .kni):
                // a VRRP backup has the same services but must stay silent for the VIP
                let action = net::handle_local(m.data_mut(), in_port, &r.cur.net, &|_| false);
                match action {
                    LocalAction::Reply { len } => {
                        MbufBuf(&mut m).truncate(len);
                        r.report.local_replies += 1;
                        r.txq[pi].push(m);
                    }
                    LocalAction::Learn { addr, mac } => {
                        self.learn(r, addr, mac, in_port);
                        // an answer to the kernel's own resolution, or an announcement:
                        // the kernel's neighbour table wants it as well
                        self.to_kernel(r, &m, pi, now);
                    }
                    LocalAction::ReplyAndLearn { len, addr, mac } => {
                        MbufBuf(&mut m).truncate(len);
                        r.report.local_replies += 1;
                        r.txq[pi].push(m);
                        self.learn(r, addr, mac, in_port);
                    }
                    LocalAction::NotLocal => self.to_kernel(r, &m, pi, now),
                    LocalAction::Drop(why) => {
                        trace!(why, "network stack drop");
                        r.report.net_drops += 1;
                    }
                }
            }
        }
    }

    /// Keeps a frame until its next hop is resolved (at most [`HOLD_PER_HOP`] per next hop,
    /// [`HOLD_MAX`] in all, for [`HOLD_MS`]).
    fn hold(&self, r: &mut Run, m: Mbuf, gateway: IpAddr, pi: usize, now: u64) {
        let same = r.pending.iter().filter(|p| p.gateway == gateway).count();
        if same >= HOLD_PER_HOP || r.pending.len() >= HOLD_MAX {
            r.report.unresolved_drops += 1;
            return;
        }
        r.pending.push(Pending { gateway, pi, m, at: now });
    }

    /// Sends the held frames whose next hop is now known; drops those held too long.
    fn release(&self, r: &mut Run, now: u64) {
        if r.pending.is_empty() {
            return;
        }
        for mut p in std::mem::take(&mut r.pending) {
            let known = r.overlay.get(&p.gateway).map(|&(mac, _)| mac).or_else(|| {
                r.cur.net.neighbours().get(p.gateway).filter(|n| n.usable()).map(|n| n.mac)
            });
            match known {
                Some(mac) => {
                    p.m.data_mut()[..6].copy_from_slice(&mac.0);
                    r.txq[p.pi].push(p.m);
                }
                None if now >= p.at + HOLD_MS => r.report.unresolved_drops += 1,
                None => r.pending.push(p),
            }
        }
    }

    /// The exception path: the frame, unchanged, to the port's kernel interface, within
    /// the worker's rate.
    fn to_kernel(&self, r: &mut Run, m: &Mbuf, pi: usize, now: u64) {
        let Some(kni) = self.knis.get(pi).and_then(Option::as_ref) else {
            r.report.kernel_drops += 1;
            return;
        };
        // the network's own control traffic has a budget of its own, so that a flood at a
        // kernel address cannot starve VRRP (a spurious failover) or resolution
        let bucket = if is_control(m.data()) { &mut r.kni_control_rate } else { &mut r.kni_rate };
        if !bucket.allow(now) {
            r.report.kni_rate_drops += 1;
            return;
        }
        if kni.send(m.data()) {
            r.report.to_kni += 1;
        } else {
            r.report.kernel_drops += 1;
        }
    }

    /// The ICMP error the kernel's IPVS would send about a packet it could not forward,
    /// back out of the port the packet came in on, at most [`ICMP_ERRORS_PER_S`] a second.
    fn icmp_error(&self, r: &mut Run, m: &Mbuf, pi: usize, kind: IcmpError, now: u64) {
        if !r.icmp_rate.allow(now) {
            return;
        }
        let Ok(mut e) = self.pool.alloc() else { return };
        let Ok(buf) = e.append(1600) else { return };
        let Some(len) = net::icmp_error(m.data(), kind, buf) else { return };
        MbufBuf(&mut e).truncate(len);
        r.report.icmp_errors += 1;
        r.txq[pi].push(e);
    }

    /// What the kernel sent on the `.kni` interfaces leaves by their ports (worker 0).
    fn kernel_out(&mut self, r: &mut Run) {
        let mut buf = [0u8; 2048];
        for pi in 0..self.knis.len() {
            let Some(kni) = self.knis[pi].as_ref() else { continue };
            for _ in 0..KNI_BATCH {
                let Some(n) = kni.recv(&mut buf) else { break };
                let Ok(mut m) = self.pool.alloc() else {
                    r.report.kernel_drops += 1;
                    break;
                };
                match m.append(n) {
                    Ok(dst) => dst.copy_from_slice(&buf[..n]),
                    Err(_) => continue,
                }
                r.report.from_kni += 1;
                r.txq[pi].push(m);
            }
        }
    }

    fn learn(&self, r: &mut Run, addr: IpAddr, mac: dpvs_wire::EthernetAddress, port: u16) {
        let known = r.cur.net.neighbours().get(addr).is_some_and(|n| n.mac == mac && n.port == port);
        if !known && r.overlay.get(&addr) != Some(&(mac, port)) {
            r.overlay.insert(addr, (mac, port));
            r.learned.push((addr, mac, port));
        }
    }

    /// A host on a subnet of the port it sent from is its own next hop: its frame's source
    /// MAC is its MAC. Learning it here spares the reply a resolution the kernel would have
    /// queued the reply for (a client that took a VRRP failover by a gratuitous ARP never
    /// asks the new master for anything).
    #[inline]
    fn learn_source(&self, r: &mut Run, m: &Mbuf, in_port: u16) {
        let Some(src) = frame_source(m.data()) else { return };
        if r.last_source == Some(src) {
            return;
        }
        r.last_source = Some(src);
        if r.cur.net.neighbours().get(src).is_some() || r.overlay.contains_key(&src) {
            return;
        }
        let on_link = r
            .cur
            .net
            .routes()
            .lookup(src)
            .is_some_and(|rt| rt.kind == RouteKind::Net && rt.via.is_none() && rt.port == in_port);
        let d = m.data();
        let mac = EthernetAddress([d[6], d[7], d[8], d[9], d[10], d[11]]);
        if on_link && mac.0[0] & 1 == 0 && mac.0 != [0; 6] {
            self.learn(r, src, mac, in_port);
        }
    }

    fn flush(&mut self, r: &mut Run) {
        for (i, q) in r.txq.iter_mut().enumerate() {
            if q.is_empty() {
                continue;
            }
            if !r.cur.ports_up.get(i).copied().unwrap_or(true) {
                r.report.down_drops += q.len() as u64;
                q.clear();
                continue;
            }
            self.tx[i].tx_burst(q);
            if !q.is_empty() {
                r.report.tx_drops += q.len() as u64;
                q.clear();
            }
        }
    }

    fn slow_path(&mut self, r: &mut Run, now: u64) {
        r.pipe.expire(&r.cur.ipvs, now, EXPIRE_BATCH, &mut r.laddrs);
        if !r.learned.is_empty() {
            if let Ok(mut l) = self.shared.learned.lock() {
                l.append(&mut r.learned);
            }
        }
        self.release(r, now);
        // next hops the router missed
        let misses: Vec<(IpAddr, u16)> = r.misses.drain().collect();
        for (addr, port) in misses {
            self.solicit(r, port, addr, now);
        }
        if self.shared.workers[usize::from(self.id)].has_commands.swap(false, Ordering::AcqRel) {
            let cmds = std::mem::take(&mut *self.shared.workers[usize::from(self.id)].commands.lock().expect("commands"));
            for c in cmds {
                match c {
                    Command::Solicit { port, target } => self.solicit(r, port, target, now),
                    Command::Announce { port, addr } => self.announce(r, port, addr),
                }
            }
        }
        if self.id == 0 {
            self.kernel_out(r);
        }
        self.answer_requests(r, false);
        self.flush(r);
    }

    fn answer_requests(&mut self, r: &mut Run, last: bool) {
        let slot = &self.shared.workers[usize::from(self.id)];
        let req = slot.stats_req.load(Ordering::Acquire);
        if last || req != slot.stats_done.load(Ordering::Relaxed) {
            let mut rep = r.report.clone();
            rep.stats = r.pipe.worker().stats_report(&r.cur.ipvs);
            rep.pipeline = *r.pipe.counters();
            rep.conns = r.pipe.worker().table().len() as u64;
            *slot.report.lock().expect("report") = rep;
            slot.stats_done.store(req, Ordering::Release);
        }
        let req = slot.conns_req.load(Ordering::Acquire);
        if req != slot.conns_done.load(Ordering::Relaxed) {
            let now = self.now_ms();
            let t = r.pipe.worker().table();
            let mut s = String::with_capacity(t.len() * 80);
            // one-packet reply entries are not connections (the kernel never lists them)
            for (cref, c) in t.iter().filter(|(_, c)| !c.is_one_packet()) {
                super::conns::write_line(&mut s, c, t.remaining_ms(cref, now) / 1000);
            }
            *slot.conns.lock().expect("conns") = s;
            slot.conns_done.store(req, Ordering::Release);
        }
    }

    /// An ARP request or neighbour solicitation for `target` out of `port`, at most once per
    /// [`SOLICIT_INTERVAL_MS`].
    fn solicit(&mut self, r: &mut Run, port: u16, target: IpAddr, now: u64) {
        if r.solicited.get(&target).is_some_and(|&t| now < t + SOLICIT_INTERVAL_MS) {
            return;
        }
        r.solicited.insert(target, now);
        if r.solicited.len() > 4096 {
            r.solicited.retain(|_, t| now < *t + SOLICIT_INTERVAL_MS);
        }
        let net: &NetSnapshot = &r.cur.net;
        let (Some(info), Some(pi)) = (net.port(port), self.port_index(port)) else { return };
        let Some(src) = net.source_addr(port, target) else {
            debug!(%target, port, "no local address to solicit from");
            return;
        };
        let Ok(mut m) = self.pool.alloc() else { return };
        let Ok(buf) = m.append(128) else { return };
        let len = match (src, target) {
            (IpAddr::V4(s), IpAddr::V4(t)) => net::arp_request(buf, info.mac, s, t),
            (IpAddr::V6(s), IpAddr::V6(t)) => net::neighbour_solicit(buf, info.mac, s, t),
            _ => return,
        };
        MbufBuf(&mut m).truncate(len);
        trace!(%target, port, "soliciting");
        r.txq[pi].push(m);
    }

    /// A gratuitous ARP (or unsolicited NA) for `addr` out of `port`.
    fn announce(&mut self, r: &mut Run, port: u16, addr: IpAddr) {
        let (Some(info), Some(pi)) = (r.cur.net.port(port), self.port_index(port)) else { return };
        let Ok(mut m) = self.pool.alloc() else { return };
        let Ok(buf) = m.append(128) else { return };
        let len = match addr {
            IpAddr::V4(a) => net::gratuitous_arp(buf, info.mac, a),
            IpAddr::V6(a) => net::unsolicited_na(buf, info.mac, a),
        };
        MbufBuf(&mut m).truncate(len);
        r.txq[pi].push(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ethertype: u16, ip: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(ip);
        f
    }

    #[test]
    fn control_traffic_is_recognised() {
        let mut v4 = vec![0x45, 0, 0, 40, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18];
        v4.extend_from_slice(&[0; 20]);
        assert!(is_control(&frame(0x0800, &v4)), "VRRP");
        assert!(is_control(&frame(0x0806, &[0; 28])), "ARP");
        v4[9] = 6;
        v4[20..24].copy_from_slice(&[0xc0, 0x01, 0, 179]);
        assert!(is_control(&frame(0x0800, &v4)), "BGP");
        v4[22..24].copy_from_slice(&[0, 80]);
        assert!(!is_control(&frame(0x0800, &v4)), "HTTP");
        let mut v6 = vec![0x60, 0, 0, 0, 0, 24, 58, 255];
        v6.extend_from_slice(&[0; 32]);
        v6.push(135);
        v6.extend_from_slice(&[0; 23]);
        assert!(is_control(&frame(0x86dd, &v6)), "neighbour solicitation");
        v6[40] = 128;
        assert!(!is_control(&frame(0x86dd, &v6)), "echo");
        assert!(!is_control(&[0; 10]));
    }
}
