//! `tallyman serve` through the real binary: files dropped while it runs, many at once, a
//! second daemon on the same home, SIGTERM, a poisoned file, /metrics against the ledger,
//! schedules caught up after downtime, late-file alerts, and SIGHUP with a bad config.

#[path = "support/home.rs"]
mod home;

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/prom.rs"]
mod prom;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use daemon::{count, serve, wait_for, Daemon};
use home::{both, tallyman};

const DROP: &str = "inbox/inventory_3pl";
const DEMO: &str = "stock_2026-11-25.csv";
const PIPELINE: &str = "inventory_3pl";

struct Home {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// The demo snapshot's bytes (taken out of the drop folder).
    demo: String,
}

/// A home with the demo pipeline and ERP extract, and an empty drop folder.
fn demo_home() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let o = tallyman(&root, &["demo", "--no-run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The daemon's counts are the inventory pipeline's: no settlement demo.
    for rel in [
        "pipelines/settlement_amazon_v2.toml",
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
    ] {
        std::fs::remove_file(root.join(rel)).unwrap();
    }
    let path = root.join(DROP).join(DEMO);
    let demo = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    Home {
        _dir: dir,
        root,
        demo,
    }
}

/// The inventory pipeline's counter `name`, 0 when absent.
fn counter(d: &Daemon, name: &str) -> f64 {
    d.value(name, Some(PIPELINE)).unwrap_or(0.0)
}

/// The body of a 200 answer to GET `path`.
fn get(d: &Daemon, path: &str) -> Option<String> {
    d.get(path)
        .and_then(|(code, body)| (code == 200).then_some(body))
}

fn exec(root: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch(sql).unwrap();
}

fn processed(root: &Path) -> i64 {
    count(root, "select count(*) from files where state = 'processed'")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The demo snapshot with the first row's quantity changed, so every copy has its own sha256.
fn variant(demo: &str, i: usize) -> String {
    demo.replacen(
        "SKU-00000001,3PL-RENO,120,",
        &format!("SKU-00000001,3PL-RENO,{},", 1000 + i),
        1,
    )
}

#[test]
fn a_file_dropped_while_running_is_processed_and_metrics_match_the_ledger() {
    let h = demo_home();
    let d = serve(&h.root);
    let dropped = Instant::now();
    std::fs::write(h.root.join(DROP).join(DEMO), &h.demo).unwrap();
    wait_for(Duration::from_secs(15), || processed(&h.root) == 1);
    assert!(
        dropped.elapsed() < Duration::from_secs(10),
        "{:?}",
        dropped.elapsed()
    );
    let outbox = names(&h.root.join("outbox"));
    assert!(
        outbox.contains(&"atp_20261125_r000001.csv".to_string()),
        "{outbox:?}"
    );
    wait_for(Duration::from_secs(5), || {
        counter(&d, "tallyman_files_processed_total") == 1.0
    });
    assert_eq!(
        counter(&d, "tallyman_files_processed_total"),
        processed(&h.root) as f64
    );
    assert_eq!(counter(&d, "tallyman_breaks_total"), 3.0);
    assert_eq!(counter(&d, "tallyman_issues_total"), 2.0);
    assert_eq!(counter(&d, "tallyman_run_duration_seconds_count"), 1.0);
    // The run's exception report is queued and, with no SMTP server configured, spooled
    // (written under a temp name, then renamed: wait for the .eml itself).
    wait_for(Duration::from_secs(5), || {
        names(&h.root.join("outbox/mail"))
            .iter()
            .any(|n| n.ends_with(".eml"))
    });
    // A whole job after the spooling: a second message or a temp left behind would be there now.
    d.passes_after(PIPELINE, 1.0);
    let spooled = names(&h.root.join("outbox/mail"));
    assert_eq!(spooled.len(), 1, "one message, no temp left: {spooled:?}");
    assert!(spooled[0].ends_with(".eml"), "{spooled:?}");
    let health = get(&d, "/healthz").unwrap();
    assert!(health.contains("inventory_3pl"), "{health}");
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
}

#[test]
fn two_hundred_files_dropped_at_once_are_each_processed_exactly_once() {
    let h = demo_home();
    let d = serve(&h.root);
    let n = 200;
    for i in 0..n {
        let name = format!("stock_2026-11-25_{i:03}.csv");
        std::fs::write(h.root.join(DROP).join(name), variant(&h.demo, i)).unwrap();
    }
    wait_for(Duration::from_secs(300), || processed(&h.root) == n as i64);
    // Two more whole passes: a file taken twice would show now.
    d.passes_after(PIPELINE, 2.0);
    assert_eq!(count(&h.root, "select count(*) from files"), n as i64);
    assert_eq!(processed(&h.root), n as i64);
    assert_eq!(count(&h.root, "select count(*) from runs"), n as i64);
    assert_eq!(
        count(&h.root, "select count(distinct name) from files"),
        n as i64
    );
    assert!(names(&h.root.join(DROP)).is_empty());
    assert_eq!(counter(&d, "tallyman_files_processed_total"), n as f64);
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
}

#[test]
fn a_second_daemon_on_the_same_home_exits_75() {
    let h = demo_home();
    let d = serve(&h.root);
    let o = tallyman(&h.root, &["serve", "--listen", "off"]);
    assert_eq!(o.status.code(), Some(75));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("locked by another tallyman"), "{err}");
    assert!(err.contains(&d.child.id().to_string()), "{err}");
    let (status, _) = d.stop();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigterm_lets_the_file_in_hand_finish_and_leaves_no_temp_file() {
    let h = demo_home();
    let d = serve(&h.root);
    let n = 30;
    for i in 0..n {
        let name = format!("stock_2026-11-25_{i:03}.csv");
        std::fs::write(h.root.join(DROP).join(name), variant(&h.demo, i)).unwrap();
    }
    wait_for(Duration::from_secs(30), || processed(&h.root) >= 2);
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    let outbox = names(&h.root.join("outbox"));
    assert!(outbox.iter().all(|n| !n.starts_with('.')), "{outbox:?}");
    // Every file is either done (and gone from the drop folder) or still waiting there.
    let done = count(
        &h.root,
        "select count(*) from files where state = 'processed'",
    );
    assert_eq!(count(&h.root, "select count(*) from files"), done);
    assert_eq!(
        count(&h.root, "select count(*) from runs where state = 'running'"),
        0
    );
    assert_eq!(done + names(&h.root.join(DROP)).len() as i64, n as i64);
    assert!(
        done < n as i64,
        "all {n} done before SIGTERM; the test proves nothing"
    );
}

#[test]
fn a_poisoned_file_or_pipeline_does_not_stop_the_next_file() {
    let h = demo_home();
    // A second pipeline whose SQL fails on every file.
    let toml = std::fs::read_to_string(h.root.join("pipelines/inventory_3pl.toml")).unwrap();
    let broken = toml
        .replace("FROM input i", "FROM no_such_table i")
        .replace(
            "# folder defaults to inbox/<pipeline id>",
            "folder = \"inbox/broken\"",
        );
    std::fs::create_dir_all(h.root.join("inbox/broken")).unwrap();
    std::fs::write(h.root.join("pipelines/broken.toml"), broken).unwrap();
    let d = serve(&h.root);
    std::fs::write(h.root.join("inbox/broken").join(DEMO), &h.demo).unwrap();
    let mut bad = b"item_id,warehouse,qty_on_hand\n\xff\xfe\x00\x00garbage,,\n".to_vec();
    bad.extend_from_slice(&[0xc3, 0x28, b'\n']);
    std::fs::write(h.root.join(DROP).join("stock_2026-11-25_a_bad.csv"), bad).unwrap();
    std::fs::write(
        h.root.join(DROP).join("stock_2026-11-25_b_good.csv"),
        &h.demo,
    )
    .unwrap();
    wait_for(Duration::from_secs(20), || {
        count(
            &h.root,
            "select count(*) from files where state in ('processed', 'quarantined', 'failed')",
        ) == 3
    });
    // Its SQL is at fault, not the partner: the file is held `failed`, not quarantined.
    assert_eq!(
        count(
            &h.root,
            "select count(*) from files where pipeline = 'broken' and state = 'failed'"
        ),
        1
    );
    assert_eq!(
        count(&h.root, "select count(*) from files where name = 'stock_2026-11-25_a_bad.csv' and state = 'quarantined'"),
        1
    );
    assert_eq!(
        count(&h.root, "select count(*) from files where name = 'stock_2026-11-25_b_good.csv' and state = 'processed'"),
        1
    );
    // After the broken pipeline's failure, its next file is still taken.
    std::fs::write(
        h.root.join("inbox/broken").join("stock_2026-11-26.csv"),
        variant(&h.demo, 1),
    )
    .unwrap();
    wait_for(Duration::from_secs(20), || {
        count(
            &h.root,
            "select count(*) from files where pipeline = 'broken'",
        ) == 2
    });
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
}

fn schedule_pipeline(h: &Home, expr: &str) {
    let path = h.root.join("pipelines/inventory_3pl.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    let toml = toml.replacen(
        "time_zone = ",
        &format!("schedule = \"{expr}\"\ntime_zone = "),
        1,
    );
    std::fs::write(path, toml).unwrap();
}

#[test]
fn a_scheduled_pipeline_waits_for_its_tick_and_a_missed_tick_runs_once_at_start_up() {
    let h = demo_home();
    schedule_pipeline(&h, "0 3 * * *");
    let d = serve(&h.root);
    std::fs::write(h.root.join(DROP).join(DEMO), &h.demo).unwrap();
    // The loop has seen the drop (a watch hint) for seconds and not taken it.
    d.ran_for(Duration::from_secs(3));
    assert_eq!(processed(&h.root), 0, "processed before its tick");
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(
        count(
            &h.root,
            "select count(*) from daemon_pipelines where last_scheduled_run is not null"
        ),
        1
    );
    // Pretend the daemon was down across two 03:00 ticks: it owes one run, not two.
    exec(
        &h.root,
        "update daemon_pipelines set last_scheduled_run = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-50 hours')",
    );
    let before: String = {
        let conn = rusqlite::Connection::open(h.root.join("var/ledger.sqlite")).unwrap();
        conn.query_row("select last_scheduled_run from daemon_pipelines", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    let d = serve(&h.root);
    wait_for(Duration::from_secs(20), || processed(&h.root) == 1);
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(log.matches("scheduled run (tick").count(), 1, "{log}");
    let after: String = {
        let conn = rusqlite::Connection::open(h.root.join("var/ledger.sqlite")).unwrap();
        conn.query_row("select last_scheduled_run from daemon_pipelines", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    assert!(after > before, "{before} -> {after}");
}

/// A demo home whose inventory pipeline expects its file by midnight UTC and has been watched
/// since 01:00 three days ago: three midnights passed without a file, whatever the time of day
/// now ("73 hours ago" spans four midnights between 00:00 and 01:00).
fn three_windows_late() -> Home {
    let h = demo_home();
    let path = h.root.join("pipelines/inventory_3pl.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    toml.push_str("\n[expected]\nby = \"00:00\"\ntime_zone = \"UTC\"\n");
    std::fs::write(&path, toml).unwrap();
    let d = serve(&h.root);
    // Expected-file windows are looked at each `--scan-secs` (1 s): two looks at least.
    d.ran_for(Duration::from_secs(2));
    assert_eq!(counter(&d, "tallyman_late_files_total"), 0.0);
    d.stop();
    exec(
        &h.root,
        "update daemon_pipelines set expected_since = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', 'start of day', '-3 days', '+1 hour')",
    );
    h
}

#[test]
fn a_missing_file_alerts_once_per_window_even_across_restarts() {
    let h = three_windows_late();
    let d = serve(&h.root);
    wait_for(Duration::from_secs(10), || {
        counter(&d, "tallyman_late_files_total") >= 3.0
    });
    d.ran_for(Duration::from_secs(2));
    assert_eq!(counter(&d, "tallyman_late_files_total"), 3.0);
    let (_, log) = d.stop();
    assert_eq!(log.matches("late file").count(), 3, "{log}");
    assert_eq!(count(&h.root, "select count(*) from late_alerts"), 3);
    // Each late window is mailed once (spooled here: no SMTP server is configured).
    let mails = names(&h.root.join("outbox/mail"));
    assert_eq!(mails.len(), 3, "{mails:?}");
    let one = std::fs::read_to_string(walk(&h.root.join("outbox/mail"))[0].clone()).unwrap();
    assert!(one.contains("late-file"), "{one}");
    let d = serve(&h.root);
    d.ran_for(Duration::from_secs(2));
    assert_eq!(counter(&d, "tallyman_late_files_total"), 0.0);
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(0));
    assert!(!log.contains("late file"), "{log}");
}

/// A paused pipeline takes no files, so whether its file came is unknown: no late alert while
/// it is paused; resumed, its late windows are alerted.
#[test]
fn a_paused_pipeline_raises_no_late_alert_until_it_is_resumed() {
    let h = three_windows_late();
    let o = tallyman(
        &h.root,
        &["pause", "inventory_3pl", "--reason", "partner migrating"],
    );
    assert!(o.status.success(), "{}", both(&o));
    let d = serve(&h.root);
    d.ran_for(Duration::from_secs(3));
    assert_eq!(counter(&d, "tallyman_late_files_total"), 0.0);
    assert_eq!(count(&h.root, "select count(*) from late_alerts"), 0);
    let o = tallyman(&h.root, &["resume", "inventory_3pl"]);
    assert!(o.status.success(), "{}", both(&o));
    wait_for(Duration::from_secs(10), || {
        counter(&d, "tallyman_late_files_total") >= 3.0
    });
    let (_, log) = d.stop();
    assert_eq!(log.matches("late file").count(), 3, "{log}");
    assert_eq!(count(&h.root, "select count(*) from late_alerts"), 3);
}

#[test]
fn sighup_with_a_bad_config_keeps_the_old_pipelines_running() {
    let h = demo_home();
    let d = serve(&h.root);
    std::fs::write(h.root.join("pipelines/bad.toml"), "this is = not [valid").unwrap();
    d.signal("HUP");
    wait_for(Duration::from_secs(15), || {
        d.value("tallyman_config_reload_failures_total", None) == Some(1.0)
    });
    std::fs::write(h.root.join(DROP).join(DEMO), &h.demo).unwrap();
    wait_for(Duration::from_secs(15), || processed(&h.root) == 1);
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("configuration problem"), "{log}");
}

#[test]
fn bad_config_at_start_exits_2_with_every_problem() {
    let h = demo_home();
    let path = h.root.join("pipelines/inventory_3pl.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    let toml = toml
        .replacen("time_zone = ", "schedule = \"61 * * * *\"\ntime_zone = ", 1)
        .replace("schema = \"tpl_snapshot.v1\"", "schema = \"nope.v1\"");
    std::fs::write(&path, toml).unwrap();
    let o = tallyman(&h.root, &["serve", "--listen", "off"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("schedule") && err.contains("nope.v1"), "{err}");
}

/// A tick whose job finds the pipeline's lock held (a `run` from a terminal holds it) runs
/// once the lock is free, rather than waiting for the next tick.
#[test]
fn a_tick_that_finds_its_pipeline_locked_runs_once_the_lock_is_free() {
    let h = demo_home();
    schedule_pipeline(&h, "0 3 * * *");
    let d = serve(&h.root);
    d.ran_for(Duration::from_secs(1));
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    // One tick owed at the next start, and a file for it.
    exec(
        &h.root,
        "update daemon_pipelines set last_scheduled_run = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-50 hours')",
    );
    std::fs::write(h.root.join(DROP).join(DEMO), &h.demo).unwrap();
    // The pipeline's lock, held as a `run` holds it.
    let locks = h.root.join("var/locks");
    std::fs::create_dir_all(&locks).unwrap();
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(locks.join(format!("{PIPELINE}.lock")))
        .unwrap();
    held.lock().unwrap();
    let d = serve(&h.root);
    d.ran_for(Duration::from_secs(3));
    let early = processed(&h.root);
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    while processed(&h.root) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(early, 0, "ran while the lock was held: {log}");
    assert!(log.contains("is busy"), "the tick met the lock: {log}");
    assert_eq!(processed(&h.root), 1, "the tick did not run after: {log}");
    assert_eq!(log.matches("scheduled run (tick").count(), 1, "{log}");
}
