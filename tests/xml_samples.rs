//! Every real UBL / cXML fixture: kind, document id, table row counts, exact problems, and
//! real values of the mapped kinds checked against what the files say.

use std::path::Path;

use tallyman::formats::x12::Table;
use tallyman::formats::xml::{self, problem as pb};
use tallyman::issue::Severity;

struct Case {
    file: &'static str,
    kind: &'static str,
    id: Option<&'static str>,
    /// (table, rows); empty for unmapped kinds.
    tables: &'static [(&'static str, usize)],
    lines: usize,
    /// (code, severity, offset, line, column, path)
    problems: &'static [(&'static str, Severity, usize, u64, u64, &'static str)],
}

const W: Severity = Severity::Warning;
const E: Severity = Severity::Error;
const ORDER: &[(&str, usize)] = &[("xml_order_header", 1), ("xml_order_lines", 2)];
const ORDER1: &[(&str, usize)] = &[("xml_order_header", 1), ("xml_order_lines", 1)];
const SHIP1: &[(&str, usize)] = &[("xml_ship_lines", 1)];

const CASES: &[Case] = &[
    Case {
        file: "cxml/cxmlphp_CXmlTest_Builder_fixtures_order_request.xml",
        kind: "cxml:OrderRequest",
        id: Some("933695160894"),
        tables: ORDER,
        lines: 2,
        problems: &[],
    },
    Case {
        file: "cxml/cxmlphp_CXmlTest_Handling_fixtures_order_request.xml",
        kind: "cxml:OrderRequest",
        id: Some("1737963337.319.1846511.7249@eu-hub"),
        tables: ORDER1,
        lines: 1,
        problems: &[],
    },
    Case {
        file: "cxml/cxmlphp_metadata_cxml_samples_OrderRequest.xml",
        kind: "cxml:OrderRequest",
        id: Some("1625586002.193314.7293@dev"),
        tables: ORDER,
        lines: 2,
        problems: &[],
    },
    Case {
        file: "cxml/cxmlphp_metadata_cxml_samples_ProductActivityMessage.xml",
        kind: "cxml:ProductActivityMessage",
        id: Some("0c30050@supplierorg.com"),
        tables: &[],
        lines: 1,
        problems: &[(pb::UNSUPPORTED_DOCUMENT, W, 114, 3, 1, "/cXML")],
    },
    Case {
        file: "cxml/cxmlphp_metadata_cxml_samples_PunchoutOrderMessage.xml",
        kind: "cxml:PunchOutOrderMessage",
        id: Some("933695160894"),
        tables: &[],
        lines: 2,
        problems: &[(pb::UNSUPPORTED_DOCUMENT, W, 114, 3, 1, "/cXML")],
    },
    Case {
        file: "cxml/cxmlphp_metadata_cxml_samples_ShipNoticeRequest.xml",
        kind: "cxml:ShipNoticeRequest",
        id: Some("0c30050@supplierorg.com"),
        tables: SHIP1,
        lines: 0,
        problems: &[],
    },
    Case {
        file: "cxml/cxmlphp_metadata_cxml_samples_StatusUpdateRequest.xml",
        kind: "cxml:StatusUpdateRequest",
        id: Some("0c30050@supplierorg.com"),
        tables: &[],
        lines: 0,
        problems: &[(pb::UNSUPPORTED_DOCUMENT, W, 114, 3, 1, "/cXML")],
    },
    Case {
        file: "ubl/phubl_CENBII-Order-maximal.xml",
        kind: "ubl:Order",
        id: Some("PM10405461"),
        tables: ORDER,
        lines: 2,
        problems: &[],
    },
    // The CEN BII minimal example really has an empty <cbc:ID/> (line 6).
    Case {
        file: "ubl/phubl_CENBII-Order-minimal.xml",
        kind: "ubl:Order",
        id: None,
        tables: ORDER1,
        lines: 1,
        problems: &[(pb::MISSING_ELEMENT, E, 634, 6, 3, "/Order/ID")],
    },
    Case {
        file: "ubl/phubl_ERR-2_BII04_minimal_invoice_example_01.xml",
        kind: "ubl:Invoice",
        id: Some("TOSL108"),
        tables: &[],
        lines: 5,
        problems: &[(pb::UNSUPPORTED_DOCUMENT, W, 105, 3, 1, "/Invoice")],
    },
    Case {
        file: "ubl/phubl_Mobile_Catalogue_UBL.xml",
        kind: "ubl:Catalogue",
        id: Some("2010-Mobile-1234"),
        tables: &[],
        lines: 8,
        problems: &[(pb::UNSUPPORTED_DOCUMENT, W, 39, 2, 1, "/Catalogue")],
    },
    Case {
        file: "ubl/phubl_UBL-DespatchAdvice-2.0-Example.xml",
        kind: "ubl:DespatchAdvice",
        id: Some("88C7280E-8F10-419F-9949-8EFFFA2842B8"),
        tables: SHIP1,
        lines: 1,
        problems: &[],
    },
    Case {
        file: "ubl/phubl_UBL-Invoice-2.1-Example-Trivial.xml",
        kind: "ubl:Invoice",
        id: Some("123"),
        tables: &[],
        lines: 1,
        problems: &[(pb::UNSUPPORTED_DOCUMENT, W, 39, 2, 1, "/Invoice")],
    },
    Case {
        file: "ubl/phubl_UBL-Invoice-2.1-Example.xml",
        kind: "ubl:Invoice",
        id: Some("TOSL108"),
        tables: &[],
        lines: 5,
        problems: &[(pb::UNSUPPORTED_DOCUMENT, W, 39, 2, 1, "/Invoice")],
    },
    Case {
        file: "ubl/phubl_UBL-Order-2.0-Example-International.xml",
        kind: "ubl:Order",
        id: Some("6E09886B-DC6E-439F-82D1-7CCAC7F4E3B1"),
        tables: ORDER1,
        lines: 1,
        problems: &[],
    },
    Case {
        file: "ubl/phubl_UBL-Order-2.1-Example.xml",
        kind: "ubl:Order",
        id: Some("34"),
        tables: ORDER,
        lines: 2,
        problems: &[],
    },
    Case {
        file: "ubl/phubl_UBL-OrderChange-2.1-Example.xml",
        kind: "ubl:OrderChange",
        id: Some("7"),
        tables: &[],
        lines: 1,
        problems: &[(pb::UNSUPPORTED_DOCUMENT, W, 39, 2, 1, "/OrderChange")],
    },
    Case {
        file: "ubl/phubl_UBL-OrderResponse-2.1-Example.xml",
        kind: "ubl:OrderResponse",
        id: Some("7"),
        tables: &[],
        lines: 2,
        problems: &[(pb::UNSUPPORTED_DOCUMENT, W, 39, 2, 1, "/OrderResponse")],
    },
    Case {
        file: "ubl/phubl_UBL-ReceiptAdvice-2.0-Example.xml",
        kind: "ubl:ReceiptAdvice",
        id: Some("89F82FA6-5331-491D-83BC-7B6CA7FD047C"),
        tables: &[],
        lines: 1,
        problems: &[(pb::UNSUPPORTED_DOCUMENT, W, 39, 2, 1, "/ReceiptAdvice")],
    },
];

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/xml")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_fixture_has_a_case_and_matches_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xml");
    let mut on_disk = Vec::new();
    for sub in ["ubl", "cxml"] {
        for e in std::fs::read_dir(dir.join(sub)).expect("fixture dir") {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            on_disk.push(format!("{sub}/{name}"));
        }
    }
    on_disk.sort();
    let mut cased: Vec<String> = CASES.iter().map(|c| c.file.to_string()).collect();
    cased.sort();
    assert_eq!(on_disk, cased, "every fixture needs exactly one case");
    let provenance = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/PROVENANCE.tsv"),
    )
    .expect("provenance");
    for name in &on_disk {
        let row = provenance
            .lines()
            .find(|l| l.starts_with(&format!("xml/{name}\t")))
            .unwrap_or_else(|| panic!("{name} has no PROVENANCE.tsv row"));
        // destination, repository, path, commit, bytes, license: the bytes are the file's.
        let bytes: usize = row
            .split('\t')
            .nth(4)
            .and_then(|b| b.parse().ok())
            .expect("bytes");
        assert_eq!(bytes, fixture(name).len(), "{name}: byte-exact copy");
    }

    for c in CASES {
        let bytes = fixture(c.file);
        let parsed = xml::parse(&bytes);
        assert!(parsed.complete, "{}", c.file);
        assert_eq!(parsed.kind.label().as_deref(), Some(c.kind), "{}", c.file);
        assert_eq!(parsed.document_id.as_deref(), c.id, "{}", c.file);
        let got: Vec<_> = parsed
            .problems
            .iter()
            .map(|p| {
                (
                    p.code,
                    p.severity,
                    p.at.offset,
                    p.at.line,
                    p.at.column,
                    p.path.clone().unwrap_or_default(),
                )
            })
            .collect();
        let want: Vec<_> = c
            .problems
            .iter()
            .map(|p| (p.0, p.1, p.2, p.3, p.4, p.5.to_string()))
            .collect();
        assert_eq!(got, want, "{}", c.file);
        let tables: Vec<(String, usize)> = xml::map_tables(&parsed)
            .iter()
            .map(|t| (t.name.clone(), t.rows()))
            .collect();
        let want: Vec<(String, usize)> =
            c.tables.iter().map(|(n, r)| (n.to_string(), *r)).collect();
        assert_eq!(tables, want, "{}", c.file);
        let ins = xml::inspect(&bytes);
        assert_eq!(ins.counts.lines, c.lines, "{}", c.file);
        assert_eq!(ins.mapped, !c.tables.is_empty(), "{}", c.file);
        assert_eq!(ins.bytes, bytes.len());
        assert_eq!(
            ins.encoding.as_ref().map(|e| e.used),
            Some("UTF-8"),
            "{}",
            c.file
        );
        let issues = xml::to_issues(c.file, &parsed.problems);
        assert_eq!(issues.len(), c.problems.len());
        for (i, p) in issues.iter().zip(c.problems) {
            assert_eq!(
                (i.rule.as_str(), i.severity, i.line, i.column.as_deref()),
                (p.0, p.1, Some(p.3), Some(p.5))
            );
        }
        if c.file.starts_with("cxml/") {
            let dt = ins.doctype.as_ref().expect("every cXML file has a DOCTYPE");
            assert_eq!(dt.name, "cXML");
            assert!(dt
                .system_id
                .as_deref()
                .is_some_and(|s| s.starts_with("http://xml.cxml.org/schemas/cXML/")
                    || s.starts_with("http://xml.cXML.org/schemas/cXML/")));
            assert!(!dt.expanded && !dt.declares_entities);
        }
    }
}

fn tables(file: &str) -> Vec<Table> {
    xml::map_tables(&xml::parse(&fixture(file)))
}

/// (table index, row, column, expected value)
type Spot = (usize, usize, &'static str, Option<&'static str>);

#[test]
fn mapped_values_are_what_the_files_say() {
    let checks: &[(&str, &[Spot])] = &[
        (
            "cxml/cxmlphp_metadata_cxml_samples_OrderRequest.xml",
            &[
                (
                    0,
                    0,
                    "interchange_control",
                    Some("1625586002.193314.7293@dev"),
                ),
                (0, 0, "group_control", None),
                (0, 0, "set_control", Some("DO1234")),
                (0, 0, "po_number", Some("DO1234")),
                (0, 0, "po_date", Some("20001012")),
                (0, 0, "purpose", Some("new")),
                (0, 0, "buyer", Some("Zinc GmbH")),
                (0, 0, "ship_to", Some("Acme")),
                (0, 0, "ship_to_address", Some("123 Anystreet")),
                (0, 0, "ship_to_city", Some("Sunnyvale")),
                (0, 0, "ship_to_state", Some("CA")),
                (0, 0, "ship_to_postal", Some("90489")),
                (0, 0, "currency", Some("EUR")),
                (0, 0, "line_count", Some("2")),
                (1, 0, "sku", Some("1233244")),
                (1, 0, "sku_qualifier", Some("VN")),
                (1, 0, "quantity", Some("10")),
                (1, 0, "unit", Some("EA")),
                (1, 0, "unit_price", Some("2.10")),
                (1, 1, "line_number", Some("2")),
                (1, 1, "unit_price", Some("3.20")),
                (1, 1, "description", Some("hello from item 2")),
            ],
        ),
        (
            "cxml/cxmlphp_CXmlTest_Builder_fixtures_order_request.xml",
            &[
                (0, 0, "po_number", Some("myorder-1")),
                (0, 0, "po_date", Some("20220914")),
                (0, 0, "currency", Some("USD")),
                // SupplierPartID wins over BuyerPartID (KD5555).
                (1, 0, "sku", Some("5555")),
                (1, 0, "quantity", Some("3")),
                (1, 0, "unit_price", Some("763.20")),
                (1, 1, "sku", Some("666")),
                (1, 1, "quantity", Some("5")),
            ],
        ),
        (
            "ubl/phubl_UBL-Order-2.1-Example.xml",
            &[
                (0, 0, "po_number", Some("34")),
                (0, 0, "po_date", Some("20100120")),
                (0, 0, "buyer", Some("Johnssons byggvaror")),
                (0, 0, "buyer_id", Some("7300070011115")),
                (0, 0, "ship_to_address", Some("Rådhusgatan")),
                (0, 0, "ship_to_city", Some("Stockholm")),
                (0, 0, "ship_to_state", Some("RegionX")),
                (0, 0, "ship_to_postal", Some("11000")),
                (0, 0, "currency", Some("SEK")),
                (1, 0, "line_number", Some("1")),
                (1, 0, "sku", Some("SItemNo001")),
                (1, 0, "sku_qualifier", Some("VN")),
                (1, 0, "upc", Some("1234567890123")),
                (1, 0, "quantity", Some("120")),
                (1, 0, "unit", Some("LTR")),
                (1, 0, "unit_price", Some("50")),
                (1, 0, "description", Some("Falu Rödfärg")),
                (1, 1, "sku", Some("SItemNo011")),
                (1, 1, "unit", Some("C62")),
            ],
        ),
        (
            "ubl/phubl_UBL-Order-2.0-Example-International.xml",
            &[
                (
                    0,
                    0,
                    "interchange_control",
                    Some("6E09886B-DC6E-439F-82D1-7CCAC7F4E3B1"),
                ),
                (0, 0, "set_control", Some("AEG012345")),
                (0, 0, "po_number", Some("AEG012345")),
                (0, 0, "po_date", Some("20050620")),
                (0, 0, "buyer", Some("IYT Corporation")),
                (1, 0, "sku", Some("17589683")),
                (1, 0, "quantity", Some("100")),
                (1, 0, "unit", Some("KGM")),
                (1, 0, "unit_price", Some("10.00")),
                (1, 0, "description", Some("Acme Beeswax")),
            ],
        ),
        (
            "ubl/phubl_UBL-DespatchAdvice-2.0-Example.xml",
            &[
                (0, 0, "set_control", Some("565899")),
                (0, 0, "shipment_id", Some("565899")),
                (0, 0, "ship_date", Some("20050620")),
                (0, 0, "tracking", Some("1")),
                (0, 0, "order_number", Some("AEG012345")),
                (0, 0, "item_hl", Some("1")),
                (0, 0, "sku", Some("17589683")),
                (0, 0, "sku_qualifier", Some("VN")),
                (0, 0, "quantity", Some("90")),
                (0, 0, "unit", Some("KGM")),
                (0, 0, "carrier", None),
            ],
        ),
        (
            "cxml/cxmlphp_metadata_cxml_samples_ShipNoticeRequest.xml",
            &[
                (0, 0, "shipment_id", Some("S2-123")),
                (0, 0, "ship_date", Some("20001014")),
                (0, 0, "carrier", Some("FDE")),
                (0, 0, "tracking", Some("8202 8261 1194")),
                (0, 0, "order_number", Some("DO1234")),
                (0, 0, "sku", None),
            ],
        ),
    ];
    for (file, spots) in checks {
        let t = tables(file);
        for (ti, row, col, want) in *spots {
            let table = &t[*ti];
            assert!(table.column(col).is_some(), "{file}: no column {col}");
            assert_eq!(
                table.get(*row, col),
                *want,
                "{file} {} row {row} {col}",
                table.name
            );
        }
    }
}

#[test]
fn columns_match_the_x12_tables() {
    use tallyman::formats::x12;
    let edi = "ISA*00*          *00*          *ZZ*S              *ZZ*R              *240101*1200*U*00401*000000001*0*P*>~\
GS*PO*S*R*20240101*1200*1*X*004010~ST*850*0001~BEG*00*SA*PO1**20240101~PO1*1*2*EA*3**VN*A~SE*4*0001~GE*1*1~\
GS*SH*S*R*20240101*1200*2*X*004010~ST*856*0002~BSN*00*S1*20240101~HL*1**S~HL*2*1*I~LIN**VN*A~SN1**2*EA~SE*7*0002~GE*1*2~IEA*2*000000001~";
    let x = x12::map_tables(&x12::parse(edi.as_bytes()));
    let names = |t: &Table| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    let by = |n: &str| {
        x.iter()
            .find(|t| t.name == n)
            .map(names)
            .unwrap_or_else(|| panic!("no {n}"))
    };
    let o = tables("ubl/phubl_UBL-Order-2.1-Example.xml");
    let s = tables("cxml/cxmlphp_metadata_cxml_samples_ShipNoticeRequest.xml");
    assert_eq!(names(&o[0]), by("x12_850_header"));
    assert_eq!(names(&o[1]), by("x12_850_lines"));
    assert_eq!(names(&s[0]), by("x12_856_lines"));
}

#[test]
fn inspect_json_is_stable() {
    let bytes = fixture("cxml/cxmlphp_metadata_cxml_samples_OrderRequest.xml");
    let v = serde_json::to_value(xml::inspect(&bytes)).expect("json");
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    let mut want = vec![
        "format",
        "bytes",
        "encoding",
        "declaration",
        "doctype",
        "root",
        "kind",
        "mapped",
        "complete",
        "document_id",
        "counts",
        "tables",
        "problems",
    ];
    want.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, want);
    assert_eq!(v["format"], "xml");
    assert_eq!(v["kind"], "cxml:OrderRequest");
    assert_eq!(v["declaration"]["version"], "1.0");
    assert_eq!(v["encoding"]["declared"], "UTF-8");
    assert_eq!(
        v["doctype"]["system_id"],
        "http://xml.cXML.org/schemas/cXML/1.2.050/cXML.dtd"
    );
    assert_eq!(v["doctype"]["expanded"], false);
    assert_eq!(v["root"]["name"], "cXML");
    assert_eq!(v["root"]["namespace"], serde_json::Value::Null);
    assert_eq!(v["tables"][1]["rows"], 2);
    let ubl = serde_json::to_value(xml::inspect(&fixture(
        "ubl/phubl_UBL-Order-2.1-Example.xml",
    )))
    .expect("json");
    assert_eq!(
        ubl["root"]["namespace"],
        "urn:oasis:names:specification:ubl:schema:xsd:Order-2"
    );
    assert_eq!(ubl["doctype"], serde_json::Value::Null);
}
