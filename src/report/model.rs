//! Plain input types for one run's exception report, filled in by the core from its DataFrames.
//!
//! Everything here is owned data with no behaviour beyond small derived facts, so that the
//! engine can build a `RunReport` row by row (one `Break` per break row, one `MoneyTotal` per
//! group of a `group_by([currency, status])`) without knowing how reports are rendered.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::issue::Issue;

/// Everything one run has to tell the people who must act.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Pipeline id (the pipeline file's stem).
    pub pipeline: String,
    /// The business date the run was for (not the wall-clock day it ran).
    pub business_date: NaiveDate,
    /// The run's id as recorded in the ledger and used in the archive path.
    pub run_id: String,
    /// IANA time zone name of the pipeline (e.g. `Europe/Berlin`), shown so readers know
    /// which day `business_date` means.
    pub time_zone: String,
    /// Reconciliation outcome; `None` for pipelines that only validate and transform.
    pub reconciliation: Option<ReconSummary>,
    /// Every break (non-matched reconciliation row); the email shows the top N, the CSV all.
    pub breaks: Vec<Break>,
    /// Every data problem found while parsing and validating.
    pub issues: Vec<Issue>,
    /// Files whose content was already processed for this pipeline and were skipped.
    pub duplicates: Vec<FileNote>,
    /// Files that arrived under a known name with new content (processed, but flagged).
    pub corrections: Vec<FileNote>,
    /// Files rejected whole and moved to quarantine.
    pub quarantined: Vec<FileNote>,
    /// Set when the run is a rerun: which run it replays, who asked and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<RerunNote>,
    /// Acknowledgements (997, TA1) the run sent the partner, by file name: part of the verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acknowledgements: Vec<String>,
    /// Files held, not processed yet and not the partner's fault: waiting for their ERP
    /// extract, or failed on the pipeline's configuration until a rerun after the fix.
    #[serde(default)]
    pub held: Vec<FileNote>,
    /// A settlement run's money (deposits and footing, components, variance per status): what
    /// finance reads first. Absent for other pipelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<SettlementMoney>,
    /// The pipeline's open-item book after this run: new, still open, closed today, aging.
    /// Absent for pipelines that keep no book.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_items: Option<OpenItemsNote>,
    /// A catalog run's change set and what became of the catalog. Absent for other pipelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<CatalogNote>,
    /// What an orders or shipments run did with the orders of its file (verdicts or shipment
    /// statuses, counted). Absent for other pipelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<OrdersNote>,
    /// A CSV file whose header differs from its schema: how, and the schema patch proposed.
    /// Absent when the header matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_drift: Option<DriftNote>,
}

/// How a file's header differs from its schema (`schema::drift`), and the JSON Patch of the
/// schema file that would accept it, archived as `schema.patch.json` in the run's folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftNote {
    /// The schema's name (`schemas/<schema>.json`).
    pub schema: String,
    /// Each change as a sentence, in column order.
    pub changes: Vec<String>,
    /// The patch file, relative to the home; absent when no patch could be made (the schema
    /// file unreadable), with why in `no_patch`.
    pub patch_file: Option<String>,
    /// The patch as written to `patch_file` (pretty JSON), for the report.
    pub patch: Option<String>,
    /// sha256 of the schema file the patch was made against: `tallyman schema apply RUN`
    /// refuses a schema that changed since.
    pub schema_sha256: Option<String>,
    pub no_patch: Option<String>,
}

/// The orders of a run's file, counted per verdict (`new`, `duplicate`, ...) or per shipment
/// status (`complete`, `short`, ...), with the channel they belong to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrdersNote {
    pub channel: String,
    /// `orders` (an intake), `shipments`, `invoices`, `returns` or `settled orders`.
    pub kind: String,
    pub counts: Vec<(String, u64)>,
}

/// What a catalog run found and did: its change set against the last accepted catalog, and
/// the version it published or why it was held.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CatalogNote {
    pub source: String,
    /// "412 new, 1,033 changed (price 900, description 133), 12 removed, 8 unchanged".
    pub summary: String,
    /// The version compared with (`None`: the source's first catalog).
    pub previous_version: Option<i64>,
    /// The version this run published.
    pub version: Option<i64>,
    /// Why the catalog was held (not applied).
    pub held: Option<String>,
    /// The first rows of `catalog_changes` (by SKU), for the people reading the report; the
    /// delta feed and the table have them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<CatalogChangeLine>,
    /// Rows of `catalog_changes` beyond those listed.
    #[serde(default)]
    pub more_changes: usize,
}

/// One row of `catalog_changes` as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CatalogChangeLine {
    pub sku: String,
    pub change: String,
    pub field: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// How many change rows a report lists.
pub const CATALOG_CHANGES_LISTED: usize = 20;

/// What the run did to the open-item book, and the book after it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OpenItemsNote {
    /// Items first seen in this run.
    pub new: usize,
    /// Items closed earlier and seen again.
    pub reopened: usize,
    /// Items open before and seen again.
    pub still_open: usize,
    /// Items this run closed (matched or gone), with their amounts per currency.
    pub closed: usize,
    pub closed_amounts: Vec<CurrencyAmount>,
    /// Open items carried within their grace (a timing difference: no alert yet).
    pub carried: usize,
    /// Open items past grace and not acknowledged: the exceptions.
    pub exceptions: usize,
    /// Acknowledged items: listed, never alerted on again.
    pub acknowledged: Vec<OpenItemLine>,
    /// Open items per aging bucket, in order.
    pub buckets: Vec<AgingBucket>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyAmount {
    /// Empty for quantities and amounts without a currency.
    pub currency: String,
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgingBucket {
    pub name: String,
    pub count: usize,
    pub amounts: Vec<CurrencyAmount>,
}

/// One open item as a line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenItemLine {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub age_days: i64,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    /// Who acknowledged it and why.
    pub note: String,
}

/// What a settlement paid, and whether it adds up.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SettlementMoney {
    pub deposits: Vec<Deposit>,
    /// Per (currency, component), in that order.
    pub components: Vec<ComponentTotal>,
    /// Per (status, currency) of the many-to-one matching, in status order.
    pub variance: Vec<VarianceTotal>,
}

/// One settlement and currency: the deposit (the file's control total) and the lines' sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    pub settlement_id: String,
    pub currency: String,
    pub deposit: Decimal,
    pub computed: Decimal,
    pub difference: Decimal,
    pub foots: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentTotal {
    pub currency: String,
    pub component: String,
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarianceTotal {
    pub status: String,
    pub currency: String,
    pub count: u64,
    pub expected: Decimal,
    pub settled: Decimal,
    pub difference: Decimal,
}

/// Who replayed which run, and why (as recorded in the ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RerunNote {
    /// The run replayed.
    pub of: String,
    pub actor: String,
    pub reason: String,
    /// What differs from the replayed run (inputs, outputs, counts), one line each; filled in
    /// once the rerun has compared the two (empty: nothing differs, or not compared).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

/// One file mentioned in the report by name and content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileNote {
    /// The file's name as received (never a full local path).
    pub name: String,
    /// Hex sha256 of the file's bytes, as in the ledger.
    pub sha256: String,
    /// Why the file is listed, in one human sentence.
    pub reason: String,
}

/// The status of one reconciled key, as the reconcile step's `status` column spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconStatus {
    Matched,
    Mismatched,
    OnlyInPartner,
    OnlyInErp,
    DuplicateKey,
}

impl ReconStatus {
    /// All statuses in report order (what matters to finance first after `matched`).
    pub const ALL: [ReconStatus; 5] = [
        ReconStatus::Matched,
        ReconStatus::Mismatched,
        ReconStatus::OnlyInPartner,
        ReconStatus::OnlyInErp,
        ReconStatus::DuplicateKey,
    ];

    /// The snake_case name used in DataFrames, CSV and HTML attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            ReconStatus::Matched => "matched",
            ReconStatus::Mismatched => "mismatched",
            ReconStatus::OnlyInPartner => "only_in_partner",
            ReconStatus::OnlyInErp => "only_in_erp",
            ReconStatus::DuplicateKey => "duplicate_key",
        }
    }

    /// Parses the snake_case name (what a DataFrame's status column holds).
    pub fn parse(s: &str) -> Option<ReconStatus> {
        ReconStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// A label for humans.
    pub fn label(self) -> &'static str {
        match self {
            ReconStatus::Matched => "Matched",
            ReconStatus::Mismatched => "Mismatched",
            ReconStatus::OnlyInPartner => "Only in partner",
            ReconStatus::OnlyInErp => "Only in ERP",
            ReconStatus::DuplicateKey => "Duplicate key",
        }
    }
}

/// Reconciliation totals: counts per status and money per (currency, status).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReconSummary {
    /// Number of keys per status.
    pub counts: StatusCounts,
    /// Exact money totals, one entry per (currency, status) group that has rows.
    pub totals: Vec<MoneyTotal>,
}

/// Number of reconciled keys per status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatusCounts {
    pub matched: u64,
    pub mismatched: u64,
    pub only_in_partner: u64,
    pub only_in_erp: u64,
    pub duplicate_key: u64,
}

impl StatusCounts {
    /// The count for one status.
    pub fn get(&self, status: ReconStatus) -> u64 {
        match status {
            ReconStatus::Matched => self.matched,
            ReconStatus::Mismatched => self.mismatched,
            ReconStatus::OnlyInPartner => self.only_in_partner,
            ReconStatus::OnlyInErp => self.only_in_erp,
            ReconStatus::DuplicateKey => self.duplicate_key,
        }
    }

    /// Keys that did not match (everything but `matched`).
    pub fn unmatched(&self) -> u64 {
        self.mismatched + self.only_in_partner + self.only_in_erp + self.duplicate_key
    }
}

/// Money for one (currency, status) group, summed exactly over the group's rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyTotal {
    /// ISO 4217 code as found in the data (e.g. `EUR`).
    pub currency: String,
    pub status: ReconStatus,
    /// Number of keys in the group.
    pub count: u64,
    /// Sum of the partner side's amounts (missing sides count as zero).
    pub partner: Decimal,
    /// Sum of the ERP side's amounts (missing sides count as zero).
    pub erp: Decimal,
    /// Sum of `partner - erp` over the group.
    pub difference: Decimal,
}

/// One reconciliation break: a key that did not match, with the measures that differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Break {
    /// The join key as (column name, value) pairs, in the pipeline's key order.
    pub keys: Vec<(String, String)>,
    /// The reconcile status; for a break from a pipeline's own breaks table whose status is
    /// none of them, `Mismatched`, with the table's wording in `kind`.
    pub status: ReconStatus,
    /// The status as the pipeline's `[breaks]` table spells it, when it is no reconcile
    /// status (e.g. `fee_mismatch`). Absent in reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Currency of the money measures, when the row has one.
    pub currency: Option<String>,
    /// Compared values; a side is `None` when the key is missing on that side.
    pub measures: Vec<Measure>,
}

/// One compared value of a break.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measure {
    /// Column name, e.g. `amount` or `fee`.
    pub name: String,
    pub partner: Option<Decimal>,
    pub erp: Option<Decimal>,
    /// `partner - erp` as the reconcile step computed it (it may apply tolerances or signs);
    /// `None` lets the report compute it with missing sides as zero.
    pub difference: Option<Decimal>,
}

impl Measure {
    /// The difference as given, or `partner - erp` with a missing side as zero.
    pub fn effective_difference(&self) -> Decimal {
        self.difference.unwrap_or_else(|| {
            self.partner.unwrap_or(Decimal::ZERO) - self.erp.unwrap_or(Decimal::ZERO)
        })
    }
}

impl Break {
    /// The status as the data spells it: `kind` when there is one, else the reconcile status.
    pub fn status_text(&self) -> &str {
        self.kind.as_deref().unwrap_or(self.status.as_str())
    }

    /// The status for humans: `kind` as written, else the reconcile status' label.
    pub fn status_label(&self) -> &str {
        self.kind.as_deref().unwrap_or(self.status.label())
    }

    /// How big the break is: the largest absolute difference over its measures. Breaks are
    /// ranked by this so the email's top N are the ones worth the most money.
    pub fn magnitude(&self) -> Decimal {
        self.measures
            .iter()
            .map(|m| m.effective_difference().abs())
            .max()
            .unwrap_or(Decimal::ZERO)
    }
}

impl RunReport {
    /// True when there is anything for a human to look at.
    pub fn has_problems(&self) -> bool {
        // With an open-item book, breaks alert only as exceptions: items past their grace and
        // not acknowledged (carried timing differences and items someone is on stay quiet).
        let breaks_alert = match &self.open_items {
            Some(note) => note.exceptions > 0,
            None => !self.breaks.is_empty(),
        };
        breaks_alert
            || !self.issues.is_empty()
            || !self.duplicates.is_empty()
            || !self.corrections.is_empty()
            || !self.quarantined.is_empty()
            || !self.held.is_empty()
    }

    /// The one-line summary used in the subject, e.g. `3 breaks, 2 issues`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = [
            (self.breaks.len(), "break", "breaks"),
            (self.issues.len(), "issue", "issues"),
            (
                self.quarantined.len(),
                "quarantined file",
                "quarantined files",
            ),
            (self.held.len(), "held file", "held files"),
            (self.corrections.len(), "correction", "corrections"),
            (self.duplicates.len(), "duplicate file", "duplicate files"),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
        .collect();
        if parts.is_empty() {
            "no problems".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// Net money per currency over every reconciled key: (currency, partner, erp, difference),
    /// summed exactly from the per-status totals, in currency order.
    pub fn net_by_currency(&self) -> Vec<(String, Decimal, Decimal, Decimal)> {
        let mut out: Vec<(String, Decimal, Decimal, Decimal)> = Vec::new();
        for t in self.reconciliation.iter().flat_map(|r| &r.totals) {
            match out.iter_mut().find(|(c, ..)| *c == t.currency) {
                Some((_, p, e, d)) => {
                    *p += t.partner;
                    *e += t.erp;
                    *d += t.difference;
                }
                None => out.push((t.currency.clone(), t.partner, t.erp, t.difference)),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Breaks grouped by currency, each group ranked by magnitude (largest first, ties in
    /// input order); the groups ordered by their largest break, breaks without a currency in
    /// their own group. Amounts in different currencies are never ranked against each other.
    pub fn breaks_by_currency(&self) -> Vec<(Option<&str>, Vec<&Break>)> {
        let mut groups: Vec<(Option<&str>, Vec<&Break>)> = Vec::new();
        for b in self.ranked_breaks() {
            let c = b.currency.as_deref();
            match groups.iter_mut().find(|(g, _)| *g == c) {
                Some((_, list)) => list.push(b),
                None => groups.push((c, vec![b])),
            }
        }
        groups
    }

    /// Breaks sorted by magnitude, largest first (ties keep input order). Each magnitude is
    /// computed once (`sort_by_key` computed two per comparison: with 96k breaks of a
    /// settlement, the report's three rankings spent ~0.25 s on it).
    pub fn ranked_breaks(&self) -> Vec<&Break> {
        let mut ranked: Vec<&Break> = self.breaks.iter().collect();
        ranked.sort_by_cached_key(|b| std::cmp::Reverse(b.magnitude()));
        ranked
    }
}
