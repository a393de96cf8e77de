//! Connection-table cost at 1M entries: a packet of an established connection (lookup hit,
//! state transition, statistics, timer), a bare lookup hit, and a new connection (lookup miss,
//! service lookup, wlc/rr pick over 16 dests, create, first transition).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use dpvs_core::conn::ConnTableConfig;
use dpvs_core::dest::Thresholds;
use dpvs_core::proto::TcpFlags;
use dpvs_core::service::{
    DestConfig, DestId, FwdMethod, Netmask, ServiceConfig, ServiceId, ServiceKey, Settings,
    Snapshot, SnapshotBuilder,
};
use dpvs_core::worker::{NoHooks, Packet, Scheduled, Worker, WorkerConfig};

const N: u32 = 1 << 20;
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn snapshot(sched: &str) -> Snapshot {
    let dests: Vec<DestConfig> = (0..16u32)
        .map(|i| DestConfig {
            id: DestId { slot: i, tag: 0 },
            addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0001 + i)),
            port: 8080,
            weight: 1 + (i % 3) as i32,
            last_weight: 1 + (i % 3) as i32,
            fwd: FwdMethod::Masq,
            thresholds: Thresholds::default(),
            available: true,
        })
        .collect();
    let mut b = SnapshotBuilder::new(1, Settings::default());
    b.add_service(
        ServiceConfig {
            id: ServiceId { slot: 0, tag: 0 },
            key: ServiceKey::Tuple {
                addr: IpAddr::V4(VIP),
                protocol: 6,
                port: 80,
            },
            sched_name: sched.into(),
            flags: 0,
            timeout_s: 300,
            netmask: Netmask::full(false),
        },
        &dests,
    )
    .expect("snapshot");
    b.build()
}

/// The `i`-th client: 16 ports per address across 100.64.0.0/10.
fn pkt(i: u32, f: TcpFlags) -> Packet {
    let addr = IpAddr::V4(Ipv4Addr::from(0x6440_0000 + (i >> 4)));
    Packet::new(6, addr, 1024 + (i & 15) as u16, IpAddr::V4(VIP), 80)
        .with_flags(f)
        .with_len(64)
}

fn filled(snap: &Snapshot) -> Worker {
    let mut w = Worker::new(
        WorkerConfig {
            table: ConnTableConfig {
                capacity: N + (N >> 2),
                ..Default::default()
            },
            ..Default::default()
        },
        snap,
        0,
    );
    for i in 0..N {
        w.process_in(snap, &pkt(i, TcpFlags::SYN), 0, &mut NoHooks)
            .expect("fill");
        w.process_in(snap, &pkt(i, TcpFlags::ACK), 0, &mut NoHooks)
            .expect("establish");
    }
    w
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("conn_1M");
    g.measurement_time(Duration::from_secs(4));
    g.sample_size(30);
    for sched in ["wlc", "rr"] {
        let snap = snapshot(sched);
        let mut w = filled(&snap);
        assert_eq!(w.table().len(), N as usize);
        // a multiplicative walk over all entries, so the cache does not help
        let mut k: u32 = 0;
        let mut now = 1u64;
        if sched == "wlc" {
            g.bench_function("established_packet", |b| {
                b.iter(|| {
                    k = k.wrapping_add(0x9e37_79b1) & (N - 1);
                    now += 1;
                    black_box(
                        w.process_in(&snap, &pkt(k, TcpFlags::ACK), now >> 4, &mut NoHooks)
                            .is_ok(),
                    )
                })
            });
            g.bench_function("lookup_hit", |b| {
                b.iter(|| {
                    k = k.wrapping_add(0x9e37_79b1) & (N - 1);
                    black_box(w.table().lookup_in(&pkt(k, TcpFlags::ACK).key()))
                })
            });
        }
        let mut fresh = N;
        g.bench_function(format!("miss_schedule_create_{sched}"), |b| {
            b.iter_custom(|iters| {
                let mut made = Vec::with_capacity(iters as usize);
                let start = Instant::now();
                for _ in 0..iters {
                    fresh = fresh.wrapping_add(1) | N;
                    if let Ok(Scheduled::Conn(c)) =
                        w.process_in(&snap, &pkt(fresh, TcpFlags::SYN), 1, &mut NoHooks)
                    {
                        made.push(c);
                    }
                }
                let t = start.elapsed();
                // back to 1M entries, untimed
                for c in made {
                    w.delete(&snap, c, 1, &mut NoHooks);
                }
                t
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
