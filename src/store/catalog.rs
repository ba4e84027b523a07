//! Accepted catalog versions: each source's versions in order (`catalog_versions`), the file of
//! each under the home (`reference/catalog/<source>/v0003.csv`), recorded in the closing
//! transaction of the run that accepted it, so a version exists exactly when its run succeeded.
//! Held catalogs (`catalog_holds`, recorded with their rejected run) and people's approvals of
//! a held file's price changes (`catalog_approvals`, never deleted).
//! Held catalogs (`catalog_holds`, recorded with their rejected run) and people's approvals of
//! a held file's price changes (`catalog_approvals`, never deleted).

use super::db::{self, DbError, Exec, Row, Value};
use super::{Ledger, StoreError};
use crate::db_args;

/// One accepted version of a source's catalog.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CatalogVersion {
    pub source: String,
    pub version: i64,
    pub run_id: String,
    /// The version's file, relative to the home.
    pub path: String,
    pub items: i64,
    pub sha256: String,
}

impl CatalogVersion {
    /// The file name of version `n` (`v0003.csv`): sorted by name is sorted by version.
    pub fn file_name(version: i64) -> String {
        format!("v{version:04}.csv")
    }
}

/// A catalog held by a run (rejected): why, and of what kind (`engine::catalog::HoldKind`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CatalogHold {
    pub run_id: String,
    pub pipeline: String,
    pub file_id: i64,
    /// `removals`, `row_drop` or `price_change` (only the last can be approved).
    pub kind: String,
    pub reason: String,
}

/// What a catalog run leaves in the ledger with its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogEnd {
    Published(CatalogVersion),
    Held(CatalogHold),
}

/// Records a catalog run's end in the run's closing transaction (a run redone after an
/// interruption records it once).
pub(super) fn record(tx: &mut db::Tx<'_>, end: &CatalogEnd, now: &str) -> Result<(), DbError> {
    match end {
        CatalogEnd::Published(v) => {
            tx.execute(
                "DELETE FROM catalog_versions WHERE run_id = ?1",
                db_args![v.run_id],
            )?;
            tx.execute(
                "INSERT INTO catalog_versions (source, version, run_id, path, items, sha256, accepted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                db_args![v.source, v.version, v.run_id, v.path, v.items, v.sha256, now],
            )?;
        }
        CatalogEnd::Held(h) => {
            tx.execute(
                "INSERT INTO catalog_holds (run_id, pipeline, file_id, kind, reason, held_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (run_id) DO UPDATE SET pipeline = excluded.pipeline,
                     file_id = excluded.file_id, kind = excluded.kind, reason = excluded.reason,
                     held_at = excluded.held_at",
                db_args![h.run_id, h.pipeline, h.file_id, h.kind, h.reason, now],
            )?;
        }
    }
    Ok(())
}

fn version_row(r: &Row) -> Result<CatalogVersion, DbError> {
    Ok(CatalogVersion {
        source: r.get(0)?,
        version: r.get(1)?,
        run_id: r.get(2)?,
        path: r.get(3)?,
        items: r.get(4)?,
        sha256: r.get(5)?,
    })
}

impl Ledger {
    /// The last accepted version of `source`'s catalog, if any.
    pub fn latest_catalog(&self, source: &str) -> Result<Option<CatalogVersion>, StoreError> {
        self.one_version("source = ?1", db_args![source])
    }

    /// The version a run published, if it published one.
    pub fn catalog_version_of_run(
        &self,
        run_id: &str,
    ) -> Result<Option<CatalogVersion>, StoreError> {
        self.one_version("run_id = ?1", db_args![run_id])
    }

    /// Version `version` of `source`'s catalog.
    pub fn catalog_version(
        &self,
        source: &str,
        version: i64,
    ) -> Result<Option<CatalogVersion>, StoreError> {
        self.one_version("source = ?1 AND version = ?2", db_args![source, version])
    }

    /// `source`'s last version before `version` (the one a run that published `version` was
    /// compared with).
    pub fn catalog_version_before(
        &self,
        source: &str,
        version: i64,
    ) -> Result<Option<CatalogVersion>, StoreError> {
        self.one_version("source = ?1 AND version < ?2", db_args![source, version])
    }

    fn one_version(
        &self,
        filter: &str,
        args: &[Value],
    ) -> Result<Option<CatalogVersion>, StoreError> {
        self.row(
            "read a catalog version",
            &format!(
                "SELECT source, version, run_id, path, items, sha256 FROM catalog_versions
                 WHERE {filter} ORDER BY version DESC LIMIT 1"
            ),
            args,
            version_row,
        )
    }

    /// Every accepted version of `source`'s catalog, oldest first.
    pub fn catalog_versions(&self, source: &str) -> Result<Vec<CatalogVersion>, StoreError> {
        self.rows(
            "list catalog versions",
            "SELECT source, version, run_id, path, items, sha256 FROM catalog_versions
             WHERE source = ?1 ORDER BY version",
            db_args![source],
            version_row,
        )
    }
}

impl Ledger {
    /// The hold a run recorded, if it held its catalog.
    pub fn catalog_hold(&self, run_id: &str) -> Result<Option<CatalogHold>, StoreError> {
        self.row(
            "read a catalog hold",
            "SELECT run_id, pipeline, file_id, kind, reason FROM catalog_holds WHERE run_id = ?1",
            db_args![run_id],
            |r| {
                Ok(CatalogHold {
                    run_id: r.get(0)?,
                    pipeline: r.get(1)?,
                    file_id: r.get(2)?,
                    kind: r.get(3)?,
                    reason: r.get(4)?,
                })
            },
        )
    }

    /// Records that `actor` approved the price changes of the file `hold` held.
    pub fn approve_catalog_prices(
        &self,
        hold: &CatalogHold,
        actor: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            "record a catalog approval",
            "INSERT INTO catalog_approvals (file_id, run_id, actor, approved_at) VALUES (?1, ?2, ?3, ?4)",
            db_args![hold.file_id, hold.run_id, actor, now],
        )
        .map(|_| ())
    }

    /// Whether a person approved the price changes of this file.
    pub fn catalog_prices_approved(&self, file_id: i64) -> Result<bool, StoreError> {
        self.one_row(
            "read catalog approvals",
            "SELECT EXISTS (SELECT 1 FROM catalog_approvals WHERE file_id = ?1)",
            db_args![file_id],
            |r| r.get(0),
        )
    }
}
