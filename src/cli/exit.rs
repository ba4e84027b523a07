//! The exit codes of `run` and `rerun` (ripgrep style: each failure is printed as it happens,
//! the run goes on, and the code at the end says whether anything went wrong), so cron and
//! schedulers alert. The full list is in the README ("Exit codes").

use std::process::ExitCode;

use tallyman::store::{FileState, RunState};

/// Every file succeeded (or there was nothing to do, or only duplicates).
pub const OK: u8 = 0;
/// Something needs a person: a file was rejected (quarantined) or its run failed, a file was
/// refused (a symlink, a FIFO), a pipeline could not be run, or a report, mail or upload failed
/// for good.
pub const PROBLEMS: u8 = 1;
/// Bad configuration or usage: nothing was processed (`super::EXIT_CONFIG`).
pub const CONFIG: u8 = super::EXIT_CONFIG;

/// Whether a run that ended in `state` needs a person. Only `succeeded` does not; a run still
/// `waiting` (for its ERP extract) will be taken again by itself.
pub fn needs_attention(state: &str) -> bool {
    !(RunState::Succeeded == state || FileState::Waiting == state)
}

/// The code for a command whose runs ended in `states`, `failed` being whether anything else
/// (a pipeline, a report, a mail, an upload) failed on the way.
pub fn code<'a>(states: impl IntoIterator<Item = &'a str>, failed: bool) -> ExitCode {
    let problems = failed || states.into_iter().any(needs_attention);
    ExitCode::from(if problems { PROBLEMS } else { OK })
}

/// Whether a run withheld an output for being incomplete (`complete = "withhold"`): the ERP
/// goes without that feed until a person looks (a rerun's unchanged or `never` outputs are not
/// this: the ERP has their current copy).
pub fn withheld_an_output(o: &tallyman::runner::Outcome) -> bool {
    o.manifest
        .iter()
        .flat_map(|m| &m.outputs)
        .any(|e| matches!(e.held, Some(tallyman::runner::manifest::Held::Withheld)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_succeeded_and_waiting_runs_are_fine() {
        for (state, attention) in [
            ("succeeded", false),
            ("waiting", false),
            ("rejected", true),
            ("failed", true),
            ("quarantined", true),
            ("running", true),
        ] {
            assert_eq!(needs_attention(state), attention, "{state}");
        }
    }
}
