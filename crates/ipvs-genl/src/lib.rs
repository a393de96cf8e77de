//! The IPVS generic-netlink API as data.
//!
//! Both ends use this crate: dpvsd parses requests and emits replies exactly
//! as the kernel's `net/netfilter/ipvs/ip_vs_ctl.c` does, and dpvs-rs's own
//! tools build requests and parse replies. Framing and attribute emission sit
//! on netlink-packet-core; parsing mirrors the kernel's liberal
//! `nla_parse_deprecated()` so that malformed input earns the kernel's errno.
#![forbid(unsafe_code)]

pub mod attr;
pub mod consts;
pub mod ctrl;
pub mod frame;
pub mod ipvs;

pub use attr::{Attr, AttrTable, Policy};
pub use frame::{messages, NlMsg};

/// A positive errno value, as the kernel returns it (negated on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("errno {0}")]
pub struct Errno(pub i32);

impl Errno {
    pub const EPERM: Errno = Errno(1);
    pub const ENOENT: Errno = Errno(2);
    pub const ESRCH: Errno = Errno(3);
    pub const ENOMEM: Errno = Errno(12);
    pub const EEXIST: Errno = Errno(17);
    pub const ENODEV: Errno = Errno(19);
    pub const EINVAL: Errno = Errno(22);
    pub const ERANGE: Errno = Errno(34);
    pub const EMSGSIZE: Errno = Errno(90);
    pub const EOPNOTSUPP: Errno = Errno(95);
    pub const EAFNOSUPPORT: Errno = Errno(97);
}
