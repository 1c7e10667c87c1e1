//! Every offset the generated code uses, read from the ABI once per compilation.

use crate::abi::Abi;
use crate::CompileError;

/// Offsets into the request, the decision and their parts (all from `wit-parser`).
#[derive(Debug, Clone)]
pub struct Layout {
    pub req_principal: u32,
    pub req_kind: u32,
    pub kind_service: u32,
    pub req_roles: u32,
    pub req_flags: u32,
    pub req_auth_age: u32,
    pub auth_age_payload: u32,
    pub req_mfa: u32,
    pub req_scopes: u32,
    pub scopes_payload: u32,
    pub req_action: u32,
    pub action_payload: u32,
    pub req_practice: u32,
    pub req_location: u32,
    pub req_owner: u32,
    pub req_patient: u32,
    /// Payload offset of every `option<string>` field.
    pub opt_string_payload: u32,
    pub req_attributes: u32,
    pub attr_elem_size: u32,
    pub attr_payload: u32,
    pub req_ip: u32,
    pub ip_payload: u32,
    pub ip_v6: u32,
    pub ip_hi: u32,
    pub ip_lo: u32,
    pub req_country: u32,
    pub req_weekday: u32,
    pub req_minute: u32,
    pub req_now: u32,
    pub req_modules: u32,
    pub req_relations: u32,
    pub req_emergency: u32,
    pub emergency_payload: u32,
    pub em_reason: u32,
    pub em_started: u32,
    pub em_started_payload: u32,

    pub dec_size: u32,
    pub dec_align: u32,
    pub dec_allow: u32,
    pub dec_reasons: u32,
    pub dec_obligations: u32,

    pub reason_size: u32,
    pub reason_align: u32,
    pub r_code: u32,
    pub r_rule: u32,
    pub r_role: u32,
    pub r_break_glass: u32,
    pub r_max_age: u32,
    pub r_mfa: u32,
    pub opt_u32_payload: u32,
    pub opt_u64_payload: u32,

    pub obl_size: u32,
    pub obl_align: u32,
    pub obl_payload: u32,
    pub obl_redact: u32,
    pub obl_audit: u32,
    pub obl_alert: u32,

    pub code_granted: u32,
    pub code_break_glass: u32,
    pub code_denied_by_rule: u32,
    pub code_requirement_not_met: u32,
    pub code_no_grant: u32,
    pub code_unknown_action: u32,
    pub code_module_not_subscribed: u32,
    pub code_scope: u32,
    pub code_step_up: u32,

    pub manifest_size: u32,
    pub manifest_align: u32,
}

impl Layout {
    pub fn new(abi: &Abi) -> Result<Layout, CompileError> {
        let f = |field: &str| abi.offset("request", field);
        let (_, auth_ty) = abi.field("request", "auth-age")?;
        let (_, scopes_ty) = abi.field("request", "scopes")?;
        let (_, action_ty) = abi.field("request", "action")?;
        let (_, practice_ty) = abi.field("request", "practice")?;
        let (_, attrs_ty) = abi.field("request", "attributes")?;
        let attr_elem = abi.inner(&attrs_ty)?;
        let (_, ip_ty) = abi.field("request", "ip")?;
        let (_, em_ty) = abi.field("request", "emergency")?;
        let (_, started_ty) = abi.field("emergency", "started-at")?;
        let (_, rule_ty) = abi.field("reason", "rule")?;
        let (_, age_ty) = abi.field("reason", "max-auth-age")?;
        let decision = abi.named("decision")?;
        let reason = abi.named("reason")?;
        let obligation = abi.named("obligation")?;
        let manifest = abi.named("module-manifest")?;
        Ok(Layout {
            req_principal: f("principal")?,
            req_kind: f("kind")?,
            kind_service: abi.case("principal-kind", "service")?,
            req_roles: f("roles")?,
            req_flags: f("flags")?,
            req_auth_age: f("auth-age")?,
            auth_age_payload: abi.option_payload(&auth_ty)?,
            req_mfa: f("mfa")?,
            req_scopes: f("scopes")?,
            scopes_payload: abi.option_payload(&scopes_ty)?,
            req_action: f("action")?,
            action_payload: abi.option_payload(&action_ty)?,
            req_practice: f("practice")?,
            req_location: f("location")?,
            req_owner: f("owner")?,
            req_patient: f("patient")?,
            opt_string_payload: abi.option_payload(&practice_ty)?,
            req_attributes: f("attributes")?,
            attr_elem_size: abi.size(&attr_elem),
            attr_payload: abi.option_payload(&attr_elem)?,
            req_ip: f("ip")?,
            ip_payload: abi.option_payload(&ip_ty)?,
            ip_v6: abi.offset("ip-address", "v6")?,
            ip_hi: abi.offset("ip-address", "hi")?,
            ip_lo: abi.offset("ip-address", "lo")?,
            req_country: f("country")?,
            req_weekday: f("weekday")?,
            req_minute: f("minute")?,
            req_now: f("now")?,
            req_modules: f("modules")?,
            req_relations: f("relations")?,
            req_emergency: f("emergency")?,
            emergency_payload: abi.option_payload(&em_ty)?,
            em_reason: abi.offset("emergency", "reason")?,
            em_started: abi.offset("emergency", "started-at")?,
            em_started_payload: abi.option_payload(&started_ty)?,

            dec_size: abi.size(&decision),
            dec_align: abi.align(&decision),
            dec_allow: abi.offset("decision", "allow")?,
            dec_reasons: abi.offset("decision", "reasons")?,
            dec_obligations: abi.offset("decision", "obligations")?,

            reason_size: abi.size(&reason),
            reason_align: abi.align(&reason),
            r_code: abi.offset("reason", "code")?,
            r_rule: abi.offset("reason", "rule")?,
            r_role: abi.offset("reason", "role")?,
            r_break_glass: abi.offset("reason", "break-glass")?,
            r_max_age: abi.offset("reason", "max-auth-age")?,
            r_mfa: abi.offset("reason", "mfa")?,
            opt_u32_payload: abi.option_payload(&rule_ty)?,
            opt_u64_payload: abi.option_payload(&age_ty)?,

            obl_size: abi.size(&obligation),
            obl_align: abi.align(&obligation),
            obl_payload: abi.variant_payload(&obligation)?,
            obl_redact: abi.case("obligation", "redact")?,
            obl_audit: abi.case("obligation", "audit")?,
            obl_alert: abi.case("obligation", "alert")?,

            code_granted: abi.case("reason-code", "granted")?,
            code_break_glass: abi.case("reason-code", "break-glass")?,
            code_denied_by_rule: abi.case("reason-code", "denied-by-rule")?,
            code_requirement_not_met: abi.case("reason-code", "requirement-not-met")?,
            code_no_grant: abi.case("reason-code", "no-grant")?,
            code_unknown_action: abi.case("reason-code", "unknown-action")?,
            code_module_not_subscribed: abi.case("reason-code", "module-not-subscribed")?,
            code_scope: abi.case("reason-code", "scope")?,
            code_step_up: abi.case("reason-code", "step-up-required")?,

            manifest_size: abi.size(&manifest),
            manifest_align: abi.align(&manifest),
        })
    }
}
