//! The per-worker packet pipeline: one call per received frame, from raw Ethernet bytes to a
//! verdict and a rewritten frame.
//!
//! [`Pipeline::process`] is what a DPDK worker calls for every frame of an rx burst:
//!
//! 1. **Parse** Ethernet (one optional 802.1Q tag) and IPv4/IPv6 (untagged IPv4 without
//!    options at fixed offsets, everything else with the forwarding methods' own parser,
//!    which gives the same answers): a truncated header or a length past the frame is
//!    [`XmitDrop::Truncated`], a wrong IPv4 header checksum [`XmitDrop::BadChecksum`] (as
//!    `ip_rcv`), an IPv4/IPv6 fragment [`XmitDrop::Fragment`] when it is addressed to a VIP
//!    (this dataplane does not reassemble; fragments for other addresses go to the kernel). A
//!    frame that is not IP (ARP, LLDP, 802.1ad) is [`Verdict::ToKernel`]. IPv4 options and
//!    IPv6 hop-by-hop/destination options are carried as they are.
//! 2. **Upper layer**: TCP and UDP ports and TCP flags; ICMP/ICMPv6 echo (the identifier
//!    plays the client port); ICMP errors. Any other protocol is for the kernel.
//! 3. **Classify**, in the kernel's order:
//!    - client → VIP: a service matches (`fwmark` first, as `ip_vs_service_find`) or an in
//!      connection exists → [`Worker::process_in`] (lookup, or schedule and create; state
//!      transition; statistics; timer);
//!    - a reply of a known connection (NAT: to the client; full-NAT: to LIP:lport) →
//!      [`Worker::process_out`];
//!    - an ICMP error quoting a packet of a known connection (either side) → translated by
//!      the connection's method (outer and quoted headers), no state change;
//!    - an ICMP echo request to a VIP with no ICMP service → [`Verdict::LocalReply`] (the
//!      frame is turned into the echo reply in place) when [`PipelineConfig::echo_reply`];
//!    - anything else → [`Verdict::ToKernel`] (the exception path).
//! 4. **Transmit** with the connection's method ([`xmit::transmit`]): NAT, DR, tunnel (the
//!    encapsulation of [`PipelineConfig::tunnel`]) or full-NAT, towards the next hop the
//!    caller's [`Router`] gives for the real server (in) or the client (out). The common case,
//!    NAT or full-NAT of an untagged option-less IPv4 TCP/UDP frame, goes straight to the
//!    transforms' IPv4 rewrite (`xmit::rewrite4`, the one [`xmit::nat::xmit`] /
//!    [`xmit::fullnat::xmit`] use for every IPv4 TCP/UDP packet) with the connection's
//!    endpoints as stored, without parsing the frame a second time or building a [`Flow`] (a
//!    property test checks the bytes against the transforms'); what it does not take (MTU,
//!    TTL, MSS clamping of SYNs) goes through the transforms' checks.
//!
//! Every verdict is counted ([`PipelineCounters`]): drops decided by the connection layer in
//! the worker's [`DropCounters`](crate::drop::DropCounters), the transforms' and the parser's
//! by [`XmitDrop`] reason here, so that `rx == forwarded + to_kernel + local_reply + drops`
//! always holds ([`Pipeline::check_counters`]).
//!
//! Nothing allocates per packet and time is the `now_ms` argument. A packet with TTL ≤ 1 that
//! would be forwarded under [`TtlPolicy::Decrement`] is dropped ([`XmitDrop::TtlExpired`])
//! before a connection is created or moved for it; under [`TtlPolicy::Keep`] (DPVS's default)
//! the TTL is not looked at.
//!
//! Full-NAT with [`PipelineConfig::toa`]: the client's handshake-completing ACK carries
//! DPVS's TOA option ([`xmit::fullnat::insert_toa`]) with the client's address and port.
//!
//! Not done here: DPVS's SYN proxy, the ICMP errors the caller may send for `TtlExpired` and
//! `FragNeeded`, and the hand-off of packets that reach a worker other than the
//! connection's owner (the architecture's per-pair rings).
//!
//! One-packet UDP services (`ipvsadm -o`): every datagram is scheduled on its own. Under NAT
//! and full-NAT it leaves a short-lived entry in the out index only (see
//! [`OnePacket`]): full-NAT takes a local address and port from
//! the hooks for it, the real server's reply is translated back to the client like any
//! connection's, and the entry and its port go [`WorkerConfig::one_packet_timeout_ms`]
//! later. Neither the kernel (which leaves NAT replies to conntrack) nor DPVS (which frees
//! the connection and its local port at once) translates such replies itself.
//!
//! ICMP echo through a service: DPVS balances ICMP by a service of protocol ICMP (1, or 58
//! for ICMPv6) and port 0 (`icmp_conn_sched` looks the service up with port 0). Here the
//! request is keyed `(identifier, 0)` and the reply `(0, identifier)`, so both directions meet
//! the same connection and the worker's port-zero rule accepts the service. Under full-NAT
//! the identifier is translated like a client port: the request leaves with the connection's
//! local port as its identifier, the real server's reply to `LIP`/that identifier is matched
//! by the connection's out key, and leaves towards the client with the client's identifier
//! (see [`xmit::fullnat`]); two clients pinging with the same identifier get two local ports.
//!
//! [`which_real_server`] and [`Simulator`] answer "which real server gets this packet" by
//! running a probe through the same code (Katran's `KatranSimulator`).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::collections::VecDeque;
use std::ops::RangeInclusive;

use dpvs_wire::ethernet::{EthernetRepr, Frame};
use dpvs_wire::{checksum, icmpv4, icmpv6, ipv4, ipv6, tcp, udp, EtherType, EthernetAddress};
use dpvs_wire::{Error as WireError, IpProtocol};

use crate::addr;
use crate::conn::{Conn, ConnKey, ConnRef};
use crate::drop::DropReason;
use crate::proto::TcpFlags;
use crate::service::{DestId, FwdMethod, Service, Snapshot};
use crate::worker::{ConnHooks, OnePacket, Packet, Scheduled, Worker, WorkerConfig};
use crate::xmit::tunnel::{Tunnel, TunnelKind};
use crate::xmit::{
    self, Direction, Egress, Endpoint, Family, Flow, Method, PacketBuf, Rewrite4, SliceBuf,
    TtlPolicy, XmitDrop,
};

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;

/// Where a forwarded frame leaves: the route and neighbour lookups' answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NextHop {
    /// Egress port (DPDK port id).
    pub port: u16,
    /// Our MAC on that port.
    pub src_mac: EthernetAddress,
    /// The next hop's MAC.
    pub dst_mac: EthernetAddress,
    /// Route MTU.
    pub mtu: u16,
}

/// The route + neighbour lookup the pipeline asks for every forwarded packet. `NextHop`
/// itself is a router that sends everything to one next hop.
pub trait Router {
    /// The next hop towards `dst` (the real server, or the client for replies); `None`: no
    /// route or no neighbour entry (the packet is dropped as [`PacketDrop::NoRoute`]).
    fn route(&mut self, dst: IpAddr) -> Option<NextHop>;
}

impl Router for NextHop {
    #[inline]
    fn route(&mut self, _dst: IpAddr) -> Option<NextHop> {
        Some(*self)
    }
}

/// Why the pipeline dropped a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketDrop {
    /// The connection layer refused it (counted in the worker's drop counters).
    Core(DropReason),
    /// The parser or the forwarding method refused it (counted by reason in
    /// [`PipelineCounters::xmit_drops`]).
    Xmit(XmitDrop),
    /// The [`Router`] had no next hop.
    NoRoute,
}

impl PacketDrop {
    /// A short stable name for counters.
    pub fn name(&self) -> &'static str {
        match self {
            PacketDrop::Core(r) => r.name(),
            PacketDrop::Xmit(x) => x.name(),
            PacketDrop::NoRoute => "no-route",
        }
    }
}

/// What to do with the frame after [`Pipeline::process`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send the rewritten frame (the buffer's data, `len` bytes) out of `port`.
    Forward {
        /// Egress port from the [`Router`].
        port: u16,
        /// Frame length.
        len: usize,
    },
    /// Not ours (ARP, traffic for the host's own addresses, unknown protocols): pass the
    /// frame, unchanged, to the kernel exception path.
    ToKernel,
    /// The frame was turned into an answer (ICMP echo reply from a VIP): send it back out of
    /// the port it came in on.
    LocalReply {
        /// Frame length.
        len: usize,
    },
    /// Drop the frame (already counted).
    Drop(PacketDrop),
}

/// The tunnel encapsulation for dests whose method is tunnelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelConfig {
    /// IP-in-IP, GUE or GRE.
    pub kind: TunnelKind,
    /// Outer checksum (GUE, GRE).
    pub csum: bool,
    /// Outer source towards IPv4 real servers.
    pub src4: Option<Ipv4Addr>,
    /// Outer source towards IPv6 real servers.
    pub src6: Option<Ipv6Addr>,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            kind: TunnelKind::Ipip,
            csum: false,
            src4: None,
            src6: None,
        }
    }
}

/// Parameters of a [`Pipeline`].
#[derive(Clone, Copy, Debug, Default)]
pub struct PipelineConfig {
    /// The worker (connection table size, scheduler state parameters).
    pub worker: WorkerConfig,
    /// TTL handling of forwarded packets (the kernel decrements; DPVS's default keeps).
    pub ttl: TtlPolicy,
    /// Tunnel encapsulation.
    pub tunnel: TunnelConfig,
    /// Full-NAT: clamp the MSS of SYNs in both directions to this value.
    pub mss_clamp: Option<u16>,
    /// Answer ICMP echo requests to a VIP that no ICMP service balances.
    pub echo_reply: bool,
    /// Full-NAT: put DPVS's TOA option (the client's address and port, for the real
    /// server's `toa` module) into the client's handshake-completing ACK.
    pub toa: bool,
}

/// The pipeline's own counters (the worker keeps the connection layer's drops and the
/// service/dest traffic counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipelineCounters {
    /// Frames processed.
    pub rx: u64,
    /// Frames forwarded.
    pub forwarded: u64,
    /// Frames passed to the kernel.
    pub to_kernel: u64,
    /// Frames answered locally.
    pub local_reply: u64,
    /// Drops by [`XmitDrop::index`].
    pub xmit_drops: [u64; XmitDrop::COUNT],
    /// Drops for want of a route.
    pub no_route: u64,
}

/// One worker's packet pipeline (see the module documentation).
#[derive(Clone, Debug)]
pub struct Pipeline {
    worker: Worker,
    cfg: PipelineConfig,
    /// Every VIP of a tuple service, sorted: `(v6, address bits)`.
    vips: Vec<(bool, u128)>,
    /// Every tuple service key, sorted: `(v6, VIP bits, protocol, port)`, with the
    /// service's index. A binary search here is cheaper than the snapshot's hash map for the
    /// few services a node has, and its answer saves the worker that lookup.
    tuples: Vec<((bool, u128, u8, u16), u32)>,
    counters: PipelineCounters,
    ident: u16,
}

/// What the upper layer says about a packet.
#[derive(Clone, Copy)]
enum L4 {
    /// TCP, UDP: a connection packet.
    Ports {
        sport: u16,
        dport: u16,
        flags: TcpFlags,
    },
    /// ICMP echo request.
    EchoRequest { ident: u16 },
    /// ICMP echo reply.
    EchoReply { ident: u16 },
    /// An ICMP error quoting `(protocol, quoted src, quoted sport, quoted dst, quoted dport)`.
    Error {
        protocol: u8,
        src: u128,
        sport: u16,
        dst: u128,
        dport: u16,
    },
    /// Not for the connection table.
    Other,
}

fn wire_drop(e: WireError) -> XmitDrop {
    XmitDrop::from(e)
}

impl Pipeline {
    /// A pipeline on snapshot `snap`, its table started at `now_ms` (allocates the table).
    pub fn new(cfg: PipelineConfig, snap: &Snapshot, now_ms: u64) -> Pipeline {
        Pipeline {
            worker: Worker::new(cfg.worker, snap, now_ms),
            cfg,
            vips: vips_of(snap),
            tuples: tuples_of(snap),
            counters: PipelineCounters::default(),
            ident: 0,
        }
    }

    /// The worker (connection table, counters).
    #[inline]
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// The configuration.
    pub fn config(&self) -> &PipelineConfig {
        &self.cfg
    }

    /// The pipeline's counters.
    #[inline]
    pub fn counters(&self) -> &PipelineCounters {
        &self.counters
    }

    /// All drops: the worker's and the pipeline's.
    pub fn total_drops(&self) -> u64 {
        self.worker.drops().total()
            + self.counters.xmit_drops.iter().sum::<u64>()
            + self.counters.no_route
    }

    /// Checks `rx == forwarded + to_kernel + local_reply + drops`; `Err` with both sides.
    pub fn check_counters(&self) -> Result<(), (u64, u64)> {
        let c = &self.counters;
        let out = c.forwarded + c.to_kernel + c.local_reply + self.total_drops();
        if out == c.rx {
            Ok(())
        } else {
            Err((c.rx, out))
        }
    }

    /// Moves to snapshot `new` from `old` ([`Worker::apply_snapshot`]); allocates.
    pub fn apply_snapshot(&mut self, old: &Snapshot, new: &Snapshot) {
        self.worker.apply_snapshot(old, new);
        self.vips = vips_of(new);
        self.tuples = tuples_of(new);
    }

    /// Runs at most `max` due connection timers ([`Worker::expire_some`]).
    pub fn expire<H: ConnHooks>(
        &mut self,
        snap: &Snapshot,
        now_ms: u64,
        max: usize,
        hooks: &mut H,
    ) -> usize {
        self.worker.expire_some(snap, now_ms, max, hooks)
    }

    #[inline]
    fn is_vip(&self, v6: bool, a: u128) -> bool {
        self.vips.binary_search(&(v6, a)).is_ok()
    }

    /// The service `snap.find` finds for this unmarked packet (the exact tuple, or the
    /// port-zero service of its VIP).
    #[inline]
    fn tuple_service(&self, v6: bool, protocol: u8, addr: u128, port: u16) -> Option<u32> {
        let t = &self.tuples;
        let find = |port: u16| {
            t.binary_search_by(|e| e.0.cmp(&(v6, addr, protocol, port)))
                .ok()
                .map(|i| t[i].1)
        };
        find(port).or_else(|| if port != 0 { find(0) } else { None })
    }

    /// Processes one received frame (see the module documentation). `fwmark` is the mark the
    /// classifier gave the frame (0: none); `router` resolves next hops; `hooks` gives
    /// full-NAT local addresses and learns of freed connections.
    pub fn process<B, R, H>(
        &mut self,
        snap: &Snapshot,
        buf: &mut B,
        now_ms: u64,
        fwmark: u32,
        router: &mut R,
        hooks: &mut H,
    ) -> Verdict
    where
        B: PacketBuf + ?Sized,
        R: Router + ?Sized,
        H: ConnHooks,
    {
        let v = self.process_inner(snap, buf, now_ms, fwmark, router, hooks);
        let c = &mut self.counters;
        c.rx += 1;
        match v {
            Verdict::Forward { .. } => c.forwarded += 1,
            Verdict::ToKernel => c.to_kernel += 1,
            Verdict::LocalReply { .. } => c.local_reply += 1,
            // counted by the worker
            Verdict::Drop(PacketDrop::Core(_)) => {}
            Verdict::Drop(PacketDrop::Xmit(x)) => c.xmit_drops[x.index()] += 1,
            Verdict::Drop(PacketDrop::NoRoute) => c.no_route += 1,
        }
        v
    }

    #[inline]
    fn process_inner<B, R, H>(
        &mut self,
        snap: &Snapshot,
        buf: &mut B,
        now_ms: u64,
        fwmark: u32,
        router: &mut R,
        hooks: &mut H,
    ) -> Verdict
    where
        B: PacketBuf + ?Sized,
        R: Router + ?Sized,
        H: ConnHooks,
    {
        let frame = buf.data();
        let (p, saddr, daddr, fast) = match parse_fast(frame) {
            Some((p, s, d)) => (p, s, d, true),
            None => match parse_slow(frame) {
                Ok((p, s, d)) => (p, s, d, false),
                Err(XmitDrop::Fragment) => {
                    return match dst_of(frame) {
                        Some((v6, a)) if self.is_vip(v6, a) => {
                            Verdict::Drop(PacketDrop::Xmit(XmitDrop::Fragment))
                        }
                        _ => Verdict::ToKernel,
                    };
                }
                // not IP, 802.1ad, an IPv6 routing header: the kernel's business
                Err(XmitDrop::Unsupported) => return Verdict::ToKernel,
                Err(e) => return Verdict::Drop(PacketDrop::Xmit(e)),
            },
        };
        let v6 = p.family == Family::V6;
        let l4 = &frame[p.l4_start()..p.l2_len + p.ip_len];
        let protocol = p.proto.0;
        let upper = match upper_layer(protocol, v6, l4) {
            Ok(u) => u,
            Err(e) => return Verdict::Drop(PacketDrop::Xmit(e)),
        };
        let mut pkt = Packet {
            protocol,
            v6,
            saddr,
            sport: 0,
            daddr,
            dport: 0,
            tcp_flags: TcpFlags::NONE,
            fwmark,
            len: p.ip_len as u32,
        };
        let ttl_expires = self.cfg.ttl == TtlPolicy::Decrement && p.ttl <= 1;
        // the common frame goes to the IPv4 rewrite directly (see `nat4_fast`)
        let fast = match upper {
            L4::Ports { flags, .. } if fast && (self.cfg.mss_clamp.is_none() || !flags.syn()) => {
                Some(p)
            }
            _ => None,
        };
        match upper {
            L4::Ports {
                sport,
                dport,
                flags,
            } => {
                pkt.sport = sport;
                pkt.dport = dport;
                pkt.tcp_flags = flags;
            }
            L4::EchoRequest { ident } => {
                pkt.sport = ident;
            }
            L4::EchoReply { ident } => {
                pkt.dport = ident;
            }
            L4::Error {
                protocol,
                src,
                sport,
                dst,
                dport,
            } => {
                // the quoted packet, reversed: what the connection's keys hold
                let key = ConnKey {
                    protocol,
                    v6,
                    src: dst,
                    sport: dport,
                    dst: src,
                    dport: sport,
                };
                let t = self.worker.table();
                let (c, dir) = if let Some(c) = t.lookup_out(&key) {
                    (c, Direction::Out)
                } else if let Some(c) = t.lookup_in(&key) {
                    (c, Direction::In)
                } else {
                    return Verdict::ToKernel;
                };
                return self.transmit_conn(c, dir, buf, router, None);
            }
            L4::Other => return Verdict::ToKernel,
        }

        // client -> VIP
        if !matches!(upper, L4::EchoReply { .. }) {
            // ours if a service matches (process_in then looks the connection up) or a
            // connection of a service that left exists; the cheap checks first
            let svc = if fwmark == 0 {
                self.tuple_service(v6, protocol, daddr, pkt.dport)
            } else {
                snap.find(v6, fwmark, protocol, daddr, pkt.dport)
            };
            let ours = svc.is_some()
                || ((fwmark != 0 || self.is_vip(v6, daddr))
                    && self.worker.table().lookup_in(&pkt.key()).is_some());
            if ours {
                if ttl_expires {
                    return Verdict::Drop(PacketDrop::Xmit(XmitDrop::TtlExpired));
                }
                return match self.worker.process_in_svc(snap, &pkt, svc, now_ms, hooks) {
                    Err(e) => Verdict::Drop(PacketDrop::Core(e)),
                    Ok(Scheduled::Conn(c)) => {
                        if self.cfg.toa && self.worker.just_established() {
                            let conn = self.worker.table().get(c);
                            if conn.fwd() == FwdMethod::FullNat {
                                // as DPVS: a segment without room goes without the option;
                                // the transform checks the grown packet against the MTU
                                let client = Endpoint::new(conn.caddr(), conn.cport());
                                if xmit::fullnat::insert_toa(buf, client, u16::MAX).is_ok() {
                                    return self.transmit_conn(c, Direction::In, buf, router, None);
                                }
                            }
                        }
                        self.transmit_conn(c, Direction::In, buf, router, fast)
                    }
                    Ok(Scheduled::OnePacket(op)) => self.transmit_one(&pkt, &op, buf, router, fast),
                };
            }
        }
        if let L4::EchoRequest { .. } = upper {
            if self.cfg.echo_reply && self.is_vip(v6, daddr) {
                return echo_reply(buf.data_mut(), &p);
            }
            return Verdict::ToKernel;
        }

        // a reply of a known connection
        if ttl_expires {
            if self.worker.table().lookup_out(&pkt.key()).is_some() {
                return Verdict::Drop(PacketDrop::Xmit(XmitDrop::TtlExpired));
            }
            return Verdict::ToKernel;
        }
        match self.worker.process_out(snap, &pkt, now_ms) {
            Some(c) => self.transmit_conn(c, Direction::Out, buf, router, fast),
            None => Verdict::ToKernel,
        }
    }

    fn next_ident(&mut self) -> u16 {
        self.ident = self.ident.wrapping_add(1);
        self.ident
    }

    /// The transform for a dest's forwarding method, or the verdict when there is none: the
    /// kernel's business (local, bypass), or a tunnel without a source address.
    #[inline]
    fn method(&mut self, fwd: FwdMethod, flow: &Flow) -> Result<Method, Verdict> {
        Ok(match fwd {
            FwdMethod::Masq => Method::Nat,
            FwdMethod::FullNat => Method::FullNat {
                mss_clamp: self.cfg.mss_clamp,
            },
            FwdMethod::DirectRoute => Method::DirectRoute,
            FwdMethod::Tunnel => {
                let t = &self.cfg.tunnel;
                let src = match flow.real.addr {
                    IpAddr::V4(_) => t.src4.map(IpAddr::V4),
                    IpAddr::V6(_) => t.src6.map(IpAddr::V6),
                };
                let Some(src) = src else {
                    return Err(Verdict::Drop(PacketDrop::Xmit(XmitDrop::Unsupported)));
                };
                Method::Tunnel(Tunnel {
                    kind: t.kind,
                    csum: t.csum,
                    src,
                    ident: self.next_ident(),
                    // computed here only: reading the client address back right after
                    // building the flow stalls on store forwarding
                    entropy: entropy_of(flow.client.port, flow.vip.port, flow.client.addr),
                })
            }
            FwdMethod::Local | FwdMethod::Bypass => return Err(Verdict::ToKernel),
        })
    }

    #[inline]
    fn transmit_conn<B, R>(
        &mut self,
        c: ConnRef,
        dir: Direction,
        buf: &mut B,
        router: &mut R,
        fast: Option<xmit::Parsed>,
    ) -> Verdict
    where
        B: PacketBuf + ?Sized,
        R: Router + ?Sized,
    {
        let conn = self.worker.table().get(c);
        if let Some(p) = fast {
            if let Some((src, dst, to)) = fast_translation(conn, dir) {
                let Some(hop) = router.route(to) else {
                    return Verdict::Drop(PacketDrop::NoRoute);
                };
                let egress = Egress {
                    src_mac: hop.src_mac,
                    dst_mac: hop.dst_mac,
                    mtu: hop.mtu,
                    ttl: self.cfg.ttl,
                };
                if let Some(len) = nat4_fast(buf.data_mut(), &p, src, dst, &egress) {
                    return Verdict::Forward {
                        port: hop.port,
                        len,
                    };
                }
            }
        }
        let (flow, fwd) = (flow_of(conn), conn.fwd());
        self.transmit(fwd, &flow, dir, buf, router)
    }

    fn transmit_one<B, R>(
        &mut self,
        pkt: &Packet,
        op: &OnePacket,
        buf: &mut B,
        router: &mut R,
        fast: Option<xmit::Parsed>,
    ) -> Verdict
    where
        B: PacketBuf + ?Sized,
        R: Router + ?Sized,
    {
        // NAT, full-NAT: the datagram's reply entry holds the addressing (and the local
        // address); DR, tunnels: nothing stored
        if let Some(c) = op.conn {
            return self.transmit_conn(c, Direction::In, buf, router, fast);
        }
        let flow = Flow {
            client: Endpoint::new(addr::from_bits(pkt.saddr, pkt.v6), pkt.sport),
            vip: Endpoint::new(addr::from_bits(pkt.daddr, pkt.v6), pkt.dport),
            local: None,
            real: Endpoint::new(op.daddr, op.dport),
        };
        self.transmit(op.fwd, &flow, Direction::In, buf, router)
    }

    #[inline]
    fn transmit<B, R>(
        &mut self,
        fwd: FwdMethod,
        flow: &Flow,
        dir: Direction,
        buf: &mut B,
        router: &mut R,
    ) -> Verdict
    where
        B: PacketBuf + ?Sized,
        R: Router + ?Sized,
    {
        if matches!(fwd, FwdMethod::Local | FwdMethod::Bypass) {
            return Verdict::ToKernel;
        }
        let to = match dir {
            Direction::In => flow.real.addr,
            Direction::Out => flow.client.addr,
        };
        let Some(hop) = router.route(to) else {
            return Verdict::Drop(PacketDrop::NoRoute);
        };
        let egress = Egress {
            src_mac: hop.src_mac,
            dst_mac: hop.dst_mac,
            mtu: hop.mtu,
            ttl: self.cfg.ttl,
        };
        // the two methods that see both directions are called directly (one dispatch
        // less on the hot path); DR and tunnels through the dispatcher
        let r = match fwd {
            FwdMethod::FullNat => {
                xmit::fullnat::xmit(buf.data_mut(), flow, dir, &egress, self.cfg.mss_clamp)
            }
            FwdMethod::Masq => xmit::nat::xmit(buf.data_mut(), flow, dir, &egress),
            _ => match self.method(fwd, flow) {
                Ok(m) => xmit::transmit(&m, buf, flow, dir, &egress),
                Err(v) => return v,
            },
        };
        match r {
            Ok(f) => Verdict::Forward {
                port: hop.port,
                len: f.len,
            },
            Err(e) => Verdict::Drop(PacketDrop::Xmit(e)),
        }
    }
}

/// The IPv4 NAT or full-NAT rewrite of a connection in direction `dir`: the new source, the
/// new destination, and where to route; `None` when [`nat4_fast`] does not apply (another
/// method or family, a full-NAT connection without a local address).
#[inline]
fn fast_translation(conn: &Conn, dir: Direction) -> Option<(Rewrite4, Rewrite4, IpAddr)> {
    if conn.is_v6() || conn.dest_is_v6() {
        return None;
    }
    let v4 = |a: IpAddr, port: u16| match a {
        IpAddr::V4(a) => Some((a, port)),
        IpAddr::V6(_) => None,
    };
    let client = v4(conn.caddr(), conn.cport())?;
    let vip = v4(conn.vaddr(), conn.vport())?;
    let real = v4(conn.daddr(), conn.dport())?;
    let to = |e: (Ipv4Addr, u16)| IpAddr::V4(e.0);
    Some(match (conn.fwd(), dir) {
        (FwdMethod::Masq, Direction::In) => (None, Some(real), to(real)),
        (FwdMethod::Masq, Direction::Out) => (Some(vip), None, to(client)),
        (FwdMethod::FullNat, Direction::In) => {
            let (a, p) = conn.laddr()?;
            (Some(v4(a, p)?), Some(real), to(real))
        }
        (FwdMethod::FullNat, Direction::Out) => {
            conn.laddr()?;
            (Some(vip), Some(client), to(client))
        }
        _ => return None,
    })
}

/// NAT / full-NAT of an untagged option-less IPv4 TCP or UDP frame that [`parse_fast`] and
/// the upper-layer check accepted, with the transforms' own IPv4 rewrite
/// (`xmit::rewrite4`, what [`xmit::nat::xmit`] and [`xmit::fullnat::xmit`] do for such a
/// packet) but without parsing the frame again or building a [`Flow`]. `None`, frame
/// untouched, for what it leaves to the transforms: a packet longer than the MTU, a TTL that
/// would expire (their named drops).
#[inline]
fn nat4_fast(
    frame: &mut [u8],
    p: &xmit::Parsed,
    src: Rewrite4,
    dst: Rewrite4,
    egress: &Egress,
) -> Option<usize> {
    let decrement = egress.ttl == TtlPolicy::Decrement;
    if p.ip_len > usize::from(egress.mtu) || (decrement && p.ttl <= 1) {
        return None;
    }
    xmit::rewrite4(frame, p, src, dst, egress);
    Some(frame.len())
}

/// The addressing of a connection for the transforms.
#[inline]
fn flow_of(c: &Conn) -> Flow {
    Flow {
        client: Endpoint::new(c.caddr(), c.cport()),
        vip: Endpoint::new(c.vaddr(), c.vport()),
        local: c.laddr().map(|(a, p)| Endpoint::new(a, p)),
        real: Endpoint::new(c.daddr(), c.dport()),
    }
}

/// A flow hash for GUE source ports.
#[inline]
fn entropy_of(cport: u16, vport: u16, client: IpAddr) -> u32 {
    let a = addr::to_bits(client).0;
    let h = (a as u64 ^ (a >> 64) as u64 ^ ((cport as u64) << 16 | vport as u64))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 32) as u32
}

/// The VIPs of a snapshot's tuple services, sorted.
fn vips_of(snap: &Snapshot) -> Vec<(bool, u128)> {
    let mut v: Vec<(bool, u128)> = snap
        .services()
        .iter()
        .filter_map(|s| match s.key {
            crate::service::ServiceKey::Tuple { addr, .. } => {
                let (a, v6) = addr::to_bits(addr);
                Some((v6, a))
            }
            crate::service::ServiceKey::Fwmark { .. } => None,
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The tuple service keys of a snapshot with their indexes, sorted.
fn tuples_of(snap: &Snapshot) -> Vec<((bool, u128, u8, u16), u32)> {
    let mut v: Vec<_> = snap
        .services()
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s.key {
            crate::service::ServiceKey::Tuple {
                addr,
                protocol,
                port,
            } => {
                let (a, v6) = addr::to_bits(addr);
                Some(((v6, a, protocol, port), i as u32))
            }
            crate::service::ServiceKey::Fwmark { .. } => None,
        })
        .collect();
    v.sort_unstable();
    v
}

/// The common frame, read at fixed offsets: untagged IPv4 without options, not a fragment,
/// with a good header checksum. Anything else (or any doubt) is `None` and goes to
/// [`parse_slow`], which gives the same answer for these frames.
#[inline(always)]
fn parse_fast(frame: &[u8]) -> Option<(xmit::Parsed, u128, u128)> {
    let h: &[u8; 34] = frame.get(..34)?.try_into().ok()?;
    if h[12] != 0x08 || h[13] != 0x00 || h[14] != 0x45 {
        return None;
    }
    let ip_len = usize::from(u16::from_be_bytes([h[16], h[17]]));
    if ip_len < 20 || ip_len > frame.len() - 14 || (h[20] & 0x3f) != 0 || h[21] != 0 {
        return None;
    }
    if xmit::header_sum(&h[14..34]) != 0xffff {
        return None;
    }
    let saddr = u32::from_be_bytes([h[26], h[27], h[28], h[29]]) as u128;
    let daddr = u32::from_be_bytes([h[30], h[31], h[32], h[33]]) as u128;
    Some((
        xmit::Parsed {
            l2_len: 14,
            family: Family::V4,
            l3_len: 20,
            ip_len,
            proto: IpProtocol(h[23]),
            ttl: h[22],
            dont_frag: h[20] & 0x40 != 0,
        },
        saddr,
        daddr,
    ))
}

/// Every frame: the transforms' own parser, then the addresses.
fn parse_slow(frame: &[u8]) -> Result<(xmit::Parsed, u128, u128), XmitDrop> {
    let p = xmit::parse(frame)?;
    let l3 = &frame[p.l3()];
    let (saddr, daddr) = if p.family == Family::V6 {
        let ip = ipv6::Packet::new_unchecked(l3);
        (u128::from(ip.src_addr()), u128::from(ip.dst_addr()))
    } else {
        let ip = ipv4::Packet::new_unchecked(l3);
        (
            u32::from(ip.src_addr()) as u128,
            u32::from(ip.dst_addr()) as u128,
        )
    };
    Ok((p, saddr, daddr))
}

/// The destination of an IP frame whose header is whole (for fragments).
fn dst_of(frame: &[u8]) -> Option<(bool, u128)> {
    let eth = EthernetRepr::parse(&Frame::new_checked(frame).ok()?).ok()?;
    let l3 = frame.get(eth.header_len()..)?;
    match eth.ethertype {
        EtherType::IPV4 => {
            let ip = ipv4::Packet::new_checked_header(l3).ok()?;
            Some((false, u32::from(ip.dst_addr()) as u128))
        }
        EtherType::IPV6 => {
            let ip = ipv6::Packet::new_checked_header(l3).ok()?;
            Some((true, u128::from(ip.dst_addr())))
        }
        _ => None,
    }
}

/// Reads the upper-layer header.
#[inline]
fn upper_layer(protocol: u8, v6: bool, l4: &[u8]) -> Result<L4, XmitDrop> {
    match (protocol, v6) {
        (IPPROTO_TCP, _) => {
            let t = tcp::Packet::new_checked(l4).map_err(wire_drop)?;
            Ok(L4::Ports {
                sport: t.src_port(),
                dport: t.dst_port(),
                flags: TcpFlags::from_bits(t.flags().0 as u8),
            })
        }
        (IPPROTO_UDP, _) => {
            let u = udp::Packet::new_checked(l4).map_err(wire_drop)?;
            Ok(L4::Ports {
                sport: u.src_port(),
                dport: u.dst_port(),
                flags: TcpFlags::NONE,
            })
        }
        (IPPROTO_ICMP, false) => {
            let m = icmpv4::Packet::new_checked(l4).map_err(wire_drop)?;
            Ok(match m.msg_type() {
                icmpv4::Message::ECHO_REQUEST => L4::EchoRequest {
                    ident: m.echo_ident(),
                },
                icmpv4::Message::ECHO_REPLY => L4::EchoReply {
                    ident: m.echo_ident(),
                },
                t if matches!(t.0, 3 | 4 | 11) => match m.quote() {
                    Ok(q) => match q.ports() {
                        Some((sport, dport)) => L4::Error {
                            protocol: q.next_header().0,
                            src: u32::from(q.src_addr()) as u128,
                            sport,
                            dst: u32::from(q.dst_addr()) as u128,
                            dport,
                        },
                        None => L4::Other,
                    },
                    Err(_) => L4::Other,
                },
                _ => L4::Other,
            })
        }
        (IPPROTO_ICMPV6, true) => {
            let m = icmpv6::Packet::new_checked(l4).map_err(wire_drop)?;
            Ok(match m.msg_type() {
                icmpv6::Message::ECHO_REQUEST => L4::EchoRequest {
                    ident: m.echo_ident(),
                },
                icmpv6::Message::ECHO_REPLY => L4::EchoReply {
                    ident: m.echo_ident(),
                },
                t if t.is_error() => match m.quote() {
                    Ok(q) => match (q.ports(), q.upper_layer()) {
                        (Some((sport, dport)), Ok(ul)) => L4::Error {
                            protocol: ul.protocol.0,
                            src: u128::from(q.src_addr()),
                            sport,
                            dst: u128::from(q.dst_addr()),
                            dport,
                        },
                        _ => L4::Other,
                    },
                    Err(_) => L4::Other,
                },
                _ => L4::Other,
            })
        }
        _ => Ok(L4::Other),
    }
}

/// Turns the echo request in `frame` into its reply, in place: MACs and addresses swapped,
/// type changed with an incremental checksum update, TTL 64. A wrong ICMP checksum is
/// [`XmitDrop::BadChecksum`] (the kernel's `icmp_rcv` checks it).
fn echo_reply(frame: &mut [u8], p: &xmit::Parsed) -> Verdict {
    let end = p.l2_len + p.ip_len;
    let ok = {
        let (hdr, l4) = frame[p.l2_len..end].split_at(p.l3_len);
        match p.family {
            Family::V4 => icmpv4::Packet::new_unchecked(l4).verify_checksum(),
            Family::V6 => {
                let ip = ipv6::Packet::new_unchecked(hdr);
                icmpv6::Packet::new_unchecked(l4).verify_checksum(ip.src_addr(), ip.dst_addr())
            }
        }
    };
    if !ok {
        return Verdict::Drop(PacketDrop::Xmit(XmitDrop::BadChecksum));
    }
    {
        let mut f = Frame::new_unchecked(&mut *frame);
        let (s, d) = (f.src_addr(), f.dst_addr());
        f.set_src_addr(d);
        f.set_dst_addr(s);
    }
    let (hdr, l4) = frame[p.l2_len..end].split_at_mut(p.l3_len);
    match p.family {
        Family::V4 => {
            let mut m = icmpv4::Packet::new_unchecked(&mut *l4);
            let old = u16::from_be_bytes([8, m.msg_code()]);
            let new = u16::from_be_bytes([0, m.msg_code()]);
            m.set_msg_type(icmpv4::Message::ECHO_REPLY);
            let c = checksum::update_u16(m.checksum(), old, new);
            m.set_checksum(c);
            let mut ip = ipv4::Packet::new_unchecked(hdr);
            let (s, d) = (ip.src_addr(), ip.dst_addr());
            ip.set_src_addr(d);
            ip.set_dst_addr(s);
            ip.set_hop_limit(64);
            ip.fill_checksum();
        }
        Family::V6 => {
            let mut ip = ipv6::Packet::new_unchecked(hdr);
            let (s, d) = (ip.src_addr(), ip.dst_addr());
            let mut m = icmpv6::Packet::new_unchecked(&mut *l4);
            let old = u16::from_be_bytes([128, m.msg_code()]);
            let new = u16::from_be_bytes([129, m.msg_code()]);
            m.set_msg_type(icmpv6::Message::ECHO_REPLY);
            let c = checksum::update_u16(m.checksum(), old, new);
            m.set_checksum(c);
            ip.set_src_addr(d);
            ip.set_dst_addr(s);
            ip.set_hop_limit(64);
        }
    }
    Verdict::LocalReply { len: frame.len() }
}

/// A pool of full-NAT local addresses and ports for one worker ([`ConnHooks`]): ports are
/// handed out first-in first-out (a freed port waits behind every other free one before it
/// is reused, keeping clear of the real server's TIME_WAIT), addresses round-robin among
/// those of the real server's family. A port is unique per local address, whatever the
/// dest (DPVS's sa_pool makes it unique per address and dest; this is simpler and stricter).
/// Preallocated: nothing allocates after [`LocalAddrPool::new`].
#[derive(Clone, Debug)]
pub struct LocalAddrPool {
    addrs: Vec<(IpAddr, VecDeque<u16>)>,
    next: usize,
}

impl LocalAddrPool {
    /// A pool over `addrs`, each with the ports of `ports` for which `port % workers ==
    /// worker` (the architecture's per-worker slice, so replies can be steered by port).
    pub fn new(addrs: &[IpAddr], ports: RangeInclusive<u16>, worker: u16, workers: u16) -> Self {
        let workers = workers.max(1);
        let mine: VecDeque<u16> = ports.filter(|p| p % workers == worker).collect();
        LocalAddrPool {
            addrs: addrs.iter().map(|a| (*a, mine.clone())).collect(),
            next: 0,
        }
    }

    /// Starts handing out ports at the `seed`-th of each address's slice (wrapping round),
    /// not at its first: a restarted balancer then does not reuse the ports of its last
    /// run's connections, which the real servers may still hold in TIME_WAIT.
    pub fn rotated(mut self, seed: u64) -> Self {
        for (_, q) in &mut self.addrs {
            if !q.is_empty() {
                let n = (seed % q.len() as u64) as usize;
                q.rotate_left(n);
            }
        }
        self
    }

    /// Free ports over all addresses.
    pub fn available(&self) -> usize {
        self.addrs.iter().map(|(_, q)| q.len()).sum()
    }
}

impl ConnHooks for LocalAddrPool {
    fn local_addr(&mut self, svc: &Service, dest: usize) -> Option<(IpAddr, u16)> {
        let v6 = svc.dests.get(dest)?.addr.is_ipv6();
        let n = self.addrs.len();
        let mut k = self.next;
        for _ in 0..n {
            // no `%` on the packet path
            if k >= n {
                k = 0;
            }
            let (a, q) = &mut self.addrs[k];
            k += 1;
            if a.is_ipv6() == v6 {
                if let Some(p) = q.pop_front() {
                    self.next = k;
                    return Some((*a, p));
                }
            }
        }
        None
    }

    fn freed(&mut self, conn: &Conn) {
        if let Some((a, p)) = conn.laddr() {
            if let Some((_, q)) = self.addrs.iter_mut().find(|(x, _)| *x == a) {
                q.push_back(p);
            }
        }
    }
}

/// A connection's 5-tuple as a client sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FiveTuple {
    /// IP protocol: TCP, UDP, ICMP (echo; the port is the identifier) or ICMPv6.
    pub protocol: u8,
    /// Client address.
    pub src: IpAddr,
    /// Client port (ICMP: echo identifier).
    pub sport: u16,
    /// VIP.
    pub dst: IpAddr,
    /// VIP port (ignored for ICMP).
    pub dport: u16,
}

/// What the simulator found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RealServer {
    /// Real server address.
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
    /// Forwarding method.
    pub fwd: FwdMethod,
    /// The dest, `None` for a one-packet forward.
    pub dest: Option<DestId>,
}

/// Writes the first packet of `t` (TCP SYN, UDP datagram, ICMP echo request; TTL 64, valid
/// checksums) as an Ethernet frame into `out`; returns its length, or `None` if `out` is too
/// short (110 bytes always suffice) or the addresses' families differ.
pub fn build_probe(t: &FiveTuple, out: &mut [u8]) -> Option<usize> {
    let v6 = t.src.is_ipv6();
    if t.dst.is_ipv6() != v6 {
        return None;
    }
    let l3 = 14;
    let ip_len = if v6 { 40 } else { 20 };
    let l4_len = match t.protocol {
        IPPROTO_TCP => 20,
        IPPROTO_UDP => 8 + 8,
        IPPROTO_ICMP | IPPROTO_ICMPV6 => 8 + 8,
        _ => 8,
    };
    let len = l3 + ip_len + l4_len;
    let f = out.get_mut(..len)?;
    f.fill(0);
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    let seg_at = l3 + ip_len;
    {
        let seg = &mut f[seg_at..];
        match t.protocol {
            IPPROTO_TCP => {
                seg[0..2].copy_from_slice(&t.sport.to_be_bytes());
                seg[2..4].copy_from_slice(&t.dport.to_be_bytes());
                seg[4..8].copy_from_slice(&1u32.to_be_bytes());
                seg[12] = 5 << 4;
                seg[13] = 0x02;
                seg[14..16].copy_from_slice(&8192u16.to_be_bytes());
            }
            IPPROTO_UDP => {
                seg[0..2].copy_from_slice(&t.sport.to_be_bytes());
                seg[2..4].copy_from_slice(&t.dport.to_be_bytes());
                seg[4..6].copy_from_slice(&16u16.to_be_bytes());
            }
            IPPROTO_ICMP | IPPROTO_ICMPV6 => {
                seg[0] = if v6 { 128 } else { 8 };
                seg[4..6].copy_from_slice(&t.sport.to_be_bytes());
                seg[6..8].copy_from_slice(&1u16.to_be_bytes());
            }
            _ => {}
        }
    }
    let proto = IpProtocol(t.protocol);
    match (t.src, t.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            ipv4::Ipv4Repr {
                src_addr: s,
                dst_addr: d,
                next_header: proto,
                payload_len: l4_len,
                hop_limit: 64,
                dscp_ecn: 0,
                ident: 1,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
            }
            .emit(&mut ipv4::Packet::new_unchecked(&mut f[l3..]))
            .ok()?;
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f[12..14].copy_from_slice(&[0x86, 0xdd]);
            ipv6::Ipv6Repr {
                src_addr: s,
                dst_addr: d,
                next_header: proto,
                payload_len: l4_len,
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            }
            .emit(&mut ipv6::Packet::new_unchecked(&mut f[l3..]))
            .ok()?;
        }
        _ => return None,
    }
    let seg = &mut f[seg_at..];
    match (t.protocol, t.src, t.dst) {
        (IPPROTO_TCP, s, d) => tcp::Packet::new_unchecked(seg).fill_checksum(s, d).ok()?,
        (IPPROTO_UDP, s, d) => udp::Packet::new_unchecked(seg).fill_checksum(s, d).ok()?,
        (IPPROTO_ICMP, IpAddr::V4(_), _) => icmpv4::Packet::new_unchecked(seg).fill_checksum(),
        (IPPROTO_ICMPV6, IpAddr::V6(s), IpAddr::V6(d)) => icmpv6::Packet::new_unchecked(seg)
            .fill_checksum(s, d)
            .ok()?,
        _ => {}
    }
    Some(len)
}

/// Katran's simulator: which real server a client's packet goes to, answered by running a
/// probe frame through a [`Pipeline`] (the same parse, lookup, scheduling and persistence
/// code). The simulator keeps its connections, so stateful schedulers (`rr`, `lc`, ...) and
/// persistence behave as on a worker that saw the same probes.
#[derive(Clone, Debug)]
pub struct Simulator {
    pipeline: Pipeline,
    pool: LocalAddrPool,
    now_ms: u64,
}

impl Simulator {
    /// A simulator on `snap` with a small table; full-NAT probes use local addresses
    /// 10.255.255.1 and fd00::1 (they only matter for the rewrite).
    pub fn new(snap: &Snapshot) -> Simulator {
        let mut cfg = PipelineConfig::default();
        cfg.worker.table.capacity = 4096;
        cfg.worker.table.wheel_slots = 64;
        cfg.tunnel.src4 = Some(Ipv4Addr::new(192, 0, 2, 254));
        cfg.tunnel.src6 = Some(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xfe));
        let pool = LocalAddrPool::new(
            &[
                IpAddr::V4(Ipv4Addr::new(10, 255, 255, 1)),
                IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
            ],
            1024..=65535,
            0,
            1,
        );
        Simulator {
            pipeline: Pipeline::new(cfg, snap, 0),
            pool,
            now_ms: 0,
        }
    }

    /// The real server the first packet of `t` is scheduled to (or the one its existing
    /// connection has), `None` if it would not be forwarded.
    pub fn which_real_server(&mut self, snap: &Snapshot, t: &FiveTuple) -> Option<RealServer> {
        let mut raw = [0u8; 192];
        let len = build_probe(t, &mut raw[64..])?;
        let mut buf = SliceBuf::new(&mut raw, 64, len)?;
        let mut hop = NextHop {
            port: 0,
            src_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst_mac: EthernetAddress([2, 0, 0, 0, 0, 2]),
            mtu: 1500,
        };
        self.now_ms += 1;
        let v = self
            .pipeline
            .process(snap, &mut buf, self.now_ms, 0, &mut hop, &mut self.pool);
        if !matches!(v, Verdict::Forward { .. }) {
            return None;
        }
        let (a, v6) = addr::to_bits(t.src);
        let (sport, dport) = match t.protocol {
            IPPROTO_ICMP | IPPROTO_ICMPV6 => (t.sport, 0),
            _ => (t.sport, t.dport),
        };
        let key = ConnKey {
            protocol: t.protocol,
            v6,
            src: a,
            sport,
            dst: addr::to_bits(t.dst).0,
            dport,
        };
        let table = self.pipeline.worker.table();
        if let Some(c) = table.lookup_in(&key) {
            let c = table.get(c);
            return Some(RealServer {
                addr: c.daddr(),
                port: c.dport(),
                fwd: c.fwd(),
                dest: Some(c.dest()),
            });
        }
        // one-packet: read the rewritten frame (NAT, full-NAT) back, and forget the reply
        // entry the datagram left (the simulator sees no replies)
        let (real, from) = real_of_output(buf.data())?;
        let reply = ConnKey {
            protocol: t.protocol,
            v6: real.addr.is_ipv6(),
            src: addr::to_bits(real.addr).0,
            sport: real.port,
            dst: addr::to_bits(from.addr).0,
            dport: from.port,
        };
        if let Some(c) = self.pipeline.worker.table().lookup_out(&reply) {
            let conn = self.pipeline.worker.table().get(c);
            if conn.is_one_packet() {
                let fwd = conn.fwd();
                self.pipeline
                    .worker
                    .delete(snap, c, self.now_ms, &mut self.pool);
                return Some(RealServer { fwd, ..real });
            }
        }
        Some(real)
    }

    /// The pipeline behind the simulator.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }
}

/// Destination address and port of a NAT/full-NAT output frame, and its source.
fn real_of_output(frame: &[u8]) -> Option<(RealServer, Endpoint)> {
    let p = xmit::parse(frame).ok()?;
    let l3 = &frame[p.l3()];
    let (src, addr) = match p.family {
        Family::V4 => {
            let ip = ipv4::Packet::new_unchecked(l3);
            (IpAddr::V4(ip.src_addr()), IpAddr::V4(ip.dst_addr()))
        }
        Family::V6 => {
            let ip = ipv6::Packet::new_unchecked(l3);
            (IpAddr::V6(ip.src_addr()), IpAddr::V6(ip.dst_addr()))
        }
    };
    let l4 = &frame[p.l4_start()..p.l2_len + p.ip_len];
    let (sport, port) = match p.proto.0 {
        IPPROTO_TCP | IPPROTO_UDP => (
            u16::from_be_bytes([*l4.first()?, *l4.get(1)?]),
            u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?]),
        ),
        _ => (0, 0),
    };
    let real = RealServer {
        addr,
        port,
        fwd: FwdMethod::Masq,
        dest: None,
    };
    Some((real, Endpoint::new(src, sport)))
}

/// One-shot simulator: the real server a fresh worker on `snap` would give the first packet
/// of `t` ([`Simulator::which_real_server`] on a new [`Simulator`]; allocates).
pub fn which_real_server(snap: &Snapshot, t: &FiveTuple) -> Option<RealServer> {
    Simulator::new(snap).which_real_server(snap, t)
}

#[cfg(test)]
mod tests;
