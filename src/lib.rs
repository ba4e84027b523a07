//! Tallyman: batch file exchange and reconciliation for ecommerce and ERP operations.
//!
//! The core (`config`, `schema`, `formats`, `engine`) is pure: bytes and tables in, tables and
//! issues out. `transport` and `store` are the only modules that touch files and servers.
pub mod config;
pub mod daemon;
pub mod engine;
pub mod failpoint;
pub mod formats;
pub mod isolate;
pub mod issue;
pub mod parallel;
pub mod pipeline;
pub mod report;
pub mod runner;
pub mod schema;
pub mod store;
pub mod transport;
pub mod usage;
