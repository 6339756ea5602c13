//! A pickle reader that only builds data, like `torch.load(weights_only=True)`.
//!
//! Opcodes that would import or call arbitrary code are interpreted against an allow-list:
//! containers, numbers, strings, tensor/storage rebuild functions and `argparse.Namespace`
//! become plain [`Value`]s; a few known data-only classes that we do not need (numpy scalars,
//! omegaconf nodes) become [`Value::Opaque`]; anything else is refused with
//! [`Error::DisallowedClass`]. Nothing is ever executed.
//!
//! A hostile file cannot make it run long or build much: every value it creates or copies, and
//! every MARK it pushes, is charged to a node budget proportional to the pickle's size (with a
//! hard ceiling), nesting is tracked as values are built (so neither dropping nor hashing a
//! value can overflow the call stack), dicts are hashed, and the caller can cancel between
//! opcodes.

mod run;
#[cfg(test)]
mod tests;

pub use super::value::{Dict, Global, StorageDType, StorageRef, TensorRef, Value};
use crate::error::{Error, Result};
use std::collections::HashMap;

/// torch pickles keep at most ~2000 items on the stack (batches of 1000) and nest a few levels.
const MAX_STACK: usize = 20_000;
const MAX_MEMO: usize = 1 << 22;
const MAX_NESTING: u32 = 64;
/// Values (and marks) a pickle may create or copy: a floor plus a few per byte, never more
/// than a ceiling. A real checkpoint creates about one value per 8 bytes of pickle (a full FFHQ
/// training checkpoint with g, d, g_ema and both optimisers' state: about 100 000).
const NODES_FLOOR: usize = 256 << 10;
const NODES_PER_BYTE: usize = 4;
const NODES_CEILING: usize = 1 << 20;
/// Opcodes between two calls of the caller's keep-going check.
const CHECK_EVERY: usize = 1 << 16;

/// Decodes `data` into a [`Value`]; storages come back as references (`BINPERSID`).
pub fn unpickle(data: &[u8]) -> Result<Value> {
    unpickle_with(data, &mut |_, _| true)
}

/// Like [`unpickle`], calling `keep_going(bytes read, bytes in total)` every few thousand
/// opcodes; returning `false` stops with [`Error::Cancelled`].
pub fn unpickle_with(
    data: &[u8],
    keep_going: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<Value> {
    Machine::new(data).run(keep_going)
}

/// A value on the stack: how deeply it nests, and the memo id it was stored under (while it
/// stays on the stack, the memo refers to it here instead of holding a copy).
struct Slot {
    v: Value,
    depth: u32,
    memo: Option<u32>,
}

enum Item {
    Mark,
    Val(Slot),
}

enum Memo {
    Stored(Value, u32),
    /// The value is the stack item at this index.
    Live(usize),
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Item>,
    memo: HashMap<u32, Memo>,
    /// Values that may still be created or copied.
    nodes_left: usize,
}

impl<'a> Machine<'a> {
    fn new(data: &'a [u8]) -> Self {
        let budget = NODES_FLOOR.saturating_add(data.len().saturating_mul(NODES_PER_BYTE));
        Self {
            data,
            pos: 0,
            stack: Vec::new(),
            memo: HashMap::new(),
            nodes_left: budget.min(NODES_CEILING),
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

    fn spend(&mut self, nodes: usize) -> Result<()> {
        self.nodes_left = self.nodes_left.checked_sub(nodes).ok_or_else(|| {
            self.err("the pickle builds more values than its size allows for a checkpoint")
        })?;
        Ok(())
    }

    /// Pushes a value made of `depth` levels of containers.
    fn push_nested(&mut self, v: Value, depth: u32) -> Result<()> {
        if self.stack.len() >= MAX_STACK {
            return Err(self.err("stack too deep"));
        }
        if depth > MAX_NESTING {
            return Err(self.err("values are nested too deeply"));
        }
        self.spend(1)?;
        self.stack.push(Item::Val(Slot {
            v,
            depth,
            memo: None,
        }));
        Ok(())
    }

    /// Pushes a scalar (or a value that holds no other pickle values).
    fn push(&mut self, v: Value) -> Result<()> {
        self.push_nested(v, 0)
    }

    #[inline]
    fn push_mark(&mut self) -> Result<()> {
        if self.stack.len() >= MAX_STACK {
            return Err(self.err("stack too deep"));
        }
        // Charged like a value, so that mark churn cannot run for the whole of a large file.
        self.spend(1)?;
        self.stack.push(Item::Mark);
        Ok(())
    }

    fn pop(&mut self) -> Result<Slot> {
        match self.stack.pop() {
            Some(Item::Val(s)) => {
                self.retire(self.stack.len(), &s)?;
                Ok(s)
            }
            Some(Item::Mark) => Err(self.err("unexpected MARK on the stack")),
            None => Err(self.err("stack underflow")),
        }
    }

    /// `POP`: drops the top item, mark or value.
    fn discard(&mut self) -> Result<()> {
        match self.stack.last() {
            Some(Item::Mark) => {
                self.stack.pop();
                Ok(())
            }
            Some(Item::Val(_)) => self.pop().map(drop),
            None => Err(self.err("POP on empty stack")),
        }
    }

    /// Pops everything above the topmost MARK (and the mark itself).
    #[inline]
    fn pop_mark(&mut self) -> Result<Vec<Slot>> {
        // An empty mark on top (empty tuples, churn in hostile files): no scan, no copies.
        if matches!(self.stack.last(), Some(Item::Mark)) {
            self.stack.pop();
            return Ok(Vec::new());
        }
        let at = self
            .stack
            .iter()
            .rposition(|i| matches!(i, Item::Mark))
            .ok_or_else(|| self.err("no MARK on the stack"))?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            if let Item::Val(s) = item {
                self.retire(at + 1 + i, &s)?;
                out.push(s);
            }
        }
        Ok(out)
    }

    /// A value leaves the stack: if the memo refers to it there, the memo keeps a copy now
    /// (one copy per memoised value, however often it was modified on the stack).
    fn retire(&mut self, index: usize, s: &Slot) -> Result<()> {
        if let Some(id) = s.memo
            && matches!(self.memo.get(&id), Some(Memo::Live(i)) if *i == index)
        {
            self.spend(count_nodes(&s.v))?;
            self.memo.insert(id, Memo::Stored(s.v.clone(), s.depth));
        }
        Ok(())
    }

    /// Changes the top value (a container) in place; `child_depth` is the depth of the
    /// deepest value put into it.
    fn modify_top(
        &mut self,
        child_depth: u32,
        f: impl FnOnce(&mut Value) -> std::result::Result<(), String>,
    ) -> Result<()> {
        let pos = self.pos;
        let Some(Item::Val(s)) = self.stack.last_mut() else {
            return Err(self.err("expected a container on the stack"));
        };
        f(&mut s.v).map_err(|r| Error::pickle(pos, r))?;
        s.depth = s.depth.max(child_depth + 1);
        if s.depth > MAX_NESTING {
            return Err(self.err("values are nested too deeply"));
        }
        Ok(())
    }

    fn memo_put(&mut self, id: u32) -> Result<()> {
        if self.memo.len() >= MAX_MEMO {
            return Err(self.err("memo too large"));
        }
        let index = self.stack.len().wrapping_sub(1);
        let old = match self.stack.last() {
            Some(Item::Val(s)) => s.memo,
            _ => return Err(self.err("PUT with an empty stack")),
        };
        if let Some(old) = old.filter(|&o| o != id)
            && matches!(self.memo.get(&old), Some(Memo::Live(i)) if *i == index)
            && let Some(Item::Val(s)) = self.stack.last()
        {
            // Stored twice under different ids: the older id keeps a copy.
            let (v, d) = (s.v.clone(), s.depth);
            self.spend(count_nodes(&v))?;
            self.memo.insert(old, Memo::Stored(v, d));
        }
        if let Some(Item::Val(s)) = self.stack.last_mut() {
            s.memo = Some(id);
        }
        self.memo.insert(id, Memo::Live(index));
        Ok(())
    }

    fn memo_get(&mut self, id: u32) -> Result<()> {
        let (v, depth) = match self.memo.get(&id) {
            Some(Memo::Stored(v, d)) => (v, *d),
            Some(Memo::Live(i)) => match self.stack.get(*i) {
                Some(Item::Val(s)) => (&s.v, s.depth),
                _ => return Err(self.err("memo refers to a lost stack item")),
            },
            None => return Err(self.err(format!("memo key {id} was never stored"))),
        };
        let nodes = count_nodes(v);
        let v = v.clone();
        self.spend(nodes)?;
        self.push_nested(v, depth)
    }

    /// `DUP`: a copy of the top value.
    fn dup(&mut self) -> Result<()> {
        let (v, depth) = match self.stack.last() {
            Some(Item::Val(s)) => (s.v.clone(), s.depth),
            _ => return Err(self.err("DUP on empty stack")),
        };
        self.spend(count_nodes(&v))?;
        self.push_nested(v, depth)
    }
}

/// Values in `v`, itself included (the cost of copying it).
fn count_nodes(v: &Value) -> usize {
    let mut nodes = 0usize;
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        nodes += 1;
        match v {
            Value::List(x) | Value::Tuple(x) => todo.extend(x.iter()),
            Value::Dict(x) => todo.extend(x.iter().flat_map(|(k, c)| [k, c])),
            Value::Namespace(x) => todo.extend(x.iter().map(|(_, c)| c)),
            _ => {}
        }
    }
    nodes
}
