//! The kernel exception path: for each port a TAP interface `<port>.kni` carrying the
//! port's MAC. Frames the dataplane does not own (ARP and traffic for the kernel's
//! addresses, VRRP, BGP, SSH, health-check replies) are written to it, rate-limited per
//! worker; what the kernel sends on it leaves by the port. dpvsd follows rtnetlink: an
//! address or route that keepalived (or an operator) puts on a `.kni` interface becomes the
//! dataplane's, and leaves with it.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use netlink_sys::{constants::NETLINK_ROUTE, Socket, SocketAddr};

use crate::sys;

/// One port's kernel interface.
#[derive(Debug)]
pub struct Kni {
    pub name: String,
    pub ifindex: u32,
    fd: OwnedFd,
}

impl Kni {
    /// Creates `<port>.kni` with the port's MAC and MTU, up.
    pub fn open(port: &str, mac: [u8; 6], mtu: u16) -> io::Result<Kni> {
        let name = format!("{port}.kni");
        let fd = sys::tap_open(&name)?;
        sys::link_setup(&name, mac, u32::from(mtu))?;
        let ifindex = sys::if_index(&name).ok_or_else(|| io::Error::other(format!("{name} vanished")))?;
        Ok(Kni { name, ifindex, fd })
    }

    /// Hands a frame to the kernel; `false` when its queue is full (or the write failed).
    pub fn send(&self, frame: &[u8]) -> bool {
        sys::tap_write(self.fd.as_raw_fd(), frame).unwrap_or(false)
    }

    /// A frame the kernel sent, if any.
    pub fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        sys::tap_read(self.fd.as_raw_fd(), buf).ok().flatten()
    }
}

/// The nftables table that hides kernel interface `iface` from the kernel's own stack.
fn hide_table(iface: &str) -> String {
    let safe: String = iface.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("dpvsd_{safe}")
}

fn nft(script: &str) -> io::Result<()> {
    use std::io::Write;
    let mut child = std::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    child.stdin.take().expect("piped").write_all(script.as_bytes())?;
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_string()))
    }
}

/// Hides a kernel interface that a `net_af_packet` port uses from the kernel's own stack (an
/// nftables netdev ingress chain that drops everything; packet sockets still see every
/// frame). Without it the kernel would also take the frames: with an address on a `.kni`
/// interface (keepalived's VIP), it would answer a VIP's SYN with a reset of its own.
pub fn hide_from_kernel(iface: &str) -> io::Result<()> {
    let t = hide_table(iface);
    nft(&format!(
        "table netdev {t}\ndelete table netdev {t}\ntable netdev {t} {{\n  chain ingress {{ type filter hook ingress device \"{iface}\" priority -500; policy drop; }}\n}}\n"
    ))
}

/// Gives the interface back to the kernel.
pub fn unhide(iface: &str) -> io::Result<()> {
    nft(&format!("delete table netdev {}\n", hide_table(iface)))
}

/// A change on a kernel interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtEvent {
    Addr { add: bool, ifindex: u32, addr: IpAddr, len: u8 },
    Route { add: bool, ifindex: u32, prefix: IpAddr, len: u8, via: Option<IpAddr>, src: Option<IpAddr>, metric: u32 },
}

const RTM_GETADDR: u16 = 22;
const RTM_GETROUTE: u16 = 26;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
/// RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE.
const GROUPS: u32 = 0x10 | 0x40 | 0x100 | 0x400;

/// The address and route changes in a datagram of rtnetlink messages (decoded by dpip's
/// codec, netlink-packet-route), and whether it ends a dump. Routes: unicast routes of the
/// main table that the kernel did not make itself (connected routes come with their
/// addresses).
pub fn parse(buf: &[u8]) -> (Vec<RtEvent>, bool) {
    use dpip_proto::{KernelChange, RTN_UNICAST, RTPROT_KERNEL, RT_TABLE_MAIN};
    let (changes, end) = dpip_proto::kernel_changes(buf);
    let events = changes
        .into_iter()
        .filter_map(|c| match c {
            KernelChange::Addr { add, addr } => {
                Some(RtEvent::Addr { add, ifindex: addr.index, addr: addr.addr, len: addr.len })
            }
            KernelChange::Route { add, route: r } => (r.table == RT_TABLE_MAIN
                && r.kind == RTN_UNICAST
                && r.protocol != RTPROT_KERNEL)
                .then_some(RtEvent::Route {
                    add,
                    ifindex: r.oif,
                    prefix: r.dst,
                    len: r.len,
                    via: r.gateway,
                    src: r.prefsrc,
                    metric: r.metric.unwrap_or(0),
                }),
        })
        .collect();
    (events, end)
}

/// Follows rtnetlink's address and route notifications.
pub struct Watcher {
    sock: Socket,
    buf: Vec<u8>,
}

impl Watcher {
    /// Subscribes to address and route changes.
    pub fn new() -> io::Result<Watcher> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind(&SocketAddr::new(0, GROUPS))?;
        sock.set_non_blocking(true)?;
        Ok(Watcher { sock, buf: vec![0; 64 * 1024] })
    }

    /// The addresses and routes that exist now (dumps on a socket of their own; call it
    /// after [`Watcher::new`] so that nothing falls between the two).
    pub fn dump() -> io::Result<Vec<RtEvent>> {
        let mut s = Socket::new(NETLINK_ROUTE)?;
        s.bind_auto()?;
        s.set_non_blocking(true)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Vec::new();
        for (seq, kind) in [(1u32, RTM_GETADDR), (2, RTM_GETROUTE)] {
            let mut m = Vec::with_capacity(20);
            m.extend_from_slice(&20u32.to_ne_bytes());
            m.extend_from_slice(&kind.to_ne_bytes());
            m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
            m.extend_from_slice(&seq.to_ne_bytes());
            m.extend_from_slice(&0u32.to_ne_bytes());
            m.extend_from_slice(&[0u8; 4]); // rtgenmsg: any family, padded
            s.send_to(&m, &SocketAddr::new(0, 0), 0)?;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            loop {
                match s.recv_from(&mut &mut buf[..], 0) {
                    Ok((n, _)) => {
                        let (events, end) = parse(&buf[..n]);
                        out.extend(events);
                        if end {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }

    /// Everything that arrived since the last call.
    pub fn poll(&mut self) -> Vec<RtEvent> {
        let mut out = Vec::new();
        loop {
            match self.sock.recv_from(&mut &mut self.buf[..], 0) {
                Ok((n, _)) => out.extend(parse(&self.buf[..n]).0),
                Err(_) => return out,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nlmsg(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0u8; 10]);
        m.extend_from_slice(body);
        m
    }

    fn attr(kind: u16, v: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(v);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    const RTM_NEWADDR: u16 = 20;
    const RTM_NEWROUTE: u16 = 24;
    const RTM_DELROUTE: u16 = 25;
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    const RTA_DST: u16 = 1;
    const RTA_OIF: u16 = 4;
    const RTA_GATEWAY: u16 = 5;
    const RTA_PRIORITY: u16 = 6;
    const AF_INET: u8 = 2;
    const RT_TABLE_MAIN: u8 = 254;
    const RTN_UNICAST: u8 = 1;
    const RTPROT_KERNEL: u8 = 2;

    #[test]
    fn addresses_and_routes() {
        // `ip addr add 10.90.0.100/32 dev dpdk0.kni` (ifindex 7), as keepalived's VRRP does
        let mut body = vec![AF_INET, 32, 0, 0];
        body.extend_from_slice(&7u32.to_ne_bytes());
        body.extend(attr(IFA_ADDRESS, &[10, 90, 0, 100]));
        body.extend(attr(IFA_LOCAL, &[10, 90, 0, 100]));
        let mut dgram = nlmsg(RTM_NEWADDR, &body);
        // `ip route add 10.77.0.0/16 via 10.90.2.10 dev dpdk1.kni metric 5` (ifindex 8)
        let mut r = vec![AF_INET, 16, 0, 0, RT_TABLE_MAIN, 3, 0, RTN_UNICAST, 0, 0, 0, 0];
        r.extend(attr(RTA_DST, &[10, 77, 0, 0]));
        r.extend(attr(RTA_GATEWAY, &[10, 90, 2, 10]));
        r.extend(attr(RTA_OIF, &8u32.to_ne_bytes()));
        r.extend(attr(RTA_PRIORITY, &5u32.to_ne_bytes()));
        dgram.extend(nlmsg(RTM_NEWROUTE, &r));
        // the kernel's own connected route is left alone
        let mut k = r.clone();
        k[5] = RTPROT_KERNEL;
        dgram.extend(nlmsg(RTM_DELROUTE, &k));
        assert_eq!(
            parse(&dgram).0,
            vec![
                RtEvent::Addr { add: true, ifindex: 7, addr: "10.90.0.100".parse().unwrap(), len: 32 },
                RtEvent::Route {
                    add: true,
                    ifindex: 8,
                    prefix: "10.77.0.0".parse().unwrap(),
                    len: 16,
                    via: Some("10.90.2.10".parse().unwrap()),
                    src: None,
                    metric: 5
                },
            ]
        );
        assert!(!parse(&dgram).1);
        assert!(parse(&nlmsg(3, &[0; 4])).1);
        // garbage never panics
        for n in 0..dgram.len() {
            let _ = parse(&dgram[..n]);
        }
    }
}
