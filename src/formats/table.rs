//! A plain columnar table of optional strings, the shape every document mapper (X12, EDIFACT,
//! XML) fills and the runner renders as CSV: three envelope context columns, then the
//! document's own.

use serde::Serialize;

pub use super::column::Column;

/// A columnar table; all columns have the same length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
}

impl Table {
    pub fn new(name: &str, columns: &[&str]) -> Table {
        let mut all = vec!["interchange_control", "group_control", "set_control"];
        all.extend_from_slice(columns);
        Table {
            name: name.to_string(),
            columns: all.iter().map(|c| Column::new(c)).collect(),
        }
    }

    /// Appends a row: the context of `ctx`, then `values` in column order (missing values are
    /// `None`, extra ones ignored). Values may be borrowed (`&str`, `Cow`) or owned.
    pub fn push<S: AsRef<str>>(&mut self, ctx: &Ctx, values: impl IntoIterator<Item = Option<S>>) {
        let mut values = values.into_iter();
        for (n, col) in self.columns.iter_mut().enumerate() {
            match n {
                0 => col.push(ctx.0),
                1 => col.push(ctx.1),
                2 => col.push(ctx.2),
                _ => col.push(values.next().flatten().as_ref().map(AsRef::as_ref)),
            }
        }
    }

    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The value at `row` in column `name`.
    pub fn get(&self, row: usize, name: &str) -> Option<&str> {
        self.column(name)?.get(row)
    }
}

/// Context columns of one set: interchange, group and set control numbers (borrowed: they
/// are copied into every row, so the set itself need not own them).
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a>(
    pub Option<&'a str>,
    pub Option<&'a str>,
    pub Option<&'a str>,
);
