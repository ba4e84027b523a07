//! Panic isolation: one poisoned file (a bug meeting odd data) must not stop the files after it,
//! in `serve` (each job, each file) as in `run` (each file).

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning a panic into an error message (the panic hook has already printed it).
pub fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-text payload".to_string())
    })
}
