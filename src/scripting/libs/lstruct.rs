//! `struct`: binary packing and unpacking (Roberto Ierusalimschy's struct library as Redis
//! bundles it). Formats: `>` `<` `!n` endianness and alignment, `x` padding, `b/B h/H l/L T
//! i/In` integers (n up to 32 bytes), `cn` fixed strings, `s` zero-terminated strings, `f d`
//! floats, spaces ignored. Sizes are those of x86-64 C (short 2, int 4, long and size_t 8).

use super::{arg_error, check_bytes, check_number, error, opt_integer};
use mlua::{Lua, MultiValue, Table, Value, Variadic};

const MAX_INT_SIZE: usize = 32;
/// The platform's largest alignment (a double's).
const MAX_ALIGN: usize = 8;

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| pack(lua, &args))?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, args: Variadic<Value>| unpack(lua, &args))?,
    )?;
    t.raw_set(
        "size",
        lua.create_function(|lua, args: Variadic<Value>| size(lua, &args))?,
    )?;
    Ok(t)
}

#[derive(Clone, Copy)]
struct Header {
    little: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            little: true,
            align: 1,
        }
    }
}

struct Format<'a> {
    fmt: &'a [u8],
    pos: usize,
}

impl Format<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.fmt.get(self.pos)?;
        if c == 0 {
            return None;
        }
        self.pos += 1;
        Some(c)
    }

    fn number(&mut self, lua: &Lua, default: usize) -> mlua::Result<usize> {
        if !self.fmt.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
            return Ok(default);
        }
        let mut a: i64 = 0;
        while let Some(&c) = self.fmt.get(self.pos).filter(|c| c.is_ascii_digit()) {
            let d = (c - b'0') as i64;
            if a > i32::MAX as i64 / 10 || a * 10 > i32::MAX as i64 - d {
                return Err(error(lua, "integral size overflow"));
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a as usize)
    }

    fn opt_size(&mut self, lua: &Lua, opt: u8) -> mlua::Result<usize> {
        Ok(match opt {
            b'B' | b'b' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.number(lua, 1)?,
            b'i' | b'I' => {
                let size = self.number(lua, 4)?;
                if size > MAX_INT_SIZE {
                    return Err(error(
                        lua,
                        format!("integral size {size} is larger than limit of {MAX_INT_SIZE}"),
                    ));
                }
                size
            }
            _ => 0,
        })
    }

    /// `controloptions`: endianness, alignment, white space; anything else is an error.
    fn control(&mut self, lua: &Lua, opt: u8, h: &mut Header) -> mlua::Result<()> {
        match opt {
            b' ' => Ok(()),
            b'>' => {
                h.little = false;
                Ok(())
            }
            b'<' => {
                h.little = true;
                Ok(())
            }
            b'!' => {
                let a = self.number(lua, MAX_ALIGN)?;
                if a == 0 || a & (a - 1) != 0 {
                    return Err(error(lua, format!("alignment {a} is not a power of 2")));
                }
                h.align = a;
                Ok(())
            }
            other => Err(arg_error(
                lua,
                1,
                &format!("invalid format option '{}'", other as char),
            )),
        }
    }
}

fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

/// C's `(unsigned long)` of a double, as x86-64 code computes it.
fn c_f64_to_u64(n: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if n < TWO63 {
        super::c_f64_to_i64(n) as u64
    } else {
        (super::c_f64_to_i64(n - TWO63) as u64) ^ (1 << 63)
    }
}

fn pack(lua: &Lua, args: &[Value]) -> mlua::Result<mlua::LuaString> {
    let fmt = check_bytes(lua, args, 0)?;
    // The C function pushes a nil after its arguments: a missing first value reads as nil.
    let mut padded = args.to_vec();
    padded.push(Value::Nil);
    let args = &padded[..];
    let mut f = Format { fmt: &fmt, pos: 0 };
    let mut h = Header::default();
    let mut arg = 1usize;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = f.next() {
        super::check_output(&out)?;
        let mut size = f.opt_size(lua, opt)?;
        let align = to_align(out.len(), &h, opt, size);
        out.resize(out.len() + align, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, args, arg)?;
                arg += 1;
                let mut value = if n < 0.0 {
                    super::c_f64_to_i64(n) as u64
                } else {
                    c_f64_to_u64(n)
                };
                let mut bytes = vec![0u8; size];
                for i in 0..size {
                    let at = if h.little { i } else { size - 1 - i };
                    bytes[at] = (value & 0xff) as u8;
                    value = value.checked_shr(8).unwrap_or(0);
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let v = check_number(lua, args, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                });
            }
            b'd' => {
                let v = check_number(lua, args, arg)?;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = check_bytes(lua, args, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(arg_error(lua, arg as i32 + 1, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => f.control(lua, opt, &mut h)?,
        }
        let _ = size;
    }
    lua.create_string(&out)
}

fn get_integer(bytes: &[u8], little: bool, signed: bool) -> f64 {
    let size = bytes.len();
    let mut l: u64 = 0;
    for i in 0..size {
        let b = if little {
            bytes[size - 1 - i]
        } else {
            bytes[i]
        };
        l = (l << 8) | b as u64;
    }
    if !signed {
        return l as f64;
    }
    let shift = size * 8 - 1;
    if shift < 64 {
        let mask = u64::MAX << shift;
        if l & mask != 0 {
            l |= mask;
        }
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    let fmt = check_bytes(lua, args, 0)?;
    let data = check_bytes(lua, args, 1)?;
    let start = opt_integer(lua, args, 2, 1)?;
    let mut pos = (start as u64).wrapping_sub(1) as usize;
    let mut f = Format { fmt: &fmt, pos: 0 };
    let mut h = Header::default();
    let mut out: Vec<Value> = Vec::new();
    let ld = data.len();
    while let Some(opt) = f.next() {
        let mut size = f.opt_size(lua, opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if pos.checked_add(size).is_none_or(|end| end > ld) {
            return Err(arg_error(lua, 2, "data string too short"));
        }
        if out.len() + 2 + 1 > super::MAX_C_STACK {
            return Err(error(lua, "stack overflow (too many results)"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let v = get_integer(&data[pos..pos + size], h.little, opt.is_ascii_lowercase());
                out.push(Value::Number(v));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                let v = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push(Value::Number(v as f64));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                let v = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push(Value::Number(v));
            }
            b'c' => {
                if size == 0 {
                    let previous = out.last().and_then(super::to_number);
                    let Some(n) = previous else {
                        return Err(error(lua, "format 'c0' needs a previous size"));
                    };
                    size = c_f64_to_u64(n) as usize;
                    out.pop();
                    if pos.checked_add(size).is_none_or(|end| end > ld) {
                        return Err(arg_error(lua, 2, "data string too short"));
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(error(lua, "unfinished string in data"));
                };
                size = len + 1;
                out.push(Value::String(lua.create_string(&data[pos..pos + len])?));
            }
            _ => f.control(lua, opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    out.push(Value::Integer(pos as i64 + 1));
    Ok(MultiValue::from_iter(out))
}

fn size(lua: &Lua, args: &[Value]) -> mlua::Result<i64> {
    let fmt = check_bytes(lua, args, 0)?;
    let mut f = Format { fmt: &fmt, pos: 0 };
    let mut h = Header::default();
    let mut pos = 0usize;
    while let Some(opt) = f.next() {
        let size = f.opt_size(lua, opt)?;
        pos += to_align(pos, &h, opt, size);
        if opt == b's' {
            return Err(arg_error(lua, 1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(lua, 1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            f.control(lua, opt, &mut h)?;
        }
        pos += size;
    }
    Ok(pos as i64)
}
