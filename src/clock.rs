//! Time: wall-clock unix milliseconds for expiry deadlines, and a manual clock for tests.
//!
//! Deadlines are absolute unix milliseconds (as Redis stores them), so they survive restarts and
//! are written to the AOF unchanged. A command reads the clock once, at dispatch, and uses that
//! instant throughout (Redis's `commandTimeSnapshot`), so a transaction sees one consistent time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    /// A clock that only moves when told to; for in-process tests.
    Manual(Arc<AtomicU64>),
}

impl Clock {
    pub fn manual(start_ms: u64) -> Clock {
        Clock::Manual(Arc::new(AtomicU64::new(start_ms)))
    }

    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::System => unix_now_us() / 1000,
            Clock::Manual(ms) => ms.load(Ordering::Relaxed),
        }
    }

    pub fn now_us(&self) -> u64 {
        match self {
            Clock::System => unix_now_us(),
            Clock::Manual(ms) => ms.load(Ordering::Relaxed) * 1000,
        }
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance_ms(&self, delta_ms: u64) {
        if let Clock::Manual(ms) = self {
            ms.fetch_add(delta_ms, Ordering::Relaxed);
        }
    }
}

pub fn unix_now_us() -> u64 {
    // CLOCK_REALTIME read directly: what SystemTime::now() reads, without the checked
    // conversions around it (this runs once per command).
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes it.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } != 0 || ts.tv_sec < 0 {
        return SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
    }
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}
