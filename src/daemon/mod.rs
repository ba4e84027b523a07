//! The daemon: schedules, expected-file windows, metrics, health over HTTP, the data-folder lock and signals.
//!
//! Start-up order for `serve`: take `lock::DataLock` (exit `lock::EXIT_LOCKED` if held), install
//! `signals::Signals`, start `http::HttpServer`, then loop: on each tick ask every pipeline's
//! `schedule::Schedule::due_since` and `expected::Expected::late` (through an `AlertBook`),
//! update `metrics::Metrics`, reload on `take_reload`, and leave when `shutdown_requested`.

pub mod expected;
pub mod http;
pub mod lock;
pub mod metrics;
pub mod schedule;
pub mod signals;
