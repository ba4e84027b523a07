//! Tallyman: batch file exchange and reconciliation for ecommerce and ERP operations.
//!
//! The core (`schema`, `formats`, `engine`, `frame`) is pure: bytes and tables in, tables and
//! issues out; `config` reads the configuration files once and compiles them into its types.
//! `transport` and `store` are the only modules that touch files and servers.
pub mod config;
pub mod console;
pub mod daemon;
pub mod engine;
pub mod failpoint;
pub mod formats;
pub mod frame;
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
