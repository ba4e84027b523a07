//! EDIFACT DESADV and INVRPT mapped to tables: the hand-made fixtures in
//! `tests/fixtures/edifact/handmade/` (see its README) give exact rows, envelope problems are
//! reported without stopping the mapping, and the column names match the X12 tables.

use std::path::Path;

use tallyman::formats::{edifact, x12};

fn handmade(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/edifact/handmade")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

type Rows = &'static [&'static [Option<&'static str>]];

const C: Option<&str> = None;

#[rustfmt::skip]
const DESADV: Rows = &[
    // shipment_id, ship_date, carrier, tracking, order_number, pack, item_hl, parent_hl, sku, sku_qualifier, upc, quantity, unit
    &[Some("DES587441"), Some("202403151400"), Some("DHLF"), Some("BOL778899"), Some("PO-4711"), Some("354123450000000019"), Some("2"), Some("1"), Some("5412345678908"), Some("EN"), Some("5412345678908"), Some("24"), Some("PCE")],
    &[Some("DES587441"), Some("202403151400"), Some("DHLF"), Some("BOL778899"), Some("PO-4712"), Some("354123450000000019"), Some("2"), Some("1"), Some("XYZ-7"), Some("SA"), Some("00012345600012"), Some("6"), Some("PCE")],
    &[Some("DES587441"), Some("202403151400"), Some("DHLF"), Some("JJD0001234567"), Some("PO-4711"), Some("354123450000000026"), Some("3"), Some("1"), Some("5412345678915"), Some("EN"), Some("5412345678915"), Some("12.5"), Some("KGM")],
];

#[rustfmt::skip]
const INVRPT: Rows = &[
    // report_id, report_date, location_qualifier, location, sku, sku_qualifier, upc, quantity_qualifier, quantity, unit
    &[Some("IR-2024-0316"), Some("20240316"), Some("WH"), Some("Lager Nord: Halle 2"), Some("5412345678908"), Some("EN"), Some("5412345678908"), Some("145"), Some("8"), Some("PCE")],
    &[Some("IR-2024-0316"), Some("20240316"), Some("18"), Some("5412345000501"), Some("5412345678908"), Some("EN"), Some("5412345678908"), Some("145"), Some("120"), Some("PCE")],
    &[Some("IR-2024-0316"), Some("20240316"), Some("18"), Some("5412345000501"), Some("5412345678908"), Some("EN"), Some("5412345678908"), Some("1"), Some("4"), Some("PCE")],
    &[Some("IR-2024-0316"), Some("20240316"), Some("18"), Some("5412345000518"), Some("5412345678908"), Some("EN"), Some("5412345678908"), Some("145"), Some("36"), Some("PCE")],
    &[Some("IR-2024-0316"), Some("20240316"), Some("18"), Some("5412345000501"), Some("5412345678915"), Some("EN"), Some("5412345678915"), Some("145"), Some("250.75"), Some("KGM")],
    &[Some("IR-2024-0316"), Some("20240316"), Some("18"), Some("5412345000518"), Some("5412345678915"), Some("EN"), Some("5412345678915"), Some("145"), Some("0.5"), Some("KGM")],
];

/// Fixture, table, context (interchange, set), rows, envelope problems (0085 code, segment).
type Case = (
    &'static str,
    &'static str,
    (&'static str, &'static str),
    Rows,
    &'static [(&'static str, u32)],
);

#[rustfmt::skip]
const CASES: &[Case] = &[
    ("desadv_d96a.edi", "edifact_desadv_lines", ("DES0001", "1"), DESADV, &[]),
    ("desadv_d96a_bad_unt.edi", "edifact_desadv_lines", ("DES0001", "1"), DESADV, &[("0085:29", 33)]),
    ("invrpt_d96a.edi", "edifact_invrpt_lines", ("INV0042", "IR1"), INVRPT, &[]),
];

#[test]
fn handmade_fixtures_map_to_exact_rows_and_report_envelope_problems() {
    for (name, table, (ic, set), rows, problems) in CASES {
        let bytes = handmade(name);
        let parsed = edifact::parse(&bytes);
        let got: Vec<(String, u32)> = parsed
            .problems
            .iter()
            .map(|p| (p.code.label(), p.at.segment))
            .collect();
        let want: Vec<(String, u32)> = problems.iter().map(|(c, s)| (c.to_string(), *s)).collect();
        assert_eq!(got, want, "{name}: problems");
        let tables = edifact::map_tables(&parsed);
        assert_eq!(tables.len(), 1, "{name}: only the message's own table");
        let t = tables.iter().find(|t| t.name == *table).expect(table);
        assert_eq!(t.rows(), rows.len(), "{name}: rows");
        for (r, want) in rows.iter().enumerate() {
            let context = [
                t.get(r, "interchange_control"),
                t.get(r, "group_control"),
                t.get(r, "set_control"),
            ];
            assert_eq!(
                context,
                [Some(*ic), None, Some(*set)],
                "{name}[{r}] context"
            );
            let got: Vec<Option<&str>> = t
                .columns
                .iter()
                .skip(3)
                .map(|c| t.get(r, &c.name))
                .collect();
            assert_eq!(got, want.to_vec(), "{name}[{r}]");
        }
    }
}

#[test]
fn columns_are_those_of_the_x12_tables() {
    let x12_856 = b"ISA*00*          *00*          *ZZ*S              *ZZ*R              *240101*1200*U*00401*000000001*0*P*>~GS*SH*S*R*20240101*1200*1*X*004010~ST*856*0001~BSN*00*S1*20240101*1200~SE*3*0001~GE*1*1~IEA*1*000000001~";
    let x12_846 = x12_856
        .replace_str("GS*SH", "GS*IB")
        .replace_str("ST*856", "ST*846")
        .replace_str("BSN*00*S1*20240101*1200", "BIA*00*MM*R1*20240101");
    let names = |tables: Vec<x12::Table>| -> Vec<Vec<String>> {
        tables
            .iter()
            .map(|t| t.columns.iter().map(|c| c.name.clone()).collect())
            .collect()
    };
    for (x12_bytes, edifact_file) in [
        (x12_856.to_vec(), "desadv_d96a.edi"),
        (x12_846, "invrpt_d96a.edi"),
    ] {
        let x = names(x12::map_tables(&x12::parse(&x12_bytes)));
        let e = names(edifact::map_tables(&edifact::parse(&handmade(
            edifact_file,
        ))));
        assert_eq!(x.len(), 1, "{edifact_file}");
        assert_eq!(x, e, "{edifact_file}");
    }
}

trait ReplaceStr {
    fn replace_str(&self, from: &str, to: &str) -> Vec<u8>;
}

impl ReplaceStr for [u8] {
    fn replace_str(&self, from: &str, to: &str) -> Vec<u8> {
        String::from_utf8_lossy(self).replace(from, to).into_bytes()
    }
}

#[test]
fn references_come_from_the_nearest_scope_and_quantities_prefer_despatch() {
    // (message body between UNH and UNT, column, expected value of row 0)
    let cases: &[(&str, &str, Option<&str>)] = &[
        // No DTM+11: the document date.
        (
            "BGM+351+D1+9'DTM+137:20240101:102'CPS+1'LIN+1++A:SA'QTY+12:1'",
            "ship_date",
            Some("20240101"),
        ),
        // A DTM+11 inside a package is not the despatch date of the message.
        (
            "BGM+351+D1+9'CPS+1'DTM+11:20240102:102'LIN+1++A:SA'QTY+12:1'",
            "ship_date",
            C,
        ),
        // Carrier name when there is no carrier id.
        (
            "BGM+351+D1+9'TDT+20++30+31+:::Carrier Name'CPS+1'LIN+1++A:SA'",
            "carrier",
            Some("Carrier Name"),
        ),
        // CN beats BM in the same scope, whatever the order.
        (
            "BGM+351+D1+9'RFF+CN:PRO1'RFF+BM:BOL1'CPS+1'LIN+1++A:SA'",
            "tracking",
            Some("PRO1"),
        ),
        // GIN+BN (carrier consignment id) when there is no RFF.
        (
            "BGM+351+D1+9'CPS+1'PAC+1'GIN+BN+CONS9'LIN+1++A:SA'",
            "tracking",
            Some("CONS9"),
        ),
        // The SSCC of a grandparent package when the LIN's package has none.
        (
            "BGM+351+D1+9'CPS+1'GIN+BJ+SSCC1'CPS+2+1'CPS+3+2'LIN+1++A:SA'",
            "pack",
            Some("SSCC1"),
        ),
        // The first SSCC of a package wins over a later one and over a PCI mark.
        (
            "BGM+351+D1+9'CPS+1'PCI+33E+MARK7'GIN+BJ+SSCC1'GIN+BJ+SSCC2'LIN+1++A:SA'",
            "pack",
            Some("SSCC1"),
        ),
        (
            "BGM+351+D1+9'CPS+1'PCI+33E+MARK7'LIN+1++A:SA'",
            "pack",
            Some("MARK7"),
        ),
        // A cyclic 7166 chain ends.
        ("BGM+351+D1+9'CPS+1+2'CPS+2+1'LIN+1++A:SA'", "pack", C),
        // Without QTY+12, the first QTY.
        (
            "BGM+351+D1+9'CPS+1'LIN+1++A:SA'QTY+21:7:PCE'QTY+59:3'",
            "quantity",
            Some("7"),
        ),
        // A package-level QTY (before any LIN) is not an item quantity.
        ("BGM+351+D1+9'CPS+1'QTY+52:9'LIN+1++A:SA'", "quantity", C),
        // A SKU that is not a GTIN gives no upc.
        ("BGM+351+D1+9'CPS+1'LIN+1++A:SA'", "upc", C),
        // Item type codes SRV (GTIN) count as upc.
        (
            "BGM+351+D1+9'CPS+1'LIN+1++05412345678908:SRV'",
            "upc",
            Some("05412345678908"),
        ),
    ];
    for (body, column, want) in cases {
        let n = body.matches('\'').count() + 2;
        let bytes =
            format!("UNB+UNOC:3+S+R+240101:1200+7'UNH+1+DESADV:D:96A:UN'{body}UNT+{n}+1'UNZ+1+7'");
        let parsed = edifact::parse(bytes.as_bytes());
        assert!(parsed.problems.is_empty(), "{body}: {:?}", parsed.problems);
        let tables = edifact::map_tables(&parsed);
        let t = tables.first().expect("a table");
        assert_eq!(t.get(0, column), *want, "{body}");
    }
}

#[test]
fn every_handmade_fixture_is_in_the_readme() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/edifact/handmade");
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README.md");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".edi"))
        .collect();
    names.sort();
    assert_eq!(names.len(), CASES.len());
    for name in names {
        assert!(
            readme.contains(&format!("`{name}`")),
            "{name} not in README.md"
        );
        assert!(CASES.iter().any(|c| c.0 == name), "{name} not tested");
    }
}

#[test]
fn truncated_fixtures_never_panic_and_map_at_most_the_full_rows() {
    for (name, _, _, rows, _) in CASES {
        let bytes = handmade(name);
        for cut in 0..bytes.len() {
            let tables = edifact::map_tables(&edifact::parse(&bytes[..cut]));
            let n: usize = tables.iter().map(|t| t.rows()).sum();
            assert!(n <= rows.len(), "{name} cut at {cut}: {n} rows");
        }
    }
}
