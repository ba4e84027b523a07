//! `[reconcile]`: key pairs, compared columns with their tolerances and carried columns,
//! checked against both schemas and compiled into the engine's `Reconcile`.

use rust_decimal::Decimal;

use super::compile::Errs;
use super::pipeline::Erp;
use super::raw::{CarryRaw, CompareRaw, KeyPairRaw, PipelineRaw};
use crate::engine::spec::{ComparePair, Reconcile};
use crate::schema::TableSchema;

/// Compiles `[reconcile]`; `schema` and `erp` are the input's and the extract's (when they
/// compiled), so every column named is checked against them.
pub(crate) fn compile(
    raw: &PipelineRaw,
    schema: &Option<TableSchema>,
    erp: &Option<Erp>,
    errs: &mut Errs,
) -> Option<Reconcile> {
    raw.reconcile.as_ref().map(|r| {
        if erp.is_none() && raw.erp.is_none() {
            errs.add("reconcile", "reconcile needs an [erp] extract".into());
        }
        check_keys(&r.keys, schema, erp, errs);
        let compare: Vec<ComparePair> = r.compare.iter().map(|c| compare_pair(c, errs)).collect();
        check_carry(&r.carry, &compare, schema, erp, errs);
        Reconcile {
            keys: r
                .keys
                .iter()
                .map(|k| (k.partner.clone(), k.erp.clone()))
                .collect(),
            compare,
            carry_partner: r.carry.partner.clone(),
            carry_erp: r.carry.erp.clone(),
        }
    })
}

/// At least one key pair, each column in its side's schema.
fn check_keys(
    keys: &[KeyPairRaw],
    schema: &Option<TableSchema>,
    erp: &Option<Erp>,
    errs: &mut Errs,
) {
    if keys.is_empty() {
        errs.add("reconcile.keys", "at least one key pair is needed".into());
    }
    for k in keys {
        if let Some(s) = &schema {
            if s.field(&k.partner).is_none() {
                errs.add(
                    "reconcile.keys",
                    format!(
                        "partner column `{}` is not in schema `{}`",
                        k.partner, s.name
                    ),
                );
            }
        }
        if let Some(e) = &erp {
            if e.schema.field(&k.erp).is_none() {
                errs.add(
                    "reconcile.keys",
                    format!(
                        "ERP column `{}` is not in schema `{}`",
                        k.erp, e.schema.name
                    ),
                );
            }
        }
    }
}

/// A compared pair with its tolerances (exact decimals, zero when not given).
fn compare_pair(c: &CompareRaw, errs: &mut Errs) -> ComparePair {
    let mut tol = |key: &str, v: &Option<String>| -> Decimal {
        match v.as_deref().map(str::parse::<Decimal>) {
            None => Decimal::ZERO,
            Some(Ok(d)) if d >= Decimal::ZERO => d,
            _ => {
                errs.add(
                    key,
                    format!(
                        "`{}` is not a non-negative decimal",
                        v.as_deref().unwrap_or_default()
                    ),
                );
                Decimal::ZERO
            }
        }
    };
    let abs_tolerance = tol("reconcile.compare.abs_tolerance", &c.abs_tolerance);
    let rel_tolerance = tol("reconcile.compare.rel_tolerance", &c.rel_tolerance);
    ComparePair {
        partner: c.partner.clone(),
        erp: c.erp.clone(),
        abs_tolerance,
        rel_tolerance,
    }
}

/// Carried columns exist on their side and are not compared already (the compared ones have
/// their `partner_`/`erp_` columns).
fn check_carry(
    carry: &CarryRaw,
    compare: &[ComparePair],
    schema: &Option<TableSchema>,
    erp: &Option<Erp>,
    errs: &mut Errs,
) {
    for c in &carry.partner {
        let clash = compare.iter().any(|p| &p.partner == c);
        match &schema {
            Some(s) if s.field(c).is_none() => errs.add(
                "reconcile.carry.partner",
                format!("partner column `{c}` is not in schema `{}`", s.name),
            ),
            _ if clash => errs.add(
                "reconcile.carry.partner",
                format!("`{c}` is compared already (its `partner_{c}` column exists)"),
            ),
            _ => {}
        }
    }
    for c in &carry.erp {
        let clash = compare.iter().any(|p| &p.erp == c);
        match &erp {
            Some(e) if e.schema.field(c).is_none() => errs.add(
                "reconcile.carry.erp",
                format!("ERP column `{c}` is not in schema `{}`", e.schema.name),
            ),
            _ if clash => errs.add(
                "reconcile.carry.erp",
                format!("`{c}` is compared already (its `erp_{c}` column exists)"),
            ),
            _ => {}
        }
    }
}
