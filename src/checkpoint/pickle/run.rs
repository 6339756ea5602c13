//! The opcode loop: each opcode reads its operands and changes the stack or the memo.

use super::{CHECK_EVERY, Dict, Global, Machine, Slot, Value};
use crate::checkpoint::allow_list::{persistent_load, rebuild_tensor, resolve_global};
use crate::error::{Error, Result};

/// Depth of a container holding `items`.
fn depth_of(items: &[Slot]) -> u32 {
    items.iter().map(|s| s.depth + 1).max().unwrap_or(0)
}

fn values(items: Vec<Slot>) -> Vec<Value> {
    items.into_iter().map(|s| s.v).collect()
}

impl Machine<'_> {
    pub(super) fn run(mut self, keep_going: &mut dyn FnMut(usize, usize) -> bool) -> Result<Value> {
        let mut ops = 0usize;
        loop {
            ops += 1;
            if ops.is_multiple_of(CHECK_EVERY) && !keep_going(self.pos, self.data.len()) {
                return Err(Error::Cancelled);
            }
            let op = self.u8()?;
            match op {
                0x80 => {
                    // PROTO
                    let v = self.u8()?;
                    if v > 5 {
                        return Err(self.err(format!("unsupported pickle protocol {v}")));
                    }
                }
                0x95 => {
                    // FRAME: just a length hint
                    self.u64()?;
                }
                b'.' => {
                    // STOP: the result leaves without a memo copy.
                    return match self.stack.pop() {
                        Some(super::Item::Val(s)) => Ok(s.v),
                        _ => Err(self.err("STOP without a value on the stack")),
                    };
                }
                b'(' => self.push_mark()?,
                b'0' => self.discard()?,
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => self.dup()?,
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                b'J' => {
                    let v = self.u32()? as i32 as i64;
                    self.push(Value::Int(v))?
                }
                b'K' => {
                    let v = self.u8()? as i64;
                    self.push(Value::Int(v))?
                }
                b'M' => {
                    let v = self.u16()? as i64;
                    self.push(Value::Int(v))?
                }
                0x8a => {
                    // LONG1
                    let n = self.u8()? as usize;
                    let v = self.long(n)?;
                    self.push(v)?
                }
                0x8b => {
                    // LONG4
                    let n = self.u32()? as usize;
                    let v = self.long(n)?;
                    self.push(v)?
                }
                b'I' => {
                    let s = self.line()?;
                    let v = match s {
                        "01" => Value::Bool(true),
                        "00" => Value::Bool(false),
                        s => Value::Int(s.parse().map_err(|_| self.err("bad INT literal"))?),
                    };
                    self.push(v)?
                }
                b'L' => {
                    let s = self.line()?.trim_end_matches('L');
                    let v = s.parse().map_err(|_| self.err("bad LONG literal"))?;
                    self.push(Value::Int(v))?
                }
                b'G' => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(Value::Float(f64::from_be_bytes(a)))?
                }
                b'F' => {
                    let s = self.line()?;
                    let v = s.parse().map_err(|_| self.err("bad FLOAT literal"))?;
                    self.push(Value::Float(v))?
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = self.utf8(n)?;
                    self.push(Value::Str(s))?
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let s = self.utf8(n)?;
                    self.push(Value::Str(s))?
                }
                0x8d => {
                    let n =
                        usize::try_from(self.u64()?).map_err(|_| self.err("string too long"))?;
                    let s = self.utf8(n)?;
                    self.push(Value::Str(s))?
                }
                b'T' | b'B' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b))?
                }
                b'U' | b'C' => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b))?
                }
                0x8e => {
                    let n = usize::try_from(self.u64()?).map_err(|_| self.err("bytes too long"))?;
                    let b = self.take(n)?.to_vec();
                    self.push(Value::Bytes(b))?
                }
                b'V' => {
                    let s = self.line()?.to_string();
                    self.push(Value::Str(s))?
                }
                b'}' => self.push(Value::Dict(Dict::default()))?,
                b']' => self.push(Value::List(Vec::new()))?,
                b')' => self.push(Value::Tuple(Vec::new()))?,
                0x8f => self.push(Value::List(Vec::new()))?, // EMPTY_SET, read as a list
                b'd' => {
                    let items = self.pop_mark()?;
                    let depth = depth_of(&items);
                    let d = pairs(values(items)).map_err(|r| self.err(r))?;
                    self.push_nested(Value::Dict(d.into_iter().collect()), depth)?
                }
                b'l' | 0x91 => {
                    // LIST, FROZENSET (read as a list)
                    let items = self.pop_mark()?;
                    let depth = depth_of(&items);
                    self.push_nested(Value::List(values(items)), depth)?
                }
                b't' => {
                    let items = self.pop_mark()?;
                    let depth = depth_of(&items);
                    self.push_nested(Value::Tuple(values(items)), depth)?
                }
                0x85..=0x87 => {
                    // TUPLE1, TUPLE2, TUPLE3
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let depth = depth_of(&items);
                    self.push_nested(Value::Tuple(values(items)), depth)?
                }
                b'a' => {
                    let s = self.pop()?;
                    self.modify_top(s.depth, |top| append(top, vec![s.v]))?
                }
                b'e' | 0x90 => {
                    // APPENDS / ADDITEMS
                    let items = self.pop_mark()?;
                    let depth = depth_of(&items).saturating_sub(1);
                    self.modify_top(depth, |top| append(top, values(items)))?
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let depth = v.depth.max(k.depth);
                    self.modify_top(depth, |top| set_items(top, vec![(k.v, v.v)]))?
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let depth = depth_of(&items).saturating_sub(1);
                    let kv = pairs(values(items)).map_err(|r| self.err(r))?;
                    self.modify_top(depth, |top| set_items(top, kv))?
                }
                b'q' | b'r' | b'p' => {
                    // BINPUT, LONG_BINPUT, PUT
                    let id = self.memo_index(op)?;
                    self.memo_put(id)?
                }
                0x94 => {
                    // MEMOIZE
                    let id = self.memo.len() as u32;
                    self.memo_put(id)?
                }
                b'h' | b'j' | b'g' => {
                    // BINGET, LONG_BINGET, GET
                    let id = self.memo_index(op)?;
                    self.memo_get(id)?
                }
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    let g = resolve_global(&module, &name)?;
                    self.push(Value::Global(g))?
                }
                0x93 => {
                    let name = self.pop()?.v;
                    let module = self.pop()?.v;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => {
                            let g = resolve_global(&m, &n)?;
                            self.push(Value::Global(g))?
                        }
                        _ => return Err(self.err("STACK_GLOBAL needs two strings")),
                    }
                }
                b'R' | 0x81 | 0x92 => {
                    // REDUCE, NEWOBJ (cls.__new__(cls, *args)), NEWOBJ_EX (kwargs ignored)
                    if op == 0x92 {
                        self.pop()?;
                    }
                    let args = self.pop()?;
                    let func = self.pop()?.v;
                    let v = self.call(func, args.v)?;
                    // What a call yields holds at most its arguments' values.
                    self.push_nested(v, args.depth)?
                }
                b'b' => {
                    let state = self.pop()?;
                    self.modify_top(state.depth, |top| build(top, state.v))?
                }
                b'Q' => {
                    let pid = self.pop()?.v;
                    let v = persistent_load(pid).map_err(|r| self.err(r))?;
                    self.push(v)?
                }
                b'P' => return Err(self.err("text persistent ids are not supported")),
                other => {
                    return Err(self.err(format!("opcode 0x{other:02x} is not supported")));
                }
            }
        }
    }

    /// The memo index operand of a PUT or GET: one byte (`q`, `h`), four (`r`, `j`) or a
    /// decimal line (`p`, `g`).
    fn memo_index(&mut self, op: u8) -> Result<u32> {
        match op {
            b'q' | b'h' => Ok(self.u8()? as u32),
            b'r' | b'j' => self.u32(),
            _ => {
                let what = if op == b'p' { "PUT" } else { "GET" };
                let line = self.line()?;
                line.parse()
                    .map_err(|_| self.err(format!("bad {what} index")))
            }
        }
    }

    fn long(&mut self, n: usize) -> Result<Value> {
        if n > 8 {
            return Err(self.err(format!("integer of {n} bytes does not fit in 64 bits")));
        }
        let b = self.take(n)?;
        let mut a = if b.last().is_some_and(|&x| x & 0x80 != 0) {
            [0xffu8; 8]
        } else {
            [0u8; 8]
        };
        a[..n].copy_from_slice(b);
        Ok(Value::Int(i64::from_le_bytes(a)))
    }

    fn call(&self, func: Value, args: Value) -> Result<Value> {
        let g = match func {
            Value::Global(g) => g,
            Value::Opaque(name) => return Ok(Value::Opaque(name)),
            other => return Err(self.err(format!("cannot call a {}", other.kind()))),
        };
        let args = match args {
            Value::Tuple(a) | Value::List(a) => a,
            other => {
                return Err(self.err(format!(
                    "call arguments must be a tuple, got {}",
                    other.kind()
                )));
            }
        };
        match g {
            Global::OrderedDict => Ok(Value::Dict(Dict::default())),
            Global::Namespace => Ok(Value::Namespace(Vec::new())),
            Global::Set => Ok(Value::List(
                args.into_iter()
                    .next()
                    .and_then(|a| a.as_seq().map(|s| s.to_vec()))
                    .unwrap_or_default(),
            )),
            Global::TorchSize => Ok(args.into_iter().next().unwrap_or(Value::Tuple(Vec::new()))),
            Global::RebuildTensor => rebuild_tensor(args).map_err(|r| self.err(r)),
            Global::RebuildParameter => args
                .into_iter()
                .next()
                .filter(|v| matches!(v, Value::Tensor(_)))
                .ok_or_else(|| self.err("_rebuild_parameter without a tensor")),
            Global::StorageClass(_) => Err(self.err("storage classes cannot be called directly")),
            Global::Skipped(name) => Ok(Value::Opaque(name.to_string())),
        }
    }
}

fn pairs(items: Vec<Value>) -> std::result::Result<Vec<(Value, Value)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err("odd number of items for a dict".into());
    }
    let mut it = items.into_iter();
    let mut out = Vec::with_capacity(it.len() / 2);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn append(top: &mut Value, items: Vec<Value>) -> std::result::Result<(), String> {
    match top {
        Value::List(l) => {
            l.extend(items);
            Ok(())
        }
        Value::Opaque(_) => Ok(()),
        other => Err(format!("APPEND to a {}", other.kind())),
    }
}

fn set_items(top: &mut Value, kv: Vec<(Value, Value)>) -> std::result::Result<(), String> {
    match top {
        Value::Dict(d) => {
            for (k, v) in kv {
                d.insert(k, v);
            }
            Ok(())
        }
        Value::Opaque(_) => Ok(()),
        other => Err(format!("SETITEM on a {}", other.kind())),
    }
}

/// `BUILD`: set attributes. Only a namespace takes them; the extra `_metadata` attribute of a
/// state-dict `OrderedDict` and tensor states are ignored.
fn build(top: &mut Value, state: Value) -> std::result::Result<(), String> {
    match (top, state) {
        (Value::Namespace(attrs), Value::Dict(d)) => {
            for (k, v) in d {
                if let Value::Str(k) = k {
                    attrs.push((k, v));
                }
            }
            Ok(())
        }
        (Value::Dict(_) | Value::Tensor(_) | Value::Opaque(_), _) => Ok(()),
        (other, _) => Err(format!("BUILD on a {}", other.kind())),
    }
}
