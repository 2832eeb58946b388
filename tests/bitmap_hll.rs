//! Bitmaps, HyperLogLogs and SORT against redis-server on random inputs: every reply byte must
//! match.
//! The hand-written cases (errors, options, RESP3) are in tests/differential/15-17_*.redis.

mod common;
use common::{RawClient, Server};

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

fn both() -> Option<(Server, Server)> {
    let redis = Server::start_redis(&[])?;
    Some((Server::start(&[]), redis))
}

/// Sends `args` to both and asserts the replies are identical.
fn same(ours: &mut RawClient, redis: &mut RawClient, args: &[String]) {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    ours.send(&argv);
    redis.send(&argv);
    let (a, b) = (ours.read_reply().unwrap(), redis.read_reply().unwrap());
    assert_eq!(
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b),
        "{args:?}"
    );
}

fn field_type(rng: &mut Rng) -> String {
    if rng.below(2) == 0 {
        format!("i{}", rng.int(1, 64))
    } else {
        format!("u{}", rng.int(1, 63))
    }
}

#[test]
fn random_bit_commands_match_redis() {
    let Some((ours_server, redis_server)) = both() else {
        panic!("redis-server is not installed: the test command installs it (see README)");
    };
    let (mut ours, mut redis) = (ours_server.raw(), redis_server.raw());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let keys = ["k1", "k2", "k3"];
    for _ in 0..4000 {
        let key = keys[rng.below(3) as usize].to_string();
        let cmd: Vec<String> = match rng.below(8) {
            0 | 1 => vec![
                "SETBIT".into(),
                key,
                rng.below(600).to_string(),
                rng.below(2).to_string(),
            ],
            2 => vec!["GETBIT".into(), key, rng.below(700).to_string()],
            3 => {
                let mut c = vec!["BITCOUNT".into(), key];
                if rng.below(4) > 0 {
                    c.push(rng.int(-90, 90).to_string());
                    c.push(rng.int(-90, 90).to_string());
                    if rng.below(2) == 0 {
                        c.push(if rng.below(2) == 0 { "BIT" } else { "BYTE" }.into());
                    }
                }
                c
            }
            4 => {
                let mut c = vec!["BITPOS".into(), key, rng.below(2).to_string()];
                let extra = rng.below(4);
                if extra >= 1 {
                    c.push(rng.int(-90, 90).to_string());
                }
                if extra >= 2 {
                    c.push(rng.int(-90, 90).to_string());
                }
                if extra >= 3 {
                    c.push(if rng.below(2) == 0 { "BIT" } else { "BYTE" }.into());
                }
                c
            }
            5 => {
                let ops = ["AND", "OR", "XOR", "NOT"];
                let op = ops[rng.below(4) as usize];
                let mut c = vec![
                    "BITOP".into(),
                    op.into(),
                    keys[rng.below(3) as usize].into(),
                ];
                let n = if op == "NOT" { 1 } else { rng.int(1, 3) };
                for _ in 0..n {
                    c.push(keys[rng.below(3) as usize].into());
                }
                c
            }
            _ => {
                let mut c = vec!["BITFIELD".into(), key];
                for _ in 0..rng.int(1, 4) {
                    match rng.below(4) {
                        0 => {
                            c.push("OVERFLOW".into());
                            c.push(["WRAP", "SAT", "FAIL"][rng.below(3) as usize].into());
                        }
                        n => {
                            c.push(["GET", "SET", "INCRBY"][(n - 1) as usize].into());
                            c.push(field_type(&mut rng));
                            c.push(if rng.below(4) == 0 {
                                format!("#{}", rng.below(20))
                            } else {
                                rng.below(500).to_string()
                            });
                            if n > 1 {
                                let v = match rng.below(3) {
                                    0 => rng.int(-300, 300),
                                    1 => rng.next() as i64,
                                    _ => [i64::MAX, i64::MIN, -1, 0][rng.below(4) as usize],
                                };
                                c.push(v.to_string());
                            }
                        }
                    }
                }
                c
            }
        };
        same(&mut ours, &mut redis, &cmd);
    }
    for key in keys {
        same(&mut ours, &mut redis, &["GET".into(), key.into()]);
    }
}

/// Random elements of random lengths (binary, sometimes repeated).
fn element(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(24) as usize;
    let mut e: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    if rng.below(3) == 0 {
        // Short decimal elements repeat often, as counted ids do.
        e = rng.below(5000).to_string().into_bytes();
    }
    e
}

fn send_bytes(c: &mut RawClient, args: &[&[u8]]) -> Vec<u8> {
    c.send(args);
    c.read_reply().unwrap()
}

fn same_bytes(ours: &mut RawClient, redis: &mut RawClient, args: &[&[u8]]) -> Vec<u8> {
    let (a, b) = (send_bytes(ours, args), send_bytes(redis, args));
    assert_eq!(
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b),
        "{:?}",
        args.iter()
            .map(|a| String::from_utf8_lossy(a))
            .collect::<Vec<_>>()
    );
    a
}

/// 100k random elements through PFADD into sparse values (some kept small by a low
/// hll-sparse-max-bytes, some promoted to dense): the replies, the raw bytes of every value,
/// PFCOUNT of one and several keys and PFMERGE all match redis-server.
#[test]
fn random_hyperloglogs_match_redis_byte_for_byte() {
    let Some((ours_server, redis_server)) = both() else {
        panic!("redis-server is not installed: the test command installs it (see README)");
    };
    let (mut ours, mut redis) = (ours_server.raw(), redis_server.raw());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let keys: [&[u8]; 4] = [b"h1", b"h2", b"h3", b"h4"];
    let mut added = 0;
    let mut round = 0;
    while added < 100_000 {
        round += 1;
        if round % 40 == 0 {
            let limit = ["3000", "200", "40"][rng.below(3) as usize];
            same_bytes(
                &mut ours,
                &mut redis,
                &[b"CONFIG", b"SET", b"hll-sparse-max-bytes", limit.as_bytes()],
            );
        }
        let key = keys[rng.below(4) as usize];
        // Small batches keep values sparse for a while; large ones push them dense.
        let n = if rng.below(4) == 0 {
            1 + rng.below(2000)
        } else {
            1 + rng.below(12)
        };
        let elements: Vec<Vec<u8>> = (0..n).map(|_| element(&mut rng)).collect();
        added += elements.len();
        let mut args: Vec<&[u8]> = vec![b"PFADD", key];
        args.extend(elements.iter().map(Vec::as_slice));
        same_bytes(&mut ours, &mut redis, &args);
        same_bytes(&mut ours, &mut redis, &[b"GET", key]);
        if round % 3 == 0 {
            same_bytes(&mut ours, &mut redis, &[b"PFCOUNT", key]);
            same_bytes(&mut ours, &mut redis, &[b"GET", key]);
        }
        if round % 7 == 0 {
            let other = keys[rng.below(4) as usize];
            same_bytes(&mut ours, &mut redis, &[b"PFCOUNT", key, other, b"nosuch"]);
        }
        if round % 11 == 0 {
            let (dst, src) = (keys[rng.below(4) as usize], keys[rng.below(4) as usize]);
            same_bytes(&mut ours, &mut redis, &[b"PFMERGE", dst, src]);
            same_bytes(&mut ours, &mut redis, &[b"GET", dst]);
        }
    }
    let mut encodings = Vec::new();
    for key in keys {
        same_bytes(&mut ours, &mut redis, &[b"PFCOUNT", key]);
        same_bytes(&mut ours, &mut redis, &[b"GET", key]);
        encodings.push(same_bytes(
            &mut ours,
            &mut redis,
            &[b"PFDEBUG", b"ENCODING", key],
        ));
    }
    // The run went through both encodings.
    assert!(encodings.contains(&b"+dense\r\n".to_vec()), "{encodings:?}");
    let mut args: Vec<&[u8]> = vec![b"PFADD", b"sparse"];
    args.extend(keys);
    same_bytes(&mut ours, &mut redis, &args);
    let encoding = same_bytes(&mut ours, &mut redis, &[b"PFDEBUG", b"ENCODING", b"sparse"]);
    assert_eq!(encoding, b"+sparse\r\n");
    // Values move both ways through DUMP / RESTORE and keep answering the same.
    for key in [keys[0], keys[1], keys[2], keys[3], b"sparse"] {
        let from_redis = send_bytes(&mut redis, &[b"DUMP", key]);
        let from_ours = send_bytes(&mut ours, &[b"DUMP", key]);
        let payload = |reply: &[u8]| {
            let start = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
            reply[start..reply.len() - 2].to_vec()
        };
        let (pr, po) = (payload(&from_redis), payload(&from_ours));
        assert_eq!(
            send_bytes(&mut ours, &[b"RESTORE", b"copy", b"0", &pr]),
            b"+OK\r\n"
        );
        assert_eq!(
            send_bytes(&mut redis, &[b"RESTORE", b"copy", b"0", &po]),
            b"+OK\r\n"
        );
        same_bytes(&mut ours, &mut redis, &[b"PFADD", b"copy", b"one more"]);
        same_bytes(&mut ours, &mut redis, &[b"PFCOUNT", b"copy"]);
        same_bytes(&mut ours, &mut redis, &[b"GET", b"copy"]);
        same_bytes(&mut ours, &mut redis, &[b"DEL", b"copy"]);
    }
}

/// What the bit, HyperLogLog and SORT writes leave, as raw GET / LRANGE replies.
fn values(c: &mut RawClient) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for key in ["b", "bf", "dest", "h", "hd", "hm"] {
        out.push(c.cmd(&["GET", key]));
    }
    out.push(c.cmd(&["LRANGE", "sorted", "0", "-1"]));
    out.push(c.cmd(&["PTTL", "hm"]));
    out
}

/// The AOF logs these commands so that a restart, and redis-server loading the same directory,
/// rebuild the same bytes (cached cardinalities and encodings included).
#[test]
fn writes_survive_an_aof_restart_and_load_in_redis_server() {
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let mut server = Server::start(&args);
    let mut c = server.raw();
    let steps: &[&[&str]] = &[
        &["SETBIT", "b", "100", "1"],
        &["SETBIT", "b", "3", "1"],
        &["SETBIT", "b", "3", "1"],
        &[
            "BITFIELD", "bf", "SET", "u8", "#2", "200", "INCRBY", "i5", "3", "-7",
        ],
        &[
            "BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u8", "#2", "100",
        ],
        &["BITOP", "XOR", "dest", "b", "bf"],
        &["PFADD", "h", "a", "b", "c"],
        &["PFCOUNT", "h"],
        &["PFADD", "hd", "x"],
        &["PFDEBUG", "TODENSE", "hd"],
        &["PFADD", "hd", "y", "z"],
        &["SET", "hm", "placeholder", "EX", "1000"],
        &["DEL", "hm"],
        &["PFMERGE", "hm", "h", "hd"],
        &["PEXPIRE", "hm", "100000000"],
        &["PFCOUNT", "hm"],
        &["RPUSH", "l", "3", "1", "2"],
        &["SORT", "l", "DESC", "STORE", "sorted"],
    ];
    for step in steps {
        let reply = c.cmd(step);
        assert!(!reply.starts_with(b"-"), "{step:?}: {reply:?}");
    }
    let before = values(&mut c);
    server.kill9();
    let dir = server.dir.clone();
    std::mem::forget(server);
    let server = Server::start_in(dir.clone(), &args);
    let mut c = server.raw();
    let after = values(&mut c);
    assert_eq!(before[..7], after[..7]);
    let Some(redis) = Server::start_redis(&["--appendonly", "yes", "--dir", dir.to_str().unwrap()])
    else {
        panic!("redis-server is not installed: the test command installs it (see README)");
    };
    let mut r = redis.raw();
    // redis-server accepts connections before it has read the file and answers -LOADING to
    // what arrives meanwhile (on a busy machine, the first requests).
    for _ in 0..1000 {
        if !r.cmd(&["PING"]).starts_with(b"-LOADING") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(values(&mut r)[..7], before[..7]);
}

/// SORT on random lists and sorted sets with random options (numeric and ALPHA, BY weights and
/// hash fields, GET, LIMIT, DESC, STORE): every reply matches redis-server. Sets are left out:
/// without sorting their order is the hash table's; weights are distinct where ALPHA BY would
/// tie (Redis's sort is not stable there).
#[test]
fn random_sorts_match_redis() {
    let Some((ours_server, redis_server)) = both() else {
        panic!("redis-server is not installed: the test command installs it (see README)");
    };
    let (mut ours, mut redis) = (ours_server.raw(), redis_server.raw());
    let mut rng = Rng(0x5eed_5047);
    let word = |rng: &mut Rng| -> String {
        match rng.below(4) {
            0 => rng.int(-50, 50).to_string(),
            1 => format!("{}.{}", rng.int(-9, 9), rng.below(100)),
            2 => format!("e{}", rng.below(30)),
            _ => ["", " 7", "1e3", "-inf", "0x1A", "abc"][rng.below(6) as usize].to_string(),
        }
    };
    for round in 0..300 {
        let mut setup: Vec<Vec<String>> = vec![vec!["FLUSHALL".into()]];
        let n = rng.below(12);
        let elements: Vec<String> = (0..n).map(|_| word(&mut rng)).collect();
        let zset = rng.below(3) == 0;
        if n > 0 {
            let mut c: Vec<String> = vec![if zset { "ZADD" } else { "RPUSH" }.into(), "src".into()];
            for (i, e) in elements.iter().enumerate() {
                if zset {
                    c.push(rng.int(-5, 5).to_string());
                }
                c.push(if zset { format!("{e}#{i}") } else { e.clone() });
            }
            setup.push(c);
        }
        // Weights and projections for every element (distinct weights, some missing).
        let all: Vec<String> = if zset {
            elements
                .iter()
                .enumerate()
                .map(|(i, e)| format!("{e}#{i}"))
                .collect()
        } else {
            elements.clone()
        };
        for (i, e) in all.iter().enumerate() {
            // A sorted set's elements come out of Redis's hash table in no set order, so ties
            // (missing weights) would make its result arbitrary: they all get weights.
            if zset || rng.below(5) > 0 {
                setup.push(vec![
                    "SET".into(),
                    format!("w_{e}"),
                    format!("{}{i}", rng.below(90)),
                ]);
            }
            if zset || rng.below(4) > 0 {
                setup.push(vec!["SET".into(), format!("o_{e}"), format!("obj{i}")]);
                setup.push(vec![
                    "HSET".into(),
                    format!("h_{e}"),
                    "f".into(),
                    format!("{i}.5"),
                ]);
            }
        }
        let mut cmd: Vec<String> = vec![
            if round % 5 == 0 { "SORT_RO" } else { "SORT" }.into(),
            "src".into(),
        ];
        let mut alpha = rng.below(2) == 0;
        match rng.below(4) {
            0 => {
                cmd.extend(["BY".into(), "w_*".into()]);
                alpha = false;
            }
            1 => cmd.extend(["BY".into(), "h_*->f".into()]),
            2 => cmd.extend(["BY".into(), "nosort".into()]),
            _ => {}
        }
        if rng.below(3) == 0 {
            cmd.extend([
                "LIMIT".into(),
                rng.int(-2, 8).to_string(),
                rng.int(-2, 8).to_string(),
            ]);
        }
        for _ in 0..rng.below(3) {
            let pattern = ["#", "o_*", "h_*->f", "nosuch_*"][rng.below(4) as usize];
            cmd.extend(["GET".into(), pattern.into()]);
        }
        if rng.below(2) == 0 {
            cmd.push("DESC".into());
        }
        if alpha {
            cmd.push("ALPHA".into());
        }
        let store = cmd[0] == "SORT" && rng.below(3) == 0;
        if store {
            cmd.extend(["STORE".into(), "dst".into()]);
        }
        for c in &setup {
            same(&mut ours, &mut redis, c);
        }
        same(&mut ours, &mut redis, &cmd);
        if store {
            same(
                &mut ours,
                &mut redis,
                &["LRANGE".into(), "dst".into(), "0".into(), "-1".into()],
            );
        }
    }
}
