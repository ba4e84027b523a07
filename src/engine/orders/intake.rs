//! Judging each order against what was taken before under the same (channel, order id): its
//! lines checked (known SKU, positive quantity, a price), its content hashed, then new,
//! duplicate, amendment (flagged or accepted as a change) or rejected.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::read::Read;
use super::{Amendments, Line, Order, Policy};

/// What the ledger knows of one order id of the channel (from files other than the one in
/// hand, so a rerun meets the state its original run met), folded from its recorded verdicts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// The content hash of the version sent on (`None`: never accepted, e.g. rejected).
    pub accepted: Option<String>,
    /// Every content hash sent on for the order (a resend of any is a duplicate).
    pub taken: BTreeSet<String>,
    /// Amendments flagged and not sent: the same one again is a duplicate while amendments
    /// are flagged, and is sent once the pipeline accepts them.
    pub flagged: BTreeSet<String>,
    /// How many versions were sent on.
    pub version: u32,
}

impl Known {
    /// Folds in one recorded event of the order (its verdict's text, its content hash and
    /// version), in the order they were recorded.
    pub fn apply(&mut self, event: &str, hash: &str, version: u32) {
        match event {
            "new" | "amended" => {
                self.accepted = Some(hash.to_string());
                self.version = version;
                self.taken.insert(hash.to_string());
            }
            "amendment" => {
                self.flagged.insert(hash.to_string());
            }
            _ => {}
        }
    }
}

/// What became of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// First taken: sent to the ERP and the 3PL.
    New,
    /// Content sent before for this order (or an amendment flagged before, while amendments
    /// are flagged): counted, nothing sent.
    Duplicate,
    /// Other content under a taken order id: flagged for a person, nothing sent.
    Amendment,
    /// Other content, accepted by the pipeline as a change: sent to the ERP as one.
    Amended,
    /// A line is bad: nothing sent, every bad line in the rejects.
    Rejected,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::New => "new",
            Verdict::Duplicate => "duplicate",
            Verdict::Amendment => "amendment",
            Verdict::Amended => "amended",
            Verdict::Rejected => "rejected",
        }
    }

    /// Whether the order goes to the ERP in this run.
    pub fn sent(self) -> bool {
        matches!(self, Verdict::New | Verdict::Amended)
    }
}

/// One order judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// Quantities and prices normalised when they are numbers (`1.50` → `1.5`).
    pub order: Order,
    pub hash: String,
    pub verdict: Verdict,
    /// The version this content is (1 for a new order; the next one for an amendment).
    pub version: u32,
    /// Per line, the quantity over the ATP left for it (`atp::allocate`); empty when the
    /// pipeline checks no ATP.
    pub backorder: Vec<Option<rust_decimal::Decimal>>,
}

/// A bad line: where, which field, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub order_id: String,
    pub line: u64,
    pub line_number: String,
    pub sku: String,
    pub field: &'static str,
    pub value: String,
    pub reason: String,
    pub fault: Fault,
}

/// A file's orders judged, in file order, and its bad lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intake {
    pub channel: String,
    pub taken: Vec<Taken>,
    pub rejects: Vec<Reject>,
}

impl Intake {
    /// Orders per verdict, for the manifest and the run's line (`orders_new`, ...).
    pub fn counts(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for v in [
            Verdict::New,
            Verdict::Duplicate,
            Verdict::Amendment,
            Verdict::Amended,
            Verdict::Rejected,
        ] {
            let n = self.taken.iter().filter(|t| t.verdict == v).count() as u64;
            out.push((format!("orders_{}", v.as_str()), n));
        }
        out.push(("order_lines_rejected".into(), self.rejects.len() as u64));
        out
    }
}

/// Judges each order of `read` in file order; an order seen earlier in the same file counts as
/// known, so a file holding an order twice sends it once. `items` is the item master's SKUs
/// (`None`: no item master, any SKU goes).
pub fn intake(
    policy: &Policy,
    read: Read,
    known: &HashMap<String, Known>,
    items: Option<&HashSet<String>>,
) -> Intake {
    let mut known = known.clone();
    let mut out = Intake {
        channel: policy.channel.clone(),
        ..Intake::default()
    };
    for line in &read.orphans {
        out.rejects
            .push(reject("", line, "order_id", "", Fault::Missing));
    }
    for mut order in read.orders {
        let bad = check_lines(&mut order, items);
        let hash = content_hash(&order);
        let k = known.entry(order.id.clone()).or_default();
        let verdict = match (bad.is_empty(), &k.accepted, policy.amendments) {
            (false, _, _) => Verdict::Rejected,
            (true, None, _) => Verdict::New,
            (true, Some(_), _) if k.taken.contains(&hash) => Verdict::Duplicate,
            (true, Some(_), Amendments::Flag) if k.flagged.contains(&hash) => Verdict::Duplicate,
            (true, Some(_), Amendments::Flag) => Verdict::Amendment,
            (true, Some(_), Amendments::Accept) => Verdict::Amended,
        };
        let version = match verdict {
            Verdict::New | Verdict::Amended | Verdict::Amendment => k.version + 1,
            Verdict::Duplicate | Verdict::Rejected => k.version,
        };
        k.apply(verdict.as_str(), &hash, version);
        out.rejects.extend(bad);
        out.taken.push(Taken {
            order,
            hash,
            verdict,
            version,
            backorder: Vec::new(),
        });
    }
    out
}

/// What is wrong with a field of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Missing,
    /// A SKU the item master does not have.
    Unknown,
    NotANumber,
    /// A quantity of zero or less.
    NotPositive,
    /// A price below zero.
    Negative,
}

/// The reason a person reads.
fn reason(field: &str, fault: Fault) -> String {
    let name = match field {
        "sku" => "SKU",
        "unit_price" => "price",
        "order_id" => "order id",
        other => other,
    };
    match fault {
        Fault::Missing if field == "order_id" => "the line names no order".into(),
        Fault::Missing => format!("{name} missing"),
        Fault::Unknown => "unknown SKU: not in the item master".into(),
        Fault::NotANumber => format!("{name} is not a number"),
        Fault::NotPositive => format!("{name} is not positive"),
        Fault::Negative => format!("{name} is negative"),
    }
}

fn reject(order: &str, line: &Line, field: &'static str, value: &str, fault: Fault) -> Reject {
    Reject {
        order_id: order.to_string(),
        line: line.line,
        line_number: line.line_number.clone(),
        sku: line.sku.clone(),
        field,
        value: value.to_string(),
        reason: reason(field, fault),
        fault,
    }
}

/// A quantity or price: its fault, or the number normalised.
fn amount(text: &str, zero_ok: bool) -> Result<Decimal, Fault> {
    match number(text) {
        _ if text.is_empty() => Err(Fault::Missing),
        None => Err(Fault::NotANumber),
        Some(d) if d < Decimal::ZERO && zero_ok => Err(Fault::Negative),
        Some(d) if d <= Decimal::ZERO && !zero_ok => Err(Fault::NotPositive),
        Some(d) => Ok(d),
    }
}

/// Checks every line (each bad field is a reject) and normalises the numbers that parse.
fn check_lines(order: &mut Order, items: Option<&HashSet<String>>) -> Vec<Reject> {
    let mut bad = Vec::new();
    let id = order.id.clone();
    for line in &mut order.lines {
        if line.unit.is_empty() {
            line.unit = "EA".into();
        }
        if line.sku.is_empty() {
            bad.push(reject(&id, line, "sku", "", Fault::Missing));
        } else if items.is_some_and(|set| !set.contains(&line.sku)) {
            bad.push(reject(&id, line, "sku", &line.sku, Fault::Unknown));
        }
        match amount(&line.quantity, false) {
            Ok(q) => line.quantity = q.to_string(),
            Err(f) => bad.push(reject(&id, line, "quantity", &line.quantity, f)),
        }
        match amount(&line.unit_price, true) {
            Ok(p) => line.unit_price = p.to_string(),
            Err(f) => bad.push(reject(&id, line, "unit_price", &line.unit_price, f)),
        }
    }
    bad
}

/// An exact decimal without trailing zeros, or `None`.
fn number(text: &str) -> Option<Decimal> {
    Decimal::from_str(text.trim()).ok().map(|d| d.normalize())
}

/// The order's content as the formats share it: its lines' SKU, quantity, unit and price
/// (normalised, in SKU order). Line numbers, dates, addresses and currency are left out, as
/// formats carry them differently (an 850 may have no currency, a CSV no line numbers): the
/// same order in an 850 and in a CSV hashes the same.
pub fn content_hash(order: &Order) -> String {
    let mut lines: Vec<String> = order
        .lines
        .iter()
        .map(|l| {
            let unit = if l.unit.is_empty() {
                "EA"
            } else {
                l.unit.as_str()
            };
            let q = number(&l.quantity).map_or(l.quantity.clone(), |d| d.to_string());
            let p = number(&l.unit_price).map_or(l.unit_price.clone(), |d| d.to_string());
            format!("{}\t{q}\t{}\t{p}\n", l.sku, unit.to_uppercase())
        })
        .collect();
    lines.sort();
    hex::encode(Sha256::digest(lines.concat().as_bytes()))
}
