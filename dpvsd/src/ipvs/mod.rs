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

/// The IPVS control plane: the state, how it is presented, where it persists.
pub struct Ipvs {
    pub state: IpvsState,
    pub family_id: u16,
    pub conn_tab_size: u32,
    store: Option<Store>,
}

impl Ipvs {
    /// An IPVS table that is not persisted (tests, benchmarks).
    pub fn ephemeral(conn_tab_size: u32) -> Self {
        Ipvs { state: IpvsState::default(), family_id: DEFAULT_FAMILY_ID, conn_tab_size, store: None }
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
        Ok(Ipvs { state, family_id: DEFAULT_FAMILY_ID, conn_tab_size, store: Some(store) })
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
