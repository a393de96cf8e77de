//! dpvsd forwards real traffic: its DPDK dataplane on `net_af_packet` ports in the lb
//! namespace of the testbed, configured with Debian's ipvsadm through the shim, in front of
//! real HTTP servers and UDP echo servers (harness: `dpvs_e2e::dataplane`).
//!
//! For full-NAT, NAT, DR and TUN (IPIP, GRE, GUE), with TCP and UDP, over IPv4 and IPv6, the
//! tests check what an operator would:
//! - every request is answered, by the real server the scheduler says (round-robin in the
//!   kernel's order: the dest added last first, see [`rr_service`]; wrr 3:1 exactly; a
//!   persistent service keeps a client on one server), and the real server sees the client
//!   (NAT, DR, TUN) or dpvsd's local address (full-NAT) as its peer;
//! - `ipvsadm -Ln --stats --exact` counts the traffic sent: connections exactly, UDP packets
//!   and bytes exactly (every datagram is answered once; IP total length = header + 8 +
//!   payload), TCP packets at least what a connection needs, no out-direction for DR and
//!   TUN, dests adding up to their service; `-Z` zeroes; `--rate` estimates;
//! - `ipvsadm -Ln` shows ActiveConn/InActConn, `ipvsadm -Lnc` lists the connections (both
//!   workers'), TIME_WAIT with the kernel's 2 minutes;
//! - a deleted dest gets no new connections and its established ones get no more packets
//!   (the kernel's expire_nodest_conn 0); a weight-0 dest keeps its established connection;
//! - connections expire as `ipvsadm --set` says;
//! - 1 MB goes both ways (TUN: the client learns the smaller path MTU from dpvsd);
//!   ICMP port unreachable and TCP resets reach the client; a client port reused after a
//!   reset gets a new connection; TTL kept (DPVS) or decremented (`ttl = decrement`);
//! - the same with two workers (200 concurrent connections; both workers' local-port slices
//!   used; an idle dpvsd uses little CPU);
//! - a restart keeps the services (and full-NAT does not collide with the real servers'
//!   TIME_WAIT of the previous run), SIGHUP applies `masquerade_fullnat` and new addresses.
//!
//! Each test has its own testbed (namespaces, dpvsd with its own EAL file prefix), so they run
//! in parallel; all of it is removed when the test ends, also on failure. Root only.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::IpAddr;
use std::thread;
use std::time::{Duration, Instant};

use dpvs_e2e::dataplane::{
    body, eal_runtime_dir, http_gets, http_gets_parallel, http_gets_path, http_gets_with,
    keepalive_client, ping, ping_tries, same_port_gets, skip, tcp_active_opens, transfer,
    udp_exchange, udp_exchange_paced, udp_flows, udp_parallel, udp_probe, wrk, DataplaneTestbed,
    Setup, StatsTable, LADDR4, LADDR6,
};
use dpvs_e2e::netns::netns_list;
use dpvs_e2e::netns::{CLIENT4, CLIENT6, VIP4, VIP6};

const HTTP_PORT: u16 = 80;
const UDP_PORT: u16 = 9000;
/// UDP payload bytes per datagram.
const UDP_SIZE: usize = 100;
/// IPv4 total length of one such datagram.
const UDP_IP_LEN4: u64 = 20 + 8 + UDP_SIZE as u64;
/// IPv6: 40-byte header, 8 UDP, payload.
const UDP_IP_LEN6: u64 = 40 + 8 + UDP_SIZE as u64;

/// `ADDR:PORT` as ipvsadm takes and prints it.
fn ap(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// Adds service `proto` (`-t`/`-u`) `vip:port` with round-robin, and every real server of
/// the testbed (rs0 first) as a dest with forwarding flag `fwd` (`-m`, `-g`, `-i`). Returns
/// the service's address as ipvsadm prints it, and the dests' server names in round-robin
/// order.
///
/// That order is the kernel's: a new dest goes to the head of the service's list
/// (`list_add_rcu(&dest->n_list, &svc->destinations)` in `__ip_vs_update_dest`) and `rr`
/// walks the list from its head, so the first connection goes to the dest added last, then
/// backwards through the order of addition. (`ipvsadm -Ln` sorts the dests by address, so its
/// listing does not show this order.)
fn rr_service(
    t: &DataplaneTestbed,
    proto: &str,
    vip: IpAddr,
    port: u16,
    fwd: &str,
) -> (String, Vec<String>) {
    let svc = ap(vip, port);
    t.ipvsadm(&["-A", proto, &svc, "-s", "rr"]);
    for rs in &t.tb.servers {
        let addr = if vip.is_ipv4() {
            IpAddr::V4(rs.addr4)
        } else {
            IpAddr::V6(rs.addr6)
        };
        t.ipvsadm(&["-a", proto, &svc, "-r", &ap(addr, port), fwd]);
    }
    let listed = t.dest_order(&svc);
    assert_eq!(
        listed.len(),
        t.tb.servers.len(),
        "ipvsadm -Ln lists every dest:\n{}",
        t.ipvsadm(&["-Ln"])
    );
    let names = (0..t.tb.servers.len())
        .rev()
        .map(|i| format!("rs{i}"))
        .collect();
    (svc, names)
}

/// `ADDR:PORT` of real server `name` (`rs1`) for a service on `vip:port`.
fn dest_of(t: &DataplaneTestbed, name: &str, vip: IpAddr, port: u16) -> String {
    let i: usize = name.trim_start_matches("rs").parse().expect("rsN");
    let rs = &t.tb.servers[i];
    ap(
        if vip.is_ipv4() {
            IpAddr::V4(rs.addr4)
        } else {
            IpAddr::V6(rs.addr6)
        },
        port,
    )
}

/// `n` GETs through `vip` must be answered in round-robin order over `names`, each server
/// seeing `peer`.
fn expect_round_robin(t: &DataplaneTestbed, vip: IpAddr, names: &[String], n: usize, peer: IpAddr) {
    let got = http_gets(&t.tb.client, vip, HTTP_PORT, n);
    let want: Vec<String> = (0..n)
        .map(|i| body(&names[i % names.len()], peer))
        .collect();
    assert_eq!(
        got, want,
        "answers of {n} new connections to {vip} (round-robin over {names:?})"
    );
}

/// The TCP service's counters after `n` connections spread evenly over its dests.
fn expect_tcp_stats(t: &DataplaneTestbed, svc: &str, n: u64, replies_seen: bool) {
    let stats = t.stats();
    let key = format!("TCP {svc}");
    let s = stats.service(&key);
    assert_eq!(s.conns, n, "service Conns:\n{}", stats.text);
    // a connection is at least SYN, ACK, request, ACK of the answer, FIN (client side) and
    // SYN-ACK, answer, FIN (server side)
    assert!(
        s.inpkts >= 5 * n,
        "service InPkts {} < {}:\n{}",
        s.inpkts,
        5 * n,
        stats.text
    );
    if replies_seen {
        assert!(
            s.outpkts >= 3 * n,
            "service OutPkts {} < {}:\n{}",
            s.outpkts,
            3 * n,
            stats.text
        );
        assert!(s.outbytes > 0, "service OutBytes:\n{}", stats.text);
    } else {
        assert_eq!(
            (s.outpkts, s.outbytes),
            (0, 0),
            "no replies pass dpvsd:\n{}",
            stats.text
        );
    }
    assert!(
        s.inbytes >= 40 * s.inpkts,
        "service InBytes {} for {} packets:\n{}",
        s.inbytes,
        s.inpkts,
        stats.text
    );
    let dests = &stats.services[&key].1;
    assert_eq!(dests.len(), t.tb.servers.len(), "{}", stats.text);
    let per = n / t.tb.servers.len() as u64;
    for (d, c) in dests {
        assert_eq!(c.conns, per, "Conns of dest {d}:\n{}", stats.text);
        assert!(c.inpkts >= 5 * per, "InPkts of dest {d}:\n{}", stats.text);
    }
    let sum = |f: fn(&dpvs_e2e::dataplane::Counters) -> u64| dests.values().map(f).sum::<u64>();
    assert_eq!(
        (
            sum(|c| c.conns),
            sum(|c| c.inpkts),
            sum(|c| c.outpkts),
            sum(|c| c.inbytes),
            sum(|c| c.outbytes)
        ),
        (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes),
        "the dests' counters add up to the service's:\n{}",
        stats.text
    );
}

/// `sockets` x `per` datagrams through `vip:UDP_PORT`, all echoed exactly once; the UDP
/// service then counts exactly that traffic. `replies_seen`: the echoes pass dpvsd (NAT,
/// full-NAT), else they go around it (DR, TUN).
fn expect_udp_exchange(
    t: &DataplaneTestbed,
    svc: &str,
    vip: IpAddr,
    sockets: usize,
    per: usize,
    replies_seen: bool,
) {
    let r = udp_exchange(&t.tb.client, vip, UDP_PORT, sockets, per, UDP_SIZE);
    let n = (sockets * per) as u64;
    assert!(
        r.problems.is_empty(),
        "UDP exchange with {vip}: {:?}",
        r.problems
    );
    assert_eq!(r.echoed as u64, n, "datagrams echoed");
    let ports: BTreeSet<u16> = r.ports.iter().copied().collect();
    assert_eq!(ports.len(), sockets, "distinct client ports: {:?}", r.ports);
    let len = if vip.is_ipv4() {
        UDP_IP_LEN4
    } else {
        UDP_IP_LEN6
    };
    let stats = t.stats();
    let key = format!("UDP {svc}");
    let s = stats.service(&key);
    let out = if replies_seen { (n, n * len) } else { (0, 0) };
    assert_eq!(
        (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes),
        (sockets as u64, n, out.0, n * len, out.1),
        "UDP service counters (Conns InPkts OutPkts InBytes OutBytes) after {n} datagrams of {len} bytes from {sockets} ports:\n{}",
        stats.text
    );
    // round-robin: consecutive sockets alternate over the dests
    let dests = &stats.services[&key].1;
    let k = t.tb.servers.len();
    let mut conns: Vec<u64> = dests.values().map(|c| c.conns).collect();
    conns.sort_unstable();
    let mut want: Vec<u64> = (0..k).map(|i| ((sockets + k - 1 - i) / k) as u64).collect();
    want.sort_unstable();
    assert_eq!(conns, want, "UDP connections per dest:\n{}", stats.text);
    let conn_list = t.conns();
    let udp: Vec<_> = conn_list
        .iter()
        .filter(|c| c.proto == "UDP" && c.virt == *svc)
        .collect();
    assert_eq!(
        udp.len(),
        sockets,
        "ipvsadm -Lnc lists one UDP connection per client port: {conn_list:#?}"
    );
}

/// `ipvsadm -Lnc` lists `n` closing TCP connections of `svc` from `client`, evenly over the
/// dests (within 3 s: the last packets may still be on their way).
fn expect_tcp_conns(t: &DataplaneTestbed, svc: &str, client: IpAddr, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let conns = t.conns();
        let ours: Vec<_> = conns
            .iter()
            .filter(|c| c.proto == "TCP" && c.virt == *svc)
            .collect();
        let prefix = ap(client, 0);
        let prefix = prefix.trim_end_matches('0');
        let from_client = ours.iter().all(|c| c.source.starts_with(prefix));
        let closing = ours.iter().all(|c| {
            ["TIME_WAIT", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "CLOSE"].contains(&c.state.as_str())
        });
        let mut per_dest: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &ours {
            *per_dest.entry(c.dest.as_str()).or_default() += 1;
        }
        let even = per_dest.len() == t.tb.servers.len()
            && per_dest.values().all(|&v| v == n / t.tb.servers.len());
        if ours.len() == n && from_client && closing && even {
            // the kernel's TCP TIME_WAIT timeout is 2 minutes
            for c in ours.iter().filter(|c| c.state == "TIME_WAIT") {
                assert!(
                    (100..=120).contains(&c.expire_s),
                    "TIME_WAIT entry expires in {} s: {c:?}",
                    c.expire_s
                );
            }
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "ipvsadm -Lnc: want {n} closing TCP connections of {svc} from {client}, evenly over the dests; got:\n{}",
                t.ipvsadm(&["-Lnc"])
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// 1 MB down and 1 MB up through `vip:HTTP_PORT`, whole (MTU-sized segments both ways).
fn expect_transfers(t: &DataplaneTestbed, vip: IpAddr) {
    expect_transfers_on(t, vip, HTTP_PORT);
}

fn expect_transfers_on(t: &DataplaneTestbed, vip: IpAddr, port: u16) {
    transfer(&t.tb.client, vip, port, 1_000_000)
        .unwrap_or_else(|e| panic!("1 MB down and up through {}: {e}", ap(vip, port)));
}

/// Refusals reach the client through dpvsd: a UDP datagram to a service whose real servers
/// do not listen comes back as an ICMP port unreachable (the connected socket sees
/// ECONNREFUSED), a TCP SYN as a reset.
fn expect_refusals(t: &DataplaneTestbed, vip: IpAddr) {
    let (usvc, _) = rr_service(t, "-u", vip, 9100, "-m");
    assert_eq!(
        udp_probe(&t.tb.client, vip, 9100),
        "refused",
        "UDP to {usvc}, where nothing listens"
    );
    let (tsvc, _) = rr_service(t, "-t", vip, 8081, "-m");
    let got = http_gets(&t.tb.client, vip, 8081, 1);
    assert!(
        got.len() == 1 && got[0].starts_with("ERR ConnectionRefusedError"),
        "TCP to {tsvc}, where nothing listens: {got:?}"
    );
}

#[test]
fn fullnat_tcp_round_robin_stats_and_connections() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup::default());
    t.start_http_servers(HTTP_PORT);
    let (svc, names) = rr_service(&t, "-t", VIP4.into(), HTTP_PORT, "-m");
    // full-NAT: the real servers see dpvsd's local address, not the client
    expect_round_robin(&t, VIP4.into(), &names, 10, LADDR4.into());
    expect_tcp_stats(&t, &svc, 10, true);
    expect_tcp_conns(&t, &svc, CLIENT4.into(), 10);
    // closed connections count as inactive, per dest, in ipvsadm -Ln
    let table = t.dest_table(&svc);
    let want: BTreeMap<String, (String, i64, u64, u64)> =
        t.tb.servers
            .iter()
            .map(|rs| {
                (
                    ap(rs.addr4.into(), HTTP_PORT),
                    ("Masq".to_string(), 1, 0, 5),
                )
            })
            .collect();
    assert_eq!(
        table,
        want,
        "ipvsadm -Ln (Forward Weight ActiveConn InActConn):\n{}",
        t.ipvsadm(&["-Ln"])
    );
    // the VIP is one of dpvsd's addresses: it answers echo requests
    ping(&t.tb.client, VIP4.into()).unwrap_or_else(|e| panic!("ping the VIP: {e}"));
    expect_transfers(&t, VIP4.into());
}

#[test]
fn fullnat_refusals_reach_the_client() {
    if skip() {
        return;
    }
    let t = DataplaneTestbed::new(Setup::default());
    expect_refusals(&t, VIP4.into());
}

#[test]
fn reused_client_port_gets_a_new_connection() {
    if skip() {
        return;
    }
    // a client port used again right after a reset: the old connection (CLOSE) gives way to a
    // new one, scheduled anew (the kernel's conn_reuse_mode 1), in full-NAT and in NAT alike
    for fullnat in [true, false] {
        let mut t = DataplaneTestbed::new(Setup {
            fullnat,
            ..Setup::default()
        });
        t.start_http_servers(HTTP_PORT);
        let (svc, names) = rr_service(&t, "-t", VIP4.into(), HTTP_PORT, "-m");
        let peer: IpAddr = if fullnat {
            LADDR4.into()
        } else {
            CLIENT4.into()
        };
        let got = same_port_gets(&t.tb.client, VIP4.into(), HTTP_PORT, 4, 41000);
        let want: Vec<String> = (0..4).map(|i| body(&names[i % 2], peer)).collect();
        assert_eq!(
            got, want,
            "4 connections from client port 41000 (full-NAT {fullnat})"
        );
        let stats = t.stats();
        assert_eq!(
            stats.service(&format!("TCP {svc}")).conns,
            4,
            "{}",
            stats.text
        );
    }
}

#[test]
fn fullnat_udp_echo_exact_stats() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup::default());
    t.start_udp_echo_servers(None, UDP_PORT);
    let (svc, _) = rr_service(&t, "-u", VIP4.into(), UDP_PORT, "-m");
    expect_udp_exchange(&t, &svc, VIP4.into(), 4, 5, true);

    // ipvsadm -Z zeroes the counters; the dataplane's counters keep growing under them and
    // only the growth shows afterwards
    t.ipvsadm(&["-Z"]);
    let zeroed = t.stats();
    assert_eq!(
        zeroed.service(&format!("UDP {svc}")),
        Default::default(),
        "after -Z:\n{}",
        zeroed.text
    );
    let r = udp_exchange(&t.tb.client, VIP4.into(), UDP_PORT, 2, 3, UDP_SIZE);
    assert!(r.problems.is_empty() && r.echoed == 6, "{r:?}");
    let after = t.stats();
    let s = after.service(&format!("UDP {svc}"));
    assert_eq!(
        (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes),
        (2, 6, 6, 6 * UDP_IP_LEN4, 6 * UDP_IP_LEN4),
        "6 datagrams from 2 ports after -Z:\n{}",
        after.text
    );

    // --rate: the kernel's estimator (every 2 s, smoothed) over ~80 datagrams a second for
    // more than two of its periods
    let r = udp_exchange_paced(
        &t.tb.client,
        VIP4.into(),
        UDP_PORT,
        1,
        360,
        UDP_SIZE,
        Duration::from_millis(10),
    );
    assert!(r.problems.is_empty() && r.echoed == 360, "{r:?}");
    let rates = StatsTable::parse(&t.ipvsadm(&["-Ln", "--rate", "--exact"]));
    let s = rates.service(&format!("UDP {svc}"));
    assert!(
        (5..=150).contains(&s.inpkts),
        "InPPS {} for ~80 datagrams/s:\n{}",
        s.inpkts,
        rates.text
    );
    assert!(
        (5..=150).contains(&s.outpkts),
        "OutPPS {} for ~80 datagrams/s:\n{}",
        s.outpkts,
        rates.text
    );
    // every datagram is UDP_IP_LEN4 bytes both ways
    for (pps, bps) in [(s.inpkts, s.inbytes), (s.outpkts, s.outbytes)] {
        let want = pps * UDP_IP_LEN4;
        assert!(
            bps.abs_diff(want) <= want / 10 + UDP_IP_LEN4,
            "{bps} B/s for {pps} packets/s:\n{}",
            rates.text
        );
    }
}

#[test]
fn nat_tcp_and_udp_real_servers_see_the_client() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup {
        fullnat: false,
        ..Setup::default()
    });
    t.start_http_servers(HTTP_PORT);
    t.start_udp_echo_servers(None, UDP_PORT);
    let (svc, names) = rr_service(&t, "-t", VIP4.into(), HTTP_PORT, "-m");
    expect_round_robin(&t, VIP4.into(), &names, 10, CLIENT4.into());
    expect_tcp_stats(&t, &svc, 10, true);
    expect_tcp_conns(&t, &svc, CLIENT4.into(), 10);
    let (usvc, _) = rr_service(&t, "-u", VIP4.into(), UDP_PORT, "-m");
    expect_udp_exchange(&t, &usvc, VIP4.into(), 4, 5, true);
    expect_transfers(&t, VIP4.into());
    expect_refusals(&t, VIP4.into());
}

#[test]
fn dr_tcp_and_udp() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup::default());
    t.make_dr_servers();
    t.start_http_servers(HTTP_PORT);
    // bound to the VIP, so that the echo leaves from it
    t.start_udp_echo_servers(Some(VIP4.into()), UDP_PORT);
    let (svc, names) = rr_service(&t, "-t", VIP4.into(), HTTP_PORT, "-g");
    expect_round_robin(&t, VIP4.into(), &names, 10, CLIENT4.into());
    expect_tcp_stats(&t, &svc, 10, false);
    let (usvc, _) = rr_service(&t, "-u", VIP4.into(), UDP_PORT, "-g");
    expect_udp_exchange(&t, &usvc, VIP4.into(), 4, 5, false);
    expect_transfers(&t, VIP4.into());
}

/// TUN with encapsulation `kind` (dpvsd's `[dataplane] tunnel`): TCP and UDP answered by
/// the real servers straight to the client, the encapsulation as the servers received it.
fn tunnel_tcp_and_udp(kind: &str) {
    let mut t = DataplaneTestbed::new(Setup {
        dataplane_extra: vec![
            format!("tunnel = {kind}"),
            "tunnel_source = 10.90.2.1".into(),
        ],
        ..Setup::default()
    });
    t.make_tun_servers(kind);
    let n = t.tb.servers.len();
    t.start_http_servers(HTTP_PORT);
    t.start_udp_echo_servers(Some(VIP4.into()), UDP_PORT);
    let (svc, names) = rr_service(&t, "-t", VIP4.into(), HTTP_PORT, "-i");
    expect_round_robin(&t, VIP4.into(), &names, 10, CLIENT4.into());
    expect_tcp_stats(&t, &svc, 10, false);
    // what the real servers received: the client's packet to the VIP, encapsulated from
    // dpvsd's tunnel source to the server
    let short = kind.split(':').next().unwrap_or(kind);
    for i in 0..n {
        let line = t.procs[i]
            .read_line(Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("{e}"));
        let want = format!(
            "{short} 10.90.2.1 {} {CLIENT4} {VIP4}",
            t.tb.servers[i].addr4
        );
        assert_eq!(line, want, "first encapsulated packet seen by rs{i}");
    }
    let (usvc, _) = rr_service(&t, "-u", VIP4.into(), UDP_PORT, "-i");
    expect_udp_exchange(&t, &usvc, VIP4.into(), 4, 5, false);
    // full-sized segments from the client do not fit the tunnel: dpvsd answers "fragmentation
    // needed" (as the kernel's IPVS does), the client lowers its path MTU, the upload goes on
    expect_transfers(&t, VIP4.into());
}

#[test]
fn tun_ipip_tcp_and_udp() {
    if skip() {
        return;
    }
    tunnel_tcp_and_udp("ipip");
}

#[test]
fn tun_gre_tcp_and_udp() {
    if skip() {
        return;
    }
    tunnel_tcp_and_udp("gre");
}

#[test]
fn tun_gue_tcp_and_udp() {
    if skip() {
        return;
    }
    tunnel_tcp_and_udp("gue:6080");
}

#[test]
fn deleted_dest_gets_no_new_connections() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup::default());
    t.start_http_servers(HTTP_PORT);
    let (svc, names) = rr_service(&t, "-t", VIP4.into(), HTTP_PORT, "-m");
    expect_round_robin(&t, VIP4.into(), &names, 4, LADDR4.into());
    // a keep-alive connection to the dest that goes: the kernel drops the packets of a
    // deleted dest's connections silently (ip_vs_in: "the destination server is not
    // available ... silently drop the packet", expire_nodest_conn = 0, its default)
    let go = std::env::temp_dir().join(format!("{}-go", t.tb.tag()));
    let _ = fs::remove_file(&go);
    let mut ka = keepalive_client(&t.tb.client, VIP4.into(), HTTP_PORT, &go).unwrap();
    let first = ka
        .read_line(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, format!("first {}", body(&names[0], LADDR4.into())));
    // the one that got the keep-alive connection goes; the next new connection would have
    // gone to the other anyway, so check with several
    let gone = dest_of(&t, &names[0], VIP4.into(), HTTP_PORT);
    t.ipvsadm(&["-d", "-t", &svc, "-r", &gone]);
    let listed = t.dest_order(&svc);
    assert_eq!(
        listed,
        [dest_of(&t, &names[1], VIP4.into(), HTTP_PORT)],
        "after ipvsadm -d {gone}"
    );
    let left = names[1].clone();
    let got = http_gets(&t.tb.client, VIP4.into(), HTTP_PORT, 10);
    assert_eq!(
        got,
        vec![body(&left, LADDR4.into()); 10],
        "after ipvsadm -d {gone}"
    );
    fs::write(&go, b"go").unwrap();
    let second = ka.read_line(Duration::from_secs(6));
    let _ = fs::remove_file(&go);
    match second {
        Err(e) if e.contains("TimeoutError") => {}
        other => panic!(
            "the deleted dest's established connection must get no answer (timeout), got {other:?}"
        ),
    }
    let stats = t.stats();
    assert_eq!(
        stats.service(&format!("TCP {svc}")).conns,
        15,
        "{}",
        stats.text
    );
    assert_eq!(
        stats.services[&format!("TCP {svc}")].1.len(),
        1,
        "{}",
        stats.text
    );
}

#[test]
fn weight_zero_dest_keeps_its_established_connection() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup::default());
    t.start_http_servers(HTTP_PORT);
    let (svc, names) = rr_service(&t, "-t", VIP4.into(), HTTP_PORT, "-m");
    let go = t.tb.tag().to_string();
    let go = std::env::temp_dir().join(format!("{go}-go"));
    let _ = fs::remove_file(&go);
    let mut ka = keepalive_client(&t.tb.client, VIP4.into(), HTTP_PORT, &go).unwrap();
    let first = ka
        .read_line(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        first,
        format!("first {}", body(&names[0], LADDR4.into())),
        "the keep-alive connection's first answer"
    );
    let quiesced = dest_of(&t, &names[0], VIP4.into(), HTTP_PORT);
    t.ipvsadm(&["-e", "-t", &svc, "-r", &quiesced, "-m", "-w", "0"]);
    let table = t.dest_table(&svc);
    assert_eq!(
        table.get(&quiesced),
        Some(&("Masq".to_string(), 0, 1, 0)),
        "the quiesced dest: weight 0, one active connection: {table:?}"
    );
    let other = names[1].clone();
    let got = http_gets(&t.tb.client, VIP4.into(), HTTP_PORT, 6);
    assert_eq!(
        got,
        vec![body(&other, LADDR4.into()); 6],
        "new connections after -w 0 on {quiesced}"
    );
    fs::write(&go, b"go").unwrap();
    let second = ka.read_line(Duration::from_secs(5));
    let _ = fs::remove_file(&go);
    assert_eq!(
        second.unwrap_or_else(|e| panic!("{e}")),
        format!("second {}", body(&names[0], LADDR4.into())),
        "the established connection to the weight-0 dest still works"
    );
    let stats = t.stats();
    let d = stats.dest(&format!("TCP {svc}"), &quiesced);
    assert_eq!(d.conns, 1, "{}", stats.text);
}

#[test]
fn connections_expire_as_timed() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup::default());
    t.start_udp_echo_servers(None, UDP_PORT);
    t.start_http_servers(HTTP_PORT);
    t.ipvsadm(&["--set", "5", "5", "2"]);
    assert_eq!(
        t.ipvsadm(&["-L", "--timeout"]),
        "Timeout (tcp tcpfin udp): 5 5 2\n"
    );
    let (usvc, _) = rr_service(&t, "-u", VIP4.into(), UDP_PORT, "-m");
    let (tsvc, _) = rr_service(&t, "-t", VIP4.into(), HTTP_PORT, "-m");
    // an established TCP connection (kept open) and one UDP exchange
    let go = std::env::temp_dir().join(format!("{}-never", t.tb.tag()));
    let mut ka = keepalive_client(&t.tb.client, VIP4.into(), HTTP_PORT, &go).unwrap();
    ka.read_line(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"));
    let r = udp_exchange(&t.tb.client, VIP4.into(), UDP_PORT, 1, 1, UDP_SIZE);
    assert_eq!(r.echoed, 1, "{r:?}");
    let sent = Instant::now();
    let conns = t.conns();
    let udp: Vec<_> = conns
        .iter()
        .filter(|c| c.virt == usvc && c.proto == "UDP")
        .collect();
    assert_eq!(udp.len(), 1, "{conns:#?}");
    assert!(
        udp[0].expire_s <= 2,
        "UDP connection expires in {} s with a 2 s timeout",
        udp[0].expire_s
    );
    let tcp: Vec<_> = conns
        .iter()
        .filter(|c| c.virt == tsvc && c.proto == "TCP")
        .collect();
    assert_eq!(tcp.len(), 1, "{conns:#?}");
    assert_eq!(tcp[0].state, "ESTABLISHED");
    assert!(
        tcp[0].expire_s <= 5,
        "ESTABLISHED connection expires in {} s with a 5 s timeout",
        tcp[0].expire_s
    );
    // the UDP entry is gone about 2 s after its last packet, the TCP one about 5 s after
    let mut udp_gone = None;
    let mut tcp_gone = None;
    while sent.elapsed() < Duration::from_secs(8) && (udp_gone.is_none() || tcp_gone.is_none()) {
        let conns = t.conns();
        if udp_gone.is_none() && !conns.iter().any(|c| c.virt == usvc) {
            udp_gone = Some(sent.elapsed());
        }
        if tcp_gone.is_none() && !conns.iter().any(|c| c.virt == tsvc) {
            tcp_gone = Some(sent.elapsed());
        }
        thread::sleep(Duration::from_millis(100));
    }
    let udp_gone = udp_gone
        .expect("the UDP connection is still listed 8 s after its last packet (timeout 2 s)");
    let tcp_gone = tcp_gone
        .expect("the idle TCP connection is still listed 8 s after its last packet (timeout 5 s)");
    assert!(
        udp_gone >= Duration::from_millis(1000) && udp_gone <= Duration::from_millis(3500),
        "UDP connection gone after {udp_gone:?} (timeout 2 s)"
    );
    assert!(
        tcp_gone >= Duration::from_millis(3500) && tcp_gone <= Duration::from_millis(6500),
        "TCP connection gone after {tcp_gone:?} (timeout 5 s)"
    );
    drop(ka);
}

#[test]
fn many_udp_flows_on_two_workers_expire() {
    if skip() {
        return;
    }
    // 2,000 UDP flows (source ports 20000-21999), one datagram each, through two full-NAT
    // workers: every one answered and counted, listed, then gone with the 2 s UDP timeout
    let mut t = DataplaneTestbed::new(Setup {
        workers: 2,
        ..Setup::default()
    });
    t.start_udp_echo_servers(None, UDP_PORT);
    t.ipvsadm(&["--set", "30", "30", "2"]);
    let (svc, _) = rr_service(&t, "-u", VIP4.into(), UDP_PORT, "-m");
    let (ok, problems) = udp_flows(&t.tb.client, VIP4.into(), UDP_PORT, 20000..22000, UDP_SIZE);
    assert!(
        problems.is_empty() && ok == 2000,
        "{ok} of 2000 flows echoed: {problems:?}"
    );
    let stats = t.stats();
    let s = stats.service(&format!("UDP {svc}"));
    assert_eq!(
        (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes),
        (2000, 2000, 2000, 2000 * UDP_IP_LEN4, 2000 * UDP_IP_LEN4),
        "{}",
        stats.text
    );
    let per: Vec<u64> = stats.services[&format!("UDP {svc}")]
        .1
        .values()
        .map(|c| c.conns)
        .collect();
    assert!(
        per.len() == 2 && per[0].abs_diff(per[1]) <= 2,
        "round-robin on each of two workers: {per:?}\n{}",
        stats.text
    );
    // the last flows are still listed; within 4 s of the last datagram, none is
    let done = Instant::now();
    let listed = t.conns().iter().filter(|c| c.virt == svc).count();
    assert!(
        listed > 0,
        "no UDP connection listed right after 2000 flows"
    );
    loop {
        let listed = t.conns().iter().filter(|c| c.virt == svc).count();
        if listed == 0 {
            break;
        }
        assert!(
            done.elapsed() < Duration::from_secs(4),
            "{listed} UDP connections still listed {:?} after the last datagram (timeout 2 s)",
            done.elapsed()
        );
        thread::sleep(Duration::from_millis(200));
    }
    let table = t.dest_table(&svc);
    assert!(
        table.values().all(|d| d.2 == 0 && d.3 == 0),
        "no connections left per dest: {table:?}"
    );
}

#[test]
fn two_workers_fullnat_tcp_and_udp() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup {
        workers: 2,
        ..Setup::default()
    });
    t.start_http_servers(HTTP_PORT);
    t.start_udp_echo_servers(None, UDP_PORT);
    // idle workers back off: two polling workers and the control thread together use a
    // small part of one core when no traffic comes
    let (cpu0, wall0) = (t.dpvsd_cpu(), Instant::now());
    thread::sleep(Duration::from_secs(2));
    let (cpu, wall) = (t.dpvsd_cpu() - cpu0, wall0.elapsed());
    assert!(
        cpu.as_secs_f64() < 0.25 * wall.as_secs_f64(),
        "idle dpvsd with 2 workers used {cpu:?} of CPU in {wall:?}"
    );
    println!("idle dpvsd with 2 workers: {cpu:?} CPU in {wall:?}");
    let (svc, _) = rr_service(&t, "-t", VIP4.into(), HTTP_PORT, "-m");
    // each worker schedules the connections it owns (by client port) round-robin on its own,
    // so the split is even up to one connection per worker
    let n = 40;
    let got = http_gets_path(&t.tb.client, VIP4.into(), HTTP_PORT, n, "/port");
    let mut per: BTreeMap<String, u64> = BTreeMap::new();
    let mut lports = BTreeSet::new();
    for b in &got {
        let w: Vec<&str> = b.split(' ').collect();
        let [name, peer, lport] = w[..] else {
            panic!("request failed: {b}; all: {got:?}")
        };
        assert_eq!(peer, LADDR4.to_string(), "{b}");
        lports.insert(lport.parse::<u16>().unwrap_or_else(|_| panic!("{b}")));
        *per.entry(name.to_string()).or_default() += 1;
    }
    assert_eq!(per.len(), 2, "{per:?}");
    let (a, b) = (per["rs0"], per["rs1"]);
    assert!(
        a.abs_diff(b) <= 2,
        "two round-robin workers split {n} connections {a}/{b}"
    );
    // each worker takes full-NAT local ports of its own slice (port % workers = worker): ports
    // of both parities mean both workers created connections
    assert_eq!(
        lports.len(),
        n,
        "every connection has its own local port: {lports:?}"
    );
    let parities: BTreeSet<u16> = lports.iter().map(|p| p % 2).collect();
    assert_eq!(
        parities.len(),
        2,
        "local ports of one worker only: {lports:?}"
    );
    // and concurrently: 8 clients at once, 25 new connections each
    let got = http_gets_parallel(&t.tb.client, VIP4.into(), HTTP_PORT, 8, 25);
    let failed: Vec<&String> = got
        .iter()
        .filter(|b| !b.starts_with("rs") || !b.ends_with(&format!(" {LADDR4}")))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 200 concurrent requests failed: {failed:?}",
        failed.len()
    );
    assert_eq!(got.len(), 200);
    for b in &got {
        *per.entry(b.split(' ').next().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    let n = n + 200;
    let stats = t.stats();
    let key = format!("TCP {svc}");
    assert_eq!(stats.service(&key).conns, n as u64, "{}", stats.text);
    // every connection is listed (from both workers), all closing
    let conns = t.conns();
    let tcp = conns
        .iter()
        .filter(|c| c.proto == "TCP" && c.virt == svc)
        .count();
    assert_eq!(
        tcp, n,
        "ipvsadm -Lnc lists every connection of both workers"
    );
    for (i, rs) in t.tb.servers.iter().enumerate() {
        let d = stats.dest(&key, &ap(rs.addr4.into(), HTTP_PORT));
        assert_eq!(
            d.conns,
            per[&format!("rs{i}")],
            "Conns of rs{i} = the answers it gave:\n{}",
            stats.text
        );
    }
    let (usvc, _) = rr_service(&t, "-u", VIP4.into(), UDP_PORT, "-m");
    let r = udp_exchange(&t.tb.client, VIP4.into(), UDP_PORT, 8, 3, UDP_SIZE);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.echoed, 24);
    let stats = t.stats();
    let s = stats.service(&format!("UDP {usvc}"));
    assert_eq!(
        (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes),
        (8, 24, 24, 24 * UDP_IP_LEN4, 24 * UDP_IP_LEN4),
        "{}",
        stats.text
    );

    // keep-alive load: wrk with 4 connections for 2 s, every answer 200; dpvsd counts exactly
    // the connections the client opened (wrk 4.1 opens one more than -c says)
    let before = t.stats().service(&key).conns;
    let opened = tcp_active_opens(&t.tb.client);
    let w = wrk(&t.tb.client, &format!("http://{VIP4}:{HTTP_PORT}/"), 4, 2);
    let opened = tcp_active_opens(&t.tb.client) - opened;
    assert!(
        w.errors.is_empty() && w.requests > 100,
        "wrk through two workers:\n{}",
        w.text
    );
    let stats = t.stats();
    assert_eq!(
        stats.service(&key).conns,
        before + opened,
        "the client opened {opened} connections:\n{}\n{}",
        w.text,
        stats.text
    );

    // UDP from 8 clients at once, 50 datagrams each: every one echoed, counted exactly
    let before = t.stats().service(&format!("UDP {usvc}"));
    let (ok, problems) = udp_parallel(&t.tb.client, VIP4.into(), UDP_PORT, 8, 50, UDP_SIZE);
    assert!(
        problems.is_empty() && ok == 400,
        "{ok} of 400 echoed: {problems:?}"
    );
    let stats = t.stats();
    let s = stats.service(&format!("UDP {usvc}"));
    assert_eq!(
        (
            s.conns - before.conns,
            s.inpkts - before.inpkts,
            s.outpkts - before.outpkts,
            s.inbytes - before.inbytes
        ),
        (8, 400, 400, 400 * UDP_IP_LEN4),
        "8 x 50 concurrent datagrams:\n{}",
        stats.text
    );
}

#[test]
fn two_workers_nat_tcp_and_udp_ipv4_and_ipv6() {
    if skip() {
        return;
    }
    // NAT replies travel to the client, and reach the connection's worker by the hash of the
    // client's address and port, as its client's packets did
    let mut t = DataplaneTestbed::new(Setup {
        workers: 2,
        fullnat: false,
        ipv6: true,
        ..Setup::default()
    });
    t.start_http_servers(HTTP_PORT);
    t.start_udp_echo_servers(None, UDP_PORT);
    let (svc, _) = rr_service(&t, "-t", VIP4.into(), HTTP_PORT, "-m");
    let n = 40;
    let got = http_gets(&t.tb.client, VIP4.into(), HTTP_PORT, n);
    let mut per: BTreeMap<String, u64> = BTreeMap::new();
    for b in &got {
        let (name, peer) = b
            .split_once(' ')
            .unwrap_or_else(|| panic!("request failed: {b}; all: {got:?}"));
        assert_eq!(peer, CLIENT4.to_string(), "{b}");
        *per.entry(name.to_string()).or_default() += 1;
    }
    assert_eq!(per.len(), 2, "{per:?}");
    let (a, b) = (per["rs0"], per["rs1"]);
    assert!(
        a.abs_diff(b) <= 2,
        "two round-robin workers split {n} connections {a}/{b}"
    );
    let stats = t.stats();
    let key = format!("TCP {svc}");
    assert_eq!(stats.service(&key).conns, n as u64, "{}", stats.text);
    assert!(
        stats.service(&key).outpkts >= 3 * n as u64,
        "{}",
        stats.text
    );
    let (usvc, _) = rr_service(&t, "-u", VIP4.into(), UDP_PORT, "-m");
    let r = udp_exchange(&t.tb.client, VIP4.into(), UDP_PORT, 8, 3, UDP_SIZE);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.echoed, 24);
    let stats = t.stats();
    let s = stats.service(&format!("UDP {usvc}"));
    assert_eq!(
        (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes),
        (8, 24, 24, 24 * UDP_IP_LEN4, 24 * UDP_IP_LEN4),
        "{}",
        stats.text
    );

    // the same over IPv6, concurrently: the replies' owner is the hash of the client's IPv6
    // address and port
    let (svc6, _) = rr_service(&t, "-t", VIP6.into(), HTTP_PORT, "-m");
    let got = http_gets_parallel(&t.tb.client, VIP6.into(), HTTP_PORT, 8, 10);
    let failed: Vec<&String> = got
        .iter()
        .filter(|b| !b.starts_with("rs") || !b.ends_with(&format!(" {CLIENT6}")))
        .collect();
    assert!(
        failed.is_empty() && got.len() == 80,
        "IPv6 NAT, two workers: {failed:?}"
    );
    let stats = t.stats();
    assert_eq!(
        stats.service(&format!("TCP {svc6}")).conns,
        80,
        "{}",
        stats.text
    );
    let (usvc6, _) = rr_service(&t, "-u", VIP6.into(), UDP_PORT, "-m");
    let (ok, problems) = udp_parallel(&t.tb.client, VIP6.into(), UDP_PORT, 8, 10, UDP_SIZE);
    assert!(
        problems.is_empty() && ok == 80,
        "{ok} of 80 echoed: {problems:?}"
    );
    let stats = t.stats();
    let s = stats.service(&format!("UDP {usvc6}"));
    assert_eq!(
        (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes),
        (8, 80, 80, 80 * UDP_IP_LEN6, 80 * UDP_IP_LEN6),
        "{}",
        stats.text
    );
}

#[test]
fn wrr_persistence_threshold_and_port_mapping() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup::default());
    t.start_http_servers(HTTP_PORT);
    t.start_http_servers(8080);
    // wrr 3:1 — over two full rounds of 4, exactly 6 and 2
    let svc = ap(VIP4.into(), HTTP_PORT);
    t.ipvsadm(&["-A", "-t", &svc, "-s", "wrr"]);
    t.ipvsadm(&[
        "-a",
        "-t",
        &svc,
        "-r",
        &dest_of(&t, "rs0", VIP4.into(), HTTP_PORT),
        "-m",
        "-w",
        "3",
    ]);
    t.ipvsadm(&[
        "-a",
        "-t",
        &svc,
        "-r",
        &dest_of(&t, "rs1", VIP4.into(), HTTP_PORT),
        "-m",
        "-w",
        "1",
    ]);
    let got = http_gets(&t.tb.client, VIP4.into(), HTTP_PORT, 8);
    let count = |name: &str| {
        got.iter()
            .filter(|b| **b == body(name, LADDR4.into()))
            .count()
    };
    assert_eq!(
        (count("rs0"), count("rs1")),
        (6, 2),
        "wrr 3:1 over 8 connections: {got:?}"
    );
    // persistence: every connection of the client goes where its first one went, and the
    // template is listed
    let psvc = ap(VIP4.into(), 8080);
    t.ipvsadm(&["-A", "-t", &psvc, "-s", "rr", "-p", "30"]);
    for name in ["rs0", "rs1"] {
        t.ipvsadm(&[
            "-a",
            "-t",
            &psvc,
            "-r",
            &dest_of(&t, name, VIP4.into(), 8080),
            "-m",
        ]);
    }
    let got = http_gets(&t.tb.client, VIP4.into(), 8080, 6);
    assert!(
        got.iter().all(|b| *b == got[0]) && got[0].starts_with("rs"),
        "persistent service: {got:?}"
    );
    let conns = t.conns();
    let templates: Vec<_> = conns
        .iter()
        .filter(|c| c.proto == "IP" && c.virt.ends_with(":8080"))
        .collect();
    assert_eq!(templates.len(), 1, "one persistence template: {conns:#?}");
    assert!(
        templates[0].source.starts_with(&format!("{CLIENT4}:")),
        "{conns:#?}"
    );
    // an upper connection threshold (-x 1): once its dest has a connection (in any state:
    // the kernel counts active and inactive), round-robin passes it by. The service is on a
    // second VIP that is no address of dpvsd's: a VIP needs only its service
    let vip2: IpAddr = "10.90.0.101".parse().unwrap();
    let xsvc = ap(vip2, HTTP_PORT);
    t.ipvsadm(&["-A", "-t", &xsvc, "-s", "rr"]);
    t.ipvsadm(&[
        "-a",
        "-t",
        &xsvc,
        "-r",
        &dest_of(&t, "rs0", vip2, HTTP_PORT),
        "-m",
    ]);
    t.ipvsadm(&[
        "-a",
        "-t",
        &xsvc,
        "-r",
        &dest_of(&t, "rs1", vip2, HTTP_PORT),
        "-m",
        "-x",
        "1",
    ]);
    let got = http_gets(&t.tb.client, vip2, HTTP_PORT, 5);
    let want: Vec<String> = ["rs1", "rs0", "rs0", "rs0", "rs0"]
        .iter()
        .map(|n| body(n, LADDR4.into()))
        .collect();
    assert_eq!(
        got, want,
        "rr with rs1 limited to 1 connection (-x 1), rs1 added last"
    );
    let table = t.dest_table(&xsvc);
    assert_eq!(table.values().map(|d| d.3).sum::<u64>(), 5, "{table:?}");

    // port mapping (NAT and full-NAT may change the port): VIP:8088 to the servers' 8080
    let msvc = ap(VIP4.into(), 8088);
    t.ipvsadm(&["-A", "-t", &msvc, "-s", "rr"]);
    for name in ["rs0", "rs1"] {
        t.ipvsadm(&[
            "-a",
            "-t",
            &msvc,
            "-r",
            &dest_of(&t, name, VIP4.into(), 8080),
            "-m",
        ]);
    }
    let got = http_gets(&t.tb.client, VIP4.into(), 8088, 4);
    let want: Vec<String> = ["rs1", "rs0", "rs1", "rs0"]
        .iter()
        .map(|n| body(n, LADDR4.into()))
        .collect();
    assert_eq!(got, want, "{msvc} mapped to port 8080 of the real servers");
}

#[test]
fn ipv6_fullnat_tcp_and_udp() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup {
        ipv6: true,
        ..Setup::default()
    });
    t.start_http_servers(HTTP_PORT);
    t.start_udp_echo_servers(None, UDP_PORT);
    let (svc, names) = rr_service(&t, "-t", VIP6.into(), HTTP_PORT, "-m");
    expect_round_robin(&t, VIP6.into(), &names, 10, LADDR6.into());
    expect_tcp_stats(&t, &svc, 10, true);
    expect_transfers(&t, VIP6.into());
    let (usvc, _) = rr_service(&t, "-u", VIP6.into(), UDP_PORT, "-m");
    expect_udp_exchange(&t, &usvc, VIP6.into(), 4, 5, true);
}

#[test]
fn ipv6_nat_tcp_and_udp() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup {
        ipv6: true,
        fullnat: false,
        ..Setup::default()
    });
    t.start_http_servers(HTTP_PORT);
    t.start_udp_echo_servers(None, UDP_PORT);
    let (svc, names) = rr_service(&t, "-t", VIP6.into(), HTTP_PORT, "-m");
    expect_round_robin(&t, VIP6.into(), &names, 10, CLIENT6.into());
    expect_tcp_stats(&t, &svc, 10, true);
    expect_tcp_conns(&t, &svc, CLIENT6.into(), 10);
    expect_transfers(&t, VIP6.into());
    expect_refusals(&t, VIP6.into());
    let (usvc, _) = rr_service(&t, "-u", VIP6.into(), UDP_PORT, "-m");
    expect_udp_exchange(&t, &usvc, VIP6.into(), 4, 5, true);
}

#[test]
fn ipv6_dr_and_tun() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup {
        ipv6: true,
        dataplane_extra: vec![
            "tunnel = ipip".into(),
            "tunnel_source = fd00:90:2::1".into(),
        ],
        ..Setup::default()
    });
    // decapsulators for IPv6 in IPv6, the VIPs on lo, the return path
    t.make_tun_servers("ipip6");
    let n = t.tb.servers.len();
    t.start_http_servers(HTTP_PORT);
    t.start_http_servers(8080);
    t.start_udp_echo_servers(Some(VIP6.into()), UDP_PORT);

    // DR on port 80
    let (svc, names) = rr_service(&t, "-t", VIP6.into(), HTTP_PORT, "-g");
    expect_round_robin(&t, VIP6.into(), &names, 10, CLIENT6.into());
    expect_tcp_stats(&t, &svc, 10, false);
    expect_transfers(&t, VIP6.into());
    let (usvc, _) = rr_service(&t, "-u", VIP6.into(), UDP_PORT, "-g");
    expect_udp_exchange(&t, &usvc, VIP6.into(), 4, 5, false);

    // TUN on port 8080: IPv6 in IPv6 from the tunnel source
    let (tsvc, names) = rr_service(&t, "-t", VIP6.into(), 8080, "-i");
    let got = http_gets(&t.tb.client, VIP6.into(), 8080, 6);
    let want: Vec<String> = (0..6)
        .map(|i| body(&names[i % n], CLIENT6.into()))
        .collect();
    assert_eq!(got, want, "TUN over IPv6, round-robin");
    for i in 0..n {
        let line = t.procs[i]
            .read_line(Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("{e}"));
        let want = format!(
            "ipip6 fd00:90:2::1 {} {CLIENT6} {VIP6}",
            t.tb.servers[i].addr6
        );
        assert_eq!(line, want, "first encapsulated packet seen by rs{i}");
    }
    let stats = t.stats();
    let s = stats.service(&format!("TCP {tsvc}"));
    assert_eq!((s.conns, s.outpkts), (6, 0), "{}", stats.text);
    // full-sized segments do not fit the tunnel: "packet too big", then the upload goes on
    expect_transfers_on(&t, VIP6.into(), 8080);
}

#[test]
fn ttl_kept_by_default_or_decremented() {
    if skip() {
        return;
    }
    // DPVS forwards with the TTL unchanged (`ttl = keep`, the default); `ttl = decrement`
    // does as the kernel (needs a restart)
    let mut t = DataplaneTestbed::new(Setup::default());
    t.start_udp_echo_servers(None, UDP_PORT);
    rr_service(&t, "-u", VIP4.into(), UDP_PORT, "-m");
    let got =
        t.tb.client
            .udp_request(VIP4.into(), UDP_PORT, "ttl?")
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        got, "ttl 64",
        "TTL the real server sees (the client sends 64)"
    );
    let mut setup = t.setup.clone();
    setup.dataplane_extra.push("ttl = decrement".into());
    t.reload(setup);
    t.restart_dpvsd();
    let got =
        t.tb.client
            .udp_request(VIP4.into(), UDP_PORT, "ttl?")
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        got, "ttl 63",
        "TTL the real server sees with ttl = decrement"
    );
}

#[test]
fn two_workers_ipv6_fullnat_concurrent() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup {
        ipv6: true,
        workers: 2,
        ..Setup::default()
    });
    t.start_http_servers(HTTP_PORT);
    t.start_udp_echo_servers(None, UDP_PORT);
    let (svc, _) = rr_service(&t, "-t", VIP6.into(), HTTP_PORT, "-m");
    let got = http_gets_parallel(&t.tb.client, VIP6.into(), HTTP_PORT, 8, 20);
    let failed: Vec<&String> = got
        .iter()
        .filter(|b| !b.starts_with("rs") || !b.ends_with(&format!(" {LADDR6}")))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 160 concurrent requests failed: {failed:?}",
        failed.len()
    );
    let stats = t.stats();
    assert_eq!(
        stats.service(&format!("TCP {svc}")).conns,
        160,
        "{}",
        stats.text
    );
    let (usvc, _) = rr_service(&t, "-u", VIP6.into(), UDP_PORT, "-m");
    let r = udp_exchange(&t.tb.client, VIP6.into(), UDP_PORT, 8, 3, UDP_SIZE);
    assert!(r.problems.is_empty() && r.echoed == 24, "{r:?}");
    let stats = t.stats();
    let s = stats.service(&format!("UDP {usvc}"));
    assert_eq!(
        (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes),
        (8, 24, 24, 24 * UDP_IP_LEN6, 24 * UDP_IP_LEN6),
        "{}",
        stats.text
    );
}

#[test]
fn restart_keeps_services_and_sighup_reloads() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup {
        fullnat: false,
        ..Setup::default()
    });
    t.start_http_servers(HTTP_PORT);
    let (svc, names) = rr_service(&t, "-t", VIP4.into(), HTTP_PORT, "-m");
    expect_round_robin(&t, VIP4.into(), &names, 2, CLIENT4.into());

    // a restart: the services come back from the state dir into the dataplane, no ipvsadm
    t.restart_dpvsd();
    let got = http_gets(&t.tb.client, VIP4.into(), HTTP_PORT, 4);
    let mut seen: Vec<&str> = got
        .iter()
        .map(|b| b.split(' ').next().unwrap_or_default())
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        ["rs0", "rs0", "rs1", "rs1"],
        "after a restart, with the restored services: {got:?}"
    );
    assert!(
        got.iter().all(|b| b.ends_with(&format!(" {CLIENT4}"))),
        "NAT: {got:?}"
    );

    // SIGHUP: masquerade dests become full-NAT, and a new address answers; dpvsd announces
    // it with a gratuitous ARP (the client accepts those: arp_accept)
    let extra: IpAddr = "10.90.1.5".parse().unwrap();
    t.tb.client
        .sysctl("net.ipv4.conf.cl0.arp_accept", "1")
        .unwrap();
    assert!(
        ping_tries(&t.tb.client, extra, 4).is_err(),
        "{extra} answers before it is configured"
    );
    let mac =
        t.tb.lb
            .exec_stdout(&["cat", "/sys/class/net/lb-c/address"])
            .unwrap();
    let mac = mac.trim().to_string();
    let setup = Setup {
        fullnat: true,
        client_side_extra: vec![format!("{extra}/32")],
        ..t.setup.clone()
    };
    t.reload(setup);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let neigh =
            t.tb.client
                .ip(&["neigh", "show", &extra.to_string(), "dev", "cl0"])
                .unwrap();
        let neigh = String::from_utf8_lossy(&neigh.stdout).into_owned();
        if neigh.contains(&format!("lladdr {mac}")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no gratuitous ARP for {extra} reached the client within 2 s of SIGHUP: `{}`",
            neigh.trim()
        );
        thread::sleep(Duration::from_millis(50));
    }
    let got = http_gets(&t.tb.client, VIP4.into(), HTTP_PORT, 4);
    assert!(
        got.iter().all(|b| b.ends_with(&format!(" {LADDR4}"))),
        "full-NAT after SIGHUP: {got:?}"
    );
    ping(&t.tb.client, extra).unwrap_or_else(|e| panic!("{extra} after SIGHUP: {e}"));

    // full-NAT across a restart, with real servers that close first (so they hold their
    // side of every laddr:lport connection in TIME_WAIT): the new run's connections must not
    // collide with those (no stalls, no reschedules: exactly one connection per request)
    let got = http_gets_with(&t.tb.client, VIP4.into(), HTTP_PORT, 6, "/", true);
    assert!(
        got.iter().all(|b| b.ends_with(&format!(" {LADDR4}"))),
        "full-NAT, server closes: {got:?}"
    );
    t.restart_dpvsd();
    // (whether counters survive a restart is not the point here)
    let before = t.stats().service(&format!("TCP {svc}")).conns;
    let started = Instant::now();
    let got = http_gets_with(&t.tb.client, VIP4.into(), HTTP_PORT, 6, "/", true);
    let took = started.elapsed();
    assert!(
        got.iter().all(|b| b.ends_with(&format!(" {LADDR4}"))),
        "full-NAT after the restart: {got:?}"
    );
    let mut seen: Vec<&str> = got
        .iter()
        .map(|b| b.split(' ').next().unwrap_or_default())
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        ["rs0", "rs0", "rs0", "rs1", "rs1", "rs1"],
        "round-robin after the restart: {got:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "6 requests took {took:?} (a SYN lost to a TIME_WAIT collision costs 1 s)"
    );
    let stats = t.stats();
    assert_eq!(
        stats.service(&format!("TCP {svc}")).conns,
        before + 6,
        "one connection per request after the restart:\n{}",
        stats.text
    );
}

#[test]
fn the_testbed_leaves_nothing_behind_even_on_panic() {
    if skip() {
        return;
    }
    let seen = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let t = DataplaneTestbed::new(Setup::default());
        *seen.lock().unwrap() = Some((t.tb.tag().to_owned(), t.dpvsd_pid(), t.dir().to_owned()));
        assert!(
            eal_runtime_dir(t.tb.tag()).exists(),
            "the EAL runs with the testbed's file prefix"
        );
        panic!("a test failing half-way");
    });
    assert!(result.is_err());
    let (tag, pid, dir) = seen.lock().unwrap().take().expect("the testbed was built");
    let left: Vec<String> = netns_list()
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with(&format!("{tag}-")))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "namespaces left behind");
    assert!(
        pid > 0 && !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "dpvsd (pid {pid}) still runs"
    );
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(
        !eal_runtime_dir(&tag).exists(),
        "the EAL's runtime dir left behind"
    );
}
