//! Deliberately broken modules, for the host's tests of hostile code. Each keeps a valid
//! manifest and breaks `authorize` (or the manifest) in one way a hostile author could.

use wasm_encoder::{BlockType, Function, Instruction as I};

use crate::asm::{at, Asm};
use crate::emit::F_ALLOC;
use crate::layout::Layout;

/// One way to misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sabotage {
    /// `authorize` never returns.
    LoopForever,
    /// `authorize` grows memory until it cannot.
    GrowMemory,
    /// `authorize` traps.
    Trap,
    /// `authorize` returns a reason code that does not exist.
    BadDiscriminant,
    /// `authorize` returns a reasons list pointing outside memory.
    BadPointer,
    /// `manifest` returns a string pointing outside memory.
    BadManifestPointer,
}

impl Sabotage {
    /// The replacement for `authorize`, if this sabotage replaces it.
    pub(crate) fn authorize(self, lay: &Layout) -> Option<Function> {
        let mut a = Asm::new(1);
        match self {
            Sabotage::LoopForever => {
                a.op(I::Loop(BlockType::Empty)).op(I::Br(0)).op(I::End);
                a.op(I::Unreachable);
            }
            Sabotage::GrowMemory => {
                a.op(I::Loop(BlockType::Empty));
                a.i32(16).op(I::MemoryGrow(0)).op(I::Drop);
                a.op(I::Br(0)).op(I::End);
                a.op(I::Unreachable);
            }
            Sabotage::Trap => {
                a.op(I::Unreachable);
            }
            Sabotage::BadDiscriminant | Sabotage::BadPointer => {
                let ret = a.i32_local();
                let rp = a.i32_local();
                a.i32(lay.dec_size)
                    .i32(lay.dec_align)
                    .op(I::Call(F_ALLOC))
                    .set(ret);
                a.i32(lay.reason_size)
                    .i32(lay.reason_align)
                    .op(I::Call(F_ALLOC))
                    .set(rp);
                a.get(rp).i32(200).op(I::I32Store8(at(lay.r_code)));
                a.get(ret).i32(0).op(I::I32Store8(at(lay.dec_allow)));
                if self == Sabotage::BadPointer {
                    a.get(rp).i32(0).op(I::I32Store8(at(lay.r_code)));
                    a.get(ret)
                        .i32(0xffff_fff0)
                        .op(I::I32Store(at(lay.dec_reasons)));
                } else {
                    a.get(ret).get(rp).op(I::I32Store(at(lay.dec_reasons)));
                }
                a.get(ret).i32(1).op(I::I32Store(at(lay.dec_reasons + 4)));
                a.get(ret)
                    .i32(0)
                    .op(I::I32Store(at(lay.dec_obligations + 4)));
                a.get(ret);
            }
            Sabotage::BadManifestPointer => return None,
        }
        Some(a.finish())
    }
}
