//! Streams in RDB files and DUMP payloads (RDB_TYPE_STREAM_LISTPACKS, _2 and _3).
//!
//! Layout (from the RDB format description): the count of nodes; per node its 16-byte
//! big-endian master ID as a string and its listpack as a string; then the length, the last
//! ID, and (from _2) the first ID, the greatest deleted ID and the count of entries ever
//! added; then the consumer groups: name, last ID, (from _2) entries read, the group PEL
//! (raw 16-byte IDs, 8-byte little-endian delivery time, delivery count) and the consumers
//! (name, seen time, (from _3) active time, and their PEL as raw IDs).
//!
//! A node's listpack starts with its master entry: live count, deleted count, the number of
//! master fields, the fields, and a 0 terminator. Each entry follows as: flags (1 deleted,
//! 2 same fields as the master), ms and seq deltas from the master ID, then either the values
//! alone (same fields) or the field count and field/value pairs, and last the entry's element
//! count (so an iterator can walk backwards).
//!
//! We write _2, the type Redis 7.0 writes in the RDB version we write (10), so redis-server
//! 7.0 loads our files; _3 differs only in the consumers' active time, read when present.

use super::format::{kind, put_len, put_string, ByteSource, Decoded, Reader};
use crate::keyspace::types::stream::{Consumer, Group, PendingEntry, StreamId, StreamValue};

const FLAG_DELETED: i64 = 1;
const FLAG_SAME_FIELDS: i64 = 2;

/// Builds a listpack, element by element.
struct Listpack {
    buf: Vec<u8>,
    count: usize,
}

impl Listpack {
    fn new() -> Listpack {
        Listpack {
            buf: vec![0; 6],
            count: 0,
        }
    }

    fn backlen(out: &mut Vec<u8>, l: usize) {
        let l = l as u64;
        if l <= 127 {
            out.push(l as u8);
        } else if l < 16383 {
            out.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
        } else if l < 2_097_151 {
            out.extend_from_slice(&[
                (l >> 14) as u8,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else if l < 268_435_455 {
            out.extend_from_slice(&[
                (l >> 21) as u8,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else {
            out.extend_from_slice(&[
                (l >> 28) as u8,
                ((l >> 21) & 127) as u8 | 128,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        }
    }

    fn push_encoded(&mut self, enc: &[u8]) {
        self.buf.extend_from_slice(enc);
        Self::backlen(&mut self.buf, enc.len());
        self.count += 1;
    }

    fn int(&mut self, n: i64) {
        let mut enc = Vec::with_capacity(9);
        if (0..=127).contains(&n) {
            enc.push(n as u8);
        } else if (-4096..=4095).contains(&n) {
            let u = (n as u64) & 0x1fff;
            enc.push(0xc0 | (u >> 8) as u8);
            enc.push(u as u8);
        } else if (-32768..=32767).contains(&n) {
            enc.push(0xf1);
            enc.extend_from_slice(&(n as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&n) {
            enc.push(0xf2);
            enc.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
        } else if (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&n) {
            enc.push(0xf3);
            enc.extend_from_slice(&(n as i32).to_le_bytes());
        } else {
            enc.push(0xf4);
            enc.extend_from_slice(&n.to_le_bytes());
        }
        self.push_encoded(&enc);
    }

    /// A string element, stored as an integer when it is one's canonical form (as Redis's
    /// `lpAppend` does).
    fn string(&mut self, s: &[u8]) {
        if s.len() <= 20 {
            if let Some(n) = crate::strconv::parse_i64_strict(s) {
                return self.int(n);
            }
        }
        let mut enc = Vec::with_capacity(s.len() + 5);
        if s.len() < 64 {
            enc.push(0x80 | s.len() as u8);
        } else if s.len() < 4096 {
            enc.push(0xe0 | (s.len() >> 8) as u8);
            enc.push(s.len() as u8);
        } else {
            enc.push(0xf0);
            enc.extend_from_slice(&(s.len() as u32).to_le_bytes());
        }
        enc.extend_from_slice(s);
        self.push_encoded(&enc);
    }

    fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xff);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = u16::try_from(self.count).unwrap_or(u16::MAX);
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

/// The type byte we write for streams.
pub const WRITTEN_KIND: u8 = kind::STREAM_LISTPACKS_2;

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_len(out, id.ms);
    put_len(out, id.seq);
}

/// Appends a stream's body (after its type byte), as RDB_TYPE_STREAM_LISTPACKS_2.
pub fn put_stream(out: &mut Vec<u8>, s: &StreamValue, compress: bool) {
    let blocks: Vec<_> = s.blocks().collect();
    put_len(out, blocks.len() as u64);
    for (master, master_fields, entries) in &blocks {
        put_string(out, &master.to_be(), false);
        let mut lp = Listpack::new();
        lp.int(entries.len() as i64);
        lp.int(0);
        lp.int(master_fields.len() as i64);
        for f in master_fields {
            lp.string(f);
        }
        lp.int(0);
        for (id, fields) in entries {
            let same = fields.len() == master_fields.len()
                && fields.iter().zip(master_fields).all(|((f, _), m)| f == m);
            lp.int(if same { FLAG_SAME_FIELDS } else { 0 });
            lp.int(id.ms.wrapping_sub(master.ms) as i64);
            lp.int(id.seq.wrapping_sub(master.seq) as i64);
            if same {
                for (_, v) in fields {
                    lp.string(v);
                }
                lp.int(fields.len() as i64 + 3);
            } else {
                lp.int(fields.len() as i64);
                for (f, v) in fields {
                    lp.string(f);
                    lp.string(v);
                }
                lp.int(2 * fields.len() as i64 + 4);
            }
        }
        put_string(out, &lp.finish(), compress);
    }
    put_len(out, s.len());
    put_id(out, s.last_id);
    put_id(out, s.first_id());
    put_id(out, s.max_deleted);
    put_len(out, s.entries_added);
    put_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        put_string(out, name, false);
        put_id(out, g.last_id);
        put_len(out, g.entries_read.unwrap_or(u64::MAX));
        put_len(out, g.pel.len() as u64);
        for (id, p) in &g.pel {
            out.extend_from_slice(&id.to_be());
            out.extend_from_slice(&p.delivery_time.to_le_bytes());
            put_len(out, p.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            put_string(out, cname, false);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            put_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id.to_be());
            }
        }
    }
}

fn read_id<'a, S: ByteSource<'a>>(r: &mut Reader<'a, S>) -> Decoded<StreamId> {
    let ms = r.length()?;
    let seq = r.length()?;
    Ok(StreamId::new(ms, seq))
}

fn lp_int(item: &[u8]) -> Option<i64> {
    crate::strconv::parse_i64_strict(item)
}

use crate::keyspace::types::stream::OwnedEntries as Entries;

/// A decoded node: master fields, entries ever stored, greatest ID, live entries.
type Node = (Vec<Vec<u8>>, u32, StreamId, Entries);

/// Decodes one node's listpack: master fields, entries ever stored, greatest ID, live entries.
fn decode_node(master: StreamId, lp: &[u8]) -> Result<Node, String> {
    let items = super::read::listpack(lp)?;
    let bad = || "malformed stream node".to_string();
    let mut it = items.into_iter();
    let next_int = |it: &mut std::vec::IntoIter<Vec<u8>>| -> Result<i64, String> {
        it.next().and_then(|i| lp_int(&i)).ok_or_else(bad)
    };
    let live = next_int(&mut it)?;
    let deleted = next_int(&mut it)?;
    let nfields = next_int(&mut it)?;
    if live < 0 || deleted < 0 || !(0..=1 << 20).contains(&nfields) {
        return Err(bad());
    }
    let mut master_fields = Vec::new();
    for _ in 0..nfields {
        master_fields.push(it.next().ok_or_else(bad)?);
    }
    if next_int(&mut it)? != 0 {
        return Err(bad());
    }
    let mut entries = Vec::new();
    let mut slots = 0u32;
    let mut last = master;
    while let Some(flag) = it.next() {
        let flags = lp_int(&flag).ok_or_else(bad)?;
        let ms = master.ms.wrapping_add(next_int(&mut it)? as u64);
        let seq = master.seq.wrapping_add(next_int(&mut it)? as u64);
        let id = StreamId::new(ms, seq);
        let mut fields = Vec::new();
        if flags & FLAG_SAME_FIELDS != 0 {
            for f in &master_fields {
                fields.push((f.clone(), it.next().ok_or_else(bad)?));
            }
        } else {
            let n = next_int(&mut it)?;
            if !(0..=1 << 24).contains(&n) {
                return Err(bad());
            }
            for _ in 0..n {
                let f = it.next().ok_or_else(bad)?;
                fields.push((f, it.next().ok_or_else(bad)?));
            }
        }
        next_int(&mut it)?; // lp-count
        slots = slots.checked_add(1).ok_or_else(bad)?;
        if id < last && slots > 1 {
            return Err(bad());
        }
        last = id;
        if flags & FLAG_DELETED == 0 {
            entries.push((id, fields));
        }
    }
    if entries.len() as i64 != live || slots as i64 != live + deleted {
        return Err(bad());
    }
    Ok((master_fields, slots, last, entries))
}

/// Reads a stream body of type `value_kind` (one of the three stream types).
pub fn read_stream<'a, S: ByteSource<'a>>(
    r: &mut Reader<'a, S>,
    value_kind: u8,
) -> Decoded<StreamValue> {
    let at = r.offset();
    let mut s = StreamValue::new();
    let nodes = r.count(2)?;
    for _ in 0..nodes {
        let key_at = r.offset();
        let key = r.string()?;
        let Some(master) = StreamId::from_be(&key) else {
            return r.error_at(key_at, "stream node key is not 16 bytes");
        };
        let lp_at = r.offset();
        let lp = r.string()?;
        let (fields, slots, last, entries) = match decode_node(master, &lp) {
            Ok(node) => node,
            Err(e) => return r.error_at(lp_at, e),
        };
        if let Err(e) = s.load_block(master, &fields, slots, last, &entries) {
            return r.error_at(lp_at, e);
        }
    }
    let len = r.length()?;
    if len != s.len() {
        return r.error_at(at, "stream length does not match its entries");
    }
    s.last_id = read_id(r)?;
    if s.last_id < s.top_stored_id() {
        return r.error_at(at, "stream last ID is below its entries");
    }
    if value_kind >= kind::STREAM_LISTPACKS_2 {
        let _first = read_id(r)?;
        s.max_deleted = read_id(r)?;
        s.entries_added = r.length()?;
    } else {
        s.entries_added = s.len();
    }
    let groups = r.count(1)?;
    for _ in 0..groups {
        let name = r.string()?.into_owned().into_boxed_slice();
        let last_id = read_id(r)?;
        let entries_read = if value_kind >= kind::STREAM_LISTPACKS_2 {
            let n = r.length()?;
            (n as i64 >= 0).then_some(n)
        } else {
            s.estimate_distance(last_id)
        };
        let mut g = Group::new(last_id, entries_read);
        let pel = r.count(17)?;
        for _ in 0..pel {
            let id = StreamId::from_be(&r.array::<16>()?).expect("16 bytes");
            let delivery_time = r.u64_le()?;
            let delivery_count = r.length()?;
            g.pel.insert(
                id,
                PendingEntry {
                    consumer: Box::from(&b""[..]),
                    delivery_time,
                    delivery_count,
                },
            );
        }
        let consumers = r.count(9)?;
        // Pending entries claimed by a consumer so far (a consumer name may be empty).
        let mut owned = std::collections::HashSet::new();
        for _ in 0..consumers {
            let cname = r.string()?.into_owned().into_boxed_slice();
            let seen_time = r.u64_le()?;
            let active_time = if value_kind >= kind::STREAM_LISTPACKS_3 {
                r.u64_le()? as i64
            } else {
                seen_time as i64
            };
            let mut c = Consumer::new(seen_time);
            c.active_time = active_time;
            let n = r.count(16)?;
            for _ in 0..n {
                let id_at = r.offset();
                let id = StreamId::from_be(&r.array::<16>()?).expect("16 bytes");
                match g.pel.get_mut(&id) {
                    Some(p) if owned.insert(id) => p.consumer = cname.clone(),
                    _ => return r.error_at(id_at, "consumer PEL entry not in its group PEL"),
                }
                c.pel.insert(id);
            }
            g.consumers.insert(cname, c);
        }
        if owned.len() != g.pel.len() {
            return r.error_at(at, "group PEL entry without a consumer");
        }
        if s.groups.insert(name, g).is_some() {
            return r.error_at(at, "duplicate consumer group");
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::types::stream::{NodeLimits, Trim};

    #[test]
    fn round_trip() {
        let mut s = StreamValue::new();
        for i in 1..=150u64 {
            let v = i.to_string();
            let f: &[u8] = if i % 3 == 0 { b"other" } else { b"f" };
            s.append(
                StreamId::new(i, 1),
                &[(f, v.as_bytes()), (b"g", &[b'x'; 70][..])],
                NodeLimits::default(),
            )
            .unwrap();
        }
        s.delete(StreamId::new(5, 1));
        let mut g = Group::new(StreamId::new(3, 1), Some(3));
        g.pel.insert(
            StreamId::new(2, 1),
            PendingEntry {
                consumer: Box::from(&b"alice"[..]),
                delivery_time: 77,
                delivery_count: 2,
            },
        );
        let mut c = Consumer::new(5);
        c.pel.insert(StreamId::new(2, 1));
        g.consumers.insert(Box::from(&b"alice"[..]), c);
        g.consumers.insert(Box::from(&b"bob"[..]), Consumer::new(6));
        s.groups.insert(Box::from(&b"grp"[..]), g);
        let mut out = Vec::new();
        put_stream(&mut out, &s, true);
        let mut r = Reader::new(&out);
        let back = read_stream(&mut r, WRITTEN_KIND).unwrap();
        assert_eq!(back.len(), s.len());
        assert_eq!(
            back.range(StreamId::ZERO, StreamId::MAX, 0, false),
            s.range(StreamId::ZERO, StreamId::MAX, 0, false)
        );
        assert_eq!(back.groups.len(), 1);
        assert_eq!(back.groups[&b"grp"[..]].pel.len(), 1);
        assert_eq!(back.entries_added, 150);
    }

    #[test]
    fn mutated_bodies_are_errors_or_sound_streams_never_panics() {
        let mut s = StreamValue::new();
        for i in 1..=30u64 {
            let v = i.to_string();
            s.append(
                StreamId::new(i, i),
                &[(b"f", v.as_bytes())],
                NodeLimits {
                    entries: 7,
                    bytes: 4096,
                },
            )
            .unwrap();
        }
        s.delete(StreamId::new(3, 3));
        let mut g = Group::new(StreamId::new(9, 9), None);
        g.pel.insert(
            StreamId::new(2, 2),
            PendingEntry {
                consumer: Box::from(&b""[..]),
                delivery_time: 1,
                delivery_count: 1,
            },
        );
        let mut c = Consumer::new(1);
        c.pel.insert(StreamId::new(2, 2));
        g.consumers.insert(Box::from(&b""[..]), c);
        s.groups.insert(Box::from(&b"g"[..]), g);
        let mut seed = Vec::new();
        put_stream(&mut seed, &s, false);
        // A consumer with an empty name owns its entries.
        assert!(read_stream(&mut Reader::new(&seed), WRITTEN_KIND).is_ok());
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut body = seed.clone();
            for _ in 0..1 + x % 3 {
                let at = (x as usize >> 8) % body.len();
                body[at] = (x >> 40) as u8;
                x = x.rotate_left(17);
            }
            if let Ok(v) = read_stream(&mut Reader::new(&body), WRITTEN_KIND) {
                // Whatever loads must work with every command's view of it.
                let _ = v.range(StreamId::ZERO, StreamId::MAX, 0, false);
                let _ = v.range(StreamId::ZERO, StreamId::MAX, 0, true);
                let _ = (v.first_id(), v.last_valid_id(), v.radix_nodes());
                let mut out = Vec::new();
                put_stream(&mut out, &v, false);
            }
        }
    }

    #[test]
    fn a_node_left_without_live_entries_round_trips() {
        let mut s = StreamValue::new();
        for i in 1..=150u64 {
            s.append(StreamId::new(i, 0), &[(b"f", b"v")], NodeLimits::default())
                .unwrap();
        }
        for i in 51..=100 {
            s.delete(StreamId::new(i, 0));
        }
        s.trim(Trim::MinId(StreamId::new(60, 0)), false, 0);
        assert_eq!(s.block_count(), 2);
        let mut out = Vec::new();
        put_stream(&mut out, &s, false);
        let back = read_stream(&mut Reader::new(&out), WRITTEN_KIND).unwrap();
        assert_eq!(back.len(), 50);
        assert_eq!(back.block_count(), 2);
    }
}
