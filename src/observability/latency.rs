//! The latency monitor: per-event time series of latency spikes at or above
//! `latency-monitor-threshold` milliseconds, as Redis's `latency.c` keeps them: one sample per
//! second (the worst of that second), the last 160 samples, and the all-time maximum.
//!
//! Also renders LATENCY DOCTOR's report and LATENCY GRAPH's ASCII sparkline with Redis's texts.
//! Only the `command` and `fast-command` events are fed today (see docs/observability.md).

use parking_lot::Mutex;

/// Samples kept per event (Redis's LATENCY_TS_LEN).
pub const TS_LEN: usize = 160;

#[derive(Clone, Copy, Default, Debug)]
struct Sample {
    /// Unix seconds; 0 marks an unused slot.
    time: u64,
    latency_ms: u64,
}

#[derive(Clone, Debug)]
struct Series {
    /// Next slot to write.
    idx: usize,
    max: u64,
    samples: [Sample; TS_LEN],
}

impl Series {
    fn new() -> Series {
        Series {
            idx: 0,
            max: 0,
            samples: [Sample::default(); TS_LEN],
        }
    }

    fn add(&mut self, now: u64, latency_ms: u64) {
        self.max = self.max.max(latency_ms);
        let prev = (self.idx + TS_LEN - 1) % TS_LEN;
        // A second sample within the same second only raises that second's value.
        if self.samples[prev].time == now {
            let s = &mut self.samples[prev];
            s.latency_ms = s.latency_ms.max(latency_ms);
            return;
        }
        self.samples[self.idx] = Sample {
            time: now,
            latency_ms,
        };
        self.idx = (self.idx + 1) % TS_LEN;
    }

    /// Used samples, oldest first.
    fn ordered(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..TS_LEN)
            .map(move |j| self.samples[(self.idx + j) % TS_LEN])
            .filter(|s| s.time != 0)
    }

    fn last(&self) -> Sample {
        self.samples[(self.idx + TS_LEN - 1) % TS_LEN]
    }
}

/// The latest sample of one event (LATENCY LATEST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    pub event: String,
    pub time: u64,
    pub latency_ms: u64,
    pub max_ms: u64,
}

#[derive(Default)]
pub struct LatencyMonitor {
    /// Events in the order they first fired.
    events: Mutex<Vec<(String, Series)>>,
}

/// Figures LATENCY DOCTOR derives from one event's samples.
struct Stats {
    samples: u64,
    avg: u64,
    mad: u64,
    period: u64,
    max: u64,
}

impl LatencyMonitor {
    pub fn add_sample(&self, event: &str, now: u64, latency_ms: u64) {
        let mut events = self.events.lock();
        match events.iter_mut().find(|(e, _)| e == event) {
            Some((_, series)) => series.add(now, latency_ms),
            None => {
                let mut series = Series::new();
                series.add(now, latency_ms);
                events.push((event.to_string(), series));
            }
        }
    }

    pub fn latest(&self) -> Vec<Latest> {
        self.events
            .lock()
            .iter()
            .map(|(event, s)| {
                let last = s.last();
                Latest {
                    event: event.clone(),
                    time: last.time,
                    latency_ms: last.latency_ms,
                    max_ms: s.max,
                }
            })
            .collect()
    }

    /// (unix seconds, latency ms) pairs, oldest first; empty for an unknown event.
    pub fn history(&self, event: &[u8]) -> Vec<(u64, u64)> {
        self.events
            .lock()
            .iter()
            .find(|(e, _)| e.as_bytes() == event)
            .map(|(_, s)| s.ordered().map(|x| (x.time, x.latency_ms)).collect())
            .unwrap_or_default()
    }

    /// Forgets one event (case-insensitively, as Redis) or, with `None`, every event; returns
    /// how many were dropped.
    pub fn reset(&self, event: Option<&[u8]>) -> usize {
        let mut events = self.events.lock();
        let before = events.len();
        match event {
            None => events.clear(),
            Some(name) => events.retain(|(e, _)| !e.as_bytes().eq_ignore_ascii_case(name)),
        }
        before - events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.lock().is_empty()
    }

    /// LATENCY GRAPH's text, or `None` when the event has no samples.
    pub fn graph(&self, event: &[u8], now: u64) -> Option<String> {
        let events = self.events.lock();
        let (name, series) = events.iter().find(|(e, _)| e.as_bytes() == event)?;
        let samples: Vec<Sample> = series.ordered().collect();
        let min = samples.iter().map(|s| s.latency_ms).min().unwrap_or(0);
        let max = samples.iter().map(|s| s.latency_ms).max().unwrap_or(0);
        let mut out = format!(
            "{name} - high {max} ms, low {min} ms (all time high {} ms)\n",
            series.max
        );
        out.push_str(&"-".repeat(GRAPH_COLS));
        out.push('\n');
        let points: Vec<(f64, String)> = samples
            .iter()
            .map(|s| (s.latency_ms as f64, age_label(now.saturating_sub(s.time))))
            .collect();
        render_sparkline(&mut out, &points, GRAPH_COLS, 4);
        Some(out)
    }

    fn stats(series: &Series, now: u64) -> Stats {
        let samples: Vec<Sample> = series.ordered().collect();
        let n = samples.len() as u64;
        if n == 0 {
            return Stats {
                samples: 0,
                avg: 0,
                mad: 0,
                period: 0,
                max: series.max,
            };
        }
        let sum: u64 = samples.iter().map(|s| s.latency_ms).sum();
        let avg = sum / n;
        let oldest = samples.iter().map(|s| s.time).min().unwrap_or(now);
        let period = now.saturating_sub(oldest).max(1);
        let mad = samples
            .iter()
            .map(|s| avg.abs_diff(s.latency_ms))
            .sum::<u64>()
            / n;
        Stats {
            samples: n,
            avg,
            mad,
            period,
            max: series.max,
        }
    }

    /// LATENCY DOCTOR's report, with Redis's texts for the events ferrocache records.
    pub fn doctor(&self, knobs: DoctorKnobs) -> String {
        let events = self.events.lock();
        if events.is_empty() && knobs.threshold_ms == 0 {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string();
        }
        let mut report = String::new();
        let mut advices = 0;
        let (mut slowlog_enabled, mut slowlog_tuning, mut slowlog_inspect) = (false, false, false);
        let (mut large_objects, mut scheduler) = (false, false);
        for (i, (event, series)) in events.iter().enumerate() {
            if i == 0 {
                report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
            }
            let st = Self::stats(series, knobs.now);
            let per_sample = if st.samples == 0 {
                0.0
            } else {
                st.period as f64 / st.samples as f64
            };
            report.push_str(&format!(
                "{}. {event}: {} latency spikes (average {}ms, mean deviation {}ms, period {per_sample:.2} sec). Worst all time event {}ms.",
                i + 1,
                st.samples,
                st.avg,
                st.mad,
                st.max
            ));
            if event.eq_ignore_ascii_case("command") {
                if knobs.slowlog_slower_than_us < 0 {
                    slowlog_enabled = true;
                    advices += 1;
                } else if knobs.slowlog_slower_than_us / 1000 > knobs.threshold_ms {
                    slowlog_tuning = true;
                    advices += 1;
                }
                slowlog_inspect = true;
                large_objects = true;
                advices += 2;
            }
            if event.eq_ignore_ascii_case("fast-command") {
                scheduler = true;
                advices += 1;
            }
            report.push('\n');
        }
        if knobs.anon_huge_pages {
            advices += 1;
        }
        if events.is_empty() && advices == 0 {
            report.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        } else if advices == 0 {
            report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        } else {
            let suggested_us = knobs.threshold_ms.saturating_mul(1000);
            report.push_str("\nI have a few advices for you:\n\n");
            if slowlog_enabled {
                report.push_str(&format!("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {suggested_us}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n"));
            }
            if slowlog_tuning {
                report.push_str(&format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {suggested_us}'.\n"));
            }
            if slowlog_inspect {
                report.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
            }
            if scheduler {
                report.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
            }
            if large_objects {
                report.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
            }
            if knobs.anon_huge_pages {
                report.push_str("- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n");
            }
        }
        report
    }
}

/// The configuration LATENCY DOCTOR's advice depends on.
#[derive(Clone, Copy, Debug)]
pub struct DoctorKnobs {
    pub now: u64,
    pub threshold_ms: i64,
    pub slowlog_slower_than_us: i64,
    /// The process has transparent huge pages (Redis advises disabling THP).
    pub anon_huge_pages: bool,
}

/// True when /proc reports anonymous huge pages in this process (Redis's
/// `THPGetAnonHugePagesSize() > 0`); false where /proc is unavailable.
pub fn has_anon_huge_pages() -> bool {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup")
        .or_else(|_| std::fs::read_to_string("/proc/self/smaps"))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("AnonHugePages:"))
        .any(|rest| rest.trim().trim_end_matches("kB").trim() != "0")
}

const GRAPH_COLS: usize = 80;

/// How long ago a sample was, as LATENCY GRAPH labels it: `12s`, `5m`, `3h`, `2d`.
fn age_label(elapsed: u64) -> String {
    match elapsed {
        e if e < 60 => format!("{e}s"),
        e if e < 3600 => format!("{}m", e / 60),
        e if e < 86400 => format!("{}h", e / 3600),
        e => format!("{}d", e / 86400),
    }
}

/// Redis's filled sparkline: `rows` rows of `_o#` heights (`|` below the top of a column), a
/// blank spacer row, then each label written vertically; wrapped every `columns` samples.
fn render_sparkline(out: &mut String, points: &[(f64, String)], columns: usize, rows: usize) {
    const FILL: &[u8] = b"_o#";
    let min = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let max = points.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let relmax = if points.is_empty() || max - min == 0.0 {
        1.0
    } else {
        max - min
    };
    let steps = (FILL.len() * rows) as i64;
    let has_labels = points.iter().any(|p| !p.1.is_empty());
    for (chunk_no, chunk) in points.chunks(columns.max(1)).enumerate() {
        if chunk_no > 0 {
            out.push('\n');
        }
        let step_of = |v: f64| (((v - min) * steps as f64 / relmax) as i64).clamp(0, steps - 1);
        for row in 0..rows {
            let line: String = chunk
                .iter()
                .map(|p| {
                    let idx = step_of(p.0) - ((rows - row - 1) * FILL.len()) as i64;
                    if (0..FILL.len() as i64).contains(&idx) {
                        FILL[idx as usize] as char
                    } else if idx >= FILL.len() as i64 {
                        '|'
                    } else {
                        ' '
                    }
                })
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
        if !has_labels {
            continue;
        }
        out.push_str(&" ".repeat(chunk.len()));
        out.push('\n');
        let tallest = chunk.iter().map(|p| p.1.len()).max().unwrap_or(0);
        for pos in 0..tallest {
            let line: String = chunk
                .iter()
                .map(|p| p.1.as_bytes().get(pos).map_or(' ', |&b| b as char))
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeps_the_worst() {
        let m = LatencyMonitor::default();
        m.add_sample("command", 100, 50);
        m.add_sample("command", 100, 20);
        m.add_sample("command", 101, 30);
        assert_eq!(m.history(b"command"), vec![(100, 50), (101, 30)]);
        assert_eq!(
            m.latest(),
            vec![Latest {
                event: "command".into(),
                time: 101,
                latency_ms: 30,
                max_ms: 50
            }]
        );
        assert!(m.history(b"fork").is_empty());
    }

    #[test]
    fn keeps_the_last_160_samples() {
        let m = LatencyMonitor::default();
        for t in 1..=200 {
            m.add_sample("command", t, t);
        }
        let h = m.history(b"command");
        assert_eq!(h.len(), TS_LEN);
        assert_eq!(h[0], (41, 41));
        assert_eq!(h[TS_LEN - 1], (200, 200));
    }

    #[test]
    fn reset_is_case_insensitive_and_counts() {
        let m = LatencyMonitor::default();
        m.add_sample("command", 1, 5);
        m.add_sample("fast-command", 1, 5);
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert_eq!(m.reset(Some(b"nope")), 0);
        assert_eq!(m.reset(None), 1);
        assert!(m.is_empty());
    }

    #[test]
    fn graph_of_one_sample_matches_redis() {
        let m = LatencyMonitor::default();
        m.add_sample("command", 1000, 50);
        let g = m.graph(b"command", 1000).unwrap();
        let dashes = "-".repeat(80);
        assert_eq!(
            g,
            format!("command - high 50 ms, low 50 ms (all time high 50 ms)\n{dashes}\n \n \n \n_\n \n0\ns\n")
        );
        assert!(m.graph(b"other", 1000).is_none());
    }

    #[test]
    fn graph_scales_between_min_and_max() {
        let m = LatencyMonitor::default();
        m.add_sample("command", 10, 10);
        m.add_sample("command", 11, 100);
        let g = m.graph(b"command", 71).unwrap();
        let rows: Vec<&str> = g.lines().skip(2).collect();
        assert_eq!(rows[0], " #");
        assert_eq!(rows[3], "_|");
        // Labels: 61 s ago is "1m", 60 s ago "1m".
        assert_eq!(rows[5], "11");
        assert_eq!(rows[6], "mm");
    }

    #[test]
    fn doctor_texts() {
        let m = LatencyMonitor::default();
        let knobs = DoctorKnobs {
            now: 10,
            threshold_ms: 0,
            slowlog_slower_than_us: 10000,
            anon_huge_pages: false,
        };
        assert!(m.doctor(knobs).starts_with("I'm sorry, Dave"));
        let knobs = DoctorKnobs {
            threshold_ms: 10,
            ..knobs
        };
        assert!(m.doctor(knobs).starts_with("Dave, no latency spike"));
        m.add_sample("command", 10, 50);
        let report = m.doctor(knobs);
        assert!(report.contains("1. command: 1 latency spikes (average 50ms, mean deviation 0ms, period 1.00 sec). Worst all time event 50ms.\n"));
        assert!(report.contains("- Check your Slow Log"));
        assert!(!report.contains("Your current Slow Log configuration"));
        let knobs = DoctorKnobs {
            slowlog_slower_than_us: -1,
            ..knobs
        };
        assert!(m
            .doctor(knobs)
            .contains("'CONFIG SET slowlog-log-slower-than 10000'. If the Slow log is disabled"));
        m.reset(None);
        let knobs = DoctorKnobs {
            anon_huge_pages: true,
            ..knobs
        };
        let report = m.doctor(knobs);
        assert!(
            report.starts_with("\nI have a few advices for you:\n\n- I detected a non zero amount")
        );
    }
}
