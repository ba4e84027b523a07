//! Exception reports (HTML, text, CSV) and mail delivery that never loses a message.
//!
//! The only code in Tallyman that knows lettre. Pure parts: `model`, `breaks` (the report's
//! breaks and money from a run's tables), `render`, `config` (the
//! CSV-injection escaping is `formats::csv_safe`, shared with the archive's `issues.csv`). IO
//! parts: `mail` (SMTP or spool) and `queue` (the ledger's mail table).

mod attachment;
pub mod breaks;
pub mod config;
pub mod mail;
pub mod model;
pub mod queue;
pub mod render;
mod render_catalog;
mod render_drift;
mod render_open_items;
mod render_settlement;

pub use mail::{build_message, MailError, Mailer, OutgoingMail, SendFailure};
pub use model::{
    Break, FileNote, Measure, MoneyTotal, ReconStatus, ReconSummary, RerunNote, RunReport,
    StatusCounts,
};
pub use queue::{FlushSummary, QueueError};
pub use render::{render, RenderError, RenderOptions, Rendered};
