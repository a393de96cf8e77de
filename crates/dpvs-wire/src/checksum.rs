//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! Terminology: a *sum* is the one's-complement sum of 16-bit big-endian words, accumulated in a
//! `u32` and folded with [`fold`]; a *checksum* is the complement of the folded sum, the value
//! that goes into a header field.
//!
//! Incremental updates use RFC 1624 equation 3, `HC' = ~(~HC + ~m + m')`. When the checksummed
//! data contains at least one non-zero word (always true for IP, TCP, UDP and ICMP, whose
//! headers or pseudo-headers carry a non-zero protocol or type), the result is bit-for-bit equal
//! to a full recompute. UDP's "zero means no checksum" rule is handled in [`crate::udp`].
//!
//! All fields passed to the update functions must start at an even offset of the checksummed
//! data (true of addresses and ports); use [`update_u16_odd`] for a 16-bit value at an odd
//! offset (e.g. an MSS option after a single NOP).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::IpProtocol;

/// One's-complement sum of `data` as big-endian 16-bit words, not folded.
///
/// An odd trailing byte is padded with a zero low byte, as RFC 1071 says.
pub fn sum(data: &[u8]) -> u32 {
    // Accumulate in u64 so that no input length can overflow, then fold to u32.
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    // Fold the u64 into 32 bits keeping the one's-complement value.
    while acc > 0xffff_ffff {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
    }
    acc as u32
}

/// Folds a 32-bit accumulator into a 16-bit one's-complement sum (end-around carry).
#[inline]
pub fn fold(mut acc: u32) -> u16 {
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc as u16
}

/// Adds two accumulators without losing a carry.
#[inline]
pub fn add(a: u32, b: u32) -> u32 {
    let (s, carry) = a.overflowing_add(b);
    s + u32::from(carry)
}

/// The Internet checksum of `data`: `!fold(sum(data))`.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// Sum of the IPv4 pseudo-header (source, destination, zero, protocol, upper-layer length).
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, length: u16) -> u32 {
    let s = src.octets();
    let d = dst.octets();
    u32::from(u16::from_be_bytes([s[0], s[1]]))
        + u32::from(u16::from_be_bytes([s[2], s[3]]))
        + u32::from(u16::from_be_bytes([d[0], d[1]]))
        + u32::from(u16::from_be_bytes([d[2], d[3]]))
        + u32::from(protocol.0)
        + u32::from(length)
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1: source, destination, 32-bit upper-layer
/// length, three zero bytes, next header).
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: IpProtocol, length: u32) -> u32 {
    let mut acc = sum(&src.octets());
    acc = add(acc, sum(&dst.octets()));
    acc = add(acc, (length >> 16) + (length & 0xffff));
    add(acc, u32::from(next_header.0))
}

/// Sum of the pseudo-header for either family.
///
/// Returns `None` when `src` and `dst` are of different families, or when `length` does not fit
/// the IPv4 pseudo-header's 16 bits.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: IpProtocol, length: usize) -> Option<u32> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            Some(pseudo_header_v4(s, d, protocol, u16::try_from(length).ok()?))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            Some(pseudo_header_v6(s, d, protocol, u32::try_from(length).ok()?))
        }
        _ => None,
    }
}

/// Checksum of an upper-layer segment with its pseudo-header; the segment's own checksum field
/// must be zero (when filling) or present (then a correct packet yields `0`).
pub fn checksum_with_pseudo(pseudo: u32, data: &[u8]) -> u16 {
    !fold(add(pseudo, sum(data)))
}

/// RFC 1624 eq. 3: the checksum after a 16-bit word at an even offset changed from `old` to
/// `new`.
///
/// ```
/// use dpvs_wire::checksum::{checksum, update_u16};
/// let mut data = [0x45, 0x00, 0x12, 0x34, 0xab, 0xcd];
/// let before = checksum(&data);
/// data[2..4].copy_from_slice(&0x5678u16.to_be_bytes());
/// assert_eq!(update_u16(before, 0x1234, 0x5678), checksum(&data));
/// // RFC 1624 section 3: equation 3 gives 0x0000 where equation 2 would give 0xffff.
/// assert_eq!(update_u16(0xdd2f, 0x5555, 0x3285), 0x0000);
/// ```
#[inline]
pub fn update_u16(csum: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!csum) + u32::from(!old) + u32::from(new))
}

/// Like [`update_u16`] for a 16-bit value stored at an odd offset of the checksummed data.
///
/// Such a value straddles two words; its contribution to the sum is the value byte-swapped.
#[inline]
pub fn update_u16_odd(csum: u16, old: u16, new: u16) -> u16 {
    update_u16(csum, old.swap_bytes(), new.swap_bytes())
}

/// RFC 1624 update for a 32-bit field at an even offset (an IPv4 address, a sequence number).
#[inline]
pub fn update_u32(csum: u16, old: u32, new: u32) -> u16 {
    let acc = u32::from(!csum)
        + u32::from(!(old >> 16) as u16)
        + u32::from(!(old as u16))
        + (new >> 16)
        + (new & 0xffff);
    !fold(acc)
}

/// RFC 1624 update for a run of bytes at an even offset that changed from `old` to `new`.
///
/// The two slices may differ in length (e.g. NAT64 replacing an IPv4 by an IPv6 address in a
/// pseudo-header); an odd trailing byte is treated as a high byte, as [`sum`] does.
pub fn update_bytes(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    // ~m summed over words == ~(sum of m) in one's complement.
    let acc = add(u32::from(!csum), u32::from(!fold(sum(old))));
    !fold(add(acc, sum(new)))
}

/// RFC 1624 update for a 128-bit field (an IPv6 address).
#[inline]
pub fn update_v6(csum: u16, old: Ipv6Addr, new: Ipv6Addr) -> u16 {
    update_bytes(csum, &old.octets(), &new.octets())
}

/// RFC 1624 update for a 32-bit IPv4 address.
#[inline]
pub fn update_v4(csum: u16, old: Ipv4Addr, new: Ipv4Addr) -> u16 {
    update_u32(csum, u32::from(old), u32::from(new))
}

/// RFC 1624 update for an address of either family (the address covered by an IP header
/// checksum, or by a TCP/UDP/ICMPv6 pseudo-header).
pub fn update_addr(csum: u16, old: IpAddr, new: IpAddr) -> u16 {
    match (old, new) {
        (IpAddr::V4(o), IpAddr::V4(n)) => update_v4(csum, o, n),
        (IpAddr::V6(o), IpAddr::V6(n)) => update_v6(csum, o, n),
        (IpAddr::V4(o), IpAddr::V6(n)) => update_bytes(csum, &o.octets(), &n.octets()),
        (IpAddr::V6(o), IpAddr::V4(n)) => update_bytes(csum, &o.octets(), &n.octets()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 1071 §3 example: words 0001 f203 f4f5 f6f7 sum to ddf2.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_low_byte() {
        assert_eq!(sum(&[0x12]), 0x1200);
        assert_eq!(sum(&[0x00, 0x01, 0x12]), 0x1201);
    }

    #[test]
    fn all_zero_data_checksums_to_ffff() {
        assert_eq!(checksum(&[0; 8]), 0xffff);
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn no_overflow_on_huge_input() {
        let data = vec![0xffu8; 1 << 20];
        assert_eq!(fold(sum(&data)), 0xffff);
    }

    /// Known IPv4 header: 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7 (Wikipedia).
    #[test]
    fn ipv4_header_example() {
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10] = 0xb8;
        h[11] = 0x61;
        assert_eq!(checksum(&h), 0);
        // Rewrite the destination address incrementally.
        let new = update_v4(0xb861, Ipv4Addr::new(192, 168, 0, 199), Ipv4Addr::new(10, 0, 0, 1));
        h[16..20].copy_from_slice(&[10, 0, 0, 1]);
        h[10] = 0;
        h[11] = 0;
        assert_eq!(checksum(&h), new);
    }

    #[test]
    fn rfc1624_corner_case() {
        // RFC 1624 §3: a header whose checksum is 0xdd2f; m = 0x5555 changes to m' = 0x3285.
        // Equation 3 must yield 0x0000 (eq. 2 would give the wrong 0xffff).
        assert_eq!(update_u16(0xdd2f, 0x5555, 0x3285), 0x0000);
    }

    /// Writes `words` into data at even `offset` (in words) and returns the full checksum.
    fn full(data: &[u8]) -> u16 {
        checksum(data)
    }

    fn data_strategy() -> impl Strategy<Value = Vec<u8>> {
        // Word 0 is a non-zero "protocol" word, as in every real header.
        (1u16.., proptest::collection::vec(any::<u8>(), 2..64)).prop_map(|(w, mut v)| {
            if v.len() % 2 == 1 {
                v.push(0);
            }
            let mut out = w.to_be_bytes().to_vec();
            out.extend(v);
            out
        })
    }

    proptest! {
        #[test]
        fn update_u16_equals_recompute(data in data_strategy(), idx in any::<prop::sample::Index>(), new in any::<u16>()) {
            let words = data.len() / 2;
            // Never touch word 0 so the data stays non-zero.
            let w = 1 + idx.index(words - 1);
            let csum = full(&data);
            let old = u16::from_be_bytes([data[2 * w], data[2 * w + 1]]);
            let mut d2 = data.clone();
            d2[2 * w..2 * w + 2].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(update_u16(csum, old, new), full(&d2));
        }

        #[test]
        fn update_u16_odd_equals_recompute(data in data_strategy(), idx in any::<prop::sample::Index>(), new in any::<u16>()) {
            // A value at odd byte offset 2w+1, w >= 1, within the data.
            let words = data.len() / 2;
            prop_assume!(words >= 3);
            let w = 1 + idx.index(words - 2);
            let off = 2 * w + 1;
            let csum = full(&data);
            let old = u16::from_be_bytes([data[off], data[off + 1]]);
            let mut d2 = data.clone();
            d2[off..off + 2].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(update_u16_odd(csum, old, new), full(&d2));
        }

        #[test]
        fn update_u32_equals_recompute(data in data_strategy(), idx in any::<prop::sample::Index>(), new in any::<u32>()) {
            let words = data.len() / 2;
            prop_assume!(words >= 3);
            let w = 1 + idx.index(words - 2);
            let csum = full(&data);
            let old = u32::from_be_bytes([data[2 * w], data[2 * w + 1], data[2 * w + 2], data[2 * w + 3]]);
            let mut d2 = data.clone();
            d2[2 * w..2 * w + 4].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(update_u32(csum, old, new), full(&d2));
        }

        #[test]
        fn update_v6_equals_recompute(prefix in 1u16.., old in any::<u128>(), new in any::<u128>(), tail in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut data = prefix.to_be_bytes().to_vec();
            data.extend(old.to_be_bytes());
            data.extend(&tail);
            let csum = full(&data);
            data[2..18].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(update_v6(csum, Ipv6Addr::from(old), Ipv6Addr::from(new)), full(&data));
            prop_assert_eq!(
                update_addr(csum, IpAddr::V6(Ipv6Addr::from(old)), IpAddr::V6(Ipv6Addr::from(new))),
                full(&data)
            );
        }

        /// Corner values: fields going to and from 0x0000 and 0xffff, data summing to 0xffff
        /// (checksum 0x0000).
        #[test]
        fn update_corner_values(
            prefix in 1u16..,
            old in prop::sample::select(vec![0u16, 0xffff, 0x0001, 0xfffe]),
            new in prop::sample::select(vec![0u16, 0xffff, 0x0001, 0xfffe]),
        ) {
            // Choose a filler so that the whole data sums to 0xffff: checksum == 0x0000.
            let filler = !fold(u32::from(prefix) + u32::from(old));
            let data: Vec<u8> = [prefix, old, filler].iter().flat_map(|w| w.to_be_bytes()).collect();
            let csum = full(&data);
            prop_assert_eq!(csum, 0);
            let mut d2 = data.clone();
            d2[2..4].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(update_u16(csum, old, new), full(&d2));
        }

        #[test]
        fn pseudo_header_families(a in any::<u32>(), b in any::<u32>(), len in any::<u16>()) {
            let (s, d) = (Ipv4Addr::from(a), Ipv4Addr::from(b));
            let mut bytes = Vec::new();
            bytes.extend(s.octets());
            bytes.extend(d.octets());
            bytes.extend([0, 6]);
            bytes.extend(len.to_be_bytes());
            prop_assert_eq!(fold(pseudo_header_v4(s, d, IpProtocol::TCP, len)), fold(sum(&bytes)));
            let (s6, d6) = (s.to_ipv6_mapped(), d.to_ipv6_mapped());
            let mut b6 = Vec::new();
            b6.extend(s6.octets());
            b6.extend(d6.octets());
            b6.extend(u32::from(len).to_be_bytes());
            b6.extend([0, 0, 0, 17]);
            prop_assert_eq!(fold(pseudo_header_v6(s6, d6, IpProtocol::UDP, u32::from(len))), fold(sum(&b6)));
            prop_assert!(pseudo_header(IpAddr::V4(s), IpAddr::V6(d6), IpProtocol::TCP, 0).is_none());
        }
    }
}
