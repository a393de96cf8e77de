//! Fuzzes dpvs-core's packet pipeline: the input is a sequence of frames, each prefixed by a
//! u16 length and a control byte, fed to one worker's pipeline with a fixed small snapshot
//! (NAT, DR, tunnel and full-NAT services over TCP, UDP and ICMP, IPv4 and IPv6, one
//! persistent). With bit 0 of the control byte set, the frame is a valid template (chosen by
//! its first byte) with the rest of the bytes XORed over it, so the fuzzer reaches the
//! connection and transform code quickly; bits 1-7 advance the clock.
//!
//! Whatever comes in, the pipeline must not panic, every frame is counted exactly once
//! (`rx == forwarded + to_kernel + local_reply + drops`), a forwarded frame's length is the
//! buffer's, and the connection table never exceeds its capacity.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use dpvs_core::pipeline::{
    build_probe, FiveTuple, LocalAddrPool, NextHop, Pipeline, PipelineConfig, Verdict,
};
use dpvs_core::service::{
    DestConfig, DestId, FwdMethod, Netmask, ServiceConfig, ServiceId, ServiceKey, Settings,
    Snapshot, SnapshotBuilder, IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT,
};
use dpvs_core::xmit::{PacketBuf, SliceBuf, TtlPolicy};
use dpvs_core::Thresholds;
use dpvs_wire::EthernetAddress;
use libfuzzer_sys::fuzz_target;

const VIP4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 1);
const CLIENT4: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 0x10);
const HEADROOM: usize = 128;
const MAX_FRAME: usize = 1600;

fn rs(v6: bool, i: u8) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xb, 0, 0, 0, 0, 1 + i as u16))
    } else {
        IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1 + i))
    }
}

fn snapshot() -> Snapshot {
    let mut b = SnapshotBuilder::new(1, Settings::default());
    let mut slot = 0u32;
    let mut svc = 0u32;
    let modes = [
        FwdMethod::Masq,
        FwdMethod::DirectRoute,
        FwdMethod::Tunnel,
        FwdMethod::FullNat,
    ];
    for v6 in [false, true] {
        let vip = if v6 { IpAddr::V6(VIP6) } else { IpAddr::V4(VIP4) };
        for (m, fwd) in modes.iter().enumerate() {
            for (protocol, port) in [(6u8, 80 + m as u16), (17, 80 + m as u16)] {
                let dests: Vec<DestConfig> = (0..2u8)
                    .map(|i| {
                        slot += 1;
                        DestConfig {
                            id: DestId { slot, tag: 0 },
                            addr: rs(v6, i),
                            port: 8080,
                            weight: 1 + i as i32,
                            last_weight: 1,
                            fwd: *fwd,
                            thresholds: Thresholds::default(),
                            available: true,
                        }
                    })
                    .collect();
                svc += 1;
                b.add_service(
                    ServiceConfig {
                        id: ServiceId { slot: svc, tag: 0 },
                        key: ServiceKey::Tuple { addr: vip, protocol, port },
                        sched_name: if m == 0 { "wlc" } else { "rr" }.into(),
                        // one-packet UDP: NAT over IPv4, full-NAT over IPv6
                        flags: match (m, protocol, v6) {
                            (1, 6, _) => IP_VS_SVC_F_PERSISTENT,
                            (0, 17, false) | (3, 17, true) => IP_VS_SVC_F_ONEPACKET,
                            _ => 0,
                        },
                        timeout_s: 30,
                        netmask: Netmask::full(v6),
                    },
                    &dests,
                )
                .unwrap();
            }
        }
        // ICMP echo through NAT
        slot += 1;
        svc += 1;
        b.add_service(
            ServiceConfig {
                id: ServiceId { slot: svc, tag: 0 },
                key: ServiceKey::Tuple { addr: vip, protocol: if v6 { 58 } else { 1 }, port: 0 },
                sched_name: "sh".into(),
                flags: 0,
                timeout_s: 30,
                netmask: Netmask::full(v6),
            },
            &[DestConfig {
                id: DestId { slot, tag: 0 },
                addr: rs(v6, 0),
                port: 0,
                weight: 1,
                last_weight: 1,
                fwd: FwdMethod::Masq,
                thresholds: Thresholds::default(),
                available: true,
            }],
        )
        .unwrap();
    }
    b.build()
}

/// Valid frames to mutate: client packets to every service, and replies.
fn templates() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for v6 in [false, true] {
        let (client, vip) = if v6 {
            (IpAddr::V6(CLIENT6), IpAddr::V6(VIP6))
        } else {
            (IpAddr::V4(CLIENT4), IpAddr::V4(VIP4))
        };
        let lip = if v6 {
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1))
        };
        let mut push = |t: FiveTuple| {
            let mut f = vec![0u8; 128];
            let n = build_probe(&t, &mut f).unwrap();
            f.truncate(n);
            v.push(f);
        };
        for port in 80..84 {
            for protocol in [6, 17] {
                push(FiveTuple { protocol, src: client, sport: 40000, dst: vip, dport: port });
            }
        }
        push(FiveTuple { protocol: if v6 { 58 } else { 1 }, src: client, sport: 7, dst: vip, dport: 0 });
        for protocol in [6, 17] {
            push(FiveTuple { protocol, src: rs(v6, 0), sport: 8080, dst: client, dport: 40000 });
            push(FiveTuple { protocol, src: rs(v6, 1), sport: 8080, dst: lip, dport: 1024 });
        }
    }
    v
}

struct Fixed {
    snap: Snapshot,
    templates: Vec<Vec<u8>>,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| Fixed {
        snap: snapshot(),
        templates: templates(),
    })
}

fuzz_target!(|data: &[u8]| {
    let fx = fixed();
    let mut cfg = PipelineConfig::default();
    cfg.worker.table.capacity = 64;
    cfg.worker.table.wheel_slots = 64;
    cfg.ttl = TtlPolicy::Decrement;
    cfg.tunnel.src4 = Some(Ipv4Addr::new(198, 51, 100, 1));
    cfg.tunnel.src6 = Some(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1));
    cfg.echo_reply = true;
    cfg.mss_clamp = Some(1400);
    let mut pl = Pipeline::new(cfg, &fx.snap, 0);
    let mut pool = LocalAddrPool::new(
        &[
            IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)),
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
        ],
        1024..=1100,
        0,
        1,
    );
    let mut hop = NextHop {
        port: 0,
        src_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_mac: EthernetAddress([2, 0, 0, 0, 0, 2]),
        mtu: 1500,
    };
    let mut now = 1u64;
    let mut raw = vec![0u8; HEADROOM + MAX_FRAME + 64];
    let mut rest = data;
    let mut frames = 0u64;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]))
            .min(rest.len() - 3)
            .min(MAX_FRAME);
        let ctl = rest[2];
        let (bytes, tail) = rest[3..].split_at(len);
        rest = tail;
        let frame_len = if ctl & 1 == 1 && !bytes.is_empty() {
            let t = &fx.templates[usize::from(bytes[0]) % fx.templates.len()];
            let f = &mut raw[HEADROOM..HEADROOM + t.len()];
            f.copy_from_slice(t);
            for (i, b) in bytes[1..].iter().enumerate() {
                f[i % t.len()] ^= b;
            }
            t.len()
        } else {
            raw[HEADROOM..HEADROOM + len].copy_from_slice(bytes);
            len
        };
        now += u64::from(ctl >> 1) * 1000;
        let mut buf = SliceBuf::new(&mut raw, HEADROOM, frame_len).unwrap();
        let v = pl.process(&fx.snap, &mut buf, now, 0, &mut hop, &mut pool);
        frames += 1;
        if let Verdict::Forward { len, .. } | Verdict::LocalReply { len } = v {
            assert_eq!(len, buf.data().len(), "verdict length");
        }
        assert_eq!(pl.check_counters(), Ok(()), "counters after {v:?}");
        assert_eq!(pl.counters().rx, frames);
        let t = pl.worker().table();
        assert!(t.len() <= t.capacity());
        pl.expire(&fx.snap, now, 16, &mut pool);
    }
});
