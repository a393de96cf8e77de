use super::*;
use crate::conn::ConnTableConfig;
use crate::dest::Thresholds;
use crate::service::{
    DestConfig, Netmask, ServiceConfig, ServiceKey, Settings, SnapshotBuilder,
    IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT,
};
use std::net::Ipv4Addr;

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const TCP: u8 = 6;
const UDP: u8 = 17;

fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn client(n: u8) -> IpAddr {
    ip(198, 51, 100, n)
}

fn rs(n: u8) -> IpAddr {
    ip(10, 0, 0, n)
}

#[derive(Clone)]
struct Svc {
    slot: u32,
    protocol: u8,
    port: u16,
    sched: &'static str,
    flags: u32,
    timeout_s: u32,
    netmask: Netmask,
    fwmark: u32,
    /// (dest slot, rs number, weight, fwd, upper threshold, available)
    dests: Vec<(u32, u8, i32, FwdMethod, u32, bool)>,
}

impl Svc {
    fn tcp(dests: &[(u32, u8, i32)]) -> Svc {
        Svc {
            slot: 0,
            protocol: TCP,
            port: 80,
            sched: "rr",
            flags: 0,
            timeout_s: 300,
            netmask: Netmask::full(false),
            fwmark: 0,
            dests: dests
                .iter()
                .map(|&(s, n, w)| (s, n, w, FwdMethod::Masq, 0, true))
                .collect(),
        }
    }
}

fn snapshot(generation: u64, settings: Settings, svcs: &[Svc]) -> Snapshot {
    let mut b = SnapshotBuilder::new(generation, settings);
    for s in svcs {
        let key = if s.fwmark != 0 {
            ServiceKey::Fwmark {
                v6: false,
                mark: s.fwmark,
            }
        } else {
            ServiceKey::Tuple {
                addr: IpAddr::V4(VIP),
                protocol: s.protocol,
                port: s.port,
            }
        };
        let dests: Vec<DestConfig> = s
            .dests
            .iter()
            .map(|&(slot, n, w, fwd, upper, available)| DestConfig {
                id: DestId { slot, tag: 0 },
                addr: rs(n),
                port: 8080,
                weight: w,
                last_weight: w.max(1),
                fwd,
                thresholds: Thresholds { upper, lower: 0 },
                available,
            })
            .collect();
        b.add_service(
            ServiceConfig {
                id: ServiceId {
                    slot: s.slot,
                    tag: 0,
                },
                key,
                sched_name: s.sched.into(),
                flags: s.flags,
                timeout_s: s.timeout_s,
                netmask: s.netmask,
            },
            &dests,
        )
        .unwrap();
    }
    b.build()
}

fn worker(snap: &Snapshot, capacity: u32) -> Worker {
    Worker::new(
        WorkerConfig {
            table: ConnTableConfig {
                capacity,
                ..Default::default()
            },
            ..Default::default()
        },
        snap,
        0,
    )
}

fn syn(c: IpAddr, port: u16) -> Packet {
    Packet::new(TCP, c, port, IpAddr::V4(VIP), 80).with_flags(TcpFlags::SYN)
}

fn cin(c: IpAddr, port: u16, f: TcpFlags) -> Packet {
    Packet::new(TCP, c, port, IpAddr::V4(VIP), 80).with_flags(f)
}

/// A NAT reply from rs `n` to the client.
fn rout(n: u8, c: IpAddr, port: u16, f: TcpFlags) -> Packet {
    Packet::new(TCP, rs(n), 8080, c, port).with_flags(f)
}

fn conn_of(w: &Worker, v: Result<InVerdict, DropReason>) -> (ConnRef, Conn) {
    match v {
        Ok(Scheduled::Conn(c)) => (c, *w.table().get(c)),
        other => panic!("expected a connection, got {other:?}"),
    }
}

macro_rules! open {
    ($w:expr, $e:expr) => {{
        let v = $e;
        conn_of(&$w, v)
    }};
}

fn counts(w: &Worker, svc: u32, d: usize) -> (u32, u32, u32) {
    let c = w.counters(svc)[d];
    (c.active, c.inactive, c.persistent)
}

fn state(w: &Worker, c: ConnRef) -> &'static str {
    let conn = w.table().get(c);
    proto::state_name(
        Protocol::from_number(conn.protocol()).unwrap(),
        conn.state(),
    )
}

/// Recounts active/inactive/persistent from the table and compares with the counters.
fn check_counts(w: &Worker, snap: &Snapshot) {
    for (si, s) in snap.services().iter().enumerate() {
        for (di, dc) in s.dest_conf.iter().enumerate() {
            let (mut a, mut i, mut p) = (0, 0, 0);
            for (_, e) in w.table().iter() {
                if e.dest() != dc.id {
                    continue;
                }
                if e.is_template() {
                    p += 1;
                } else if e.is_inactive() {
                    i += 1;
                } else {
                    a += 1;
                }
            }
            assert_eq!(
                counts(w, si as u32, di),
                (a, i, p),
                "service {si} dest {di}"
            );
        }
    }
}

#[test]
fn nat_handshake_and_close_with_counts() {
    let snap = snapshot(1, Settings::default(), &[Svc::tcp(&[(0, 1, 1)])]);
    let mut w = worker(&snap, 16);
    let c1 = client(7);
    let mut now = 1_000;
    let (c, conn) = open!(w, w.process_in(&snap, &syn(c1, 40000), now, &mut NoHooks));
    assert_eq!(conn.daddr(), rs(1));
    assert_eq!(conn.dport(), 8080);
    // (packet, expected state, expected (active, inactive))
    let steps: [(Packet, bool, &str, (u32, u32)); 6] = [
        (
            rout(1, c1, 40000, TcpFlags::SYN_ACK),
            false,
            "SYN_RECV",
            (1, 0),
        ),
        (cin(c1, 40000, TcpFlags::ACK), true, "ESTABLISHED", (1, 0)),
        (
            rout(1, c1, 40000, TcpFlags::ACK),
            false,
            "ESTABLISHED",
            (1, 0),
        ),
        (
            cin(c1, 40000, TcpFlags::FIN_ACK),
            true,
            "CLOSE_WAIT",
            (0, 1),
        ),
        (
            rout(1, c1, 40000, TcpFlags::FIN_ACK),
            false,
            "TIME_WAIT",
            (0, 1),
        ),
        (cin(c1, 40000, TcpFlags::ACK), true, "TIME_WAIT", (0, 1)),
    ];
    assert_eq!(state(&w, c), "SYN_RECV");
    assert_eq!(
        counts(&w, 0, 0),
        (1, 0, 0),
        "SYN_RECV counts active (Linux >= 4.8)"
    );
    for (k, (p, input, st, ai)) in steps.iter().enumerate() {
        now += 10;
        if *input {
            assert_eq!(
                w.process_in(&snap, p, now, &mut NoHooks),
                Ok(Scheduled::Conn(c))
            );
        } else {
            assert_eq!(w.process_out(&snap, p, now), Some(c), "step {k}");
        }
        assert_eq!(state(&w, c), *st, "step {k}");
        let (a, i, _) = counts(&w, 0, 0);
        assert_eq!((a, i), *ai, "step {k}");
        check_counts(&w, &snap);
    }
    // TIME_WAIT: 120 s from the last packet, not a tick before
    assert_eq!(w.expire(&snap, now + 119_999, &mut NoHooks), 0);
    assert_eq!(w.table().len(), 1);
    assert_eq!(w.expire(&snap, now + 120_064, &mut NoHooks), 1);
    assert!(w.table().is_empty());
    assert_eq!(counts(&w, 0, 0), (0, 0, 0));
    let st = w.service_stats(0);
    assert_eq!((st.conns, st.inpkts, st.outpkts), (1, 4, 3));
}

#[test]
fn dr_input_only_and_rst() {
    let mut svc = Svc::tcp(&[(0, 1, 1)]);
    svc.dests[0].3 = FwdMethod::DirectRoute;
    let snap = snapshot(1, Settings::default(), &[svc]);
    let mut w = worker(&snap, 16);
    let c1 = client(1);
    let (c, conn) = open!(w, w.process_in(&snap, &syn(c1, 1), 0, &mut NoHooks));
    assert!(conn.no_output());
    for (f, st, ai) in [
        (TcpFlags::ACK, "ESTABLISHED", (1, 0)),
        (TcpFlags::FIN_ACK, "FIN_WAIT", (0, 1)),
        (TcpFlags::ACK, "FIN_WAIT", (0, 1)),
        (TcpFlags::RST, "CLOSE", (0, 1)),
    ] {
        w.process_in(&snap, &cin(c1, 1, f), 100, &mut NoHooks)
            .unwrap();
        assert_eq!(state(&w, c), st);
        let (a, i, _) = counts(&w, 0, 0);
        assert_eq!((a, i), ai);
    }
    // CLOSE: 10 s
    assert_eq!(w.expire(&snap, 10_099, &mut NoHooks), 0);
    assert_eq!(w.expire(&snap, 10_100 + 64, &mut NoHooks), 1);
}

#[test]
fn server_rst_and_simultaneous_close() {
    let snap = snapshot(1, Settings::default(), &[Svc::tcp(&[(0, 1, 1)])]);
    let mut w = worker(&snap, 16);
    let c1 = client(1);
    let (c, _) = open!(w, w.process_in(&snap, &syn(c1, 5), 0, &mut NoHooks));
    w.process_out(&snap, &rout(1, c1, 5, TcpFlags::RST_ACK), 1)
        .unwrap();
    assert_eq!(state(&w, c), "CLOSE");
    assert_eq!(counts(&w, 0, 0), (0, 1, 0));
    let (c, _) = open!(w, w.process_in(&snap, &syn(c1, 6), 2, &mut NoHooks));
    w.process_out(&snap, &rout(1, c1, 6, TcpFlags::SYN_ACK), 3)
        .unwrap();
    w.process_in(&snap, &cin(c1, 6, TcpFlags::ACK), 4, &mut NoHooks)
        .unwrap();
    assert_eq!(counts(&w, 0, 0), (1, 1, 0));
    w.process_in(&snap, &cin(c1, 6, TcpFlags::FIN_ACK), 5, &mut NoHooks)
        .unwrap();
    w.process_out(&snap, &rout(1, c1, 6, TcpFlags::FIN_ACK), 5)
        .unwrap();
    assert_eq!(state(&w, c), "TIME_WAIT");
    assert_eq!(counts(&w, 0, 0), (0, 2, 0));
    check_counts(&w, &snap);
}

#[test]
fn first_packet_rules() {
    let snap = snapshot(1, Settings::default(), &[Svc::tcp(&[(0, 1, 1)])]);
    let mut w = worker(&snap, 16);
    let c1 = client(1);
    assert_eq!(
        w.process_in(&snap, &cin(c1, 9, TcpFlags::ACK), 0, &mut NoHooks),
        Err(DropReason::NotSyn)
    );
    assert_eq!(
        w.process_in(&snap, &cin(c1, 9, TcpFlags(0x06)), 0, &mut NoHooks),
        Err(DropReason::NotSyn),
        "SYN+RST is not scheduled"
    );
    let other = Packet::new(TCP, c1, 9, ip(192, 0, 2, 99), 80).with_flags(TcpFlags::SYN);
    assert_eq!(
        w.process_in(&snap, &other, 0, &mut NoHooks),
        Err(DropReason::NoService)
    );
    assert_eq!(
        w.process_in(&snap, &syn(c1, FTPDATA), 0, &mut NoHooks),
        Err(DropReason::FtpData)
    );
    let sctp = Packet::new(132, c1, 9, IpAddr::V4(VIP), 80);
    assert_eq!(
        w.process_in(&snap, &sctp, 0, &mut NoHooks),
        Err(DropReason::UnsupportedProtocol)
    );
    assert_eq!(w.drops().get(DropReason::NotSyn), 2);
    assert_eq!(w.drops().total(), 5);
    assert!(w.table().is_empty());
    // sloppy_tcp: an ACK opens a connection, straight to ESTABLISHED
    let snap = snapshot(
        2,
        Settings {
            sloppy_tcp: true,
            ..Default::default()
        },
        &[Svc::tcp(&[(0, 1, 1)])],
    );
    let mut w = worker(&snap, 16);
    let (c, _) = open!(
        w,
        w.process_in(&snap, &cin(c1, 9, TcpFlags::ACK), 0, &mut NoHooks)
    );
    assert_eq!(state(&w, c), "ESTABLISHED");
    assert_eq!(counts(&w, 0, 0), (1, 0, 0));
}

#[test]
fn table_full_is_a_named_drop() {
    let snap = snapshot(1, Settings::default(), &[Svc::tcp(&[(0, 1, 1)])]);
    let mut w = worker(&snap, 3);
    for p in 1..=3 {
        w.process_in(&snap, &syn(client(1), p), 0, &mut NoHooks)
            .unwrap();
    }
    assert_eq!(
        w.process_in(&snap, &syn(client(1), 4), 0, &mut NoHooks),
        Err(DropReason::ConnTableFull)
    );
    assert_eq!(w.drops().get(DropReason::ConnTableFull), 1);
    // existing connections still work
    assert!(w
        .process_in(&snap, &cin(client(1), 2, TcpFlags::ACK), 1, &mut NoHooks)
        .is_ok());
    check_counts(&w, &snap);
}

fn persistent_svc(timeout_s: u32, mask: [u8; 4]) -> Svc {
    let mut s = Svc::tcp(&[(0, 1, 1), (1, 2, 1), (2, 3, 1)]);
    s.flags = IP_VS_SVC_F_PERSISTENT;
    s.timeout_s = timeout_s;
    s.netmask = Netmask::from_ipvs(false, mask);
    s
}

#[test]
fn persistence_with_netmask() {
    let snap = snapshot(
        1,
        Settings::default(),
        &[persistent_svc(300, [255, 255, 255, 0])],
    );
    let mut w = worker(&snap, 64);
    // rr would spread these; the /24 template keeps them on one dest
    let mut dests = vec![];
    for (n, port) in [(7, 1000), (200, 1001), (7, 1002), (99, 1003)] {
        let (_, c) = open!(
            w,
            w.process_in(&snap, &syn(client(n), port), 0, &mut NoHooks)
        );
        dests.push(c.daddr());
        assert!(c.control().is_some());
    }
    assert!(dests.iter().all(|d| *d == dests[0]), "{dests:?}");
    let templates: Vec<_> = w.table().iter().filter(|(_, e)| e.is_template()).collect();
    assert_eq!(templates.len(), 1);
    let t = templates[0].1;
    assert_eq!(t.caddr(), client(0), "masked to the /24");
    assert_eq!((t.cport(), t.vport(), t.dport()), (0, 80, 8080));
    assert_eq!(t.n_control(), 4);
    assert_eq!(counts(&w, 0, 0), (4, 0, 1));
    // another /24 gets the next dest
    let (_, c) = open!(
        w,
        w.process_in(&snap, &syn(ip(203, 0, 113, 5), 1), 0, &mut NoHooks)
    );
    assert_ne!(c.daddr(), dests[0]);
    check_counts(&w, &snap);
}

#[test]
fn template_outlives_its_timeout_while_it_controls_connections() {
    let snap = snapshot(
        1,
        Settings::default(),
        &[persistent_svc(10, [255, 255, 255, 255])],
    );
    let mut w = worker(&snap, 64);
    let c1 = client(1);
    let (c, conn) = open!(w, w.process_in(&snap, &syn(c1, 1), 0, &mut NoHooks));
    let ct = conn.control().unwrap();
    w.process_in(&snap, &cin(c1, 1, TcpFlags::ACK), 0, &mut NoHooks)
        .unwrap();
    assert!(w.table().get(ct).is_assured());
    // at 10 s the template is due but controls one connection: kept 60 s more
    assert_eq!(w.expire(&snap, 10_064, &mut NoHooks), 0);
    assert!(w.table().is_live(ct));
    assert_eq!(w.table().get(ct).timeout_ms(), 60_000);
    // the connection closes; the template goes at its next expiry
    w.process_in(&snap, &cin(c1, 1, TcpFlags::RST), 20_000, &mut NoHooks)
        .unwrap();
    assert_eq!(
        w.expire(&snap, 30_064, &mut NoHooks),
        1,
        "the RST'd connection"
    );
    assert!(!w.table().is_live(c));
    assert!(w.table().is_live(ct));
    assert_eq!(counts(&w, 0, 0), (0, 0, 1));
    assert_eq!(
        w.expire(&snap, 70_063, &mut NoHooks),
        0,
        "re-armed at 10.064 s for 60 s"
    );
    assert_eq!(w.expire(&snap, 70_127, &mut NoHooks), 1, "the template");
    assert!(w.table().is_empty());
    assert_eq!(counts(&w, 0, 0), (0, 0, 0));
}

#[test]
fn template_expiry_lets_the_scheduler_choose_again() {
    let snap = snapshot(
        1,
        Settings::default(),
        &[persistent_svc(10, [255, 255, 255, 255])],
    );
    let mut w = worker(&snap, 64);
    let c1 = client(1);
    let (_, a) = open!(w, w.process_in(&snap, &syn(c1, 1), 0, &mut NoHooks));
    w.process_in(&snap, &cin(c1, 1, TcpFlags::ACK), 0, &mut NoHooks)
        .unwrap();
    w.process_in(&snap, &cin(c1, 1, TcpFlags::RST), 0, &mut NoHooks)
        .unwrap();
    // connection gone at 10 s (CLOSE), template at 10 s too
    assert_eq!(w.expire(&snap, 10_064, &mut NoHooks), 2);
    let (_, b) = open!(w, w.process_in(&snap, &syn(c1, 2), 20_000, &mut NoHooks));
    assert_ne!(a.daddr(), b.daddr(), "rr moved on");
    // a template is refreshed by each new connection through it
    let (_, c) = open!(w, w.process_in(&snap, &syn(c1, 3), 25_000, &mut NoHooks));
    assert_eq!(c.daddr(), b.daddr());
}

#[test]
fn fwmark_persistence_template() {
    let mut s = persistent_svc(300, [255, 255, 255, 255]);
    s.fwmark = 7;
    let snap = snapshot(1, Settings::default(), &[s]);
    let mut w = worker(&snap, 64);
    let p1 = syn(client(1), 1).with_mark(7);
    let mut p2 = Packet::new(TCP, client(1), 2, IpAddr::V4(VIP), 443).with_flags(TcpFlags::SYN);
    p2.fwmark = 7;
    let (_, a) = open!(w, w.process_in(&snap, &p1, 0, &mut NoHooks));
    let (_, b) = open!(w, w.process_in(&snap, &p2, 0, &mut NoHooks));
    assert_eq!(
        a.daddr(),
        b.daddr(),
        "one template for every port of the mark"
    );
    assert_eq!(
        (a.dport(), b.dport()),
        (80, 443),
        "fwmark keeps the packet's port"
    );
    let t = w.table().get(a.control().unwrap());
    assert_eq!((t.protocol(), t.vport()), (0, 0));
    assert_eq!(t.vaddr(), ip(0, 0, 0, 7), "the mark stands in for the VIP");
}

#[test]
fn quiescent_dest_gets_nothing_new_but_keeps_its_connections() {
    let snap1 = snapshot(1, Settings::default(), &[Svc::tcp(&[(0, 1, 1), (1, 2, 1)])]);
    let mut w = worker(&snap1, 64);
    let (c1, a) = open!(w, w.process_in(&snap1, &syn(client(1), 1), 0, &mut NoHooks));
    let (c2, b) = open!(w, w.process_in(&snap1, &syn(client(1), 2), 0, &mut NoHooks));
    assert_ne!(a.daddr(), b.daddr());
    // dest 1 (rs 1) quiesced
    let snap2 = snapshot(2, Settings::default(), &[Svc::tcp(&[(0, 1, 0), (1, 2, 1)])]);
    w.apply_snapshot(&snap1, &snap2);
    for p in 10..20 {
        let (_, c) = open!(w, w.process_in(&snap2, &syn(client(2), p), 1, &mut NoHooks));
        assert_eq!(c.daddr(), rs(2));
    }
    let old = if a.daddr() == rs(1) { (c1, 1) } else { (c2, 2) };
    assert_eq!(
        w.process_in(
            &snap2,
            &cin(client(1), old.1, TcpFlags::ACK),
            2,
            &mut NoHooks
        ),
        Ok(Scheduled::Conn(old.0))
    );
    assert_eq!(state(&w, old.0), "ESTABLISHED");
    check_counts(&w, &snap2);
}

#[test]
fn quiescent_template_with_and_without_the_sysctl() {
    let mut s = persistent_svc(300, [255, 255, 255, 255]);
    s.dests.truncate(2);
    let snap1 = snapshot(1, Settings::default(), &[s.clone()]);
    let mut w = worker(&snap1, 64);
    let (_, a) = open!(w, w.process_in(&snap1, &syn(client(1), 1), 0, &mut NoHooks));
    let qi = if a.daddr() == rs(1) { 0 } else { 1 };
    s.dests[qi].2 = 0;
    // without expire_quiescent_template the template still sends to the quiesced dest
    let snap2 = snapshot(2, Settings::default(), &[s.clone()]);
    w.apply_snapshot(&snap1, &snap2);
    let (_, b) = open!(w, w.process_in(&snap2, &syn(client(1), 2), 1, &mut NoHooks));
    assert_eq!(b.daddr(), a.daddr());
    // with it, the template is invalidated and the client goes elsewhere
    let set = Settings {
        expire_quiescent_template: true,
        ..Default::default()
    };
    let snap3 = snapshot(3, set, &[s]);
    w.apply_snapshot(&snap2, &snap3);
    let (_, c) = open!(w, w.process_in(&snap3, &syn(client(1), 3), 2, &mut NoHooks));
    assert_ne!(c.daddr(), a.daddr());
    let live_templates = w
        .table()
        .iter()
        .filter(|(_, e)| e.is_template() && e.is_hashed())
        .count();
    assert_eq!(live_templates, 1);
    check_counts(&w, &snap3);
}

#[test]
fn expire_nodest_conn_off_drops_packets_of_a_deleted_dest() {
    let snap1 = snapshot(1, Settings::default(), &[Svc::tcp(&[(0, 1, 1), (1, 2, 1)])]);
    let mut w = worker(&snap1, 64);
    let (c, a) = open!(w, w.process_in(&snap1, &syn(client(1), 1), 0, &mut NoHooks));
    assert_eq!(a.daddr(), rs(1));
    // dest rs1 deleted, in the trash (still in the snapshot, unavailable)
    let mut s = Svc::tcp(&[(0, 1, 1), (1, 2, 1)]);
    s.dests[0].5 = false;
    let snap2 = snapshot(2, Settings::default(), &[s]);
    w.apply_snapshot(&snap1, &snap2);
    assert_eq!(
        w.process_in(&snap2, &cin(client(1), 1, TcpFlags::ACK), 1, &mut NoHooks),
        Err(DropReason::DestUnavailable)
    );
    assert!(w.table().is_live(c), "kept until it times out");
    assert_eq!(w.expire(&snap2, 1_000_000, &mut NoHooks), 1);
    assert_eq!(counts(&w, 0, 0), (0, 0, 0));
}

#[test]
fn expire_nodest_conn_on_expires_and_reschedules() {
    let set = Settings {
        expire_nodest_conn: true,
        ..Default::default()
    };
    let snap1 = snapshot(1, set, &[Svc::tcp(&[(0, 1, 1), (1, 2, 1)])]);
    let mut w = worker(&snap1, 64);
    let (c, _) = open!(w, w.process_in(&snap1, &syn(client(1), 1), 0, &mut NoHooks));
    let (d, _) = open!(w, w.process_in(&snap1, &syn(client(1), 2), 0, &mut NoHooks));
    let (e, _) = open!(w, w.process_in(&snap1, &syn(client(1), 3), 0, &mut NoHooks));
    // rs1 leaves the snapshot altogether
    let snap2 = snapshot(2, set, &[Svc::tcp(&[(1, 2, 1)])]);
    w.apply_snapshot(&snap1, &snap2);
    // a non-SYN packet of a connection to rs1: expired, and not rescheduled
    assert_eq!(
        w.process_in(&snap2, &cin(client(1), 1, TcpFlags::ACK), 1, &mut NoHooks),
        Err(DropReason::NotSyn)
    );
    assert!(!w.table().is_live(c));
    // the flush removes the other connection to rs1 at the next expiry run
    assert!(w.table().is_live(e));
    w.expire(&snap2, 2, &mut NoHooks);
    assert!(!w.table().is_live(e));
    assert!(w.table().is_live(d), "rs2's connection stays");
    // a SYN from the same port is scheduled to rs2
    let (_, n) = open!(w, w.process_in(&snap2, &syn(client(1), 1), 3, &mut NoHooks));
    assert_eq!(n.daddr(), rs(2));
    check_counts(&w, &snap2);
}

#[test]
fn syn_on_time_wait_reuses_the_port() {
    let snap = snapshot(1, Settings::default(), &[Svc::tcp(&[(0, 1, 1), (1, 2, 1)])]);
    let mut w = worker(&snap, 64);
    let c1 = client(1);
    let (c, a) = open!(w, w.process_in(&snap, &syn(c1, 1), 0, &mut NoHooks));
    w.process_in(&snap, &cin(c1, 1, TcpFlags::ACK), 1, &mut NoHooks)
        .unwrap();
    w.process_in(&snap, &cin(c1, 1, TcpFlags::FIN_ACK), 2, &mut NoHooks)
        .unwrap();
    let n = if a.daddr() == rs(1) { 1 } else { 2 };
    w.process_out(&snap, &rout(n, c1, 1, TcpFlags::FIN_ACK), 3)
        .unwrap();
    assert_eq!(state(&w, c), "TIME_WAIT");
    let (c2, b) = open!(w, w.process_in(&snap, &syn(c1, 1), 4, &mut NoHooks));
    assert_eq!(state(&w, c2), "SYN_RECV");
    assert_ne!(a.daddr(), b.daddr(), "rescheduled");
    assert_eq!(w.table().len(), 1);
    // in ESTABLISHED a SYN is just a packet of the connection
    let (c3, _) = open!(
        w,
        w.process_in(&snap, &cin(c1, 1, TcpFlags::ACK), 5, &mut NoHooks)
    );
    assert_eq!(c3, c2);
    assert_eq!(
        w.process_in(&snap, &syn(c1, 1), 6, &mut NoHooks),
        Ok(Scheduled::Conn(c2))
    );
    check_counts(&w, &snap);
    // conn_reuse_mode 0: the old connection keeps the port
    let snap0 = snapshot(
        2,
        Settings {
            conn_reuse_mode: 0,
            ..Default::default()
        },
        &[Svc::tcp(&[(0, 1, 1), (1, 2, 1)])],
    );
    let mut w = worker(&snap0, 64);
    let (c, _) = open!(w, w.process_in(&snap0, &syn(c1, 1), 0, &mut NoHooks));
    w.process_in(&snap0, &cin(c1, 1, TcpFlags::RST), 1, &mut NoHooks)
        .unwrap();
    assert_eq!(
        w.process_in(&snap0, &syn(c1, 1), 2, &mut NoHooks),
        Ok(Scheduled::Conn(c))
    );
}

#[test]
fn udp_one_packet_and_persistent_one_packet() {
    let mut s = Svc::tcp(&[(0, 1, 1), (1, 2, 1)]);
    s.protocol = UDP;
    s.port = 53;
    s.flags = IP_VS_SVC_F_ONEPACKET;
    let snap = snapshot(1, Settings::default(), &[s.clone()]);
    let mut w = worker(&snap, 8);
    let q = Packet::new(UDP, client(1), 5353, IpAddr::V4(VIP), 53).with_len(60);
    let mut seen = vec![];
    for _ in 0..4 {
        match w.process_in(&snap, &q, 0, &mut NoHooks) {
            Ok(Scheduled::OnePacket(op)) => seen.push(op.daddr),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        seen,
        [rs(1), rs(2), rs(1), rs(2)],
        "every datagram scheduled anew"
    );
    // NAT: each datagram left an entry for its reply, in the out index only, not counted
    assert_eq!(w.table().len(), 4);
    assert!(w.table().iter().all(|(_, c)| c.is_one_packet()));
    assert_eq!(w.table().lookup_in(&q.key()), None);
    assert_eq!(counts(&w, 0, 0), (0, 0, 0));
    assert_eq!(w.service_stats(0).conns, 4);
    assert_eq!(w.service_stats(0).inbytes, 240);
    // the reply of the datagram sent to rs2 is matched and counted, without state
    let reply = Packet::new(UDP, rs(2), 8080, client(1), 5353).with_len(100);
    let c = w.process_out(&snap, &reply, 1000).expect("reply matched");
    assert!(w.table().get(c).is_one_packet());
    assert_eq!(w.table().get(c).daddr(), rs(2));
    assert_eq!(w.service_stats(0).outbytes, 100);
    // they go after ONE_PACKET_TIMEOUT_MS (the answered one after its reply), uncounted
    assert_eq!(w.expire(&snap, 2_999, &mut NoHooks), 0);
    assert_eq!(w.expire(&snap, 3_100, &mut NoHooks), 3);
    assert_eq!(w.expire(&snap, 4_100, &mut NoHooks), 1);
    assert!(w.table().is_empty());
    assert_eq!(counts(&w, 0, 0), (0, 0, 0));
    // persistent one-packet: the template exists, datagrams follow it
    s.flags |= IP_VS_SVC_F_PERSISTENT;
    let snap = snapshot(2, Settings::default(), &[s]);
    let mut w = worker(&snap, 8);
    let mut seen = vec![];
    for _ in 0..3 {
        match w.process_in(&snap, &q, 0, &mut NoHooks) {
            Ok(Scheduled::OnePacket(op)) => seen.push(op.daddr),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, [rs(1), rs(1), rs(1)]);
    // the template and three reply entries, which it does not control
    assert_eq!(w.table().len(), 4);
    assert!(w
        .table()
        .iter()
        .all(|(_, c)| c.is_template() || c.control().is_none()));
    assert_eq!(counts(&w, 0, 0), (0, 0, 1));
}

#[test]
fn one_packet_can_leave_the_overload_flag_set_as_the_kernel_does() {
    let mut s = Svc::tcp(&[(0, 1, 1), (1, 2, 1)]);
    s.protocol = UDP;
    s.port = 53;
    s.dests[0].4 = 4; // rs1: upper threshold 4
    let snap1 = snapshot(1, Settings::default(), &[s.clone()]);
    let mut w = worker(&snap1, 8);
    // three ordinary UDP connections on rs1 (rr alternates)
    for p in 0..5 {
        let q = Packet::new(UDP, client(1), 5000 + p, IpAddr::V4(VIP), 53);
        w.process_in(&snap1, &q, 0, &mut NoHooks).unwrap();
    }
    assert_eq!(counts(&w, 0, 0), (0, 3, 0));
    assert!(!w.counters(0)[0].overloaded);
    // the service becomes one-packet; a datagram scheduled to rs1 binds (3 + 1 >= 4:
    // overload) and unbinds (3 * 4 < 4 * 3 is false: the flag stays)
    s.flags = IP_VS_SVC_F_ONEPACKET;
    let snap2 = snapshot(2, Settings::default(), &[s]);
    w.apply_snapshot(&snap1, &snap2);
    let mut to_rs1 = false;
    for p in 1..=2 {
        let q = Packet::new(UDP, client(2), 6000 + p, IpAddr::V4(VIP), 53);
        if let Ok(Scheduled::OnePacket(op)) = w.process_in(&snap2, &q, 1, &mut NoHooks) {
            to_rs1 |= op.daddr == rs(1);
        }
    }
    assert!(to_rs1);
    assert!(w.counters(0)[0].overloaded);
    assert_eq!(counts(&w, 0, 0), (0, 3, 0));
}

#[test]
fn udp_connection_is_inactive_and_times_out() {
    let mut s = Svc::tcp(&[(0, 1, 1)]);
    s.protocol = UDP;
    s.port = 53;
    let mut set = Settings::default();
    set.timeouts.set_ipvs(0, 0, 30);
    let snap = snapshot(1, set, &[s]);
    let mut w = worker(&snap, 8);
    let q = Packet::new(UDP, client(1), 5353, IpAddr::V4(VIP), 53);
    let (c, _) = open!(w, w.process_in(&snap, &q, 0, &mut NoHooks));
    assert_eq!(state(&w, c), "UDP");
    assert_eq!(counts(&w, 0, 0), (0, 1, 0));
    let reply = Packet::new(UDP, rs(1), 8080, client(1), 5353);
    assert_eq!(w.process_out(&snap, &reply, 10_000), Some(c));
    assert_eq!(w.expire(&snap, 39_999, &mut NoHooks), 0);
    assert_eq!(w.expire(&snap, 40_000, &mut NoHooks), 1);
    assert_eq!(counts(&w, 0, 0), (0, 0, 0));
}

#[test]
fn thresholds_overload_a_dest() {
    let mut s = Svc::tcp(&[(0, 1, 1), (1, 2, 1)]);
    s.sched = "wlc";
    s.dests[0].4 = 2; // rs1 upper threshold 2
    s.dests[0].2 = 100; // and a much higher weight
    let snap = snapshot(1, Settings::default(), &[s]);
    let mut w = worker(&snap, 64);
    let mut got = vec![];
    for p in 1..=5 {
        let (_, c) = open!(w, w.process_in(&snap, &syn(client(1), p), 0, &mut NoHooks));
        got.push(c.daddr());
    }
    // wlc: an idle dest wins first; rs1 then takes its second connection and is overloaded
    assert_eq!(got, [rs(1), rs(2), rs(1), rs(2), rs(2)]);
    assert!(w.counters(0)[0].overloaded);
    assert_eq!(counts(&w, 0, 0), (2, 0, 0));
    // the overload clears below 3/4 of the threshold (1 * 4 < 2 * 3)
    w.process_in(&snap, &cin(client(1), 1, TcpFlags::ACK), 1, &mut NoHooks)
        .unwrap();
    w.process_in(&snap, &cin(client(1), 1, TcpFlags::RST), 1, &mut NoHooks)
        .unwrap();
    w.expire(&snap, 20_000, &mut NoHooks);
    assert!(!w.counters(0)[0].overloaded);
    let (_, c) = open!(
        w,
        w.process_in(&snap, &syn(client(1), 9), 20_001, &mut NoHooks)
    );
    assert_eq!(c.daddr(), rs(1));
}

#[derive(Default)]
struct Fnat {
    next: u16,
    freed: Vec<u16>,
}

impl ConnHooks for Fnat {
    fn local_addr(&mut self, _svc: &Service, _dest: usize) -> Option<(IpAddr, u16)> {
        if self.next >= 2 {
            return None;
        }
        self.next += 1;
        Some((ip(10, 0, 0, 254), 1024 + self.next))
    }
    fn freed(&mut self, conn: &Conn) {
        if let Some((_, p)) = conn.laddr() {
            self.freed.push(p);
        }
    }
}

#[test]
fn full_nat_local_addresses() {
    let mut s = Svc::tcp(&[(0, 1, 1)]);
    s.dests[0].3 = FwdMethod::FullNat;
    let snap = snapshot(1, Settings::default(), &[s]);
    let mut w = worker(&snap, 8);
    let mut h = Fnat::default();
    let (c, conn) = open!(w, w.process_in(&snap, &syn(client(1), 1), 0, &mut h));
    assert_eq!(conn.laddr(), Some((ip(10, 0, 0, 254), 1025)));
    let reply =
        Packet::new(TCP, rs(1), 8080, ip(10, 0, 0, 254), 1025).with_flags(TcpFlags::SYN_ACK);
    assert_eq!(w.process_out(&snap, &reply, 1), Some(c));
    w.process_in(&snap, &syn(client(2), 1), 0, &mut h).unwrap();
    assert_eq!(
        w.process_in(&snap, &syn(client(3), 1), 0, &mut h),
        Err(DropReason::NoLocalAddress)
    );
    assert_eq!(w.table().len(), 2);
    w.expire(&snap, 10_000_000, &mut h);
    h.freed.sort_unstable();
    assert_eq!(h.freed, [1025, 1026]);
}

#[test]
fn counters_follow_dests_across_snapshots() {
    let snap1 = snapshot(1, Settings::default(), &[Svc::tcp(&[(0, 1, 1), (1, 2, 1)])]);
    let mut w = worker(&snap1, 64);
    for p in 1..=4 {
        w.process_in(&snap1, &syn(client(1), p), 0, &mut NoHooks)
            .unwrap();
    }
    assert_eq!(counts(&w, 0, 0), (2, 0, 0));
    // a new dest goes to the head of the list: positions shift, ids do not
    let snap2 = snapshot(
        2,
        Settings::default(),
        &[Svc::tcp(&[(2, 3, 1), (0, 1, 1), (1, 2, 1)])],
    );
    w.apply_snapshot(&snap1, &snap2);
    assert_eq!(counts(&w, 0, 0), (0, 0, 0));
    assert_eq!(counts(&w, 0, 1), (2, 0, 0));
    assert_eq!(counts(&w, 0, 2), (2, 0, 0));
    check_counts(&w, &snap2);
    w.expire(&snap2, 10_000_000, &mut NoHooks);
    check_counts(&w, &snap2);
    assert!(w.table().is_empty());
    let mut totals = StatsTotals::default();
    totals.add(&w.stats_report(&snap2));
    totals.add(&w.stats_report(&snap2));
    assert_eq!(totals.services[&ServiceId { slot: 0, tag: 0 }].conns, 8);
    assert_eq!(totals.dests[&DestId { slot: 0, tag: 0 }].0.conns, 4);
}

#[test]
fn port_zero_service_needs_persistence() {
    let mut s = Svc::tcp(&[(0, 1, 1)]);
    s.port = 0;
    let snap = snapshot(1, Settings::default(), &[s.clone()]);
    let mut w = worker(&snap, 8);
    assert_eq!(
        w.process_in(&snap, &syn(client(1), 1), 0, &mut NoHooks),
        Err(DropReason::PortZeroNotPersistent)
    );
    s.flags = IP_VS_SVC_F_PERSISTENT;
    let snap = snapshot(2, Settings::default(), &[s]);
    let mut w = worker(&snap, 8);
    let (_, c) = open!(w, w.process_in(&snap, &syn(client(1), 1), 0, &mut NoHooks));
    assert_eq!(
        c.dport(),
        80,
        "a port-zero template keeps the packet's port"
    );
    let t = w.table().get(c.control().unwrap());
    assert_eq!((t.vport(), t.dport()), (0, 0));
}

#[test]
fn flush_frees_everything() {
    let snap = snapshot(
        1,
        Settings::default(),
        &[persistent_svc(300, [255, 255, 255, 0])],
    );
    let mut w = worker(&snap, 64);
    for p in 1..10 {
        w.process_in(&snap, &syn(client(p), p as u16), 0, &mut NoHooks)
            .unwrap();
    }
    w.flush(&snap, &mut NoHooks);
    assert!(w.table().is_empty());
    for d in 0..3 {
        assert_eq!(counts(&w, 0, d), (0, 0, 0));
    }
}

#[test]
fn expiry_in_bounded_steps() {
    let snap = snapshot(1, Settings::default(), &[Svc::tcp(&[(0, 1, 1)])]);
    let mut w = worker(&snap, 64);
    for p in 1..=10 {
        w.process_in(&snap, &syn(client(1), p), 0, &mut NoHooks)
            .unwrap();
    }
    // all due at 60 s (SYN_RECV); three per call
    assert_eq!(w.expire_some(&snap, 61_000, 3, &mut NoHooks), 3);
    assert_eq!(w.table().len(), 7);
    assert_eq!(w.expire_some(&snap, 61_000, 3, &mut NoHooks), 3);
    assert_eq!(w.expire(&snap, 61_000, &mut NoHooks), 4);
    assert!(w.table().is_empty());
    assert_eq!(counts(&w, 0, 0), (0, 0, 0));
}

#[test]
fn nodest_flush_takes_assured_templates_too() {
    let set = Settings {
        expire_nodest_conn: true,
        ..Default::default()
    };
    let mut s = persistent_svc(300, [255, 255, 255, 255]);
    s.dests.truncate(1);
    let snap1 = snapshot(1, set, &[s.clone()]);
    let mut w = worker(&snap1, 64);
    let (_, a) = open!(w, w.process_in(&snap1, &syn(client(1), 1), 0, &mut NoHooks));
    w.process_in(&snap1, &cin(client(1), 1, TcpFlags::ACK), 0, &mut NoHooks)
        .unwrap();
    assert!(w.table().get(a.control().unwrap()).is_assured());
    s.dests[0].5 = false; // deleted: to the trash
    let snap2 = snapshot(2, set, &[s]);
    w.apply_snapshot(&snap1, &snap2);
    w.expire(&snap2, 1, &mut NoHooks);
    assert!(w.table().is_empty(), "connection and template flushed");
    assert_eq!(counts(&w, 0, 0), (0, 0, 0));
}

#[test]
fn ipv6_persistence_by_prefix() {
    let mut b = SnapshotBuilder::new(1, Settings::default());
    let vip: IpAddr = "2001:db8::80".parse().unwrap();
    let dests: Vec<DestConfig> = (0..3u32)
        .map(|i| DestConfig {
            id: DestId { slot: i, tag: 0 },
            addr: format!("2001:db8:f::{}", i + 1).parse().unwrap(),
            port: 0,
            weight: 1,
            last_weight: 1,
            fwd: FwdMethod::Masq,
            thresholds: Thresholds::default(),
            available: true,
        })
        .collect();
    b.add_service(
        ServiceConfig {
            id: ServiceId { slot: 0, tag: 0 },
            key: ServiceKey::Tuple {
                addr: vip,
                protocol: TCP,
                port: 443,
            },
            sched_name: "rr".into(),
            flags: IP_VS_SVC_F_PERSISTENT,
            timeout_s: 60,
            netmask: Netmask::from_ipvs(true, 64u32.to_ne_bytes()),
        },
        &dests,
    )
    .unwrap();
    let snap = b.build();
    let mut w = worker(&snap, 16);
    let p = |c: &str, port| {
        Packet::new(TCP, c.parse().unwrap(), port, vip, 443).with_flags(TcpFlags::SYN)
    };
    let (_, a) = open!(
        w,
        w.process_in(&snap, &p("2001:db8:1:2::7", 1), 0, &mut NoHooks)
    );
    let (_, b2) = open!(
        w,
        w.process_in(&snap, &p("2001:db8:1:2:ffff::1", 2), 0, &mut NoHooks)
    );
    let (_, c) = open!(
        w,
        w.process_in(&snap, &p("2001:db8:1:3::7", 3), 0, &mut NoHooks)
    );
    assert_eq!(a.daddr(), b2.daddr());
    assert_ne!(a.daddr(), c.daddr());
    assert_eq!(a.dport(), 443, "dest port 0 keeps the service port");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        In { client: u8, port: u8, flags: u8 },
        Out { client: u8, port: u8, flags: u8 },
        Advance { ms: u32 },
        Flip,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            5 => (0u8..6, 0u8..4, 0u8..5).prop_map(|(client, port, flags)| Op::In { client, port, flags }),
            3 => (0u8..6, 0u8..4, 0u8..5).prop_map(|(client, port, flags)| Op::Out { client, port, flags }),
            2 => (0u32..200_000).prop_map(|ms| Op::Advance { ms }),
            1 => Just(Op::Flip),
        ]
    }

    fn flags(n: u8) -> TcpFlags {
        [
            TcpFlags::SYN,
            TcpFlags::ACK,
            TcpFlags::FIN_ACK,
            TcpFlags::RST,
            TcpFlags::SYN_ACK,
        ][n as usize]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn counts_match_a_recount_and_nothing_leaks(
            ops in proptest::collection::vec(op(), 1..150),
            persistent in any::<bool>(),
            nodest in any::<bool>(),
            dr in any::<bool>(),
        ) {
            let set = Settings { expire_nodest_conn: nodest, ..Default::default() };
            let mk = |dests: &[(u32, u8, i32, bool)]| {
                let mut s = Svc::tcp(&dests.iter().map(|d| (d.0, d.1, d.2)).collect::<Vec<_>>());
                for (d, x) in s.dests.iter_mut().zip(dests) { d.5 = x.3; }
                if persistent {
                    s.flags = IP_VS_SVC_F_PERSISTENT;
                    s.timeout_s = 60;
                    s.netmask = Netmask::from_ipvs(false, [255, 255, 255, 252]);
                }
                if dr {
                    for d in &mut s.dests { d.3 = FwdMethod::DirectRoute; }
                }
                s
            };
            let snaps = [
                snapshot(1, set, &[mk(&[(2, 3, 1, false), (0, 1, 1, true), (1, 2, 2, true)])]),
                // rs1 deleted (trash), rs2 quiesced, rs3 (back from the trash) added
                snapshot(2, set, &[mk(&[(2, 3, 1, true), (0, 1, 1, false), (1, 2, 0, true)])]),
            ];
            let mut cur = 0;
            let mut w = worker(&snaps[0], 24);
            let mut now = 0u64;
            for o in ops {
                let snap = &snaps[cur];
                match o {
                    Op::In { client: c, port, flags: f } => {
                        let p = cin(client(c), 1000 + port as u16, flags(f));
                        let _ = w.process_in(snap, &p, now, &mut NoHooks);
                    }
                    Op::Out { client: c, port, flags: f } => {
                        for n in 1..=3 {
                            let _ = w.process_out(snap, &rout(n, client(c), 1000 + port as u16, flags(f)), now);
                        }
                    }
                    Op::Advance { ms } => {
                        now += ms as u64;
                        w.expire(snap, now, &mut NoHooks);
                    }
                    Op::Flip => {
                        let next = 1 - cur;
                        w.apply_snapshot(&snaps[cur], &snaps[next]);
                        cur = next;
                    }
                }
                let snap = &snaps[cur];
                check_counts(&w, snap);
                prop_assert_eq!(w.table().iter().count(), w.table().len());
                for (r, e) in w.table().iter() {
                    if e.is_template() {
                        if e.is_hashed() {
                            prop_assert_eq!(w.table().lookup_template(&e.in_key()), Some(r));
                        }
                        let controlled = w.table().iter().filter(|(_, x)| x.control() == Some(r)).count();
                        prop_assert_eq!(e.n_control() as usize, controlled);
                    } else {
                        prop_assert_eq!(w.table().lookup_in(&e.in_key()), Some(r));
                        prop_assert_eq!(w.table().lookup_out(&e.out_key()), Some(r));
                        if let Some(ct) = e.control() {
                            prop_assert!(w.table().is_live(ct));
                        }
                    }
                }
            }
            // everything expires in the end, counters go back to zero
            let snap = &snaps[cur];
            for _ in 0..40 {
                now += 100_000;
                w.expire(snap, now, &mut NoHooks);
            }
            prop_assert!(w.table().is_empty());
            for d in w.counters(0) {
                prop_assert_eq!((d.active, d.inactive, d.persistent), (0, 0, 0));
            }
        }
    }
}
