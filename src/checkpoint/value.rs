//! The plain data a checkpoint pickle decodes to.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::{BuildHasher, Hash, Hasher};

/// A reference to a storage blob inside the checkpoint archive (`data/<key>`).
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    pub key: String,
    pub dtype: StorageDType,
    pub numel: usize,
}

/// Element types of torch storages that we can convert to `f32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageDType {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl StorageDType {
    pub(super) fn from_class(name: &str) -> Option<Self> {
        Some(match name {
            "FloatStorage" => Self::F32,
            "DoubleStorage" => Self::F64,
            "HalfStorage" => Self::F16,
            "BFloat16Storage" => Self::BF16,
            "LongStorage" => Self::I64,
            "IntStorage" => Self::I32,
            "ShortStorage" => Self::I16,
            "CharStorage" => Self::I8,
            "ByteStorage" => Self::U8,
            "BoolStorage" => Self::Bool,
            _ => return None,
        })
    }

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 => 8,
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::BF16 | Self::I16 => 2,
            Self::I8 | Self::U8 | Self::Bool => 1,
        }
    }
}

/// A strided view of a storage, as produced by `torch._utils._rebuild_tensor_v2`.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    pub storage: StorageRef,
    pub offset: usize,
    pub shape: Vec<usize>,
    pub stride: Vec<usize>,
}

/// Plain data decoded from a pickle.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Dicts and `OrderedDict`s, in insertion order.
    Dict(Dict),
    /// `argparse.Namespace`: attribute name → value.
    Namespace(Vec<(String, Value)>),
    Storage(StorageRef),
    /// Boxed: the largest variant, and files hold far more small values than tensors.
    Tensor(Box<TensorRef>),
    /// An allow-listed class or function reference (before it is called).
    Global(Global),
    /// A known data-only object we skip (e.g. a numpy scalar); the string names its class.
    Opaque(String),
}

/// Allow-listed callables and classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Global {
    OrderedDict,
    RebuildTensor,
    RebuildParameter,
    StorageClass(StorageDType),
    Namespace,
    TorchSize,
    /// `builtins.set` / `frozenset`, read as lists.
    Set,
    /// A skipped class (`Value::Opaque` is what calling it yields).
    Skipped(&'static str),
}

impl Value {
    /// Looks a key up in a dict or an attribute in a namespace.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.get(key),
            Value::Namespace(items) => items.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// Items of a list or tuple.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Tuple(v) => Some(v),
            _ => None,
        }
    }

    /// A short name of the variant, for error messages.
    pub fn kind(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float".into(),
            Value::Str(_) => "str".into(),
            Value::Bytes(_) => "bytes".into(),
            Value::List(_) => "list".into(),
            Value::Tuple(_) => "tuple".into(),
            Value::Dict(_) => "dict".into(),
            Value::Namespace(_) => "argparse.Namespace".into(),
            Value::Storage(_) => "storage".into(),
            Value::Tensor(_) => "tensor".into(),
            Value::Global(g) => format!("{g:?}"),
            Value::Opaque(name) => name.clone(),
        }
    }
}

/// A dict in insertion order with a hash index over its keys, so that building one from a
/// file (one SETITEM per key) and looking keys up cost constant time per key, however many
/// keys a file declares. A key set twice keeps its first position and its last value, as in
/// Python.
#[derive(Debug, Clone, Default)]
pub struct Dict(Box<DictInner>);

/// Boxed behind [`Dict`] so that a [`Value`] stays small.
#[derive(Debug, Clone, Default)]
struct DictInner {
    items: Vec<(Value, Value)>,
    /// (hash, position in `items`) of each hashable key: keys are not copied, and growing
    /// the index re-reads no key (a hostile file's million keys cost 16 bytes each here).
    index: HashTable<(u64, usize)>,
    hasher: DefaultHashBuilder,
}

/// The hashable view of a key. Python's `True == 1 == 1.0` holds here too; a key with no
/// hashable form (a tensor, a list, NaN) never equals another, so it is only appended.
#[derive(PartialEq)]
enum Key<'a> {
    Nil,
    Int(i64),
    Float(u64),
    Str(&'a str),
    Bytes(&'a [u8]),
    Tuple(Vec<Key<'a>>),
}

impl<'a> Key<'a> {
    /// `None` for unhashable keys. Recursion is bounded: the unpickler refuses values nested
    /// deeper than a small limit before they reach a dict.
    fn of(v: &'a Value) -> Option<Key<'a>> {
        Some(match v {
            Value::None => Key::Nil,
            Value::Bool(b) => Key::Int(*b as i64),
            Value::Int(i) => Key::Int(*i),
            Value::Float(f) if f.is_nan() => return None,
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Key::Int(*f as i64),
            Value::Float(f) => Key::Float(f.to_bits()),
            Value::Str(s) => Key::Str(s),
            Value::Bytes(b) => Key::Bytes(b),
            Value::Tuple(t) => Key::Tuple(t.iter().map(Key::of).collect::<Option<_>>()?),
            _ => return None,
        })
    }
}

impl Hash for Key<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        std::mem::discriminant(self).hash(h);
        match self {
            Key::Nil => {}
            Key::Int(i) => i.hash(h),
            Key::Float(f) => f.hash(h),
            Key::Str(s) => s.hash(h),
            Key::Bytes(b) => b.hash(h),
            Key::Tuple(t) => t.hash(h),
        }
    }
}

impl PartialEq for Dict {
    fn eq(&self, other: &Self) -> bool {
        self.0.items == other.0.items
    }
}

impl DictInner {
    /// The position of the entry whose key, of hash `hash`, equals `key`.
    fn find(&self, hash: u64, key: &Key) -> Option<usize> {
        let same =
            |&(h, i): &(u64, usize)| h == hash && Key::of(&self.items[i].0).as_ref() == Some(key);
        self.index.find(hash, same).map(|&(_, i)| i)
    }
}

impl Dict {
    /// Sets `key` to `value`: replaces the value of an equal key, appends a new one.
    pub fn insert(&mut self, key: Value, value: Value) {
        let d = &mut *self.0;
        let Some(k) = Key::of(&key) else {
            d.items.push((key, value));
            return;
        };
        let hash = d.hasher.hash_one(&k);
        if let Some(i) = d.find(hash, &k) {
            d.items[i].1 = value;
            return;
        }
        d.index
            .insert_unique(hash, (hash, d.items.len()), |&(h, _)| h);
        d.items.push((key, value));
    }

    /// The value of a string key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let key = Key::Str(key);
        let hash = self.0.hasher.hash_one(&key);
        self.0.find(hash, &key).map(|i| &self.0.items[i].1)
    }

    pub fn len(&self) -> usize {
        self.0.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.items.is_empty()
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> std::slice::Iter<'_, (Value, Value)> {
        self.0.items.iter()
    }
}

impl FromIterator<(Value, Value)> for Dict {
    fn from_iter<I: IntoIterator<Item = (Value, Value)>>(iter: I) -> Self {
        let mut d = Dict::default();
        for (k, v) in iter {
            d.insert(k, v);
        }
        d
    }
}

impl IntoIterator for Dict {
    type Item = (Value, Value);
    type IntoIter = std::vec::IntoIter<(Value, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Dict {
    type Item = &'a (Value, Value);
    type IntoIter = std::slice::Iter<'a, (Value, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.items.iter()
    }
}
