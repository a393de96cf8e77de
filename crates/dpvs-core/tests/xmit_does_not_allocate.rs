//! The forwarding transforms must not allocate: every method, both directions, both families,
//! ICMP errors and drops, run under an allocator that counts this thread's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dpvs_core::xmit::fullnat;
use dpvs_core::xmit::tunnel::{self, Tunnel, TunnelKind};
use dpvs_core::xmit::{
    transmit, Direction, Egress, Endpoint, Flow, Method, PacketBuf, SliceBuf, TtlPolicy,
};
use dpvs_wire::tcp::{TcpFlags, TcpRepr};
use dpvs_wire::{icmpv4, icmpv6, ipv4, ipv6, tcp, EthernetAddress, IpProtocol};

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

/// An IP header `src -> dst` for `payload`, then the payload, after an Ethernet header.
fn frame(src: IpAddr, dst: IpAddr, proto: IpProtocol, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 0x52, 0x54, 0, 1, 2, 3];
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend_from_slice(&[8, 0]);
            f.resize(34, 0);
            let r = ipv4::Ipv4Repr {
                src_addr: s,
                dst_addr: d,
                next_header: proto,
                payload_len: payload.len(),
                hop_limit: 64,
                dscp_ecn: 0,
                ident: 1,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
            };
            r.emit(&mut ipv4::Packet::new_unchecked(&mut f[14..]))
                .unwrap();
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend_from_slice(&[0x86, 0xdd]);
            f.resize(54, 0);
            let r = ipv6::Ipv6Repr {
                src_addr: s,
                dst_addr: d,
                next_header: proto,
                payload_len: payload.len(),
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            };
            r.emit(&mut ipv6::Packet::new_unchecked(&mut f[14..]))
                .unwrap();
        }
        _ => unreachable!(),
    }
    f.extend_from_slice(payload);
    f
}

fn tcp_frame(src: Endpoint, dst: Endpoint, syn: bool) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: src.port,
        dst_port: dst.port,
        flags: if syn {
            TcpFlags::SYN
        } else {
            TcpFlags::ACK | TcpFlags::PSH
        },
        seq_number: 1,
        ack_number: 2,
        window_len: 1000,
        urgent_at: 0,
        max_seg_size: syn.then_some(1460),
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        payload: b"payload",
    };
    let mut seg = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut tcp::Packet::new_unchecked(&mut seg[..]),
        src.addr,
        dst.addr,
    )
    .unwrap();
    frame(src.addr, dst.addr, IpProtocol::TCP, &seg)
}

/// A destination-unreachable error `src -> dst` quoting the IP packet of `about`.
fn icmp_error(src: IpAddr, dst: IpAddr, about: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 8];
    m.extend_from_slice(&about[14..]);
    match (src, dst) {
        (IpAddr::V4(_), _) => {
            m[0] = 3;
            m[1] = 3;
            icmpv4::Packet::new_unchecked(&mut m[..]).fill_checksum();
            frame(src, dst, IpProtocol::ICMP, &m)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            m[0] = 1;
            m[1] = 4;
            icmpv6::Packet::new_unchecked(&mut m[..])
                .fill_checksum(s, d)
                .unwrap();
            frame(src, dst, IpProtocol::ICMPV6, &m)
        }
        _ => unreachable!(),
    }
}

fn flow(v6: bool) -> Flow {
    let a = |n: u8, port| {
        let addr = if v6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(n)))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
        };
        Endpoint::new(addr, port)
    };
    Flow {
        client: a(1, 40000),
        vip: a(2, 80),
        local: Some(a(3, 5000)),
        real: a(4, 8080),
    }
}

#[test]
fn transforms_do_not_allocate() {
    let b = allocs();
    std::hint::black_box(vec![0u8; 16]);
    assert!(allocs() > b, "the counting allocator counts");

    let egress = Egress {
        src_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_mac: EthernetAddress([2, 0, 0, 0, 0, 2]),
        mtu: 1500,
        ttl: TtlPolicy::Decrement,
    };
    let mut cases = Vec::new();
    for v6 in [false, true] {
        let f = flow(v6);
        let local = f.local.unwrap();
        let src = if v6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9))
        };
        let mut methods = vec![
            Method::Nat,
            Method::FullNat {
                mss_clamp: Some(1400),
            },
            Method::DirectRoute,
        ];
        for kind in [
            TunnelKind::Ipip,
            TunnelKind::Gue { port: 6080 },
            TunnelKind::Gre,
        ] {
            methods.push(Method::Tunnel(Tunnel {
                kind,
                csum: true,
                src,
                ident: 1,
                entropy: 7,
            }));
        }
        let syn_in = tcp_frame(f.client, f.vip, true);
        let ack_in = tcp_frame(f.client, f.vip, false);
        let to_lip = tcp_frame(f.real, local, false);
        let err_out = icmp_error(f.real.addr, local.addr, &tcp_frame(local, f.real, false));
        let mut ttl1 = ack_in.clone();
        ttl1[if v6 { 14 + 7 } else { 14 + 8 }] = 1;
        for m in methods {
            for input in [&syn_in, &ack_in, &ttl1, &ack_in[..30].to_vec()] {
                cases.push((m, input.clone(), f, Direction::In));
            }
            cases.push((m, to_lip.clone(), f, Direction::Out));
            cases.push((m, err_out.clone(), f, Direction::Out));
        }
    }
    let mut bufs: Vec<(Vec<u8>, usize)> = cases
        .iter()
        .map(|(_, input, _, _)| {
            let mut raw = vec![0u8; 64];
            raw.extend_from_slice(input);
            raw.resize(raw.len() + 32, 0);
            (raw, input.len())
        })
        .collect();
    let mut clients = Vec::with_capacity(bufs.len());

    let before = allocs();
    let mut forwarded = 0;
    for ((m, _, f, dir), (raw, len)) in cases.iter().zip(bufs.iter_mut()) {
        let mut buf = SliceBuf::new(raw, 64, *len).unwrap();
        if transmit(m, &mut buf, f, *dir, &egress).is_ok() {
            forwarded += 1;
            let _ = fullnat::insert_toa(&mut buf, f.client, 1500);
            clients.push(tunnel::client_error(buf.data(), Some(1500)).is_ok());
        }
    }
    assert_eq!(allocs(), before, "xmit allocated");
    assert!(forwarded > 20, "{forwarded} forwarded");
}
