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

#[derive(Clone, Copy, Default, Debug)]
pub struct IndexAlloc;

fn mapped_len(layout: Layout) -> usize {
    layout.size().next_multiple_of(PAGE)
}

// SAFETY: blocks are valid until deallocated, and a block is freed the way it was allocated
// (both decide by the layout's size alone).
unsafe impl Allocator for IndexAlloc {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
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

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
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
            let block = IndexAlloc.allocate(layout).unwrap();
            assert_eq!(block.len(), size);
            let ptr = block.cast::<u8>();
            // SAFETY: the block is `size` bytes, ours until freed just below.
            unsafe {
                std::ptr::write_bytes(ptr.as_ptr(), 0xa5, size);
                if size > 0 {
                    assert_eq!(*ptr.as_ptr().add(size - 1), 0xa5);
                }
                IndexAlloc.deallocate(ptr, layout);
            }
        }
    }
}
