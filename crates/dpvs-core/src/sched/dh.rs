//! `dh`: destination hashing, after `net/netfilter/ipvs/ip_vs_dh.c`.
//!
//! A 256-bucket table assigns the dests round robin to the buckets (weights are not used). The
//! packet's destination address, folded and hashed with `hash_32(addr, 8)`, selects a bucket;
//! if its dest is unavailable, quiescent or overloaded there is no fallback: `None`.

use crate::dest::{Dest, DestCounters};

use super::hashing::{fold_own, hash_32};
use super::{overloaded, SchedConfig, SchedInput, NO_DEST};

const TAB_BITS: u32 = 8;
const TAB_SIZE: usize = 1 << TAB_BITS;

/// The `dh` scheduler's bucket table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dh {
    buckets: Box<[u32; TAB_SIZE]>,
}

impl Dh {
    /// `ip_vs_dh_reassign`: bucket `i` gets the `i`-th dest of the list, cycling.
    pub fn new(dests: &[Dest], _config: &SchedConfig) -> Self {
        let list: Vec<u32> = dests
            .iter()
            .enumerate()
            .filter(|(_, d)| d.is_available())
            .map(|(i, _)| i as u32)
            .collect();
        let mut buckets = Box::new([NO_DEST; TAB_SIZE]);
        if !list.is_empty() {
            for (i, b) in buckets.iter_mut().enumerate() {
                *b = list[i % list.len()];
            }
        }
        Dh { buckets }
    }

    /// The bucket of a destination address (`ip_vs_dh_hashkey`).
    #[inline]
    pub fn bucket(addr: std::net::IpAddr) -> usize {
        hash_32(fold_own(addr), TAB_BITS) as usize
    }

    /// The dest in bucket `b`, if any.
    pub fn bucket_dest(&self, b: usize) -> Option<usize> {
        let d = self.buckets[b % TAB_SIZE];
        (d != NO_DEST).then_some(d as usize)
    }

    /// `ip_vs_dh_schedule`.
    #[inline]
    pub fn pick(
        &self,
        dests: &[Dest],
        counters: &[DestCounters],
        input: &SchedInput,
    ) -> Option<usize> {
        let i = self.bucket_dest(Self::bucket(input.vaddr))?;
        let d = dests.get(i)?;
        if !d.is_available() || d.weight <= 0 || overloaded(dests, counters, i) {
            return None;
        }
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dest::DestFlags;
    use crate::sched::testutil::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn to(vaddr: IpAddr) -> SchedInput {
        SchedInput {
            vaddr,
            ..any_input()
        }
    }

    #[test]
    fn bucket_is_kernel_hash_32() {
        // 10.1.2.3 = 0x0a010203; * 0x61c88647 mod 2^32 = 0x02ad20d5 -> top byte 0x02
        assert_eq!(0x0a01_0203u32.wrapping_mul(0x61c8_8647), 0x02ad_20d5);
        assert_eq!(Dh::bucket(Ipv4Addr::new(10, 1, 2, 3).into()), 0x02);
        // 192.168.1.10 = 0xc0a8010a
        let v = 0xc0a8_010au32.wrapping_mul(0x61c8_8647) >> 24;
        assert_eq!(
            Dh::bucket(Ipv4Addr::new(192, 168, 1, 10).into()),
            v as usize
        );
    }

    #[test]
    fn buckets_cycle_over_dests_ignoring_weight() {
        let d = dests(&[1, 7, 2]);
        let dh = Dh::new(&d, &SchedConfig::default());
        for b in 0..256 {
            assert_eq!(dh.bucket_dest(b), Some(b % 3));
        }
    }

    #[test]
    fn same_destination_same_dest_and_no_fallback() {
        let mut d = dests(&[1, 1, 1]);
        let dh = Dh::new(&d, &SchedConfig::default());
        let v: IpAddr = Ipv4Addr::new(10, 1, 2, 3).into();
        // bucket 2, 2 % 3 = 2
        assert_eq!(dh.pick(&d, &[], &to(v)), Some(2));
        assert_eq!(dh.pick(&d, &[], &to(v)), Some(2));
        d[2].flags.set(DestFlags::OVERLOADED, true);
        assert_eq!(dh.pick(&d, &[], &to(v)), None);
        d[2].flags.set(DestFlags::OVERLOADED, false);
        d[2].weight = 0;
        assert_eq!(dh.pick(&d, &[], &to(v)), None);
    }

    #[test]
    fn ipv6_destination_is_folded() {
        let d = dests(&[1, 1, 1, 1, 1]);
        let dh = Dh::new(
            &d,
            &SchedConfig {
                ipv6: true,
                ..Default::default()
            },
        );
        let v: IpAddr = "2001:db8::a01:203".parse().unwrap();
        // fold = 0x20010db8 ^ 0x0a010203
        let b = hash_32(0x2001_0db8 ^ 0x0a01_0203, 8) as usize;
        assert_eq!(dh.pick(&d, &[], &to(v)), Some(b % 5));
    }
}
