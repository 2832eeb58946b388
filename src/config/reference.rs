//! The configuration reference of docs/operations.md, rendered from the option table so the
//! document cannot drift from what the server accepts (a unit test compares the two).

use super::options::{Kind, Mutability, OptionSpec, OPTIONS, REFUSED};
use std::fmt::Write;

/// Options accepted for redis.conf compatibility that change nothing here, matched by exact
/// name or by a prefix ending in `-`, with the reason shown in the reference.
const NO_EFFECT: &[(&str, &str)] = &[
    (
        "cluster-node-timeout",
        "no other node to time out (emulated one-node cluster, docs/scale-out.md)",
    ),
    ("cluster-replica-validity-factor", "no failover"),
    ("cluster-migration-barrier", "no replica migration"),
    ("cluster-allow-replica-migration", "no replica migration"),
    (
        "cluster-require-full-coverage",
        "this node owns every slot: coverage is always full",
    ),
    ("cluster-replica-no-failover", "no failover"),
    (
        "cluster-allow-reads-when-down",
        "the one-node cluster is never down",
    ),
    (
        "cluster-allow-pubsubshard-when-down",
        "the one-node cluster is never down",
    ),
    ("cluster-link-sendbuf-limit", "no cluster bus links"),
    ("cluster-announce-human-nodename", "no cluster bus"),
    (
        "cluster-announce-tls-port",
        "CLUSTER SLOTS/NODES announce the plaintext port",
    ),
    ("tls-cluster", "no cluster bus"),
    (
        "tls-dh-params-file",
        "no finite-field DHE suites (rustls negotiates ECDHE only)",
    ),
    (
        "tls-client-",
        "checked when set (a bad file is refused); no outgoing link uses it yet",
    ),
    (
        "repl-diskless-load",
        "a replica always receives the RDB of a full resync to disk, then loads it (`disabled`)",
    ),
    (
        "replica-lazy-flush",
        "the flush before a full resync frees values where they are deleted",
    ),
    (
        "replica-ignore-disk-write-errors",
        "while persistence fails, the primary's writes are refused like a client's and logged",
    ),
    (
        "propagation-error-behavior",
        "an error in the primary's stream is logged and ignored (`ignore`)",
    ),
    (
        "repl-diskless-sync-max-replicas",
        "each replica's full sync takes its own snapshot at once",
    ),
    (
        "repl-disable-tcp-nodelay",
        "replica links keep the socket options of every client",
    ),
    ("activedefrag", "no active defragmenter"),
    ("active-defrag-", "no active defragmenter"),
    (
        "jemalloc-bg-thread",
        "allocator threads are jemalloc's defaults",
    ),
    ("lazyfree-", "values are freed where they are deleted"),
    (
        "io-threads",
        "every core serves clients already (tokio workers)",
    ),
    (
        "io-threads-do-reads",
        "every core serves clients already (tokio workers)",
    ),
    ("server_cpulist", "no CPU pinning; use taskset"),
    ("bio_cpulist", "no CPU pinning; use taskset"),
    ("aof_rewrite_cpulist", "no CPU pinning; use taskset"),
    ("bgsave_cpulist", "no CPU pinning; use taskset"),
    (
        "daemonize",
        "always runs in the foreground (containers, systemd Type=simple)",
    ),
    ("supervised", "always runs in the foreground"),
    ("pidfile", "no pid file is written"),
    ("syslog-", "logs go to stdout or `logfile`"),
    ("set-proc-title", "the process title is not changed"),
    ("proc-title-template", "the process title is not changed"),
    ("always-show-logo", "no ASCII-art logo"),
    (
        "crash-log-enabled",
        "a panic prints Rust's message and backtrace",
    ),
    (
        "crash-memcheck-enabled",
        "a panic prints Rust's message and backtrace",
    ),
    (
        "disable-thp",
        "transparent huge pages are left as the system sets them",
    ),
    (
        "oom-score-adj",
        "the OOM score is left as the system sets it",
    ),
    (
        "oom-score-adj-values",
        "the OOM score is left as the system sets it",
    ),
    ("bind-source-addr", "no outgoing connections"),
    ("activerehashing", "tables grow incrementally by design"),
    ("dynamic-hz", "background work is not tied to `hz`"),
    (
        "max-new-connections-per-cycle",
        "connections are accepted as they come",
    ),
    (
        "max-new-tls-connections-per-cycle",
        "TLS connections are accepted as they come",
    ),
    ("enable-module-command", "no modules"),
    ("list-compress-depth", "list nodes are not compressed"),
    ("locale-collate", "strings compare as bytes"),
    (
        "sanitize-dump-payload",
        "RESTORE payloads are always checked in full",
    ),
    (
        "shutdown-timeout",
        "shutdown does not wait for replicas to catch up",
    ),
    ("ignore-warnings", "no startup warnings to silence"),
    (
        "aof-disable-auto-gc",
        "old AOF files are removed after every rewrite",
    ),
    (
        "aof-rewrite-incremental-fsync",
        "the rewritten file is fsynced once",
    ),
    (
        "rdb-save-incremental-fsync",
        "the dump is fsynced once, at the end",
    ),
    (
        "rdb-del-sync-files",
        "the RDB of a full resync stays as `dbfilename`",
    ),
    (
        "no-appendfsync-on-rewrite",
        "fsync never waits on a rewrite here",
    ),
    (
        "aof-timestamp-enabled",
        "`#TS:` lines are read, never written",
    ),
    (
        "active-expire-effort",
        "the expiry cycle's budget is fixed at Redis's default (docs/expiry.md)",
    ),
];

/// What to know about options that work, beyond "honoured".
const NOTES: &[(&str, &str)] = &[
    (
        "replicaof",
        "at start-up; at runtime through REPLICAOF (as in Redis); see Replication below",
    ),
    ("masterauth", "AUTH on the link to the primary"),
    (
        "masteruser",
        "AUTH on the link to the primary, with masterauth",
    ),
    (
        "replica-priority",
        "reported in INFO for Sentinel; nothing else reads it",
    ),
    ("replica-announced", "reported in INFO for Sentinel"),
    (
        "replica-announce-ip",
        "sent to the primary as REPLCONF ip-address",
    ),
    (
        "replica-announce-port",
        "sent to the primary as REPLCONF listening-port",
    ),
    (
        "tls-replication",
        "`yes` stops start-up with `replicaof` and makes REPLICAOF fail: the link to a primary is plaintext TCP",
    ),
    (
        "repl-timeout",
        "the link is dropped after this long without data or PING from the primary",
    ),
    (
        "cluster-enabled",
        "emulated cluster: this node owns all 16384 slots (docs/scale-out.md)",
    ),
    (
        "cluster-config-file",
        "keeps the node id (nodes.conf format, relative to `dir`)",
    ),
    (
        "cluster-port",
        "shown as the bus port in CLUSTER NODES; no bus listens",
    ),
    (
        "cluster-announce-ip",
        "in CLUSTER SLOTS/SHARDS/NODES (default: the address the client reached)",
    ),
    (
        "cluster-announce-port",
        "in CLUSTER SLOTS/SHARDS/NODES (default: `port`)",
    ),
    ("cluster-announce-bus-port", "shown in CLUSTER NODES"),
    ("cluster-announce-hostname", "in CLUSTER SLOTS/SHARDS/NODES"),
    (
        "cluster-preferred-endpoint-type",
        "picks CLUSTER SLOTS's endpoint",
    ),
    (
        "port",
        "0 = no plaintext listener; CONFIG SET rebinds at once",
    ),
    ("bind", "CONFIG SET rebinds at once"),
    (
        "tls-port",
        "0 = no TLS listener; CONFIG SET rebinds at once",
    ),
    ("unixsocket", "not settable at runtime, as in Redis"),
    ("tls-key-file-pass", "decrypts PKCS#8 keys"),
    (
        "tls-ca-cert-dir",
        "every certificate file in the directory is trusted",
    ),
    (
        "tls-protocols",
        "TLSv1.2, TLSv1.3; TLSv1 and TLSv1.1 are refused",
    ),
    (
        "tls-ciphers",
        "the TLSv1.2 ECDHE AES-GCM / ChaCha20 suites; a list selecting none is refused",
    ),
    (
        "tls-ciphersuites",
        "TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256",
    ),
];

/// Why some values of `name` are refused (start-up and CONFIG SET), if any are.
fn refused(name: &str) -> Option<String> {
    REFUSED
        .iter()
        .find(|(option, _, _)| *option == name)
        .map(|(_, values, why)| format!("{values} is refused: {why}"))
}

/// Why `name` has no effect here, if it has none.
fn no_effect(name: &str) -> Option<&'static str> {
    NO_EFFECT
        .iter()
        .find(|(key, _)| {
            if key.ends_with('-') {
                name.starts_with(key)
            } else {
                name == *key
            }
        })
        .map(|(_, why)| *why)
}

/// The values an option takes, in words.
fn values(kind: &Kind) -> String {
    match kind {
        Kind::Bool => "yes, no".into(),
        Kind::Int { min, max } => format!("integer {min} .. {}", bound(*max)),
        Kind::Octal { max } => format!("octal, up to {max:o}"),
        Kind::Memory { min, max } => {
            let max = i64::try_from(*max).map_or("unbounded".into(), bound);
            format!("bytes ({min} .. {max}; units k, kb, m, mb, g, gb)")
        }
        Kind::MemoryOrPercent => "bytes or a percentage of maxmemory (`10%`)".into(),
        Kind::Enum(names) => names.join(", "),
        Kind::ShutdownFlags => "default, or any of save, nosave, now, force".into(),
        Kind::Str => "string".into(),
        Kind::Save => "pairs of `seconds changes`, or \"\" to disable".into(),
        Kind::ClientOutputBufferLimit => "`class hard soft seconds`, repeated".into(),
        Kind::NotifyEvents => "event class letters (`KEA`, `Ex`, ...)".into(),
        Kind::OomScoreAdjValues => "three integers".into(),
        Kind::Percentiles => "decimal percentiles".into(),
        Kind::Bind => "up to 16 addresses, `-` prefix for optional ones".into(),
        Kind::ReplicaOf => "`host port` or `no one`".into(),
    }
}

fn bound(n: i64) -> String {
    match n {
        i64::MAX => "2^63-1".into(),
        n if n == i32::MAX as i64 => "2^31-1".into(),
        n if n == u32::MAX as i64 => "2^32-1".into(),
        n => n.to_string(),
    }
}

fn runtime(option: &OptionSpec) -> &'static str {
    match option.mutability {
        Mutability::Mutable => "yes",
        Mutability::Immutable => "no",
        Mutability::Protected => "protected",
    }
}

/// Markdown cells must not contain a bare `|`.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The reference table: one row per option, in the table's (redis.conf's) order.
pub fn render() -> String {
    let mut out = String::from(
        "| Option | Default | CONFIG SET | Values | Status | In ferrocache |\n|---|---|---|---|---|---|\n",
    );
    for option in OPTIONS {
        let name = match option.alias {
            Some(alias) => format!("`{}` (alias `{alias}`)", option.name),
            None => format!("`{}`", option.name),
        };
        let default = if option.default.is_empty() {
            "\"\"".to_string()
        } else {
            format!("`{}`", option.default)
        };
        // An option either works, is refused where it cannot be honoured (it would change who
        // can connect, where data goes or the node's role), or only tunes internals (inert).
        let (status, effect) = match (refused(option.name), no_effect(option.name)) {
            (Some(why), _) => ("refused", why),
            (None, Some(why)) => ("inert", format!("accepted, no effect: {why}")),
            (None, None) => (
                "works",
                match NOTES.iter().find(|(n, _)| *n == option.name) {
                    Some((_, note)) => format!("honoured: {note}"),
                    None => "honoured".to_string(),
                },
            ),
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {status} | {} |",
            cell(&default),
            runtime(option),
            cell(&values(&option.kind)),
            cell(&effect)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- config-reference:begin (generated by src/config/reference.rs) -->\n";
    const END: &str = "<!-- config-reference:end -->";

    /// docs/operations.md carries the rendered table between two markers. With
    /// `UPDATE_DOCS=1` the test rewrites it instead of comparing.
    #[test]
    fn operations_doc_matches_the_option_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md");
        let doc = std::fs::read_to_string(path).expect("docs/operations.md");
        let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
        let end = doc.find(END).expect("end marker");
        let fresh = render();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            let updated = format!("{}{fresh}{}", &doc[..start], &doc[end..]);
            std::fs::write(path, updated).expect("write docs/operations.md");
            return;
        }
        assert!(
            doc[start..end] == fresh,
            "docs/operations.md's configuration reference is stale: run \
             `UPDATE_DOCS=1 cargo test --lib config::reference` and commit the result"
        );
    }

    #[test]
    fn every_no_effect_entry_names_an_option() {
        for (key, _) in NO_EFFECT.iter().chain(NOTES) {
            assert!(
                OPTIONS.iter().any(|o| if key.ends_with('-') {
                    o.name.starts_with(key)
                } else {
                    o.name == *key
                }),
                "{key} matches no option"
            );
        }
    }
}
