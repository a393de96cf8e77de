//! End to end through a real kernel interface: a veth pair whose far end sits in a network
//! namespace, DPDK's net_af_packet PMD on the near end. A frame sent with tx_burst arrives in
//! the namespace byte for byte, and a frame sent from the namespace comes out of rx_burst byte
//! for byte. One #[test]: EAL initialises once per process.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{hex, Helper, VethNetns};
use dpdk::{Eal, Mbuf, Mempool, Port, PortConf};

/// Inside the namespace: waits (bounded) for a frame containing MARK on IF and prints it in hex.
const RECV_PY: &str = r#"
import select, socket, sys, time
iface, mark = sys.argv[1], bytes.fromhex(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((iface, 0))
print("ready", flush=True)
end = time.time() + 8
while time.time() < end:
    r, _, _ = select.select([s], [], [], 0.2)
    if r:
        f = s.recv(65535)
        if mark in f:
            print(f.hex(), flush=True)
            sys.exit(0)
sys.exit(1)
"#;

#[test]
fn af_packet_on_veth_both_directions() {
    if !common::can_run("af_packet_on_veth_both_directions") {
        return;
    }
    let pid = std::process::id();
    let netns = VethNetns::new(
        &format!("dpdk-rs-{pid}"),
        &format!("dpk{pid}h"),
        &format!("dpk{pid}n"),
    )
    .expect("network namespace and veth pair");
    let prefix = common::unique("dpdk-rs-veth-");
    let _runtime_dir = common::RuntimeDir(prefix.clone());
    let args = common::eal_args(
        &prefix,
        &[
            "-l".into(),
            "0".into(),
            format!("--vdev=net_af_packet0,iface={}", netns.host_if),
        ],
    );
    let eal = Eal::init(&args).expect("rte_eal_init with the af_packet vdev");
    assert_eq!(Port::count(&eal), 1);

    let pool = Mempool::new(
        &eal,
        "veth-pool",
        2047,
        64,
        Mempool::DEFAULT_DATA_ROOM,
        None,
    )
    .unwrap();
    let mut port = Port::by_name(&eal, "net_af_packet0").unwrap();
    assert!(
        matches!(Port::new(&eal, port.id()), Err(dpdk::Error::InUse(_))),
        "claimed once"
    );
    port.configure(
        &PortConf {
            rx_queues: 1,
            tx_queues: 1,
            rx_desc: 512,
            tx_desc: 512,
        },
        &pool,
    )
    .unwrap();
    port.start().unwrap();
    port.set_promiscuous(true).unwrap();
    assert!(port.promiscuous().unwrap());

    let port_mac = port.mac_addr().unwrap();
    let host_mac =
        std::fs::read_to_string(format!("/sys/class/net/{}/address", netns.host_if)).unwrap();
    assert_eq!(
        port_mac,
        common::parse_mac(host_mac.trim()).unwrap(),
        "the PMD reports the interface's MAC"
    );
    let link = port.link().unwrap();
    assert!(link.up, "{link:?}");
    let ns_mac = netns.ns_mac().unwrap();

    let mut rxq = port.rx_queue(0).unwrap();
    let mut txq = port.tx_queue(0).unwrap();
    assert!(port.rx_queue(0).is_err(), "a queue is handed out once");
    assert!(
        port.stop().is_err(),
        "no stop while queue handles are alive"
    );

    // DPDK -> namespace.
    let out_frame = udp_frame(
        ns_mac,
        port_mac,
        [10, 99, 0, 1],
        [10, 99, 0, 2],
        b"dpdk-rs to the namespace",
    );
    let mut recv = Helper::spawn(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &netns.netns,
                "python3",
                "-c",
                RECV_PY,
                &netns.ns_if,
            ])
            .arg(hex(b"dpdk-rs to the namespace")),
    )
    .unwrap();
    assert_eq!(recv.line(Duration::from_secs(10)).as_deref(), Some("ready"));
    let mut seen = None;
    let deadline = Instant::now() + Duration::from_secs(8);
    while seen.is_none() && Instant::now() < deadline {
        let mut burst = vec![Mbuf::from_slice(&pool, &out_frame).unwrap()];
        assert_eq!(txq.tx_burst(&mut burst), 1);
        assert!(burst.is_empty(), "a sent mbuf leaves the vector");
        seen = recv.line(Duration::from_millis(300));
    }
    assert_eq!(
        seen,
        Some(hex(&out_frame)),
        "the namespace received the frame byte for byte"
    );
    assert_eq!(recv.wait(Duration::from_secs(5)), Some(0));
    assert!(port.stats().unwrap().opackets >= 1);

    // Namespace -> DPDK.
    let in_frame = udp_frame(
        port_mac,
        ns_mac,
        [10, 99, 0, 2],
        [10, 99, 0, 1],
        b"the namespace to dpdk-rs",
    );
    let _send = common::send_frames(&netns, &in_frame, 10, 0.2);
    let mut slots: [Option<Mbuf>; 32] = Default::default();
    let mut got = None;
    let deadline = Instant::now() + Duration::from_secs(8);
    'poll: while Instant::now() < deadline {
        let n = rxq.rx_burst(&mut slots);
        for m in slots[..n].iter_mut() {
            let m = m.take().unwrap();
            if m.data() == in_frame.as_slice() {
                got = Some(m);
                break 'poll;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let got = got.expect("rx_burst returned the namespace's frame byte for byte");
    assert_eq!(
        (got.pkt_len(), got.segments(), got.port()),
        (in_frame.len(), 1, port.id())
    );
    let mut vec_rx = Vec::new();
    rxq.rx_burst_into(&mut vec_rx, 32); // whatever else arrived; just exercise the Vec form
    drop((got, vec_rx, slots));
    let stats = port.stats().unwrap();
    assert!(stats.ipackets >= 1, "{stats:?}");
    assert_eq!(stats.ierrors, 0, "{stats:?}");

    drop((rxq, txq));
    port.stop().unwrap();
    assert!(!port.is_started());
}

/// An Ethernet + IPv4 + UDP frame (ports 4000 -> 4001) with a correct IPv4 header checksum.
fn udp_frame(dst: [u8; 6], src: [u8; 6], sip: [u8; 4], dip: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&sip);
    ip[16..20].copy_from_slice(&dip);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&4000u16.to_be_bytes());
    f.extend_from_slice(&4001u16.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]); // no UDP checksum
    f.extend_from_slice(payload);
    f
}
