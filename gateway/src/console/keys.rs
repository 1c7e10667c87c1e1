//! Settings > API keys: the practice's service accounts and their keys (scopes, rate, expiry,
//! uses), a new service account, a key issued (shown once, with a copy button), rotated with
//! an overlap, revoked.

use maud::{html, Markup};
use serde_json::{json, Value};
use wardgate_identity::KeyInfo;

use super::call::seg;
use super::layout::{self, csrf, input};
use super::{Console, Failure, Out, PREFIX};

fn here() -> String {
    format!("{PREFIX}keys")
}

/// A comma- or space-separated list as the API wants it.
fn words(s: &str) -> Vec<String> {
    s.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

pub(super) async fn list(c: &Console<'_>) -> Out {
    if !c.perms.keys {
        return layout::failed(&super::users::refused());
    }
    let mut failure: Option<(&str, Failure)> = None;
    if c.req.post() {
        match act(c).await {
            Ok(out) => return out,
            Err(e) => failure = Some(e),
        }
    }
    let keys: Vec<KeyInfo> = match c.list("/keys?limit=500", "keys").await {
        Ok((k, _)) => k,
        Err(f) => return layout::failed(&f),
    };
    let (roles, _) = super::users::choices(c).await;
    let usage = if c.perms.audit {
        usage(c, &keys).await
    } else {
        Vec::new()
    };
    let for_form = |n: &str| failure.as_ref().filter(|(x, _)| *x == n).map(|(_, f)| f);
    let mut accounts: Vec<&str> = keys.iter().map(|k| k.account.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let body = html! {
        @if let Some(f) = for_form("row") { (layout::problems(f)) }
        div class="scroll" {
            table {
                thead { tr {
                    th scope="col" { "Key" } th scope="col" { "Service account" } th scope="col" { "Roles" }
                    th scope="col" { "Scopes" } th scope="col" { "Rate" } th scope="col" { "Expires" }
                    th scope="col" { "Uses" } @if c.perms.audit { th scope="col" { "Last " (DAYS) " days" } } th scope="col" { "Status" }
                    @if c.perms.rotate_key || c.perms.revoke_key { th scope="col" { span class="note" { "Actions" } } }
                } }
                tbody {
                    @for k in &keys { (row(c, k, usage.iter().find(|(id, _)| *id == k.id).map(|(_, d)| d.as_slice()))) }
                    @if keys.is_empty() { tr { td colspan="9" { "No key yet." } } }
                }
            }
        }
        @if c.perms.issue_key { (issue_form(c, &accounts, for_form("issue"))) }
        @if c.perms.add_account { (account_form(c, &roles, for_form("account"))) }
    };
    Out::page("API keys", body)
}

/// Days of use shown per key.
const DAYS: usize = 14;

/// Each key's requests per day over the last [`DAYS`] days (oldest first), from the
/// activity log: one search per service account.
async fn usage(c: &Console<'_>, keys: &[KeyInfo]) -> Vec<(String, Vec<u64>)> {
    let today = chrono::Utc::now().date_naive();
    let first = today - chrono::Duration::days(DAYS as i64 - 1);
    let mut out: Vec<(String, Vec<u64>)> =
        keys.iter().map(|k| (k.id.clone(), vec![0; DAYS])).collect();
    let mut accounts: Vec<&str> = keys.iter().map(|k| k.account.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    for account in accounts {
        let from = first.format("%Y-%m-%d").to_string();
        let path = format!(
            "/audit{}",
            super::call::query(&[
                ("user", Some(account)),
                ("from", Some(&from)),
                ("limit", Some("10000")),
            ])
        );
        let Ok(found) = c.get(&path).await else {
            continue;
        };
        let records = found.get("records").and_then(Value::as_array);
        for r in records.into_iter().flatten() {
            let key = r.pointer("/event/detail/key").and_then(Value::as_str);
            let day = r
                .get("time")
                .and_then(Value::as_str)
                .and_then(|t| t.get(..10))
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            let (Some(key), Some(day)) = (key, day) else {
                continue;
            };
            let i = usize::try_from((day - first).num_days()).ok();
            if let (Some(i), Some((_, days))) = (i, out.iter_mut().find(|(id, _)| id == key)) {
                if let Some(n) = days.get_mut(i) {
                    *n += 1;
                }
            }
        }
    }
    out
}

/// A key's use per day as a small bar chart, drawn on the server (and said in words).
fn chart(days: &[u64]) -> Markup {
    let max = days.iter().copied().max().unwrap_or(0).max(1);
    let total: u64 = days.iter().sum();
    let (w, h) = (6u64, 28u64);
    let label = format!(
        "{total} requests in the last {DAYS} days; per day, oldest first: {}",
        days.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    html! {
        svg class="spark" width=((w + 2) * DAYS as u64) height=(h) viewBox={ "0 0 " ((w + 2) * DAYS as u64) " " (h) } role="img" aria-label=(label) {
            title { (label) }
            @for (i, n) in days.iter().enumerate() {
                @let bar = if *n == 0 { 1 } else { (n * (h - 2)).div_ceil(max) };
                rect x=((w + 2) * i as u64) y=(h - bar) width=(w) height=(bar) {}
            }
        }
    }
}

fn row(c: &Console<'_>, k: &KeyInfo, usage: Option<&[u64]>) -> Markup {
    let status = if k.revoked { "revoked" } else { "active" };
    html! {
        tr {
            td { code { (k.id) } }
            td { (k.account) }
            td { (k.roles.join(", ")) }
            td { (k.scopes.join(", ")) }
            td class="num" { (k.rate_per_minute.map_or("—".to_string(), |r| format!("{r}/min"))) }
            td { (k.expires_at.as_deref().unwrap_or("never")) }
            td class="num" { (k.uses) }
            @if c.perms.audit { td { @if let Some(days) = usage { (chart(days)) } } }
            td { span class={ "badge " (if k.revoked { "bad" } else { "ok" }) } { (status) } }
            @if c.perms.rotate_key || c.perms.revoke_key {
                td {
                    @if !k.revoked {
                        @if c.perms.rotate_key {
                            form method="post" action=(here()) class="inline" {
                                (csrf(&c.req))
                                input type="hidden" name="do" value="rotate";
                                input type="hidden" name="key" value=(k.id);
                                label class="note" for={ "overlap-" (k.id) } { "Overlap" }
                                select id={ "overlap-" (k.id) } name="overlap" {
                                    option value="1h" { "1 hour" } option value="24h" { "1 day" } option value="7d" { "7 days" } option value="0s" { "none" }
                                }
                                " " button type="submit" class="secondary" { "Rotate" }
                            }
                            " "
                        }
                        @if c.perms.revoke_key {
                            form method="post" action=(here()) class="inline" {
                                (csrf(&c.req))
                                input type="hidden" name="do" value="revoke";
                                input type="hidden" name="key" value=(k.id);
                                button type="submit" class="danger" aria-label={ "Revoke key " (k.id) } { "Revoke" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn issue_form(c: &Console<'_>, accounts: &[&str], failure: Option<&Failure>) -> Markup {
    let keep = |k: &str| if failure.is_some() { c.req.f(k) } else { "" };
    html! {
        section class="card" aria-labelledby="issue-h" {
            h2 id="issue-h" { "Issue a key" }
            @if let Some(f) = failure { (layout::problems(f)) }
            form method="post" action=(here()) {
                (csrf(&c.req))
                input type="hidden" name="do" value="issue";
                (input("account", "Service account", "text", keep("account"), failure, true))
                @if !accounts.is_empty() { p class="note" { "Existing: " (accounts.join(", ")) } }
                (input("scopes", "Scopes (e.g. billing:*, patient_demographics:manage; empty: everything its roles allow)", "text", keep("scopes"), failure, false))
                (input("networks", "Networks it may be used from (CIDR, comma-separated; empty: anywhere)", "text", keep("networks"), failure, false))
                (input("rate_per_minute", "Requests per minute", "number", keep("rate_per_minute"), failure, false))
                (input("expires_in", "Expires in (e.g. 90d; empty: never)", "text", keep("expires_in"), failure, false))
                button type="submit" { "Issue key" }
            }
        }
    }
}

fn account_form(c: &Console<'_>, roles: &[String], failure: Option<&Failure>) -> Markup {
    html! {
        section class="card" aria-labelledby="account-h" {
            h2 id="account-h" { "New service account" }
            @if let Some(f) = failure { (layout::problems(f)) }
            form method="post" action=(here()) {
                (csrf(&c.req))
                input type="hidden" name="do" value="account";
                (input("id", "Name (e.g. lab-results-sync)", "text", if failure.is_some() { c.req.f("id") } else { "" }, failure, true))
                fieldset class="checks" {
                    legend { "Roles" }
                    @for r in roles { label { input type="checkbox" name="roles" value=(r); " " (r) } }
                }
                button type="submit" { "Create service account" }
            }
        }
    }
}

/// The posted form's one change.
async fn act(c: &Console<'_>) -> Result<Out, (&'static str, Failure)> {
    match c.req.f("do") {
        "issue" => {
            let rate = match c.req.opt("rate_per_minute") {
                None => None,
                Some(r) => Some(r.parse::<u32>().map_err(|_| {
                    (
                        "issue",
                        Failure::field("rate_per_minute", "must be a whole number"),
                    )
                })?),
            };
            let body = json!({
                "account": c.req.f("account"),
                "scopes": words(c.req.f("scopes")),
                "networks": words(c.req.f("networks")),
                "rate_per_minute": rate,
                "expires_in": c.req.opt("expires_in"),
            });
            let v = c.post("/keys", &body).await.map_err(|f| ("issue", f))?;
            Ok(shown(&v, "The key was issued."))
        }
        "rotate" => {
            let path = format!("/keys/{}/rotate", seg(c.req.f("key")));
            let body = json!({"overlap": c.req.opt("overlap")});
            let v = c.post(&path, &body).await.map_err(|f| ("row", f))?;
            Ok(shown(
                &v,
                "The key was rotated: the new key is below; the old one keeps working for the overlap.",
            ))
        }
        "revoke" => {
            let path = format!("/keys/{}", seg(c.req.f("key")));
            c.json(http::Method::DELETE, &path, None)
                .await
                .map_err(|f| ("row", f))?;
            Ok(Out::Redirect(format!("{}?done=revoked-key", here())))
        }
        "account" => {
            let body = json!({
                "id": c.req.f("id"),
                "practice": c.api.practice().id,
                "roles": c.req.all("roles"),
            });
            c.post("/accounts", &body)
                .await
                .map_err(|f| ("account", f))?;
            Ok(Out::Redirect(format!("{}?done=account", here())))
        }
        _ => Ok(layout::not_found()),
    }
}

/// A new key, shown once.
fn shown(v: &Value, said: &str) -> Out {
    let key = v.pointer("/key/key").and_then(Value::as_str).unwrap_or("");
    let id = v.pointer("/key/id").and_then(Value::as_str).unwrap_or("");
    Out::page(
        "Your new key",
        html! {
            p class="notice" role="status" { (said) }
            p { "Copy it now: it is shown only once and cannot be shown again." }
            p { code id="new-key" class="secret" { (key) } " " button type="button" class="secondary" data-copy="new-key" hidden { "Copy" } }
            p class="note" { "Key id " code { (id) } ". Send it as " code { "Authorization: Bearer …" } "." }
            p { a href=(here()) { "Back to API keys" } }
        },
    )
}
