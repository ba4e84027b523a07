//! The module graph's rules, enforced (ARCHITECTURE.md "Module rules"): the pure layers
//! (`engine`, `schema`, `formats`, `issue`, `frame`) import neither `config` nor an edge module
//! (`runner`, `daemon`, `store`, `cli`, `report`, `transport`); `config` imports no edge module
//! (it may import the pure layers, which it compiles into); `pipeline` imports no edge module;
//! nothing outside `store` opens SQLite or PostgreSQL, names `rusqlite` or `postgres::`, or asks
//! the ledger for its connection.

use std::path::{Path, PathBuf};

/// The edge: modules that do IO or run the show. No pure layer, and not `config`, imports one.
const EDGE: &[&str] = &["runner", "daemon", "store", "cli", "report", "transport"];

/// (module folder or file under src/, modules besides the edge it must not import).
const RULES: &[(&str, &[&str])] = &[
    ("engine", &["config"]),
    ("schema", &["engine", "config"]),
    ("formats", &["engine", "config"]),
    ("issue.rs", &["engine", "config"]),
    ("frame.rs", &["engine", "config", "schema"]),
    ("config", &[]),
    ("pipeline", &[]),
];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    if dir.is_file() {
        return vec![dir.to_path_buf()];
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The top-level modules a file names as `crate::<module>`.
fn imports(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[test]
fn pure_layers_and_config_import_no_edge_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for (module, also) in RULES {
        let forbidden: Vec<&str> = EDGE.iter().chain(also.iter()).copied().collect();
        for file in rust_files(&src.join(module)) {
            let text = std::fs::read_to_string(&file).expect("read");
            let shown = format!(
                "src/{}",
                file.strip_prefix(&src).expect("under src").display()
            );
            for m in imports(&text) {
                if forbidden.contains(&m.as_str()) {
                    broken.push(format!("{shown} imports crate::{m}"));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "module rules broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn nothing_outside_store_opens_the_ledger() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for file in rust_files(&src) {
        let shown = file
            .strip_prefix(&src)
            .expect("under src")
            .display()
            .to_string();
        if shown.starts_with("store/") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        if text.contains("Connection::open") {
            broken.push(shown);
        }
    }
    assert!(broken.is_empty(), "opens SQLite outside store: {broken:?}");
}

/// Every SQL statement lives in `store`: nothing else names the SQLite crate or asks the
/// ledger for its connection (`Ledger::connection` is private to `store`; this also catches a
/// connection smuggled out another way).
#[test]
fn nothing_outside_store_touches_sql() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for file in rust_files(&src) {
        let shown = file
            .strip_prefix(&src)
            .expect("under src")
            .display()
            .to_string();
        if shown.starts_with("store/") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        for word in ["rusqlite", "postgres::", ".connection()", ".db()"] {
            if text.contains(word) {
                broken.push(format!("src/{shown} names {word}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "SQL outside store:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_scanner_finds_imports() {
    assert_eq!(
        imports("use crate::store::files;\nfn f() { crate::daemon::x(); crate::store::y() }"),
        vec!["store".to_string(), "daemon".to_string()]
    );
}
