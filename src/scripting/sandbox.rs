//! The Lua 5.1 VM scripts run in: only the libraries Redis offers (base without file access,
//! string, table, math, coroutine, bit, cjson, cmsgpack, struct), read-only globals and library tables (see
//! prelude.lua), a memory limit, an instruction-count hook for SCRIPT KILL, and the `redis`
//! table's functions that need no running command.

use super::busy::{BusyState, KILLED_TEXT};
use super::convert::error_table;
use crate::config::REDIS_VERSION;
use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value, Variadic, VmState};
use std::sync::atomic::{AtomicBool, AtomicPtr};
use std::sync::Arc;
use std::time::Instant;

/// Bytes the Lua VM may allocate; past this a script fails with an error reply.
pub const MEMORY_LIMIT_BYTES: usize = 64 * 1024 * 1024;
/// Instructions between two looks at the SCRIPT KILL flag (Redis uses the same period).
const HOOK_INSTRUCTIONS: u32 = 100_000;

const PRELUDE: &str = include_str!("prelude.lua");

/// A prepared VM and the handles the runner needs.
pub struct Sandbox {
    pub lua: Lua,
    /// `run(f)`: calls `f` under the error handler, returning (ok, value).
    pub run: Function,
    /// The real globals table behind the read-only `_G` (KEYS and ARGV are set here).
    pub real_globals: Table,
    /// The real `redis` table behind its read-only proxy (`redis.call` and the other functions
    /// bound to a run are set here).
    pub redis: Table,
    /// Functions mode only: the environment library chunks are compiled with, the library API
    /// table (`register_function` is set there while a library loads) and the loader.
    pub library: Option<LibrarySupport>,
    /// While a library loads: the instant its load must end by (`FUNCTION LOAD timeout`).
    pub load_deadline: Arc<parking_lot::Mutex<Option<Instant>>>,
    /// The run `redis.call` and its siblings act on while a script runs, null otherwise; they
    /// are created once per VM (scripting::run binds them on the first run).
    pub current_run: Arc<AtomicPtr<()>>,
    /// Whether those functions are in `redis` yet.
    pub run_functions_bound: AtomicBool,
}

/// What the functions VM adds to a sandbox (see prelude.lua).
pub struct LibrarySupport {
    pub env: Table,
    pub api: Table,
    pub load: Function,
}

/// Which VM a sandbox is: EVAL's, or the one Redis Functions libraries live in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Eval,
    Functions,
}

/// The error a library load past its time limit fails with.
pub const LOAD_TIMEOUT_TEXT: &str = "ERR FUNCTION LOAD timeout";

impl Sandbox {
    pub fn new(busy: Arc<BusyState>) -> mlua::Result<Sandbox> {
        Sandbox::with_mode(busy, Mode::Eval)
    }

    pub fn with_mode(busy: Arc<BusyState>, mode: Mode) -> mlua::Result<Sandbox> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: the debug library is loaded only for the prelude, which keeps `debug.getinfo`
        // in a local and removes the global before any script runs.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::new()) };
        let redis = redis_table(&lua)?;
        lua.globals().raw_set("redis", redis.clone())?;
        let rust = lua.create_table()?;
        rust.raw_set(
            "error_table",
            lua.create_function(|lua, err: Value| error_value_to_table(lua, err))?,
        )?;
        rust.raw_set("bit", super::bit::library(&lua)?)?;
        rust.raw_set("cjson", super::libs::cjson::module(&lua)?)?;
        rust.raw_set("cmsgpack", super::libs::cmsgpack::module(&lua)?)?;
        rust.raw_set("struct", super::libs::lstruct::module(&lua)?)?;
        rust.raw_set("functions", mode == Mode::Functions)?;
        let prelude: Table = lua.load(PRELUDE).set_name("=[redis]").call(rust)?;
        let globals: Table = prelude.raw_get("globals")?;
        let real_globals: Table = prelude.raw_get("real_globals")?;
        let run: Function = prelude.raw_get("run")?;
        let library = match mode {
            Mode::Eval => None,
            Mode::Functions => Some(LibrarySupport {
                env: prelude.raw_get("library_env")?,
                api: prelude.raw_get("library_api")?,
                load: prelude.raw_get("load_library")?,
            }),
        };
        lua.set_globals(globals)?;
        let load_deadline: Arc<parking_lot::Mutex<Option<Instant>>> = Arc::default();
        let deadline = load_deadline.clone();
        lua.set_memory_limit(MEMORY_LIMIT_BYTES)?;
        lua.set_global_hook(
            mlua::HookTriggers::new().every_nth_instruction(HOOK_INSTRUCTIONS),
            move |_, _| {
                if busy.should_hand_off() && !super::hand_off_worker() {
                    busy.retry_hand_off();
                }
                if busy.kill_requested() {
                    return Err(mlua::Error::RuntimeError(KILLED_TEXT.to_string()));
                }
                if deadline.lock().is_some_and(|at| Instant::now() >= at) {
                    return Err(mlua::Error::RuntimeError(LOAD_TIMEOUT_TEXT.to_string()));
                }
                Ok(VmState::Continue)
            },
        )?;
        Ok(Sandbox {
            lua,
            run,
            real_globals,
            redis,
            library,
            load_deadline,
            current_run: Arc::default(),
            run_functions_bound: AtomicBool::new(false),
        })
    }
}

/// A Rust error raised through Lua, as the `{err=...}` table Redis scripts see. Our callbacks
/// raise `RuntimeError` with the full Redis text (code included); the bundled C libraries
/// (`libs`) raise message strings, which scripts see as strings.
fn error_value_to_table(lua: &Lua, err: Value) -> mlua::Result<Value> {
    if let Value::Error(e) = &err {
        if let Some(message) = super::libs::message_of(e) {
            return Ok(Value::String(lua.create_string(message)?));
        }
    }
    let text = match err {
        Value::Error(e) => error_text(&e),
        other => format!("ERR {other:?}"),
    };
    error_table(lua, text.as_bytes())
}

/// The Redis error text carried by an mlua error.
pub fn error_text(err: &mlua::Error) -> String {
    if let Some(message) = super::libs::message_of(err) {
        return format!("ERR {message}");
    }
    match err {
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        mlua::Error::WithContext { cause, .. } => error_text(cause),
        mlua::Error::RuntimeError(text) => text.clone(),
        mlua::Error::MemoryError(_) => "ERR Lua VM out of memory".to_string(),
        other => format!("ERR {other}"),
    }
}

fn raise(text: &str) -> mlua::Error {
    mlua::Error::RuntimeError(text.to_string())
}

/// The `redis` table's functions and constants that do not need a running command.
fn redis_table(lua: &Lua) -> mlua::Result<Table> {
    let redis = lua.create_table()?;
    for (name, value) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
    ] {
        redis.raw_set(name, value)?;
    }
    for (name, value) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.raw_set(name, value)?;
    }
    redis.raw_set("REDIS_VERSION", REDIS_VERSION)?;
    redis.raw_set("REDIS_VERSION_NUM", version_num(REDIS_VERSION))?;
    redis.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: Variadic<Value>| {
            let [value] = args.as_slice() else {
                return Err(raise("ERR wrong number of arguments"));
            };
            let bytes = super::convert::lua_to_arg(value).unwrap_or_default();
            lua.create_string(super::sha1_hex(&bytes))
        })?,
    )?;
    redis.raw_set(
        "error_reply",
        lua.create_function(|lua, args: Variadic<Value>| match args.as_slice() {
            [Value::String(s)] => error_table(lua, &error_reply_text(&s.as_bytes())),
            _ => error_table(lua, b"ERR wrong number or type of arguments"),
        })?,
    )?;
    redis.raw_set(
        "status_reply",
        lua.create_function(|lua, args: Variadic<Value>| match args.as_slice() {
            [Value::String(s)] => {
                let t = lua.create_table()?;
                t.raw_set("ok", s.clone())?;
                Ok(Value::Table(t))
            }
            _ => error_table(lua, b"ERR wrong number or type of arguments"),
        })?,
    )?;
    redis.raw_set(
        "log",
        lua.create_function(|_, args: Variadic<Value>| log(args))?,
    )?;
    redis.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    redis.raw_set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    redis.raw_set(
        "debug",
        lua.create_function(|_, _: Variadic<Value>| Ok(()))?,
    )?;
    Ok(redis)
}

/// REPL_AOF: a write a script runs after `redis.set_repl` without it is not logged to the AOF.
pub const REPL_AOF: u8 = 1;

/// `redis.set_repl(flags)`'s argument (set per run by `run.rs`, which knows the running script).
pub fn repl_flags(args: &[Value]) -> mlua::Result<u8> {
    let [value] = args else {
        return Err(raise("ERR redis.set_repl() requires two arguments."));
    };
    match super::convert::number(value) {
        Some(flags) if (0.0..=3.0).contains(&flags) && flags.fract() == 0.0 => Ok(flags as u8),
        _ => Err(raise(
            "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        )),
    }
}

/// `7.2.4` -> 0x070204.
fn version_num(version: &str) -> i64 {
    version
        .split('.')
        .take(3)
        .fold(0, |acc, part| acc * 256 + part.parse::<i64>().unwrap_or(0))
}

/// redis.error_reply's text: a leading `-` is dropped and an error without a code gets `ERR`.
fn error_reply_text(text: &[u8]) -> Vec<u8> {
    let body = text.strip_prefix(b"-").unwrap_or(text);
    let mut out = if body.contains(&b' ') {
        Vec::new()
    } else {
        b"ERR ".to_vec()
    };
    out.extend_from_slice(body);
    while matches!(out.last(), Some(b'\r' | b'\n')) {
        out.pop();
    }
    out
}

fn log(args: Variadic<Value>) -> mlua::Result<()> {
    let args = args.as_slice();
    if args.len() < 2 {
        return Err(raise("ERR redis.log() requires two arguments or more."));
    }
    let Some(level) = super::convert::number(&args[0]) else {
        return Err(raise("ERR First argument must be a number (log level)."));
    };
    if !(0.0..=3.0).contains(&level) {
        return Err(raise("ERR Invalid debug level."));
    }
    let words: Vec<String> = args[1..]
        .iter()
        .filter_map(super::convert::lua_to_arg)
        .map(|b| String::from_utf8_lossy(&b[..]).into_owned())
        .collect();
    let message = words.join(" ");
    match level as i64 {
        0 => tracing::debug!(target: "script", "{message}"),
        1 => tracing::debug!(target: "script", "{message}"),
        2 => tracing::info!(target: "script", "{message}"),
        _ => tracing::warn!(target: "script", "{message}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reply_codes() {
        assert_eq!(error_reply_text(b"My Error"), b"My Error");
        assert_eq!(error_reply_text(b"-My Error"), b"My Error");
        assert_eq!(error_reply_text(b"-Oops"), b"ERR Oops");
        assert_eq!(error_reply_text(b"Oops"), b"ERR Oops");
        assert_eq!(version_num("7.2.4"), 0x070204);
    }
}
