//! The tables a pipeline reads besides its input: `[references.<name>]` and `[erp]`, each a
//! file with a schema and a CSV dialect; and the input's own schema and dialect.

use std::collections::BTreeMap;
use std::time::Duration;

use super::compile::{placeholder_problems, schema_of, Errs};
use super::pipeline::{Erp, Home, TableFile, DEFAULT_ERP_WAIT, ERP_PLACEHOLDERS};
use super::raw::PipelineRaw;
use crate::formats::csv::IfEmpty;
use crate::schema::TableSchema;

/// The input's schema, the references and the ERP extract, compiled.
pub(crate) struct Tables {
    pub schema: Option<TableSchema>,
    pub references: BTreeMap<String, TableFile>,
    pub erp: Option<Erp>,
}

/// Compiles the schemas named by `[input]`, `[references.*]` and `[erp]`, the files and folders
/// they name, the ERP file name pattern and every CSV dialect, in that order.
pub(crate) fn compile(
    raw: &PipelineRaw,
    schemas: &BTreeMap<String, TableSchema>,
    home: &Home,
    errs: &mut Errs,
) -> Tables {
    let schema = schema_of(errs, home, schemas, "input.schema", &raw.input.schema);
    let mut references = BTreeMap::new();
    let mut reference_problems = Vec::new();
    for (name, r) in &raw.references {
        let s = schema_of(
            errs,
            home,
            schemas,
            &format!("references.{name}.schema"),
            &r.schema,
        );
        let (path, catalog) = match (&r.file, &r.catalog) {
            (Some(file), None) => {
                if !home.path(file).is_file() {
                    reference_problems.push((
                        format!("references.{name}.file"),
                        format!("file `{file}` does not exist"),
                    ));
                }
                (home.path(file), None)
            }
            // The source may have no version yet: a run then fails and says so.
            (None, Some(source)) => (
                home.path("reference/catalog").join(source),
                Some(source.clone()),
            ),
            _ => {
                reference_problems.push((
                    format!("references.{name}"),
                    "set either `file` or `catalog` (an accepted catalog's source)".into(),
                ));
                continue;
            }
        };
        if let Some(s) = s {
            references.insert(
                name.clone(),
                TableFile {
                    path,
                    catalog,
                    schema: s,
                    dialect: r.dialect.clone(),
                    if_empty: IfEmpty::from_allow(r.allow_empty),
                },
            );
        }
    }
    let erp = raw.erp.as_ref().and_then(|e| {
        let s = schema_of(errs, home, schemas, "erp.schema", &e.schema);
        if !home.path(&e.folder).is_dir() {
            reference_problems.push((
                "erp.folder".into(),
                format!("folder `{}` does not exist", e.folder),
            ));
        }
        s.map(|schema| Erp {
            folder: home.path(&e.folder),
            pattern: e.pattern.clone(),
            schema,
            dialect: e.dialect.clone(),
            if_empty: IfEmpty::from_allow(e.allow_empty),
            wait: e.wait_secs.map_or(DEFAULT_ERP_WAIT, Duration::from_secs),
        })
    });
    if let Some(e) = &raw.erp {
        for why in placeholder_problems(&e.pattern, &ERP_PLACEHOLDERS) {
            reference_problems.push(("erp.pattern".into(), why));
        }
    }
    for (k, why) in reference_problems {
        errs.add(&k, why);
    }
    for (key, d) in std::iter::once(("input.dialect".to_string(), &raw.input.dialect))
        .chain(
            raw.references
                .iter()
                .map(|(n, r)| (format!("references.{n}.dialect"), &r.dialect)),
        )
        .chain(
            raw.erp
                .iter()
                .map(|e| ("erp.dialect".to_string(), &e.dialect)),
        )
    {
        for p in d.problems() {
            errs.add(&key, p);
        }
    }
    Tables {
        schema,
        references,
        erp,
    }
}
