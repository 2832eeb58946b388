//! The `bit` library (LuaBitOp's API, as bundled with Redis): 32-bit operations on Lua numbers.

use mlua::{Lua, Table, Value, Variadic};

/// A Lua number as LuaBitOp normalises it: taken modulo 2^32, as a signed 32-bit integer.
fn tobit(value: &Value) -> mlua::Result<i32> {
    let n = match value {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN),
        _ => f64::NAN,
    };
    if !n.is_finite() {
        return Err(mlua::Error::RuntimeError(
            "bad argument to bit operation (number expected)".into(),
        ));
    }
    Ok(n.round_ties_even().rem_euclid(4_294_967_296.0) as u64 as u32 as i32)
}

fn arg(args: &Variadic<Value>, i: usize) -> mlua::Result<i32> {
    tobit(args.get(i).unwrap_or(&Value::Nil))
}

fn fold(args: &Variadic<Value>, f: fn(i32, i32) -> i32) -> mlua::Result<f64> {
    let mut acc = arg(args, 0)?;
    for i in 1..args.len() {
        acc = f(acc, arg(args, i)?);
    }
    Ok(acc as f64)
}

pub fn library(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    bit.raw_set(
        "tobit",
        lua.create_function(|_, a: Variadic<Value>| Ok(arg(&a, 0)? as f64))?,
    )?;
    bit.raw_set(
        "bnot",
        lua.create_function(|_, a: Variadic<Value>| Ok(!arg(&a, 0)? as f64))?,
    )?;
    bit.raw_set(
        "band",
        lua.create_function(|_, a: Variadic<Value>| fold(&a, |x, y| x & y))?,
    )?;
    bit.raw_set(
        "bor",
        lua.create_function(|_, a: Variadic<Value>| fold(&a, |x, y| x | y))?,
    )?;
    bit.raw_set(
        "bxor",
        lua.create_function(|_, a: Variadic<Value>| fold(&a, |x, y| x ^ y))?,
    )?;
    bit.raw_set(
        "bswap",
        lua.create_function(|_, a: Variadic<Value>| Ok(arg(&a, 0)?.swap_bytes() as f64))?,
    )?;
    let shift = |f: fn(u32, u32) -> u32| {
        move |_: &Lua, a: Variadic<Value>| {
            Ok(f(arg(&a, 0)? as u32, arg(&a, 1)? as u32 & 31) as i32 as f64)
        }
    };
    bit.raw_set("lshift", lua.create_function(shift(|x, n| x << n))?)?;
    bit.raw_set("rshift", lua.create_function(shift(|x, n| x >> n))?)?;
    bit.raw_set(
        "arshift",
        lua.create_function(shift(|x, n| ((x as i32) >> n) as u32))?,
    )?;
    bit.raw_set("rol", lua.create_function(shift(|x, n| x.rotate_left(n)))?)?;
    bit.raw_set("ror", lua.create_function(shift(|x, n| x.rotate_right(n)))?)?;
    bit.raw_set(
        "tohex",
        lua.create_function(|_, a: Variadic<Value>| {
            let x = arg(&a, 0)? as u32;
            let n = if a.len() > 1 { arg(&a, 1)? } else { 8 };
            let digits = n.unsigned_abs().min(8) as usize;
            let text = if n < 0 {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(text[8 - digits..].to_string())
        })?,
    )?;
    Ok(bit)
}
