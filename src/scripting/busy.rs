//! The running script's state as other connections see it: BUSY after `busy-reply-threshold`,
//! and SCRIPT KILL.
//!
//! A script runs in the gate's exclusive section (see `gate`), alone.
//! Other connections never wait for it on a worker thread: they await their turn, and once the
//! script has passed the threshold dispatch answers them BUSY or runs their allow-busy command,
//! as Redis does.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const BUSY_TEXT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const NOTBUSY_TEXT: &str = "NOTBUSY No scripts in execution right now.";
const UNKILLABLE_TEXT: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
/// BUSY while a Redis Function runs (only FUNCTION KILL stops it).
pub const BUSY_FUNCTION_TEXT: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
pub const KILLED_TEXT: &str = "ERR Script killed by user with SCRIPT KILL...";

/// How long a script runs on its worker thread before handing the worker's other connections to
/// another thread (block_in_place has a cost every short script would otherwise pay).
const HAND_OFF_AFTER_MS: u64 = 2;

/// What other connections know about the script running now (at most one runs at a time: a
/// script holds every shard lock).
#[derive(Debug)]
pub struct BusyState {
    base: Instant,
    /// Milliseconds since `base` after which the running script makes the server BUSY; 0 when no
    /// script runs.
    busy_after_ms: AtomicU64,
    running: AtomicBool,
    kill_requested: AtomicBool,
    wrote: AtomicBool,
    /// Milliseconds since `base` when the running script started.
    started_ms: AtomicU64,
    /// The running script's thread was handed over to the blocking pool (see `should_hand_off`).
    handed_off: AtomicBool,
    /// The running script is a Redis Function (FCALL), not an EVAL script.
    function: AtomicBool,
}

impl Default for BusyState {
    fn default() -> Self {
        BusyState {
            base: Instant::now(),
            busy_after_ms: AtomicU64::new(0),
            running: AtomicBool::new(false),
            kill_requested: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            started_ms: AtomicU64::new(0),
            handed_off: AtomicBool::new(false),
            function: AtomicBool::new(false),
        }
    }
}

/// Why SCRIPT KILL did not kill.
#[derive(Debug, PartialEq, Eq)]
pub enum KillRefusal {
    NotBusy,
    Unkillable,
    /// SCRIPT KILL of a function or FUNCTION KILL of a script: the BUSY text naming the right one.
    OtherKind(&'static str),
}

impl KillRefusal {
    pub fn text(&self) -> &'static str {
        match self {
            KillRefusal::NotBusy => NOTBUSY_TEXT,
            KillRefusal::Unkillable => UNKILLABLE_TEXT,
            KillRefusal::OtherKind(text) => text,
        }
    }
}

/// Marks a script as running until dropped.
pub struct RunGuard<'a> {
    busy: &'a BusyState,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        self.busy.running.store(false, Ordering::Release);
        self.busy.busy_after_ms.store(0, Ordering::Release);
        self.busy.kill_requested.store(false, Ordering::Release);
        self.busy.wrote.store(false, Ordering::Release);
        self.busy.function.store(false, Ordering::Release);
    }
}

impl BusyState {
    fn now_ms(&self) -> u64 {
        self.base.elapsed().as_millis() as u64
    }

    /// Records the start of a script; the server turns BUSY `threshold_ms` later.
    pub fn start(&self, threshold_ms: u64) -> RunGuard<'_> {
        self.kill_requested.store(false, Ordering::Release);
        self.wrote.store(false, Ordering::Release);
        // +1 keeps the value non-zero when the threshold is 0 at the very first millisecond.
        self.handed_off.store(false, Ordering::Release);
        self.started_ms.store(self.now_ms(), Ordering::Release);
        let after = self.now_ms().saturating_add(threshold_ms).saturating_add(1);
        self.busy_after_ms.store(after, Ordering::Release);
        self.running.store(true, Ordering::Release);
        RunGuard { busy: self }
    }

    /// True while a script runs and has run longer than the threshold.
    pub fn is_busy(&self) -> bool {
        let after = self.busy_after_ms.load(Ordering::Acquire);
        after != 0 && self.now_ms() >= after
    }

    /// How long until the running script turns BUSY (zero once it is); `None` when no script
    /// runs.
    pub fn until_busy(&self) -> Option<Duration> {
        let after = self.busy_after_ms.load(Ordering::Acquire);
        (after != 0).then(|| Duration::from_millis(after.saturating_sub(self.now_ms())))
    }

    /// True once per script, when it has run long enough that its worker thread should let the
    /// runtime move the other connections elsewhere.
    pub fn should_hand_off(&self) -> bool {
        self.is_running()
            && self
                .now_ms()
                .saturating_sub(self.started_ms.load(Ordering::Acquire))
                >= HAND_OFF_AFTER_MS
            && !self.handed_off.swap(true, Ordering::AcqRel)
    }

    /// The hand-off did not happen: `should_hand_off` answers true again at a later hook.
    pub fn retry_hand_off(&self) {
        self.handed_off.store(false, Ordering::Release);
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// The running script executed a write command: SCRIPT KILL may no longer stop it.
    pub fn mark_write(&self) {
        self.wrote.store(true, Ordering::Release);
    }

    pub fn kill_requested(&self) -> bool {
        self.kill_requested.load(Ordering::Acquire)
    }

    /// The script just started is a Redis Function.
    pub fn mark_function(&self) {
        self.function.store(true, Ordering::Release);
    }

    /// The BUSY error for the running script: functions name FUNCTION KILL, scripts SCRIPT KILL.
    pub fn busy_text(&self) -> &'static str {
        if self.function.load(Ordering::Acquire) {
            BUSY_FUNCTION_TEXT
        } else {
            BUSY_TEXT
        }
    }

    /// SCRIPT KILL: asks the running script to stop at its next instruction-count hook.
    pub fn request_kill(&self) -> Result<(), KillRefusal> {
        self.request_kill_of(false)
    }

    /// SCRIPT KILL (`function_kill` false) or FUNCTION KILL: each stops only its own kind.
    pub fn request_kill_of(&self, function_kill: bool) -> Result<(), KillRefusal> {
        if !self.is_running() {
            return Err(KillRefusal::NotBusy);
        }
        if self.wrote.load(Ordering::Acquire) {
            return Err(KillRefusal::Unkillable);
        }
        if self.function.load(Ordering::Acquire) != function_kill {
            return Err(KillRefusal::OtherKind(self.busy_text()));
        }
        self.kill_requested.store(true, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_rules() {
        let busy = BusyState::default();
        assert_eq!(busy.request_kill(), Err(KillRefusal::NotBusy));
        {
            let _run = busy.start(5000);
            assert!(busy.is_running());
            assert!(!busy.is_busy());
            assert_eq!(busy.request_kill(), Ok(()));
            assert!(busy.kill_requested());
        }
        assert!(!busy.kill_requested());
        {
            let _run = busy.start(0);
            std::thread::sleep(Duration::from_millis(3));
            assert!(busy.is_busy());
            busy.mark_write();
            assert_eq!(busy.request_kill(), Err(KillRefusal::Unkillable));
        }
        assert!(!busy.is_busy());
        assert!(!busy.is_running());
    }
}
