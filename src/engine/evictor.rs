//! The maxmemory step's state (`ServerState::evictor`): how long used memory has been over the
//! limit, and the wake-up of the background eviction thread. What runs on it is
//! `engine::maxmemory`.

use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

/// The maxmemory step's own state, one per server: how long memory has been over the limit,
/// and the background eviction thread.
#[derive(Default)]
pub struct Evictor {
    /// Microsecond clock reading since when used memory has been over the limit (0: it is
    /// not), and the total of the earlier periods (INFO `*_eviction_exceeded_time`).
    pub over_since_us: AtomicU64,
    pub over_total_us: AtomicU64,
    pub background: Arc<Background>,
}

/// The background eviction thread: started on first need, woken when a command's time limit
/// ran out or the configuration changed, and every `BACKGROUND_CHECK` (maxmemory.rs) otherwise.
#[derive(Default)]
pub struct Background {
    pub wake: Mutex<bool>,
    pub signal: Condvar,
    pub started: AtomicBool,
}
