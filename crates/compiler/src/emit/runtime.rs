//! The generic helpers every module carries: the bump allocator behind `cabi_realloc`, byte
//! and list comparisons, and the post-return reset.

use wasm_encoder::{Function, Instruction as I};

use super::{F_ALLOC, F_CONTAINS, HEAP};
use crate::asm::{at, Asm};

/// `cabi_realloc(old, old_size, align, new_size) -> ptr`: bump allocation.
pub(super) fn realloc() -> Function {
    let (old, old_size, align, new_size) = (0, 1, 2, 3);
    let mut a = Asm::new(4);
    let new = a.i32_local();
    a.get(new_size).get(align).op(I::Call(F_ALLOC)).set(new);
    a.get(old);
    a.if_(|a| {
        a.get(new).get(old);
        a.get(old_size)
            .get(new_size)
            .get(old_size)
            .get(new_size)
            .op(I::I32LtU)
            .op(I::Select);
        a.op(I::MemoryCopy {
            src_mem: 0,
            dst_mem: 0,
        });
    });
    a.get(new);
    a.finish()
}

/// `alloc(size, align) -> ptr`, growing memory as needed; traps when it cannot.
pub(super) fn alloc() -> Function {
    let (size, align) = (0, 1);
    let mut a = Asm::new(2);
    let p = a.i32_local();
    let end = a.i64_local();
    let have = a.i64_local();
    a.get(align).op(I::I32Eqz);
    a.if_(|a| {
        a.set_i32(align, 1);
    });
    // p = align_up(heap, align); the arithmetic is done in 64 bits so it cannot wrap.
    a.op(I::GlobalGet(HEAP)).op(I::I64ExtendI32U);
    a.get(align)
        .op(I::I64ExtendI32U)
        .op(I::I64Add)
        .i64(1)
        .op(I::I64Sub);
    a.i64(0)
        .get(align)
        .op(I::I64ExtendI32U)
        .op(I::I64Sub)
        .op(I::I64And)
        .set(end);
    a.get(end).op(I::I32WrapI64).set(p);
    a.get(end)
        .get(size)
        .op(I::I64ExtendI32U)
        .op(I::I64Add)
        .set(end);
    a.get(end).i64(0xffff_0000).op(I::I64GtU);
    a.if_(|a| {
        a.op(I::Unreachable);
    });
    a.op(I::MemorySize(0))
        .op(I::I64ExtendI32U)
        .i64(16)
        .op(I::I64Shl)
        .set(have);
    a.get(end).get(have).op(I::I64GtU);
    a.if_(|a| {
        a.get(end)
            .get(have)
            .op(I::I64Sub)
            .i64(0xffff)
            .op(I::I64Add)
            .i64(16)
            .op(I::I64ShrU)
            .op(I::I32WrapI64);
        a.op(I::MemoryGrow(0)).i32(u32::MAX).op(I::I32Eq);
        a.if_(|a| {
            a.op(I::Unreachable);
        });
    });
    a.get(end).op(I::I32WrapI64).op(I::GlobalSet(HEAP));
    a.get(p);
    a.finish()
}

/// `bytes_eq(p1, l1, p2, l2) -> bool`
pub(super) fn bytes_eq() -> Function {
    let (p1, l1, p2, _l2) = (0, 1, 2, 3);
    let mut a = Asm::new(4);
    let i = a.i32_local();
    a.get(1).get(3).op(I::I32Ne);
    a.if_(|a| {
        a.i32(0).op(I::Return);
    });
    a.for_range(
        i,
        |a| {
            a.get(l1);
        },
        |a| {
            a.get(p1).get(i).op(I::I32Add).op(I::I32Load8U(at(0)));
            a.get(p2).get(i).op(I::I32Add).op(I::I32Load8U(at(0)));
            a.op(I::I32Ne);
            a.if_(|a| {
                a.i32(0).op(I::Return);
            });
        },
    );
    a.i32(1);
    a.finish()
}

/// `bytes_cmp(p1, l1, p2, l2) -> -1 | 0 | 1`, lexicographic.
pub(super) fn bytes_cmp() -> Function {
    let (p1, l1, p2, l2) = (0, 1, 2, 3);
    let mut a = Asm::new(4);
    let (i, n, x, y) = (a.i32_local(), a.i32_local(), a.i32_local(), a.i32_local());
    a.get(l1)
        .get(l2)
        .get(l1)
        .get(l2)
        .op(I::I32LtU)
        .op(I::Select)
        .set(n);
    a.for_range(
        i,
        |a| {
            a.get(n);
        },
        |a| {
            a.get(p1)
                .get(i)
                .op(I::I32Add)
                .op(I::I32Load8U(at(0)))
                .set(x);
            a.get(p2)
                .get(i)
                .op(I::I32Add)
                .op(I::I32Load8U(at(0)))
                .set(y);
            a.get(x).get(y).op(I::I32Ne);
            a.if_(|a| {
                a.i32(u32::MAX)
                    .i32(1)
                    .get(x)
                    .get(y)
                    .op(I::I32LtU)
                    .op(I::Select)
                    .op(I::Return);
            });
        },
    );
    a.get(l1).get(l2).op(I::I32LtU);
    a.if_(|a| {
        a.i32(u32::MAX).op(I::Return);
    });
    a.get(l1).get(l2).op(I::I32GtU);
    a.finish()
}

/// `contains(ptr, len, value) -> bool` over a u32 list.
pub(super) fn contains() -> Function {
    let (p, l, v) = (0, 1, 2);
    let mut a = Asm::new(3);
    let i = a.i32_local();
    a.for_range(
        i,
        |a| {
            a.get(l);
        },
        |a| {
            a.elem(p, i, 4).op(I::I32Load(at(0))).get(v).op(I::I32Eq);
            a.if_(|a| {
                a.i32(1).op(I::Return);
            });
        },
    );
    a.i32(0);
    a.finish()
}

/// `contains_any(p1, l1, p2, l2) -> bool`: some element of the first list is in the second.
pub(super) fn contains_any() -> Function {
    let (p1, l1, p2, l2) = (0, 1, 2, 3);
    let mut a = Asm::new(4);
    let i = a.i32_local();
    a.for_range(
        i,
        |a| {
            a.get(l1);
        },
        |a| {
            a.get(p2).get(l2);
            a.elem(p1, i, 4).op(I::I32Load(at(0)));
            a.op(I::Call(F_CONTAINS));
            a.if_(|a| {
                a.i32(1).op(I::Return);
            });
        },
    );
    a.i32(0);
    a.finish()
}

/// `cabi_post_authorize(ret)`: everything the call allocated is garbage now.
pub(super) fn post() -> Function {
    let mut a = Asm::new(1);
    a.op(I::GlobalGet(1)).op(I::GlobalSet(HEAP));
    a.finish()
}
