//! The allocator of the shards' hash indexes: large tables are mapped pages of their own.
//!
//! An index grows by doubling; each growth frees the old table. From jemalloc those pages stay
//! resident until its decay purges them (seconds later, and only while the allocator is busy),
//! so a freshly loaded keyspace carried its old tables in RSS, about 4 bytes a key at 1M keys.
//! A table of `MAPPED_FROM` bytes or more is mapped here and unmapped when freed, giving its
//! pages back at once; smaller ones come from the global allocator. Mapped bytes are counted in
//! `used_memory` (`alloc_counter::note_outside`), as the global allocator's are.

use allocator_api2::alloc::{AllocError, Allocator};
use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

const MAPPED_FROM: usize = 4 << 10;
const PAGE: usize = 4 << 10;

/// Bytes of the tables mapped now (INFO's allocator figures add them to jemalloc's).
static MAPPED: AtomicUsize = AtomicUsize::new(0);

pub fn mapped_bytes() -> usize {
    MAPPED.load(Ordering::Relaxed)
}

/// One index table's allocator. It remembers the table's current block, so a lookup can work
/// out where its probe will land (`probe_lines`) and start loading those lines before it reads
/// them.
#[derive(Default, Debug)]
pub struct IndexAlloc {
    /// Address of the block most recently allocated (the table's, since hashbrown allocates the
    /// new table before freeing the old one when it grows); 0 when the table holds none.
    block: AtomicUsize,
}

/// hashbrown's control group width (the SIMD group it probes at once): SSE2 on x86-64, one
/// `u64` word elsewhere.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
const GROUP_WIDTH: usize = 16;
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
const GROUP_WIDTH: usize = 8;

/// Where a table's probe for `hash` starts: the address of its control byte and of its bucket.
///
/// hashbrown lays a table out as one block: `buckets` elements, padded to the control bytes'
/// alignment, then the control bytes; bucket `i` sits just below them, at `ctrl - (i + 1) *
/// size_of::<T>()` (`tests::probe_lines_match_the_table` checks this against the table). The
/// addresses are hints for prefetching, never dereferenced: should the layout change, a wrong
/// hint costs one wasted load, and that test fails.
#[inline]
pub fn probe_lines<T>(
    table: &hashbrown::HashTable<T, IndexAlloc>,
    hash: u64,
) -> Option<(*const u8, *const u8)> {
    let block = table.allocator().block.load(Ordering::Relaxed);
    let buckets = table.num_buckets();
    if block == 0 || buckets < 2 {
        return None;
    }
    let align = std::mem::align_of::<T>().max(GROUP_WIDTH);
    let ctrl_offset = (buckets * std::mem::size_of::<T>()).next_multiple_of(align);
    let ctrl = (block as *const u8).wrapping_add(ctrl_offset);
    let pos = (hash as usize) & (buckets - 1);
    Some((
        ctrl.wrapping_add(pos),
        ctrl.wrapping_sub((pos + 1) * std::mem::size_of::<T>()),
    ))
}

fn mapped_len(layout: Layout) -> usize {
    layout.size().next_multiple_of(PAGE)
}

// SAFETY: blocks are valid until deallocated, and a block is freed the way it was allocated
// (both decide by the layout's size alone).
unsafe impl Allocator for IndexAlloc {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let block = self.allocate_block(layout)?;
        self.block
            .store(block.cast::<u8>().as_ptr() as usize, Ordering::Relaxed);
        Ok(block)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // Compare-and-clear: freeing an older block (after a growth) leaves the newer one named.
        let _ = self.block.compare_exchange(
            ptr.as_ptr() as usize,
            0,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract, passed on.
        unsafe { self.free_block(ptr, layout) }
    }
}

impl IndexAlloc {
    fn allocate_block(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() < MAPPED_FROM || layout.align() > PAGE {
            let ptr = if layout.size() == 0 {
                // A dangling, well-aligned pointer for a zero-sized block.
                layout.align() as *mut u8
            } else {
                // SAFETY: a non-zero-sized layout.
                unsafe { std::alloc::alloc(layout) }
            };
            let ptr = NonNull::new(ptr).ok_or(AllocError)?;
            return Ok(NonNull::slice_from_raw_parts(ptr, layout.size()));
        }
        let len = mapped_len(layout);
        // SAFETY: an anonymous private mapping: no file, no address hint.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(AllocError);
        }
        crate::alloc_counter::note_outside(len as i64);
        MAPPED.fetch_add(len, Ordering::Relaxed);
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
    }

    /// # Safety
    /// `ptr` came from `allocate_block` with this `layout` and is not freed yet.
    unsafe fn free_block(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() < MAPPED_FROM || layout.align() > PAGE {
            if layout.size() != 0 {
                // SAFETY: the caller's contract: `allocate` got it from the global allocator
                // with this layout.
                unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
            }
            return;
        }
        let len = mapped_len(layout);
        // SAFETY: the caller's contract: `allocate` mapped exactly `len` bytes here.
        let rc = unsafe { libc::munmap(ptr.as_ptr().cast(), len) };
        debug_assert_eq!(rc, 0, "munmap of an index table");
        crate::alloc_counter::note_outside(-(len as i64));
        MAPPED.fetch_sub(len, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_mapped_blocks_round_trip() {
        for size in [
            0,
            16,
            4096,
            MAPPED_FROM - 1,
            MAPPED_FROM,
            3 * MAPPED_FROM + 5,
        ] {
            let layout = Layout::from_size_align(size, 8).unwrap();
            let alloc = IndexAlloc::default();
            let block = alloc.allocate(layout).unwrap();
            assert_eq!(block.len(), size);
            let ptr = block.cast::<u8>();
            // SAFETY: the block is `size` bytes, ours until freed just below.
            unsafe {
                std::ptr::write_bytes(ptr.as_ptr(), 0xa5, size);
                if size > 0 {
                    assert_eq!(*ptr.as_ptr().add(size - 1), 0xa5);
                }
                alloc.deallocate(ptr, layout);
            }
        }
    }

    #[test]
    fn probe_lines_match_the_table() {
        let mut table = hashbrown::HashTable::new_in(IndexAlloc::default());
        let hash = |v: &u32| u64::from(*v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for n in 0..5000u32 {
            table.insert_unique(hash(&n), n, hash);
            // Every 97th insert, and after each growth: each element sits in the bucket
            // `probe_lines` names for the position it was found at.
            if n % 97 != 0 && table.len() != table.capacity() {
                continue;
            }
            for v in (0..=n).step_by(13) {
                let entry = table.find_entry(hash(&v), |x| *x == v).unwrap();
                let at = entry.bucket_index();
                let addr = std::ptr::from_ref(entry.get()).cast::<u8>();
                // The hash whose probe starts exactly at `at` (bucket `at` lies below the
                // control bytes, so this also places the control bytes).
                let (_, bucket_at) = probe_lines(&table, at as u64).unwrap();
                assert_eq!(bucket_at, addr, "bucket {at} of {}", table.num_buckets());
            }
        }
        table.clear();
        table.shrink_to_fit(hash);
        assert!(
            probe_lines(&table, 1).is_none(),
            "an emptied table names no block"
        );
    }
}
