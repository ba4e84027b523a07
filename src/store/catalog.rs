//! Accepted catalog versions: each source's versions in order (`catalog_versions`), the file of
//! each under the home (`reference/catalog/<source>/v0003.csv`), recorded in the closing
//! transaction of the run that accepted it, so a version exists exactly when its run succeeded.

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

/// Records `v` in the run's closing transaction.
pub(super) fn record(tx: &Transaction<'_>, v: &CatalogVersion, now: &str) -> rusqlite::Result<()> {
    // A run redone after an interruption records its version once.
    tx.execute(
        "DELETE FROM catalog_versions WHERE run_id = ?1",
        [&v.run_id],
    )?;
    tx.execute(
        "INSERT INTO catalog_versions (source, version, run_id, path, items, sha256, accepted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![v.source, v.version, v.run_id, v.path, v.items, v.sha256, now],
    )?;
    Ok(())
}

impl Ledger {
    /// The last accepted version of `source`'s catalog, if any.
    pub fn latest_catalog(&self, source: &str) -> Result<Option<CatalogVersion>, StoreError> {
        self.conn
            .query_row(
                "SELECT source, version, run_id, path, items, sha256 FROM catalog_versions
                 WHERE source = ?1 ORDER BY version DESC LIMIT 1",
                [source],
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
