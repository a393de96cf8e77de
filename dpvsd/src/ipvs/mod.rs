//! dpvsd's emulation of the kernel's IPVS generic-netlink API.

pub mod dispatch;
pub mod persist;
pub mod procfs;
pub mod state;

use std::path::Path;

use anyhow::Context;
use ipvs_genl::ipvs::CMD_POLICY;
use ipvs_genl::AttrTable;
use tracing::{error, info, warn};

use self::dispatch::SysHost;
use self::persist::Store;
use self::state::IpvsState;

/// The generic-netlink family id dpvsd gives IPVS (ids are dynamic; clients
/// resolve it by name).
pub const DEFAULT_FAMILY_ID: u16 = 0x2a;

/// What the IPVS control plane needs of a dataplane that forwards by its configuration.
pub trait Dataplane {
    /// The configuration changed: it is published to the workers at the next
    /// [`Dataplane::flush`], so that a burst of requests (`ipvsadm -R`, keepalived's start)
    /// is built once.
    fn publish(&mut self, state: &IpvsState);
    /// Publishes the configuration if it changed since the last time.
    fn flush(&mut self, state: &IpvsState);
    /// Brings `state`'s statistics (counters, rates) and the dests' connection counts up
    /// to date from the workers.
    fn refresh(&mut self, state: &mut IpvsState);
    /// The workers' connections as `/proc/net/ip_vs_conn` lists them, without the header.
    fn connections(&mut self) -> String;
    /// The rates of all services together (`/proc/net/ip_vs_stats`).
    fn total_rates(&self, stats: &mut ipvs_genl::ipvs::Stats);
    /// Periodic work of the control thread; returns how soon it wants to run again.
    fn tick(&mut self, state: &mut IpvsState) -> std::time::Duration;
    /// Applies a re-read configuration file (SIGHUP).
    fn reload(&mut self, cfg: &crate::dataplane::config::DataplaneConfig, state: &IpvsState);
    /// The DPDK dataplane's network state (links, addresses, routes, neighbours, worker
    /// statistics), which dpip manages; None for dataplanes without one.
    fn net(&mut self) -> Option<&mut crate::dataplane::Dataplane> {
        None
    }
}

/// The IPVS control plane: the state, how it is presented, where it persists.
pub struct Ipvs {
    pub state: IpvsState,
    pub family_id: u16,
    pub conn_tab_size: u32,
    store: Option<Store>,
    /// The dataplane the configuration drives (none: control plane only).
    pub dataplane: Option<Box<dyn Dataplane>>,
}

impl Ipvs {
    /// An IPVS table that is not persisted (tests, benchmarks).
    pub fn ephemeral(conn_tab_size: u32) -> Self {
        Ipvs { state: IpvsState::default(), family_id: DEFAULT_FAMILY_ID, conn_tab_size, store: None, dataplane: None }
    }

    /// Restores the table from `dir` and persists every later change there.
    pub fn open(dir: &Path, conn_tab_size: u32) -> anyhow::Result<Self> {
        let (mut store, recovered) =
            Store::open(dir).with_context(|| format!("cannot open IPVS state directory {}", dir.display()))?;
        for p in &recovered.problems {
            error!("{p}");
        }
        let mut state = IpvsState::default();
        let mut failed = 0usize;
        for (command, attrs) in &recovered.records {
            let applied = AttrTable::parse(attrs, &CMD_POLICY).and_then(|t| state.apply(*command, &t, &SysHost));
            if let Err(e) = applied {
                failed += 1;
                warn!(command, errno = e.0, "a persisted IPVS change no longer applies; skipped");
            }
        }
        info!(
            services = state.services.len(),
            dests = state.dest_count(),
            skipped = failed,
            dir = %dir.display(),
            "IPVS state restored"
        );
        store.snapshot(&state).with_context(|| format!("cannot write IPVS state in {}", dir.display()))?;
        Ok(Ipvs { state, family_id: DEFAULT_FAMILY_ID, conn_tab_size, store: Some(store), dataplane: None })
    }

    /// Attaches a dataplane and publishes the current configuration to it.
    pub fn attach(&mut self, mut dp: Box<dyn Dataplane>) {
        dp.publish(&self.state);
        dp.flush(&self.state);
        self.dataplane = Some(dp);
    }

    /// Publishes pending configuration changes to the dataplane (the server calls it when
    /// no request is waiting).
    pub fn flush(&mut self) {
        if let Some(dp) = self.dataplane.as_mut() {
            dp.flush(&self.state);
        }
    }

    /// Periodic work; how soon to call again (`None`: nothing to do).
    pub fn tick(&mut self) -> Option<std::time::Duration> {
        let dp = self.dataplane.as_mut()?;
        Some(dp.tick(&mut self.state))
    }

    /// Hands a re-read dataplane configuration to the dataplane.
    pub fn reload(&mut self, cfg: &crate::dataplane::config::DataplaneConfig) {
        if let Some(dp) = self.dataplane.as_mut() {
            dp.reload(cfg, &self.state);
        }
    }

    /// Refreshes statistics before they are shown.
    fn refresh(&mut self) {
        if let Some(dp) = self.dataplane.as_mut() {
            dp.refresh(&mut self.state);
        }
    }

    /// Persists an applied change. A failed write is logged and the next
    /// change retries with a full snapshot; the client's request stands.
    fn persist(&mut self, command: u8, attrs: &[u8]) {
        if let Some(store) = self.store.as_mut() {
            if let Err(e) = store.record(&self.state, command, attrs) {
                error!(dir = %store.dir().display(), "cannot persist IPVS change: {e}; will retry with a snapshot");
            }
        }
    }
}
