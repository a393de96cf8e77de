//! VRRP high availability: two dpvsd load balancers, each with unmodified keepalived (VRRP on
//! `dpdk0.kni`, the same virtual_server with TCP_CHECK health checks), a client that keeps
//! making requests to the VIP, two real servers (harness: `dpvs_e2e::ha`, topology in its
//! module doc). `backup_ignores_frames_for_the_master`: with a client-side switch that floods
//! unicast, the BACKUP must not forward the frames addressed to the MASTER's MAC.
//! `vrrp_failover_and_failback` walks through every phase, because they build on each other:
//!
//! a. lb1 (MASTER, priority 150) holds the VIP and serves; lb2 (BACKUP, 100) has the same
//!    services and gets no traffic; the client's neighbour entry for the VIP is lb1's MAC.
//! b. Health checks reach the real servers through the exception path (their accept logs show
//!    connections from 10.90.2.51 and 10.90.2.52); a stopped real server is removed from
//!    both dpvsd tables by keepalived, and comes back when it restarts.
//! c. SIGTERM to lb1's keepalived: lb2 takes the VIP (gratuitous ARP moves the client's
//!    neighbour entry to lb2's MAC) and serves; the gap is measured.
//! d. lb1's keepalived starts again: it preempts (priority), lb1 serves again; gap measured.
//! e. SIGKILL to all of lb1's keepalived processes (a crash): lb1 keeps the VIP and its
//!    services (nothing cleans up), lb2 takes over after the master-down interval; then
//!    lb1's keepalived is started again and takes the VIP back; gaps measured.
//! f. SIGKILL to lb1's dpvsd: its .kni interfaces vanish, keepalived on lb1 loses its VRRP
//!    interface; lb1's keepalived is then stopped, as systemd does with the drop-in's
//!    `Requires=dpvsd.service` (dpvsd.service's `Restart=on-failure` restarts dpvsd, and the
//!    restart of a required unit restarts keepalived); lb2 takes over. Then dpvsd (with the
//!    kernel addresses put back on its .kni interfaces) and keepalived start on lb1 again and
//!    it fails back; gaps measured.
//! g. SIGKILL to lb1's dpvsd again, keepalived left running (a keepalived unit with
//!    `Wants=dpvsd.service` instead of `Requires=`): lb2 takes over; dpvsd starts again (kernel
//!    addresses back on its .kni interfaces), lb1's keepalived sees `dpdk0.kni` come back, leaves
//!    FAULT and preempts; gaps measured.
//!
//! The client starts a request on a new connection every 100 ms, each in its own thread; a
//! request answered within 500 ms is served, anything else failed. The gaps (the first failed
//! request's start to the end of the first request served after it, through the node that took
//! over) are printed at the end, a table for docs/HA.md. Besides the bounds on the gaps, no
//! request that the client sends to the new master (by its ARP entry for the VIP when the
//! request starts) may lose a packet: no answer, or a handshake that needed a SYN
//! retransmission (except after the keepalived SIGKILL, while both nodes hold the VIP). Root only (skipped otherwise). Every wait is bounded; every process is
//! stopped by pid and every namespace deleted at the end, also on failure.

use std::time::{Duration, Instant};

use dpvs_e2e::ha::{self, now, wait_until, HaTestbed, Outage, Samples, PORT, VIP};

/// A request is started this often (each on its own connection and thread); it counts as
/// served when answered within `SERVED_WITHIN`, and is given up after `GIVE_UP`.
const INTERVAL: Duration = Duration::from_millis(100);
const SERVED_WITHIN: Duration = Duration::from_millis(500);
const GIVE_UP: Duration = Duration::from_millis(4000);
/// keepalived's VRRP start and any takeover: master-down interval (3 x advert_int + skew
/// < 4 s) plus margin for a busy machine.
const TAKEOVER: Duration = Duration::from_secs(15);
/// A health-check verdict reaching dpvsd (delay_loop 1, connect_timeout 1, retry 1).
const CHECK: Duration = Duration::from_secs(15);
/// The longest a failover or failback may interrupt the service.
const MAX_GAP: f64 = 8.0;

struct Run {
    t0: Instant,
    gaps: Vec<(String, Outage)>,
    /// Each event that moves the VIP: its name, when, and the LB that takes over.
    /// Each event that moves the VIP: its name, when, the LB that takes over, and whether the
    /// client must lose nothing it sends to that LB (not while both nodes hold the VIP).
    takeovers: Vec<(String, f64, usize, bool)>,
}

impl Run {
    fn log(&self, what: &str) {
        println!("[{:7.3}] {what}", self.t0.elapsed().as_secs_f64());
    }
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.2} s"))
}

fn peer_of(tb: &HaTestbed, lb: usize) -> String {
    tb.lbs[lb].spec.sapool.to_string()
}

/// Waits until `lb` holds the VIP, the client's neighbour entry for it is `lb`'s MAC, and a
/// request started after `since` was served through `lb`; then lets `settle` of requests pass
/// and returns the outage after `since`.
fn wait_served_by(tb: &HaTestbed, run: &Run, lb: usize, since: f64, settle: Duration) -> Outage {
    let node = &tb.lbs[lb];
    let name = node.spec.name.clone();
    let mac = node.client_side_mac();
    let peer = peer_of(tb, lb);
    let report = |e: String| -> ! {
        panic!(
            "{e}\nVIP on {name}: {}; client's neighbour entry for the VIP: {:?} (want {mac})\n{}",
            node.holds_vip(),
            tb.client_vip_mac(),
            tb.lbs.iter().map(|n| format!("{} keepalived:\n{}", n.spec.name, ha::tail(&n.keepalived_log(), 15))).collect::<Vec<_>>().join("\n")
        )
    };
    wait_until(&format!("{name} to hold the VIP"), TAKEOVER, || node.holds_vip()).unwrap_or_else(|e| report(e));
    run.log(&format!("{name} holds {VIP} on dpdk0.kni"));
    wait_until(&format!("the client's neighbour entry for the VIP to be {name}'s MAC"), TAKEOVER, || {
        tb.client_vip_mac().as_deref() == Some(mac.as_str())
    })
    .unwrap_or_else(|e| report(e));
    run.log(&format!("client: {VIP} lladdr {mac} ({name})"));
    wait_until(&format!("a request served through {name}"), TAKEOVER, || tb.samples().first_ok_via(since, &peer).is_some())
        .unwrap_or_else(|e| report(e));
    std::thread::sleep(settle);
    tb.samples().outage_after(since, Some(&peer))
}

fn record(run: &mut Run, what: &str, t: f64, to: usize, o: Outage) -> Outage {
    run.takeovers.push((what.to_string(), t, to, true));
    run.log(&format!(
        "{what}: {} failed request(s), first failure {} after the event, served again {} after it, gap {}",
        o.failed,
        fmt_opt(o.first_failure),
        fmt_opt(o.recovered),
        fmt_opt(o.gap)
    ));
    run.gaps.push((what.to_string(), o.clone()));
    o
}

/// After `since`, every request that ended is answered, through `peer` (however slowly: a busy
/// machine may delay an answer past `SERVED_WITHIN`).
fn assert_all_ok_via(samples: &Samples, since: f64, peer: &str, what: &str) {
    let after: Vec<_> = samples.since(since).collect();
    assert!(!after.is_empty(), "{what}: no request since");
    let bad: Vec<_> = after.iter().filter(|s| !s.answered || s.peer != peer).collect();
    assert!(bad.is_empty(), "{what}: {} of {} requests failed or went elsewhere than {peer}: {bad:?}", bad.len(), after.len());
}

/// Starts the real servers, both dpvsd (with their kernel addresses on the .kni interfaces)
/// and both keepalived, and waits until both checkers have put the service with both dests
/// into their dpvsd; returns those dests.
fn start_pair(tb: &mut HaTestbed, run: &Run) -> Vec<String> {
    tb.start_servers().unwrap_or_else(|e| panic!("{e}"));
    for lb in &mut tb.lbs {
        lb.start_dpvsd().unwrap_or_else(|e| panic!("{e}"));
    }
    run.log("both dpvsd up, kernel addresses on their .kni interfaces");
    for lb in &mut tb.lbs {
        lb.start_keepalived().unwrap_or_else(|e| panic!("{e}"));
    }
    let both = vec![format!("{}:{PORT}", ha::rs_addr(0)), format!("{}:{PORT}", ha::rs_addr(1))];
    for lb in &tb.lbs {
        wait_until(&format!("{}'s keepalived to add the service with two dests", lb.spec.name), CHECK, || {
            lb.vip_dests().ok().flatten().as_ref() == Some(&both)
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", lb.keepalived_log()));
    }
    run.log("both dpvsd have TCP 10.90.1.100:80 -> rs0, rs1 from their keepalived");
    both
}

/// A switch that floods unicast frames (its MAC table aged out or flushed, a hub, a mirror
/// port) hands the BACKUP the client's frames addressed to the MASTER's MAC. The BACKUP has
/// the same services, but a frame for another MAC is not its own (the kernel drops such
/// `PACKET_OTHERHOST` frames): it must not forward them, or both nodes open a connection to
/// the real servers for every SYN and the client gets two answers.
#[test]
fn backup_ignores_frames_for_the_master() {
    if ha::skip() {
        return;
    }
    let run = Run { t0: Instant::now(), gaps: Vec::new(), takeovers: Vec::new() };
    let mut tb = HaTestbed::new(2, 2).unwrap_or_else(|e| panic!("testbed: {e}"));
    tb.flood_client_side().unwrap_or_else(|e| panic!("{e}"));
    start_pair(&mut tb, &run);
    wait_until("lb1 to hold the VIP", TAKEOVER, || tb.lbs[0].holds_vip()).unwrap_or_else(|e| panic!("{e}"));
    let start = now();
    tb.start_client_loop(INTERVAL, SERVED_WITHIN, GIVE_UP).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_secs(3));
    tb.stop_client_loop();
    let s = tb.samples();
    let (c1, _) = tb.lbs[0].vip_conns().unwrap_or_else(|e| panic!("{e}"));
    let (c2, _) = tb.lbs[1].vip_conns().unwrap_or_else(|e| panic!("{e}"));
    let answered = s.since(start).filter(|x| x.answered && x.peer == peer_of(&tb, 0)).count();
    run.log(&format!(
        "flooding switch: {} requests, {answered} answered through lb1; connections: lb1 {c1}, lb2 {c2}",
        s.since(start).count()
    ));
    assert_eq!(c2, 0, "the BACKUP forwarded frames addressed to the MASTER's MAC ({c2} connections; lb1 has {c1})");
    assert_all_ok_via(&s, start, &peer_of(&tb, 0), "flooding switch");
}

#[test]
fn vrrp_failover_and_failback() {
    if ha::skip() {
        return;
    }
    let mut run = Run { t0: Instant::now(), gaps: Vec::new(), takeovers: Vec::new() };
    let mut tb = HaTestbed::new(2, 2).unwrap_or_else(|e| panic!("testbed: {e}"));
    let both = start_pair(&mut tb, &run);
    let (lb1_peer, lb2_peer) = (peer_of(&tb, 0), peer_of(&tb, 1));
    let lb1_mac = tb.lbs[0].client_side_mac();
    let lb2_mac = tb.lbs[1].client_side_mac();
    assert_ne!(lb1_mac, lb2_mac);

    // ---- a. the MASTER serves, the BACKUP is silent
    let start = now();
    tb.start_client_loop(INTERVAL, SERVED_WITHIN, GIVE_UP).unwrap_or_else(|e| panic!("{e}"));
    let o = wait_served_by(&tb, &run, 0, start, Duration::from_secs(2));
    assert!(o.recovered.is_some());
    let first_ok = tb.samples().first_ok_via(start, &lb1_peer).map(|s| s.start).expect("served");
    assert_all_ok_via(&tb.samples(), first_ok, &lb1_peer, "a. lb1 MASTER");
    assert!(tb.lbs[0].keepalived_log().contains("(VI_1) Entering MASTER STATE"));
    assert!(!tb.lbs[1].keepalived_log().contains("Entering MASTER STATE"), "lb2 must stay BACKUP (lb1's adverts cross)");
    assert!(!tb.lbs[1].holds_vip());
    let (c1, d1) = tb.lbs[0].vip_conns().unwrap_or_else(|e| panic!("{e}"));
    let (c2, d2) = tb.lbs[1].vip_conns().unwrap_or_else(|e| panic!("{e}"));
    run.log(&format!("a. lb1 connections {c1} {d1:?}; lb2 connections {c2} {d2:?}"));
    assert!(c1 >= 10 && d1.iter().all(|(_, n)| *n > 0), "lb1 serves through both dests: {d1:?}");
    assert_eq!(c2, 0, "the BACKUP gets no traffic");
    assert_eq!(d2.len(), 2, "the BACKUP has the same service and dests");
    let lnc = tb.lbs[0].ipvsadm(&["-Lnc"]).unwrap_or_else(|e| panic!("{e}"));
    assert!(lnc.contains(&format!("{VIP}:{PORT}")), "ipvsadm -Lnc on lb1 lists connections:\n{lnc}");

    // ---- b. health checks through the exception path
    for lb in &tb.lbs {
        let src = lb.spec.check_source();
        for rs in &tb.servers {
            wait_until(&format!("{} to see health checks from {src}", rs.name), CHECK, || rs.accepted_from(src) >= 2)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    run.log(&format!(
        "b. health checks: rs0 accepted {} from 10.90.2.51 and {} from 10.90.2.52",
        tb.servers[0].accepted_from(tb.lbs[0].spec.check_source()),
        tb.servers[0].accepted_from(tb.lbs[1].spec.check_source())
    ));
    tb.servers[1].stop();
    let t_stop = Instant::now();
    let only_rs0 = vec![format!("{}:{PORT}", ha::rs_addr(0))];
    for lb in &tb.lbs {
        wait_until(&format!("{}'s keepalived to remove rs1", lb.spec.name), CHECK, || {
            lb.vip_dests().ok().flatten().as_ref() == Some(&only_rs0)
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", ha::tail(&lb.keepalived_log(), 20)));
    }
    run.log(&format!("b. rs1 stopped: both dpvsd list rs0 only after {:.2} s", t_stop.elapsed().as_secs_f64()));
    let after_removal = now();
    std::thread::sleep(Duration::from_secs(1));
    let s = tb.samples();
    assert_all_ok_via(&s, after_removal, &lb1_peer, "b. rs1 removed");
    assert!(s.since(after_removal).all(|x| x.server == "rs0"), "only rs0 answers");
    tb.servers[1].start().unwrap_or_else(|e| panic!("{e}"));
    let t_start = Instant::now();
    for lb in &tb.lbs {
        wait_until(&format!("{}'s keepalived to add rs1 back", lb.spec.name), CHECK, || {
            lb.vip_dests().ok().flatten().as_ref() == Some(&both)
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", ha::tail(&lb.keepalived_log(), 20)));
    }
    run.log(&format!("b. rs1 restarted: both dests back after {:.2} s", t_start.elapsed().as_secs_f64()));
    let back = now();
    wait_until("rs1 to answer again", Duration::from_secs(5), || tb.samples().since(back).any(|x| x.answered && x.server == "rs1"))
        .unwrap_or_else(|e| panic!("{e}"));

    // ---- c. SIGTERM to the MASTER's keepalived
    let t = now();
    let took = tb.lbs[0].keepalived.as_mut().expect("running").stop(ha::KEEPALIVED_STOP_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    tb.lbs[0].keepalived = None;
    run.log(&format!("c. lb1's keepalived stopped (SIGTERM) in {:.2} s", took.as_secs_f64()));
    let o = wait_served_by(&tb, &run, 1, t, Duration::from_secs(2));
    let o = record(&mut run, "keepalived SIGTERM on lb1 -> lb2", t, 1, o);
    assert!(o.gap.is_some_and(|g| g < MAX_GAP), "failover gap {o:?}");
    assert!(tb.client_vip_mac().as_deref() == Some(lb2_mac.as_str()));
    assert!(!tb.lbs[0].holds_vip(), "lb1 released the VIP");
    assert_eq!(tb.lbs[0].vip_dests().unwrap_or_else(|e| panic!("{e}")), None, "keepalived removed its service from lb1's dpvsd on stop");
    let settled = o.recovered.map(|r| t + r).expect("recovered");
    assert_all_ok_via(&tb.samples(), settled, &lb2_peer, "c. lb2 serves");

    // ---- d. lb1's keepalived back: preemption
    let t = now();
    tb.lbs[0].start_keepalived().unwrap_or_else(|e| panic!("{e}"));
    let o = wait_served_by(&tb, &run, 0, t, Duration::from_secs(2));
    let o = record(&mut run, "keepalived restarted on lb1 (preempts) -> lb1", t, 0, o);
    assert!(o.gap.is_some_and(|g| g < MAX_GAP), "failback gap {o:?}");
    assert!(!tb.lbs[1].holds_vip(), "lb2 released the VIP");
    let settled = o.recovered.map(|r| t + r).expect("recovered");
    assert_all_ok_via(&tb.samples(), settled, &lb1_peer, "d. lb1 serves again");

    // ---- e. SIGKILL to all of lb1's keepalived processes
    let t = now();
    tb.lbs[0].keepalived.as_mut().expect("running").kill_all();
    tb.lbs[0].keepalived = None;
    run.log("e. lb1's keepalived killed (SIGKILL, parent and children)");
    let o = wait_served_by(&tb, &run, 1, t, Duration::from_secs(1));
    let o = record(&mut run, "keepalived SIGKILL on lb1 -> lb2", t, 1, o);
    // both nodes hold the VIP now (lb1's was left behind) and both answer ARP for it: a client
    // that re-resolves can move between them, also in the middle of a connection
    run.takeovers.last_mut().expect("recorded").3 = false;
    assert!(o.gap.is_some_and(|g| g < MAX_GAP), "failover gap {o:?}");
    let kept_vip = tb.lbs[0].holds_vip();
    let kept_services = tb.lbs[0].vip_dests().ok().flatten().is_some();
    run.log(&format!("e. after the SIGKILL lb1 still holds the VIP: {kept_vip}; still has the service: {kept_services}"));
    let t = now();
    tb.lbs[0].start_keepalived().unwrap_or_else(|e| panic!("{e}"));
    let o = wait_served_by(&tb, &run, 0, t, Duration::from_secs(2));
    let o = record(&mut run, "keepalived restarted on lb1 after SIGKILL -> lb1", t, 0, o);
    assert!(o.gap.is_some_and(|g| g < MAX_GAP), "failback gap {o:?}");
    assert!(!tb.lbs[1].holds_vip(), "lb2 released the VIP");
    wait_until("lb1's keepalived to have both dests", CHECK, || tb.lbs[0].vip_dests().ok().flatten().as_ref() == Some(&both))
        .unwrap_or_else(|e| panic!("{e}"));

    // ---- f. SIGKILL to lb1's dpvsd
    let t = now();
    tb.lbs[0].kill_dpvsd();
    run.log("f. lb1's dpvsd killed (SIGKILL)");
    wait_until("lb1's .kni interfaces to vanish", Duration::from_secs(5), || {
        !tb.lbs[0].kni_exists("dpdk0.kni") && !tb.lbs[0].kni_exists("dpdk1.kni")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let lost = wait_until("lb1's keepalived to notice dpdk0.kni is gone", Duration::from_secs(5), || {
        tb.lbs[0].keepalived_log().contains("Interface dpdk0.kni deleted")
    });
    let fault = tb.lbs[0].keepalived_log().contains("FAULT");
    run.log(&format!("f. lb1 keepalived: interface deleted logged: {}; FAULT state logged: {fault}", lost.is_ok()));
    // what systemd does with Requires=dpvsd.service: keepalived is stopped (and started again
    // after dpvsd)
    let took = tb.lbs[0].keepalived.as_mut().expect("running").stop(ha::KEEPALIVED_STOP_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    tb.lbs[0].keepalived = None;
    run.log(&format!("f. lb1's keepalived stopped (SIGTERM, as Requires= does) in {:.2} s", took.as_secs_f64()));
    let o = wait_served_by(&tb, &run, 1, t, Duration::from_secs(1));
    let o = record(&mut run, "dpvsd SIGKILL on lb1 -> lb2", t, 1, o);
    assert!(o.gap.is_some_and(|g| g < MAX_GAP), "failover gap {o:?}");
    let t = now();
    tb.lbs[0].start_dpvsd().unwrap_or_else(|e| panic!("{e}"));
    tb.lbs[0].start_keepalived().unwrap_or_else(|e| panic!("{e}"));
    run.log("f. lb1's dpvsd and keepalived started again");
    let o = wait_served_by(&tb, &run, 0, t, Duration::from_secs(2));
    let o = record(&mut run, "dpvsd and keepalived restarted on lb1 -> lb1", t, 0, o);
    assert!(o.gap.is_some_and(|g| g < MAX_GAP), "failback gap {o:?}");
    assert!(!tb.lbs[1].holds_vip(), "lb2 released the VIP");
    wait_until("lb1's dpvsd to have both dests again", CHECK, || tb.lbs[0].vip_dests().ok().flatten().as_ref() == Some(&both))
        .unwrap_or_else(|e| panic!("{e}"));
    let settled = o.recovered.map(|r| t + r).expect("recovered");
    assert_all_ok_via(&tb.samples(), settled, &lb1_peer, "f. lb1 serves again");

    // ---- g. SIGKILL to lb1's dpvsd with keepalived left running (a keepalived unit with
    // Wants=dpvsd.service instead of Requires=): keepalived sees dpdk0.kni go and come back
    let t = now();
    tb.lbs[0].kill_dpvsd();
    run.log("g. lb1's dpvsd killed (SIGKILL), keepalived left running");
    let o = wait_served_by(&tb, &run, 1, t, Duration::from_secs(1));
    let o = record(&mut run, "dpvsd SIGKILL on lb1, keepalived running -> lb2", t, 1, o);
    assert!(o.gap.is_some_and(|g| g < MAX_GAP), "failover gap {o:?}");
    let t = now();
    tb.lbs[0].start_dpvsd().unwrap_or_else(|e| panic!("{e}"));
    run.log("g. lb1's dpvsd started again (kernel addresses back on its .kni interfaces)");
    let o = wait_served_by(&tb, &run, 0, t, Duration::from_secs(2));
    let o = record(&mut run, "dpvsd restarted under lb1's running keepalived -> lb1", t, 0, o);
    assert!(o.gap.is_some_and(|g| g < MAX_GAP), "failback gap {o:?}");
    assert!(tb.lbs[0].keepalived.as_mut().is_some_and(ha::Keepalived::running), "lb1's keepalived rode through");
    assert!(tb.lbs[0].keepalived_log().contains("Interface dpdk0.kni added"), "keepalived saw dpdk0.kni come back");
    assert!(!tb.lbs[1].holds_vip(), "lb2 released the VIP");
    wait_until("lb1's dpvsd to have both dests", CHECK, || tb.lbs[0].vip_dests().ok().flatten().as_ref() == Some(&both))
        .unwrap_or_else(|e| panic!("{e}"));
    let settled = o.recovered.map(|r| t + r).expect("recovered");
    assert_all_ok_via(&tb.samples(), settled, &lb1_peer, "g. lb1 serves again");

    tb.stop_client_loop();
    let s = tb.samples();
    let failed = s.0.iter().filter(|x| !x.ok).count();
    let unanswered = s.0.iter().filter(|x| !x.answered).count();
    println!(
        "\nrequests: {} in {:.1} s; {failed} not served within {SERVED_WITHIN:?}, {unanswered} of them never answered",
        s.0.len(),
        run.t0.elapsed().as_secs_f64()
    );
    println!("| event | failed requests | first failure after the event | served again after the event | gap |");
    println!("|---|---|---|---|---|");
    for (what, o) in &run.gaps {
        println!(
            "| {what} | {} | {} | {} | {} |",
            o.failed,
            fmt_opt(o.first_failure),
            fmt_opt(o.recovered),
            fmt_opt(o.gap)
        );
    }

    // Once the client sends to the new master (its ARP entry for the VIP is the new master's
    // MAC: the gratuitous ARP arrived, so the new master holds the VIP), no request may lose a
    // packet (no answer at all, or a handshake that needed the client's SYN retransmission).
    // The kernel would queue the first packets to a client whose MAC it has not resolved yet;
    // the new master must not drop them either (the first connection after a takeover).
    let mut problems = Vec::new();
    for (i, (what, t, lb, strict)) in run.takeovers.iter().enumerate() {
        if !strict {
            continue;
        }
        let until = run.takeovers.get(i + 1).map_or(f64::INFINITY, |n| n.1);
        let mac = tb.lbs[*lb].client_side_mac();
        let bad = s.lost_to_between(*t, until, &mac);
        if !bad.is_empty() {
            let around: Vec<String> = s
                .0
                .iter()
                .filter(|x| bad.iter().any(|b| (x.start - b.start).abs() < 1.5))
                .map(|x| {
                    format!(
                        "  +{:.3} {:.3} s {} {} {} connect {:.3} {}",
                        x.start - t,
                        x.end - x.start,
                        if x.answered { "ok " } else { "ERR" },
                        x.server,
                        x.peer,
                        x.connect,
                        x.mac
                    )
                })
                .collect();
            problems.push(format!(
                "{what}: {} request(s) sent to {} (its MAC in the client's ARP table) failed: {:?}\nrequests around them (seconds after the event):\n{}",
                bad.len(),
                tb.lbs[*lb].spec.name,
                bad,
                around.join("\n")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "requests that lost a packet after the takeover:\n{}\n{}",
        problems.join("\n"),
        tb.lbs.iter().map(|l| format!("{} dpip stats:\n{}", l.spec.name, l.dpip_stats())).collect::<Vec<_>>().join("\n")
    );

    // both dpvsd end cleanly on SIGTERM (after their keepalived)
    for lb in &mut tb.lbs {
        if let Some(mut k) = lb.keepalived.take() {
            k.stop(ha::KEEPALIVED_STOP_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        }
        let how = lb.stop_dpvsd();
        assert_eq!(how, "exit status: 0", "{} dpvsd on SIGTERM", lb.spec.name);
    }
}
