//! The DPDK dataplane: EAL, ports, one worker per lcore running the dpvs-core pipeline, and
//! the control thread's side of it.
//!
//! The control thread (dpvsd's event loop, the EAL main lcore) owns the configuration. It
//! publishes an immutable `Published` (the IPVS [`Snapshot`], the network state, the
//! steering table, the local-address pool) behind a generation number; a worker compares the
//! number once per loop and takes the new one off the packet path. Workers own everything
//! mutable on the packet path and answer the control thread's requests (statistics,
//! connection listings, packets to send) in their slow path, through per-worker slots.
//! Neighbours the workers learn (ARP, ND, on-link senders) come back to the control thread,
//! which adds them to the next network snapshot; the control thread also follows rtnetlink
//! for the addresses and routes the kernel has on the `.kni` interfaces ([`kni`]).

pub mod config;
pub mod conns;
pub mod control;
pub mod estimator;
pub mod kni;
pub mod rate;
pub mod steer;
pub mod translate;
mod worker;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use dpdk::{Eal, LcoreJoin, Mbuf, Mempool, Port, PortConf};
use dpvs_core::conn::ConnTableConfig;
use dpvs_core::net::{LocalAddr, NeighTable, NetSnapshot, PortInfo, Route, RouteKind, RouteTable, Scope};
use dpvs_core::pipeline::{PipelineConfig, PipelineCounters, TunnelConfig};
use dpvs_core::xmit::tunnel::TunnelKind;
use dpvs_core::service::{Settings, Snapshot};
use dpvs_core::worker::{StatsReport, StatsTotals, WorkerConfig};
use dpvs_core::xmit::TtlPolicy;
use dpvs_wire::EthernetAddress;
use ipvs_genl::ipvs::Stats;
use tracing::{error, info, warn};

use self::config::{DataplaneConfig, Device, Ttl, Tunnel};
use self::steer::Steering;
use self::translate::{Accumulator, Options, Translator};
use crate::ipvs::state::IpvsState;

/// What the control thread publishes to the workers.
pub(crate) struct Published {
    pub generation: u64,
    pub ipvs: Arc<Snapshot>,
    pub net: Arc<NetSnapshot>,
    pub steering: Arc<Steering>,
    pub laddrs: Arc<Vec<IpAddr>>,
    /// Administrative state of each port, in the workers' port order.
    pub ports_up: Vec<bool>,
}

/// Something the control thread asks one worker to send.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Command {
    /// Resolve a next hop.
    Solicit { port: u16, target: IpAddr },
    /// Announce an address (gratuitous ARP, unsolicited NA).
    Announce { port: u16, addr: IpAddr },
}

/// What a worker reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkerReport {
    pub stats: StatsReport,
    pub pipeline: PipelineCounters,
    pub conns: u64,
    pub handoff_drops: u64,
    pub tx_drops: u64,
    pub multiseg_drops: u64,
    /// Frames for the kernel, dropped for want of an exception path.
    pub kernel_drops: u64,
    pub net_drops: u64,
    pub local_replies: u64,
    /// Frames received on or routed to a port that is down.
    pub down_drops: u64,
    /// Frames handed to the kernel interfaces, and over the exception path's rate.
    pub to_kni: u64,
    pub kni_rate_drops: u64,
    /// Frames the kernel sent out through the kernel interfaces.
    pub from_kni: u64,
    /// ICMP errors sent (fragmentation needed, time exceeded).
    pub icmp_errors: u64,
    /// Frames dropped waiting for their next hop's resolution.
    pub unresolved_drops: u64,
    /// Unicast frames for another MAC.
    pub other_host_drops: u64,
}

/// One worker's mailbox.
#[derive(Default)]
pub(crate) struct Slot {
    pub stats_req: AtomicU64,
    pub stats_done: AtomicU64,
    pub report: Mutex<WorkerReport>,
    pub conns_req: AtomicU64,
    pub conns_done: AtomicU64,
    pub conns: Mutex<String>,
    pub commands: Mutex<Vec<Command>>,
    pub has_commands: AtomicBool,
}

/// State shared by the control thread and the workers.
pub(crate) struct Shared {
    pub generation: AtomicU64,
    published: Mutex<Arc<Published>>,
    pub stop: AtomicBool,
    pub workers: Vec<Slot>,
    /// Neighbours the workers learned, for the control thread.
    pub learned: Mutex<Vec<(IpAddr, EthernetAddress, u16)>>,
}

impl Shared {
    pub fn load(&self) -> Arc<Published> {
        Arc::clone(&self.published.lock().expect("published"))
    }

    fn store(&self, p: Published) {
        let g = p.generation;
        *self.published.lock().expect("published") = Arc::new(p);
        self.generation.store(g, Ordering::Release);
    }

    fn command(&self, worker: usize, c: Command) {
        if let Some(slot) = self.workers.get(worker) {
            slot.commands.lock().expect("commands").push(c);
            slot.has_commands.store(true, Ordering::Release);
        }
    }
}

struct PortRt {
    port: Port,
    name: String,
    mac: EthernetAddress,
    mtu: u16,
    /// Administratively up.
    up: bool,
}

/// The running dataplane, owned by the control thread.
pub struct Dataplane {
    cfg: DataplaneConfig,
    _eal: Eal,
    _pool: Mempool,
    ports: Vec<PortRt>,
    shared: Arc<Shared>,
    joins: Vec<LcoreJoin<()>>,
    translator: Translator,
    acc: Accumulator,
    ipvs: Arc<Snapshot>,
    net: Arc<NetSnapshot>,
    laddrs: Arc<Vec<IpAddr>>,
    neigh: NeighTable,
    generation: u64,
    seq: u64,
    epoch: Instant,
    last_estimate: Instant,
    /// The last reports, for workers that did not answer in time.
    reports: Vec<WorkerReport>,
    /// When they were collected.
    reports_at: Option<Instant>,
    /// When they were last added to the IPVS statistics.
    applied_at: Option<Instant>,
    /// Each port's kernel interface (index-aligned with `ports`).
    knis: Arc<Vec<Option<kni::Kni>>>,
    watcher: Option<kni::Watcher>,
    /// Addresses the kernel has on a `.kni` interface: `(port index, address, length)`.
    kni_addrs: Vec<(usize, IpAddr, u8)>,
    /// Routes the kernel has through a `.kni` interface: `(port index, route)`.
    kni_routes: Vec<(usize, config::RouteConfig)>,
    /// Kernel interfaces hidden from the kernel's stack while we run.
    hidden: Vec<String>,
    /// Since when the IPVS configuration has changes not yet published.
    ipvs_dirty: Option<Instant>,
    /// The last IPVS change.
    ipvs_changed: Instant,
    /// How long the last IPVS snapshot took to build and publish.
    last_build: Duration,
}

/// How long the control thread waits for the workers' answers.
const ANSWER_WAIT: Duration = Duration::from_millis(200);
/// How long collected reports answer further requests.
const REPORT_REUSE: Duration = Duration::from_millis(5);
/// The kernel estimator's period.
const ESTIMATE_EVERY: Duration = Duration::from_secs(2);
/// IPVS changes are published once the requests pause this long.
const PUBLISH_PAUSE: Duration = Duration::from_millis(1);
/// The longest IPVS changes wait to be published while requests keep coming.
const MAX_PUBLISH_DELAY: Duration = Duration::from_millis(50);
/// The control thread's tick while a dataplane runs.
const TICK: Duration = Duration::from_millis(10);

fn online_cpus() -> String {
    std::fs::read_to_string("/sys/devices/system/cpu/online").map(|s| s.trim().to_string()).unwrap_or_else(|_| "0".into())
}

/// The EAL's arguments for `cfg`, and each port's DPDK device name.
pub fn eal_args(cfg: &DataplaneConfig) -> (Vec<String>, Vec<String>) {
    let mut args = vec!["dpvsd".to_string()];
    if !cfg.hugepages {
        args.push("--no-huge".into());
    }
    args.extend(["-m".into(), cfg.memory_mb.to_string()]);
    args.push(format!("--file-prefix={}", cfg.file_prefix));
    args.push("--no-telemetry".into());
    args.push(match &cfg.lcores {
        Some(l) => format!("--lcores={l}"),
        None => format!("--lcores=(0-{})@({})", cfg.workers, online_cpus()),
    });
    let mut names = Vec::new();
    let mut pci = false;
    for (i, p) in cfg.ports.iter().enumerate() {
        match p.device.as_ref().expect("checked: every port has a device") {
            Device::Interface(iface) => {
                let name = format!("net_af_packet{i}");
                // the socket's ring holds rx_desc frames (af_packet's own default, 512, overflows
                // at a few hundred thousand packets a second); transmit bypasses the qdisc
                args.push(format!(
                    "--vdev={name},iface={iface},qpairs={},framecnt={},qdisc_bypass=1",
                    cfg.workers,
                    p.rx_desc.max(64) & !1
                ));
                names.push(name);
            }
            Device::Vdev(v) => {
                args.push(format!("--vdev={v}"));
                names.push(v.split(',').next().unwrap_or(v).to_string());
            }
            Device::Pci(a) => {
                args.push(format!("--allow={a}"));
                names.push(a.clone());
                pci = true;
            }
        }
    }
    if !pci {
        args.push("--no-pci".into());
    }
    args.extend(cfg.eal_args.iter().cloned());
    (args, names)
}

impl Dataplane {
    /// Starts the EAL, the ports and the workers, on the configuration `state`.
    pub fn start(cfg: &DataplaneConfig, state: &IpvsState) -> anyhow::Result<Dataplane> {
        // the network namespace's interfaces as the kernel sees them: a clearer message than
        // the PMD's when a name is wrong
        for p in &cfg.ports {
            if let Some(Device::Interface(iface)) = &p.device {
                if !std::path::Path::new("/sys/class/net").join(iface).exists() {
                    bail!("[port.{}] (line {}): interface `{iface}` does not exist in this network namespace", p.name, p.line);
                }
            }
        }
        let (args, names) = eal_args(cfg);
        info!(args = %args.join(" "), "starting the DPDK EAL");
        let eal = Eal::init(&args).context("cannot start the DPDK EAL")?;
        let lcores = eal.worker_lcores();
        if lcores.len() < usize::from(cfg.workers) {
            bail!("{} workers need {} worker lcores; the EAL has {}", cfg.workers, cfg.workers, lcores.len());
        }
        let pool = Mempool::new(&eal, "dpvs_mbufs", cfg.mbufs, 256, 2048 + 128, None)
            .with_context(|| format!("cannot allocate {} mbufs (dataplane.mbufs; eal.memory)", cfg.mbufs))?;
        let w = cfg.workers;
        let mut ports = Vec::new();
        for (pc, name) in cfg.ports.iter().zip(&names) {
            let mut port = Port::by_name(&eal, name)
                .with_context(|| format!("[port.{}]: no DPDK port `{name}` (is the device right?)", pc.name))?;
            let conf = PortConf { rx_queues: w, tx_queues: w, rx_desc: pc.rx_desc, tx_desc: pc.tx_desc };
            port.configure(&conf, &pool).with_context(|| format!("[port.{}]: cannot configure {name}", pc.name))?;
            port.start().with_context(|| format!("[port.{}]: cannot start {name}", pc.name))?;
            if pc.promisc {
                if let Err(e) = port.set_promiscuous(true) {
                    warn!(port = %pc.name, "cannot set promiscuous mode: {e}");
                }
            }
            let mac = EthernetAddress(port.mac_addr().with_context(|| format!("[port.{}]: no MAC address", pc.name))?);
            info!(port = %pc.name, device = %name, id = port.id(), %mac, queues = w, "port started");
            ports.push(PortRt { port, name: pc.name.clone(), mac, mtu: pc.mtu, up: true });
        }
        let shared = Arc::new(Shared {
            generation: AtomicU64::new(0),
            published: Mutex::new(Arc::new(Published {
                generation: 0,
                ipvs: Arc::new(Snapshot::empty(0, Settings::default())),
                net: Arc::new(NetSnapshot::new(0, Vec::new(), Vec::new(), RouteTable::new(), NeighTable::new())),
                steering: Arc::new(Steering::default()),
                laddrs: Arc::new(Vec::new()),
                ports_up: Vec::new(),
            })),
            stop: AtomicBool::new(false),
            workers: (0..w).map(|_| Slot::default()).collect(),
            learned: Mutex::new(Vec::new()),
        });
        let mut dp = Dataplane {
            cfg: cfg.clone(),
            _eal: eal,
            _pool: pool.clone(),
            ports,
            shared: Arc::clone(&shared),
            joins: Vec::new(),
            translator: Translator::default(),
            acc: Accumulator::default(),
            ipvs: Arc::new(Snapshot::empty(0, Settings::default())),
            net: Arc::new(NetSnapshot::new(0, Vec::new(), Vec::new(), RouteTable::new(), NeighTable::new())),
            laddrs: Arc::new(Vec::new()),
            neigh: NeighTable::new(),
            generation: 0,
            seq: 0,
            epoch: Instant::now(),
            last_estimate: Instant::now(),
            reports: vec![WorkerReport::default(); usize::from(w)],
            reports_at: None,
            applied_at: None,
            knis: Arc::new(Vec::new()),
            watcher: None,
            kni_addrs: Vec::new(),
            kni_routes: Vec::new(),
            hidden: Vec::new(),
            ipvs_dirty: None,
            ipvs_changed: Instant::now(),
            last_build: Duration::ZERO,
        };
        // the exception path: a TAP per port with its MAC, and rtnetlink to follow them
        let mut knis = Vec::new();
        for (p, pc) in dp.ports.iter().zip(&cfg.ports) {
            knis.push(if pc.kni {
                let k = kni::Kni::open(&p.name, p.mac.0, p.mtu)
                    .with_context(|| format!("[port.{}]: cannot create its kernel interface {}.kni", p.name, p.name))?;
                info!(port = %p.name, kni = %k.name, ifindex = k.ifindex, "kernel interface up");
                Some(k)
            } else {
                None
            });
        }
        dp.knis = Arc::new(knis);
        for pc in cfg.ports.iter().filter(|p| p.kni) {
            if let Some(Device::Interface(iface)) = &pc.device {
                match kni::hide_from_kernel(iface) {
                    Ok(()) => dp.hidden.push(iface.clone()),
                    Err(e) => warn!(
                        port = %pc.name,
                        "cannot hide {iface} from the kernel's stack (nft): {e}; the kernel may answer traffic for its .kni addresses as well"
                    ),
                }
            }
        }
        if dp.knis.iter().any(Option::is_some) {
            dp.watcher = Some(kni::Watcher::new().context("cannot follow rtnetlink")?);
            let existing = kni::Watcher::dump().context("cannot read the kernel's addresses and routes")?;
            dp.follow_kernel(&existing);
        }
        dp.rebuild_net()?;
        dp.rebuild_ipvs(state);
        dp.publish_all();

        // the hand-off rings: one per ordered pair of workers
        let mut to: Vec<Vec<Option<dpdk::RingProducer<Mbuf>>>> = (0..w).map(|_| (0..w).map(|_| None).collect()).collect();
        let mut from: Vec<Vec<dpdk::RingConsumer<Mbuf>>> = (0..w).map(|_| Vec::new()).collect();
        for i in 0..w {
            for j in 0..w {
                if i != j {
                    let (p, c) = dpdk::ring::spsc(&dp._eal, &format!("dpvs_h{i}_{j}"), 4096, None)
                        .context("cannot create a hand-off ring")?;
                    to[usize::from(i)][usize::from(j)] = Some(p);
                    from[usize::from(j)].push(c);
                }
            }
        }
        let pipeline = PipelineConfig {
            worker: WorkerConfig {
                table: ConnTableConfig { capacity: cfg.conn_limit, ..Default::default() },
                ..Default::default()
            },
            ttl: match cfg.ttl {
                Ttl::Keep => TtlPolicy::Keep,
                Ttl::Decrement => TtlPolicy::Decrement,
            },
            echo_reply: cfg.echo_reply,
            toa: cfg.toa,
            tunnel: TunnelConfig {
                kind: match cfg.tunnel {
                    Tunnel::Ipip => TunnelKind::Ipip,
                    Tunnel::Gue(port) => TunnelKind::Gue { port },
                    Tunnel::Gre => TunnelKind::Gre,
                },
                csum: false,
                src4: cfg.tunnel_source(false).and_then(|a| match a {
                    IpAddr::V4(a) => Some(a),
                    IpAddr::V6(_) => None,
                }),
                src6: cfg.tunnel_source(true).and_then(|a| match a {
                    IpAddr::V6(a) => Some(a),
                    IpAddr::V4(_) => None,
                }),
            },
            ..Default::default()
        };
        for (id, (to, from)) in to.into_iter().zip(from).enumerate() {
            let mut rx = Vec::new();
            let mut tx = Vec::new();
            for p in &dp.ports {
                rx.push(p.port.rx_queue(id as u16).context("rx queue")?);
                tx.push(p.port.tx_queue(id as u16).context("tx queue")?);
            }
            let mut worker_pipeline = pipeline;
            worker_pipeline.worker.sched.start = id;
            worker_pipeline.worker.sched.seed = 0x5eed ^ id as u64;
            worker_pipeline.worker.table.hash_seed ^= (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let ctx = worker::WorkerCtx {
                id: id as u16,
                workers: w,
                shared: Arc::clone(&shared),
                pool: pool.clone(),
                rx,
                tx,
                port_ids: dp.ports.iter().map(|p| p.port.id()).collect(),
                to,
                from,
                pipeline: worker_pipeline,
                burst: cfg.burst,
                idle_sleep_us: cfg.idle_sleep_us,
                knis: Arc::clone(&dp.knis),
                kni_rate: cfg.kni_rate,
                epoch: dp.epoch,
            };
            let join = dp._eal.remote_launch(lcores[id], move || ctx.run()).context("cannot launch a worker")?;
            dp.joins.push(join);
        }
        // announce our addresses, as the kernel does when an address comes up
        for a in dp.net.addrs().to_vec() {
            dp.shared.command(0, Command::Announce { port: a.port, addr: a.addr });
        }
        dp.resolve_dests();
        info!(workers = w, ports = dp.ports.len(), "dataplane running");
        Ok(dp)
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn port_id(&self, name: &str) -> Option<u16> {
        self.ports.iter().find(|p| p.name == name).map(|p| p.port.id())
    }

    /// Builds the network snapshot from the configuration and the neighbour table.
    fn rebuild_net(&mut self) -> anyhow::Result<()> {
        let mut routes = RouteTable::new();
        let mut addrs = Vec::new();
        let mut laddrs = Vec::new();
        let infos: Vec<PortInfo> = self
            .ports
            .iter()
            .map(|p| PortInfo { id: p.port.id(), name: p.name.clone(), mac: p.mac, mtu: p.mtu })
            .collect();
        for pc in &self.cfg.ports {
            let port = self.port_id(&pc.name).context("port")?;
            for a in &pc.addrs {
                addrs.push(LocalAddr { addr: a.addr, len: a.len, port });
                if a.sapool {
                    laddrs.push(a.addr);
                }
                // two addresses in one subnet share its route
                routes.insert_addr(a.addr, a.len, port).map_err(|e| anyhow::anyhow!("address {}: {e}", a.addr))?;
            }
        }
        for (pi, addr, len) in &self.kni_addrs {
            if addrs.iter().any(|a: &LocalAddr| a.addr == *addr) {
                continue;
            }
            let port = self.ports[*pi].port.id();
            addrs.push(LocalAddr { addr: *addr, len: *len, port });
            let _ = routes.insert_addr(*addr, *len, port);
        }
        for r in &self.cfg.routes {
            let port = self.port_id(&r.dev).context("route port")?;
            routes.insert(static_route(r, port)).map_err(|e| anyhow::anyhow!("route {}/{}: {e}", r.prefix, r.len))?;
        }
        // a route the kernel holds that the file also gives is the file's
        for (pi, r) in &self.kni_routes {
            let _ = routes.insert(static_route(r, self.ports[*pi].port.id()));
        }
        for n in &self.cfg.neighbours {
            let port = self.port_id(&n.dev).context("neigh port")?;
            self.neigh.insert_permanent(n.addr, n.mac, port);
        }
        self.generation += 1;
        self.net = Arc::new(NetSnapshot::new(self.generation, infos, addrs, routes, self.neigh.clone()));
        if *self.laddrs != laddrs {
            self.laddrs = Arc::new(laddrs);
        }
        Ok(())
    }

    /// Publishes a new neighbour table; routes and addresses are as they were.
    fn publish_neighbours(&mut self) {
        self.generation += 1;
        self.net = Arc::new(self.net.with_neighbours(self.generation, self.neigh.clone()));
        self.publish_all();
    }

    fn rebuild_ipvs(&mut self, state: &IpvsState) {
        let opts = Options {
            masquerade_fullnat: self.cfg.masquerade_fullnat && !self.laddrs.is_empty(),
            workers: u32::from(self.cfg.workers),
            tcp_time_wait: self.cfg.tcp_time_wait,
        };
        match self.translator.build(state, opts) {
            Ok(s) => self.ipvs = Arc::new(s),
            Err(e) => error!("cannot build the dataplane's service table: {e}; it keeps the previous one"),
        }
    }

    fn publish_all(&mut self) {
        self.generation += 1;
        let vips = self
            .ipvs
            .services()
            .iter()
            .filter_map(|s| match s.key {
                dpvs_core::service::ServiceKey::Tuple { addr, .. } => Some(dpvs_core::addr::to_bits(addr)),
                dpvs_core::service::ServiceKey::Fwmark { .. } => None,
            })
            .map(|(bits, v6)| (v6, bits))
            .collect();
        let laddrs = self.laddrs.iter().map(|&a| dpvs_core::addr::to_bits(a)).map(|(b, v6)| (v6, b)).collect();
        self.shared.store(Published {
            generation: self.generation,
            ipvs: Arc::clone(&self.ipvs),
            net: Arc::clone(&self.net),
            steering: Arc::new(Steering::new(self.cfg.workers, vips, laddrs)),
            laddrs: Arc::clone(&self.laddrs),
            ports_up: self.ports.iter().map(|p| p.up).collect(),
        });
    }

    /// Asks worker 0 to resolve every dest's next hop that is not known yet, so the first
    /// connection to a new real server does not wait for a retransmission.
    fn resolve_dests(&self) {
        // thousands of services share a few real servers: each address once
        let addrs: std::collections::HashSet<IpAddr> =
            self.ipvs.services().iter().flat_map(|s| s.dests.iter().map(|d| d.addr)).collect();
        let mut hops = std::collections::HashSet::new();
        for a in addrs {
            if let Some(r) = self.net.routes().lookup(a) {
                let hop = r.via.unwrap_or(a);
                if r.kind == RouteKind::Net && self.net.neighbours().get(hop).is_none() && hops.insert(hop) {
                    self.shared.command(0, Command::Solicit { port: r.port, target: hop });
                }
            }
        }
    }

    /// Asks every worker for something and waits (bounded) for all answers.
    fn ask(&mut self, req: fn(&Slot) -> (&AtomicU64, &AtomicU64)) -> Vec<bool> {
        self.seq += 1;
        let seq = self.seq;
        for s in &self.shared.workers {
            req(s).0.store(seq, Ordering::Release);
        }
        let deadline = Instant::now() + ANSWER_WAIT;
        loop {
            let done: Vec<bool> = self.shared.workers.iter().map(|s| req(s).1.load(Ordering::Acquire) == seq).collect();
            if done.iter().all(|d| *d) || Instant::now() >= deadline {
                return done;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// The workers' reports, fresh where they answered in time; reports younger than
    /// [`REPORT_REUSE`] are reused (requests that come together, as dpip's several).
    fn collect(&mut self) -> &[WorkerReport] {
        if self.reports_at.is_some_and(|t| t.elapsed() < REPORT_REUSE) {
            return &self.reports;
        }
        self.reports_at = Some(Instant::now());
        let done = self.ask(|s| (&s.stats_req, &s.stats_done));
        for (i, d) in done.iter().enumerate() {
            if *d {
                self.reports[i] = self.shared.workers[i].report.lock().expect("report").clone();
            } else {
                warn!(worker = i, "a worker did not answer a statistics request in time");
            }
        }
        &self.reports
    }

    /// Counters of the whole dataplane: rx, forwarded, drops by reason (for logs and tools).
    pub fn summary(&mut self) -> String {
        let reports = self.collect().to_vec();
        let mut s = String::new();
        for (i, r) in reports.iter().enumerate() {
            let p = &r.pipeline;
            s.push_str(&format!(
                "worker {i}: rx {} forwarded {} local {} to-kernel {} (via kni {}, dropped {}, over rate {}) from-kernel {} icmp-errors {} no-route {} conns {} handoff-drops {} tx-drops {}\n",
                p.rx,
                p.forwarded,
                p.local_reply + r.local_replies,
                p.to_kernel,
                r.to_kni,
                r.kernel_drops,
                r.kni_rate_drops,
                r.from_kni,
                r.icmp_errors,
                p.no_route,
                r.conns,
                r.handoff_drops,
                r.tx_drops
            ));
        }
        s
    }

    /// Applies a reloaded configuration: what can change at run time changes, the rest is
    /// named as needing a restart.
    pub fn reload_config(&mut self, new: &DataplaneConfig, state: &IpvsState) {
        let restart = self.cfg.restart_needed(new);
        if !restart.is_empty() {
            warn!("SIGHUP: a restart is needed to change {}; applying the rest", restart.join(", "));
        }
        let old = self.cfg.clone();
        self.cfg.routes = new.routes.clone();
        self.cfg.neighbours = new.neighbours.clone();
        self.cfg.masquerade_fullnat = new.masquerade_fullnat;
        self.cfg.tcp_time_wait = new.tcp_time_wait;
        for p in &mut self.cfg.ports {
            if let Some(np) = new.ports.iter().find(|n| n.name == p.name) {
                p.addrs = np.addrs.clone();
            }
        }
        if let Err(e) = self.apply(old, state) {
            error!("SIGHUP: {e}; the previous network configuration stays");
            return;
        }
        info!("SIGHUP: dataplane configuration reloaded");
    }
}

impl Dataplane {
    /// Takes the kernel's address and route changes on the `.kni` interfaces; rebuilds the
    /// network snapshot when something changed (the caller publishes).
    fn follow_kernel(&mut self, events: &[kni::RtEvent]) -> bool {
        let port_of = |ifindex: u32| self.knis.iter().position(|k| k.as_ref().is_some_and(|k| k.ifindex == ifindex));
        let mut changed = false;
        for e in events {
            match *e {
                kni::RtEvent::Addr { add, ifindex, addr, len } => {
                    let Some(pi) = port_of(ifindex) else { continue };
                    // the kernel's own IPv6 link-local address stays the kernel's
                    if matches!(addr, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80) {
                        continue;
                    }
                    let at = self.kni_addrs.iter().position(|x| x.0 == pi && x.1 == addr);
                    match (add, at) {
                        (true, None) => {
                            info!(port = %self.ports[pi].name, %addr, len, "address added on the kernel interface: the dataplane serves it");
                            self.kni_addrs.push((pi, addr, len));
                            changed = true;
                        }
                        (false, Some(i)) => {
                            info!(port = %self.ports[pi].name, %addr, "address removed from the kernel interface");
                            self.kni_addrs.remove(i);
                            changed = true;
                        }
                        _ => {}
                    }
                }
                kni::RtEvent::Route { add, ifindex, prefix, len, via, src, metric } => {
                    let Some(pi) = port_of(ifindex) else { continue };
                    let at = self.kni_routes.iter().position(|(p, r)| *p == pi && r.prefix == prefix && r.len == len && r.metric == metric);
                    match (add, at) {
                        (true, None) => {
                            info!(port = %self.ports[pi].name, %prefix, len, "route learned from the kernel interface");
                            let dev = self.ports[pi].name.clone();
                            self.kni_routes.push((pi, config::RouteConfig { prefix, len, via, dev, src, metric }));
                            changed = true;
                        }
                        (false, Some(i)) => {
                            self.kni_routes.remove(i);
                            changed = true;
                        }
                        _ => {}
                    }
                }
            }
        }
        if changed {
            if let Err(e) = self.rebuild_net() {
                error!("cannot rebuild the network state: {e:#}");
                return false;
            }
        }
        changed
    }
}

/// A configured (or learned) route through `port`.
fn static_route(r: &config::RouteConfig, port: u16) -> Route {
    Route {
        prefix: r.prefix,
        len: r.len,
        kind: RouteKind::Net,
        port,
        via: r.via,
        src: r.src,
        metric: r.metric,
        scope: if r.via.is_some() { Scope::Global } else { Scope::Link },
    }
}

impl crate::ipvs::Dataplane for Dataplane {
    fn publish(&mut self, _state: &IpvsState) {
        self.ipvs_dirty.get_or_insert_with(Instant::now);
        self.ipvs_changed = Instant::now();
    }

    fn flush(&mut self, state: &IpvsState) {
        // wait for a pause in the requests, but not for ever: while they keep coming, at
        // most a tenth of the control thread goes to building snapshots (a big table takes
        // a while to build)
        let Some(since) = self.ipvs_dirty else { return };
        let max_delay = MAX_PUBLISH_DELAY.max(self.last_build * 10);
        if self.ipvs_changed.elapsed() < PUBLISH_PAUSE && since.elapsed() < max_delay {
            return;
        }
        if self.ipvs_dirty.take().is_some() {
            let t = Instant::now();
            self.rebuild_ipvs(state);
            self.publish_all();
            self.resolve_dests();
            self.last_build = t.elapsed();
        }
    }

    fn refresh(&mut self, state: &mut IpvsState) {
        // requests that come together are served by one refresh
        if self.applied_at.is_some_and(|t| t.elapsed() < REPORT_REUSE) {
            return;
        }
        self.applied_at = Some(Instant::now());
        let mut totals = StatsTotals::default();
        for r in self.collect() {
            totals.add(&r.stats);
        }
        self.acc.apply(&totals, &self.translator, state);
    }

    fn connections(&mut self) -> String {
        let done = self.ask(|s| (&s.conns_req, &s.conns_done));
        let mut out = String::new();
        for (i, d) in done.iter().enumerate() {
            if *d {
                out.push_str(&self.shared.workers[i].conns.lock().expect("conns"));
            } else {
                warn!(worker = i, "a worker did not list its connections in time");
            }
        }
        out
    }

    fn total_rates(&self, stats: &mut Stats) {
        self.acc.total_rates(stats);
    }

    fn tick(&mut self, state: &mut IpvsState) -> Duration {
        crate::ipvs::Dataplane::flush(self, state);
        let learned = std::mem::take(&mut *self.shared.learned.lock().expect("learned"));
        if !learned.is_empty() {
            let now = self.now_ms();
            for (addr, mac, port) in learned {
                self.neigh.learn(addr, mac, port, now);
            }
            self.publish_neighbours();
        }
        let events = self.watcher.as_mut().map(kni::Watcher::poll).unwrap_or_default();
        if !events.is_empty() && self.follow_kernel(&events) {
            self.rebuild_ipvs(state);
            self.publish_all();
        }
        if self.last_estimate.elapsed() >= ESTIMATE_EVERY {
            self.last_estimate += ESTIMATE_EVERY;
            self.refresh(state);
            self.acc.estimate(&self.translator, state);
        }
        if self.ipvs_dirty.is_some() {
            PUBLISH_PAUSE
        } else {
            TICK
        }
    }

    fn reload(&mut self, cfg: &DataplaneConfig, state: &IpvsState) {
        self.reload_config(cfg, state);
    }

    fn net(&mut self) -> Option<&mut Dataplane> {
        Some(self)
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        // what the dataplane did, for the log
        for line in self.summary().lines() {
            info!("{line}");
        }
        for p in &self.ports {
            if let Ok(st) = p.port.stats() {
                info!(
                    port = %p.name,
                    rx = st.ipackets,
                    tx = st.opackets,
                    rx_missed = st.imissed,
                    rx_errors = st.ierrors,
                    tx_errors = st.oerrors,
                    rx_nombuf = st.rx_nombuf,
                    "port counters"
                );
            }
        }
        self.shared.stop.store(true, Ordering::Release);
        for j in self.joins.drain(..) {
            let lcore = j.lcore();
            if let Err(e) = j.join() {
                error!(lcore, "worker ended badly: {e}");
            }
        }
        for p in &mut self.ports {
            if let Err(e) = p.port.stop() {
                warn!(port = %p.name, "cannot stop: {e}");
            }
        }
        for iface in &self.hidden {
            if let Err(e) = kni::unhide(iface) {
                warn!("cannot give {iface} back to the kernel's stack: {e}");
            }
        }
        // the EAL's runtime directory of our file prefix (DPDK leaves it behind)
        let base = match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(d) if !crate::sys::is_root() => std::path::PathBuf::from(d).join("dpdk"),
            _ => std::path::PathBuf::from("/var/run/dpdk"),
        };
        let dir = base.join(&self.cfg.file_prefix);
        if dir.is_dir() {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                warn!("cannot remove the EAL's runtime directory {}: {e}", dir.display());
            }
        }
        info!("dataplane stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eal_arguments_for_each_kind_of_port() {
        let text = "[dataplane]\nworkers = 2\n[eal]\nfile_prefix = t1\nlcores = \"(0-2)@(0-1)\"\nargs = \"--log-level=lib.eal:notice\"\n\
                    [port.dpdk0]\ninterface = eth1\nrx_desc = 2048\n[port.dpdk1]\nvdev = \"net_tap0,iface=dtap0\"\n";
        let cfg = crate::config::Config::parse("t.conf", text).unwrap().dataplane.unwrap();
        let (args, names) = eal_args(&cfg);
        assert_eq!(
            args,
            [
                "dpvsd",
                "--no-huge",
                "-m",
                "512",
                "--file-prefix=t1",
                "--no-telemetry",
                "--lcores=(0-2)@(0-1)",
                "--vdev=net_af_packet0,iface=eth1,qpairs=2,framecnt=2048,qdisc_bypass=1",
                "--vdev=net_tap0,iface=dtap0",
                "--no-pci",
                "--log-level=lib.eal:notice",
            ]
        );
        assert_eq!(names, ["net_af_packet0", "net_tap0"]);
        let text = "[eal]\nhugepages = yes\nmemory = 1024\n[port.p]\npci = 0000:03:00.0\n";
        let cfg = crate::config::Config::parse("t.conf", text).unwrap().dataplane.unwrap();
        let (args, names) = eal_args(&cfg);
        assert!(args.contains(&"--allow=0000:03:00.0".to_string()) && !args.contains(&"--no-pci".to_string()));
        assert!(!args.contains(&"--no-huge".to_string()) && args.windows(2).any(|w| w == ["-m", "1024"]));
        assert_eq!(names, ["0000:03:00.0"]);
    }
}
