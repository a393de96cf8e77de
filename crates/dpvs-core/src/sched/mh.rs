//! `mh`: Maglev hashing, after `net/netfilter/ipvs/ip_vs_mh.c`.
//!
//! Each dest gets a preference list over a 4093-entry lookup table (offset and skip from two
//! keyed hashes of its address and port); the table is populated by letting the dests take
//! their next preferred free entry in turn, each taking `turns` entries per round, where
//! `turns = (last_weight / gcd) >> rshift` (at least 1 for a non-zero weight) and `rshift`
//! keeps the largest `turns` within 6 bits. A connection hashes its client address (plus the
//! client port with `mh-port`) into the table. Without `mh-fallback` an unusable dest
//! (quiescent or overloaded) is `None`; with it, the key is rehashed with offsets
//! `h, h + 1, ...` (mod 4093) until a usable dest turns up.
//!
//! The hash is the kernel's: `hsiphash` of the 32-bit value `offset + port + fold(addr)` with
//! the fixed keys `{2654435761, 2654435761}` and `{2654446892, 2654446892}`, computed as a
//! 64-bit little-endian kernel does (SipHash-1-3, truncated to 32 bits). So for the same dest
//! list (order, addresses, ports, last weights) the table and every pick are the kernel's.
//! Because the table uses `last_weight`, setting a dest's weight to 0 leaves the table alone:
//! that dest's clients fail (or fall back) and nobody else moves.

use std::net::IpAddr;

use crate::dest::{Dest, DestCounters};

use super::hashing::{fold, gcd, hsiphash_u32};
use super::{
    overloaded, SchedConfig, SchedError, SchedInput, IP_VS_SVC_F_SCHED_MH_FALLBACK,
    IP_VS_SVC_F_SCHED_MH_PORT, NO_DEST,
};

/// Lookup table size: `primes[CONFIG_IP_VS_MH_TAB_INDEX - 8]` with the default index 12.
pub const TAB_SIZE: usize = 4093;
/// `IP_VS_MH_TAB_BITS`: the default index divided by two.
const TAB_BITS: i32 = 6;
/// `generate_hash_secret`'s first key.
const HASH1: [u64; 2] = [2_654_435_761, 2_654_435_761];
/// `generate_hash_secret`'s second key.
const HASH2: [u64; 2] = [2_654_446_892, 2_654_446_892];

/// The `mh` scheduler's lookup table and flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mh {
    lookup: Box<[u32]>,
    fallback: bool,
    port: bool,
    ipv6: bool,
}

/// `ip_vs_mh_hashkey`.
#[inline]
fn hashkey(addr: IpAddr, port: u16, key: [u64; 2], offset: u32, ipv6: bool) -> u32 {
    let v = offset
        .wrapping_add(port as u32)
        .wrapping_add(fold(addr, ipv6));
    hsiphash_u32(v, key)
}

/// `fls`: the 1-based index of the highest set bit, 0 for 0.
fn fls(x: i32) -> i32 {
    if x <= 0 {
        if x == 0 {
            0
        } else {
            32
        }
    } else {
        32 - x.leading_zeros() as i32
    }
}

impl Mh {
    /// `ip_vs_mh_init_svc` / `ip_vs_mh_dest_changed`: gcd, shift, permutation, population.
    pub fn new(dests: &[Dest], config: &SchedConfig) -> Result<Self, SchedError> {
        let list: Vec<usize> = (0..dests.len())
            .filter(|i| dests[*i].is_available())
            .collect();
        if list.len() > TAB_SIZE {
            return Err(SchedError::TooManyDests {
                dests: list.len(),
                max: TAB_SIZE,
            });
        }
        let mut g = 0u32;
        let mut maxw = 0i32;
        for &i in &list {
            let w = dests[i].last_weight;
            if w > 0 {
                g = if g > 0 { gcd(w as u32, g) } else { w as u32 };
            }
            maxw = maxw.max(w);
        }
        let g = g as i32;
        let rshift = if g < 1 {
            0
        } else {
            (fls(maxw / g) - TAB_BITS).max(0)
        };
        let mut lookup = vec![NO_DEST; TAB_SIZE].into_boxed_slice();
        if g >= 1 {
            struct Setup {
                perm: usize,
                skip: usize,
                turns: i32,
            }
            let mut setup: Vec<Setup> = list
                .iter()
                .map(|&i| {
                    let d = &dests[i];
                    let offset = hashkey(d.addr, d.port, HASH1, 0, config.ipv6) as usize % TAB_SIZE;
                    let skip = hashkey(d.addr, d.port, HASH2, 0, config.ipv6) as usize
                        % (TAB_SIZE - 1)
                        + 1;
                    let lw = d.last_weight;
                    let t = (lw / g) >> rshift;
                    Setup {
                        perm: offset,
                        skip,
                        turns: if t != 0 { t } else { (lw != 0) as i32 },
                    }
                })
                .collect();
            let mut taken = vec![false; TAB_SIZE];
            let mut n = 0;
            let mut dt_count = 0;
            'fill: while n < TAB_SIZE {
                let mut j = 0;
                while j < list.len() {
                    let ds = &mut setup[j];
                    if ds.turns < 1 {
                        j += 1;
                        continue;
                    }
                    let mut c = ds.perm;
                    while taken[c] {
                        ds.perm += ds.skip;
                        if ds.perm >= TAB_SIZE {
                            ds.perm -= TAB_SIZE;
                        }
                        c = ds.perm;
                    }
                    taken[c] = true;
                    lookup[c] = list[j] as u32;
                    n += 1;
                    if n == TAB_SIZE {
                        break 'fill;
                    }
                    dt_count += 1;
                    if dt_count >= ds.turns {
                        dt_count = 0;
                        j += 1;
                    }
                }
            }
        }
        Ok(Mh {
            lookup,
            fallback: config.flags & IP_VS_SVC_F_SCHED_MH_FALLBACK != 0,
            port: config.flags & IP_VS_SVC_F_SCHED_MH_PORT != 0,
            ipv6: config.ipv6,
        })
    }

    /// The dest in table entry `e`, if any.
    pub fn entry(&self, e: usize) -> Option<usize> {
        let d = self.lookup[e % TAB_SIZE];
        (d != NO_DEST).then_some(d as usize)
    }

    /// The table entry a client address and port hash to.
    #[inline]
    pub fn slot(&self, addr: IpAddr, port: u16) -> usize {
        hashkey(addr, port, HASH1, 0, self.ipv6) as usize % TAB_SIZE
    }

    /// `ip_vs_mh_schedule`.
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
        let ihash = self.slot(input.caddr, port);
        let first = self.entry(ihash)?;
        if usable(first) {
            return Some(first);
        }
        if !self.fallback {
            return None;
        }
        for offset in 0..TAB_SIZE {
            let roffset = ((offset + ihash) % TAB_SIZE) as u32;
            let h = hashkey(input.caddr, port, HASH1, roffset, self.ipv6) as usize % TAB_SIZE;
            let i = self.entry(h)?;
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
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn cfg(flags: u32) -> SchedConfig {
        SchedConfig { flags, ipv6: false }
    }

    fn counts(mh: &Mh, n: usize) -> Vec<usize> {
        let mut c = vec![0; n];
        for e in 0..TAB_SIZE {
            c[mh.entry(e).unwrap()] += 1;
        }
        c
    }

    /// Vectors from a C transcription of the kernel's `ip_vs_mh.c` and `lib/siphash.c`
    /// (64-bit `hsiphash`), built with the kernel's own list walking: dests 10.0.0.1.. port 80,
    /// the first 40 table entries, the entry counts, picks for clients 198.51.100.0 + k * 977,
    /// and with dest 0 quiesced, `mh-port | mh-fallback` picks with client port 1000 + k.
    #[test]
    fn matches_the_kernel_algorithm() {
        type Case = (
            &'static [i32],
            [i32; 40],
            &'static [usize],
            [i32; 16],
            [i32; 16],
        );
        let cases: [Case; 3] = [
            (
                &[1, 1, 1, 1, 1],
                [
                    0, 1, 1, 3, 2, 0, 1, 2, 2, 0, 0, 1, 3, 0, 0, 3, 1, 3, 0, 0, 2, 3, 2, 2, 3, 4,
                    1, 0, 0, 4, 3, 1, 0, 2, 2, 1, 2, 0, 2, 3,
                ],
                &[819, 819, 819, 818, 818],
                [2, 4, 4, 2, 4, 3, 2, 3, 1, 4, 3, 4, 1, 2, 2, 1],
                [3, 1, 4, 1, 3, 4, 3, 4, 3, 1, 3, 1, 4, 3, 1, 2],
            ),
            (
                &[3, 1, 2, 0, 5],
                [
                    0, 0, 2, 2, 0, 0, 1, 2, 2, 0, 0, 1, 4, 0, 0, 4, 1, 4, 0, 0, 2, 2, 2, 2, 4, 4,
                    4, 0, 0, 4, 4, 4, 0, 4, 4, 1, 2, 0, 2, 4,
                ],
                &[1117, 372, 744, 0, 1860],
                [2, 4, 4, 2, 4, 4, 2, 2, 1, 4, 4, 4, 4, 2, 4, 4],
                [4, 4, 4, 1, 4, 4, 4, 4, 4, 4, 1, 4, 4, 2, 1, 2],
            ),
            (
                &[1000, 1, 7],
                [
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
                ],
                &[3967, 63, 63],
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                [2, 2, 2, 1, 1, 2, 1, 1, 2, 2, 1, 1, 1, 1, 1, 2],
            ),
        ];
        for (weights, table, cnt, picks, fallback) in cases {
            let mut d = dests(weights);
            let mh = Mh::new(&d, &cfg(0)).unwrap();
            for (e, want) in table.iter().enumerate() {
                assert_eq!(
                    mh.entry(e).map_or(-1, |i| i as i32),
                    *want,
                    "{weights:?} entry {e}"
                );
            }
            assert_eq!(counts(&mh, weights.len()), cnt, "{weights:?}");
            let client = |k: u32| IpAddr::V4(Ipv4Addr::from(0xc633_6400 + k * 977));
            for (k, want) in picks.iter().enumerate() {
                let got = mh
                    .entry(mh.slot(client(k as u32), 0))
                    .map_or(-1, |i| i as i32);
                assert_eq!(got, *want, "{weights:?} client {k}");
            }
            let fb = Mh::new(
                &d,
                &cfg(IP_VS_SVC_F_SCHED_MH_PORT | IP_VS_SVC_F_SCHED_MH_FALLBACK),
            )
            .unwrap();
            d[0].weight = 0;
            for (k, want) in fallback.iter().enumerate() {
                let got = fb
                    .pick(&d, &[], &input(client(k as u32), 1000 + k as u16))
                    .map_or(-1, |i| i as i32);
                assert_eq!(got, *want, "{weights:?} fallback client {k}");
            }
        }
    }

    #[test]
    fn table_is_full_and_even_for_equal_weights() {
        let d = dests(&[1; 7]);
        let mh = Mh::new(&d, &cfg(0)).unwrap();
        let c = counts(&mh, 7);
        assert_eq!(c.iter().sum::<usize>(), TAB_SIZE);
        let (min, max) = (c.iter().min().unwrap(), c.iter().max().unwrap());
        assert!(max - min <= 1, "{c:?}");
    }

    #[test]
    fn weights_share_the_table_proportionally() {
        let d = dests(&[1, 2, 4]);
        let mh = Mh::new(&d, &cfg(0)).unwrap();
        let c = counts(&mh, 3);
        // rounds of 1 + 2 + 4 = 7 entries: 4093 = 584 * 7 + 5, the last 5 go A, B, B, C, C
        assert_eq!(c, [585, 1170, 2338]);
    }

    #[test]
    fn big_weights_are_shifted_down() {
        // gcd 1, max 1000 -> fls(1000) = 10, rshift 4: turns 1000>>4 = 62 and 1>>4 = 0 -> 1
        let d = dests(&[1000, 1]);
        let mh = Mh::new(&d, &cfg(0)).unwrap();
        let c = counts(&mh, 2);
        assert_eq!(c[0] + c[1], TAB_SIZE);
        assert!((60..=70).contains(&(c[0] / c[1])), "{c:?}");
    }

    #[test]
    fn permutation_offsets_come_from_the_kernel_hash() {
        // with a single dest every entry is its own; its first entry is the kernel's offset
        let d = dests(&[1]);
        let mh = Mh::new(&d, &cfg(0)).unwrap();
        assert_eq!(counts(&mh, 1), [TAB_SIZE]);
        let a: IpAddr = Ipv4Addr::new(10, 0, 0, 1).into();
        let v = 0x0a00_0001u32 + 80;
        assert_eq!(hashkey(a, 80, HASH1, 0, false), hsiphash_u32(v, HASH1));
    }

    #[test]
    fn same_client_same_dest_and_port_flag() {
        let d = dests(&[1; 5]);
        let mh = Mh::new(&d, &cfg(0)).unwrap();
        let c: IpAddr = Ipv4Addr::new(203, 0, 113, 9).into();
        let home = mh.pick(&d, &[], &input(c, 1)).unwrap();
        for p in 2..200 {
            assert_eq!(mh.pick(&d, &[], &input(c, p)), Some(home));
        }
        let mhp = Mh::new(&d, &cfg(IP_VS_SVC_F_SCHED_MH_PORT)).unwrap();
        let picks: std::collections::HashSet<_> = (1..200)
            .map(|p| mhp.pick(&d, &[], &input(c, p)).unwrap())
            .collect();
        assert_eq!(picks.len(), 5);
    }

    #[test]
    fn quiesced_dest_keeps_the_table_and_fallback_moves_only_its_clients() {
        let mut d = dests(&[1; 4]);
        let plain = Mh::new(&d, &cfg(0)).unwrap();
        let fb = Mh::new(&d, &cfg(IP_VS_SVC_F_SCHED_MH_FALLBACK)).unwrap();
        let clients: Vec<IpAddr> = (0..2000u32)
            .map(|x| Ipv4Addr::from(0xc633_6400u32 + x).into())
            .collect();
        let before: Vec<usize> = clients
            .iter()
            .map(|c| plain.pick(&d, &[], &input(*c, 0)).unwrap())
            .collect();
        d[3].weight = 0; // last_weight stays 1: the kernel does not reshuffle
        assert_eq!(Mh::new(&d, &cfg(0)).unwrap(), plain);
        for (c, b) in clients.iter().zip(&before) {
            let p = plain.pick(&d, &[], &input(*c, 0));
            let f = fb.pick(&d, &[], &input(*c, 0)).unwrap();
            if *b == 3 {
                assert_eq!(p, None);
                assert_ne!(f, 3);
            } else {
                assert_eq!(p, Some(*b));
                assert_eq!(f, *b);
            }
        }
    }

    #[test]
    fn too_many_dests_is_einval() {
        let d: Vec<Dest> = (0..4094u32)
            .map(|i| Dest::new(Ipv4Addr::from(0x0a00_0000 + i).into(), 80, 1))
            .collect();
        let e = Mh::new(&d, &cfg(0)).unwrap_err();
        assert_eq!(e.errno(), 22);
    }

    /// Entries whose dest changed though both old and new dest survive.
    fn disruption(weights: &[i32], remove: usize) -> (usize, usize) {
        let d = dests(weights);
        let before = Mh::new(&d, &cfg(0)).unwrap();
        let mut d2 = d.clone();
        d2.remove(remove);
        let after = Mh::new(&d2, &cfg(0)).unwrap();
        let mut moved = 0;
        let mut lost = 0;
        for e in 0..TAB_SIZE {
            let b = before.entry(e).unwrap();
            let a = d2[after.entry(e).unwrap()].key();
            if b == remove {
                lost += 1;
            } else if d[b].key() != a {
                moved += 1;
            }
        }
        (moved, lost)
    }

    #[test]
    fn removing_one_of_ten_moves_few_other_entries() {
        let (moved, lost) = disruption(&[1; 10], 4);
        assert!((400..=420).contains(&lost), "{lost}");
        assert!(moved * 100 < TAB_SIZE * 3, "moved {moved} of {TAB_SIZE}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn minimal_disruption(weights in proptest::collection::vec(1i32..4, 3..24), r in any::<prop::sample::Index>()) {
            let remove = r.index(weights.len());
            let (moved, _lost) = disruption(&weights, remove);
            // Maglev is not perfectly stable, but only a few percent of the surviving entries move
            prop_assert!(moved * 100 < TAB_SIZE * 8, "moved {} of {}", moved, TAB_SIZE);
        }

        #[test]
        fn pick_is_consistent(weights in proptest::collection::vec(0i32..5, 1..16), a in any::<u32>(), p in any::<u16>()) {
            let d = dests(&weights);
            let mh = Mh::new(&d, &cfg(IP_VS_SVC_F_SCHED_MH_FALLBACK)).unwrap();
            let inp = input(Ipv4Addr::from(a).into(), p);
            let x = mh.pick(&d, &[], &inp);
            prop_assert_eq!(x, mh.pick(&d, &[], &inp));
            if weights.iter().any(|w| *w > 0) {
                prop_assert!(x.is_some());
                prop_assert!(d[x.unwrap()].weight > 0);
            } else {
                prop_assert_eq!(x, None);
            }
        }
    }
}
