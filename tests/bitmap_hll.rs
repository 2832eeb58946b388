//! Bitmaps and HyperLogLogs against redis-server on random inputs: every reply byte must match.
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
