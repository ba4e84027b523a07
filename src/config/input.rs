//! `[input]` (its format and mapped table, acknowledgements, error policy, trailer) and
//! `[business_date]`: how a partner file is read and which date it belongs to.

use regex::Regex;

use super::compile::Errs;
use super::pipeline::{BusinessDateRule, InputFormat, OnError};
use super::raw::PipelineRaw;
use super::settlement;
use crate::formats::x12::Ta1Policy;

/// The tables an X12 input can be mapped to (`formats::x12::table`).
pub const X12_TABLES: [&str; 13] = [
    "x12_850_header",
    "x12_850_lines",
    "x12_940_header",
    "x12_940_lines",
    "x12_945_header",
    "x12_945_lines",
    "x12_856_lines",
    "x12_846_lines",
    "x12_810_header",
    "x12_810_lines",
    "x12_832_lines",
    "x12_997_groups",
    "x12_997_sets",
];

/// The tables an EDIFACT input can be mapped to (`formats::edifact`).
pub const EDIFACT_TABLES: [&str; 4] = [
    "edifact_orders_header",
    "edifact_orders_lines",
    "edifact_desadv_lines",
    "edifact_invrpt_lines",
];

/// The tables an XML input can be mapped to (`formats::xml`).
pub const XML_TABLES: [&str; 3] = ["xml_order_header", "xml_order_lines", "xml_ship_lines"];

/// What `[input]` says besides its schema, dialect and trailer.
pub(crate) struct Input {
    pub format: InputFormat,
    pub ta1: Ta1Policy,
    pub on_error: OnError,
}

/// Compiles the input's format and table, `ack_destination`, `ta1` and `on_error`.
pub(crate) fn compile(raw: &PipelineRaw, errs: &mut Errs) -> Input {
    let format = format(raw, errs);
    if let Some(d) = &raw.input.ack_destination {
        if raw.input.format != "x12" {
            errs.add(
                "input.ack_destination",
                "only X12 inputs are acknowledged with a 997".into(),
            );
        }
        if d.contains("..") || d.contains('/') || d.is_empty() {
            errs.add(
                "input.ack_destination",
                format!("`{d}` must be a plain folder name under outbox/"),
            );
        }
    }
    let ta1 = match raw.input.ta1.as_deref() {
        None | Some("requested") => Ta1Policy::Requested,
        Some("problems") => Ta1Policy::Problems,
        Some("always") => Ta1Policy::Always,
        Some(other) => {
            errs.add(
                "input.ta1",
                format!("`{other}` is not one of requested, problems, always"),
            );
            Ta1Policy::Requested
        }
    };
    if raw.input.ta1.is_some() && raw.input.format != "x12" {
        errs.add(
            "input.ta1",
            "only X12 inputs are acknowledged with a TA1".into(),
        );
    }
    let on_error = match raw.input.on_error.as_deref().unwrap_or("reject_file") {
        "reject_file" => OnError::RejectFile,
        "set_rows_aside" => OnError::SetRowsAside,
        other => {
            errs.add(
                "input.on_error",
                format!("`{other}` is not one of reject_file, set_rows_aside"),
            );
            OnError::RejectFile
        }
    };
    Input {
        format,
        ta1,
        on_error,
    }
}

/// Compiles `[business_date]`: from the file name, else the arrival time.
pub(crate) fn business_date(raw: &PipelineRaw, errs: &mut Errs) -> BusinessDateRule {
    match &raw.business_date {
        None => BusinessDateRule::ArrivalTime,
        Some(b) => match Regex::new(&b.from_name) {
            Ok(re) if re.capture_names().any(|n| n == Some("date")) => BusinessDateRule::FromName {
                regex: re,
                format: b.format.clone().unwrap_or_else(|| "%Y-%m-%d".into()),
            },
            Ok(_) => {
                errs.add(
                    "business_date.from_name",
                    "the pattern needs a named group `(?P<date>...)`".into(),
                );
                BusinessDateRule::ArrivalTime
            }
            Err(e) => {
                errs.add("business_date.from_name", format!("invalid regex: {e}"));
                BusinessDateRule::ArrivalTime
            }
        },
    }
}

/// Compiles `[input] trailer` (CSV only).
pub(crate) fn trailer(raw: &PipelineRaw, errs: &mut Errs) -> Option<regex::bytes::Regex> {
    match &raw.input.trailer {
        None => None,
        Some(_) if raw.input.format != "csv" => {
            errs.add(
                "input.trailer",
                "a trailer is for CSV input (X12, EDIFACT and XML carry their own control totals)"
                    .into(),
            );
            None
        }
        Some(t) => match regex::bytes::Regex::new(t) {
            Ok(re) => Some(re),
            Err(e) => {
                errs.add("input.trailer", format!("invalid regex: {e}"));
                None
            }
        },
    }
}

/// The input's format and, for documents and settlements, the table or layout read.
fn format(raw: &PipelineRaw, errs: &mut Errs) -> InputFormat {
    match (raw.input.format.as_str(), &raw.input.table) {
        ("csv", None) => InputFormat::Csv,
        ("csv", Some(_)) => {
            errs.add(
                "input.table",
                "only X12, EDIFACT and XML inputs name a table".into(),
            );
            InputFormat::Csv
        }
        (kind @ ("x12" | "edifact" | "xml"), table) => {
            let known: &[&str] = match kind {
                "x12" => &X12_TABLES,
                "edifact" => &EDIFACT_TABLES,
                _ => &XML_TABLES,
            };
            match table {
                Some(t) if known.contains(&t.as_str()) => {
                    let table = t.clone();
                    match kind {
                        "x12" => InputFormat::X12 { table },
                        "edifact" => InputFormat::Edifact { table },
                        _ => InputFormat::Xml { table },
                    }
                }
                other => {
                    let what = other
                        .as_ref()
                        .map_or(format!("an {kind} input needs `table`"), |t| {
                            format!("`{t}` is not an {kind} table")
                        });
                    errs.add(
                        "input.table",
                        format!("{what} (one of {})", known.join(", ")),
                    );
                    InputFormat::Csv
                }
            }
        }
        ("settlement", table) => {
            let mut problems = Vec::new();
            let s = settlement::compile_input(
                table.as_deref(),
                raw.input.settlement.as_ref(),
                &mut problems,
            );
            for (k, why) in problems {
                errs.add(&k, why);
            }
            s.map_or(InputFormat::Csv, InputFormat::Settlement)
        }
        (other, _) => {
            errs.add(
                "input.format",
                format!(
                    "`{other}` is not a format (supported: csv, x12, edifact, xml, settlement)"
                ),
            );
            InputFormat::Csv
        }
    }
}
