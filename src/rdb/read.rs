//! Decoding: values in every encoding Redis 7.x writes, and whole files as a stream of events.
//!
//! Compact encodings (ziplist, listpack, intset, quicklists of them) are unpacked into plain
//! element lists; every offset and length inside them is checked against the blob, so a
//! corrupt or hostile blob is an error, never a panic or an oversized allocation.

use super::crc64;
use super::format::{kind, opcode, DecodeError, Decoded, Reader, VERSION_READ_MAX};
use super::source::{ByteSource, SliceSource, StreamSource};
use std::borrow::Cow;
use std::io::{Read, Seek, SeekFrom};

/// Elements reserved up front at most: a declared count is already bounded by the bytes left,
/// but each element costs more in memory than its one-byte minimum on the wire, so larger
/// collections grow as their elements actually arrive.
const RESERVE_ELEMENTS_MAX: usize = 1 << 16;

/// A value as decoded, before it becomes a keyspace value.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbValue {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// A hash with field deadlines (RDB 12): field, value, deadline in unix ms (0: none).
    HashTtl(Vec<(Vec<u8>, Vec<u8>, u64)>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Stream(Box<crate::keyspace::types::StreamValue>),
}

impl RdbValue {
    /// True for an aggregate without elements (Redis skips such keys on load and refuses
    /// them in RESTORE).
    pub fn is_empty_aggregate(&self) -> bool {
        match self {
            RdbValue::Str(_) => false,
            RdbValue::List(v) | RdbValue::Set(v) => v.is_empty(),
            RdbValue::Hash(v) => v.is_empty(),
            RdbValue::HashTtl(v) => v.is_empty(),
            RdbValue::ZSet(v) => v.is_empty(),
            RdbValue::Stream(_) => false,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            RdbValue::Str(_) => "string",
            RdbValue::List(_) => "list",
            RdbValue::Set(_) => "set",
            RdbValue::Hash(_) | RdbValue::HashTtl(_) => "hash",
            RdbValue::ZSet(_) => "zset",
            RdbValue::Stream(_) => "stream",
        }
    }
}

/// Reads a value of type `kind` (the type byte already consumed).
pub fn read_value<'a, S: ByteSource<'a>>(
    r: &mut Reader<'a, S>,
    value_kind: u8,
) -> Decoded<RdbValue> {
    let at = r.offset();
    match value_kind {
        kind::STRING => Ok(RdbValue::Str(r.string()?.into_owned())),
        kind::LIST | kind::SET => {
            let n = r.count(1)?;
            let mut items = Vec::with_capacity(n.min(RESERVE_ELEMENTS_MAX));
            for _ in 0..n {
                items.push(r.string()?.into_owned());
            }
            Ok(if value_kind == kind::LIST {
                RdbValue::List(items)
            } else {
                RdbValue::Set(items)
            })
        }
        kind::HASH => {
            let n = r.count(2)?;
            let mut pairs = Vec::with_capacity(n.min(RESERVE_ELEMENTS_MAX));
            for _ in 0..n {
                let field = r.string()?.into_owned();
                pairs.push((field, r.string()?.into_owned()));
            }
            Ok(RdbValue::Hash(pairs))
        }
        kind::ZSET | kind::ZSET_2 => {
            let score_bytes = if value_kind == kind::ZSET { 1 } else { 8 };
            let n = r.count(1 + score_bytes)?;
            let mut members = Vec::with_capacity(n.min(RESERVE_ELEMENTS_MAX));
            for _ in 0..n {
                let member = r.string()?.into_owned();
                let score_at = r.offset();
                let score = if value_kind == kind::ZSET {
                    text_score(r)?
                } else {
                    r.f64_le()?
                };
                if score.is_nan() {
                    return r.error_at(score_at, "sorted set score is NaN");
                }
                members.push((member, score));
            }
            Ok(RdbValue::ZSet(members))
        }
        kind::LIST_ZIPLIST => Ok(RdbValue::List(blob(r, ziplist)?)),
        kind::SET_INTSET => Ok(RdbValue::Set(blob(r, intset)?)),
        kind::SET_LISTPACK => Ok(RdbValue::Set(blob(r, listpack)?)),
        kind::ZSET_ZIPLIST | kind::ZSET_LISTPACK => {
            let decode = if value_kind == kind::ZSET_ZIPLIST {
                ziplist
            } else {
                listpack
            };
            let flat = blob(r, decode)?;
            zset_pairs(flat).or_else(|e| r.error_at(at, e))
        }
        kind::HASH_ZIPLIST | kind::HASH_LISTPACK => {
            let decode = if value_kind == kind::HASH_ZIPLIST {
                ziplist
            } else {
                listpack
            };
            let flat = blob(r, decode)?;
            hash_pairs(flat).or_else(|e| r.error_at(at, e))
        }
        kind::HASH_METADATA | kind::HASH_METADATA_PRE_GA => {
            // 7.4 GA: the earliest deadline first, then each field's deadline relative to it
            // (plus one; 0 for none); the release candidates wrote absolute deadlines.
            let min = if value_kind == kind::HASH_METADATA {
                Some(r.u64_le()?)
            } else {
                None
            };
            let n = r.count(3)?;
            let mut fields = Vec::with_capacity(n.min(RESERVE_ELEMENTS_MAX));
            for _ in 0..n {
                let at = r.offset();
                let ttl = r.length()?;
                let deadline = match (ttl, min) {
                    (0, _) => 0,
                    (t, Some(min)) => match (t - 1).checked_add(min) {
                        Some(d) => d,
                        None => return r.error_at(at, "hash field deadline out of range"),
                    },
                    (t, None) => t,
                };
                let field = r.string()?.into_owned();
                let value = r.string()?.into_owned();
                fields.push((field, value, deadline));
            }
            Ok(RdbValue::HashTtl(fields))
        }
        kind::HASH_LISTPACK_EX | kind::HASH_LISTPACK_EX_PRE_GA => {
            if value_kind == kind::HASH_LISTPACK_EX {
                r.u64_le()?;
            }
            let flat = blob(r, listpack)?;
            hash_triplets(flat).or_else(|e| r.error_at(at, e))
        }
        kind::LIST_QUICKLIST => {
            let nodes = r.count(1)?;
            let mut items = Vec::new();
            for _ in 0..nodes {
                items.extend(blob(r, ziplist)?);
            }
            Ok(RdbValue::List(items))
        }
        kind::LIST_QUICKLIST_2 => quicklist2(r),
        kind::STREAM_LISTPACKS | kind::STREAM_LISTPACKS_2 | kind::STREAM_LISTPACKS_3 => Ok(
            RdbValue::Stream(Box::new(super::stream::read_stream(r, value_kind)?)),
        ),
        other => r.error_at(
            at,
            format!(
                "value type {other} ({}) is not supported",
                kind::name(other)
            ),
        ),
    }
}

/// True for the type bytes `read_value` understands.
pub fn is_supported(value_kind: u8) -> bool {
    matches!(
        value_kind,
        kind::STRING
            | kind::LIST
            | kind::SET
            | kind::HASH
            | kind::ZSET
            | kind::ZSET_2
            | kind::LIST_ZIPLIST
            | kind::SET_INTSET
            | kind::SET_LISTPACK
            | kind::ZSET_ZIPLIST
            | kind::ZSET_LISTPACK
            | kind::HASH_ZIPLIST
            | kind::HASH_LISTPACK
            | kind::HASH_METADATA
            | kind::HASH_METADATA_PRE_GA
            | kind::HASH_LISTPACK_EX
            | kind::HASH_LISTPACK_EX_PRE_GA
            | kind::LIST_QUICKLIST
            | kind::LIST_QUICKLIST_2
            | kind::STREAM_LISTPACKS
            | kind::STREAM_LISTPACKS_2
            | kind::STREAM_LISTPACKS_3
    )
}

/// The old text score of RDB_TYPE_ZSET: a length byte (253 NaN, 254 +inf, 255 -inf) and text.
fn text_score<'a, S: ByteSource<'a>>(r: &mut Reader<'a, S>) -> Decoded<f64> {
    let at = r.offset();
    Ok(match r.u8()? {
        253 => f64::NAN,
        254 => f64::INFINITY,
        255 => f64::NEG_INFINITY,
        n => parse_score(&r.take(n as usize)?).ok_or(DecodeError {
            offset: at,
            message: "invalid sorted set score".into(),
        })?,
    })
}

fn parse_score(text: &[u8]) -> Option<f64> {
    let score: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    (!score.is_nan()).then_some(score)
}

/// Unpacks an encoded blob into its elements.
type BlobDecoder = fn(&[u8]) -> Result<Vec<Vec<u8>>, String>;

/// Reads a string holding an encoded blob and unpacks it with `decode`, reporting errors at
/// the blob's offset.
fn blob<'a, S: ByteSource<'a>>(
    r: &mut Reader<'a, S>,
    decode: BlobDecoder,
) -> Decoded<Vec<Vec<u8>>> {
    let at = r.offset();
    let bytes = r.string()?;
    decode(&bytes).or_else(|e| r.error_at(at, e))
}

fn quicklist2<'a, S: ByteSource<'a>>(r: &mut Reader<'a, S>) -> Decoded<RdbValue> {
    const CONTAINER_PLAIN: u64 = 1;
    const CONTAINER_PACKED: u64 = 2;
    let nodes = r.count(2)?;
    let mut items = Vec::new();
    for _ in 0..nodes {
        let at = r.offset();
        match r.length()? {
            CONTAINER_PLAIN => items.push(r.string()?.into_owned()),
            CONTAINER_PACKED => {
                let node = blob(r, listpack)?;
                if node.is_empty() {
                    return r.error_at(at, "empty quicklist node");
                }
                items.extend(node);
            }
            other => return r.error_at(at, format!("unknown quicklist container {other}")),
        }
    }
    Ok(RdbValue::List(items))
}

fn hash_pairs(flat: Vec<Vec<u8>>) -> Result<RdbValue, String> {
    if !flat.len().is_multiple_of(2) {
        return Err("hash blob with an odd number of elements".into());
    }
    let mut pairs = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(field), Some(value)) = (it.next(), it.next()) {
        pairs.push((field, value));
    }
    Ok(RdbValue::Hash(pairs))
}

/// A listpack-ex hash: field, value, deadline (an integer; 0 for none) per field.
fn hash_triplets(flat: Vec<Vec<u8>>) -> Result<RdbValue, String> {
    if !flat.len().is_multiple_of(3) {
        return Err("hash listpack-ex blob with a partial triplet".into());
    }
    let mut fields = Vec::with_capacity(flat.len() / 3);
    let mut it = flat.into_iter();
    while let (Some(field), Some(value), Some(ttl)) = (it.next(), it.next(), it.next()) {
        let deadline = std::str::from_utf8(&ttl)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or("hash listpack-ex deadline is not an integer")?;
        fields.push((field, value, deadline));
    }
    Ok(RdbValue::HashTtl(fields))
}

fn zset_pairs(flat: Vec<Vec<u8>>) -> Result<RdbValue, String> {
    if !flat.len().is_multiple_of(2) {
        return Err("sorted set blob with an odd number of elements".into());
    }
    let mut members = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(member), Some(score)) = (it.next(), it.next()) {
        let score = parse_score(&score).ok_or("invalid sorted set score")?;
        members.push((member, score));
    }
    Ok(RdbValue::ZSet(members))
}

/// A bounds-checked slice of a blob.
fn slice(blob: &[u8], from: usize, len: usize) -> Result<&[u8], String> {
    from.checked_add(len)
        .and_then(|end| blob.get(from..end))
        .ok_or_else(|| format!("entry at {from} runs past the end of its blob"))
}

fn int_le(bytes: &[u8]) -> i64 {
    // Sign-extends a little-endian integer of 1..=8 bytes.
    let mut raw = [0u8; 8];
    raw[..bytes.len()].copy_from_slice(bytes);
    let shift = 64 - 8 * bytes.len() as u32;
    (i64::from_le_bytes(raw) << shift) >> shift
}

fn int_entry(n: i64) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// Unpacks a ziplist (Redis < 7 compact lists, hashes and sorted sets).
pub fn ziplist(blob: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    const HEADER_BYTES: usize = 10;
    if blob.len() < HEADER_BYTES + 1 {
        return Err("ziplist shorter than its header".into());
    }
    let total = u32::from_le_bytes(blob[0..4].try_into().expect("4")) as usize;
    if total != blob.len() || blob[blob.len() - 1] != 0xff {
        return Err("ziplist length or end marker is wrong".into());
    }
    let mut items = Vec::new();
    let mut p = HEADER_BYTES;
    let end = blob.len() - 1;
    while p < end {
        p += if blob[p] < 254 { 1 } else { 5 };
        let encoding = *blob.get(p).ok_or("ziplist entry cut short")?;
        p += 1;
        let item = match encoding >> 6 {
            0 => {
                let len = (encoding & 0x3f) as usize;
                let s = slice(blob, p, len)?;
                p += len;
                s.to_vec()
            }
            1 => {
                let len = ((encoding & 0x3f) as usize) << 8
                    | *slice(blob, p, 1)?.first().unwrap_or(&0) as usize;
                let s = slice(blob, p + 1, len)?;
                p += 1 + len;
                s.to_vec()
            }
            2 => {
                let len = u32::from_be_bytes(slice(blob, p, 4)?.try_into().expect("4")) as usize;
                let s = slice(blob, p + 4, len)?;
                p += 4 + len;
                s.to_vec()
            }
            _ => {
                let width = match encoding {
                    0xc0 => 2,
                    0xd0 => 4,
                    0xe0 => 8,
                    0xf0 => 3,
                    0xfe => 1,
                    0xf1..=0xfd => 0,
                    _ => return Err(format!("unknown ziplist encoding {encoding:#x}")),
                };
                if width == 0 {
                    int_entry(i64::from(encoding & 0x0f) - 1)
                } else {
                    let n = int_le(slice(blob, p, width)?);
                    p += width;
                    int_entry(n)
                }
            }
        };
        items.push(item);
    }
    if p != end {
        return Err("ziplist entries overrun the end marker".into());
    }
    Ok(items)
}

/// Bytes of a listpack entry's back-length field for an entry of `len` bytes.
fn backlen_bytes(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Unpacks a listpack (Redis 7 compact lists, hashes, sets and sorted sets).
pub fn listpack(blob: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    const HEADER_BYTES: usize = 6;
    if blob.len() < HEADER_BYTES + 1 {
        return Err("listpack shorter than its header".into());
    }
    let total = u32::from_le_bytes(blob[0..4].try_into().expect("4")) as usize;
    if total != blob.len() || blob[blob.len() - 1] != 0xff {
        return Err("listpack length or end marker is wrong".into());
    }
    let declared = u16::from_le_bytes(blob[4..6].try_into().expect("2"));
    let mut items = Vec::new();
    let mut p = HEADER_BYTES;
    let end = blob.len() - 1;
    while p < end {
        let b = blob[p];
        let (item, entry_len) = match b {
            0x00..=0x7f => (int_entry(i64::from(b)), 1),
            0x80..=0xbf => {
                let len = (b & 0x3f) as usize;
                (slice(blob, p + 1, len)?.to_vec(), 1 + len)
            }
            0xc0..=0xdf => {
                let low = *slice(blob, p + 1, 1)?.first().unwrap_or(&0);
                let raw = i64::from(b & 0x1f) << 8 | i64::from(low);
                let n = if raw >= 1 << 12 { raw - (1 << 13) } else { raw };
                (int_entry(n), 2)
            }
            0xe0..=0xef => {
                let low = *slice(blob, p + 1, 1)?.first().unwrap_or(&0);
                let len = ((b & 0x0f) as usize) << 8 | low as usize;
                (slice(blob, p + 2, len)?.to_vec(), 2 + len)
            }
            0xf0 => {
                let len = u32::from_le_bytes(slice(blob, p + 1, 4)?.try_into().expect("4"));
                let len = len as usize;
                (slice(blob, p + 5, len)?.to_vec(), 5 + len)
            }
            0xf1..=0xf4 => {
                let width = [2, 3, 4, 8][(b - 0xf1) as usize];
                (int_entry(int_le(slice(blob, p + 1, width)?)), 1 + width)
            }
            _ => return Err(format!("unknown listpack encoding {b:#x} at {p}")),
        };
        p = p
            .checked_add(entry_len + backlen_bytes(entry_len))
            .filter(|&next| next <= end)
            .ok_or("listpack entry overruns the end marker")?;
        items.push(item);
    }
    if declared != u16::MAX && declared as usize != items.len() {
        return Err("listpack element count does not match its header".into());
    }
    Ok(items)
}

/// Unpacks an intset (a small set of integers).
pub fn intset(blob: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if blob.len() < 8 {
        return Err("intset shorter than its header".into());
    }
    let width = u32::from_le_bytes(blob[0..4].try_into().expect("4")) as usize;
    let count = u32::from_le_bytes(blob[4..8].try_into().expect("4")) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(format!("intset with an invalid width {width}"));
    }
    if count.checked_mul(width) != Some(blob.len() - 8) {
        return Err("intset length does not match its header".into());
    }
    Ok(blob[8..]
        .chunks_exact(width)
        .map(|c| int_entry(int_le(c)))
        .collect())
}

/// One key read from a file.
pub struct KeyRecord<'a> {
    pub db: usize,
    pub key: Cow<'a, [u8]>,
    pub value: RdbValue,
    pub expire_at_ms: Option<u64>,
    /// Seconds idle (IDLE opcode) and LFU counter (FREQ opcode), when the file has them.
    pub idle_secs: Option<u64>,
    pub freq: Option<u8>,
    /// Offset of the record's first byte (its expiry or type), for messages.
    pub offset: usize,
}

/// What a file holds, in order.
pub enum Event<'a> {
    Aux(Cow<'a, [u8]>, Cow<'a, [u8]>),
    /// A Redis Functions library's code (RDB_OPCODE_FUNCTION2).
    Function(Cow<'a, [u8]>),
    SelectDb(usize),
    ResizeDb {
        keys: u64,
        expires: u64,
    },
    Key(KeyRecord<'a>),
}

/// What parsing saw besides the events.
#[derive(Debug, Default, Clone)]
pub struct FileSummary {
    pub version: u16,
    /// Some(true/false) when the file carries a checksum; None when it was written without.
    pub checksum_ok: Option<bool>,
    pub bytes: usize,
}

/// Parses a whole RDB file in memory, handing each event to `visit`. A visitor error stops
/// the parse and is reported at the offset of the event that caused it. The checksum is
/// verified before any event is delivered, so a corrupt file delivers nothing.
pub fn parse_file<'a>(
    data: &'a [u8],
    visit: impl FnMut(Event<'a>) -> Result<(), String>,
) -> Decoded<FileSummary> {
    verify_file(data)?;
    parse_source(SliceSource::new(data), visit)
}

/// Parses a file streamed from `file` (`len` bytes long, read from its start) through a
/// window of `window_bytes`: a first pass verifies the checksum, so a corrupt file delivers
/// nothing, and a second pass decodes. Memory beyond the window is what the events hold.
pub fn parse_stream<R: Read + Seek>(
    mut file: R,
    len: usize,
    window_bytes: usize,
    visit: impl FnMut(Event<'static>) -> Result<(), String>,
) -> Decoded<FileSummary> {
    rewind(&mut file)?;
    verify_source(StreamSource::new(&mut file, len, window_bytes))?;
    rewind(&mut file)?;
    parse_source(StreamSource::new(file, len, window_bytes), visit)
}

fn rewind(file: &mut impl Seek) -> Decoded<()> {
    file.seek(SeekFrom::Start(0))
        .map(drop)
        .map_err(|e| DecodeError {
            offset: 0,
            message: format!("read error: {e}"),
        })
}

/// Parses a file from any byte source. The checksum is compared with the CRC of the bytes as
/// they passed once the EOF opcode is reached, so a file that changed under a streamed load
/// is refused even after its verification pass.
pub fn parse_source<'a, S: ByteSource<'a>>(
    src: S,
    mut visit: impl FnMut(Event<'a>) -> Result<(), String>,
) -> Decoded<FileSummary> {
    let bytes = src.offset() + src.remaining();
    let mut r = Reader::from_source(src);
    let version = read_header(&mut r)?;
    let mut db = 0usize;
    let mut expire_at_ms = None;
    let mut idle_secs = None;
    let mut freq = None;
    let mut record_at = None;
    loop {
        let at = r.offset();
        let op = r.u8()?;
        let event = match op {
            opcode::EOF => break,
            opcode::AUX => {
                let key = r.string()?;
                Event::Aux(key, r.string()?)
            }
            opcode::SELECTDB => {
                let n = r.length()?;
                db = usize::try_from(n).or_else(|_| r.error_at(at, "database index too large"))?;
                Event::SelectDb(db)
            }
            opcode::RESIZEDB => {
                let keys = r.length()?;
                Event::ResizeDb {
                    keys,
                    expires: r.length()?,
                }
            }
            opcode::EXPIRETIME_MS => {
                expire_at_ms = Some(r.u64_le()?);
                record_at.get_or_insert(at);
                continue;
            }
            opcode::EXPIRETIME => {
                expire_at_ms = Some(u64::from(r.u32_le()?) * 1000);
                record_at.get_or_insert(at);
                continue;
            }
            opcode::IDLE => {
                idle_secs = Some(r.length()?);
                record_at.get_or_insert(at);
                continue;
            }
            opcode::FREQ => {
                freq = Some(r.u8()?);
                record_at.get_or_insert(at);
                continue;
            }
            opcode::MODULE_AUX => {
                return r.error_at(at, "module data (MODULE_AUX) is not supported")
            }
            opcode::FUNCTION2 => Event::Function(r.string()?),
            opcode::FUNCTION_PRE_GA => {
                return r.error_at(
                    at,
                    "functions saved by a Redis 7.0 release candidate (FUNCTION opcode 246) are not supported",
                )
            }
            value_kind => {
                let key = r.string()?;
                if !is_supported(value_kind) {
                    return r.error_at(
                        at,
                        format!(
                            "key '{}' has type {} ({value_kind}), which ferrocache does not support",
                            String::from_utf8_lossy(&key),
                            kind::name(value_kind)
                        ),
                    );
                }
                let value = read_value(&mut r, value_kind)?;
                Event::Key(KeyRecord {
                    db,
                    key,
                    value,
                    expire_at_ms: expire_at_ms.take(),
                    idle_secs: idle_secs.take(),
                    freq: freq.take(),
                    offset: record_at.take().unwrap_or(at),
                })
            }
        };
        let event_at = match &event {
            Event::Key(k) => k.offset,
            _ => at,
        };
        visit(event).or_else(|e| r.error_at(event_at, e))?;
    }
    let checksum_ok = if version >= 5 {
        let actual = r.checksum();
        let stored_at = r.offset();
        match r.u64_le()? {
            0 => None,
            stored if stored == actual => Some(true),
            stored => return r.error_at(stored_at, wrong_checksum(stored, actual)),
        }
    } else {
        None
    };
    if r.remaining() > 0 {
        return r.error("bytes after the end of the file (EOF and checksum)");
    }
    Ok(FileSummary {
        version,
        checksum_ok,
        bytes,
    })
}

fn wrong_checksum(stored: u64, actual: u64) -> String {
    format!("wrong RDB checksum (expected {stored:016x}, got {actual:016x})")
}

/// Reads the magic and the version.
fn read_header<'a, S: ByteSource<'a>>(r: &mut Reader<'a, S>) -> Decoded<u16> {
    if r.remaining() < 9 {
        return r.error_at(
            0,
            "wrong signature trying to load DB from file (not an RDB file)",
        );
    }
    let header: [u8; 9] = r.array()?;
    if &header[..5] != b"REDIS" {
        return r.error_at(
            0,
            "wrong signature trying to load DB from file (not an RDB file)",
        );
    }
    let version = std::str::from_utf8(&header[5..9])
        .ok()
        .and_then(|v| v.parse::<u16>().ok())
        .filter(|v| (1..=VERSION_READ_MAX).contains(v));
    match version {
        Some(version) => Ok(version),
        None => r.error_at(
            5,
            format!(
                "can't handle RDB format version {}",
                String::from_utf8_lossy(&header[5..9])
            ),
        ),
    }
}

/// Checks the magic, the version and (when present) the checksum of a whole file in memory.
pub fn verify_file(data: &[u8]) -> Decoded<FileSummary> {
    verify_source(SliceSource::new(data))
}

/// Checks the magic, the version and (when present) the checksum, reading the source to its
/// end in pieces of a fixed size.
pub fn verify_source<'a, S: ByteSource<'a>>(src: S) -> Decoded<FileSummary> {
    const PIECE_BYTES: usize = 64 * 1024;
    let bytes = src.offset() + src.remaining();
    let mut r = Reader::from_source(src);
    let version = read_header(&mut r)?;
    if version < 5 {
        return Ok(FileSummary {
            version,
            checksum_ok: None,
            bytes,
        });
    }
    // The checksum covers everything up to and including the EOF opcode, which is the ninth
    // byte from the end when nothing trails the checksum.
    if bytes < 9 + 9 {
        return r.error_at(bytes, "file too short for its EOF and checksum");
    }
    let mut piece = vec![0u8; PIECE_BYTES.min(r.remaining())];
    let mut last = 0u8;
    while r.remaining() > 8 {
        let n = (r.remaining() - 8).min(piece.len());
        r.fill(&mut piece[..n])?;
        last = piece[n - 1];
    }
    if last != opcode::EOF {
        return r.error_at(
            bytes - 9,
            "file does not end with EOF and a checksum (truncated?)",
        );
    }
    let actual = r.checksum();
    let stored = r.u64_le()?;
    let checksum_ok = match stored {
        0 => None,
        stored if stored == actual => Some(true),
        stored => return r.error_at(bytes - 8, wrong_checksum(stored, actual)),
    };
    Ok(FileSummary {
        version,
        checksum_ok,
        bytes,
    })
}

/// Checks a DUMP payload's footer (2-byte version, CRC-64 of everything before the CRC) and
/// returns the value part. Nothing is decoded or allocated before this succeeds.
/// With `skip_checksum` (DEBUG SET-SKIP-CHECKSUM-VALIDATION) a wrong CRC-64 is accepted; the
/// version is still checked, and the decoder still checks every length.
pub fn verify_dump_payload(payload: &[u8], skip_checksum: bool) -> Option<&[u8]> {
    if payload.len() < 10 {
        return None;
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes(body[body.len() - 2..].try_into().expect("2"));
    if version > VERSION_READ_MAX {
        return None;
    }
    if !skip_checksum && crc64::update(0, body) != u64::from_le_bytes(crc.try_into().expect("8")) {
        return None;
    }
    Some(&body[..body.len() - 2])
}

/// The library codes of a FUNCTION DUMP payload body (after `verify_dump_payload`): a
/// FUNCTION2 opcode and a string per library. `Err` names what is wrong.
pub fn read_function_payload(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut r = Reader::new(body);
    let mut codes = Vec::new();
    while r.remaining() > 0 {
        let op = r.u8().map_err(|e| e.message)?;
        if op != opcode::FUNCTION2 {
            return Err("given type is not a function".into());
        }
        codes.push(r.string().map_err(|e| e.message)?.into_owned());
    }
    Ok(codes)
}

/// Decodes the value part of a DUMP payload: a type byte and the value. Bytes after the value
/// are ignored, as Redis does.
pub fn read_dump_value(value: &[u8]) -> Decoded<RdbValue> {
    let mut r = Reader::new(value);
    let value_kind = r.u8()?;
    read_value(&mut r, value_kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_entries_of_every_width() {
        // Built by hand: 7-bit int 5, 13-bit int -3, 6-bit string "ab", int16 1000, end.
        let mut lp = vec![0u8; 6];
        lp.extend_from_slice(&[0x05, 0x01]);
        let neg3 = (1u16 << 13) - 3;
        lp.extend_from_slice(&[0xc0 | (neg3 >> 8) as u8, neg3 as u8, 0x02]);
        lp.extend_from_slice(&[0x82, b'a', b'b', 0x03]);
        lp.extend_from_slice(&[0xf1, 0xe8, 0x03, 0x03]);
        lp.push(0xff);
        let total = lp.len() as u32;
        lp[0..4].copy_from_slice(&total.to_le_bytes());
        lp[4..6].copy_from_slice(&4u16.to_le_bytes());
        let items = listpack(&lp).unwrap();
        assert_eq!(
            items,
            vec![
                b"5".to_vec(),
                b"-3".to_vec(),
                b"ab".to_vec(),
                b"1000".to_vec()
            ]
        );
        // Every truncation is an error, never a panic.
        for cut in 0..lp.len() {
            assert!(listpack(&lp[..cut]).is_err());
        }
    }

    #[test]
    fn ziplist_and_intset() {
        // zlbytes, zltail, zllen, then entries "a" and the 4-bit immediate 7.
        let mut zl = vec![0u8; 10];
        zl.extend_from_slice(&[0x00, 0x01, b'a']);
        zl.extend_from_slice(&[0x03, 0xf8]);
        zl.push(0xff);
        let total = zl.len() as u32;
        zl[0..4].copy_from_slice(&total.to_le_bytes());
        assert_eq!(ziplist(&zl).unwrap(), vec![b"a".to_vec(), b"7".to_vec()]);
        let mut is = Vec::new();
        is.extend_from_slice(&2u32.to_le_bytes());
        is.extend_from_slice(&2u32.to_le_bytes());
        is.extend_from_slice(&(-5i16).to_le_bytes());
        is.extend_from_slice(&300i16.to_le_bytes());
        assert_eq!(intset(&is).unwrap(), vec![b"-5".to_vec(), b"300".to_vec()]);
        is[4] = 200;
        assert!(intset(&is).is_err());
    }

    fn payload(body: &[u8], version: u16) -> Vec<u8> {
        let mut out = body.to_vec();
        out.extend_from_slice(&version.to_le_bytes());
        let crc = crc64::update(0, &out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    #[test]
    fn set_listpack_of_rdb_11_is_read() {
        // Redis 7.2's small set: a listpack of "a" and 7.
        let lp = [12, 0, 0, 0, 2, 0, 0x81, b'a', 2, 0x07, 1, 0xff];
        let mut body = vec![kind::SET_LISTPACK, lp.len() as u8];
        body.extend_from_slice(&lp);
        let p = payload(&body, 11);
        let value = read_dump_value(verify_dump_payload(&p, false).unwrap()).unwrap();
        assert_eq!(value, RdbValue::Set(vec![b"a".to_vec(), b"7".to_vec()]));
    }

    /// Random bytes and mutations of valid payloads, with a correct checksum so the decoder
    /// itself is exercised: never a panic, and nothing allocated beyond what the bytes hold.
    #[test]
    fn fuzzed_payloads_never_panic() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let lp = [12u8, 0, 0, 0, 2, 0, 0x81, b'a', 2, 0x07, 1, 0xff];
        let mut seeds: Vec<Vec<u8>> = vec![
            vec![kind::STRING, 3, b'a', b'b', b'c'],
            vec![kind::LIST, 2, 1, b'x', 0xc0, 5],
            vec![kind::HASH, 1, 1, b'f', 1, b'v'],
            vec![kind::ZSET_2, 1, 1, b'm', 0, 0, 0, 0, 0, 0, 0xf0, 0x3f],
            vec![kind::STRING, 0xc3, 3, 10, 0x00, b'a', 0xe0, 0x00],
        ];
        for k in [kind::SET_LISTPACK, kind::HASH_LISTPACK, kind::ZSET_LISTPACK] {
            let mut s = vec![k, lp.len() as u8];
            s.extend_from_slice(&lp);
            seeds.push(s);
        }
        let mut ql = vec![kind::LIST_QUICKLIST_2, 1, 2, lp.len() as u8];
        ql.extend_from_slice(&lp);
        seeds.push(ql);
        for round in 0..20_000 {
            let mut body = if round % 4 == 0 {
                (0..(rand() % 64)).map(|_| rand() as u8).collect()
            } else {
                seeds[round % seeds.len()].clone()
            };
            for _ in 0..=(rand() % 4) {
                if body.is_empty() {
                    break;
                }
                let at = (rand() as usize) % body.len();
                match rand() % 3 {
                    0 => body[at] = rand() as u8,
                    1 => body.truncate(at),
                    _ => body.insert(at, rand() as u8),
                }
            }
            let p = payload(&body, 10);
            if let Some(value) = verify_dump_payload(&p, false) {
                let _ = read_dump_value(value);
            }
            let _ = verify_dump_payload(&body, false);
        }
    }

    #[test]
    fn dump_footer_is_checked() {
        let mut payload = vec![kind::STRING, 1, b'x', 10, 0];
        let crc = crc64::update(0, &payload);
        payload.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            verify_dump_payload(&payload, false),
            Some(&[0u8, 1, b'x'][..])
        );
        assert_eq!(
            read_dump_value(verify_dump_payload(&payload, false).unwrap()).unwrap(),
            RdbValue::Str(b"x".to_vec())
        );
        payload[2] = b'y';
        assert_eq!(verify_dump_payload(&payload, false), None);
    }
}
