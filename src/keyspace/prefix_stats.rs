//! Keyspace hits and misses per key prefix (beyond Redis, which has one global figure): an
//! operator sees which cache layer earns its memory, e.g. `session:` against `ormcache:`.
//!
//! Two options choose the groups: `keyspace-stats-prefixes` lists prefixes (a key counts for
//! the first that it starts with), `keyspace-stats-separator` groups every other key by its text
//! up to and including the first separator. Both empty (the default): nothing is counted and a
//! read pays one relaxed atomic load. Counts live in each shard, under the shard lock the read
//! already holds, and are summed when INFO or the metrics endpoint asks.

use parking_lot::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Groups per shard beyond which new prefixes are counted under `OTHER` (bounds memory when a
/// separator is set and keys have unbounded prefixes).
const MAX_GROUPS: usize = 64;
/// The group of keys that match no rule, or arrive after `MAX_GROUPS`.
pub const OTHER: &[u8] = b"(other)";

#[derive(Debug, Default)]
struct Rules {
    prefixes: Vec<Box<[u8]>>,
    separator: Option<u8>,
}

impl Rules {
    fn is_empty(&self) -> bool {
        self.prefixes.is_empty() && self.separator.is_none()
    }

    /// The group `key` counts for.
    fn group<'k>(&'k self, key: &'k [u8]) -> &'k [u8] {
        if let Some(p) = self.prefixes.iter().find(|p| key.starts_with(p)) {
            return p;
        }
        match self.separator {
            Some(sep) => match key.iter().position(|&b| b == sep) {
                Some(at) => &key[..=at],
                None => OTHER,
            },
            None => OTHER,
        }
    }
}

/// The rules in force, and a generation shards compare against their cached copy: one per
/// keyspace, shared by its shards.
#[derive(Debug, Default)]
pub struct PrefixConfig {
    generation: AtomicU64,
    rules: RwLock<Option<Arc<Rules>>>,
}

impl PrefixConfig {
    /// Sets the rules from the two options' values (called when the configuration changes).
    pub fn configure(&self, prefixes: &str, separator: &str) {
        let rules = Rules {
            prefixes: prefixes
                .split(' ')
                .filter(|p| !p.is_empty())
                .map(|p| p.as_bytes().into())
                .collect(),
            separator: separator.bytes().next(),
        };
        let changed = {
            let mut current = self.rules.write();
            let same = current
                .as_ref()
                .is_some_and(|c| c.prefixes == rules.prefixes && c.separator == rules.separator);
            if !same {
                *current = Some(Arc::new(rules));
            }
            !same
        };
        if changed {
            self.generation.fetch_add(1, Ordering::Release);
        }
    }
}

/// One shard's counts: (group, hits, misses), few enough for a linear search.
#[derive(Debug, Default)]
pub struct PrefixStats {
    generation: u64,
    rules: Option<Arc<Rules>>,
    counts: Vec<(Box<[u8]>, u64, u64)>,
}

impl PrefixStats {
    /// Counts a read of `key` as a hit or a miss.
    #[inline]
    pub fn record(&mut self, config: &PrefixConfig, key: &[u8], hit: bool) {
        let generation = config.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.refresh(config, generation);
        }
        if self.rules.is_some() {
            self.count(key, hit);
        }
    }

    #[cold]
    fn refresh(&mut self, config: &PrefixConfig, generation: u64) {
        self.generation = generation;
        self.rules = config.rules.read().clone().filter(|r| !r.is_empty());
        self.counts.clear();
    }

    fn count(&mut self, key: &[u8], hit: bool) {
        let rules = self.rules.as_ref().expect("checked by the caller");
        let mut group = rules.group(key);
        let at = match self.counts.iter().position(|(g, _, _)| &g[..] == group) {
            Some(at) => at,
            None => {
                if self.counts.len() >= MAX_GROUPS {
                    group = OTHER;
                }
                match self.counts.iter().position(|(g, _, _)| &g[..] == group) {
                    Some(at) => at,
                    None => {
                        self.counts.push((group.into(), 0, 0));
                        self.counts.len() - 1
                    }
                }
            }
        };
        let entry = &mut self.counts[at];
        if hit {
            entry.1 += 1;
        } else {
            entry.2 += 1;
        }
    }

    /// Adds this shard's counts into `into` (group -> (hits, misses)). Counts made under
    /// earlier rules (a shard not read since they changed) are left out.
    pub fn merge_into(&self, config: &PrefixConfig, into: &mut Vec<(Box<[u8]>, u64, u64)>) {
        if self.generation == config.generation.load(Ordering::Acquire) {
            merge(&self.counts, into);
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        self.counts.clear();
    }
}

/// Adds (group, hits, misses) counts into `into`.
fn merge(counts: &[(Box<[u8]>, u64, u64)], into: &mut Vec<(Box<[u8]>, u64, u64)>) {
    for (group, hits, misses) in counts {
        match into.iter_mut().find(|(g, _, _)| g == group) {
            Some(total) => {
                total.1 += hits;
                total.2 += misses;
            }
            None => into.push((group.clone(), *hits, *misses)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_prefix_then_separator() {
        let rules = Rules {
            prefixes: vec![b"session:".as_slice().into(), b"orm".as_slice().into()],
            separator: Some(b':'),
        };
        assert_eq!(rules.group(b"session:abc"), b"session:");
        assert_eq!(rules.group(b"ormcache:1"), b"orm");
        assert_eq!(rules.group(b"fragment:home:en"), b"fragment:");
        assert_eq!(rules.group(b"plain"), OTHER);
        let only_prefixes = Rules {
            prefixes: vec![b"a".as_slice().into()],
            separator: None,
        };
        assert_eq!(only_prefixes.group(b"b:1"), OTHER);
    }

    #[test]
    fn counts_are_bounded_and_merge() {
        let mut stats = PrefixStats {
            generation: 0,
            rules: Some(Arc::new(Rules {
                prefixes: Vec::new(),
                separator: Some(b':'),
            })),
            counts: Vec::new(),
        };
        for i in 0..100 {
            stats.count(format!("p{i}:x").as_bytes(), i % 2 == 0);
        }
        assert_eq!(stats.counts.len(), MAX_GROUPS + 1);
        let other = stats
            .counts
            .iter()
            .find(|(g, _, _)| &g[..] == OTHER)
            .unwrap();
        assert_eq!(other.1 + other.2, 100 - MAX_GROUPS as u64);
        let mut total = Vec::new();
        merge(&stats.counts, &mut total);
        merge(&stats.counts, &mut total);
        assert_eq!(total[0].1, 2);
        stats.reset();
        assert!(stats.counts.is_empty());
    }
}
