//! The schedulers: which real server gets a new connection.
//!
//! # Shape
//!
//! A [`Scheduler`] is the immutable, per-service part: built by the control thread from the dest
//! list with [`Scheduler::new`] (off the packet path; this is where wrr's gcd and maximum
//! weight, the sh/dh 256-bucket tables, mh's 4093-entry Maglev table and conhash's ring are
//! computed) and published in the service snapshot. A [`SchedState`] is the mutable, per-worker
//! part: rr/wrr cursors, the lblc/lblcr locality caches, twos's random generator. A worker
//! creates one per service with [`Scheduler::new_state`], keeps it across snapshots with
//! [`SchedState::on_update`], and calls [`Scheduler::pick`] for every new connection with the
//! dest slice, its own [`DestCounters`] slice and a [`SchedInput`]. `pick` returns the index of
//! the chosen dest, or `None` when the kernel would say "no destination available". It never
//! allocates and never reads a clock (`now` is in the input).
//!
//! Dispatch is an enum, not a trait object: a service snapshot holds its scheduler by value
//! (no `Box<dyn>`, no vtable on the packet path, `match` lets the compiler inline each small
//! `pick`), the per-worker state of each scheduler is a different type and an enum pairs the
//! two without downcasting, and adding a scheduler is a compile error everywhere it is not yet
//! handled.
//!
//! Names map to constructors in one table, [`SCHEDULERS`], as `ip_vs_sched.c`'s registration
//! list does; an unknown name is [`SchedError::UnknownScheduler`] (the kernel's `ENOENT`).
//!
//! # Which kernel file each scheduler follows
//!
//! | name | follows | notes |
//! |---|---|---|
//! | `rr` | `net/netfilter/ipvs/ip_vs_rr.c` | continues after the last pick; `ip_vs_rr_del_dest`'s cursor fix-up in [`SchedState::on_update`] |
//! | `wrr` | `ip_vs_wrr.c` | gcd step, `mw = max - (gcd - 1)`, the kernel's last-pass/stop logic; `ip_vs_wrr_dest_changed` in `on_update` |
//! | `lc` | `ip_vs_lc.c` | overhead `active * 256 + inactive`, first strict minimum |
//! | `wlc` | `ip_vs_wlc.c` | `overhead(a) * weight(b) > overhead(b) * weight(a)` by multiplication |
//! | `sed` | `ip_vs_sed.c` | overhead `active + 1` |
//! | `nq` | `ip_vs_nq.c` | an idle dest wins at once |
//! | `dh` | `ip_vs_dh.c` | `hash_32(fold(daddr), 8)` into 256 buckets filled round robin |
//! | `sh` | `ip_vs_sh.c` | weighted 256-bucket table, `sh-port`, `sh-fallback` |
//! | `mh` | `ip_vs_mh.c` | Maglev, 4093 entries, kernel's fixed hsiphash keys, `last_weight`, `mh-port`, `mh-fallback` |
//! | `lblc` | `ip_vs_lblc.c` | per-destination-address cache, expiry driven by [`SchedState::expire`] |
//! | `lblcr` | `ip_vs_lblcr.c` | cache of dest sets |
//! | `fo` | `ip_vs_fo.c` | highest weight, first wins ties |
//! | `ovf` | `ip_vs_ovf.c` | highest weight whose active count does not exceed its weight |
//! | `twos` | `ip_vs_twos.c` | two weighted random candidates, the less loaded one |
//! | `conhash` | DPVS `src/ipvs/ip_vs_conhash.c` + libconhash | MD5 ring, 160 replicas per weight unit (after dividing by the gcd), source-IP key |
//!
//! The kernel code read was Linux 6.x (`flags2` overload bit era); the algorithms have been
//! stable since 4.x.
//!
//! # How fidelity is checked
//!
//! Besides sequences worked out by hand, the tests of `wrr`, `sh`, `mh`, `lblc` and `lblcr`
//! hold vectors produced by C transcriptions of the kernel functions (kept outside the
//! project; the transcription walks a circular list as `list_head` does, and `mh` uses
//! `lib/siphash.c`'s 64-bit `hsiphash`), and `conhash`'s tests hold vectors produced by DPVS's
//! own libconhash sources compiled against a stub `dpdk.h`. Our SipHash is also checked against
//! the SipHash paper's vectors and CPython's SipHash-1-3, our MD5 against RFC 1321 and
//! `hashlib`. `tests/pick_does_not_allocate.rs` runs every scheduler under a counting
//! allocator.
//!
//! # Model and deliberate deviations
//!
//! - **Dest list.** The dest slice is the kernel's `svc->destinations` in order. A dest whose
//!   [`DestFlags::AVAILABLE`](crate::dest::DestFlags::AVAILABLE) is clear is treated as not in
//!   the list (the kernel moves deleted dests to a trash list). Table-building schedulers skip
//!   such dests when building, as the kernel rebuilds after unlinking.
//! - **Per-worker counters.** The kernel's counters are per dest and global; here they are per
//!   worker (the architecture's choice), so lc/wlc/sed/nq/ovf/twos/lblc/lblcr balance what each
//!   worker sees. With one worker the picks are the kernel's.
//! - **Per-worker cursors.** rr/wrr cursors are per worker. [`StateParams::start`] lets each
//!   worker begin at a different dest as DPVS does ([`first_dest_for_worker`]); `start == 0`
//!   reproduces the kernel's sequence exactly. (`start` is the first dest *examined*; DPVS
//!   parks its rr cursor on the computed dest, so its first pick is the one after it.)
//! - **Snapshots.** A new snapshot rebuilds the scheduler from the whole dest list, where the
//!   kernel updates it per added/deleted/edited dest. The tables come out the same (sh, dh and mh
//!   rebuild completely in the kernel too; conhash's ring is a set of vnodes); per-worker state
//!   goes through [`SchedState::on_update`], which runs the kernel's hooks only if the list
//!   changed. Several changes folded into one snapshot are applied as one.
//! - **Weights `<= 0`** are quiescent everywhere (the kernel compares `== 0` in some modules and
//!   `> 0` in others; it never stores a negative weight, so this only matters for invalid input).
//! - **Arithmetic** is done in 64/128 bits, so `overhead * weight` never overflows where the
//!   kernel's `int` would (at more than 8 million active connections per dest).
//! - **mh** reproduces the kernel's table for a 64-bit little-endian kernel (x86_64, arm64):
//!   there `hsiphash` is SipHash-1-3 with the fixed keys of `generate_hash_secret`, hashing the
//!   32-bit value in memory order. 32-bit kernels (real HalfSipHash) and big-endian ones build
//!   different tables; the table keeps the same properties.
//! - **lblc/lblcr** cannot allocate per packet, so their cache is a preallocated table of
//!   [`LocalityParams::capacity`] entries (lblcr's dest sets share a pool of
//!   [`LocalityParams::set_capacity`] elements). The kernel's cache has no hard limit; when ours
//!   is full, a pick behaves as the kernel's does when `kmalloc` fails: the chosen dest is
//!   returned without being cached. The kernel's 60-second garbage-collection timer is the
//!   worker calling [`SchedState::expire`]. When a dest leaves the list, cache entries that
//!   point to it are dropped at [`SchedState::on_update`] (the kernel keeps them pointing into
//!   the trash, where they fail the availability check and get replaced on the next pick).
//! - **twos** takes its randomness from a per-worker seeded generator
//!   ([`StateParams::seed`]) instead of `get_random_u32_below`, so tests are deterministic.
//! - **conhash** reproduces DPVS on a little-endian 64-bit host: the source address is folded
//!   as DPVS reads it from the packet (network-order words loaded as native integers) and
//!   printed with `%u`; each dest is named `inet_ntop(addr)` followed by the port as DPVS
//!   prints its network-order `uint16_t`. DPVS's QUIC connection-id key is not implemented.
//!   A vnode hash collision keeps the vnode of the dest that comes first in the dest slice.

use std::net::IpAddr;
use std::time::Duration;

use crate::dest::{Dest, DestCounters};

mod addr_table;
mod hashing;

pub mod conhash;
pub mod dh;
pub mod fo;
pub mod lblc;
pub mod lblcr;
pub mod lc;
pub mod mh;
pub mod nq;
pub mod ovf;
pub mod rr;
pub mod sed;
pub mod sh;
pub mod twos;
pub mod wlc;
pub mod wrr;

/// `IP_VS_SVC_F_SCHED1`, the first scheduler-specific service flag.
pub const IP_VS_SVC_F_SCHED1: u32 = 0x0008;
/// `IP_VS_SVC_F_SCHED2`, the second scheduler-specific service flag.
pub const IP_VS_SVC_F_SCHED2: u32 = 0x0010;
/// `IP_VS_SVC_F_SCHED3`, the third scheduler-specific service flag.
pub const IP_VS_SVC_F_SCHED3: u32 = 0x0020;
/// `sh-fallback`: when the hashed dest is unavailable, walk the table to another one.
pub const IP_VS_SVC_F_SCHED_SH_FALLBACK: u32 = IP_VS_SVC_F_SCHED1;
/// `sh-port`: hash the client port as well as the address.
pub const IP_VS_SVC_F_SCHED_SH_PORT: u32 = IP_VS_SVC_F_SCHED2;
/// `mh-fallback`: when the hashed dest is unavailable, rehash to another one.
pub const IP_VS_SVC_F_SCHED_MH_FALLBACK: u32 = IP_VS_SVC_F_SCHED1;
/// `mh-port`: hash the client port as well as the address.
pub const IP_VS_SVC_F_SCHED_MH_PORT: u32 = IP_VS_SVC_F_SCHED2;

/// IP protocol number of ICMP.
pub const IPPROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// IP protocol number of SCTP.
pub const IPPROTO_SCTP: u8 = 132;

/// What a scheduler may look at in the packet that opens a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedInput {
    /// The client's address: the packet's source (for an ICMP error about a connection, the
    /// caller passes the embedded packet's addresses the way the kernel's "inverse" header does).
    pub caddr: IpAddr,
    /// The client's port (0 for protocols without ports).
    pub cport: u16,
    /// The packet's destination address: the VIP, or the original destination for a fwmark
    /// service. `dh`, `lblc` and `lblcr` hash it.
    pub vaddr: IpAddr,
    /// The packet's destination port.
    pub vport: u16,
    /// The IP protocol number.
    pub protocol: u8,
    /// Monotonic time since an arbitrary fixed origin (lblc/lblcr expiry).
    pub now: Duration,
}

impl SchedInput {
    /// The client port the hashing schedulers use with `*-port`: the source port for TCP, UDP
    /// and SCTP, 0 otherwise (`ip_vs_sh_get_port`).
    #[inline]
    pub(crate) fn hash_port(&self) -> u16 {
        match self.protocol {
            IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP => self.cport,
            _ => 0,
        }
    }
}

/// Service parameters a scheduler is built with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedConfig {
    /// The service flags (`IP_VS_SVC_F_*`); the `SCHED1..3` bits are scheduler specific.
    pub flags: u32,
    /// Whether the service is IPv6 (the kernel folds addresses by the service's family).
    pub ipv6: bool,
}

/// Why a scheduler cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchedError {
    /// No scheduler by that name (the kernel answers `ENOENT`).
    #[error("scheduler not found")]
    UnknownScheduler,
    /// More dests than the scheduler's table can hold (mh: more than 4093; the kernel answers
    /// `EINVAL`).
    #[error("too many destinations for the scheduler ({dests} > {max})")]
    TooManyDests {
        /// Dests in the list.
        dests: usize,
        /// The limit.
        max: usize,
    },
    /// The weights ask for a table larger than this implementation builds (conhash's ring).
    #[error("scheduler table too large ({entries} entries)")]
    TableTooLarge {
        /// Entries the weights asked for.
        entries: u64,
    },
}

impl SchedError {
    /// The errno the kernel returns for this condition.
    pub fn errno(self) -> i32 {
        match self {
            SchedError::UnknownScheduler => 2,      // ENOENT
            SchedError::TooManyDests { .. } => 22,  // EINVAL
            SchedError::TableTooLarge { .. } => 22, // EINVAL
        }
    }
}

/// Every scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchedKind {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connection.
    Lc,
    /// Weighted least connection (the default).
    Wlc,
    /// Shortest expected delay.
    Sed,
    /// Never queue.
    Nq,
    /// Destination hashing.
    Dh,
    /// Source hashing.
    Sh,
    /// Maglev hashing.
    Mh,
    /// Locality-based least connection.
    Lblc,
    /// Locality-based least connection with replication.
    Lblcr,
    /// Weighted failover.
    Fo,
    /// Weighted overflow.
    Ovf,
    /// Power of two choices.
    Twos,
    /// DPVS's consistent hashing ring.
    Conhash,
}

impl SchedKind {
    /// The scheduler's IPVS name.
    pub fn name(self) -> &'static str {
        SCHEDULERS
            .iter()
            .find(|e| e.kind == self)
            .map(|e| e.name)
            .unwrap_or("?")
    }

    /// The scheduler for an IPVS name.
    pub fn from_name(name: &str) -> Result<SchedKind, SchedError> {
        SCHEDULERS
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.kind)
            .ok_or(SchedError::UnknownScheduler)
    }
}

/// One row of the registration table.
#[derive(Clone, Copy, Debug)]
pub struct SchedulerEntry {
    /// The IPVS name (what `ipvsadm -s` and keepalived's `lb_algo` say).
    pub name: &'static str,
    /// The scheduler.
    pub kind: SchedKind,
    /// Builds the scheduler's immutable part from the dest list.
    pub build: fn(&[Dest], &SchedConfig) -> Result<Scheduler, SchedError>,
}

/// The registration table: every scheduler name and its constructor.
pub static SCHEDULERS: [SchedulerEntry; 15] = [
    SchedulerEntry {
        name: "rr",
        kind: SchedKind::Rr,
        build: |_, _| Ok(Scheduler::Rr(rr::Rr)),
    },
    SchedulerEntry {
        name: "wrr",
        kind: SchedKind::Wrr,
        build: |d, _| Ok(Scheduler::Wrr(wrr::Wrr::new(d))),
    },
    SchedulerEntry {
        name: "lc",
        kind: SchedKind::Lc,
        build: |_, _| Ok(Scheduler::Lc(lc::Lc)),
    },
    SchedulerEntry {
        name: "wlc",
        kind: SchedKind::Wlc,
        build: |_, _| Ok(Scheduler::Wlc(wlc::Wlc)),
    },
    SchedulerEntry {
        name: "sed",
        kind: SchedKind::Sed,
        build: |_, _| Ok(Scheduler::Sed(sed::Sed)),
    },
    SchedulerEntry {
        name: "nq",
        kind: SchedKind::Nq,
        build: |_, _| Ok(Scheduler::Nq(nq::Nq)),
    },
    SchedulerEntry {
        name: "dh",
        kind: SchedKind::Dh,
        build: |d, c| Ok(Scheduler::Dh(dh::Dh::new(d, c))),
    },
    SchedulerEntry {
        name: "sh",
        kind: SchedKind::Sh,
        build: |d, c| Ok(Scheduler::Sh(sh::Sh::new(d, c))),
    },
    SchedulerEntry {
        name: "mh",
        kind: SchedKind::Mh,
        build: |d, c| Ok(Scheduler::Mh(mh::Mh::new(d, c)?)),
    },
    SchedulerEntry {
        name: "lblc",
        kind: SchedKind::Lblc,
        build: |_, c| Ok(Scheduler::Lblc(lblc::Lblc::new(c))),
    },
    SchedulerEntry {
        name: "lblcr",
        kind: SchedKind::Lblcr,
        build: |_, c| Ok(Scheduler::Lblcr(lblcr::Lblcr::new(c))),
    },
    SchedulerEntry {
        name: "fo",
        kind: SchedKind::Fo,
        build: |_, _| Ok(Scheduler::Fo(fo::Fo)),
    },
    SchedulerEntry {
        name: "ovf",
        kind: SchedKind::Ovf,
        build: |_, _| Ok(Scheduler::Ovf(ovf::Ovf)),
    },
    SchedulerEntry {
        name: "twos",
        kind: SchedKind::Twos,
        build: |_, _| Ok(Scheduler::Twos(twos::Twos)),
    },
    SchedulerEntry {
        name: "conhash",
        kind: SchedKind::Conhash,
        build: |d, c| Ok(Scheduler::Conhash(conhash::Conhash::new(d, c)?)),
    },
];

/// The immutable, per-service part of a scheduler (see the module documentation).
#[derive(Clone, Debug)]
pub enum Scheduler {
    /// `rr`.
    Rr(rr::Rr),
    /// `wrr`.
    Wrr(wrr::Wrr),
    /// `lc`.
    Lc(lc::Lc),
    /// `wlc`.
    Wlc(wlc::Wlc),
    /// `sed`.
    Sed(sed::Sed),
    /// `nq`.
    Nq(nq::Nq),
    /// `dh`.
    Dh(dh::Dh),
    /// `sh`.
    Sh(sh::Sh),
    /// `mh`.
    Mh(mh::Mh),
    /// `lblc`.
    Lblc(lblc::Lblc),
    /// `lblcr`.
    Lblcr(lblcr::Lblcr),
    /// `fo`.
    Fo(fo::Fo),
    /// `ovf`.
    Ovf(ovf::Ovf),
    /// `twos`.
    Twos(twos::Twos),
    /// `conhash`.
    Conhash(conhash::Conhash),
}

/// Parameters of the per-locality caches of lblc/lblcr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalityParams {
    /// Cache entries (destination addresses) held at most. The kernel starts garbage
    /// collection above `1024 * 16` entries; the default holds twice that.
    pub capacity: usize,
    /// lblcr: dest-set elements shared by all entries.
    pub set_capacity: usize,
    /// `lblc_expiration` / `lblcr_expiration` sysctl: an entry unused this long is dropped by
    /// the full check (lblcr: a set unchanged this long sheds its most loaded member). Default
    /// 24 hours.
    pub expiration: Duration,
}

impl Default for LocalityParams {
    fn default() -> Self {
        LocalityParams {
            capacity: addr_table::MAX_SIZE * 2,
            set_capacity: addr_table::MAX_SIZE * 4,
            expiration: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// Parameters of one worker's scheduler state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StateParams {
    /// rr/wrr: the index of the first dest this worker examines (see
    /// [`first_dest_for_worker`]); 0 is the kernel's behaviour.
    pub start: usize,
    /// twos: the seed of the worker's random generator.
    pub seed: u64,
    /// lblc/lblcr cache parameters.
    pub locality: LocalityParams,
}

/// The mutable, per-worker part of a scheduler.
#[derive(Clone, Debug)]
pub enum SchedState {
    /// Schedulers without per-worker state.
    Stateless,
    /// `rr`'s cursor.
    Rr(rr::RrState),
    /// `wrr`'s cursor and current weight.
    Wrr(wrr::WrrState),
    /// `lblc`'s cache.
    Lblc(lblc::LblcState),
    /// `lblcr`'s cache.
    Lblcr(lblcr::LblcrState),
    /// `twos`'s random generator.
    Twos(twos::TwosState),
}

impl Scheduler {
    /// Builds the scheduler called `name` for `dests`.
    pub fn new(name: &str, dests: &[Dest], config: &SchedConfig) -> Result<Scheduler, SchedError> {
        let entry = SCHEDULERS
            .iter()
            .find(|e| e.name == name)
            .ok_or(SchedError::UnknownScheduler)?;
        (entry.build)(dests, config)
    }

    /// Builds the scheduler `kind` for `dests`.
    pub fn with_kind(
        kind: SchedKind,
        dests: &[Dest],
        config: &SchedConfig,
    ) -> Result<Scheduler, SchedError> {
        let entry = SCHEDULERS
            .iter()
            .find(|e| e.kind == kind)
            .ok_or(SchedError::UnknownScheduler)?;
        (entry.build)(dests, config)
    }

    /// Which scheduler this is.
    pub fn kind(&self) -> SchedKind {
        match self {
            Scheduler::Rr(_) => SchedKind::Rr,
            Scheduler::Wrr(_) => SchedKind::Wrr,
            Scheduler::Lc(_) => SchedKind::Lc,
            Scheduler::Wlc(_) => SchedKind::Wlc,
            Scheduler::Sed(_) => SchedKind::Sed,
            Scheduler::Nq(_) => SchedKind::Nq,
            Scheduler::Dh(_) => SchedKind::Dh,
            Scheduler::Sh(_) => SchedKind::Sh,
            Scheduler::Mh(_) => SchedKind::Mh,
            Scheduler::Lblc(_) => SchedKind::Lblc,
            Scheduler::Lblcr(_) => SchedKind::Lblcr,
            Scheduler::Fo(_) => SchedKind::Fo,
            Scheduler::Ovf(_) => SchedKind::Ovf,
            Scheduler::Twos(_) => SchedKind::Twos,
            Scheduler::Conhash(_) => SchedKind::Conhash,
        }
    }

    /// The scheduler's IPVS name.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// A fresh per-worker state for this scheduler. Allocates (lblc/lblcr caches): call it off
    /// the packet path.
    pub fn new_state(&self, params: &StateParams) -> SchedState {
        match self {
            Scheduler::Rr(_) => SchedState::Rr(rr::RrState::new(params.start)),
            Scheduler::Wrr(w) => SchedState::Wrr(w.new_state(params.start)),
            Scheduler::Lblc(_) => SchedState::Lblc(lblc::LblcState::new(&params.locality)),
            Scheduler::Lblcr(_) => SchedState::Lblcr(lblcr::LblcrState::new(&params.locality)),
            Scheduler::Twos(_) => SchedState::Twos(twos::TwosState::new(params.seed)),
            _ => SchedState::Stateless,
        }
    }

    /// Whether `state` belongs to this scheduler.
    pub fn state_matches(&self, state: &SchedState) -> bool {
        matches!(
            (self, state),
            (Scheduler::Rr(_), SchedState::Rr(_))
                | (Scheduler::Wrr(_), SchedState::Wrr(_))
                | (Scheduler::Lblc(_), SchedState::Lblc(_))
                | (Scheduler::Lblcr(_), SchedState::Lblcr(_))
                | (Scheduler::Twos(_), SchedState::Twos(_))
                | (Scheduler::Lc(_), SchedState::Stateless)
                | (Scheduler::Wlc(_), SchedState::Stateless)
                | (Scheduler::Sed(_), SchedState::Stateless)
                | (Scheduler::Nq(_), SchedState::Stateless)
                | (Scheduler::Dh(_), SchedState::Stateless)
                | (Scheduler::Sh(_), SchedState::Stateless)
                | (Scheduler::Mh(_), SchedState::Stateless)
                | (Scheduler::Fo(_), SchedState::Stateless)
                | (Scheduler::Ovf(_), SchedState::Stateless)
                | (Scheduler::Conhash(_), SchedState::Stateless)
        )
    }

    /// Picks the dest for a new connection: an index into `dests`, or `None` ("no destination
    /// available"). `counters[i]` are this worker's counters of `dests[i]` (missing entries count
    /// as zero). `dests` must be the list this scheduler was built from.
    ///
    /// If `state` was made for another scheduler it is replaced by a default one first (which
    /// allocates for lblc/lblcr); keep states paired with their scheduler.
    #[inline]
    pub fn pick(
        &self,
        state: &mut SchedState,
        dests: &[Dest],
        counters: &[DestCounters],
        input: &SchedInput,
    ) -> Option<usize> {
        if !self.state_matches(state) {
            *state = self.new_state(&StateParams::default());
        }
        match (self, state) {
            (Scheduler::Rr(s), SchedState::Rr(st)) => s.pick(st, dests, counters),
            (Scheduler::Wrr(s), SchedState::Wrr(st)) => s.pick(st, dests, counters),
            (Scheduler::Lc(s), _) => s.pick(dests, counters),
            (Scheduler::Wlc(s), _) => s.pick(dests, counters),
            (Scheduler::Sed(s), _) => s.pick(dests, counters),
            (Scheduler::Nq(s), _) => s.pick(dests, counters),
            (Scheduler::Dh(s), _) => s.pick(dests, counters, input),
            (Scheduler::Sh(s), _) => s.pick(dests, counters, input),
            (Scheduler::Mh(s), _) => s.pick(dests, counters, input),
            (Scheduler::Lblc(s), SchedState::Lblc(st)) => s.pick(st, dests, counters, input),
            (Scheduler::Lblcr(s), SchedState::Lblcr(st)) => s.pick(st, dests, counters, input),
            (Scheduler::Fo(s), _) => s.pick(dests, counters),
            (Scheduler::Ovf(s), _) => s.pick(dests, counters),
            (Scheduler::Twos(s), SchedState::Twos(st)) => s.pick(st, dests, counters),
            (Scheduler::Conhash(s), _) => s.pick(dests, counters, input),
            // unreachable: the state was made to match above
            _ => None,
        }
    }
}

impl SchedState {
    /// Carries this worker's state over to a new snapshot of the service: `new` was built from
    /// `new_dests`, the state was last used with `old_dests`. Does what the kernel's
    /// `add_dest`/`del_dest`/`upd_dest` hooks do to the scheduler's mutable data (rr keeps its
    /// cursor on the same dest, or the one before a deleted dest; wrr restarts from the list
    /// head with its current weight adjusted; lblc/lblcr keep their cache, re-indexed). If the
    /// scheduler itself changed, the state is replaced by a fresh one with `params`.
    pub fn on_update(
        &mut self,
        new: &Scheduler,
        old_dests: &[Dest],
        new_dests: &[Dest],
        params: &StateParams,
    ) {
        if !new.state_matches(self) {
            *self = new.new_state(params);
            return;
        }
        if !dests_changed(old_dests, new_dests) {
            // the kernel's hooks run only when a dest is added, deleted or edited
            return;
        }
        match (new, self) {
            (Scheduler::Rr(_), SchedState::Rr(st)) => st.on_update(old_dests, new_dests),
            (Scheduler::Wrr(w), SchedState::Wrr(st)) => w.on_update(st),
            (Scheduler::Lblc(_), SchedState::Lblc(st)) => st.on_update(old_dests, new_dests),
            (Scheduler::Lblcr(_), SchedState::Lblcr(st)) => st.on_update(old_dests, new_dests),
            _ => {}
        }
    }

    /// The periodic garbage collection of the lblc/lblcr caches (the kernel's
    /// `ip_vs_lblc_check_expire` timer): call it every [`EXPIRE_CHECK_INTERVAL`] from the
    /// worker's slow path. A no-op for the other schedulers.
    pub fn expire(&mut self, now: Duration) {
        match self {
            SchedState::Lblc(st) => st.expire(now),
            SchedState::Lblcr(st) => st.expire(now),
            _ => {}
        }
    }
}

/// Whether the dest list changed in a way the kernel's `add_dest`/`del_dest`/`upd_dest` hooks
/// would see (membership, order, weights); overload flags are not such a change.
fn dests_changed(old: &[Dest], new: &[Dest]) -> bool {
    old.len() != new.len()
        || old.iter().zip(new).any(|(a, b)| {
            a.key() != b.key()
                || a.weight != b.weight
                || a.last_weight != b.last_weight
                || a.is_available() != b.is_available()
        })
}

/// How often [`SchedState::expire`] should run (`CHECK_EXPIRE_INTERVAL`, 60 s).
pub const EXPIRE_CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// DPVS's spread of starting dests over workers (`dp_vs_sched_first_dest`): worker
/// `worker_index` of `num_workers` starts at `(num_dests / num_workers or 1) * worker_index
/// % num_dests`.
pub fn first_dest_for_worker(num_dests: usize, num_workers: usize, worker_index: usize) -> usize {
    if num_dests == 0 {
        return 0;
    }
    let step = (num_dests / num_workers.max(1)).max(1);
    step.wrapping_mul(worker_index) % num_dests
}

/// This worker's counters of dest `i` (zero if the slice is short).
#[inline]
pub(crate) fn counters_of(counters: &[DestCounters], i: usize) -> DestCounters {
    counters.get(i).copied().unwrap_or_default()
}

/// Overloaded for scheduling: the control plane's flag or this worker's threshold state.
#[inline]
pub(crate) fn overloaded(dests: &[Dest], counters: &[DestCounters], i: usize) -> bool {
    dests[i].is_overloaded() || counters.get(i).is_some_and(|c| c.overloaded)
}

/// Zero counters, for dests beyond the end of a short counters slice.
pub(crate) static ZERO_COUNTERS: DestCounters = DestCounters {
    active: 0,
    inactive: 0,
    persistent: 0,
    overloaded: false,
};

/// The dests of the list that are not overloaded, in list order, with their counters.
#[inline]
pub(crate) fn not_overloaded<'a>(
    dests: &'a [Dest],
    counters: &'a [DestCounters],
) -> impl Iterator<Item = (usize, &'a Dest, &'a DestCounters)> + 'a {
    dests.iter().enumerate().filter_map(move |(i, d)| {
        let c = counters.get(i).unwrap_or(&ZERO_COUNTERS);
        (d.is_available() && !d.is_overloaded() && !c.overloaded).then_some((i, d, c))
    })
}

/// Sentinel for an empty table slot.
pub(crate) const NO_DEST: u32 = u32::MAX;

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use std::net::Ipv4Addr;

    /// Dests 10.0.0.1.. with the given weights, port 80.
    pub fn dests(weights: &[i32]) -> Vec<Dest> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| Dest::new(Ipv4Addr::new(10, 0, 0, 1 + i as u8).into(), 80, *w))
            .collect()
    }

    /// Counters with the given active/inactive pairs.
    pub fn counters(v: &[(u32, u32)]) -> Vec<DestCounters> {
        v.iter()
            .map(|(a, i)| DestCounters {
                active: *a,
                inactive: *i,
                ..Default::default()
            })
            .collect()
    }

    /// A TCP input from `caddr:cport` to 192.0.2.1:80.
    pub fn input(caddr: IpAddr, cport: u16) -> SchedInput {
        SchedInput {
            caddr,
            cport,
            vaddr: Ipv4Addr::new(192, 0, 2, 1).into(),
            vport: 80,
            protocol: IPPROTO_TCP,
            now: Duration::ZERO,
        }
    }

    /// Any input (for schedulers that ignore it).
    pub fn any_input() -> SchedInput {
        input(Ipv4Addr::new(198, 51, 100, 7).into(), 40000)
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn every_ipvs_name_is_registered() {
        let names = [
            "rr", "wrr", "lc", "wlc", "sed", "nq", "dh", "sh", "mh", "lblc", "lblcr", "fo", "ovf",
            "twos", "conhash",
        ];
        let d = dests(&[1, 2]);
        for n in names {
            let s = Scheduler::new(n, &d, &SchedConfig::default()).unwrap();
            assert_eq!(s.name(), n);
            assert_eq!(SchedKind::from_name(n).unwrap(), s.kind());
            let mut st = s.new_state(&StateParams::default());
            assert!(s.state_matches(&st));
            assert!(
                s.pick(&mut st, &d, &counters(&[(0, 0), (0, 0)]), &any_input())
                    .is_some(),
                "{n}"
            );
        }
        assert_eq!(SCHEDULERS.len(), names.len());
    }

    #[test]
    fn unknown_name_is_enoent() {
        let e = Scheduler::new("nope", &[], &SchedConfig::default()).unwrap_err();
        assert_eq!(e, SchedError::UnknownScheduler);
        assert_eq!(e.errno(), 2);
        assert!(
            SchedKind::from_name("WRR").is_err(),
            "names are case sensitive as in the kernel"
        );
    }

    #[test]
    fn empty_service_gives_none_everywhere() {
        for e in SCHEDULERS.iter() {
            let s = (e.build)(&[], &SchedConfig::default()).unwrap();
            let mut st = s.new_state(&StateParams::default());
            assert_eq!(s.pick(&mut st, &[], &[], &any_input()), None, "{}", e.name);
        }
    }

    #[test]
    fn all_quiescent_or_unavailable_gives_none_everywhere() {
        let mut d = dests(&[0, 3, 2]);
        d[1].flags.set(crate::dest::DestFlags::AVAILABLE, false);
        d[2].flags.set(crate::dest::DestFlags::OVERLOADED, true);
        let c = counters(&[(0, 0), (0, 0), (0, 0)]);
        for e in SCHEDULERS.iter() {
            let s = (e.build)(&d, &SchedConfig::default()).unwrap();
            let mut st = s.new_state(&StateParams::default());
            for _ in 0..5 {
                assert_eq!(s.pick(&mut st, &d, &c, &any_input()), None, "{}", e.name);
            }
        }
    }

    #[test]
    fn mismatched_state_is_replaced() {
        let d = dests(&[1, 1]);
        let s = Scheduler::new("rr", &d, &SchedConfig::default()).unwrap();
        let mut st = SchedState::Stateless;
        assert_eq!(s.pick(&mut st, &d, &[], &any_input()), Some(0));
        assert!(matches!(st, SchedState::Rr(_)));
    }

    #[test]
    fn unchanged_snapshot_keeps_wrr_position() {
        let d = dests(&[3, 1]);
        let s = Scheduler::new("wrr", &d, &SchedConfig::default()).unwrap();
        let p = StateParams::default();
        let mut st = s.new_state(&p);
        let c = counters(&[(0, 0), (0, 0)]);
        let picks: Vec<_> = (0..2)
            .map(|_| s.pick(&mut st, &d, &c, &any_input()).unwrap())
            .collect();
        assert_eq!(picks, [0, 0]);
        // another service changed: same dests, the worker's position survives
        st.on_update(&s, &d, &d, &p);
        assert_eq!(s.pick(&mut st, &d, &c, &any_input()), Some(0));
        assert_eq!(s.pick(&mut st, &d, &c, &any_input()), Some(1));
        // an edited weight restarts from the list head, as ip_vs_wrr_dest_changed does
        let mut d2 = d.clone();
        d2[1].weight = 3;
        let s2 = Scheduler::new("wrr", &d2, &SchedConfig::default()).unwrap();
        st.on_update(&s2, &d, &d2, &p);
        let picks: Vec<_> = (0..4)
            .map(|_| s2.pick(&mut st, &d2, &c, &any_input()).unwrap())
            .collect();
        assert_eq!(picks, [0, 1, 0, 1]);
    }

    #[test]
    fn scheduler_change_replaces_the_state() {
        let d = dests(&[1, 1]);
        let rr = Scheduler::new("rr", &d, &SchedConfig::default()).unwrap();
        let lblc = Scheduler::new("lblc", &d, &SchedConfig::default()).unwrap();
        let p = StateParams::default();
        let mut st = rr.new_state(&p);
        st.on_update(&lblc, &d, &d, &p);
        assert!(matches!(st, SchedState::Lblc(_)));
    }

    #[test]
    fn wlc_recorded_sequence_with_churn() {
        // weights 1, 2, 3; each pick opens an active connection, every third pick closes one
        // on dest 2
        let d = dests(&[1, 2, 3]);
        let s = Scheduler::new("wlc", &d, &SchedConfig::default()).unwrap();
        let mut st = s.new_state(&StateParams::default());
        let mut c = counters(&[(0, 0), (0, 0), (0, 0)]);
        let mut got = vec![];
        for k in 0..9 {
            let i = s.pick(&mut st, &d, &c, &any_input()).unwrap();
            c[i].active += 1;
            if k % 3 == 2 && c[2].active > 0 {
                c[2].active -= 1;
            }
            got.push(i);
        }
        // worked by hand: loads active*256/weight, ties keep the earlier dest
        // k4: B 256/2 vs C 256/3 -> C; k5: B 256/2 beats C 512/3; k8: A 256/1 ties C 768/3 -> A
        assert_eq!(got, [0, 1, 2, 2, 2, 1, 2, 2, 0]);
    }

    fn arb_dests() -> impl proptest::strategy::Strategy<Value = (Vec<Dest>, Vec<DestCounters>)> {
        use proptest::prelude::*;
        proptest::collection::vec(
            (
                -1i32..6,
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                0u32..5,
                0u32..5,
            ),
            0..12,
        )
        .prop_map(|v| {
            let mut d = dests(&v.iter().map(|x| x.0).collect::<Vec<_>>());
            let mut c = vec![];
            for (i, (_, avail, over, cover, a, ina)) in v.into_iter().enumerate() {
                d[i].flags
                    .set(crate::dest::DestFlags::AVAILABLE, avail || i % 2 == 0);
                d[i].flags
                    .set(crate::dest::DestFlags::OVERLOADED, over && i % 3 == 0);
                c.push(DestCounters {
                    active: a,
                    inactive: ina,
                    persistent: 0,
                    overloaded: cover && i % 3 == 1,
                });
            }
            (d, c)
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn picks_are_always_usable_dests(
            (d, c) in arb_dests(),
            (d2, _) in arb_dests(),
            flags in 0u32..0x20,
            seed in proptest::prelude::any::<u64>(),
            addrs in proptest::collection::vec((proptest::prelude::any::<u32>(), proptest::prelude::any::<u16>()), 1..20),
        ) {
            for e in SCHEDULERS.iter() {
                let cfg = SchedConfig { flags, ipv6: false };
                let s = (e.build)(&d, &cfg).unwrap();
                let mut st = s.new_state(&StateParams { seed, start: seed as usize % 5, ..Default::default() });
                for (k, (a, p)) in addrs.iter().enumerate() {
                    let inp = SchedInput {
                        caddr: std::net::Ipv4Addr::from(*a).into(),
                        cport: *p,
                        vaddr: std::net::Ipv4Addr::from(a.rotate_left(7) & 0xff00_0003).into(),
                        now: Duration::from_secs(k as u64 * 1000),
                        ..any_input()
                    };
                    if let Some(i) = s.pick(&mut st, &d, &c, &inp) {
                        proptest::prop_assert!(i < d.len(), "{}", e.name);
                        proptest::prop_assert!(d[i].is_available() && d[i].weight > 0, "{}", e.name);
                        // the kernel's lblc reuses a cached dest without looking at the
                        // threshold overload flag
                        if e.kind != SchedKind::Lblc {
                            proptest::prop_assert!(!overloaded(&d, &c, i), "{}", e.name);
                        }
                    }
                    st.expire(inp.now);
                }
                // a later snapshot with an unrelated dest list must not upset the state
                let s2 = (e.build)(&d2, &cfg).unwrap();
                st.on_update(&s2, &d, &d2, &StateParams::default());
                let _ = s2.pick(&mut st, &d2, &[], &any_input());
            }
        }
    }

    #[test]
    fn first_dest_spread_like_dpvs() {
        assert_eq!(first_dest_for_worker(8, 4, 0), 0);
        assert_eq!(first_dest_for_worker(8, 4, 1), 2);
        assert_eq!(first_dest_for_worker(8, 4, 3), 6);
        assert_eq!(first_dest_for_worker(2, 4, 3), 1);
        assert_eq!(first_dest_for_worker(0, 4, 3), 0);
    }
}
