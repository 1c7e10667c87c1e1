//! Compiles a checked Wardgate policy to a WebAssembly component of the world in
//! `wit/policy.wit`: a core module emitted with `wasm-encoder` (static tables, condition
//! functions, a fixed decision procedure) wrapped by `wit-component`. No imports; the same
//! policy always gives the same bytes.

mod abi;
mod asm;
mod cond;
mod emit;
mod layout;
mod manifest;
mod sabotage;
mod tables;

use wardgate_policy::Policy;
use wasm_encoder::{
    CodeSection, ConstExpr, DataSection, ElementSection, Elements, ExportKind, ExportSection,
    FunctionSection, GlobalSection, GlobalType, MemorySection, MemoryType, Module, RefType,
    TableSection, TableType, TypeSection, ValType,
};

pub use abi::WIT;
pub use sabotage::Sabotage;

/// Why a policy could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("the WIT contract cannot be used: {0}")]
    Abi(String),
    #[error("the policy is too large to compile: {0}")]
    Limit(String),
    #[error("the module cannot be made into a component: {0}")]
    Component(String),
}

/// The exported interface, as core export names spell it.
pub const INTERFACE: &str = "wardgate:policy/authorizer@0.1.0";

/// Where static data starts; the first bytes stay zero so that no valid pointer is 0.
const DATA_BASE: u32 = 16;

/// Compiles a policy to component bytes.
pub fn compile(policy: &Policy) -> Result<Vec<u8>, CompileError> {
    let abi = abi::Abi::load()?;
    let core = core_module_with(&abi, policy, None)?;
    componentize(&abi, core)
}

/// The core module alone (for inspection and tests).
pub fn core_module(policy: &Policy) -> Result<Vec<u8>, CompileError> {
    core_module_with(&abi::Abi::load()?, policy, None)
}

/// A component of the policy broken on purpose, for tests of how a host survives hostile
/// modules. Never use it for anything else.
pub fn compile_sabotaged(policy: &Policy, sabotage: Sabotage) -> Result<Vec<u8>, CompileError> {
    let abi = abi::Abi::load()?;
    let core = core_module_with(&abi, policy, Some(sabotage))?;
    componentize(&abi, core)
}

fn core_module_with(
    abi: &abi::Abi,
    policy: &Policy,
    sabotage: Option<Sabotage>,
) -> Result<Vec<u8>, CompileError> {
    let lay = layout::Layout::new(abi)?;
    let mut data = abi::Data::new(DATA_BASE);

    // The manifest, laid out once; `manifest()` returns its address.
    let manifest_at = data.alloc(lay.manifest_size, lay.manifest_align);
    let manifest_ty = abi.named("module-manifest")?;
    data.store(
        abi,
        &manifest_ty,
        &manifest::value(&policy.manifest),
        manifest_at,
    )?;

    let mut conds = tables::Conds::default();
    let t = tables::build(policy, &mut data, &mut conds)?;
    let fixed = emit::Fixed {
        lay: &lay,
        t: &t,
        manifest_at,
    };
    let mut functions = fixed.functions();
    if let Some(s) = sabotage {
        if let Some(f) = s.authorize(&lay) {
            if let Some(slot) = functions.get_mut(emit::F_AUTHORIZE as usize) {
                *slot = f;
            }
        }
        if s == Sabotage::BadManifestPointer {
            // The manifest's name now points far outside memory.
            let name = abi.offset("module-manifest", "name")?;
            data.put_u32(manifest_at + name, 0xffff_0000);
        }
    }
    let mut gen = cond::CondGen {
        lay: &lay,
        data: &mut data,
        user: t.user,
        service: t.service,
    };
    for e in &conds.exprs {
        functions.push(gen.function(e));
    }
    let n_conds = u32::try_from(conds.exprs.len())
        .map_err(|_| CompileError::Limit("too many conditions".into()))?;

    Ok(assemble(&functions, n_conds, &data))
}

/// The core module's sections around its functions and data: one table of condition
/// functions, one memory with the data at `DATA_BASE` and the heap after it, the exports the
/// component wraps.
fn assemble(functions: &[wasm_encoder::Function], n_conds: u32, data: &abi::Data) -> Vec<u8> {
    let heap_base = data.end().div_ceil(16) * 16;
    let pages = u64::from(heap_base).div_ceil(65536) + 1;

    let mut module = Module::new();
    let mut types = TypeSection::new();
    for (params, results) in emit::types() {
        types.ty().function(params, results);
    }
    module.section(&types);

    let mut funcs = FunctionSection::new();
    for ty in emit::FIXED_TYPES {
        funcs.function(ty);
    }
    for _ in 0..n_conds {
        funcs.function(emit::TY_2_1);
    }
    module.section(&funcs);

    let mut tables_section = TableSection::new();
    tables_section.table(TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: u64::from(n_conds),
        maximum: Some(u64::from(n_conds)),
        shared: false,
    });
    module.section(&tables_section);

    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: pages,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);

    let mut globals = GlobalSection::new();
    for mutable in [true, false] {
        globals.global(
            GlobalType {
                val_type: ValType::I32,
                mutable,
                shared: false,
            },
            &ConstExpr::i32_const(heap_base as i32),
        );
    }
    module.section(&globals);

    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("cabi_realloc", ExportKind::Func, emit::F_REALLOC);
    exports.export(
        &format!("{INTERFACE}#manifest"),
        ExportKind::Func,
        emit::F_MANIFEST,
    );
    exports.export(
        &format!("{INTERFACE}#authorize"),
        ExportKind::Func,
        emit::F_AUTHORIZE,
    );
    exports.export(
        &format!("cabi_post_{INTERFACE}#authorize"),
        ExportKind::Func,
        emit::F_POST,
    );
    module.section(&exports);

    if n_conds > 0 {
        let mut elements = ElementSection::new();
        let indices: Vec<u32> = (0..n_conds).map(|k| emit::F_COND0 + k).collect();
        elements.active(
            None,
            &ConstExpr::i32_const(0),
            Elements::Functions(indices.into()),
        );
        module.section(&elements);
    }

    let mut code = CodeSection::new();
    for f in functions {
        code.function(f);
    }
    module.section(&code);

    let mut data_section = DataSection::new();
    data_section.active(
        0,
        &ConstExpr::i32_const(DATA_BASE as i32),
        data.bytes.iter().copied(),
    );
    module.section(&data_section);

    module.finish()
}

fn componentize(abi: &abi::Abi, mut core: Vec<u8>) -> Result<Vec<u8>, CompileError> {
    wit_component::embed_component_metadata(
        &mut core,
        &abi.resolve,
        abi.world,
        wit_component::StringEncoding::UTF8,
    )
    .map_err(|e| CompileError::Component(format!("{e:#}")))?;
    wit_component::ComponentEncoder::default()
        .module(&core)
        .and_then(|enc| enc.validate(true).encode())
        .map_err(|e| CompileError::Component(format!("{e:#}")))
}
