//! The writer thread and the background fsync thread.
//!
//! The writer takes everything appended since its last turn in one go (group commit: many
//! connections' writes share one write(2) and, with `always`, one fdatasync), then publishes the
//! log position replies may be sent for. With `everysec` a second thread fsyncs about once a
//! second; while that fsync runs, the writer postpones its write for up to 2 s (Redis's rule:
//! a write(2) would block behind the fsync anyway), then writes and counts `aof_delayed_fsync`.
//!
//! A failed write is cut back with ftruncate so no torn record stays in the file, kept in
//! memory and retried; meanwhile write commands get MISCONF. With `always` the server exits
//! instead of acknowledging what is not on disk.

use super::layout::Rotation;
use super::{Aof, Fsync};
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the writer sleeps when idle (it also drives the everysec fsync and error retries).
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// Redis's postpone limit for a write waiting on an fsync in progress.
const POSTPONE_MAX: Duration = Duration::from_secs(2);
const FSYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Test hook for power-loss simulation: when set, after each fsync the writer records the
/// fsynced length of the current incr file in `<file>.synced`; a test truncates the file to it
/// after SIGKILL, which drops exactly what a power loss could drop.
pub const SYNC_TRACE_ENV: &str = "FERROCACHE_AOF_SYNC_TRACE";

pub(crate) struct Handle {
    writer: JoinHandle<()>,
    fsyncer: JoinHandle<()>,
    sync: Arc<SyncShared>,
}

impl Handle {
    pub fn stop(self, aof: &Aof) {
        aof.pipe.lock().stop = true;
        aof.wake.notify_all();
        let _ = self.writer.join();
        self.sync.state.lock().stop = true;
        self.sync.cv.notify_all();
        let _ = self.fsyncer.join();
    }
}

/// What the writer and the fsync thread share.
struct SyncShared {
    state: Mutex<SyncState>,
    cv: Condvar,
}

struct SyncState {
    file: Arc<File>,
    /// File length to make durable (a request of the writer).
    requested: Option<u64>,
    /// Fault-injection trace (see `SYNC_TRACE_ENV`): where the durable length is recorded.
    trace: Option<PathBuf>,
    in_progress: bool,
    stop: bool,
}

pub(crate) fn spawn(aof: Arc<Aof>, file: File, file_len: u64) -> Handle {
    let file = Arc::new(file);
    let sync = Arc::new(SyncShared {
        state: Mutex::new(SyncState {
            file: file.clone(),
            requested: None,
            trace: trace_path(&aof),
            in_progress: false,
            stop: false,
        }),
        cv: Condvar::new(),
    });
    let start = {
        let pipe = aof.pipe.lock();
        pipe.end - pipe.buf.len() as u64
    };
    let mut writer = Writer {
        aof: aof.clone(),
        sync: sync.clone(),
        file,
        good_len: file_len,
        carry: Vec::new(),
        carry_start: start,
        rotations: VecDeque::new(),
        written: start,
        last_fsync: Instant::now(),
        fsynced: start,
    };
    let writer = std::thread::Builder::new()
        .name("aof-writer".into())
        .spawn(move || writer.run())
        .expect("spawn the AOF writer thread");
    let fsync_shared = sync.clone();
    let fsync_aof = aof.clone();
    let fsyncer = std::thread::Builder::new()
        .name("aof-fsync".into())
        .spawn(move || fsync_loop(&fsync_aof, &fsync_shared))
        .expect("spawn the AOF fsync thread");
    Handle {
        writer,
        fsyncer,
        sync,
    }
}

struct Writer {
    aof: Arc<Aof>,
    sync: Arc<SyncShared>,
    file: Arc<File>,
    /// Length of the file up to its last complete record.
    good_len: u64,
    /// Bytes taken from the pipe and not yet written (after an error), starting at `carry_start`.
    carry: Vec<u8>,
    carry_start: u64,
    rotations: VecDeque<(u64, Rotation)>,
    /// Log position written so far.
    written: u64,
    last_fsync: Instant,
    /// Log position known to be fsynced by the writer itself.
    fsynced: u64,
}

impl Writer {
    fn run(&mut self) {
        loop {
            let stop = self.take_pipe();
            self.write_pending();
            if self.carry.is_empty() {
                self.aof.set_error_if_write(None);
            }
            self.release_acks();
            self.maybe_request_fsync();
            if stop {
                self.finish();
                return;
            }
        }
    }

    /// Waits for records (or the idle tick) and moves them into `carry`. Returns the stop flag.
    fn take_pipe(&mut self) -> bool {
        let mut pipe = self.aof.pipe.lock();
        let idle = pipe.buf.is_empty() && pipe.rotations.is_empty() && !pipe.stop;
        if idle || (!self.carry.is_empty() && !pipe.stop) {
            self.aof.wake.wait_for(&mut pipe, IDLE_WAIT);
        }
        if self.carry.is_empty() {
            self.carry_start = pipe.end - pipe.buf.len() as u64;
            self.carry = std::mem::take(&mut pipe.buf);
        } else {
            self.carry.append(&mut pipe.buf);
        }
        self.rotations.extend(pipe.rotations.drain(..));
        pipe.stop
    }

    /// Writes `carry`, switching files at rotation markers. Stops at the first error.
    fn write_pending(&mut self) {
        loop {
            let boundary = self.rotations.front().map(|(at, _)| *at);
            let upto = match boundary {
                Some(at) => (at - self.carry_start) as usize,
                None => self.carry.len(),
            };
            if upto > 0 {
                self.postpone_if_fsyncing();
                if let Err(e) = self.write_bytes(upto) {
                    self.write_failed(&e);
                    return;
                }
            }
            let Some((_, rotation)) = self.rotations.pop_front() else {
                return;
            };
            match self.rotate() {
                Ok(seq) => {
                    let _ = rotation.done.send(Ok(seq));
                }
                Err(e) => {
                    let _ = rotation.done.send(Err(crate::config::strerror(&e)));
                }
            }
        }
    }

    /// Writes the first `len` bytes of `carry`; on failure cuts the file back to its last
    /// complete record so nothing torn stays behind.
    fn write_bytes(&mut self, len: usize) -> std::io::Result<()> {
        let mut done = 0;
        while done < len {
            match (&*self.file).write(&self.carry[done..len]) {
                Ok(0) => {
                    return self.cut_back(done, std::io::ErrorKind::WriteZero.into());
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return self.cut_back(done, e),
            }
        }
        self.carry.drain(..len);
        self.carry_start += len as u64;
        self.good_len += len as u64;
        self.written = self.carry_start;
        self.aof
            .stats
            .current_size
            .fetch_add(len as u64, Ordering::Relaxed);
        if self.aof.policy() == Fsync::Always {
            if let Err(e) = self.file.sync_data() {
                exit_on_always(&e);
            }
            self.fsynced = self.written;
            note_synced(&self.sync.state.lock().trace, self.good_len);
        }
        Ok(())
    }

    fn cut_back(&mut self, partial: usize, err: std::io::Error) -> std::io::Result<()> {
        if partial > 0 && self.file.set_len(self.good_len).is_err() {
            // Could not remove the partial record: keep it and retry only the rest (Redis does
            // the same when ftruncate fails).
            self.carry.drain(..partial);
            self.carry_start += partial as u64;
            self.good_len += partial as u64;
        }
        Err(err)
    }

    fn write_failed(&mut self, err: &std::io::Error) {
        if self.aof.policy() == Fsync::Always {
            exit_on_always(err);
        }
        self.aof
            .set_error_if_write(Some(crate::config::strerror(err)));
        // As Redis: replies of writes still buffered go out; new writes are refused (MISCONF)
        // until a write succeeds.
        let end = self.carry_start + self.carry.len() as u64;
        self.aof.publish_acked(end);
    }

    fn release_acks(&self) {
        let acked = match self.aof.policy() {
            Fsync::Always => self.fsynced,
            _ => self.written,
        };
        self.aof.publish_acked(acked);
    }

    /// Redis's postpone rule for everysec: wait (at most 2 s) while a background fsync runs.
    fn postpone_if_fsyncing(&self) {
        if self.aof.policy() != Fsync::EverySec {
            return;
        }
        let mut state = self.sync.state.lock();
        if !state.in_progress {
            return;
        }
        let until = Instant::now() + POSTPONE_MAX;
        while state.in_progress && Instant::now() < until {
            self.sync.cv.wait_until(&mut state, until);
        }
        if state.in_progress {
            self.aof.stats.delayed_fsync.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn maybe_request_fsync(&mut self) {
        if self.aof.policy() != Fsync::EverySec
            || self.written <= self.fsynced
            || self.last_fsync.elapsed() < FSYNC_INTERVAL
        {
            return;
        }
        let mut state = self.sync.state.lock();
        if state.in_progress {
            return;
        }
        state.requested = Some(self.good_len);
        self.fsynced = self.written;
        self.last_fsync = Instant::now();
        drop(state);
        self.sync.cv.notify_all();
    }

    /// Closes the current incr file durably and opens the next one named in the manifest.
    fn rotate(&mut self) -> std::io::Result<u64> {
        self.file.sync_data()?;
        let mut guard = self.aof.layout.lock();
        let layout = guard
            .as_mut()
            .ok_or_else(|| std::io::Error::other("AOF is off"))?;
        let (file, len) = layout.rotate()?;
        self.file = Arc::new(file);
        self.good_len = len;
        let seq = layout.current_incr.seq;
        drop(guard);
        let trace = trace_path(&self.aof);
        let mut state = self.sync.state.lock();
        state.file = self.file.clone();
        state.trace = trace;
        Ok(seq)
    }

    /// Shutdown: everything written and fsynced, whatever the policy.
    fn finish(&mut self) {
        // A few retries for a transient error, then give up (logged).
        for _ in 0..3 {
            if self.carry.is_empty() && self.rotations.is_empty() {
                break;
            }
            self.write_pending();
        }
        match self.file.sync_data() {
            Ok(()) => note_synced(&self.sync.state.lock().trace, self.good_len),
            Err(e) => tracing::warn!("Fail to fsync the AOF file: {e}"),
        }
        self.fsynced = self.written;
        self.release_acks();
    }
}

impl Aof {
    /// Write errors and fsync errors share the MISCONF state; a successful write clears both.
    fn set_error_if_write(&self, reason: Option<String>) {
        if reason.is_some() || self.failing.load(Ordering::Relaxed) {
            self.set_error(reason);
        }
    }
}

fn exit_on_always(err: &std::io::Error) -> ! {
    tracing::warn!(
        "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting... ({})",
        crate::config::strerror(err)
    );
    std::process::exit(1);
}

fn fsync_loop(aof: &Aof, sync: &SyncShared) {
    let mut state = sync.state.lock();
    loop {
        if state.stop {
            return;
        }
        let Some(len) = state.requested.take() else {
            sync.cv.wait(&mut state);
            continue;
        };
        let file = state.file.clone();
        state.in_progress = true;
        aof.stats.pending_fsync.store(true, Ordering::Relaxed);
        drop(state);
        let result = file.sync_data();
        state = sync.state.lock();
        state.in_progress = false;
        aof.stats.pending_fsync.store(false, Ordering::Relaxed);
        sync.cv.notify_all();
        match result {
            Ok(()) => note_synced(&state.trace, len),
            Err(e) => aof.set_error(Some(crate::config::strerror(&e))),
        }
    }
}

fn trace_path(aof: &Aof) -> Option<PathBuf> {
    std::env::var_os(SYNC_TRACE_ENV)?;
    let layout = aof.layout.lock();
    let layout = layout.as_ref()?;
    Some(layout.path(&format!("{}.synced", layout.current_incr.name)))
}

fn note_synced(trace: &Option<PathBuf>, len: u64) {
    if let Some(path) = trace {
        // Replaced atomically: a SIGKILL never leaves it half-written.
        let temp = path.with_extension("synced-temp");
        if std::fs::write(&temp, len.to_string()).is_ok() {
            let _ = std::fs::rename(&temp, path);
        }
    }
}
