//! Per-packet cost of the forwarding transforms on an established TCP segment (ACK with a
//! 64-byte payload and a timestamps option), against a bare MAC swap on the same buffers.
//!
//! Each iteration first copies the received frame into the same (cache-hot) buffer, so a TTL
//! never runs out and every run does the full work; the `swap_macs` baseline does the same
//! copy, so the difference to it is the cost of the transform itself.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use criterion::{criterion_group, criterion_main, Criterion};
use dpvs_core::xmit::tunnel::{self, Tunnel, TunnelKind};
use dpvs_core::xmit::{dr, fullnat, nat, Direction, Egress, Endpoint, Flow, SliceBuf, TtlPolicy};
use dpvs_wire::tcp::{TcpFlags, TcpRepr, TcpTimestamp};
use dpvs_wire::{ipv4, ipv6, tcp, EthernetAddress, IpProtocol};

const HEADROOM: usize = 64;
const BUF: usize = 256;

/// An Ethernet frame `src -> dst` carrying an established-connection TCP segment, placed
/// after `HEADROOM` bytes; returns the buffer and the frame length.
fn frame(src: Endpoint, dst: Endpoint) -> ([u8; BUF], usize) {
    let payload = [0x5a; 64];
    let seg = TcpRepr {
        src_port: src.port,
        dst_port: dst.port,
        flags: TcpFlags::ACK | TcpFlags::PSH,
        seq_number: 0x0102_0304,
        ack_number: 0xa0b0_c0d0,
        window_len: 502,
        urgent_at: 0,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: Some(TcpTimestamp { tsval: 1, tsecr: 2 }),
        payload: &payload,
    };
    let mut buf = [0u8; BUF];
    let f = &mut buf[HEADROOM..];
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    let l3 = 14;
    let l4 = match (src.addr, dst.addr) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            let repr = ipv4::Ipv4Repr {
                src_addr: s,
                dst_addr: d,
                next_header: IpProtocol::TCP,
                payload_len: seg.buffer_len(),
                hop_limit: 64,
                dscp_ecn: 0,
                ident: 1,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
            };
            repr.emit(&mut ipv4::Packet::new_unchecked(&mut f[l3..]))
                .unwrap();
            l3 + 20
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f[12..14].copy_from_slice(&[0x86, 0xdd]);
            let repr = ipv6::Ipv6Repr {
                src_addr: s,
                dst_addr: d,
                next_header: IpProtocol::TCP,
                payload_len: seg.buffer_len(),
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            };
            repr.emit(&mut ipv6::Packet::new_unchecked(&mut f[l3..]))
                .unwrap();
            l3 + 40
        }
        _ => unreachable!(),
    };
    let len = l4 + seg.buffer_len();
    seg.emit(
        &mut tcp::Packet::new_unchecked(&mut f[l4..len]),
        src.addr,
        dst.addr,
    )
    .unwrap();
    (buf, len)
}

fn flow(v6: bool) -> Flow {
    let a = |v4: [u8; 4], seg: u16, port| {
        let addr = if v6 {
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                seg,
                0,
                0,
                0,
                0,
                u16::from(v4[3]),
            ))
        } else {
            IpAddr::V4(Ipv4Addr::from(v4))
        };
        Endpoint::new(addr, port)
    };
    Flow {
        client: a([192, 168, 1, 10], 0xc, 43210),
        vip: a([10, 0, 0, 1], 0xa, 80),
        local: Some(a([10, 0, 1, 5], 1, 5001)),
        real: a([172, 16, 0, 9], 0xb, 8080),
    }
}

fn egress() -> Egress {
    Egress {
        src_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_mac: EthernetAddress([0x52, 0x54, 0, 0xab, 0xcd, 0xef]),
        mtu: 1500,
        ttl: TtlPolicy::Decrement,
    }
}

fn swap_macs(f: &mut [u8]) {
    let (a, b) = f.split_at_mut(6);
    a.swap_with_slice(&mut b[..6]);
}

fn bench(c: &mut Criterion) {
    let e = egress();
    let mut g = c.benchmark_group("xmit");
    for v6 in [false, true] {
        let fam = if v6 { "v6" } else { "v4" };
        let fl = flow(v6);
        let (to_vip, len) = frame(fl.client, fl.vip);
        let (to_lip, _) = frame(fl.real, fl.local.unwrap());
        let (to_client, _) = frame(fl.real, fl.client);
        let r = HEADROOM..HEADROOM + len;

        g.bench_function(format!("swap_macs/{fam}"), |b| {
            let mut buf = [0u8; BUF];
            b.iter(|| {
                buf.copy_from_slice(&to_vip);
                let buf = &mut buf;
                swap_macs(black_box(&mut buf[r.clone()]))
            })
        });
        g.bench_function(format!("fullnat_in/{fam}"), |b| {
            let mut buf = [0u8; BUF];
            b.iter(|| {
                buf.copy_from_slice(&to_vip);
                let buf = &mut buf;
                fullnat::xmit(black_box(&mut buf[r.clone()]), &fl, Direction::In, &e, None).unwrap()
            })
        });
        g.bench_function(format!("fullnat_out/{fam}"), |b| {
            let mut buf = [0u8; BUF];
            b.iter(|| {
                buf.copy_from_slice(&to_lip);
                let buf = &mut buf;
                fullnat::xmit(
                    black_box(&mut buf[r.clone()]),
                    &fl,
                    Direction::Out,
                    &e,
                    None,
                )
                .unwrap()
            })
        });
        g.bench_function(format!("nat_in/{fam}"), |b| {
            let mut buf = [0u8; BUF];
            b.iter(|| {
                buf.copy_from_slice(&to_vip);
                let buf = &mut buf;
                nat::xmit(black_box(&mut buf[r.clone()]), &fl, Direction::In, &e).unwrap()
            })
        });
        g.bench_function(format!("nat_out/{fam}"), |b| {
            let mut buf = [0u8; BUF];
            b.iter(|| {
                buf.copy_from_slice(&to_client);
                let buf = &mut buf;
                nat::xmit(black_box(&mut buf[r.clone()]), &fl, Direction::Out, &e).unwrap()
            })
        });
        g.bench_function(format!("dr/{fam}"), |b| {
            let mut buf = [0u8; BUF];
            b.iter(|| {
                buf.copy_from_slice(&to_vip);
                let buf = &mut buf;
                dr::xmit(black_box(&mut buf[r.clone()]), &e).unwrap()
            })
        });
        let src = if v6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1))
        } else {
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1))
        };
        for (name, kind) in [
            ("ipip", TunnelKind::Ipip),
            ("gue", TunnelKind::Gue { port: 6080 }),
        ] {
            let t = Tunnel {
                kind,
                csum: false,
                src,
                ident: 7,
                entropy: 0x1234_5678,
            };
            g.bench_function(format!("tunnel_{name}/{fam}"), |b| {
                let mut buf = [0u8; BUF];
                b.iter(|| {
                    buf.copy_from_slice(&to_vip);
                    let buf = &mut buf;
                    {
                        let mut sb = SliceBuf::new(black_box(&mut buf[..]), HEADROOM, len).unwrap();
                        tunnel::xmit(&mut sb, &fl, &t, &e).unwrap()
                    }
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
