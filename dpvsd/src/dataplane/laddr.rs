//! Full-NAT local addresses: each worker owns the ports `p` with `p % workers == worker` of
//! every `sapool` address (DPVS's sa_pool), so a reply to `LIP:lport` names its owner by
//! its port alone. A worker's [`LaddrPool`] hands out its ports and takes them back when a
//! connection is freed.

use std::net::IpAddr;

use dpvs_core::conn::Conn;
use dpvs_core::service::{FwdMethod, Service};
use dpvs_core::worker::ConnHooks;

/// The lowest local port used (the ports below are left to the kernel's services).
pub const FIRST_PORT: u16 = 1024;

#[derive(Debug)]
struct Addr {
    addr: IpAddr,
    /// Free ports of this worker's slice, used from the end.
    free: Vec<u16>,
}

/// One worker's share of the local-address pool.
#[derive(Debug)]
pub struct LaddrPool {
    addrs: Vec<Addr>,
    next: usize,
}

impl LaddrPool {
    /// Worker `worker` of `workers`'s slice of `addrs`.
    pub fn new(addrs: &[IpAddr], worker: u16, workers: u16) -> LaddrPool {
        let n = workers.max(1);
        let slice: Vec<u16> =
            (FIRST_PORT..=u16::MAX).filter(|p| p % n == worker % n).rev().collect();
        LaddrPool { addrs: addrs.iter().map(|&addr| Addr { addr, free: slice.clone() }).collect(), next: 0 }
    }

    /// The addresses, in order.
    pub fn addrs(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.addrs.iter().map(|a| a.addr)
    }

    /// Free ports left for `addr`.
    pub fn free_ports(&self, addr: IpAddr) -> usize {
        self.addrs.iter().find(|a| a.addr == addr).map_or(0, |a| a.free.len())
    }

    /// A local address of `v6`'s family and a free port (round robin over the addresses).
    pub fn take(&mut self, v6: bool) -> Option<(IpAddr, u16)> {
        let n = self.addrs.len();
        for i in 0..n {
            let k = (self.next + i) % n;
            let a = &mut self.addrs[k];
            if a.addr.is_ipv6() != v6 {
                continue;
            }
            if let Some(p) = a.free.pop() {
                self.next = (k + 1) % n;
                return Some((a.addr, p));
            }
        }
        None
    }

    /// Marks a port taken (by a connection that outlived a pool change).
    pub fn reserve(&mut self, addr: IpAddr, port: u16) {
        if let Some(a) = self.addrs.iter_mut().find(|a| a.addr == addr) {
            a.free.retain(|&p| p != port);
        }
    }

    /// Gives a port back (ignored when the address left the pool).
    pub fn give_back(&mut self, addr: IpAddr, port: u16) {
        if let Some(a) = self.addrs.iter_mut().find(|a| a.addr == addr) {
            a.free.push(port);
        }
    }
}

impl ConnHooks for LaddrPool {
    fn local_addr(&mut self, svc: &Service, dest: usize) -> Option<(IpAddr, u16)> {
        let v6 = svc.dests.get(dest).map_or(svc.is_v6(), |d| d.addr.is_ipv6());
        self.take(v6)
    }

    fn freed(&mut self, conn: &Conn) {
        if conn.fwd() == FwdMethod::FullNat {
            if let Some((a, p)) = conn.laddr() {
                self.give_back(a, p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_disjoint_and_ports_come_back() {
        let a: IpAddr = "10.90.2.3".parse().unwrap();
        let b: IpAddr = "fd00:90:2::3".parse().unwrap();
        let mut w0 = LaddrPool::new(&[a, b], 0, 2);
        let mut w1 = LaddrPool::new(&[a, b], 1, 2);
        let (x, p0) = w0.take(false).unwrap();
        let (_, p1) = w1.take(false).unwrap();
        assert_eq!(x, a);
        assert_eq!((p0 % 2, p1 % 2), (0, 1));
        assert!(p0 >= FIRST_PORT);
        assert_eq!(w0.take(true).unwrap().0, b);
        let before = w0.free_ports(a);
        w0.give_back(a, p0);
        assert_eq!(w0.free_ports(a), before + 1);
        assert_eq!(w0.take(false).unwrap(), (a, p0), "the freed port is reused first");
        // a worker's slice runs out
        let mut w = LaddrPool::new(&[a], 0, 1);
        let total = usize::from(u16::MAX - FIRST_PORT) + 1;
        for _ in 0..total {
            assert!(w.take(false).is_some());
        }
        assert_eq!(w.take(false), None);
        assert_eq!(LaddrPool::new(&[a], 0, 1).take(true), None, "no IPv6 address");
    }
}
