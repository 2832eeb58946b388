//! Configuration: the table of redis.conf options, parsing of config files and `--name value`
//! arguments with redis-server's syntax and precedence, and the live store behind CONFIG GET/SET.
//!
//! Every option is declared once in `OPTIONS` (name, kind, default, whether CONFIG SET may change
//! it). Values are kept in their canonical text form (what CONFIG GET prints: memory sizes in
//! bytes, booleans as yes/no); typed getters parse them. Options that only tune Redis internals
//! are accepted and reported but have no effect (docs/compatibility.md lists them).

use crate::error::ServerError;
use crate::protocol::request::split_args;

mod options;
pub mod reference;
mod values;
pub use options::*;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicU8, Ordering};
pub use values::{normalize, notify_flags, parse_memory};

/// Environment variable naming a config file loaded before the user's file and options.
pub const BASE_CONFIG_ENV: &str = "FERROCACHE_BASE_CONFIG";

/// True for a first argument that names the server program rather than a config file.
fn is_program_name(arg: &str) -> bool {
    let name = std::path::Path::new(arg)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    matches!(name, "redis-server" | "ferrocache")
}

/// Why `ferrocache --sentinel` does not start: the data nodes are ferrocache, the monitors are
/// redis-sentinel (see docs/operations.md, Sentinel).
pub const SENTINEL_MODE_REFUSED: &str = "ferrocache does not run in Sentinel mode (--sentinel): \
run redis-sentinel to monitor ferrocache primaries and replicas";

/// The Redis version we report (INFO redis_version, HELLO version, LOLWUT, config errors, the
/// RDB `redis-ver` field): 7.4.2, the 7.4 release whose hash field expiration we implement
/// (the rest of the command set is Redis 7.2's, see docs/compatibility.md). Clients gate
/// features on it: redis-py starts its client-side cache only for 7.4 or later.
pub const REDIS_VERSION: &str = "7.4.2";

/// Values read on hot paths, mirrored into atomics whenever the option changes.
#[derive(Debug, Default)]
pub struct HotConfig {
    pub maxmemory: AtomicU64,
    /// maxmemory-policy (its position in `POLICIES`, see `maxmemory_policy_name`), -samples and
    /// -eviction-tenacity: read by every command that has to evict.
    pub maxmemory_policy: AtomicU8,
    pub maxmemory_samples: AtomicU64,
    pub maxmemory_eviction_tenacity: AtomicI64,
    pub proto_max_bulk_len: AtomicI64,
    pub client_query_buffer_limit: AtomicU64,
    pub maxclients: AtomicU64,
    pub timeout_secs: AtomicU64,
    pub hz: AtomicU64,
    pub slowlog_slower_than_us: AtomicI64,
    /// notify-keyspace-events as flag bits (see `notify_flags`).
    pub notify_keyspace_events: AtomicU32,
    /// client-output-buffer-limit for the pubsub class: hard bytes, soft bytes, soft seconds.
    pub pubsub_obuf_limits: [AtomicU64; 3],
    /// client-output-buffer-limit for the normal class.
    pub normal_obuf_limits: [AtomicU64; 3],
    /// zset-max-listpack-entries / zset-max-listpack-value (the sorted-set encoding names).
    pub zset_max_listpack_entries: AtomicU64,
    pub zset_max_listpack_value: AtomicU64,
    /// hash-max-listpack-entries / -value and set-max-intset-entries / set-max-listpack-entries
    /// / -value (the hash and set encoding names).
    pub hash_max_listpack_entries: AtomicU64,
    pub hash_max_listpack_value: AtomicU64,
    pub set_max_intset_entries: AtomicU64,
    pub set_max_listpack_entries: AtomicU64,
    pub set_max_listpack_value: AtomicU64,
    /// rdb-key-save-delay / key-load-delay: microseconds per key (see `rdb::debug_delay`).
    pub rdb_key_save_delay: AtomicI64,
    pub key_load_delay: AtomicI64,
    /// stream-node-max-entries / stream-node-max-bytes (when a stream starts a new block).
    pub stream_node_max_entries: AtomicU64,
    pub stream_node_max_bytes: AtomicU64,
    /// min-replicas-to-write: read by every write (replication::primary::write_refusal).
    pub min_replicas_to_write: AtomicI64,
}

/// The live configuration.
pub struct Config {
    values: RwLock<BTreeMap<&'static str, String>>,
    /// `rename-command` directives, applied to the command table at start-up.
    pub renamed_commands: Vec<(String, String)>,
    /// Where each `rename-command` came from (line number, line), for start-up errors.
    pub renamed_at: Vec<(usize, String)>,
    /// redis.conf `user` lines (the words after `user`), applied by `acl::load_at_startup`.
    pub user_lines: Vec<Vec<String>>,
    /// The config file given on the command line (CONFIG REWRITE target, INFO config_file), as
    /// an absolute path.
    pub config_file: Option<String>,
    pub hot: HotConfig,
}

impl Default for Config {
    fn default() -> Self {
        let mut values: BTreeMap<&'static str, String> = OPTIONS
            .iter()
            .map(|o| (o.name, o.default.to_string()))
            .collect();
        // Like Redis, `dir` reports the working directory the server started in.
        let cwd = std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        values.insert("dir", cwd);
        let config = Config {
            values: RwLock::new(values),
            renamed_commands: Vec::new(),
            renamed_at: Vec::new(),
            user_lines: Vec::new(),
            config_file: None,
            hot: HotConfig::default(),
        };
        config.refresh_hot();
        config
    }
}

/// The maxmemory-policy whose code `HotConfig::maxmemory_policy` holds.
pub fn maxmemory_policy_name(code: u8) -> &'static str {
    POLICIES
        .get(usize::from(code))
        .copied()
        .unwrap_or("noeviction")
}

/// A configuration error in redis-server's format.
pub fn fatal(line_no: usize, line: &str, reason: &str) -> ServerError {
    ServerError::Config(format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\nReading the configuration file, at line {line_no}\n>>> '{line}'\n{reason}"
    ))
}

/// An I/O error's text as C's `strerror` gives it (no " (os error N)" suffix).
pub fn strerror(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

impl Config {
    /// Builds the configuration from redis-server-style arguments: an optional config file
    /// path (or `-` for stdin) first, then `--name value ...` options that override it.
    pub fn from_args(args: &[String]) -> Result<Config, ServerError> {
        // `redis-server /etc/redis.conf` and `ferrocache --port 1` as container commands: a
        // leading program name is not a config file.
        // A server started as a Sentinel (`--sentinel`, or a binary named redis-sentinel) would
        // otherwise come up as a data node nobody asked for: refuse, pointing at redis-sentinel.
        let invoked_as_sentinel = args.first().is_some_and(|first| {
            std::path::Path::new(first).file_name() == Some("redis-sentinel".as_ref())
        });
        if invoked_as_sentinel || args.iter().any(|arg| arg == "--sentinel") {
            return Err(ServerError::Config(SENTINEL_MODE_REFUSED.to_string()));
        }
        let args = match args.first() {
            Some(first) if is_program_name(first) => &args[1..],
            _ => args,
        };
        let mut text = String::new();
        let mut rest = args;
        let mut config_file = None;
        if let Some(first) = args.first() {
            if !first.starts_with("--") {
                if first == "-" {
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
                } else {
                    let path = std::path::absolute(first)
                        .unwrap_or_else(|_| first.into())
                        .display()
                        .to_string();
                    text = std::fs::read_to_string(first).map_err(|e| {
                        ServerError::Config(format!(
                            "Fatal error, can't open config file '{path}': {}",
                            strerror(&e)
                        ))
                    })?;
                    config_file = Some(path);
                }
                rest = &args[1..];
            }
        }
        // Like redis-server: each `--name` starts a new line, following words are its arguments,
        // each quoted; the options are appended after a newline.
        let mut options = String::new();
        for arg in rest {
            if let Some(name) = arg.strip_prefix("--") {
                if !options.is_empty() {
                    options.push('\n');
                }
                options.push_str(name);
            } else {
                if options.is_empty() {
                    return Err(ServerError::Config(format!(
                        "Invalid option '{arg}': options must start with '--'"
                    )));
                }
                options.push(' ');
                options.push_str(&repr(arg));
            }
        }
        if !options.is_empty() {
            text.push('\n');
            text.push_str(&options);
        }
        let mut config = Config {
            config_file,
            ..Config::default()
        };
        // Defaults of a packaging (the container image sets protected-mode no, dir /data),
        // below the user's config file and options.
        if let Ok(base) = std::env::var(BASE_CONFIG_ENV) {
            let base_text = std::fs::read_to_string(&base).map_err(|e| {
                ServerError::Config(format!(
                    "Fatal error, can't open config file '{base}': {}",
                    strerror(&e)
                ))
            })?;
            config.load_text(&base_text)?;
        }
        config.load_text(&text)?;
        Ok(config)
    }

    /// Applies config-file text, line by line.
    pub fn load_text(&mut self, text: &str) -> Result<(), ServerError> {
        let mut save_seen = false;
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.trim_matches([' ', '\t', '\r', '\n']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: &str| fatal(i + 1, line, reason);
            let words = split_args(line.as_bytes())
                .ok_or_else(|| err("Unbalanced quotes in configuration line"))?;
            let words: Vec<String> = words
                .into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect();
            let Some((name, args)) = words.split_first() else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            if let Some(spec) = find_option(&name) {
                if !spec.kind.is_multi_arg() && args.len() != 1 {
                    return Err(err("wrong number of arguments"));
                }
                // A multi-argument option given as one non-empty argument (`--client-output-
                // buffer-limit "normal 0 0 0 pubsub ..."`) is split like a config line, as Redis.
                let split: Vec<String>;
                let args = match args {
                    [one] if spec.kind.is_multi_arg() && !one.is_empty() => {
                        split = crate::protocol::request::split_args(one.as_bytes())
                            .ok_or_else(|| err("Unbalanced quotes in configuration line"))?
                            .into_iter()
                            .map(|w| String::from_utf8_lossy(&w).into_owned())
                            .collect();
                        &split[..]
                    }
                    _ => args,
                };
                // `save` lines accumulate in a file; the first one replaces the default.
                let args: Vec<String> = if matches!(spec.kind, Kind::Save)
                    && save_seen
                    && !(args.len() == 1 && args[0].is_empty())
                {
                    let mut all: Vec<String> = self
                        .get(spec.name)
                        .split_whitespace()
                        .map(String::from)
                        .collect();
                    all.extend(args.iter().cloned());
                    all
                } else {
                    args.to_vec()
                };
                save_seen |= matches!(spec.kind, Kind::Save);
                let current = self.get(spec.name);
                let mut value = normalize(spec, &args, &current).map_err(|reason| err(&reason))?;
                if let Some(reason) = refusal(spec.name, &value) {
                    return Err(err(&reason));
                }
                if spec.name == "dir" {
                    value = std::fs::canonicalize(&value)
                        .and_then(|p| {
                            if p.is_dir() {
                                Ok(p)
                            } else {
                                Err(std::io::Error::from_raw_os_error(20))
                            }
                        })
                        .map_err(|e| err(&strerror(&e)))?
                        .display()
                        .to_string();
                }
                self.values.write().insert(spec.name, value);
                continue;
            }
            if DEPRECATED.contains(&name.as_str()) && args.len() == 1 {
                continue;
            }
            match name.as_str() {
                "rename-command" if args.len() == 2 => {
                    self.renamed_commands
                        .push((args[0].to_ascii_lowercase(), args[1].clone()));
                    self.renamed_at.push((i + 1, line.to_string()));
                }
                "include" if args.len() == 1 => {
                    let included = std::fs::read_to_string(&args[0]).map_err(|e| {
                        err(&format!(
                            "Fatal error, can't open config file '{}': {}",
                            args[0],
                            strerror(&e)
                        ))
                    })?;
                    self.load_text(&included)?;
                }
                "user" if !args.is_empty() => self.user_lines.push(args.to_vec()),
                "loadmodule" if !args.is_empty() => {}
                "sentinel" if args.is_empty() => {}
                "sentinel" => return Err(err("sentinel directive while not in sentinel mode")),
                _ => return Err(err("Bad directive or wrong number of arguments")),
            }
        }
        self.refresh_hot();
        Ok(())
    }

    pub fn get(&self, name: &str) -> String {
        let spec = find_option(name).unwrap_or_else(|| panic!("unknown option {name}"));
        self.values
            .read()
            .get(spec.name)
            .cloned()
            .unwrap_or_default()
    }

    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// Sets one option from CONFIG SET words; `Err` carries Redis's reason text.
    pub fn set(&self, spec: &'static OptionSpec, args: &[String]) -> Result<(), String> {
        self.set_many(&[(spec, args.to_vec())])
            .map_err(|(_, reason)| reason)
    }

    /// Sets several options atomically: every value is validated before any is stored. On
    /// failure returns the index of the offending pair and Redis's reason.
    pub fn set_many(
        &self,
        changes: &[(&'static OptionSpec, Vec<String>)],
    ) -> Result<(), (usize, String)> {
        {
            let mut values = self.values.write();
            let mut staged = Vec::with_capacity(changes.len());
            for (i, (spec, args)) in changes.iter().enumerate() {
                let current = values.get(spec.name).map(String::as_str).unwrap_or("");
                let value = normalize(spec, args, current).map_err(|reason| (i, reason))?;
                if let Some(reason) = refusal(spec.name, &value) {
                    return Err((i, reason));
                }
                staged.push((spec.name, value));
            }
            for (name, value) in staged {
                values.insert(name, value);
            }
        }
        self.refresh_hot();
        Ok(())
    }

    /// Puts back values saved with `get` before a `set_many` whose effects could not be
    /// applied (a port that cannot be bound, a TLS file that does not load).
    pub fn restore(&self, saved: &[(&'static str, String)]) {
        {
            let mut values = self.values.write();
            for (name, value) in saved {
                values.insert(name, value.clone());
            }
        }
        self.refresh_hot();
    }

    /// Options whose name (or alias) matches a glob pattern, as (name matched, value), in table
    /// order. An exact name (no glob characters) is reported under the name asked for.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        let values = self.values.read();
        let value_of = |spec: &OptionSpec| values.get(spec.name).cloned().unwrap_or_default();
        if !pattern.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
            let name = String::from_utf8_lossy(pattern).into_owned();
            return match find_option(&name) {
                Some(spec) => vec![(name, value_of(spec))],
                None => Vec::new(),
            };
        }
        OPTIONS
            .iter()
            .filter(|o| !options::HIDDEN.contains(&o.name))
            .flat_map(|o| std::iter::once((o.name, o)).chain(o.alias.map(|a| (a, o))))
            .filter(|(name, _)| crate::glob::glob_match(pattern, name.as_bytes(), true))
            .map(|(name, spec)| (name.to_string(), value_of(spec)))
            .collect()
    }

    /// Every option with its current value, in table order (CONFIG REWRITE).
    pub fn snapshot(&self) -> Vec<(&'static OptionSpec, String)> {
        let values = self.values.read();
        OPTIONS
            .iter()
            .map(|o| (o, values.get(o.name).cloned().unwrap_or_default()))
            .collect()
    }

    fn refresh_hot(&self) {
        let v = self.values.read();
        let num = |name: &str| v.get(name).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        let hot = &self.hot;
        hot.maxmemory.store(
            v.get("maxmemory")
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0),
            Ordering::Relaxed,
        );
        let policy = v.get("maxmemory-policy").map_or("", String::as_str);
        hot.maxmemory_policy.store(
            POLICIES.iter().position(|p| *p == policy).unwrap_or(0) as u8,
            Ordering::Relaxed,
        );
        hot.maxmemory_samples.store(
            num("maxmemory-samples").clamp(1, 64) as u64,
            Ordering::Relaxed,
        );
        hot.maxmemory_eviction_tenacity
            .store(num("maxmemory-eviction-tenacity"), Ordering::Relaxed);
        hot.proto_max_bulk_len
            .store(num("proto-max-bulk-len"), Ordering::Relaxed);
        hot.rdb_key_save_delay
            .store(num("rdb-key-save-delay"), Ordering::Relaxed);
        hot.key_load_delay
            .store(num("key-load-delay"), Ordering::Relaxed);
        hot.client_query_buffer_limit.store(
            num("client-query-buffer-limit").max(0) as u64,
            Ordering::Relaxed,
        );
        hot.maxclients
            .store(num("maxclients").max(0) as u64, Ordering::Relaxed);
        hot.timeout_secs
            .store(num("timeout").max(0) as u64, Ordering::Relaxed);
        hot.hz
            .store(num("hz").clamp(1, 500) as u64, Ordering::Relaxed);
        hot.slowlog_slower_than_us
            .store(num("slowlog-log-slower-than"), Ordering::Relaxed);
        hot.min_replicas_to_write
            .store(num("min-replicas-to-write"), Ordering::Relaxed);
        hot.zset_max_listpack_entries.store(
            num("zset-max-listpack-entries").max(0) as u64,
            Ordering::Relaxed,
        );
        hot.zset_max_listpack_value.store(
            num("zset-max-listpack-value").max(0) as u64,
            Ordering::Relaxed,
        );
        for (slot, name) in [
            (&hot.hash_max_listpack_entries, "hash-max-listpack-entries"),
            (&hot.hash_max_listpack_value, "hash-max-listpack-value"),
            (&hot.set_max_intset_entries, "set-max-intset-entries"),
            (&hot.set_max_listpack_entries, "set-max-listpack-entries"),
            (&hot.set_max_listpack_value, "set-max-listpack-value"),
            (&hot.stream_node_max_entries, "stream-node-max-entries"),
            (&hot.stream_node_max_bytes, "stream-node-max-bytes"),
        ] {
            slot.store(num(name).max(0) as u64, Ordering::Relaxed);
        }
        let notify = v
            .get("notify-keyspace-events")
            .and_then(|s| notify_flags(s))
            .unwrap_or(0);
        hot.notify_keyspace_events.store(notify, Ordering::Relaxed);
        let cobl = v
            .get("client-output-buffer-limit")
            .cloned()
            .unwrap_or_default();
        let words: Vec<&str> = cobl.split(' ').collect();
        for (class, limits) in [
            ("pubsub", &hot.pubsub_obuf_limits),
            ("normal", &hot.normal_obuf_limits),
        ] {
            if let Some(group) = words.chunks(4).find(|g| g.first() == Some(&class)) {
                for (slot, word) in limits.iter().zip(&group[1..]) {
                    slot.store(word.parse().unwrap_or(0), Ordering::Relaxed);
                }
            }
        }
    }
}

/// Quotes a value as Redis's `sdscatrepr` does (how redis-server shows command-line options
/// in config errors, and how CONFIG REWRITE writes strings).
pub fn repr(arg: &str) -> String {
    let mut out = String::from("\"");
    for &b in arg.as_bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            b if b.is_ascii_graphic() || b == b' ' => out.push(b as char),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_line_options() {
        let c = Config::from_args(&args(&[
            "--port",
            "7000",
            "--maxmemory",
            "2gb",
            "--save",
            "",
            "--appendonly",
            "yes",
        ]))
        .unwrap();
        assert_eq!(c.get("port"), "7000");
        assert_eq!(c.get("maxmemory"), "2147483648");
        assert_eq!(c.get("save"), "");
        assert!(c.get_bool("appendonly"));
    }

    #[test]
    fn leading_program_name_is_skipped() {
        let c = Config::from_args(&args(&["redis-server", "--port", "7001"])).unwrap();
        assert_eq!(c.get("port"), "7001");
        let c = Config::from_args(&args(&["/usr/local/bin/ferrocache", "--hz", "20"])).unwrap();
        assert_eq!(c.get("hz"), "20");
    }

    #[test]
    fn file_then_command_line_precedence() {
        let path = std::env::temp_dir().join(format!("ferrocache-conf-{}", std::process::id()));
        std::fs::write(&path, "port 6000\nmaxmemory-policy allkeys-lru\nsave 900 1\nsave 300 10\nlist-max-ziplist-entries 5\n").unwrap();
        let c = Config::from_args(&args(&[path.to_str().unwrap(), "--port", "7000"])).unwrap();
        assert_eq!(c.get("port"), "7000");
        assert_eq!(c.get("maxmemory-policy"), "allkeys-lru");
        assert_eq!(c.get("save"), "900 1 300 10");
        assert!(c.config_file.as_deref().is_some_and(|f| f.starts_with('/')));
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn sentinel_mode_is_refused() {
        for argv in [
            &["--sentinel"][..],
            &["ferrocache", "/etc/sentinel.conf", "--sentinel"],
            &["/usr/bin/redis-sentinel", "/etc/sentinel.conf"],
        ] {
            let err = Config::from_args(&args(argv)).err().unwrap().to_string();
            assert!(err.contains(SENTINEL_MODE_REFUSED), "{argv:?}: {err}");
        }
    }

    #[test]
    fn fatal_errors_like_redis_server() {
        let err = Config::from_args(&args(&["--port", "abc"]))
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            format!("\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\nReading the configuration file, at line 2\n>>> 'port \"abc\"'\nargument couldn't be parsed into an integer")
        );
        let err = Config::from_args(&args(&["--no-such-option", "1"]))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.ends_with(">>> 'no-such-option \"1\"'\nBad directive or wrong number of arguments"),
            "{err}"
        );
        let err = Config::from_args(&args(&["--appendonly", "maybe"]))
            .err()
            .unwrap()
            .to_string();
        assert!(err.ends_with("argument must be 'yes' or 'no'"), "{err}");
        let err = Config::from_args(&args(&["--hz", "5", "6"]))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.ends_with(">>> 'hz \"5\" \"6\"'\nwrong number of arguments"),
            "{err}"
        );
        let err = Config::from_args(&args(&["--dir", "/nonexistent-ferrocache"]))
            .err()
            .unwrap()
            .to_string();
        assert!(err.ends_with("No such file or directory"), "{err}");
        let mut c = Config::default();
        let err = c
            .load_text("port 1\nmaxmemory \"unbalanced\n")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("at line 2") && err.ends_with("Unbalanced quotes in configuration line"),
            "{err}"
        );
    }

    #[test]
    fn set_many_is_atomic() {
        let c = Config::default();
        let maxmemory = find_option("maxmemory").unwrap();
        let hz = find_option("hz").unwrap();
        let err = c
            .set_many(&[(maxmemory, args(&["1mb"])), (hz, args(&["x"]))])
            .unwrap_err();
        assert_eq!(err.0, 1);
        assert_eq!(c.get("maxmemory"), "0");
        c.set_many(&[(maxmemory, args(&["1mb"])), (hz, args(&["20"]))])
            .unwrap();
        assert_eq!(c.get("maxmemory"), "1048576");
        assert_eq!(c.hot.maxmemory.load(Ordering::Relaxed), 1048576);
    }

    #[test]
    fn get_reports_aliases_under_the_name_asked() {
        let c = Config::default();
        assert_eq!(
            c.matching(b"slave-read-only"),
            vec![("slave-read-only".to_string(), "yes".to_string())]
        );
        assert_eq!(c.matching(b"SLAVE-READ-ONLY")[0].0, "SLAVE-READ-ONLY");
        let lua: Vec<String> = c.matching(b"lua*").into_iter().map(|(n, _)| n).collect();
        assert_eq!(lua, vec!["lua-time-limit"]);
        assert_eq!(c.matching(b"*max*").len(), c.matching(b"*MAX*").len());
    }
}
