//! Which worker owns a frame's connection (ARCHITECTURE.md, "Which worker owns a flow"):
//!
//! - to a VIP: `hash(source address, source port)`: the worker that schedules a connection
//!   is the one its client's packets reach;
//! - to a full-NAT local address: the local port's slice, `port % workers`
//!   (each worker's `LocalAddrPool` hands out only its slice); an ICMP echo reply by its identifier, which full-NAT sets to the
//!   local port;
//! - any other TCP or UDP packet (a masquerade reply travelling to the client):
//!   `hash(destination address, destination port)`, the same value its connection's client
//!   packets gave.
//!
//! An ICMP error goes to the owner of the connection of the packet it quotes, by the same
//! rules read backwards: quoted source a local address → its port's slice; quoted source a
//! VIP (a reply we sent) → `hash(quoted destination, quoted destination port)`; else
//! `hash(quoted source, quoted source port)` (a packet we sent to a real server: the client's
//! address and port in masquerade).
//!
//! Anything else (ARP, fragments, other protocols) stays with the worker that received it.
//! Only the first IPv6 header is looked at: a packet with extension headers stays where it is.

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_8021Q: u16 = 0x8100;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;

/// A frame's EtherType and the offset of its network header (one optional 802.1Q tag).
#[inline]
pub fn network_header(frame: &[u8]) -> Option<(u16, usize)> {
    let ty = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    if ty == ETH_P_8021Q {
        Some((u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]), 18))
    } else {
        Some((ty, 14))
    }
}

/// `hash(address, port) % workers` as both directions of a masquerade flow compute it.
#[inline]
pub fn flow_owner(v6: bool, addr: u128, port: u16, workers: u16) -> u16 {
    let folded = (addr as u64) ^ ((addr >> 64) as u64) ^ u64::from(v6);
    let h = (folded ^ u64::from(port)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((h >> 32) % u64::from(workers)) as u16
}

/// The addresses steering looks at, rebuilt with every snapshot.
#[derive(Debug, Clone, Default)]
pub struct Steering {
    workers: u16,
    /// VIPs of tuple services: `(v6, bits)`, sorted.
    vips: Vec<(bool, u128)>,
    /// Full-NAT local addresses, sorted.
    laddrs: Vec<(bool, u128)>,
}

fn be128(b: &[u8]) -> u128 {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    u128::from_be_bytes(a)
}

impl Steering {
    /// For `workers` workers.
    pub fn new(workers: u16, mut vips: Vec<(bool, u128)>, mut laddrs: Vec<(bool, u128)>) -> Steering {
        vips.sort_unstable();
        vips.dedup();
        laddrs.sort_unstable();
        laddrs.dedup();
        Steering { workers: workers.max(1), vips, laddrs }
    }

    /// Whether `addr` is the VIP of a tuple service.
    pub fn is_vip(&self, v6: bool, addr: u128) -> bool {
        self.vips.binary_search(&(v6, addr)).is_ok()
    }

    /// The owner of the connection of a packet quoted by an ICMP error (IP header first).
    fn quoted_owner(&self, v6: bool, q: &[u8]) -> Option<u16> {
        let (proto, src, dst, l4) = if v6 {
            let h = q.get(..40)?;
            (h[6], be128(&h[8..24]), be128(&h[24..40]), 40)
        } else {
            let h = q.get(..20)?;
            let s = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
            let d = u32::from_be_bytes([h[16], h[17], h[18], h[19]]);
            (h[9], u128::from(s), u128::from(d), usize::from(h[0] & 0xf) * 4)
        };
        if proto != TCP && proto != UDP {
            return None;
        }
        let p = q.get(l4..l4 + 4)?;
        let (sport, dport) = (u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]]));
        let w = self.workers;
        Some(if self.laddrs.binary_search(&(v6, src)).is_ok() {
            sport % w
        } else if self.is_vip(v6, src) {
            flow_owner(v6, dst, dport, w)
        } else {
            flow_owner(v6, src, sport, w)
        })
    }

    /// The owner of `frame`, or `None` when any worker may handle it.
    #[inline]
    pub fn owner(&self, frame: &[u8]) -> Option<u16> {
        if self.workers == 1 || frame.len() < 14 {
            return None;
        }
        let (ty, ip) = network_header(frame)?;
        let (v6, proto, src, dst, l4) = match ty {
            ETH_P_IP => {
                let h = frame.get(ip..ip + 20)?;
                // a fragment other than the first carries no ports
                if u16::from_be_bytes([h[6], h[7]]) & 0x1fff != 0 {
                    return None;
                }
                let ihl = usize::from(h[0] & 0xf) * 4;
                let s = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
                let d = u32::from_be_bytes([h[16], h[17], h[18], h[19]]);
                (false, h[9], u128::from(s), u128::from(d), ip + ihl)
            }
            ETH_P_IPV6 => {
                let h = frame.get(ip..ip + 40)?;
                (true, h[6], be128(&h[8..24]), be128(&h[24..40]), ip + 40)
            }
            _ => return None,
        };
        let l = frame.get(l4..l4 + 8)?;
        let w = self.workers;
        match proto {
            TCP | UDP => {
                let sport = u16::from_be_bytes([l[0], l[1]]);
                let dport = u16::from_be_bytes([l[2], l[3]]);
                if self.vips.binary_search(&(v6, dst)).is_ok() {
                    Some(flow_owner(v6, src, sport, w))
                } else if self.laddrs.binary_search(&(v6, dst)).is_ok() {
                    Some(dport % w)
                } else {
                    Some(flow_owner(v6, dst, dport, w))
                }
            }
            ICMP | ICMPV6 => {
                let echo_reply = if v6 { 129 } else { 0 };
                let echo_request = if v6 { 128 } else { 8 };
                let error = if v6 { l[0] < 128 } else { matches!(l[0], 3 | 4 | 5 | 11 | 12) };
                let ident = u16::from_be_bytes([l[4], l[5]]);
                if error {
                    self.quoted_owner(v6, frame.get(l4 + 8..)?)
                } else if l[0] == echo_request && self.vips.binary_search(&(v6, dst)).is_ok() {
                    Some(flow_owner(v6, src, ident, w))
                } else if l[0] == echo_reply && self.laddrs.binary_search(&(v6, dst)).is_ok() {
                    Some(ident % w)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> u128 {
        u128::from(u32::from_be_bytes(a))
    }

    /// An untagged IPv4 TCP frame.
    fn tcp4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12..14].copy_from_slice(&ETH_P_IP.to_be_bytes());
        f[14] = 0x45;
        f[14 + 9] = TCP;
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&dport.to_be_bytes());
        f
    }

    #[test]
    fn both_directions_of_a_flow_meet() {
        let vip = [10, 90, 0, 100];
        let lip = [10, 90, 2, 3];
        let s = Steering::new(4, vec![(false, v4(vip))], vec![(false, v4(lip))]);
        for cport in [1000u16, 40000, 50001, 65535] {
            let client = [10, 90, 1, 2];
            let inbound = s.owner(&tcp4(client, cport, vip, 80)).unwrap();
            // masquerade: the real server answers the client directly
            let reply = s.owner(&tcp4([10, 90, 2, 11], 80, client, cport)).unwrap();
            assert_eq!(inbound, reply, "port {cport}");
            // full-NAT: the reply goes to LIP:lport, owned by lport's slice
            assert_eq!(s.owner(&tcp4([10, 90, 2, 11], 80, lip, cport)).unwrap(), cport % 4);
        }
        assert_eq!(Steering::new(1, vec![], vec![]).owner(&tcp4(vip, 1, vip, 2)), None);
    }

    #[test]
    fn spreads_and_leaves_others_alone() {
        let vip = [10, 90, 0, 100];
        let s = Steering::new(2, vec![(false, v4(vip))], vec![]);
        let owners: std::collections::BTreeSet<u16> =
            (0..64u16).map(|p| s.owner(&tcp4([10, 90, 1, 2], 30000 + p, vip, 80)).unwrap()).collect();
        assert_eq!(owners.len(), 2);
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert_eq!(s.owner(&arp), None);
        // an ICMP error quoting a full-NAT packet to a real server: the local port's owner
        let lip = [10, 90, 2, 3];
        let s2 = Steering::new(4, vec![(false, v4(vip))], vec![(false, v4(lip))]);
        let quoted = tcp4(lip, 5003, [10, 90, 2, 11], 80);
        let mut err = tcp4([10, 90, 2, 1], 0, lip, 0);
        err[14 + 9] = ICMP;
        err.truncate(34);
        err.extend_from_slice(&[3, 4, 0, 0, 0, 0, 5, 0xdc]);
        err.extend_from_slice(&quoted[14..]);
        assert_eq!(s2.owner(&err), Some(5003 % 4));
        let mut frag = tcp4([1, 2, 3, 4], 1, vip, 80);
        frag[14 + 7] = 1;
        assert_eq!(s.owner(&frag), None);
        assert_eq!(s.owner(&frag[..20]), None);
    }
}
