//! Accepted catalog versions: each source's versions in order (`catalog_versions`), the file of
//! each under the home (`reference/catalog/<source>/v0003.csv`), recorded in the closing
//! transaction of the run that accepted it, so a version exists exactly when its run succeeded.
//! Held catalogs (`catalog_holds`, recorded with their rejected run) and people's approvals of
//! a held file's price changes (`catalog_approvals`, never deleted).
//! Held catalogs (`catalog_holds`, recorded with their rejected run) and people's approvals of
//! a held file's price changes (`catalog_approvals`, never deleted).

use rusqlite::{params, OptionalExtension, Transaction};

use super::{Ledger, StoreError};

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
pub(super) fn record(tx: &Transaction<'_>, end: &CatalogEnd, now: &str) -> rusqlite::Result<()> {
    match end {
        CatalogEnd::Published(v) => {
            tx.execute(
                "DELETE FROM catalog_versions WHERE run_id = ?1",
                [&v.run_id],
            )?;
            tx.execute(
                "INSERT INTO catalog_versions (source, version, run_id, path, items, sha256, accepted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![v.source, v.version, v.run_id, v.path, v.items, v.sha256, now],
            )?;
        }
        CatalogEnd::Held(h) => {
            tx.execute(
                "INSERT OR REPLACE INTO catalog_holds (run_id, pipeline, file_id, kind, reason, held_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![h.run_id, h.pipeline, h.file_id, h.kind, h.reason, now],
            )?;
        }
    }
    Ok(())
}

impl Ledger {
    /// The last accepted version of `source`'s catalog, if any.
    pub fn latest_catalog(&self, source: &str) -> Result<Option<CatalogVersion>, StoreError> {
        self.one_version("source = ?1", &[&source])
    }

    /// The version a run published, if it published one.
    pub fn catalog_version_of_run(
        &self,
        run_id: &str,
    ) -> Result<Option<CatalogVersion>, StoreError> {
        self.one_version("run_id = ?1", &[&run_id])
    }

    /// Version `version` of `source`'s catalog.
    pub fn catalog_version(
        &self,
        source: &str,
        version: i64,
    ) -> Result<Option<CatalogVersion>, StoreError> {
        self.one_version("source = ?1 AND version = ?2", &[&source, &version])
    }

    /// `source`'s last version before `version` (the one a run that published `version` was
    /// compared with).
    pub fn catalog_version_before(
        &self,
        source: &str,
        version: i64,
    ) -> Result<Option<CatalogVersion>, StoreError> {
        self.one_version("source = ?1 AND version < ?2", &[&source, &version])
    }

    fn one_version(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Option<CatalogVersion>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT source, version, run_id, path, items, sha256 FROM catalog_versions
                     WHERE {filter} ORDER BY version DESC LIMIT 1"
                ),
                args,
                |r| {
                    Ok(CatalogVersion {
                        source: r.get(0)?,
                        version: r.get(1)?,
                        run_id: r.get(2)?,
                        path: r.get(3)?,
                        items: r.get(4)?,
                        sha256: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Every accepted version of `source`'s catalog, oldest first.
    pub fn catalog_versions(&self, source: &str) -> Result<Vec<CatalogVersion>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source, version, run_id, path, items, sha256 FROM catalog_versions
                 WHERE source = ?1 ORDER BY version",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([source], |r| {
                Ok(CatalogVersion {
                    source: r.get(0)?,
                    version: r.get(1)?,
                    run_id: r.get(2)?,
                    path: r.get(3)?,
                    items: r.get(4)?,
                    sha256: r.get(5)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }
}

impl Ledger {
    /// The hold a run recorded, if it held its catalog.
    pub fn catalog_hold(&self, run_id: &str) -> Result<Option<CatalogHold>, StoreError> {
        self.conn
            .query_row(
                "SELECT run_id, pipeline, file_id, kind, reason FROM catalog_holds WHERE run_id = ?1",
                [run_id],
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
            .optional()
            .map_err(self.err())
    }

    /// Records that `actor` approved the price changes of the file `hold` held.
    pub fn approve_catalog_prices(
        &self,
        hold: &CatalogHold,
        actor: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO catalog_approvals (file_id, run_id, actor, approved_at) VALUES (?1, ?2, ?3, ?4)",
                params![hold.file_id, hold.run_id, actor, now],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// Whether a person approved the price changes of this file.
    pub fn catalog_prices_approved(&self, file_id: i64) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM catalog_approvals WHERE file_id = ?1)",
                [file_id],
                |r| r.get(0),
            )
            .map_err(self.err())
    }
}
