//! Schema drift (pure): how a file's header differs from its schema's fields (columns renamed,
//! added, dropped, moved), and the JSON Patch (RFC 6902) of the schema file that would accept it.
//!
//! The rename heuristic is deliberately simple, so a person can predict it: a schema field that
//! is gone and a header column that is new *at the same position* (1-based column n of both)
//! are a rename when their names are similar ([`similar`]). Anything less certain is proposed
//! as a drop plus an add, which a reviewer can still turn into a rename by hand. Values are not
//! looked at: a header is all a rejected file is sure to have.
//!
//! The patch is built against the schema document as written (so `primaryKey` given as a string
//! stays a string), applied with the `json-patch` crate, and the result must compile as a
//! `TableSchema` before anyone writes it.

use serde_json::{json, Value};

use super::table::TableSchema;

/// What can go wrong proposing or applying a schema patch.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("the schema document has no `fields` array")]
    NoFields,
    #[error(
        "the schema file's fields are not the ones compared with the header (it changed since)"
    )]
    Stale,
    #[error("the patch is not a JSON Patch document: {0}")]
    NotAPatch(String),
    #[error("the patch does not apply to the schema: {0}")]
    Apply(String),
    #[error("the patched schema is not valid: {0}")]
    Invalid(String),
}

/// One difference between the schema's fields and the file's header. Positions are 0-based.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Renamed {
        at: usize,
        from: String,
        to: String,
    },
    Added {
        at: usize,
        name: String,
    },
    Dropped {
        at: usize,
        name: String,
    },
    Moved {
        name: String,
        from: usize,
        to: usize,
    },
}

impl Change {
    /// The change as a sentence for the report; columns counted from 1, as people do.
    pub fn describe(&self) -> String {
        match self {
            Change::Renamed { at, from, to } => {
                format!("column {} `{from}` is now called `{to}` (renamed)", at + 1)
            }
            Change::Added { at, name } => {
                format!("column {} `{name}` is new (not in the schema)", at + 1)
            }
            Change::Dropped { at, name } => {
                format!("schema column {} `{name}` is gone from the file", at + 1)
            }
            Change::Moved { name, from, to } => {
                format!(
                    "column `{name}` moved from column {} to {}",
                    from + 1,
                    to + 1
                )
            }
        }
    }
}

/// How a header differs from a field list: the changes, and the steps that turn the field
/// list into the header (the patch is made of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub changes: Vec<Change>,
    steps: Vec<Step>,
    /// The field names compared: the patch is only made against a document that has them.
    base: Vec<String>,
}

/// One edit of the working field list, in the order the patch applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Rename { at: usize, from: String, to: String },
    Remove { at: usize, name: String },
    Move { from: usize, to: usize },
    Add { at: usize, name: String },
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Whether two column names are alike enough to call a change of one into the other a rename:
/// equal once lower-cased with separators removed, one containing the other, a shared word
/// (split on `_`, `-`, space, `.`) of at least 3 letters, or at most one edit per 4 letters
/// (Levenshtein) of the longer name.
pub fn similar(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (na, nb) = (norm(a), norm(b));
    if na.is_empty() || nb.is_empty() {
        return false;
    }
    if na.contains(&nb) || nb.contains(&na) {
        return true;
    }
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 3)
            .map(str::to_lowercase)
            .collect()
    };
    let wb = words(b);
    if words(a).iter().any(|w| wb.contains(w)) {
        return true;
    }
    let longer = na.chars().count().max(nb.chars().count());
    levenshtein(&na, &nb) * 4 <= longer
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Compares the schema's field names with the file's header. Duplicate header names are the
/// structure pass's problem, not drift: the first occurrence counts.
pub fn compare(fields: &[String], header: &[String]) -> Drift {
    let in_header = |n: &str| header.iter().any(|h| h == n);
    let in_fields = |n: &str| fields.iter().any(|f| f == n);
    let mut changes = Vec::new();
    let mut steps = Vec::new();
    let mut cur: Vec<String> = fields.to_vec();
    // Renames: gone and new at the same position, with similar names.
    let mut renamed_to: Vec<&str> = Vec::new();
    for (at, f) in fields.iter().enumerate() {
        let Some(h) = header.get(at) else { continue };
        if !in_header(f) && !in_fields(h) && similar(f, h) {
            changes.push(Change::Renamed {
                at,
                from: f.clone(),
                to: h.clone(),
            });
            steps.push(Step::Rename {
                at,
                from: f.clone(),
                to: h.clone(),
            });
            cur[at] = h.clone();
            renamed_to.push(h);
        }
    }
    // Drops, from the back so earlier indices hold.
    for at in (0..fields.len()).rev() {
        if !in_header(&cur[at]) {
            let name = cur.remove(at);
            steps.push(Step::Remove {
                at,
                name: name.clone(),
            });
            changes.push(Change::Dropped { at, name });
        }
    }
    // Moves among the columns both have, then the new columns in header order.
    let common: Vec<String> = header.iter().filter(|h| cur.contains(h)).cloned().collect();
    let moves = fewest_moves(&cur, &common);
    for (from, to) in &moves {
        let name = cur.remove(*from);
        cur.insert(*to, name.clone());
        steps.push(Step::Move {
            from: *from,
            to: *to,
        });
        let was = fields
            .iter()
            .position(|f| *f == name)
            .or_else(|| header.iter().position(|h| *h == name))
            .unwrap_or(*from);
        let now = header.iter().position(|h| *h == name).unwrap_or(*to);
        changes.push(Change::Moved {
            name,
            from: was,
            to: now,
        });
    }
    for (at, h) in header.iter().enumerate() {
        if !cur.contains(h) && !renamed_to.contains(&h.as_str()) {
            cur.insert(at, h.clone());
            steps.push(Step::Add {
                at,
                name: h.clone(),
            });
            changes.push(Change::Added {
                at,
                name: h.clone(),
            });
        }
    }
    debug_assert!(header.iter().zip(&cur).all(|(h, c)| h == c));
    // The report reads best in column order.
    changes.sort_by_key(|c| match c {
        Change::Renamed { at, .. } | Change::Added { at, .. } | Change::Dropped { at, .. } => *at,
        Change::Moved { to, .. } => *to,
    });
    Drift {
        changes,
        steps,
        base: fields.to_vec(),
    }
}

/// The moves (from, to: indices at the time of each move, JSON Patch `move` semantics) that
/// reorder `cur` into `target` (the same names): pulling each misplaced name forward from the
/// left, or pushing back from the right, whichever takes fewer moves; so one column moved to
/// the end is one move, not one per column it jumped.
fn fewest_moves(cur: &[String], target: &[String]) -> Vec<(usize, usize)> {
    let forward = {
        let mut c = cur.to_vec();
        let mut out = Vec::new();
        for (j, want) in target.iter().enumerate() {
            if c[j] != *want {
                let k = c.iter().position(|x| x == want).unwrap_or(j);
                let name = c.remove(k);
                c.insert(j, name);
                out.push((k, j));
            }
        }
        out
    };
    let backward = {
        let mut c = cur.to_vec();
        let mut out = Vec::new();
        for j in (0..target.len()).rev() {
            if c[j] != target[j] {
                let k = c.iter().position(|x| *x == target[j]).unwrap_or(j);
                let name = c.remove(k);
                c.insert(j, name);
                out.push((k, j));
            }
        }
        out
    };
    if backward.len() < forward.len() {
        backward
    } else {
        forward
    }
}

/// The JSON Patch (an array of operations) that makes `schema` (the schema file's document)
/// accept the header: renames also rename the field in `primaryKey`, `uniqueKeys` and
/// `foreignKeys`; a dropped field's keys go with it (they could not be checked); a new column
/// is a `string` field, the type that accepts any value (tighten it when reviewing).
pub fn patch(drift: &Drift, schema: &Value) -> Result<Value, DriftError> {
    let Some(Value::Array(fields)) = schema.get("fields") else {
        return Err(DriftError::NoFields);
    };
    // The steps address fields by position: on other fields they would patch the wrong ones.
    let names: Vec<Option<&str>> = fields.iter().map(|f| f["name"].as_str()).collect();
    let base: Vec<Option<&str>> = drift.base.iter().map(|n| Some(n.as_str())).collect();
    if names != base {
        return Err(DriftError::Stale);
    }
    let mut ops = Vec::new();
    let mut doc = schema.clone();
    for step in &drift.steps {
        let before = ops.len();
        match step {
            Step::Rename { at, from, to } => {
                ops.push(
                    json!({"op": "replace", "path": format!("/fields/{at}/name"), "value": to}),
                );
                for (path, value) in key_refs(&doc, from) {
                    let value = match value {
                        Value::String(_) => json!(to),
                        Value::Array(names) => Value::Array(
                            names
                                .into_iter()
                                .map(|n| if n == json!(from) { json!(to) } else { n })
                                .collect(),
                        ),
                        other => other,
                    };
                    ops.push(json!({"op": "replace", "path": path, "value": value}));
                }
            }
            Step::Remove { at, name } => {
                // Keys naming the field first, from the back of each list.
                let mut refs: Vec<String> = key_refs(&doc, name)
                    .into_iter()
                    .map(|(path, _)| key_entry(&path))
                    .collect();
                refs.dedup();
                refs.reverse();
                for path in refs {
                    ops.push(json!({"op": "remove", "path": path}));
                }
                ops.push(json!({"op": "remove", "path": format!("/fields/{at}")}));
            }
            Step::Move { from, to } => {
                ops.push(json!({"op": "move", "from": format!("/fields/{from}"), "path": format!("/fields/{to}")}));
            }
            Step::Add { at, name } => {
                ops.push(json!({"op": "add", "path": format!("/fields/{at}"), "value": {"name": name, "type": "string"}}));
            }
        }
        // Later steps see the document as the earlier ones left it (key paths shift).
        let new = Value::Array(ops[before..].to_vec());
        doc = apply_value(&doc, &new)?;
    }
    Ok(Value::Array(ops))
}

/// The entry a key reference belongs to: `/primaryKey/1` → `/primaryKey`,
/// `/foreignKeys/0/fields/0` → `/foreignKeys/0`, `/uniqueKeys/2/0` → `/uniqueKeys/2`.
fn key_entry(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.get(1) {
        Some(&"primaryKey") => "/primaryKey".into(),
        _ => parts.iter().take(3).copied().collect::<Vec<_>>().join("/"),
    }
}

/// Where the schema's keys name `field`: (JSON Pointer to the key's string or list, its value).
fn key_refs(doc: &Value, field: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut look = |path: String, v: &Value| match v {
        Value::String(s) if s == field => out.push((path, v.clone())),
        Value::Array(a) if a.iter().any(|n| n == field) => out.push((path, v.clone())),
        _ => {}
    };
    if let Some(v) = doc.get("primaryKey") {
        look("/primaryKey".into(), v);
    }
    if let Some(Value::Array(keys)) = doc.get("uniqueKeys") {
        for (i, k) in keys.iter().enumerate() {
            look(format!("/uniqueKeys/{i}"), k);
        }
    }
    if let Some(Value::Array(fks)) = doc.get("foreignKeys") {
        for (i, fk) in fks.iter().enumerate() {
            if let Some(f) = fk.get("fields") {
                look(format!("/foreignKeys/{i}/fields"), f);
            }
        }
    }
    out
}

fn apply_value(doc: &Value, patch: &Value) -> Result<Value, DriftError> {
    let patch: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| DriftError::NotAPatch(e.to_string()))?;
    let mut out = doc.clone();
    json_patch::patch(&mut out, &patch).map_err(|e| DriftError::Apply(e.to_string()))?;
    Ok(out)
}

/// Applies a JSON Patch to a schema document; the result must compile as a `TableSchema` (as
/// `name`), so a patch that would leave a broken schema is refused before it is written.
pub fn apply(name: &str, schema: &Value, patch: &Value) -> Result<Value, DriftError> {
    let out = apply_value(schema, patch)?;
    let text = serde_json::to_string(&out).map_err(|e| DriftError::Apply(e.to_string()))?;
    TableSchema::from_json(name, &text).map_err(|e| DriftError::Invalid(e.to_string()))?;
    Ok(out)
}

/// Keys in the order people write a schema in (the bundled files' order); others after them,
/// alphabetically. serde_json's map sorts keys, and a schema rewritten alphabetically would
/// make the reviewed diff of `tallyman schema apply` a reshuffle of the whole file.
const KEY_ORDER: &[&str] = &[
    "$schema",
    "name",
    "title",
    "description",
    "type",
    "format",
    "scale",
    "example",
    "constraints",
    "required",
    "unique",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "enum",
    "trueValues",
    "falseValues",
    "resource",
    "fields",
    "reference",
    "missingValues",
    "primaryKey",
    "uniqueKeys",
    "foreignKeys",
    "fieldsMatch",
];

fn ordered(map: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by_key(|(k, _)| {
        (
            KEY_ORDER
                .iter()
                .position(|o| o == k)
                .unwrap_or(KEY_ORDER.len()),
            k.to_string(),
        )
    });
    entries
}

/// One line of JSON, keys in [`KEY_ORDER`], `", "` and `": "` between items.
fn compact(v: &Value, out: &mut String) {
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                compact(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in ordered(map).into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                compact(item, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A schema document laid out as the bundled schema files are: one top-level key per line,
/// one field per line, keys in the usual order. Used to write a patched schema file.
pub fn render_schema(doc: &Value) -> String {
    let Value::Object(map) = doc else {
        let mut out = String::new();
        compact(doc, &mut out);
        return out + "\n";
    };
    let mut lines = Vec::new();
    for (k, v) in ordered(map) {
        let mut line = format!("  {}: ", Value::String(k.clone()));
        match (k.as_str(), v) {
            ("fields", Value::Array(fields)) if !fields.is_empty() => {
                line.push_str("[\n");
                let rows: Vec<String> = fields
                    .iter()
                    .map(|f| {
                        let mut row = String::from("    ");
                        compact(f, &mut row);
                        row
                    })
                    .collect();
                line.push_str(&rows.join(",\n"));
                line.push_str("\n  ]");
            }
            _ => compact(v, &mut line),
        }
        lines.push(line);
    }
    format!("{{\n{}\n}}\n", lines.join(",\n"))
}

/// A patch laid out one operation per line, for the archive and the report.
pub fn render_patch(patch: &Value) -> String {
    let Value::Array(ops) = patch else {
        let mut out = String::new();
        compact(patch, &mut out);
        return out + "\n";
    };
    if ops.is_empty() {
        return "[]\n".into();
    }
    let rows: Vec<String> = ops
        .iter()
        .map(|op| {
            let mut row = String::from("  ");
            compact(op, &mut row);
            row
        })
        .collect();
    format!("[\n{}\n]\n", rows.join(",\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<String> {
        s.split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn schema(fields: &str) -> Value {
        let fields: Vec<Value> = names(fields)
            .into_iter()
            .map(|n| json!({"name": n, "type": "integer"}))
            .collect();
        json!({"fields": fields, "primaryKey": ["id"]})
    }

    /// (schema fields, header, the changes described, the number of patch operations).
    fn check(fields: &str, header: &str, expect: &[&str], ops: usize) {
        let (f, h) = (names(fields), names(header));
        let drift = compare(&f, &h);
        let got: Vec<String> = drift.changes.iter().map(Change::describe).collect();
        assert_eq!(got, expect, "{fields} -> {header}");
        let doc = schema(fields);
        let p = patch(&drift, &doc).expect("patch");
        assert_eq!(
            p.as_array().map(Vec::len),
            Some(ops),
            "{fields} -> {header}: {p:#}"
        );
        // The patched schema has exactly the header's columns, in its order, and compiles.
        let out = apply("t", &doc, &p).expect("applies");
        let now: Vec<&str> = out["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(now, h, "{fields} -> {header}");
        assert!(compare(&h, &h).is_empty());
    }

    #[test]
    fn drift_cases() {
        check("id,qty,unit", "id,qty,unit", &[], 0);
        // Rename: same position, similar names.
        check(
            "id,qty,unit",
            "id,qty,unit_of_measure",
            &["column 3 `unit` is now called `unit_of_measure` (renamed)"],
            1,
        );
        check(
            "id,qty_damaged,unit",
            "id,damaged_qty,unit",
            &["column 2 `qty_damaged` is now called `damaged_qty` (renamed)"],
            1,
        );
        // Unsure (names unlike): a drop and an add.
        check(
            "id,qty,unit",
            "id,qty,uom",
            &[
                "schema column 3 `unit` is gone from the file",
                "column 3 `uom` is new (not in the schema)",
            ],
            2,
        );
        // Add, at the end and in the middle.
        check(
            "id,qty",
            "id,qty,lot",
            &["column 3 `lot` is new (not in the schema)"],
            1,
        );
        check(
            "id,qty",
            "id,lot,qty",
            &["column 2 `lot` is new (not in the schema)"],
            1,
        );
        // Drop.
        check(
            "id,qty,unit",
            "id,unit",
            &["schema column 2 `qty` is gone from the file"],
            1,
        );
        // Reorder: a swap, one column to the end, one to the front.
        check(
            "id,qty,unit",
            "id,unit,qty",
            &["column `unit` moved from column 3 to 2"],
            1,
        );
        check(
            "id,a,b,c,d",
            "id,b,c,d,a",
            &["column `a` moved from column 2 to 5"],
            1,
        );
        check(
            "id,a,b,c,d",
            "d,id,a,b,c",
            &["column `d` moved from column 5 to 1"],
            1,
        );
        // Several at once.
        check(
            "id,qty,unit,note",
            "id,unit,quantity,lot",
            &[
                "schema column 2 `qty` is gone from the file",
                "column 3 `quantity` is new (not in the schema)",
                "schema column 4 `note` is gone from the file",
                "column 4 `lot` is new (not in the schema)",
            ],
            4,
        );
        check(
            "id,qty,unit",
            "unit,id,qty,lot",
            &[
                "column `unit` moved from column 3 to 1",
                "column 4 `lot` is new (not in the schema)",
            ],
            2,
        );
    }

    #[test]
    fn a_rename_follows_the_keys_and_a_drop_takes_its_keys() {
        let doc = json!({
            "fields": [{"name": "id"}, {"name": "wh"}, {"name": "qty", "type": "integer"}],
            "primaryKey": ["id", "wh"],
            "uniqueKeys": [["wh", "qty"]],
            "foreignKeys": [{"fields": "id", "reference": {"resource": "items", "fields": "sku"}}]
        });
        let f = names("id,wh,qty");
        let renamed = compare(&f, &names("item_id,wh,qty"));
        let out = apply("t", &doc, &patch(&renamed, &doc).unwrap()).unwrap();
        assert_eq!(out["primaryKey"], json!(["item_id", "wh"]));
        assert_eq!(out["foreignKeys"][0]["fields"], json!("item_id"));
        let dropped = compare(&f, &names("id,qty"));
        let out = apply("t", &doc, &patch(&dropped, &doc).unwrap()).unwrap();
        assert_eq!(out.get("primaryKey"), None);
        assert_eq!(out["uniqueKeys"], json!([]));
        assert_eq!(out["foreignKeys"][0]["fields"], json!("id"));
    }

    #[test]
    fn a_bundled_schema_renders_as_written() {
        for text in [
            include_str!("../../schemas/tpl_snapshot.v1.json"),
            include_str!("../../schemas/item_master.v1.json"),
        ] {
            let doc: Value = serde_json::from_str(text).unwrap();
            assert_eq!(render_schema(&doc), text);
        }
        let p = json!([{"op": "remove", "path": "/fields/1"}]);
        assert_eq!(
            render_patch(&p),
            "[\n  {\"op\": \"remove\", \"path\": \"/fields/1\"}\n]\n"
        );
    }

    #[test]
    fn similar_names() {
        for (a, b, like) in [
            ("unit", "Unit", true),
            ("qty_on_hand", "qty_onhand", true),
            ("snapshot_ts", "snapshot_time", true),
            ("warehouse", "warehous", true),
            ("unit", "uom", false),
            ("sku", "price", false),
            ("", "a", false),
        ] {
            assert_eq!(similar(a, b), like, "{a} ~ {b}");
        }
    }

    #[test]
    fn no_patch_against_other_fields() {
        let drift = compare(&names("id,qty"), &names("id,qty,lot"));
        let doc = schema("id,quantity");
        assert!(matches!(patch(&drift, &doc), Err(DriftError::Stale)));
        assert!(matches!(
            patch(&drift, &json!({"name": "x"})),
            Err(DriftError::NoFields)
        ));
    }

    #[test]
    fn a_patch_leaving_a_broken_schema_is_refused() {
        let doc = json!({"fields": [{"name": "id"}], "primaryKey": "id"});
        let p = json!([{"op": "remove", "path": "/fields/0"}]);
        assert!(matches!(apply("t", &doc, &p), Err(DriftError::Invalid(_))));
        let p = json!([{"op": "remove", "path": "/fields/7"}]);
        assert!(matches!(apply("t", &doc, &p), Err(DriftError::Apply(_))));
        assert!(matches!(
            apply("t", &doc, &json!({"op": "add"})),
            Err(DriftError::NotAPatch(_))
        ));
    }
}
