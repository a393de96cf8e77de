//! The dataplane's network state as an operator manages it (what `dpip` shows and
//! changes): links, addresses, routes, neighbours, per-worker statistics. Every change is
//! checked whole before anything changes, then published to the workers like any other
//! configuration; errors carry the errno the kernel's rtnetlink would give and a message
//! naming the object. Changes last until dpvsd restarts or SIGHUP re-applies the file.

use std::net::IpAddr;

use dpvs_core::net::{NeighState, RouteKind, Scope};
use dpvs_core::xmit::XmitDrop;
use dpvs_wire::EthernetAddress;

use super::config::{is_network, NeighConfig, PortAddr, RouteConfig};
use super::{Command, Dataplane};
use crate::ipvs::state::IpvsState;

/// A refused change: the errno for the client and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct NetError {
    pub errno: i32,
    pub msg: String,
}

fn err(errno: i32, msg: String) -> NetError {
    NetError { errno, msg }
}

/// A port as `dpip link show` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEntry {
    pub name: String,
    /// The DPDK port id (the interface index of `ip link`).
    pub index: u16,
    pub mac: EthernetAddress,
    pub mtu: u16,
    /// Administratively up (dpvsd forwards on it).
    pub up: bool,
    /// The carrier, as the driver reports it.
    pub carrier: bool,
    pub speed_mbps: u32,
    pub promisc: bool,
    pub queues: u16,
    pub stats: dpdk::Stats,
}

/// An address of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrEntry {
    pub port: u16,
    pub addr: PortAddr,
}

/// A route of the dataplane's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    pub prefix: IpAddr,
    pub len: u8,
    /// A local (host) route of one of our addresses, or a route to a network.
    pub local: bool,
    pub port: u16,
    pub via: Option<IpAddr>,
    pub src: Option<IpAddr>,
    pub metric: u32,
    /// "host", "link" or "global", as `ip route` prints scopes.
    pub scope: &'static str,
}

/// A neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighEntry {
    pub addr: IpAddr,
    pub mac: EthernetAddress,
    pub port: u16,
    /// "INCOMPLETE", "REACHABLE", "STALE" or "PERMANENT", as `ip neigh` prints them.
    pub state: &'static str,
}

/// One worker's counters, every drop reason by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerStats {
    pub worker: u16,
    pub rx: u64,
    pub forwarded: u64,
    pub local_replies: u64,
    pub to_kernel: u64,
    pub connections: u64,
    /// `(reason, count)` for every reason, zeros included.
    pub drops: Vec<(&'static str, u64)>,
}

const EEXIST: i32 = libc::EEXIST;
const ENODEV: i32 = libc::ENODEV;
const EINVAL: i32 = libc::EINVAL;
const ESRCH: i32 = libc::ESRCH;
const EADDRNOTAVAIL: i32 = libc::EADDRNOTAVAIL;
const ENOENT: i32 = libc::ENOENT;

impl Dataplane {
    fn port_by_name(&self, name: &str) -> Result<usize, NetError> {
        self.cfg
            .ports
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| err(ENODEV, format!("no port named `{name}`")))
    }

    /// The name of port id `id`.
    pub fn port_name(&self, id: u16) -> Option<&str> {
        self.ports.iter().find(|p| p.port.id() == id).map(|p| p.name.as_str())
    }

    /// The port id of `name`.
    pub fn port_index(&self, name: &str) -> Option<u16> {
        self.port_id(name)
    }

    /// Applies a changed configuration: rebuilt, published, new addresses announced. On
    /// failure the previous configuration is restored and nothing changed.
    pub(super) fn apply(&mut self, old: super::config::DataplaneConfig, state: &IpvsState) -> Result<(), NetError> {
        if let Err(e) = self.rebuild_net() {
            self.cfg = old;
            let _ = self.rebuild_net();
            return Err(err(EINVAL, format!("{e:#}")));
        }
        self.rebuild_ipvs(state);
        self.publish_all();
        let before: Vec<IpAddr> = old.ports.iter().flat_map(|p| p.addrs.iter().map(|a| a.addr)).collect();
        for a in self.net.addrs().to_vec() {
            if !before.contains(&a.addr) {
                self.shared.command(0, Command::Announce { port: a.port, addr: a.addr });
            }
        }
        self.resolve_dests();
        Ok(())
    }

    /// Every port.
    pub fn links(&self) -> Vec<LinkEntry> {
        self.ports
            .iter()
            .zip(&self.cfg.ports)
            .map(|(p, pc)| {
                let link = p.port.link().ok();
                LinkEntry {
                    name: p.name.clone(),
                    index: p.port.id(),
                    mac: p.mac,
                    mtu: p.mtu,
                    up: p.up,
                    carrier: link.is_some_and(|l| l.up),
                    speed_mbps: link.map_or(0, |l| l.speed_mbps),
                    promisc: p.port.promiscuous().unwrap_or(pc.promisc),
                    queues: self.cfg.workers,
                    stats: p.port.stats().unwrap_or_default(),
                }
            })
            .collect()
    }

    /// `link set NAME [up|down] [mtu N]`. A port that is down neither receives nor sends.
    pub fn set_link(&mut self, name: &str, up: Option<bool>, mtu: Option<u16>) -> Result<(), NetError> {
        let i = self.port_by_name(name)?;
        if let Some(m) = mtu {
            if !(576..=9000).contains(&m) {
                return Err(err(EINVAL, format!("link {name}: mtu {m} must be 576..9000")));
            }
        }
        if let Some(u) = up {
            self.ports[i].up = u;
        }
        if let Some(m) = mtu {
            self.ports[i].mtu = m;
            self.cfg.ports[i].mtu = m;
        }
        self.rebuild_net().map_err(|e| err(EINVAL, format!("{e:#}")))?;
        self.publish_all();
        Ok(())
    }

    /// Every address, in port then configuration order, then those the kernel holds on
    /// the `.kni` interfaces (changed with `ip addr` there, not with dpip).
    pub fn addrs(&self) -> Vec<AddrEntry> {
        let mut v = Vec::new();
        for (i, pc) in self.cfg.ports.iter().enumerate() {
            let port = self.port_id(&pc.name).unwrap_or_default();
            v.extend(pc.addrs.iter().map(|&addr| AddrEntry { port, addr }));
            for &(_, addr, len) in self.kni_addrs.iter().filter(|k| k.0 == i) {
                if !pc.addrs.iter().any(|a| a.addr == addr) {
                    v.push(AddrEntry { port, addr: PortAddr { addr, len, sapool: false } });
                }
            }
        }
        v
    }

    /// `addr add A/LEN dev PORT [sapool]`.
    pub fn add_addr(&mut self, port: &str, a: PortAddr, state: &IpvsState) -> Result<(), NetError> {
        let i = self.port_by_name(port)?;
        if self.cfg.ports.iter().flat_map(|p| &p.addrs).any(|x| x.addr == a.addr) {
            return Err(err(EEXIST, format!("addr {}/{}: already assigned", a.addr, a.len)));
        }
        let old = self.cfg.clone();
        self.cfg.ports[i].addrs.push(a);
        self.apply(old, state)
    }

    /// `addr del A[/LEN] [dev PORT]`.
    pub fn del_addr(&mut self, port: Option<&str>, addr: IpAddr, len: Option<u8>, state: &IpvsState) -> Result<(), NetError> {
        let only = port.map(|p| self.port_by_name(p)).transpose()?;
        let found = self.cfg.ports.iter().enumerate().find_map(|(i, p)| {
            let j = p.addrs.iter().position(|x| x.addr == addr && len.is_none_or(|l| l == x.len))?;
            (only.is_none_or(|o| o == i)).then_some((i, j))
        });
        let (i, j) = found.ok_or_else(|| err(EADDRNOTAVAIL, format!("addr {addr}: not assigned")))?;
        let old = self.cfg.clone();
        self.cfg.ports[i].addrs.remove(j);
        self.apply(old, state)
    }

    /// `addr flush [dev PORT]` for one family or both; returns how many went.
    pub fn flush_addrs(&mut self, port: Option<&str>, v6: Option<bool>, state: &IpvsState) -> Result<usize, NetError> {
        let only = port.map(|p| self.port_by_name(p)).transpose()?;
        let old = self.cfg.clone();
        let mut n = 0;
        for (i, p) in self.cfg.ports.iter_mut().enumerate() {
            if only.is_some_and(|o| o != i) {
                continue;
            }
            let before = p.addrs.len();
            p.addrs.retain(|a| v6.is_some_and(|v| a.addr.is_ipv6() != v));
            n += before - p.addrs.len();
        }
        self.apply(old, state)?;
        Ok(n)
    }

    /// The routing table as the workers use it (local and connected routes included).
    pub fn routes(&self) -> Vec<RouteEntry> {
        self.net
            .routes()
            .iter()
            .map(|r| RouteEntry {
                prefix: r.prefix,
                len: r.len,
                local: r.kind == RouteKind::Local,
                port: r.port,
                via: r.via,
                src: r.src,
                metric: r.metric,
                scope: match r.scope {
                    Scope::Host => "host",
                    Scope::Link => "link",
                    Scope::Global => "global",
                },
            })
            .collect()
    }

    /// `route add PREFIX [via GW] dev PORT [src A] [metric N]`.
    pub fn add_route(&mut self, r: RouteConfig, state: &IpvsState) -> Result<(), NetError> {
        self.port_by_name(&r.dev)?;
        if !is_network(r.prefix, r.len) {
            return Err(err(EINVAL, format!("route {}/{}: host bits set beyond the prefix length", r.prefix, r.len)));
        }
        if self.cfg.routes.iter().any(|x| x.prefix == r.prefix && x.len == r.len && x.metric == r.metric) {
            return Err(err(EEXIST, format!("route {}/{}: exists", r.prefix, r.len)));
        }
        let old = self.cfg.clone();
        self.cfg.routes.push(r);
        self.apply(old, state)
    }

    /// `route del PREFIX [metric N]` (the configured routes; connected ones go with their
    /// address).
    pub fn del_route(&mut self, prefix: IpAddr, len: u8, metric: Option<u32>, state: &IpvsState) -> Result<(), NetError> {
        let i = self
            .cfg
            .routes
            .iter()
            .position(|x| x.prefix == prefix && x.len == len && metric.is_none_or(|m| m == x.metric))
            .ok_or_else(|| err(ESRCH, format!("route {prefix}/{len}: no such route")))?;
        let old = self.cfg.clone();
        self.cfg.routes.remove(i);
        self.apply(old, state)
    }

    /// `route flush` of the configured routes of one family or both; returns how many went.
    pub fn flush_routes(&mut self, v6: Option<bool>, state: &IpvsState) -> Result<usize, NetError> {
        let old = self.cfg.clone();
        let before = self.cfg.routes.len();
        self.cfg.routes.retain(|r| v6.is_some_and(|v| r.prefix.is_ipv6() != v));
        let n = before - self.cfg.routes.len();
        self.apply(old, state)?;
        Ok(n)
    }

    /// Every neighbour.
    pub fn neighbours(&self) -> Vec<NeighEntry> {
        let mut v: Vec<NeighEntry> = self
            .neigh
            .iter()
            .map(|n| NeighEntry {
                addr: n.addr,
                mac: n.mac,
                port: n.port,
                state: match n.state {
                    NeighState::Incomplete => "INCOMPLETE",
                    NeighState::Reachable => "REACHABLE",
                    NeighState::Stale => "STALE",
                    NeighState::Permanent => "PERMANENT",
                },
            })
            .collect();
        v.sort_by_key(|n| (n.addr.is_ipv6(), n.addr));
        v
    }

    /// `neigh add A lladdr MAC dev PORT` (permanent).
    pub fn add_neigh(&mut self, n: NeighConfig) -> Result<(), NetError> {
        let i = self.port_by_name(&n.dev)?;
        if self.neigh.get(n.addr).is_some_and(|x| x.state == NeighState::Permanent) {
            return Err(err(EEXIST, format!("neigh {}: exists", n.addr)));
        }
        let port = self.ports[i].port.id();
        self.neigh.insert_permanent(n.addr, n.mac, port);
        self.cfg.neighbours.push(n);
        self.publish_neighbours();
        Ok(())
    }

    /// `neigh del A`.
    pub fn del_neigh(&mut self, addr: IpAddr) -> Result<(), NetError> {
        self.neigh.remove(addr).ok_or_else(|| err(ENOENT, format!("neigh {addr}: no such entry")))?;
        self.cfg.neighbours.retain(|n| n.addr != addr);
        self.publish_neighbours();
        Ok(())
    }

    /// `neigh flush [dev PORT]`: the learned entries (permanent ones stay, as with `ip`).
    pub fn flush_neigh(&mut self, port: Option<&str>) -> Result<usize, NetError> {
        let only = port.map(|p| self.port_by_name(p)).transpose()?.map(|i| self.ports[i].port.id());
        let gone: Vec<IpAddr> = self
            .neigh
            .iter()
            .filter(|n| n.state != NeighState::Permanent && only.is_none_or(|p| p == n.port))
            .map(|n| n.addr)
            .collect();
        for a in &gone {
            self.neigh.remove(*a);
        }
        self.publish_neighbours();
        Ok(gone.len())
    }

    /// Every worker's counters with every drop reason.
    pub fn worker_stats(&mut self) -> Vec<WorkerStats> {
        let names = XmitDrop::ALL.map(|x| x.name());
        self.collect()
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let p = &r.pipeline;
                let mut drops: Vec<(&'static str, u64)> = r.stats.drops.iter().map(|(d, n)| (d.name(), n)).collect();
                // a reason both layers name (malformed) is one line
                for (n, c) in names.iter().zip(p.xmit_drops) {
                    match drops.iter_mut().find(|d| d.0 == *n) {
                        Some(d) => d.1 += c,
                        None => drops.push((n, c)),
                    }
                }
                drops.push(("no-route", p.no_route));
                drops.push(("kernel-unreachable", r.kernel_drops));
                drops.push(("kernel-rate-limit", r.kni_rate_drops));
                drops.push(("neighbour-unresolved", r.unresolved_drops));
                drops.push(("other-host", r.other_host_drops));
                drops.push(("handoff-ring-full", r.handoff_drops));
                drops.push(("tx-ring-full", r.tx_drops));
                drops.push(("multi-segment", r.multiseg_drops));
                drops.push(("net-malformed", r.net_drops));
                drops.push(("port-down", r.down_drops));
                WorkerStats {
                    worker: i as u16,
                    rx: p.rx,
                    forwarded: p.forwarded,
                    local_replies: p.local_reply + r.local_replies,
                    to_kernel: p.to_kernel,
                    connections: r.conns,
                    drops,
                }
            })
            .collect()
    }
}
