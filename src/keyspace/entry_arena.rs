//! Exact-size cells for small entries: a slab allocator with one size class per byte, one
//! arena per keyspace shard.
//!
//! jemalloc rounds a request up to its size classes (16-byte steps up to 128, then four classes
//! per doubling), so the benchmark key's 120-byte entry (13-byte key, 100-byte value, 7-byte
//! header) would cost 128 bytes. Entries of up to `MAX_CELL` bytes are carved here instead:
//! every length is its own class, and cells are packed back to back in 32 KiB chunks, so an
//! entry costs its length plus its share of one chunk's header and tail. Chunks are carved from
//! 2 MiB mappings of their own rather than asked of jemalloc (whose large allocations carry a
//! page of padding and a metadata record each); a chunk given back has its pages released to
//! the system (`MADV_DONTNEED`) and is reused by the next chunk any arena needs.
//!
//! Each shard owns an `Arena`: its own table of classes behind its own lock, so writers on
//! different shards never share a lock or a cache line here (one process-wide lock per class
//! made every SET of equal-length keys, from every worker thread, take the same mutex). The
//! shard's lock already serialises its own allocations, so the arena's lock is uncontended
//! except when a cell is freed from elsewhere: an entry moved to another shard (RENAME, MOVE,
//! SWAPDB), kept by a snapshot, or dropped by a background thread. Such a free needs no handle:
//! each chunk's header names its owning arena, found by masking the cell's address (chunks are
//! aligned to their size), and the free takes that arena's lock.
//!
//! Each class keeps a list of its chunks with room; a chunk keeps a free list of its cells
//! (a freed cell's first two bytes hold the next free cell's number) and a bump position for
//! never-used cells. A chunk whose last cell is freed is given back unless it is the class's
//! only chunk with room. Lock order: an arena's lock, then the chunk source's (only when a chunk
//! is taken or given back); no other lock is taken while an arena's is held.
//!
//! An arena outlives its `Arena` handle while any of its cells is alive (a shard dropped at
//! FLUSHALL, SWAPDB or shutdown while its entries are still held elsewhere): the handle's drop
//! marks it orphaned and gives back its empty chunks; the free that empties its last chunk
//! frees it. Both decisions are taken under its lock, so exactly one side frees it.
//!
//! `used_memory` counts a cell's exact length (`alloc_counter::note_cells`), not the chunks,
//! so freeing a key lowers it as freeing any allocation does (maxmemory eviction relies on
//! that); the chunks' free cells are in RSS only, like jemalloc's free regions.

use std::ptr::{null_mut, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

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
    /// The arena whose class list this chunk belongs to. Written when the chunk is taken,
    /// before any of its cells is handed out, and unchanged until it is given back; every
    /// other field is read and written under that arena's lock only.
    owner: *const Inner,
    prev: *mut Chunk,
    next: *mut Chunk,
    live: u32,
    cell: u16,
    capacity: u16,
    bump: u16,
    free: u16,
    has_room: bool,
}

/// An arena's shared part: what its chunks point to.
struct Inner {
    state: Mutex<State>,
    source: &'static ChunkSource,
    #[cfg(test)]
    probe: Option<std::sync::Arc<tests::Probe>>,
}

struct State {
    /// Per class, the chunks with a free or never-used cell (doubly linked through
    /// `Chunk::prev/next`). Empty until the arena's first allocation: most shards of most
    /// databases never hold a key.
    with_room: Box<[*mut Chunk]>,
    /// Chunks taken and not given back.
    chunks: usize,
    /// Cleared when the owning `Arena` handle is dropped (see the module comment).
    owned: bool,
}

// SAFETY: the chunk pointers are only followed under the arena's lock, which owns the chunks'
// headers; the chunks are plain memory any thread may touch.
unsafe impl Send for State {}

/// A shard's entry arena (see the module comment). Not `Clone`: one owner; cells carry their
/// arena in their chunk's header, so freeing needs no handle.
pub struct Arena {
    inner: NonNull<Inner>,
}

// SAFETY: every access to the shared part goes through its mutex; the handle is only a pointer
// to it, kept alive as the module comment says.
unsafe impl Send for Arena {}
// SAFETY: as above: `&Arena` only locks the mutex.
unsafe impl Sync for Arena {}

impl Default for Arena {
    fn default() -> Arena {
        Arena::new()
    }
}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena").finish_non_exhaustive()
    }
}

/// Where chunks come from: the unused rest of the last mapping, and chunks given back. One per
/// process (`CHUNKS`), shared by every arena: touched once per 32 KiB chunk, not per cell.
struct ChunkSource {
    spare: Mutex<Spare>,
    /// Chunks handed to arenas and not given back.
    in_use: AtomicUsize,
}

struct Spare {
    next: usize,
    end: usize,
    given_back: Vec<usize>,
}

/// The process's chunk source. A process-wide static because it is the allocator's page source:
/// mappings and given-back chunks are shared by every shard's arena (as jemalloc's are by its
/// arenas), so a chunk one shard frees is reused by any other, and INFO reads one figure.
static CHUNKS: ChunkSource = ChunkSource::new();
const MAPPING_BYTES: usize = 2 << 20;

/// Bytes of the chunks in use (INFO's allocator_active and _resident add them to jemalloc's).
pub fn chunk_bytes() -> usize {
    CHUNKS.in_use.load(Ordering::Relaxed) * CHUNK_BYTES
}

/// Bytes of the cells in use (INFO's allocator_allocated adds them to jemalloc's): the count
/// `alloc_counter::note_cells` keeps, within a few KiB per thread of the truth.
pub fn cell_bytes_in_use() -> usize {
    crate::alloc_counter::cell_bytes() as usize
}

impl ChunkSource {
    const fn new() -> ChunkSource {
        ChunkSource {
            spare: Mutex::new(Spare {
                next: 0,
                end: 0,
                given_back: Vec::new(),
            }),
            in_use: AtomicUsize::new(0),
        }
    }

    /// A fresh chunk, aligned to `CHUNK_BYTES`, its pages zero or untouched.
    fn take(&self) -> *mut Chunk {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        self.in_use.fetch_add(1, Ordering::Relaxed);
        if let Some(chunk) = spare.given_back.pop() {
            return chunk as *mut Chunk;
        }
        if spare.next == spare.end {
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
            // The mapping is page-aligned; chunks start at the first `CHUNK_BYTES` boundary
            // (the few pages before it and after the last chunk are never touched, so cost no
            // RSS).
            let start = (base as usize).next_multiple_of(CHUNK_BYTES);
            spare.next = start;
            spare.end = start + MAPPING_BYTES;
        }
        let chunk = spare.next;
        spare.next += CHUNK_BYTES;
        chunk as *mut Chunk
    }

    /// Takes back a chunk with no live cell: its pages go back to the system.
    ///
    /// SAFETY: `chunk` came from `take` of this source and nothing refers to it any more.
    unsafe fn give_back(&self, chunk: *mut Chunk) {
        // SAFETY: the chunk's pages are ours and unused; after MADV_DONTNEED they read as zeros.
        unsafe { libc::madvise(chunk.cast(), CHUNK_BYTES, libc::MADV_DONTNEED) };
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        self.spare
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .given_back
            .push(chunk as usize);
    }
}

/// The bytes an entry of `len` bytes takes, as `used_memory` and MEMORY USAGE count them.
pub fn cell_bytes(len: usize) -> usize {
    if len <= MAX_CELL {
        len.max(MIN_CELL)
    } else {
        super::value::alloc_size(len)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives back a chunk with no live cell, taken out of its class list first if it is in it.
    ///
    /// SAFETY: `chunk` is one of this arena's chunks with `live == 0`; `state` is its lock.
    unsafe fn retire(&self, state: &mut State, chunk: *mut Chunk) {
        // SAFETY: the caller's contract.
        unsafe {
            if (*chunk).has_room {
                unlink(state, chunk);
            }
            self.source.give_back(chunk);
        }
        state.chunks -= 1;
        #[cfg(test)]
        if let Some(probe) = &self.probe {
            probe.given_back.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Frees an orphaned arena's shared part once it holds no chunk.
///
/// SAFETY: `inner` came from `Arena::with_source`'s box, its handle is gone (`owned` false) and
/// it holds no chunk, so nothing else refers to it; called once, without its lock held.
unsafe fn release(inner: NonNull<Inner>) {
    // SAFETY: the caller's contract.
    let inner = unsafe { Box::from_raw(inner.as_ptr()) };
    #[cfg(test)]
    if let Some(probe) = &inner.probe {
        probe.released.store(true, Ordering::Relaxed);
    }
    drop(inner);
}

impl Arena {
    pub fn new() -> Arena {
        Arena::with_source(&CHUNKS)
    }

    fn with_source(source: &'static ChunkSource) -> Arena {
        let inner = Box::new(Inner {
            state: Mutex::new(State {
                with_room: Box::new([]),
                chunks: 0,
                owned: true,
            }),
            source,
            #[cfg(test)]
            probe: None,
        });
        Arena {
            inner: NonNull::from(Box::leak(inner)),
        }
    }

    fn inner(&self) -> &Inner {
        // SAFETY: the shared part lives at least as long as its handle (module comment).
        unsafe { self.inner.as_ref() }
    }

    /// A cell of exactly `len` bytes (`len <= MAX_CELL`), owned by this arena until `free`.
    pub fn alloc(&self, len: usize) -> NonNull<u8> {
        debug_assert!(len <= MAX_CELL);
        let len = len.max(MIN_CELL);
        let inner = self.inner();
        let mut state = inner.lock();
        if state.with_room.is_empty() {
            state.with_room = vec![null_mut(); MAX_CELL + 1].into_boxed_slice();
        }
        if state.with_room[len].is_null() {
            let chunk = inner.source.take();
            state.chunks += 1;
            // SAFETY: a fresh chunk aligned for and larger than `Chunk`; linked under the lock.
            unsafe {
                chunk.write(Chunk {
                    owner: inner,
                    prev: null_mut(),
                    next: null_mut(),
                    live: 0,
                    cell: len as u16,
                    capacity: ((CHUNK_BYTES - HEADER_BYTES) / len) as u16,
                    bump: 0,
                    free: NO_CELL,
                    has_room: false,
                });
                link(&mut state, chunk);
            }
        }
        let chunk = state.with_room[len];
        // SAFETY: `chunk` is a live chunk of this class (it is in the list), owned by this
        // arena whose lock is held; the cell taken lies inside it.
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
                unlink(&mut state, chunk);
            }
            cell_at(chunk, c.cell, index)
        };
        drop(state);
        crate::alloc_counter::note_cells(len as i64);
        // SAFETY: a cell address inside a live chunk is not null.
        unsafe { NonNull::new_unchecked(ptr) }
    }

    #[cfg(test)]
    fn chunks(&self) -> usize {
        self.inner().lock().chunks
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        let inner = self.inner();
        let mut state = inner.lock();
        state.owned = false;
        // The chunks kept empty for the next allocation go back now; chunks with live cells
        // go back when their last cell is freed (`free` gives back every empty chunk of an
        // orphaned arena).
        for class in 0..state.with_room.len() {
            let mut chunk = state.with_room[class];
            while !chunk.is_null() {
                // SAFETY: chunks in this arena's lists, under its lock.
                unsafe {
                    let next = (*chunk).next;
                    if (*chunk).live == 0 {
                        inner.retire(&mut state, chunk);
                    }
                    chunk = next;
                }
            }
        }
        let last = state.chunks == 0;
        drop(state);
        if last {
            // SAFETY: orphaned and without chunks: no cell and no handle refers to it.
            unsafe { release(self.inner) }
        }
    }
}

/// Links `chunk` at the head of its class's list of chunks with room.
///
/// SAFETY: `chunk` is a live chunk of this arena, not in the list; the arena's lock is held.
unsafe fn link(state: &mut State, chunk: *mut Chunk) {
    unsafe {
        let head = &mut state.with_room[usize::from((*chunk).cell)];
        (*chunk).prev = null_mut();
        (*chunk).next = *head;
        if !head.is_null() {
            (**head).prev = chunk;
        }
        *head = chunk;
        (*chunk).has_room = true;
    }
}

/// Unlinks `chunk` from its class's list.
///
/// SAFETY: `chunk` is in the list of its class of this arena; the arena's lock is held.
unsafe fn unlink(state: &mut State, chunk: *mut Chunk) {
    unsafe {
        let (prev, next) = ((*chunk).prev, (*chunk).next);
        if prev.is_null() {
            state.with_room[usize::from((*chunk).cell)] = next;
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

/// Frees a cell an arena's `alloc(len)` returned, from any thread, whether or not that arena's
/// handle still exists: it goes back to the arena its chunk names.
///
/// # Safety
/// `ptr` came from `Arena::alloc(len)` with this very `len` and is freed once.
pub unsafe fn free(ptr: NonNull<u8>, len: usize) {
    let len = len.max(MIN_CELL);
    let chunk = (ptr.as_ptr() as usize & !(CHUNK_BYTES - 1)) as *mut Chunk;
    // SAFETY: the cell is live, so its chunk is taken and its `owner` was written before the
    // cell was handed out (whoever passed the cell here synchronised with that) and stays
    // unchanged while any cell of the chunk lives; the owner lives while it holds the chunk.
    let owner = unsafe { NonNull::new_unchecked((*chunk).owner.cast_mut()) };
    // SAFETY: as just said.
    let inner = unsafe { owner.as_ref() };
    let mut state = inner.lock();
    // SAFETY: the caller's contract: the cell belongs to a live chunk of this class, whose
    // header starts at the chunk-aligned address below it; changed under its arena's lock.
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
            link(&mut state, chunk);
        }
        // Kept when it is its class's only chunk with room, unless the arena is orphaned.
        let only_with_room = c.prev.is_null() && c.next.is_null();
        if c.live == 0 && !(state.owned && only_with_room) {
            inner.retire(&mut state, chunk);
        }
    }
    let last = !state.owned && state.chunks == 0;
    drop(state);
    if last {
        // SAFETY: orphaned, and this free gave back its last chunk: nothing refers to it.
        unsafe { release(owner) }
    }
    crate::alloc_counter::note_cells(-(len as i64));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// What a test arena reports: chunks it gave back, and whether its shared part was freed.
    #[derive(Default)]
    pub(super) struct Probe {
        pub(super) given_back: AtomicUsize,
        pub(super) released: AtomicBool,
    }

    /// An arena over a chunk source of its own (no other test takes its chunks), with a probe.
    fn test_arena() -> (Arena, &'static ChunkSource, Arc<Probe>) {
        let source: &'static ChunkSource = Box::leak(Box::new(ChunkSource::new()));
        let arena = Arena::with_source(source);
        let probe = Arc::new(Probe::default());
        // SAFETY: no cell exists yet and the handle is ours alone.
        unsafe { (*arena.inner.as_ptr()).probe = Some(probe.clone()) };
        (arena, source, probe)
    }

    fn owner_of(cell: NonNull<u8>) -> *const Inner {
        let chunk = (cell.as_ptr() as usize & !(CHUNK_BYTES - 1)) as *const Chunk;
        // SAFETY: the cell is live, so its chunk's header is.
        unsafe { (*chunk).owner }
    }

    fn in_use(source: &ChunkSource) -> usize {
        source.in_use.load(Ordering::Relaxed)
    }

    /// A cell's address, sendable to another thread (the cell itself is plain memory).
    struct Cell(usize);
    impl Cell {
        fn of(p: NonNull<u8>) -> Cell {
            Cell(p.as_ptr() as usize)
        }
        fn ptr(&self) -> NonNull<u8> {
            NonNull::new(self.0 as *mut u8).expect("a cell address")
        }
    }

    #[test]
    fn cells_are_exact_reused_and_chunks_released() {
        const LEN: usize = 509;
        let (arena, source, probe) = test_arena();
        let per_chunk = (CHUNK_BYTES - HEADER_BYTES) / LEN;
        let cells: Vec<NonNull<u8>> = (0..per_chunk * 3 + 1)
            .map(|i| {
                let p = arena.alloc(LEN);
                // SAFETY: the cell is LEN bytes long and ours.
                unsafe { std::ptr::write_bytes(p.as_ptr(), i as u8, LEN) };
                p
            })
            .collect();
        assert_eq!((arena.chunks(), in_use(source)), (4, 4));
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
        assert_eq!(arena.alloc(LEN), freed, "a freed cell is handed out again");
        for p in cells {
            // SAFETY: each allocated above with LEN and freed once (cell 5 was re-allocated).
            unsafe { free(p, LEN) };
        }
        // Every chunk but one went back: one empty chunk with room remains.
        assert_eq!((arena.chunks(), in_use(source)), (1, 1));
        assert_eq!(probe.given_back.load(Ordering::Relaxed), 3);
        drop(arena);
        assert_eq!(in_use(source), 0);
        assert!(probe.released.load(Ordering::Relaxed));
    }

    #[test]
    fn a_chunk_given_back_is_reused_by_another_arena() {
        let (a, source, _) = test_arena();
        let b = Arena::with_source(source);
        let cell = a.alloc(100);
        let chunk = cell.as_ptr() as usize & !(CHUNK_BYTES - 1);
        // SAFETY: allocated above, freed once.
        unsafe { free(cell, 100) };
        drop(a);
        assert_eq!(in_use(source), 0);
        // Another class, another arena: the same chunk, its header rewritten.
        let other = b.alloc(40);
        assert_eq!(other.as_ptr() as usize & !(CHUNK_BYTES - 1), chunk);
        assert_eq!(other.as_ptr() as usize, chunk + HEADER_BYTES);
        // SAFETY: allocated above, freed once.
        unsafe { free(other, 40) };
        assert_eq!(b.chunks(), 1);
    }

    #[test]
    fn cells_freed_from_another_thread_go_back_to_their_arena() {
        const LEN: usize = 120;
        let (a, source, _) = test_arena();
        let b = Arena::with_source(source);
        let from_a: Vec<Cell> = (0..1000).map(|_| Cell::of(a.alloc(LEN))).collect();
        let from_b: Vec<Cell> = (0..10).map(|_| Cell::of(b.alloc(LEN))).collect();
        let from_a_addrs: Vec<usize> = from_a.iter().map(|c| c.0).collect();
        std::thread::spawn(move || {
            for cell in from_a.iter().rev().chain(&from_b) {
                // SAFETY: each allocated with LEN and freed once.
                unsafe { free(cell.ptr(), LEN) };
            }
        })
        .join()
        .expect("freeing thread");
        // All of A's chunks but its one with room were given back; the cells A and B hand out
        // next are their own chunks' cells.
        assert_eq!((a.chunks(), b.chunks()), (1, 1));
        let again = a.alloc(LEN);
        let b_again = b.alloc(LEN);
        assert_eq!(owner_of(again), a.inner.as_ptr().cast_const());
        assert_eq!(owner_of(b_again), b.inner.as_ptr().cast_const());
        assert!(
            from_a_addrs.contains(&(again.as_ptr() as usize)),
            "a freed cell reused"
        );
        // SAFETY: allocated above, freed once.
        unsafe {
            free(again, LEN);
            free(b_again, LEN);
        }
    }

    #[test]
    fn an_arena_dropped_with_live_cells_lives_until_the_last_is_freed() {
        const LEN: usize = 64;
        let (a, source, probe) = test_arena();
        let per_chunk = (CHUNK_BYTES - HEADER_BYTES) / LEN;
        let cells: Vec<Cell> = (0..per_chunk * 2 + 3)
            .map(|_| Cell::of(a.alloc(LEN)))
            .collect();
        // An empty chunk of another class, kept while the arena is owned.
        let other = a.alloc(200);
        // SAFETY: allocated above, freed once.
        unsafe { free(other, 200) };
        assert_eq!(in_use(source), 4);
        drop(a);
        // The empty chunk went back with the handle; the three with live cells stay.
        assert_eq!(in_use(source), 3);
        assert!(!probe.released.load(Ordering::Relaxed));
        let (first, rest) = cells.split_at(per_chunk);
        // SAFETY: each allocated with LEN and freed once.
        unsafe { free(first[0].ptr(), LEN) };
        assert_eq!(in_use(source), 3, "a chunk with live cells stays");
        let rest: Vec<Cell> = first[1..].iter().chain(rest).map(|c| Cell(c.0)).collect();
        std::thread::spawn(move || {
            for cell in rest {
                // SAFETY: as above.
                unsafe { free(cell.ptr(), LEN) };
            }
        })
        .join()
        .expect("freeing thread");
        assert_eq!(in_use(source), 0);
        assert_eq!(probe.given_back.load(Ordering::Relaxed), 4);
        assert!(probe.released.load(Ordering::Relaxed));
    }

    #[test]
    fn arenas_on_many_threads_with_frees_across() {
        const LEN: usize = 77;
        let (a, source, _) = test_arena();
        let arenas = Arc::new([a, Arena::with_source(source)]);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let arenas = arenas.clone();
                std::thread::spawn(move || {
                    let mut held: Vec<Cell> = Vec::new();
                    for i in 0..20_000usize {
                        // Allocate from one arena, free cells another thread may have carved.
                        held.push(Cell::of(arenas[(t + i) % 2].alloc(LEN)));
                        if i % 3 == 2 {
                            let cell = held.swap_remove(i % held.len());
                            // SAFETY: allocated above with LEN, freed once.
                            unsafe { free(cell.ptr(), LEN) };
                        }
                    }
                    held
                })
            })
            .collect();
        let held: Vec<Cell> = threads
            .into_iter()
            .flat_map(|t| t.join().expect("worker"))
            .collect();
        drop(arenas);
        assert!(in_use(source) > 0);
        for cell in held {
            // SAFETY: allocated with LEN, freed once.
            unsafe { free(cell.ptr(), LEN) };
        }
        assert_eq!(in_use(source), 0);
    }

    #[test]
    fn sizes() {
        assert_eq!(cell_bytes(120), 120);
        assert_eq!(cell_bytes(1), 2);
        assert_eq!(cell_bytes(MAX_CELL + 1), 640);
    }
}
