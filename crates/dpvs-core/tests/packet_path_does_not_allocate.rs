//! The packet path of a worker must not allocate: connection creation (plain, persistent,
//! one-packet, full-NAT), packets both ways, state changes and expiry run under an allocator
//! that counts this thread's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};

use dpvs_core::conn::ConnTableConfig;
use dpvs_core::proto::TcpFlags;
use dpvs_core::service::{
    DestConfig, DestId, FwdMethod, Netmask, Service, ServiceConfig, ServiceId, ServiceKey,
    Settings, SnapshotBuilder, IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT,
};
use dpvs_core::worker::{ConnHooks, Packet, Worker, WorkerConfig};
use dpvs_core::Thresholds;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the only addition is a
// const-initialised thread-local counter, whose access does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

struct Ports(u16);

impl ConnHooks for Ports {
    fn local_addr(&mut self, _: &Service, _: usize) -> Option<(IpAddr, u16)> {
        self.0 = self.0.wrapping_add(1).max(1024);
        Some((IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1)), self.0))
    }
}

#[test]
fn packets_schedule_and_expire_without_allocating() {
    let vip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let mut b = SnapshotBuilder::new(1, Settings::default());
    let services: [(u8, u16, u32, &str, FwdMethod); 4] = [
        (6, 80, 0, "wlc", FwdMethod::Masq),
        (6, 443, IP_VS_SVC_F_PERSISTENT, "rr", FwdMethod::DirectRoute),
        (17, 53, IP_VS_SVC_F_ONEPACKET, "sh", FwdMethod::Masq),
        (6, 8443, 0, "lblc", FwdMethod::FullNat),
    ];
    for (k, (proto, port, flags, sched, fwd)) in services.iter().enumerate() {
        let dests: Vec<DestConfig> = (0..8u32)
            .map(|i| DestConfig {
                id: DestId {
                    slot: k as u32 * 8 + i,
                    tag: 0,
                },
                addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0001 + i)),
                port: 8080,
                weight: 1 + i as i32 % 3,
                last_weight: 1,
                fwd: *fwd,
                thresholds: Thresholds {
                    upper: 50,
                    lower: 0,
                },
                available: true,
            })
            .collect();
        b.add_service(
            ServiceConfig {
                id: ServiceId {
                    slot: k as u32,
                    tag: 0,
                },
                key: ServiceKey::Tuple {
                    addr: vip,
                    protocol: *proto,
                    port: *port,
                },
                sched_name: (*sched).into(),
                flags: *flags,
                timeout_s: 30,
                netmask: Netmask::from_ipvs(false, [255, 255, 255, 0]),
            },
            &dests,
        )
        .unwrap();
    }
    let snap = b.build();
    let mut w = Worker::new(
        WorkerConfig {
            table: ConnTableConfig {
                capacity: 4096,
                ..Default::default()
            },
            ..Default::default()
        },
        &snap,
        0,
    );
    let mut hooks = Ports(0);
    let before = allocs();
    let mut now = 0u64;
    for round in 0..20u32 {
        for i in 0..200u32 {
            now += 7;
            let client = IpAddr::V4(Ipv4Addr::from(0x6440_0000 + i * 3 + round * 1000));
            for &(proto, port, _, _, fwd) in &services {
                let p = Packet::new(proto, client, 1024 + i as u16, vip, port).with_len(100);
                let _ = w.process_in(&snap, &p.with_flags(TcpFlags::SYN), now, &mut hooks);
                let _ = w.process_in(&snap, &p.with_flags(TcpFlags::ACK), now, &mut hooks);
                if fwd == FwdMethod::Masq {
                    let reply = Packet::new(
                        proto,
                        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                        8080,
                        client,
                        1024 + i as u16,
                    );
                    let _ = w.process_out(&snap, &reply.with_flags(TcpFlags::ACK), now);
                }
                let _ = w.process_in(&snap, &p.with_flags(TcpFlags::FIN_ACK), now, &mut hooks);
            }
        }
        now += 200_000;
        w.expire(&snap, now, &mut hooks);
    }
    assert!(w.table().len() < 4096);
    assert_eq!(allocs() - before, 0, "the packet path allocated");
    assert!(w.service_stats(0).conns > 0 && w.service_stats(3).conns > 0);
}
