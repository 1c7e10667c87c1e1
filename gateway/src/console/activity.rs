//! Settings > Activity Log: filter by user, date range, action, decision and patient;
//! paginated; each record's details; the matching records exported as CSV; and a badge with
//! the result of the chain's verification.

use maud::{html, Markup};
use serde_json::Value;

use super::call::query;
use super::layout;
use super::{Console, Out, PREFIX};

const PAGE: &str = "100";

/// The filters of the page, as the API names them.
const FILTERS: [&str; 6] = ["user", "from", "to", "action", "decision", "patient"];

fn filter_pairs<'a>(c: &'a Console<'_>) -> Vec<(&'static str, Option<&'a str>)> {
    FILTERS.iter().map(|k| (*k, c.req.q(k))).collect()
}

pub(super) async fn search(c: &Console<'_>) -> Out {
    if !c.perms.audit {
        return layout::failed(&super::users::refused());
    }
    let mut pairs = filter_pairs(c);
    pairs.push(("limit", Some(PAGE)));
    pairs.push(("order", Some("newest")));
    pairs.push(("cursor", c.req.q("cursor")));
    let found = match c.get(&format!("/audit{}", query(&pairs))).await {
        Ok(v) => v,
        Err(f) if f.status == http::StatusCode::BAD_REQUEST => {
            let body = html! { (layout::problems(&f)) (filters(c)) };
            return Out::status(f.status, "Activity log", body);
        }
        Err(f) => return layout::failed(&f),
    };
    let verified = if c.perms.audit_verify {
        c.get("/audit/verify").await.ok()
    } else {
        None
    };
    let records: Vec<Value> = found
        .get("records")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let next = found.get("next_cursor").and_then(Value::as_u64);
    let filters_only = query(&filter_pairs(c));
    let next_url = next.map(|n| {
        let sep = if filters_only.is_empty() { "?" } else { "&" };
        format!("{PREFIX}activity{filters_only}{sep}cursor={n}")
    });
    let body = html! {
        (badge(verified.as_ref()))
        (filters(c))
        @if c.perms.audit_export {
            p { a class="button" href={ (PREFIX) "activity/export" (filters_only) } download="activity.csv" { "Export CSV" } }
        }
        div class="scroll" {
            table {
                thead { tr {
                    th scope="col" { "#" } th scope="col" { "Time" } th scope="col" { "Who" } th scope="col" { "Action" }
                    th scope="col" { "Decision" } th scope="col" { "Patient" } th scope="col" { "Details" }
                } }
                tbody {
                    @for r in &records { (row(r)) }
                    @if records.is_empty() { tr { td colspan="7" { "No record matches." } } }
                }
            }
        }
        @if let Some(n) = next_url { p { a href=(n) rel="next" { "Next page" } } }
    };
    Out::page("Activity log", body)
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn row(r: &Value) -> Markup {
    let seq = r.get("seq").and_then(Value::as_u64).unwrap_or(0);
    let actor = format!("{} {}", s(r, "/event/actor/kind"), s(r, "/event/actor/id"));
    let verdict = s(r, "/event/decision/verdict");
    let detail =
        serde_json::to_string_pretty(r.get("event").unwrap_or(&Value::Null)).unwrap_or_default();
    html! {
        tr {
            td class="num" { (seq) }
            td { (s(r, "/time")) }
            td { (actor) }
            td { code { (s(r, "/event/action")) } @let path = s(r, "/event/resource/path"); @if !path.is_empty() { br; span class="note" { (s(r, "/event/detail/method")) " " (path) } } }
            td { @if !verdict.is_empty() { span class={ "badge " (if verdict == "allow" { "ok" } else { "bad" }) } { (verdict) } } @else { (s(r, "/event/kind")) } }
            td { (s(r, "/event/resource/patient")) }
            td { details { summary { "Record " (seq) } pre class="detail" { (detail) } } }
        }
    }
}

fn badge(v: Option<&Value>) -> Markup {
    let Some(v) = v else { return html! {} };
    let ok = v.get("ok").and_then(Value::as_bool).unwrap_or(false);
    let records = v.get("records").and_then(Value::as_u64).unwrap_or(0);
    html! {
        p role="status" {
            @if ok {
                span class="badge ok" { "Chain verified" } " " span class="note" { (records) " records, every link and anchor checked." }
            } @else {
                span class="badge bad" { "Chain broken" } " " span class="note" { "The activity log does not verify: ask the host's operator to run wardgate audit verify." }
            }
        }
    }
}

fn filters(c: &Console<'_>) -> Markup {
    let v = |k: &str| c.req.q(k).unwrap_or("").to_string();
    let decision = c.req.q("decision");
    html! {
        form method="get" action={ (PREFIX) "activity" } class="filters" {
            div class="field" { label for="user" { "User" } input id="user" name="user" type="text" value=(v("user")) placeholder="user, account or key id"; }
            div class="field" { label for="from" { "From" } input id="from" name="from" type="date" value=(v("from")); }
            div class="field" { label for="to" { "To" } input id="to" name="to" type="date" value=(v("to")); }
            div class="field" { label for="action" { "Action" } input id="action" name="action" type="text" value=(v("action")) placeholder="e.g. user:* or notes:view"; }
            div class="field" {
                label for="decision" { "Decision" }
                select id="decision" name="decision" {
                    option value="" { "Any" }
                    option value="allow" selected[decision == Some("allow")] { "allow" }
                    option value="deny" selected[decision == Some("deny")] { "deny" }
                }
            }
            div class="field" { label for="patient" { "Patient record" } input id="patient" name="patient" type="text" value=(v("patient")); }
            button type="submit" { "Filter" }
        }
    }
}

/// The matching records as CSV, streamed from the API as it reads the log.
pub(super) async fn export(c: &Console<'_>) -> Out {
    if !c.perms.audit_export {
        return layout::failed(&super::users::refused());
    }
    let mut pairs = filter_pairs(c);
    pairs.push(("format", Some("csv")));
    let res = c
        .api
        .call(
            http::Method::GET,
            &format!("/audit/export{}", query(&pairs)),
            None,
        )
        .await;
    if !res.status().is_success() {
        let status = res.status();
        let body = crate::body::read_all(res.into_body(), 1 << 16).await;
        let v: Value = body
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        return layout::failed(&super::call::Failure::from_answer(status, &v));
    }
    let mut res = res;
    res.headers_mut().insert(
        http::header::CONTENT_DISPOSITION,
        http::HeaderValue::from_static("attachment; filename=\"activity.csv\""),
    );
    Out::Raw(res)
}
