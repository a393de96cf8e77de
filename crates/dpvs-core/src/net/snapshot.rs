//! What the control thread publishes to the workers: ports, local addresses, routes and
//! neighbours, immutable once built (`Clone`, `Send + Sync`), replaced as a whole with a new
//! generation.

use core::net::IpAddr;
use std::collections::HashSet;
use std::sync::Arc;

use dpvs_wire::EthernetAddress;

use super::neigh::{Neigh, NeighTable};
use super::route::{Route, RouteKind, RouteTable};
use super::{FxBuild, IpKey};
use crate::pipeline::NextHop;

/// A dataplane port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortInfo {
    /// DPDK port id.
    pub id: u16,
    /// Its name (`dpdk0`).
    pub name: String,
    /// Its MAC.
    pub mac: EthernetAddress,
    /// Its MTU (IP packet size, without the Ethernet header).
    pub mtu: u16,
}

/// An address configured on a port (`dpip addr add 10.0.0.1/24 dev dpdk0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalAddr {
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub len: u8,
    /// The port it is on.
    pub port: u16,
}

/// The answer of [`NetSnapshot::resolve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// Send it there.
    Hop(NextHop),
    /// The destination is ours (a [`RouteKind::Local`] route): nothing to forward.
    Local,
    /// No route, or the route's port is not in the snapshot.
    NoRoute,
    /// A route, but no usable neighbour entry for `gateway` on `port`: resolve it.
    Unresolved {
        /// The next hop to resolve (the route's gateway, or the destination itself).
        gateway: IpAddr,
        /// The port to resolve it on.
        port: u16,
    },
}

/// The networking state a worker reads: immutable, `Clone`, `Send + Sync`.
#[derive(Clone, Debug)]
pub struct NetSnapshot {
    /// Increases with every snapshot the control thread publishes.
    pub generation: u64,
    ports: Vec<PortInfo>,
    /// `port_index[id]`: index in `ports`, or `u16::MAX`.
    port_index: Vec<u16>,
    addrs: Vec<LocalAddr>,
    local: HashSet<IpKey, FxBuild>,
    local_on: HashSet<(u16, IpKey), FxBuild>,
    /// Shared between the snapshots [`with_neighbours`](Self::with_neighbours) derives.
    routes: Arc<RouteTable>,
    neigh: NeighTable,
}

impl Default for NetSnapshot {
    fn default() -> Self {
        NetSnapshot::new(
            0,
            Vec::new(),
            Vec::new(),
            RouteTable::new(),
            NeighTable::new(),
        )
    }
}

impl NetSnapshot {
    /// Builds a snapshot. A later port with the id of an earlier one replaces it in
    /// [`port`](Self::port) lookups. Routes are taken as given (use
    /// [`RouteTable::insert_addr`] for the routes an address implies).
    pub fn new(
        generation: u64,
        ports: Vec<PortInfo>,
        addrs: Vec<LocalAddr>,
        routes: RouteTable,
        neigh: NeighTable,
    ) -> NetSnapshot {
        let max = ports
            .iter()
            .map(|p| usize::from(p.id) + 1)
            .max()
            .unwrap_or(0);
        let mut port_index = vec![u16::MAX; max];
        for (i, p) in ports.iter().enumerate() {
            port_index[usize::from(p.id)] = u16::try_from(i).unwrap_or(u16::MAX);
        }
        let local = addrs.iter().map(|a| IpKey::from(a.addr)).collect();
        let local_on = addrs
            .iter()
            .map(|a| (a.port, IpKey::from(a.addr)))
            .collect();
        NetSnapshot {
            generation,
            ports,
            port_index,
            addrs,
            local,
            local_on,
            routes: Arc::new(routes),
            neigh,
        }
    }

    /// The port of `id`.
    #[inline]
    pub fn port(&self, id: u16) -> Option<&PortInfo> {
        let i = *self.port_index.get(usize::from(id))?;
        self.ports.get(usize::from(i))
    }

    /// True if `addr` is one of the local addresses (on any port).
    #[inline]
    pub fn is_local(&self, addr: IpAddr) -> bool {
        self.local.contains(&IpKey::from(addr))
    }

    /// True if `addr` is a local address on `port`.
    #[inline]
    pub fn local_on(&self, port: u16, addr: IpAddr) -> bool {
        self.local_on.contains(&(port, IpKey::from(addr)))
    }

    /// The ports, in the order given.
    pub fn ports(&self) -> &[PortInfo] {
        &self.ports
    }

    /// The local addresses, in the order given.
    pub fn addrs(&self) -> &[LocalAddr] {
        &self.addrs
    }

    /// The routing table.
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// The neighbour table.
    pub fn neighbours(&self) -> &NeighTable {
        &self.neigh
    }

    /// The same snapshot with another generation and neighbour table (neighbours change far
    /// more often than the rest); the route table is shared, not copied.
    pub fn with_neighbours(&self, generation: u64, neigh: NeighTable) -> NetSnapshot {
        NetSnapshot {
            generation,
            neigh,
            ..self.clone_without_neighbours()
        }
    }

    fn clone_without_neighbours(&self) -> NetSnapshot {
        NetSnapshot {
            generation: self.generation,
            ports: self.ports.clone(),
            port_index: self.port_index.clone(),
            addrs: self.addrs.clone(),
            local: self.local.clone(),
            local_on: self.local_on.clone(),
            routes: self.routes.clone(),
            neigh: NeighTable::new(),
        }
    }

    /// The source address for a packet we originate to `dst` out of `port` (an ARP request
    /// or a neighbour solicitation for a next hop), as Linux's `inet_select_addr`: a local
    /// address of `dst`'s family on `port` whose prefix contains `dst`, else the first one
    /// of that family on `port`; `None` if the port has none.
    pub fn source_addr(&self, port: u16, dst: IpAddr) -> Option<IpAddr> {
        let mut on_port = self
            .addrs
            .iter()
            .filter(|a| a.port == port && a.addr.is_ipv4() == dst.is_ipv4());
        let first = on_port.clone().next()?;
        let within = on_port.find(|a| Route::net(a.addr, a.len, port).contains_masked(dst));
        Some(within.unwrap_or(first).addr)
    }

    /// A usable neighbour entry of `addr` on `port`.
    #[inline]
    fn neighbour_on(&self, addr: IpAddr, port: u16) -> Option<&Neigh> {
        self.neigh
            .get(addr)
            .filter(|n| n.usable() && n.port == port)
    }

    /// Route lookup, then neighbour lookup of the gateway (or of `dst` for an on-link
    /// route). A stale entry is used (Linux sends on it and re-probes); an incomplete one,
    /// or one learned on another port, is [`Resolution::Unresolved`]. Allocation-free.
    #[inline]
    pub fn resolve(&self, dst: IpAddr) -> Resolution {
        let Some(r) = self.routes.lookup(dst) else {
            return Resolution::NoRoute;
        };
        if r.kind == RouteKind::Local {
            return Resolution::Local;
        }
        let Some(port) = self.port(r.port) else {
            return Resolution::NoRoute;
        };
        let gateway = r.via.unwrap_or(dst);
        match self.neighbour_on(gateway, r.port) {
            Some(n) => Resolution::Hop(NextHop {
                port: r.port,
                src_mac: port.mac,
                dst_mac: n.mac,
                mtu: port.mtu,
            }),
            None => Resolution::Unresolved {
                gateway,
                port: r.port,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::route::Route;

    pub(crate) const MAC0: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x10]);
    const MAC1: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x11]);
    const GW: EthernetAddress = EthernetAddress([0x52, 0x54, 0, 0, 0, 0xfe]);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn snap() -> NetSnapshot {
        let ports = vec![
            PortInfo {
                id: 0,
                name: "dpdk0".into(),
                mac: MAC0,
                mtu: 1500,
            },
            PortInfo {
                id: 3,
                name: "dpdk3".into(),
                mac: MAC1,
                mtu: 9000,
            },
        ];
        let addrs = vec![
            LocalAddr {
                addr: ip("10.0.0.1"),
                len: 24,
                port: 0,
            },
            LocalAddr {
                addr: ip("2001:db8::1"),
                len: 64,
                port: 3,
            },
        ];
        let mut routes = RouteTable::new();
        for a in &addrs {
            routes.insert_addr(a.addr, a.len, a.port).unwrap();
        }
        routes
            .insert(Route::via(ip("0.0.0.0"), 0, 0, ip("10.0.0.254")))
            .unwrap();
        routes.insert(Route::net(ip("192.168.0.0"), 16, 7)).unwrap(); // no such port
        let mut neigh = NeighTable::new();
        neigh.learn(ip("10.0.0.254"), GW, 0, 0);
        neigh.learn(ip("2001:db8::9"), GW, 0, 0); // learned on the wrong port
        neigh.insert_incomplete(ip("10.0.0.7"), 0, 0);
        NetSnapshot::new(7, ports, addrs, routes, neigh)
    }

    #[test]
    fn lookups() {
        let s = snap();
        assert_eq!(s.generation, 7);
        assert_eq!(s.port(3).unwrap().name, "dpdk3");
        assert!(s.port(1).is_none() && s.port(4).is_none() && s.port(u16::MAX).is_none());
        assert!(s.is_local(ip("10.0.0.1")) && s.is_local(ip("2001:db8::1")));
        assert!(!s.is_local(ip("10.0.0.2")));
        assert!(s.local_on(0, ip("10.0.0.1")) && !s.local_on(3, ip("10.0.0.1")));
        assert_eq!(
            (s.ports().len(), s.addrs().len(), s.neighbours().len()),
            (2, 2, 3)
        );
        assert_eq!(s.routes().len(), 6);
        let hop = NextHop {
            port: 0,
            src_mac: MAC0,
            dst_mac: GW,
            mtu: 1500,
        };
        assert_eq!(s.resolve(ip("8.8.8.8")), Resolution::Hop(hop));
        assert_eq!(s.resolve(ip("10.0.0.1")), Resolution::Local);
        assert_eq!(
            s.resolve(ip("10.0.0.7")),
            Resolution::Unresolved {
                gateway: ip("10.0.0.7"),
                port: 0
            }
        );
        assert_eq!(s.resolve(ip("192.168.1.1")), Resolution::NoRoute);
        assert_eq!(
            s.resolve(ip("2001:db8::9")),
            Resolution::Unresolved {
                gateway: ip("2001:db8::9"),
                port: 3
            }
        );
        assert_eq!(s.resolve(ip("2002::1")), Resolution::NoRoute);
        assert_eq!(
            NetSnapshot::default().resolve(ip("10.0.0.1")),
            Resolution::NoRoute
        );
    }

    #[test]
    fn source_and_new_neighbours() {
        let mut s = snap();
        let mut addrs = s.addrs().to_vec();
        addrs.push(LocalAddr {
            addr: ip("192.168.7.1"),
            len: 24,
            port: 0,
        });
        s = NetSnapshot::new(
            8,
            s.ports().to_vec(),
            addrs,
            s.routes().clone(),
            NeighTable::new(),
        );
        assert_eq!(s.source_addr(0, ip("192.168.7.9")), Some(ip("192.168.7.1")));
        assert_eq!(s.source_addr(0, ip("10.0.0.254")), Some(ip("10.0.0.1")));
        assert_eq!(s.source_addr(0, ip("172.16.0.1")), Some(ip("10.0.0.1")));
        assert_eq!(s.source_addr(3, ip("2001:db8::9")), Some(ip("2001:db8::1")));
        assert_eq!(s.source_addr(3, ip("10.0.0.9")), None);
        assert_eq!(s.source_addr(1, ip("10.0.0.9")), None);
        let mut neigh = NeighTable::new();
        neigh.learn(ip("10.0.0.254"), GW, 0, 0);
        assert_eq!(
            s.resolve(ip("8.8.8.8")),
            Resolution::Unresolved {
                gateway: ip("10.0.0.254"),
                port: 0
            }
        );
        let s2 = s.with_neighbours(9, neigh);
        assert_eq!(s2.generation, 9);
        assert_eq!(s2.addrs(), s.addrs());
        assert!(matches!(s2.resolve(ip("8.8.8.8")), Resolution::Hop(_)));
        assert!(s2.is_local(ip("192.168.7.1")));
        assert!(Arc::ptr_eq(&s.routes, &s2.routes));
    }

    #[test]
    fn send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<NetSnapshot>();
        check::<RouteTable>();
        check::<NeighTable>();
    }
}
