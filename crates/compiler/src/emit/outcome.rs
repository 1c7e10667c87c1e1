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
        let mut a = Asm::new(8);
        let l = OutcomeLocals::new(&mut a);
        let t = self.t;
        let lay = self.lay;
        a.get(l.act).row(A_STRIDE, t.actions).set(l.ent);
        a.load32(l.req, lay.req_roles).set(l.held);
        a.load32(l.req, lay.req_roles + 4).set(l.held_len);
        a.set_i32(l.dc, 0).set_i32(l.gc, 0);
        self.deny_rules(&mut a, &l);
        self.grants(&mut a, &l);
        self.direct_break_glass(&mut a, &l);
        a.finish()
    }

    /// Deny rules that apply to a role in effect (or to everyone) and whose condition is not false, into `dbuf`.
    fn deny_rules(&self, a: &mut Asm, l: &OutcomeLocals) {
        // Deny rules that apply to a role in effect (or to everyone) and whose condition is
        // not false.
        a.for_range(
            l.k,
            |a| {
                a.load32(l.ent, A_DENY_LEN);
            },
            |a| {
                a.load32(l.ent, A_DENY_OFF)
                    .get(l.k)
                    .i32(D_STRIDE)
                    .op(I::I32Mul)
                    .op(I::I32Add)
                    .set(l.e);
                a.load32(l.e, D_GLOBAL).set(l.tri);
                a.get(l.tri).op(I::I32Eqz);
                a.if_(|a| {
                    a.get(l.held)
                        .get(l.held_len)
                        .load32(l.e, D_CARRIERS)
                        .load32(l.e, D_CARRIERS_LEN)
                        .op(I::Call(F_CONTAINS_ANY));
                    a.get(l.lent)
                        .get(l.lent_len)
                        .load32(l.e, D_CARRIERS)
                        .load32(l.e, D_CARRIERS_LEN)
                        .op(I::Call(F_CONTAINS_ANY));
                    a.op(I::I32Or).set(l.tri);
                });
                a.get(l.tri);
                a.if_(|a| {
                    a.load32(l.e, D_FN).set(l.f);
                    call_cond(
                        a,
                        l.req,
                        &|a| {
                            a.get(l.fresh);
                        },
                        &|a| {
                            a.get(l.f);
                        },
                        l.tri,
                        1,
                    );
                    a.get(l.tri);
                    a.if_(|a| {
                        a.elem(l.dbuf, l.dc, 4)
                            .load32(l.e, D_RULE)
                            .op(I::I32Store(at(0)));
                        a.inc(l.dc);
                    });
                });
            },
        );
    }

    /// Grants, role by role: the request's roles, then the lent ones, into `gbuf`.
    fn grants(&self, a: &mut Asm, l: &OutcomeLocals) {
        // Grants, role by role: the request's roles, then the lent ones.
        a.for_range(
            l.phase,
            |a| {
                a.i32(2);
            },
            |a| {
                a.get(l.phase).op(I::I32Eqz);
                a.if_else(
                    |a| {
                        a.get(l.held).set(l.list).get(l.held_len).set(l.list_len);
                    },
                    |a| {
                        a.get(l.lent).set(l.list).get(l.lent_len).set(l.list_len);
                    },
                );
                a.for_range(
                    l.ri,
                    |a| {
                        a.get(l.list_len);
                    },
                    |a| {
                        a.elem(l.list, l.ri, 4).op(I::I32Load(at(0))).set(l.r);
                        self.find_role_grants(a, l);
                        a.get(l.gp).i32(NONE).op(I::I32Ne);
                        a.if_(|a| {
                            self.role_grants(a, l);
                        });
                    },
                );
            },
        );
    }

    /// Binary search for role `r` among the action's granting roles: `gp`/`gl` its grants, or `gp` = NONE.
    fn find_role_grants(&self, a: &mut Asm, l: &OutcomeLocals) {
        // Binary search for the role among the action's granting roles.
        a.set_i32(l.lo, 0);
        a.load32(l.ent, A_GR_LEN).set(l.hi);
        a.set_i32(l.gp, NONE);
        a.op(I::Block(BlockType::Empty));
        a.op(I::Loop(BlockType::Empty));
        a.get(l.lo).get(l.hi).op(I::I32GeU).op(I::BrIf(1));
        a.get(l.lo)
            .get(l.hi)
            .op(I::I32Add)
            .i32(1)
            .op(I::I32ShrU)
            .set(l.mid);
        a.load32(l.ent, A_GR_OFF)
            .get(l.mid)
            .i32(GR_STRIDE)
            .op(I::I32Mul)
            .op(I::I32Add)
            .set(l.e);
        a.load32(l.e, GR_ROLE).get(l.r).op(I::I32Eq);
        a.if_(|a| {
            a.load32(l.e, GR_OFF).set(l.gp);
            a.load32(l.e, GR_LEN).set(l.gl);
            a.op(I::Br(2));
        });
        a.load32(l.e, GR_ROLE).get(l.r).op(I::I32LtU);
        a.if_else(
            |a| {
                a.get(l.mid).i32(1).op(I::I32Add).set(l.lo);
            },
            |a| {
                a.get(l.mid).set(l.hi);
            },
        );
        a.op(I::Br(0));
        a.op(I::End);
        a.op(I::End);
    }

    /// Each grant of role `r` whose condition, and every guard on the way, holds.
    fn role_grants(&self, a: &mut Asm, l: &OutcomeLocals) {
        let t = self.t;
        a.for_range(
            l.k,
            |a| {
                a.get(l.gl);
            },
            |a| {
                a.elem(l.gp, l.k, G_STRIDE).set(l.g);
                a.load32(l.g, G_FN).set(l.f);
                call_cond(
                    a,
                    l.req,
                    &|a| {
                        a.get(l.fresh);
                    },
                    &|a| {
                        a.get(l.f);
                    },
                    l.tri,
                    1,
                );
                a.get(l.tri).i32(1).op(I::I32Eq).set(l.ok);
                // Every guard on the way must hold too.
                a.for_range(
                    l.q,
                    |a| {
                        a.load32(l.g, G_GUARDS_LEN);
                    },
                    |a| {
                        a.load32(l.g, G_GUARDS)
                            .get(l.q)
                            .i32(4)
                            .op(I::I32Mul)
                            .op(I::I32Add)
                            .op(I::I32Load(at(0)));
                        a.row(ROLE_STRIDE, t.roles)
                            .op(I::I32Load(at(ROLE_GUARD)))
                            .set(l.f);
                        a.get(l.f).i32(NONE).op(I::I32Ne).get(l.ok).op(I::I32And);
                        a.if_(|a| {
                            a.get(l.req).get(l.fresh).get(l.f).op(I::CallIndirect {
                                type_index: TY_2_1,
                                table_index: 0,
                            });
                            a.i32(1).op(I::I32Eq).get(l.ok).op(I::I32And).set(l.ok);
                        });
                    },
                );
                a.get(l.ok);
                a.if_(|a| {
                    a.elem(l.gbuf, l.gc, 8)
                        .tee(l.e)
                        .get(l.r)
                        .op(I::I32Store(at(0)));
                    a.get(l.e).load32(l.g, G_RULE).op(I::I32Store(at(4)));
                    a.inc(l.gc);
                });
            },
        );
    }

    /// Break-glass entries that open the action directly; then packs (denials, grants) into the result.
    fn direct_break_glass(&self, a: &mut Asm, l: &OutcomeLocals) {
        let t = self.t;
        // Break-glass entries that open the action directly.
        a.get(l.open)
            .get(l.act)
            .i32(8)
            .op(I::I32Mul)
            .i32(t.bg_masks)
            .op(I::I32Add)
            .op(I::I64Load(at(0)))
            .op(I::I64And)
            .set(l.mask);
        for_each_bit(a, l.k, l.mask, t.n_break_glass, |a| {
            a.elem(l.gbuf, l.gc, 8)
                .tee(l.e)
                .i32(NONE)
                .op(I::I32Store(at(0)));
            a.get(l.e).get(l.k).op(I::I32Store(at(4)));
            a.inc(l.gc);
        });
        a.get(l.dc)
            .op(I::I64ExtendI32U)
            .i64(32)
            .op(I::I64Shl)
            .get(l.gc)
            .op(I::I64ExtendI32U)
            .op(I::I64Or);
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

/// The parameters and locals of `outcome`, in the order they are declared.
struct OutcomeLocals {
    req: u32,
    fresh: u32,
    open: u32,
    lent: u32,
    lent_len: u32,
    dbuf: u32,
    gbuf: u32,
    act: u32,
    ent: u32,
    k: u32,
    e: u32,
    dc: u32,
    tri: u32,
    gc: u32,
    ri: u32,
    r: u32,
    lo: u32,
    hi: u32,
    mid: u32,
    gp: u32,
    gl: u32,
    g: u32,
    q: u32,
    ok: u32,
    held: u32,
    held_len: u32,
    list: u32,
    list_len: u32,
    phase: u32,
    f: u32,
    mask: u32,
}

impl OutcomeLocals {
    fn new(a: &mut Asm) -> OutcomeLocals {
        OutcomeLocals {
            req: 0,
            fresh: 1,
            open: 2,
            lent: 3,
            lent_len: 4,
            dbuf: 5,
            gbuf: 6,
            act: 7,
            ent: a.i32_local(),
            k: a.i32_local(),
            e: a.i32_local(),
            dc: a.i32_local(),
            tri: a.i32_local(),
            gc: a.i32_local(),
            ri: a.i32_local(),
            r: a.i32_local(),
            lo: a.i32_local(),
            hi: a.i32_local(),
            mid: a.i32_local(),
            gp: a.i32_local(),
            gl: a.i32_local(),
            g: a.i32_local(),
            q: a.i32_local(),
            ok: a.i32_local(),
            held: a.i32_local(),
            held_len: a.i32_local(),
            list: a.i32_local(),
            list_len: a.i32_local(),
            phase: a.i32_local(),
            f: a.i32_local(),
            mask: a.i64_local(),
        }
    }
}
