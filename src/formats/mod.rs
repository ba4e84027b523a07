//! Bytes in, tables out: partner file formats (pure, no IO).
pub mod column;
pub mod csv;
pub mod csv_safe;
pub mod edifact;
pub mod problem;
pub mod settlement;
pub mod table;
pub mod trailer;
pub mod x12;
pub mod xml;
