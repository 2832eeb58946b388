//! What a command declares: `CommandSpec` (name, arity, flags, key positions, ACL categories,
//! docs, the function that runs it), the flags, and the `command!` shorthand.

use super::{args, Ctx};

use crate::error::CommandError;
use crate::protocol::Reply;
use bytes::Bytes;

pub type CommandResult = Result<Reply, CommandError>;
pub type CommandFn = fn(&mut Ctx<'_>, &[Bytes]) -> CommandResult;

/// A HELP reply: one status line per entry, as Redis's `addReplyHelp`.
pub fn help_reply(lines: &[&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::status(l)).collect())
}

/// The `run` of a command that only has subcommands. Dispatch resolves the subcommand, and
/// answers unknown ones, before it would call this; it stays as a defined answer.
pub fn subcommands_only(_ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CommandResult {
    Err(CommandError::Arity(
        String::from_utf8_lossy(&argv[0]).to_ascii_lowercase(),
    ))
}

/// A command's flags: Redis's (the ones COMMAND INFO reports) and what dispatch and the
/// subsystems treat specially.
pub type Flags = u64;

/// Command flags, as in Redis's command table (COMMAND INFO reports their names).
pub mod flags {
    pub const WRITE: super::Flags = 1 << 0;
    pub const READONLY: super::Flags = 1 << 1;
    pub const DENYOOM: super::Flags = 1 << 2;
    pub const ADMIN: super::Flags = 1 << 3;
    pub const PUBSUB: super::Flags = 1 << 4;
    pub const NOSCRIPT: super::Flags = 1 << 5;
    pub const BLOCKING: super::Flags = 1 << 6;
    pub const LOADING: super::Flags = 1 << 7;
    pub const STALE: super::Flags = 1 << 8;
    pub const SKIP_MONITOR: super::Flags = 1 << 9;
    pub const SKIP_SLOWLOG: super::Flags = 1 << 10;
    pub const FAST: super::Flags = 1 << 11;
    pub const NO_AUTH: super::Flags = 1 << 12;
    pub const MAY_REPLICATE: super::Flags = 1 << 13;
    pub const NO_MULTI: super::Flags = 1 << 14;
    pub const ALLOW_BUSY: super::Flags = 1 << 15;
    /// Runs alone, in the gate's exclusive section, locking each shard on first use (scripts,
    /// EXEC, FLUSHALL, SWAPDB; see gate.rs).
    pub const ALL_SHARDS: super::Flags = 1 << 16;
    /// GETKEYS of a call without keys answers an empty list, not an error (EVAL with 0 keys).
    pub const NO_MANDATORY_KEYS: super::Flags = 1 << 17;
    /// Refused while a replica loads a dataset asynchronously (reported only: ferrocache has no
    /// replication).
    pub const NO_ASYNC_LOADING: super::Flags = 1 << 18;
    /// Routes Pub/Sub messages (PUBLISH, SPUBLISH): the connection lets the receivers finish
    /// the input they already have first (not reported by COMMAND INFO).
    pub const ROUTES_MESSAGES: super::Flags = 1 << 19;
    /// Its lookups leave the keys' LRU/LFU stamps alone, as Redis's `LOOKUP_NOTOUCH` (TYPE,
    /// EXISTS, TTL, OBJECT, MEMORY USAGE, DEBUG; not reported by COMMAND INFO).
    pub const NO_TOUCH: super::Flags = 1 << 20;
    /// Stamps the keys it looks up even for a CLIENT NO-TOUCH client: stamping is its purpose
    /// (TOUCH, Redis 7.2; not reported by COMMAND INFO).
    pub const TOUCHES: super::Flags = 1 << 21;
    /// A CLIENT subcommand: CLIENT CACHING's yes/no survives it and applies to the next other
    /// command (Redis's `c->cmd->proc != clientCommand`; not reported by COMMAND INFO).
    pub const KEEPS_CACHING: super::Flags = 1 << 22;

    // What dispatch and the subsystems treat specially, declared here rather than recognised
    // by name (none is reported by COMMAND INFO).
    /// Acts on the transaction itself: run at once inside MULTI, never queued (MULTI, EXEC,
    /// DISCARD, WATCH, QUIT, RESET).
    pub const NOT_QUEUED: super::Flags = 1 << 23;
    /// Ends a transaction, so it is not refused for memory inside MULTI (EXEC, DISCARD, QUIT,
    /// RESET; Redis's `processCommand` names the same four).
    pub const ENDS_TRANSACTION: super::Flags = 1 << 24;
    /// Runs the commands queued since MULTI (EXEC): writes, MISCONF and OOM refusals look at
    /// them, and a refusal discards the transaction.
    pub const RUNS_QUEUED: super::Flags = 1 << 25;
    /// Refused like a write while writes fail (MISCONF), though it writes nothing (PING, as
    /// Redis's `processCommand`).
    pub const REFUSED_LIKE_WRITE: super::Flags = 1 << 26;
    /// Runs a script that may write, given as its body in the first argument (EVAL), by SHA1
    /// (EVALSHA) or as a function name (FCALL): its shebang or library flags say whether it is
    /// refused for memory.
    pub const SCRIPT_BODY: super::Flags = 1 << 27;
    pub const SCRIPT_SHA: super::Flags = 1 << 28;
    pub const SCRIPT_FUNCTION: super::Flags = 1 << 29;
    /// Changes what the connection listens to ((P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, RESET,
    /// MONITOR): the subscription counts are published after it.
    pub const CHANGES_LISTENING: super::Flags = 1 << 30;
    /// Answers `pong` as a Pub/Sub message to a RESP2 subscriber (PING).
    pub const PONG_WHILE_SUBSCRIBED: super::Flags = 1 << 31;
    /// Runs on a RESP2 connection in subscribed mode ((P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING,
    /// QUIT, RESET); any other command is refused there.
    pub const ALLOWED_WHILE_SUBSCRIBED: super::Flags = 1 << 32;
    /// MONITOR shows it before the commands it runs, not after (EVAL*, EVALSHA*, FCALL*).
    pub const SHOWN_BEFORE_RUNNING: super::Flags = 1 << 33;
    /// Served for a key in a slot being imported after ASKING (RESTORE-ASKING; reported by
    /// COMMAND INFO as `asking`).
    pub const ASKING: super::Flags = 1 << 34;
    /// May leave its client waiting for something other than keys: replicas' or the log's
    /// acknowledgements (WAIT, WAITAOF). The epoll loop hands it to a connection task before
    /// it runs, so the client is parked before the acknowledgement can come (not reported by
    /// COMMAND INFO; Redis declares both `noscript` only).
    pub const AWAITS_ACKS: super::Flags = 1 << 35;
    /// Any of the script flags.
    pub const RUNS_SCRIPT: super::Flags = SCRIPT_BODY | SCRIPT_SHA | SCRIPT_FUNCTION;

    /// Flag names in the order Redis prints them.
    pub const NAMES: &[(super::Flags, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Finds a command's keys in its arguments: (database, argument index) pairs, the database
/// `None` for the client's current one.
pub type KeyFinder = fn(&[Bytes]) -> Vec<(Option<usize>, usize)>;

/// Keys after a `numkeys` argument at `at` (ZUNION, ZMPOP, SINTERCARD ...): as many as it
/// says, bounded by the arguments present; none when it is not a positive integer (the command
/// then answers the error itself).
pub fn keys_after_numkeys(argv: &[Bytes], at: usize) -> Vec<(Option<usize>, usize)> {
    let Some(n) = argv.get(at).and_then(|a| args::parse_i64(a).ok()) else {
        return Vec::new();
    };
    let available = argv.len().saturating_sub(at + 1);
    let n = usize::try_from(n).unwrap_or(0).min(available);
    (at + 1..at + 1 + n).map(|i| (None, i)).collect()
}

/// Where a command's keys are in its arguments (argv[0] is the command name).
#[derive(Clone, Copy, Debug)]
pub enum KeySpec {
    /// No keys (or keys found by iterating shards, like KEYS and SCAN).
    None,
    /// Keys at `first`, `first + step`, ... up to `last` (negative counts from the end: -1 is
    /// the last argument).
    Range { first: i32, last: i32, step: i32 },
    /// Keys computed from the arguments; returns (database, argument index) pairs, where the
    /// database is `None` for the client's current one.
    Custom(KeyFinder),
}

impl KeySpec {
    pub const fn one() -> KeySpec {
        KeySpec::Range {
            first: 1,
            last: 1,
            step: 1,
        }
    }

    pub const fn all_from_first() -> KeySpec {
        KeySpec::Range {
            first: 1,
            last: -1,
            step: 1,
        }
    }

    /// Argument indexes of the keys in `argv`, bounded by its length.
    pub fn key_indexes(&self, argv: &[Bytes]) -> Vec<(Option<usize>, usize)> {
        match *self {
            KeySpec::None => Vec::new(),
            KeySpec::Custom(f) => f(argv),
            KeySpec::Range { first, last, step } => {
                let n = argv.len() as i32;
                let last = if last < 0 { n + last } else { last.min(n - 1) };
                let mut out = Vec::new();
                let mut i = first;
                while i <= last && i < n && step > 0 {
                    out.push((None, i as usize));
                    i += step;
                }
                out
            }
        }
    }

    /// (first, last, step) as COMMAND INFO reports them.
    pub fn legacy_range(&self) -> (i32, i32, i32) {
        match *self {
            KeySpec::Range { first, last, step } => (first, last, step),
            _ => (0, 0, 0),
        }
    }
}

/// One command's declaration.
pub struct CommandSpec {
    /// Lower-case name, as COMMAND reports it.
    pub name: &'static str,
    /// Redis arity: positive = exact argc, negative = at least -arity.
    pub arity: i32,
    pub flags: Flags,
    pub keys: KeySpec,
    /// ACL categories without the `@`, e.g. `["string", "fast"]`; `keyspace`/`read`/`write`
    /// are derived from flags when COMMAND INFO renders them.
    pub acl: &'static [&'static str],
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    pub run: CommandFn,
    /// Subcommands (CONFIG GET, CLIENT LIST, ...), dispatched by the second argument.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// A subcommand (CONFIG GET, SCRIPT LOAD, ...): no keys of its own, no nested subcommands.
    #[allow(clippy::too_many_arguments)]
    pub const fn subcommand(
        name: &'static str,
        arity: i32,
        flags: Flags,
        group: &'static str,
        acl: &'static [&'static str],
        since: &'static str,
        summary: &'static str,
        complexity: &'static str,
        run: CommandFn,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            keys: KeySpec::None,
            acl,
            group,
            summary,
            since,
            complexity,
            run,
            subcommands: &[],
        }
    }

    pub fn has(&self, flag: Flags) -> bool {
        self.flags & flag != 0
    }

    /// Whether this command's lookups must leave access stamps alone when run for a client
    /// with CLIENT NO-TOUCH set to `client_no_touch`.
    pub fn spares_stamps(&self, client_no_touch: bool) -> bool {
        self.has(flags::NO_TOUCH) || (client_no_touch && !self.has(flags::TOUCHES))
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}

/// Declares a command with the fields most commands share defaulted.
#[macro_export]
macro_rules! command {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $acl:expr, $group:literal, $since:literal, $summary:literal, $run:expr) => {
        $crate::engine::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $keys,
            acl: $acl,
            group: $group,
            summary: $summary,
            since: $since,
            complexity: "",
            run: $run,
            subcommands: &[],
        }
    };
}
