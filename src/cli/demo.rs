//! `tallyman demo`: drop the bundled demo files into the drop folders and run the pipelines.
//!
//! Everything the demo needs is embedded in the binary, so it works in an empty folder too:
//! pipeline and schema files are written only where they are missing (never overwritten).
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use filetime_free::set_old_mtime;

/// (path under the home folder, contents, overwrite?)
const FILES: &[(&str, &str, bool)] = &[
    (
        "pipelines/inventory_3pl.toml",
        include_str!("../../pipelines/inventory_3pl.toml"),
        false,
    ),
    (
        "schemas/tpl_snapshot.v1.json",
        include_str!("../../schemas/tpl_snapshot.v1.json"),
        false,
    ),
    (
        "schemas/erp_onhand.v1.json",
        include_str!("../../schemas/erp_onhand.v1.json"),
        false,
    ),
    (
        "schemas/item_master.v1.json",
        include_str!("../../schemas/item_master.v1.json"),
        false,
    ),
    (
        "reference/item_master.csv",
        include_str!("../../reference/item_master.csv"),
        false,
    ),
    (
        "inbox/erp/erp_onhand_2026-11-25.csv",
        include_str!("../../demo/erp/erp_onhand_2026-11-25.csv"),
        true,
    ),
    (
        "inbox/inventory_3pl/stock_2026-11-25.csv",
        include_str!("../../demo/drop/inventory_3pl/stock_2026-11-25.csv"),
        true,
    ),
    // Finance: an Amazon settlement (V2, EU numbers) against the ERP's orders extract.
    (
        "pipelines/settlement_amazon_v2.toml",
        include_str!("../../pipelines/settlement_amazon_v2.toml"),
        false,
    ),
    (
        "schemas/settlement_lines.v1.json",
        include_str!("../../schemas/settlement_lines.v1.json"),
        false,
    ),
    (
        "schemas/erp_orders.v1.json",
        include_str!("../../schemas/erp_orders.v1.json"),
        false,
    ),
    (
        "inbox/erp/erp_orders_amazon_2026-11-25.csv",
        include_str!("../../demo/erp/erp_orders_amazon_2026-11-25.csv"),
        true,
    ),
    (
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
        include_str!("../../demo/drop/settlement_amazon_v2/settlement_2026-11-25.tsv"),
        true,
    ),
];

/// The orders demo: one order dropped twice, as an X12 850 and as a CSV of the same channel.
/// Dropped by `tallyman demo` only (`--no-run` homes are the inventory and settlement demo that
/// the tests and the tutorials build on).
const ORDER_FILES: &[(&str, &str, bool)] = &[
    (
        "pipelines/orders_x12.toml",
        include_str!("../../pipelines/orders_x12.toml"),
        false,
    ),
    (
        "pipelines/orders_csv.toml",
        include_str!("../../pipelines/orders_csv.toml"),
        false,
    ),
    (
        "schemas/order_lines_x12.v1.json",
        include_str!("../../schemas/order_lines_x12.v1.json"),
        false,
    ),
    (
        "schemas/orders_plain.v1.json",
        include_str!("../../schemas/orders_plain.v1.json"),
        false,
    ),
    (
        "inbox/orders_x12/po_2026-11-25.edi",
        include_str!("../../demo/drop/orders_x12/po_2026-11-25.edi"),
        true,
    ),
    (
        "inbox/orders_csv/orders_2026-11-25.csv",
        include_str!("../../demo/drop/orders_csv/orders_2026-11-25.csv"),
        true,
    ),
];
/// The catalog demo, dropped and run after the others (so their run ids and outputs stay as
/// they were): day 1 is the bundled item master as a supplier's catalog, day 2 the same with a
/// few changes and a row with a bad check digit.
const CATALOG_DAY1: &[(&str, &str, bool)] = &[
    (
        "pipelines/catalog_items.toml",
        include_str!("../../pipelines/catalog_items.toml"),
        false,
    ),
    (
        "schemas/catalog_items.v1.json",
        include_str!("../../schemas/catalog_items.v1.json"),
        false,
    ),
    (
        "inbox/catalog_items/catalog_2026-11-24.csv",
        include_str!("../../demo/drop/catalog_items/catalog_2026-11-24.csv"),
        true,
    ),
];
const CATALOG_DAY2: &[(&str, &str, bool)] = &[(
    "inbox/catalog_items/catalog_2026-11-25.csv",
    include_str!("../../demo/drop/catalog_items/catalog_2026-11-25.csv"),
    true,
)];

/// The shipment demo, run last: the 3PL's 945 ships the order in full (it becomes `shipped`,
/// the ERP gets its shipment confirmation, the 3PL its 997).
const SHIPMENT_FILES: &[(&str, &str, bool)] = &[
    (
        "pipelines/shipments_x12.toml",
        include_str!("../../pipelines/shipments_x12.toml"),
        false,
    ),
    (
        "schemas/shipment_lines_945.v1.json",
        include_str!("../../schemas/shipment_lines_945.v1.json"),
        false,
    ),
    (
        "inbox/shipments_x12/945_2026-11-26.x12",
        include_str!("../../demo/drop/shipments_x12/945_2026-11-26.x12"),
        true,
    ),
];

const FOLDERS: &[&str] = &[
    "inbox/inventory_3pl",
    "inbox/settlement_amazon_v2",
    "inbox/erp",
    "outbox",
    "archive",
    "reference",
];

#[derive(clap::Args)]
pub struct Args {
    /// Only drop the files (for trying `tallyman serve` or `tallyman run` yourself).
    #[arg(long)]
    pub no_run: bool,
}

pub fn run(home_dir: &Path, args: Args) -> Result<ExitCode> {
    for f in FOLDERS {
        std::fs::create_dir_all(home_dir.join(f)).with_context(|| format!("creating {f}"))?;
    }
    drop_files(home_dir, FILES)?;
    if args.no_run {
        println!("\nDemo files are in place. Next: `tallyman run` (or `tallyman serve`).");
        return Ok(ExitCode::SUCCESS);
    }
    let run = |pipeline: Option<&str>| {
        super::run::run(
            home_dir,
            super::run::Args {
                pipeline: pipeline.map(String::from),
                max_wait_secs: 10,
                json: false,
                lock_wait_secs: 60,
            },
        )
    };
    let mut code = run(None)?;
    // The orders demo after the others (their run ids and outputs stay as they were): the
    // order as a CSV, then again as an X12 850 of the same channel.
    drop_files(home_dir, ORDER_FILES)?;
    for pipeline in ["orders_csv", "orders_x12"] {
        let c = run(Some(pipeline))?;
        if code == ExitCode::SUCCESS {
            code = c;
        }
    }
    // The catalog, a day at a time: day 2 is compared with the version day 1 published.
    for day in [CATALOG_DAY1, CATALOG_DAY2] {
        drop_files(home_dir, day)?;
        let c = run(Some("catalog_items"))?;
        if c != ExitCode::SUCCESS {
            code = c;
        }
    }
    // The order ships, last (the runs above keep their ids).
    drop_files(home_dir, SHIPMENT_FILES)?;
    let c = run(Some("shipments_x12"))?;
    if code == ExitCode::SUCCESS {
        code = c;
    }
    println!(
        "\nWhere to look:\n  outbox/erp/             the variance file and the ATP feed the ERP picks up\n  outbox/erp/catalog_delta_*  the catalog's changes (day 2 against day 1); versions in reference/catalog/acme/\n  outbox/gl/              the settlement's journal for the general ledger (sums to the deposit)\n  outbox/finance/         every order of the settlement with its status (paid, short_paid, ...)\n  outbox/erp_orders/      the ERP's order import: one line, though the order came twice (850 and CSV)\n  outbox/3pl/             the 940 that releases the order to the 3PL, once\n  outbox/partner_acme/    the 997 acknowledging the 850\n  outbox/erp_shipments/   the 3PL's 945 confirmed to the ERP (the order is now shipped)\n  tallyman orders         orders taken, their state;  tallyman orders show PO-2026-0042\n  outbox/mail/            the exception report as an .eml (no SMTP relay in tallyman.toml, so spooled)\n  archive/inventory_3pl/  inputs, outputs, issues.csv, manifest.json, report.html/.csv per run\n  var/ledger.sqlite       the ledger: sqlite3 var/ledger.sqlite 'select * from runs'\n  tallyman runs           run history;  tallyman rerun inventory_3pl --date 2026-11-25 --reason demo\n  tallyman breaks         the breaks kept as open items (show, ack, close them)\n  tallyman mail           the report mail queue"
    );
    Ok(code)
}

/// Writes each `(path, contents, overwrite)` under the home (a file that exists is kept unless
/// `overwrite`), dated a minute ago so that it settles at once.
fn drop_files(home_dir: &Path, files: &[(&str, &str, bool)]) -> Result<()> {
    for (rel, text, overwrite) in files {
        let path = home_dir.join(rel);
        if path.exists() && !overwrite {
            continue;
        }
        let (Some(parent), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
        else {
            anyhow::bail!("{}: not a file path", path.display());
        };
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        tallyman::store::files::write_atomic(parent, name, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        // Dropped files look as if the partner finished them a minute ago, so they settle at once.
        set_old_mtime(&path, 60);
        println!("dropped {rel}");
    }
    Ok(())
}

mod filetime_free {
    //! Setting a file's mtime into the past with std only (File::set_modified).
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    pub fn set_old_mtime(path: &Path, secs: u64) {
        if let Ok(f) = std::fs::OpenOptions::new().append(true).open(path) {
            let _ = f.set_modified(SystemTime::now() - Duration::from_secs(secs));
        }
    }
}
