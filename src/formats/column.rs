//! One named column of optional strings in a compact layout: all values of the column share
//! one text buffer, and each row is just its end offset in that buffer. Appending a value is a
//! copy into the buffer, not a heap allocation per cell (mapping large files used to spend
//! most of its time allocating, zeroing and freeing millions of small strings).

use std::fmt;

use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

/// Marks a missing value in `ends`. A `String` never exceeds `isize::MAX` bytes, so no real
/// offset has the top bit set.
const NULL: usize = 1 << (usize::BITS - 1);

/// A named column; `None` and `Some("")` are distinct values.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Column {
    pub name: String,
    /// Every present value, back to back.
    text: String,
    /// Per row: the end of its value in `text`, with [`NULL`] set when the value is missing
    /// (the offset then equals the previous row's end, so the next row still finds its start).
    ends: Vec<usize>,
}

impl Column {
    /// An empty column.
    pub fn new(name: &str) -> Column {
        Column {
            name: name.to_string(),
            ..Column::default()
        }
    }

    /// A column holding `values` in order.
    pub fn from_values<S: AsRef<str>>(
        name: &str,
        values: impl IntoIterator<Item = Option<S>>,
    ) -> Column {
        let mut c = Column::new(name);
        for v in values {
            c.push(v.as_ref().map(AsRef::as_ref));
        }
        c
    }

    /// Makes room for `rows` more rows of about `bytes` more text in total.
    pub fn reserve(&mut self, rows: usize, bytes: usize) {
        self.ends.reserve(rows);
        self.text.reserve(bytes);
    }

    /// Appends one value.
    pub fn push(&mut self, value: Option<&str>) {
        match value {
            Some(v) => {
                self.text.push_str(v);
                self.ends.push(self.text.len());
            }
            None => self.ends.push(self.text.len() | NULL),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The value at `row`; `None` when missing or past the end.
    pub fn get(&self, row: usize) -> Option<&str> {
        let end = *self.ends.get(row)?;
        if end & NULL != 0 {
            return None;
        }
        let start = match row.checked_sub(1) {
            Some(prev) => self.ends.get(prev).map_or(0, |e| e & !NULL),
            None => 0,
        };
        self.text.get(start..end)
    }

    /// Every value in row order.
    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let from = start;
            start = end & !NULL;
            if end & NULL != 0 {
                None
            } else {
                self.text.get(from..end)
            }
        })
    }

    /// The values as owned strings (for comparisons in tests and callers that keep them).
    pub fn to_vec(&self) -> Vec<Option<String>> {
        self.iter().map(|v| v.map(str::to_string)).collect()
    }
}

/// Shows the values, not the buffer layout, so failing assertions read like the table.
impl fmt::Debug for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Column")
            .field("name", &self.name)
            .field("values", &Values(self))
            .finish()
    }
}

/// The values of a column as a list (for `Debug` and `Serialize`).
struct Values<'a>(&'a Column);

impl fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for v in self.0.iter() {
            seq.serialize_element(&v)?;
        }
        seq.end()
    }
}

/// `{"name": ..., "values": [...]}`, the form of the former `Vec<Option<String>>` field.
impl Serialize for Column {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Column", 2)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("values", &Values(self))?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_none_empty_and_text_apart() {
        let values = [Some("a"), None, Some(""), Some("héllo"), None];
        let c = Column::from_values("x", values);
        assert_eq!(c.len(), 5);
        assert_eq!(c.iter().collect::<Vec<_>>(), values);
        assert_eq!((0..6).map(|r| c.get(r)).collect::<Vec<_>>()[..5], values);
        assert_eq!(c.get(5), None);
        assert_eq!(c.to_vec()[3].as_deref(), Some("héllo"));
    }

    #[test]
    fn serializes_and_compares_as_its_values() {
        let c = Column::from_values("x", [Some("1"), None]);
        let json = serde_json::to_string(&c).expect("json");
        assert_eq!(json, r#"{"name":"x","values":["1",null]}"#);
        assert_eq!(
            format!("{c:?}"),
            r#"Column { name: "x", values: [Some("1"), None] }"#
        );
        let same = Column::from_values("x", [Some("1".to_string()), None]);
        assert_eq!(c, same);
    }
}
