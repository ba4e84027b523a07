//! The reconcile engine on small tables: every keying (hashed compound key, exact join, and a
//! hash where every key collides, which must fall back to the exact join) gives the same
//! statuses, rows and values. Cases are data: add a row to `CASES`.

use polars::prelude::*;
use rust_decimal::Decimal;
use tallyman::config::{ComparePair, Reconcile};
use tallyman::engine::reconcile::{reconcile_with, Keying, KnownUnique, STATUSES};

struct Case {
    name: &'static str,
    /// `sku,location,qty` per row; an empty field is a null.
    partner: &'static [&'static str],
    erp: &'static [&'static str],
    /// Whether each side is declared unique on the key (the duplicate pass is skipped).
    known_unique: (bool, bool),
    /// Expected count per status, in `STATUSES` order: matched, mismatched, only_in_partner,
    /// only_in_erp, duplicate_key.
    counts: [u64; 5],
}

const CASES: &[Case] = &[
    Case {
        name: "every status once",
        partner: &["A,W1,5", "B,W1,7", "C,W2,1"],
        erp: &["A,W1,5", "B,W1,9", "D,W1,3"],
        known_unique: (true, true),
        counts: [1, 1, 1, 1, 0],
    },
    Case {
        name: "same sku in two locations is two keys",
        partner: &["A,W1,5", "A,W2,6"],
        erp: &["A,W2,6", "A,W1,4"],
        known_unique: (true, true),
        counts: [1, 1, 0, 0, 0],
    },
    Case {
        name: "keys that concatenate alike stay apart",
        partner: &["AB,C,1", "A,BC,2"],
        erp: &["A,BC,2", "AB,C,3"],
        known_unique: (true, true),
        counts: [1, 1, 0, 0, 0],
    },
    Case {
        name: "duplicate keys on the ERP side are listed, not matched",
        partner: &["A,W1,5", "B,W1,1"],
        erp: &["A,W1,5", "A,W1,6", "B,W1,1"],
        known_unique: (true, false),
        counts: [1, 0, 1, 0, 2],
    },
    Case {
        // A key duplicated on one side only leaves the other side's row unpaired.
        name: "duplicate keys on both sides",
        partner: &["A,W1,5", "A,W1,5", "C,W1,2"],
        erp: &["A,W1,5", "C,W1,2", "C,W1,2"],
        known_unique: (false, false),
        counts: [0, 0, 1, 1, 4],
    },
    Case {
        name: "a null key component never matches",
        partner: &[",W1,5", "B,W1,1"],
        erp: &[",W1,5", "B,W1,1"],
        known_unique: (true, true),
        counts: [1, 0, 1, 1, 0],
    },
    Case {
        name: "null quantities are mismatches",
        partner: &["A,W1,", "B,W1,2"],
        erp: &["A,W1,3", "B,W1,"],
        known_unique: (true, true),
        counts: [0, 2, 0, 0, 0],
    },
    Case {
        name: "one side empty",
        partner: &[],
        erp: &["A,W1,3", "B,W1,4"],
        known_unique: (true, true),
        counts: [0, 0, 0, 2, 0],
    },
];

fn frame(rows: &[&str], names: [&str; 3]) -> DataFrame {
    let mut cols: [Vec<Option<String>>; 3] = Default::default();
    for row in rows {
        for (i, v) in row.split(',').enumerate() {
            cols[i].push((!v.is_empty()).then(|| v.to_string()));
        }
    }
    let qty: Vec<Option<i64>> = cols[2]
        .iter()
        .map(|v| v.as_deref().map(|v| v.parse().expect("qty")))
        .collect();
    DataFrame::new(
        rows.len(),
        vec![
            Column::new(names[0].into(), &cols[0]),
            Column::new(names[1].into(), &cols[1]),
            Column::new(names[2].into(), qty),
        ],
    )
    .expect("frame")
}

fn spec() -> Reconcile {
    Reconcile {
        keys: vec![
            ("item_id".into(), "sku".into()),
            ("warehouse".into(), "location".into()),
        ],
        compare: vec![ComparePair {
            partner: "qty".into(),
            erp: "on_hand".into(),
            abs_tolerance: Decimal::ZERO,
            rel_tolerance: Decimal::ZERO,
        }],
        carry_partner: Vec::new(),
        carry_erp: Vec::new(),
    }
}

/// The reconciled table sorted by key, as text rows (so tables compare exactly).
fn rows(df: &DataFrame) -> Vec<String> {
    let sorted = df
        .sort(
            ["item_id", "warehouse", "status", "side"],
            SortMultipleOptions::default().with_nulls_last(true),
        )
        .expect("sort");
    rows_as_they_are(&sorted)
}

/// The table's rows in its own order, as text.
fn rows_as_they_are(df: &DataFrame) -> Vec<String> {
    (0..df.height())
        .map(|i| {
            df.get_row(i)
                .expect("row")
                .0
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

#[test]
fn every_keying_reconciles_alike() {
    for case in CASES {
        let partner = frame(case.partner, ["item_id", "warehouse", "qty"]);
        let erp = frame(case.erp, ["sku", "location", "on_hand"]);
        let unique = KnownUnique {
            partner: case.known_unique.0,
            erp: case.known_unique.1,
        };
        let mut tables = Vec::new();
        for keying in [Keying::Exact, Keying::Hashed, Keying::CollidingHashes] {
            let r = reconcile_with(partner.clone(), erp.clone(), &spec(), unique, keying)
                .unwrap_or_else(|e| panic!("{}: {keying:?}: {e}", case.name));
            let counts: Vec<u64> = STATUSES.iter().map(|s| r.count(s)).collect();
            assert_eq!(counts, case.counts, "{}: {keying:?}", case.name);
            let total: u64 = counts.iter().sum();
            assert_eq!(r.table.height() as u64, total, "{}: {keying:?}", case.name);
            assert!(
                r.table
                    .get_column_names()
                    .iter()
                    .all(|c| !c.starts_with("__")),
                "{}: working columns leaked: {:?}",
                case.name,
                r.table.get_column_names()
            );
            tables.push((keying, rows_as_they_are(&r.table)));
        }
        // Row for row, in the same order: the order does not depend on the path taken.
        let (_, exact) = &tables[0];
        for (keying, t) in &tables[1..] {
            assert_eq!(
                t, exact,
                "{}: {keying:?} differs from the exact join",
                case.name
            );
        }
    }
}

/// Values survive the hashed join: keys from whichever side holds the row, both quantities and
/// their difference.
#[test]
fn hashed_join_keeps_keys_and_values_of_each_side() {
    let partner = frame(&["A,W1,5", "C,W2,1"], ["item_id", "warehouse", "qty"]);
    let erp = frame(&["A,W1,9", "D,W3,3"], ["sku", "location", "on_hand"]);
    let unique = KnownUnique {
        partner: true,
        erp: true,
    };
    let r = reconcile_with(partner, erp, &spec(), unique, Keying::Hashed).expect("reconcile");
    assert_eq!(
        rows(&r.table),
        [
            "\"A\"|\"W1\"|\"mismatched\"|\"both\"|5|9|-4",
            "\"C\"|\"W2\"|\"only_in_partner\"|\"partner\"|1|null|null",
            "\"D\"|\"W3\"|\"only_in_erp\"|\"erp\"|null|3|null",
        ]
    );
}

/// With keys only (nothing compared), a key on both sides is matched, whatever the keying.
#[test]
fn keys_only_reconcile_matches_present_keys() {
    let partner = frame(&["A,W1,5", "B,W1,1"], ["item_id", "warehouse", "qty"]);
    let erp = frame(&["A,W1,9", "C,W1,3"], ["sku", "location", "on_hand"]);
    let mut spec = spec();
    spec.compare.clear();
    for keying in [Keying::Exact, Keying::Hashed, Keying::CollidingHashes] {
        let unique = KnownUnique {
            partner: true,
            erp: true,
        };
        let r =
            reconcile_with(partner.clone(), erp.clone(), &spec, unique, keying).expect("reconcile");
        let counts: Vec<u64> = STATUSES.iter().map(|s| r.count(s)).collect();
        assert_eq!(counts, [1, 0, 1, 1, 0], "{keying:?}");
        assert_eq!(r.table.height(), 3, "{keying:?}");
    }
}

/// Tables made of several chunks (as the CSV reader gives them) pair by row number across the
/// chunk boundaries.
#[test]
fn tables_of_several_chunks_reconcile_like_one() {
    let mut partner = frame(&["A,W1,5", "B,W1,1"], ["item_id", "warehouse", "qty"]);
    partner
        .vstack_mut(&frame(
            &["C,W2,7", "D,W2,2"],
            ["item_id", "warehouse", "qty"],
        ))
        .expect("vstack");
    let mut erp = frame(&["D,W2,2"], ["sku", "location", "on_hand"]);
    erp.vstack_mut(&frame(
        &["A,W1,5", "C,W2,8", "E,W9,4"],
        ["sku", "location", "on_hand"],
    ))
    .expect("vstack");
    assert!(partner.first_col_n_chunks() > 1 && erp.first_col_n_chunks() > 1);
    for keying in [Keying::Exact, Keying::Hashed, Keying::CollidingHashes] {
        let unique = KnownUnique {
            partner: true,
            erp: true,
        };
        let r = reconcile_with(partner.clone(), erp.clone(), &spec(), unique, keying)
            .expect("reconcile");
        assert_eq!(
            rows(&r.table),
            [
                "\"A\"|\"W1\"|\"matched\"|\"both\"|5|5|0",
                "\"B\"|\"W1\"|\"only_in_partner\"|\"partner\"|1|null|null",
                "\"C\"|\"W2\"|\"mismatched\"|\"both\"|7|8|-1",
                "\"D\"|\"W2\"|\"matched\"|\"both\"|2|2|0",
                "\"E\"|\"W9\"|\"only_in_erp\"|\"erp\"|null|4|null",
            ],
            "{keying:?}"
        );
    }
}

/// The table's order is fixed: partner rows as they came, then ERP rows no partner row has, as
/// they came, then duplicate-key rows (partner's, then ERP's). Outputs written from it are
/// therefore byte-identical run after run.
#[test]
fn table_order_is_partner_rows_then_erp_only_then_duplicates() {
    let partner = frame(
        &["C,W1,1", "A,W1,5", "D,W1,2", "B,W1,7", "D,W1,3"],
        ["item_id", "warehouse", "qty"],
    );
    let erp = frame(
        &["Z,W1,4", "B,W1,7", "Y,W1,1", "A,W1,6", "X,W1,2", "X,W1,2"],
        ["sku", "location", "on_hand"],
    );
    let unique = KnownUnique {
        partner: false,
        erp: false,
    };
    for keying in [Keying::Exact, Keying::Hashed, Keying::CollidingHashes] {
        let r = reconcile_with(partner.clone(), erp.clone(), &spec(), unique, keying)
            .expect("reconcile");
        let order: Vec<String> = (0..r.table.height())
            .map(|i| {
                let row = r.table.get_row(i).expect("row").0;
                format!("{}:{}", row[0].get_str().unwrap_or("-"), row[3])
            })
            .collect();
        assert_eq!(
            order,
            [
                "C:\"partner\"",
                "A:\"both\"",
                "B:\"both\"",
                "Z:\"erp\"",
                "Y:\"erp\"",
                "D:\"partner\"",
                "D:\"partner\"",
                "X:\"erp\"",
                "X:\"erp\"",
            ],
            "{keying:?}"
        );
    }
}
