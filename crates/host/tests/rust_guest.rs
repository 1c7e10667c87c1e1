//! Bring your own component: a policy written in Rust with `wit-bindgen`
//! (`policies/examples/rust-guest`), built for wasm32, made a component with `wit-component`,
//! and loaded like any compiled policy. Needs `rustup target add wasm32-unknown-unknown`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::Command;

use wardgate_host::{Host, HostConfig};
use wardgate_policy::{Engine, Request};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the guest (cached by cargo after the first time) and returns the component.
fn guest_component() -> Vec<u8> {
    let dir = root().join("policies/examples/rust-guest");
    let target = root().join("target/rust-guest");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the Rust guest failed (is the target installed? `rustup target add wasm32-unknown-unknown`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let core =
        std::fs::read(target.join("wasm32-unknown-unknown/release/front_desk_guest.wasm")).unwrap();
    wit_component::ComponentEncoder::default()
        .module(&core)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

fn request(role: &str, action: &str, time: &str) -> Request {
    serde_json::from_value(serde_json::json!({
        "principal": {"id": "u-7", "roles": [role]},
        "action": action,
        "context": {"time": time}
    }))
    .unwrap()
}

#[test]
fn a_rust_guest_loads_and_decides() {
    let host = Host::new(HostConfig::default()).unwrap();
    let module = host.load(&guest_component()).unwrap();
    assert_eq!(module.manifest().name, "front-desk-hours");
    assert_eq!(module.manifest().roles.len(), 2);

    let monday = "2026-11-23T10:15:00-05:00";
    let saturday = "2026-11-28T10:15:00-05:00";
    let d = module.decide(&request("Front Desk", "appointments:edit", monday));
    assert!(d.is_allow(), "{d:?}");
    assert_eq!(
        d.reasons[0].message,
        "granted to role \"Front Desk\" by rule at line 3"
    );
    assert_eq!(
        d.reasons[0].rule.as_deref(),
        Some("allow appointments:edit during mon-fri 08:00-18:00")
    );
    assert!(!module
        .decide(&request("Front Desk", "appointments:edit", saturday))
        .is_allow());
    assert!(module
        .decide(&request("Front Desk", "appointments:read", saturday))
        .is_allow());
    assert!(module
        .decide(&request("Manager", "appointments:edit", saturday))
        .is_allow());
    // The guest's manifest names its time zone; the host applies it: 23:30 UTC is 18:30 in New York.
    assert!(!module
        .decide(&request(
            "Front Desk",
            "appointments:edit",
            "2026-11-23T23:30:00Z"
        ))
        .is_allow());
    let unknown = module.decide(&request("Manager", "appointments:delete", monday));
    assert_eq!(unknown.reasons[0].code, "unknown_action");
    let nobody = module.decide(&request("Billing", "appointments:read", monday));
    assert_eq!(nobody.reasons[0].code, "no_grant");
}
