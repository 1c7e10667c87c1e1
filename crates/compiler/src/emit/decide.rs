//! `authorize`: the canonical-ABI entry point, from request to decision record, including
//! break-glass, step-up and obligations.

use wasm_encoder::{Function, Instruction as I};

use super::*;
use crate::asm::{at, Asm};

impl Fixed<'_> {
    /// `step_up(req, open, lent, lent_len, action, dbuf, dc, out)`: writes (has, mfa, limit)
    /// at `out`: whether fresh authentication (and a second factor) would allow the request.
    pub(super) fn step_up(&self) -> Function {
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

        a.get(act).row(A_STRIDE, t.actions).set(ent);
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
                a.elem(dbuf, k, 4).op(I::I32Load(at(0)));
                a.row(RULE_STRIDE, t.rules)
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
                a.elem(g2, k, 8).op(I::I32Load(at(0))).set(r);
                a.get(r).i32(NONE).op(I::I32Ne);
                a.if_(|a| {
                    a.elem(g2, k, 8).op(I::I32Load(at(4)));
                    a.row(RULE_STRIDE, t.rules)
                        .op(I::I64Load(at(RULE_AGE)))
                        .set(x);
                    min(a);
                    a.get(r)
                        .row(ROLE_STRIDE, t.roles)
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
    pub(super) fn put_reason(&self) -> Function {
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

    pub(super) fn authorize(&self) -> Function {
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
        a.get(act).row(A_STRIDE, t.actions).set(ent);
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
                    a.get(i).row(BG_STRIDE, t.break_glass).set(bge);
                    call_cond(
                        a,
                        req,
                        &|a| {
                            a.i32(0);
                        },
                        &|a| {
                            a.load32(bge, BG_WHO);
                        },
                        tri,
                        0,
                    );
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
        for_each_bit(&mut a, i, open, t.n_break_glass, |a| {
            a.get(i).row(BG_STRIDE, t.break_glass).set(bge);
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
                        a.elem(lent, lent_len, 4).get(r).op(I::I32Store(at(0)));
                        a.inc(lent_len);
                    });
                },
            );
        });

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
                    a.elem(dbuf, k, 4).op(I::I32Load(at(0))).set(r);
                    a.elem(rp, k, rsize);
                    a.i32(lay.code_requirement_not_met)
                        .i32(lay.code_denied_by_rule);
                    a.get(r)
                        .row(RULE_STRIDE, t.rules)
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
                a.elem(rp, k, rsize);
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
                a.elem(rp, k, rsize);
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
                a.elem(gbuf, k, 8).set(e);
                a.load32(e, 0).set(r);
                a.get(r).i32(NONE).op(I::I32Eq);
                a.if_else(
                    |a| {
                        a.elem(rp, k, rsize);
                        a.i32(lay.code_break_glass).i32(NONE).i32(NONE).load32(e, 4);
                        a.i64(NO_LIMIT).i32(0).op(I::Call(F_PUT_REASON));
                    },
                    |a| {
                        a.elem(rp, k, rsize);
                        a.i32(lay.code_granted).load32(e, 4).get(r).i32(NONE);
                        a.i64(NO_LIMIT).i32(0).op(I::Call(F_PUT_REASON));
                    },
                );
            },
        );

        // Obligations: redactions of the action's feature, then break-glass audit and alerts.
        a.load32(ent, A_FEATURE).row(F_STRIDE, t.features).set(fe);
        a.load32(fe, F_RED_LEN)
            .i32(2 * t.n_break_glass)
            .op(I::I32Add)
            .i32(osize)
            .op(I::I32Mul);
        a.i32(lay.obl_align).op(I::Call(F_ALLOC)).set(obl);
        a.set_i32(ol, 0);
        let put_obl = |a: &mut Asm, case: u32, value: &dyn Fn(&mut Asm)| {
            a.elem(obl, ol, osize)
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
                call_cond(
                    a,
                    req,
                    &|a| {
                        a.i32(0);
                    },
                    &|a| {
                        a.load32(bge, 4);
                    },
                    tri,
                    0,
                );
                a.get(tri).i32(1).op(I::I32Ne);
                a.if_(|a| {
                    put_obl(a, lay.obl_redact, &|a| {
                        a.load32(bge, 0);
                    })
                });
            },
        );
        for_each_bit(&mut a, i, open, t.n_break_glass, |a| {
            put_obl(a, lay.obl_audit, &|a| {
                a.get(i);
            });
            a.get(i).row(BG_STRIDE, t.break_glass).set(bge);
            a.load32(bge, BG_ALERT);
            a.if_(|a| {
                put_obl(a, lay.obl_alert, &|a| {
                    a.get(i);
                })
            });
        });
        write_decision(&mut a, 1, rp, gc, Some((obl, ol)));
        a.get(ret);
        a.finish()
    }
}
