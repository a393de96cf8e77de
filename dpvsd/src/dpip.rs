//! dpip's socket: rtnetlink-shaped requests (crate `dpip-proto`, docs/DPIP-PROTOCOL.md)
//! answered from the DPDK dataplane's network state (`dataplane::control`).
//!
//! Interface indexes are DPDK port ids plus one (0 means "any" in rtnetlink). Every request
//! but the version handshake needs CAP_NET_ADMIN, as on the IPVS socket; without a dataplane
//! every such request is refused with ENODEV.

use std::collections::VecDeque;
use std::net::IpAddr;

use dpip_proto::{
    self as proto, Addr, FlushObject, Hello, Link, LinkStats, Neigh, Reply, Request, Route, WorkerStats,
};
use netlink_packet_core::{NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use tracing::debug;

use crate::dataplane::config::{NeighConfig, PortAddr, RouteConfig};
use crate::dataplane::control::NetError;
use crate::dataplane::Dataplane;
use crate::ipvs::Ipvs;

/// Dump answers are packed into datagrams of at most this many bytes.
const DUMP_DATAGRAM: usize = 16 * 1024;
/// The first message type that is a request (below are NOOP, ERROR, DONE, OVERRUN).
const NLMSG_MIN_TYPE: u16 = 0x10;

fn err(errno: i32, msg: impl Into<String>) -> NetError {
    NetError { errno, msg: msg.into() }
}

/// Answers every netlink message of `datagram` into `out` (one datagram per entry).
pub fn handle_datagram(ipvs: &mut Ipvs, datagram: &[u8], admin: bool, out: &mut VecDeque<Vec<u8>>) {
    for (h, bytes) in proto::split(datagram) {
        if h.flags & NLM_F_REQUEST == 0 || h.message_type < NLMSG_MIN_TYPE {
            if h.flags & NLM_F_ACK != 0 {
                out.push_back(proto::ack(&h));
            }
            continue;
        }
        match handle(ipvs, bytes, admin) {
            Ok(replies) if h.flags & NLM_F_DUMP == NLM_F_DUMP => {
                let mut d: Vec<u8> = Vec::new();
                for r in replies {
                    let m = r.encode(h.sequence_number, true);
                    if !d.is_empty() && d.len() + m.len() > DUMP_DATAGRAM {
                        out.push_back(std::mem::take(&mut d));
                    }
                    d.extend(m);
                }
                d.extend(proto::done(h.sequence_number));
                out.push_back(d);
            }
            Ok(replies) => {
                for r in replies {
                    out.push_back(r.encode(h.sequence_number, false));
                }
                if h.flags & NLM_F_ACK != 0 {
                    out.push_back(proto::ack(&h));
                }
            }
            Err(e) => {
                debug!(kind = h.message_type, errno = e.errno, "dpip request refused: {}", e.msg);
                out.push_back(proto::error(&h, e.errno, &e.msg));
            }
        }
    }
}

fn handle(ipvs: &mut Ipvs, bytes: &[u8], admin: bool) -> Result<Vec<Reply>, NetError> {
    let m = proto::decode_message(bytes).map_err(|e| err(libc::EINVAL, format!("{e}")))?;
    let NetlinkPayload::InnerMessage(payload) = &m.payload else {
        return Err(err(libc::EINVAL, "not a request"));
    };
    let req = Request::decode(payload).map_err(|e| match e {
        proto::ProtoError::Unexpected(k) => err(libc::EOPNOTSUPP, format!("message type {k} is not supported by dpvsd")),
        e => err(libc::EINVAL, format!("{e}")),
    })?;
    if let Request::Hello(hello) = &req {
        if hello.version != proto::VERSION {
            return Err(err(
                libc::EPROTONOSUPPORT,
                format!("dpip protocol version {} is not supported (dpvsd speaks {})", hello.version, proto::VERSION),
            ));
        }
        return Ok(vec![Reply::Hello(Hello {
            version: proto::VERSION,
            name: format!("dpvsd {}", env!("CARGO_PKG_VERSION")),
        })]);
    }
    if !admin {
        return Err(err(libc::EPERM, "dpip requests need CAP_NET_ADMIN"));
    }
    let Ipvs { state, dataplane, .. } = ipvs;
    let dp = dataplane
        .as_mut()
        .and_then(|d| d.net())
        .ok_or_else(|| err(libc::ENODEV, "dpvsd runs without a dataplane"))?;
    serve(dp, state, req)
}

fn port_name(dp: &Dataplane, index: u32, what: &str) -> Result<String, NetError> {
    index
        .checked_sub(1)
        .and_then(|i| u16::try_from(i).ok())
        .and_then(|i| dp.port_name(i))
        .map(str::to_string)
        .ok_or_else(|| {
            if index == 0 {
                err(libc::ENODEV, format!("{what}: needs `dev PORT`"))
            } else {
                err(libc::ENODEV, format!("{what}: no port with index {index}"))
            }
        })
}

fn index_of(port: u16) -> u32 {
    u32::from(port) + 1
}

fn family_matches(f: u8, a: IpAddr) -> bool {
    proto::family_of(f).is_none_or(|v6| a.is_ipv6() == v6)
}

/// The network of `a/len`.
fn network(a: IpAddr, len: u8) -> IpAddr {
    match a {
        IpAddr::V4(v) => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
            IpAddr::V4((u32::from(v) & m).into())
        }
        IpAddr::V6(v) => {
            let m = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len.min(128))) };
            IpAddr::V6((u128::from(v) & m).into())
        }
    }
}

/// The routes as rtnetlink describes them: local routes in table local, the routes of an
/// address's prefix as `proto kernel`, the configured ones as `proto boot` (what `ip route
/// add` gives).
fn routes(dp: &Dataplane) -> Vec<Route> {
    let addrs = dp.addrs();
    dp.routes()
        .into_iter()
        .map(|r| {
            let connected = !r.local
                && r.via.is_none()
                && addrs.iter().any(|a| a.port == r.port && a.addr.len == r.len && network(a.addr.addr, a.addr.len) == r.prefix);
            Route {
                dst: r.prefix,
                len: r.len,
                gateway: r.via,
                oif: index_of(r.port),
                // the kernel's local routes name their address as the source
                prefsrc: r.src.or(r.local.then_some(r.prefix)),
                metric: (r.metric != 0).then_some(r.metric),
                // the kernel's IPv6 routes are all scope universe but the local ones
                scope: match r.scope {
                    "host" => proto::RT_SCOPE_HOST,
                    "link" if r.prefix.is_ipv4() => proto::RT_SCOPE_LINK,
                    _ => proto::RT_SCOPE_UNIVERSE,
                },
                table: if r.local { proto::RT_TABLE_LOCAL } else { proto::RT_TABLE_MAIN },
                protocol: if r.local || connected { proto::RTPROT_KERNEL } else { proto::RTPROT_BOOT },
                kind: if r.local { proto::RTN_LOCAL } else { proto::RTN_UNICAST },
            }
        })
        .collect()
}

fn serve(dp: &mut Dataplane, state: &crate::ipvs::state::IpvsState, req: Request) -> Result<Vec<Reply>, NetError> {
    Ok(match req {
        Request::Hello(_) => unreachable!("answered before"),
        Request::GetLinks => dp
            .links()
            .into_iter()
            .map(|l| {
                Reply::Link(Link {
                    index: index_of(l.index),
                    name: l.name,
                    mac: l.mac.0,
                    mtu: u32::from(l.mtu),
                    up: l.up,
                    carrier: l.carrier,
                    promisc: l.promisc,
                    speed_mbps: l.speed_mbps,
                    queues: u32::from(l.queues),
                    stats: LinkStats {
                        rx_packets: l.stats.ipackets,
                        tx_packets: l.stats.opackets,
                        rx_bytes: l.stats.ibytes,
                        tx_bytes: l.stats.obytes,
                        rx_errors: l.stats.ierrors,
                        tx_errors: l.stats.oerrors,
                        rx_dropped: l.stats.rx_nombuf,
                        rx_missed: l.stats.imissed,
                    },
                })
            })
            .collect(),
        Request::SetLink(c) => {
            let name = port_name(dp, c.index, "link")?;
            let mtu = c
                .mtu
                .map(|m| u16::try_from(m).map_err(|_| err(libc::EINVAL, format!("link {name}: mtu {m} must be 576..9000"))))
                .transpose()?;
            dp.set_link(&name, c.up, mtu)?;
            Vec::new()
        }
        Request::GetAddrs(f) => dp
            .addrs()
            .into_iter()
            .filter(|a| family_matches(f, a.addr.addr))
            .map(|a| {
                Reply::Addr(Addr {
                    index: index_of(a.port),
                    addr: a.addr.addr,
                    len: a.addr.len,
                    scope: proto::RT_SCOPE_UNIVERSE,
                    sapool: a.addr.sapool,
                })
            })
            .collect(),
        Request::AddAddr(a) => {
            let name = port_name(dp, a.index, &format!("addr {}/{}", a.addr, a.len))?;
            let max = if a.addr.is_ipv4() { 32 } else { 128 };
            if a.len > max {
                return Err(err(libc::EINVAL, format!("addr {}/{}: prefix length must be 0..{max}", a.addr, a.len)));
            }
            dp.add_addr(&name, PortAddr { addr: a.addr, len: a.len, sapool: a.sapool }, state)?;
            Vec::new()
        }
        Request::DelAddr(a) => {
            let port = if a.index == 0 { None } else { Some(port_name(dp, a.index, &format!("addr {}", a.addr))?) };
            dp.del_addr(port.as_deref(), a.addr, (a.len != 0).then_some(a.len), state)?;
            Vec::new()
        }
        Request::GetRoutes(f) => routes(dp).into_iter().filter(|r| family_matches(f, r.dst)).map(Reply::Route).collect(),
        Request::AddRoute(r) => {
            let what = format!("route {}/{}", r.dst, r.len);
            let dev = port_name(dp, r.oif, &what)?;
            if network(r.dst, r.len) != r.dst {
                return Err(err(libc::EINVAL, format!("{what}: host bits set beyond the prefix length")));
            }
            let scope = if r.gateway.is_some() { proto::RT_SCOPE_UNIVERSE } else { proto::RT_SCOPE_LINK };
            // IPv6 routes have no scope in the kernel (ip sends link without a gateway)
            if r.scope != scope && !(r.dst.is_ipv6() && r.scope == proto::RT_SCOPE_UNIVERSE) {
                return Err(err(
                    libc::EINVAL,
                    format!("{what}: scope {}: dpvsd's routes are scope link without a gateway, global with one", r.scope),
                ));
            }
            if r.kind != proto::RTN_UNICAST || r.table != proto::RT_TABLE_MAIN {
                return Err(err(libc::EOPNOTSUPP, format!("{what}: only unicast routes of the main table")));
            }
            for (w, x) in [("via", r.gateway), ("src", r.prefsrc)] {
                if x.is_some_and(|x| x.is_ipv4() != r.dst.is_ipv4()) {
                    return Err(err(libc::EINVAL, format!("{what}: {w} is not of the route's family")));
                }
            }
            let cfg = RouteConfig {
                prefix: r.dst,
                len: r.len,
                via: r.gateway,
                dev,
                src: r.prefsrc,
                metric: r.metric.unwrap_or(0),
            };
            dp.add_route(cfg, state)?;
            Vec::new()
        }
        Request::DelRoute(r) => {
            dp.del_route(r.dst, r.len, r.metric, state)?;
            Vec::new()
        }
        Request::GetNeighs(f) => dp
            .neighbours()
            .into_iter()
            .filter(|n| family_matches(f, n.addr))
            .map(|n| {
                let state = match n.state {
                    "INCOMPLETE" => proto::NUD_INCOMPLETE,
                    "REACHABLE" => proto::NUD_REACHABLE,
                    "STALE" => proto::NUD_STALE,
                    _ => proto::NUD_PERMANENT,
                };
                Reply::Neigh(Neigh {
                    index: index_of(n.port),
                    addr: n.addr,
                    lladdr: (state != proto::NUD_INCOMPLETE).then_some(n.mac.0),
                    state,
                })
            })
            .collect(),
        Request::AddNeigh(n) => {
            let what = format!("neigh {}", n.addr);
            let dev = port_name(dp, n.index, &what)?;
            let mac = n.lladdr.ok_or_else(|| err(libc::EINVAL, format!("{what}: needs `lladdr MAC`")))?;
            dp.add_neigh(NeighConfig { addr: n.addr, mac: dpvs_wire::EthernetAddress(mac), dev })?;
            Vec::new()
        }
        Request::DelNeigh(n) => {
            dp.del_neigh(n.addr)?;
            Vec::new()
        }
        Request::Flush(f) => {
            let port = if f.index == 0 { None } else { Some(port_name(dp, f.index, "flush")?) };
            let v6 = proto::family_of(f.family);
            let n = match f.object {
                FlushObject::Addr => dp.flush_addrs(port.as_deref(), v6, state)?,
                FlushObject::Neigh => dp.flush_neigh(port.as_deref())?,
                FlushObject::Route if f.index == 0 => dp.flush_routes(v6, state)?,
                FlushObject::Route => {
                    // the configured routes through one port
                    let gone: Vec<Route> = routes(dp)
                        .into_iter()
                        .filter(|r| r.oif == f.index && r.protocol == proto::RTPROT_BOOT && family_matches(f.family, r.dst))
                        .collect();
                    for r in &gone {
                        dp.del_route(r.dst, r.len, Some(r.metric.unwrap_or(0)), state)?;
                    }
                    gone.len()
                }
            };
            vec![Reply::Flushed(u32::try_from(n).unwrap_or(u32::MAX))]
        }
        Request::GetStats => dp
            .worker_stats()
            .into_iter()
            .map(|w| {
                Reply::Stats(WorkerStats {
                    worker: u32::from(w.worker),
                    rx: w.rx,
                    forwarded: w.forwarded,
                    local_replies: w.local_replies,
                    to_kernel: w.to_kernel,
                    connections: w.connections,
                    drops: w.drops.into_iter().map(|(n, c)| (n.to_string(), c)).collect(),
                })
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(out: &VecDeque<Vec<u8>>) -> Vec<proto::Answer> {
        out.iter().flat_map(|d| proto::split(d).into_iter().map(|(_, b)| proto::decode_answer(b).unwrap().1)).collect()
    }

    #[test]
    fn without_a_dataplane_everything_but_hello_is_enodev() {
        let mut ipvs = Ipvs::ephemeral(4096);
        let mut out = VecDeque::new();
        let mut d = Request::Hello(Hello { version: proto::VERSION, name: "dpip".into() }).encode(1);
        d.extend(Request::GetLinks.encode(2));
        d.extend(Request::GetStats.encode(3));
        handle_datagram(&mut ipvs, &d, true, &mut out);
        let a = answers(&out);
        assert!(matches!(&a[0], proto::Answer::Reply(Reply::Hello(h)) if h.version == proto::VERSION && h.name.starts_with("dpvsd ")));
        let enodev = proto::Answer::Error { errno: libc::ENODEV, msg: "dpvsd runs without a dataplane".into() };
        assert_eq!(a[1..], [enodev.clone(), enodev]);
    }

    #[test]
    fn without_cap_net_admin_eperm_and_versions_are_checked() {
        let mut ipvs = Ipvs::ephemeral(4096);
        let mut out = VecDeque::new();
        let mut d = Request::GetRoutes(0).encode(1);
        d.extend(Request::Hello(Hello { version: 99, name: "dpip".into() }).encode(2));
        handle_datagram(&mut ipvs, &d, false, &mut out);
        let a = answers(&out);
        assert_eq!(a[0], proto::Answer::Error { errno: libc::EPERM, msg: "dpip requests need CAP_NET_ADMIN".into() });
        assert!(matches!(&a[1], proto::Answer::Error { errno, .. } if *errno == libc::EPROTONOSUPPORT));
    }

    #[test]
    fn garbage_is_refused_not_fatal() {
        let mut ipvs = Ipvs::ephemeral(4096);
        let mut out = VecDeque::new();
        // a request of an unknown type, then a truncated RTM_NEWADDR
        let mut d = vec![16u8, 0, 0, 0, 0x99, 0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        d.extend([20u8, 0, 0, 0, 20, 0, 5, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 24, 0, 0]);
        handle_datagram(&mut ipvs, &d, true, &mut out);
        let a = answers(&out);
        assert_eq!(a.len(), 2);
        assert!(a.iter().all(|x| matches!(x, proto::Answer::Error { .. })), "{a:?}");
    }

    proptest::proptest! {
        /// Garbage gets answers (or nothing), never a panic; every message of a valid
        /// request whose bytes were damaged gets exactly one answer.
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), admin in proptest::prelude::any::<bool>()) {
            let mut ipvs = Ipvs::ephemeral(4096);
            let mut out = VecDeque::new();
            handle_datagram(&mut ipvs, &bytes, admin, &mut out);
            for d in &out {
                for (_, m) in proto::split(d) {
                    proptest::prop_assert!(proto::decode_answer(m).is_ok());
                }
            }
        }
    }

    #[test]
    fn networks() {
        assert_eq!(network("10.90.1.7".parse().unwrap(), 24), "10.90.1.0".parse::<IpAddr>().unwrap());
        assert_eq!(network("fd00::7".parse().unwrap(), 64), "fd00::".parse::<IpAddr>().unwrap());
        assert_eq!(network("10.90.1.7".parse().unwrap(), 0), "0.0.0.0".parse::<IpAddr>().unwrap());
    }
}
