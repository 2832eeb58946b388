//! Conversions between Redis replies and Lua values, with the rules of Redis's scripting docs:
//! what `redis.call` hands the script (depending on `redis.setresp`), and what the script's
//! return value becomes on the wire.

use crate::protocol::reply::format_double;
use crate::protocol::Reply;
use bytes::Bytes;
use mlua::{Lua, Table, Value};

/// The protocol a script speaks with `redis.call`, chosen by `redis.setresp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptResp {
    Resp2,
    Resp3,
}

/// Deepest table nesting converted before giving up (a table may contain itself).
const MAX_DEPTH: usize = 1000;

/// A command's reply as the script sees it. Errors become `{err=...}` tables (the caller decides
/// whether to raise them).
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp: ScriptResp) -> mlua::Result<Value> {
    let resp3 = resp == ScriptResp::Resp3;
    Ok(match reply {
        Reply::Ok => status_table(lua, b"OK")?,
        Reply::Status(text) => status_table(lua, text)?,
        Reply::Error(text) => error_table(lua, text)?,
        Reply::Int(n) => Value::Number(*n as f64),
        Reply::Bulk(bytes) => Value::String(lua.create_string(bytes)?),
        Reply::Nil | Reply::NilArray if resp3 => Value::Nil,
        Reply::Nil | Reply::NilArray => Value::Boolean(false),
        Reply::Array(items) | Reply::Push(items) => sequence(lua, items, resp)?,
        Reply::Set(items) if resp3 => {
            let set = lua.create_table()?;
            for item in items {
                set.raw_set(reply_to_lua(lua, item, resp)?, true)?;
            }
            wrapped(lua, "set", Value::Table(set))?
        }
        Reply::Set(items) => sequence(lua, items, resp)?,
        Reply::Map(pairs) if resp3 => {
            let map = lua.create_table()?;
            for (k, v) in pairs {
                map.raw_set(reply_to_lua(lua, k, resp)?, reply_to_lua(lua, v, resp)?)?;
            }
            wrapped(lua, "map", Value::Table(map))?
        }
        Reply::Map(pairs) => {
            let flat = lua.create_table()?;
            for (i, (k, v)) in pairs.iter().enumerate() {
                flat.raw_set(2 * i + 1, reply_to_lua(lua, k, resp)?)?;
                flat.raw_set(2 * i + 2, reply_to_lua(lua, v, resp)?)?;
            }
            Value::Table(flat)
        }
        Reply::Double(d) if resp3 => wrapped(lua, "double", Value::Number(*d))?,
        Reply::Double(d) => Value::String(lua.create_string(format_double(*d))?),
        Reply::HumanDouble(d) if resp3 => wrapped(lua, "double", Value::Number(*d))?,
        Reply::HumanDouble(d) => {
            Value::String(lua.create_string(crate::protocol::reply::format_human_double(*d))?)
        }
        Reply::Bool(b) if resp3 => Value::Boolean(*b),
        Reply::Bool(b) => Value::Number(if *b { 1.0 } else { 0.0 }),
        Reply::Verbatim(text) if resp3 => {
            let inner = lua.create_table()?;
            inner.raw_set("format", "txt")?;
            inner.raw_set("string", lua.create_string(text)?)?;
            wrapped(lua, "verbatim_string", Value::Table(inner))?
        }
        Reply::Verbatim(text) => Value::String(lua.create_string(text)?),
        Reply::BigNumber(digits) if resp3 => {
            wrapped(lua, "big_number", Value::String(lua.create_string(digits)?))?
        }
        Reply::BigNumber(digits) => Value::String(lua.create_string(digits)?),
        // Scripts see the reply, not its attributes (as Redis's Lua client).
        Reply::Attributed(_, reply) => reply_to_lua(lua, reply, resp)?,
    })
}

fn sequence(lua: &Lua, items: &[Reply], resp: ScriptResp) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        table.raw_set(i + 1, reply_to_lua(lua, item, resp)?)?;
    }
    Ok(Value::Table(table))
}

fn wrapped(lua: &Lua, field: &str, inner: Value) -> mlua::Result<Value> {
    let table = lua.create_table()?;
    table.raw_set(field, inner)?;
    Ok(Value::Table(table))
}

fn status_table(lua: &Lua, text: &[u8]) -> mlua::Result<Value> {
    wrapped(lua, "ok", Value::String(lua.create_string(text)?))
}

/// `{err = text}`, text with its error code.
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Value> {
    wrapped(lua, "err", Value::String(lua.create_string(text)?))
}

/// The script's return value as a reply.
pub fn lua_to_reply(value: &Value, resp: ScriptResp) -> Reply {
    convert(value, resp, 0)
}

fn convert(value: &Value, resp: ScriptResp, depth: usize) -> Reply {
    match value {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) => match resp {
            ScriptResp::Resp3 => Reply::Bool(*b),
            ScriptResp::Resp2 if *b => Reply::Int(1),
            ScriptResp::Resp2 => Reply::Nil,
        },
        Value::Integer(n) => Reply::Int(*n),
        Value::Number(n) => Reply::Int(number_to_int(*n)),
        Value::Table(table) if depth >= MAX_DEPTH => {
            let _ = table;
            Reply::error("ERR reached lua stack limit")
        }
        Value::Table(table) => table_to_reply(table, resp, depth),
        _ => Reply::Nil,
    }
}

/// Lua number to integer reply as Redis's C cast does it on x86-64: truncated toward zero, and
/// the "integer indefinite" value for NaN and out-of-range numbers.
pub fn number_to_int(n: f64) -> i64 {
    if n.is_finite() && n > -9.223_372_036_854_776e18 && n < 9.223_372_036_854_776e18 {
        n.trunc() as i64
    } else {
        i64::MIN
    }
}

fn table_to_reply(table: &Table, resp: ScriptResp, depth: usize) -> Reply {
    let field = |name: &str| table.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(err) = field("err") {
        return Reply::Error(Bytes::from(one_line(&err.as_bytes())));
    }
    if let Value::String(ok) = field("ok") {
        return Reply::Status(Bytes::from(one_line(&ok.as_bytes())));
    }
    match field("double") {
        Value::Number(d) => return Reply::Double(d),
        Value::Integer(d) => return Reply::Double(d as f64),
        _ => {}
    }
    if let Value::String(big) = field("big_number") {
        // No big-number reply type: sent as a bulk string (what RESP2 clients get anyway).
        return Reply::Bulk(Bytes::copy_from_slice(&big.as_bytes()));
    }
    if let Value::Table(map) = field("map") {
        let mut pairs = Vec::new();
        for (k, v) in map.pairs::<Value, Value>().flatten() {
            pairs.push((convert(&k, resp, depth + 1), convert(&v, resp, depth + 1)));
        }
        return Reply::Map(pairs);
    }
    if let Value::Table(set) = field("set") {
        let items = set
            .pairs::<Value, Value>()
            .flatten()
            .map(|(k, _)| convert(&k, resp, depth + 1))
            .collect();
        return Reply::Set(items);
    }
    if let Value::Table(verbatim) = field("verbatim_string") {
        if let (Ok(Value::String(_)), Ok(Value::String(text))) = (
            verbatim.raw_get::<Value>("format"),
            verbatim.raw_get::<Value>("string"),
        ) {
            return Reply::Verbatim(Bytes::copy_from_slice(&text.as_bytes()));
        }
    }
    let mut items = Vec::new();
    for i in 1.. {
        match table.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(item) => items.push(convert(&item, resp, depth + 1)),
        }
    }
    Reply::Array(items)
}

/// Status and error texts are single lines on the wire.
fn one_line(text: &[u8]) -> Vec<u8> {
    text.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

/// A Lua number (mlua hands integral numbers over as `Integer`).
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// A `redis.call` argument: strings as they are, numbers in their shortest exact form.
pub fn lua_to_arg(value: &Value) -> Option<Bytes> {
    match value {
        Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Integer(n) => Some(Bytes::from(n.to_string())),
        Value::Number(n) => Some(Bytes::from(format_double(*n))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_truncate_like_c() {
        assert_eq!(number_to_int(3.99), 3);
        assert_eq!(number_to_int(-3.99), -3);
        assert_eq!(number_to_int(1e20), i64::MIN);
        assert_eq!(number_to_int(f64::NAN), i64::MIN);
        assert_eq!(number_to_int(f64::INFINITY), i64::MIN);
    }

    #[test]
    fn round_trip_shapes() {
        let lua = Lua::new();
        let reply = Reply::Array(vec![
            Reply::Int(1),
            Reply::Nil,
            Reply::Bulk(Bytes::from_static(b"\x00\xff")),
        ]);
        let value = reply_to_lua(&lua, &reply, ScriptResp::Resp2).unwrap();
        // nil becomes false, which converts back to a nil bulk.
        assert_eq!(lua_to_reply(&value, ScriptResp::Resp2), reply);
        let status = reply_to_lua(&lua, &Reply::Ok, ScriptResp::Resp2).unwrap();
        assert_eq!(
            lua_to_reply(&status, ScriptResp::Resp2),
            Reply::Status(Bytes::from_static(b"OK"))
        );
    }
}
