//! The engine's per-command path without the network: a pipelined batch of 16 GETs or 16 SETs
//! (as redis-benchmark -P 16 sends them, over 100k keys of 100 bytes) decoded, looked up in
//! the command table, run through dispatch (gate, shard locks, counters, hooks) and encoded.
//! The socket and the tokio loop are all that is left out, so this is the cost the side-by-side
//! benchmark's -P 16 rows spend beyond the floor of a bare loop.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrocache::clock::Clock;
use ferrocache::config::Config;
use ferrocache::engine::{dispatch, ClientState};
use ferrocache::protocol::{Limits, Protocol, Request, RequestDecoder};
use ferrocache::state::ServerState;

const KEYS: usize = 100_000;
const BATCH: usize = 16;

fn key(i: usize) -> String {
    format!("key:{i:012}")
}

/// `BATCH` requests in RESP, the keys spread over the keyspace from `start`.
fn batch(start: usize, set: bool) -> Vec<u8> {
    let value = "v".repeat(100);
    let mut out = String::new();
    for n in 0..BATCH {
        let k = key((start + n * 7919) % KEYS);
        if set {
            out.push_str(&format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{value}\r\n",
                k.len(),
                value.len()
            ));
        } else {
            out.push_str(&format!("*2\r\n$3\r\nGET\r\n${}\r\n{k}\r\n", k.len()));
        }
    }
    out.into_bytes()
}

/// Decodes one batch, runs every request and encodes the replies, as a connection does.
fn run_batch(
    state: &ServerState,
    client: &mut ClientState,
    input: &[u8],
    output: &mut BytesMut,
) -> usize {
    let limits = Limits {
        bulk_bytes_max: 512 * 1024 * 1024,
        authenticated: true,
    };
    let mut buf = BytesMut::from(input);
    let mut decoder = RequestDecoder::new();
    output.clear();
    while let Ok(Some(Request::Command(argv))) = decoder.decode(&mut buf, limits) {
        dispatch::execute(state, client, &argv).encode(Protocol::Resp2, output);
    }
    output.len()
}

fn pipelined(c: &mut Criterion) {
    let state = ServerState::new(
        Config::default(),
        Clock::System,
        ferrocache::commands::TABLES,
    );
    let addr = "127.0.0.1:1".parse().expect("literal address");
    let mut client = ClientState::new(state.clients.register(addr, addr, -1, 0));
    let value = Bytes::from(vec![b'v'; 100]);
    for i in 0..KEYS {
        let argv = [
            Bytes::from_static(b"SET"),
            Bytes::from(key(i)),
            value.clone(),
        ];
        dispatch::execute(&state, &mut client, &argv);
    }
    // Several batches with different keys, so the table is not all in cache.
    let gets: Vec<Vec<u8>> = (0..64).map(|s| batch(s * 131, false)).collect();
    let sets: Vec<Vec<u8>> = (0..64).map(|s| batch(s * 131 + 17, true)).collect();
    let mut output = BytesMut::with_capacity(8192);
    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut n = 0usize;
    group.bench_function("get_x16_pipelined", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            run_batch(&state, &mut client, &gets[n % gets.len()], &mut output)
        })
    });
    group.bench_function("set_x16_pipelined", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            run_batch(&state, &mut client, &sets[n % sets.len()], &mut output)
        })
    });
    group.finish();
}

criterion_group!(benches, pipelined);
criterion_main!(benches);
