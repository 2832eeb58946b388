//! A set of byte strings.
//!
//! OBJECT ENCODING follows Redis 7.2's rules, and the storage follows the name:
//! - `intset` (members are all canonical 64-bit integers, at most `set-max-intset-entries`):
//!   one buffer `[width: u8][count: u32 LE][count integers, little-endian]`, every integer at
//!   the narrowest width (2, 4 or 8 bytes) that holds them all, as Redis's intset does, kept
//!   in ascending order (SMEMBERS answers in that order, as Redis does) and found by binary
//!   search. Ten small integers take 5 + 20 bytes, one 32-byte allocation;
//! - `listpack` (at most `set-max-listpack-entries` members of at most `set-max-listpack-value`
//!   bytes): a `MemberMap` (see `compact_map.rs`), packed in insertion order, linear lookups;
//! - `hashtable`: the `MemberMap` indexed. Conversions are one way (intset → listpack →
//!   hashtable), as in Redis.
//!
//! `SetValue` itself is an 8-byte handle with alignment 1 (`[u8; 8]`): the key's entry holds it
//! in its value part, in place of a pointer to a box (see `entry.rs`), so an intset costs its
//! entry and its one buffer. The handle is 0 for an empty intset, the intset buffer's address
//! with the low bit set, or the address of a boxed `MemberMap` (whose owner byte says listpack
//! or hashtable).

use super::compact_map::{MemberMap, Slot};
use crate::strconv::parse_i64_strict;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};

/// Redis caps the intset size setting at 2^30 entries (`intsetMaxEntries`).
const INTSET_ENTRIES_CAP: usize = 1 << 30;

/// The encoding thresholds in force when a set is changed (from the live configuration).
#[derive(Clone, Copy, Debug)]
pub struct SetLimits {
    /// `set-max-intset-entries`
    pub intset_entries: usize,
    /// `set-max-listpack-entries`
    pub listpack_entries: usize,
    /// `set-max-listpack-value`
    pub listpack_value: usize,
}

impl SetLimits {
    fn intset_max(&self) -> usize {
        self.intset_entries.min(INTSET_ENTRIES_CAP)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    IntSet,
    Listpack,
    Hashtable,
}

/// Bytes before an intset's integers: the width, then the count (u32 LE).
const INTSET_HEADER: usize = 5;
/// The handle's low bit: set for an intset buffer, clear for a boxed map.
const INTSET_TAG: usize = 1;

/// The narrowest intset width holding `v` (Redis's `_intsetValueEncoding`).
fn width_of(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

fn intset_layout(len: usize) -> Layout {
    // Alignment 2 keeps the handle's low bit free for the tag.
    Layout::from_size_align(len, 2).expect("intset size fits a layout")
}

/// The integer at position `i` of an intset buffer of `width`.
fn int_at(buf: &[u8], width: usize, i: usize) -> i64 {
    let at = INTSET_HEADER + i * width;
    let raw = &buf[at..at + width];
    match width {
        2 => i64::from(i16::from_le_bytes([raw[0], raw[1]])),
        4 => i64::from(i32::from_le_bytes(raw.try_into().expect("4 bytes"))),
        _ => i64::from_le_bytes(raw.try_into().expect("8 bytes")),
    }
}

/// A member as iteration hands it out: stored bytes, or an intset integer in its text form.
#[derive(Clone, Copy)]
pub enum Member<'a> {
    Bytes(&'a [u8]),
    Int(IntText),
}

/// An integer's canonical text, on the stack (at most 20 bytes: "-9223372036854775808").
#[derive(Clone, Copy)]
pub struct IntText {
    buf: [u8; 20],
    len: u8,
}

impl IntText {
    fn new(v: i64) -> Self {
        let mut buf = [0u8; 20];
        let mut at = 20;
        let mut n = v.unsigned_abs();
        loop {
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if v < 0 {
            at -= 1;
            buf[at] = b'-';
        }
        buf.copy_within(at.., 0);
        IntText {
            buf,
            len: (20 - at) as u8,
        }
    }
}

impl std::ops::Deref for Member<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Member::Bytes(b) => b,
            Member::Int(t) => &t.buf[..t.len as usize],
        }
    }
}

impl<'a> Member<'a> {
    /// The member as a `Cow`: borrowed when stored as bytes, owned for an intset's integer.
    pub fn into_cow(self) -> std::borrow::Cow<'a, [u8]> {
        match self {
            Member::Bytes(b) => std::borrow::Cow::Borrowed(b),
            Member::Int(_) => std::borrow::Cow::Owned(self.to_vec()),
        }
    }
}

impl AsRef<[u8]> for Member<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for Member<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

/// A set of byte strings: an 8-byte handle (see the module documentation).
#[derive(Default)]
#[repr(transparent)]
pub struct SetValue {
    raw: [u8; 8],
}

// SAFETY: a SetValue owns what its handle points to exclusively, like a Box.
unsafe impl Send for SetValue {}
// SAFETY: shared references only read it.
unsafe impl Sync for SetValue {}

const _: () = assert!(std::mem::size_of::<usize>() == 8 && std::mem::align_of::<SetValue>() == 1);

impl Drop for SetValue {
    fn drop(&mut self) {
        self.release();
    }
}

impl Clone for SetValue {
    fn clone(&self) -> Self {
        let mut copy = SetValue::default();
        if let Some(buf) = self.intset() {
            copy.set_intset(buf.to_vec());
        } else if let Some(map) = self.boxed() {
            copy.set_handle(Box::into_raw(Box::new(map.clone())) as usize);
        }
        copy
    }
}

impl PartialEq for SetValue {
    fn eq(&self, other: &Self) -> bool {
        self.encoding() == other.encoding()
            && self.len() == other.len()
            && self.iter().all(|m| other.contains(&m))
    }
}

impl std::fmt::Debug for SetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl SetValue {
    /// The handle's bytes, for an entry taking ownership of the set (see `entry.rs`, which
    /// keeps them in its value part and reads them back as a `SetValue` in place).
    pub(crate) fn into_handle(self) -> [u8; 8] {
        let raw = self.raw;
        std::mem::forget(self);
        raw
    }

    fn handle(&self) -> usize {
        usize::from_le_bytes(self.raw)
    }

    fn set_handle(&mut self, handle: usize) {
        self.raw = handle.to_le_bytes();
    }

    /// The intset buffer, when the set is a non-empty intset.
    fn intset(&self) -> Option<&[u8]> {
        let h = self.handle();
        if h & INTSET_TAG == 0 {
            return None;
        }
        let ptr = (h & !INTSET_TAG) as *const u8;
        // SAFETY: the handle holds a live buffer written by `set_intset`; its header (written
        // first) gives the length it was allocated with.
        unsafe {
            let width = usize::from(*ptr);
            let count = u32::from_le_bytes(*(ptr.add(1) as *const [u8; 4])) as usize;
            Some(std::slice::from_raw_parts(
                ptr,
                INTSET_HEADER + width * count,
            ))
        }
    }

    /// The boxed map, when the set is a listpack or a hashtable.
    fn boxed(&self) -> Option<&MemberMap> {
        let h = self.handle();
        // SAFETY: an untagged non-zero handle is a `Box<MemberMap>` owned by this value.
        (h != 0 && h & INTSET_TAG == 0).then(|| unsafe { &*(h as *const MemberMap) })
    }

    fn boxed_mut(&mut self) -> Option<&mut MemberMap> {
        let h = self.handle();
        // SAFETY: as in `boxed`; `&mut self` makes this the only reference.
        (h != 0 && h & INTSET_TAG == 0).then(|| unsafe { &mut *(h as *mut MemberMap) })
    }

    /// Frees what the handle points to and leaves an empty intset.
    fn release(&mut self) {
        let h = self.handle();
        if h == 0 {
            return;
        }
        if let Some(len) = self.intset().map(<[u8]>::len) {
            // SAFETY: allocated by `set_intset` with this layout.
            unsafe { dealloc((h & !INTSET_TAG) as *mut u8, intset_layout(len)) }
        } else {
            // SAFETY: the box `set_handle` was given; dropped once (the handle is cleared).
            drop(unsafe { Box::from_raw(h as *mut MemberMap) });
        }
        self.set_handle(0);
    }

    /// Replaces the storage with the intset buffer `buf` (header included; a count of 0
    /// leaves the handle empty).
    fn set_intset(&mut self, buf: Vec<u8>) {
        self.release();
        if buf.len() <= INTSET_HEADER {
            return;
        }
        let layout = intset_layout(buf.len());
        // SAFETY: the layout is not zero-sized; the copy fills it.
        unsafe {
            let ptr = alloc(layout);
            if ptr.is_null() {
                handle_alloc_error(layout);
            }
            std::ptr::copy_nonoverlapping(buf.as_ptr(), ptr, buf.len());
            self.set_handle(ptr as usize | INTSET_TAG);
        }
    }

    /// The set as a boxed map (converting an intset), for the listpack and hashtable encodings.
    fn map_mut(&mut self) -> &mut MemberMap {
        if self.boxed().is_none() {
            let mut map = MemberMap::new();
            for m in self.iter() {
                map.insert_new(&m, b"");
            }
            self.release();
            self.set_handle(Box::into_raw(Box::new(map)) as usize);
        }
        self.boxed_mut().expect("boxed")
    }

    fn intset_width(&self) -> usize {
        self.intset().map_or(2, |b| usize::from(b[0]))
    }

    fn encoding(&self) -> Encoding {
        match self.boxed() {
            None => Encoding::IntSet,
            Some(map) if map.owner_byte == 1 => Encoding::Listpack,
            Some(_) => Encoding::Hashtable,
        }
    }

    fn set_encoding(&mut self, encoding: Encoding) {
        let byte = match encoding {
            Encoding::IntSet => {
                debug_assert!(self.boxed().is_none(), "conversions are one way");
                return;
            }
            Encoding::Listpack => 1,
            Encoding::Hashtable => 2,
        };
        self.map_mut().owner_byte = byte;
    }

    pub fn len(&self) -> usize {
        match self.boxed() {
            Some(map) => map.len(),
            None => self
                .intset()
                .map_or(0, |b| (b.len() - INTSET_HEADER) / usize::from(b[0])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned by the value: the intset buffer, or the map's box and contents (O(1)).
    /// The handle itself lives in the key's entry.
    pub fn heap_bytes(&self) -> usize {
        use crate::keyspace::value::alloc_size;
        match self.boxed() {
            Some(map) => alloc_size(std::mem::size_of::<MemberMap>()) + map.heap_bytes(),
            None => self.intset().map_or(0, |b| alloc_size(b.len())),
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        match self.encoding() {
            Encoding::IntSet => "intset",
            Encoding::Listpack => "listpack",
            Encoding::Hashtable => "hashtable",
        }
    }

    /// Chooses the encoding of a set about to receive `size_hint` members, the first being
    /// `first` (Redis's `setTypeCreate`). For a set just created empty.
    pub fn start(&mut self, first: &[u8], size_hint: usize, limits: SetLimits) {
        debug_assert!(self.is_empty());
        if parse_i64_strict(first).is_some() && size_hint <= limits.intset_max() {
            // An empty handle is an empty intset.
        } else if size_hint <= limits.listpack_entries {
            self.set_encoding(Encoding::Listpack);
        } else {
            self.convert_to_hashtable(size_hint);
        }
    }

    /// Converts to `hashtable` before adding `size_hint` members that cannot fit the current
    /// encoding (Redis's `setTypeMaybeConvert`).
    pub fn prepare(&mut self, size_hint: usize, limits: SetLimits) {
        let too_many = match self.encoding() {
            Encoding::IntSet => size_hint > limits.intset_max(),
            Encoding::Listpack => size_hint > limits.listpack_entries,
            Encoding::Hashtable => false,
        };
        if too_many {
            self.convert_to_hashtable(self.len() + size_hint);
        }
    }

    fn convert_to_hashtable(&mut self, expected: usize) {
        self.set_encoding(Encoding::Hashtable);
        self.map_mut().make_indexed(expected);
    }

    /// Binary search of an intset: Ok(position) if present, Err(insert at).
    fn intset_search(&self, value: i64) -> Result<usize, usize> {
        let Some(buf) = self.intset() else {
            return Err(0);
        };
        let width = usize::from(buf[0]);
        let (mut lo, mut hi) = (0, (buf.len() - INTSET_HEADER) / width);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match int_at(buf, width, mid).cmp(&value) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Inserts `value` at position `at` of the intset, widening every integer first when it
    /// needs more bytes (Redis's `intsetUpgradeAndAdd`).
    fn intset_insert(&mut self, at: usize, value: i64) {
        let len = self.len();
        let old_width = self.intset_width();
        let width = old_width.max(width_of(value));
        let mut buf = Vec::with_capacity(INTSET_HEADER + (len + 1) * width);
        buf.push(width as u8);
        buf.extend_from_slice(&(len as u32 + 1).to_le_bytes());
        let old = self.intset().unwrap_or(&[]);
        let mut push = |v: i64| buf.extend_from_slice(&v.to_le_bytes()[..width]);
        for i in 0..at {
            push(int_at(old, old_width, i));
        }
        push(value);
        for i in at..len {
            push(int_at(old, old_width, i));
        }
        self.set_intset(buf);
    }

    /// Removes position `at` of the intset (the width stays, as in Redis).
    fn intset_remove(&mut self, at: usize) {
        let Some(old) = self.intset() else { return };
        let width = usize::from(old[0]);
        let len = (old.len() - INTSET_HEADER) / width;
        if at >= len {
            return;
        }
        let mut buf = Vec::with_capacity(old.len() - width);
        buf.push(width as u8);
        buf.extend_from_slice(&(len as u32 - 1).to_le_bytes());
        let from = INTSET_HEADER + at * width;
        buf.extend_from_slice(&old[INTSET_HEADER..from]);
        buf.extend_from_slice(&old[from + width..]);
        self.set_intset(buf);
    }

    fn find(&self, member: &[u8]) -> Option<Slot> {
        match self.boxed() {
            Some(map) => map.find(member),
            None => {
                let value = parse_i64_strict(member)?;
                self.intset_search(value).ok().map(|s| s as Slot)
            }
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.find(member).is_some()
    }

    /// Adds a member; true when it is new. Converts encodings as Redis's `setTypeAddAux` does.
    pub fn add(&mut self, member: &[u8], limits: SetLimits) -> bool {
        match self.encoding() {
            Encoding::IntSet => match parse_i64_strict(member) {
                Some(value) => match self.intset_search(value) {
                    Ok(_) => false,
                    Err(at) => {
                        if self.len() + 1 > limits.intset_max() {
                            // Redis adds, then converts: the same members either way.
                            self.convert_to_hashtable(self.len() + 1);
                            self.map_mut().insert_new(member, b"");
                        } else {
                            self.intset_insert(at, value);
                        }
                        true
                    }
                },
                None => {
                    if self.len() < limits.listpack_entries
                        && member.len() <= limits.listpack_value
                        && self.longest_integer() <= limits.listpack_value
                    {
                        self.set_encoding(Encoding::Listpack);
                    } else {
                        self.convert_to_hashtable(self.len() + 1);
                    }
                    self.map_mut().insert_new(member, b"");
                    true
                }
            },
            Encoding::Listpack => {
                if self.contains(member) {
                    return false;
                }
                if self.len() >= limits.listpack_entries || member.len() > limits.listpack_value {
                    self.convert_to_hashtable(self.len() + 1);
                }
                self.map_mut().insert_new(member, b"");
                true
            }
            Encoding::Hashtable => self.map_mut().insert(member, b""),
        }
    }

    /// Text length of the intset's widest member (its smallest or its largest).
    fn longest_integer(&self) -> usize {
        let Some(buf) = self.intset() else { return 0 };
        let width = usize::from(buf[0]);
        let len = (buf.len() - INTSET_HEADER) / width;
        let text = |i| IntText::new(int_at(buf, width, i)).len as usize;
        text(0).max(text(len - 1))
    }

    /// Removes a member; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.find(member) {
            Some(slot) => {
                self.remove_at(slot);
                true
            }
            None => false,
        }
    }

    /// Removes the member in `slot` (from a random pick).
    pub fn remove_at(&mut self, slot: Slot) {
        match self.boxed_mut() {
            Some(map) => map.remove_at(slot),
            None => self.intset_remove(slot as usize),
        }
    }

    /// Members in storage order (ascending for an intset, insertion order for a listpack).
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> + '_ {
        let map = self.boxed();
        let ints = self.intset().filter(|_| map.is_none());
        let width = ints.map_or(2, |b| usize::from(b[0]));
        let count = ints.map_or(0, |b| (b.len() - INTSET_HEADER) / width);
        (0..count)
            .map(move |i| Member::Int(IntText::new(int_at(ints.unwrap_or(&[]), width, i))))
            .chain(map.into_iter().flat_map(|m| m.keys().map(Member::Bytes)))
    }

    /// The member in `slot`.
    pub fn at(&self, slot: Slot) -> Option<Member<'_>> {
        match self.boxed() {
            Some(map) => map.at(slot).map(|(m, _)| Member::Bytes(m)),
            None => {
                let buf = self.intset()?;
                let width = usize::from(buf[0]);
                let i = slot as usize;
                (i < (buf.len() - INTSET_HEADER) / width)
                    .then(|| Member::Int(IntText::new(int_at(buf, width, i))))
            }
        }
    }

    /// True once the set is a `hashtable` (SSCAN then walks it by cursor).
    pub fn is_indexed(&self) -> bool {
        self.boxed().is_some_and(MemberMap::is_indexed)
    }

    /// One SSCAN step (see `MemberMap::scan`); an intset or listpack answers whole, cursor 0.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8])) -> u64 {
        match self.boxed() {
            Some(map) => map.scan(cursor, count, |m, _| f(m)),
            None => {
                self.iter().for_each(|m| f(&m));
                0
            }
        }
    }

    /// A uniformly random live slot; `below(n)` returns a random number in `0..n`.
    pub fn random_slot(&self, below: &mut impl FnMut(usize) -> usize) -> Option<Slot> {
        match self.boxed() {
            Some(map) => map.random_slot(below),
            None => match self.len() {
                0 => None,
                n => Some(below(n) as Slot),
            },
        }
    }

    /// `count` distinct random slots (all of them, in slot order, when `count >= len`).
    pub fn random_distinct(
        &self,
        count: usize,
        below: &mut impl FnMut(usize) -> usize,
    ) -> Vec<Slot> {
        match self.boxed() {
            Some(map) => map.random_distinct(count, below),
            None => super::compact_map::distinct_slots(self.len() as Slot, count, below),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: SetLimits = SetLimits {
        intset_entries: 4,
        listpack_entries: 3,
        listpack_value: 5,
    };

    fn set_of(members: &[&str]) -> SetValue {
        let mut s = SetValue::default();
        s.start(members[0].as_bytes(), 1, LIMITS);
        for m in members {
            s.add(m.as_bytes(), LIMITS);
        }
        s
    }

    #[test]
    fn intset_keeps_numeric_order() {
        let s = set_of(&["10", "-3", "2", "10"]);
        assert_eq!(s.encoding_name(), "intset");
        let members: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
        assert_eq!(members, vec![b"-3".to_vec(), b"2".to_vec(), b"10".to_vec()]);
        assert!(s.contains(b"2") && !s.contains(b"02") && !s.contains(b"x"));
    }

    #[test]
    fn intset_to_listpack_convert_to_hashtable() {
        let mut s = set_of(&["1", "2"]);
        s.add(b"abc", LIMITS);
        assert_eq!(s.encoding_name(), "listpack");
        s.add(b"d", LIMITS);
        assert_eq!(s.encoding_name(), "hashtable");
        assert_eq!(s.len(), 4);
        s.remove(b"abc");
        s.remove(b"d");
        assert_eq!(s.encoding_name(), "hashtable");
    }

    #[test]
    fn intset_past_its_limit_or_long_member_becomes_hashtable() {
        let mut s = set_of(&["1", "2", "3", "4"]);
        assert_eq!(s.encoding_name(), "intset");
        s.add(b"5", LIMITS);
        assert_eq!(s.encoding_name(), "hashtable");
        let mut s = set_of(&["1"]);
        s.add(b"toolong", LIMITS);
        assert_eq!(s.encoding_name(), "hashtable");
        let mut s = set_of(&["123456"]);
        s.add(b"a", LIMITS);
        assert_eq!(
            s.encoding_name(),
            "hashtable",
            "an integer wider than the listpack value"
        );
    }

    #[test]
    fn start_and_prepare_use_the_size_hint() {
        let mut s = SetValue::default();
        s.start(b"1", 5, LIMITS);
        assert_eq!(s.encoding_name(), "hashtable");
        let mut s = SetValue::default();
        s.start(b"a", 3, LIMITS);
        assert_eq!(s.encoding_name(), "listpack");
        s.add(b"a", LIMITS);
        s.prepare(4, LIMITS);
        assert_eq!(s.encoding_name(), "hashtable");
    }

    const BIG: SetLimits = SetLimits {
        intset_entries: 512,
        listpack_entries: 128,
        listpack_value: 64,
    };

    fn members(s: &SetValue) -> Vec<String> {
        s.iter()
            .map(|m| String::from_utf8(m.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn intset_packs_at_the_narrowest_width_and_widens() {
        let mut s = SetValue::default();
        s.start(b"1", 1, BIG);
        for i in 1..=10 {
            assert!(s.add(i.to_string().as_bytes(), BIG));
        }
        // 5 header bytes and ten 2-byte integers: one 32-byte allocation.
        assert_eq!(s.intset().unwrap().len(), 25);
        assert_eq!(s.heap_bytes(), 32);
        assert!(s.add(b"100000", BIG));
        assert_eq!(s.intset_width(), 4);
        assert!(s.add(b"-9223372036854775808", BIG));
        assert!(s.add(b"9223372036854775807", BIG));
        assert_eq!(s.intset_width(), 8);
        assert_eq!(s.len(), 13);
        let got = members(&s);
        assert_eq!(got[0], "-9223372036854775808");
        assert_eq!(got[1], "1");
        assert_eq!(got[11], "100000");
        assert_eq!(got[12], "9223372036854775807");
        assert!(s.contains(b"100000") && !s.contains(b"100001"));
        assert!(s.remove(b"-9223372036854775808"));
        assert!(!s.remove(b"-9223372036854775808"));
        assert_eq!(s.len(), 12);
        assert_eq!(s.encoding_name(), "intset");
        let copy = s.clone();
        assert_eq!(copy, s);
        for m in members(&copy) {
            assert!(s.remove(m.as_bytes()));
        }
        assert!(s.is_empty());
        assert_eq!(s.heap_bytes(), 0);
    }

    #[test]
    fn slots_of_an_intset_are_positions() {
        let s = set_of(&["7", "-1", "3"]);
        assert_eq!(&*s.at(0).unwrap(), b"-1");
        assert_eq!(&*s.at(2).unwrap(), b"7");
        assert!(s.at(3).is_none());
        let mut picks = s.random_distinct(2, &mut |n| n - 1);
        picks.sort_unstable();
        assert_eq!(picks.len(), 2);
        let mut seen = Vec::new();
        assert_eq!(s.scan(0, 1, |m| seen.push(m.to_vec())), 0);
        assert_eq!(seen.len(), 3);
    }
}
