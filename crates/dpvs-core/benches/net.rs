//! Route lookup cost with 10 and 10 000 routes (IPv4 and IPv6), the whole next-hop
//! resolution a forwarded packet pays (route + neighbour, [`NetRouter`]), and answering an
//! ARP request in place.
//!
//! The 10 000-route tables mix prefix lengths the way a BGP-fed table does (mostly /24 for
//! IPv4 and /48 for IPv6, some shorter and longer), so a lookup probes several lengths;
//! destinations are drawn so that about half hit a specific route and the rest fall back to
//! the default route (the longest walk).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dpvs_core::net::{
    arp_request, handle_local, NeighTable, NetRouter, NetSnapshot, PortInfo, ResolveQueue, Route,
    RouteTable,
};
use dpvs_core::pipeline::Router;
use dpvs_wire::EthernetAddress;

/// A deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn v4_len(r: &mut Rng) -> u8 {
    match r.next() % 100 {
        0..=59 => 24,
        60..=79 => 16 + (r.next() % 8) as u8,
        80..=94 => 25 + (r.next() % 8) as u8,
        _ => 8 + (r.next() % 8) as u8,
    }
}

fn v6_len(r: &mut Rng) -> u8 {
    match r.next() % 100 {
        0..=59 => 48,
        60..=79 => 29 + (r.next() % 19) as u8,
        80..=94 => 49 + (r.next() % 16) as u8,
        _ => 128,
    }
}

/// `n` routes of one family plus a default route; returns the table and the prefixes.
fn table(n: usize, v6: bool) -> (RouteTable, Vec<IpAddr>) {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut t = RouteTable::new();
    let mut prefixes = Vec::new();
    let (any, gw) = if v6 {
        (
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            "fe80::1".parse().unwrap(),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            "10.0.0.254".parse().unwrap(),
        )
    };
    t.insert(Route::via(any, 0, 0, gw)).unwrap();
    while t.len() < n + 1 {
        let (prefix, len) = if v6 {
            let len = v6_len(&mut r);
            // Inside 2000::/3, masked to the length.
            let a = (u128::from(r.next()) << 64 | u128::from(r.next())) >> 3 | 1u128 << 125;
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            (IpAddr::V6(Ipv6Addr::from(a & m)), len)
        } else {
            let len = v4_len(&mut r);
            let a = r.next() as u32;
            let m = u32::MAX << (32 - u32::from(len));
            (IpAddr::V4(Ipv4Addr::from(a & m)), len)
        };
        if t.insert(Route::via(prefix, len, 0, gw)).is_ok() {
            prefixes.push(prefix);
        }
    }
    (t, prefixes)
}

/// 1024 destinations: half inside a random route's prefix, half random (mostly default).
fn destinations(prefixes: &[IpAddr], v6: bool) -> Vec<IpAddr> {
    let mut r = Rng(42);
    (0..1024)
        .map(|i| {
            if i % 2 == 0 {
                match prefixes[(r.next() % prefixes.len() as u64) as usize] {
                    IpAddr::V4(p) => IpAddr::V4(Ipv4Addr::from(u32::from(p) | 1)),
                    IpAddr::V6(p) => IpAddr::V6(Ipv6Addr::from(u128::from(p) | 1)),
                }
            } else if v6 {
                IpAddr::V6(Ipv6Addr::from(
                    u128::from(r.next()) << 64 | u128::from(r.next()),
                ))
            } else {
                IpAddr::V4(Ipv4Addr::from(r.next() as u32))
            }
        })
        .collect()
}

fn lookups(c: &mut Criterion) {
    let mut g = c.benchmark_group("route_lookup");
    g.throughput(Throughput::Elements(1024));
    for v6 in [false, true] {
        for n in [10usize, 10_000] {
            let (t, prefixes) = table(n, v6);
            let dst = destinations(&prefixes, v6);
            let name = format!("{}_{}_routes", if v6 { "v6" } else { "v4" }, n);
            g.bench_function(name, |b| {
                b.iter(|| {
                    let mut hits = 0u32;
                    for d in &dst {
                        hits += u32::from(t.lookup(black_box(*d)).map_or(0, |r| r.len));
                    }
                    hits
                })
            });
        }
    }
    g.finish();
}

const PORT_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x10]);

fn snapshot(n: usize) -> (NetSnapshot, Vec<IpAddr>) {
    let (routes, prefixes) = table(n, false);
    let mut neigh = NeighTable::new();
    neigh.learn(
        "10.0.0.254".parse().unwrap(),
        EthernetAddress([0x52, 0x54, 0, 0, 0, 1]),
        0,
        0,
    );
    let ports = vec![PortInfo {
        id: 0,
        name: "dpdk0".into(),
        mac: PORT_MAC,
        mtu: 1500,
    }];
    let dst = destinations(&prefixes, false);
    (NetSnapshot::new(1, ports, Vec::new(), routes, neigh), dst)
}

fn router(c: &mut Criterion) {
    let mut g = c.benchmark_group("next_hop");
    g.throughput(Throughput::Elements(1024));
    for n in [10usize, 10_000] {
        let (snap, dst) = snapshot(n);
        let mut misses = ResolveQueue::with_capacity(64);
        g.bench_function(format!("v4_{n}_routes"), |b| {
            b.iter(|| {
                let mut r = NetRouter::new(&snap, &mut misses);
                let mut ports = 0u32;
                for d in &dst {
                    ports += r.route(black_box(*d)).map_or(0, |h| u32::from(h.mtu));
                }
                ports
            })
        });
    }
    g.finish();
}

fn arp(c: &mut Criterion) {
    let (mut snap, _) = snapshot(10);
    let addrs = vec![dpvs_core::net::LocalAddr {
        addr: "10.0.0.1".parse().unwrap(),
        len: 24,
        port: 0,
    }];
    snap = NetSnapshot::new(
        2,
        snap.ports().to_vec(),
        addrs,
        snap.routes().clone(),
        NeighTable::new(),
    );
    let mut req = [0u8; 60];
    let client = EthernetAddress([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    arp_request(
        &mut req,
        client,
        Ipv4Addr::new(10, 0, 0, 2),
        Ipv4Addr::new(10, 0, 0, 1),
    );
    let no_vip = |_: IpAddr| false;
    c.bench_function("arp_reply_in_place", |b| {
        b.iter_batched_ref(
            || req,
            |f| handle_local(black_box(f), 0, &snap, &no_vip),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, lookups, router, arp);
criterion_main!(benches);
