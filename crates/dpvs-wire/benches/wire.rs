//! Micro-benchmarks of the packet-path primitives: parsing an Ethernet + IPv4 + TCP frame, and
//! a NAT rewrite of destination address and port with incremental checksum updates.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, Criterion};
use dpvs_wire::ethernet::{EthernetAddress, EthernetRepr, Frame};
use dpvs_wire::ipv4::{self, Ipv4Repr};
use dpvs_wire::tcp::{self, TcpFlags, TcpRepr, TcpTimestamp};
use dpvs_wire::{ChecksumMode, EtherType, IpProtocol};

const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const REAL: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 9);

/// A 14 + 20 + 32 + 64 byte frame: client -> VIP:80, ACK with timestamps and 64 bytes.
fn frame() -> Vec<u8> {
    let payload = [0x5au8; 64];
    let tcp_repr = TcpRepr {
        src_port: 43210,
        dst_port: 80,
        flags: TcpFlags::ACK | TcpFlags::PSH,
        seq_number: 1,
        ack_number: 1,
        window_len: 502,
        urgent_at: 0,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: Some(TcpTimestamp { tsval: 1, tsecr: 2 }),
        payload: &payload,
    };
    let ip_repr = Ipv4Repr {
        src_addr: CLIENT,
        dst_addr: VIP,
        next_header: IpProtocol::TCP,
        payload_len: tcp_repr.buffer_len(),
        hop_limit: 64,
        dscp_ecn: 0,
        ident: 7,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let eth_repr = EthernetRepr {
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        vlan: None,
        ethertype: EtherType::IPV4,
    };
    let mut buf = vec![0u8; 14 + 20 + tcp_repr.buffer_len()];
    eth_repr.emit(&mut Frame::new_unchecked(&mut buf[..])).unwrap();
    ip_repr.emit(&mut ipv4::Packet::new_unchecked(&mut buf[14..34])).unwrap();
    tcp_repr.emit(&mut tcp::Packet::new_unchecked(&mut buf[34..]), IpAddr::V4(CLIENT), IpAddr::V4(VIP)).unwrap();
    buf
}

fn parse(c: &mut Criterion) {
    let buf = frame();
    c.bench_function("parse eth+ipv4+tcp (views, checksums verified)", |b| {
        b.iter(|| {
            let f = Frame::new_checked(black_box(&buf[..])).unwrap();
            let eth = EthernetRepr::parse(&f).unwrap();
            let ip = ipv4::Packet::new_checked(eth.payload(&buf)).unwrap();
            let ip_repr = Ipv4Repr::parse(&ip, ChecksumMode::Verify).unwrap();
            let seg = tcp::Packet::new_checked(ip.payload()).unwrap();
            assert!(seg.verify_checksum(IpAddr::V4(ip_repr.src_addr), IpAddr::V4(ip_repr.dst_addr)));
            black_box((seg.src_port(), seg.dst_port(), seg.flags(), seg.seq_number()))
        })
    });
    c.bench_function("parse eth+ipv4+tcp (repr, checksums verified)", |b| {
        b.iter(|| {
            let f = Frame::new_checked(black_box(&buf[..])).unwrap();
            let eth = EthernetRepr::parse(&f).unwrap();
            let ip = ipv4::Packet::new_checked(eth.payload(&buf)).unwrap();
            let ip_repr = Ipv4Repr::parse(&ip, ChecksumMode::Verify).unwrap();
            let seg = tcp::Packet::new_checked(ip.payload()).unwrap();
            let src = IpAddr::V4(ip_repr.src_addr);
            let dst = IpAddr::V4(ip_repr.dst_addr);
            black_box(TcpRepr::parse(&seg, src, dst, ChecksumMode::Verify).unwrap().dst_port)
        })
    });
}

fn nat(c: &mut Criterion) {
    let mut buf = frame();
    c.bench_function("nat rewrite dst addr+port (incremental checksums)", |b| {
        let mut flip = false;
        b.iter(|| {
            let (addr, port) = if flip { (VIP, 80) } else { (REAL, 8080) };
            flip = !flip;
            let mut ip = ipv4::Packet::new_unchecked(&mut buf[14..]);
            let old = ip.rewrite_dst_addr(black_box(addr));
            let mut seg = tcp::Packet::new_unchecked(ip.payload_mut());
            seg.update_checksum_addr(IpAddr::V4(old), IpAddr::V4(addr));
            seg.rewrite_dst_port(black_box(port));
        })
    });
    c.bench_function("nat rewrite dst addr+port (full recompute)", |b| {
        let mut flip = false;
        b.iter(|| {
            let (addr, port) = if flip { (VIP, 80) } else { (REAL, 8080) };
            flip = !flip;
            let mut ip = ipv4::Packet::new_unchecked(&mut buf[14..]);
            ip.set_dst_addr(black_box(addr));
            ip.fill_checksum();
            let src = ip.src_addr();
            let mut seg = tcp::Packet::new_unchecked(ip.payload_mut());
            seg.set_dst_port(black_box(port));
            seg.fill_checksum(IpAddr::V4(src), IpAddr::V4(addr)).unwrap();
        })
    });
}

criterion_group!(benches, parse, nat);
criterion_main!(benches);
