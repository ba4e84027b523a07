//! README's "Mapped tables" says what the binary does: each table listed there, printed by
//! `tallyman inspect --table` from a fixture that holds it, has exactly the listed columns
//! after the three context columns; and every table a pipeline may name is listed.

use std::process::Command;

/// (table, a fixture under tests/fixtures that holds rows of it).
const HOLDERS: [(&str, &str); 20] = [
    ("x12_850_header", "x12/ediEngine_850.Composite.SLN.OK.edi"),
    ("x12_850_lines", "x12/ediEngine_850.Composite.SLN.OK.edi"),
    ("x12_940_header", "x12/ediEngine_940.2.OK.edi"),
    ("x12_940_lines", "x12/ediEngine_940.2.OK.edi"),
    ("x12_945_header", "x12/handmade/945_acme_2026-11-25.x12"),
    ("x12_945_lines", "x12/handmade/945_acme_2026-11-25.x12"),
    ("x12_856_lines", "x12/ediEngine_856.Crossdock.OK.edi"),
    (
        "x12_846_lines",
        "x12/x12types_inline/v005010_846_full_transmission.edi",
    ),
    ("x12_810_header", "x12/ediNet_x12.810a.edi"),
    ("x12_810_lines", "x12/ediNet_x12.810a.edi"),
    ("x12_832_lines", "x12/stupidedi_004010_SC832_fail_2.edi"),
    ("x12_997_groups", "x12/stupidedi_004010_FA997_pass_1.edi"),
    ("x12_997_sets", "x12/stupidedi_004010_FA997_pass_1.edi"),
    ("edifact_orders_header", "edifact/pydifact_order.edi"),
    ("edifact_orders_lines", "edifact/pydifact_order.edi"),
    ("edifact_desadv_lines", "edifact/handmade/desadv_d96a.edi"),
    ("edifact_invrpt_lines", "edifact/handmade/invrpt_d96a.edi"),
    (
        "xml_order_header",
        "xml/cxml/cxmlphp_CXmlTest_Builder_fixtures_order_request.xml",
    ),
    (
        "xml_order_lines",
        "xml/cxml/cxmlphp_CXmlTest_Builder_fixtures_order_request.xml",
    ),
    (
        "xml_ship_lines",
        "xml/cxml/cxmlphp_metadata_cxml_samples_ShipNoticeRequest.xml",
    ),
];

/// The README rows of the "Mapped tables" section: (table, columns).
fn listed() -> Vec<(String, Vec<String>)> {
    let readme = include_str!("../README.md");
    let section = readme
        .split("## Mapped tables")
        .nth(1)
        .expect("README has a Mapped tables section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[1].trim_matches('`').to_string(),
                cells[3].split(", ").map(str::to_string).collect(),
            )
        })
        .collect()
}

#[test]
fn readme_lists_each_mapped_table_with_its_columns() {
    let listed = listed();
    let names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
    let mut known: Vec<&str> = tallyman::config::compile::X12_TABLES.to_vec();
    known.extend(tallyman::config::compile::EDIFACT_TABLES);
    known.extend(tallyman::config::compile::XML_TABLES);
    assert_eq!(names, known, "every table a pipeline may name, in order");
    for (table, columns) in &listed {
        let (_, fixture) = HOLDERS
            .iter()
            .find(|(t, _)| t == table)
            .unwrap_or_else(|| panic!("no fixture for {table}"));
        let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
        let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
            .args(["inspect", "--table", table, &path])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{table}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let out = String::from_utf8_lossy(&o.stdout);
        let header: Vec<&str> = out.lines().next().unwrap_or("").split(',').collect();
        assert_eq!(
            header[..3],
            ["interchange_control", "group_control", "set_control"],
            "{table}"
        );
        assert_eq!(
            header[3..],
            columns[..],
            "{table}: README differs from the binary"
        );
    }
    // A name that is no table is a usage error that lists the known ones.
    let path = format!(
        "{}/tests/fixtures/x12/ediEngine_850.OK.edi",
        env!("CARGO_MANIFEST_DIR")
    );
    let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["inspect", "--table", "x12_850_line", &path])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("x12_850_lines"));
    // A table the file holds no rows of: exit 1.
    let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["inspect", "--table", "x12_945_lines", &path])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}
