//! The server's global allocator: jemalloc, counting the bytes the program holds, as Redis's
//! zmalloc counts `used_memory`. maxmemory is checked against this count before every command
//! while a limit is set, so reading it must be cheap and must not include memory the program
//! has freed: jemalloc's own `stats.allocated` needs an epoch refresh that merges every arena
//! (microseconds), and it still counts objects parked in each thread's cache.
//!
//! Each thread adds its allocations' usable sizes (jemalloc's size classes) to a thread-local
//! balance and moves it to one shared atomic once it passes `FLUSH_BYTES` either way, so the
//! shared count is within `FLUSH_BYTES` per running thread of the truth and costs one atomic
//! add per few dozen allocations.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};
use tikv_jemallocator::Jemalloc;

/// How far a thread's balance may drift before it is added to the shared count.
const FLUSH_BYTES: i64 = 8 << 10;

/// Bytes held, as flushed by every thread so far (process-wide: the global allocator is).
static HELD: AtomicI64 = AtomicI64::new(0);
/// The part of `HELD` that is the entry arenas' cells (`note_cells`), counted the same way, for
/// INFO's allocator figures (process-wide for the same reason: every shard's entry arena adds to
/// it, from any thread).
static CELLS: AtomicI64 = AtomicI64::new(0);

thread_local! {
    static BALANCE: Balance<false> = const { Balance(Cell::new(0)) };
    static CELL_BALANCE: Balance<true> = const { Balance(Cell::new(0)) };
}

/// A thread's unflushed balance of `HELD` (or, `CELL` true, of `CELLS`); what is left when the
/// thread ends is flushed then.
struct Balance<const CELL: bool>(Cell<i64>);

impl<const CELL: bool> Drop for Balance<CELL> {
    fn drop(&mut self) {
        let shared = if CELL { &CELLS } else { &HELD };
        shared.fetch_add(self.0.replace(0), Ordering::Relaxed);
    }
}

/// Adds `delta` to the thread's balance of `shared`, flushing it past `FLUSH_BYTES`.
fn add<const CELL: bool>(
    balance: &'static std::thread::LocalKey<Balance<CELL>>,
    shared: &AtomicI64,
    delta: i64,
) {
    let flushed = balance.try_with(|b| {
        let balance = b.0.get() + delta;
        if balance.abs() >= FLUSH_BYTES {
            shared.fetch_add(balance, Ordering::Relaxed);
            b.0.set(0);
        } else {
            b.0.set(balance);
        }
    });
    if flushed.is_err() {
        // The thread's balance is already gone (allocations while the thread ends).
        shared.fetch_add(delta, Ordering::Relaxed);
    }
}

fn note(delta: i64) {
    add(&BALANCE, &HELD, delta);
}

/// Counts `delta` bytes taken (or, negative, given back) outside the global allocator: the
/// index tables' own mappings (`keyspace::index_alloc`).
pub fn note_outside(delta: i64) {
    note(delta);
}

/// `note_outside` for the entry arenas' cells (`keyspace::entry_arena`), whose chunks come from
/// mappings of their own; also counted apart for INFO (`cell_bytes`).
pub fn note_cells(delta: i64) {
    note(delta);
    add(&CELL_BALANCE, &CELLS, delta);
}

/// Bytes counted by `note_cells` and not given back, within `FLUSH_BYTES` per running thread.
pub fn cell_bytes() -> u64 {
    CELLS.load(Ordering::Relaxed).max(0) as u64
}

/// jemalloc's largest small size class and its page size (x86-64 builds).
const SMALL_MAX: usize = 14 << 10;
const PAGE: usize = 4 << 10;

/// The bytes jemalloc hands out for a request of this layout: its small size classes are 8,
/// then multiples of 16 up to 128, then four classes per doubling (160, 192, 224, 256, 320,
/// ... 14 KiB); larger requests get whole pages. Alignments above 16 round the request up to
/// the alignment first.
pub fn usable_size(layout: &Layout) -> usize {
    let size = if layout.align() > 16 {
        layout.size().next_multiple_of(layout.align())
    } else {
        layout.size()
    };
    match size {
        0..=8 => 8,
        9..=128 => size.next_multiple_of(16),
        129..=SMALL_MAX => {
            let floor_log2 = usize::BITS - 1 - (size - 1).leading_zeros();
            size.next_multiple_of(1 << (floor_log2 - 2))
        }
        _ => size.next_multiple_of(PAGE),
    }
}

/// Bytes the program holds through the counting allocator, or None when it is not the global
/// allocator (the library's own tests): the callers then fall back to the keyspace's figure.
pub fn held_bytes() -> Option<u64> {
    let held = HELD.load(Ordering::Relaxed);
    (held > 0 && INSTALLED.load(Ordering::Relaxed)).then_some(held as u64)
}

/// Set by the binary that installs `CountingJemalloc` as its global allocator (`mark_installed`).
/// Without it `note_outside` and `note_cells` still count (the index tables, the arenas' cells), but the count is not the
/// program's, so `held_bytes` reports none.
static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Called once at start by a binary whose global allocator is `CountingJemalloc`.
pub fn mark_installed() {
    INSTALLED.store(true, Ordering::Relaxed);
}

/// jemalloc, counting (see the module comment).
pub struct CountingJemalloc;

// SAFETY: every call is forwarded unchanged to jemalloc; counting touches no allocation.
unsafe impl GlobalAlloc for CountingJemalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on.
        let ptr = unsafe { Jemalloc.alloc(layout) };
        if !ptr.is_null() {
            note(usable_size(&layout) as i64);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed` is passed on.
        let ptr = unsafe { Jemalloc.alloc_zeroed(layout) };
        if !ptr.is_null() {
            note(usable_size(&layout) as i64);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(usable_size(&layout) as i64));
        // SAFETY: the caller's contract for `dealloc` is passed on.
        unsafe { Jemalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is passed on.
        let new = unsafe { Jemalloc.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // SAFETY: `realloc`'s contract makes (new_size, old align) a valid layout.
            let grown = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            note(usable_size(&grown) as i64 - usable_size(&layout) as i64);
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_sizes_are_jemallocs_size_classes() {
        let mut sizes: Vec<usize> = (1..=20_000).collect();
        sizes
            .extend((15..32).flat_map(|k| [(1usize << k) - 1, 1 << k, (1 << k) + 1, 3 << (k - 1)]));
        for size in sizes {
            for align in [1, 8, 16, 32, 64] {
                let layout = Layout::from_size_align(size, align).unwrap();
                let flags = if align > 16 {
                    align.trailing_zeros() as i32
                } else {
                    0
                };
                // SAFETY: nallocx only computes a size; it allocates nothing.
                let jemalloc = unsafe { tikv_jemalloc_sys::nallocx(size, flags) };
                assert_eq!(usable_size(&layout), jemalloc, "size {size} align {align}");
            }
        }
    }

    #[test]
    fn the_count_follows_allocations_and_frees() {
        // Another thread, so this thread's balance starts at zero and its end flushes it.
        std::thread::spawn(|| {
            let before = HELD.load(Ordering::Relaxed) + BALANCE.with(|b| b.0.get());
            let layout = Layout::from_size_align(100, 8).unwrap();
            // SAFETY: allocations of a valid non-zero layout, freed with the same layout.
            let ptrs: Vec<*mut u8> = (0..1000)
                .map(|_| unsafe { CountingJemalloc.alloc(layout) })
                .collect();
            let now = || HELD.load(Ordering::Relaxed) + BALANCE.with(|b| b.0.get());
            // The Vec of pointers itself is counted through the test's own allocator, not here.
            assert_eq!(now() - before, 1000 * 112);
            for ptr in ptrs {
                // SAFETY: allocated above with this layout.
                unsafe { CountingJemalloc.dealloc(ptr, layout) };
            }
            assert_eq!(now(), before);
            // SAFETY: a valid layout; the block is freed with the layout realloc gave it.
            unsafe {
                let ptr = CountingJemalloc.alloc(layout);
                let ptr = CountingJemalloc.realloc(ptr, layout, 5000);
                assert_eq!(now() - before, 5120);
                CountingJemalloc.dealloc(ptr, Layout::from_size_align(5000, 8).unwrap());
            }
            assert_eq!(now(), before);
        })
        .join()
        .unwrap();
    }
}
