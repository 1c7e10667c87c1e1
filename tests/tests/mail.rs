//! Reaching people, with a real SMTP relay (aiosmtpd) and a real HTTPS webhook receiver: an
//! invitation mailed and its link setting the password, "Forgot password?" answering alike and
//! mailing a link, an email code signing in once, a message queued while the relay is down
//! arriving once after a restart, and failed sign-ins raising one alert by mail and one
//! signed webhook POST.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::json;
use wardgate_tests::api::{call, signed_in};
use wardgate_tests::gateway::{Browser, Harness, Reply, Setup, PRACTICE};
use wardgate_tests::mail::{free_port, Receiver, Relay};

const SECRET: &str = "webhook-signing-secret-0123456789";

/// A gateway mailing through a relay on `port` (started by the test), links pointing at a
/// public name the test maps back to the gateway.
fn setup(port: u16, extra: &str) -> Setup {
    Setup {
        extra: format!(
            "[mail]\nrelay = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"Clinic <noreply@clinic.test>\"\npublic_url = \"https://portal.clinic.test\"\nretry = \"200ms\"\n{extra}\n"
        ),
        ..Setup::default()
    }
}

/// A relay listening before the gateway starts (so nothing else takes its port meanwhile).
fn relay(name: &str) -> (Relay, u16) {
    let dir = std::env::temp_dir().join(format!("wardgate-relay-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut relay = Relay::new(&dir, free_port());
    relay.start();
    let port = relay.port;
    (relay, port)
}

/// Posts a mailed link's form: the token and the new password twice.
async fn set_password(b: &Browser, page: &str, token: &str, password: &str) -> Reply {
    b.post(
        &format!("/.wardgate/{page}"),
        &[("token", token), ("new", password), ("confirm", password)],
    )
    .await
}

/// A Biller `email` and a reset link for them, queued with its mail.
fn reset_queued(h: &Harness, email: &str) {
    let user = h.user(email, &["Biller"], "Reset#Password1", true);
    h.gw.store()
        .reset_token(
            &wardgate_identity::Actor::system(),
            &user.id,
            chrono::Duration::hours(1),
        )
        .unwrap();
}

/// The reset message once the worker has tried it twice (panics after ten seconds).
async fn tried_twice(h: &Harness) -> wardgate_identity::MessageInfo {
    for _ in 0..100 {
        let m = h.gw.store().messages(None, 20).unwrap();
        if let Some(r) = m
            .into_iter()
            .find(|m| m.template == "reset" && m.attempts >= 2)
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the reset was not tried twice");
}

/// Every audit record's text, for looking for what must never be there.
fn audit_text(h: &Harness) -> String {
    h.audit_records()
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_is_mailed_and_its_link_sets_the_password_once() {
    let (relay, port) = relay("mail-invite");
    let h = Harness::start("mail-invite", setup(port, "")).await;
    let (admin, admin_id) = signed_in(&h, "admin@clinic.test", &["System Admin"]).await;
    let r = call(
        &h,
        &admin,
        Method::POST,
        "/users/invitations",
        Some(json!({"email": "new.nurse@clinic.test", "first_name": "Nia", "last_name": "Nurse", "roles": ["Office Staff"], "practices": [PRACTICE]})),
        true,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v = r.json();
    assert_eq!(v["mailed_to"], "new.nurse@clinic.test");
    assert!(
        v.get("activation_token").is_none(),
        "a mailed link is the invitee's alone: {v}"
    );
    let mail = relay
        .wait_for(10, |m| m.to.contains("new.nurse@clinic.test"))
        .await;
    assert!(mail.subject.contains("Test Clinic"), "{}", mail.subject);
    assert!(
        mail.text
            .contains("https://portal.clinic.test/.wardgate/activate?token="),
        "{}",
        mail.text
    );
    let link = mail.link();
    let token = link.split("token=").nth(1).unwrap().to_string();

    // The invitee opens the link, sets a password, and signs in with it.
    let b = h.browser();
    let page = b.get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("name=\"token\""), "{}", page.body);
    let mismatch = b
        .post(
            "/.wardgate/activate",
            &[
                ("token", &token),
                ("new", "Nurse#Strong2026"),
                ("confirm", "other"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    let weak = b
        .post(
            "/.wardgate/activate",
            &[("token", &token), ("new", "short"), ("confirm", "short")],
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST, "{}", weak.body);
    let set = set_password(&b, "activate", &token, "Nurse#Strong2026").await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert!(set.body.contains("Your password is set"), "{}", set.body);
    let signed = b.login("new.nurse@clinic.test", "Nurse#Strong2026").await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert!(b.cookie("__Host-wardgate").is_some());

    // The link works once; a reset link is no activation link; a forged one is nothing.
    let again = h.browser();
    assert_eq!(again.get(&link).await.status, StatusCode::BAD_REQUEST);
    let replay = set_password(&again, "activate", &token, "Attacker#Pass2026").await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.body);
    assert_eq!(
        again
            .get(&format!("/.wardgate/reset?token={token}"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // A cross-site post is refused before the token is looked at.
    let forged = h
        .client()
        .send(
            Method::POST,
            &format!("{}/.wardgate/activate", h.base),
            &[
                ("origin", "https://evil.example"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some("token=00&new=Attacker%23Pass2026&confirm=Attacker%23Pass2026"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);

    // The trail: who invited, the delivery, the activation; never the token.
    let text = audit_text(&h);
    assert!(text.contains("\"user:activation-token\""));
    assert!(
        text.contains(&admin_id),
        "the invitation names its administrator"
    );
    assert!(
        text.contains("\"outbox:delivered\""),
        "the delivery is recorded"
    );
    assert!(text.contains("\"login:activate\""));
    assert!(
        !text.contains(&token),
        "a token never reaches the audit log"
    );
    let messages = h.gw.store().messages(None, 10).unwrap();
    let invite = messages.iter().find(|m| m.template == "invite").unwrap();
    assert_eq!(invite.state, "sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_password_answers_alike_and_mails_a_limited_number_of_links() {
    let (relay, port) = relay("mail-forgot");
    let h = Harness::start("mail-forgot", setup(port, "")).await;
    h.user("rita@clinic.test", &["Biller"], "Original#Pass1", true);
    // Signed in elsewhere: a reset ends that session.
    let elsewhere = h.browser();
    elsewhere.login("rita@clinic.test", "Original#Pass1").await;
    assert_eq!(
        elsewhere.get("/.wardgate/whoami").await.status,
        StatusCode::OK
    );

    let b = h.browser();
    assert!(b
        .get("/.wardgate/login")
        .await
        .body
        .contains("Forgot password?"));
    assert_eq!(b.get("/.wardgate/forgot").await.status, StatusCode::OK);
    let known = b
        .post("/.wardgate/forgot", &[("email", "Rita@Clinic.test")])
        .await;
    let unknown = b
        .post("/.wardgate/forgot", &[("email", "nobody@clinic.test")])
        .await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(
        (known.status, known.body.clone()),
        (unknown.status, unknown.body.clone()),
        "the same answer whether or not the address has an account"
    );
    let mail = relay
        .wait_for(10, |m| m.to.contains("rita@clinic.test"))
        .await;
    let link = mail.link();
    assert!(link.starts_with("/.wardgate/reset?token="), "{link}");
    let token = link.split("token=").nth(1).unwrap().to_string();
    let page = b.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    let set = set_password(&b, "reset", &token, "Renewed#Pass2026").await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(
        b.login("rita@clinic.test", "Original#Pass1").await.status,
        StatusCode::UNAUTHORIZED
    );
    let fresh = h.browser();
    assert_eq!(
        fresh
            .login("rita@clinic.test", "Renewed#Pass2026")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let ended = elsewhere.get("/.wardgate/whoami").await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER, "{}", ended.body);
    assert!(
        ended.headers["location"]
            .to_str()
            .unwrap()
            .starts_with("/.wardgate/login"),
        "the reset ended the old session: sent to sign in again"
    );

    // At most three links an hour for one account, however often it is asked.
    for _ in 0..4 {
        b.post("/.wardgate/forgot", &[("email", "rita@clinic.test")])
            .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let to_rita = relay
        .messages()
        .iter()
        .filter(|m| m.to.contains("rita@clinic.test"))
        .count();
    assert_eq!(to_rita, wardgate_identity::RESETS_PER_HOUR as usize);
    assert!(audit_text(&h).contains("\"user:reset-throttled\""));
    // The form needs its browser's token.
    let r = b.request(Method::POST, "/.wardgate/forgot", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_code_signs_in_once_and_is_never_logged() {
    let (relay, port) = relay("mail-code");
    let h = Harness::start("mail-code", setup(port, "")).await;
    let mut settings = h.gw.store().security(PRACTICE).unwrap();
    settings.require_mfa = true;
    settings.second_factor = wardgate_identity::SecondFactor::Email;
    h.gw.store()
        .set_security(&wardgate_identity::Actor::system(), PRACTICE, &settings)
        .unwrap();
    h.gw.refresh_practices().unwrap();
    h.user(
        "cody@clinic.test",
        &["Office Staff"],
        "Cody#Password1",
        true,
    );

    let b = h.browser();
    let r = b.login("cody@clinic.test", "Cody#Password1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers["location"], "/.wardgate/second-factor",
        "a second factor is required"
    );
    let page = b.get("/.wardgate/second-factor").await;
    assert!(page.body.contains("Check your email"), "{}", page.body);
    let mail = relay
        .wait_for(10, |m| m.to.contains("cody@clinic.test"))
        .await;
    let code = mail.code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let bad = b
        .post(
            "/.wardgate/second-factor",
            &[("method", "email"), ("code", wrong)],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let ok = b
        .post(
            "/.wardgate/second-factor",
            &[("method", "email"), ("code", &code)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(b.get("/api/patients").await.status, StatusCode::OK);

    // The same code in a second sign-in is refused.
    let second = h.browser();
    second.login("cody@clinic.test", "Cody#Password1").await;
    let reuse = second
        .post(
            "/.wardgate/second-factor",
            &[("method", "email"), ("code", &code)],
        )
        .await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED, "{}", reuse.body);
    assert!(
        !audit_text(&h).contains(&code),
        "a code never reaches the audit log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_queued_while_the_relay_is_down_arrives_once_after_a_restart() {
    let port = free_port();
    let h = Harness::start("mail-down", setup(port, "")).await;
    let mut relay = Relay::new(&h.dir, port);
    // Queued with the reset, in its transaction; the relay is down.
    reset_queued(&h, "late@clinic.test");
    let reset = tried_twice(&h).await;
    assert_eq!(reset.state, "queued", "the worker kept trying: {reset:?}");
    assert!(reset.last_error.is_some());
    let h = h.restart().await;
    relay.start();
    let mail = relay
        .wait_for(20, |m| m.to.contains("late@clinic.test"))
        .await;
    assert!(mail.link().starts_with("/.wardgate/reset?token="));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let copies = relay
        .messages()
        .iter()
        .filter(|m| m.to.contains("late@clinic.test"))
        .count();
    assert_eq!(copies, 1, "delivered once");
    let m = h.gw.store().messages(None, 20).unwrap();
    assert_eq!(
        m.iter().find(|m| m.template == "reset").unwrap().state,
        "sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failed_sign_ins_raise_one_alert_by_mail_and_one_signed_webhook() {
    let (relay, port) = relay("mail-alert");
    let certs = std::env::temp_dir().join(format!("wardgate-hook-{}", std::process::id()));
    std::fs::create_dir_all(&certs).unwrap();
    let tls = wardgate::tls::self_signed(&certs).unwrap();
    let receiver = Receiver::start(&tls.cert, &tls.key).await;
    let secret_file = certs.join("hook.secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    let hooks = format!(
        "[alerts]\nfailed_logins = {{ count = 5, within = \"15m\" }}\n[[alerts.webhook]]\nname = \"soc\"\nurl = \"https://127.0.0.1:{}/hook\"\nsecret_file = {:?}\nca = {:?}\n",
        receiver.addr.port(),
        secret_file.display().to_string(),
        tls.ca_cert.display().to_string()
    );
    let h = Harness::start("mail-alert", setup(port, &hooks)).await;
    h.user(
        "boss@clinic.test",
        &["System Admin"],
        "Boss#Password1",
        true,
    );
    h.user("target@clinic.test", &["Biller"], "Target#Password1", true);
    let b = h.browser();
    for i in 0..5 {
        let r = b
            .login("target@clinic.test", &format!("Wrong#Guess{i}"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let alert = relay
        .wait_for(10, |m| {
            m.to.contains("boss@clinic.test") && m.subject.contains("failed_logins")
        })
        .await;
    assert!(alert.text.contains("target@clinic.test"), "{}", alert.text);
    // One webhook POST for it, signed.
    let mut post = None;
    for _ in 0..100 {
        post = receiver
            .posts()
            .into_iter()
            .find(|p| String::from_utf8_lossy(&p.body).contains("failed_logins"));
        if post.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let post = post.expect("the webhook got the alert");
    let header = post.headers["wardgate-signature"].to_str().unwrap();
    let t: i64 = header
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .unwrap()
        .parse()
        .unwrap();
    assert!((chrono::Utc::now().timestamp() - t).abs() < 60, "fresh");
    assert_eq!(
        header,
        wardgate::mail::signature(SECRET.as_bytes(), t, &post.body),
        "the signature verifies over the body received"
    );
    let v: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(v["alert"]["rule"], "failed_logins");
    assert_eq!(v["alert"]["practice"], PRACTICE);
    // Once each, not once per key or per failure; five more failures raise the alert again
    // (audited, counted) but send nothing within ten minutes.
    for i in 5..10 {
        b.login("target@clinic.test", &format!("Wrong#Guess{i}"))
            .await;
    }
    let needle = "wardgate_alerts_total{result=\"failed_logins\"} 2";
    assert!(h.metrics_with(needle).await.contains(needle));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = relay
        .messages()
        .iter()
        .filter(|m| m.subject.contains("failed_logins"))
        .count();
    let posts = receiver
        .posts()
        .iter()
        .filter(|p| String::from_utf8_lossy(&p.body).contains("failed_logins"))
        .count();
    assert_eq!((mails, posts), (1, 1));
    let raised: Vec<serde_json::Value> = h
        .audit_records()
        .into_iter()
        .filter(|r| r["event"]["action"] == "alert:failed_logins")
        .collect();
    assert_eq!(raised.len(), 2, "each alert is an audit event");
    assert_eq!(raised[1]["event"]["after"]["repeat"], true, "{}", raised[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_from_a_new_network_is_alerted_to_the_practice_administrators() {
    let (relay, port) = relay("mail-place");
    let mut s = setup(port, "");
    s.network = "trusted_proxies = [\"127.0.0.1\"]".into();
    let h = Harness::start("mail-place", s).await;
    h.user(
        "boss@clinic.test",
        &["System Admin"],
        "Boss#Password1",
        true,
    );
    h.user(
        "traveler@clinic.test",
        &["Biller"],
        "Travel#Password1",
        true,
    );
    for from in ["198.51.100.7", "198.51.100.8"] {
        let home = h.browser().with_header("x-forwarded-for", from);
        let r = home.login("traveler@clinic.test", "Travel#Password1").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let away = h.browser().with_header("x-forwarded-for", "203.0.113.9");
    let r = away.login("traveler@clinic.test", "Travel#Password1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let alert = relay
        .wait_for(10, |m| {
            m.to.contains("boss@clinic.test") && m.subject.contains("new_place")
        })
        .await;
    assert!(
        alert.text.contains("network 203.0.113.0/24")
            && alert.text.contains("traveler@clinic.test"),
        "{}",
        alert.text
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let alerts = relay
        .messages()
        .iter()
        .filter(|m| m.subject.contains("new_place"))
        .count();
    assert_eq!(
        alerts, 1,
        "the first sign-in and the same network again are nowhere new"
    );
}

/// A relay with `tls` ("starttls", "smtps" or "none") and a gateway mailing to it with
/// `security`, and `ca` as the relay's trusted authority when given.
async fn tls_case(name: &str, tls: &str, security: &str, trust: bool) -> (Harness, Relay) {
    let certs = std::env::temp_dir().join(format!("wardgate-{name}-certs-{}", std::process::id()));
    std::fs::create_dir_all(&certs).unwrap();
    let pair = wardgate::tls::self_signed(&certs).unwrap();
    let dir = std::env::temp_dir().join(format!("wardgate-relay-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let relay = Relay::new(&dir, free_port());
    let mut relay = match tls {
        "starttls" => relay.starttls(&pair.cert, &pair.key),
        "smtps" => relay.smtps(&pair.cert, &pair.key),
        _ => relay,
    };
    relay.start();
    let ca = if trust {
        format!("ca = {:?}\n", pair.ca_cert.display().to_string())
    } else {
        String::new()
    };
    let extra = format!(
        "[mail]\nrelay = \"127.0.0.1\"\nport = {}\nsecurity = \"{security}\"\n{ca}from = \"Clinic <noreply@clinic.test>\"\npublic_url = \"https://portal.clinic.test\"\nretry = \"200ms\"\n",
        relay.port
    );
    let h = Harness::start(
        name,
        Setup {
            extra,
            ..Setup::default()
        },
    )
    .await;
    (h, relay)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_over_starttls_or_tls_to_a_relay_it_trusts_and_never_in_the_clear() {
    for (name, tls, security) in [
        ("mail-starttls", "starttls", "starttls"),
        ("mail-smtps", "smtps", "tls"),
    ] {
        let (h, relay) = tls_case(name, tls, security, true).await;
        reset_queued(&h, "tls@clinic.test");
        let m = relay
            .wait_for(15, |m| m.to.contains("tls@clinic.test"))
            .await;
        assert!(m.link().starts_with("/.wardgate/reset?token="), "{name}");
    }
    // A relay whose certificate is not trusted, or one that offers no STARTTLS when it is
    // required, gets nothing: the message waits, saying why.
    for (name, tls, trust) in [
        ("mail-untrusted", "starttls", false),
        ("mail-plain", "none", true),
    ] {
        let (h, relay) = tls_case(name, tls, "starttls", trust).await;
        reset_queued(&h, "tls@clinic.test");
        let info = tried_twice(&h).await;
        assert_eq!(info.state, "queued", "{name}: {info:?}");
        let why = info.last_error.clone().unwrap_or_default();
        assert!(
            why.contains("certificate") || why.contains("STARTTLS"),
            "{name}: {why}"
        );
        assert!(
            relay.messages().is_empty(),
            "{name}: nothing was sent in the clear"
        );
    }
}
