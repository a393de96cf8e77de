//! Scheduler pick cost with 2, 16 and 256 dests.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use dpvs_core::sched::{SchedInput, IPPROTO_TCP, SCHEDULERS};
use dpvs_core::{Dest, DestCounters, SchedConfig, Scheduler, StateParams};

fn dests(n: usize) -> (Vec<Dest>, Vec<DestCounters>) {
    let d = (0..n)
        .map(|i| {
            Dest::new(
                IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i as u32 + 1)),
                80,
                1 + (i % 5) as i32,
            )
        })
        .collect();
    let c = (0..n)
        .map(|i| DestCounters {
            active: (i * 37 % 101) as u32,
            inactive: (i * 11 % 13) as u32,
            ..Default::default()
        })
        .collect();
    (d, c)
}

fn bench(c: &mut Criterion) {
    for entry in SCHEDULERS.iter() {
        let mut g = c.benchmark_group(format!("sched/{}", entry.name));
        for n in [2usize, 16, 256] {
            let (d, cnt) = dests(n);
            let s = Scheduler::new(entry.name, &d, &SchedConfig::default()).expect("build");
            let mut st = s.new_state(&StateParams::default());
            let mut k: u32 = 0;
            g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    k = k.wrapping_add(0x9e37_79b9);
                    let input = SchedInput {
                        caddr: IpAddr::V4(Ipv4Addr::from(k)),
                        cport: (k >> 16) as u16,
                        vaddr: IpAddr::V4(Ipv4Addr::from(0xc000_0200 | (k & 0xff))),
                        vport: 80,
                        protocol: IPPROTO_TCP,
                        now: Duration::from_secs(1),
                    };
                    black_box(s.pick(&mut st, black_box(&d), black_box(&cnt), &input))
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
