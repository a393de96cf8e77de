//! The dataplane part of dpvsd's configuration file: `[dataplane]`, `[eal]`, one
//! `[port.NAME]` per port, `[net]`. The file's reader (`crate::config`) hands every
//! `key = value` of these sections to [`DataplaneConfig::set`], which checks the value and
//! returns a message naming the key; the reader adds the file and line.

use std::net::IpAddr;

use dpvs_wire::EthernetAddress;

/// The default number of mbufs in the packet pool.
pub const DEFAULT_MBUFS: u32 = 16383;

/// How a port reaches its device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// DPDK's `net_af_packet` on a kernel interface (the default kind).
    Interface(String),
    /// Any other virtual device, as the EAL's `--vdev` takes it (`net_tap0,iface=x`).
    Vdev(String),
    /// A PCI device bound to a DPDK-capable driver (`0000:03:00.0`).
    Pci(String),
}

/// An address of a port (`address = "10.0.0.1/24 [sapool]"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortAddr {
    pub addr: IpAddr,
    pub len: u8,
    /// A full-NAT local address (DPVS's `dpip addr add ... sapool`).
    pub sapool: bool,
}

/// One `[port.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// The name operators use (`dpdk0`).
    pub name: String,
    /// The line of its section header (for messages).
    pub line: usize,
    pub device: Option<Device>,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub mtu: u16,
    pub promisc: bool,
    /// A kernel interface `<name>.kni` for the exception path.
    pub kni: bool,
    pub addrs: Vec<PortAddr>,
}

impl PortConfig {
    fn new(name: &str, line: usize) -> PortConfig {
        PortConfig {
            name: name.into(),
            line,
            device: None,
            rx_desc: 1024,
            tx_desc: 1024,
            mtu: 1500,
            promisc: true,
            kni: true,
            addrs: Vec::new(),
        }
    }
}

/// A static route (`route = "10.1.0.0/16 via 10.0.0.254 dev dpdk0 [src A] [metric N]"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    pub prefix: IpAddr,
    pub len: u8,
    pub via: Option<IpAddr>,
    pub dev: String,
    pub src: Option<IpAddr>,
    pub metric: u32,
}

/// A static neighbour (`neigh = "10.0.0.254 lladdr 02:00:00:00:00:01 dev dpdk0"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighConfig {
    pub addr: IpAddr,
    pub mac: EthernetAddress,
    pub dev: String,
}

/// TTL handling of forwarded packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Forward with the TTL unchanged (DPVS).
    Keep,
    /// Decrement, and drop at 1 (the kernel).
    Decrement,
}

/// Tunnel encapsulations (the kernel's `--tun-type`, for every tunnel dest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tunnel {
    Ipip,
    /// GUE to this UDP port.
    Gue(u16),
    Gre,
}

/// Everything the DPDK dataplane is told by the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataplaneConfig {
    /// Worker lcores (the control thread is one more).
    pub workers: u16,
    /// Packet buffers in the pool.
    pub mbufs: u32,
    /// Packets per rx burst.
    pub burst: u16,
    /// Connections (and templates) each worker holds at most.
    pub conn_limit: u32,
    /// The longest an idle worker sleeps between polls, microseconds (0: never sleeps).
    pub idle_sleep_us: u32,
    pub ttl: Ttl,
    /// Answer ICMP echo for VIPs.
    pub echo_reply: bool,
    /// Frames per second each worker hands the kernel at most (the exception path).
    pub kni_rate: u32,
    /// TCP TIME_WAIT of connections, seconds (`ipvsadm --set` has no key for it).
    pub tcp_time_wait: u32,
    /// Forward masquerade (`-m`) dests by full-NAT when `sapool` addresses exist.
    pub masquerade_fullnat: bool,
    /// Full-NAT: DPVS's TOA option (the client's address) in the handshake's last ACK.
    pub toa: bool,
    /// Encapsulation of tunnel (`-i`) dests.
    pub tunnel: Tunnel,
    /// Outer source addresses of tunnelled packets (one per family; default: the first
    /// address of that family with a prefix shorter than a host's).
    pub tunnel_sources: Vec<IpAddr>,
    /// EAL memory, MiB.
    pub memory_mb: u32,
    /// Use hugepages (else `--no-huge`).
    pub hugepages: bool,
    /// EAL `--file-prefix`.
    pub file_prefix: String,
    /// EAL `--lcores` (default: every lcore may run on every online CPU).
    pub lcores: Option<String>,
    /// More EAL arguments, split at white space.
    pub eal_args: Vec<String>,
    pub ports: Vec<PortConfig>,
    pub routes: Vec<RouteConfig>,
    pub neighbours: Vec<NeighConfig>,
}

impl Default for DataplaneConfig {
    fn default() -> Self {
        DataplaneConfig {
            workers: 1,
            mbufs: DEFAULT_MBUFS,
            burst: 32,
            conn_limit: 1 << 20,
            idle_sleep_us: 200,
            ttl: Ttl::Keep,
            echo_reply: true,
            kni_rate: 10_000,
            tcp_time_wait: 120,
            masquerade_fullnat: false,
            toa: true,
            tunnel: Tunnel::Ipip,
            tunnel_sources: Vec::new(),
            memory_mb: 512,
            hugepages: false,
            file_prefix: "dpvsd".into(),
            lcores: None,
            eal_args: Vec::new(),
            ports: Vec::new(),
            routes: Vec::new(),
            neighbours: Vec::new(),
        }
    }
}

/// The sections this module reads, for the reader's "known sections" message.
pub const SECTIONS: &str = "[dataplane], [eal], [port.NAME], [net]";

/// Whether `section` is one of this module's.
pub fn owns_section(section: &str) -> bool {
    matches!(section, "dataplane" | "eal" | "net") || port_section(section).is_some()
}

fn port_section(section: &str) -> Option<&str> {
    section.strip_prefix("port.").filter(|n| !n.is_empty())
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    key: &str,
    v: &str,
    min: T,
    max: T,
) -> Result<T, String> {
    v.parse::<T>()
        .ok()
        .filter(|n| *n >= min && *n <= max)
        .ok_or_else(|| format!("{key}: `{v}` must be a number from {min} to {max}"))
}

fn boolean(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("{key}: `{v}` is not yes or no")),
    }
}

/// `A/LEN` (LEN defaults to the full length when `default_full`).
pub fn parse_prefix(s: &str, default_full: bool) -> Result<(IpAddr, u8), String> {
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().map_err(|_| format!("`{a}` is not an IP address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match l {
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| format!("`{s}`: prefix length must be 0..{max}"))?,
        None if default_full => max,
        None => return Err(format!("`{s}` needs a prefix length (/N)")),
    };
    Ok((addr, len))
}

/// Whether `addr` has no bits set beyond its first `len`.
pub fn is_network(addr: IpAddr, len: u8) -> bool {
    dpvs_core::net::route::network(addr, len) == addr
}

fn parse_mac(s: &str) -> Result<EthernetAddress, String> {
    s.parse().map_err(|_| format!("`{s}` is not a MAC address"))
}

fn parse_route(v: &str) -> Result<RouteConfig, String> {
    let mut words = v.split_whitespace();
    let dst = words.next().ok_or("route: empty")?;
    let mut r = RouteConfig { prefix: IpAddr::from([0u8; 4]), len: 0, via: None, dev: String::new(), src: None, metric: 0 };
    while let Some(w) = words.next() {
        let arg = words.next().ok_or_else(|| format!("route {dst}: `{w}` needs a value"))?;
        let addr = |a: &str| -> Result<IpAddr, String> {
            a.parse().map_err(|_| format!("route {dst}: {w} `{a}` is not an IP address"))
        };
        match w {
            "via" => r.via = Some(addr(arg)?),
            "src" => r.src = Some(addr(arg)?),
            "dev" => r.dev = arg.into(),
            "metric" => r.metric = arg.parse().map_err(|_| format!("route {dst}: metric `{arg}` is not a number"))?,
            _ => return Err(format!("route {dst}: unknown word `{w}` (known: via, dev, src, metric)")),
        }
    }
    if dst == "default" {
        // `default` takes the family of its gateway (IPv4 without one), as `ip route` does with -4/-6
        if r.via.is_some_and(|a| a.is_ipv6()) {
            r.prefix = IpAddr::from([0u16; 8]);
        }
    } else {
        (r.prefix, r.len) = parse_prefix(dst, true).map_err(|e| format!("route {e}"))?;
    }
    if !is_network(r.prefix, r.len) {
        return Err(format!("route {dst}: host bits set beyond the prefix length"));
    }
    for (w, a) in [("via", r.via), ("src", r.src)] {
        if a.is_some_and(|a| a.is_ipv4() != r.prefix.is_ipv4()) {
            return Err(format!("route {dst}: {w} {} is not of the route's family", a.unwrap_or(r.prefix)));
        }
    }
    if r.dev.is_empty() {
        return Err(format!("route {dst}: needs `dev PORT`"));
    }
    Ok(r)
}

fn parse_neigh(v: &str) -> Result<NeighConfig, String> {
    let mut words = v.split_whitespace();
    let a = words.next().ok_or("neigh: empty")?;
    let addr: IpAddr = a.parse().map_err(|_| format!("neigh: `{a}` is not an IP address"))?;
    let (mut mac, mut dev) = (None, None);
    while let Some(w) = words.next() {
        let arg = words.next().ok_or_else(|| format!("neigh {a}: `{w}` needs a value"))?;
        match w {
            "lladdr" => mac = Some(parse_mac(arg).map_err(|e| format!("neigh {a}: {e}"))?),
            "dev" => dev = Some(arg.to_string()),
            _ => return Err(format!("neigh {a}: unknown word `{w}` (known: lladdr, dev)")),
        }
    }
    Ok(NeighConfig {
        addr,
        mac: mac.ok_or_else(|| format!("neigh {a}: needs `lladdr MAC`"))?,
        dev: dev.ok_or_else(|| format!("neigh {a}: needs `dev PORT`"))?,
    })
}

fn parse_port_addr(v: &str) -> Result<PortAddr, String> {
    let mut words = v.split_whitespace();
    let a = words.next().ok_or("address: empty")?;
    let (addr, len) = parse_prefix(a, true).map_err(|e| format!("address {e}"))?;
    let mut pa = PortAddr { addr, len, sapool: false };
    for w in words {
        match w {
            "sapool" => pa.sapool = true,
            _ => return Err(format!("address {a}: unknown flag `{w}` (known: sapool)")),
        }
    }
    Ok(pa)
}

impl DataplaneConfig {
    /// Opens section `[section]` at `line` (a port section starts a new port).
    pub fn open_section(&mut self, section: &str, line: usize) -> Result<(), String> {
        if let Some(name) = port_section(section) {
            if self.ports.iter().any(|p| p.name == name) {
                return Err(format!("[port.{name}] appears twice"));
            }
            self.ports.push(PortConfig::new(name, line));
        }
        Ok(())
    }

    /// Takes `key = value` of section `section`.
    pub fn set(&mut self, section: &str, key: &str, v: &str) -> Result<(), String> {
        if port_section(section).is_some() {
            let p = self.ports.last_mut().expect("open_section made the port");
            return match key {
                "interface" => set_device(p, Device::Interface(v.into())),
                "vdev" => set_device(p, Device::Vdev(v.into())),
                "pci" => set_device(p, Device::Pci(v.into())),
                "rx_desc" => number(key, v, 64, 16384).map(|n| p.rx_desc = n),
                "tx_desc" => number(key, v, 64, 16384).map(|n| p.tx_desc = n),
                "mtu" => number(key, v, 576, 9000).map(|n| p.mtu = n),
                "promisc" => boolean(key, v).map(|b| p.promisc = b),
                "kni" => boolean(key, v).map(|b| p.kni = b),
                "address" => {
                    let a = parse_port_addr(v)?;
                    if p.addrs.iter().any(|x| x.addr == a.addr) {
                        return Err(format!("address {}: given twice", a.addr));
                    }
                    p.addrs.push(a);
                    Ok(())
                }
                _ => Err(format!(
                    "unknown key `{key}` in [{section}] (known: interface, vdev, pci, rx_desc, tx_desc, mtu, promisc, kni, address)"
                )),
            };
        }
        match (section, key) {
            ("dataplane", "workers") => number(key, v, 1, 64).map(|n| self.workers = n),
            ("dataplane", "mbufs") => number(key, v, 1023, 1 << 24).map(|n| self.mbufs = n),
            ("dataplane", "burst") => number(key, v, 1, 256).map(|n| self.burst = n),
            ("dataplane", "conn_limit") => number(key, v, 1024, 1 << 27).map(|n| self.conn_limit = n),
            ("dataplane", "idle_sleep_us") => number(key, v, 0, 100_000).map(|n| self.idle_sleep_us = n),
            ("dataplane", "ttl") => {
                self.ttl = match v {
                    "keep" => Ttl::Keep,
                    "decrement" => Ttl::Decrement,
                    _ => return Err(format!("ttl: `{v}` is not keep or decrement")),
                };
                Ok(())
            }
            ("dataplane", "tunnel") => {
                self.tunnel = match v.split_once(':') {
                    None if v == "ipip" => Tunnel::Ipip,
                    None if v == "gre" => Tunnel::Gre,
                    Some(("gue", port)) => Tunnel::Gue(number("tunnel gue port", port, 1, u16::MAX)?),
                    _ => return Err(format!("tunnel: `{v}` is not ipip, gre or gue:PORT")),
                };
                Ok(())
            }
            ("dataplane", "tunnel_source") => {
                let a: IpAddr = v.parse().map_err(|_| format!("tunnel_source: `{v}` is not an IP address"))?;
                if self.tunnel_sources.iter().any(|x| x.is_ipv4() == a.is_ipv4()) {
                    return Err(format!("tunnel_source: {v}: one address per family"));
                }
                self.tunnel_sources.push(a);
                Ok(())
            }
            ("dataplane", "tcp_time_wait") => number(key, v, 1, 3600).map(|n| self.tcp_time_wait = n),
            ("dataplane", "kni_rate") => number(key, v, 1, 10_000_000).map(|n| self.kni_rate = n),
            ("dataplane", "echo_reply") => boolean(key, v).map(|b| self.echo_reply = b),
            ("dataplane", "toa") => boolean(key, v).map(|b| self.toa = b),
            ("dataplane", "masquerade_fullnat") => boolean(key, v).map(|b| self.masquerade_fullnat = b),
            ("eal", "memory") => number(key, v, 64, 1 << 20).map(|n| self.memory_mb = n),
            ("eal", "hugepages") => boolean(key, v).map(|b| self.hugepages = b),
            ("eal", "file_prefix") => {
                if v.is_empty() || v.contains('/') {
                    return Err(format!("file_prefix: `{v}` must be a non-empty name without `/`"));
                }
                self.file_prefix = v.into();
                Ok(())
            }
            ("eal", "lcores") => {
                self.lcores = Some(v.into());
                Ok(())
            }
            ("eal", "args") => {
                self.eal_args = v.split_whitespace().map(String::from).collect();
                Ok(())
            }
            ("net", "route") => parse_route(v).map(|r| self.routes.push(r)),
            ("net", "neigh") => parse_neigh(v).map(|n| self.neighbours.push(n)),
            (s, k) => Err(format!("unknown key `{k}` in [{s}]")),
        }
    }

    /// Checks what single keys cannot: every port has a device, names referenced exist.
    /// Returns `(line, message)`; line 0 is the file as a whole.
    pub fn check(&self) -> Result<(), (usize, String)> {
        if self.ports.is_empty() {
            return Err((0, "the dataplane sections need at least one [port.NAME]".into()));
        }
        for p in &self.ports {
            if p.device.is_none() {
                return Err((p.line, format!("[port.{}] needs one of interface, vdev, pci", p.name)));
            }
        }
        for r in &self.routes {
            if !self.ports.iter().any(|p| p.name == r.dev) {
                return Err((0, format!("route {}/{}: no port named `{}`", r.prefix, r.len, r.dev)));
            }
        }
        for n in &self.neighbours {
            if !self.ports.iter().any(|p| p.name == n.dev) {
                return Err((0, format!("neigh {}: no port named `{}`", n.addr, n.dev)));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.ports {
            for a in &p.addrs {
                if !seen.insert(a.addr) {
                    return Err((p.line, format!("address {}: on two ports", a.addr)));
                }
            }
        }
        Ok(())
    }

    /// The outer source of tunnelled packets for a family.
    pub fn tunnel_source(&self, v6: bool) -> Option<IpAddr> {
        self.tunnel_sources.iter().copied().find(|a| a.is_ipv6() == v6).or_else(|| {
            self.ports
                .iter()
                .flat_map(|p| &p.addrs)
                .find(|a| a.addr.is_ipv6() == v6 && a.len < if v6 { 128 } else { 32 } && !a.sapool)
                .map(|a| a.addr)
        })
    }

    /// Which changes from `self` to `new` need a restart (EAL, lcores, ports' devices and
    /// rings, pool and table sizes); the rest a SIGHUP applies.
    pub fn restart_needed(&self, new: &DataplaneConfig) -> Vec<&'static str> {
        let mut v = Vec::new();
        let ports = |c: &DataplaneConfig| {
            c.ports.iter().map(|p| (p.name.clone(), p.device.clone(), p.rx_desc, p.tx_desc, p.mtu, p.promisc, p.kni)).collect::<Vec<_>>()
        };
        if self.workers != new.workers {
            v.push("dataplane.workers");
        }
        if self.mbufs != new.mbufs {
            v.push("dataplane.mbufs");
        }
        if self.conn_limit != new.conn_limit {
            v.push("dataplane.conn_limit");
        }
        if (self.ttl, self.echo_reply, self.toa, self.kni_rate, self.tunnel, self.tunnel_source(false), self.tunnel_source(true))
            != (new.ttl, new.echo_reply, new.toa, new.kni_rate, new.tunnel, new.tunnel_source(false), new.tunnel_source(true))
        {
            v.push("dataplane.ttl, echo_reply, toa, kni_rate or tunnel settings");
        }
        if (self.memory_mb, self.hugepages, &self.file_prefix, &self.lcores, &self.eal_args)
            != (new.memory_mb, new.hugepages, &new.file_prefix, &new.lcores, &new.eal_args)
        {
            v.push("[eal]");
        }
        if ports(self) != ports(new) {
            v.push("[port.*] devices, rings, mtu, promisc or kni");
        }
        v
    }
}

fn set_device(p: &mut PortConfig, d: Device) -> Result<(), String> {
    if p.device.is_some() {
        return Err(format!("[port.{}] has two devices (give one of interface, vdev, pci)", p.name));
    }
    p.device = Some(d);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = parse_route("10.1.0.0/16 via 10.0.0.254 dev dpdk0 metric 5").unwrap();
        assert_eq!((r.len, r.metric, r.dev.as_str()), (16, 5, "dpdk0"));
        assert_eq!(r.via, Some("10.0.0.254".parse().unwrap()));
        assert_eq!(parse_route("default via 10.0.0.1 dev p").unwrap().len, 0);
        assert_eq!(parse_route("10.0.0.0/33 dev p").unwrap_err(), "route `10.0.0.0/33`: prefix length must be 0..32");
        assert_eq!(parse_route("10.0.0.1/24 dev p").unwrap_err(), "route 10.0.0.1/24: host bits set beyond the prefix length");
        assert_eq!(parse_route("10.0.0.0/24").unwrap_err(), "route 10.0.0.0/24: needs `dev PORT`");
        assert!(parse_route("10.0.0.0/24 via fe80::1 dev p").unwrap_err().contains("not of the route's family"));
        assert!(parse_route("fd00::/64 dev p").is_ok());
        let r = parse_route("default via fd00::1 dev p").unwrap();
        assert_eq!((r.prefix, r.len), ("::".parse().unwrap(), 0));
        assert!(is_network("::".parse().unwrap(), 0) && !is_network("::1".parse().unwrap(), 0));
        assert!(is_network("10.0.0.0".parse().unwrap(), 8) && !is_network("10.0.0.1".parse().unwrap(), 31));
    }

    #[test]
    fn addresses_and_neighbours() {
        let a = parse_port_addr("10.90.2.3/24 sapool").unwrap();
        assert!(a.sapool && a.len == 24);
        assert_eq!(parse_port_addr("10.90.2.3").unwrap().len, 32);
        assert!(parse_port_addr("10.90.2.3/24 bogus").unwrap_err().contains("unknown flag `bogus`"));
        let n = parse_neigh("10.0.0.1 lladdr 02:00:00:00:00:0a dev dpdk0").unwrap();
        assert_eq!(n.mac, EthernetAddress([2, 0, 0, 0, 0, 10]));
        assert!(parse_neigh("10.0.0.1 dev dpdk0").unwrap_err().contains("lladdr"));
    }

    #[test]
    fn port_sections() {
        let mut c = DataplaneConfig::default();
        c.open_section("port.dpdk0", 3).unwrap();
        c.set("port.dpdk0", "interface", "veth0").unwrap();
        assert!(c.set("port.dpdk0", "vdev", "net_tap0").unwrap_err().contains("two devices"));
        assert!(c.set("port.dpdk0", "rx_desc", "10").unwrap_err().starts_with("rx_desc: `10` must be a number from 64"));
        assert_eq!(c.open_section("port.dpdk0", 9).unwrap_err(), "[port.dpdk0] appears twice");
        c.routes.push(parse_route("10.9.0.0/16 dev dpdk9").unwrap());
        assert_eq!(c.check().unwrap_err().1, "route 10.9.0.0/16: no port named `dpdk9`");
    }

    #[test]
    fn restart_or_reload() {
        let mut a = DataplaneConfig::default();
        a.open_section("port.p", 1).unwrap();
        a.set("port.p", "interface", "x").unwrap();
        let mut b = a.clone();
        b.routes.push(parse_route("10.0.0.0/8 dev p").unwrap());
        assert!(a.restart_needed(&b).is_empty());
        b.workers = 2;
        assert_eq!(a.restart_needed(&b), vec!["dataplane.workers"]);
    }
}
