//! Questions about orders the lifecycle steps ask of the ledger (store/orders.rs keeps the
//! tables): which ids a channel took and in what state, the refunds settlements recorded, the
//! orders stuck in a state longer than their pipeline allows.

use std::collections::HashMap;
use std::str::FromStr;

use super::orders::OrderState;
use super::{Ledger, StoreError};
use crate::db_args;

/// An order in a state longer than its pipeline allows (`[orders] stuck`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StuckOrder {
    pub channel: String,
    pub order_id: String,
    pub state: String,
    /// When the step that put it in `state` was recorded.
    pub since: String,
    /// Whole hours in the state so far, and the allowance.
    pub hours: i64,
    pub allowed_hours: i64,
}

impl Ledger {
    /// The state of each of `ids` the channel has taken (or rejected).
    pub fn order_states(
        &self,
        channel: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, OrderState>, StoreError> {
        let mut out = HashMap::new();
        for id in ids {
            let state: Option<String> = self.row(
                "read an order's state",
                "SELECT state FROM orders WHERE channel = ?1 AND order_id = ?2",
                db_args![channel, id],
                |r| r.get(0),
            )?;
            if let Some(s) = state {
                let s = OrderState::from_str(&s).map_err(|_| StoreError::Unexpected {
                    path: Default::default(),
                    what: "an order's state",
                    value: s.clone(),
                })?;
                out.insert(id.to_string(), s);
            }
        }
        Ok(out)
    }

    /// The refunds settlements recorded for each of `ids` (`refunded` events, oldest first):
    /// (order id, the event's JSON: `settlement` and its refund `lines`).
    pub fn settlement_refunds(
        &self,
        channel: &str,
        ids: &[&str],
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut out = Vec::new();
        for id in ids {
            let rows: Vec<String> = self.rows(
                "read an order's refunds",
                "SELECT content FROM order_events WHERE channel = ?1 AND order_id = ?2
                 AND event = 'refunded' AND content IS NOT NULL ORDER BY id",
                db_args![channel, id],
                |r| r.get(0),
            )?;
            out.extend(rows.into_iter().map(|c| (id.to_string(), c)));
        }
        Ok(out)
    }

    /// The orders of `channel` in a state of `allowances` (state → seconds) for longer than
    /// it allows at `now`, counted from the step that put them there.
    pub fn stuck_orders(
        &self,
        channel: &str,
        allowances: &std::collections::BTreeMap<String, u64>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<StuckOrder>, StoreError> {
        if allowances.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, String, Option<String>)> = self.rows(
            "find stuck orders",
            "SELECT o.order_id, o.state, (SELECT MAX(e.at) FROM order_events e
               WHERE e.channel = o.channel AND e.order_id = o.order_id
               AND e.event = CASE o.state WHEN 'received' THEN 'new' ELSE o.state END)
             FROM orders o WHERE o.channel = ?1 ORDER BY o.first_run, o.order_id",
            db_args![channel],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut out = Vec::new();
        for (order_id, state, since) in rows {
            let (Some(allowed), Some(since)) = (allowances.get(&state), since) else {
                continue;
            };
            let Ok(at) = chrono::DateTime::parse_from_rfc3339(&since) else {
                continue;
            };
            let secs = (now - at.to_utc()).num_seconds();
            if secs > *allowed as i64 {
                out.push(StuckOrder {
                    channel: channel.to_string(),
                    order_id,
                    state,
                    since,
                    hours: secs / 3600,
                    allowed_hours: *allowed as i64 / 3600,
                });
            }
        }
        Ok(out)
    }
}
