//! The daemon: schedules, expected-file windows, metrics, health over HTTP and signals.
//!
//! Start-up order for `serve`: take `store::home_lock::DataLock` (exit `EXIT_LOCKED` if held; SQLite only), install
//! `signals::Signals`, start `http::HttpServer`, then loop: on each tick ask every pipeline's
//! `config::schedule::Schedule::due_since` and `expected::Expected::late` (through an `AlertBook`),
//! update `metrics::Metrics`, reload on `take_reload`, and leave when `shutdown_requested`.

mod counts;
pub mod expected;
pub mod http;
pub mod kept_ledger;
pub mod ledger_fault;
pub mod metrics;
pub mod serve;
pub mod signals;
pub mod watch;
pub mod worker;

/// Why `serve` could not start or stop cleanly; `exit_code` maps each to the process exit code.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}; only one `tallyman serve` may run per home folder")]
    Lock(#[from] crate::store::home_lock::LockError),
    #[error(transparent)]
    Signals(#[from] signals::SignalError),
    #[error("{} configuration problem(s):\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Config(Vec<crate::config::ConfigError>),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Http(#[from] http::HttpError),
    #[error(transparent)]
    Console(#[from] crate::console::ConsoleError),
    #[error("cannot start a worker thread: {0}")]
    Spawn(std::io::Error),
    #[error("{0} job(s) still running when the shutdown time ran out")]
    ShutdownTimeout(usize),
}

impl ServeError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ServeError::Lock(e) => e.exit_code() as u8,
            ServeError::Config(_) | ServeError::Console(_) => 2,
            _ => 1,
        }
    }
}
