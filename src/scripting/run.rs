//! One script run: KEYS and ARGV, the per-run `redis.call` / `redis.pcall` / `redis.setresp`
//! bound to the caller's `Ctx`, and the script's result or error as Redis words it.
//!
//! A command called by the script runs through `Calls`, which the caller hands in (EVAL's and
//! FCALL's family: `commands::scripting::Engine`, dispatch's nested run): scripting never
//! imports dispatch. The calls are static (a type parameter), as direct as before.

use super::busy::BusyState;
use super::convert::{error_table, lua_to_arg, lua_to_reply, reply_to_lua, ScriptResp};
use super::sandbox::Sandbox;
use super::{Access, RunSettings, Script, Source};
use crate::engine::registry::Found;
use crate::error::CommandError;
use crate::protocol::{Protocol, Reply};
use crate::{engine::flags, engine::CommandResult, engine::Ctx};
use bytes::Bytes;
use mlua::{Lua, Value, Variadic};
use std::cell::RefCell;
use std::sync::atomic::{AtomicPtr, Ordering};

/// What a script's `redis.call` needs of the engine above it.
pub trait Calls {
    /// Runs a command inside the script, which holds every shard lock (`dispatch::run_nested`).
    fn run_nested(ctx: &mut Ctx<'_>, found: Found, argv: &[Bytes]) -> Reply;
    /// Whether memory was over the limit when the script started (`maxmemory::script_oom`):
    /// its first write of a DENYOOM command is refused then.
    fn started_over_memory() -> bool;
}

/// What EVAL and FCALL read of the server before a run.
fn settings(ctx: &Ctx<'_>) -> RunSettings {
    RunSettings {
        cluster_enabled: ctx.state.cluster.enabled(),
        busy_threshold_ms: ctx.state.config.get_i64("busy-reply-threshold").max(0) as u64,
    }
}

/// EVAL / EVALSHA / EVAL_RO / EVALSHA_RO on the caller's context.
pub fn eval<C: Calls>(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    source: Source,
    access: Access,
) -> CommandResult {
    let state = ctx.state;
    let settings = settings(ctx);
    state
        .scripting
        .eval(argv, source, access, settings, |sandbox, busy, script| {
            run::<C>(sandbox, ctx, busy, script)
        })
}

/// FCALL / FCALL_RO on the caller's context.
pub fn fcall<C: Calls>(ctx: &mut Ctx<'_>, argv: &[Bytes], read_only: bool) -> CommandResult {
    let state = ctx.state;
    let settings = settings(ctx);
    state
        .scripting
        .functions
        .fcall(argv, read_only, settings, |sandbox, busy, script| {
            run::<C>(sandbox, ctx, busy, script)
        })
}

/// Whether a failing command raises a Lua error (redis.call) or is returned (redis.pcall).
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnError {
    Raise,
    Return,
}

struct RunState<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    resp: ScriptResp,
    access: Access,
    busy: &'c BusyState,
    allow_oom: bool,
    /// A write command has run (Redis's SCRIPT_WRITE_DIRTY): later writes are not refused for
    /// memory, a script is not stopped halfway.
    wrote: bool,
    /// `redis.set_repl` flags: without REPL_AOF, the script's writes are not logged.
    repl: u8,
    /// `Calls` of the engine above (see the trait).
    run_nested: fn(&mut Ctx<'_>, Found, &[Bytes]) -> Reply,
    started_over_memory: fn() -> bool,
}

/// Publishes a run to the VM's `redis.call` family for as long as the script runs: the VM's
/// `current_run` points to the run's state and is reset when this guard drops (on unwind too),
/// before the state can go.
struct CurrentRun<'p> {
    slot: &'p AtomicPtr<()>,
    before: *mut (),
}

impl<'p> CurrentRun<'p> {
    fn enter(slot: &'p AtomicPtr<()>, state: &RefCell<RunState<'_, '_>>) -> CurrentRun<'p> {
        let ptr = state as *const RefCell<RunState<'_, '_>> as *mut ();
        CurrentRun {
            slot,
            before: slot.swap(ptr, Ordering::Relaxed),
        }
    }
}

impl Drop for CurrentRun<'_> {
    fn drop(&mut self) {
        self.slot.store(self.before, Ordering::Relaxed);
    }
}

/// Runs `f` on the run the VM is executing. Outside a run it fails with an error instead: no
/// code can call these functions then (scripts run only inside a run, and a library's code
/// while it loads sees the library API, which does not hold them).
fn with_run<R>(
    slot: &AtomicPtr<()>,
    f: impl FnOnce(&RefCell<RunState<'_, '_>>) -> mlua::Result<R>,
) -> mlua::Result<R> {
    let ptr = slot.load(Ordering::Relaxed);
    if ptr.is_null() {
        return Err(raise(
            "ERR redis.call is only available while a script runs",
        ));
    }
    // SAFETY: `ptr` was stored by `CurrentRun::enter` from a live `RefCell<RunState>` owned by
    // `run_in_vm`, which keeps that state alive and this VM on its thread (the VM's mutex is
    // held, the script is called synchronously) until the guard resets the slot. `f` is
    // generic over the run's lifetimes, so nothing borrowed from it outlives this call.
    let state = unsafe { &*(ptr as *const RefCell<RunState<'_, '_>>) };
    f(state)
}

/// Puts `redis.call`, `redis.pcall`, `redis.setresp`, `redis.acl_check_cmd` and
/// `redis.set_repl` in the VM's `redis` table, once per VM: they act on the run published in
/// `current_run` (creating them for every run cost more than a short script's own work).
fn bind_run_functions(sandbox: &Sandbox) -> mlua::Result<()> {
    if sandbox.run_functions_bound.load(Ordering::Relaxed) {
        return Ok(());
    }
    let lua = &sandbox.lua;
    let slot = sandbox.current_run.clone();
    let call = lua.create_function(move |lua, args: Variadic<Value>| {
        with_run(&slot, |state| redis_call(lua, state, args, OnError::Raise))
    })?;
    let slot = sandbox.current_run.clone();
    let pcall = lua.create_function(move |lua, args: Variadic<Value>| {
        with_run(&slot, |state| redis_call(lua, state, args, OnError::Return))
    })?;
    let slot = sandbox.current_run.clone();
    let setresp = lua.create_function(move |_, args: Variadic<Value>| {
        let [version] = args.as_slice() else {
            return Err(raise("ERR redis.setresp() requires one argument."));
        };
        let resp = match super::convert::number(version) {
            Some(2.0) => ScriptResp::Resp2,
            Some(3.0) => ScriptResp::Resp3,
            _ => return Err(raise("ERR RESP version must be 2 or 3.")),
        };
        with_run(&slot, |state| {
            state.borrow_mut().resp = resp;
            Ok(())
        })
    })?;
    let slot = sandbox.current_run.clone();
    let acl_check = lua.create_function(move |_, args: Variadic<Value>| {
        with_run(&slot, |state| acl_check_cmd(&mut state.borrow_mut(), &args))
    })?;
    let slot = sandbox.current_run.clone();
    let set_repl = lua.create_function(move |_, args: Variadic<Value>| {
        let flags = super::sandbox::repl_flags(&args)?;
        with_run(&slot, |state| {
            state.borrow_mut().repl = flags;
            Ok(())
        })
    })?;
    sandbox.redis.raw_set("call", call)?;
    sandbox.redis.raw_set("pcall", pcall)?;
    sandbox.redis.raw_set("setresp", setresp)?;
    sandbox.redis.raw_set("acl_check_cmd", acl_check)?;
    sandbox.redis.raw_set("set_repl", set_repl)?;
    sandbox.run_functions_bound.store(true, Ordering::Relaxed);
    Ok(())
}

/// Runs a script and returns its reply (errors included, formatted as Redis does).
pub fn run<C: Calls>(
    sandbox: &Sandbox,
    ctx: &mut Ctx<'_>,
    busy: &BusyState,
    script: Script<'_>,
) -> Reply {
    let saved_db = ctx.client.db;
    let saved_protocol = ctx.client.protocol;
    let reply = run_in_vm::<C>(sandbox, ctx, busy, &script).unwrap_or_else(|e| {
        Reply::error(format!(
            "ERR Error running script {}, {}",
            script.sha,
            super::sandbox::error_text(&e)
        ))
    });
    // Lua 5.1 has no emergency collection: after a memory-hungry script, collect its garbage
    // now so the next script does not fail on the limit.
    if sandbox.lua.used_memory() > super::sandbox::MEMORY_LIMIT_BYTES / 2 {
        let _ = sandbox.lua.gc_collect();
    }
    // SELECT and HELLO-like effects inside a script do not leak to the caller (Redis 7).
    ctx.client.db = saved_db;
    ctx.client.protocol = saved_protocol;
    reply
}

fn run_in_vm<C: Calls>(
    sandbox: &Sandbox,
    ctx: &mut Ctx<'_>,
    busy: &BusyState,
    script: &Script<'_>,
) -> mlua::Result<Reply> {
    let lua = &sandbox.lua;
    let unlimited = Unlimited::new(lua);
    let keys = lua.create_sequence_from(
        script
            .keys
            .iter()
            .map(|k| lua.create_string(k))
            .collect::<mlua::Result<Vec<_>>>()?,
    )?;
    let args = lua.create_sequence_from(
        script
            .args
            .iter()
            .map(|a| lua.create_string(a))
            .collect::<mlua::Result<Vec<_>>>()?,
    )?;
    if !script.as_function {
        sandbox.real_globals.raw_set("KEYS", keys.clone())?;
        sandbox.real_globals.raw_set("ARGV", args.clone())?;
    }
    let state = RefCell::new(RunState {
        ctx,
        resp: ScriptResp::Resp2,
        access: script.access,
        busy,
        allow_oom: script.allow_oom,
        wrote: false,
        repl: 3,
        run_nested: C::run_nested,
        started_over_memory: C::started_over_memory,
    });
    bind_run_functions(sandbox)?;
    // The script itself runs under the limit.
    drop(unlimited);
    let (ok, value): (bool, Value) = {
        let _current = CurrentRun::enter(&sandbox.current_run, &state);
        if script.as_function {
            sandbox.run.call((script.function.clone(), keys, args))
        } else {
            sandbox.run.call(script.function.clone())
        }
    }?;
    let resp = state.borrow().resp;
    Ok(if ok {
        lua_to_reply(&value, resp)
    } else {
        failure_reply(&value, script.sha)
    })
}

fn raise(text: &str) -> mlua::Error {
    mlua::Error::RuntimeError(text.to_string())
}

/// The reply for a script that failed: the error table the handler built, with its position.
fn failure_reply(value: &Value, sha: &str) -> Reply {
    let Value::Table(table) = value else {
        let text = match value {
            Value::String(s) => s.to_string_lossy(),
            other => format!("{other:?}"),
        };
        return Reply::error(format!(
            "ERR Error running script {sha}, {}",
            text.replace(['\r', '\n'], " ")
        ));
    };
    let message = match table.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        Ok(Value::Number(n)) => super::convert::lua_to_arg(&Value::Number(n))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default(),
        Ok(Value::Integer(n)) => n.to_string(),
        _ => "ERR unknown error".to_string(),
    };
    let source = table.raw_get::<Value>("source").ok();
    let line = table.raw_get::<Value>("line").ok();
    let mut text = message;
    if let (Some(Value::String(source)), Some(line @ (Value::Integer(_) | Value::Number(_)))) =
        (source, line)
    {
        let line = line.as_i64().unwrap_or_default();
        text.push_str(&format!(
            " script: {sha}, on {}:{line}.",
            source.to_string_lossy()
        ));
    }
    Reply::error(text.replace(['\r', '\n'], " "))
}

/// redis.acl_check_cmd: whether the script's user may run the command with these arguments.
fn acl_check_cmd(state: &mut RunState<'_, '_>, args: &[Value]) -> mlua::Result<bool> {
    if args.is_empty() {
        return Err(raise(
            "ERR Please specify at least one argument for this redis lib call",
        ));
    }
    let mut argv = Vec::with_capacity(args.len());
    for arg in args {
        match lua_to_arg(arg) {
            Some(bytes) => argv.push(bytes),
            None => {
                return Err(raise(
                    "ERR Lua redis lib command arguments must be strings or integers",
                ))
            }
        }
    }
    let user = &state.ctx.client.user;
    match state.ctx.state.registry.resolve(&argv) {
        Ok(found) => Ok(user.is_unrestricted() || user.check(&found, &argv).is_ok()),
        Err(CommandError::Arity(_)) => Ok(user.is_unrestricted()),
        Err(_) => Err(raise("ERR Invalid command passed to redis.acl_check_cmd()")),
    }
}

/// redis.call / redis.pcall: runs a command on the script's context.
fn redis_call(
    lua: &Lua,
    state: &RefCell<RunState<'_, '_>>,
    args: Variadic<Value>,
    on_error: OnError,
) -> mlua::Result<Value> {
    let failed = |text: &str| match on_error {
        OnError::Raise => Err(raise(text)),
        OnError::Return => error_table(lua, text.as_bytes()),
    };
    if args.is_empty() {
        return failed("ERR Please specify at least one argument for this redis lib call");
    }
    let mut argv = Vec::with_capacity(args.len());
    for arg in args.iter() {
        match lua_to_arg(arg) {
            Some(bytes) => argv.push(bytes),
            None => {
                return failed("ERR Lua redis lib command arguments must be strings or integers")
            }
        }
    }
    let mut state = state.borrow_mut();
    let registry = &state.ctx.state.registry;
    let Some(found) = registry.get(&argv[0]) else {
        return failed("ERR Unknown Redis command called from script");
    };
    // A plain command with a good arity is found already; the rest resolve in full.
    let found = if found.spec.subcommands.is_empty() && found.spec.arity_ok(argv.len()) {
        found
    } else {
        match registry.resolve(&argv) {
            Ok(found) => found,
            Err(CommandError::Arity(_)) => {
                return failed("ERR Wrong number of args calling Redis command from script")
            }
            Err(other) => return failed(&other.to_string()),
        }
    };
    if found.spec.has(flags::NOSCRIPT) {
        return failed("ERR This Redis command is not allowed from script");
    }
    let writes = found.spec.has(flags::WRITE);
    if writes && state.access == Access::ReadOnly {
        return failed("ERR Write commands are not allowed from read-only scripts.");
    }
    if writes && !state.ctx.client.master {
        if let Some(text) = crate::replication::replica::refusal(
            &state.ctx.state.replication,
            &state.ctx.state.config,
            true,
            false,
        ) {
            return failed(text);
        }
    }
    if let Some(text) = crate::acl::script_refusal(
        &state.ctx.state.acl,
        state.ctx.state.clock.now_ms(),
        state.ctx.client,
        &found,
        &argv,
    ) {
        return failed(&text);
    }
    if let Some(text) = crate::cluster::script_refusal(&state.ctx.state.cluster, found.spec, &argv)
    {
        return failed(text);
    }
    if found.spec.has(flags::DENYOOM)
        && !state.wrote
        && !state.allow_oom
        && (state.started_over_memory)()
    {
        return failed("OOM command not allowed when used memory > 'maxmemory'.");
    }
    if writes {
        // Redis checks min-replicas-to-write for every write a script makes.
        if let Some(err) = crate::replication::primary::write_refusal(
            &state.ctx.state.replication,
            &state.ctx.state.config,
            &state.ctx.state.clock,
        ) {
            return failed(&err.to_string());
        }
    }
    state.wrote |= writes;
    let resp = state.resp;
    state.ctx.client.protocol = match resp {
        ScriptResp::Resp2 => Protocol::Resp2,
        ScriptResp::Resp3 => Protocol::Resp3,
    };
    let logged_before = state.ctx.effects.records.len();
    let run_nested = state.run_nested;
    let reply = run_nested(state.ctx, found, &argv);
    if state.repl & super::sandbox::REPL_AOF == 0 {
        state.ctx.effects.records.truncate(logged_before);
    }
    if writes {
        state.busy.mark_write();
    }
    drop(state);
    if let Reply::Error(text) = &reply {
        if on_error == OnError::Raise {
            return Err(raise(&String::from_utf8_lossy(text)));
        }
    }
    let _unlimited = Unlimited::new(lua);
    reply_to_lua(lua, &reply, resp)
}

/// Lifts the VM's memory limit while Rust builds Lua values that the request or a reply already
/// bounds (KEYS and ARGV, a command's reply), and puts it back when dropped, before any script
/// code runs again. Under a limit, mlua runs each string or table step as a protected call that
/// allocates two closures in Lua 5.1, which cost more than the conversion (and fed the
/// collector): a BullMQ job's scripts make dozens of such steps. Without it, running out of
/// memory here ends the process, as any other allocation of the server's does.
struct Unlimited<'l> {
    lua: &'l Lua,
    limit: usize,
}

impl<'l> Unlimited<'l> {
    fn new(lua: &'l Lua) -> Unlimited<'l> {
        Unlimited {
            lua,
            limit: lua.set_memory_limit(0).unwrap_or(0),
        }
    }
}

impl Drop for Unlimited<'_> {
    fn drop(&mut self) {
        let _ = self.lua.set_memory_limit(self.limit);
    }
}
