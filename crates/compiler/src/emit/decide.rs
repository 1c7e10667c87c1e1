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
        let mut a = Asm::new(1);
        let l = Locals::new(&mut a);
        a.i32(self.lay.dec_size)
            .i32(self.lay.dec_align)
            .op(I::Call(F_ALLOC))
            .set(l.ret);
        self.admit_action(&mut a, &l);
        self.open_break_glass(&mut a, &l);
        self.lend_roles(&mut a, &l);
        self.rules_outcome(&mut a, &l);
        self.deny_or_step_up(&mut a, &l);
        // Only a request the rules allow is held against the key's scopes.
        a.get(l.req)
            .get(l.act)
            .op(I::Call(F_SCOPE_OK))
            .op(I::I32Eqz);
        a.if_(|a| self.deny1(a, &l, self.lay.code_scope));
        self.grant_reasons(&mut a, &l);
        self.obligations(&mut a, &l);
        self.write_decision(&mut a, &l, 1, l.rp, l.gc, Some((l.obl, l.ol)));
        a.get(l.ret);
        a.finish()
    }

    /// Writes the decision record at `ret`: allowed or not, its reasons and obligations.
    fn write_decision(
        &self,
        a: &mut Asm,
        l: &Locals,
        allow: u32,
        rp: u32,
        n: u32,
        obl: Option<(u32, u32)>,
    ) {
        let lay = self.lay;
        a.get(l.ret).i32(allow).op(I::I32Store8(at(lay.dec_allow)));
        a.get(l.ret).get(rp).op(I::I32Store(at(lay.dec_reasons)));
        a.get(l.ret).get(n).op(I::I32Store(at(lay.dec_reasons + 4)));
        match obl {
            Some((p, len)) => {
                a.get(l.ret).get(p).op(I::I32Store(at(lay.dec_obligations)));
                a.get(l.ret)
                    .get(len)
                    .op(I::I32Store(at(lay.dec_obligations + 4)));
            }
            None => {
                a.get(l.ret).i32(0).op(I::I32Store(at(lay.dec_obligations)));
                a.get(l.ret)
                    .i32(0)
                    .op(I::I32Store(at(lay.dec_obligations + 4)));
            }
        }
    }

    /// Returns a denial with one reason, `code`.
    fn deny1(&self, a: &mut Asm, l: &Locals, code: u32) {
        let lay = self.lay;
        a.i32(lay.reason_size)
            .i32(lay.reason_align)
            .op(I::Call(F_ALLOC))
            .set(l.rp);
        a.get(l.rp)
            .i32(code)
            .i32(NONE)
            .i32(NONE)
            .i32(NONE)
            .i64(NO_LIMIT)
            .i32(0)
            .op(I::Call(F_PUT_REASON));
        a.set_i32(l.n, 1);
        self.write_decision(a, l, 0, l.rp, l.n, None);
        a.get(l.ret).op(I::Return);
    }

    /// Appends an obligation of kind `case` whose payload `value` pushes.
    fn put_obl(&self, a: &mut Asm, l: &Locals, case: u32, value: &dyn Fn(&mut Asm)) {
        let lay = self.lay;
        a.elem(l.obl, l.ol, lay.obl_size)
            .tee(l.e)
            .i32(case)
            .op(I::I32Store8(at(0)));
        a.get(l.e);
        value(a);
        a.op(I::I32Store(at(lay.obl_payload)));
        a.inc(l.ol);
    }

    /// The action must be known, and its module subscribed by the practice.
    fn admit_action(&self, a: &mut Asm, l: &Locals) {
        let t = self.t;
        let lay = self.lay;
        // The action must be one the manifest knows.
        a.load8(l.req, lay.req_action).op(I::I32Eqz);
        a.if_(|a| self.deny1(a, l, lay.code_unknown_action));
        a.load32(l.req, lay.req_action + lay.action_payload)
            .set(l.act);
        a.get(l.act).i32(t.n_actions).op(I::I32GeU);
        a.if_(|a| self.deny1(a, l, lay.code_unknown_action));
        a.get(l.act).row(A_STRIDE, t.actions).set(l.ent);
        // ... and exist for this practice: its module subscribed.
        a.load32(l.ent, A_MODULE).set(l.m);
        a.get(l.m).i32(NONE).op(I::I32Ne);
        a.if_(|a| {
            a.load64(l.req, lay.req_modules)
                .get(l.m)
                .op(I::I64ExtendI32U)
                .op(I::I64ShrU)
                .i64(1)
                .op(I::I64And)
                .op(I::I64Eqz);
            a.if_(|a| self.deny1(a, l, lay.code_module_not_subscribed));
        });
    }

    /// Sets `open`: the break-glass entries open for this request.
    fn open_break_glass(&self, a: &mut Asm, l: &Locals) {
        let t = self.t;
        let lay = self.lay;
        // Break-glass entries open for this request.
        a.i64(0).set(l.open);
        a.load8(l.req, lay.req_emergency);
        a.if_(|a| {
            a.get(l.req)
                .i32(lay.req_emergency + lay.emergency_payload)
                .op(I::I32Add)
                .set(l.em);
            a.for_range(
                l.i,
                |a| {
                    a.i32(t.n_break_glass);
                },
                |a| {
                    a.get(l.i).row(BG_STRIDE, t.break_glass).set(l.bge);
                    call_cond(
                        a,
                        l.req,
                        &|a| {
                            a.i32(0);
                        },
                        &|a| {
                            a.load32(l.bge, BG_WHO);
                        },
                        l.tri,
                        0,
                    );
                    // who holds, and a reason is given when one is required ...
                    a.get(l.tri).i32(1).op(I::I32Eq);
                    a.load32(l.bge, BG_REASON)
                        .op(I::I32Eqz)
                        .load8(l.em, lay.em_reason)
                        .op(I::I32Or)
                        .op(I::I32And);
                    a.if_(|a| {
                        // ... and it has not run out.
                        a.set_i32(l.tri, 1);
                        a.load8(l.em, lay.em_started);
                        a.if_(|a| {
                            a.load64(l.req, lay.req_now)
                                .load64(l.em, lay.em_started + lay.em_started_payload)
                                .op(I::I64Sub)
                                .set(l.elapsed);
                            a.get(l.elapsed).i64(0).op(I::I64LtS);
                            a.get(l.elapsed)
                                .load64(l.bge, BG_MAX)
                                .op(I::I64GtU)
                                .op(I::I32Or);
                            a.if_(|a| {
                                a.set_i32(l.tri, 0);
                            });
                        });
                        a.get(l.tri);
                        a.if_(|a| {
                            a.get(l.open)
                                .i64(1)
                                .get(l.i)
                                .op(I::I64ExtendI32U)
                                .op(I::I64Shl)
                                .op(I::I64Or)
                                .set(l.open);
                        });
                    });
                },
            );
        });
    }

    /// Collects in `lent` the roles the open entries lend, in order, without repeats.
    fn lend_roles(&self, a: &mut Asm, l: &Locals) {
        let t = self.t;
        let lay = self.lay;
        // Roles lent by open break-glass entries, in order, without repeats.
        a.load32(l.req, lay.req_roles).set(l.held);
        a.load32(l.req, lay.req_roles + 4).set(l.held_len);
        a.i32(4 * t.total_bg_roles + 4)
            .i32(4)
            .op(I::Call(F_ALLOC))
            .set(l.lent);
        a.set_i32(l.lent_len, 0);
        for_each_bit(a, l.i, l.open, t.n_break_glass, |a| {
            a.get(l.i).row(BG_STRIDE, t.break_glass).set(l.bge);
            a.for_range(
                l.j,
                |a| {
                    a.load32(l.bge, BG_ROLES_LEN);
                },
                |a| {
                    a.load32(l.bge, BG_ROLES)
                        .get(l.j)
                        .i32(4)
                        .op(I::I32Mul)
                        .op(I::I32Add)
                        .op(I::I32Load(at(0)))
                        .set(l.r);
                    a.get(l.held)
                        .get(l.held_len)
                        .get(l.r)
                        .op(I::Call(F_CONTAINS));
                    a.get(l.lent)
                        .get(l.lent_len)
                        .get(l.r)
                        .op(I::Call(F_CONTAINS))
                        .op(I::I32Or)
                        .op(I::I32Eqz);
                    a.if_(|a| {
                        a.elem(l.lent, l.lent_len, 4)
                            .get(l.r)
                            .op(I::I32Store(at(0)));
                        a.inc(l.lent_len);
                    });
                },
            );
        });
    }

    /// Runs the rules: the denying rules in `dbuf` (`dc`), the grants in `gbuf` (`gc`).
    fn rules_outcome(&self, a: &mut Asm, l: &Locals) {
        self.buffers(a, l.ent, l.lent_len, l.held_len, l.dbuf, l.gbuf);
        a.get(l.req)
            .i32(0)
            .get(l.open)
            .get(l.lent)
            .get(l.lent_len)
            .get(l.dbuf)
            .get(l.gbuf)
            .get(l.act)
            .op(I::Call(F_OUTCOME))
            .set(l.packed);
        a.get(l.packed)
            .i64(32)
            .op(I::I64ShrU)
            .op(I::I32WrapI64)
            .set(l.dc);
        a.get(l.packed).op(I::I32WrapI64).set(l.gc);
    }

    /// Denied: by rules, or for want of a grant; says whether re-authenticating would help.
    fn deny_or_step_up(&self, a: &mut Asm, l: &Locals) {
        let t = self.t;
        let lay = self.lay;
        let rsize = self.lay.reason_size;
        // Denied: by rules, or for want of a grant; say whether re-authenticating would help.
        a.get(l.dc).get(l.gc).op(I::I32Eqz).op(I::I32Or);
        a.if_(|a| {
            a.i32(16).i32(8).op(I::Call(F_ALLOC)).set(l.sres);
            a.get(l.req)
                .get(l.open)
                .get(l.lent)
                .get(l.lent_len)
                .get(l.act)
                .get(l.dbuf)
                .get(l.dc)
                .get(l.sres)
                .op(I::Call(F_STEP_UP));
            a.get(l.dc)
                .get(l.gc)
                .op(I::I32Eqz)
                .op(I::I32Add)
                .load32(l.sres, 0)
                .op(I::I32Add)
                .set(l.n);
            a.get(l.n)
                .i32(rsize)
                .op(I::I32Mul)
                .i32(lay.reason_align)
                .op(I::Call(F_ALLOC))
                .set(l.rp);
            a.for_range(
                l.k,
                |a| {
                    a.get(l.dc);
                },
                |a| {
                    a.elem(l.dbuf, l.k, 4).op(I::I32Load(at(0))).set(l.r);
                    a.elem(l.rp, l.k, rsize);
                    a.i32(lay.code_requirement_not_met)
                        .i32(lay.code_denied_by_rule);
                    a.get(l.r)
                        .row(RULE_STRIDE, t.rules)
                        .op(I::I32Load(at(RULE_REQUIRE)));
                    a.op(I::Select);
                    a.get(l.r)
                        .i32(NONE)
                        .i32(NONE)
                        .i64(NO_LIMIT)
                        .i32(0)
                        .op(I::Call(F_PUT_REASON));
                },
            );
            a.get(l.dc).set(l.k);
            a.get(l.gc).op(I::I32Eqz);
            a.if_(|a| {
                a.elem(l.rp, l.k, rsize);
                a.i32(lay.code_no_grant)
                    .i32(NONE)
                    .i32(NONE)
                    .i32(NONE)
                    .i64(NO_LIMIT)
                    .i32(0)
                    .op(I::Call(F_PUT_REASON));
                a.inc(l.k);
            });
            a.load32(l.sres, 0);
            a.if_(|a| {
                a.elem(l.rp, l.k, rsize);
                a.i32(lay.code_step_up).i32(NONE).i32(NONE).i32(NONE);
                a.load64(l.sres, 8)
                    .load32(l.sres, 4)
                    .op(I::Call(F_PUT_REASON));
            });
            self.write_decision(a, l, 0, l.rp, l.n, None);
            a.get(l.ret).op(I::Return);
        });
    }

    /// Allowed: every grant is a reason.
    fn grant_reasons(&self, a: &mut Asm, l: &Locals) {
        let lay = self.lay;
        let rsize = self.lay.reason_size;
        // Allowed: every grant is a reason.
        a.get(l.gc)
            .i32(rsize)
            .op(I::I32Mul)
            .i32(lay.reason_align)
            .op(I::Call(F_ALLOC))
            .set(l.rp);
        a.for_range(
            l.k,
            |a| {
                a.get(l.gc);
            },
            |a| {
                a.elem(l.gbuf, l.k, 8).set(l.e);
                a.load32(l.e, 0).set(l.r);
                a.get(l.r).i32(NONE).op(I::I32Eq);
                a.if_else(
                    |a| {
                        a.elem(l.rp, l.k, rsize);
                        a.i32(lay.code_break_glass)
                            .i32(NONE)
                            .i32(NONE)
                            .load32(l.e, 4);
                        a.i64(NO_LIMIT).i32(0).op(I::Call(F_PUT_REASON));
                    },
                    |a| {
                        a.elem(l.rp, l.k, rsize);
                        a.i32(lay.code_granted).load32(l.e, 4).get(l.r).i32(NONE);
                        a.i64(NO_LIMIT).i32(0).op(I::Call(F_PUT_REASON));
                    },
                );
            },
        );
    }

    /// Obligations: redactions of the action's feature, then break-glass audit and alerts.
    fn obligations(&self, a: &mut Asm, l: &Locals) {
        let t = self.t;
        let lay = self.lay;
        let osize = self.lay.obl_size;
        // Obligations: redactions of the action's feature, then break-glass audit and alerts.
        a.load32(l.ent, A_FEATURE)
            .row(F_STRIDE, t.features)
            .set(l.fe);
        a.load32(l.fe, F_RED_LEN)
            .i32(2 * t.n_break_glass)
            .op(I::I32Add)
            .i32(osize)
            .op(I::I32Mul);
        a.i32(lay.obl_align).op(I::Call(F_ALLOC)).set(l.obl);
        a.set_i32(l.ol, 0);
        a.for_range(
            l.k,
            |a| {
                a.load32(l.fe, F_RED_LEN);
            },
            |a| {
                a.load32(l.fe, F_RED)
                    .get(l.k)
                    .i32(RED_STRIDE)
                    .op(I::I32Mul)
                    .op(I::I32Add)
                    .set(l.bge);
                call_cond(
                    a,
                    l.req,
                    &|a| {
                        a.i32(0);
                    },
                    &|a| {
                        a.load32(l.bge, 4);
                    },
                    l.tri,
                    0,
                );
                a.get(l.tri).i32(1).op(I::I32Ne);
                a.if_(|a| {
                    self.put_obl(a, l, lay.obl_redact, &|a| {
                        a.load32(l.bge, 0);
                    })
                });
            },
        );
        for_each_bit(a, l.i, l.open, t.n_break_glass, |a| {
            self.put_obl(a, l, lay.obl_audit, &|a| {
                a.get(l.i);
            });
            a.get(l.i).row(BG_STRIDE, t.break_glass).set(l.bge);
            a.load32(l.bge, BG_ALERT);
            a.if_(|a| {
                self.put_obl(a, l, lay.obl_alert, &|a| {
                    a.get(l.i);
                })
            });
        });
    }
}

/// The locals of `authorize`, in the order they are declared.
struct Locals {
    req: u32,
    ret: u32,
    act: u32,
    ent: u32,
    m: u32,
    open: u32,
    i: u32,
    j: u32,
    bge: u32,
    tri: u32,
    em: u32,
    lent: u32,
    lent_len: u32,
    r: u32,
    dbuf: u32,
    gbuf: u32,
    packed: u32,
    dc: u32,
    gc: u32,
    sres: u32,
    n: u32,
    rp: u32,
    k: u32,
    obl: u32,
    ol: u32,
    fe: u32,
    e: u32,
    elapsed: u32,
    held: u32,
    held_len: u32,
}

impl Locals {
    fn new(a: &mut Asm) -> Locals {
        Locals {
            req: 0,
            ret: a.i32_local(),
            act: a.i32_local(),
            ent: a.i32_local(),
            m: a.i32_local(),
            open: a.i64_local(),
            i: a.i32_local(),
            j: a.i32_local(),
            bge: a.i32_local(),
            tri: a.i32_local(),
            em: a.i32_local(),
            lent: a.i32_local(),
            lent_len: a.i32_local(),
            r: a.i32_local(),
            dbuf: a.i32_local(),
            gbuf: a.i32_local(),
            packed: a.i64_local(),
            dc: a.i32_local(),
            gc: a.i32_local(),
            sres: a.i32_local(),
            n: a.i32_local(),
            rp: a.i32_local(),
            k: a.i32_local(),
            obl: a.i32_local(),
            ol: a.i32_local(),
            fe: a.i32_local(),
            e: a.i32_local(),
            elapsed: a.i64_local(),
            held: a.i32_local(),
            held_len: a.i32_local(),
        }
    }
}
