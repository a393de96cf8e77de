//! From the IPVS configuration (`IpvsState`, the kernel's model) to the dataplane's
//! [`Snapshot`], and the workers' counters back into the kernel's statistics.
//!
//! Services and dests get stable ids ([`ServiceId`], [`DestId`]) that survive every rebuild
//! for as long as they exist, so connections and per-worker counters follow them. The
//! workers' counters only grow; [`Accumulator`] adds what they grew by since the last look to
//! the statistics `IpvsState` keeps, so `ipvsadm -Z` (which zeroes those) works unchanged,
//! and runs the kernel's rate estimator over them.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dpvs_core::dest::Thresholds;
use dpvs_core::service::{
    DestConfig, DestId, FwdMethod, IdAllocator, Netmask, ServiceConfig, ServiceId, ServiceKey, Settings, Snapshot,
    SnapshotBuilder, SnapshotError,
};
use dpvs_core::proto::TcpState;
use dpvs_core::stats::Counters;
use dpvs_core::worker::StatsTotals;
use ipvs_genl::consts::AF_INET6;
use ipvs_genl::ipvs::{self, RawAddr, Stats};

use super::estimator::Estimator;
use crate::ipvs::state::IpvsState;

/// How the IPVS configuration maps onto the dataplane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Masquerade dests are forwarded by full-NAT (local addresses exist and the operator
    /// asked for it: keepalived and Debian's ipvsadm can only say "masquerade").
    pub masquerade_fullnat: bool,
    /// Workers: connection thresholds are per worker, so each gets its share.
    pub workers: u32,
    /// TCP TIME_WAIT, seconds.
    pub tcp_time_wait: u32,
}

/// A dest's identity in the IPVS model: its service, family, address and port.
type DestKey = (ipvs::ServiceKey, u16, RawAddr, u16);

fn ip(af: u16, a: &RawAddr) -> IpAddr {
    if af == AF_INET6 {
        IpAddr::V6(Ipv6Addr::from(*a))
    } else {
        IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
    }
}

/// Stable ids for the services and dests of an `IpvsState`, and the snapshots built with them.
#[derive(Debug, Default)]
pub struct Translator {
    svc_alloc: IdAllocator,
    dest_alloc: IdAllocator,
    services: HashMap<ipvs::ServiceKey, ServiceId>,
    /// Id and last non-zero weight (the `mh` scheduler keeps a quiesced dest's place by it).
    dests: HashMap<DestKey, (DestId, i32)>,
    generation: u64,
}

impl Translator {
    /// The id of service `key`, if it exists.
    pub fn service_id(&self, key: &ipvs::ServiceKey) -> Option<ServiceId> {
        self.services.get(key).copied()
    }

    /// The id of a dest, if it exists.
    pub fn dest_id(&self, svc: &ipvs::ServiceKey, af: u16, addr: &RawAddr, port: u16) -> Option<DestId> {
        self.dests.get(&(*svc, af, *addr, port)).map(|d| d.0)
    }

    /// The generation of the last snapshot built.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Builds the next snapshot of `st`. Ids of services and dests that left are freed.
    pub fn build(&mut self, st: &IpvsState, opts: Options) -> Result<Snapshot, SnapshotError> {
        self.generation += 1;
        let mut settings = Settings::default();
        settings.timeouts.set_ipvs(st.timeouts.tcp, st.timeouts.tcp_fin, st.timeouts.udp);
        settings.timeouts.tcp[TcpState::TimeWait as usize] = opts.tcp_time_wait.saturating_mul(1000);
        let mut b = SnapshotBuilder::new(self.generation, settings);
        let mut live_svcs = HashMap::with_capacity(st.services.len());
        let mut live_dests = HashMap::with_capacity(st.dest_count());
        for (key, svc) in &st.services {
            let id = match self.services.get(key) {
                Some(id) => *id,
                None => {
                    let (slot, tag) = self.svc_alloc.alloc();
                    ServiceId { slot, tag }
                }
            };
            live_svcs.insert(*key, id);
            let (skey, v6) = match *key {
                ipvs::ServiceKey::Tuple { af, protocol, addr, port } => (
                    ServiceKey::Tuple { addr: ip(af, &addr), protocol: protocol as u8, port },
                    af == AF_INET6,
                ),
                ipvs::ServiceKey::Fwmark { af, mark } => (ServiceKey::Fwmark { v6: af == AF_INET6, mark }, af == AF_INET6),
            };
            let mut dests = Vec::with_capacity(svc.dests.len());
            for d in &svc.dests {
                let dk = (*key, d.af, d.addr, d.port);
                let weight = d.params.weight as i32;
                let (id, last) = match self.dests.get(&dk) {
                    Some(&(id, last)) => (id, if weight > 0 { weight } else { last }),
                    None => {
                        let (slot, tag) = self.dest_alloc.alloc();
                        (DestId { slot, tag }, weight)
                    }
                };
                live_dests.insert(dk, (id, last));
                let mut fwd = FwdMethod::from_ipvs(d.params.fwd).unwrap_or(FwdMethod::Masq);
                if fwd == FwdMethod::Masq && opts.masquerade_fullnat {
                    fwd = FwdMethod::FullNat;
                }
                let share = |t: u32| if t == 0 { 0 } else { t.div_ceil(opts.workers.max(1)) };
                dests.push(DestConfig {
                    id,
                    addr: ip(d.af, &d.addr),
                    port: d.port,
                    weight,
                    last_weight: last,
                    fwd,
                    thresholds: Thresholds { upper: share(d.params.u_thresh), lower: share(d.params.l_thresh) },
                    available: true,
                });
            }
            let cfg = ServiceConfig {
                id,
                key: skey,
                sched_name: svc.sched.clone().unwrap_or_else(|| "none".into()),
                flags: svc.flags,
                timeout_s: svc.timeout_secs(),
                netmask: Netmask::from_ipvs(v6, svc.netmask),
            };
            b.add_service(cfg, &dests)?;
        }
        for (k, id) in &self.services {
            if !live_svcs.contains_key(k) {
                self.svc_alloc.free(id.slot);
            }
        }
        for (k, (id, _)) in &self.dests {
            if !live_dests.contains_key(k) {
                self.dest_alloc.free(id.slot);
            }
        }
        self.services = live_svcs;
        self.dests = live_dests;
        Ok(b.build())
    }
}

fn grown(now: &Counters, before: &Counters) -> Counters {
    // a counter that went down belongs to a new worker table: count it from zero
    let d = |n: u64, b: u64| if n >= b { n - b } else { n };
    Counters {
        conns: d(now.conns, before.conns),
        inpkts: d(now.inpkts, before.inpkts),
        outpkts: d(now.outpkts, before.outpkts),
        inbytes: d(now.inbytes, before.inbytes),
        outbytes: d(now.outbytes, before.outbytes),
    }
}

fn add(s: &mut Stats, c: &Counters) {
    s.conns += c.conns;
    s.inpkts += c.inpkts;
    s.outpkts += c.outpkts;
    s.inbytes += c.inbytes;
    s.outbytes += c.outbytes;
}

/// Carries the workers' counters into `IpvsState`'s statistics and estimates rates.
#[derive(Debug, Default)]
pub struct Accumulator {
    services: HashMap<ServiceId, Counters>,
    dests: HashMap<DestId, Counters>,
    est_services: HashMap<ServiceId, Estimator>,
    est_dests: HashMap<DestId, Estimator>,
    est_total: Estimator,
}

impl Accumulator {
    /// Adds what the workers' totals grew by since the last call to `st`'s statistics and
    /// sets the dests' connection counts; copies the estimated rates in.
    pub fn apply(&mut self, totals: &StatsTotals, tr: &Translator, st: &mut IpvsState) {
        let mut seen_s = HashMap::with_capacity(self.services.len());
        let mut seen_d = HashMap::with_capacity(self.dests.len());
        for (key, svc) in st.services.iter_mut() {
            let Some(sid) = tr.service_id(key) else { continue };
            if let Some(now) = totals.services.get(&sid) {
                let before = self.services.get(&sid).copied().unwrap_or_default();
                add(&mut svc.stats, &grown(now, &before));
                seen_s.insert(sid, *now);
            } else if let Some(b) = self.services.get(&sid) {
                seen_s.insert(sid, *b);
            }
            if let Some(e) = self.est_services.get(&sid) {
                e.read_into(&mut svc.stats);
            }
            for d in svc.dests.iter_mut() {
                let Some(did) = tr.dest_id(key, d.af, &d.addr, d.port) else { continue };
                if let Some((now, conns)) = totals.dests.get(&did) {
                    let before = self.dests.get(&did).copied().unwrap_or_default();
                    add(&mut d.stats, &grown(now, &before));
                    seen_d.insert(did, *now);
                    d.active_conns = conns.active;
                    d.inact_conns = conns.inactive;
                    d.persist_conns = conns.persistent;
                } else if let Some(b) = self.dests.get(&did) {
                    seen_d.insert(did, *b);
                }
                if let Some(e) = self.est_dests.get(&did) {
                    e.read_into(&mut d.stats);
                }
            }
        }
        self.services = seen_s;
        self.dests = seen_d;
    }

    /// The estimator's 2-second tick over `st`'s (already refreshed) statistics.
    pub fn estimate(&mut self, tr: &Translator, st: &IpvsState) {
        let mut es = HashMap::with_capacity(self.est_services.len());
        let mut ed = HashMap::with_capacity(self.est_dests.len());
        let mut total = Stats::default();
        for (key, svc) in &st.services {
            let Some(sid) = tr.service_id(key) else { continue };
            let mut e = self.est_services.remove(&sid).unwrap_or_default();
            e.tick(&svc.stats);
            es.insert(sid, e);
            add(&mut total, &counters_of(&svc.stats));
            for d in &svc.dests {
                let Some(did) = tr.dest_id(key, d.af, &d.addr, d.port) else { continue };
                let mut e = self.est_dests.remove(&did).unwrap_or_default();
                e.tick(&d.stats);
                ed.insert(did, e);
            }
        }
        self.est_total.tick(&total);
        self.est_services = es;
        self.est_dests = ed;
    }

    /// The estimated rates of all services together (`/proc/net/ip_vs_stats`).
    pub fn total_rates(&self, s: &mut Stats) {
        self.est_total.read_into(s);
    }
}

fn counters_of(s: &Stats) -> Counters {
    Counters { conns: s.conns, inpkts: s.inpkts, outpkts: s.outpkts, inbytes: s.inbytes, outbytes: s.outbytes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs_genl::consts::AF_INET;
    use ipvs_genl::ipvs::DestParams;

    use crate::ipvs::state::{Dest, Service};

    fn key(port: u16) -> ipvs::ServiceKey {
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&[10, 90, 0, 100]);
        ipvs::ServiceKey::Tuple { af: AF_INET, protocol: 6, addr, port }
    }

    fn dest(last: u8, weight: u32, fwd: u32) -> Dest {
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&[10, 90, 2, last]);
        Dest {
            af: AF_INET,
            addr,
            port: 80,
            params: DestParams { fwd, weight, u_thresh: 0, l_thresh: 0, tun_type: 0, tun_port: 0, tun_flags: 0 },
            stats: Stats::default(),
            active_conns: 0,
            inact_conns: 0,
            persist_conns: 0,
        }
    }

    fn state(dests: Vec<Dest>) -> IpvsState {
        let mut st = IpvsState::default();
        st.services.insert(
            key(80),
            Service {
                key: key(80),
                sched: Some("rr".into()),
                pe: None,
                flags: 2,
                timeout_jiffies: 0,
                netmask: [255; 4],
                dests,
                stats: Stats::default(),
            },
        );
        st
    }

    const OPTS: Options = Options { masquerade_fullnat: false, workers: 2, tcp_time_wait: 120 };

    #[test]
    fn ids_are_stable_and_freed() {
        let mut tr = Translator::default();
        let st = state(vec![dest(12, 1, 0), dest(11, 1, 0)]);
        let s1 = tr.build(&st, OPTS).unwrap();
        let a = s1.services()[0].dest_conf[1].id;
        // a dest added in front keeps the others' ids
        let st2 = state(vec![dest(13, 1, 0), dest(12, 1, 0), dest(11, 1, 0)]);
        let s2 = tr.build(&st2, OPTS).unwrap();
        assert_eq!(s2.services()[0].dest_conf[2].id, a);
        assert_eq!(s2.generation, s1.generation + 1);
        assert_eq!(s2.services()[0].id, s1.services()[0].id);
        // removed, then re-added: a new id (the old one's tag is retired)
        let s3 = tr.build(&state(vec![dest(13, 1, 0)]), OPTS).unwrap();
        assert_eq!(s3.services()[0].dests.len(), 1);
        let s4 = tr.build(&st2, OPTS).unwrap();
        assert_ne!(s4.services()[0].dest_conf[2].id, a);
    }

    #[test]
    fn masquerade_as_fullnat_thresholds_and_last_weight() {
        let mut tr = Translator::default();
        let mut d = dest(11, 5, 0);
        d.params.u_thresh = 101;
        let s = tr.build(&state(vec![d.clone()]), Options { masquerade_fullnat: true, workers: 2, tcp_time_wait: 7 }).unwrap();
        assert_eq!(s.services()[0].dest_conf[0].fwd, FwdMethod::FullNat);
        assert_eq!(s.services()[0].dest_conf[0].thresholds.upper, 51);
        assert_eq!(s.settings.timeouts.tcp[TcpState::TimeWait as usize], 7000);
        d.params.weight = 0;
        let s = tr.build(&state(vec![d]), OPTS).unwrap();
        assert_eq!(s.services()[0].dest_conf[0].fwd, FwdMethod::Masq);
        assert_eq!(s.services()[0].dests[0].last_weight, 5);
    }

    #[test]
    fn counters_accumulate_across_zero() {
        let mut tr = Translator::default();
        let mut st = state(vec![dest(11, 1, 0)]);
        let snap = tr.build(&st, OPTS).unwrap();
        let (sid, did) = (snap.services()[0].id, snap.services()[0].dest_conf[0].id);
        let mut acc = Accumulator::default();
        let mut totals = StatsTotals::default();
        let c = Counters { conns: 2, inpkts: 10, outpkts: 8, inbytes: 1000, outbytes: 800 };
        totals.services.insert(sid, c);
        totals.dests.insert(did, (c, dpvs_core::dest::DestCounters { active: 1, inactive: 1, ..Default::default() }));
        acc.apply(&totals, &tr, &mut st);
        acc.apply(&totals, &tr, &mut st);
        let svc = &st.services[&key(80)];
        assert_eq!((svc.stats.conns, svc.stats.inbytes), (2, 1000));
        assert_eq!((svc.dests[0].active_conns, svc.dests[0].inact_conns), (1, 1));
        // ipvsadm -Z zeroes the state; later growth counts from there
        st.services.get_mut(&key(80)).unwrap().stats = Stats::default();
        totals.services.get_mut(&sid).unwrap().inpkts = 15;
        acc.apply(&totals, &tr, &mut st);
        assert_eq!(st.services[&key(80)].stats.inpkts, 5);
    }
}
