//! Progress of long CLI work from the real binary: `run`, `rerun` and `validate` print plain
//! `progress:` lines when stderr is not a terminal (stage by stage, in order, no escape codes),
//! and draw a bar when it is one (a pseudo-terminal from util-linux `script`).

#[path = "support/home.rs"]
mod home;

use std::path::Path;
use std::process::Command;

use home::{both, demo_home};

/// The binary with the progress shown at once (`TALLYMAN_PROGRESS_AFTER_MS=0`), logs at warn.
fn tallyman(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["--home", root.to_str().unwrap()])
        .args(args)
        .env("TALLYMAN_LOG", "warn")
        .env("TALLYMAN_PROGRESS_AFTER_MS", "0")
        .env_remove("TALLYMAN_FAILPOINTS")
        .output()
        .expect("run tallyman")
}

/// The `progress:` lines about `what`, as (stage, step).
fn stages(stderr: &str, what: &str) -> Vec<(String, u32)> {
    let re = regex::Regex::new(r"^progress: (.+?): (.+) \((\d+)/10, \d+\.\ds\)$").unwrap();
    stderr
        .lines()
        .filter_map(|l| re.captures(l))
        .filter(|c| &c[1] == what)
        .map(|c| (c[2].to_string(), c[3].parse().unwrap()))
        .collect()
}

/// A stock snapshot of `rows` rows for the demo's `tpl_snapshot.v1` schema.
fn big_snapshot(path: &Path, rows: usize) {
    let mut text = String::from("item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\n");
    for i in 0..rows {
        text.push_str(&format!(
            "SKU-{i:08},3PL-RENO,{},0,EA,2026-11-25T23:59:00Z\n",
            i % 500
        ));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn run_and_rerun_print_their_stages_in_order_when_not_at_a_terminal() {
    let h = demo_home();
    let o = tallyman(&h.root, &["run"]);
    let err = String::from_utf8_lossy(&o.stderr);
    let seen = stages(&err, "inventory_3pl stock_2026-11-25.csv");
    let names: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names.first(), Some(&"started"), "{}", both(&o));
    assert_eq!(names.last(), Some(&"ended"), "{}", both(&o));
    for stage in ["validated", "reconciled", "transformed"] {
        assert!(names.contains(&stage), "{stage}: {names:?}");
    }
    assert!(
        seen.windows(2).all(|w| w[0].1 < w[1].1),
        "steps only go forward: {seen:?}"
    );
    assert!(!err.contains('\u{1b}'), "no escape codes off a terminal");
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("progress:"),
        "progress goes to stderr"
    );
    let o = tallyman(
        &h.root,
        &[
            "rerun",
            "inventory_3pl",
            "--date",
            "2026-11-25",
            "--reason",
            "progress",
        ],
    );
    assert!(o.status.success(), "{}", both(&o));
    let seen = stages(
        &String::from_utf8_lossy(&o.stderr),
        "inventory_3pl stock_2026-11-25.csv",
    );
    assert_eq!(
        seen.first().map(|s| s.0.as_str()),
        Some("started"),
        "{}",
        both(&o)
    );
    assert_eq!(
        seen.last().map(|s| s.0.as_str()),
        Some("ended"),
        "{}",
        both(&o)
    );
}

#[test]
fn validate_on_a_large_file_shows_progress_lines_off_a_terminal_and_a_bar_on_one() {
    let h = demo_home();
    let big = h.root.join("big.csv");
    big_snapshot(&big, 200_000);
    let schema = h.root.join("schemas/tpl_snapshot.v1.json");
    let args = [
        "validate",
        big.to_str().unwrap(),
        "--schema",
        schema.to_str().unwrap(),
    ];
    let o = tallyman(&h.root, &args);
    assert!(o.status.success(), "{}", both(&o));
    let seen = stages(&String::from_utf8_lossy(&o.stderr), "validate big.csv");
    let names: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "parsed",
            "converted",
            "keys checked",
            "foreign keys checked",
            "issues listed",
            "table validated"
        ],
        "{}",
        both(&o)
    );
    // At a terminal (a pseudo-terminal from `script`): a bar, no plain lines.
    let command = format!(
        "TALLYMAN_LOG=warn TALLYMAN_PROGRESS_AFTER_MS=0 {} --home {} {}",
        env!("CARGO_BIN_EXE_tallyman"),
        h.root.display(),
        args.join(" ")
    );
    let o = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("util-linux script");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("validate big.csv ["), "{out}");
    assert!(out.contains("] table validated"), "{out}");
    assert!(!out.contains("progress:"), "{out}");
    assert!(out.contains("big.csv: 200000 rows"), "{out}");
}
