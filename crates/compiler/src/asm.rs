//! A small assembler over `wasm-encoder`: locals allocated as needed, structured helpers for
//! the loops and conditionals the generated code is made of.

use wasm_encoder::{BlockType, Function, Instruction as I, MemArg, ValType};

/// A function body under construction.
#[derive(Debug)]
pub struct Asm {
    params: u32,
    locals: Vec<ValType>,
    code: Vec<I<'static>>,
}

/// Memory access at a static offset from the address on the stack. Alignment hints are 1:
/// always valid, and the data here is small.
pub fn at(offset: u32) -> MemArg {
    MemArg {
        offset: u64::from(offset),
        align: 0,
        memory_index: 0,
    }
}

impl Asm {
    pub fn new(params: u32) -> Self {
        Asm {
            params,
            locals: Vec::new(),
            code: Vec::new(),
        }
    }

    pub fn local(&mut self, ty: ValType) -> u32 {
        let index = self.params + u32::try_from(self.locals.len()).unwrap_or(u32::MAX);
        self.locals.push(ty);
        index
    }

    pub fn i32_local(&mut self) -> u32 {
        self.local(ValType::I32)
    }

    pub fn i64_local(&mut self) -> u32 {
        self.local(ValType::I64)
    }

    pub fn op(&mut self, ins: I<'static>) -> &mut Self {
        self.code.push(ins);
        self
    }

    pub fn get(&mut self, l: u32) -> &mut Self {
        self.op(I::LocalGet(l))
    }

    pub fn set(&mut self, l: u32) -> &mut Self {
        self.op(I::LocalSet(l))
    }

    pub fn tee(&mut self, l: u32) -> &mut Self {
        self.op(I::LocalTee(l))
    }

    pub fn i32(&mut self, v: u32) -> &mut Self {
        self.op(I::I32Const(v as i32))
    }

    pub fn i64(&mut self, v: u64) -> &mut Self {
        self.op(I::I64Const(v as i64))
    }

    /// `local = value`.
    pub fn set_i32(&mut self, l: u32, v: u32) -> &mut Self {
        self.i32(v).set(l)
    }

    /// Pushes `*(base_local + offset)` as i32.
    pub fn load32(&mut self, base: u32, offset: u32) -> &mut Self {
        self.get(base).op(I::I32Load(at(offset)))
    }

    pub fn load8(&mut self, base: u32, offset: u32) -> &mut Self {
        self.get(base).op(I::I32Load8U(at(offset)))
    }

    pub fn load64(&mut self, base: u32, offset: u32) -> &mut Self {
        self.get(base).op(I::I64Load(at(offset)))
    }

    /// Pushes `base + index * stride`: the address of element `index` of a table.
    pub fn elem(&mut self, base: u32, index: u32, stride: u32) -> &mut Self {
        self.get(base)
            .get(index)
            .i32(stride)
            .op(I::I32Mul)
            .op(I::I32Add)
    }

    /// Turns the index on the stack into the address of its row in a static table at `base`.
    pub fn row(&mut self, stride: u32, base: u32) -> &mut Self {
        self.i32(stride).op(I::I32Mul).i32(base).op(I::I32Add)
    }

    /// Pushes bit `index` (an i32 local) of the i64 local `set`, as 0 or 1.
    pub fn bit(&mut self, set: u32, index: u32) -> &mut Self {
        self.get(set)
            .get(index)
            .op(I::I64ExtendI32U)
            .op(I::I64ShrU)
            .i64(1)
            .op(I::I64And)
            .op(I::I32WrapI64)
    }

    /// `local++`.
    pub fn inc(&mut self, l: u32) -> &mut Self {
        self.get(l).i32(1).op(I::I32Add).set(l)
    }

    /// `for (i = 0; i < bound(); i++) { body }`, where `bound` pushes an i32.
    /// Inside `body`, `br 1` breaks out of the loop and `br 0` continues (before the increment,
    /// so prefer structured code).
    pub fn for_range(
        &mut self,
        i: u32,
        bound: impl FnOnce(&mut Self),
        body: impl FnOnce(&mut Self),
    ) {
        self.set_i32(i, 0);
        self.op(I::Block(BlockType::Empty));
        self.op(I::Loop(BlockType::Empty));
        self.get(i);
        bound(self);
        self.op(I::I32GeU).op(I::BrIf(1));
        body(self);
        self.inc(i);
        self.op(I::Br(0));
        self.op(I::End);
        self.op(I::End);
    }

    /// `if (cond) { then }`, the condition already on the stack.
    pub fn if_(&mut self, then: impl FnOnce(&mut Self)) {
        self.op(I::If(BlockType::Empty));
        then(self);
        self.op(I::End);
    }

    /// `if (cond) { then } else { other }`, the condition already on the stack.
    pub fn if_else(&mut self, then: impl FnOnce(&mut Self), other: impl FnOnce(&mut Self)) {
        self.op(I::If(BlockType::Empty));
        then(self);
        self.op(I::Else);
        other(self);
        self.op(I::End);
    }

    pub fn finish(self) -> Function {
        let mut f = Function::new_with_locals_types(self.locals);
        for ins in &self.code {
            f.instruction(ins);
        }
        f.instruction(&I::End);
        f
    }
}
