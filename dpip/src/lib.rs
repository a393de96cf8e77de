//! dpip: iproute2-style management of dpvsd's network state (ports, addresses, routes,
//! neighbours, per-worker statistics) over dpvsd's dpip socket (crate `dpip-proto`).
#![deny(unsafe_code)]

pub mod format;
pub mod grammar;
pub mod json;
pub mod run;
