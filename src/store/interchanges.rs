//! The interchange control numbers each X12 sender has used, and whether we accepted the
//! interchange: only an accepted one makes its number "already received" (TA1 note 025), so a
//! partner's corrected resend of a rejected interchange may reuse its number. Also the control
//! numbers we send each partner, never reused.

use super::{Ledger, StoreError};
use crate::db_args;

/// Where an interchange control number was accepted before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierInterchange {
    pub file: String,
    pub run_id: String,
}

/// Control numbers are compared as numbers: `000000905` and `905` are the same interchange.
fn normal(control: &str) -> String {
    control.trim().trim_start_matches('0').to_string()
}

/// The file behind run `?3` (a resumed file meets the rows of its interrupted run: those are
/// its own, not an earlier interchange).
const SAME_FILE: &str = "(SELECT file_id FROM runs WHERE run_id = x.run_id)
     IS NOT DISTINCT FROM (SELECT file_id FROM runs WHERE run_id = ?3)";

impl Ledger {
    /// The accepted interchange `control` from `sender` (`ISA05:ISA06`) of another file than
    /// run `run_id`'s, if any.
    pub fn accepted_interchange(
        &self,
        sender: &str,
        control: &str,
        run_id: &str,
    ) -> Result<Option<EarlierInterchange>, StoreError> {
        self.row(
            "read an earlier interchange",
            &format!(
                "SELECT file, run_id FROM x12_interchanges_received x
                 WHERE sender = ?1 AND control = ?2 AND accepted = 1 AND NOT ({SAME_FILE})"
            ),
            db_args![sender, normal(control), run_id],
            |r| {
                Ok(EarlierInterchange {
                    file: r.get(0)?,
                    run_id: r.get(1)?,
                })
            },
        )
    }

    /// Records that run `run_id` received interchange `control` from `sender` in `file`, and
    /// whether it was accepted. An earlier accepted row of another file stays (the new one was
    /// its duplicate); a rejected one, or one of the same file, is replaced.
    pub fn remember_interchange(
        &self,
        sender: &str,
        control: &str,
        file: &str,
        run_id: &str,
        accepted: bool,
    ) -> Result<(), StoreError> {
        self.exec(
            "record an interchange",
            &format!(
                "INSERT INTO x12_interchanges_received AS x (sender, control, file, run_id, accepted)
                 VALUES (?1, ?2, ?4, ?3, ?5)
                 ON CONFLICT (sender, control) DO UPDATE
                 SET file = excluded.file, run_id = excluded.run_id, accepted = excluded.accepted
                 WHERE x.accepted = 0 OR {SAME_FILE}"
            ),
            db_args![sender, normal(control), run_id, file, accepted],
        )
        .map(|_| ())
    }

    /// The next (interchange, group) control numbers we send `partner`, advanced and read in
    /// one statement so two runs never get the same pair (they wrap after 999999999).
    pub fn next_x12_controls(&self, partner: &str) -> Result<(u32, u32), StoreError> {
        let (i, g): (i64, i64) = self
            .row(
                "x12 control numbers: advance",
                "INSERT INTO x12_control_numbers AS c (partner, last_interchange, last_group)
                 VALUES (?1, 1, 1)
                 ON CONFLICT (partner) DO UPDATE
                 SET last_interchange = (c.last_interchange % 999999999) + 1,
                     last_group = (c.last_group % 999999999) + 1
                 RETURNING last_interchange, last_group",
                db_args![partner],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .ok_or(StoreError::Query {
                ledger: self.name(),
                what: "x12 control numbers: advance",
                source: super::db::DbError::NoRow,
            })?;
        Ok((i as u32, g as u32))
    }
}
