//! What the engine is asked to do, as its own input types: the compiled `[reconcile]` and
//! `[[transforms]]` of a pipeline. `config` compiles into these, so the engine never reads config.

use rust_decimal::Decimal;

#[derive(Debug, Clone)]
pub struct ComparePair {
    pub partner: String,
    pub erp: String,
    pub abs_tolerance: Decimal,
    pub rel_tolerance: Decimal,
}

#[derive(Debug, Clone)]
pub struct Reconcile {
    /// (partner column, ERP column)
    pub keys: Vec<(String, String)>,
    pub compare: Vec<ComparePair>,
    /// Partner columns copied into the reconciled table as `partner_<name>`.
    pub carry_partner: Vec<String>,
    /// ERP columns copied into the reconciled table as `erp_<name>`.
    pub carry_erp: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Transform {
    pub name: String,
    pub sql: String,
}
