//! Encoding: values in plain encodings, DUMP payloads, and whole files written through a
//! buffer that keeps the running CRC-64.
//!
//! Plain encodings are the ones every Redis since 2.x loads: strings (integers as integer
//! encodings, long strings LZF-compressed when `rdbcompression` is on), LIST, SET, HASH and
//! ZSET_2 as counted sequences. Redis would write listpacks for small aggregates; those are
//! an optimisation of its in-memory layout that a loader does not need.

use super::crc64;
use super::format::{kind, opcode, put_len, put_string, VERSION_FIELD_TTLS, VERSION_WRITTEN};

/// The version a file is written with: Redis 7.0's (10) unless some hash has a field deadline,
/// which needs Redis 7.4's (12) for its value type.
pub fn file_version() -> u16 {
    if crate::keyspace::types::hash::field_ttls_exist() {
        VERSION_FIELD_TTLS
    } else {
        VERSION_WRITTEN
    }
}
use crate::keyspace::ValueRef;
use std::io::Write;

/// The type byte `put_value` writes for a value.
pub fn value_kind(value: ValueRef<'_>) -> u8 {
    match value {
        ValueRef::Str(_) => kind::STRING,
        ValueRef::List(_) => kind::LIST,
        ValueRef::Set(_) => kind::SET,
        ValueRef::Hash(h) if h.has_field_ttls() && h.encoding_name() == "listpackex" => {
            kind::HASH_LISTPACK_EX
        }
        ValueRef::Hash(h) if h.has_field_ttls() => kind::HASH_METADATA,
        ValueRef::Hash(_) => kind::HASH,
        ValueRef::ZSet(_) => kind::ZSET_2,
        ValueRef::Stream(_) => super::stream::WRITTEN_KIND,
    }
}

/// Appends a value's body (without its type byte).
pub fn put_value(out: &mut Vec<u8>, value: ValueRef<'_>, compress: bool) {
    match value {
        ValueRef::Str(s) => put_string(out, s, compress),
        ValueRef::List(list) => {
            put_len(out, list.len() as u64);
            for item in list.iter() {
                put_string(out, item, compress);
            }
        }
        ValueRef::Set(set) => {
            put_len(out, set.len() as u64);
            for member in set.iter() {
                put_string(out, &member, compress);
            }
        }
        ValueRef::Hash(hash) if hash.has_field_ttls() && hash.encoding_name() == "listpackex" => {
            // RDB_TYPE_HASH_LISTPACK_EX (Redis 7.4): the earliest deadline, then a listpack of
            // field, value, deadline (0: none) triplets ordered as Redis keeps them: by
            // deadline, fields without one last (its loader reads the first as the earliest).
            let min = hash.min_field_deadline().expect("has field deadlines");
            out.extend_from_slice(&min.to_le_bytes());
            let mut fields: Vec<(u64, &[u8], &[u8])> = hash
                .iter()
                .map(|(f, v)| (hash.ttl_of(f).unwrap_or(0), f, v))
                .collect();
            fields.sort_by_key(|(at, _, _)| if *at == 0 { u64::MAX } else { *at });
            let mut lp = super::stream::Listpack::new();
            for (at, field, value) in fields {
                lp.string(field);
                lp.string(value);
                lp.int(at as i64);
            }
            put_string(out, &lp.finish(), compress);
        }
        ValueRef::Hash(hash) if hash.has_field_ttls() => {
            // RDB_TYPE_HASH_METADATA (Redis 7.4): the earliest deadline, then per field its
            // deadline relative to it plus one (0 for none), the field and the value.
            let min = hash.min_field_deadline().expect("has field deadlines");
            out.extend_from_slice(&min.to_le_bytes());
            put_len(out, hash.len() as u64);
            for (field, value) in hash.iter() {
                put_len(out, hash.ttl_of(field).map_or(0, |at| at - min + 1));
                put_string(out, field, compress);
                put_string(out, value, compress);
            }
        }
        ValueRef::Hash(hash) => {
            put_len(out, hash.len() as u64);
            for (field, value) in hash.iter() {
                put_string(out, field, compress);
                put_string(out, value, compress);
            }
        }
        ValueRef::ZSet(zset) => {
            put_len(out, zset.len() as u64);
            for (member, score) in zset.iter() {
                put_string(out, member, compress);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
        ValueRef::Stream(stream) => super::stream::put_stream(out, stream, compress),
    }
}

/// A DUMP payload: type byte, value, 2-byte RDB version, CRC-64 of all that.
pub fn dump_payload(value: ValueRef<'_>, compress: bool) -> Vec<u8> {
    let mut out = vec![value_kind(value)];
    put_value(&mut out, value, compress);
    let version = match value {
        ValueRef::Hash(h) if h.has_field_ttls() => VERSION_FIELD_TTLS,
        _ => VERSION_WRITTEN,
    };
    out.extend_from_slice(&version.to_le_bytes());
    let crc = crc64::update(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// FUNCTION DUMP's payload: each library's code after a FUNCTION2 opcode, then the version
/// and checksum footer of DUMP.
pub fn function_dump_payload<'c>(codes: impl IntoIterator<Item = &'c [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(opcode::FUNCTION2);
        put_string(&mut out, code, true);
    }
    out.extend_from_slice(&VERSION_WRITTEN.to_le_bytes());
    let crc = crc64::update(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Bytes gathered before they are checksummed and handed to the sink.
const FLUSH_BYTES: usize = 256 * 1024;

/// Writes an RDB file to `sink`: header and AUX fields first, then databases, then `finish`.
pub struct FileWriter<W: Write> {
    sink: W,
    buf: Vec<u8>,
    crc: u64,
    checksum: bool,
    compress: bool,
    written_bytes: u64,
}

impl<W: Write> FileWriter<W> {
    /// Starts a file: magic, version and the AUX fields Redis writes.
    pub fn begin(
        sink: W,
        compress: bool,
        checksum: bool,
        aux: &[(&str, String)],
    ) -> std::io::Result<FileWriter<W>> {
        let mut w = FileWriter {
            sink,
            buf: Vec::with_capacity(FLUSH_BYTES + 1024),
            crc: 0,
            checksum,
            compress,
            written_bytes: 0,
        };
        w.buf
            .extend_from_slice(format!("REDIS{:04}", file_version()).as_bytes());
        for (key, value) in aux {
            w.buf.push(opcode::AUX);
            put_string(&mut w.buf, key.as_bytes(), false);
            put_string(&mut w.buf, value.as_bytes(), false);
        }
        Ok(w)
    }

    /// A Redis Functions library (written after the AUX fields, before the databases).
    pub fn function(&mut self, code: &[u8]) -> std::io::Result<()> {
        self.buf.push(opcode::FUNCTION2);
        put_string(&mut self.buf, code, self.compress);
        self.maybe_flush()
    }

    /// Opens a database section; `keys` and `expires` size the loader's tables.
    pub fn select_db(&mut self, db: usize, keys: u64, expires: u64) -> std::io::Result<()> {
        self.buf.push(opcode::SELECTDB);
        put_len(&mut self.buf, db as u64);
        self.buf.push(opcode::RESIZEDB);
        put_len(&mut self.buf, keys);
        put_len(&mut self.buf, expires);
        self.maybe_flush()
    }

    pub fn key(
        &mut self,
        key: &[u8],
        value: ValueRef<'_>,
        expire_at_ms: Option<u64>,
    ) -> std::io::Result<()> {
        if let Some(at) = expire_at_ms {
            self.buf.push(opcode::EXPIRETIME_MS);
            self.buf.extend_from_slice(&at.to_le_bytes());
        }
        self.buf.push(value_kind(value));
        put_string(&mut self.buf, key, self.compress);
        put_value(&mut self.buf, value, self.compress);
        self.maybe_flush()
    }

    fn maybe_flush(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= FLUSH_BYTES {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> std::io::Result<()> {
        if self.checksum {
            self.crc = crc64::update(self.crc, &self.buf);
        }
        self.sink.write_all(&self.buf)?;
        self.written_bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes EOF and the checksum (0 when `rdbchecksum no`), flushes, returns the sink and
    /// the file's length.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        self.buf.push(opcode::EOF);
        self.flush_buf()?;
        let crc = if self.checksum { self.crc } else { 0 };
        self.sink.write_all(&crc.to_le_bytes())?;
        self.sink.flush()?;
        Ok((self.sink, self.written_bytes + 8))
    }
}
