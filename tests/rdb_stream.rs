//! Loading a dump streams it: the memory a load needs beyond the data it builds is bounded by
//! the read window and one value, not by the file's size. Measured with a counting allocator,
//! which is why this is a test binary of its own (no other test allocates meanwhile).

use ferrocache::config::Config;
use ferrocache::keyspace::Keyspace;
use ferrocache::rdb::{crc64, format, load_stream_through, open_for_load};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        System.dealloc(p, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const VALUE_BYTES: usize = 4096;
const KEYS: usize = 16 * 1024;
const WINDOW: usize = 64 * 1024;

/// Writes a 64 MB dump piece by piece (the test itself never holds the file).
fn write_dump(path: &std::path::Path) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut crc = 0;
    let mut emit = |bytes: &[u8]| {
        crc = crc64::update(crc, bytes);
        out.write_all(bytes).unwrap();
        crc
    };
    emit(b"REDIS0010");
    emit(&[format::opcode::SELECTDB, 0]);
    let mut record = Vec::new();
    let mut value = vec![b'v'; VALUE_BYTES];
    for i in 0..KEYS {
        value[..8].copy_from_slice(&(i as u64).to_le_bytes());
        record.clear();
        record.push(format::kind::STRING);
        format::put_string(&mut record, format!("key:{i}").as_bytes(), false);
        format::put_string(&mut record, &value, false);
        emit(&record);
    }
    let crc = emit(&[format::opcode::EOF]);
    emit(&crc.to_le_bytes());
    out.flush().unwrap();
}

#[test]
fn a_load_needs_the_window_and_one_value_beyond_the_data_it_builds() {
    let dir = std::env::temp_dir().join(format!("fc-rdb-peak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dump.rdb");
    write_dump(&path);
    let ks = Keyspace::new(16, 4);
    let config = Config::default();
    let (file, len) = open_for_load(&path).unwrap();
    assert!(len > 64 << 20, "{len}");

    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
    let stats = load_stream_through(&ks, &config, file, len, WINDOW, 0).unwrap();
    let after = LIVE.load(Ordering::Relaxed);
    let peak = PEAK.load(Ordering::Relaxed);
    assert_eq!(stats.keys_loaded, KEYS as u64);

    // The data built is at least the values; the peak is the data plus transient buffers,
    // which stay a few windows' worth, whatever the file's size.
    assert!(after - before >= KEYS * VALUE_BYTES);
    let transient = peak - after;
    assert!(
        transient < 4 << 20,
        "peak {peak} B, {} B after the load: {transient} B transient for a {len} B file",
        after
    );
    // No single allocation near the file's size: the largest is a shard table or the window.
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest < len / 8, "largest allocation {largest} B");
    std::fs::remove_dir_all(&dir).unwrap();
}
