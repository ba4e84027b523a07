//! SIGTERM and SIGINT ask the daemon to stop, SIGHUP to reload its pipelines: flags the run loop polls.
//!
//! signal-hook's flag handlers only store to an atomic, which is async-signal-safe. A second
//! SIGTERM or SIGINT while a stop is already pending exits at once (code 1), so an operator
//! whose Ctrl-C waits on a stuck run can still get out; systemd's TimeoutStopSec covers the rest.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::flag;
use signal_hook::SigId;

#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("cannot install the handler for signal {signal}: {source}")]
    Install { signal: i32, source: io::Error },
}

/// The installed handlers; dropping this removes them.
#[derive(Debug)]
pub struct Signals {
    shutdown: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
    ids: Vec<SigId>,
}

impl Signals {
    pub fn install() -> Result<Signals, SignalError> {
        let shutdown = Arc::new(AtomicBool::new(false));
        let reload = Arc::new(AtomicBool::new(false));
        let mut signals = Signals {
            shutdown: Arc::clone(&shutdown),
            reload: Arc::clone(&reload),
            ids: Vec::new(),
        };
        for signal in [SIGTERM, SIGINT] {
            // Registered first so it sees the flag as it was before this delivery set it.
            let force = flag::register_conditional_shutdown(signal, 1, Arc::clone(&shutdown));
            signals.push(signal, force)?;
            signals.push(signal, flag::register(signal, Arc::clone(&shutdown)))?;
        }
        signals.push(SIGHUP, flag::register(SIGHUP, reload))?;
        Ok(signals)
    }

    fn push(&mut self, signal: i32, id: Result<SigId, io::Error>) -> Result<(), SignalError> {
        // On failure, Drop unregisters what was installed so far.
        self.ids
            .push(id.map_err(|source| SignalError::Install { signal, source })?);
        Ok(())
    }

    /// True once SIGTERM or SIGINT arrived; it stays true.
    pub fn shutdown_requested(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// True if SIGHUP arrived since the last call; clears the request.
    pub fn take_reload(&self) -> bool {
        self.reload.swap(false, Ordering::SeqCst)
    }

    /// The shutdown flag itself, for threads (the HTTP server, a long run) that poll it.
    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.shutdown)
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
