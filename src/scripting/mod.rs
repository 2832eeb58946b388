//! Lua scripting (EVAL, EVALSHA, SCRIPT): one Lua 5.1 VM for the server, a script cache keyed by
//! SHA1, and the run of one script.
//!
//! A script runs alone (EVAL is an ALL_SHARDS command: the gate's exclusive section), locking
//! each shard when it first touches it, so it may touch keys it did not declare, exactly like
//! Redis, and `redis.call` runs commands on the script's own `Ctx` through `run::Calls`, which
//! EVAL's family hands in (dispatch's nested run). The VM sits behind a mutex that only EVAL and
//! SCRIPT LOAD/EXISTS/FLUSH take.
//!
//! The cache, the VM and the Functions libraries (this file, `functions.rs`) are data the
//! server state holds: they never name a running command. `run.rs` is the run on a command's
//! context, entered by EVAL and FCALL (`run::eval`, `run::fcall`).
//!
//! The cache keeps every SCRIPT LOAD'ed script, and at most `EVAL_CACHE_MAX` scripts that were
//! only sent by EVAL, evicting the least recently used: clients like Odoo's ormcache send a new
//! script text for every key.

pub mod bit;
pub mod busy;
pub mod convert;
pub mod functions;
pub mod libs;
pub mod run;
pub mod sandbox;

use crate::error::CommandError;
use crate::protocol::Reply;
use crate::strconv::parse_i64_strict;
use bytes::Bytes;
use hashbrown::HashMap;
use mlua::Function;
use parking_lot::{Mutex, MutexGuard};
use sandbox::Sandbox;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// EVAL-only scripts kept in the cache (SCRIPT LOAD'ed ones are never evicted).
pub const EVAL_CACHE_MAX: usize = 500;

/// Whether the script may write (EVAL) or not (EVAL_RO, `#!lua flags=no-writes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    ReadOnly,
}

/// What the runner needs to know about the script.
pub struct Script<'a> {
    pub function: &'a Function,
    pub sha: &'a str,
    pub keys: &'a [Bytes],
    pub args: &'a [Bytes],
    pub access: Access,
    /// `#!lua flags=allow-oom`: writes are not refused over maxmemory.
    pub allow_oom: bool,
    /// A Redis Function: keys and arguments are passed to it (`function(keys, args)`) instead
    /// of being set as the KEYS and ARGV globals; `sha` is then the function's name.
    pub as_function: bool,
}

/// What EVAL and FCALL read of the server before a run: cluster mode (a `no-cluster` script
/// is refused there) and `busy-reply-threshold`.
#[derive(Clone, Copy, Debug)]
pub struct RunSettings {
    pub cluster_enabled: bool,
    pub busy_threshold_ms: u64,
}

/// What a script's shebang says about memory: a script with a `#!lua` line that is neither
/// `no-writes` nor `allow-oom` is refused when over the limit, like a DENYOOM command; with
/// `allow-oom` its writes are never refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptOomFlags {
    pub denies_oom: bool,
    pub allow_oom: bool,
    /// Declared flags without `no-writes`: a write command for READONLY on a replica.
    pub writes: bool,
    /// `no-writes`: also what CLIENT PAUSE WRITE lets through (client_pause.rs).
    pub no_writes: bool,
}

impl ScriptOomFlags {
    pub fn of(body: &[u8]) -> ScriptOomFlags {
        let Some(rest) = body.strip_prefix(b"#!lua") else {
            return ScriptOomFlags::default();
        };
        let line = &rest[..rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())];
        let has = |flag: &[u8]| {
            line.split(|&b| b == b' ')
                .filter_map(|w| w.strip_prefix(b"flags="))
                .flat_map(|f| f.split(|&b| b == b','))
                .any(|f| f == flag)
        };
        let allow_oom = has(b"allow-oom");
        let no_writes = has(b"no-writes");
        ScriptOomFlags {
            denies_oom: !allow_oom && !no_writes,
            allow_oom,
            writes: !has(b"no-writes"),
            no_writes,
        }
    }
}

/// How the script is named by the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// EVAL: the body itself.
    Body,
    /// EVALSHA: the SHA1 of a cached body.
    Sha,
}

pub struct Scripting {
    pub busy: Arc<busy::BusyState>,
    /// Redis Functions (FUNCTION LOAD libraries, FCALL), in their own VM.
    pub functions: functions::Functions,
    vm: Mutex<Option<Vm>>,
    cached: AtomicUsize,
}

impl Default for Scripting {
    fn default() -> Self {
        let busy: Arc<busy::BusyState> = Arc::default();
        Scripting {
            functions: functions::Functions::new(busy.clone()),
            busy,
            vm: Mutex::new(None),
            cached: AtomicUsize::new(0),
        }
    }
}

/// How a script entered the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// By EVAL; the value is its last-use tick in `eval_lru`.
    Eval(u64),
    /// By SCRIPT LOAD: kept until SCRIPT FLUSH.
    Loaded,
}

struct Cached {
    function: Function,
    origin: Origin,
    /// Scripts with a `#!lua flags=no-writes` shebang run read-only.
    no_writes: bool,
    /// What the shebang says about maxmemory (see `memory_limit::ScriptOomFlags`).
    oom: ScriptOomFlags,
    /// `#!lua flags=no-cluster`: refused in cluster mode.
    no_cluster: bool,
}

struct Vm {
    sandbox: Sandbox,
    scripts: HashMap<String, Cached>,
    eval_lru: BTreeMap<u64, String>,
    tick: u64,
}

impl Scripting {
    /// INFO's `number_of_cached_scripts`.
    pub fn cached_scripts(&self) -> usize {
        self.cached.load(Ordering::Relaxed)
    }

    /// Takes the VM. A script holds it only inside the gate's exclusive section, where no
    /// other command runs, so the wait is for a SCRIPT LOAD/EXISTS/FLUSH at most.
    fn lock_vm(&self) -> Result<MutexGuard<'_, Option<Vm>>, CommandError> {
        Ok(self.vm.lock())
    }

    fn vm<'g>(
        &self,
        guard: &'g mut MutexGuard<'_, Option<Vm>>,
    ) -> Result<&'g mut Vm, CommandError> {
        if guard.is_none() {
            let sandbox = Sandbox::new(self.busy.clone())
                .map_err(|e| CommandError::err(format!("Failed to create the Lua VM: {e}")))?;
            **guard = Some(Vm {
                sandbox,
                scripts: HashMap::new(),
                eval_lru: BTreeMap::new(),
                tick: 0,
            });
        }
        Ok(guard.as_mut().expect("VM was just created"))
    }

    /// SCRIPT LOAD: compiles and caches a body for good; returns its SHA1.
    pub fn load(&self, body: &[u8]) -> Result<String, CommandError> {
        let mut guard = self.lock_vm()?;
        let vm = self.vm(&mut guard)?;
        let sha = sha1_hex(body);
        match vm.scripts.get_mut(&sha) {
            Some(cached) => {
                if let Origin::Eval(tick) = cached.origin {
                    vm.eval_lru.remove(&tick);
                    cached.origin = Origin::Loaded;
                }
            }
            None => {
                let (function, no_writes) = compile(&vm.sandbox, body)?;
                vm.scripts.insert(
                    sha.clone(),
                    Cached {
                        function,
                        origin: Origin::Loaded,
                        no_writes,
                        oom: ScriptOomFlags::of(body),
                        no_cluster: shebang_has_flag(body, b"no-cluster"),
                    },
                );
                self.cached.store(vm.scripts.len(), Ordering::Relaxed);
            }
        }
        Ok(sha)
    }

    /// The maxmemory flags of a cached script (none for an unknown SHA1: EVALSHA fails then).
    pub fn oom_flags(&self, sha: &[u8]) -> ScriptOomFlags {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        // A running script holds the VM: the caller waits for it (or BUSY) anyway.
        self.vm
            .try_lock()
            .as_ref()
            .and_then(|guard| guard.as_ref())
            .and_then(|vm| vm.scripts.get(&sha).map(|c| c.oom))
            .unwrap_or_default()
    }

    /// SCRIPT EXISTS for one SHA1.
    pub fn exists(&self, sha: &[u8]) -> Result<bool, CommandError> {
        let guard = self.lock_vm()?;
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        Ok(guard
            .as_ref()
            .is_some_and(|vm| vm.scripts.contains_key(&sha)))
    }

    /// SCRIPT FLUSH: drops every script and the VM with them (a fresh one is made on next use).
    pub fn flush(&self) -> Result<(), CommandError> {
        let mut guard = self.lock_vm()?;
        *guard = None;
        self.cached.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// EVAL / EVALSHA / EVAL_RO / EVALSHA_RO: `argv` is the whole command. Finds or compiles
    /// the script, marks the server BUSY while it runs, and hands it to `run` (`run::eval`:
    /// the run on the caller's context).
    pub fn eval(
        &self,
        argv: &[Bytes],
        source: Source,
        access: Access,
        settings: RunSettings,
        run: impl FnOnce(&Sandbox, &busy::BusyState, Script<'_>) -> Reply,
    ) -> Result<Reply, CommandError> {
        let numkeys = parse_i64_strict(&argv[2]).ok_or(CommandError::NotInteger)?;
        if numkeys < 0 {
            return Err(CommandError::err("Number of keys can't be negative"));
        }
        let rest = &argv[3..];
        if numkeys as u64 > rest.len() as u64 {
            return Err(CommandError::err(
                "Number of keys can't be greater than number of args",
            ));
        }
        let (keys, args) = rest.split_at(numkeys as usize);
        let mut guard = self.lock_vm()?;
        let vm = self.vm(&mut guard)?;
        let (sha, function, no_writes) = match source {
            Source::Body => vm.get_or_compile(&argv[1], &self.cached)?,
            Source::Sha => {
                let sha = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
                let Some(cached) = vm.scripts.get(&sha) else {
                    return Err(CommandError::other(
                        "NOSCRIPT No matching script. Please use EVAL.",
                    ));
                };
                let found = (cached.function.clone(), cached.no_writes);
                vm.touch(&sha);
                (sha, found.0, found.1)
            }
        };
        let access = if no_writes { Access::ReadOnly } else { access };
        if settings.cluster_enabled && vm.scripts.get(&sha).is_some_and(|c| c.no_cluster) {
            return Err(CommandError::err(crate::cluster::NO_CLUSTER_SCRIPT));
        }
        let allow_oom = vm.scripts.get(&sha).is_some_and(|c| c.oom.allow_oom);
        let _running = self.busy.start(settings.busy_threshold_ms);
        let script = Script {
            function: &function,
            sha: &sha,
            keys,
            args,
            access,
            allow_oom,
            as_function: false,
        };
        Ok(run(&vm.sandbox, &self.busy, script))
    }
}

impl Vm {
    /// Marks an EVAL-cached script as just used.
    fn touch(&mut self, sha: &str) {
        let Some(cached) = self.scripts.get_mut(sha) else {
            return;
        };
        if let Origin::Eval(old) = cached.origin {
            self.tick += 1;
            self.eval_lru.remove(&old);
            self.eval_lru.insert(self.tick, sha.to_string());
            cached.origin = Origin::Eval(self.tick);
        }
    }

    fn get_or_compile(
        &mut self,
        body: &[u8],
        count: &AtomicUsize,
    ) -> Result<(String, Function, bool), CommandError> {
        let sha = sha1_hex(body);
        if let Some(cached) = self.scripts.get(&sha) {
            let found = (cached.function.clone(), cached.no_writes);
            self.touch(&sha);
            return Ok((sha, found.0, found.1));
        }
        let (function, no_writes) = compile(&self.sandbox, body)?;
        while self.eval_lru.len() >= EVAL_CACHE_MAX {
            let Some((_, oldest)) = self.eval_lru.pop_first() else {
                break;
            };
            self.scripts.remove(&oldest);
        }
        self.tick += 1;
        self.eval_lru.insert(self.tick, sha.clone());
        self.scripts.insert(
            sha.clone(),
            Cached {
                function: function.clone(),
                origin: Origin::Eval(self.tick),
                no_writes,
                oom: ScriptOomFlags::of(body),
                no_cluster: shebang_has_flag(body, b"no-cluster"),
            },
        );
        count.store(self.scripts.len(), Ordering::Relaxed);
        Ok((sha, function, no_writes))
    }
}

/// Compiles a script body as Redis does (chunk name `@user_script`), honouring a `#!lua`
/// shebang line. Returns the function and whether the shebang declared `no-writes`.
fn compile(sandbox: &Sandbox, body: &[u8]) -> Result<(Function, bool), CommandError> {
    let mut no_writes = false;
    let mut text = body.to_vec();
    if body.starts_with(b"#!") {
        let line_end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
        let line = String::from_utf8_lossy(&body[2..line_end]).into_owned();
        let mut words = line.split(' ').filter(|w| !w.is_empty());
        let engine = words.next().unwrap_or("");
        if engine != "lua" {
            return Err(CommandError::err(format!(
                "Unexpected engine in script shebang: #!{engine}"
            )));
        }
        for word in words {
            let Some(flags) = word.strip_prefix("flags=") else {
                return Err(CommandError::err(format!(
                    "Unknown lua shebang option: {word}"
                )));
            };
            for flag in flags.split(',').filter(|f| !f.is_empty()) {
                match flag {
                    "no-writes" => no_writes = true,
                    "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                    other => {
                        return Err(CommandError::err(format!(
                            "Unexpected flag in script shebang: {other}"
                        )))
                    }
                }
            }
        }
        // Keep line numbers: the shebang line becomes a Lua comment.
        text[0] = b'-';
        text[1] = b'-';
    }
    let function = sandbox
        .lua
        .load(text)
        .set_name("@user_script")
        .set_mode(mlua::chunk::ChunkMode::Text)
        .into_function()
        .map_err(|e| {
            let message = match &e {
                mlua::Error::SyntaxError { message, .. } => message.clone(),
                other => sandbox::error_text(other)
                    .trim_start_matches("ERR ")
                    .to_string(),
            };
            CommandError::err(format!(
                "Error compiling script (new function): {}",
                message.replace(['\r', '\n'], " ")
            ))
        })?;
    Ok((function, no_writes))
}

/// Whether a script's `#!lua` shebang line lists `flag` in its `flags=`.
fn shebang_has_flag(body: &[u8], flag: &[u8]) -> bool {
    let Some(rest) = body.strip_prefix(b"#!lua") else {
        return false;
    };
    let line = &rest[..rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())];
    line.split(|&b| b == b' ')
        .filter_map(|w| w.strip_prefix(b"flags="))
        .flat_map(|f| f.split(|&b| b == b','))
        .any(|f| f == flag)
}

/// Lowercase hex SHA1, as script names.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// How long a hand-off waits for another thread to take this worker's core.
const HAND_OFF_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// Hands this worker's core (its queue of other connections) to another thread, so that the
/// rest of a long script keeps running here while those connections are served. Called from
/// the instruction hook once a script has run for a few milliseconds. Returns false when the
/// core did not move (the caller tries again later) or there is no multi-thread runtime.
///
/// `block_in_place` starts a thread to take the core, but takes the core back when its closure
/// returns before that thread got it; an empty closure therefore usually undoes the hand-off,
/// leaving the task in this worker's LIFO slot (which no other worker may steal) waiting for the
/// script. So the closure waits until a marker task, spawned onto this worker's own LIFO slot
/// just before, has run: only the thread holding the core can run it.
pub fn hand_off_worker() -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tokio::runtime::{Handle, RuntimeFlavor};
    let Ok(handle) = Handle::try_current() else {
        return false;
    };
    if handle.runtime_flavor() != RuntimeFlavor::MultiThread {
        return false;
    }
    let moved = Arc::new(AtomicBool::new(false));
    let marker = moved.clone();
    handle.spawn(async move { marker.store(true, Ordering::Release) });
    tokio::task::block_in_place(|| {
        let deadline = std::time::Instant::now() + HAND_OFF_WAIT;
        while !moved.load(Ordering::Acquire) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    });
    moved.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_flags() {
        assert_eq!(ScriptOomFlags::of(b"return 1"), ScriptOomFlags::default());
        assert!(ScriptOomFlags::of(b"#!lua\nreturn 1").denies_oom);
        let allow = ScriptOomFlags::of(b"#!lua flags=no-cluster,allow-oom\nreturn 1");
        assert!(allow.allow_oom && !allow.denies_oom);
        assert!(!ScriptOomFlags::of(b"#!lua flags=no-writes").denies_oom);
    }
}
