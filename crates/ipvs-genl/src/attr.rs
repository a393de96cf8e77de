//! Netlink attributes as data, parsed with the kernel's rules.
//!
//! Emission goes through netlink-packet-core's [`Nla`] trait: an [`Attr`] is a
//! typed attribute value, and a `Vec<Attr>` is a message body or a nest.
//!
//! Parsing mirrors `nla_parse_deprecated()` with a policy, because clients read
//! the kernel's errno: attributes are walked until the first malformed header
//! (the rest is ignored), types above the policy's maximum are ignored, a later
//! duplicate replaces an earlier one, fixed-size integers shorter than their
//! type are `ERANGE` (longer ones are accepted, as the liberal parse does),
//! and strings and binaries longer than the policy allows are `ERANGE`.

use netlink_packet_core::{Nla, NlaBuffer, NlasIterator, NLA_TYPE_MASK};

use crate::Errno;

/// One attribute to emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    U8(u16, u8),
    /// Host byte order.
    U16(u16, u16),
    /// Network byte order (ports).
    Be16(u16, u16),
    /// Host byte order.
    U32(u16, u32),
    /// Host byte order.
    U64(u16, u64),
    /// Raw bytes, as given.
    Bytes(u16, Vec<u8>),
    /// A string, emitted NUL-terminated (`nla_put_string`).
    Str(u16, String),
    /// A nest, emitted without NLA_F_NESTED, as the kernel's replies are.
    Nest(u16, Vec<Attr>),
}

impl Attr {
    fn kind_raw(&self) -> u16 {
        match self {
            Attr::U8(k, _)
            | Attr::U16(k, _)
            | Attr::Be16(k, _)
            | Attr::U32(k, _)
            | Attr::U64(k, _)
            | Attr::Bytes(k, _)
            | Attr::Str(k, _)
            | Attr::Nest(k, _) => *k,
        }
    }
}

impl Nla for Attr {
    fn value_len(&self) -> usize {
        match self {
            Attr::U8(..) => 1,
            Attr::U16(..) | Attr::Be16(..) => 2,
            Attr::U32(..) => 4,
            Attr::U64(..) => 8,
            Attr::Bytes(_, v) => v.len(),
            Attr::Str(_, s) => s.len() + 1,
            Attr::Nest(_, attrs) => attrs.iter().map(|a| a.buffer_len()).sum(),
        }
    }

    fn kind(&self) -> u16 {
        self.kind_raw()
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            Attr::U8(_, v) => buffer[0] = *v,
            Attr::U16(_, v) => buffer[..2].copy_from_slice(&v.to_ne_bytes()),
            Attr::Be16(_, v) => buffer[..2].copy_from_slice(&v.to_be_bytes()),
            Attr::U32(_, v) => buffer[..4].copy_from_slice(&v.to_ne_bytes()),
            Attr::U64(_, v) => buffer[..8].copy_from_slice(&v.to_ne_bytes()),
            Attr::Bytes(_, v) => buffer[..v.len()].copy_from_slice(v),
            Attr::Str(_, s) => {
                buffer[..s.len()].copy_from_slice(s.as_bytes());
                buffer[s.len()] = 0;
            }
            Attr::Nest(_, attrs) => attrs.as_slice().emit(buffer),
        }
    }
}

use netlink_packet_core::Emitable;

impl Attr {
    /// Appends this attribute, aligned, in one pass: a nest's length is
    /// patched in after its children are written, so no length is computed
    /// twice (the `Nla` path recomputes nested lengths at every level).
    pub fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0, 0, 0, 0]);
        match self {
            Attr::U8(_, v) => out.push(*v),
            Attr::U16(_, v) => out.extend_from_slice(&v.to_ne_bytes()),
            Attr::Be16(_, v) => out.extend_from_slice(&v.to_be_bytes()),
            Attr::U32(_, v) => out.extend_from_slice(&v.to_ne_bytes()),
            Attr::U64(_, v) => out.extend_from_slice(&v.to_ne_bytes()),
            Attr::Bytes(_, v) => out.extend_from_slice(v),
            Attr::Str(_, v) => {
                out.extend_from_slice(v.as_bytes());
                out.push(0);
            }
            Attr::Nest(_, attrs) => {
                for a in attrs {
                    a.write(out);
                }
            }
        }
        // An attribute longer than u16 cannot be expressed; the kernel would
        // never build one, and neither do our callers.
        let len = (out.len() - start) as u16;
        out[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        out[start + 2..start + 4].copy_from_slice(&self.kind_raw().to_ne_bytes());
        out.resize((out.len() + 3) & !3, 0);
    }
}

/// Emits a list of attributes into a new buffer (aligned, as in a message).
pub fn emit_attrs(attrs: &[Attr]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    for a in attrs {
        a.write(&mut buf);
    }
    buf
}

/// What the policy says of an attribute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Not in the policy: accepted unchecked.
    Unspec,
    U8,
    U16,
    U32,
    U64,
    /// `NLA_BINARY` with a maximum length.
    Binary(usize),
    /// `NLA_NUL_STRING` with a maximum length (not counting the NUL).
    NulString(usize),
    /// `NLA_UNSPEC` with a length: at least that many bytes.
    MinLen(usize),
    Nested,
}

/// A parsed attribute table: `table[type]` is the value of the last attribute
/// of that type, as `nla_parse` leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrTable<'a> {
    slots: Vec<Option<&'a [u8]>>,
}

impl<'a> AttrTable<'a> {
    /// Parses `buf` against `policy` (indexed by attribute type; index 0 unused).
    pub fn parse(buf: &'a [u8], policy: &[Policy]) -> Result<Self, Errno> {
        let mut slots = vec![None; policy.len()];
        for nla in NlasIterator::new(buf) {
            // A malformed attribute header ends the walk, as nla_ok() does.
            let Ok(nla) = nla else { break };
            let kind = usize::from(nla.kind() & NLA_TYPE_MASK);
            if kind == 0 || kind >= policy.len() {
                continue;
            }
            let value = value_of(nla);
            validate(value, policy[kind])?;
            slots[kind] = Some(value);
        }
        Ok(AttrTable { slots })
    }

    /// The raw value of attribute `kind`, if present.
    pub fn get(&self, kind: u16) -> Option<&'a [u8]> {
        self.slots.get(usize::from(kind)).copied().flatten()
    }

    pub fn has(&self, kind: u16) -> bool {
        self.get(kind).is_some()
    }

    pub fn u8(&self, kind: u16) -> Option<u8> {
        self.get(kind).and_then(|v| v.first().copied())
    }

    pub fn u16(&self, kind: u16) -> Option<u16> {
        self.get(kind).and_then(|v| Some(u16::from_ne_bytes(v.get(..2)?.try_into().ok()?)))
    }

    pub fn be16(&self, kind: u16) -> Option<u16> {
        self.get(kind).and_then(|v| Some(u16::from_be_bytes(v.get(..2)?.try_into().ok()?)))
    }

    pub fn u32(&self, kind: u16) -> Option<u32> {
        self.get(kind).and_then(|v| Some(u32::from_ne_bytes(v.get(..4)?.try_into().ok()?)))
    }

    pub fn u64(&self, kind: u16) -> Option<u64> {
        self.get(kind).and_then(|v| Some(u64::from_ne_bytes(v.get(..8)?.try_into().ok()?)))
    }

    /// `nla_memcpy` into a fixed array: copies what is there, zero-fills the rest.
    pub fn array<const N: usize>(&self, kind: u16) -> Option<[u8; N]> {
        self.get(kind).map(|v| {
            let mut out = [0u8; N];
            let n = v.len().min(N);
            out[..n].copy_from_slice(&v[..n]);
            out
        })
    }

    /// A NUL-terminated string attribute, up to its first NUL.
    pub fn string(&self, kind: u16) -> Option<String> {
        self.get(kind).map(|v| {
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            String::from_utf8_lossy(&v[..end]).into_owned()
        })
    }
}

fn value_of(nla: NlaBuffer<&[u8]>) -> &[u8] {
    let len = usize::from(nla.length());
    let inner = nla.into_inner();
    let len = len.min(inner.len());
    &inner[4.min(len)..len]
}

fn validate(value: &[u8], policy: Policy) -> Result<(), Errno> {
    let min = match policy {
        Policy::Unspec | Policy::Nested => 0,
        Policy::U8 => 1,
        Policy::U16 => 2,
        Policy::U32 => 4,
        Policy::U64 => 8,
        Policy::MinLen(min) => min,
        Policy::Binary(max) => {
            return if value.len() > max { Err(Errno::ERANGE) } else { Ok(()) };
        }
        Policy::NulString(max) => {
            // The NUL must be within the first max+1 bytes.
            let window = &value[..value.len().min(max + 1)];
            if window.is_empty() || !window.contains(&0) {
                return Err(Errno::EINVAL);
            }
            let mut len = value.len();
            if value[len - 1] == 0 {
                len -= 1;
            }
            return if len > max { Err(Errno::ERANGE) } else { Ok(()) };
        }
    };
    if policy == Policy::Nested && !value.is_empty() && value.len() < 4 {
        return Err(Errno::ERANGE);
    }
    if value.len() < min {
        Err(Errno::ERANGE)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: [Policy; 4] = [Policy::Unspec, Policy::U16, Policy::NulString(15), Policy::Binary(16)];

    #[test]
    fn emit_is_aligned_and_byte_exact() {
        let attrs = [Attr::U16(1, 2), Attr::Str(2, "rr".into()), Attr::Be16(3, 80)];
        assert_eq!(
            emit_attrs(&attrs),
            [
                6, 0, 1, 0, 2, 0, 0, 0, // u16 2, padded
                7, 0, 2, 0, b'r', b'r', 0, 0, // "rr\0", padded
                6, 0, 3, 0, 0, 80, 0, 0, // be16 80
            ]
        );
    }

    #[test]
    fn nested_emits_without_nested_flag() {
        let attrs = [Attr::Nest(1, vec![Attr::U32(2, 7)])];
        assert_eq!(emit_attrs(&attrs), [12, 0, 1, 0, 8, 0, 2, 0, 7, 0, 0, 0]);
    }

    #[test]
    fn parse_masks_flags_and_keeps_last_duplicate() {
        let buf = [6, 0, 0x01, 0x80, 2, 0, 0, 0, 6, 0, 1, 0, 10, 0, 0, 0];
        let t = AttrTable::parse(&buf, &POLICY).unwrap();
        assert_eq!(t.u16(1), Some(10));
    }

    #[test]
    fn short_integer_is_erange_long_is_accepted() {
        let short = [5, 0, 1, 0, 2, 0, 0, 0];
        assert_eq!(AttrTable::parse(&short, &POLICY), Err(Errno::ERANGE));
        let long = [8, 0, 1, 0, 2, 0, 9, 9];
        assert_eq!(AttrTable::parse(&long, &POLICY).unwrap().u16(1), Some(2));
    }

    #[test]
    fn strings_need_a_nul_and_a_bounded_length() {
        let no_nul = [6, 0, 2, 0, b'r', b'r', 0, 0];
        assert_eq!(AttrTable::parse(&no_nul, &POLICY), Err(Errno::EINVAL));
        let mut long = vec![21, 0, 2, 0];
        long.extend_from_slice(b"0123456789abcdef\0");
        long.extend_from_slice(&[0, 0, 0]);
        assert_eq!(AttrTable::parse(&long, &POLICY), Err(Errno::EINVAL));
        let mut ok = vec![20, 0, 2, 0];
        ok.extend_from_slice(b"0123456789abcde\0");
        assert_eq!(AttrTable::parse(&ok, &POLICY).unwrap().string(2).as_deref(), Some("0123456789abcde"));
    }

    #[test]
    fn binary_over_max_is_erange_and_short_is_zero_filled() {
        let mut big = vec![24, 0, 3, 0];
        big.extend_from_slice(&[1; 20]);
        assert_eq!(AttrTable::parse(&big, &POLICY), Err(Errno::ERANGE));
        let v4 = [8, 0, 3, 0, 10, 0, 0, 1];
        let t = AttrTable::parse(&v4, &POLICY).unwrap();
        let mut want = [0u8; 16];
        want[..4].copy_from_slice(&[10, 0, 0, 1]);
        assert_eq!(t.array::<16>(3), Some(want));
    }

    #[test]
    fn malformed_header_ends_the_walk_and_unknown_types_are_ignored() {
        let buf = [6, 0, 1, 0, 3, 0, 0, 0, 8, 0, 9, 0, 1, 2, 3, 4, 2, 0, 1, 0];
        let t = AttrTable::parse(&buf, &POLICY).unwrap();
        assert_eq!(t.u16(1), Some(3));
        let too_long = [200, 0, 1, 0, 3, 0, 0, 0];
        assert!(!AttrTable::parse(&too_long, &POLICY).unwrap().has(1));
    }

    fn arb_attr() -> impl proptest::strategy::Strategy<Value = Attr> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            (1u16..20, any::<u8>()).prop_map(|(k, v)| Attr::U8(k, v)),
            (1u16..20, any::<u16>()).prop_map(|(k, v)| Attr::U16(k, v)),
            (1u16..20, any::<u16>()).prop_map(|(k, v)| Attr::Be16(k, v)),
            (1u16..20, any::<u32>()).prop_map(|(k, v)| Attr::U32(k, v)),
            (1u16..20, any::<u64>()).prop_map(|(k, v)| Attr::U64(k, v)),
            (1u16..20, proptest::collection::vec(any::<u8>(), 0..20)).prop_map(|(k, v)| Attr::Bytes(k, v)),
            (1u16..20, "[a-z]{0,15}").prop_map(|(k, v)| Attr::Str(k, v)),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            (1u16..20, proptest::collection::vec(inner, 0..6)).prop_map(|(k, v)| Attr::Nest(k, v))
        })
    }

    proptest::proptest! {
        /// The one-pass encoder writes what netlink-packet-core's Nla emission writes.
        #[test]
        fn one_pass_emission_equals_nla_emission(attrs in proptest::collection::vec(arb_attr(), 0..6)) {
            let mut via_nla = vec![0u8; attrs.as_slice().buffer_len()];
            attrs.as_slice().emit(&mut via_nla);
            proptest::prop_assert_eq!(emit_attrs(&attrs), via_nla);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = AttrTable::parse(&bytes, &POLICY);
        }
    }
}
