use super::*;
use crate::service::DestId;

fn cfg(capacity: u32) -> ConnTableConfig {
    ConnTableConfig {
        capacity,
        ..Default::default()
    }
}

fn key(client: u32, cport: u16) -> ConnKey {
    ConnKey {
        protocol: 6,
        v6: false,
        src: client as u128,
        sport: cport,
        dst: 0xc000_0201,
        dport: 80,
    }
}

fn nc(k: ConnKey, fwd: FwdMethod, timeout_ms: u32) -> NewConn {
    NewConn {
        key: k,
        daddr: 0x0a00_0001,
        dest_v6: false,
        dport: 8080,
        laddr: (fwd == FwdMethod::FullNat).then_some((
            0x0a00_00fe,
            40000u16
                .wrapping_add(k.sport)
                .wrapping_add((k.src as u16) << 4),
        )),
        fwd,
        dest: DestId { slot: 0, tag: 0 },
        template: false,
        timeout_ms,
        control: None,
        one_packet: false,
    }
}

#[test]
fn entry_and_index_fit_the_memory_target() {
    // 8 million connections under 1.5 GiB: at most 192 bytes each, index included
    assert_eq!(ENTRY_BYTES, 128);
    let t = ConnTable::new(cfg(1 << 16), 0);
    let per_conn = t.memory_bytes() as f64 / t.capacity() as f64;
    assert!(per_conn <= 192.0, "{per_conn} bytes per connection");
    // at the 8M design point with the default wheel
    let buckets = 2 * 4 * (8u64 << 20);
    let total = (8u64 << 20) * ENTRY_BYTES as u64 + buckets + 4 * (1 << 14);
    assert!(total < 3 << 29, "{total} bytes for 8M connections");
}

#[test]
fn found_both_ways() {
    let mut t = ConnTable::new(cfg(16), 0);
    let nat = t
        .insert(&nc(key(1, 1000), FwdMethod::Masq, 1000), 0)
        .unwrap();
    let fnat = t
        .insert(&nc(key(2, 1001), FwdMethod::FullNat, 1000), 0)
        .unwrap();
    let dr = t
        .insert(&nc(key(3, 1002), FwdMethod::DirectRoute, 1000), 0)
        .unwrap();
    assert_eq!(t.len(), 3);
    for r in [nat, fnat, dr] {
        let c = *t.get(r);
        assert_eq!(t.lookup_in(&c.in_key()), Some(r));
        assert_eq!(t.lookup_out(&c.out_key()), Some(r));
    }
    // NAT reply: RS:8080 -> client
    let reply = ConnKey {
        protocol: 6,
        v6: false,
        src: 0x0a00_0001,
        sport: 8080,
        dst: 1,
        dport: 1000,
    };
    assert_eq!(t.lookup_out(&reply), Some(nat));
    // full-NAT reply: RS:8080 -> LIP:lport
    let reply = ConnKey {
        src: 0x0a00_0001,
        sport: 8080,
        dst: 0x0a00_00fe,
        dport: 41001 + (2 << 4),
        ..reply
    };
    assert_eq!(t.lookup_out(&reply), Some(fnat));
    assert_eq!(t.get(fnat).laddr().unwrap().1, 41001 + (2 << 4));
    // DR: the kernel's out key uses the VIP
    assert_eq!(t.get(dr).out_key().src, 0xc000_0201);
    assert!(t.get(dr).no_output() && !t.get(nat).no_output());
    assert!(t.get(nat).is_inactive());
    assert_eq!(t.lookup_in(&key(9, 1)), None);
    // removal unindexes
    t.remove(nat);
    assert_eq!(t.lookup_in(&key(1, 1000)), None);
    assert_eq!(t.lookup_out(&reply), Some(fnat));
    assert_eq!(t.len(), 2);
}

#[test]
fn deferred_out_link_is_found_settled_and_removed() {
    let mut t = ConnTable::new(cfg(16), 0);
    let a = t
        .insert(&nc(key(1, 1000), FwdMethod::FullNat, 1000), 0)
        .unwrap();
    // the newest connection is pending: found by lookup_out before it is linked
    assert_eq!(t.out_pending, a.0);
    assert!(!t.get(a).has(F_OUT_HASHED));
    assert_eq!(t.lookup_out(&t.get(a).out_key()), Some(a));
    // the next insert links it
    let b = t
        .insert(&nc(key(2, 1000), FwdMethod::FullNat, 1000), 0)
        .unwrap();
    assert!(t.get(a).has(F_OUT_HASHED) && t.out_pending == b.0);
    for r in [a, b] {
        assert_eq!(t.lookup_out(&t.get(r).out_key()), Some(r));
    }
    // a lookup through the worker's entry point settles it
    let (hit, _) = t.settle_lookup_in(&key(2, 1000));
    assert_eq!(hit, Some(b));
    assert!(t.get(b).has(F_OUT_HASHED) && t.out_pending == NIL);
    // removing the pending entry forgets it
    let c = t
        .insert(&nc(key(3, 1000), FwdMethod::FullNat, 1000), 0)
        .unwrap();
    let ck = t.get(c).out_key();
    t.remove(c);
    assert_eq!(t.out_pending, NIL);
    assert_eq!(t.lookup_out(&ck), None);
    // the in bucket handed back by the lookup is the one insert would compute
    let (miss, bucket) = t.lookup_in_bucket(&key(4, 1000));
    assert_eq!(miss, None);
    let d = t
        .insert_in_bucket(&nc(key(4, 1000), FwdMethod::Masq, 1000), 0, Some(bucket))
        .unwrap();
    assert_eq!(t.lookup_in(&key(4, 1000)), Some(d));
    assert_eq!(t.lookup_out(&t.get(d).out_key()), Some(d));
}

#[test]
fn full_table_is_a_named_drop() {
    let mut t = ConnTable::new(cfg(4), 0);
    for i in 0..4 {
        t.insert(&nc(key(i, 1), FwdMethod::Masq, 1000), 0).unwrap();
    }
    assert_eq!(
        t.insert(&nc(key(99, 1), FwdMethod::Masq, 1000), 0),
        Err(DropReason::ConnTableFull)
    );
    let r = t.lookup_in(&key(2, 1)).unwrap();
    t.remove(r);
    assert!(t.insert(&nc(key(99, 1), FwdMethod::Masq, 1000), 0).is_ok());
}

#[test]
fn templates_are_separate_and_can_be_invalidated() {
    let mut t = ConnTable::new(cfg(8), 0);
    let k = ConnKey {
        sport: 0,
        ..key(0x0a0b_0c00, 0)
    };
    let mut n = nc(k, FwdMethod::Masq, 300_000);
    n.template = true;
    let ct = t.insert(&n, 0).unwrap();
    assert_eq!(t.lookup_template(&k), Some(ct));
    assert_eq!(
        t.lookup_in(&k),
        None,
        "a connection lookup never finds a template"
    );
    let mut c = nc(key(0x0a0b_0c05, 5000), FwdMethod::Masq, 1000);
    c.control = Some(ct);
    let cp = t.insert(&c, 0).unwrap();
    assert_eq!(t.get(ct).n_control(), 1);
    assert_eq!(t.get(cp).control(), Some(ct));
    t.invalidate_template(ct);
    assert_eq!(t.lookup_template(&k), None);
    assert!(t.is_live(ct));
    assert_eq!(t.remove(cp), Some(ct));
    assert_eq!(t.get(ct).n_control(), 0);
    t.remove(ct);
    assert!(t.is_empty());
}

#[test]
fn timers_fire_at_the_tick_not_before() {
    // 64 ms ticks: a 10 s timeout armed at t=1000 ms is due at 11000 ms, rounded up to the
    // tick boundary 11008 (172 * 64)
    let mut t = ConnTable::new(cfg(8), 1000);
    let r = t
        .insert(&nc(key(1, 1), FwdMethod::Masq, 10_000), 1000)
        .unwrap();
    assert_eq!(t.pop_due(10_999), None);
    assert_eq!(t.pop_due(11_007), None);
    assert_eq!(t.remaining_ms(r, 11_000), 8);
    assert_eq!(t.pop_due(11_008), Some(r));
    assert_eq!(t.pop_due(11_008), None);
    t.remove(r);
}

#[test]
fn rearm_later_is_lazy_and_earlier_moves() {
    let mut t = ConnTable::new(cfg(8), 0);
    let r = t.insert(&nc(key(1, 1), FwdMethod::Masq, 2_000), 0).unwrap();
    // traffic keeps pushing the deadline: filed at 2 s, now due at 1.5 + 900 s
    t.set_timeout(r, 900_000);
    t.arm(r, 1_500);
    assert_eq!(t.pop_due(2_100), None, "visited at 2 s, re-filed");
    assert_eq!(
        t.pop_due(901_500),
        None,
        "901500 rounds up to the tick at 901504"
    );
    assert_eq!(t.pop_due(901_504), Some(r));
    t.set_timeout(r, 900_000);
    t.arm(r, 901_500);
    // a RST: 10 s CLOSE timeout, earlier than where it is filed
    t.set_timeout(r, 10_000);
    t.arm(r, 902_000);
    assert_eq!(t.pop_due(911_999), None);
    assert_eq!(t.pop_due(912_000), Some(r));
}

#[test]
fn timeouts_longer_than_a_turn_and_idle_gaps() {
    let c = ConnTableConfig {
        capacity: 8,
        wheel_slots: 16,
        tick_shift: 10, // 1 s ticks, 16 s per turn
        ..Default::default()
    };
    let mut t = ConnTable::new(c, 0);
    let long = t
        .insert(&nc(key(1, 1), FwdMethod::Masq, 100_000), 0)
        .unwrap();
    let short = t.insert(&nc(key(2, 1), FwdMethod::Masq, 3_000), 0).unwrap();
    let mut got = vec![];
    let mut now = 0;
    while now <= 200_000 {
        while let Some(r) = t.pop_due(now) {
            got.push((r, now));
        }
        now += 1024;
    }
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, short);
    assert!(got[0].1 >= 3_000 && got[0].1 < 3_000 + 2048);
    assert_eq!(got[1].0, long);
    assert!(
        got[1].1 >= 100_000 && got[1].1 < 100_000 + 2048,
        "{}",
        got[1].1
    );
    // a long idle gap: one call catches up
    let mut t = ConnTable::new(c, 0);
    let a = t.insert(&nc(key(1, 1), FwdMethod::Masq, 5_000), 0).unwrap();
    let b = t
        .insert(&nc(key(2, 1), FwdMethod::Masq, 500_000), 0)
        .unwrap();
    assert_eq!(t.pop_due(400_000), Some(a));
    assert_eq!(t.pop_due(400_000), None);
    assert_eq!(t.pop_due(600_000), Some(b));
}

#[test]
fn popped_entries_can_be_removed_while_others_are_pending() {
    let mut t = ConnTable::new(cfg(8), 0);
    let a = t.insert(&nc(key(1, 1), FwdMethod::Masq, 1_000), 0).unwrap();
    let b = t.insert(&nc(key(2, 1), FwdMethod::Masq, 1_000), 0).unwrap();
    let c = t.insert(&nc(key(3, 1), FwdMethod::Masq, 1_000), 0).unwrap();
    let first = t.pop_due(1_024).unwrap();
    // remove another entry of the same slot, now on the pending list
    let mut left = vec![a, b, c];
    left.retain(|r| *r != first);
    let other = left.remove(0);
    t.remove(other);
    t.remove(first);
    let rest: Vec<_> = std::iter::from_fn(|| t.pop_due(1_024)).collect();
    assert_eq!(rest, left);
    t.remove(left[0]);
    assert_eq!(t.armed_count(), 0);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Insert {
            client: u8,
            port: u8,
            fwd: u8,
            timeout: u16,
        },
        Touch {
            pick: u8,
            timeout: u16,
        },
        Remove {
            pick: u8,
        },
        Advance {
            ms: u32,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), any::<u8>(), 0u8..6, 0u16..5000)
                .prop_map(|(client, port, fwd, timeout)| Op::Insert { client, port, fwd, timeout }),
            2 => (any::<u8>(), 0u16..5000).prop_map(|(pick, timeout)| Op::Touch { pick, timeout }),
            1 => any::<u8>().prop_map(|pick| Op::Remove { pick }),
            2 => (0u32..3000).prop_map(|ms| Op::Advance { ms }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn every_entry_findable_and_nothing_leaks(ops in proptest::collection::vec(op(), 1..200)) {
            let c = ConnTableConfig { capacity: 64, buckets: 16, wheel_slots: 32, tick_shift: 4, hash_seed: 7 };
            let mut t = ConnTable::new(c, 0);
            let mut now = 0u64;
            let mut deadlines: std::collections::HashMap<ConnRef, u64> = Default::default();
            for o in ops {
                match o {
                    Op::Insert { client, port, fwd, timeout } => {
                        let k = key(client as u32 % 16, port as u16 % 8);
                        if t.lookup_in(&k).is_some() { continue; }
                        let fwd = FwdMethod::from_ipvs(fwd as u32).unwrap();
                        match t.insert(&nc(k, fwd, timeout as u32), now) {
                            Ok(r) => { deadlines.insert(r, now + timeout as u64); }
                            Err(e) => { prop_assert_eq!(e, DropReason::ConnTableFull); prop_assert_eq!(t.len(), 64); }
                        }
                    }
                    Op::Touch { pick, timeout } => {
                        let live: Vec<_> = t.iter().map(|(r, _)| r).collect();
                        if live.is_empty() { continue; }
                        let r = live[pick as usize % live.len()];
                        t.set_timeout(r, timeout as u32);
                        t.arm(r, now);
                        deadlines.insert(r, now + timeout as u64);
                    }
                    Op::Remove { pick } => {
                        let live: Vec<_> = t.iter().map(|(r, _)| r).collect();
                        if live.is_empty() { continue; }
                        let r = live[pick as usize % live.len()];
                        t.remove(r);
                        deadlines.remove(&r);
                    }
                    Op::Advance { ms } => {
                        now += ms as u64;
                        while let Some(r) = t.pop_due(now) {
                            let d = deadlines.remove(&r).unwrap();
                            prop_assert!(d <= now, "popped before its deadline");
                            t.remove(r);
                        }
                        // nothing overdue by more than a tick stays
                        for (_, d) in deadlines.iter() {
                            prop_assert!(*d + 16 > now);
                        }
                    }
                }
                // invariants
                prop_assert_eq!(t.len(), deadlines.len());
                prop_assert_eq!(t.iter().count(), t.len());
                prop_assert_eq!(t.armed_count(), t.len());
                for (r, e) in t.iter() {
                    prop_assert_eq!(t.lookup_in(&e.in_key()), Some(r));
                    prop_assert_eq!(t.lookup_out(&e.out_key()), Some(r));
                }
            }
            // drain: everything expires, the free list holds the whole capacity again
            now += 10_000;
            while let Some(r) = t.pop_due(now) { t.remove(r); }
            prop_assert!(t.is_empty());
            let mut n = 0;
            while t.insert(&nc(key(n, 1), FwdMethod::Masq, 1), now).is_ok() { n += 1; }
            prop_assert_eq!(n, 64);
        }
    }
}
