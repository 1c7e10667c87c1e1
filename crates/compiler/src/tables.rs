//! The policy as static tables in the module's data: per action its module, deny rules,
//! granting roles and scope strings; per rule, role, break-glass entry and feature what the
//! generated code needs. Conditions become functions in a table, called indirectly.

use wardgate_policy::ir::{Effect, Expr, Origin, Policy};

use crate::abi::Data;
use crate::CompileError;

/// "No entry" in a table slot.
pub const NONE: u32 = u32::MAX;
/// "No limit" for an `auth_age` bound.
pub const NO_LIMIT: u64 = u64::MAX;

pub const A_STRIDE: u32 = 40;
pub const A_MODULE: u32 = 0;
pub const A_DENY_OFF: u32 = 4;
pub const A_DENY_LEN: u32 = 8;
pub const A_GR_OFF: u32 = 12;
pub const A_GR_LEN: u32 = 16;
pub const A_SCOPE_OFF: u32 = 20;
pub const A_SCOPE_LEN: u32 = 24;
pub const A_FEATURE: u32 = 28;
pub const A_MAXG: u32 = 32;

pub const D_STRIDE: u32 = 20;
pub const D_RULE: u32 = 0;
pub const D_FN: u32 = 4;
pub const D_GLOBAL: u32 = 8;
pub const D_CARRIERS: u32 = 12;
pub const D_CARRIERS_LEN: u32 = 16;

pub const GR_STRIDE: u32 = 12;
pub const GR_ROLE: u32 = 0;
pub const GR_OFF: u32 = 4;
pub const GR_LEN: u32 = 8;

pub const G_STRIDE: u32 = 16;
pub const G_RULE: u32 = 0;
pub const G_FN: u32 = 4;
pub const G_GUARDS: u32 = 8;
pub const G_GUARDS_LEN: u32 = 12;

pub const RULE_STRIDE: u32 = 16;
pub const RULE_REQUIRE: u32 = 0;
pub const RULE_AGE: u32 = 8;

pub const ROLE_STRIDE: u32 = 16;
pub const ROLE_GUARD: u32 = 0;
pub const ROLE_AGE: u32 = 8;

pub const BG_STRIDE: u32 = 32;
pub const BG_WHO: u32 = 0;
pub const BG_REASON: u32 = 4;
pub const BG_ALERT: u32 = 8;
pub const BG_ROLES: u32 = 12;
pub const BG_ROLES_LEN: u32 = 16;
pub const BG_MAX: u32 = 24;

pub const F_STRIDE: u32 = 8;
pub const F_RED: u32 = 0;
pub const F_RED_LEN: u32 = 4;
pub const RED_STRIDE: u32 = 8;

/// Break-glass entries are a bit set in an i64.
pub const MAX_BREAK_GLASS: usize = 64;

/// Conditions to compile as functions; a condition's table index is its position.
#[derive(Debug, Default)]
pub struct Conds<'p> {
    pub exprs: Vec<&'p Expr>,
}

impl<'p> Conds<'p> {
    pub fn add(&mut self, e: &'p Expr) -> u32 {
        self.exprs.push(e);
        u32::try_from(self.exprs.len() - 1).unwrap_or(NONE)
    }

    fn add_opt(&mut self, e: Option<&'p Expr>) -> u32 {
        e.map_or(NONE, |e| self.add(e))
    }
}

/// Where the tables are.
#[derive(Debug, Clone)]
pub struct Tables {
    pub actions: u32,
    pub bg_masks: u32,
    pub rules: u32,
    pub roles: u32,
    pub break_glass: u32,
    pub features: u32,
    pub service: (u32, u32),
    pub user: (u32, u32),
    pub n_actions: u32,
    pub n_break_glass: u32,
    pub total_bg_roles: u32,
}

fn len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub fn build<'p>(
    policy: &'p Policy,
    data: &mut Data,
    conds: &mut Conds<'p>,
) -> Result<Tables, CompileError> {
    if policy.break_glass.len() > MAX_BREAK_GLASS {
        return Err(CompileError::Limit(format!(
            "{} break_glass blocks; at most {MAX_BREAK_GLASS} are supported",
            policy.break_glass.len()
        )));
    }
    // Rules: condition functions, require flags, age limits.
    let rule_fns: Vec<u32> = policy
        .rules
        .iter()
        .map(|r| conds.add_opt(r.cond.as_ref()))
        .collect();
    let rules = data.alloc(RULE_STRIDE * len(policy.rules.len()), 8);
    for (i, r) in policy.rules.iter().enumerate() {
        let at = rules + RULE_STRIDE * len(i);
        data.put_u32(at + RULE_REQUIRE, u32::from(r.origin == Origin::Require));
        data.put_u64(
            at + RULE_AGE,
            r.cond
                .as_ref()
                .and_then(Expr::age_limit)
                .unwrap_or(NO_LIMIT),
        );
    }
    // Roles: guard functions and their age limits.
    let role_fns: Vec<u32> = policy
        .roles
        .iter()
        .map(|r| conds.add_opt(r.guard.as_ref()))
        .collect();
    let roles = data.alloc(ROLE_STRIDE * len(policy.roles.len()), 8);
    for (i, r) in policy.roles.iter().enumerate() {
        let at = roles + ROLE_STRIDE * len(i);
        data.put_u32(at + ROLE_GUARD, role_fns.get(i).copied().unwrap_or(NONE));
        data.put_u64(
            at + ROLE_AGE,
            r.guard
                .as_ref()
                .and_then(Expr::age_limit)
                .unwrap_or(NO_LIMIT),
        );
    }
    let (break_glass, total_bg_roles) = put_break_glass(policy, data, conds);
    let features = put_features(policy, data, conds);
    // Which roles carry each deny rule.
    let mut carriers: Vec<Vec<u32>> = vec![Vec::new(); policy.rules.len()];
    for (r, role) in policy.roles.iter().enumerate() {
        for &d in &role.denies {
            if let Some(c) = carriers.get_mut(d as usize) {
                c.push(len(r));
            }
        }
    }
    let carrier_at: Vec<(u32, u32)> = carriers.iter().map(|c| data.u32s(c)).collect();
    // Actions.
    let n_actions = len(policy.actions.len());
    let actions = data.alloc(A_STRIDE * n_actions, 8);
    let bg_masks = data.alloc(8 * n_actions, 8);
    for (a, action) in policy.actions.iter().enumerate() {
        let aid = len(a);
        let at = actions + A_STRIDE * aid;
        data.put_u32(at + A_MODULE, action.module.unwrap_or(NONE));
        data.put_u32(at + A_FEATURE, action.feature);
        let (deny_at, n_denies) = put_denies(policy, data, aid, &rule_fns, &carrier_at);
        data.put_u32(at + A_DENY_OFF, deny_at);
        data.put_u32(at + A_DENY_LEN, n_denies);
        let (gr_at, n_entries, max_grants) = put_grants(policy, data, aid, &rule_fns);
        data.put_u32(at + A_GR_OFF, gr_at);
        data.put_u32(at + A_GR_LEN, n_entries);
        data.put_u32(at + A_MAXG, max_grants);
        let (s_at, n_scopes) = put_scopes(policy, data, action);
        data.put_u32(at + A_SCOPE_OFF, s_at);
        data.put_u32(at + A_SCOPE_LEN, n_scopes);
        // Break-glass entries that open the action directly.
        let mask = policy
            .break_glass
            .iter()
            .enumerate()
            .filter(|(_, b)| b.actions.binary_search(&aid).is_ok())
            .fold(0u64, |mask, (i, _)| mask | 1 << i);
        data.put_u64(bg_masks + 8 * aid, mask);
    }
    let service = data.bytes(b"service");
    let user = data.bytes(b"user");
    Ok(Tables {
        actions,
        bg_masks,
        rules,
        roles,
        break_glass,
        features,
        service,
        user,
        n_actions,
        n_break_glass: len(policy.break_glass.len()),
        total_bg_roles,
    })
}

/// Break-glass entries: who may open them, what they lend, how long; and how many roles they
/// lend in all.
fn put_break_glass<'p>(policy: &'p Policy, data: &mut Data, conds: &mut Conds<'p>) -> (u32, u32) {
    let break_glass = data.alloc(BG_STRIDE * len(policy.break_glass.len()), 8);
    let mut total_bg_roles = 0;
    for (i, b) in policy.break_glass.iter().enumerate() {
        let at = break_glass + BG_STRIDE * len(i);
        let who = conds.add_opt(b.who.as_ref());
        let (roles_at, roles_len) = data.u32s(&b.roles);
        total_bg_roles += roles_len;
        data.put_u32(at + BG_WHO, who);
        data.put_u32(at + BG_REASON, u32::from(b.reason_required));
        data.put_u32(at + BG_ALERT, u32::from(b.alert));
        data.put_u32(at + BG_ROLES, roles_at);
        data.put_u32(at + BG_ROLES_LEN, roles_len);
        data.put_u64(at + BG_MAX, b.max_seconds);
    }
    (break_glass, total_bg_roles)
}

/// Features: redactions with their `unless` functions.
fn put_features<'p>(policy: &'p Policy, data: &mut Data, conds: &mut Conds<'p>) -> u32 {
    let mut per_feature: Vec<Vec<(u32, u32)>> = vec![Vec::new(); policy.features.len()];
    for (i, r) in policy.redactions.iter().enumerate() {
        let f = conds.add_opt(r.unless.as_ref());
        if let Some(list) = per_feature.get_mut(r.feature as usize) {
            list.push((len(i), f));
        }
    }
    let features = data.alloc(F_STRIDE * len(policy.features.len()), 4);
    for (i, list) in per_feature.iter().enumerate() {
        let entries = data.alloc(RED_STRIDE * len(list.len()), 4);
        for (k, (red, f)) in list.iter().enumerate() {
            data.put_u32(entries + RED_STRIDE * len(k), *red);
            data.put_u32(entries + RED_STRIDE * len(k) + 4, *f);
        }
        data.put_u32(features + F_STRIDE * len(i) + F_RED, entries);
        data.put_u32(features + F_STRIDE * len(i) + F_RED_LEN, len(list.len()));
    }
    features
}

/// Deny rules covering the action, in rule order: (where, how many).
fn put_denies(
    policy: &Policy,
    data: &mut Data,
    aid: u32,
    rule_fns: &[u32],
    carrier_at: &[(u32, u32)],
) -> (u32, u32) {
    let denies: Vec<usize> = policy
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.effect == Effect::Deny && r.covers(aid))
        .map(|(i, _)| i)
        .collect();
    let deny_at = data.alloc(D_STRIDE * len(denies.len()), 4);
    for (k, &rid) in denies.iter().enumerate() {
        let e = deny_at + D_STRIDE * len(k);
        let global = policy
            .rules
            .get(rid)
            .is_some_and(|r| !matches!(r.origin, Origin::Role(_)));
        let (c_at, c_len) = carrier_at.get(rid).copied().unwrap_or((0, 0));
        data.put_u32(e + D_RULE, len(rid));
        data.put_u32(e + D_FN, rule_fns.get(rid).copied().unwrap_or(NONE));
        data.put_u32(e + D_GLOBAL, u32::from(global));
        data.put_u32(e + D_CARRIERS, c_at);
        data.put_u32(e + D_CARRIERS_LEN, c_len);
    }
    (deny_at, len(denies.len()))
}

/// Roles whose grants cover the action, by role id, each with its grants in order: (where,
/// how many roles, the most grants of one role).
fn put_grants(policy: &Policy, data: &mut Data, aid: u32, rule_fns: &[u32]) -> (u32, u32, u32) {
    let mut entries: Vec<(u32, u32, u32)> = Vec::new();
    let mut max_grants = 0u32;
    for (r, role) in policy.roles.iter().enumerate() {
        let grants: Vec<_> = role
            .grants
            .iter()
            .filter(|g| policy.rule(g.rule).is_some_and(|x| x.covers(aid)))
            .collect();
        if grants.is_empty() {
            continue;
        }
        let g_at = data.alloc(G_STRIDE * len(grants.len()), 4);
        for (k, g) in grants.iter().enumerate() {
            let e = g_at + G_STRIDE * len(k);
            let (guards_at, guards_len) = data.u32s(&g.guards);
            data.put_u32(e + G_RULE, g.rule);
            data.put_u32(
                e + G_FN,
                rule_fns.get(g.rule as usize).copied().unwrap_or(NONE),
            );
            data.put_u32(e + G_GUARDS, guards_at);
            data.put_u32(e + G_GUARDS_LEN, guards_len);
        }
        max_grants = max_grants.max(len(grants.len()));
        entries.push((len(r), g_at, len(grants.len())));
    }
    let gr_at = data.alloc(GR_STRIDE * len(entries.len()), 4);
    for (k, (r, g_at, g_len)) in entries.iter().enumerate() {
        let e = gr_at + GR_STRIDE * len(k);
        data.put_u32(e + GR_ROLE, *r);
        data.put_u32(e + GR_OFF, *g_at);
        data.put_u32(e + GR_LEN, *g_len);
    }
    (gr_at, len(entries.len()), max_grants)
}

/// The scope strings that cover the action: (where, how many).
fn put_scopes(
    policy: &Policy,
    data: &mut Data,
    action: &wardgate_policy::ir::Action,
) -> (u32, u32) {
    let (feature, verb) = action.name.split_once(':').unwrap_or((&action.name, ""));
    let mut groups = vec!["*".to_string(), feature.to_string()];
    if let Some(m) = action.module.and_then(|m| policy.modules.get(m as usize)) {
        groups.push(m.clone());
    }
    let mut scopes: Vec<String> = Vec::new();
    for g in groups {
        for s in [g.clone(), format!("{g}:*"), format!("{g}:{verb}")] {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
    }
    let s_at = data.alloc(8 * len(scopes.len()), 4);
    for (k, s) in scopes.iter().enumerate() {
        let (p, l) = data.bytes(s.as_bytes());
        data.put_u32(s_at + 8 * len(k), p);
        data.put_u32(s_at + 8 * len(k) + 4, l);
    }
    (s_at, len(scopes.len()))
}
