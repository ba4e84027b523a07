//! The built-in layouts: each reads its file into canonical lines and summaries (components
//! are assigned afterwards, from `default_components` and the pipeline's overrides).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::money::{currency_scale, fits_scale, from_minor, parse_amount};
use super::{Layout, Line, Settlement, Summary};
use crate::issue::Issue;

/// Reads `bytes` as `layout`: each line handed to `sink` as it is read (a large file's lines
/// are never all held), the summaries and problems returned.
pub(super) fn read(
    file: &str,
    layout: Layout,
    bytes: &[u8],
    sink: &mut dyn FnMut(Line),
) -> Settlement {
    let mut r = Reader {
        file,
        out: Settlement::default(),
        sink,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match layout {
        Layout::AmazonV1 => r.amazon(bytes, false),
        Layout::AmazonV2 => r.amazon(bytes, true),
        Layout::ShopifyPayments => r.shopify(bytes),
        Layout::StripeItemized => r.stripe(bytes),
        Layout::PaypalStl => r.paypal(bytes),
    }
    r.out
}

/// Type keys (see `Line::mapping_keys`) → component, per layout.
pub(super) fn default_components(layout: Layout) -> &'static [(&'static str, &'static str)] {
    match layout {
        Layout::AmazonV1 => &[
            ("price/Principal", "principal"),
            ("price/Tax", "tax"),
            ("price/Shipping", "shipping"),
            ("price/ShippingTax", "shipping_tax"),
            ("price/GiftWrap", "gift_wrap"),
            ("price/GiftWrapTax", "tax"),
            ("Refund/price", "refund"),
            ("Chargeback/price", "chargeback"),
            ("item-related-fee/Commission", "marketplace_fee"),
            ("item-related-fee/RefundCommission", "marketplace_fee"),
            ("item-related-fee/VariableClosingFee", "marketplace_fee"),
            ("item-related-fee/FixedClosingFee", "marketplace_fee"),
            (
                "item-related-fee/FBAPerOrderFulfillmentFee",
                "fulfilment_fee",
            ),
            (
                "item-related-fee/FBAPerUnitFulfillmentFee",
                "fulfilment_fee",
            ),
            ("item-related-fee/FBAWeightBasedFee", "fulfilment_fee"),
            ("item-related-fee/ShippingChargeback", "other_fee"),
            ("item-related-fee", "other_fee"),
            ("order-fee", "other_fee"),
            ("shipment-fee", "other_fee"),
            ("misc-fee", "other_fee"),
            ("other-fee", "other_fee"),
            ("promotion", "promotion"),
            ("direct-payment", "adjustment"),
            ("Previous Reserve Amount Balance", "reserve"),
            ("Current Reserve Amount", "reserve"),
        ],
        Layout::AmazonV2 => &[
            ("ItemPrice/Principal", "principal"),
            ("ItemPrice/Tax", "tax"),
            ("ItemPrice/Shipping", "shipping"),
            ("ItemPrice/ShippingTax", "shipping_tax"),
            ("ItemPrice/GiftWrap", "gift_wrap"),
            ("ItemPrice/GiftWrapTax", "tax"),
            ("Refund/ItemPrice", "refund"),
            ("Chargeback/ItemPrice", "chargeback"),
            ("ItemFees/Commission", "marketplace_fee"),
            ("ItemFees/RefundCommission", "marketplace_fee"),
            ("ItemFees/VariableClosingFee", "marketplace_fee"),
            ("ItemFees/FixedClosingFee", "marketplace_fee"),
            ("ItemFees/FBAPerOrderFulfillmentFee", "fulfilment_fee"),
            ("ItemFees/FBAPerUnitFulfillmentFee", "fulfilment_fee"),
            ("ItemFees/FBAWeightBasedFee", "fulfilment_fee"),
            ("ItemFees/ShippingChargeback", "other_fee"),
            ("ItemFees", "other_fee"),
            ("ItemWithheldTax", "tax"),
            ("Promotion", "promotion"),
            (
                "other-transaction/other-transaction/Subscription Fee",
                "marketplace_fee",
            ),
            (
                "other-transaction/other-transaction/Storage Fee",
                "fulfilment_fee",
            ),
            ("ServiceFee", "other_fee"),
            ("Previous Reserve Amount Balance", "reserve"),
            ("Current Reserve Amount", "reserve"),
            ("Transfer", "transfer"),
        ],
        Layout::ShopifyPayments => &[
            ("charge/amount", "principal"),
            ("refund/amount", "refund"),
            ("dispute/amount", "chargeback"),
            ("adjustment", "adjustment"),
            ("reserve", "reserve"),
            ("fee", "marketplace_fee"),
        ],
        Layout::StripeItemized => &[
            ("charge/gross", "principal"),
            ("refund/gross", "refund"),
            ("dispute/gross", "chargeback"),
            ("dispute_reversal/gross", "chargeback"),
            ("fee/gross", "other_fee"),
            ("adjustment", "adjustment"),
            ("reserve_transaction", "reserve"),
            ("transfer", "transfer"),
            ("fee", "marketplace_fee"),
        ],
        Layout::PaypalStl => &[
            ("T0001/gross", "principal"),
            ("T0003/gross", "principal"),
            ("T0006/gross", "principal"),
            ("T0007/gross", "principal"),
            ("T0011/gross", "principal"),
            ("T0013/gross", "principal"),
            ("T1107/gross", "refund"),
            ("T1106/gross", "chargeback"),
            ("T1201/gross", "chargeback"),
            ("T1202/gross", "chargeback"),
            ("T0400/gross", "transfer"),
            ("T0401/gross", "transfer"),
            ("T0403/gross", "transfer"),
            ("T1503/gross", "reserve"),
            ("T1504/gross", "reserve"),
            ("fee", "marketplace_fee"),
        ],
    }
}

struct Reader<'f> {
    file: &'f str,
    /// Summaries and issues (lines go to `sink`).
    out: Settlement,
    sink: &'f mut dyn FnMut(Line),
}

/// A record with its 1-based line and its header's positions.
struct Row<'h> {
    line: u64,
    rec: &'h csv::StringRecord,
    header: &'h BTreeMap<String, usize>,
}

impl Row<'_> {
    fn get(&self, column: &str) -> &str {
        self.header
            .get(column)
            .and_then(|&i| self.rec.get(i))
            .unwrap_or("")
            .trim()
    }
}

fn records(bytes: &[u8], delimiter: u8, quoting: bool) -> Vec<(u64, csv::StringRecord)> {
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .quoting(quoting)
        .from_reader(bytes);
    let mut out = Vec::new();
    let mut rec = csv::StringRecord::new();
    // Lines are counted from byte offsets: after a CRLF the reader's position (and line)
    // is that of the LF, the previous line's last byte.
    let (mut counted, mut line_at) = (0usize, 1u64);
    let mut line_of = |byte: u64| {
        let mut byte = (byte as usize).min(bytes.len());
        if bytes.get(byte) == Some(&b'\n') {
            byte += 1;
        }
        line_at += memchr::memchr_iter(b'\n', &bytes[counted..byte]).count() as u64;
        counted = byte;
        line_at
    };
    loop {
        match rd.read_record(&mut rec) {
            Ok(true) => {
                let line = rec.position().map_or(0, |p| line_of(p.byte()));
                // A blank line is no record (files end with one or two).
                if rec.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                out.push((line, rec.clone()));
            }
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_of(p.byte()));
                out.push((line, csv::StringRecord::from(vec![format!("\u{0}{e}")])));
                break;
            }
        }
    }
    out
}

/// Records one at a time (blank ones skipped), each with its 1-based line, for a layout read
/// in one pass (a large file's records are never all held). Only for bytes that are valid
/// UTF-8 without quoting: then the reader cannot fail (see [`records`] otherwise).
struct Stream<'b> {
    rd: csv::Reader<&'b [u8]>,
    bytes: &'b [u8],
    rec: csv::StringRecord,
    counted: usize,
    line_at: u64,
}

impl<'b> Stream<'b> {
    fn new(bytes: &'b [u8], delimiter: u8) -> Stream<'b> {
        let rd = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .quoting(false)
            .from_reader(bytes);
        Stream {
            rd,
            bytes,
            rec: csv::StringRecord::new(),
            counted: 0,
            line_at: 1,
        }
    }

    /// The next record's line (the record is `self.rec`); `None` at the end (or on an error,
    /// which valid UTF-8 without quoting cannot give).
    fn next(&mut self) -> Option<u64> {
        loop {
            if !self.rd.read_record(&mut self.rec).ok()? {
                return None;
            }
            // As in `records`: lines counted from byte offsets.
            let mut byte = self
                .rec
                .position()
                .map_or(0, |p| p.byte() as usize)
                .min(self.bytes.len());
            if self.bytes.get(byte) == Some(&b'\n') {
                byte += 1;
            }
            if byte > self.counted {
                self.line_at +=
                    memchr::memchr_iter(b'\n', &self.bytes[self.counted..byte]).count() as u64;
                self.counted = byte;
            }
            if self.rec.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            return Some(self.line_at);
        }
    }
}

fn header_map(rec: &csv::StringRecord) -> BTreeMap<String, usize> {
    rec.iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_string(), i))
        .collect()
}

impl Reader<'_> {
    fn issue(&mut self, line: u64, column: &str, value: &str, rule: &str, message: String) {
        let mut i = Issue::error(self.file, rule, message).at_line(line);
        if !column.is_empty() {
            i = i.in_column(column);
        }
        if !value.is_empty() {
            i = i.with_value(value);
        }
        self.out.issues.push(i);
    }

    /// The header must hold `needed`; `false` (with an issue) when it does not.
    fn has_columns(
        &mut self,
        line: u64,
        header: &BTreeMap<String, usize>,
        needed: &[&str],
    ) -> bool {
        let missing: Vec<&str> = needed
            .iter()
            .copied()
            .filter(|c| !header.contains_key(*c))
            .collect();
        if !missing.is_empty() {
            self.issue(
                line,
                "",
                "",
                "header",
                format!("the header lacks column(s) {}", missing.join(", ")),
            );
        }
        missing.is_empty()
    }

    /// An amount of `column` in `currency`: `None` when empty; an issue when it is no number or
    /// has more places than the currency.
    fn amount(&mut self, row: &Row, column: &str, currency: &str, eu: bool) -> Option<Decimal> {
        let text = row.get(column);
        if text.is_empty() {
            return None;
        }
        let Some(d) = parse_amount(text, eu) else {
            self.issue(
                row.line,
                column,
                text,
                "type",
                format!("`{text}` is not an amount"),
            );
            return None;
        };
        self.checked_scale(row.line, column, text, d, currency)
    }

    fn checked_scale(
        &mut self,
        line: u64,
        column: &str,
        text: &str,
        d: Decimal,
        currency: &str,
    ) -> Option<Decimal> {
        let scale = currency_scale(currency);
        if !fits_scale(d, scale) {
            self.issue(
                line,
                column,
                text,
                "scale",
                format!("`{text}` has more decimal places than {currency} has ({scale})"),
            );
            return None;
        }
        Some(d)
    }

    fn broken(&mut self, recs: &[(u64, csv::StringRecord)]) -> bool {
        if let Some((line, rec)) = recs.last() {
            if let Some(msg) = rec.get(0).and_then(|f| f.strip_prefix('\u{0}')) {
                let msg = msg.to_string();
                self.issue(
                    *line,
                    "",
                    "",
                    "structure",
                    format!("unreadable record: {msg}"),
                );
                return true;
            }
        }
        false
    }

    /// Amazon settlement flat files: tab-separated, no quoting, a header, then the summary
    /// row (settlement, period, deposit date, total, currency), then the lines. V2: one amount
    /// per row (amount-type, amount-description, amount) in the marketplace's number format;
    /// V1: one row per item with an amount column per kind, each a line.
    fn amazon(&mut self, bytes: &[u8], v2: bool) {
        // Only invalid UTF-8 makes the reader fail: then the records are read whole to report
        // the broken one (and nothing else), as before a line is handed on.
        if std::str::from_utf8(bytes).is_err() {
            let recs = records(bytes, b'\t', false);
            if self.broken(&recs) {
                return;
            }
        }
        let mut recs = Stream::new(bytes, b'\t');
        let Some(hline) = recs.next() else {
            self.issue(1, "", "", "empty-file", "the file has no header".into());
            return;
        };
        let header = header_map(&recs.rec);
        let mut needed = vec![
            "settlement-id",
            "settlement-start-date",
            "settlement-end-date",
            "deposit-date",
            "total-amount",
            "currency",
            "transaction-type",
            "order-id",
            "merchant-order-id",
            "posted-date",
            "sku",
            "quantity-purchased",
        ];
        if v2 {
            needed.extend(["amount-type", "amount-description", "amount"]);
        } else {
            needed.extend(V1_AMOUNTS.iter().map(|(_, a)| *a));
        }
        if !self.has_columns(hline, &header, &needed) {
            return;
        }
        let Some(sline) = recs.next() else {
            self.issue(
                hline,
                "",
                "",
                "empty-file",
                "the file has no summary row".into(),
            );
            return;
        };
        let s = Row {
            line: sline,
            rec: &recs.rec,
            header: &header,
        };
        let currency = s.get("currency").to_string();
        if currency.is_empty() || s.get("total-amount").is_empty() {
            self.issue(
                s.line,
                "total-amount",
                "",
                "summary",
                "the first data row is not the settlement summary (total-amount and currency)"
                    .into(),
            );
            return;
        }
        let reported = self.amount(&s, "total-amount", &currency, v2);
        let id = s.get("settlement-id").to_string();
        self.out.summaries.push(Summary {
            settlement_id: id.clone(),
            period_start: s.get("settlement-start-date").into(),
            period_end: s.get("settlement-end-date").into(),
            deposit_date: s.get("deposit-date").into(),
            currency: currency.clone(),
            reported_total: reported,
            computed_total: Decimal::ZERO,
            source_line: s.line,
        });
        // Column positions looked up once, not per line.
        let at = |c: &str| header.get(c).copied();
        let (c_id, c_posted, c_posted_time, c_order, c_merchant, c_type, c_sku, c_quantity) = (
            at("settlement-id"),
            at("posted-date"),
            at("posted-date-time"),
            at("order-id"),
            at("merchant-order-id"),
            at("transaction-type"),
            at("sku"),
            at("quantity-purchased"),
        );
        let (c_amount_type, c_description) = (at("amount-type"), at("amount-description"));
        while let Some(line) = recs.next() {
            let rec = &recs.rec;
            let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("").trim();
            let r = Row {
                line,
                rec,
                header: &header,
            };
            let line_id = get(c_id);
            if !line_id.is_empty() && line_id != id {
                self.issue(
                    r.line,
                    "settlement-id",
                    line_id,
                    "settlement-id",
                    format!("the line belongs to settlement {line_id}, the file's summary to {id}"),
                );
            }
            let posted = match (v2, get(c_posted_time)) {
                (true, t) if !t.is_empty() => t.to_string(),
                _ => get(c_posted).to_string(),
            };
            let quantity = get(c_quantity).parse::<i64>().ok();
            let base = Line {
                settlement_id: id.clone(),
                posted_at: posted,
                order_ref: get(c_order).into(),
                merchant_order_ref: get(c_merchant).into(),
                transaction_type: get(c_type).into(),
                amount_type: String::new(),
                description: String::new(),
                component: String::new(),
                sku: get(c_sku).into(),
                quantity,
                amount: Decimal::ZERO,
                currency: currency.clone(),
                source_line: r.line,
            };
            if v2 {
                if let Some(a) = self.amount(&r, "amount", &currency, true) {
                    (self.sink)(Line {
                        amount_type: get(c_amount_type).into(),
                        description: get(c_description).into(),
                        amount: a,
                        ..base
                    });
                }
            } else {
                for (kind, column) in V1_AMOUNTS {
                    if let Some(a) = self.amount(&r, column, &currency, false) {
                        let description = match kind {
                            "" => String::new(),
                            k => r.get(k).to_string(),
                        };
                        (self.sink)(Line {
                            amount_type: column.trim_end_matches("-amount").into(),
                            description,
                            amount: a,
                            ..base.clone()
                        });
                    }
                }
            }
        }
    }

    /// Shopify Payments payout transactions (17 columns): each row gives an `amount` line and
    /// a `fee` line (the fee is deducted, so negated); Net must be Amount − Fee. A row of Type
    /// `payout` is the payout itself: −Net is its control total, not a line.
    fn shopify(&mut self, bytes: &[u8]) {
        self.processor(
            bytes,
            Processor {
                id: "Payout ID",
                posted: "Transaction Date",
                deposit: "Payout Date",
                order: "Order",
                merchant: "Checkout",
                kind: "Type",
                gross: "Amount",
                fee: "Fee",
                net: "Net",
                currency: "Currency",
                description: "Payment Method Name",
                gross_name: "amount",
                payout_kind: "payout",
            },
        );
    }

    /// Stripe itemized payout reconciliation: `gross` and `fee` lines per balance transaction,
    /// grouped by `automatic_payout_id`; the order reference is `payment_metadata[order_id]`
    /// when the report carries it. A `payout` row (if present) gives the control total (−net).
    fn stripe(&mut self, bytes: &[u8]) {
        self.processor(
            bytes,
            Processor {
                id: "automatic_payout_id",
                posted: "created_utc",
                deposit: "automatic_payout_effective_at",
                order: "payment_metadata[order_id]",
                merchant: "source_id",
                kind: "reporting_category",
                gross: "gross",
                fee: "fee",
                net: "net",
                currency: "currency",
                description: "description",
                gross_name: "gross",
                payout_kind: "payout",
            },
        );
    }

    fn processor(&mut self, bytes: &[u8], p: Processor) {
        let recs = records(bytes, b',', true);
        if self.broken(&recs) {
            return;
        }
        let Some(((hline, hrec), rows)) = recs.split_first() else {
            self.issue(1, "", "", "empty-file", "the file has no header".into());
            return;
        };
        let header = header_map(hrec);
        let needed = [p.id, p.posted, p.kind, p.gross, p.fee, p.net, p.currency];
        if !self.has_columns(*hline, &header, &needed) {
            return;
        }
        let mut summaries: BTreeMap<(String, String), Summary> = BTreeMap::new();
        for (line, rec) in rows {
            let r = Row {
                line: *line,
                rec,
                header: &header,
            };
            let currency = r.get(p.currency).to_ascii_uppercase();
            let id = r.get(p.id).to_string();
            let kind = r.get(p.kind).to_string();
            let gross = self.amount(&r, p.gross, &currency, false);
            let fee = self.amount(&r, p.fee, &currency, false);
            let net = self.amount(&r, p.net, &currency, false);
            let (g, f) = (gross.unwrap_or_default(), fee.unwrap_or_default());
            if let Some(n) = net.filter(|n| *n != g - f) {
                self.issue(
                    r.line,
                    p.net,
                    r.get(p.net),
                    "net",
                    format!("net {n} is not {} − {} = {}", g, f, g - f),
                );
            }
            let entry = summaries
                .entry((id.clone(), currency.clone()))
                .or_insert_with(|| Summary {
                    settlement_id: id.clone(),
                    period_start: String::new(),
                    period_end: String::new(),
                    deposit_date: r.get(p.deposit).into(),
                    currency: currency.clone(),
                    reported_total: None,
                    computed_total: Decimal::ZERO,
                    source_line: 0,
                });
            if kind == p.payout_kind {
                entry.reported_total = Some(-net.unwrap_or(g - f));
                entry.source_line = r.line;
                continue;
            }
            let base = Line {
                settlement_id: id,
                posted_at: r.get(p.posted).into(),
                order_ref: r.get(p.order).into(),
                merchant_order_ref: r.get(p.merchant).into(),
                transaction_type: kind,
                amount_type: String::new(),
                description: r.get(p.description).into(),
                component: String::new(),
                sku: String::new(),
                quantity: None,
                amount: Decimal::ZERO,
                currency,
                source_line: r.line,
            };
            if gross.is_some() {
                (self.sink)(Line {
                    amount_type: p.gross_name.into(),
                    amount: g,
                    ..base.clone()
                });
            }
            if fee.is_some_and(|f| !f.is_zero()) {
                (self.sink)(Line {
                    amount_type: "fee".into(),
                    amount: -f,
                    ..base
                });
            }
        }
        self.out.summaries.extend(summaries.into_values());
    }

    /// PayPal Settlement Report (STL): the row type is the first field. `RH` report header
    /// (date, window, account), `SH` section header (start, end, account), `CH` column names,
    /// `SB` a transaction (amounts in minor units, CR/DR in their own columns; a `gross` and a
    /// `fee` line each), `SF` the section's totals and `RF` the file's, per currency: currency,
    /// gross credits, gross debits, fee credits, fee debits. Each section is a settlement.
    fn paypal(&mut self, bytes: &[u8]) {
        let recs = records(bytes, b',', true);
        if self.broken(&recs) {
            return;
        }
        let mut header: Option<BTreeMap<String, usize>> = None;
        let mut section = String::new();
        let (mut start, mut end, mut account) = (String::new(), String::new(), String::new());
        // Per currency: the file's lines' sum and the RF totals.
        let mut file_sum: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut section_sum: BTreeMap<String, Decimal> = BTreeMap::new();
        for (line, rec) in &recs {
            let line = *line;
            let kind = rec.get(0).unwrap_or("").trim();
            let field = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
            match kind {
                "RH" => account = field(3),
                "SH" => {
                    (start, end) = (field(1), field(2));
                    if !field(3).is_empty() {
                        account = field(3);
                    }
                    section = format!("{account}-{start}");
                    section_sum.clear();
                }
                "CH" => header = Some(header_map(rec)),
                "SB" => {
                    let Some(h) = &header else {
                        self.issue(
                            line,
                            "",
                            "",
                            "structure",
                            "an SB row before its CH row".into(),
                        );
                        return;
                    };
                    if section.is_empty() {
                        self.issue(
                            line,
                            "",
                            "",
                            "structure",
                            "an SB row before any SH row".into(),
                        );
                        return;
                    }
                    let r = Row {
                        line,
                        rec,
                        header: h,
                    };
                    let currency = r.get("Gross Transaction Currency").to_string();
                    let fee_currency = match r.get("Fee Currency") {
                        "" => currency.clone(),
                        c => c.to_string(),
                    };
                    let gross = self.minor(
                        &r,
                        "Gross Transaction Amount",
                        "Transaction  Debit or Credit",
                        &currency,
                    );
                    let fee = self.minor(&r, "Fee Amount", "Fee Debit or Credit", &fee_currency);
                    let base = Line {
                        settlement_id: section.clone(),
                        posted_at: r.get("Transaction Completion Date").into(),
                        order_ref: r.get("Invoice ID").into(),
                        merchant_order_ref: r.get("Transaction ID").into(),
                        transaction_type: r.get("Transaction Event Code").into(),
                        amount_type: String::new(),
                        description: r.get("PayPal Reference ID Type").into(),
                        component: String::new(),
                        sku: String::new(),
                        quantity: None,
                        amount: Decimal::ZERO,
                        currency: currency.clone(),
                        source_line: line,
                    };
                    if let Some(g) = gross {
                        *section_sum.entry(currency.clone()).or_default() += g;
                        (self.sink)(Line {
                            amount_type: "gross".into(),
                            amount: g,
                            ..base.clone()
                        });
                    }
                    if let Some(f) = fee.filter(|f| !f.is_zero()) {
                        *section_sum.entry(fee_currency.clone()).or_default() += f;
                        (self.sink)(Line {
                            amount_type: "fee".into(),
                            amount: f,
                            currency: fee_currency,
                            ..base
                        });
                    }
                }
                "SF" | "RF" => {
                    let currency = field(1);
                    let Some(total) = self.footer_total(line, rec, &currency) else {
                        continue;
                    };
                    if kind == "SF" {
                        for (c, d) in std::mem::take(&mut section_sum) {
                            *file_sum.entry(c).or_default() += d;
                        }
                        self.out.summaries.push(Summary {
                            settlement_id: section.clone(),
                            period_start: start.clone(),
                            period_end: end.clone(),
                            deposit_date: end.clone(),
                            currency,
                            reported_total: Some(total),
                            computed_total: Decimal::ZERO,
                            source_line: line,
                        });
                    } else {
                        let computed = file_sum.get(&currency).copied().unwrap_or_default();
                        if computed != total {
                            self.issue(
                                line,
                                "",
                                &total.to_string(),
                                "control-total",
                                format!(
                                    "the file total (RF) in {currency} is {total}, its lines sum to {computed}, difference {}",
                                    total - computed
                                ),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        // Lines of a section with no SF footer still sum into the file total.
        for (c, d) in section_sum {
            *file_sum.entry(c).or_default() += d;
        }
    }

    /// A minor-units amount signed by its CR/DR column (credits add, debits subtract).
    fn minor(&mut self, r: &Row, column: &str, sign: &str, currency: &str) -> Option<Decimal> {
        let text = r.get(column);
        if text.is_empty() {
            return None;
        }
        let Ok(units) = text.parse::<i64>() else {
            self.issue(
                r.line,
                column,
                text,
                "type",
                format!("`{text}` is not a whole number of minor units"),
            );
            return None;
        };
        let d = from_minor(units, currency_scale(currency));
        match r.get(sign) {
            "CR" => Some(d),
            "DR" => Some(-d),
            other => {
                self.issue(
                    r.line,
                    sign,
                    other,
                    "debit-credit",
                    format!("`{other}` is neither CR nor DR"),
                );
                None
            }
        }
    }

    /// An SF/RF row's net: gross credits − gross debits + fee credits − fee debits.
    fn footer_total(
        &mut self,
        line: u64,
        rec: &csv::StringRecord,
        currency: &str,
    ) -> Option<Decimal> {
        let mut total = Decimal::ZERO;
        for (i, sign) in [(2, 1), (3, -1), (4, 1), (5, -1)] {
            let text = rec.get(i).unwrap_or("").trim();
            let Ok(units) = text.parse::<i64>() else {
                self.issue(
                    line,
                    &(i + 1).to_string(),
                    text,
                    "type",
                    format!(
                        "footer field {} `{text}` is not a whole number of minor units",
                        i + 1
                    ),
                );
                return None;
            };
            total += from_minor(units * sign, currency_scale(currency));
        }
        Some(total)
    }
}

/// Amazon V1's amount columns, each with the column naming its type ("" for none).
const V1_AMOUNTS: [(&str, &str); 9] = [
    ("shipment-fee-type", "shipment-fee-amount"),
    ("order-fee-type", "order-fee-amount"),
    ("price-type", "price-amount"),
    ("item-related-fee-type", "item-related-fee-amount"),
    ("", "misc-fee-amount"),
    ("other-fee-reason-description", "other-fee-amount"),
    ("promotion-type", "promotion-amount"),
    ("direct-payment-type", "direct-payment-amount"),
    ("", "other-amount"),
];

/// Which columns of a processor export say what.
struct Processor {
    id: &'static str,
    posted: &'static str,
    deposit: &'static str,
    order: &'static str,
    merchant: &'static str,
    kind: &'static str,
    gross: &'static str,
    fee: &'static str,
    net: &'static str,
    currency: &'static str,
    description: &'static str,
    /// The amount type of the gross line.
    gross_name: &'static str,
    /// The row kind that is the payout itself.
    payout_kind: &'static str,
}
