//! The seeds' user management, rule by rule, against a real SQLite file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};

use wardgate_identity::{
    Actor, ChangeSink, IdentityError, NewKey, NewUser, Store, UserFilter, UserKind, UserStatus,
};

#[derive(Default, Clone)]
struct Sink(Arc<Mutex<Vec<(String, String)>>>);

impl ChangeSink for Sink {
    fn record(
        &self,
        actor: &wardgate_identity::Actor,
        action: &str,
        _b: Option<serde_json::Value>,
        _a: Option<serde_json::Value>,
    ) -> Result<(), String> {
        self.0
            .lock()
            .unwrap()
            .push((actor.id.clone(), action.into()));
        Ok(())
    }
}

const KAREO_ROLES: [&str; 6] = [
    "System Admin",
    "Provider",
    "Clinical Assistant",
    "Office Staff",
    "Biller",
    "Business Manager",
];

fn store(name: &str) -> (Store, Sink) {
    let path = std::env::temp_dir().join(format!(
        "wardgate-identity-{name}-{}.db",
        std::process::id()
    ));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    let sink = Sink::default();
    let s = Store::open(&path, Box::new(sink.clone()))
        .unwrap()
        .with_roles(KAREO_ROLES.iter().map(|r| r.to_string()).collect());
    s.add_practice(
        &Actor::system(),
        "p-1",
        "Main Street Clinic",
        "America/New_York",
        &["clinical".into(), "billing".into()],
    )
    .unwrap();
    s.add_practice(
        &Actor::system(),
        "p-2",
        "Uptown Clinic",
        "America/Chicago",
        &[],
    )
    .unwrap();
    (s, sink)
}

fn staff(email: &str, roles: &[&str], practices: &[&str]) -> NewUser {
    NewUser {
        email: email.into(),
        first_name: "Jane".into(),
        last_name: "Adams".into(),
        password: "Temporary#Pass1".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        practices: practices.iter().map(|p| p.to_string()).collect(),
        ..NewUser::default()
    }
}

fn provider(email: &str, npi: &str, modules: &[&str]) -> NewUser {
    NewUser {
        provider: true,
        npi: Some(npi.into()),
        modules: modules.iter().map(|m| m.to_string()).collect(),
        ..staff(email, &["Provider"], &["p-1"])
    }
}

#[test]
fn a_new_user_has_a_temporary_password_and_many_roles() {
    let (s, sink) = store("create");
    let u = s
        .add_user(
            &Actor::system(),
            staff(
                "JAdams@KareoTest.com",
                &["Biller", "Office Staff"],
                &["p-1"],
            ),
        )
        .unwrap();
    assert_eq!(u.email, "jadams@kareotest.com");
    assert!(u.must_change_password);
    assert_eq!(u.status, UserStatus::Active);
    assert_eq!(
        s.roles_in_effect(&u.id, "p-1", None).unwrap(),
        ["Biller", "Office Staff"]
    );
    assert!(s.roles_in_effect(&u.id, "p-2", None).unwrap().is_empty());
    assert!(sink
        .0
        .lock()
        .unwrap()
        .iter()
        .any(|(_, a)| a == "user:create"));
    // Signing in works; the temporary password must then be changed.
    let signed = s.login("jadams@kareotest.com", "Temporary#Pass1").unwrap();
    assert!(signed.must_change_password);
    s.change_password(&u.id, "Temporary#Pass1", "Another#Secret2")
        .unwrap();
    assert!(!s.user(&u.id).unwrap().must_change_password);
}

#[test]
fn duplicates_bad_emails_weak_passwords_and_unknown_roles_are_refused() {
    let (s, _) = store("refuse");
    s.add_user(&Actor::system(), staff("a@x.com", &["Biller"], &["p-1"]))
        .unwrap();
    assert!(matches!(
        s.add_user(&Actor::system(), staff("A@X.com", &["Biller"], &["p-1"])),
        Err(IdentityError::DuplicateUser(_))
    ));
    assert!(matches!(
        s.add_user(
            &Actor::system(),
            staff("not-an-email", &["Biller"], &["p-1"])
        ),
        Err(IdentityError::Email(_))
    ));
    let mut weak = staff("b@x.com", &["Biller"], &["p-1"]);
    weak.password = "password".into();
    match s.add_user(&Actor::system(), weak) {
        Err(IdentityError::WeakPassword(m)) => {
            assert!(m.contains("12 characters") && m.contains("number"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.add_user(
            &Actor::system(),
            staff("c@x.com", &["Practice Admin"], &["p-1"])
        ),
        Err(IdentityError::UnknownRole(..))
    ));
    assert!(matches!(
        s.add_user(&Actor::system(), staff("d@x.com", &[], &["p-1"])),
        Err(IdentityError::Invalid(_))
    ));
    assert!(matches!(
        s.add_user(&Actor::system(), provider("e@x.com", "1234567890", &[])),
        Err(IdentityError::Npi(_))
    ));
    assert_eq!(
        s.users(&UserFilter::default()).unwrap().len(),
        1,
        "nothing half-written"
    );
}

#[test]
fn administrators_grant_only_practices_they_hold() {
    let (s, _) = store("grant");
    let admin = s
        .add_user(
            &Actor::system(),
            staff("admin@x.com", &["System Admin"], &["p-1"]),
        )
        .unwrap();
    let by_admin = Actor::user(&admin.id);
    assert!(s
        .add_user(&by_admin, staff("f@x.com", &["Biller"], &["p-1"]))
        .is_ok());
    assert!(matches!(
        s.add_user(&by_admin, staff("g@x.com", &["Biller"], &["p-2"])),
        Err(IdentityError::Forbidden(_))
    ));
}

#[test]
fn unassigning_archives_the_email_and_keeps_history_but_providers_are_only_locked() {
    let (s, _) = store("unassign");
    let u = s
        .add_user(
            &Actor::system(),
            staff("jadams@kareotest.com", &["Office Staff"], &["p-1"]),
        )
        .unwrap();
    let after = s.unassign(&Actor::system(), &u.id).unwrap();
    assert_eq!(after.email, "archived_jadams@kareotest.com");
    assert_eq!(after.status, UserStatus::Unassigned);
    assert!(s.roles_in_effect(&u.id, "p-1", None).unwrap().is_empty());
    // The email is free again for a new account; the old one stays for reports and audit.
    s.add_user(
        &Actor::system(),
        staff("jadams@kareotest.com", &["Office Staff"], &["p-1"]),
    )
    .unwrap();
    assert_eq!(s.users(&UserFilter::default()).unwrap().len(), 2);

    let doc = s
        .add_user(
            &Actor::system(),
            provider("dr@x.com", "1234567893", &["clinical"]),
        )
        .unwrap();
    assert_eq!(doc.kind, UserKind::Provider);
    assert!(matches!(
        s.unassign(&Actor::system(), &doc.id),
        Err(IdentityError::Forbidden(_))
    ));
    // A provider with an active module cannot be locked either.
    assert!(matches!(
        s.lock(&Actor::system(), &doc.id),
        Err(IdentityError::Forbidden(_))
    ));
    let idle = s
        .add_user(&Actor::system(), provider("dr2@x.com", "1234567893", &[]))
        .unwrap();
    assert_eq!(
        s.lock(&Actor::system(), &idle.id).unwrap().status,
        UserStatus::Locked
    );
    assert_eq!(
        s.unlock(&Actor::system(), &idle.id).unwrap().status,
        UserStatus::Active
    );
}

#[test]
fn failed_sign_ins_lock_the_account_until_an_administrator_unlocks_it() {
    let (s, _) = store("lockout");
    let u = s
        .add_user(&Actor::system(), staff("h@x.com", &["Biller"], &["p-1"]))
        .unwrap();
    for _ in 0..4 {
        assert!(matches!(
            s.login("h@x.com", "wrong"),
            Err(IdentityError::BadCredentials)
        ));
    }
    assert!(matches!(
        s.login("h@x.com", "wrong"),
        Err(IdentityError::LockedOut)
    ));
    assert!(matches!(
        s.login("h@x.com", "Temporary#Pass1"),
        Err(IdentityError::LockedOut)
    ));
    s.unlock(&Actor::system(), &u.id).unwrap();
    assert!(s.login("h@x.com", "Temporary#Pass1").is_ok());
    // Unknown accounts and wrong passwords look the same.
    assert!(matches!(
        s.login("nobody@x.com", "x"),
        Err(IdentityError::BadCredentials)
    ));
}

#[test]
fn disabled_users_cannot_sign_in_and_only_admins_delete() {
    let (s, _) = store("disable");
    let u = s
        .add_user(&Actor::system(), staff("i@x.com", &["Biller"], &["p-1"]))
        .unwrap();
    s.disable(&Actor::system(), &u.id).unwrap();
    assert!(matches!(
        s.login("i@x.com", "Temporary#Pass1"),
        Err(IdentityError::BadCredentials)
    ));
    s.enable(&Actor::system(), &u.id).unwrap();
    assert!(s.login("i@x.com", "Temporary#Pass1").is_ok());
    let biller = s
        .add_user(&Actor::system(), staff("j@x.com", &["Biller"], &["p-1"]))
        .unwrap();
    assert!(matches!(
        s.delete(&Actor::user(&biller.id), &u.id),
        Err(IdentityError::Forbidden(_))
    ));
    let admin = s
        .add_user(
            &Actor::system(),
            staff("k@x.com", &["System Admin"], &["p-1"]),
        )
        .unwrap();
    s.delete(&Actor::user(&admin.id), &u.id).unwrap();
    assert!(s.user(&u.id).is_err());
}

#[test]
fn search_by_first_letters_and_providers_listed_first() {
    let (s, _) = store("search");
    let mut a = staff("zoe@x.com", &["Biller"], &["p-1"]);
    a.first_name = "Zoe".into();
    a.last_name = "Baker".into();
    s.add_user(&Actor::system(), a).unwrap();
    s.add_user(&Actor::system(), provider("doc@x.com", "1234567893", &[]))
        .unwrap();
    let found = s
        .users(&UserFilter {
            prefix: Some("bak".into()),
            ..UserFilter::default()
        })
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].email, "zoe@x.com");
    let all = s.users(&UserFilter::default()).unwrap();
    assert_eq!(all[0].kind, UserKind::Provider);
}

#[test]
fn expiring_roles_lapse_and_admin_counts_warn() {
    let (s, _) = store("expiry");
    let mut contractor = staff("l@x.com", &["Biller"], &["p-1"]);
    contractor.expires_at = Some("2000-01-01T00:00:00.000Z".into());
    let c = s.add_user(&Actor::system(), contractor).unwrap();
    assert!(s.roles_in_effect(&c.id, "p-1", None).unwrap().is_empty());
    assert!(s
        .admin_warning("p-1")
        .unwrap()
        .unwrap()
        .contains("no system administrator"));
    for i in 0..3 {
        s.add_user(
            &Actor::system(),
            staff(&format!("admin{i}@x.com"), &["System Admin"], &["p-1"]),
        )
        .unwrap();
    }
    assert!(s
        .admin_warning("p-1")
        .unwrap()
        .unwrap()
        .contains("one primary and one backup"));
}

#[test]
fn api_keys_are_shown_once_scoped_rotated_and_revoked() {
    let (s, sink) = store("keys");
    s.add_service_account(&Actor::system(), "billing-sync", "p-1", &["Biller".into()])
        .unwrap();
    let issued = s
        .issue_key(
            &Actor::system(),
            &NewKey {
                account: "billing-sync".into(),
                scopes: vec!["billing:*".into()],
                rate_per_minute: Some(100),
                ..NewKey::default()
            },
        )
        .unwrap();
    assert!(issued.key.starts_with(&format!("wg_{}_", issued.id)));
    let info = s.verify_key(&issued.key).unwrap();
    assert_eq!(
        (
            info.account.as_str(),
            info.roles.as_slice(),
            info.rate_per_minute
        ),
        ("billing-sync", &["Biller".to_string()][..], Some(100))
    );
    assert_eq!(s.verify_key(&issued.key).unwrap().uses, 1);
    // A wrong secret with the right id is refused.
    let forged = format!(
        "{}{}",
        &issued.key[..issued.key.len() - 1],
        if issued.key.ends_with('0') { '1' } else { '0' }
    );
    assert!(matches!(s.verify_key(&forged), Err(IdentityError::BadKey)));
    assert!(matches!(
        s.verify_key("wg_nothex"),
        Err(IdentityError::BadKey)
    ));
    // The secret never reaches the audit log's events list as an action detail.
    assert!(sink.0.lock().unwrap().iter().any(|(_, a)| a == "key:issue"));
    // Rotation: both work during the overlap.
    let new = s
        .rotate_key(&Actor::system(), &issued.id, chrono::Duration::hours(1))
        .unwrap();
    assert!(s.verify_key(&issued.key).is_ok());
    assert!(s.verify_key(&new.key).is_ok());
    let gone = s
        .rotate_key(&Actor::system(), &new.id, chrono::Duration::zero())
        .unwrap();
    assert!(
        matches!(s.verify_key(&new.key), Err(IdentityError::BadKey)),
        "no overlap: the old key stops at once"
    );
    s.revoke_key(&Actor::system(), &gone.id).unwrap();
    assert!(matches!(
        s.verify_key(&gone.key),
        Err(IdentityError::BadKey)
    ));
    let expired = s
        .issue_key(
            &Actor::system(),
            &NewKey {
                account: "billing-sync".into(),
                scopes: vec!["*".into()],
                expires_in: Some(chrono::Duration::zero()),
                ..NewKey::default()
            },
        )
        .unwrap();
    assert!(matches!(
        s.verify_key(&expired.key),
        Err(IdentityError::BadKey)
    ));
}

#[test]
fn two_processes_changing_the_database_stay_consistent() {
    let path = std::env::temp_dir().join(format!(
        "wardgate-identity-concurrent-{}.db",
        std::process::id()
    ));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    {
        let s = Store::open(&path, Box::new(Sink::default())).unwrap();
        s.add_practice(&Actor::system(), "p-1", "Clinic", "UTC", &[])
            .unwrap();
    }
    // Two connections (as two processes would have), racing to create the same users.
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let s = Store::open(&path, Box::new(Sink::default())).unwrap();
                let mut created = 0;
                for i in 0..20 {
                    let mut u = staff(&format!("user{i}@x.com"), &["Biller"], &["p-1"]);
                    u.first_name = format!("T{t}");
                    match s.add_user(&Actor::system(), u) {
                        Ok(_) => created += 1,
                        Err(IdentityError::DuplicateUser(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                created
            })
        })
        .collect();
    let total: i32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 20, "each email created exactly once");
    let s = Store::open(&path, Box::new(Sink::default())).unwrap();
    let users = s.users(&UserFilter::default()).unwrap();
    assert_eq!(users.len(), 20);
    assert!(
        users.iter().all(|u| u.assignments.len() == 1),
        "no half-written user"
    );
}

#[test]
fn the_cached_key_path_sees_revocations_from_here_and_from_other_processes() {
    let (s, _) = store("cache");
    s.add_service_account(&Actor::system(), "sync", "p-1", &["Biller".into()])
        .unwrap();
    let k = s
        .issue_key(
            &Actor::system(),
            &NewKey {
                account: "sync".into(),
                scopes: vec!["*".into()],
                ..NewKey::default()
            },
        )
        .unwrap();
    for _ in 0..5 {
        assert!(s.verify_key_cached(&k.key).is_ok());
    }
    assert_eq!(s.flush_key_usage().unwrap(), 1);
    assert_eq!(s.keys(Some("sync")).unwrap()[0].uses, 5);
    s.revoke_key(&Actor::system(), &k.id).unwrap();
    assert!(
        matches!(s.verify_key_cached(&k.key), Err(IdentityError::BadKey)),
        "revoked here: refused at once"
    );

    let k2 = s
        .issue_key(
            &Actor::system(),
            &NewKey {
                account: "sync".into(),
                scopes: vec!["*".into()],
                ..NewKey::default()
            },
        )
        .unwrap();
    assert!(s.verify_key_cached(&k2.key).is_ok());
    // Another connection (as the CLI in another process) revokes it.
    let path =
        std::env::temp_dir().join(format!("wardgate-identity-cache-{}.db", std::process::id()));
    let other = Store::open(&path, Box::new(Sink::default())).unwrap();
    other.revoke_key(&Actor::system(), &k2.id).unwrap();
    // Other processes' commits are looked for at most every DATA_VERSION_TTL.
    std::thread::sleep(wardgate_identity::DATA_VERSION_TTL + std::time::Duration::from_millis(10));
    assert!(
        matches!(s.verify_key_cached(&k2.key), Err(IdentityError::BadKey)),
        "revoked elsewhere: refused within the TTL"
    );
}

/// Runs only as a child of `two_processes_adding_users_keep_the_database_consistent`.
#[test]
fn concurrent_child() {
    let Ok(path) = std::env::var("WARDGATE_IDENTITY_CHILD") else {
        return;
    };
    let s = Store::open(std::path::Path::new(&path), Box::new(Sink::default())).unwrap();
    for i in 0..15 {
        match s.add_user(
            &Actor::system(),
            staff(&format!("proc{i}@x.com"), &["Biller"], &["p-1"]),
        ) {
            Ok(_) | Err(IdentityError::DuplicateUser(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn two_processes_adding_users_keep_the_database_consistent() {
    let (s, _) = store("processes");
    let path = std::env::temp_dir().join(format!(
        "wardgate-identity-processes-{}.db",
        std::process::id()
    ));
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "concurrent_child", "--test-threads=1"])
                .env("WARDGATE_IDENTITY_CHILD", &path)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let users = s.users(&UserFilter::default()).unwrap();
    assert_eq!(
        users.iter().filter(|u| u.email.starts_with("proc")).count(),
        15,
        "each email once"
    );
    assert!(
        users.iter().all(|u| u.assignments.len() == 1),
        "no half-written user"
    );
}

#[test]
fn security_settings_are_per_practice_and_admin_only() {
    let (s, _) = store("security");
    let mut settings = s.security("p-1").unwrap();
    assert_eq!(settings.session_idle_minutes, 30);
    settings.require_mfa = true;
    settings.session_idle_minutes = 15;
    let biller = s
        .add_user(&Actor::system(), staff("m@x.com", &["Biller"], &["p-1"]))
        .unwrap();
    assert!(matches!(
        s.set_security(&Actor::user(&biller.id), "p-1", &settings),
        Err(IdentityError::Forbidden(_))
    ));
    s.set_security(&Actor::system(), "p-1", &settings).unwrap();
    assert!(s.security("p-1").unwrap().require_mfa);
    assert!(!s.security("p-2").unwrap().require_mfa);
}

#[test]
fn invitations_edits_revocations_and_sessions() {
    let (s, _) = store("invite");
    let (u, token) = s
        .invite(
            &Actor::system(),
            NewUser {
                password: String::new(),
                ..staff("new@x.com", &["Office Staff"], &["p-1"])
            },
            chrono::Duration::days(7),
        )
        .unwrap();
    assert!(
        matches!(
            s.login("new@x.com", "anything"),
            Err(IdentityError::BadCredentials)
        ),
        "no sign-in before activation"
    );
    s.set_password_with_token(&token, "Chosen#Password1")
        .unwrap();
    assert!(s.login("new@x.com", "Chosen#Password1").is_ok());

    let edited = s
        .edit(
            &Actor::system(),
            &u.id,
            &wardgate_identity::UserEdit {
                last_name: Some("Baker".into()),
                email: Some("nb@x.com".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        (edited.last_name.as_str(), edited.email.as_str()),
        ("Baker", "nb@x.com")
    );
    s.add_user(
        &Actor::system(),
        staff("taken@x.com", &["Biller"], &["p-1"]),
    )
    .unwrap();
    assert!(matches!(
        s.edit(
            &Actor::system(),
            &u.id,
            &wardgate_identity::UserEdit {
                email: Some("taken@x.com".into()),
                ..Default::default()
            }
        ),
        Err(IdentityError::DuplicateUser(_))
    ));
    s.grant(&Actor::system(), &u.id, "Biller", "p-1", None, None)
        .unwrap();
    let after = s
        .revoke(&Actor::system(), &u.id, "Office Staff", "p-1", None)
        .unwrap();
    assert_eq!(
        after
            .assignments
            .iter()
            .map(|a| a.role.as_str())
            .collect::<Vec<_>>(),
        ["Biller"]
    );

    // Sessions: live until signed out, remotely ended, or the user is locked.
    let t1 = s
        .start_session(&u.id, "p-1", Some("10.0.0.1"), Some("firefox"), false)
        .unwrap();
    let t2 = s
        .start_session(&u.id, "p-1", Some("10.0.0.2"), Some("chrome"), true)
        .unwrap();
    assert_eq!(s.sessions(&u.id).unwrap().len(), 2);
    assert!(s.session(&t1).unwrap().is_some());
    assert!(s.end_session(&t1, "sign-out").unwrap());
    assert!(s.session(&t1).unwrap().is_none());
    assert!(s.session("not-a-token").unwrap().is_none());
    s.lock(&Actor::system(), &u.id).unwrap();
    assert!(
        s.session(&t2).unwrap().is_none(),
        "locking ends the sessions at once"
    );
    s.unlock(&Actor::system(), &u.id).unwrap();
    assert!(s.session(&t2).unwrap().is_none(), "and they stay ended");
    let t3 = s.start_session(&u.id, "p-1", None, None, false).unwrap();
    assert_eq!(
        s.end_sessions(&Actor::system(), &u.id, "remote logout")
            .unwrap(),
        1
    );
    assert!(s.session(&t3).unwrap().is_none());
}

#[test]
fn cached_sessions_end_with_the_user() {
    let (s, _) = store("session-cache");
    let u = s
        .add_user(&Actor::system(), staff("sc@x.com", &["Biller"], &["p-1"]))
        .unwrap();
    let t = s
        .start_session(&u.id, "p-1", Some("10.0.0.1"), None, false)
        .unwrap();
    for _ in 0..3 {
        assert!(s.session_cached(&t).unwrap().is_some());
    }
    assert_eq!(s.flush_sessions().unwrap(), 1);
    s.disable(&Actor::system(), &u.id).unwrap();
    assert!(
        s.session_cached(&t).unwrap().is_none(),
        "disabling ends a cached session at once"
    );
    s.enable(&Actor::system(), &u.id).unwrap();
    let t2 = s.start_session(&u.id, "p-1", None, None, false).unwrap();
    assert!(s.session_cached(&t2).unwrap().is_some());
    assert!(s.end_session(&t2, "sign-out").unwrap());
    assert!(
        s.session_cached(&t2).unwrap().is_none(),
        "signing out ends a cached session at once"
    );
}

#[test]
fn held_roles_count_users_and_service_accounts_but_not_revoked_grants() {
    let (s, _) = store("held");
    let a = s
        .add_user(
            &Actor::system(),
            staff("held-a@clinic.test", &["Biller", "Office Staff"], &["p-1"]),
        )
        .unwrap();
    s.add_user(
        &Actor::system(),
        staff("held-b@clinic.test", &["Biller"], &["p-1"]),
    )
    .unwrap();
    s.add_service_account(&Actor::system(), "sync", "p-1", &["Office Staff".into()])
        .unwrap();
    s.revoke(&Actor::system(), &a.id, "Office Staff", "p-1", None)
        .unwrap();
    assert_eq!(
        s.held_roles().unwrap(),
        vec![("Biller".to_string(), 2), ("Office Staff".to_string(), 1)]
    );
}

#[test]
fn deleting_someone_who_signed_in_removes_their_sessions_factors_and_grants() {
    let (s, sink) = store("delete-signed-in");
    let admin = s
        .add_user(
            &Actor::system(),
            staff("owner@x.com", &["System Admin"], &["p-1"]),
        )
        .unwrap();
    let gone = s
        .add_user(
            &Actor::system(),
            staff("leaver@x.com", &["Office Staff"], &["p-1"]),
        )
        .unwrap();
    s.start_session(&gone.id, "p-1", Some("10.0.0.1"), Some("dev"), false)
        .unwrap();
    s.enroll_totp(&gone.id, "Wardgate").unwrap();
    s.reset_token(
        &Actor::user(&admin.id),
        &gone.id,
        chrono::Duration::hours(1),
    )
    .unwrap();
    s.delete(&Actor::user(&admin.id), &gone.id).unwrap();
    assert!(s.user(&gone.id).is_err());
    assert!(sink
        .0
        .lock()
        .unwrap()
        .iter()
        .any(|(who, what)| *who == admin.id && what == "user:delete"));
    // Nobody deletes themselves.
    assert!(matches!(
        s.delete(&Actor::user(&admin.id), &admin.id),
        Err(IdentityError::Forbidden(_))
    ));
}

#[test]
fn a_rehired_person_can_be_unassigned_again() {
    let (s, _) = store("rehired");
    let first = s
        .add_user(
            &Actor::system(),
            staff("temp@x.com", &["Office Staff"], &["p-1"]),
        )
        .unwrap();
    let first = s.unassign(&Actor::system(), &first.id).unwrap();
    assert_eq!(first.email, "archived_temp@x.com");
    let again = s
        .add_user(
            &Actor::system(),
            staff("temp@x.com", &["Office Staff"], &["p-1"]),
        )
        .unwrap();
    let again = s.unassign(&Actor::system(), &again.id).unwrap();
    assert_eq!(again.email, "archived_2_temp@x.com");
}

#[test]
fn expiring_inactive_accounts_spares_the_actor_and_the_last_administrator() {
    let (s, _) = store("expire-guard");
    let admin = s
        .add_user(
            &Actor::system(),
            staff("boss@x.com", &["System Admin"], &["p-1"]),
        )
        .unwrap();
    let other = s
        .add_user(
            &Actor::system(),
            staff("idle@x.com", &["Office Staff"], &["p-1"]),
        )
        .unwrap();
    let operator = Actor::operator("root");
    assert!(matches!(
        s.expire_inactive(&operator, chrono::Duration::zero()),
        Err(IdentityError::Invalid(_))
    ));
    // Everybody is idle "for a day" on a clock a day ahead.
    let later = s.with_clock(Box::new(Ahead(chrono::Duration::days(2))));
    let disabled = later
        .expire_inactive(&operator, chrono::Duration::days(1))
        .unwrap();
    assert_eq!(
        disabled,
        vec![other.id.clone()],
        "the last administrator stays"
    );
    assert_eq!(later.user(&admin.id).unwrap().status, UserStatus::Active);
}

struct Ahead(chrono::Duration);
impl wardgate_identity::Clock for Ahead {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.0
    }
}

/// The roles of the policy in force are remembered by the store: whoever opens it next (the
/// command line with no gateway running) checks role names against them.
#[test]
fn the_roles_of_the_policy_in_force_are_remembered() {
    let path =
        std::env::temp_dir().join(format!("wardgate-identity-roles-{}.db", std::process::id()));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    {
        let s = Store::open(&path, Box::new(Sink::default())).unwrap();
        assert_eq!(s.policy_roles(), None, "a new store knows no policy");
        s.add_practice(&Actor::system(), "p-1", "A", "UTC", &[])
            .unwrap();
        s.policy_roles_changed(&["Owner".into(), "Staff".into()])
            .unwrap();
    }
    let s = Store::open(&path, Box::new(Sink::default())).unwrap();
    assert_eq!(
        s.policy_roles(),
        Some(vec!["Owner".to_string(), "Staff".to_string()])
    );
    let e = s
        .add_user(
            &Actor::system(),
            staff("x@clinic.example", &["Biller"], &["p-1"]),
        )
        .unwrap_err();
    assert!(matches!(e, IdentityError::UnknownRole(..)), "{e}");
    s.add_user(
        &Actor::system(),
        staff("y@clinic.example", &["Staff"], &["p-1"]),
    )
    .unwrap();
}

/// Password rules are a practice's security settings; someone at two practices follows the
/// stricter; an expiry of 0 (never) is the longest.
#[test]
fn password_rules_are_the_practices_and_the_strictest_applies() {
    let (s, _) = store("password-rules");
    let mut strict = s.security("p-2").unwrap();
    strict.password.min_length = 16;
    strict.password.history = 10;
    strict.password.max_age_days = 0;
    s.set_security(&Actor::system(), "p-2", &strict).unwrap();
    let rules = s.password_rules_for(&["p-1".into(), "p-2".into()]).unwrap();
    assert_eq!(
        (rules.min_length, rules.history, rules.max_age_days),
        (16, 10, 90)
    );
    let mut new = staff("two@clinic.example", &["Office Staff"], &["p-1", "p-2"]);
    new.password = "Fifteen#Chars12".into();
    let e = s.add_user(&Actor::system(), new.clone()).unwrap_err();
    assert!(
        matches!(&e, IdentityError::WeakPassword(m) if m.contains("16")),
        "{e}"
    );
    new.password = "Sixteen#Chars123".into();
    let u = s.add_user(&Actor::system(), new).unwrap();
    // The same password at p-1 alone was fine; the change follows both practices' rules.
    let e = s
        .change_password(&u.id, "Sixteen#Chars123", "Short#Pass12")
        .unwrap_err();
    assert!(matches!(e, IdentityError::WeakPassword(_)), "{e}");
    // Settings out of range are refused, every field named.
    let mut bad = s.security("p-1").unwrap();
    bad.password.min_length = 4;
    bad.session_idle_minutes = 0;
    let e = s.set_security(&Actor::system(), "p-1", &bad).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("password.min_length") && text.contains("session_idle_minutes"),
        "{text}"
    );
}
