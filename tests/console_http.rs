//! The operator console of a real `tallyman serve`, over plain HTTP on loopback: the overview
//! puts the failing source and the late file first; a run page's numbers are the manifest's
//! and the archived report's; downloads never leave the archive; search finds files, runs and
//! orders; actions need the token, this process's CSRF value and an actor, are recorded with
//! the actor, and change nothing when refused; pause stops the daemon taking files until resume;
//! every page runs under the console's Content-Security-Policy, with nothing inline.

#[path = "support/home.rs"]
mod home;

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/prom.rs"]
mod prom;

#[path = "support/console.rs"]
mod console;

use std::time::Duration;

use console::{console_home, csrf, data_counts, get, pipeline_count, request, run_dir, TOKEN};
use daemon::{count, serve, wait_for};

/// The pipelines of the overview's table, in the order shown, with their state.
fn overview_rows(html: &str) -> Vec<(String, String)> {
    let re = regex::Regex::new(r#"data-pipeline="([^"]+)" data-state="([^"]+)""#).unwrap();
    re.captures_iter(html)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect()
}

#[test]
fn overview_puts_the_failing_source_and_the_late_file_first() {
    let h = console_home(false);
    let d = serve(&h.root);
    for path in ["/", "/fragments/overview"] {
        let a = get(d.port, path);
        assert_eq!(a.status, 200, "{path}");
        let rows = overview_rows(&a.body);
        assert_eq!(rows.len(), pipeline_count(&h.root), "{rows:?}");
        assert_eq!(rows[0], ("orders_x12".into(), "failing".into()), "{rows:?}");
        assert_eq!(rows[1], ("catalog_items".into(), "late".into()), "{rows:?}");
        assert!(
            rows[2..]
                .iter()
                .all(|(_, s)| s == "ok" || s == "breaks open"),
            "{rows:?}"
        );
        assert!(
            a.body.contains("connect: refused"),
            "the source's error is shown"
        );
    }
    let page = get(d.port, "/").body;
    assert!(page.contains(r#"<script src="/console.js"></script>"#));
    assert!(
        get(d.port, "/console.js")
            .body
            .contains("fetch('/fragments/overview'"),
        "refreshes by fragment"
    );
    assert!(page.contains("<link rel=\"stylesheet\" href=\"/console.css\">"));
    let css = get(d.port, "/console.css");
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    // Read-only: no forms, and an action is refused.
    let pipeline = get(d.port, "/pipelines/inventory_3pl");
    assert_eq!(pipeline.status, 200);
    assert!(
        !pipeline.body.contains("<form class=\"action\""),
        "read-only console shows no forms"
    );
    assert!(pipeline.body.contains("<svg"), "the chart is drawn");
    assert!(pipeline.body.contains("Configuration as compiled"));
    let calendar = get(d.port, "/pipelines/catalog_items").body;
    assert!(
        calendar.contains("class=\"missed\""),
        "today's missed file is marked"
    );
    let refused = request(
        d.port,
        "POST",
        "/actions/pause",
        Some(&format!(
            "pipeline=inventory_3pl&actor=ana&token={TOKEN}&csrf=00"
        )),
    );
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("read-only"));
    assert_eq!(count(&h.root, "SELECT count(*) FROM console_actions"), 0);
    assert_eq!(count(&h.root, "SELECT count(*) FROM paused_pipelines"), 0);
    // Pages are HTML-escaped: a query is shown as text.
    let found = get(d.port, "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    assert!(found.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!found.body.contains("<script>alert(1)"));
    d.stop();
}

#[test]
fn run_page_shows_the_manifest_and_the_report_with_equal_numbers() {
    let h = console_home(false);
    let d = serve(&h.root);
    let dir = run_dir(&h.root, "r000001");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let page = get(d.port, "/runs/r000001");
    assert_eq!(page.status, 200);
    let shown: std::collections::BTreeMap<String, String> =
        data_counts(&page.body, "count").into_iter().collect();
    assert_eq!(shown["rows"], manifest["rows"].to_string());
    assert_eq!(shown["issues"], manifest["issues"].to_string());
    let report = get(d.port, "/runs/r000001/report");
    assert_eq!(report.status, 200);
    assert!(report
        .header("content-security-policy")
        .unwrap()
        .starts_with("sandbox"));
    let in_report = data_counts(&report.body, "count");
    assert!(!in_report.is_empty());
    for (key, value) in manifest["reconciliation"].as_object().unwrap() {
        assert_eq!(shown[key], value.to_string(), "console: {key}");
        assert!(
            in_report.contains(&(key.clone(), value.to_string())),
            "report: {key} {in_report:?}"
        );
    }
    let totals: std::collections::BTreeMap<String, String> =
        data_counts(&report.body, "total").into_iter().collect();
    assert_eq!(totals["issues"], manifest["issues"].to_string());
    for input in manifest["inputs"].as_array().unwrap() {
        assert!(page.body.contains(input["sha256"].as_str().unwrap()));
        assert!(page
            .body
            .contains(&format!("<td class=\"num\">{}</td>", input["size"])));
    }
    // Issues with file, line and column.
    assert!(page
        .body
        .contains("<td>stock_2026-11-25.csv</td><td class=\"num\">8</td><td>item_id</td>"));
    assert_eq!(get(d.port, "/runs/r999999").status, 404);
    // Every console page runs under the console's policy: nothing inline, nothing from
    // elsewhere; the overview's refresh is a script file of its own.
    for path in [
        "/",
        "/runs/r000001",
        "/pipelines/inventory_3pl",
        "/search?q=stock",
    ] {
        let page = get(d.port, path);
        assert_eq!(page.status, 200, "{path}");
        let csp = page.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
            "{path}: {csp}"
        );
        assert!(!page.body.contains("<script>"), "{path}: an inline script");
        assert!(!page.body.contains(" style=\""), "{path}: an inline style");
    }
    assert!(get(d.port, "/")
        .body
        .contains(r#"<script src="/console.js"></script>"#));
    let script = get(d.port, "/console.js");
    assert_eq!(script.status, 200);
    assert!(script.body.contains("/fragments/overview") && script.body.contains("10000"));
    d.stop();
}

#[test]
fn downloads_stay_inside_the_archive() {
    let h = console_home(false);
    let dir = run_dir(&h.root, "r000001");
    std::os::unix::fs::symlink(h.root.join("var/ledger.sqlite"), dir.join("escape.csv")).unwrap();
    let d = serve(&h.root);
    let good = "/archive/inventory_3pl/2026-11-25/r000001/manifest.json";
    let a = get(d.port, good);
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body.as_bytes(),
        std::fs::read(dir.join("manifest.json")).unwrap()
    );
    assert!(a
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
    let run_page = get(d.port, "/runs/r000001").body;
    assert!(
        run_page.contains(&format!("href=\"{good}\"")),
        "the run page links it"
    );
    for bad in [
        "/archive/../var/ledger.sqlite",
        "/archive/inventory_3pl/../../tallyman.toml",
        "/archive/%2e%2e/var/ledger.sqlite",
        "/archive/inventory_3pl%2f..%2f..%2fvar%2fledger.sqlite",
        "/archive//etc/passwd",
        "/archive/%2Fetc%2Fpasswd",
        "/archive/inventory_3pl/2026-11-25/r000001/escape.csv",
    ] {
        let a = get(d.port, bad);
        assert_eq!(a.status, 403, "{bad}: {}", a.body);
        assert!(!a.body.contains("SQLite format"), "{bad}");
    }
    assert_eq!(get(d.port, "/archive/inventory_3pl/none.csv").status, 404);
    d.stop();
}

#[test]
fn search_finds_files_by_name_and_checksum_runs_and_orders() {
    let h = console_home(false);
    let d = serve(&h.root);
    let sha: String = {
        let conn = rusqlite::Connection::open(h.root.join("var/ledger.sqlite")).unwrap();
        conn.query_row(
            "SELECT sha256 FROM files WHERE name = 'stock_2026-11-25.csv'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    for q in ["stock_2026", &sha[..10]] {
        let a = get(d.port, &format!("/search?q={q}"));
        assert!(a.body.contains("id=\"found-files\""), "{q}");
        assert!(a.body.contains("stock_2026-11-25.csv"), "{q}");
        assert!(
            a.body.contains("<a href=\"/runs/r000001\">r000001</a>"),
            "{q}"
        );
    }
    let run = get(d.port, "/search?q=r000001").body;
    assert!(run.contains("id=\"found-runs\""));
    let order = get(d.port, "/search?q=PO-2026-0042").body;
    assert!(order.contains("id=\"found-order\""), "{order}");
    let none = get(d.port, "/search?q=no-such-thing-anywhere").body;
    assert!(none.contains("id=\"nothing\""));
    d.stop();
}

#[test]
fn a_rerun_from_the_console_needs_token_and_csrf_and_records_its_actor() {
    let h = console_home(true);
    let d = serve(&h.root);
    let form_page = "/pipelines/inventory_3pl";
    assert!(get(d.port, form_page).body.contains("id=\"rerun-form\""));
    let csrf = csrf(d.port, form_page);
    let runs = || count(&h.root, "SELECT count(*) FROM runs");
    let before = runs();
    let rerun = |token: &str, csrf: &str| {
        request(
            d.port,
            "POST",
            "/actions/rerun",
            Some(&format!(
                "pipeline=inventory_3pl&date=2026-11-25&reason=partner+resent&actor=ana&token={token}&csrf={csrf}"
            )),
        )
    };
    for (token, csrf_value, why) in [
        ("", csrf.as_str(), "no token"),
        ("wrong", csrf.as_str(), "wrong token"),
        (TOKEN, "", "no CSRF value"),
        (TOKEN, &"0".repeat(64), "wrong CSRF value"),
    ] {
        let a = rerun(token, csrf_value);
        assert_eq!(a.status, 403, "{why}");
        assert!(a.body.contains("Nothing was changed"), "{why}");
    }
    let get_action = get(d.port, "/actions/rerun");
    assert_eq!(get_action.status, 405);
    // Give a refused rerun the time a real one takes: still nothing.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(runs(), before);
    assert_eq!(count(&h.root, "SELECT count(*) FROM console_actions"), 0);
    let a = rerun(TOKEN, &csrf);
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(
        a.header("location"),
        Some("/pipelines/inventory_3pl?action=1")
    );
    wait_for(Duration::from_secs(60), || {
        count(
            &h.root,
            "SELECT count(*) FROM runs WHERE trigger = 'rerun' AND actor = 'ana'
             AND reason = 'partner resent' AND rerun_of = 'r000001' AND state = 'succeeded'",
        ) == 1
    });
    wait_for(Duration::from_secs(30), || {
        count(
            &h.root,
            "SELECT count(*) FROM console_actions WHERE actor = 'ana' AND action = 'rerun'
             AND target = '2026-11-25' AND outcome LIKE 'exit 0%'",
        ) == 1
    });
    let rerun_id = format!("r{:06}", before + 1);
    let page = get(d.port, &format!("/runs/{rerun_id}")).body;
    assert!(page.contains("id=\"rerun-diff\""), "{page}");
    assert!(page.contains("by ana"));
    assert!(
        get(d.port, form_page).body.contains("partner resent"),
        "the action is listed"
    );
    d.stop();
}

#[test]
fn pause_stops_the_daemon_taking_files_until_resume() {
    let h = console_home(true);
    let d = serve(&h.root);
    let csrf = csrf(d.port, "/pipelines/inventory_3pl");
    let post = |action: &str| {
        request(
            d.port,
            "POST",
            &format!("/actions/{action}"),
            Some(&format!(
                "pipeline=inventory_3pl&reason=partner+outage&actor=bob&token={TOKEN}&csrf={csrf}"
            )),
        )
    };
    assert_eq!(post("pause").status, 303);
    // Its breaks rank above the pause (problems first); the pause is said in its row.
    let overview = get(d.port, "/").body;
    assert!(overview.contains("paused by bob at "), "{overview}");
    // A new file while paused: the loop goes round for a while and does not take it.
    let drop = h.root.join("inbox/inventory_3pl");
    let demo = std::fs::read(
        h.root
            .join("archive/inventory_3pl/2026-11-25/r000001/input/stock_2026-11-25.csv"),
    )
    .unwrap();
    std::fs::write(drop.join("stock_2026-11-26.csv"), &demo).unwrap();
    let taken = || {
        count(
            &h.root,
            "SELECT count(*) FROM files WHERE name = 'stock_2026-11-26.csv'",
        )
    };
    d.ran_for(Duration::from_secs(4));
    assert_eq!(taken(), 0, "a paused pipeline takes no file");
    assert_eq!(post("resume").status, 303);
    wait_for(Duration::from_secs(60), || taken() == 1);
    assert_eq!(
        count(
            &h.root,
            "SELECT count(*) FROM console_actions WHERE actor = 'bob' AND action IN ('pause', 'resume')"
        ),
        2
    );
    d.stop();
}

#[test]
fn pause_and_resume_from_the_cli_are_recorded_with_their_actor() {
    let h = console_home(false);
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tallyman"))
            .args(["--home", h.root.to_str().unwrap()])
            .args(args)
            .env("TALLYMAN_ACTOR", "carol")
            .env("TALLYMAN_LOG", "warn")
            .output()
            .unwrap()
    };
    let o = cli(&["pause", "inventory_3pl", "--reason", "partner outage"]);
    assert!(o.status.success(), "{}", home::both(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "inventory_3pl: paused (by carol)\n"
    );
    assert_eq!(
        count(&h.root, "SELECT count(*) FROM paused_pipelines WHERE pipeline = 'inventory_3pl' AND actor = 'carol' AND reason = 'partner outage'"),
        1
    );
    let o = cli(&["resume", "inventory_3pl"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "inventory_3pl: resumed (by carol)\n"
    );
    assert_eq!(count(&h.root, "SELECT count(*) FROM paused_pipelines"), 0);
    assert_eq!(
        count(&h.root, "SELECT count(*) FROM console_actions WHERE actor = 'carol' AND outcome IN ('paused', 'resumed')"),
        2
    );
    assert_eq!(cli(&["pause", "nope"]).status.code(), Some(2));
}

#[test]
fn failed_uploads_and_mails_are_retried_from_the_overview_with_their_actor() {
    let h = console_home(true);
    {
        let conn = rusqlite::Connection::open(h.root.join("var/ledger.sqlite")).unwrap();
        let mails = conn
            .execute(
                "UPDATE mail_queue SET state = 'failed', last_error = 'smtp: connection refused'
                 WHERE id = (SELECT min(id) FROM mail_queue)",
                [],
            )
            .unwrap();
        assert_eq!(mails, 1, "the demo queued a report mail");
        conn.execute(
            "INSERT INTO deliveries (run_id, pipeline, destination, name, path, sha256, target,
                 always, state, attempts, next_attempt_at, last_error)
             VALUES ('r000001', 'inventory_3pl', 'erp', 'atp.csv', 'archive/x/atp.csv', 'ab',
                 '/in/atp.csv', 0, 'failed', 3, 0, 'permission denied')",
            [],
        )
        .unwrap();
    }
    let d = serve(&h.root);
    let overview = get(d.port, "/").body;
    assert!(overview.contains("Failed uploads and mails"), "{overview}");
    assert!(overview.contains("smtp: connection refused"));
    assert!(overview.contains("permission denied"));
    assert_eq!(overview.matches("action=\"/actions/retry-").count(), 2);
    let csrf = csrf(d.port, "/");
    let mail_id = count(&h.root, "SELECT id FROM mail_queue WHERE state = 'failed'");
    let upload_id = count(&h.root, "SELECT id FROM deliveries WHERE name = 'atp.csv'");
    for (action, id) in [("retry-mail", mail_id), ("retry-upload", upload_id)] {
        let a = request(
            d.port,
            "POST",
            &format!("/actions/{action}"),
            Some(&format!("id={id}&actor=dan&token={TOKEN}&csrf={csrf}")),
        );
        assert_eq!(a.status, 200, "{action}: {}", a.body);
        assert!(
            a.body.contains("queued again, due now"),
            "{action}: {}",
            a.body
        );
    }
    assert_eq!(
        count(
            &h.root,
            "SELECT count(*) FROM mail_queue WHERE state = 'failed'"
        ),
        0,
        "the mail is queued (or already sent) again"
    );
    assert_eq!(
        count(
            &h.root,
            "SELECT count(*) FROM deliveries WHERE name = 'atp.csv' AND (state = 'pending' OR attempts > 3)"
        ),
        1,
        "the upload is due again (or already retried)"
    );
    assert_eq!(
        count(
            &h.root,
            "SELECT count(*) FROM console_actions WHERE actor = 'dan' AND action LIKE 'retry-%' AND outcome = 'queued again, due now'"
        ),
        2
    );
    // A retry of something that is not waiting says so, and is still recorded.
    let a = request(
        d.port,
        "POST",
        "/actions/retry-mail",
        Some(&format!("id=999&actor=dan&token={TOKEN}&csrf={csrf}")),
    );
    assert!(
        a.body.contains("nothing with this id waiting"),
        "{}",
        a.body
    );
    d.stop();
}
