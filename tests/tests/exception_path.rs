//! The kernel exception path (issue 6): dpvsd's `<port>.kni` interfaces. An address put on
//! `dpdk0.kni` with `ip addr` becomes one the dataplane answers for, a service of the lb
//! namespace's kernel on it is reached through the exception path both ways, removing the
//! address stops that, a flood aimed at the kernel is held to `kni_rate` while the service
//! traffic keeps flowing, and a route the kernel gets through a `.kni` interface is the
//! dataplane's for as long as the kernel has it.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use dpvs_e2e::dataplane::{http_gets, ping, ping_tries, skip, DataplaneTestbed, Dpip, Setup};
use dpvs_e2e::netns::{http_server, python, VIP4};

const HTTP_PORT: u16 = 80;
/// An address only the lb namespace's kernel has (on dpdk0.kni).
const KERNEL_ADDR: Ipv4Addr = Ipv4Addr::new(10, 90, 1, 50);
const KERNEL_PORT: u16 = 8080;
/// The exception path's rate in the flood test, frames a second per worker.
const KNI_RATE: u64 = 500;

/// `dpip ARGS` against the testbed's dpvsd, which must succeed: its output.
fn dpip(t: &DataplaneTestbed, args: &[&str]) -> String {
    Dpip::for_testbed(t).ok(&args.join(" "))
}

/// `dpip -s stats` of the testbed's dpvsd: the sum over workers of counter `name`.
fn dpip_counter(t: &DataplaneTestbed, name: &str) -> u64 {
    let text = dpip(t, &["-s", "stats"]);
    // `name N` anywhere on a line ("rx 10 ... to-kernel 3 ..." or "    kernel-rate-limit 7")
    text.lines()
        .flat_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.windows(2).filter(|p| p[0] == name).filter_map(|p| p[1].parse::<u64>().ok()).collect::<Vec<_>>()
        })
        .sum()
}

fn service(t: &DataplaneTestbed) {
    let vip = format!("{VIP4}:{HTTP_PORT}");
    t.ipvsadm(&["-A", "-t", &vip, "-s", "rr"]);
    for rs in &t.tb.servers {
        t.ipvsadm(&["-a", "-t", &vip, "-r", &format!("{}:{HTTP_PORT}", rs.addr4), "-m"]);
    }
}

#[test]
fn kni_addresses_reach_the_kernel_and_a_flood_is_held_to_the_rate() {
    if skip() {
        return;
    }
    let setup = Setup { dataplane_extra: vec![format!("kni_rate = {KNI_RATE}")], ..Setup::default() };
    let mut t = DataplaneTestbed::new(setup);
    t.start_http_servers(HTTP_PORT);
    service(&t);
    let lb = &t.tb.lb;
    // the kernel's own service, on an address it holds on dpdk0.kni
    lb.ip(&["addr", "add", &format!("{KERNEL_ADDR}/24"), "dev", "dpdk0.kni"]).unwrap_or_else(|e| panic!("{e}"));
    let _kernel_http = http_server(lb, KERNEL_PORT, "kernel").unwrap_or_else(|e| panic!("{e}"));
    ping(&t.tb.client, KERNEL_ADDR.into()).unwrap_or_else(|e| panic!("ping the .kni address: {e}\n{}", t.log_tail(30)));
    let answers = http_gets(&t.tb.client, KERNEL_ADDR.into(), KERNEL_PORT, 3);
    assert_eq!(answers, vec!["kernel"; 3], "the kernel's HTTP server through the exception path");
    let to_kni = dpip_counter(&t, "to-kernel");
    assert!(to_kni > 0, "frames went to the kernel: {to_kni}");

    // a flood at the kernel's address: held to kni_rate, the service unaffected
    let flood = format!(
        "import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nend = time.time() + 2\nn = 0\nwhile time.time() < end:\n    s.sendto(b'x' * 64, ('{KERNEL_ADDR}', 9))\n    n += 1\nprint(n)\n"
    );
    let mut flooder = t.tb.client.spawn(&[python(), "-c", &flood]).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(300));
    let during = http_gets(&t.tb.client, VIP4.into(), HTTP_PORT, 10);
    assert!(during.iter().all(|a| a.starts_with("rs")), "the service during the flood: {during:?}");
    let _ = flooder.stop();
    let limited = dpip_counter(&t, "kernel-rate-limit");
    assert!(limited > 1000, "the flood was held to the rate: {limited} frames over it");

    // the address leaves the kernel: the dataplane stops answering for it
    lb.ip(&["addr", "del", &format!("{KERNEL_ADDR}/24"), "dev", "dpdk0.kni"]).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        ping_tries(&t.tb.client, IpAddr::V4(KERNEL_ADDR), 3).is_err(),
        "nobody answers for an address the kernel gave up"
    );
    // and the VIP still answers (it is a configured address)
    ping(&t.tb.client, VIP4.into()).unwrap_or_else(|e| panic!("ping the VIP: {e}"));

    // a route the kernel gets through dpdk1.kni is the dataplane's too, and leaves with it
    lb.ip(&["addr", "add", "10.90.2.60/24", "dev", "dpdk1.kni"]).unwrap_or_else(|e| panic!("{e}"));
    lb.ip(&["route", "add", "10.77.0.0/16", "via", "10.90.2.10", "dev", "dpdk1.kni"]).unwrap_or_else(|e| panic!("{e}"));
    let want = "10.77.0.0/16 via 10.90.2.10 dev dpdk1";
    let learned = wait_for(|| dpip(&t, &["route", "show"]).contains(want));
    assert!(learned, "learned from rtnetlink:\n{}", dpip(&t, &["route", "show"]));
    assert!(dpip(&t, &["-4", "addr", "show"]).contains("10.90.2.60/24"), "the .kni address is listed");
    lb.ip(&["route", "del", "10.77.0.0/16", "via", "10.90.2.10", "dev", "dpdk1.kni"]).unwrap_or_else(|e| panic!("{e}"));
    let gone = wait_for(|| !dpip(&t, &["route", "show"]).contains(want));
    assert!(gone, "withdrawn with the kernel's:\n{}", dpip(&t, &["route", "show"]));
}

/// Polls `f` for up to 2 s.
fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..40 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
