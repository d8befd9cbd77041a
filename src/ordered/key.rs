//! The native key model of the ordered containers: the common Python key types, ordered as
//! Python orders them.
//!
//! * `None`, `Bool`, `Int`, `Float`, `Str`, `Bytes` and `Tuple` mirror Python's `None`, `bool`,
//!   `int` (64-bit here), `float`, `str`, `bytes` and `tuple`.
//! * Numbers (bool, int, float) compare with each other exactly, as Python does: `1 == 1.0 ==
//!   True`, `2**53 + 1 > 2.0**53`, no rounding through `f64`.
//! * `str` compares by code point (UTF-8 byte order is code point order), `bytes` unsigned
//!   lexicographically, tuples element by element (the first unequal pair decides, a shorter
//!   prefix sorts first), as Python's tuple comparison.
//! * `None` equals `None` (so `(None, 1) < (None, 2)` works, as in Python) and is comparable with
//!   nothing else.
//! * Any other pair is incomparable: [`Key::try_cmp`] returns [`Incomparable::Types`] whose
//!   message is Python's (`'<' not supported between instances of 'str' and 'int'`).
//! * **NaN** (alone or inside a tuple): in Python every comparison with NaN is false, which is
//!   not an order. The containers refuse NaN keys: every operation given one returns
//!   [`Incomparable::NaN`] (see [`OrderedKey::validate`]) and changes nothing; `try_cmp` with a
//!   NaN operand returns the same error.
//!
//! The containers are generic over [`OrderedKey`] (a fallible total order), implemented here for
//! [`Key`], `i64`, `f64`, `String` and `Vec<u8>`; a facade can implement it for its own key type
//! (for example one that calls back into the host language for other comparable objects).

use std::cmp::Ordering;
use std::fmt;

/// A key of the ordered containers (see the module documentation for its order).
#[derive(Debug, Clone)]
pub enum Key {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Key>),
}

/// Why two keys cannot be ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incomparable {
    /// The types have no order between them (Python raises `TypeError`). `left` and `right` are
    /// Python's type names, `left` being the key given to the operation when a container
    /// compares.
    Types {
        left: &'static str,
        right: &'static str,
    },
    /// A float NaN, which has no place in an order (Python: `ValueError` is the natural mapping).
    NaN,
    /// A custom [`OrderedKey`] implementation's failure, with its message.
    Custom(String),
}

impl fmt::Display for Incomparable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Incomparable::Types { left, right } => write!(
                f,
                "'<' not supported between instances of '{left}' and '{right}'"
            ),
            Incomparable::NaN => f.write_str(
                "NaN cannot be used as a key: it is unordered (every comparison with it is false)",
            ),
            Incomparable::Custom(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Incomparable {}

impl From<Incomparable> for crate::error::Error {
    fn from(e: Incomparable) -> Self {
        crate::error::Error::InvalidArgument(e.to_string())
    }
}

/// A batch operation (`insert_many`, `get_many`) stopped at item `index`. For `insert_many` the
/// items before `index` were applied and the others were not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    pub index: usize,
    pub error: Incomparable,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "item {}: {}", self.index, self.error)
    }
}

impl std::error::Error for BatchError {}

impl From<BatchError> for crate::error::Error {
    fn from(e: BatchError) -> Self {
        crate::error::Error::InvalidArgument(e.to_string())
    }
}

/// A key type with a fallible total order, as the containers need it.
///
/// Contract: on the keys for which `validate` succeeds, `try_cmp` must behave as a total order
/// on each set of mutually comparable keys (antisymmetric, transitive), and comparability must
/// be transitive along chains (`a < b < c` implies that `a` and `c` are comparable). Python's
/// ordering of the native types has these properties.
pub trait OrderedKey {
    /// Orders `self` relative to `other`.
    fn try_cmp(&self, other: &Self) -> Result<Ordering, Incomparable>;

    /// Refuses keys that may never enter a container (NaN for the float-like keys). Called
    /// once per operation on the key given to it.
    fn validate(&self) -> Result<(), Incomparable> {
        Ok(())
    }

    /// An optional 128-bit summary of the key that decides most comparisons without touching
    /// the key (the B+ tree keeps one next to every key). Default: none (0).
    #[inline]
    fn prefix(&self) -> Prefix {
        0
    }

    /// The order of two keys from their prefixes alone, when these decide it; `None` means
    /// "compare the keys". It must agree with `try_cmp`, and decide only pairs of keys that
    /// are comparable.
    #[inline]
    fn cmp_prefix(_a: Prefix, _b: Prefix) -> Option<Ordering> {
        None
    }

    /// [`cmp_prefix`](Self::cmp_prefix) of two prefixes whose high 64 bits differ, from those
    /// alone (the hot step of a search).
    #[inline]
    fn cmp_prefix_high(a: u64, b: u64) -> Option<Ordering> {
        Self::cmp_prefix((a as Prefix) << 64, (b as Prefix) << 64)
    }
}

/// A key's summary for the B+ tree's searches ([`OrderedKey::prefix`]).
pub type Prefix = u128;

/// `Key` prefixes: 3 class bits (none, number, str, bytes, tuple) above a 125-bit summary that
/// is monotone in the key within its class (equal keys have equal prefixes). Numbers: the
/// value rounded to f64, as order-preserving bits; str and bytes: the first 15 bytes (keys
/// such as `user:0000012345` share their first 7). Two prefixes decide only within a class
/// whose members are all mutually comparable (so never for tuples, whose summary is constant)
/// and only when they differ.
const CLASS_SHIFT: u32 = 125;
const CLASS_NONE: Prefix = 0;
const CLASS_NUMBER: Prefix = 1;
const CLASS_STR: Prefix = 2;
const CLASS_BYTES: Prefix = 3;
const CLASS_TUPLE: Prefix = 4;
/// Bytes of a str or bytes key in its prefix.
const PREFIX_BYTES: usize = 15;

fn number_prefix(x: f64) -> Prefix {
    let x = if x == 0.0 { 0.0 } else { x }; // -0.0 == 0.0
    let bits = x.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    };
    (CLASS_NUMBER << CLASS_SHIFT) | ((ordered as Prefix) << (CLASS_SHIFT - 64))
}

/// `a.cmp(b)` (lexicographic bytes; for UTF-8, code point order), eight bytes at a time inline:
/// keys that share their first bytes (`user:0000…`) are compared in full on every step of a
/// search, where a call into `memcmp` per comparison measured a fifth of a lookup.
#[inline]
fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    let (mut ca, mut cb) = (a[..n].chunks_exact(8), b[..n].chunks_exact(8));
    for (x, y) in (&mut ca).zip(&mut cb) {
        let x = u64::from_be_bytes(x.try_into().unwrap());
        let y = u64::from_be_bytes(y.try_into().unwrap());
        if x != y {
            return x.cmp(&y);
        }
    }
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

fn bytes_prefix(class: Prefix, b: &[u8]) -> Prefix {
    let mut p = [0u8; 16];
    let n = b.len().min(PREFIX_BYTES);
    p[1..1 + n].copy_from_slice(&b[..n]);
    (class << CLASS_SHIFT) | Prefix::from_be_bytes(p)
}

impl Key {
    /// Python's name of this key's type (`'NoneType'`, `'bool'`, `'int'`, `'float'`, `'str'`,
    /// `'bytes'`, `'tuple'`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Key::None => "NoneType",
            Key::Bool(_) => "bool",
            Key::Int(_) => "int",
            Key::Float(_) => "float",
            Key::Str(_) => "str",
            Key::Bytes(_) => "bytes",
            Key::Tuple(_) => "tuple",
        }
    }

    /// A tuple key.
    pub fn tuple(items: impl IntoIterator<Item = Key>) -> Key {
        Key::Tuple(items.into_iter().collect())
    }

    /// True when the key (or an element of it) is a float NaN.
    pub fn contains_nan(&self) -> bool {
        match self {
            Key::Float(f) => f.is_nan(),
            Key::Tuple(items) => items.iter().any(Key::contains_nan),
            _ => false,
        }
    }

    /// Structural identity: the same variant holding the same value (floats bit for bit).
    /// Unlike `==`, `Int(1)` and `Float(1.0)` are not identical; the containers keep the
    /// original key when an equal one is inserted, and this tells them apart.
    pub fn is_identical(&self, other: &Key) -> bool {
        match (self, other) {
            (Key::None, Key::None) => true,
            (Key::Bool(a), Key::Bool(b)) => a == b,
            (Key::Int(a), Key::Int(b)) => a == b,
            (Key::Float(a), Key::Float(b)) => a.to_bits() == b.to_bits(),
            (Key::Str(a), Key::Str(b)) => a == b,
            (Key::Bytes(a), Key::Bytes(b)) => a == b,
            (Key::Tuple(a), Key::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.is_identical(y))
            }
            _ => false,
        }
    }

    /// Python's ordering of `self` relative to `other` (see the module documentation).
    pub fn try_cmp(&self, other: &Key) -> Result<Ordering, Incomparable> {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => Ok(a.cmp(b)),
            (Key::Str(a), Key::Str(b)) => Ok(cmp_bytes(a.as_bytes(), b.as_bytes())),
            (Key::Bytes(a), Key::Bytes(b)) => Ok(cmp_bytes(a, b)),
            (Key::Float(a), Key::Float(b)) => a.partial_cmp(b).ok_or(Incomparable::NaN),
            (Key::Int(a), Key::Float(b)) => cmp_int_float(*a, *b),
            (Key::Float(a), Key::Int(b)) => cmp_int_float(*b, *a).map(Ordering::reverse),
            _ if self.is_number() && other.is_number() => cmp_numbers(self, other),
            (Key::Tuple(a), Key::Tuple(b)) => {
                for (x, y) in a.iter().zip(b) {
                    match x.try_cmp(y)? {
                        Ordering::Equal => continue,
                        o => return Ok(o),
                    }
                }
                Ok(a.len().cmp(&b.len()))
            }
            (Key::None, Key::None) => Ok(Ordering::Equal),
            _ => {
                if self.contains_nan() || other.contains_nan() {
                    // A NaN is refused before any question of types, as in `validate`.
                    return Err(Incomparable::NaN);
                }
                Err(Incomparable::Types {
                    left: self.type_name(),
                    right: other.type_name(),
                })
            }
        }
    }

    fn is_number(&self) -> bool {
        matches!(self, Key::Bool(_) | Key::Int(_) | Key::Float(_))
    }
}

/// Two numbers of which at least one is a bool (the other arms handle int/float pairs).
fn cmp_numbers(a: &Key, b: &Key) -> Result<Ordering, Incomparable> {
    enum Num {
        I(i64),
        F(f64),
    }
    let num = |k: &Key| match k {
        Key::Bool(v) => Num::I(*v as i64),
        Key::Int(v) => Num::I(*v),
        Key::Float(v) => Num::F(*v),
        _ => unreachable!("cmp_numbers is called on numbers"),
    };
    match (num(a), num(b)) {
        (Num::I(x), Num::I(y)) => Ok(x.cmp(&y)),
        (Num::I(x), Num::F(y)) => cmp_int_float(x, y),
        (Num::F(x), Num::I(y)) => cmp_int_float(y, x).map(Ordering::reverse),
        (Num::F(x), Num::F(y)) => x.partial_cmp(&y).ok_or(Incomparable::NaN),
    }
}

/// Exact comparison of an i64 with an f64 (no rounding of the int to f64).
fn cmp_int_float(i: i64, f: f64) -> Result<Ordering, Incomparable> {
    if f.is_nan() {
        return Err(Incomparable::NaN);
    }
    // 2^63 as f64 is exact; every finite f64 in [-2^63, 2^63) truncates to an exact i64.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f >= TWO_63 {
        return Ok(Ordering::Less); // also +inf
    }
    if f < -TWO_63 {
        return Ok(Ordering::Greater); // also -inf
    }
    let t = f.trunc();
    let ti = t as i64; // exact: |t| <= 2^63 and t is integral (and -2^63 fits)
    match i.cmp(&ti) {
        Ordering::Equal => {
            let frac = f - t; // exact for any finite f64
            Ok(if frac > 0.0 {
                Ordering::Less
            } else if frac < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            })
        }
        o => Ok(o),
    }
}

impl OrderedKey for Key {
    #[inline]
    fn try_cmp(&self, other: &Self) -> Result<Ordering, Incomparable> {
        Key::try_cmp(self, other)
    }

    #[inline]
    fn prefix(&self) -> Prefix {
        match self {
            Key::Int(i) => number_prefix(*i as f64),
            Key::Float(f) => number_prefix(*f),
            Key::Bool(b) => number_prefix(*b as u8 as f64),
            Key::Str(s) => bytes_prefix(CLASS_STR, s.as_bytes()),
            Key::Bytes(b) => bytes_prefix(CLASS_BYTES, b),
            Key::None => CLASS_NONE << CLASS_SHIFT,
            Key::Tuple(_) => CLASS_TUPLE << CLASS_SHIFT,
        }
    }

    #[inline]
    fn cmp_prefix(a: Prefix, b: Prefix) -> Option<Ordering> {
        // Same class and different summaries; tuples have one summary, so never decide.
        if a != b && (a ^ b) >> CLASS_SHIFT == 0 {
            Some(a.cmp(&b))
        } else {
            None
        }
    }

    #[inline]
    fn cmp_prefix_high(a: u64, b: u64) -> Option<Ordering> {
        if (a ^ b) >> (CLASS_SHIFT - 64) == 0 {
            Some(a.cmp(&b))
        } else {
            None
        }
    }

    #[inline]
    fn validate(&self) -> Result<(), Incomparable> {
        match self {
            Key::Float(f) if f.is_nan() => Err(Incomparable::NaN),
            Key::Tuple(items) => items.iter().try_for_each(OrderedKey::validate),
            _ => Ok(()),
        }
    }
}

/// Python's `==`: numbers by value across bool/int/float, same-type values otherwise, never
/// equal across other types; NaN is equal to nothing.
impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        matches!(self.try_cmp(other), Ok(Ordering::Equal))
    }
}

/// Python's `<` and friends: `None` (that is, every comparison false) for incomparable pairs
/// and NaN.
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        self.try_cmp(other).ok()
    }
}

impl OrderedKey for i64 {
    #[inline]
    fn try_cmp(&self, other: &Self) -> Result<Ordering, Incomparable> {
        Ok(self.cmp(other))
    }

    #[inline]
    fn prefix(&self) -> Prefix {
        (((*self as u64) ^ (1 << 63)) as Prefix) << 64
    }

    #[inline]
    fn cmp_prefix(a: Prefix, b: Prefix) -> Option<Ordering> {
        Some(a.cmp(&b))
    }

    #[inline]
    fn cmp_prefix_high(a: u64, b: u64) -> Option<Ordering> {
        Some(a.cmp(&b))
    }
}

impl OrderedKey for f64 {
    #[inline]
    fn try_cmp(&self, other: &Self) -> Result<Ordering, Incomparable> {
        self.partial_cmp(other).ok_or(Incomparable::NaN)
    }

    #[inline]
    fn validate(&self) -> Result<(), Incomparable> {
        if self.is_nan() {
            Err(Incomparable::NaN)
        } else {
            Ok(())
        }
    }
}

impl OrderedKey for String {
    #[inline]
    fn try_cmp(&self, other: &Self) -> Result<Ordering, Incomparable> {
        Ok(self.as_bytes().cmp(other.as_bytes()))
    }
}

impl OrderedKey for Vec<u8> {
    #[inline]
    fn try_cmp(&self, other: &Self) -> Result<Ordering, Incomparable> {
        Ok(self.as_slice().cmp(other.as_slice()))
    }
}

impl From<bool> for Key {
    fn from(v: bool) -> Key {
        Key::Bool(v)
    }
}

impl From<i64> for Key {
    fn from(v: i64) -> Key {
        Key::Int(v)
    }
}

impl From<i32> for Key {
    fn from(v: i32) -> Key {
        Key::Int(v as i64)
    }
}

impl From<f64> for Key {
    fn from(v: f64) -> Key {
        Key::Float(v)
    }
}

impl From<&str> for Key {
    fn from(v: &str) -> Key {
        Key::Str(v.to_owned())
    }
}

impl From<String> for Key {
    fn from(v: String) -> Key {
        Key::Str(v)
    }
}

impl From<&[u8]> for Key {
    fn from(v: &[u8]) -> Key {
        Key::Bytes(v.to_vec())
    }
}

impl From<Vec<u8>> for Key {
    fn from(v: Vec<u8>) -> Key {
        Key::Bytes(v)
    }
}

impl From<Vec<Key>> for Key {
    fn from(v: Vec<Key>) -> Key {
        Key::Tuple(v)
    }
}

impl From<()> for Key {
    fn from(_: ()) -> Key {
        Key::None
    }
}
