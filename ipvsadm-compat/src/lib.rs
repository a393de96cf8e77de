//! ipvsadm-compat: Debian's ipvsadm 1.31 (popt build) reimplemented in Rust, speaking the IPVS
//! generic-netlink API directly to dpvsd's unix socket, or to a kernel's IPVS when dpvsd's
//! socket is absent; plus DPVS's ipvsadm extensions as options of their own.
//!
//! The modules follow ipvsadm's own split: [`popt`] scans the command line as popt does,
//! [`grammar`] is `parse_options` and the legality tables, [`parse`] the C library's
//! address and number parsers, [`ipvs`] libipvs, [`list`] the listings, [`run`] `main`,
//! `process_options` and `-R`. [`sys`] holds every unsafe call.

#![deny(unsafe_code)]

pub mod grammar;
pub mod ipvs;
pub mod list;
pub mod parse;
pub mod popt;
pub mod run;
#[allow(unsafe_code)]
pub mod sys;
