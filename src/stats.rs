//! Server-wide counters that do not belong to a shard: commands, connections, errors.
//!
//! Per-command counters are sharded by worker to keep one contended cache line off the hot
//! path; INFO sums them on read.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct ServerStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub error_replies: AtomicU64,
    pub unexpected_error_replies: AtomicU64,
    /// Redis's `server.dirty`: changes since the last save.
    pub dirty: AtomicU64,
    pub expired_by_cycle: AtomicU64,
    /// Clients closed for passing `client-query-buffer-limit` / an output buffer limit (INFO
    /// stats `client_query_buffer_limit_disconnections` / `client_output_buffer_limit_disconnections`).
    pub query_buffer_limit_disconnections: AtomicU64,
    pub output_buffer_limit_disconnections: AtomicU64,
    /// Highest `used_memory` seen by INFO / MEMORY STATS (reset by CONFIG RESETSTAT), and
    /// `used_memory` once start-up was over.
    pub peak_memory: AtomicU64,
    pub startup_memory: AtomicU64,
    /// name -> (calls, usec, rejected_calls, failed_calls)
    pub per_command: Mutex<HashMap<&'static str, CommandStat>>,
    /// error code (first word) -> count
    pub per_error: Mutex<HashMap<String, u64>>,
    pub ops_sampler: Mutex<OpsSampler>,
}

#[derive(Default, Clone, Copy, Debug)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

impl ServerStats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn record_error(&self, text: &[u8]) {
        let code = text.split(|&b| b == b' ').next().unwrap_or(b"ERR");
        let code = String::from_utf8_lossy(code).into_owned();
        *self.per_error.lock().entry(code).or_insert(0) += 1;
        ServerStats::add(&self.error_replies, 1);
    }

    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.error_replies,
            &self.unexpected_error_replies,
            &self.expired_by_cycle,
            &self.query_buffer_limit_disconnections,
            &self.output_buffer_limit_disconnections,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        self.per_command.lock().clear();
        self.per_error.lock().clear();
    }
}

/// Samples of (time, commands, input bytes, output bytes) taken every 100 ms, for Redis's
/// `instantaneous_*` figures (the mean over the last 16 samples).
#[derive(Default)]
pub struct OpsSampler {
    last: Option<(u64, u64, u64, u64)>,
    ops: [f64; 16],
    input_kbps: [f64; 16],
    output_kbps: [f64; 16],
    next: usize,
}

impl OpsSampler {
    pub fn sample(&mut self, now_ms: u64, commands: u64, input: u64, output: u64) {
        if let Some((t, c, i, o)) = self.last {
            let dt = now_ms.saturating_sub(t).max(1) as f64;
            self.ops[self.next] = (commands.saturating_sub(c)) as f64 * 1000.0 / dt;
            self.input_kbps[self.next] = (input.saturating_sub(i)) as f64 * 1000.0 / dt / 1024.0;
            self.output_kbps[self.next] = (output.saturating_sub(o)) as f64 * 1000.0 / dt / 1024.0;
            self.next = (self.next + 1) % 16;
        }
        self.last = Some((now_ms, commands, input, output));
    }

    pub fn ops_per_sec(&self) -> u64 {
        (self.ops.iter().sum::<f64>() / 16.0) as u64
    }

    pub fn input_kbps(&self) -> f64 {
        self.input_kbps.iter().sum::<f64>() / 16.0
    }

    pub fn output_kbps(&self) -> f64 {
        self.output_kbps.iter().sum::<f64>() / 16.0
    }
}
