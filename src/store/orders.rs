//! The ledger's side of orders (engine/orders.rs): what was taken before under a channel's
//! order ids (`known`), each run's verdicts and releases recorded in the run's closing
//! transaction, and the states and timelines `tallyman orders` shows.

use std::collections::HashMap;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::db::{self, DbError, Exec};
use super::{Ledger, StoreError};
use crate::db_args;
use crate::engine::orders::Known;
use crate::engine::shipments::Ordered;

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderState {
    /// Taken and sent to the ERP; no 940 yet.
    Received,
    /// The 940 to the 3PL is published.
    Released,
    /// Never taken: every version so far had bad lines.
    Rejected,
    /// Every SKU shipped in full (or over) by the 3PL's shipments.
    Shipped,
    /// Some SKU short so far.
    PartlyShipped,
    /// An invoice (810) billed it.
    Invoiced,
    /// A settlement paid it (`[settled_orders]`), after it shipped or was invoiced.
    Settled,
    /// The 3PL received goods of it back (`[returns]`).
    Returned,
}

impl OrderState {
    pub const ALL: [OrderState; 8] = [
        OrderState::Received,
        OrderState::Released,
        OrderState::Rejected,
        OrderState::Shipped,
        OrderState::PartlyShipped,
        OrderState::Invoiced,
        OrderState::Settled,
        OrderState::Returned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Received => "received",
            OrderState::Released => "released",
            OrderState::Rejected => "rejected",
            OrderState::Shipped => "shipped",
            OrderState::PartlyShipped => "partly_shipped",
            OrderState::Invoiced => "invoiced",
            OrderState::Settled => "settled",
            OrderState::Returned => "returned",
        }
    }
}

impl FromStr for OrderState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OrderState::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "`{s}` is not an order state (one of {})",
                    OrderState::ALL.map(|x| x.as_str()).join(", ")
                )
            })
    }
}

/// One event of an order, as a run records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    pub order_id: String,
    /// The verdict (`new`, `duplicate`, `amendment`, `amended`, `rejected`) or `released`.
    pub event: &'static str,
    pub content_hash: Option<String>,
    pub version: u32,
    pub line: Option<u64>,
    /// Why (a rejected order's reasons) or what (the 940 a release went out in).
    pub detail: Option<String>,
    /// The order as taken (JSON), for versions sent or flagged: the previous version is kept.
    pub content: Option<String>,
}

/// What a shipment file shipped of one order and SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedLine {
    pub order_id: String,
    pub sku: String,
    pub quantity: String,
    pub line: u64,
}

/// A run's order events (and a shipment's quantities), recorded with the run's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdersRecord {
    pub channel: String,
    pub pipeline: String,
    pub run_id: String,
    pub file_id: i64,
    pub file_name: String,
    pub at: String,
    pub events: Vec<OrderEvent>,
    pub shipped: Vec<ShippedLine>,
}

/// One order as `tallyman orders` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrderRow {
    pub channel: String,
    pub order_id: String,
    pub state: String,
    pub version: i64,
    /// The content hash of an amendment waiting for a person.
    pub pending_amendment: Option<String>,
    pub first_run: String,
    pub updated_at: String,
}

/// One step of an order's timeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventRow {
    pub at: String,
    pub channel: String,
    pub order_id: String,
    pub event: String,
    pub version: i64,
    pub pipeline: String,
    pub run_id: String,
    pub file: String,
    pub line: Option<i64>,
    pub detail: Option<String>,
}

impl Ledger {
    /// What the ledger knows of each of `ids` under `channel`, from files other than
    /// `file_id` (a rerun replays its file: it must meet what its first run met, not itself).
    pub fn known_orders(
        &self,
        channel: &str,
        ids: &[&str],
        file_id: i64,
    ) -> Result<HashMap<String, Known>, StoreError> {
        let mut out = HashMap::new();
        for id in ids {
            let rows: Vec<(String, Option<String>, i64)> = self.rows(
                "read what an order met before",
                "SELECT event, content_hash, version FROM order_events
                 WHERE channel = ?1 AND order_id = ?2 AND file_id IS DISTINCT FROM ?3 ORDER BY id",
                db_args![channel, id, file_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let mut k = Known::default();
            for (event, hash, version) in rows {
                k.apply(&event, hash.as_deref().unwrap_or(""), version as u32);
            }
            out.insert(id.to_string(), k);
        }
        Ok(out)
    }

    /// What shipments need of each of `ids` under `channel`: the quantities per SKU of the
    /// version sent, and what shipment files other than `file_id` brought.
    pub fn ordered(
        &self,
        channel: &str,
        ids: &[&str],
        file_id: i64,
    ) -> Result<HashMap<String, Ordered>, StoreError> {
        let what = "read what was ordered and shipped";
        let mut out = HashMap::new();
        for id in ids {
            let json: Option<String> = self.row(
                what,
                "SELECT content FROM order_events WHERE channel = ?1 AND order_id = ?2
                 AND event IN ('new', 'amended') AND content IS NOT NULL ORDER BY id DESC LIMIT 1",
                db_args![channel, id],
                |r| r.get(0),
            )?;
            let Some(json) = json else { continue };
            let mut o = Ordered::default();
            let v: serde_json::Value =
                serde_json::from_str(&json).map_err(|_| StoreError::Unexpected {
                    path: Default::default(),
                    what: "an order's content",
                    value: json.clone(),
                })?;
            for l in v["lines"].as_array().into_iter().flatten() {
                let (Some(sku), Some(q)) = (l["sku"].as_str(), l["quantity"].as_str()) else {
                    continue;
                };
                let q = Decimal::from_str(q).unwrap_or_default();
                *o.lines.entry(sku.to_string()).or_default() += q;
                if let Some(p) = l["unit_price"]
                    .as_str()
                    .and_then(|p| Decimal::from_str(p).ok())
                {
                    o.prices.insert(sku.to_string(), p.normalize());
                }
            }
            let shipped: Vec<(String, String)> = self.rows(
                what,
                "SELECT sku, quantity FROM order_shipped
                 WHERE channel = ?1 AND order_id = ?2 AND file_id IS DISTINCT FROM ?3",
                db_args![channel, id, file_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            for (sku, q) in shipped {
                *o.shipped_before.entry(sku).or_default() +=
                    Decimal::from_str(&q).unwrap_or_default();
            }
            out.insert(id.to_string(), o);
        }
        Ok(out)
    }

    /// Orders, in the order they were first taken; `state` filters.
    pub fn orders(&self, state: Option<OrderState>) -> Result<Vec<OrderRow>, StoreError> {
        self.rows(
            "list orders",
            "SELECT channel, order_id, state, version, pending_amendment, first_run, updated_at
             FROM orders WHERE CAST(?1 AS TEXT) IS NULL OR state = ?1
             ORDER BY first_run, channel, order_id",
            db_args![state.map(|s| s.as_str())],
            |r| {
                Ok(OrderRow {
                    channel: r.get(0)?,
                    order_id: r.get(1)?,
                    state: r.get(2)?,
                    version: r.get(3)?,
                    pending_amendment: r.get(4)?,
                    first_run: r.get(5)?,
                    updated_at: r.get(6)?,
                })
            },
        )
    }

    /// Every event of order `order_id` (of any channel, or of `channel`), oldest first.
    pub fn order_timeline(
        &self,
        order_id: &str,
        channel: Option<&str>,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.rows(
            "read an order's timeline",
            "SELECT at, channel, order_id, event, version, pipeline, run_id, file_name, line, detail
             FROM order_events WHERE order_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR channel = ?2)
             ORDER BY id",
            db_args![order_id, channel],
            |r| {
                Ok(EventRow {
                    at: r.get(0)?,
                    channel: r.get(1)?,
                    order_id: r.get(2)?,
                    event: r.get(3)?,
                    version: r.get(4)?,
                    pipeline: r.get(5)?,
                    run_id: r.get(6)?,
                    file: r.get(7)?,
                    line: r.get(8)?,
                    detail: r.get(9)?,
                })
            },
        )
    }
}

/// Records a run's order events and folds them into `orders`, inside the run's closing
/// transaction (`Ledger::finish_run`): an order is taken with the run that publishes it, or
/// not at all. An event another run of the same file recorded (a rerun) is not recorded
/// twice; copies within the run (the order three times in one file) each are.
pub(super) fn record(tx: &mut db::Tx<'_>, r: &OrdersRecord) -> Result<(), DbError> {
    // A run redone after an interruption is recorded once.
    tx.execute(
        "DELETE FROM order_events WHERE run_id = ?1",
        db_args![r.run_id],
    )?;
    tx.execute(
        "DELETE FROM order_shipped WHERE run_id = ?1",
        db_args![r.run_id],
    )?;
    for s in &r.shipped {
        // A rerun of the same shipment file does not ship twice.
        let before = tx.query_opt(
            "SELECT 1 FROM order_shipped
             WHERE channel = ?1 AND order_id = ?2 AND sku = ?3 AND file_id = ?4",
            db_args![r.channel, s.order_id, s.sku, r.file_id],
        )?;
        if before.is_some() {
            continue;
        }
        tx.execute(
            "INSERT INTO order_shipped (channel, order_id, sku, quantity, run_id, file_id, file_name, line)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            db_args![r.channel, s.order_id, s.sku, s.quantity, r.run_id, r.file_id, r.file_name, s.line as i64],
        )?;
    }
    for e in &r.events {
        let already = tx.query_opt(
            "SELECT id FROM order_events WHERE channel = ?1 AND order_id = ?2 AND event = ?3
             AND content_hash IS NOT DISTINCT FROM ?4 AND file_id = ?5 AND version = ?6
             AND run_id <> ?7",
            db_args![
                r.channel,
                e.order_id,
                e.event,
                e.content_hash,
                r.file_id,
                e.version,
                r.run_id
            ],
        )?;
        if already.is_some() {
            continue;
        }
        tx.execute(
            "INSERT INTO order_events (channel, order_id, event, content_hash, version, run_id,
             pipeline, file_id, file_name, line, detail, content, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            db_args![
                r.channel,
                e.order_id,
                e.event,
                e.content_hash,
                e.version,
                r.run_id,
                r.pipeline,
                r.file_id,
                r.file_name,
                e.line.map(|l| l as i64),
                e.detail,
                e.content,
                r.at
            ],
        )?;
        fold(tx, r, e)?;
    }
    Ok(())
}

/// The order's state after one event.
fn fold(tx: &mut db::Tx<'_>, r: &OrdersRecord, e: &OrderEvent) -> Result<(), DbError> {
    let (ch, id, at) = (&r.channel, &e.order_id, &r.at);
    match e.event {
        "new" => tx.execute(
            "INSERT INTO orders (channel, order_id, state, content_hash, version, first_run, updated_at)
             VALUES (?1, ?2, 'received', ?3, ?4, ?5, ?6)
             ON CONFLICT (channel, order_id) DO UPDATE SET state = 'received',
               content_hash = ?3, version = ?4, pending_amendment = NULL, updated_at = ?6",
            db_args![ch, id, e.content_hash, e.version, r.run_id, at],
        )?,
        "amended" => tx.execute(
            "UPDATE orders SET content_hash = ?3, version = ?4, pending_amendment = NULL,
             updated_at = ?5 WHERE channel = ?1 AND order_id = ?2",
            db_args![ch, id, e.content_hash, e.version, at],
        )?,
        "amendment" => tx.execute(
            "UPDATE orders SET pending_amendment = ?3, updated_at = ?4
             WHERE channel = ?1 AND order_id = ?2",
            db_args![ch, id, e.content_hash, at],
        )?,
        "rejected" => tx.execute(
            "INSERT INTO orders (channel, order_id, state, version, first_run, updated_at)
             VALUES (?1, ?2, 'rejected', 0, ?3, ?4) ON CONFLICT (channel, order_id) DO NOTHING",
            db_args![ch, id, r.run_id, at],
        )?,
        "released" | "shipped" | "partly_shipped" | "invoiced" | "returned" => tx.execute(
            "UPDATE orders SET state = ?3, updated_at = ?4 WHERE channel = ?1 AND order_id = ?2",
            db_args![ch, id, e.event, at],
        )?,
        // Paid before it shipped (a marketplace settles at order time): the step is in the
        // timeline, the order keeps waiting for its shipment.
        "settled" => tx.execute(
            "UPDATE orders SET state = 'settled', updated_at = ?3 WHERE channel = ?1
             AND order_id = ?2 AND state IN ('shipped', 'partly_shipped', 'invoiced')",
            db_args![ch, id, at],
        )?,
        _ => 0,
    };
    Ok(())
}
