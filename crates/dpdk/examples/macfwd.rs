//! The floor of a DPDK application on `net_af_packet`: a forwarder between two kernel
//! interfaces that does nothing but pick the next hop's MAC address by the IPv4 destination
//! (a static table) and rewrite the Ethernet header. No TTL, no checksum, no connection
//! table, no balancing. `bench/netns-compare.sh` runs it as the `dpdk-macfwd` row: whatever a
//! load balancer does on the same ports costs at least this.
//!
//! ```text
//! macfwd [--busy] [--queues N] IFACE0 IFACE1 IPV4=MAC@PORT...
//! ```
//! PORT is 0 or 1 (IFACE0 or IFACE1). Frames that are not IPv4 to an address of the table are
//! dropped (the neighbours are static: nobody asks macfwd for an address). Without `--busy`
//! an idle loop backs off as dpvsd's workers do (256 empty polls, then 10 µs more sleep per
//! empty poll up to 200 µs). `--queues N` opens N queue pairs (af_packet sockets in one
//! fanout group, as for dpvsd's workers) and polls each on its own lcore. It runs until
//! SIGTERM or SIGINT (the default action: the kernel closes the sockets; the bench removes
//! the EAL runtime directory) and needs root.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use dpdk::{Eal, Mbuf, Mempool, Port, PortConf, RxQueue, TxQueue};
use dpvs_wire::EthernetAddress;

const BURST: u16 = 64;
const SPIN_POLLS: u32 = 256;
const IDLE_SLEEP_US: u32 = 200;

#[derive(Debug)]
struct Hop {
    addr: [u8; 4],
    mac: [u8; 6],
    port: usize,
}

fn parse_hop(s: &str) -> Result<Hop, String> {
    let bad = || format!("{s:?}: expected IPV4=MAC@PORT, e.g. 10.0.0.2=02:00:00:00:00:01@1");
    let (addr, rest) = s.split_once('=').ok_or_else(bad)?;
    let (mac, port) = rest.split_once('@').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let mac = mac.parse::<EthernetAddress>().map_err(|_| bad())?.0;
    let port = match port {
        "0" => 0,
        "1" => 1,
        _ => return Err(bad()),
    };
    Ok(Hop {
        addr: addr.octets(),
        mac,
        port,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: macfwd [--busy] [--queues N] IFACE0 IFACE1 IPV4=MAC@PORT...";
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut busy = false;
    let mut queues: u16 = 1;
    while let Some(a) = args.first() {
        match a.as_str() {
            "--busy" => busy = true,
            "--queues" if args.len() > 1 => {
                queues = args[1]
                    .parse()
                    .ok()
                    .filter(|&n| (1..=8).contains(&n))
                    .ok_or_else(|| format!("--queues {:?}: expected 1 to 8", args[1]))?;
                args.remove(0);
            }
            _ => break,
        }
        args.remove(0);
    }
    if args.len() < 3 {
        return Err(usage.into());
    }
    let hops: Arc<Vec<Hop>> = Arc::new(
        args[2..]
            .iter()
            .map(|s| parse_hop(s))
            .collect::<Result<_, _>>()?,
    );
    let prefix = format!("macfwd-{}", std::process::id());
    let mut eal_args: Vec<String> = [
        "macfwd",
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--no-telemetry",
        "--log-level",
        "lib.eal:notice",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    eal_args.push(format!("--file-prefix={prefix}"));
    // one lcore per queue pair, free to run on any CPU, as dpvsd's workers are
    eal_args.push(format!(
        "--lcores=(0-{})@(0-{})",
        queues - 1,
        std::thread::available_parallelism()?.get() - 1
    ));
    for (i, iface) in args[..2].iter().enumerate() {
        // the same socket settings as dpvsd's `interface` ports (rx_desc 1024; one af_packet
        // socket per queue pair, in one fanout group)
        eal_args.push(format!(
            "--vdev=net_af_packet{i},iface={iface},qpairs={queues},framecnt=1024,qdisc_bypass=1"
        ));
    }
    let eal = Eal::init(&eal_args)?;
    let pool = Mempool::new(&eal, "macfwd", 8191, 256, Mempool::DEFAULT_DATA_ROOM, None)?;
    let conf = PortConf {
        rx_queues: queues,
        tx_queues: queues,
        ..PortConf::default()
    };
    let mut ports = Vec::new();
    for i in 0..2 {
        let mut p = Port::by_name(&eal, &format!("net_af_packet{i}"))?;
        p.configure(&conf, &pool)?;
        p.start()?;
        ports.push(p);
    }
    let macs = [ports[0].mac_addr()?, ports[1].mac_addr()?];
    eprintln!(
        "macfwd: forwarding between {} and {} ({} next hops, {queues} queue pairs)",
        args[0],
        args[1],
        hops.len()
    );
    // queue pair q on lcore q; no flow needs another lcore (macfwd keeps no state)
    let mut others = Vec::new();
    for (q, lcore) in (1..queues).zip(eal.worker_lcores()) {
        let rx = [ports[0].rx_queue(q)?, ports[1].rx_queue(q)?];
        let tx = [ports[0].tx_queue(q)?, ports[1].tx_queue(q)?];
        let hops = Arc::clone(&hops);
        others.push(eal.remote_launch(lcore, move || forward(rx, tx, &hops, macs, busy))?);
    }
    let rx = [ports[0].rx_queue(0)?, ports[1].rx_queue(0)?];
    let tx = [ports[0].tx_queue(0)?, ports[1].tx_queue(0)?];
    forward(rx, tx, &hops, macs, busy);
    Ok(())
}

/// One lcore's loop over its queue pair on both ports, until the process is killed.
fn forward(mut rx: [RxQueue; 2], mut tx: [TxQueue; 2], hops: &[Hop], macs: [[u8; 6]; 2], busy: bool) {
    let mut rxb: Vec<Mbuf> = Vec::with_capacity(usize::from(BURST));
    let mut txq: [Vec<Mbuf>; 2] = [Vec::with_capacity(256), Vec::with_capacity(256)];
    let mut idle = 0u32;
    loop {
        let mut got = 0;
        for q in rx.iter_mut() {
            rxb.clear();
            got += q.rx_burst_into(&mut rxb, BURST);
            for mut m in rxb.drain(..) {
                let d = m.data();
                if d.len() < 34 || d[12..14] != [0x08, 0x00] {
                    continue;
                }
                let Some(h) = hops.iter().find(|h| d[30..34] == h.addr) else {
                    continue;
                };
                let d = m.data_mut();
                d[0..6].copy_from_slice(&h.mac);
                d[6..12].copy_from_slice(&macs[h.port]);
                txq[h.port].push(m);
            }
        }
        for (q, pkts) in tx.iter_mut().zip(txq.iter_mut()) {
            if !pkts.is_empty() {
                q.tx_burst(pkts);
                pkts.clear();
            }
        }
        if got == 0 {
            idle = idle.saturating_add(1);
            if !busy && idle > SPIN_POLLS {
                let us = (idle - SPIN_POLLS).saturating_mul(10).min(IDLE_SLEEP_US);
                std::thread::sleep(Duration::from_micros(u64::from(us)));
            }
        } else {
            idle = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_hop;

    #[test]
    fn hops_parse_and_bad_ones_are_named() {
        let h = parse_hop("10.90.2.10=02:00:0a:5a:02:0a@1").unwrap();
        assert_eq!(h.addr, [10, 90, 2, 10]);
        assert_eq!(h.mac, [2, 0, 0x0a, 0x5a, 2, 0x0a]);
        assert_eq!(h.port, 1);
        for bad in [
            "10.90.2.10",
            "10.90.2.10=02:00:0a:5a:02@1",
            "10.90.2.10=02:00:0a:5a:02:0a@2",
            "x=02:00:0a:5a:02:0a@0",
        ] {
            let e = parse_hop(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }
}
