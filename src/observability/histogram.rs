//! Per-command latency histograms: what LATENCY HISTOGRAM, INFO latencystats and the Prometheus
//! endpoint report.
//!
//! Redis keeps an HdrHistogram per command and LATENCY HISTOGRAM walks it in power-of-two steps
//! starting at 1024 ns, naming each step by its highest equivalent value in microseconds (1, 2,
//! 4, 8, 16, 33, 66, 132, ... with HdrHistogram's two significant digits), up to the step that
//! holds 1 s, where Redis clamps slower commands. We keep exactly those steps as buckets, one
//! relaxed atomic add per command, and interpolate inside a bucket for percentiles. Durations
//! are measured in whole microseconds. A connection adds a pipelined run of one command's calls
//! at once (`engine::registry::CallTally`).

use std::sync::atomic::{AtomicU64, Ordering};

/// Power-of-two steps from ~1 µs to the one holding 1 s (1024·2^20 ns), as LATENCY HISTOGRAM
/// reports them; slower commands count in the last one, as Redis clamps them to 1 s.
const STEPS: usize = 21;
const BUCKETS: usize = STEPS;

/// The upper bound of step `k` in microseconds, as Redis names it: HdrHistogram's highest
/// value equivalent to 1024·2^k ns (two significant digits: 256 sub-buckets per power of two).
const fn step_bound_us(k: usize) -> u64 {
    let start_ns = 1024u64 << k;
    let width_ns = if k + 10 >= 8 { 1u64 << (k + 10 - 7) } else { 1 };
    (start_ns + width_ns - 1) / 1000
}

const BOUNDS_US: [u64; STEPS] = {
    let mut bounds = [0u64; STEPS];
    let mut k = 0;
    while k < STEPS {
        bounds[k] = step_bound_us(k);
        k += 1;
    }
    bounds
};

#[derive(Debug)]
pub struct LatencyHistogram {
    counts: [AtomicU64; BUCKETS],
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// The step a duration of `us` microseconds counts in.
pub fn bucket_of(us: u64) -> usize {
    // Most commands take a microsecond or less: no search for them.
    if us <= BOUNDS_US[0] {
        return 0;
    }
    BOUNDS_US
        .partition_point(|&bound| bound < us)
        .min(STEPS - 1)
}

impl LatencyHistogram {
    pub fn record(&self, us: u64) {
        self.add(bucket_of(us), 1);
    }

    /// `n` calls in step `bucket` (see `bucket_of`): a connection's tallied calls at once.
    pub fn add(&self, bucket: usize, n: u64) {
        self.counts[bucket].fetch_add(n, Ordering::Relaxed);
    }

    pub fn reset(&self) {
        for c in &self.counts {
            c.store(0, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> [u64; BUCKETS] {
        std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed))
    }

    pub fn total(&self) -> u64 {
        self.snapshot().iter().sum()
    }

    /// LATENCY HISTOGRAM's `histogram_usec`: (bucket bound in µs, cumulative count) for every
    /// bucket whose cumulative count grew.
    pub fn cumulative(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut sum = 0;
        for (i, n) in self.snapshot().into_iter().enumerate() {
            if n == 0 {
                continue;
            }
            sum += n;
            out.push((BOUNDS_US[i], sum));
        }
        out
    }

    /// Buckets as (upper bound in µs, count), the last one also holding everything slower:
    /// the Prometheus export (which adds its own +Inf bucket).
    pub fn buckets(&self) -> Vec<(u64, u64)> {
        self.snapshot()
            .into_iter()
            .enumerate()
            .map(|(i, n)| (BOUNDS_US[i], n))
            .collect()
    }

    /// The latency at `percentile` (0-100) in µs, interpolated inside its bucket; 0 when
    /// nothing was recorded.
    pub fn percentile(&self, percentile: f64) -> f64 {
        let counts = self.snapshot();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = ((percentile / 100.0) * total as f64).ceil().max(1.0);
        let mut seen = 0u64;
        for (i, &n) in counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            if (seen + n) as f64 >= rank {
                let low = if i == 0 { 0 } else { BOUNDS_US[i - 1] } as f64;
                let high = BOUNDS_US[i] as f64;
                let within = (rank - seen as f64) / n as f64;
                return (low + (high - low) * within).max(1.0);
            }
            seen += n;
        }
        BOUNDS_US[STEPS - 1] as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_match_redis_names() {
        assert_eq!(&BOUNDS_US[..9], &[1, 2, 4, 8, 16, 33, 66, 132, 264]);
        assert!(BOUNDS_US[STEPS - 1] > 1_000_000 && BOUNDS_US[STEPS - 2] < 1_000_000);
    }

    #[test]
    fn cumulative_skips_empty_buckets() {
        let h = LatencyHistogram::default();
        for us in [0, 1, 7, 8, 9, 40, 5_000_000] {
            h.record(us);
        }
        // 5 s counts in the last step, as Redis clamps at 1 s.
        assert_eq!(
            h.cumulative(),
            vec![(1, 2), (8, 4), (16, 5), (66, 6), (1_082_130, 7)]
        );
        assert_eq!(h.total(), 7);
    }

    #[test]
    fn percentiles_interpolate_within_buckets() {
        let h = LatencyHistogram::default();
        assert_eq!(h.percentile(50.0), 0.0);
        for _ in 0..100 {
            h.record(6);
        }
        let p50 = h.percentile(50.0);
        assert!((4.0..=8.0).contains(&p50), "{p50}");
        h.record(1000);
        assert!(h.percentile(100.0) > 528.0);
        h.reset();
        assert_eq!(h.total(), 0);
    }
}
