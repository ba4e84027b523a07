//! X12 sets mapped to tables: real fixtures, checked cell by cell.

use std::path::Path;

use tallyman::formats::x12;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/x12")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (fixture, table, rows, row index, column, expected value)
type Cell = (
    &'static str,
    &'static str,
    usize,
    usize,
    &'static str,
    Option<&'static str>,
);

#[rustfmt::skip]
const CELLS: &[Cell] = &[
    ("ediEngine_850.OK.edi", "x12_850_header", 1, 0, "po_number", Some("08292233294")),
    ("ediEngine_850.OK.edi", "x12_850_header", 1, 0, "po_date", Some("20101127")),
    ("ediEngine_850.OK.edi", "x12_850_header", 1, 0, "ship_to_city", Some("SOLON")),
    ("ediEngine_850.OK.edi", "x12_850_header", 1, 0, "set_control", Some("000000010")),
    ("ediEngine_850.OK.edi", "x12_850_lines", 6, 1, "sku", Some("RD5322")),
    ("ediEngine_850.OK.edi", "x12_850_lines", 6, 1, "sku_qualifier", Some("VN")),
    ("ediEngine_850.OK.edi", "x12_850_lines", 6, 1, "quantity", Some("220")),
    ("ediEngine_850.OK.edi", "x12_850_lines", 6, 1, "unit_price", Some("13.79")),
    ("ediEngine_850.OK.edi", "x12_850_lines", 6, 0, "description", Some("SMALL WIDGET")),
    ("stupidedi_004010_SC850_pass_basic-po.edi", "x12_850_header", 1, 0, "buyer", Some("ABC Aerospace Corporation")),
    ("nodex12_850_fat.edi", "x12_850_header", 2, 1, "interchange_control", Some("000003438")),
    ("x12types_inline/test_945_parse_1_L384.edi", "x12_945_header", 1, 0, "order_number", Some("IF102")),
    ("x12types_inline/test_945_parse_1_L384.edi", "x12_945_header", 1, 0, "shipment_id", Some("BOL12345")),
    ("x12types_inline/test_945_parse_1_L384.edi", "x12_945_header", 1, 0, "carrier", Some("NPLT")),
    ("x12types_inline/test_945_parse_1_L384.edi", "x12_945_header", 1, 0, "ship_date", Some("20190604")),
    ("x12types_inline/test_945_parse_1_L384.edi", "x12_945_lines", 1, 0, "quantity_shipped", Some("3000")),
    ("x12types_inline/test_945_parse_1_L384.edi", "x12_945_lines", 1, 0, "sku", Some("123456789")),
    ("x12types_inline/test_945_parse_1_L384.edi", "x12_945_lines", 1, 0, "lot", Some("LOT12314")),
    ("nodex12_856.edi", "x12_856_lines", 2, 1, "order_number", Some("99999817")),
    ("nodex12_856.edi", "x12_856_lines", 2, 1, "tracking", Some("5787970539")),
    ("nodex12_856.edi", "x12_856_lines", 2, 1, "sku", Some("999999311746")),
    ("nodex12_856.edi", "x12_856_lines", 2, 1, "quantity", Some("6")),
    ("nodex12_856.edi", "x12_856_lines", 2, 1, "parent_hl", Some("2")),
    ("ediEngine_940.OK.edi", "x12_940_header", 1, 0, "order_number", Some("538686")),
    ("ediEngine_940.OK.edi", "x12_940_header", 1, 0, "ship_to", Some("ST COMPANY")),
    ("ediEngine_940.OK.edi", "x12_940_lines", 3, 2, "sku", Some("000300")),
    ("ediEngine_940.OK.edi", "x12_940_lines", 3, 2, "upc", Some("000000000330")),
    ("ediEngine_940.OK.edi", "x12_940_lines", 3, 2, "quantity", Some("12")),
    ("x12types_inline/v005010_846_full_transmission.edi", "x12_846_lines", 1, 0, "sku", Some("ABC123")),
    ("x12types_inline/v005010_846_full_transmission.edi", "x12_846_lines", 1, 0, "quantity", Some("100")),
    ("x12types_inline/v005010_846_full_transmission.edi", "x12_846_lines", 1, 0, "location", Some("S1")),
    ("stupidedi_004010_SC810_pass_basic-invoice.edi", "x12_810_header", 1, 0, "total", Some("170.60")),
    ("stupidedi_004010_SC810_pass_basic-invoice.edi", "x12_810_lines", 1, 0, "unit_price", Some("170.6")),
    ("stupidedi_004010_FA997_pass_1.edi", "x12_997_groups", 1, 0, "status", Some("A")),
    ("stupidedi_004010_FA997_pass_1.edi", "x12_997_sets", 1, 0, "acked_set_control", Some("0160")),
    ("x12types_inline/test_997_1_L10.edi", "x12_997_sets", 1, 0, "errors", Some("4 5")),
    ("x12types_inline/test_997_1_L10.edi", "x12_997_sets", 1, 0, "segment_errors", Some("REF@3:8;REF@4:8")),
    ("x12types_inline/test_997_1_L10.edi", "x12_997_groups", 1, 0, "status", Some("R")),
];

#[test]
fn fixtures_map_to_the_expected_cells() {
    let mut failures = Vec::new();
    for (name, table, rows, row, column, want) in CELLS {
        let bytes = fixture(name);
        let tables = x12::map_tables(&x12::parse(&bytes));
        let Some(t) = tables.iter().find(|t| t.name == *table) else {
            failures.push(format!("{name}: no table {table}"));
            continue;
        };
        if t.rows() != *rows {
            failures.push(format!(
                "{name} {table}: {} rows, expected {rows}",
                t.rows()
            ));
        }
        if t.get(*row, column) != *want {
            failures.push(format!(
                "{name} {table}[{row}].{column} = {:?}, expected {want:?}",
                t.get(*row, column)
            ));
        }
        assert!(
            t.columns.iter().all(|c| c.len() == t.rows()),
            "ragged {table}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sku_priority_prefers_vendor_part_then_sku_buyer_part_upc_buyer_item() {
    let cases: &[(&str, &str, &str)] = &[
        ("PO1*1*1*EA*1**IN*B1*UP*U1*VN*V1", "V1", "VN"),
        ("PO1*1*1*EA*1**IN*B1*UP*U1*SK*S1", "S1", "SK"),
        ("PO1*1*1*EA*1**IN*B1*BP*P1", "P1", "BP"),
        ("PO1*1*1*EA*1**IN*B1*UP*U1", "U1", "UP"),
        ("PO1*1*1*EA*1**ZZ*Z1*IN*B1", "B1", "IN"),
        ("PO1*1*1*EA*1**ZZ*Z1", "Z1", "ZZ"),
    ];
    for (po1, sku, qualifier) in cases {
        let text = format!(
            "ISA*00*          *00*          *ZZ*A              *ZZ*B              *240101*1200*U*00401*000000001*0*P*>~GS*PO*A*B*20240101*1200*1*X*004010~ST*850*0001~BEG*00*SA*P1**20240101~{po1}~SE*4*0001~GE*1*1~IEA*1*000000001~"
        );
        let parsed = x12::parse(text.as_bytes());
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let tables = x12::map_tables(&parsed);
        let lines = &tables[1];
        assert_eq!(
            (lines.get(0, "sku"), lines.get(0, "sku_qualifier")),
            (Some(*sku), Some(*qualifier)),
            "{po1}"
        );
    }
}

#[test]
fn one_table_mapped_alone_equals_its_copy_among_all_tables() {
    let mut fixtures: Vec<&str> = CELLS.iter().map(|c| c.0).collect();
    fixtures.dedup();
    for name in fixtures {
        let bytes = fixture(name);
        let parsed = x12::parse(&bytes);
        let all = x12::map_tables(&parsed);
        for t in &all {
            assert_eq!(x12::map_table(&parsed, &t.name).as_ref(), Some(t), "{name}");
        }
        // A table of a set type the file lacks, and an unknown name, are both absent.
        let missing = ["x12_810_lines", "x12_999_lines"];
        for m in missing.iter().filter(|m| all.iter().all(|t| t.name != **m)) {
            assert_eq!(x12::map_table(&parsed, m), None, "{name} {m}");
        }
    }
}
