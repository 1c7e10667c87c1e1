use super::*;

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8443"
tls_cert = "cert.pem"
tls_key = "key.pem"

[admin]
listen = "127.0.0.1:9443"
api_key_sha256 = "0e2214048646b200ca71dc838b7fe2ab5f7fe10fa9af7ca2d43c39d248801be0"

[policy]
module = "kareo.policy"

[identity]
database = "wardgate.db"

[audit]
dir = "audit"

[practice]
from = "header"
header = "X-Practice"

[network]
trusted_proxies = ["10.0.0.0/8"]
deny = ["192.0.2.0/24"]

[geo]
database = "GeoIP2-Country-Test.mmdb"
block_countries = ["ru", "KP"]

[[upstream]]
name = "ehr"
url = "https://ehr.internal:8443"
prefix = "/"
ca = "ehr-ca.pem"

[practices.p1]
allow = ["10.20.0.0/16"]
"#;

fn render(e: &Diagnostics) -> String {
    e.source.render(&e.items)
}

#[test]
fn a_full_configuration_reads_into_types() {
    let c = Config::parse("wardgate.toml", GOOD).unwrap();
    assert_eq!(c.server.listen.port(), 8443);
    assert!(c.server.enforce && c.server.http2);
    assert_eq!(c.network.trusted_proxies.len(), 1);
    assert_eq!(c.network.rules.deny.len(), 1);
    let geo = c.geo.as_ref().unwrap();
    assert_eq!(geo.block_countries[0].as_str(), "RU");
    assert!(c.upstreams[0].url.tls);
    assert_eq!(c.practices["p1"].allow.len(), 1);
    assert_eq!(c.rate_limit.per_minute.0.get(), 600);
    assert_eq!(c.practice.from(), PracticeFrom::Header);
}

#[test]
fn every_problem_is_reported_at_once_with_its_line() {
    let bad = GOOD
        .replace(
            "listen = \"127.0.0.1:8443\"",
            "listen = \"127.0.0.1:8443\"\nlisten_backlog = 5",
        )
        .replace(
            "block_countries = [\"ru\", \"KP\"]",
            "block_countries = [\"Russia\"]",
        )
        .replace(
            "trusted_proxies = [\"10.0.0.0/8\"]",
            "trusted_proxies = [\"10.0.0.0/88\"]",
        )
        .replace("[audit]", "[audits]");
    let e = Config::parse("wardgate.toml", &bad).unwrap_err();
    let text = render(&e);
    assert!(text.contains("unknown field `listen_backlog`"), "{text}");
    assert!(
        text.contains("`Russia` is not a two-letter ISO 3166 country code"),
        "{text}"
    );
    assert!(
        text.contains("`10.0.0.0/88` is not an IP network"),
        "{text}"
    );
    assert!(text.contains("unknown section `audits`"), "{text}");
    assert!(text.contains("did you mean `audit`?"), "{text}");
    assert!(text.contains("the `audit` section is missing"), "{text}");
    assert!(e.items.len() >= 5, "{text}");
    // Each points at its line.
    assert!(text.contains("wardgate.toml:4:1"), "{text}");
}

#[test]
fn rules_across_fields_are_checked() {
    let bad = GOOD
        .replace("tls_key = \"key.pem\"\n", "")
        .replace("header = \"X-Practice\"\n", "")
        .replace(
            "block_countries = [\"ru\", \"KP\"]",
            "block_countries = [\"RU\"]\nallow_countries = [\"US\"]",
        )
        .replace("prefix = \"/\"\n", "");
    let e = Config::parse("wardgate.toml", &bad).unwrap_err();
    let text = render(&e);
    for expected in [
        "needs both tls_cert and tls_key",
        "from = \"header\" needs header",
        "has both allow_countries and block_countries",
        "upstream `ehr` needs a prefix or a host",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn syntax_errors_point_at_the_place() {
    let e = Config::parse("wardgate.toml", "[server\nlisten = 1").unwrap_err();
    assert!(render(&e).contains("wardgate.toml:1:"), "{}", render(&e));
}

#[test]
fn relative_paths_are_relative_to_the_file() {
    let dir = std::env::temp_dir().join(format!("wardgate-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wardgate.toml");
    std::fs::write(&path, GOOD).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.policy.module, dir.join("kareo.policy"));
    assert_eq!(
        c.upstreams[0].ca.as_deref(),
        Some(dir.join("ehr-ca.pem").as_path())
    );
}

#[test]
fn an_admin_listener_beyond_this_machine_needs_tls_and_proxy_settings_parse() {
    let open = GOOD.replace("listen = \"127.0.0.1:9443\"", "listen = \"0.0.0.0:9443\"");
    let e = Config::parse("wardgate.toml", &open).unwrap_err();
    assert!(render(&e).contains("without TLS"), "{}", render(&e));
    let with_tls = open.replace("api_key_sha256", "tls = true\napi_key_sha256");
    assert!(Config::parse("wardgate.toml", &with_tls).is_ok());
    let c = Config::parse(
        "wardgate.toml",
        &format!("{GOOD}\n[proxy]\nstrip_headers = [\"x-custom*\", \"x_real_ip\"]\nencoded_slashes = \"pass\"\n"),
    )
    .unwrap();
    assert!(c.proxy.strip_headers[1].matches("x-real-ip"));
    assert!(c.proxy.strip_headers[0].matches("x-custom-anything"));
    assert_eq!(c.proxy.encoded_slashes, EncodedSlashes::Pass);
    let bad = Config::parse(
        "wardgate.toml",
        &format!("{GOOD}\n[proxy]\nstrip_headers = [\"x y\"]\n"),
    )
    .unwrap_err();
    assert!(
        render(&bad).contains("is not a header name"),
        "{}",
        render(&bad)
    );
    assert_eq!(
        Config::parse("wardgate.toml", GOOD)
            .unwrap()
            .server
            .hsts_max_age_seconds,
        31_536_000
    );
}

#[test]
fn mail_alerts_and_retention_read_and_every_mistake_is_reported_at_once() {
    let good = GOOD.replace(
        "[audit]\ndir = \"audit\"\n",
        "[audit]\ndir = \"audit\"\nretain = \"6y\"\nrotate = \"12h\"\n\n[mail]\nrelay = \"smtp.clinic.example\"\nusername = \"wg\"\npassword_file = \"mail.secret\"\nfrom = \"Clinic <noreply@clinic.example>\"\npublic_url = \"https://portal.clinic.example/\"\n\n[alerts]\nfailed_logins = { count = 3, within = \"5m\" }\nemail = [\"sec@clinic.example\"]\n[[alerts.webhook]]\nname = \"soc\"\nurl = \"https://soc.clinic.example/hook\"\nsecret_env = \"SOC_SECRET\"\n",
    );
    let c = Config::parse("wardgate.toml", &good).unwrap_or_else(|e| panic!("{}", render(&e)));
    let mail = c.mail.as_ref().unwrap();
    assert_eq!(mail.port(), 587);
    assert_eq!(mail.public_url.0, "https://portal.clinic.example");
    assert_eq!(c.alerts.failed_logins.count, 3);
    let o = c.audit.options();
    assert_eq!(o.retain_for.unwrap().as_secs(), 2192 * 86_400);
    assert_eq!(o.max_segment_age.as_secs(), 12 * 3600);
    assert!(o.archive_closed);

    let bad = GOOD.replace(
        "[audit]\ndir = \"audit\"\n",
        "[audit]\ndir = \"audit\"\n\n[mail]\nrelay = \"smtp.clinic.example\"\ndir = \"mail\"\nsecurity = \"none\"\nfrom = \"not an address\"\npublic_url = \"https://portal.clinic.example\"\n\n[alerts]\nemail = [\"nobody\"]\n[[alerts.webhook]]\nname = \"soc\"\nurl = \"http://soc.clinic.example/hook\"\n",
    );
    let text = render(&Config::parse("wardgate.toml", &bad).unwrap_err());
    for expected in [
        "both relay and dir",
        "unencrypted",
        "is not an address",
        "\"nobody\" is not an email address",
        "must be https://",
        "needs secret_file or secret_env",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    let http_link = GOOD.replace(
        "[audit]\ndir = \"audit\"\n",
        "[audit]\ndir = \"audit\"\nretain = \"6w\"\n\n[mail]\ndir = \"mail\"\nfrom = \"a@b.example\"\npublic_url = \"http://portal.clinic.example\"\n",
    );
    let text = render(&Config::parse("wardgate.toml", &http_link).unwrap_err());
    assert!(text.contains("must start with https://"), "{text}");
    assert!(text.contains("retention like 6y"), "{text}");
}
