//! The canonical ABI of `wit/policy.wit`, as `wit-parser` computes it: sizes, alignments,
//! field and payload offsets. Nothing here is written by hand, so a change to the WIT moves
//! every offset the generated code uses.

use std::collections::HashMap;

use wit_parser::{Int, Resolve, SizeAlign, Type, TypeDefKind, TypeId, WorldId};

use crate::CompileError;

/// The contract, compiled into the crate so a build never depends on the working directory.
pub const WIT: &str = include_str!("../../../wit/policy.wit");

pub struct Abi {
    pub resolve: Resolve,
    pub world: WorldId,
    sizes: SizeAlign,
    types: HashMap<String, TypeId>,
}

impl std::fmt::Debug for Abi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Abi").finish_non_exhaustive()
    }
}

fn abi_error(e: impl std::fmt::Display) -> CompileError {
    CompileError::Abi(e.to_string())
}

impl Abi {
    pub fn load() -> Result<Abi, CompileError> {
        let mut resolve = Resolve::default();
        let pkg = resolve.push_str("policy.wit", WIT).map_err(abi_error)?;
        let world = resolve
            .select_world(&[pkg], Some("policy"))
            .map_err(abi_error)?;
        let mut sizes = SizeAlign::default();
        sizes.fill(&resolve);
        let mut types = HashMap::new();
        for (_, iface) in resolve.interfaces.iter() {
            for (name, id) in &iface.types {
                types.insert(name.clone(), *id);
            }
        }
        Ok(Abi {
            resolve,
            world,
            sizes,
            types,
        })
    }

    pub fn named(&self, name: &str) -> Result<Type, CompileError> {
        self.types
            .get(name)
            .map(|id| Type::Id(*id))
            .ok_or_else(|| abi_error(format!("type `{name}` is missing from the WIT")))
    }

    fn kind(&self, id: TypeId) -> Result<&TypeDefKind, CompileError> {
        self.resolve
            .types
            .get(id)
            .map(|t| &t.kind)
            .ok_or_else(|| abi_error("a type id points nowhere"))
    }

    pub fn size(&self, ty: &Type) -> u32 {
        u32::try_from(self.sizes.size(ty).size_wasm32()).unwrap_or(u32::MAX)
    }

    pub fn align(&self, ty: &Type) -> u32 {
        u32::try_from(self.sizes.align(ty).align_wasm32()).unwrap_or(1)
    }

    /// The offset and type of a record's field.
    pub fn field(&self, record: &str, field: &str) -> Result<(u32, Type), CompileError> {
        let Type::Id(id) = self.named(record)? else {
            return Err(abi_error(format!("`{record}` is not a record")));
        };
        let TypeDefKind::Record(r) = self.kind(id)? else {
            return Err(abi_error(format!("`{record}` is not a record")));
        };
        let offsets = self.sizes.field_offsets(r.fields.iter().map(|f| &f.ty));
        r.fields
            .iter()
            .zip(offsets)
            .find(|(f, _)| f.name == field)
            .map(|(f, (off, _))| (u32::try_from(off.size_wasm32()).unwrap_or(u32::MAX), f.ty))
            .ok_or_else(|| abi_error(format!("record `{record}` has no field `{field}`")))
    }

    /// Just the offset of a record's field.
    pub fn offset(&self, record: &str, field: &str) -> Result<u32, CompileError> {
        self.field(record, field).map(|(o, _)| o)
    }

    /// For `option<T>`: the payload's offset after the discriminant.
    pub fn option_payload(&self, option: &Type) -> Result<u32, CompileError> {
        let Type::Id(id) = option else {
            return Err(abi_error("not an option"));
        };
        match self.kind(*id)? {
            TypeDefKind::Option(inner) => Ok(self.payload_offset(Int::U8, [Some(inner)])),
            _ => Err(abi_error("not an option")),
        }
    }

    /// For a variant: the payload's offset after the discriminant.
    pub fn variant_payload(&self, variant: &Type) -> Result<u32, CompileError> {
        let Type::Id(id) = variant else {
            return Err(abi_error("not a variant"));
        };
        match self.kind(*id)? {
            TypeDefKind::Variant(v) => {
                Ok(self.payload_offset(v.tag(), v.cases.iter().map(|c| c.ty.as_ref())))
            }
            _ => Err(abi_error("not a variant")),
        }
    }

    fn payload_offset<'a>(
        &self,
        tag: Int,
        cases: impl IntoIterator<Item = Option<&'a Type>>,
    ) -> u32 {
        u32::try_from(self.sizes.payload_offset(tag, cases).size_wasm32()).unwrap_or(u32::MAX)
    }

    /// The inner type of `option<T>` or `list<T>`.
    pub fn inner(&self, ty: &Type) -> Result<Type, CompileError> {
        let Type::Id(id) = ty else {
            return Err(abi_error("not a container"));
        };
        match self.kind(*id)? {
            TypeDefKind::Option(t) | TypeDefKind::List(t) => Ok(*t),
            TypeDefKind::Type(t) => self.inner(t),
            _ => Err(abi_error("not a container")),
        }
    }

    /// The discriminant of an enum or variant case, by name.
    pub fn case(&self, ty: &str, case: &str) -> Result<u32, CompileError> {
        let Type::Id(id) = self.named(ty)? else {
            return Err(abi_error(format!("`{ty}` is not an enum")));
        };
        let index = match self.kind(id)? {
            TypeDefKind::Enum(e) => e.cases.iter().position(|c| c.name == case),
            TypeDefKind::Variant(v) => v.cases.iter().position(|c| c.name == case),
            _ => None,
        };
        index
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| abi_error(format!("`{ty}` has no case `{case}`")))
    }
}

/// A value to lay out in the module's data, typed by the WIT.
#[derive(Debug, Clone)]
pub enum Val {
    Bool(bool),
    U32(u32),
    U64(u64),
    Str(String),
    List(Vec<Val>),
    /// Fields by name, matched to the WIT's fields by name.
    Record(Vec<(&'static str, Val)>),
    Option(Option<Box<Val>>),
    /// A variant case (or enum case, with no payload).
    Case(u32, Option<Box<Val>>),
}

/// The module's static data, laid out from address `base`.
#[derive(Debug)]
pub struct Data {
    pub base: u32,
    pub bytes: Vec<u8>,
    strings: HashMap<Vec<u8>, u32>,
}

impl Data {
    pub fn new(base: u32) -> Self {
        Data {
            base,
            bytes: Vec::new(),
            strings: HashMap::new(),
        }
    }

    pub fn end(&self) -> u32 {
        self.base + u32::try_from(self.bytes.len()).unwrap_or(u32::MAX)
    }

    /// Reserves `size` zeroed bytes aligned to `align`; returns their address.
    pub fn alloc(&mut self, size: u32, align: u32) -> u32 {
        let align = align.max(1);
        while !self.end().is_multiple_of(align) {
            self.bytes.push(0);
        }
        let at = self.end();
        self.bytes.resize(self.bytes.len() + size as usize, 0);
        at
    }

    /// Writes bytes at an address, growing the image as needed.
    fn write(&mut self, at: u32, bytes: &[u8]) {
        let start = at.saturating_sub(self.base) as usize;
        if self.bytes.len() < start + bytes.len() {
            self.bytes.resize(start + bytes.len(), 0);
        }
        for (slot, b) in self.bytes.iter_mut().skip(start).zip(bytes) {
            *slot = *b;
        }
    }

    pub fn put_u8(&mut self, at: u32, v: u8) {
        self.write(at, &[v]);
    }

    pub fn put_u32(&mut self, at: u32, v: u32) {
        self.write(at, &v.to_le_bytes());
    }

    pub fn put_u64(&mut self, at: u32, v: u64) {
        self.write(at, &v.to_le_bytes());
    }

    /// Bytes, stored once however often they are asked for.
    pub fn bytes(&mut self, b: &[u8]) -> (u32, u32) {
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        if let Some(&at) = self.strings.get(b) {
            return (at, len);
        }
        let at = self.alloc(len, 1);
        self.write(at, b);
        self.strings.insert(b.to_vec(), at);
        (at, len)
    }

    /// Stores a u32 array; returns (address, count).
    pub fn u32s(&mut self, values: &[u32]) -> (u32, u32) {
        let at = self.alloc(4 * u32::try_from(values.len()).unwrap_or(0), 4);
        for (i, v) in values.iter().enumerate() {
            self.put_u32(at + 4 * i as u32, *v);
        }
        (at, u32::try_from(values.len()).unwrap_or(u32::MAX))
    }

    /// Lays out a value of a WIT type at `at`, following the canonical ABI.
    pub fn store(&mut self, abi: &Abi, ty: &Type, val: &Val, at: u32) -> Result<(), CompileError> {
        let mismatch = || abi_error(format!("static value {val:?} does not fit its type"));
        match (ty, val) {
            (Type::Bool, Val::Bool(b)) => self.put_u8(at, u8::from(*b)),
            (Type::U8, Val::U32(v)) => self.put_u8(at, u8::try_from(*v).map_err(|_| mismatch())?),
            (Type::U32, Val::U32(v)) => self.put_u32(at, *v),
            (Type::U64, Val::U64(v)) => self.put_u64(at, *v),
            (Type::String, Val::Str(s)) => {
                let (p, l) = self.bytes(s.as_bytes());
                self.put_u32(at, p);
                self.put_u32(at + 4, l);
            }
            (Type::Id(id), _) => {
                let kind = abi.kind(*id)?.clone();
                match (&kind, val) {
                    (TypeDefKind::Type(t), v) => self.store(abi, t, v, at)?,
                    (TypeDefKind::Record(r), Val::Record(fields)) => {
                        if r.fields.len() != fields.len() {
                            return Err(mismatch());
                        }
                        let offsets = abi.sizes.field_offsets(r.fields.iter().map(|f| &f.ty));
                        for (field, (off, fty)) in r.fields.iter().zip(offsets.iter()) {
                            let v = fields
                                .iter()
                                .find(|(name, _)| *name == field.name)
                                .map(|(_, v)| v)
                                .ok_or_else(|| {
                                    abi_error(format!("no value for field `{}`", field.name))
                                })?;
                            let off = u32::try_from(off.size_wasm32()).unwrap_or(0);
                            self.store(abi, fty, v, at + off)?;
                        }
                    }
                    (TypeDefKind::List(elem), Val::List(items)) => {
                        let size = abi.size(elem);
                        let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
                        let base = self.alloc(size * count, abi.align(elem));
                        for (i, item) in items.iter().enumerate() {
                            self.store(abi, elem, item, base + size * i as u32)?;
                        }
                        self.put_u32(at, base);
                        self.put_u32(at + 4, count);
                    }
                    (TypeDefKind::Option(inner), Val::Option(v)) => match v {
                        None => self.put_u8(at, 0),
                        Some(v) => {
                            self.put_u8(at, 1);
                            let off = abi.payload_offset(Int::U8, [Some(inner)]);
                            self.store(abi, inner, v, at + off)?;
                        }
                    },
                    (TypeDefKind::Enum(_), Val::Case(c, None)) => {
                        self.put_u8(at, u8::try_from(*c).map_err(|_| mismatch())?)
                    }
                    (TypeDefKind::Variant(v), Val::Case(c, payload)) => {
                        if v.tag() != Int::U8 {
                            return Err(mismatch());
                        }
                        self.put_u8(at, u8::try_from(*c).map_err(|_| mismatch())?);
                        let case = v.cases.get(*c as usize).ok_or_else(mismatch)?;
                        let off =
                            abi.payload_offset(v.tag(), v.cases.iter().map(|c| c.ty.as_ref()));
                        match (&case.ty, payload) {
                            (Some(t), Some(p)) => self.store(abi, t, p, at + off)?,
                            (None, None) => {}
                            _ => return Err(mismatch()),
                        }
                    }
                    _ => return Err(mismatch()),
                }
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}
