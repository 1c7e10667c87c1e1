//! "Front desk hours", by hand: Managers may read and edit appointments at any time; the
//! Front Desk may read them at any time and edit them only on weekdays from 08:00 to 18:00,
//! practice local time. Everything else is denied.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "policy",
});

use exports::wardgate::policy::authorizer::{
    Action, Decision, Guest, ModuleManifest, PrincipalKind, Reason, ReasonCode, Request, Role, Rule,
};

struct FrontDesk;

const MANAGER: u32 = 0;
const FRONT_DESK: u32 = 1;
const READ: u32 = 0;
const EDIT: u32 = 1;
/// Rules, as the manifest lists them.
const MANAGER_ALL: u32 = 0;
const DESK_READ: u32 = 1;
const DESK_EDIT: u32 = 2;

fn reason(code: ReasonCode, rule: Option<u32>, role: Option<u32>) -> Reason {
    Reason { code, rule, role, break_glass: None, max_auth_age: None, mfa: false }
}

fn deny(code: ReasonCode) -> Decision {
    Decision { allow: false, reasons: vec![reason(code, None, None)], obligations: vec![] }
}

impl Guest for FrontDesk {
    fn manifest() -> ModuleManifest {
        let rule = |text: &str, line: u32, role: u32, condition: Option<&str>| Rule {
            text: text.into(),
            line,
            role: Some(role),
            deny: false,
            require: false,
            condition: condition.map(Into::into),
        };
        ModuleManifest {
            name: "front-desk-hours".into(),
            version: "1".into(),
            content_hash: "sha256:handwritten".into(),
            timezone: Some("America/New_York".into()),
            features: vec!["appointments".into()],
            actions: vec![
                Action { name: "appointments:read".into(), feature: 0, module: None },
                Action { name: "appointments:edit".into(), feature: 0, module: None },
            ],
            modules: vec![],
            roles: vec![
                Role { name: "Manager".into(), line: 1 },
                Role { name: "Front Desk".into(), line: 2 },
            ],
            attributes: vec![],
            relations: vec![],
            flags: vec![],
            rules: vec![
                rule("allow appointments:*", 1, MANAGER, None),
                rule("allow appointments:read", 2, FRONT_DESK, None),
                rule("allow appointments:edit during mon-fri 08:00-18:00", 3, FRONT_DESK, Some("during mon-fri 08:00-18:00")),
            ],
            redactions: vec![],
            break_glass: vec![],
            routes: vec![],
        }
    }

    fn authorize(request: Request) -> Decision {
        let Some(action) = request.action.filter(|a| *a <= EDIT) else {
            return deny(ReasonCode::UnknownAction);
        };
        let business_hours = request.weekday < 5 && (8 * 60..18 * 60).contains(&request.minute);
        let mut reasons = Vec::new();
        for &role in &request.roles {
            let rule = match (role, action) {
                (MANAGER, _) => Some(MANAGER_ALL),
                (FRONT_DESK, READ) => Some(DESK_READ),
                (FRONT_DESK, EDIT) if business_hours => Some(DESK_EDIT),
                _ => None,
            };
            if let Some(rule) = rule {
                reasons.push(reason(ReasonCode::Granted, Some(rule), Some(role)));
            }
        }
        if reasons.is_empty() {
            return deny(ReasonCode::NoGrant);
        }
        let service_without_scope = request.kind == PrincipalKind::Service
            && !request.scopes.as_ref().is_some_and(|s| s.iter().any(|s| s == "*" || s.starts_with("appointments")));
        if service_without_scope {
            return deny(ReasonCode::Scope);
        }
        Decision { allow: true, reasons, obligations: vec![] }
    }
}

export!(FrontDesk);
