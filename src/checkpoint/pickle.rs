//! A pickle reader that only builds data, like `torch.load(weights_only=True)`.
//!
//! Opcodes that would import or call arbitrary code are interpreted against an allow-list:
//! containers, numbers, strings, tensor/storage rebuild functions and `argparse.Namespace`
//! become plain [`Value`]s; a few known data-only classes that we do not need (numpy scalars,
//! omegaconf nodes) become [`Value::Opaque`]; anything else is refused with
//! [`Error::DisallowedClass`]. Nothing is ever executed.

use super::allow_list::{persistent_load, rebuild_tensor, resolve_global};
pub use super::value::{Global, StorageDType, StorageRef, TensorRef, Value, depth};
use crate::error::{Error, Result};
use std::collections::HashMap;

/// Upper bounds that keep a hostile file from exhausting memory, time or the call stack.
/// torch pickles keep at most ~2000 items on the stack (batches of 1000) and nest a few levels.
const MAX_STACK: usize = 20_000;
const MAX_MEMO: usize = 1 << 22;
const MAX_NESTING: usize = 64;
/// Values copied by memo and DUP operations, in nodes per byte of pickle (plus a floor):
/// stops quadratic blow-ups from a small file that re-reads one large value many times.
const COPY_BUDGET_PER_BYTE: usize = 16;

/// Decodes `data` into a [`Value`]; storages come back as references (`BINPERSID`).
pub fn unpickle(data: &[u8]) -> Result<Value> {
    Machine::new(data).run()
}

enum Item {
    Mark,
    Val(Value, Option<u32>),
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Item>,
    memo: HashMap<u32, Value>,
    /// Nodes that memo/DUP copies may still make.
    copy_budget: usize,
}

impl<'a> Machine<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            stack: Vec::new(),
            memo: HashMap::new(),
            copy_budget: data.len().saturating_mul(COPY_BUDGET_PER_BYTE).max(1 << 20),
        }
    }

    fn err(&self, reason: impl Into<String>) -> Error {
        Error::pickle(self.pos, reason)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| self.err(format!("unexpected end of data (wanted {n} bytes)")))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn line(&mut self) -> Result<&'a str> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or_else(|| self.err("unterminated text line"))?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| self.err("line is not UTF-8"))?;
        self.pos += n + 1;
        Ok(s)
    }
    fn utf8(&mut self, n: usize) -> Result<String> {
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.err("string is not valid UTF-8"))
    }

    fn push(&mut self, v: Value) -> Result<()> {
        if self.stack.len() >= MAX_STACK {
            return Err(self.err("stack too deep"));
        }
        self.stack.push(Item::Val(v, None));
        Ok(())
    }

    fn pop(&mut self) -> Result<Value> {
        match self.stack.pop() {
            Some(Item::Val(v, _)) => Ok(v),
            Some(Item::Mark) => Err(self.err("unexpected MARK on the stack")),
            None => Err(self.err("stack underflow")),
        }
    }

    /// Pops everything above the topmost MARK (and the mark itself).
    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let at = self
            .stack
            .iter()
            .rposition(|i| matches!(i, Item::Mark))
            .ok_or_else(|| self.err("no MARK on the stack"))?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items
            .into_iter()
            .filter_map(|i| match i {
                Item::Val(v, _) => Some(v),
                Item::Mark => None,
            })
            .collect())
    }

    /// Charges a copy of `v` to the copy budget, refusing values nested too deeply.
    fn charge(pos: usize, budget: &mut usize, v: &Value) -> Result<()> {
        let mut nodes = 0usize;
        let mut todo = vec![(v, 0usize)];
        while let Some((v, depth)) = todo.pop() {
            if depth > MAX_NESTING {
                return Err(Error::pickle(pos, "values are nested too deeply"));
            }
            nodes += 1;
            match v {
                Value::List(x) | Value::Tuple(x) => todo.extend(x.iter().map(|c| (c, depth + 1))),
                Value::Dict(x) => {
                    todo.extend(x.iter().flat_map(|(k, c)| [(k, depth + 1), (c, depth + 1)]))
                }
                Value::Namespace(x) => todo.extend(x.iter().map(|(_, c)| (c, depth + 1))),
                _ => {}
            }
        }
        *budget = budget.checked_sub(nodes).ok_or_else(|| {
            Error::pickle(pos, "the pickle copies more data than its size allows")
        })?;
        Ok(())
    }

    /// Mutates the top value in place and keeps a memoised copy in sync.
    fn modify_top(&mut self, f: impl FnOnce(&mut Value) -> Result<()>) -> Result<()> {
        let pos = self.pos;
        match self.stack.last_mut() {
            Some(Item::Val(v, memo_id)) => {
                f(v)?;
                if let Some(id) = memo_id {
                    Self::charge(pos, &mut self.copy_budget, v)?;
                    self.memo.insert(*id, v.clone());
                }
                Ok(())
            }
            _ => Err(Error::pickle(pos, "expected a container on the stack")),
        }
    }

    fn memo_put(&mut self, id: u32) -> Result<()> {
        if self.memo.len() >= MAX_MEMO {
            return Err(self.err("memo too large"));
        }
        let pos = self.pos;
        match self.stack.last_mut() {
            Some(Item::Val(v, memo_id)) => {
                Self::charge(pos, &mut self.copy_budget, v)?;
                *memo_id = Some(id);
                self.memo.insert(id, v.clone());
                Ok(())
            }
            _ => Err(Error::pickle(pos, "PUT with an empty stack")),
        }
    }

    fn memo_get(&mut self, id: u32) -> Result<()> {
        let pos = self.pos;
        let v = self
            .memo
            .get(&id)
            .ok_or_else(|| self.err(format!("memo key {id} was never stored")))?;
        Self::charge(pos, &mut self.copy_budget, v)?;
        let v = v.clone();
        self.push(v)
    }

    fn run(mut self) -> Result<Value> {
        loop {
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
                b'.' => return self.pop(),
                b'(' => self.stack.push(Item::Mark),
                b'0' => {
                    self.stack
                        .pop()
                        .ok_or_else(|| self.err("POP on empty stack"))?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let pos = self.pos;
                    let top = match self.stack.last() {
                        Some(Item::Val(v, _)) => {
                            Self::charge(pos, &mut self.copy_budget, v)?;
                            v.clone()
                        }
                        _ => return Err(self.err("DUP on empty stack")),
                    };
                    self.push(top)?;
                }
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
                b'}' => self.push(Value::Dict(Vec::new()))?,
                b']' => self.push(Value::List(Vec::new()))?,
                b')' => self.push(Value::Tuple(Vec::new()))?,
                0x8f => self.push(Value::List(Vec::new()))?, // EMPTY_SET, read as a list
                b'd' => {
                    let items = self.pop_mark()?;
                    let d = pairs(items).map_err(|r| self.err(r))?;
                    self.push(Value::Dict(d))?
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Value::List(items))?
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(items))?
                }
                0x91 => {
                    // FROZENSET
                    let items = self.pop_mark()?;
                    self.push(Value::List(items))?
                }
                0x85 => {
                    let a = self.pop()?;
                    self.push(Value::Tuple(vec![a]))?
                }
                0x86 => {
                    let b = self.pop()?;
                    let a = self.pop()?;
                    self.push(Value::Tuple(vec![a, b]))?
                }
                0x87 => {
                    let c = self.pop()?;
                    let b = self.pop()?;
                    let a = self.pop()?;
                    self.push(Value::Tuple(vec![a, b, c]))?
                }
                b'a' => {
                    let v = self.pop()?;
                    self.modify_top(|top| append(top, vec![v]))?
                }
                b'e' | 0x90 => {
                    // APPENDS / ADDITEMS
                    let items = self.pop_mark()?;
                    self.modify_top(|top| append(top, items))?
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.modify_top(|top| set_items(top, vec![(k, v)]))?
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let kv = pairs(items).map_err(|r| self.err(r))?;
                    self.modify_top(|top| set_items(top, kv))?
                }
                b'q' => {
                    let id = self.u8()? as u32;
                    self.memo_put(id)?
                }
                b'r' => {
                    let id = self.u32()?;
                    self.memo_put(id)?
                }
                b'p' => {
                    let id = self
                        .line()?
                        .parse()
                        .map_err(|_| self.err("bad PUT index"))?;
                    self.memo_put(id)?
                }
                0x94 => {
                    // MEMOIZE
                    let id = self.memo.len() as u32;
                    self.memo_put(id)?
                }
                b'h' => {
                    let id = self.u8()? as u32;
                    self.memo_get(id)?
                }
                b'j' => {
                    let id = self.u32()?;
                    self.memo_get(id)?
                }
                b'g' => {
                    let id = self
                        .line()?
                        .parse()
                        .map_err(|_| self.err("bad GET index"))?;
                    self.memo_get(id)?
                }
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    let g = resolve_global(&module, &name)?;
                    self.push(Value::Global(g))?
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => {
                            let g = resolve_global(&m, &n)?;
                            self.push(Value::Global(g))?
                        }
                        _ => return Err(self.err("STACK_GLOBAL needs two strings")),
                    }
                }
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = self.call(func, args)?;
                    self.push(v)?
                }
                0x81 => {
                    // NEWOBJ: cls.__new__(cls, *args)
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.call(cls, args)?;
                    self.push(v)?
                }
                0x92 => {
                    // NEWOBJ_EX
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.call(cls, args)?;
                    self.push(v)?
                }
                b'b' => {
                    let state = self.pop()?;
                    self.modify_top(|top| build(top, state))?
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = persistent_load(pid).map_err(|r| self.err(r))?;
                    self.push(v)?
                }
                b'P' => return Err(self.err("text persistent ids are not supported")),
                other => {
                    return Err(self.err(format!("opcode 0x{other:02x} is not supported")));
                }
            }
            if self.stack.len() > MAX_STACK {
                return Err(self.err("stack too deep"));
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
            Global::OrderedDict => Ok(Value::Dict(Vec::new())),
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
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn append(top: &mut Value, items: Vec<Value>) -> Result<()> {
    match top {
        Value::List(l) => {
            l.extend(items);
            Ok(())
        }
        Value::Opaque(_) => Ok(()),
        other => Err(Error::pickle(0, format!("APPEND to a {}", other.kind()))),
    }
}

fn set_items(top: &mut Value, kv: Vec<(Value, Value)>) -> Result<()> {
    match top {
        Value::Dict(d) => {
            for (k, v) in kv {
                if let Some(slot) = d.iter_mut().find(|(ek, _)| *ek == k) {
                    slot.1 = v;
                } else {
                    d.push((k, v));
                }
            }
            Ok(())
        }
        Value::Opaque(_) => Ok(()),
        other => Err(Error::pickle(0, format!("SETITEM on a {}", other.kind()))),
    }
}

/// `BUILD`: set attributes. Only a namespace takes them; the extra `_metadata` attribute of a
/// state-dict `OrderedDict` and tensor states are ignored.
fn build(top: &mut Value, state: Value) -> Result<()> {
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
        (other, _) => Err(Error::pickle(0, format!("BUILD on a {}", other.kind()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_os_system() {
        // pickle.dumps of a class that calls os.system on load
        let data = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.";
        match unpickle(data) {
            Err(Error::DisallowedClass { module, name }) => {
                assert_eq!((module.as_str(), name.as_str()), ("posix", "system"))
            }
            other => panic!("expected DisallowedClass, got {other:?}"),
        }
    }

    #[test]
    fn reads_nested_containers_and_memo() {
        // {'a': [1, 2.5, 'x'], 'b': <same list>}
        let data = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03eX\x01\x00\x00\x00bq\x04h\x02u.";
        let v = unpickle(data).unwrap();
        let expected = Value::List(vec![
            Value::Int(1),
            Value::Float(2.5),
            Value::Str("x".into()),
        ]);
        assert_eq!(v.get("a"), Some(&expected));
        assert_eq!(v.get("b"), Some(&expected));
    }

    #[test]
    fn deep_nesting_and_copy_bombs_are_refused_quickly() {
        // x = []; repeat: x = [x] via memo (PUT 0 / GET 0): nesting grows without stack growth.
        let mut deep = b"\x80\x02]q\x00".to_vec();
        for _ in 0..100_000 {
            deep.extend(b"]h\x00aq\x00");
        }
        deep.push(b'.');
        let t = std::time::Instant::now();
        assert!(matches!(unpickle(&deep), Err(Error::Pickle { .. })));
        // A 1000-element list re-read from the memo many times.
        let mut wide = b"\x80\x02](".to_vec();
        for _ in 0..1000 {
            wide.extend(b"K\x01");
        }
        wide.extend(b"eq\x00](");
        for _ in 0..200_000 {
            wide.extend(b"h\x00");
        }
        wide.extend(b"e.");
        assert!(matches!(unpickle(&wide), Err(Error::Pickle { .. })));
        // Nesting on the stack alone is bounded by the stack limit.
        let mut stacked = b"\x80\x02".to_vec();
        stacked.extend(std::iter::repeat_n(b']', 30_000));
        stacked.push(b'.');
        assert!(matches!(unpickle(&stacked), Err(Error::Pickle { .. })));
        assert!(t.elapsed().as_secs() < 5, "took {:?}", t.elapsed());
    }

    #[test]
    fn truncated_input_is_an_error() {
        let data = b"\x80\x02}q\x00(X\x01\x00\x00";
        assert!(matches!(unpickle(data), Err(Error::Pickle { .. })));
    }
}
