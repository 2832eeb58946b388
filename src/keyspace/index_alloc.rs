//! The allocator of large hash indexes and slabs: tables past a threshold are mapped pages of
//! their own.
//!
//! An index grows by doubling; each growth frees the old table. From jemalloc those pages stay
//! resident until its decay purges them (seconds later, and only while the allocator is busy),
//! so a freshly loaded keyspace carried its old tables in RSS, about 4 bytes a key at 1M keys.
//! A table of the threshold's size or more is mapped here and unmapped when freed, giving its
//! pages back at once; smaller ones come from the global allocator. Mapped bytes are counted in
//! `used_memory` (`alloc_counter::note_outside`), as the global allocator's are.
//!
//! Two thresholds: the shards' own indexes (`IndexAlloc`, from 4 KiB: a bounded number of
//! tables) and the slab, free list and index of an indexed hash or set (`TableAlloc`, from
//! 1 MiB, a map of about 100 000 elements or more). The hash's and set's tables grew the same
//! way and left the same trail: the old slabs and indexes of a 1M-field hash, 8-16 MB that
//! jemalloc kept dirty after the growth (jemalloc itself unmaps only past 8 MiB). Their threshold
//! is high because their number is not bounded: every mapping is one of the kernel's
//! `vm.max_map_count` areas (65 530 by default), and with 1 MiB or more each that many are
//! 64 GiB of tables. A mapped slab grows with `mremap`, without a copy.

use allocator_api2::alloc::{AllocError, Allocator};
use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `IndexAlloc` maps blocks from this size.
const MAPPED_FROM: usize = 4 << 10;
/// `TableAlloc` maps blocks from this size.
const TABLE_MAPPED_FROM: usize = 1 << 20;
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

/// The control byte and the bucket a probe for `hash` starts at in `table`, from the block
/// its allocator recorded (`table_addr` knows the layout); None while the table has no block.
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
    let ctrl = super::table_addr::ctrl_from_block::<T>(block, buckets);
    Some(super::table_addr::probe_start::<T>(ctrl, buckets, hash))
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
        allocate_block(layout, MAPPED_FROM)
    }

    /// # Safety
    /// `ptr` came from `allocate_block` with this `layout` and is not freed yet.
    unsafe fn free_block(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { free_block(ptr, layout, MAPPED_FROM) }
    }
}

/// True when a block of this layout is mapped (by an allocator mapping from `from` bytes).
fn mapped(layout: Layout, from: usize) -> bool {
    layout.size() >= from && layout.align() <= PAGE
}

/// A block of `layout`: mapped pages of its own from `from` bytes, else the global allocator's.
fn allocate_block(layout: Layout, from: usize) -> Result<NonNull<[u8]>, AllocError> {
    if !mapped(layout, from) {
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
    note_mapped(len as i64);
    let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(AllocError)?;
    Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
}

/// # Safety
/// `ptr` came from `allocate_block` with this `layout` and `from` and is not freed yet.
unsafe fn free_block(ptr: NonNull<u8>, layout: Layout, from: usize) {
    if !mapped(layout, from) {
        if layout.size() != 0 {
            // SAFETY: the caller's contract: `allocate_block` got it from the global allocator
            // with this layout.
            unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
        }
        return;
    }
    let len = mapped_len(layout);
    // SAFETY: the caller's contract: `allocate_block` mapped exactly `len` bytes here.
    let rc = unsafe { libc::munmap(ptr.as_ptr().cast(), len) };
    debug_assert_eq!(rc, 0, "munmap of a mapped table");
    note_mapped(-(len as i64));
}

/// Counts `delta` mapped bytes in used_memory and in `MAPPED`.
fn note_mapped(delta: i64) {
    crate::alloc_counter::note_outside(delta);
    if delta >= 0 {
        MAPPED.fetch_add(delta as usize, Ordering::Relaxed);
    } else {
        MAPPED.fetch_sub(delta.unsigned_abs() as usize, Ordering::Relaxed);
    }
}

/// The allocator of the slabs, free lists and indexes of indexed hashes and sets
/// (`types::compact_map`): mapped from `TABLE_MAPPED_FROM` (1 MiB). Stateless, so a slab's
/// `grow` can remap it.
#[derive(Clone, Copy, Default, Debug)]
pub struct TableAlloc;

// SAFETY: blocks are valid until deallocated, and a block is freed (or resized) the way it was
// allocated (both decide by the layout's size alone).
unsafe impl Allocator for TableAlloc {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        allocate_block(layout, TABLE_MAPPED_FROM)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { free_block(ptr, layout, TABLE_MAPPED_FROM) }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller's contract for `grow`, passed on.
        unsafe { resize_block(ptr, old_layout, new_layout, TABLE_MAPPED_FROM) }
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller's contract for `shrink`, passed on.
        unsafe { resize_block(ptr, old_layout, new_layout, TABLE_MAPPED_FROM) }
    }
}

/// `grow` and `shrink`: a mapped block that stays mapped is remapped (the kernel moves its
/// pages, nothing is copied, and the old range is gone at once), one of the global allocator's
/// that stays there is its `realloc`; a block crossing the threshold is a new block, a copy of
/// the common prefix and the old block's release.
///
/// # Safety
/// `ptr` is a live block from `allocate_block` with `old_layout` and `from`.
unsafe fn resize_block(
    ptr: NonNull<u8>,
    old_layout: Layout,
    new_layout: Layout,
    from: usize,
) -> Result<NonNull<[u8]>, AllocError> {
    let (was_mapped, is_mapped) = (mapped(old_layout, from), mapped(new_layout, from));
    if was_mapped && is_mapped {
        let (old_len, new_len) = (mapped_len(old_layout), mapped_len(new_layout));
        if old_len == new_len {
            return Ok(NonNull::slice_from_raw_parts(ptr, new_layout.size()));
        }
        // SAFETY: `ptr` is a mapping of `old_len` bytes made by `allocate_block`; MAYMOVE lets
        // the kernel place the result anywhere, and the old address is not used again.
        let moved =
            unsafe { libc::mremap(ptr.as_ptr().cast(), old_len, new_len, libc::MREMAP_MAYMOVE) };
        if moved == libc::MAP_FAILED {
            return Err(AllocError);
        }
        note_mapped(new_len as i64 - old_len as i64);
        let moved = NonNull::new(moved.cast::<u8>()).ok_or(AllocError)?;
        return Ok(NonNull::slice_from_raw_parts(moved, new_layout.size()));
    }
    if !was_mapped
        && !is_mapped
        && old_layout.size() != 0
        && new_layout.size() != 0
        && old_layout.align() == new_layout.align()
    {
        // SAFETY: `ptr` came from the global allocator with `old_layout` (a non-zero size below
        // the threshold); the new size is non-zero with the same alignment.
        let moved = unsafe { std::alloc::realloc(ptr.as_ptr(), old_layout, new_layout.size()) };
        let moved = NonNull::new(moved).ok_or(AllocError)?;
        return Ok(NonNull::slice_from_raw_parts(moved, new_layout.size()));
    }
    let new = allocate_block(new_layout, from)?;
    // SAFETY: both blocks are live and distinct; the copy is the smaller of their sizes; the
    // caller's contract lets the old block go.
    unsafe {
        std::ptr::copy_nonoverlapping(
            ptr.as_ptr(),
            new.cast::<u8>().as_ptr(),
            old_layout.size().min(new_layout.size()),
        );
        free_block(ptr, old_layout, from);
    }
    Ok(new)
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

    fn fill_and_check(ptr: NonNull<u8>, size: usize, byte: u8) {
        // SAFETY: the callers pass a live block of at least `size` bytes.
        unsafe {
            std::ptr::write_bytes(ptr.as_ptr(), byte, size);
            if size > 0 {
                assert_eq!(*ptr.as_ptr().add(size - 1), byte);
            }
        }
    }

    #[test]
    fn blocks_keep_their_bytes_across_grow_and_shrink() {
        const FROM: usize = TABLE_MAPPED_FROM;
        // Small to small, small to mapped, mapped to mapped (remapped, a page count up and
        // down, and within one page count), mapped to small.
        let sizes = [
            100,
            5000,
            FROM - 8,
            FROM,
            3 * FROM + 5,
            3 * FROM + 9,
            8 * FROM,
            FROM,
            4000,
            24,
        ];
        let mut layout = Layout::from_size_align(sizes[0], 8).unwrap();
        let mut ptr = TableAlloc.allocate(layout).unwrap().cast::<u8>();
        fill_and_check(ptr, layout.size(), 1);
        for (i, &size) in sizes.iter().enumerate().skip(1) {
            let new_layout = Layout::from_size_align(size, 8).unwrap();
            let kept = layout.size().min(size);
            // SAFETY: `ptr` is the live block of `layout`; the new layout keeps its alignment.
            let block = unsafe {
                if size >= layout.size() {
                    TableAlloc.grow(ptr, layout, new_layout)
                } else {
                    TableAlloc.shrink(ptr, layout, new_layout)
                }
            }
            .unwrap();
            assert_eq!(block.len(), size);
            ptr = block.cast::<u8>();
            // SAFETY: the block is `size` bytes; the first `kept` were written before.
            let prefix = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), kept) };
            assert!(
                prefix.iter().all(|&b| b == i as u8),
                "step {i}: size {size}"
            );
            fill_and_check(ptr, size, i as u8 + 1);
            layout = new_layout;
        }
        // SAFETY: the live block of `layout`.
        unsafe { TableAlloc.deallocate(ptr, layout) };
    }
}
