//! A run's orders (engine/orders.rs): read from the validated input (and a document's header
//! table), judged against what the ledger took before under the channel, added to the run's
//! tables; at the run's end, the verdicts and releases (or a shipment's, process/shipments.rs)
//! become the ledger's order events in the run's closing transaction.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use polars::prelude::*;
use rust_decimal::Decimal;

use super::{data, Run, StagedOutput};
use crate::engine::orders::{self, Intake, OrdersError, Policy, Verdict};
use crate::issue::Issue;
use crate::runner::RunError;
use crate::store::lock::{LockError, PipelineLock};
use crate::store::orders::{OrderEvent, OrdersRecord};
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
        // A CSV row's file line (a document's lines carry their own).
        let file_lines = match policy.layout.lines_table() {
            None => self.good_row_lines(input.height()),
            Some(_) => Vec::new(),
        };
        let header = self.order_header.as_ref();
        let read = match orders::read_orders_at(policy.layout, input, header, &file_lines) {
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
        let mut intake = orders::intake(policy, read, &known, items.as_ref());
        if let Some(src) = &policy.atp {
            match latest_atp(self.home, ledger, src).map_err(|e| data(p, e))? {
                Some((run, atp)) => {
                    orders::allocate(&mut intake, &atp);
                    self.issues
                        .extend(backorders(&self.file, &intake, &atp, &src.location, &run));
                }
                None => self.issues.push(
                    Issue::error(
                        &self.file,
                        "order-atp-missing",
                        format!(
                            "no published `{}` of pipeline {} yet: order lines were not checked against ATP",
                            src.table, src.pipeline
                        ),
                    )
                    .warning(),
                ),
            }
        }
        self.issues.extend(issues(&self.file, &intake));
        // Orders of the channel that stayed in a state longer than allowed are this run's
        // exceptions too: the report of each intake run lists them until they move.
        let stuck = ledger.stuck_orders(&policy.channel, &policy.stuck, chrono::Utc::now())?;
        for s in &stuck {
            self.issues.push(
                Issue::error(
                    &self.file,
                    "order-stuck",
                    format!(
                        "order {} is {} since {} ({} h; {} h allowed)",
                        s.order_id, s.state, s.since, s.hours, s.allowed_hours
                    ),
                )
                .in_column("order_id")
                .with_value(&s.order_id)
                .warning(),
            );
        }
        if !policy.stuck.is_empty() {
            self.manifest
                .reconciliation
                .insert("orders_stuck".into(), stuck.len() as u64);
        }
        self.manifest.reconciliation.extend(intake.counts());
        tables.extend(orders::tables(&intake).map_err(|e| data(p, e))?);
        tracing::info!(pipeline = %p.id, channel = %policy.channel, "orders: {:?}", intake.counts());
        self.orders = Some(intake);
        Ok(None)
    }

    /// The report's note of the run's orders or shipments, counted.
    pub(super) fn orders_note(&self) -> Option<crate::report::model::OrdersNote> {
        let count = |statuses: &mut dyn Iterator<Item = &str>| {
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for s in statuses {
                *counts.entry(s.to_string()).or_default() += 1;
            }
            counts.into_iter().collect::<Vec<_>>()
        };
        let (channel, kind, counts) = match (&self.orders, &self.shipments, &self.invoices) {
            (Some(i), _, _) => (&i.channel, "orders", i.counts()),
            (None, Some(c), _) => {
                let mut s = c.checked.iter().map(|x| x.status);
                (&c.channel, "shipments", count(&mut s))
            }
            (None, None, Some(c)) => {
                let mut s = c.billed.iter().map(|x| x.status);
                (&c.channel, "invoices", count(&mut s))
            }
            (None, None, None) => match (&self.returns, &self.settled) {
                (Some(c), _) => {
                    let mut s = c.checked.iter().map(|x| x.status);
                    (&c.channel, "returns", count(&mut s))
                }
                (None, Some(r)) => {
                    let mut s = r.events.iter().map(|e| e.event);
                    (&r.channel, "settled orders", count(&mut s))
                }
                (None, None) => return None,
            },
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
    pub(super) fn lock_channel(&mut self, channel: &str) -> Result<(), RunError> {
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

    /// The run's order events for the ledger (a succeeded run's): each verdict, and a release
    /// for each new order when the 940 (`shipping_orders`) is among the outputs published; or
    /// a shipment's state per order and its quantities.
    pub(super) fn order_record(&self, publish: &[StagedOutput]) -> Option<OrdersRecord> {
        if let Some(c) = &self.shipments {
            return Some(self.shipment_record(c));
        }
        if let Some(c) = &self.invoices {
            return Some(self.invoice_record(c));
        }
        if let Some(c) = &self.returns {
            return Some(self.return_record(c));
        }
        if let Some(r) = &self.settled {
            return Some(r.clone());
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
}

/// The item master's SKUs (`df` is the reference table `table`, when it was read).
pub(super) fn item_set(
    df: Option<&DataFrame>,
    table: &str,
    column: &str,
) -> Result<HashSet<String>, String> {
    let df = df.ok_or_else(|| format!("the item master `{table}` was not read"))?;
    let c = df
        .column(column)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(|e| format!("the item master `{table}`: {e}"))?;
    let s = c.str().map_err(|e| e.to_string())?;
    Ok(s.iter().flatten().map(|v| v.trim().to_string()).collect())
}

/// Available-to-promise at a location: SKU → quantity.
type Atp = HashMap<String, Decimal>;

/// The latest published ATP of `src` (its run and SKU → available at the location): the output
/// of `src.table` that the newest succeeded run of `src.pipeline` published, read from the
/// run's archive (the outbox copy may already be taken by the ERP). `None` before any.
fn latest_atp(
    home: &crate::config::Home,
    ledger: &Ledger,
    src: &orders::AtpSource,
) -> Result<Option<(String, Atp)>, String> {
    let runs = ledger
        .runs(&crate::store::RunFilter {
            pipeline: Some(src.pipeline.clone()),
            state: Some(crate::store::RunState::Succeeded.as_str().to_string()),
            limit: Some(50),
            ..Default::default()
        })
        .map_err(|e| e.to_string())?;
    for run in runs {
        let Some(archive) = &run.archive_path else {
            continue;
        };
        let dir = home.root.join(archive);
        let manifest = crate::runner::manifest::read(&dir).map_err(|e| e.to_string())?;
        let Some(out) = manifest
            .outputs
            .iter()
            .find(|o| o.table == src.table && o.held.is_none() && o.control_for.is_none())
        else {
            continue;
        };
        let path = dir.join("output").join(&out.name);
        let mut reader = csv::Reader::from_path(&path)
            .map_err(|e| format!("the ATP {}: {e}", path.display()))?;
        let header = reader
            .headers()
            .map_err(|e| format!("the ATP {}: {e}", path.display()))?
            .clone();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| format!("the ATP {} has no `{name}` column", path.display()))
        };
        let (sku, location, atp) = (col("sku")?, col("location")?, col("atp")?);
        let mut map = HashMap::new();
        for (i, record) in reader.records().enumerate() {
            let r = record.map_err(|e| format!("the ATP {}: {e}", path.display()))?;
            if r.get(location) != Some(src.location.as_str()) {
                continue;
            }
            let value = r.get(atp).unwrap_or_default();
            let n = value.parse::<Decimal>().map_err(|_| {
                format!(
                    "the ATP {} line {}: `{value}` is not a number",
                    path.display(),
                    i + 2
                )
            })?;
            map.insert(r.get(sku).unwrap_or_default().to_string(), n);
        }
        return Ok(Some((run.run_id, map)));
    }
    Ok(None)
}

/// A warning per line sent with a backorder: what was ordered, what ATP had left.
fn backorders(
    file: &str,
    intake: &Intake,
    atp: &HashMap<String, Decimal>,
    location: &str,
    run: &str,
) -> Vec<Issue> {
    let mut out = Vec::new();
    for t in intake.taken.iter().filter(|t| t.verdict.sent()) {
        for (l, over) in t.order.lines.iter().zip(&t.backorder) {
            let Some(over) = over.filter(|d| !d.is_zero()) else {
                continue;
            };
            let published = atp.get(&l.sku).copied().unwrap_or_default();
            out.push(
                Issue::error(
                    file,
                    "order-backorder",
                    format!(
                        "order {} SKU {}: {} ordered, {} over the ATP left at {location} (published {} by run {run}): sent as a backorder",
                        t.order.id, l.sku, l.quantity, over.normalize(), published.normalize()
                    ),
                )
                .at_line(l.line)
                .in_column("quantity")
                .with_value(&l.quantity)
                .warning(),
            );
        }
    }
    out
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
