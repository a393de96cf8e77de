//! The network-namespace testbed (`dpvs_e2e::netns`) proves itself with the kernel as the load
//! balancer: plain routing reaches every real server (HTTP and UDP echo, IPv4 and IPv6), an
//! nftables DNAT rule in the lb namespace spreads a VIP over the real servers, and nothing is
//! left behind afterwards, also when a test panics half-way.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use dpvs_e2e::netns::{
    self, http_server, netns_list, root_links, url, veth, LbTestbed, Netns, VIP4, VIP6,
};

const HTTP_PORT: u16 = 80;
const UDP_PORT: u16 = 9000;

/// Namespaces whose names start with `tag`.
fn leftovers(tag: &str) -> Vec<String> {
    netns_list()
        .expect("ip netns list")
        .into_iter()
        .filter(|n| n == tag || n.starts_with(&format!("{tag}-")))
        .collect()
}

/// Packets sent by the lb namespace's server-side interface.
fn lb_tx_packets(tb: &LbTestbed) -> u64 {
    let text = tb
        .lb
        .exec_stdout(&["cat", "/sys/class/net/lb-s/statistics/tx_packets"])
        .unwrap();
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

#[test]
fn kernel_routing_reaches_every_real_server() {
    if netns::skip() {
        return;
    }
    let tb = LbTestbed::new(2).expect("build the testbed");
    let _http = tb.start_http_servers(HTTP_PORT).expect("http servers");
    let _udp = tb
        .start_udp_echo_servers(UDP_PORT)
        .expect("udp echo servers");
    let before = lb_tx_packets(&tb);
    for (i, rs) in tb.servers.iter().enumerate() {
        for addr in [IpAddr::V4(rs.addr4), IpAddr::V6(rs.addr6)] {
            let body = tb
                .client
                .curl(&url(addr, HTTP_PORT))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(body, format!("rs{i}\n"), "HTTP to {addr}");
            let payload = format!("hello {addr}");
            let echo = tb
                .client
                .udp_request(addr, UDP_PORT, &payload)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(echo, payload, "UDP echo from {addr}");
        }
    }
    // The lb namespace really routed: its server-side interface sent the requests on.
    let after = lb_tx_packets(&tb);
    assert!(
        after >= before + 8,
        "lb-s sent {} packets for 8 exchanges",
        after - before
    );
}

#[test]
fn nftables_dnat_spreads_a_vip_over_the_real_servers() {
    if netns::skip() {
        return;
    }
    let tb = LbTestbed::new(2).expect("build the testbed");
    let _http = tb.start_http_servers(HTTP_PORT).expect("http servers");
    let _udp = tb
        .start_udp_echo_servers(HTTP_PORT)
        .expect("udp echo servers on the VIP port");
    // Before the rule, nothing answers on the VIP.
    assert!(
        tb.client.curl(&url(VIP4.into(), HTTP_PORT)).is_err(),
        "the VIP answers without a balancer"
    );

    tb.lb
        .nft(&tb.dnat_ruleset(HTTP_PORT, "inc"))
        .expect("load the DNAT rule");
    for vip in [IpAddr::V4(VIP4), IpAddr::V6(VIP6)] {
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        for _ in 0..10 {
            let body = tb
                .client
                .curl(&url(vip, HTTP_PORT))
                .unwrap_or_else(|e| panic!("{e}"));
            *seen.entry(body.trim().to_owned()).or_default() += 1;
        }
        // numgen inc alternates: each of the two servers got half of the new connections.
        let want: BTreeMap<String, u32> = [("rs0".to_owned(), 5), ("rs1".to_owned(), 5)].into();
        assert_eq!(seen, want, "HTTP to {vip}");
        let echo = tb
            .client
            .udp_request(vip, HTTP_PORT, "ping")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(echo, "ping", "UDP echo through the VIP {vip}");
    }

    // numgen random: both servers answer within 40 new connections (a miss has odds 2^-39).
    tb.lb.exec(&["nft", "flush", "ruleset"]).unwrap();
    tb.lb
        .nft(&tb.dnat_ruleset(HTTP_PORT, "random"))
        .expect("load the random DNAT rule");
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..40 {
        let body = tb
            .client
            .curl(&url(VIP4.into(), HTTP_PORT))
            .unwrap_or_else(|e| panic!("{e}"));
        *seen.entry(body.trim().to_owned()).or_default() += 1;
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["rs0", "rs1"], "{seen:?}");
}

#[test]
fn the_testbed_leaves_nothing_behind() {
    if netns::skip() {
        return;
    }
    // Only the testbed's interface names: other programs may add interfaces meanwhile.
    let ours = |links: Vec<String>| -> Vec<String> {
        links
            .into_iter()
            .filter(|l| {
                ["cl0", "lb-c", "lb-s", "br0"].contains(&l.as_str()) || l.starts_with("sw-")
            })
            .collect()
    };
    let links_before = ours(root_links().unwrap());
    let tag;
    let pid;
    {
        let tb = LbTestbed::new(3).expect("build the testbed");
        tag = tb.tag().to_owned();
        assert_eq!(
            leftovers(&tag).len(),
            6,
            "client, lb, switch and 3 real servers"
        );
        let links = tb.lb.links().unwrap();
        assert!(
            links.contains(&"lb-c".to_owned()) && links.contains(&"lb-s".to_owned()),
            "{links:?}"
        );
        let sw = tb.switch.links().unwrap();
        for want in ["br0", "sw-lb", "sw-rs0", "sw-rs1", "sw-rs2"] {
            assert!(
                sw.iter().any(|l| l == want),
                "{want} missing in the switch: {sw:?}"
            );
        }
        // A process still running in a namespace when the testbed goes: Netns's drop kills it.
        let stray = tb.servers[2].ns.spawn(&["sleep", "600"]).unwrap();
        pid = stray.pid();
        std::mem::forget(stray);
    }
    assert_eq!(
        leftovers(&tag),
        Vec::<String>::new(),
        "namespaces left behind"
    );
    assert_eq!(
        ours(root_links().unwrap()),
        links_before,
        "interfaces left in the root namespace"
    );
    // The stray process is gone (a zombie of ours at most, which we reap here).
    // SAFETY: waitpid on our own child's pid, with a valid status pointer.
    let reaped = unsafe {
        let mut status = 0;
        libc::waitpid(pid as libc::pid_t, &mut status, 0)
    };
    assert_eq!(
        reaped, pid as libc::pid_t,
        "the stray process was not killed"
    );
}

#[test]
fn a_panicking_test_still_tears_everything_down() {
    if netns::skip() {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        let a = Netns::new("pa").unwrap();
        let b = Netns::new("pb").unwrap();
        veth(&a, "va", &b, "vb").unwrap();
        a.add_addr("va", "192.0.2.1/24").unwrap();
        b.add_addr("vb", "192.0.2.2/24").unwrap();
        a.add_addr("va", "2001:db8::1/64").unwrap();
        b.add_addr("vb", "2001:db8::2/64").unwrap();
        let server = http_server(&b, 8080, "b").unwrap();
        assert_eq!(a.curl("http://192.0.2.2:8080/").unwrap(), "b\n");
        assert_eq!(a.curl("http://[2001:db8::2]:8080/").unwrap(), "b\n");
        tx.send((a.name().to_owned(), b.name().to_owned(), server.pid()))
            .unwrap();
        panic!("deliberate panic with two namespaces, a veth and a server up");
    })
    .join();
    assert!(result.is_err(), "the thread should have panicked");
    let (a, b, pid) = rx.recv_timeout(Duration::from_secs(1)).expect("names");
    let left = netns_list().unwrap();
    assert!(
        !left.contains(&a) && !left.contains(&b),
        "left behind: {left:?}"
    );
    // SAFETY: kill(2) with signal 0 only checks whether the pid exists.
    let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    assert!(!alive, "the server (pid {pid}) outlived its guard");
}
