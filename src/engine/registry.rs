//! The command table: the families' `COMMANDS` (handed in by the caller, see `commands::TABLES`), looked up by lower-case name, with a counter
//! slot per command and subcommand for INFO commandstats.

use crate::engine::CommandSpec;
use crate::error::CommandError;
use bytes::Bytes;
use hashbrown::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// One family's `COMMANDS`.
pub type Table = &'static [CommandSpec];

fn specs(tables: &[Table]) -> impl Iterator<Item = &'static CommandSpec> + '_ {
    tables.iter().flat_map(|t| t.iter())
}

/// Call counters of one command (or subcommand).
#[derive(Default, Debug)]
pub struct CallStats {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected_calls: AtomicU64,
    pub failed_calls: AtomicU64,
    /// Durations of the calls (LATENCY HISTOGRAM, INFO latencystats).
    pub latency: crate::observability::histogram::LatencyHistogram,
}

impl CallStats {
    pub fn reset(&self) {
        self.latency.reset();
        for c in [
            &self.calls,
            &self.usec,
            &self.rejected_calls,
            &self.failed_calls,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// The calls of one command a connection has run since they were last added to the shared
/// `CallStats` (and the server's command count): in a pipelined batch of GETs, the shared
/// counters take one atomic add each per batch instead of four per call.
///
/// Only connection tasks tally (`enabled`), and only commands that act on keys named in their
/// arguments and run no other commands (`tallies`): those never read the counters. Every
/// other command (INFO, LATENCY, CONFIG RESETSTAT, scripts and EXEC, which may call INFO)
/// finds the tally flushed before it runs, and the connection flushes it at the end of every
/// batch, before its replies are written and before a blocking command waits: whoever reads
/// the counters after seeing a reply sees that reply's call counted.
#[derive(Debug, Default)]
pub struct CallTally {
    pub enabled: bool,
    stats: Option<&'static CallStats>,
    calls: u64,
    usec: u64,
    /// Calls per latency step for the fast steps (slower calls are recorded at once).
    steps: [u32; TALLIED_STEPS],
}

/// Latency steps tallied per connection: up to ~8 µs, where almost every call falls.
const TALLIED_STEPS: usize = 4;

impl CallTally {
    /// Whether calls of `spec` may wait in a tally (see the type).
    #[inline]
    pub fn tallies(spec: &CommandSpec) -> bool {
        matches!(spec.keys, crate::engine::KeySpec::Range { .. })
            && !spec.has(crate::engine::flags::RUNS_SCRIPT | crate::engine::flags::RUNS_QUEUED)
    }

    /// Counts one call of `found` that took `usec` microseconds; `processed` is the server's
    /// count of commands processed.
    #[inline]
    pub fn count(&mut self, found: Found, usec: u64, processed: &AtomicU64) {
        if !self.enabled || !Self::tallies(found.spec) {
            self.flush(processed);
            found.stats.calls.fetch_add(1, Ordering::Relaxed);
            found.stats.usec.fetch_add(usec, Ordering::Relaxed);
            found.stats.latency.record(usec);
            processed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if !matches!(self.stats, Some(s) if std::ptr::eq(s, found.stats)) {
            self.flush(processed);
            self.stats = Some(found.stats);
        }
        self.calls += 1;
        self.usec += usec;
        let step = crate::observability::histogram::bucket_of(usec);
        match self.steps.get_mut(step) {
            Some(n) => *n += 1,
            None => found.stats.latency.add(step, 1),
        }
    }

    /// Adds what the tally holds to the shared counters and empties it.
    #[inline]
    pub fn flush(&mut self, processed: &AtomicU64) {
        let Some(stats) = self.stats.take() else {
            return;
        };
        self.flush_into(stats, processed);
    }

    #[cold]
    fn flush_into(&mut self, stats: &CallStats, processed: &AtomicU64) {
        stats.calls.fetch_add(self.calls, Ordering::Relaxed);
        stats.usec.fetch_add(self.usec, Ordering::Relaxed);
        processed.fetch_add(self.calls, Ordering::Relaxed);
        for (step, n) in self.steps.iter_mut().enumerate() {
            if *n > 0 {
                stats.latency.add(step, u64::from(std::mem::take(n)));
            }
        }
        self.calls = 0;
        self.usec = 0;
    }
}

/// Room for every command and subcommand id (the registry holds a few hundred): the ids are
/// below it, so ACL permission bitmaps can be this many bits.
pub const COMMAND_ID_MAX: usize = 1024;

/// A command found in the table: its spec and its counters.
#[derive(Clone, Copy)]
pub struct Found {
    pub spec: &'static CommandSpec,
    pub stats: &'static CallStats,
    /// `get`, or `config|get` for a subcommand.
    pub full_name: &'static str,
    /// `full_name` at an address kept for the whole process: what a client's last command
    /// points to (`clients::LastCommand`).
    pub name_slot: &'static &'static str,
    /// Index of this command or subcommand in ACL permission bitmaps.
    pub id: u16,
    /// The name a client sends for it, lower and upper case, at addresses kept for the whole
    /// process (`RequestDecoder::share_names`); empty for a subcommand.
    pub spellings: &'static [&'static [u8]; 2],
}

/// What a connection's look-ahead learned about a request before dispatch: its command as
/// found in the table (a command without subcommands) and, for a plain key command decoded
/// ahead, the hash of its first key (dispatch places the command and its lookups of that key
/// with it instead of hashing the key again).
#[derive(Clone, Copy, Debug)]
pub struct Known {
    pub found: Found,
    pub key_hash: Option<u64>,
}

impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.full_name)
    }
}

pub struct Registry {
    /// Keyed by the lower-case name's bytes, so a lookup of client bytes needs no UTF-8 check.
    by_name: HashMap<Box<[u8]>, Found>,
    subcommands: HashMap<String, Found>,
}

impl Registry {
    /// Builds the table, applying `rename-command old new` (an empty new name removes it).
    /// Checks `rename-command` directives in order as redis-server does when it reads them:
    /// `Err((index, reason))` for the first that names no command or renames onto a command
    /// that exists.
    pub fn check_renames(
        tables: &[Table],
        renames: &[(String, String)],
    ) -> Result<(), (usize, &'static str)> {
        let mut names: std::collections::HashSet<String> =
            specs(tables).map(|spec| spec.name.to_string()).collect();
        for (i, (old, new)) in renames.iter().enumerate() {
            if !names.remove(old) {
                return Err((i, "No such command in rename-command"));
            }
            if !new.is_empty() && !names.insert(new.to_ascii_lowercase()) {
                return Err((i, "Target command name already exists"));
            }
        }
        Ok(())
    }

    pub fn new(tables: &[Table], renames: &[(String, String)]) -> Registry {
        // Counters live for the whole process; the table is built once per server.
        let mut next_id = 0u16;
        let mut found = |spec: &'static CommandSpec, full_name: String| {
            let id = next_id;
            next_id += 1;
            assert!((id as usize) < COMMAND_ID_MAX);
            let full_name: &'static str = Box::leak(full_name.into_boxed_str());
            Found {
                spec,
                stats: Box::leak(Box::default()),
                full_name,
                name_slot: Box::leak(Box::new(full_name)),
                id,
                spellings: &[b"", b""],
            }
        };
        let mut by_name: HashMap<Box<[u8]>, Found> = HashMap::new();
        let mut subcommands = HashMap::new();
        for spec in specs(tables) {
            by_name.insert(
                spec.name.as_bytes().into(),
                found(spec, spec.name.to_string()),
            );
            for sub in spec.subcommands {
                let full = format!("{}|{}", spec.name, sub.name);
                subcommands.insert(full.clone(), found(sub, full));
            }
        }
        for (old, new) in renames {
            if let Some(entry) = by_name.remove(old.as_bytes()) {
                if !new.is_empty() {
                    by_name.insert(new.to_ascii_lowercase().into_bytes().into(), entry);
                }
            }
        }
        // Spelled as the table is keyed, after renames: a few bytes per command, once.
        for (name, entry) in by_name.iter_mut() {
            let lower: &'static [u8] = Box::leak(name.clone());
            let upper: &'static [u8] = Box::leak(name.to_ascii_uppercase().into_boxed_slice());
            entry.spellings = Box::leak(Box::new([lower, upper]));
        }
        Registry {
            by_name,
            subcommands,
        }
    }

    /// Looks a command up by its (any-case) name.
    pub fn get(&self, name: &[u8]) -> Option<Found> {
        let mut buf = [0u8; 64];
        if name.len() > buf.len() {
            return None;
        }
        for (dst, src) in buf.iter_mut().zip(name) {
            *dst = src.to_ascii_lowercase();
        }
        self.by_name.get(&buf[..name.len()]).copied()
    }

    /// Finds the command (or subcommand) of a request and checks its arity.
    #[inline]
    pub fn resolve(&self, argv: &[Bytes]) -> Result<Found, CommandError> {
        let name = &argv[0];
        let Some(found) = self.get(name) else {
            return Err(unknown_command(argv));
        };
        if found.spec.subcommands.is_empty() {
            if !found.spec.arity_ok(argv.len()) {
                return Err(CommandError::Arity(found.spec.name.to_string()));
            }
            return Ok(found);
        }
        if argv.len() < 2 {
            // A container that also runs bare (COMMAND) has arity -1.
            if found.spec.arity_ok(argv.len()) {
                return Ok(found);
            }
            return Err(CommandError::Arity(found.spec.name.to_string()));
        }
        let Some(sub) = self.get_sub(found.spec, &argv[1]) else {
            let mut text = b"ERR unknown subcommand '".to_vec();
            text.extend_from_slice(c_str(&argv[1], 128));
            text.extend_from_slice(
                format!("'. Try {} HELP.", found.spec.name.to_ascii_uppercase()).as_bytes(),
            );
            return Err(CommandError::Raw(one_line(text)));
        };
        if !sub.spec.arity_ok(argv.len()) {
            return Err(CommandError::Arity(sub.full_name.to_string()));
        }
        Ok(sub)
    }

    /// Looks up `parent|sub` (sub in any case).
    pub fn get_sub(&self, parent: &CommandSpec, sub: &[u8]) -> Option<Found> {
        let name = format!(
            "{}|{}",
            parent.name,
            String::from_utf8_lossy(sub).to_ascii_lowercase()
        );
        self.subcommands.get(&name).copied()
    }

    /// All top-level commands with the name they are reachable under.
    pub fn all(&self) -> impl Iterator<Item = (&str, Found)> {
        // Names come from the table and from rename-command's words: UTF-8 text.
        self.by_name
            .iter()
            .map(|(n, f)| (std::str::from_utf8(n).unwrap_or_default(), *f))
    }

    /// Every command and subcommand entry (for INFO commandstats and CONFIG RESETSTAT).
    pub fn all_entries(&self) -> impl Iterator<Item = Found> + '_ {
        self.by_name
            .values()
            .chain(self.subcommands.values())
            .copied()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// Redis's text for an unknown command, including up to 128 bytes of its arguments.
/// The bytes are Redis's: each part is cut at its first NUL (C's `%.*s`), copied raw, and
/// CR/LF become spaces so the error stays one line.
fn unknown_command(argv: &[Bytes]) -> CommandError {
    let mut args = Vec::new();
    for arg in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push(b'\'');
        args.extend_from_slice(c_str(arg, room));
        args.extend_from_slice(b"' ");
    }
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(c_str(&argv[0], 128));
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend_from_slice(&args);
    CommandError::Raw(one_line(text))
}

/// Client bytes as C's `%.*s` prints them: up to the first NUL, at most `max` bytes.
fn c_str(bytes: &[u8], max: usize) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(bytes.len())
        .min(max);
    &bytes[..end]
}

/// Error texts quoting client input stay on one line, as Redis's `rejectCommand` makes them.
fn one_line(mut text: Vec<u8>) -> Vec<u8> {
    for b in text.iter_mut() {
        if *b == b'\r' || *b == b'\n' {
            *b = b' ';
        }
    }
    text
}
