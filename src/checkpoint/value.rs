//! The plain data a checkpoint pickle decodes to.

/// Deeper values than this are reported as too deep by [`depth`].
const MAX_DEPTH: usize = 256;

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
    Dict(Vec<(Value, Value)>),
    /// `argparse.Namespace`: attribute name → value.
    Namespace(Vec<(String, Value)>),
    Storage(StorageRef),
    Tensor(TensorRef),
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
            Value::Dict(items) => items
                .iter()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v),
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

/// Nesting depth of a value, so callers can reject absurd structures early.
pub fn depth(v: &Value) -> usize {
    fn go(v: &Value, d: usize) -> usize {
        if d > MAX_DEPTH {
            return d;
        }
        match v {
            Value::List(x) | Value::Tuple(x) => x.iter().map(|c| go(c, d + 1)).max().unwrap_or(d),
            Value::Dict(x) => x.iter().map(|(_, c)| go(c, d + 1)).max().unwrap_or(d),
            Value::Namespace(x) => x.iter().map(|(_, c)| go(c, d + 1)).max().unwrap_or(d),
            _ => d,
        }
    }
    go(v, 0)
}
