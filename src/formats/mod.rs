//! Bytes in, tables out: partner file formats (pure, no IO).
pub mod csv;
pub mod edifact;
pub mod settlement;
pub mod trailer;
pub mod x12;
pub mod xml;
