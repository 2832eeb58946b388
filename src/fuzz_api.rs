//! Entry points for fuzzing: one function per parser that reads bytes from outside the process,
//! shared by the coverage-guided targets in `fuzz/` and the bounded property run of `cargo test`
//! (`tests/fuzz_props.rs`). See docs/testing.md.
//!
//! Each function feeds one input to the real parser the way the server does and checks what must
//! hold for every input: it returns (an error is a value too), it makes progress (loops are
//! bounded here by what the input can pay for), it agrees with itself (resumed decoding equals
//! one-shot decoding, printed rules parse back to the same rules), and it allocates no more than
//! the input can justify. A broken property is `Err(description)`; a panic is left to the caller
//! (libFuzzer and proptest both catch it and keep the input).
//!
//! Nothing here is used by the server itself.

use crate::acl::rules::UserRules;
use crate::aof::manifest::Manifest;
use crate::aof::reader::{Reader as AofReader, Step};
use crate::clock::Clock;
use crate::config::Config;
use crate::config::Mutability;
use crate::keyspace::Keyspace;
use crate::protocol::request::{split_args, Limits, Request, RequestDecoder, INLINE_BYTES_MAX};
use crate::protocol::Reply;
use crate::rdb;
use crate::state::ServerState;
use crate::{engine::dispatch, engine::flags, engine::ClientState};
use bytes::{Bytes, BytesMut};

/// A property an input broke.
pub type Broken = String;

/// Fixed allowance for tables, chunks and buffers a parser sets up whatever its input.
const ALLOC_BASE_BYTES: isize = 16 << 20;
/// Bytes a parser may hold per input byte on top of that (argv vectors, decoded values).
const ALLOC_PER_INPUT_BYTE: isize = 64;

/// Per-thread allocation accounting for fuzz and property binaries, which install
/// `LimitAlloc` as their global allocator. The server never uses it.
pub mod alloc {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, Ordering};

    static INSTALLED: AtomicBool = AtomicBool::new(false);

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn note(delta: isize) {
        let _ = LIVE.try_with(|live| {
            let now = live.get() + delta;
            live.set(now);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        });
    }

    /// The system allocator, counting each thread's live bytes and their peak.
    pub struct LimitAlloc;

    // SAFETY: every call is forwarded unchanged to the system allocator; the accounting
    // touches only const-initialised thread-locals, which never allocate.
    unsafe impl GlobalAlloc for LimitAlloc {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            INSTALLED.store(true, Ordering::Relaxed);
            // SAFETY: the caller's contract for `alloc` is passed on.
            let ptr = unsafe { System.alloc(layout) };
            if !ptr.is_null() {
                note(layout.size() as isize);
            }
            ptr
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract for `alloc_zeroed` is passed on.
            let ptr = unsafe { System.alloc_zeroed(layout) };
            if !ptr.is_null() {
                note(layout.size() as isize);
            }
            ptr
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            note(-(layout.size() as isize));
            // SAFETY: the caller's contract for `dealloc` is passed on.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: the caller's contract for `realloc` is passed on.
            let new = unsafe { System.realloc(ptr, layout, new_size) };
            if !new.is_null() {
                note(new_size as isize - layout.size() as isize);
            }
            new
        }
    }

    /// Runs `f` and returns its result with the most bytes this thread held during it beyond
    /// what it held before (`None` when `LimitAlloc` is not the global allocator).
    pub fn peak_during<R>(f: impl FnOnce() -> R) -> (R, Option<isize>) {
        let start = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(start));
        let result = f();
        let peak = PEAK.with(Cell::get) - start;
        (result, INSTALLED.load(Ordering::Relaxed).then_some(peak))
    }
}

/// Runs one parse and checks its peak allocation against what `input_len` bytes can justify.
fn bounded<R>(
    what: &str,
    input_len: usize,
    f: impl FnOnce() -> Result<R, Broken>,
) -> Result<R, Broken> {
    let (result, peak) = alloc::peak_during(f);
    let result = result?;
    let budget = ALLOC_BASE_BYTES + ALLOC_PER_INPUT_BYTE * input_len as isize;
    match peak {
        Some(peak) if peak > budget => Err(format!(
            "{what}: held {peak} bytes at peak for a {input_len}-byte input (budget {budget})"
        )),
        _ => Ok(result),
    }
}

/// A small deterministic generator for chunk sizes (xorshift64*).
struct Chunks(u64);

impl Chunks {
    fn next(&mut self, max: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        1 + (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % max
    }
}

/// What one request decode produced, for comparing two runs.
#[derive(Debug, PartialEq, Eq)]
enum Decoded {
    Command(Vec<Bytes>),
    Empty,
    Error(String),
}

/// Decodes everything in `buf` after new bytes arrived, as the connection loop does: until the
/// decoder wants more or fails. Each request must consume bytes (otherwise the loop would spin).
fn decode_available(
    decoder: &mut RequestDecoder,
    buf: &mut BytesMut,
    limits: Limits,
    recycle: bool,
    out: &mut Vec<Decoded>,
) -> Result<bool, Broken> {
    loop {
        let before = buf.len();
        match decoder.decode(buf, limits) {
            Ok(Some(request)) => {
                if buf.len() >= before {
                    return Err(format!(
                        "decoder returned {request:?} without consuming a byte"
                    ));
                }
                out.push(match request {
                    Request::Command(argv) => {
                        if argv.is_empty() {
                            return Err("decoder returned a command without arguments".into());
                        }
                        if recycle {
                            let kept = argv.clone();
                            decoder.recycle(argv);
                            Decoded::Command(kept)
                        } else {
                            Decoded::Command(argv)
                        }
                    }
                    Request::Empty => Decoded::Empty,
                });
            }
            Ok(None) => {
                // Waiting for more bytes: outside a multibulk only a line can be pending,
                // and a line longer than the inline limit must have been refused.
                if !decoder.in_progress() && buf.len() > INLINE_BYTES_MAX + 2 {
                    return Err(format!(
                        "decoder waits with {} bytes buffered outside a multibulk",
                        buf.len()
                    ));
                }
                return Ok(true);
            }
            Err(e) => {
                out.push(Decoded::Error(e.0));
                return Ok(false);
            }
        }
    }
}

/// The request decoder (`protocol::request`). Input: a flags byte (bit 0: authenticated; bits
/// 1-2: the bulk length limit; bit 3: the chunked decoder shares static command names, as the
/// connection does with its last command's; bit 4: it gets each request's argument vector back
/// for reuse), a chunking seed byte, then the bytes a client sends. The stream is decoded
/// twice, at once with neither, and in pseudo-random chunks of 1..=N bytes as reads would
/// deliver it; both must give the same requests and the same error.
pub fn request(data: &[u8]) -> Result<(), Broken> {
    let (flags, seed, stream) = match data {
        [flags, seed, rest @ ..] => (*flags, *seed, rest),
        _ => return Ok(()),
    };
    let limits = Limits {
        authenticated: flags & 1 != 0,
        bulk_bytes_max: [512 << 20, 16, 1024, 64 << 10][usize::from(flags >> 1 & 3)],
    };
    bounded("request decoder", stream.len(), || {
        let mut whole = Vec::new();
        let mut buf = BytesMut::from(stream);
        decode_available(
            &mut RequestDecoder::new(),
            &mut buf,
            limits,
            false,
            &mut whole,
        )?;

        let mut chunks = Chunks(u64::from(seed) << 32 | 0x9e37_79b9 | u64::from(flags));
        let max_chunk = [1, 3, 16, 4096][usize::from(seed & 3)];
        let mut chunked = Vec::new();
        let mut decoder = RequestDecoder::new();
        if flags & 8 != 0 {
            static NAMES: [&[u8]; 2] = [b"set", b"SET"];
            decoder.share_names(&NAMES);
        }
        let recycle = flags & 16 != 0;
        let mut buf = BytesMut::new();
        let mut rest = stream;
        while !rest.is_empty() {
            let n = chunks.next(max_chunk).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if !decode_available(&mut decoder, &mut buf, limits, recycle, &mut chunked)? {
                break;
            }
        }
        if whole != chunked {
            let at = whole
                .iter()
                .zip(&chunked)
                .take_while(|(a, b)| a == b)
                .count();
            return Err(format!(
                "decoding in chunks of up to {max_chunk} differs from decoding at once at request {at}: {:?} vs {:?}",
                whole.get(at),
                chunked.get(at)
            ));
        }
        Ok(())
    })
}

/// A server with no sockets for the targets that go through dispatch, built once per thread:
/// two databases and a 1 MB bulk limit keep one command's memory small; no save points, so the
/// FLUSHALL between inputs writes no dump.
fn with_server<R>(f: impl FnOnce(&ServerState, &mut ClientState) -> R) -> R {
    thread_local! {
        static SERVER: std::cell::RefCell<Option<(ServerState, ClientState)>> =
            const { std::cell::RefCell::new(None) };
    }
    SERVER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (state, client) = slot.get_or_insert_with(|| {
            let mut config = Config::default();
            config
                .load_text("databases 2\nproto-max-bulk-len 1mb\nsave \"\"\nappendonly no\n")
                .expect("fuzz server config");
            let state = ServerState::new(
                config,
                Clock::manual(1_790_000_000_000),
                crate::commands::TABLES,
            );
            let addr = "127.0.0.1:1".parse().expect("literal address");
            let info = state.clients.register(addr, addr, -1, 1_790_000_000_000);
            let client = ClientState::new(info);
            (state, client)
        });
        client.db = 0;
        client.multi = None;
        let result = f(state, client);
        let flush: Vec<Bytes> = vec![Bytes::from_static(b"FLUSHALL")];
        dispatch::execute(state, client, &flush);
        result
    })
}

fn run(state: &ServerState, client: &mut ClientState, argv: &[&[u8]]) -> Reply {
    let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    dispatch::execute(state, client, &argv)
}

/// A DUMP payload around `value` (type byte and body): version and CRC-64 footer.
pub fn dump_payload_of(value: &[u8]) -> Vec<u8> {
    let mut payload = value.to_vec();
    payload.extend_from_slice(&rdb::format::VERSION_WRITTEN.to_le_bytes());
    let crc = rdb::crc64::update(0, &payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    payload
}

/// RESTORE payloads (`rdb::read::read_dump_value` and the value limits). Input: a type byte and
/// a value body; the harness adds a valid footer so the decoder, not the CRC, sees the bytes
/// (the raw input is also offered as a whole payload). A value RESTORE accepts must DUMP to a
/// payload that restores again and dumps the same.
pub fn restore(data: &[u8]) -> Result<(), Broken> {
    let _ = rdb::read::verify_dump_payload(data, false);
    let payload = dump_payload_of(data);
    with_server(|state, client| {
        bounded("RESTORE", data.len(), || {
            match run(state, client, &[b"RESTORE", b"k", b"0", &payload]) {
                Reply::Ok => {}
                Reply::Error(_) => return Ok(()),
                other => return Err(format!("RESTORE replied {other:?}")),
            }
            let dumped = match run(state, client, &[b"DUMP", b"k"]) {
                Reply::Bulk(b) => b.to_vec(),
                other => return Err(format!("DUMP of a restored key replied {other:?}")),
            };
            match run(state, client, &[b"RESTORE", b"k2", b"0", &dumped]) {
                Reply::Ok => {}
                other => return Err(format!("RESTORE of our own DUMP replied {other:?}")),
            }
            match run(state, client, &[b"DUMP", b"k2"]) {
                Reply::Bulk(b) if b[..] == dumped[..] => Ok(()),
                other => Err(format!(
                    "DUMP after a DUMP/RESTORE round trip changed: {other:?}"
                )),
            }
        })
    })
}

/// The RDB loader (`rdb::load_bytes`, `rdb::load_stream_through`, `rdb::check`). Input: a mode
/// byte (bit 0: replace the last 8 bytes by the file's CRC-64; bits 1-7: the stream window) and
/// the file. Loading from memory and streaming through a small window must agree.
pub fn rdb_file(data: &[u8]) -> Result<(), Broken> {
    let Some((&mode, file)) = data.split_first() else {
        return Ok(());
    };
    let mut file = file.to_vec();
    if mode & 1 != 0 && file.len() >= 17 {
        let body = file.len() - 8;
        let crc = rdb::crc64::update(0, &file[..body]);
        file[body..].copy_from_slice(&crc.to_le_bytes());
    }
    let window = 16 + usize::from(mode >> 1) * 64;
    let now_ms = 1_790_000_000_000;
    let config = Config::default();
    bounded("RDB load", file.len(), || {
        let in_memory = {
            let ks = Keyspace::new(16, 1);
            rdb::load_bytes(&ks, &config, &file, now_ms).map(|stats| (stats, keys_in(&ks)))
        };
        let streamed = {
            let ks = Keyspace::new(16, 1);
            let source = std::io::Cursor::new(&file[..]);
            rdb::load_stream_through(&ks, &config, source, file.len(), window, now_ms)
                .map(|stats| (stats, keys_in(&ks)))
        };
        let report = rdb::check::check("fuzz.rdb", &file, now_ms);
        match (&in_memory, &streamed) {
            (Ok(a), Ok(b)) if a != b => Err(format!(
                "loading from memory gave {a:?}, streaming through {window} bytes gave {b:?}"
            )),
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => Err(format!(
                "one of loading from memory and streaming through {window} bytes failed: {e}"
            )),
            // The check sees every value (expired keys too, as redis-check-rdb) but not the
            // keyspace: duplicate keys and databases beyond `databases` only fail a load.
            (Err(e), _)
                if report.ok
                    && !e.message.contains("duplicate key")
                    && !e.message.contains("databases are configured") =>
            {
                Err(format!(
                    "the RDB check passes a file that does not load: {e}"
                ))
            }
            (Ok(_), _) if !report.ok && !report.text.contains("] key '") => Err(format!(
                "the RDB check fails a file that loads: {}",
                report.text
            )),
            _ => Ok(()),
        }
    })
}

fn keys_in(ks: &Keyspace) -> usize {
    (0..ks.databases()).map(|db| ks.db_len(db)).sum()
}

/// Whether the AOF target replays a command: what an AOF holds (writes, SELECT, MULTI/EXEC),
/// nothing that reaches outside the keyspace (administration, scripts, blocking).
fn replayable(state: &ServerState, argv: &[Bytes]) -> bool {
    let Some(found) = state.registry.get(&argv[0]) else {
        return true; // the loader's own refusal
    };
    let name = found.spec.name;
    if matches!(name, "select" | "multi" | "exec" | "discard") {
        return true;
    }
    let f = found.spec.flags;
    f & flags::WRITE != 0 && f & (flags::ADMIN | flags::NOSCRIPT | flags::BLOCKING) == 0
}

/// The AOF loader: the manifest parser (`aof::manifest`), record framing (`aof::reader`) and
/// replay through dispatch (`aof::load::replay_bytes`). Input: a length byte N, N bytes of
/// manifest, then one AOF file. A manifest that parses must print and parse back to itself;
/// framing must move forward on every record and agree with `verify`; replay must end in a
/// value or an error.
pub fn aof(data: &[u8]) -> Result<(), Broken> {
    let Some((&n, rest)) = data.split_first() else {
        return Ok(());
    };
    let (manifest, file) = rest.split_at(usize::from(n).min(rest.len()));
    // (A manifest of comments only parses to nothing; start-up then adds an incr file, so an
    // empty manifest is never written.)
    if let Some(parsed) = Manifest::parse(manifest)
        .ok()
        .filter(|m| *m != Manifest::default())
    {
        let printed = parsed.format();
        match Manifest::parse(printed.as_bytes()) {
            Ok(again) if again == parsed => {}
            other => {
                return Err(format!(
                    "manifest {parsed:?} printed as {printed:?} parses as {other:?}"
                ))
            }
        }
    }
    with_server(|state, _| {
        bounded("AOF load", file.len(), || {
            let mut reader = AofReader::from_bytes(file);
            let mut all_replayable = true;
            let mut last = 0;
            let outcome = loop {
                let step = reader.next_step();
                match &step {
                    Step::Command(argv, end) if argv.is_empty() => {
                        return Err(format!("empty command framed before offset {end}"));
                    }
                    Step::Command(argv, end) => {
                        all_replayable &= replayable(state, argv);
                        if *end <= last {
                            return Err(format!("AOF reader did not move past offset {last}"));
                        }
                        last = *end;
                    }
                    Step::Annotation(end) => {
                        if *end <= last {
                            return Err(format!("AOF reader did not move past offset {last}"));
                        }
                        last = *end;
                    }
                    _ => break step,
                }
            };
            let verdict = crate::aof::reader::verify(Bytes::copy_from_slice(file));
            let consistent = match (&outcome, &verdict.outcome) {
                (Step::End, crate::aof::reader::Outcome::Valid) => true,
                (Step::End, crate::aof::reader::Outcome::Truncated) => true, // open MULTI
                (Step::Truncated(_), crate::aof::reader::Outcome::Truncated) => true,
                (Step::Bad(a, r), crate::aof::reader::Outcome::Bad(b, s)) => a == b && r == s,
                _ => false,
            };
            if !consistent {
                return Err(format!(
                    "framing ended in {outcome:?} but verify says {verdict:?}"
                ));
            }
            if all_replayable {
                let _ = crate::aof::load::replay_bytes(
                    state.aof_handle(),
                    "fuzz.aof",
                    file,
                    |client, argv| crate::engine::dispatch::execute(state, client, argv),
                );
            }
            Ok(())
        })
    })
}

/// Config-file parsing (`Config::load_text`, `Config::from_args`, redis.conf `user` lines).
/// Input: the text of a config file; after a NUL byte, command-line words separated by NULs.
/// Lines that name other files (`include`) are dropped. A file that loads must give
/// values that CONFIG SET accepts back unchanged.
pub fn config(data: &[u8]) -> Result<(), Broken> {
    let text: String = String::from_utf8_lossy(data)
        .split_inclusive('\n')
        .filter(|line| !line.to_ascii_lowercase().contains("include"))
        .collect();
    let (file, args) = text.split_once('\0').unwrap_or((&text, ""));
    bounded("config", data.len(), || {
        let mut config = Config::default();
        if config.load_text(file).is_ok() {
            // Each option is set once on the probe, so it starts from its default as on a
            // fresh server.
            let probe = Config::default();
            for (spec, value) in config.snapshot() {
                // CONFIG SET refuses immutable options whatever the value; `dir` must exist.
                if spec.mutability == Mutability::Immutable || spec.name == "dir" {
                    continue;
                }
                let words: Vec<String> = if !spec.kind.is_multi_arg() {
                    vec![value.clone()]
                } else if value.is_empty() {
                    Vec::new()
                } else {
                    value.split(' ').map(String::from).collect()
                };
                match probe.set(spec, &words).map(|()| probe.get(spec.name)) {
                    Ok(again) if again == value => {}
                    other => {
                        return Err(format!(
                            "option {} loaded as {value:?} but CONFIG SET of that gives {other:?}",
                            spec.name
                        ))
                    }
                }
            }
            if !config.user_lines.is_empty() {
                with_server(|state, _| {
                    let _ = crate::acl::file::parse_config_lines(
                        &crate::acl::rule_env(&state.registry, &state.config),
                        &config.user_lines,
                    );
                });
            }
        }
        let words: Vec<String> = args
            .split('\0')
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect();
        if words.first().is_some_and(|w| w.starts_with("--")) {
            let _ = Config::from_args(&words);
        }
        Ok(())
    })
}

/// A user must survive ACL SAVE then ACL LOAD: its saved line parses back to the same rules.
fn rules_round_trip(name: &[u8], rules: &UserRules, state: &ServerState) -> Result<(), Broken> {
    let line = crate::acl::file::file_line(name, rules);
    let loaded = crate::acl::file::parse_text(
        &crate::acl::rule_env(&state.registry, &state.config),
        "fuzz.acl",
        &line,
    )
    .map_err(|e| format!("saved line {:?} does not load: {e}", lossy(&line)))?;
    match &loaded[..] {
        [(n, again)] if n == name && again.describe() == rules.describe() => Ok(()),
        other => Err(format!(
            "saved line {:?} loads as {:?}",
            lossy(&line),
            other
                .iter()
                .map(|(n, r)| (lossy(n), lossy(&r.describe())))
                .collect::<Vec<_>>()
        )),
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The ACL rule parser (`acl::rules`, `acl::file`). Input: a mode byte, then text. Mode bit 0
/// clear: the text is ACL SETUSER's arguments (split like an inline request); set: the text of
/// an aclfile. Every user that parses must survive ACL SAVE then ACL LOAD.
pub fn acl(data: &[u8]) -> Result<(), Broken> {
    let Some((&mode, text)) = data.split_first() else {
        return Ok(());
    };
    with_server(|state, _| {
        bounded("ACL rules", text.len(), || {
            if mode & 1 == 0 {
                let Some(words) = split_args(text) else {
                    return Ok(());
                };
                let Ok(words) = crate::acl::rules::merge_selector_args(&words) else {
                    return Ok(());
                };
                let env = crate::acl::rule_env(&state.registry, &state.config);
                let mut rules = UserRules::new(env.all_channels_by_default);
                for word in &words {
                    if rules.apply(word, &env).is_err() {
                        return Ok(());
                    }
                }
                rules_round_trip(b"fuzz", &rules, state)
            } else {
                match crate::acl::file::parse_text(
                    &crate::acl::rule_env(&state.registry, &state.config),
                    "fuzz.acl",
                    text,
                ) {
                    Ok(users) => users
                        .iter()
                        .try_for_each(|(name, rules)| rules_round_trip(name, rules, state)),
                    Err(_) => Ok(()),
                }
            }
        })
    })
}

/// The commands `command_args` runs, picked by the input's first byte.
const ARG_COMMANDS: [&[u8]; 4] = [b"BITFIELD", b"BITFIELD_RO", b"SORT", b"SORT_RO"];

/// Keys of every type `command_args` finds in place: strings (bits, numbers and weights for
/// BY), a list, a set, a sorted set, and hashes whose fields BY and GET name (`h_*->f`), plus a
/// user whose key patterns are not `~*` (BY and GET refused, as Redis's ACL rule).
const ARG_FIXTURE: &[&[&[u8]]] = &[
    &[b"SET", b"s", b"\x00\xffbitmap\x80"],
    &[b"SET", b"n", b"12345"],
    &[b"RPUSH", b"l", b"3", b"1", b"2", b"10", b"-1.5"],
    &[b"RPUSH", b"la", b"pear", b"apple", b"fig", b"a", b"c"],
    &[b"SADD", b"st", b"5", b"4", b"x", b"1"],
    &[b"ZADD", b"z", b"1", b"c", b"2", b"b", b"3", b"a"],
    &[
        b"MSET", b"w_1", b"3", b"w_2", b"1", b"w_3", b"2", b"w_a", b"nan", b"w_b", b"-inf",
    ],
    &[b"MSET", b"o_1", b"one", b"o_a", b"A", b"o_c", b"C"],
    &[b"HSET", b"h_1", b"f", b"9", b"g", b"x"],
    &[b"HSET", b"h_2", b"f", b"8"],
    &[b"HSET", b"h_a", b"f", b"7", b"g", b"y"],
    &[b"HSET", b"h_c", b"f", b"not a number"],
    &[
        b"ACL", b"SETUSER", b"fz", b"reset", b"on", b"nopass", b"+@all", b"~s", b"~l*", b"~st",
        b"~z", b"~d*",
    ],
];

/// Whether `reply` is a BITFIELD reply: an array of integers and nulls (OVERFLOW FAIL).
fn bitfield_shape(reply: &Reply) -> bool {
    match reply {
        Reply::Array(items) => items
            .iter()
            .all(|r| matches!(r, Reply::Int(_) | Reply::Nil)),
        _ => false,
    }
}

/// Whether `reply` is a SORT reply: an array of strings and nulls, or a count with STORE.
fn sort_shape(reply: &Reply, readonly: bool) -> bool {
    match reply {
        Reply::Array(items) => items
            .iter()
            .all(|r| matches!(r, Reply::Bulk(_) | Reply::Nil)),
        Reply::Int(n) => !readonly && *n >= 0,
        _ => false,
    }
}

/// The end of the complete RESP2/RESP3 value at `at` in `buf` (None: malformed or cut short).
fn resp_end(buf: &[u8], at: usize, depth: usize) -> Option<usize> {
    if depth > 64 {
        return None;
    }
    let line = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let header = std::str::from_utf8(buf.get(at + 1..line)?).ok()?;
    let next = line + 2;
    match *buf.get(at)? {
        b'+' | b'-' | b'_' | b'#' | b',' => Some(next),
        b':' | b'(' => header.parse::<i128>().ok().map(|_| next),
        b'$' | b'=' | b'!' => match header.parse::<i64>().ok()? {
            -1 => Some(next),
            n if n >= 0 => {
                let end = next + n as usize;
                (buf.get(end..end + 2)? == b"\r\n").then_some(end + 2)
            }
            _ => None,
        },
        kind @ (b'*' | b'~' | b'>' | b'%' | b'|') => {
            let n = match header.parse::<i64>().ok()? {
                -1 if kind == b'*' => return Some(next),
                n if n >= 0 => n as usize,
                _ => return None,
            };
            let n = if matches!(kind, b'%' | b'|') {
                n * 2
            } else {
                n
            };
            let mut end = next;
            for _ in 0..n {
                end = resp_end(buf, end, depth + 1)?;
            }
            // An attribute precedes the value it describes.
            if kind == b'|' {
                end = resp_end(buf, end, depth + 1)?;
            }
            Some(end)
        }
        _ => None,
    }
}

/// The key SORT's options (after the key) store into, walked as SORT parses them: the last
/// STORE wins, and the words after LIMIT, BY and GET are their values.
fn sort_store_key<'a>(options: &[&'a [u8]]) -> Option<&'a [u8]> {
    let mut store = None;
    let mut j = 0;
    while j < options.len() {
        let left = options.len() - j - 1;
        let word = options[j].to_ascii_lowercase();
        match &word[..] {
            b"asc" | b"desc" | b"alpha" => j += 1,
            b"limit" if left >= 2 => j += 3,
            b"store" if left >= 1 => {
                store = Some(options[j + 1]);
                j += 2;
            }
            b"by" | b"get" if left >= 1 => j += 2,
            _ => return None,
        }
    }
    store
}

/// Checks that a reply encodes to exactly one well-formed value in RESP2 and in RESP3, and
/// that an error is one line starting with an upper-case code.
fn well_formed(what: &str, reply: &Reply) -> Result<(), Broken> {
    if let Reply::Error(text) = reply {
        let code = text.split(|&b| b == b' ').next().unwrap_or_default();
        if code.is_empty()
            || !code
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            || text.iter().any(|&b| b == b'\r' || b == b'\n')
        {
            return Err(format!("{what}: malformed error {:?}", lossy(text)));
        }
    }
    for protocol in [
        crate::protocol::Protocol::Resp2,
        crate::protocol::Protocol::Resp3,
    ] {
        let mut out = BytesMut::new();
        reply.encode(protocol, &mut out);
        if resp_end(&out, 0, 0) != Some(out.len()) {
            return Err(format!(
                "{what}: the {protocol:?} encoding is not one value: {:?}",
                lossy(&out[..out.len().min(300)])
            ));
        }
    }
    Ok(())
}

/// BITFIELD, BITFIELD_RO, SORT and SORT_RO argument parsing and execution, through dispatch
/// on a server holding keys of every type (`ARG_FIXTURE`) with a 1 MB proto-max-bulk-len,
/// which bounds bit offsets as in Redis (a BITFIELD write grows a string to at most 1 MB).
/// Input: a mode byte (bits 0-1: the command; bit 2: run as a user without access to every
/// key, so BY and GET are refused), a separator byte, then the arguments after the command
/// name separated by it (the first is the key: `s`, `n`, `l`, `la`, `st`, `z`, `h_1` ...).
///
/// Properties: the reply is an error or the command's shape (BITFIELD: integers and nulls;
/// SORT: strings and nulls, or the count STORE wrote), one well-formed value in RESP2 and
/// RESP3; a read-only form that succeeds gives what the writing form gives with the same
/// arguments; SORT ... STORE leaves a list of the length it answered; the peak allocation stays
/// within the fixed allowance.
pub fn command_args(data: &[u8]) -> Result<(), Broken> {
    let [mode, sep, rest @ ..] = data else {
        return Ok(());
    };
    let command = ARG_COMMANDS[usize::from(mode & 3)];
    let restricted = mode & 4 != 0;
    let mut argv: Vec<&[u8]> = vec![command];
    if !rest.is_empty() {
        argv.extend(rest.split(|b| b == sep));
    }
    with_server(|state, client| {
        for line in ARG_FIXTURE {
            if let Reply::Error(e) = run(state, client, line) {
                return Err(format!(
                    "fixture {:?} failed: {}",
                    lossy(line[0]),
                    lossy(&e)
                ));
            }
        }
        if restricted {
            run(state, client, &[b"AUTH", b"fz", b"x"]);
        }
        let result = bounded("BITFIELD/SORT", data.len(), || {
            let reply = run(state, client, &argv);
            let what = format!("{} with {} arguments", lossy(command), argv.len() - 1);
            well_formed(&what, &reply)?;
            let readonly = mode & 1 != 0;
            let is_sort = mode & 2 != 0;
            let shaped = if is_sort {
                sort_shape(&reply, readonly)
            } else {
                bitfield_shape(&reply)
            };
            if !shaped && !matches!(reply, Reply::Error(_)) {
                return Err(format!("{what}: replied {reply:?}"));
            }
            if readonly && !matches!(reply, Reply::Error(_)) {
                let writing = ARG_COMMANDS[usize::from(mode & 2)];
                let mut again = argv.clone();
                again[0] = writing;
                let other = run(state, client, &again);
                if other != reply {
                    return Err(format!(
                        "{what}: {} replied {reply:?} but {} replied {other:?}",
                        lossy(command),
                        lossy(writing)
                    ));
                }
            }
            if let (true, Reply::Int(n)) = (is_sort, &reply) {
                if let Some(dest) = sort_store_key(&argv[2..]) {
                    let len = run(state, client, &[b"LLEN", dest]);
                    if len != Reply::Int(*n) {
                        return Err(format!("{what}: STORE answered {n}, LLEN gives {len:?}"));
                    }
                }
            }
            Ok(())
        });
        if restricted {
            run(state, client, &[b"AUTH", b"default", b"x"]);
        }
        result
    })
}
