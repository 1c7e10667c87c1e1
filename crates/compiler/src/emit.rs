//! The fixed part of every policy module: allocator, byte comparisons, the decision procedure
//! over the static tables, and the canonical-ABI entry points.

mod decide;
mod outcome;
mod runtime;

use wasm_encoder::{Function, ValType};

use runtime::{alloc, bytes_cmp, bytes_eq, contains, contains_any, post, realloc};

use crate::asm::Asm;
use crate::layout::Layout;
use crate::tables::*;

pub const F_REALLOC: u32 = 0;
pub const F_ALLOC: u32 = 1;
pub const F_BYTES_EQ: u32 = 2;
pub const F_BYTES_CMP: u32 = 3;
pub const F_CONTAINS: u32 = 4;
pub const F_CONTAINS_ANY: u32 = 5;
pub const F_SCOPE_OK: u32 = 6;
pub const F_OUTCOME: u32 = 7;
pub const F_STEP_UP: u32 = 8;
pub const F_PUT_REASON: u32 = 9;
pub const F_MANIFEST: u32 = 10;
pub const F_AUTHORIZE: u32 = 11;
pub const F_POST: u32 = 12;
/// The first condition function; condition `k` of the table is function `F_COND0 + k`.
pub const F_COND0: u32 = 13;

pub const TY_4_1: u32 = 0;
pub const TY_2_1: u32 = 1;
pub const TY_3_1: u32 = 2;
pub const TY_OUTCOME: u32 = 3;
pub const TY_STEP: u32 = 4;
pub const TY_REASON: u32 = 5;
pub const TY_0_1: u32 = 6;
pub const TY_1_1: u32 = 7;
pub const TY_1_0: u32 = 8;

/// The heap pointer.
const HEAP: u32 = 0;

/// `tri = fn == NONE ? default : table[fn](req, fresh)`, where `fn_index` pushes the
/// condition's table index and `fresh` pushes the fresh-authentication mode.
pub(crate) fn call_cond(
    a: &mut Asm,
    req: u32,
    fresh: &dyn Fn(&mut Asm),
    fn_index: &dyn Fn(&mut Asm),
    tri: u32,
    default: u32,
) {
    a.set_i32(tri, default);
    fn_index(a);
    a.i32(NONE).op(wasm_encoder::Instruction::I32Ne);
    a.if_(|a| {
        a.get(req);
        fresh(a);
        fn_index(a);
        a.op(wasm_encoder::Instruction::CallIndirect {
            type_index: TY_2_1,
            table_index: 0,
        })
        .set(tri);
    });
}

/// `for index in 0..n { if bit index of the i64 local `set` is on { body } }`.
pub(crate) fn for_each_bit(a: &mut Asm, index: u32, set: u32, n: u32, body: impl FnOnce(&mut Asm)) {
    a.for_range(
        index,
        |a| {
            a.i32(n);
        },
        |a| {
            a.bit(set, index);
            a.if_(body);
        },
    );
}

/// Function types, in `TY_*` order.
pub fn types() -> Vec<(Vec<ValType>, Vec<ValType>)> {
    use ValType::{I32, I64};
    vec![
        (vec![I32; 4], vec![I32]),
        (vec![I32; 2], vec![I32]),
        (vec![I32; 3], vec![I32]),
        (vec![I32, I32, I64, I32, I32, I32, I32, I32], vec![I64]),
        (vec![I32, I64, I32, I32, I32, I32, I32, I32], vec![]),
        (vec![I32, I32, I32, I32, I32, I64, I32], vec![]),
        (vec![], vec![I32]),
        (vec![I32], vec![I32]),
        (vec![I32], vec![]),
    ]
}

/// The type of each fixed function, in `F_*` order.
pub const FIXED_TYPES: [u32; 13] = [
    TY_4_1, TY_2_1, TY_4_1, TY_4_1, TY_3_1, TY_4_1, TY_2_1, TY_OUTCOME, TY_STEP, TY_REASON, TY_0_1,
    TY_1_1, TY_1_0,
];

/// Everything the fixed functions need to know about this policy's data.
pub struct Fixed<'a> {
    pub lay: &'a Layout,
    pub t: &'a Tables,
    pub manifest_at: u32,
}

impl Fixed<'_> {
    pub fn functions(&self) -> Vec<Function> {
        vec![
            realloc(),
            alloc(),
            bytes_eq(),
            bytes_cmp(),
            contains(),
            contains_any(),
            self.scope_ok(),
            self.outcome(),
            self.step_up(),
            self.put_reason(),
            self.manifest(),
            self.authorize(),
            post(),
        ]
    }

    fn manifest(&self) -> Function {
        let mut a = Asm::new(0);
        a.i32(self.manifest_at);
        a.finish()
    }
}
