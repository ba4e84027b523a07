//! `settlement_lines` built as typed columns while the file is read: text as strings, the
//! quantity and source line as integers, the amount as an exact decimal (i128 mantissas at the
//! largest currency scale present, as the rendered table parsed back would have been), so the
//! table is never rendered as CSV and parsed again.

use polars::prelude::*;

use super::money::currency_scale;
use super::{read_each, Components, Layout, Line, Settlement, LINE_COLUMNS};

/// The text columns of `settlement_lines`, in table order.
const TEXT: [&str; 9] = [
    "settlement_id",
    "posted_at",
    "order_ref",
    "merchant_order_ref",
    "transaction_type",
    "amount_type",
    "description",
    "component",
    "sku",
];

struct Builder {
    text: Vec<StringChunkedBuilder>,
    currency: StringChunkedBuilder,
    quantity: Vec<Option<i64>>,
    /// Each amount's mantissa at its currency's scale, and that scale.
    mantissas: Vec<i128>,
    scales: Vec<u8>,
    source_lines: Vec<i64>,
    /// Values that are null in the table (the schema's missing values).
    missing: Vec<String>,
}

impl Builder {
    fn push_text(b: &mut StringChunkedBuilder, missing: &[String], v: &str) {
        if missing.iter().any(|m| m == v) {
            b.append_null();
        } else {
            b.append_value(v);
        }
    }

    fn push(&mut self, l: &Line) {
        let texts = [
            &l.settlement_id,
            &l.posted_at,
            &l.order_ref,
            &l.merchant_order_ref,
            &l.transaction_type,
            &l.amount_type,
            &l.description,
            &l.component,
            &l.sku,
        ];
        for (b, v) in self.text.iter_mut().zip(texts) {
            Self::push_text(b, &self.missing, v);
        }
        Self::push_text(&mut self.currency, &self.missing, &l.currency);
        self.quantity.push(l.quantity);
        let scale = currency_scale(&l.currency);
        let mut amount = l.amount;
        // The layouts refuse an amount with more places than its currency: exact.
        amount.rescale(scale);
        self.mantissas.push(amount.mantissa());
        self.scales.push(scale as u8);
        self.source_lines.push(l.source_line as i64);
    }

    fn finish(self) -> PolarsResult<DataFrame> {
        let height = self.source_lines.len();
        let scale = self.scales.iter().copied().max().unwrap_or(0);
        let mut mantissas = self.mantissas;
        for (m, s) in mantissas.iter_mut().zip(&self.scales) {
            if *s < scale {
                *m *= 10i128.pow(u32::from(scale - *s));
            }
        }
        let amount = Int128Chunked::from_vec("amount".into(), mantissas)
            .into_decimal(38, usize::from(scale))?
            .into_column();
        let mut text = self.text.into_iter().map(|b| b.finish().into_column());
        let mut columns: Vec<Column> = text.by_ref().take(9).collect();
        columns.push(Column::new("quantity".into(), self.quantity));
        columns.push(amount);
        columns.push(self.currency.finish().into_column());
        columns.push(Column::new("source_line".into(), self.source_lines));
        DataFrame::new(height, columns)
    }
}

/// Reads `bytes` as `layout` into `settlement_lines` with typed columns (see the module);
/// text equal to one of `missing` is null, as a CSV reader would make it.
pub fn read_lines_frame(
    file: &str,
    layout: Layout,
    bytes: &[u8],
    components: &Components,
    missing: &[String],
) -> PolarsResult<(Settlement, DataFrame)> {
    let mut b = Builder {
        text: TEXT
            .iter()
            .map(|n| StringChunkedBuilder::new((*n).into(), 0))
            .collect(),
        currency: StringChunkedBuilder::new("currency".into(), 0),
        quantity: Vec::new(),
        mantissas: Vec::new(),
        scales: Vec::new(),
        source_lines: Vec::new(),
        missing: missing.to_vec(),
    };
    let s = read_each(file, layout, bytes, components, &mut |l| b.push(&l));
    let df = b.finish()?;
    debug_assert_eq!(
        df.get_column_names()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        LINE_COLUMNS
    );
    Ok((s, df))
}
