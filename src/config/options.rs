//! The table of redis.conf options: every option of Redis 7.2 with its kind, default (in the
//! canonical form CONFIG GET prints) and whether CONFIG SET may change it.

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// Written and printed in octal (`unixsocketperm`).
    Octal {
        max: i64,
    },
    /// A byte size accepting `1gb`-style units; bounds in bytes.
    Memory {
        min: i64,
        max: u64,
    },
    /// A byte size or a percentage of maxmemory (`maxmemory-clients`).
    MemoryOrPercent,
    Enum(&'static [&'static str]),
    /// `shutdown-on-sigint`/`-sigterm`: `default` or a combination of save/nosave/now/force.
    ShutdownFlags,
    Str,
    /// `save`: pairs of "seconds changes", or "" to disable.
    Save,
    /// `client-output-buffer-limit`: class hard soft seconds (one or more groups).
    ClientOutputBufferLimit,
    /// `notify-keyspace-events` flag letters.
    NotifyEvents,
    /// `oom-score-adj-values`: three integers.
    OomScoreAdjValues,
    /// `latency-tracking-info-percentiles`: decimal percentiles.
    Percentiles,
    /// `bind`: up to 16 addresses.
    Bind,
    /// `replicaof host port` or `replicaof no one`.
    ReplicaOf,
}

impl Kind {
    /// Options that take several words (CONFIG SET splits their value on spaces).
    pub fn is_multi_arg(&self) -> bool {
        matches!(
            self,
            Save | ClientOutputBufferLimit | OomScoreAdjValues | Percentiles | Bind | ReplicaOf
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    Mutable,
    Immutable,
    /// Settable only when `enable-protected-configs` allows it (`dir`, `dbfilename`).
    Protected,
}

#[derive(Debug)]
pub struct OptionSpec {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub mutability: Mutability,
}

use Kind::*;
use Mutability::*;

const fn opt(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    mutability: Mutability,
) -> OptionSpec {
    OptionSpec {
        name,
        alias: None,
        kind,
        default,
        mutability,
    }
}

const fn aliased(
    name: &'static str,
    alias: &'static str,
    kind: Kind,
    default: &'static str,
    mutability: Mutability,
) -> OptionSpec {
    OptionSpec {
        name,
        alias: Some(alias),
        kind,
        default,
        mutability,
    }
}

const INT_MAX: i64 = i32::MAX as i64;

/// Options a glob in CONFIG GET (`*`) does not list, only their exact name (Redis's
/// HIDDEN_CONFIG: debugging aids for test suites).
pub const HIDDEN: &[&str] = &["rdb-key-save-delay", "key-load-delay"];
const LONG_MAX: i64 = i64::MAX;

pub const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];
const FSYNC: &[&str] = &["everysec", "always", "no"];
const YES_NO_LOCAL: &[&str] = &["no", "yes", "local"];
const SUPERVISED: &[&str] = &["upstart", "systemd", "auto", "no"];
const SANITIZE: &[&str] = &["no", "yes", "clients"];
const OOM_SCORE_ADJ: &[&str] = &["no", "yes", "relative", "absolute"];
const ACL_LOG: &[&str] = &["allchannels", "resetchannels"];
const PROPAGATION_ERROR: &[&str] = &["ignore", "panic", "panic-on-replicas"];
const LATENCY_TRACKING_DEFAULT: &str = "50 99 99.9";

/// Every redis.conf option of Redis 7.2 that ferrocache accepts.
pub static OPTIONS: &[OptionSpec] = &[
    // Network
    opt("bind", Bind, "* -::*", Mutable),
    opt("bind-source-addr", Str, "", Mutable),
    opt("protected-mode", Bool, "yes", Mutable),
    opt(
        "enable-protected-configs",
        Enum(YES_NO_LOCAL),
        "no",
        Immutable,
    ),
    opt("enable-debug-command", Enum(YES_NO_LOCAL), "no", Immutable),
    opt("enable-module-command", Enum(YES_NO_LOCAL), "no", Immutable),
    opt("port", Int { min: 0, max: 65535 }, "6379", Mutable),
    opt(
        "tcp-backlog",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "511",
        Immutable,
    ),
    opt("unixsocket", Str, "", Immutable),
    opt("unixsocketperm", Octal { max: 0o777 }, "0", Immutable),
    opt(
        "socket-mark-id",
        Int {
            min: 0,
            max: u32::MAX as i64,
        },
        "0",
        Immutable,
    ),
    opt(
        "timeout",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "0",
        Mutable,
    ),
    opt(
        "tcp-keepalive",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "300",
        Mutable,
    ),
    // TLS (net/tls.rs)
    opt("tls-port", Int { min: 0, max: 65535 }, "0", Mutable),
    opt("tls-cert-file", Str, "", Mutable),
    opt("tls-key-file", Str, "", Mutable),
    opt("tls-key-file-pass", Str, "", Mutable),
    opt("tls-client-cert-file", Str, "", Mutable),
    opt("tls-client-key-file", Str, "", Mutable),
    opt("tls-client-key-file-pass", Str, "", Mutable),
    opt("tls-dh-params-file", Str, "", Mutable),
    opt("tls-ca-cert-file", Str, "", Mutable),
    opt("tls-ca-cert-dir", Str, "", Mutable),
    opt(
        "tls-auth-clients",
        Enum(&["no", "yes", "optional"]),
        "yes",
        Mutable,
    ),
    opt("tls-replication", Bool, "no", Mutable),
    opt("tls-cluster", Bool, "no", Mutable),
    opt("tls-protocols", Str, "", Mutable),
    opt("tls-ciphers", Str, "", Mutable),
    opt("tls-ciphersuites", Str, "", Mutable),
    opt("tls-prefer-server-ciphers", Bool, "no", Mutable),
    opt("tls-session-caching", Bool, "yes", Mutable),
    opt(
        "tls-session-cache-size",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "20480",
        Mutable,
    ),
    opt(
        "tls-session-cache-timeout",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "300",
        Mutable,
    ),
    // General
    opt("daemonize", Bool, "no", Immutable),
    opt("supervised", Enum(SUPERVISED), "no", Immutable),
    opt("pidfile", Str, "", Immutable),
    opt("loglevel", Enum(LOGLEVELS), "notice", Mutable),
    opt("logfile", Str, "", Immutable),
    opt("syslog-enabled", Bool, "no", Immutable),
    opt("syslog-ident", Str, "redis", Immutable),
    opt(
        "syslog-facility",
        Enum(&[
            "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
        ]),
        "local0",
        Immutable,
    ),
    opt("crash-log-enabled", Bool, "yes", Mutable),
    opt("crash-memcheck-enabled", Bool, "yes", Mutable),
    opt(
        "databases",
        Int {
            min: 1,
            max: INT_MAX,
        },
        "16",
        Immutable,
    ),
    opt("always-show-logo", Bool, "no", Immutable),
    opt("set-proc-title", Bool, "yes", Immutable),
    opt(
        "proc-title-template",
        Str,
        "{title} {listen-addr} {server-mode}",
        Mutable,
    ),
    opt("locale-collate", Str, "", Mutable),
    // Snapshotting
    opt("save", Save, "3600 1 300 100 60 10000", Mutable),
    opt("stop-writes-on-bgsave-error", Bool, "yes", Mutable),
    opt("rdbcompression", Bool, "yes", Mutable),
    opt("rdbchecksum", Bool, "yes", Immutable),
    opt("sanitize-dump-payload", Enum(SANITIZE), "no", Mutable),
    opt("dbfilename", Str, "dump.rdb", Protected),
    opt("rdb-del-sync-files", Bool, "no", Mutable),
    // Testing options (see `HIDDEN`): microseconds slept per key saved / loaded; a negative
    // -N sleeps one microsecond for one key in N.
    opt(
        "rdb-key-save-delay",
        Int {
            min: i32::MIN as i64,
            max: INT_MAX,
        },
        "0",
        Mutable,
    ),
    opt(
        "key-load-delay",
        Int {
            min: i32::MIN as i64,
            max: INT_MAX,
        },
        "0",
        Mutable,
    ),
    opt("dir", Str, "", Protected),
    // Replication: the replica side (replication/replica.rs); `replicaof` starts the link after
    // the data is loaded, and changes at runtime only through REPLICAOF, as in Redis.
    aliased("replicaof", "slaveof", ReplicaOf, "", Immutable),
    opt("masterauth", Str, "", Mutable),
    opt("masteruser", Str, "", Mutable),
    aliased(
        "replica-serve-stale-data",
        "slave-serve-stale-data",
        Bool,
        "yes",
        Mutable,
    ),
    aliased("replica-read-only", "slave-read-only", Bool, "yes", Mutable),
    opt("repl-diskless-sync", Bool, "yes", Mutable),
    opt(
        "repl-diskless-sync-delay",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "5",
        Mutable,
    ),
    opt(
        "repl-diskless-sync-max-replicas",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "0",
        Mutable,
    ),
    opt(
        "repl-diskless-load",
        Enum(&["disabled", "on-empty-db", "swapdb"]),
        "disabled",
        Mutable,
    ),
    aliased(
        "repl-ping-replica-period",
        "repl-ping-slave-period",
        Int {
            min: 1,
            max: INT_MAX,
        },
        "10",
        Mutable,
    ),
    opt(
        "repl-timeout",
        Int {
            min: 1,
            max: INT_MAX,
        },
        "60",
        Mutable,
    ),
    opt("repl-disable-tcp-nodelay", Bool, "no", Mutable),
    opt(
        "repl-backlog-size",
        Memory {
            min: 1,
            max: LONG_MAX as u64,
        },
        "1048576",
        Mutable,
    ),
    opt(
        "repl-backlog-ttl",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "3600",
        Mutable,
    ),
    aliased(
        "replica-priority",
        "slave-priority",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "100",
        Mutable,
    ),
    opt(
        "propagation-error-behavior",
        Enum(PROPAGATION_ERROR),
        "ignore",
        Mutable,
    ),
    opt("replica-ignore-disk-write-errors", Bool, "no", Mutable),
    opt("replica-announced", Bool, "yes", Mutable),
    aliased(
        "min-replicas-to-write",
        "min-slaves-to-write",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "0",
        Mutable,
    ),
    aliased(
        "min-replicas-max-lag",
        "min-slaves-max-lag",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "10",
        Mutable,
    ),
    aliased("replica-announce-ip", "slave-announce-ip", Str, "", Mutable),
    aliased(
        "replica-announce-port",
        "slave-announce-port",
        Int { min: 0, max: 65535 },
        "0",
        Mutable,
    ),
    aliased(
        "replica-lazy-flush",
        "slave-lazy-flush",
        Bool,
        "no",
        Mutable,
    ),
    // Keys tracking
    opt(
        "tracking-table-max-keys",
        Int {
            min: 0,
            max: LONG_MAX,
        },
        "1000000",
        Mutable,
    ),
    // Security
    opt(
        "acllog-max-len",
        Int {
            min: 0,
            max: LONG_MAX,
        },
        "128",
        Mutable,
    ),
    opt("aclfile", Str, "", Immutable),
    opt(
        "acl-pubsub-default",
        Enum(ACL_LOG),
        "resetchannels",
        Mutable,
    ),
    opt("requirepass", Str, "", Mutable),
    // Clients
    opt(
        "maxclients",
        Int {
            min: 1,
            max: u32::MAX as i64,
        },
        "10000",
        Mutable,
    ),
    // Memory management
    opt(
        "maxmemory",
        Memory {
            min: 0,
            max: u64::MAX,
        },
        "0",
        Mutable,
    ),
    opt("maxmemory-clients", MemoryOrPercent, "0", Mutable),
    opt("maxmemory-policy", Enum(POLICIES), "noeviction", Mutable),
    opt("maxmemory-samples", Int { min: 1, max: 64 }, "5", Mutable),
    opt(
        "maxmemory-eviction-tenacity",
        Int { min: 0, max: 100 },
        "10",
        Mutable,
    ),
    aliased(
        "replica-ignore-maxmemory",
        "slave-ignore-maxmemory",
        Bool,
        "yes",
        Mutable,
    ),
    opt(
        "active-expire-effort",
        Int { min: 1, max: 10 },
        "1",
        Mutable,
    ),
    // Lazy freeing
    opt("lazyfree-lazy-eviction", Bool, "no", Mutable),
    opt("lazyfree-lazy-expire", Bool, "no", Mutable),
    opt("lazyfree-lazy-server-del", Bool, "no", Mutable),
    opt("lazyfree-lazy-user-del", Bool, "no", Mutable),
    opt("lazyfree-lazy-user-flush", Bool, "no", Mutable),
    // Threaded I/O
    opt("io-threads", Int { min: 1, max: 128 }, "1", Immutable),
    opt("io-threads-do-reads", Bool, "no", Immutable),
    // Kernel OOM control
    opt("oom-score-adj", Enum(OOM_SCORE_ADJ), "no", Mutable),
    opt(
        "oom-score-adj-values",
        OomScoreAdjValues,
        "0 200 800",
        Mutable,
    ),
    opt("disable-thp", Bool, "yes", Immutable),
    // Append only mode
    opt("appendonly", Bool, "no", Mutable),
    opt("appendfilename", Str, "appendonly.aof", Immutable),
    opt("appenddirname", Str, "appendonlydir", Immutable),
    opt("appendfsync", Enum(FSYNC), "everysec", Mutable),
    opt("no-appendfsync-on-rewrite", Bool, "no", Mutable),
    opt(
        "auto-aof-rewrite-percentage",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "100",
        Mutable,
    ),
    opt(
        "auto-aof-rewrite-min-size",
        Memory {
            min: 0,
            max: LONG_MAX as u64,
        },
        "67108864",
        Mutable,
    ),
    opt("aof-load-truncated", Bool, "yes", Mutable),
    opt("aof-use-rdb-preamble", Bool, "yes", Mutable),
    opt("aof-timestamp-enabled", Bool, "no", Mutable),
    opt("aof-rewrite-incremental-fsync", Bool, "yes", Mutable),
    opt("rdb-save-incremental-fsync", Bool, "yes", Mutable),
    // Shutdown
    opt(
        "shutdown-timeout",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "10",
        Mutable,
    ),
    opt("shutdown-on-sigint", ShutdownFlags, "default", Mutable),
    opt("shutdown-on-sigterm", ShutdownFlags, "default", Mutable),
    // Lua
    aliased(
        "busy-reply-threshold",
        "lua-time-limit",
        Int {
            min: 0,
            max: LONG_MAX,
        },
        "5000",
        Mutable,
    ),
    // Cluster: an emulated cluster of one node owning every slot (cluster/, docs/scale-out.md)
    opt("cluster-enabled", Bool, "no", Immutable),
    opt("cluster-config-file", Str, "nodes.conf", Immutable),
    opt(
        "cluster-node-timeout",
        Int {
            min: 0,
            max: LONG_MAX,
        },
        "15000",
        Mutable,
    ),
    opt("cluster-port", Int { min: 0, max: 65535 }, "0", Immutable),
    aliased(
        "cluster-replica-validity-factor",
        "cluster-slave-validity-factor",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "10",
        Mutable,
    ),
    opt(
        "cluster-migration-barrier",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "1",
        Mutable,
    ),
    opt("cluster-allow-replica-migration", Bool, "yes", Mutable),
    opt("cluster-require-full-coverage", Bool, "yes", Mutable),
    aliased(
        "cluster-replica-no-failover",
        "cluster-slave-no-failover",
        Bool,
        "no",
        Mutable,
    ),
    opt("cluster-allow-reads-when-down", Bool, "no", Mutable),
    opt("cluster-allow-pubsubshard-when-down", Bool, "yes", Mutable),
    opt(
        "cluster-link-sendbuf-limit",
        Memory {
            min: 0,
            max: u64::MAX,
        },
        "0",
        Mutable,
    ),
    opt("cluster-announce-hostname", Str, "", Mutable),
    opt("cluster-announce-human-nodename", Str, "", Mutable),
    opt(
        "cluster-preferred-endpoint-type",
        Enum(&["ip", "hostname", "unknown-endpoint"]),
        "ip",
        Mutable,
    ),
    opt("cluster-announce-ip", Str, "", Mutable),
    opt(
        "cluster-announce-port",
        Int { min: 0, max: 65535 },
        "0",
        Mutable,
    ),
    opt(
        "cluster-announce-tls-port",
        Int { min: 0, max: 65535 },
        "0",
        Mutable,
    ),
    opt(
        "cluster-announce-bus-port",
        Int { min: 0, max: 65535 },
        "0",
        Mutable,
    ),
    // Slow log and latency
    opt(
        "slowlog-log-slower-than",
        Int {
            min: -1,
            max: LONG_MAX,
        },
        "10000",
        Mutable,
    ),
    opt(
        "slowlog-max-len",
        Int {
            min: 0,
            max: LONG_MAX,
        },
        "128",
        Mutable,
    ),
    opt(
        "latency-monitor-threshold",
        Int {
            min: 0,
            max: LONG_MAX,
        },
        "0",
        Mutable,
    ),
    opt("latency-tracking", Bool, "yes", Mutable),
    opt(
        "latency-tracking-info-percentiles",
        Percentiles,
        LATENCY_TRACKING_DEFAULT,
        Mutable,
    ),
    // Event notification
    opt("notify-keyspace-events", NotifyEvents, "", Mutable),
    // Advanced config (accepted, no effect on our encodings)
    aliased(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        Int {
            min: 0,
            max: LONG_MAX,
        },
        "512",
        Mutable,
    ),
    aliased(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        Memory {
            min: 0,
            max: LONG_MAX as u64,
        },
        "64",
        Mutable,
    ),
    aliased(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        Int {
            min: i32::MIN as i64,
            max: INT_MAX,
        },
        "-2",
        Mutable,
    ),
    opt(
        "list-compress-depth",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "0",
        Mutable,
    ),
    opt(
        "set-max-intset-entries",
        Int {
            min: 0,
            max: LONG_MAX,
        },
        "512",
        Mutable,
    ),
    opt(
        "set-max-listpack-entries",
        Int {
            min: 0,
            max: LONG_MAX,
        },
        "128",
        Mutable,
    ),
    opt(
        "set-max-listpack-value",
        Int {
            min: 0,
            max: LONG_MAX,
        },
        "64",
        Mutable,
    ),
    aliased(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        Int {
            min: 0,
            max: LONG_MAX,
        },
        "128",
        Mutable,
    ),
    aliased(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        Memory {
            min: 0,
            max: LONG_MAX as u64,
        },
        "64",
        Mutable,
    ),
    opt(
        "hll-sparse-max-bytes",
        Memory {
            min: 0,
            max: LONG_MAX as u64,
        },
        "3000",
        Mutable,
    ),
    opt(
        "stream-node-max-bytes",
        Memory {
            min: 0,
            max: LONG_MAX as u64,
        },
        "4096",
        Mutable,
    ),
    opt(
        "stream-node-max-entries",
        Int {
            min: 0,
            max: LONG_MAX,
        },
        "100",
        Mutable,
    ),
    opt("activerehashing", Bool, "yes", Mutable),
    opt(
        "client-output-buffer-limit",
        ClientOutputBufferLimit,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Mutable,
    ),
    opt(
        "client-query-buffer-limit",
        Memory {
            min: 1024 * 1024,
            max: LONG_MAX as u64,
        },
        "1073741824",
        Mutable,
    ),
    opt(
        "proto-max-bulk-len",
        Memory {
            min: 1024 * 1024,
            max: LONG_MAX as u64,
        },
        "536870912",
        Mutable,
    ),
    opt(
        "hz",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "10",
        Mutable,
    ),
    opt("dynamic-hz", Bool, "yes", Mutable),
    opt(
        "lfu-log-factor",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "10",
        Mutable,
    ),
    opt(
        "lfu-decay-time",
        Int {
            min: 0,
            max: INT_MAX,
        },
        "1",
        Mutable,
    ),
    // Active defragmentation (accepted, no effect)
    opt("activedefrag", Bool, "no", Mutable),
    opt(
        "active-defrag-ignore-bytes",
        Memory {
            min: 1,
            max: LONG_MAX as u64,
        },
        "104857600",
        Mutable,
    ),
    opt(
        "active-defrag-threshold-lower",
        Int { min: 0, max: 1000 },
        "10",
        Mutable,
    ),
    opt(
        "active-defrag-threshold-upper",
        Int { min: 0, max: 1000 },
        "100",
        Mutable,
    ),
    opt(
        "active-defrag-cycle-min",
        Int { min: 1, max: 99 },
        "1",
        Mutable,
    ),
    opt(
        "active-defrag-cycle-max",
        Int { min: 1, max: 99 },
        "25",
        Mutable,
    ),
    opt(
        "active-defrag-max-scan-fields",
        Int {
            min: 1,
            max: LONG_MAX,
        },
        "1000",
        Mutable,
    ),
    opt("jemalloc-bg-thread", Bool, "yes", Mutable),
    opt("server_cpulist", Str, "", Immutable),
    opt("bio_cpulist", Str, "", Immutable),
    opt("aof_rewrite_cpulist", Str, "", Immutable),
    opt("bgsave_cpulist", Str, "", Immutable),
    opt("ignore-warnings", Str, "", Mutable),
    opt(
        "max-new-connections-per-cycle",
        Int { min: 1, max: 1000 },
        "10",
        Mutable,
    ),
    opt(
        "max-new-tls-connections-per-cycle",
        Int { min: 1, max: 1000 },
        "1",
        Mutable,
    ),
    opt("aof-disable-auto-gc", Bool, "no", Mutable),
    // Beyond Redis: keyspace hits and misses per key prefix (keyspace/prefix_stats.rs).
    opt("keyspace-stats-prefixes", Str, "", Mutable),
    opt("keyspace-stats-separator", Str, "", Mutable),
    // Beyond Redis: eviction tiers, keys evicted before any other (keyspace/evict_tiers.rs).
    opt("maxmemory-evict-first", Str, "", Mutable),
    // Beyond Redis: the Prometheus endpoint (net/metrics.rs); port 0 = off.
    opt("metrics-port", Int { min: 0, max: 65535 }, "0", Immutable),
    opt("metrics-bind", Str, "127.0.0.1", Immutable),
    // Beyond Redis: the memcached text protocol (memcache/, net/memcache.rs); port 0 = off.
    // How plain TCP connections are served (ferrocache only; net/event_loop.rs): on tokio's
    // tasks, or on epoll threads that hand a connection to tokio when it must wait.
    opt("event-loop", Enum(&["tokio", "epoll"]), "tokio", Immutable),
    opt("memcached-port", Int { min: 0, max: 65535 }, "0", Immutable),
    opt(
        "memcached-db",
        Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "0",
        Immutable,
    ),
    opt(
        "memcached-max-item-size",
        Memory {
            min: 1024,
            max: 1024 * 1024 * 1024,
        },
        "1048576",
        Immutable,
    ),
    // The memcached protocol has no authentication: serving it while the default user needs a
    // password is an explicit choice (memcached clients reach memcached-db only).
    opt("memcached-allow-unauthenticated", Bool, "no", Immutable),
    // The memcached listener speaks TLS with the server's TLS context (the tls-* options, as
    // for tls-port); start-up fails when no context can be built or memcached-port is 0.
    opt("memcached-tls", Bool, "no", Immutable),
];

/// Options Redis 7.2 still accepts in a config file (with one argument) and ignores.
pub(super) const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

/// Options whose value would change the node's role or where writes are allowed, which this
/// server cannot honour: (option, the values refused in words, why). Start-up and CONFIG SET
/// refuse them with a message naming the option (see `refusal`) rather than run as something
/// else than asked.
/// None today: replication and cluster mode work; the table stays for options that cannot.
pub const REFUSED: &[(&str, &str, &str)] = &[];

/// Why `value` (canonical form) of option `name` is refused, if it is: the message names the
/// option, the value and the reason.
pub fn refusal(name: &str, value: &str) -> Option<String> {
    let (_, _, why) = REFUSED.iter().find(|(n, _, _)| *n == name)?;
    Some(format!("'{name} {value}' is not supported: {why}"))
}

pub fn find_option(name: &str) -> Option<&'static OptionSpec> {
    let name = name.to_ascii_lowercase();
    OPTIONS
        .iter()
        .find(|o| o.name == name || o.alias == Some(name.as_str()))
}
