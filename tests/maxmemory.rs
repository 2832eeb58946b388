//! maxmemory eviction against the real binary: each policy keeps INFO used_memory near the
//! limit while writes continue, volatile-* spares persistent keys, noeviction answers -OOM while
//! reads and DEL still work, and allkeys-lru keeps a key that is read between writes.

mod common;
use common::{RawClient, Server};

fn info_field(c: &mut RawClient, section: &str, name: &str) -> u64 {
    let text = String::from_utf8_lossy(&c.cmd(&["INFO", section])).into_owned();
    text.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("INFO has no {name}"))
        .parse()
        .expect("numeric field")
}

/// Sets maxmemory to the current used_memory plus 1 MB and returns it.
fn limit_near_now(c: &mut RawClient, policy: &str) -> u64 {
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-policy", policy]),
        b"+OK\r\n"
    );
    let max = info_field(c, "memory", "used_memory") + (1 << 20);
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
        fill(&mut c, max, "k", 3000, None);
        assert!(evicted(&mut c) > 0, "{policy} evicted nothing");
        let dbsize = String::from_utf8_lossy(&c.cmd(&["DBSIZE"])).into_owned();
        let keys: u64 = dbsize.trim_start_matches(':').trim().parse().unwrap();
        assert!(keys > 0 && keys < 3000, "{policy}: {keys} keys left");
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
        fill(&mut c, max, "tmp", 3000, Some("1000"));
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
    // them: the victims come from the older set.
    fill(&mut c, max, "old", 700, None);
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
    for i in 0..2000 {
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
