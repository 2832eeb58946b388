//! Shard operations without the network: SET, GET (hit) and SET with a deadline on a keyspace
//! of 100k keys, one shard lock per operation as dispatch takes it.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrocache::keyspace::{Keyspace, ShardId, Value};

const KEYS: usize = 100_000;

fn keys() -> Vec<Vec<u8>> {
    (0..KEYS)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect()
}

fn set_get(c: &mut Criterion) {
    let ks = Keyspace::new(16, 16);
    let keys = keys();
    let value = vec![b'v'; 100];
    for k in &keys {
        let hash = ks.hash(k);
        ks.lock(ShardId {
            db: 0,
            shard: ks.shard_of(hash),
        })
        .insert(hash, k, Value::string(&value), None, 0);
    }
    let mut group = c.benchmark_group("keyspace");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("get_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let k = &keys[i];
            let hash = ks.hash(k);
            let mut shard = ks.lock(ShardId {
                db: 0,
                shard: ks.shard_of(hash),
            });
            shard.get_read(hash, k, 1).map(|e| e.key().len())
        })
    });
    group.bench_function("set_overwrite", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let k = &keys[i];
            let hash = ks.hash(k);
            let mut shard = ks.lock(ShardId {
                db: 0,
                shard: ks.shard_of(hash),
            });
            shard
                .insert(hash, k, Value::string(&value), None, 1)
                .is_some()
        })
    });
    group.bench_function("set_with_deadline", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let k = &keys[i];
            let hash = ks.hash(k);
            let mut shard = ks.lock(ShardId {
                db: 0,
                shard: ks.shard_of(hash),
            });
            shard
                .insert(hash, k, Value::string(&value), Some(u64::MAX / 2), 1)
                .is_some()
        })
    });
    group.finish();
}

criterion_group!(benches, set_get);
criterion_main!(benches);
