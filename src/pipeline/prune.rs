//! Which tables and columns a pipeline reads after validation (from its outputs, reconcile,
//! settlement steps and the `Needs` of its transforms' SQL, worked out when the configuration is
//! compiled), so that what nothing reads is let go before the big steps run.

use polars::prelude::*;

use crate::config::Pipeline;
use crate::engine::needs::Needs;

/// Whether a table is written by an output or (when `by_sql`) named by a transform's SQL;
/// `breaks` is always kept (reports read it).
pub fn is_used(p: &Pipeline, needs: &Needs, name: &str, by_sql: bool) -> bool {
    name == "breaks"
        || p.breaks.as_ref().is_some_and(|b| b.table == name)
        || p.outputs.iter().any(|o| o.table == name)
        || (by_sql && needs.names(name))
}

/// `df` (the `input` or `erp` table) without the columns nothing after validation reads: a
/// column is kept when reconcile uses it on this side (key, compared or carried), the
/// settlement steps read it, or a transform's SQL names it; every column is kept when the table
/// is an output itself or a transform selects `*`. Unread columns (free text, timestamps) are a
/// large share of a wide file's memory.
pub fn prune(p: &Pipeline, needs: &Needs, table: &str, df: DataFrame) -> PolarsResult<DataFrame> {
    let mut side_columns: Vec<&String> = Vec::new();
    if let Some(r) = &p.reconcile {
        if table == "input" {
            side_columns.extend(r.keys.iter().map(|k| &k.0));
            side_columns.extend(r.compare.iter().map(|c| &c.partner));
            side_columns.extend(&r.carry_partner);
        } else {
            side_columns.extend(r.keys.iter().map(|k| &k.1));
            side_columns.extend(r.compare.iter().map(|c| &c.erp));
            side_columns.extend(&r.carry_erp);
        }
    }
    let settlement = super::settlement::needed_columns(p, table);
    side_columns.extend(&settlement);
    // A catalog's columns are read by its layout (`engine::catalog`), not named by the SQL.
    if p.outputs.iter().any(|o| o.table == table)
        || (p.catalog.is_some() && table == "input")
        || p.breaks.as_ref().is_some_and(|b| b.table == table)
        || needs.star()
        || ((p.orders.is_some() || p.shipments.is_some() || p.invoices.is_some())
            && table == "input")
        // Both sides of returns are read by `engine::returns`, a shipment's ERP order status
        // by `engine::shipments`.
        || p.returns.is_some()
        || (p.shipments.is_some() && table == "erp")
    {
        return Ok(df);
    }
    let keep: Vec<PlSmallStr> = df
        .get_column_names()
        .into_iter()
        .filter(|c| side_columns.iter().any(|s| s.as_str() == c.as_str()) || needs.names(c))
        .cloned()
        .collect();
    if keep.len() == df.width() {
        return Ok(df);
    }
    df.select(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_columns_the_sql_names_whatever_their_characters() {
        let p = crate::pipeline::tests::pipeline(
            "",
            &[(
                "fees",
                r#"SELECT "sku#", "Fee (USD)" FROM input WHERE "sku#" <> 'memo'"#,
            )],
            &[("fees", "fees.csv")],
        );
        let df = df!(
            "sku#" => ["A1"],
            "Fee (USD)" => [1.5],
            "Fee" => [9.0],
            "memo" => ["free text"],
        )
        .unwrap();
        let kept = prune(&p, &p.needs, "input", df).unwrap();
        let names: Vec<&str> = kept.get_column_names().iter().map(|c| c.as_str()).collect();
        assert_eq!(names, ["sku#", "Fee (USD)"]);
    }
}
