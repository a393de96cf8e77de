//! Ethdev ports: configure, start, stop, query; per-queue rx/tx handles for the fast path.

use std::cell::Cell;
use std::ffi::CString;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::eal::Eal;
use crate::error::{check, Error, Result};
use crate::mbuf::Mbuf;
use crate::mempool::Mempool;

const MAX_PORTS: usize = dpdk_sys::RTE_MAX_ETHPORTS as usize;

/// Which port ids a `Port` holds in this process.
static CLAIMED: [AtomicBool; MAX_PORTS] = [const { AtomicBool::new(false) }; MAX_PORTS];

/// How to configure a port: queue counts and ring sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConf {
    /// Receive queues.
    pub rx_queues: u16,
    /// Transmit queues.
    pub tx_queues: u16,
    /// Descriptors per receive queue (the driver may round it).
    pub rx_desc: u16,
    /// Descriptors per transmit queue (the driver may round it).
    pub tx_desc: u16,
}

impl Default for PortConf {
    fn default() -> Self {
        PortConf {
            rx_queues: 1,
            tx_queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
        }
    }
}

/// Link state (`rte_eth_link`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Link up.
    pub up: bool,
    /// Speed in Mbps (0 if unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
    /// Speed negotiated automatically.
    pub autoneg: bool,
}

/// Basic port counters (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets dropped by the hardware because no rx descriptor was free.
    pub imissed: u64,
    /// Erroneous received packets.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// Receive mbuf allocation failures.
    pub rx_nombuf: u64,
}

/// State shared by a port and its queue handles; its drop stops and closes the port.
struct PortShared {
    id: u16,
    started: AtomicBool,
    rx_taken: Box<[AtomicBool]>,
    tx_taken: Box<[AtomicBool]>,
    /// The pool the rx queues refill from; kept alive as long as the port.
    _pool: Option<Mempool>,
}

impl Drop for PortShared {
    fn drop(&mut self) {
        if self.started.load(Ordering::Acquire) {
            // SAFETY: the port id is valid and claimed by us; no queue handle is left (they
            // hold this Arc), so nothing polls it.
            unsafe { dpdk_sys::rte_eth_dev_stop(self.id) };
        }
        // SAFETY: as above; the port is stopped and released for good.
        unsafe { dpdk_sys::rte_eth_dev_close(self.id) };
        CLAIMED[usize::from(self.id)].store(false, Ordering::Release);
    }
}

/// An ethdev port, claimed by this handle (one per port id at a time). Dropping the port
/// (and every queue handle of it) stops and closes it.
pub struct Port {
    shared: Arc<PortShared>,
    conf: Option<(PortConf, Mempool)>,
    _not_sync: PhantomData<Cell<()>>,
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port")
            .field("id", &self.shared.id)
            .field("started", &self.is_started())
            .finish()
    }
}

impl Port {
    /// Claims port `id`.
    pub fn new(_eal: &Eal, id: u16) -> Result<Port> {
        // SAFETY: EAL is initialised; the call checks any id.
        if unsafe { dpdk_sys::rte_eth_dev_is_valid_port(id) } == 0 {
            return Err(Error::Dpdk {
                call: "rte_eth_dev_is_valid_port",
                errno: 19, // ENODEV
            });
        }
        if CLAIMED[usize::from(id)].swap(true, Ordering::AcqRel) {
            return Err(Error::InUse("port already claimed by another Port"));
        }
        Ok(Port {
            shared: Arc::new(PortShared {
                id,
                started: AtomicBool::new(false),
                rx_taken: Box::new([]),
                tx_taken: Box::new([]),
                _pool: None,
            }),
            conf: None,
            _not_sync: PhantomData,
        })
    }

    /// Claims the port EAL named `name` (e.g. `net_af_packet0` for `--vdev=net_af_packet0,...`).
    pub fn by_name(eal: &Eal, name: &str) -> Result<Port> {
        let cname = CString::new(name).map_err(|_| Error::InvalidArgument("name contains NUL"))?;
        let mut id = 0u16;
        // SAFETY: EAL is initialised; cname is a valid C string and `id` a valid out-pointer
        // for the duration of the call.
        let ret = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) };
        check("rte_eth_dev_get_port_by_name", ret)?;
        Port::new(eal, id)
    }

    /// Number of ports EAL probed.
    pub fn count(_eal: &Eal) -> u16 {
        // SAFETY: EAL is initialised; the call only reads the device table.
        unsafe { dpdk_sys::rte_eth_dev_count_avail() }
    }

    /// The port id.
    pub fn id(&self) -> u16 {
        self.shared.id
    }

    /// Whether the port is started.
    pub fn is_started(&self) -> bool {
        self.shared.started.load(Ordering::Acquire)
    }

    fn exclusive(&mut self, what: &'static str) -> Result<&mut PortShared> {
        Arc::get_mut(&mut self.shared).ok_or(Error::InUse(what))
    }

    /// Configures the port with `conf`'s queues, the rx queues refilling from `pool`. The port
    /// must be stopped (a port is stopped when claimed).
    pub fn configure(&mut self, conf: &PortConf, pool: &Mempool) -> Result<()> {
        let id = self.id();
        let shared = self.exclusive("queue handles of the port are alive")?;
        if shared.started.load(Ordering::Acquire) {
            return Err(Error::InUse("the port is started; stop it first"));
        }
        if conf.rx_queues == 0 || conf.tx_queues == 0 {
            return Err(Error::InvalidArgument(
                "a port needs at least one rx and one tx queue",
            ));
        }
        let eth_conf = dpdk_sys::rte_eth_conf::default();
        // SAFETY: valid port id, stopped; eth_conf is a zeroed (all-defaults) rte_eth_conf
        // that lives through the call.
        let ret = unsafe {
            dpdk_sys::rte_eth_dev_configure(id, conf.rx_queues, conf.tx_queues, &eth_conf)
        };
        check("rte_eth_dev_configure", ret)?;
        let (mut rx_desc, mut tx_desc) = (conf.rx_desc, conf.tx_desc);
        // SAFETY: valid configured port; the two pointers are valid for the call.
        let ret =
            unsafe { dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut rx_desc, &mut tx_desc) };
        check("rte_eth_dev_adjust_nb_rx_tx_desc", ret)?;
        // SAFETY: valid port id.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(id) };
        let socket = u32::try_from(socket).unwrap_or(dpdk_sys::SOCKET_ID_ANY as u32);
        for q in 0..conf.rx_queues {
            // SAFETY: configured, stopped port; q < rx_queues; NULL rxconf means the driver's
            // defaults; the pool outlives the port (kept in PortShared below).
            let ret = unsafe {
                dpdk_sys::rte_eth_rx_queue_setup(
                    id,
                    q,
                    rx_desc,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            check("rte_eth_rx_queue_setup", ret)?;
        }
        for q in 0..conf.tx_queues {
            // SAFETY: configured, stopped port; q < tx_queues; NULL txconf: driver defaults.
            let ret = unsafe {
                dpdk_sys::rte_eth_tx_queue_setup(id, q, tx_desc, socket, std::ptr::null())
            };
            check("rte_eth_tx_queue_setup", ret)?;
        }
        shared.rx_taken = (0..conf.rx_queues)
            .map(|_| AtomicBool::new(false))
            .collect();
        shared.tx_taken = (0..conf.tx_queues)
            .map(|_| AtomicBool::new(false))
            .collect();
        shared._pool = Some(pool.clone());
        self.conf = Some((*conf, pool.clone()));
        Ok(())
    }

    /// Starts the configured port.
    pub fn start(&mut self) -> Result<()> {
        if self.conf.is_none() {
            return Err(Error::InvalidArgument(
                "configure the port before starting it",
            ));
        }
        if self.is_started() {
            return Ok(());
        }
        // SAFETY: valid, configured port with every queue set up.
        let ret = unsafe { dpdk_sys::rte_eth_dev_start(self.id()) };
        check("rte_eth_dev_start", ret)?;
        self.shared.started.store(true, Ordering::Release);
        Ok(())
    }

    /// Stops the port; every queue handle must have been dropped.
    pub fn stop(&mut self) -> Result<()> {
        let id = self.id();
        let shared = self.exclusive("queue handles of the port are alive")?;
        if !shared.started.load(Ordering::Acquire) {
            return Ok(());
        }
        // SAFETY: valid started port; no queue handle exists, so no lcore polls it.
        let ret = unsafe { dpdk_sys::rte_eth_dev_stop(id) };
        check("rte_eth_dev_stop", ret)?;
        shared.started.store(false, Ordering::Release);
        Ok(())
    }

    /// The receive queue `queue` of the started port, handed out once until dropped.
    pub fn rx_queue(&self, queue: u16) -> Result<RxQueue> {
        self.take(queue, true)?;
        Ok(RxQueue {
            port: Arc::clone(&self.shared),
            queue,
            _not_sync: PhantomData,
        })
    }

    /// The transmit queue `queue` of the started port, handed out once until dropped.
    pub fn tx_queue(&self, queue: u16) -> Result<TxQueue> {
        self.take(queue, false)?;
        Ok(TxQueue {
            port: Arc::clone(&self.shared),
            queue,
            _not_sync: PhantomData,
        })
    }

    fn take(&self, queue: u16, rx: bool) -> Result<()> {
        if !self.is_started() {
            return Err(Error::InvalidArgument(
                "start the port before taking its queues",
            ));
        }
        let flags = if rx {
            &self.shared.rx_taken
        } else {
            &self.shared.tx_taken
        };
        let flag = flags
            .get(usize::from(queue))
            .ok_or(Error::InvalidArgument("no such queue"))?;
        if flag.swap(true, Ordering::AcqRel) {
            return Err(Error::InUse("queue already handed out"));
        }
        Ok(())
    }

    /// The port's MAC address.
    pub fn mac_addr(&self) -> Result<[u8; 6]> {
        let mut addr = dpdk_sys::rte_ether_addr::default();
        // SAFETY: valid claimed port; `addr` is a valid out-pointer for the call.
        let ret = unsafe { dpdk_sys::rte_eth_macaddr_get(self.id(), &mut addr) };
        check("rte_eth_macaddr_get", ret)?;
        Ok(addr.addr_bytes)
    }

    /// The link state, without waiting for negotiation.
    pub fn link(&self) -> Result<Link> {
        let mut link = dpdk_sys::rte_eth_link::default();
        // SAFETY: valid claimed port; `link` is a valid out-pointer for the call.
        let ret = unsafe { dpdk_sys::rte_eth_link_get_nowait(self.id(), &mut link) };
        check("rte_eth_link_get_nowait", ret)?;
        Ok(Link {
            up: u32::from(link.link_status()) == dpdk_sys::RTE_ETH_LINK_UP,
            speed_mbps: link.link_speed,
            full_duplex: u32::from(link.link_duplex()) == dpdk_sys::RTE_ETH_LINK_FULL_DUPLEX,
            autoneg: u32::from(link.link_autoneg()) == dpdk_sys::RTE_ETH_LINK_AUTONEG,
        })
    }

    /// The port's counters.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: valid claimed port; `s` is a valid out-pointer for the call.
        let ret = unsafe { dpdk_sys::rte_eth_stats_get(self.id(), &mut s) };
        check("rte_eth_stats_get", ret)?;
        Ok(Stats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    /// Zeroes the port's counters.
    pub fn reset_stats(&mut self) -> Result<()> {
        // SAFETY: valid claimed port.
        let ret = unsafe { dpdk_sys::rte_eth_stats_reset(self.id()) };
        check("rte_eth_stats_reset", ret)
    }

    /// Turns promiscuous mode on or off.
    pub fn set_promiscuous(&mut self, on: bool) -> Result<()> {
        // SAFETY: valid claimed port.
        let ret = unsafe {
            if on {
                dpdk_sys::rte_eth_promiscuous_enable(self.id())
            } else {
                dpdk_sys::rte_eth_promiscuous_disable(self.id())
            }
        };
        check(
            if on {
                "rte_eth_promiscuous_enable"
            } else {
                "rte_eth_promiscuous_disable"
            },
            ret,
        )
    }

    /// Whether promiscuous mode is on.
    pub fn promiscuous(&self) -> Result<bool> {
        // SAFETY: valid claimed port.
        let ret = unsafe { dpdk_sys::rte_eth_promiscuous_get(self.id()) };
        check("rte_eth_promiscuous_get", ret)?;
        Ok(ret == 1)
    }
}

/// One receive queue of a started port; poll it from one thread (`Send`, not `Sync`).
pub struct RxQueue {
    port: Arc<PortShared>,
    queue: u16,
    _not_sync: PhantomData<Cell<()>>,
}

impl std::fmt::Debug for RxQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RxQueue(port {}, queue {})", self.port.id, self.queue)
    }
}

impl RxQueue {
    /// Receives up to `bufs.len()` packets into the front of `bufs` and returns how many.
    /// Mbufs already in `bufs` are freed first.
    #[inline]
    pub fn rx_burst(&mut self, bufs: &mut [Option<Mbuf>]) -> usize {
        for slot in bufs.iter_mut() {
            *slot = None;
        }
        let n = u16::try_from(bufs.len()).unwrap_or(u16::MAX);
        // SAFETY: the port is started and this handle is the only poller of the queue;
        // Option<Mbuf> has the layout of `*mut rte_mbuf` (asserted in mbuf.rs) and every slot
        // is None, so DPDK writes `ret` valid, unshared mbuf pointers over Nones.
        let ret = unsafe {
            dpdk_sys::shim_rte_eth_rx_burst(
                self.port.id,
                self.queue,
                bufs.as_mut_ptr().cast::<*mut dpdk_sys::rte_mbuf>(),
                n,
            )
        };
        usize::from(ret)
    }

    /// Receives up to `max` packets, appending them to `out` (which grows if it must).
    #[inline]
    pub fn rx_burst_into(&mut self, out: &mut Vec<Mbuf>, max: u16) -> usize {
        out.reserve(usize::from(max));
        let len = out.len();
        let spare = out.spare_capacity_mut();
        // SAFETY: as in rx_burst; `spare` has room for `max` pointers and Mbuf has the
        // layout of a non-null `*mut rte_mbuf`.
        let ret = unsafe {
            dpdk_sys::shim_rte_eth_rx_burst(
                self.port.id,
                self.queue,
                spare.as_mut_ptr().cast::<*mut dpdk_sys::rte_mbuf>(),
                max,
            )
        };
        // SAFETY: DPDK initialised the first `ret` spare slots with owned mbufs.
        unsafe { out.set_len(len + usize::from(ret)) };
        usize::from(ret)
    }

    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        self.port.rx_taken[usize::from(self.queue)].store(false, Ordering::Release);
    }
}

/// One transmit queue of a started port; use it from one thread (`Send`, not `Sync`).
pub struct TxQueue {
    port: Arc<PortShared>,
    queue: u16,
    _not_sync: PhantomData<Cell<()>>,
}

impl std::fmt::Debug for TxQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TxQueue(port {}, queue {})", self.port.id, self.queue)
    }
}

impl TxQueue {
    /// Hands the front of `pkts` to the driver and returns how many it took; the mbufs it did
    /// not take (no free descriptor) stay in `pkts`, in order, for the caller to retry or drop.
    #[inline]
    pub fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let n = u16::try_from(pkts.len()).unwrap_or(u16::MAX);
        // SAFETY: the port is started and this handle is the only user of the queue; Vec<Mbuf>
        // is an array of valid, owned `*mut rte_mbuf`; the driver takes ownership of the first
        // `ret` of them.
        let ret = unsafe {
            dpdk_sys::shim_rte_eth_tx_burst(
                self.port.id,
                self.queue,
                pkts.as_mut_ptr().cast::<*mut dpdk_sys::rte_mbuf>(),
                n,
            )
        };
        let sent = usize::from(ret);
        let len = pkts.len();
        // SAFETY: the first `sent` elements now belong to the driver: they are forgotten (the
        // rest are moved down over them, bitwise, without dropping anything).
        unsafe {
            let p = pkts.as_mut_ptr();
            std::ptr::copy(p.add(sent), p, len - sent);
            pkts.set_len(len - sent);
        }
        sent
    }

    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        self.port.tx_taken[usize::from(self.queue)].store(false, Ordering::Release);
    }
}
