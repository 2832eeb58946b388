//! A sorted set: member -> score, ordered by (score, member).
//!
//! Two layouts (see `ZSetValue`): a set Redis would encode as a listpack is one packed
//! byte buffer sorted by (score, member), walked for every operation as Redis walks a listpack:
//! ten members `job:1`..`job:10` with scores 1..10 take one 80-byte buffer. It becomes a `Big`
//! when Redis would convert to a skiplist (zset-max-listpack-entries/-value), and a `Big` that
//! empties is dropped.
//!
//! `Big` has three parts, sized for memory per member (a figure we compete on) and for rank queries on
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

use crate::keyspace::entry::prefetch;
use crate::keyspace::table_addr;
use crate::keyspace::value::alloc_size;
use hashbrown::HashTable;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cmp::Ordering;
use std::collections::VecDeque;
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
/// Members between the prefetch stages of a multi-member release (`Big::remove_range`).
const RELEASE_AHEAD: usize = 2;

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

/// The indexed layout of a sorted set (Redis's `skiplist` encoding).
#[derive(Clone, Default)]
struct Big {
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    /// Double-ended so that the pops at the low end (ZPOPMIN) drop or merge the first block
    /// without moving all the others.
    blocks: VecDeque<Block>,
    /// Length of each block, contiguous (in at most two runs) so that a rank sums few cache
    /// lines.
    lens: VecDeque<u8>,
    /// Bytes of the members' allocations plus the blocks' vectors (running counts).
    member_bytes: usize,
    block_bytes: usize,
    /// True once `index` holds every member (past `INDEX_FROM` members; until the set empties).
    indexed: bool,
}

impl Big {
    fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned by the value (kept as running counts and capacities: O(1)).
    fn heap_bytes(&self) -> usize {
        alloc_size(self.slots.capacity() * std::mem::size_of::<Slot>())
            + alloc_size(self.free.capacity() * 4)
            + self.index.capacity() * INDEX_BUCKET_BYTES
            + alloc_size(self.blocks.capacity() * std::mem::size_of::<Block>())
            + alloc_size(self.lens.capacity())
            + self.member_bytes
            + self.block_bytes
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

    fn score(&self, member: &[u8]) -> Option<f64> {
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
            return match self.blocks.back() {
                Some(last) => (b - 1, last.len()),
                None => (0, 0),
            };
        }
        let blk = &self.blocks[b];
        let i = partition(blk.len(), |i| below(blk.scores[i], blk.ids[i]));
        (b, i)
    }

    fn rank_of(&self, block: usize, offset: usize) -> usize {
        let sum = |lens: &[u8]| lens.iter().map(|&n| n as usize).sum::<usize>();
        let (front, back) = self.lens.as_slices();
        let before = if block <= front.len() {
            sum(&front[..block])
        } else {
            sum(front) + sum(&back[..block - front.len()])
        };
        before + offset
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
    fn insert(&mut self, member: &[u8], score: f64) -> Inserted {
        let existing = self.find(member);
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
            self.blocks.push_back(blk);
            self.lens.push_back(1);
            return;
        }
        let (mut b, mut i) = (b, i);
        if self.blocks[b].len() == BLOCK_MAX {
            if b + 1 == self.blocks.len() && i == BLOCK_MAX {
                // Appending past the end (ascending inserts): start a new block rather than
                // splitting, so such sets stay full-packed.
                let blk = Block::default();
                self.block_bytes += blk.heap_bytes();
                self.blocks.push_back(blk);
                self.lens.push_back(0);
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
            let blk = self.blocks.remove(b).expect("block b exists");
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
        let next = self.blocks.remove(b + 1).expect("block b + 1 exists");
        self.lens.remove(b + 1);
        let blk = &mut self.blocks[b];
        let before = blk.heap_bytes() + next.heap_bytes();
        blk.scores.extend_from_slice(&next.scores);
        blk.ids.extend_from_slice(&next.ids);
        self.lens[b] = blk.len() as u8;
        self.block_bytes = self.block_bytes + blk.heap_bytes() - before;
    }

    /// Frees slot `id` (already out of the order) and its index entry; returns (member, score)
    /// and, when the index held it, where the index's control bytes are (`table_addr`), for
    /// the prefetches of the next releases.
    fn release(&mut self, id: u32) -> ((Vec<u8>, f64), Option<*const u8>) {
        let slot = &mut self.slots[id as usize];
        let member = slot.member.take().expect("released slot holds a member");
        let score = slot.score;
        let mut ctrl = None;
        if self.indexed {
            let hash = self.hasher.hash_one(member.bytes());
            if let Ok(found) = self.index.find_entry(hash, |&other| other == id) {
                ctrl = Some(table_addr::ctrl_from_bucket(
                    found.get(),
                    found.bucket_index(),
                ));
                found.remove();
            }
        }
        self.member_bytes -= member.alloc_bytes();
        self.free.push(id);
        if self.free.len() == self.slots.len() {
            self.reset();
            ctrl = None;
        }
        ((member.bytes().to_vec(), score), ctrl)
    }

    /// Prefetch stage 0 of releasing `id`: start loading its slab slot.
    fn prefetch_slot(&self, id: u32) {
        if let Some(slot) = self.slots.get(id as usize) {
            prefetch(slot);
        }
    }

    /// Prefetch stage 1: read the slot (loaded by stage 0) and start loading the member's
    /// allocation.
    fn prefetch_member(&self, id: u32) {
        if let Some(Some(member)) = self.slots.get(id as usize).map(|s| s.member.as_ref()) {
            prefetch(member.ptr.as_ptr());
        }
    }

    /// Prefetch stage 2: hash the member (loaded by stage 1) and start loading the index's
    /// control bytes and candidate buckets that removing it will read. `ctrl` is where the
    /// control bytes start (`release`'s answer); nothing is read from the index itself.
    fn prefetch_index(&self, id: u32, ctrl: *const u8) {
        if !self.indexed {
            return;
        }
        let Some(Some(member)) = self.slots.get(id as usize).map(|s| s.member.as_ref()) else {
            return;
        };
        let hash = self.hasher.hash_one(member.bytes());
        // The probe reads a group of control bytes from its start, and the bucket a match
        // names is one of the group's: both ends of each are loaded.
        let group = table_addr::GROUP_WIDTH;
        let buckets = self.index.num_buckets();
        let (ctrl_at, bucket_at) = table_addr::probe_start::<u32>(ctrl, buckets, hash);
        prefetch(ctrl_at);
        prefetch(ctrl_at.wrapping_add(group - 1));
        prefetch(bucket_at);
        prefetch(bucket_at.wrapping_sub((group - 1) * std::mem::size_of::<u32>()));
    }

    /// Gives memory back once the set is empty (the key is about to be deleted, or a STORE
    /// reuses the value).
    fn reset(&mut self) {
        *self = Big::default();
    }

    /// Removes `member`; returns its score if it was there.
    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.find(member)?;
        let score = self.slots[id as usize].score;
        let (b, i) = self.position(score, member);
        self.order_remove(b, i);
        self.release(id);
        Some(score)
    }

    /// 0-based rank of `member` in ascending order, with its score.
    fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let id = self.find(member)?;
        let score = self.slots[id as usize].score;
        let (b, i) = self.position(score, member);
        Some((self.rank_of(b, i), score))
    }

    /// Rank of the first member whose score is inside `min` (everything before is below it).
    fn rank_from_score(&self, min: ScoreBound) -> usize {
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
    fn rank_past_score(&self, max: ScoreBound) -> usize {
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
    fn rank_from_lex(&self, min: LexBound<'_>) -> usize {
        self.rank_where(|_, m| match min {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(x) => m < x,
            LexBound::Exclusive(x) => m <= x,
        })
    }

    /// Rank just past the last member not above `max`.
    fn rank_past_lex(&self, max: LexBound<'_>) -> usize {
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
    fn range(&self, start: usize, end: usize) -> BigRankIter<'_> {
        let end = end.min(self.len());
        let (block, offset) = self.locate(start);
        BigRankIter {
            set: self,
            block,
            offset,
            left: end.saturating_sub(start),
        }
    }

    /// Members and scores with ranks `start..end`, from `end - 1` down to `start`.
    fn range_rev(&self, start: usize, end: usize) -> BigRevRankIter<'_> {
        let end = end.min(self.len());
        let left = end.saturating_sub(start);
        let (block, offset) = if left == 0 {
            (0, 0)
        } else {
            self.locate(end - 1)
        };
        BigRevRankIter {
            set: self,
            block,
            offset,
            left,
        }
    }

    /// Visits members in ascending order from the first score inside `min` while `f` returns
    /// true, found without computing a rank (the caller stops where its range ends: GEOSEARCH
    /// reads up to nine short score ranges of a large set per query). `f` gets each score and a
    /// handle that reads the member only when asked, so a caller that filters on the score
    /// (GEOSEARCH decodes a position from it) touches only the members it keeps: the scores are
    /// contiguous in the blocks, the members are not.
    fn visit_from_score(&self, min: ScoreBound, mut f: impl FnMut(f64, MemberRef<'_>) -> bool) {
        let below = |s: f64| below_bound(min, s);
        let first_block = self
            .blocks
            .partition_point(|blk| below(*blk.scores.last().expect("blocks are never empty")));
        let mut offset = self
            .blocks
            .get(first_block)
            .map_or(0, |blk| blk.scores.partition_point(|&s| below(s)));
        for blk in self.blocks.iter().skip(first_block) {
            for (&score, &id) in blk.scores[offset..].iter().zip(&blk.ids[offset..]) {
                if !f(score, MemberRef(MemberInner::Big { set: self, id })) {
                    return;
                }
            }
            offset = 0;
        }
    }

    /// The member and score at `rank` (< len).
    fn at_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.range(rank, rank + 1).next()
    }

    /// Removes ranks `start..end`; returns the removed members and scores in ascending order.
    ///
    /// The releases are the costly part of a large set's pop: a member's slot, its bytes and
    /// its index bucket are three dependent cache misses (four with the control bytes). They
    /// are prefetched in stages a few members ahead (`RELEASE_AHEAD`), and, when the range was
    /// at one end of the order (ZPOPMIN, ZPOPMAX), for the next members at that end too, so
    /// that a run of pops (a pipeline of ZPOPMINs) finds them loaded.
    fn remove_range(&mut self, start: usize, end: usize) -> Vec<(Vec<u8>, f64)> {
        let len = self.len();
        let end = end.min(len);
        if start >= end {
            return Vec::new();
        }
        let mut ids: smallvec::SmallVec<[u32; 16]> = smallvec::SmallVec::with_capacity(end - start);
        let mut left = end - start;
        while left > 0 {
            let (b, i) = self.locate(start);
            let blk = &mut self.blocks[b];
            let take = left.min(blk.len() - i);
            let before = blk.heap_bytes();
            ids.extend(blk.ids.drain(i..i + take));
            blk.scores.drain(i..i + take);
            self.block_bytes = self.block_bytes + blk.heap_bytes() - before;
            self.lens[b] -= take as u8;
            self.rebalance(b);
            left -= take;
        }
        let mut out = Vec::with_capacity(ids.len());
        let mut ctrl = None;
        for (k, &id) in ids.iter().enumerate() {
            if let Some(&ahead) = ids.get(k + 3 * RELEASE_AHEAD) {
                self.prefetch_slot(ahead);
            }
            if let Some(&ahead) = ids.get(k + 2 * RELEASE_AHEAD) {
                self.prefetch_member(ahead);
            }
            if let (Some(&ahead), Some(ctrl)) = (ids.get(k + RELEASE_AHEAD), ctrl) {
                self.prefetch_index(ahead, ctrl);
            }
            let (popped, at) = self.release(id);
            out.push(popped);
            ctrl = at;
        }
        if let Some(ctrl) = ctrl {
            if start == 0 {
                self.prefetch_next(self.blocks.iter().flat_map(|b| b.ids.iter()), ctrl);
            } else if end == len {
                self.prefetch_next(
                    self.blocks.iter().rev().flat_map(|b| b.ids.iter().rev()),
                    ctrl,
                );
            }
        }
        out
    }

    /// The prefetch stages for the next pops at one end of the order, `next` in pop order: the
    /// next member's index lines, the one after's member bytes, the third's slot. Over a run
    /// of single pops, each member goes through the three stages in the three pops before its
    /// own.
    fn prefetch_next<'a>(&self, mut next: impl Iterator<Item = &'a u32>, ctrl: *const u8) {
        let (n0, n1, n2) = (next.next(), next.next(), next.next());
        if let Some(&id) = n2 {
            self.prefetch_slot(id);
        }
        if let Some(&id) = n1 {
            self.prefetch_member(id);
        }
        if let Some(&id) = n0 {
            self.prefetch_index(id, ctrl);
        }
    }

    /// The slab slot of a uniformly random member: a random slot, retried when free; a sparse
    /// slab falls back to a random rank.
    fn random_slot(&self) -> Option<usize> {
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
    fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The member and score in slab slot `slot`, if that slot holds one (ZSCAN).
    fn at_slot(&self, slot: usize) -> Option<(&[u8], f64)> {
        let s = self.slots.get(slot)?;
        s.member.as_ref().map(|m| (m.bytes(), s.score))
    }
}

/// A sorted set: member -> score, ordered by (score, member).
///
/// A set Redis would encode as a listpack (zset-max-listpack-entries/-value) is one byte
/// buffer of entries sorted by (score, member), each `[score][member_len varint][member]`, the
/// score a varint (an even number: a zigzag-coded integer shifted left once, for an integral
/// score of magnitude at most 2^53) or the byte 1 then the 8 bytes of the f64. It moves to
/// `Big` when Redis converts to a skiplist; a STORE result that `settle_encoding` finds small
/// enough stays `Big` while reporting `listpack`, and an emptied `Big` is dropped.
#[derive(Clone, Default)]
pub struct ZSetValue {
    small: Box<[u8]>,
    small_len: u32,
    /// Redis's encoding name: "skiplist" once the set outgrew the listpack limits (one way).
    skiplist: bool,
    big: Option<Box<Big>>,
}

fn put_varint(buf: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        buf.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

fn get_varint(buf: &[u8], mut at: usize) -> (u64, usize) {
    let mut n = 0u64;
    let mut shift = 0;
    loop {
        let byte = buf[at];
        n |= u64::from(byte & 0x7f) << shift;
        at += 1;
        if byte & 0x80 == 0 {
            return (n, at);
        }
        shift += 7;
    }
}

/// The packed encoding of one entry.
fn small_entry(member: &[u8], score: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(member.len() + 12);
    let integral = score.fract() == 0.0
        && score.abs() <= (1u64 << 53) as f64
        && !(score == 0.0 && score.is_sign_negative());
    if integral {
        let i = score as i64;
        put_varint(&mut out, (((i << 1) ^ (i >> 63)) as u64) << 1);
    } else {
        out.push(1);
        out.extend_from_slice(&score.to_le_bytes());
    }
    put_varint(&mut out, member.len() as u64);
    out.extend_from_slice(member);
    out
}

/// Entries of a packed set in order: (byte range, member, score).
struct SmallIter<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for SmallIter<'a> {
    type Item = (std::ops::Range<usize>, &'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.buf.len() {
            return None;
        }
        let start = self.at;
        let (v, mut at) = get_varint(self.buf, start);
        let score = if v & 1 == 0 {
            let zz = v >> 1;
            ((zz >> 1) as i64 ^ -((zz & 1) as i64)) as f64
        } else {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&self.buf[at..at + 8]);
            at += 8;
            f64::from_le_bytes(bytes)
        };
        let (len, at) = get_varint(self.buf, at);
        let end = at + len as usize;
        self.at = end;
        Some((start..end, &self.buf[at..end], score))
    }
}

impl ZSetValue {
    pub fn len(&self) -> usize {
        match &self.big {
            Some(big) => big.len(),
            None => self.small_len as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned by the value (kept as running counts and capacities: O(1)).
    pub fn heap_bytes(&self) -> usize {
        match &self.big {
            Some(big) => alloc_size(std::mem::size_of::<Big>()) + big.heap_bytes(),
            None => alloc_size(self.small.len()),
        }
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
        let skiplist = len_hint > limits.entries_max || member_len_hint > limits.value_bytes_max;
        ZSetValue {
            skiplist,
            big: skiplist.then(Box::default),
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
        if self.skiplist && self.big.is_none() {
            self.grow_big();
        }
    }

    fn small_iter(&self) -> SmallIter<'_> {
        SmallIter {
            buf: &self.small,
            at: 0,
        }
    }

    /// (rank, byte range, score) of `member` in the packed layout.
    fn small_find(&self, member: &[u8]) -> Option<(usize, std::ops::Range<usize>, f64)> {
        self.small_iter()
            .enumerate()
            .find(|(_, (_, m, _))| *m == member)
            .map(|(rank, (range, _, score))| (rank, range, score))
    }

    /// Replaces `range` of the packed buffer with `with`.
    fn small_splice(&mut self, range: std::ops::Range<usize>, with: &[u8]) {
        super::compact_map::splice_boxed(&mut self.small, range, with);
    }

    /// Inserts an absent member at its place in the packed order.
    fn small_insert(&mut self, member: &[u8], score: f64) {
        let at = self
            .small_iter()
            .find(
                |(_, m, s)| match s.partial_cmp(&score).expect("scores are never NaN") {
                    Ordering::Equal => *m > member,
                    other => other == Ordering::Greater,
                },
            )
            .map_or(self.small.len(), |(range, _, _)| range.start);
        self.small_splice(at..at, &small_entry(member, score));
        self.small_len += 1;
    }

    /// Moves the packed entries into the indexed layout.
    fn grow_big(&mut self) {
        let mut big = Big::default();
        for (_, member, score) in self.small_iter() {
            big.insert(member, score);
        }
        self.small = Box::default();
        self.small_len = 0;
        self.big = Some(Box::new(big));
    }

    /// Back to the packed layout once the indexed one is empty.
    fn drop_empty_big(&mut self) {
        if self.big.as_ref().is_some_and(|big| big.is_empty()) {
            self.big = None;
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.score(member).is_some()
    }

    /// True while the set is in its packed layout, whose ZSCAN returns everything at once
    /// (slot numbers there are ranks, which move).
    pub fn is_packed(&self) -> bool {
        self.big.is_none()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.big {
            Some(big) => big.score(member),
            None => self.small_find(member).map(|(_, _, score)| score),
        }
    }

    /// Sets `member`'s score, adding it if missing.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: ListpackLimits) -> Inserted {
        debug_assert!(!score.is_nan());
        let existing = self.score(member);
        if existing.is_none()
            && (self.len() + 1 > limits.entries_max || member.len() > limits.value_bytes_max)
        {
            self.skiplist = true;
        }
        // A listpack stores scores as text, where Redis writes -0 as the integer 0.
        let score = if self.skiplist { score } else { score + 0.0 };
        if self.big.is_none() && self.skiplist {
            self.grow_big();
        }
        if let Some(big) = &mut self.big {
            return big.insert(member, score);
        }
        match self.small_find(member) {
            Some((_, _, old)) if old == score => Inserted::Unchanged,
            Some((_, range, _)) => {
                self.small_splice(range, &[]);
                self.small_len -= 1;
                self.small_insert(member, score);
                Inserted::Updated
            }
            None => {
                self.small_insert(member, score);
                Inserted::Added
            }
        }
    }

    /// Removes `member`; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        if let Some(big) = &mut self.big {
            let score = big.remove(member);
            self.drop_empty_big();
            return score;
        }
        let (_, range, score) = self.small_find(member)?;
        self.small_splice(range, &[]);
        self.small_len -= 1;
        Some(score)
    }

    /// 0-based rank of `member` in ascending order, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.big {
            Some(big) => big.rank(member),
            None => self
                .small_find(member)
                .map(|(rank, _, score)| (rank, score)),
        }
    }

    /// The number of leading packed entries for which `pred(score, member)` holds.
    fn small_rank_where(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.small_iter()
            .take_while(|(_, m, s)| pred(*s, m))
            .count()
    }

    /// Rank of the first member whose score is inside `min` (everything before is below it).
    pub fn rank_from_score(&self, min: ScoreBound) -> usize {
        match &self.big {
            Some(big) => big.rank_from_score(min),
            None => self.small_rank_where(|s, _| {
                if min.exclusive {
                    s <= min.value
                } else {
                    s < min.value
                }
            }),
        }
    }

    /// Rank just past the last member whose score is inside `max`.
    pub fn rank_past_score(&self, max: ScoreBound) -> usize {
        match &self.big {
            Some(big) => big.rank_past_score(max),
            None => self.small_rank_where(|s, _| {
                if max.exclusive {
                    s < max.value
                } else {
                    s <= max.value
                }
            }),
        }
    }

    /// Rank of the first member not below `min` lexicographically (members compared as bytes;
    /// meaningful when all scores are equal, as Redis documents).
    pub fn rank_from_lex(&self, min: LexBound<'_>) -> usize {
        match &self.big {
            Some(big) => big.rank_from_lex(min),
            None => self.small_rank_where(|_, m| match min {
                LexBound::Min => false,
                LexBound::Max => true,
                LexBound::Inclusive(x) => m < x,
                LexBound::Exclusive(x) => m <= x,
            }),
        }
    }

    /// Rank just past the last member not above `max`.
    pub fn rank_past_lex(&self, max: LexBound<'_>) -> usize {
        match &self.big {
            Some(big) => big.rank_past_lex(max),
            None => self.small_rank_where(|_, m| match max {
                LexBound::Min => false,
                LexBound::Max => true,
                LexBound::Inclusive(x) => m <= x,
                LexBound::Exclusive(x) => m < x,
            }),
        }
    }

    /// Members and scores with ranks `start..end` in ascending order.
    pub fn range(&self, start: usize, end: usize) -> RankIter<'_> {
        match &self.big {
            Some(big) => RankIter(RankInner::Big(big.range(start, end))),
            None => RankIter(RankInner::Small(
                self.small_iter()
                    .take(end)
                    .skip(start)
                    .map(|(_, m, s)| (m, s))
                    .collect::<Vec<_>>()
                    .into_iter(),
            )),
        }
    }

    /// Members and scores with ranks `start..end`, from `end - 1` down to `start`.
    pub fn range_rev(&self, start: usize, end: usize) -> RevRankIter<'_> {
        match &self.big {
            Some(big) => RevRankIter(RevRankInner::Big(big.range_rev(start, end))),
            None => RevRankIter(RevRankInner::Small(
                self.small_iter()
                    .take(end)
                    .skip(start)
                    .map(|(_, m, s)| (m, s))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev(),
            )),
        }
    }

    /// Every member and score in ascending order.
    pub fn iter(&self) -> RankIter<'_> {
        self.range(0, self.len())
    }

    /// The member and score at `rank` (< len).
    pub fn at_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        match &self.big {
            Some(big) => big.at_rank(rank),
            None => self.small_iter().nth(rank).map(|(_, m, s)| (m, s)),
        }
    }

    /// Removes ranks `start..end`; returns the removed members and scores in ascending order.
    pub fn remove_range(&mut self, start: usize, end: usize) -> Vec<(Vec<u8>, f64)> {
        if let Some(big) = &mut self.big {
            let out = big.remove_range(start, end);
            self.drop_empty_big();
            return out;
        }
        let mut out = Vec::new();
        let (mut from, mut to) = (0, 0);
        for (rank, (range, m, s)) in self.small_iter().enumerate().take(end).skip(start) {
            if out.is_empty() {
                from = range.start;
            }
            to = range.end;
            out.push((m.to_vec(), s));
            debug_assert!(rank < end);
        }
        if !out.is_empty() {
            self.small_splice(from..to, &[]);
            self.small_len -= out.len() as u32;
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

    /// The slot of a uniformly random member (a slab slot, or a packed entry's rank).
    pub fn random_slot(&self) -> Option<usize> {
        match &self.big {
            Some(big) => big.random_slot(),
            None if self.small_len == 0 => None,
            None => {
                Some((crate::keyspace::access::random_u64() % u64::from(self.small_len)) as usize)
            }
        }
    }

    /// Slot count: the end of ZSCAN's cursor space.
    pub fn slot_count(&self) -> usize {
        match &self.big {
            Some(big) => big.slot_count(),
            None => self.small_len as usize,
        }
    }

    /// The member and score in slot `slot`, if that slot holds one (ZSCAN).
    pub fn at_slot(&self, slot: usize) -> Option<(&[u8], f64)> {
        match &self.big {
            Some(big) => big.at_slot(slot),
            None => self.at_rank(slot),
        }
    }
}

enum RankInner<'a> {
    Big(BigRankIter<'a>),
    Small(std::vec::IntoIter<(&'a [u8], f64)>),
}

/// Ascending iteration over a rank range.
pub struct RankIter<'a>(RankInner<'a>);

impl<'a> Iterator for RankIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            RankInner::Big(it) => it.next(),
            RankInner::Small(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            RankInner::Big(it) => it.size_hint(),
            RankInner::Small(it) => it.size_hint(),
        }
    }
}

enum RevRankInner<'a> {
    Big(BigRevRankIter<'a>),
    Small(std::iter::Rev<std::vec::IntoIter<(&'a [u8], f64)>>),
}

/// Descending iteration over a rank range.
pub struct RevRankIter<'a>(RevRankInner<'a>);

impl<'a> Iterator for RevRankIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            RevRankInner::Big(it) => it.next(),
            RevRankInner::Small(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            RevRankInner::Big(it) => it.size_hint(),
            RevRankInner::Small(it) => it.size_hint(),
        }
    }
}

/// A member found by `visit_from_score`, read on demand.
#[derive(Clone, Copy)]
pub struct MemberRef<'a>(MemberInner<'a>);

#[derive(Clone, Copy)]
enum MemberInner<'a> {
    Big { set: &'a Big, id: u32 },
    Packed(&'a [u8]),
}

impl<'a> MemberRef<'a> {
    pub fn bytes(&self) -> &'a [u8] {
        match self.0 {
            MemberInner::Big { set, id } => set.member(id),
            MemberInner::Packed(bytes) => bytes,
        }
    }
}

/// True when `score` is below the lower bound `min` (outside it).
fn below_bound(min: ScoreBound, score: f64) -> bool {
    if min.exclusive {
        score <= min.value
    } else {
        score < min.value
    }
}

impl ZSetValue {
    /// Visits members in ascending order from the first score inside `min` while `f` returns
    /// true (see `Big::visit_from_score`; a packed set is walked from its start).
    pub fn visit_from_score(&self, min: ScoreBound, mut f: impl FnMut(f64, MemberRef<'_>) -> bool) {
        match &self.big {
            Some(big) => big.visit_from_score(min, f),
            None => {
                for (member, score) in self.iter() {
                    if below_bound(min, score) {
                        continue;
                    }
                    if !f(score, MemberRef(MemberInner::Packed(member))) {
                        return;
                    }
                }
            }
        }
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
struct BigRankIter<'a> {
    set: &'a Big,
    block: usize,
    offset: usize,
    left: usize,
}

impl<'a> Iterator for BigRankIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        // `left` is unbounded for `iter_from_score`: the end of the blocks ends it.
        let blk = self.set.blocks.get(self.block)?;
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
        if self.left == usize::MAX {
            // `iter_from_score`: up to the end of the set.
            return (0, Some(self.set.len()));
        }
        (self.left, Some(self.left))
    }
}

/// Descending iteration over a rank range.
struct BigRevRankIter<'a> {
    set: &'a Big,
    block: usize,
    offset: usize,
    left: usize,
}

impl<'a> Iterator for BigRevRankIter<'a> {
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
        if let Some(big) = &z.big {
            assert_eq!(big.lens.len(), big.blocks.len());
            for (blk, &n) in big.blocks.iter().zip(&big.lens) {
                assert!(blk.len() > 0 && blk.len() <= BLOCK_MAX);
                assert_eq!(blk.len(), n as usize);
            }
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
        assert!(z.big.as_ref().unwrap().blocks.len() > 1);
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

    /// Single pops and counted pops at both ends of a large set, through the prefetching
    /// release, against a sorted model; then the set empties.
    #[test]
    fn pops_at_both_ends_match_a_sorted_model() {
        let mut z = ZSetValue::default();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        for i in 0..3000u64 {
            let member = format!("m{:05}", (i * 7919) % 3001).into_bytes();
            let score = ((i * 104_729) % 1000) as f64;
            z.insert(&member, score, LIMITS);
            model.push((score, member));
        }
        model.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then_with(|| a.1.cmp(&b.1)));
        let mut round = 0usize;
        while !model.is_empty() {
            let count = [1, 1, 1, 5, 1, 130, 1, 2][round % 8];
            let (end, want): (PopEnd, Vec<(f64, Vec<u8>)>) = if round % 3 == 2 {
                let n = count.min(model.len());
                let mut tail = model.split_off(model.len() - n);
                tail.reverse();
                (PopEnd::Max, tail)
            } else {
                let n = count.min(model.len());
                (PopEnd::Min, model.drain(..n).collect())
            };
            let got = z.pop(count, end);
            let got: Vec<(f64, Vec<u8>)> = got.into_iter().map(|(m, s)| (s, m)).collect();
            assert_eq!(got, want, "round {round}");
            if round.is_multiple_of(50) {
                check_against_model(&z, &model);
            }
            round += 1;
        }
        assert!(z.is_empty());
        assert!(z.pop(1, PopEnd::Min).is_empty());
    }

    #[test]
    fn ascending_appends_fill_blocks() {
        let mut z = ZSetValue::default();
        for i in 0..1000 {
            z.insert(format!("{i:05}").as_bytes(), i as f64, LIMITS);
        }
        let big = z.big.as_ref().unwrap();
        assert_eq!(big.blocks.len(), 1000usize.div_ceil(BLOCK_MAX));
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
        assert!(z.big.is_none(), "an emptied set drops its indexed layout");
        assert_eq!(z.heap_bytes(), 0);
    }

    #[test]
    fn packed_sets_match_a_model_and_cost_little() {
        let mut z = ZSetValue::default();
        for i in 1..=10 {
            z.insert(format!("job:{i}").as_bytes(), i as f64, LIMITS);
        }
        // Ten entries of 1 (score) + 1 (length) + 5 or 6 bytes: 71 bytes, one 80-byte buffer.
        assert_eq!(z.heap_bytes(), 80);
        let mut z = ZSetValue::default();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        let cmp = |e: &(f64, Vec<u8>), s: f64, m: &[u8]| {
            e.0.partial_cmp(&s).unwrap().then_with(|| e.1[..].cmp(m))
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let scores = [
            0.0,
            -0.0,
            1.5,
            -3.0,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9e15,
            7.0,
        ];
        for _ in 0..5000 {
            let member = format!("m{}", next(40)).into_bytes();
            let score = scores[next(scores.len() as u64) as usize];
            match next(4) {
                0 => {
                    assert_eq!(
                        z.remove(&member),
                        model.iter().find(|(_, m)| *m == member).map(|e| e.0)
                    );
                    model.retain(|(_, m)| *m != member);
                }
                1 if !model.is_empty() => {
                    let n = next(3) as usize + 1;
                    let popped = z.pop(n, PopEnd::Min);
                    let expected: Vec<(Vec<u8>, f64)> = model
                        .drain(..n.min(model.len()))
                        .map(|(s, m)| (m, s))
                        .collect();
                    assert_eq!(popped, expected);
                }
                _ => {
                    z.insert(&member, score, LIMITS);
                    let score = score + 0.0;
                    model.retain(|(_, m)| *m != member);
                    let at = model.partition_point(|e| cmp(e, score, &member) == Ordering::Less);
                    model.insert(at, (score, member));
                }
            }
            assert!(z.is_packed());
            check_against_model(&z, &model);
            let lo = ScoreBound {
                value: 1.5,
                exclusive: false,
            };
            let expected = model.iter().filter(|(s, _)| *s < 1.5).count();
            assert_eq!(z.rank_from_score(lo), expected);
        }
    }
}
