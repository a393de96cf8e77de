//! `sh`: source hashing, after `net/netfilter/ipvs/ip_vs_sh.c`.
//!
//! A 256-bucket table is filled walking the dest list, each dest taking `weight` consecutive
//! buckets (at least one, even a dest of weight 0), cycling until the table is full. The client
//! address, folded, plus the client port when `sh-port` is set, hashed with `hash_32(_, 8)`,
//! selects a bucket. Without `sh-fallback` an unusable dest (quiescent or overloaded) means
//! `None`; with it, the kernel probes the buckets `(i + 2 * h) mod 256` for `i = 0..256`, where
//! `h` is the original bucket, and takes the first usable dest.

use std::net::IpAddr;

use crate::dest::{Dest, DestCounters};

use super::hashing::{fold_own, hash_32};
use super::{
    overloaded, SchedConfig, SchedInput, IP_VS_SVC_F_SCHED_SH_FALLBACK, IP_VS_SVC_F_SCHED_SH_PORT,
    NO_DEST,
};

const TAB_BITS: u32 = 8;
const TAB_SIZE: usize = 1 << TAB_BITS;
const TAB_MASK: u32 = TAB_SIZE as u32 - 1;

/// The `sh` scheduler's bucket table and flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sh {
    buckets: Box<[u32; TAB_SIZE]>,
    fallback: bool,
    port: bool,
}

impl Sh {
    /// `ip_vs_sh_reassign`.
    pub fn new(dests: &[Dest], config: &SchedConfig) -> Self {
        let list: Vec<u32> = dests
            .iter()
            .enumerate()
            .filter(|(_, d)| d.is_available())
            .map(|(i, _)| i as u32)
            .collect();
        let mut buckets = Box::new([NO_DEST; TAB_SIZE]);
        if !list.is_empty() {
            let mut p = 0usize;
            let mut count = 0i64;
            for b in buckets.iter_mut() {
                let di = list[p];
                *b = di;
                count += 1;
                if count >= dests[di as usize].weight as i64 {
                    p = (p + 1) % list.len();
                    count = 0;
                }
            }
        }
        Sh {
            buckets,
            fallback: config.flags & IP_VS_SVC_F_SCHED_SH_FALLBACK != 0,
            port: config.flags & IP_VS_SVC_F_SCHED_SH_PORT != 0,
        }
    }

    /// `ip_vs_sh_hashkey(addr, port, offset)`.
    #[inline]
    pub fn hashkey(addr: IpAddr, port: u16, offset: u32) -> usize {
        (offset.wrapping_add(hash_32(
            (port as u32).wrapping_add(fold_own(addr)),
            TAB_BITS,
        )) & TAB_MASK) as usize
    }

    /// The dest in bucket `b`, if any.
    pub fn bucket_dest(&self, b: usize) -> Option<usize> {
        let d = self.buckets[b % TAB_SIZE];
        (d != NO_DEST).then_some(d as usize)
    }

    /// `ip_vs_sh_schedule`.
    #[inline]
    pub fn pick(
        &self,
        dests: &[Dest],
        counters: &[DestCounters],
        input: &SchedInput,
    ) -> Option<usize> {
        let port = if self.port { input.hash_port() } else { 0 };
        let usable = |i: usize| {
            dests
                .get(i)
                .is_some_and(|d| d.is_available() && d.weight > 0)
                && !overloaded(dests, counters, i)
        };
        let ihash = Self::hashkey(input.caddr, port, 0);
        let first = self.bucket_dest(ihash)?;
        if usable(first) {
            return Some(first);
        }
        if !self.fallback {
            return None;
        }
        for offset in 0..TAB_SIZE as u32 {
            let roffset = (offset + ihash as u32) % TAB_SIZE as u32;
            let i = self.bucket_dest(Self::hashkey(input.caddr, port, roffset))?;
            if usable(i) {
                return Some(i);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::testutil::*;
    use crate::sched::IPPROTO_ICMP;
    use std::net::Ipv4Addr;

    fn cfg(flags: u32) -> SchedConfig {
        SchedConfig { flags, ipv6: false }
    }

    /// Vectors from a C transcription of `ip_vs_sh.c` (reassign, hashkey, fallback): the first 24
    /// buckets, picks for clients 198.51.100.0 + k * 977, and with dest 1 quiesced and dest 2
    /// overloaded, `sh-port | sh-fallback` picks with client port 1000 + k.
    #[test]
    fn matches_the_kernel_algorithm() {
        type Case = (&'static [i32], [usize; 24], [usize; 16], [i32; 16]);
        let cases: [Case; 2] = [
            (
                &[1, 1, 1, 1],
                [
                    0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3,
                ],
                [2, 0, 3, 1, 3, 2, 0, 2, 0, 3, 1, 3, 1, 0, 2, 0],
                [3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ),
            (
                &[3, 0, 2, 5],
                [
                    0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 3, 0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 3, 0, 0,
                ],
                [0, 0, 1, 2, 3, 3, 3, 0, 0, 2, 3, 3, 3, 0, 0, 2],
                [3, 0, 0, 0, 3, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3],
            ),
        ];
        for (weights, table, plain, fallback) in cases {
            let mut d = dests(weights);
            let sh = Sh::new(&d, &cfg(0));
            for (b, want) in table.iter().enumerate() {
                assert_eq!(sh.bucket_dest(b), Some(*want), "{weights:?} bucket {b}");
            }
            let client = |k: u32| IpAddr::V4(Ipv4Addr::from(0xc633_6400 + k * 977));
            for (k, want) in plain.iter().enumerate() {
                let b = Sh::hashkey(client(k as u32), 0, 0);
                assert_eq!(sh.bucket_dest(b), Some(*want), "{weights:?} client {k}");
                let usable = d[*want].weight > 0;
                assert_eq!(
                    sh.pick(&d, &[], &input(client(k as u32), 7)),
                    usable.then_some(*want)
                );
            }
            let fb = Sh::new(
                &d,
                &cfg(IP_VS_SVC_F_SCHED_SH_PORT | IP_VS_SVC_F_SCHED_SH_FALLBACK),
            );
            d[1].weight = 0;
            d[2].flags.set(crate::dest::DestFlags::OVERLOADED, true);
            for (k, want) in fallback.iter().enumerate() {
                let got = fb
                    .pick(&d, &[], &input(client(k as u32), 1000 + k as u16))
                    .map_or(-1, |i| i as i32);
                assert_eq!(got, *want, "{weights:?} fallback client {k}");
            }
        }
    }

    #[test]
    fn table_fills_by_weight_and_zero_weight_takes_one_bucket() {
        let d = dests(&[2, 0, 3]);
        let sh = Sh::new(&d, &cfg(0));
        let want = [0, 0, 1, 2, 2, 2];
        for b in 0..256 {
            assert_eq!(sh.bucket_dest(b), Some(want[b % 6]), "bucket {b}");
        }
    }

    #[test]
    fn hashkey_is_kernel_formula() {
        let a: IpAddr = Ipv4Addr::new(10, 1, 2, 3).into();
        assert_eq!(Sh::hashkey(a, 0, 0), 0x02);
        // with a port: hash_32(port + addr, 8)
        let v = (0x0a01_0203u32 + 1234).wrapping_mul(0x61c8_8647) >> 24;
        assert_eq!(Sh::hashkey(a, 1234, 0), v as usize);
        assert_eq!(Sh::hashkey(a, 0, 255), 1);
    }

    #[test]
    fn same_client_same_dest() {
        let d = dests(&[1, 1, 1, 1]);
        let sh = Sh::new(&d, &cfg(0));
        let c: IpAddr = Ipv4Addr::new(10, 1, 2, 3).into();
        let first = sh.pick(&d, &[], &input(c, 1000)).unwrap();
        assert_eq!(first, 2);
        for p in 1001..1100 {
            assert_eq!(
                sh.pick(&d, &[], &input(c, p)),
                Some(first),
                "port ignored without sh-port"
            );
        }
    }

    #[test]
    fn sh_port_spreads_one_client_and_only_for_port_protocols() {
        let d = dests(&[1, 1, 1, 1]);
        let sh = Sh::new(&d, &cfg(IP_VS_SVC_F_SCHED_SH_PORT));
        let c: IpAddr = Ipv4Addr::new(10, 1, 2, 3).into();
        let mut seen = [false; 4];
        for p in 1000..1100 {
            let i = sh.pick(&d, &[], &input(c, p)).unwrap();
            assert_eq!(i, Sh::hashkey(c, p, 0) % 4);
            seen[i] = true;
        }
        assert!(seen.iter().all(|s| *s));
        let icmp = SchedInput {
            protocol: IPPROTO_ICMP,
            ..input(c, 1234)
        };
        assert_eq!(sh.pick(&d, &[], &icmp), Some(2));
    }

    #[test]
    fn unavailable_without_fallback_is_none_with_fallback_walks() {
        let mut d = dests(&[1, 1, 1, 1]);
        let c: IpAddr = Ipv4Addr::new(10, 1, 2, 3).into();
        let home = 2; // bucket 2
        d[home].weight = 0; // quiescent: sh does not rebuild on the packet path
        let plain = Sh::new(&dests(&[1, 1, 1, 1]), &cfg(0));
        assert_eq!(plain.pick(&d, &[], &input(c, 1)), None);
        let fb = Sh::new(&dests(&[1, 1, 1, 1]), &cfg(IP_VS_SVC_F_SCHED_SH_FALLBACK));
        // probes bucket ((0 + 2) + 2) & 255 = 4 -> dest 0
        assert_eq!(fb.pick(&d, &[], &input(c, 1)), Some(0));
        // deterministic and stable
        assert_eq!(fb.pick(&d, &[], &input(c, 1)), Some(0));
        let mut cn = counters(&[(0, 0); 4]);
        cn[0].overloaded = true;
        // next probe ((1 + 2) + 2) = 5 -> dest 1
        assert_eq!(fb.pick(&d, &cn, &input(c, 1)), Some(1));
        for x in cn.iter_mut() {
            x.overloaded = true;
        }
        assert_eq!(fb.pick(&d, &cn, &input(c, 1)), None);
    }

    #[test]
    fn fallback_keeps_working_clients_in_place() {
        let mut d = dests(&[1, 1, 1]);
        let fb = Sh::new(&d, &cfg(IP_VS_SVC_F_SCHED_SH_FALLBACK));
        let before: Vec<_> = (0..=255u8)
            .map(|x| {
                fb.pick(&d, &[], &input(Ipv4Addr::new(172, 16, x, 9).into(), 0))
                    .unwrap()
            })
            .collect();
        d[1].weight = 0;
        for (x, b) in (0..=255u8).zip(before) {
            let now = fb
                .pick(&d, &[], &input(Ipv4Addr::new(172, 16, x, 9).into(), 0))
                .unwrap();
            if b != 1 {
                assert_eq!(now, b);
            } else {
                assert_ne!(now, 1);
            }
        }
    }
}
