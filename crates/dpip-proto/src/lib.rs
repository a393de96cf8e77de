//! dpip's control messages to dpvsd (docs/DPIP-PROTOCOL.md): rtnetlink messages as
//! netlink-packet-route defines them (links, addresses, routes, neighbours), plus a few
//! private messages for what rtnetlink lacks (a version handshake, flushes done at once,
//! per-worker statistics with named drop reasons) and private attributes (the `sapool`
//! address flag, a port's queues and speed).
//!
//! Both ends use the plain types of this crate ([`Request`], [`Reply`], [`Link`], [`Addr`],
//! [`Route`], [`Neigh`], [`WorkerStats`]); only this crate knows the wire structures.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{
    DefaultNla, DoneMessage, Emitable, ErrorMessage, NetlinkDeserializable, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, NetlinkSerializable, Nla, NlaBuffer, NlasIterator, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_MULTIPART, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkLayerType, LinkMessage, State, Stats64};
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

/// The protocol version this crate speaks (the HELLO handshake).
pub const VERSION: u32 = 1;

/// Private message types (above every RTM_* type).
pub const DPIP_HELLO: u16 = 0x400;
pub const DPIP_GETSTATS: u16 = 0x401;
pub const DPIP_NEWSTATS: u16 = 0x402;
pub const DPIP_FLUSH: u16 = 0x403;

/// Attributes of the private messages.
pub const DPIP_A_VERSION: u16 = 1;
pub const DPIP_A_NAME: u16 = 2;
pub const DPIP_A_COUNT: u16 = 3;
pub const DPIP_A_WORKER: u16 = 4;
pub const DPIP_A_RX: u16 = 5;
pub const DPIP_A_FORWARDED: u16 = 6;
pub const DPIP_A_LOCAL_REPLIES: u16 = 7;
pub const DPIP_A_TO_KERNEL: u16 = 8;
pub const DPIP_A_CONNECTIONS: u16 = 9;
/// Nested: [`DPIP_A_DROP_NAME`] and [`DPIP_A_DROP_COUNT`]; one per drop reason.
pub const DPIP_A_DROP: u16 = 10;
pub const DPIP_A_DROP_NAME: u16 = 1;
pub const DPIP_A_DROP_COUNT: u16 = 2;

/// Private attributes inside rtnetlink messages (above every kernel attribute type).
/// IFA_DPIP_SAPOOL: a flag (no value) on an address: a full-NAT local address.
pub const IFA_DPIP_SAPOOL: u16 = 0x100;
/// IFLA_DPIP_QUEUES (u32): rx/tx queue pairs of a port (one per worker).
pub const IFLA_DPIP_QUEUES: u16 = 0x100;
/// IFLA_DPIP_SPEED (u32): link speed in Mb/s (0: unknown).
pub const IFLA_DPIP_SPEED: u16 = 0x101;

/// NLMSGERR_ATTR_MSG: the extended ack's message.
pub const NLMSGERR_ATTR_MSG: u16 = 1;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;

pub const AF_UNSPEC: u8 = 0;
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

/// rtnetlink scopes and route types, protocols, tables, neighbour states used here.
pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RT_SCOPE_LINK: u8 = 253;
pub const RT_SCOPE_HOST: u8 = 254;
pub const RTN_UNICAST: u8 = 1;
pub const RTN_LOCAL: u8 = 2;
pub const RTPROT_KERNEL: u8 = 2;
pub const RTPROT_BOOT: u8 = 3;
pub const RT_TABLE_MAIN: u8 = 254;
pub const RT_TABLE_LOCAL: u8 = 255;
pub const NUD_INCOMPLETE: u16 = 0x01;
pub const NUD_REACHABLE: u16 = 0x02;
pub const NUD_STALE: u16 = 0x04;
pub const NUD_PERMANENT: u16 = 0x80;

/// A message that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("malformed message: {0}")]
    Decode(String),
    #[error("unexpected message type {0}")]
    Unexpected(u16),
    #[error("missing attribute: {0}")]
    Missing(&'static str),
}

fn decode<E: std::fmt::Display>(e: E) -> ProtoError {
    ProtoError::Decode(e.to_string())
}

/// A family as the wire says it (None: both).
pub fn family_byte(v6: Option<bool>) -> u8 {
    match v6 {
        None => AF_UNSPEC,
        Some(false) => AF_INET,
        Some(true) => AF_INET6,
    }
}

/// The family selector of a wire family byte.
pub fn family_of(af: u8) -> Option<bool> {
    match af {
        AF_INET => Some(false),
        AF_INET6 => Some(true),
        _ => None,
    }
}

fn af(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        AF_INET
    } else {
        AF_INET6
    }
}

/// A port (ifinfomsg).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Link {
    /// The interface index: the DPDK port id plus one (0 means "any" in rtnetlink).
    pub index: u32,
    pub name: String,
    pub mac: [u8; 6],
    pub mtu: u32,
    pub up: bool,
    pub carrier: bool,
    pub promisc: bool,
    pub speed_mbps: u32,
    pub queues: u32,
    pub stats: LinkStats,
}

/// A port's counters (IFLA_STATS64 fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Receive mbuf allocation failures.
    pub rx_dropped: u64,
    /// No rx descriptor free.
    pub rx_missed: u64,
}

/// `link set`: what changes on one port.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkChange {
    pub index: u32,
    pub up: Option<bool>,
    pub mtu: Option<u32>,
}

/// An address (ifaddrmsg).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addr {
    pub index: u32,
    pub addr: IpAddr,
    pub len: u8,
    pub scope: u8,
    pub sapool: bool,
}

/// A route (rtmsg).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub dst: IpAddr,
    pub len: u8,
    pub gateway: Option<IpAddr>,
    /// Output interface (0: not given).
    pub oif: u32,
    pub prefsrc: Option<IpAddr>,
    /// Given only when set (the kernel omits 0 for IPv4).
    pub metric: Option<u32>,
    pub scope: u8,
    pub table: u8,
    pub protocol: u8,
    pub kind: u8,
}

impl Route {
    /// A unicast route of the main table, as `route add` sends it.
    pub fn new(dst: IpAddr, len: u8) -> Route {
        Route {
            dst,
            len,
            gateway: None,
            oif: 0,
            prefsrc: None,
            metric: None,
            scope: RT_SCOPE_UNIVERSE,
            table: RT_TABLE_MAIN,
            protocol: RTPROT_BOOT,
            kind: RTN_UNICAST,
        }
    }
}

/// A neighbour (ndmsg).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neigh {
    pub index: u32,
    pub addr: IpAddr,
    pub lladdr: Option<[u8; 6]>,
    pub state: u16,
}

/// What a flush empties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushObject {
    Addr = 1,
    Route = 2,
    Neigh = 3,
}

/// A flush request: `object` of one family (AF_UNSPEC: both) on one port (0: all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flush {
    pub object: FlushObject,
    pub family: u8,
    pub index: u32,
}

/// The version handshake, both ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub version: u32,
    /// `dpip 0.1.0` or `dpvsd 0.1.0`.
    pub name: String,
}

/// One worker's counters and every drop reason by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerStats {
    pub worker: u32,
    pub rx: u64,
    pub forwarded: u64,
    pub local_replies: u64,
    pub to_kernel: u64,
    pub connections: u64,
    pub drops: Vec<(String, u64)>,
}

/// A request from dpip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Hello(Hello),
    /// Dump every port.
    GetLinks,
    SetLink(LinkChange),
    /// Dump addresses of a family (AF_UNSPEC: both).
    GetAddrs(u8),
    AddAddr(Addr),
    /// `len` 0 with `index` 0 deletes by address alone.
    DelAddr(Addr),
    GetRoutes(u8),
    AddRoute(Route),
    DelRoute(Route),
    GetNeighs(u8),
    AddNeigh(Neigh),
    DelNeigh(Neigh),
    Flush(Flush),
    GetStats,
}

/// An answer from dpvsd (besides ACK, error and DONE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Hello(Hello),
    Link(Link),
    Addr(Addr),
    Route(Route),
    Neigh(Neigh),
    Stats(WorkerStats),
    /// How many entries a flush removed.
    Flushed(u32),
}

/// One message of dpvsd's answer as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Reply(Reply),
    Ack,
    /// NLMSG_ERROR with a negative errno; `msg` from NLMSGERR_ATTR_MSG (empty if none).
    Error { errno: i32, msg: String },
    Done,
}

/// A private message: `struct dpipmsg { u8 family; u8 object; u16 reserved; u32 index; }`
/// then attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Private {
    pub kind: u16,
    pub family: u8,
    pub object: u8,
    pub index: u32,
    pub attrs: Vec<DefaultNla>,
}

const PRIVATE_HEADER_LEN: usize = 8;

/// The payload of a netlink message on dpip's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpipMessage {
    Rt(RouteNetlinkMessage),
    Private(Private),
}

fn attrs_len(attrs: &[DefaultNla]) -> usize {
    attrs.buffer_len()
}

impl NetlinkSerializable for DpipMessage {
    fn message_type(&self) -> u16 {
        match self {
            DpipMessage::Rt(m) => m.message_type(),
            DpipMessage::Private(p) => p.kind,
        }
    }
    fn buffer_len(&self) -> usize {
        match self {
            DpipMessage::Rt(m) => NetlinkSerializable::buffer_len(m),
            DpipMessage::Private(p) => PRIVATE_HEADER_LEN + attrs_len(&p.attrs),
        }
    }
    fn serialize(&self, buffer: &mut [u8]) {
        match self {
            DpipMessage::Rt(m) => NetlinkSerializable::serialize(m, buffer),
            DpipMessage::Private(p) => {
                buffer[0] = p.family;
                buffer[1] = p.object;
                buffer[2..4].fill(0);
                buffer[4..8].copy_from_slice(&p.index.to_ne_bytes());
                p.attrs.as_slice().emit(&mut buffer[PRIVATE_HEADER_LEN..]);
            }
        }
    }
}

fn parse_nlas(bytes: &[u8]) -> Result<Vec<DefaultNla>, ProtoError> {
    let mut v = Vec::new();
    for nla in NlasIterator::new(bytes) {
        let nla: NlaBuffer<&[u8]> = nla.map_err(decode)?;
        v.push(DefaultNla::new(nla.kind(), nla.value().to_vec()));
    }
    Ok(v)
}

impl NetlinkDeserializable for DpipMessage {
    type Error = ProtoError;
    fn deserialize(header: &NetlinkHeader, payload: &[u8]) -> Result<Self, ProtoError> {
        if (DPIP_HELLO..=DPIP_FLUSH).contains(&header.message_type) {
            if payload.len() < PRIVATE_HEADER_LEN {
                return Err(ProtoError::Decode(format!("private message of {} bytes", payload.len())));
            }
            return Ok(DpipMessage::Private(Private {
                kind: header.message_type,
                family: payload[0],
                object: payload[1],
                index: u32::from_ne_bytes(payload[4..8].try_into().expect("4 bytes")),
                attrs: parse_nlas(&payload[PRIVATE_HEADER_LEN..])?,
            }));
        }
        RouteNetlinkMessage::deserialize(header, payload).map(DpipMessage::Rt).map_err(decode)
    }
}

fn nla_u32(kind: u16, v: u32) -> DefaultNla {
    DefaultNla::new(kind, v.to_ne_bytes().to_vec())
}
fn nla_u64(kind: u16, v: u64) -> DefaultNla {
    DefaultNla::new(kind, v.to_ne_bytes().to_vec())
}
fn nla_str(kind: u16, v: &str) -> DefaultNla {
    let mut b = v.as_bytes().to_vec();
    b.push(0);
    DefaultNla::new(kind, b)
}
fn nla_value(n: &DefaultNla) -> Vec<u8> {
    let mut b = vec![0; n.value_len()];
    n.emit_value(&mut b);
    b
}
fn get(attrs: &[DefaultNla], kind: u16) -> Option<&DefaultNla> {
    attrs.iter().find(|n| n.kind() == kind)
}
fn get_u32(attrs: &[DefaultNla], kind: u16) -> Option<u32> {
    get(attrs, kind).and_then(|n| Some(u32::from_ne_bytes(nla_value(n).get(..4)?.try_into().ok()?)))
}
fn get_u64(attrs: &[DefaultNla], kind: u16) -> Option<u64> {
    get(attrs, kind).and_then(|n| Some(u64::from_ne_bytes(nla_value(n).get(..8)?.try_into().ok()?)))
}
fn str_of(n: &DefaultNla) -> String {
    let v = nla_value(n);
    let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}
fn get_str(attrs: &[DefaultNla], kind: u16) -> Option<String> {
    get(attrs, kind).map(str_of)
}

fn route_addr(a: IpAddr) -> RouteAddress {
    match a {
        IpAddr::V4(v) => RouteAddress::Inet(v),
        IpAddr::V6(v) => RouteAddress::Inet6(v),
    }
}
fn from_route_addr(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v) => Some(IpAddr::V4(*v)),
        RouteAddress::Inet6(v) => Some(IpAddr::V6(*v)),
        _ => None,
    }
}

impl Link {
    fn wire(&self) -> LinkMessage {
        let mut m = LinkMessage::default();
        m.header.interface_family = AddressFamily::Unspec;
        m.header.index = self.index;
        m.header.link_layer_type = LinkLayerType::Ether;
        let mut flags = LinkFlags::Broadcast | LinkFlags::Multicast;
        if self.up {
            flags |= LinkFlags::Up;
            if self.carrier {
                flags |= LinkFlags::Running | LinkFlags::LowerUp;
            }
        }
        if self.promisc {
            flags |= LinkFlags::Promisc;
        }
        m.header.flags = flags;
        let mut s = Stats64::default();
        s.rx_packets = self.stats.rx_packets;
        s.tx_packets = self.stats.tx_packets;
        s.rx_bytes = self.stats.rx_bytes;
        s.tx_bytes = self.stats.tx_bytes;
        s.rx_errors = self.stats.rx_errors;
        s.tx_errors = self.stats.tx_errors;
        s.rx_dropped = self.stats.rx_dropped;
        s.rx_missed_errors = self.stats.rx_missed;
        m.attributes = vec![
            LinkAttribute::IfName(self.name.clone()),
            LinkAttribute::Mtu(self.mtu),
            LinkAttribute::Address(self.mac.to_vec()),
            LinkAttribute::Broadcast(vec![0xff; 6]),
            LinkAttribute::Carrier(u8::from(self.carrier)),
            LinkAttribute::OperState(if self.up && self.carrier { State::Up } else { State::Down }),
            LinkAttribute::Stats64(s),
            LinkAttribute::Other(nla_u32(IFLA_DPIP_QUEUES, self.queues)),
            LinkAttribute::Other(nla_u32(IFLA_DPIP_SPEED, self.speed_mbps)),
        ];
        m
    }

    fn from_message(m: &LinkMessage) -> Link {
        let f = m.header.flags;
        let mut l = Link {
            index: m.header.index,
            up: f.contains(LinkFlags::Up),
            promisc: f.contains(LinkFlags::Promisc),
            carrier: f.contains(LinkFlags::LowerUp),
            ..Link::default()
        };
        for a in &m.attributes {
            match a {
                LinkAttribute::IfName(n) => l.name = n.clone(),
                LinkAttribute::Mtu(n) => l.mtu = *n,
                LinkAttribute::Address(mac) if mac.len() == 6 => l.mac.copy_from_slice(mac),
                LinkAttribute::Carrier(c) => l.carrier = *c != 0,
                LinkAttribute::Stats64(s) => {
                    l.stats = LinkStats {
                        rx_packets: s.rx_packets,
                        tx_packets: s.tx_packets,
                        rx_bytes: s.rx_bytes,
                        tx_bytes: s.tx_bytes,
                        rx_errors: s.rx_errors,
                        tx_errors: s.tx_errors,
                        rx_dropped: s.rx_dropped,
                        rx_missed: s.rx_missed_errors,
                    }
                }
                LinkAttribute::Other(n) if n.kind() == IFLA_DPIP_QUEUES => {
                    l.queues = get_u32(std::slice::from_ref(n), IFLA_DPIP_QUEUES).unwrap_or(0)
                }
                LinkAttribute::Other(n) if n.kind() == IFLA_DPIP_SPEED => {
                    l.speed_mbps = get_u32(std::slice::from_ref(n), IFLA_DPIP_SPEED).unwrap_or(0)
                }
                _ => {}
            }
        }
        l
    }
}

impl LinkChange {
    fn wire(&self) -> LinkMessage {
        let mut m = LinkMessage::default();
        m.header.index = self.index;
        if let Some(up) = self.up {
            m.header.change_mask = LinkFlags::Up;
            if up {
                m.header.flags = LinkFlags::Up;
            }
        }
        if let Some(mtu) = self.mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        m
    }

    fn from_message(m: &LinkMessage) -> LinkChange {
        LinkChange {
            index: m.header.index,
            up: m.header.change_mask.contains(LinkFlags::Up).then(|| m.header.flags.contains(LinkFlags::Up)),
            mtu: m.attributes.iter().find_map(|a| if let LinkAttribute::Mtu(n) = a { Some(*n) } else { None }),
        }
    }
}

impl Addr {
    fn wire(&self) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.family = af(self.addr).into();
        m.header.prefix_len = self.len;
        m.header.scope = self.scope.into();
        m.header.index = self.index;
        m.attributes.push(AddressAttribute::Local(self.addr));
        m.attributes.push(AddressAttribute::Address(self.addr));
        m.attributes.push(AddressAttribute::Flags(AddressFlags::Permanent));
        if self.sapool {
            m.attributes.push(AddressAttribute::Other(DefaultNla::new(IFA_DPIP_SAPOOL, Vec::new())));
        }
        m
    }

    fn from_message(m: &AddressMessage) -> Result<Addr, ProtoError> {
        let mut addr = None;
        let mut sapool = false;
        for a in &m.attributes {
            match a {
                AddressAttribute::Local(x) => addr = Some(*x),
                AddressAttribute::Address(x) if addr.is_none() => addr = Some(*x),
                AddressAttribute::Other(n) if n.kind() == IFA_DPIP_SAPOOL => sapool = true,
                _ => {}
            }
        }
        Ok(Addr {
            index: m.header.index,
            addr: addr.ok_or(ProtoError::Missing("IFA_LOCAL"))?,
            len: m.header.prefix_len,
            scope: m.header.scope.into(),
            sapool,
        })
    }
}

impl Route {
    fn wire(&self) -> RouteMessage {
        let mut m = RouteMessage::default();
        m.header.address_family = af(self.dst).into();
        m.header.destination_prefix_length = self.len;
        m.header.table = self.table;
        m.header.protocol = self.protocol.into();
        m.header.scope = self.scope.into();
        m.header.kind = self.kind.into();
        if self.len > 0 || self.kind == RTN_LOCAL {
            m.attributes.push(RouteAttribute::Destination(route_addr(self.dst)));
        }
        if let Some(n) = self.metric {
            m.attributes.push(RouteAttribute::Priority(n));
        }
        if let Some(s) = self.prefsrc {
            m.attributes.push(RouteAttribute::PrefSource(route_addr(s)));
        }
        if let Some(g) = self.gateway {
            m.attributes.push(RouteAttribute::Gateway(route_addr(g)));
        }
        if self.oif != 0 {
            m.attributes.push(RouteAttribute::Oif(self.oif));
        }
        m
    }

    fn from_message(m: &RouteMessage) -> Route {
        let v6 = m.header.address_family == AddressFamily::Inet6;
        let any = if v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
        let mut r = Route {
            dst: any,
            len: m.header.destination_prefix_length,
            gateway: None,
            oif: 0,
            prefsrc: None,
            metric: None,
            scope: m.header.scope.into(),
            table: m.header.table,
            protocol: m.header.protocol.into(),
            kind: m.header.kind.into(),
        };
        for a in &m.attributes {
            match a {
                RouteAttribute::Destination(x) => r.dst = from_route_addr(x).unwrap_or(any),
                RouteAttribute::Gateway(x) => r.gateway = from_route_addr(x),
                RouteAttribute::PrefSource(x) => r.prefsrc = from_route_addr(x),
                RouteAttribute::Oif(n) => r.oif = *n,
                RouteAttribute::Priority(n) => r.metric = Some(*n),
                RouteAttribute::Table(t) if m.header.table == RouteHeader::RT_TABLE_UNSPEC => r.table = *t as u8,
                _ => {}
            }
        }
        r
    }
}

impl Neigh {
    fn wire(&self) -> NeighbourMessage {
        let mut m = NeighbourMessage::default();
        m.header.family = af(self.addr).into();
        m.header.ifindex = self.index;
        m.header.state = self.state.into();
        m.attributes.push(NeighbourAttribute::Destination(match self.addr {
            IpAddr::V4(a) => NeighbourAddress::Inet(a),
            IpAddr::V6(a) => NeighbourAddress::Inet6(a),
        }));
        if let Some(mac) = self.lladdr {
            m.attributes.push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        }
        m
    }

    fn from_message(m: &NeighbourMessage) -> Result<Neigh, ProtoError> {
        let mut addr = None;
        let mut lladdr = None;
        for a in &m.attributes {
            match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(x)) => addr = Some(IpAddr::V4(*x)),
                NeighbourAttribute::Destination(NeighbourAddress::Inet6(x)) => addr = Some(IpAddr::V6(*x)),
                NeighbourAttribute::LinkLayerAddress(b) if b.len() == 6 => {
                    let mut mac = [0; 6];
                    mac.copy_from_slice(b);
                    lladdr = Some(mac);
                }
                _ => {}
            }
        }
        Ok(Neigh {
            index: m.header.ifindex,
            addr: addr.ok_or(ProtoError::Missing("NDA_DST"))?,
            lladdr,
            state: m.header.state.into(),
        })
    }
}

impl WorkerStats {
    fn to_private(&self) -> Private {
        let mut attrs = vec![
            nla_u32(DPIP_A_WORKER, self.worker),
            nla_u64(DPIP_A_RX, self.rx),
            nla_u64(DPIP_A_FORWARDED, self.forwarded),
            nla_u64(DPIP_A_LOCAL_REPLIES, self.local_replies),
            nla_u64(DPIP_A_TO_KERNEL, self.to_kernel),
            nla_u64(DPIP_A_CONNECTIONS, self.connections),
        ];
        for (name, n) in &self.drops {
            let inner = [nla_str(DPIP_A_DROP_NAME, name), nla_u64(DPIP_A_DROP_COUNT, *n)];
            let mut b = vec![0; inner.as_slice().buffer_len()];
            inner.as_slice().emit(&mut b);
            attrs.push(DefaultNla::new(DPIP_A_DROP | netlink_packet_core::NLA_F_NESTED, b));
        }
        Private { kind: DPIP_NEWSTATS, family: AF_UNSPEC, object: 0, index: self.worker, attrs }
    }

    fn from_private(p: &Private) -> Result<WorkerStats, ProtoError> {
        let a = &p.attrs;
        let mut s = WorkerStats {
            worker: get_u32(a, DPIP_A_WORKER).ok_or(ProtoError::Missing("DPIP_A_WORKER"))?,
            rx: get_u64(a, DPIP_A_RX).unwrap_or(0),
            forwarded: get_u64(a, DPIP_A_FORWARDED).unwrap_or(0),
            local_replies: get_u64(a, DPIP_A_LOCAL_REPLIES).unwrap_or(0),
            to_kernel: get_u64(a, DPIP_A_TO_KERNEL).unwrap_or(0),
            connections: get_u64(a, DPIP_A_CONNECTIONS).unwrap_or(0),
            drops: Vec::new(),
        };
        for n in a.iter().filter(|n| n.kind() & netlink_packet_core::NLA_TYPE_MASK == DPIP_A_DROP) {
            let inner = parse_nlas(&nla_value(n))?;
            let name = get_str(&inner, DPIP_A_DROP_NAME).ok_or(ProtoError::Missing("DPIP_A_DROP_NAME"))?;
            s.drops.push((name, get_u64(&inner, DPIP_A_DROP_COUNT).unwrap_or(0)));
        }
        Ok(s)
    }
}

fn hello_private(h: &Hello) -> Private {
    Private {
        kind: DPIP_HELLO,
        family: AF_UNSPEC,
        object: 0,
        index: 0,
        attrs: vec![nla_u32(DPIP_A_VERSION, h.version), nla_str(DPIP_A_NAME, &h.name)],
    }
}

fn hello_of(p: &Private) -> Result<Hello, ProtoError> {
    Ok(Hello {
        version: get_u32(&p.attrs, DPIP_A_VERSION).ok_or(ProtoError::Missing("DPIP_A_VERSION"))?,
        name: get_str(&p.attrs, DPIP_A_NAME).unwrap_or_default(),
    })
}

fn message(payload: DpipMessage, flags: u16, seq: u32) -> Vec<u8> {
    let mut m = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(payload));
    m.header.flags = flags;
    m.header.sequence_number = seq;
    m.finalize();
    let mut b = vec![0; m.buffer_len()];
    m.serialize(&mut b);
    b
}

impl Request {
    /// The request as one netlink message with sequence number `seq`.
    pub fn encode(&self, seq: u32) -> Vec<u8> {
        use RouteNetlinkMessage as R;
        let ack = NLM_F_REQUEST | NLM_F_ACK;
        let dump = NLM_F_REQUEST | NLM_F_DUMP;
        let create = ack | NLM_F_CREATE | NLM_F_EXCL;
        let rt = DpipMessage::Rt;
        let (payload, flags) = match self {
            Request::Hello(h) => (DpipMessage::Private(hello_private(h)), NLM_F_REQUEST),
            Request::GetLinks => (rt(R::GetLink(LinkMessage::default())), dump),
            Request::SetLink(c) => (rt(R::NewLink(c.wire())), ack),
            Request::GetAddrs(f) => {
                let mut m = AddressMessage::default();
                m.header.family = (*f).into();
                (rt(R::GetAddress(m)), dump)
            }
            Request::AddAddr(a) => (rt(R::NewAddress(a.wire())), create),
            Request::DelAddr(a) => (rt(R::DelAddress(a.wire())), ack),
            Request::GetRoutes(f) => {
                let mut m = RouteMessage::default();
                m.header.address_family = (*f).into();
                (rt(R::GetRoute(m)), dump)
            }
            Request::AddRoute(r) => (rt(R::NewRoute(r.wire())), create),
            Request::DelRoute(r) => (rt(R::DelRoute(r.wire())), ack),
            Request::GetNeighs(f) => {
                let mut m = NeighbourMessage::default();
                m.header.family = (*f).into();
                (rt(R::GetNeighbour(m)), dump)
            }
            Request::AddNeigh(n) => (rt(R::NewNeighbour(n.wire())), create),
            Request::DelNeigh(n) => (rt(R::DelNeighbour(n.wire())), ack),
            Request::Flush(f) => (
                DpipMessage::Private(Private {
                    kind: DPIP_FLUSH,
                    family: f.family,
                    object: f.object as u8,
                    index: f.index,
                    attrs: Vec::new(),
                }),
                ack,
            ),
            Request::GetStats => (
                DpipMessage::Private(Private { kind: DPIP_GETSTATS, family: 0, object: 0, index: 0, attrs: Vec::new() }),
                dump,
            ),
        };
        message(payload, flags, seq)
    }

    /// The request a decoded message carries.
    pub fn decode(m: &DpipMessage) -> Result<Request, ProtoError> {
        use RouteNetlinkMessage as R;
        Ok(match m {
            DpipMessage::Private(p) => match p.kind {
                DPIP_HELLO => Request::Hello(hello_of(p)?),
                DPIP_GETSTATS => Request::GetStats,
                DPIP_FLUSH => Request::Flush(Flush {
                    object: match p.object {
                        1 => FlushObject::Addr,
                        2 => FlushObject::Route,
                        3 => FlushObject::Neigh,
                        o => return Err(ProtoError::Decode(format!("flush of unknown object {o}"))),
                    },
                    family: p.family,
                    index: p.index,
                }),
                k => return Err(ProtoError::Unexpected(k)),
            },
            DpipMessage::Rt(r) => match r {
                R::GetLink(_) => Request::GetLinks,
                R::NewLink(l) | R::SetLink(l) => Request::SetLink(LinkChange::from_message(l)),
                R::GetAddress(a) => Request::GetAddrs(a.header.family.into()),
                R::NewAddress(a) => Request::AddAddr(Addr::from_message(a)?),
                R::DelAddress(a) => Request::DelAddr(Addr::from_message(a)?),
                R::GetRoute(x) => Request::GetRoutes(x.header.address_family.into()),
                R::NewRoute(x) => Request::AddRoute(Route::from_message(x)),
                R::DelRoute(x) => Request::DelRoute(Route::from_message(x)),
                R::GetNeighbour(n) => Request::GetNeighs(n.header.family.into()),
                R::NewNeighbour(n) => Request::AddNeigh(Neigh::from_message(n)?),
                R::DelNeighbour(n) => Request::DelNeigh(Neigh::from_message(n)?),
                other => return Err(ProtoError::Unexpected(other.message_type())),
            },
        })
    }
}

impl Reply {
    /// The reply as one netlink message answering sequence `seq` (part of a dump when
    /// `multi`).
    pub fn encode(&self, seq: u32, multi: bool) -> Vec<u8> {
        use RouteNetlinkMessage as R;
        let payload = match self {
            Reply::Hello(h) => DpipMessage::Private(hello_private(h)),
            Reply::Link(l) => DpipMessage::Rt(R::NewLink(l.wire())),
            Reply::Addr(a) => DpipMessage::Rt(R::NewAddress(a.wire())),
            Reply::Route(r) => DpipMessage::Rt(R::NewRoute(r.wire())),
            Reply::Neigh(n) => DpipMessage::Rt(R::NewNeighbour(n.wire())),
            Reply::Stats(s) => DpipMessage::Private(s.to_private()),
            Reply::Flushed(n) => DpipMessage::Private(Private {
                kind: DPIP_FLUSH,
                family: 0,
                object: 0,
                index: 0,
                attrs: vec![nla_u32(DPIP_A_COUNT, *n)],
            }),
        };
        message(payload, if multi { NLM_F_MULTIPART } else { 0 }, seq)
    }

    fn decode(m: &DpipMessage) -> Result<Reply, ProtoError> {
        use RouteNetlinkMessage as R;
        Ok(match m {
            DpipMessage::Private(p) => match p.kind {
                DPIP_HELLO => Reply::Hello(hello_of(p)?),
                DPIP_NEWSTATS => Reply::Stats(WorkerStats::from_private(p)?),
                DPIP_FLUSH => Reply::Flushed(get_u32(&p.attrs, DPIP_A_COUNT).unwrap_or(0)),
                k => return Err(ProtoError::Unexpected(k)),
            },
            DpipMessage::Rt(R::NewLink(l)) => Reply::Link(Link::from_message(l)),
            DpipMessage::Rt(R::NewAddress(a)) => Reply::Addr(Addr::from_message(a)?),
            DpipMessage::Rt(R::NewRoute(r)) => Reply::Route(Route::from_message(r)),
            DpipMessage::Rt(R::NewNeighbour(n)) => Reply::Neigh(Neigh::from_message(n)?),
            DpipMessage::Rt(other) => return Err(ProtoError::Unexpected(other.message_type())),
        })
    }
}

/// The netlink messages of one datagram, each as its header and its bytes.
pub fn split(datagram: &[u8]) -> Vec<(NetlinkHeader, &[u8])> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= 16 {
        let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        if len < 16 || len > rest.len() {
            break;
        }
        let mut h = NetlinkHeader::default();
        h.length = len as u32;
        h.message_type = u16::from_ne_bytes([rest[4], rest[5]]);
        h.flags = u16::from_ne_bytes([rest[6], rest[7]]);
        h.sequence_number = u32::from_ne_bytes(rest[8..12].try_into().expect("4 bytes"));
        h.port_number = u32::from_ne_bytes(rest[12..16].try_into().expect("4 bytes"));
        out.push((h, &rest[..len]));
        let aligned = (len + 3) & !3;
        rest = &rest[aligned.min(rest.len())..];
    }
    out
}

/// An address or route change the kernel announces on rtnetlink (or lists in a dump), in
/// this crate's terms: what dpvsd learns from its `.kni` interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelChange {
    Addr { add: bool, addr: Addr },
    Route { add: bool, route: Route },
}

/// The address and route changes in a datagram from the kernel's rtnetlink, and whether it
/// ends a dump (NLMSG_DONE or NLMSG_ERROR). Other messages, and messages that do not decode,
/// are skipped.
pub fn kernel_changes(datagram: &[u8]) -> (Vec<KernelChange>, bool) {
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    let mut out = Vec::new();
    let mut end = false;
    for (h, bytes) in split(datagram) {
        if h.message_type == NLMSG_ERROR || h.message_type == NLMSG_DONE {
            end = true;
            continue;
        }
        let Ok(m) = RouteNetlinkMessage::deserialize(&h, &bytes[16..]) else { continue };
        use RouteNetlinkMessage as R;
        match &m {
            R::NewAddress(a) | R::DelAddress(a) => {
                if let Ok(addr) = Addr::from_message(a) {
                    out.push(KernelChange::Addr { add: matches!(m, R::NewAddress(_)), addr });
                }
            }
            R::NewRoute(r) | R::DelRoute(r) => {
                out.push(KernelChange::Route { add: matches!(m, R::NewRoute(_)), route: Route::from_message(r) });
            }
            _ => {}
        }
    }
    (out, end)
}

/// Decodes one whole netlink message (header included) into its payload.
pub fn decode_message(bytes: &[u8]) -> Result<NetlinkMessage<DpipMessage>, ProtoError> {
    NetlinkMessage::<DpipMessage>::deserialize(bytes).map_err(decode)
}

/// The ACK of a request whose header is `req`.
pub fn ack(req: &NetlinkHeader) -> Vec<u8> {
    error_message(req, 0, "")
}

/// NLMSG_ERROR with `-errno` and, when `msg` is not empty, NLMSGERR_ATTR_MSG.
pub fn error(req: &NetlinkHeader, errno: i32, msg: &str) -> Vec<u8> {
    error_message(req, errno, msg)
}

fn error_message(req: &NetlinkHeader, errno: i32, msg: &str) -> Vec<u8> {
    let mut body = vec![0u8; 16];
    req.emit(&mut body);
    // the request's header only (capped), then the extended ack
    let mut flags = NLM_F_CAPPED;
    if errno != 0 && !msg.is_empty() {
        flags |= NLM_F_ACK_TLVS;
        let nla = [nla_str(NLMSGERR_ATTR_MSG, msg)];
        let mut b = vec![0; nla.as_slice().buffer_len()];
        nla.as_slice().emit(&mut b);
        body.extend(b);
    }
    let mut e = ErrorMessage::default();
    e.code = std::num::NonZeroI32::new(-errno);
    e.header = body;
    let mut m = NetlinkMessage::<DpipMessage>::new(NetlinkHeader::default(), NetlinkPayload::Error(e));
    m.finalize();
    m.header.flags = flags;
    m.header.sequence_number = req.sequence_number;
    m.header.port_number = req.port_number;
    let mut b = vec![0; m.buffer_len()];
    m.serialize(&mut b);
    b
}

/// NLMSG_DONE ending the dump of sequence `seq`.
pub fn done(seq: u32) -> Vec<u8> {
    let mut m = NetlinkMessage::<DpipMessage>::new(NetlinkHeader::default(), NetlinkPayload::Done(DoneMessage::default()));
    m.finalize();
    m.header.flags = NLM_F_MULTIPART;
    m.header.sequence_number = seq;
    let mut b = vec![0; m.buffer_len()];
    m.serialize(&mut b);
    b
}

/// Reads one message of dpvsd's answer.
pub fn decode_answer(bytes: &[u8]) -> Result<(u32, Answer), ProtoError> {
    let (h, _) = split(bytes).into_iter().next().ok_or_else(|| ProtoError::Decode("short message".into()))?;
    let m = decode_message(bytes)?;
    let a = match &m.payload {
        NetlinkPayload::Done(_) => Answer::Done,
        NetlinkPayload::Error(e) if e.code.is_none() => Answer::Ack,
        NetlinkPayload::Error(e) => {
            let mut msg = String::new();
            if h.flags & NLM_F_ACK_TLVS != 0 && e.header.len() >= 16 {
                // capped: the request's header, then the extended ack attributes
                let skip = if h.flags & NLM_F_CAPPED != 0 {
                    16
                } else {
                    u32::from_ne_bytes(e.header[0..4].try_into().expect("4 bytes")) as usize
                };
                if let Ok(nlas) = parse_nlas(e.header.get(skip..).unwrap_or_default()) {
                    msg = get_str(&nlas, NLMSGERR_ATTR_MSG).unwrap_or_default();
                }
            }
            Answer::Error { errno: -e.raw_code(), msg }
        }
        NetlinkPayload::InnerMessage(x) => Answer::Reply(Reply::decode(x)?),
        _ => return Err(ProtoError::Unexpected(h.message_type)),
    };
    Ok((h.sequence_number, a))
}

#[cfg(test)]
mod tests;
