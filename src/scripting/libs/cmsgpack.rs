//! `cmsgpack`: MessagePack packing and unpacking with lua-cmsgpack 0.4.0's behaviour as Redis
//! bundles it (its type choices, its 16-level nesting limit when packing, its errors).
//!
//! Unpacking walks nested values with an explicit stack; its depth is bounded by Lua's C stack
//! limit exactly where Redis's recursive decoder fails. As in `cjson`, the input is checked
//! into a tape first and the values are built on the Lua stack through the C API; packing
//! reads tables the same way.

use super::{arg_error, check_bytes, error, opt_integer, raw_error, MAX_C_STACK};
use mlua::{Lua, MultiValue, Table, Value, Variadic};

/// Tables nested deeper than this are packed as nil (survives self-referencing tables).
const MAX_NESTING: usize = 16;

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| pack(lua, &args))?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, args: Variadic<Value>| {
            let s = check_bytes(lua, &args, 0)?;
            unpack_full(lua, &s, args.len(), 0, 0)
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, args: Variadic<Value>| {
            let offset = opt_integer(lua, &args, 1, 0)?;
            let s = check_bytes(lua, &args, 0)?;
            unpack_full(lua, &s, 1, 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, args: Variadic<Value>| {
            let limit = super::check_integer(lua, &args, 1)?;
            let offset = opt_integer(lua, &args, 2, 0)?;
            let s = check_bytes(lua, &args, 0)?;
            unpack_full(lua, &s, 1, limit, offset)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

// ===== Packing =====

fn pack(lua: &Lua, args: &[Value]) -> mlua::Result<mlua::LuaString> {
    if args.is_empty() {
        return Err(arg_error(lua, 0, "MessagePack pack needs input."));
    }
    if args.len() * 2 > MAX_C_STACK {
        return Err(arg_error(
            lua,
            0,
            "Too many arguments for MessagePack pack.",
        ));
    }
    let mut out = Vec::new();
    let mut too_big = false;
    {
        let (out, too_big) = (&mut out, &mut too_big);
        let n = args.len() as i32;
        // SAFETY: the closure reads the arguments mlua pushed and pushes/pops only what it
        // checked room for; it owns nothing needing a drop (the buffer is borrowed), so a Lua
        // error unwinding out of it skips no destructor. mlua restores the stack afterwards.
        unsafe {
            lua.exec_raw::<()>(Variadic::from_iter(args.iter().cloned()), |state| {
                use mlua::ffi;
                let top = ffi::lua_gettop(state);
                ffi::lua_getfield(
                    state,
                    ffi::LUA_REGISTRYINDEX,
                    c"ferrocache.readonly".as_ptr(),
                );
                let readonly = ffi::lua_gettop(state);
                for idx in top - n + 1..=top {
                    if encode_raw(state, idx, 0, out, readonly).is_err() {
                        *too_big = true;
                        return;
                    }
                }
            })?;
        }
    }
    if too_big {
        return Err(mlua::Error::MemoryError("not enough memory".into()));
    }
    lua.create_string(&out)
}

/// lua-cmsgpack's `mp_encode_lua_type` of the value at stack slot `idx`, on the raw stack.
/// `Err` when the output passed the size limit.
unsafe fn encode_raw(
    state: *mut mlua::ffi::lua_State,
    idx: i32,
    level: usize,
    out: &mut Vec<u8>,
    readonly: i32,
) -> Result<(), ()> {
    use mlua::ffi;
    if out.len() > super::OUTPUT_LIMIT || ffi::lua_checkstack(state, 4) == 0 {
        return Err(());
    }
    match ffi::lua_type(state, idx) {
        ffi::LUA_TSTRING => {
            let mut len = 0usize;
            let ptr = ffi::lua_tolstring(state, idx, &mut len);
            encode_bytes(out, std::slice::from_raw_parts(ptr as *const u8, len));
        }
        ffi::LUA_TBOOLEAN => out.push(if ffi::lua_toboolean(state, idx) != 0 {
            0xc3
        } else {
            0xc2
        }),
        ffi::LUA_TNUMBER => encode_number(out, ffi::lua_tonumber(state, idx)),
        ffi::LUA_TTABLE if level < MAX_NESTING => {
            // A read-only proxy packs as the table it stands for.
            let mut t = idx;
            let mut pushed = 0;
            if ffi::lua_type(state, readonly) == ffi::LUA_TTABLE {
                ffi::lua_pushvalue(state, idx);
                ffi::lua_rawget(state, readonly);
                if ffi::lua_type(state, -1) == ffi::LUA_TTABLE {
                    t = ffi::lua_gettop(state);
                    pushed = 1;
                } else {
                    ffi::lua_settop(state, -2);
                }
            }
            // table_is_an_array: keys exactly 1..n.
            let (mut count, mut max, mut array) = (0i64, 0i64, true);
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, t) != 0 {
                ffi::lua_settop(state, -2);
                let n = if ffi::lua_type(state, -1) == ffi::LUA_TNUMBER {
                    ffi::lua_tonumber(state, -1)
                } else {
                    0.0
                };
                if n <= 0.0 || super::c_f64_to_i32(n) as f64 != n {
                    ffi::lua_settop(state, -2);
                    array = false;
                    break;
                }
                max = max.max(n as i64);
                count += 1;
            }
            if array && max == count {
                let len = ffi::lua_objlen(state, t);
                encode_container_header(out, len as u64, 0x90, 0xdc, 0xdd);
                for i in 1..=len {
                    ffi::lua_rawgeti(state, t, i as i64);
                    let item = ffi::lua_gettop(state);
                    let r = encode_raw(state, item, level + 1, out, readonly);
                    ffi::lua_settop(state, -2);
                    r?;
                }
            } else {
                let mut pairs = 0u64;
                ffi::lua_pushnil(state);
                while ffi::lua_next(state, t) != 0 {
                    ffi::lua_settop(state, -2);
                    pairs += 1;
                }
                encode_container_header(out, pairs, 0x80, 0xde, 0xdf);
                ffi::lua_pushnil(state);
                while ffi::lua_next(state, t) != 0 {
                    let value = ffi::lua_gettop(state);
                    encode_raw(state, value - 1, level + 1, out, readonly)?;
                    encode_raw(state, value, level + 1, out, readonly)?;
                    ffi::lua_settop(state, -2);
                }
            }
            if pushed == 1 {
                ffi::lua_settop(state, -2);
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(out: &mut Vec<u8>, d: f64) {
    // Integral values that fit an int64 are packed as integers.
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&d) && d.trunc() == d {
        encode_int(out, d as i64);
        return;
    }
    let f = d as f32;
    if d == f as f64 {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_be_bytes());
    }
}

fn encode_container_header(out: &mut Vec<u8>, n: u64, fix: u8, sixteen: u8, thirty_two: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(sixteen);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(thirty_two);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

// ===== Unpacking =====

enum DecodeError {
    /// Not enough bytes.
    Eof,
    /// A byte that starts no MessagePack object.
    BadFormat,
    /// A Lua error (stack limit, nil table index).
    Lua(mlua::Error),
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.left() < n {
            Err(DecodeError::Eof)
        } else {
            Ok(())
        }
    }

    fn be(&self, from: usize, n: usize) -> u64 {
        self.data[self.pos + from..self.pos + from + n]
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64)
    }
}

/// A decoded object in stream order: scalars, and containers followed by their elements
/// (maps alternate keys and values). Strings point into the input.
#[derive(Clone, Copy)]
enum Node {
    Nil,
    Boolean(bool),
    Number(f64),
    Str(usize, usize),
    Array(u64),
    Map(u64),
}

/// What one MessagePack object starts with: a value, or a container to fill.
enum Start {
    Value(Node),
    Array(u64),
    Map(u64),
}

fn read_start(c: &mut Cursor<'_>) -> Result<Start, DecodeError> {
    let b = c.data[c.pos];
    let num = |n: f64| Ok(Start::Value(Node::Number(n)));
    match b {
        0xcc => {
            c.need(2)?;
            let v = c.be(1, 1);
            c.pos += 2;
            num(v as f64)
        }
        0xd0 => {
            c.need(2)?;
            let v = c.data[c.pos + 1] as i8;
            c.pos += 2;
            num(v as f64)
        }
        0xcd => {
            c.need(3)?;
            let v = c.be(1, 2);
            c.pos += 3;
            num(v as f64)
        }
        0xd1 => {
            c.need(3)?;
            let v = c.be(1, 2) as u16 as i16;
            c.pos += 3;
            num(v as f64)
        }
        0xce => {
            c.need(5)?;
            let v = c.be(1, 4);
            c.pos += 5;
            num(v as f64)
        }
        0xd2 => {
            c.need(5)?;
            let v = c.be(1, 4) as u32 as i32;
            c.pos += 5;
            num(v as f64)
        }
        0xcf => {
            c.need(9)?;
            // Pushed as a lua_Integer: values past i64::MAX wrap negative.
            let v = c.be(1, 8) as i64;
            c.pos += 9;
            num(v as f64)
        }
        0xd3 => {
            c.need(9)?;
            let v = c.be(1, 8) as i64;
            c.pos += 9;
            num(v as f64)
        }
        0xc0 => {
            c.pos += 1;
            Ok(Start::Value(Node::Nil))
        }
        0xc3 | 0xc2 => {
            c.pos += 1;
            Ok(Start::Value(Node::Boolean(b == 0xc3)))
        }
        0xca => {
            c.need(5)?;
            let v = f32::from_bits(c.be(1, 4) as u32);
            c.pos += 5;
            num(v as f64)
        }
        0xcb => {
            c.need(9)?;
            let v = f64::from_bits(c.be(1, 8));
            c.pos += 9;
            num(v)
        }
        0xd9..=0xdb => {
            let hdr = match b {
                0xd9 => 1,
                0xda => 2,
                _ => 4,
            };
            c.need(1 + hdr)?;
            let len = c.be(1, hdr) as usize;
            c.need(1 + hdr + len)?;
            let node = Node::Str(c.pos + 1 + hdr, len);
            c.pos += 1 + hdr + len;
            Ok(Start::Value(node))
        }
        0xdc..=0xdf => {
            let hdr = if b == 0xdc || b == 0xde { 2 } else { 4 };
            c.need(1 + hdr)?;
            let len = c.be(1, hdr);
            c.pos += 1 + hdr;
            Ok(if b <= 0xdd {
                Start::Array(len)
            } else {
                Start::Map(len)
            })
        }
        _ if b & 0x80 == 0 => {
            c.pos += 1;
            num(b as f64)
        }
        _ if b & 0xe0 == 0xe0 => {
            c.pos += 1;
            num(b as i8 as f64)
        }
        _ if b & 0xe0 == 0xa0 => {
            let len = (b & 0x1f) as usize;
            c.need(1 + len)?;
            let node = Node::Str(c.pos + 1, len);
            c.pos += 1 + len;
            Ok(Start::Value(node))
        }
        _ if b & 0xf0 == 0x90 => {
            c.pos += 1;
            Ok(Start::Array((b & 0xf) as u64))
        }
        _ if b & 0xf0 == 0x80 => {
            c.pos += 1;
            Ok(Start::Map((b & 0xf) as u64))
        }
        _ => Err(DecodeError::BadFormat),
    }
}

/// Checks one top-level object and appends it to `tape`; `top` is the Lua stack slots in use
/// before it (lua-cmsgpack's stack limits are checked where its recursive decoder checks them).
fn parse_one(
    lua: &Lua,
    c: &mut Cursor<'_>,
    top: usize,
    tape: &mut Vec<Node>,
) -> Result<(), DecodeError> {
    // Per open container: whether it is an array, elements left, and for a map its pending
    // key (nil and NaN keys fail when the pair is stored, after the value was read, as in Lua).
    let mut stack: Vec<(bool, u64, Option<Node>)> = Vec::new();
    let mut slots = top;
    let overflow = |msg: &str| DecodeError::Lua(error(lua, format!("stack overflow ({msg})")));
    loop {
        c.need(1)?;
        if slots + 1 > MAX_C_STACK {
            return Err(overflow(
                "too many return values at once; use unpack_one or unpack_limit instead.",
            ));
        }
        // The element just completed (containers stand for themselves as non-nil keys).
        let mut done = match read_start(c)? {
            Start::Value(v) => {
                tape.push(v);
                v
            }
            Start::Array(len) => {
                if slots + 2 > MAX_C_STACK {
                    return Err(overflow("in function mp_decode_to_lua_array"));
                }
                tape.push(Node::Array(len));
                if len > 0 {
                    stack.push((true, len, None));
                    slots += 2;
                    continue;
                }
                Node::Array(0)
            }
            Start::Map(len) => {
                tape.push(Node::Map(len));
                if len > 0 {
                    stack.push((false, len, None));
                    slots += 1;
                    continue;
                }
                Node::Map(0)
            }
        };
        loop {
            match stack.last_mut() {
                None => return Ok(()),
                Some((true, left, _)) => {
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                    stack.pop();
                    slots -= 2;
                    done = Node::Array(0);
                }
                Some((false, left, key)) => match key.take() {
                    None => {
                        *key = Some(done);
                        slots += 1;
                        break;
                    }
                    Some(k) => {
                        match k {
                            Node::Nil => {
                                return Err(DecodeError::Lua(raw_error("table index is nil")))
                            }
                            Node::Number(n) if n.is_nan() => {
                                return Err(DecodeError::Lua(raw_error("table index is NaN")))
                            }
                            _ => {}
                        }
                        slots -= 1;
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        stack.pop();
                        slots -= 1;
                        done = Node::Map(0);
                    }
                },
            }
        }
    }
}

/// Builds the values a tape describes on the Lua stack (after `first`, if any) and returns
/// them all.
fn build(lua: &Lua, data: &[u8], tape: &[Node], first: Option<i64>) -> mlua::Result<MultiValue> {
    // Per open container: array?, elements left, next index (arrays) / key on stack (maps).
    let mut open: Vec<(bool, u64, i64)> = Vec::new();
    let open = &mut open;
    // SAFETY: only Lua API calls with room checked first; the closure owns nothing needing a
    // drop, so a Lua memory error unwinding out of it skips no destructor. String nodes lie
    // within `data` (checked when parsed).
    unsafe {
        lua.exec_raw::<MultiValue>((), |state| {
            use mlua::ffi;
            if let Some(n) = first {
                ffi::lua_pushnumber(state, n as f64);
            }
            for node in tape {
                if ffi::lua_checkstack(state, 3) == 0 {
                    ffi::luaL_error(state, c"stack overflow".as_ptr());
                }
                match *node {
                    Node::Array(len) | Node::Map(len) => {
                        ffi::lua_createtable(state, 0, 0);
                        if len > 0 {
                            open.push((matches!(node, Node::Array(_)), len, 1));
                            if matches!(node, Node::Map(_)) {
                                open.last_mut().expect("just pushed").2 = 0;
                            }
                            continue;
                        }
                    }
                    Node::Nil => ffi::lua_pushnil(state),
                    Node::Boolean(b) => ffi::lua_pushboolean(state, b as i32),
                    Node::Number(n) => ffi::lua_pushnumber(state, n),
                    Node::Str(at, len) => {
                        ffi::lua_pushlstring(state, data.as_ptr().add(at) as *const _, len);
                    }
                }
                // Store the value on top, closing the containers it completes.
                loop {
                    match open.last_mut() {
                        None => break,
                        Some((true, left, next)) => {
                            ffi::lua_rawseti(state, -2, *next);
                            *next += 1;
                            *left -= 1;
                            if *left > 0 {
                                break;
                            }
                            open.pop();
                        }
                        Some((false, left, key_on_stack)) => {
                            if *key_on_stack == 0 {
                                *key_on_stack = 1;
                                break;
                            }
                            ffi::lua_rawset(state, -3);
                            *key_on_stack = 0;
                            *left -= 1;
                            if *left > 0 {
                                break;
                            }
                            open.pop();
                        }
                    }
                }
            }
        })
    }
}

fn unpack_full(
    lua: &Lua,
    s: &[u8],
    nargs: usize,
    limit: i64,
    offset: i64,
) -> mlua::Result<MultiValue> {
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(error(
            lua,
            format!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32,
                s.len() as i32
            ),
        ));
    }
    if offset as u64 > s.len() as u64 {
        return Err(error(
            lua,
            format!(
                "Start offset {} greater than input length {}.",
                offset as i32,
                s.len() as i32
            ),
        ));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut c = Cursor {
        data: s,
        pos: offset as usize,
    };
    let mut tape = Vec::new();
    let mut count: i64 = 0;
    while c.left() > 0 && count < limit {
        match parse_one(lua, &mut c, nargs + count as usize, &mut tape) {
            Ok(()) => {}
            Err(DecodeError::Eof) => return Err(error(lua, "Missing bytes in input.")),
            Err(DecodeError::BadFormat) => return Err(error(lua, "Bad data format in input.")),
            Err(DecodeError::Lua(e)) => return Err(e),
        }
        count += 1;
    }
    let next = (!decode_all).then(|| if c.left() == 0 { -1 } else { c.pos as i64 });
    build(lua, s, &tape, next)
}
