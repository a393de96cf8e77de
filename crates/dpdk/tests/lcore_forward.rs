//! The dataplane's hand-off shape: a worker lcore owns a port's receive queue and passes what
//! it receives to the main lcore over an SPSC ring of mbufs. Frames come from a network
//! namespace through a veth pair (net_af_packet on the near end). One #[test]: EAL initialises
//! once per process.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::VethNetns;
use dpdk::{current_lcore, ring, Eal, Mbuf, Mempool, Port, PortConf};

#[test]
fn worker_lcore_receives_and_hands_off_over_a_ring() {
    if !common::can_run("worker_lcore_receives_and_hands_off_over_a_ring") {
        return;
    }
    let pid = std::process::id();
    let netns = VethNetns::new(
        &format!("dpdk-rs-fwd-{pid}"),
        &format!("dpf{pid}h"),
        &format!("dpf{pid}n"),
    )
    .expect("network namespace and veth pair");
    let prefix = common::unique("dpdk-rs-fwd-");
    let _runtime_dir = common::RuntimeDir(prefix.clone());
    let args = common::eal_args(
        &prefix,
        &[
            "--lcores=0@0,1@0".into(),
            format!("--vdev=net_af_packet0,iface={}", netns.host_if),
        ],
    );
    let eal = Eal::init(&args).expect("rte_eal_init with the af_packet vdev");
    let pool = Mempool::new(&eal, "fwd-pool", 2047, 64, Mempool::DEFAULT_DATA_ROOM, None).unwrap();
    let mut port = Port::by_name(&eal, "net_af_packet0").unwrap();
    port.configure(&PortConf::default(), &pool).unwrap();
    port.start().unwrap();
    let port_mac = port.mac_addr().unwrap();
    let ns_mac = netns.ns_mac().unwrap();

    // An ARP request from the namespace's side, padded to the 60-byte minimum.
    let mut frame = Vec::new();
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&ns_mac);
    frame.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    frame.extend_from_slice(&ns_mac);
    frame.extend_from_slice(&[10, 99, 1, 2]);
    frame.extend_from_slice(&[0; 6]);
    frame.extend_from_slice(&[10, 99, 1, 1]);
    frame.resize(60, 0);
    assert_ne!(port_mac, ns_mac);

    let (mut to_main, mut from_worker) = ring::spsc::<Mbuf>(&eal, "fwd-ring", 256, None).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let worker_stop = Arc::clone(&stop);
    let mut rxq = port.rx_queue(0).unwrap();
    let worker = eal
        .remote_launch(1, move || {
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut burst = Vec::with_capacity(32);
            let mut forwarded = 0;
            while !worker_stop.load(Ordering::Acquire) && Instant::now() < deadline {
                rxq.rx_burst_into(&mut burst, 32);
                forwarded += to_main.enqueue_burst(&mut burst);
                burst.clear(); // what did not fit in the ring is dropped, as a dataplane would
                std::thread::yield_now();
            }
            (rxq, forwarded, current_lcore())
        })
        .unwrap();

    let _send = common::send_frames(&netns, &frame, 80, 0.1);
    let mut got = None;
    let mut handed = Vec::with_capacity(64);
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.is_none() && Instant::now() < deadline {
        from_worker.dequeue_burst(&mut handed, 64);
        got = handed.drain(..).find(|m| m.data() == frame.as_slice());
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Release);
    let (rxq, forwarded, lcore) = worker.join().unwrap();
    assert!(
        got.is_some(),
        "the worker's rx_burst got the namespace's ARP request and handed it over"
    );
    assert!(forwarded >= 1);
    assert_eq!(lcore, Some(1), "the receive loop ran on the worker lcore");

    drop((got, handed, from_worker, rxq));
    port.stop().unwrap();
}
