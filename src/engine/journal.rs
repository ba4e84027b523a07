//! The general-ledger journal of settlements: one line per (settlement, currency, account),
//! accounts named from the components by the pipeline's mapping, summing exactly to each
//! settlement's deposit (a settlement that does not foot gets a line for the difference on the
//! difference account, so what finance posts always equals what reached the bank). Pure.

use std::collections::BTreeMap;

use polars::prelude::*;
use rust_decimal::Decimal;

use crate::frame::{decimal_column, text_column};

/// Accounts per component; a component with no account posts to an account named after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    pub by_component: BTreeMap<String, String>,
    /// Where a settlement's unfooted difference goes (default `settlement_difference`).
    pub difference: Option<String>,
    /// The bank account the deposit reaches: when set, a balancing line of −deposit is added
    /// (the journal then sums to zero instead of to the deposit).
    pub bank: Option<String>,
}

/// The journal's columns.
pub const COLUMNS: [&str; 5] = [
    "settlement_id",
    "currency",
    "account",
    "components",
    "amount",
];

fn texts(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?
        .iter()
        .map(|v| v.unwrap_or("").trim().to_string())
        .collect())
}

fn decimals(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<Decimal>>> {
    texts(df, name)?
        .iter()
        .map(|s| match s.as_str() {
            "" => Ok(None),
            s => s.parse::<Decimal>().map(Some).map_err(
                |_| polars_err!(ComputeError: "`{}` is not an exact decimal in `{}`", s, name),
            ),
        })
        .collect()
}

fn trimmed(v: Option<&str>) -> &str {
    v.unwrap_or("").trim()
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub settlement_id: String,
    pub currency: String,
    pub account: String,
    pub components: String,
    pub amount: Decimal,
}

/// The journal of `lines` (`settlement_id`, `currency`, `component`, `amount`) against
/// `summary` (`settlement_id`, `currency`, `reported_total`): sorted by settlement, currency,
/// account, with the difference line (and the bank line) last in each settlement.
pub fn journal_entries(
    lines: &DataFrame,
    summary: &DataFrame,
    accounts: &Accounts,
) -> PolarsResult<Vec<Entry>> {
    type Key = (String, String);
    let (ids, currencies, components) = (
        text_column(lines, "settlement_id")?,
        text_column(lines, "currency")?,
        text_column(lines, "component")?,
    );
    let amounts = decimal_column(
        lines,
        "amount",
        &|_, s| polars_err!(ComputeError: "`{}` is not an exact decimal in `{}`", s, "amount"),
    )?;
    // Summed per (settlement, currency, component) on borrowed text first (a handful of
    // keys for a million lines), then per account.
    let mut sums: PlHashMap<(&str, &str, &str), Decimal> = PlHashMap::new();
    let rows = ids
        .iter()
        .zip(currencies.iter())
        .zip(components.iter())
        .zip(&amounts);
    for (((id, currency), component), amount) in rows {
        let amount = amount.unwrap_or_default();
        *sums
            .entry((trimmed(id), trimmed(currency), trimmed(component)))
            .or_default() += amount;
    }
    let mut sums: Vec<((&str, &str, &str), Decimal)> = sums.into_iter().collect();
    sums.sort_by(|a, b| a.0.cmp(&b.0));
    let mut by: BTreeMap<Key, BTreeMap<String, (Vec<String>, Decimal)>> = BTreeMap::new();
    let mut computed: BTreeMap<Key, Decimal> = BTreeMap::new();
    for ((id, currency, component), amount) in sums {
        let key = (id.to_string(), currency.to_string());
        let account = accounts
            .by_component
            .get(component)
            .cloned()
            .unwrap_or_else(|| component.to_string());
        let e = by
            .entry(key.clone())
            .or_default()
            .entry(account)
            .or_default();
        e.0.push(component.to_string());
        e.1 += amount;
        *computed.entry(key).or_default() += amount;
    }
    let (sids, scur, reported) = (
        texts(summary, "settlement_id")?,
        texts(summary, "currency")?,
        decimals(summary, "reported_total")?,
    );
    let mut deposits: BTreeMap<Key, Decimal> = BTreeMap::new();
    for i in 0..sids.len() {
        let key = (sids[i].clone(), scur[i].clone());
        let deposit =
            reported[i].unwrap_or_else(|| computed.get(&key).copied().unwrap_or_default());
        deposits.insert(key.clone(), deposit);
        by.entry(key).or_default();
    }
    let difference_account = accounts
        .difference
        .clone()
        .unwrap_or_else(|| "settlement_difference".into());
    let mut out = Vec::new();
    for ((id, currency), accts) in by {
        let key = (id.clone(), currency.clone());
        let sum = computed.get(&key).copied().unwrap_or_default();
        let deposit = deposits.get(&key).copied().unwrap_or(sum);
        for (account, (mut comps, amount)) in accts {
            comps.sort();
            out.push(Entry {
                settlement_id: id.clone(),
                currency: currency.clone(),
                account,
                components: comps.join("+"),
                amount,
            });
        }
        if deposit != sum {
            out.push(Entry {
                settlement_id: id.clone(),
                currency: currency.clone(),
                account: difference_account.clone(),
                components: String::new(),
                amount: deposit - sum,
            });
        }
        if let Some(bank) = &accounts.bank {
            out.push(Entry {
                settlement_id: id.clone(),
                currency: currency.clone(),
                account: bank.clone(),
                components: "deposit".into(),
                amount: -deposit,
            });
        }
    }
    Ok(out)
}

/// [`journal_entries`] as a table; `amount` an exact decimal.
pub fn journal(
    lines: &DataFrame,
    summary: &DataFrame,
    accounts: &Accounts,
) -> PolarsResult<DataFrame> {
    let e = journal_entries(lines, summary, accounts)?;
    let scale = e
        .iter()
        .map(|x| x.amount.scale() as usize)
        .max()
        .unwrap_or(0);
    let s = |f: &dyn Fn(&Entry) -> String, name: &str| {
        Column::new(name.into(), e.iter().map(f).collect::<Vec<_>>())
    };
    DataFrame::new(
        e.len(),
        vec![
            s(&|x| x.settlement_id.clone(), "settlement_id"),
            s(&|x| x.currency.clone(), "currency"),
            s(&|x| x.account.clone(), "account"),
            s(&|x| x.components.clone(), "components"),
            s(&|x| x.amount.to_string(), "amount").cast(&DataType::Decimal(38, scale))?,
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn df(cols: &[(&str, &[&str])]) -> DataFrame {
        let h = cols[0].1.len();
        DataFrame::new(
            h,
            cols.iter()
                .map(|(n, v)| Column::new((*n).into(), v.to_vec()))
                .collect(),
        )
        .unwrap()
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn lines_per_account_sum_to_the_deposit_and_a_difference_is_posted() {
        let lines = df(&[
            ("settlement_id", &["S1", "S1", "S1", "S1", "S2"]),
            ("currency", &["EUR", "EUR", "EUR", "EUR", "JPY"]),
            (
                "component",
                &[
                    "principal",
                    "tax",
                    "marketplace_fee",
                    "fulfilment_fee",
                    "principal",
                ],
            ),
            ("amount", &["100.00", "19.00", "-15.00", "-3.50", "5000"]),
        ]);
        let summary = df(&[
            ("settlement_id", &["S1", "S2"]),
            ("currency", &["EUR", "JPY"]),
            ("reported_total", &["101.00", "5000"]),
        ]);
        let accounts = Accounts {
            by_component: BTreeMap::from([
                ("principal".to_string(), "4000 Sales".to_string()),
                ("tax".to_string(), "2200 VAT".to_string()),
                ("marketplace_fee".to_string(), "6100 Fees".to_string()),
                ("fulfilment_fee".to_string(), "6100 Fees".to_string()),
            ]),
            difference: None,
            bank: None,
        };
        let e = journal_entries(&lines, &summary, &accounts).unwrap();
        let got: Vec<(&str, &str, &str, Decimal)> = e
            .iter()
            .map(|x| {
                (
                    x.settlement_id.as_str(),
                    x.account.as_str(),
                    x.components.as_str(),
                    x.amount,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("S1", "2200 VAT", "tax", d("19.00")),
                ("S1", "4000 Sales", "principal", d("100.00")),
                (
                    "S1",
                    "6100 Fees",
                    "fulfilment_fee+marketplace_fee",
                    d("-18.50")
                ),
                ("S1", "settlement_difference", "", d("0.50")),
                ("S2", "4000 Sales", "principal", d("5000")),
            ]
        );
        let s1: Decimal = e
            .iter()
            .filter(|x| x.settlement_id == "S1")
            .map(|x| x.amount)
            .sum();
        assert_eq!(s1, d("101.00"));
        // With a bank account, each settlement balances to zero.
        let with_bank = Accounts {
            bank: Some("1200 Bank".into()),
            ..accounts
        };
        let e = journal_entries(&lines, &summary, &with_bank).unwrap();
        assert_eq!(e.iter().map(|x| x.amount).sum::<Decimal>(), Decimal::ZERO);
        let t = journal(&lines, &summary, &with_bank).unwrap();
        assert_eq!(
            t.column("amount").unwrap().dtype(),
            &DataType::Decimal(38, 2)
        );
    }
}
