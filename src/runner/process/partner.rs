//! Reading the partner file of a run: the trailer that proves it complete, then its format
//! (CSV, a settlement layout, or an X12/EDIFACT/XML document rendered as a CSV table, with the
//! X12 acknowledgements sent before the data is judged), validated against the schema.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Utc;
use polars::prelude::*;

use super::{data, Refs, Run};
use crate::config::InputFormat;
use crate::formats::trailer::{self, Trailer};
use crate::issue::Severity;
use crate::runner::tables::{load_table, load_table_then, Document};
use crate::runner::{settlement, x12_ack, RunError};
use crate::schema::validate::Validated;
use crate::store::files::map_file;
use crate::store::Ledger;

/// The validated partner table and the row count its trailer declares; or why it is rejected
/// before validation (an incomplete file, envelope errors, no rows of the table).
pub(super) type PartnerRead = Result<(Validated, Option<u64>), String>;

impl Run<'_> {
    /// Reads and validates the partner file (our archive copy at `input`); a settlement layout's
    /// other table is added to `tables`.
    pub(super) fn read_partner(
        &mut self,
        ledger: &Ledger,
        input: &Path,
        refs: &Refs,
        tables: &mut BTreeMap<String, DataFrame>,
    ) -> Result<PartnerRead, RunError> {
        let p = self.p;
        let started = std::time::Instant::now();
        // The partner file is our own archive copy by now: mapped, not read into the heap.
        let bytes = map_file(input)?;
        tracing::debug!(pipeline = %p.id, "partner file read in {:.2}s ({})", started.elapsed().as_secs_f64(), crate::usage::memory());
        // A declared trailer proves the file complete; it is no data row.
        let (body, control_total) = match (&p.format, &p.trailer) {
            (InputFormat::Csv, Some(pattern)) => match trailer::find(&bytes, pattern) {
                Trailer::Found { starts_at, rows } => (&bytes[..starts_at], rows),
                Trailer::Missing => {
                    return Ok(Err(format!(
                        "the file's last line is not its trailer (`{}`): it is incomplete (control-total)",
                        pattern.as_str()
                    )));
                }
            },
            _ => (&bytes[..], None),
        };
        let v = match &p.format {
            InputFormat::Csv => load_table_then(
                &self.file,
                body,
                &p.schema,
                &p.dialect,
                p.if_empty,
                refs,
                &|| bytes.release(),
            )
            .map_err(|e| data(p, e))?,
            // Settlement layouts (runner/settlement.rs): read, footed, then validated.
            InputFormat::Settlement(s) => {
                let read = settlement::load(&self.file, &bytes, s, &p.schema, p.if_empty, refs)
                    .map_err(|e| data(p, e))?;
                self.issues.extend(read.issues);
                if let Some(why) = read.reject {
                    return Ok(Err(why));
                }
                tables.insert(read.other.0, read.other.1);
                read.validated
            }
            InputFormat::X12 { table }
            | InputFormat::Edifact { table }
            | InputFormat::Xml { table } => {
                match self.read_document(ledger, &bytes, table, refs)? {
                    Ok(v) => v,
                    Err(why) => return Ok(Err(why)),
                }
            }
        };
        Ok(Ok((v, control_total)))
    }

    /// An X12, EDIFACT or XML document: envelope checks (and, for a new X12 file, the replies
    /// and the control numbers received), then the mapped `table` validated like a CSV file.
    fn read_document(
        &mut self,
        ledger: &Ledger,
        bytes: &[u8],
        table: &str,
        refs: &Refs,
    ) -> Result<Result<Validated, String>, RunError> {
        let p = self.p;
        let doc = Document::parse(&p.format, bytes)
            .ok_or_else(|| data(p, "a CSV input has no document"))?;
        let mut envelope = doc.issues(&self.file, bytes);
        // Reruns neither check control numbers (they would meet their own) nor acknowledge.
        if let (Document::X12(parsed), "file") = (&doc, self.manifest.trigger.as_str()) {
            // `[orders]`: sets whose order lines are refused are refused in the 997 too.
            let refusals = match (&p.orders, doc.table(table)) {
                (Some(policy), Some(lines)) => {
                    super::order_acks::order_refusals(policy, parsed, &lines, refs)
                        .map_err(|e| data(p, e))?
                }
                _ => Vec::new(),
            };
            let received = x12_ack::receive(
                ledger,
                &self.file,
                bytes,
                parsed,
                &self.run_id,
                p.ta1,
                Utc::now(),
                &refusals,
            )?;
            envelope.extend(received.issues);
            if let Some(dest) = &p.ack_destination {
                self.send_acks(received.replies, dest)?;
            }
        }
        let csv = doc.table_csv(table).transpose().map_err(|e| data(p, e))?;
        // `[orders]`: the order-level fields of a document are in its header table.
        let header = match (&p.orders, &p.invoices) {
            (Some(o), _) => o.layout.header_table(),
            (None, Some(_)) => Some("x12_810_header"),
            (None, None) => None,
        };
        if let Some(header) = header {
            self.order_header = doc.table(header);
        }
        drop(doc);
        let kind = match &p.format {
            InputFormat::X12 { .. } => "X12 envelope",
            InputFormat::Edifact { .. } => "EDIFACT envelope",
            _ => "XML document",
        };
        let errors = envelope
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .count();
        self.issues.extend(envelope);
        let Some(csv) = csv.filter(|_| errors == 0) else {
            return Ok(Err(if errors > 0 {
                format!("{errors} {kind} error(s); the file is not processed")
            } else {
                format!("the file holds no {table} rows")
            }));
        };
        let mut v = load_table(
            &self.file,
            &csv,
            &p.schema,
            &Default::default(),
            p.if_empty,
            refs,
        )
        .map_err(|e| data(p, e))?;
        // Lines of the rendered table mean nothing to a partner: name the row instead.
        for i in v.issues.iter_mut().chain(v.fatal.iter_mut()) {
            if let Some(line) = i.line.take() {
                i.message = format!("{table} row {}: {}", line.saturating_sub(1), i.message);
            }
        }
        Ok(Ok(v))
    }
}
