//! The heart of the decision: which deny rules fire and which grants hold for one action, and
//! whether an API key's scopes cover it.

use wasm_encoder::{BlockType, Function, Instruction as I};

use super::*;
use crate::asm::{at, Asm};

impl Fixed<'_> {
    /// `scope_ok(request, action) -> bool`
    pub(super) fn scope_ok(&self) -> Function {
        let (lay, t) = (self.lay, self.t);
        let (req, act) = (0, 1);
        let mut a = Asm::new(2);
        let (ent, sp, sl, i, cp, cl, j, s_ptr, s_len) = (
            a.i32_local(),
            a.i32_local(),
            a.i32_local(),
            a.i32_local(),
            a.i32_local(),
            a.i32_local(),
            a.i32_local(),
            a.i32_local(),
            a.i32_local(),
        );
        a.load8(req, lay.req_scopes).op(I::I32Eqz);
        a.if_(|a| {
            // No scopes: a user may go on, a service may not.
            a.load8(req, lay.req_kind)
                .i32(lay.kind_service)
                .op(I::I32Ne)
                .op(I::Return);
        });
        a.load32(req, lay.req_scopes + lay.scopes_payload).set(sp);
        a.load32(req, lay.req_scopes + lay.scopes_payload + 4)
            .set(sl);
        a.get(act).row(A_STRIDE, t.actions).set(ent);
        a.load32(ent, A_SCOPE_OFF).set(cp);
        a.load32(ent, A_SCOPE_LEN).set(cl);
        a.for_range(
            i,
            |a| {
                a.get(sl);
            },
            |a| {
                a.elem(sp, i, 8).tee(s_ptr).op(I::I32Load(at(4))).set(s_len);
                a.load32(s_ptr, 0).set(s_ptr);
                a.for_range(
                    j,
                    |a| {
                        a.get(cl);
                    },
                    |a| {
                        a.get(s_ptr).get(s_len);
                        a.elem(cp, j, 8).op(I::I32Load(at(0)));
                        a.elem(cp, j, 8).op(I::I32Load(at(4)));
                        a.op(I::Call(F_BYTES_EQ));
                        a.if_(|a| {
                            a.i32(1).op(I::Return);
                        });
                    },
                );
            },
        );
        a.i32(0);
        a.finish()
    }

    /// `outcome(req, fresh, open, lent, lent_len, dbuf, gbuf, action) -> (denies << 32) | grants`
    ///
    /// Fired deny rules go to `dbuf` (rule ids, ascending); grants to `gbuf` as (role, rule)
    /// pairs, roles in the request's order then lent ones, and (NONE, break-glass) pairs last.
    pub(super) fn outcome(&self) -> Function {
        let t = self.t;
        let lay = self.lay;
        let (req, fresh, open, lent, lent_len, dbuf, gbuf, act) = (0, 1, 2, 3, 4, 5, 6, 7);
        let mut a = Asm::new(8);
        let ent = a.i32_local();
        let k = a.i32_local();
        let e = a.i32_local();
        let dc = a.i32_local();
        let tri = a.i32_local();
        let gc = a.i32_local();
        let ri = a.i32_local();
        let r = a.i32_local();
        let lo = a.i32_local();
        let hi = a.i32_local();
        let mid = a.i32_local();
        let gp = a.i32_local();
        let gl = a.i32_local();
        let g = a.i32_local();
        let q = a.i32_local();
        let ok = a.i32_local();
        let held = a.i32_local();
        let held_len = a.i32_local();
        let list = a.i32_local();
        let list_len = a.i32_local();
        let phase = a.i32_local();
        let f = a.i32_local();
        let mask = a.i64_local();

        a.get(act).row(A_STRIDE, t.actions).set(ent);
        a.load32(req, lay.req_roles).set(held);
        a.load32(req, lay.req_roles + 4).set(held_len);
        a.set_i32(dc, 0).set_i32(gc, 0);

        // Deny rules that apply to a role in effect (or to everyone) and whose condition is
        // not false.
        a.for_range(
            k,
            |a| {
                a.load32(ent, A_DENY_LEN);
            },
            |a| {
                a.load32(ent, A_DENY_OFF)
                    .get(k)
                    .i32(D_STRIDE)
                    .op(I::I32Mul)
                    .op(I::I32Add)
                    .set(e);
                a.load32(e, D_GLOBAL).set(tri);
                a.get(tri).op(I::I32Eqz);
                a.if_(|a| {
                    a.get(held)
                        .get(held_len)
                        .load32(e, D_CARRIERS)
                        .load32(e, D_CARRIERS_LEN)
                        .op(I::Call(F_CONTAINS_ANY));
                    a.get(lent)
                        .get(lent_len)
                        .load32(e, D_CARRIERS)
                        .load32(e, D_CARRIERS_LEN)
                        .op(I::Call(F_CONTAINS_ANY));
                    a.op(I::I32Or).set(tri);
                });
                a.get(tri);
                a.if_(|a| {
                    a.load32(e, D_FN).set(f);
                    call_cond(
                        a,
                        req,
                        &|a| {
                            a.get(fresh);
                        },
                        &|a| {
                            a.get(f);
                        },
                        tri,
                        1,
                    );
                    a.get(tri);
                    a.if_(|a| {
                        a.elem(dbuf, dc, 4).load32(e, D_RULE).op(I::I32Store(at(0)));
                        a.inc(dc);
                    });
                });
            },
        );

        // Grants, role by role: the request's roles, then the lent ones.
        a.for_range(
            phase,
            |a| {
                a.i32(2);
            },
            |a| {
                a.get(phase).op(I::I32Eqz);
                a.if_else(
                    |a| {
                        a.get(held).set(list).get(held_len).set(list_len);
                    },
                    |a| {
                        a.get(lent).set(list).get(lent_len).set(list_len);
                    },
                );
                a.for_range(
                    ri,
                    |a| {
                        a.get(list_len);
                    },
                    |a| {
                        a.elem(list, ri, 4).op(I::I32Load(at(0))).set(r);
                        // Binary search for the role among the action's granting roles.
                        a.set_i32(lo, 0);
                        a.load32(ent, A_GR_LEN).set(hi);
                        a.set_i32(gp, NONE);
                        a.op(I::Block(BlockType::Empty));
                        a.op(I::Loop(BlockType::Empty));
                        a.get(lo).get(hi).op(I::I32GeU).op(I::BrIf(1));
                        a.get(lo)
                            .get(hi)
                            .op(I::I32Add)
                            .i32(1)
                            .op(I::I32ShrU)
                            .set(mid);
                        a.load32(ent, A_GR_OFF)
                            .get(mid)
                            .i32(GR_STRIDE)
                            .op(I::I32Mul)
                            .op(I::I32Add)
                            .set(e);
                        a.load32(e, GR_ROLE).get(r).op(I::I32Eq);
                        a.if_(|a| {
                            a.load32(e, GR_OFF).set(gp);
                            a.load32(e, GR_LEN).set(gl);
                            a.op(I::Br(2));
                        });
                        a.load32(e, GR_ROLE).get(r).op(I::I32LtU);
                        a.if_else(
                            |a| {
                                a.get(mid).i32(1).op(I::I32Add).set(lo);
                            },
                            |a| {
                                a.get(mid).set(hi);
                            },
                        );
                        a.op(I::Br(0));
                        a.op(I::End);
                        a.op(I::End);
                        a.get(gp).i32(NONE).op(I::I32Ne);
                        a.if_(|a| {
                            a.for_range(
                                k,
                                |a| {
                                    a.get(gl);
                                },
                                |a| {
                                    a.elem(gp, k, G_STRIDE).set(g);
                                    a.load32(g, G_FN).set(f);
                                    call_cond(
                                        a,
                                        req,
                                        &|a| {
                                            a.get(fresh);
                                        },
                                        &|a| {
                                            a.get(f);
                                        },
                                        tri,
                                        1,
                                    );
                                    a.get(tri).i32(1).op(I::I32Eq).set(ok);
                                    // Every guard on the way must hold too.
                                    a.for_range(
                                        q,
                                        |a| {
                                            a.load32(g, G_GUARDS_LEN);
                                        },
                                        |a| {
                                            a.load32(g, G_GUARDS)
                                                .get(q)
                                                .i32(4)
                                                .op(I::I32Mul)
                                                .op(I::I32Add)
                                                .op(I::I32Load(at(0)));
                                            a.row(ROLE_STRIDE, t.roles)
                                                .op(I::I32Load(at(ROLE_GUARD)))
                                                .set(f);
                                            a.get(f).i32(NONE).op(I::I32Ne).get(ok).op(I::I32And);
                                            a.if_(|a| {
                                                a.get(req).get(fresh).get(f).op(I::CallIndirect {
                                                    type_index: TY_2_1,
                                                    table_index: 0,
                                                });
                                                a.i32(1).op(I::I32Eq).get(ok).op(I::I32And).set(ok);
                                            });
                                        },
                                    );
                                    a.get(ok);
                                    a.if_(|a| {
                                        a.elem(gbuf, gc, 8).tee(e).get(r).op(I::I32Store(at(0)));
                                        a.get(e).load32(g, G_RULE).op(I::I32Store(at(4)));
                                        a.inc(gc);
                                    });
                                },
                            );
                        });
                    },
                );
            },
        );

        // Break-glass entries that open the action directly.
        a.get(open)
            .get(act)
            .i32(8)
            .op(I::I32Mul)
            .i32(t.bg_masks)
            .op(I::I32Add)
            .op(I::I64Load(at(0)))
            .op(I::I64And)
            .set(mask);
        for_each_bit(&mut a, k, mask, t.n_break_glass, |a| {
            a.elem(gbuf, gc, 8).tee(e).i32(NONE).op(I::I32Store(at(0)));
            a.get(e).get(k).op(I::I32Store(at(4)));
            a.inc(gc);
        });
        a.get(dc)
            .op(I::I64ExtendI32U)
            .i64(32)
            .op(I::I64Shl)
            .get(gc)
            .op(I::I64ExtendI32U)
            .op(I::I64Or);
        a.finish()
    }

    /// Allocates the two outcome buffers for an action; leaves nothing on the stack.
    pub(super) fn buffers(
        &self,
        a: &mut Asm,
        ent: u32,
        lent_len: u32,
        held_len: u32,
        dbuf: u32,
        gbuf: u32,
    ) {
        a.load32(ent, A_DENY_LEN)
            .i32(4)
            .op(I::I32Mul)
            .i32(4)
            .op(I::I32Add)
            .i32(4)
            .op(I::Call(F_ALLOC))
            .set(dbuf);
        // (held + lent) x most grants one role has for the action + break-glass entries.
        let cap = a.i64_local();
        a.get(held_len)
            .get(lent_len)
            .op(I::I32Add)
            .op(I::I64ExtendI32U);
        a.load32(ent, A_MAXG).op(I::I64ExtendI32U).op(I::I64Mul);
        a.i64(u64::from(self.t.n_break_glass) + 1)
            .op(I::I64Add)
            .i64(8)
            .op(I::I64Mul)
            .set(cap);
        a.get(cap).i64(0x4000_0000).op(I::I64GtU);
        a.if_(|a| {
            a.op(I::Unreachable);
        });
        a.get(cap)
            .op(I::I32WrapI64)
            .i32(4)
            .op(I::Call(F_ALLOC))
            .set(gbuf);
    }
}
