//! The fuzz targets (src/fuzz_api.rs) as a bounded property run in `cargo test`: every seed of
//! tests/fuzz/seeds/<target>/ as it is, then a fixed budget of random inputs and inputs mutated
//! from the seeds (bit flips, byte changes, inserted and deleted runs, splices of two seeds,
//! interesting integers). A failure is shrunk by proptest and printed as the smallest input.
//!
//! The random stream is fixed, so CI runs the same inputs every time; `FUZZ_PROPS_SEED=<n>`
//! picks another stream and `FUZZ_PROPS_CASES=<n>` another budget per target for a longer run
//! (the coverage-guided soak is tests/fuzz/soak.sh). This binary installs the fuzz allocator,
//! which is what lets the targets check their peak allocation per input.

use ferrocache::fuzz_api;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

#[global_allocator]
static ALLOC: fuzz_api::alloc::LimitAlloc = fuzz_api::alloc::LimitAlloc;

type Target = fn(&[u8]) -> Result<(), String>;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/seeds")
        .join(target);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    /// Bytes of another seed put in at a position.
    Splice(Index, Index, Index, usize),
    /// A run of the input repeated in place (lengths, nesting).
    Repeat(Index, usize, u8),
    /// A decimal number written over the input (lengths, counts, integers).
    Number(Index, i64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        Just(0i64),
        Just(-1),
        Just(1),
        Just(i64::MAX),
        Just(i64::MIN),
        Just(i32::MAX as i64 + 1),
        Just(u32::MAX as i64),
        Just(512 << 20),
        any::<i16>().prop_map(i64::from),
    ];
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        3 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        2 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), any::<Index>(), any::<Index>(), 1usize..256)
            .prop_map(|(a, b, c, n)| Mutation::Splice(a, b, c, n)),
        1 => (any::<Index>(), 1usize..32, 2u8..8).prop_map(|(i, n, k)| Mutation::Repeat(i, n, k)),
        2 => (any::<Index>(), interesting).prop_map(|(i, n)| Mutation::Number(i, n)),
    ]
}

fn apply(seeds: &[Vec<u8>], seed: &Index, mutations: &[Mutation]) -> Vec<u8> {
    let mut data = seed.get(seeds).clone();
    // Positions index the input as it is when the mutation applies (one past the end too).
    let at = |i: &Index, data: &Vec<u8>| i.index(data.len() + 1);
    for m in mutations {
        match m {
            Mutation::FlipBit(i, b) if !data.is_empty() => {
                let i = i.index(data.len());
                data[i] ^= 1 << b;
            }
            Mutation::SetByte(i, v) if !data.is_empty() => {
                let i = i.index(data.len());
                data[i] = *v;
            }
            Mutation::Insert(i, v) => {
                let i = at(i, &data);
                data.splice(i..i, v.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let i = at(i, &data);
                let end = (i + n).min(data.len());
                data.drain(i..end);
            }
            Mutation::Splice(i, other, from, n) => {
                let other = other.get(seeds);
                let from = from.index(other.len() + 1);
                let piece = &other[from..(from + n).min(other.len())];
                let i = at(i, &data);
                data.splice(i..i, piece.iter().copied());
            }
            Mutation::Repeat(i, n, k) => {
                let i = at(i, &data);
                let run = data[i..(i + n).min(data.len())].to_vec();
                for _ in 1..*k {
                    data.splice(i..i, run.iter().copied());
                }
            }
            Mutation::Number(i, n) => {
                let i = at(i, &data);
                let text = n.to_string().into_bytes();
                let end = (i + text.len()).min(data.len());
                data.splice(i..end, text);
            }
            _ => {}
        }
    }
    data
}

fn inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512),
        4 => (any::<Index>(), prop::collection::vec(mutation(), 1..8))
            .prop_map(move |(seed, ms)| apply(&seeds, &seed, &ms)),
    ]
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn check(name: &str, target: Target, cases: u32) {
    let seeds = seeds(name);
    for (i, seed) in seeds.iter().enumerate() {
        if let Err(broken) = target(seed) {
            panic!("{name} seed {i}: {broken}");
        }
    }
    let stream = env_u64("FUZZ_PROPS_SEED").unwrap_or(0x5eed);
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&stream.to_le_bytes());
    key[8..8 + name.len().min(24)].copy_from_slice(&name.as_bytes()[..name.len().min(24)]);
    let config = Config {
        cases: env_u64("FUZZ_PROPS_CASES").map_or(cases, |n| n as u32),
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
    let result = runner.run(&inputs(seeds), |data| {
        target(&data).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{name} (FUZZ_PROPS_SEED={stream}): {e}");
    }
}

#[test]
fn request_decoder_inputs() {
    check("request", fuzz_api::request, 3000);
}

#[test]
fn restore_payloads() {
    check("restore", fuzz_api::restore, 1500);
}

#[test]
fn rdb_files() {
    check("rdb", fuzz_api::rdb_file, 400);
}

#[test]
fn aof_files_and_manifests() {
    check("aof", fuzz_api::aof, 400);
}

#[test]
fn config_files() {
    check("config", fuzz_api::config, 1000);
}

#[test]
fn acl_rules_and_files() {
    check("acl", fuzz_api::acl, 2000);
}

/// The memory property is only as good as the counting: an allocation made during a parse is
/// seen at its full size, and one freed before is not.
#[test]
fn the_allocation_count_sees_a_parse_allocating() {
    let held = vec![1u8; 4 << 20];
    let (len, peak) =
        fuzz_api::alloc::peak_during(|| std::hint::black_box(vec![0u8; 32 << 20]).len());
    assert_eq!(len, 32 << 20);
    let peak = peak.expect("LimitAlloc is this binary's allocator");
    assert!((32 << 20..33 << 20).contains(&peak), "{peak}");
    drop(held);
    let (_, peak) = fuzz_api::alloc::peak_during(|| ());
    assert!(peak.unwrap() < 1 << 20);
}

#[test]
fn bitfield_and_sort_arguments() {
    check("command_args", fuzz_api::command_args, 3000);
}
