//! The per-worker connection table.
//!
//! One [`ConnTable`] per worker holds that worker's connections and persistence templates in
//! a preallocated array of fixed capacity (no allocation after construction; a full table is
//! [`DropReason::ConnTableFull`]). Every connection is reachable two ways:
//!
//! - **in**: `(protocol, client, client port, VIP, VIP port)`, what a client packet carries;
//! - **out**: `(protocol, real server, server port, client or local address, port)`, what a
//!   reply carries: for NAT the reply goes to the client, for full-NAT to the local address
//!   (LIP/lport) the caller chose; for DR/TUN/local the kernel's rule (`ip_vs_conn_out_get`)
//!   is used: the reply's source is the VIP.
//!
//! Each direction is a chained hash index: a power-of-two array of `u32` bucket heads and a
//! `u32` link inside each entry, so the index costs 8 bytes per bucket plus 8 per entry.
//!
//! A new connection costs two random reads of bucket heads (its in bucket when the lookup
//! misses, its out bucket when it is linked), each a cache miss in a large table. The out link
//! of the newest connection is deferred to the worker's next lookup
//! (`ConnTable::settle`), so that it and that lookup's in-bucket read are in flight at
//! once; until then [`ConnTable::lookup_out`] checks that one pending entry first. The in
//! bucket computed by the lookup that missed is reused by the insert.
//! Templates (the kernel's `IP_VS_CONN_F_TEMPLATE` connections) live in the same array and
//! the in index only, keyed `(protocol or 0 for fwmark, masked client, 0, VIP or fwmark,
//! port)`.
//!
//! Expiry is a timer wheel threaded through the entries: [`ConnTable::pop_due`] hands back due
//! entries one at a time and the worker decides (free it, or re-arm it as the kernel's
//! `expire_later` does for a template that still controls connections).
//!
//! Lookups compare full keys; the bucket hash is seeded per table (a keyed multiply-xorshift,
//! not a cryptographic hash: the seed should be random per worker so that chains cannot be
//! predicted from outside).

mod wheel;

use std::net::IpAddr;

use crate::addr;
use crate::drop::DropReason;
use crate::service::{DestId, FwdMethod};

pub(crate) const NIL: u32 = u32::MAX;

// flag bits of an entry
const F_V6: u16 = 1 << 0;
const F_DEST_V6: u16 = 1 << 1;
const F_FWD_SHIFT: u16 = 2; // 3 bits
const F_FWD_MASK: u16 = 0b111 << F_FWD_SHIFT;
const F_INACTIVE: u16 = 1 << 5;
const F_NOOUTPUT: u16 = 1 << 6;
const F_TEMPLATE: u16 = 1 << 7;
const F_IN_HASHED: u16 = 1 << 8;
const F_OUT_HASHED: u16 = 1 << 9;
const F_ASSURED: u16 = 1 << 10;
const F_IN_USE: u16 = 1 << 11;
pub(crate) const F_ARMED: u16 = 1 << 12;
pub(crate) const F_PENDING: u16 = 1 << 13;
const F_LADDR: u16 = 1 << 14;
const F_ONE_PACKET: u16 = 1 << 15;

/// A reference to an entry of a [`ConnTable`] (its index). Valid until the entry is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnRef(pub(crate) u32);

impl ConnRef {
    /// The entry's index in the table.
    pub fn index(self) -> u32 {
        self.0
    }
}

/// A lookup key: a packet's 5-tuple as stored bits (see [`crate::addr`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnKey {
    /// IP protocol number (0 for a fwmark template).
    pub protocol: u8,
    /// IPv6 addresses.
    pub v6: bool,
    /// Source address.
    pub src: u128,
    /// Source port.
    pub sport: u16,
    /// Destination address.
    pub dst: u128,
    /// Destination port.
    pub dport: u16,
}

impl ConnKey {
    /// A key from `IpAddr`s (the two must be of the same family).
    pub fn new(protocol: u8, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> ConnKey {
        let (s, v6) = addr::to_bits(src);
        ConnKey {
            protocol,
            v6,
            src: s,
            sport,
            dst: addr::to_bits(dst).0,
            dport,
        }
    }
}

/// One connection or template. 128 bytes; see [`ENTRY_BYTES`].
#[derive(Clone, Copy, Debug)]
pub struct Conn {
    caddr: u128,
    vaddr: u128,
    daddr: u128,
    laddr: u128,
    cport: u16,
    vport: u16,
    dport: u16,
    lport: u16,
    in_next: u32,
    out_next: u32,
    pub(crate) t_prev: u32,
    pub(crate) t_next: u32,
    pub(crate) t_filed: u32,
    pub(crate) t_expires: u32,
    timeout_ms: u32,
    dest: DestId,
    control: u32,
    n_control: u32,
    protocol: u8,
    state: u8,
    pub(crate) flags: u16,
}

/// Bytes per entry (the memory target is at most 192 per connection with the index).
pub const ENTRY_BYTES: usize = std::mem::size_of::<Conn>();

impl Conn {
    const EMPTY: Conn = Conn {
        caddr: 0,
        vaddr: 0,
        daddr: 0,
        laddr: 0,
        cport: 0,
        vport: 0,
        dport: 0,
        lport: 0,
        in_next: NIL,
        out_next: NIL,
        t_prev: NIL,
        t_next: NIL,
        t_filed: 0,
        t_expires: 0,
        timeout_ms: 0,
        dest: DestId { slot: 0, tag: 0 },
        control: NIL,
        n_control: 0,
        protocol: 0,
        state: 0,
        flags: 0,
    };

    #[inline]
    fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
    #[inline]
    fn set(&mut self, f: u16, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    /// IP protocol number (0 for a fwmark template).
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.protocol
    }
    /// Whether client and VIP are IPv6.
    #[inline]
    pub fn is_v6(&self) -> bool {
        self.has(F_V6)
    }
    /// Whether the real server address is IPv6.
    #[inline]
    pub fn dest_is_v6(&self) -> bool {
        self.has(F_DEST_V6)
    }
    /// Client address (for a template: the masked client network).
    #[inline]
    pub fn caddr(&self) -> IpAddr {
        addr::from_bits(self.caddr, self.is_v6())
    }
    /// Client port.
    #[inline]
    pub fn cport(&self) -> u16 {
        self.cport
    }
    /// VIP (for a fwmark template: the mark in the low 32 bits).
    #[inline]
    pub fn vaddr(&self) -> IpAddr {
        addr::from_bits(self.vaddr, self.is_v6())
    }
    /// VIP port.
    #[inline]
    pub fn vport(&self) -> u16 {
        self.vport
    }
    /// Real server address.
    #[inline]
    pub fn daddr(&self) -> IpAddr {
        addr::from_bits(self.daddr, self.dest_is_v6())
    }
    /// Real server port.
    #[inline]
    pub fn dport(&self) -> u16 {
        self.dport
    }
    /// Full-NAT local address and port.
    #[inline]
    pub fn laddr(&self) -> Option<(IpAddr, u16)> {
        self.has(F_LADDR)
            .then(|| (addr::from_bits(self.laddr, self.dest_is_v6()), self.lport))
    }
    /// Forwarding method.
    #[inline]
    pub fn fwd(&self) -> FwdMethod {
        FwdMethod::from_bits((self.flags & F_FWD_MASK) >> F_FWD_SHIFT)
    }
    /// Protocol state byte (see [`crate::proto`]).
    #[inline]
    pub fn state(&self) -> u8 {
        self.state
    }
    /// Whether this is a persistence template.
    #[inline]
    pub fn is_template(&self) -> bool {
        self.has(F_TEMPLATE)
    }
    /// Whether the template saw its controlled connection established (`IP_VS_CTPL_S_ASSURED`).
    #[inline]
    pub fn is_assured(&self) -> bool {
        self.has(F_ASSURED)
    }
    /// Whether the connection is counted inactive (`IP_VS_CONN_F_INACTIVE`).
    #[inline]
    pub fn is_inactive(&self) -> bool {
        self.has(F_INACTIVE)
    }
    /// Whether no output packet was seen (`IP_VS_CONN_F_NOOUTPUT`).
    #[inline]
    pub fn no_output(&self) -> bool {
        self.has(F_NOOUTPUT)
    }
    /// Whether a template is still findable (not invalidated by `ip_vs_check_template`).
    #[inline]
    pub fn is_hashed(&self) -> bool {
        self.has(F_IN_HASHED)
    }
    /// The dest.
    #[inline]
    pub fn dest(&self) -> DestId {
        self.dest
    }
    /// The controlling template.
    #[inline]
    pub fn control(&self) -> Option<ConnRef> {
        (self.control != NIL).then_some(ConnRef(self.control))
    }
    /// Whether this is the entry of a one-packet datagram (`IP_VS_CONN_F_ONE_PACKET`): in
    /// the out index only, so that its reply is translated back, and never found by the
    /// client's next datagram, which is scheduled again.
    #[inline]
    pub fn is_one_packet(&self) -> bool {
        self.has(F_ONE_PACKET)
    }
    /// How many connections this entry controls.
    #[inline]
    pub fn n_control(&self) -> u32 {
        self.n_control
    }
    /// The timeout the entry is re-armed with.
    #[inline]
    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms
    }

    /// The in key of a connection (templates: the template key).
    pub fn in_key(&self) -> ConnKey {
        ConnKey {
            protocol: self.protocol,
            v6: self.is_v6(),
            src: self.caddr,
            sport: self.cport,
            dst: self.vaddr,
            dport: self.vport,
        }
    }

    /// The out key: what a reply carries.
    pub fn out_key(&self) -> ConnKey {
        match self.fwd() {
            FwdMethod::FullNat if self.has(F_LADDR) => ConnKey {
                protocol: self.protocol,
                v6: self.dest_is_v6(),
                src: self.daddr,
                sport: self.dport,
                dst: self.laddr,
                dport: self.lport,
            },
            FwdMethod::Masq | FwdMethod::FullNat => ConnKey {
                protocol: self.protocol,
                v6: self.dest_is_v6(),
                src: self.daddr,
                sport: self.dport,
                dst: self.caddr,
                dport: self.cport,
            },
            _ => ConnKey {
                protocol: self.protocol,
                v6: self.is_v6(),
                src: self.vaddr,
                sport: self.vport,
                dst: self.caddr,
                dport: self.cport,
            },
        }
    }
}

/// The in-index bucket of a key, from [`ConnTable::lookup_in_bucket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InBucket(usize);

/// What a new entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewConn {
    /// In key: client, VIP (a template's key: masked client, port 0, VIP or fwmark).
    pub key: ConnKey,
    /// Real server address bits and family.
    pub daddr: u128,
    /// Real server is IPv6.
    pub dest_v6: bool,
    /// Real server port.
    pub dport: u16,
    /// Full-NAT local address bits and port.
    pub laddr: Option<(u128, u16)>,
    /// Forwarding method.
    pub fwd: FwdMethod,
    /// The dest.
    pub dest: DestId,
    /// A persistence template.
    pub template: bool,
    /// Initial timeout.
    pub timeout_ms: u32,
    /// The controlling template.
    pub control: Option<ConnRef>,
    /// A one-packet datagram's entry ([`Conn::is_one_packet`]): indexed for its reply only.
    pub one_packet: bool,
}

/// Sizing of a [`ConnTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnTableConfig {
    /// Entries (connections + templates) held at most.
    pub capacity: u32,
    /// Bucket heads per direction; rounded up to a power of two. 0: `capacity` rounded up.
    pub buckets: u32,
    /// Wheel tick is `2^tick_shift` ms (default 6: 64 ms). An entry expires at the first
    /// `pop_due` at or after its deadline rounded up to a tick.
    pub tick_shift: u8,
    /// Wheel slots, rounded up to a power of two (default 16384: with 64 ms ticks one turn
    /// is 17.5 minutes, beyond TCP's 15-minute ESTABLISHED timeout; longer timeouts are
    /// re-filed once per turn).
    pub wheel_slots: u32,
    /// Seed of the bucket hash.
    pub hash_seed: u64,
}

impl Default for ConnTableConfig {
    fn default() -> Self {
        ConnTableConfig {
            capacity: 1 << 20,
            buckets: 0,
            tick_shift: 6,
            wheel_slots: 1 << 14,
            hash_seed: 0x5eed_0fd9_c5a1_7e33,
        }
    }
}

/// The connection table of one worker (see the module documentation).
#[derive(Clone, Debug)]
pub struct ConnTable {
    entries: Vec<Conn>,
    in_heads: Vec<u32>,
    out_heads: Vec<u32>,
    bucket_mask: u32,
    free: u32,
    len: u32,
    seed: u64,
    pub(crate) slots: Vec<u32>,
    pub(crate) slot_mask: u32,
    pub(crate) tick_shift: u32,
    pub(crate) cursor: u32,
    pub(crate) pending: u32,
    /// The newest connection, not yet linked into the out index (see
    /// [`ConnTable::settle`]); `NIL` if none.
    out_pending: u32,
}

#[inline]
fn fold(a: u128) -> u64 {
    (a as u64) ^ ((a >> 64) as u64).rotate_left(23)
}

#[inline]
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl ConnTable {
    /// Allocates a table for `cfg.capacity` entries; `now_ms` starts the wheel.
    pub fn new(cfg: ConnTableConfig, now_ms: u64) -> ConnTable {
        let cap = cfg.capacity.min(NIL - 1);
        let buckets = if cfg.buckets == 0 { cap } else { cfg.buckets }
            .max(1)
            .next_power_of_two();
        let slots = cfg.wheel_slots.max(2).next_power_of_two();
        let mut entries = vec![Conn::EMPTY; cap as usize];
        for (i, e) in entries.iter_mut().enumerate() {
            e.in_next = if i + 1 < cap as usize {
                i as u32 + 1
            } else {
                NIL
            };
        }
        let tick_shift = cfg.tick_shift.min(20) as u32;
        ConnTable {
            entries,
            in_heads: vec![NIL; buckets as usize],
            out_heads: vec![NIL; buckets as usize],
            bucket_mask: buckets - 1,
            free: if cap > 0 { 0 } else { NIL },
            len: 0,
            seed: cfg.hash_seed,
            slots: vec![NIL; slots as usize],
            slot_mask: slots - 1,
            tick_shift,
            cursor: (now_ms >> tick_shift) as u32,
            pending: NIL,
            out_pending: NIL,
        }
    }

    /// Entries in use (connections and templates).
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether no entry is in use.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The fixed capacity.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Bytes held by the table: entries, both indexes and the wheel.
    pub fn memory_bytes(&self) -> usize {
        self.entries.len() * ENTRY_BYTES
            + (self.in_heads.len() + self.out_heads.len() + self.slots.len()) * 4
    }

    /// The entry behind `r`.
    #[inline]
    pub fn get(&self, r: ConnRef) -> &Conn {
        &self.entries[r.0 as usize]
    }

    #[inline]
    pub(crate) fn entry_mut(&mut self, r: ConnRef) -> &mut Conn {
        &mut self.entries[r.0 as usize]
    }

    /// Every entry in use.
    pub fn iter(&self) -> impl Iterator<Item = (ConnRef, &Conn)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.has(F_IN_USE))
            .map(|(i, e)| (ConnRef(i as u32), e))
    }

    /// Whether `r` names an entry in use.
    #[inline]
    pub fn is_live(&self, r: ConnRef) -> bool {
        self.entries
            .get(r.0 as usize)
            .is_some_and(|e| e.has(F_IN_USE))
    }

    #[inline]
    fn bucket(&self, k: &ConnKey, template: bool) -> usize {
        let a = fold(k.src).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let b = fold(k.dst)
            .rotate_left(17)
            .wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        let c = ((k.sport as u64) << 32)
            | ((k.dport as u64) << 16)
            | ((k.protocol as u64) << 8)
            | ((k.v6 as u64) << 1)
            | template as u64;
        (fmix(self.seed ^ a ^ b ^ c.wrapping_mul(0x1656_67b1_9e37_79f9)) as u32 & self.bucket_mask)
            as usize
    }

    /// The connection (not template) whose in key is `k`.
    #[inline]
    pub fn lookup_in(&self, k: &ConnKey) -> Option<ConnRef> {
        self.lookup_in_bucket(k).0
    }

    /// [`ConnTable::lookup_in`], and the bucket of `k`, so that a connection created for
    /// the same key does not hash it again ([`ConnTable::insert_in_bucket`]).
    #[inline]
    pub(crate) fn lookup_in_bucket(&self, k: &ConnKey) -> (Option<ConnRef>, InBucket) {
        let b = self.bucket(k, false);
        (self.walk_in(self.in_heads[b], k), InBucket(b))
    }

    /// [`ConnTable::settle`], then [`ConnTable::lookup_in_bucket`]: the two bucket-head
    /// reads are issued back to back, so their cache misses overlap.
    #[inline]
    pub(crate) fn settle_lookup_in(&mut self, k: &ConnKey) -> (Option<ConnRef>, InBucket) {
        let b = self.bucket(k, false);
        self.settle();
        (self.walk_in(self.in_heads[b], k), InBucket(b))
    }

    #[inline]
    fn walk_in(&self, head: u32, k: &ConnKey) -> Option<ConnRef> {
        let mut i = head;
        while i != NIL {
            let e = &self.entries[i as usize];
            if e.caddr == k.src
                && e.cport == k.sport
                && e.vaddr == k.dst
                && e.vport == k.dport
                && e.protocol == k.protocol
                && e.has(F_V6) == k.v6
                && !e.has(F_TEMPLATE)
            {
                return Some(ConnRef(i));
            }
            i = e.in_next;
        }
        None
    }

    /// The valid template whose key is `k`.
    #[inline]
    pub fn lookup_template(&self, k: &ConnKey) -> Option<ConnRef> {
        let mut i = self.in_heads[self.bucket(k, true)];
        while i != NIL {
            let e = &self.entries[i as usize];
            if e.has(F_TEMPLATE) && e.in_key() == *k {
                return Some(ConnRef(i));
            }
            i = e.in_next;
        }
        None
    }

    /// The connection whose out key is `k` (a reply).
    #[inline]
    pub fn lookup_out(&self, k: &ConnKey) -> Option<ConnRef> {
        let p = self.out_pending;
        if p != NIL && self.entries[p as usize].out_key() == *k {
            return Some(ConnRef(p));
        }
        let mut i = self.out_heads[self.bucket(k, false)];
        while i != NIL {
            let e = &self.entries[i as usize];
            if e.out_key() == *k {
                return Some(ConnRef(i));
            }
            i = e.out_next;
        }
        None
    }

    /// Creates an entry, indexes it, arms its timer with `nc.timeout_ms` from `now_ms`, and
    /// counts it in its controlling template. Connections start inactive; forwarding methods
    /// that do not see replies start with `NOOUTPUT` (`__ip_vs_update_dest`'s `conn_flags`).
    pub fn insert(&mut self, nc: &NewConn, now_ms: u64) -> Result<ConnRef, DropReason> {
        self.insert_in_bucket(nc, now_ms, None)
    }

    /// [`ConnTable::insert`] with the in bucket of `nc.key` already known (from
    /// [`ConnTable::lookup_in_bucket`] of the same key; not for templates).
    ///
    /// The new connection's out-index link is deferred (`out_pending`) until the next
    /// [`ConnTable::settle`], which the worker calls right before its next lookup, so that the
    /// two random reads of bucket heads (the out head of this connection, the in head of the
    /// next packet) are in flight together instead of one after the other; until then
    /// [`ConnTable::lookup_out`] checks the pending entry first.
    pub(crate) fn insert_in_bucket(
        &mut self,
        nc: &NewConn,
        now_ms: u64,
        in_bucket: Option<InBucket>,
    ) -> Result<ConnRef, DropReason> {
        if self.free == NIL {
            return Err(DropReason::ConnTableFull);
        }
        let i = self.free;
        self.free = self.entries[i as usize].in_next;
        let mut flags = F_IN_USE | ((nc.fwd as u16) << F_FWD_SHIFT);
        if nc.key.v6 {
            flags |= F_V6;
        }
        if nc.dest_v6 {
            flags |= F_DEST_V6;
        }
        debug_assert!(!(nc.template && nc.one_packet));
        if nc.one_packet {
            flags |= F_ONE_PACKET;
        }
        if nc.template {
            flags |= F_TEMPLATE;
        } else {
            flags |= F_INACTIVE;
            if !nc.fwd.sees_output() {
                flags |= F_NOOUTPUT;
            }
        }
        let (laddr, lport) = match nc.laddr {
            Some((a, p)) => {
                flags |= F_LADDR;
                (a, p)
            }
            None => (0, 0),
        };
        self.entries[i as usize] = Conn {
            caddr: nc.key.src,
            vaddr: nc.key.dst,
            daddr: nc.daddr,
            laddr,
            cport: nc.key.sport,
            vport: nc.key.dport,
            dport: nc.dport,
            lport,
            timeout_ms: nc.timeout_ms,
            dest: nc.dest,
            control: nc.control.map_or(NIL, |c| c.0),
            protocol: nc.key.protocol,
            flags,
            ..Conn::EMPTY
        };
        if let Some(c) = nc.control {
            let ct = &mut self.entries[c.0 as usize];
            ct.n_control = ct.n_control.saturating_add(1);
        }
        debug_assert!(in_bucket.is_none() || !nc.template);
        if !nc.one_packet {
            let b = match in_bucket {
                Some(InBucket(b)) => b,
                None => self.bucket(&nc.key, nc.template),
            };
            debug_assert_eq!(b, self.bucket(&nc.key, nc.template));
            self.link_in(i, b);
        }
        if !nc.template {
            self.settle();
            self.out_pending = i;
        }
        self.len += 1;
        self.arm(ConnRef(i), now_ms);
        Ok(ConnRef(i))
    }

    /// Links the connection created last into the out index, if it is not yet.
    #[inline]
    pub(crate) fn settle(&mut self) {
        let i = self.out_pending;
        if i != NIL {
            self.out_pending = NIL;
            self.hash_out(i);
        }
    }

    fn link_in(&mut self, i: u32, b: usize) {
        self.entries[i as usize].in_next = self.in_heads[b];
        self.entries[i as usize].flags |= F_IN_HASHED;
        self.in_heads[b] = i;
    }

    fn hash_out(&mut self, i: u32) {
        let b = self.bucket(&self.entries[i as usize].out_key(), false);
        self.entries[i as usize].out_next = self.out_heads[b];
        self.entries[i as usize].flags |= F_OUT_HASHED;
        self.out_heads[b] = i;
    }

    fn unhash_in(&mut self, i: u32) {
        let e = self.entries[i as usize];
        if !e.has(F_IN_HASHED) {
            return;
        }
        let b = self.bucket(&e.in_key(), e.has(F_TEMPLATE));
        let next = e.in_next;
        if self.in_heads[b] == i {
            self.in_heads[b] = next;
        } else {
            let mut p = self.in_heads[b];
            while p != NIL {
                let pn = self.entries[p as usize].in_next;
                if pn == i {
                    self.entries[p as usize].in_next = next;
                    break;
                }
                p = pn;
            }
        }
        let e = &mut self.entries[i as usize];
        e.in_next = NIL;
        e.flags &= !F_IN_HASHED;
    }

    fn unhash_out(&mut self, i: u32) {
        let e = self.entries[i as usize];
        if !e.has(F_OUT_HASHED) {
            return;
        }
        let b = self.bucket(&e.out_key(), false);
        let next = e.out_next;
        if self.out_heads[b] == i {
            self.out_heads[b] = next;
        } else {
            let mut p = self.out_heads[b];
            while p != NIL {
                let pn = self.entries[p as usize].out_next;
                if pn == i {
                    self.entries[p as usize].out_next = next;
                    break;
                }
                p = pn;
            }
        }
        let e = &mut self.entries[i as usize];
        e.out_next = NIL;
        e.flags &= !F_OUT_HASHED;
    }

    /// Makes a template unfindable (`ip_vs_check_template` invalidating it); it stays until
    /// its timer expires and its controlled connections are gone.
    pub fn invalidate_template(&mut self, r: ConnRef) {
        if self.entries[r.0 as usize].has(F_TEMPLATE) {
            self.unhash_in(r.0);
        }
    }

    /// Frees an entry: unindexes it, stops its timer, and uncounts it from its controlling
    /// template (whose reference it returns, so the caller can apply the kernel's rules to it).
    /// The caller handles dest counters.
    pub fn remove(&mut self, r: ConnRef) -> Option<ConnRef> {
        let i = r.0;
        debug_assert!(self.entries[i as usize].has(F_IN_USE));
        if self.out_pending == i {
            self.out_pending = NIL;
        }
        self.unhash_in(i);
        self.unhash_out(i);
        self.unlink_timer(i);
        let ctl = self.entries[i as usize].control;
        if ctl != NIL {
            let ct = &mut self.entries[ctl as usize];
            ct.n_control = ct.n_control.saturating_sub(1);
        }
        self.entries[i as usize] = Conn {
            in_next: self.free,
            ..Conn::EMPTY
        };
        self.free = i;
        self.len -= 1;
        (ctl != NIL).then_some(ConnRef(ctl))
    }

    /// Records a state transition: state, `NOOUTPUT`, timeout.
    #[inline]
    pub(crate) fn set_transition(
        &mut self,
        r: ConnRef,
        state: u8,
        no_output: bool,
        timeout_ms: u32,
    ) {
        let e = &mut self.entries[r.0 as usize];
        e.state = state;
        e.set(F_NOOUTPUT, no_output);
        e.timeout_ms = timeout_ms;
    }

    /// Sets the timeout used by the next [`ConnTable::arm`].
    #[inline]
    pub fn set_timeout(&mut self, r: ConnRef, timeout_ms: u32) {
        self.entries[r.0 as usize].timeout_ms = timeout_ms;
    }

    #[inline]
    pub(crate) fn set_inactive(&mut self, r: ConnRef, on: bool) {
        self.entries[r.0 as usize].set(F_INACTIVE, on);
    }

    #[inline]
    pub(crate) fn set_assured(&mut self, r: ConnRef) {
        self.entries[r.0 as usize].set(F_ASSURED, true);
    }
}

#[cfg(test)]
mod tests;
