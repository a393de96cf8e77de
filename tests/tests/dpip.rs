//! dpip against a running dpvsd with a dataplane (harness: `dpvs_e2e::dataplane`): every
//! object and verb, what it prints, its errors (exit 1 for bad input, 2 for dpvsd's refusals,
//! nothing changed), and its effect on the dataplane:
//! - a route added with `dpip route add` steers traffic: a real server behind a gateway is
//!   unreachable until the route is added, and again after `dpip route del`;
//! - an address added with `dpip addr add ... sapool` is the full-NAT source the real server
//!   sees (in its answers and in `ss` in its namespace).
//!
//! Each test has its own testbed; root only (skipped otherwise, as the harness does).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use dpvs_e2e::dataplane::{body, http_gets, http_server_showing_peer, keepalive_client, ping, skip, DataplaneTestbed, Dpip, Setup, LADDR4};
use dpvs_e2e::netns::{veth, Netns, CLIENT4, CLIENT6, LB_CLIENT_SIDE4, LB_CLIENT_SIDE6, VIP4};

fn has(text: &str, want: &str) {
    assert!(text.contains(want), "missing {want:?} in:\n{text}");
}

fn lacks(text: &str, unwanted: &str) {
    assert!(!text.contains(unwanted), "unexpected {unwanted:?} in:\n{text}");
}

/// Waits until `f` holds (the workers take a new snapshot within a burst or two).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < end, "{what}: not within 5 s");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_verb_against_a_running_dpvsd() {
    if skip() {
        return;
    }
    let t = DataplaneTestbed::new(Setup { servers: 1, ..Setup::default() });
    let d = Dpip::for_testbed(&t);

    // link
    let links = d.ok("link show");
    has(&links, "1: dpdk0: <BROADCAST,MULTICAST,");
    has(&links, "UP,LOWER_UP> mtu 1500 state UP mode DEFAULT\n    link/ether ");
    has(&links, "\n2: dpdk1: <");
    let one = d.ok("link show dpdk1");
    assert!(one.starts_with("2: dpdk1: ") && !one.contains("dpdk0"), "{one}");
    let s = d.ok("-s link show dpdk0");
    has(&s, "    RX:  bytes packets errors dropped  missed   mcast           \n");
    has(&s, "    TX:  bytes packets errors dropped carrier collsns           \n");
    let rx_packets: u64 = s.lines().nth(3).and_then(|l| l.split_whitespace().nth(1)).and_then(|n| n.parse().ok()).expect("rx packets");
    assert!(rx_packets > 0, "the warm-up pings came in on dpdk0:\n{s}");
    let j = d.ok("-j link");
    assert!(j.starts_with("[{\"ifindex\":1,\"ifname\":\"dpdk0\",\"flags\":[\"BROADCAST\",\"MULTICAST\","), "{j}");
    has(&j, "\"UP\",\"LOWER_UP\"],\"mtu\":1500,\"operstate\":\"UP\",");
    has(&d.ok("-j -p -s link show dpdk1"), "[ {\n        \"ifindex\": 2,\n        \"ifname\": \"dpdk1\",\n");
    d.ok("link set dpdk0 mtu 1400");
    has(&d.ok("link show dpdk0"), "mtu 1400 state UP");
    d.ok("link set dpdk0 mtu 1500");
    d.ok("link set dpdk0 down");
    let down = d.ok("link show dpdk0");
    has(&down, "> mtu 1500 state DOWN");
    lacks(&down, "UP,");
    assert!(ping(&t.tb.client, LB_CLIENT_SIDE4.into()).is_err(), "a port that is down answers nothing");
    d.ok("link set dpdk0 up");
    eventually("ping after link up", || ping(&t.tb.client, LB_CLIENT_SIDE4.into()).is_ok());

    // addr
    let addrs = d.ok("addr show");
    has(&addrs, "    inet 10.90.1.1/24 scope global dpdk0\n       valid_lft forever preferred_lft forever\n");
    has(&addrs, "    inet 10.90.0.100/32 scope global dpdk0\n");
    has(&addrs, "    inet 10.90.2.3/24 scope global sapool dpdk1\n");
    d.ok("addr add 10.90.1.50/24 dev dpdk0");
    has(&d.ok("addr show dev dpdk0"), "    inet 10.90.1.50/24 scope global dpdk0\n");
    eventually("dpvsd answers a ping to an address added with dpip", || ping(&t.tb.client, "10.90.1.50".parse().unwrap()).is_ok());
    d.fails("addr add 10.90.1.50/24 dev dpdk0", 2, "addr 10.90.1.50/24: already assigned");
    d.ok("addr del 10.90.1.50/24 dev dpdk0");
    lacks(&d.ok("addr show"), "10.90.1.50");
    d.fails("addr del 10.90.1.50/24", 2, "addr 10.90.1.50: not assigned");
    has(&d.ok("-j addr show dpdk1"), "{\"family\":\"inet\",\"local\":\"10.90.2.3\",\"prefixlen\":24,\"scope\":\"global\",\"sapool\":true,\"label\":\"dpdk1\",");
    lacks(&d.ok("-6 addr show"), "inet 10.90");

    // route
    let routes = d.ok("route show");
    has(&routes, "10.90.1.0/24 dev dpdk0 proto kernel scope link src 10.90.1.1 \n");
    has(&d.ok("route show table local"), "local 10.90.1.1 dev dpdk0 proto kernel scope host src 10.90.1.1 \n");
    d.ok("route add 10.7.0.0/16 via 10.90.1.2 dev dpdk0 metric 5");
    d.ok("route add 10.8.0.0/16 dev dpdk1 src 10.90.2.1");
    let routes = d.ok("route");
    has(&routes, "10.7.0.0/16 via 10.90.1.2 dev dpdk0 metric 5 \n");
    has(&routes, "10.8.0.0/16 dev dpdk1 scope link src 10.90.2.1 \n");
    has(&d.ok("-j route"), "{\"dst\":\"10.7.0.0/16\",\"gateway\":\"10.90.1.2\",\"dev\":\"dpdk0\",\"metric\":5,\"flags\":[]}");
    d.fails("route add 10.7.0.0/16 via 10.90.1.2 dev dpdk0 metric 5", 2, "route 10.7.0.0/16: exists");
    d.ok("route del 10.7.0.0/16 metric 5");
    lacks(&d.ok("route"), "10.7.0.0/16");
    d.fails("route del 10.7.0.0/16", 2, "route 10.7.0.0/16: no such route");
    d.ok("route add default via 10.90.1.2 dev dpdk0");
    has(&d.ok("route"), "default via 10.90.1.2 dev dpdk0 \n");
    let s = d.ok("-s route flush");
    has(&s, "deleting 2 entries");
    let routes = d.ok("route");
    lacks(&routes, "default");
    lacks(&routes, "10.8.0.0");
    has(&routes, "10.90.1.0/24 dev dpdk0 proto kernel");

    // neigh: the client is learned from its pings
    has(&d.ok("neigh show dev dpdk0"), &format!("{CLIENT4} dev dpdk0 lladdr "));
    d.ok("neigh add 10.90.2.200 lladdr 02:00:00:00:00:c8 dev dpdk1");
    has(&d.ok("neigh"), "10.90.2.200 dev dpdk1 lladdr 02:00:00:00:00:c8 PERMANENT \n");
    has(&d.ok("-j neigh"), "{\"dst\":\"10.90.2.200\",\"dev\":\"dpdk1\",\"lladdr\":\"02:00:00:00:00:c8\",\"state\":[\"PERMANENT\"]}");
    d.fails("neigh add 10.90.2.200 lladdr 02:00:00:00:00:c9 dev dpdk1", 2, "neigh 10.90.2.200: exists");
    d.ok("neigh flush dev dpdk0");
    let n = d.ok("neigh");
    lacks(&n, &format!("{CLIENT4} dev dpdk0"));
    has(&n, "10.90.2.200 dev dpdk1");
    d.ok("neigh del 10.90.2.200");
    lacks(&d.ok("neigh"), "10.90.2.200");
    d.fails("neigh del 10.90.2.200", 2, "neigh 10.90.2.200: no such entry");
    d.ok("addr flush dev dpdk1");
    lacks(&d.ok("addr show dpdk1"), "inet ");

    // stats
    let s = d.ok("stats");
    has(&s, "worker 0:\n    rx ");
    let all = d.ok("-s stats");
    for reason in ["no-route", "port-down", "tx-ring-full"] {
        has(&all, &format!("        {reason} "));
    }
    assert!(d.ok("-j -s stats").starts_with("[{\"worker\":0,\"rx\":"));

    // bad input: exit 1, nothing sent; dpvsd's refusals: exit 2, its message
    let before = (d.ok("addr"), d.ok("route show table all"), d.ok("neigh"));
    d.fails("route add 10.0.0.0/33 dev dpdk0", 1, "route 10.0.0.0/33: prefix length must be 0..32");
    d.fails("route add 10.9.0.0/16 via 10.90.1.2 dev nosuch", 1, "route 10.9.0.0/16: cannot find device \"nosuch\"");
    d.fails("route add 10.9.0.0/16 via fd00::1 dev dpdk0", 1, "route 10.9.0.0/16: via fd00::1 is not of the route's family");
    d.fails("addr add 10.90.1.300/24 dev dpdk0", 1, "addr 10.90.1.300/24: `10.90.1.300` is not an IP address");
    d.fails("neigh add 10.90.1.9 lladdr zz dev dpdk0", 1, "neigh 10.90.1.9: lladdr `zz` is not a MAC address");
    d.fails("route add 10.9.0.0/16 dev dpdk0 bogus 1", 1, "route add: unknown word `bogus` (known: via, dev, src, metric, scope)");
    d.fails("frob", 1, "object `frob` is unknown (known: link, addr, route, neigh, stats)");
    d.fails("link set dpdk0 mtu 100", 2, "link dpdk0: mtu 100 must be 576..9000");
    assert_eq!((d.ok("addr"), d.ok("route show table all"), d.ok("neigh")), before, "a refused command changed something");
    // without CAP_NET_ADMIN (root, the capability dropped): EPERM, as on the IPVS socket
    let no_admin = ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin"];
    for args in ["route", "addr add 10.90.1.60/24 dev dpdk0"] {
        let o = d.run_as(&no_admin, args);
        assert_eq!(o.status.code(), Some(2), "dpip {args} without CAP_NET_ADMIN: {o:?}");
        assert_eq!(String::from_utf8_lossy(&o.stderr), "dpip: dpip requests need CAP_NET_ADMIN\n");
    }
    assert_eq!((d.ok("addr"), d.ok("route show table all"), d.ok("neigh")), before, "a refused command changed something");
    let gone = Dpip { socket: PathBuf::from("/nonexistent/dpip.sock") };
    gone.fails("route", 1, "cannot reach dpvsd at /nonexistent/dpip.sock: No such file or directory");
}

#[test]
fn ipv6_addresses_routes_and_neighbours() {
    if skip() {
        return;
    }
    let t = DataplaneTestbed::new(Setup { servers: 1, ipv6: true, ..Setup::default() });
    let d = Dpip::for_testbed(&t);
    let addrs = d.ok("-6 addr show dpdk0");
    has(&addrs, &format!("    inet6 {LB_CLIENT_SIDE6}/64 scope global \n       valid_lft forever preferred_lft forever\n"));
    lacks(&addrs, "inet 10.90");
    has(&d.ok("-6 addr show dpdk1"), "    inet6 fd00:90:2::3/64 scope global sapool \n");
    d.ok("addr add fd00:90:1::50/64 dev dpdk0");
    eventually("dpvsd answers a ping to an IPv6 address added with dpip", || ping(&t.tb.client, "fd00:90:1::50".parse().unwrap()).is_ok());
    d.ok("addr del fd00:90:1::50/64");
    has(&d.ok("-6 route"), &format!("fd00:90:1::/64 dev dpdk0 proto kernel src {LB_CLIENT_SIDE6} \n"));
    d.ok(&format!("route add default via {CLIENT6} dev dpdk0"));
    d.ok("route add fd00:99::/48 via fd00:90:2::10 dev dpdk1 metric 7");
    let r = d.ok("-6 route");
    has(&r, &format!("default via {CLIENT6} dev dpdk0 \n"));
    has(&r, "fd00:99::/48 via fd00:90:2::10 dev dpdk1 metric 7 \n");
    lacks(&d.ok("-4 route"), "fd00");
    d.ok("-6 route del default");
    d.ok("route del fd00:99::/48");
    lacks(&d.ok("-6 route"), "via");
    has(&d.ok("-6 neigh"), &format!("{CLIENT6} dev dpdk0 lladdr "));
    d.ok("neigh add fd00:90:2::99 lladdr 02:00:00:00:00:99 dev dpdk1");
    has(&d.ok("neigh show dev dpdk1"), "fd00:90:2::99 dev dpdk1 lladdr 02:00:00:00:00:99 PERMANENT \n");
    d.fails("-4 neigh add fd00:90:2::98 lladdr 02:00:00:00:00:98 dev dpdk1", 1, "neigh fd00:90:2::98: not an IPv4 address (-4)");
    d.fails("route add fd00:99::1/48 dev dpdk1", 1, "route fd00:99::1/48: host bits set beyond the prefix length");
}

#[test]
fn a_route_added_with_dpip_steers_traffic() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup { servers: 1, ..Setup::default() });
    let d = Dpip::for_testbed(&t);
    // `far` sits behind rs0, which routes for it: dpvsd reaches 10.90.5.0/24 only through
    // a gateway, and nothing in the configuration file says so.
    let far = Netns::with_name(format!("{}-far", t.tb.tag())).expect("far namespace");
    let rs0 = &t.tb.servers[0];
    veth(&rs0.ns, "to-far", &far, "eth0").expect("veth");
    rs0.ns.add_addr("to-far", "10.90.5.1/24").expect("addr");
    far.add_addr("eth0", "10.90.5.2/24").expect("addr");
    far.add_route("default", "10.90.5.1".parse().unwrap()).expect("route");
    rs0.ns.enable_forwarding().expect("forwarding");
    far.exec(&["ethtool", "-K", "eth0", "tx", "off"]).expect("ethtool");
    t.procs.push(http_server_showing_peer(&far, 80, "far").expect("server"));
    t.ipvsadm(&["-A", "-t", &format!("{VIP4}:80"), "-s", "rr"]);
    t.ipvsadm(&["-a", "-t", &format!("{VIP4}:80"), "-r", "10.90.5.2:80", "-m"]);
    let want = body("far", LADDR4.into());

    let before = http_gets(&t.tb.client, VIP4.into(), 80, 1);
    assert_ne!(before, vec![want.clone()], "10.90.5.2 must not be reachable before the route");

    d.ok(&format!("route add 10.90.5.0/24 via {} dev dpdk1", rs0.addr4));
    has(&d.ok("route"), &format!("10.90.5.0/24 via {} dev dpdk1 \n", rs0.addr4));
    eventually("a connection through the route added with dpip", || http_gets(&t.tb.client, VIP4.into(), 80, 1) == vec![want.clone()]);
    assert_eq!(http_gets(&t.tb.client, VIP4.into(), 80, 3), vec![want.clone(); 3]);

    d.ok("route del 10.90.5.0/24");
    thread::sleep(Duration::from_millis(200));
    assert_ne!(http_gets(&t.tb.client, VIP4.into(), 80, 1), vec![want], "the route is gone, and so is the way to 10.90.5.2");
    drop(far);
}

#[test]
fn a_sapool_address_added_with_dpip_is_the_fullnat_source() {
    if skip() {
        return;
    }
    let mut t = DataplaneTestbed::new(Setup { servers: 1, ..Setup::default() });
    let d = Dpip::for_testbed(&t);
    let laddr = Ipv4Addr::new(10, 90, 2, 77);
    d.ok(&format!("addr del {LADDR4}/24 dev dpdk1"));
    d.ok(&format!("addr add {laddr}/24 dev dpdk1 sapool"));
    has(&d.ok("addr show dpdk1"), &format!("    inet {laddr}/24 scope global sapool dpdk1\n"));
    let rs0 = &t.tb.servers[0];
    t.procs.push(http_server_showing_peer(&rs0.ns, 80, "rs0").expect("server"));
    t.ipvsadm(&["-A", "-t", &format!("{VIP4}:80"), "-s", "rr"]);
    t.ipvsadm(&["-a", "-t", &format!("{VIP4}:80"), "-r", &format!("{}:80", rs0.addr4), "-m"]);
    assert_eq!(http_gets(&t.tb.client, VIP4.into(), 80, 3), vec![body("rs0", laddr.into()); 3]);

    // a connection held open: `ss` in the real server shows it coming from the sapool address
    let dir = dpvs_e2e::TempDir::new("dpip-ss-").expect("temp dir");
    let go = dir.path().join("go");
    let mut client = keepalive_client(&t.tb.client, VIP4.into(), 80, &go).expect("client");
    let first = client.read_line(Duration::from_secs(5)).expect("first answer");
    assert_eq!(first.trim(), format!("first {}", body("rs0", laddr.into())));
    let ss = rs0.ns.exec_stdout(&["ss", "-Htn", "state", "established", "( sport = :80 )"]).expect("ss");
    let peers: Vec<IpAddr> = ss
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter_map(|p| p.rsplit_once(':').and_then(|(a, _)| a.trim_matches(['[', ']']).parse::<IpAddr>().ok()))
        .map(|a| match a {
            // a dual-stack server lists IPv4 peers as IPv4-mapped IPv6 addresses
            IpAddr::V6(v) => v.to_ipv4_mapped().map_or(a, IpAddr::V4),
            v4 => v4,
        })
        .collect();
    assert_eq!(peers, vec![IpAddr::V4(laddr)], "ss in the real server:\n{ss}");
    std::fs::write(&go, b"").expect("go");
    let second = client.read_line(Duration::from_secs(5)).expect("second answer");
    assert_eq!(second.trim(), format!("second {}", body("rs0", laddr.into())));
    t.procs.push(client);
}

#[test]
fn without_a_dataplane_every_request_is_enodev() {
    if dpvs_e2e::skip() {
        return;
    }
    let dpvsd = dpvs_e2e::Dpvsd::start();
    let d = Dpip { socket: dpvsd.socket().with_file_name("dpip.sock") };
    assert!(d.socket.exists(), "dpvsd serves dpip beside its IPVS socket");
    for args in ["link", "addr add 10.0.0.1/24 dev dpdk0", "-s stats"] {
        d.fails(args, 2, "dpvsd runs without a dataplane");
    }
    // bad input is refused before anything is sent
    d.fails("route add 10.0.0.0/33 dev dpdk0", 1, "route 10.0.0.0/33: prefix length must be 0..32");
}
