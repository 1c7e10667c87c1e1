//! Conditions to Wasm. Each condition becomes a function `(request, fresh) -> tri` returning
//! 0 (false), 1 (true) or 2 (unknown), exactly as the reference evaluator's three-valued logic.
//! `fresh` is 1 when re-evaluating as if just signed in, 2 when also with a second factor.

use wardgate_policy::ir::{CmpOp, Expr, Term, TestKind, Window};
use wardgate_policy::keys::decimal_key;
use wasm_encoder::{BlockType, Instruction as I, ValType};

use crate::abi::Data;
use crate::asm::{at, Asm};
use crate::emit::{F_BYTES_CMP, F_BYTES_EQ, F_CONTAINS};
use crate::layout::Layout;

const REQ: u32 = 0;
const FRESH: u32 = 1;

/// Where a term's value is, in locals.
enum Loc {
    /// Bytes at `ptr`, `len` long; `present` is 0 when the value is missing.
    Bytes { ptr: u32, len: u32, present: u32 },
    /// An unsigned 64-bit value.
    U64 { val: u32, present: u32 },
}

impl Loc {
    fn present(&self) -> u32 {
        match self {
            Loc::Bytes { present, .. } | Loc::U64 { present, .. } => *present,
        }
    }
}

pub struct CondGen<'a> {
    pub lay: &'a Layout,
    pub data: &'a mut Data,
    /// Where the words "user" and "service" are, for `principal.type`.
    pub user: (u32, u32),
    pub service: (u32, u32),
}

impl CondGen<'_> {
    /// A whole condition function.
    pub fn function(&mut self, e: &Expr) -> wasm_encoder::Function {
        let mut asm = Asm::new(2);
        self.expr(&mut asm, e);
        asm.finish()
    }

    fn expr(&mut self, asm: &mut Asm, e: &Expr) {
        match e {
            Expr::All(v) | Expr::Any(v) => {
                // All: any false -> false; else any unknown -> unknown; else true. Any: dual.
                let all = matches!(e, Expr::All(_));
                let (short, start) = if all { (0, 1) } else { (1, 0) };
                let acc = asm.i32_local();
                let tmp = asm.i32_local();
                asm.set_i32(acc, start);
                asm.op(I::Block(BlockType::Result(ValType::I32)));
                for x in v {
                    self.expr(asm, x);
                    asm.set(tmp);
                    asm.i32(short)
                        .get(tmp)
                        .i32(short)
                        .op(I::I32Eq)
                        .op(I::BrIf(0))
                        .op(I::Drop);
                    asm.get(tmp).i32(2).op(I::I32Eq);
                    asm.if_(|a| {
                        a.set_i32(acc, 2);
                    });
                }
                asm.get(acc);
                asm.op(I::End);
            }
            Expr::Not(x) => {
                let tmp = asm.i32_local();
                self.expr(asm, x);
                asm.set(tmp);
                // tmp == 2 ? 2 : 1 - tmp
                asm.i32(2)
                    .i32(1)
                    .get(tmp)
                    .op(I::I32Sub)
                    .get(tmp)
                    .i32(2)
                    .op(I::I32Eq)
                    .op(I::Select);
            }
            Expr::Test(t) => self.test(asm, &t.kind),
        }
    }

    fn string_at(&mut self, asm: &mut Asm, offset: u32) -> Loc {
        let (ptr, len, present) = (asm.i32_local(), asm.i32_local(), asm.i32_local());
        asm.load32(REQ, offset).set(ptr);
        asm.load32(REQ, offset + 4).set(len);
        asm.set_i32(present, 1);
        Loc::Bytes { ptr, len, present }
    }

    fn opt_string_at(&mut self, asm: &mut Asm, offset: u32) -> Loc {
        let (ptr, len, present) = (asm.i32_local(), asm.i32_local(), asm.i32_local());
        let p = self.lay.opt_string_payload;
        asm.load8(REQ, offset).set(present);
        asm.load32(REQ, offset + p).set(ptr);
        asm.load32(REQ, offset + p + 4).set(len);
        Loc::Bytes { ptr, len, present }
    }

    fn constant(&mut self, asm: &mut Asm, bytes: &[u8]) -> Loc {
        let (p, l) = self.data.bytes(bytes);
        let (ptr, len, present) = (asm.i32_local(), asm.i32_local(), asm.i32_local());
        asm.set_i32(ptr, p).set_i32(len, l).set_i32(present, 1);
        Loc::Bytes { ptr, len, present }
    }

    fn term(&mut self, asm: &mut Asm, t: &Term) -> Loc {
        let lay = self.lay;
        match t {
            Term::PrincipalId => self.string_at(asm, lay.req_principal),
            Term::PrincipalType => {
                // The kind travels as an enum; compare it as the word it stands for.
                let (ptr, len, present) = (asm.i32_local(), asm.i32_local(), asm.i32_local());
                let (user, service) = (self.user, self.service);
                asm.load8(REQ, lay.req_kind)
                    .i32(lay.kind_service)
                    .op(I::I32Eq);
                asm.if_else(
                    |a| {
                        a.set_i32(ptr, service.0).set_i32(len, service.1);
                    },
                    |a| {
                        a.set_i32(ptr, user.0).set_i32(len, user.1);
                    },
                );
                asm.set_i32(present, 1);
                Loc::Bytes { ptr, len, present }
            }
            Term::Practice => self.opt_string_at(asm, lay.req_practice),
            Term::Location => self.opt_string_at(asm, lay.req_location),
            Term::Owner => self.opt_string_at(asm, lay.req_owner),
            Term::Patient => self.opt_string_at(asm, lay.req_patient),
            Term::Country => self.opt_string_at(asm, lay.req_country),
            Term::AuthAge => {
                let (val, present) = (asm.i64_local(), asm.i32_local());
                asm.get(FRESH);
                asm.if_else(
                    |a| {
                        a.i64(0).set(val).set_i32(present, 1);
                    },
                    |a| {
                        a.load8(REQ, lay.req_auth_age).set(present);
                        a.load64(REQ, lay.req_auth_age + lay.auth_age_payload)
                            .set(val);
                    },
                );
                Loc::U64 { val, present }
            }
            Term::Attr(i) => {
                let (ptr, len, present) = (asm.i32_local(), asm.i32_local(), asm.i32_local());
                let elem = asm.i32_local();
                asm.set_i32(present, 0);
                // Index within the list the host sent; a short list means missing.
                asm.i32(*i)
                    .load32(REQ, lay.req_attributes + 4)
                    .op(I::I32LtU);
                let (size, payload) = (lay.attr_elem_size, lay.attr_payload);
                let attrs = lay.req_attributes;
                asm.if_(|a| {
                    a.load32(REQ, attrs)
                        .i32(i.wrapping_mul(size))
                        .op(I::I32Add)
                        .set(elem);
                    a.load8(elem, 0).set(present);
                    a.load32(elem, payload).set(ptr);
                    a.load32(elem, payload + 4).set(len);
                });
                Loc::Bytes { ptr, len, present }
            }
            Term::Str(s) => self.constant(asm, s.as_bytes()),
            Term::Dec(d) => self.constant(asm, &decimal_key(*d)),
            Term::Bool(b) => self.constant(asm, &[u8::from(*b)]),
            Term::Dur(d) => {
                let (val, present) = (asm.i64_local(), asm.i32_local());
                asm.i64(*d).set(val).set_i32(present, 1);
                Loc::U64 { val, present }
            }
        }
    }

    /// Pushes 1 if two present values are equal, else 0.
    fn equal(asm: &mut Asm, l: &Loc, r: &Loc) {
        match (l, r) {
            (
                Loc::Bytes {
                    ptr: p1, len: l1, ..
                },
                Loc::Bytes {
                    ptr: p2, len: l2, ..
                },
            ) => {
                asm.get(*p1)
                    .get(*l1)
                    .get(*p2)
                    .get(*l2)
                    .op(I::Call(F_BYTES_EQ));
            }
            (Loc::U64 { val: a, .. }, Loc::U64 { val: b, .. }) => {
                asm.get(*a).get(*b).op(I::I64Eq);
            }
            // The checker types comparisons; mixed kinds never meet.
            _ => {
                asm.i32(0);
            }
        }
    }

    fn test(&mut self, asm: &mut Asm, kind: &TestKind) {
        let lay = self.lay;
        match kind {
            TestKind::Cmp { op, lhs, rhs } => self.compare(asm, *op, lhs, rhs),
            TestKind::In { lhs, list } => self.member(asm, lhs, list),
            TestKind::Network(nets) => self.network(asm, nets),
            TestKind::During(windows) => {
                let (w, m) = (asm.i32_local(), asm.i32_local());
                asm.load8(REQ, lay.req_weekday).i32(7).op(I::I32RemU).set(w);
                asm.get(REQ).op(I::I32Load16U(at(lay.req_minute))).set(m);
                asm.op(I::Block(BlockType::Result(ValType::I32)));
                for win in windows {
                    asm.i32(1);
                    Self::window(asm, win, w, m);
                    asm.op(I::BrIf(0)).op(I::Drop);
                }
                asm.i32(0);
                asm.op(I::End);
            }
            TestKind::Relation(r) => Self::bit(asm, lay.req_relations, *r),
            TestKind::Flag(f) => Self::bit(asm, lay.req_flags, *f),
            TestKind::Mfa => {
                // fresh == 2 ? 1 : mfa
                asm.i32(1)
                    .load8(REQ, lay.req_mfa)
                    .i32(0)
                    .op(I::I32Ne)
                    .get(FRESH)
                    .i32(2)
                    .op(I::I32Eq)
                    .op(I::Select);
            }
            TestKind::Role(ids) => {
                asm.i32(0);
                for id in ids {
                    asm.load32(REQ, lay.req_roles)
                        .load32(REQ, lay.req_roles + 4)
                        .i32(*id)
                        .op(I::Call(F_CONTAINS));
                    asm.op(I::I32Or);
                }
            }
            TestKind::Const(b) => {
                asm.i32(u32::from(*b));
            }
        }
    }

    /// `lhs op rhs`: 2 (unknown) when either is absent.
    fn compare(&mut self, asm: &mut Asm, op: CmpOp, lhs: &Term, rhs: &Term) {
        let l = self.term(asm, lhs);
        let r = self.term(asm, rhs);
        asm.op(I::Block(BlockType::Result(ValType::I32)));
        asm.i32(2)
            .get(l.present())
            .get(r.present())
            .op(I::I32And)
            .op(I::I32Eqz)
            .op(I::BrIf(0))
            .op(I::Drop);
        match (&l, &r) {
            (
                Loc::Bytes {
                    ptr: p1, len: l1, ..
                },
                Loc::Bytes {
                    ptr: p2, len: l2, ..
                },
            ) => match op {
                CmpOp::Eq => Self::equal(asm, &l, &r),
                CmpOp::Ne => {
                    Self::equal(asm, &l, &r);
                    asm.op(I::I32Eqz);
                }
                _ => {
                    asm.get(*p1)
                        .get(*l1)
                        .get(*p2)
                        .get(*l2)
                        .op(I::Call(F_BYTES_CMP));
                    match op {
                        CmpOp::Lt => asm.i32(u32::MAX).op(I::I32Eq),
                        CmpOp::Le => asm.i32(1).op(I::I32Ne),
                        CmpOp::Gt => asm.i32(1).op(I::I32Eq),
                        _ => asm.i32(u32::MAX).op(I::I32Ne),
                    };
                }
            },
            (Loc::U64 { val: a, .. }, Loc::U64 { val: b, .. }) => {
                asm.get(*a).get(*b).op(match op {
                    CmpOp::Eq => I::I64Eq,
                    CmpOp::Ne => I::I64Ne,
                    CmpOp::Lt => I::I64LtU,
                    CmpOp::Le => I::I64LeU,
                    CmpOp::Gt => I::I64GtU,
                    CmpOp::Ge => I::I64GeU,
                });
            }
            _ => {
                asm.i32(2);
            }
        }
        asm.op(I::End);
    }

    /// `lhs in [list]`: 2 (unknown) when `lhs` is absent.
    fn member(&mut self, asm: &mut Asm, lhs: &Term, list: &[Term]) {
        let l = self.term(asm, lhs);
        let items: Vec<Loc> = list.iter().map(|t| self.term(asm, t)).collect();
        asm.op(I::Block(BlockType::Result(ValType::I32)));
        asm.i32(2)
            .get(l.present())
            .op(I::I32Eqz)
            .op(I::BrIf(0))
            .op(I::Drop);
        for item in &items {
            asm.i32(1).get(item.present());
            Self::equal(asm, &l, item);
            asm.op(I::I32And).op(I::BrIf(0)).op(I::Drop);
        }
        asm.i32(0);
        asm.op(I::End);
    }

    /// The client address in one of `nets`: 2 (unknown) without an address.
    fn network(&mut self, asm: &mut Asm, nets: &[ipnet::IpNet]) {
        let lay = self.lay;
        let (base, v6, hi, lo) = (
            asm.i32_local(),
            asm.i32_local(),
            asm.i64_local(),
            asm.i64_local(),
        );
        asm.op(I::Block(BlockType::Result(ValType::I32)));
        asm.i32(2)
            .load8(REQ, lay.req_ip)
            .op(I::I32Eqz)
            .op(I::BrIf(0))
            .op(I::Drop);
        asm.get(REQ)
            .i32(lay.req_ip + lay.ip_payload)
            .op(I::I32Add)
            .set(base);
        asm.load8(base, lay.ip_v6).set(v6);
        asm.load64(base, lay.ip_hi).set(hi);
        asm.load64(base, lay.ip_lo).set(lo);
        for net in nets {
            asm.i32(1);
            match net {
                ipnet::IpNet::V4(n) => {
                    let mask = u32::from(n.netmask());
                    let addr = u32::from(n.network());
                    asm.get(v6).op(I::I32Eqz);
                    asm.get(lo)
                        .op(I::I32WrapI64)
                        .i32(mask)
                        .op(I::I32And)
                        .i32(addr)
                        .op(I::I32Eq);
                    asm.op(I::I32And);
                }
                ipnet::IpNet::V6(n) => {
                    let mask = u128::from(n.netmask());
                    let addr = u128::from(n.network());
                    asm.get(v6);
                    asm.get(hi)
                        .i64((mask >> 64) as u64)
                        .op(I::I64And)
                        .i64((addr >> 64) as u64)
                        .op(I::I64Eq);
                    asm.op(I::I32And);
                    asm.get(lo)
                        .i64(mask as u64)
                        .op(I::I64And)
                        .i64(addr as u64)
                        .op(I::I64Eq);
                    asm.op(I::I32And);
                }
            }
            asm.op(I::BrIf(0)).op(I::Drop);
        }
        asm.i32(0);
        asm.op(I::End);
    }

    /// Pushes bit `index` of the u64 set at `offset` in the request.
    fn bit(asm: &mut Asm, offset: u32, index: u32) {
        asm.load64(REQ, offset)
            .i64(u64::from(index))
            .op(I::I64ShrU)
            .i64(1)
            .op(I::I64And)
            .op(I::I32WrapI64);
    }

    /// Pushes 1 if local weekday `w` (0..7) and minute `m` fall in the window.
    fn window(asm: &mut Asm, win: &Window, w: u32, m: u32) {
        let days = u32::from(win.days);
        let (start, end) = (u32::from(win.start), u32::from(win.end));
        let on = |a: &mut Asm, day: &dyn Fn(&mut Asm)| {
            a.i32(days);
            day(a);
            a.op(I::I32ShrU).i32(1).op(I::I32And);
        };
        if start < end {
            on(asm, &|a| {
                a.get(w);
            });
            asm.get(m).i32(start).op(I::I32GeU).op(I::I32And);
            asm.get(m).i32(end).op(I::I32LtU).op(I::I32And);
        } else {
            on(asm, &|a| {
                a.get(w);
            });
            asm.get(m).i32(start).op(I::I32GeU).op(I::I32And);
            on(asm, &|a| {
                a.get(w).i32(6).op(I::I32Add).i32(7).op(I::I32RemU);
            });
            asm.get(m).i32(end).op(I::I32LtU).op(I::I32And);
            asm.op(I::I32Or);
        }
    }
}
