//! The hash functions the schedulers must reproduce bit for bit: the kernel's `hash_32`, the
//! IPv6 address fold, `hsiphash` as 64-bit kernels compute it (SipHash-1-3), and, for DPVS's
//! `conhash`, MD5 and libconhash's key mixing plus glibc's `inet_ntop` text form.

use std::net::{IpAddr, Ipv6Addr};

/// `GOLDEN_RATIO_32` of `include/linux/hash.h`.
const GOLDEN_RATIO_32: u32 = 0x61C8_8647;

/// The kernel's `hash_32(val, bits)`: multiply by the golden ratio, keep the top `bits` bits.
#[inline]
pub(crate) fn hash_32(val: u32, bits: u32) -> u32 {
    debug_assert!((1..=32).contains(&bits));
    val.wrapping_mul(GOLDEN_RATIO_32) >> (32 - bits)
}

/// The address fold of the IPVS hashing schedulers, in host order (`ntohl(addr_fold)`):
/// an IPv4 address as is; an IPv6 address as the XOR of its four 32-bit words when the service
/// is IPv6. For an IPv6 address under an IPv4 service (a tunnel dest of another family) the
/// kernel reads `addr->ip`, the first word.
#[inline]
pub(crate) fn fold(addr: IpAddr, ipv6_service: bool) -> u32 {
    match addr {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            if ipv6_service {
                w(0) ^ w(4) ^ w(8) ^ w(12)
            } else {
                w(0)
            }
        }
    }
}

/// A fold that follows the address's own family (what a packet address is: the packet's family
/// is the service's).
#[inline]
pub(crate) fn fold_own(addr: IpAddr) -> u32 {
    fold(addr, addr.is_ipv6())
}

/// Greatest common divisor (the kernel's binary gcd gives the same values).
pub(crate) fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

#[inline(always)]
fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-c-d over `msg` with the key words `k0`, `k1` (the standard construction).
fn siphash<const C: usize, const D: usize>(k0: u64, k1: u64, msg: &[u8]) -> u64 {
    let mut v = [
        0x736f_6d65_7073_6575 ^ k0,
        0x646f_7261_6e64_6f6d ^ k1,
        0x6c79_6765_6e65_7261 ^ k0,
        0x7465_6462_7974_6573 ^ k1,
    ];
    let mut chunks = msg.chunks_exact(8);
    for c in &mut chunks {
        let m = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        v[3] ^= m;
        for _ in 0..C {
            sipround(&mut v);
        }
        v[0] ^= m;
    }
    let mut b = (msg.len() as u64) << 56;
    for (i, byte) in chunks.remainder().iter().enumerate() {
        b |= (*byte as u64) << (8 * i);
    }
    v[3] ^= b;
    for _ in 0..C {
        sipround(&mut v);
    }
    v[0] ^= b;
    v[2] ^= 0xff;
    for _ in 0..D {
        sipround(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// The kernel's `hsiphash(&v, sizeof(u32), key)` on a 64-bit little-endian kernel: there
/// "HalfSipHash" is SipHash-1-3 over the 4 bytes of `v` as laid out in memory, truncated to
/// 32 bits. `key` is the `hsiphash_key_t` (two `unsigned long`s).
#[inline]
pub(crate) fn hsiphash_u32(v: u32, key: [u64; 2]) -> u32 {
    siphash::<1, 3>(key[0], key[1], &v.to_le_bytes()) as u32
}

/// MD5 (RFC 1321) of `msg`.
pub(crate) fn md5(msg: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];
    let mut st: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let mut block = |chunk: &[u8]| {
        let mut m = [0u32; 16];
        for (i, w) in m.iter_mut().enumerate() {
            *w = u32::from_le_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        let [mut a, mut b, mut c, mut d] = st;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let t = d;
            d = c;
            c = b;
            b = b.wrapping_add(
                a.wrapping_add(f)
                    .wrapping_add(K[i])
                    .wrapping_add(m[g])
                    .rotate_left(S[i]),
            );
            a = t;
        }
        st[0] = st[0].wrapping_add(a);
        st[1] = st[1].wrapping_add(b);
        st[2] = st[2].wrapping_add(c);
        st[3] = st[3].wrapping_add(d);
    };
    let mut chunks = msg.chunks_exact(64);
    for c in &mut chunks {
        block(c);
    }
    // padding: 0x80, zeros, bit length (little endian) -- at most two blocks
    let rem = chunks.remainder();
    let mut tail = [0u8; 128];
    tail[..rem.len()].copy_from_slice(rem);
    tail[rem.len()] = 0x80;
    let total = if rem.len() < 56 { 64 } else { 128 };
    tail[total - 8..total].copy_from_slice(&((msg.len() as u64).wrapping_mul(8)).to_le_bytes());
    for c in tail[..total].chunks_exact(64) {
        block(c);
    }
    let mut out = [0u8; 16];
    for (i, w) in st.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// libconhash's `__conhash_hash_def`: MD5 of the string, the four little-endian 32-bit words
/// of the digest summed, then Bob Jenkins' 32-bit integer mix evaluated in 64-bit `unsigned
/// long` arithmetic, times 3221225473. The ring compares keys as signed `long`.
pub(crate) fn conhash_key(s: &[u8]) -> i64 {
    let d = md5(s);
    let mut sum: u64 = 0;
    for i in 0..4 {
        sum += u32::from_le_bytes([d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]]) as u64;
    }
    let mut a = sum;
    a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
    a = (a ^ 0xc761_c23c) ^ (a >> 19);
    a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
    a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a_4f09) ^ (a >> 16);
    a = a.wrapping_mul(3_221_225_473);
    a as i64
}

/// A small fixed-capacity text buffer, so the packet path can format without allocating.
pub(crate) struct StackStr {
    buf: [u8; 64],
    len: usize,
}

impl StackStr {
    pub(crate) fn new() -> Self {
        StackStr {
            buf: [0; 64],
            len: 0,
        }
    }
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for StackStr {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let b = s.as_bytes();
        if self.len + b.len() > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
        Ok(())
    }
}

/// glibc's `inet_ntop` text of an IPv6 address. It differs from Rust's `Display` only for
/// IPv4-compatible addresses (`::a.b.c.d`), which glibc prints in dotted form.
pub(crate) fn write_ipv6_glibc(out: &mut impl std::fmt::Write, a: &Ipv6Addr) -> std::fmt::Result {
    let w = a.segments();
    let (mut best_base, mut best_len) = (usize::MAX, 0usize);
    let (mut cur_base, mut cur_len) = (usize::MAX, 0usize);
    for (i, word) in w.iter().enumerate() {
        if *word == 0 {
            if cur_base == usize::MAX {
                cur_base = i;
                cur_len = 1;
            } else {
                cur_len += 1;
            }
        } else if cur_base != usize::MAX {
            if best_base == usize::MAX || cur_len > best_len {
                best_base = cur_base;
                best_len = cur_len;
            }
            cur_base = usize::MAX;
        }
    }
    if cur_base != usize::MAX && (best_base == usize::MAX || cur_len > best_len) {
        best_base = cur_base;
        best_len = cur_len;
    }
    if best_base != usize::MAX && best_len < 2 {
        best_base = usize::MAX;
    }
    let in_best = |i: usize| best_base != usize::MAX && i >= best_base && i < best_base + best_len;
    for i in 0..8 {
        if in_best(i) {
            if i == best_base {
                out.write_char(':')?;
            }
            continue;
        }
        if i != 0 {
            out.write_char(':')?;
        }
        if i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let o = a.octets();
            return write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
        }
        write!(out, "{:x}", w[i])?;
    }
    if best_base != usize::MAX && best_base + best_len == 8 {
        out.write_char(':')?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn hex(d: &[u8]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hash_32_matches_kernel_definition() {
        assert_eq!(hash_32(0, 8), 0);
        assert_eq!(hash_32(1, 8), 0x61);
        // 0x0a000001 * 0x61c88647 = 0x...; top byte
        let v = 0x0a00_0001u32.wrapping_mul(0x61c8_8647);
        assert_eq!(hash_32(0x0a00_0001, 8), v >> 24);
        assert_eq!(hash_32(0x0a00_0001, 10), v >> 22);
    }

    #[test]
    fn siphash24_reference_vectors() {
        // The SipHash paper's test key 00..0f.
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(siphash::<2, 4>(k0, k1, &[]), 0x726f_db47_dd0e_0e31);
        let msg: Vec<u8> = (0u8..15).collect();
        assert_eq!(siphash::<2, 4>(k0, k1, &msg), 0xa129_ca61_49be_45e5);
        let msg: Vec<u8> = (0u8..8).collect();
        assert_eq!(siphash::<2, 4>(k0, k1, &msg), 0x93f5_f579_9a93_2462);
    }

    #[test]
    fn siphash13_matches_an_independent_implementation() {
        // CPython 3.11 hashes bytes with SipHash-1-3; with PYTHONHASHSEED=0 its key is all zero.
        assert_eq!(siphash::<1, 3>(0, 0, &[1, 2, 3, 4]), 0xe7b1_a066_360b_a9d4);
        let msg: Vec<u8> = (0u8..8).collect();
        assert_eq!(siphash::<1, 3>(0, 0, &msg), 0xead4_11e6_7ebe_2eea);
        let msg: Vec<u8> = (0u8..15).collect();
        assert_eq!(siphash::<1, 3>(0, 0, &msg), 0xf30e_b725_bb91_c9ea);
        assert_eq!(hsiphash_u32(0x0403_0201, [0, 0]), 0x360b_a9d4);
    }

    #[test]
    fn md5_reference_vectors() {
        assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(&md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(&md5(b"message digest")),
            "f96b697d7cb7938d525a2f31aaf161d0"
        );
        assert_eq!(
            hex(&md5(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            )),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
        assert_eq!(
            hex(&md5(
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
            )),
            "76658de2ac7d406f93dfbe8bb6d9f549"
        );
        // padding boundaries, checked against Python's hashlib: bytes (i * 7 + 3) mod 256
        for (n, want) in [
            (55, "52c0e574e1198de5fe3f8f11440dcb1b"),
            (56, "46c9907fc908ee68b1e7b8e71286a518"),
            (57, "1c805dd236c35cab25fcb1bc73802c51"),
            (63, "a62f6d59e837867693f042f5b8f5a236"),
            (64, "7160b8fb5e9e4023d549c3971fbaeead"),
            (65, "70bd662e7aefbda85a0f7244167b7897"),
            (119, "e84905d4214f4d1ca56c2cdcc152b143"),
            (120, "e3eb5a6c8669ea01a8c185b8abc8a5dc"),
            (128, "10b2da1a82f16d99a81a7203fe9f02cb"),
        ] {
            let msg: Vec<u8> = (0..n).map(|i: usize| (i * 7 + 3) as u8).collect();
            assert_eq!(hex(&md5(&msg)), want, "len {n}");
        }
    }

    #[test]
    fn fold_v6_xors_words() {
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(fold(a.into(), true), 0x2001_0db8 ^ 1);
        assert_eq!(fold(a.into(), false), 0x2001_0db8);
        assert_eq!(fold(Ipv4Addr::new(1, 2, 3, 4).into(), true), 0x0102_0304);
    }

    #[test]
    fn glibc_ipv6_text() {
        let cases = [
            ("::", "::"),
            ("::1", "::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"),
            ("2001:0:0:1::", "2001:0:0:1::"),
        ];
        for (inp, want) in cases {
            let a: Ipv6Addr = inp.parse().unwrap();
            let mut s = String::new();
            write_ipv6_glibc(&mut s, &a).unwrap();
            assert_eq!(s, want, "{inp}");
        }
    }

    #[test]
    fn gcd_works() {
        assert_eq!(gcd(4, 6), 2);
        assert_eq!(gcd(0, 5), 5);
        assert_eq!(gcd(7, 13), 1);
    }
}
