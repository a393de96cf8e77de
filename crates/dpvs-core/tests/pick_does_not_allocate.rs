//! `Scheduler::pick` must not allocate: every scheduler, after its state exists, is driven
//! through many picks under an allocator that counts this thread's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use dpvs_core::sched::{SchedInput, IPPROTO_TCP, SCHEDULERS};
use dpvs_core::{Dest, DestCounters, SchedConfig, Scheduler, StateParams};

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

fn run(v6: bool) {
    let b = allocs();
    std::hint::black_box(vec![0u8; 16]);
    assert!(allocs() > b, "the counting allocator counts");
    let dests: Vec<Dest> = (0..16u32)
        .map(|i| {
            let addr = if v6 {
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16 + 1))
            } else {
                IpAddr::V4(Ipv4Addr::from(0x0a00_0001 + i))
            };
            Dest::new(addr, 80, 1 + (i % 4) as i32)
        })
        .collect();
    let mut counters = vec![DestCounters::default(); dests.len()];
    for e in SCHEDULERS.iter() {
        let cfg = SchedConfig {
            flags: 0x18,
            ipv6: v6,
        };
        let s = Scheduler::new(e.name, &dests, &cfg).unwrap();
        let mut st = s.new_state(&StateParams::default());
        let before = allocs();
        for k in 0..5000u32 {
            let caddr = if v6 {
                IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    1,
                    0,
                    0,
                    0,
                    (k >> 16) as u16,
                    k as u16,
                ))
            } else {
                IpAddr::V4(Ipv4Addr::from(
                    0xc633_6400u32.wrapping_add(k.wrapping_mul(977)),
                ))
            };
            let input = SchedInput {
                caddr,
                cport: k as u16,
                vaddr: IpAddr::V4(Ipv4Addr::from(0xc000_0200 + (k % 300))),
                vport: 80,
                protocol: IPPROTO_TCP,
                now: Duration::from_millis(k as u64 * 100),
            };
            if let Some(i) = s.pick(&mut st, &dests, &counters, &input) {
                counters[i].active = counters[i].active.wrapping_add(1) % 7;
            }
            if k % 1000 == 999 {
                st.expire(input.now);
            }
        }
        assert_eq!(
            allocs() - before,
            0,
            "{} allocated on the packet path",
            e.name
        );
    }
}

#[test]
fn ipv4_picks_do_not_allocate() {
    run(false);
}

#[test]
fn ipv6_picks_do_not_allocate() {
    run(true);
}
