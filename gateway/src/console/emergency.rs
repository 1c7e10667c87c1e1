//! Emergency access: the practice's break-glass grants - who opened it, why, when and until
//! when - the open ones first to see, each ended early with one button; and the history.

use maud::html;
use serde_json::json;
use wardgate_identity::EmergencyGrant;

use super::call::seg;
use super::layout::{self, csrf};
use super::{Console, Out, PREFIX};

pub(super) async fn page(c: &Console<'_>) -> Out {
    if !c.perms.emergency {
        return layout::failed(&super::users::refused());
    }
    let mut failure = None;
    if c.req.post() && c.req.f("do") == "close" {
        let path = format!("/emergency/{}/close", seg(c.req.f("grant")));
        match c.post(&path, &json!({})).await {
            Ok(_) => return Out::Redirect(format!("{PREFIX}emergency?done=emergency")),
            Err(f) => failure = Some(f),
        }
    }
    let (grants, _) = match c
        .list::<EmergencyGrant>("/emergency?limit=500", "grants")
        .await
    {
        Ok(found) => found,
        Err(f) => return layout::failed(&f),
    };
    let (open, past): (Vec<&EmergencyGrant>, Vec<&EmergencyGrant>) =
        grants.iter().partition(|g| g.open);
    let body = html! {
        @if let Some(f) = &failure { (layout::problems(f)) }
        p { "Break-glass opens a person's access for patient care when they would not otherwise have it: a reason is required, it is time-boxed by the policy, alerted and audited. Who may open it is each user's \"Allow emergency access\"." }
        h2 { "Open now" }
        @if open.is_empty() { p { "No emergency access is open." } }
        @else {
            table {
                thead { tr { th scope="col" { "Who" } th scope="col" { "Why" } th scope="col" { "Opened" } th scope="col" { "Until" } @if c.perms.close_emergency { th scope="col" { span class="note" { "Action" } } } } }
                tbody {
                    @for g in &open {
                        tr {
                            td { (g.email) }
                            td { (g.reason) }
                            td { (g.opened_at) }
                            td { (g.expires_at) }
                            @if c.perms.close_emergency {
                                td {
                                    form method="post" action={ (PREFIX) "emergency" } class="inline" {
                                        (csrf(&c.req))
                                        input type="hidden" name="do" value="close";
                                        input type="hidden" name="grant" value=(g.id);
                                        button type="submit" class="danger" aria-label={ "End emergency access of " (g.email) } { "End now" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "History" }
        @if past.is_empty() { p { "No emergency access has been used." } }
        @else {
            table {
                thead { tr { th scope="col" { "Who" } th scope="col" { "Why" } th scope="col" { "Opened" } th scope="col" { "Until" } th scope="col" { "Ended early" } } }
                tbody {
                    @for g in &past {
                        tr {
                            td { (g.email) }
                            td { (g.reason) }
                            td { (g.opened_at) }
                            td { (g.expires_at) }
                            td { (g.closed_at.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
        }
    };
    let status = failure.map_or(http::StatusCode::OK, |f| f.status);
    Out::status(status, "Emergency access", body)
}
