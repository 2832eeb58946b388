//! Exact-size cells for small entries: a slab allocator with one size class per byte.
//!
//! jemalloc rounds a request up to its size classes (16-byte steps up to 128, then four classes
//! per doubling), so the benchmark key's 120-byte entry (13-byte key, 100-byte value, 7-byte
//! header) would cost 128 bytes. Entries of up to `MAX_CELL` bytes are carved here instead:
//! every length is its own class, and cells are packed back to back in 32 KiB chunks, so an
//! entry costs its length plus its share of one chunk's header and tail. Chunks are carved from
//! 2 MiB mappings of their own rather than asked of jemalloc (whose large allocations carry a
//! page of padding and a metadata record each); a chunk given back has its pages released to
//! the system (`MADV_DONTNEED`) and is reused by the next chunk any class needs.
//!
//! Each class keeps a list of its chunks with room; a chunk keeps a free list of its cells
//! (a freed cell's first two bytes hold the next free cell's number) and a bump position for
//! never-used cells. A chunk whose last cell is freed is given back unless it is the class's
//! only chunk with room. The chunk of a cell is found by masking its address (chunks
//! are aligned to their size). One mutex per class: allocation and free are a few dozen
//! instructions under an uncontended lock; the only lock taken while one is held is the chunk
//! source's, and only when a chunk is taken or given back.
//!
//! `used_memory` counts a cell's exact length (`alloc_counter::note_outside`), not the chunks,
//! so freeing a key lowers it as freeing any allocation does (maxmemory eviction relies on
//! that); the chunks' free cells are in RSS only, like jemalloc's free regions.

use std::ptr::{null_mut, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Largest entry kept here; longer ones are jemalloc allocations.
pub const MAX_CELL: usize = 512;
/// A cell holds at least a free-list link.
const MIN_CELL: usize = 2;
const CHUNK_BYTES: usize = 32 << 10;
/// The chunk header's room at the start of a chunk.
const HEADER_BYTES: usize = std::mem::size_of::<Chunk>();
const NO_CELL: u16 = u16::MAX;

#[repr(C)]
struct Chunk {
    prev: *mut Chunk,
    next: *mut Chunk,
    live: u32,
    cell: u16,
    capacity: u16,
    bump: u16,
    free: u16,
    has_room: bool,
}

struct Class {
    /// Chunks with a free or never-used cell (doubly linked through `Chunk::prev/next`).
    with_room: *mut Chunk,
    /// Cells handed out and not freed.
    live: usize,
}

// SAFETY: the chunk pointers are only followed under the class's mutex.
unsafe impl Send for Class {}

static CLASSES: [Mutex<Class>; MAX_CELL + 1] = [const {
    Mutex::new(Class {
        with_room: null_mut(),
        live: 0,
    })
}; MAX_CELL + 1];

/// Where chunks come from: the unused rest of the last mapping, and chunks given back.
struct ChunkSource {
    next: usize,
    end: usize,
    given_back: Vec<usize>,
}

static CHUNKS: Mutex<ChunkSource> = Mutex::new(ChunkSource {
    next: 0,
    end: 0,
    given_back: Vec::new(),
});
const MAPPING_BYTES: usize = 2 << 20;
/// Chunks handed to size classes and not given back.
static CHUNKS_IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Bytes of the chunks in use (INFO's allocator_active and _resident add them to jemalloc's).
pub fn chunk_bytes() -> usize {
    CHUNKS_IN_USE.load(Ordering::Relaxed) * CHUNK_BYTES
}

/// Bytes of the cells in use (INFO's allocator_allocated adds them to jemalloc's). Takes every
/// class's lock in turn: for INFO and MEMORY, not for a hot path.
pub fn cell_bytes_in_use() -> usize {
    (MIN_CELL..=MAX_CELL).map(|len| lock(len).live * len).sum()
}

/// A fresh chunk, aligned to `CHUNK_BYTES`, its pages zero or untouched.
fn take_chunk() -> *mut Chunk {
    let mut source = CHUNKS.lock().unwrap_or_else(|p| p.into_inner());
    CHUNKS_IN_USE.fetch_add(1, Ordering::Relaxed);
    if let Some(chunk) = source.given_back.pop() {
        return chunk as *mut Chunk;
    }
    if source.next == source.end {
        let len = MAPPING_BYTES + CHUNK_BYTES;
        // SAFETY: an anonymous private mapping: no file, no address hint.
        let base = unsafe {
            libc::mmap(
                null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            let layout = std::alloc::Layout::from_size_align(CHUNK_BYTES, CHUNK_BYTES)
                .expect("a valid chunk layout");
            std::alloc::handle_alloc_error(layout);
        }
        // The mapping is page-aligned; chunks start at the first `CHUNK_BYTES` boundary (the
        // few pages before it and after the last chunk are never touched, so cost no RSS).
        let start = (base as usize).next_multiple_of(CHUNK_BYTES);
        source.next = start;
        source.end = start + MAPPING_BYTES;
    }
    let chunk = source.next;
    source.next += CHUNK_BYTES;
    chunk as *mut Chunk
}

/// Gives a chunk with no live cell back: its pages go back to the system.
///
/// SAFETY: `chunk` came from `take_chunk` and nothing refers to it any more.
unsafe fn give_back(chunk: *mut Chunk) {
    // SAFETY: the chunk's pages are ours and unused; after MADV_DONTNEED they read as zeros.
    unsafe { libc::madvise(chunk.cast(), CHUNK_BYTES, libc::MADV_DONTNEED) };
    CHUNKS_IN_USE.fetch_sub(1, Ordering::Relaxed);
    CHUNKS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .given_back
        .push(chunk as usize);
}

/// The bytes an entry of `len` bytes takes, as `used_memory` and MEMORY USAGE count them.
pub fn cell_bytes(len: usize) -> usize {
    if len <= MAX_CELL {
        len.max(MIN_CELL)
    } else {
        super::value::alloc_size(len)
    }
}

fn lock(len: usize) -> std::sync::MutexGuard<'static, Class> {
    CLASSES[len]
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Links `chunk` at the head of the class's list of chunks with room.
///
/// SAFETY: `chunk` is a live chunk of this class, not in the list; the class lock is held.
unsafe fn link(class: &mut Class, chunk: *mut Chunk) {
    unsafe {
        (*chunk).prev = null_mut();
        (*chunk).next = class.with_room;
        if !class.with_room.is_null() {
            (*class.with_room).prev = chunk;
        }
        class.with_room = chunk;
        (*chunk).has_room = true;
    }
}

/// Unlinks `chunk` from the class's list.
///
/// SAFETY: `chunk` is in the class's list; the class lock is held.
unsafe fn unlink(class: &mut Class, chunk: *mut Chunk) {
    unsafe {
        let (prev, next) = ((*chunk).prev, (*chunk).next);
        if prev.is_null() {
            class.with_room = next;
        } else {
            (*prev).next = next;
        }
        if !next.is_null() {
            (*next).prev = prev;
        }
        (*chunk).has_room = false;
    }
}

fn cell_at(chunk: *mut Chunk, cell: u16, index: u16) -> *mut u8 {
    chunk
        .cast::<u8>()
        .wrapping_add(HEADER_BYTES + usize::from(cell) * usize::from(index))
}

/// A cell of exactly `len` bytes (`len <= MAX_CELL`).
pub fn alloc(len: usize) -> NonNull<u8> {
    debug_assert!(len <= MAX_CELL);
    let len = len.max(MIN_CELL);
    let mut class = lock(len);
    if class.with_room.is_null() {
        let chunk = take_chunk();
        // SAFETY: a fresh chunk aligned for and larger than `Chunk`; linked under the lock.
        unsafe {
            chunk.write(Chunk {
                prev: null_mut(),
                next: null_mut(),
                live: 0,
                cell: len as u16,
                capacity: ((CHUNK_BYTES - HEADER_BYTES) / len) as u16,
                bump: 0,
                free: NO_CELL,
                has_room: false,
            });
            link(&mut class, chunk);
        }
    }
    let chunk = class.with_room;
    // SAFETY: `chunk` is a live chunk of this class (it is in the list), owned by the list
    // while the lock is held; the cell taken lies inside it.
    let ptr = unsafe {
        let c = &mut *chunk;
        let index = if c.free != NO_CELL {
            let index = c.free;
            let at = cell_at(chunk, c.cell, index);
            c.free = u16::from_le_bytes([*at, *at.add(1)]);
            index
        } else {
            c.bump += 1;
            c.bump - 1
        };
        c.live += 1;
        if c.free == NO_CELL && c.bump == c.capacity {
            unlink(&mut class, chunk);
        }
        cell_at(chunk, c.cell, index)
    };
    class.live += 1;
    drop(class);
    crate::alloc_counter::note_outside(len as i64);
    // SAFETY: a cell address inside a live chunk is not null.
    unsafe { NonNull::new_unchecked(ptr) }
}

/// Frees a cell `alloc(len)` returned.
///
/// # Safety
/// `ptr` came from `alloc(len)` with this very `len` and is freed once.
pub unsafe fn free(ptr: NonNull<u8>, len: usize) {
    let len = len.max(MIN_CELL);
    let chunk = (ptr.as_ptr() as usize & !(CHUNK_BYTES - 1)) as *mut Chunk;
    let mut class = lock(len);
    // SAFETY: the caller's contract: the cell belongs to a live chunk of this class, whose
    // header starts at the chunk-aligned address below it; changed under the class lock.
    unsafe {
        let c = &mut *chunk;
        debug_assert_eq!(usize::from(c.cell), len);
        let index = ((ptr.as_ptr() as usize - chunk as usize - HEADER_BYTES) / len) as u16;
        let link_bytes = c.free.to_le_bytes();
        *ptr.as_ptr() = link_bytes[0];
        *ptr.as_ptr().add(1) = link_bytes[1];
        c.free = index;
        c.live -= 1;
        if !c.has_room {
            link(&mut class, chunk);
        }
        if c.live == 0 && !(c.prev.is_null() && c.next.is_null()) {
            unlink(&mut class, chunk);
            give_back(chunk);
        }
    }
    class.live -= 1;
    drop(class);
    crate::alloc_counter::note_outside(-(len as i64));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_exact_reused_and_chunks_released() {
        // A length no other test uses, so this test owns the class.
        const LEN: usize = 509;
        let per_chunk = (CHUNK_BYTES - HEADER_BYTES) / LEN;
        let cells: Vec<NonNull<u8>> = (0..per_chunk * 3 + 1)
            .map(|i| {
                let p = alloc(LEN);
                // SAFETY: the cell is LEN bytes long and ours.
                unsafe { std::ptr::write_bytes(p.as_ptr(), i as u8, LEN) };
                p
            })
            .collect();
        for (i, p) in cells.iter().enumerate() {
            // SAFETY: as above; cells do not overlap, so each still holds its own byte.
            let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), LEN) };
            assert!(bytes.iter().all(|&b| b == i as u8));
        }
        let mut addrs: Vec<usize> = cells.iter().map(|p| p.as_ptr() as usize).collect();
        addrs.sort_unstable();
        // Neighbours in a chunk are exactly LEN apart: no rounding.
        assert!(addrs.windows(2).any(|w| w[1] - w[0] == LEN));
        let freed = cells[5];
        // SAFETY: allocated above with LEN, freed once.
        unsafe { free(freed, LEN) };
        assert_eq!(alloc(LEN), freed, "a freed cell is handed out again");
        for p in cells {
            // SAFETY: each allocated above with LEN and freed once (cell 5 was re-allocated).
            unsafe { free(p, LEN) };
        }
        // Every chunk but one went back: one chunk with room remains.
        let class = lock(LEN);
        assert!(!class.with_room.is_null());
        // SAFETY: read under the class lock.
        unsafe {
            assert!((*class.with_room).next.is_null());
            assert_eq!((*class.with_room).live, 0);
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(cell_bytes(120), 120);
        assert_eq!(cell_bytes(1), 2);
        assert_eq!(cell_bytes(MAX_CELL + 1), 640);
    }
}
