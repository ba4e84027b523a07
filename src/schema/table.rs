//! Frictionless Table Schema as written (serde) and compiled into a validated `TableSchema`.
//!
//! Supported: field types string, integer, number (read as an exact decimal), boolean, date,
//! datetime; constraints required, unique, minimum, maximum, minLength, maxLength, pattern, enum;
//! `missingValues`, `primaryKey`, `uniqueKeys`, `foreignKeys`, `fieldsMatch`. Tallyman adds one
//! field property, `scale`, the most decimal places a `number` may carry (money: 2).

use std::collections::HashSet;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::SchemaError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSchema {
    #[serde(rename = "$schema")]
    _schema: Option<String>,
    name: Option<String>,
    title: Option<String>,
    description: Option<String>,
    fields: Vec<RawField>,
    #[serde(default = "default_missing")]
    missing_values: Vec<String>,
    primary_key: Option<OneOrMany>,
    #[serde(default)]
    unique_keys: Vec<OneOrMany>,
    #[serde(default)]
    foreign_keys: Vec<RawForeignKey>,
    fields_match: Option<String>,
}

fn default_missing() -> Vec<String> {
    vec![String::new()]
}

#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawField {
    name: String,
    #[serde(rename = "type", default = "default_type")]
    kind: String,
    format: Option<String>,
    title: Option<String>,
    description: Option<String>,
    example: Option<Value>,
    #[serde(default)]
    constraints: RawConstraints,
    true_values: Option<Vec<String>>,
    false_values: Option<Vec<String>>,
    decimal_char: Option<String>,
    group_char: Option<String>,
    scale: Option<u32>,
}

fn default_type() -> String {
    "string".into()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConstraints {
    #[serde(default)]
    required: bool,
    #[serde(default)]
    unique: bool,
    minimum: Option<Value>,
    maximum: Option<Value>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    enumeration: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForeignKey {
    fields: OneOrMany,
    reference: RawReference,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReference {
    resource: String,
    fields: OneOrMany,
}

/// A field's type, with what its parser needs.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    String,
    Integer,
    /// Exact decimal; `scale` caps the decimal places (a value with more is a `scale` issue).
    Number {
        scale: Option<u32>,
        decimal_char: Option<String>,
        group_char: Option<String>,
    },
    Boolean {
        true_values: Vec<String>,
        false_values: Vec<String>,
    },
    /// chrono/strftime format.
    Date {
        format: String,
    },
    /// chrono/strftime format; values without an offset are taken as UTC.
    Datetime {
        format: String,
    },
}

impl FieldType {
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Number { .. } => "number",
            FieldType::Boolean { .. } => "boolean",
            FieldType::Date { .. } => "date",
            FieldType::Datetime { .. } => "datetime",
        }
    }
}

/// A bound for minimum/maximum, kept as text so decimals stay exact; compared in the field's type.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound(pub String);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    pub required: bool,
    pub unique: bool,
    pub minimum: Option<Bound>,
    pub maximum: Option<Bound>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    /// Anchored: the whole value must match (Frictionless semantics).
    pub pattern: Option<String>,
    pub enumeration: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub kind: FieldType,
    pub constraints: Constraints,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKey {
    pub fields: Vec<String>,
    pub resource: String,
    pub reference_fields: Vec<String>,
}

/// How the file's header must relate to the schema's fields (Table Schema v2 `fieldsMatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldsMatch {
    /// Same names in the same order.
    Exact,
    /// Same names, any order.
    Equal,
    /// Every header name is a schema field; schema fields may be absent (they must not be required).
    Subset,
    /// Every schema field is in the header; extra columns are kept as strings.
    Superset,
    /// At least one schema field is in the header.
    Partial,
}

/// A compiled, validated table schema.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    pub name: String,
    pub fields: Vec<Field>,
    pub missing_values: Vec<String>,
    pub primary_key: Vec<String>,
    pub unique_keys: Vec<Vec<String>>,
    pub foreign_keys: Vec<ForeignKey>,
    pub fields_match: FieldsMatch,
}

impl TableSchema {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Parses and compiles a schema document; `name` is used in messages (usually the file stem).
    /// Every problem is collected before returning.
    pub fn from_json(name: &str, text: &str) -> Result<TableSchema, SchemaError> {
        let raw: RawSchema = serde_json::from_str(text).map_err(|e| SchemaError::Parse {
            schema: name.to_string(),
            message: e.to_string(),
        })?;
        compile(name, raw)
    }
}

fn compile(name: &str, raw: RawSchema) -> Result<TableSchema, SchemaError> {
    let _ = (&raw.title, &raw.description, &raw.name);
    let mut problems = Vec::new();
    let mut names = HashSet::new();
    let mut fields = Vec::new();
    if raw.fields.is_empty() {
        problems.push("`fields` is empty".to_string());
    }
    for f in raw.fields {
        let _ = (&f.title, &f.description, &f.example);
        if !names.insert(f.name.clone()) {
            problems.push(format!("field `{}` is declared twice", f.name));
        }
        match compile_field(f) {
            Ok(field) => fields.push(field),
            Err(mut errs) => problems.append(&mut errs),
        }
    }
    let check_names = |what: &str, list: &[String], problems: &mut Vec<String>| {
        for n in list {
            if !names.contains(n) {
                problems.push(format!("{what} names `{n}`, which is not a field"));
            }
        }
    };
    let primary_key = raw.primary_key.map(OneOrMany::into_vec).unwrap_or_default();
    check_names("primaryKey", &primary_key, &mut problems);
    let unique_keys: Vec<Vec<String>> = raw
        .unique_keys
        .into_iter()
        .map(OneOrMany::into_vec)
        .collect();
    for key in &unique_keys {
        check_names("uniqueKeys", key, &mut problems);
    }
    let mut foreign_keys = Vec::new();
    for fk in raw.foreign_keys {
        let fields = fk.fields.into_vec();
        let reference_fields = fk.reference.fields.into_vec();
        check_names("foreignKeys", &fields, &mut problems);
        if fields.len() != reference_fields.len() {
            problems.push(format!(
                "foreign key {fields:?} has {} fields but its reference has {}",
                fields.len(),
                reference_fields.len()
            ));
        }
        foreign_keys.push(ForeignKey {
            fields,
            resource: fk.reference.resource,
            reference_fields,
        });
    }
    let fields_match = match raw.fields_match.as_deref().unwrap_or("exact") {
        "exact" => FieldsMatch::Exact,
        "equal" => FieldsMatch::Equal,
        "subset" => FieldsMatch::Subset,
        "superset" => FieldsMatch::Superset,
        "partial" => FieldsMatch::Partial,
        other => {
            problems.push(format!(
                "fieldsMatch `{other}` is not one of exact, equal, subset, superset, partial"
            ));
            FieldsMatch::Exact
        }
    };
    if !problems.is_empty() {
        return Err(SchemaError::Invalid {
            schema: name.to_string(),
            problems,
        });
    }
    Ok(TableSchema {
        name: name.to_string(),
        fields,
        missing_values: raw.missing_values,
        primary_key,
        unique_keys,
        foreign_keys,
        fields_match,
    })
}

fn compile_field(f: RawField) -> Result<Field, Vec<String>> {
    let mut problems = Vec::new();
    let format = f.format.filter(|s| s != "default");
    let kind = match f.kind.as_str() {
        "string" => FieldType::String,
        "integer" => FieldType::Integer,
        "number" => FieldType::Number {
            scale: f.scale,
            decimal_char: f.decimal_char,
            group_char: f.group_char,
        },
        "boolean" => FieldType::Boolean {
            true_values: f
                .true_values
                .unwrap_or_else(|| ["true", "True", "TRUE", "1"].map(String::from).to_vec()),
            false_values: f
                .false_values
                .unwrap_or_else(|| ["false", "False", "FALSE", "0"].map(String::from).to_vec()),
        },
        "date" => FieldType::Date {
            format: format.unwrap_or_else(|| "%Y-%m-%d".into()),
        },
        "datetime" => FieldType::Datetime {
            format: format.unwrap_or_else(|| "%Y-%m-%dT%H:%M:%S%#z".into()),
        },
        other => {
            problems.push(format!(
                "field `{}` has type `{other}`; supported: string, integer, number, boolean, date, datetime",
                f.name
            ));
            FieldType::String
        }
    };
    let c = f.constraints;
    let bound = |v: Option<Value>, what: &str, problems: &mut Vec<String>| match v {
        None => None,
        Some(Value::Number(n)) => Some(Bound(n.to_string())),
        Some(Value::String(s)) => Some(Bound(s)),
        Some(other) => {
            problems.push(format!(
                "field `{}`: {what} {other} is not a number or a string",
                f.name
            ));
            None
        }
    };
    let minimum = bound(c.minimum, "minimum", &mut problems);
    let maximum = bound(c.maximum, "maximum", &mut problems);
    if let Some(p) = &c.pattern {
        if let Err(e) = Regex::new(&format!("^(?:{p})$")) {
            problems.push(format!("field `{}`: pattern does not compile: {e}", f.name));
        }
    }
    let enumeration = c.enumeration.map(|values| {
        values
            .into_iter()
            .map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect()
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Field {
        name: f.name,
        kind,
        constraints: Constraints {
            required: c.required,
            unique: c.unique,
            minimum,
            maximum,
            min_length: c.min_length,
            max_length: c.max_length,
            pattern: c.pattern,
            enumeration,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_a_full_schema() {
        let s = TableSchema::from_json(
            "t",
            r#"{"fields":[{"name":"sku","type":"string","constraints":{"required":true,"pattern":"SKU-\\d+"}},
                {"name":"qty","type":"integer","constraints":{"minimum":0}},
                {"name":"price","type":"number","scale":2}],
               "primaryKey":"sku","foreignKeys":[{"fields":"sku","reference":{"resource":"items","fields":"sku"}}]}"#,
        )
        .unwrap();
        assert_eq!(s.primary_key, vec!["sku"]);
        assert_eq!(s.fields[2].kind.name(), "number");
        assert_eq!(s.foreign_keys[0].resource, "items");
        assert_eq!(s.fields_match, FieldsMatch::Exact);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let err = TableSchema::from_json(
            "t",
            r#"{"fields":[{"name":"a","type":"money"},{"name":"a","constraints":{"pattern":"("}}],
               "primaryKey":["b"],"fieldsMatch":"loose"}"#,
        )
        .unwrap_err();
        let SchemaError::Invalid { problems, .. } = err else {
            panic!("expected Invalid, got {err:?}")
        };
        assert_eq!(problems.len(), 5, "{problems:#?}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = TableSchema::from_json("t", r#"{"fields":[{"name":"a","typ":"string"}]}"#);
        assert!(matches!(err, Err(SchemaError::Parse { .. })));
    }
}
