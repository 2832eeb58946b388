//! maxmemory eviction against the real binary: each policy keeps INFO used_memory near the
//! limit while writes continue, volatile-* spares persistent keys, noeviction answers -OOM while
//! reads and DEL still work, and allkeys-lru keeps a key that is read between writes.

mod common;
use common::{RawClient, Server};

fn info_field(c: &mut RawClient, section: &str, name: &str) -> u64 {
    info_fields(c, section, &[name])[0]
}

/// Several numeric fields of one INFO reply (each command may evict more keys).
fn info_fields(c: &mut RawClient, section: &str, names: &[&str]) -> Vec<u64> {
    let text = String::from_utf8_lossy(&c.cmd(&["INFO", section])).into_owned();
    names
        .iter()
        .map(|name| {
            text.split("\r\n")
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .unwrap_or_else(|| panic!("INFO has no {name}"))
                .parse()
                .expect("numeric field")
        })
        .collect()
}

/// evicted_keys and evicted_keys_tier_first, read together.
fn evicted_total_and_tier(c: &mut RawClient) -> (u64, u64) {
    let v = info_fields(c, "stats", &["evicted_keys", "evicted_keys_tier_first"]);
    (v[0], v[1])
}

/// Sets maxmemory to the current used_memory plus 2 MB and returns it. (Less is fragile: the
/// allocator's thread caches hold freed entries that still count as allocated, a few hundred
/// KB, see docs/eviction.md.)
fn limit_near_now(c: &mut RawClient, policy: &str) -> u64 {
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", policy]),
        b"+OK\r\n"
    );
    let max = info_field(c, "memory", "used_memory") + (2 << 20);
    let max_s = max.to_string();
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", &max_s]), b"+OK\r\n");
    max
}

/// Writes `n` 1 KB values named `<prefix><i>` in pipelined batches, checking after each batch
/// that used_memory stays within 5% of the limit. `ttl` adds EX to every write.
fn fill(c: &mut RawClient, max: u64, prefix: &str, n: usize, ttl: Option<&str>) {
    let value = vec![b'x'; 1024];
    for batch in 0..n / 100 {
        for i in batch * 100..(batch + 1) * 100 {
            let key = format!("{prefix}{i}");
            let mut args: Vec<&[u8]> = vec![b"SET", key.as_bytes(), &value];
            if let Some(t) = ttl {
                args.extend_from_slice(&[b"EX", t.as_bytes()]);
            }
            c.send(&args);
        }
        for _ in 0..100 {
            assert_eq!(c.read_reply().expect("reply"), b"+OK\r\n");
        }
        // The limit is checked against an allocator reading refreshed between commands plus the
        // argument bytes counted since; one pipelined batch (100 x 1 KB values, ~130 KB in
        // jemalloc's size classes) can land between two readings. Bound: 5% or two batches.
        let used = info_field(c, "memory", "used_memory");
        let slack = (max / 20).max(256 * 1024);
        assert!(
            used <= max + slack,
            "used_memory {used} > maxmemory {max} + {slack} after batch {batch}"
        );
    }
}

fn evicted(c: &mut RawClient) -> u64 {
    info_field(c, "stats", "evicted_keys")
}

#[test]
fn allkeys_policies_stay_under_the_limit() {
    for policy in ["allkeys-lru", "allkeys-random", "allkeys-lfu"] {
        let server = Server::start(&[]);
        let mut c = server.raw();
        let max = limit_near_now(&mut c, policy);
        fill(&mut c, max, "k", 5000, None);
        assert!(evicted(&mut c) > 0, "{policy} evicted nothing");
        let dbsize = String::from_utf8_lossy(&c.cmd(&["DBSIZE"])).into_owned();
        let keys: u64 = dbsize.trim_start_matches(':').trim().parse().unwrap();
        assert!(keys > 0 && keys < 5000, "{policy}: {keys} keys left");
    }
}

#[test]
fn volatile_policies_only_evict_keys_with_a_ttl() {
    for policy in [
        "volatile-lru",
        "volatile-ttl",
        "volatile-random",
        "volatile-lfu",
    ] {
        let server = Server::start(&[]);
        let mut c = server.raw();
        let max = limit_near_now(&mut c, policy);
        fill(&mut c, max, "keep", 200, None);
        fill(&mut c, max, "tmp", 5000, Some("1000"));
        assert!(evicted(&mut c) > 0, "{policy} evicted nothing");
        for i in 0..200 {
            let key = format!("keep{i}");
            assert_eq!(
                c.cmd(&["EXISTS", &key]),
                b":1\r\n",
                "{policy} evicted {key}"
            );
        }
    }
}

#[test]
fn volatile_policy_without_ttl_keys_answers_oom() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    limit_near_now(&mut c, "volatile-lru");
    let value = "x".repeat(1024);
    let mut oom = None;
    for i in 0..5000 {
        let reply = c.cmd(&["SET", &format!("k{i}"), &value]);
        if reply != b"+OK\r\n" {
            oom = Some(reply);
            break;
        }
    }
    assert_eq!(
        oom.expect("writes were refused"),
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    assert_eq!(evicted(&mut c), 0);
}

#[test]
fn noeviction_refuses_writes_but_reads_and_del_work() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    limit_near_now(&mut c, "noeviction");
    let value = "x".repeat(1024);
    let mut refused_at = None;
    for i in 0..5000 {
        let reply = c.cmd(&["SET", &format!("k{i}"), &value]);
        if reply != b"+OK\r\n" {
            assert_eq!(
                reply,
                b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"
            );
            refused_at = Some(i);
            break;
        }
    }
    let last = refused_at.expect("writes were refused") - 1;
    let last_key = format!("k{last}");
    assert_eq!(
        c.cmd(&["GET", "k0"]),
        format!("$1024\r\n{value}\r\n").as_bytes()
    );
    assert_eq!(c.cmd(&["DEL", "k0", &last_key]), b":2\r\n");
    assert_eq!(evicted(&mut c), 0);
    // Lifting the limit lets writes through again.
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SET", "again", "v"]), b"+OK\r\n");
}

#[test]
fn allkeys_lru_keeps_a_key_read_between_writes() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let max = limit_near_now(&mut c, "allkeys-lru");
    // An older set, then (a few LRU clock seconds later) new writes with a hot key read between
    // them: the victims come from the older set. The new writes stop while most of the older
    // set is left: the LRU clock counts seconds, so the hot key ties with the new keys written
    // in its second, and a sample holding none of the older keys may take any of them (as in
    // Redis).
    fill(&mut c, max, "old", 1500, None);
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let value = "y".repeat(1024);
    assert_eq!(c.cmd(&["SET", "hot", &value]), b"+OK\r\n");
    for i in 0..600 {
        assert_eq!(c.cmd(&["SET", &format!("new{i}"), &value]), b"+OK\r\n");
        assert_eq!(
            c.cmd(&["GET", "hot"]),
            format!("$1024\r\n{value}\r\n").as_bytes(),
            "hot key evicted after {i} writes"
        );
    }
    assert!(evicted(&mut c) > 0);
}

#[test]
fn object_idletime_and_freq_report_access() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let idle = String::from_utf8_lossy(&c.cmd(&["OBJECT", "IDLETIME", "k"])).into_owned();
    let idle: u64 = idle.trim_start_matches(':').trim().parse().unwrap();
    assert!((1..=3).contains(&idle), "idle {idle}");
    // OBJECT does not touch; GET does.
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(c.cmd(&["OBJECT", "IDLETIME", "k"]), b":0\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["SET", "f", "v"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "f"]), b":5\r\n");
    for _ in 0..200 {
        c.cmd(&["GET", "f"]);
    }
    let freq = String::from_utf8_lossy(&c.cmd(&["OBJECT", "FREQ", "f"])).into_owned();
    let freq: u64 = freq.trim_start_matches(':').trim().parse().unwrap();
    assert!(freq > 5, "freq {freq}");
}

#[test]
fn evictions_fire_evicted_events() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ee"]),
        b"+OK\r\n"
    );
    let mut sub = server.raw();
    sub.cmd(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
    limit_near_now(&mut c, "allkeys-random");
    // No used_memory bound here: the unread events queued for `sub` are memory too.
    let value = "x".repeat(1024);
    for i in 0..3000 {
        assert_eq!(c.cmd(&["SET", &format!("k{i}"), &value]), b"+OK\r\n");
    }
    assert!(evicted(&mut c) > 0);
    let event = String::from_utf8_lossy(&sub.read_reply().expect("event")).into_owned();
    assert!(
        event.starts_with("*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:evicted\r\n$")
            && event.contains("\r\nk"),
        "{event:?}"
    );
}

fn int_reply(reply: &[u8]) -> u64 {
    String::from_utf8_lossy(reply)
        .trim_start_matches(':')
        .trim()
        .parse()
        .expect("integer reply")
}

/// The bound of issue 5 and reliability M1: maxmemory + max(4 KiB, 1%).
fn bound(max: u64) -> u64 {
    max + (max / 100).max(4096)
}

/// Writers on `conns` connections store 1 KB values (with a TTL for volatile policies) while a
/// monitor connection reads INFO memory between their writes; every reading stays within the
/// bound. Returns the keys each writer wrote.
fn fill_from_many(server: &Server, max: u64, conns: usize, per_conn: usize, ttl: bool) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let monitor = {
        let mut c = server.raw();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut worst = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                worst = worst.max(info_field(&mut c, "memory", "used_memory"));
            }
            worst.max(info_field(&mut c, "memory", "used_memory"))
        })
    };
    let writers: Vec<_> = (0..conns)
        .map(|w| {
            let mut c = server.raw();
            std::thread::spawn(move || {
                let value = vec![b'x'; 1024];
                for i in 0..per_conn {
                    let key = format!("w{w}:{i}");
                    let mut args: Vec<&[u8]> = vec![b"SET", key.as_bytes(), &value];
                    if ttl {
                        args.extend_from_slice(&[b"EX", b"1000"]);
                    }
                    c.send(&args);
                    assert_eq!(c.read_reply().expect("reply"), b"+OK\r\n");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let worst = monitor.join().expect("monitor");
    assert!(
        worst <= bound(max),
        "used_memory reached {worst} > maxmemory {max} + max(4 KiB, 1%)"
    );
}

#[test]
fn many_connections_stay_within_the_bound_for_every_policy() {
    for policy in [
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let server = Server::start(&[]);
        let mut c = server.raw();
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "maxmemory-policy", policy]),
            b"+OK\r\n"
        );
        // 8 writer connections and the monitor exist before the limit is measured.
        let max = info_field(&mut c, "memory", "used_memory") + 8 * (1 << 20);
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "maxmemory", &max.to_string()]),
            b"+OK\r\n"
        );
        fill_from_many(&server, max, 8, 2000, policy.starts_with("volatile"));
        assert!(evicted(&mut c) > 0, "{policy} evicted nothing");
    }
}

/// CLIENT NO-TOUCH: the client's reads leave access bits alone, but TOUCH still stamps, also
/// inside MULTI (Redis 7.2). With lfu-log-factor 0 every stamp raises the LFU counter, so OBJECT
/// FREQ shows it.
#[test]
fn no_touch_spares_reads_but_not_touch() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["CONFIG", "SET", "lfu-log-factor", "0"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "k"]), b":5\r\n");
    assert_eq!(c.cmd(&["CLIENT", "NO-TOUCH", "ON"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(c.cmd(&["EXISTS", "k"]), b":1\r\n");
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "k"]), b":5\r\n");
    assert_eq!(c.cmd(&["TOUCH", "k"]), b":1\r\n");
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "k"]), b":6\r\n");
    // Inside MULTI each queued command decides for itself: TOUCH stamps, GET does not.
    assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["TOUCH", "k"]), b"+QUEUED\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"+QUEUED\r\n");
    assert_eq!(c.cmd(&["EXEC"]), b"*2\r\n:1\r\n$1\r\nv\r\n");
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "k"]), b":7\r\n");
    assert_eq!(c.cmd(&["CLIENT", "NO-TOUCH", "OFF"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(c.cmd(&["OBJECT", "FREQ", "k"]), b":8\r\n");
}

/// The LFU counter of `key` after one fresh `SET key v` and then `steps`, each one command
/// (lfu-log-factor 0: every stamp raises the counter by one, from 5).
fn freq_after(c: &mut RawClient, key: &str, steps: &[&[&str]]) -> Vec<u8> {
    assert_eq!(c.cmd(&["FLUSHALL"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    for step in steps {
        c.cmd(step);
    }
    c.cmd(&["OBJECT", "FREQ", key])
}

/// Reads Redis does not count as accesses (its LOOKUP_NOTOUCH: TYPE, EXISTS, TTL and kin,
/// OBJECT, MEMORY USAGE, DEBUG OBJECT, SCAN) leave the LFU counter alone, directly, inside
/// MULTI and from a script; real reads and TOUCH raise it. Compared with redis-server when it
/// is installed.
#[test]
fn reads_redis_does_not_count_leave_stamps_alone() {
    const SPARED: &[&[&str]] = &[
        &["TYPE", "k"],
        &["EXISTS", "k"],
        &["EXISTS", "k", "k"],
        &["TTL", "k"],
        &["PTTL", "k"],
        &["EXPIRETIME", "k"],
        &["PEXPIRETIME", "k"],
        &["OBJECT", "ENCODING", "k"],
        &["OBJECT", "REFCOUNT", "k"],
        &["MEMORY", "USAGE", "k"],
        &["DEBUG", "OBJECT", "k"],
        &["SCAN", "0", "TYPE", "string"],
        &["KEYS", "*"],
        &["RANDOMKEY"],
    ];
    const COUNTED: &[&[&str]] = &[
        &["GET", "k"],
        &["STRLEN", "k"],
        &["DUMP", "k"],
        &["TOUCH", "k"],
    ];
    let config: &[&str] = &[
        "--maxmemory-policy",
        "allkeys-lfu",
        "--lfu-log-factor",
        "0",
        "--enable-debug-command",
        "yes",
    ];
    let server = Server::start(config);
    let redis = Server::start_redis(config);
    let mut clients = vec![server.raw()];
    clients.extend(redis.as_ref().map(Server::raw));
    let mut cases: Vec<(Vec<&[&str]>, &[u8])> = Vec::new();
    for step in SPARED {
        cases.push((vec![*step], b":5\r\n"));
        cases.push((vec![&["MULTI"], *step, &["EXEC"]], b":5\r\n"));
    }
    for step in COUNTED {
        cases.push((vec![*step], b":6\r\n"));
        cases.push((vec![&["MULTI"], *step, &["EXEC"]], b":6\r\n"));
    }
    let script: &[&str] = &[
        "EVAL",
        "redis.call('type', KEYS[1]); redis.call('exists', KEYS[1]); \
         redis.call('ttl', KEYS[1]); redis.call('object', 'encoding', KEYS[1]); \
         return redis.call('get', KEYS[1])",
        "1",
        "k",
    ];
    cases.push((vec![script], b":6\r\n"));
    for (steps, want) in &cases {
        for (c, name) in clients.iter_mut().zip(["ferrocache", "redis-server"]) {
            let got = freq_after(c, "k", steps);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(want),
                "OBJECT FREQ after {steps:?} on {name}"
            );
        }
    }
}

#[test]
fn allkeys_lfu_keeps_the_frequently_read_keys() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    // Factor 0: every read raises the counter, so the frequent set is unambiguous.
    assert_eq!(c.cmd(&["CONFIG", "SET", "lfu-log-factor", "0"]), b"+OK\r\n");
    let max = limit_near_now(&mut c, "allkeys-lfu");
    let value = "f".repeat(1024);
    for i in 0..50 {
        assert_eq!(c.cmd(&["SET", &format!("hot{i}"), &value]), b"+OK\r\n");
        for _ in 0..20 {
            c.cmd(&["GET", &format!("hot{i}")]);
        }
    }
    fill(&mut c, max, "cold", 5000, None);
    assert!(evicted(&mut c) > 0);
    for i in 0..50 {
        assert_eq!(c.cmd(&["EXISTS", &format!("hot{i}")]), b":1\r\n", "hot{i}");
    }
}

/// Sessions first, then the evict-first tier floods memory: while any tier key remains, no
/// session goes, and every eviction counts for the tier.
fn tier_protects_sessions(evict_first: &str, cache_db: &str, cache_prefix: &str) {
    let server = Server::start(&["--maxmemory-evict-first", evict_first]);
    let mut c = server.raw();
    let value = "s".repeat(1024);
    for i in 0..300 {
        assert_eq!(
            c.cmd(&["SET", &format!("session:{i}"), &value, "EX", "3600"]),
            b"+OK\r\n"
        );
    }
    let max = limit_near_now(&mut c, "allkeys-lru");
    let mut cache = server.raw();
    assert_eq!(cache.cmd(&["SELECT", cache_db]), b"+OK\r\n");
    // Sessions stay in use (recently read) while the cache is written: plain LRU would still
    // evict some of them as the cache keys are newer; the tier must not.
    for round in 0..30 {
        fill(
            &mut cache,
            max,
            &format!("{cache_prefix}{round}:"),
            100,
            Some("3600"),
        );
        assert!(int_reply(&cache.cmd(&["DBSIZE"])) > 0);
        for i in (0..300).step_by(30) {
            assert_eq!(
                c.cmd(&["EXISTS", &format!("session:{i}")]),
                b":1\r\n",
                "session:{i} evicted in round {round}"
            );
        }
    }
    for i in 0..300 {
        assert_eq!(c.cmd(&["EXISTS", &format!("session:{i}")]), b":1\r\n");
    }
    let (total, tier) = evicted_total_and_tier(&mut c);
    assert!(total > 0);
    assert_eq!(tier, total);
}

#[test]
fn evict_first_database_protects_sessions_in_db0() {
    tier_protects_sessions("db1", "1", "cache");
}

#[test]
fn evict_first_prefix_protects_sessions_in_the_same_db() {
    tier_protects_sessions("ormcache:", "0", "ormcache:");
}

#[test]
fn evict_first_is_a_runtime_option() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory-evict-first"]),
        b"*2\r\n$21\r\nmaxmemory-evict-first\r\n$0\r\n\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-evict-first", "db1 ormcache:"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory-evict-first"]),
        b"*2\r\n$21\r\nmaxmemory-evict-first\r\n$13\r\ndb1 ormcache:\r\n"
    );
    // Keys stored before the option changed are found too.
    let value = "v".repeat(1024);
    for i in 0..200 {
        assert_eq!(c.cmd(&["SET", &format!("keep{i}"), &value]), b"+OK\r\n");
    }
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-evict-first", "old:"]),
        b"+OK\r\n"
    );
    for i in 0..2000 {
        assert_eq!(c.cmd(&["SET", &format!("old:{i}"), &value]), b"+OK\r\n");
    }
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-evict-first", "new:"]),
        b"+OK\r\n"
    );
    let max = limit_near_now(&mut c, "allkeys-random");
    let _ = max;
    // Under the limit by 2 MB: a 4 MB flood of tier keys takes only tier keys.
    for i in 0..4000 {
        assert_eq!(c.cmd(&["SET", &format!("new:{i}"), &value]), b"+OK\r\n");
    }
    assert!(evicted(&mut c) > 0);
    let (total, tier) = evicted_total_and_tier(&mut c);
    assert_eq!(tier, total);
    assert_eq!(
        int_reply(&c.cmd(&["EXISTS", "keep0", "keep199", "old:0", "old:1999"])),
        4
    );
}

#[test]
fn exec_is_refused_when_its_transaction_holds_a_denyoom_command() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let mut admin = server.raw();
    assert_eq!(c.cmd(&["SET", "x", "1"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["WATCH", "x"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["SET", "x", "2"]), b"+QUEUED\r\n");
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "1"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["EXEC"]),
        b"-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    // The transaction and its watches are gone.
    assert_eq!(c.cmd(&["EXEC"]), b"-ERR EXEC without MULTI\r\n");
    // A transaction of reads and deletions runs; a script in it has its first write refused.
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "x"]), b"+QUEUED\r\n");
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('set','y','1')", "0"]),
        b"+QUEUED\r\n"
    );
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "1"]), b"+OK\r\n");
    assert_eq!(
        c.cmd_str(&["EXEC"]),
        "*2\r\n$1\r\n1\r\n-OOM command not allowed when used memory > 'maxmemory'. script: ca07b64f186c73f68613407130f7ceb87c038f2e, on @user_script:1.\r\n"
    );
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "0"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "y"]), b"$-1\r\n");
}

#[test]
fn lowering_maxmemory_evicts_in_the_background() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let value = "x".repeat(1024);
    for i in 0..4000 {
        c.send(&[b"SET", format!("k{i}").as_bytes(), value.as_bytes()]);
    }
    for _ in 0..4000 {
        assert_eq!(c.read_reply().expect("reply"), b"+OK\r\n");
    }
    // Tenacity 0: a command evicts at most 16 keys itself, so the rest is the background's.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-eviction-tenacity", "0"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]),
        b"+OK\r\n"
    );
    let max = info_field(&mut c, "memory", "used_memory") - 2 * (1 << 20);
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory", &max.to_string()]),
        b"+OK\r\n"
    );
    let mut polls = 0;
    loop {
        polls += 1;
        let used = info_field(&mut c, "memory", "used_memory");
        if used <= max {
            break;
        }
        assert!(polls < 100, "used_memory {used} still over {max}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let gone = evicted(&mut c);
    assert!(
        gone > 16 * (polls + 2),
        "{gone} keys evicted over {polls} commands: no background eviction"
    );
    assert!(info_field(&mut c, "stats", "total_eviction_exceeded_time") < 60_000);
}

#[test]
fn normal_client_output_buffer_limit_closes_the_client() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 0 0"
        ]),
        b"+OK\r\n"
    );
    let value = "b".repeat(256 * 1024);
    assert_eq!(c.cmd(&["SET", "big", &value]), b"+OK\r\n");
    // Eight pipelined GETs: the replies of one batch pass 1 MB before they are written.
    let mut requests = Vec::new();
    for _ in 0..8 {
        requests.extend_from_slice(&common::encode_command(&[b"GET", b"big"]));
    }
    let mut flood = server.raw();
    flood.send_raw(&requests);
    let got = flood.read_to_close();
    assert!(
        got.len() < 8 * value.len(),
        "all {} bytes arrived",
        got.len()
    );
    // Other clients are unaffected; under the limit a client is served.
    assert_eq!(c.cmd(&["STRLEN", "big"]), b":262144\r\n");
    assert_eq!(
        info_field(&mut c, "stats", "client_output_buffer_limit_disconnections"),
        1
    );
    let mut one = server.raw();
    assert_eq!(
        one.cmd(&["GET", "big"]).len(),
        "$262144\r\n".len() + value.len() + 2
    );
}

/// A pipelined flood of big replies (about 4x the limit in one batch): the replies are written
/// as they pass 256 KiB instead of held in one buffer until the batch ends, so the process stays
/// within the bound and every reply is served.
#[test]
fn big_reply_flood_stays_within_the_bound() {
    let server = Server::start(&[]);
    let mut c = server.raw();
    let max = info_field(&mut c, "memory", "used_memory") + 8 * (1 << 20);
    let value = "r".repeat(100 * 1024);
    for i in 0..60 {
        assert_eq!(c.cmd(&["SET", &format!("big{i}"), &value]), b"+OK\r\n");
    }
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory", &max.to_string()]),
        b"+OK\r\n"
    );
    let mut requests = Vec::new();
    for i in 0..400 {
        requests.extend_from_slice(&common::encode_command(&[
            b"GET",
            format!("big{}", i % 60).as_bytes(),
        ]));
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let monitor = {
        let mut m = server.raw();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut worst = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                worst = worst.max(info_field(&mut m, "memory", "used_memory"));
            }
            worst
        })
    };
    let mut flood = server.raw();
    flood.send_raw(&requests);
    let full = format!("${}\r\n{value}\r\n", value.len());
    for i in 0..400 {
        assert_eq!(
            flood.read_reply().expect("reply"),
            full.as_bytes(),
            "reply {i}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let worst = monitor.join().expect("monitor");
    assert!(
        worst <= bound(max),
        "used_memory reached {worst} > maxmemory {max} + max(4 KiB, 1%)"
    );
}
