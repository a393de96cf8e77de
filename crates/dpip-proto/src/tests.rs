use super::*;

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn a(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn requests() -> Vec<(&'static str, Request)> {
    let mut r = Route::new(a("10.1.0.0"), 16);
    r.gateway = Some(a("10.90.1.254"));
    r.oif = 1;
    r.prefsrc = Some(a("10.90.1.1"));
    r.metric = Some(5);
    vec![
        ("hello", Request::Hello(Hello { version: VERSION, name: "dpip".into() })),
        ("getlink", Request::GetLinks),
        ("setlink", Request::SetLink(LinkChange { index: 1, up: Some(false), mtu: Some(1400) })),
        ("getaddr", Request::GetAddrs(AF_INET)),
        ("newaddr", Request::AddAddr(Addr { index: 2, addr: a("10.90.2.3"), len: 24, scope: 0, sapool: true })),
        ("deladdr", Request::DelAddr(Addr { index: 0, addr: a("fd00::1"), len: 64, scope: 0, sapool: false })),
        ("getroute", Request::GetRoutes(AF_INET6)),
        ("newroute", Request::AddRoute(r)),
        ("delroute", Request::DelRoute(Route::new(a("0.0.0.0"), 0))),
        ("getneigh", Request::GetNeighs(AF_UNSPEC)),
        (
            "newneigh",
            Request::AddNeigh(Neigh { index: 1, addr: a("10.90.1.254"), lladdr: Some([2, 0, 0, 0, 0, 1]), state: NUD_PERMANENT }),
        ),
        ("delneigh", Request::DelNeigh(Neigh { index: 0, addr: a("10.90.1.254"), lladdr: None, state: 0 })),
        ("flush", Request::Flush(Flush { object: FlushObject::Route, family: AF_INET, index: 0 })),
        ("getstats", Request::GetStats),
    ]
}

fn replies() -> Vec<(&'static str, Reply)> {
    vec![
        ("hello", Reply::Hello(Hello { version: VERSION, name: "dpvsd".into() })),
        (
            "link",
            Reply::Link(Link {
                index: 1,
                name: "dpdk0".into(),
                mac: [2, 0, 0, 0, 0, 9],
                mtu: 1500,
                up: true,
                carrier: true,
                promisc: true,
                speed_mbps: 10000,
                queues: 2,
                stats: LinkStats { rx_packets: 3, tx_packets: 4, rx_bytes: 300, tx_bytes: 400, ..LinkStats::default() },
            }),
        ),
        ("addr", Reply::Addr(Addr { index: 1, addr: a("10.90.1.1"), len: 24, scope: 0, sapool: false })),
        (
            "route",
            Reply::Route(Route {
                dst: a("10.90.1.1"),
                len: 32,
                gateway: None,
                oif: 1,
                prefsrc: Some(a("10.90.1.1")),
                metric: None,
                scope: RT_SCOPE_HOST,
                table: RT_TABLE_LOCAL,
                protocol: RTPROT_KERNEL,
                kind: RTN_LOCAL,
            }),
        ),
        ("neigh", Reply::Neigh(Neigh { index: 2, addr: a("fd00::2"), lladdr: Some([2, 0, 0, 0, 0, 2]), state: NUD_REACHABLE })),
        (
            "stats",
            Reply::Stats(WorkerStats {
                worker: 1,
                rx: 10,
                forwarded: 8,
                local_replies: 1,
                to_kernel: 0,
                connections: 2,
                drops: vec![("no-route".into(), 1), ("bad-checksum".into(), 0)],
            }),
        ),
        ("flushed", Reply::Flushed(3)),
    ]
}

#[test]
fn requests_round_trip() {
    for (name, r) in requests() {
        let b = r.encode(7);
        let m = decode_message(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.header.sequence_number, 7);
        let NetlinkPayload::InnerMessage(p) = &m.payload else { panic!("{name}: not a message") };
        assert_eq!(Request::decode(p).unwrap(), r, "{name}");
    }
}

#[test]
fn replies_round_trip() {
    for (name, r) in replies() {
        let b = r.encode(9, true);
        assert_eq!(decode_answer(&b).unwrap(), (9, Answer::Reply(r)), "{name}");
    }
}

fn req_header() -> NetlinkHeader {
    split(&Request::DelRoute(Route::new(a("10.7.0.0"), 16)).encode(5))[0].0
}

fn control() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("ack", ack(&req_header())),
        ("error", error(&req_header(), 3, "route 10.7.0.0/16: no such route")),
        ("error-no-msg", error(&req_header(), 19, "")),
        ("done", done(5)),
    ]
}

/// Every message kind, byte for byte (native byte order: x86-64). Reviewed field by field
/// against <linux/rtnetlink.h>, <linux/if_addr.h>, <linux/neighbour.h>, <linux/if_link.h> and
/// docs/DPIP-PROTOCOL.md; a change here is a protocol change.
#[cfg(target_endian = "little")]
const REQUEST_FIXTURES: &[(&str, &str)] = &[
    ("hello", "2c00000000040100070000000000000000000000000000000800010001000000090002006470697000000000"),
    ("getlink", "2000000012000103070000000000000000000000000000000000000000000000"),
    ("setlink", "28000000100005000700000000000000000000000100000000000000010000000800040078050000"),
    ("getaddr", "180000001600010307000000000000000200000000000000"),
    ("newaddr", "340000001400050607000000000000000218000002000000080002000a5a0203080001000a5a0203080008008000000004000001"),
    ("deladdr", "480000001500050007000000000000000a4000000000000014000200fd00000000000000000000000000000114000100fd0000000000000000000000000000010800080080000000"),
    ("getroute", "1c0000001a00010307000000000000000a0000000000000000000000"),
    ("newroute", "4400000018000506070000000000000002100000fe03000100000000080001000a0100000800060005000000080007000a5a0101080005000a5a01fe0800040001000000"),
    ("delroute", "1c00000019000500070000000000000002000000fe03000100000000"),
    ("getneigh", "1c0000001e0001030700000000000000000000000000000000000000"),
    ("newneigh", "300000001c0005060700000000000000020000000100000080000000080001000a5a01fe0a0002000200000000010000"),
    ("delneigh", "240000001d0005000700000000000000020000000000000000000000080001000a5a01fe"),
    ("flush", "180000000304050007000000000000000202000000000000"),
    ("getstats", "180000000104010307000000000000000000000000000000"),
];
#[cfg(target_endian = "little")]
const REPLY_FIXTURES: &[(&str, &str)] = &[
    ("hello", "2c000000000402000900000000000000000000000000000008000100010000000a0002006470767364000000"),
    ("link", "38010000100002000900000000000000000001000100000043110100000000000a0003006470646b3000000008000400dc0500000a00010002000000000900000a000200ffffffffffff000005002100010000000500100006000000cc001700030000000000000004000000000000002c01000000000000900100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000008000001020000000800010110270000"),
    ("addr", "300000001400020009000000000000000218000001000000080002000a5a0101080001000a5a01010800080080000000"),
    ("route", "3400000018000200090000000000000002200000ff02fe0200000000080001000a5a0101080007000a5a01010800040001000000"),
    ("neigh", "3c0000001c00020009000000000000000a000000020000000200000014000100fd0000000000000000000000000000020a0002000200000000020000"),
    ("stats", "a0000000020402000900000000000000000000000100000008000400010000000c0005000a000000000000000c00060008000000000000000c00070001000000000000000c00080000000000000000000c000900020000000000000020000a800d0001006e6f2d726f757465000000000c000200010000000000000024000a80110001006261642d636865636b73756d000000000c0002000000000000000000"),
    ("flushed", "2000000003040200090000000000000000000000000000000800030003000000"),
];
#[cfg(target_endian = "little")]
const CONTROL_FIXTURES: &[(&str, &str)] = &[
    ("ack", "240000000200000105000000000000000000000024000000190005000500000000000000"),
    ("error", "4c000000020000030500000000000000fdffffff2400000019000500050000000000000025000100726f7574652031302e372e302e302f31363a206e6f207375636820726f75746500000000"),
    ("error-no-msg", "24000000020000010500000000000000edffffff24000000190005000500000000000000"),
    ("done", "1400000003000200050000000000000000000000"),
];

#[cfg(target_endian = "little")]
#[test]
fn every_message_kind_byte_for_byte() {
    let reqs = requests();
    assert_eq!(reqs.len(), REQUEST_FIXTURES.len());
    for ((name, r), (fname, want)) in reqs.iter().zip(REQUEST_FIXTURES) {
        assert_eq!(name, fname);
        assert_eq!(hex(&r.encode(7)), *want, "request {name}");
    }
    let reps = replies();
    assert_eq!(reps.len(), REPLY_FIXTURES.len());
    for ((name, r), (fname, want)) in reps.iter().zip(REPLY_FIXTURES) {
        assert_eq!(name, fname);
        assert_eq!(hex(&r.encode(9, true)), *want, "reply {name}");
    }
    for ((name, b), (fname, want)) in control().iter().zip(CONTROL_FIXTURES) {
        assert_eq!(name, fname);
        assert_eq!(hex(b), *want, "{name}");
    }
}

#[test]
fn errors_carry_errno_and_message() {
    let c = control();
    assert_eq!(decode_answer(&c[0].1).unwrap(), (5, Answer::Ack));
    assert_eq!(
        decode_answer(&c[1].1).unwrap(),
        (5, Answer::Error { errno: 3, msg: "route 10.7.0.0/16: no such route".into() })
    );
    assert_eq!(decode_answer(&c[2].1).unwrap(), (5, Answer::Error { errno: 19, msg: String::new() }));
    assert_eq!(decode_answer(&c[3].1).unwrap(), (5, Answer::Done));
}

#[test]
fn split_reads_every_message_of_a_datagram() {
    let mut d = Reply::Flushed(1).encode(1, false);
    d.extend(done(1));
    let parts = split(&d);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].0.message_type, netlink_packet_core::NLMSG_DONE);
    assert!(split(&d[..10]).is_empty());
    assert!(decode_message(&[0u8; 3]).is_err());
}

#[test]
fn private_header_is_checked() {
    // a HELLO shorter than struct dpipmsg
    let b = [20u8, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    assert!(decode_message(&b).is_err());
}

proptest::proptest! {
    /// Whatever arrives, reading it returns a value or an error, never a panic.
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        for (_, m) in split(&bytes) {
            if let Ok(msg) = decode_message(m) {
                if let NetlinkPayload::InnerMessage(p) = &msg.payload {
                    let _ = Request::decode(p);
                }
            }
            let _ = decode_answer(m);
        }
    }

    /// Valid messages with some bytes flipped: the same.
    #[test]
    fn damaged_messages_never_panic(which in 0usize..21, at in 0usize..400, to in proptest::prelude::any::<u8>()) {
        let mut all: Vec<Vec<u8>> = requests().into_iter().map(|(_, r)| r.encode(1)).collect();
        all.extend(replies().into_iter().map(|(_, r)| r.encode(1, true)));
        let mut b = all[which % all.len()].clone();
        let i = at % b.len();
        b[i] = to;
        if let Ok(msg) = decode_message(&b) {
            if let NetlinkPayload::InnerMessage(p) = &msg.payload {
                let _ = Request::decode(p);
            }
        }
        let _ = decode_answer(&b);
    }
}
