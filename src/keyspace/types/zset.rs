//! A sorted set: member -> score, ordered by (score, member).
//!
//! Three parts, sized for memory per member (a figure we compete on) and for rank queries on
//! large sets:
//!
//! - `slots`: a slab of (member, score) nodes. A member lives in one allocation behind a thin
//!   8-byte pointer (`Member`: a varint length, then the bytes). Positions are stable while the
//!   member exists, so ZSCAN's cursor is a slot number, and the other two parts refer to a member
//!   by its 4-byte slot number.
//! - `index`: a hash table of slot numbers keyed by the member's bytes (member -> score in O(1)).
//! - `order`: the slot numbers sorted by (score, member), in blocks of at most `BLOCK_MAX`
//!   entries, each block holding its scores next to its slot numbers (a binary search reads
//!   scores without visiting the members). A rank is the sum of the lengths of the blocks before
//!   it (`lens`, one byte per block, scanned contiguously: ~8 K bytes for 1 M members) plus the
//!   offset in the block. Redis uses a skiplist with spans for the same answers.
//!
//! Per member this costs 16 bytes of slab, ~6 of index, ~13 of order and the member's own
//! allocation; Redis's skiplist node, dict entry and sds string cost about twice that.
//!
//! `Member` is the one piece of `unsafe` here: building the allocation, reading its header and
//! freeing it with the same layout. Its invariant is local: `ptr` always points to a live
//! allocation written by `Member::new`, whose size the header gives.
//!
//! Scores are never NaN (commands refuse a NaN result before storing), so (score, member)
//! is a total order; -0 and 0 compare equal, as with Redis's `<` and `==`.

use crate::keyspace::value::alloc_size;
use hashbrown::HashTable;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cmp::Ordering;
use std::hash::BuildHasher;
use std::ptr::NonNull;

/// Entries per order block. A rank costs one byte-sum per block before it; an insert moves at
/// most this many scores and slot numbers.
const BLOCK_MAX: usize = 128;
/// Up to this many members a lookup walks the slab and no index exists (small sets, like
/// Redis's listpack, trade a short scan for the index's bytes).
const INDEX_FROM: usize = 32;
/// Below this many entries the slab and the order blocks grow by a quarter, not by doubling,
/// so a small set's vectors stay close to their length.
const EXACT_GROWTH_BELOW: usize = 64;
/// A block this short merges with its neighbour when both fit one block.
const BLOCK_MERGE_BELOW: usize = BLOCK_MAX / 4;
/// Bytes one index bucket costs: a 4-byte slot number and a control byte, at hashbrown's
/// 7/8 load factor.
const INDEX_BUCKET_BYTES: usize = 6;

/// A member's bytes in one allocation behind a thin pointer: `[len varint][bytes]`.
struct Member {
    ptr: NonNull<u8>,
}

// SAFETY: a Member owns its allocation exclusively, like a Box<[u8]>.
unsafe impl Send for Member {}
// SAFETY: shared references only read the allocation.
unsafe impl Sync for Member {}

impl Member {
    fn new(bytes: &[u8]) -> Member {
        let mut header = [0u8; 10];
        let mut header_len = 0;
        let mut n = bytes.len() as u64;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                header[header_len] = byte;
                header_len += 1;
                break;
            }
            header[header_len] = byte | 0x80;
            header_len += 1;
        }
        let total = header_len + bytes.len();
        let layout = Layout::from_size_align(total, 1).expect("member size fits a layout");
        // SAFETY: `total >= 1`, so the layout is not zero-sized; the two copies fill exactly
        // `total` bytes of the fresh allocation and their sources do not overlap it.
        unsafe {
            let ptr = alloc(layout);
            if ptr.is_null() {
                handle_alloc_error(layout);
            }
            std::ptr::copy_nonoverlapping(header.as_ptr(), ptr, header_len);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.add(header_len), bytes.len());
            Member {
                ptr: NonNull::new_unchecked(ptr),
            }
        }
    }

    /// (length of the bytes, offset of the bytes) read from the header.
    fn header(&self) -> (usize, usize) {
        let mut n: u64 = 0;
        let mut at = 0;
        loop {
            // SAFETY: `new` wrote a complete varint at the start of the allocation.
            let byte = unsafe { *self.ptr.as_ptr().add(at) };
            n |= u64::from(byte & 0x7f) << (7 * at);
            at += 1;
            if byte & 0x80 == 0 {
                return (n as usize, at);
            }
        }
    }

    fn bytes(&self) -> &[u8] {
        let (len, at) = self.header();
        // SAFETY: the allocation holds `len` bytes after the header and lives as long as self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(at), len) }
    }

    /// What the allocator hands out for this member.
    fn alloc_bytes(&self) -> usize {
        let (len, at) = self.header();
        alloc_size(len + at)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let (len, at) = self.header();
        // SAFETY: `ptr` came from `alloc` with this exact layout (size recomputed from the
        // header `new` wrote, alignment 1) and is freed once, here.
        unsafe {
            dealloc(
                self.ptr.as_ptr(),
                Layout::from_size_align_unchecked(len + at, 1),
            )
        }
    }
}

impl Clone for Member {
    fn clone(&self) -> Member {
        Member::new(self.bytes())
    }
}

/// One slab node; `member` is `None` for a free slot.
#[derive(Clone)]
struct Slot {
    member: Option<Member>,
    score: f64,
}

/// A run of the order: scores and slot numbers side by side, sorted by (score, member).
#[derive(Clone, Default)]
struct Block {
    scores: Vec<f64>,
    ids: Vec<u32>,
}

impl Block {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn heap_bytes(&self) -> usize {
        alloc_size(self.scores.capacity() * 8) + alloc_size(self.ids.capacity() * 4)
    }
}

/// One end of a score range (ZRANGEBYSCORE, ZCOUNT ...).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    /// `(` form: the value itself is outside the range.
    pub exclusive: bool,
}

/// One end of a lexicographic range (ZRANGEBYLEX ...): `-`, `+`, `[x` or `(x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LexBound<'a> {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    Inclusive(&'a [u8]),
    Exclusive(&'a [u8]),
}

/// What `insert` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    Added,
    /// The member existed with another score.
    Updated,
    /// The member existed with this score.
    Unchanged,
}

/// The listpack limits of `zset-max-listpack-entries` / `zset-max-listpack-value`, which decide
/// the encoding name OBJECT ENCODING reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListpackLimits {
    pub entries_max: usize,
    pub value_bytes_max: usize,
}

/// A sorted set: member -> score, ordered by (score, member).
#[derive(Clone, Default)]
pub struct ZSetValue {
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    blocks: Vec<Block>,
    /// Length of each block, contiguous so that a rank sums few cache lines.
    lens: Vec<u8>,
    /// Bytes of the members' allocations plus the blocks' vectors (running counts).
    member_bytes: usize,
    block_bytes: usize,
    /// Redis's encoding name: "skiplist" once the set outgrew the listpack limits (one way).
    skiplist: bool,
    /// True once `index` holds every member (past `INDEX_FROM` members; until the set empties).
    indexed: bool,
}

impl ZSetValue {
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned by the value (kept as running counts and capacities: O(1)).
    pub fn heap_bytes(&self) -> usize {
        alloc_size(self.slots.capacity() * std::mem::size_of::<Slot>())
            + alloc_size(self.free.capacity() * 4)
            + self.index.capacity() * INDEX_BUCKET_BYTES
            + alloc_size(self.blocks.capacity() * std::mem::size_of::<Block>())
            + alloc_size(self.lens.capacity())
            + self.member_bytes
            + self.block_bytes
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        if self.skiplist {
            "skiplist"
        } else {
            "listpack"
        }
    }

    /// An empty set whose encoding follows Redis's creation rule: skiplist from the start when
    /// the expected size or member length already exceeds the listpack limits.
    pub fn with_hint(len_hint: usize, member_len_hint: usize, limits: ListpackLimits) -> Self {
        ZSetValue {
            skiplist: len_hint > limits.entries_max || member_len_hint > limits.value_bytes_max,
            ..ZSetValue::default()
        }
    }

    /// Redis's `zsetConvertToListpackIfNeeded` for a freshly built result (the STORE
    /// commands): listpack when it fits the limits, skiplist otherwise.
    pub fn settle_encoding(&mut self, limits: ListpackLimits) {
        self.skiplist = self.len() > limits.entries_max
            || self
                .iter()
                .any(|(member, _)| member.len() > limits.value_bytes_max);
    }

    fn member(&self, id: u32) -> &[u8] {
        self.slots[id as usize]
            .member
            .as_ref()
            .expect("ordered slot holds a member")
            .bytes()
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        if !self.indexed {
            return self
                .slots
                .iter()
                .position(|s| s.member.as_ref().is_some_and(|m| m.bytes() == member))
                .map(|p| p as u32);
        }
        let hash = self.hasher.hash_one(member);
        self.index
            .find(hash, |&id| self.member(id) == member)
            .copied()
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.find(member).is_some()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|id| self.slots[id as usize].score)
    }

    /// (score, member) of `a` compared with the given key.
    fn cmp_key(&self, score: f64, id: u32, key_score: f64, key_member: &[u8]) -> Ordering {
        match score.partial_cmp(&key_score).expect("scores are never NaN") {
            Ordering::Equal => self.member(id).cmp(key_member),
            other => other,
        }
    }

    /// The (block, offset) where (score, member) is or would be inserted.
    fn position(&self, score: f64, member: &[u8]) -> (usize, usize) {
        let below = |s: f64, id: u32| self.cmp_key(s, id, score, member) == Ordering::Less;
        let b = self.blocks.partition_point(|blk| {
            below(
                *blk.scores.last().expect("blocks are never empty"),
                *blk.ids.last().expect("blocks are never empty"),
            )
        });
        if b == self.blocks.len() {
            return match self.blocks.last() {
                Some(last) => (b - 1, last.len()),
                None => (0, 0),
            };
        }
        let blk = &self.blocks[b];
        let i = partition(blk.len(), |i| below(blk.scores[i], blk.ids[i]));
        (b, i)
    }

    fn rank_of(&self, block: usize, offset: usize) -> usize {
        self.lens[..block]
            .iter()
            .map(|&n| n as usize)
            .sum::<usize>()
            + offset
    }

    /// (block, offset) of rank `rank` (< len).
    fn locate(&self, mut rank: usize) -> (usize, usize) {
        for (b, &n) in self.lens.iter().enumerate() {
            let n = n as usize;
            if rank < n {
                return (b, rank);
            }
            rank -= n;
        }
        (self.blocks.len(), 0)
    }

    /// Sets `member`'s score, adding it if missing.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: ListpackLimits) -> Inserted {
        debug_assert!(!score.is_nan());
        let existing = self.find(member);
        if existing.is_none()
            && (self.len() + 1 > limits.entries_max || member.len() > limits.value_bytes_max)
        {
            self.skiplist = true;
        }
        // A listpack stores scores as text, where Redis writes -0 as the integer 0.
        let score = if self.skiplist { score } else { score + 0.0 };
        if let Some(id) = existing {
            let old = self.slots[id as usize].score;
            if old == score {
                return Inserted::Unchanged;
            }
            self.reorder(id, old, score);
            return Inserted::Updated;
        }
        let stored = Member::new(member);
        self.member_bytes += stored.alloc_bytes();
        let slot = Slot {
            member: Some(stored),
            score,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                reserve_small(&mut self.slots);
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        if self.indexed {
            let hash = self.hasher.hash_one(member);
            let (slots, hasher) = (&self.slots, &self.hasher);
            self.index.insert_unique(hash, id, |&other| {
                let m = slots[other as usize].member.as_ref().expect("indexed slot");
                hasher.hash_one(m.bytes())
            });
        } else if self.len() > INDEX_FROM {
            self.build_index();
        }
        let (b, i) = self.position(score, member);
        self.order_insert(b, i, score, id);
        Inserted::Added
    }

    /// Indexes every member (the set grew past `INDEX_FROM`).
    fn build_index(&mut self) {
        let (slots, hasher) = (&self.slots, &self.hasher);
        let hash_of = |id: u32| {
            let m = slots[id as usize].member.as_ref().expect("indexed slot");
            hasher.hash_one(m.bytes())
        };
        let mut index = HashTable::with_capacity(self.len());
        for (id, slot) in slots.iter().enumerate() {
            if slot.member.is_some() {
                index.insert_unique(hash_of(id as u32), id as u32, |&other| hash_of(other));
            }
        }
        self.index = index;
        self.indexed = true;
    }

    /// Moves `id` from `old` to `new` score in the order.
    fn reorder(&mut self, id: u32, old: f64, new: f64) {
        let (b, i) = self.position(old, self.member(id));
        self.slots[id as usize].score = new;
        // Stays in place when its neighbours still bracket it (the common small increment).
        let member = self.member(id);
        let prev_ok = match (i, b) {
            (0, 0) => true,
            (0, _) => {
                let p = &self.blocks[b - 1];
                self.cmp_key(p.scores[p.len() - 1], p.ids[p.len() - 1], new, member)
                    == Ordering::Less
            }
            _ => {
                let blk = &self.blocks[b];
                self.cmp_key(blk.scores[i - 1], blk.ids[i - 1], new, member) == Ordering::Less
            }
        };
        let next_ok = {
            let blk = &self.blocks[b];
            if i + 1 < blk.len() {
                self.cmp_key(blk.scores[i + 1], blk.ids[i + 1], new, member) == Ordering::Greater
            } else if b + 1 < self.blocks.len() {
                let n = &self.blocks[b + 1];
                self.cmp_key(n.scores[0], n.ids[0], new, member) == Ordering::Greater
            } else {
                true
            }
        };
        if prev_ok && next_ok {
            self.blocks[b].scores[i] = new;
            return;
        }
        self.order_remove(b, i);
        let (b, i) = self.position(new, self.member(id));
        self.order_insert(b, i, new, id);
    }

    fn order_insert(&mut self, b: usize, i: usize, score: f64, id: u32) {
        if self.blocks.is_empty() {
            self.blocks.reserve_exact(1);
            let mut blk = Block::default();
            blk.scores.push(score);
            blk.ids.push(id);
            self.block_bytes += blk.heap_bytes();
            self.blocks.push(blk);
            self.lens.push(1);
            return;
        }
        let (mut b, mut i) = (b, i);
        if self.blocks[b].len() == BLOCK_MAX {
            if b + 1 == self.blocks.len() && i == BLOCK_MAX {
                // Appending past the end (ascending inserts): start a new block rather than
                // splitting, so such sets stay full-packed.
                let blk = Block::default();
                self.block_bytes += blk.heap_bytes();
                self.blocks.push(blk);
                self.lens.push(0);
                b += 1;
                i = 0;
            } else {
                self.split(b);
                if i > BLOCK_MAX / 2 {
                    b += 1;
                    i -= BLOCK_MAX / 2;
                }
            }
        }
        let blk = &mut self.blocks[b];
        let before = blk.heap_bytes();
        reserve_small(&mut blk.scores);
        reserve_small(&mut blk.ids);
        blk.scores.insert(i, score);
        blk.ids.insert(i, id);
        self.block_bytes = self.block_bytes + blk.heap_bytes() - before;
        self.lens[b] += 1;
    }

    fn split(&mut self, b: usize) {
        let blk = &mut self.blocks[b];
        let before = blk.heap_bytes();
        let upper = Block {
            scores: blk.scores.split_off(BLOCK_MAX / 2),
            ids: blk.ids.split_off(BLOCK_MAX / 2),
        };
        self.block_bytes = self.block_bytes + blk.heap_bytes() + upper.heap_bytes() - before;
        self.lens[b] = (BLOCK_MAX / 2) as u8;
        self.lens.insert(b + 1, upper.len() as u8);
        self.blocks.insert(b + 1, upper);
    }

    /// Removes the order entry at (b, i); returns its slot number.
    fn order_remove(&mut self, b: usize, i: usize) -> u32 {
        let blk = &mut self.blocks[b];
        let before = blk.heap_bytes();
        blk.scores.remove(i);
        let id = blk.ids.remove(i);
        self.block_bytes = self.block_bytes + blk.heap_bytes() - before;
        self.lens[b] -= 1;
        self.rebalance(b);
        id
    }

    /// Drops an emptied block, or merges a short one with its next neighbour.
    fn rebalance(&mut self, b: usize) {
        let len = self.blocks[b].len();
        if len == 0 {
            let blk = self.blocks.remove(b);
            self.lens.remove(b);
            self.block_bytes -= blk.heap_bytes();
            return;
        }
        if len >= BLOCK_MERGE_BELOW || b + 1 >= self.blocks.len() {
            return;
        }
        if len + self.blocks[b + 1].len() > BLOCK_MAX {
            return;
        }
        let next = self.blocks.remove(b + 1);
        self.lens.remove(b + 1);
        let blk = &mut self.blocks[b];
        let before = blk.heap_bytes() + next.heap_bytes();
        blk.scores.extend_from_slice(&next.scores);
        blk.ids.extend_from_slice(&next.ids);
        self.lens[b] = blk.len() as u8;
        self.block_bytes = self.block_bytes + blk.heap_bytes() - before;
    }

    /// Frees slot `id` (already out of the order) and its index entry; returns (member, score).
    fn release(&mut self, id: u32) -> (Vec<u8>, f64) {
        let slot = &mut self.slots[id as usize];
        let member = slot.member.take().expect("released slot holds a member");
        let score = slot.score;
        if self.indexed {
            let hash = self.hasher.hash_one(member.bytes());
            if let Ok(found) = self.index.find_entry(hash, |&other| other == id) {
                found.remove();
            }
        }
        self.member_bytes -= member.alloc_bytes();
        self.free.push(id);
        if self.free.len() == self.slots.len() {
            self.reset();
        }
        (member.bytes().to_vec(), score)
    }

    /// Gives memory back once the set is empty (the key is about to be deleted, or a STORE
    /// reuses the value).
    fn reset(&mut self) {
        let skiplist = self.skiplist;
        *self = ZSetValue {
            skiplist,
            ..ZSetValue::default()
        };
    }

    /// Removes `member`; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.find(member)?;
        let score = self.slots[id as usize].score;
        let (b, i) = self.position(score, member);
        self.order_remove(b, i);
        self.release(id);
        Some(score)
    }

    /// 0-based rank of `member` in ascending order, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let id = self.find(member)?;
        let score = self.slots[id as usize].score;
        let (b, i) = self.position(score, member);
        Some((self.rank_of(b, i), score))
    }

    /// Rank of the first member whose score is inside `min` (everything before is below it).
    pub fn rank_from_score(&self, min: ScoreBound) -> usize {
        let below = |s: f64| {
            if min.exclusive {
                s <= min.value
            } else {
                s < min.value
            }
        };
        self.rank_where(|s, _| below(s))
    }

    /// Rank just past the last member whose score is inside `max`.
    pub fn rank_past_score(&self, max: ScoreBound) -> usize {
        let inside = |s: f64| {
            if max.exclusive {
                s < max.value
            } else {
                s <= max.value
            }
        };
        self.rank_where(|s, _| inside(s))
    }

    /// Rank of the first member not below `min` lexicographically (members compared as bytes;
    /// meaningful when all scores are equal, as Redis documents).
    pub fn rank_from_lex(&self, min: LexBound<'_>) -> usize {
        self.rank_where(|_, m| match min {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(x) => m < x,
            LexBound::Exclusive(x) => m <= x,
        })
    }

    /// Rank just past the last member not above `max`.
    pub fn rank_past_lex(&self, max: LexBound<'_>) -> usize {
        self.rank_where(|_, m| match max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(x) => m <= x,
            LexBound::Exclusive(x) => m < x,
        })
    }

    /// The number of leading members (in order) for which `pred(score, member)` holds; `pred`
    /// must hold for a prefix of the order.
    fn rank_where(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let at = |blk: &Block, i: usize| pred(blk.scores[i], self.member(blk.ids[i]));
        let b = self.blocks.partition_point(|blk| at(blk, blk.len() - 1));
        if b == self.blocks.len() {
            return self.len();
        }
        let blk = &self.blocks[b];
        self.rank_of(b, partition(blk.len(), |i| at(blk, i)))
    }

    /// Members and scores with ranks `start..end` in ascending order.
    pub fn range(&self, start: usize, end: usize) -> RankIter<'_> {
        let end = end.min(self.len());
        let (block, offset) = self.locate(start);
        RankIter {
            set: self,
            block,
            offset,
            left: end.saturating_sub(start),
        }
    }

    /// Members and scores with ranks `start..end`, from `end - 1` down to `start`.
    pub fn range_rev(&self, start: usize, end: usize) -> RevRankIter<'_> {
        let end = end.min(self.len());
        let left = end.saturating_sub(start);
        let (block, offset) = if left == 0 {
            (0, 0)
        } else {
            self.locate(end - 1)
        };
        RevRankIter {
            set: self,
            block,
            offset,
            left,
        }
    }

    /// Every member and score in ascending order.
    pub fn iter(&self) -> RankIter<'_> {
        self.range(0, self.len())
    }

    /// The member and score at `rank` (< len).
    pub fn at_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.range(rank, rank + 1).next()
    }

    /// Removes ranks `start..end`; returns the removed members and scores in ascending order.
    pub fn remove_range(&mut self, start: usize, end: usize) -> Vec<(Vec<u8>, f64)> {
        let end = end.min(self.len());
        let mut out = Vec::with_capacity(end.saturating_sub(start));
        let mut left = end.saturating_sub(start);
        while left > 0 {
            let (b, i) = self.locate(start);
            let blk = &mut self.blocks[b];
            let take = left.min(blk.len() - i);
            let before = blk.heap_bytes();
            let ids: Vec<u32> = blk.ids.drain(i..i + take).collect();
            blk.scores.drain(i..i + take);
            self.block_bytes = self.block_bytes + blk.heap_bytes() - before;
            self.lens[b] -= take as u8;
            self.rebalance(b);
            left -= take;
            for id in ids {
                out.push(self.release(id));
            }
        }
        out
    }

    /// Removes up to `count` members from the low (or, with `from_top`, the high) end, in the
    /// order they are popped.
    pub fn pop(&mut self, count: usize, end: PopEnd) -> Vec<(Vec<u8>, f64)> {
        let n = count.min(self.len());
        match end {
            PopEnd::Min => self.remove_range(0, n),
            PopEnd::Max => {
                let len = self.len();
                let mut out = self.remove_range(len - n, len);
                out.reverse();
                out
            }
        }
    }

    /// A uniformly random member and its score (`None` when empty).
    pub fn random(&self) -> Option<(&[u8], f64)> {
        self.random_slot().and_then(|slot| self.at_slot(slot))
    }

    /// The slab slot of a uniformly random member: a random slot, retried when free; a sparse
    /// slab falls back to a random rank.
    pub fn random_slot(&self) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        let random_below =
            |bound: usize| (crate::keyspace::access::random_u64() % bound as u64) as usize;
        for _ in 0..16 {
            let at = random_below(self.slots.len());
            if self.slots[at].member.is_some() {
                return Some(at);
            }
        }
        let (b, i) = self.locate(random_below(self.len()));
        Some(self.blocks[b].ids[i] as usize)
    }

    /// Slab slot count: the end of ZSCAN's cursor space.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The member and score in slab slot `slot`, if that slot holds one (ZSCAN).
    pub fn at_slot(&self, slot: usize) -> Option<(&[u8], f64)> {
        let s = self.slots.get(slot)?;
        s.member.as_ref().map(|m| (m.bytes(), s.score))
    }
}

/// Which end ZPOPMIN / ZPOPMAX take from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopEnd {
    Min,
    Max,
}

/// The first index in `0..len` for which `below` is false (`below` holds for a prefix).
fn partition(len: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Ascending iteration over a rank range.
pub struct RankIter<'a> {
    set: &'a ZSetValue,
    block: usize,
    offset: usize,
    left: usize,
}

impl<'a> Iterator for RankIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let blk = &self.set.blocks[self.block];
        let item = (
            self.set.member(blk.ids[self.offset]),
            blk.scores[self.offset],
        );
        self.left -= 1;
        self.offset += 1;
        if self.offset == blk.len() {
            self.block += 1;
            self.offset = 0;
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// Descending iteration over a rank range.
pub struct RevRankIter<'a> {
    set: &'a ZSetValue,
    block: usize,
    offset: usize,
    left: usize,
}

impl<'a> Iterator for RevRankIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let blk = &self.set.blocks[self.block];
        let item = (
            self.set.member(blk.ids[self.offset]),
            blk.scores[self.offset],
        );
        self.left -= 1;
        if self.left > 0 {
            if self.offset == 0 {
                self.block -= 1;
                self.offset = self.set.blocks[self.block].len() - 1;
            } else {
                self.offset -= 1;
            }
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl PartialEq for ZSetValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((m1, s1), (m2, s2))| m1 == m2 && s1 == s2)
    }
}

impl std::fmt::Debug for ZSetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s)),
            )
            .finish()
    }
}

/// Room for one more element: a quarter more while the vector is small (its bytes then stay
/// within a size class or two of its length), the usual doubling after.
fn reserve_small<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() && v.len() < EXACT_GROWTH_BELOW {
        v.reserve_exact((v.len() / 4).max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ListpackLimits = ListpackLimits {
        entries_max: 128,
        value_bytes_max: 64,
    };

    fn members(z: &ZSetValue) -> Vec<(String, f64)> {
        z.iter()
            .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s))
            .collect()
    }

    /// A reference model: sorted Vec of (score, member).
    fn check_against_model(z: &ZSetValue, model: &[(f64, Vec<u8>)]) {
        assert_eq!(z.len(), model.len());
        for (rank, (score, member)) in model.iter().enumerate() {
            assert_eq!(z.rank(member), Some((rank, *score)));
            assert_eq!(z.score(member), Some(*score));
            assert_eq!(z.at_rank(rank), Some((&member[..], *score)));
        }
        let all: Vec<(f64, Vec<u8>)> = z.iter().map(|(m, s)| (s, m.to_vec())).collect();
        assert_eq!(all, model);
        let rev: Vec<(f64, Vec<u8>)> = z
            .range_rev(0, z.len())
            .map(|(m, s)| (s, m.to_vec()))
            .collect();
        let mut expected = model.to_vec();
        expected.reverse();
        assert_eq!(rev, expected);
        assert_eq!(z.lens.len(), z.blocks.len());
        for (blk, &n) in z.blocks.iter().zip(&z.lens) {
            assert!(blk.len() > 0 && blk.len() <= BLOCK_MAX);
            assert_eq!(blk.len(), n as usize);
        }
    }

    #[test]
    fn insert_update_remove_keep_order() {
        let mut z = ZSetValue::default();
        assert_eq!(z.insert(b"b", 2.0, LIMITS), Inserted::Added);
        assert_eq!(z.insert(b"a", 2.0, LIMITS), Inserted::Added);
        assert_eq!(z.insert(b"c", 1.0, LIMITS), Inserted::Added);
        assert_eq!(z.insert(b"c", 1.0, LIMITS), Inserted::Unchanged);
        assert_eq!(
            members(&z),
            vec![("c".into(), 1.0), ("a".into(), 2.0), ("b".into(), 2.0)]
        );
        assert_eq!(z.insert(b"c", 3.0, LIMITS), Inserted::Updated);
        assert_eq!(z.rank(b"c"), Some((2, 3.0)));
        assert_eq!(z.remove(b"a"), Some(2.0));
        assert_eq!(z.remove(b"a"), None);
        assert_eq!(members(&z), vec![("b".into(), 2.0), ("c".into(), 3.0)]);
        assert_eq!(z.encoding_name(), "listpack");
    }

    #[test]
    fn large_random_workload_matches_a_sorted_model() {
        let mut z = ZSetValue::default();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        let mut x: u64 = 12345;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..6000 {
            let r = next();
            let member = format!("m{}", r % 900).into_bytes();
            let score = ((r >> 20) % 50) as f64;
            let cmp = |a: &(f64, Vec<u8>), s: f64, m: &[u8]| {
                a.0.partial_cmp(&s)
                    .unwrap()
                    .then_with(|| a.1.as_slice().cmp(m))
            };
            match (r >> 40) % 4 {
                0 => {
                    z.remove(&member);
                    model.retain(|(_, m)| *m != member);
                }
                _ => {
                    z.insert(&member, score, LIMITS);
                    model.retain(|(_, m)| *m != member);
                    let at = model.partition_point(|e| cmp(e, score, &member) == Ordering::Less);
                    model.insert(at, (score, member));
                }
            }
        }
        assert!(z.blocks.len() > 1);
        assert_eq!(z.encoding_name(), "skiplist");
        check_against_model(&z, &model);
        let lo = ScoreBound {
            value: 10.0,
            exclusive: true,
        };
        let hi = ScoreBound {
            value: 20.0,
            exclusive: false,
        };
        let expected = model
            .iter()
            .filter(|(s, _)| *s > 10.0 && *s <= 20.0)
            .count();
        assert_eq!(z.rank_past_score(hi) - z.rank_from_score(lo), expected);
        let removed = z.remove_range(100, 400);
        assert_eq!(removed.len(), 300);
        model.drain(100..400);
        check_against_model(&z, &model);
        let popped = z.pop(5, PopEnd::Max);
        assert_eq!(popped[0].0, model.last().unwrap().1);
        model.truncate(model.len() - 5);
        check_against_model(&z, &model);
    }

    #[test]
    fn ascending_appends_fill_blocks() {
        let mut z = ZSetValue::default();
        for i in 0..1000 {
            z.insert(format!("{i:05}").as_bytes(), i as f64, LIMITS);
        }
        assert_eq!(z.blocks.len(), 1000usize.div_ceil(BLOCK_MAX));
        assert_eq!(z.rank(b"00777"), Some((777, 777.0)));
    }

    #[test]
    fn lex_ranks() {
        let mut z = ZSetValue::default();
        for m in ["a", "b", "c", "d"] {
            z.insert(m.as_bytes(), 0.0, LIMITS);
        }
        assert_eq!(z.rank_from_lex(LexBound::Inclusive(b"b")), 1);
        assert_eq!(z.rank_from_lex(LexBound::Exclusive(b"b")), 2);
        assert_eq!(z.rank_past_lex(LexBound::Inclusive(b"c")), 3);
        assert_eq!(z.rank_past_lex(LexBound::Max), 4);
        assert_eq!(z.rank_from_lex(LexBound::Min), 0);
    }

    #[test]
    fn accounting_returns_to_zero_and_clone_is_equal() {
        let mut z = ZSetValue::default();
        for i in 0..300 {
            z.insert(format!("member-{i}").as_bytes(), (i % 7) as f64, LIMITS);
        }
        let copy = z.clone();
        assert_eq!(copy, z);
        assert!(z.heap_bytes() > 300 * 16);
        for i in 0..300 {
            z.remove(format!("member-{i}").as_bytes());
        }
        assert!(z.is_empty());
        assert_eq!(z.member_bytes, 0);
        assert_eq!(z.block_bytes, 0);
    }
}
