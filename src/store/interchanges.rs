//! The interchange control numbers each X12 sender has used, and whether we accepted the
//! interchange: only an accepted one makes its number "already received" (TA1 note 025), so a
//! partner's corrected resend of a rejected interchange may reuse its number. Also the control
//! numbers we send each partner, never reused.

use rusqlite::{params, OptionalExtension};

use super::{Ledger, StoreError};

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
     IS (SELECT file_id FROM runs WHERE run_id = ?3)";

impl Ledger {
    /// The accepted interchange `control` from `sender` (`ISA05:ISA06`) of another file than
    /// run `run_id`'s, if any.
    pub fn accepted_interchange(
        &self,
        sender: &str,
        control: &str,
        run_id: &str,
    ) -> Result<Option<EarlierInterchange>, StoreError> {
        self.connection()
            .query_row(
                &format!(
                    "SELECT file, run_id FROM x12_interchanges_received x
                     WHERE sender = ?1 AND control = ?2 AND accepted = 1 AND NOT ({SAME_FILE})"
                ),
                params![sender, normal(control), run_id],
                |r| {
                    Ok(EarlierInterchange {
                        file: r.get(0)?,
                        run_id: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
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
        self.connection()
            .execute(
                &format!(
                    "INSERT INTO x12_interchanges_received AS x (sender, control, file, run_id, accepted)
                     VALUES (?1, ?2, ?4, ?3, ?5)
                     ON CONFLICT (sender, control) DO UPDATE
                     SET file = excluded.file, run_id = excluded.run_id, accepted = excluded.accepted
                     WHERE x.accepted = 0 OR {SAME_FILE}"
                ),
                params![sender, normal(control), run_id, file, accepted],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// The next (interchange, group) control numbers we send `partner`, taken in one
    /// transaction so two runs never get the same pair (they wrap after 999999999).
    pub fn next_x12_controls(&self, partner: &str) -> Result<(u32, u32), StoreError> {
        let conn = self.connection();
        let sql = |what| self.sql(what);
        let tx = conn
            .unchecked_transaction()
            .map_err(sql("x12 control numbers: begin"))?;
        tx.execute(
            "INSERT INTO x12_control_numbers (partner, last_interchange, last_group) VALUES (?1, 1, 1)
             ON CONFLICT (partner) DO UPDATE SET last_interchange = (last_interchange % 999999999) + 1,
                                                 last_group = (last_group % 999999999) + 1",
            params![partner],
        )
        .map_err(sql("x12 control numbers: advance"))?;
        let (i, g): (i64, i64) = tx
            .query_row(
                "SELECT last_interchange, last_group FROM x12_control_numbers WHERE partner = ?1",
                params![partner],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql("x12 control numbers: read"))?;
        tx.commit().map_err(sql("x12 control numbers: commit"))?;
        Ok((i as u32, g as u32))
    }
}
