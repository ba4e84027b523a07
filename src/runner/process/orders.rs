//! A run's orders (engine/orders.rs): read from the validated input (and a document's header
//! table), judged against what the ledger took before under the channel, added to the run's
//! tables; a run's shipments (engine/shipments.rs) matched to the orders taken. At the run's
//! end, the verdicts, releases and shipments become the ledger's order events in the run's
//! closing transaction.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use polars::prelude::*;

use super::{data, Run, StagedOutput};
use crate::engine::orders::{self, Intake, OrdersError, Policy, Verdict};
use crate::engine::shipments::{self, ShipCheck, ShipPolicy, ShipmentsError};
use crate::formats::x12::{ElementNote, SegmentNote, SetRefusal};
use crate::issue::Issue;
use crate::runner::RunError;
use crate::store::lock::{LockError, PipelineLock};
use crate::store::orders::{OrderEvent, OrdersRecord, ShippedLine};
use crate::store::Ledger;

/// How long a run waits for another pipeline taking orders of the same channel.
const CHANNEL_WAIT: Duration = Duration::from_secs(600);

impl Run<'_> {
    /// Judges the input's orders and adds the order tables to `tables`; `Some(why)` rejects the
    /// file (it lacks a column its layout reads). Holds the channel's lock until the run is
    /// recorded: two pipelines of one channel (an 850 and a CSV of the same order) never judge
    /// against a ledger the other is about to change.
    pub(super) fn take_orders(
        &mut self,
        ledger: &Ledger,
        policy: &Policy,
        tables: &mut BTreeMap<String, DataFrame>,
    ) -> Result<Option<String>, RunError> {
        let p = self.p;
        self.lock_channel(&policy.channel)?;
        let input = tables
            .get("input")
            .ok_or_else(|| data(p, "no input table"))?;
        let read = match orders::read_orders(policy.layout, input, self.order_header.as_ref()) {
            Ok(read) => read,
            Err(e @ OrdersError::MissingColumn { .. }) => return Ok(Some(e.to_string())),
            Err(e) => return Err(data(p, e)),
        };
        let ids: Vec<&str> = read.orders.iter().map(|o| o.id.as_str()).collect();
        let known = ledger.known_orders(&policy.channel, &ids, self.file_id)?;
        let items = match &policy.items {
            Some(m) => {
                Some(item_set(tables.get(&m.table), &m.table, &m.column).map_err(|e| data(p, e))?)
            }
            None => None,
        };
        let intake = orders::intake(policy, read, &known, items.as_ref());
        self.issues.extend(issues(&self.file, &intake));
        self.manifest.reconciliation.extend(intake.counts());
        tables.extend(orders::tables(&intake).map_err(|e| data(p, e))?);
        tracing::info!(pipeline = %p.id, channel = %policy.channel, "orders: {:?}", intake.counts());
        self.orders = Some(intake);
        Ok(None)
    }

    /// The report's note of the run's orders or shipments, counted.
    pub(super) fn orders_note(&self) -> Option<crate::report::model::OrdersNote> {
        let (channel, kind, counts) = match (&self.orders, &self.shipments) {
            (Some(i), _) => (&i.channel, "orders", i.counts()),
            (None, Some(c)) => {
                let mut counts: BTreeMap<String, u64> = BTreeMap::new();
                for x in &c.checked {
                    *counts.entry(x.status.to_string()).or_default() += 1;
                }
                (&c.channel, "shipments", counts.into_iter().collect())
            }
            (None, None) => return None,
        };
        let counts = counts
            .into_iter()
            .map(|(k, v)| (k.trim_start_matches("orders_").to_string(), v))
            .collect();
        Some(crate::report::model::OrdersNote {
            channel: channel.clone(),
            kind: kind.into(),
            counts,
        })
    }

    /// Takes the channel's lock, held until the run is published (`channel_lock`). Its file is
    /// `var/locks/channels/<channel>.lock`: no pipeline id has a `/`, so it is never a
    /// pipeline's lock (which this process holds already).
    fn lock_channel(&mut self, channel: &str) -> Result<(), RunError> {
        let p = self.p;
        let lock = PipelineLock::acquire(
            &self.home.var(),
            &format!("channels/{channel}"),
            CHANNEL_WAIT,
        )
        .map_err(|e| match e {
            LockError::Store(e) => RunError::Store(e),
            other => data(p, other),
        })?;
        self.channel_lock = Some(lock);
        Ok(())
    }

    /// Matches the input's shipment lines to the channel's orders and adds `shipment_check`
    /// and `shipment_confirmations` to `tables`; `Some(why)` rejects the file.
    pub(super) fn check_shipments(
        &mut self,
        ledger: &Ledger,
        policy: &ShipPolicy,
        tables: &mut BTreeMap<String, DataFrame>,
    ) -> Result<Option<String>, RunError> {
        let p = self.p;
        self.lock_channel(&policy.channel)?;
        let input = tables
            .get("input")
            .ok_or_else(|| data(p, "no input table"))?;
        let lines = match shipments::read_lines(policy.layout, input) {
            Ok(l) => l,
            Err(e @ ShipmentsError::MissingColumn { .. }) => return Ok(Some(e.to_string())),
            Err(e) => return Err(data(p, e)),
        };
        let mut ids: Vec<&str> = lines.iter().map(|l| l.order_id.as_str()).collect();
        ids.dedup();
        let known = ledger.ordered(&policy.channel, &ids, self.file_id)?;
        let checked = shipments::check(policy, &lines, &known);
        for c in checked.checked.iter().filter(|c| c.status != "complete") {
            let ordered = c.ordered.map_or("nothing".to_string(), |d| d.to_string());
            let message = format!(
                "order {} SKU {}: {} shipped now, {} before, {ordered} ordered ({})",
                c.order_id, c.sku, c.shipped, c.shipped_before, c.status
            );
            let mut issue = Issue::error(&self.file, &format!("shipment-{}", c.status), message)
                .in_column("sku")
                .with_value(&c.sku)
                .warning();
            if c.line > 0 {
                issue = issue.at_line(c.line);
            }
            self.issues.push(issue);
        }
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for c in &checked.checked {
            *counts.entry(format!("shipment_{}", c.status)).or_default() += 1;
        }
        self.manifest.reconciliation.extend(counts);
        tables.extend(shipments::tables(&checked).map_err(|e| data(p, e))?);
        self.shipments = Some(checked);
        Ok(None)
    }

    /// The run's order events for the ledger (a succeeded run's): each verdict, and a release
    /// for each new order when the 940 (`shipping_orders`) is among the outputs published; or
    /// a shipment's state per order and its quantities.
    pub(super) fn order_record(&self, publish: &[StagedOutput]) -> Option<OrdersRecord> {
        if let Some(c) = &self.shipments {
            return Some(self.shipment_record(c));
        }
        let intake = self.orders.as_ref()?;
        let released = publish
            .iter()
            .find(|o| o.entry.table == "shipping_orders" && o.entry.control_for.is_none())
            .map(|o| o.entry.name.clone());
        let mut events = Vec::new();
        for t in &intake.taken {
            let bad: Vec<String> = intake
                .rejects
                .iter()
                .filter(|r| r.order_id == t.order.id)
                .map(|r| format!("line {} {}: {}", r.line, r.field, r.reason))
                .collect();
            let keeps_content = matches!(
                t.verdict,
                Verdict::New | Verdict::Amendment | Verdict::Amended
            );
            events.push(OrderEvent {
                order_id: t.order.id.clone(),
                event: t.verdict.as_str(),
                content_hash: Some(t.hash.clone()),
                version: t.version,
                line: Some(t.order.first_line()),
                detail: (!bad.is_empty()).then(|| bad.join("; ")),
                content: keeps_content.then(|| content_json(t)),
            });
            if let (Verdict::New, Some(name)) = (t.verdict, &released) {
                events.push(OrderEvent {
                    order_id: t.order.id.clone(),
                    event: "released",
                    content_hash: Some(t.hash.clone()),
                    version: t.version,
                    line: Some(t.order.first_line()),
                    detail: Some(format!("940 {name}")),
                    content: None,
                });
            }
        }
        Some(OrdersRecord {
            channel: intake.channel.clone(),
            pipeline: self.p.id.clone(),
            run_id: self.run_id.clone(),
            file_id: self.file_id,
            file_name: self.file.clone(),
            at: crate::runner::now_text(chrono::Utc::now()),
            events,
            shipped: Vec::new(),
        })
    }

    fn shipment_record(&self, c: &ShipCheck) -> OrdersRecord {
        let mut events = Vec::new();
        for (order_id, state, line) in &c.orders {
            let detail: Vec<String> = c
                .checked
                .iter()
                .filter(|x| &x.order_id == order_id)
                .map(|x| {
                    let ordered = x.ordered.map_or("-".into(), |d| d.to_string());
                    format!(
                        "{} {} {}+{} of {ordered}",
                        x.sku, x.status, x.shipped_before, x.shipped
                    )
                })
                .collect();
            events.push(OrderEvent {
                order_id: order_id.clone(),
                event: state,
                content_hash: None,
                version: 0,
                line: Some(*line),
                detail: Some(detail.join("; ")),
                content: None,
            });
        }
        let shipped = c
            .checked
            .iter()
            .filter(|x| x.ordered.is_some() && x.shipped > rust_decimal::Decimal::ZERO)
            .map(|x| ShippedLine {
                order_id: x.order_id.clone(),
                sku: x.sku.clone(),
                quantity: x.shipped.to_string(),
                line: x.line,
            })
            .collect();
        OrdersRecord {
            channel: c.channel.clone(),
            pipeline: self.p.id.clone(),
            run_id: self.run_id.clone(),
            file_id: self.file_id,
            file_name: self.file.clone(),
            at: crate::runner::now_text(chrono::Utc::now()),
            events,
            shipped,
        }
    }
}

/// The item master's SKUs (`df` is the reference table `table`, when it was read).
fn item_set(df: Option<&DataFrame>, table: &str, column: &str) -> Result<HashSet<String>, String> {
    let df = df.ok_or_else(|| format!("the item master `{table}` was not read"))?;
    let c = df
        .column(column)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(|e| format!("the item master `{table}`: {e}"))?;
    let s = c.str().map_err(|e| e.to_string())?;
    Ok(s.iter().flatten().map(|v| v.trim().to_string()).collect())
}

/// Duplicates and amendments are warnings, bad lines errors: the report lists them all.
fn issues(file: &str, intake: &Intake) -> Vec<Issue> {
    let mut out = Vec::new();
    for t in &intake.taken {
        let id = &t.order.id;
        let why = match t.verdict {
            Verdict::Duplicate => format!("order {id} was taken before with the same content: not sent again"),
            Verdict::Amendment => format!("order {id} was taken before with other content: an amendment, not sent (a person decides; `tallyman orders show {id}`)"),
            Verdict::Amended => format!("order {id} was taken before with other content: sent to the ERP as a change (version {})", t.version),
            Verdict::New | Verdict::Rejected => continue,
        };
        let rule = format!("order-{}", t.verdict.as_str());
        out.push(
            Issue::error(file, &rule, why)
                .at_line(t.order.first_line())
                .in_column("order_id")
                .with_value(id)
                .warning(),
        );
    }
    for r in &intake.rejects {
        let message = match r.order_id.is_empty() {
            true => r.reason.clone(),
            false => format!(
                "order {}: {} (the order is not taken)",
                r.order_id, r.reason
            ),
        };
        out.push(
            Issue::error(file, "order-line", message)
                .at_line(r.line)
                .in_column(r.field)
                .with_value(&r.value),
        );
    }
    out
}

/// The order as taken, kept with its version in the ledger.
fn content_json(t: &orders::Taken) -> String {
    let o = &t.order;
    let lines: Vec<serde_json::Value> = o
        .lines
        .iter()
        .map(|l| {
            serde_json::json!({
                "line_number": l.line_number, "sku": l.sku, "quantity": l.quantity,
                "unit": l.unit, "unit_price": l.unit_price, "description": l.description,
            })
        })
        .collect();
    serde_json::json!({
        "order_id": o.id, "order_date": o.date, "currency": o.currency,
        "ship_to": {
            "name": o.ship_to.name, "address": o.ship_to.address, "city": o.ship_to.city,
            "state": o.ship_to.state, "postal": o.ship_to.postal, "country": o.ship_to.country,
        },
        "lines": lines,
    })
    .to_string()
}

/// The sets of an X12 850 file refused for their order lines (unknown SKU, quantity, price),
/// each bad line's PO1 an AK3 and each bad field an AK4, by interchange control number: so
/// the 997 never accepts an order that is not taken. Empty for other pipelines.
pub(super) fn order_refusals(
    policy: &Policy,
    parsed: &crate::formats::x12::Parsed,
    lines: &crate::formats::table::Table,
    refs: &super::Refs,
) -> Result<Vec<(String, SetRefusal)>, String> {
    if policy.layout != orders::Layout::X12_850 {
        return Ok(Vec::new());
    }
    let df = DataFrame::new(
        lines.rows(),
        lines
            .columns
            .iter()
            .map(|c| Column::new(c.name.as_str().into(), c.to_vec()))
            .collect(),
    )
    .map_err(|e| e.to_string())?;
    let items = match &policy.items {
        Some(m) => Some(item_set(refs.get(&m.table), &m.table, &m.column)?),
        None => None,
    };
    let read = orders::read_orders(policy.layout, &df, None).map_err(|e| e.to_string())?;
    let intake = orders::intake(policy, read, &Default::default(), items.as_ref());
    let ctx = |row: usize| {
        ["interchange_control", "group_control", "set_control"]
            .map(|c| lines.get(row, c).unwrap_or("").to_string())
    };
    let mut out: Vec<(String, SetRefusal)> = Vec::new();
    for r in intake.rejects.iter().filter(|r| r.line > 0) {
        let row = r.line as usize - 1;
        let [ic, gc, sc] = ctx(row);
        // The row is the set's k-th PO1 (the mapper writes one row per PO1, in order).
        let k = (0..row)
            .filter(|&i| ctx(i) == [ic.clone(), gc.clone(), sc.clone()])
            .count();
        let Some(position) = nth_segment(parsed, [&ic, &gc, &sc], b"PO1", k) else {
            continue;
        };
        let element = element_note(r);
        let i = match out
            .iter()
            .position(|(c, s)| c == &ic && s.group_control == gc && s.set_control == sc)
        {
            Some(i) => i,
            None => {
                out.push((
                    ic.clone(),
                    SetRefusal {
                        group_control: gc.clone(),
                        set_control: sc.clone(),
                        notes: Vec::new(),
                    },
                ));
                out.len() - 1
            }
        };
        let notes = &mut out[i].1.notes;
        match notes.iter_mut().find(|n| n.position == position) {
            Some(n) => n.elements.extend(element),
            None => notes.push(SegmentNote {
                segment_id: "PO1".into(),
                position,
                // AK304 8: segment has data element errors.
                code: "8",
                elements: element.into_iter().collect(),
            }),
        }
    }
    Ok(out)
}

/// The position in its set (ST is 1) of the `k`-th (0-based) segment `id` of the set named by
/// its interchange, group and set control numbers.
fn nth_segment(
    parsed: &crate::formats::x12::Parsed,
    [ic, gc, sc]: [&str; 3],
    id: &[u8],
    k: usize,
) -> Option<u32> {
    let set = parsed
        .interchanges
        .iter()
        .filter(|i| i.control == ic)
        .flat_map(|i| &i.groups)
        .filter(|g| g.control == gc)
        .flat_map(|g| &g.sets)
        .find(|s| s.control == sc)?;
    let seg = parsed.set_segments(set).filter(|s| s.id() == id).nth(k)?;
    Some(seg.index.saturating_sub(set.header.segment) + 1)
}

/// The AK4 of a bad field of a PO1: PO102 quantity (element 330), PO104 unit price (212),
/// PO107 the product id (234; the first qualifier pair, where the 850s we read put the SKU).
/// AK403: 1 missing, 6 not a number, 7 a value refused (unknown SKU, quantity not positive,
/// price negative). Its copy of the value keeps letters, digits and `.-_ ` only (it is written
/// inside our own separators).
fn element_note(r: &orders::Reject) -> Option<ElementNote> {
    let (position, reference) = match r.field {
        "quantity" => (2, "330"),
        "unit_price" => (4, "212"),
        "sku" => (7, "234"),
        _ => return None,
    };
    let code = match r.fault {
        orders::Fault::Missing => "1",
        orders::Fault::NotANumber => "6",
        _ => "7",
    };
    let value: String = r
        .value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || ".-_ ".contains(*c))
        .take(99)
        .collect();
    Some(ElementNote {
        position,
        reference,
        code,
        value,
    })
}
