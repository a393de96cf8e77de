//! Katran-style fixture tables for the pipeline: each row is a description, a snapshot, and a
//! conversation of `(input frame, expected output frame or verdict)` steps run through the
//! real [`Pipeline`]. Expected frames are built independently (whole packets with fully
//! computed checksums, as a peer would send them), every forwarded frame is also checked by
//! full checksum recomputation, and the counters must balance after every step.

use super::*;
use crate::dest::Thresholds;
use crate::proto::TcpState;
use crate::sched::{SchedInput, StateParams, SCHEDULERS};
use crate::service::{
    DestConfig, DestId, IdAllocator, Netmask, ServiceConfig, ServiceId, ServiceKey, Settings,
    SnapshotBuilder, IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT,
};
use crate::xmit::testutil::{
    self as tu, build, flow4, flow6, hex, icmp_error_about, verify_frame, with_ttl, NH_MAC,
    OUR_MAC, TUN_SRC4, TUN_SRC6,
};
use proptest::prelude::*;
use std::time::Duration;

// ---------------------------------------------------------------- setup

/// A service for [`snapshot`]: key, scheduler, flags, dests `(address, port, weight, method)`.
struct Svc {
    key: ServiceKey,
    sched: &'static str,
    flags: u32,
    dests: Vec<(IpAddr, u16, i32, FwdMethod)>,
}

fn tuple(proto: u8, vip: Endpoint) -> ServiceKey {
    ServiceKey::Tuple {
        addr: vip.addr,
        protocol: proto,
        port: vip.port,
    }
}

fn snapshot_gen(generation: u64, svcs: &[Svc]) -> Snapshot {
    let mut b = SnapshotBuilder::new(generation, Settings::default());
    let mut ids = IdAllocator::default();
    for (i, s) in svcs.iter().enumerate() {
        let dests: Vec<DestConfig> = s
            .dests
            .iter()
            .map(|&(addr, port, weight, fwd)| {
                let (slot, tag) = ids.alloc();
                DestConfig {
                    id: DestId { slot, tag },
                    addr,
                    port,
                    weight,
                    last_weight: weight.max(1),
                    fwd,
                    thresholds: Thresholds::default(),
                    available: true,
                }
            })
            .collect();
        b.add_service(
            ServiceConfig {
                id: ServiceId {
                    slot: i as u32,
                    tag: 0,
                },
                key: s.key,
                sched_name: s.sched.into(),
                flags: s.flags,
                timeout_s: 300,
                netmask: Netmask::full(s.key.is_v6()),
            },
            &dests,
        )
        .unwrap();
    }
    b.build()
}

fn snapshot(svcs: &[Svc]) -> Snapshot {
    snapshot_gen(1, svcs)
}

/// A one-dest service on the flow's VIP for `proto` (port 0 for ICMP).
fn one(proto: u8, flow: &Flow, fwd: FwdMethod) -> Svc {
    let icmp = proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
    let vip = Endpoint::new(flow.vip.addr, if icmp { 0 } else { flow.vip.port });
    let rport = if icmp { 0 } else { flow.real.port };
    Svc {
        key: tuple(proto, vip),
        sched: "rr",
        flags: 0,
        dests: vec![(flow.real.addr, rport, 1, fwd)],
    }
}

const HEADROOM: usize = 64;
const TAILROOM: usize = 64;

fn hop() -> NextHop {
    NextHop {
        port: 3,
        src_mac: OUR_MAC,
        dst_mac: NH_MAC,
        mtu: 1500,
    }
}

/// A pipeline on a snapshot, with a local address pool and a fixed next hop.
struct Env {
    snap: Snapshot,
    pl: Pipeline,
    pool: LocalAddrPool,
    hop: Option<NextHop>,
    now: u64,
}

struct OptHop(Option<NextHop>);

impl Router for OptHop {
    fn route(&mut self, _dst: IpAddr) -> Option<NextHop> {
        self.0
    }
}

fn config() -> PipelineConfig {
    let mut cfg = PipelineConfig::default();
    cfg.worker.table.capacity = 1024;
    cfg.worker.table.wheel_slots = 256;
    cfg.ttl = TtlPolicy::Decrement;
    cfg.tunnel.src4 = Some(TUN_SRC4);
    cfg.tunnel.src6 = Some(TUN_SRC6);
    cfg.echo_reply = true;
    cfg
}

impl Env {
    fn new(snap: Snapshot) -> Env {
        let pl = Pipeline::new(config(), &snap, 0);
        let pool = LocalAddrPool::new(
            &[flow4().local.unwrap().addr, flow6().local.unwrap().addr],
            5001..=5100,
            0,
            1,
        );
        Env {
            snap,
            pl,
            pool,
            hop: Some(hop()),
            now: 1,
        }
    }

    /// Runs a frame through the pipeline: the verdict and the frame as it is afterwards.
    fn send(&mut self, frame: &[u8]) -> (Verdict, Vec<u8>) {
        let mut raw = vec![0u8; HEADROOM + frame.len() + TAILROOM];
        raw[HEADROOM..HEADROOM + frame.len()].copy_from_slice(frame);
        let mut buf = SliceBuf::new(&mut raw, HEADROOM, frame.len()).unwrap();
        self.now += 10;
        let v = self.pl.process(
            &self.snap,
            &mut buf,
            self.now,
            0,
            &mut OptHop(self.hop),
            &mut self.pool,
        );
        let out = buf.data().to_vec();
        assert_eq!(self.pl.check_counters(), Ok(()), "counters after {v:?}");
        (v, out)
    }

    fn apply(&mut self, new: Snapshot) {
        self.pl.apply_snapshot(&self.snap, &new);
        self.snap = new;
    }

    fn only_conn(&self) -> Conn {
        let conns: Vec<Conn> = self
            .pl
            .worker()
            .table()
            .iter()
            .filter(|(_, c)| !c.is_template())
            .map(|(_, c)| *c)
            .collect();
        assert_eq!(conns.len(), 1, "one connection");
        conns[0]
    }
}

/// What a step expects.
#[derive(Clone, Debug)]
enum Want {
    /// Forwarded as exactly this frame.
    Frame(Vec<u8>),
    /// This verdict (for a drop or the kernel, the frame must be unchanged).
    Verdict(Verdict),
    /// Answered locally as exactly this frame.
    Reply(Vec<u8>),
}

fn drop_x(x: XmitDrop) -> Want {
    Want::Verdict(Verdict::Drop(PacketDrop::Xmit(x)))
}

fn drop_c(r: DropReason) -> Want {
    Want::Verdict(Verdict::Drop(PacketDrop::Core(r)))
}

/// One step of a conversation.
struct Step {
    input: Vec<u8>,
    want: Want,
}

fn step(input: Vec<u8>, want: Want) -> Step {
    Step { input, want }
}

/// A fixture row.
struct Row {
    description: String,
    snap: Snapshot,
    steps: Vec<Step>,
    /// The connection's TCP state name after the last step, if checked.
    final_state: Option<&'static str>,
}

fn check_step(env: &mut Env, d: &str, i: usize, s: &Step) {
    let (v, out) = env.send(&s.input);
    match &s.want {
        Want::Frame(want) => {
            assert!(
                matches!(v, Verdict::Forward { port: 3, .. }),
                "{d} step {i}: {v:?}"
            );
            assert_eq!(hex(&out), hex(want), "{d} step {i}: output bytes");
            if let Err(e) = verify_frame(&out) {
                panic!("{d} step {i}: {e}");
            }
            assert_eq!(
                v,
                Verdict::Forward {
                    port: 3,
                    len: out.len()
                },
                "{d} step {i}"
            );
        }
        Want::Reply(want) => {
            assert_eq!(v, Verdict::LocalReply { len: out.len() }, "{d} step {i}");
            assert_eq!(hex(&out), hex(want), "{d} step {i}: reply bytes");
            if let Err(e) = verify_frame(&out) {
                panic!("{d} step {i}: {e}");
            }
        }
        Want::Verdict(want) => {
            assert_eq!(v, *want, "{d} step {i}");
            assert_eq!(out, s.input, "{d} step {i}: frame changed");
        }
    }
}

fn run(rows: Vec<Row>) {
    for r in rows {
        let mut env = Env::new(r.snap);
        for (i, s) in r.steps.iter().enumerate() {
            check_step(&mut env, &r.description, i, s);
        }
        if let Some(st) = r.final_state {
            let c = env.only_conn();
            assert_eq!(
                TcpState::from_u8(c.state()).map(TcpState::name),
                Some(st),
                "{}: final state",
                r.description
            );
        }
    }
}

// ---------------------------------------------------------------- frames

/// `f` as it leaves towards the next hop.
fn eg(mut f: Vec<u8>) -> Vec<u8> {
    f[0..6].copy_from_slice(&NH_MAC.0);
    f[6..12].copy_from_slice(&OUR_MAC.0);
    f
}

fn tcp(flags: u16, seq: u32, ack: u32, payload: &[u8]) -> tu::L4 {
    tu::L4::Tcp {
        flags,
        seq,
        ack,
        mss: if flags & 0x002 != 0 { Some(1460) } else { None },
        payload: payload.to_vec(),
    }
}

fn udp(payload: &[u8]) -> tu::L4 {
    tu::L4::Udp {
        zero_csum: false,
        payload: payload.to_vec(),
    }
}

fn echo(request: bool) -> tu::L4 {
    echo_id(request, 0x4242)
}

fn echo_id(request: bool, ident: u16) -> tu::L4 {
    tu::L4::Echo {
        request,
        ident,
        payload: b"ping-pong-payload".to_vec(),
    }
}

const SYN: u16 = 0x002;
const ACK: u16 = 0x010;
const SYN_ACK: u16 = 0x012;
const PSH_ACK: u16 = 0x018;
const FIN_ACK: u16 = 0x011;

/// `from -> to` with TTL `ttl`, as received from the wire.
fn pkt(from: Endpoint, to: Endpoint, l4: &tu::L4, ttl: u8) -> Vec<u8> {
    build(from, to, l4, ttl, None)
}

/// The expected frame of an IP-in-IP encapsulation of `inner` (a frame whose IP packet is
/// already as it goes inside) towards `real`.
fn ipip(inner: &[u8], real: IpAddr) -> Vec<u8> {
    ipip_ident(inner, real, 1)
}

/// [`ipip`] with the outer IPv4 identification the pipeline's counter gives this packet
/// (used when DF is clear).
fn ipip_ident(inner: &[u8], real: IpAddr, ident: u16) -> Vec<u8> {
    let ip = &inner[14..];
    let inner_v6 = ip[0] >> 4 == 6;
    let (ttl, proto) = if inner_v6 {
        (ip[7], IpProtocol::IPV6)
    } else {
        (ip[8], IpProtocol::IPIP)
    };
    let mut f = Vec::new();
    f.extend_from_slice(&NH_MAC.0);
    f.extend_from_slice(&OUR_MAC.0);
    match real {
        IpAddr::V4(d) => {
            f.extend_from_slice(&[0x08, 0x00]);
            let at = f.len();
            f.resize(at + 20, 0);
            let df = !inner_v6 && ip[6] & 0x40 != 0;
            ipv4::Ipv4Repr {
                src_addr: TUN_SRC4,
                dst_addr: d,
                next_header: proto,
                payload_len: ip.len(),
                hop_limit: ttl,
                dscp_ecn: 0,
                ident: if df { 0 } else { ident },
                dont_frag: df,
                more_frags: false,
                frag_offset: 0,
            }
            .emit(&mut ipv4::Packet::new_unchecked(&mut f[at..]))
            .unwrap();
        }
        IpAddr::V6(d) => {
            f.extend_from_slice(&[0x86, 0xdd]);
            let at = f.len();
            f.resize(at + 40, 0);
            ipv6::Ipv6Repr {
                src_addr: TUN_SRC6,
                dst_addr: d,
                next_header: proto,
                payload_len: ip.len(),
                hop_limit: ttl,
                traffic_class: 0,
                flow_label: 0,
            }
            .emit(&mut ipv6::Packet::new_unchecked(&mut f[at..]))
            .unwrap();
        }
    }
    f.extend_from_slice(ip);
    f
}

/// What the client's packet becomes on its way in under `fwd`.
fn expect_in(fwd: FwdMethod, flow: &Flow, l4: &tu::L4) -> Vec<u8> {
    match fwd {
        FwdMethod::Masq => eg(pkt(flow.client, flow.real, l4, 63)),
        FwdMethod::FullNat => eg(pkt(flow.local.unwrap(), flow.real, l4, 63)),
        FwdMethod::DirectRoute => eg(pkt(flow.client, flow.vip, l4, 63)),
        FwdMethod::Tunnel => ipip(&pkt(flow.client, flow.vip, l4, 63), flow.real.addr),
        _ => unreachable!(),
    }
}

/// The reply as the real server sends it (NAT: to the client; full-NAT: to LIP:lport).
fn reply_from_rs(fwd: FwdMethod, flow: &Flow, l4: &tu::L4) -> Vec<u8> {
    match fwd {
        FwdMethod::FullNat => pkt(flow.real, flow.local.unwrap(), l4, 64),
        _ => pkt(flow.real, flow.client, l4, 64),
    }
}

/// The reply as the client must see it.
fn reply_to_client(flow: &Flow, l4: &tu::L4) -> Vec<u8> {
    eg(pkt(flow.vip, flow.client, l4, 63))
}

const MODES: [FwdMethod; 4] = [
    FwdMethod::Masq,
    FwdMethod::DirectRoute,
    FwdMethod::Tunnel,
    FwdMethod::FullNat,
];

fn mode_name(f: FwdMethod) -> &'static str {
    match f {
        FwdMethod::Masq => "nat",
        FwdMethod::DirectRoute => "dr",
        FwdMethod::Tunnel => "tun",
        FwdMethod::FullNat => "fnat",
        _ => "?",
    }
}

// ---------------------------------------------------------------- forwarding matrix

/// TCP: handshake, data both ways, FIN from both sides (replies only where they pass us).
fn tcp_row(fwd: FwdMethod, flow: Flow) -> Row {
    let sees_output = fwd.sees_output();
    let mut steps = Vec::new();
    let c = |fl, seq, ack, p: &[u8]| tcp(fl, seq, ack, p);
    let client_pkts = [
        c(SYN, 1000, 0, b""),
        c(ACK, 1001, 5001, b""),
        c(PSH_ACK, 1001, 5001, b"GET / HTTP/1.0\r\n\r\n"),
        c(FIN_ACK, 1019, 5101, b""),
        c(ACK, 1020, 5102, b""),
    ];
    let server_pkts = [
        c(SYN_ACK, 5000, 1001, b""),
        c(PSH_ACK, 5001, 1019, &[0x42; 100]),
        c(FIN_ACK, 5101, 1020, b""),
    ];
    // client SYN, server SYN-ACK, client ACK, client data, server data, client FIN,
    // server FIN, client ACK
    let order: [(bool, usize); 8] = [
        (true, 0),
        (false, 0),
        (true, 1),
        (true, 2),
        (false, 1),
        (true, 3),
        (false, 2),
        (true, 4),
    ];
    for (from_client, i) in order {
        if from_client {
            let l4 = &client_pkts[i];
            steps.push(step(
                pkt(flow.client, flow.vip, l4, 64),
                Want::Frame(expect_in(fwd, &flow, l4)),
            ));
        } else if sees_output {
            let l4 = &server_pkts[i];
            steps.push(step(
                reply_from_rs(fwd, &flow, l4),
                Want::Frame(reply_to_client(&flow, l4)),
            ));
        }
    }
    Row {
        description: format!(
            "{} {} tcp conversation",
            mode_name(fwd),
            if flow.client.addr.is_ipv6() {
                "v6"
            } else {
                "v4"
            }
        ),
        snap: snapshot(&[one(IPPROTO_TCP, &flow, fwd)]),
        steps,
        final_state: Some(if sees_output { "TIME_WAIT" } else { "FIN_WAIT" }),
    }
}

fn udp_row(fwd: FwdMethod, flow: Flow) -> Row {
    let q = udp(b"query");
    let a = udp(b"answer!");
    let mut steps = vec![step(
        pkt(flow.client, flow.vip, &q, 64),
        Want::Frame(expect_in(fwd, &flow, &q)),
    )];
    if fwd.sees_output() {
        steps.push(step(
            reply_from_rs(fwd, &flow, &a),
            Want::Frame(reply_to_client(&flow, &a)),
        ));
    }
    steps.push(step(
        pkt(flow.client, flow.vip, &q, 64),
        Want::Frame(expect_in(fwd, &flow, &q)),
    ));
    Row {
        description: format!(
            "{} {} udp",
            mode_name(fwd),
            if flow.client.addr.is_ipv6() {
                "v6"
            } else {
                "v4"
            }
        ),
        snap: snapshot(&[one(IPPROTO_UDP, &flow, fwd)]),
        steps,
        final_state: None,
    }
}

fn echo_row(fwd: FwdMethod, flow: Flow) -> Row {
    let v6 = flow.client.addr.is_ipv6();
    let proto = if v6 { IPPROTO_ICMPV6 } else { IPPROTO_ICMP };
    let req = echo(true);
    let rep = echo(false);
    let mut steps = Vec::new();
    match fwd {
        FwdMethod::Masq => {
            steps.push(step(
                pkt(flow.client, flow.vip, &req, 64),
                Want::Frame(expect_in(fwd, &flow, &req)),
            ));
            steps.push(step(
                pkt(flow.real, flow.client, &rep, 64),
                Want::Frame(reply_to_client(&flow, &rep)),
            ));
        }
        // the identifier becomes the local port on the way in, the real server answers to
        // it, and the client gets its own identifier back; twice, on the same connection
        FwdMethod::FullNat => {
            let lport = flow.local.unwrap().port;
            for _ in 0..2 {
                steps.push(step(
                    pkt(flow.client, flow.vip, &req, 64),
                    Want::Frame(expect_in(fwd, &flow, &echo_id(true, lport))),
                ));
                steps.push(step(
                    pkt(flow.real, flow.local.unwrap(), &echo_id(false, lport), 64),
                    Want::Frame(reply_to_client(&flow, &rep)),
                ));
            }
        }
        _ => steps.push(step(
            pkt(flow.client, flow.vip, &req, 64),
            Want::Frame(expect_in(fwd, &flow, &req)),
        )),
    }
    Row {
        description: format!(
            "{} {} icmp echo",
            mode_name(fwd),
            if v6 { "v6" } else { "v4" }
        ),
        snap: snapshot(&[one(proto, &flow, fwd)]),
        steps,
        final_state: None,
    }
}

/// ICMP errors from the real server about the SYN we sent it, and from the client side
/// about the SYN-ACK we sent the client, translated to the other side's view.
fn icmp_error_row(fwd: FwdMethod, flow: Flow) -> Row {
    let syn = tcp(SYN, 1000, 0, b"");
    let synack = tcp(SYN_ACK, 5000, 1001, b"");
    let all = usize::MAX;
    let fix = |f: Vec<u8>| eg(with_ttl(&f, 63));
    // what the real server got, and quotes back
    let sent_to_rs = expect_in(fwd, &flow, &syn);
    let rs_side_dst = if fwd == FwdMethod::FullNat {
        flow.local.unwrap().addr
    } else {
        flow.client.addr
    };
    let from_rs = icmp_error_about(&sent_to_rs[14..], flow.real.addr, rs_side_dst, all, 3, 0);
    let to_client = fix(icmp_error_about(
        &pkt(flow.client, flow.vip, &syn, 63)[14..],
        flow.vip.addr,
        flow.client.addr,
        all,
        3,
        0,
    ));
    // what the client got (the SYN-ACK), quoted by a router on its side
    let sent_to_client = reply_to_client(&flow, &synack);
    let from_client = icmp_error_about(
        &sent_to_client[14..],
        flow.client.addr,
        flow.vip.addr,
        all,
        3,
        0,
    );
    let to_rs = match fwd {
        FwdMethod::FullNat => fix(icmp_error_about(
            &pkt(flow.real, flow.local.unwrap(), &synack, 63)[14..],
            flow.local.unwrap().addr,
            flow.real.addr,
            all,
            3,
            0,
        )),
        _ => fix(icmp_error_about(
            &pkt(flow.real, flow.client, &synack, 63)[14..],
            flow.client.addr,
            flow.real.addr,
            all,
            3,
            0,
        )),
    };
    Row {
        description: format!(
            "{} {} icmp errors both ways",
            mode_name(fwd),
            if flow.client.addr.is_ipv6() {
                "v6"
            } else {
                "v4"
            }
        ),
        snap: snapshot(&[one(IPPROTO_TCP, &flow, fwd)]),
        steps: vec![
            step(
                pkt(flow.client, flow.vip, &syn, 64),
                Want::Frame(sent_to_rs),
            ),
            step(from_rs, Want::Frame(to_client)),
            step(
                reply_from_rs(fwd, &flow, &synack),
                Want::Frame(sent_to_client),
            ),
            step(from_client, Want::Frame(to_rs)),
        ],
        final_state: None,
    }
}

/// DR and TUN: an ICMP error from the client side about the real server's direct reply
/// reaches the real server untranslated (the kernel's `ip_vs_icmp_xmit` for DR/TUN).
fn icmp_error_direct_row(fwd: FwdMethod, flow: Flow) -> Row {
    let syn = tcp(SYN, 1000, 0, b"");
    let synack = tcp(SYN_ACK, 5000, 1001, b"");
    // the real server answered the client directly, from the VIP
    let rs_reply = pkt(flow.vip, flow.client, &synack, 63);
    let err = icmp_error_about(
        &rs_reply[14..],
        flow.client.addr,
        flow.vip.addr,
        usize::MAX,
        3,
        0,
    );
    let want = match fwd {
        // the second tunnelled packet: identification 2 (the error's DF is clear)
        FwdMethod::Tunnel => ipip_ident(&with_ttl(&err, 63), flow.real.addr, 2),
        _ => eg(with_ttl(&err, 63)),
    };
    Row {
        description: format!(
            "{} {} icmp error from the client side",
            mode_name(fwd),
            if flow.client.addr.is_ipv6() {
                "v6"
            } else {
                "v4"
            }
        ),
        snap: snapshot(&[one(IPPROTO_TCP, &flow, fwd)]),
        steps: vec![
            step(
                pkt(flow.client, flow.vip, &syn, 64),
                Want::Frame(expect_in(fwd, &flow, &syn)),
            ),
            step(err, Want::Frame(want)),
        ],
        final_state: None,
    }
}

#[test]
fn forwarding_matrix() {
    let mut rows = Vec::new();
    for fwd in MODES {
        for flow in [flow4(), flow6()] {
            rows.push(tcp_row(fwd, flow));
            rows.push(udp_row(fwd, flow));
            rows.push(echo_row(fwd, flow));
        }
    }
    for fwd in [FwdMethod::Masq, FwdMethod::FullNat] {
        for flow in [flow4(), flow6()] {
            rows.push(icmp_error_row(fwd, flow));
        }
    }
    for fwd in [FwdMethod::DirectRoute, FwdMethod::Tunnel] {
        for flow in [flow4(), flow6()] {
            rows.push(icmp_error_direct_row(fwd, flow));
        }
    }
    assert_eq!(rows.len(), 32);
    run(rows);
}

/// Replies count in the worker's service statistics; connections are counted once.
#[test]
fn statistics_follow_the_packets() {
    let row = tcp_row(FwdMethod::Masq, flow4());
    let mut env = Env::new(row.snap);
    for (i, s) in row.steps.iter().enumerate() {
        check_step(&mut env, "stats", i, s);
    }
    let st = env.pl.worker().service_stats(0);
    assert_eq!((st.conns, st.inpkts, st.outpkts), (1, 5, 3));
    let c = env.pl.counters();
    assert_eq!((c.rx, c.forwarded), (8, 8));
}

// ---------------------------------------------------------------- schedulers

fn rs(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 1, 0, i + 1))
}

/// The destination address of a forwarded NAT frame.
fn out_dst(frame: &[u8]) -> IpAddr {
    IpAddr::V4(ipv4::Packet::new_unchecked(&frame[14..]).dst_addr())
}

/// Every scheduler picks through the pipeline: the real server in each output frame is the
/// one the scheduler itself picks for the same input and counters (an oracle state kept in
/// step), and, where the choice is fixed by the algorithm, the one expected by hand.
#[test]
fn every_scheduler_selects_through_the_pipeline() {
    let f = flow4();
    // dests in list order: weights 1, 3, 2
    let weights = [1, 3, 2];
    // (scheduler, expected dest per probe from distinct clients; None: oracle only)
    let table: [(&str, &[Option<u8>]); 15] = [
        ("rr", &[Some(0), Some(1), Some(2), Some(0)]),
        ("wrr", &[Some(1), Some(1), Some(2)]),
        ("lc", &[Some(0), Some(1), Some(2), Some(0)]),
        ("wlc", &[Some(0), Some(1), Some(2)]),
        ("sed", &[Some(1), Some(2)]),
        ("nq", &[Some(0), Some(1), Some(2)]),
        ("dh", &[None, None, None]),
        ("sh", &[None, None, None]),
        ("mh", &[None, None, None]),
        ("lblc", &[None, None, None]),
        ("lblcr", &[None, None, None]),
        ("fo", &[Some(1), Some(1), Some(1)]),
        ("ovf", &[Some(1), Some(1), Some(1), Some(1), Some(2)]),
        ("twos", &[None, None, None, None]),
        ("conhash", &[None, None, None]),
    ];
    assert_eq!(
        table.iter().map(|t| t.0).collect::<Vec<_>>(),
        SCHEDULERS.iter().map(|s| s.name).collect::<Vec<_>>(),
        "every registered scheduler"
    );
    for (name, want) in table {
        let snap = snapshot(&[Svc {
            key: tuple(IPPROTO_TCP, f.vip),
            sched: name,
            flags: 0,
            dests: (0..3)
                .map(|i| (rs(i), 8080, weights[i as usize], FwdMethod::Masq))
                .collect(),
        }]);
        let mut env = Env::new(snap);
        let svc = env.snap.service(0).clone();
        let mut oracle = svc.scheduler.new_state(&StateParams::default());
        for (i, w) in want.iter().enumerate() {
            let client = Endpoint::new(
                IpAddr::V4(Ipv4Addr::new(192, 168, 7, i as u8 + 1)),
                40000 + i as u16,
            );
            let syn = tcp(SYN, 1, 0, b"");
            let input = SchedInput {
                caddr: client.addr,
                cport: client.port,
                vaddr: f.vip.addr,
                vport: f.vip.port,
                protocol: IPPROTO_TCP,
                now: Duration::from_millis(env.now + 10),
            };
            let expect = svc
                .scheduler
                .pick(&mut oracle, &svc.dests, env.pl.worker().counters(0), &input)
                .unwrap();
            let (v, out) = env.send(&pkt(client, f.vip, &syn, 64));
            assert!(matches!(v, Verdict::Forward { .. }), "{name}: {v:?}");
            let real = Endpoint::new(rs(expect as u8), 8080);
            assert_eq!(
                hex(&out),
                hex(&eg(pkt(client, real, &syn, 63))),
                "{name} probe {i}: output frame (oracle dest {expect})"
            );
            if let Some(d) = w {
                assert_eq!(out_dst(&out), rs(*d), "{name} probe {i}");
            }
        }
    }
}

/// Hashing schedulers send the same client (sh, mh, conhash) or destination (dh, lblc) to
/// the same real server whatever the source port.
#[test]
fn hashing_schedulers_are_stable() {
    let f = flow4();
    for name in ["sh", "mh", "conhash", "dh", "lblc", "lblcr"] {
        let snap = snapshot(&[Svc {
            key: tuple(IPPROTO_TCP, f.vip),
            sched: name,
            flags: 0,
            // weights high enough that lblc/lblcr never see their dest overloaded
            dests: (0..3)
                .map(|i| (rs(i), 8080, 100, FwdMethod::Masq))
                .collect(),
        }]);
        let mut env = Env::new(snap);
        let mut seen = None;
        for port in 1000..1010 {
            let client = Endpoint::new(f.client.addr, port);
            let (_, out) = env.send(&pkt(client, f.vip, &tcp(SYN, 1, 0, b""), 64));
            let d = out_dst(&out);
            assert_eq!(*seen.get_or_insert(d), d, "{name}: port {port}");
        }
    }
}

// ---------------------------------------------------------------- persistence, quiescence

fn two_dests(flags: u32, w0: i32) -> Snapshot {
    let f = flow4();
    snapshot(&[Svc {
        key: tuple(IPPROTO_TCP, f.vip),
        sched: "rr",
        flags,
        dests: vec![
            (rs(0), 8080, w0, FwdMethod::Masq),
            (rs(1), 8080, 1, FwdMethod::Masq),
        ],
    }])
}

#[test]
fn persistence_keeps_a_client_on_its_real_server() {
    let f = flow4();
    let mut env = Env::new(two_dests(IP_VS_SVC_F_PERSISTENT, 1));
    let syn = tcp(SYN, 1, 0, b"");
    let a = |port| Endpoint::new(f.client.addr, port);
    let b = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 168, 9, 9)), 5555);
    let (_, o1) = env.send(&pkt(a(1111), f.vip, &syn, 64));
    let (_, o2) = env.send(&pkt(a(2222), f.vip, &syn, 64));
    let (_, o3) = env.send(&pkt(b, f.vip, &syn, 64));
    let (_, o4) = env.send(&pkt(a(3333), f.vip, &syn, 64));
    assert_eq!(out_dst(&o1), rs(0));
    assert_eq!(out_dst(&o2), rs(0), "same client, same dest");
    assert_eq!(out_dst(&o3), rs(1), "another client, the next dest");
    assert_eq!(out_dst(&o4), rs(0));
    // three connections and two templates
    assert_eq!(env.pl.worker().table().len(), 6);
}

#[test]
fn quiescent_dest_keeps_its_flow_and_gets_no_new_one() {
    let f = flow4();
    let mut env = Env::new(two_dests(0, 1));
    let real0 = Endpoint::new(rs(0), 8080);
    let syn = tcp(SYN, 1, 0, b"");
    let (_, o) = env.send(&pkt(f.client, f.vip, &syn, 64));
    assert_eq!(hex(&o), hex(&eg(pkt(f.client, real0, &syn, 63))));
    // dest 0 goes to weight 0 (same ids: the snapshot is rebuilt the same way)
    let mut q = two_dests(0, 0);
    q.generation = 2;
    env.apply(q);
    let data = tcp(PSH_ACK, 2, 1, b"more");
    let (_, o) = env.send(&pkt(f.client, f.vip, &data, 64));
    assert_eq!(
        hex(&o),
        hex(&eg(pkt(f.client, real0, &data, 63))),
        "the established flow stays"
    );
    for i in 0..3u8 {
        let c = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 168, 3, i)), 7000);
        let (_, o) = env.send(&pkt(c, f.vip, &syn, 64));
        assert_eq!(out_dst(&o), rs(1), "new connection {i}");
    }
}

// ---------------------------------------------------------------- exception path, malformed

fn nat_env() -> Env {
    Env::new(snapshot(&[
        one(IPPROTO_TCP, &flow4(), FwdMethod::Masq),
        one(IPPROTO_TCP, &flow6(), FwdMethod::Masq),
        one(IPPROTO_UDP, &flow4(), FwdMethod::Masq),
    ]))
}

fn syn4() -> Vec<u8> {
    let f = flow4();
    pkt(f.client, f.vip, &tcp(SYN, 1000, 0, b""), 64)
}

fn syn6() -> Vec<u8> {
    let f = flow6();
    pkt(f.client, f.vip, &tcp(SYN, 1000, 0, b""), 64)
}

/// Inserts `opts` (a multiple of 4 bytes) as IPv4 options.
fn with_ip_options(frame: &[u8], opts: &[u8]) -> Vec<u8> {
    let mut b = frame[..34].to_vec();
    b.extend_from_slice(opts);
    b.extend_from_slice(&frame[34..]);
    let mut ip = ipv4::Packet::new_unchecked(&mut b[14..]);
    let hl = ip.header_len() + opts.len();
    ip.set_header_len(hl);
    let tl = ip.total_len() + opts.len() as u16;
    ip.set_total_len(tl);
    ip.fill_checksum();
    b
}

/// An IPv6 frame with a fragment header (first fragment, more to come) before TCP.
fn v6_fragment(frame: &[u8]) -> Vec<u8> {
    let mut b = frame[..54].to_vec();
    let nh = b[14 + 6];
    b[14 + 6] = 44;
    b.extend_from_slice(&[nh, 0, 0, 1, 0, 0, 0, 7]);
    b.extend_from_slice(&frame[54..]);
    let pl = u16::from_be_bytes([b[18], b[19]]) + 8;
    b[18..20].copy_from_slice(&pl.to_be_bytes());
    b
}

fn arp() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x52, 0x54, 0, 1, 2, 3, 0x08, 0x06]);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f.resize(60, 0);
    f
}

#[test]
fn exception_path_and_malformed_frames() {
    let f4 = flow4();
    let f6 = flow6();
    let nat_syn4 = eg(pkt(f4.client, f4.real, &tcp(SYN, 1000, 0, b""), 63));
    let other = Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)), 22);
    let opts_nat = with_ip_options(&nat_syn4, &[1, 1, 1, 0]);
    let rows: Vec<(&str, Vec<u8>, Want)> = vec![
        (
            "arp goes to the kernel",
            arp(),
            Want::Verdict(Verdict::ToKernel),
        ),
        (
            "tcp to another address goes to the kernel",
            pkt(f4.client, other, &tcp(SYN, 1, 0, b""), 64),
            Want::Verdict(Verdict::ToKernel),
        ),
        (
            "tcp to a VIP port without a service goes to the kernel",
            pkt(
                f4.client,
                Endpoint::new(f4.vip.addr, 22),
                &tcp(SYN, 1, 0, b""),
                64,
            ),
            Want::Verdict(Verdict::ToKernel),
        ),
        (
            "a non-SYN without a connection is not scheduled",
            pkt(f4.client, f4.vip, &tcp(ACK, 1, 1, b""), 64),
            drop_c(DropReason::NotSyn),
        ),
        (
            "unknown protocol to a VIP goes to the kernel",
            tu::mutate_v4(&syn4(), |ip| ip.set_next_header(IpProtocol(132))),
            Want::Verdict(Verdict::ToKernel),
        ),
        (
            "ttl 1 is dropped",
            with_ttl(&syn4(), 1),
            drop_x(XmitDrop::TtlExpired),
        ),
        (
            "hop limit 1 is dropped",
            with_ttl(&syn6(), 1),
            drop_x(XmitDrop::TtlExpired),
        ),
        (
            "bad ipv4 header checksum",
            tu::bad_ip_checksum(&syn4()),
            drop_x(XmitDrop::BadChecksum),
        ),
        (
            "ipv4 fragment to a VIP",
            tu::mutate_v4(&syn4(), |ip| ip.set_more_frags(true)),
            drop_x(XmitDrop::Fragment),
        ),
        (
            "ipv4 non-first fragment to a VIP",
            tu::mutate_v4(&syn4(), |ip| ip.set_frag_offset(64)),
            drop_x(XmitDrop::Fragment),
        ),
        (
            "ipv4 fragment to another address goes to the kernel",
            tu::mutate_v4(&pkt(f4.client, other, &tcp(SYN, 1, 0, b""), 64), |ip| {
                ip.set_more_frags(true)
            }),
            Want::Verdict(Verdict::ToKernel),
        ),
        (
            "ipv6 fragment to a VIP",
            v6_fragment(&syn6()),
            drop_x(XmitDrop::Fragment),
        ),
        (
            "ipv4 header length below 20",
            tu::mutate_v4(&syn4(), |ip| ip.set_header_len(16)),
            drop_x(XmitDrop::Malformed),
        ),
        (
            "ipv4 total length past the frame",
            tu::mutate_v4(&syn4(), |ip| ip.set_total_len(400)),
            drop_x(XmitDrop::Truncated),
        ),
        (
            "ipv4 total length inside the tcp header",
            tu::mutate_v4(&syn4(), |ip| ip.set_total_len(30)),
            drop_x(XmitDrop::Truncated),
        ),
        (
            "ipv4 version 6 in an ipv4 frame",
            tu::mutate_v4(&syn4(), |ip| ip.set_version(6)),
            drop_x(XmitDrop::Malformed),
        ),
        (
            "tcp data offset past the segment",
            tu::set_byte(&syn4(), 34 + 12, 0xf0),
            drop_x(XmitDrop::Truncated),
        ),
        (
            "tcp data offset below 5",
            tu::set_byte(&syn4(), 34 + 12, 0x20),
            drop_x(XmitDrop::Malformed),
        ),
        (
            "ipv4 options are carried",
            with_ip_options(&syn4(), &[1, 1, 1, 0]),
            Want::Frame(opts_nat),
        ),
        (
            "vlan tag is kept",
            build(f6.client, f6.vip, &tcp(SYN, 7, 0, b""), 64, Some(42)),
            Want::Frame(eg(build(
                f6.client,
                f6.real,
                &tcp(SYN, 7, 0, b""),
                63,
                Some(42),
            ))),
        ),
        (
            "echo request to a VIP is answered",
            pkt(f4.client, f4.vip, &echo(true), 64),
            Want::Reply(swap_macs(pkt(f4.vip, f4.client, &echo(false), 64))),
        ),
        (
            "ipv6 echo request to a VIP is answered",
            pkt(f6.client, f6.vip, &echo(true), 64),
            Want::Reply(swap_macs(pkt(f6.vip, f6.client, &echo(false), 64))),
        ),
        (
            "echo request with a bad checksum",
            tu::flip_byte(&pkt(f4.client, f4.vip, &echo(true), 64), 34 + 2),
            drop_x(XmitDrop::BadChecksum),
        ),
        (
            "echo request to another address goes to the kernel",
            pkt(f4.client, other, &echo(true), 64),
            Want::Verdict(Verdict::ToKernel),
        ),
        (
            "icmp error about an unknown connection goes to the kernel",
            icmp_error_about(&syn4()[14..], f4.real.addr, f4.client.addr, 64, 3, 0),
            Want::Verdict(Verdict::ToKernel),
        ),
        (
            "udp length past the datagram",
            tu::set_byte(&pkt(f4.client, f4.vip, &udp(b"x"), 64), 34 + 4, 0x40),
            drop_x(XmitDrop::Truncated),
        ),
    ];
    let mut env = nat_env();
    for (i, (d, input, want)) in rows.into_iter().enumerate() {
        check_step(&mut env, d, i, &step(input, want));
    }
    // only the two forwarded SYNs made connections
    assert_eq!(env.pl.worker().table().len(), 2);
    assert!(env.pl.worker().drops().get(DropReason::NotSyn) == 1);
}

fn swap_macs(mut f: Vec<u8>) -> Vec<u8> {
    let (a, b) = f.split_at_mut(6);
    a.swap_with_slice(&mut b[..6]);
    f
}

#[test]
fn every_truncation_is_a_named_drop() {
    let f4 = flow4();
    let frames = [
        syn4(),
        syn6(),
        pkt(f4.client, f4.vip, &udp(b"abc"), 64),
        pkt(f4.client, f4.vip, &echo(true), 64),
        icmp_error_about(&syn4()[14..], f4.real.addr, f4.client.addr, 64, 3, 0),
    ];
    let mut env = nat_env();
    for f in frames {
        for len in 0..f.len() {
            let (v, out) = env.send(&f[..len]);
            assert_eq!(
                v,
                Verdict::Drop(PacketDrop::Xmit(XmitDrop::Truncated)),
                "prefix of {len}"
            );
            assert_eq!(out, &f[..len]);
        }
    }
    assert_eq!(env.pl.worker().table().len(), 0);
}

#[test]
fn bad_l4_checksum_is_forwarded_as_the_kernel_does() {
    let mut env = nat_env();
    let bad = tu::flip_byte(&syn4(), 34 + 16);
    let (v, out) = env.send(&bad);
    assert!(matches!(v, Verdict::Forward { .. }));
    assert!(verify_frame(&out).is_err(), "still wrong");
}

#[test]
fn no_route_is_a_named_drop() {
    let mut env = nat_env();
    env.hop = None;
    let (v, _) = env.send(&syn4());
    assert_eq!(v, Verdict::Drop(PacketDrop::NoRoute));
    assert_eq!(env.pl.counters().no_route, 1);
}

/// Two clients pinging through a full-NAT ICMP service with the same identifier get two
/// local ports as identifiers, and each reply goes back to its own client with the
/// client's identifier (IPv4 and ICMPv6).
#[test]
fn full_nat_echo_identifiers_keep_clients_apart() {
    for f in [flow4(), flow6()] {
        let proto = if f.client.addr.is_ipv6() {
            IPPROTO_ICMPV6
        } else {
            IPPROTO_ICMP
        };
        let mut env = Env::new(snapshot(&[one(proto, &f, FwdMethod::FullNat)]));
        let other = match f.client.addr {
            IpAddr::V4(_) => Endpoint::new("192.168.1.11".parse().unwrap(), f.client.port),
            IpAddr::V6(_) => Endpoint::new("2001:db8:c::11".parse().unwrap(), f.client.port),
        };
        let local = f.local.unwrap();
        let clients = [f.client, other];
        for (i, c) in clients.iter().enumerate() {
            let lport = local.port + i as u16;
            let (v, out) = env.send(&pkt(*c, f.vip, &echo(true), 64));
            assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
            let want = eg(pkt(
                Endpoint::new(local.addr, lport),
                f.real,
                &echo_id(true, lport),
                63,
            ));
            assert_eq!(hex(&out), hex(&want), "request of client {i}");
        }
        // replies in the other order
        for (i, c) in clients.iter().enumerate().rev() {
            let lport = local.port + i as u16;
            let from_rs = pkt(
                f.real,
                Endpoint::new(local.addr, lport),
                &echo_id(false, lport),
                64,
            );
            let (v, out) = env.send(&from_rs);
            assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
            assert_eq!(
                hex(&out),
                hex(&eg(pkt(f.vip, *c, &echo(false), 63))),
                "reply to client {i}"
            );
            verify_frame(&out).unwrap();
        }
        // a reply to an identifier no connection holds is not ours
        let stray = pkt(
            f.real,
            Endpoint::new(local.addr, local.port + 7),
            &echo_id(false, local.port + 7),
            64,
        );
        assert_eq!(env.send(&stray).0, Verdict::ToKernel);
    }
}

/// One-packet UDP (`ipvsadm -o`) under full-NAT and NAT: every datagram is scheduled on its
/// own (full-NAT: with a local port of its own), the real server's reply to each is
/// translated back to the client, and the entries with their ports go after
/// `one_packet_timeout_ms`.
#[test]
fn one_packet_udp_replies_come_back() {
    for f in [flow4(), flow6()] {
        for fwd in [FwdMethod::FullNat, FwdMethod::Masq] {
            let mut svc = one(IPPROTO_UDP, &f, fwd);
            svc.flags = IP_VS_SVC_F_ONEPACKET;
            let mut env = Env::new(snapshot(&[svc]));
            let before = env.pool.available();
            let q = udp(b"query");
            let a = udp(b"answer!");
            let local = f.local.unwrap();
            // the same client port twice: two datagrams, two entries
            for i in 0..2u16 {
                let (v, out) = env.send(&pkt(f.client, f.vip, &q, 64));
                assert!(matches!(v, Verdict::Forward { .. }), "{fwd:?} {v:?}");
                let want = match fwd {
                    FwdMethod::FullNat => eg(pkt(
                        Endpoint::new(local.addr, local.port + i),
                        f.real,
                        &q,
                        63,
                    )),
                    _ => expect_in(fwd, &f, &q),
                };
                assert_eq!(hex(&out), hex(&want), "{fwd:?} datagram {i}");
            }
            let table = env.pl.worker().table();
            assert_eq!(table.len(), 2);
            assert!(table.iter().all(|(_, c)| c.is_one_packet()));
            if fwd == FwdMethod::FullNat {
                assert_eq!(env.pool.available(), before - 2);
            }
            // the replies, the second datagram's first
            for i in (0..2u16).rev() {
                let from_rs = match fwd {
                    FwdMethod::FullNat => {
                        pkt(f.real, Endpoint::new(local.addr, local.port + i), &a, 64)
                    }
                    _ => reply_from_rs(fwd, &f, &a),
                };
                let (v, out) = env.send(&from_rs);
                assert!(
                    matches!(v, Verdict::Forward { .. }),
                    "{fwd:?} reply {i}: {v:?}"
                );
                assert_eq!(
                    hex(&out),
                    hex(&reply_to_client(&f, &a)),
                    "{fwd:?} reply {i}"
                );
            }
            // counted as connections, not held as active or inactive ones
            let w = env.pl.worker();
            assert_eq!(w.service_stats(0).conns, 2);
            assert_eq!(w.counters(0)[0].inactive + w.counters(0)[0].active, 0);
            // gone with their ports after the one-packet timeout
            let snap = env.snap.clone();
            let now = env.now;
            assert_eq!(
                env.pl.expire(&snap, now + 1_000, usize::MAX, &mut env.pool),
                0
            );
            let t = u64::from(crate::worker::ONE_PACKET_TIMEOUT_MS);
            assert_eq!(
                env.pl
                    .expire(&snap, now + t + 100, usize::MAX, &mut env.pool),
                2
            );
            assert_eq!(env.pool.available(), before);
            // a late reply is no longer ours
            let late = match fwd {
                FwdMethod::FullNat => pkt(f.real, local, &a, 64),
                _ => reply_from_rs(fwd, &f, &a),
            };
            assert_eq!(env.send(&late).0, Verdict::ToKernel);
        }
    }
}

#[test]
fn full_nat_ports_come_back_when_connections_expire() {
    let f = flow4();
    let mut env = Env::new(snapshot(&[one(IPPROTO_UDP, &f, FwdMethod::FullNat)]));
    let before = env.pool.available();
    for port in 0..10 {
        let c = Endpoint::new(f.client.addr, 2000 + port);
        let (v, _) = env.send(&pkt(c, f.vip, &udp(b"q"), 64));
        assert!(matches!(v, Verdict::Forward { .. }));
    }
    assert_eq!(env.pool.available(), before - 10);
    let snap = env.snap.clone();
    let freed = env.pl.expire(&snap, 1_000_000, usize::MAX, &mut env.pool);
    assert_eq!(freed, 10);
    assert_eq!(env.pool.available(), before);
}

#[test]
fn tunnel_without_a_source_address_is_unsupported() {
    let f = flow4();
    let snap = snapshot(&[one(IPPROTO_TCP, &f, FwdMethod::Tunnel)]);
    let mut cfg = config();
    cfg.tunnel.src4 = None;
    let mut pl = Pipeline::new(cfg, &snap, 0);
    let mut frame = syn4();
    let n = frame.len();
    let mut buf = SliceBuf::new(&mut frame, 0, n).unwrap();
    let v = pl.process(&snap, &mut buf, 1, 0, &mut hop(), &mut NoPool);
    assert_eq!(v, Verdict::Drop(PacketDrop::Xmit(XmitDrop::Unsupported)));
    assert_eq!(pl.check_counters(), Ok(()));
}

struct NoPool;
impl ConnHooks for NoPool {}

// ---------------------------------------------------------------- simulator

#[test]
fn simulator_answers_like_the_pipeline() {
    let f = flow4();
    let snap = snapshot(&[
        Svc {
            key: tuple(IPPROTO_TCP, f.vip),
            sched: "sh",
            flags: 0,
            dests: (0..4)
                .map(|i| (rs(i), 8080, 1, FwdMethod::FullNat))
                .collect(),
        },
        Svc {
            key: tuple(IPPROTO_UDP, f.vip),
            sched: "rr",
            flags: 0,
            dests: vec![(rs(7), 53, 1, FwdMethod::DirectRoute)],
        },
    ]);
    let mut env = Env::new(snap.clone());
    let mut sim = Simulator::new(&snap);
    for i in 0..20u8 {
        let client = Endpoint::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, i)), 1000 + i as u16);
        let t = FiveTuple {
            protocol: IPPROTO_TCP,
            src: client.addr,
            sport: client.port,
            dst: f.vip.addr,
            dport: f.vip.port,
        };
        let got = which_real_server(&snap, &t).unwrap();
        assert_eq!(sim.which_real_server(&snap, &t), Some(got));
        let (_, out) = env.send(&pkt(client, f.vip, &tcp(SYN, 1, 0, b""), 64));
        assert_eq!(out_dst(&out), got.addr, "client {i}");
        assert_eq!((got.port, got.fwd), (8080, FwdMethod::FullNat));
    }
    let t = FiveTuple {
        protocol: IPPROTO_UDP,
        src: f.client.addr,
        sport: 9,
        dst: f.vip.addr,
        dport: 80,
    };
    assert_eq!(
        which_real_server(&snap, &t).map(|r| (r.addr, r.fwd)),
        Some((rs(7), FwdMethod::DirectRoute))
    );
    let t = FiveTuple { dport: 81, ..t };
    assert_eq!(which_real_server(&snap, &t), None, "no service");

    // one-packet full-NAT: every probe scheduled anew, and the simulator, which sees no
    // replies, keeps no reply entries (more probes than its table holds)
    let snap = snapshot(&[Svc {
        key: tuple(IPPROTO_UDP, f.vip),
        sched: "rr",
        flags: IP_VS_SVC_F_ONEPACKET,
        dests: (0..2).map(|i| (rs(i), 53, 1, FwdMethod::FullNat)).collect(),
    }]);
    let mut sim = Simulator::new(&snap);
    let t = FiveTuple {
        protocol: IPPROTO_UDP,
        src: f.client.addr,
        sport: 9,
        dst: f.vip.addr,
        dport: f.vip.port,
    };
    for i in 0..5000u32 {
        let got = sim.which_real_server(&snap, &t).expect("forwarded");
        let want = rs((i % 2) as u8);
        assert_eq!(
            (got.addr, got.port, got.fwd),
            (want, 53, FwdMethod::FullNat)
        );
    }
    assert!(sim.pipeline().worker().table().is_empty());
}

// ---------------------------------------------------------------- properties

fn fuzz_env() -> Env {
    let (f4, f6) = (flow4(), flow6());
    let mut svcs = Vec::new();
    for (i, fwd) in MODES.into_iter().enumerate() {
        for f in [f4, f6] {
            let mut f = f;
            f.vip.port = 80 + i as u16;
            svcs.push(one(IPPROTO_TCP, &f, fwd));
            svcs.push(one(IPPROTO_UDP, &f, fwd));
        }
    }
    svcs.push(one(IPPROTO_ICMP, &f4, FwdMethod::Masq));
    svcs.push(one(IPPROTO_ICMPV6, &f6, FwdMethod::Masq));
    Env::new(snapshot(&svcs))
}

fn valid_frames() -> Vec<Vec<u8>> {
    let (f4, f6) = (flow4(), flow6());
    let mut v = Vec::new();
    for f in [f4, f6] {
        for port in 80..84 {
            let vip = Endpoint::new(f.vip.addr, port);
            v.push(pkt(f.client, vip, &tcp(SYN, 1, 0, b""), 64));
            v.push(pkt(f.client, vip, &tcp(PSH_ACK, 2, 1, b"data"), 64));
            v.push(pkt(f.client, vip, &udp(b"q"), 64));
            v.push(pkt(f.real, f.client, &tcp(SYN_ACK, 1, 2, b""), 64));
            v.push(pkt(f.real, f.local.unwrap(), &udp(b"a"), 64));
        }
        v.push(pkt(f.client, f.vip, &echo(true), 64));
        v.push(pkt(f.real, f.client, &echo(false), 64));
    }
    let err = icmp_error_about(&v[0][14..], f4.real.addr, f4.client.addr, 64, 3, 0);
    v.push(err);
    v.push(arp());
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes never panic and every frame is counted once.
    #[test]
    fn random_bytes_never_panic(frames in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..200), 1..16)) {
        let mut env = fuzz_env();
        for f in &frames {
            let _ = env.send(f);
        }
        prop_assert_eq!(env.pl.counters().rx, frames.len() as u64);
        prop_assert_eq!(env.pl.check_counters(), Ok(()));
    }

    /// Valid frames with a few bytes changed, cut or padded never panic; forwarded frames
    /// are whole; counters balance.
    #[test]
    fn mutated_frames_never_panic(
        picks in proptest::collection::vec(
            (any::<prop::sample::Index>(),
             proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
             prop_oneof![Just(None), (0usize..120).prop_map(Some)]),
            1..24)
    ) {
        let frames = valid_frames();
        let mut env = fuzz_env();
        for (which, muts, cut) in &picks {
            let mut f = which.get(&frames).clone();
            for (at, b) in muts {
                let i = at.index(f.len());
                f[i] = *b;
            }
            if let Some(c) = cut {
                f.truncate(*c);
            }
            let (v, out) = env.send(&f);
            if let Verdict::Forward { len, .. } = v {
                prop_assert_eq!(len, out.len());
            }
        }
        prop_assert_eq!(env.pl.check_counters(), Ok(()));
        prop_assert!(env.pl.worker().table().len() <= env.pl.worker().table().capacity());
    }
}

fn v4_ep(e: Endpoint) -> (Ipv4Addr, u16) {
    match e.addr {
        IpAddr::V4(a) => (a, e.port),
        IpAddr::V6(_) => unreachable!(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The fast path (fixed-offset parse, stored endpoints, the shared IPv4 rewrite) gives
    /// the transforms' bytes exactly, and leaves them what it refuses.
    #[test]
    fn nat4_fast_matches_the_transforms(
        flow in tu::arb_flow().prop_filter("v4", |f| f.client.addr.is_ipv4()),
        l4 in tu::arb_l4().prop_filter("tcp or udp", |l| !matches!(l, tu::L4::Echo { .. })),
        ttl in 1u8..=255,
        full_nat in any::<bool>(),
        out in any::<bool>(),
        decrement in any::<bool>(),
        mtu in prop_oneof![Just(1500u16), 40u16..200],
        padding in 0usize..8,
    ) {
        let (from, to) = if out { (flow.real, flow.client) } else { (flow.client, flow.vip) };
        let mut frame = tu::padded(&build(from, to, &l4, ttl, None), padding);
        let egress = Egress {
            src_mac: OUR_MAC,
            dst_mac: NH_MAC,
            mtu,
            ttl: if decrement { TtlPolicy::Decrement } else { TtlPolicy::Keep },
        };
        let dir = if out { Direction::Out } else { Direction::In };
        let (src, dst) = match (full_nat, dir) {
            (false, Direction::In) => (None, Some(v4_ep(flow.real))),
            (false, Direction::Out) => (Some(v4_ep(flow.vip)), None),
            (true, Direction::In) => (Some(v4_ep(flow.local.unwrap())), Some(v4_ep(flow.real))),
            (true, Direction::Out) => (Some(v4_ep(flow.vip)), Some(v4_ep(flow.client))),
        };
        let mut want = frame.clone();
        let v = if full_nat {
            xmit::fullnat::xmit(&mut want, &flow, dir, &egress, None)
        } else {
            xmit::nat::xmit(&mut want, &flow, dir, &egress)
        };
        let (p, _, _) = parse_fast(&frame).expect("a plain IPv4 frame");
        let before = frame.clone();
        match nat4_fast(&mut frame, &p, src, dst, &egress) {
            Some(len) => {
                prop_assert_eq!(Ok(len), v.map(|f| f.len));
                prop_assert_eq!(hex(&frame), hex(&want));
            }
            None => {
                prop_assert!(v.is_err(), "fast path refused what the transform took");
                prop_assert_eq!(frame, before);
            }
        }
    }
}

/// The pool hands out this worker's slice of the ports, of the real server's family, and an
/// exhausted pool is the connection layer's named drop.
#[test]
fn local_address_pool_slices_and_runs_out() {
    let f = flow4();
    let snap = snapshot(&[one(IPPROTO_UDP, &f, FwdMethod::FullNat)]);
    let lip4 = f.local.unwrap().addr;
    let mut pool = LocalAddrPool::new(&[flow6().local.unwrap().addr, lip4], 1000..=1011, 1, 4);
    assert_eq!(pool.available(), 6, "1001, 1005, 1009 on each address");
    let mut pl = Pipeline::new(config(), &snap, 0);
    let mut ports = Vec::new();
    for i in 0..4u16 {
        let c = Endpoint::new(f.client.addr, 3000 + i);
        let mut frame = pkt(c, f.vip, &udp(b"q"), 64);
        let n = frame.len();
        let mut buf = SliceBuf::new(&mut frame, 0, n).unwrap();
        let v = pl.process(&snap, &mut buf, 1, 0, &mut hop(), &mut pool);
        if i < 3 {
            assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
            let out = buf.data();
            assert_eq!(
                IpAddr::V4(ipv4::Packet::new_unchecked(&out[14..]).src_addr()),
                lip4
            );
            ports.push(u16::from_be_bytes([out[34], out[35]]));
        } else {
            assert_eq!(
                v,
                Verdict::Drop(PacketDrop::Core(DropReason::NoLocalAddress))
            );
        }
    }
    assert_eq!(ports, [1001, 1005, 1009]);
    assert_eq!(pl.check_counters(), Ok(()));
    assert_eq!(pl.worker().drops().get(DropReason::NoLocalAddress), 1);
}

// ---------------------------------------------------------------- TOA

/// With `toa`, the client's handshake-completing ACK reaches the real server with DPVS's TOA
/// option (kind 254, the client's port and address) and checksums that verify; the SYN and
/// later segments go without it, and without `toa` nothing changes.
#[test]
fn toa_rides_on_the_handshake_completing_ack() {
    for (flow, toa_len) in [(flow4(), 8usize), (flow6(), 20)] {
        let snap = snapshot(&[one(IPPROTO_TCP, &flow, FwdMethod::FullNat)]);
        let mut env = Env::new(snap.clone());
        env.pl = Pipeline::new(PipelineConfig { toa: true, ..config() }, &snap, 0);
        let syn = tcp(SYN, 1000, 0, b"");
        let (_, out) = env.send(&pkt(flow.client, flow.vip, &syn, 64));
        assert_eq!(out, expect_in(FwdMethod::FullNat, &flow, &syn), "the SYN as without TOA");
        let syn_ack = tcp(SYN_ACK, 5000, 1001, b"");
        env.send(&reply_from_rs(FwdMethod::FullNat, &flow, &syn_ack));
        let ack = tcp(ACK, 1001, 5001, b"");
        let (v, out) = env.send(&pkt(flow.client, flow.vip, &ack, 64));
        let plain = expect_in(FwdMethod::FullNat, &flow, &ack);
        assert_eq!(v, Verdict::Forward { port: 3, len: plain.len() + toa_len });
        verify_frame(&out).unwrap_or_else(|e| panic!("{e}: {}", hex(&out)));
        // the option sits right after the fixed TCP header
        let tcp_at = out.len() - 20 - toa_len;
        let opt = &out[tcp_at + 20..];
        assert_eq!((opt[0], usize::from(opt[1])), (254, toa_len), "{}", hex(&out));
        assert_eq!(u16::from_be_bytes([opt[2], opt[3]]), flow.client.port);
        let addr = match flow.client.addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        assert_eq!(&opt[4..], &addr[..]);
        assert_eq!(out[tcp_at + 12] >> 4, ((20 + toa_len) / 4) as u8, "data offset grown");
        // the next segment goes without it
        let data = tcp(PSH_ACK, 1001, 5001, b"GET / HTTP/1.0\r\n\r\n");
        let (_, out) = env.send(&pkt(flow.client, flow.vip, &data, 64));
        assert_eq!(out, expect_in(FwdMethod::FullNat, &flow, &data));
        // without the option configured, the ACK is as ever
        let mut plain_env = Env::new(snap.clone());
        plain_env.send(&pkt(flow.client, flow.vip, &syn, 64));
        plain_env.send(&reply_from_rs(FwdMethod::FullNat, &flow, &syn_ack));
        let (_, out) = plain_env.send(&pkt(flow.client, flow.vip, &ack, 64));
        assert_eq!(out, plain);
    }
}
