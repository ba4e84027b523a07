//! `tallyman inspect FILE [--json]`: what an X12, EDIFACT or XML file holds, without a pipeline:
//! separators or encoding, interchanges (with the TA1s they carry), groups and sets with control
//! numbers and counts (for XML: the document kind, its id, DOCTYPE, lines and mapped tables),
//! and every problem with its position and code. The JSON form is the serialization of
//! `formats::x12::Inspection`, `formats::edifact::Inspection` or `formats::xml::Inspection`
//! (documented there). `--table NAME` prints the mapped table NAME as CSV instead, exactly as
//! a pipeline with `input.table = NAME` would validate it.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use tallyman::config::compile::{EDIFACT_TABLES, X12_TABLES, XML_TABLES};
use tallyman::config::InputFormat;
use tallyman::formats::{edifact, x12, xml};
use tallyman::runner::tables::Document;

#[derive(clap::Args)]
pub struct Args {
    pub file: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// Print this mapped table as CSV (e.g. x12_850_lines, x12_997_sets, edifact_desadv_lines).
    #[arg(long, value_name = "NAME", conflicts_with = "json")]
    pub table: Option<String>,
}

/// Prints the mapped table `name` of `bytes` (in syntax `kind`) as CSV. Exit 1 when the file
/// holds no such rows; a name that is no table of that syntax is a usage error (2).
fn print_table(kind: &str, name: &str, bytes: &[u8]) -> Result<ExitCode> {
    let (known, format): (&[&str], InputFormat) = match kind {
        "x12" => (&X12_TABLES, InputFormat::X12 { table: name.into() }),
        "edifact" => (&EDIFACT_TABLES, InputFormat::Edifact { table: name.into() }),
        _ => (&XML_TABLES, InputFormat::Xml { table: name.into() }),
    };
    if !known.contains(&name) {
        eprintln!(
            "error: `{name}` is not a mapped {kind} table (one of {})",
            known.join(", ")
        );
        return Ok(ExitCode::from(super::EXIT_CONFIG));
    }
    let csv = Document::parse(&format, bytes).and_then(|d| d.table_csv(name));
    match csv {
        Some(csv) => {
            use std::io::Write;
            std::io::stdout().write_all(&csv?)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("the file holds no {name} rows");
            Ok(ExitCode::from(1))
        }
    }
}

/// One line per TA1 an interchange carries: what it acknowledges and how.
fn ta1_lines(i: &x12::Inspection) -> Vec<String> {
    i.interchanges
        .iter()
        .flat_map(|ic| {
            ic.ta1.iter().map(move |t| {
                format!(
                    "interchange {} ({}) carries TA1 for interchange {}: {} {} ({})",
                    ic.control,
                    ic.version,
                    t.control,
                    t.status,
                    t.note,
                    ta1_note(&t.note)
                )
            })
        })
        .collect()
}

/// The standard's wording of a TA105 note code.
fn ta1_note(note: &str) -> &'static str {
    if note == "000" {
        return "no error";
    }
    x12::codes::CODES
        .iter()
        .find(|(c, _)| c.carrier == x12::Carrier::Ta105 && c.value == note)
        .map_or("unknown code", |(_, d)| d)
}

/// Which EDI syntax the bytes start with (after a BOM and white space).
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    match body.get(start..start + 3) {
        Some(b"ISA") => Some("x12"),
        Some(b"UNA") | Some(b"UNB") => Some("edifact"),
        Some([b'<', ..]) => Some("xml"),
        // UTF-16 with a BOM: only XML is sent that way.
        _ if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") => Some("xml"),
        _ => None,
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    if let (Some(name), Some(kind)) = (&args.table, sniff(&bytes)) {
        return print_table(kind, name, &bytes);
    }
    let (json, problems, summary) = match sniff(&bytes) {
        Some("x12") => {
            let i = x12::inspect(&bytes);
            let mut summary = format!(
                "X12: {} interchange(s), {} group(s), {} transaction set(s), {} segments",
                i.counts.interchanges, i.counts.groups, i.counts.sets, i.segments
            );
            for line in ta1_lines(&i) {
                summary.push_str(&format!("\n  {line}"));
            }
            let problems: Vec<String> = i
                .problems
                .iter()
                .map(|p| describe(&p.problem, p.description))
                .collect();
            (serde_json::to_value(&i)?, problems, summary)
        }
        Some("xml") => {
            let i = xml::inspect(&bytes);
            let tables: Vec<String> = i
                .tables
                .iter()
                .map(|t| format!("{} {} row(s)", t.name, t.rows))
                .collect();
            let summary = format!(
                "XML: {} document {}, {} line(s), {} element(s), encoding {}{}{}",
                i.kind.as_deref().unwrap_or("unknown"),
                i.document_id.as_deref().unwrap_or("-"),
                i.counts.lines,
                i.counts.elements,
                i.encoding.as_ref().map_or("-", |e| e.used),
                i.doctype
                    .as_ref()
                    .map(|d| format!(
                        ", DOCTYPE {} (not fetched)",
                        d.system_id.as_deref().unwrap_or(&d.name)
                    ))
                    .unwrap_or_default(),
                if tables.is_empty() {
                    String::new()
                } else {
                    format!("\n  tables: {}", tables.join(", "))
                }
            );
            let problems: Vec<String> = i
                .problems
                .iter()
                .map(|p| {
                    format!(
                        "{} {} at byte {} (line {}, column {}){}: {}",
                        p.severity.as_str(),
                        p.code,
                        p.at.offset,
                        p.at.line,
                        p.at.column,
                        p.path
                            .as_deref()
                            .map(|x| format!(" {x}"))
                            .unwrap_or_default(),
                        p.message
                    )
                })
                .collect();
            (serde_json::to_value(&i)?, problems, summary)
        }
        Some(_) => {
            let i = edifact::inspect(&bytes);
            let summary = format!(
                "EDIFACT: {} interchange(s), {} group(s), {} message(s), {} segments",
                i.counts.interchanges, i.counts.groups, i.counts.messages, i.segments
            );
            let problems: Vec<String> = i
                .problems
                .iter()
                .map(|p| describe(&p.problem, p.description))
                .collect();
            (serde_json::to_value(&i)?, problems, summary)
        }
        None => bail!(
            "{}: not an X12 (ISA) or EDIFACT (UNA/UNB) interchange, nor an XML document",
            args.file.display()
        ),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("{summary}");
        for p in &problems {
            println!("  {p}");
        }
        if problems.is_empty() {
            println!("  no problems");
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn describe(p: &x12::Problem, description: &str) -> String {
    format!(
        "segment {} (byte {}): {:?} {} ({description}): {}",
        p.at.segment,
        p.at.offset,
        p.severity,
        p.code.label(),
        p.message
    )
}
