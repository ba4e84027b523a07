//! Marketplace and processor settlement files (Amazon V1/V2, Shopify Payments, Stripe, PayPal
//! STL) read into two canonical tables, `settlement_lines` and `settlement_summary`, with exact
//! money, the component vocabulary and the control totals (footing). Pure: bytes in, tables out.

mod columns;
mod layouts;
pub mod money;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use rust_decimal::Decimal;

use crate::issue::Issue;

pub use columns::read_lines_frame;
pub use money::{currency_scale, parse_amount};

/// The built-in layouts, by the name a pipeline gives them (`[input.settlement] layout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    AmazonV1,
    AmazonV2,
    ShopifyPayments,
    StripeItemized,
    PaypalStl,
}

/// Every layout name, for messages.
pub const LAYOUTS: [&str; 5] = [
    "amazon_v1",
    "amazon_v2",
    "shopify_payments",
    "stripe_itemized",
    "paypal_stl",
];

/// The tables a settlement input can be validated as.
pub const TABLES: [&str; 2] = ["settlement_lines", "settlement_summary"];

impl Layout {
    pub fn from_name(name: &str) -> Option<Layout> {
        Some(match name {
            "amazon_v1" => Layout::AmazonV1,
            "amazon_v2" => Layout::AmazonV2,
            "shopify_payments" => Layout::ShopifyPayments,
            "stripe_itemized" => Layout::StripeItemized,
            "paypal_stl" => Layout::PaypalStl,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Layout::AmazonV1 => "amazon_v1",
            Layout::AmazonV2 => "amazon_v2",
            Layout::ShopifyPayments => "shopify_payments",
            Layout::StripeItemized => "stripe_itemized",
            Layout::PaypalStl => "paypal_stl",
        }
    }
}

/// The fixed component vocabulary every transaction and amount type maps to.
pub const COMPONENTS: [&str; 15] = [
    "principal",
    "tax",
    "shipping",
    "shipping_tax",
    "gift_wrap",
    "promotion",
    "marketplace_fee",
    "fulfilment_fee",
    "other_fee",
    "refund",
    "chargeback",
    "reserve",
    "adjustment",
    "transfer",
    "other",
];

/// One money movement of a settlement (a row of `settlement_lines`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub settlement_id: String,
    /// As the file writes it, with its zone when it has one (e.g. `2015-12-02T04:15:26+00:00`).
    pub posted_at: String,
    pub order_ref: String,
    pub merchant_order_ref: String,
    pub transaction_type: String,
    /// The layout's amount type (Amazon V2 amount-type, V1 the amount column, `gross`/`fee`).
    pub amount_type: String,
    /// Amazon amount-description, the fee or promotion type, or the processor's description.
    pub description: String,
    pub component: String,
    pub sku: String,
    pub quantity: Option<i64>,
    /// Exact, at the currency's scale.
    pub amount: Decimal,
    pub currency: String,
    /// 1-based line of the source file the amount comes from.
    pub source_line: u64,
}

impl Line {
    /// The keys looked up in the component mapping, most specific first:
    /// `type/amount_type/description`, `type/amount_type`, `amount_type/description`, `type`,
    /// `amount_type`.
    pub fn mapping_keys(&self) -> Vec<String> {
        let (t, a, d) = (
            self.transaction_type.as_str(),
            self.amount_type.as_str(),
            self.description.as_str(),
        );
        vec![
            format!("{t}/{a}/{d}"),
            format!("{t}/{a}"),
            format!("{a}/{d}"),
            t.to_string(),
            a.to_string(),
        ]
    }
}

/// One settlement (payout) and currency of a file (a row of `settlement_summary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub settlement_id: String,
    pub period_start: String,
    pub period_end: String,
    pub deposit_date: String,
    pub currency: String,
    /// The file's own control total; `None` when the layout gives none for this settlement.
    pub reported_total: Option<Decimal>,
    /// The sum of its lines.
    pub computed_total: Decimal,
    /// 1-based line of the control total (the summary row or footer).
    pub source_line: u64,
}

impl Summary {
    /// reported − computed (zero when nothing is reported).
    pub fn difference(&self) -> Decimal {
        self.reported_total
            .map_or(Decimal::ZERO, |r| r - self.computed_total)
    }

    pub fn foots(&self) -> bool {
        self.difference().is_zero()
    }

    /// What finance is paid: the reported total, or the lines' sum without one.
    pub fn deposit(&self) -> Decimal {
        self.reported_total.unwrap_or(self.computed_total)
    }
}

/// A settlement file read: its lines, its settlements and its problems.
#[derive(Debug, Clone, Default)]
pub struct Settlement {
    pub lines: Vec<Line>,
    pub summaries: Vec<Summary>,
    pub issues: Vec<Issue>,
}

/// A component mapping: the layout's defaults, then the pipeline's overrides (which win).
#[derive(Debug, Clone, Default)]
pub struct Components {
    map: BTreeMap<String, String>,
}

impl Components {
    /// The defaults of `layout` with `overrides` (type key → component) on top.
    pub fn for_layout(layout: Layout, overrides: &BTreeMap<String, String>) -> Components {
        let mut map: BTreeMap<String, String> = layouts::default_components(layout)
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        Components { map }
    }

    /// The component of `line`, or `None` when no key of it is mapped.
    pub fn component(&self, line: &Line) -> Option<&str> {
        line.mapping_keys()
            .iter()
            .find_map(|k| self.map.get(k).map(String::as_str))
    }
}

/// Problems in the pipeline's component overrides (unknown component names).
pub fn check_overrides(overrides: &BTreeMap<String, String>) -> Vec<String> {
    overrides
        .iter()
        .filter(|(_, v)| !COMPONENTS.contains(&v.as_str()))
        .map(|(k, v)| {
            format!(
                "`{k}` maps to `{v}`, which is no component (one of {})",
                COMPONENTS.join(", ")
            )
        })
        .collect()
}

/// Reads `bytes` as `layout`: lines with their components (unmapped types are warnings and
/// land in `other`), and one summary per settlement and currency with its footing.
pub fn read(file: &str, layout: Layout, bytes: &[u8], components: &Components) -> Settlement {
    let mut lines = Vec::new();
    let mut s = read_each(file, layout, bytes, components, &mut |l| lines.push(l));
    s.lines = lines;
    s
}

/// [`read`] handing each line, with its component, to `each` instead of keeping it: the
/// returned `Settlement` has no lines (its summaries and issues are complete).
pub fn read_each(
    file: &str,
    layout: Layout,
    bytes: &[u8],
    components: &Components,
    each: &mut dyn FnMut(Line),
) -> Settlement {
    let mut unmapped: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    // Per settlement and currency, in first-seen order (a file holds a handful).
    let mut sums: Vec<((String, String), Decimal)> = Vec::new();
    // The component of each (type, amount type, description) met, so that a line costs one
    // lookup, not the five keys of `mapping_keys` (a file has a few dozen distinct triples).
    let mut seen: HashMap<String, Option<String>> = HashMap::new();
    let mut triple = String::new();
    let mut sink = |mut line: Line| {
        triple.clear();
        for part in [&line.transaction_type, &line.amount_type, &line.description] {
            // Length-prefixed: no two triples share a key.
            let _ = write!(triple, "{}:{part}", part.len());
        }
        let component = match seen.get(triple.as_str()) {
            Some(c) => c.clone(),
            None => {
                let c = components.component(&line).map(str::to_string);
                seen.insert(triple.clone(), c.clone());
                c
            }
        };
        match component {
            Some(c) => line.component = c,
            None => {
                line.component = "other".into();
                let key = line.mapping_keys().swap_remove(0);
                let e = unmapped.entry(key).or_insert((line.source_line, 0));
                e.1 += 1;
            }
        }
        let at = sums
            .iter()
            .position(|((id, c), _)| *id == line.settlement_id && *c == line.currency);
        match at {
            Some(i) => sums[i].1 += line.amount,
            None => sums.push((
                (line.settlement_id.clone(), line.currency.clone()),
                line.amount,
            )),
        }
        each(line);
    };
    let mut s = layouts::read(file, layout, bytes, &mut sink);
    for (key, (first, count)) in unmapped {
        s.issues.push(
            Issue::error(
                file,
                "unmapped-type",
                format!(
                    "transaction type `{key}` maps to no component ({count} line(s), first here); its amounts are counted as `other` (map it in [input.settlement.components])"
                ),
            )
            .at_line(first)
            .with_value(&key)
            .warning(),
        );
    }
    let mut totals: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    // Each key once in `sums`.
    for (key, sum) in sums {
        totals.insert(key, sum);
    }
    foot(file, &mut s, totals);
    s
}

/// `settlement_lines` as CSV as the lines are read, with each row's source line: the
/// settlement's summaries and issues, the CSV, and the source lines in row order.
pub fn read_lines_csv(
    file: &str,
    layout: Layout,
    bytes: &[u8],
    components: &Components,
) -> (Settlement, Vec<u8>, Vec<u64>) {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(LINE_COLUMNS);
    let mut source_lines = Vec::new();
    let s = read_each(file, layout, bytes, components, &mut |l| {
        source_lines.push(l.source_line);
        write_line(&mut w, &l);
    });
    (s, w.into_inner().unwrap_or_default(), source_lines)
}

fn write_line(w: &mut csv::Writer<Vec<u8>>, l: &Line) {
    let scale = currency_scale(&l.currency);
    let _ = w.write_record([
        l.settlement_id.as_str(),
        &l.posted_at,
        &l.order_ref,
        &l.merchant_order_ref,
        &l.transaction_type,
        &l.amount_type,
        &l.description,
        &l.component,
        &l.sku,
        &l.quantity.map(|q| q.to_string()).unwrap_or_default(),
        &money::render(l.amount, scale),
        &l.currency,
        &l.source_line.to_string(),
    ]);
}

/// Sums the lines of each settlement and currency into its summary; a summary that does not
/// foot is an error naming the settlement, the reported and computed totals and the
/// difference. Lines of a settlement and currency with no summary get one (no control total).
fn foot(file: &str, s: &mut Settlement, mut sums: BTreeMap<(String, String), Decimal>) {
    for sum in &mut s.summaries {
        let key = (sum.settlement_id.clone(), sum.currency.clone());
        sum.computed_total = sums.remove(&key).unwrap_or_default();
    }
    for ((id, currency), total) in sums {
        s.summaries.push(Summary {
            settlement_id: id,
            period_start: String::new(),
            period_end: String::new(),
            deposit_date: String::new(),
            currency,
            reported_total: None,
            computed_total: total,
            source_line: 0,
        });
    }
    for sum in &s.summaries {
        if sum.foots() {
            continue;
        }
        let scale = currency_scale(&sum.currency);
        let money = |d: Decimal| money::render(d, scale);
        let reported = sum.reported_total.unwrap_or_default();
        let mut issue = Issue::error(
            file,
            "control-total",
            format!(
                "settlement {} does not foot in {}: reported {}, lines sum to {}, difference {}",
                sum.settlement_id,
                sum.currency,
                money(reported),
                money(sum.computed_total),
                money(sum.difference()),
            ),
        )
        .in_column("total")
        .with_value(&money(reported));
        if sum.source_line > 0 {
            issue = issue.at_line(sum.source_line);
        }
        s.issues.push(issue);
    }
}

/// The columns of `settlement_lines`, in order.
pub const LINE_COLUMNS: [&str; 13] = [
    "settlement_id",
    "posted_at",
    "order_ref",
    "merchant_order_ref",
    "transaction_type",
    "amount_type",
    "description",
    "component",
    "sku",
    "quantity",
    "amount",
    "currency",
    "source_line",
];

/// The columns of `settlement_summary`, in order.
pub const SUMMARY_COLUMNS: [&str; 10] = [
    "settlement_id",
    "period_start",
    "period_end",
    "deposit_date",
    "currency",
    "reported_total",
    "computed_total",
    "difference",
    "foots",
    "source_line",
];

impl Settlement {
    /// `settlement_lines` as CSV, money at the currency's scale.
    pub fn lines_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(LINE_COLUMNS);
        for l in &self.lines {
            write_line(&mut w, l);
        }
        w.into_inner().unwrap_or_default()
    }

    /// `settlement_summary` as CSV.
    pub fn summary_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(SUMMARY_COLUMNS);
        for s in &self.summaries {
            let scale = currency_scale(&s.currency);
            let _ = w.write_record([
                s.settlement_id.as_str(),
                &s.period_start,
                &s.period_end,
                &s.deposit_date,
                &s.currency,
                &s.reported_total
                    .map(|r| money::render(r, scale))
                    .unwrap_or_default(),
                &money::render(s.computed_total, scale),
                &money::render(s.difference(), scale),
                if s.foots() { "true" } else { "false" },
                &s.source_line.to_string(),
            ]);
        }
        w.into_inner().unwrap_or_default()
    }

    /// The summaries that do not foot.
    pub fn unfooted(&self) -> impl Iterator<Item = &Summary> {
        self.summaries.iter().filter(|s| !s.foots())
    }
}

#[cfg(test)]
mod tests;
