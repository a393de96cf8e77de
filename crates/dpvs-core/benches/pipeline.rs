//! Per-packet cost of the whole pipeline (`Pipeline::process`: parse, classify, connection
//! lookup or scheduling, state transition, statistics, full-NAT rewrite), against a bare
//! "copy the frame, swap the MACs" loop over the same buffer, and the memory a connection
//! costs.
//!
//! - `established/fullnat_v4`: one established full-NAT TCP flow, client to server, hot.
//! - `new_conn/fullnat_v4`: every packet a new connection (SYN from a new client port: miss,
//!   schedule with `wlc` over 8 dests, local address and port, insert). The table is emptied
//!   outside the timed loop every 400 000 connections.
//! - `baseline/swap_macs`: the frame copy every case does, plus a MAC swap.
//! - `parts/worker_process_in`, `parts/fullnat_xmit`: the two big steps of the established
//!   case alone (the worker's connection step; the copy and the full-NAT transform), so the
//!   pipeline's own share is the difference.
//!
//! Each iteration copies the received frame into the same buffer first, so every case does
//! the same copy and the difference to the baseline is the pipeline's own cost.
//!
//! Memory is printed: bytes per entry, per-connection index overhead, and the table for
//! 8 million connections.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use dpvs_core::conn::{ConnTable, ConnTableConfig, ENTRY_BYTES};
use dpvs_core::pipeline::{
    build_probe, FiveTuple, LocalAddrPool, NextHop, Pipeline, PipelineConfig, Verdict,
};
use dpvs_core::proto::TcpFlags;
use dpvs_core::service::{
    DestConfig, DestId, FwdMethod, Netmask, ServiceConfig, ServiceId, ServiceKey, Settings,
    Snapshot, SnapshotBuilder,
};
use dpvs_core::worker::{Packet, Worker, WorkerConfig};
use dpvs_core::xmit::{fullnat, Direction, Egress, Endpoint, Flow, SliceBuf, TtlPolicy};
use dpvs_core::Thresholds;
use dpvs_wire::{ipv4, tcp, EthernetAddress};

const HEADROOM: usize = 64;
const BUF: usize = 256;
const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
/// Connections per timed chunk of the new-connection case (below the local ports: 16 × ~64k).
const CHUNK: u64 = 400_000;

fn snapshot() -> Snapshot {
    let mut b = SnapshotBuilder::new(1, Settings::default());
    let dests: Vec<DestConfig> = (0..8u8)
        .map(|i| DestConfig {
            id: DestId {
                slot: i as u32,
                tag: 0,
            },
            addr: IpAddr::V4(Ipv4Addr::new(172, 16, 0, 10 + i)),
            port: 8080,
            weight: 1 + i as i32 % 3,
            last_weight: 1,
            fwd: FwdMethod::FullNat,
            thresholds: Thresholds::default(),
            available: true,
        })
        .collect();
    b.add_service(
        ServiceConfig {
            id: ServiceId { slot: 0, tag: 0 },
            key: ServiceKey::Tuple {
                addr: IpAddr::V4(VIP),
                protocol: 6,
                port: 80,
            },
            sched_name: "wlc".into(),
            flags: 0,
            timeout_s: 300,
            netmask: Netmask::full(false),
        },
        &dests,
    )
    .unwrap();
    b.build()
}

fn pool() -> LocalAddrPool {
    let lips: Vec<IpAddr> = (1..=16u8)
        .map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 1, i)))
        .collect();
    LocalAddrPool::new(&lips, 1024..=65535, 0, 1)
}

fn hop() -> NextHop {
    NextHop {
        port: 1,
        src_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_mac: EthernetAddress([0x52, 0x54, 0, 0xab, 0xcd, 0xef]),
        mtu: 1500,
    }
}

fn pipeline(snap: &Snapshot, capacity: u32) -> Pipeline {
    let mut cfg = PipelineConfig::default();
    cfg.worker.table = ConnTableConfig {
        capacity,
        ..Default::default()
    };
    cfg.ttl = TtlPolicy::Decrement;
    Pipeline::new(cfg, snap, 0)
}

/// A client frame (TCP with `flags` and a 64-byte payload) at `HEADROOM`; its length.
fn client_frame(sport: u16, flags: u8, payload: usize) -> ([u8; BUF], usize) {
    let t = FiveTuple {
        protocol: 6,
        src: IpAddr::V4(CLIENT),
        sport,
        dst: IpAddr::V4(VIP),
        dport: 80,
    };
    let mut buf = [0u8; BUF];
    let len = build_probe(&t, &mut buf[HEADROOM..]).unwrap();
    // grow by the payload and set the flags, then refill the checksums
    let len = len + payload;
    {
        let f = &mut buf[HEADROOM..HEADROOM + len];
        f[14 + 20 + 20..].fill(0x5a);
        let mut ip = ipv4::Packet::new_unchecked(&mut f[14..]);
        ip.set_total_len((len - 14) as u16);
        ip.fill_checksum();
        f[14 + 20 + 13] = flags;
        tcp::Packet::new_unchecked(&mut f[34..])
            .fill_checksum(IpAddr::V4(CLIENT), IpAddr::V4(VIP))
            .unwrap();
    }
    (buf, len)
}

fn process(
    pl: &mut Pipeline,
    snap: &Snapshot,
    buf: &mut [u8; BUF],
    len: usize,
    now: u64,
    pool: &mut LocalAddrPool,
) -> Verdict {
    let mut b = SliceBuf::new(buf, HEADROOM, len).unwrap();
    pl.process(snap, &mut b, now, 0, &mut hop(), pool)
}

fn bench(c: &mut Criterion) {
    let snap = snapshot();
    let mut g = c.benchmark_group("pipeline");

    // (c) the baseline: the same copy, then a MAC swap
    let (rx, len) = client_frame(40000, 0x18, 64);
    let mut buf = [0u8; BUF];
    g.bench_function("baseline/swap_macs", |b| {
        b.iter(|| {
            buf[..HEADROOM + len].copy_from_slice(&rx[..HEADROOM + len]);
            let f = &mut buf[HEADROOM..HEADROOM + len];
            let (a, m) = f.split_at_mut(6);
            a.swap_with_slice(&mut m[..6]);
            black_box(&mut buf);
        })
    });

    // (a) one established full-NAT flow
    {
        let mut pl = pipeline(&snap, 1 << 16);
        let mut pool = pool();
        let (mut syn, sl) = client_frame(40000, 0x02, 0);
        assert!(matches!(
            process(&mut pl, &snap, &mut syn, sl, 1, &mut pool),
            Verdict::Forward { .. }
        ));
        let (mut ack, al) = client_frame(40000, 0x10, 0);
        assert!(matches!(
            process(&mut pl, &snap, &mut ack, al, 2, &mut pool),
            Verdict::Forward { .. }
        ));
        let mut now = 3;
        g.bench_function("established/fullnat_v4", |b| {
            b.iter(|| {
                buf[..HEADROOM + len].copy_from_slice(&rx[..HEADROOM + len]);
                now += 1;
                let v = process(&mut pl, &snap, &mut buf, len, now >> 10, &mut pool);
                black_box(v);
            })
        });
        assert_eq!(pl.counters().forwarded, pl.counters().rx);
    }

    // the parts of (a), for the breakdown: the worker's connection step alone, and the
    // full-NAT transform alone (with the same copy), on the same hot flow
    {
        let mut w = Worker::new(
            WorkerConfig {
                table: ConnTableConfig {
                    capacity: 1 << 16,
                    ..Default::default()
                },
                ..Default::default()
            },
            &snap,
            0,
        );
        let mut pool = pool();
        let p = Packet::new(6, IpAddr::V4(CLIENT), 40000, IpAddr::V4(VIP), 80).with_len(84);
        w.process_in(&snap, &p.with_flags(TcpFlags::SYN), 1, &mut pool)
            .unwrap();
        let ack = p.with_flags(TcpFlags::ACK);
        let mut now = 3;
        g.bench_function("parts/worker_process_in", |b| {
            b.iter(|| {
                now += 1;
                black_box(
                    w.process_in(&snap, black_box(&ack), now >> 10, &mut pool)
                        .is_ok(),
                );
            })
        });
        let c = w.table().lookup_in(&ack.key()).unwrap();
        let conn = w.table().get(c);
        let flow = Flow {
            client: Endpoint::new(conn.caddr(), conn.cport()),
            vip: Endpoint::new(conn.vaddr(), conn.vport()),
            local: conn.laddr().map(|(a, p)| Endpoint::new(a, p)),
            real: Endpoint::new(conn.daddr(), conn.dport()),
        };
        let h = hop();
        let egress = Egress {
            src_mac: h.src_mac,
            dst_mac: h.dst_mac,
            mtu: h.mtu,
            ttl: TtlPolicy::Decrement,
        };
        g.bench_function("parts/fullnat_xmit", |b| {
            b.iter(|| {
                buf[..HEADROOM + len].copy_from_slice(&rx[..HEADROOM + len]);
                let r = fullnat::xmit(
                    &mut buf[HEADROOM..HEADROOM + len],
                    black_box(&flow),
                    Direction::In,
                    &egress,
                    None,
                );
                black_box(r.is_ok());
            })
        });
    }

    // (b) a new connection per packet
    {
        let mut pl = pipeline(&snap, 1 << 20);
        let mut pool = pool();
        let (tmpl, sl) = client_frame(0, 0x02, 0);
        let mut now = 1u64;
        let mut seq = 0u64;
        g.bench_function("new_conn/fullnat_v4", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(CHUNK);
                    let start = Instant::now();
                    for _ in 0..n {
                        buf[..HEADROOM + sl].copy_from_slice(&tmpl[..HEADROOM + sl]);
                        seq += 1;
                        // a new client port, and a new client address every 60000 ports
                        // (the IPv4 header checksum is kept right incrementally)
                        let f = &mut buf[HEADROOM..];
                        let port = 1024 + (seq % 60000) as u16;
                        f[34..36].copy_from_slice(&port.to_be_bytes());
                        let hi = ((seq / 60000) & 0xffff) as u16;
                        f[28..30].copy_from_slice(&hi.to_be_bytes());
                        let old = u16::from_be_bytes([f[24], f[25]]);
                        let c = dpvs_wire::checksum::update_u16(old, 0x010a, hi);
                        f[24..26].copy_from_slice(&c.to_be_bytes());
                        now += 1;
                        let v = process(&mut pl, &snap, &mut buf, sl, now >> 10, &mut pool);
                        black_box(v);
                    }
                    total += start.elapsed();
                    left -= n;
                    // empty the table (and give the ports back) outside the timing
                    now += 10_000_000 << 10;
                    pl.expire(&snap, now >> 10, usize::MAX, &mut pool);
                }
                total
            })
        });
        assert_eq!(pl.check_counters(), Ok(()), "every packet counted");
        let c = pl.counters();
        assert_eq!(c.forwarded, c.rx, "every SYN forwarded: {c:?}");
    }
    g.finish();

    // (d) memory per connection
    let t = ConnTable::new(
        ConnTableConfig {
            capacity: 1 << 20,
            ..Default::default()
        },
        0,
    );
    let per = t.memory_bytes() as f64 / t.capacity() as f64;
    let eight_m = 8u64 << 20;
    let wheel = ConnTableConfig::default().wheel_slots as u64 * 4;
    let at_8m = eight_m * ENTRY_BYTES as u64 + 2 * 4 * eight_m + wheel;
    println!(
        "memory: entry {} B, index 2 x 4 B per bucket (one bucket per entry), {:.1} B per \
         connection with the wheel at 1M entries; 8M connections: {} bytes = {:.2} GiB",
        ENTRY_BYTES,
        per,
        at_8m,
        at_8m as f64 / (1u64 << 30) as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
