//! The stream value (Redis's `t_stream.c` data model).
//!
//! Entries are packed in blocks under an ordered index, as Redis keeps listpacks under a radix
//! tree: a `BTreeMap` from each block's first (master) ID to the block. A block holds up to
//! `stream-node-max-entries` entries (and about `stream-node-max-bytes` bytes) as one byte
//! vector: per entry the ID as deltas from the master ID (varints), a flag, and the field/value
//! bytes; an entry whose fields are exactly the block's master fields (those of its first
//! entry) stores only its values. A deleted entry is cut out of the bytes, but the block keeps
//! counting it towards its entry limit, as Redis's deleted-flagged entries do, so block
//! boundaries (and hence approximate trimming, which drops whole blocks) follow Redis's.
//!
//! Besides the entries: the last generated ID, the count of entries ever added, the greatest
//! deleted ID, and the consumer groups, each with its pending entries list (PEL) and its
//! consumers (each with its own PEL view, seen-time and active-time).

use std::collections::{BTreeMap, BTreeSet};

use super::super::value::alloc_size;

/// A stream entry ID: milliseconds and sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, `None` past the greatest.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                return None;
            }
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID, `None` before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                return None;
            }
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::ZERO
    }

    /// `ms-seq`, as replies print it.
    pub fn to_bytes(self) -> bytes::Bytes {
        bytes::Bytes::from(format!("{}-{}", self.ms, self.seq))
    }

    /// The 16-byte big-endian form (Redis's radix-tree keys and RDB master IDs).
    pub fn to_be(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    pub fn from_be(raw: &[u8]) -> Option<StreamId> {
        if raw.len() != 16 {
            return None;
        }
        Some(StreamId::new(
            u64::from_be_bytes(raw[..8].try_into().ok()?),
            u64::from_be_bytes(raw[8..].try_into().ok()?),
        ))
    }
}

/// One entry as the commands see it: its ID and its field/value pairs.
pub type Fields<'a> = Vec<(&'a [u8], &'a [u8])>;

/// Owned entries as loaded: ID and field/value pairs.
pub type OwnedEntries = Vec<(StreamId, Vec<(Vec<u8>, Vec<u8>)>)>;

/// One block for persistence: master ID, master fields, live entries.
pub type BlockView<'a> = (StreamId, Vec<&'a [u8]>, Vec<(StreamId, Fields<'a>)>);

/// Node limits (`stream-node-max-entries`, `stream-node-max-bytes`; 0 = no limit).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub entries: u64,
    pub bytes: u64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            entries: 100,
            bytes: 4096,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Block {
    /// The fields of the block's first entry (the master entry).
    master_fields: Box<[Box<[u8]>]>,
    /// Packed live entries, in ID order.
    data: Vec<u8>,
    live: u32,
    /// Entries ever stored here (live and deleted): the node-full check counts both.
    slots: u32,
    /// The greatest ID ever stored here (deleted or not).
    last: StreamId,
    /// Bytes Redis's listpack for this node would take, less its header, end marker and the
    /// live/deleted counts (see `lp_bytes`): the node-full check compares Redis's sizes.
    lp_body: u32,
}

/// Bytes a listpack integer element takes (encoding and back-length).
fn lp_int_size(n: i64) -> u32 {
    match n {
        0..=127 => 2,
        -4096..=4095 => 3,
        -32768..=32767 => 4,
        -8_388_608..=8_388_607 => 5,
        -2_147_483_648..=2_147_483_647 => 6,
        _ => 10,
    }
}

/// Bytes a listpack string element takes (stored as an integer when it is one's canonical
/// form, as `lpAppend` does).
fn lp_str_size(s: &[u8]) -> u32 {
    if s.len() <= 20 {
        if let Some(n) = crate::strconv::parse_i64_strict(s) {
            return lp_int_size(n);
        }
    }
    let len = s.len() as u32;
    let enc = if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    };
    let back = match enc {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    enc.saturating_add(back)
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn get_varint(data: &[u8], at: &mut usize) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    loop {
        let byte = data[*at];
        *at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return n;
        }
        shift += 7;
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn get_bytes<'a>(data: &'a [u8], at: &mut usize) -> &'a [u8] {
    let len = get_varint(data, at) as usize;
    let s = &data[*at..*at + len];
    *at += len;
    s
}

const SAME_FIELDS: u8 = 1;

impl Block {
    fn new(master: StreamId, fields: &[(&[u8], &[u8])]) -> Block {
        Block {
            master_fields: fields.iter().map(|(f, _)| Box::<[u8]>::from(*f)).collect(),
            data: Vec::new(),
            live: 0,
            slots: 0,
            last: master,
            lp_body: lp_int_size(fields.len() as i64)
                + fields.iter().map(|(f, _)| lp_str_size(f)).sum::<u32>()
                + lp_int_size(0),
        }
    }

    /// Bytes of Redis's listpack for this node.
    fn lp_bytes(&self) -> u64 {
        7 + u64::from(lp_int_size(i64::from(self.live)))
            + u64::from(lp_int_size(i64::from(self.slots - self.live)))
            + u64::from(self.lp_body)
    }

    /// Bytes the entry adds to Redis's listpack.
    fn lp_entry_size(&self, master: StreamId, id: StreamId, fields: &[(&[u8], &[u8])]) -> u32 {
        let same = self.same_fields(fields);
        let n = fields.len() as i64;
        let mut size = lp_int_size(if same { 2 } else { 0 })
            + lp_int_size(id.ms.wrapping_sub(master.ms) as i64)
            + lp_int_size(id.seq.wrapping_sub(master.seq) as i64);
        if same {
            size += fields.iter().map(|(_, v)| lp_str_size(v)).sum::<u32>() + lp_int_size(n + 3);
        } else {
            size += lp_int_size(n)
                + fields
                    .iter()
                    .map(|(f, v)| lp_str_size(f) + lp_str_size(v))
                    .sum::<u32>()
                + lp_int_size(2 * n + 4);
        }
        size
    }

    fn same_fields(&self, fields: &[(&[u8], &[u8])]) -> bool {
        fields.len() == self.master_fields.len()
            && fields
                .iter()
                .zip(self.master_fields.iter())
                .all(|((f, _), m)| *f == &m[..])
    }

    fn encode(&self, master: StreamId, id: StreamId, fields: &[(&[u8], &[u8])], out: &mut Vec<u8>) {
        put_varint(out, id.ms.wrapping_sub(master.ms));
        put_varint(out, id.seq);
        let same = self.same_fields(fields);
        if same {
            out.push(SAME_FIELDS);
            for (_, v) in fields {
                put_bytes(out, v);
            }
        } else {
            out.push(0);
            put_varint(out, fields.len() as u64);
            for (f, v) in fields {
                put_bytes(out, f);
                put_bytes(out, v);
            }
        }
    }

    /// Decodes every live entry with its byte range in `data`.
    fn entries(&self, master: StreamId) -> Vec<(StreamId, Fields<'_>, std::ops::Range<usize>)> {
        let mut out = Vec::with_capacity(self.live as usize);
        let d = &self.data[..];
        let mut at = 0;
        while at < d.len() {
            let start = at;
            let ms = master.ms.wrapping_add(get_varint(d, &mut at));
            let seq = get_varint(d, &mut at);
            let flag = d[at];
            at += 1;
            let mut fields = Vec::new();
            if flag & SAME_FIELDS != 0 {
                for f in self.master_fields.iter() {
                    let v = get_bytes(d, &mut at);
                    fields.push((&f[..], v));
                }
            } else {
                let n = get_varint(d, &mut at);
                for _ in 0..n {
                    let f = get_bytes(d, &mut at);
                    let v = get_bytes(d, &mut at);
                    fields.push((f, v));
                }
            }
            out.push((StreamId::new(ms, seq), fields, start..at));
        }
        out
    }

    fn first_live(&self, master: StreamId) -> Option<StreamId> {
        if self.data.is_empty() {
            return None;
        }
        let mut at = 0;
        let ms = master.ms.wrapping_add(get_varint(&self.data, &mut at));
        let seq = get_varint(&self.data, &mut at);
        Some(StreamId::new(ms, seq))
    }

    fn heap_bytes(&self) -> usize {
        alloc_size(self.data.capacity())
            + alloc_size(self.master_fields.len() * 16)
            + self
                .master_fields
                .iter()
                .map(|f| alloc_size(f.len()))
                .sum::<usize>()
            + 64
    }
}

/// A pending entry of a consumer group: delivered, not yet acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingEntry {
    pub consumer: Box<[u8]>,
    /// Unix ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Consumer {
    /// Unix ms of the last interaction (read, claim attempt).
    pub seen_time: u64,
    /// Unix ms of the last successful interaction (read with results, claim); -1 never.
    pub active_time: i64,
    pub pel: BTreeSet<StreamId>,
}

impl Consumer {
    pub fn new(now: u64) -> Consumer {
        Consumer {
            seen_time: now,
            active_time: -1,
            pel: BTreeSet::new(),
        }
    }
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    /// Entries read by the group (Redis's logical reads counter); `None` when unknown.
    pub entries_read: Option<u64>,
    pub pel: BTreeMap<StreamId, PendingEntry>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Removes `id` from the group's PEL and its consumer's; true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(nack) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&nack.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// An estimate in O(consumers): a PEL entry costs its tree slot and the consumer name it
    /// shares (Redis counts the same way, per entry).
    fn heap_bytes(&self) -> usize {
        self.pel.len() * 64
            + self
                .consumers
                .iter()
                .map(|(n, c)| 96 + alloc_size(n.len()) + c.pel.len() * 24)
                .sum::<usize>()
            + 96
    }
}

/// Trimming by length or by minimum ID.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// A stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamValue {
    blocks: BTreeMap<StreamId, Block>,
    len: u64,
    pub last_id: StreamId,
    pub entries_added: u64,
    pub max_deleted: StreamId,
    pub groups: BTreeMap<Box<[u8]>, Group>,
    block_bytes: usize,
}

/// Why an append failed.
#[derive(Debug, PartialEq)]
pub enum AppendError {
    /// The ID is not greater than the stream's last ID (or no greater ID exists).
    NotGreater,
}

impl StreamValue {
    pub fn new() -> StreamValue {
        StreamValue::default()
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// No entries (the key stays: Redis never deletes an emptied stream).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn encoding_name(&self) -> &'static str {
        "stream"
    }

    pub fn heap_bytes(&self) -> usize {
        self.block_bytes + self.groups.values().map(Group::heap_bytes).sum::<usize>()
    }

    /// Blocks in the index (XINFO STREAM's radix-tree-keys).
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Nodes of a radix tree holding the block keys as Redis's rax would lay them out
    /// (XINFO STREAM's radix-tree-nodes): the root, every branching point, every child of a
    /// branching point and every key.
    pub fn radix_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.blocks.keys().map(|k| k.to_be()).collect();
        let mut nodes: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
        nodes.insert(Vec::new());
        for (i, k) in keys.iter().enumerate() {
            nodes.insert(k.to_vec());
            if let Some(next) = keys.get(i + 1) {
                let lcp = k
                    .iter()
                    .zip(next.iter())
                    .take_while(|(a, b)| a == b)
                    .count();
                nodes.insert(k[..lcp].to_vec());
                nodes.insert(k[..lcp + 1].to_vec());
                nodes.insert(next[..lcp + 1].to_vec());
            }
        }
        nodes.len()
    }

    /// The first live entry's ID (0-0 when empty).
    pub fn first_id(&self) -> StreamId {
        self.blocks
            .iter()
            .find_map(|(m, b)| b.first_live(*m))
            .unwrap_or(StreamId::ZERO)
    }

    /// The last live entry's ID (0-0 when empty; Redis's `streamLastValidID`).
    pub fn last_valid_id(&self) -> StreamId {
        self.range(StreamId::ZERO, StreamId::MAX, 1, true)
            .first()
            .map_or(StreamId::ZERO, |(id, _)| *id)
    }

    /// The ID `XADD` would use for `*` (or `ms-*` when `ms` is given) at time `now`.
    pub fn next_id(&self, now: u64, ms: Option<u64>) -> Result<StreamId, AppendError> {
        match ms {
            None => {
                if now > self.last_id.ms {
                    Ok(StreamId::new(now, 0))
                } else {
                    self.last_id.incr().ok_or(AppendError::NotGreater)
                }
            }
            Some(ms) => {
                if ms == self.last_id.ms {
                    if self.last_id.seq == u64::MAX {
                        return Err(AppendError::NotGreater);
                    }
                    Ok(StreamId::new(ms, self.last_id.seq + 1))
                } else if ms > self.last_id.ms {
                    Ok(StreamId::new(ms, 0))
                } else {
                    Err(AppendError::NotGreater)
                }
            }
        }
    }

    /// Appends an entry with `id`, which must exceed the last ID.
    pub fn append(
        &mut self,
        id: StreamId,
        fields: &[(&[u8], &[u8])],
        limits: NodeLimits,
    ) -> Result<(), AppendError> {
        if id <= self.last_id {
            return Err(AppendError::NotGreater);
        }
        let need_new = match self.blocks.iter().next_back() {
            None => true,
            Some((_, b)) => {
                // Redis's streamAppendItem: the listpack's bytes plus the new strings' lengths
                // reach the byte limit, or the node holds the entry limit (deleted included).
                let max_bytes = if limits.bytes == 0 || limits.bytes > 1 << 30 {
                    1 << 30
                } else {
                    limits.bytes
                };
                let strings: u64 = fields.iter().map(|(f, v)| (f.len() + v.len()) as u64).sum();
                b.lp_bytes() + strings >= max_bytes
                    || (limits.entries > 0 && u64::from(b.slots) >= limits.entries)
            }
        };
        if need_new {
            let b = Block::new(id, fields);
            self.block_bytes += b.heap_bytes();
            self.blocks.insert(id, b);
        }
        let (master, block) = self.blocks.iter_mut().next_back().expect("a block");
        let before = block.heap_bytes();
        let mut data = std::mem::take(&mut block.data);
        block.encode(*master, id, fields, &mut data);
        block.data = data;
        block.lp_body += block.lp_entry_size(*master, id, fields);
        block.live += 1;
        block.slots += 1;
        block.last = id;
        self.block_bytes = self.block_bytes + block.heap_bytes() - before;
        self.len += 1;
        self.last_id = id;
        self.entries_added += 1;
        Ok(())
    }

    /// Entries with `start <= id <= end`, at most `count` (0 = all), ascending or (`rev`)
    /// descending.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        count: usize,
        rev: bool,
    ) -> Vec<(StreamId, Fields<'_>)> {
        let mut out = Vec::new();
        if start > end {
            return out;
        }
        let full = |out: &Vec<_>| count > 0 && out.len() >= count;
        if !rev {
            let from = self
                .blocks
                .range(..=start)
                .next_back()
                .map_or(start, |(k, _)| *k);
            for (m, b) in self.blocks.range(from..=end) {
                if b.last < start {
                    continue;
                }
                for (id, f, _) in b.entries(*m) {
                    if id > end {
                        return out;
                    }
                    if id >= start {
                        out.push((id, f));
                        if full(&out) {
                            return out;
                        }
                    }
                }
            }
        } else {
            for (m, b) in self.blocks.range(..=end).rev() {
                if b.last < start {
                    break;
                }
                for (id, f, _) in b.entries(*m).into_iter().rev() {
                    if id < start {
                        return out;
                    }
                    if id <= end {
                        out.push((id, f));
                        if full(&out) {
                            return out;
                        }
                    }
                }
            }
        }
        out
    }

    /// Deletes the entry `id`; true if it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, _)) = self.blocks.range(..=id).next_back() else {
            return false;
        };
        let block = self.blocks.get_mut(&master).expect("found above");
        let before = block.heap_bytes();
        let found = block
            .entries(master)
            .into_iter()
            .find(|(eid, _, _)| *eid == id)
            .map(|(_, _, r)| r);
        let Some(r) = found else {
            return false;
        };
        block.data.drain(r);
        block.live -= 1;
        let after = block.heap_bytes();
        if block.live == 0 {
            self.blocks.remove(&master);
            self.block_bytes -= before;
        } else {
            self.block_bytes = self.block_bytes + after - before;
        }
        self.len -= 1;
        if id > self.max_deleted {
            self.max_deleted = id;
        }
        true
    }

    /// Trims as Redis's `streamTrim`: whole blocks while they are entirely past the limit,
    /// then (unless `approx`) entry by entry within the first block. `limit` (0 = none) caps
    /// the entries removed when `approx`. Returns the count removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        loop {
            if let Trim::MaxLen(max) = how {
                if self.len <= max {
                    break;
                }
            }
            let Some((&master, block)) = self.blocks.iter().next() else {
                break;
            };
            let live = u64::from(block.live);
            if limit > 0 && deleted + live > limit {
                break;
            }
            let whole = match how {
                Trim::MaxLen(max) => self.len - live >= max,
                Trim::MinId(min) => block.last < min,
            };
            if whole {
                self.block_bytes -= block.heap_bytes();
                self.blocks.remove(&master);
                self.len -= live;
                deleted += live;
                continue;
            }
            if approx {
                break;
            }
            // Entry by entry in this block.
            let mut cut = 0;
            for (id, _, r) in block.entries(master) {
                let go = match how {
                    Trim::MaxLen(max) => self.len > max,
                    Trim::MinId(min) => id < min,
                };
                if !go {
                    break;
                }
                cut = r.end;
                self.len -= 1;
                deleted += 1;
            }
            if cut > 0 {
                let block = self.blocks.get_mut(&master).expect("present");
                let before = block.heap_bytes();
                let removed = block
                    .entries(master)
                    .iter()
                    .take_while(|(_, _, r)| r.end <= cut)
                    .count();
                block.data.drain(..cut);
                block.live -= removed as u32;
                self.block_bytes = self.block_bytes + block.heap_bytes() - before;
            }
            break;
        }
        deleted
    }

    /// Whole-block iteration for persistence: (master ID, master fields, live entries).
    pub fn blocks(&self) -> impl Iterator<Item = BlockView<'_>> {
        self.blocks.iter().map(|(m, b)| {
            (
                *m,
                b.master_fields.iter().map(|f| &f[..]).collect(),
                b.entries(*m)
                    .into_iter()
                    .map(|(id, f, _)| (id, f))
                    .collect(),
            )
        })
    }

    /// True when a deleted entry may lie in `[start, end]` (Redis's
    /// `streamRangeHasTombstones`).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.len == 0 || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id() > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// The logical read counter of `id` when it can be known (Redis's
    /// `streamEstimateDistanceFromFirstEverEntry`).
    pub fn estimate_distance(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.len == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        let first = self.first_id();
        if self.max_deleted.is_zero() || self.max_deleted < first {
            if id < first {
                return Some(self.entries_added - self.len);
            }
            if id == first {
                return Some(self.entries_added - self.len + 1);
            }
        }
        None
    }

    /// A group's lag (XINFO GROUPS), `None` when unknown.
    pub fn lag(&self, g: &Group) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = g.entries_read {
            if !self.range_has_tombstones(g.last_id, StreamId::MAX) {
                return Some(self.entries_added.saturating_sub(read));
            }
        }
        self.estimate_distance(g.last_id)
            .map(|read| self.entries_added.saturating_sub(read))
    }

    /// Moves a group's cursor past `id` after delivering it (Redis's update of `last_id` and
    /// `entries_read` in `streamReplyWithRange`).
    pub fn advance_group(&mut self, group: &[u8], id: StreamId) {
        let tomb = self.range_has_tombstones(id, StreamId::MAX);
        let est = self.estimate_distance(id);
        let added = self.entries_added;
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        if id > g.last_id {
            match g.entries_read {
                Some(n) if !tomb => g.entries_read = Some(n + 1),
                _ if added > 0 => g.entries_read = est,
                _ => {}
            }
            g.last_id = id;
        }
    }

    /// Adds a whole block as loaded from an RDB listpack: `slots` entries were ever stored in
    /// it (live and deleted), `last` is its greatest ID. Blocks must come in ID order.
    pub fn load_block(
        &mut self,
        master: StreamId,
        master_fields: &[Vec<u8>],
        slots: u32,
        last: StreamId,
        entries: &OwnedEntries,
    ) -> Result<(), String> {
        if let Some((_, prev)) = self.blocks.iter().next_back() {
            if master <= prev.last {
                return Err("stream nodes out of order".into());
            }
        }
        let mut block = Block {
            master_fields: master_fields
                .iter()
                .map(|f| f.clone().into_boxed_slice())
                .collect(),
            data: Vec::new(),
            live: 0,
            slots,
            last,
            lp_body: 0,
        };
        let fields_only: Vec<(&[u8], &[u8])> =
            master_fields.iter().map(|f| (&f[..], &b""[..])).collect();
        block.lp_body = Block::new(master, &fields_only).lp_body;
        let mut prev: Option<StreamId> = None;
        let mut data = Vec::new();
        for (id, fields) in entries {
            if *id < master || prev.is_some_and(|p| *id <= p) || *id > last {
                return Err("stream entries out of order".into());
            }
            prev = Some(*id);
            let pairs: Vec<(&[u8], &[u8])> = fields.iter().map(|(f, v)| (&f[..], &v[..])).collect();
            block.encode(master, *id, &pairs, &mut data);
            block.lp_body += block.lp_entry_size(master, *id, &pairs);
            block.live += 1;
        }
        // A node whose entries are all deleted stays, as in Redis (it still ends where it ends).
        block.data = data;
        self.len += u64::from(block.live);
        self.block_bytes += block.heap_bytes();
        self.blocks.insert(master, block);
        Ok(())
    }

    /// The greatest ID stored so far (deleted entries included): a loaded stream's last ID
    /// may not be below it.
    pub fn top_stored_id(&self) -> StreamId {
        self.blocks
            .values()
            .next_back()
            .map_or(StreamId::ZERO, |b| b.last)
    }

    /// Whether the entry `id` exists.
    pub fn contains(&self, id: StreamId) -> bool {
        !self.range(id, id, 1, false).is_empty()
    }

    /// Whether a consumer group still needs `id` (Redis 8.2's ACKED condition): it is
    /// pending in some group, or some group has not delivered that far yet.
    pub fn is_referenced(&self, id: StreamId) -> bool {
        self.groups
            .values()
            .any(|g| g.last_id < id || g.pel.contains_key(&id))
    }

    /// XDELEX's step for one ID under `policy`: `DEL_NOT_FOUND`, `DEL_DELETED`, or
    /// `DEL_REFERENCED` (ACKED, and a group still needs the entry). DELREF drops the ID from
    /// every group's PEL even when the entry itself is gone.
    pub fn delete_with(&mut self, id: StreamId, policy: RefPolicy) -> i64 {
        match policy {
            RefPolicy::Acked if self.contains(id) && self.is_referenced(id) => {
                return DEL_REFERENCED;
            }
            RefPolicy::DelRef => {
                for g in self.groups.values_mut() {
                    g.ack(id);
                }
            }
            _ => {}
        }
        if self.delete(id) {
            DEL_DELETED
        } else {
            DEL_NOT_FOUND
        }
    }

    /// XACKDEL's step for one ID: acknowledges it in `group` (`DEL_NOT_FOUND` when it is not
    /// pending there), then deletes the entry under `policy`. An acknowledged ID whose entry
    /// is already gone counts as `DEL_DELETED`. The caller checked that `group` exists.
    pub fn ack_delete_with(&mut self, group: &[u8], id: StreamId, policy: RefPolicy) -> i64 {
        let acked = self.groups.get_mut(group).is_some_and(|g| g.ack(id));
        if !acked {
            return DEL_NOT_FOUND;
        }
        match self.delete_with(id, policy) {
            DEL_NOT_FOUND => DEL_DELETED,
            code => code,
        }
    }
}

/// What XDELEX and XACKDEL do with consumer group references to the entries they delete
/// (Redis 8.2): KEEPREF leaves the PELs alone, DELREF removes the ID from every PEL, ACKED
/// deletes only entries no group still needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefPolicy {
    KeepRef,
    DelRef,
    Acked,
}

/// Per-ID codes of XDELEX / XACKDEL: no such entry (or, for XACKDEL, not pending in the group).
pub const DEL_NOT_FOUND: i64 = -1;
/// The entry was deleted.
pub const DEL_DELETED: i64 = 1;
/// ACKED: not deleted, a consumer group still references the entry.
pub const DEL_REFERENCED: i64 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &mut StreamValue, ms: u64) {
        s.append(StreamId::new(ms, 0), &[(b"f", b"v")], NodeLimits::default())
            .unwrap();
    }

    #[test]
    fn append_range_delete() {
        let mut s = StreamValue::new();
        for i in 1..=250 {
            add(&mut s, i);
        }
        assert_eq!(s.len(), 250);
        assert_eq!(s.block_count(), 3);
        let r = s.range(StreamId::new(99, 0), StreamId::new(102, 0), 0, false);
        assert_eq!(
            r.iter().map(|e| e.0.ms).collect::<Vec<_>>(),
            [99, 100, 101, 102]
        );
        let r = s.range(StreamId::ZERO, StreamId::MAX, 2, true);
        assert_eq!(r.iter().map(|e| e.0.ms).collect::<Vec<_>>(), [250, 249]);
        assert!(s.delete(StreamId::new(100, 0)));
        assert!(!s.delete(StreamId::new(100, 0)));
        assert_eq!(s.len(), 249);
        assert_eq!(s.first_id(), StreamId::new(1, 0));
        assert_eq!(s.trim(Trim::MaxLen(200), true, 0), 0);
        assert_eq!(s.trim(Trim::MaxLen(150), true, 0), 99);
        assert_eq!(s.trim(Trim::MaxLen(100), false, 0), 50);
        assert_eq!(s.first_id(), StreamId::new(151, 0));
        assert!(s.radix_nodes() >= 3);
    }

    #[test]
    fn radix_nodes_of_one_key() {
        let mut s = StreamValue::new();
        assert_eq!(s.radix_nodes(), 1);
        add(&mut s, 1);
        assert_eq!(s.radix_nodes(), 2);
    }

    fn deliver(s: &mut StreamValue, group: &[u8], ids: &[u64], last: u64) {
        let g = s.groups.get_mut(group).unwrap();
        g.last_id = StreamId::new(last, 0);
        for &ms in ids {
            g.pel.insert(
                StreamId::new(ms, 0),
                PendingEntry {
                    consumer: b"c"[..].into(),
                    delivery_time: 0,
                    delivery_count: 1,
                },
            );
        }
    }

    #[test]
    fn delete_with_policies() {
        let id = |ms| StreamId::new(ms, 0);
        let mut s = StreamValue::new();
        for i in 1..=6 {
            add(&mut s, i);
        }
        s.groups
            .insert(b"g1"[..].into(), Group::new(StreamId::ZERO, None));
        s.groups
            .insert(b"g2"[..].into(), Group::new(StreamId::ZERO, None));
        // g1 read 1..=4 and holds 1, 2 pending; g2 read 1..=2 and holds 2 pending.
        deliver(&mut s, b"g1", &[1, 2], 4);
        deliver(&mut s, b"g2", &[2], 2);
        // KEEPREF deletes and leaves the PEL.
        assert_eq!(s.delete_with(id(1), RefPolicy::KeepRef), DEL_DELETED);
        assert!(s.groups[&b"g1"[..]].pel.contains_key(&id(1)));
        assert_eq!(s.delete_with(id(1), RefPolicy::KeepRef), DEL_NOT_FOUND);
        // ACKED: 2 is pending, 3 is not yet delivered to g2, 9 does not exist.
        assert_eq!(s.delete_with(id(2), RefPolicy::Acked), DEL_REFERENCED);
        assert_eq!(s.delete_with(id(3), RefPolicy::Acked), DEL_REFERENCED);
        assert_eq!(s.delete_with(id(9), RefPolicy::Acked), DEL_NOT_FOUND);
        assert!(s.contains(id(2)) && s.contains(id(3)));
        // DELREF deletes 2 and drops it from both PELs; a dangling 1 goes too.
        assert_eq!(s.delete_with(id(2), RefPolicy::DelRef), DEL_DELETED);
        assert_eq!(s.delete_with(id(1), RefPolicy::DelRef), DEL_NOT_FOUND);
        assert!(s.groups.values().all(|g| g.pel.is_empty()));
        // Once every group has read 3 and nothing holds it, ACKED deletes it.
        s.groups.get_mut(&b"g2"[..]).unwrap().last_id = id(6);
        assert_eq!(s.delete_with(id(3), RefPolicy::Acked), DEL_DELETED);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn ack_delete_with_policies() {
        let id = |ms| StreamId::new(ms, 0);
        let mut s = StreamValue::new();
        for i in 1..=4 {
            add(&mut s, i);
        }
        s.groups
            .insert(b"g1"[..].into(), Group::new(StreamId::ZERO, None));
        s.groups
            .insert(b"g2"[..].into(), Group::new(StreamId::ZERO, None));
        deliver(&mut s, b"g1", &[1, 2, 3], 4);
        deliver(&mut s, b"g2", &[1], 4);
        // Not pending in g1: nothing happens.
        assert_eq!(
            s.ack_delete_with(b"g1", id(4), RefPolicy::KeepRef),
            DEL_NOT_FOUND
        );
        assert!(s.contains(id(4)));
        // ACKED: acknowledged in g1, but g2 still holds 1.
        assert_eq!(
            s.ack_delete_with(b"g1", id(1), RefPolicy::Acked),
            DEL_REFERENCED
        );
        assert!(!s.groups[&b"g1"[..]].pel.contains_key(&id(1)));
        assert!(s.contains(id(1)));
        // ACKED with no other reference deletes.
        assert_eq!(
            s.ack_delete_with(b"g1", id(2), RefPolicy::Acked),
            DEL_DELETED
        );
        assert!(!s.contains(id(2)));
        // KEEPREF deletes although g2 holds 1; DELREF would also clear g2.
        deliver(&mut s, b"g2", &[3], 4);
        assert_eq!(
            s.ack_delete_with(b"g1", id(3), RefPolicy::DelRef),
            DEL_DELETED
        );
        assert!(!s.groups[&b"g2"[..]].pel.contains_key(&id(3)));
        assert!(s.groups[&b"g2"[..]].pel.contains_key(&id(1)));
        assert_eq!(
            s.ack_delete_with(b"g2", id(1), RefPolicy::KeepRef),
            DEL_DELETED
        );
        assert_eq!(s.len(), 1);
    }
}
