//! Table-driven tests for `[mail]` settings compilation.

use super::*;

#[test]
fn mail_settings_compile_or_name_every_bad_key() {
    // (extra toml, expected error keys, expected smtp tls mode when it compiles)
    let cases: &[(&str, &[&str], Option<TlsMode>)] = &[
        ("", &[], None),
        (
            "smtp_host = \"mail.example.com\"",
            &[],
            Some(TlsMode::StartTls { required: true }),
        ),
        (
            "smtp_host = \"h\"\ntls_required = false",
            &[],
            Some(TlsMode::StartTls { required: false }),
        ),
        (
            "smtp_host = \"h\"\ntls = \"implicit\"",
            &[],
            Some(TlsMode::Implicit),
        ),
        (
            "smtp_host = \"h\"\ntls = \"none\"",
            &[],
            Some(TlsMode::None),
        ),
        (
            "smtp_host = \"h\"\ntls = \"none\"\ntls_required = true",
            &["mail.tls_required"],
            None,
        ),
        (
            "smtp_host = \"h\"\ntls = \"implicit\"\ntls_required = false",
            &["mail.tls_required"],
            None,
        ),
        ("smtp_host = \"h\"\ntls = \"ssl\"", &["mail.tls"], None),
        (
            "smtp_host = \"h\"\nusername_env = \"U\"",
            &["mail.username_env"],
            None,
        ),
        ("port = 25", &["mail.smtp_host"], None),
        (
            "smtp_host = \"smtp.example.com\"\ntls = \"none\"\nusername_env = \"U\"\npassword_env = \"P\"",
            &["mail.tls"],
            None,
        ),
        (
            "smtp_host = \"127.0.0.1\"\ntls = \"none\"\nusername_env = \"U\"\npassword_env = \"P\"",
            &[],
            Some(TlsMode::None),
        ),
        (
            "smtp_host = \"h\"\ntimeout_secs = 0",
            &["mail.timeout_secs"],
            None,
        ),
    ];
    for (extra, want, tls) in cases {
        let raw: MailRaw =
            toml::from_str(&format!("from = \"t@example.com\"\n{extra}")).expect("toml");
        match raw.compile() {
            Ok(s) => {
                assert!(want.is_empty(), "{extra} compiled but expected {want:?}");
                assert_eq!(s.smtp.as_ref().map(|x| x.tls), *tls, "{extra}");
                assert_eq!(s.spool_dir, PathBuf::from("outbox/mail"));
            }
            Err(errors) => {
                let got: Vec<String> = errors.into_iter().map(|e| e.key).collect();
                assert_eq!(got, *want, "{extra}");
            }
        }
    }
    let bad_from: MailRaw = toml::from_str("from = \"nope\"").expect("toml");
    assert_eq!(
        bad_from.compile().err().map(|e| e[0].key.clone()),
        Some("mail.from".to_string())
    );
    assert!(
        toml::from_str::<MailRaw>("from = \"a@b.c\"\npassword = \"hunter2\"").is_err(),
        "secrets are not config keys"
    );
}
