//! Staging a run's files in the outbox under names no consumer takes (outputs rendered from
//! their tables, acknowledgements), and publishing them once the run is recorded.

use chrono::{NaiveDate, Utc};
use polars::prelude::*;

use super::outputs::Completed;
use super::{config, data, Run};
use crate::config::{Home, Output, OutputFormat};
use crate::pipeline::partition::{self, PartitionError};
use crate::runner::manifest;
use crate::runner::tables::write_csv;
use crate::runner::{now_text, rel, x12_ack, RunError};
use crate::store::publish::{publish, stage_streamed, Staged};
use crate::store::Ledger;

/// Makes a recorded run's staged outputs visible, then marks them published.
pub fn publish_outputs<'a>(
    home: &Home,
    ledger: &Ledger,
    run_id: &str,
    staged: impl Iterator<Item = &'a Staged>,
) -> Result<(), RunError> {
    for (n, s) in staged.enumerate() {
        let target = rel(home, &s.target);
        let mut known = Ok(());
        publish(s, &mut |sha| match ledger.wrote(&target, sha) {
            Ok(w) => w,
            Err(e) => {
                known = Err(e);
                false
            }
        })?;
        known?;
        if n == 0 {
            crate::failpoint::hit("first-output-published");
        }
    }
    ledger.mark_published(run_id, &now_text(Utc::now()))?;
    crate::failpoint::hit("published");
    Ok(())
}
impl Run<'_> {
    /// Stages one output's table in its destination's outbox, one file per value of its
    /// `partition_by` column when it has one (the values were checked by
    /// [`partition::names`] before any output was staged), and settles what becomes of each.
    pub(super) fn stage_output(
        &mut self,
        ledger: &Ledger,
        o: &Output,
        df: &DataFrame,
        date: NaiveDate,
    ) -> Result<(), RunError> {
        let p = self.p;
        if o.skip_empty && df.height() == 0 {
            // `when_empty = "skip"`: nothing to send (an order file of duplicates).
            return Ok(());
        }
        let Some(column) = &o.partition_by else {
            let name = o.file_name(&p.id, date, &self.run_id, None);
            let completed = self.complete(ledger, o, &name, df)?;
            return self.stage_file(ledger, o, name, None, completed);
        };
        // The whole table is judged once (one `output-withheld` issue, not one per file).
        let pattern = o.file_name(&p.id, date, &self.run_id, Some(&format!("<{column}>")));
        let completed = self.complete(ledger, o, &pattern, df)?;
        let parts = match partition::split(completed.table.as_ref(), &o.table, column) {
            Ok(parts) => parts,
            Err(PartitionError::Data(e)) => return Err(config(p, e)),
            Err(PartitionError::Refused(why)) => return Err(data(p, why)),
        };
        for part in parts {
            let name = o.file_name(&p.id, date, &self.run_id, Some(&part.name));
            let one = completed.part(part.rows);
            self.stage_file(ledger, o, name, Some(part.value), one)?;
        }
        Ok(())
    }

    /// Stages one file of an output as `name` (CSV rendered straight into the file; X12
    /// written from the table) and settles what becomes of it.
    fn stage_file(
        &mut self,
        ledger: &Ledger,
        o: &Output,
        name: String,
        partition: Option<String>,
        completed: Completed<'_>,
    ) -> Result<(), RunError> {
        let p = self.p;
        let df = completed.table.as_ref();
        let outbox = self.home.outbox().join(&o.destination);
        let staged = match &o.format {
            OutputFormat::Csv => {
                // Rendered straight into the file: a 5M-row feed is never held as bytes.
                let mut failed = None;
                let written = stage_streamed(&outbox, &name, &self.run_id, |w| {
                    write_csv(df, &o.order_by, w).map_err(|e| {
                        let message = e.to_string();
                        failed = Some(e);
                        std::io::Error::other(message)
                    })
                });
                match (written, failed) {
                    // Writing failed (a full disk), or the table could not be written
                    // as configured (an `order_by` column it lacks).
                    (_, Some(e @ PolarsError::IO { .. })) => return Err(data(p, e)),
                    (_, Some(e)) => return Err(config(p, e)),
                    (w, None) => w?,
                }
            }
            OutputFormat::X12 { document, party } => {
                let previous = self.replayed_output(ledger, o, partition.as_deref())?;
                let bytes = x12_ack::outbound_x12(
                    ledger,
                    df,
                    &o.order_by,
                    *document,
                    party,
                    previous.as_deref(),
                )?
                .map_err(|e| config(p, format!("output {} as X12: {e}", o.table)))?;
                stage_streamed(&outbox, &name, &self.run_id, |w| w.write_all(&bytes))?
            }
        };
        tracing::info!(pipeline = %p.id, rows = df.height(), "staged {name} ({} bytes)", staged.size);
        let rows = df.height();
        self.settle_output(ledger, o, partition, staged, rows, completed)?;
        crate::failpoint::hit("output-staged");
        Ok(())
    }

    /// For a rerun: the bytes the replayed run wrote for the same output (table, destination
    /// and partition value), from its archive.
    pub(super) fn replayed_output(
        &self,
        ledger: &Ledger,
        o: &crate::config::Output,
        partition: Option<&str>,
    ) -> Result<Option<Vec<u8>>, RunError> {
        let Some(replayed) = &self.manifest.rerun_of else {
            return Ok(None);
        };
        let Some(archive) = ledger.run_archive(replayed)? else {
            return Ok(None);
        };
        let dir = self.home.root.join(archive);
        let Some(manifest) = manifest::read_if_present(&dir)? else {
            return Ok(None);
        };
        Ok(manifest
            .outputs
            .iter()
            .find(|e| e.same_data(&o.table, &o.destination, partition))
            .and_then(|e| std::fs::read(dir.join("output").join(&e.name)).ok()))
    }

    /// 997s and TA1s for what the partner sent (`x12_ack::receive`), written before the data
    /// is judged (a rejected interchange is acknowledged as rejected). Reruns send none: the
    /// partner has them.
    pub(super) fn send_acks(
        &mut self,
        replies: Vec<(String, Vec<u8>)>,
        dest: &str,
    ) -> Result<(), RunError> {
        for (name, ack) in replies {
            let outbox = self.home.outbox().join(dest);
            let staged = stage_streamed(&outbox, &name, &self.run_id, |w| w.write_all(&ack))?;
            let table = name.split('_').next().unwrap_or("997").to_string();
            self.keep_staged(staged, &table, dest, 1, true)?;
        }
        Ok(())
    }
}
