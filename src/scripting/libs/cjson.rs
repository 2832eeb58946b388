//! `cjson`: JSON encoding and decoding with lua-cjson 2.1.0's behaviour as Redis bundles it
//! (the same defaults, options, limits, number formatting and error texts).
//!
//! Encoding and decoding walk nested values with an explicit stack instead of recursion, so a
//! script that raises the depth limits cannot overflow the thread's stack; the nesting is still
//! bounded by Lua's C stack limit, as in Redis. Both work on the Lua stack through the C API
//! (`Lua::exec_raw`): decoding checks the whole document into a tape first, so every error is
//! found before any Lua value is built; encoding reads tables with `lua_next`/`lua_rawgeti`.
//! mlua's per-value registry references cost 4-5x the C library's time.

use super::{
    arg_error, c_f64_to_i32, c_strtod, check_bytes, error, format_g, type_error, MAX_C_STACK,
};
use mlua::{LightUserData, Lua, MultiValue, Table, Value, Variadic};
use parking_lot::Mutex;
use std::sync::Arc;

/// The per-module settings (`cjson.new()` makes a module with its own).
#[derive(Clone, Debug)]
struct Config {
    sparse_convert: i32,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 refuse, 1 allow, 2 write `null`.
    encode_invalid_numbers: i32,
    number_precision: i32,
    keep_buffer: i32,
    decode_invalid_numbers: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            number_precision: 14,
            keep_buffer: 1,
            decode_invalid_numbers: 1,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

/// A new `cjson` module table with default settings.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Arc::default();
    let t = lua.create_table()?;
    let c = cfg.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |lua, args: Variadic<Value>| encode(lua, &c, &args))?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, args: Variadic<Value>| decode(lua, &c, &args))?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_sparse_array",
        lua.create_function(move |lua, args: Variadic<Value>| {
            arg_init(lua, &args, 3)?;
            let mut cfg = c.lock();
            let convert = enum_option(lua, &args, 0, &mut cfg.sparse_convert, &["off", "on"])?;
            let ratio = integer_option(lua, &args, 1, &mut cfg.sparse_ratio, 0, i32::MAX)?;
            let safe = integer_option(lua, &args, 2, &mut cfg.sparse_safe, 0, i32::MAX)?;
            Ok(MultiValue::from_iter([convert, ratio, safe]))
        })?,
    )?;
    for (name, field, min, max) in [
        ("encode_max_depth", 0, 1, i32::MAX),
        ("decode_max_depth", 1, 1, i32::MAX),
        ("encode_number_precision", 2, 1, 14),
    ] {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                arg_init(lua, &args, 1)?;
                let mut cfg = c.lock();
                let setting = match field {
                    0 => &mut cfg.encode_max_depth,
                    1 => &mut cfg.decode_max_depth,
                    _ => &mut cfg.number_precision,
                };
                integer_option(lua, &args, 0, setting, min, max)
            })?,
        )?;
    }
    for (name, field) in [
        ("encode_keep_buffer", 0),
        ("encode_invalid_numbers", 1),
        ("decode_invalid_numbers", 2),
    ] {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |lua, args: Variadic<Value>| {
                arg_init(lua, &args, 1)?;
                let mut cfg = c.lock();
                match field {
                    0 => enum_option(lua, &args, 0, &mut cfg.keep_buffer, &["off", "on"]),
                    1 => enum_option(
                        lua,
                        &args,
                        0,
                        &mut cfg.encode_invalid_numbers,
                        &["off", "on", "null"],
                    ),
                    _ => enum_option(
                        lua,
                        &args,
                        0,
                        &mut cfg.decode_invalid_numbers,
                        &["off", "on"],
                    ),
                }
            })?,
        )?;
    }
    t.raw_set("new", lua.create_function(|lua, ()| module(lua))?)?;
    t.raw_set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

/// `json_arg_init`: at most `n` arguments.
fn arg_init(lua: &Lua, args: &[Value], n: usize) -> mlua::Result<()> {
    if args.len() > n {
        return Err(arg_error(lua, n as i32 + 1, "found too many arguments"));
    }
    Ok(())
}

fn integer_option(
    lua: &Lua,
    args: &[Value],
    i: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> mlua::Result<Value> {
    if !matches!(args.get(i), None | Some(Value::Nil)) {
        let value = super::check_integer(lua, args, i)? as i32;
        if !(min <= value && value <= max) {
            // lua-cjson names argument 1 whichever argument it is.
            return Err(arg_error(
                lua,
                1,
                &format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = value;
    }
    Ok(Value::Integer(*setting as i64))
}

fn enum_option(
    lua: &Lua,
    args: &[Value],
    i: usize,
    setting: &mut i32,
    options: &[&str],
) -> mlua::Result<Value> {
    match args.get(i) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = *b as i32,
        Some(Value::String(_) | Value::Integer(_) | Value::Number(_)) => {
            let name = check_bytes(lua, args, i)?;
            let name_end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            let name = &name[..name_end];
            match options.iter().position(|o| o.as_bytes() == name) {
                Some(pos) => *setting = pos as i32,
                None => {
                    return Err(arg_error(
                        lua,
                        i as i32 + 1,
                        &format!("invalid option '{}'", String::from_utf8_lossy(name)),
                    ))
                }
            }
        }
        Some(_) => return Err(type_error(lua, args, i, "string")),
    }
    Ok(if *setting == 0 || *setting == 1 {
        Value::Boolean(*setting == 1)
    } else {
        Value::String(lua.create_string(options[*setting as usize])?)
    })
}

// ===== Encoding =====

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            8 => out.extend_from_slice(b"\\b"),
            9 => out.extend_from_slice(b"\\t"),
            10 => out.extend_from_slice(b"\\n"),
            12 => out.extend_from_slice(b"\\f"),
            13 => out.extend_from_slice(b"\\r"),
            0..=31 | 127 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Why an encode stopped (turned into lua-cjson's message once off the raw stack).
enum EncodeFailure {
    /// "Cannot serialise <type>: <reason>".
    Cannot(&'static str, &'static str),
    /// "Cannot serialise, excessive nesting (<depth>)".
    Nesting(i64),
    TooBig,
}

/// A number to append: lua-cjson's `json_append_number`.
fn append_number_raw(cfg: &Config, out: &mut Vec<u8>, n: f64) -> Result<(), EncodeFailure> {
    match cfg.encode_invalid_numbers {
        0 if !n.is_finite() => {
            return Err(EncodeFailure::Cannot("number", "must not be NaN or Inf"))
        }
        1 if n.is_nan() => {
            out.extend_from_slice(b"nan");
            return Ok(());
        }
        2 if !n.is_finite() => {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        _ => {}
    }
    out.extend_from_slice(format_g(n, cfg.number_precision).as_bytes());
    Ok(())
}

/// `lua_typename` of a stack slot.
unsafe fn raw_type_name(state: *mut mlua::ffi::lua_State, idx: i32) -> &'static str {
    use mlua::ffi;
    match ffi::lua_type(state, idx) {
        ffi::LUA_TNIL => "nil",
        ffi::LUA_TBOOLEAN => "boolean",
        ffi::LUA_TLIGHTUSERDATA | ffi::LUA_TUSERDATA => "userdata",
        ffi::LUA_TNUMBER => "number",
        ffi::LUA_TSTRING => "string",
        ffi::LUA_TTABLE => "table",
        ffi::LUA_TFUNCTION => "function",
        ffi::LUA_TTHREAD => "thread",
        _ => "no value",
    }
}

/// lua-cjson's `lua_array_length` for the table at `idx`: its array length, or `None` for an
/// object (an excessively sparse array is an error unless converting).
unsafe fn array_length_raw(
    state: *mut mlua::ffi::lua_State,
    idx: i32,
    cfg: &Config,
) -> Result<Option<i32>, EncodeFailure> {
    use mlua::ffi;
    let mut max: i32 = 0;
    let mut items: i32 = 0;
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, idx) != 0 {
        if ffi::lua_type(state, -2) == ffi::LUA_TNUMBER {
            let k = ffi::lua_tonumber(state, -2);
            if k != 0.0 && k.floor() == k && k >= 1.0 {
                if k > max as f64 {
                    max = c_f64_to_i32(k);
                }
                items = items.wrapping_add(1);
                ffi::lua_settop(state, -2);
                continue;
            }
        }
        ffi::lua_settop(state, -3);
        return Ok(None);
    }
    if cfg.sparse_ratio > 0 && max > items.wrapping_mul(cfg.sparse_ratio) && max > cfg.sparse_safe {
        if cfg.sparse_convert == 0 {
            return Err(EncodeFailure::Cannot("table", "excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

/// An open container while encoding: the table's stack slot, and for arrays the length and
/// next index (objects keep their iteration key on the stack above the table).
struct OpenTable {
    idx: i32,
    array: Option<(i32, i32)>,
    first: bool,
    /// lua-cjson's stack use with this table on top (for the nesting limit).
    slots: usize,
}

/// Walks the value at the top of the stack, writing JSON to `out`.
unsafe fn encode_raw(
    state: *mut mlua::ffi::lua_State,
    cfg: &Config,
    out: &mut Vec<u8>,
    open: &mut Vec<OpenTable>,
) -> Result<(), EncodeFailure> {
    use mlua::ffi;
    // The value to write is the argument, alone on this frame's stack as in lua-cjson, so the
    // stack limit falls at the same depth.
    // The value at the top is to be written; `slots` is lua-cjson's stack use with it there.
    let mut slots = 1usize;
    loop {
        if out.len() > super::OUTPUT_LIMIT {
            return Err(EncodeFailure::TooBig);
        }
        match ffi::lua_type(state, -1) {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let ptr = ffi::lua_tolstring(state, -1, &mut len);
                append_string(out, std::slice::from_raw_parts(ptr as *const u8, len));
                ffi::lua_settop(state, -2);
            }
            ffi::LUA_TNUMBER => {
                append_number_raw(cfg, out, ffi::lua_tonumber(state, -1))?;
                ffi::lua_settop(state, -2);
            }
            ffi::LUA_TBOOLEAN => {
                out.extend_from_slice(if ffi::lua_toboolean(state, -1) != 0 {
                    b"true"
                } else {
                    b"false"
                });
                ffi::lua_settop(state, -2);
            }
            ffi::LUA_TNIL => {
                out.extend_from_slice(b"null");
                ffi::lua_settop(state, -2);
            }
            ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(state, -1).is_null() => {
                out.extend_from_slice(b"null");
                ffi::lua_settop(state, -2);
            }
            ffi::LUA_TTABLE => {
                let depth = open.len() as i64 + 1;
                if depth > cfg.encode_max_depth as i64
                    || slots + 3 > MAX_C_STACK
                    || ffi::lua_checkstack(state, 3) == 0
                {
                    return Err(EncodeFailure::Nesting(depth));
                }
                // A read-only proxy (see prelude.lua) is written as the table it stands for.
                ffi::lua_getfield(
                    state,
                    ffi::LUA_REGISTRYINDEX,
                    c"ferrocache.readonly".as_ptr(),
                );
                if ffi::lua_type(state, -1) == ffi::LUA_TTABLE {
                    ffi::lua_pushvalue(state, -2);
                    ffi::lua_rawget(state, -2);
                    if ffi::lua_type(state, -1) == ffi::LUA_TTABLE {
                        ffi::lua_replace(state, -3);
                    } else {
                        ffi::lua_settop(state, -2);
                    }
                }
                ffi::lua_settop(state, -2);
                let idx = ffi::lua_gettop(state);
                match array_length_raw(state, idx, cfg)? {
                    Some(len) if len > 0 => {
                        out.push(b'[');
                        open.push(OpenTable {
                            idx,
                            array: Some((len, 1)),
                            first: true,
                            slots,
                        });
                    }
                    _ => {
                        out.push(b'{');
                        ffi::lua_pushnil(state);
                        open.push(OpenTable {
                            idx,
                            array: None,
                            first: true,
                            slots,
                        });
                    }
                }
            }
            _ => {
                return Err(EncodeFailure::Cannot(
                    raw_type_name(state, -1),
                    "type not supported",
                ))
            }
        }
        // Find the next value to write, closing the tables that are done.
        loop {
            let Some(top) = open.last_mut() else {
                return Ok(());
            };
            match &mut top.array {
                Some((len, next)) => {
                    if *next <= *len {
                        if !top.first {
                            out.push(b',');
                        }
                        top.first = false;
                        ffi::lua_rawgeti(state, top.idx, *next as i64);
                        *next += 1;
                        slots = top.slots + 1;
                        break;
                    }
                    out.push(b']');
                    open.pop();
                    ffi::lua_settop(state, -2);
                }
                None => {
                    if ffi::lua_next(state, top.idx) != 0 {
                        if !top.first {
                            out.push(b',');
                        }
                        top.first = false;
                        match ffi::lua_type(state, -2) {
                            ffi::LUA_TNUMBER => {
                                out.push(b'"');
                                append_number_raw(cfg, out, ffi::lua_tonumber(state, -2))?;
                                out.extend_from_slice(b"\":");
                            }
                            ffi::LUA_TSTRING => {
                                let mut len = 0usize;
                                let ptr = ffi::lua_tolstring(state, -2, &mut len);
                                append_string(
                                    out,
                                    std::slice::from_raw_parts(ptr as *const u8, len),
                                );
                                out.push(b':');
                            }
                            _ => {
                                return Err(EncodeFailure::Cannot(
                                    raw_type_name(state, -2),
                                    "table key must be a number or string",
                                ))
                            }
                        }
                        slots = top.slots + 2;
                        break;
                    }
                    out.push(b'}');
                    open.pop();
                    ffi::lua_settop(state, -2);
                }
            }
        }
    }
}

/// cjson.encode: walks the value on the Lua stack through the C API (no registry reference per
/// value), with lua-cjson's rules, limits and messages.
fn encode(lua: &Lua, cfg: &Shared, args: &[Value]) -> mlua::Result<mlua::LuaString> {
    if args.len() != 1 {
        return Err(arg_error(lua, 1, "expected 1 argument"));
    }
    let cfg = cfg.lock().clone();
    let mut out = Vec::new();
    let mut open: Vec<OpenTable> = Vec::new();
    let mut outcome = Ok(());
    {
        let (out, open, outcome) = (&mut out, &mut open, &mut outcome);
        // SAFETY: the closure reads the value mlua pushed and pushes/pops only what it checked
        // room for; it owns nothing needing a drop (the buffers are borrowed), so a Lua error
        // unwinding out of it skips no destructor. mlua restores the stack afterwards.
        unsafe {
            lua.exec_raw::<()>(args[0].clone(), |state| {
                *outcome = encode_raw(state, &cfg, out, open);
            })?;
        }
    }
    match outcome {
        Ok(()) => lua.create_string(&out),
        Err(EncodeFailure::Cannot(kind, reason)) => {
            Err(error(lua, format!("Cannot serialise {kind}: {reason}")))
        }
        Err(EncodeFailure::Nesting(depth)) => Err(error(
            lua,
            format!("Cannot serialise, excessive nesting ({depth})"),
        )),
        Err(EncodeFailure::TooBig) => Err(mlua::Error::MemoryError("not enough memory".into())),
    }
}

// ===== Decoding =====

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    Error,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::Str => "T_STRING",
            Kind::Number => "T_NUMBER",
            Kind::Boolean => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error => "T_ERROR",
        }
    }
}

struct Token {
    kind: Kind,
    index: usize,
    number: f64,
    boolean: bool,
    /// The error text of a `T_ERROR` token.
    error: &'static str,
}

struct Parser<'a> {
    /// The input with a NUL byte after it (lua-cjson reads Lua's NUL-terminated copy).
    data: &'a [u8],
    pos: usize,
    decode_invalid_numbers: bool,
    /// The decoded text of the last string token.
    string: Vec<u8>,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn token(&self, kind: Kind, index: usize) -> Token {
        Token {
            kind,
            index,
            number: 0.0,
            boolean: false,
            error: "",
        }
    }

    fn error_token(&self, text: &'static str) -> Token {
        Token {
            kind: Kind::Error,
            index: self.pos,
            number: 0.0,
            boolean: false,
            error: text,
        }
    }

    /// `json_is_invalid_number`: numbers strict JSON refuses but strtod reads.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        }
        // C's signed char: bytes >= 0x80 compare below '9'.
        if c <= b'9' || c >= 0x80 {
            return false;
        }
        let three = [self.at(p), self.at(p + 1), self.at(p + 2)];
        three.eq_ignore_ascii_case(b"inf") || three.eq_ignore_ascii_case(b"nan")
    }

    fn number_token(&mut self) -> Token {
        let (value, used) = c_strtod(self.data, self.pos);
        if used == 0 {
            return self.error_token("invalid number");
        }
        let mut t = self.token(Kind::Number, self.pos);
        t.number = value;
        self.pos += used;
        t
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            let d = (self.at(at + i) as char).to_digit(16)?;
            v = (v << 4) | d;
        }
        Some(v)
    }

    /// `\uXXXX` (and a surrogate pair) at `pos`, appended as UTF-8.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let s = &mut self.string;
        if cp <= 0x7F {
            s.push(cp as u8);
        } else if cp <= 0x7FF {
            s.push(((cp >> 6) | 0xC0) as u8);
            s.push(((cp & 0x3F) | 0x80) as u8);
        } else if cp <= 0xFFFF {
            s.push(((cp >> 12) | 0xE0) as u8);
            s.push((((cp >> 6) & 0x3F) | 0x80) as u8);
            s.push(((cp & 0x3F) | 0x80) as u8);
        } else {
            s.push(((cp >> 18) | 0xF0) as u8);
            s.push((((cp >> 12) & 0x3F) | 0x80) as u8);
            s.push((((cp >> 6) & 0x3F) | 0x80) as u8);
            s.push(((cp & 0x3F) | 0x80) as u8);
        }
        self.pos += len;
        true
    }

    fn string_token(&mut self) -> Token {
        let start = self.pos;
        self.pos += 1;
        self.string.clear();
        loop {
            let ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return self.error_token("unexpected end of string");
            }
            let mut out = ch;
            if ch == b'\\' {
                out = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 8,
                    b't' => 9,
                    b'n' => 10,
                    b'f' => 12,
                    b'r' => 13,
                    b'u' => {
                        if self.unicode_escape() {
                            continue;
                        }
                        return self.error_token("invalid unicode escape code");
                    }
                    _ => return self.error_token("invalid escape code"),
                };
                self.pos += 1;
            }
            self.string.push(out);
            self.pos += 1;
        }
        self.pos += 1;
        self.token(Kind::Str, start)
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let ch = self.at(index);
        let single = match ch {
            b'{' => Some(Kind::ObjBegin),
            b'}' => Some(Kind::ObjEnd),
            b'[' => Some(Kind::ArrBegin),
            b']' => Some(Kind::ArrEnd),
            b',' => Some(Kind::Comma),
            b':' => Some(Kind::Colon),
            _ => None,
        };
        if let Some(kind) = single {
            self.pos += 1;
            return self.token(kind, index);
        }
        if ch == 0 {
            return self.token(Kind::End, index);
        }
        if !matches!(
            ch,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9'
        ) {
            return self.error_token("invalid token");
        }
        if ch == b'"' {
            return self.string_token();
        }
        if ch == b'-' || ch.is_ascii_digit() {
            if !self.decode_invalid_numbers && self.is_invalid_number() {
                return self.error_token("invalid number");
            }
            return self.number_token();
        }
        let rest = &self.data[index..];
        for (word, kind, value) in [
            (&b"true"[..], Kind::Boolean, true),
            (&b"false"[..], Kind::Boolean, false),
            (&b"null"[..], Kind::Null, false),
        ] {
            if rest.starts_with(word) {
                self.pos += word.len();
                let mut t = self.token(kind, index);
                t.boolean = value;
                return t;
            }
        }
        if self.decode_invalid_numbers && self.is_invalid_number() {
            return self.number_token();
        }
        self.error_token("invalid token")
    }
}

/// A parsed JSON value in document order; strings point into the parser's arena.
#[derive(Clone, Copy)]
enum Node {
    Number(f64),
    Boolean(bool),
    Null,
    Str(usize, usize),
    ArrayBegin,
    ObjectBegin,
    End,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Array,
    Object,
}

fn parse_error(lua: &Lua, expected: &str, token: &Token) -> mlua::Error {
    let found = if token.kind == Kind::Error {
        token.error
    } else {
        token.kind.name()
    };
    error(
        lua,
        format!(
            "Expected {expected} but found {found} at character {}",
            token.index + 1
        ),
    )
}

/// cjson.decode: the whole document is parsed and checked first (every error as lua-cjson
/// words it), into a tape of nodes; the Lua value is then built directly on the Lua stack,
/// without a registry reference per value.
fn decode(lua: &Lua, cfg: &Shared, args: &[Value]) -> mlua::Result<Value> {
    if args.len() != 1 {
        return Err(arg_error(lua, 1, "expected 1 argument"));
    }
    let (max_depth, decode_invalid_numbers) = {
        let cfg = cfg.lock();
        (cfg.decode_max_depth, cfg.decode_invalid_numbers != 0)
    };
    let input = check_bytes(lua, args, 0)?;
    if input.len() >= 2 && (input[0] == 0 || input[1] == 0) {
        return Err(error(lua, "JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut data = input;
    data.push(0);
    let mut p = Parser {
        data: &data,
        pos: 0,
        decode_invalid_numbers,
        string: Vec::new(),
    };
    let mut tape: Vec<Node> = Vec::new();
    let mut arena: Vec<u8> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut deepest = 0usize;
    // Lua stack slots lua-cjson would use: the argument, and per open container its table (and
    // the key of an object whose value is being read).
    let mut slots = 1usize;
    let mut depth: i64 = 0;
    let descend = |depth: &mut i64, slots: usize, need: usize, pos: usize| {
        *depth += 1;
        if *depth <= max_depth as i64 && slots + need <= MAX_C_STACK {
            return Ok(());
        }
        Err(error(
            lua,
            format!("Found too many nested data structures ({depth}) at character {pos}"),
        ))
    };
    let mut token = p.next_token();
    loop {
        super::check_output(&arena)?;
        // Read one value starting at `token`.
        match token.kind {
            Kind::Str => {
                tape.push(Node::Str(arena.len(), p.string.len()));
                arena.extend_from_slice(&p.string);
            }
            Kind::Number => tape.push(Node::Number(token.number)),
            Kind::Boolean => tape.push(Node::Boolean(token.boolean)),
            Kind::Null => tape.push(Node::Null),
            Kind::ObjBegin => {
                descend(&mut depth, slots, 3, p.pos)?;
                tape.push(Node::ObjectBegin);
                let t = p.next_token();
                if t.kind == Kind::ObjEnd {
                    depth -= 1;
                    tape.push(Node::End);
                } else {
                    object_key(lua, &mut p, t, &mut tape, &mut arena)?;
                    stack.push(Open::Object);
                    deepest = deepest.max(stack.len());
                    slots += 2;
                    token = p.next_token();
                    continue;
                }
            }
            Kind::ArrBegin => {
                descend(&mut depth, slots, 2, p.pos)?;
                tape.push(Node::ArrayBegin);
                let t = p.next_token();
                if t.kind == Kind::ArrEnd {
                    depth -= 1;
                    tape.push(Node::End);
                } else {
                    stack.push(Open::Array);
                    deepest = deepest.max(stack.len());
                    slots += 1;
                    token = t;
                    continue;
                }
            }
            _ => return Err(parse_error(lua, "value", &token)),
        }
        // After a value: close the containers that end here, or go on to the next value.
        loop {
            match stack.last() {
                None => {
                    let end = p.next_token();
                    if end.kind != Kind::End {
                        return Err(parse_error(lua, "the end", &end));
                    }
                    return build(lua, &tape, &arena, deepest);
                }
                Some(Open::Array) => {
                    let t = p.next_token();
                    if t.kind == Kind::ArrEnd {
                        stack.pop();
                        tape.push(Node::End);
                        depth -= 1;
                        slots -= 1;
                        continue;
                    }
                    if t.kind != Kind::Comma {
                        return Err(parse_error(lua, "comma or array end", &t));
                    }
                    token = p.next_token();
                    break;
                }
                Some(Open::Object) => {
                    let t = p.next_token();
                    if t.kind == Kind::ObjEnd {
                        stack.pop();
                        tape.push(Node::End);
                        depth -= 1;
                        slots -= 2;
                        continue;
                    }
                    if t.kind != Kind::Comma {
                        return Err(parse_error(lua, "comma or object end", &t));
                    }
                    let t = p.next_token();
                    object_key(lua, &mut p, t, &mut tape, &mut arena)?;
                    token = p.next_token();
                    break;
                }
            }
        }
    }
}

/// Builds the value a tape describes on the Lua stack and returns it.
fn build(lua: &Lua, tape: &[Node], arena: &[u8], deepest: usize) -> mlua::Result<Value> {
    // Per open container: whether it is an array, and its next index (arrays) or whether its
    // key is on the stack (objects).
    let mut open: Vec<(bool, i64)> = Vec::with_capacity(deepest + 1);
    let open = &mut open;
    // SAFETY: only Lua API calls on the stack mlua gives us, each with room checked first; the
    // closure owns nothing that needs dropping, so a Lua memory error unwinding out of it (as
    // protected calls do) skips no destructor. Indexes stay within the tape and arena.
    unsafe {
        lua.exec_raw::<Value>((), |state| {
            use mlua::ffi;
            for node in tape {
                if ffi::lua_checkstack(state, 3) == 0 {
                    ffi::luaL_error(state, c"stack overflow".as_ptr());
                }
                match *node {
                    Node::ArrayBegin | Node::ObjectBegin => {
                        ffi::lua_createtable(state, 0, 0);
                        open.push((matches!(node, Node::ArrayBegin), 1));
                        if matches!(node, Node::ObjectBegin) {
                            open.last_mut().expect("just pushed").1 = 0;
                        }
                        continue;
                    }
                    Node::End => {
                        open.pop();
                    }
                    Node::Str(at, len) => {
                        ffi::lua_pushlstring(state, arena.as_ptr().add(at) as *const _, len);
                        if let Some((false, key_on_stack)) = open.last_mut() {
                            if *key_on_stack == 0 {
                                *key_on_stack = 1;
                                continue;
                            }
                        }
                    }
                    Node::Number(n) => ffi::lua_pushnumber(state, n),
                    Node::Boolean(b) => ffi::lua_pushboolean(state, b as i32),
                    Node::Null => ffi::lua_pushlightuserdata(state, std::ptr::null_mut()),
                }
                // Store the value on top in its container.
                match open.last_mut() {
                    None => {}
                    Some((true, next)) => {
                        ffi::lua_rawseti(state, -2, *next);
                        *next += 1;
                    }
                    Some((false, key_on_stack)) => {
                        ffi::lua_rawset(state, -3);
                        *key_on_stack = 0;
                    }
                }
            }
        })
    }
}

/// An object key token (appended to the tape) and the colon after it.
fn object_key(
    lua: &Lua,
    p: &mut Parser<'_>,
    token: Token,
    tape: &mut Vec<Node>,
    arena: &mut Vec<u8>,
) -> mlua::Result<()> {
    if token.kind != Kind::Str {
        return Err(parse_error(lua, "object key string", &token));
    }
    tape.push(Node::Str(arena.len(), p.string.len()));
    arena.extend_from_slice(&p.string);
    let colon = p.next_token();
    if colon.kind != Kind::Colon {
        return Err(parse_error(lua, "colon", &colon));
    }
    Ok(())
}
