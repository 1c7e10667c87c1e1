//! The fixed part of every policy module: allocator, byte comparisons, the decision procedure
//! over the static tables, and the canonical-ABI entry points.

use wasm_encoder::{BlockType, Function, Instruction as I, ValType};

use crate::asm::{at, Asm};
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

    /// `scope_ok(request, action) -> bool`
    fn scope_ok(&self) -> Function {
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
        a.get(act)
            .i32(A_STRIDE)
            .op(I::I32Mul)
            .i32(t.actions)
            .op(I::I32Add)
            .set(ent);
        a.load32(ent, A_SCOPE_OFF).set(cp);
        a.load32(ent, A_SCOPE_LEN).set(cl);
        a.for_range(
            i,
            |a| {
                a.get(sl);
            },
            |a| {
                a.get(sp)
                    .get(i)
                    .i32(8)
                    .op(I::I32Mul)
                    .op(I::I32Add)
                    .tee(s_ptr)
                    .op(I::I32Load(at(4)))
                    .set(s_len);
                a.load32(s_ptr, 0).set(s_ptr);
                a.for_range(
                    j,
                    |a| {
                        a.get(cl);
                    },
                    |a| {
                        a.get(s_ptr).get(s_len);
                        a.get(cp)
                            .get(j)
                            .i32(8)
                            .op(I::I32Mul)
                            .op(I::I32Add)
                            .op(I::I32Load(at(0)));
                        a.get(cp)
                            .get(j)
                            .i32(8)
                            .op(I::I32Mul)
                            .op(I::I32Add)
                            .op(I::I32Load(at(4)));
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
    fn outcome(&self) -> Function {
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

        a.get(act)
            .i32(A_STRIDE)
            .op(I::I32Mul)
            .i32(t.actions)
            .op(I::I32Add)
            .set(ent);
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
                    a.i32(1).set(tri);
                    a.get(f).i32(NONE).op(I::I32Ne);
                    a.if_(|a| {
                        a.get(req)
                            .get(fresh)
                            .get(f)
                            .op(I::CallIndirect {
                                type_index: TY_2_1,
                                table_index: 0,
                            })
                            .set(tri);
                    });
                    a.get(tri);
                    a.if_(|a| {
                        a.get(dbuf)
                            .get(dc)
                            .i32(4)
                            .op(I::I32Mul)
                            .op(I::I32Add)
                            .load32(e, D_RULE)
                            .op(I::I32Store(at(0)));
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
                        a.get(list)
                            .get(ri)
                            .i32(4)
                            .op(I::I32Mul)
                            .op(I::I32Add)
                            .op(I::I32Load(at(0)))
                            .set(r);
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
                                    a.get(gp)
                                        .get(k)
                                        .i32(G_STRIDE)
                                        .op(I::I32Mul)
                                        .op(I::I32Add)
                                        .set(g);
                                    a.load32(g, G_FN).set(f);
                                    a.i32(1).set(tri);
                                    a.get(f).i32(NONE).op(I::I32Ne);
                                    a.if_(|a| {
                                        a.get(req)
                                            .get(fresh)
                                            .get(f)
                                            .op(I::CallIndirect {
                                                type_index: TY_2_1,
                                                table_index: 0,
                                            })
                                            .set(tri);
                                    });
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
                                            a.i32(ROLE_STRIDE)
                                                .op(I::I32Mul)
                                                .i32(t.roles)
                                                .op(I::I32Add)
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
                                        a.get(gbuf)
                                            .get(gc)
                                            .i32(8)
                                            .op(I::I32Mul)
                                            .op(I::I32Add)
                                            .tee(e)
                                            .get(r)
                                            .op(I::I32Store(at(0)));
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
        a.for_range(
            k,
            |a| {
                a.i32(t.n_break_glass);
            },
            |a| {
                a.get(mask)
                    .get(k)
                    .op(I::I64ExtendI32U)
                    .op(I::I64ShrU)
                    .i64(1)
                    .op(I::I64And)
                    .op(I::I32WrapI64);
                a.if_(|a| {
                    a.get(gbuf)
                        .get(gc)
                        .i32(8)
                        .op(I::I32Mul)
                        .op(I::I32Add)
                        .tee(e)
                        .i32(NONE)
                        .op(I::I32Store(at(0)));
                    a.get(e).get(k).op(I::I32Store(at(4)));
                    a.inc(gc);
                });
            },
        );
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
    fn buffers(&self, a: &mut Asm, ent: u32, lent_len: u32, held_len: u32, dbuf: u32, gbuf: u32) {
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

    /// `step_up(req, open, lent, lent_len, action, dbuf, dc, out)`: writes (has, mfa, limit)
    /// at `out`: whether fresh authentication (and a second factor) would allow the request.
    fn step_up(&self) -> Function {
        let t = self.t;
        let lay = self.lay;
        let (req, open, lent, lent_len, act, dbuf, dc, out) = (0, 1, 2, 3, 4, 5, 6, 7);
        let mut a = Asm::new(8);
        let ent = a.i32_local();
        let d2 = a.i32_local();
        let g2 = a.i32_local();
        let packed = a.i64_local();
        let mfa = a.i32_local();
        let limit = a.i64_local();
        let k = a.i32_local();
        let r = a.i32_local();
        let x = a.i64_local();
        let held_len = a.i32_local();
        let gc = a.i32_local();

        a.get(act)
            .i32(A_STRIDE)
            .op(I::I32Mul)
            .i32(t.actions)
            .op(I::I32Add)
            .set(ent);
        a.load32(req, lay.req_roles + 4).set(held_len);
        self.buffers(&mut a, ent, lent_len, held_len, d2, g2);
        a.get(out).i32(0).op(I::I32Store(at(0)));
        // passes(fresh) = no deny, some grant, scopes allow.
        let passes = |a: &mut Asm, mode: u32| {
            a.get(req)
                .i32(mode)
                .get(open)
                .get(lent)
                .get(lent_len)
                .get(d2)
                .get(g2)
                .get(act)
                .op(I::Call(F_OUTCOME))
                .set(packed);
            a.get(packed).i64(32).op(I::I64ShrU).op(I::I64Eqz);
            a.get(packed)
                .i64(0xffff_ffff)
                .op(I::I64And)
                .i64(0)
                .op(I::I64Ne)
                .op(I::I32And);
            a.get(req).get(act).op(I::Call(F_SCOPE_OK)).op(I::I32And);
        };
        passes(&mut a, 1);
        a.if_else(
            |a| {
                a.set_i32(mfa, 0);
            },
            |a| {
                passes(a, 2);
                a.op(I::I32Eqz);
                a.if_(|a| {
                    a.op(I::Return);
                });
                a.load8(req, lay.req_mfa).op(I::I32Eqz).set(mfa);
            },
        );
        a.i64(NO_LIMIT).set(limit);
        let min = |a: &mut Asm| {
            // limit = min(limit, x)
            a.get(limit)
                .get(x)
                .get(limit)
                .get(x)
                .op(I::I64LtU)
                .op(I::Select)
                .set(limit);
        };
        a.for_range(
            k,
            |a| {
                a.get(dc);
            },
            |a| {
                a.get(dbuf)
                    .get(k)
                    .i32(4)
                    .op(I::I32Mul)
                    .op(I::I32Add)
                    .op(I::I32Load(at(0)));
                a.i32(RULE_STRIDE)
                    .op(I::I32Mul)
                    .i32(t.rules)
                    .op(I::I32Add)
                    .op(I::I64Load(at(RULE_AGE)))
                    .set(x);
                min(a);
            },
        );
        a.get(packed).op(I::I32WrapI64).set(gc);
        a.for_range(
            k,
            |a| {
                a.get(gc);
            },
            |a| {
                a.get(g2)
                    .get(k)
                    .i32(8)
                    .op(I::I32Mul)
                    .op(I::I32Add)
                    .op(I::I32Load(at(0)))
                    .set(r);
                a.get(r).i32(NONE).op(I::I32Ne);
                a.if_(|a| {
                    a.get(g2)
                        .get(k)
                        .i32(8)
                        .op(I::I32Mul)
                        .op(I::I32Add)
                        .op(I::I32Load(at(4)));
                    a.i32(RULE_STRIDE)
                        .op(I::I32Mul)
                        .i32(t.rules)
                        .op(I::I32Add)
                        .op(I::I64Load(at(RULE_AGE)))
                        .set(x);
                    min(a);
                    a.get(r)
                        .i32(ROLE_STRIDE)
                        .op(I::I32Mul)
                        .i32(t.roles)
                        .op(I::I32Add)
                        .op(I::I64Load(at(ROLE_AGE)))
                        .set(x);
                    min(a);
                });
            },
        );
        a.get(out).i32(1).op(I::I32Store(at(0)));
        a.get(out).get(mfa).op(I::I32Store(at(4)));
        a.get(out).get(limit).op(I::I64Store(at(8)));
        a.finish()
    }

    /// `put_reason(at, code, rule, role, break_glass, max_age, mfa)`; NONE / NO_LIMIT = absent.
    fn put_reason(&self) -> Function {
        let lay = self.lay;
        let (p, code, rule, role, bg, age, mfa) = (0, 1, 2, 3, 4, 5, 6);
        let mut a = Asm::new(7);
        a.get(p).get(code).op(I::I32Store8(at(lay.r_code)));
        for (field, local) in [
            (lay.r_rule, rule),
            (lay.r_role, role),
            (lay.r_break_glass, bg),
        ] {
            a.get(p)
                .get(local)
                .i32(NONE)
                .op(I::I32Ne)
                .op(I::I32Store8(at(field)));
            a.get(p)
                .get(local)
                .op(I::I32Store(at(field + lay.opt_u32_payload)));
        }
        a.get(p)
            .get(age)
            .i64(NO_LIMIT)
            .op(I::I64Ne)
            .op(I::I32Store8(at(lay.r_max_age)));
        a.get(p)
            .get(age)
            .op(I::I64Store(at(lay.r_max_age + lay.opt_u64_payload)));
        a.get(p)
            .get(mfa)
            .i32(0)
            .op(I::I32Ne)
            .op(I::I32Store8(at(lay.r_mfa)));
        a.finish()
    }

    fn authorize(&self) -> Function {
        let t = self.t;
        let lay = self.lay;
        let req = 0;
        let mut a = Asm::new(1);
        let ret = a.i32_local();
        let act = a.i32_local();
        let ent = a.i32_local();
        let m = a.i32_local();
        let open = a.i64_local();
        let i = a.i32_local();
        let j = a.i32_local();
        let bge = a.i32_local();
        let tri = a.i32_local();
        let em = a.i32_local();
        let lent = a.i32_local();
        let lent_len = a.i32_local();
        let r = a.i32_local();
        let dbuf = a.i32_local();
        let gbuf = a.i32_local();
        let packed = a.i64_local();
        let dc = a.i32_local();
        let gc = a.i32_local();
        let sres = a.i32_local();
        let n = a.i32_local();
        let rp = a.i32_local();
        let k = a.i32_local();
        let obl = a.i32_local();
        let ol = a.i32_local();
        let fe = a.i32_local();
        let e = a.i32_local();
        let elapsed = a.i64_local();
        let held = a.i32_local();
        let held_len = a.i32_local();

        let rsize = lay.reason_size;
        let osize = lay.obl_size;
        let write_decision = |a: &mut Asm, allow: u32, rp: u32, n: u32, obl: Option<(u32, u32)>| {
            a.get(ret).i32(allow).op(I::I32Store8(at(lay.dec_allow)));
            a.get(ret).get(rp).op(I::I32Store(at(lay.dec_reasons)));
            a.get(ret).get(n).op(I::I32Store(at(lay.dec_reasons + 4)));
            match obl {
                Some((p, l)) => {
                    a.get(ret).get(p).op(I::I32Store(at(lay.dec_obligations)));
                    a.get(ret)
                        .get(l)
                        .op(I::I32Store(at(lay.dec_obligations + 4)));
                }
                None => {
                    a.get(ret).i32(0).op(I::I32Store(at(lay.dec_obligations)));
                    a.get(ret)
                        .i32(0)
                        .op(I::I32Store(at(lay.dec_obligations + 4)));
                }
            }
        };
        let deny1 = |a: &mut Asm, code: u32| {
            a.i32(rsize)
                .i32(lay.reason_align)
                .op(I::Call(F_ALLOC))
                .set(rp);
            a.get(rp)
                .i32(code)
                .i32(NONE)
                .i32(NONE)
                .i32(NONE)
                .i64(NO_LIMIT)
                .i32(0)
                .op(I::Call(F_PUT_REASON));
            a.set_i32(n, 1);
            write_decision(a, 0, rp, n, None);
            a.get(ret).op(I::Return);
        };

        a.i32(lay.dec_size)
            .i32(lay.dec_align)
            .op(I::Call(F_ALLOC))
            .set(ret);
        // The action must be one the manifest knows.
        a.load8(req, lay.req_action).op(I::I32Eqz);
        a.if_(|a| deny1(a, lay.code_unknown_action));
        a.load32(req, lay.req_action + lay.action_payload).set(act);
        a.get(act).i32(t.n_actions).op(I::I32GeU);
        a.if_(|a| deny1(a, lay.code_unknown_action));
        a.get(act)
            .i32(A_STRIDE)
            .op(I::I32Mul)
            .i32(t.actions)
            .op(I::I32Add)
            .set(ent);
        // ... and exist for this practice: its module subscribed.
        a.load32(ent, A_MODULE).set(m);
        a.get(m).i32(NONE).op(I::I32Ne);
        a.if_(|a| {
            a.load64(req, lay.req_modules)
                .get(m)
                .op(I::I64ExtendI32U)
                .op(I::I64ShrU)
                .i64(1)
                .op(I::I64And)
                .op(I::I64Eqz);
            a.if_(|a| deny1(a, lay.code_module_not_subscribed));
        });

        // Break-glass entries open for this request.
        a.i64(0).set(open);
        a.load8(req, lay.req_emergency);
        a.if_(|a| {
            a.get(req)
                .i32(lay.req_emergency + lay.emergency_payload)
                .op(I::I32Add)
                .set(em);
            a.for_range(
                i,
                |a| {
                    a.i32(t.n_break_glass);
                },
                |a| {
                    a.get(i)
                        .i32(BG_STRIDE)
                        .op(I::I32Mul)
                        .i32(t.break_glass)
                        .op(I::I32Add)
                        .set(bge);
                    a.set_i32(tri, 0);
                    a.load32(bge, BG_WHO).i32(NONE).op(I::I32Ne);
                    a.if_(|a| {
                        a.get(req)
                            .i32(0)
                            .load32(bge, BG_WHO)
                            .op(I::CallIndirect {
                                type_index: TY_2_1,
                                table_index: 0,
                            })
                            .set(tri);
                    });
                    // who holds, and a reason is given when one is required ...
                    a.get(tri).i32(1).op(I::I32Eq);
                    a.load32(bge, BG_REASON)
                        .op(I::I32Eqz)
                        .load8(em, lay.em_reason)
                        .op(I::I32Or)
                        .op(I::I32And);
                    a.if_(|a| {
                        // ... and it has not run out.
                        a.set_i32(tri, 1);
                        a.load8(em, lay.em_started);
                        a.if_(|a| {
                            a.load64(req, lay.req_now)
                                .load64(em, lay.em_started + lay.em_started_payload)
                                .op(I::I64Sub)
                                .set(elapsed);
                            a.get(elapsed).i64(0).op(I::I64LtS);
                            a.get(elapsed)
                                .load64(bge, BG_MAX)
                                .op(I::I64GtU)
                                .op(I::I32Or);
                            a.if_(|a| {
                                a.set_i32(tri, 0);
                            });
                        });
                        a.get(tri);
                        a.if_(|a| {
                            a.get(open)
                                .i64(1)
                                .get(i)
                                .op(I::I64ExtendI32U)
                                .op(I::I64Shl)
                                .op(I::I64Or)
                                .set(open);
                        });
                    });
                },
            );
        });

        // Roles lent by open break-glass entries, in order, without repeats.
        a.load32(req, lay.req_roles).set(held);
        a.load32(req, lay.req_roles + 4).set(held_len);
        a.i32(4 * t.total_bg_roles + 4)
            .i32(4)
            .op(I::Call(F_ALLOC))
            .set(lent);
        a.set_i32(lent_len, 0);
        a.for_range(
            i,
            |a| {
                a.i32(t.n_break_glass);
            },
            |a| {
                a.get(open)
                    .get(i)
                    .op(I::I64ExtendI32U)
                    .op(I::I64ShrU)
                    .i64(1)
                    .op(I::I64And)
                    .op(I::I32WrapI64);
                a.if_(|a| {
                    a.get(i)
                        .i32(BG_STRIDE)
                        .op(I::I32Mul)
                        .i32(t.break_glass)
                        .op(I::I32Add)
                        .set(bge);
                    a.for_range(
                        j,
                        |a| {
                            a.load32(bge, BG_ROLES_LEN);
                        },
                        |a| {
                            a.load32(bge, BG_ROLES)
                                .get(j)
                                .i32(4)
                                .op(I::I32Mul)
                                .op(I::I32Add)
                                .op(I::I32Load(at(0)))
                                .set(r);
                            a.get(held).get(held_len).get(r).op(I::Call(F_CONTAINS));
                            a.get(lent)
                                .get(lent_len)
                                .get(r)
                                .op(I::Call(F_CONTAINS))
                                .op(I::I32Or)
                                .op(I::I32Eqz);
                            a.if_(|a| {
                                a.get(lent)
                                    .get(lent_len)
                                    .i32(4)
                                    .op(I::I32Mul)
                                    .op(I::I32Add)
                                    .get(r)
                                    .op(I::I32Store(at(0)));
                                a.inc(lent_len);
                            });
                        },
                    );
                });
            },
        );

        self.buffers(&mut a, ent, lent_len, held_len, dbuf, gbuf);
        a.get(req)
            .i32(0)
            .get(open)
            .get(lent)
            .get(lent_len)
            .get(dbuf)
            .get(gbuf)
            .get(act)
            .op(I::Call(F_OUTCOME))
            .set(packed);
        a.get(packed)
            .i64(32)
            .op(I::I64ShrU)
            .op(I::I32WrapI64)
            .set(dc);
        a.get(packed).op(I::I32WrapI64).set(gc);

        // Denied: by rules, or for want of a grant; say whether re-authenticating would help.
        a.get(dc).get(gc).op(I::I32Eqz).op(I::I32Or);
        a.if_(|a| {
            a.i32(16).i32(8).op(I::Call(F_ALLOC)).set(sres);
            a.get(req)
                .get(open)
                .get(lent)
                .get(lent_len)
                .get(act)
                .get(dbuf)
                .get(dc)
                .get(sres)
                .op(I::Call(F_STEP_UP));
            a.get(dc)
                .get(gc)
                .op(I::I32Eqz)
                .op(I::I32Add)
                .load32(sres, 0)
                .op(I::I32Add)
                .set(n);
            a.get(n)
                .i32(rsize)
                .op(I::I32Mul)
                .i32(lay.reason_align)
                .op(I::Call(F_ALLOC))
                .set(rp);
            a.for_range(
                k,
                |a| {
                    a.get(dc);
                },
                |a| {
                    a.get(dbuf)
                        .get(k)
                        .i32(4)
                        .op(I::I32Mul)
                        .op(I::I32Add)
                        .op(I::I32Load(at(0)))
                        .set(r);
                    a.get(rp).get(k).i32(rsize).op(I::I32Mul).op(I::I32Add);
                    a.i32(lay.code_requirement_not_met)
                        .i32(lay.code_denied_by_rule);
                    a.get(r)
                        .i32(RULE_STRIDE)
                        .op(I::I32Mul)
                        .i32(t.rules)
                        .op(I::I32Add)
                        .op(I::I32Load(at(RULE_REQUIRE)));
                    a.op(I::Select);
                    a.get(r)
                        .i32(NONE)
                        .i32(NONE)
                        .i64(NO_LIMIT)
                        .i32(0)
                        .op(I::Call(F_PUT_REASON));
                },
            );
            a.get(dc).set(k);
            a.get(gc).op(I::I32Eqz);
            a.if_(|a| {
                a.get(rp).get(k).i32(rsize).op(I::I32Mul).op(I::I32Add);
                a.i32(lay.code_no_grant)
                    .i32(NONE)
                    .i32(NONE)
                    .i32(NONE)
                    .i64(NO_LIMIT)
                    .i32(0)
                    .op(I::Call(F_PUT_REASON));
                a.inc(k);
            });
            a.load32(sres, 0);
            a.if_(|a| {
                a.get(rp).get(k).i32(rsize).op(I::I32Mul).op(I::I32Add);
                a.i32(lay.code_step_up).i32(NONE).i32(NONE).i32(NONE);
                a.load64(sres, 8).load32(sres, 4).op(I::Call(F_PUT_REASON));
            });
            write_decision(a, 0, rp, n, None);
            a.get(ret).op(I::Return);
        });

        a.get(req).get(act).op(I::Call(F_SCOPE_OK)).op(I::I32Eqz);
        a.if_(|a| deny1(a, lay.code_scope));

        // Allowed: every grant is a reason.
        a.get(gc)
            .i32(rsize)
            .op(I::I32Mul)
            .i32(lay.reason_align)
            .op(I::Call(F_ALLOC))
            .set(rp);
        a.for_range(
            k,
            |a| {
                a.get(gc);
            },
            |a| {
                a.get(gbuf).get(k).i32(8).op(I::I32Mul).op(I::I32Add).set(e);
                a.load32(e, 0).set(r);
                a.get(r).i32(NONE).op(I::I32Eq);
                a.if_else(
                    |a| {
                        a.get(rp).get(k).i32(rsize).op(I::I32Mul).op(I::I32Add);
                        a.i32(lay.code_break_glass).i32(NONE).i32(NONE).load32(e, 4);
                        a.i64(NO_LIMIT).i32(0).op(I::Call(F_PUT_REASON));
                    },
                    |a| {
                        a.get(rp).get(k).i32(rsize).op(I::I32Mul).op(I::I32Add);
                        a.i32(lay.code_granted).load32(e, 4).get(r).i32(NONE);
                        a.i64(NO_LIMIT).i32(0).op(I::Call(F_PUT_REASON));
                    },
                );
            },
        );

        // Obligations: redactions of the action's feature, then break-glass audit and alerts.
        a.load32(ent, A_FEATURE)
            .i32(F_STRIDE)
            .op(I::I32Mul)
            .i32(t.features)
            .op(I::I32Add)
            .set(fe);
        a.load32(fe, F_RED_LEN)
            .i32(2 * t.n_break_glass)
            .op(I::I32Add)
            .i32(osize)
            .op(I::I32Mul);
        a.i32(lay.obl_align).op(I::Call(F_ALLOC)).set(obl);
        a.set_i32(ol, 0);
        let put_obl = |a: &mut Asm, case: u32, value: &dyn Fn(&mut Asm)| {
            a.get(obl)
                .get(ol)
                .i32(osize)
                .op(I::I32Mul)
                .op(I::I32Add)
                .tee(e)
                .i32(case)
                .op(I::I32Store8(at(0)));
            a.get(e);
            value(a);
            a.op(I::I32Store(at(lay.obl_payload)));
            a.inc(ol);
        };
        a.for_range(
            k,
            |a| {
                a.load32(fe, F_RED_LEN);
            },
            |a| {
                a.load32(fe, F_RED)
                    .get(k)
                    .i32(RED_STRIDE)
                    .op(I::I32Mul)
                    .op(I::I32Add)
                    .set(bge);
                a.set_i32(tri, 0);
                a.load32(bge, 4).i32(NONE).op(I::I32Ne);
                a.if_(|a| {
                    a.get(req)
                        .i32(0)
                        .load32(bge, 4)
                        .op(I::CallIndirect {
                            type_index: TY_2_1,
                            table_index: 0,
                        })
                        .set(tri);
                });
                a.get(tri).i32(1).op(I::I32Ne);
                a.if_(|a| {
                    put_obl(a, lay.obl_redact, &|a| {
                        a.load32(bge, 0);
                    })
                });
            },
        );
        a.for_range(
            i,
            |a| {
                a.i32(t.n_break_glass);
            },
            |a| {
                a.get(open)
                    .get(i)
                    .op(I::I64ExtendI32U)
                    .op(I::I64ShrU)
                    .i64(1)
                    .op(I::I64And)
                    .op(I::I32WrapI64);
                a.if_(|a| {
                    put_obl(a, lay.obl_audit, &|a| {
                        a.get(i);
                    });
                    a.get(i)
                        .i32(BG_STRIDE)
                        .op(I::I32Mul)
                        .i32(t.break_glass)
                        .op(I::I32Add)
                        .set(bge);
                    a.load32(bge, BG_ALERT);
                    a.if_(|a| {
                        put_obl(a, lay.obl_alert, &|a| {
                            a.get(i);
                        })
                    });
                });
            },
        );
        write_decision(&mut a, 1, rp, gc, Some((obl, ol)));
        a.get(ret);
        a.finish()
    }
}

/// `cabi_realloc(old, old_size, align, new_size) -> ptr`: bump allocation.
fn realloc() -> Function {
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
fn alloc() -> Function {
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
fn bytes_eq() -> Function {
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
fn bytes_cmp() -> Function {
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
fn contains() -> Function {
    let (p, l, v) = (0, 1, 2);
    let mut a = Asm::new(3);
    let i = a.i32_local();
    a.for_range(
        i,
        |a| {
            a.get(l);
        },
        |a| {
            a.get(p)
                .get(i)
                .i32(4)
                .op(I::I32Mul)
                .op(I::I32Add)
                .op(I::I32Load(at(0)))
                .get(v)
                .op(I::I32Eq);
            a.if_(|a| {
                a.i32(1).op(I::Return);
            });
        },
    );
    a.i32(0);
    a.finish()
}

/// `contains_any(p1, l1, p2, l2) -> bool`: some element of the first list is in the second.
fn contains_any() -> Function {
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
            a.get(p1)
                .get(i)
                .i32(4)
                .op(I::I32Mul)
                .op(I::I32Add)
                .op(I::I32Load(at(0)));
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
fn post() -> Function {
    let mut a = Asm::new(1);
    a.op(I::GlobalGet(1)).op(I::GlobalSet(HEAP));
    a.finish()
}
