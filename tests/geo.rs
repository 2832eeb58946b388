//! Geo commands against redis-server 7.0.15 on random data: 50k random points (uniform over
//! the map, and clustered around a few centres, poles and the antimeridian included) and 50k
//! random queries (GEOPOS, GEOHASH, GEODIST, GEOSEARCH BYRADIUS / BYBOX around random centres
//! and members, every unit, COUNT with and without ANY, ASC / DESC, WITH* options), half of
//! them in RESP3. Every reply must be byte-identical. Requests go in pipelined batches so the
//! run takes seconds.

mod common;
use common::{encode_command, RawClient, Server};
use std::io::{Read, Write};

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

    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

const LAT_MAX: f64 = 85.05112878;
/// Cluster centres: cities, the antimeridian, near the poles' limits.
const CENTRES: [(f64, f64); 7] = [
    (13.4, 38.1),
    (2.35, 48.85),
    (-73.9, 40.7),
    (179.9, 0.0),
    (0.0, 84.0),
    (0.0, -84.0),
    (-179.9, -50.0),
];
const POINTS: usize = 50_000;
const QUERIES: usize = 50_000;
/// Commands per pipelined batch: small enough that a batch's requests always fit the socket
/// buffers, so writing them all before reading cannot stall.
const BATCH: usize = 400;

/// A random position: uniform, or near a centre (clamped to the limits).
fn position(rng: &mut Rng) -> (f64, f64) {
    if rng.below(3) != 0 {
        return (rng.uniform(-180.0, 180.0), rng.uniform(-LAT_MAX, LAT_MAX));
    }
    let (x, y) = CENTRES[rng.below(CENTRES.len() as u64) as usize];
    let spread = [0.001, 0.5, 3.0, 3.0, 3.0, 3.0][rng.below(6) as usize];
    (
        (x + rng.uniform(-spread, spread)).clamp(-180.0, 180.0),
        (y + rng.uniform(-spread, spread)).clamp(-LAT_MAX, LAT_MAX),
    )
}

/// A coordinate as text: full precision, or rounded (equal positions and distances happen).
fn coord(rng: &mut Rng, v: f64) -> String {
    match rng.below(3) {
        0 => format!("{v:.3}"),
        _ => format!("{v}"),
    }
}

fn member(i: u64) -> String {
    format!("m{i}")
}

const UNITS: [(&str, f64); 8] = [
    ("m", 1.0),
    ("km", 1000.0),
    ("ft", 0.3048),
    ("mi", 1609.34),
    ("M", 1.0),
    ("KM", 1000.0),
    ("Ft", 0.3048),
    ("mI", 1609.34),
];

fn query(rng: &mut Rng, added: u64) -> Vec<String> {
    let some_member = |rng: &mut Rng| member(rng.below(added + 10));
    let (unit, to_meters) = UNITS[rng.below(UNITS.len() as u64) as usize];
    match rng.below(10) {
        0 => vec![
            "GEOPOS".into(),
            "g".into(),
            some_member(rng),
            some_member(rng),
        ],
        1 => vec![
            "GEOHASH".into(),
            "g".into(),
            some_member(rng),
            some_member(rng),
        ],
        2 => {
            let mut q = vec![
                "GEODIST".into(),
                "g".into(),
                some_member(rng),
                some_member(rng),
            ];
            if rng.below(4) != 0 {
                q.push(unit.into());
            }
            q
        }
        _ => {
            let mut q: Vec<String> = vec!["GEOSEARCH".into(), "g".into()];
            if rng.below(3) == 0 {
                q.extend(["FROMMEMBER".into(), some_member(rng)]);
            } else {
                let (x, y) = position(rng);
                q.extend(["FROMLONLAT".into(), coord(rng, x), coord(rng, y)]);
            }
            // Large areas only with COUNT, so replies stay small.
            let counted = rng.below(2) == 0;
            let top = if counted { 5.6 } else { 4.4 };
            let meters = 10f64.powf(rng.uniform(0.5, top));
            let size = meters / to_meters;
            if rng.below(2) == 0 {
                q.extend(["BYRADIUS".into(), format!("{size:.3}"), unit.into()]);
            } else {
                let ratio = rng.uniform(0.2, 3.0);
                q.extend([
                    "BYBOX".into(),
                    format!("{size:.3}"),
                    format!("{:.3}", size * ratio),
                    unit.into(),
                ]);
            }
            match rng.below(3) {
                0 => q.push("ASC".into()),
                1 => q.push("DESC".into()),
                _ => {}
            }
            if counted {
                q.extend(["COUNT".into(), (1 + rng.below(60)).to_string()]);
                if rng.below(4) == 0 {
                    q.push("ANY".into());
                }
            }
            for option in ["WITHDIST", "WITHCOORD", "WITHHASH"] {
                if rng.below(2) == 0 {
                    q.push(option.into());
                }
            }
            q
        }
    }
}

/// A complete RESP2/RESP3 frame's length at the start of `buf`, if it is all there (the
/// frames here are simple, aggregate, bulk and null types).
fn frame_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let head = &buf[1..line_end];
    let after = line_end + 2;
    match buf[0] {
        b'+' | b'-' | b':' | b',' | b'_' | b'#' => Some(after),
        b'$' => {
            let n: i64 = std::str::from_utf8(head).ok()?.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'%' | b'~' => {
            let n: i64 = std::str::from_utf8(head).ok()?.parse().ok()?;
            let items = if buf[0] == b'%' { n * 2 } else { n };
            let mut at = after;
            for _ in 0..items.max(0) {
                at += frame_len(&buf[at..])?;
            }
            Some(at)
        }
        other => panic!("unexpected frame type {:?}", other as char),
    }
}

/// Splits a run of complete frames.
fn frames(mut buf: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let len = frame_len(buf).expect("complete frames");
        out.push(&buf[..len]);
        buf = &buf[len..];
    }
    out
}

const END: &[u8] = b"$9\r\nbatch-end\r\n";

/// Sends the batch to one server in one write, followed by an ECHO that marks its end, and
/// returns the replies' bytes (without the marker).
fn run_batch(client: &mut RawClient, batch: &[Vec<String>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for args in batch {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        bytes.extend(encode_command(&argv));
    }
    bytes.extend(encode_command(&[b"ECHO", b"batch-end"]));
    client.stream.write_all(&bytes).unwrap();
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    while !out.ends_with(END) {
        let n = client.stream.read(&mut chunk).expect("read");
        assert!(n > 0, "connection closed");
        out.extend_from_slice(&chunk[..n]);
    }
    out.truncate(out.len() - END.len());
    out
}

/// Runs the batch on both servers; the replies must be the same bytes. Returns how many
/// replies were non-empty arrays or bulk strings (searches that found something, etc.).
fn same_batch(ours: &mut RawClient, redis: &mut RawClient, batch: &[Vec<String>]) -> usize {
    let (a, b) = (run_batch(ours, batch), run_batch(redis, batch));
    let replies = frames(&b);
    assert_eq!(replies.len(), batch.len());
    if a != b {
        for ((args, x), y) in batch.iter().zip(frames(&a)).zip(&replies) {
            assert!(
                x == *y,
                "{}\n ours:  {}\n redis: {}",
                args.join(" "),
                String::from_utf8_lossy(x),
                String::from_utf8_lossy(y)
            );
        }
        panic!("replies differ");
    }
    replies.iter().filter(|r| r.len() > 4).count()
}

#[test]
fn random_points_and_searches_match_redis_byte_for_byte() {
    let Some(redis_server) = Server::start_redis(&[]) else {
        panic!("redis-server is not installed: the test command installs it (see README)");
    };
    let ours_server = Server::start(&[]);
    let (mut ours, mut redis) = (ours_server.raw(), redis_server.raw());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut added = 0u64;
    let mut batch: Vec<Vec<String>> = Vec::new();
    while (added as usize) < POINTS {
        let mut args: Vec<String> = vec!["GEOADD".into(), "g".into()];
        for _ in 0..1 + rng.below(20) {
            let (x, y) = position(&mut rng);
            // Some members move: GEOADD of an existing member.
            let id = if rng.below(10) == 0 && added > 0 {
                rng.below(added)
            } else {
                added += 1;
                added - 1
            };
            args.extend([coord(&mut rng, x), coord(&mut rng, y), member(id)]);
        }
        batch.push(args);
        if batch.len() == BATCH {
            same_batch(&mut ours, &mut redis, &batch);
            batch.clear();
        }
    }
    same_batch(&mut ours, &mut redis, &batch);
    batch.clear();
    let mut found = 0usize;
    for i in 0..QUERIES {
        if i == QUERIES / 2 {
            found += same_batch(&mut ours, &mut redis, &batch);
            batch.clear();
            for c in [&mut ours, &mut redis] {
                c.resp3 = true;
                c.cmd(&["HELLO", "3"]);
            }
        }
        batch.push(query(&mut rng, added));
        if batch.len() == BATCH {
            found += same_batch(&mut ours, &mut redis, &batch);
            batch.clear();
        }
    }
    found += same_batch(&mut ours, &mut redis, &batch);
    // Most replies were not empty.
    assert!(found > QUERIES / 2, "only {found} replies had something");
}
