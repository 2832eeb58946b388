//! INFO against the real binary: every section header, the fields monitoring tools and
//! redis-cli read, CRLF layout, the keyspace and commandstats figures, RESP3 verbatim replies.

mod common;
use common::Server;

/// The text of a bulk (RESP2) or verbatim (RESP3) INFO reply.
fn info_text(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply).into_owned();
    let body_start = text.find("\r\n").expect("reply header") + 2;
    let body = &text[body_start..text.len() - 2];
    body.strip_prefix("txt:").unwrap_or(body).to_string()
}

fn field(text: &str, name: &str) -> Option<String> {
    text.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(String::from)
}

/// The `calls=` count of a command in INFO commandstats, None when it has no line.
fn calls(text: &str, command: &str) -> Option<u64> {
    let line = field(text, &format!("cmdstat_{command}"))?;
    line.strip_prefix("calls=")?.split(',').next()?.parse().ok()
}

#[test]
fn every_section_and_field_monitoring_reads() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let text = info_text(&c.cmd(&["INFO", "everything"]));
    for header in [
        "Server",
        "Clients",
        "Memory",
        "Persistence",
        "Stats",
        "Replication",
        "CPU",
        "Modules",
        "Commandstats",
        "Errorstats",
        "Latencystats",
        "Cluster",
        "Keyspace",
    ] {
        assert!(
            text.contains(&format!("# {header}\r\n")),
            "missing section {header}"
        );
    }
    assert!(!text.replace("\r\n", "").contains('\n'), "bare LF in INFO");
    assert!(
        text.contains("\r\n\r\n# Clients\r\n"),
        "sections are separated by a blank line"
    );
    for name in [
        // clients.md section 8, RedisInsight and redis-cli --stat
        "keyspace_hits",
        "keyspace_misses",
        "evicted_keys",
        "expired_keys",
        "total_commands_processed",
        "total_connections_received",
        "instantaneous_ops_per_sec",
        "instantaneous_input_kbps",
        "instantaneous_output_kbps",
        "used_memory",
        "used_memory_human",
        "used_memory_peak",
        "maxmemory",
        "maxmemory_policy",
        "connected_clients",
        "blocked_clients",
        "redis_version",
        "redis_mode",
        "uptime_in_seconds",
        "uptime_in_days",
        "tcp_port",
        "loading",
        "rdb_bgsave_in_progress",
        "aof_rewrite_in_progress",
        "used_cpu_sys",
        "used_cpu_user",
        "number_of_cached_scripts",
        "role",
        "cluster_enabled",
        "mem_allocator",
        "rdb_changes_since_last_save",
    ] {
        assert!(field(&text, name).is_some(), "missing field {name}");
    }
    assert_eq!(field(&text, "redis_version").unwrap(), "7.4.2");
    assert_eq!(field(&text, "redis_mode").unwrap(), "standalone");
    assert_eq!(field(&text, "tcp_port").unwrap(), server.port.to_string());
    assert_eq!(field(&text, "loading").unwrap(), "0");
    assert_eq!(field(&text, "connected_clients").unwrap(), "1");
    assert!(field(&text, "used_memory").unwrap().parse::<u64>().unwrap() > 0);
    assert_eq!(field(&text, "maxmemory_policy").unwrap(), "noeviction");
}

#[test]
fn default_all_and_single_sections() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let default = info_text(&c.cmd(&["INFO"]));
    assert!(default.starts_with("# Server\r\n"));
    assert!(default.contains("# Keyspace\r\n") && default.contains("# Errorstats\r\n"));
    assert!(!default.contains("# Commandstats") && !default.contains("# Latencystats"));
    let all = info_text(&c.cmd(&["INFO", "all"]));
    assert!(all.contains("# Commandstats\r\n") && !all.contains("# Modules"));
    assert_eq!(
        c.cmd(&["INFO", "cluster"]),
        b"$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n"
    );
    assert_eq!(c.cmd(&["INFO", "nosuch"]), b"$0\r\n\r\n");
    assert_eq!(
        c.cmd(&["INFO", "CLUSTER", "keyspace", "cluster"]),
        b"$44\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n\r\n"
    );
}

#[test]
fn keyspace_lines_follow_the_data() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.cmd(&["SET", "a", "1"]);
    c.cmd(&["SET", "b", "2", "EX", "100"]);
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["SET", "c", "3"]);
    let text = info_text(&c.cmd(&["INFO", "keyspace"]));
    let db0 = field(&text, "db0").expect("db0 line");
    assert!(db0.starts_with("keys=2,expires=1,avg_ttl="), "{db0}");
    let avg_ttl: u64 = db0
        .split(',')
        .find_map(|kv| kv.strip_prefix("avg_ttl="))
        .unwrap()
        .parse()
        .unwrap();
    // Redis 7.4's count of hashes with field deadlines ends the line.
    assert!(db0.ends_with(",subexpiry=0"), "{db0}");
    assert!(avg_ttl > 90_000 && avg_ttl <= 100_000, "{avg_ttl}");
    assert_eq!(
        field(&text, "db3").unwrap(),
        "keys=1,expires=0,avg_ttl=0,subexpiry=0"
    );
    assert!(
        field(&text, "db1").is_none(),
        "empty databases are not listed"
    );
}

#[test]
fn commandstats_errorstats_and_resetstat() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    for _ in 0..3 {
        c.cmd(&["GET", "missing"]);
    }
    c.cmd(&["INCR", "x"]);
    c.cmd(&["SET", "s", "text"]);
    c.cmd(&["INCR", "s"]);
    let text = info_text(&c.cmd(&["INFO", "commandstats", "errorstats", "stats"]));
    let get = field(&text, "cmdstat_get").expect("cmdstat_get");
    assert!(get.starts_with("calls=3,usec="), "{get}");
    assert!(get.ends_with(",rejected_calls=0,failed_calls=0"), "{get}");
    let incr = field(&text, "cmdstat_incr").expect("cmdstat_incr");
    assert!(
        incr.starts_with("calls=2,") && incr.ends_with("failed_calls=1"),
        "{incr}"
    );
    assert_eq!(field(&text, "errorstat_ERR").unwrap(), "count=1");
    assert_eq!(field(&text, "keyspace_misses").unwrap(), "3");
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), b"+OK\r\n");
    let text = info_text(&c.cmd(&["INFO", "commandstats", "errorstats", "stats"]));
    assert!(field(&text, "cmdstat_get").is_none(), "{text}");
    assert!(field(&text, "errorstat_ERR").is_none());
    assert_eq!(field(&text, "keyspace_misses").unwrap(), "0");
    assert_eq!(field(&text, "total_error_replies").unwrap(), "0");
}

/// A connection adds a pipelined batch's calls to the shared counters once per batch (see
/// `CallTally`): INFO must still count every call before it, on this connection and on
/// another one once the batch's replies have arrived, and count its own earlier calls.
#[test]
fn pipelined_calls_are_counted_before_anyone_reads_the_counters() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let mut other = server.raw();
    let mut batch = Vec::new();
    for i in 0..20 {
        batch.extend(common::encode_command(&[
            b"SET",
            format!("k{i}").as_bytes(),
            b"v",
        ]));
        batch.extend(common::encode_command(&[
            b"GET",
            format!("k{i}").as_bytes(),
        ]));
        batch.extend(common::encode_command(&[b"GET", b"missing"]));
    }
    batch.extend(common::encode_command(&[b"INFO", b"commandstats"]));
    batch.extend(common::encode_command(&[b"INFO", b"commandstats"]));
    c.send_raw(&batch);
    for _ in 0..60 {
        c.read_reply().expect("reply");
    }
    let first = info_text(&c.read_reply().expect("INFO"));
    assert_eq!(calls(&first, "get"), Some(40), "{first}");
    assert_eq!(calls(&first, "set"), Some(20), "{first}");
    assert!(field(&first, "cmdstat_info").is_none(), "{first}");
    let second = info_text(&c.read_reply().expect("INFO"));
    assert_eq!(calls(&second, "info"), Some(1), "{second}");

    // The last command of a batch, seen from another connection after its reply.
    let mut batch = Vec::new();
    for i in 0..16 {
        batch.extend(common::encode_command(&[
            b"INCR",
            format!("n{}", i % 3).as_bytes(),
        ]));
    }
    c.send_raw(&batch);
    for _ in 0..16 {
        c.read_reply().expect("reply");
    }
    let text = info_text(&other.cmd(&["INFO", "commandstats", "stats"]));
    assert_eq!(calls(&text, "incr"), Some(16), "{text}");
    // 60 + 2 INFO + 16, and not yet this INFO.
    assert_eq!(field(&text, "total_commands_processed").unwrap(), "78");
    let histogram = c.cmd_str(&["LATENCY", "HISTOGRAM", "incr"]);
    assert!(histogram.contains("$5\r\ncalls\r\n:16\r\n"), "{histogram}");
}

#[test]
fn resp3_info_is_a_verbatim_string() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    c.resp3 = true;
    c.cmd(&["HELLO", "3"]);
    assert_eq!(
        c.cmd(&["INFO", "cluster"]),
        b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"
    );
    let reply = c.cmd(&["INFO"]);
    assert!(
        reply.starts_with(b"="),
        "{}",
        String::from_utf8_lossy(&reply[..20])
    );
}

#[test]
fn prefixstats_count_hits_and_misses_per_prefix() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let prefixstats = |c: &mut common::RawClient| info_text(&c.cmd(&["INFO", "prefixstats"]));
    // Off by default: the section is empty and absent from plain INFO.
    c.cmd(&["GET", "session:a"]);
    assert_eq!(prefixstats(&mut c), "# Prefixstats\r\n");
    assert!(!info_text(&c.cmd(&["INFO"])).contains("Prefixstats"));
    c.cmd(&[
        "CONFIG",
        "SET",
        "keyspace-stats-prefixes",
        "session: ormcache:",
    ]);
    c.cmd(&["GET", "session:a"]);
    c.cmd(&["SET", "session:a", "v"]);
    c.cmd(&["GET", "session:a"]);
    c.cmd(&["GET", "session:a"]);
    c.cmd(&["EXISTS", "session:a"]);
    c.cmd(&["GET", "ormcache:1"]);
    c.cmd(&["GET", "other"]);
    let text = prefixstats(&mut c);
    assert_eq!(
        field(&text, "prefixstat_0").as_deref(),
        Some("prefix=session:,hits=3,misses=1,hit_ratio=0.7500"),
        "{text}"
    );
    assert!(text.contains("prefix=ormcache:,hits=0,misses=1,hit_ratio=0.0000"));
    assert!(text.contains("prefix=(other),hits=0,misses=1"));
    // Grouping by separator; a rule change starts the counts afresh.
    c.cmd(&["CONFIG", "SET", "keyspace-stats-separator", ":"]);
    c.cmd(&["MGET", "fragment:home:en", "fragment:shop:en", "session:a"]);
    let text = prefixstats(&mut c);
    assert_eq!(
        field(&text, "prefixstat_0").as_deref(),
        Some("prefix=fragment:,hits=0,misses=2,hit_ratio=0.0000"),
        "{text}"
    );
    assert_eq!(
        field(&text, "prefixstat_1").as_deref(),
        Some("prefix=session:,hits=1,misses=0,hit_ratio=1.0000")
    );
    assert!(info_text(&c.cmd(&["INFO", "everything"])).contains("# Prefixstats\r\nprefixstat_0:"));
    c.cmd(&["CONFIG", "RESETSTAT"]);
    assert_eq!(prefixstats(&mut c), "# Prefixstats\r\n");
}
