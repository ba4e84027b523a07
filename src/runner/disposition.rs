//! What becomes of a file once its run ended: processed, quarantined, held `failed` for a rerun,
//! or left `claimed` for another try. A decision with no IO: the run's end and the count of its
//! earlier failures in, the disposition out.

use super::FailureKind;
use crate::store::outputs::FileEnd;
use crate::store::{FileState, RunState};

/// How many runs of one file may fail for operational reasons before it is quarantined.
pub const MAX_ATTEMPTS: i64 = 3;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    Succeeded,
    /// Rejected for its data (or its ERP extract never came).
    Rejected,
    Failed(FailureKind),
}

impl RunEnd {
    /// The run's state as stored in `runs.state`.
    pub fn state(self) -> RunState {
        match self {
            RunEnd::Succeeded => RunState::Succeeded,
            RunEnd::Rejected => RunState::Rejected,
            RunEnd::Failed(_) => RunState::Failed,
        }
    }

    /// The run's state word.
    pub fn as_str(self) -> &'static str {
        self.state().as_str()
    }
}

/// What the file's row becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Processed,
    /// Copied to `quarantine/` with its reason.
    Quarantine,
    /// Held `failed`: the pipeline's configuration is at fault; a rerun after the fix closes it.
    Hold,
    /// Left `claimed`: the next pass tries it again.
    Retry,
}

/// Decides a file's disposition. `failed_before` (runs of this file that failed earlier) is
/// asked only for an operational failure of a file's own run. A rerun's file is in the archive
/// already: a rerun that fails operationally is simply run again by hand, so it is not retried.
pub fn decide<E>(
    end: RunEnd,
    rerun: bool,
    failed_before: impl FnOnce() -> Result<i64, E>,
) -> Result<Disposition, E> {
    Ok(match end {
        RunEnd::Succeeded => Disposition::Processed,
        RunEnd::Rejected => Disposition::Quarantine,
        RunEnd::Failed(FailureKind::Config) => Disposition::Hold,
        RunEnd::Failed(FailureKind::Operational) if rerun => Disposition::Quarantine,
        RunEnd::Failed(FailureKind::Operational) => match failed_before()? + 1 < MAX_ATTEMPTS {
            true => Disposition::Retry,
            false => Disposition::Quarantine,
        },
    })
}

impl Disposition {
    /// The file's end as recorded with its run's (none when it stays `claimed`).
    pub fn file_end(self, file_id: i64, reason: Option<&str>, stored: &str) -> Option<FileEnd> {
        let state = match self {
            Disposition::Processed => FileState::Processed,
            Disposition::Quarantine => FileState::Quarantined,
            Disposition::Hold => FileState::Failed,
            Disposition::Retry => return None,
        };
        Some(FileEnd {
            file_id,
            state,
            reason: reason.map(str::to_string),
            stored: stored.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(end: RunEnd, rerun: bool, failed_before: i64, expect: Disposition) {
        let asked = std::cell::Cell::new(false);
        let got = decide::<()>(end, rerun, || {
            asked.set(true);
            Ok(failed_before)
        });
        assert_eq!(
            got,
            Ok(expect),
            "{end:?} rerun={rerun} failed_before={failed_before}"
        );
        let operational_file_run = end == RunEnd::Failed(FailureKind::Operational) && !rerun;
        assert_eq!(
            asked.get(),
            operational_file_run,
            "{end:?}: count asked only when needed"
        );
    }

    #[test]
    fn each_end_has_its_disposition() {
        use Disposition::*;
        let op = RunEnd::Failed(FailureKind::Operational);
        let config = RunEnd::Failed(FailureKind::Config);
        check(RunEnd::Succeeded, false, 0, Processed);
        check(RunEnd::Succeeded, true, 0, Processed);
        check(RunEnd::Rejected, false, 0, Quarantine);
        // A configuration error is never the partner's: held, however often it happened.
        check(config, false, 0, Hold);
        check(config, false, 5, Hold);
        check(config, true, 0, Hold);
        check(op, false, 0, Retry);
        check(op, false, MAX_ATTEMPTS - 2, Retry);
        check(op, false, MAX_ATTEMPTS - 1, Quarantine);
        check(op, true, 0, Quarantine);
    }

    #[test]
    fn a_retried_file_keeps_its_claim() {
        assert!(Disposition::Retry
            .file_end(1, Some("disk full"), "x")
            .is_none());
        let held = Disposition::Hold.file_end(1, Some("bad SQL"), "archive/x");
        assert_eq!(held.map(|e| e.state), Some(FileState::Failed));
    }
}
