//! The shape of the generated request and response schemas (`schemas.rs`,
//! `response_schemas.rs`): version ranges, field types, fields and messages.
//!
//! Both generated tables and the guard that walks them (`guard.rs`) use these types, so
//! neither imports the other's module. Invariant: a `T::Struct(i)` index is always into
//! the `STRUCTS` of the same generated file as the field, and a version range is
//! inclusive, `NO` being the empty one.

/// Open upper end of a version range ("3+").
pub const MAX: i16 = i16::MAX;

/// An inclusive version range; `NO` is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V(pub i16, pub i16);

/// The empty version range ("none").
pub const NO: V = V(1, 0);

impl V {
    /// Whether `version` lies in the range.
    pub const fn contains(self, version: i16) -> bool {
        self.0 <= version && version <= self.1
    }
}

/// The wire type of one field (or of one array element).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum T {
    Bool,
    Int8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Float64,
    Uuid,
    /// string / compact string
    Str,
    /// bytes / compact bytes
    Bytes,
    /// a record set: length-prefixed bytes whose content is not walked here
    Records,
    /// index into `STRUCTS`
    Struct(u16),
}

/// One field of a generated schema.
#[derive(Clone, Copy, Debug)]
pub struct FieldSchema {
    pub ty: T,
    pub array: bool,
    pub versions: V,
    pub nullable: V,
    pub tagged: V,
    pub tag: u32,
}

/// Terse constructor used by the generated table.
pub const fn f(ty: T, array: bool, versions: V, nullable: V, tagged: V, tag: u32) -> FieldSchema {
    FieldSchema {
        ty,
        array,
        versions,
        nullable,
        tagged,
        tag,
    }
}

/// One request or response message: its API key, valid and flexible versions, and root struct.
#[derive(Clone, Copy, Debug)]
pub struct MessageSchema {
    pub api_key: i16,
    pub name: &'static str,
    pub valid: V,
    pub flexible: V,
    pub root: u16,
}
