//! dpvsd, the dpvs-rs daemon, as a library: the binary in `main.rs` wires
//! these pieces together; fuzz targets, benchmarks and tests drive them
//! directly.
//!
//! dpvsd serves the kernel's IPVS generic-netlink API on a unix socket, so
//! that unmodified ipvsadm and keepalived (through ipvs-netlink-shim)
//! configure it, persists that configuration across restarts, and, when its
//! configuration file names DPDK ports, forwards traffic by it
//! ([`dataplane`]): workers running the dpvs-core pipeline on DPDK lcores.

#![deny(unsafe_code)]

pub mod config;
pub mod dataplane;
pub mod dpip;
pub mod ipvs;
pub mod notify;
pub mod server;
// The daemon's only FFI (SOCK_SEQPACKET, SO_PEERCRED, capget, signalfd).
#[allow(unsafe_code)]
mod sys;
