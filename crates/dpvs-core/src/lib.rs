//! dpvs-core: the dataplane logic of dpvs-rs, free of I/O, threads and clocks.
//!
//! Time is always an argument, nothing allocates per packet, and state is split the way the
//! workers use it: the control thread builds immutable snapshots (services, dests, prebuilt
//! scheduler tables) and each worker core owns its mutable state (connection counters,
//! scheduler cursors, locality caches).
//!
//! Time on the packet path is `now_ms: u64`, milliseconds from an arbitrary monotonic origin
//! chosen by the caller (e.g. TSC cycles scaled once per burst). The connection table rounds
//! deadlines up to its wheel tick (64 ms by default), so an entry never expires early.
//!
//! Modules so far:
//! - [`dest`]: the scheduler-facing view of a real server and its per-worker counters.
//! - [`sched`]: the IPVS schedulers (`rr`, `wrr`, `lc`, `wlc`, `sed`, `nq`, `dh`, `sh`, `mh`,
//!   `lblc`, `lblcr`, `fo`, `ovf`, `twos`) and DPVS's `conhash`.
//! - [`xmit`]: the forwarding methods (NAT, DR, tunnel, full-NAT) as in-place frame rewrites.
//! - [`service`]: the immutable service snapshot (services, dests, schedulers, settings).
//! - [`conn`]: the per-worker connection table (two-way hash index, timer wheel).
//! - [`proto`]: the TCP state machine, UDP and ICMP, timeouts.
//! - [`worker`]: a worker's mutable state and the packet-path glue (`ip_vs_in`,
//!   `ip_vs_schedule`, `ip_vs_out`, expiry).
//! - [`mod@drop`], [`stats`]: named drop reasons and traffic counters.
//! - [`pipeline`]: the per-frame packet path of a worker (parse, classify, connection,
//!   transmit) and the real-server simulator.
//! - [`addr`]: how addresses are stored.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
pub mod conn;
pub mod dest;
pub mod drop;
pub mod net;
pub mod pipeline;
pub mod proto;
pub mod sched;
pub mod service;
pub mod stats;
pub mod worker;
pub mod xmit;

pub use dest::{Dest, DestCounters, DestFlags, Thresholds};
pub use sched::{
    SchedConfig, SchedError, SchedInput, SchedKind, SchedState, Scheduler, StateParams,
};
