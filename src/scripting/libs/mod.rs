//! The C libraries Redis bundles with its Lua, written here in Rust from their documented
//! behaviour: `cjson` (lua-cjson 2.1.0 with Redis's defaults), `cmsgpack` (lua-cmsgpack 0.4.0)
//! and `struct` (Roberto Ierusalimschy's struct library).
//!
//! Errors are raised as a C library raises them: a message string (`luaL_error` adds the
//! caller's `chunk:line: ` position, `luaL_argerror` names the function as the calling code
//! named it). They travel as [`LuaMessage`] so that the sandbox hands scripts a plain string
//! (what `pcall` returns in Redis) rather than a Redis error table.

pub mod cjson;
pub mod cmsgpack;
pub mod lstruct;

use mlua::{Lua, Value};
use std::fmt;

/// Lua 5.1's LUAI_MAXCSTACK: the most stack slots one C function may use; `lua_checkstack`
/// fails past it. The libraries' nesting and result limits come from it.
pub const MAX_C_STACK: usize = 8000;

/// The largest string these libraries build (the VM's own memory limit): packing a table that
/// holds one large string many times would otherwise allocate without bound outside the VM.
pub const OUTPUT_LIMIT: usize = crate::scripting::sandbox::MEMORY_LIMIT_BYTES;

/// Refuses an output that grew past [`OUTPUT_LIMIT`], as the VM refuses an allocation.
pub fn check_output(out: &[u8]) -> mlua::Result<()> {
    if out.len() > OUTPUT_LIMIT {
        return Err(mlua::Error::MemoryError("not enough memory".into()));
    }
    Ok(())
}

/// A Lua error whose value is a plain message string.
#[derive(Debug, Clone)]
pub struct LuaMessage(pub String);

impl fmt::Display for LuaMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LuaMessage {}

/// The message of an error raised by these libraries, if `err` is one.
pub fn message_of(err: &mlua::Error) -> Option<&str> {
    match err {
        mlua::Error::CallbackError { cause, .. } => message_of(cause),
        mlua::Error::WithContext { cause, .. } => message_of(cause),
        mlua::Error::ExternalError(e) => e.downcast_ref::<LuaMessage>().map(|m| m.0.as_str()),
        _ => None,
    }
}

/// An error with exactly this message (`lua_error` of a string, as Lua's own runtime errors
/// raised inside a C function: no position).
pub fn raw_error(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::external(LuaMessage(msg.into()))
}

/// `luaL_where(L, 1)`: `chunk:line: ` of the function calling the running C function, or
/// nothing when that is not a Lua function.
fn location(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let line = d.current_line()?;
        let src = d.source().short_src?.into_owned();
        Some(format!("{src}:{line}: "))
    })
    .flatten()
    .unwrap_or_default()
}

/// `luaL_error`: the message after the caller's position.
pub fn error(lua: &Lua, msg: impl AsRef<str>) -> mlua::Error {
    raw_error(format!("{}{}", location(lua), msg.as_ref()))
}

/// `luaL_argerror`: "bad argument #n to 'name' (extra)", the name as the caller called it.
pub fn arg_error(lua: &Lua, narg: i32, extra: &str) -> mlua::Error {
    let names = lua.inspect_stack(0, |d| {
        let n = d.names();
        (n.name.map(|s| s.into_owned()), n.name_what)
    });
    let Some((name, what)) = names else {
        return error(lua, format!("bad argument #{narg} ({extra})"));
    };
    let name = name.unwrap_or_else(|| "?".to_string());
    let mut narg = narg;
    if what == Some("method") {
        narg -= 1;
        if narg == 0 {
            return error(lua, format!("calling '{name}' on bad self ({extra})"));
        }
    }
    error(lua, format!("bad argument #{narg} to '{name}' ({extra})"))
}

/// `luaL_typename` of argument `i` (0-based), "no value" past the last one.
pub fn type_name(arg: Option<&Value>) -> &'static str {
    match arg {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::LightUserData(_)) | Some(Value::UserData(_)) | Some(Value::Error(_)) => {
            "userdata"
        }
        Some(Value::Integer(_)) | Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// `luaL_typerror`.
pub fn type_error(lua: &Lua, args: &[Value], i: usize, expected: &str) -> mlua::Error {
    let got = type_name(args.get(i));
    arg_error(
        lua,
        i as i32 + 1,
        &format!("{expected} expected, got {got}"),
    )
}

/// `lua_tonumber` of a value: numbers, and strings Lua 5.1 reads as numbers.
pub fn to_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => str_to_number(&s.as_bytes()),
        _ => None,
    }
}

/// Lua 5.1's `luaO_str2d`: C `strtod` (decimal, hex, inf, nan), a hex integer fallback, then
/// only trailing white space.
pub fn str_to_number(bytes: &[u8]) -> Option<f64> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let mut text = bytes[..end].to_vec();
    text.push(0);
    let (value, used) = c_strtod(&text, 0);
    if used == 0 {
        return None;
    }
    let mut value = value;
    let mut pos = used;
    if matches!(text[pos], b'x' | b'X') {
        // SAFETY: `text` is NUL-terminated; strtoul stops at the NUL at the latest.
        unsafe {
            let start = text.as_ptr() as *const libc::c_char;
            let mut endp: *mut libc::c_char = std::ptr::null_mut();
            value = libc::strtoul(start, &mut endp, 16) as f64;
            pos = endp.offset_from(start) as usize;
        }
    }
    while pos < text.len() && matches!(text[pos], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        pos += 1;
    }
    (text[pos] == 0).then_some(value)
}

/// C `strtod` at `text[at..]` (`text` NUL-terminated): the value and the bytes it used.
pub fn c_strtod(text: &[u8], at: usize) -> (f64, usize) {
    debug_assert_eq!(text.last(), Some(&0));
    // SAFETY: `text` ends with a NUL byte, so strtod never reads past it.
    unsafe {
        let start = text.as_ptr().add(at) as *const libc::c_char;
        let mut endp: *mut libc::c_char = std::ptr::null_mut();
        let value = libc::strtod(start, &mut endp);
        (value, endp.offset_from(start) as usize)
    }
}

/// C's `printf("%.<precision>g", n)`.
pub fn format_g(n: f64, precision: i32) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the format takes one int and one double, as passed; snprintf writes at most
    // `buf.len()` bytes, NUL included.
    let len = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%.*g".as_ptr(),
            precision as libc::c_int,
            n,
        )
    };
    let len = (len.max(0) as usize).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// A number argument as `lua_tostring` shows it (`%.14g`).
pub fn number_text(n: f64) -> String {
    format_g(n, 14)
}

/// C's `(long long)d` on x86-64: truncation, and the "integer indefinite" value out of range.
pub fn c_f64_to_i64(d: f64) -> i64 {
    if d.is_finite() && d > -9.223_372_036_854_776e18 && d < 9.223_372_036_854_776e18 {
        d.trunc() as i64
    } else {
        i64::MIN
    }
}

/// C's `(int)d` on x86-64.
pub fn c_f64_to_i32(d: f64) -> i32 {
    if d.is_finite() && d > -2_147_483_649.0 && d < 2_147_483_648.0 {
        d.trunc() as i32
    } else {
        i32::MIN
    }
}

/// `luaL_checknumber` of argument `i` (0-based).
pub fn check_number(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<f64> {
    match args.get(i).and_then(to_number) {
        Some(n) => Ok(n),
        None => Err(type_error(lua, args, i, "number")),
    }
}

/// `luaL_checkinteger` of argument `i` (0-based).
pub fn check_integer(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<i64> {
    check_number(lua, args, i).map(c_f64_to_i64)
}

/// `luaL_optinteger`.
pub fn opt_integer(lua: &Lua, args: &[Value], i: usize, default: i64) -> mlua::Result<i64> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(default),
        Some(_) => check_integer(lua, args, i),
    }
}

/// `luaL_checklstring` of argument `i` (0-based): strings, and numbers as their text.
pub fn check_bytes(lua: &Lua, args: &[Value], i: usize) -> mlua::Result<Vec<u8>> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(number_text(*n as f64).into_bytes()),
        Some(Value::Number(n)) => Ok(number_text(*n).into_bytes()),
        _ => Err(type_error(lua, args, i, "string")),
    }
}

/// The table a read-only proxy (the globals, a library table) stands for; other tables as they
/// are. Serialisers walk what Redis's read-only tables hold.
pub fn real_table(lua: &Lua, t: &mlua::Table) -> mlua::Table {
    lua.named_registry_value::<mlua::Table>("ferrocache.readonly")
        .ok()
        .and_then(|map| map.raw_get::<Option<mlua::Table>>(t.clone()).ok().flatten())
        .unwrap_or_else(|| t.clone())
}

/// A number as a Lua value (mlua keeps integral numbers as `Integer`; both are Lua numbers).
pub fn number_value(n: f64) -> Value {
    Value::Number(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format_is_cs() {
        assert_eq!(format_g(0.1, 14), "0.1");
        assert_eq!(format_g(1e15, 14), "1e+15");
        assert_eq!(format_g(123456789012345.0, 14), "1.2345678901234e+14");
        assert_eq!(format_g(f64::INFINITY, 14), "inf");
        assert_eq!(format_g(-0.0, 14), "-0");
    }

    #[test]
    fn lua_string_numbers() {
        assert_eq!(str_to_number(b" 10 "), Some(10.0));
        assert_eq!(str_to_number(b"0x10"), Some(16.0));
        assert_eq!(str_to_number(b"1e2"), Some(100.0));
        assert_eq!(str_to_number(b"abc"), None);
        assert_eq!(str_to_number(b"1 x"), None);
        assert_eq!(str_to_number(b""), None);
    }
}
