//! `conhash`: DPVS's consistent hashing ring, after DPVS `src/ipvs/ip_vs_conhash.c` and its
//! libconhash.
//!
//! Every dest puts `weight / gcd * 160` virtual nodes on a ring, named
//! `"<inet_ntop(addr)><port>-<NNN>"` and keyed by libconhash's MD5-based hash; a connection
//! hashes its client address (DPVS's fold, printed as an unsigned decimal) and takes the first
//! virtual node at or after that key, wrapping to the smallest. If that dest is unusable
//! (unavailable, quiescent or overloaded) the answer is `None`, as in DPVS. Removing a dest
//! moves only its own clients (as long as the gcd of the weights stays the same).

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::dest::{Dest, DestCounters};

use super::hashing::{conhash_key, gcd, write_ipv6_glibc, StackStr};
use super::{overloaded, SchedConfig, SchedError, SchedInput};

/// Virtual nodes per weight unit (`REPLICA`).
pub const REPLICAS: u64 = 160;
/// The largest ring this implementation builds (DPVS has no limit; 2^24 vnodes is 256 MiB of
/// ring in DPVS's red-black tree and 256 MiB here would be absurd, so larger is an error).
pub const MAX_VNODES: u64 = 1 << 24;

/// The ring: virtual-node keys, sorted, with the dest each belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conhash {
    ring: Box<[(i64, u32)]>,
}

/// DPVS's node name for a dest: `inet_ntop` of the address, then its network-order port
/// printed as a (little-endian host) integer.
fn node_name(d: &Dest) -> String {
    let mut s = String::new();
    match d.addr {
        IpAddr::V4(a) => {
            let _ = write!(s, "{a}");
        }
        IpAddr::V6(a) => {
            let _ = write_ipv6_glibc(&mut s, &a);
        }
    }
    let _ = write!(s, "{}", u16::from_le_bytes(d.port.to_be_bytes()));
    s
}

/// DPVS's `get_sip_hash_target`: the source address as loaded from the packet into a native
/// (little-endian) integer; IPv6 XORs its four words.
fn sip_fold(addr: IpAddr) -> u32 {
    match addr {
        IpAddr::V4(a) => u32::from_le_bytes(a.octets()),
        IpAddr::V6(a) => {
            let o = a.octets();
            (0..4).fold(0, |acc, k| {
                acc ^ u32::from_le_bytes([o[4 * k], o[4 * k + 1], o[4 * k + 2], o[4 * k + 3]])
            })
        }
    }
}

impl Conhash {
    /// Builds the ring (DPVS's `dp_vs_conhash_assign`).
    pub fn new(dests: &[Dest], _config: &SchedConfig) -> Result<Self, SchedError> {
        let mut g = 0u32;
        for d in dests.iter().filter(|d| d.is_available() && d.weight > 0) {
            g = if g > 0 {
                gcd(d.weight as u32, g)
            } else {
                d.weight as u32
            };
        }
        let g = g.max(1) as u64;
        let total: u64 = dests
            .iter()
            .filter(|d| d.is_available())
            .map(|d| d.weight.max(0) as u64 / g * REPLICAS)
            .sum();
        if total > MAX_VNODES {
            return Err(SchedError::TableTooLarge { entries: total });
        }
        let mut ring = Vec::with_capacity(total as usize);
        for (i, d) in dests.iter().enumerate().filter(|(_, d)| d.is_available()) {
            let name = node_name(d);
            for r in 0..d.weight.max(0) as u64 / g * REPLICAS {
                let vnode = format!("{name}-{r:03}");
                ring.push((conhash_key(vnode.as_bytes()), i as u32));
            }
        }
        // stable: on equal keys the dest earlier in the list keeps the vnode
        ring.sort_by_key(|e| e.0);
        ring.dedup_by_key(|e| e.0);
        Ok(Conhash {
            ring: ring.into_boxed_slice(),
        })
    }

    /// Number of virtual nodes on the ring.
    pub fn vnodes(&self) -> usize {
        self.ring.len()
    }

    /// The dest owning the ring position of a key.
    #[inline]
    fn lookup(&self, key: i64) -> Option<usize> {
        if self.ring.is_empty() {
            return None;
        }
        let p = self.ring.partition_point(|e| e.0 < key);
        let p = if p == self.ring.len() { 0 } else { p };
        Some(self.ring[p].1 as usize)
    }

    /// The ring key of a client address.
    pub fn client_key(addr: IpAddr) -> i64 {
        let mut s = StackStr::new();
        let _ = write!(s, "{}", sip_fold(addr));
        conhash_key(s.as_bytes())
    }

    /// `dp_vs_conhash_schedule` with the source-IP hash target.
    #[inline]
    pub fn pick(
        &self,
        dests: &[Dest],
        counters: &[DestCounters],
        input: &SchedInput,
    ) -> Option<usize> {
        let i = self.lookup(Self::client_key(input.caddr))?;
        let d = dests.get(i)?;
        if d.is_available() && !overloaded(dests, counters, i) && d.weight > 0 {
            Some(i)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn clients(n: u32) -> impl Iterator<Item = IpAddr> {
        // a multiplicative walk over the address space
        (0..n).map(|k| {
            IpAddr::V4(Ipv4Addr::from(
                k.wrapping_mul(2_654_435_761).wrapping_add(0x0100_0000),
            ))
        })
    }

    /// Vectors from DPVS's own libconhash (`src/ipvs/libconhash`, compiled against a stub
    /// `dpdk.h`) driven like `ip_vs_conhash.c`: dests 10.0.0.1.. port 80, the ring size, its 5
    /// smallest keys, and the picks for clients 198.51.100.0 + k * 977.
    #[test]
    fn matches_dpvs_libconhash() {
        type Case = (&'static [i32], usize, [i64; 5], [usize; 24]);
        let cases: [Case; 3] = [
            (
                &[1, 1, 1],
                480,
                [
                    -9195482943771119905,
                    -9174429591346764374,
                    -9091252986278101608,
                    -9004186104152695216,
                    -8927278888645937377,
                ],
                [
                    0, 0, 0, 2, 0, 2, 0, 0, 0, 0, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 2, 0, 1, 2,
                ],
            ),
            (
                &[1, 2, 3, 4],
                1600,
                [
                    -9212236275677649215,
                    -9211557801121695451,
                    -9206129824510694444,
                    -9195831432174707448,
                    -9195482943771119905,
                ],
                [
                    2, 0, 2, 3, 0, 2, 3, 3, 0, 1, 2, 3, 2, 2, 1, 3, 3, 3, 1, 2, 2, 3, 1, 2,
                ],
            ),
            (
                &[4, 0, 6],
                800,
                [
                    -9186533898531446826,
                    -9174429591346764374,
                    -9053634870716492455,
                    -9025734711366171102,
                    -9019811843421680912,
                ],
                [
                    2, 0, 2, 2, 0, 2, 0, 0, 0, 2, 2, 2, 0, 2, 0, 0, 0, 2, 0, 2, 2, 2, 2, 2,
                ],
            ),
        ];
        for (weights, vnodes, keys, picks) in cases {
            let d = dests(weights);
            let c = Conhash::new(&d, &SchedConfig::default()).unwrap();
            assert_eq!(c.vnodes(), vnodes, "{weights:?}");
            let smallest: Vec<i64> = c.ring.iter().take(5).map(|e| e.0).collect();
            assert_eq!(smallest, keys, "{weights:?}");
            for (k, want) in picks.iter().enumerate() {
                let a = IpAddr::V4(Ipv4Addr::from(0xc633_6400 + k as u32 * 977));
                assert_eq!(
                    c.pick(&d, &[], &input(a, 0)),
                    Some(*want),
                    "{weights:?} client {k}"
                );
            }
        }
    }

    #[test]
    fn names_and_folds_follow_dpvs() {
        let d = Dest::new(Ipv4Addr::new(192, 168, 1, 1).into(), 80, 1);
        assert_eq!(node_name(&d), "192.168.1.120480");
        let d = Dest::new("2001:db8::1".parse::<Ipv6Addr>().unwrap().into(), 443, 1);
        assert_eq!(node_name(&d), "2001:db8::147873");
        assert_eq!(sip_fold(Ipv4Addr::new(1, 2, 3, 4).into()), 0x0403_0201);
    }

    #[test]
    fn ring_size_is_160_per_weight_unit_over_gcd() {
        let d = dests(&[2, 4, 0]);
        let c = Conhash::new(&d, &SchedConfig::default()).unwrap();
        assert_eq!(c.vnodes(), (1 + 2) * 160);
    }

    #[test]
    fn same_client_same_dest() {
        let d = dests(&[1, 1, 1]);
        let c = Conhash::new(&d, &SchedConfig::default()).unwrap();
        for a in clients(100) {
            let x = c.pick(&d, &[], &input(a, 1));
            assert!(x.is_some());
            assert_eq!(c.pick(&d, &[], &input(a, 2)), x);
        }
    }

    #[test]
    fn distribution_roughly_proportional_to_weight() {
        let d = dests(&[1, 2, 3, 4]);
        let c = Conhash::new(&d, &SchedConfig::default()).unwrap();
        let mut n = [0f64; 4];
        let total = 40_000;
        for a in clients(total) {
            n[c.pick(&d, &[], &input(a, 0)).unwrap()] += 1.0;
        }
        for (i, w) in [1.0, 2.0, 3.0, 4.0].iter().enumerate() {
            let share = n[i] / total as f64;
            let want = w / 10.0;
            assert!(
                (share - want).abs() < want * 0.25,
                "dest {i}: {share} vs {want}"
            );
        }
    }

    #[test]
    fn removing_a_dest_moves_only_its_clients() {
        let d = dests(&[1, 1, 1, 1, 1]);
        let c = Conhash::new(&d, &SchedConfig::default()).unwrap();
        let d2: Vec<Dest> = d
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|(_, x)| x)
            .collect();
        let c2 = Conhash::new(&d2, &SchedConfig::default()).unwrap();
        for a in clients(5000) {
            let before = c.pick(&d, &[], &input(a, 0)).unwrap();
            let after = c2.pick(&d2, &[], &input(a, 0)).unwrap();
            if before != 3 {
                assert_eq!(d[before].key(), d2[after].key());
            }
        }
    }

    #[test]
    fn unusable_dest_means_none() {
        let mut d = dests(&[1, 1]);
        let c = Conhash::new(&d, &SchedConfig::default()).unwrap();
        let a = clients(1).next().unwrap();
        let home = c.pick(&d, &[], &input(a, 0)).unwrap();
        d[home].weight = 0;
        assert_eq!(c.pick(&d, &[], &input(a, 0)), None);
    }

    #[test]
    fn huge_weights_are_refused() {
        let d = dests(&[200_000, 1]);
        assert!(matches!(
            Conhash::new(&d, &SchedConfig::default()),
            Err(SchedError::TableTooLarge { .. })
        ));
    }
}
