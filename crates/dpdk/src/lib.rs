//! Safe wrappers over [`dpdk_sys`]: EAL start-up, pktmbuf pools, an owning [`Mbuf`], ethdev
//! ports with per-queue handles, typed SPSC rings and lcore launch.
//!
//! # Ownership model
//!
//! * [`Eal`] is a token proving `rte_eal_init` succeeded; it is obtained once per process
//!   (a second [`Eal::init`] is an error) and never torn down: `rte_eal_cleanup` would invalidate
//!   every pool, port and ring, which no Rust lifetime here tracks.
//! * [`Mempool`] is a cheap `Clone` handle; the pool is freed when the last handle goes and no
//!   mbuf of it is in use, and deliberately leaked otherwise (mbufs do not count references).
//! * [`Mbuf`] owns one mbuf: dropping it frees it, transmitting or enqueueing it gives it away.
//!   This crate never raises an mbuf's reference count, so an `Mbuf` is the only reference to
//!   its data and [`Mbuf::data_mut`] is sound.
//! * [`Port`] claims an ethdev port for the process (one `Port` per port id at a time). Each
//!   queue of a started port is handed out at most once as an [`RxQueue`] / [`TxQueue`]
//!   (`Send`, not `Sync`: one lcore polls it), which is DPDK's threading rule for the fast path;
//!   the port cannot be stopped or reconfigured while any queue handle is alive.
//! * [`ring::spsc`] returns the two halves of a single-producer single-consumer ring, each
//!   usable by one thread, carrying owned values ([`RingItem`]).
//!
//! # Threads
//!
//! Mbuf allocation and freeing work on any thread (on a non-EAL thread without the per-lcore
//! cache). Control calls (`Port` methods) are not thread-safe in DPDK, hence `Port: !Sync`.
//! [`Eal::remote_launch`] runs a closure on a worker lcore.

mod eal;
mod error;
mod mbuf;
mod mempool;
mod port;
pub mod ring;

pub use eal::{current_lcore, Eal, LcoreJoin};
pub use error::{errno_message, Error, Result};
pub use mbuf::Mbuf;
pub use mempool::Mempool;
pub use port::{Link, Port, PortConf, RxQueue, Stats, TxQueue};
pub use ring::{RingConsumer, RingItem, RingProducer};

/// The raw bindings, for what the safe API does not cover yet.
pub use dpdk_sys as sys;
