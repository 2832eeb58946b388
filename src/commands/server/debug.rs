//! MEMORY (USAGE STATS DOCTOR PURGE MALLOC-STATS HELP) and DEBUG: introspection of memory and
//! of single keys, plus the DEBUG switches test suites use (SET-ACTIVE-EXPIRE, SLEEP ...).
//!
//! DEBUG is refused unless `enable-debug-command` is `yes`, or `local` and the client connects
//! from a loopback address, with Redis's text. Allocator numbers come from jemalloc (the global
//! allocator of the binary); dataset numbers from the keyspace's own byte accounting.

use crate::command;
use crate::commands::server::info::{allocator_stats, peak_memory, rss_bytes, used_memory};
use crate::commands::server::{container, help_result};
use crate::engine::args::{is, parse_i64};
use crate::error::CommandError;
use crate::keyspace::entry::ENTRY_OVERHEAD_BYTES;
use crate::keyspace::{Entry, ShardId, Value};
use crate::protocol::Reply;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;
use std::time::Duration;

pub static COMMANDS: &[CommandSpec] = &[
    container(
        "memory",
        "server",
        "4.0.0",
        "A container for memory diagnostics commands.",
        MEMORY_SUBCOMMANDS,
    ),
    command!(
        "debug",
        -2,
        // ALL_SHARDS: DEBUG runs alone, as in Redis (SLEEP stops every client, RELOAD
        // replaces the dataset with nothing running beside it).
        ADMIN | NOSCRIPT | LOADING | STALE | NO_TOUCH | ALL_SHARDS,
        KeySpec::Custom(debug_keys),
        &["admin", "slow", "dangerous"],
        "server",
        "1.0.0",
        "A container for debugging commands.",
        debug
    ),
];

static MEMORY_SUBCOMMANDS: &[CommandSpec] = &[
    command!(
        "doctor",
        2,
        0,
        KeySpec::None,
        &["slow"],
        "server",
        "4.0.0",
        "Outputs a memory problems report.",
        memory_doctor
    ),
    command!(
        "help",
        2,
        LOADING | STALE,
        KeySpec::None,
        &["slow"],
        "server",
        "4.0.0",
        "Returns helpful text about the different subcommands.",
        memory_help
    ),
    command!(
        "malloc-stats",
        2,
        0,
        KeySpec::None,
        &["slow"],
        "server",
        "4.0.0",
        "Returns the allocator statistics.",
        memory_malloc_stats
    ),
    command!(
        "purge",
        2,
        0,
        KeySpec::None,
        &["slow"],
        "server",
        "4.0.0",
        "Asks the allocator to release memory.",
        memory_purge
    ),
    command!(
        "stats",
        2,
        0,
        KeySpec::None,
        &["slow"],
        "server",
        "4.0.0",
        "Returns details about memory usage.",
        memory_stats
    ),
    command!(
        "usage",
        -3,
        READONLY | NO_TOUCH,
        KeySpec::Range {
            first: 2,
            last: 2,
            step: 1
        },
        &["read", "slow"],
        "server",
        "4.0.0",
        "Estimates the memory usage of a key.",
        memory_usage
    ),
];

/// MEMORY USAGE key [SAMPLES count]: the bytes accounted to the key (entry, key and value).
/// Values are flat, so SAMPLES only gets validated.
fn memory_usage(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let mut i = 3;
    while i < argv.len() {
        if is(&argv[i], "samples") && i + 1 < argv.len() {
            if parse_i64(&argv[i + 1])? < 0 {
                return Err(CommandError::Syntax);
            }
            i += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let now = ctx.now_ms;
    let key = &argv[2];
    let (shard, hash) = ctx.shard(key);
    Ok(match shard.get_mut(hash, key, now) {
        Some(entry) => Reply::Int(entry.memory_bytes() as i64),
        None => Reply::Nil,
    })
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// MEMORY STATS with Redis 7.2's field names and order.
fn memory_stats(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let ks = &ctx.state.keyspace;
    let (allocated, active, resident) = allocator_stats();
    let dataset = ks.used_bytes() as u64;
    let total = used_memory(allocated, dataset).max(dataset);
    let peak = peak_memory(ctx.state, total);
    let rss = rss_bytes();
    let overhead = total - dataset;
    let mut keys = 0u64;
    let mut per_db = Vec::new();
    for db in 0..ks.databases() {
        let len = ks.db_len(db) as u64;
        if len == 0 {
            continue;
        }
        keys += len;
        // No expires table: a deadline is 5 bytes (8 outside 2020-2054) in the key's entry.
        let deadlines = ks.db_deadline_bytes(db) as u64;
        per_db.push((
            Reply::bulk_str(&format!("db.{db}")),
            Reply::Map(vec![
                (
                    Reply::bulk_static("overhead.hashtable.main"),
                    Reply::Int((len * ENTRY_OVERHEAD_BYTES as u64) as i64),
                ),
                (
                    Reply::bulk_static("overhead.hashtable.expires"),
                    Reply::Int(deadlines as i64),
                ),
                // Redis 7.0-7.2 report their cluster slot links here; not in cluster mode: 0.
                (
                    Reply::bulk_static("overhead.hashtable.slot-to-keys"),
                    Reply::Int(0),
                ),
            ]),
        ));
    }
    let int = |n: u64| Reply::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let field = |name: &'static str, value: Reply| (Reply::bulk_static(name), value);
    let mut map = vec![
        field("peak.allocated", int(peak)),
        field("total.allocated", int(total)),
        field(
            "startup.allocated",
            int(crate::commands::server::info::startup_memory(ctx.state)),
        ),
        field("replication.backlog", int(0)),
        field("clients.slaves", int(0)),
        field("clients.normal", int(0)),
        field("cluster.links", int(0)),
        field("aof.buffer", int(0)),
        field("lua.caches", int(0)),
        field("functions.caches", int(0)),
    ];
    map.extend(per_db);
    map.extend([
        field("overhead.total", int(overhead)),
        field("keys.count", int(keys)),
        field(
            "keys.bytes-per-key",
            int(total.checked_div(keys).unwrap_or(0)),
        ),
        field("dataset.bytes", int(dataset)),
        field(
            "dataset.percentage",
            Reply::Double(ratio(dataset, total) * 100.0),
        ),
        field("peak.percentage", Reply::Double(ratio(total, peak) * 100.0)),
        field("allocator.allocated", int(allocated)),
        field("allocator.active", int(active)),
        field("allocator.resident", int(resident)),
        field(
            "allocator-fragmentation.ratio",
            Reply::Double(ratio(active, allocated)),
        ),
        field(
            "allocator-fragmentation.bytes",
            int(active.saturating_sub(allocated)),
        ),
        field(
            "allocator-rss.ratio",
            Reply::Double(ratio(resident, active)),
        ),
        field("allocator-rss.bytes", int(resident.saturating_sub(active))),
        field("rss-overhead.ratio", Reply::Double(ratio(rss, resident))),
        field("rss-overhead.bytes", int(rss.saturating_sub(resident))),
        field("fragmentation", Reply::Double(ratio(rss, total))),
        field("fragmentation.bytes", int(rss.saturating_sub(total))),
    ]);
    Ok(Reply::Map(map))
}

/// Below this much memory Redis's doctor declines to diagnose anything.
const DOCTOR_MIN_BYTES: u64 = 5 * 1024 * 1024;

fn memory_doctor(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let used = used_memory(allocator_stats().0, 0);
    let text = if used < DOCTOR_MIN_BYTES {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
    } else {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
    };
    Ok(Reply::Verbatim(Bytes::from_static(text.as_bytes())))
}

/// A summary of jemalloc's counters (the full `malloc_stats_print` report needs the crate's
/// `use_std` feature, which this build does not enable).
fn memory_malloc_stats(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    let (allocated, active, resident) = allocator_stats();
    let text = format!("___ Begin jemalloc statistics ___\nAllocated: {allocated}, active: {active}, resident: {resident}\n--- End jemalloc statistics ---\n");
    Ok(Reply::Verbatim(text.into()))
}

/// jemalloc's `arena.<MALLCTL_ARENAS_ALL>.purge`: returns the dirty pages of every arena to the
/// system, as Redis's MEMORY PURGE does.
fn memory_purge(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    const PURGE_ALL_ARENAS: &[u8] = b"arena.4096.purge\0";
    // SAFETY: a void mallctl: the name is NUL-terminated and no value is read or written.
    let _ = unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_ALL_ARENAS.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    Ok(Reply::Ok)
}

fn memory_help(_ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CommandResult {
    help_result(&[
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ])
}

// ---- DEBUG ----

/// DEBUG OBJECT names a key (argv[2]); dispatch must lock its shard.
fn debug_keys(argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
    if argv.len() == 3 && is(&argv[1], "object") {
        vec![(None, 2)]
    } else {
        Vec::new()
    }
}

/// Longest DEBUG SLEEP honoured: DEBUG runs in the exclusive section, so the sleep stops every
/// other client, as Redis's blocks its whole event loop.
const DEBUG_SLEEP_MAX: Duration = Duration::from_secs(60);

fn debug(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    check_debug_allowed(ctx)?;
    let sub = &argv[1];
    let argc = argv.len();
    if argc == 2 && is(sub, "help") {
        return help_result(DEBUG_HELP);
    }
    if argc == 3 && is(sub, "set-active-expire") {
        ctx.state
            .debug
            .active_expire_off
            .store(atoi(&argv[2]) == 0, std::sync::atomic::Ordering::Relaxed);
        return Ok(Reply::Ok);
    }
    if argc == 3 && is(sub, "set-skip-checksum-validation") {
        ctx.state
            .rdb
            .skip_dump_checksum
            .store(atoi(&argv[2]) != 0, std::sync::atomic::Ordering::Relaxed);
        return Ok(Reply::Ok);
    }
    if argc == 3 && is(sub, "pause-cron") {
        ctx.state
            .debug
            .cron_paused
            .store(atoi(&argv[2]) != 0, std::sync::atomic::Ordering::Relaxed);
        return Ok(Reply::Ok);
    }
    if argc == 3 && is(sub, "sleep") {
        let seconds = strtod_prefix(&argv[2]);
        let pause = Duration::try_from_secs_f64(seconds)
            .unwrap_or(Duration::ZERO)
            .min(DEBUG_SLEEP_MAX);
        if !pause.is_zero() {
            sleep_blocking(pause);
        }
        return Ok(Reply::Ok);
    }
    if argc == 3 && is(sub, "object") {
        return debug_object(ctx, &argv[2]);
    }
    if argc == 2 && is(sub, "change-repl-id") {
        return crate::commands::server::debug_ops::change_repl_id(ctx);
    }
    if argc == 2 && is(sub, "digest") {
        return crate::commands::server::debug_ops::dataset_digest(ctx);
    }
    if argc >= 2 && is(sub, "digest-value") {
        return crate::commands::server::debug_ops::value_digests(ctx, &argv[2..]);
    }
    if (3..=5).contains(&argc) && is(sub, "populate") {
        return crate::commands::server::debug_ops::populate(ctx, argv);
    }
    if argc == 2 && is(sub, "loadaof") {
        return crate::commands::server::debug_ops::loadaof(ctx);
    }
    if is(sub, "reload") {
        return crate::commands::server::debug_ops::reload(ctx, &argv[2..]);
    }
    if argc == 3 && is(sub, "protocol") {
        return crate::commands::server::debug_ops::protocol(ctx, &argv[2]);
    }
    if argc == 2 && (is(sub, "stringmatch-len") || is(sub, "stringmatch-test")) {
        return crate::commands::server::debug_ops::stringmatch_len();
    }
    if argc == 3 && is(sub, "quicklist-packed-threshold") {
        return match crate::config::parse_memory(&String::from_utf8_lossy(&argv[2])) {
            Some(n) if n <= 1 << 32 => Ok(Reply::Ok),
            _ => Err(CommandError::err(
                "argument must be a memory value bigger than 1 and smaller than 4gb",
            )),
        };
    }
    if argc == 3 && is(sub, "error") {
        return Err(CommandError::other(
            String::from_utf8_lossy(&argv[2]).into_owned(),
        ));
    }
    if argc == 3 && is(sub, "log") {
        tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(&argv[2]));
        return Ok(Reply::Ok);
    }
    let name = String::from_utf8_lossy(&sub[..sub.len().min(128)]).into_owned();
    Err(CommandError::err(format!(
        "unknown subcommand or wrong number of arguments for '{name}'. Try DEBUG HELP."
    )))
}

fn check_debug_allowed(ctx: &Ctx<'_>) -> Result<(), CommandError> {
    let allowed = match ctx.state.config.get("enable-debug-command").as_str() {
        "yes" => true,
        "local" => ctx.client.info.addr.is_local(),
        _ => false,
    };
    if allowed {
        return Ok(());
    }
    Err(CommandError::err("DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."))
}

/// Sleeps on this thread, telling tokio first so other connections keep being served.
fn sleep_blocking(pause: Duration) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| std::thread::sleep(pause));
        }
        _ => std::thread::sleep(pause),
    }
}

/// C's `atoi`: optional sign and leading digits, 0 when there are none.
fn atoi(arg: &[u8]) -> i64 {
    let text = String::from_utf8_lossy(arg);
    let text = text.trim_start();
    let (sign, digits) = match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse::<i64>().map_or(0, |n| sign * n)
}

/// C's `strtod` on a prefix: the longest leading number, 0 when there is none.
fn strtod_prefix(arg: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(arg);
    let text = text.trim_start();
    (1..=text.len())
        .rev()
        .filter(|&n| text.is_char_boundary(n))
        .find_map(|n| text[..n].parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// DEBUG OBJECT key, in Redis's one-line format.
fn debug_object(ctx: &mut Ctx<'_>, key: &[u8]) -> CommandResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    let ks = &ctx.state.keyspace;
    let id = ShardId {
        db,
        shard: ks.shard_of(ks.hash(key)),
    };
    let hash = ks.hash(key);
    ctx.with_shard(id, |shard| match shard.get_mut(hash, key, now) {
        None => Err(CommandError::NoSuchKey),
        Some(entry) => Ok(Reply::Status(object_line(entry, now).into())),
    })
}

fn object_line(entry: &Entry, now_ms: u64) -> String {
    const LRU_CLOCK_MASK: u32 = (1 << 24) - 1;
    let lru = entry.access() & LRU_CLOCK_MASK;
    let now_s = (now_ms / 1000) as u32 & LRU_CLOCK_MASK;
    let idle = if lru == 0 {
        0
    } else {
        now_s.wrapping_sub(lru) & LRU_CLOCK_MASK
    };
    let refcount = if entry.encoding_name() == "int" {
        i32::MAX
    } else {
        1
    };
    format!(
        "Value at:{:p} refcount:{refcount} encoding:{} serializedlength:{} lru:{lru} lru_seconds_idle:{idle}",
        entry as *const Entry,
        entry.encoding_name(),
        serialized_len(&entry.to_value())
    )
}

/// Bytes the value takes in an RDB file (uncompressed): integers in 1, 2 or 4 bytes, strings
/// with their length prefix.
fn serialized_len(value: &Value) -> usize {
    match value {
        Value::Str(bytes) => {
            if let Some(n) = crate::strconv::parse_i64_strict(bytes).filter(|_| bytes.len() <= 11) {
                if i8::try_from(n).is_ok() {
                    return 2;
                } else if i16::try_from(n).is_ok() {
                    return 3;
                } else if i32::try_from(n).is_ok() {
                    return 5;
                }
            }
            let prefix = match bytes.len() {
                0..64 => 1,
                64..16384 => 2,
                16384..=0xFFFF_FFFF => 5,
                _ => 9,
            };
            prefix + bytes.len()
        }
        // Aggregates: the sum of their elements' lengths is the RDB engineer's to refine.
        other => other.heap_bytes(),
    }
}

const DEBUG_HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-LEN",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "HELP",
    "    Prints this help.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_number_prefixes() {
        assert_eq!(atoi(b"12abc"), 12);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(strtod_prefix(b"0.5s"), 0.5);
        assert_eq!(strtod_prefix(b"abc"), 0.0);
    }

    #[test]
    fn rdb_lengths() {
        assert_eq!(serialized_len(&Value::string(b"123")), 2);
        assert_eq!(serialized_len(&Value::string(b"hello")), 6);
        assert_eq!(serialized_len(&Value::string(b"70000")), 5);
    }
}
