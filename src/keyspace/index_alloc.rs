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

const PAGE: usize = 4 << 10;

/// Bytes of the tables mapped now (INFO's allocator figures add them to jemalloc's).
static MAPPED: AtomicUsize = AtomicUsize::new(0);

pub fn mapped_bytes() -> usize {
    MAPPED.load(Ordering::Relaxed)
}

/// Blocks of `FROM` bytes or more are mapped pages of their own; smaller ones come from the
/// global allocator.
#[derive(Clone, Copy, Default, Debug)]
struct MappedAlloc<const FROM: usize>;

/// A `MappedAlloc` with its threshold, as a unit struct of its own (a value, unlike an alias).
macro_rules! mapped_alloc {
    ($(#[$doc:meta])* $name:ident, $from:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, Debug)]
        pub struct $name;

        // SAFETY: every call is passed on to the same `MappedAlloc`, which keeps the contract.
        unsafe impl Allocator for $name {
            fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
                MappedAlloc::<{ $from }>.allocate(layout)
            }

            unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
                // SAFETY: the caller's contract is passed on.
                unsafe { MappedAlloc::<{ $from }>.deallocate(ptr, layout) }
            }

            unsafe fn grow(
                &self,
                ptr: NonNull<u8>,
                old_layout: Layout,
                new_layout: Layout,
            ) -> Result<NonNull<[u8]>, AllocError> {
                // SAFETY: the caller's contract is passed on.
                unsafe { MappedAlloc::<{ $from }>.grow(ptr, old_layout, new_layout) }
            }

            unsafe fn shrink(
                &self,
                ptr: NonNull<u8>,
                old_layout: Layout,
                new_layout: Layout,
            ) -> Result<NonNull<[u8]>, AllocError> {
                // SAFETY: the caller's contract is passed on.
                unsafe { MappedAlloc::<{ $from }>.shrink(ptr, old_layout, new_layout) }
            }
        }
    };
}

mapped_alloc!(
    /// The shards' indexes: mapped from 4 KiB.
    IndexAlloc,
    4 << 10
);
mapped_alloc!(
    /// The slabs, free lists and indexes of indexed hashes and sets (`types::compact_map`):
    /// mapped from 1 MiB.
    TableAlloc,
    1 << 20
);

fn mapped_len(layout: Layout) -> usize {
    layout.size().next_multiple_of(PAGE)
}

impl<const FROM: usize> MappedAlloc<FROM> {
    /// True when a block of this layout is (or would be) mapped.
    fn mapped(layout: Layout) -> bool {
        layout.size() >= FROM && layout.align() <= PAGE
    }
}

// SAFETY: blocks are valid until deallocated, and a block is freed the way it was allocated
// (both decide by the layout's size alone).
unsafe impl<const FROM: usize> Allocator for MappedAlloc<FROM> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if !Self::mapped(layout) {
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

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if !Self::mapped(layout) {
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

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller's contract for `grow` is passed on.
        unsafe { self.resize(ptr, old_layout, new_layout) }
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller's contract for `shrink` is passed on.
        unsafe { self.resize(ptr, old_layout, new_layout) }
    }
}

impl<const FROM: usize> MappedAlloc<FROM> {
    /// `grow` and `shrink`: a mapped block that stays mapped is remapped (the kernel moves its
    /// pages, nothing is copied, and the old range is gone at once), one of the global
    /// allocator's that stays there is its `realloc`; a block crossing the threshold is a new
    /// block, a copy of the common prefix and the old block's release.
    ///
    /// # Safety
    /// `ptr` is a live block of this allocator allocated with `old_layout`, and `new_layout` has
    /// the same alignment.
    unsafe fn resize(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if Self::mapped(old_layout) && Self::mapped(new_layout) {
            let (old_len, new_len) = (mapped_len(old_layout), mapped_len(new_layout));
            if old_len != new_len {
                // SAFETY: `ptr` is a mapping of `old_len` bytes made by `allocate`; MAYMOVE
                // lets the kernel place the result anywhere, and the old address is not used
                // again on success.
                let moved = unsafe {
                    libc::mremap(ptr.as_ptr().cast(), old_len, new_len, libc::MREMAP_MAYMOVE)
                };
                if moved == libc::MAP_FAILED {
                    return Err(AllocError);
                }
                let delta = new_len as i64 - old_len as i64;
                crate::alloc_counter::note_outside(delta);
                if delta >= 0 {
                    MAPPED.fetch_add(delta as usize, Ordering::Relaxed);
                } else {
                    MAPPED.fetch_sub(delta.unsigned_abs() as usize, Ordering::Relaxed);
                }
                let moved = NonNull::new(moved.cast::<u8>()).ok_or(AllocError)?;
                return Ok(NonNull::slice_from_raw_parts(moved, new_layout.size()));
            }
            return Ok(NonNull::slice_from_raw_parts(ptr, new_layout.size()));
        }
        if !Self::mapped(old_layout)
            && !Self::mapped(new_layout)
            && old_layout.size() != 0
            && new_layout.size() != 0
            && old_layout.align() == new_layout.align()
        {
            // SAFETY: `ptr` came from the global allocator with `old_layout` (a non-zero size
            // below the threshold); the new size is non-zero with the same alignment.
            let moved = unsafe { std::alloc::realloc(ptr.as_ptr(), old_layout, new_layout.size()) };
            let moved = NonNull::new(moved).ok_or(AllocError)?;
            return Ok(NonNull::slice_from_raw_parts(moved, new_layout.size()));
        }
        let new = self.allocate(new_layout)?;
        // SAFETY: both blocks are live and distinct; the copy is the smaller of their sizes;
        // the caller's contract lets the old block go.
        unsafe {
            std::ptr::copy_nonoverlapping(
                ptr.as_ptr(),
                new.cast::<u8>().as_ptr(),
                old_layout.size().min(new_layout.size()),
            );
            self.deallocate(ptr, old_layout);
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn small_and_mapped_blocks_round_trip() {
        const FROM: usize = 4 << 10;
        for size in [0, 16, 4096, FROM - 1, FROM, 3 * FROM + 5] {
            let layout = Layout::from_size_align(size, 8).unwrap();
            let block = IndexAlloc.allocate(layout).unwrap();
            assert_eq!(block.len(), size);
            let ptr = block.cast::<u8>();
            fill_and_check(ptr, size, 0xa5);
            // SAFETY: the block is `size` bytes, ours until freed here.
            unsafe { IndexAlloc.deallocate(ptr, layout) };
        }
    }

    #[test]
    fn blocks_keep_their_bytes_across_grow_and_shrink() {
        const FROM: usize = 1 << 20;
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
