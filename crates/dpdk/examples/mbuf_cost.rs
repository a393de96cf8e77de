//! What the safe wrappers cost per packet: mbuf alloc + free (one at a time and in bulk), and
//! rx/tx burst bookkeeping on DPDK's `net_null` driver (rx hands out fresh mbufs, tx frees
//! them: no kernel, no wire, only the driver and this crate's burst code).
//!
//! `sudo cargo run --release -p dpdk --example mbuf_cost [ROUNDS]` (EAL needs root here).

use std::time::Instant;

use dpdk::{Eal, Mbuf, Mempool, Port, PortConf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let prefix = format!("dpdk-rs-cost-{}", std::process::id());
    let eal = Eal::init([
        "-l",
        "0",
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--no-shconf",
        "--no-telemetry",
        "--log-level",
        "lib.eal:notice",
        &format!("--file-prefix={prefix}"),
        "--vdev=net_null0,copy=0",
    ])?;
    let result = run(&eal, rounds);
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    result
}

fn run(eal: &Eal, rounds: u32) -> Result<(), Box<dyn std::error::Error>> {
    let pool = Mempool::new(
        eal,
        "cost-pool",
        8191,
        256,
        Mempool::DEFAULT_DATA_ROOM,
        None,
    )?;

    let t = Instant::now();
    for _ in 0..rounds {
        drop(std::hint::black_box(pool.alloc()?));
    }
    report("alloc + free, one mbuf", t, u64::from(rounds));

    let mut bulk = Vec::with_capacity(32);
    let t = Instant::now();
    for _ in 0..rounds / 32 {
        pool.alloc_bulk(&mut bulk, 32)?;
        bulk.clear();
    }
    report(
        "alloc_bulk(32) + drop, per mbuf",
        t,
        u64::from(rounds / 32) * 32,
    );

    let mut port = Port::by_name(eal, "net_null0")?;
    port.configure(&PortConf::default(), &pool)?;
    port.start()?;
    let (mut rxq, mut txq) = (port.rx_queue(0)?, port.tx_queue(0)?);

    let mut slots: [Option<Mbuf>; 32] = Default::default();
    let mut received = 0u64;
    let t = Instant::now();
    for _ in 0..rounds / 32 {
        received += rxq.rx_burst(&mut slots) as u64;
    }
    report(
        "rx_burst(32) into [Option<Mbuf>] + free, per mbuf",
        t,
        received,
    );

    let mut burst = Vec::with_capacity(32);
    let (mut sent, mut rx_total) = (0u64, 0u64);
    let t = Instant::now();
    for _ in 0..rounds / 32 {
        rx_total += rxq.rx_burst_into(&mut burst, 32) as u64;
        sent += txq.tx_burst(&mut burst) as u64;
        burst.clear();
    }
    report("rx_burst_into(Vec) + tx_burst, per mbuf", t, sent.max(1));
    println!("  (received {rx_total}, sent {sent})");
    drop((rxq, txq, slots));
    port.stop()?;
    Ok(())
}

fn report(what: &str, since: Instant, ops: u64) {
    let ns = since.elapsed().as_nanos() as f64 / ops.max(1) as f64;
    println!("{what:<52} {ns:>7.1} ns  ({ops} mbufs)");
}
