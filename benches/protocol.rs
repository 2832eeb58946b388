//! Request decoding and reply encoding throughput: a pipelined batch of 16 SETs as
//! redis-benchmark -P 16 sends it, and the matching replies.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrocache::protocol::{Limits, Protocol, Reply, Request, RequestDecoder};

fn batch(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let value = vec![b'x'; 100];
    for i in 0..n {
        let key = format!("key:{i:012}");
        out.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n",
                key.len(),
                value.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&value);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn decode(c: &mut Criterion) {
    let input = batch(16);
    let limits = Limits {
        bulk_bytes_max: 512 * 1024 * 1024,
        authenticated: true,
    };
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(16));
    group.bench_function("set_x16_pipelined", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&input[..]);
            let mut decoder = RequestDecoder::new();
            let mut n = 0;
            while let Ok(Some(Request::Command(argv))) = decoder.decode(&mut buf, limits) {
                n += argv.len();
            }
            n
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let value = Reply::bulk(vec![b'x'; 100]);
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(16));
    group.bench_function("bulk100_x16", |b| {
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            for _ in 0..16 {
                value.encode(Protocol::Resp2, &mut out);
            }
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
