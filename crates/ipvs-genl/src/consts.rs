//! Numbers of the IPVS generic-netlink API (linux `include/uapi/linux/ip_vs.h`)
//! and of the nlctrl family (`include/uapi/linux/genetlink.h`).

/// The generic-netlink family name clients resolve.
pub const IPVS_GENL_NAME: &str = "IPVS";
/// The family's version, in the genl header of every message.
pub const IPVS_GENL_VERSION: u8 = 1;
/// The highest top-level attribute number of the family.
pub const IPVS_CMD_ATTR_MAX: u32 = 6;
/// `IP_VS_VERSION_CODE`: 1.2.1.
pub const IP_VS_VERSION_CODE: u32 = 0x0001_0201;
/// The kernel's default connection-table size (`ip_vs_conn_tab_bits` = 12).
pub const IP_VS_CONN_TAB_SIZE: u32 = 4096;
/// CONFIG_HZ of Debian's kernels: the kernel keeps persistence timeouts in
/// jiffies, and a few replies show the rounding that implies.
pub const HZ: u32 = 250;

/// IPVS commands (`IPVS_CMD_*`).
pub mod cmd {
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
    pub const SET_CONFIG: u8 = 12;
    pub const GET_CONFIG: u8 = 13;
    pub const SET_INFO: u8 = 14;
    pub const GET_INFO: u8 = 15;
    pub const ZERO: u8 = 16;
    pub const FLUSH: u8 = 17;
}

/// Top-level attributes (`IPVS_CMD_ATTR_*`).
pub mod cmd_attr {
    pub const SERVICE: u16 = 1;
    pub const DEST: u16 = 2;
    pub const DAEMON: u16 = 3;
    pub const TIMEOUT_TCP: u16 = 4;
    pub const TIMEOUT_TCP_FIN: u16 = 5;
    pub const TIMEOUT_UDP: u16 = 6;
}

/// Service attributes (`IPVS_SVC_ATTR_*`).
pub mod svc_attr {
    pub const AF: u16 = 1;
    pub const PROTOCOL: u16 = 2;
    pub const ADDR: u16 = 3;
    pub const PORT: u16 = 4;
    pub const FWMARK: u16 = 5;
    pub const SCHED_NAME: u16 = 6;
    pub const FLAGS: u16 = 7;
    pub const TIMEOUT: u16 = 8;
    pub const NETMASK: u16 = 9;
    pub const STATS: u16 = 10;
    pub const PE_NAME: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const MAX: usize = 12;
}

/// Destination attributes (`IPVS_DEST_ATTR_*`).
pub mod dest_attr {
    pub const ADDR: u16 = 1;
    pub const PORT: u16 = 2;
    pub const FWD_METHOD: u16 = 3;
    pub const WEIGHT: u16 = 4;
    pub const U_THRESH: u16 = 5;
    pub const L_THRESH: u16 = 6;
    pub const ACTIVE_CONNS: u16 = 7;
    pub const INACT_CONNS: u16 = 8;
    pub const PERSIST_CONNS: u16 = 9;
    pub const STATS: u16 = 10;
    pub const ADDR_FAMILY: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const TUN_TYPE: u16 = 13;
    pub const TUN_PORT: u16 = 14;
    pub const TUN_FLAGS: u16 = 15;
    pub const MAX: usize = 15;
}

/// Sync-daemon attributes (`IPVS_DAEMON_ATTR_*`).
pub mod daemon_attr {
    pub const STATE: u16 = 1;
    pub const MCAST_IFN: u16 = 2;
    pub const SYNC_ID: u16 = 3;
    pub const SYNC_MAXLEN: u16 = 4;
    pub const MCAST_GROUP: u16 = 5;
    pub const MCAST_GROUP6: u16 = 6;
    pub const MCAST_PORT: u16 = 7;
    pub const MCAST_TTL: u16 = 8;
    pub const MAX: usize = 8;
}

/// Statistics attributes (`IPVS_STATS_ATTR_*`).
pub mod stats_attr {
    pub const CONNS: u16 = 1;
    pub const INPKTS: u16 = 2;
    pub const OUTPKTS: u16 = 3;
    pub const INBYTES: u16 = 4;
    pub const OUTBYTES: u16 = 5;
    pub const CPS: u16 = 6;
    pub const INPPS: u16 = 7;
    pub const OUTPPS: u16 = 8;
    pub const INBPS: u16 = 9;
    pub const OUTBPS: u16 = 10;
    pub const MAX: usize = 11;
}

/// GET_INFO reply attributes (`IPVS_INFO_ATTR_*`).
pub mod info_attr {
    pub const VERSION: u16 = 1;
    pub const CONN_TAB_SIZE: u16 = 2;
}

/// Service flags (`IP_VS_SVC_F_*`).
pub mod svc_flags {
    pub const PERSISTENT: u32 = 0x0001;
    pub const HASHED: u32 = 0x0002;
    pub const ONEPACKET: u32 = 0x0004;
    pub const SCHED1: u32 = 0x0008;
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
}

/// Forwarding methods (`IP_VS_CONN_F_*` & `IP_VS_CONN_F_FWD_MASK`).
pub mod fwd {
    pub const MASK: u32 = 0x0007;
    pub const MASQ: u32 = 0;
    pub const LOCALNODE: u32 = 1;
    pub const TUNNEL: u32 = 2;
    pub const DROUTE: u32 = 3;
    pub const BYPASS: u32 = 4;
    /// dpvs-rs (and DPVS) full-NAT; stock tools never send it.
    pub const FULLNAT: u32 = 5;
}

/// Tunnel encapsulations (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
pub mod tun_type {
    pub const IPIP: u8 = 0;
    pub const GUE: u8 = 1;
    pub const GRE: u8 = 2;
}

/// Sync-daemon states (`IP_VS_STATE_*`).
pub mod daemon_state {
    pub const MASTER: u32 = 1;
    pub const BACKUP: u32 = 2;
}

/// The nlctrl family (`GENL_ID_CTRL`) and its numbers.
pub mod ctrl {
    pub const GENL_ID_CTRL: u16 = 0x10;
    pub const CMD_NEWFAMILY: u8 = 1;
    pub const CMD_GETFAMILY: u8 = 3;
    pub const VERSION: u8 = 2;
    pub const ATTR_FAMILY_ID: u16 = 1;
    pub const ATTR_FAMILY_NAME: u16 = 2;
    pub const ATTR_VERSION: u16 = 3;
    pub const ATTR_HDRSIZE: u16 = 4;
    pub const ATTR_MAXATTR: u16 = 5;
    pub const ATTR_OPS: u16 = 6;
    pub const ATTR_OP_ID: u16 = 1;
    pub const ATTR_OP_FLAGS: u16 = 2;
    /// `GENL_ADMIN_PERM`, `GENL_CMD_CAP_DO`, `_DUMP`, `_HASPOL`.
    pub const OP_ADMIN_PERM: u32 = 0x01;
    pub const OP_CAP_DO: u32 = 0x02;
    pub const OP_CAP_DUMP: u32 = 0x04;
    pub const OP_CAP_HASPOL: u32 = 0x08;
}

/// nlmsg_type of dpvsd's private "read a /proc/net/ip_vs* file" request
/// (outside the range generic netlink allocates family ids from). The
/// payload is the file's base name, NUL-terminated; the answer is messages of
/// this type whose payloads are consecutive chunks of the text, then
/// NLMSG_DONE, or an NLMSG_ERROR. ipvs-netlink-shim keeps its own copy (it
/// depends on nothing but libc); a test there checks the two agree.
pub const DPVS_PROC_READ: u16 = 0x7ff0;

/// Address families.
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
