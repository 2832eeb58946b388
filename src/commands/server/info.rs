//! INFO: every section of Redis 7.2 with Redis's field names and layout (`# Section` headers,
//! `name:value` lines, CRLF endings, a blank line between sections).
//!
//! Figures that ferrocache has no equivalent for (replication, forks, defrag, Lua memory) are
//! reported with the values an idle standalone Redis shows, so monitoring tools find every field.
//! Keyspace figures come from one pass over the shards, each locked only long enough to read
//! its counters.

use crate::config::REDIS_VERSION;
use crate::keyspace::ShardId;
use crate::protocol::Reply;
use crate::state::ServerState;
use crate::stats::ServerStats;
use crate::{
    engine::flags::*, engine::CommandResult, engine::CommandSpec, engine::Ctx, engine::KeySpec,
};
use bytes::Bytes;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "info",
    arity: -1,
    flags: LOADING | STALE,
    keys: KeySpec::None,
    acl: &["dangerous"],
    group: "server",
    summary: "Returns information and statistics about the server.",
    since: "1.0.0",
    complexity: "O(1)",
    run: info,
    subcommands: &[],
}];

/// Every section, in the order Redis prints them.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
    "prefixstats",
];
const DEFAULT_EXCLUDES: &[&str] = &["commandstats", "latencystats", "prefixstats"];

/// The sections `INFO args...` asks for, in print order.
fn wanted_sections(args: &[Bytes]) -> Vec<&'static str> {
    let asked: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let asked = if asked.is_empty() {
        vec!["default".to_string()]
    } else {
        asked
    };
    SECTIONS
        .iter()
        .copied()
        .filter(|s| {
            asked.iter().any(|a| match a.as_str() {
                "default" => !DEFAULT_EXCLUDES.contains(s),
                "all" => *s != "modules",
                "everything" => true,
                a => a == *s,
            })
        })
        .collect()
}

fn info(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    let sections = wanted_sections(&argv[1..]);
    let text = render(ctx, &sections);
    Ok(Reply::Verbatim(Bytes::from(text)))
}

/// Per-database figures gathered in one pass over the shards.
#[derive(Default)]
struct Keyspace {
    dbs: Vec<DbFigures>,
    dataset_bytes: u64,
    hits: u64,
    misses: u64,
    expired: u64,
    evicted: u64,
    expired_subkeys: u64,
}

#[derive(Default, Clone, Copy)]
struct DbFigures {
    keys: u64,
    expires: u64,
    /// Keys whose hash has field deadlines (Redis 7.4's `subexpiry`).
    subexpiry: u64,
    ttl_sum_ms: u128,
    ttl_samples: u64,
}

/// Volatile keys sampled per shard for `avg_ttl` (Redis's figure is an estimate as well).
const TTL_SAMPLES_PER_SHARD: u64 = 16;
const TTL_SLOTS_SCANNED_PER_SHARD: usize = 256;

fn scan_keyspace(ctx: &mut Ctx<'_>) -> Keyspace {
    let ks = &ctx.state.keyspace;
    let mut out = Keyspace {
        dbs: vec![DbFigures::default(); ks.databases()],
        ..Default::default()
    };
    let now = ctx.now_ms;
    let ids: Vec<ShardId> = ks.all_shards().collect();
    for id in ids {
        let db = &mut out.dbs[id.db];
        let (keys, expires, bytes, stats, ttl_sum, ttl_n, subexpiry) =
            ctx.with_shard(id, |shard| {
                let (mut sum, mut n) = (0u128, 0u64);
                if shard.volatile_len() > 0 {
                    for pos in 0..shard.slot_count().min(TTL_SLOTS_SCANNED_PER_SHARD) {
                        if n >= TTL_SAMPLES_PER_SHARD {
                            break;
                        }
                        if let Some(deadline) = shard.entry_at(pos).and_then(|e| e.expire_at_ms()) {
                            sum += deadline.saturating_sub(now) as u128;
                            n += 1;
                        }
                    }
                }
                (
                    shard.len() as u64,
                    shard.volatile_len() as u64,
                    shard.used_bytes() as u64,
                    shard.stats,
                    sum,
                    n,
                    shard.field_ttl_len() as u64,
                )
            });
        db.keys += keys;
        db.expires += expires;
        db.subexpiry += subexpiry;
        db.ttl_sum_ms += ttl_sum;
        db.ttl_samples += ttl_n;
        out.dataset_bytes += bytes;
        out.hits += stats.hits;
        out.misses += stats.misses;
        out.expired += stats.expired;
        out.evicted += stats.evicted;
        out.expired_subkeys += stats.expired_subkeys;
    }
    out
}

/// A section being written: `name:value\r\n` lines.
struct Section(String);

impl Section {
    fn field(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = write!(self.0, "{name}:{value}\r\n");
    }
}

fn render(ctx: &mut Ctx<'_>, sections: &[&str]) -> String {
    let needs_keyspace = sections
        .iter()
        .any(|s| matches!(*s, "memory" | "stats" | "keyspace"));
    let keyspace = if needs_keyspace {
        scan_keyspace(ctx)
    } else {
        Keyspace::default()
    };
    let state = ctx.state;
    let mut parts = Vec::with_capacity(sections.len());
    for &name in sections {
        let title = match name {
            "cpu" => "CPU".to_string(),
            n => format!("{}{}", n[..1].to_ascii_uppercase(), &n[1..]),
        };
        let mut s = Section(format!("# {title}\r\n"));
        match name {
            "server" => server(state, &mut s),
            "clients" => clients(state, &mut s),
            "memory" => memory(state, &keyspace, &mut s),
            "persistence" => persistence(state, &mut s),
            "stats" => stats(state, &keyspace, &mut s),
            "replication" => replication(state, &mut s),
            "cpu" => cpu(&mut s),
            "commandstats" => commandstats(state, &mut s),
            "errorstats" => errorstats(state, &mut s),
            "latencystats" => latencystats(state, &mut s),
            "cluster" => s.field("cluster_enabled", u8::from(state.cluster.enabled())),
            "keyspace" => keyspace_lines(&keyspace, &mut s),
            "prefixstats" => prefixstats(state, &mut s),
            _ => {}
        }
        parts.push(s.0);
    }
    parts.join("\r\n")
}

fn server(state: &ServerState, s: &mut Section) {
    let uptime = state.started.elapsed().as_secs();
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let port = state.bound_port.load(Ordering::Relaxed);
    s.field("redis_version", REDIS_VERSION);
    s.field("redis_git_sha1", "00000000");
    s.field("redis_git_dirty", 0);
    s.field(
        "redis_build_id",
        concat!("ferrocache-", env!("CARGO_PKG_VERSION")),
    );
    s.field("redis_mode", "standalone");
    s.field("os", os_name());
    s.field("arch_bits", usize::BITS);
    s.field("monotonic_clock", "POSIX clock_gettime");
    s.field("multiplexing_api", "epoll");
    s.field("atomicvar_api", "c11-builtin");
    s.field("gcc_version", "0.0.0");
    s.field("process_id", std::process::id());
    s.field("process_supervised", "no");
    s.field("run_id", &state.run_id);
    s.field("tcp_port", port);
    s.field("server_time_usec", now_us);
    s.field("uptime_in_seconds", uptime);
    s.field("uptime_in_days", uptime / 86400);
    s.field("hz", state.config.hot.hz.load(Ordering::Relaxed));
    s.field("configured_hz", state.config.get("hz"));
    s.field("lru_clock", (now_us / 1_000_000) as u64 & ((1 << 24) - 1));
    s.field("executable", &state.executable);
    s.field(
        "config_file",
        state.config.config_file.as_deref().unwrap_or(""),
    );
    s.field("io_threads_active", 0);
    let mut listener = String::from("name=tcp");
    for addr in state
        .config
        .get("bind")
        .split(' ')
        .filter(|a| !a.is_empty())
    {
        let _ = write!(listener, ",bind={addr}");
    }
    let _ = write!(listener, ",port={port}");
    s.field("listener0", listener);
}

fn clients(state: &ServerState, s: &mut Section) {
    let clients = state.clients.snapshot();
    let (mut max_in, mut max_out) = (0, 0);
    for c in &clients {
        let d = c.details.lock();
        max_in = max_in.max(d.query_buf);
        max_out = max_out.max(d.output_buf);
    }
    s.field("connected_clients", clients.len());
    s.field("cluster_connections", 0);
    s.field("maxclients", state.config.get("maxclients"));
    s.field("client_recent_max_input_buffer", max_in);
    s.field("client_recent_max_output_buffer", max_out);
    let (blocking_keys, timed_waits) = state.blocking.counts();
    s.field(
        "blocked_clients",
        state.blocking.blocked_clients() + state.pause.queued(),
    );
    s.field("tracking_clients", state.pubsub.tracking.figures().clients);
    s.field("pubsub_clients", 0);
    s.field("watching_clients", 0);
    s.field("clients_in_timeout_table", timed_waits);
    s.field("total_watched_keys", 0);
    s.field("total_blocking_keys", blocking_keys);
    s.field("total_blocking_keys_on_nokey", 0);
}

/// Redis's `bytesToHuman`: `B` below 1 KiB, else two decimals and K/M/G/T/P.
pub fn bytes_to_human(n: u64) -> String {
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    for unit in ["K", "M", "G", "T", "P"] {
        if value < 1024.0 || unit == "P" {
            return format!("{value:.2}{unit}");
        }
        value /= 1024.0;
    }
    unreachable!("the loop returns at P")
}

/// Records the memory in use once start-up (loading included) is over (INFO
/// used_memory_startup, MEMORY STATS startup.allocated).
pub fn note_startup_memory(state: &ServerState) {
    let used = used_memory(allocator_stats().0, 0);
    state.stats.startup_memory.store(used, Ordering::Relaxed);
}

pub fn startup_memory(state: &ServerState) -> u64 {
    state.stats.startup_memory.load(Ordering::Relaxed)
}

/// INFO used_memory (and MEMORY STATS total.allocated): the bytes the program holds, as Redis
/// reports its zmalloc counter, which is what maxmemory is checked against. Without the
/// counting allocator (library tests), jemalloc's `allocated`, then `dataset`.
pub fn used_memory(allocated: u64, dataset: u64) -> u64 {
    crate::alloc_counter::held_bytes().unwrap_or(if allocated > 0 { allocated } else { dataset })
}

/// The highest `used` seen so far by INFO / MEMORY STATS since start or CONFIG RESETSTAT,
/// `used` included (INFO used_memory_peak, MEMORY STATS peak.allocated).
pub fn peak_memory(state: &ServerState, used: u64) -> u64 {
    state
        .stats
        .peak_memory
        .fetch_max(used, Ordering::Relaxed)
        .max(used)
}

/// The allocators' allocated, active and resident byte counts: jemalloc's (refreshed first)
/// plus what the keyspace maps itself: the index tables (in all three), the entry arena's cells
/// in use (allocated) and its chunks (active, resident).
pub fn allocator_stats() -> (u64, u64, u64) {
    use crate::keyspace::{entry_arena, index_alloc};
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    let index = index_alloc::mapped_bytes() as u64;
    let cells = entry_arena::cell_bytes_in_use() as u64;
    let chunks = entry_arena::chunk_bytes() as u64;
    let allocated = stats::allocated::read().unwrap_or(0) as u64 + index + cells;
    let active = stats::active::read().unwrap_or(0) as u64 + index + chunks;
    let resident = stats::resident::read().unwrap_or(0) as u64 + index + chunks;
    (allocated, active, resident)
}

/// Resident set size from /proc/self/statm (pages of 4 KiB).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}

fn total_system_memory() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    kb.unwrap_or(0) * 1024
}

fn os_name() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let arch = std::env::consts::ARCH;
    format!("Linux {} {arch}", release.trim())
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "0.00".into()
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

fn memory(state: &ServerState, ks: &Keyspace, s: &mut Section) {
    let (allocated, active, resident) = allocator_stats();
    let used = used_memory(allocated, ks.dataset_bytes);
    let peak = peak_memory(state, used);
    let rss = rss_bytes();
    let dataset = ks.dataset_bytes.min(used);
    let overhead = used - dataset;
    let maxmemory = state.config.hot.maxmemory.load(Ordering::Relaxed);
    let system = total_system_memory();
    s.field("used_memory", used);
    s.field("used_memory_human", bytes_to_human(used));
    s.field("used_memory_rss", rss);
    s.field("used_memory_rss_human", bytes_to_human(rss));
    s.field("used_memory_peak", peak);
    s.field("used_memory_peak_human", bytes_to_human(peak));
    s.field(
        "used_memory_peak_perc",
        format!(
            "{:.2}%",
            if peak == 0 {
                0.0
            } else {
                used as f64 * 100.0 / peak as f64
            }
        ),
    );
    s.field("used_memory_overhead", overhead);
    s.field("used_memory_startup", startup_memory(state));
    s.field("used_memory_dataset", dataset);
    s.field(
        "used_memory_dataset_perc",
        format!(
            "{:.2}%",
            if used == 0 {
                0.0
            } else {
                dataset as f64 * 100.0 / used as f64
            }
        ),
    );
    s.field("allocator_allocated", allocated);
    s.field("allocator_active", active);
    s.field("allocator_resident", resident);
    s.field("total_system_memory", system);
    s.field("total_system_memory_human", bytes_to_human(system));
    let (libraries, functions) = state.scripting.functions.counts();
    let cached_scripts = state.scripting.cached_scripts().to_string();
    let (libraries, functions) = (libraries.to_string(), functions.to_string());
    for (name, value) in [
        ("used_memory_lua", "0"),
        ("used_memory_vm_eval", "0"),
        ("used_memory_lua_human", "0B"),
        ("used_memory_scripts_eval", "0"),
        ("number_of_cached_scripts", cached_scripts.as_str()),
        ("number_of_functions", functions.as_str()),
        ("number_of_libraries", libraries.as_str()),
        ("used_memory_vm_functions", "0"),
        ("used_memory_vm_total", "0"),
        ("used_memory_vm_total_human", "0B"),
        ("used_memory_functions", "0"),
        ("used_memory_scripts", "0"),
        ("used_memory_scripts_human", "0B"),
    ] {
        s.field(name, value);
    }
    s.field("maxmemory", maxmemory);
    s.field("maxmemory_human", bytes_to_human(maxmemory));
    s.field("maxmemory_policy", state.config.get("maxmemory-policy"));
    s.field("allocator_frag_ratio", ratio(active, allocated));
    s.field("allocator_frag_bytes", active.saturating_sub(allocated));
    s.field("allocator_rss_ratio", ratio(resident, active));
    s.field("allocator_rss_bytes", resident.saturating_sub(active));
    s.field("rss_overhead_ratio", ratio(rss, resident));
    s.field("rss_overhead_bytes", rss as i64 - resident as i64);
    s.field("mem_fragmentation_ratio", ratio(rss, used));
    s.field("mem_fragmentation_bytes", rss as i64 - used as i64);
    let repl_bytes = state.replication.feed.held_bytes();
    s.field("mem_not_counted_for_evict", 0);
    s.field("mem_replication_backlog", repl_bytes);
    s.field("mem_total_replication_buffers", repl_bytes);
    for name in [
        "mem_clients_slaves",
        "mem_clients_normal",
        "mem_cluster_links",
        "mem_aof_buffer",
    ] {
        s.field(name, 0);
    }
    s.field("mem_allocator", "jemalloc-5.3.0");
    s.field("active_defrag_running", 0);
    s.field("lazyfree_pending_objects", 0);
    s.field("lazyfreed_objects", 0);
}

fn persistence(state: &ServerState, s: &mut Section) {
    for name in [
        "loading",
        "async_loading",
        "current_cow_peak",
        "current_cow_size",
        "current_cow_size_age",
    ] {
        s.field(name, 0);
    }
    s.field("current_fork_perc", "0.00");
    s.field("current_save_keys_processed", 0);
    s.field("current_save_keys_total", 0);
    for (name, value) in crate::rdb::info_fields(&state.rdb_handle()) {
        s.field(name, value);
    }
    let aof = &state.aof;
    let st = &aof.stats;
    let load = |v: &std::sync::atomic::AtomicU64| v.load(Ordering::Relaxed);
    let in_progress = st.rewrite_in_progress.load(Ordering::Relaxed);
    s.field("aof_enabled", u8::from(aof.is_on()));
    s.field("aof_rewrite_in_progress", u8::from(in_progress));
    s.field(
        "aof_rewrite_scheduled",
        u8::from(st.rewrite_scheduled.load(Ordering::Relaxed)),
    );
    let rewrites = load(&st.rewrites) + load(&st.rewrites_failed_in_a_row);
    if rewrites == 0 {
        s.field("aof_last_rewrite_time_sec", -1);
    } else {
        s.field(
            "aof_last_rewrite_time_sec",
            load(&st.last_rewrite_ms) / 1000,
        );
    }
    if in_progress {
        let started = load(&st.rewrite_started_ms);
        s.field(
            "aof_current_rewrite_time_sec",
            crate::aof::unix_ms().saturating_sub(started) / 1000,
        );
    } else {
        s.field("aof_current_rewrite_time_sec", -1);
    }
    let ok = |b: bool| if b { "ok" } else { "err" };
    s.field(
        "aof_last_bgrewrite_status",
        ok(st.last_rewrite_ok.load(Ordering::Relaxed)),
    );
    s.field("aof_rewrites", load(&st.rewrites));
    s.field(
        "aof_rewrites_consecutive_failures",
        load(&st.rewrites_failed_in_a_row),
    );
    s.field("aof_last_write_status", ok(aof.write_error().is_none()));
    s.field("aof_last_cow_size", 0);
    s.field("module_fork_in_progress", 0);
    s.field("module_fork_last_cow_size", 0);
    if aof.is_on() {
        s.field("aof_current_size", load(&st.current_size));
        s.field("aof_base_size", load(&st.base_size));
        s.field(
            "aof_pending_rewrite",
            u8::from(st.rewrite_scheduled.load(Ordering::Relaxed)),
        );
        s.field("aof_buffer_length", aof.buffered_bytes());
        s.field(
            "aof_pending_bio_fsync",
            u8::from(st.pending_fsync.load(Ordering::Relaxed)),
        );
        s.field("aof_delayed_fsync", load(&st.delayed_fsync));
    }
}

fn stats(state: &ServerState, ks: &Keyspace, s: &mut Section) {
    let st = &state.stats;
    let get = ServerStats::get;
    let (ops, input_kbps, output_kbps) = {
        let sampler = st.ops_sampler.lock();
        (
            sampler.ops_per_sec(),
            sampler.input_kbps(),
            sampler.output_kbps(),
        )
    };
    let commands = get(&st.commands_processed);
    s.field("total_connections_received", get(&st.connections_received));
    s.field("total_commands_processed", commands);
    s.field("instantaneous_ops_per_sec", ops);
    s.field("total_net_input_bytes", get(&st.net_input_bytes));
    s.field("total_net_output_bytes", get(&st.net_output_bytes));
    s.field("total_net_repl_input_bytes", 0);
    s.field("total_net_repl_output_bytes", 0);
    s.field("instantaneous_input_kbps", format!("{input_kbps:.2}"));
    s.field("instantaneous_output_kbps", format!("{output_kbps:.2}"));
    s.field("instantaneous_input_repl_kbps", "0.00");
    s.field("instantaneous_output_repl_kbps", "0.00");
    s.field("rejected_connections", get(&st.rejected_connections));
    let primary = &state.replication.primary;
    for (name, n) in [
        ("sync_full", &primary.sync_full),
        ("sync_partial_ok", &primary.sync_partial_ok),
        ("sync_partial_err", &primary.sync_partial_err),
    ] {
        s.field(name, n.load(std::sync::atomic::Ordering::Relaxed));
    }
    s.field("expired_keys", ks.expired);
    // Redis 7.4: hash fields removed by their deadline.
    s.field("expired_subkeys", ks.expired_subkeys);
    s.field("expired_stale_perc", "0.00");
    s.field("expired_time_cap_reached_count", 0);
    s.field("expire_cycle_cpu_milliseconds", 0);
    s.field("evicted_keys", ks.evicted);
    // Beyond Redis: keys evicted from the maxmemory-evict-first tier (part of evicted_keys).
    s.field(
        "evicted_keys_tier_first",
        state.keyspace.tunables.tiers.evicted(),
    );
    s.field("evicted_clients", 0);
    let (exceeded_total_ms, exceeded_now_ms) =
        crate::engine::maxmemory::exceeded_time_ms(state, state.clock.now_us());
    s.field("total_eviction_exceeded_time", exceeded_total_ms);
    s.field("current_eviction_exceeded_time", exceeded_now_ms);
    s.field("keyspace_hits", ks.hits);
    s.field("keyspace_misses", ks.misses);
    for name in [
        "pubsub_channels",
        "pubsub_patterns",
        "pubsubshard_channels",
        "latest_fork_usec",
        "total_forks",
        "migrate_cached_sockets",
        "slave_expires_tracked_keys",
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
    ] {
        s.field(name, 0);
    }
    let tracking = state.pubsub.tracking.figures();
    s.field("tracking_total_keys", tracking.keys);
    s.field("tracking_total_items", tracking.items);
    s.field("tracking_total_prefixes", tracking.prefixes);
    s.field(
        "unexpected_error_replies",
        get(&st.unexpected_error_replies),
    );
    s.field("total_error_replies", get(&st.error_replies));
    s.field("dump_payload_sanitizations", 0);
    // One read and one write per command is what a non-pipelined client costs Redis.
    s.field("total_reads_processed", commands);
    s.field("total_writes_processed", commands);
    s.field("io_threaded_reads_processed", 0);
    s.field("io_threaded_writes_processed", 0);
    s.field(
        "client_query_buffer_limit_disconnections",
        st.query_buffer_limit_disconnections.load(Ordering::Relaxed),
    );
    s.field(
        "client_output_buffer_limit_disconnections",
        st.output_buffer_limit_disconnections
            .load(Ordering::Relaxed),
    );
    s.field("reply_buffer_shrinks", 0);
    s.field("reply_buffer_expands", 0);
    s.field("eventloop_cycles", commands);
    s.field("eventloop_duration_sum", 0);
    s.field("eventloop_duration_cmd_sum", 0);
    s.field("instantaneous_eventloop_cycles_per_sec", ops);
    s.field("instantaneous_eventloop_duration_usec", 0);
    use crate::acl::Reason;
    for (name, reason) in [
        ("acl_access_denied_auth", Reason::Auth),
        ("acl_access_denied_cmd", Reason::Command),
        ("acl_access_denied_key", Reason::Key),
        ("acl_access_denied_channel", Reason::Channel),
    ] {
        s.field(name, state.acl.denied(reason));
    }
}

fn replication(state: &ServerState, s: &mut Section) {
    // role and, on a replica, the link's fields; then the connected replicas (a replica may
    // have its own: chained replication).
    for (name, value) in crate::replication::replica::info_fields(state.replication_handle()) {
        s.field(name, value);
    }
    for (name, value) in crate::replication::primary::info_fields(state.replication_handle()) {
        s.field(&name, value);
    }
    s.field(
        "master_failover_state",
        state.replication.failover.phase().name(),
    );
    let ids = state.replication.ids();
    s.field("master_replid", ids.replid);
    s.field("master_replid2", ids.replid2);
    s.field("master_repl_offset", state.replication.offset());
    s.field("second_repl_offset", ids.second_replid_offset);
    let backlog = state.replication.feed.info();
    s.field("repl_backlog_active", u8::from(backlog.active));
    s.field("repl_backlog_size", state.config.get("repl-backlog-size"));
    s.field("repl_backlog_first_byte_offset", backlog.first_byte_offset);
    s.field("repl_backlog_histlen", backlog.histlen);
}

/// Process (and reaped children's) CPU seconds from /proc/self/stat: (user, sys, cuser, csys).
fn cpu_times() -> (f64, f64, f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime is field 14 of the whole line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<f64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    let ticks = |i: usize| fields.get(i).copied().unwrap_or(0.0) / 100.0;
    (ticks(11), ticks(12), ticks(13), ticks(14))
}

fn cpu(s: &mut Section) {
    let (user, sys, cuser, csys) = cpu_times();
    s.field("used_cpu_sys", format!("{sys:.6}"));
    s.field("used_cpu_user", format!("{user:.6}"));
    s.field("used_cpu_sys_children", format!("{csys:.6}"));
    s.field("used_cpu_user_children", format!("{cuser:.6}"));
    s.field("used_cpu_sys_main_thread", format!("{sys:.6}"));
    s.field("used_cpu_user_main_thread", format!("{user:.6}"));
}

/// (name, calls, usec, rejected, failed) of every command that was called, rejected or failed.
fn command_counters(state: &ServerState) -> Vec<(&'static str, u64, u64, u64, u64)> {
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut out: Vec<_> = state
        .registry
        .all_entries()
        .map(|f| {
            (
                f.full_name,
                load(&f.stats.calls),
                load(&f.stats.usec),
                load(&f.stats.rejected_calls),
                load(&f.stats.failed_calls),
            )
        })
        .filter(|&(_, calls, _, rejected, failed)| calls + rejected + failed > 0)
        .collect();
    out.sort_unstable_by_key(|e| e.0);
    out
}

fn commandstats(state: &ServerState, s: &mut Section) {
    for (name, calls, usec, rejected, failed) in command_counters(state) {
        let per_call = if calls == 0 {
            0.0
        } else {
            usec as f64 / calls as f64
        };
        s.field(
            &format!("cmdstat_{name}"),
            format!("calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}"),
        );
    }
}

fn errorstats(state: &ServerState, s: &mut Section) {
    let mut errors: Vec<(String, u64)> = state
        .stats
        .per_error
        .lock()
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    errors.sort();
    for (code, count) in errors {
        s.field(&format!("errorstat_{code}"), format!("count={count}"));
    }
}

/// The configured percentiles of each called command's latency histogram (microseconds,
/// interpolated inside power-of-two buckets; see observability::histogram).
fn latencystats(state: &ServerState, s: &mut Section) {
    if !state.config.get_bool("latency-tracking") {
        return;
    }
    let percentiles = state.config.get("latency-tracking-info-percentiles");
    let mut called: Vec<_> = state
        .registry
        .all_entries()
        .filter(|f| f.stats.latency.total() > 0)
        .collect();
    called.sort_unstable_by_key(|f| f.full_name);
    for f in called {
        let parts: Vec<String> = percentiles
            .split(' ')
            .filter_map(|p| Some((p, p.parse::<f64>().ok()?)))
            .map(|(p, pct)| format!("p{p}={:.3}", f.stats.latency.percentile(pct)))
            .collect();
        s.field(
            &format!("latency_percentiles_usec_{}", f.full_name),
            parts.join(","),
        );
    }
}

/// Beyond Redis: keyspace hits and misses per key-prefix group (keyspace-stats-prefixes,
/// keyspace-stats-separator), busiest first, as `prefixstat_<n>:prefix=...,hits=...`.
fn prefixstats(state: &ServerState, s: &mut Section) {
    for (n, (group, hits, misses)) in state.keyspace.prefix_stats().into_iter().enumerate() {
        let ratio = if hits + misses == 0 {
            0.0
        } else {
            hits as f64 / (hits + misses) as f64
        };
        s.field(
            &format!("prefixstat_{n}"),
            format!(
                "prefix={},hits={hits},misses={misses},hit_ratio={ratio:.4}",
                String::from_utf8_lossy(&group)
            ),
        );
    }
}

fn keyspace_lines(ks: &Keyspace, s: &mut Section) {
    for (db, f) in ks.dbs.iter().enumerate() {
        if f.keys == 0 {
            continue;
        }
        let avg_ttl = if f.ttl_samples == 0 {
            0
        } else {
            (f.ttl_sum_ms / f.ttl_samples as u128) as u64
        };
        s.field(
            &format!("db{db}"),
            format!(
                "keys={},expires={},avg_ttl={avg_ttl},subexpiry={}",
                f.keys, f.expires, f.subexpiry
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn section_selection() {
        let default = wanted_sections(&[]);
        assert!(
            default.contains(&"server")
                && default.contains(&"keyspace")
                && default.contains(&"errorstats")
        );
        assert!(!default.contains(&"commandstats") && !default.contains(&"latencystats"));
        assert_eq!(wanted_sections(&args(&["all"])).len(), SECTIONS.len() - 1);
        assert_eq!(
            wanted_sections(&args(&["everything"])).len(),
            SECTIONS.len()
        );
        assert_eq!(
            wanted_sections(&args(&["KEYSPACE", "cluster", "cluster"])),
            vec!["cluster", "keyspace"]
        );
        assert!(wanted_sections(&args(&["nosuch"])).is_empty());
    }

    #[test]
    fn human_sizes_like_redis() {
        assert_eq!(bytes_to_human(5), "5B");
        assert_eq!(bytes_to_human(1238520), "1.18M");
        assert_eq!(bytes_to_human(1 << 30), "1.00G");
        assert_eq!(bytes_to_human(32768), "32.00K");
    }
}
