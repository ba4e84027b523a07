//! Change detection: a catalog compared with the last accepted one of the same source, item by
//! item (by SKU): new, changed (each field with its old and new value), removed, unchanged; and
//! the next accepted catalog (a full file as it is; a delta applied to the last one).

use std::collections::BTreeMap;

use super::{Item, Mode, FIELDS};

/// What happened to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    New,
    Changed,
    Removed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::Changed => "changed",
            ChangeKind::Removed => "removed",
        }
    }
}

/// One row of `catalog_changes`: a new or removed item (no field), or one changed field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub sku: String,
    pub kind: ChangeKind,
    pub field: Option<&'static str>,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// The change set and its counts (items, not rows: an item with two changed fields is one
/// changed item and counts once under each field).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// By SKU, then field order.
    pub rows: Vec<Change>,
    pub new: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// Changed items per field, in [`FIELDS`] order.
    pub by_field: Vec<(&'static str, usize)>,
    /// Items in the last accepted catalog.
    pub previous: usize,
}

impl Changes {
    /// "412 new, 1,033 changed (price 900, description 133), 12 removed, 8 unchanged".
    pub fn summary(&self) -> String {
        let mut by_field: Vec<_> = self.by_field.iter().filter(|(_, n)| *n > 0).collect();
        by_field.sort_by_key(|b| std::cmp::Reverse(b.1));
        let fields = match by_field.is_empty() {
            true => String::new(),
            false => {
                let parts: Vec<String> = by_field
                    .iter()
                    .map(|(f, n)| format!("{f} {}", thousands(*n)))
                    .collect();
                format!(" ({})", parts.join(", "))
            }
        };
        format!(
            "{} new, {} changed{fields}, {} removed, {} unchanged",
            thousands(self.new),
            thousands(self.changed),
            thousands(self.removed),
            thousands(self.unchanged)
        )
    }
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Compares `items` (one per SKU: the rules set repeats aside) with `previous`. In
/// [`Mode::Delta`] an absent item is unchanged and a discontinued one is removed.
pub fn diff(previous: &[Item], items: &[Item], mode: Mode) -> Changes {
    let old: BTreeMap<&str, &Item> = previous.iter().map(|i| (i.sku.as_str(), i)).collect();
    let now: BTreeMap<&str, &Item> = items.iter().map(|i| (i.sku.as_str(), i)).collect();
    let mut c = Changes {
        previous: old.len(),
        by_field: FIELDS.iter().map(|f| (*f, 0)).collect(),
        ..Changes::default()
    };
    let skus: std::collections::BTreeSet<&str> = old.keys().chain(now.keys()).copied().collect();
    for sku in skus {
        let row = |kind, field, old: Option<String>, new: Option<String>| Change {
            sku: sku.to_string(),
            kind,
            field,
            old,
            new,
        };
        match (old.get(sku), now.get(sku)) {
            (Some(_), Some(n)) if mode == Mode::Delta && n.is_discontinued() => {
                c.removed += 1;
                c.rows.push(row(ChangeKind::Removed, None, None, None));
            }
            (None, Some(n)) if mode == Mode::Delta && n.is_discontinued() => {}
            (None, Some(_)) => {
                c.new += 1;
                c.rows.push(row(ChangeKind::New, None, None, None));
            }
            (Some(_), None) if mode == Mode::Delta => c.unchanged += 1,
            (Some(_), None) => {
                c.removed += 1;
                c.rows.push(row(ChangeKind::Removed, None, None, None));
            }
            (Some(o), Some(n)) => {
                let before = c.rows.len();
                for (i, f) in FIELDS.iter().enumerate() {
                    let (a, b) = (o.field(f), n.field(f));
                    if a != b {
                        c.by_field[i].1 += 1;
                        c.rows.push(row(ChangeKind::Changed, Some(f), a, b));
                    }
                }
                match c.rows.len() == before {
                    true => c.unchanged += 1,
                    false => c.changed += 1,
                }
            }
            (None, None) => {}
        }
    }
    c
}

/// The catalog accepted after this file: a full file as it is; a delta applied to the last one
/// (its items replace theirs, discontinued ones are dropped). Sorted by SKU.
pub fn apply(previous: &[Item], items: &[Item], mode: Mode) -> Vec<Item> {
    let mut out: BTreeMap<&str, &Item> = match mode {
        Mode::Full => BTreeMap::new(),
        Mode::Delta => previous.iter().map(|i| (i.sku.as_str(), i)).collect(),
    };
    for i in items {
        match mode == Mode::Delta && i.is_discontinued() {
            true => out.remove(i.sku.as_str()),
            false => out.insert(i.sku.as_str(), i),
        };
    }
    out.into_values().cloned().collect()
}
