//! The interchange control numbers each X12 sender has used, and whether we accepted the
//! interchange: only an accepted one makes its number "already received" (TA1 note 025), so a
//! partner's corrected resend of a rejected interchange may reuse its number.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Ledger, StoreError};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS x12_interchanges_received (
    sender TEXT NOT NULL,
    control TEXT NOT NULL,
    file TEXT NOT NULL,
    run_id TEXT NOT NULL,
    accepted INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (sender, control)
)";

/// Creates the table, and adds `accepted` to ledgers made before it existed (their rows count
/// as accepted: that is what they were treated as).
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(SCHEMA, [])?;
    let has: bool = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('x12_interchanges_received') WHERE name = 'accepted'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !has {
        conn.execute_batch(
            "ALTER TABLE x12_interchanges_received ADD COLUMN accepted INTEGER NOT NULL DEFAULT 1",
        )?;
    }
    Ok(())
}

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
}
