//! Redis Functions: libraries loaded with FUNCTION LOAD (`#!lua name=<lib>` code that calls
//! `redis.register_function`), kept in their own Lua VM and called with FCALL / FCALL_RO.
//!
//! A library's chunk runs once at load, in an environment that holds only the library API
//! (`redis.register_function`, `redis.log`, the LOG_* levels, the version); the callbacks it
//! registers read the full globals when called (see prelude.lua). A call goes through the same
//! run path as EVAL (`run::fcall`, then `run::run`), with the keys and arguments passed to the callback and the
//! function's name where EVAL names the script's SHA1.
//!
//! Lock order is EVAL's: FCALL holds every shard (ALL_SHARDS), then this VM's mutex; the
//! management commands take only the mutex. The library codes are also kept apart from the VM
//! (`codes`), so a save or FUNCTION DUMP never waits for a running function.

use super::busy::{self, BusyState};
use super::sandbox::{Mode, Sandbox};
use super::{Access, RunSettings, Script, ScriptOomFlags};
use crate::error::CommandError;
use crate::protocol::Reply;
use crate::strconv::parse_i64_strict;
use bytes::Bytes;
use hashbrown::HashMap;
use mlua::{Function, Table, Value, Variadic};
use parking_lot::{Mutex, MutexGuard};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a library's chunk may run at load (Redis's LOAD_TIMEOUT_MS).
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// Function flags, in the order FUNCTION LIST prints them.
pub mod flag {
    pub const NO_WRITES: u8 = 1;
    pub const ALLOW_OOM: u8 = 2;
    pub const ALLOW_STALE: u8 = 4;
    pub const NO_CLUSTER: u8 = 8;
    pub const ALLOW_CROSS_SLOT_KEYS: u8 = 16;
    pub const NAMES: &[(u8, &str)] = &[
        (NO_WRITES, "no-writes"),
        (ALLOW_OOM, "allow-oom"),
        (ALLOW_STALE, "allow-stale"),
        (NO_CLUSTER, "no-cluster"),
        (ALLOW_CROSS_SLOT_KEYS, "allow-cross-slot-keys"),
    ];
}

struct FunctionDef {
    name: String,
    callback: Function,
    flags: u8,
    description: Option<Bytes>,
}

struct Library {
    name: String,
    code: Bytes,
    functions: Vec<FunctionDef>,
}

/// What `redis.register_function` collects: `Some` only while a library loads.
type Registrations = Arc<Mutex<Option<Vec<FunctionDef>>>>;

struct FnVm {
    sandbox: Sandbox,
    registrations: Registrations,
    /// By library name.
    libraries: BTreeMap<String, Library>,
    /// Lowercase function name -> its library's name (function names are case-insensitive).
    functions: HashMap<String, String>,
}

impl FnVm {
    fn function(&self, name: &[u8]) -> Option<&FunctionDef> {
        let key = String::from_utf8_lossy(name).to_ascii_lowercase();
        let lib = self.functions.get(&key)?;
        self.libraries
            .get(lib)?
            .functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&key))
    }

    fn insert(&mut self, lib: Library) {
        for f in &lib.functions {
            self.functions
                .insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.libraries.insert(lib.name.clone(), lib);
    }

    fn remove(&mut self, name: &str) -> Option<Library> {
        let lib = self.libraries.remove(name)?;
        for f in &lib.functions {
            self.functions.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    /// The first function of `lib` whose name another library (not `except`) already has.
    fn clash(&self, lib: &Library, except: &[&str]) -> Option<String> {
        lib.functions.iter().find_map(|f| {
            let owner = self.functions.get(&f.name.to_ascii_lowercase())?;
            (!except.contains(&owner.as_str())).then(|| f.name.clone())
        })
    }
}

/// What FUNCTION STATS shows about the running function.
struct Running {
    name: String,
    command: Vec<Bytes>,
    started: Instant,
}

/// FUNCTION RESTORE's policy.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    Append,
    Replace,
    Flush,
}

pub struct Functions {
    busy: Arc<BusyState>,
    vm: Mutex<Option<FnVm>>,
    /// Library name -> code, readable while a function runs (saves, DUMP, STATS counts).
    codes: Mutex<BTreeMap<String, (Bytes, usize)>>,
    running: Mutex<Option<Running>>,
}

impl Functions {
    pub fn new(busy: Arc<BusyState>) -> Functions {
        Functions {
            busy,
            vm: Mutex::new(None),
            codes: Mutex::new(BTreeMap::new()),
            running: Mutex::new(None),
        }
    }

    /// Takes the VM, giving up with BUSY if a slow function or script holds it.
    fn lock_vm(&self) -> Result<MutexGuard<'_, Option<FnVm>>, CommandError> {
        loop {
            if let Some(guard) = self.vm.try_lock_for(Duration::from_millis(10)) {
                return Ok(guard);
            }
            if self.busy.is_busy() {
                return Err(CommandError::other(self.busy.busy_text()));
            }
        }
    }

    fn vm<'g>(
        &self,
        guard: &'g mut MutexGuard<'_, Option<FnVm>>,
    ) -> Result<&'g mut FnVm, CommandError> {
        if guard.is_none() {
            let failed =
                |e: mlua::Error| CommandError::err(format!("Failed to create the Lua VM: {e}"));
            let sandbox = Sandbox::with_mode(self.busy.clone(), Mode::Functions).map_err(failed)?;
            let registrations = register_function(&sandbox).map_err(failed)?;
            **guard = Some(FnVm {
                sandbox,
                registrations,
                libraries: BTreeMap::new(),
                functions: HashMap::new(),
            });
        }
        Ok(guard.as_mut().expect("VM was just created"))
    }

    fn publish_codes(&self, vm: &FnVm) {
        *self.codes.lock() = vm
            .libraries
            .values()
            .map(|l| (l.name.clone(), (l.code.clone(), l.functions.len())))
            .collect();
    }

    /// Every library's code, by name (RDB and AOF rewrites, FUNCTION DUMP).
    pub fn library_codes(&self) -> Vec<Bytes> {
        self.codes.lock().values().map(|(c, _)| c.clone()).collect()
    }

    /// FUNCTION LOAD [REPLACE] code: the library's name.
    pub fn load(&self, code: &[u8], replace: bool) -> Result<String, CommandError> {
        let mut guard = self.lock_vm()?;
        let vm = self.vm(&mut guard)?;
        let name = parse_metadata(code)?;
        if !replace && vm.libraries.contains_key(&name) {
            return Err(CommandError::err(format!(
                "Library '{name}' already exists"
            )));
        }
        let lib = prepare(&vm.sandbox, &vm.registrations, name, code)?;
        if let Some(f) = vm.clash(&lib, &[&lib.name]) {
            return Err(CommandError::err(format!("Function {f} already exists")));
        }
        let name = lib.name.clone();
        vm.remove(&name);
        vm.insert(lib);
        self.publish_codes(vm);
        Ok(name)
    }

    /// A library from an RDB file or an AOF preamble (replacing one of the same name).
    pub fn load_persisted(&self, code: &[u8]) -> Result<String, String> {
        self.load(code, true).map_err(|e| e.to_string())
    }

    /// FUNCTION DELETE name.
    pub fn delete(&self, name: &[u8]) -> Result<(), CommandError> {
        let mut guard = self.lock_vm()?;
        let vm = self.vm(&mut guard)?;
        let name = String::from_utf8_lossy(name);
        if vm.remove(&name).is_none() {
            return Err(CommandError::err("Library not found"));
        }
        self.publish_codes(vm);
        Ok(())
    }

    /// FUNCTION FLUSH: every library, and the VM with them.
    pub fn flush(&self) -> Result<(), CommandError> {
        let mut guard = self.lock_vm()?;
        *guard = None;
        self.codes.lock().clear();
        Ok(())
    }

    /// FUNCTION DUMP's payload.
    pub fn dump(&self) -> Vec<u8> {
        let codes = self.library_codes();
        crate::rdb::write::function_dump_payload(codes.iter().map(|c| &c[..]))
    }

    /// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
    /// `skip_checksum`: DEBUG SET-SKIP-CHECKSUM-VALIDATION is on.
    pub fn restore(
        &self,
        payload: &[u8],
        policy: RestorePolicy,
        skip_checksum: bool,
    ) -> Result<(), CommandError> {
        let Some(body) = crate::rdb::read::verify_dump_payload(payload, skip_checksum) else {
            return Err(CommandError::err(
                "DUMP payload version or checksum are wrong",
            ));
        };
        let codes = crate::rdb::read::read_function_payload(body).map_err(CommandError::err)?;
        let mut guard = self.lock_vm()?;
        let vm = self.vm(&mut guard)?;
        let mut incoming: Vec<Library> = Vec::new();
        for code in &codes {
            let name = parse_metadata(code)?;
            if incoming.iter().any(|l| l.name == name) {
                return Err(CommandError::err(format!(
                    "Library '{name}' already exists"
                )));
            }
            let lib = prepare(&vm.sandbox, &vm.registrations, name, code)?;
            for f in &lib.functions {
                if incoming
                    .iter()
                    .flat_map(|l| &l.functions)
                    .any(|g| g.name.eq_ignore_ascii_case(&f.name))
                {
                    return Err(CommandError::err(format!(
                        "Function {} already exists",
                        f.name
                    )));
                }
            }
            incoming.push(lib);
        }
        match policy {
            RestorePolicy::Flush => {
                vm.libraries.clear();
                vm.functions.clear();
            }
            RestorePolicy::Append => {
                if let Some(lib) = incoming.iter().find(|l| vm.libraries.contains_key(&l.name)) {
                    return Err(CommandError::err(format!(
                        "Library {} already exists",
                        lib.name
                    )));
                }
                if let Some(f) = incoming.iter().find_map(|l| vm.clash(l, &[])) {
                    return Err(CommandError::err(format!("Function {f} already exists")));
                }
            }
            RestorePolicy::Replace => {
                let replaced: Vec<&str> = incoming.iter().map(|l| l.name.as_str()).collect();
                if let Some(f) = incoming.iter().find_map(|l| vm.clash(l, &replaced)) {
                    return Err(CommandError::err(format!("Function {f} already exists")));
                }
            }
        }
        for lib in incoming {
            let name = lib.name.clone();
            vm.remove(&name);
            vm.insert(lib);
        }
        self.publish_codes(vm);
        Ok(())
    }

    /// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
    pub fn list(&self, pattern: Option<&[u8]>, with_code: bool) -> Result<Reply, CommandError> {
        let mut guard = self.lock_vm()?;
        let vm = self.vm(&mut guard)?;
        let mut out = Vec::new();
        for lib in vm.libraries.values() {
            if pattern.is_some_and(|p| !crate::glob::glob_match(p, lib.name.as_bytes(), false)) {
                continue;
            }
            let functions = lib
                .functions
                .iter()
                .map(|f| {
                    let flags = flag::NAMES
                        .iter()
                        .filter(|(bit, _)| f.flags & bit != 0)
                        .map(|(_, name)| Reply::status(name))
                        .collect();
                    Reply::Map(vec![
                        (Reply::bulk_static("name"), Reply::bulk(f.name.clone())),
                        (
                            Reply::bulk_static("description"),
                            f.description.clone().map_or(Reply::Nil, Reply::Bulk),
                        ),
                        (Reply::bulk_static("flags"), Reply::Set(flags)),
                    ])
                })
                .collect();
            let mut fields = vec![
                (
                    Reply::bulk_static("library_name"),
                    Reply::bulk(lib.name.clone()),
                ),
                (Reply::bulk_static("engine"), Reply::bulk_static("LUA")),
                (Reply::bulk_static("functions"), Reply::Array(functions)),
            ];
            if with_code {
                fields.push((
                    Reply::bulk_static("library_code"),
                    Reply::Bulk(lib.code.clone()),
                ));
            }
            out.push(Reply::Map(fields));
        }
        Ok(Reply::Array(out))
    }

    /// (libraries, functions) loaded, for INFO and FUNCTION STATS.
    pub fn counts(&self) -> (usize, usize) {
        let codes = self.codes.lock();
        (codes.len(), codes.values().map(|(_, n)| n).sum())
    }

    /// FUNCTION STATS (answers while a function runs: it does not take the VM).
    pub fn stats(&self) -> Reply {
        let running = self.running.lock().as_ref().map(|r| {
            Reply::Map(vec![
                (Reply::bulk_static("name"), Reply::bulk(r.name.clone())),
                (
                    Reply::bulk_static("command"),
                    Reply::Array(r.command.iter().cloned().map(Reply::Bulk).collect()),
                ),
                (
                    Reply::bulk_static("duration_ms"),
                    Reply::Int(r.started.elapsed().as_millis() as i64),
                ),
            ])
        });
        let (libraries, functions) = self.counts();
        let lua = Reply::Map(vec![
            (
                Reply::bulk_static("libraries_count"),
                Reply::Int(libraries as i64),
            ),
            (
                Reply::bulk_static("functions_count"),
                Reply::Int(functions as i64),
            ),
        ]);
        Reply::Map(vec![
            (
                Reply::bulk_static("running_script"),
                running.unwrap_or(Reply::Nil),
            ),
            (
                Reply::bulk_static("engines"),
                Reply::Map(vec![(Reply::bulk_static("LUA"), lua)]),
            ),
        ])
    }

    /// The maxmemory behaviour of a function (none for an unknown one: FCALL fails then).
    pub fn oom_flags(&self, name: &[u8]) -> ScriptOomFlags {
        // A running function holds the VM: the caller waits for it (or BUSY) anyway.
        let guard = self.vm.try_lock();
        let Some(f) = guard
            .as_ref()
            .and_then(|g| g.as_ref())
            .and_then(|vm| vm.function(name))
        else {
            return ScriptOomFlags::default();
        };
        let allow_oom = f.flags & flag::ALLOW_OOM != 0;
        ScriptOomFlags {
            writes: f.flags & flag::NO_WRITES == 0,
            denies_oom: !allow_oom && f.flags & flag::NO_WRITES == 0,
            allow_oom,
            no_writes: f.flags & flag::NO_WRITES != 0,
        }
    }

    /// FCALL / FCALL_RO: `argv` is the whole command. Finds the function, marks the server
    /// BUSY while it runs, and hands it to `run` (`run::fcall`: the run on the caller's
    /// context).
    pub fn fcall(
        &self,
        argv: &[Bytes],
        read_only: bool,
        settings: RunSettings,
        run: impl FnOnce(&Sandbox, &BusyState, Script<'_>) -> Reply,
    ) -> Result<Reply, CommandError> {
        let mut guard = self.lock_vm()?;
        let vm = self.vm(&mut guard)?;
        let Some(f) = vm.function(&argv[1]) else {
            return Err(CommandError::err("Function not found"));
        };
        let numkeys = parse_i64_strict(&argv[2])
            .ok_or_else(|| CommandError::err("Bad number of keys provided"))?;
        if numkeys < 0 {
            return Err(CommandError::err("Number of keys can't be negative"));
        }
        let rest = &argv[3..];
        if numkeys as u64 > rest.len() as u64 {
            return Err(CommandError::err(
                "Number of keys can't be greater than number of args",
            ));
        }
        if settings.cluster_enabled && f.flags & flag::NO_CLUSTER != 0 {
            return Err(CommandError::err(crate::cluster::NO_CLUSTER_SCRIPT));
        }
        let no_writes = f.flags & flag::NO_WRITES != 0;
        if read_only && !no_writes {
            return Err(CommandError::err(
                "Can not execute a script with write flag using *_ro command.",
            ));
        }
        let (keys, args) = rest.split_at(numkeys as usize);
        let access = if no_writes || read_only {
            Access::ReadOnly
        } else {
            Access::ReadWrite
        };
        let _running = self.busy.start(settings.busy_threshold_ms);
        self.busy.mark_function();
        *self.running.lock() = Some(Running {
            name: f.name.clone(),
            command: argv.to_vec(),
            started: Instant::now(),
        });
        let script = Script {
            function: &f.callback,
            sha: &f.name,
            keys,
            args,
            access,
            allow_oom: f.flags & flag::ALLOW_OOM != 0,
            as_function: true,
        };
        let reply = run(&vm.sandbox, &self.busy, script);
        *self.running.lock() = None;
        Ok(reply)
    }

    /// FUNCTION KILL.
    pub fn kill(&self) -> Result<(), busy::KillRefusal> {
        self.busy.request_kill_of(true)
    }
}

impl crate::rdb::Libraries for Functions {
    fn library_codes(&self) -> Vec<Bytes> {
        Functions::library_codes(self)
    }

    fn load_persisted(&self, code: &[u8]) -> Result<String, String> {
        Functions::load_persisted(self, code)
    }
}

/// The library name from the `#!lua name=<name>` first line, checked in Redis's order.
fn parse_metadata(code: &[u8]) -> Result<String, CommandError> {
    let Some(rest) = code.strip_prefix(b"#!") else {
        return Err(CommandError::err("Missing library metadata"));
    };
    // The metadata is a whole line: code without a newline has none.
    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
        return Err(CommandError::err("Invalid library metadata"));
    };
    let line = &rest[..end];
    let engine_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let engine = &line[..engine_end];
    let mut name: Option<&[u8]> = None;
    for part in line[engine_end..]
        .split(|&b| b == b' ')
        .filter(|p| !p.is_empty())
    {
        let Some(value) = part.strip_prefix(b"name=") else {
            return Err(CommandError::err(format!(
                "Invalid metadata value given: {}",
                String::from_utf8_lossy(part)
            )));
        };
        if name.is_some() {
            return Err(CommandError::err(
                "Invalid metadata value, name argument was given multiple times",
            ));
        }
        name = Some(value);
    }
    let Some(name) = name else {
        return Err(CommandError::err("Library name was not given"));
    };
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(CommandError::err(format!(
            "Engine '{}' not found",
            String::from_utf8_lossy(engine)
        )));
    }
    if !valid_name(name) {
        return Err(CommandError::err(NAME_RULE));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// Redis 7.0's text for a bad library name, and also for a bad function name.
const NAME_RULE: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

fn raise(text: &str) -> mlua::Error {
    mlua::Error::RuntimeError(text.to_string())
}

/// A string argument as `lua_isstring` accepts it (numbers converted as `tostring` does).
fn string_arg(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(n) => Some(super::libs::number_text(*n as f64).into_bytes()),
        Value::Number(n) => Some(super::libs::number_text(*n).into_bytes()),
        _ => None,
    }
}

/// One `redis.register_function` call's arguments.
fn read_registration(args: &[Value]) -> mlua::Result<FunctionDef> {
    let (name, callback, flags, description) = match args {
        [Value::Table(t)] => read_named(t)?,
        [_] => return Err(raise("ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")),
        [name, callback] => {
            let name = string_arg(name).ok_or_else(|| {
                raise("ERR first argument to redis.register_function must be a string")
            })?;
            let Value::Function(callback) = callback else {
                return Err(raise(
                    "ERR second argument to redis.register_function must be a function",
                ));
            };
            (name, callback.clone(), 0, None)
        }
        _ => {
            return Err(raise(
                "ERR wrong number of arguments to redis.register_function",
            ))
        }
    };
    if !valid_name(&name) {
        // Redis 7.0's wording for a bad function name.
        return Err(raise(&format!("ERR {NAME_RULE}")));
    }
    Ok(FunctionDef {
        name: String::from_utf8_lossy(&name).into_owned(),
        callback,
        flags,
        description,
    })
}

type Registration = (Vec<u8>, Function, u8, Option<Bytes>);

fn read_named(t: &Table) -> mlua::Result<Registration> {
    let (mut name, mut callback, mut flags, mut description) = (None, None, 0u8, None);
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        let Some(k) = string_arg(&k) else {
            return Err(raise(
                "ERR named argument key given to redis.register_function is not a string",
            ));
        };
        match &k[..] {
            b"function_name" => {
                name = Some(string_arg(&v).ok_or_else(|| {
                    raise(
                    "ERR function_name argument given to redis.register_function must be a string",
                )
                })?)
            }
            b"description" => description = Some(Bytes::from(string_arg(&v).ok_or_else(|| {
                raise("ERR description argument given to redis.register_function must be a string")
            })?)),
            b"callback" => {
                let Value::Function(f) = v else {
                    return Err(raise(
                        "ERR callback argument given to redis.register_function must be a function",
                    ));
                };
                callback = Some(f);
            }
            b"flags" => {
                let Value::Table(list) = v else {
                    return Err(raise("ERR flags argument to redis.register_function must be a table representing function flags"));
                };
                for pair in list.pairs::<Value, Value>() {
                    let (_, v) = pair?;
                    let bit = string_arg(&v).and_then(|s| {
                        flag::NAMES
                            .iter()
                            .find(|(_, n)| n.as_bytes() == &s[..])
                            .map(|(b, _)| *b)
                    });
                    flags |= bit.ok_or_else(|| raise("ERR unknown flag given"))?;
                }
            }
            _ => {
                return Err(raise(
                    "ERR unknown argument given to redis.register_function",
                ))
            }
        }
    }
    let name =
        name.ok_or_else(|| raise("ERR redis.register_function must get a function name argument"))?;
    let callback = callback
        .ok_or_else(|| raise("ERR redis.register_function must get a callback argument"))?;
    Ok((name, callback, flags, description))
}

/// Installs `redis.register_function` in the library API: it registers into the list a load
/// opens, and outside a load (a callback that kept it) answers Redis's error.
fn register_function(sandbox: &Sandbox) -> mlua::Result<Registrations> {
    let registrations: Registrations = Arc::default();
    let list = registrations.clone();
    let f = sandbox
        .lua
        .create_function(move |_, args: Variadic<Value>| {
            let def = read_registration(&args)?;
            let mut guard = list.lock();
            let Some(list) = guard.as_mut() else {
                return Err(raise(
                    "ERR redis.register_function can only be called on FUNCTION LOAD command",
                ));
            };
            if list.iter().any(|f| f.name.eq_ignore_ascii_case(&def.name)) {
                return Err(raise("ERR Function already exists in the library"));
            }
            list.push(def);
            Ok(())
        })?;
    let support = sandbox
        .library
        .as_ref()
        .expect("the functions VM has library support");
    support.api.raw_set("register_function", f)?;
    Ok(registrations)
}

/// Compiles a library and runs its chunk with the library API: the library, not yet added.
fn prepare(
    sandbox: &Sandbox,
    registrations: &Registrations,
    name: String,
    code: &[u8],
) -> Result<Library, CommandError> {
    let support = sandbox
        .library
        .as_ref()
        .expect("the functions VM has library support");
    // Keep line numbers: the shebang line becomes a Lua comment.
    let mut text = code.to_vec();
    text[0] = b'-';
    text[1] = b'-';
    let chunk = sandbox
        .lua
        .load(text)
        .set_name("@user_function")
        .set_mode(mlua::chunk::ChunkMode::Text)
        .set_environment(support.env.clone())
        .into_function()
        .map_err(|e| {
            let message = match &e {
                mlua::Error::SyntaxError { message, .. } => message.clone(),
                other => super::sandbox::error_text(other)
                    .trim_start_matches("ERR ")
                    .to_string(),
            };
            CommandError::err(format!(
                "Error compiling function: {}",
                message.replace(['\r', '\n'], " ")
            ))
        })?;
    *registrations.lock() = Some(Vec::new());
    *sandbox.load_deadline.lock() = Some(Instant::now() + LOAD_TIMEOUT);
    let outcome: mlua::Result<Option<String>> = support.load.call(chunk);
    *sandbox.load_deadline.lock() = None;
    let registered = registrations.lock().take().unwrap_or_default();
    let failure = outcome.map_err(|e| {
        CommandError::err(format!(
            "Error registering functions: {}",
            super::sandbox::error_text(&e)
        ))
    })?;
    if let Some(text) = failure {
        return Err(CommandError::err(format!(
            "Error registering functions: {}",
            text.replace(['\r', '\n'], " ")
        )));
    }
    let functions = registered;
    if functions.is_empty() {
        return Err(CommandError::err("No functions registered"));
    }
    Ok(Library {
        name,
        code: Bytes::copy_from_slice(code),
        functions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata() {
        let err = |code: &[u8]| parse_metadata(code).unwrap_err().to_string();
        assert_eq!(parse_metadata(b"#!lua name=lib\nx").unwrap(), "lib");
        assert_eq!(parse_metadata(b"#!LUA  name=a_1 \n").unwrap(), "a_1");
        assert_eq!(err(b"return 1"), "ERR Missing library metadata");
        assert_eq!(err(b"#!lua name=x"), "ERR Invalid library metadata");
        assert_eq!(err(b"#!lua\n"), "ERR Library name was not given");
        assert_eq!(err(b"#!js name=x\n"), "ERR Engine 'js' not found");
        assert_eq!(err(b"#!lua x=y\n"), "ERR Invalid metadata value given: x=y");
        assert_eq!(err(b"#!lua name=a-b\n"), format!("ERR {NAME_RULE}"));
    }
}
