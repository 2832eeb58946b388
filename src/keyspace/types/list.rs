//! A list of byte strings, stored compactly: a deque of nodes, each one buffer of up to
//! `NODE_BYTES_MAX` bytes holding its elements back to back (Redis's quicklist of listpacks,
//! in spirit). An element is `[len][bytes][len reversed]`, the length a LEB128 varint, so a
//! node can be walked from either end: a 10-byte element costs 12 bytes.
//!
//! Pops at either end move an offset (no memmove); pushes at the front write into room kept
//! before the first element. Index access skips whole nodes by their counts. Middle edits
//! (LSET, LINSERT) splice one node and split it when it grows past the limit.
//!
//! The encoding OBJECT ENCODING reports follows Redis 7.2's rules (`listpack` while small,
//! `quicklist` beyond `list-max-listpack-size`, back to `listpack` when shrunk below half),
//! computed from the exact size Redis's listpack would have (`lp_bytes`).

use crate::keyspace::value::alloc_size;
use bytes::Bytes;
use std::collections::VecDeque;

/// Bytes per node before a new node is started (Redis's default node size).
const NODE_BYTES_MAX: usize = 8 * 1024;
/// Up to this size a node's buffer grows to the next size class only.
const SMALL_NODE_BYTES: usize = 256;
/// Smallest buffer allocated for a node past `SMALL_NODE_BYTES`.
const NODE_BYTES_MIN: usize = 32;
/// Redis's largest node under an entry-count `list-max-listpack-size` (SIZE_SAFETY_LIMIT).
const SAFETY_BYTES_MAX: usize = 8192;
/// Redis's listpack header (total bytes + count) and end marker.
const LP_OVERHEAD_BYTES: usize = 7;

#[derive(Clone, Debug, Default, PartialEq)]
struct Node {
    /// Elements live in `buf[start..]`; `buf[..start]` is room for front pushes. `start` is
    /// below 8 KiB (front room is only made in nodes under `NODE_BYTES_MAX`, and a bigger
    /// buffer is allocated exactly), `count` below 4097 (elements take at least 2 bytes), so
    /// both fit 32 bits and the node 32 bytes, a jemalloc class.
    buf: Vec<u8>,
    start: u32,
    count: u32,
}

/// A list of byte strings.
#[derive(Clone, Debug, PartialEq)]
pub struct ListValue {
    nodes: VecDeque<Node>,
    len: usize,
    /// Running sum of the node buffers' capacities.
    heap: usize,
    /// The bytes Redis's listpack encoding of these elements would take (encoding rules).
    lp_bytes: usize,
    quicklist: bool,
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue {
            nodes: VecDeque::new(),
            len: 0,
            heap: 0,
            lp_bytes: LP_OVERHEAD_BYTES,
            quicklist: false,
        }
    }
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

impl ListValue {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes owned by the value (kept as a running count: O(1)).
    pub fn heap_bytes(&self) -> usize {
        self.heap + alloc_size(self.nodes.capacity() * std::mem::size_of::<Node>())
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        if self.quicklist {
            "quicklist"
        } else {
            "listpack"
        }
    }

    pub fn push(&mut self, end: End, element: &[u8]) {
        match end {
            End::Head => self.push_front(element),
            End::Tail => self.push_back(element),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Bytes> {
        match end {
            End::Head => self.pop_front(),
            End::Tail => self.pop_back(),
        }
    }

    pub fn push_back(&mut self, element: &[u8]) {
        let size = entry_size(element.len());
        let fits = self
            .nodes
            .back()
            .is_some_and(|n| n.live_bytes() + size <= NODE_BYTES_MAX);
        if !fits {
            if self.nodes.is_empty() {
                // Most lists are one node: no room for three more.
                self.nodes.reserve_exact(1);
            }
            self.nodes.push_back(Node::default());
        }
        let node = self.nodes.back_mut().expect("a node was ensured");
        let before = buf_bytes(&node.buf);
        if node.buf.capacity() - node.buf.len() < size {
            let wanted = node_capacity(node.buf.len() + size);
            node.buf.reserve_exact(wanted - node.buf.len());
        }
        write_entry(&mut node.buf, element);
        node.count += 1;
        self.heap = self.heap + buf_bytes(&node.buf) - before;
        self.added(element);
    }

    pub fn push_front(&mut self, element: &[u8]) {
        let size = entry_size(element.len());
        let fits = self
            .nodes
            .front()
            .is_some_and(|n| n.live_bytes() + size <= NODE_BYTES_MAX);
        if !fits {
            if self.nodes.is_empty() {
                self.nodes.reserve_exact(1);
            }
            self.nodes.push_front(Node::default());
        }
        let node = self.nodes.front_mut().expect("a node was ensured");
        let before = buf_bytes(&node.buf);
        if (node.start as usize) < size {
            node.make_front_room(size);
        }
        let mut entry = Vec::with_capacity(size);
        write_entry(&mut entry, element);
        let start = node.start as usize;
        node.buf[start - size..start].copy_from_slice(&entry);
        node.start = (start - size) as u32;
        node.count += 1;
        self.heap = self.heap + buf_bytes(&node.buf) - before;
        self.added(element);
    }

    pub fn pop_front(&mut self) -> Option<Bytes> {
        let node = self.nodes.front_mut()?;
        let (element, size) = {
            let (range, size) = entry_at(&node.buf, node.start as usize);
            (Bytes::copy_from_slice(&node.buf[range]), size)
        };
        node.start += size as u32;
        node.count -= 1;
        if node.count == 0 {
            self.drop_node(0);
        }
        self.removed(&element);
        Some(element)
    }

    pub fn pop_back(&mut self) -> Option<Bytes> {
        let node = self.nodes.back_mut()?;
        let (range, size) = entry_before(&node.buf, node.buf.len());
        let element = Bytes::copy_from_slice(&node.buf[range]);
        node.buf.truncate(node.buf.len() - size);
        node.count -= 1;
        if node.count == 0 {
            self.drop_node(self.nodes.len() - 1);
        }
        self.removed(&element);
        Some(element)
    }

    /// The element at `index` (0-based from the head).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let (n, offset) = self.locate(index)?;
        let node = &self.nodes[n];
        Some(&node.buf[entry_at(&node.buf, offset).0])
    }

    /// Replaces the element at `index`; false if out of range.
    pub fn set(&mut self, index: usize, element: &[u8]) -> bool {
        let Some((n, offset)) = self.locate(index) else {
            return false;
        };
        let node = &mut self.nodes[n];
        let (range, size) = entry_at(&node.buf, offset);
        let old = node.buf[range].to_vec();
        let mut entry = Vec::with_capacity(entry_size(element.len()));
        write_entry(&mut entry, element);
        let before = buf_bytes(&node.buf);
        node.buf.splice(offset..offset + size, entry);
        self.heap = self.heap + buf_bytes(&node.buf) - before;
        self.removed(&old);
        self.added(element);
        self.split_if_large(n);
        true
    }

    /// Inserts `element` at `index` (0..=len).
    pub fn insert(&mut self, index: usize, element: &[u8]) {
        if index == 0 {
            return self.push_front(element);
        }
        if index >= self.len {
            return self.push_back(element);
        }
        let (n, offset) = self.locate(index).expect("index < len");
        let node = &mut self.nodes[n];
        let mut entry = Vec::with_capacity(entry_size(element.len()));
        write_entry(&mut entry, element);
        let before = buf_bytes(&node.buf);
        node.buf.splice(offset..offset, entry);
        node.count += 1;
        self.heap = self.heap + buf_bytes(&node.buf) - before;
        self.added(element);
        self.split_if_large(n);
    }

    /// Removes `count` elements from one end.
    pub fn drop_end(&mut self, end: End, mut count: usize) {
        while count > 0 {
            let n = match end {
                End::Head => 0,
                End::Tail => self.nodes.len() - 1,
            };
            if self.nodes[n].count as usize <= count {
                count -= self.nodes[n].count as usize;
                let node = &self.nodes[n];
                let elements: Vec<Vec<u8>> = node.iter().map(<[u8]>::to_vec).collect();
                for element in &elements {
                    self.removed(element);
                }
                self.drop_node(n);
                continue;
            }
            for _ in 0..count {
                self.pop(end);
            }
            count = 0;
        }
    }

    /// Every element from the head.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.nodes.iter().flat_map(Node::iter_both)
    }

    /// Elements `start..=stop` (valid indexes), skipping whole nodes before `start`.
    pub fn range(&self, start: usize, stop: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let mut skip = start;
        let mut first = 0;
        while first < self.nodes.len() && self.nodes[first].count as usize <= skip {
            skip -= self.nodes[first].count as usize;
            first += 1;
        }
        self.nodes
            .range(first..)
            .flat_map(Node::iter_both)
            .skip(skip)
            .take(stop + 1 - start)
    }

    /// Keeps only the elements for which `keep` answers true (LREM), rebuilding the nodes.
    pub fn retain(&mut self, mut keep: impl FnMut(usize, &[u8]) -> bool) {
        let mut kept = ListValue {
            quicklist: self.quicklist,
            ..ListValue::default()
        };
        for (i, element) in self.iter().enumerate() {
            if keep(i, element) {
                kept.push_back(element);
            }
        }
        *self = kept;
    }

    /// Listpack→quicklist when adding elements of `add_bytes` raw bytes in total and
    /// `add_count` elements would exceed `list-max-listpack-size` (`fill`), as Redis's
    /// `listTypeTryConvertListpack`. Call before adding.
    pub fn convert_if_growing(&mut self, fill: i64, add_bytes: usize, add_count: usize) {
        self.convert_if_growing_with(|| fill, add_bytes, add_count)
    }

    /// `convert_if_growing` reading the setting only when it matters (a listpack).
    pub fn convert_if_growing_with(
        &mut self,
        fill: impl FnOnce() -> i64,
        add_bytes: usize,
        add_count: usize,
    ) {
        if !self.quicklist
            && node_exceeds_limit(fill(), self.lp_bytes + add_bytes, self.len + add_count)
        {
            self.quicklist = true;
        }
    }

    /// Quicklist→listpack once the list fits in half a node, as Redis's
    /// `listTypeTryConvertQuicklist` when shrinking. Call after removing.
    pub fn convert_if_shrunk(&mut self, fill: i64) {
        self.convert_if_shrunk_with(|| fill)
    }

    /// `convert_if_shrunk` reading the setting only when it matters.
    pub fn convert_if_shrunk_with(&mut self, fill: impl FnOnce() -> i64) {
        // No setting converts back above 32 KiB (half of the 64 KiB maximum node).
        if !self.quicklist || self.lp_bytes > 32 * 1024 {
            return;
        }
        let (size_max, count_max) = node_limits(fill());
        // An entry-count limit has no size half, but Redis converts back only from a single
        // node, which its 8 KiB safety limit bounds.
        let size_max = if size_max == usize::MAX {
            2 * SAFETY_BYTES_MAX
        } else {
            size_max
        };
        if self.lp_bytes <= size_max / 2 && self.len <= count_max / 2 {
            self.quicklist = false;
        }
    }

    /// (node, byte offset) of the element at `index`, walking from the nearer end.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index < self.len / 2 {
            let mut rest = index;
            for (n, node) in self.nodes.iter().enumerate() {
                if rest < node.count as usize {
                    return Some((n, node.offset_of(rest)));
                }
                rest -= node.count as usize;
            }
        } else {
            let mut rest = self.len - 1 - index;
            for n in (0..self.nodes.len()).rev() {
                let node = &self.nodes[n];
                if rest < node.count as usize {
                    return Some((n, node.offset_of(node.count as usize - 1 - rest)));
                }
                rest -= node.count as usize;
            }
        }
        None
    }

    /// Splits node `n` in two when an edit grew it past the node limit.
    fn split_if_large(&mut self, n: usize) {
        let node = &self.nodes[n];
        if node.live_bytes() <= NODE_BYTES_MAX || node.count < 2 {
            return;
        }
        let half = node.count / 2;
        let cut = node.offset_of(half as usize);
        let mut tail = Node {
            buf: node.buf[cut..].to_vec(),
            start: 0,
            count: node.count - half,
        };
        tail.buf.shrink_to_fit();
        let node = &mut self.nodes[n];
        let before = buf_bytes(&node.buf);
        node.buf.truncate(cut);
        node.buf.shrink_to_fit();
        node.count = half;
        self.heap = self.heap + buf_bytes(&node.buf) + buf_bytes(&tail.buf) - before;
        self.nodes.insert(n + 1, tail);
    }

    fn drop_node(&mut self, n: usize) {
        if let Some(node) = self.nodes.remove(n) {
            // Callers account the node's elements (`removed`) themselves.
            self.heap -= buf_bytes(&node.buf);
        }
        if self.nodes.is_empty() {
            self.nodes = VecDeque::new();
        }
    }

    fn added(&mut self, element: &[u8]) {
        self.len += 1;
        self.lp_bytes += lp_entry_bytes(element);
    }

    fn removed(&mut self, element: &[u8]) {
        self.len -= 1;
        self.lp_bytes -= lp_entry_bytes(element);
    }
}

/// The bytes a node's buffer takes from the allocator (its size class).
fn buf_bytes(buf: &Vec<u8>) -> usize {
    alloc_size(buf.capacity())
}

/// The buffer size for a node that must hold `need` bytes: the allocator's size class while
/// small (a short list costs what it holds), doubling after so growth stays amortised.
fn node_capacity(need: usize) -> usize {
    if need <= SMALL_NODE_BYTES {
        alloc_size(need)
    } else {
        need.next_power_of_two()
            .clamp(NODE_BYTES_MIN, NODE_BYTES_MAX.max(need))
    }
}

impl Node {
    fn live_bytes(&self) -> usize {
        self.buf.len() - self.start as usize
    }

    /// Byte offset of the `i`-th element of this node.
    fn offset_of(&self, i: usize) -> usize {
        if i <= self.count as usize / 2 {
            let mut offset = self.start as usize;
            for _ in 0..i {
                offset += entry_at(&self.buf, offset).1;
            }
            offset
        } else {
            let mut end = self.buf.len();
            for _ in 0..self.count as usize - i {
                end -= entry_before(&self.buf, end).1;
            }
            end
        }
    }

    /// Moves the elements to the end of a larger buffer so `size` bytes fit before them.
    fn make_front_room(&mut self, size: usize) {
        let live = self.live_bytes();
        let capacity = node_capacity(live + size);
        let mut buf = vec![0u8; capacity];
        buf[capacity - live..].copy_from_slice(&self.buf[self.start as usize..]);
        self.buf = buf;
        self.start = u32::try_from(capacity - live).expect("front room below 8 KiB");
    }

    fn iter(&self) -> NodeIter<'_> {
        NodeIter {
            buf: &self.buf,
            front: self.start as usize,
            back: self.buf.len(),
        }
    }

    fn iter_both(&self) -> NodeIter<'_> {
        self.iter()
    }
}

struct NodeIter<'a> {
    buf: &'a [u8],
    front: usize,
    back: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (range, size) = entry_at(self.buf, self.front);
        self.front += size;
        Some(&self.buf[range])
    }
}

impl DoubleEndedIterator for NodeIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let (range, size) = entry_before(self.buf, self.back);
        self.back -= size;
        Some(&self.buf[range])
    }
}

fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - (n | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// Bytes one element takes in a node.
fn entry_size(len: usize) -> usize {
    2 * varint_len(len) + len
}

fn write_entry(out: &mut Vec<u8>, element: &[u8]) {
    let mut header = [0u8; 10];
    let n = encode_varint(element.len(), &mut header);
    out.extend_from_slice(&header[..n]);
    out.extend_from_slice(element);
    out.extend(header[..n].iter().rev());
}

fn encode_varint(mut n: usize, out: &mut [u8; 10]) -> usize {
    let mut i = 0;
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out[i] = low;
            return i + 1;
        }
        out[i] = low | 0x80;
        i += 1;
    }
}

/// The element starting at `offset`: its byte range and the entry's total size.
fn entry_at(buf: &[u8], offset: usize) -> (std::ops::Range<usize>, usize) {
    let (mut len, mut shift, mut i) = (0usize, 0, 0);
    loop {
        let b = buf[offset + i];
        len |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let begin = offset + i;
    (begin..begin + len, 2 * i + len)
}

/// The element ending at `end`: its byte range and the entry's total size.
fn entry_before(buf: &[u8], end: usize) -> (std::ops::Range<usize>, usize) {
    let (mut len, mut shift, mut i) = (0usize, 0, 0);
    loop {
        let b = buf[end - 1 - i];
        len |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let stop = end - i;
    (stop - len..stop, 2 * i + len)
}

/// (bytes, count) limits of one Redis quicklist node for `list-max-listpack-size`.
fn node_limits(fill: i64) -> (usize, usize) {
    const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
    if fill >= 0 {
        (usize::MAX, fill.max(1) as usize)
    } else {
        let level = ((-fill - 1) as usize).min(LEVELS.len() - 1);
        (LEVELS[level], usize::MAX)
    }
}

/// Redis's `quicklistNodeExceedsLimit`: size-limited fills compare bytes; count-limited fills
/// also keep a node under the 8 KiB safety size.
fn node_exceeds_limit(fill: i64, bytes: usize, count: usize) -> bool {
    let (size_max, count_max) = node_limits(fill);
    if size_max != usize::MAX {
        bytes > size_max
    } else {
        bytes > SAFETY_BYTES_MAX || count > count_max
    }
}

/// Bytes the element takes in a Redis listpack: integers in their compact encodings, strings
/// with a 1, 2 or 5 byte header; plus the back-length.
fn lp_entry_bytes(element: &[u8]) -> usize {
    if element.len() <= 20 {
        if let Some(v) = crate::strconv::parse_i64_strict(element) {
            let encoded = match v {
                0..=127 => 1,
                -4096..=4095 => 2,
                -32768..=32767 => 3,
                -8388608..=8388607 => 4,
                -2147483648..=2147483647 => 5,
                _ => 9,
            };
            return encoded + 1;
        }
    }
    let len = element.len();
    let header = if len < 64 {
        1
    } else if len < 4096 {
        2
    } else {
        5
    };
    let entry = header + len;
    let backlen = match entry {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    entry + backlen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_is_32_bytes() {
        // A one-node list's node array is one 32-byte allocation (see `Node`).
        assert_eq!(std::mem::size_of::<Node>(), 32);
        let mut list = ListValue::default();
        list.push_back(b"e1");
        // The node array (32) and the node's buffer (4 bytes: the 8-byte class).
        assert_eq!(list.heap_bytes(), 32 + 8);
    }

    fn collect(list: &ListValue) -> Vec<Vec<u8>> {
        list.iter().map(<[u8]>::to_vec).collect()
    }

    fn model_check(list: &ListValue, model: &VecDeque<Vec<u8>>) {
        assert_eq!(list.len(), model.len());
        assert_eq!(collect(list), model.iter().cloned().collect::<Vec<_>>());
        let rev: Vec<Vec<u8>> = list.iter().rev().map(<[u8]>::to_vec).collect();
        assert_eq!(rev, model.iter().rev().cloned().collect::<Vec<_>>());
        for (i, e) in model.iter().enumerate() {
            assert_eq!(list.get(i), Some(e.as_slice()));
        }
        let recount: usize = list.nodes.iter().map(|n| buf_bytes(&n.buf)).sum();
        assert_eq!(list.heap, recount);
        let lp: usize = model.iter().map(|e| lp_entry_bytes(e)).sum();
        assert_eq!(list.lp_bytes, LP_OVERHEAD_BYTES + lp);
    }

    #[test]
    fn matches_a_model_under_mixed_edits() {
        let mut list = ListValue::default();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut seed = 7u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for step in 0..20_000 {
            let size = match rand() % 10 {
                0 => 200 + (rand() % 9000) as usize,
                1..=3 => (rand() % 130) as usize,
                _ => (rand() % 12) as usize,
            };
            let element: Vec<u8> = (0..size)
                .map(|i| (i as u8).wrapping_add(step as u8))
                .collect();
            match rand() % 9 {
                0 | 1 => {
                    list.push_back(&element);
                    model.push_back(element);
                }
                2 | 3 => {
                    list.push_front(&element);
                    model.push_front(element);
                }
                4 => assert_eq!(list.pop_front().map(|b| b.to_vec()), model.pop_front()),
                5 => assert_eq!(list.pop_back().map(|b| b.to_vec()), model.pop_back()),
                6 if !model.is_empty() => {
                    let i = (rand() as usize) % model.len();
                    assert!(list.set(i, &element));
                    model[i] = element;
                }
                7 => {
                    let i = (rand() as usize) % (model.len() + 1);
                    list.insert(i, &element);
                    model.insert(i, element);
                }
                8 if model.len() > 3 => {
                    let n = (rand() as usize) % 3;
                    list.drop_end(End::Tail, n);
                    list.drop_end(End::Head, n);
                    for _ in 0..n {
                        model.pop_back();
                        model.pop_front();
                    }
                }
                _ => {}
            }
            if step % 997 == 0 {
                model_check(&list, &model);
            }
        }
        model_check(&list, &model);
        let len = model.len();
        if len > 4 {
            let got: Vec<Vec<u8>> = list.range(1, len - 2).map(<[u8]>::to_vec).collect();
            let want: Vec<Vec<u8>> = model.range(1..len - 1).cloned().collect();
            assert_eq!(got, want);
        }
        list.retain(|i, _| i % 2 == 0);
        let want: VecDeque<Vec<u8>> = model.into_iter().step_by(2).collect();
        model_check(&list, &want);
    }

    #[test]
    fn listpack_sizes() {
        assert_eq!(lp_entry_bytes(b"5"), 2);
        assert_eq!(lp_entry_bytes(b"1000"), 3);
        assert_eq!(lp_entry_bytes(b"abc"), 5);
        assert_eq!(lp_entry_bytes(&[b'a'; 100]), 103);
        assert_eq!(entry_size(10), 12);
        assert_eq!(entry_size(200), 204);
    }
}
