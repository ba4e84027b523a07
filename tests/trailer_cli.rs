//! `[input] trailer`: a CSV file is complete only when its last line is the partner's trailer
//! record, and its data rows number what the trailer says; through the real `tallyman run` on
//! the demo home.

use std::path::{Path, PathBuf};

#[path = "support/home.rs"]
mod home;
use home::{both, demo_home, tallyman, Home};

/// The demo home, its pipeline declaring a trailer `TRAILER,<rows>`, its partner file replaced
/// by `body`.
fn home_with(body: &str) -> Home {
    let h = demo_home();
    let root = &h.root;
    let toml = root.join("pipelines/inventory_3pl.toml");
    let text = std::fs::read_to_string(&toml).expect("pipeline");
    let text = text.replacen(
        "on_error = \"set_rows_aside\"",
        "on_error = \"set_rows_aside\"\ntrailer = '^TRAILER,(?P<rows>\\d+)$'",
        1,
    );
    std::fs::write(&toml, text).expect("write pipeline");
    std::fs::write(drop_path(root), body).expect("partner file");
    h
}

fn drop_path(root: &Path) -> PathBuf {
    root.join("inbox/inventory_3pl/stock_2026-11-25.csv")
}

fn state(root: &Path) -> String {
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).expect("ledger");
    conn.query_row(
        "SELECT coalesce(group_concat(state), 'none') FROM files",
        [],
        |r| r.get(0),
    )
    .expect("query")
}

const HEADER: &str = "item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\n";
const ROW1: &str = "SKU-00000001,3PL-RENO,120,0,EA,2026-11-25T23:59:00Z\n";
const ROW2: &str = "SKU-00000002,3PL-RENO,77,1,EA,2026-11-25T23:59:00Z\n";

#[test]
fn a_file_is_taken_only_with_its_trailer_and_its_rows_must_match_it() {
    // (body, what becomes of it, what the output says)
    let cases = [
        (
            format!("{HEADER}{ROW1}{ROW2}TRAILER,2\n"),
            "processed",
            "succeeded",
        ),
        (
            format!("{HEADER}{ROW1}{ROW2}TRAILER,2"),
            "processed",
            "succeeded",
        ),
        (
            format!("{HEADER}{ROW1}TRAILER,2\n"),
            "quarantined",
            "the trailer says 2 data rows; the file holds 1",
        ),
        (format!("{HEADER}{ROW1}{ROW2}"), "none", "not taken yet"),
        (format!("{HEADER}{ROW1}TRAILER,"), "none", "not taken yet"),
    ];
    for (body, want_state, says) in cases {
        let h = home_with(&body);
        let o = tallyman(&h.root, &["run", "--max-wait-secs", "5"]);
        let out = both(&o);
        assert_eq!(state(&h.root), want_state, "{body:?}\n{out}");
        assert!(out.contains(says), "{body:?}: {out}");
        // A file without its trailer stays in the drop folder, untouched.
        if want_state == "none" {
            assert_eq!(
                std::fs::read_to_string(drop_path(&h.root)).expect("kept"),
                body
            );
        }
    }
}

/// A partner that pauses longer than the settle window before its last rows: without the
/// trailer the half file is never taken; once the trailer is written it is, whole.
#[test]
fn a_writer_pausing_past_the_settle_window_is_waited_for() {
    let h = home_with(&format!("{HEADER}{ROW1}"));
    let o = tallyman(&h.root, &["run", "--max-wait-secs", "3"]);
    assert_eq!(state(&h.root), "none", "{}", both(&o));
    let mut body = std::fs::read_to_string(drop_path(&h.root)).expect("kept");
    body.push_str(&format!("{ROW2}TRAILER,2\n"));
    std::fs::write(drop_path(&h.root), &body).expect("append");
    let o = tallyman(&h.root, &["run", "--max-wait-secs", "5"]);
    assert_eq!(state(&h.root), "processed", "{}", both(&o));
    assert!(both(&o).contains("2 rows"), "{}", both(&o));
}

#[test]
fn check_refuses_a_bad_trailer_pattern() {
    let h = home_with(&format!("{HEADER}{ROW1}TRAILER,1\n"));
    let toml = h.root.join("pipelines/inventory_3pl.toml");
    let text = std::fs::read_to_string(&toml)
        .expect("pipeline")
        .replace("(?P<rows>\\d+)$", "(?P<rows>\\d+$");
    std::fs::write(&toml, text).expect("write");
    let o = tallyman(&h.root, &["check"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    assert!(both(&o).contains("input.trailer"), "{}", both(&o));
}
