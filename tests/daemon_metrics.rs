//! The metrics registry renders valid Prometheus text whose values equal what was recorded.

#[path = "support/prom.rs"]
mod prom;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use tallyman::daemon::metrics::{escape_label, Counter, Metrics};

fn value(samples: &[prom::Sample], name: &str, pipeline: Option<&str>) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && s.labels.get("pipeline").map(String::as_str) == pipeline)
        .map(|s| s.value)
}

#[test]
fn rendered_values_equal_what_was_recorded() {
    let m = Metrics::new();
    let odd = "we\"ird\\pipe\nline";
    m.register_pipeline("idle");
    // (pipeline, counter, increments)
    let adds: &[(&str, Counter, &[u64])] = &[
        ("acme_945", Counter::FilesReceived, &[1, 1, 3]),
        ("acme_945", Counter::FilesProcessed, &[4]),
        ("acme_945", Counter::Duplicates, &[1]),
        ("acme_945", Counter::Issues, &[10, 7]),
        ("stripe_payouts", Counter::Breaks, &[2]),
        ("stripe_payouts", Counter::Quarantined, &[1]),
        ("stripe_payouts", Counter::LateFiles, &[1, 1]),
        (odd, Counter::RunsFailed, &[u64::MAX, 5]), // saturates, never wraps
    ];
    let mut want: BTreeMap<(&str, Counter), u64> = BTreeMap::new();
    for (p, c, incs) in adds {
        for n in *incs {
            m.add(p, *c, *n);
            let w = want.entry((p, *c)).or_insert(0);
            *w = w.saturating_add(*n);
        }
    }
    m.observe_run("acme_945", Duration::from_millis(1500));
    m.observe_run("acme_945", Duration::from_millis(250));
    let at = Utc
        .with_ymd_and_hms(2026, 3, 9, 10, 0, 0)
        .single()
        .expect("valid instant");
    m.set_last_success("acme_945", at);
    m.set_mail_queue_depth(3);

    let text = m.render();
    let samples = prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // Work counters say which host did the work (daemons of a cluster share pipelines).
    let host = tallyman::store::lease::host();
    assert!(!host.is_empty());
    for (_, c) in want.keys() {
        let s = samples
            .iter()
            .find(|s| s.name == c.name())
            .unwrap_or_else(|| panic!("{}\n{text}", c.name()));
        assert_eq!(s.labels.get("host"), Some(&host), "{text}");
    }
    for ((p, c), v) in &want {
        assert_eq!(
            value(&samples, c.name(), Some(p)),
            Some(*v as f64),
            "{} {p}\n{text}",
            c.name()
        );
        assert_eq!(m.counter(p, *c), *v);
    }
    for c in Counter::ALL {
        assert_eq!(
            value(&samples, c.name(), Some("idle")),
            Some(0.0),
            "{} idle",
            c.name()
        );
    }
    assert_eq!(
        value(
            &samples,
            "tallyman_run_duration_seconds_sum",
            Some("acme_945")
        ),
        Some(1.75)
    );
    assert_eq!(
        value(
            &samples,
            "tallyman_run_duration_seconds_count",
            Some("acme_945")
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &samples,
            "tallyman_last_success_timestamp_seconds",
            Some("acme_945")
        ),
        Some(at.timestamp() as f64)
    );
    assert_eq!(
        value(
            &samples,
            "tallyman_last_success_timestamp_seconds",
            Some("idle")
        ),
        None
    );
    assert_eq!(
        value(&samples, "tallyman_mail_queue_depth", None),
        Some(3.0)
    );
    assert!(
        text.contains("pipeline=\"we\\\"ird\\\\pipe\\nline\""),
        "{text}"
    );
    assert_eq!(m.pipelines(), ["acme_945", "idle", "stripe_payouts", odd]);
}

#[test]
fn every_family_has_help_and_type_even_when_empty() {
    let text = Metrics::new().render();
    let samples = prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // Only the daemon-wide series have samples: the mail queue and the reload state.
    let names: Vec<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "tallyman_mail_queue_depth",
            "tallyman_config_reload_failures_total",
            "tallyman_config_last_reload_successful"
        ],
        "{text}"
    );
    for c in Counter::ALL {
        assert!(
            text.contains(&format!("# TYPE {} counter\n", c.name())),
            "{}",
            c.name()
        );
        assert!(
            text.contains(&format!("# HELP {} ", c.name())),
            "{}",
            c.name()
        );
    }
    assert!(text.contains("# TYPE tallyman_run_duration_seconds summary\n"));
}

#[test]
fn label_escaping() {
    let cases = [
        ("plain", "plain"),
        ("a\"b", "a\\\"b"),
        ("a\\b", "a\\\\b"),
        ("a\nb", "a\\nb"),
        ("ü", "ü"),
    ];
    for (raw, want) in cases {
        assert_eq!(escape_label(raw), want);
    }
}

#[test]
fn the_validator_rejects_what_prometheus_would() {
    let bad = [
        "x 1\n",                                        // no TYPE
        "# TYPE x counter\nx{a=\"1\"} one\n",           // bad value
        "# TYPE x counter\nx{a=\"1\\t\"} 1\n",          // bad escape
        "# TYPE x counter\nx{a=\"1\"b=\"2\"} 1\n",      // missing comma
        "# TYPE x counter\nx{1a=\"1\"} 1\n",            // bad label name
        "# TYPE x counter\ny 1\n",                      // wrong family
        "# TYPE x counter\nx 1\nx 2\n",                 // duplicate series
        "# TYPE x counter\n# TYPE x gauge\n",           // two TYPEs
        "# TYPE x counter\nx 1",                        // no final line feed
        "# TYPE x counter\n# TYPE y gauge\ny 1\nx 1\n", // family split
        "# TYPE x bogus\n",                             // unknown type
    ];
    for text in bad {
        assert!(prom::parse(text).is_err(), "accepted {text:?}");
    }
    let good = "# HELP x a \\\\ b\n# TYPE x summary\nx_sum{p=\"a\",q=\"\\\"\"} 1.5\nx_count 2 1700000000000\n";
    assert_eq!(prom::parse(good).map(|s| s.len()), Ok(2));
}
