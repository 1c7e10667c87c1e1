//! What the console offers its person: for each operation a page could show, what the policy
//! in force says to them now (a decision without effect, nothing recorded). A page shows only
//! what is offered; the API decides each call again.

use http::Method;

use crate::pipeline::admin::AsUser;

/// The operations the console's pages and buttons stand for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Perms {
    pub users: bool,
    pub add_user: bool,
    pub invite: bool,
    pub edit_user: bool,
    pub delete_user: bool,
    pub lock: bool,
    pub disable: bool,
    pub unassign: bool,
    pub logout_user: bool,
    pub reset: bool,
    pub reset_second_factor: bool,
    pub sessions: bool,
    pub end_session: bool,
    pub grant: bool,
    pub revoke: bool,
    pub practices: bool,
    pub edit_practice: bool,
    pub modules: bool,
    pub locations: bool,
    pub add_location: bool,
    pub edit_location: bool,
    pub security: bool,
    pub edit_security: bool,
    pub keys: bool,
    pub issue_key: bool,
    pub rotate_key: bool,
    pub revoke_key: bool,
    pub add_account: bool,
    pub audit: bool,
    pub audit_export: bool,
    pub audit_verify: bool,
    pub matrix: bool,
    pub policy: bool,
    pub preview_policy: bool,
    pub swap_policy: bool,
    pub emergency: bool,
    pub close_emergency: bool,
}

impl Perms {
    pub(crate) async fn of(api: &AsUser<'_>) -> Perms {
        let p = crate::console::call::seg(&api.practice().id);
        let may = |m: Method, path: String| async move { api.may(m, &path).await.offered() };
        let u = "/users/-";
        Perms {
            users: may(Method::GET, "/users".into()).await,
            add_user: may(Method::POST, "/users".into()).await,
            invite: may(Method::POST, "/users/invitations".into()).await,
            edit_user: may(Method::PATCH, u.into()).await,
            delete_user: may(Method::DELETE, u.into()).await,
            lock: may(Method::POST, format!("{u}/lock")).await,
            disable: may(Method::POST, format!("{u}/disable")).await,
            unassign: may(Method::POST, format!("{u}/unassign")).await,
            logout_user: may(Method::POST, format!("{u}/logout")).await,
            reset: may(Method::POST, format!("{u}/reset")).await,
            reset_second_factor: may(Method::POST, format!("{u}/reset-second-factor")).await,
            sessions: may(Method::GET, format!("{u}/sessions")).await,
            end_session: may(Method::DELETE, format!("{u}/sessions/-")).await,
            grant: may(Method::POST, format!("{u}/roles")).await,
            revoke: may(Method::DELETE, format!("{u}/roles/-")).await,
            practices: may(Method::GET, "/practices".into()).await,
            edit_practice: may(Method::PATCH, format!("/practices/{p}")).await,
            modules: may(Method::PUT, format!("/practices/{p}/modules")).await,
            locations: may(Method::GET, format!("/practices/{p}/locations")).await,
            add_location: may(Method::POST, format!("/practices/{p}/locations")).await,
            edit_location: may(Method::PATCH, format!("/practices/{p}/locations/-")).await,
            security: may(Method::GET, format!("/practices/{p}/security")).await,
            edit_security: may(Method::PUT, format!("/practices/{p}/security")).await,
            keys: may(Method::GET, "/keys".into()).await,
            issue_key: may(Method::POST, "/keys".into()).await,
            rotate_key: may(Method::POST, "/keys/-/rotate".into()).await,
            revoke_key: may(Method::DELETE, "/keys/-".into()).await,
            add_account: may(Method::POST, "/accounts".into()).await,
            audit: may(Method::GET, "/audit".into()).await,
            audit_export: may(Method::GET, "/audit/export".into()).await,
            audit_verify: may(Method::GET, "/audit/verify".into()).await,
            matrix: may(Method::GET, "/policy/matrix".into()).await,
            policy: may(Method::GET, "/policy".into()).await,
            preview_policy: may(Method::POST, "/policy/preview".into()).await,
            swap_policy: may(Method::PUT, "/policy".into()).await,
            emergency: may(Method::GET, "/emergency".into()).await,
            close_emergency: may(Method::POST, "/emergency/-/close".into()).await,
        }
    }

    /// Where the console opens: the first section this person may see.
    pub(crate) fn home(&self) -> String {
        let section = if self.users {
            "users"
        } else if self.matrix {
            "roles"
        } else if self.audit {
            "activity"
        } else {
            "account"
        };
        format!("{}{section}", crate::console::PREFIX)
    }
}
