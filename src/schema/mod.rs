//! Frictionless Table Schema: the types, and validation as polars expressions (pure).

pub mod drift;
pub mod table;
pub mod validate;

pub use table::{FieldType, FieldsMatch, TableSchema};

/// What can go wrong loading a schema (a configuration problem, not a data problem).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("schema {schema}: {message}")]
    Parse { schema: String, message: String },
    #[error("schema {schema}: {}", problems.join("; "))]
    Invalid {
        schema: String,
        problems: Vec<String>,
    },
}
